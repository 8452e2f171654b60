//! The lists' content digest: SHA-256 of a canonical text form of Lists 1-3 (with per-home List 3) and
//! the trusted access networks, which any node holding the same lists computes alike — whatever order
//! they were written in, whatever handles its servers got, whatever language it is written in.
//!
//! The canonical form is UTF-8 text, one entry per line, each line ending in `\n`:
//!
//! ```text
//! pathsec-lists 1
//! 1 <plmn>                 List 1, one line per network (an entry with the default terms)
//! 1 <plmn> <terms>         an entry with other terms: `3gpp,wireline`, `3gpp integrity-required`
//! i integrity-required     the operator asks for integrity on every List 1 entry
//! 2 <home> <fqdn>          List 2, one line per pair
//! 3 * <visited>            List 3 for every home network
//! 3 <home> <visited>       List 3 for one home network
//! n <fqdn> <plmn>          a server attached to a network other than the device's home
//! a <access network id>    a trusted non-3GPP access network
//! ```
//!
//! A `<plmn>` is the packed PLMN-ID (MCC then MNC, "310410" or "31041"); an `<fqdn>` is normalised
//! (lowercase, no trailing dot); `<terms>` names the access kinds in declaration order, joined by
//! commas, then ` integrity-required` when the entry asks for it. Lines are sorted as byte strings and
//! never repeated. Lists written before List 1 entries had terms keep their digest.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::facts::FactSet;

/// The SHA-256 of a set of lists' canonical form; written `sha256:<64 lowercase hex digits>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListsDigest([u8; 32]);

impl ListsDigest {
    /// The digest of `facts`' lists.
    pub fn of(facts: &FactSet) -> ListsDigest {
        ListsDigest(Sha256::digest(canonical(facts).as_bytes()).into())
    }

    /// The digest's bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The canonical text form of `facts`' lists (see the module's documentation).
pub fn canonical(facts: &FactSet) -> String {
    let mut lines: Vec<String> = Vec::new();
    lines.extend(facts.path_a_entries().map(|(network, terms)| match terms.is_default() {
        true => format!("1 {network}\n"),
        false => format!("1 {network} {terms}\n"),
    }));
    if facts.integrity_required() {
        lines.push("i integrity-required\n".to_owned());
    }
    lines.extend(facts.path_b().iter().filter_map(|(home, server)| {
        // A pair's server always has a name in its own fact set.
        facts.server(*server).map(|fqdn| format!("2 {home} {fqdn}\n"))
    }));
    lines.extend(facts.interconnect().iter().map(|visited| format!("3 * {visited}\n")));
    lines.extend(facts.interconnect_per_home().iter().map(|(home, visited)| format!("3 {home} {visited}\n")));
    lines.extend(
        facts
            .server_networks()
            .iter()
            .filter_map(|(server, network)| facts.server(*server).map(|fqdn| format!("n {fqdn} {network}\n"))),
    );
    lines.extend(facts.trusted_access_networks().iter().map(|network| format!("a {network}\n")));
    lines.sort_unstable();
    lines.dedup();
    let mut text = String::from("pathsec-lists 1\n");
    lines.iter().for_each(|line| text.push_str(line));
    text
}

impl fmt::Display for ListsDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_sha256(&self.0, f)
    }
}

/// Writes a SHA-256 as `sha256:<64 lowercase hex digits>` (the lists' digest and a report's).
pub(crate) fn write_sha256(bytes: &[u8; 32], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str("sha256:")?;
    bytes.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
}

/// Reads `sha256:<64 lowercase hex digits>`.
pub(crate) fn parse_sha256(text: &str) -> Option<[u8; 32]> {
    let hex = text.strip_prefix("sha256:").filter(|hex| hex.len() == 64)?;
    let mut bytes = [0; 32];
    for (byte, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let digit = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        *byte = digit(pair[0]).zip(digit(pair[1])).map(|(high, low)| high << 4 | low)?;
    }
    Some(bytes)
}

impl fmt::Debug for ListsDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Text that is not `sha256:` and 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a lists digest: expected `sha256:` and 64 lowercase hex digits")]
pub struct ListsDigestError {
    input: String,
}

impl FromStr for ListsDigest {
    type Err = ListsDigestError;

    fn from_str(text: &str) -> Result<ListsDigest, ListsDigestError> {
        parse_sha256(text).map(ListsDigest).ok_or_else(|| ListsDigestError { input: text.chars().take(80).collect() })
    }
}

impl serde::Serialize for ListsDigest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ListsDigest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<ListsDigest, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::PlmnId;

    fn plmn(text: &str) -> PlmnId {
        text.parse().expect("a PLMN-ID")
    }

    /// Two nodes with the same lists, written in another order and with other server handles, agree;
    /// any entry changes the digest, and "31041" is not "310410".
    #[test]
    fn same_lists_same_digest_whatever_the_order() {
        let mut one = FactSet::builder();
        let other_server = one.server("other.example.com".parse().expect("fqdn"));
        let server = one.server("mtc.example.com".parse().expect("fqdn"));
        one.trust_path_a(plmn("310410")).trust_path_a(plmn("20801")).trust_path_b(plmn("310410"), server);
        one.trust_path_b(plmn("310410"), other_server).trust_interconnect_for(plmn("310410"), plmn("20801"));
        let mut two = FactSet::builder();
        let server = two.server("MTC.example.com.".parse().expect("fqdn"));
        let other_server = two.server("other.example.com".parse().expect("fqdn"));
        two.trust_interconnect_for(plmn("310410"), plmn("20801")).trust_path_b(plmn("310410"), other_server);
        two.trust_path_b(plmn("310410"), server).trust_path_a(plmn("20801")).trust_path_a(plmn("310410"));
        let digest = ListsDigest::of(&one.build());
        assert_eq!(digest, ListsDigest::of(&two.build()));
        assert_eq!(digest.to_string().parse::<ListsDigest>(), Ok(digest));

        let mut changed = one.clone();
        changed.distrust_path_a(plmn("310410")).trust_path_a(plmn("31041"));
        assert_ne!(ListsDigest::of(&changed.build()), digest);
        let mut flat = one.clone();
        flat.distrust_interconnect_for(plmn("310410"), plmn("20801")).trust_interconnect(plmn("20801"));
        assert_ne!(ListsDigest::of(&flat.build()), digest, "per-home is not every home");
        assert_eq!(
            canonical(&one.build()),
            "pathsec-lists 1\n1 20801\n1 310410\n2 310410 mtc.example.com\n2 310410 other.example.com\n3 310410 20801\n"
        );
    }

    #[test]
    fn bad_digests_are_refused() {
        for text in
            ["", "sha256:", "sha1:00", &format!("sha256:{}", "A".repeat(64)), &format!("sha256:{}", "0".repeat(63))]
        {
            assert!(text.parse::<ListsDigest>().is_err(), "{text}");
        }
    }
}
