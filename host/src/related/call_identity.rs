//! A call party's identity, from the SIP or tel URI the call signalling names it by, for correlating a
//! stored voucher with a later session initiation (004: the application server matches the gateway's
//! initiation to the device's by the calling and called identities).
//!
//! Two URIs name the same party when their identities are equal:
//! - a **telephone number**: a `tel:` URI with a global number (RFC 3966 §5.1.4: `+`, digits, visual
//!   separators `-` `.` `(` `)` ignored in comparisons — §4/§5.1.1), or a `sip:`/`sips:` URI with
//!   `user=phone` whose user part is one (RFC 3261 §19.1.6: such a user part *is* a telephone
//!   subscriber). An extension (`;ext=`) is part of the number; the host of a `user=phone` SIP URI is
//!   the gateway's, not the party's, and is not compared. So `sip:+15551234567@ims.example.net;user=phone`
//!   and `tel:+1-555-123-4567` are the same party.
//! - a **SIP address** (RFC 3261 §19.1.4): the scheme (`sip` and `sips` never match), the user part
//!   case-sensitively after `%HH` unescaping, the host without case, the port when given (an absent
//!   port is not 5060). Transport-level parameters (`transport`, `lr`, …) do not name a party and are
//!   ignored.
//!
//! Anything whose party cannot be told for sure is **ambiguous** and never matches, so a voucher is
//! withheld rather than released to the wrong call: a local number (`tel:5551234;phone-context=…`), a SIP
//! user part that looks like a number without `user=phone`, a `user=` value other than `phone` or `ip`,
//! `maddr`/`method`/`ttl` parameters (RFC 3261 says they must match, and they change where the URI
//! leads), headers (`?…`), `isdn-subaddress` or unknown `tel:` parameters. Text that is no URI at all is
//! **malformed**.

use std::fmt;

/// A call party, as compared for correlation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallIdentity {
    /// A global telephone number: `+` and its digits (at most 15, E.164), with its extension's digits.
    Phone {
        /// `+` and the digits.
        number: String,
        /// The extension's digits, when it has one.
        extension: Option<String>,
    },
    /// A SIP address of record.
    Sip {
        /// `sips:` rather than `sip:`.
        secure: bool,
        /// The user part, unescaped (case kept); empty for a URI without one.
        user: String,
        /// The host, lowercase.
        host: String,
        /// The port, when given.
        port: Option<u16>,
    },
}

impl fmt::Display for CallIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallIdentity::Phone { number, extension: None } => write!(f, "tel:{number}"),
            CallIdentity::Phone { number, extension: Some(ext) } => write!(f, "tel:{number};ext={ext}"),
            CallIdentity::Sip { secure, user, host, port } => {
                write!(f, "{}:", if *secure { "sips" } else { "sip" })?;
                if !user.is_empty() {
                    write!(f, "{user}@")?;
                }
                write!(f, "{host}")?;
                if let Some(port) = port {
                    write!(f, ":{port}")?;
                }
                Ok(())
            }
        }
    }
}

/// Why a URI gives no identity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The text is not a SIP, SIPS or tel URI.
    #[error("`{text}` is not a SIP or tel URI: {why} (write e.g. `sip:alice@example.com` or `tel:+1-555-123-4567`)")]
    Malformed {
        /// The text, shortened to 80 characters.
        text: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The URI is well formed, but whose party it names cannot be told for sure.
    #[error("`{text}` does not name one party for sure: {why}")]
    Ambiguous {
        /// The text, shortened to 80 characters.
        text: String,
        /// Why.
        why: &'static str,
    },
}

impl IdentityError {
    /// Whether the URI was well formed but ambiguous.
    pub fn is_ambiguous(&self) -> bool {
        matches!(self, IdentityError::Ambiguous { .. })
    }
}

/// The longest URI taken, in bytes.
const MAX_URI: usize = 1024;

