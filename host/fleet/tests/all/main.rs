//! The fleet package's integration tests, one binary (each test binary links the engine), each against
//! real servers the tests start on loopback ports: configuration delivery to a device (`device`), the
//! fact feed (`feed`), the registry (`oci`), rollouts through the desired-state bucket (`rollout`), and
//! interoperability with `wkg` (`wkg`).

mod device;
mod feed;
mod oci;
mod rollout;
mod wkg;
