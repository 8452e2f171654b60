//! [`Facts`]: the lists and server names of one fact generation, ready for lookups.

use std::fmt;

use crate::bindings::pathsec::policy::types::FactSet;
use crate::keys::KeySet;
use crate::{AccessKind, PlmnId, Request, ServerId};

/// Where a List 1 key holds the access kind it vouches for (above the 26 bits of a `plmn-key`).
const ACCESS_SHIFT: u32 = 26;
/// A List 1 entry's `integrity-required` bit (see `path-a-entry` in the WIT).
const INTEGRITY_REQUIRED: u64 = 1 << 4;

/// The operator's lists and the server names, as the host last loaded them.
#[derive(Default)]
pub struct Facts {
    generation: u64,
    servers: Vec<String>,
    /// List 1 as one key per (network, access kind it vouches for): `plmn-key | access << 26`.
    path_a: KeySet<u32>,
    /// The networks whose List 1 entry asks for integrity as well.
    integrity_required: KeySet<u32>,
    /// How many List 1 entries there are.
    path_a_entries: usize,
    path_b: KeySet<u64>,
    /// The servers List 2 names, for any home network.
    listed_servers: KeySet<u32>,
    interconnect: KeySet<u32>,
    interconnect_per_home: KeySet<u64>,
    /// Per server handle, the `plmn-key` of the network it is attached to, 0 for the device's home
    /// (a key is never 0); empty when every server is attached to the device's home.
    server_networks: Vec<u32>,
}

impl Facts {
    pub(crate) fn new(facts: &FactSet) -> Facts {
        let lists = &facts.lists;
        Facts {
            generation: facts.generation,
            servers: facts.server_names.split('\n').filter(|name| !name.is_empty()).map(str::to_owned).collect(),
            path_a: {
                let mut keys = Vec::with_capacity(lists.path_a.len());
                for &entry in &lists.path_a {
                    let network = (entry >> 32) as u32;
                    for access in 0..4 {
                        if entry & 1 << access != 0 {
                            keys.push(network | access << ACCESS_SHIFT);
                        }
                    }
                }
                KeySet::new(&keys)
            },
            integrity_required: {
                let networks: Vec<u32> = lists
                    .path_a
                    .iter()
                    .filter(|&&entry| entry & INTEGRITY_REQUIRED != 0)
                    .map(|&entry| (entry >> 32) as u32)
                    .collect();
                KeySet::new(&networks)
            },
            path_a_entries: lists.path_a.len(),
            path_b: KeySet::new(&lists.path_b),
            listed_servers: {
                // A List 2 key is the home's key above the server's handle.
                let mut servers: Vec<u32> = lists.path_b.iter().map(|&key| key as u32).collect();
                servers.sort_unstable();
                servers.dedup();
                KeySet::new(&servers)
            },
            interconnect: KeySet::new(&lists.interconnect),
            interconnect_per_home: KeySet::new(&lists.interconnect_per_home),
            server_networks: {
                let mut networks = Vec::new();
                for &entry in &facts.server_networks {
                    let server = (entry >> 32) as usize;
                    if networks.len() <= server {
                        networks.resize(server + 1, 0);
                    }
                    networks[server] = entry as u32;
                }
                networks
            },
        }
    }

    /// List 1: is `network` known to protect path A over `access` (its entry vouches for that access
    /// kind)?
    #[inline(always)]
    pub fn path_a(&self, network: PlmnId, access: AccessKind) -> bool {
        self.path_a.contains(network.key() | (access as u32) << ACCESS_SHIFT)
    }

    /// Does List 1's entry for `network` ask for access-layer integrity as well as ciphering (or the
    /// operator, for every entry)? `false` for a network List 1 does not hold.
    #[inline(always)]
    pub fn integrity_required(&self, network: PlmnId) -> bool {
        !self.integrity_required.is_empty() && self.integrity_required.contains(network.key())
    }

    /// List 2: is path B between `home` and `server` secure?
    #[inline(always)]
    pub fn path_b(&self, home: PlmnId, server: ServerId) -> bool {
        self.path_b.contains((u64::from(home.key()) << 32) | u64::from(server))
    }

    /// Does List 2 name `server` for any home network (the operator has a secure path B to it from
    /// somewhere)?
    pub fn server_listed(&self, server: ServerId) -> bool {
        self.listed_servers.contains(server)
    }

    /// List 3: does the visited `network` have a secure internal path and interconnect to `home` — listed
    /// for every home network, or for this one (000 claim 12)?
    #[inline(always)]
    pub fn interconnect(&self, network: PlmnId, home: PlmnId) -> bool {
        self.interconnect.contains(network.key())
            || (!self.interconnect_per_home.is_empty()
                && self.interconnect_per_home.contains((u64::from(home.key()) << 32) | u64::from(network.key())))
    }

    /// The network `server` is attached to, when the facts name one other than the device's home.
    pub fn server_network(&self, server: ServerId) -> Option<PlmnId> {
        self.server_networks.get(server as usize).copied().filter(|&key| key != 0).map(PlmnId::from_key)
    }

    /// The second network of a path between a device of `home` and `server` (000: "typically the
    /// HPLMN … but this is not always the case"): the network the server is attached to, the device's
    /// home unless the facts name another. Lists 2 and 3 are read for it.
    #[inline(always)]
    pub fn second_network(&self, home: PlmnId, server: ServerId) -> PlmnId {
        PlmnId::from_key(self.second_network_key(home.key(), server))
    }

    /// [`Facts::second_network`] on `plmn-key`s.
    #[inline(always)]
    pub(crate) fn second_network_key(&self, home: u32, server: ServerId) -> u32 {
        match self.server_networks.get(server as usize) {
            Some(&key) if key != 0 => key,
            _ => home,
        }
    }

    /// The FQDN of a server handle (lowercase, no trailing dot).
    pub fn server_name(&self, server: ServerId) -> Option<&str> {
        self.servers.get(server as usize).map(String::as_str)
    }

    /// The fact generation.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// How many entries Lists 1, 2 and 3 hold (List 3: for every home, then per home).
    pub fn list_sizes(&self) -> (usize, usize, usize, usize) {
        (self.path_a_entries, self.path_b.len(), self.interconnect.len(), self.interconnect_per_home.len())
    }
}

impl PlmnId {
    /// The WIT's `plmn-key`: `mcc << 16 | mnc << 4 | mnc-digits`.
    #[inline(always)]
    pub fn key(self) -> u32 {
        (u32::from(self.mcc) << 16) | (u32::from(self.mnc) << 4) | u32::from(self.mnc_digits)
    }

    /// The network a `plmn-key` names (the inverse of [`PlmnId::key`]; the two fold away when inlined
    /// together, so a key-based path pays nothing for passing a `PlmnId`).
    #[inline(always)]
    pub fn from_key(key: u32) -> PlmnId {
        PlmnId { mcc: (key >> 16) as u16, mnc: ((key >> 4) & 0xfff) as u16, mnc_digits: (key & 0xf) as u8 }
    }
}

impl fmt::Display for PlmnId {
    /// The packed form: `310410`, `31041`, `00101`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}{:0width$}", self.mcc, self.mnc, width = usize::from(self.mnc_digits))
    }
}

impl Request {
    /// The device is roaming: its serving network is known and is not its home network.
    pub fn roaming(&self) -> bool {
        self.attach.serving.is_some_and(|serving| serving != self.attach.home)
    }
}
