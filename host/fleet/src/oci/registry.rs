//! Pushing and pulling pathsec's artifacts: [`Registry`], over `oci-client`.
//!
//! A push uploads the config and the one layer, then the manifest, and answers the reference by
//! digest a node pulls. A pull takes a reference by digest only, and checks every byte against it: the
//! manifest against the reference's digest, the layer against the manifest's. What was pulled is kept
//! in a [`ContentStore`], so it is pulled once per store.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use pathsec::signing::SecretKey;
use pathsec::sync::Locked;

use crate::oci::OciError;
use crate::oci::artifact::{self, ArtifactKind, MANIFEST_MEDIA_TYPE, Manifest, check_digest, sha256_digest};
use crate::oci::store::ContentStore;

/// Credentials for a registry.
#[derive(Clone, Debug, Default)]
pub enum Credentials {
    /// None.
    #[default]
    Anonymous,
    /// HTTP basic auth (a registry's htpasswd users), also what a token service is asked with.
    Basic {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// A bearer token.
    Bearer(String),
}

/// How to reach registries.
#[derive(Clone, Debug, Default)]
pub struct RegistrySettings {
    /// Credentials.
    pub credentials: Credentials,
    /// Registries (`host:port`) reached over plain HTTP. Loopback registries (`127.0.0.1`,
    /// `localhost`, `[::1]`) always are; every other one is reached over HTTPS unless listed here.
    pub insecure: Vec<String>,
}

/// What a push made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pushed {
    /// `registry/repository@sha256:…`: what nodes pull.
    pub reference: String,
    /// The manifest's digest.
    pub manifest_digest: String,
    /// The layer's digest (the component's or the bundle's SHA-256).
    pub layer_digest: String,
}

/// What a pull brought.
#[derive(Clone, Debug)]
pub struct Pulled {
    /// The reference pulled.
    pub reference: String,
    /// What the artifact holds.
    pub kind: ArtifactKind,
    /// The layer: the component, or the signed bundle.
    pub bytes: Vec<u8>,
    /// A policy's signature, from the manifest's annotation.
    pub signature: Option<String>,
    /// The manifest digest.
    pub manifest_digest: String,
    /// Whether it came from the local store (no request to the registry).
    pub from_store: bool,
}

/// A registry client.
pub struct Registry {
    settings: RegistrySettings,
    auth: RegistryAuth,
    /// One client per registry (`host:port`), made when first used.
    clients: Mutex<HashMap<String, Client>>,
}

impl Registry {
    /// A client with `settings`.
    pub fn new(settings: &RegistrySettings) -> Registry {
        crate::tls::install_provider();
        let auth = match &settings.credentials {
            Credentials::Anonymous => RegistryAuth::Anonymous,
            Credentials::Basic { user, password } => RegistryAuth::Basic(user.clone(), password.clone()),
            Credentials::Bearer(token) => RegistryAuth::Bearer(token.clone()),
        };
        Registry { settings: settings.clone(), auth, clients: Mutex::default() }
    }

    /// The client for `parsed`'s registry: plain HTTP for loopback and the listed insecure
    /// registries, HTTPS for every other.
    fn client(&self, parsed: &Reference) -> Client {
        let registry = parsed.resolve_registry().to_owned();
        let mut clients = self.clients.locked();
        clients
            .entry(registry.clone())
            .or_insert_with(|| {
                let host = registry.rsplit_once(':').map_or(registry.as_str(), |(host, _)| host);
                let plain =
                    matches!(host, "127.0.0.1" | "localhost" | "[::1]") || self.settings.insecure.contains(&registry);
                let protocol = if plain { ClientProtocol::Http } else { ClientProtocol::Https };
                Client::new(ClientConfig { protocol, ..ClientConfig::default() })
            })
            .clone()
    }

    /// Pushes policy `component` to `reference` (`registry/repository:tag`), signed with `key` if
    /// given: the signature goes in the manifest's annotations.
    pub async fn push_policy(
        &self,
        reference: &str,
        component: &[u8],
        key: Option<&SecretKey>,
    ) -> Result<Pushed, OciError> {
        let (exports, imports) = interfaces(reference, component)?;
        let config = artifact::wasm_config(component, &rfc3339(SystemTime::now()), &exports, &imports);
        let mut manifest = Manifest::new(ArtifactKind::Policy, &config, component);
        if let Some(key) = key {
            manifest.set_signature(&key.sign(component).to_text());
        }
        self.push(reference, &manifest, &config, component).await
    }

