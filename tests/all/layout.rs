//! The library's wings stay layered (`docs/architecture.md`): each wing of `host/src` uses only the
//! wings after it in `LAYERS`, so no import cycle can form between wings; the fleet package's wings
//! likewise (`FLEET_LAYERS`).

use std::path::Path;

/// From the top down: a wing may use the wings after it, never one before it.
const LAYERS: &[&str] =
    &["review", "cases", "related", "runtime", "exchange", "delivery", "wasm", "facts", "vocab", "sync"];

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
        for (at, _) in line.match_indices("crate::") {
            let rest = &line[at + "crate::".len()..];
            // `crate::{A, b::C}` names each of its parts; `crate::a::…` names `a`.
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group.split('}').next().unwrap_or("").split(',').map(str::trim).collect(),
                None => vec![rest],
            };
            for name in names {
                let name: String = name.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                let wing = layers
                    .iter()
                    .copied()
                    .find(|wing| *wing == name)
                    .or_else(|| ROOT_NAMES.iter().find(|(root, _)| *root == name).map(|(_, wing)| *wing));
                used.extend(wing);
            }
        }
    }
    used
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
        // A wing is a folder, or one file (`sync.rs`).
        let dir = src.join(wing);
        let files: Vec<_> = match std::fs::read_dir(&dir) {
            Ok(files) => files.flatten().map(|entry| entry.path()).collect(),
            Err(_) if src.join(format!("{wing}.rs")).is_file() => vec![src.join(format!("{wing}.rs"))],
            Err(e) => panic!("cannot list `{}`: {e}", dir.display()),
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
