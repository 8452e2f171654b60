//! `PlmnId`: a network identity, MCC + MNC, where the MNC's digit count is part of the identity.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A PLMN identity (3GPP TS 23.003 §12.1): a 3-digit mobile country code and a 2- or 3-digit mobile
/// network code.
///
/// The MNC is a digit string, never an integer: "31041" (MNC `41`) and "310410" (MNC `410`) are
/// different networks, and so are MNC "070" and "70". Parse from the packed form or from the parts:
///
/// ```
/// use pathsec::PlmnId;
/// let att: PlmnId = "310410".parse()?;
/// assert_eq!(att, PlmnId::from_parts("310", "410")?);
/// assert_ne!(att, "31041".parse()?);
/// assert_eq!(att.to_string(), "310410");
/// # Ok::<(), pathsec::vocab::PlmnIdError>(())
/// ```
///
/// In TOML and JSON a `PlmnId` is either the packed string (`"310410"`) or the TS 29.571 `PlmnId`
/// object (`{ mcc = "310", mnc = "410" }`); it is written as the object.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlmnId {
    mcc: u16,
    mnc: u16,
    mnc_digits: u8,
}

impl PlmnId {
    /// The 3GPP test network, MCC 001 / MNC 01 ("00101").
    pub const TEST_NETWORK: PlmnId = PlmnId { mcc: 1, mnc: 1, mnc_digits: 2 };

    /// Parses an MCC (exactly 3 digits) and an MNC (2 or 3 digits), e.g. `("310", "410")`.
    pub fn from_parts(mcc: &str, mnc: &str) -> Result<PlmnId, PlmnIdError> {
        let bad = |part: &'static str| PlmnIdError::Part {
            part,
            input: if part == "MCC" { mcc.to_owned() } else { mnc.to_owned() },
        };
        let mcc_value = digits(mcc).filter(|_| mcc.len() == 3).ok_or_else(|| bad("MCC"))?;
        let mnc_value = digits(mnc).filter(|_| matches!(mnc.len(), 2 | 3)).ok_or_else(|| bad("MNC"))?;
        Ok(PlmnId { mcc: mcc_value, mnc: mnc_value, mnc_digits: mnc.len() as u8 })
    }

    /// Builds a PLMN-ID from numbers; `mnc_digits` (2 or 3) says how the MNC is written.
    pub fn new(mcc: u16, mnc: u16, mnc_digits: u8) -> Result<PlmnId, PlmnIdError> {
        let max_mnc = match mnc_digits {
            2 => 99,
            3 => 999,
            _ => return Err(PlmnIdError::MncDigits { digits: mnc_digits }),
        };
        if mcc > 999 {
            return Err(PlmnIdError::Part { part: "MCC", input: mcc.to_string() });
        }
        if mnc > max_mnc {
            return Err(PlmnIdError::Part { part: "MNC", input: mnc.to_string() });
        }
        Ok(PlmnId { mcc, mnc, mnc_digits })
    }

    /// The mobile country code, 0..=999.
    pub fn mcc(self) -> u16 {
        self.mcc
    }

    /// The mobile network code, 0..=99 or 0..=999 according to [`PlmnId::mnc_digits`].
    pub fn mnc(self) -> u16 {
        self.mnc
    }

    /// How many digits the MNC has: 2 or 3.
    pub fn mnc_digits(self) -> u8 {
        self.mnc_digits
    }

    /// The PLMN-ID packed into 32 bits as the WIT's `plmn-key`: `mcc << 16 | mnc << 4 | mnc-digits`.
    /// Keys order as PLMN-IDs do.
    pub fn key(self) -> u32 {
        (u32::from(self.mcc) << 16) | (u32::from(self.mnc) << 4) | u32::from(self.mnc_digits)
    }

    /// The PLMN-ID a [`PlmnId::key`] packs, if it is one.
    pub fn from_key(key: u32) -> Option<PlmnId> {
        let digits = (key & 0xf) as u8;
        PlmnId::new((key >> 16) as u16, ((key >> 4) & 0xfff) as u16, digits).ok().filter(|p| p.key() == key)
    }

    /// The PLMN-ID of a key this crate packed from a valid `PlmnId` (no check: the per-packet path).
    pub(crate) fn from_valid_key(key: u32) -> PlmnId {
        PlmnId { mcc: (key >> 16) as u16, mnc: ((key >> 4) & 0xfff) as u16, mnc_digits: (key & 0xf) as u8 }
    }

    /// The MCC as written: 3 digits with leading zeros.
    pub fn mcc_string(self) -> String {
        format!("{:03}", self.mcc)
    }

    /// The MNC as written: 2 or 3 digits with leading zeros.
    pub fn mnc_string(self) -> String {
        format!("{:0width$}", self.mnc, width = usize::from(self.mnc_digits))
    }
}

/// The value of an all-ASCII-digit string, or `None`.
fn digits(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl FromStr for PlmnId {
    type Err = PlmnIdError;

    /// Parses the packed form: 5 digits (MNC of 2) or 6 digits (MNC of 3).
    fn from_str(text: &str) -> Result<PlmnId, PlmnIdError> {
        let packed = || PlmnIdError::Packed { input: text.to_owned() };
        if !matches!(text.len(), 5 | 6) || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(packed());
        }
        PlmnId::from_parts(&text[..3], &text[3..]).map_err(|_| packed())
    }
}

impl fmt::Display for PlmnId {
    /// The packed form, e.g. `310410` or `00101`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}{:0width$}", self.mcc, self.mnc, width = usize::from(self.mnc_digits))
    }
}

impl fmt::Debug for PlmnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PlmnId({self})")
    }
}

/// The TS 29.571 `PlmnId` object: MCC and MNC as strings.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlmnIdObject {
    mcc: String,
    mnc: String,
}

/// What a file may hold: the packed string or the object.
#[derive(Deserialize)]
#[serde(untagged)]
enum PlmnIdRepr {
    Packed(String),
    Object(PlmnIdObject),
}

impl Serialize for PlmnId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        PlmnIdObject { mcc: self.mcc_string(), mnc: self.mnc_string() }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PlmnId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PlmnId, D::Error> {
        let parsed = match PlmnIdRepr::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom(
                "expected a PLMN-ID: a string such as \"310410\" or a table such as { mcc = \"310\", mnc = \"410\" } (MCC and MNC as strings)",
            )
        })? {
            PlmnIdRepr::Packed(text) => text.parse(),
            PlmnIdRepr::Object(object) => PlmnId::from_parts(&object.mcc, &object.mnc),
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

/// A string that is not a PLMN-ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlmnIdError {
    /// The packed form is not 5 or 6 digits.
    #[error("`{input}` is not a PLMN-ID: expected MCC (3 digits) + MNC (2 or 3 digits)")]
    Packed {
        /// What was given.
        input: String,
    },
    /// The MCC or the MNC of the two-part form is malformed.
    #[error("`{input}` is not an {part}: expected {}", if *part == "MCC" { "3 digits" } else { "2 or 3 digits, as a string" })]
    Part {
        /// `MCC` or `MNC`.
        part: &'static str,
        /// What was given.
        input: String,
    },
    /// An MNC digit count other than 2 or 3.
    #[error("an MNC has 2 or 3 digits, not {digits}")]
    MncDigits {
        /// What was given.
        digits: u8,
    },
}
