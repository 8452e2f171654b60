//! Reaching a NATS server: its URL and credentials.

use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event};
use tokio::sync::mpsc;

use crate::feed::FeedError;

/// Credentials a NATS server asks for.
#[derive(Clone, Debug, Default)]
pub enum NatsCredentials {
    /// None.
    #[default]
    None,
    /// A user and password.
    User {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// An nkey seed (`SU…`): the client signs the server's nonce with it.
    Nkey {
        /// The seed.
        seed: String,
    },
}

/// Where the feed is.
#[derive(Clone, Debug)]
pub struct NatsSettings {
    /// `nats://host:port` (`tls://` for TLS).
    pub url: String,
    /// Credentials.
    pub credentials: NatsCredentials,
}

impl NatsSettings {
    /// A server at `url` with no credentials.
    pub fn new(url: impl Into<String>) -> NatsSettings {
        NatsSettings { url: url.into(), credentials: NatsCredentials::None }
    }

    /// Connects; the client reconnects by itself, with back-off, and tells `events` when the
    /// connection comes and goes.
    pub(crate) async fn connect(&self, events: Option<mpsc::UnboundedSender<Event>>) -> Result<Client, FeedError> {
        crate::tls::install_provider();
        let mut options = ConnectOptions::new()
            .connection_timeout(Duration::from_secs(2))
            .reconnect_delay_callback(|attempts| Duration::from_millis((50u64 << attempts.min(6)).min(2000)));
        options = match &self.credentials {
            NatsCredentials::None => options,
            NatsCredentials::User { user, password } => options.user_and_password(user.clone(), password.clone()),
            NatsCredentials::Nkey { seed } => options.nkey(seed.clone()),
        };
        if let Some(events) = events {
            options = options.event_callback(move |event| {
                let events = events.clone();
                async move {
                    let _ = events.send(event);
                }
            });
        }
        options
            .connect(&self.url)
            .await
            .map_err(|e| FeedError::Connect { url: self.url.clone(), reason: e.to_string() })
    }
}
