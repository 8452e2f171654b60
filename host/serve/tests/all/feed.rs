//! The daemon on a fact feed (Debian's `nats-server` with JetStream, started by the test on a free
//! loopback port): not ready until the feed has caught up, decisions on fed facts, fact updates over
//! the API refused with 409 naming the feed, and not ready again once the feed is stale (its server
//! killed), with decisions failing closed.

use std::time::{Duration, Instant};

use pathsec::{AccessKind, Attach, LinkState};
use pathsec_fleet::feed::{DeviceValue, NatsSettings, Publisher};
use pathsec_lab::NatsServer;
use pathsec_serve::{Config, Server};
use serde_json::{Value, json};

const TOKEN: &str = "an-admin-token-for-tests-0123456789";
const LISTS: &str =
    "servers = []\n[lists]\npath-a = [\"310410\"]\npath-b = [{ home = \"310410\", server = \"mtc.example.com\" }]\n";

async fn get(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_str(&response.text().await.unwrap()).unwrap())
}

/// `pathsec_fact_feed_contact_age_seconds` in a scrape.
fn contact_age(metrics: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("pathsec_fact_feed_contact_age_seconds "))
        .expect("the contact age is reported")
        .parse()
        .unwrap()
}

async fn until(what: &str, mut test: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !test().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_fact_feed() {
    pathsec_fleet::tls::install_provider();
    let dir = tempfile::tempdir().unwrap();
    let mut nats = NatsServer::start(&dir.path().join("nats")).expect("nats starts");
    let publisher = Publisher::connect(&NatsSettings::new(nats.url())).await.expect("publisher");
    let home = "310410".parse().unwrap();
    let at_home = DeviceValue::new(
        Attach { serving: Some(home), home, access: AccessKind::ThreeGpp },
        Some(LinkState { ciphering: true, integrity: true }),
    );
    publisher.put_device("gw-1", "meter-9", &at_home).await.expect("put");

    std::fs::write(dir.path().join("lists.toml"), LISTS).unwrap();
    let config = format!(
        "[listen]\ntcp = \"127.0.0.1:0\"\nadmin-token = \"{TOKEN}\"\n[policy]\nbundled = \"reference\"\n[facts]\nfile = \"lists.toml\"\n[facts.feed]\nurl = \"{}\"\nshards = [\"gw-1\"]\nmax-staleness = \"1s\"\n",
        nats.url()
    );
    std::fs::write(dir.path().join("pathsec.toml"), config).unwrap();
    let server = Server::start(Config::read(dir.path().join("pathsec.toml")).unwrap()).await.unwrap();
    let base = format!("http://{}", server.tcp.unwrap());
    let client = reqwest::Client::new();
    let decide = || {
        client
            .post(format!("{base}/v1/decide"))
            .body(
                json!({ "role": "server", "event": "send-data", "server": "mtc.example.com", "device": "meter-9" })
                    .to_string(),
            )
            .send()
    };

    until("ready", async || get(&format!("{base}/readyz")).await.0 == 200).await;
    let body: Value = serde_json::from_str(&decide().await.unwrap().text().await.unwrap()).unwrap();
    assert_eq!(body["action"], "send-plain", "{body}");

    let refused = client
        .put(format!("{base}/v1/devices/meter-9"))
        .bearer_auth(TOKEN)
        .body(json!({ "home": "310410" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    let body = refused.text().await.unwrap();
    assert!(body.contains(&nats.url()), "the 409 names the feed: {body}");
    let (_, status) = get(&format!("{base}/v1/status")).await;
    assert!(status["facts"].as_str().unwrap().contains("feed"), "{status}");
    assert_eq!(status["feed"]["current"], true, "{status}");

    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    assert!(contact_age(&metrics) < 1.0, "fresh while connected:\n{metrics}");

    nats.kill();
    until("not ready once stale", async || {
        let (code, body) = get(&format!("{base}/readyz")).await;
        code == 503 && body["missing"][0].as_str().unwrap_or("").contains("stale")
    })
    .await;
    let body: Value = serde_json::from_str(&decide().await.unwrap().text().await.unwrap()).unwrap();
    assert_eq!(
        (body["action"].as_str(), body["reason"].as_str()),
        (Some("secure-then-send"), Some("facts-stale")),
        "{body}"
    );
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    assert!(contact_age(&metrics) >= 1.0, "past the 1 s staleness bound:\n{metrics}");
    server.shutdown().await.unwrap();
}
