//! The daemon end to end, in process: HTTP and gRPC answer alike; administrative calls need the token
//! or the Unix socket; the log reaches an HTTP sink across its outage with nothing lost; the OpenAPI
//! document names exactly the routes the server has; a Python client (requests, and Prometheus's own
//! OpenMetrics parser for `/metrics`) against a running daemon.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pathsec_serve::api::grpc::proto::{self, path_secure_client::PathSecureClient};
use pathsec_serve::{Config, Server};
use serde_json::{Value, json};

const FACTS: &str = include_str!("../../../../examples/serve/facts.toml");
const TOKEN: &str = "an-admin-token-for-tests-0123456789";

/// A daemon on a free loopback port (and a Unix socket) with the example facts and `extra` TOML.
async fn start(dir: &Path, extra: &str) -> Server {
    // The tests' reqwest clients, like the daemon's, use the one rustls provider the fleet installs.
    pathsec_fleet::tls::install_provider();
    std::fs::write(dir.join("facts.toml"), FACTS).unwrap();
    let text = format!(
        "[listen]\ntcp = \"127.0.0.1:0\"\nunix = \"{}\"\nadmin-token = \"{TOKEN}\"\n[policy]\nbundled = \"reference\"\n[facts]\nfile = \"{}\"\n{extra}",
        dir.join("pathsec.sock").display(),
        dir.join("facts.toml").display()
    );
    std::fs::write(dir.join("pathsec.toml"), &text).unwrap();
    Server::start(Config::read(dir.join("pathsec.toml")).unwrap()).await.unwrap()
}

fn url(server: &Server, path: &str) -> String {
    format!("http://{}{path}", server.tcp.unwrap())
}

async fn post(client: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    let response = client.post(url).body(body.to_string()).send().await.unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_slice(&response.bytes().await.unwrap()).unwrap())
}

/// The gRPC form of a JSON request (the same fields, snake_case).
fn message(request: &Value) -> proto::DecideRequest {
    let text = |key: &str| request.get(key).and_then(Value::as_str).map(str::to_owned);
    proto::DecideRequest {
        role: text("role").unwrap_or_default(),
        event: text("event").unwrap_or_default(),
        server: text("server").unwrap_or_default(),
        device: text("device"),
        serving: text("serving"),
        home: text("home"),
        access: text("access"),
        ciphering: request.get("ciphering").and_then(Value::as_bool),
        integrity: request.get("integrity").and_then(Value::as_bool),
        access_integrity: text("access-integrity"),
        end_to_end: text("end-to-end"),
        // The registration cases without an agreement's details, as the tests write them.
        registration: text("registration").map(|case| proto::Registration { case, ..Default::default() }),
    }
}

/// What an answer comes to, either way: the decision, or the refusal's HTTP status and message.
fn http_outcome(status: u16, body: &Value) -> Value {
    if status == 200 {
        json!({ "action": body["action"], "reason": body["reason"], "fault": body.get("fault") })
    } else {
        json!({ "status": status, "error": body["error"] })
    }
}

