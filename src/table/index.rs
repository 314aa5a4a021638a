//! A keyed-hash index to `u32` ids: the table's client addresses to row
//! ids, and the interner's strings to slot ids.
//!
//! Open addressing with linear probing over 8-byte slots, each an id and 32
//! bits of the key's keyed hash. The key itself is not kept here: a slot
//! whose hash matches is confirmed by the caller on what the id names (the
//! row, the string), which it reads next anyway. At 20 000 rows the index
//! is 32 768 slots, 256 KiB, where std's `HashMap<IpAddr, u32>` took
//! 800 KiB (24-byte buckets and control bytes), so more of it stays in the
//! core's cache; the interner's `HashMap<u64, u32>` took 16 bytes a bucket
//! where this takes 8.
//!
//! Slots run at most 13/16 full, so 50 000 rows (the default
//! `max_tracked_ips`) fit 65 536 slots (512 KiB). Removal shifts the entries
//! after the slot back (no tombstones), so probe runs don't lengthen as
//! entries come and go (eviction removes and adds rows all the time). The
//! callers' hashes are keyed per process ([`super::SeededState`],
//! [`super::hash::seeded_hash`]): an attacker choosing addresses or paths
//! can't aim them at one run of slots.

/// An id and the low 32 bits of its key's hash; `id == EMPTY`: free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    id: u32,
    hash: u32,
}

const EMPTY: u32 = u32::MAX;
const FREE: Slot = Slot { id: EMPTY, hash: 0 };

/// Keyed hashes to ids; the caller hashes and confirms.
#[derive(Debug, Default)]
pub(crate) struct HashIndex {
    /// A power of two long, or empty before the first insert.
    slots: Box<[Slot]>,
    len: usize,
}

impl HashIndex {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot a hash starts probing at.
    #[inline]
    fn home(&self, hash: u32) -> usize {
        hash as usize & (self.slots.len() - 1)
    }

    /// The id whose hash is `hash` and for which `is_it` says yes.
    #[inline]
    pub(crate) fn find(&self, hash: u32, is_it: impl Fn(u32) -> bool) -> Option<u32> {
        self.probe(hash, |slot| slot.hash == hash && is_it(slot.id))
            .map(|i| self.slots[i].id)
    }

    /// The first id with hash `hash`, unconfirmed: almost always the id
    /// of the key hashed (two keys sharing 32 hash bits in one
    /// probe run are rare), for a prefetch the caller confirms later.
    #[inline]
    pub(crate) fn candidate(&self, hash: u32) -> Option<u32> {
        self.probe(hash, |slot| slot.hash == hash)
            .map(|i| self.slots[i].id)
    }

