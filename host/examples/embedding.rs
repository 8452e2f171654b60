//! The README's embedding example: a runtime, live facts, and a worker deciding a flow.
//! `cargo run -p pathsec --example embedding`

use pathsec::{AccessKind, Attach, Engine, Event, Flow, LinkState, Role, Runtime};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = Engine::new()?; // compiles; one per process
    let runtime = Runtime::new(engine.load_policy("reference", pathsec::bundled::REFERENCE)?)?; // self-checks
    let home = "310410".parse()?; // MCC 310, MNC "410" (not "31041")
    let server = runtime.server_id(&"mtc.example.com".parse()?); // servers and devices are handles
    runtime.update_lists(|lists| {
        lists.trust_path_a(home).trust_path_b(home, server);
    });
    let device = runtime.device_id("imsi-310410000000001")?;
    runtime.set_attach(device, Attach { serving: Some(home), home, access: AccessKind::ThreeGpp })?;
    runtime.set_link(device, LinkState { ciphering: true, integrity: true })?;

    let mut worker = runtime.worker(); // one per thread, no lock on the hot path
    let flow = Flow { device, server, role: Role::Server, event: Event::SendData };
    println!("{}", worker.decide(&flow)); // send-plain (path-secure: every part of the path is secure)

    runtime.set_link(device, LinkState { ciphering: false, integrity: false })?; // the network told us: both off
    println!("{}", worker.decide(&flow)); // secure-then-send (access-not-protected: …)
    Ok(())
}
