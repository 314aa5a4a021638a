//! Is an address already blocked? The networks the firewalls and ban
//! engines hold ([`crate::parse::blocklist`]), indexed by containment: an
//! address inside a blocked /24 is blocked.
//!
//! Networks are bucketed by family and prefix length, each bucket a hash
//! of the masked network bits, so a lookup costs at most one hash probe
//! per distinct prefix length present (a handful), whatever the number of
//! networks. Rows are looked up when they are born and when the list
//! changes, never per log line.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;

use ipnet::IpNet;

use crate::parse::blocklist::{BlockedNet, Blocker};
use crate::parse::UnixTime;

/// A set of [`Blocker`]s (one bit each).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Blockers(u8);

impl Blockers {
    pub(crate) fn insert(&mut self, by: Blocker) {
        self.0 |= by.bit();
    }

    pub(crate) fn contains(self, by: Blocker) -> bool {
        self.0 & by.bit() != 0
    }

    /// The members, in [`Blocker::ALL`] order.
    pub(crate) fn iter(self) -> impl Iterator<Item = Blocker> {
        Blocker::ALL.into_iter().filter(move |b| self.contains(*b))
    }

    fn union(self, other: Blockers) -> Blockers {
        Blockers(self.0 | other.0)
    }
}

/// What a row shows about its address being blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockMark {
    /// Every tool that blocks it (at any scope).
    pub(crate) by: Blockers,
    /// The widest blocked network that holds it (the address alone: /32 or /128).
    pub(crate) scope: IpNet,
    /// The earliest start a tool gave (fail2ban, CrowdSec), if any did.
    pub(crate) since: Option<UnixTime>,
}

impl BlockMark {
    fn merge(self, other: BlockMark) -> BlockMark {
        BlockMark {
            by: self.by.union(other.by),
            scope: if other.scope.prefix_len() < self.scope.prefix_len() {
                other.scope
            } else {
                self.scope
            },
            since: match (self.since, other.since) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        }
    }
}

/// A row's mark in the index ([`BlockIndex::mark`]): 4 bytes in the row.
pub(crate) type BlockId = NonZeroU32;

/// Blocked networks of one family and prefix length: masked bits → mark.
#[derive(Debug, Clone)]
struct Bucket {
    v6: bool,
    prefix: u8,
    ids: HashMap<u128, u32>,
}

/// The blocked networks, ready for per-row lookups.
///
/// The networks that hold one address are nested, so each network's mark
/// is merged with its ancestors' when the index is built: a lookup returns
/// the most specific network's mark, which is every match merged.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlockIndex {
    /// Most specific first within a family.
    buckets: Vec<Bucket>,
    /// By id: what an address inside the network shows.
    marks: Vec<BlockMark>,
}

