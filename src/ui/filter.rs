//! The structured filter (`f`): what the modal's text fields mean, parsed once
//! into a [`FilterSpec`] that both panels test rows and log lines against.
//!
//! Every part the operator fills in must match (they compose with AND); an
//! empty field is no constraint. Parsing never panics: a bad token becomes a
//! [`FilterError`] naming the field and the token, for the modal to show
//! inline. The config's `[filters] cidr_allow` / `cidr_deny` are always part
//! of the spec, as their own constraints beside the typed ones.

use std::fmt;
use std::io::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::config::{parse_cidr, FilterConfig};
use crate::parse::sockets::TcpState;
use crate::parse::UnixTime;
use crate::table::{IpTable, Row};

/// Longest token quoted back in an error (bytes, cut on a char boundary).
const ERROR_TOKEN_MAX: usize = 40;
/// Status classes 1xx..=5xx; index 0 of `Row::status` is "other".
const CLASSES: usize = 6;

/// The raw text of the modal's fields, as typed.
#[derive(Debug, Clone, Copy, Default)]
pub struct FilterFields<'a> {
    /// `SYN_RECV,ESTABLISHED` (case-insensitive; `-` reads as `_`, as `ss` prints).
    pub states: &'a str,
    /// `4xx,5xx`, `400-499`, `404`, or a mixed list.
    pub status: &'a str,
    /// Minimum requests per minute, a non-negative number.
    pub min_rpm: &'a str,
    /// Networks or bare addresses, separated by `,` or spaces.
    pub cidr_allow: &'a str,
    pub cidr_deny: &'a str,
    /// Substring of IP, organisation, path or user agent (ASCII case-insensitive).
    pub text: &'a str,
    /// `yes` (already blocked by a firewall or ban engine), `no`, or `any`/empty.
    pub blocked: &'a str,
}

/// Which field an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FilterField {
    States,
    Status,
    MinRpm,
    CidrAllow,
    CidrDeny,
    Text,
    Blocked,
}

impl FilterField {
    /// The field's label in the modal.
    pub(crate) fn label(self) -> &'static str {
        match self {
            FilterField::States => "TCP states",
            FilterField::Status => "status codes",
            FilterField::MinRpm => "min req/min",
            FilterField::CidrAllow => "CIDR allow",
            FilterField::CidrDeny => "CIDR deny",
            FilterField::Text => "text",
            FilterField::Blocked => "blocked",
        }
    }
}

/// What was wrong with the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FilterErrorKind {
    UnknownState,
    BadStatus,
    ReversedRange,
    BadNumber,
    BadCidr,
    BadChoice,
}

/// One bad token in one field. `token` is user text: sanitise it when drawing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub(crate) field: FilterField,
    pub(crate) kind: FilterErrorKind,
    pub(crate) token: String,
}

impl FilterError {
    fn new(field: FilterField, kind: FilterErrorKind, token: &str) -> FilterError {
        let mut end = token.len().min(ERROR_TOKEN_MAX);
        while !token.is_char_boundary(end) {
            end -= 1;
        }
        let cut = if end < token.len() { "…" } else { "" };
        FilterError {
            field,
            kind,
            token: format!("{}{cut}", &token[..end]),
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, hint) = match self.kind {
            FilterErrorKind::UnknownState => ("unknown TCP state", "e.g. SYN_RECV,ESTABLISHED"),
            FilterErrorKind::BadStatus => ("not a status code", "e.g. 4xx, 400-499 or 404"),
            FilterErrorKind::ReversedRange => ("range ends before it starts", "e.g. 400-499"),
            FilterErrorKind::BadNumber => ("not a number ≥ 0", "e.g. 60"),
            FilterErrorKind::BadCidr => ("not a network or address", "e.g. 203.0.113.0/24"),
            FilterErrorKind::BadChoice => ("not yes, no or any", "e.g. yes"),
        };
        write!(
            f,
            "{}: {what} `{}` ({hint})",
            self.field.label(),
            self.token
        )
    }
}

impl std::error::Error for FilterError {}

