//! A bounded string interner for request fields, swept by its owner.
//!
//! Paths and user agents repeat heavily, so rows keep `StrId`s instead of
//! copies. There is no reference counting on the per-line path (it cost a
//! cache miss per evicted request): the table sweeps instead. When the bytes
//! held pass `sweep_at`, the table marks every id it still holds and
//! [`Interner::sweep`] frees the rest; `sweep_at` then moves to twice what
//! survived, so sweeps are rare when strings repeat. Attackers can send unique
//! strings, so the interner is bounded two ways: each string is cut at
//! `MAX_STRING` bytes, and at `byte_cap` bytes held (after a sweep) new
//! strings map to `StrId::DROPPED`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use smallvec::SmallVec;

use super::hash::{random_seed, seeded_hash};

/// Longest string kept, in bytes (longer ones are cut).
pub const MAX_STRING: usize = 512;
/// At the cap, a sweep is asked for after this many refused strings: often
/// enough to make room again, rarely enough that a flood of unique strings
/// can't make every line pay for a sweep.
const REFUSALS_PER_SWEEP: u32 = 4096;
/// Bytes held before the first sweep is asked for.
const FIRST_SWEEP_AT: usize = 1 << 20; // 1 MiB

/// Handle to an interned string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StrId(u32);

impl StrId {
    /// The empty string; never freed.
    pub const EMPTY: StrId = StrId(0);
    /// Stands for a string that was not kept because the interner was full.
    pub const DROPPED: StrId = StrId(1);
}

/// HTTP methods held for the whole run: matched without hashing, never freed.
const PINNED_METHODS: [&[u8]; 8] = [
    b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT",
];
/// Ids below this are placeholders or pinned strings.
const FIRST_DYNAMIC: u32 = 2 + PINNED_METHODS.len() as u32;

struct Slot {
    bytes: Box<[u8]>,
    hash: u64,
    /// Verdicts cached for this exact text (see [`Interner::memo`]).
    memo: u8,
    /// Set by [`Interner::mark`] during a sweep.
    marked: bool,
}

/// Identity hasher for keys that already are hashes.
#[derive(Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {}
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub struct Interner {
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    by_hash: HashMap<u64, SmallVec<[u32; 1]>, BuildHasherDefault<PreHashed>>,
    seed: u64,
    bytes_held: usize,
    byte_cap: usize,
    sweep_at: usize,
    /// Strings refused for lack of room since the last sweep.
    refused: u32,
}

impl Interner {
    pub fn new(byte_cap: usize) -> Interner {
        let pinned = |text: &[u8]| {
            Some(Slot {
                bytes: text.into(),
                hash: 0,
                memo: 0,
                marked: true,
            })
        };
        let mut slots = vec![pinned(b""), pinned("…".as_bytes())];
        slots.extend(PINNED_METHODS.iter().map(|m| pinned(m)));
        Interner {
            slots,
            free: Vec::new(),
            by_hash: HashMap::default(),
            seed: random_seed(),
            bytes_held: 0,
            byte_cap,
            sweep_at: FIRST_SWEEP_AT.min(byte_cap),
            refused: 0,
        }
    }

    /// The id of `text` (cut at `MAX_STRING`), adding it if new.
    pub fn intern(&mut self, text: &[u8]) -> StrId {
        let text = &text[..text.len().min(MAX_STRING)];
        if text.is_empty() {
            return StrId::EMPTY;
        }
        if let Some(i) = PINNED_METHODS.iter().position(|m| *m == text) {
            return StrId(2 + i as u32);
        }
        let hash = seeded_hash(self.seed, text);
        if let Some(ids) = self.by_hash.get(&hash) {
            for &id in ids {
                if self.slots[id as usize]
                    .as_ref()
                    .is_some_and(|s| &*s.bytes == text)
                {
                    return StrId(id);
                }
            }
        }
        if self.bytes_held + text.len() > self.byte_cap {
            self.refused += 1;
            return StrId::DROPPED;
        }
        self.insert(text, hash)
    }

    fn insert(&mut self, text: &[u8], hash: u64) -> StrId {
        let slot = Some(Slot {
            bytes: text.into(),
            hash,
            memo: 0,
            marked: false,
        });
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = slot;
                id
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.bytes_held += text.len();
        self.by_hash.entry(hash).or_default().push(id);
        StrId(id)
    }

    /// Whether enough has been added since the last sweep to run one.
    pub fn wants_sweep(&self) -> bool {
        self.bytes_held >= self.sweep_at || self.refused >= REFUSALS_PER_SWEEP
    }

