//! The vocabulary as numbers: each named value's code is its position in the library's `ALL` list (a
//! test holds every constant here to it), and `pathsec_name` gives its name as files and logs spell it.

use std::ffi::{CString, c_char};
use std::sync::OnceLock;

use pathsec::vocab::{EventKind, FaultKind};
use pathsec::{AccessKind, Action, Reason, Role};

use crate::status::{Failure, Result};

/// Which vocabulary a code is from, for [`pathsec_name`].
pub type PathsecVocabulary = u32;
/// [`PathsecDecision::action`](crate::types::PathsecDecision).
pub const PATHSEC_VOCABULARY_ACTION: PathsecVocabulary = 0;
/// [`PathsecDecision::reason`](crate::types::PathsecDecision).
pub const PATHSEC_VOCABULARY_REASON: PathsecVocabulary = 1;
/// [`PathsecDecision::fault`](crate::types::PathsecDecision) (minus one: 0 there is no fault).
pub const PATHSEC_VOCABULARY_FAULT: PathsecVocabulary = 2;
/// [`PathsecFlow::role`](crate::types::PathsecFlow).
pub const PATHSEC_VOCABULARY_ROLE: PathsecVocabulary = 3;
/// [`PathsecFlow::event`](crate::types::PathsecFlow).
pub const PATHSEC_VOCABULARY_EVENT: PathsecVocabulary = 4;
/// [`PathsecAttach::access`](crate::types::PathsecAttach).
pub const PATHSEC_VOCABULARY_ACCESS: PathsecVocabulary = 5;

pub const PATHSEC_ACTION_SEND_PLAIN: u32 = 0;
pub const PATHSEC_ACTION_SECURE_THEN_SEND: u32 = 1;
pub const PATHSEC_ACTION_ACCEPT: u32 = 2;
pub const PATHSEC_ACTION_DISCARD_AND_SECURE: u32 = 3;
pub const PATHSEC_ACTION_DISCARD: u32 = 4;
pub const PATHSEC_ACTION_PROTECT_TRIGGER: u32 = 5;

pub const PATHSEC_REASON_PATH_SECURE: u32 = 0;

pub const PATHSEC_ROLE_SERVER: u32 = 0;
pub const PATHSEC_ROLE_DEVICE: u32 = 1;

pub const PATHSEC_EVENT_SEND_DATA: u32 = 0;
pub const PATHSEC_EVENT_RECEIVE_UNPROTECTED: u32 = 1;
pub const PATHSEC_EVENT_RECEIVE_PROTECTED: u32 = 2;
/// A received trigger: the flow's `access_integrity` and `end_to_end` give its checks.
pub const PATHSEC_EVENT_RECEIVE_TRIGGER: u32 = 3;
pub const PATHSEC_EVENT_SEND_TRIGGER: u32 = 4;

pub const PATHSEC_ACCESS_3GPP: u32 = 0;
pub const PATHSEC_ACCESS_TRUSTED_NON_3GPP: u32 = 1;
pub const PATHSEC_ACCESS_UNTRUSTED_NON_3GPP: u32 = 2;
pub const PATHSEC_ACCESS_WIRELINE: u32 = 3;

pub const PATHSEC_ACCESS_INTEGRITY_VERIFIED: u32 = 0;
pub const PATHSEC_ACCESS_INTEGRITY_ABSENT: u32 = 1;
pub const PATHSEC_ACCESS_INTEGRITY_FAILED: u32 = 2;

pub const PATHSEC_END_TO_END_VALID: u32 = 0;
pub const PATHSEC_END_TO_END_ABSENT: u32 = 1;
pub const PATHSEC_END_TO_END_INVALID: u32 = 2;

/// The name of code `code` in `vocabulary` (`"secure-then-send"`), NUL-terminated and static; null for
/// an unknown vocabulary or code. Reasons are many (see `pathsec::Reason`): their names are the
/// stable part, their codes are positions.
#[unsafe(no_mangle)]
pub extern "C" fn pathsec_name(vocabulary: PathsecVocabulary, code: u32) -> *const c_char {
    static NAMES: OnceLock<Vec<Vec<CString>>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let strings = |names: &mut dyn Iterator<Item = &'static str>| {
            names.map(|name| CString::new(name).expect("names have no NUL")).collect::<Vec<_>>()
        };
        vec![
            strings(&mut Action::ALL.iter().map(|v| v.name())),
            strings(&mut Reason::ALL.iter().map(|v| v.name())),
            strings(&mut FaultKind::ALL.iter().map(|v| v.name())),
            strings(&mut Role::ALL.iter().map(|v| v.name())),
            strings(&mut EventKind::ALL.iter().map(|v| v.name())),
            strings(&mut AccessKind::ALL.iter().map(|v| v.name())),
        ]
    });
    names
        .get(vocabulary as usize)
        .and_then(|names| names.get(code as usize))
        .map_or(std::ptr::null(), |name| name.as_ptr())
}

/// The value of `code` in `all`, or an error naming the field and the codes it takes.
pub(crate) fn decode<T: Copy>(all: &[T], code: u32, field: &str) -> Result<T> {
    all.get(code as usize).copied().ok_or_else(|| {
        Failure::invalid(format!("`{field}` is {code}, and its codes are 0 to {}", all.len().saturating_sub(1)))
    })
}
