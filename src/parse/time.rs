//! Timestamps found in logs, to and from Unix seconds, without a date crate.
//!
//! Civil-date arithmetic is Howard Hinnant's `days_from_civil`, exact for the
//! proleptic Gregorian calendar. Parsers take bytes and never panic.

use std::cell::Cell;

use super::UnixTime;

/// Days since 1970-01-01 for a proleptic Gregorian date.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400; // [0, 399]
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month 1-12, day 1-31) for days since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Unix seconds for a UTC civil time, after range checks.
pub(crate) fn unix_from_civil(
    year: i64,
    month: u32,
    day: u32,
    h: u32,
    m: u32,
    s: u32,
) -> Option<UnixTime> {
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || h > 23
        || m > 59
        || s > 60
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + i64::from(h * 3600 + m * 60 + s.min(59)))
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// `Jan`..`Dec` (case-insensitive) → 1..12.
pub(crate) fn month_from_abbrev(b: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    if b.len() != 3 {
        return None;
    }
    let lower = [
        b[0].to_ascii_lowercase(),
        b[1].to_ascii_lowercase(),
        b[2].to_ascii_lowercase(),
    ];
    MONTHS
        .iter()
        .position(|m| **m == lower)
        .map(|i| i as u32 + 1)
}

/// Parse exactly `n` ASCII digits at `b[at..]`.
pub(crate) fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let field = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in field {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Offset `+hhmm`, `+hh:mm`, `-hh`, or `Z` → (seconds east of UTC, bytes used).
fn parse_offset(b: &[u8]) -> Option<(i64, usize)> {
    match b.first()? {
        b'Z' | b'z' => Some((0, 1)),
        sign @ (b'+' | b'-') => {
            let hours = digits(b, 1, 2)?;
            let (minutes, used) = if b.get(3) == Some(&b':') {
                (digits(b, 4, 2)?, 6)
            } else if let Some(m) = digits(b, 3, 2) {
                (m, 5)
            } else {
                (0, 3)
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let secs = i64::from(hours * 3600 + minutes * 60);
            Some((if *sign == b'-' { -secs } else { secs }, used))
        }
        _ => None,
    }
}

/// nginx/Apache `$time_local`: `25/Nov/2026:17:41:52 +0000` (brackets already removed).
pub(crate) fn parse_clf(b: &[u8]) -> Option<UnixTime> {
    if b.len() < 26
        || b[2] != b'/'
        || b[6] != b'/'
        || b[11] != b':'
        || b[14] != b':'
        || b[17] != b':'
        || b[20] != b' '
    {
        return None;
    }
    let day = digits(b, 0, 2)?;
    let month = month_from_abbrev(&b[3..6])?;
    let year = digits(b, 7, 4)?;
    let (h, m, s) = (digits(b, 12, 2)?, digits(b, 15, 2)?, digits(b, 18, 2)?);
    let (offset, _) = parse_offset(&b[21..])?;
    Some(unix_from_civil(i64::from(year), month, day, h, m, s)? - offset)
}

/// Length of a `$time_local` with a `+hhmm` offset, the form every server writes.
const CLF_LEN: usize = 26;

/// The last `$time_local` parsed and its answer. A busy log writes one
/// second on dozens of lines in a row, so most lines compare 26 bytes
/// instead of parsing a date; the same text always has the same answer.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClfMemo(Cell<Option<([u8; CLF_LEN], UnixTime)>>);

impl ClfMemo {
    /// [`parse_clf`], answered from the memo when `b` is the last text parsed.
    #[inline]
    pub(crate) fn parse(&self, b: &[u8]) -> Option<UnixTime> {
        let text = <[u8; CLF_LEN]>::try_from(b).ok();
        if let (Some(text), Some((last, t))) = (text, self.0.get()) {
            if text == last {
                return Some(t);
            }
        }
        let t = parse_clf(b)?;
        if let Some(text) = text {
            self.0.set(Some((text, t)));
        }
        Some(t)
    }
}

/// RFC 3339 / ISO 8601: `2026-11-25T17:41:52`, optional `.fraction`, optional
/// offset (`Z`, `+00:00`, `+0000`); `T` or a space between date and time.
/// Without an offset the time is taken as UTC. Returns the time and the bytes used.
pub(crate) fn parse_rfc3339_prefix(b: &[u8]) -> Option<(UnixTime, usize)> {
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let year = digits(b, 0, 4)?;
    let (month, day) = (digits(b, 5, 2)?, digits(b, 8, 2)?);
    let (h, m, s) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
    let mut at = 19;
    if b.get(at) == Some(&b'.') || b.get(at) == Some(&b',') {
        at += 1;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
    }
    let offset = match b.get(at..).and_then(parse_offset) {
        Some((off, used)) => {
            at += used;
            off
        }
        None => 0,
    };
    Some((
        unix_from_civil(i64::from(year), month, day, h, m, s)? - offset,
        at,
    ))
}

/// A whole field in RFC 3339 form (see [`parse_rfc3339_prefix`]).
pub(crate) fn parse_rfc3339(b: &[u8]) -> Option<UnixTime> {
    match parse_rfc3339_prefix(b)? {
        (t, used) if used == b.len() => Some(t),
        _ => None,
    }
}

/// Epoch seconds with an optional fraction: `1764092512.123` (nginx `$msec`, Caddy `ts`).
pub(crate) fn parse_epoch(b: &[u8]) -> Option<UnixTime> {
    let int_part = match memchr::memchr(b'.', b) {
        Some(dot) => {
            if !b[dot + 1..].iter().all(u8::is_ascii_digit) {
                return None;
            }
            &b[..dot]
        }
        None => b,
    };
    if int_part.is_empty() || int_part.len() > 12 || !int_part.iter().all(u8::is_ascii_digit) {
        return None;
    }
    int_part
        .iter()
        .try_fold(0i64, |acc, &c| Some(acc * 10 + i64::from(c - b'0')))
}

/// `2026-11-25T17:41:52Z`
pub(crate) fn format_rfc3339(t: UnixTime) -> String {
    if let Some(text) = rfc3339_bytes(t) {
        return String::from_utf8_lossy(&text).into_owned();
    }
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// [`format_rfc3339`] without allocating or formatting machinery, for the
/// years 0 to 9999 (`None` outside them): the JSON snapshot writes a few
/// times for each of tens of thousands of rows.
pub(crate) fn rfc3339_bytes(t: UnixTime) -> Option<[u8; 20]> {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    let year = u32::try_from(y).ok().filter(|y| *y <= 9999)?;
    let mut out = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, value: u32, width: usize| {
        let mut v = value;
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year, 4);
    put(5, mo, 2);
    put(8, d, 2);
    let secs = secs as u32; // 0..86 400
    put(11, secs / 3600, 2);
    put(14, secs / 60 % 60, 2);
    put(17, secs % 60, 2);
    Some(out)
}

/// The wall clock, as Unix seconds.
pub(crate) fn now() -> UnixTime {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_bytes_are_the_formatted_time() {
        let formatted = |t: UnixTime| {
            let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
            let (y, mo, d) = civil_from_days(days);
            format!(
                "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
                secs / 3600,
                secs / 60 % 60,
                secs % 60
            )
        };
        let year_10000 = days_from_civil(10_000, 1, 1) * 86_400;
        let year_0 = days_from_civil(0, 1, 1) * 86_400;
        for t in (year_0..year_10000).step_by(86_400 * 97 + 3_613) {
            let bytes = rfc3339_bytes(t).expect("years 0 to 9999");
            assert_eq!(std::str::from_utf8(&bytes).unwrap(), formatted(t));
        }
        for t in [0, 1, 59, 3_599, 86_399, 951_782_400, i64::from(u32::MAX)] {
            assert_eq!(format_rfc3339(t), formatted(t));
        }
        assert_eq!(rfc3339_bytes(year_10000), None);
        assert_eq!(rfc3339_bytes(year_0 - 1), None);
        assert_eq!(format_rfc3339(year_10000), formatted(year_10000));
        assert_eq!(format_rfc3339(year_0 - 1), formatted(year_0 - 1));
    }

    #[test]
    fn clf_memo_answers_as_the_parser() {
        let memo = ClfMemo::default();
        let texts: [&[u8]; 6] = [
            b"25/Nov/2026:17:41:52 +0000",
            b"25/Nov/2026:17:41:52 +0000",
            b"25/Nov/2026:18:41:52 +0100",
            b"31/Feb/2026:00:00:00 +0000",
            b"25/Nov/2026:17:41:52 +01:00",
            b"25/Nov/2026:17:41:52 +0000",
        ];
        for text in texts {
            assert_eq!(memo.parse(text), parse_clf(text), "{text:?}");
        }
    }

    #[test]
    fn civil_round_trips_over_four_centuries() {
        for days in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn clf_with_offsets() {
        assert_eq!(parse_clf(b"01/Jan/1970:00:00:00 +0000"), Some(0));
        assert_eq!(
            parse_clf(b"25/Nov/2026:18:41:52 +0100"),
            parse_clf(b"25/Nov/2026:17:41:52 +0000")
        );
        assert_eq!(parse_clf(b"31/Feb/2026:00:00:00 +0000"), None);
        assert_eq!(parse_clf(b"25/Foo/2026:17:41:52 +0000"), None);
        assert_eq!(parse_clf(b"25/Nov/2026:17:41:52"), None);
    }

    #[test]
    fn rfc3339_forms() {
        let base = parse_rfc3339(b"2026-11-25T17:41:52Z").unwrap();
        assert_eq!(format_rfc3339(base), "2026-11-25T17:41:52Z");
        assert_eq!(
            parse_rfc3339(b"2026-11-25T18:41:52.123456+01:00"),
            Some(base)
        );
        assert_eq!(parse_rfc3339(b"2026-11-25T17:41:52+0000"), Some(base));
        assert_eq!(parse_rfc3339(b"2026-11-25 17:41:52"), Some(base));
        assert_eq!(parse_rfc3339(b"2026-13-25T17:41:52Z"), None);
        assert_eq!(parse_rfc3339(b"2026-11-25T17:41:52Zjunk"), None);
    }

    #[test]
    fn epoch_forms() {
        assert_eq!(parse_epoch(b"1764092512.123"), Some(1_764_092_512));
        assert_eq!(parse_epoch(b"1764092512"), Some(1_764_092_512));
        assert_eq!(parse_epoch(b"1.2.3"), None);
        assert_eq!(parse_epoch(b"-5"), None);
        assert_eq!(parse_epoch(b""), None);
    }
}
