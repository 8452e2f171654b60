//! [`Recent`]: a map of at most a given number of entries that gives up its least recently used first —
//! the shape of the related decisions' host-held tables (push associations, binding associations,
//! vouchers).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// A map bounded by count; inserting into a full one evicts the least recently used entry, whole.
pub(crate) struct Recent<K, V> {
    entries: HashMap<K, (V, u64)>,
    /// Use order: (stamp, key). An entry used again, or removed, leaves its older stamps behind; they
    /// are skipped, and the queue is rebuilt when they outnumber the entries.
    order: VecDeque<(u64, K)>,
    next: u64,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, V> Recent<K, V> {
    /// An empty map holding at most `capacity` entries (at least 1).
    pub(crate) fn new(capacity: usize) -> Recent<K, V> {
        Recent { entries: HashMap::new(), order: VecDeque::new(), next: 0, capacity: capacity.max(1) }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key).map(|(value, _)| value)
    }

    /// The entry of `key`, marked used now.
    pub(crate) fn touch(&mut self, key: &K) -> Option<&mut V> {
        let stamp = self.stamp();
        self.entries.get_mut(key)?.1 = stamp;
        self.order.push_back((stamp, key.clone()));
        self.compact();
        self.entries.get_mut(key).map(|(value, _)| value)
    }

    /// Puts `value` under `key`, marked used now; a new key in a full map first evicts the least
    /// recently used entries. Returns how many it evicted.
    pub(crate) fn insert(&mut self, key: K, value: V) -> usize {
        let mut evicted = 0;
        if !self.entries.contains_key(&key) {
            while self.entries.len() >= self.capacity {
                let Some((stamp, oldest)) = self.order.pop_front() else { break };
                if self.entries.get(&oldest).is_some_and(|(_, used)| *used == stamp) {
                    self.entries.remove(&oldest);
                    evicted += 1;
                }
            }
        }
        let stamp = self.stamp();
        self.entries.insert(key.clone(), (value, stamp));
        self.order.push_back((stamp, key));
        self.compact();
        evicted
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let removed = self.entries.remove(key).map(|(value, _)| value);
        self.compact();
        removed
    }

    /// Removes entries from the least recently used on while `stale` says so; returns how many.
    pub(crate) fn remove_oldest_while(&mut self, mut stale: impl FnMut(&V) -> bool) -> usize {
        let mut removed = 0;
        while let Some((stamp, key)) = self.order.front() {
            match self.entries.get(key) {
                Some((value, used)) if used == stamp => {
                    if !stale(value) {
                        break;
                    }
                    self.entries.remove(key);
                    removed += 1;
                }
                _ => {}
            }
            self.order.pop_front();
        }
        removed
    }

    fn stamp(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// Rebuilds the use order when left-behind stamps outnumber the entries, so the queue stays within
    /// twice the map's size.
    fn compact(&mut self) {
        if self.order.len() <= 2 * self.entries.len() + 16 {
            return;
        }
        let mut order: Vec<(u64, K)> = self.entries.iter().map(|(key, (_, used))| (*used, key.clone())).collect();
        order.sort_unstable_by_key(|(used, _)| *used);
        self.order = order.into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_goes_first_and_the_order_stays_bounded() {
        let mut recent = Recent::new(2);
        assert_eq!(recent.insert("a", 1), 0);
        assert_eq!(recent.insert("b", 2), 0);
        recent.touch(&"a");
        assert_eq!(recent.insert("c", 3), 1, "b was the least recently used");
        assert!(recent.contains_key(&"a") && !recent.contains_key(&"b"));
        for _ in 0..10_000 {
            recent.touch(&"a");
        }
        assert!(recent.order.len() <= 2 * recent.len() + 17, "{}", recent.order.len());
        assert_eq!(recent.insert("d", 4), 1, "c is now the least recently used");
        assert_eq!(recent.get(&"a"), Some(&1));
        assert_eq!(recent.remove_oldest_while(|value| *value < 4), 1);
        assert_eq!(recent.len(), 1);
    }
}
