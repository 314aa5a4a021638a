//! Access-log lines (nginx, Apache, Caddy) into [`AccessHit`]s.
//!
//! Text formats are nginx `log_format` strings compiled into small programs
//! ([`format`]); the built-in `combined`, `common` and `vhost_combined` are
//! such strings too; a combined (or common) line is first offered to a
//! straight-pass reader of that fixed layout ([`combined`]), which declines
//! whatever the program might read differently. Caddy's JSON goes through a
//! scanner for the few keys we need ([`json`]). Either way a hit borrows the
//! line: no copy, no allocation.
//!
//! Line rules, for every format:
//! - a trailing `\r` is dropped (CRLF logs);
//! - the client field must be an IP address, else [`Malformed::ClientNotIp`];
//!   IPv4-mapped IPv6 becomes IPv4;
//! - a request that is not `METHOD PATH PROTO` is still a request: `-` gives an
//!   empty method and path; anything whose first word is not an upper-case
//!   method (TLS bytes on the HTTP port, `\x16\x03\x01...`) gives an empty
//!   method and the whole raw request as the path, so probes stay visible;
//! - `-` for bytes is 0; `-` for the user agent, X-Forwarded-For or host is empty;
//! - text after a format's last field is ignored.
//!
//! Values are returned as logged: nginx's `\x22`, Apache's `\"` and JSON
//! escapes (`\"`, `\u00e9`) are not decoded. Display code sanitises them.

use std::net::IpAddr;

use ipnet::IpNet;

use super::time::{parse_epoch, parse_rfc3339, ClfMemo};
use super::{leading_ipv4, parse_ip, AccessHit, Malformed, UnixTime};

mod combined;
mod format;
mod json;
mod proxy;
#[cfg(test)]
mod tests;

pub use format::FormatError;
pub(crate) use proxy::resolve_client;

use format::{Fields, Program, Var};

/// nginx's `combined` (also Apache's `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`).
pub(crate) const COMBINED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;
/// The Common Log Format (nginx has no such name; Apache's `common`).
pub(crate) const COMMON: &str =
    r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent"#;
/// Apache's `vhost_combined`: `%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"`.
pub(crate) const VHOST_COMBINED: &str = r#"$host:$server_port $remote_addr - $remote_user [$time_local] "$request" $status $bytes_sent "$http_referer" "$http_user_agent""#;

/// Fields a combined line may stop after and still be a (common) line.
const COMMON_FIELDS: usize = 6;
/// The same for `vhost_combined`, which has `host` and `port` in front.
const VHOST_COMMON_FIELDS: usize = 8;

/// Which format a line was read as, so the caller can show it per source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FormatKind {
    Combined,
    Common,
    VhostCombined,
    Json,
    Custom,
}

impl FormatKind {
    /// Stable name, as accepted by `--log-format` (`custom` for a `log_format` string).
    pub(crate) fn name(self) -> &'static str {
        match self {
            FormatKind::Combined => "combined",
            FormatKind::Common => "common",
            FormatKind::VhostCombined => "vhost_combined",
            FormatKind::Json => "json",
            FormatKind::Custom => "custom",
        }
    }
}

/// What `--log-format` asked for, compiled.
#[derive(Debug, Clone)]
enum Spec {
    /// Per line: JSON if it starts with `{`, else combined (which also reads
    /// common lines), else vhost_combined when the first word is `host:port`.
    Auto {
        combined: Program,
        vhost: Program,
    },
    /// One text program; `kind` is what its lines are reported as.
    Text {
        program: Program,
        kind: FormatKind,
        /// Read by `spec_name`, which only tests use.
        #[cfg_attr(not(test), allow(dead_code))]
        name: &'static str,
    },
    Json,
}

/// An access-log parser for one `log_format` setting and `trusted_proxies` list.
#[derive(Debug, Clone)]
pub struct AccessParser {
    spec: Spec,
    trusted: Vec<IpNet>,
    /// The last `$time_local` and its answer (text formats).
    clf: ClfMemo,
}

