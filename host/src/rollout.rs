//! Shipping a policy safely: which policies a runtime runs and for whom — the active (stable) policy,
//! a canary candidate that enforces for a chosen part of the devices, and a shadow that decides beside
//! the active one without ever being returned.
//!
//! A canary's devices are chosen by the SHA-256 of the embedder's device name (never the
//! process-local handle), so every node of a fleet, and every restart, picks the same ones:
//! `printf %s NAME | sha256sum` gives the digest; its first 8 bytes, big-endian, as a fraction of
//! 2^64, is the device's place in [0, 1). A device enforces the candidate when its place is below the
//! rollout's fraction, or when it is in the rollout's named ring. Raising the fraction keeps every
//! device already chosen.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use crate::store::device::place;
use crate::wasm::policy::Policy;

/// Parts per million in the whole.
const MILLION: u32 = 1_000_000;

/// What the runtime runs — the active policy, a canary and a shadow — and its generation (a new one at
/// every change, so every cached decision is remade).
pub(crate) struct Active {
    pub(crate) policy: Policy,
    pub(crate) generation: u64,
    pub(crate) canary: Option<Canary>,
    pub(crate) shadow: Option<Shadow>,
}

impl Active {
    /// The rollout it runs.
    pub(crate) fn rollout(&self) -> Rollout {
        Rollout { active: self.policy.clone(), canary: self.canary.clone(), shadow: self.shadow.clone() }
    }
}

/// Which devices enforce a canary candidate: a fraction of all devices, and/or a named ring of
/// devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// The fraction, in parts per million (0..=1,000,000).
    ppm: u32,
    /// The named ring: its name and its devices' names.
    ring: Option<(String, BTreeSet<String>)>,
    /// The places of the ring's devices.
    ring_places: HashSet<u64>,
}

impl Selection {
    /// `percent` of all devices (0 to 100; fractions allowed down to a ten-thousandth of a percent).
    pub fn percent(percent: f64) -> Result<Selection, RolloutError> {
        if !(0.0..=100.0).contains(&percent) || percent.is_nan() {
            return Err(RolloutError::Fraction { given: percent.to_string() });
        }
        let ppm = (percent * 10_000.0).round() as u32;
        Ok(Selection { ppm: ppm.min(MILLION), ring: None, ring_places: HashSet::new() })
    }

    /// The fraction written as in a rollout file: `"10%"`, `"12.5 %"`, or a number of percent.
    pub fn parse_percent(text: &str) -> Result<Selection, RolloutError> {
        let number = text.trim().trim_end_matches('%').trim();
        let percent: f64 = number.parse().map_err(|_| RolloutError::Fraction { given: text.to_owned() })?;
        Selection::percent(percent)
    }

    /// No device by fraction; only a ring's, if one is added.
    pub fn none() -> Selection {
        Selection { ppm: 0, ring: None, ring_places: HashSet::new() }
    }

    /// Adds the devices of ring `name` (embedder's device names) to the selection.
    pub fn with_ring(mut self, name: &str, devices: impl IntoIterator<Item = impl Into<String>>) -> Selection {
        let devices: BTreeSet<String> = devices.into_iter().map(Into::into).collect();
        self.ring_places = devices.iter().map(|device| place(device)).collect();
        self.ring = Some((name.to_owned(), devices));
        self
    }

    /// The fraction, in percent.
    pub fn fraction_percent(&self) -> f64 {
        f64::from(self.ppm) / 10_000.0
    }

    /// The ring's name and devices, if there is one.
    pub fn ring(&self) -> Option<(&str, &BTreeSet<String>)> {
        self.ring.as_ref().map(|(name, devices)| (name.as_str(), devices))
    }

    /// Whether the device named `name` is selected.
    pub fn selects(&self, name: &str) -> bool {
        self.selects_place(place(name))
    }

    /// Whether the device at `place` is selected.
    #[inline]
    pub(crate) fn selects_place(&self, place: u64) -> bool {
        // The device's place scaled to parts per million, below the fraction; then the ring.
        let scaled = ((u128::from(place) * u128::from(MILLION)) >> 64) as u32;
        scaled < self.ppm || (!self.ring_places.is_empty() && self.ring_places.contains(&place))
    }
}

impl std::fmt::Display for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}% of devices", self.fraction_percent())?;
        if let Some((name, devices)) = &self.ring {
            write!(f, " and ring `{name}` ({} devices)", devices.len())?;
        }
        Ok(())
    }
}

/// A canary: the candidate policy and the devices that enforce it.
#[derive(Clone)]
pub struct Canary {
    /// The candidate.
    pub policy: Policy,
    /// Its devices.
    pub selection: Selection,
}

/// A shadow: a policy that decides beside the active one (on the same request and facts) and is only
/// compared with it.
#[derive(Clone)]
pub struct Shadow {
    /// The policy.
    pub policy: Policy,
    /// It decides every `every`th cache miss of each worker (1: every miss). A cache hit reuses the
    /// shadow's answer cached with the active decision, when there is one.
    pub every: u32,
}

