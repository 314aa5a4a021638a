//! nginx `log_format` strings compiled into small matching programs.
//!
//! A format such as `$remote_addr - $remote_user [$time_local] "$request" ...`
//! becomes a leading literal and a list of fields, each field followed by the
//! literal that ends it (its *terminator*). Running the program walks the line
//! once: find the terminator with `memchr`, take the bytes before it as the
//! field, step over the terminator. Captures borrow the line; nothing allocates.

use std::fmt;

use super::super::Malformed;

/// The nginx variables the parser understands. Any other variable is still a
/// field of the format (so the fields after it line up) but its value is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Var {
    RemoteAddr,
    RemoteUser,
    TimeLocal,
    TimeIso8601,
    Msec,
    Request,
    RequestMethod,
    RequestUri,
    Status,
    BodyBytesSent,
    BytesSent,
    HttpReferer,
    HttpUserAgent,
    HttpXForwardedFor,
    RequestTime,
    UpstreamResponseTime,
    Host,
    HttpHost,
    ServerName,
    ServerPort,
}

impl Var {
    /// Values that never contain a space. When such a field ends the format,
    /// it ends at the next space (anything after it is ignored); any other
    /// final field runs to the end of the line.
    fn is_single_word(self) -> bool {
        !matches!(
            self,
            Var::RemoteUser
                | Var::TimeLocal
                | Var::Request
                | Var::HttpReferer
                | Var::HttpUserAgent
                | Var::HttpXForwardedFor
                | Var::UpstreamResponseTime
        )
    }

    /// Number of variants: the size of [`Fields`]' value array.
    pub(super) const COUNT: usize = 20;

    /// The variable for an nginx variable name (without `$`), if we know it.
    fn from_name(name: &[u8]) -> Option<Var> {
        Some(match name {
            b"remote_addr" => Var::RemoteAddr,
            b"remote_user" => Var::RemoteUser,
            b"time_local" => Var::TimeLocal,
            b"time_iso8601" => Var::TimeIso8601,
            b"msec" => Var::Msec,
            b"request" => Var::Request,
            b"request_method" => Var::RequestMethod,
            b"request_uri" | b"uri" => Var::RequestUri,
            b"status" => Var::Status,
            b"body_bytes_sent" => Var::BodyBytesSent,
            b"bytes_sent" => Var::BytesSent,
            b"http_referer" => Var::HttpReferer,
            b"http_user_agent" => Var::HttpUserAgent,
            b"http_x_forwarded_for" => Var::HttpXForwardedFor,
            b"request_time" => Var::RequestTime,
            b"upstream_response_time" => Var::UpstreamResponseTime,
            b"host" => Var::Host,
            b"http_host" => Var::HttpHost,
            b"server_name" => Var::ServerName,
            b"server_port" => Var::ServerPort,
            _ => return None,
        })
    }
}

/// Why a `log_format` string cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// Neither a built-in name nor a string with `$` variables.
    UnknownName(String),
    /// The format never mentions `$remote_addr`, so no line could name a client.
    NoRemoteAddr,
    /// Two variables with nothing between them: there is no way to tell where
    /// the first ends.
    AdjacentVariables(String, String),
    /// `${name` without its closing brace.
    UnclosedBrace,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::UnknownName(name) => write!(
                f,
                "unknown log format {name:?}: expected auto, combined, common, \
                 vhost_combined, json, or an nginx log_format string with $variables"
            ),
            FormatError::NoRemoteAddr => {
                write!(f, "log format has no $remote_addr, so lines name no client")
            }
            FormatError::AdjacentVariables(a, b) => write!(
                f,
                "log format has ${a} directly followed by ${b}: a field needs a separator"
            ),
            FormatError::UnclosedBrace => {
                write!(f, "log format has \"${{\" without a closing \"}}\"")
            }
        }
    }
}

impl std::error::Error for FormatError {}

/// One field of a format and the literal text that ends it.
#[derive(Debug, Clone)]
struct Field {
    /// `None` for variables we don't know: matched, then dropped.
    var: Option<Var>,
    /// Literal after the field; empty for a field that ends the format (see
    /// [`Var::is_single_word`] for where it ends).
    term: Box<[u8]>,
}

/// A compiled `log_format`.
#[derive(Debug, Clone)]
pub(super) struct Program {
    lead: Box<[u8]>,
    fields: Box<[Field]>,
    /// A line may end cleanly after this many fields (combined lines that stop
    /// after the bytes field are common lines); `None`: all fields required.
    short_end: Option<usize>,
}

/// Captured values of one line, indexed by [`Var`]; empty when absent.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fields<'a> {
    values: [&'a [u8]; Var::COUNT],
    /// The line ended at the program's `short_end`.
    pub(super) short: bool,
}

impl<'a> Fields<'a> {
    /// The value of `var`, or empty when the format or the line lacks it.
    #[inline]
    pub(super) fn get(&self, var: Var) -> &'a [u8] {
        self.values[var as usize]
    }

    /// Record `value` for `var` (dropped for unknown variables).
    #[inline]
    fn set(&mut self, var: Option<Var>, value: &'a [u8]) {
        if let Some(var) = var {
            self.values[var as usize] = value;
        }
    }
}

