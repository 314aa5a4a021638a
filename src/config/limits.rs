//! The accepted range of every number the configuration takes: one row per
//! setting. The file reader and the flags check values against these rows,
//! the error messages print them, and tests hold `config.example.toml` and
//! `--help` to them, so the range a user reads is the range enforced.
//!
//! Each upper bound says why it is there: past it a value would allocate
//! more than the small servers this runs on have, overflow a timer or a time
//! sum, or switch a check off without saying so.

use std::time::Duration;

/// One setting's accepted values, both ends included.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Limit {
    /// How messages name the setting: the config key with its table
    /// (`[log] max_log_lines`), or `--for` for a setting that is only a flag.
    pub(crate) name: &'static str,
    /// The flag that sets it too (long name without `--`), if any.
    pub(crate) flag: Option<&'static str>,
    pub(crate) min: f64,
    pub(crate) max: f64,
    /// What the number counts, plural: `lines`, `seconds`.
    pub(crate) unit: &'static str,
}

const fn limit(name: &'static str, min: f64, max: f64, unit: &'static str) -> Limit {
    Limit {
        name,
        flag: None,
        min,
        max,
        unit,
    }
}

/// About 0.6 KiB per row (50 000 rows peak at 31.6 MiB): a million rows is
/// some 0.6 GiB, already more than the small servers this is made for.
pub(crate) const MAX_TRACKED_IPS: Limit = limit("max_tracked_ips", 1.0, 1_000_000.0, "addresses");
/// The ring is allocated up front at 40 bytes an entry: 100 000 is 4 MB,
/// and the panel shows a screenful of them.
pub(crate) const MAX_LOG_LINES: Limit = limit("[log] max_log_lines", 1.0, 100_000.0, "lines");
/// Recent requests of a row opened in the drill-down or flagged (others
/// keep 20): 10 000 is 240 KB a row, and all widened rows share a 1.5 MiB
/// budget (`table::WIDE_SLOTS_BUDGET`: 6 rows at this bound, 656 at the
/// default 100), so it does not multiply by `max_tracked_ips`.
pub(crate) const MAX_LOG_ENTRIES_PER_IP: Limit =
    limit("[log] max_log_entries_per_ip", 1.0, 10_000.0, "entries");
/// Below 0.1 s the socket dump costs more than it tells; a day is the
/// longest pause between reads anyone would call live.
pub(crate) const CONNECTIONS_INTERVAL: Limit = Limit {
    flag: Some("connections-interval"),
    ..limit("[refresh] connections_interval", 0.1, 86_400.0, "seconds")
};
/// Accepted for 0.2.0 and ignored; the same day-long ceiling as the live
/// interval, so a typo is still caught.
pub(crate) const LOG_INTERVAL: Limit = limit("[refresh] log_interval", 0.0, 86_400.0, "seconds");
pub(crate) const BANDWIDTH_INTERVAL: Limit =
    limit("[refresh] bandwidth_interval", 0.0, 86_400.0, "seconds");
/// 0 turns the reading off.
pub(crate) const BLOCKED_INTERVAL: Limit =
    limit("[refresh] blocked_interval", 0.0, 86_400.0, "seconds");
pub(crate) const AUTH_LOG_INTERVAL: Limit =
    limit("[refresh] auth_log_interval", 0.0, 86_400.0, "seconds");
pub(crate) const AUTH_INTERVAL: Limit = limit("[auth] interval", 0.0, 86_400.0, "seconds");
pub(crate) const AUTH_LOG_INTERVAL_ALIAS: Limit =
    limit("[auth] log_interval", 0.0, 86_400.0, "seconds");
/// node-exporter is scraped every 15 to 60 s: below a second the writes
/// cost more than anyone reads; a day is the longest pause worth a gauge.
pub(crate) const METRICS_INTERVAL: Limit =
    limit("[refresh] metrics_interval", 1.0, 86_400.0, "seconds");
