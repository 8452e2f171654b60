//! The HTTP/JSON API (axum). Bodies are read under the size cap and parsed with the files' parser, so
//! a wrong body gets 400 naming the line and the field; every answer is made by [`Service`].
//! `openapi.json` documents these routes (a test checks the two agree).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use http_body_util::BodyExt;
use pathsec::files::{ListsFile, RequestFile, parse_named};
use serde::{Deserialize, Serialize};

use crate::api::{Answer, Origin, Served, related};
use crate::error::ApiError;
use crate::service::DeviceFacts;

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Every route: (method, path) as `openapi.json` writes them.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/v1/status"),
    ("post", "/v1/decide"),
    ("post", "/v1/decide/batch"),
    ("post", "/v1/related/trigger"),
    ("post", "/v1/related/admission"),
    ("post", "/v1/related/submission"),
    ("post", "/v1/related/access"),
    ("post", "/v1/related/media"),
    ("post", "/v1/related/location"),
    ("post", "/v1/related/name"),
    ("put", "/v1/devices/{name}"),
    ("put", "/v1/lists"),
    ("put", "/v1/policy/{name}"),
];

/// The routes, on `served`.
pub fn router(served: Arc<Served>) -> Router {
    let mut router = Router::new();
    for &decision in related::DECISIONS {
        router = router.route(
            &format!("/v1/related/{decision}"),
            post(move |state: State<Arc<Served>>, body: Body| decide_related(state, decision, body)),
        );
    }
    router
        .route("/healthz", get(|| async { axum::Json(serde_json::json!({ "status": "live" })) }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }))
        .route("/v1/status", get(status))
        .route("/v1/decide", post(decide))
        .route("/v1/decide/batch", post(decide_batch))
        .route("/v1/devices/{name}", put(put_device))
        .route("/v1/lists", put(put_lists))
        .route("/v1/policy/{name}", put(swap_policy))
        .fallback(|| async {
            refuse(&ApiError::not_found("", "no such route: see /openapi.json for this API's routes"))
        })
        .with_state(served)
}

/// A refusal as HTTP.
fn refuse(error: &ApiError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    (status, axum::Json(error.body())).into_response()
}

/// Times a call, counts it, and turns its result into a response.
fn answer<T: Serialize>(
    served: &Served,
    operation: &'static str,
    started: Instant,
    result: Result<T, ApiError>,
) -> Response {
    let status = result.as_ref().err().map(ApiError::status);
    served.metrics.observe("http", operation, started.elapsed(), status);
    match result {
        Ok(value) => axum::Json(value).into_response(),
        Err(error) => refuse(&error),
    }
}

/// The body, at most `listen.max-body` bytes, as UTF-8 text.
async fn text(served: &Served, body: Body) -> Result<String, ApiError> {
    let bytes = bytes(served, body).await?;
    String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::invalid("", "the body is not UTF-8 JSON"))
}

/// The body, at most `listen.max-body` bytes.
async fn bytes(served: &Served, body: Body) -> Result<Bytes, ApiError> {
    let limit = served.max_body;
    http_body_util::Limited::new(body, limit).collect().await.map(|collected| collected.to_bytes()).map_err(|error| {
        if error.is::<http_body_util::LengthLimitError>() {
            ApiError::too_large("", format!("the body is larger than {limit} bytes (`listen.max-body`)"))
        } else {
            ApiError::invalid("", format!("the body could not be read: {error}"))
        }
    })
}

async fn readyz(State(served): State<Arc<Served>>) -> Response {
    match served.service.readiness() {
        Ok(()) => axum::Json(serde_json::json!({ "status": "ready" })).into_response(),
        Err(missing) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "status": "not-ready", "missing": missing })),
        )
            .into_response(),
    }
}

async fn metrics(State(served): State<Arc<Served>>) -> Response {
    if !served.metrics_enabled {
        return refuse(&ApiError::not_found("", "metrics are off (`metrics.enabled = false`)"));
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], served.metrics.encode())
        .into_response()
}

