//! The decision log off the box: the library's log writes its lines into a [`LogSink`], which masks
//! fields, appends to the local file and hands each entry to the HTTP shipper's bounded buffer. The
//! shipper POSTs batches (a gzip-compressed JSON array, at most `batch-bytes` before compression, as
//! OPA's decision-log service takes them) and keeps each batch until the sink answers 2xx: an outage
//! loses nothing while the buffer has room; past it, new entries are dropped, counted, and a
//! `{"dropped": n}` entry takes their place once there is room again.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use tokio::sync::Notify;

use crate::config::HttpSinkConfig;
use pathsec::sync::Locked;

/// The shipper's counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShipperStats {
    /// Entries the sink accepted.
    pub shipped_entries: u64,
    /// Batches the sink accepted.
    pub shipped_batches: u64,
    /// Entries dropped because the buffer was full.
    pub dropped_entries: u64,
    /// Batches the sink refused or did not answer (each was retried).
    pub failures: u64,
    /// Bytes of entries waiting.
    pub buffered_bytes: usize,
    /// Entries waiting.
    pub buffered_entries: usize,
}

/// Where the library's decision log writes: masks, then the file and the shipper.
pub struct LogSink {
    masks: Vec<Vec<String>>,
    /// Buffered: the library hands over lines in chunks and flushes after each.
    file: Option<std::io::BufWriter<File>>,
    shipper: Option<Arc<Buffer>>,
    /// A line not yet ended (the library writes whole lines, but `Write` promises nothing).
    partial: Vec<u8>,
}

impl LogSink {
    /// A sink masking the fields at `masks` (dotted paths), writing to `file` and `shipper`.
    pub fn new(masks: &[String], file: Option<File>, shipper: Option<&Shipper>) -> LogSink {
        LogSink {
            masks: masks.iter().map(|path| path.split('.').map(str::to_owned).collect()).collect(),
            file: file.map(|file| std::io::BufWriter::with_capacity(64 << 10, file)),
            shipper: shipper.map(|shipper| Arc::clone(&shipper.buffer)),
            partial: Vec::new(),
        }
    }

    fn line(&mut self, line: &[u8]) -> std::io::Result<()> {
        let masked;
        let line = if self.masks.is_empty() {
            line
        } else {
            masked = mask(line, &self.masks);
            &masked
        };
        if let Some(shipper) = &self.shipper {
            shipper.push(line);
        }
        if let Some(file) = &mut self.file {
            file.write_all(line)?;
            file.write_all(b"\n")?;
        }
        Ok(())
    }
}

