//! `pathsec.toml`: what the daemon listens on, where its policy and facts come from, its limits, its
//! metrics and its decision log. Unknown fields are errors; every error names the file, the line and
//! the field (the same reporting as the facts files). Relative paths are relative to the file.
//!
//! ```toml
//! [listen]
//! tcp = "127.0.0.1:8181"                 # HTTP/JSON and gRPC on one port; loopback unless you say so
//! unix = "/run/pathsec/pathsec.sock"     # optional; administrative calls need no token here
//! admin-token-file = "/etc/pathsec/admin-token"   # needed for administrative calls over TCP
//!
//! [policy]
//! bundled = "reference"                  # or: file = "policy.wasm", or: directory = "policies"
//!
//! [facts]
//! file = "facts.toml"                    # and/or [facts.feed] (NATS JetStream; see docs/serve.md)
//!
//! [registration]                        # the registration exchange's settings (optional)
//! timer = "24h"
//! options = ["dtls-1.3"]
//!
//! [log]
//! file = "decisions.jsonl"
//! mask = ["device"]
//! [log.http]
//! url = "http://127.0.0.1:9000/logs"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pathsec::files::{FileError, parse_named};
use pathsec::runtime::{DeviceSettings, RegistrationSettings, SettingsFile};
use serde::Deserialize;

/// The daemon's configuration, as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Listeners and request limits.
    #[serde(default)]
    pub listen: Listen,
    /// Where the policy comes from.
    #[serde(default)]
    pub policy: PolicySource,
    /// Where the facts come from.
    #[serde(default)]
    pub facts: FactsSource,
    /// The policy sandbox's limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// `/metrics`.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// The decision log.
    #[serde(default)]
    pub log: LogConfig,
    /// The server side of the registration exchange: timer, options offered, servers answered for,
    /// roaming limits (as `pathsec::runtime::SettingsFile` writes them).
    #[serde(default)]
    pub registration: RegistrationSettings,
    /// The device side: whose "no application-layer security" is taken while ciphering is off.
    #[serde(default)]
    pub device: DeviceSettings,
}

/// Listeners and request limits.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Listen {
    /// The TCP address; `127.0.0.1:8181` unless written. Write `tcp = ""` for none.
    #[serde(default = "default_tcp", deserialize_with = "optional_address")]
    pub tcp: Option<SocketAddr>,
    /// A Unix socket's path (made on start, removed on shutdown).
    pub unix: Option<PathBuf>,
    /// The token administrative calls over TCP must carry (`Authorization: Bearer …`).
    pub admin_token: Option<String>,
    /// A file holding that token (its first line), so it stays out of the configuration.
    pub admin_token_file: Option<PathBuf>,
    /// Connections served at once, over all listeners; more are closed at once.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// The largest request body, in bytes; larger ones get 413.
    #[serde(default = "default_max_body")]
    pub max_body: usize,
    /// Requests in one batch; more get 413.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// How long a client may take to send a request's headers before its connection is closed.
    #[serde(default = "default_header_timeout", with = "duration")]
    pub header_timeout: Duration,
    /// How long a whole request may take (its body read and its answer made); longer ones get 408.
    #[serde(default = "default_request_timeout", with = "duration")]
    pub request_timeout: Duration,
    /// How long shutdown waits for requests in flight.
    #[serde(default = "default_grace", with = "duration")]
    pub shutdown_grace: Duration,
}

impl Default for Listen {
    fn default() -> Listen {
        Listen {
            tcp: default_tcp(),
            unix: None,
            admin_token: None,
            admin_token_file: None,
            max_connections: default_max_connections(),
            max_body: default_max_body(),
            max_batch: default_max_batch(),
            header_timeout: default_header_timeout(),
            request_timeout: default_request_timeout(),
            shutdown_grace: default_grace(),
        }
    }
}

fn default_tcp() -> Option<SocketAddr> {
    Some(SocketAddr::from(([127, 0, 0, 1], 8181)))
}
fn default_max_connections() -> usize {
    1024
}
fn default_max_body() -> usize {
    1 << 20
}
fn default_max_batch() -> usize {
    4096
}
fn default_header_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_grace() -> Duration {
    Duration::from_secs(10)
}

