//! Signed policies: operators sign a component with an ed25519 key (`pathsec keygen`, `pathsec sign`);
//! an engine given [`TrustedKeys`] loads only components signed by one of them.
//!
//! Files are one line of text each, so they can be mailed, diffed and pasted into configuration:
//! - public key: `pathsec-ed25519-public <base64 of 32 bytes>`
//! - secret key: `pathsec-ed25519-secret <base64 of the 32-byte seed>`
//! - signature (`<policy>.wasm.sig`): `pathsec-signature-v1 <key id> <base64 of 64 bytes>`
//!
//! What is signed is `pathsec policy signature v1\n` followed by the SHA-256 of the component, so a
//! signature names exactly one component and is never valid for any other kind of message. A
//! precompiled artifact (`pathsec compile --out`) is signed the same way under its own context,
//! `pathsec artifact signature v1\n`: its signature vouches for the machine code, which a component's
//! signature cannot.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::wasm::engine::LoadError;

const PUBLIC: &str = "pathsec-ed25519-public";
const SECRET: &str = "pathsec-ed25519-secret";
const SIGNATURE: &str = "pathsec-signature-v1";
const CONTEXT: &[u8] = b"pathsec policy signature v1\n";
const ARTIFACT_CONTEXT: &[u8] = b"pathsec artifact signature v1\n";

/// The file a policy's signature is kept in: the policy's file name with `.sig` appended.
pub const SIGNATURE_SUFFIX: &str = ".sig";

/// A public key that policies may be signed with.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

/// A secret key to sign policies with. Its `Debug` does not show the key.
pub struct SecretKey(SigningKey);

/// A signature over one component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicySignature {
    key_id: String,
    signature: ed25519_dalek::Signature,
}

/// The public keys an engine accepts policy signatures from. Empty (the default): policies need no
/// signature.
#[derive(Clone, Debug, Default)]
pub struct TrustedKeys {
    keys: Vec<PublicKey>,
}

impl SecretKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<SecretKey, std::io::Error> {
        let mut seed = [0; 32];
        getrandom::fill(&mut seed).map_err(std::io::Error::other)?;
        Ok(SecretKey(SigningKey::from_bytes(&seed)))
    }

    /// Reads a secret key file's text; `source` names it in errors.
    pub fn parse(source: &str, text: &str) -> Result<SecretKey, SignatureError> {
        let seed: [u8; 32] = field(source, text, SECRET, "a secret key")?;
        Ok(SecretKey(SigningKey::from_bytes(&seed)))
    }

    /// The key's text, to write to its file (readable by its owner only).
    pub fn to_text(&self) -> String {
        format!("{SECRET} {}\n", BASE64.encode(self.0.to_bytes()))
    }

    /// The public half, to give to hosts.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs a policy: a component, or a precompiled artifact (told apart by their first bytes, and
    /// signed under different contexts).
    pub fn sign(&self, policy: &[u8]) -> PolicySignature {
        PolicySignature { key_id: self.public_key().id(), signature: self.0.sign(&message(policy)) }
    }

    /// Signs `digest` under a signing context of its own (e.g. list bundles'), so the signature is
    /// valid for nothing else — never for a policy.
    pub(crate) fn sign_in(&self, context: &[u8], digest: &[u8; 32]) -> PolicySignature {
        PolicySignature { key_id: self.public_key().id(), signature: self.0.sign(&in_context(context, digest)) }
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.public_key().id())
    }
}

impl PublicKey {
    /// Reads a public key file's text; `source` names it in errors.
    pub fn parse(source: &str, text: &str) -> Result<PublicKey, SignatureError> {
        let bytes: [u8; 32] = field(source, text, PUBLIC, "a public key")?;
        VerifyingKey::from_bytes(&bytes).map(PublicKey).map_err(|_| SignatureError::Malformed {
            file: source.to_owned(),
            reason: "the 32 bytes are not an ed25519 public key".to_owned(),
        })
    }

    /// The key's text, to write to its file.
    pub fn to_text(&self) -> String {
        format!("{PUBLIC} {}\n", BASE64.encode(self.0.to_bytes()))
    }

    /// Whether `signature` is this key's over `digest` under `context` (see [`SecretKey::sign_in`]).
    pub(crate) fn verifies_in(&self, context: &[u8], digest: &[u8; 32], signature: &PolicySignature) -> bool {
        signature.key_id == self.id() && self.0.verify(&in_context(context, digest), &signature.signature).is_ok()
    }

    /// A short name for the key: the first 8 bytes of its SHA-256, in hex.
    pub fn id(&self) -> String {
        Sha256::digest(self.0.to_bytes())[..8].iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.id())
    }
}