impl Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut rest = bytes;
        let mut result = Ok(());
        while let Some(end) = rest.iter().position(|&byte| byte == b'\n') {
            let line = if self.partial.is_empty() {
                rest[..end].to_vec()
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&rest[..end]);
                line
            };
            // Every line reaches the shipper even when the file refuses one: the first error is told.
            if let Err(error) = self.line(&line)
                && result.is_ok()
            {
                result = Err(error);
            }
            rest = &rest[end + 1..];
        }
        self.partial.extend_from_slice(rest);
        result.map(|()| bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if let Some(shipper) = &self.shipper {
            shipper.wake.notify_one();
        }
        match &mut self.file {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

/// Replaces the value at each of `masks` by `"***"`; a line that is not a JSON object stays as it is.
fn mask(line: &[u8], masks: &[Vec<String>]) -> Vec<u8> {
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(line) else { return line.to_vec() };
    for path in masks {
        let pointer: String =
            path.iter().map(|key| format!("/{}", key.replace('~', "~0").replace('/', "~1"))).collect();
        if let Some(at) = value.pointer_mut(&pointer)
            && !at.is_null()
        {
            *at = serde_json::Value::String("***".to_owned());
        }
    }
    serde_json::to_vec(&value).unwrap_or_else(|_| line.to_vec())
}

/// The entries waiting to be shipped.
struct Buffer {
    state: Mutex<Pending>,
    wake: Notify,
    limit: usize,
    shipped_entries: AtomicU64,
    shipped_batches: AtomicU64,
    failures: AtomicU64,
}

#[derive(Default)]
struct Pending {
    entries: VecDeque<Vec<u8>>,
    bytes: usize,
    dropped: u64,
    /// Drops not yet reported by a `dropped` entry.
    unreported: u64,
}

impl Buffer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        // The queue and its byte count change together under the lock: a panic cannot split them.
        self.state.locked()
    }

    /// Adds an entry, or drops and counts it when the buffer is full.
    fn push(&self, line: &[u8]) {
        let mut pending = self.lock();
        if pending.unreported > 0 {
            let report = serde_json::to_vec(&serde_json::json!({
                "v": pathsec::runtime::LOG_FORMAT_VERSION,
                "dropped": pending.unreported,
                "dropped_total": pending.dropped,
                "why": "the decision-log shipper's buffer was full (the sink was slow or down): these entries were not shipped",
            }))
            .unwrap_or_default();
            if pending.bytes + report.len() <= self.limit {
                pending.bytes += report.len();
                pending.entries.push_back(report);
                pending.unreported = 0;
            }
        }
        if pending.bytes + line.len() > self.limit {
            pending.dropped += 1;
            pending.unreported += 1;
            return;
        }
        pending.bytes += line.len();
        pending.entries.push_back(line.to_vec());
        drop(pending);
        self.wake.notify_one();
    }

    fn stats(&self) -> ShipperStats {
        let pending = self.lock();
        ShipperStats {
            shipped_entries: self.shipped_entries.load(Ordering::Relaxed),
            shipped_batches: self.shipped_batches.load(Ordering::Relaxed),
            dropped_entries: pending.dropped,
            failures: self.failures.load(Ordering::Relaxed),
            buffered_bytes: pending.bytes,
            buffered_entries: pending.entries.len(),
        }
    }
}

/// Ships the decision log to an HTTP sink; see the module docs.
pub struct Shipper {
    buffer: Arc<Buffer>,
    task: tokio::task::JoinHandle<()>,
    stop: Arc<Notify>,
}

impl Shipper {
    /// Starts shipping to `config.url` (a task on the current tokio runtime).
    pub fn start(config: HttpSinkConfig) -> Result<Shipper, reqwest::Error> {
        pathsec_fleet::tls::install_provider();
        let client = reqwest::Client::builder().timeout(config.timeout).build()?;
        let buffer = Arc::new(Buffer {
            state: Mutex::new(Pending::default()),
            wake: Notify::new(),
            limit: config.buffer_bytes,
            shipped_entries: AtomicU64::new(0),
            shipped_batches: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        });
        let stop = Arc::new(Notify::new());
        let task = tokio::spawn(run(client, config, Arc::clone(&buffer), Arc::clone(&stop)));
        Ok(Shipper { buffer, task, stop })
    }

    /// Its counts.
    pub fn stats(&self) -> ShipperStats {
        self.buffer.stats()
    }

    /// A reader of its counts, for the metrics.
    pub fn stats_reader(&self) -> Arc<dyn Fn() -> ShipperStats + Send + Sync> {
        let buffer = Arc::clone(&self.buffer);
        Arc::new(move || buffer.stats())
    }

