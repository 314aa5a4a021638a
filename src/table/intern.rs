//! A bounded string interner for request fields, swept by its owner.
//!
//! Paths and user agents repeat heavily, so rows keep `StrId`s instead of
//! copies. There is no reference counting on the per-line path (it cost a
//! cache miss per evicted request): the table sweeps instead. When the bytes
//! held pass `sweep_at`, the table marks every id it still holds and
//! [`Interner::sweep`] frees the rest; `sweep_at` then moves to twice what
//! survived, so sweeps are rare when strings repeat.
//!
//! Attackers can send unique strings, so the interner is bounded: each string
//! is cut at `MAX_STRING` bytes, and the bytes held (text plus
//! `STRING_OVERHEAD` a string, so a flood of short strings is bounded too)
//! never pass `byte_cap`. When the strings still marked fill more than half of
//! it, the sweep also frees the least recently interned of them (a
//! generational trim: the newest requests stay readable, the oldest become
//! `StrId::DROPPED`). The owner then rewrites its ids of those strings to
//! `DROPPED` ([`Interner::is_live`]) before anything is interned again, so a
//! reused slot never answers for an old id.
//!
//! Whoever caches something about a string by its id (the detector's
//! verdicts) keys it by [`Interner::generation`] too: a slot's generation
//! changes each time the slot is given to a new string.

use super::hash::{random_seed, seeded_hash};
use super::index::HashIndex;

/// Longest string kept, in bytes (longer ones are cut).
pub(crate) const MAX_STRING: usize = 512;
/// At the cap, a sweep is asked for after this many refused strings: often
/// enough to make room again, rarely enough that a flood of unique strings
/// can't make every line pay for a sweep.
const REFUSALS_PER_SWEEP: u32 = 4096;
/// Bytes held before the first sweep is asked for.
const FIRST_SWEEP_AT: usize = 1 << 20; // 1 MiB
/// Bytes a string costs besides its text, counted high: its slot (24), its
/// entry in the hash index (8, at a load of 13/32 to 13/16) and the
/// allocator's header and rounding of the text (about 24). Kept at what
/// they cost before the slot and the index entry shrank (32 each), so the
/// sweeps come as often and the bound holds with room.
pub(crate) const STRING_OVERHEAD: usize = 96;
/// Room kept free below the cap for one line's strings (path and user
/// agent), so the sweep asked for at the end of a line runs before any
/// string of the next one is refused.
const HEADROOM: usize = 2 * (MAX_STRING + STRING_OVERHEAD);

/// Up to eight bytes as a little-endian word.
#[inline]
fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = bytes.len().min(8);
    w[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(w)
}

/// Handle to an interned string: 16 bits, as the interner never holds more
/// than [`MAX_SLOTS`] strings, so a recent request (three of these) is 16
/// bytes, not 24.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct StrId(u16);

impl StrId {
    /// A dense index, for caches kept beside the interner (slots are reused,
    /// so there are never more than the strings held at once plus the
    /// pinned ones).
    pub(crate) fn index(self) -> usize {
        usize::from(self.0)
    }

    /// The id of slot `slot` (below [`MAX_SLOTS`]: `insert` sees to it).
    fn of_slot(slot: u32) -> StrId {
        debug_assert!(slot < MAX_SLOTS);
        StrId(slot as u16)
    }

    /// As the slot index the interner keeps in its own tables.
    fn slot(self) -> u32 {
        u32::from(self.0)
    }

    /// The empty string; never freed.
    pub(crate) const EMPTY: StrId = StrId(0);
    /// Stands for a string that was not kept because the interner was full.
    pub(crate) const DROPPED: StrId = StrId(1);
}

/// HTTP methods held for the whole run: matched without hashing, never freed.
const PINNED_METHODS: [&[u8]; 8] = [
    b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT",
];
/// The longest pinned method, in bytes.
const LONGEST_PINNED: usize = 7;
const _: () = {
    let mut i = 0;
    while i < PINNED_METHODS.len() {
        assert!(PINNED_METHODS[i].len() <= LONGEST_PINNED);
        i += 1;
    }
};
/// Ids below this are placeholders or pinned strings.
const FIRST_DYNAMIC: u32 = 2 + PINNED_METHODS.len() as u32;
/// Slots there may be: what a [`StrId`] can name. A string costs at least
/// `1 + STRING_OVERHEAD` bytes of the cap, so the table's cap (6 MiB: at
/// most 64 860 strings) never meets it; a larger cap (tests) refuses
/// strings past it as if full.
pub(crate) const MAX_SLOTS: u32 = 1 << 16;