impl PolicySignature {
    /// Reads a signature file's text; `source` names it in errors.
    pub fn parse(source: &str, text: &str) -> Result<PolicySignature, SignatureError> {
        let malformed = |reason: String| SignatureError::Malformed { file: source.to_owned(), reason };
        let mut words = one_line(source, text)?.split(' ');
        match (words.next(), words.next(), words.next(), words.next()) {
            (Some(SIGNATURE), Some(key_id), Some(signature), None) => {
                if key_id.len() != 16 || !key_id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(malformed(format!("`{key_id}` is not a key id (16 hex digits)")));
                }
                let bytes: [u8; 64] =
                    decode(signature).ok_or_else(|| malformed("the signature is not 64 bytes of base64".to_owned()))?;
                let signature = ed25519_dalek::Signature::from_bytes(&bytes);
                Ok(PolicySignature { key_id: key_id.to_ascii_lowercase(), signature })
            }
            _ => Err(malformed(format!("expected one line `{SIGNATURE} <key id> <base64 signature>`"))),
        }
    }

    /// The signature's text, to write to `<policy>.wasm.sig`.
    pub fn to_text(&self) -> String {
        format!("{SIGNATURE} {} {}\n", self.key_id, BASE64.encode(self.signature.to_bytes()))
    }

    /// The id of the key that made it.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

impl TrustedKeys {
    /// Trusts these keys.
    pub fn new(keys: impl IntoIterator<Item = PublicKey>) -> TrustedKeys {
        TrustedKeys { keys: keys.into_iter().collect() }
    }

    /// No key trusted: signatures are not required.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The trusted keys.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// Checks that policy `name` (`component`, or a precompiled artifact) carries a valid signature by
    /// a trusted key, when keys are trusted at all. `signature` is the signature file's text, if there is one. Answers the
    /// signing key, or `None` when no signature is required.
    pub fn check(
        &self,
        name: &str,
        component: &[u8],
        signature: Option<&str>,
    ) -> Result<Option<PublicKey>, SignatureError> {
        if self.keys.is_empty() {
            return Ok(None);
        }
        let Some(text) = signature else {
            return Err(SignatureError::Unsigned { policy: name.to_owned() });
        };
        let signature = PolicySignature::parse(&format!("{name}{SIGNATURE_SUFFIX}"), text)?;
        let Some(key) = self.keys.iter().find(|key| key.id() == signature.key_id) else {
            return Err(SignatureError::UntrustedKey {
                policy: name.to_owned(),
                key_id: signature.key_id,
                trusted: self.keys.iter().map(PublicKey::id).collect(),
            });
        };
        key.0
            .verify(&message(component), &signature.signature)
            .map(|()| Some(key.clone()))
            .map_err(|_| SignatureError::Invalid { policy: name.to_owned(), key_id: signature.key_id })
    }
}

/// Where a policy file's signature is kept: `<policy>.sig`.
pub fn signature_path(policy: &Path) -> PathBuf {
    let mut file = policy.as_os_str().to_owned();
    file.push(SIGNATURE_SUFFIX);
    PathBuf::from(file)
}

/// The text of the signature file beside a policy file ([`signature_path`]), or `None` when there is
/// none.
pub fn read_signature_beside(policy: &Path) -> Result<Option<String>, LoadError> {
    let path = signature_path(policy);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(LoadError::Read { path, source }),
    }
}

/// What a signature signs: the context (a component's, or an artifact's) and the bytes' SHA-256.
fn message(policy: &[u8]) -> Vec<u8> {
    let context = if policy.starts_with(crate::wasm::artifact::MAGIC) { ARTIFACT_CONTEXT } else { CONTEXT };
    in_context(context, &Sha256::digest(policy).into())
}

/// A digest under a signing context.
fn in_context(context: &[u8], digest: &[u8; 32]) -> Vec<u8> {
    let mut message = context.to_vec();
    message.extend_from_slice(digest);
    message
}

/// The base64 field of a one-line key file starting with `tag`.
fn field<const N: usize>(source: &str, text: &str, tag: &str, what: &str) -> Result<[u8; N], SignatureError> {
    let malformed = |reason: String| SignatureError::Malformed { file: source.to_owned(), reason };
    match one_line(source, text)?.split_once(' ') {
        Some((found, value)) if found == tag => {
            decode(value).ok_or_else(|| malformed(format!("the key is not {N} bytes of base64")))
        }
        _ => Err(malformed(format!("expected one line `{tag} <base64>`: is it {what}?"))),
    }
}

fn one_line<'a>(source: &str, text: &'a str) -> Result<&'a str, SignatureError> {
    let text = text.trim();
    if text.lines().count() == 1 {
        Ok(text)
    } else {
        Err(SignatureError::Malformed { file: source.to_owned(), reason: "expected exactly one line".to_owned() })
    }
}

