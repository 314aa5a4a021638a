//! A map kept as one vector sorted by key, for history's per-address
//! state of the session: one entry per address ever seen, tens of
//! thousands, read by binary search and changed in batches (a snapshot's
//! chunk of rows, an earlier run's recounted lines).
//!
//! A hash map holding them was the dashboard's largest allocation: 52-byte
//! buckets at 44 to 87 % load, so 1.7 MB at 20 000 addresses, and 2.6 MB
//! while a rehash held the old table and the new one (the process's peak
//! RSS). Sorted, the entries take what they hold (plus the vector's spare
//! capacity, which is never touched until used), and a batch of new keys is
//! merged in place from the back: nothing is held twice.

/// Keys in ascending order, each once.
#[derive(Debug)]
pub(crate) struct SortedMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord + Copy, V: Copy> SortedMap<K, V> {
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn search(&self, key: &K) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.cmp(key))
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.search(key).ok().map(|i| &self.entries[i].1)
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.search(key).ok().map(|i| &mut self.entries[i].1)
    }

    /// Set every key of `batch` (each given once) to its value: keys
    /// present are overwritten where they are, the others merged in, in
    /// one pass over the entries after the first new key.
    pub(crate) fn set_all(&mut self, mut batch: Vec<(K, V)>) {
        sort_batch(&mut batch);
        debug_assert!(
            batch.windows(2).all(|w| w[0].0 != w[1].0),
            "a key given twice"
        );
        batch.retain(|(key, value)| match self.search(key) {
            Ok(i) => {
                self.entries[i].1 = *value;
                false
            }
            Err(_) => true,
        });
        self.merge_new(&batch);
    }

    /// Merge `new` (sorted, no key present) into the entries: the vector
    /// grows by `new.len()` and is filled from its end, each slot taking
    /// the larger of the two next candidates.
    fn merge_new(&mut self, new: &[(K, V)]) {
        let Some(&filler) = new.first() else {
            return;
        };
        let mut old = self.entries.len();
        self.entries.resize(old + new.len(), filler);
        let mut fresh = new.len();
        for slot in (0..self.entries.len()).rev() {
            if fresh == 0 {
                break; // the rest are old entries, already in place
            }
            if old > 0 && self.entries[old - 1].0 > new[fresh - 1].0 {
                self.entries[slot] = self.entries[old - 1];
                old -= 1;
            } else {
                self.entries[slot] = new[fresh - 1];
                fresh -= 1;
            }
        }
    }
}

/// Sort a batch by key (unstable: one sort instantiated per map type,
/// shared by [`SortedMap::set_all`] and callers that fold repeated keys
/// first; the static binary's size budget is tight).
pub(crate) fn sort_batch<K: Ord, V>(batch: &mut [(K, V)]) {
    batch.sort_unstable_by(|a, b| a.0.cmp(&b.0));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Against a `BTreeMap` through batches of overwrites and new keys,
    /// before, between and after the ones held.
    #[test]
    fn agrees_with_a_btree_map_through_batches() {
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut map = SortedMap::default();
        let mut model = BTreeMap::new();
        for round in 0..300u32 {
            let size = (next() % 40) as usize;
            let mut given = BTreeMap::new();
            for i in 0..size {
                given.insert((next() % 500) as u16, round * 100 + i as u32);
            }
            model.extend(given.iter().map(|(&k, &v)| (k, v)));
            // In no particular order: `set_all` sorts.
            let mut batch: Vec<(u16, u32)> = given.into_iter().collect();
            batch.reverse();
            batch.rotate_left(size / 3);
            map.set_all(batch);
            assert_eq!(map.len(), model.len());
            assert!(map.entries.windows(2).all(|w| w[0].0 < w[1].0));
            for k in 0..500u16 {
                assert_eq!(map.get(&k), model.get(&k), "key {k} after round {round}");
            }
        }
        *map.get_mut(&model.keys().next().copied().unwrap()).unwrap() = 7;
        assert_eq!(map.entries[0].1, 7);
        assert_eq!(map.get_mut(&600), None);
    }

    #[test]
    fn an_empty_batch_changes_nothing() {
        let mut map = SortedMap::default();
        map.set_all(vec![(3u8, 'c'), (1, 'a')]);
        map.set_all(Vec::new());
        assert_eq!(map.entries, vec![(1, 'a'), (3, 'c')]);
        map.set_all(vec![(2, 'b'), (3, 'C'), (0, '0')]);
        assert_eq!(map.entries, vec![(0, '0'), (1, 'a'), (2, 'b'), (3, 'C')]);
    }
}
