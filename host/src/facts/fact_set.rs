//! [`FactSet`]: one immutable generation of the operator's trust lists (Lists 1-3), the trusted access
//! networks and the server names, loaded into a policy once per generation.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::facts::{ListsDigest, PathATerms};
use crate::vocab::{Fqdn, PlmnId, ServerId};

/// Source of fact generations: every [`FactSet`] built in this process gets a different one.
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

/// One immutable generation of the list facts (Lists 1-3) and the server names.
///
/// Build with [`FactSet::builder`]; derive the next generation with [`FactSet::to_builder`], which keeps
/// every server handle.
///
/// ```
/// use pathsec::{FactSet, PlmnId};
/// let home: PlmnId = "310410".parse()?;
/// let mut facts = FactSet::builder();
/// let server = facts.server("mtc.example.com".parse()?);
/// facts.trust_path_a(home).trust_path_b(home, server);
/// let facts = facts.build();
/// assert_eq!(facts.server_id(&"MTC.example.com.".parse()?), Some(server));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FactSet {
    generation: u64,
    servers: Vec<Fqdn>,
    by_name: HashMap<Fqdn, ServerId>,
    path_a: Vec<PlmnId>,
    /// Each List 1 entry's terms, in `path_a`'s order.
    path_a_terms: Vec<PathATerms>,
    /// The operator asks for access-layer integrity on every List 1 entry.
    integrity_required: bool,
    path_b: Vec<(PlmnId, ServerId)>,
    interconnect: Vec<PlmnId>,
    interconnect_per_home: Vec<(PlmnId, PlmnId)>,
    /// Servers attached to a network named here rather than to the device's home, sorted by server.
    server_networks: Vec<(ServerId, PlmnId)>,
    trusted_access_networks: Vec<Box<str>>,
    /// The lists' content digest, computed when first asked for.
    digest: OnceLock<ListsDigest>,
}

impl FactSet {
    /// An empty builder.
    pub fn builder() -> FactSetBuilder {
        FactSetBuilder::default()
    }

    /// A builder holding these facts, for the next generation. Server handles are kept.
    pub fn to_builder(&self) -> FactSetBuilder {
        FactSetBuilder {
            servers: self.servers.clone(),
            by_name: self.by_name.clone(),
            path_a: self.path_a.iter().copied().zip(self.path_a_terms.iter().copied()).collect(),
            integrity_required: self.integrity_required,
            path_b: self.path_b.iter().copied().collect(),
            interconnect: self.interconnect.iter().copied().collect(),
            interconnect_per_home: self.interconnect_per_home.iter().copied().collect(),
            server_networks: self.server_networks.iter().copied().collect(),
            trusted_access_networks: self.trusted_access_networks.iter().cloned().collect(),
        }
    }

    /// The lists' content digest ([`ListsDigest`]): the same on every node that holds the same lists.
    pub fn lists_digest(&self) -> ListsDigest {
        *self.digest.get_or_init(|| ListsDigest::of(self))
    }

    /// This generation's number: unique in the process, and larger for later builds.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The handle of a server, if it is known.
    pub fn server_id(&self, fqdn: &Fqdn) -> Option<ServerId> {
        self.by_name.get(fqdn).copied()
    }

    /// The name of a server handle, if it is one of this set's.
    pub fn server(&self, id: ServerId) -> Option<&Fqdn> {
        self.servers.get(id.get() as usize)
    }

    /// Every server, with its handle.
    pub fn servers(&self) -> impl ExactSizeIterator<Item = (ServerId, &Fqdn)> {
        self.servers.iter().enumerate().map(|(index, fqdn)| (ServerId::new(index as u32), fqdn))
    }

    /// List 1: networks known to protect path A. Sorted, without duplicates; each entry's terms are
    /// [`FactSet::path_a_terms`].
    pub fn path_a(&self) -> &[PlmnId] {
        &self.path_a
    }