/// A parsed filter. `Default` is the empty filter (matches everything).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilterSpec {
    /// Bit `TcpState::index()` set for each wanted state; 0 = any.
    states: u16,
    /// Inclusive status ranges; empty = any.
    status: Vec<(u16, u16)>,
    /// Classes 1..=5 whose every code is inside `status` (exact via counters).
    full_classes: [bool; CLASSES],
    min_rpm: Option<f64>,
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
    /// From the config: separate constraints, so typing an allow list can
    /// narrow what the config shows but never widen it.
    config_allow: Vec<IpNet>,
    config_deny: Vec<IpNet>,
    /// ASCII-lowercased, trimmed; empty = any.
    text: Vec<u8>,
    /// Already blocked (`Some(true)`), not (`Some(false)`), or either.
    blocked: Option<bool>,
}

/// One activity-log line, as `matches_event` sees it.
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    pub ip: IpAddr,
    /// `None` for sshd events: they never pass a status filter.
    pub status: Option<u16>,
    pub path: &'a [u8],
    pub user_agent: &'a [u8],
    pub org: Option<&'a [u8]>,
}

impl FilterSpec {
    /// Only the config's CIDR lists.
    pub(crate) fn from_config(config: &FilterConfig) -> FilterSpec {
        FilterSpec {
            config_allow: config.cidr_allow.clone(),
            config_deny: config.cidr_deny.clone(),
            ..FilterSpec::default()
        }
    }

    /// Parse every field; all bad fields are reported (the first bad token of each).
    pub fn parse(
        fields: &FilterFields<'_>,
        config: &FilterConfig,
    ) -> Result<FilterSpec, Vec<FilterError>> {
        let mut spec = FilterSpec::from_config(config);
        let mut errors = Vec::new();
        let mut keep = |r: Result<(), FilterError>| {
            if let Err(e) = r {
                errors.push(e);
            }
        };
        keep(parse_states(fields.states).map(|s| spec.states = s));
        keep(parse_status(fields.status).map(|s| spec.status = s));
        keep(parse_min_rpm(fields.min_rpm).map(|m| spec.min_rpm = m));
        keep(parse_nets(fields.cidr_allow, FilterField::CidrAllow).map(|n| spec.allow = n));
        keep(parse_nets(fields.cidr_deny, FilterField::CidrDeny).map(|n| spec.deny = n));
        keep(parse_blocked(fields.blocked).map(|b| spec.blocked = b));
        spec.text = fields.text.trim().as_bytes().to_ascii_lowercase();
        spec.full_classes = full_classes(&spec.status);
        if errors.is_empty() {
            Ok(spec)
        } else {
            Err(errors)
        }
    }

    /// Whether the operator set any part (the config lists do not count).
    pub(crate) fn is_active(&self) -> bool {
        self.states != 0
            || !self.status.is_empty()
            || self.min_rpm.is_some()
            || !self.allow.is_empty()
            || !self.deny.is_empty()
            || !self.text.is_empty()
            || self.blocked.is_some()
    }

    /// Whether a row passes every part.
    ///
    /// Status codes: a class fully covered by the spec (`4xx`, `400-499`)
    /// is tested on the row's per-class counters, which count every request
    /// of the session. Exact codes and partial ranges (`404`, `401-403`) can
    /// only be tested on the row's last `RECENT_REQUESTS` requests: a row
    /// whose 404s are older than that does not match. `org` is the whois or
    /// GeoIP organisation when known.
    pub(crate) fn matches(
        &self,
        row: &Row,
        table: &IpTable,
        org: Option<&[u8]>,
        window_end: UnixTime,
    ) -> bool {
        self.ip_passes(row.ip)
            && self.row_parts_pass(row, window_end)
            && self.row_status_passes(row)
            && (self.text.is_empty() || self.row_text_matches(row, table, org))
    }

    /// Whether an activity-log line passes: address lists, status and text
    /// test the line itself; TCP states and req/min test its address's row
    /// (`row`, looked up by the caller), so both panels show the same IPs.
    /// A line whose row is gone fails a state or req/min filter.
    pub fn matches_event(
        &self,
        event: &EventView<'_>,
        row: Option<&Row>,
        window_end: UnixTime,
    ) -> bool {
        let row_ok = || match row {
            Some(row) => self.row_parts_pass(row, window_end),
            None => self.states == 0 && self.min_rpm.is_none() && self.blocked.is_none(),
        };
        let status_ok = self.status.is_empty() || event.status.is_some_and(|s| self.status_in(s));
        let text_ok = self.text.is_empty()
            || self.ip_text_matches(event.ip)
            || [Some(event.path), Some(event.user_agent), event.org]
                .into_iter()
                .flatten()
                .any(|h| contains_ci(h, &self.text));
        self.ip_passes(event.ip) && status_ok && text_ok && row_ok()
    }

