//! Suspicious reasons: what makes a row stand out, as a small bitset.
//!
//! Path and user-agent checks run once per request as it arrives (one
//! multi-pattern regex-automata matcher each, its verdict kept per distinct
//! string in [`memo`]) and stick to the row ([`Row::sticky`]); the threshold
//! checks read the row's counters whenever a view asks. Detection reads the
//! table; the table never calls it (eviction is handed
//! [`Detector::flagged_test`]).

mod memo;

use regex_automata::meta::Regex;
use regex_automata::util::syntax;

use crate::parse::AccessHit;
use crate::table::{IpTable, RecentRequest, Row, RowId};
use memo::{Memo, EXPLOIT_PATH, SCANNER_UA};

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
}

impl Reason {
    pub(crate) const ALL: [Reason; 6] = [
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
    /// The reasons found in a row's requests as they arrived.
    pub(crate) fn sticky(row: &Row) -> Reasons {
        Reasons(row.sticky)
    }
    pub(crate) fn iter(self) -> impl Iterator<Item = Reason> {
        Reason::ALL.into_iter().filter(move |r| self.contains(*r))
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

/// Thresholds and user patterns, from `[filters]`.
#[derive(Debug, Clone)]
pub struct DetectSettings {
    pub(crate) burst_rpm: f64,
    pub(crate) min_conns: u32,
    pub(crate) min_auth_failures: u32,
    pub(crate) scanner_user_agents: Vec<String>,
    pub(crate) exploit_path_patterns: Vec<String>,
}

impl Default for DetectSettings {
    fn default() -> Self {
        DetectSettings {
            burst_rpm: 60.0,
            min_conns: 5,
            min_auth_failures: 3,
            scanner_user_agents: Vec::new(),
            exploit_path_patterns: Vec::new(),
        }
    }
}

pub struct Detector {
    settings: DetectSettings,
    exploit_path: Regex,
    scanner_ua: Regex,
    /// Verdicts on request strings, by interned id.
    memo: Memo,
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
            settings,
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

    /// Classify the request `IpTable::apply_access` just counted in `row`
    /// (`request` as it returned it, from `hit`): an exploit path or a
    /// scanner's user agent sticks to the row. Each check runs once per
    /// distinct string; the memo answers the repeats.
    pub fn check_request(
        &mut self,
        table: &mut IpTable,
        row: RowId,
        request: &RecentRequest,
        hit: &AccessHit<'_>,
    ) {
        let mut found = Reasons::default();
        let strings = &table.strings;
        let (memo, exploit_path, scanner_ua) =
            (&mut self.memo, &self.exploit_path, &self.scanner_ua);
        if memo.verdict(strings, request.path, hit.path, EXPLOIT_PATH, |text| {
            is_match(exploit_path, text)
        }) {
            found.insert(Reason::ExploitPath);
        }
        if memo.verdict(
            strings,
            request.user_agent,
            hit.user_agent,
            SCANNER_UA,
            |text| is_match(scanner_ua, text),
        ) {
            found.insert(Reason::ScannerUa);
        }
        if !found.is_empty() {
            table.row_mut(row).sticky |= found.0;
        }
    }

    /// The table's eviction test (see `IpTable::set_flagged`): whether a row
    /// has any reason now.
    pub fn flagged_test(&self) -> impl Fn(&Row) -> bool + 'static {
        let thresholds = self.thresholds();
        move |row| !thresholds.reasons(row).is_empty()
    }

    /// Every reason that applies to a row now.
    pub(crate) fn reasons(&self, row: &Row) -> Reasons {
        self.thresholds().reasons(row)
    }

    /// The thresholds [`Detector::reasons`] applies (copied into
    /// [`Detector::flagged_test`]).
    fn thresholds(&self) -> Thresholds {
        let s = &self.settings;
        Thresholds {
            burst_rpm: s.burst_rpm,
            min_conns: s.min_conns,
            min_auth_failures: s.min_auth_failures,
        }
    }
}

/// The counter thresholds of `[filters]`: with a row's sticky reasons, all
/// that decides whether it is flagged. Copy, and a few comparisons a row.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Thresholds {
    burst_rpm: f64,
    min_conns: u32,
    min_auth_failures: u32,
}

impl Thresholds {
    /// Every reason that applies to a row now.
    fn reasons(&self, row: &Row) -> Reasons {
        let mut r = Reasons::sticky(row);
        if row.sockets().syn_recv_in() > 0 && row.requests == 0 {
            r.insert(Reason::SynRecv);
        }
        if row.sockets().conns_in >= self.min_conns && row.requests <= 1 {
            r.insert(Reason::ConnsNoRequests);
        }
        if f64::from(row.rate.peak()) > self.burst_rpm {
            r.insert(Reason::Burst);
        }
        if row.auth_failures() >= u64::from(self.min_auth_failures) && self.min_auth_failures > 0 {
            r.insert(Reason::AuthFailures);
        }
        r
    }
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
