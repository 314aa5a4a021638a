//! sshd log lines → [`AuthEvent`], borrowing the line.
//!
//! A line is read in two steps. The *frame* (timestamp, host, program tag)
//! comes first, so lines from other programs are rejected after a few byte
//! compares. The *message* is then matched against the fixed sshd wordings
//! (OpenSSH 8.x–10.x). The client address is always taken from the anchored
//! right-hand part of the message, because the user name sits to its left and
//! is chosen by whoever connects: `ssh -l 'x from 10.9.9.9 port 22 ssh2'` is a
//! valid user name, and sshd logs it verbatim.
//!
//! Frames understood:
//! - classic syslog `Nov 25 17:41:52 host sshd[123]: MSG` (no year: inferred,
//!   local time, see [`AuthParser`]);
//! - RFC 3339 `2026-11-25T17:41:52.123456+00:00 host sshd[123]: MSG` (rsyslog
//!   high precision, `journalctl -o short-iso[-precise]`);
//! - RFC 5424 `<34>1 2026-11-25T17:41:52.003Z host sshd 123 - - MSG`;
//! - any of the first two behind a `<PRI>`, with or without the host field.
//!
//! Program names `sshd`, `sshd-session` and `sshd-auth`, with or without `[pid]`.

use std::net::IpAddr;

use memchr::memmem;

use super::time::{civil_from_days, digits, month_from_abbrev, parse_rfc3339, unix_from_civil};
use super::{parse_ip, AuthEvent, AuthKind, UnixTime};
use crate::sys::time;

/// How far after the reference time a yearless syslog stamp may land: clocks
/// of writer and reader may disagree a little, and a line can be read a tick
/// before `set_now` catches up with it.
const MAX_AHEAD: i64 = 86_400; // 1 day, in seconds

/// The cached UTC offset is recomputed when the reference moves this far; it
/// only chooses the year, so an hour of DST staleness cannot matter.
const OFFSET_REFRESH: i64 = 3_600; // seconds

/// Ports are at most five digits; anything longer is not sshd's output.
const MAX_PORT_DIGITS: usize = 5;

/// Parses sshd lines of one stream (one log source).
///
/// Holds the injected clock and the year-inference state: a syslog stamp has
/// no year, so the parser picks the latest year that puts the line no more
/// than a day after the reference time, where the reference is the later of
/// "now" and the newest stamp already seen in this stream. So `Dec 31 23:59`
/// read on Jan 1 is last year, and a stream that goes Dec → Jan advances the
/// year even when `now` lags behind it. Times are local (libc `mktime`).
#[derive(Debug)]
pub struct AuthParser {
    now: UnixTime,
    /// Newest syslog-stamped event time seen in this stream.
    newest: Option<UnixTime>,
    /// `(reference it was computed for, seconds east of UTC)`.
    offset: Option<(UnixTime, i64)>,
    from: memmem::Finder<'static>,
}

impl AuthParser {
    /// A parser whose clock reads `now` until [`AuthParser::set_now`] moves it.
    pub fn new(now: UnixTime) -> AuthParser {
        AuthParser {
            now,
            newest: None,
            offset: None,
            from: memmem::Finder::new(b" from "),
        }
    }

    /// Move the injected clock (the loop calls this each tick).
    pub(crate) fn set_now(&mut self, now: UnixTime) {
        self.now = now;
    }