    /// List 1 with each entry's terms as written (the operator's global integrity setting, which
    /// [`FactSet::path_a_terms`] folds in, is [`FactSet::integrity_required`]), in network order.
    pub fn path_a_entries(&self) -> impl ExactSizeIterator<Item = (PlmnId, PathATerms)> + '_ {
        self.path_a.iter().copied().zip(self.path_a_terms.iter().copied())
    }

    /// List 1 with each entry's terms in force: the operator's global integrity setting folded in (what
    /// a policy is given), in network order.
    pub fn path_a_in_force(&self) -> impl ExactSizeIterator<Item = (PlmnId, PathATerms)> + '_ {
        self.path_a_entries().map(|(network, terms)| (network, self.in_force(terms)))
    }

    /// What List 1's entry for `network` vouches for, with the operator's global integrity setting
    /// folded in; `None` when `network` is not in List 1.
    pub fn path_a_terms(&self, network: PlmnId) -> Option<PathATerms> {
        let index = self.path_a.binary_search(&network).ok()?;
        Some(self.in_force(self.path_a_terms[index]))
    }

    /// An entry's terms with the global integrity setting folded in.
    fn in_force(&self, terms: PathATerms) -> PathATerms {
        PathATerms { integrity_required: terms.integrity_required || self.integrity_required, ..terms }
    }

    /// Whether the operator asks for access-layer integrity as well as ciphering on every List 1 entry
    /// (000 reads "encryption and/or integrity"; this reads it as "and").
    pub fn integrity_required(&self) -> bool {
        self.integrity_required
    }

    /// List 2: (home network, server) pairs with a secure path B. Sorted, without duplicates.
    pub fn path_b(&self) -> &[(PlmnId, ServerId)] {
        &self.path_b
    }

    /// List 3 for every home network: visited networks with a secure internal path and interconnect to
    /// any home. Sorted, without duplicates.
    pub fn interconnect(&self) -> &[PlmnId] {
        &self.interconnect
    }

    /// List 3 per home network (000 claim 12): (home, visited) pairs whose interconnect is secure.
    /// Sorted, without duplicates.
    pub fn interconnect_per_home(&self) -> &[(PlmnId, PlmnId)] {
        &self.interconnect_per_home
    }

    /// The servers attached to a named network (the second network, 000: "typically the HPLMN … but
    /// this is not always the case"), sorted by server. A server not here is attached to the device's
    /// home network.
    pub fn server_networks(&self) -> &[(ServerId, PlmnId)] {
        &self.server_networks
    }

    /// The network `server` is attached to, when the facts name one.
    pub fn server_network(&self, server: ServerId) -> Option<PlmnId> {
        let index = self.server_networks.binary_search_by_key(&server, |&(listed, _)| listed).ok()?;
        Some(self.server_networks[index].1)
    }

    /// The second network of a path between a device of `home` and `server`: the network the server is
    /// attached to, the device's home unless the facts name another. List 2 pairs and List 3's "to the
    /// second network" are read for it.
    pub fn second_network(&self, home: PlmnId, server: ServerId) -> PlmnId {
        self.server_network(server).unwrap_or(home)
    }

    /// Whether List 3 trusts `visited`'s internal path and its interconnect to `home`: it is listed for
    /// every home, or for this one. (The home network itself needs no entry; this answers for lists
    /// only.)
    pub fn trusts_interconnect(&self, visited: PlmnId, home: PlmnId) -> bool {
        self.interconnect.binary_search(&visited).is_ok()
            || self.interconnect_per_home.binary_search(&(home, visited)).is_ok()
    }

    /// Whether List 1 has `network`, for any access kind.
    pub fn trusts_path_a(&self, network: PlmnId) -> bool {
        self.path_a.binary_search(&network).is_ok()
    }

    /// Whether List 2 has the pair.
    pub fn trusts_path_b(&self, home: PlmnId, server: ServerId) -> bool {
        self.path_b.binary_search(&(home, server)).is_ok()
    }

    /// The trusted non-3GPP access networks, by identifier (compared exactly). Sorted, without
    /// duplicates. The host checks them for access trust; policies get the answer, not the list.
    pub fn trusted_access_networks(&self) -> &[Box<str>] {
        &self.trusted_access_networks
    }

    /// Whether `network` is a trusted non-3GPP access network.
    pub fn trusts_access_network(&self, network: &str) -> bool {
        self.trusted_access_networks.binary_search_by(|listed| (**listed).cmp(network)).is_ok()
    }
}

/// Collects the facts of one generation; see [`FactSet`].
#[derive(Debug, Default, Clone)]
pub struct FactSetBuilder {
    servers: Vec<Fqdn>,
    by_name: HashMap<Fqdn, ServerId>,
    path_a: BTreeMap<PlmnId, PathATerms>,
    integrity_required: bool,
    path_b: BTreeSet<(PlmnId, ServerId)>,
    interconnect: BTreeSet<PlmnId>,
    interconnect_per_home: BTreeSet<(PlmnId, PlmnId)>,
    server_networks: BTreeMap<ServerId, PlmnId>,
    trusted_access_networks: BTreeSet<Box<str>>,
}

impl FactSetBuilder {
    /// The handle of a server, interning it if it is new.
    pub fn server(&mut self, fqdn: Fqdn) -> ServerId {
        if let Some(id) = self.by_name.get(&fqdn) {
            return *id;
        }
        let id = ServerId::new(self.servers.len() as u32);
        self.servers.push(fqdn.clone());
        self.by_name.insert(fqdn, id);
        id
    }