impl CallIdentity {
    /// The identity `text` names: a SIP, SIPS or tel URI, alone or in angle brackets after an optional
    /// display name (`"Alice" <sip:alice@example.com>`, as identity headers carry it).
    pub fn parse(text: &str) -> Result<CallIdentity, IdentityError> {
        let short = || text.chars().take(80).collect::<String>();
        let malformed = |why| IdentityError::Malformed { text: short(), why };
        let ambiguous = |why| IdentityError::Ambiguous { text: short(), why };
        if text.len() > MAX_URI {
            return Err(malformed("longer than 1,024 bytes"));
        }
        let uri = match (text.find('<'), text.rfind('>')) {
            (Some(open), Some(close)) if open < close && text[close + 1..].trim().is_empty() => &text[open + 1..close],
            (None, None) => text.trim(),
            _ => return Err(malformed("unbalanced angle brackets")),
        };
        if uri.is_empty() || !uri.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(malformed("empty, or not printable ASCII without spaces"));
        }
        let (scheme, rest) = uri.split_once(':').ok_or_else(|| malformed("no scheme"))?;
        match scheme.to_ascii_lowercase().as_str() {
            "tel" => {
                tel(rest).map_err(|(why, is_ambiguous)| if is_ambiguous { ambiguous(why) } else { malformed(why) })
            }
            "sip" | "sips" => sip(scheme.eq_ignore_ascii_case("sips"), rest)
                .map_err(|(why, is_ambiguous)| if is_ambiguous { ambiguous(why) } else { malformed(why) }),
            _ => Err(malformed("the scheme is not `sip`, `sips` or `tel`")),
        }
    }

    /// Whether `a` and `b` name the same party: both parse, unambiguously, to equal identities.
    pub fn same_party(a: &str, b: &str) -> bool {
        matches!((CallIdentity::parse(a), CallIdentity::parse(b)), (Ok(a), Ok(b)) if a == b)
    }
}

/// A failure: why, and whether it is ambiguity (else malformation).
type Failure = (&'static str, bool);

/// `+` and the digits of a global number with visual separators; `None` when it is not one.
fn global_number(text: &str) -> Result<String, Failure> {
    let Some(digits) = text.strip_prefix('+') else {
        return Err(("a local number (no `+`): whose it is depends on a context", true));
    };
    let mut number = String::from("+");
    for c in digits.chars() {
        match c {
            '0'..='9' => number.push(c),
            '-' | '.' | '(' | ')' => {}
            _ => return Err(("a telephone number holds digits and `-` `.` `(` `)` only", false)),
        }
    }
    match number.len() - 1 {
        0 => Err(("a telephone number without digits", false)),
        1..=15 => Ok(number),
        _ => Err(("more than 15 digits (E.164)", false)),
    }
}

/// A `tel:` URI's identity (RFC 3966).
fn tel(rest: &str) -> Result<CallIdentity, Failure> {
    let mut parts = rest.split(';');
    let number = global_number(parts.next().unwrap_or(""))?;
    let mut extension = None;
    for parameter in parts {
        let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        match name.to_ascii_lowercase().as_str() {
            "ext" => {
                let digits: String = value.chars().filter(|c| !matches!(c, '-' | '.' | '(' | ')')).collect();
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(("an extension holds digits only", false));
                }
                extension = Some(digits);
            }
            "phone-context" => return Err(("a global number with a phone context", false)),
            _ => return Err(("a parameter that may change the party (`isub`, or unknown)", true)),
        }
    }
    Ok(CallIdentity::Phone { number, extension })
}

