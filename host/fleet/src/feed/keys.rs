//! Bucket names and the key scheme.

use crate::feed::FeedError;

/// The device-facts bucket's default name.
pub const DEVICE_BUCKET: &str = "pathsec-devices";
/// The desired-state bucket's default name.
pub const DESIRED_BUCKET: &str = "pathsec-desired";

/// Checks that `name` can be one token of a key (and of a NATS subject).
pub fn check_token(name: &str, what: &'static str) -> Result<(), FeedError> {
    let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='));
    if valid { Ok(()) } else { Err(FeedError::Name { name: name.to_owned(), what }) }
}

/// The key of `device` in `shard`: `<shard>.<device>`.
pub fn device_key(shard: &str, device: &str) -> Result<String, FeedError> {
    check_token(shard, "shard")?;
    check_token(device, "device name")?;
    Ok(format!("{shard}.{device}"))
}

/// The key of the registration outcome between `device` in `shard` and `server`:
/// `<shard>.<device>.<server FQDN>`.
pub fn agreement_key(shard: &str, device: &str, server: &pathsec::Fqdn) -> Result<String, FeedError> {
    Ok(format!("{}.{}", device_key(shard, device)?, server.as_str()))
}

/// What a key names: a device's facts, or its registration outcome with a server.
pub(crate) enum Keyed<'a> {
    /// `<shard>.<device>`.
    Device,
    /// `<shard>.<device>.<server FQDN>`: the device and the server.
    Agreement(&'a str, &'a str),
}

/// Reads `<shard>.<device>` or `<shard>.<device>.<server FQDN>` (the shard is the caller's).
pub(crate) fn keyed(key: &str) -> Option<Keyed<'_>> {
    let (_, rest) = key.split_once('.')?;
    Some(match rest.split_once('.') {
        None => Keyed::Device,
        Some((device, server)) => Keyed::Agreement(device, server),
    })
}

/// The stream behind bucket `bucket`.
pub(crate) fn stream_name(bucket: &str) -> String {
    format!("KV_{bucket}")
}

/// The subject of keys under `prefix` (a shard: `<shard>.>`; one key: the key).
pub(crate) fn subject(bucket: &str, key_filter: &str) -> String {
    format!("$KV.{bucket}.{key_filter}")
}

/// The key a message subject names, for `bucket`.
pub(crate) fn key_of<'a>(bucket: &str, subject: &'a str) -> Option<&'a str> {
    subject.strip_prefix("$KV.")?.strip_prefix(bucket)?.strip_prefix('.')
}