/// Where the policy comes from: exactly one of these.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PolicySource {
    /// A policy built into the daemon: `reference` or `always-secure`.
    pub bundled: Option<String>,
    /// A component file (`NAME.wasm`, its signature in `NAME.wasm.sig` when keys are trusted).
    pub file: Option<PathBuf>,
    /// A watched policy directory: the newest good `*.wasm` in it is active.
    pub directory: Option<PathBuf>,
    /// How often the directory is scanned.
    #[serde(default = "default_scan", with = "duration")]
    pub scan_every: Duration,
    /// Precompiled artifacts, so restarts and swaps do not recompile.
    pub artifact_cache: Option<PathBuf>,
    /// Policies (and list bundles) rolled out over the fleet: the group's desired state in NATS
    /// names them, they are pulled from an OCI registry by digest and verified. The daemon starts on
    /// the bundled `always-secure` baseline and is not ready until the first rollout is installed.
    pub rollout: Option<RolloutConfig>,
    /// Trusted policy-signing keys (files written by `pathsec keygen`, one public key each); with
    /// them only signed policies are accepted, at start and by swaps.
    #[serde(default)]
    pub trusted_keys: Vec<PathBuf>,
}

fn default_scan() -> Duration {
    Duration::from_secs(2)
}

/// A fleet rollout as the policy source.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RolloutConfig {
    /// The NATS server holding the desired-state bucket (`nats://127.0.0.1:4222`).
    pub url: String,
    /// This node's group: its key in the desired-state bucket.
    pub group: String,
    /// The node's own state: pulled content, compiled policies, accepted bundle generations, the last
    /// bundle (so a restart works offline).
    pub state: PathBuf,
    /// Keys trusted to sign list bundles (files written by `pathsec keygen`).
    #[serde(default)]
    pub bundle_keys: Vec<PathBuf>,
    /// Registries (`host:port`) reached over plain HTTP; loopback ones always are.
    #[serde(default)]
    pub insecure_registries: Vec<String>,
}

/// Where the facts come from.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FactsSource {
    /// A facts file (`.toml` or `.json`): the lists, servers and devices at start. With a feed, the
    /// lists and servers only: the devices come from the feed.
    pub file: Option<PathBuf>,
    /// A NATS JetStream fact feed (`pathsec-fleet`) of the devices' facts; while it is on, fact
    /// updates over the API are refused (409) so the feed stays the one writer.
    pub feed: Option<FeedConfig>,
    /// Devices the daemon holds at most.
    pub max_devices: Option<usize>,
}

/// A fact feed.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FeedConfig {
    /// The NATS server (`nats://127.0.0.1:4222`).
    pub url: String,
    /// The shards this node follows.
    pub shards: Vec<String>,
    /// The feed's local snapshot, so a restart resumes instead of reading every device again.
    pub snapshot: Option<PathBuf>,
    /// Facts older than this (no word from the feed) fail closed with `facts-stale`.
    #[serde(default, with = "optional_duration")]
    pub max_staleness: Option<Duration>,
}

/// The sandbox's limits (the library's defaults unless written).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LimitsConfig {
    /// A decision's deadline.
    #[serde(default, with = "optional_duration")]
    pub deadline: Option<Duration>,
    /// A policy instance's linear memory, in bytes.
    pub memory: Option<usize>,
}

/// `/metrics`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MetricsConfig {
    /// Serve `/metrics` (on every listener).
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl Default for MetricsConfig {
    fn default() -> MetricsConfig {
        MetricsConfig { enabled: true }
    }
}

fn yes() -> bool {
    true
}

/// The decision log.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LogConfig {
    /// A local JSON-lines file.
    pub file: Option<PathBuf>,
    /// Decisions queued for the log's writer before they are dropped (and counted).
    pub capacity: Option<usize>,
    /// Fields replaced by `"***"` in every entry, local or shipped: top-level names or dotted paths
    /// (`device`, `server`, `policy.sha256`).
    #[serde(default)]
    pub mask: Vec<String>,
    /// An HTTP sink that receives batches.
    pub http: Option<HttpSinkConfig>,
}

