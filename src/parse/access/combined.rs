//! The combined (and common) layout read in one straight pass.
//!
//! [`Program::run`](super::format::Program::run) interprets any `log_format`;
//! almost every real line is nginx's or Apache's `combined`, and for those the
//! interpreter's per-field dispatch costs more than the fields themselves.
//! This pass reads the fixed layout directly: fixed-width `$time_local`,
//! three-digit status, byte checks for the short fields and `memchr` only for
//! the long ones (request, referer, user agent).
//!
//! The program stays the definition of what a line means: this pass accepts a
//! line only when it can see that the program would split it the same way,
//! and answers `None` otherwise (escaped quotes, a quote inside a field, odd
//! spacing, a time that is not a plain 26-byte `$time_local`...), so the
//! caller runs the program. The differential tests in `tests.rs` and the
//! `access_combined` fuzz target check that both always agree.

use ipnet::IpNet;

use super::super::time::ClfMemo;
use super::super::{AccessHit, UnixTime};
use super::{not_dash, resolve_client, split_request, FormatKind, LeadingAddress};

/// The fields of a combined or common line the hit needs.
struct Combined<'a> {
    time: UnixTime,
    request: &'a [u8],
    status: u16,
    bytes: u64,
    /// Empty for a common line.
    user_agent: &'a [u8],
    kind: FormatKind,
}

/// The hit for `line` read as combined (or common, when it stops after the
/// bytes field), or `None` when the generic program must decide. `lead` is the
/// line's first word, already parsed as an address.
#[inline]
pub(super) fn hit<'a>(
    line: &'a [u8],
    lead: LeadingAddress<'a>,
    trusted: &[IpNet],
    clf: &ClfMemo,
) -> Option<(AccessHit<'a>, FormatKind)> {
    let f = read(line, lead.word.len(), clf)?;
    let peer = lead.ip;
    let client = if trusted.is_empty() {
        peer
    } else {
        resolve_client(peer, b"", b"", trusted)
    };
    let (method, path) = split_request(f.request);
    let hit = AccessHit {
        peer,
        client,
        time: Some(f.time),
        method,
        path,
        status: f.status,
        bytes: f.bytes,
        user_agent: not_dash(f.user_agent),
        forwarded_for: b"",
        client_ip_field: b"",
        host: b"",
    };
    Some((hit, f.kind))
}

/// Length of `$time_local` as every server writes it (`25/Nov/2026:17:41:52 +0000`).
const TIME_LEN: usize = 26;

/// One pass over `$remote_addr - $remote_user [$time_local] "$request"
/// $status $body_bytes_sent "$http_referer" "$http_user_agent"`, where the
/// address is the first `addr_len` bytes (ending at the line's first space).
/// Each check below mirrors where the program's terminator search
/// (`find_term`) would stop; anything it might read differently is `None`.
#[inline]
fn read<'a>(line: &'a [u8], addr_len: usize, clf: &ClfMemo) -> Option<Combined<'a>> {
    // The first space ends the address, so it is the first ` - ` too; the
    // address never ends in `,` (which would make the space a list's).
    let rest = line.get(addr_len..)?.strip_prefix(b" - ")?;
    let rest = skip_user(rest)?;
    let time_local = rest.get(..TIME_LEN)?;
    if rest.get(TIME_LEN..TIME_LEN + 3)? != b"] \"" {
        return None;
    }
    // The program ends the time at the first `] "`, and this is it:
    // parse_clf accepts only digits, a month, separators and a signed hour
    // in the first 24 bytes, and a `] "` at 24 or 25 would overlap the one
    // at 26 (needing byte 26 to be `"` or a space, not `]`).
    let time = clf.parse(time_local)?;
    let rest = &rest[TIME_LEN + 3..];

    // "$request" then a space: the first quote must be that one.
    let end = memchr::memchr(b'"', rest)?;
    if rest.get(end + 1) != Some(&b' ') || after_backslash(rest, end) {
        return None;
    }
    let request = &rest[..end];
    let rest = &rest[end + 2..];

    // Three digits and a space (not ` : `, which the program reads as a list).
    let [d0, d1, d2, b' '] = *rest.get(..4)? else {
        return None;
    };
    let status = three_digits([d0, d1, d2])?;
    if rest.get(4) == Some(&b':') {
        return None;
    }
    let rest = &rest[4..];

    // Digits or `-`; then ` "` (combined) or the end of the line (common).
    let (len, bytes) = match leading_number(rest) {
        (0, _) if rest.first() == Some(&b'-') => (1, 0),
        (0, _) => return None,
        number => number,
    };
    if len == rest.len() {
        return Some(Combined {
            time,
            request,
            status,
            bytes,
            user_agent: b"",
            kind: FormatKind::Common,
        });
    }
    let rest = rest[len..].strip_prefix(b" \"")?;

    // "$http_referer" then ` "`.
    let rest = match rest.strip_prefix(b"-\" \"") {
        Some(rest) => rest,
        None => {
            let end = memchr::memchr(b'"', rest)?;
            if rest.get(end + 1..end + 3) != Some(b" \"") || after_backslash(rest, end) {
                return None;
            }
            &rest[end + 3..]
        }
    };

    // "$http_user_agent"; text after its quote is ignored.
    let end = memchr::memchr(b'"', rest)?;
    if after_backslash(rest, end) {
        return None;
    }
    Some(Combined {
        time,
        request,
        status,
        bytes,
        user_agent: &rest[..end],
        kind: FormatKind::Combined,
    })
}

/// `parse_status` of three bytes that must all be digits.
#[inline]
fn three_digits(b: [u8; 3]) -> Option<u16> {
    let [d0, d1, d2] = b.map(|c| c.wrapping_sub(b'0'));
    (d0 <= 9 && d1 <= 9 && d2 <= 9)
        .then(|| u16::from(d0) * 100 + u16::from(d1) * 10 + u16::from(d2))
}

/// The run of digits `b` starts with: its length and `parse_bytes` of it
/// (0 when longer than 19 digits, as there), read in one pass.
#[inline]
fn leading_number(b: &[u8]) -> (usize, u64) {
    let mut value = 0u64;
    let mut len = 0;
    while let Some(d) = b.get(len).map(|c| c.wrapping_sub(b'0')).filter(|&d| d <= 9) {
        value = value.wrapping_mul(10).wrapping_add(u64::from(d));
        len += 1;
    }
    (len, if len > 19 { 0 } else { value })
}

/// Past `$remote_user [`: the user's first space must start ` [` and not
/// follow a comma (the program would read `a, b` as one list value).
#[inline]
fn skip_user(rest: &[u8]) -> Option<&[u8]> {
    if let Some(rest) = rest.strip_prefix(b"- [") {
        return Some(rest);
    }
    let space = memchr::memchr(b' ', rest)?;
    if rest.get(space + 1) != Some(&b'[') || (space > 0 && rest[space - 1] == b',') {
        return None;
    }
    Some(&rest[space + 2..])
}

/// Whether the quote at `at` follows a backslash: the program counts the
/// run of backslashes (`\"` is part of the field, `\\"` ends it), so any
/// backslash there is left to it.
#[inline]
fn after_backslash(field: &[u8], at: usize) -> bool {
    at > 0 && field[at - 1] == b'\\'
}
