//! The checked-in header is what cbindgen makes of the code now: a change to the ABI without the
//! header fails here. `PATHSEC_BLESS=1 cargo test -p pathsec-ffi --test all header` rewrites it.

use std::path::Path;

#[test]
fn the_checked_in_header_matches_the_code() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings =
        cbindgen::Builder::new().with_crate(dir).with_config(config).generate().expect("cbindgen reads the crate");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let path = dir.join("include/pathsec.h");
    if std::env::var_os("PATHSEC_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write the header");
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "`{}` does not match the code: run `PATHSEC_BLESS=1 cargo test -p pathsec-ffi --test all header`, review the diff, and commit it (and bump PATHSEC_ABI_VERSION if a program built against the old header would misuse the new one)",
        path.display()
    );
}
