//! Suspicious reasons: what makes a row stand out, as a small bitset.
//!
//! Path and user-agent checks run once per request as it arrives (one
//! multi-pattern regex-automata matcher each, its verdict kept per distinct
//! string in [`memo`]), as does the burst meter; what they find is kept on
//! the row as the time of its newest evidence ([`Evidence`]). A reason with
//! evidence (scanner, exploit, burst, sshd failures) holds until it has had
//! none for `reason_ttl` on the row's clock ([`evidence::row_clock`]); the
//! socket reasons hold while the sockets do. Detection reads the table; the
//! table never calls it (eviction is handed [`Detector::flagged_test`]).

mod evidence;
mod memo;

pub(crate) use evidence::Evidence;

use std::net::IpAddr;

use regex_automata::meta::Regex;
use regex_automata::util::syntax;

use crate::parse::AccessHit;
use crate::parse::UnixTime;
use crate::table::{IpTable, RecentRequest, Row, RowId};
use evidence::{row_clock, Fading, ASSET_UNITS, PAGE_UNITS};
use memo::{Memo, EXPLOIT_PATH, SCANNER_UA, STATIC_ASSET};

/// One reason an IP is suspicious. Codes are a contract (JSON, filters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Reason {
    SynRecv = 1 << 0,
    ConnsNoRequests = 1 << 1,
    Burst = 1 << 2,
    ScannerUa = 1 << 3,
    ExploitPath = 1 << 4,
    AuthFailures = 1 << 5,
    Breach = 1 << 6,
}

impl Reason {
    /// In the order reasons are listed (JSON's `reasons`, the table, the
    /// event stream): `breach` first, the one never to miss.
    pub(crate) const ALL: [Reason; 7] = [
        Reason::Breach,
        Reason::SynRecv,
        Reason::ConnsNoRequests,
        Reason::Burst,
        Reason::ScannerUa,
        Reason::ExploitPath,
        Reason::AuthFailures,
    ];

    pub(crate) fn code(self) -> &'static str {
        match self {
            Reason::SynRecv => "syn_recv",
            Reason::ConnsNoRequests => "conns_no_requests",
            Reason::Burst => "burst",
            Reason::ScannerUa => "scanner_ua",
            Reason::ExploitPath => "exploit_path",
            Reason::AuthFailures => "auth_failures",
            Reason::Breach => "breach",
        }
    }

    /// In words, for the drill-down.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Reason::SynRecv => "half-open SYN_RECV sockets and no requests",
            Reason::ConnsNoRequests => "many connections, at most one request",
            Reason::Burst => "request burst above the per-minute threshold",
            Reason::ScannerUa => "user agent of a known scanner",
            Reason::ExploitPath => "requested an exploit or probe path",
            Reason::AuthFailures => "repeated sshd authentication failures",
            Reason::Breach => "sshd login accepted after failed attempts (held for the run)",
        }
    }
}

/// A set of [`Reason`]s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Reasons(u8);

impl Reasons {
    pub(crate) fn insert(&mut self, r: Reason) {
        self.0 |= r as u8;
    }
    pub(crate) fn contains(self, r: Reason) -> bool {
        self.0 & r as u8 != 0
    }
    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub(crate) fn iter(self) -> impl Iterator<Item = Reason> {
        Reason::ALL.into_iter().filter(move |r| self.contains(*r))
    }
    /// The reasons in either.
    pub(crate) fn union(self, other: Reasons) -> Reasons {
        Reasons(self.0 | other.0)
    }
    /// The reasons in `self` and not in `other`.
    pub(crate) fn without(self, other: Reasons) -> Reasons {
        Reasons(self.0 & !other.0)
    }
}

/// A row's reasons with the age of each ([`Detector::age`]): JSON's
/// `reason_ages`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ReasonAges {
    reasons: Reasons,
    /// By the reason's bit position.
    ages: [Option<UnixTime>; Reason::ALL.len()],
}

impl ReasonAges {
    pub(crate) fn reasons(&self) -> Reasons {
        self.reasons
    }

