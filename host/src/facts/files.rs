//! Fact files and request files: the operator's lists, servers and devices, and a request to decide, in
//! TOML or JSON (one schema; the file's extension picks the format). Unknown fields are errors, and
//! every error names the file, the line and the field.
//!
//! ```toml
//! servers = ["legacy.example.org"]          # servers beyond those List 2 names (optional)
//!
//! [lists]
//! integrity-required = false                                   # ask for integrity on every List 1 entry
//! path-a = ["310410", { mcc = "208", mnc = "01" }]              # List 1: 3GPP radio, ciphering or integrity
//! # an entry with terms: the access kinds it vouches for, and integrity as well as ciphering
//! # path-a = [{ network = "310410", access = ["3gpp", "wireline"], integrity-required = true }]
//! path-b = [{ home = "310410", server = "mtc.example.com" }]    # List 2
//! interconnect = ["20801"]                                      # List 3, for every home network
//! interconnect-per-home = [{ home = "310410", visited = ["26201"] }]   # List 3 for one home network
//!
//! [[devices]]
//! name = "meter-17"
//! home = "310410"
//! serving = "20801"      # leave out while unknown
//! access = "3gpp"        # 3gpp | trusted-non-3gpp | untrusted-non-3gpp | wireline; default 3gpp
//! ciphering = true       # both, or neither while this node does not know the device's access
//! integrity = true       # security (a server then takes List 1 as its statement; a device fails closed)
//! ```

use std::collections::HashMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::facts::{AccessKinds, FactSet, FactSetBuilder, PathATerms};
use crate::vocab::{
    AccessIntegrity, AccessKind, Attach, EndToEnd, Event, EventKind, Fqdn, LinkState, PlmnId, Registration, Request,
    Role, ServerId, TriggerCheck,
};

/// A facts file, as written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FactsFile {
    /// Lists 1-3.
    #[serde(default)]
    pub lists: ListsFile,
    /// Servers beyond those List 2 names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<Fqdn>,
    /// Devices and their attach and link facts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceFile>,
}

/// Lists 1-3, as written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ListsFile {
    /// The operator asks for access-layer integrity as well as ciphering on every List 1 entry.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub integrity_required: bool,
    /// List 1: networks known to protect path A, each with what it vouches for.
    #[serde(default)]
    pub path_a: Vec<PathAFile>,
    /// List 2: (home network, server) pairs with a secure path B.
    #[serde(default)]
    pub path_b: Vec<PathBFile>,
    /// List 3 for every home network: visited networks with a secure internal path and interconnect to
    /// any home.
    #[serde(default)]
    pub interconnect: Vec<PlmnId>,
    /// List 3 per home network (000 claim 12): visited networks whose interconnect to that home is
    /// secure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interconnect_per_home: Vec<InterconnectFile>,
    /// Servers attached to a network other than the device's home (000: the server's network is
    /// "typically the HPLMN … but this is not always the case"): List 2 is read for the pair (that
    /// network, server), and List 3 for a path to that network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_networks: Vec<ServerNetworkFile>,
    /// Trusted non-3GPP access networks, by identifier (for access trust).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_access_networks: Vec<String>,
}

impl ListsFile {
    /// Checks what parsing cannot: access network identifiers are not blank. `prefix` is where the
    /// lists sit in `file` (`lists.` in a facts file, empty for lists alone).
    pub fn check(&self, file: &str, prefix: &str) -> Result<(), FileError> {
        for (index, entry) in self.server_networks.iter().enumerate() {
            let earlier = self.server_networks[..index].iter().find(|other| other.server == entry.server);
            if let Some(earlier) = earlier.filter(|earlier| earlier.network != entry.network) {
                return Err(FileError::Invalid {
                    file: file.to_owned(),
                    field: format!("{prefix}server-networks[{index}]"),
                    message: format!(
                        "`{}` is attached to {} here and to {} above: a server is attached to one network; keep one entry",
                        entry.server, entry.network, earlier.network
                    ),
                });
            }
        }
        for (index, network) in self.trusted_access_networks.iter().enumerate() {
            if network.trim().is_empty() {
                return Err(FileError::Invalid {
                    file: file.to_owned(),
                    field: format!("{prefix}trusted-access-networks[{index}]"),
                    message: "an access network identifier cannot be blank".to_owned(),
                });
            }
        }
        Ok(())
    }

