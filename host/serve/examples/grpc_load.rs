//! A gRPC load generator for `pathsec serve` (no gRPC load tool is packaged): `connections` HTTP/2
//! connections, each with one call in flight at a time, for `seconds`; single decisions or batches
//! of `batch`. Prints calls and decisions per second, p50/p99 latency, and every error (a run passes
//! with 0). Run from a second process against a running daemon:
//!
//! ```text
//! cargo run --release -p pathsec-serve --example grpc_load -- http://127.0.0.1:8181 4 10 1
//! ```

use std::time::{Duration, Instant};

use pathsec_serve::api::grpc::proto::{self, path_secure_client::PathSecureClient};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let url = args.get(1).cloned().unwrap_or_else(|| "http://127.0.0.1:8181".to_owned());
    let connections: usize = args.get(2).map_or(Ok(4), |a| a.parse())?;
    let seconds: u64 = args.get(3).map_or(Ok(10), |a| a.parse())?;
    let batch: usize = args.get(4).map_or(Ok(1), |a| a.parse())?;
    const DEVICES: [&str; 3] = ["meter-17", "tracker-9", "sensor-4"];
    let request = |n: usize| proto::DecideRequest {
        role: "server".into(),
        event: "send-data".into(),
        server: "mtc.example.com".into(),
        device: Some(DEVICES[n % DEVICES.len()].into()),
        ..Default::default()
    };
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for connection in 0..connections {
        let mut client = PathSecureClient::connect(url.clone()).await?;
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors, mut decisions) = (Vec::new(), Vec::new(), 0u64);
            let mut n = connection;
            while Instant::now() < until {
                let started = Instant::now();
                let outcome = if batch <= 1 {
                    client.decide(request(n)).await.map(|_| 1)
                } else {
                    let requests = (0..batch).map(|i| request(n + i)).collect();
                    client
                        .decide_batch(proto::DecideBatchRequest { requests })
                        .await
                        .map(|answer| answer.into_inner().decisions.len())
                };
                latencies.push(started.elapsed());
                match outcome {
                    Ok(count) => decisions += count as u64,
                    Err(status) => errors.push(format!("{:?}: {}", status.code(), status.message())),
                }
                n += batch.max(1);
            }
            (latencies, errors, decisions)
        }));
    }
    let started = Instant::now();
    let (mut latencies, mut errors, mut decisions) = (Vec::new(), Vec::new(), 0);
    for task in tasks {
        let (l, e, d) = task.await?;
        latencies.extend(l);
        errors.extend(e);
        decisions += d;
    }
    let elapsed = started.elapsed().as_secs_f64().max(seconds as f64);
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "grpc: {connections} connections, batch {batch}: {:.0} calls/s, {:.0} decisions/s, p50 {:?}, p99 {:?}, errors {}",
        latencies.len() as f64 / elapsed,
        decisions as f64 / elapsed,
        at(0.50),
        at(0.99),
        errors.len()
    );
    for error in errors.iter().take(5) {
        println!("  error: {error}");
    }
    if errors.is_empty() { Ok(()) } else { Err(format!("{} calls failed", errors.len()).into()) }
}
