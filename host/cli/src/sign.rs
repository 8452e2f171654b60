//! `pathsec sign --key NAME.key POLICY.wasm`: signs a policy into `POLICY.wasm.sig`, which hosts that
//! trust the key require beside it; `pathsec sign --key NAME.key --oci REF` signs a policy in a
//! registry in place (its manifest pushed again with the signature annotation).

use std::path::PathBuf;

use pathsec::signing::{SecretKey, TrustedKeys};

use crate::command::{Outcome, Result};

/// Options of `pathsec sign`.
#[derive(clap::Args)]
pub struct Sign {
    /// The secret key file (`pathsec keygen` makes one).
    #[arg(long)]
    key: PathBuf,
    /// The policy to sign: a component, or a precompiled artifact (`pathsec compile --out`).
    #[arg(required_unless_present = "oci")]
    policy: Option<PathBuf>,
    /// Sign the policy at this registry reference instead (`registry/repository:tag`).
    #[cfg(feature = "fleet")]
    #[arg(long, value_name = "REF", conflicts_with = "policy")]
    oci: Option<String>,
    #[cfg(feature = "fleet")]
    #[command(flatten)]
    registry: crate::registry::RegistryOptions,
}

impl Sign {
    pub fn run(self) -> Result {
        let text = std::fs::read_to_string(&self.key)
            .map_err(|e| format!("cannot read the secret key `{}`: {e}", self.key.display()))?;
        let secret = SecretKey::parse(&self.key.display().to_string(), &text)?;
        #[cfg(feature = "fleet")]
        if let Some(reference) = &self.oci {
            return crate::registry::sign_remote(reference, &secret, &self.registry);
        }
        let policy = self.policy.ok_or("give the policy file to sign")?;
        let component =
            std::fs::read(&policy).map_err(|source| pathsec::wasm::LoadError::Read { path: policy.clone(), source })?;
        let signature = secret.sign(&component).to_text();
        // What a host trusting this key will check, before anything is written.
        let name = policy.display().to_string();
        TrustedKeys::new([secret.public_key()]).check(&name, &component, Some(&signature))?;
        let file = pathsec::signing::signature_path(&policy);
        std::fs::write(&file, signature).map_err(|e| format!("cannot write `{}`: {e}", file.display()))?;
        println!("signed `{}` with key {} into `{}`", policy.display(), secret.public_key().id(), file.display());
        Ok(Outcome::Success)
    }
}
