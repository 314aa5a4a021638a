//! A row's recent requests, oldest first, in a ring over one boxed slice.
//!
//! 24 bytes in the row where a `VecDeque` took 32 (its capacity is the
//! slice's length, and head and length fit u16: a ring holds at most
//! `max_log_entries_per_ip`, 10 000). At 20 000 rows the row is most of the
//! table's memory, and the smaller it is the more rows stay in the cache.

use super::RecentRequest;

/// Requests the ring may ever hold; the config's limit is below it.
const MAX_CAPACITY: usize = u16::MAX as usize;

#[derive(Debug, Clone, Default)]
pub(crate) struct RecentRing {
    slots: Box<[RecentRequest]>,
    /// Slot of the oldest entry.
    head: u16,
    len: u16,
}

impl RecentRing {
    pub(crate) fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots allocated.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Entries from the oldest to the slice's end (the rest wrap to its
    /// start). `head` is below the slice's length, or 0 with no slice.
    fn first_run_len(&self) -> usize {
        self.len().min(self.slots.len() - usize::from(self.head))
    }

    /// The entries as two runs of slots: from the oldest to the slice's
    /// end, then from its start.
    fn runs(&self) -> (&[RecentRequest], &[RecentRequest]) {
        let (head, first) = (usize::from(self.head), self.first_run_len());
        (
            &self.slots[head..head + first],
            &self.slots[..self.len() - first],
        )
    }

    /// Oldest first.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &RecentRequest> + Clone {
        let (older, newer) = self.runs();
        older.iter().chain(newer)
    }

    /// Oldest first, to rewrite string ids.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut RecentRequest> {
        let (first, rest) = (self.first_run_len(), self.len() - self.first_run_len());
        let (start, end) = self.slots.split_at_mut(usize::from(self.head));
        end[..first].iter_mut().chain(&mut start[..rest])
    }

    /// The newest entry.
    pub(crate) fn back(&self) -> Option<&RecentRequest> {
        let last = self.len().checked_sub(1)?;
        Some(&self.slots[self.wrap(usize::from(self.head) + last)])
    }

    /// Ask the CPU for the slot the next [`push`](Self::push) writes (when
    /// the ring is full, the oldest, which that push overwrites). The slice
    /// lives apart from its row: without this its line is a cache miss at
    /// the push; with it, the miss overlaps the interning of the line's
    /// strings, which comes between.
    #[inline]
    pub(crate) fn prefetch_next(&self) {
        if let Some(slot) = self.slots.get(self.next_slot()) {
            super::prefetch_line(std::ptr::from_ref(slot).cast());
        }
    }

    /// The slot after the newest entry (the oldest's when the ring is full).
    #[inline]
    fn next_slot(&self) -> usize {
        self.wrap(usize::from(self.head) + self.len())
    }

    /// `i` wrapped into the slice, for `i` below twice its length (no
    /// division: capacities like 10 and 20 aren't powers of two).
    #[inline]
    fn wrap(&self, i: usize) -> usize {
        if i >= self.slots.len() {
            i - self.slots.len()
        } else {
            i
        }
    }

    /// Add `request` as the newest, keeping at most `cap` entries (the
    /// oldest go). A full ring below `cap` grows: 1, 2, 4, 10 slots, then
    /// the usual 20, then doubling up to a wide row's cap. Most clients
    /// send a few requests (on the realistic log a third of them one, a
    /// quarter two), and at 20 000 rows the rings are most of the heap.
    #[inline]
    pub(crate) fn push(&mut self, request: RecentRequest, cap: usize) {
        let cap = cap.clamp(1, MAX_CAPACITY);
        while self.len() >= cap {
            self.pop_oldest();
        }
        if self.len() == self.slots.len() {
            self.grow(cap);
        }
        let at = self.next_slot();
        self.slots[at] = request;
        self.len += 1;
    }

    fn pop_oldest(&mut self) {
        self.head = self.wrap(usize::from(self.head) + 1) as u16;
        self.len -= 1;
    }

    /// Room for more entries, never past `cap`: the entries move to a new
    /// slice, oldest at its start.
    #[cold]
    fn grow(&mut self, cap: usize) {
        let want = match self.slots.len() {
            0 => 1,
            1 => 2,
            2..4 => 4,
            4..10 => 10,
            c if c < super::RECENT_REQUESTS => super::RECENT_REQUESTS,
            c => c * 2,
        };
        let mut slots = vec![FILLER; want.min(cap)].into_boxed_slice();
        let (older, newer) = self.runs();
        let (to_older, rest) = slots.split_at_mut(older.len());
        to_older.copy_from_slice(older);
        rest[..newer.len()].copy_from_slice(newer);
        self.slots = slots;
        self.head = 0;
    }
}

/// What fills the slots no entry holds yet (never read).
const FILLER: RecentRequest = RecentRequest {
    time: 0,
    bytes: 0,
    method: super::StrId::EMPTY,
    path: super::StrId::EMPTY,
    user_agent: super::StrId::EMPTY,
    status: 0,
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    fn request(n: u32) -> RecentRequest {
        RecentRequest { time: n, ..FILLER }
    }

    fn times<'a>(it: impl Iterator<Item = &'a RecentRequest>) -> Vec<u32> {
        it.map(|r| r.time).collect()
    }

    /// Against a `VecDeque` trimmed to the same cap, through growth,
    /// wrapping, and a cap that changes (a row widened, a smaller cap).
    #[test]
    fn keeps_the_newest_entries_in_order() {
        let mut ring = RecentRing::default();
        let mut model: VecDeque<u32> = VecDeque::new();
        assert!(ring.is_empty() && ring.back().is_none());
        for n in 0..600u32 {
            let cap = match n {
                0..150 => 20,
                150..400 => 100,
                400..500 => 7,
                _ => 1,
            };
            ring.push(request(n), cap);
            model.push_back(n);
            while model.len() > cap {
                model.pop_front();
            }
            assert_eq!(ring.len(), model.len());
            assert_eq!(times(ring.iter()), Vec::from(model.clone()), "after {n}");
            assert_eq!(times(ring.iter().rev()).first(), model.back());
            assert_eq!(ring.back().map(|r| r.time), model.back().copied());
            for r in ring.iter_mut() {
                r.bytes = r.time;
            }
            assert!(ring.iter().all(|r| r.bytes == r.time));
        }
    }

    #[test]
    fn grows_in_steps_never_past_the_cap() {
        let mut ring = RecentRing::default();
        let mut seen = Vec::new();
        for n in 0..100 {
            ring.push(request(n), 50);
            if seen.last() != Some(&ring.capacity()) {
                seen.push(ring.capacity());
            }
        }
        assert_eq!(seen, [1, 2, 4, 10, 20, 40, 50]);
    }
}