impl AccessParser {
    /// Build a parser for `spec`: `auto`, `combined`, `common`,
    /// `vhost_combined`, `json` (any case), or an nginx `log_format` string
    /// (anything containing `$`). `trusted_proxies` fills [`AccessHit::client`].
    pub fn new(spec: &str, trusted_proxies: Vec<IpNet>) -> Result<AccessParser, FormatError> {
        let spec = spec.trim();
        let named = |name: &str| spec.eq_ignore_ascii_case(name);
        let text = |format: &str, kind, name| -> Result<Spec, FormatError> {
            let mut program = Program::compile(format)?;
            if kind == FormatKind::Combined {
                program = program.with_short_end(COMMON_FIELDS);
            }
            if kind == FormatKind::VhostCombined {
                program = program.with_short_end(VHOST_COMMON_FIELDS);
            }
            Ok(Spec::Text {
                program,
                kind,
                name,
            })
        };
        let spec = if named("auto") {
            Spec::Auto {
                combined: Program::compile(COMBINED)?.with_short_end(COMMON_FIELDS),
                vhost: Program::compile(VHOST_COMBINED)?.with_short_end(VHOST_COMMON_FIELDS),
            }
        } else if named("combined") {
            text(COMBINED, FormatKind::Combined, "combined")?
        } else if named("common") {
            text(COMMON, FormatKind::Common, "common")?
        } else if named("vhost_combined") {
            text(VHOST_COMBINED, FormatKind::VhostCombined, "vhost_combined")?
        } else if named("json") {
            Spec::Json
        } else if spec.contains('$') {
            text(spec, FormatKind::Custom, "custom")?
        } else {
            return Err(FormatError::UnknownName(spec.to_owned()));
        };
        Ok(AccessParser {
            spec,
            trusted: trusted_proxies,
            clf: ClfMemo::default(),
        })
    }

    /// `auto`, `combined`, `common`, `vhost_combined`, `json` or `custom`.
    #[cfg(test)]
    pub(crate) fn spec_name(&self) -> &str {
        match &self.spec {
            Spec::Auto { .. } => "auto",
            Spec::Text { name, .. } => name,
            Spec::Json => "json",
        }
    }

