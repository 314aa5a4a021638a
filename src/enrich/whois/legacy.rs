//! Legacy whois (RFC 3912, TCP port 43): the fallback when RDAP gives no answer.
//!
//! The first server is `[whois] whois_server` (IANA by default); `refer:` (IANA) and
//! `ReferralServer: whois://host[:port]` (ARIN) are followed at most
//! [`MAX_REFERRALS`] times, each server once. The whole chain shares the lookup's
//! deadline; every read also has its own timeout, and an answer is cut at
//! [`MAX_ANSWER`]. Runs on the worker thread only. Nothing from an answer is ever
//! passed to a shell: it is parsed into [`WhoisInfo`] strings, and a referral only
//! names where the next TCP connection goes.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::rdap::range_text;
use super::{clean, country_code, WhoisError, WhoisInfo};

/// Largest answer read from one server, in bytes; the rest is never read.
pub(crate) const MAX_ANSWER: usize = 256 << 10; // 256 KiB
/// Referrals followed per lookup.
pub(crate) const MAX_REFERRALS: usize = 3;
/// The whois port.
pub(crate) const PORT: u16 = 43;

/// A whois server: host name or address, and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Server {
    /// Name or address (an IPv6 address without brackets).
    pub(crate) host: String,
    /// TCP port, 43 unless given.
    pub(crate) port: u16,
}

impl Server {
    /// Parses `host`, `host:port`, `[v6]:port`, a bare IPv6 address, or any of these
    /// after `whois://` (ARIN's referral form) with an optional trailing `/`. Other
    /// schemes (`rwhois://`) and hosts with characters no host name has are refused.
    pub(crate) fn parse(s: &str) -> Option<Server> {
        let s = s.trim();
        let s = s.strip_prefix("whois://").unwrap_or(s);
        let s = s.strip_suffix('/').unwrap_or(s);
        if s.contains("://") || s.is_empty() {
            return None;
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest.split_once(']')?;
            match after {
                "" => (host, PORT),
                _ => (host, after.strip_prefix(':')?.parse().ok()?),
            }
        } else {
            match s.split_once(':') {
                Some((host, port)) if !port.contains(':') => (host, port.parse().ok()?),
                _ => (s, PORT), // no port, or a bare IPv6 address
            }
        };
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b));
        (host_ok && port != 0).then(|| Server {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// What to send for `ip`: ARIN wants `n + ADDR` (network records, full detail);
    /// the others take the bare address.
    fn query(&self, ip: IpAddr) -> String {
        if self.host == "whois.arin.net" {
            format!("n + {ip}\r\n")
        } else {
            format!("{ip}\r\n")
        }
    }
}

/// Where the chain may go: a referral to another host must use port 43, and while the
/// first server is public, only to public addresses (a hostile answer must not aim us
/// at the operator's own network). The same host may name any port.
struct Policy {
    read_timeout: Duration,
    deadline: Instant,
    local_ok: bool,
}

/// Asks `first` (then its referrals) about `ip` within `deadline`, each read waiting
/// at most `read_timeout`.
pub(crate) fn lookup(
    ip: IpAddr,
    first: &str,
    deadline: Instant,
    read_timeout: Duration,
) -> Result<WhoisInfo, WhoisError> {
    let ip = ip.to_canonical();
    let mut server = Server::parse(first)
        .ok_or_else(|| WhoisError::Transport(format!("bad whois server {first:?}")))?;
    let mut policy = Policy {
        read_timeout,
        deadline,
        local_ok: true,
    };
    let mut asked: Vec<Server> = Vec::new();
    // The deepest answer that carried data (not just a pointer), used when a
    // referral from it leads nowhere.
    let mut best: Option<WhoisInfo> = None;
    loop {
        let (answer, peer) = match ask(&server, ip, &policy) {
            Ok(got) => got,
            Err(e) => return best.ok_or(e),
        };
        if asked.is_empty() {
            // A first server on the operator's own network may refer inside it.
            policy.local_ok = !crate::net::is_public(peer.ip());
        }
        asked.push(server.clone());
        let text = String::from_utf8_lossy(&answer);
        let (info, referral) = parse_answer(&text);
        let pointer_only = referral.as_ref().is_some_and(|r| r.pointer_only);
        if !pointer_only && info.is_some() {
            best = info;
        }
        let next = referral
            .map(|r| r.server)
            .filter(|next| asked.len() <= MAX_REFERRALS && !asked.contains(next))
            .filter(|next| next.port == PORT || next.host == server.host);
        match next {
            Some(next) => server = next,
            None => {
                return best.ok_or_else(|| {
                    WhoisError::BadAnswer("no network in the whois answer".to_owned())
                })
            }
        }
    }
}

/// One query: connect, send, read until the server closes, the cap, or the deadline.
/// Returns the answer and the address it came from.
fn ask(server: &Server, ip: IpAddr, policy: &Policy) -> Result<(Vec<u8>, SocketAddr), WhoisError> {
    // Name resolution has no timeout of its own; it runs on the worker thread.
    let addrs = (server.host.as_str(), server.port)
        .to_socket_addrs()
        .map_err(|e| WhoisError::Transport(format!("{}: {e}", server.host)))?;
    let mut last = WhoisError::Transport(format!("{}: no usable address", server.host));
    for addr in addrs.filter(|a| policy.local_ok || crate::net::is_public(a.ip())) {
        match ask_at(addr, &server.query(ip), policy) {
            Ok(answer) => return Ok((answer, addr)),
            Err(WhoisError::Timeout) => return Err(WhoisError::Timeout),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn ask_at(addr: SocketAddr, query: &str, policy: &Policy) -> Result<Vec<u8>, WhoisError> {
    let wait = || {
        let left = policy.deadline.saturating_duration_since(Instant::now());
        (!left.is_zero())
            .then(|| left.min(policy.read_timeout))
            .ok_or(WhoisError::Timeout)
    };
    let io_err = |e: std::io::Error| {
        if Instant::now() >= policy.deadline {
            WhoisError::Timeout
        } else {
            WhoisError::Transport(e.to_string())
        }
    };
    let mut stream = TcpStream::connect_timeout(&addr, wait()?).map_err(io_err)?;
    stream.set_write_timeout(Some(wait()?)).map_err(io_err)?;
    stream.write_all(query.as_bytes()).map_err(io_err)?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 8192];
    while answer.len() < MAX_ANSWER {
        stream.set_read_timeout(Some(wait()?)).map_err(io_err)?;
        let n = match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(e)),
        };
        let room = MAX_ANSWER - answer.len();
        answer.extend_from_slice(&chunk[..n.min(room)]);
    }
    Ok(answer) // at the cap: the fields that matter come first; the rest is dropped
}

/// Where an answer points next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Referral {
    /// The server named.
    pub(crate) server: Server,
    /// `refer:` (IANA): the answer is only a pointer, its own fields describe the /8.
    pub(crate) pointer_only: bool,
}

