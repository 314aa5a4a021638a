//! What the firewalls and ban engines say is blocked, one pure parser per
//! tool's output: `nft -j list table inet nethergaze` (our own sets),
//! `iptables -S` / `ip6tables -S` (DROP/REJECT rules on a source, ufw's
//! chains among them), `fail2ban-client banned` and `get JAIL banip
//! --with-time`, `cscli decisions list -o json`.
//!
//! The text comes from programs run as root, but what it holds (jail
//! names, rule comments, CrowdSec reasons) can be anyone's: every parser
//! takes bytes, never panics, keeps at most [`MAX_ENTRIES`] networks, and
//! keeps nothing but parsed networks, tools and times.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Subnets, Ipv6Subnets};
use serde::Deserialize;

use super::time::parse_rfc3339;
use super::UnixTime;
pub use crate::net::Blocker;

/// Networks kept from one tool's answer: a CrowdSec with a few community
/// lists holds tens of thousands of decisions; past this the rest is
/// dropped (memory stays bounded whatever a tool prints).
pub const MAX_ENTRIES: usize = 200_000;

/// One blocked network and who blocks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockedNet {
    pub(crate) net: IpNet,
    pub(crate) by: Blocker,
    /// When the block began, where the tool says (fail2ban, CrowdSec).
    pub(crate) since: Option<UnixTime>,
}

/// Why an answer could not be read at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlocklistError {
    /// Not the JSON the tool writes.
    NotJson,
}

fn push(out: &mut Vec<BlockedNet>, net: IpNet, by: Blocker, since: Option<UnixTime>) {
    if out.len() < MAX_ENTRIES {
        out.push(BlockedNet {
            net: canonical(net),
            by,
            since,
        });
    }
}

/// `::ffff:1.2.3.4/120` is `1.2.3.4/24`, as rows' addresses are canonical.
fn canonical(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net {
        if let Some(v4) = v6.addr().to_ipv4_mapped() {
            if v6.prefix_len() >= 96 {
                if let Ok(n) = IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96) {
                    return n.trunc();
                }
            }
        }
    }
    net.trunc()
}

