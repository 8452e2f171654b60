//! Errors print each cause once: an error either carries its cause in its message and returns no
//! `source()`, or leaves it out of the message and returns it — the CLI and the C ABI print the chain,
//! the daemon's status and logs print the message. Each error here is made by the call that makes it in
//! use, and its whole chain is checked.

use pathsec::files::FactsFile;
use pathsec::runtime::{DecisionLog, PolicyDirectory};
use pathsec_suite::checks::cause_once;

#[test]
fn file_log_policy_and_directory_errors_carry_the_io_cause_once() {
    let missing = std::env::temp_dir().join("pathsec-no-such-dir-for-errors").join("x");
    let chains = [
        cause_once(&FactsFile::read(missing.with_extension("toml")).expect_err("no such file")),
        cause_once(&DecisionLog::to_file(&missing).err().expect("no such directory")),
        cause_once(&pathsec_suite::engine().load_policy_file(missing.with_extension("wasm")).expect_err("no file")),
        cause_once(&PolicyDirectory::open(&missing, pathsec_suite::engine()).err().expect("no directory")),
    ];
    for chain in chains {
        // The cause is said: by the message, or by the next link of the chain.
        assert!(chain.join(": ").contains("No such file or directory"), "{chain:?}");
    }
}

#[test]
fn a_voucher_for_an_unclear_party_says_why_once() {
    let runtime = pathsec::Runtime::new(pathsec_suite::bundled("reference").expect("bundled")).expect("runtime");
    let error = runtime.store_voucher("meter at ims", "tel:+15551234567", b"v".to_vec()).expect_err("not a URI");
    let chain = cause_once(&error);
    assert_eq!(chain.len(), 1, "the identity error is in the message, not also the source: {chain:?}");
    assert!(chain[0].starts_with("`calling`: ") && chain[0].contains("is not a SIP or tel URI"), "{chain:?}");
}