/// A year: answers older than that are stale anyway, and the sum with a
/// Unix time stays far from overflowing.
pub(crate) const CACHE_TTL: Limit = limit("[whois] cache_ttl", 0.0, 31_536_000.0, "seconds");
/// Accepted for 0.2.0 (lookups run on one worker thread); 64 is more
/// threads than any whois server would tolerate from one address.
pub(crate) const MAX_WORKERS: Limit = limit("[whois] max_workers", 1.0, 64.0, "threads");
/// Peak requests in a minute are whole numbers, so below 1 every request is
/// a burst; above a million per minute from one address the check could
/// never fire and would be off without saying so.
pub(crate) const BURST_RPM: Limit = limit(
    "[filters] suspicious_burst_rpm",
    1.0,
    1_000_000.0,
    "requests per minute",
);
/// A second is the shortest quiet time that means anything; a year the
/// longest (and the sum with a Unix time stays far from overflowing).
pub(crate) const REASON_TTL: Limit = limit("[filters] reason_ttl", 1.0, 31_536_000.0, "seconds");
/// Above a million sockets from one address the check could never fire.
pub(crate) const MIN_CONNS: Limit = limit(
    "[filters] suspicious_min_conns",
    1.0,
    1_000_000.0,
    "connections",
);
/// The same ceiling: more failures than any run will count disables the check.
pub(crate) const MIN_AUTH_FAILURES: Limit = limit(
    "[filters] suspicious_min_auth_failures",
    1.0,
    1_000_000.0,
    "failures",
);
/// A hook is a command run on a key press: a tenth of a second is the
/// shortest that lets a process start, a day the longest worth waiting.
pub(crate) const HOOK_TIMEOUT: Limit = limit("[[actions.hooks]] timeout", 0.1, 86_400.0, "seconds");
/// A year: past that a headless run is a service (the event stream), and
/// the kernel timer would refuse values far beyond it.
pub(crate) const RUN_FOR: Limit = Limit {
    flag: Some("for"),
    ..limit("--for", 1.0, 31_536_000.0, "seconds")
};

/// Every row: for the tests that hold the documentation to them, and to
/// name the range when TOML itself refuses a value ([`Limit::named`]).
pub(crate) const ALL: [Limit; 18] = [
    MAX_TRACKED_IPS,
    MAX_LOG_LINES,
    MAX_LOG_ENTRIES_PER_IP,
    CONNECTIONS_INTERVAL,
    LOG_INTERVAL,
    BANDWIDTH_INTERVAL,
    AUTH_LOG_INTERVAL,
    METRICS_INTERVAL,
    AUTH_INTERVAL,
    AUTH_LOG_INTERVAL_ALIAS,
    CACHE_TTL,
    MAX_WORKERS,
    BURST_RPM,
    REASON_TTL,
    MIN_CONNS,
    MIN_AUTH_FAILURES,
    HOOK_TIMEOUT,
    RUN_FOR,
];

impl Limit {
    /// The row of the setting messages call `name` (`[log] max_log_lines`).
    pub(crate) fn named(name: &str) -> Option<&'static Limit> {
        ALL.iter().find(|l| l.name == name)
    }

    /// TOML's own refusal of a value of this setting (`written` as in the
    /// file), said as the range checks say it: a float where a whole number
    /// goes (`1e308`), or an integer too large for TOML (`2^64 - 1`).
    pub(crate) fn retell(&self, toml_message: &str, written: &str) -> Option<String> {
        let written = shorten(written.trim());
        if toml_message.starts_with("invalid type: floating point") {
            let range = self.range();
            return Some(format!(
                "{written} is not a whole number (allowed: {range})"
            ));
        }
        toml_message
            .contains("too large")
            .then(|| self.refuse(&written))
    }

    /// `1 to 100000 lines`: how messages and the documentation give the range.
    pub(crate) fn range(&self) -> String {
        format!("{} to {} {}", show(self.min), show(self.max), self.unit)
    }

    fn refuse(&self, shown: &str) -> String {
        format!("{shown} is out of range (allowed: {})", self.range())
    }

    /// A whole-number setting.
    pub(crate) fn count(&self, n: i64) -> Result<usize, String> {
        // The bounds are whole numbers far inside i64: these casts are exact.
        if n < self.min as i64 || n > self.max as i64 {
            return Err(self.refuse(&n.to_string()));
        }
        usize::try_from(n).map_err(|e| e.to_string())
    }

    /// A count that fits the detector's `u32` thresholds (every bound does).
    pub(crate) fn count_u32(&self, n: i64) -> Result<u32, String> {
        self.count(n)
            .and_then(|n| u32::try_from(n).map_err(|e| e.to_string()))
    }

    /// A number that may have a fraction; NaN and infinities are refused.
    pub(crate) fn number(&self, x: f64) -> Result<f64, String> {
        if (self.min..=self.max).contains(&x) {
            Ok(x)
        } else {
            Err(self.refuse(&show(x)))
        }
    }

    /// Seconds, possibly fractional.
    pub(crate) fn seconds(&self, x: f64) -> Result<Duration, String> {
        self.number(x).map(Duration::from_secs_f64)
    }
}

