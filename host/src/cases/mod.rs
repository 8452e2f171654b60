//! Policy test-case files: facts, requests (and related-decision asks, and sequences of steps against
//! live runtimes), and what each must get — what `pathsec test` and the repository's `tests/cases/`
//! run. Uses every other wing (sequences run runtimes); no wing uses it.

pub(crate) mod case_file;
pub(crate) mod related;
pub(crate) mod sequence;

pub use case_file::{CaseFile, TestCase, Want};
pub use related::{Ask, RelatedCase};
pub use sequence::SequenceCase;