    /// The event a line reports, or `None` for lines from other programs,
    /// other sshd messages, and lines whose address slot is not an IP.
    pub fn parse<'a>(&mut self, line: &'a [u8]) -> Option<AuthEvent<'a>> {
        let frame = frame(line)?;
        let (msg, preauth) = unwrap_message(frame.msg);
        let found = classify(msg, preauth || frame.only_preauth, &self.from)?;
        let ip: IpAddr = parse_ip(found.ip)?;
        let time = match frame.stamp {
            Stamp::Syslog(s) => self.syslog_time(s),
            Stamp::Rfc3339(s) => parse_rfc3339(s),
            Stamp::Nil => None,
        };
        Some(AuthEvent {
            kind: found.kind,
            ip,
            user: found.user,
            time,
        })
    }

    /// `Nov 25 17:41:52` (15 bytes, shape already checked) → Unix time,
    /// choosing the year as described on [`AuthParser`].
    fn syslog_time(&mut self, s: &[u8]) -> Option<UnixTime> {
        let month = month_from_abbrev(&s[..3])?;
        let day = match s[4] {
            b' ' => digits(s, 5, 1)?,
            _ => digits(s, 4, 2)?,
        };
        let (h, m, sec) = (digits(s, 7, 2)?, digits(s, 10, 2)?, digits(s, 13, 2)?);
        let reference = self.newest.map_or(self.now, |n| n.max(self.now));
        let offset = self.utc_offset(reference);
        let wall_ref = reference + offset;
        let (ref_year, _, _) = civil_from_days(wall_ref.div_euclid(86_400));
        // Compare wall-clock times to choose the year; eight years back
        // reaches the last Feb 29 from any reference.
        let (year, wall) = (ref_year - 8..=ref_year + 1).rev().find_map(|y| {
            let wall = unix_from_civil(y, month, day, h, m, sec)?;
            (wall <= wall_ref + MAX_AHEAD).then_some((y, wall))
        })?;
        let t = time::mktime_local(year, month, day, h, m, sec).unwrap_or(wall - offset);
        self.newest = Some(self.newest.map_or(t, |n| n.max(t)));
        Some(t)
    }

    /// Seconds east of UTC around `t`, cached (localtime_r is not free).
    fn utc_offset(&mut self, t: UnixTime) -> i64 {
        match self.offset {
            Some((at, off)) if (t - at).abs() < OFFSET_REFRESH => off,
            _ => {
                let off = time::local_utc_offset(t);
                self.offset = Some((t, off));
                off
            }
        }
    }
}

/// Where the line's time is, before it is interpreted.
#[derive(Debug, Clone, Copy)]
enum Stamp<'a> {
    /// `Mmm dd hh:mm:ss`, 15 bytes, shape checked.
    Syslog(&'a [u8]),
    /// A full RFC 3339 / ISO 8601 field.
    Rfc3339(&'a [u8]),
    /// RFC 5424 nil value `-`.
    Nil,
}

/// A line from an sshd program, split into its stamp and its message.
#[derive(Debug)]
struct Frame<'a> {
    stamp: Stamp<'a>,
    msg: &'a [u8],
    /// The program only ever runs before authentication (`sshd-auth`), so
    /// everything it says is pre-auth even without the `[preauth]` suffix.
    only_preauth: bool,
}

/// Recognise the framing and the program; `None` for any other program.
fn frame(line: &[u8]) -> Option<Frame<'_>> {
    match line.first()? {
        b'<' => {
            // PRI is one to three digits: `<0>` .. `<191>`.
            let close = memchr::memchr(b'>', &line[..line.len().min(5)])?;
            if close < 2 || !line[1..close].iter().all(u8::is_ascii_digit) {
                return None;
            }
            let rest = &line[close + 1..];
            match rest.strip_prefix(b"1 ") {
                Some(body) => frame_5424(body),
                None => frame_3164(rest),
            }
        }
        _ => frame_3164(line),
    }
}

/// Classic syslog or RFC 3339 stamp, optional host, then `tag: message`.
fn frame_3164(line: &[u8]) -> Option<Frame<'_>> {
    let (stamp, rest) = if line.first()?.is_ascii_digit() {
        let (field, rest) = split_space(line)?;
        (Stamp::Rfc3339(field), rest)
    } else {
        let field = line.get(..15)?;
        if !is_syslog_stamp(field) || line.get(15) != Some(&b' ') {
            return None;
        }
        // Some writers pad the host column with extra spaces.
        (Stamp::Syslog(field), trim_start(&line[16..]))
    };
    let (first, after_first) = split_space(rest)?;
    // A tag ends with ':'; a host never does, so the host field is optional.
    let (tag, msg) = if first.last() == Some(&b':') {
        (first, after_first)
    } else {
        split_space(after_first)?
    };
    let name = program_name(tag.strip_suffix(b":")?)?;
    Some(Frame {
        stamp,
        msg,
        only_preauth: is_preauth_program(name)?,
    })
}

