//! [`ListBundle`]: the trust lists (Lists 1-3, per-home List 3, trusted access networks) with a
//! generation, an issuer and a validity period, signed with an operator's ed25519 key under a signing
//! context of its own — the same key files as policies, but a key signs lists only where a host trusts
//! it for lists ([`BundleKeys`]).
//!
//! A bundle file is one JSON object, written the same way for the same content:
//!
//! ```json
//! {"pathsec-list-bundle":1,"generation":42,"issuer":"ops.example.net","not-before":1800000000,
//!  "not-after":1802592000,"lists":{"path-a":["310410"],"path-b":[],"interconnect":[]},
//!  "signature":"pathsec-signature-v1 <key id> <base64>"}
//! ```
//!
//! What is signed is `pathsec list bundle signature v1\n` followed by the SHA-256 of
//! `pathsec-list-bundle 1\ngeneration <g>\nissuer <i>\nnot-before <a>\nnot-after <b>\n` and the lists'
//! canonical form (`facts::digest`), so no reformatting of the file changes what the signature covers
//! and no policy signature is ever valid for a bundle.
//!
//! Before use ([`ListBundle::open`]) a bundle is checked: well formed, signed by a key trusted for
//! lists, inside its validity period, and of a generation newer than the highest accepted from its
//! issuer ([`AcceptedGenerations`], kept on disk). Anything else is refused with an error naming the
//! bundle, the check and the fix; nothing is applied.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::facts::files::ListsFile;
use crate::facts::{FactSet, digest};
use crate::wasm::signing::{PolicySignature, PublicKey, SecretKey};

/// The signing context of list bundles.
const CONTEXT: &[u8] = b"pathsec list bundle signature v1\n";

/// The bundle format's version.
const VERSION: u64 = 1;

/// The largest bundle file read (an operator's lists with 100,000 entries are a few MB).
const MAX_BYTES: usize = 64 << 20;

/// A checked list bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListBundle {
    /// Larger for every later bundle of the same issuer.
    pub generation: u64,
    /// Who issued it (an operator's name for its list service).
    pub issuer: String,
    /// When it starts to hold, in seconds since the Unix epoch.
    pub not_before: u64,
    /// When it ends, in seconds since the Unix epoch.
    pub not_after: u64,
    /// The lists, in their canonical order.
    pub lists: ListsFile,
}

/// The public keys trusted to sign list bundles: the same key files as policies' keys, trusted for lists
/// separately (a key trusted for policies signs no lists unless it is here too).
#[derive(Clone, Debug, Default)]
pub struct BundleKeys {
    keys: Vec<PublicKey>,
}

impl BundleKeys {
    /// Trusts these keys for lists.
    pub fn new(keys: impl IntoIterator<Item = PublicKey>) -> BundleKeys {
        BundleKeys { keys: keys.into_iter().collect() }
    }
}

/// A bundle file as written.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct OnDisk {
    #[serde(rename = "pathsec-list-bundle")]
    version: u64,
    generation: u64,
    issuer: String,
    not_before: u64,
    not_after: u64,
    lists: ListsFile,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
}

impl ListBundle {
    /// A bundle of `facts`' lists.
    pub fn new(generation: u64, issuer: &str, not_before: u64, not_after: u64, facts: &FactSet) -> ListBundle {
        ListBundle { generation, issuer: issuer.to_owned(), not_before, not_after, lists: ListsFile::from_facts(facts) }
    }

    /// The lists as a fact generation.
    pub fn facts(&self) -> FactSet {
        self.lists.facts()
    }

    /// The bundle file, signed with `key`.
    pub fn sign(&self, key: &SecretKey) -> Vec<u8> {
        let signature = key.sign_in(CONTEXT, &self.digest());
        self.file(Some(signature.to_text().trim_end().to_owned()))
    }

    /// The bundle file without a signature (what `pathsec lists show` prints, say).
    pub fn unsigned(&self) -> Vec<u8> {
        self.file(None)
    }

