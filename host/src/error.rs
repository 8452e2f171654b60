//! The errors users read: identifiers that do not parse, policies that do not load, an engine that
//! cannot start. A decision never fails; see [`crate::PolicyFault`] for what a failing policy reports.

use std::path::PathBuf;

/// A string that is not a PLMN-ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlmnIdError {
    /// The packed form is not 5 or 6 digits.
    #[error("`{input}` is not a PLMN-ID: expected MCC (3 digits) + MNC (2 or 3 digits)")]
    Packed {
        /// What was given.
        input: String,
    },
    /// The MCC or the MNC of the two-part form is malformed.
    #[error("`{input}` is not an {part}: expected {}", if *part == "MCC" { "3 digits" } else { "2 or 3 digits, as a string" })]
    Part {
        /// `MCC` or `MNC`.
        part: &'static str,
        /// What was given.
        input: String,
    },
    /// An MNC digit count other than 2 or 3.
    #[error("an MNC has 2 or 3 digits, not {digits}")]
    MncDigits {
        /// What was given.
        digits: u8,
    },
}

/// A string that is not a valid fully qualified domain name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid FQDN: {problem}")]
pub struct FqdnError {
    /// What was given.
    pub input: String,
    /// What is wrong with it.
    pub problem: String,
}

/// A name that is none of an enum's names (an unknown action, role, access kind…).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not {what}: expected one of {expected}")]
pub struct NameError {
    what: &'static str,
    input: String,
    expected: String,
}

impl NameError {
    pub(crate) fn new<'a>(what: &'static str, input: &str, names: impl Iterator<Item = &'a str>) -> NameError {
        let expected = names.map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ");
        NameError { what, input: input.to_owned(), expected }
    }
}

/// Why a policy's signature was refused (see [`TrustedKeys`](crate::TrustedKeys)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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

/// A policy that cannot be loaded. The message names the policy and says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The policy's signature is missing or refused.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The component is larger than [`Limits::module_size`](crate::Limits).
    #[error(
        "cannot load policy `{name}`: it is {size} bytes, more than the limit of {limit}: is it the policy build's `.wasm`? (raise `Limits::module_size` if it is)"
    )]
    TooLarge {
        /// The policy's name.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: usize,
    },
    /// The policy file cannot be read.
    #[error("cannot read policy `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not WebAssembly at all.
    #[error(
        "cannot load policy `{name}`: not a WebAssembly component (no `\\0asm` header): give the `.wasm` file the policy build produced"
    )]
    NotWasm {
        /// The policy's name.
        name: String,
    },
    /// A core module where a component is needed.
    #[error(
        "cannot load policy `{name}`: it is a core WebAssembly module, not a component: build it for `wasm32-wasip2`, or wrap it with `wasm-tools component new`"
    )]
    CoreModule {
        /// The policy's name.
        name: String,
    },
    /// The component is invalid or cannot be compiled.
    #[error("cannot load policy `{name}`: invalid component: {message}")]
    Compile {
        /// The policy's name.
        name: String,
        /// The validator's or compiler's message.
        message: String,
    },
    /// The component does not export the decision interface.
    #[error(
        "cannot load policy `{name}`: component does not export `{export}`: it must implement the world `pathsec:policy/path-secure`"
    )]
    MissingExport {
        /// The policy's name.
        name: String,
        /// The missing export.
        export: &'static str,
    },
    /// The component exports the interface with other types (another version of the WIT?).
    #[error(
        "cannot load policy `{name}`: its `{export}` does not match the world `pathsec:policy/path-secure` this host implements: {message}: rebuild it against this host's `wit/`"
    )]
    WrongWorld {
        /// The policy's name.
        name: String,
        /// The export that does not match.
        export: &'static str,
        /// What does not match.
        message: String,
    },
    /// The component imports something the host does not provide.
    #[error(
        "cannot load policy `{name}`: it imports `{import}`, which this host does not offer: policies may import only WASI 0.2 interfaces, and get no capability through them"
    )]
    UnsupportedImport {
        /// The policy's name.
        name: String,
        /// The import.
        import: String,
    },
}

/// A device handle that this runtime did not issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("device handle {device} was not issued by this runtime: get handles from `Runtime::device_id`")]
pub struct UnknownDeviceError {
    /// The raw handle.
    pub device: u32,
}

/// A facts, request or case file that cannot be used. The message names the file, the line and the
/// field: "`lists.toml` line 7, field `lists.path-a[0]`: `3101` is not a PLMN-ID: …".
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file cannot be read.
    #[error("cannot read `{file}`")]
    Read {
        /// The file.
        file: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file's extension names no format.
    #[error("`{file}`: unknown format: name the file `.toml` or `.json`")]
    Format {
        /// The file.
        file: String,
    },
    /// The file does not parse, or a value in it is not valid.
    #[error("`{file}`{}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default(), if field.is_empty() { String::new() } else { format!(", field `{field}`") })]
    Parse {
        /// The file.
        file: String,
        /// The line, when known.
        line: Option<usize>,
        /// The field's path (`lists.path-a[0]`), empty for the whole file.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The file parses, but its content does not hold together.
    #[error("`{file}`, field `{field}`: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// The field's path.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// A runtime that holds as many devices as it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot add a device: this runtime holds {limit} devices already, its limit: run another runtime for more")]
pub struct TooManyDevicesError {
    /// The limit.
    pub limit: usize,
}

/// A policy that cannot become the active one. The active policy stays.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SwapError {
    /// The policy failed its self-check.
    #[error("policy `{policy}` failed its self-check: {fault}: the active policy stays")]
    SelfCheck {
        /// The refused policy's name.
        policy: String,
        /// What it did.
        fault: std::sync::Arc<crate::decision::PolicyFault>,
    },
}

/// An artifact cache directory that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactCacheError {
    /// The directory cannot be created or opened.
    #[error("cannot open the artifact cache `{}`", path.display())]
    Open {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Others may write the directory: their files would run as this host's native code.
    #[error("the artifact cache `{}` is writable by group or others: precompiled code from it would run unchecked: `chmod go-w` it, or choose a private directory", path.display())]
    WritableByOthers {
        /// The directory.
        path: PathBuf,
    },
}

/// A policy directory that cannot be watched.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The directory cannot be opened.
    #[error("cannot open the policy directory `{}`", path.display())]
    Open {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Listing the directory failed.
    #[error("cannot list the policy directory `{}`", path.display())]
    Scan {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// An engine that cannot be built from its settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// A limit is out of range.
    #[error("invalid limit `{limit}`: {problem}")]
    Limit {
        /// The setting.
        limit: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// wasmtime refused the configuration.
    #[error("cannot configure the WebAssembly engine: {message}")]
    Config {
        /// wasmtime's message.
        message: String,
    },
}