    /// The lists of `facts`, in their sorted order (so the same lists always write the same file).
    pub fn from_facts(facts: &FactSet) -> ListsFile {
        let mut per_home: Vec<InterconnectFile> = Vec::new();
        for &(home, visited) in facts.interconnect_per_home() {
            match per_home.last_mut() {
                Some(entry) if entry.home == home => entry.visited.push(visited),
                _ => per_home.push(InterconnectFile { home, visited: vec![visited] }),
            }
        }
        let mut path_b: Vec<PathBFile> = facts
            .path_b()
            .iter()
            .filter_map(|&(home, server)| Some(PathBFile { home, server: facts.server(server)?.clone() }))
            .collect();
        path_b.sort_by(|a, b| (a.home, a.server.as_str()).cmp(&(b.home, b.server.as_str())));
        ListsFile {
            integrity_required: facts.integrity_required(),
            path_a: facts.path_a_entries().map(|(network, terms)| PathAFile { network, terms }).collect(),
            path_b,
            interconnect: facts.interconnect().to_vec(),
            interconnect_per_home: per_home,
            server_networks: {
                let mut attached: Vec<ServerNetworkFile> = facts
                    .server_networks()
                    .iter()
                    .filter_map(|&(server, network)| {
                        Some(ServerNetworkFile { server: facts.server(server)?.clone(), network })
                    })
                    .collect();
                attached.sort_by(|a, b| a.server.as_str().cmp(b.server.as_str()));
                attached
            },
            trusted_access_networks: facts.trusted_access_networks().iter().map(|n| n.to_string()).collect(),
        }
    }

    /// Adds (`trust`) or removes every entry of these lists to or from `builder` (List 2's servers are
    /// interned either way).
    pub fn edit(&self, builder: &mut FactSetBuilder, trust: bool) {
        if self.integrity_required {
            builder.require_integrity(trust);
        }
        for entry in &self.path_a {
            if trust {
                builder.trust_path_a_with(entry.network, entry.terms)
            } else {
                builder.distrust_path_a(entry.network)
            };
        }
        for pair in &self.path_b {
            let server = builder.server(pair.server.clone());
            if trust {
                builder.trust_path_b(pair.home, server)
            } else {
                builder.distrust_path_b(pair.home, server)
            };
        }
        for network in &self.interconnect {
            if trust {
                builder.trust_interconnect(*network)
            } else {
                builder.distrust_interconnect(*network)
            };
        }
        for entry in &self.interconnect_per_home {
            for visited in &entry.visited {
                if trust {
                    builder.trust_interconnect_for(entry.home, *visited)
                } else {
                    builder.distrust_interconnect_for(entry.home, *visited)
                };
            }
        }
        for entry in &self.server_networks {
            let server = builder.server(entry.server.clone());
            if trust {
                builder.attach_server(server, entry.network)
            } else {
                builder.detach_server(server)
            };
        }
        for network in &self.trusted_access_networks {
            if trust {
                builder.trust_access_network(network)
            } else {
                builder.distrust_access_network(network)
            };
        }
    }

    /// The lists as a fact generation (their servers interned).
    pub fn facts(&self) -> FactSet {
        FactsFile { lists: self.clone(), servers: Vec::new(), devices: Vec::new() }.builder().build()
    }
}

/// An entry of List 1: a network, alone (`"310410"` or `{ mcc = "310", mnc = "410" }`: 3GPP radio,
/// ciphering or integrity) or with its terms (`{ network = "310410", access = ["3gpp", "wireline"],
/// integrity-required = true }`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathAFile {
    /// The network.
    pub network: PlmnId,
    /// What the entry vouches for.
    pub terms: PathATerms,
}

impl From<PlmnId> for PathAFile {
    fn from(network: PlmnId) -> PathAFile {
        PathAFile { network, terms: PathATerms::DEFAULT }
    }
}