/// RFC 5424 after `<PRI>1 `: `TIMESTAMP HOST APP PROCID MSGID SD [MSG]`.
fn frame_5424(body: &[u8]) -> Option<Frame<'_>> {
    let (ts, rest) = split_space(body)?;
    let (_host, rest) = split_space(rest)?;
    let (app, rest) = split_space(rest)?;
    let only_preauth = is_preauth_program(app)?;
    let (_procid, rest) = split_space(rest)?;
    let (_msgid, rest) = split_space(rest)?;
    let after_sd = skip_structured_data(rest)?;
    let msg = match after_sd.first() {
        None => after_sd,
        Some(b' ') => &after_sd[1..],
        Some(_) => return None,
    };
    let msg = msg.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(msg);
    let stamp = if ts == b"-" {
        Stamp::Nil
    } else {
        Stamp::Rfc3339(ts)
    };
    Some(Frame {
        stamp,
        msg,
        only_preauth,
    })
}

/// Skip RFC 5424 STRUCTURED-DATA (`-` or `[id k="v\"]"]...`); the rest.
fn skip_structured_data(b: &[u8]) -> Option<&[u8]> {
    if let Some(rest) = b.strip_prefix(b"-") {
        return Some(rest);
    }
    let mut at = 0;
    while b.get(at) == Some(&b'[') {
        let (mut quoted, mut escaped) = (false, false);
        at += 1;
        loop {
            let c = *b.get(at)?;
            at += 1;
            match c {
                _ if escaped => escaped = false,
                b'\\' if quoted => escaped = true,
                b'"' => quoted = !quoted,
                b']' if !quoted => break,
                _ => {}
            }
        }
    }
    (at > 0).then(|| &b[at..])
}

/// `Nov 25 17:41:52` / `Nov  5 17:41:52` shape (values are checked later).
fn is_syslog_stamp(f: &[u8]) -> bool {
    f.len() == 15
        && f[..3].iter().all(u8::is_ascii_alphabetic)
        && f[3] == b' '
        && (f[4] == b' ' || f[4].is_ascii_digit())
        && f[5].is_ascii_digit()
        && f[6] == b' '
        && f[9] == b':'
        && f[12] == b':'
}

/// `sshd[123]` → `sshd`; `sshd` stays. `None` if the pid part is malformed.
fn program_name(tag: &[u8]) -> Option<&[u8]> {
    match tag.strip_suffix(b"]") {
        Some(inner) => {
            let open = memchr::memrchr(b'[', inner)?;
            let pid = &inner[open + 1..];
            (!pid.is_empty() && pid.iter().all(u8::is_ascii_digit)).then(|| &inner[..open])
        }
        None => Some(tag),
    }
}

/// `Some(only_preauth)` for the sshd programs, `None` for any other.
fn is_preauth_program(name: &[u8]) -> Option<bool> {
    match name {
        b"sshd" | b"sshd-session" => Some(false),
        b"sshd-auth" => Some(true),
        _ => None,
    }
}

/// Normalise the message: trim, unwrap rsyslog's `message repeated N times:
/// [ MSG]`, and strip a final ` [preauth]` (reported as the flag).
fn unwrap_message(msg: &[u8]) -> (&[u8], bool) {
    let msg = trim_end(trim_start(msg));
    let msg = repeated_inner(msg).unwrap_or(msg);
    match msg.strip_suffix(b" [preauth]") {
        Some(inner) => (inner, true),
        None => (msg, false),
    }
}

/// The inner message of `message repeated 3 times: [ MSG]`. The repeat count
/// is not carried: one event is reported for the line.
fn repeated_inner(msg: &[u8]) -> Option<&[u8]> {
    let rest = msg.strip_prefix(b"message repeated ")?;
    let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    let rest = rest[n..].strip_prefix(b" times: [")?;
    Some(trim_start(rest.strip_suffix(b"]")?))
}

/// What the message says, before the address is parsed.
#[derive(Debug, PartialEq, Eq)]
struct Found<'a> {
    kind: AuthKind,
    user: &'a [u8],
    ip: &'a [u8],
}

