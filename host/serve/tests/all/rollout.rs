//! The daemon's policy from a fleet rollout (Debian's `nats-server` and `docker-registry`, started by
//! the test on free loopback ports): it starts on the fail-closed baseline, is not ready and says why,
//! then installs the group's policy when the desired state names it, and is ready.

use std::time::{Duration, Instant};

use pathsec_fleet::feed::{DesiredState, NatsSettings, Publisher};
use pathsec_fleet::oci::{Registry, RegistrySettings};
use pathsec_lab::{NatsServer, OciRegistry};
use pathsec_serve::{Config, Server};
use serde_json::Value;

async fn get(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_str(&response.text().await.unwrap()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_comes_from_a_rollout() {
    pathsec_fleet::tls::install_provider();
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats")).expect("nats starts");
    let registry_server = OciRegistry::start(&dir.path().join("registry")).expect("registry starts");
    let publisher = Publisher::connect(&NatsSettings::new(nats.url())).await.expect("publisher");

    let config = format!(
        "[listen]\ntcp = \"127.0.0.1:0\"\n[policy.rollout]\nurl = \"{}\"\ngroup = \"gateways\"\nstate = \"node\"\n",
        nats.url()
    );
    std::fs::write(dir.path().join("pathsec.toml"), config).unwrap();
    let server = Server::start(Config::read(dir.path().join("pathsec.toml")).unwrap()).await.unwrap();
    let base = format!("http://{}", server.tcp.unwrap());

    let (code, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(code, 503, "{body}");
    assert!(body["missing"][0].as_str().unwrap().contains("rollout of group `gateways`"), "{body}");
    assert_eq!(server.service().status().policy, "always-secure", "the fail-closed baseline meanwhile");

    let registry = Registry::new(&RegistrySettings::default());
    let pushed = registry
        .push_policy(&format!("{}/pathsec/reference:1", registry_server.host()), pathsec::bundled::REFERENCE, None)
        .await
        .expect("push");
    publisher
        .set_desired(
            "gateways",
            &DesiredState { policy: Some(pushed.reference.clone()), lists: None, ..DesiredState::default() },
        )
        .await
        .expect("set");
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&format!("{base}/readyz")).await.0 != 200 {
        assert!(Instant::now() < deadline, "the rollout did not make the daemon ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, status) = get(&format!("{base}/v1/status")).await;
    assert_eq!(server.service().runtime().policy().size(), pathsec::bundled::REFERENCE.len(), "{status}");
    server.shutdown().await.unwrap();
}