    /// Keep `id` through the sweep in progress.
    pub fn mark(&mut self, id: StrId) {
        if let Some(slot) = self.slots.get_mut(id.0 as usize).and_then(Option::as_mut) {
            slot.marked = true;
        }
    }

    /// Free every dynamic string not marked since the last sweep, then clear
    /// the marks. Returns the number of strings freed.
    pub fn sweep(&mut self) -> usize {
        let mut freed = 0;
        for id in FIRST_DYNAMIC as usize..self.slots.len() {
            let Some(slot) = self.slots[id].as_mut() else {
                continue;
            };
            if std::mem::take(&mut slot.marked) {
                continue;
            }
            let (hash, len) = (slot.hash, slot.bytes.len());
            self.slots[id] = None;
            self.free.push(id as u32);
            self.bytes_held -= len;
            if let Some(ids) = self.by_hash.get_mut(&hash) {
                ids.retain(|i| *i != id as u32);
                if ids.is_empty() {
                    self.by_hash.remove(&hash);
                }
            }
            freed += 1;
        }
        self.refused = 0;
        self.sweep_at = (self.bytes_held * 2).max(FIRST_SWEEP_AT).min(self.byte_cap);
        freed
    }

    /// The bytes of an interned string.
    pub fn get(&self, id: StrId) -> &[u8] {
        self.slots
            .get(id.0 as usize)
            .and_then(Option::as_ref)
            .map_or(&[], |s| &s.bytes)
    }

    /// Bits a caller cached for this string's text (0 when none, and always
    /// 0 for the placeholders and pinned strings). Valid while the id lives:
    /// a reused slot starts again from 0.
    pub fn memo(&self, id: StrId) -> u8 {
        match self.slots.get(id.0 as usize).and_then(Option::as_ref) {
            Some(slot) if id.0 >= FIRST_DYNAMIC => slot.memo,
            _ => 0,
        }
    }

    /// Cache bits for a string whose whole text was interned (not cut).
    pub fn set_memo(&mut self, id: StrId, bits: u8) {
        if id.0 < FIRST_DYNAMIC {
            return;
        }
        if let Some(slot) = self.slots.get_mut(id.0 as usize).and_then(Option::as_mut) {
            slot.memo |= bits;
        }
    }

    /// Bytes of string data held now.
    pub fn bytes_held(&self) -> usize {
        self.bytes_held
    }

    /// Distinct strings held (placeholders and pinned methods excluded).
    pub fn len(&self) -> usize {
        self.slots.len() - FIRST_DYNAMIC as usize - self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupes_and_sweeps_what_is_not_marked() {
        let mut i = Interner::new(1 << 20);
        let a = i.intern(b"/index.html");
        let b = i.intern(b"/index.html");
        let c = i.intern(b"/gone");
        assert_eq!(a, b);
        assert_eq!(i.len(), 2);
        i.mark(a);
        assert_eq!(i.sweep(), 1);
        assert_eq!(i.get(a), b"/index.html");
        assert_eq!(i.len(), 1);
        assert_eq!(i.bytes_held(), "/index.html".len());
        // `c`'s slot is reused by a new string; the old text is not found.
        let d = i.intern(b"/new");
        assert_eq!(d, c);
        assert_eq!(i.get(d), b"/new");
        // Unmarked in the next sweep: everything dynamic goes.
        assert_eq!(i.sweep(), 2);
        assert_eq!(i.len(), 0);
        assert_eq!(
            i.get(StrId(2)),
            b"GET",
            "pinned strings survive every sweep"
        );
    }

    #[test]
    fn bounded_by_bytes_and_length() {
        let mut i = Interner::new(1000);
        let long = vec![b'a'; 5000];
        let id = i.intern(&long);
        assert_eq!(i.get(id).len(), MAX_STRING);
        let mut dropped = 0;
        for n in 0..10_000 {
            if i.intern(format!("/unique/{n}").as_bytes()) == StrId::DROPPED {
                dropped += 1;
            }
        }
        assert!(dropped > 9000);
        assert!(i.bytes_held() <= 1000);
        assert!(i.wants_sweep());
        i.sweep();
        assert_eq!(i.bytes_held(), 0);
        assert_ne!(i.intern(b"/after-sweep"), StrId::DROPPED);
        assert_eq!(i.get(StrId::DROPPED), "…".as_bytes());
    }
}
