//! `pathsec keygen NAME`: a new ed25519 key pair for signing policies — `NAME.key` (secret, readable by
//! its owner only) and `NAME.pub` (for hosts' trusted keys). Never overwrites a key.

use std::io::Write;
use std::path::{Path, PathBuf};

use pathsec::signing::SecretKey;

use crate::command::{Outcome, Result};

/// Options of `pathsec keygen`.
#[derive(clap::Args)]
pub struct Keygen {
    /// Where to write the key pair: `NAME.key` and `NAME.pub`.
    name: PathBuf,
}

impl Keygen {
    pub fn run(self) -> Result {
        let secret_file = with_suffix(&self.name, ".key");
        let public_file = with_suffix(&self.name, ".pub");
        for file in [&secret_file, &public_file] {
            if file.exists() {
                return Err(format!(
                    "`{}` exists: a key is never overwritten; choose another name or move it away first",
                    file.display()
                )
                .into());
            }
        }
        let secret = SecretKey::generate().map_err(|e| format!("no random source to make a key with: {e}"))?;
        write_new(&secret_file, &secret.to_text(), true)?;
        write_new(&public_file, &secret.public_key().to_text(), false)?;
        println!("key {}:", secret.public_key().id());
        println!("  secret  `{}` (sign with it: `pathsec sign --key {0} POLICY.wasm`)", secret_file.display());
        println!("  public  `{}` (give it to hosts as a trusted key)", public_file.display());
        Ok(Outcome::Success)
    }
}

/// `NAME` + `suffix`, whatever `NAME`'s extension.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Writes `text` to a file that must not exist yet; `secret` files are readable by their owner only.
fn write_new(path: &Path, text: &str, secret: bool) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path).map_err(|e| format!("cannot create `{}`: {e}", path.display()))?;
    file.write_all(text.as_bytes()).map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    Ok(())
}
