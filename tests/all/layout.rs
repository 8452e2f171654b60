//! The library's wings stay layered (`docs/architecture.md`): each wing of `host/src` uses only the
//! wings after it in `LAYERS`, so no import cycle can form between wings; the fleet package's wings
//! likewise (`FLEET_LAYERS`). Inside the wings of the running engine, no module imports one that
//! imports it back (`MODULE_WINGS`).

use std::path::Path;

/// From the top down: a wing may use the wings after it, never one before it.
/// `runtime` is the public face of the five wings below it (one file of re-exports): the wings above
/// may use it, as an embedder does; the wings it gathers never do.
const LAYERS: &[&str] = &[
    "review",
    "cases",
    "related",
    "runtime",
    "drivers",
    "deciding",
    "telemetry",
    "rollout",
    "store",
    "exchange",
    "delivery",
    "wasm",
    "facts",
    "vocab",
    "sync",
];

/// The wings whose modules are checked one by one for circles.
const MODULE_WINGS: &[&str] = &["drivers", "deciding", "telemetry", "store"];

/// The fleet package's wings (`host/fleet/src`), from the top down.
const FLEET_LAYERS: &[&str] = &["device", "feed", "oci"];

/// The crate root's names each live in one wing; a `crate::Name` path counts as a use of it.
const ROOT_NAMES: &[(&str, &str)] = &[
    ("Engine", "wasm"),
    ("Policy", "wasm"),
    ("Decider", "wasm"),
    ("Limits", "wasm"),
    ("FactSet", "facts"),
    ("FactSetBuilder", "facts"),
    // The runtime's names at the root come through its public face.
    ("Runtime", "runtime"),
    ("Worker", "runtime"),
    ("Flow", "runtime"),
    ("DeviceId", "runtime"),
];

/// Every `crate::<wing>` (or root name of a wing) that `code` names outside comments.
fn uses(code: &str) -> Vec<&'static str> {
    uses_of(code, LAYERS)
}

/// Every `crate::<wing>` of `layers` (or root name of a library wing) that `code` names outside comments.
fn uses_of(code: &str, layers: &[&'static str]) -> Vec<&'static str> {
    let mut used = Vec::new();
    for line in code.lines().filter(|line| !line.trim_start().starts_with("//")) {
        for name in named_after(line, "crate::") {
            let wing = layers
                .iter()
                .copied()
                .find(|wing| *wing == name)
                .or_else(|| ROOT_NAMES.iter().find(|(root, _)| *root == name).map(|(_, wing)| *wing));
            used.extend(wing);
        }
    }
    used
}

/// The names `line` puts right after each `prefix`: `prefix{A, b::C}` names `A` and `b`,
/// `prefix a::…` names `a`.
fn named_after<'a>(line: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut names = Vec::new();
    for (at, _) in line.match_indices(prefix) {
        let rest = &line[at + prefix.len()..];
        let parts: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => group.split('}').next().unwrap_or("").split(',').map(str::trim).collect(),
            None => vec![rest],
        };
        for part in parts {
            let end = part.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(part.len());
            if end > 0 {
                names.push(&part[..end]);
            }
        }
    }
    names
}

#[test]
fn each_wing_uses_only_the_wings_below_it() {
    check_layers("host/src", LAYERS);
    check_layers("host/fleet/src", FLEET_LAYERS);
}

fn check_layers(dir: &str, layers: &[&'static str]) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut wrong = Vec::new();
    for (level, wing) in layers.iter().enumerate() {
        // A wing is a folder (with folders of its own: `cases/sequence/`), or one file (`sync.rs`).
        let dir = src.join(wing);
        let files = match dir.is_dir() {
            true => pathsec_suite::files_under(&dir),
            false => vec![src.join(format!("{wing}.rs"))],
        };
        for file in files {
            let code = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("`{}`: {e}", file.display()));
            for used in uses_of(&code, layers) {
                let Some(used_level) = layers.iter().position(|layer| *layer == used) else { continue };
                if used_level < level {
                    wrong.push(format!("`{}` ({wing}) uses `{used}`", file.display()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "wings used from below break the layering:\n{}", wrong.join("\n"));
}

#[test]
fn the_check_sees_a_use_from_below() {
    // The check itself can fail: a `runtime` use in a `wasm` file is seen, in a comment it is not.
    assert_eq!(uses("use crate::runtime::Worker;\nlet x = crate::Runtime::new(p);"), ["runtime", "runtime"]);
    assert_eq!(uses("use crate::{Decider, vocab::Role};"), ["wasm", "vocab"]);
    assert!(uses("// see crate::runtime::Worker").is_empty());
    assert_eq!(uses_of("use crate::feed::{FeedError, NatsSettings};", FLEET_LAYERS), ["feed"]);
}

/// The modules of `MODULE_WINGS` (`wing::module`) that `code` names, outside comments and before its
/// tests (a module's tests may use what uses it).
fn module_uses(code: &str) -> Vec<String> {
    let mut used = Vec::new();
    let code = code.split("#[cfg(test)]").next().unwrap_or("");
    for line in code.lines().filter(|line| !line.trim_start().starts_with("//")) {
        for wing in MODULE_WINGS {
            for module in named_after(line, &format!("crate::{wing}::")) {
                used.push(format!("{wing}::{module}"));
            }
        }
    }
    used
}

/// A circle in `edges` (module → the modules it uses), as the path that closes it.
fn circle(edges: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        at: &str,
        edges: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|module| module == at) {
            let mut found = path[start..].to_vec();
            found.push(at.to_owned());
            return Some(found);
        }
        if done.contains(at) {
            return None;
        }
        path.push(at.to_owned());
        for next in edges.get(at).into_iter().flatten() {
            if let Some(found) = visit(next, edges, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(at.to_owned());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    edges.keys().find_map(|start| visit(start, edges, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_of_the_running_engine_imports_one_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("host/src");
    let mut edges = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    for wing in MODULE_WINGS {
        for file in pathsec_suite::files_under(&src.join(wing)) {
            let module = file.file_stem().expect("a file name").to_string_lossy().into_owned();
            if module == "mod" {
                continue;
            }
            let name = format!("{wing}::{module}");
            let code = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("`{}`: {e}", file.display()));
            let used = module_uses(&code).into_iter().filter(|used| *used != name).collect();
            edges.insert(name, used);
        }
    }
    assert!(edges.len() > 15, "the wings were read: {edges:?}");
    if let Some(found) = circle(&edges) {
        panic!("an import circle: {}", found.join(" → "));
    }
}

#[test]
fn the_module_check_sees_a_circle() {
    let uses =
        module_uses("use crate::store::device::{DeviceId, place};\nuse crate::deciding::{live::Runtime, worker};");
    assert_eq!(uses, ["store::device", "deciding::live", "deciding::worker"]);
    assert!(module_uses("// crate::store::device\n#[cfg(test)]\nuse crate::store::held;").is_empty());
    let edges = [("a", &["b"][..]), ("b", &["c"]), ("c", &["a"]), ("d", &[])]
        .into_iter()
        .map(|(from, to)| (from.to_owned(), to.iter().map(|to| to.to_string()).collect()))
        .collect();
    assert_eq!(circle(&edges), Some(vec!["a".to_owned(), "b".into(), "c".into(), "a".into()]));
}