impl Program {
    /// Compile an nginx `log_format` string. `$name` and `${name}` are
    /// variables; everything else is literal text that must appear verbatim.
    pub(super) fn compile(format: &str) -> Result<Program, FormatError> {
        let mut lead: Vec<u8> = Vec::new();
        let mut fields: Vec<(Option<Var>, String, Vec<u8>)> = Vec::new();
        let bytes = format.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            match variable_at(bytes, at)? {
                Some((name, next)) => {
                    if let Some((_, prev, term)) = fields.last() {
                        if term.is_empty() {
                            let prev = prev.clone();
                            return Err(FormatError::AdjacentVariables(prev, name.into()));
                        }
                    }
                    let var = Var::from_name(name.as_bytes());
                    fields.push((var, name.to_owned(), Vec::new()));
                    at = next;
                }
                None => {
                    let text = match fields.last_mut() {
                        Some((_, _, term)) => term,
                        None => &mut lead,
                    };
                    text.push(bytes[at]);
                    at += 1;
                }
            }
        }
        if !fields
            .iter()
            .any(|(var, _, _)| *var == Some(Var::RemoteAddr))
        {
            return Err(FormatError::NoRemoteAddr);
        }
        Ok(Program {
            lead: lead.into(),
            fields: fields
                .into_iter()
                .map(|(var, _, term)| Field {
                    var,
                    term: term.into(),
                })
                .collect(),
            short_end: None,
        })
    }

    /// Let lines end cleanly right after field number `n` (1-based count).
    pub(super) fn with_short_end(mut self, n: usize) -> Program {
        self.short_end = Some(n);
        self
    }

    /// Match `line` against the program. Errors are always [`Malformed::Shape`].
    pub(super) fn run<'a>(&self, line: &'a [u8]) -> Result<Fields<'a>, Malformed> {
        let mut out = Fields {
            values: [&[]; Var::COUNT],
            short: false,
        };
        if !starts_with_short(line, &self.lead) {
            return Err(Malformed::Shape);
        }
        let mut rest = &line[self.lead.len()..];
        for (i, field) in self.fields.iter().enumerate() {
            if field.term.is_empty() {
                let single_word = field.var.is_some_and(Var::is_single_word);
                out.set(
                    field.var,
                    if single_word { until_space(rest) } else { rest },
                );
                return Ok(out);
            }
            match find_term(rest, &field.term) {
                Some(end) => {
                    out.set(field.var, &rest[..end]);
                    rest = &rest[end + field.term.len()..];
                }
                None if self.short_end == Some(i + 1) => {
                    let value = until_space(rest);
                    if value.is_empty() || !rest[value.len()..].iter().all(u8::is_ascii_whitespace)
                    {
                        return Err(Malformed::Shape);
                    }
                    out.set(field.var, value);
                    out.short = true;
                    return Ok(out);
                }
                None => return Err(Malformed::Shape),
            }
        }
        Ok(out)
    }
}

/// A variable starting at `at` (`$name` or `${name}`): its name and the index
/// after it. `$` not followed by a name character is a literal dollar.
fn variable_at(bytes: &[u8], at: usize) -> Result<Option<(&str, usize)>, FormatError> {
    if bytes[at] != b'$' {
        return Ok(None);
    }
    let is_name = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_';
    if bytes.get(at + 1) == Some(&b'{') {
        let close = bytes[at + 2..]
            .iter()
            .position(|&c| c == b'}')
            .ok_or(FormatError::UnclosedBrace)?;
        let name = &bytes[at + 2..at + 2 + close];
        return Ok(std::str::from_utf8(name)
            .ok()
            .map(|name| (name, at + 3 + close)));
    }
    let len = bytes[at + 1..].iter().take_while(|c| is_name(c)).count();
    if len == 0 {
        return Ok(None);
    }
    let name = std::str::from_utf8(&bytes[at + 1..at + 1 + len]).ok();
    Ok(name.map(|name| (name, at + 1 + len)))
}

/// Bytes up to the first space (or the end).
#[inline]
fn until_space(b: &[u8]) -> &[u8] {
    match memchr::memchr(b' ', b) {
        Some(end) => &b[..end],
        None => b,
    }
}

/// Where `term` next occurs in `hay`, skipping occurrences that are not the
/// end of the field:
/// - a closing quote preceded by an odd number of backslashes (`\"` is part
///   of a quoted field, as Apache writes it);
/// - a space inside a list value (`0.002, 0.004`, `10.0.0.1:80 : 10.0.0.2:80`,
///   an X-Forwarded-For chain), as nginx writes upstream and header lists.
#[inline]
fn find_term(hay: &[u8], term: &[u8]) -> Option<usize> {
    let first = term[0];
    let mut from = 0;
    while let Some(found) = memchr::memchr(first, &hay[from..]) {
        let at = from + found;
        from = at + 1;
        if !starts_with_short(&hay[at..], term) {
            continue;
        }
        if first == b'"' && escaped(&hay[..at]) {
            continue;
        }
        if first == b' ' && !term.starts_with(b" :") && in_list(hay, at) {
            continue;
        }
        return Some(at);
    }
    None
}

/// `hay.starts_with(term)` without a libc `bcmp` call: terms are a few bytes
/// of format text, and this runs for every candidate on every line.
#[inline]
fn starts_with_short(hay: &[u8], term: &[u8]) -> bool {
    hay.len() >= term.len() && hay.iter().zip(term).all(|(a, b)| a == b)
}

/// Whether the byte after `before` is escaped by an odd run of backslashes.
#[inline]
fn escaped(before: &[u8]) -> bool {
    before.iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 1
}

/// Whether the space at `at` separates items of a list rather than fields.
#[inline]
fn in_list(hay: &[u8], at: usize) -> bool {
    let prev = at.checked_sub(1).map(|i| hay[i]);
    let prev2 = at.checked_sub(2).map(|i| hay[i]);
    prev == Some(b',')
        || hay[at..].starts_with(b" : ")
        || (prev == Some(b':') && prev2 == Some(b' '))
}

#[cfg(test)]
mod tests;
