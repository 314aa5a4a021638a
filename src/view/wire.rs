//! The `--json` wire types: one `ip` object per row, then one `summary`
//! (and, in [`events`], the `--events` stream's lines).
//!
//! The schema is a contract (schema_version 1, issue 2 §5): key order is the
//! field order here, unknown values are `null`, a source's `note` is left
//! out when there is none. The structs borrow from the table; only what must
//! be converted (lossy UTF-8, RFC 3339 times) is made on the way out.
//!
//! [`json`] writes them with the escaping and number format of the
//! hand-written writer these types replaced: every control character (C0,
//! DEL, C1) and U+2028/U+2029 as `\u00xx`, never `\b`/`\f`; rates as Rust
//! prints an `f64` (`0`, `1.5`), not `0.0`.

use std::io;
use std::net::IpAddr;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::format::{round2, services, Service};
use crate::detect::{ReasonAges, Reasons};
use crate::enrich::whois::WhoisInfo;
use crate::headless::SourceReport;
use crate::net::Blockers;
use crate::parse::time::{format_rfc3339, rfc3339_bytes};
use crate::parse::{AuthKind, UnixTime};
use crate::store::HistoryFigures;
use crate::table::{IpTable, RecentRequest, Row, StrId};
use crate::view::groups::Group;

pub(crate) mod events;
mod json;

pub(crate) const SCHEMA_VERSION: u32 = 1;

/// One `{"type":"ip",…}` line.
#[derive(Serialize)]
pub(crate) struct IpObject<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    ip: IpAddr,
    conns: u32,
    conns_out: u32,
    states: States<'a>,
    services: Services<'a>,
    requests: u64,
    bytes: u64,
    status: StatusClasses<'a>,
    rpm: u32,
    peak_rpm: u32,
    auth_failures: u64,
    auth_accepted: u32,
    country: Option<&'a str>,
    city: Option<&'a str>,
    asn: Option<u32>,
    /// GeoIP's ASN organisation, else whois's organisation or network name.
    org: Option<&'a str>,
    whois: Option<Whois<'a>>,
    suspicious: bool,
    reasons: ReasonCodes,
    /// Seconds since each reason's last evidence (null for the socket
    /// reasons); an addition to schema 1.
    reason_ages: ReasonAgeMap,
    last_request: Option<LastRequest<'a>>,
    first_seen: Rfc3339,
    last_seen: Rfc3339,
    history: Option<History>,
    /// Already blocked, and by what (`null`: not blocked, or not known); an
    /// addition to schema 1.
    blocked: Option<Blocked>,
}

impl<'a> IpObject<'a> {
    /// The object of `row`; `end` closes the rate window, `reasons` are the
    /// detector's with their ages, `history` the row's lifetime figures
    /// (`None`: history off or no record).
    pub(crate) fn new(
        table: &'a IpTable,
        row: &'a Row,
        end: UnixTime,
        reasons: ReasonAges,
        history: Option<HistoryFigures>,
    ) -> IpObject<'a> {
        let (ages, reasons) = (reasons, reasons.reasons());
        let sockets = row.sockets();
        let geo = row.geo.as_deref();
        IpObject {
            kind: "ip",
            ip: row.ip,
            conns: sockets.conns_in,
            conns_out: sockets.conns_out,
            states: States(row),
            services: Services(row),
            requests: row.requests,
            bytes: row.bytes,
            status: StatusClasses(&row.status),
            rpm: row.rate.per_minute(end),
            peak_rpm: row.rate.peak(),
            auth_failures: row.auth_failures(),
            auth_accepted: row.auth_count(AuthKind::Accepted),
            country: geo.and_then(|g| g.country.as_deref()),
            city: geo.and_then(|g| g.city.as_deref()),
            asn: geo.and_then(|g| g.asn),
            org: row.org(),
            whois: row.whois.as_deref().map(Whois::from),
            suspicious: !reasons.is_empty(),
            reasons: ReasonCodes(reasons),
            reason_ages: ReasonAgeMap(ages),
            last_request: row.recent.back().map(|r| LastRequest::new(table, r)),
            first_seen: Rfc3339(row.first_seen()),
            last_seen: Rfc3339(row.last_seen()),
            history: history.map(History::from),
            blocked: table.blocked(row).map(|m| Blocked {
                by: BlockedBy(m.by),
                scope: m.scope.to_string(),
                since: m.since.map(Rfc3339),
            }),
        }
    }
}

/// `{"by":["nft","fail2ban"],"scope":"203.0.113.0/24","since":null}`: who
/// blocks the address, the widest blocked network holding it, and since
/// when (where a tool says: fail2ban, CrowdSec).
#[derive(Serialize)]
struct Blocked {
    by: BlockedBy,
    scope: String,
    since: Option<Rfc3339>,
}

/// `["nft","fail2ban"]`.
struct BlockedBy(Blockers);

impl Serialize for BlockedBy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|b| b.name()))
    }
}

