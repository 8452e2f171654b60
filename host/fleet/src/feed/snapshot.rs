//! The follower's local snapshot: every device fact it holds with its revision, and each shard's
//! position, written atomically (temporary file, rename) so a restart resumes where it stopped.
//!
//! ```text
//! pathsec-feed-snapshot 1
//! bucket pathsec-devices
//! saved 1800000000
//! shard gw-1 1234
//! d 1201 gw-1.imsi-310410000000001 {"home":"310410",…}
//! a 1230 gw-1.imsi-310410000000001.mtc.example.com {"registration":…}
//! ```

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::Path;

use crate::feed::{AgreementValue, DeviceValue, FeedError};

const HEADER: &str = "pathsec-feed-snapshot 1";

/// A local snapshot as read back.
#[derive(Debug, Default)]
pub(crate) struct LocalSnapshot {
    pub(crate) bucket: String,
    /// When it was written, in seconds since the Unix epoch.
    pub(crate) saved: u64,
    /// Each shard's last applied revision.
    pub(crate) positions: BTreeMap<String, u64>,
    /// Every key held: its revision and value.
    pub(crate) entries: HashMap<String, (u64, DeviceValue)>,
    /// Every registration outcome held: its key, revision and value.
    pub(crate) agreements: Vec<(String, u64, AgreementValue)>,
}

impl LocalSnapshot {
    /// Writes a snapshot of `bucket` at `saved` to `path`: each shard's position and every entry
    /// (key, revision, value).
    pub(crate) fn write(
        path: &Path,
        bucket: &str,
        saved: u64,
        positions: &BTreeMap<String, u64>,
        entries: impl Iterator<Item = (String, u64, DeviceValue)>,
        agreements: impl Iterator<Item = (String, u64, AgreementValue)>,
    ) -> Result<(), FeedError> {
        let error = |e: std::io::Error| FeedError::Snapshot { path: path.to_owned(), reason: e.to_string() };
        let temporary = path.with_extension(format!("tmp{}", std::process::id()));
        let file = std::fs::File::create(&temporary).map_err(error)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        writeln!(out, "{HEADER}\nbucket {bucket}\nsaved {saved}").map_err(error)?;
        for (shard, revision) in positions {
            writeln!(out, "shard {shard} {revision}").map_err(error)?;
        }
        for (key, revision, value) in entries {
            out.write_all(format!("d {revision} {key} ").as_bytes()).map_err(error)?;
            serde_json::to_writer(&mut out, &value).map_err(|e| error(e.into()))?;
            out.write_all(b"\n").map_err(error)?;
        }
        for (key, revision, value) in agreements {
            out.write_all(format!("a {revision} {key} ").as_bytes()).map_err(error)?;
            serde_json::to_writer(&mut out, &value).map_err(|e| error(e.into()))?;
            out.write_all(b"\n").map_err(error)?;
        }
        let file = out.into_inner().map_err(|e| error(e.into_error()))?;
        file.sync_all().map_err(error)?;
        std::fs::rename(&temporary, path).map_err(error)
    }

