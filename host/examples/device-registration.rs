//! The registration exchange, both sides (000, FIG. 7, FIGS. 8-9, FIG. 10): a device registers with a
//! simulated MTC server that has no network view, stores the server's indication and decides from it;
//! then it moves to a network whose path to home is not known to be secure, re-registers, and secures.
//! `cargo run -p pathsec --example device-registration`

use pathsec::exchange::{Format, Indication, Report};
use pathsec::runtime::Carried;
use pathsec::{AccessKind, Attach, Engine, Event, FactSet, Flow, LinkState, Role, Runtime};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = Engine::new()?;
    let reference = engine.load_policy("reference", pathsec::bundled::REFERENCE)?;
    let (home, visited, other) = ("310410".parse()?, "20801".parse()?, "44010".parse()?);
    let fqdn = "mtc.example.com".parse()?;
    // The operator's lists, configured on the server (FIG. 7 step 1) and on the device.
    let mut lists = FactSet::builder();
    let server_id = lists.server("mtc.example.com".parse()?);
    lists.trust_path_a(home).trust_path_a(visited).trust_path_a(other);
    lists.trust_path_b(home, server_id).trust_interconnect(visited);
    let lists = lists.build();

    // The server: no 3GPP monitoring, so it will take the device's report as the information.
    let server = Runtime::builder(reference.clone()).lists(lists.to_builder().build()).build()?;
    // The device: its own runtime, with the facts its modem knows (FIG. 7 steps 2-3).
    let device = Runtime::builder(reference).lists(lists).build()?;
    let me = device.device_id("imsi-310410000000001")?;
    device.set_attach(me, Attach { serving: Some(visited), home, access: AccessKind::ThreeGpp })?;
    device.set_link(me, LinkState { ciphering: true, integrity: true })?;
    let reregistrations = device.reregistrations();

    let register = |device: &Runtime| -> Result<Indication, Box<dyn std::error::Error>> {
        // FIG. 7 step 4: the report, in CBOR, over the protected registration exchange.
        let report = device.registration_report(me, &fqdn, vec!["dtls-1.3".parse()?])?;
        let sent = report.encode(Format::Cbor);
        println!(
            "device → server: report ({} bytes of CBOR): serving {}, access ciphering {}, integrity {}",
            sent.len(),
            report.serving,
            report.link.ciphering,
            report.link.integrity
        );
        // FIG. 7 steps 5-8a, on the server.
        let received = Report::decode(Format::Cbor, &sent)?;
        let indication = server.worker().register(&received, Carried::Protected)?;
        let answer = indication.encode(Format::Json);
        println!("server → device: indication {}", String::from_utf8_lossy(&answer));
        // FIG. 7 step 8b, on the device.
        let indication = Indication::decode(Format::Json, &answer)?;
        let state = device.accept_indication(me, &indication, Carried::Protected)?;
        println!("device stores it: {state:?}");
        Ok(indication)
    };

    register(&device)?;
    let server_on_device = device.server_id(&fqdn);
    let send = Flow { device: me, server: server_on_device, role: Role::Device, event: Event::SendData };
    let mut worker = device.worker();
    println!("FIG. 9, the device sends: {}", worker.decide(&send));

    // FIG. 10 step 1: the device moves to 44010 (List 1 only): the agreement no longer stands.
    device.set_attach(me, Attach { serving: Some(other), home, access: AccessKind::ThreeGpp })?;
    let due = reregistrations.try_recv()?;
    println!("re-registration due with {}: {}", due.server_name.map(|n| n.to_string()).unwrap_or_default(), due.cause);
    println!("until it is made, the device sends: {}", worker.decide(&send));
    register(&device)?;
    println!("after it, the device sends: {}", worker.decide(&send));

    // A replayed indication is refused; the stored agreement stands.
    let replayed = server.worker().register(&device.registration_report(me, &fqdn, Vec::new())?, Carried::Protected)?;
    let old = Indication { sequence: 1, ..replayed };
    if let Err(error) = device.accept_indication(me, &old, Carried::Protected) {
        println!("a replayed indication is refused: {error}");
    }
    Ok(())
}