    /// The position of the first slot of `hash`'s run that `matches`.
    #[inline]
    fn probe(&self, hash: u32, matches: impl Fn(&Slot) -> bool) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(hash);
        loop {
            let slot = &self.slots[i];
            if slot.id == EMPTY {
                return None;
            }
            if matches(slot) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// Add `id` under `hash`; the caller has checked that its key
    /// is not in yet.
    pub(crate) fn insert(&mut self, hash: u32, id: u32) {
        debug_assert_ne!(id, EMPTY);
        if (self.len + 1) * 16 > self.slots.len() * 13 {
            self.grow();
        }
        self.place(Slot { id, hash });
        self.len += 1;
    }

    /// Put `slot` in the first free slot of its run (there is one: the load
    /// is below 1).
    fn place(&mut self, slot: Slot) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(slot.hash);
        while self.slots[i].id != EMPTY {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
    }

    /// Twice the slots (16 at first), every entry placed again from its
    /// stored hash: no key is hashed again, no row or string read.
    #[cold]
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![FREE; size].into_boxed_slice());
        for slot in old.iter().filter(|s| s.id != EMPTY) {
            self.place(*slot);
        }
    }

    /// Remove `id`, indexed under `hash`; returns whether it was there.
    pub(crate) fn remove(&mut self, hash: u32, id: u32) -> bool {
        let Some(mut hole) = self.probe(hash, |slot| slot.id == id) else {
            return false;
        };
        // Backward shift: move each later entry of the run into the hole
        // unless the hole lies before its home (it would then be found
        // no more), until the run ends.
        let mask = self.slots.len() - 1;
        let mut i = hole;
        loop {
            i = (i + 1) & mask;
            let slot = self.slots[i];
            if slot.id == EMPTY {
                break;
            }
            // Distance from home to here, and from home to the hole, both
            // along the probe direction (wrapping): movable if the hole is
            // no further from home than the entry is.
            let home = self.home(slot.hash);
            if (hole.wrapping_sub(home) & mask) < (i.wrapping_sub(home) & mask) {
                self.slots[hole] = slot;
                hole = i;
            }
        }
        self.slots[hole] = FREE;
        self.len -= 1;
        true
    }

    /// Bytes held (for the memory tests).
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.slots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A model: the index must agree with a map from id to hash on every
    /// look-up, whatever the order of inserts and removals, for hashes that
    /// collide, share runs and wrap around the end.
    fn check_against_model(hash_of: impl Fn(u32) -> u32, ops: &[(bool, u32)]) {
        let mut index = HashIndex::default();
        let mut model: HashMap<u32, u32> = HashMap::new();
        for &(add, id) in ops {
            let hash = hash_of(id);
            if add && !model.contains_key(&id) {
                index.insert(hash, id);
                model.insert(id, hash);
            } else if !add {
                assert_eq!(
                    index.remove(hash, id),
                    model.remove(&id).is_some(),
                    "remove {id}"
                );
            }
            assert_eq!(index.len(), model.len());
            for (&id, &hash) in &model {
                assert_eq!(index.find(hash, |i| i == id), Some(id), "find {id}");
            }
            for gone in 0..64 {
                if !model.contains_key(&gone) {
                    assert_eq!(index.find(hash_of(gone), |i| i == gone), None);
                }
            }
        }
        assert!(index.len() * 16 <= index.slots.len() * 13);
    }

    /// A xorshift stream of (insert or remove, id below 64).
    fn ops(mut rng: u64, n: usize) -> Vec<(bool, u32)> {
        (0..n)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                (!rng.is_multiple_of(3), (rng >> 8) as u32 % 64)
            })
            .collect()
    }

    #[test]
    fn agrees_with_a_map_through_inserts_and_removals() {
        for seed in 1..40u64 {
            let ops = ops(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15), 400);
            // Spread hashes.
            check_against_model(|id| id.wrapping_mul(0x9E37_79B9), &ops);
            // Few homes: long shared runs, entries moved back past others.
            check_against_model(|id| id % 3, &ops);
            // Homes at the end of any table: runs wrap around to slot 0.
            check_against_model(|id| u32::MAX - id % 5, &ops);
            // One hash for all: every entry is told apart by its row.
            check_against_model(|_| 7, &ops);
        }
    }

    #[test]
    fn a_candidate_is_the_first_row_of_its_hash() {
        let mut index = HashIndex::default();
        assert_eq!(index.candidate(5), None);
        index.insert(5, 1);
        index.insert(5, 2);
        index.insert(6, 3);
        assert_eq!(index.candidate(5), Some(1));
        assert_eq!(index.find(5, |id| id == 2), Some(2));
        assert_eq!(index.candidate(6), Some(3));
        assert_eq!(index.candidate(7), None);
        assert!(index.remove(5, 1));
        assert_eq!(index.candidate(5), Some(2));
        assert!(!index.remove(5, 1));
    }

    #[test]
    fn fifty_thousand_rows_fit_half_a_mebibyte() {
        let mut index = HashIndex::default();
        for id in 0..50_000u32 {
            index.insert(id.wrapping_mul(0x9E37_79B9), id);
        }
        assert_eq!(index.heap_bytes(), 65_536 * 8);
        for id in (0..50_000u32).step_by(997) {
            assert_eq!(
                index.find(id.wrapping_mul(0x9E37_79B9), |i| i == id),
                Some(id)
            );
        }
    }
}