    /// A short summary for the header's filter marker, e.g.
    /// `state:SYN_RECV status:4xx,404 rpm≥60 allow:1 "wp-"`.
    /// Holds typed text: sanitise it when drawing.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.states != 0 {
            let names = state_names(self.states);
            parts.push(format!("state:{}", names.join(",")));
        }
        if !self.status.is_empty() {
            let codes: Vec<String> = self.status.iter().map(|&r| describe_range(r)).collect();
            parts.push(format!("status:{}", codes.join(",")));
        }
        if let Some(m) = self.min_rpm {
            parts.push(format!("rpm≥{m}"));
        }
        if !self.allow.is_empty() {
            parts.push(format!("allow:{}", self.allow.len()));
        }
        if !self.deny.is_empty() {
            parts.push(format!("deny:{}", self.deny.len()));
        }
        if !self.text.is_empty() {
            parts.push(format!("\"{}\"", String::from_utf8_lossy(&self.text)));
        }
        match self.blocked {
            Some(true) => parts.push("blocked".to_string()),
            Some(false) => parts.push("not-blocked".to_string()),
            None => {}
        }
        parts.join(" ")
    }

    fn ip_passes(&self, ip: IpAddr) -> bool {
        let inside = |nets: &[IpNet]| nets.iter().any(|n| n.contains(&ip));
        (self.allow.is_empty() || inside(&self.allow))
            && (self.config_allow.is_empty() || inside(&self.config_allow))
            && !inside(&self.deny)
            && !inside(&self.config_deny)
    }

    /// TCP states, req/min and blocked: properties of the address, not of
    /// one line.
    fn row_parts_pass(&self, row: &Row, window_end: UnixTime) -> bool {
        if self.blocked.is_some_and(|want| row.is_blocked() != want) {
            return false;
        }
        let states_ok = self.states == 0
            || (0..TcpState::COUNT).any(|i| {
                self.states & (1 << i) != 0
                    && (row.sockets().in_states[i] > 0 || row.sockets().out_states[i] > 0)
            });
        let rpm_ok = self
            .min_rpm
            .is_none_or(|m| f64::from(row.rate.per_minute(window_end)) >= m);
        states_ok && rpm_ok
    }

    fn row_status_passes(&self, row: &Row) -> bool {
        if self.status.is_empty() {
            return true;
        }
        let by_class = (1..CLASSES).any(|c| self.full_classes[c] && row.status[c] > 0);
        by_class || row.recent.iter().any(|r| self.status_in(r.status))
    }

    fn status_in(&self, status: u16) -> bool {
        self.status
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&status))
    }

    fn row_text_matches(&self, row: &Row, table: &IpTable, org: Option<&[u8]>) -> bool {
        self.ip_text_matches(row.ip)
            || org.is_some_and(|o| contains_ci(o, &self.text))
            || row.recent.iter().any(|r| {
                contains_ci(table.text(r.path), &self.text)
                    || contains_ci(table.text(r.user_agent), &self.text)
            })
    }

    /// The address as shown, formatted on the stack (no allocation per row).
    fn ip_text_matches(&self, ip: IpAddr) -> bool {
        let mut buf = [0u8; 48]; // longest IPv6 text is 45 bytes
        let mut w = &mut buf[..];
        if write!(w, "{ip}").is_err() {
            return false;
        }
        let len = 48 - w.len();
        contains_ci(&buf[..len], &self.text)
    }
}

/// Whether `hay` contains `needle` ignoring ASCII case; `needle` must be
/// lowercase already. Bytes outside ASCII compare exactly.
pub(crate) fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else {
        return true;
    };
    if hay.len() < needle.len() {
        return false;
    }
    let last_start = hay.len() - needle.len();
    let (lo, up) = (first, first.to_ascii_uppercase());
    let mut from = 0;
    while let Some(i) = memchr::memchr2(lo, up, &hay[from..=last_start]) {
        let at = from + i;
        if hay[at..at + needle.len()].eq_ignore_ascii_case(needle) {
            return true;
        }
        from = at + 1;
        if from > last_start {
            break;
        }
    }
    false
}

/// Comma-separated tokens, trimmed, empty ones skipped.
fn tokens(field: &str) -> impl Iterator<Item = &str> {
    field.split(',').map(str::trim).filter(|t| !t.is_empty())
}

