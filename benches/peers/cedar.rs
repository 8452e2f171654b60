//! The path check of the reference rule in Cedar (`path-secure.cedar`), evaluated by `cedar-policy`.
//! Cedar answers allow/deny with the policies that determined it, so the event-and-role part of the rule
//! is [`pathsec_suite::native::rule`] and the path check is one Cedar authorization.

use std::collections::HashMap;

use cedar_policy::{Authorizer, Context, Entities, EntityUid, PolicyId, PolicySet, Request, RestrictedExpression};
use pathsec::{Action, FactSet, Reason};
use pathsec_suite::native;

use super::{packed, server_name};

/// The rule over one fact generation's lists.
pub struct CedarRule {
    authorizer: Authorizer,
    policies: PolicySet,
    entities: Entities,
    /// The reason each policy stands for, from its `@reason` annotation.
    reasons: HashMap<PolicyId, Reason>,
}

/// The order in which the method checks the path: the first failed check is the reason.
const ORDER: [Reason; 9] = [
    Reason::ServingNetworkUnknown,
    Reason::RegistrationMismatch,
    Reason::RegistrationRequiresApplicationSecurity,
    Reason::AccessNotProtected,
    Reason::AccessCipheringOff,
    Reason::PathANotTrusted,
    Reason::AccessIntegrityOff,
    Reason::PathBNotTrusted,
    Reason::InterconnectNotTrusted,
];

impl CedarRule {
    /// The policies parsed and `facts`' lists loaded as the attributes of `Lists::"current"`.
    pub fn new(facts: &FactSet) -> CedarRule {
        let policies: PolicySet = include_str!("path-secure.cedar").parse().expect("path-secure.cedar parses");
        let reasons = policies
            .policies()
            .map(|policy| {
                let reason = policy.annotation("reason").expect("every policy names its @reason");
                (policy.id().clone(), reason.parse().expect("a reason the WIT names"))
            })
            .collect();
        let networks = |list: &[pathsec::PlmnId]| list.iter().map(|&n| packed(n)).collect::<Vec<_>>();
        let pairs: Vec<String> = facts
            .path_b()
            .iter()
            .map(|&(home, server)| format!("{} {}", packed(home), facts.server(server).expect("a known server")))
            .collect();
        let json = serde_json::json!([{
            "uid": { "type": "Lists", "id": "current" },
            "attrs": {
                "path_a": facts
                    .path_a_in_force()
                    .flat_map(|(network, terms)| {
                        terms.access.iter().map(move |kind| format!("{} {}", packed(network), kind.name()))
                    })
                    .collect::<Vec<_>>(),
                "integrity_required": facts
                    .path_a_in_force()
                    .filter(|(_, terms)| terms.integrity_required)
                    .map(|(network, _)| packed(network))
                    .collect::<Vec<_>>(),
                "path_b": pairs,
                "interconnect": networks(facts.interconnect()),
                "interconnect_per_home": facts
                    .interconnect_per_home()
                    .iter()
                    .map(|&(home, visited)| format!("{} {}", packed(home), packed(visited)))
                    .collect::<Vec<_>>(),
            },
            "parents": [],
        }]);
        let entities = Entities::from_json_value(json, None).expect("the lists load");
        CedarRule { authorizer: Authorizer::new(), policies, entities, reasons }
    }

    /// The Cedar request of the path check for `request`.
    pub fn input(facts: &FactSet, request: &pathsec::Request) -> Request {
        let request = &native::asked(request);
        let text = |value: String| RestrictedExpression::new_string(value);
        let second = packed(facts.second_network(request.attach.home, request.server));
        let mut context = vec![
            ("path_b".to_owned(), text(format!("{second} {}", server_name(facts, request)))),
            ("second".to_owned(), text(second.clone())),
            ("link_known".to_owned(), RestrictedExpression::new_bool(request.link.is_some())),
            ("ciphering".to_owned(), RestrictedExpression::new_bool(request.link.is_some_and(|link| link.ciphering))),
            ("integrity".to_owned(), RestrictedExpression::new_bool(request.link.is_some_and(|link| link.integrity))),
            ("event".to_owned(), text(request.event.kind().name().to_owned())),
            ("registration".to_owned(), text(request.registration.name().to_owned())),
            ("role".to_owned(), text(request.role.name().to_owned())),
            ("access".to_owned(), text(request.attach.access.name().to_owned())),
        ];
        let (application_security, accept_plain_unciphered) = match request.registration {
            pathsec::Registration::Agreed(agreement) => {
                (agreement.application_security, agreement.accept_plain_unciphered)
            }
            _ => (false, false),
        };
        context.push(("application_security".to_owned(), RestrictedExpression::new_bool(application_security)));
        context.push(("accept_plain_unciphered".to_owned(), RestrictedExpression::new_bool(accept_plain_unciphered)));
        if let Some(serving) = request.attach.serving {
            context.push(("serving".to_owned(), text(packed(serving))));
            context.push(("path_a".to_owned(), text(format!("{} {}", packed(serving), request.attach.access.name()))));
            context.push(("per_home".to_owned(), text(format!("{second} {}", packed(serving)))));
        }
        let uid = |text: &str| text.parse::<EntityUid>().expect("a valid entity UID");
        Request::new(
            uid(r#"Device::"device""#),
            uid(r#"Action::"path""#),
            uid(r#"Lists::"current""#),
            Context::from_pairs(context).expect("a valid context"),
            None,
        )
        .expect("a valid request")
    }

    /// The path check on a prepared request: `Ok` when the entire path is secure, else the first check
    /// that failed.
    pub fn path(&self, request: &Request) -> Result<(), Reason> {
        let response = self.authorizer.is_authorized(request, &self.policies, &self.entities);
        assert!(response.diagnostics().errors().next().is_none(), "the path check evaluates without errors");
        match response.decision() {
            cedar_policy::Decision::Allow => Ok(()),
            cedar_policy::Decision::Deny => {
                let first = response
                    .diagnostics()
                    .reason()
                    .filter_map(|id| ORDER.iter().position(|&reason| reason == self.reasons[id]))
                    .min();
                Err(first.map_or(Reason::PolicyFault, |at| ORDER[at]))
            }
        }
    }

    /// The method's answer, asking Cedar when it depends on the path.
    pub fn decide_input(&self, request: &pathsec::Request, input: &Request) -> (Action, Reason) {
        native::rule(request, || self.path(input))
    }

    /// Builds the Cedar request and decides.
    pub fn decide(&self, facts: &FactSet, request: &pathsec::Request) -> (Action, Reason) {
        self.decide_input(request, &Self::input(facts, request))
    }
}