    /// Pushes signed list bundle `bundle` (a bundle file's bytes) to `reference`. The bundle carries
    /// its own signature; it is read (not checked) for the config's issuer and generation.
    pub async fn push_bundle(&self, reference: &str, bundle: &[u8]) -> Result<Pushed, OciError> {
        let (read, _) = pathsec::delivery::ListBundle::inspect(reference, bundle)
            .map_err(|source| OciError::Bundle { reference: reference.to_owned(), error: source })?;
        let config = artifact::lists_config(&read.issuer, read.generation, read.not_after);
        let manifest = Manifest::new(ArtifactKind::ListBundle, &config, bundle);
        self.push(reference, &manifest, &config, bundle).await
    }

    /// Signs the policy at `reference` (pushed unsigned, by `wkg oci push` say) with `key`: pulls it,
    /// checks its layer, and pushes the manifest again with the signature annotation, to the same tag.
    /// The layer and config stay; the manifest, so its digest, is new.
    pub async fn sign(&self, reference: &str, key: &SecretKey) -> Result<Pushed, OciError> {
        let parsed = parse(reference)?;
        let manifest_bytes = self.manifest(&parsed, reference, RegistryOperation::Push).await?;
        let (mut manifest, kind) = Manifest::parse(reference, &manifest_bytes)?;
        if kind != ArtifactKind::Policy {
            return Err(OciError::WrongKind {
                reference: reference.to_owned(),
                found: kind.describe(),
                expected: "a policy",
            });
        }
        let layer = manifest.layer().clone();
        let component = self.blob(&parsed, reference, &layer.digest, "the layer").await?;
        manifest.set_signature(&key.sign(&component).to_text());
        let bytes = manifest.to_bytes();
        self.push_manifest(&parsed, reference, &bytes).await
    }

    /// The digest `reference` (a tag) names now: what to pull by.
    pub async fn resolve(&self, reference: &str) -> Result<String, OciError> {
        let parsed = parse(reference)?;
        let bytes = self.manifest(&parsed, reference, RegistryOperation::Pull).await?;
        Ok(format!("{}/{}@{}", parsed.registry(), parsed.repository(), sha256_digest(&bytes)))
    }

    /// Pulls `reference`, which must name a digest, checking the manifest and layer against their
    /// digests; keeps both in `store`, and takes them from there when it holds them.
    pub async fn pull(&self, reference: &str, store: &ContentStore) -> Result<Pulled, OciError> {
        let parsed = parse(reference)?;
        let Some(digest) = parsed.digest().map(str::to_owned) else {
            return Err(OciError::NoDigest { reference: reference.to_owned() });
        };
        if !check_digest(&digest) {
            return Err(OciError::Reference {
                reference: reference.to_owned(),
                reason: format!("`{digest}` is not `sha256:` and 64 lowercase hex digits"),
            });
        }
        let (manifest_bytes, manifest_stored) = match store.get(&digest) {
            Some(bytes) => (bytes, true),
            None => {
                let bytes = self.manifest(&parsed, reference, RegistryOperation::Pull).await?;
                let actual = sha256_digest(&bytes);
                if actual != digest {
                    return Err(OciError::DigestMismatch {
                        reference: reference.to_owned(),
                        what: "the manifest",
                        expected: digest,
                        actual,
                    });
                }
                (bytes, false)
            }
        };
        let (manifest, kind) = Manifest::parse(reference, &manifest_bytes)?;
        let layer = manifest.layer();
        let (bytes, layer_stored) = match store.get(&layer.digest) {
            Some(bytes) => (bytes, true),
            None => {
                self.authorize(&parsed, reference, RegistryOperation::Pull).await?;
                (self.blob(&parsed, reference, &layer.digest, "the layer").await?, false)
            }
        };
        if bytes.len() as u64 != layer.size {
            return Err(OciError::NotAnArtifact {
                reference: reference.to_owned(),
                reason: format!("its layer is {} bytes, its manifest says {}", bytes.len(), layer.size),
            });
        }
        // Kept once checked: the layer first, so a kept manifest always finds its layer.
        store.put(&layer.digest, &bytes)?;
        store.put(&digest, &manifest_bytes)?;
        Ok(Pulled {
            reference: reference.to_owned(),
            kind,
            signature: manifest.signature().map(str::to_owned),
            bytes,
            manifest_digest: digest,
            from_store: manifest_stored && layer_stored,
        })
    }