    /// Each reason with its age (`None` for the socket reasons).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Reason, Option<UnixTime>)> + '_ {
        self.reasons
            .iter()
            .map(|r| (r, self.ages[(r as u8).trailing_zeros() as usize]))
    }
}

/// Scanner user agents matched as case-insensitive substrings.
pub(crate) const DEFAULT_SCANNER_USER_AGENTS: &[&str] = &[
    "zgrab",
    "masscan",
    "nmap",
    "nikto",
    "sqlmap",
    "gobuster",
    "dirbuster",
    "wfuzz",
    "nuclei",
    "httpx",
    "censys",
    "shodan",
];

/// Exploit and probe paths, case-insensitive regexes over the raw path bytes.
pub(crate) const DEFAULT_EXPLOIT_PATH_PATTERNS: &[&str] = &[
    r"\.env",
    r"wp-login\.php",
    r"wp-admin",
    r"\$\{jndi:",
    r"(\.|%2e)(\.|%2e)(/|\\|%2f|%5c)", // ../ in any percent-encoding mix
    r"%252e%252e",                     // double-encoded ..
    r"/etc/passwd",
    r"phpmyadmin",
    r"/\.git",
    r"/cgi-bin/",
    r"/shell",
    r"\.(asp|aspx|jsp|cgi)([?#;/]|$)",
];

/// Extensions of static assets (`[filters] static_extensions`): a request
/// for one counts a quarter in the burst rate.
pub(crate) const DEFAULT_STATIC_EXTENSIONS: &[&str] = &[
    "css", "js", "png", "jpg", "jpeg", "gif", "svg", "woff", "woff2", "ico", "webp", "map",
];

/// Thresholds and user patterns, from `[filters]`.
#[derive(Debug, Clone)]
pub struct DetectSettings {
    pub(crate) burst_rpm: f64,
    /// Seconds without new evidence after which a reason fades.
    pub(crate) reason_ttl: UnixTime,
    pub(crate) min_conns: u32,
    pub(crate) min_auth_failures: u32,
    pub(crate) scanner_user_agents: Vec<String>,
    pub(crate) exploit_path_patterns: Vec<String>,
    /// Extensions (without the dot) whose requests count a quarter in the
    /// burst rate; matched case-insensitively.
    pub(crate) static_extensions: Vec<String>,
}

impl Default for DetectSettings {
    fn default() -> Self {
        DetectSettings {
            burst_rpm: 60.0,
            reason_ttl: DEFAULT_REASON_TTL,
            min_conns: 5,
            min_auth_failures: 3,
            scanner_user_agents: Vec::new(),
            exploit_path_patterns: Vec::new(),
            static_extensions: DEFAULT_STATIC_EXTENSIONS
                .iter()
                .map(|e| e.to_string())
                .collect(),
        }
    }
}

/// `[filters] reason_ttl`'s default: an hour.
pub(crate) const DEFAULT_REASON_TTL: UnixTime = 3600;

pub struct Detector {
    settings: DetectSettings,
    /// Wall clock, as the engine last set it (0 until then: rows are then
    /// judged as of their newest event).
    now: UnixTime,
    exploit_path: Regex,
    scanner_ua: Regex,
    /// Verdicts on request strings, by interned id.
    memo: Memo,
    /// `static_extensions`, as bytes.
    static_extensions: Vec<Box<[u8]>>,
}

impl Detector {
    /// Compile the matchers; an error names the pattern that failed.
    pub fn new(settings: DetectSettings) -> Result<Detector, String> {
        let paths = DEFAULT_EXPLOIT_PATH_PATTERNS
            .iter()
            .map(|p| p.to_string())
            .chain(settings.exploit_path_patterns.iter().cloned());
        let agents = DEFAULT_SCANNER_USER_AGENTS
            .iter()
            .map(|a| a.to_string())
            .chain(settings.scanner_user_agents.iter().cloned())
            .map(|a| regex_syntax_escape(&a));
        Ok(Detector {
            exploit_path: byte_matcher(paths.collect())
                .map_err(|e| format!("exploit_path_patterns: {e}"))?,
            scanner_ua: byte_matcher(agents.collect())
                .map_err(|e| format!("scanner_user_agents: {e}"))?,
            static_extensions: settings
                .static_extensions
                .iter()
                .map(|e| e.as_bytes().into())
                .collect(),
            settings,
            now: 0,
            memo: Memo::default(),
        })
    }