async fn status(State(served): State<Arc<Served>>) -> Response {
    axum::Json(served.service.status()).into_response()
}

async fn decide(State(served): State<Arc<Served>>, body: Body) -> Response {
    let started = Instant::now();
    let result = async {
        let text = text(&served, body).await?;
        let request = RequestFile::parse("request.json", &text).map_err(ApiError::from_file)?;
        served.service.decide(&request, "").map(|decision| Answer::from(&decision))
    }
    .await;
    answer(&served, "decide", started, result)
}

/// A batch, as sent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    requests: Vec<RequestFile>,
}

/// A batch's answers.
#[derive(Serialize)]
struct Decisions {
    decisions: Vec<Answer>,
}

async fn decide_batch(State(served): State<Arc<Served>>, body: Body) -> Response {
    let started = Instant::now();
    let result = async {
        let text = text(&served, body).await?;
        let batch: Batch = parse_named("request.json", &text).map_err(ApiError::from_file)?;
        let decisions = served.service.decide_batch(&batch.requests)?;
        Ok(Decisions { decisions: decisions.iter().map(Answer::from).collect() })
    }
    .await;
    answer(&served, "decide-batch", started, result)
}

async fn decide_related(State(served): State<Arc<Served>>, decision: &'static str, body: Body) -> Response {
    let started = Instant::now();
    let result = async {
        let text = text(&served, body).await?;
        related::decide(&served.service, decision, &text)
    }
    .await;
    answer(&served, "related", started, result)
}

/// Whether an administrative call may go ahead: over the Unix socket always, over TCP with the token.
fn admit(served: &Served, origin: Origin, headers: &HeaderMap) -> Result<(), ApiError> {
    served.admit(origin, headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()))
}

async fn put_device(
    State(served): State<Arc<Served>>,
    origin: axum::Extension<Origin>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Body,
) -> Response {
    let started = Instant::now();
    let result = async {
        admit(&served, origin.0, &headers)?;
        let text = text(&served, body).await?;
        let facts: DeviceFacts = parse_named("device.json", &text).map_err(ApiError::from_file)?;
        let existed = served.service.put_device(&name, &facts)?;
        Ok(serde_json::json!({ "name": name, "existed": existed }))
    }
    .await;
    answer(&served, "put-device", started, result)
}

async fn put_lists(
    State(served): State<Arc<Served>>,
    origin: axum::Extension<Origin>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let result = async {
        admit(&served, origin.0, &headers)?;
        let text = text(&served, body).await?;
        let lists: ListsFile = parse_named("lists.json", &text).map_err(ApiError::from_file)?;
        let generation = super::put_lists_blocking(Arc::clone(&served.service), lists).await?;
        Ok(serde_json::json!({ "generation": generation }))
    }
    .await;
    answer(&served, "put-lists", started, result)
}

async fn swap_policy(
    State(served): State<Arc<Served>>,
    origin: axum::Extension<Origin>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Body,
) -> Response {
    let started = Instant::now();
    let result = async {
        admit(&served, origin.0, &headers)?;
        let component = bytes(&served, body).await?;
        let signature = match headers.get("x-pathsec-signature") {
            Some(value) => Some(
                value
                    .to_str()
                    .map_err(|_| ApiError::invalid("x-pathsec-signature", "the signature header is not text"))?,
            ),
            None => None,
        };
        let service = Arc::clone(&served.service);
        let name = name.clone();
        let signature = signature.map(str::to_owned);
        // Compiling takes a while: off the async threads.
        tokio::task::spawn_blocking(move || service.swap(&name, &component, signature.as_deref()))
            .await
            .map_err(|_| ApiError::unavailable("", "the swap's thread failed; the active policy stays"))?
            .map(|(name, sha256)| serde_json::json!({ "name": name, "sha256": sha256 }))
    }
    .await;
    answer(&served, "swap-policy", started, result)
}
