//! Parsers: bytes of one complete line in, a borrowing event out.
//!
//! Nothing here allocates per line or copies a field: events borrow the line
//! buffer, and `IpTable::apply` is the only place that copies (DESIGN.md).
//! Every client address is parsed as an `IpAddr` and made canonical
//! (`::ffff:1.2.3.4` → `1.2.3.4`), so nothing but a canonical IP leaves here.

use std::net::IpAddr;

pub mod access;
pub mod auth;
pub mod blocklist;
pub mod sockets;
pub(crate) mod time;
pub(crate) mod vnstat;

/// Seconds since the Unix epoch, UTC.
pub(crate) type UnixTime = i64;

/// One HTTP request from an access log line, borrowing the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessHit<'a> {
    /// The address that connected to the server (`$remote_addr`), canonical.
    pub(crate) peer: IpAddr,
    /// The client after `trusted_proxies` resolution; equals `peer` unless the
    /// peer is a trusted proxy and the line names a client behind it.
    pub(crate) client: IpAddr,
    /// Event time from the line; `None` when the line carries none we can read.
    pub(crate) time: Option<UnixTime>,
    pub(crate) method: &'a [u8],
    pub(crate) path: &'a [u8],
    /// 0 when the line has no readable status.
    pub(crate) status: u16,
    /// Body bytes (`$body_bytes_sent`, else `$bytes_sent`); `-` is 0.
    pub(crate) bytes: u64,
    pub(crate) user_agent: &'a [u8],
    /// Raw `$http_x_forwarded_for` (or empty).
    pub(crate) forwarded_for: &'a [u8],
    /// Caddy's `request.client_ip` when present (or empty).
    pub(crate) client_ip_field: &'a [u8],
    pub(crate) host: &'a [u8],
}

/// Why a line could not be used. Fieldless and `Copy`, as httparse's errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// The line does not have the shape of the format.
    Shape,
    /// The client field is not an IP address.
    ClientNotIp,
    /// A JSON line without a client address.
    NoClient,
}

/// What kind of sshd event a line reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthKind {
    /// `Failed password|publickey|keyboard-interactive|none for [invalid user] U from IP port N`
    Failed,
    /// `Invalid user U from IP`
    InvalidUser,
    /// `Accepted <method> for U from IP port N`
    Accepted,
    /// `Connection closed by` / `Disconnected from` `[authenticating|invalid] user U IP port N [preauth]`
    ClosedPreauth,
    /// `maximum authentication attempts exceeded for ... from IP port N`
    MaxAttempts,
}

impl AuthKind {
    /// Stable code used in JSON and the activity log.
    #[cfg(test)]
    pub(crate) fn code(self) -> &'static str {
        match self {
            AuthKind::Failed => "failed",
            AuthKind::InvalidUser => "invalid_user",
            AuthKind::Accepted => "accepted",
            AuthKind::ClosedPreauth => "closed_preauth",
            AuthKind::MaxAttempts => "max_attempts",
        }
    }

    /// Whether nethergaze counts this as an authentication failure
    /// (`failed` + `invalid_user`, as nethergaze 0.2.0 does).
    pub(crate) fn is_failure(self) -> bool {
        matches!(self, AuthKind::Failed | AuthKind::InvalidUser)
    }
}

/// One sshd event, borrowing the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthEvent<'a> {
    pub(crate) kind: AuthKind,
    /// Canonical client address, taken from the anchored right-hand part.
    pub(crate) ip: IpAddr,
    /// The user name as logged (may be empty, may be hostile).
    pub(crate) user: &'a [u8],
    pub(crate) time: Option<UnixTime>,
}

