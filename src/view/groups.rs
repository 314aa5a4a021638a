//! The IP table grouped by network, ASN or country: one row a group, its
//! counts the sums of its members', its reasons the members' and those the
//! group earns together ([`Detector::group_reasons`]).
//!
//! Built on demand (each dashboard frame, each snapshot) from the rows
//! shown, into a [`Grouper`] whose map and vector are cleared and reused:
//! no allocation per row; a key is `Copy` (a prefix, an ASN, two letters).

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::detect::{Detector, GroupLoad, Reasons};
use crate::parse::UnixTime;
use crate::table::SeededState;
use crate::table::{IpTable, Row};

/// What the table is grouped by; `n` on the dashboard cycles through them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GroupBy {
    /// One row an address: the table as it always was.
    #[default]
    Ip,
    /// The whois network where known, else the /24 (IPv4) or /64 (IPv6).
    Net,
    /// The GeoIP autonomous system.
    Asn,
    /// GeoIP's country, else whois's.
    Country,
}

impl GroupBy {
    /// `--group-by`'s values (`ip` is the dashboard's plain table).
    pub(crate) const CHOICES: [&'static str; 3] = ["net", "asn", "country"];

    /// The next grouping in the dashboard's cycle.
    pub(crate) fn next(self) -> GroupBy {
        match self {
            GroupBy::Ip => GroupBy::Net,
            GroupBy::Net => GroupBy::Asn,
            GroupBy::Asn => GroupBy::Country,
            GroupBy::Country => GroupBy::Ip,
        }
    }

    /// `--group-by`'s value for this grouping.
    pub(crate) fn parse(text: &str) -> Option<GroupBy> {
        match text {
            "net" => Some(GroupBy::Net),
            "asn" => Some(GroupBy::Asn),
            "country" => Some(GroupBy::Country),
            _ => None,
        }
    }

    /// The first column's title, and the JSON `kind`'s word.
    pub(crate) fn title(self) -> &'static str {
        match self {
            GroupBy::Ip => "IP",
            GroupBy::Net => "Network",
            GroupBy::Asn => "ASN",
            GroupBy::Country => "Country",
        }
    }
}

/// A group's key: `Copy`, ordered (the tie-break of the group order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum GroupKey {
    Net(IpNet),
    /// `None`: GeoIP knows no ASN for these addresses.
    Asn(Option<u32>),
    /// Upper-case ASCII letters; `None`: no country known.
    Country(Option<[u8; 2]>),
}

impl GroupKey {
    /// The key of `row` under `by` (`None` for [`GroupBy::Ip`]).
    pub(crate) fn of(row: &Row, by: GroupBy) -> Option<GroupKey> {
        match by {
            GroupBy::Ip => None,
            GroupBy::Net => Some(GroupKey::Net(network_of(row))),
            GroupBy::Asn => Some(GroupKey::Asn(row.geo.as_deref().and_then(|g| g.asn))),
            GroupBy::Country => Some(GroupKey::Country(country_of(row))),
        }
    }

    /// The grouping this key is of.
    pub(crate) fn by(self) -> GroupBy {
        match self {
            GroupKey::Net(_) => GroupBy::Net,
            GroupKey::Asn(_) => GroupBy::Asn,
            GroupKey::Country(_) => GroupBy::Country,
        }
    }

    /// JSON's `kind`.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            GroupKey::Net(_) => "net",
            GroupKey::Asn(_) => "asn",
            GroupKey::Country(_) => "country",
        }
    }
}

impl fmt::Display for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupKey::Net(net) => write!(f, "{net}"),
            GroupKey::Asn(Some(asn)) => write!(f, "AS{asn}"),
            GroupKey::Country(Some([a, b])) => write!(f, "{}{}", *a as char, *b as char),
            GroupKey::Asn(None) | GroupKey::Country(None) => f.write_str("unknown"),
        }
    }
}

/// The whois network when it is one prefix holding the address, else the
/// address's /24 or /64. Parsing the prefix allocates nothing.
pub(crate) fn network_of(row: &Row) -> IpNet {
    let whois = row.whois.as_deref().and_then(|w| w.cidr.as_deref());
    if let Some(net) = whois.and_then(|c| c.trim().parse::<IpNet>().ok()) {
        if net.contains(&row.ip) {
            return net.trunc();
        }
    }
    default_network(row.ip)
}