/// What a runtime runs: the active policy, and optionally a canary and a shadow. See
/// [`Runtime::set_rollout`](crate::Runtime::set_rollout).
#[derive(Clone)]
pub struct Rollout {
    /// The active (stable) policy: decides for every device the canary does not select.
    pub active: Policy,
    /// The canary, if one runs.
    pub canary: Option<Canary>,
    /// The shadow, if one runs.
    pub shadow: Option<Shadow>,
}

impl Rollout {
    /// Only `active`, for every device.
    pub fn only(active: Policy) -> Rollout {
        Rollout { active, canary: None, shadow: None }
    }

    /// Which policy decides for the device named `name`.
    pub fn enforcing(&self, name: &str) -> &Policy {
        match &self.canary {
            Some(canary) if canary.selection.selects(name) => &canary.policy,
            _ => &self.active,
        }
    }
}

impl std::fmt::Debug for Rollout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("Rollout");
        out.field("active", &self.active.name());
        if let Some(canary) = &self.canary {
            out.field("candidate", &canary.policy.name()).field("selection", &canary.selection.to_string());
        }
        if let Some(shadow) = &self.shadow {
            out.field("shadow", &shadow.policy.name()).field("every", &shadow.every);
        }
        out.finish()
    }
}

/// A rollout plan, as written in a policy directory's `rollout.toml` (or a fleet's desired state):
/// which policy files to run, and for whom. Policies are named by file (in the directory) or by
/// reference (in a registry).
///
/// ```toml
/// active = "reference.wasm"            # decides for every device the canary does not select
///
/// [canary]                             # optional
/// policy = "candidate.wasm"
/// percent = 10                         # 0-100, or "12.5%": by SHA-256 of the device's name
/// ring = "lab"                         # optional: and every device of ring `lab`
///
/// [shadow]                             # optional
/// policy = "next.wasm"
/// every = 1                            # decide beside every Nth cache miss (default 1)
///
/// [rings]
/// lab = ["meter-lab-1", "meter-lab-2"]
/// ```
///
/// Promote by making the candidate `active` and removing `[canary]`; roll back by removing `[canary]`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RolloutPlan {
    /// The active policy.
    pub active: String,
    /// The canary, if one runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryPlan>,
    /// The shadow, if one runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowPlan>,
    /// Named rings of devices (the embedder's device names).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub rings: std::collections::BTreeMap<String, Vec<String>>,
}

/// A plan's canary.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CanaryPlan {
    /// The candidate policy.
    pub policy: String,
    /// The fraction of devices: a number of percent, or a text such as `"12.5%"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<Percent>,
    /// A ring of the plan's `rings`, whose devices enforce the candidate too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring: Option<String>,
}

/// A percentage, written as a number or a text.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Percent {
    /// `percent = 10`.
    Number(f64),
    /// `percent = "12.5%"`.
    Text(String),
}

/// A plan's shadow.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ShadowPlan {
    /// The shadow policy.
    pub policy: String,
    /// It decides beside every `every`th cache miss (default 1: every one).
    #[serde(default = "one")]
    pub every: u32,
}

fn one() -> u32 {
    1
}

impl RolloutPlan {
    /// Parses a plan; `name`'s extension (`.toml`, `.json`) names the format, and errors name it.
    pub fn parse(name: &str, text: &str) -> Result<RolloutPlan, crate::facts::files::FileError> {
        let plan: RolloutPlan = crate::facts::files::parse_named(name, text)?;
        plan.selection(name)?;
        if plan.shadow.as_ref().is_some_and(|shadow| shadow.every == 0) {
            return Err(invalid(name, "shadow.every", RolloutError::Every.to_string()));
        }
        Ok(plan)
    }

    /// The canary's selection, checked: a fraction within 0-100 %, a ring the plan defines, and at
    /// least one of them. `None` without a canary.
    pub fn selection(&self, name: &str) -> Result<Option<Selection>, crate::facts::files::FileError> {
        let Some(canary) = &self.canary else { return Ok(None) };
        let mut selection = match &canary.percent {
            None => Ok(Selection::none()),
            Some(Percent::Number(percent)) => Selection::percent(*percent),
            Some(Percent::Text(text)) => Selection::parse_percent(text),
        }
        .map_err(|error| invalid(name, "canary.percent", error.to_string()))?;
        match &canary.ring {
            Some(ring) => {
                let devices = self.rings.get(ring).ok_or_else(|| {
                    let known: Vec<_> = self.rings.keys().map(|ring| format!("`{ring}`")).collect();
                    let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
                    invalid(name, "canary.ring", format!("ring `{ring}` is not in [rings] (defined: {known}): add it"))
                })?;
                selection = selection.with_ring(ring, devices.iter().cloned());
            }
            None if canary.percent.is_none() => {
                let message =
                    "a canary needs `percent` (0-100) or `ring` (one of [rings]) to say which devices enforce it";
                return Err(invalid(name, "canary", message.to_owned()));
            }
            None => {}
        }
        Ok(Some(selection))
    }