    fn file(&self, signature: Option<String>) -> Vec<u8> {
        let on_disk = OnDisk {
            version: VERSION,
            generation: self.generation,
            issuer: self.issuer.clone(),
            not_before: self.not_before,
            not_after: self.not_after,
            lists: ListsFile::from_facts(&self.facts()),
            signature,
        };
        let mut bytes = serde_json::to_vec_pretty(&on_disk).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// What the signature covers.
    fn digest(&self) -> [u8; 32] {
        let header = format!(
            "pathsec-list-bundle {VERSION}\ngeneration {}\nissuer {}\nnot-before {}\nnot-after {}\n",
            self.generation, self.issuer, self.not_before, self.not_after
        );
        let mut hasher = Sha256::new();
        hasher.update(header.as_bytes());
        hasher.update(digest::canonical(&self.facts()).as_bytes());
        hasher.finalize().into()
    }

    /// Reads bundle `name` without checking it — its signature, validity and generation — for tools
    /// that show or compare bundles: the bundle, and the id of the key its signature names (if any).
    /// Never use what it returns as lists: [`ListBundle::open`] is the way in.
    pub fn inspect(name: &str, bytes: &[u8]) -> Result<(ListBundle, Option<String>), BundleError> {
        let on_disk = read(name, bytes)?;
        let key_id = match &on_disk.signature {
            Some(text) => Some(
                PolicySignature::parse(&format!("{name} (field `signature`)"), text)
                    .map_err(|e| BundleError::Malformed { bundle: name.to_owned(), message: e.to_string() })?
                    .key_id()
                    .to_owned(),
            ),
            None => None,
        };
        Ok((on_disk.bundle(), key_id))
    }

    /// Reads and checks bundle `name` (`bytes`) at `now` (seconds since the Unix epoch): well formed,
    /// signed by one of `keys`, valid now, and newer than the highest generation `accepted` from its
    /// issuer. The caller applies it, then records it with [`AcceptedGenerations::record`].
    pub fn open(
        name: &str,
        bytes: &[u8],
        keys: &BundleKeys,
        now: u64,
        accepted: &AcceptedGenerations,
    ) -> Result<ListBundle, BundleError> {
        ListBundle::check(name, bytes, keys, now, accepted, false)
    }

    /// As [`ListBundle::open`], for the bundle a node accepted before and kept ([`BundleStore`]): its
    /// generation may equal the highest accepted (it is that one), never be lower. Its signature and
    /// validity are checked again: an expired bundle is not used.
    pub fn reopen(
        name: &str,
        bytes: &[u8],
        keys: &BundleKeys,
        now: u64,
        accepted: &AcceptedGenerations,
    ) -> Result<ListBundle, BundleError> {
        ListBundle::check(name, bytes, keys, now, accepted, true)
    }

    fn check(
        name: &str,
        bytes: &[u8],
        keys: &BundleKeys,
        now: u64,
        accepted: &AcceptedGenerations,
        again: bool,
    ) -> Result<ListBundle, BundleError> {
        let bundle = name.to_owned();
        let malformed = |message: String| BundleError::Malformed { bundle: bundle.clone(), message };
        let on_disk = read(name, bytes)?;
        let opened = on_disk.bundle();
        if keys.keys.is_empty() {
            return Err(BundleError::NoTrustedKeys { bundle });
        }
        let Some(text) = on_disk.signature else { return Err(BundleError::Unsigned { bundle }) };
        let signature = PolicySignature::parse(&format!("{name} (field `signature`)"), &text)
            .map_err(|e| malformed(e.to_string()))?;
        let Some(key) = keys.keys.iter().find(|key| key.id() == signature.key_id()) else {
            return Err(BundleError::UntrustedKey {
                bundle,
                key_id: signature.key_id().to_owned(),
                trusted: keys.keys.iter().map(PublicKey::id).collect(),
            });
        };
        if !key.verifies_in(CONTEXT, &opened.digest(), &signature) {
            return Err(BundleError::Invalid { bundle, key_id: signature.key_id().to_owned() });
        }
        if now < opened.not_before {
            return Err(BundleError::NotYetValid { bundle, not_before: opened.not_before, now });
        }
        if now >= opened.not_after {
            return Err(BundleError::Expired { bundle, not_after: opened.not_after, now });
        }
        if let Some(highest) = accepted.highest(&opened.issuer)
            && (opened.generation < highest || (opened.generation == highest && !again))
        {
            return Err(BundleError::Rollback {
                bundle,
                issuer: opened.issuer,
                generation: opened.generation,
                highest,
            });
        }
        Ok(opened)
    }
}

/// Reads a bundle file: its size, its version, then every field.
fn read(name: &str, bytes: &[u8]) -> Result<OnDisk, BundleError> {
    let malformed = |message: String| BundleError::Malformed { bundle: name.to_owned(), message };
    if bytes.len() > MAX_BYTES {
        return Err(malformed(format!("{} bytes, more than the {MAX_BYTES} a bundle may have", bytes.len())));
    }
    let head: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
    match head.get("pathsec-list-bundle").and_then(serde_json::Value::as_u64) {
        Some(VERSION) => {}
        found => {
            return Err(BundleError::Version {
                bundle: name.to_owned(),
                found: found.unwrap_or(0),
                supported: VERSION,
            });
        }
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|e| malformed(format!("field `{}`: {}", e.path(), e.inner())))
}

impl OnDisk {
    fn bundle(&self) -> ListBundle {
        ListBundle {
            generation: self.generation,
            issuer: self.issuer.clone(),
            not_before: self.not_before,
            not_after: self.not_after,
            lists: self.lists.clone(),
        }
    }
}

/// The highest generation accepted from each issuer, kept in a file so a restart does not accept an
/// older bundle again. The file is rewritten whole and renamed into place, so a crash leaves the old
/// record or the new one, never half of either.
#[derive(Debug)]
pub struct AcceptedGenerations {
    path: Option<PathBuf>,
    highest: BTreeMap<String, u64>,
}

impl AcceptedGenerations {
    /// The record kept at `path` (none yet: nothing accepted).
    pub fn open(path: impl AsRef<Path>) -> Result<AcceptedGenerations, BundleError> {
        let path = path.as_ref().to_owned();
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(error) => return Err(BundleError::Record { file: shown, message: error.to_string() }),
        };
        let mut highest = BTreeMap::new();
        for (number, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
            let parsed =
                line.rsplit_once(' ').and_then(|(issuer, generation)| Some((issuer, generation.parse().ok()?)));
            let Some((issuer, generation)) = parsed else {
                return Err(BundleError::Record {
                    file: shown,
                    message: format!("line {}: expected `<issuer> <generation>`", number + 1),
                });
            };
            highest.insert(issuer.to_owned(), generation);
        }
        Ok(AcceptedGenerations { path: Some(path), highest })
    }

