//! The combined (and common) layout read in one straight pass.
//!
//! [`Program::run`](super::format::Program::run) interprets any `log_format`;
//! almost every real line is nginx's or Apache's `combined`, and for those the
//! interpreter's per-field dispatch costs more than the fields themselves.
//! This pass reads the fixed layout directly: fixed-width `$time_local`,
//! three-digit status, byte checks for the short fields and an inline
//! 16-byte search only for the long ones (request, referer, user agent).
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
/// line's first word, already parsed as an address. Always inline: the hit
/// (~170 bytes) is then built where the caller keeps it, not copied there.
#[inline(always)]
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
    let end = find_byte(b'"', rest)?;
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
            let end = find_byte(b'"', rest)?;
            if rest.get(end + 1..end + 3) != Some(b" \"") || after_backslash(rest, end) {
                return None;
            }
            &rest[end + 3..]
        }
    };

    // "$http_user_agent"; text after its quote is ignored.
    let end = find_byte(b'"', rest)?;
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
    let space = find_byte(b' ', rest)?;
    if rest.get(space + 1) != Some(&b'[') || (space > 0 && rest[space - 1] == b',') {
        return None;
    }
    Some(&rest[space + 2..])
}

/// Where `needle` first occurs in `hay`. The fields searched here are 10 to
/// 200 bytes: `memchr`'s dispatch and set-up per call cost more than the
/// search itself, so this is an inline scan 16 bytes at a time (SSE2, which
/// every x86_64 has), the last block read overlapping the one before it.
#[inline(always)]
fn find_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        let len = hay.len();
        if len < 16 {
            return hay.iter().position(|&b| b == needle);
        }
        // The positions of `needle` in the 16 bytes from `at` (at + 16 <= len).
        let matches = |at: usize| {
            // SAFETY: SSE2 is part of x86_64; the unaligned load reads
            // hay[at..at + 16], inside `hay` as every caller checks.
            unsafe {
                let block = _mm_loadu_si128(hay.as_ptr().add(at).cast());
                let found = _mm_cmpeq_epi8(block, _mm_set1_epi8(needle as i8));
                _mm_movemask_epi8(found) as u32
            }
        };
        let mut at = 0;
        while at + 16 <= len {
            let found = matches(at);
            if found != 0 {
                return Some(at + found.trailing_zeros() as usize);
            }
            at += 16;
        }
        if at == len {
            return None;
        }
        // The last, partial block: the 16 bytes ending at `len`, without
        // the ones already searched.
        let last = len - 16;
        let found = matches(last) >> (at - last);
        (found != 0).then(|| at + found.trailing_zeros() as usize)
    }
    #[cfg(not(target_arch = "x86_64"))]
    memchr::memchr(needle, hay)
}

/// Whether the quote at `at` follows a backslash: the program counts the
/// run of backslashes (`\"` is part of the field, `\\"` ends it), so any
/// backslash there is left to it.
#[inline]
fn after_backslash(field: &[u8], at: usize) -> bool {
    at > 0 && field[at - 1] == b'\\'
}

#[cfg(test)]
mod find_byte_tests {
    use super::find_byte;

    /// Every length up to 80, the needle at every position (alone, then
    /// with a second one after it), and absent: as `memchr` answers.
    #[test]
    fn finds_the_first_occurrence_as_memchr_does() {
        for len in 0..80 {
            let hay = vec![b'a'; len];
            assert_eq!(find_byte(b'"', &hay), None, "len {len}");
            for at in 0..len {
                let mut hay = hay.clone();
                hay[at] = b'"';
                assert_eq!(find_byte(b'"', &hay), Some(at), "len {len} at {at}");
                for second in at + 1..len {
                    let mut hay = hay.clone();
                    hay[second] = b'"';
                    assert_eq!(find_byte(b'"', &hay), memchr::memchr(b'"', &hay));
                }
            }
        }
        // Bytes that differ from the needle only in the high bit are no match.
        assert_eq!(find_byte(b' ', &[0xa0; 40]), None);
    }
}
