//! A node's local copy of what it pulled, by digest: manifests and blobs, each checked against its
//! digest when read. A node restarting, or a second node sharing the directory, finds here what it
//! already pulled and asks the registry for nothing.

use std::path::{Path, PathBuf};

use crate::oci::OciError;
use crate::oci::artifact::sha256_digest;

/// A content-addressed directory.
#[derive(Clone, Debug)]
pub struct ContentStore {
    dir: PathBuf,
}

impl ContentStore {
    /// Opens (making if needed) the store at `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<ContentStore, OciError> {
        let dir = dir.as_ref().to_owned();
        std::fs::create_dir_all(&dir).map_err(|source| OciError::Io { path: dir.clone(), error: source })?;
        Ok(ContentStore { dir })
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn file(&self, digest: &str) -> PathBuf {
        self.dir.join(digest.replace(':', "-"))
    }

    /// The content of `digest`, if held and intact (a file that no longer hashes to its name is
    /// removed and counts as absent).
    pub fn get(&self, digest: &str) -> Option<Vec<u8>> {
        let path = self.file(digest);
        let bytes = std::fs::read(&path).ok()?;
        if sha256_digest(&bytes) == digest {
            return Some(bytes);
        }
        let _ = std::fs::remove_file(&path);
        None
    }

    /// Keeps `bytes` (whose digest the caller checked) under `digest`: written to a temporary file and
    /// renamed, so no reader sees half of it.
    pub fn put(&self, digest: &str, bytes: &[u8]) -> Result<(), OciError> {
        let path = self.file(digest);
        let temporary = self.dir.join(format!(".{}.{}.tmp", digest.replace(':', "-"), std::process::id()));
        let io = |source| OciError::Io { path: path.clone(), error: source };
        std::fs::write(&temporary, bytes).map_err(io)?;
        std::fs::rename(&temporary, &path).map_err(io)
    }
}