    /// Parse one complete line (without its `\n`; a trailing `\r` is dropped).
    /// `scratch` holds JSON string values decoded from their escapes (the
    /// hit may borrow it); reuse one for every line: a line without escapes
    /// leaves it alone.
    pub fn parse<'a>(
        &self,
        line: &'a [u8],
        scratch: &'a mut Vec<u8>,
    ) -> Result<(AccessHit<'a>, FormatKind), Malformed> {
        self.parse_with(line, scratch, |_| {})
    }

    /// [`parse`](Self::parse), telling `early` the address a text line starts
    /// with before the rest of it is parsed (most formats start with
    /// `$remote_addr`): the engine starts loading that client's row then, so
    /// its cache misses overlap with the parsing.
    #[inline]
    pub fn parse_with<'a, F: FnOnce(IpAddr)>(
        &self,
        line: &'a [u8],
        scratch: &'a mut Vec<u8>,
        early: F,
    ) -> Result<(AccessHit<'a>, FormatKind), Malformed> {
        self.parse_via(line, scratch, None, early, Route::Fast)
    }

    /// [`parse_with`](Self::parse_with) of a line whose leading address
    /// `ahead` may have read already (from the bytes after the line before):
    /// then that reading is used and `early` is not called, as the caller
    /// started loading the row when `ahead` read it.
    #[inline]
    pub fn parse_after<'a, F: FnOnce(IpAddr)>(
        &self,
        line: &'a [u8],
        scratch: &'a mut Vec<u8>,
        ahead: &LeadAhead,
        early: F,
    ) -> Result<(AccessHit<'a>, FormatKind), Malformed> {
        let known = ahead.lead_of(line);
        self.parse_via(line, scratch, known, early, Route::Fast)
    }

    /// [`parse`](Self::parse) through the generic `log_format` program only,
    /// never the combined fast path: the reference the differential tests
    /// and the `access_combined` fuzz target compare `parse` with.
    #[doc(hidden)]
    pub fn parse_generic<'a>(
        &self,
        line: &'a [u8],
        scratch: &'a mut Vec<u8>,
    ) -> Result<(AccessHit<'a>, FormatKind), Malformed> {
        self.parse_via(line, scratch, None, |_| {}, Route::Generic)
    }

    #[inline]
    fn parse_via<'a, F: FnOnce(IpAddr)>(
        &self,
        line: &'a [u8],
        scratch: &'a mut Vec<u8>,
        known: Option<LeadingAddress<'a>>,
        early: F,
        route: Route,
    ) -> Result<(AccessHit<'a>, FormatKind), Malformed> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let fast = |lead: Option<LeadingAddress<'a>>| match (route, lead) {
            (Route::Fast, Some(lead)) => combined::hit(line, lead, &self.trusted, &self.clf),
            _ => None,
        };
        let announce = |early: F| {
            if known.is_some() {
                return known;
            }
            let lead = leading_address(line);
            if let Some(lead) = lead {
                early(lead.ip);
            }
            lead
        };
        match &self.spec {
            Spec::Auto { .. } if line.first() == Some(&b'{') => self.json(line, scratch),
            Spec::Auto { combined, vhost } => {
                let lead = announce(early);
                if let Some(hit) = fast(lead) {
                    return Ok(hit);
                }
                self.auto_text(line, combined, vhost, lead)
            }
            Spec::Text { program, kind, .. } => {
                let lead = announce(early);
                if *kind == FormatKind::Combined {
                    if let Some(hit) = fast(lead) {
                        return Ok(hit);
                    }
                }
                let fields = program.run(line)?;
                let kind = reported_kind(*kind, fields.short);
                Ok((
                    hit_from_fields(&fields, &self.trusted, &self.clf, lead)?,
                    kind,
                ))
            }
            Spec::Json => self.json(line, scratch),
        }
    }

    /// Combined (or common), falling back to vhost_combined when the first
    /// word is not an address but looks like `host:port`.
    fn auto_text<'a>(
        &self,
        line: &'a [u8],
        combined: &Program,
        vhost: &Program,
        lead: Option<LeadingAddress<'a>>,
    ) -> Result<(AccessHit<'a>, FormatKind), Malformed> {
        let first_try = combined.run(line).and_then(|fields| {
            let kind = reported_kind(FormatKind::Combined, fields.short);
            Ok((
                hit_from_fields(&fields, &self.trusted, &self.clf, lead)?,
                kind,
            ))
        });
        let Err(err) = first_try else {
            return first_try;
        };
        let first_word = line.split(|&c| c == b' ').next().unwrap_or_default();
        if memchr::memchr(b':', first_word).is_none() {
            return Err(err);
        }
        let fields = vhost.run(line).map_err(|_| err)?;
        let kind = reported_kind(FormatKind::VhostCombined, fields.short);
        Ok((
            hit_from_fields(&fields, &self.trusted, &self.clf, None)?,
            kind,
        ))
    }

    fn json<'a>(
        &self,
        line: &'a [u8],
        scratch: &'a mut Vec<u8>,
    ) -> Result<(AccessHit<'a>, FormatKind), Malformed> {
        let mut f = json::scan(line)?;
        f.decode(scratch)?;
        let (peer, client) = caddy_addresses(&f, &self.trusted)?;
        // A line with neither method nor path is no request: counting it as
        // one would hide a misread log behind rows with status 0.
        if f.method.is_empty() && f.uri.is_empty() {
            return Err(Malformed::Shape);
        }
        let time = if f.ts_is_string {
            parse_rfc3339(f.ts).or_else(|| parse_epoch(f.ts))
        } else {
            parse_epoch(f.ts)
        };
        let hit = AccessHit {
            peer,
            client,
            time,
            method: f.method,
            path: f.uri,
            status: parse_status(f.status),
            bytes: parse_bytes(f.size),
            user_agent: f.user_agent,
            forwarded_for: f.forwarded_for,
            client_ip_field: f.client_ip,
            host: f.host,
        };
        Ok((hit, FormatKind::Json))
    }
}

/// Whether [`AccessParser::parse_via`] may take the combined fast path.
#[derive(Clone, Copy)]
enum Route {
    /// [`combined::hit`] first, the program when it declines.
    Fast,
    /// The program only (the reference for differential tests).
    Generic,
}

/// A combined-family line that stopped after the bytes field reads as common.
fn reported_kind(kind: FormatKind, short: bool) -> FormatKind {
    match (kind, short) {
        (FormatKind::Combined, true) => FormatKind::Common,
        (kind, _) => kind,
    }
}

