//! A zero-copy scanner for the few keys of a Caddy JSON access line, and
//! of the flat JSON lines nethergaze 0.2.0 read (`path`, `status` or
//! `resp_status`, `bytes_sent` or `resp_size`, `user_agent` or `user-agent`,
//! `timestamp` or `time`; the client from `remote_addr`, `remote_ip` or
//! `client_ip`).
//!
//! Not a JSON parser: it walks the top-level object, steps into `request` and
//! `headers`, and skips every other value by counting brackets outside
//! strings (no recursion, so deep nesting cannot overflow the stack).
//! [`scan`] returns strings *raw*: the bytes between the quotes, JSON escapes
//! left as written (`/a\"b`, `\u00e9`); [`CaddyFields::decode`] then decodes
//! the values that hold a backslash into a scratch buffer the caller reuses,
//! so a line without escapes (nearly all) is neither copied nor allocated
//! for. Keys are compared raw, so an escaped key is a different key.
//! Truncated or broken JSON, a bad escape included, is [`Malformed::Shape`];
//! nothing here panics on any input. Decoded text may hold any character
//! (`\u001b` is ESC): it is sanitised where it is shown, like any other.

use super::super::Malformed;

/// Raw values of the keys we read, empty when absent.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct CaddyFields<'a> {
    pub(super) ts: &'a [u8],
    pub(super) ts_is_string: bool,
    pub(super) status: &'a [u8],
    pub(super) size: &'a [u8],
    pub(super) method: &'a [u8],
    pub(super) uri: &'a [u8],
    pub(super) host: &'a [u8],
    /// `request.client_ip`, else a top-level `client_ip`.
    pub(super) client_ip: &'a [u8],
    /// `request.remote_ip`, else a top-level `remote_ip`: no port.
    pub(super) remote_ip: &'a [u8],
    /// `remote_addr` at either level: `ip:port` or `[v6]:port`.
    pub(super) remote_addr: &'a [u8],
    pub(super) user_agent: &'a [u8],
    pub(super) forwarded_for: &'a [u8],
}

impl<'a> CaddyFields<'a> {
    /// The string values, each decoded in place of its raw bytes when it
    /// holds an escape. `scratch` then holds the decoded bytes (cleared
    /// first); when no value holds a backslash, it is not touched. Only the
    /// few values kept are searched, not the whole line.
    pub(super) fn decode(&mut self, scratch: &'a mut Vec<u8>) -> Result<(), Malformed> {
        // Decode every escaped value first (the buffer may move while it
        // grows), then point the fields at their ranges.
        let mut spans: [Option<(usize, usize)>; FIELDS] = [None; FIELDS];
        let mut escaped = false;
        for (span, raw) in spans.iter_mut().zip(self.strings()) {
            if has_backslash(raw) {
                if !escaped {
                    scratch.clear();
                    escaped = true;
                }
                let start = scratch.len();
                unescape(raw, scratch).ok_or(Malformed::Shape)?;
                *span = Some((start, scratch.len()));
            }
        }
        if !escaped {
            return Ok(());
        }
        let decoded: &'a [u8] = scratch;
        for (field, span) in self.string_slots().into_iter().zip(spans) {
            if let Some((start, end)) = span {
                *field = &decoded[start..end];
            }
        }
        Ok(())
    }

    /// The fields that hold JSON strings, in [`string_slots`](Self::string_slots) order.
    fn strings(&self) -> [&'a [u8]; FIELDS] {
        [
            self.ts,
            self.method,
            self.uri,
            self.host,
            self.client_ip,
            self.remote_ip,
            self.remote_addr,
            self.user_agent,
            self.forwarded_for,
        ]
    }

    fn string_slots(&mut self) -> [&mut &'a [u8]; FIELDS] {
        [
            &mut self.ts,
            &mut self.method,
            &mut self.uri,
            &mut self.host,
            &mut self.client_ip,
            &mut self.remote_ip,
            &mut self.remote_addr,
            &mut self.user_agent,
            &mut self.forwarded_for,
        ]
    }
}

/// Whether `raw` holds a backslash. The values are short (tens of bytes): a
/// branch-free pass the compiler vectorises costs less than a `memchr` call
/// per value, on the path every JSON line takes.
#[inline]
fn has_backslash(raw: &[u8]) -> bool {
    raw.iter().fold(false, |seen, &b| seen | (b == b'\\'))
}