    /// A record kept in memory only (tests, or a node that may accept older lists after a restart).
    pub fn in_memory() -> AcceptedGenerations {
        AcceptedGenerations { path: None, highest: BTreeMap::new() }
    }

    /// The highest generation accepted from `issuer`.
    pub fn highest(&self, issuer: &str) -> Option<u64> {
        self.highest.get(issuer).copied()
    }

    /// Records `bundle` as accepted (after it was applied), on disk first.
    pub fn record(&mut self, bundle: &ListBundle) -> Result<(), BundleError> {
        let mut next = self.highest.clone();
        next.insert(bundle.issuer.clone(), bundle.generation);
        if let Some(path) = &self.path {
            let text: String = next.iter().map(|(issuer, generation)| format!("{issuer} {generation}\n")).collect();
            let temporary = path.with_extension("tmp");
            let written = std::fs::write(&temporary, text)
                .and_then(|()| std::fs::File::open(&temporary)?.sync_all())
                .and_then(|()| std::fs::rename(&temporary, path));
            written.map_err(|e| BundleError::Record { file: path.display().to_string(), message: e.to_string() })?;
        }
        self.highest = next;
        Ok(())
    }
}

/// The last bundle a node accepted, kept in a directory so a node that restarts while offline (a device
/// between deliveries, a gateway cut off from its list service) starts from it. Written whole and
/// renamed into place.
#[derive(Debug)]
pub struct BundleStore {
    file: PathBuf,
}

