//! The reference rule in Rego (`path-secure.rego`), evaluated by `regorus`: by its interpreter
//! ([`RegoRule`]) and by its bytecode VM ([`RegoVmRule`]).

use pathsec::vocab::{Agreement, RegistrationSource};
use pathsec::{Action, Event, FactSet, Reason, Registration, Request};
use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::RegoVM;
use regorus::{Engine, Value};

use super::{packed, server_name};

/// The rule over one fact generation's lists: the whole decision (action and reason) is made in Rego.
#[derive(Clone)]
pub struct RegoRule {
    engine: Engine,
}

impl RegoRule {
    /// The policy parsed and `facts`' lists loaded as `data.lists`.
    pub fn new(facts: &FactSet) -> RegoRule {
        let mut engine = parsed();
        engine.add_data(data(facts)).expect("the lists load");
        RegoRule { engine }
    }

    /// The Rego `input` document of `request`.
    pub fn input(facts: &FactSet, request: &Request) -> Value {
        let mut input = Value::new_object();
        let fields = input.as_object_mut().expect("an object");
        let mut set = |key: &str, value: Value| {
            fields.insert(Value::from(key), value);
        };
        set("role", Value::from(request.role.name()));
        let event = match request.event {
            Event::ReceiveTrigger(check) => {
                set("access_integrity", Value::from(check.access_integrity.name()));
                set("end_to_end", Value::from(check.end_to_end.name()));
                "receive-trigger"
            }
            other => other.kind().name(),
        };
        set("event", Value::from(event));
        set("server", Value::from(server_name(facts, request)));
        if let Some(serving) = request.attach.serving {
            set("serving", Value::from(packed(serving)));
        }
        set("home", Value::from(packed(request.attach.home)));
        set("link_known", Value::from(request.link.is_some()));
        set("ciphering", Value::from(request.link.is_some_and(|link| link.ciphering)));
        set("integrity", Value::from(request.link.is_some_and(|link| link.integrity)));
        set("access", Value::from(request.attach.access.name()));
        set("registration", Value::from(request.registration.name()));
        let agreement = match request.registration {
            Registration::Agreed(agreement) => agreement,
            _ => Agreement {
                source: RegistrationSource::NetworkView,
                application_security: false,
                accept_plain_unciphered: false,
            },
        };
        set("application_security", Value::from(agreement.application_security));
        set("accept_plain_unciphered", Value::from(agreement.accept_plain_unciphered));
        input
    }

    /// Evaluates `data.pathsec.decision` on a prepared input.
    pub fn decide_input(&mut self, input: Value) -> (Action, Reason) {
        self.engine.set_input(input);
        let decision = self.engine.eval_rule(ENTRY_POINT.to_owned()).expect("the rule evaluates");
        answer(&decision)
    }

    /// Builds the input and evaluates it.
    pub fn decide(&mut self, facts: &FactSet, request: &Request) -> (Action, Reason) {
        self.decide_input(Self::input(facts, request))
    }
}

/// The same rule compiled to regorus's bytecode (the RVM, regorus's fastest evaluator): the policy is
/// compiled once for the entry point `data.pathsec.decision` and run by one `RegoVM` with the lists as
/// its data; each request is a new input and one `execute`.
pub struct RegoVmRule {
    vm: RegoVM,
}

/// The rule every Rego engine here evaluates.
const ENTRY_POINT: &str = "data.pathsec.decision";

impl RegoVmRule {
    /// The policy compiled (interpreter → compiled policy → RVM program) and `facts`' lists set as data.
    pub fn new(facts: &FactSet) -> RegoVmRule {
        let mut engine = parsed();
        let compiled = engine.compile_with_entrypoint(&ENTRY_POINT.into()).expect("the rule compiles");
        let program = Compiler::compile_from_policy(&compiled, &[ENTRY_POINT]).expect("the rule compiles to bytecode");
        let mut vm = RegoVM::new_with_policy(compiled);
        vm.load_program(program);
        vm.set_data(data(facts)).expect("the lists load");
        RegoVmRule { vm }
    }

