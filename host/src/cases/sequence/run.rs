//! A sequence run: two nodes on the policy under test with one manual clock, each step applied in turn
//! and checked against what it wants, one function per group of steps.

use std::collections::HashMap;
use std::sync::mpsc::Receiver;
use std::time::{Duration, SystemTime};

use super::{Node, ReportFields, START, SequenceCase, Step, Tamper, WantState};
use crate::exchange::{Format, Indication, Report};
use crate::facts::FactSet;
use crate::facts::files;
use crate::related::{
    AdmissionLimits, GatewayCall, MediaLimits, NameAsk, NameOutcome, NameRecord, PushTrigger, TriggerLimits,
};
use crate::runtime::{
    Carried, DeviceConfig, DeviceId, ManualClock, ReRegistration, RegistrationConfig, RegistrationState, Runtime,
    SessionId,
};
use crate::vocab::{AccessKind, Attach, Decision, Fqdn, LinkState, Request, ServerId};
use crate::wasm::Policy;
use crate::wasm::plug::Verdict;

impl SequenceCase {
    /// Runs the sequence with `policy` on both nodes, starting from `lists`. `observe` sees every
    /// decision the policy was asked for, with the node's lists and the request (so a test can hold it
    /// against an oracle).
    /// `Ok` with the number of steps, or the first step that did not get what it wanted.
    pub fn run(
        &self,
        policy: &Policy,
        lists: &FactSet,
        observe: impl FnMut(&FactSet, &Request, &Decision),
    ) -> Result<usize, String> {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH + START);
        let mut registration = RegistrationConfig { options: self.options.clone(), ..RegistrationConfig::default() };
        if let Some(timer) = self.timer {
            registration.timer = Duration::from_secs(timer);
        }
        for entry in &self.roaming {
            registration.roaming.entry(entry.home).or_default().extend(entry.visited.iter().copied());
        }
        let device_config =
            DeviceConfig { accept_plain_from: self.accept_plain_from.clone(), ..DeviceConfig::default() };
        let admission = match self.trigger_limits {
            None => AdmissionLimits::default(),
            Some(file) => AdmissionLimits {
                triggers: TriggerLimits {
                    quota: file.quota,
                    period: Duration::from_secs(file.period),
                    rate_limit: file.rate_limit,
                    rate_window: Duration::from_secs(file.rate_window),
                },
                ..AdmissionLimits::default()
            },
        };
        admission.check().map_err(|e| format!("`trigger-limits`: {e}"))?;
        let media = self.vouchers.map_or_else(MediaLimits::default, |file| MediaLimits {
            vouchers: file.capacity,
            timeout: Duration::from_secs(file.timeout),
        });
        let node = |configure: &dyn Fn(crate::runtime::RuntimeBuilder) -> crate::runtime::RuntimeBuilder| {
            let builder = Runtime::builder(policy.clone())
                .lists(lists.to_builder().build())
                .clock(clock.clone())
                .admission(admission.clone())
                .map_err(|e| e.to_string())?
                .media(media)
                .map_err(|e| format!("`vouchers`: {e}"))?;
            let runtime = configure(builder).build().map_err(|e| e.to_string())?;
            let events = runtime.reregistrations();
            Ok::<_, String>(Running { runtime, events })
        };
        let server = node(&|b| b.registration(registration.clone()))?;
        let device = node(&|b| b.device_config(device_config.clone()))?;
        let mut run = Run {
            case: self,
            nodes: Nodes { server, device },
            clock,
            sessions: HashMap::new(),
            indications: HashMap::new(),
            observe,
        };
        for (index, step) in self.steps.iter().enumerate() {
            run.step(step).map_err(|problem| format!("step {} ({}): {problem}", index + 1, step.name()))?;
        }
        Ok(self.steps.len())
    }

    /// The report a `register` step sends: the device node's, with the step's fields over it.
    fn report(
        &self,
        device: &Running,
        name: &str,
        server: &Fqdn,
        fields: Option<&ReportFields>,
    ) -> Result<Report, String> {
        let fields = fields.cloned().unwrap_or_default();
        let id = device.runtime.device_id(name).map_err(|e| e.to_string())?;
        let built = device.runtime.registration_report(id, server, fields.options.clone()).ok();
        let missing = |field: &str| format!("the device node does not know the device's facts: give `report.{field}`");
        let serving = fields.serving.or(built.as_ref().map(|r| r.serving)).ok_or_else(|| missing("serving"))?;
        let home = fields.home.or(built.as_ref().map(|r| r.home)).ok_or_else(|| missing("home"))?;
        let ciphering =
            fields.ciphering.or(built.as_ref().map(|r| r.link.ciphering)).ok_or_else(|| missing("ciphering"))?;
        let integrity =
            fields.integrity.or(built.as_ref().map(|r| r.link.integrity)).ok_or_else(|| missing("integrity"))?;
        let access = fields.access.or(built.as_ref().map(|r| r.access)).unwrap_or(AccessKind::ThreeGpp);
        Ok(Report {
            device: name.to_owned(),
            server: server.clone(),
            home,
            serving,
            access,
            link: LinkState { ciphering, integrity },
            options: fields.options,
            lists: built.as_ref().and_then(|r| r.lists),
            sequence: built.map_or(1, |r| r.sequence),
        })
    }
}

