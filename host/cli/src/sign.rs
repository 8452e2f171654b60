//! `pathsec sign --key NAME.key POLICY.wasm`: signs a policy into `POLICY.wasm.sig`, which hosts that
//! trust the key require beside it.

use std::path::PathBuf;

use pathsec::signing::{SecretKey, TrustedKeys};

use crate::command::{Outcome, Result};

/// Options of `pathsec sign`.
#[derive(clap::Args)]
pub struct Sign {
    /// The secret key file (`pathsec keygen` makes one).
    #[arg(long)]
    key: PathBuf,
    /// The policy component to sign.
    policy: PathBuf,
}

impl Sign {
    pub fn run(self) -> Result {
        let text = std::fs::read_to_string(&self.key)
            .map_err(|e| format!("cannot read the secret key `{}`: {e}", self.key.display()))?;
        let secret = SecretKey::parse(&self.key.display().to_string(), &text)?;
        let component = std::fs::read(&self.policy)
            .map_err(|source| pathsec::wasm::LoadError::Read { path: self.policy.clone(), source })?;
        let signature = secret.sign(&component).to_text();
        // What a host trusting this key will check, before anything is written.
        let name = self.policy.display().to_string();
        TrustedKeys::new([secret.public_key()]).check(&name, &component, Some(&signature))?;
        let file = pathsec::signing::signature_path(&self.policy);
        std::fs::write(&file, signature).map_err(|e| format!("cannot write `{}`: {e}", file.display()))?;
        println!("signed `{}` with key {} into `{}`", self.policy.display(), secret.public_key().id(), file.display());
        Ok(Outcome::Success)
    }
}
