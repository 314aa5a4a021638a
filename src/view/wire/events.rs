//! The `--events` wire types: one JSON object per line, each beginning
//! `{"schema_version":1,"type":…,"time":…,"host":…` and, for an event about
//! one address, `"ip":…` next (a contract: fail2ban filters match on it),
//! then the type's own fields. Written with [`write_line`](super::write_line),
//! so strings are escaped as the `--json` objects' are.

use std::net::IpAddr;

use serde::Serialize;

use super::{ReasonCodes, Rfc3339, SCHEMA_VERSION};
use crate::detect::Reasons;
use crate::parse::UnixTime;
use crate::table::Row;

/// What every line begins with; the address comes next where there is one.
pub(crate) struct Header<'a> {
    pub(crate) time: UnixTime,
    pub(crate) host: &'a str,
}

impl<'a> Header<'a> {
    fn prefix(&self, kind: &'static str) -> Prefix<'a> {
        Prefix {
            schema_version: SCHEMA_VERSION,
            kind,
            time: Rfc3339(self.time),
            host: self.host,
        }
    }
}

/// The fields every line begins with, in this order (flattened first into
/// each type, so the order holds).
#[derive(Serialize)]
struct Prefix<'a> {
    schema_version: u32,
    #[serde(rename = "type")]
    kind: &'static str,
    time: Rfc3339,
    host: &'a str,
}

/// The counts and place an address event carries: requests, sshd failures,
/// inbound connections, half-open sockets, country and organisation (null
/// when unknown).
#[derive(Serialize)]
pub(crate) struct Counts<'a> {
    requests: u64,
    auth_failures: u64,
    connections: u32,
    syn_recv: u32,
    country: Option<&'a str>,
    org: Option<&'a str>,
}

impl<'a> Counts<'a> {
    pub(crate) fn of(row: &'a Row) -> Counts<'a> {
        let sockets = row.sockets();
        Counts {
            requests: row.requests,
            auth_failures: row.auth_failures(),
            connections: sockets.conns_in,
            syn_recv: sockets.syn_recv_in(),
            country: row.geo.as_deref().and_then(|g| g.country.as_deref()),
            org: row.org(),
        }
    }
}

/// `suspicious`: an address became suspicious or gained a reason.
#[derive(Serialize)]
pub(crate) struct Suspicious<'a> {
    #[serde(flatten)]
    prefix: Prefix<'a>,
    ip: IpAddr,
    /// Every reason it has now.
    reasons: ReasonCodes,
    /// The ones this line announces.
    new_reasons: ReasonCodes,
    #[serde(flatten)]
    counts: Counts<'a>,
}

impl<'a> Suspicious<'a> {
    pub(crate) fn new(h: Header<'a>, row: &'a Row, reasons: Reasons, new: Reasons) -> Self {
        Suspicious {
            prefix: h.prefix("suspicious"),
            ip: row.ip,
            reasons: ReasonCodes(reasons),
            new_reasons: ReasonCodes(new),
            counts: Counts::of(row),
        }
    }
}

/// `cleared`: reasons of an address faded (`cleared_reasons`); `reasons`
/// is what it still has (empty: no longer suspicious).
#[derive(Serialize)]
pub(crate) struct Cleared<'a> {
    #[serde(flatten)]
    prefix: Prefix<'a>,
    ip: IpAddr,
    reasons: ReasonCodes,
    cleared_reasons: ReasonCodes,
}

impl<'a> Cleared<'a> {
    pub(crate) fn new(h: Header<'a>, ip: IpAddr, reasons: Reasons, cleared: Reasons) -> Self {
        Cleared {
            prefix: h.prefix("cleared"),
            ip,
            reasons: ReasonCodes(reasons),
            cleared_reasons: ReasonCodes(cleared),
        }
    }
}

/// `auth`: sshd accepted a login.
#[derive(Serialize)]
pub(crate) struct Auth<'a> {
    #[serde(flatten)]
    prefix: Prefix<'a>,
    ip: IpAddr,
    /// The user name as logged (escaped; invalid UTF-8 as U+FFFD).
    user: super::Text<'a>,
    /// Failed attempts from the address before it: this run's, or
    /// history's lifetime count when that is larger (history on, and this
    /// run saw fewer than make a breach).
    after_failures: u64,
    #[serde(flatten)]
    counts: Counts<'a>,
}

impl<'a> Auth<'a> {
    pub(crate) fn new(h: Header<'a>, row: &'a Row, user: &'a [u8], after_failures: u64) -> Self {
        Auth {
            prefix: h.prefix("auth"),
            ip: row.ip,
            user: super::Text(user),
            after_failures,
            counts: Counts::of(row),
        }
    }
}

/// `blocked`: a block command ran.
#[derive(Serialize)]
pub(crate) struct Blocked<'a> {
    #[serde(flatten)]
    prefix: Prefix<'a>,
    ip: IpAddr,
    /// What was blocked: the address, or its network (`203.0.113.0/24`).
    scope: String,
    /// The program (`nft`, `ufw`, `fail2ban-client`, …).
    tool: &'a str,
    /// `ok`, `refused` (the probe found the tool off: nothing ran) or
    /// `failed`.
    result: &'static str,
    /// Why it did not work (null when it did).
    error: Option<&'a str>,
}

impl<'a> Blocked<'a> {
    pub(crate) fn new(h: Header<'a>, ip: IpAddr, scope: String, tool: &'a str) -> Self {
        Blocked {
            prefix: h.prefix("blocked"),
            ip,
            scope,
            tool,
            result: "ok",
            error: None,
        }
    }

    /// The run did not block: `refused` or `failed`, and why.
    pub(crate) fn not_done(mut self, result: &'static str, error: &'a str) -> Self {
        self.result = result;
        self.error = Some(error);
        self
    }
}

/// `source`: a source failed, or recovered.
#[derive(Serialize)]
pub(crate) struct Source<'a> {
    #[serde(flatten)]
    prefix: Prefix<'a>,
    /// The source's kind as the summary names it (`access`, `auth`,
    /// `sockets`, `history`, `whois`, …) and its path.
    source: &'a str,
    path: &'a str,
    /// `failed` or `recovered`.
    status: &'static str,
    /// The error (null on recovery).
    error: Option<&'a str>,
}

impl<'a> Source<'a> {
    pub(crate) fn new(
        h: Header<'a>,
        source: &'a str,
        path: &'a str,
        error: Option<&'a str>,
    ) -> Self {
        Source {
            prefix: h.prefix("source"),
            source,
            path,
            status: if error.is_some() {
                "failed"
            } else {
                "recovered"
            },
            error,
        }
    }
}