impl Serialize for PathAFile {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        if self.terms.is_default() {
            return self.network.serialize(serializer);
        }
        let mut entry = serializer.serialize_struct("PathAFile", 3)?;
        entry.serialize_field("network", &self.network.to_string())?;
        entry.serialize_field("access", &self.terms.access)?;
        entry.serialize_field("integrity-required", &self.terms.integrity_required)?;
        entry.end()
    }
}

impl<'de> Deserialize<'de> for PathAFile {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<PathAFile, D::Error> {
        deserializer.deserialize_any(PathAVisitor)
    }
}

/// Reads a List 1 entry in any of its forms, naming what is wrong.
struct PathAVisitor;

impl<'de> serde::de::Visitor<'de> for PathAVisitor {
    type Value = PathAFile;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "a List 1 entry: a PLMN-ID such as \"310410\", or a table such as { network = \"310410\", access = [\"3gpp\"], integrity-required = true }",
        )
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<PathAFile, E> {
        text.parse::<PlmnId>().map(PathAFile::from).map_err(E::custom)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<PathAFile, A::Error> {
        use serde::de::Error;
        let (mut network, mut mcc, mut mnc, mut access, mut integrity_required) = (None, None, None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "network" => network = Some(map.next_value::<PlmnId>()?),
                "mcc" => mcc = Some(map.next_value::<Digits>()?.0),
                "mnc" => mnc = Some(map.next_value::<Digits>()?.0),
                "access" => access = Some(map.next_value::<AccessKinds>()?),
                "integrity-required" => integrity_required = Some(map.next_value::<bool>()?),
                other => {
                    return Err(A::Error::unknown_field(
                        other,
                        &["network", "access", "integrity-required", "mcc", "mnc"],
                    ));
                }
            }
        }
        let network = match (network, mcc, mnc) {
            (Some(network), None, None) => network,
            (None, Some(mcc), Some(mnc)) => PlmnId::from_parts(&mcc, &mnc).map_err(A::Error::custom)?,
            (None, None, None) => return Err(A::Error::missing_field("network")),
            (Some(_), _, _) => {
                return Err(A::Error::custom("give the entry's `network`, or `mcc` and `mnc`, not both"));
            }
            (None, _, _) => return Err(A::Error::custom("a PLMN-ID table needs both `mcc` and `mnc`")),
        };
        let terms = PathATerms {
            access: access.unwrap_or(AccessKinds::THREE_GPP),
            integrity_required: integrity_required.unwrap_or(false),
        };
        Ok(PathAFile { network, terms })
    }
}

/// An MCC or MNC, which only a string can carry (an integer loses the MNC's leading zero).
struct Digits(String);

impl<'de> Deserialize<'de> for Digits {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Digits, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Digits;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an MCC or MNC as a string, such as \"070\" (an integer would lose its leading zero)")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Digits, E> {
                Ok(Digits(text.to_owned()))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// An entry of List 2.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathBFile {
    /// The network the server is attached to: the device's home, unless `server-networks` names
    /// another (written `home`, or `network`).
    #[serde(alias = "network")]
    pub home: PlmnId,
    /// The server.
    pub server: Fqdn,
}

/// A server attached to a network other than the device's home.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerNetworkFile {
    /// The server.
    pub server: Fqdn,
    /// The network it is attached to.
    pub network: PlmnId,
}

/// List 3 entries for one home network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterconnectFile {
    /// The home network.
    pub home: PlmnId,
    /// Visited networks whose internal path and interconnect to `home` are secure.
    pub visited: Vec<PlmnId>,
}

/// A device and its facts, as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DeviceFile {
    /// The device's name (a SUPI, an IMSI, an external identifier…).
    pub name: String,
    /// Its home network.
    pub home: PlmnId,
    /// Its serving network; absent while unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving: Option<PlmnId>,
    /// How it is attached.
    #[serde(default = "three_gpp")]
    pub access: AccessKind,
    /// Access-layer ciphering; absent, with `integrity`, while this node does not know the device's
    /// access security.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ciphering: Option<bool>,
    /// Access-layer integrity; absent, with `ciphering`, while unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<bool>,
}

fn three_gpp() -> AccessKind {
    AccessKind::ThreeGpp
}

