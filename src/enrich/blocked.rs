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
use std::sync::Arc;

use crate::net::{BlockId, BlockMark, Blockers};
use crate::parse::blocklist::BlockedNet;
use crate::table::IpTable;

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
    /// By id: what an address inside the network shows (shared with the
    /// table, which resolves its rows' ids).
    marks: Arc<[BlockMark]>,
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
        let mut buckets = Vec::new();
        let mut marks = Vec::new();
        for b in nets {
            insert(&mut buckets, &mut marks, *b);
        }
        buckets.sort_by_key(|k: &Bucket| (k.v6, std::cmp::Reverse(k.prefix)));
        merge_ancestors(&buckets, &mut marks);
        BlockIndex {
            buckets,
            marks: marks.into(),
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

    /// The marks ids point at, shared.
    pub(crate) fn marks(&self) -> Arc<[BlockMark]> {
        Arc::clone(&self.marks)
    }

    /// What [`lookup_id`](Self::lookup_id) found.
    #[cfg(test)]
    pub(crate) fn mark(&self, id: BlockId) -> Option<&BlockMark> {
        self.marks.get(id.get() as usize - 1)
    }

    /// Whether `ip` is inside a blocked network, and by whom.
    #[cfg(test)]
    pub(crate) fn lookup(&self, ip: IpAddr) -> Option<&BlockMark> {
        self.lookup_id(ip).and_then(|id| self.mark(id))
    }
}

/// Add `b` to its bucket (merged with an equal network's mark).
fn insert(buckets: &mut Vec<Bucket>, marks: &mut Vec<BlockMark>, b: BlockedNet) {
    let (v6, value) = bits(b.net.network());
    let prefix = b.net.prefix_len();
    let mut by = Blockers::default();
    by.insert(b.by);
    let mark = BlockMark {
        by,
        scope: b.net.trunc(),
        since: b.since,
    };
    let at = match buckets
        .iter()
        .position(|k| k.v6 == v6 && k.prefix == prefix)
    {
        Some(at) => at,
        None => {
            buckets.push(Bucket {
                v6,
                prefix,
                ids: HashMap::new(),
            });
            buckets.len() - 1
        }
    };
    let key = masked(value, prefix, width(v6));
    match buckets[at].ids.get(&key) {
        Some(&id) => marks[id as usize] = marks[id as usize].merge(mark),
        None if marks.len() < u32::MAX as usize => {
            buckets[at].ids.insert(key, marks.len() as u32);
            marks.push(mark);
        }
        None => {}
    }
}

/// Each network's mark merged with its nearest ancestor's, widest
/// buckets first (so that ancestor's is merged already).
fn merge_ancestors(buckets: &[Bucket], marks: &mut [BlockMark]) {
    let mut merges = Vec::new();
    for at in (0..buckets.len()).rev() {
        merges.clear();
        let bucket = &buckets[at];
        for (&key, &id) in &bucket.ids {
            let ancestor = buckets[at + 1..]
                .iter()
                .take_while(|k| k.v6 == bucket.v6)
                .find_map(|k| k.ids.get(&masked(key, k.prefix, width(k.v6))));
            if let Some(&parent) = ancestor {
                merges.push((id, parent));
            }
        }
        for &(id, parent) in &merges {
            let merged = marks[id as usize].merge(marks[parent as usize]);
            marks[id as usize] = merged;
        }
    }
}

/// Mark every row of `table` by `index` (which new rows are then looked
/// up in as they are born).
pub(crate) fn install(table: &mut IpTable, index: &BlockIndex) {
    table.set_blocked(index.marks(), |ip| index.lookup_id(ip));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Blocker;
    use crate::parse::UnixTime;
    use ipnet::IpNet;

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
