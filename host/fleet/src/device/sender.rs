//! The network side of configuration delivery: a device-management server sending bundles.

use async_nats::{Client, HeaderMap};
use serde::{Deserialize, Serialize};

use crate::device::{DELIVERY, DIGEST, subject};
use crate::feed::{FeedError, NatsSettings, check_token};
use crate::oci::artifact::sha256_digest;

/// A trigger's payload: where the device fetches its bundle, and the digest it must have.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// An HTTPS URL (plain HTTP only on loopback), e.g. a registry's
    /// `https://host/v2/<repository>/blobs/sha256:…`.
    pub url: String,
    /// `sha256:…` of the bundle.
    pub digest: String,
}

/// Sends devices their configuration.
pub struct ConfigSender {
    client: Client,
}

impl ConfigSender {
    /// Connects to the messaging server devices listen on.
    pub async fn connect(settings: &NatsSettings) -> Result<ConfigSender, FeedError> {
        Ok(ConfigSender { client: settings.connect(None).await? })
    }

    /// Pushes `bundle` (a signed bundle file) to `device` (FIG. 15).
    pub async fn push(&self, device: &str, bundle: &[u8]) -> Result<(), FeedError> {
        check_token(device, "device name")?;
        let mut headers = HeaderMap::new();
        headers.insert(DELIVERY, "push");
        headers.insert(DIGEST, sha256_digest(bundle).as_str());
        self.send(device, headers, bundle.to_vec()).await
    }

    /// Triggers `device` to fetch its bundle (FIG. 16).
    pub async fn trigger(&self, device: &str, trigger: &Trigger) -> Result<(), FeedError> {
        check_token(device, "device name")?;
        let mut headers = HeaderMap::new();
        headers.insert(DELIVERY, "trigger");
        self.send(device, headers, serde_json::to_vec(trigger).unwrap_or_default()).await
    }

    async fn send(&self, device: &str, headers: HeaderMap, payload: Vec<u8>) -> Result<(), FeedError> {
        let error = |e: String| FeedError::JetStream { operation: format!("send to {}", subject(device)), reason: e };
        self.client
            .publish_with_headers(subject(device), headers, payload.into())
            .await
            .map_err(|e| error(e.to_string()))?;
        self.client.flush().await.map_err(|e| error(e.to_string()))
    }
}