    /// Adds a network to List 1 with the default terms (path A is protected over 3GPP radio), or gives
    /// a listed network the default terms.
    pub fn trust_path_a(&mut self, network: PlmnId) -> &mut Self {
        self.trust_path_a_with(network, PathATerms::DEFAULT)
    }

    /// Adds a network to List 1 with these terms, or replaces a listed network's terms.
    pub fn trust_path_a_with(&mut self, network: PlmnId, terms: PathATerms) -> &mut Self {
        self.path_a.insert(network, terms);
        self
    }

    /// Asks (or stops asking) for access-layer integrity on every List 1 entry.
    pub fn require_integrity(&mut self, required: bool) -> &mut Self {
        self.integrity_required = required;
        self
    }

    /// Adds a (home network, server) pair to List 2 (path B is secure). `server` must be a handle of
    /// this builder.
    pub fn trust_path_b(&mut self, home: PlmnId, server: ServerId) -> &mut Self {
        self.path_b.insert((home, server));
        self
    }

    /// Adds a visited network to List 3 for every home (its internal path and interconnect to any home
    /// are secure).
    pub fn trust_interconnect(&mut self, network: PlmnId) -> &mut Self {
        self.interconnect.insert(network);
        self
    }

    /// Adds a visited network to List 3 for one home network (its internal path and its interconnect to
    /// `home` are secure; 000 claim 12).
    pub fn trust_interconnect_for(&mut self, home: PlmnId, visited: PlmnId) -> &mut Self {
        self.interconnect_per_home.insert((home, visited));
        self
    }

    /// Removes a (home, visited) pair from List 3.
    pub fn distrust_interconnect_for(&mut self, home: PlmnId, visited: PlmnId) -> &mut Self {
        self.interconnect_per_home.remove(&(home, visited));
        self
    }

    /// Says `server` is attached to `network` rather than to the device's home (its List 2 pairs name
    /// that network). `server` must be a handle of this builder.
    pub fn attach_server(&mut self, server: ServerId, network: PlmnId) -> &mut Self {
        self.server_networks.insert(server, network);
        self
    }

    /// Says `server` is attached to the device's home network again (the default).
    pub fn detach_server(&mut self, server: ServerId) -> &mut Self {
        self.server_networks.remove(&server);
        self
    }

    /// Adds a trusted non-3GPP access network, by its identifier.
    pub fn trust_access_network(&mut self, network: &str) -> &mut Self {
        self.trusted_access_networks.insert(network.into());
        self
    }

    /// Removes a trusted non-3GPP access network.
    pub fn distrust_access_network(&mut self, network: &str) -> &mut Self {
        self.trusted_access_networks.remove(network);
        self
    }

    /// Removes a network from List 1.
    pub fn distrust_path_a(&mut self, network: PlmnId) -> &mut Self {
        self.path_a.remove(&network);
        self
    }

    /// Removes a pair from List 2.
    pub fn distrust_path_b(&mut self, home: PlmnId, server: ServerId) -> &mut Self {
        self.path_b.remove(&(home, server));
        self
    }

    /// Removes a network from List 3.
    pub fn distrust_interconnect(&mut self, network: PlmnId) -> &mut Self {
        self.interconnect.remove(&network);
        self
    }

    /// Empties Lists 1-3, the servers' networks and the trusted access networks, and drops the global
    /// integrity setting; the server names and handles stay.
    pub fn clear_lists(&mut self) -> &mut Self {
        self.path_a.clear();
        self.integrity_required = false;
        self.path_b.clear();
        self.interconnect.clear();
        self.interconnect_per_home.clear();
        self.server_networks.clear();
        self.trusted_access_networks.clear();
        self
    }

    /// The facts, as a new generation.
    pub fn build(&self) -> FactSet {
        FactSet {
            generation: GENERATIONS.fetch_add(1, Ordering::Relaxed),
            servers: self.servers.clone(),
            by_name: self.by_name.clone(),
            path_a: self.path_a.keys().copied().collect(),
            path_a_terms: self.path_a.values().copied().collect(),
            integrity_required: self.integrity_required,
            path_b: self.path_b.iter().copied().collect(),
            interconnect: self.interconnect.iter().copied().collect(),
            interconnect_per_home: self.interconnect_per_home.iter().copied().collect(),
            server_networks: self.server_networks.iter().map(|(&server, &network)| (server, network)).collect(),
            trusted_access_networks: self.trusted_access_networks.iter().cloned().collect(),
            digest: OnceLock::new(),
        }
    }
}