    /// Runs the program on a prepared input ([`RegoRule::input`]).
    pub fn decide_input(&mut self, input: Value) -> (Action, Reason) {
        self.vm.set_input(input);
        let decision = self.vm.execute().expect("the rule evaluates");
        answer(&decision)
    }

    /// Builds the input and runs the program.
    pub fn decide(&mut self, facts: &FactSet, request: &Request) -> (Action, Reason) {
        self.decide_input(RegoRule::input(facts, request))
    }
}

/// A regorus engine with `path-secure.rego` parsed.
fn parsed() -> Engine {
    let mut engine = Engine::new();
    engine
        .add_policy("path-secure.rego".to_owned(), include_str!("path-secure.rego").to_owned())
        .expect("path-secure.rego parses");
    engine
}

/// The action and reason of a `decision` object.
fn answer(decision: &Value) -> (Action, Reason) {
    let field = |name: &str| decision[name].as_string().expect("a string field").to_string();
    (
        field("action").parse().expect("an action the WIT names"),
        field("reason").parse().expect("a reason the WIT names"),
    )
}

/// `{"lists": {"path_a": {NETWORK: {ACCESS: true}}, "integrity_required": {NETWORK: true}, "path_b": {HOME:
/// {SERVER: true}}, "interconnect": {NETWORK: true}}}`
fn data(facts: &FactSet) -> Value {
    let set = |networks: &[pathsec::PlmnId]| {
        let mut object = Value::new_object();
        let fields = object.as_object_mut().expect("an object");
        for &network in networks {
            fields.insert(Value::from(packed(network)), Value::from(true));
        }
        object
    };
    let mut path_b = Value::new_object();
    let homes = path_b.as_object_mut().expect("an object");
    for &(home, server) in facts.path_b() {
        let name = facts.server(server).expect("List 2 names known servers").to_string();
        let servers = homes.get_or_insert_with(Value::from(packed(home)), Value::new_object);
        servers.as_object_mut().expect("an object").insert(Value::from(name), Value::from(true));
    }
    let mut per_home = Value::new_object();
    let homes = per_home.as_object_mut().expect("an object");
    for &(home, visited) in facts.interconnect_per_home() {
        let visited_networks = homes.get_or_insert_with(Value::from(packed(home)), Value::new_object);
        visited_networks.as_object_mut().expect("an object").insert(Value::from(packed(visited)), Value::from(true));
    }
    let mut lists = Value::new_object();
    let fields = lists.as_object_mut().expect("an object");
    let mut path_a = Value::new_object();
    let networks = path_a.as_object_mut().expect("an object");
    let mut requiring: Vec<pathsec::PlmnId> = Vec::new();
    for (network, terms) in facts.path_a_in_force() {
        let kinds = networks.get_or_insert_with(Value::from(packed(network)), Value::new_object);
        for kind in terms.access.iter() {
            kinds.as_object_mut().expect("an object").insert(Value::from(kind.name()), Value::from(true));
        }
        if terms.integrity_required {
            requiring.push(network);
        }
    }
    fields.insert(Value::from("path_a"), path_a);
    fields.insert(Value::from("integrity_required"), set(&requiring));
    fields.insert(Value::from("path_b"), path_b);
    fields.insert(Value::from("interconnect"), set(facts.interconnect()));
    fields.insert(Value::from("interconnect_per_home"), per_home);
    let mut attached = Value::new_object();
    let servers = attached.as_object_mut().expect("an object");
    for &(server, network) in facts.server_networks() {
        let name = facts.server(server).expect("attached servers are known").to_string();
        servers.insert(Value::from(name), Value::from(packed(network)));
    }
    fields.insert(Value::from("server_networks"), attached);
    let mut data = Value::new_object();
    data.as_object_mut().expect("an object").insert(Value::from("lists"), lists);
    data
}
