//! The two front ends, HTTP/JSON ([`http`]) and gRPC ([`grpc`]), over one [`Served`] state; what they
//! answer is made by [`Service`](crate::service::Service), so they answer alike.

pub mod grpc;
pub mod http;
pub(crate) mod related;

use std::sync::Arc;

use pathsec::Decision;
use serde::Serialize;

use crate::error::ApiError;
use crate::metrics::ServeMetrics;
use crate::service::Service;

/// Which listener a call came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// TCP: administrative calls need the token.
    Tcp,
    /// The Unix socket: its file permissions guard it; administrative calls need no token.
    Unix,
}

/// What both front ends serve from.
pub struct Served {
    /// The operations.
    pub service: Arc<Service>,
    /// The metrics.
    pub metrics: ServeMetrics,
    /// `metrics.enabled`.
    pub metrics_enabled: bool,
    /// `listen.max-body`.
    pub max_body: usize,
    /// The administrative token, if one is set.
    pub admin_token: Option<String>,
}

impl Served {
    /// Whether an administrative call from `origin`, carrying the `authorization` header (HTTP) or
    /// metadata (gRPC) value, may go ahead.
    pub fn admit(&self, origin: Origin, authorization: Option<&str>) -> Result<(), ApiError> {
        let bearer = authorization.and_then(|value| value.strip_prefix("Bearer "));
        if origin == Origin::Unix {
            return Ok(());
        }
        match (&self.admin_token, bearer) {
            (None, _) => Err(ApiError::unauthenticated(
                "administrative calls over TCP need a token: set `listen.admin-token-file`, or use the Unix socket",
            )),
            (Some(_), None) => Err(ApiError::unauthenticated("this call needs `Authorization: Bearer <admin token>`")),
            (Some(token), Some(given)) if same(token.as_bytes(), given.as_bytes()) => Ok(()),
            (Some(_), Some(_)) => Err(ApiError::unauthenticated("the administrative token is wrong")),
        }
    }
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// A decision as both APIs answer it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Answer {
    /// What to do (`send-plain`, `secure-then-send`, …).
    pub action: &'static str,
    /// Why.
    pub reason: &'static str,
    /// The policy fault, when the decision failed closed on one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// Which of the server's policies made it: `active`, or during a canary rollout `candidate`.
    pub made_by: &'static str,
}

impl From<&Decision> for Answer {
    fn from(decision: &Decision) -> Answer {
        Answer {
            action: decision.action.name(),
            reason: decision.reason.name(),
            fault: decision.fault.as_ref().map(ToString::to_string),
            made_by: decision.made_by.name(),
        }
    }
}

/// [`Service::put_lists`] off the async threads: a list change prepares every worker's instances
/// before it is published (a list load each, milliseconds at a million entries).
pub(crate) async fn put_lists_blocking(
    service: Arc<Service>,
    lists: pathsec::files::ListsFile,
) -> Result<u64, ApiError> {
    tokio::task::spawn_blocking(move || service.put_lists(&lists))
        .await
        .map_err(|_| ApiError::unavailable("", "the list change's thread failed; the lists in force stay"))?
}