    #[cfg(test)]
    pub(crate) fn is_exploit_path(&self, path: &[u8]) -> bool {
        is_match(&self.exploit_path, path)
    }

    #[cfg(test)]
    pub(crate) fn is_scanner_ua(&self, user_agent: &[u8]) -> bool {
        is_match(&self.scanner_ua, user_agent)
    }

    /// Tell the detector the wall clock (once per loop iteration).
    pub(crate) fn set_now(&mut self, now: UnixTime) {
        self.now = now;
    }

    /// Classify the request `IpTable::apply_access` just counted in `row`
    /// (`request` as it returned it, from `hit`): an exploit path or a
    /// scanner's user agent is noted on the row as evidence at the request's
    /// time, and so is a burst when the request takes the meter over the
    /// threshold. Each pattern check runs once per distinct string; the memo
    /// answers the repeats.
    pub fn check_request(
        &mut self,
        table: &mut IpTable,
        row: RowId,
        request: &RecentRequest,
        hit: &AccessHit<'_>,
    ) {
        let strings = &table.strings;
        let (memo, exploit_path, scanner_ua, static_extensions) = (
            &mut self.memo,
            &self.exploit_path,
            &self.scanner_ua,
            &self.static_extensions,
        );
        // One memo lookup a string: the path answers two checks.
        let mut path = memo.bits(strings, request.path, hit.path);
        let is_exploit = path.verdict(hit.path, EXPLOIT_PATH, |text| is_match(exploit_path, text));
        // A page load brings its stylesheets, scripts, images and fonts
        // along: counted in full, a visitor's dozen pages with their assets
        // in half a minute are a "burst". An asset counts a quarter, so a
        // flood of them (a hotlinking bot, a download loop) still is one.
        // Memoised per path like the patterns: a bit test per line.
        let is_asset = path.verdict(hit.path, STATIC_ASSET, |text| {
            is_static_asset(static_extensions, text)
        });
        let is_scanner = memo
            .bits(strings, request.user_agent, hit.user_agent)
            .verdict(hit.user_agent, SCANNER_UA, |text| {
                is_match(scanner_ua, text)
            });
        let evidence = &mut table.row_mut(row).evidence;
        let t = request.time;
        if is_exploit {
            evidence.note(Fading::ExploitPath, t);
        }
        if is_scanner {
            evidence.note(Fading::ScannerUa, t);
        }
        let units = match is_asset {
            true => ASSET_UNITS,
            false => PAGE_UNITS,
        };
        let is_burst = evidence.meter(t, units) > self.settings.burst_rpm * f64::from(PAGE_UNITS);
        if is_burst {
            evidence.note(Fading::Burst, t);
        }
        if is_exploit || is_scanner || is_burst {
            // A flagged row keeps `max_log_entries_per_ip` requests.
            table.widen_row(row);
        }
    }

    /// An sshd event was counted on `row`: a row at the failure threshold
    /// keeps `max_log_entries_per_ip` requests, as any flagged row does.
    pub fn check_auth(&self, table: &mut IpTable, row: RowId) {
        let failures = table.row_mut(row).auth_failures();
        if failures >= u64::from(self.settings.min_auth_failures) {
            table.widen_row(row);
        }
    }

    /// Failures before a login that make it a breach: `min_auth_failures`,
    /// at least one.
    pub(crate) fn breach_threshold(&self) -> u64 {
        u64::from(self.settings.min_auth_failures.max(1))
    }