impl BundleStore {
    /// The store in `dir` (created if missing).
    pub fn open(dir: impl AsRef<Path>) -> Result<BundleStore, BundleError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir)
            .map_err(|e| BundleError::Store { file: dir.display().to_string(), message: e.to_string() })?;
        Ok(BundleStore { file: dir.join("lists.bundle.json") })
    }

    /// Keeps `bytes` (a bundle just accepted) as the last one.
    pub fn save(&self, bytes: &[u8]) -> Result<(), BundleError> {
        let temporary = self.file.with_extension("tmp");
        std::fs::write(&temporary, bytes)
            .and_then(|()| std::fs::File::open(&temporary)?.sync_all())
            .and_then(|()| std::fs::rename(&temporary, &self.file))
            .map_err(|e| BundleError::Store { file: self.file.display().to_string(), message: e.to_string() })
    }

    /// The last bundle kept, with the name errors give it; `None` when none was.
    pub fn load(&self) -> Result<Option<(String, Vec<u8>)>, BundleError> {
        match std::fs::read(&self.file) {
            Ok(bytes) => Ok(Some((self.file.display().to_string(), bytes))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => {
                Err(BundleError::Record { file: self.file.display().to_string(), message: error.to_string() })
            }
        }
    }
}

/// A bundle that is not used: the lists in force stay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Not a bundle file.
    #[error("list bundle `{bundle}` is malformed: {message}: write it with `pathsec lists sign`")]
    Malformed {
        /// The bundle.
        bundle: String,
        /// What is wrong.
        message: String,
    },
    /// Of another format version.
    #[error(
        "list bundle `{bundle}` has format version {found}, and this host reads version {supported}: sign it with this pathsec, or upgrade the host"
    )]
    Version {
        /// The bundle.
        bundle: String,
        /// Its version (0 when it has none).
        found: u64,
        /// The version read.
        supported: u64,
    },
    /// No key is trusted for lists, so no bundle can be.
    #[error(
        "list bundle `{bundle}` cannot be checked: this host trusts no key for lists: add the issuer's public key to the keys trusted for lists"
    )]
    NoTrustedKeys {
        /// The bundle.
        bundle: String,
    },
    /// Without a signature.
    #[error("list bundle `{bundle}` is not signed: sign it with `pathsec lists sign --key <secret key file>`")]
    Unsigned {
        /// The bundle.
        bundle: String,
    },
    /// Signed by a key not trusted for lists.
    #[error(
        "list bundle `{bundle}` is signed by key {key_id}, which this host does not trust for lists (it trusts {}): sign it with a key trusted for lists, or trust that key for lists",
        trusted.join(", ")
    )]
    UntrustedKey {
        /// The bundle.
        bundle: String,
        /// The signing key's id.
        key_id: String,
        /// The ids of the keys trusted for lists.
        trusted: Vec<String>,
    },
    /// The signature does not cover this content.
    #[error(
        "list bundle `{bundle}`: its signature by key {key_id} does not match its content (changed after signing, or a signature made for something else): sign it again"
    )]
    Invalid {
        /// The bundle.
        bundle: String,
        /// The key the signature claims.
        key_id: String,
    },
    /// Its validity period has not begun.
    #[error(
        "list bundle `{bundle}` is valid from {not_before} (Unix seconds), and it is {now}: check the issuer's and this host's clocks"
    )]
    NotYetValid {
        /// The bundle.
        bundle: String,
        /// When it starts.
        not_before: u64,
        /// Now.
        now: u64,
    },
    /// Its validity period has ended.
    #[error(
        "list bundle `{bundle}` expired at {not_after} (Unix seconds), and it is {now}: fetch the issuer's current bundle"
    )]
    Expired {
        /// The bundle.
        bundle: String,
        /// When it ended.
        not_after: u64,
        /// Now.
        now: u64,
    },
    /// Not newer than one already accepted from its issuer.
    #[error(
        "list bundle `{bundle}` is generation {generation} of `{issuer}`, and generation {highest} was accepted already: an older or replayed bundle is refused; fetch the current one"
    )]
    Rollback {
        /// The bundle.
        bundle: String,
        /// Its issuer.
        issuer: String,
        /// Its generation.
        generation: u64,
        /// The highest accepted.
        highest: u64,
    },
    /// The kept bundle's directory or file cannot be read or written.
    #[error(
        "the kept list bundle `{file}` cannot be used: {message}: check the directory's permissions and free space"
    )]
    Store {
        /// The directory or file.
        file: String,
        /// What went wrong.
        message: String,
    },
    /// The record of accepted generations cannot be read or written.
    #[error(
        "the record of accepted list generations `{file}` cannot be used: {message}: each line is `<issuer> <generation>`; check the file, its directory's permissions and free space"
    )]
    Record {
        /// The record file.
        file: String,
        /// What went wrong.
        message: String,
    },
}