impl DeviceFile {
    /// The device's attach facts.
    pub fn attach(&self) -> Attach {
        Attach { serving: self.serving, home: self.home, access: self.access }
    }

    /// The device's link state, when both flags are known.
    pub fn link(&self) -> Option<LinkState> {
        Some(LinkState { ciphering: self.ciphering?, integrity: self.integrity? })
    }
}

impl FactsFile {
    /// Reads a `.toml` or `.json` facts file.
    pub fn read(path: impl AsRef<Path>) -> Result<FactsFile, FileError> {
        let facts: FactsFile = read(path.as_ref())?;
        facts.check(&path.as_ref().display().to_string())?;
        Ok(facts)
    }

    /// Parses facts that did not come from a file (a configuration service, a test): `name` is what
    /// errors call it, and its extension (`.toml`, `.json`) names the format.
    pub fn parse(name: &str, text: &str) -> Result<FactsFile, FileError> {
        let facts: FactsFile = parse_named(name, text)?;
        facts.check(name)?;
        Ok(facts)
    }

    /// The lists and servers as a fact generation; also every server a request may name is interned.
    pub fn builder(&self) -> FactSetBuilder {
        let mut builder = FactSet::builder();
        for server in &self.servers {
            builder.server(server.clone());
        }
        self.lists.edit(&mut builder, true);
        builder
    }

    /// The device named `name`.
    pub fn device(&self, name: &str) -> Option<&DeviceFile> {
        self.devices.iter().find(|device| device.name == name)
    }

    /// Checks that device names are unique and access network identifiers are not blank.
    pub(crate) fn check(&self, file: &str) -> Result<(), FileError> {
        self.lists.check(file, "lists.")?;
        let mut seen = HashMap::new();
        for (index, device) in self.devices.iter().enumerate() {
            if device.ciphering.is_some() != device.integrity.is_some() {
                return Err(FileError::Invalid {
                    file: file.to_owned(),
                    field: format!("devices[{index}]"),
                    message: "give both `ciphering` and `integrity`, or neither while this node does not know the device's access security".to_owned(),
                });
            }
            if let Some(first) = seen.insert(device.name.as_str(), index) {
                return Err(FileError::Invalid {
                    file: file.to_owned(),
                    field: format!("devices[{index}].name"),
                    message: format!("device `{}` is already defined at `devices[{first}]`", device.name),
                });
            }
        }
        Ok(())
    }
}

/// A request, as written: who asks, about what, on which path. The device's facts come from a facts
/// file (`device = "name"`) or are written out (`home`, `serving`, `access`, `ciphering`, `integrity`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RequestFile {
    /// Which node asks.
    pub role: Role,
    /// What it handles.
    pub event: EventKind,
    /// The server at the other end of the path.
    pub server: Fqdn,
    /// A device of the facts file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The serving network (without `device`); absent while unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving: Option<PlmnId>,
    /// The home network (without `device`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<PlmnId>,
    /// The access (without `device`); default `3gpp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessKind>,
    /// Access-layer ciphering (without `device`); absent while unknown (counts as off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ciphering: Option<bool>,
    /// Access-layer integrity (without `device`); absent while unknown (counts as off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<bool>,
    /// For `receive-trigger`: the access-layer integrity check's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_integrity: Option<AccessIntegrity>,
    /// For `receive-trigger`: the end-to-end protection check's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_to_end: Option<EndToEnd>,
    /// The registration agreement (without `device`: a what-if request asserts it); default `none`. A
    /// request that names a device takes the device's registration from where it is kept (the
    /// exchange, or a fed outcome) and refuses this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<Registration>,
}

impl RequestFile {
    /// Reads a `.toml` or `.json` request file.
    pub fn read(path: impl AsRef<Path>) -> Result<RequestFile, FileError> {
        read(path.as_ref())
    }

    /// Parses a request that did not come from a file; `name`'s extension names the format.
    pub fn parse(name: &str, text: &str) -> Result<RequestFile, FileError> {
        parse_named(name, text)
    }