    /// An sshd login was accepted for `ip` at event second `t`, from an
    /// address that failed `failures_before` times (this run's count, or
    /// history's lifetime one): at `min_auth_failures` or more (at least
    /// one), a brute forcer got in. That is a breach, held on the row for
    /// the rest of the run (it never fades). Returns whether it was one. A
    /// single typo before an operator's login is not one.
    pub(crate) fn check_accepted(
        &self,
        table: &mut IpTable,
        ip: IpAddr,
        t: UnixTime,
        failures_before: u64,
    ) -> bool {
        if failures_before < self.breach_threshold() {
            return false;
        }
        let Some(row) = table.get_mut(ip) else {
            return false;
        };
        row.note_breach(t);
        table.widen(ip);
        true
    }

    /// The table's eviction test (see `IpTable::set_flagged`): whether a row
    /// has any reason at wall-clock `now`.
    pub fn flagged_test(&self) -> impl Fn(&Row, UnixTime) -> bool + 'static {
        let thresholds = self.thresholds();
        move |row, now| !thresholds.reasons(row, now).is_empty()
    }

    /// Every reason that applies to a row now.
    pub(crate) fn reasons(&self, row: &Row) -> Reasons {
        self.thresholds().reasons(row, self.now)
    }

    /// Seconds since the newest evidence for `reason` on the row's clock, for
    /// the reasons that fade (`None` for those read from sockets, which hold
    /// exactly while the sockets do).
    pub(crate) fn age(&self, row: &Row, reason: Reason) -> Option<UnixTime> {
        let at = evidence_time(row, reason)?;
        Some((row_clock(row.last_seen(), row.last_active(), self.now) - i64::from(at)).max(0))
    }

    /// A row's reasons now, each with its age.
    pub(crate) fn reason_ages(&self, row: &Row) -> ReasonAges {
        let reasons = self.reasons(row);
        let mut ages = [None; Reason::ALL.len()];
        for r in reasons.iter() {
            ages[(r as u8).trailing_zeros() as usize] = self.age(row, r);
        }
        ReasonAges { reasons, ages }
    }

    /// The thresholds [`Detector::reasons`] applies (copied into
    /// [`Detector::flagged_test`]).
    fn thresholds(&self) -> Thresholds {
        let s = &self.settings;
        Thresholds {
            reason_ttl: s.reason_ttl,
            min_conns: s.min_conns,
            min_auth_failures: s.min_auth_failures,
        }
    }
}

/// What the members of a group (a network, an ASN, a country: see
/// `view::groups`) did together: the sums [`Detector::group_reasons`] judges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct GroupLoad {
    /// Requests in the minute ending now, summed over the members.
    pub(crate) rpm: u64,
    /// Half-open inbound sockets (SYN_RECV), summed.
    pub(crate) syn_recv: u64,
    /// sshd authentication failures still within `reason_ttl`, summed.
    pub(crate) auth_failures: u64,
}

impl Detector {
    /// The reasons a group earns together that its members may not earn
    /// alone, by the per-address thresholds: `burst` when the summed rate is
    /// above `burst_rpm` (a /24 doing 600 req/min over 60 addresses at 10
    /// each), `auth_failures` at `min_auth_failures` summed failures,
    /// `syn_recv` at `min_conns` summed half-open sockets (one address with
    /// one is already flagged alone; a spread flood needs a count). The
    /// members' own reasons are added by the caller.
    pub(crate) fn group_reasons(&self, load: &GroupLoad) -> Reasons {
        let s = &self.settings;
        let mut r = Reasons::default();
        if load.syn_recv > 0 && load.syn_recv >= u64::from(s.min_conns) {
            r.insert(Reason::SynRecv);
        }
        if load.rpm as f64 > s.burst_rpm {
            r.insert(Reason::Burst);
        }
        if s.min_auth_failures > 0 && load.auth_failures >= u64::from(s.min_auth_failures) {
            r.insert(Reason::AuthFailures);
        }
        r
    }

