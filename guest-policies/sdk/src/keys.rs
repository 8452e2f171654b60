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

/// A set of keys. `slots` has a power-of-two length (or none), so a probe indexes with `& (len - 1)` —
/// which the compiler knows is in bounds, so no lookup pays a bounds check.
#[derive(Default)]
pub(crate) struct KeySet<K> {
    slots: Vec<K>,
    len: usize,
}

impl<K: Key> KeySet<K> {
    pub(crate) fn new(keys: &[K]) -> KeySet<K> {
        let capacity = (keys.len() * 4 / 3 + 1).next_power_of_two().max(8);
        let mut set = KeySet { slots: vec![K::EMPTY; capacity], len: 0 };
        let mask = capacity - 1;
        for &key in keys {
            let mut slot = start(key);
            while set.slots[slot & mask] != K::EMPTY && set.slots[slot & mask] != key {
                slot = slot.wrapping_add(1);
            }
            if set.slots[slot & mask] != key {
                set.slots[slot & mask] = key;
                set.len += 1;
            }
        }
        set
    }

    /// Whether the set holds no key.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub(crate) fn contains(&self, key: K) -> bool {
        let Some(mask) = self.slots.len().checked_sub(1) else {
            return false;
        };
        let mut slot = start(key);
        loop {
            match self.slots[slot & mask] {
                found if found == key => return true,
                found if found == K::EMPTY => return false,
                _ => slot = slot.wrapping_add(1),
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// Where the probe for `key` starts, before masking to the table.
#[inline]
fn start<K: Key>(key: K) -> usize {
    (key.spread().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize
}