    /// The request against `facts`, interning the server in `builder`. `field` names this request in
    /// errors (e.g. `request` or `case[2].request`).
    pub fn resolve(
        &self,
        facts: &FactsFile,
        builder: &mut FactSetBuilder,
        file: &str,
        field: &str,
    ) -> Result<Request, FileError> {
        let (event, subject) = self.subject(file, field)?;
        let (attach, link) = match subject {
            Subject::Device(name) => {
                let device = facts.device(name).ok_or_else(|| FileError::Invalid {
                    file: file.to_owned(),
                    field: format!("{field}.device"),
                    message: format!("no device `{name}` in the facts"),
                })?;
                (device.attach(), device.link())
            }
            Subject::Facts(attach, link) => (attach, link),
        };
        Ok(self.request(event, builder.server(self.server.clone()), attach, link))
    }

    /// What the request is about, checked: its event, and the device it names or the facts it writes
    /// out. `field` names the request in errors (empty: its fields are named alone). For a caller that keeps devices and servers itself (a runtime): see [`RequestFile::request`].
    pub fn subject(&self, file: &str, field: &str) -> Result<(Event, Subject<'_>), FileError> {
        let invalid = |part: &str, message: String| FileError::Invalid {
            file: file.to_owned(),
            field: match (field.is_empty(), part.is_empty()) {
                (_, true) => field.to_owned(),
                (true, false) => part.to_owned(),
                (false, false) => format!("{field}.{part}"),
            },
            message,
        };
        let event = event(self.event, self.access_integrity, self.end_to_end).map_err(|e| invalid("event", e))?;
        let subject = match &self.device {
            Some(name) => {
                let written_out = [self.serving.is_some(), self.home.is_some(), self.access.is_some()];
                if written_out.into_iter().any(|given| given) || self.ciphering.is_some() || self.integrity.is_some() {
                    return Err(invalid(
                        "device",
                        "give `device` or the device's facts (`home`, `serving`, `access`, `ciphering`, `integrity`), not both".to_owned(),
                    ));
                }
                if self.registration.is_some() {
                    return Err(invalid(
                        "registration",
                        format!(
                            "device `{name}`'s registration is what its registration exchange (or a fed outcome) left, not the request's: leave `registration` out, or write the device's facts out instead of `device` to ask what an agreement would give"
                        ),
                    ));
                }
                Subject::Device(name)
            }
            None => {
                let home =
                    self.home.ok_or_else(|| invalid("", "give `device`, or the device's `home` network".to_owned()))?;
                let attach =
                    Attach { serving: self.serving, home, access: self.access.unwrap_or(AccessKind::ThreeGpp) };
                let link = match (self.ciphering, self.integrity) {
                    (Some(ciphering), Some(integrity)) => Some(LinkState { ciphering, integrity }),
                    (None, None) => None,
                    _ => {
                        return Err(invalid(
                            "",
                            "give both `ciphering` and `integrity`, or neither while the asking node does not know the device's access security".to_owned(),
                        ));
                    }
                };
                Subject::Facts(attach, link)
            }
        };
        Ok((event, subject))
    }

    /// The request of `event` for `server`, on `attach` and `link`, with this file's role and
    /// registration.
    pub fn request(&self, event: Event, server: ServerId, attach: Attach, link: Option<LinkState>) -> Request {
        Request {
            role: self.role,
            event,
            server,
            attach,
            link,
            registration: self.registration.unwrap_or(Registration::None),
        }
    }
}

/// What a request file is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject<'a> {
    /// A device known by name (to a facts file, or to a runtime).
    Device(&'a str),
    /// A device whose facts are written out (the link state `None` while the asking node does not know
    /// it).
    Facts(Attach, Option<LinkState>),
}

