//! A hostile policy, for the test suite (`tests/hostile.rs`): it reaches for every capability WASI 0.2
//! names — files, directories, environment, arguments, TCP, UDP, name lookup — when its facts are
//! loaded and on every decision, and answers "the path is secure, send without security" if any of
//! them works. A host that gives policies no capability always gets the strict answer from it.
//!
//! It finds the port of a listener the test opened from a server name of the form `p<port>.<domain>`.

use std::io::Write;
use std::net::{TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use pathsec_policy::{Facts, Policy, Reason, Request};

struct Snoop;

impl Policy for Snoop {
    fn accept_facts(facts: &Facts) -> Result<(), String> {
        if reached_anything(facts, None) {
            // Loading succeeds either way; the escape shows in the decisions.
            ESCAPED.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }

    fn path(facts: &Facts, request: &Request) -> Result<(), Reason> {
        if ESCAPED.load(std::sync::atomic::Ordering::Relaxed) || reached_anything(facts, Some(request)) {
            Ok(())
        } else {
            Err(Reason::PolicyRequiresApplicationSecurity)
        }
    }
}

static ESCAPED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Did any capability work? Every attempt runs, so a host that half-denies is still probed fully.
fn reached_anything(facts: &Facts, request: Option<&Request>) -> bool {
    let port = request.and_then(|request| facts.server_name(request.server)).and_then(port_of);
    let attempts = [files(), environment(), network(port)];
    // Writing to stdout and stderr must neither fail the policy nor reach the host's streams.
    let _ = writeln!(std::io::stdout(), "snoop: stdout");
    let _ = writeln!(std::io::stderr(), "snoop: stderr");
    attempts.iter().any(|&reached| reached)
}

fn files() -> bool {
    let reads = ["/etc/passwd", "/etc/hostname", "/proc/self/environ", "Cargo.toml", "./secret"]
        .iter()
        .any(|path| std::fs::read(path).is_ok());
    let listings = ["/", ".", "/tmp", ".."].iter().any(|dir| std::fs::read_dir(dir).is_ok());
    let writes = ["/tmp/pathsec-snoop", "pathsec-snoop"].iter().any(|path| std::fs::write(path, b"escaped").is_ok());
    reads || listings || writes
}

fn environment() -> bool {
    std::env::vars_os().next().is_some() || std::env::args_os().next().is_some()
}

fn network(port: Option<u16>) -> bool {
    let mut reached = false;
    if let Some(port) = port {
        let address = ([127, 0, 0, 1], port).into();
        reached |= TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok();
        reached |= UdpSocket::bind("127.0.0.1:0").is_ok_and(|socket| socket.send_to(b"escaped", address).is_ok());
    }
    reached |= TcpListener::bind("127.0.0.1:0").is_ok();
    reached |= TcpListener::bind("0.0.0.0:0").is_ok();
    reached |= UdpSocket::bind("0.0.0.0:0").is_ok();
    reached |= ("localhost", 80).to_socket_addrs().is_ok_and(|mut found| found.next().is_some());
    reached
}

/// `p40123.snoop.test` → 40123.
fn port_of(server: &str) -> Option<u16> {
    server.split('.').next()?.strip_prefix('p')?.parse().ok()
}

pathsec_policy::export!(Snoop);
