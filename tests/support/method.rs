//! The table oracle: the rule as `docs/method.md` writes it, read from that file and applied row by
//! row. It is the single source of what the reference rule must answer: the reference policy, the
//! native rule ([`crate::native`]) and the peers are compared with it, and it names the rows a request
//! passes through, so case files can be checked to cite the rows they show.
//!
//! It is deliberately not fast and not clever: each check is a conjunction of named facts of the
//! request, evaluated as written.

use std::fmt;
use std::sync::OnceLock;

use pathsec::vocab::{AccessIntegrity, EndToEnd, EventKind};
use pathsec::{Action, Event, FactSet, LinkState, Reason, Registration, Request, Role};

/// The method page, as the suite was built with it.
pub const METHOD_MD: &str = include_str!("../../docs/method.md");

/// What the rule as `docs/method.md` writes it answers `request` on `facts`' lists.
pub fn expected(facts: &FactSet, request: &Request) -> (Action, Reason) {
    let traced = MethodTable::get().decide(facts, request);
    (traced.action, traced.reason)
}

/// A row's table: E (events), P (the path), T (triggers at the device).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// Events.
    E,
    /// The path.
    P,
    /// Triggers at the device.
    T,
}

/// A fact of a request a check names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fact {
    Always,
    Role(Role),
    Event(EventKind),
    ServingUnknown,
    Away,
    Mismatch,
    Agreed,
    ApplicationSecurity,
    AcceptPlainUnciphered,
    LinkKnown,
    Ciphering,
    Integrity,
    List1,
    IntegrityRequired,
    List2,
    List3,
    AccessIntegrity(AccessIntegrity),
    EndToEnd(EndToEnd),
    PathSecure,
}

/// What a row gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// This action and reason.
    Fixed(Action, Reason),
    /// Ask the P rows: the first action and `path-secure` when they pass, else the second and the
    /// failing row's reason.
    Path(Action, Action),
    /// Ask the T rows.
    Triggers,
    /// A P row: the path is secure.
    Secure,
    /// A P row: the path is not secure, for this reason.
    Insecure(Reason),
    /// A T row: this action, with the failing P row's reason.
    PathReason(Action),
}

/// One row of a table.
#[derive(Clone, Debug)]
pub struct Row {
    /// Its name: `E1`, `P9`, `T3`.
    pub id: String,
    /// Its table.
    pub table: Table,
    /// Its check: every (negated?, fact) must hold.
    check: Vec<(bool, Fact)>,
    outcome: Outcome,
}

/// The rows of `docs/method.md`, and the reasons it says no row gives.
pub struct MethodTable {
    rows: Vec<Row>,
    /// Reasons the page lists as given by no row of the reference rule.
    pub unused_reasons: Vec<Reason>,
}

/// A decision of the table oracle and the rows it passed through (the deciding E row, then a T row,
/// then a P row, as they applied).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Traced {
    /// The action.
    pub action: Action,
    /// The reason.
    pub reason: Reason,
    /// The rows that decided, in order.
    pub rows: Vec<String>,
}

impl fmt::Display for Traced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}) by {}", self.action, self.reason, self.rows.join(", "))
    }
}

