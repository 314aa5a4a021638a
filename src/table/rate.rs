//! Per-second request counts over the last minute, in event time.

use crate::parse::UnixTime;

const WINDOW_SECS: usize = 60;

/// A 60-slot ring of per-second counts ending at `head` (the newest second
/// seen), with the running sum of the window and the highest sum reached.
/// Events older than the window still count as requests but not as rate.
///
/// Counts are 4 bits, sixteen seconds a word (32 bytes a row: the ring is the
/// largest part of a row, and almost every client sends a few requests a
/// second at most) until one second passes 15 events (a busy crawler, a
/// flood, the all-rows ring of a busy server); the ring then moves to u32
/// counts on the heap for good, so no count ever saturates. Seconds are u32
/// (until 2106, like the rows' times). 48 bytes.
#[derive(Debug, Clone, Default)]
pub(crate) struct RateRing {
    slots: Nibbles,
    /// The window's sum and the highest it reached while the counts are 4
    /// bits: at most 60 x 15, so u16 (the wide counts keep their own).
    sum: u16,
    peak: u16,
    /// Newest second recorded; 0 before the first event.
    head: u32,
    /// The counts once any second outgrew 4 bits; `slots`, `sum` and
    /// `peak` are unused then.
    wide: Option<Box<WideCounts>>,
}

/// A ring's counts once a second outgrew 4 bits.
#[derive(Debug, Clone)]
struct WideCounts {
    slots: [u32; WINDOW_SECS],
    sum: u32,
    peak: u32,
}

/// Sixty counts of 0..=15, sixteen to a word: slot `i` is bits
/// `4 * (i % 16)..` of word `i / 16`. Words, not bytes, so the seconds a
/// ring's advance drops are summed and cleared a word at a time.
#[derive(Debug, Clone, Copy, Default)]
struct Nibbles([u64; WINDOW_SECS.div_ceil(16)]);

impl Nibbles {
    /// The largest count a slot holds.
    const MAX: u32 = 15;

    #[inline]
    fn shift(i: usize) -> u32 {
        4 * (i % 16) as u32
    }

    #[inline]
    fn get(&self, i: usize) -> u32 {
        (self.0[i / 16] >> Self::shift(i)) as u32 & 15
    }

    /// Count one more in slot `i` (below [`Nibbles::MAX`]).
    #[inline]
    fn bump(&mut self, i: usize) {
        self.0[i / 16] += 1 << Self::shift(i);
    }

    /// The sum of the counts in `range`, emptied: the slots of each word
    /// in the range masked, summed and cleared at once.
    #[inline]
    fn take_range(&mut self, range: std::ops::Range<usize>) -> u32 {
        let mut sum = 0;
        let mut i = range.start;
        while i < range.end {
            let word = i / 16;
            let (first, end) = (i % 16, (range.end - word * 16).min(16));
            // `end - first` slots of 4 bits from `first` (all 64 bits at 16).
            let mask = (((1u128 << (4 * (end - first))) - 1) as u64) << (4 * first);
            sum += nibble_sum(self.0[word] & mask);
            self.0[word] &= !mask;
            i = (word + 1) * 16;
        }
        sum
    }
}

/// The sum of the sixteen 4-bit counts in `x`: pairs added into bytes (at
/// most 30 each), then the eight bytes by one multiply (at most 240).
#[inline]
fn nibble_sum(x: u64) -> u32 {
    const LOW: u64 = 0x0f0f_0f0f_0f0f_0f0f;
    let bytes = (x & LOW) + ((x >> 4) & LOW);
    (bytes.wrapping_mul(0x0101_0101_0101_0101) >> 56) as u32
}

/// A second as the ring keeps it: clamped to 1..=u32::MAX (0 means none).
#[inline]
fn ring_secs(t: UnixTime) -> u32 {
    t.clamp(1, UnixTime::from(u32::MAX)) as u32
}

impl RateRing {
    /// Newest second recorded as `UnixTime`; meaningless before the first event.
    #[inline]
    fn head(&self) -> UnixTime {
        UnixTime::from(self.head)
    }