    /// Ships what is buffered, waiting at most `grace`; stops the task. What could not be shipped is
    /// returned as counts (the caller reports it).
    pub async fn finish(self, grace: Duration) -> ShipperStats {
        let deadline = Instant::now() + grace;
        while self.buffer.stats().buffered_entries > 0 && Instant::now() < deadline {
            self.buffer.wake.notify_one();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.stop.notify_one();
        let _ = self.task.await;
        self.buffer.stats()
    }
}

async fn run(client: reqwest::Client, config: HttpSinkConfig, buffer: Arc<Buffer>, stop: Arc<Notify>) {
    let mut backoff = config.retry_min;
    loop {
        // Wait for entries: a wake, the flush interval, or the stop.
        tokio::select! {
            () = buffer.wake.notified() => {}
            () = tokio::time::sleep(config.flush_every) => {}
            () = stop.notified() => return,
        }
        loop {
            let (body, count, bytes) = {
                let pending = buffer.lock();
                if pending.entries.is_empty() {
                    break;
                }
                batch(&pending.entries, config.batch_bytes)
            };
            let mut request = client
                .post(&config.url)
                .header("content-type", "application/json")
                .header("content-encoding", "gzip")
                .body(body);
            if let Some(token) = &config.token {
                request = request.bearer_auth(token);
            }
            match request.send().await {
                Ok(response) if response.status().is_success() => {
                    let mut pending = buffer.lock();
                    pending.entries.drain(..count);
                    pending.bytes -= bytes;
                    drop(pending);
                    buffer.shipped_entries.fetch_add(count as u64, Ordering::Relaxed);
                    buffer.shipped_batches.fetch_add(1, Ordering::Relaxed);
                    backoff = config.retry_min;
                }
                outcome => {
                    buffer.failures.fetch_add(1, Ordering::Relaxed);
                    let why = match outcome {
                        Ok(response) => format!("answered {}", response.status()),
                        Err(error) => error.to_string(),
                    };
                    eprintln!("pathsec serve: the decision-log sink {} {why}: retrying in {backoff:?}", config.url);
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = stop.notified() => return,
                    }
                    backoff = (backoff * 2).min(config.retry_max);
                }
            }
        }
    }
}

/// The first entries of `entries` that fit `limit` bytes (at least one), as a gzip JSON array; with
/// how many entries and bytes it holds.
fn batch(entries: &VecDeque<Vec<u8>>, limit: usize) -> (Vec<u8>, usize, usize) {
    let mut json = Vec::with_capacity(limit.min(1 << 20) + 2);
    json.push(b'[');
    let (mut count, mut bytes) = (0, 0);
    for entry in entries {
        if count > 0 && bytes + entry.len() > limit {
            break;
        }
        if count > 0 {
            json.push(b',');
        }
        json.extend_from_slice(entry);
        count += 1;
        bytes += entry.len();
    }
    json.push(b']');
    let mut gzip = GzEncoder::new(Vec::with_capacity(json.len() / 4), Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = gzip.write_all(&json);
    (gzip.finish().unwrap_or_default(), count, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_top_level_and_nested_fields() {
        let line = br#"{"device":"meter","policy":{"name":"r","sha256":"ab"},"server":null}"#;
        let masks =
            vec![vec!["device".to_owned()], vec!["policy".to_owned(), "sha256".to_owned()], vec!["absent".to_owned()]];
        let masked: serde_json::Value = serde_json::from_slice(&mask(line, &masks)).unwrap();
        assert_eq!(masked, serde_json::json!({"device":"***","policy":{"name":"r","sha256":"***"},"server":null}));
    }

    #[test]
    fn a_full_buffer_drops_counts_and_reports() {
        let buffer = Buffer {
            state: Mutex::new(Pending::default()),
            wake: Notify::new(),
            limit: 10,
            shipped_entries: AtomicU64::new(0),
            shipped_batches: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        };
        buffer.push(b"12345678");
        buffer.push(b"12345678");
        assert_eq!(buffer.stats().dropped_entries, 1);
        {
            let mut pending = buffer.lock();
            pending.entries.clear();
            pending.bytes = 0;
        }
        // Room again, but the report itself (~200 bytes) does not fit this tiny buffer: still owed.
        buffer.push(b"1");
        assert_eq!(buffer.lock().unreported, 1);
    }

    #[test]
    fn batches_respect_the_limit_but_take_one_entry_at_least() {
        let entries: VecDeque<Vec<u8>> = [b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec()].into();
        let (body, count, bytes) = batch(&entries, 3);
        assert_eq!((count, bytes), (1, 7));
        let mut json = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut json).unwrap();
        assert_eq!(json, "[{\"a\":1}]");
    }
}
