//! Every vocabulary constant of the header is its value's position in the library's list, and
//! `pathsec_name` names it.

use pathsec::vocab::{AccessIntegrity, AccessKind, Action, EndToEnd, EventKind};
use pathsec_ffi::*;

fn name(vocabulary: PathsecVocabulary, code: u32) -> &'static str {
    let pointer = pathsec_name(vocabulary, code);
    assert!(!pointer.is_null(), "vocabulary {vocabulary} code {code}");
    // SAFETY: a static NUL-terminated name.
    unsafe { std::ffi::CStr::from_ptr(pointer) }.to_str().expect("UTF-8")
}

#[test]
fn every_constant_is_its_values_position() {
    let pairs: &[(PathsecVocabulary, u32, &str)] = &[
        (PATHSEC_VOCABULARY_ACTION, PATHSEC_ACTION_SEND_PLAIN, "send-plain"),
        (PATHSEC_VOCABULARY_ACTION, PATHSEC_ACTION_SECURE_THEN_SEND, "secure-then-send"),
        (PATHSEC_VOCABULARY_ACTION, PATHSEC_ACTION_ACCEPT, "accept"),
        (PATHSEC_VOCABULARY_ACTION, PATHSEC_ACTION_DISCARD_AND_SECURE, "discard-and-secure"),
        (PATHSEC_VOCABULARY_ACTION, PATHSEC_ACTION_DISCARD, "discard"),
        (PATHSEC_VOCABULARY_ACTION, PATHSEC_ACTION_PROTECT_TRIGGER, "protect-trigger"),
        (PATHSEC_VOCABULARY_REASON, PATHSEC_REASON_PATH_SECURE, "path-secure"),
        (PATHSEC_VOCABULARY_ROLE, PATHSEC_ROLE_SERVER, "server"),
        (PATHSEC_VOCABULARY_ROLE, PATHSEC_ROLE_DEVICE, "device"),
        (PATHSEC_VOCABULARY_EVENT, PATHSEC_EVENT_SEND_DATA, "send-data"),
        (PATHSEC_VOCABULARY_EVENT, PATHSEC_EVENT_RECEIVE_UNPROTECTED, "receive-unprotected"),
        (PATHSEC_VOCABULARY_EVENT, PATHSEC_EVENT_RECEIVE_PROTECTED, "receive-protected"),
        (PATHSEC_VOCABULARY_EVENT, PATHSEC_EVENT_RECEIVE_TRIGGER, "receive-trigger"),
        (PATHSEC_VOCABULARY_EVENT, PATHSEC_EVENT_SEND_TRIGGER, "send-trigger"),
        (PATHSEC_VOCABULARY_ACCESS, PATHSEC_ACCESS_3GPP, "3gpp"),
        (PATHSEC_VOCABULARY_ACCESS, PATHSEC_ACCESS_TRUSTED_NON_3GPP, "trusted-non-3gpp"),
        (PATHSEC_VOCABULARY_ACCESS, PATHSEC_ACCESS_UNTRUSTED_NON_3GPP, "untrusted-non-3gpp"),
        (PATHSEC_VOCABULARY_ACCESS, PATHSEC_ACCESS_WIRELINE, "wireline"),
    ];
    for &(vocabulary, code, expected) in pairs {
        assert_eq!(name(vocabulary, code), expected);
    }
    assert_eq!(Action::ALL.len(), 6, "a new action needs its constant");
    assert_eq!(AccessKind::ALL.len(), 4, "a new access kind needs its constant");
    assert_eq!(EventKind::ALL.len(), 5, "a new event needs its constant");
    let integrity =
        [PATHSEC_ACCESS_INTEGRITY_VERIFIED, PATHSEC_ACCESS_INTEGRITY_ABSENT, PATHSEC_ACCESS_INTEGRITY_FAILED];
    let names: Vec<_> = integrity.iter().map(|&code| AccessIntegrity::ALL[code as usize].name()).collect();
    assert_eq!(names, ["verified", "absent", "failed"]);
    let end_to_end = [PATHSEC_END_TO_END_VALID, PATHSEC_END_TO_END_ABSENT, PATHSEC_END_TO_END_INVALID];
    let names: Vec<_> = end_to_end.iter().map(|&code| EndToEnd::ALL[code as usize].name()).collect();
    assert_eq!(names, ["valid", "absent", "invalid"]);
    assert_eq!((AccessIntegrity::ALL.len(), EndToEnd::ALL.len()), (3, 3));
    assert!(pathsec_name(PATHSEC_VOCABULARY_ACTION, 99).is_null());
    assert!(pathsec_name(99, 0).is_null());
}
