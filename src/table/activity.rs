//! The dashboard's right panel: the most recent HTTP requests and sshd
//! events, newest last, in a ring of fixed capacity.
//!
//! Entries hold interned ids, not copies: the path, method and user agent
//! of a request are already interned for the row's own recent ring, so an
//! entry costs 40 bytes and no allocation per line (500 entries are 20 KB).
//! The price is that the table's string sweep must mark these ids too
//! ([`ActivityLog::mark`]), and that a string the interner dropped (refused,
//! or trimmed as the oldest when full) shows as `…` here as it does in the
//! drill-down. sshd user names are
//! interned only while the ring is on (capacity > 0), so headless runs pay
//! nothing for it.

use std::collections::VecDeque;
use std::net::IpAddr;

use super::intern::{Interner, StrId};
use crate::parse::AuthKind;

/// What happened, without the address and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ActivityKind {
    /// One HTTP request.
    Http {
        method: StrId,
        path: StrId,
        user_agent: StrId,
        status: u16,
        bytes: u32,
    },
    /// One sshd event.
    Ssh { kind: AuthKind, user: StrId },
}

/// One line of the activity panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Activity {
    /// Event time, Unix seconds (u32 lasts until 2106).
    pub(crate) time: u32,
    pub(crate) ip: IpAddr,
    pub(crate) kind: ActivityKind,
}

/// A bounded ring of [`Activity`], oldest first. Capacity 0 records nothing.
#[derive(Debug, Default)]
pub(crate) struct ActivityLog {
    entries: VecDeque<Activity>,
    capacity: usize,
    /// Entries ever recorded, so a view can tell that new ones arrived.
    recorded: u64,
}

impl ActivityLog {
    /// Keep at most `capacity` entries (0 turns the log off); the ring is
    /// allocated once, here.
    pub(crate) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        while self.entries.len() > capacity {
            self.entries.pop_front();
        }
        self.entries.shrink_to(capacity);
        self.entries.reserve_exact(capacity - self.entries.len());
    }

    /// Whether entries are kept at all.
    pub(crate) fn is_enabled(&self) -> bool {
        self.capacity > 0
    }

    /// Append one entry, dropping the oldest when full.
    pub(crate) fn push(&mut self, entry: Activity) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
        self.recorded += 1;
    }

    /// Entries, oldest first.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &Activity> + ExactSizeIterator {
        self.entries.iter()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries ever recorded (including those dropped since).
    #[cfg(test)]
    pub(crate) fn recorded(&self) -> u64 {
        self.recorded
    }

    /// Apply `f` to every string id held (to rewrite trimmed ones).
    pub(super) fn for_each_id(&mut self, mut f: impl FnMut(&mut StrId)) {
        for entry in &mut self.entries {
            match &mut entry.kind {
                ActivityKind::Http {
                    method,
                    path,
                    user_agent,
                    ..
                } => {
                    f(method);
                    f(path);
                    f(user_agent);
                }
                ActivityKind::Ssh { user, .. } => f(user),
            }
        }
    }

    /// Mark every string still referred to, before the interner sweeps.
    pub(super) fn mark(&self, strings: &mut Interner) {
        for entry in &self.entries {
            match entry.kind {
                ActivityKind::Http {
                    method,
                    path,
                    user_agent,
                    ..
                } => {
                    strings.mark(method);
                    strings.mark(path);
                    strings.mark(user_agent);
                }
                ActivityKind::Ssh { user, .. } => strings.mark(user),
            }
        }
    }
}