impl MethodTable {
    /// The table of the page the suite was built with, parsed once.
    pub fn get() -> &'static MethodTable {
        static TABLE: OnceLock<MethodTable> = OnceLock::new();
        TABLE.get_or_init(|| MethodTable::parse(METHOD_MD).unwrap_or_else(|error| panic!("docs/method.md: {error}")))
    }

    /// Parses the rows out of a method page.
    pub fn parse(text: &str) -> Result<MethodTable, String> {
        let mut rows = Vec::new();
        let mut unused_reasons = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let at = |message: String| format!("line {}: {message}", number + 1);
            let cells: Vec<&str> = line.trim().trim_matches('|').split(" | ").map(str::trim).collect();
            let Some(first) = cells.first() else { continue };
            let table = match first.chars().next() {
                Some('E') => Table::E,
                Some('P') => Table::P,
                Some('T') => Table::T,
                Some('`') if cells.len() == 2 => {
                    let reason = first.trim_matches('`').parse::<Reason>().map_err(|e| at(e.to_string()))?;
                    unused_reasons.push(reason);
                    continue;
                }
                _ => continue,
            };
            if !first[1..].chars().all(|c| c.is_ascii_digit()) || first.len() < 2 {
                continue;
            }
            let [.., check, outcome] = cells[..] else { return Err(at("a row needs a check and an outcome".into())) };
            let code = |cell: &str| {
                cell.strip_prefix('`')
                    .and_then(|c| c.strip_suffix('`'))
                    .map(str::to_owned)
                    .ok_or_else(|| at(format!("`{cell}` is not in backticks")))
            };
            let check = parse_check(&code(check)?).map_err(&at)?;
            let outcome = parse_outcome(table, &code(outcome)?).map_err(&at)?;
            rows.push(Row { id: (*first).to_owned(), table, check, outcome });
        }
        for table in [Table::E, Table::P, Table::T] {
            let last = rows.iter().rev().find(|row| row.table == table).ok_or(format!("no {table:?} rows"))?;
            if last.check != [(false, Fact::Always)] && table != Table::E {
                return Err(format!("the last {table:?} row, {}, must be `always`", last.id));
            }
        }
        Ok(MethodTable { rows, unused_reasons })
    }

    /// Every row, in the page's order.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// Every reason a row can give.
    pub fn reasons(&self) -> Vec<Reason> {
        let mut reasons = vec![Reason::PathSecure];
        for row in &self.rows {
            match row.outcome {
                Outcome::Fixed(_, reason) | Outcome::Insecure(reason) => reasons.push(reason),
                _ => {}
            }
        }
        reasons
    }

    /// What the rule answers `request` on `facts`' lists, and the rows that decided.
    pub fn decide(&self, facts: &FactSet, request: &Request) -> Traced {
        let ask = Asked { facts, request: *request };
        let event = self.first(Table::E, &ask);
        let mut rows = vec![event.id.clone()];
        let (action, reason) = match event.outcome {
            Outcome::Fixed(action, reason) => (action, reason),
            Outcome::Path(secure, insecure) => match self.path(&ask, &mut rows) {
                Ok(()) => (secure, Reason::PathSecure),
                Err(reason) => (insecure, reason),
            },
            Outcome::Triggers => {
                let trigger = self.first(Table::T, &ask);
                rows.push(trigger.id.clone());
                // A verified trigger asked the P rows (T3-T5): the row that decided them is part of
                // the trace.
                let path = trigger
                    .check
                    .contains(&(false, Fact::AccessIntegrity(AccessIntegrity::Verified)))
                    .then(|| self.path(&ask.for_trigger(), &mut rows));
                match (trigger.outcome, path) {
                    (Outcome::Fixed(action, reason), _) => (action, reason),
                    (Outcome::PathReason(action), Some(Err(reason))) => (action, reason),
                    (other, _) => panic!("row {}: {other:?} does not fit a T row here", trigger.id),
                }
            }
            other => panic!("row {}: {other:?} is not an E outcome", event.id),
        };
        Traced { action, reason, rows }
    }

    /// The P rows on `ask`: `Ok` when secure; the deciding row is pushed to `rows`.
    fn path(&self, ask: &Asked<'_>, rows: &mut Vec<String>) -> Result<(), Reason> {
        let row = self.first(Table::P, ask);
        rows.push(row.id.clone());
        match row.outcome {
            Outcome::Secure => Ok(()),
            Outcome::Insecure(reason) => Err(reason),
            other => panic!("row {}: {other:?} is not a P outcome", row.id),
        }
    }

    /// The first row of `table` whose check holds.
    fn first(&self, table: Table, ask: &Asked<'_>) -> &Row {
        self.rows
            .iter()
            .filter(|row| row.table == table)
            .find(|row| row.check.iter().all(|&(negated, fact)| self.holds(fact, ask) != negated))
            .unwrap_or_else(|| panic!("no {table:?} row matches {:?}", ask.request))
    }

    fn holds(&self, fact: Fact, ask: &Asked<'_>) -> bool {
        let Asked { facts, ref request } = *ask;
        let serving = request.attach.serving;
        // The second network: the server's, the device's home unless the facts name another.
        let second = facts.second_network(request.attach.home, request.server);
        let agreement = match request.registration {
            Registration::Agreed(agreement) => Some(agreement),
            _ => None,
        };
        let link = request.link;
        let terms = serving.and_then(|serving| facts.path_a_terms(serving));
        match fact {
            Fact::Always => true,
            Fact::Role(role) => request.role == role,
            Fact::Event(kind) => request.event.kind() == kind,
            Fact::ServingUnknown => serving.is_none(),
            Fact::Away => serving.is_some_and(|serving| serving != second),
            Fact::Mismatch => request.registration == Registration::Mismatch,
            Fact::Agreed => agreement.is_some(),
            Fact::ApplicationSecurity => agreement.is_some_and(|a| a.application_security),
            Fact::AcceptPlainUnciphered => agreement.is_some_and(|a| a.accept_plain_unciphered),
            Fact::LinkKnown => link.is_some(),
            Fact::Ciphering => link.is_some_and(|link| link.ciphering),
            Fact::Integrity => link.is_some_and(|link| link.integrity),
            Fact::List1 => terms.is_some_and(|terms| terms.access.contains(request.attach.access)),
            Fact::IntegrityRequired => terms.is_some_and(|terms| terms.integrity_required),
            Fact::List2 => facts.trusts_path_b(second, request.server),
            Fact::List3 => serving.is_some_and(|serving| facts.trusts_interconnect(serving, second)),
            Fact::AccessIntegrity(result) => trigger(request).is_some_and(|(access, _)| access == result),
            Fact::EndToEnd(result) => trigger(request).is_some_and(|(_, end_to_end)| end_to_end == result),
            Fact::PathSecure => self.path(&ask.for_trigger(), &mut Vec::new()).is_ok(),
        }
    }
}

