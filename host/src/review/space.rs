//! The request space that matters for a set of lists: every role, event (a received trigger with
//! every check result), access kind, link state and registration outcome, on every path the lists can
//! tell apart — each home network they name, served at home, in each network they list, in look-alike
//! networks (the same MNC written with 2 or 3 digits, a neighbouring MNC or MCC) and in a network they
//! do not list, or with the serving network unknown; towards each server they list and one they do not.

use std::collections::BTreeSet;

use crate::facts::FactSet;
use crate::vocab::{
    AccessIntegrity, AccessKind, Agreement, Attach, EndToEnd, Event, Fqdn, LinkState, PlmnId, Registration,
    RegistrationSource, Request, Role, TriggerCheck,
};

/// A network no list names (MCC 001 is the test network's country; MNC 99 is unused there).
const UNLISTED: (u16, u16, u8) = (1, 99, 2);

/// The server no list names, added to the lists' servers.
pub const UNLISTED_SERVER: &str = "unlisted.pathsec.invalid";

/// The request space of a set of lists: its axes, walked without holding every request at once.
pub struct RequestSpace {
    /// The lists, with [`UNLISTED_SERVER`] interned.
    pub lists: FactSet,
    homes: Vec<PlmnId>,
    servings: Vec<Option<PlmnId>>,
    servers: Vec<crate::vocab::ServerId>,
    registrations: Vec<Registration>,
    events: Vec<(Role, Event)>,
}

impl RequestSpace {
    /// How many requests it holds.
    pub fn len(&self) -> u64 {
        [
            self.homes.len(),
            self.servings.len(),
            AccessKind::COUNT,
            links().len(),
            self.registrations.len(),
            self.servers.len(),
            self.events.len(),
        ]
        .iter()
        .map(|&n| n as u64)
        .product()
    }

    /// It holds none (never: every space has the unlisted home and server).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Gives every request to `each`, in chunks of at most `chunk`.
    pub fn for_each_chunk(&self, chunk: usize, mut each: impl FnMut(&[Request])) {
        let mut requests = Vec::with_capacity(chunk);
        for &home in &self.homes {
            for &serving in &self.servings {
                for access in AccessKind::ALL.iter().copied() {
                    let attach = Attach { serving, home, access };
                    for link in links() {
                        for &registration in &self.registrations {
                            for &server in &self.servers {
                                for &(role, event) in &self.events {
                                    requests.push(Request { role, event, server, attach, link, registration });
                                    if requests.len() == chunk {
                                        each(&requests);
                                        requests.clear();
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if !requests.is_empty() {
            each(&requests);
        }
    }
}

/// The request space of `lists`; see the module.
pub fn request_space(lists: &FactSet) -> RequestSpace {
    let mut builder = lists.to_builder();
    let unlisted_server = builder.server(Fqdn::known_valid(UNLISTED_SERVER));
    let lists = builder.build();
    let unlisted = PlmnId::new(UNLISTED.0, UNLISTED.1, UNLISTED.2).expect("a valid PLMN-ID");

    let mut listed: BTreeSet<PlmnId> = lists.path_a().iter().copied().collect();
    listed.extend(lists.interconnect());
    listed.extend(lists.interconnect_per_home().iter().flat_map(|&(home, visited)| [home, visited]));
    listed.extend(lists.path_b().iter().map(|&(home, _)| home));
    // A server's own network is where the intermediate path needs no List 3 entry.
    listed.extend(lists.server_networks().iter().map(|&(_, network)| network));
    let mut homes: BTreeSet<PlmnId> = lists.path_b().iter().map(|&(home, _)| home).collect();
    homes.extend(lists.interconnect_per_home().iter().map(|&(home, _)| home));
    if homes.is_empty() {
        homes.extend(lists.path_a());
    }
    homes.insert(unlisted);
    let mut networks = listed.clone();
    networks.extend(listed.iter().flat_map(|&network| look_alikes(network)));
    networks.insert(unlisted);
    let mut servers: Vec<_> = lists
        .path_b()
        .iter()
        .map(|&(_, server)| server)
        .chain(lists.server_networks().iter().map(|&(server, _)| server))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    servers.push(unlisted_server);
    RequestSpace {
        lists,
        homes: homes.into_iter().collect(),
        servings: std::iter::once(None).chain(networks.into_iter().map(Some)).collect(),
        servers,
        registrations: registrations(),
        events: events(),
    }
}

/// Networks that look like `network` and are not it: its MNC written with the other number of digits
/// (`31041` and `310410`, `070` and `70`), the next MNC, the next MCC.
pub(crate) fn look_alikes(network: PlmnId) -> Vec<PlmnId> {
    let (mcc, mnc, digits) = (network.mcc(), network.mnc(), network.mnc_digits());
    let mut alikes = Vec::new();
    let mut push = |mcc: u16, mnc: u16, digits: u8| {
        if let Ok(alike) = PlmnId::new(mcc, mnc, digits)
            && alike != network
        {
            alikes.push(alike);
        }
    };
    match digits {
        // "41" → "041" (same number, three digits) and "410" (the digit appended).
        2 => {
            push(mcc, mnc, 3);
            push(mcc, mnc * 10, 3);
        }
        // "410" → "41" (its first two digits); "070" → "70" (same number, two digits).
        _ => {
            push(mcc, mnc / 10, 2);
            push(mcc, mnc, 2);
        }
    }
    push(mcc, (mnc + 1) % if digits == 2 { 100 } else { 1000 }, digits);
    push((mcc + 1) % 1000, mnc, digits);
    alikes
}

/// Every link state a request can carry: the four known ones, and unknown.
fn links() -> [Option<LinkState>; 5] {
    let only = |ciphering, integrity| Some(LinkState { ciphering, integrity });
    [Some(LinkState::ON), only(true, false), only(false, true), Some(LinkState::OFF), None]
}

fn registrations() -> Vec<Registration> {
    let mut all = vec![Registration::None, Registration::Mismatch];
    for source in RegistrationSource::ALL.iter().copied() {
        for application_security in [false, true] {
            for accept_plain_unciphered in [false, true] {
                all.push(Registration::Agreed(Agreement { source, application_security, accept_plain_unciphered }));
            }
        }
    }
    all
}

fn events() -> Vec<(Role, Event)> {
    let mut triggers = Vec::new();
    for access_integrity in AccessIntegrity::ALL.iter().copied() {
        for end_to_end in EndToEnd::ALL.iter().copied() {
            triggers.push(Event::ReceiveTrigger(TriggerCheck { access_integrity, end_to_end }));
        }
    }
    let mut all = Vec::new();
    for role in Role::ALL.iter().copied() {
        for event in [Event::SendData, Event::ReceiveUnprotected, Event::ReceiveProtected, Event::SendTrigger] {
            all.push((role, event));
        }
        all.extend(triggers.iter().map(|&event| (role, event)));
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_are_the_other_writings_and_neighbours() {
        let names = |text: &str| -> Vec<String> {
            look_alikes(text.parse().expect("valid")).iter().map(ToString::to_string).collect()
        };
        assert_eq!(names("31041"), ["310041", "310410", "31042", "31141"]);
        assert_eq!(names("310070"), ["31007", "31070", "310071", "311070"]);
    }
}