/// `{"ESTABLISHED":2,…}`: socket counts by state, in the table's order.
struct States<'a>(&'a Row);

impl Serialize for States<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (name, n) in self.0.sockets().states() {
            map.serialize_entry(name, &n)?;
        }
        map.end()
    }
}

/// `["https","ssh"]`.
struct Services<'a>(&'a Row);

impl Serialize for Services<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(services(self.0))
    }
}

impl Serialize for Service {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One `{"type":"group",…}` line (`--group-by`; an addition to schema 1):
/// a network, ASN or country and its members' sums.
#[derive(Serialize)]
pub(crate) struct GroupObject {
    #[serde(rename = "type")]
    kind: &'static str,
    /// `net`, `asn` or `country`.
    #[serde(rename = "kind")]
    group_kind: &'static str,
    /// `203.0.113.0/24`, `AS64500`, `DE`, or `unknown`.
    key: String,
    members: u32,
    suspicious_members: u32,
    conns: u64,
    syn_recv: u64,
    requests: u64,
    bytes: u64,
    rpm: u64,
    auth_failures: u64,
    suspicious: bool,
    reasons: ReasonCodes,
}

impl GroupObject {
    pub(crate) fn new(g: &Group) -> GroupObject {
        GroupObject {
            kind: "group",
            group_kind: g.key.kind(),
            key: g.key.to_string(),
            members: g.members,
            suspicious_members: g.suspicious_members,
            conns: g.conns,
            syn_recv: g.load.syn_recv,
            requests: g.requests,
            bytes: g.bytes,
            rpm: g.load.rpm,
            auth_failures: g.auth_failures,
            suspicious: g.is_suspicious(),
            reasons: ReasonCodes(g.reasons),
        }
    }
}

/// `{"2xx":3,"4xx":1}`: the status classes that occurred.
struct StatusClasses<'a>(&'a [u32; 6]);

impl Serialize for StatusClasses<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const CLASSES: [&str; 6] = ["other", "1xx", "2xx", "3xx", "4xx", "5xx"];
        let mut map = s.serialize_map(None)?;
        for (class, n) in CLASSES.iter().zip(self.0).filter(|(_, &n)| n > 0) {
            map.serialize_entry(class, n)?;
        }
        map.end()
    }
}

/// `["burst","scanner_ua"]`.
struct ReasonCodes(Reasons);

impl Serialize for ReasonCodes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|r| r.code()))
    }
}

/// `{"burst":12,"syn_recv":null}`: seconds since each reason's last
/// evidence.
struct ReasonAgeMap(ReasonAges);

impl Serialize for ReasonAgeMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(r, age)| (r.code(), age)))
    }
}

/// A Unix time as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) struct Rfc3339(pub(crate) UnixTime);

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match rfc3339_bytes(self.0) {
            // ASCII digits and punctuation only.
            Some(text) => s.serialize_str(std::str::from_utf8(&text).unwrap_or_default()),
            None => s.serialize_str(&format_rfc3339(self.0)),
        }
    }
}

/// Bytes from outside as a JSON string: invalid UTF-8 becomes U+FFFD.
struct Text<'a>(&'a [u8]);

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // `from_utf8` checks a word at a time; the lossy conversion, which
        // gives the same text for valid UTF-8, only where it is not.
        match std::str::from_utf8(self.0) {
            Ok(text) => s.serialize_str(text),
            Err(_) => s.serialize_str(&String::from_utf8_lossy(self.0)),
        }
    }
}

/// An interned request field, or `None` (null) when the string store
/// dropped it (full of newer strings): unknown, not the text `…`.
fn interned(table: &IpTable, id: StrId) -> Option<Text<'_>> {
    (id != StrId::DROPPED).then(|| Text(table.text(id)))
}

/// `"whois":{"network","cidr","org","country","abuse"}`.
#[derive(Serialize)]
struct Whois<'a> {
    network: Option<&'a str>,
    cidr: Option<&'a str>,
    org: Option<&'a str>,
    country: Option<&'a str>,
    abuse: Option<&'a str>,
}

impl<'a> From<&'a WhoisInfo> for Whois<'a> {
    fn from(w: &'a WhoisInfo) -> Whois<'a> {
        Whois {
            network: w.network.as_deref(),
            cidr: w.cidr.as_deref(),
            org: w.org.as_deref(),
            country: w.country.as_deref(),
            abuse: w.abuse.as_deref(),
        }
    }
}

/// `"last_request":{"time","method","path","status","bytes","user_agent"}`.
#[derive(Serialize)]
struct LastRequest<'a> {
    time: Rfc3339,
    method: Option<Text<'a>>,
    path: Option<Text<'a>>,
    status: u16,
    bytes: u32,
    user_agent: Option<Text<'a>>,
}