    /// Every policy the plan names, with its role: `active`, `candidate`, `shadow`.
    pub fn policies(&self) -> Vec<(&'static str, &str)> {
        let mut named = vec![("active", self.active.as_str())];
        named.extend(self.canary.as_ref().map(|canary| ("candidate", canary.policy.as_str())));
        named.extend(self.shadow.as_ref().map(|shadow| ("shadow", shadow.policy.as_str())));
        named
    }

    /// The rollout of this plan, with `load` giving each named policy (its error names the file).
    pub fn rollout(&self, name: &str, mut load: impl FnMut(&str) -> Result<Policy, String>) -> Result<Rollout, String> {
        let selection = self.selection(name).map_err(|error| error.to_string())?;
        let mut load = |role: &str, file: &str| load(file).map_err(|error| format!("{role} policy `{file}`: {error}"));
        let active = load("active", &self.active)?;
        let canary = match (&self.canary, selection) {
            (Some(canary), Some(selection)) => Some(Canary { policy: load("candidate", &canary.policy)?, selection }),
            _ => None,
        };
        let shadow = match &self.shadow {
            Some(shadow) => Some(Shadow { policy: load("shadow", &shadow.policy)?, every: shadow.every }),
            None => None,
        };
        Ok(Rollout { active, canary, shadow })
    }
}

fn invalid(file: &str, field: &str, message: String) -> crate::facts::files::FileError {
    crate::facts::files::FileError::Invalid { file: file.to_owned(), field: field.to_owned(), message }
}

/// A rollout that cannot be applied. The rollout in force stays.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RolloutError {
    /// A canary fraction outside 0-100 %.
    #[error("canary fraction `{given}` is not a percentage from 0 to 100: write e.g. `percent = 10` or `\"12.5%\"`")]
    Fraction {
        /// What was given.
        given: String,
    },
    /// A shadow sampled every 0th miss.
    #[error("shadow `every = 0` samples nothing: write `every = 1` to compare every cache miss, or remove the shadow")]
    Every,
    /// Nothing to promote or roll back.
    #[error("no canary runs: start one first (`Runtime::start_canary`, or `candidate` in the rollout file)")]
    NoCanary,
    /// A policy named by the rollout failed its self-check.
    #[error("{role} policy `{policy}` failed its self-check: {fault}: the rollout in force stays")]
    SelfCheck {
        /// `active`, `candidate` or `shadow`.
        role: &'static str,
        /// The policy's name.
        policy: String,
        /// What it did.
        fault: Arc<crate::vocab::PolicyFault>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_outside_0_to_100_are_refused() {
        for bad in ["-1", "100.5", "NaN", "ten", ""] {
            let error = Selection::parse_percent(bad).unwrap_err().to_string();
            assert!(error.contains("0 to 100"), "{bad}: {error}");
        }
        assert_eq!(Selection::parse_percent("12.5%").unwrap().fraction_percent(), 12.5);
        assert!(Selection::percent(100.0).unwrap().selects_place(u64::MAX));
        assert!(!Selection::percent(0.0).unwrap().selects_place(0));
    }

    #[test]
    fn a_larger_fraction_keeps_every_device_already_chosen() {
        let (ten, twenty) = (Selection::percent(10.0).unwrap(), Selection::percent(20.0).unwrap());
        for index in 0..10_000 {
            let name = format!("imsi-{index}");
            assert!(!ten.selects(&name) || twenty.selects(&name), "{name}");
        }
    }

    #[test]
    fn plans_name_what_is_wrong() {
        let cases = [
            ("active = \"a.wasm\"\n[canary]\npolicy = \"b.wasm\"\npercent = 101\n", "canary.percent"),
            ("active = \"a.wasm\"\n[canary]\npolicy = \"b.wasm\"\n", "needs `percent`"),
            ("active = \"a.wasm\"\n[canary]\npolicy = \"b.wasm\"\nring = \"lab\"\n", "ring `lab` is not in [rings]"),
            ("active = \"a.wasm\"\n[shadow]\npolicy = \"b.wasm\"\nevery = 0\n", "every = 0"),
            ("active = \"a.wasm\"\ncandidate = \"b.wasm\"\n", "candidate"),
        ];
        for (text, wanted) in cases {
            let error = RolloutPlan::parse("rollout.toml", text).unwrap_err().to_string();
            assert!(error.contains("rollout.toml") && error.contains(wanted), "{text}: {error}");
        }
        let plan = RolloutPlan::parse(
            "rollout.toml",
            "active = \"a.wasm\"\n[canary]\npolicy = \"b.wasm\"\npercent = \"12.5%\"\nring = \"lab\"\n[rings]\nlab = [\"m1\"]\n",
        )
        .unwrap();
        let selection = plan.selection("rollout.toml").unwrap().unwrap();
        assert_eq!(selection.fraction_percent(), 12.5);
        assert!(selection.selects("m1"));
    }

    #[test]
    fn a_ring_adds_its_devices() {
        let selection = Selection::none().with_ring("lab", ["meter-1", "meter-2"]);
        assert!(selection.selects("meter-1") && selection.selects("meter-2"));
        assert!(!selection.selects("meter-3"));
    }
}
