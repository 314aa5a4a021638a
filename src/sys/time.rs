//! Local time through libc: the zone's offset from UTC, and civil time to
//! Unix time (DST decided by libc, as the syslog stamps need).

/// Seconds east of UTC at `t` (Unix time) in the local zone; 0 if libc
/// cannot tell.
// `time_t` is i64 here but i32 on some 32-bit targets: `as` is the portable
// cast, and `as _` (the type inferred from localtime_r) doesn't name the
// alias the libc crate marks deprecated on musl.
#[allow(clippy::unnecessary_cast)]
pub(crate) fn local_utc_offset(t: i64) -> i64 {
    let tt = t as _;
    // SAFETY: all-zero is a valid struct tm; localtime_r writes into it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call.
    let res = unsafe { libc::localtime_r(&tt, &mut tm) };
    if res.is_null() {
        0
    } else {
        tm.tm_gmtoff as i64
    }
}

/// Local civil time → Unix time through libc `mktime` (DST decided by libc);
/// `None` where libc cannot represent it.
#[allow(clippy::unnecessary_cast)]
pub(crate) fn mktime_local(year: i64, month: u32, day: u32, h: u32, m: u32, s: u32) -> Option<i64> {
    // SAFETY: `tm` is a plain C struct for which all-zero bytes are valid
    // (the zone pointer, where present, is null and unused by mktime).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = i32::try_from(year - 1900).ok()?;
    tm.tm_mon = month as i32 - 1;
    tm.tm_mday = day as i32;
    tm.tm_hour = h as i32;
    tm.tm_min = m as i32;
    tm.tm_sec = s as i32;
    tm.tm_isdst = -1;
    // SAFETY: `tm` is a valid, exclusively borrowed struct tm.
    let t = unsafe { libc::mktime(&mut tm) };
    (t != -1).then_some(t as i64)
}
