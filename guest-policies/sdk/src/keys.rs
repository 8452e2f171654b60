//! Sets of list keys: open-addressing tables at most three quarters full, with linear probing — one
//! multiply and, mostly, one cache line per lookup, whatever the list's size.

/// A key type whose all-ones value is never a key: PLMN keys use 26 bits, and a List 2 key's upper half
/// is a PLMN key.
pub(crate) trait Key: Copy + Eq {
    const EMPTY: Self;
    fn spread(self) -> u64;
}

impl Key for u32 {
    const EMPTY: u32 = u32::MAX;
    fn spread(self) -> u64 {
        u64::from(self)
    }
}

impl Key for u64 {
    const EMPTY: u64 = u64::MAX;
    fn spread(self) -> u64 {
        self
    }
}

/// A set of keys.
#[derive(Default)]
pub(crate) struct KeySet<K> {
    slots: Vec<K>,
    mask: usize,
    len: usize,
}

impl<K: Key> KeySet<K> {
    pub(crate) fn new(keys: &[K]) -> KeySet<K> {
        let capacity = (keys.len() * 4 / 3 + 1).next_power_of_two().max(8);
        let mut set = KeySet { slots: vec![K::EMPTY; capacity], mask: capacity - 1, len: 0 };
        for &key in keys {
            let mut slot = set.slot(key);
            while set.slots[slot] != K::EMPTY && set.slots[slot] != key {
                slot = (slot + 1) & set.mask;
            }
            if set.slots[slot] != key {
                set.slots[slot] = key;
                set.len += 1;
            }
        }
        set
    }

    fn slot(&self, key: K) -> usize {
        (key.spread().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & self.mask
    }

    pub(crate) fn contains(&self, key: K) -> bool {
        if self.slots.is_empty() {
            return false;
        }
        let mut slot = self.slot(key);
        loop {
            match self.slots[slot] {
                found if found == key => return true,
                found if found == K::EMPTY => return false,
                _ => slot = (slot + 1) & self.mask,
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}
