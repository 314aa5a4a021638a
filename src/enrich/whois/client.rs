//! Blocking RDAP lookups with ureq: our own redirect handling, a deadline per lookup,
//! capped bodies. Runs on the worker thread only.

use std::io::Read;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::cache::StoredBootstrap;
use super::{legacy, rdap, Bootstrap, Config, WhoisError, WhoisInfo};
use crate::parse::UnixTime;

/// An HTTP agent plus the bootstrap it routes by.
pub(crate) struct Client {
    agent: ureq::Agent,
    bootstrap: Bootstrap,
    config: Config,
}

impl Client {
    /// A client routing by `bootstrap`. ureq's own redirect following is off: we follow
    /// `Location` ourselves to count hops and refuse https → http.
    pub(crate) fn new(config: Config, bootstrap: Bootstrap) -> Client {
        let agent = ureq::AgentBuilder::new()
            .redirects(0)
            .timeout(config.request_timeout)
            .user_agent(concat!("nethergaze/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            agent,
            bootstrap,
            config,
        }
    }

    /// The limits this client was made with.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The registry base URL that [`Client::lookup`] would ask about `ip`.
    pub(crate) fn registry_for(&self, ip: IpAddr) -> Option<&str> {
        self.bootstrap.base_for(ip)
    }

    /// Fetches `ipv4.json` and `ipv6.json` from `config.bootstrap_url` and routes by
    /// them, over the built-in copy. A file that fails or lists no usable service is
    /// left out (the built-in copy answers for its family); only when both are
    /// unusable is this an error, and the current bootstrap is kept. Returns what was
    /// fetched, for the disk cache; `Ok(None)` when no URL is configured.
    pub(crate) fn refresh_bootstrap(
        &mut self,
        now: UnixTime,
    ) -> Result<Option<StoredBootstrap>, WhoisError> {
        let Some(url) = self.config.bootstrap_url.clone() else {
            return Ok(None);
        };
        let mut last_error = None;
        let mut fetch = |file: &str| match self.fetch_bootstrap_file(&format!("{url}{file}")) {
            Ok(body) => Some(body),
            Err(e) => {
                last_error = Some(e);
                None
            }
        };
        let (ipv4, ipv6) = (fetch("ipv4.json"), fetch("ipv6.json"));
        if ipv4.is_none() && ipv6.is_none() {
            return Err(last_error.unwrap_or(WhoisError::NoRegistry));
        }
        let stored = StoredBootstrap {
            url,
            fetched_at: now,
            ipv4,
            ipv6,
        };
        self.bootstrap = Bootstrap::from_stored(&stored);
        Ok(Some(stored))
    }

    /// One bootstrap file's body, if it is UTF-8 with at least one usable service.
    fn fetch_bootstrap_file(&self, url: &str) -> Result<String, WhoisError> {
        let deadline = Instant::now() + self.config.deadline;
        let body = self.get(url, "application/json", deadline)?;
        Bootstrap::default().add_json(&body)?;
        String::from_utf8(body).map_err(|e| WhoisError::BadAnswer(e.to_string()))
    }

    /// Asks the registry for `ip` about the network holding it: RDAP, then legacy
    /// whois if RDAP gave no answer (see [`falls_back`]), both within one deadline.
    /// Private and reserved addresses are refused without any connection. When both
    /// fail, the error is RDAP's.
    pub(crate) fn lookup(&self, ip: IpAddr) -> Result<WhoisInfo, WhoisError> {
        if !crate::net::is_public(ip) {
            return Err(WhoisError::NotPublic);
        }
        let deadline = Instant::now() + self.config.deadline;
        let rdap = self.lookup_rdap(ip, deadline);
        match (rdap, &self.config.whois_server) {
            (Err(e), Some(server)) if falls_back(&e) => {
                legacy::lookup(ip, server, deadline, self.config.request_timeout).map_err(|_| e)
            }
            (rdap, _) => rdap,
        }
    }

    fn lookup_rdap(&self, ip: IpAddr, deadline: Instant) -> Result<WhoisInfo, WhoisError> {
        let base = self.bootstrap.base_for(ip).ok_or(WhoisError::NoRegistry)?;
        let url = format!("{base}ip/{}", ip.to_canonical());
        let body = self.get(&url, "application/rdap+json", deadline)?;
        rdap::parse_ip_network(&body)
    }

    /// GET `url`, following at most `max_redirects` redirects, within `deadline`;
    /// returns the body, at most `max_body` bytes.
    fn get(&self, url: &str, accept: &str, deadline: Instant) -> Result<Vec<u8>, WhoisError> {
        let mut url = url.to_owned();
        for _ in 0..=self.config.max_redirects {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(WhoisError::Timeout);
            }
            let resp = self
                .agent
                .get(&url)
                .set("Accept", accept)
                .timeout(left.min(self.config.request_timeout))
                .call()
                .map_err(|e| call_error(e, deadline))?;
            if (300..400).contains(&resp.status()) {
                let location = resp.header("Location").ok_or(WhoisError::BadRedirect)?;
                url = next_url(&url, location)?;
                continue;
            }
            return self.read_body(resp, deadline);
        }
        Err(WhoisError::TooManyRedirects)
    }

