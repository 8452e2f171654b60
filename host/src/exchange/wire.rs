//! The wire form's framing: the two formats, the version check that comes before anything else, the
//! size bound, and [`WireError`], which names the message, the field and the fix.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The wire version this engine writes. Version 2 binds an indication to the report it answers (its
/// `report-seq` and `report`); a version 1 report, whose fields are the same, is still read; a version
/// 1 indication is not (it could answer any report).
pub(crate) const VERSION: u64 = 2;

/// The most bytes a message may have: a report or an indication is a few hundred bytes.
pub(crate) const MAX_BYTES: usize = 4096;

/// How a message is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// JSON (RFC 8259) text.
    Json,
    /// CBOR (RFC 8949), the same map as the JSON with the same keys: for constrained devices.
    Cbor,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Json => "JSON",
            Format::Cbor => "CBOR",
        })
    }
}

/// A message that cannot be used: nothing is stored and the agreement held stays as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Longer than any message of this kind can be.
    #[error("{what} of {size} bytes is longer than the {limit} bytes a registration message may have")]
    TooLarge {
        /// `report` or `indication`.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not a JSON or CBOR map, or cut short.
    #[error("{what} is not valid {format}: {message}")]
    Malformed {
        /// `report` or `indication`.
        what: &'static str,
        /// The format it was read as.
        format: Format,
        /// The parser's message.
        message: String,
    },
    /// Written for another version of the wire form.
    #[error(
        "{what} has wire version {found}, and this engine reads version {supported}: have the peer send version {supported}, or upgrade pathsec"
    )]
    Version {
        /// `report` or `indication`.
        what: &'static str,
        /// The version it has (0 when it has none).
        found: u64,
        /// The version this engine reads.
        supported: u64,
    },
    /// A field is missing, unknown, of the wrong type or holds a value that is not allowed.
    #[error("{what} field `{field}`: {message}")]
    Field {
        /// `report` or `indication`.
        what: &'static str,
        /// The field (`.` when the message as a whole lacks one).
        field: String,
        /// What is wrong with it.
        message: String,
    },
}

impl WireError {
    /// A field's value that parses but is not allowed.
    pub(crate) fn field(what: &'static str, field: &str, message: impl Into<String>) -> WireError {
        WireError::Field { what, field: field.to_owned(), message: message.into() }
    }
}

/// What every message has first: its version.
#[derive(serde::Deserialize)]
struct Head {
    v: Option<u64>,
}

/// Reads a message of type `T` (`what` names it in errors) in one of the `versions` it is read in: size,
/// then version, then every field.
pub(crate) fn decode<T: DeserializeOwned>(
    what: &'static str,
    versions: &[u64],
    format: Format,
    bytes: &[u8],
) -> Result<T, WireError> {
    if bytes.len() > MAX_BYTES {
        return Err(WireError::TooLarge { what, size: bytes.len(), limit: MAX_BYTES });
    }
    let malformed = |message: String| WireError::Malformed { what, format, message };
    let head: Head = match format {
        Format::Json => serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?,
        Format::Cbor => ciborium::from_reader(bytes).map_err(|e| malformed(e.to_string()))?,
    };
    if !head.v.is_some_and(|v| versions.contains(&v)) {
        return Err(WireError::Version { what, found: head.v.unwrap_or(0), supported: VERSION });
    }
    let field = |path: String, message: String| {
        let field = if path == "." { message_field(&message).unwrap_or(path) } else { path };
        WireError::Field { what, field, message }
    };
    match format {
        Format::Json => {
            let mut deserializer = serde_json::Deserializer::from_slice(bytes);
            let value: T = serde_path_to_error::deserialize(&mut deserializer)
                .map_err(|e| field(e.path().to_string(), e.inner().to_string()))?;
            deserializer.end().map_err(|e| malformed(e.to_string()))?;
            Ok(value)
        }
        Format::Cbor => {
            // CBOR's map read as a value, then checked field by field as the JSON is (every field of the
            // wire form is a string, a number, a boolean or a list of strings, which JSON holds alike).
            let value: ciborium::Value = ciborium::from_reader(bytes).map_err(|e| malformed(e.to_string()))?;
            let value = serde_json::to_value(&value).map_err(|e| malformed(e.to_string()))?;
            serde_path_to_error::deserialize(value).map_err(|e| field(e.path().to_string(), e.inner().to_string()))
        }
    }
}

/// The field a serde message names (`missing field `x``, `unknown field `x``), if it names one.
fn message_field(message: &str) -> Option<String> {
    let (_, rest) = message.split_once('`')?;
    let (name, _) = rest.split_once('`')?;
    Some(name.to_owned())
}

/// Writes a message.
pub(crate) fn encode(format: Format, message: &impl Serialize) -> Vec<u8> {
    match format {
        // Our messages are maps of strings, numbers, booleans and lists: they always serialise.
        Format::Json => serde_json::to_vec(message).unwrap_or_default(),
        Format::Cbor => {
            let mut bytes = Vec::new();
            let _ = ciborium::into_writer(message, &mut bytes);
            bytes
        }
    }
}

/// A device's name on the wire: 1-128 characters, none of them a control character.
pub(crate) fn check_device(what: &'static str, device: &str) -> Result<(), WireError> {
    if device.is_empty() || device.chars().count() > 128 || device.chars().any(char::is_control) {
        return Err(WireError::field(what, "device", "a device name has 1-128 characters and no control character"));
    }
    Ok(())
}

/// A PLMN-ID on the wire: the packed text ("310410", "31041"); a `{ mcc, mnc }` map is read too.
pub(crate) mod plmn_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::vocab::PlmnId;

    pub(crate) fn serialize<S: Serializer>(plmn: &PlmnId, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(plmn)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PlmnId, D::Error> {
        PlmnId::deserialize(deserializer)
    }
}
