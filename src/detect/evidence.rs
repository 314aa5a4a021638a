//! What the detector keeps on a row ([`Row::evidence`]): when each reason
//! that fades last had evidence, and the meter burst is judged on.
//!
//! Times are event seconds (the log's clock, as `u32`, 0 for "never"), so a
//! replayed log is judged by its own times. 20 bytes a row: a second rate
//! ring for burst would cost 144 (`benches/memcap.py` holds 50 000 rows
//! under 64 MiB).
//!
//! [`Row::evidence`]: crate::table::Row::evidence

use crate::parse::UnixTime;

/// A reason whose evidence is a time on the row (the others are read from
/// counters and sockets as they are now).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fading {
    ScannerUa = 0,
    ExploitPath = 1,
    Burst = 2,
}

/// Units a request adds to the burst meter: a page counts as 4, a static
/// asset as 1 (a quarter of a request, see `Detector::check_request`).
pub(super) const PAGE_UNITS: u16 = 4;
pub(super) const ASSET_UNITS: u16 = 1;

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Evidence {
    /// Event second of the newest evidence, by [`Fading`]; 0: none yet.
    last: [u32; 3],
    meter: BurstMeter,
}

impl Evidence {
    /// When `reason` last had evidence, if ever.
    pub(super) fn last(&self, reason: Fading) -> Option<u32> {
        Some(self.last[reason as usize]).filter(|&t| t != 0)
    }

    /// Note evidence for `reason` at event second `t` (a late line never
    /// moves it back).
    pub(super) fn note(&mut self, reason: Fading, t: u32) {
        let last = &mut self.last[reason as usize];
        *last = (*last).max(t.max(1));
    }

    /// Count a request of `units` at event second `t` in the burst meter;
    /// the estimate of the sliding minute ending at `t`, in units a minute.
    pub(super) fn meter(&mut self, t: u32, units: u16) -> f64 {
        self.meter.add(t, units)
    }
}

/// Requests in the minute ending now, as the sliding-window counter
/// estimates them: this calendar minute's count, plus the previous minute's
/// weighted by the share of it still inside the window (exact when the
/// previous minute's requests were spread evenly; 8 bytes instead of a ring
/// of 60 seconds). Counts are in [`PAGE_UNITS`] and saturate: a saturated
/// minute (16 383 pages) reads as infinite.
#[derive(Debug, Clone, Copy, Default)]
struct BurstMeter {
    /// Event minute (`t / 60`) of `this`.
    minute: u32,
    this: u16,
    previous: u16,
}

impl BurstMeter {
    fn add(&mut self, t: u32, units: u16) -> f64 {
        let minute = t / 60;
        if minute > self.minute {
            self.previous = if minute == self.minute + 1 {
                self.this
            } else {
                0
            };
            self.this = 0;
            self.minute = minute;
        } else if minute < self.minute {
            // A late line (logs merged out of order): counted in its
            // minute when that is still the previous one; it ends no window.
            if minute + 1 == self.minute {
                self.previous = self.previous.saturating_add(units);
            }
            return 0.0;
        }
        self.this = self.this.saturating_add(units);
        if self.this == u16::MAX || self.previous == u16::MAX {
            return f64::INFINITY;
        }
        // Seconds of the previous minute still inside (t - 60, t].
        let previous_share = f64::from(59 - t % 60) / 60.0;
        f64::from(self.this) + f64::from(self.previous) * previous_share
    }
}

/// A row's clock: its newest event time, moved on by the wall-clock time
/// since it was last updated. A replayed log is thus judged as of its own
/// last line, a live one by the wall clock; before the detector is told the
/// time (`now` 0), it is the newest event time.
pub(super) fn row_clock(last_seen: UnixTime, last_active: UnixTime, now: UnixTime) -> UnixTime {
    last_seen.saturating_add((now - last_active).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive oracle on the meter's own terms: per calendar minute counts.
    #[test]
    fn the_meter_counts_this_minute_and_a_share_of_the_last() {
        let mut m = BurstMeter::default();
        let t0 = 60 * 1000;
        for s in 0..60 {
            assert_eq!(m.add(t0 + s, PAGE_UNITS), f64::from(4 * (s + 1)));
        }
        // One more at the next minute's first second: 59/60 of the last one.
        assert_eq!(m.add(t0 + 60, PAGE_UNITS), 4.0 + 240.0 * 59.0 / 60.0);
        // At its last second, nothing of the previous minute is left.
        assert_eq!(m.add(t0 + 119, ASSET_UNITS), 5.0);
        // A gap of more than a minute forgets both.
        assert_eq!(m.add(t0 + 300, PAGE_UNITS), 4.0);
        // A late line from the previous minute counts there, ends nothing.
        assert_eq!(m.add(t0 + 299, PAGE_UNITS), 0.0);
        assert_eq!(m.add(t0 + 300, PAGE_UNITS), 8.0 + 4.0 * 59.0 / 60.0);
    }

    #[test]
    fn a_saturated_minute_reads_as_infinite() {
        let mut m = BurstMeter::default();
        for _ in 0..u16::MAX / PAGE_UNITS {
            assert!(m.add(6000, PAGE_UNITS).is_finite());
        }
        assert_eq!(m.add(6000, PAGE_UNITS), f64::INFINITY);
    }

    #[test]
    fn evidence_never_moves_back() {
        let mut e = Evidence::default();
        assert_eq!(e.last(Fading::ScannerUa), None);
        e.note(Fading::ScannerUa, 2000);
        e.note(Fading::ScannerUa, 1000);
        assert_eq!(e.last(Fading::ScannerUa), Some(2000));
        assert_eq!(e.last(Fading::ExploitPath), None);
    }
}
