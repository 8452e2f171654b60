//! [`SettingsFile`]: a node's registration settings as written — the server's ([`RegistrationConfig`]:
//! the registration timer, the security options it offers, the roaming limits per home network, the
//! servers it answers for) and the device's ([`DeviceConfig`]: whose "no application-layer security"
//! it accepts while its access ciphering is off, 000 FIG. 7 step 7). The C ABI and the daemon build a
//! runtime's settings from it; an embedding host may too.
//!
//! ```toml
//! [registration]
//! timer = "24h"                                   # how long an agreement stands (default 24 h)
//! options = ["dtls-1.3", "oscore"]                # offered, in the server's order of preference
//! serves = ["mtc.example.com"]                    # default: any server the lists name
//! roaming = [{ home = "310410", visited = ["20801", "26201"] }]   # homes not listed roam freely
//!
//! [device]
//! accept-plain-from = ["mtc.example.com"]         # or accept-plain-unciphered = true, for any server
//! ```

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::exchange::SecurityOption;
use crate::facts::files::{FileError, parse_named};
use crate::store::registration::{DeviceConfig, RegistrationConfig};
use crate::vocab::{Fqdn, PlmnId};

/// A node's registration settings, as written (see the module's documentation). Unknown fields are
/// errors, and every error names the file, the line and the field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SettingsFile {
    /// The server side of the registration exchange.
    #[serde(default)]
    pub registration: RegistrationSettings,
    /// The device side.
    #[serde(default)]
    pub device: DeviceSettings,
}

/// The server side's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RegistrationSettings {
    /// How long an agreement stands before the device must register again (`"24h"`, `"90m"`; at least
    /// one second).
    #[serde(default = "default_timer", with = "duration_text")]
    pub timer: Duration,
    /// The application-layer security offered, in this server's order of preference.
    #[serde(default)]
    pub options: Vec<SecurityOption>,
    /// The servers this node answers registrations for; empty: any server its lists name.
    #[serde(default)]
    pub serves: Vec<Fqdn>,
    /// Per home network, the visited networks its devices may roam to (000, FIG. 7 step 5).
    #[serde(default)]
    pub roaming: Vec<RoamingSettings>,
}

/// Where the devices of one home network may roam.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoamingSettings {
    /// The home network.
    pub home: PlmnId,
    /// The visited networks its devices may be served in (besides home).
    pub visited: Vec<PlmnId>,
}

/// The device side's settings (000, FIG. 7 step 7).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DeviceSettings {
    /// Accept "no application-layer security" from any server while access ciphering is off.
    #[serde(default)]
    pub accept_plain_unciphered: bool,
    /// The servers whose "no application-layer security" is accepted while access ciphering is off.
    #[serde(default)]
    pub accept_plain_from: Vec<Fqdn>,
}

impl Default for RegistrationSettings {
    fn default() -> RegistrationSettings {
        RegistrationSettings { timer: default_timer(), options: Vec::new(), serves: Vec::new(), roaming: Vec::new() }
    }
}

fn default_timer() -> Duration {
    RegistrationConfig::default().timer
}

impl SettingsFile {
    /// Reads settings file `name` (TOML, or JSON when it ends in `.json`) from `text`, and checks it.
    pub fn read(name: &str, text: &str) -> Result<SettingsFile, FileError> {
        let settings: SettingsFile = parse_named(name, text)?;
        settings.check(name)?;
        Ok(settings)
    }

