//! Policy test-case files: facts, requests (and related-decision asks), and what each must get — what
//! `pathsec test` and the repository's `tests/cases/` run. Uses the vocabulary, the facts, `wasm` and
//! `related` (never the runtime); no wing uses it.

pub(crate) mod case_file;
pub(crate) mod related;

pub use case_file::{CaseFile, TestCase, Want};
pub use related::{Ask, RelatedCase};