/// `yes`, `no`, `any` or empty (either), case-insensitive.
fn parse_blocked(text: &str) -> Result<Option<bool>, FilterError> {
    let t = text.trim();
    match t.to_ascii_lowercase().as_str() {
        "" | "any" => Ok(None),
        "yes" | "y" => Ok(Some(true)),
        "no" | "n" => Ok(Some(false)),
        _ => Err(FilterError::new(
            FilterField::Blocked,
            FilterErrorKind::BadChoice,
            t,
        )),
    }
}

fn parse_states(field: &str) -> Result<u16, FilterError> {
    let mut mask = 0u16;
    for token in tokens(field) {
        let wanted = token.replace('-', "_").to_ascii_uppercase();
        let matched = (1..=TcpState::COUNT as u8)
            .filter_map(TcpState::from_kernel)
            .filter(|s| s.name() == wanted)
            .fold(0u16, |m, s| m | 1 << s.index());
        if matched == 0 {
            return Err(FilterError::new(
                FilterField::States,
                FilterErrorKind::UnknownState,
                token,
            ));
        }
        mask |= matched;
    }
    Ok(mask)
}

/// Names of the states in a mask (SYN_RECV once for both kernel states).
fn state_names(mask: u16) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for s in (1..=TcpState::COUNT as u8).filter_map(TcpState::from_kernel) {
        if mask & (1 << s.index()) != 0 && !names.contains(&s.name()) {
            names.push(s.name());
        }
    }
    names
}

fn parse_status(field: &str) -> Result<Vec<(u16, u16)>, FilterError> {
    let mut ranges = Vec::new();
    for token in tokens(field) {
        let bad = |kind| FilterError::new(FilterField::Status, kind, token);
        let range = if let Some((lo, hi)) = token.split_once('-') {
            let lo = status_code(lo.trim()).ok_or(bad(FilterErrorKind::BadStatus))?;
            let hi = status_code(hi.trim()).ok_or(bad(FilterErrorKind::BadStatus))?;
            if lo > hi {
                return Err(bad(FilterErrorKind::ReversedRange));
            }
            (lo, hi)
        } else if let Some(class) = status_class_token(token) {
            (class * 100, class * 100 + 99)
        } else {
            let code = status_code(token).ok_or(bad(FilterErrorKind::BadStatus))?;
            (code, code)
        };
        ranges.push(range);
    }
    Ok(ranges)
}

/// `1xx`..`5xx`, any case.
fn status_class_token(token: &str) -> Option<u16> {
    match token.as_bytes() {
        [d @ b'1'..=b'5', x, y]
            if x.eq_ignore_ascii_case(&b'x') && y.eq_ignore_ascii_case(&b'x') =>
        {
            Some(u16::from(d - b'0'))
        }
        _ => None,
    }
}

/// One to three decimal digits (logs carry 0 for "no status", never > 999).
fn status_code(token: &str) -> Option<u16> {
    if token.is_empty() || token.len() > 3 || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok()
}

fn full_classes(ranges: &[(u16, u16)]) -> [bool; CLASSES] {
    let mut full = [false; CLASSES];
    for (c, slot) in full.iter_mut().enumerate().skip(1) {
        let base = c as u16 * 100;
        *slot =
            (base..base + 100).all(|code| ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&code)));
    }
    full
}

fn describe_range((lo, hi): (u16, u16)) -> String {
    if lo == hi {
        lo.to_string()
    } else if lo % 100 == 0 && hi == lo + 99 {
        format!("{}xx", lo / 100)
    } else {
        format!("{lo}-{hi}")
    }
}

fn parse_min_rpm(field: &str) -> Result<Option<f64>, FilterError> {
    let token = field.trim();
    if token.is_empty() {
        return Ok(None);
    }
    // Digits and at most one dot: `f64::from_str` alone would take `inf`, `NaN`, `1e9`.
    let plain = token.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && token.bytes().filter(|&b| b == b'.').count() <= 1
        && token.bytes().any(|b| b.is_ascii_digit());
    match token.parse::<f64>() {
        Ok(m) if plain && m.is_finite() => Ok(Some(m)),
        _ => Err(FilterError::new(
            FilterField::MinRpm,
            FilterErrorKind::BadNumber,
            token,
        )),
    }
}

fn parse_nets(field: &str, which: FilterField) -> Result<Vec<IpNet>, FilterError> {
    field
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(|t| parse_cidr(t).map_err(|_| FilterError::new(which, FilterErrorKind::BadCidr, t)))
        .collect()
}

#[cfg(test)]
mod tests;
