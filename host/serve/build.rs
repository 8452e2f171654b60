//! Generates the gRPC service from `proto/pathsec/v1/pathsec.proto`, parsed by protox (pure Rust).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/pathsec/v1/pathsec.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["proto"])?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(descriptors)?;
    Ok(())
}
