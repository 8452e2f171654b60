//! `docs/method.md` is the rule: its rows parse, every reason a policy can give has a row (or is
//! listed as given by none), every row is shown by a case file, and every case file that cites rows
//! cites exactly the rows its request passes through.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pathsec::Reason;
use pathsec::cases::CaseFile;
use pathsec_suite::method::MethodTable;

/// The case files whose requests must cite their rows: the path rule and the triggers.
const CITING: &[&str] = &["path", "link", "lists", "triggers", "identifiers", "registration"];

fn case_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a case directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            case_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "toml" || ext == "json") {
            out.push(path);
        }
    }
}

#[test]
fn every_reason_a_policy_gives_has_a_row() {
    let table = MethodTable::get();
    let covered: BTreeSet<Reason> = table.reasons().into_iter().chain(table.unused_reasons.iter().copied()).collect();
    // The WIT's reasons are the library's first ones; `policy-fault` begins the host's own.
    for reason in Reason::ALL.iter().copied().take_while(|&reason| reason != Reason::PolicyFault) {
        assert!(
            covered.contains(&reason),
            "`{reason}` has no row in docs/method.md and is not listed as given by none"
        );
    }
    for reason in &table.unused_reasons {
        assert!(!table.reasons().contains(reason), "`{reason}` is listed as given by no row, but a row gives it");
    }
}

#[test]
fn every_row_is_cited_and_every_citation_is_the_rows_the_request_passes_through() {
    let table = MethodTable::get();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files = Vec::new();
    case_files(&root, &mut files);
    let mut cited: BTreeSet<String> = BTreeSet::new();
    let mut checked = 0;
    for path in files {
        let Ok(CaseFile::Cases { facts, cases, .. }) = CaseFile::read(&path) else { continue };
        let relative = path.strip_prefix(&root).expect("under the root").display().to_string();
        let must_cite =
            relative.starts_with("reference/") && CITING.iter().any(|dir| relative.contains(&format!("/{dir}/")));
        for case in &cases {
            if case.rows.is_empty() {
                assert!(!must_cite, "{relative}: `{}` cites no row of docs/method.md: add `rows = [...]`", case.note);
                continue;
            }
            for row in &case.rows {
                assert!(
                    table.rows().iter().any(|known| &known.id == row),
                    "{relative}: row `{row}` is not in docs/method.md"
                );
            }
            // Only cases of the reference rule pass through the table's rows.
            if case.applies_to("reference") && relative.starts_with("reference/") {
                let traced = table.decide(&facts, &case.request);
                let wanted: BTreeSet<&String> = case.rows.iter().collect();
                let passed: BTreeSet<&String> = traced.rows.iter().collect();
                assert_eq!(
                    wanted, passed,
                    "{relative}: `{}` cites {:?}; the table decides {traced}",
                    case.note, case.rows
                );
                assert_eq!(
                    (traced.action, traced.reason),
                    (case.want.action, case.want.reason),
                    "{relative}: the table and the case's `want` disagree"
                );
                checked += 1;
            }
            cited.extend(case.rows.iter().cloned());
        }
    }
    assert!(checked >= 40, "only {checked} cases were checked against the table");
    let uncited: Vec<&str> = table.rows().iter().map(|row| row.id.as_str()).filter(|id| !cited.contains(*id)).collect();
    assert!(uncited.is_empty(), "rows no case file cites: {uncited:?}");
}

#[test]
fn a_check_that_names_no_fact_is_refused() {
    let page =
        "| P1 | text | when | `serving-unknwn` | `serving-network-unknown` |\n| P2 | t | w | `always` | `secure` |";
    let error = MethodTable::parse(page).err().expect("refused");
    assert!(error.contains("`serving-unknwn` names no fact"), "{error}");
}