/// 24 bytes: the keyed hash is not kept (a free computes it again), and
/// the sweep's mark is a bit in [`Interner::marks`].
struct Slot {
    bytes: Box<[u8]>,
    /// [`Interner::clock`] when last interned: the newest request holding
    /// it. Compared as an age (wrapping), so the u32 may roll over.
    last_use: u32,
}

/// Slots in the cache of recent lookups (a power of two): 16 KiB of ids,
/// enough for the user agents and the common paths of a busy site.
const RECENT_BITS: u32 = 12;

pub(crate) struct Interner {
    slots: Vec<Option<Slot>>,
    /// Times each slot was given to a new string (see [`Interner::generation`]):
    /// kept beside the slots because a freed slot must remember it.
    generations: Vec<u32>,
    /// One bit a slot, set by [`Interner::mark`] during a sweep: 8 KiB at
    /// most, where a flag in each slot made every mark a cache miss into
    /// the slots (1.5 MiB at 65 536); a sweep marks every id the table
    /// holds.
    marks: Vec<u64>,
    free: Vec<u32>,
    /// Keyed hash to the slot holding that text, confirmed on the slot's
    /// bytes (texts sharing the 32 hash bits kept are both found).
    by_hash: HashIndex,
    seed: u64,
    bytes_held: usize,
    byte_cap: usize,
    sweep_at: usize,
    /// Strings refused for lack of room since the last sweep.
    refused: u32,
    /// Counts interned strings (hits and inserts), for [`Slot::last_use`].
    clock: u32,
    /// Two-way cache of recent answers, by [`Interner::cheap_key`]:
    /// a repeat is confirmed by comparing its text with the slot's, without
    /// hashing the whole string or probing the index. An entry may be stale
    /// (its slot freed or reused); the comparison catches that. A collision,
    /// even an aimed one, only sends a string down the keyed path. A string
    /// enters it when seen the second time (see `intern_uncached`).
    recent: Box<[u32]>,
    /// Secret odd multiplier of the cheap key.
    recent_key: u64,
    /// Lookups the cache of recent answers did not answer (tests).
    #[cfg(test)]
    uncached: u64,
}

/// What one [`Interner::sweep`] freed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Swept {
    /// Strings no one marked.
    pub(crate) unmarked: usize,
    /// Marked strings freed to make room (the least recently interned): the
    /// owner must rewrite its ids of them to `DROPPED`.
    pub(crate) trimmed: usize,
}

impl Interner {
    pub(crate) fn new(byte_cap: usize) -> Interner {
        let pinned = |text: &[u8]| {
            Some(Slot {
                bytes: text.into(),
                last_use: 0,
            })
        };
        let mut slots = vec![pinned(b""), pinned("…".as_bytes())];
        slots.extend(PINNED_METHODS.iter().map(|m| pinned(m)));
        Interner {
            generations: vec![0; slots.len()],
            marks: vec![0; slots.len().div_ceil(64)],
            slots,
            free: Vec::new(),
            by_hash: HashIndex::default(),
            seed: random_seed(),
            bytes_held: 0,
            byte_cap,
            sweep_at: FIRST_SWEEP_AT.min(byte_cap.saturating_sub(HEADROOM)),
            refused: 0,
            clock: 0,
            recent: vec![StrId::EMPTY.slot(); 1 << RECENT_BITS].into(),
            recent_key: random_seed() | 1,
            #[cfg(test)]
            uncached: 0,
        }
    }

