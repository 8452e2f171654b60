//! [`Report`]: what a device tells the server at (re-)registration (000, FIG. 7 step 4, items (a)-(d)).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::exchange::wire::{self, Format, VERSION, WireError};
use crate::facts::ListsDigest;
use crate::facts::digest::{parse_sha256, write_sha256};
use crate::vocab::{AccessKind, Fqdn, LinkState, PlmnId};

/// The device's registration report: who it is, where it is attached, whether its access-layer security
/// is on, which application-layer security it supports, and which lists it holds.
///
/// On the wire (JSON shown; CBOR has the same map):
///
/// ```json
/// {"v":2,"kind":"report","device":"meter-17","server":"mtc.example.com","home":"310410",
///  "serving":"20801","access":"3gpp","ciphering":true,"integrity":true,
///  "options":["dtls-1.3","oscore"],"lists":"sha256:…","seq":3}
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The device's identity (a SUPI, an IMSI, an external identifier…; 000 item (a)).
    pub device: String,
    /// The server it registers with.
    pub server: Fqdn,
    /// Its home network.
    pub home: PlmnId,
    /// The network it is attached to now (item (b)).
    pub serving: PlmnId,
    /// How it is attached.
    pub access: AccessKind,
    /// Whether access-layer ciphering and integrity are on (item (c)).
    pub link: LinkState,
    /// The application-layer security it supports for this server, in its order of preference
    /// (item (d)).
    pub options: Vec<SecurityOption>,
    /// The digest of the lists it holds, when it holds any.
    pub lists: Option<ListsDigest>,
    /// The device's own count of its reports to this server.
    pub sequence: u64,
}

/// An application-layer security option, by name (`dtls-1.3`, `tls-1.3`, `oscore`, `gba-psk`…): 1-32
/// characters of lowercase ASCII letters, digits, `.` and `-`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SecurityOption(String);

impl SecurityOption {
    /// The option's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for SecurityOption {
    type Err = String;

    fn from_str(text: &str) -> Result<SecurityOption, String> {
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
        if text.is_empty() || text.len() > 32 || !text.chars().all(allowed) {
            return Err(format!(
                "`{}` is not a security option: 1-32 characters of lowercase letters, digits, `.` and `-`",
                text.chars().take(40).collect::<String>()
            ));
        }
        Ok(SecurityOption(text.to_owned()))
    }
}

impl<'de> Deserialize<'de> for SecurityOption {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<SecurityOption, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for SecurityOption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The report as the wire has it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct OnWire {
    v: u64,
    kind: Kind,
    device: String,
    server: Fqdn,
    #[serde(with = "wire::plmn_text")]
    home: PlmnId,
    #[serde(with = "wire::plmn_text")]
    serving: PlmnId,
    access: AccessKind,
    ciphering: bool,
    integrity: bool,
    #[serde(default)]
    options: Vec<SecurityOption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lists: Option<ListsDigest>,
    seq: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Kind {
    Report,
}

/// The most options a report lists.
const MAX_OPTIONS: usize = 16;

impl Report {
    /// Reads a report (wire version 2, or 1, whose fields are the same). Every error names the field
    /// and what is wrong with it.
    pub fn decode(format: Format, bytes: &[u8]) -> Result<Report, WireError> {
        let wire: OnWire = wire::decode("report", &[1, VERSION], format, bytes)?;
        wire::check_device("report", &wire.device)?;
        if wire.options.len() > MAX_OPTIONS {
            return Err(WireError::field("report", "options", format!("at most {MAX_OPTIONS} options")));
        }
        Ok(Report {
            device: wire.device,
            server: wire.server,
            home: wire.home,
            serving: wire.serving,
            access: wire.access,
            link: LinkState { ciphering: wire.ciphering, integrity: wire.integrity },
            options: wire.options,
            lists: wire.lists,
            sequence: wire.seq,
        })
    }

    /// Writes the report.
    pub fn encode(&self, format: Format) -> Vec<u8> {
        wire::encode(
            format,
            &OnWire {
                v: VERSION,
                kind: Kind::Report,
                device: self.device.clone(),
                server: self.server.clone(),
                home: self.home,
                serving: self.serving,
                access: self.access,
                ciphering: self.link.ciphering,
                integrity: self.link.integrity,
                options: self.options.clone(),
                lists: self.lists,
                seq: self.sequence,
            },
        )
    }

    /// The report's digest, which the server's indication carries so the device can tell which report
    /// it answers: SHA-256 of [`Report::canonical`]. It does not depend on the format or the bytes the
    /// report travelled in, so a server written in another language computes it from the fields.
    pub fn digest(&self) -> ReportDigest {
        ReportDigest(Sha256::digest(self.canonical().as_bytes()).into())
    }

    /// The report's canonical text form: one `key value` line per field in this order, each ending in
    /// `\n` — `pathsec-report 2`, `device`, `server` (normalised: lowercase, no trailing dot), `home`,
    /// `serving` (packed PLMN-IDs), `access`, `ciphering`, `integrity` (`true`/`false`), `options`
    /// (comma-joined, in the report's order; the line is `options` alone when there are none), `lists`
    /// (the digest, or `-`), `seq`.
    pub fn canonical(&self) -> String {
        let options = self.options.iter().map(SecurityOption::as_str).collect::<Vec<_>>().join(",");
        let lists = self.lists.map_or_else(|| "-".to_owned(), |digest| digest.to_string());
        let line = |key: &str, value: &dyn fmt::Display| match value.to_string() {
            value if value.is_empty() => format!("{key}\n"),
            value => format!("{key} {value}\n"),
        };
        [
            "pathsec-report 2\n".to_owned(),
            line("device", &self.device),
            line("server", &self.server),
            line("home", &self.home),
            line("serving", &self.serving),
            line("access", &self.access),
            line("ciphering", &self.link.ciphering),
            line("integrity", &self.link.integrity),
            line("options", &options),
            line("lists", &lists),
            line("seq", &self.sequence),
        ]
        .concat()
    }
}

/// The SHA-256 of a report's canonical form ([`Report::digest`]); written `sha256:<64 lowercase hex
/// digits>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReportDigest([u8; 32]);

impl ReportDigest {
    /// The digest's bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for ReportDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_sha256(&self.0, f)
    }
}

impl fmt::Debug for ReportDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for ReportDigest {
    type Err = String;

    fn from_str(text: &str) -> Result<ReportDigest, String> {
        parse_sha256(text).map(ReportDigest).ok_or_else(|| {
            format!(
                "`{}` is not a report digest: expected `sha256:` and 64 lowercase hex digits",
                text.chars().take(80).collect::<String>()
            )
        })
    }
}

impl Serialize for ReportDigest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ReportDigest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<ReportDigest, D::Error> {
        <std::borrow::Cow<'de, str>>::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}