    /// Reads at most `max_body` bytes: one more than that means the body is too large,
    /// and the rest is never read.
    fn read_body(&self, resp: ureq::Response, deadline: Instant) -> Result<Vec<u8>, WhoisError> {
        let mut body = Vec::new();
        let cap = self.config.max_body;
        resp.into_reader()
            .take(cap + 1)
            .read_to_end(&mut body)
            .map_err(|e| io_error(&e, deadline))?;
        if body.len() as u64 > cap {
            return Err(WhoisError::TooLarge);
        }
        Ok(body)
    }
}

/// Whether legacy whois is worth asking after RDAP failed with `e`: not for an
/// address never looked up, and not when the registry asked us to slow down (its
/// whois server is the same organisation's).
pub(crate) fn falls_back(e: &WhoisError) -> bool {
    !matches!(e, WhoisError::NotPublic | WhoisError::RateLimited { .. })
}

/// Convenience for [`Client::lookup`].
#[cfg(test)]
pub(crate) fn lookup(ip: IpAddr, client: &Client) -> Result<WhoisInfo, WhoisError> {
    client.lookup(ip)
}

fn call_error(e: ureq::Error, deadline: Instant) -> WhoisError {
    match e {
        ureq::Error::Status(429, resp) => WhoisError::RateLimited {
            retry_after: resp
                .header("Retry-After")
                .and_then(|s| s.trim().parse().ok()),
        },
        ureq::Error::Status(code, _) => WhoisError::Status(code),
        ureq::Error::Transport(_) if Instant::now() >= deadline => WhoisError::Timeout,
        ureq::Error::Transport(t) if is_timeout(&t) => WhoisError::Timeout,
        ureq::Error::Transport(t) => WhoisError::Transport(t.to_string()),
    }
}

fn io_error(e: &std::io::Error, deadline: Instant) -> WhoisError {
    if Instant::now() >= deadline || is_timeout(e) {
        WhoisError::Timeout
    } else {
        WhoisError::Transport(e.to_string())
    }
}

/// Whether an error (or one it wraps) is a request timing out: a registry that
/// hangs, which is [`WhoisError::Timeout`] whether the request's timeout or the
/// lookup's deadline caught it.
fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        let io = err.downcast_ref::<std::io::Error>();
        if io.is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut) {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Where a redirect from `current` to `location` goes: absolute http(s) URLs and
/// absolute paths on the same origin. Never from https to http.
pub(crate) fn next_url(current: &str, location: &str) -> Result<String, WhoisError> {
    let location = location.trim();
    let next = if location.starts_with("https://") || location.starts_with("http://") {
        location.to_owned()
    } else if location.starts_with('/') && !location.starts_with("//") {
        format!(
            "{}{location}",
            origin(current).ok_or(WhoisError::BadRedirect)?
        )
    } else {
        return Err(WhoisError::BadRedirect);
    };
    if current.starts_with("https://") && !next.starts_with("https://") {
        return Err(WhoisError::BadRedirect);
    }
    Ok(next)
}

/// What rate limits are kept per: the `scheme://host[:port]` of a registry's base URL
/// (two bases on one server share its limit), or the whole text if it has none.
pub(crate) fn registry_host(base: &str) -> &str {
    origin(base).unwrap_or(base)
}

/// `scheme://host[:port]` of an absolute URL.
fn origin(url: &str) -> Option<&str> {
    let after_scheme = url.find("://")? + 3;
    let end = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |i| after_scheme + i);
    Some(&url[..end])
}

/// Retry-After of at most this is honoured; a larger one is clamped (a hostile server
/// shouldn't park the worker for a day).
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);