/// Canonical form of an address: IPv4-mapped IPv6 becomes IPv4.
#[inline]
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Parse an IP address from bytes and make it canonical.
/// Accepts only the textual forms `IpAddr::from_str` accepts (no brackets, no port).
#[inline]
pub(crate) fn parse_ip(bytes: &[u8]) -> Option<IpAddr> {
    if let Some(v4) = parse_ipv4_fast(bytes) {
        return Some(IpAddr::V4(v4));
    }
    if let Some(v6) = parse_ipv6_fast(bytes) {
        return Some(canonical(IpAddr::V6(v6)));
    }
    if bytes.is_empty() || bytes.len() > 45 {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    text.parse::<IpAddr>().ok().map(canonical)
}

/// Dotted-quad IPv4 without the generic parser (the hot path of every log
/// line). Accepts exactly what `Ipv4Addr::from_str` accepts — four decimal
/// octets ≤ 255, no leading zeros — and returns `None` for anything else,
/// which then goes through the standard parser.
#[inline]
fn parse_ipv4_fast(bytes: &[u8]) -> Option<std::net::Ipv4Addr> {
    match dotted_quad_prefix(bytes)? {
        (ip, len) if len == bytes.len() => Some(ip),
        _ => None,
    }
}

/// A dotted-quad IPv4 address that is the first word of `line` (ended by a
/// space or the end of the line), and its length: what [`parse_ip`] gives for
/// that word, read without first finding the space. `None` when the line
/// does not start that way (IPv6, a port, a name...): parse the word instead.
#[inline]
pub(crate) fn leading_ipv4(line: &[u8]) -> Option<(std::net::Ipv4Addr, usize)> {
    let (ip, len) = dotted_quad_prefix(line)?;
    matches!(line.get(len), None | Some(b' ')).then_some((ip, len))
}

/// The dotted quad `b` starts with and its length, with `Ipv4Addr::from_str`'s
/// rules for the quad itself (1-3 digits an octet, ≤ 255, no leading zero);
/// whatever follows it is the caller's to judge.
#[inline(always)]
fn dotted_quad_prefix(b: &[u8]) -> Option<(std::net::Ipv4Addr, usize)> {
    // The longest quad and the byte after it fit in 16 bytes; a shorter
    // line is padded with NULs, which end a quad as the line's end does.
    match b.first_chunk::<16>() {
        Some(head) => dotted_quad_in(head),
        None => {
            let mut head = [0u8; 16];
            head[..b.len()].copy_from_slice(b);
            dotted_quad_in(&head)
        }
    }
}

/// [`dotted_quad_prefix`] of a line's first 16 bytes: fixed size, so no
/// read needs a bounds check (the last one read is byte 15, after a
/// fourth octet of three digits).
#[inline(always)]
fn dotted_quad_in(b: &[u8; 16]) -> Option<(std::net::Ipv4Addr, usize)> {
    // 10 and up: not a digit (a byte below '0' wraps to a large value).
    let digit = |i: usize| u32::from(b[i & 15].wrapping_sub(b'0'));
    let mut addr = 0u32;
    let mut at = 0;
    for octet in 0..4 {
        if octet > 0 {
            if b[at & 15] != b'.' {
                return None;
            }
            at += 1;
        }
        let d0 = digit(at);
        if d0 > 9 {
            return None;
        }
        let d1 = digit(at + 1);
        let (value, len) = if d1 > 9 {
            (d0, 1)
        } else if d0 == 0 {
            return None; // a leading zero
        } else {
            let d2 = digit(at + 2);
            if d2 > 9 {
                (d0 * 10 + d1, 2)
            } else {
                let value = d0 * 100 + d1 * 10 + d2;
                if value > 255 || digit(at + 3) <= 9 {
                    return None; // too big, or a fourth digit
                }
                (value, 3)
            }
        };
        addr = addr << 8 | value;
        at += len;
    }
    Some((std::net::Ipv4Addr::from(addr), at))
}

/// IPv6 in hex groups (with at most one `::`) without the generic parser,
/// which is several times slower. Anything else — an embedded IPv4 part,
/// a zone, a malformed address — returns `None` and goes through the
/// standard parser, so the accepted set is exactly `Ipv6Addr::from_str`'s.
#[inline]
fn parse_ipv6_fast(b: &[u8]) -> Option<std::net::Ipv6Addr> {
    if b.len() < 2 || b.len() > 39 {
        return None;
    }
    let (mut head, mut tail) = ([0u16; 8], [0u16; 8]);
    let (mut n_head, mut n_tail) = (0usize, 0usize);
    let mut gap = b.starts_with(b"::");
    let mut i = if gap { 2 } else { 0 };
    while i < b.len() {
        let start = i;
        let mut value = 0u16;
        while i < b.len() && i - start < 4 {
            let Some(digit) = (b[i] as char).to_digit(16) else {
                break;
            };
            value = value << 4 | digit as u16;
            i += 1;
        }
        if i == start || (i < b.len() && b[i] != b':') {
            return None; // empty group, a fifth digit, or '.', '%', …
        }
        let (groups, n) = if gap {
            (&mut tail, &mut n_tail)
        } else {
            (&mut head, &mut n_head)
        };
        *groups.get_mut(*n)? = value;
        *n += 1;
        if i == b.len() {
            break;
        }
        i += 1; // the ':'
        if b.get(i) == Some(&b':') {
            if gap {
                return None; // a second '::'
            }
            gap = true;
            i += 1;
        } else if i == b.len() {
            return None; // a trailing single ':'
        }
    }
    let groups = n_head + n_tail;
    if (gap && groups > 7) || (!gap && groups != 8) {
        return None;
    }
    let mut segments = [0u16; 8];
    segments[..n_head].copy_from_slice(&head[..n_head]);
    segments[8 - n_tail..].copy_from_slice(&tail[..n_tail]);
    Some(std::net::Ipv6Addr::from(segments))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Debug;
    use std::str::FromStr;

    /// Checks a fast address parser against the standard one: whenever the
    /// fast path answers it must agree, it must answer for (almost) every
    /// valid input, and `parse_ip` must always equal the standard parser.
    fn check_against_std<T: FromStr + PartialEq + Debug>(
        fast: fn(&[u8]) -> Option<T>,
        fixed: &[&str],
        lengths: std::ops::Range<usize>,
        alphabet: &[u8],
        near_valid: impl Fn(usize) -> Option<u8>,
    ) {
        let (mut valid, mut fast_hits) = (0, 0);
        let mut check = |text: &[u8]| {
            let shown = String::from_utf8_lossy(text);
            let expect = std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse::<T>().ok());
            if let Some(got) = fast(text) {
                assert_eq!(Some(got), expect, "{shown:?}");
                fast_hits += 1;
            }
            valid += usize::from(expect.is_some());
            let via_std = std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse::<IpAddr>().ok())
                .map(canonical);
            assert_eq!(parse_ip(text), via_std, "{shown:?}");
        };
        fixed.iter().for_each(|t| check(t.as_bytes()));
        let mut seed = 0x9e37_79b9_u64;
        for _ in 0..300_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = lengths.start + (seed >> 40) as usize % lengths.len();
            let mut r = seed;
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    r = r.wrapping_mul(6364136223846793005).wrapping_add(1);
                    near_valid((r >> 59) as usize)
                        .unwrap_or(alphabet[(r >> 33) as usize % alphabet.len()])
                })
                .collect();
            check(&text);
        }
        assert!(
            valid > 500,
            "the generator must produce valid addresses too ({valid})"
        );
        assert!(
            fast_hits * 10 > valid * 9,
            "the fast path takes almost all ({fast_hits} of {valid})"
        );
    }

    #[test]
    fn ipv6_fast_path_matches_std() {
        let fixed = [
            "::",
            "::1",
            "1::",
            "1::2",
            "2a01:4f8::1",
            "2001:db8:0:0:0:0:0:1",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1::2::3",
            ":::",
            ":1",
            "1:",
            "12345::",
            "::ffff:1.2.3.4",
            "::ffff:102:304",
            "fe80::1%eth0",
            "1:2:3:4:5:6:7",
            "1::2:3:4:5:6:7:8",
            "ABCD:EF01::",
        ];
        let hex = b"0123456789abcdef";
        // Mostly hex digits and colons, so many inputs are near-valid.
        check_against_std(
            parse_ipv6_fast,
            &fixed,
            2..32,
            b"0123456789abcdefABCDEF::..%g",
            |pick| match pick {
                0..=19 => Some(hex[pick % 16]),
                20..=28 => Some(b':'),
                _ => None,
            },
        );
    }

    #[test]
    fn ipv4_fast_path_matches_std() {
        let fixed = [
            "1.2.3.4",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "0.0.0.0",
            "1.2.3",
            "1.2.3.4.",
            ".1.2.3",
            "1..2.3",
            "1.2.3.04",
            "::ffff:1.2.3.4",
            "1.2.3.4 ",
        ];
        let digits = b"0123456789";
        // Short digit runs and dots, so many inputs are near-valid.
        check_against_std(
            parse_ipv4_fast,
            &fixed,
            7..16,
            b"0123456789..:a ",
            |pick| match pick {
                0..=21 => Some(digits[pick % 10]),
                22..=28 => Some(b'.'),
                _ => None,
            },
        );
    }

    #[test]
    fn leading_ipv4_is_parse_ip_of_the_first_word() {
        let check = |line: &[u8]| {
            let shown = String::from_utf8_lossy(line);
            let word = line.split(|&c| c == b' ').next().unwrap_or_default();
            let dotted_quad = std::str::from_utf8(word)
                .ok()
                .and_then(|t| t.parse::<std::net::Ipv4Addr>().ok());
            match leading_ipv4(line) {
                Some((ip, len)) => {
                    assert_eq!(len, word.len(), "{shown:?}");
                    assert_eq!(Some(IpAddr::V4(ip)), parse_ip(word), "{shown:?}");
                }
                None => assert_eq!(dotted_quad, None, "{shown:?}"),
            }
        };
        for fixed in [
            "1.2.3.4 - - [",
            "1.2.3.4",
            "255.255.255.255 x",
            "256.1.1.1 x",
            "01.2.3.4 x",
            "1.2.3.00 x",
            "1.2.3.4:80 x",
            "1.2.3.4.5 x",
            "1.2.3.1234 x",
            "1.2.3.4\t",
            "0.0.0.0 ",
            "1.2.3",
            "",
            " 1.2.3.4",
            "::ffff:1.2.3.4 x",
            "100.200.250.199 ",
        ] {
            check(fixed.as_bytes());
        }
        let alphabet = b"0123456789012345678901.....: x";
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..200_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (seed >> 59) as usize + 1;
            let mut r = seed;
            let line: Vec<u8> = (0..len)
                .map(|_| {
                    r = r.wrapping_mul(6364136223846793005).wrapping_add(1);
                    alphabet[((r >> 33) % alphabet.len() as u64) as usize]
                })
                .collect();
            check(&line);
        }
    }
}
