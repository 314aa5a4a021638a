//! A bounded, reference-counted string interner for request fields.
//!
//! Paths and user agents repeat heavily, so rows keep `StrId`s instead of
//! copies. Attackers can send unique strings, so the interner is bounded two
//! ways: each string is cut at `MAX_STRING` bytes, and once `byte_cap` bytes are
//! held, new strings map to `StrId::DROPPED` until references are released.
//! Strings are freed when their last reference goes (rows release theirs as
//! requests leave their ring or the row ages out).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::hash::{random_seed, seeded_hash};

use smallvec::SmallVec;

/// Longest string kept, in bytes (longer ones are cut).
pub const MAX_STRING: usize = 512;

/// Handle to an interned string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StrId(u32);

impl StrId {
    /// The empty string; never counted, never freed.
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
    refs: u32,
    /// Verdicts cached for this exact text (see [`Interner::memo`]).
    memo: u8,
    hash: u64,
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
}

impl Interner {
    pub fn new(byte_cap: usize) -> Interner {
        let pinned = |text: &[u8]| {
            Some(Slot {
                bytes: text.into(),
                refs: u32::MAX,
                memo: 0,
                hash: 0,
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
        }
    }

    /// Take a reference to `text` (cut at `MAX_STRING`), adding it if new.
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
                if let Some(slot) = self.slots[id as usize]
                    .as_mut()
                    .filter(|s| &*s.bytes == text)
                {
                    slot.refs += 1;
                    return StrId(id);
                }
            }
        }
        if self.bytes_held + text.len() > self.byte_cap {
            return StrId::DROPPED;
        }
        self.insert(text, hash)
    }

    fn insert(&mut self, text: &[u8], hash: u64) -> StrId {
        let slot = Some(Slot {
            bytes: text.into(),
            refs: 1,
            memo: 0,
            hash,
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

    /// Drop one reference; the string is freed with its last one.
    pub fn release(&mut self, id: StrId) {
        if id.0 < FIRST_DYNAMIC {
            return;
        }
        let Some(slot) = self.slots.get_mut(id.0 as usize).and_then(Option::as_mut) else {
            return;
        };
        slot.refs -= 1;
        if slot.refs > 0 {
            return;
        }
        let (hash, len) = (slot.hash, slot.bytes.len());
        self.slots[id.0 as usize] = None;
        self.free.push(id.0);
        self.bytes_held -= len;
        if let Some(ids) = self.by_hash.get_mut(&hash) {
            ids.retain(|i| *i != id.0);
            if ids.is_empty() {
                self.by_hash.remove(&hash);
            }
        }
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
    /// a freed slot starts again from 0.
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

    /// Number of distinct strings held (placeholders excluded).
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
    fn dedupes_and_frees_on_last_release() {
        let mut i = Interner::new(1 << 20);
        let a = i.intern(b"/index.html");
        let b = i.intern(b"/index.html");
        assert_eq!(a, b);
        assert_eq!(i.len(), 1);
        i.release(a);
        assert_eq!(i.get(b), b"/index.html");
        i.release(b);
        assert_eq!(i.len(), 0);
        assert_eq!(i.bytes_held(), 0);
        let c = i.intern(b"/other");
        assert_eq!(i.get(c), b"/other");
    }

    #[test]
    fn bounded_by_bytes_and_length() {
        let mut i = Interner::new(1000);
        let long = vec![b'a'; 5000];
        let id = i.intern(&long);
        assert_eq!(i.get(id).len(), MAX_STRING);
        let mut dropped = 0;
        for n in 0..1000 {
            if i.intern(format!("/unique/{n}").as_bytes()) == StrId::DROPPED {
                dropped += 1;
            }
        }
        assert!(dropped > 900);
        assert!(i.bytes_held() <= 1000);
        assert_eq!(i.get(StrId::DROPPED), "…".as_bytes());
    }
}