/// Match the fixed wordings; `preauth` says the line was pre-authentication.
fn classify<'a>(msg: &'a [u8], preauth: bool, from: &memmem::Finder) -> Option<Found<'a>> {
    let found = |kind, (user, ip)| Found { kind, user, ip };
    if let Some(rest) = msg.strip_prefix(b"Failed ") {
        return method_line(rest, from).map(|x| found(AuthKind::Failed, x));
    }
    if let Some(rest) = msg.strip_prefix(b"Accepted ") {
        return method_line(rest, from).map(|x| found(AuthKind::Accepted, x));
    }
    if let Some(rest) = msg.strip_prefix(b"Invalid user ") {
        return invalid_user(rest).map(|x| found(AuthKind::InvalidUser, x));
    }
    let closed = msg
        .strip_prefix(b"Connection closed by ")
        .or_else(|| msg.strip_prefix(b"Disconnected from "))
        .or_else(|| msg.strip_prefix(b"Connection reset by "));
    if let Some(rest) = closed {
        return closed_preauth(rest, preauth).map(|x| found(AuthKind::ClosedPreauth, x));
    }
    let error = msg.strip_prefix(b"error: ").unwrap_or(msg);
    if let Some(rest) = error.strip_prefix(b"maximum authentication attempts exceeded for ") {
        let (user, ip) = from_port_ssh2(rest, from)?;
        return Some(found(AuthKind::MaxAttempts, (strip_invalid(user), ip)));
    }
    let rest = msg
        .strip_prefix(b"Disconnecting ")?
        .strip_suffix(b": Too many authentication failures")?;
    let (_, user, ip) = preamble_ip_port(rest)?;
    Some(found(AuthKind::MaxAttempts, (user, ip)))
}

/// After `Failed `/`Accepted `: `METHOD for [invalid user ]U from IP port N ssh2[: EXTRA]`.
fn method_line<'a>(rest: &'a [u8], from: &memmem::Finder) -> Option<(&'a [u8], &'a [u8])> {
    let (method, rest) = split_space(rest)?;
    let method_ok = method.len() <= 64
        && method
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'/' | b'@' | b'.'));
    if !method_ok {
        return None;
    }
    let (user, ip) = from_port_ssh2(rest.strip_prefix(b"for ")?, from)?;
    Some((strip_invalid(user), ip))
}

/// `[invalid user ]U` → `U`.
fn strip_invalid(user: &[u8]) -> &[u8] {
    user.strip_prefix(b"invalid user ").unwrap_or(user)
}

/// Split `U from IP port N ssh2[: EXTRA]` into `(U, IP)`.
///
/// Both `U` and, for certificates, `EXTRA` (`TYPE-CERT SHA256:.. ID <key id>
/// (serial N) CA ..`) may be chosen by the client, so the anchor is found
/// structurally: a candidate is ` from TOKEN port DIGITS ssh2` followed by the
/// end or `: `. The one whose extra is empty or `TYPE FINGERPRINT` is unique
/// (any other candidate has more text after it) and is the real one, since
/// nothing hostile can follow it. Otherwise the line is accepted only when
/// there is a single candidate: with two, the line is ambiguous by
/// construction and is dropped rather than attributed to a forged address.
fn from_port_ssh2<'a>(text: &'a [u8], from: &memmem::Finder) -> Option<(&'a [u8], &'a [u8])> {
    let (mut simple, mut last, mut count) = (None, None, 0usize);
    // Overlapping search: in `U from from IP`, a non-overlapping iterator
    // would consume the real anchor's leading space and lose the event.
    let mut next = 0;
    while let Some(found) = from.find(&text[next..]) {
        let at = next + found;
        next = at + 1;
        let Some((ip, extra)) = from_candidate(&text[at + 6..]) else {
            continue;
        };
        count += 1;
        last = Some((at, ip));
        if is_plain_extra(extra) {
            simple = Some((at, ip));
        }
    }
    let (at, ip) = simple.or(if count == 1 { last } else { None })?;
    Some((&text[..at], ip))
}

/// After ` from `: `TOKEN port DIGITS ssh2` then end or `: EXTRA` → `(TOKEN, EXTRA)`.
fn from_candidate(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let (ip, rest) = split_space(s)?;
    let rest = rest.strip_prefix(b"port ")?;
    let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || n > MAX_PORT_DIGITS || ip.is_empty() {
        return None;
    }
    let rest = rest[n..].strip_prefix(b" ssh2")?;
    if rest.is_empty() {
        Some((ip, rest))
    } else {
        rest.strip_prefix(b": ").map(|extra| (ip, extra))
    }
}