/// A network as tools write it: `a.b.c.d/len`, or a bare address.
fn parse_net(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

// ---------------------------------------------------------------------------
// nft

/// `nft -j list table inet TABLE`: every element of the table's address
/// sets (bare addresses, `prefix` and `range` elements; a range becomes
/// the few prefixes that cover it exactly).
pub fn nft_table(json: &[u8], out: &mut Vec<BlockedNet>) -> Result<(), BlocklistError> {
    let doc: serde_json::Value =
        serde_json::from_slice(json).map_err(|_| BlocklistError::NotJson)?;
    let items = doc
        .get("nftables")
        .and_then(|v| v.as_array())
        .ok_or(BlocklistError::NotJson)?;
    for set in items.iter().filter_map(|item| item.get("set")) {
        let is_addr = matches!(
            set.get("type").and_then(|t| t.as_str()),
            Some("ipv4_addr" | "ipv6_addr")
        );
        let Some(elems) = set.get("elem").and_then(|e| e.as_array()) else {
            continue;
        };
        if is_addr {
            for elem in elems {
                nft_elem(elem, out);
            }
        }
    }
    Ok(())
}

/// One set element: `"1.2.3.4"`, `{"prefix":{"addr":..,"len":..}}`,
/// `{"range":[a,b]}`, or one of those wrapped in `{"elem":{"val":..}}`
/// (sets with timeouts or counters).
fn nft_elem(elem: &serde_json::Value, out: &mut Vec<BlockedNet>) {
    let elem = elem.get("elem").and_then(|e| e.get("val")).unwrap_or(elem);
    if let Some(text) = elem.as_str() {
        if let Some(net) = parse_net(text) {
            push(out, net, Blocker::Nft, None);
        }
    } else if let Some(prefix) = elem.get("prefix") {
        let addr = prefix.get("addr").and_then(|a| a.as_str());
        let len = prefix.get("len").and_then(|l| l.as_u64());
        let net = addr
            .and_then(|a| a.parse::<IpAddr>().ok())
            .zip(len.and_then(|l| u8::try_from(l).ok()))
            .and_then(|(a, l)| IpNet::new(a, l).ok());
        if let Some(net) = net {
            push(out, net, Blocker::Nft, None);
        }
    } else if let Some([from, to]) = elem
        .get("range")
        .and_then(|r| r.as_array())
        .map(Vec::as_slice)
    {
        let ends = from
            .as_str()
            .and_then(|f| f.parse::<IpAddr>().ok())
            .zip(to.as_str().and_then(|t| t.parse::<IpAddr>().ok()));
        if let Some((from, to)) = ends {
            push_range(from, to, out);
        }
    }
}

/// The prefixes that cover `from..=to` exactly (at most 2 per bit).
fn push_range(from: IpAddr, to: IpAddr, out: &mut Vec<BlockedNet>) {
    match (from, to) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            for net in Ipv4Subnets::new(a, b, 0) {
                push(out, IpNet::V4(net), Blocker::Nft, None);
            }
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            for net in Ipv6Subnets::new(a, b, 0) {
                push(out, IpNet::V6(net), Blocker::Nft, None);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// iptables

/// `iptables -S` or `ip6tables -S` (the filter table): rules that drop or
/// reject a source network and match nothing else (a comment aside), in
/// any chain but the forward and output ones. A rule in a ufw chain is
/// ufw's; the others are `family`'s. `! -s` (everyone but) is not a block.
pub fn iptables_rules(text: &[u8], family: Blocker, out: &mut Vec<BlockedNet>) {
    let mut words = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        words.clear();
        split_words(line, &mut words);
        if let Some((chain, net)) = source_block(&words) {
            let lower = chain.to_ascii_lowercase();
            if lower.contains("forward") || lower.contains("output") {
                continue;
            }
            let by = if lower.starts_with("ufw") {
                Blocker::Ufw
            } else {
                family
            };
            push(out, net, by, None);
        }
    }
}

/// The chain and source of `-A CHAIN -s NET [-m comment --comment X] -j
/// DROP|REJECT [--reject-with W]`, in any order; `None` for anything else.
fn source_block<'a>(words: &[&'a str]) -> Option<(&'a str, IpNet)> {
    let (mut chain, mut source, mut verdict) = (None, None, false);
    let mut i = 0;
    while i < words.len() {
        let value = words.get(i + 1).copied();
        match (words[i], value) {
            ("-A", Some(c)) => chain = Some(c),
            ("-s", Some(s)) => source = Some(parse_net(s)?),
            ("-m", Some("comment")) | ("--comment", Some(_)) | ("--reject-with", Some(_)) => {}
            ("-j", Some("DROP" | "REJECT")) => verdict = true,
            _ => return None, // `!`, another match, another target
        }
        i += 2;
    }
    verdict.then_some(())?;
    Some((chain?, source?))
}

/// The words of one `iptables -S` line: spaces separate, `"..."` quotes
/// (with `\"` and `\\` inside), as iptables writes comments.
fn split_words<'a>(line: &'a str, words: &mut Vec<&'a str>) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        if bytes[i] == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(bytes.len());
        } else {
            while i < bytes.len() && bytes[i] != b' ' {
                i += 1;
            }
        }
        // A quoted word is only ever a comment: its content is not needed.
        words.push(line.get(start..i).unwrap_or(""));
    }
}

// ---------------------------------------------------------------------------
// fail2ban

/// `fail2ban-client banned`: Python's repr of a list of `{jail: [addresses]}`,
/// `[{'sshd': ['203.0.113.9', '2001:db8::7']}, {'web': []}]`. Every quoted
/// word that is an address is banned; the jail names (followed by `:`) and
/// anything else are not.
pub fn fail2ban_banned(text: &[u8], out: &mut Vec<BlockedNet>) {
    let mut rest = text;
    while let Some(open) = rest.iter().position(|&b| b == b'\'' || b == b'"') {
        let quote = rest[open];
        let after = &rest[open + 1..];
        let Some(len) = after.iter().position(|&b| b == quote) else {
            return;
        };
        let word = &after[..len];
        rest = &after[len + 1..];
        let is_key = rest.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b':');
        if is_key {
            continue;
        }
        let addr = std::str::from_utf8(word)
            .ok()
            .and_then(|w| w.parse::<IpAddr>().ok());
        if let Some(addr) = addr {
            push(out, IpNet::from(addr), Blocker::Fail2ban, None);
        }
    }
}