/// A line's first word, when it is an address.
#[derive(Clone, Copy)]
struct LeadingAddress<'a> {
    word: &'a [u8],
    ip: IpAddr,
}

/// The leading address of the next line, read from the bytes after the line
/// being handled, so the caller can start loading its row one line early;
/// the next line's parse then takes it instead of reading the address again.
///
/// Kept as a copy of the word, not a pointer into the read buffer: the next
/// line may come from another buffer, or from this one after it was refilled.
/// A line starting with the same word and a space has the same leading
/// address ([`leading_address`] reads nothing past the first space).
#[derive(Debug, Clone, Copy)]
pub struct LeadAhead {
    word: [u8; LEAD_MAX],
    /// 0: nothing read ahead.
    len: usize,
    ip: IpAddr,
}

/// Longest leading address text [`LeadAhead`] keeps (IPv6's longest is 45).
const LEAD_MAX: usize = 45;

impl Default for LeadAhead {
    fn default() -> Self {
        LeadAhead {
            word: [0; LEAD_MAX],
            len: 0,
            ip: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        }
    }
}

impl LeadAhead {
    /// Read the leading address of `next`, the bytes after the current line
    /// (the next line, maybe only its start): only a word ended by a space
    /// within them counts, as a cut-off word may be part of a longer one.
    /// Returns the address, to start loading its row.
    #[inline]
    pub fn read(&mut self, next: &[u8]) -> Option<IpAddr> {
        self.len = 0;
        let lead = leading_address(next)?;
        let len = lead.word.len();
        if len > LEAD_MAX || next.get(len) != Some(&b' ') {
            return None;
        }
        self.word[..len].copy_from_slice(lead.word);
        (self.len, self.ip) = (len, lead.ip);
        Some(lead.ip)
    }

    /// The address read ahead, when `line` starts with its word and a space.
    #[inline]
    fn lead_of<'a>(&self, line: &'a [u8]) -> Option<LeadingAddress<'a>> {
        let len = self.len;
        if len == 0 || line.get(len) != Some(&b' ') || line[..len] != self.word[..len] {
            return None;
        }
        Some(LeadingAddress {
            word: &line[..len],
            ip: self.ip,
        })
    }
}

/// The address a line starts with, if it does (the longest IPv6 text is 45 bytes).
#[inline]
fn leading_address(line: &[u8]) -> Option<LeadingAddress<'_>> {
    if let Some((ip, len)) = leading_ipv4(line) {
        return Some(LeadingAddress {
            word: &line[..len],
            ip: IpAddr::V4(ip),
        });
    }
    let head = &line[..line.len().min(46)];
    let word = memchr::memchr(b' ', head).map_or(head, |end| &head[..end]);
    Some(LeadingAddress {
        word,
        ip: parse_ip(word)?,
    })
}

/// The hit for a text line's captured fields; `lead` saves parsing
/// `$remote_addr` again when it is the line's first word.
fn hit_from_fields<'a>(
    f: &Fields<'a>,
    trusted: &[IpNet],
    clf: &ClfMemo,
    lead: Option<LeadingAddress<'a>>,
) -> Result<AccessHit<'a>, Malformed> {
    let raw = f.get(Var::RemoteAddr);
    let peer = match lead {
        Some(lead) if std::ptr::eq(raw, lead.word) => lead.ip,
        _ => parse_ip(raw).ok_or(Malformed::ClientNotIp)?,
    };
    let forwarded_for = not_dash(f.get(Var::HttpXForwardedFor));
    let client = if trusted.is_empty() {
        peer
    } else {
        resolve_client(peer, forwarded_for, b"", trusted)
    };
    let (method, path) = match f.get(Var::Request) {
        b"" => (f.get(Var::RequestMethod), not_dash(f.get(Var::RequestUri))),
        request => split_request(request),
    };
    let bytes = match f.get(Var::BodyBytesSent) {
        b"" => f.get(Var::BytesSent),
        body => body,
    };
    let host = [Var::Host, Var::ServerName, Var::HttpHost]
        .into_iter()
        .map(|var| not_dash(f.get(var)))
        .find(|host| !host.is_empty())
        .unwrap_or_default();
    Ok(AccessHit {
        peer,
        client,
        time: text_time(f, clf),
        method,
        path,
        status: parse_status(f.get(Var::Status)),
        bytes: parse_bytes(bytes),
        user_agent: not_dash(f.get(Var::HttpUserAgent)),
        forwarded_for,
        client_ip_field: b"",
        host,
    })
}

