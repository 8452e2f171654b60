//! The device side of configuration delivery.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use pathsec::Runtime;
use pathsec::delivery::{AcceptedGenerations, BundleError, BundleKeys, BundleStore, ListBundle};
use pathsec::sync::Locked;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::device::{DELIVERY, DIGEST, Trigger, subject};
use crate::feed::{FeedError, NatsSettings, check_token};
use crate::oci::artifact::sha256_digest;
use crate::status::Watched;

/// The largest bundle a device fetches.
const MAX_BUNDLE: usize = 64 << 20;

/// A delivery the device refused; the lists in force stay.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The bundle's bytes do not hash to the digest it came with.
    #[error(
        "the delivered bundle has digest {actual}, not the {expected} it came with: refused (tampered with or corrupt)"
    )]
    Digest {
        /// The digest announced.
        expected: String,
        /// The digest of what came.
        actual: String,
    },
    /// A trigger naming a URL that is not HTTPS.
    #[error(
        "trigger URL `{url}` is not HTTPS: a device fetches its configuration over HTTPS only (plain HTTP on loopback alone)"
    )]
    NotHttps {
        /// The URL.
        url: String,
    },
    /// The fetch failed.
    #[error("fetching {url}: {reason}")]
    Fetch {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A message that is not a delivery.
    #[error("a message on {subject} is not a delivery: {reason}")]
    Message {
        /// The subject.
        subject: String,
        /// Why.
        reason: String,
    },
    /// The bundle failed a check (signature, validity, generation) or could not be kept.
    #[error(transparent)]
    Bundle(#[from] BundleError),
}

/// A device's delivery client: its runtime, the keys it trusts for lists, the generations it
/// accepted and the last bundle it kept.
pub struct DeviceClient {
    runtime: Runtime,
    keys: BundleKeys,
    accepted: Mutex<AcceptedGenerations>,
    store: BundleStore,
    /// `Err` when the HTTP client could not be set up (its TLS): pulls then fail with the reason.
    http: Result<reqwest::Client, String>,
}

impl DeviceClient {
    /// A client applying bundles to `runtime`.
    pub fn new(runtime: Runtime, keys: BundleKeys, accepted: AcceptedGenerations, store: BundleStore) -> DeviceClient {
        crate::tls::install_provider();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().map_err(|e| e.to_string());
        DeviceClient { runtime, keys, accepted: Mutex::new(accepted), store, http }
    }

    /// At start, offline or not: applies the last bundle this device verified and kept, if any.
    pub fn restore(&self) -> Result<Option<ListBundle>, BundleError> {
        let accepted = self.accepted.locked();
        self.runtime.restore_bundle(&self.store, &self.keys, &accepted)
    }

    /// A pushed bundle (FIG. 15): checked against `digest`, then as a bundle; applied and kept.
    pub fn accept_push(&self, digest: &str, bundle: &[u8]) -> Result<ListBundle, DeliveryError> {
        let actual = sha256_digest(bundle);
        if actual != digest {
            return Err(DeliveryError::Digest { expected: digest.to_owned(), actual });
        }
        let mut accepted = self.accepted.locked();
        let (bundle_read, _) = self.runtime.accept_bundle(digest, bundle, &self.keys, &mut accepted)?;
        self.store.save(bundle)?;
        Ok(bundle_read)
    }

    /// A trigger (FIG. 16): fetches the bundle over HTTPS, then as [`DeviceClient::accept_push`].
    pub async fn pull(&self, trigger: &Trigger) -> Result<ListBundle, DeliveryError> {
        let url = &trigger.url;
        let loopback =
            ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"].iter().any(|prefix| url.starts_with(prefix));
        if !url.starts_with("https://") && !loopback {
            return Err(DeliveryError::NotHttps { url: url.clone() });
        }
        let fetch = |reason: String| DeliveryError::Fetch { url: url.clone(), reason };
        let http = self.http.as_ref().map_err(|e| fetch(format!("no HTTP client: {e}")))?;
        let response = http.get(url).send().await.map_err(|e| fetch(e.to_string()))?;
        if !response.status().is_success() {
            return Err(fetch(format!("HTTP {}", response.status())));
        }
        if response.content_length().is_some_and(|length| length > MAX_BUNDLE as u64) {
            return Err(fetch(format!("larger than {MAX_BUNDLE} bytes")));
        }
        let bytes = response.bytes().await.map_err(|e| fetch(e.to_string()))?;
        self.accept_push(&trigger.digest, &bytes)
    }

    /// Listens on the device's subject and applies what comes, in the background.
    pub fn listen(self: Arc<Self>, nats: NatsSettings, device: &str) -> Result<Listener, FeedError> {
        check_token(device, "device name")?;
        let (tx, status) = Watched::new(DeliveryStatus::default());
        let device = device.to_owned();
        let task = tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                if let Err(error) = self.serve(&nats, &device, &tx).await {
                    tx.send_modify(|status| status.last_error = Some(error.to_string()));
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        });
        Ok(Listener { task, status })
    }

    async fn serve(
        &self,
        nats: &NatsSettings,
        device: &str,
        tx: &watch::Sender<DeliveryStatus>,
    ) -> Result<(), FeedError> {
        let client = nats.connect(None).await?;
        let subject = subject(device);
        let mut messages = client
            .subscribe(subject.clone())
            .await
            .map_err(|e| FeedError::JetStream { operation: format!("subscribe {subject}"), reason: e.to_string() })?;
        client
            .flush()
            .await
            .map_err(|e| FeedError::JetStream { operation: "flush".to_owned(), reason: e.to_string() })?;
        tx.send_modify(|status| status.listening = true);
        while let Some(message) = messages.next().await {
            let header = |name: &str| {
                message.headers.as_ref().and_then(|headers| headers.get(name)).map(|value| value.as_str().to_owned())
            };
            let malformed =
                |reason: &str| DeliveryError::Message { subject: subject.clone(), reason: reason.to_owned() };
            let result = match header(DELIVERY).as_deref() {
                Some("push") => match header(DIGEST) {
                    Some(digest) => self.accept_push(&digest, &message.payload).map(|bundle| (bundle, Method::Push)),
                    None => Err(malformed("a push without a `Pathsec-Digest` header")),
                },
                Some("trigger") => match serde_json::from_slice::<Trigger>(&message.payload) {
                    Ok(trigger) => self.pull(&trigger).await.map(|bundle| (bundle, Method::Pull)),
                    Err(e) => Err(malformed(&format!("a trigger whose payload is not {{\"url\", \"digest\"}}: {e}"))),
                },
                _ => Err(malformed("no `Pathsec-Delivery: push` or `trigger` header")),
            };
            tx.send_modify(|status| match result {
                Ok((bundle, method)) => {
                    match method {
                        Method::Push => status.pushed += 1,
                        Method::Pull => status.pulled += 1,
                    }
                    status.generation = Some(bundle.generation);
                }
                Err(error) => {
                    status.refused += 1;
                    status.last_error = Some(error.to_string());
                }
            });
        }
        tx.send_modify(|status| status.listening = false);
        Ok(())
    }
}

enum Method {
    Push,
    Pull,
}

/// What a listening device has done.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryStatus {
    /// Subscribed now.
    pub listening: bool,
    /// Bundles applied from a push.
    pub pushed: u64,
    /// Bundles applied after a trigger.
    pub pulled: u64,
    /// Deliveries refused.
    pub refused: u64,
    /// The generation in force from the last bundle applied.
    pub generation: Option<u64>,
    /// The last refusal or error.
    pub last_error: Option<String>,
}

/// A device listening for deliveries.
pub struct Listener {
    task: JoinHandle<()>,
    status: Watched<DeliveryStatus>,
}

impl Listener {
    /// What it has done.
    pub fn status(&self) -> DeliveryStatus {
        self.status.get()
    }

    /// Waits until `test` holds, or `timeout` passes: `Err` with the last status then.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        test: impl Fn(&DeliveryStatus) -> bool,
    ) -> Result<DeliveryStatus, DeliveryStatus> {
        self.status.wait_for(timeout, test).await
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}
