//! [`Indication`]: the server's answer at (re-)registration (000, FIG. 7 step 7; FIG. 10 step 4) —
//! whether application-layer security is needed from now on — bound to the device and server it was
//! made for and to the report it answers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::exchange::report::{ReportDigest, SecurityOption};
use crate::exchange::wire::{self, Format, VERSION, WireError};
use crate::facts::ListsDigest;
use crate::vocab::{Fqdn, Reason};

/// The server's indication.
///
/// On the wire (JSON shown; CBOR has the same map):
///
/// ```json
/// {"v":2,"kind":"indication","device":"meter-17","server":"mtc.example.com",
///  "application-security":false,"reason":"path-secure","lists":"sha256:…",
///  "report-seq":3,"report":"sha256:…","seq":1796000000123,"expires":1796086400}
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Indication {
    /// The device it was made for.
    pub device: String,
    /// The server that made it.
    pub server: Fqdn,
    /// Application-layer security is needed from now on.
    pub application_security: bool,
    /// Why (`path-secure` exactly when it is not needed).
    pub reason: Reason,
    /// The application-layer security to use, chosen from the device's options, when it is needed and
    /// the two have one in common.
    pub option: Option<SecurityOption>,
    /// The digest of the lists the server decided with.
    pub lists: ListsDigest,
    /// The sequence number of the report it answers.
    pub report_sequence: u64,
    /// The digest of the report it answers ([`Report::digest`](crate::exchange::Report::digest)): the
    /// device refuses an answer to a report other than the last it sent to that server.
    pub report: ReportDigest,
    /// Larger for every later indication from this server to this device (a device refuses one that is
    /// not larger than the one it holds).
    pub sequence: u64,
    /// When it ends, in seconds since the Unix epoch: the registration timer (000, FIG. 10 step 1).
    pub expires: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct OnWire {
    v: u64,
    kind: Kind,
    device: String,
    server: Fqdn,
    application_security: bool,
    reason: Reason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    option: Option<SecurityOption>,
    lists: ListsDigest,
    report_seq: u64,
    report: ReportDigest,
    seq: u64,
    expires: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Kind {
    Indication,
}

impl Indication {
    /// Reads an indication (wire version 2 only: a version 1 indication names no report, so it could
    /// answer any). Every error names the field and what is wrong with it.
    pub fn decode(format: Format, bytes: &[u8]) -> Result<Indication, WireError> {
        let wire: OnWire = wire::decode("indication", &[VERSION], format, bytes)?;
        wire::check_device("indication", &wire.device)?;
        if wire.application_security == (wire.reason == Reason::PathSecure) {
            return Err(WireError::field(
                "indication",
                "reason",
                format!(
                    "`{}` does not fit `application-security: {}`: `path-secure` exactly when it is not needed",
                    wire.reason, wire.application_security
                ),
            ));
        }
        if !wire.application_security && wire.option.is_some() {
            return Err(WireError::field("indication", "option", "an option is named only when security is needed"));
        }
        Ok(Indication {
            device: wire.device,
            server: wire.server,
            application_security: wire.application_security,
            reason: wire.reason,
            option: wire.option,
            lists: wire.lists,
            report_sequence: wire.report_seq,
            report: wire.report,
            sequence: wire.seq,
            expires: wire.expires,
        })
    }

    /// Writes the indication.
    pub fn encode(&self, format: Format) -> Vec<u8> {
        wire::encode(
            format,
            &OnWire {
                v: VERSION,
                kind: Kind::Indication,
                device: self.device.clone(),
                server: self.server.clone(),
                application_security: self.application_security,
                reason: self.reason,
                option: self.option.clone(),
                lists: self.lists,
                report_seq: self.report_sequence,
                report: self.report,
                seq: self.sequence,
                expires: self.expires,
            },
        )
    }

    /// When it ends.
    pub fn expires_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.expires)
    }
}
