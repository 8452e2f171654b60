//! Tells the library the target triple it is built for: what precompiled artifacts for this host name
//! as their target. (The bundled policies are built by `host/bundled`, feature `bundled-policies`.)

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-env=PATHSEC_HOST_TARGET={}", std::env::var("TARGET").unwrap_or_default());
}