/// How many fields [`CaddyFields::decode`] decodes.
const FIELDS: usize = 9;

/// Append the JSON string contents `raw` (between the quotes) to `out`,
/// escapes decoded. `None` for an escape JSON does not have; a lone
/// surrogate (valid JSON, no character) becomes U+FFFD.
fn unescape(raw: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let mut rest = raw;
    while let Some(at) = memchr::memchr(b'\\', rest) {
        out.extend_from_slice(&rest[..at]);
        let (c, len) = match *rest.get(at + 1)? {
            b'"' => ('"', 2),
            b'\\' => ('\\', 2),
            b'/' => ('/', 2),
            b'b' => ('\u{8}', 2),
            b'f' => ('\u{c}', 2),
            b'n' => ('\n', 2),
            b'r' => ('\r', 2),
            b't' => ('\t', 2),
            b'u' => unicode_escape(&rest[at..])?,
            _ => return None,
        };
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        rest = &rest[at + len..];
    }
    out.extend_from_slice(rest);
    Some(())
}

/// The character of a `\uXXXX` escape at the start of `s` (with its low
/// surrogate `\uXXXX` when it is a high one), and the bytes it took.
fn unicode_escape(s: &[u8]) -> Option<(char, usize)> {
    let unit = |at: usize| -> Option<u32> {
        let hex = s.get(at..at + 4)?;
        hex.iter().try_fold(0, |n, &d| {
            let digit = char::from(d).to_digit(16)?;
            Some(n << 4 | digit)
        })
    };
    let high = unit(2)?;
    if (0xd800..0xdc00).contains(&high) && s.get(6..8) == Some(&b"\\u"[..]) {
        if let Some(low) = unit(8).filter(|low| (0xdc00..0xe000).contains(low)) {
            let c = 0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00);
            return Some((char::from_u32(c)?, 12));
        }
    }
    Some((
        char::from_u32(high).unwrap_or(char::REPLACEMENT_CHARACTER),
        6,
    ))
}

/// Set `slot` to `value` unless an earlier key already filled it.
#[inline]
fn fill_gap<'a>(slot: &mut &'a [u8], value: &'a [u8]) -> Option<()> {
    if slot.is_empty() {
        *slot = value;
    }
    Some(())
}

/// Which object the scanner is in; decides which keys matter.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Top,
    Request,
}

/// Scan one line that starts with `{`.
pub(super) fn scan(line: &[u8]) -> Result<CaddyFields<'_>, Malformed> {
    let mut out = CaddyFields::default();
    let mut cur = Cursor { b: line, at: 0 };
    cur.object(|cur, key| cur.member(key, Level::Top, &mut out))
        .ok_or(Malformed::Shape)?;
    Ok(out)
}