/// The /24 of an IPv4 address, the /64 of an IPv6 one.
pub(crate) fn default_network(ip: IpAddr) -> IpNet {
    // Both prefix lengths are valid, so neither constructor can fail.
    match ip {
        IpAddr::V4(v4) => Ipv4Net::new(v4, 24).map_or(IpNet::from(ip), |n| n.trunc().into()),
        IpAddr::V6(v6) => Ipv6Net::new(v6, 64).map_or(IpNet::from(ip), |n| n.trunc().into()),
    }
}

/// Two ASCII letters, upper-cased: GeoIP's country, else whois's (text
/// from outside: anything else is no country).
fn country_of(row: &Row) -> Option<[u8; 2]> {
    let geo = row.geo.as_deref().and_then(|g| g.country.as_deref());
    let code = geo.or_else(|| row.whois.as_deref().and_then(|w| w.country.as_deref()))?;
    match code.as_bytes() {
        &[a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            Some([a.to_ascii_uppercase(), b.to_ascii_uppercase()])
        }
        _ => None,
    }
}

/// One group row: its members' sums.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Group {
    pub(crate) key: GroupKey,
    pub(crate) members: u32,
    /// Members with a reason of their own.
    pub(crate) suspicious_members: u32,
    pub(crate) requests: u64,
    pub(crate) bytes: u64,
    /// Inbound connections, as a row's `conns`.
    pub(crate) conns: u64,
    /// sshd failures, all of them (the load holds the fresh ones).
    pub(crate) auth_failures: u64,
    pub(crate) load: GroupLoad,
    /// The members' reasons and the group's own ([`Detector::group_reasons`]).
    pub(crate) reasons: Reasons,
    /// The member with the most requests (block assist's address for a
    /// group that is no network).
    pub(crate) top_member: IpAddr,
    top_requests: u64,
}

impl Group {
    fn new(key: GroupKey, ip: IpAddr) -> Group {
        Group {
            key,
            members: 0,
            suspicious_members: 0,
            requests: 0,
            bytes: 0,
            conns: 0,
            auth_failures: 0,
            load: GroupLoad::default(),
            reasons: Reasons::default(),
            top_member: ip,
            top_requests: 0,
        }
    }

    fn add(&mut self, row: &Row, detector: &Detector, end: UnixTime) {
        let reasons = detector.reasons(row);
        let sockets = row.sockets();
        self.members += 1;
        self.suspicious_members += u32::from(!reasons.is_empty());
        self.requests += row.requests;
        self.bytes += row.bytes;
        self.conns += u64::from(sockets.conns_in);
        self.load.rpm += u64::from(row.rate.per_minute(end));
        self.load.syn_recv += u64::from(sockets.syn_recv_in());
        self.auth_failures += row.auth_failures();
        self.load.auth_failures += detector.fresh_auth_failures(row);
        self.reasons = self.reasons.union(reasons);
        if self.members == 1 || row.requests > self.top_requests {
            self.top_member = row.ip;
            self.top_requests = row.requests;
        }
    }

    pub(crate) fn is_suspicious(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// Groups the rows shown into reused storage: cleared, never shrunk.
#[derive(Default)]
pub struct Grouper {
    index: HashMap<GroupKey, u32, SeededState>,
    groups: Vec<Group>,
}

impl Grouper {
    /// The groups of `rows` under `by` (none for [`GroupBy::Ip`]), in the
    /// snapshot's order: connections, then requests, descending; then key.
    /// `end` closes the rate window, as for a row's `rpm`.
    pub fn group<'r>(
        &mut self,
        rows: impl Iterator<Item = &'r Row>,
        detector: &Detector,
        by: GroupBy,
        end: UnixTime,
    ) -> &[Group] {
        self.index.clear();
        self.groups.clear();
        for row in rows {
            let Some(key) = GroupKey::of(row, by) else {
                break;
            };
            let at = *self.index.entry(key).or_insert_with(|| {
                self.groups.push(Group::new(key, row.ip));
                (self.groups.len() - 1) as u32
            });
            self.groups[at as usize].add(row, detector, end);
        }
        for g in &mut self.groups {
            g.reasons = g.reasons.union(detector.group_reasons(&g.load));
        }
        self.groups.sort_unstable_by(|a, b| {
            (b.conns, b.requests)
                .cmp(&(a.conns, a.requests))
                .then_with(|| a.key.cmp(&b.key))
        });
        &self.groups
    }

    /// The groups the last [`group`](Self::group) built.
    pub(crate) fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// [`group`](Self::group) over every row of `table` (the snapshot's).
    pub fn group_table(
        &mut self,
        table: &IpTable,
        detector: &Detector,
        by: GroupBy,
        end: UnixTime,
    ) -> &[Group] {
        self.group(table.rows(), detector, by, end)
    }
}

#[cfg(test)]
mod tests;
