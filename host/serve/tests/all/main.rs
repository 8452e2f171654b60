//! The daemon's integration tests, one binary (each test binary links the engine): end to end over
//! HTTP, gRPC and a Python client (`serve`), on a fact feed (`feed`), and from a fleet rollout
//! (`rollout`).

mod feed;
mod rollout;
mod serve;
