//! `Fqdn`: a server's fully qualified domain name, normalised so equal names compare equal.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest name, in characters, without the trailing dot (RFC 1035 §2.3.4: 255 octets on the wire).
const MAX_NAME: usize = 253;
/// Longest label (RFC 1035 §2.3.4).
const MAX_LABEL: usize = 63;

/// A fully qualified domain name, compared case-insensitively and with or without a trailing dot.
///
/// Parsing validates RFC 1035/1123 host names (letters, digits and hyphens; labels of 1 to 63
/// characters that neither start nor end with a hyphen; at most 253 characters) and normalises to
/// lowercase without the trailing dot. Internationalised names must be given in their A-label form
/// (`xn--…`).
///
/// ```
/// use pathsec::Fqdn;
/// let a: Fqdn = "MTC.Example.COM.".parse()?;
/// assert_eq!(a, "mtc.example.com".parse()?);
/// assert_eq!(a.as_str(), "mtc.example.com");
/// # Ok::<(), pathsec::vocab::FqdnError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fqdn(Box<str>);

impl Fqdn {
    /// A name the library itself spells, already lowercase and valid.
    pub(crate) fn known_valid(name: &'static str) -> Fqdn {
        debug_assert!(name.parse::<Fqdn>().is_ok_and(|f| f.as_str() == name));
        Fqdn(name.into())
    }

    /// The normalised name: lowercase, no trailing dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Fqdn {
    type Err = FqdnError;

    fn from_str(input: &str) -> Result<Fqdn, FqdnError> {
        let error = |problem: String| FqdnError { input: input.to_owned(), problem };
        let name = input.strip_suffix('.').unwrap_or(input);
        if name.is_empty() {
            return Err(error("it is empty".to_owned()));
        }
        if !name.is_ascii() {
            return Err(error(
                "it has non-ASCII characters: write internationalised names in their A-label (`xn--`) form".to_owned(),
            ));
        }
        if name.len() > MAX_NAME {
            return Err(error(format!("it is {} characters long, more than {MAX_NAME}", name.len())));
        }
        for label in name.split('.') {
            if label.is_empty() {
                return Err(error("it has an empty label (two dots in a row, or a leading dot)".to_owned()));
            }
            if label.len() > MAX_LABEL {
                return Err(error(format!(
                    "label `{label}` is {} characters long, more than {MAX_LABEL}",
                    label.len()
                )));
            }
            if let Some(bad) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
                return Err(error(format!("label `{label}` has `{bad}`: only letters, digits and `-` are allowed")));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(error(format!("label `{label}` starts or ends with `-`")));
            }
        }
        Ok(Fqdn(name.to_ascii_lowercase().into_boxed_str()))
    }
}

impl fmt::Display for Fqdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Fqdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fqdn({})", self.0)
    }
}

impl Serialize for Fqdn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Fqdn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Fqdn, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A string that is not a valid fully qualified domain name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid FQDN: {problem}")]
pub struct FqdnError {
    /// What was given.
    pub input: String,
    /// What is wrong with it.
    pub problem: String,
}
