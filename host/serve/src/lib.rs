//! `pathsec serve`: the decision as a service for servers not written in Rust. One daemon answers
//! HTTP/JSON and gRPC (package `pathsec.v1`) on the same listeners — TCP on loopback unless told
//! otherwise, and a Unix socket — decides one request, a batch, or a related decision; takes device
//! facts, lists and policy swaps (administrative: a token over TCP, or the Unix socket); serves
//! `/healthz`, `/readyz`, `/v1/status` and `/metrics` (Prometheus/OpenMetrics text); and ships its
//! decision log to a local file and an HTTP sink.
//!
//! | module | what it holds |
//! |---|---|
//! | [`config`] | `pathsec.toml`, its errors naming line and field |
//! | [`service`] | the one state and every operation both APIs offer |
//! | [`api`] | the HTTP routes (and `openapi.json`) and the gRPC service |
//! | [`metrics`] | `/metrics`: the library's collector and the daemon's own |
//! | [`logship`] | the decision log's sink: masks, the file, the HTTP shipper |
//! | [`server`] | start (policy, facts, log, listeners) and graceful shutdown |
//!
//! The `pathsec` library stays synchronous and serverless; this package is where tokio, axum and
//! tonic come in.

pub mod api;
pub mod config;
pub mod error;
pub mod logship;
pub mod metrics;
pub mod server;
pub mod service;

pub use config::{Config, ConfigError};
pub use error::ApiError;
pub use server::{Server, StartError};
pub use service::Service;