/// Empty, or exactly `TYPE FINGERPRINT` (two tokens, one space). Looks at
/// most two spaces ahead, so many candidates on one line stay linear.
fn is_plain_extra(extra: &[u8]) -> bool {
    if extra.is_empty() {
        return true;
    }
    let Some(sp) = memchr::memchr(b' ', extra) else {
        return false;
    };
    let fingerprint = &extra[sp + 1..];
    sp > 0 && !fingerprint.is_empty() && memchr::memchr(b' ', fingerprint).is_none()
}

/// After `Invalid user `: `U from IP port N`, or `U from IP` (before 7.x).
fn invalid_user(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    let with_port = strip_port(rest).and_then(|head| {
        let (before, ip) = rsplit_space(head)?;
        Some((strip_from(before)?, ip))
    });
    if with_port.is_some() {
        return with_port;
    }
    // Only when the port form does not apply: sshd ≥ 7.x always writes the
    // port, so a line ending in `port N` never falls through to here usefully.
    let (before, ip) = rsplit_space(rest)?;
    Some((strip_from(before)?, ip))
}

/// `U from` → `U` (`from` alone is an empty user name).
fn strip_from(before: &[u8]) -> Option<&[u8]> {
    if before == b"from" {
        return Some(b"");
    }
    before.strip_suffix(b" from")
}

/// `X port N` → `X`, when N is a port number.
fn strip_port(s: &[u8]) -> Option<&[u8]> {
    let (head, port) = rsplit_space(s)?;
    if port.is_empty() || port.len() > MAX_PORT_DIGITS || !port.iter().all(u8::is_ascii_digit) {
        return None;
    }
    head.strip_suffix(b" port")
        .or_else(|| (head == b"port").then_some(&b""[..]))
}

/// Who sshd says is on the connection (`sshpkt_fmt_connection_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Preamble {
    /// No user yet: `IP port N`.
    Bare,
    /// `authenticating user U` (a valid account, not yet authenticated).
    Authenticating,
    /// `invalid user U`.
    Invalid,
    /// `user U`: after authentication.
    User,
}

/// `[authenticating |invalid ]user U IP port N` or `IP port N` → parts.
fn preamble_ip_port(s: &[u8]) -> Option<(Preamble, &[u8], &[u8])> {
    let head = strip_port(s)?;
    let Some((before, ip)) = rsplit_space(head) else {
        return Some((Preamble::Bare, b"", head));
    };
    // `before` lost the space that preceded the IP, so an empty user name
    // (`invalid user  1.2.3.4`) leaves exactly the prefix.
    let forms: [(&[u8], Preamble); 3] = [
        (b"authenticating user ", Preamble::Authenticating),
        (b"invalid user ", Preamble::Invalid),
        (b"user ", Preamble::User),
    ];
    forms.iter().find_map(|&(prefix, preamble)| {
        let user = before.strip_prefix(prefix)?;
        Some((preamble, user, ip))
    })
}

/// After `Connection closed by ` / `Disconnected from ` / `Connection reset by `.
///
/// Bare and `authenticating`/`invalid` forms are pre-auth by construction
/// (sshd sets those preambles only before authentication; a bare address is
/// logged before any user is named, e.g. after `kex_exchange_identification`).
/// The `user U` form is a normal logout unless the line says `[preauth]`.
fn closed_preauth(rest: &[u8], preauth: bool) -> Option<(&[u8], &[u8])> {
    let (preamble, user, ip) = preamble_ip_port(rest)?;
    (preamble != Preamble::User || preauth).then_some((user, ip))
}

/// First token and the rest after one space.
fn split_space(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let sp = memchr::memchr(b' ', b)?;
    Some((&b[..sp], &b[sp + 1..]))
}

/// Everything before the last space, and the last token.
fn rsplit_space(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let sp = memchr::memrchr(b' ', b)?;
    Some((&b[..sp], &b[sp + 1..]))
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&c| c == b' ').count();
    &b[n..]
}

/// Drop trailing CR, LF, spaces and tabs (CRLF logs, stderr captures).
fn trim_end(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .rev()
        .take_while(|&&c| matches!(c, b'\r' | b'\n' | b' ' | b'\t'))
        .count();
    &b[..b.len() - n]
}

#[cfg(test)]
mod tests;
