//! Private and loopback addresses the table does not track (without
//! `--show-private-ips`): counted, so the screen can say what it hides and
//! how to show it. A box behind a load balancer on 10/8, in Docker, or
//! tried on loopback would otherwise look dead.

use std::collections::HashSet;
use std::net::IpAddr;

/// Distinct hidden addresses counted at most; past it the count is a floor
/// ("4096+"). About 100 KiB at worst: the table's memory stays bounded.
pub(crate) const HIDDEN_MAX: usize = 4096;

/// The distinct addresses hidden since the start (or since private
/// addresses were last shown).
#[derive(Debug, Default)]
pub(crate) struct Hidden {
    addrs: HashSet<IpAddr>,
    /// The last address counted: behind a proxy nearly every line comes
    /// from the same one, which then costs a compare, not a hash.
    last: Option<IpAddr>,
}

impl Hidden {
    /// An address was not tracked.
    #[inline]
    pub(crate) fn note(&mut self, ip: IpAddr) {
        if self.last == Some(ip) {
            return;
        }
        self.last = Some(ip);
        if self.addrs.len() < HIDDEN_MAX {
            self.addrs.insert(ip);
        }
    }

    /// How many distinct addresses were hidden (at most [`HIDDEN_MAX`]).
    pub(crate) fn count(&self) -> usize {
        self.addrs.len()
    }

    /// Private addresses are shown from now on: nothing is hidden.
    pub(crate) fn clear(&mut self) {
        self.addrs.clear();
        self.addrs.shrink_to_fit();
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_distinct_addresses_up_to_the_cap() {
        let mut h = Hidden::default();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let ten: IpAddr = "10.0.0.5".parse().unwrap();
        for ip in [lo, lo, ten, lo, ten] {
            h.note(ip);
        }
        assert_eq!(h.count(), 2);
        for n in 0..(HIDDEN_MAX as u32 + 100) {
            h.note(IpAddr::from((0x0a00_0000u32 + n).to_be_bytes()));
        }
        assert_eq!(h.count(), HIDDEN_MAX);
        h.clear();
        assert_eq!(h.count(), 0);
    }
}
