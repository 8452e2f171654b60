//! `pathsec serve [--config pathsec.toml | --facts FACTS]`: the decision as a service (see the
//! `pathsec-serve` package). With `--facts` alone it runs on embedded defaults: the bundled reference
//! policy, that facts file, HTTP and gRPC on 127.0.0.1:8181. SIGTERM or Ctrl-C stop it gracefully.

use std::net::SocketAddr;
use std::path::PathBuf;

use pathsec_serve::{Config, Server};

use crate::command::{Outcome, Result};

/// Options of `pathsec serve`.
#[derive(clap::Args)]
pub struct Serve {
    /// The configuration file (`pathsec.toml`): listeners, policy, facts, limits, metrics, log.
    #[arg(long, conflicts_with = "facts")]
    config: Option<PathBuf>,
    /// Run on embedded defaults with this facts file (`.toml` or `.json`).
    #[arg(long)]
    facts: Option<PathBuf>,
    /// Listen on this TCP address instead (`127.0.0.1:0` picks a free port; the address is printed).
    #[arg(long)]
    tcp: Option<SocketAddr>,
}

impl Serve {
    pub fn run(self) -> Result {
        let mut config = match (&self.config, &self.facts) {
            (Some(path), _) => Config::read(path)?,
            (None, Some(facts)) => Config::embedded(facts.clone()),
            (None, None) => return Err("give `--config pathsec.toml`, or `--facts FACTS` for embedded defaults".into()),
        };
        if let Some(tcp) = self.tcp {
            config.listen.tcp = Some(tcp);
        }
        // A daemon must not die when a client closes its socket mid-answer (main restores SIGPIPE's
        // default action for the one-shot commands).
        #[cfg(unix)]
        // SAFETY: no other thread exists yet; SIG_IGN is a valid action.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        runtime.block_on(async move {
            let server = Server::start(config).await?;
            let status = server.service().status();
            if let Some(tcp) = server.tcp {
                println!("pathsec serve: HTTP and gRPC on http://{tcp}");
            }
            if let Some(unix) = &server.unix {
                println!("pathsec serve: HTTP and gRPC on the Unix socket {}", unix.display());
            }
            println!(
                "pathsec serve: policy `{}` (sha256 {}), facts: {}, {} devices; SIGTERM or Ctrl-C stops",
                status.policy, status.sha256, status.facts, status.devices
            );
            wait_for_stop().await?;
            println!("pathsec serve: stopping: finishing calls in flight, flushing the decision log");
            match server.shutdown().await {
                Ok(()) => {
                    println!("pathsec serve: stopped");
                    Ok(Outcome::Success)
                }
                Err(problem) => Err(format!("stopped, but {problem}").into()),
            }
        })
    }
}

async fn wait_for_stop() -> std::io::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        result = tokio::signal::ctrl_c() => result?,
    }
    Ok(())
}
