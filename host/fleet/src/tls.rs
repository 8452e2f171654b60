//! One TLS crypto provider for every client here (registry, HTTPS pulls, NATS): ring, installed once.

use std::sync::Once;

/// Installs ring as the process's default rustls provider, once (a no-op if the embedder installed
/// one already).
pub fn install_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