/// An HTTP decision-log sink.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HttpSinkConfig {
    /// Where batches are POSTed: a gzip-compressed JSON array of entries per request.
    pub url: String,
    /// A bearer token to send, if the sink wants one.
    pub token: Option<String>,
    /// A batch's size before compression, in bytes (an entry larger than this goes alone).
    #[serde(default = "default_batch_bytes")]
    pub batch_bytes: usize,
    /// Entries held while the sink is slow or down, in bytes; beyond it new entries are dropped and
    /// counted (and a `dropped` entry says so).
    #[serde(default = "default_buffer_bytes")]
    pub buffer_bytes: usize,
    /// The longest wait before a partial batch is sent.
    #[serde(default = "default_flush_every", with = "duration")]
    pub flush_every: Duration,
    /// Back-off between retries: doubles from `retry-min` up to `retry-max`.
    #[serde(default = "default_retry_min", with = "duration")]
    pub retry_min: Duration,
    /// The longest back-off.
    #[serde(default = "default_retry_max", with = "duration")]
    pub retry_max: Duration,
    /// One request's timeout.
    #[serde(default = "default_sink_timeout", with = "duration")]
    pub timeout: Duration,
}

fn default_batch_bytes() -> usize {
    512 << 10
}
fn default_buffer_bytes() -> usize {
    64 << 20
}
fn default_flush_every() -> Duration {
    Duration::from_millis(500)
}
fn default_retry_min() -> Duration {
    Duration::from_millis(100)
}
fn default_retry_max() -> Duration {
    Duration::from_secs(10)
}
fn default_sink_timeout() -> Duration {
    Duration::from_secs(10)
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file does not parse, or a field is wrong.
    #[error(transparent)]
    File(#[from] FileError),
    /// The fields parse but do not hold together.
    #[error("`{file}`, field `{field}`: {message}")]
    Invalid {
        /// The configuration file.
        file: String,
        /// The field.
        field: String,
        /// What is wrong, and what to write instead.
        message: String,
    },
}

impl Config {
    /// Reads the configuration at `path`; relative paths in it become relative to its directory.
    pub fn read(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| FileError::Read { file: name.clone(), source })?;
        let mut config = Config::parse(&name, &text)?;
        if let Some(base) = path.parent() {
            config.resolve_paths(base);
        }
        Ok(config)
    }

    /// Parses a configuration that did not come from a file; `name` (ending `.toml`) names it in errors.
    pub fn parse(name: &str, text: &str) -> Result<Config, ConfigError> {
        let config: Config = parse_named(name, text)?;
        config.check(name)?;
        Ok(config)
    }

    /// The configuration the service guide's one command runs (`docs/guides/service.md`): the bundled
    /// reference policy and a facts file, on the default listener.
    pub fn embedded(facts: PathBuf) -> Config {
        Config {
            policy: PolicySource { bundled: Some("reference".to_owned()), ..PolicySource::default() },
            facts: FactsSource { file: Some(facts), ..FactsSource::default() },
            ..Config::default()
        }
    }

    /// Both sides' registration settings, as the runtime takes them.
    pub fn settings(&self) -> SettingsFile {
        SettingsFile { registration: self.registration.clone(), device: self.device.clone() }
    }

    fn check(&self, file: &str) -> Result<(), ConfigError> {
        self.settings().check(file)?;
        let invalid = |field: &str, message: &str| ConfigError::Invalid {
            file: file.to_owned(),
            field: field.to_owned(),
            message: message.to_owned(),
        };
        let policy = &self.policy;
        let sources =
            [policy.bundled.is_some(), policy.file.is_some(), policy.directory.is_some(), policy.rollout.is_some()];
        match sources.iter().filter(|&&given| given).count() {
            0 => {
                return Err(invalid(
                    "policy",
                    "name the policy: `bundled = \"reference\"`, `file = \"P.wasm\"`, `directory = \"DIR\"` or `[policy.rollout]`",
                ));
            }
            1 => {}
            _ => {
                return Err(invalid(
                    "policy",
                    "write one of `bundled`, `file`, `directory` and `[policy.rollout]`, not several",
                ));
            }
        }
        if let Some(name) = &policy.bundled
            && !matches!(name.as_str(), "reference" | "always-secure")
        {
            return Err(invalid(
                "policy.bundled",
                &format!("no bundled policy `{name}`: write `reference` or `always-secure`"),
            ));
        }
        if let Some(feed) = &self.facts.feed
            && feed.shards.is_empty()
        {
            return Err(invalid("facts.feed.shards", "name at least one shard to follow"));
        }
        let listen = &self.listen;
        if listen.tcp.is_none() && listen.unix.is_none() {
            return Err(invalid("listen", "listen somewhere: `tcp = \"127.0.0.1:8181\"` or `unix = \"PATH\"`"));
        }
        if listen.admin_token.is_some() && listen.admin_token_file.is_some() {
            return Err(invalid("listen.admin-token", "write `admin-token` or `admin-token-file`, not both"));
        }
        if listen.admin_token.as_deref().is_some_and(|token| token.trim().len() < 16) {
            return Err(invalid("listen.admin-token", "a token shorter than 16 characters is too easy to guess"));
        }
        for (field, value) in [
            ("listen.max-connections", listen.max_connections),
            ("listen.max-body", listen.max_body),
            ("listen.max-batch", listen.max_batch),
        ] {
            if value == 0 {
                return Err(invalid(field, "must be at least 1"));
            }
        }
        for (index, path) in self.log.mask.iter().enumerate() {
            if path.is_empty() || path.split('.').any(str::is_empty) {
                return Err(invalid(
                    &format!("log.mask[{index}]"),
                    "a field's name or dotted path, e.g. `device` or `policy.sha256`",
                ));
            }
        }
        if let Some(http) = &self.log.http {
            if !(http.url.starts_with("http://") || http.url.starts_with("https://")) {
                return Err(invalid("log.http.url", "an `http://` or `https://` URL"));
            }
            if http.batch_bytes == 0 || http.buffer_bytes < http.batch_bytes {
                return Err(invalid("log.http.buffer-bytes", "must be at least `batch-bytes` (and both above 0)"));
            }
            if http.retry_min.is_zero() || http.retry_max < http.retry_min {
                return Err(invalid(
                    "log.http.retry-max",
                    "back-off must grow from `retry-min` (above 0) to `retry-max`",
                ));
            }
        }
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        let resolve = |path: &mut PathBuf| {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        };
        let Config { listen, policy, facts, log, .. } = self;
        for path in [
            listen.unix.as_mut(),
            listen.admin_token_file.as_mut(),
            policy.file.as_mut(),
            policy.directory.as_mut(),
            policy.artifact_cache.as_mut(),
            facts.file.as_mut(),
            facts.feed.as_mut().and_then(|feed| feed.snapshot.as_mut()),
            policy.rollout.as_mut().map(|rollout| &mut rollout.state),
            log.file.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            resolve(path);
        }
        policy.trusted_keys.iter_mut().for_each(resolve);
        if let Some(rollout) = &mut policy.rollout {
            rollout.bundle_keys.iter_mut().for_each(resolve);
        }
    }
}