fn decode<const N: usize>(base64: &str) -> Option<[u8; N]> {
    BASE64.decode(base64).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> (SecretKey, TrustedKeys) {
        let secret = SecretKey::generate().expect("random");
        let trusted = TrustedKeys::new([secret.public_key()]);
        (secret, trusted)
    }

    #[test]
    fn a_signed_component_passes_and_names_its_key() {
        let (secret, trusted) = keys();
        let signature = secret.sign(b"component").to_text();
        let key = trusted.check("p.wasm", b"component", Some(&signature)).expect("valid");
        assert_eq!(key, Some(secret.public_key()));
    }

    #[test]
    fn files_round_trip() {
        let secret = SecretKey::generate().expect("random");
        let again = SecretKey::parse("k", &secret.to_text()).expect("parses");
        assert_eq!(again.public_key(), secret.public_key());
        let public = PublicKey::parse("k.pub", &secret.public_key().to_text()).expect("parses");
        assert_eq!(public, secret.public_key());
        let signature = secret.sign(b"x");
        assert_eq!(PolicySignature::parse("s", &signature.to_text()).expect("parses"), signature);
    }

    #[test]
    fn no_trusted_keys_needs_no_signature() {
        assert_eq!(TrustedKeys::default().check("p.wasm", b"c", None).expect("no keys"), None);
    }

    #[test]
    fn each_refusal() {
        let (secret, trusted) = keys();
        let signature = secret.sign(b"component").to_text();
        let refused = |component: &[u8], signature: Option<&str>| {
            trusted.check("p.wasm", component, signature).expect_err("refused").to_string()
        };
        assert!(refused(b"component", None).contains("is not signed"), "{}", refused(b"component", None));
        let tampered = refused(b"c0mponent", Some(&signature));
        assert!(tampered.contains("does not match"), "{tampered}");
        let other = SecretKey::generate().expect("random").sign(b"component").to_text();
        let untrusted = refused(b"component", Some(&other));
        assert!(untrusted.contains("which this host does not trust"), "{untrusted}");
        let garbled = refused(b"component", Some("pathsec-signature-v1 nothex!"));
        assert!(garbled.contains("`p.wasm.sig`"), "{garbled}");
        // A signature by the right key over another component is no signature of this one.
        let moved = secret.sign(b"another component").to_text();
        assert!(refused(b"component", Some(&moved)).contains("does not match"));
    }

    #[test]
    fn an_artifact_signature_is_no_component_signature() {
        let (secret, trusted) = keys();
        let mut artifact = crate::wasm::artifact::MAGIC.to_vec();
        artifact.extend_from_slice(b"machine code");
        let signature = secret.sign(&artifact);
        let text = signature.to_text();
        trusted.check("p.cwasm", &artifact, Some(&text)).expect("an artifact's signature checks");
        // The same bytes signed as a component (no magic, so the component context) do not verify.
        let as_component = secret.0.sign(&in_context(CONTEXT, &Sha256::digest(&artifact).into()));
        let forged = PolicySignature { key_id: signature.key_id, signature: as_component }.to_text();
        assert!(trusted.check("p.cwasm", &artifact, Some(&forged)).is_err());
    }

    #[test]
    fn a_key_file_of_the_wrong_kind_says_so() {
        let secret = SecretKey::generate().expect("random");
        let error = PublicKey::parse("ops.key", &secret.to_text()).expect_err("a secret key is no public key");
        assert!(error.to_string().contains("is it a public key?"), "{error}");
    }
}

/// Why a policy's signature was refused (see [`TrustedKeys`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// Keys are trusted, and the policy comes without a signature.
    #[error(
        "policy `{policy}` is not signed, and this host loads only policies signed by a trusted key: run `pathsec sign --key <secret key file> {policy}` and put the `{policy}.sig` it writes beside the policy"
    )]
    Unsigned {
        /// The policy.
        policy: String,
    },
    /// A key or signature file cannot be read as one.
    #[error("`{file}` is malformed: {reason}")]
    Malformed {
        /// The file (or the policy's signature file).
        file: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The signing key is not one of the trusted keys.
    #[error(
        "policy `{policy}` is signed by key {key_id}, which this host does not trust (it trusts {}): sign it with a trusted key, or add that key's public file to the host's trusted keys",
        trusted.join(", ")
    )]
    UntrustedKey {
        /// The policy.
        policy: String,
        /// The id of the key that signed it.
        key_id: String,
        /// The ids of the trusted keys.
        trusted: Vec<String>,
    },
    /// The signature is not valid for these bytes: the component was changed after signing, or the
    /// signature is another component's.
    #[error(
        "policy `{policy}`: its signature by key {key_id} does not match its content (changed after signing, or the signature of another policy): sign this file again"
    )]
    Invalid {
        /// The policy.
        policy: String,
        /// The id of the key the signature claims.
        key_id: String,
    },
}