    /// Count one event at second `t`.
    #[inline]
    pub(crate) fn record(&mut self, t: UnixTime) {
        let t = ring_secs(t);
        let i = if t == self.head {
            // The common case on a busy ring: another event in its newest second.
            slot_of(UnixTime::from(t))
        } else if t > self.head {
            self.advance(t)
        } else if t <= self.head.saturating_sub(WINDOW_SECS as u32) {
            return; // older than the window: no effect on rate
        } else {
            slot_of(UnixTime::from(t))
        };
        match self.wide.as_deref_mut() {
            Some(wide) => {
                wide.slots[i] = wide.slots[i].saturating_add(1);
                wide.sum = wide.sum.saturating_add(1);
                wide.peak = wide.peak.max(wide.sum);
            }
            None if self.slots.get(i) == Nibbles::MAX => self.widen(i),
            None => {
                self.slots.bump(i);
                self.sum += 1;
                self.peak = self.peak.max(self.sum);
            }
        }
    }

    /// Move to u32 counts, counting one more event in slot `i` (full in 4 bits).
    #[cold]
    fn widen(&mut self, i: usize) {
        let mut slots = std::array::from_fn(|s| self.slots.get(s));
        slots[i] += 1;
        let sum = u32::from(self.sum) + 1;
        let peak = u32::from(self.peak).max(sum);
        self.wide = Some(Box::new(WideCounts { slots, sum, peak }));
        (self.slots, self.sum, self.peak) = (Nibbles::default(), 0, 0);
    }

    /// Events counted in ring slot `i`.
    #[inline]
    fn count(&self, i: usize) -> u32 {
        match self.wide.as_deref() {
            Some(wide) => wide.slots[i],
            None => self.slots.get(i),
        }
    }

    /// Move the window's end to `t` (later than `head`, or the first event),
    /// dropping the seconds that leave it; returns the slot of `t`. Out of
    /// line, so the common case of `record` stays small. The
    /// seconds that leave are at most two runs of the ring (it wraps), each
    /// summed and cleared in one pass rather than slot by slot: rows see
    /// requests seconds apart, so this runs for most of a row's events.
    #[inline(never)]
    fn advance(&mut self, t: u32) -> usize {
        // `head` is 0 before the first event: the gap is then the whole window.
        let gap = t - self.head;
        self.head = t;
        let new = slot_of(UnixTime::from(t));
        if gap >= WINDOW_SECS as u32 {
            // The whole window left: no need to walk it.
            match self.wide.as_deref_mut() {
                Some(wide) => (wide.slots, wide.sum) = ([0; WINDOW_SECS], 0),
                None => (self.slots, self.sum) = (Nibbles::default(), 0),
            }
            return new;
        }
        // The seconds after the old head up to `t`: slots `first..` for
        // `gap` slots, wrapping past the end.
        let gap = gap as usize;
        let first = (new + WINDOW_SECS + 1 - gap) % WINDOW_SECS;
        let (run, wrapped) = match first + gap {
            end if end <= WINDOW_SECS => (first..end, 0..0),
            end => (first..WINDOW_SECS, 0..end - WINDOW_SECS),
        };
        match self.wide.as_deref_mut() {
            Some(wide) => {
                wide.sum -= take_wide(&mut wide.slots, run) + take_wide(&mut wide.slots, wrapped);
            }
            None => {
                let left = self.slots.take_range(run) + self.slots.take_range(wrapped);
                self.sum -= left as u16; // at most the window's sum, a u16
            }
        }
        new
    }

    /// Events in the 60 s ending at `end` (normally `max(now, newest event)`).
    pub(crate) fn per_minute(&self, end: UnixTime) -> u32 {
        if self.head == 0 || end - self.head() >= WINDOW_SECS as UnixTime {
            return 0;
        }
        let first_kept = end - WINDOW_SECS as UnixTime + 1;
        (first_kept..=self.head())
            .map(|s| self.count(slot_of(s)))
            .sum()
    }