    /// Reads `path`; `None` when there is no file.
    pub(crate) fn load(path: &Path) -> Result<Option<LocalSnapshot>, FeedError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(FeedError::Snapshot { path: path.to_owned(), reason: e.to_string() }),
        };
        let bad = |line: usize, reason: String| FeedError::Snapshot {
            path: path.to_owned(),
            reason: format!("line {line}: {reason}; delete the file to start from a fresh snapshot of the bucket"),
        };
        let mut lines = text.lines().enumerate();
        if lines.next().map(|(_, line)| line) != Some(HEADER) {
            return Err(bad(1, format!("expected `{HEADER}`")));
        }
        let mut snapshot = LocalSnapshot::default();
        for (index, line) in lines {
            let number = index + 1;
            let (word, rest) = line.split_once(' ').ok_or_else(|| bad(number, "no fields".to_owned()))?;
            let number_of = |text: &str| text.parse::<u64>().map_err(|e| bad(number, format!("`{text}`: {e}")));
            match word {
                "bucket" => snapshot.bucket = rest.to_owned(),
                "saved" => snapshot.saved = number_of(rest)?,
                "shard" => {
                    let (shard, revision) =
                        rest.split_once(' ').ok_or_else(|| bad(number, "expected `shard NAME REVISION`".to_owned()))?;
                    snapshot.positions.insert(shard.to_owned(), number_of(revision)?);
                }
                "d" => {
                    let mut fields = rest.splitn(3, ' ');
                    let (Some(revision), Some(key), Some(json)) = (fields.next(), fields.next(), fields.next()) else {
                        return Err(bad(number, "expected `d REVISION KEY VALUE`".to_owned()));
                    };
                    let value: DeviceValue = serde_json::from_str(json).map_err(|e| bad(number, e.to_string()))?;
                    snapshot.entries.insert(key.to_owned(), (number_of(revision)?, value));
                }
                "a" => {
                    let mut fields = rest.splitn(3, ' ');
                    let (Some(revision), Some(key), Some(json)) = (fields.next(), fields.next(), fields.next()) else {
                        return Err(bad(number, "expected `a REVISION KEY VALUE`".to_owned()));
                    };
                    let value: AgreementValue = serde_json::from_str(json).map_err(|e| bad(number, e.to_string()))?;
                    snapshot.agreements.push((key.to_owned(), number_of(revision)?, value));
                }
                other => return Err(bad(number, format!("unknown line kind `{other}`"))),
            }
        }
        Ok(Some(snapshot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value() -> DeviceValue {
        serde_json::from_str(
            r#"{"home":"310410","serving":{"mcc":"208","mnc":"01"},"ciphering":true,"integrity":false}"#,
        )
        .expect("a device value")
    }

    #[test]
    fn a_snapshot_reads_back_what_was_written() {
        let dir = tempfile::TempDir::new().expect("temp");
        let path = dir.path().join("feed.snapshot");
        let positions = BTreeMap::from([("gw-1".to_owned(), 42), ("gw-2".to_owned(), 7)]);
        let entries = vec![("gw-1.dev-0".to_owned(), 40, value()), ("gw-2.dev-9".to_owned(), 7, value())];
        LocalSnapshot::write(
            &path,
            "pathsec-devices",
            1_800_000_000,
            &positions,
            entries.clone().into_iter(),
            std::iter::empty(),
        )
        .expect("written");
        let read = LocalSnapshot::load(&path).expect("reads").expect("a file");
        assert_eq!((read.bucket.as_str(), read.saved, read.positions), ("pathsec-devices", 1_800_000_000, positions));
        assert_eq!(read.entries.len(), 2);
        assert_eq!(read.entries["gw-1.dev-0"], (40, value()));
        assert!(LocalSnapshot::load(&dir.path().join("missing")).expect("no error").is_none());
    }

    #[test]
    fn a_damaged_snapshot_is_refused_naming_the_file_the_line_and_the_fix() {
        let dir = tempfile::TempDir::new().expect("temp");
        let path = dir.path().join("feed.snapshot");
        for (text, needle) in [
            ("not a snapshot\n", "line 1: expected `pathsec-feed-snapshot 1`"),
            ("pathsec-feed-snapshot 1\nshard gw-1 x\n", "line 2: `x`"),
            ("pathsec-feed-snapshot 1\nd 5 gw-1.dev-0 {\"home\":\"3104\"}\n", "line 2:"),
            ("pathsec-feed-snapshot 1\nwhat now\n", "unknown line kind `what`"),
        ] {
            std::fs::write(&path, text).expect("write");
            let error = LocalSnapshot::load(&path).expect_err(text).to_string();
            assert!(error.contains(&path.display().to_string()) && error.contains(needle), "{error}");
            assert!(error.contains("delete the file to start from a fresh snapshot"), "{error}");
        }
    }
}