    /// Checks what parsing cannot: a timer of at least a second, each home network's roaming written
    /// once, no option offered twice.
    pub fn check(&self, file: &str) -> Result<(), FileError> {
        let invalid = |field: String, message: String| FileError::Invalid { file: file.to_owned(), field, message };
        let registration = &self.registration;
        if registration.timer < Duration::from_secs(1) {
            return Err(invalid(
                "registration.timer".into(),
                "an agreement stands for at least a second: write a duration such as \"24h\"".into(),
            ));
        }
        for (index, option) in registration.options.iter().enumerate() {
            if registration.options[..index].contains(option) {
                return Err(invalid(
                    format!("registration.options[{index}]"),
                    format!("`{option}` is offered twice: keep it once, where it belongs in the order"),
                ));
            }
        }
        for (index, entry) in registration.roaming.iter().enumerate() {
            if registration.roaming[..index].iter().any(|earlier| earlier.home == entry.home) {
                return Err(invalid(
                    format!("registration.roaming[{index}]"),
                    format!("home network {} is listed twice: merge its visited networks into one entry", entry.home),
                ));
            }
        }
        Ok(())
    }

    /// The server side's settings as the runtime takes them.
    pub fn registration_config(&self) -> RegistrationConfig {
        let registration = &self.registration;
        RegistrationConfig {
            timer: registration.timer,
            options: registration.options.clone(),
            roaming: registration
                .roaming
                .iter()
                .map(|entry| (entry.home, entry.visited.iter().copied().collect::<BTreeSet<_>>()))
                .collect::<HashMap<_, _>>(),
            serves: registration.serves.iter().cloned().collect(),
        }
    }

    /// The device side's settings as the runtime takes them.
    pub fn device_config(&self) -> DeviceConfig {
        DeviceConfig {
            accept_plain_unciphered: self.device.accept_plain_unciphered,
            accept_plain_from: self.device.accept_plain_from.iter().cloned().collect(),
        }
    }
}

/// A duration written as text (`"24h"`, `"90m"`, `"1h 30m"`).
mod duration_text {
    use super::*;

    pub(super) fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_duration(*duration))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!("`{text}` is not a duration ({e}): write one such as \"24h\" or \"90m\""))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settings_file_gives_the_runtime_settings() {
        let text = r#"
[registration]
timer = "90m"
options = ["dtls-1.3", "oscore"]
serves = ["MTC.example.com."]
roaming = [{ home = "310410", visited = ["20801"] }]

[device]
accept-plain-from = ["mtc.example.com"]
"#;
        let settings = SettingsFile::read("settings.toml", text).expect("valid");
        let registration = settings.registration_config();
        assert_eq!(registration.timer, Duration::from_secs(90 * 60));
        let plmn = |text: &str| text.parse::<PlmnId>().expect("valid");
        assert!(registration.may_roam(plmn("310410"), plmn("20801")));
        assert!(!registration.may_roam(plmn("310410"), plmn("26201")));
        assert!(registration.may_roam(plmn("26201"), plmn("44010")), "a home not listed roams freely");
        let server: Fqdn = "mtc.example.com".parse().expect("valid");
        assert!(registration.serves.contains(&server));
        assert!(settings.device_config().accepts_plain_unciphered(&server));
        assert_eq!(SettingsFile::read("empty.toml", "").expect("valid").registration_config().timer, default_timer());
    }

    #[test]
    fn bad_settings_name_the_field() {
        let refused = |text: &str| SettingsFile::read("settings.toml", text).expect_err(text).to_string();
        assert!(refused("[registration]\ntimer = \"soon\"\n").contains("registration.timer"));
        assert!(refused("[registration]\ntimer = \"0s\"\n").contains("at least a second"));
        assert!(refused("[registration]\noptions = [\"oscore\", \"oscore\"]\n").contains("registration.options[1]"));
        let twice = refused(
            "[registration]\nroaming = [{ home = \"310410\", visited = [] }, { home = \"310410\", visited = [\"20801\"] }]\n",
        );
        assert!(twice.contains("registration.roaming[1]") && twice.contains("merge"), "{twice}");
        assert!(refused("[device]\naccept-plain = true\n").contains("accept-plain"));
        assert!(
            refused("[registration]\nroaming = [{ home = \"31041\", visited = [\"2080\"] }]\n").contains("visited")
        );
    }
}
