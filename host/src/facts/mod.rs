//! What a policy decides on beside the request: one immutable generation of the operator's lists and
//! server names ([`FactSet`]), and the files that carry facts and requests ([`files`]). Uses only the
//! vocabulary: no WebAssembly, no runtime.

pub mod digest;
pub(crate) mod fact_set;
pub mod files;
pub(crate) mod path_a;

pub use digest::{ListsDigest, ListsDigestError};
pub use fact_set::{FactSet, FactSetBuilder};
pub use path_a::{AccessKinds, PathATerms};