/// An address's bits, IPv4 in the low 32.
fn bits(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (false, u128::from(u32::from(a))),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

/// `value` with all but the first `prefix` of its `width` bits cleared.
fn masked(value: u128, prefix: u8, width: u8) -> u128 {
    let host_bits = u32::from(width.saturating_sub(prefix));
    if host_bits >= 128 {
        0
    } else {
        value >> host_bits << host_bits
    }
}

fn width(v6: bool) -> u8 {
    if v6 {
        128
    } else {
        32
    }
}

impl BlockIndex {
    /// The index of `nets` (duplicates merged; at most `u32::MAX` networks).
    pub(crate) fn new(nets: &[BlockedNet]) -> BlockIndex {
        let mut index = BlockIndex::default();
        for b in nets {
            index.insert(*b);
        }
        index
            .buckets
            .sort_by_key(|k| (k.v6, std::cmp::Reverse(k.prefix)));
        index.merge_ancestors();
        index
    }

    fn insert(&mut self, b: BlockedNet) {
        let (v6, value) = bits(b.net.network());
        let prefix = b.net.prefix_len();
        let mut by = Blockers::default();
        by.insert(b.by);
        let mark = BlockMark {
            by,
            scope: b.net.trunc(),
            since: b.since,
        };
        let at = match self
            .buckets
            .iter()
            .position(|k| k.v6 == v6 && k.prefix == prefix)
        {
            Some(at) => at,
            None => {
                self.buckets.push(Bucket {
                    v6,
                    prefix,
                    ids: HashMap::new(),
                });
                self.buckets.len() - 1
            }
        };
        let key = masked(value, prefix, width(v6));
        match self.buckets[at].ids.get(&key) {
            Some(&id) => self.marks[id as usize] = self.marks[id as usize].merge(mark),
            None if self.marks.len() < u32::MAX as usize => {
                self.buckets[at].ids.insert(key, self.marks.len() as u32);
                self.marks.push(mark);
            }
            None => {}
        }
    }

    /// Each network's mark merged with its nearest ancestor's, widest
    /// buckets first (so that ancestor's is merged already).
    fn merge_ancestors(&mut self) {
        let mut merges = Vec::new();
        for at in (0..self.buckets.len()).rev() {
            merges.clear();
            let bucket = &self.buckets[at];
            for (&key, &id) in &bucket.ids {
                let ancestor = self.buckets[at + 1..]
                    .iter()
                    .take_while(|k| k.v6 == bucket.v6)
                    .find_map(|k| k.ids.get(&masked(key, k.prefix, width(k.v6))));
                if let Some(&parent) = ancestor {
                    merges.push((id, parent));
                }
            }
            for &(id, parent) in &merges {
                let merged = self.marks[id as usize].merge(self.marks[parent as usize]);
                self.marks[id as usize] = merged;
            }
        }
    }

    /// Distinct networks held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.marks.len()
    }

    /// The mark of the most specific blocked network holding `ip` (every
    /// network holding it merged: all tools, the widest scope).
    pub(crate) fn lookup_id(&self, ip: IpAddr) -> Option<BlockId> {
        let (v6, value) = bits(ip.to_canonical());
        self.buckets
            .iter()
            .filter(|k| k.v6 == v6)
            .find_map(|k| k.ids.get(&masked(value, k.prefix, width(v6))))
            .and_then(|&id| BlockId::new(id + 1))
    }

    /// What [`lookup_id`](Self::lookup_id) found (`None` for an id of an
    /// older index).
    pub(crate) fn mark(&self, id: BlockId) -> Option<&BlockMark> {
        self.marks.get(id.get() as usize - 1)
    }

    /// Whether `ip` is inside a blocked network, and by whom.
    #[cfg(test)]
    pub(crate) fn lookup(&self, ip: IpAddr) -> Option<&BlockMark> {
        self.lookup_id(ip).and_then(|id| self.mark(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str, by: Blocker, since: Option<UnixTime>) -> BlockedNet {
        BlockedNet {
            net: s.parse().unwrap(),
            by,
            since,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_address_inside_a_blocked_network_is_blocked() {
        let index = BlockIndex::new(&[
            net("203.0.113.0/24", Blocker::Iptables, None),
            net("203.0.113.7/32", Blocker::Fail2ban, None),
            net("198.51.100.0/22", Blocker::Crowdsec, Some(100)),
            net("198.51.100.0/24", Blocker::Crowdsec, Some(50)),
            net("2001:db8::/64", Blocker::Nft, None),
            net("0.0.0.0/0", Blocker::Ufw, None),
        ]);
        assert_eq!(index.len(), 6);
        let m = *index.lookup(ip("203.0.113.7")).unwrap();
        assert_eq!(
            m.by.iter().collect::<Vec<_>>(),
            [Blocker::Iptables, Blocker::Ufw, Blocker::Fail2ban]
        );
        assert_eq!(m.scope.to_string(), "0.0.0.0/0", "the widest scope");
        let m = *index.lookup(ip("198.51.101.255")).unwrap();
        assert_eq!(
            (m.scope.to_string(), m.since),
            ("0.0.0.0/0".into(), Some(100))
        );
        assert_eq!(index.lookup(ip("198.51.100.1")).unwrap().since, Some(50));
        let m = *index.lookup(ip("2001:db8::1:2")).unwrap();
        assert_eq!(m.scope.to_string(), "2001:db8::/64");
        assert_eq!(index.lookup(ip("2001:db8:0:1::1")), None);
        // IPv4-mapped addresses are their IPv4 selves.
        assert!(index.lookup(ip("::ffff:203.0.113.9")).is_some());
    }

    #[test]
    fn without_the_catch_all_the_neighbours_are_not_blocked() {
        let index = BlockIndex::new(&[
            net("203.0.113.0/24", Blocker::Iptables, None),
            net("203.0.113.7/32", Blocker::Fail2ban, None),
            net("::/0", Blocker::Nft, None),
        ]);
        assert_eq!(index.lookup(ip("203.0.114.1")), None);
        let m = *index.lookup(ip("203.0.113.8")).unwrap();
        assert_eq!(m.by.iter().collect::<Vec<_>>(), [Blocker::Iptables]);
        assert_eq!(m.scope.to_string(), "203.0.113.0/24");
        assert!(index.lookup(ip("2001:db8::1")).is_some());
        assert!(BlockIndex::default().lookup(ip("1.2.3.4")).is_none());
    }

    /// The index against a plain scan of every network.
    #[test]
    fn lookups_agree_with_a_naive_scan() {
        let nets: Vec<BlockedNet> = (0u32..400)
            .map(|i| {
                let prefix = 8 + (i % 25) as u8;
                let addr = IpAddr::from((i.wrapping_mul(2_654_435_761)).to_be_bytes());
                BlockedNet {
                    net: IpNet::new(addr, prefix).unwrap().trunc(),
                    by: Blocker::ALL[i as usize % 6],
                    since: None,
                }
            })
            .collect();
        let index = BlockIndex::new(&nets);
        for i in 0u32..5000 {
            let addr = IpAddr::from(i.wrapping_mul(40_503).wrapping_add(i << 20).to_be_bytes());
            let naive: Vec<&BlockedNet> = nets.iter().filter(|b| b.net.contains(&addr)).collect();
            let got = index.lookup(addr);
            assert_eq!(got.is_some(), !naive.is_empty(), "{addr}");
            if let Some(m) = got {
                for b in naive {
                    assert!(m.by.contains(b.by));
                    assert!(m.scope.prefix_len() <= b.net.prefix_len());
                }
            }
        }
    }
}