/// A request and the lists it is asked on.
#[derive(Clone, Copy)]
struct Asked<'a> {
    facts: &'a FactSet,
    request: Request,
}

impl<'a> Asked<'a> {
    /// The request the P rows are asked for a received trigger: its access-layer integrity check
    /// verified, so integrity is known to be on (000, FIG. 11 step 6).
    fn for_trigger(&self) -> Asked<'a> {
        let ciphering = self.request.link.is_some_and(|link| link.ciphering);
        Asked {
            facts: self.facts,
            request: Request { link: Some(LinkState { ciphering, integrity: true }), ..self.request },
        }
    }
}

fn trigger(request: &Request) -> Option<(AccessIntegrity, EndToEnd)> {
    match request.event {
        Event::ReceiveTrigger(check) => Some((check.access_integrity, check.end_to_end)),
        _ => None,
    }
}

fn parse_check(text: &str) -> Result<Vec<(bool, Fact)>, String> {
    text.split(" and ")
        .map(|word| {
            let (negated, word) = match word.strip_prefix("not ") {
                Some(rest) => (true, rest),
                None => (false, word),
            };
            let fact = match word.split_once('=') {
                Some(("role", role)) => Fact::Role(role.parse().map_err(|e| format!("{e}"))?),
                Some(("event", event)) => Fact::Event(event.parse().map_err(|e| format!("{e}"))?),
                Some(("registration", "mismatch")) => Fact::Mismatch,
                Some(("registration", "agreed")) => Fact::Agreed,
                Some(("access-integrity", result)) => {
                    Fact::AccessIntegrity(result.parse().map_err(|e| format!("{e}"))?)
                }
                Some(("end-to-end", result)) => Fact::EndToEnd(result.parse().map_err(|e| format!("{e}"))?),
                Some(_) => return Err(format!("`{word}` names no fact")),
                None => match word {
                    "always" => Fact::Always,
                    "serving-unknown" => Fact::ServingUnknown,
                    "away" => Fact::Away,
                    "application-security" => Fact::ApplicationSecurity,
                    "accept-plain-unciphered" => Fact::AcceptPlainUnciphered,
                    "link-known" => Fact::LinkKnown,
                    "ciphering" => Fact::Ciphering,
                    "integrity" => Fact::Integrity,
                    "list1" => Fact::List1,
                    "integrity-required" => Fact::IntegrityRequired,
                    "list2" => Fact::List2,
                    "list3" => Fact::List3,
                    "path-secure" => Fact::PathSecure,
                    other => return Err(format!("`{other}` names no fact")),
                },
            };
            Ok((negated, fact))
        })
        .collect()
}

fn parse_outcome(table: Table, text: &str) -> Result<Outcome, String> {
    let words: Vec<&str> = text.split(' ').collect();
    let action = |word: &str| word.parse::<Action>().map_err(|e| e.to_string());
    let reason = |word: &str| word.parse::<Reason>().map_err(|e| e.to_string());
    Ok(match (table, &words[..]) {
        (Table::E, ["path", secure, insecure]) => Outcome::Path(action(secure)?, action(insecure)?),
        (Table::E, ["triggers"]) => Outcome::Triggers,
        (Table::P, ["secure"]) => Outcome::Secure,
        (Table::P, [why]) => Outcome::Insecure(reason(why)?),
        (Table::T, [what, "path-reason"]) => Outcome::PathReason(action(what)?),
        (Table::E | Table::T, [what, why]) => Outcome::Fixed(action(what)?, reason(why)?),
        _ => return Err(format!("`{text}` is not an outcome of a {table:?} row")),
    })
}
