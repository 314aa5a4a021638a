//! Helpers shared by the unit tests.

use std::net::IpAddr;

use crate::parse::{AccessHit, UnixTime};

/// An address from its text (tests only name good ones).
pub(crate) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A `GET` of `path` from `client` at `t`, as a parsed access line.
pub(crate) fn access_hit<'a>(
    client: &str,
    t: UnixTime,
    path: &'a [u8],
    status: u16,
    bytes: u64,
) -> AccessHit<'a> {
    AccessHit {
        peer: ip(client),
        client: ip(client),
        time: Some(t),
        method: b"GET",
        path,
        status,
        bytes,
        user_agent: b"curl/8.0",
        forwarded_for: b"",
        client_ip_field: b"",
        host: b"",
    }
}

/// xorshift64*: deterministic pseudo-random numbers without a `rand`
/// dependency, so every run of a generated test sees the same inputs.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// An index in `0..n` (0 when `n` is 0).
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }
}