fn grpc_outcome(result: Result<tonic::Response<proto::Decision>, tonic::Status>) -> Value {
    match result {
        Ok(response) => {
            let decision = response.into_inner();
            json!({ "action": decision.action, "reason": decision.reason, "fault": decision.fault })
        }
        Err(status) => {
            let http = match status.code() {
                tonic::Code::InvalidArgument => 400,
                tonic::Code::NotFound => 404,
                tonic::Code::FailedPrecondition => 409,
                tonic::Code::ResourceExhausted => 413,
                tonic::Code::Unauthenticated => 401,
                other => panic!("unexpected gRPC code {other:?}: {}", status.message()),
            };
            json!({ "status": http, "error": status.message() })
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_and_grpc_answer_alike() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "").await;
    let http = reqwest::Client::new();
    let mut grpc = PathSecureClient::connect(url(&server, "")).await.unwrap();

    let mut requests = Vec::new();
    for device in ["meter-17", "tracker-9", "sensor-4"] {
        for server in ["mtc.example.com", "legacy.example.org"] {
            for (role, event) in
                [("server", "send-data"), ("device", "receive-unprotected"), ("server", "receive-protected")]
            {
                requests.push(json!({ "role": role, "event": event, "server": server, "device": device }));
            }
        }
    }
    requests.extend([
        json!({ "role": "device", "event": "receive-trigger", "server": "mtc.example.com", "device": "meter-17",
                "access-integrity": "failed", "end-to-end": "absent" }),
        json!({ "role": "server", "event": "send-data", "server": "mtc.example.com",
                "home": "310410", "serving": "310410", "ciphering": true, "integrity": true }),
        json!({ "role": "server", "event": "send-data", "server": "MTC.Example.com.", "home": "310410", "serving": "31041" }),
        // Refusals: unknown device, unknown server, a wrong value, a missing home, a trigger without checks.
        json!({ "role": "server", "event": "send-data", "server": "mtc.example.com", "device": "nobody" }),
        json!({ "role": "server", "event": "send-data", "server": "unknown.example.net", "device": "meter-17" }),
        json!({ "role": "router", "event": "send-data", "server": "mtc.example.com", "device": "meter-17" }),
        json!({ "role": "server", "event": "send-data", "server": "mtc.example.com" }),
        json!({ "role": "device", "event": "receive-trigger", "server": "mtc.example.com", "device": "meter-17" }),
        json!({ "role": "server", "event": "send-data", "server": "mtc.example.com", "home": "3104100" }),
        // A named device's registration is the runtime's, not the caller's: refused, naming the field.
        json!({ "role": "server", "event": "send-data", "server": "mtc.example.com", "device": "meter-17",
                "registration": "mismatch" }),
    ]);
    let mut refused = 0;
    for request in &requests {
        let (status, body) = post(&http, &url(&server, "/v1/decide"), request).await;
        let over_http = http_outcome(status, &body);
        let over_grpc = grpc_outcome(grpc.decide(message(request)).await);
        refused += usize::from(status != 200);
        // gRPC names fields as the JSON API does, except for the JSON parser's line numbers.
        let strip = |value: &Value| json!(value.to_string().replace(" (line 1)", ""));
        assert_eq!(strip(&over_http), strip(&over_grpc), "{request}");
    }
    assert_eq!(refused, 7, "every bad request is refused, and only those");
    let (status, body) = post(&http, &url(&server, "/v1/decide"), requests.last().unwrap()).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("registration")), "{body}");

    // A batch: the same answers, in order, both ways.
    let batch: Vec<Value> = requests[..18].to_vec();
    let (status, body) = post(&http, &url(&server, "/v1/decide/batch"), &json!({ "requests": batch })).await;
    assert_eq!(status, 200, "{body}");
    let messages = batch.iter().map(message).collect();
    let answers = grpc.decide_batch(proto::DecideBatchRequest { requests: messages }).await.unwrap().into_inner();
    assert_eq!(answers.decisions.len(), 18);
    for (json, grpc) in body["decisions"].as_array().unwrap().iter().zip(&answers.decisions) {
        assert_eq!(
            (json["action"].as_str().unwrap(), json["reason"].as_str().unwrap()),
            (&*grpc.action, &*grpc.reason)
        );
    }
    // A bad request in a batch refuses the batch, naming it.
    let mut bad = batch.clone();
    bad[7]["device"] = json!("nobody");
    let (status, body) = post(&http, &url(&server, "/v1/decide/batch"), &json!({ "requests": bad })).await;
    assert_eq!((status, body["field"].as_str()), (404, Some("requests[7].device")), "{body}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_a_clear_4xx_and_the_daemon_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "").await;
    let client = reqwest::Client::new();
    let decide = url(&server, "/v1/decide");
    let send = |body: Vec<u8>| client.post(&decide).body(body).send();

    let response = send(b"{\"role\": \"server\",".to_vec()).await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("EOF"), "a truncated body says so");
    let response = send(b"{\"role\": \"server\", \"event\": \"send-data\", \"server\": \"mtc.example.com\", \"device\": \"meter-17\", \"colour\": 1}".to_vec()).await.unwrap();
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert!(body["error"].as_str().unwrap().contains("unknown field `colour`"), "{body}");
    let response = send(vec![0xff, 0xfe]).await.unwrap();
    assert_eq!(response.status(), 400);
    let response = send(vec![b' '; (1 << 20) + 1]).await.unwrap();
    assert_eq!(response.status(), 413, "a body above listen.max-body");
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert!(body["error"].as_str().unwrap().contains("listen.max-body"), "{body}");

    // Unknown related decision, and a real one.
    let (status, body) = post(&client, &url(&server, "/v1/related/teleport"), &json!({})).await;
    assert_eq!(status, 404, "{body}");
    // The subscription forbids the server: the engine rejects without asking.
    let (status, body) = post(
        &client,
        &url(&server, "/v1/related/admission"),
        &json!({ "server": "mtc.example.com", "external-id": "meter@m2m.example.com", "attachment-block-enabled": true, "server-permitted": false }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["admission"], &body["cause"], &body["asked"]),
        (&json!("reject"), &json!("subscription-forbids"), &json!(false)),
        "{body}"
    );
    // A malformed external identifier is refused, naming the field.
    let (status, body) = post(
        &client,
        &url(&server, "/v1/related/admission"),
        &json!({ "server": "mtc.example.com", "external-id": "no-at-sign", "server-named": true }),
    )
    .await;
    assert_eq!((status, body["field"].as_str()), (400, Some("external-id")), "{body}");
    // The same over gRPC.
    let mut grpc = PathSecureClient::connect(url(&server, "")).await.unwrap();
    let verdict = grpc
        .admit(proto::AdmissionRequest {
            server: "mtc.example.com".into(),
            external_id: "meter@m2m.example.com".into(),
            attachment_block_enabled: true,
            server_permitted: Some(false),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (verdict.admission.as_str(), verdict.cause.as_deref(), verdict.asked),
        ("reject", Some("subscription-forbids"), false)
    );
    // A trigger submission, counted by the runtime.
    let (status, body) =
        post(&client, &url(&server, "/v1/related/submission"), &json!({ "server": "mtc.example.com" })).await;
    assert_eq!(status, 200, "{body}");
    let counted =
        grpc.submit_trigger(proto::SubmissionRequest { server: "mtc.example.com".into() }).await.unwrap().into_inner();
    assert_eq!(
        (Some(counted.accept), Some(counted.reason.as_str())),
        (body["accept"].as_bool(), body["reason"].as_str())
    );
    let refused = grpc
        .admit(proto::AdmissionRequest { server: "nowhere.example".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::NotFound);

    // A client that opens a connection and never finishes its headers is closed after the timeout…
    let mut slow = tokio::net::TcpStream::connect(server.tcp.unwrap()).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut slow, b"POST /v1/decide HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // …while everyone else is served.
    let (status, _) = post(
        &client,
        &decide,
        &json!({ "role": "server", "event": "send-data", "server": "mtc.example.com", "device": "meter-17" }),
    )
    .await;
    assert_eq!(status, 200);
    let mut buffer = [0u8; 256];
    let read =
        tokio::time::timeout(Duration::from_secs(10), tokio::io::AsyncReadExt::read(&mut slow, &mut buffer)).await;
    assert!(matches!(read, Ok(Ok(_))), "the slow client's connection was closed (or answered) by the header timeout");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrative_calls_need_the_token_or_the_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "").await;
    let client = reqwest::Client::new();
    let device = url(&server, "/v1/devices/pump-2");
    let facts = json!({ "home": "310410", "serving": "310410", "ciphering": true, "integrity": true });

    let response = client.put(&device).body(facts.to_string()).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let response =
        client.put(&device).bearer_auth("wrong-token-wrong-token").body(facts.to_string()).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let response = client.put(&device).bearer_auth(TOKEN).body(facts.to_string()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let (status, body) = post(
        &client,
        &url(&server, "/v1/decide"),
        &json!({ "role": "server", "event": "send-data", "server": "mtc.example.com", "device": "pump-2" }),
    )
    .await;
    assert_eq!((status, body["action"].as_str()), (200, Some("send-plain")), "{body}");

    // Over the Unix socket, no token: take List 1's 310410 away, and the same flow is no longer plain.
    let lists = json!({ "path-a": ["20801"], "path-b": [{ "home": "310410", "server": "mtc.example.com" }] });
    let answer = unix_request(&server, "PUT", "/v1/lists", &lists.to_string()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (_, body) = post(
        &client,
        &url(&server, "/v1/decide"),
        &json!({ "role": "server", "event": "send-data", "server": "mtc.example.com", "device": "pump-2" }),
    )
    .await;
    assert_eq!(body["action"], "secure-then-send", "{body}");

    // A swap over gRPC with the token: a component that is not one is refused; the policy stays.
    let mut grpc = PathSecureClient::connect(url(&server, "")).await.unwrap();
    let mut swap =
        tonic::Request::new(proto::SwapPolicyRequest { name: "junk".into(), component: b"not wasm".to_vec() });
    swap.metadata_mut().insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let refused = grpc.swap_policy(swap).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    assert_eq!(server.service().status().policy, "reference");
    let mut swap = tonic::Request::new(proto::SwapPolicyRequest {
        name: "always-secure".into(),
        component: pathsec::bundled::ALWAYS_SECURE.to_vec(),
    });
    swap.metadata_mut().insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let swapped = grpc.swap_policy(swap).await.unwrap().into_inner();
    assert_eq!(swapped.name, "always-secure");
    assert_eq!(server.service().status().policy, "always-secure");
    server.shutdown().await.unwrap();
}

/// One HTTP/1.1 request over the daemon's Unix socket; the raw answer.
async fn unix_request(server: &Server, method: &str, path: &str, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::UnixStream::connect(server.unix.as_ref().unwrap()).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: pathsec\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

/// A decision-log sink: takes gzip JSON batches, keeps the entries; answers 503 while `down`.
async fn sink(entries: Arc<Mutex<Vec<Value>>>, down: Arc<AtomicBool>) -> std::net::SocketAddr {
    use axum::body::Bytes;
    use axum::http::StatusCode;
    let app = axum::Router::new().route(
        "/logs",
        axum::routing::post(move |body: Bytes| {
            let (entries, down) = (Arc::clone(&entries), Arc::clone(&down));
            async move {
                if down.load(Ordering::SeqCst) {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let mut json = String::new();
                std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut json).unwrap();
                let batch: Vec<Value> = serde_json::from_str(&json).unwrap();
                entries.lock().unwrap().extend(batch);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_reaches_an_http_sink_across_its_outage_with_nothing_lost() {
    let entries = Arc::new(Mutex::new(Vec::new()));
    let down = Arc::new(AtomicBool::new(false));
    let address = sink(Arc::clone(&entries), Arc::clone(&down)).await;
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "[log]\nfile = \"{}\"\nmask = [\"device\"]\n[log.http]\nurl = \"http://{address}/logs\"\nflush-every = \"50ms\"\nretry-min = \"20ms\"\nretry-max = \"100ms\"\nbatch-bytes = 4096\n",
        dir.path().join("decisions.jsonl").display()
    );
    let server = start(dir.path(), &extra).await;
    let client = reqwest::Client::new();
    let request =
        |device: &str| json!({ "role": "server", "event": "send-data", "server": "mtc.example.com", "device": device });

    let mut decided = 0;
    for round in 0..3 {
        // The middle round runs while the sink is down.
        down.store(round == 1, Ordering::SeqCst);
        for device in ["meter-17", "tracker-9", "sensor-4"].iter().cycle().take(100) {
            let (status, _) = post(&client, &url(&server, "/v1/decide"), &request(device)).await;
            assert_eq!(status, 200);
            decided += 1;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    down.store(false, Ordering::SeqCst);
    let metrics = client.get(url(&server, "/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("pathsec_decision_log_ship_failures_total"), "{metrics}");
    server.shutdown().await.unwrap();

    let entries = entries.lock().unwrap();
    let ids: BTreeSet<&str> = entries.iter().filter_map(|entry| entry["id"].as_str()).collect();
    assert_eq!(ids.len(), decided, "every decision reached the sink exactly once by id");
    assert!(entries.iter().all(|entry| entry.get("dropped").is_none()), "nothing was dropped");
    for entry in entries.iter() {
        assert_eq!(entry["v"], pathsec::runtime::LOG_FORMAT_VERSION);
        assert_eq!(entry["device"], "***", "masked");
        assert!(entry["decided"].as_str().unwrap() <= entry["logged"].as_str().unwrap());
    }
    // The same entries, masked, in the local file.
    let file = std::fs::read_to_string(dir.path().join("decisions.jsonl")).unwrap();
    assert_eq!(file.lines().count(), decided);
    assert!(!file.contains("meter-17"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_names_exactly_the_routes_the_server_has() {
    let document: Value = serde_json::from_str(pathsec_serve::api::http::OPENAPI).unwrap();
    let mut documented = BTreeSet::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys().filter(|key| *key != "parameters") {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let routes: BTreeSet<_> =
        pathsec_serve::api::http::ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, routes, "openapi.json and the server's routes differ");

    // And the server really answers each of them (not with the fallback's "no such route").
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "").await;
    let client = reqwest::Client::new();
    for (method, path) in &routes {
        let path = path.replace("{name}", "meter-17");
        let request = client.request(method.to_uppercase().parse().unwrap(), url(&server, &path)).body("{}");
        let text = request.send().await.unwrap().text().await.unwrap();
        assert!(!text.contains("no such route"), "{method} {path}: {text}");
    }
    let text = client.get(url(&server, "/v2/nothing")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("no such route"));
    server.shutdown().await.unwrap();
}

#[test]
fn a_python_client_against_a_running_daemon() {
    let python = pathsec_serve_tests::python_tools();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = runtime.block_on(start(dir.path(), ""));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/client.py");
    let output = std::process::Command::new(&python).arg(&script).arg(url(&server, "")).arg(TOKEN).output().unwrap();
    runtime.block_on(server.shutdown()).unwrap();
    assert!(
        output.status.success(),
        "tests/client.py failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

mod pathsec_serve_tests {
    use std::path::PathBuf;

    /// The Python of the project's tool environment (`scripts/python-tools.sh`: requests, the
    /// Prometheus client's parser, schemathesis), made on first use behind a lock in the tool cache
    /// outside the clone; the script prints where.
    pub fn python_tools() -> PathBuf {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let output = std::process::Command::new("bash")
            .arg(root.join("scripts/python-tools.sh"))
            .stderr(std::process::Stdio::inherit())
            .output()
            .unwrap();
        assert!(output.status.success(), "scripts/python-tools.sh failed");
        PathBuf::from(String::from_utf8(output.stdout).unwrap().trim()).join("bin/python")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_closed_at_once_and_counted() {
    use tokio::io::AsyncReadExt;
    pathsec_fleet::tls::install_provider();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("facts.toml"), FACTS).unwrap();
    let text = format!(
        "[listen]\ntcp = \"127.0.0.1:0\"\nmax-connections = 2\n[policy]\nbundled = \"reference\"\n[facts]\nfile = \"{}\"\n",
        dir.path().join("facts.toml").display()
    );
    let server = Server::start(Config::parse("pathsec.toml", &text).unwrap()).await.unwrap();
    let address = server.tcp.unwrap();

    let idle = [
        tokio::net::TcpStream::connect(address).await.unwrap(),
        tokio::net::TcpStream::connect(address).await.unwrap(),
    ];
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut buffer = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(2), third.read(&mut buffer)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the third connection is closed at once: {read:?}");

    drop(idle);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let metrics = reqwest::get(format!("http://{address}/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("pathsec_serve_connections_refused_total 1"), "{metrics}");
    server.shutdown().await.unwrap();
}

/// The registration settings of `pathsec.toml` reach the runtime, and `/v1/status` (and gRPC `Status`)
/// shows them; a bad one stops the daemon before it listens, naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_settings_are_in_force_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    let settings = "[registration]\ntimer = \"90m\"\noptions = [\"oscore\", \"dtls-1.3\"]\n\
                    roaming = [{ home = \"310410\", visited = [\"20801\"] }]\n\
                    [device]\naccept-plain-from = [\"MTC.example.com.\"]\n";
    let server = start(dir.path(), settings).await;
    let http = reqwest::Client::new();
    let status: Value = http.get(url(&server, "/v1/status")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        status["registration"],
        json!({ "timer-seconds": 5400, "options": ["oscore", "dtls-1.3"], "serves": [],
                "roaming-limited": ["310410"], "accept-plain-from": ["mtc.example.com"],
                "accept-plain-unciphered": false })
    );
    let mut grpc = PathSecureClient::connect(url(&server, "")).await.unwrap();
    let answer = grpc.status(proto::StatusRequest {}).await.unwrap().into_inner();
    let registration = answer.registration.expect("registration settings");
    assert_eq!((registration.timer_seconds, registration.options.len()), (5400, 2));

    let refused = Config::parse("pathsec.toml", "[policy]\nbundled = \"reference\"\n[registration]\ntimer = \"0s\"\n")
        .expect_err("a zero timer");
    assert!(refused.to_string().contains("registration.timer"), "{refused}");
    let refused = Config::parse("pathsec.toml", "[policy]\nbundled = \"reference\"\n[device]\naccept-plain = true\n")
        .expect_err("an unknown field");
    assert!(refused.to_string().contains("accept-plain"), "{refused}");
}

/// A port another process holds: the daemon does not start, and says why once (the cause in the
/// message, not also its source: the CLI prints the chain).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_stops_the_daemon_saying_why_once() {
    pathsec_fleet::tls::install_provider();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let text = format!("[listen]\ntcp = \"127.0.0.1:{port}\"\n[policy]\nbundled = \"reference\"\n");
    let error = Server::start(Config::parse("pathsec.toml", &text).unwrap()).await.err().expect("the port is taken");
    let chain = pathsec_suite::checks::cause_once(&error);
    assert_eq!(chain.len(), 1, "{chain:?}");
    assert!(chain[0].contains("cannot listen on 127.0.0.1:") && chain[0].contains("in use"), "{chain:?}");
}