/// `$time_local`, else `$time_iso8601`, else `$msec`.
fn text_time(f: &Fields<'_>, clf: &ClfMemo) -> Option<UnixTime> {
    clf.parse(f.get(Var::TimeLocal))
        .or_else(|| parse_rfc3339(f.get(Var::TimeIso8601)))
        .or_else(|| parse_epoch(f.get(Var::Msec)))
}

/// The peer (who connected) and the client of a Caddy line.
///
/// The peer is `remote_ip` (or `remote_addr` without its port), falling back
/// to `client_ip` when the line has neither. The client is Caddy's
/// `client_ip` (Caddy sets it from its own `trusted_proxies`), or the result
/// of our `trusted_proxies` when the peer is one of ours. A present address
/// field that is not an address makes the whole line [`Malformed::ClientNotIp`].
fn caddy_addresses(
    f: &json::CaddyFields<'_>,
    trusted: &[IpNet],
) -> Result<(IpAddr, IpAddr), Malformed> {
    let parse = |raw: &[u8]| match raw {
        b"" => Ok(None),
        raw => proxy::parse_host_port(raw)
            .map(Some)
            .ok_or(Malformed::ClientNotIp),
    };
    let client_ip = parse(f.client_ip)?;
    let remote = match parse(f.remote_ip)? {
        Some(ip) => Some(ip),
        None => parse(f.remote_addr)?,
    };
    let peer = remote.or(client_ip).ok_or(Malformed::NoClient)?;
    let client = if proxy::is_trusted(peer, trusted) {
        resolve_client(peer, f.forwarded_for, f.client_ip, trusted)
    } else {
        client_ip.unwrap_or(peer)
    };
    Ok((peer, client))
}

/// `METHOD PATH PROTO` → (method, path); see the module docs for the rest.
fn split_request(request: &[u8]) -> (&[u8], &[u8]) {
    if request == b"-" {
        return (b"", b"");
    }
    // The method is the first word when that is 1-32 method characters;
    // one pass finds its end and checks it (no separate search for the space).
    let mut method_len = 0;
    while method_len <= METHOD_MAX && request.get(method_len).is_some_and(|&c| is_method_char(c)) {
        method_len += 1;
    }
    if method_len == 0 || method_len > METHOD_MAX {
        return (b"", request);
    }
    let rest = match request.get(method_len) {
        None => &b""[..],
        Some(b' ') => &request[method_len + 1..],
        Some(_) => return (b"", request),
    };
    let path = match memchr::memchr(b' ', rest) {
        Some(sp) => &rest[..sp],
        None => rest,
    };
    (&request[..method_len], path)
}

/// The longest HTTP method we take as one.
const METHOD_MAX: usize = 32;

/// A byte of an HTTP method as servers log it: `A-Z`, `-`, `_`.
#[inline]
fn is_method_char(c: u8) -> bool {
    c.is_ascii_uppercase() || c == b'-' || c == b'_'
}

/// 1-3 digits, else 0 ("no readable status").
fn parse_status(b: &[u8]) -> u16 {
    if b.is_empty() || b.len() > 3 || !b.iter().all(u8::is_ascii_digit) {
        return 0;
    }
    b.iter().fold(0, |acc, &c| acc * 10 + u16::from(c - b'0'))
}

/// Digits that fit a `u64`, else 0 (`-` included).
fn parse_bytes(b: &[u8]) -> u64 {
    if b.is_empty() || b.len() > 19 || !b.iter().all(u8::is_ascii_digit) {
        return 0;
    }
    b.iter().fold(0, |acc, &c| acc * 10 + u64::from(c - b'0'))
}

/// Empty for nginx's `-` placeholder.
#[inline]
fn not_dash(b: &[u8]) -> &[u8] {
    if b == b"-" {
        b""
    } else {
        b
    }
}
