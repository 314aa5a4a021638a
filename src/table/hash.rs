//! A vetted keyed hash for the table's indexes.
//!
//! Keys come from attackers (addresses, paths, user agents), so the hash is
//! keyed with a per-process random secret: collisions can't be aimed at us
//! without knowing it. It is much cheaper than SipHash on the per-line path.
//!
//! The hash is `foldhash::quality` (already in the dependency graph through
//! hashbrown), not a home-made mix: our old one let a fixed input difference
//! (bit 63 of one word, bit 28 of the next) collide under every seed. Foldhash
//! XORs a secret into both operands of every folded multiply, so no input
//! family collides for every seed (its "minimal DoS resistance"; it does not
//! claim resistance to an attacker who can observe hash values, and we never
//! show them). The `quality` variant rather than `fast`: the interner feeds the
//! hash straight to a pre-hashed map, whose bucket (low bits) and tag (top 7
//! bits) must each be a well-mixed function of every input bit; `quality` is
//! `fast` plus one final folded multiply that gives that avalanche.

use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

use foldhash::quality::FoldHasher;
use foldhash::SharedSeed;

/// The per-process secret behind every hash. Seeded from `getrandom` here,
/// not by foldhash's own global seed (that one mixes addresses and the clock).
fn shared_seed() -> &'static SharedSeed {
    static SHARED: OnceLock<SharedSeed> = OnceLock::new();
    SHARED.get_or_init(|| SharedSeed::from_u64(random_seed()))
}

/// The keyed hash of `bytes`: `seed` picks one of many functions under the
/// process secret (each interner has its own).
pub(crate) fn seeded_hash(seed: u64, bytes: &[u8]) -> u64 {
    keyed_hash(shared_seed(), seed, bytes)
}

fn keyed_hash(shared: &SharedSeed, seed: u64, bytes: &[u8]) -> u64 {
    let mut hasher = FoldHasher::with_seed(seed, shared);
    hasher.write(bytes);
    hasher.finish()
}

pub(crate) fn random_seed() -> u64 {
    let mut seed = [0u8; 8];
    if crate::sys::random::fill_nonblocking(&mut seed) {
        u64::from_le_bytes(seed)
    } else {
        // No entropy yet (early boot): fall back to the clock and our address.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        t ^ (&seed as *const _ as u64)
    }
}

/// `BuildHasher` for `HashMap`s keyed by attacker-chosen values.
#[derive(Clone)]
pub(crate) struct SeededState(u64);

impl Default for SeededState {
    fn default() -> Self {
        SeededState(random_seed())
    }
}

impl BuildHasher for SeededState {
    type Hasher = SeededHasher;
    fn build_hasher(&self) -> SeededHasher {
        FoldHasher::with_seed(self.0, shared_seed())
    }
}

pub(crate) type SeededHasher = FoldHasher;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::net::IpAddr;

    #[test]
    fn distinct_addresses_spread_over_buckets() {
        let state = SeededState::default();
        let mut low_bits = std::collections::HashSet::new();
        for n in 0..4096u32 {
            let ip = IpAddr::from(n.to_be_bytes());
            low_bits.insert(state.hash_one(ip) & 0xfff);
        }
        // A good hash fills most of 4096 buckets with 4096 keys (~63 % expected).
        assert!(low_bits.len() > 2300, "{}", low_bits.len());
    }

    /// The hash this module used before issue 11, kept as the counter-example
    /// the tests below must catch.
    fn old_seeded_hash(seed: u64, bytes: &[u8]) -> u64 {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut h = seed ^ (bytes.len() as u64).wrapping_mul(K);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().unwrap());
            h = (h ^ word).wrapping_mul(K).rotate_left(29);
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(K);
        h ^ (h >> 32)
    }

    /// 4 096 distinct printable 144-byte paths. Four gadgets of two words
    /// each: bit 62 of the first word (bit 6 of its byte 7) and bits 27/28 of
    /// the next (bits 3/4 of its byte 3). Under a multiply-then-rotate-by-29
    /// hash, the first flip becomes bit 27 or bits 27+28 and the second can
    /// cancel it, so each gadget's 8 choices give 4 states: 256 hashes.
    fn printable_family() -> Vec<Vec<u8>> {
        (0..4096u32)
            .map(|n| {
                let mut path = vec![b'x'; 144];
                path[0] = b'/';
                for gadget in 0..4 {
                    let bits = n >> (3 * gadget);
                    let first = 16 * gadget as usize + 7;
                    let next = 16 * gadget as usize + 8 + 3;
                    path[first] = b'-' | (((bits & 1) as u8) << 6);
                    path[next] = b'a' | (((bits >> 1 & 3) as u8) << 3);
                }
                assert!(path.iter().all(|b| b.is_ascii_graphic()));
                path
            })
            .collect()
    }

    #[test]
    fn aimed_printable_family_spreads_under_every_seed() {
        let family = printable_family();
        let distinct = |hash: &dyn Fn(&[u8]) -> u64| {
            family.iter().map(|p| hash(p)).collect::<HashSet<_>>().len()
        };
        assert_eq!(family.iter().collect::<HashSet<_>>().len(), 4096);
        for _ in 0..8 {
            let seed = random_seed();
            let shared = SharedSeed::from_u64(random_seed());
            // The old hash falls for it whatever the seed ...
            assert!(distinct(&|p| old_seeded_hash(seed, p)) <= 256);
            // ... the vetted one spreads it over (practically) 4 096 hashes,
            // both as a whole and in the low bits that pick a bucket.
            assert!(distinct(&|p| keyed_hash(&shared, seed, p)) >= 4000);
            assert!(distinct(&|p| seeded_hash(seed, p)) >= 4000);
            assert!(distinct(&|p| seeded_hash(seed, p) & 0xfff) > 2300);
        }
    }

    #[test]
    fn aimed_bit_63_and_28_pairs_differ_under_every_seed() {
        let mut rng = random_seed() | 1;
        for _ in 0..64 {
            let seed = random_seed();
            let shared = SharedSeed::from_u64(random_seed());
            let mut a = [0u8; 48];
            for chunk in a.chunks_exact_mut(8) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                chunk.copy_from_slice(&rng.to_le_bytes());
            }
            // Bit 63 of word 2 (bit 7 of byte 23), bit 28 of word 3 (bit 4 of byte 27).
            let mut b = a;
            b[23] ^= 0x80;
            b[27] ^= 0x10;
            assert_eq!(old_seeded_hash(seed, &a), old_seeded_hash(seed, &b));
            assert_ne!(keyed_hash(&shared, seed, &a), keyed_hash(&shared, seed, &b));
            assert_ne!(seeded_hash(seed, &a), seeded_hash(seed, &b));
        }
    }
}