fn optional_address<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(deserializer)?;
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        serde::de::Error::custom(format!(
            "`{text}` is not an address: write `127.0.0.1:8181`, `[::1]:8181` or \"\" for none"
        ))
    })
}

/// Durations as people write them: `"5s"`, `"250ms"`, `"2m"`.
mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!("`{text}` is not a duration ({e}): write e.g. \"5s\" or \"250ms\""))
        })
    }
}

mod optional_duration {
    use std::time::Duration;

    use serde::Deserializer;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
        super::duration::deserialize(deserializer).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_line_and_the_field() {
        let text = "[listen]\ntcp = \"127.0.0.1:8181\"\nmax-body = \"big\"\n[policy]\nbundled = \"reference\"\n";
        let error = Config::parse("pathsec.toml", text).unwrap_err().to_string();
        assert!(error.contains("line 3") && error.contains("listen.max-body"), "{error}");

        let error =
            Config::parse("pathsec.toml", "[policy]\nbundled = \"reference\"\nfile = \"p.wasm\"\n").unwrap_err();
        assert!(error.to_string().contains("field `policy`: write one of"), "{error}");

        let error = Config::parse("pathsec.toml", "[policy]\nbundle = \"reference\"\n").unwrap_err().to_string();
        assert!(error.contains("line 2") && error.contains("unknown field `bundle`"), "{error}");

        let error =
            Config::parse("pathsec.toml", "[listen]\nheader-timeout = \"soon\"\n[policy]\nbundled = \"reference\"\n")
                .unwrap_err()
                .to_string();
        assert!(error.contains("listen.header-timeout") && error.contains("not a duration"), "{error}");
    }

    #[test]
    fn listens_on_loopback_unless_told() {
        let config = Config::parse("pathsec.toml", "[policy]\nbundled = \"reference\"\n").unwrap();
        assert!(config.listen.tcp.unwrap().ip().is_loopback());
        let config =
            Config::parse("pathsec.toml", "[listen]\ntcp = \"\"\nunix = \"s\"\n[policy]\nbundled = \"reference\"\n")
                .unwrap();
        assert!(config.listen.tcp.is_none());
    }
}