/// A value as written, cut to 24 characters with `…`: a 400-digit number
/// tells no more than its start.
pub(crate) fn shorten(written: &str) -> String {
    match written.char_indices().nth(24) {
        Some((cut, _)) => format!("{}…", &written[..cut]),
        None => written.to_string(),
    }
}

/// A number as a person writes it: `0.1`, `86400`, `1e308` (not 309 digits).
pub(crate) fn show(x: f64) -> String {
    let plain = x == 0.0 || !x.is_finite() || (1e-4..1e15).contains(&x.abs());
    if plain {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_readably() {
        assert_eq!(show(1e308), "1e308");
        assert_eq!(show(-1.5e300), "-1.5e300");
        assert_eq!(show(1e-9), "1e-9");
        assert_eq!(show(0.1), "0.1");
        assert_eq!(show(86_400.0), "86400");
        assert_eq!(show(0.0), "0");
        assert_eq!(show(f64::NAN), "NaN");
        assert_eq!(show(f64::INFINITY), "inf");
    }

    #[test]
    fn ranges_are_inclusive_and_messages_do_not_contradict() {
        assert_eq!(MAX_LOG_LINES.count(1), Ok(1));
        assert_eq!(MAX_LOG_LINES.count(100_000), Ok(100_000));
        assert_eq!(
            MAX_LOG_LINES.count(100_000_000_000),
            Err("100000000000 is out of range (allowed: 1 to 100000 lines)".into())
        );
        assert!(MAX_LOG_LINES.count(i64::MAX).is_err());
        assert!(MAX_LOG_LINES.count(i64::MIN).is_err());
        assert!(MAX_LOG_LINES.count(0).is_err());
        // 0 is refused by a range whose lower end is above 0, and says so.
        assert_eq!(
            HOOK_TIMEOUT.seconds(0.0),
            Err("0 is out of range (allowed: 0.1 to 86400 seconds)".into())
        );
        assert_eq!(
            HOOK_TIMEOUT.seconds(1e308),
            Err("1e308 is out of range (allowed: 0.1 to 86400 seconds)".into())
        );
        assert_eq!(HOOK_TIMEOUT.seconds(0.1), Ok(Duration::from_millis(100)));
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.5] {
            assert!(CACHE_TTL.number(bad).is_err(), "{bad}");
        }
        assert_eq!(CACHE_TTL.number(0.0), Ok(0.0));
    }

    #[test]
    fn every_row_is_sane() {
        for l in ALL {
            assert!(l.min.is_finite() && l.max.is_finite(), "{}", l.name);
            assert!(0.0 <= l.min && l.min < l.max, "{}", l.name);
            // Whole-number bounds stay exact through the casts in `count`
            // and fit the u32 thresholds.
            assert!(l.max <= f64::from(u32::MAX), "{}", l.name);
            assert!(!l.unit.is_empty(), "{}", l.name);
            assert_eq!(
                ALL.iter().filter(|o| o.name == l.name).count(),
                1,
                "{} twice",
                l.name
            );
        }
    }
}