/// Unescapes `%HH` sequences; `None` for a broken one.
fn unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A `sip:` or `sips:` URI's identity (RFC 3261 §19.1).
fn sip(secure: bool, rest: &str) -> Result<CallIdentity, Failure> {
    if rest.contains('?') {
        return Err(("headers (`?…`) in an identity", true));
    }
    // The user part may hold `;` (a telephone subscriber's parameters): split at its `@` first.
    let (userinfo, after) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let (hostport, parameters) = after.split_once(';').unwrap_or((after, ""));
    // The password, if any, is not part of the party.
    let user = userinfo.map(|userinfo| userinfo.split_once(':').map_or(userinfo, |(user, _)| user));
    let user = match user {
        Some("") => return Err(("an empty user part before `@`", false)),
        Some(user) => unescape(user).ok_or(("a broken `%` escape in the user part", false))?,
        None => String::new(),
    };
    // An IPv6 reference is bracketed: its colons are not the port's.
    let split = match hostport.strip_prefix('[') {
        Some(inner) => {
            let close = inner.find(']').ok_or(("an IPv6 reference without `]`", false))?;
            let (host, after) = hostport.split_at(close + 2);
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':').ok_or(("text after the IPv6 reference", false))?)),
            }
        }
        None => match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        },
    };
    let (host, port) = match split {
        (host, Some(port)) => {
            (host, Some(port.parse::<u16>().map_err(|_| ("a port that is not a number up to 65535", false))?))
        }
        (host, None) => (host, None),
    };
    if host.is_empty() || !host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-[]:".contains(&b)) {
        return Err(("the host is not a domain name or an IP address", false));
    }
    let mut user_phone = false;
    for parameter in parameters.split(';').filter(|p| !p.is_empty()) {
        let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        match name.to_ascii_lowercase().as_str() {
            "user" => match value.to_ascii_lowercase().as_str() {
                "phone" => user_phone = true,
                "ip" => {}
                _ => return Err(("a `user=` other than `phone` or `ip`", true)),
            },
            "maddr" | "method" | "ttl" => {
                return Err(("`maddr`, `method` or `ttl`: they change where the URI leads", true));
            }
            _ => {}
        }
    }
    if user_phone {
        // RFC 3261 §19.1.6: the user part is a telephone subscriber (its own parameters after `;`).
        return tel(&user);
    }
    if user.starts_with('+') && user[1..].chars().all(|c| c.is_ascii_digit() || "-.()".contains(c)) {
        return Err(("a user part that looks like a telephone number, without `user=phone`", true));
    }
    Ok(CallIdentity::Sip { secure, user, host: host.to_ascii_lowercase(), port })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &str, b: &str) -> bool {
        CallIdentity::same_party(a, b)
    }

    #[test]
    fn telephone_numbers_match_across_sip_and_tel() {
        assert!(same("sip:+15551234567@ims.example.net;user=phone", "tel:+1-555-123-4567"));
        assert!(same("tel:+1(555)123.4567", "tel:+15551234567"));
        assert!(same("<sip:+15551234567@gw.example.org;user=phone;transport=udp>", "\"Bob\" <tel:+15551234567>"));
        assert!(same("sip:+1-555-123-4567;ext=12@a.example;user=phone", "tel:+15551234567;ext=12"));
        assert!(!same("tel:+15551234567;ext=12", "tel:+15551234567"), "an extension is another party");
        assert!(!same("tel:+15551234567", "tel:+15551234568"));
    }

    #[test]
    fn sip_addresses_follow_rfc_3261() {
        assert!(same("sip:alice@Example.COM", "sip:alice@example.com"), "the host without case");
        assert!(!same("sip:Alice@example.com", "sip:alice@example.com"), "the user with case");
        assert!(same("sip:%61lice@example.com", "sip:alice@example.com"), "escapes unescaped");
        assert!(!same("sips:alice@example.com", "sip:alice@example.com"), "sip and sips never match");
        assert!(!same("sip:alice@example.com:5060", "sip:alice@example.com"), "an absent port is not 5060");
        assert!(same("sip:alice:secret@example.com;transport=tcp;lr", "sip:alice@example.com"));
        assert!(same("sip:bob@[2001:DB8::1]:5070", "sip:bob@[2001:db8::1]:5070"));
        assert!(!same("sip:bob@[2001:db8::1]", "sip:bob@[2001:db8::1]:5070"));
    }

    #[test]
    fn anything_ambiguous_never_matches() {
        for ambiguous in [
            "tel:5551234;phone-context=example.com",
            "sip:+15551234567@ims.example.net",
            "sip:alice@example.com;maddr=10.0.0.1",
            "sip:alice@example.com?subject=x",
            "sip:alice@example.com;user=dialstring",
            "tel:+15551234567;isub=1234",
        ] {
            let error = CallIdentity::parse(ambiguous).expect_err(ambiguous);
            assert!(error.is_ambiguous(), "{ambiguous}: {error}");
            assert!(!same(ambiguous, ambiguous), "{ambiguous} matches nothing, not even itself");
        }
        for malformed in [
            "",
            "alice@example.com",
            "http://example.com",
            "tel:+",
            "tel:+1234567890123456",
            "sip:@x",
            "sip:a@x:99999",
            "sip:a@ex ample.com",
            "<sip:a@x",
        ] {
            let error = CallIdentity::parse(malformed).expect_err(malformed);
            assert!(!error.is_ambiguous(), "{malformed}: {error}");
        }
    }
}
