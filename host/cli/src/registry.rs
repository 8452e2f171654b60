//! `pathsec push FILE REF` and `pathsec pull REF@sha256:…`: policies and list bundles in an OCI
//! registry, and what they share: the registry options.

use std::path::PathBuf;

use pathsec::signing::SecretKey;
use pathsec_fleet::oci::{ArtifactKind, ContentStore, Credentials, Registry, RegistrySettings};

use crate::command::{Outcome, Result};

/// How to reach the registry. Credentials come from the environment, never the command line (where
/// other users of the machine could read them): `PATHSEC_REGISTRY_USER` and
/// `PATHSEC_REGISTRY_PASSWORD` for basic auth, or `PATHSEC_REGISTRY_TOKEN`.
#[derive(clap::Args)]
pub struct RegistryOptions {
    /// A registry (`host:port`) to reach over plain HTTP; loopback registries always are.
    #[arg(long, value_name = "HOST:PORT")]
    insecure: Vec<String>,
}

impl RegistryOptions {
    pub fn registry(&self) -> std::result::Result<Registry, Box<dyn std::error::Error>> {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let credentials =
            match (var("PATHSEC_REGISTRY_USER"), var("PATHSEC_REGISTRY_PASSWORD"), var("PATHSEC_REGISTRY_TOKEN")) {
                (Some(user), Some(password), None) => Credentials::Basic { user, password },
                (None, None, Some(token)) => Credentials::Bearer(token),
                (None, None, None) => Credentials::Anonymous,
                _ => {
                    return Err(
                        "set PATHSEC_REGISTRY_USER with PATHSEC_REGISTRY_PASSWORD, or PATHSEC_REGISTRY_TOKEN alone"
                            .into(),
                    );
                }
            };
        Ok(Registry::new(&RegistrySettings { credentials, insecure: self.insecure.clone() }))
    }
}

/// Runs `future` on a runtime of its own: the fleet commands are the only async ones.
pub fn block_on<T>(future: impl Future<Output = T>) -> std::result::Result<T, Box<dyn std::error::Error>> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?.block_on(future))
}

/// Options of `pathsec push`.
#[derive(clap::Args)]
pub struct Push {
    /// A policy component (`.wasm`) or a signed list bundle (`pathsec lists sign` writes one).
    file: PathBuf,
    /// Where to push: `registry/repository:tag`.
    reference: String,
    /// Sign the policy with this secret key (the signature goes in the manifest's annotations).
    #[arg(long, value_name = "KEY")]
    key: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryOptions,
}

impl Push {
    pub fn run(self) -> Result {
        let bytes = std::fs::read(&self.file).map_err(|e| format!("cannot read `{}`: {e}", self.file.display()))?;
        let registry = self.registry.registry()?;
        let is_wasm = bytes.starts_with(b"\0asm");
        let pushed = if is_wasm {
            let key = self.key.as_deref().map(read_key).transpose()?;
            block_on(registry.push_policy(&self.reference, &bytes, key.as_ref()))??
        } else {
            if self.key.is_some() {
                return Err(format!("`{}` is a list bundle, which carries its own signature: sign it with `pathsec lists sign`, then push it without --key", self.file.display()).into());
            }
            block_on(registry.push_bundle(&self.reference, &bytes))??
        };
        println!("pushed {} as {}", self.file.display(), pushed.reference);
        println!("  layer {}", pushed.layer_digest);
        println!("nodes pull it by digest: pathsec pull {}", pushed.reference);
        Ok(Outcome::Success)
    }
}

/// Options of `pathsec pull`.
#[derive(clap::Args)]
pub struct Pull {
    /// What to pull: `registry/repository@sha256:…` (by digest only).
    reference: String,
    /// Write the policy or bundle here (a policy's signature beside it, as `FILE.sig`).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The content store kept between pulls (default: a `pathsec-content` directory in the user's cache).
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryOptions,
}

impl Pull {
    pub fn run(self) -> Result {
        let dir = match &self.store {
            Some(dir) => dir.clone(),
            None => crate::command::default_cache()
                .map(|cache| cache.with_file_name("pathsec-content"))
                .ok_or("no cache directory: give --store DIR")?,
        };
        let store = ContentStore::open(&dir)?;
        let registry = self.registry.registry()?;
        let pulled = block_on(registry.pull(&self.reference, &store))??;
        let what = match pulled.kind {
            ArtifactKind::Policy => "a policy",
            ArtifactKind::ListBundle => "a list bundle",
        };
        let source = if pulled.from_store { "from the content store" } else { "from the registry" };
        println!("pulled {what}, {} bytes, {source}", pulled.bytes.len());
        if let Some(signature) = &pulled.signature {
            let key = pathsec::signing::PolicySignature::parse(&self.reference, signature)?;
            println!("  signed by key {}", key.key_id());
        }
        if let Some(output) = &self.output {
            std::fs::write(output, &pulled.bytes).map_err(|e| format!("cannot write `{}`: {e}", output.display()))?;
            println!("  written to {}", output.display());
            if let Some(signature) = &pulled.signature {
                let file = pathsec::signing::signature_path(output);
                std::fs::write(&file, signature).map_err(|e| format!("cannot write `{}`: {e}", file.display()))?;
                println!("  signature written to {}", file.display());
            }
        }
        Ok(Outcome::Success)
    }
}

/// Signs the policy at `reference` in place: `pathsec sign --oci REF --key KEY`.
pub fn sign_remote(reference: &str, key: &SecretKey, options: &RegistryOptions) -> Result {
    let registry = options.registry()?;
    let signed = block_on(registry.sign(reference, key))??;
    println!("signed {reference} with key {}: now {}", key.public_key().id(), signed.reference);
    Ok(Outcome::Success)
}

/// Reads a secret key file.
pub fn read_key(path: &std::path::Path) -> std::result::Result<SecretKey, Box<dyn std::error::Error>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read the secret key `{}`: {e}", path.display()))?;
    Ok(SecretKey::parse(&path.display().to_string(), &text)?)
}
