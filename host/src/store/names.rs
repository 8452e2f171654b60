//! `DeviceNames`: the name of every device the runtime issued a handle for, in one arena, and the
//! handles by name. A device costs its name's bytes, an 8-byte end offset and one 4-byte entry of an
//! open-addressing table (about 6 to 11 bytes with the table's spare room) — where a map of
//! reference-counted strings cost about 80 bytes besides the name.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

/// Names by handle number (handles are issued from 0, one per name), and handle numbers by name.
#[derive(Default)]
pub(crate) struct DeviceNames {
    /// Every name, one after another, in handle order.
    text: String,
    /// Where each name ends in `text` (it starts where the one before ends).
    ends: Vec<u64>,
    /// Handle numbers, found by their names' hashes.
    ids: HashTable<u32>,
    /// Seeded per runtime: names may come from the network, so their hashes must not be guessable.
    hasher: RandomState,
}

impl DeviceNames {
    /// How many names there are.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The name of handle number `id`.
    pub(crate) fn get(&self, id: u32) -> Option<&str> {
        name_at(&self.text, &self.ends, id)
    }

    /// The handle number of `name`, if it has one.
    pub(crate) fn find(&self, name: &str) -> Option<u32> {
        self.look_up(name).ok()
    }

    /// The handle number of `name`, or, when it has none, its hash for [`DeviceNames::push`] (so a
    /// new name is hashed once).
    pub(crate) fn look_up(&self, name: &str) -> Result<u32, NameHash> {
        let hash = self.hasher.hash_one(name);
        self.ids.find(hash, |&id| self.get(id) == Some(name)).copied().ok_or(NameHash(hash))
    }

    /// Adds `name` — not yet here; `hash` from [`DeviceNames::look_up`] — as the next handle number,
    /// which it returns.
    pub(crate) fn push(&mut self, name: &str, NameHash(hash): NameHash) -> u32 {
        debug_assert!(self.find(name).is_none(), "a name is pushed once");
        let id = u32::try_from(self.ends.len()).expect("fewer names than handles, which are u32");
        self.text.push_str(name);
        self.ends.push(self.text.len() as u64);
        let Self { text, ends, ids, hasher } = self;
        // Rehashing (as the table grows) finds each entry's name through the arena.
        ids.insert_unique(hash, id, |&other| hasher.hash_one(name_at(text, ends, other).unwrap_or_default()));
        id
    }
}

/// A name's hash in one [`DeviceNames`], from [`DeviceNames::look_up`].
pub(crate) struct NameHash(u64);

/// Name number `id` of an arena: it ends at `ends[id]` and starts where the one before ends.
fn name_at<'a>(text: &'a str, ends: &[u64], id: u32) -> Option<&'a str> {
    let index = id as usize;
    let end = *ends.get(index)? as usize;
    let start = index.checked_sub(1).map_or(0, |before| ends[before] as usize);
    text.get(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_back_by_handle_and_handles_by_name() {
        let mut names = DeviceNames::default();
        let all: Vec<String> = (0..10_000).map(|i| format!("imsi-{i:015}")).collect();
        for (i, name) in all.iter().enumerate() {
            let hash = names.look_up(name).expect_err("new");
            assert_eq!(names.push(name, hash), i as u32);
        }
        assert_eq!(names.len(), all.len());
        for (i, name) in all.iter().enumerate() {
            assert_eq!(names.find(name), Some(i as u32), "{name}");
            assert_eq!(names.get(i as u32), Some(name.as_str()));
        }
        assert_eq!(names.get(all.len() as u32), None);
        assert_eq!(names.find("imsi-unknown"), None);
    }

    /// The empty name and names that are prefixes of one another stay apart.
    #[test]
    fn prefixes_and_the_empty_name_are_names_of_their_own() {
        let mut names = DeviceNames::default();
        for name in ["", "a", "ab", "abc", "b"] {
            let hash = names.look_up(name).expect_err("new");
            names.push(name, hash);
        }
        for (i, name) in ["", "a", "ab", "abc", "b"].iter().enumerate() {
            assert_eq!(names.find(name), Some(i as u32));
            assert_eq!(names.get(i as u32), Some(*name));
        }
    }
}