/// Position in the line; every method returns `None` on anything unexpected.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    #[inline]
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        self.skip_ws();
        (self.peek()? == c).then(|| self.at += 1)
    }

    /// `{ "key": value, ... }`: `member` must consume each value.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.skip_ws();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            self.skip_ws();
            let key = self.string()?;
            self.eat(b':')?;
            self.skip_ws();
            member(self, key)?;
            self.skip_ws();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string at the cursor: its raw contents, escapes untouched.
    fn string(&mut self) -> Option<&'a [u8]> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.at + 1;
        let mut from = start;
        loop {
            let quote = from + memchr::memchr(b'"', self.b.get(from..)?)?;
            let backslashes = self.b[start..quote]
                .iter()
                .rev()
                .take_while(|&&c| c == b'\\')
                .count();
            if backslashes % 2 == 0 {
                self.at = quote + 1;
                return Some(&self.b[start..quote]);
            }
            from = quote + 1;
        }
    }

    /// A number or `true`/`false`/`null`: the bytes up to a delimiter.
    fn bare(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        while let Some(c) = self.peek() {
            if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            if matches!(c, b'"' | b'{' | b'[' | b':') {
                return None;
            }
            self.at += 1;
        }
        (self.at > start).then(|| &self.b[start..self.at])
    }

    /// A scalar value: (raw bytes, whether it was a string). `None` for
    /// objects and arrays, which are skipped.
    fn scalar(&mut self) -> Option<(&'a [u8], bool)> {
        match self.peek()? {
            b'"' => Some((self.string()?, true)),
            b'{' | b'[' => {
                self.skip_value()?;
                Some((&[], false))
            }
            _ => Some((self.bare()?, false)),
        }
    }

    /// Skip any value. Containers are skipped by depth counting, strings by
    /// [`Cursor::string`], so brackets inside strings don't count.
    fn skip_value(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            self.skip_ws();
            match self.peek()? {
                b'{' | b'[' => {
                    depth += 1;
                    self.at += 1;
                }
                b'}' | b']' if depth > 0 => {
                    depth -= 1;
                    self.at += 1;
                }
                b'"' => {
                    self.string()?;
                }
                b',' | b':' if depth > 0 => self.at += 1,
                _ => {
                    self.bare()?;
                }
            }
            if depth == 0 {
                return Some(());
            }
        }
    }

    /// A string, or the first string of an array (`"headers":{"User-Agent":["x"]}`).
    fn first_string(&mut self) -> Option<&'a [u8]> {
        if self.peek()? != b'[' {
            return Some(self.scalar()?.0);
        }
        let start = self.at;
        self.at += 1;
        self.skip_ws();
        let first = if self.peek()? == b'"' {
            self.string()?
        } else {
            &[]
        };
        self.at = start;
        self.skip_value()?;
        Some(first)
    }

    /// One member of the top-level or `request` object.
    fn member(&mut self, key: &'a [u8], level: Level, out: &mut CaddyFields<'a>) -> Option<()> {
        let slot = match key {
            b"request" if level == Level::Top && self.peek()? == b'{' => {
                return self.object(|cur, key| cur.member(key, Level::Request, out));
            }
            b"headers" if self.peek()? == b'{' => {
                return self.object(|cur, key| cur.header(key, out));
            }
            b"ts" if level == Level::Top => {
                let (ts, is_string) = self.scalar()?;
                (out.ts, out.ts_is_string) = (ts, is_string);
                return Some(());
            }
            // 0.2.0's flat names: each only fills a gap Caddy's own left.
            b"timestamp" | b"time" => {
                let (ts, is_string) = self.scalar()?;
                if out.ts.is_empty() {
                    (out.ts, out.ts_is_string) = (ts, is_string);
                }
                return Some(());
            }
            b"user_agent" | b"user-agent" => {
                let value = self.first_string()?;
                if out.user_agent.is_empty() {
                    out.user_agent = value;
                }
                return Some(());
            }
            // Caddy writes these at the top: they beat 0.2.0's flat aliases.
            b"status" | b"size" if level == Level::Top => {
                let slot = if key == b"status" {
                    &mut out.status
                } else {
                    &mut out.size
                };
                *slot = self.scalar()?.0;
                return Some(());
            }
            b"status" => &mut out.status,
            b"resp_status" => return fill_gap(&mut out.status, self.scalar()?.0),
            b"size" => &mut out.size,
            b"bytes_sent" | b"resp_size" => return fill_gap(&mut out.size, self.scalar()?.0),
            b"method" => &mut out.method,
            b"uri" => &mut out.uri,
            b"path" => return fill_gap(&mut out.uri, self.scalar()?.0),
            b"host" => &mut out.host,
            b"client_ip" => &mut out.client_ip,
            b"remote_ip" => &mut out.remote_ip,
            b"remote_addr" => &mut out.remote_addr,
            _ => return self.skip_value(),
        };
        let value = self.scalar()?.0;
        // `request.*` is what Caddy writes; a flat key only fills a gap.
        if level == Level::Request || slot.is_empty() {
            *slot = value;
        }
        Some(())
    }

    /// One member of a `headers` object (Go canonicalises names; we still
    /// compare without case, as HTTP does).
    fn header(&mut self, key: &'a [u8], out: &mut CaddyFields<'a>) -> Option<()> {
        if key.eq_ignore_ascii_case(b"user-agent") {
            out.user_agent = self.first_string()?;
        } else if key.eq_ignore_ascii_case(b"x-forwarded-for") {
            out.forwarded_for = self.first_string()?;
        } else {
            self.skip_value()?;
        }
        Some(())
    }
}

#[cfg(test)]
mod tests;