impl<'a> LastRequest<'a> {
    fn new(table: &'a IpTable, r: &RecentRequest) -> LastRequest<'a> {
        LastRequest {
            time: Rfc3339(i64::from(r.time)),
            method: interned(table, r.method),
            path: interned(table, r.path),
            status: r.status,
            bytes: r.bytes,
            user_agent: interned(table, r.user_agent),
        }
    }
}

/// `"history":{…}`: the lifetime record.
#[derive(Serialize)]
struct History {
    sessions: u64,
    first_seen: Rfc3339,
    requests: u64,
    bytes: u64,
    auth_failures: u64,
    suspicious_sessions: u64,
}

impl From<HistoryFigures> for History {
    fn from(h: HistoryFigures) -> History {
        History {
            sessions: h.sessions,
            first_seen: Rfc3339(h.first_seen),
            requests: h.requests,
            bytes: h.bytes,
            auth_failures: h.auth_failures,
            suspicious_sessions: h.suspicious_sessions,
        }
    }
}

/// The last line, `{"type":"summary",…}`.
#[derive(Serialize)]
pub(crate) struct Summary<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) schema_version: u32,
    pub(crate) ips: usize,
    pub(crate) evicted: u64,
    pub(crate) connections: u64,
    pub(crate) requests: u64,
    pub(crate) bytes: u64,
    pub(crate) auth_failures: u64,
    /// Access-log lines and malformed ones (sshd and socket sources apart).
    pub(crate) lines: u64,
    pub(crate) malformed: u64,
    /// sshd lines, from files or journald (added with issue 12 item 18).
    pub(crate) auth_lines: u64,
    pub(crate) req_per_sec: Rate,
    pub(crate) new_conns_per_sec: Rate,
    pub(crate) started: Rfc3339,
    pub(crate) ended: Rfc3339,
    /// Whether this run's session was written to history (null: history off).
    pub(crate) history_saved: Option<bool>,
    pub(crate) vnstat: VnstatMonth<'a>,
    pub(crate) sources: Sources<'a>,
}

/// `{"interface":"eth0","month":"2026-12","rx":…,"tx":…,"note":null}`:
/// this month's bytes received and sent as vnstat counts them; `month`,
/// `rx`, `tx` are null and `note` says why when there are none
/// (`not installed`, `no database for the interface`, …).
#[derive(Serialize)]
pub(crate) struct VnstatMonth<'a> {
    interface: &'a str,
    month: Option<String>,
    rx: Option<u64>,
    tx: Option<u64>,
    note: Option<&'a str>,
}

impl<'a> VnstatMonth<'a> {
    pub(crate) fn new(vnstat: &'a crate::source::vnstat::Vnstat) -> VnstatMonth<'a> {
        let status = vnstat.status();
        let month = status.month();
        VnstatMonth {
            interface: vnstat.iface(),
            month: month.map(|m| format!("{:04}-{:02}", m.year, m.month)),
            rx: month.map(|m| m.rx),
            tx: month.map(|m| m.tx),
            note: status.note(),
        }
    }
}

/// A rate rounded to two decimals.
pub(crate) struct Rate(pub(crate) f64);

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(round2(self.0))
    }
}

/// `"sources":[{"path","kind","format","lines","malformed","error"(,"note")}]`.
pub(crate) struct Sources<'a>(pub(crate) &'a [SourceReport]);

impl Serialize for Sources<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(Source::from))
    }
}

#[derive(Serialize)]
struct Source<'a> {
    path: &'a str,
    kind: &'a str,
    format: &'a str,
    lines: u64,
    malformed: u64,
    error: Option<&'a str>,
    /// Only where there is one, so the other sources keep the schema's shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

impl<'a> From<&'a SourceReport> for Source<'a> {
    fn from(s: &'a SourceReport) -> Source<'a> {
        Source {
            path: &s.path,
            kind: s.kind,
            format: &s.format,
            lines: s.lines,
            malformed: s.malformed,
            error: s.error.as_deref(),
            note: s.note.as_deref(),
        }
    }
}

/// Every row's `ip` line, as `--once --json` writes them (history off),
/// appended to `out`: the JSON snapshot's cost, for benches/json.rs.
#[doc(hidden)]
pub fn write_ip_lines(
    out: &mut Vec<u8>,
    table: &IpTable,
    detector: &crate::detect::Detector,
    end: UnixTime,
) -> io::Result<()> {
    let mut line = Vec::with_capacity(512);
    for row in table.rows() {
        let object = IpObject::new(table, row, end, detector.reason_ages(row), None);
        write_line(&mut line, &object)?;
        out.extend_from_slice(&line);
    }
    Ok(())
}

/// Writes `value` and a newline into `line` (cleared first), as the
/// contract spells JSON (see the module doc and [`json`]).
pub(crate) fn write_line(line: &mut Vec<u8>, value: &impl Serialize) -> io::Result<()> {
    line.clear();
    json::write(line, value).map_err(io::Error::other)?;
    line.push(b'\n');
    Ok(())
}

#[cfg(test)]
mod tests;