    /// Where `text` sits in the cache of recent answers: two multiplies of
    /// its length and a few words, keyed by a secret. The first and last
    /// words tell most paths apart; browsers' user agents share them
    /// ("Mozilla/" … "537.36") and often their length, so a long string
    /// also mixes in its second word (the platform, "5.0 (Win"), its
    /// middle, and its third word from the end (Chrome's version,
    /// "/131.0.0"): three Chromes on one platform would otherwise share
    /// a slot and push each other out on every line.
    #[inline]
    fn cheap_key(&self, text: &[u8]) -> usize {
        let n = text.len();
        let at = |i: usize| word(&text[i..i + 8]);
        let (head, middle, tail) = match n {
            32.. => (
                at(0) ^ at(8).rotate_left(23),
                at(n / 2 - 4),
                at(n - 24) ^ at(n - 8),
            ),
            16.. => (at(0), at(8), at(n - 8)),
            8.. => (at(0), 0, at(n - 8)),
            _ => (word(text), 0, 0),
        };
        let k = self.recent_key;
        let first = (head ^ n as u64).wrapping_mul(k).rotate_left(31);
        let mixed = (first ^ middle ^ tail.rotate_left(17)).wrapping_mul(k);
        (mixed >> (64 - RECENT_BITS)) as usize
    }

    /// The id of `text` (cut at `MAX_STRING`), adding it if new. Inline, as
    /// small as the common case (a repeat the cache of recent answers has);
    /// the rest is out of line in [`intern_uncached`](Self::intern_uncached).
    #[inline(always)]
    pub(crate) fn intern(&mut self, text: &[u8]) -> StrId {
        let text = &text[..text.len().min(MAX_STRING)];
        if text.len() <= LONGEST_PINNED {
            // Paths and user agents are longer: one comparison spares them
            // the walk over the methods.
            if text.is_empty() {
                return StrId::EMPTY;
            }
            if let Some(i) = PINNED_METHODS.iter().position(|m| *m == text) {
                return StrId::of_slot(2 + i as u32);
            }
        }
        self.clock = self.clock.wrapping_add(1);
        let key = self.cheap_key(text);
        // Two ways: `key` (the newest there) and its neighbour.
        for way in [key, key ^ 1] {
            if let Some(id) = self.cached(way, text) {
                return id;
            }
        }
        self.intern_uncached(text, key)
    }

    /// The string of the cache's entry `way`, if it is `text`.
    #[inline(always)]
    fn cached(&mut self, way: usize, text: &[u8]) -> Option<StrId> {
        let id = self.recent[way];
        let slot = self.slots.get_mut(id as usize)?.as_mut()?;
        if &*slot.bytes != text {
            return None;
        }
        slot.last_use = self.clock;
        Some(StrId::of_slot(id))
    }

    /// [`intern`](Self::intern) of a string not in the cache of recent
    /// answers at `key`: through the keyed hash index. A string found there
    /// (seen before) takes the cache's slot; a new one does not, so the
    /// long tail of strings seen once (unique paths: a tenth of a busy
    /// site's lines) never pushes a repeating one out of the cache.
    #[inline(never)]
    fn intern_uncached(&mut self, text: &[u8], key: usize) -> StrId {
        #[cfg(test)]
        {
            self.uncached += 1;
        }
        let hash = self.hash_of(text);
        let holds_text = |id: u32| {
            self.slots[id as usize]
                .as_ref()
                .is_some_and(|s| &*s.bytes == text)
        };
        if let Some(id) = self.by_hash.find(hash, holds_text) {
            if let Some(slot) = self.slots[id as usize].as_mut() {
                slot.last_use = self.clock;
            }
            // The older string of the pair moves to the other way.
            self.recent[key ^ 1] = self.recent[key];
            self.recent[key] = id;
            return StrId::of_slot(id);
        }
        let no_slot = self.free.is_empty() && self.slots.len() >= MAX_SLOTS as usize;
        if no_slot || self.bytes_held + text.len() + STRING_OVERHEAD > self.byte_cap {
            self.refused += 1;
            return StrId::DROPPED;
        }
        self.insert(text, hash)
    }

    /// The keyed hash the index keeps: its low 32 bits.
    fn hash_of(&self, text: &[u8]) -> u32 {
        seeded_hash(self.seed, text) as u32
    }