    /// The most events seen in any 60 s window.
    pub(crate) fn peak(&self) -> u32 {
        match self.wide.as_deref() {
            Some(wide) => wide.peak,
            None => u32::from(self.peak),
        }
    }

    /// Newest second recorded, if any.
    pub(crate) fn newest(&self) -> Option<UnixTime> {
        (self.head != 0).then_some(self.head())
    }

    /// Counts per second for the last `N` seconds ending at `end`, oldest first.
    pub(crate) fn recent_seconds<const N: usize>(&self, end: UnixTime) -> [u32; N] {
        let mut out = [0; N];
        for (i, v) in out.iter_mut().enumerate() {
            let s = end - (N - 1 - i) as UnixTime;
            if s <= self.head() && self.head() - s < WINDOW_SECS as UnixTime {
                *v = self.count(slot_of(s));
            }
        }
        out
    }
}

/// The sum of the u32 counts in `range`, emptied (one pass, no `memset`
/// call for a few slots).
#[inline]
fn take_wide(slots: &mut [u32; WINDOW_SECS], range: std::ops::Range<usize>) -> u32 {
    slots[range].iter_mut().map(std::mem::take).sum()
}

/// Ring index of a second: consecutive seconds take consecutive slots
/// (mod 60). The second is moved to u64 with its order kept (the sign bit
/// flipped), so this is an unsigned remainder by a constant (a multiply),
/// not `rem_euclid`'s signed one; the ring only needs the order.
#[inline]
fn slot_of(t: UnixTime) -> usize {
    (((t as u64) ^ (1 << 63)) % WINDOW_SECS as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive oracle: keep every timestamp, count windows directly.
    fn naive(times: &[UnixTime], end: UnixTime) -> (u32, u32) {
        let in_window =
            |e: UnixTime| times.iter().filter(|&&t| t > e - 60 && t <= e).count() as u32;
        let peak = times.iter().map(|&t| in_window(t)).max().unwrap_or(0);
        (in_window(end), peak)
    }

    /// Every range of slots, over counts of every size: the sum is the
    /// slots' own, those slots are emptied and no other changes.
    #[test]
    fn take_range_sums_and_empties_exactly_its_slots() {
        let counts: Vec<u32> = (0..WINDOW_SECS as u32).map(|i| (i * 7 + 3) % 16).collect();
        for start in 0..=WINDOW_SECS {
            for end in start..=WINDOW_SECS {
                let mut n = Nibbles::default();
                for (i, &c) in counts.iter().enumerate() {
                    (0..c).for_each(|_| n.bump(i));
                }
                let want: u32 = counts[start..end].iter().sum();
                assert_eq!(n.take_range(start..end), want, "{start}..{end}");
                for (i, &c) in counts.iter().enumerate() {
                    let left = if (start..end).contains(&i) { 0 } else { c };
                    assert_eq!(n.get(i), left, "slot {i} after {start}..{end}");
                }
            }
        }
    }

    #[test]
    fn matches_naive_oracle_on_ordered_events() {
        let mut seed = 7u64;
        let mut t = 1_000_000;
        let mut times = Vec::new();
        let mut ring = RateRing::default();
        for _ in 0..3000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            t += (seed >> 60) as i64 % 5; // 0..4 s apart, bursts of equal seconds
            times.push(t);
            ring.record(t);
            if times.len() % 97 == 0 {
                for end in [t, t + 1, t + 30, t + 59, t + 60, t + 500] {
                    let (rpm, _) = naive(&times, end);
                    assert_eq!(ring.per_minute(end), rpm, "end {end}");
                }
            }
        }
        assert_eq!(ring.peak(), naive(&times, t).1);
    }

    /// Gaps of every size between 0 and past the window, so the cleared
    /// seconds wrap around the ring's end at every offset; some events late.
    #[test]
    fn matches_naive_oracle_over_every_gap() {
        let mut seed = 11u64;
        let mut t = 1_000_000;
        let mut times = Vec::new();
        let mut ring = RateRing::default();
        for n in 0..4000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let event = match n % 7 {
                // A late one, inside the window or not.
                6 => t - (seed >> 58) as i64 % 70,
                _ => {
                    t += (seed >> 57) as i64 % 66;
                    t
                }
            };
            times.push(event);
            ring.record(event);
            for end in [t, t + 1, t + 59] {
                let in_window =
                    |e: UnixTime| times.iter().filter(|&&s| s > e - 60 && s <= e).count() as u32;
                assert_eq!(ring.per_minute(end), in_window(end), "n {n} end {end}");
            }
        }
    }

    /// Issue 9, item 11: a second with more than 65 535 events (u16 counts)
    /// is counted in full, and leaves the window without a trace.
    #[test]
    fn a_second_over_u16_is_counted_in_full() {
        let mut ring = RateRing::default();
        let flood = 70_000;
        for _ in 0..flood {
            ring.record(1000);
        }
        ring.record(1001);
        assert_eq!(ring.per_minute(1001), flood + 1);
        assert_eq!(ring.peak(), flood + 1);
        assert_eq!(ring.recent_seconds::<2>(1001), [flood, 1]);
        // The flood second leaves the window; the running sum must agree
        // with a recount, or the peak would grow from a stale sum.
        ring.record(1060);
        assert_eq!(ring.per_minute(1060), 2);
        ring.record(1061);
        assert_eq!(ring.per_minute(1061), 2);
        ring.record(1061);
        assert_eq!(ring.peak(), flood + 1);
        assert_eq!(ring.per_minute(1061), 3);
        // And the wide ring keeps matching the oracle afterwards.
        let mut times = vec![1060, 1061, 1061];
        for t in 1062..1200 {
            ring.record(t);
            times.push(t);
            let in_window = times.iter().filter(|&&s| s > t - 60 && s <= t).count();
            assert_eq!(ring.per_minute(t) as usize, in_window, "end {t}");
        }
    }

    #[test]
    fn old_events_do_not_count_as_rate() {
        let mut ring = RateRing::default();
        ring.record(1000);
        ring.record(900);
        assert_eq!(ring.per_minute(1000), 1);
        ring.record(990);
        assert_eq!(ring.per_minute(1000), 2);
        assert_eq!(ring.peak(), 2);
    }

    /// Counts are 4 bits until a second passes 15: the ring then widens to
    /// u32 counts, and every second's count stays exact across the move
    /// (both halves of a byte: an even and an odd second).
    #[test]
    fn a_second_over_four_bits_widens_the_ring_exactly() {
        let mut ring = RateRing::default();
        for _ in 0..15 {
            ring.record(2000);
            ring.record(2001);
        }
        assert!(ring.wide.is_none(), "15 still fits");
        ring.record(2000);
        assert!(ring.wide.is_some(), "the 16th event of a second widens");
        ring.record(2001);
        assert_eq!(ring.recent_seconds::<3>(2001), [0, 16, 16]);
        assert_eq!(ring.per_minute(2001), 32);
        assert_eq!(ring.peak(), 32);
        ring.record(2061);
        assert_eq!(ring.per_minute(2061), 1, "both seconds left the window");
    }

    /// Each half of a byte counts, and empties, alone.
    #[test]
    fn neighbouring_seconds_keep_their_own_counts() {
        let mut ring = RateRing::default();
        for (t, n) in [(3000, 15), (3001, 7), (3002, 1), (3003, 15)] {
            for _ in 0..n {
                ring.record(t);
            }
        }
        assert!(ring.wide.is_none());
        assert_eq!(ring.recent_seconds::<4>(3003), [15, 7, 1, 15]);
        // 3000 and 3001 leave the window; 3002 and 3003 stay.
        ring.record(3061);
        assert_eq!(ring.recent_seconds::<4>(3003), [0, 0, 1, 15]);
        assert_eq!(ring.per_minute(3061), 17);
    }
}
