//! What pathsec puts in a registry: policies as WebAssembly OCI artifacts (the layout wasm-pkg-tools
//! and `wkg` use: one `application/wasm` layer, the wasm config media type), list bundles as artifacts
//! of their own type, and a policy's signature in the manifest's annotations, so the artifact keeps
//! its one layer.
//!
//! Manifests are written here, not by a helper: their bytes are what the digest a node pulls by
//! names, so they are made deterministic (sorted keys, no whitespace) from what they describe.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::oci::OciError;

/// The OCI image manifest media type.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The wasm config media type (wasm-pkg-tools, `oci-wasm`).
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The wasm layer media type.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";
/// A list bundle's config media type.
pub const LISTS_CONFIG_MEDIA_TYPE: &str = "application/vnd.pathsec.lists.config.v1+json";
/// A list bundle's layer media type (the signed bundle, as `pathsec lists sign` writes it).
pub const LISTS_LAYER_MEDIA_TYPE: &str = "application/vnd.pathsec.lists.v1+json";
/// The list bundle artifact type.
pub const LISTS_ARTIFACT_TYPE: &str = "application/vnd.pathsec.lists.v1";
/// The manifest annotation carrying a policy's signature: the text of its `.sig` file, an ed25519
/// signature over the component's SHA-256 (the layer's digest) under pathsec's policy signing
/// context.
pub const SIGNATURE_ANNOTATION: &str = "dev.pathsec.policy.signature.v1";

/// What an artifact holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArtifactKind {
    /// A policy component.
    Policy,
    /// A signed list bundle.
    ListBundle,
}

impl ArtifactKind {
    /// The layer media type.
    pub fn layer_media_type(self) -> &'static str {
        match self {
            ArtifactKind::Policy => WASM_LAYER_MEDIA_TYPE,
            ArtifactKind::ListBundle => LISTS_LAYER_MEDIA_TYPE,
        }
    }

    /// The config media type.
    pub fn config_media_type(self) -> &'static str {
        match self {
            ArtifactKind::Policy => WASM_CONFIG_MEDIA_TYPE,
            ArtifactKind::ListBundle => LISTS_CONFIG_MEDIA_TYPE,
        }
    }

    /// What it is, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            ArtifactKind::Policy => "a policy",
            ArtifactKind::ListBundle => "a list bundle",
        }
    }
}

/// A content descriptor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Its media type.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Its length in bytes.
    pub size: u64,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Descriptor {
    /// The descriptor of `bytes`.
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_owned(),
            digest: sha256_digest(bytes),
            size: bytes.len() as u64,
            annotations: None,
        }
    }
}

/// An OCI image manifest, as pathsec reads and writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// 2.
    pub schema_version: u8,
    /// [`MANIFEST_MEDIA_TYPE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Set for list bundles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers: exactly one for pathsec's artifacts.
    pub layers: Vec<Descriptor>,
    /// Annotations (a policy's signature among them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Manifest {
    /// The manifest of an artifact of `kind` with `config` and the one `layer`.
    pub fn new(kind: ArtifactKind, config: &[u8], layer: &[u8]) -> Manifest {
        Manifest {
            schema_version: 2,
            media_type: Some(MANIFEST_MEDIA_TYPE.to_owned()),
            artifact_type: (kind == ArtifactKind::ListBundle).then(|| LISTS_ARTIFACT_TYPE.to_owned()),
            config: Descriptor::of(kind.config_media_type(), config),
            layers: vec![Descriptor::of(kind.layer_media_type(), layer)],
            annotations: None,
        }
    }

    /// Reads a manifest pulled as `reference`; checks it is one of pathsec's artifacts (one layer of
    /// a known kind) and says which.
    pub fn parse(reference: &str, bytes: &[u8]) -> Result<(Manifest, ArtifactKind), OciError> {
        let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| OciError::NotAnArtifact {
            reference: reference.to_owned(),
            reason: format!("its manifest is not an OCI image manifest: {e}"),
        })?;
        let not = |reason: String| OciError::NotAnArtifact { reference: reference.to_owned(), reason };
        if manifest.schema_version != 2 {
            return Err(not(format!("manifest schema version {}, not 2", manifest.schema_version)));
        }
        let [layer] = manifest.layers.as_slice() else {
            return Err(not(format!("{} layers, where pathsec artifacts have exactly one", manifest.layers.len())));
        };
        let kind = match (manifest.config.media_type.as_str(), layer.media_type.as_str()) {
            (WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE) => ArtifactKind::Policy,
            (LISTS_CONFIG_MEDIA_TYPE, LISTS_LAYER_MEDIA_TYPE) => ArtifactKind::ListBundle,
            (config, layer) => {
                return Err(not(format!(
                    "config `{config}` with layer `{layer}`: expected `{WASM_CONFIG_MEDIA_TYPE}` with `{WASM_LAYER_MEDIA_TYPE}` (a policy) or `{LISTS_CONFIG_MEDIA_TYPE}` with `{LISTS_LAYER_MEDIA_TYPE}` (a list bundle)"
                )));
            }
        };
        Ok((manifest, kind))
    }

    /// The one layer.
    pub fn layer(&self) -> &Descriptor {
        &self.layers[0]
    }

    /// The policy signature it carries, if any.
    pub fn signature(&self) -> Option<&str> {
        self.annotations.as_ref()?.get(SIGNATURE_ANNOTATION).map(String::as_str)
    }

    /// Carries `signature` (a `.sig` file's text).
    pub fn set_signature(&mut self, signature: &str) {
        self.annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(SIGNATURE_ANNOTATION.to_owned(), signature.to_owned());
    }

    /// The manifest's bytes: what its digest names.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Plain fields into a Vec: cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The wasm config of a component (the fields `oci-wasm` writes and `wkg` reads).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WasmConfig<'a> {
    created: &'a str,
    author: Option<&'a str>,
    architecture: &'static str,
    os: &'static str,
    layer_digests: Vec<String>,
    component: WasmComponent<'a>,
}

#[derive(Serialize)]
struct WasmComponent<'a> {
    exports: &'a [String],
    imports: &'a [String],
    target: Option<&'a str>,
}

/// The config blob of a policy artifact: `created` (RFC 3339) and the component's interfaces.
pub fn wasm_config(component: &[u8], created: &str, exports: &[String], imports: &[String]) -> Vec<u8> {
    let config = WasmConfig {
        created,
        author: None,
        architecture: "wasm",
        os: "wasip2",
        layer_digests: vec![sha256_digest(component)],
        component: WasmComponent { exports, imports, target: Some("pathsec:policy/path-secure") },
    };
    serde_json::to_vec(&config).unwrap_or_default()
}

/// The config blob of a list bundle artifact.
pub fn lists_config(issuer: &str, generation: u64, not_after: u64) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "issuer": issuer, "generation": generation, "notAfter": not_after }))
        .unwrap_or_default()
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// Checks a digest's form: `sha256:` and 64 lowercase hex digits.
pub fn check_digest(digest: &str) -> bool {
    digest
        .strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}