/// A node of a running sequence.
struct Running {
    runtime: Runtime,
    events: Receiver<ReRegistration>,
}

/// The two nodes.
struct Nodes {
    server: Running,
    device: Running,
}

impl Nodes {
    fn on(&self, node: Node) -> &Running {
        match node {
            Node::Server => &self.server,
            Node::Device => &self.device,
        }
    }
}

/// A sequence while it runs: its nodes and clock, and the sessions opened and indications sent so far.
struct Run<'a, O> {
    case: &'a SequenceCase,
    nodes: Nodes,
    clock: ManualClock,
    sessions: HashMap<String, (Node, SessionId)>,
    indications: HashMap<String, Vec<Indication>>,
    observe: O,
}

/// `name`'s handle on `node`.
fn id(node: &Running, name: &str) -> Result<DeviceId, String> {
    node.runtime.device_id(name).map_err(|e| e.to_string())
}

impl<O: FnMut(&FactSet, &Request, &Decision)> Run<'_, O> {
    /// Runs one step: `Ok`, or what it got instead of what it wanted.
    fn step(&mut self, step: &Step) -> Result<(), String> {
        match step {
            Step::Attach { .. }
            | Step::Detach { .. }
            | Step::Link { .. }
            | Step::Trust { .. }
            | Step::Distrust { .. }
            | Step::Advance { .. } => self.facts(step),
            Step::Register { .. }
            | Step::Deliver { .. }
            | Step::RequestReregistration { .. }
            | Step::Poll { .. }
            | Step::Event { .. } => self.registration(step),
            Step::Admit { .. }
            | Step::Submit { .. }
            | Step::StoreVoucher { .. }
            | Step::Correlate { .. }
            | Step::Push { .. }
            | Step::PushRegister { .. }
            | Step::PushDeregister { .. }
            | Step::Triggered { .. }
            | Step::Associate { .. }
            | Step::Bind { .. }
            | Step::RequestName { .. } => self.related(step),
            Step::OpenSession { .. } | Step::CloseSession { .. } | Step::Decide { .. } => self.sessions(step),
        }
    }

    /// The steps that change a node's facts or the clock: `attach`, `detach`, `link`, `trust`, `distrust`,
    /// `advance`.
    fn facts(&mut self, step: &Step) -> Result<(), String> {
        match step {
            Step::Attach { on: node, device, home, serving, access } => {
                let node = self.nodes.on(*node);
                let attach = Attach { serving: *serving, home: *home, access: *access };
                node.runtime.set_attach(id(node, device)?, attach).map_err(|e| e.to_string())?;
            }
            Step::Detach { on: node, device } => {
                let node = self.nodes.on(*node);
                node.runtime.clear_attach(id(node, device)?).map_err(|e| e.to_string())?;
            }
            Step::Link { on: node, device, ciphering, integrity } => {
                let node = self.nodes.on(*node);
                let link = LinkState { ciphering: *ciphering, integrity: *integrity };
                node.runtime.set_link(id(node, device)?, link).map_err(|e| e.to_string())?;
            }
            Step::Trust { on: node, lists } | Step::Distrust { on: node, lists } => {
                let trust = matches!(step, Step::Trust { .. });
                self.nodes.on(*node).runtime.update_lists(|builder| lists.edit(builder, trust));
            }
            Step::Advance { seconds } => self.clock.advance(Duration::from_secs(*seconds)),
            _ => unreachable!("`Run::step` routes only facts steps here"),
        }
        Ok(())
    }

    /// The registration exchange's steps: `register`, `deliver`, `request-reregistration`, `poll`,
    /// `event`.
    fn registration(&mut self, step: &Step) -> Result<(), String> {
        match step {
            Step::Register {
                device: name,
                server: fqdn,
                protected,
                report,
                deliver,
                want,
                want_error,
                want_device,
                answer,
            } => {
                let report = self.case.report(&self.nodes.device, name, fqdn, report.as_ref())?;
                let wire = report.encode(Format::Cbor);
                let report = Report::decode(Format::Cbor, &wire).map_err(|e| e.to_string())?;
                let carried = if *protected { Carried::Protected } else { Carried::Unprotected };
                let registered = self.nodes.server.runtime.worker().register(&report, carried);
                let indication = match (registered, want_error) {
                    (Err(error), Some(wanted)) if error.to_string().contains(wanted.as_str()) => return Ok(()),
                    (Err(error), _) => return Err(format!("refused: {error}")),
                    (Ok(_), Some(wanted)) => return Err(format!("wanted an error containing `{wanted}`")),
                    (Ok(indication), None) => indication,
                };
                if let Some(want) = want {
                    let got = (indication.application_security, indication.reason);
                    if got != (want.application_security, want.reason) {
                        return Err(format!(
                            "want application-security {} ({}), got {} ({})",
                            want.application_security, want.reason, got.0, got.1
                        ));
                    }
                }
                let mut indication = indication;
                if let Some(answer) = answer {
                    indication.application_security = answer.application_security;
                    indication.reason = answer.reason;
                }
                self.indications.entry(name.clone()).or_default().push(indication.clone());
                if !deliver {
                    return Ok(());
                }
                let id = id(&self.nodes.device, name)?;
                let state = self
                    .nodes
                    .device
                    .runtime
                    .accept_indication(id, &indication, Carried::Protected)
                    .map_err(|e| e.to_string())?;
                if let Some(want) = want_device {
                    let got = match state {
                        RegistrationState::Standing(_) => WantState::Standing,
                        RegistrationState::Pending(_) => WantState::Pending,
                        _ => WantState::None,
                    };
                    if got != *want {
                        return Err(format!("want the device {want:?}, got {state:?}"));
                    }
                }
            }
            Step::Deliver { device: name, of, tamper, want_error } => {
                let sent = self.indications.get(name).map(Vec::as_slice).unwrap_or_default();
                let last = match of {
                    Some(of) => of.checked_sub(1).and_then(|index| sent.get(index)).ok_or_else(|| {
                        format!("`of = {of}`: the device registered {} times so far (count from 1)", sent.len())
                    })?,
                    None => sent.last().ok_or_else(|| "no indication was sent to it yet".to_owned())?,
                };
                let id = id(&self.nodes.device, name)?;
                let error = match tamper {
                    Tamper::Truncated => {
                        let wire = last.encode(Format::Cbor);
                        Indication::decode(Format::Cbor, &wire[..wire.len() / 2]).err().map(|e| e.to_string())
                    }
                    tamper => {
                        let mut forged = last.clone();
                        match tamper {
                            Tamper::OtherDevice => forged.device = format!("{name}-other"),
                            Tamper::OtherServer => {
                                forged.server = "forged.example.net".parse().map_err(|e| format!("{e}"))?
                            }
                            Tamper::Expired => {
                                forged.expires = self
                                    .nodes
                                    .device
                                    .runtime
                                    .now()
                                    .duration_since(SystemTime::UNIX_EPOCH)
                                    .map_or(0, |d| d.as_secs())
                            }
                            _ => {}
                        }
                        if !matches!(tamper, Tamper::Replay | Tamper::None | Tamper::Unprotected) {
                            forged.sequence += 1;
                        }
                        let arrived = match tamper {
                            Tamper::Unprotected => Carried::Unprotected,
                            _ => Carried::Protected,
                        };
                        self.nodes.device.runtime.accept_indication(id, &forged, arrived).err().map(|e| e.to_string())
                    }
                };
                match error {
                    Some(error) if error.contains(want_error.as_str()) => {}
                    Some(error) => {
                        return Err(format!("wanted an error containing `{want_error}`, got: {error}"));
                    }
                    None => return Err(format!("accepted; wanted an error containing `{want_error}`")),
                }
            }
            Step::RequestReregistration { on: node, device, server: fqdn } => {
                let node = self.nodes.on(*node);
                let server = node.runtime.server_id(fqdn);
                node.runtime.request_reregistration(id(node, device)?, server).map_err(|e| e.to_string())?;
            }
            Step::Poll { on: node, want } => {
                let got = self.nodes.on(*node).runtime.poll_registrations();
                if got != *want {
                    return Err(format!("want {want} timers ended, got {got}"));
                }
            }
            Step::Event { on: node, device, cause } => {
                let next = self.nodes.on(*node).events.try_recv().ok();
                match (next, cause) {
                    (None, None) => {}
                    (Some(event), None) => {
                        return Err(format!("want no event, got {} for `{}`", event.cause, event.device_name));
                    }
                    (None, Some(cause)) => return Err(format!("want a `{cause}` event, got none")),
                    (Some(event), Some(cause)) => {
                        let device_matches = device.as_deref().is_none_or(|name| *event.device_name == *name);
                        if event.cause != *cause || !device_matches {
                            return Err(format!("want `{cause}`, got `{}` for `{}`", event.cause, event.device_name));
                        }
                    }
                }
            }
            _ => unreachable!("`Run::step` routes only registration steps here"),
        }
        Ok(())
    }

    /// The related decisions' steps: `admit`, `submit`, `store-voucher`, `correlate`, `push`,
    /// `push-register`, `push-deregister`, `triggered`, `associate`, `bind`, `request-name`.
    fn related(&mut self, step: &Step) -> Result<(), String> {
        match step {
            Step::Admit { on: node, request, want } => {
                let runtime = &self.nodes.on(*node).runtime;
                let server = runtime.server_id(&request.server);
                let request = request.request(server).map_err(|(field, message)| format!("`{field}`: {message}"))?;
                let want = want.verdict(&request).map_err(|(_, message)| message)?;
                let got = runtime.worker().admit(&request);
                if !got.same_answer(&want) || (got.fault.is_some() && !want.is_fail_closed()) {
                    return Err(format!("want {want}, got {got}"));
                }
            }
            Step::StoreVoucher { on: node, calling, called, voucher, want_error } => {
                let stored = self.nodes.on(*node).runtime.store_voucher(calling, called, voucher.as_bytes().to_vec());
                match (stored, want_error) {
                    (Ok(()), None) => {}
                    (Err(error), Some(want)) if error.to_string().contains(want.as_str()) => {}
                    (Ok(()), Some(want)) => {
                        return Err(format!("want an error containing `{want}`, got it stored"));
                    }
                    (Err(error), _) => return Err(format!("want it stored, got: {error}")),
                }
            }
            Step::Correlate { on: node, calling, called, crosses_cs_leg, via_gateway, network_path_secure, want } => {
                let call = GatewayCall {
                    calling: calling.clone(),
                    called: called.clone(),
                    crosses_cs_leg: *crosses_cs_leg,
                    via_gateway: *via_gateway,
                    network_path_secure: *network_path_secure,
                };
                let got = self.nodes.on(*node).runtime.worker().correlate_media(&call);
                let released = match want.voucher.as_str() {
                    "released" => true,
                    "none" => false,
                    other => {
                        return Err(format!("`{other}` is not a voucher outcome: write `released` or `none`"));
                    }
                };
                if (got.protection, got.reason, got.voucher.is_some()) != (want.protection, want.reason, released) {
                    let voucher = if released { ", voucher released" } else { "" };
                    return Err(format!("want {} ({}){voucher}, got {got}", want.protection, want.reason));
                }
            }
            Step::Push {
                on: node,
                device,
                naf,
                sequence,
                mac_verified,
                fields_covered,
                key_expires_in,
                trigger_time,
                want,
                triggered_for,
            } => {
                let node = self.nodes.on(*node);
                let now = node.runtime.now();
                let key_expires = match u64::try_from(*key_expires_in) {
                    Ok(ahead) => now + Duration::from_secs(ahead),
                    Err(_) => now - Duration::from_secs(key_expires_in.unsigned_abs()),
                };
                let push = PushTrigger {
                    naf: node.runtime.server_id(naf),
                    sequence: *sequence,
                    mac_verified: *mac_verified,
                    fields_covered: *fields_covered,
                    key_expires,
                    trigger_time: trigger_time.map(Duration::from_secs),
                    window: None,
                };
                let got = node.runtime.worker().receive_push(id(node, device)?, &push).map_err(|e| e.to_string())?;
                if (got.outcome, got.reason) != (want.outcome, want.reason) {
                    return Err(format!("want {} ({}), got {got}", want.outcome, want.reason));
                }
                if let Some(want) = triggered_for {
                    triggered(node, id(node, device)?, push.naf, *want)?;
                }
            }
            Step::PushRegister { on: node, device, naf } => {
                let node = self.nodes.on(*node);
                let naf = node.runtime.server_id(naf);
                node.runtime.register_push(id(node, device)?, naf).map_err(|e| e.to_string())?;
            }
            Step::PushDeregister { on: node, device, naf } => {
                let node = self.nodes.on(*node);
                let naf = node.runtime.server_id(naf);
                node.runtime.deregister_push(id(node, device)?, naf).map_err(|e| e.to_string())?;
            }
            Step::Triggered { on: node, device, naf, want } => {
                let node = self.nodes.on(*node);
                triggered(node, id(node, device)?, node.runtime.server_id(naf), *want)?;
            }
            Step::Associate { on: node, subscriber, home_addresses } => {
                self.nodes
                    .on(*node)
                    .runtime
                    .establish_association(subscriber, home_addresses.clone())
                    .map_err(|e| e.to_string())?;
            }
            Step::Bind { on: node, subscriber, home_address, want } => {
                let got = self.nodes.on(*node).runtime.worker().update_binding(subscriber, *home_address);
                if (got.outcome, got.reason) != (want.outcome, want.reason) {
                    return Err(format!("want {} ({}), got {got}", want.outcome, want.reason));
                }
            }
            Step::RequestName {
                on: node,
                requester,
                name,
                operator_domain,
                subscriber_number,
                subscriber_name,
                address,
                want,
            } => {
                let ask = NameAsk {
                    requester: requester.clone(),
                    name: name.clone(),
                    operator_domain: operator_domain.clone(),
                    subscriber_number: subscriber_number.clone(),
                    subscriber_name: subscriber_name.clone(),
                    address: *address,
                };
                let got = self.nodes.on(*node).runtime.worker().request_name(&ask);
                let want_record = match (want.outcome.as_str(), &want.name, &want.refusal) {
                    ("grant", Some(name), None) => Some(NameRecord { name: name.clone(), address: *address }),
                    ("refuse", None, Some(_)) => None,
                    _ => {
                        return Err(
                            "want `{ outcome = \"grant\", name, bound-to }` or `{ outcome = \"refuse\", refusal }`"
                                .to_owned(),
                        );
                    }
                };
                let bound_ok = match (&got.outcome, &want.bound_to) {
                    (NameOutcome::Grant { bound_to, .. }, Some(want)) => bound_to == want,
                    _ => true,
                };
                let refusal_ok = match (&got.outcome, &want.refusal) {
                    (NameOutcome::Refuse(refusal), Some(want)) => refusal == want,
                    (NameOutcome::Refuse(_), None) => false,
                    _ => true,
                };
                if got.record != want_record || !bound_ok || !refusal_ok {
                    return Err(format!(
                        "want {} {}, got {got}",
                        want.outcome,
                        want.name.as_ref().map_or_else(|| format!("{:?}", want.refusal), ToString::to_string)
                    ));
                }
            }
            Step::Submit { on: node, server, want } => {
                let runtime = &self.nodes.on(*node).runtime;
                let got = runtime.worker().submit_trigger(runtime.server_id(server));
                if (got.accept, got.reason) != (want.accept, want.reason) {
                    let want = if want.accept { "accept" } else { "refuse" };
                    return Err(format!("want {want} ({}), got {got}", step_reason(step)));
                }
            }
            _ => unreachable!("`Run::step` routes only related steps here"),
        }
        Ok(())
    }

    /// Data sessions and decisions: `open-session`, `close-session`, `decide`.
    fn sessions(&mut self, step: &Step) -> Result<(), String> {
        match step {
            Step::OpenSession { on: node, name, device, server: fqdn } => {
                let running = self.nodes.on(*node);
                let server = running.runtime.server_id(fqdn);
                let session = running.runtime.open_session(id(running, device)?, server).map_err(|e| e.to_string())?;
                self.sessions.insert(name.clone(), (*node, session));
            }
            Step::CloseSession { on: node, name } => {
                let (_, session) = self.sessions.remove(name).ok_or_else(|| format!("no session `{name}`"))?;
                self.nodes.on(*node).runtime.close_session(session);
            }
            Step::Decide {
                on: node,
                role,
                event,
                device,
                server: fqdn,
                access_integrity,
                end_to_end,
                session,
                want,
            } => {
                let running = self.nodes.on(*node);
                let event = files::event(*event, *access_integrity, *end_to_end)?;
                let server = running.runtime.server_id(fqdn);
                let flow = crate::runtime::Flow { device: id(running, device)?, server, role: *role, event };
                let request = running.runtime.request(&flow);
                let mut worker = running.runtime.worker();
                let decision = match session {
                    Some(name) => {
                        let (_, session) = self.sessions.get(name).ok_or_else(|| format!("no session `{name}`"))?;
                        worker.decide_in(*session, *role, event).map_err(|e| e.to_string())?
                    }
                    None => worker.decide(&flow),
                };
                if let Some(fault) = &decision.fault {
                    return Err(format!("the policy failed: {fault}"));
                }
                if let Some(request) = request.filter(|_| !decision.reason.is_engine_reason()) {
                    (self.observe)(&running.runtime.lists(), &request, &decision);
                }
                if (decision.action, decision.reason) != (want.action, want.reason) {
                    return Err(format!(
                        "want {} ({}), got {} ({})",
                        want.action, want.reason, decision.action, decision.reason
                    ));
                }
            }
            _ => unreachable!("`Run::step` routes only sessions steps here"),
        }
        Ok(())
    }
}

/// Checks that `device`'s sends to `naf` count as triggered for `want` more seconds (0: not at all).
fn triggered(node: &Running, device: DeviceId, naf: ServerId, want: u64) -> Result<(), String> {
    let left = node
        .runtime
        .triggered_until(device, naf)
        .map_or(0, |until| until.duration_since(node.runtime.now()).map_or(0, |left| left.as_secs()));
    if left != want {
        return Err(format!("want sends triggered for {want} s more, got {left} s"));
    }
    Ok(())
}

/// The reason a `submit` step wants.
fn step_reason(step: &Step) -> String {
    match step {
        Step::Submit { want, .. } => want.reason.to_string(),
        _ => String::new(),
    }
}