/// The event of a `kind`, with a received trigger's check results (which only `receive-trigger` takes,
/// and needs): what request files and sequence steps write.
pub(crate) fn event(
    kind: EventKind,
    access_integrity: Option<AccessIntegrity>,
    end_to_end: Option<EndToEnd>,
) -> Result<Event, String> {
    Ok(match (kind, access_integrity, end_to_end) {
        (EventKind::ReceiveTrigger, Some(access_integrity), Some(end_to_end)) => {
            Event::ReceiveTrigger(TriggerCheck { access_integrity, end_to_end })
        }
        (EventKind::ReceiveTrigger, _, _) => {
            return Err("`receive-trigger` needs `access-integrity` and `end-to-end`".to_owned());
        }
        (EventKind::SendData, None, None) => Event::SendData,
        (EventKind::ReceiveUnprotected, None, None) => Event::ReceiveUnprotected,
        (EventKind::ReceiveProtected, None, None) => Event::ReceiveProtected,
        (EventKind::SendTrigger, None, None) => Event::SendTrigger,
        (kind, _, _) => {
            return Err(format!("`access-integrity` and `end-to-end` are for `receive-trigger`, not `{kind}`"));
        }
    })
}

/// The formats a file may be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Toml,
    Json,
}

impl Format {
    pub(crate) fn of(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()? {
            "toml" => Some(Format::Toml),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// Reads and parses a file by its extension.
pub(crate) fn read<T: DeserializeOwned>(path: &Path) -> Result<T, FileError> {
    let file = path.display().to_string();
    let format = Format::of(path).ok_or_else(|| FileError::Format { file: file.clone() })?;
    let text = std::fs::read_to_string(path).map_err(|source| FileError::Read { file: file.clone(), source })?;
    parse(&file, &text, format)
}

/// Parses `text` as the file `name`, whose extension (`.toml`, `.json`) names the format.
pub fn parse_named<T: DeserializeOwned>(name: &str, text: &str) -> Result<T, FileError> {
    let format = Format::of(Path::new(name)).ok_or_else(|| FileError::Format { file: name.to_owned() })?;
    parse(name, text, format)
}

/// Parses `text` as `format`; errors name `file`, the line and the field.
pub(crate) fn parse<T: DeserializeOwned>(file: &str, text: &str, format: Format) -> Result<T, FileError> {
    let error = |line: Option<usize>, field: String, message: String| FileError::Parse {
        file: file.to_owned(),
        line,
        field,
        message,
    };
    match format {
        Format::Toml => {
            let deserializer = toml::Deserializer::parse(text)
                .map_err(|e| error(line_of(text, e.span()), String::new(), e.message().to_owned()))?;
            serde_path_to_error::deserialize(deserializer).map_err(|e| {
                let field = field_of(e.path());
                let inner = e.into_inner();
                error(line_of(text, inner.span()), field, inner.message().to_owned())
            })
        }
        Format::Json => {
            let mut deserializer = serde_json::Deserializer::from_str(text);
            let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
                let field = field_of(e.path());
                let inner = e.into_inner();
                error(Some(inner.line()).filter(|line| *line > 0), field, json_message(&inner))
            })?;
            deserializer.end().map_err(|e| error(Some(e.line()), String::new(), json_message(&e)))?;
            Ok(value)
        }
    }
}

/// The path of a field, or nothing for the whole document.
fn field_of(path: &serde_path_to_error::Path) -> String {
    let path = path.to_string();
    if path == "." { String::new() } else { path }
}

/// serde_json's message without its own " at line L column C" suffix (the line is reported apart).
fn json_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> Option<usize> {
    let start = span?.start.min(text.len());
    Some(text[..start].matches('\n').count() + 1)
}

/// A facts, request or case file that cannot be used. The message names the file, the line and the
/// field: "`lists.toml` line 7, field `lists.path-a[0]`: `3101` is not a PLMN-ID: …".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The file cannot be read.
    #[error("cannot read `{file}`")]
    Read {
        /// The file.
        file: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file's extension names no format.
    #[error("`{file}`: unknown format: name the file `.toml` or `.json`")]
    Format {
        /// The file.
        file: String,
    },
    /// The file does not parse, or a value in it is not valid.
    #[error("`{file}`{}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default(), if field.is_empty() { String::new() } else { format!(", field `{field}`") })]
    Parse {
        /// The file.
        file: String,
        /// The line, when known.
        line: Option<usize>,
        /// The field's path (`lists.path-a[0]`), empty for the whole file.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The file parses, but its content does not hold together.
    #[error("`{file}`, field `{field}`: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// The field's path.
        field: String,
        /// What is wrong.
        message: String,
    },
}
