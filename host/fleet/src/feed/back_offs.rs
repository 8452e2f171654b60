//! Attach back-offs shared between a fleet's gateways (issue 20, after 002 FIG. 7A steps 258-259): a
//! server's back-off must hold wherever the device attaches again, or a device evades it through
//! another gateway.
//!
//! A [`BackOffShare`] publishes every back-off its runtime records ([`pathsec::Runtime::back_offs`])
//! into a key-value bucket (default `pathsec-back-offs`), one key per device and server —
//! `<hex of the external identifier>.<server FQDN>` —, and imports every back-off the bucket holds or
//! receives into its runtime ([`pathsec::Runtime::import_back_off`]), its own included (harmless: the
//! later end holds). Values are JSON `{ "external-id", "server", "until" }` (Unix seconds); an ended
//! back-off is ignored. A lost connection is retried; the bucket keeps one value per key, so a gateway
//! that starts late gets every back-off still in force.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::{self, kv};
use futures::StreamExt;
use pathsec::Runtime;
use pathsec::related::{BackOff, ExternalId};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::feed::FeedError;
use crate::feed::connect::NatsSettings;
use crate::feed::publisher::bucket;

/// The back-off bucket's default name.
pub const BACK_OFF_BUCKET: &str = "pathsec-back-offs";

/// A back-off as the bucket holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct BackOffValue {
    external_id: String,
    server: String,
    until: u64,
}

/// The bucket key of a device's back-off with a server.
fn key(back_off: &BackOff) -> String {
    let hex: String = back_off.external_id.as_str().bytes().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.{}", back_off.server.as_str())
}

/// Publishes its runtime's back-offs to the bucket and imports the bucket's into the runtime, until
/// stopped (or dropped).
pub struct BackOffShare {
    tasks: Vec<JoinHandle<()>>,
}

impl BackOffShare {
    /// Starts sharing `runtime`'s back-offs through bucket `bucket_name` on the NATS server `settings`
    /// names (made if missing). Fails when the server cannot be reached at the start.
    pub async fn start(
        runtime: Runtime,
        settings: &NatsSettings,
        bucket_name: &str,
    ) -> Result<BackOffShare, FeedError> {
        let client = settings.connect(None).await?;
        let js = jetstream::new(client);
        let store = bucket(&js, bucket_name).await?;
        // The runtime's receiver blocks: a thread carries its back-offs to the publishing task.
        let recorded = runtime.back_offs();
        let (tx, mut rx) = mpsc::unbounded_channel::<BackOff>();
        std::thread::Builder::new()
            .name("pathsec-back-offs".to_owned())
            .spawn(move || {
                while let Ok(back_off) = recorded.recv() {
                    if tx.send(back_off).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| FeedError::JetStream {
                operation: "start the back-off thread".to_owned(),
                reason: e.to_string(),
            })?;
        let publishing = store.clone();
        let publish = tokio::spawn(async move {
            while let Some(back_off) = rx.recv().await {
                let value = BackOffValue {
                    external_id: back_off.external_id.as_str().to_owned(),
                    server: back_off.server.as_str().to_owned(),
                    until: back_off.until.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs()),
                };
                let bytes = serde_json::to_vec(&value).unwrap_or_default();
                // Retried while the server is away: a back-off must not be lost to a reconnect.
                while publishing.put(key(&back_off), bytes.clone().into()).await.is_err() {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        });
        let import = tokio::spawn(async move {
            loop {
                if let Ok(mut entries) = store.watch_all_from_revision(1).await {
                    while let Some(Ok(entry)) = entries.next().await {
                        if entry.operation == kv::Operation::Put {
                            import(&runtime, &entry.value);
                        }
                    }
                }
                // The watch ended (the connection was lost): watch again from the start, which the
                // bucket's one value per key keeps short.
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        Ok(BackOffShare { tasks: vec![publish, import] })
    }

    /// Stops sharing (as dropping it does).
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for BackOffShare {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Imports one value of the bucket into `runtime`; a value that is not a back-off is skipped.
fn import(runtime: &Runtime, bytes: &[u8]) {
    let Ok(value) = serde_json::from_slice::<BackOffValue>(bytes) else { return };
    let (Ok(external_id), Ok(server)) = (ExternalId::parse(&value.external_id), value.server.parse()) else { return };
    let until = SystemTime::UNIX_EPOCH + Duration::from_secs(value.until);
    runtime.import_back_off(&BackOff { external_id, server, until });
}