    fn insert(&mut self, text: &[u8], hash: u32) -> StrId {
        let slot = Some(Slot {
            bytes: text.into(),
            last_use: self.clock,
        });
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = slot;
                let generation = &mut self.generations[id as usize];
                *generation = generation.wrapping_add(1);
                id
            }
            None => {
                self.slots.push(slot);
                self.generations.push(0);
                if self.marks.len() * 64 < self.slots.len() {
                    self.marks.push(0);
                }
                (self.slots.len() - 1) as u32
            }
        };
        self.bytes_held += text.len() + STRING_OVERHEAD;
        self.by_hash.insert(hash, id);
        StrId::of_slot(id)
    }

    /// Whether enough has been added since the last sweep to run one.
    pub(crate) fn wants_sweep(&self) -> bool {
        self.bytes_held >= self.sweep_at || self.refused >= REFUSALS_PER_SWEEP
    }

    /// Keep `id` through the sweep in progress.
    pub(crate) fn mark(&mut self, id: StrId) {
        if let Some(word) = self.marks.get_mut(id.index() / 64) {
            *word |= 1 << (id.index() % 64);
        }
    }

    fn is_marked(&self, id: usize) -> bool {
        self.marks
            .get(id / 64)
            .is_some_and(|word| word & 1 << (id % 64) != 0)
    }

    /// Free every dynamic string not marked since the last sweep, then, when
    /// what is left holds more than half the cap, the least recently
    /// interned marked ones down to half; clear the marks.
    pub(crate) fn sweep(&mut self) -> Swept {
        let mut swept = Swept::default();
        for id in FIRST_DYNAMIC as usize..self.slots.len() {
            if self.slots[id].is_none() || self.is_marked(id) {
                continue;
            }
            self.free_slot(id);
            swept.unmarked += 1;
        }
        let keep = self.byte_cap / 2;
        if self.bytes_held > keep {
            swept.trimmed = self.trim_to(keep);
        }
        self.marks.fill(0);
        self.refused = 0;
        let most = self.byte_cap.saturating_sub(HEADROOM);
        self.sweep_at = (self.bytes_held * 2).max(FIRST_SWEEP_AT).min(most);
        swept
    }

    /// Free the least recently interned strings until at most `keep` bytes
    /// are held. Returns how many were freed. Sorting every live string is
    /// fine here: a trim runs once per half a cap of new strings.
    fn trim_to(&mut self, keep: usize) -> usize {
        let clock = self.clock;
        let mut by_age: Vec<(u32, u32)> = (FIRST_DYNAMIC as usize..self.slots.len())
            .filter_map(|id| {
                let slot = self.slots[id].as_ref()?;
                Some((clock.wrapping_sub(slot.last_use), id as u32))
            })
            .collect();
        by_age.sort_unstable_by(|a, b| b.cmp(a)); // oldest first
        let mut trimmed = 0;
        for (_, id) in by_age {
            if self.bytes_held <= keep {
                break;
            }
            self.free_slot(id as usize);
            trimmed += 1;
        }
        trimmed
    }

    fn free_slot(&mut self, id: usize) {
        let Some(slot) = self.slots[id].take() else {
            return;
        };
        self.free.push(id as u32);
        self.bytes_held -= slot.bytes.len() + STRING_OVERHEAD;
        let removed = self.by_hash.remove(self.hash_of(&slot.bytes), id as u32);
        debug_assert!(removed, "every dynamic string is indexed");
    }

    /// Whether `id` still stands for the text it was given for: false once
    /// a sweep freed it (until the slot is reused, which the owner must not
    /// wait for: see the module documentation).
    pub(crate) fn is_live(&self, id: StrId) -> bool {
        self.slots.get(id.index()).is_some_and(Option::is_some)
    }

    /// The bytes of an interned string.
    pub(crate) fn get(&self, id: StrId) -> &[u8] {
        self.slots
            .get(id.index())
            .and_then(Option::as_ref)
            .map_or(&[], |s| &s.bytes)
    }

    /// Which string `id` stands for, for a cache keyed by id: its slot's
    /// generation, which changes whenever a sweep frees the slot and a new
    /// string takes it, so `(id.index(), generation)` names one string.
    /// (It wraps after 2^32 reuses of one slot; a slot is reused at most
    /// once a sweep.) `None` for the placeholders and pinned strings (never
    /// worth caching) and for a freed id.
    pub(crate) fn generation(&self, id: StrId) -> Option<u32> {
        let live = self.slots.get(id.index()).is_some_and(Option::is_some);
        (id.slot() >= FIRST_DYNAMIC && live).then(|| self.generations[id.index()])
    }

    /// Bytes held now: text plus `STRING_OVERHEAD` a string.
    #[cfg(test)]
    pub(crate) fn bytes_held(&self) -> usize {
        self.bytes_held
    }

    /// Distinct strings held (placeholders and pinned methods excluded).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.len() - FIRST_DYNAMIC as usize - self.free.len()
    }
}

#[cfg(test)]
mod tests;