/// Fields of a whois answer in the RIPE/APNIC/AFRINIC/LACNIC (`inetnum:`, `netname:`,
/// `descr:`, `country:`, `abuse-mailbox:`) or ARIN (`NetRange:`, `CIDR:`, `NetName:`,
/// `OrgName:`, `Country:`, `OrgAbuseEmail:`) style, and the referral if any. `None`
/// when it names no network. ARIN lists the less specific networks first: only the
/// last network record (from its `NetRange:`) is read.
pub(crate) fn parse_answer(text: &str) -> (Option<WhoisInfo>, Option<Referral>) {
    let lines: Vec<(String, &str)> = text.lines().filter_map(key_value).collect();
    let referral = referral(&lines);
    let start = lines
        .iter()
        .rposition(|(k, _)| k == "netrange")
        .unwrap_or(0);
    let lines = &lines[start..];
    let first = |keys: &[&str]| {
        keys.iter().find_map(|key| {
            lines
                .iter()
                .filter(|(k, _)| k == key)
                .find_map(|(_, v)| clean(v))
        })
    };
    let cidr = first(&["cidr"])
        .or_else(|| first(&["inetnum", "inet6num", "netrange"]).map(|r| range(&r)))
        .or_else(|| first(&["route", "route6"]));
    let info = WhoisInfo {
        network: first(&["netname"]),
        cidr,
        org: first(&["orgname", "org-name", "owner", "descr"]),
        country: lines
            .iter()
            .filter(|(k, _)| k == "country")
            // RIPE may append a remark: `country: EU # Country is really world wide`.
            .find_map(|(_, v)| country_code(v.split('#').next().unwrap_or(v))),
        abuse: first(&["abuse-mailbox", "orgabuseemail", "% abuse contact"]),
    };
    let named = info.network.is_some() || info.cidr.is_some();
    (named.then_some(info), referral)
}

/// `(lowercase key, value)` of a `key: value` line. Comments (`%`, `#`) are skipped,
/// except RIPE's `% Abuse contact for 'NET' is 'ADDR'`, returned as key
/// `% abuse contact`.
fn key_value(line: &str) -> Option<(String, &str)> {
    if let Some(rest) = line.strip_prefix("% Abuse contact for ") {
        let addr = rest.rsplit('\'').nth(1)?;
        return Some(("% abuse contact".to_owned(), addr));
    }
    if line.starts_with(['%', '#']) {
        return None;
    }
    let (key, value) = line.split_once(':')?;
    let key = key.trim();
    let plain = !key.is_empty() && key.len() <= 40 && !key.contains(char::is_whitespace);
    plain.then(|| (key.to_ascii_lowercase(), value.trim()))
}

/// `a - b` as one prefix when it is one; `a/n` as given.
fn range(value: &str) -> String {
    let parsed = value.split_once('-').and_then(|(a, b)| {
        let a: IpAddr = a.trim().parse().ok()?;
        let b: IpAddr = b.trim().parse().ok()?;
        Some(range_text(a, b))
    });
    parsed.unwrap_or_else(|| value.to_owned())
}

fn referral(lines: &[(String, &str)]) -> Option<Referral> {
    let find = |key: &str| lines.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
    if let Some(server) = find("refer").and_then(Server::parse) {
        return Some(Referral {
            server,
            pointer_only: true,
        });
    }
    let server = find("referralserver").and_then(Server::parse)?;
    Some(Referral {
        server,
        pointer_only: false,
    })
}

#[cfg(test)]
#[path = "legacy_tests.rs"]
mod tests;