    /// The manifest `parsed` names, as the registry sends it, authorized for `operation` (a signer
    /// pulls it to push it again).
    async fn manifest(
        &self,
        parsed: &Reference,
        reference: &str,
        operation: RegistryOperation,
    ) -> Result<Vec<u8>, OciError> {
        self.authorize(parsed, reference, operation).await?;
        let (bytes, _) = self
            .client(parsed)
            .pull_manifest_raw(parsed, &self.auth, &[MANIFEST_MEDIA_TYPE])
            .await
            .map_err(registry(reference, "pulling the manifest"))?;
        Ok(bytes.to_vec())
    }

    /// The blob `digest` of `parsed`'s repository, checked against its digest.
    async fn blob(
        &self,
        parsed: &Reference,
        reference: &str,
        digest: &str,
        what: &'static str,
    ) -> Result<Vec<u8>, OciError> {
        let mut bytes = Vec::new();
        self.client(parsed)
            .pull_blob(parsed, digest, &mut bytes)
            .await
            .map_err(registry(reference, "pulling a blob"))?;
        let actual = sha256_digest(&bytes);
        if actual != digest {
            return Err(OciError::DigestMismatch {
                reference: reference.to_owned(),
                what,
                expected: digest.to_owned(),
                actual,
            });
        }
        Ok(bytes)
    }

    async fn push(
        &self,
        reference: &str,
        manifest: &Manifest,
        config: &[u8],
        layer: &[u8],
    ) -> Result<Pushed, OciError> {
        let parsed = parse(reference)?;
        self.authorize(&parsed, reference, RegistryOperation::Push).await?;
        for (bytes, digest) in [(config, &manifest.config.digest), (layer, &manifest.layer().digest)] {
            if !self.client(&parsed).blob_exists(&parsed, digest).await.unwrap_or(false) {
                self.client(&parsed)
                    .push_blob(&parsed, bytes.to_vec(), digest)
                    .await
                    .map_err(registry(reference, "pushing a blob"))?;
            }
        }
        self.push_manifest(&parsed, reference, &manifest.to_bytes()).await
    }

    async fn push_manifest(&self, parsed: &Reference, reference: &str, bytes: &[u8]) -> Result<Pushed, OciError> {
        let content_type = reqwest::header::HeaderValue::from_static(MANIFEST_MEDIA_TYPE);
        self.client(parsed)
            .push_manifest_raw(parsed, bytes.to_vec(), content_type)
            .await
            .map_err(registry(reference, "pushing the manifest"))?;
        let manifest_digest = sha256_digest(bytes);
        let (manifest, _) = Manifest::parse(reference, bytes)?;
        Ok(Pushed {
            reference: format!("{}/{}@{manifest_digest}", parsed.registry(), parsed.repository()),
            layer_digest: manifest.layer().digest.clone(),
            manifest_digest,
        })
    }

    async fn authorize(
        &self,
        parsed: &Reference,
        reference: &str,
        operation: RegistryOperation,
    ) -> Result<(), OciError> {
        self.client(parsed)
            .auth(parsed, &self.auth, operation)
            .await
            .map(|_| ())
            .map_err(registry(reference, "authenticating"))
    }
}

fn parse(reference: &str) -> Result<Reference, OciError> {
    reference
        .parse::<Reference>()
        .map_err(|e| OciError::Reference { reference: reference.to_owned(), reason: e.to_string() })
}

fn registry<E: std::fmt::Display>(reference: &str, operation: &'static str) -> impl Fn(E) -> OciError {
    move |e| OciError::Registry { reference: reference.to_owned(), operation, reason: e.to_string() }
}

/// The component's imports and exports, by WIT name.
fn interfaces(reference: &str, component: &[u8]) -> Result<(Vec<String>, Vec<String>), OciError> {
    let not = |reason: String| OciError::NotAnArtifact { reference: reference.to_owned(), reason };
    let decoded =
        wit_component::decode(component).map_err(|e| not(format!("the file is not a WebAssembly component: {e:#}")))?;
    let wit_component::DecodedWasm::Component(resolve, world) = decoded else {
        return Err(not("the file is a WIT package, not a component".to_owned()));
    };
    let world = &resolve.worlds[world];
    let exports = world.exports.keys().map(|key| resolve.name_world_key(key)).collect();
    let imports = world.imports.keys().map(|key| resolve.name_world_key(key)).collect();
    Ok((exports, imports))
}

/// `time` as RFC 3339 UTC, to the second.
fn rfc3339(time: SystemTime) -> String {
    let seconds = time.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil(days as i64);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}
