//! Who runs an address, from RDAP (RFC 7480-9083): network name, CIDR, organisation,
//! country and abuse contact.
//!
//! All network I/O happens on one dedicated thread ([`worker::Worker`]); the loop only
//! sends requests and receives replies through a `mio::Waker`. The registry for an
//! address is found from the IANA bootstrap ([`bootstrap`], RFC 9224); the answer is
//! parsed by [`rdap`]. When RDAP fails, [`legacy`] whois (port 43) is asked within
//! the same deadline. A fetched bootstrap is kept on disk by [`cache`]; answers are
//! cached by the engine in `whois.db` beside it (`store::whois_cache`).

pub(crate) mod bootstrap;
pub(crate) mod cache;
pub(crate) mod client;
pub(crate) mod legacy;
pub(crate) mod rdap;
pub(crate) mod worker;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub(crate) use crate::net::WhoisInfo;
pub(crate) use bootstrap::Bootstrap;
pub(crate) use client::Client;
pub(crate) use worker::{Submit, Worker};

/// Default `[whois] whois_server`: IANA, which refers to the registry's server.
pub(crate) const DEFAULT_WHOIS_SERVER: &str = "whois.iana.org:43";

/// Longest string kept from an answer, in characters.
pub(crate) const MAX_FIELD: usize = 200;

/// Why a lookup gave no answer. Plain data so it can be cached and sent across threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WhoisError {
    /// Private, reserved or otherwise non-public address: never looked up.
    NotPublic,
    /// No registry in the bootstrap covers the address.
    NoRegistry,
    /// The registry answered 429; `retry_after` is its `Retry-After` in seconds, if given
    /// as a number.
    RateLimited {
        /// Seconds to wait before asking this registry again.
        retry_after: Option<u64>,
    },
    /// Any other non-success HTTP status (404: the registry has no such network).
    Status(u16),
    /// More redirects than allowed (a registry redirecting to itself ends here).
    TooManyRedirects,
    /// A redirect from https to plain http, or to a URL we can't follow.
    BadRedirect,
    /// The response body was larger than the cap.
    TooLarge,
    /// The overall deadline passed.
    Timeout,
    /// Connection, TLS or read failure.
    Transport(String),
    /// The body was no RDAP JSON we understand.
    BadAnswer(String),
}

impl fmt::Display for WhoisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotPublic => f.write_str("not a public address"),
            Self::NoRegistry => f.write_str("no RDAP registry for this address"),
            Self::RateLimited {
                retry_after: Some(s),
            } => write!(f, "rate limited, retry after {s} s"),
            Self::RateLimited { retry_after: None } => f.write_str("rate limited"),
            Self::Status(code) => write!(f, "HTTP status {code}"),
            Self::TooManyRedirects => f.write_str("too many redirects"),
            Self::BadRedirect => f.write_str("refused redirect"),
            Self::TooLarge => f.write_str("response too large"),
            Self::Timeout => f.write_str("timed out"),
            Self::Transport(e) => write!(f, "connection failed: {e}"),
            Self::BadAnswer(e) => write!(f, "bad RDAP answer: {e}"),
        }
    }
}

impl std::error::Error for WhoisError {}

impl WhoisError {
    /// Whether asking again soon would most likely fail the same way, so the failure
    /// is worth remembering: the registry has no such network, answers garbage, hangs
    /// past the deadline, sends a body over the cap or redirects in circles. A rate
    /// limit or a connection that failed is not: it is asked again later.
    pub(crate) fn is_lasting(&self) -> bool {
        matches!(
            self,
            Self::NoRegistry
                | Self::Status(_)
                | Self::BadAnswer(_)
                | Self::Timeout
                | Self::TooLarge
                | Self::TooManyRedirects
                | Self::BadRedirect
        )
    }
}

/// Limits and addresses for lookups. [`Config::default`] is what production uses;
/// tests shorten the times.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Folder holding `ipv4.json` and `ipv6.json` (RFC 9224), ending in `/`; `None`
    /// keeps the built-in copy.
    pub(crate) bootstrap_url: Option<String>,
    /// Longest a single HTTP request may take.
    pub(crate) request_timeout: Duration,
    /// Longest one lookup may take, redirects included.
    pub(crate) deadline: Duration,
    /// Largest response body read, in bytes.
    pub(crate) max_body: u64,
    /// Redirects followed per lookup.
    pub(crate) max_redirects: u8,
    /// Capacity of the request queue between the loop and the worker.
    pub(crate) queue: usize,
    /// Least time between two requests to the same registry.
    pub(crate) spacing: Duration,
    /// Where the fetched bootstrap is kept between runs (`[cache] dir`); `None`: in
    /// memory only.
    pub(crate) cache_dir: Option<PathBuf>,
    /// First legacy whois server (`host:port`) asked when RDAP fails; `None`: no
    /// legacy fallback.
    pub(crate) whois_server: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bootstrap_url: Some("https://data.iana.org/rdap/".to_owned()),
            request_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(20),
            max_body: 1 << 20,
            max_redirects: 3,
            queue: 64,
            spacing: Duration::from_millis(500),
            cache_dir: None,
            whois_server: Some(DEFAULT_WHOIS_SERVER.to_owned()),
        }
    }
}

impl Config {
    /// Least time between requests to the registry at `base`: LACNIC allows about ten
    /// a minute, the others are more generous than [`Config::spacing`].
    pub(crate) fn spacing_for(&self, base: &str) -> Duration {
        if base.contains("lacnic") {
            self.spacing.max(Duration::from_secs(6))
        } else {
            self.spacing
        }
    }
}

/// A country code as shown: two ASCII letters (surrounding blanks allowed), in
/// uppercase. Anything else (`USA`, `E1`, escapes) is no code and is dropped.
fn country_code(s: &str) -> Option<String> {
    let s = s.trim();
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic())).then(|| s.to_ascii_uppercase())
}

/// `s` without control characters, at most [`MAX_FIELD`] characters, `None` if empty.
pub(crate) fn clean(s: &str) -> Option<String> {
    let out: String = s
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_FIELD)
        .collect();
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests;