    /// The row's sshd failures while they still count (their newest is
    /// younger than `reason_ttl`, as for the row's own `auth_failures`
    /// reason), else 0: what a group sums.
    pub(crate) fn fresh_auth_failures(&self, row: &Row) -> u64 {
        match self.age(row, Reason::AuthFailures) {
            Some(age) if age <= self.settings.reason_ttl => row.auth_failures(),
            _ => 0,
        }
    }
}

/// When a reason that fades last had evidence on the row (`None`: never, or
/// a reason judged on the sockets alone).
fn evidence_time(row: &Row, reason: Reason) -> Option<u32> {
    let fading = match reason {
        Reason::ScannerUa => Fading::ScannerUa,
        Reason::ExploitPath => Fading::ExploitPath,
        Reason::Burst => Fading::Burst,
        Reason::AuthFailures => return Some(row.last_failure()).filter(|&t| t != 0),
        Reason::Breach => return row.breach_time(),
        Reason::SynRecv | Reason::ConnsNoRequests => return None,
    };
    row.evidence.last(fading)
}

/// The thresholds of `[filters]` that are read when a row is judged: with
/// the row's evidence, all that decides whether it is flagged. Copy, and a
/// few comparisons a row.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Thresholds {
    reason_ttl: UnixTime,
    min_conns: u32,
    min_auth_failures: u32,
}

impl Thresholds {
    /// Every reason that applies to a row at wall-clock `now`: those with
    /// evidence younger than the TTL on the row's clock, and the socket ones.
    fn reasons(&self, row: &Row, now: UnixTime) -> Reasons {
        let clock = row_clock(row.last_seen(), row.last_active(), now);
        let mut r = Reasons::default();
        // Never fades: the operator must not miss it.
        if row.breach_time().is_some() {
            r.insert(Reason::Breach);
        }
        let fresh = |reason| {
            evidence_time(row, reason).is_some_and(|at| clock - i64::from(at) <= self.reason_ttl)
        };
        for reason in [Reason::Burst, Reason::ScannerUa, Reason::ExploitPath] {
            if fresh(reason) {
                r.insert(reason);
            }
        }
        if row.sockets().syn_recv_in() > 0 && row.requests == 0 {
            r.insert(Reason::SynRecv);
        }
        if row.sockets().conns_in >= self.min_conns && row.requests <= 1 {
            r.insert(Reason::ConnsNoRequests);
        }
        if self.min_auth_failures > 0
            && row.auth_failures() >= u64::from(self.min_auth_failures)
            && fresh(Reason::AuthFailures)
        {
            r.insert(Reason::AuthFailures);
        }
        r
    }
}

/// Whether `path`'s last segment, without its query or fragment, ends in
/// one of `extensions` (any case). No allocation: two memchr scans and a
/// few short comparisons.
fn is_static_asset(extensions: &[Box<[u8]>], path: &[u8]) -> bool {
    let end = memchr::memchr2(b'?', b'#', path).unwrap_or(path.len());
    let path = &path[..end];
    let extension = match memchr::memrchr2(b'.', b'/', path) {
        Some(dot) if path[dot] == b'.' => &path[dot + 1..],
        _ => return false,
    };
    extensions.iter().any(|e| e.eq_ignore_ascii_case(extension))
}

/// Whether a matcher finds any of its patterns in `text` (never in empty text).
fn is_match(matcher: &Regex, text: &[u8]) -> bool {
    !text.is_empty() && matcher.is_match(text)
}

/// One case-insensitive multi-pattern matcher over arbitrary bytes.
fn byte_matcher(patterns: Vec<String>) -> Result<Regex, String> {
    Regex::builder()
        .syntax(
            syntax::Config::new()
                .case_insensitive(true)
                .unicode(false)
                .utf8(false),
        )
        .build_many(&patterns)
        .map_err(|e| e.to_string())
}

/// Escape a literal for use inside a regex.
fn regex_syntax_escape(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len() + 8);
    for c in literal.chars() {
        if "\\.+*?()|[]{}^$#&-~ ".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
