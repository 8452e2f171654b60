//! The writing side: a node (the registration server, a provisioning system, the operator's
//! publisher) putting device facts and desired state into the buckets.

use std::future::IntoFuture;

use async_nats::jetstream::{self, kv, stream};
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::feed::keys::{agreement_key, check_token, device_key, stream_name, subject};
use crate::feed::{AgreementValue, DESIRED_BUCKET, DEVICE_BUCKET, DesiredState, DeviceValue, FeedError, NatsSettings};

/// Writes to the device-facts and desired-state buckets, making them if missing.
pub struct Publisher {
    devices: kv::Store,
    desired: kv::Store,
    client: async_nats::Client,
    js: jetstream::Context,
    device_bucket: String,
}

impl Publisher {
    /// Connects and opens (or makes) the default buckets.
    pub async fn connect(settings: &NatsSettings) -> Result<Publisher, FeedError> {
        Publisher::connect_to(settings, DEVICE_BUCKET, DESIRED_BUCKET).await
    }

    /// Connects and opens (or makes) buckets `devices` and `desired`.
    pub async fn connect_to(settings: &NatsSettings, devices: &str, desired: &str) -> Result<Publisher, FeedError> {
        let client = settings.connect(None).await?;
        let js = jetstream::new(client.clone());
        let device_bucket = devices.to_owned();
        let devices = bucket(&js, devices).await?;
        let desired = bucket(&js, desired).await?;
        Ok(Publisher { devices, desired, client, js, device_bucket })
    }

    /// Puts `device`'s facts under shard `shard`; answers the revision.
    pub async fn put_device(&self, shard: &str, device: &str, value: &DeviceValue) -> Result<u64, FeedError> {
        let key = device_key(shard, device)?;
        self.devices.put(&key, value.to_bytes().into()).await.map_err(jetstream_error(format!("put {key}")))
    }

    /// Puts many devices' facts with up to `in_flight` puts awaiting their acknowledgement at once (a
    /// bulk load, or a burst of changes); answers the last revision. Each put is acknowledged before
    /// this returns: none is lost silently.
    pub async fn put_devices<'a>(
        &self,
        devices: impl IntoIterator<Item = (&'a str, &'a str, DeviceValue)>,
        in_flight: usize,
    ) -> Result<u64, FeedError> {
        let mut pending = FuturesUnordered::new();
        let mut last = 0;
        let mut settle = |ack: Result<jetstream::publish::PublishAck, jetstream::context::PublishError>| {
            let ack = ack.map_err(jetstream_error("put (acknowledgement)".to_owned()))?;
            last = last.max(ack.sequence);
            Ok::<(), FeedError>(())
        };
        for (shard, device, value) in devices {
            let key = device_key(shard, device)?;
            let ack = self
                .js
                .publish(subject(&self.device_bucket, &key), value.to_bytes().into())
                .await
                .map_err(jetstream_error(format!("put {key}")))?;
            pending.push(ack.into_future());
            if pending.len() >= in_flight.max(1)
                && let Some(ack) = pending.next().await
            {
                settle(ack)?;
            }
        }
        while let Some(ack) = pending.next().await {
            settle(ack)?;
        }
        Ok(last)
    }

    /// Puts the registration outcome between `device` (in `shard`) and `server`, as the server that
    /// made it does after registration (000, FIG. 7 step 8b); answers the revision.
    pub async fn put_agreement(
        &self,
        shard: &str,
        device: &str,
        server: &pathsec::Fqdn,
        value: &AgreementValue,
    ) -> Result<u64, FeedError> {
        let key = agreement_key(shard, device, server)?;
        let bytes = serde_json::to_vec(value).unwrap_or_default();
        self.devices.put(&key, bytes.into()).await.map_err(jetstream_error(format!("put {key}")))
    }

    /// Withdraws that outcome (the device deregistered, or the server voided it).
    pub async fn withdraw_agreement(&self, shard: &str, device: &str, server: &pathsec::Fqdn) -> Result<(), FeedError> {
        let key = agreement_key(shard, device, server)?;
        self.devices.delete(&key).await.map_err(jetstream_error(format!("delete {key}")))
    }

    /// Deletes `device` (a delete marker: followers forget its facts).
    pub async fn delete_device(&self, shard: &str, device: &str) -> Result<(), FeedError> {
        let key = device_key(shard, device)?;
        self.devices.delete(&key).await.map_err(jetstream_error(format!("delete {key}")))
    }

    /// Sets what node group `group` should run; answers the revision.
    pub async fn set_desired(&self, group: &str, state: &DesiredState) -> Result<u64, FeedError> {
        check_token(group, "node group")?;
        let bytes = serde_json::to_vec(state).unwrap_or_default();
        self.desired.put(group, bytes.into()).await.map_err(jetstream_error(format!("put {group}")))
    }

    /// Waits until everything published so far reached the server.
    pub async fn flush(&self) -> Result<(), FeedError> {
        self.client.flush().await.map_err(jetstream_error("flush".to_owned()))
    }

    /// The device-facts bucket (for operations this type does not wrap, such as purging).
    pub fn devices(&self) -> &kv::Store {
        &self.devices
    }
}

/// Opens bucket `name`, making it if missing. Made as its stream, with the layout a key-value bucket
/// has (one value kept per key, rollups for purges, direct gets): async-nats 0.51's
/// `create_key_value` first reads the account's info, whose 2.9 form lacks fields it requires.
pub(crate) async fn bucket(js: &jetstream::Context, name: &str) -> Result<kv::Store, FeedError> {
    if let Ok(store) = js.get_key_value(name).await {
        return Ok(store);
    }
    let config = stream::Config {
        name: stream_name(name),
        subjects: vec![subject(name, ">")],
        max_messages_per_subject: 1,
        discard: stream::DiscardPolicy::New,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        num_replicas: 1,
        storage: stream::StorageType::File,
        duplicate_window: std::time::Duration::from_secs(120),
        ..stream::Config::default()
    };
    js.get_or_create_stream(config).await.map_err(jetstream_error(format!("create bucket {name}")))?;
    js.get_key_value(name).await.map_err(jetstream_error(format!("open bucket {name}")))
}

pub(crate) fn jetstream_error<E: std::fmt::Display>(operation: String) -> impl FnOnce(E) -> FeedError {
    move |e| FeedError::JetStream { operation, reason: e.to_string() }
}
