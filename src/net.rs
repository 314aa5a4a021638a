//! Facts about an address that every layer shares, so that none of them
//! imports another for them: whether it is public (the table hides the
//! rest, GeoIP and whois don't look them up), what a port is called, and
//! the records enrichment attaches to a row (`GeoInfo` from the GeoIP
//! databases, `WhoisInfo` from RDAP/whois, `BlockMark` from the firewalls
//! and ban engines). The table stores these records; `enrich` produces
//! them; neither depends on the other.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU32;

use ipnet::IpNet;

use crate::parse::UnixTime;

/// Whether an address is globally routable. Loopback, private, link-local,
/// CGNAT, documentation, benchmarking, multicast and reserved ranges are not;
/// they are hidden unless `--show-private-ips`. (`IpAddr::is_global` is unstable.)
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || a == 10
        || a == 127
        || a >= 224 // multicast 224/4, reserved 240/4, broadcast
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && (c == 0 || c == 2)) // IETF 192.0.0/24, TEST-NET-1
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18/15
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)) // TEST-NET-3
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || s[0] & 0xfe00 == 0xfc00 // unique local fc00::/7
        || s[0] & 0xffc0 == 0xfe80 // link-local fe80::/10
        || s[0] & 0xff00 == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard 100::/64
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64 64:ff9b:1::/48
        || (s[0] == 0x2001 && s[1] < 0x0200)) // IETF protocol assignments 2001::/23
}

/// Short service name for a port, as nethergaze 0.2.0 names them.
pub(crate) fn service_name(port: u16) -> Option<&'static str> {
    Some(match port {
        22 => "ssh",
        25 => "smtp",
        53 => "dns",
        80 => "http",
        110 => "pop3",
        143 => "imap",
        443 => "https",
        465 => "smtps",
        587 => "submission",
        993 => "imaps",
        995 => "pop3s",
        3306 => "mysql",
        5432 => "pg",
        6379 => "redis",
        8080 => "http-alt",
        8443 => "https-alt",
        _ => return None,
    })
}

/// What the GeoIP databases know about one address; every field may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GeoInfo {
    /// ISO 3166-1 alpha-2 code (`country`, else `registered_country`).
    pub(crate) country: Option<String>,
    /// English city name.
    pub(crate) city: Option<String>,
    /// Autonomous system number.
    pub(crate) asn: Option<u32>,
    /// Autonomous system organisation.
    pub(crate) org: Option<String>,
}

/// What RDAP says about the network holding an address. Every string is trimmed of
/// control characters and capped at `enrich::whois::MAX_FIELD` characters: it comes
/// from the network and ends up on a terminal.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct WhoisInfo {
    /// The registry's name for the network (`name`), e.g. `GOOGLE`.
    pub(crate) network: Option<String>,
    /// The network's extent, `a.b.c.d/n` (or `start - end` when it is no single prefix).
    pub(crate) cidr: Option<String>,
    /// The registrant's name (vCard `fn`), else the first description remark.
    pub(crate) org: Option<String>,
    /// ISO 3166 two-letter country code, uppercase; `None` when the registry gave
    /// anything else.
    pub(crate) country: Option<String>,
    /// The abuse contact's e-mail address.
    pub(crate) abuse: Option<String>,
}

/// Who blocks: the names the JSON's `blocked.by` and the drill-down use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Blocker {
    /// nethergaze's own nft sets.
    Nft,
    Iptables,
    Ip6tables,
    /// A rule in one of ufw's chains (`ufw-user-input`, ...).
    Ufw,
    Fail2ban,
    /// A CrowdSec decision (`cscli`).
    Crowdsec,
}

impl Blocker {
    /// Every blocker, in the order `blocked.by` lists them.
    pub(crate) const ALL: [Blocker; 6] = [
        Blocker::Nft,
        Blocker::Iptables,
        Blocker::Ip6tables,
        Blocker::Ufw,
        Blocker::Fail2ban,
        Blocker::Crowdsec,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Blocker::Nft => "nft",
            Blocker::Iptables => "iptables",
            Blocker::Ip6tables => "ip6tables",
            Blocker::Ufw => "ufw",
            Blocker::Fail2ban => "fail2ban",
            Blocker::Crowdsec => "crowdsec",
        }
    }

    /// Its bit in a [`Blockers`] set.
    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

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
    /// Both marks: every tool, the wider scope, the earlier start.
    pub(crate) fn merge(self, other: BlockMark) -> BlockMark {
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

/// Which [`BlockMark`] a row points at (the table holds the marks): 4
/// bytes in the row.
pub(crate) type BlockId = NonZeroU32;

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn hidden_ranges() {
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.1.1",
            "192.0.2.7",
            "198.51.100.7",
            "203.0.113.7",
            "198.18.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "2001:db8::1",
            "ff02::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!public(s), "{s} should be hidden");
        }
    }

    #[test]
    fn shown_ranges() {
        for s in [
            "8.8.4.4",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2a01:4f8::1",
            "::ffff:8.8.8.8",
            "2606:4700::1111",
        ] {
            assert!(public(s), "{s} should be shown");
        }
    }
}