/// Jails asked for their ban times at most (one `get JAIL banip
/// --with-time` each).
pub const MAX_JAILS: usize = 16;

/// The jails with bans in a `fail2ban-client banned` answer, to ask for
/// their ban times: names of letters, digits and `-_.@:` only (a jail is a
/// section of fail2ban's config; nothing else is asked about).
pub fn fail2ban_jails(text: &[u8]) -> Vec<String> {
    let mut jails = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.iter().position(|&b| b == b'\'' || b == b'"') {
        let quote = rest[open];
        let after = &rest[open + 1..];
        let Some(len) = after.iter().position(|&b| b == quote) else {
            break;
        };
        let word = &after[..len];
        rest = &after[len + 1..];
        // `'jail': [` with something other than `]` next: it has bans.
        let is_key = trim_ws(rest).first() == Some(&b':');
        let list = trim_ws(trim_ws(rest).get(1..).unwrap_or_default());
        let has_bans =
            list.first() == Some(&b'[') && trim_ws(&list[1..]).first().is_some_and(|&b| b != b']');
        let plain = !word.is_empty()
            && word.len() <= 64
            && word
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b"-_.@:".contains(&b));
        if is_key && has_bans && plain && jails.len() < MAX_JAILS {
            jails.push(String::from_utf8_lossy(word).into_owned());
        }
    }
    jails
}

fn trim_ws(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[start..]
}

/// `fail2ban-client get JAIL banip --with-time`: one ban a line,
/// `203.0.113.9 \t2026-12-07 04:59:37 + 600 = 2026-12-07 05:09:37`, the
/// start in the server's local time; `local` turns it into Unix time.
/// Sets the start of the matching single-address bans in `out`.
pub fn fail2ban_ban_times(
    text: &[u8],
    local: impl Fn(i64, u32, u32, u32, u32, u32) -> Option<UnixTime>,
    out: &mut [BlockedNet],
) {
    for line in text.split(|&b| b == b'\n') {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        let mut words = line.trim().splitn(2, char::is_whitespace);
        let (Some(addr), Some(rest)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(addr) = addr.parse::<IpAddr>() else {
            continue;
        };
        let Some(start) = local_time(rest.trim_start().as_bytes(), &local) else {
            continue;
        };
        let net = canonical(IpNet::from(addr));
        for b in out
            .iter_mut()
            .filter(|b| b.net == net && b.by == Blocker::Fail2ban)
        {
            b.since = Some(b.since.map_or(start, |s| s.min(start)));
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS` at the start of `b`, as local time.
fn local_time(
    b: &[u8],
    local: &impl Fn(i64, u32, u32, u32, u32, u32) -> Option<UnixTime>,
) -> Option<UnixTime> {
    use super::time::digits;
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
    let (h, mi, s) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    local(i64::from(y), mo, d, h, mi, s)
}

// ---------------------------------------------------------------------------
// CrowdSec

#[derive(Deserialize)]
struct Alert {
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    decisions: Option<Vec<Decision>>,
}

#[derive(Deserialize)]
struct Decision {
    #[serde(default)]
    value: String,
    #[serde(default)]
    scope: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    simulated: bool,
}

/// `cscli decisions list -o json`: `null` (none) or alerts, each with its
/// decisions. A `ban` on an `Ip` or a `Range` is a block (a `captcha` is
/// not; nor is a simulated one); since the alert's `created_at`.
pub fn cscli_decisions(json: &[u8], out: &mut Vec<BlockedNet>) -> Result<(), BlocklistError> {
    let alerts: Option<Vec<Alert>> =
        serde_json::from_slice(json).map_err(|_| BlocklistError::NotJson)?;
    for alert in alerts.into_iter().flatten() {
        let since = alert
            .created_at
            .as_deref()
            .and_then(|t| parse_rfc3339(t.as_bytes()));
        for d in alert.decisions.into_iter().flatten() {
            let scoped =
                d.scope.eq_ignore_ascii_case("ip") || d.scope.eq_ignore_ascii_case("range");
            if !scoped || d.kind != "ban" || d.simulated {
                continue;
            }
            if let Some(net) = parse_net(&d.value) {
                push(out, net, Blocker::Crowdsec, since);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
