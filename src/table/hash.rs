//! A fast keyed hash for the table's indexes.
//!
//! Keys come from attackers (addresses, paths, user agents), so the hash is
//! keyed with a per-process random seed: collisions can't be aimed at us
//! without knowing it. It is much cheaper than SipHash on the per-line path.

use std::hash::{BuildHasher, Hasher};

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// A fast keyed hash (per-process random seed, so attackers can't aim collisions
/// at the table without knowing it). 8 bytes per multiply.
pub fn seeded_hash(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word))
            .wrapping_mul(K)
            .rotate_left(29);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    h ^ (h >> 32)
}

pub fn random_seed() -> u64 {
    let mut seed = [0u8; 8];
    // SAFETY: getrandom writes at most `len` bytes into the buffer we own.
    let got = unsafe { libc::getrandom(seed.as_mut_ptr().cast(), seed.len(), libc::GRND_NONBLOCK) };
    if got == 8 {
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
pub struct SeededState(u64);

impl Default for SeededState {
    fn default() -> Self {
        SeededState(random_seed())
    }
}

impl BuildHasher for SeededState {
    type Hasher = SeededHasher;
    fn build_hasher(&self) -> SeededHasher {
        SeededHasher(self.0)
    }
}

pub struct SeededHasher(u64);

impl Hasher for SeededHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = seeded_hash(self.0, bytes);
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(K).rotate_left(29);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn finish(&self) -> u64 {
        let h = self.0.wrapping_mul(K);
        h ^ (h >> 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
