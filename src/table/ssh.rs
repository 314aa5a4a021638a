//! The last sshd events of one address, for the drill-down (0.2.0 listed
//! the last 30 with time, kind and the user name tried).
//!
//! User names are attacker-controlled: each event keeps at most
//! [`SSH_USER_MAX`] bytes of it inline (a longer one is cut and marked), so
//! an event is a fixed 32-byte copy and the ring never holds more than
//! [`RECENT_SSH_EVENTS`] of them. The bytes are stored as logged and
//! sanitised when drawn, like every other outside string. The ring grows in
//! steps (2, 8, then all 30 slots): most addresses knock once or twice.

use std::collections::VecDeque;

use crate::parse::AuthKind;

/// sshd events kept per row (0.2.0 showed 30).
pub(crate) const RECENT_SSH_EVENTS: usize = 30;
/// User name bytes kept per event; longer names are cut (and marked).
pub(crate) const SSH_USER_MAX: usize = 25;

/// One sshd event: when, what, and the user name tried (cut to
/// [`SSH_USER_MAX`] bytes). 32 bytes, no pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SshEvent {
    /// Unix seconds (u32 lasts until 2106).
    pub(crate) time: u32,
    pub(crate) kind: AuthKind,
    user_len: u8,
    truncated: bool,
    user: [u8; SSH_USER_MAX],
}

impl SshEvent {
    pub(crate) fn new(time: u32, kind: AuthKind, user: &[u8]) -> SshEvent {
        let kept = user.len().min(SSH_USER_MAX);
        let mut inline = [0; SSH_USER_MAX];
        inline[..kept].copy_from_slice(&user[..kept]);
        SshEvent {
            time,
            kind,
            user_len: kept as u8,
            truncated: user.len() > SSH_USER_MAX,
            user: inline,
        }
    }

    /// The user name as logged, cut to [`SSH_USER_MAX`] bytes (may be
    /// empty, may be hostile: sanitise before drawing).
    pub(crate) fn user(&self) -> &[u8] {
        &self.user[..usize::from(self.user_len)]
    }

    /// Whether the logged name was longer than what is kept.
    pub(crate) fn is_truncated(&self) -> bool {
        self.truncated
    }
}

/// What a row keeps of sshd: counts by kind, the last failure and the
/// last events. Boxed on the row and absent until its first sshd line: few
/// addresses ever talk to sshd, and the row is the table's unit of memory
/// (24 bytes less a row: 1.1 MiB at the 50 000-row cap).
#[derive(Debug, Clone, Default)]
pub(super) struct SshLog {
    /// sshd events by kind, indexed by `auth_index`.
    pub(super) counts: [u32; 5],
    /// Event second of the last failure (`failed` or `invalid_user`), 0
    /// before the first.
    pub(super) last_failure: u32,
    /// Event second of the breach the detector noted (a login accepted
    /// after failures), 0 for none: see `Row::note_breach`.
    pub(super) breach: u32,
    pub(super) events: VecDeque<SshEvent>,
}

/// Append `event` to `ring`, dropping the oldest at [`RECENT_SSH_EVENTS`].
pub(super) fn push(ring: &mut VecDeque<SshEvent>, event: SshEvent) {
    if ring.len() == RECENT_SSH_EVENTS {
        ring.pop_front();
    } else if ring.len() == ring.capacity() {
        let want = match ring.capacity() {
            0..2 => 2,
            2..8 => 8,
            _ => RECENT_SSH_EVENTS,
        };
        ring.reserve_exact(want - ring.len());
    }
    ring.push_back(event);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_a_fixed_small_copy() {
        assert_eq!(std::mem::size_of::<SshEvent>(), 32);
    }

    #[test]
    fn long_user_names_are_cut_and_marked() {
        let long = [b'a'; 4096];
        let e = SshEvent::new(1, AuthKind::InvalidUser, &long);
        assert_eq!(e.user(), &long[..SSH_USER_MAX]);
        assert!(e.is_truncated());
        let e = SshEvent::new(1, AuthKind::Failed, b"root");
        assert_eq!((e.user(), e.is_truncated()), (&b"root"[..], false));
    }

    #[test]
    fn the_ring_keeps_the_last_30_and_no_more_room() {
        let mut ring = VecDeque::new();
        for n in 0..100u32 {
            push(&mut ring, SshEvent::new(n, AuthKind::Failed, b"root"));
            assert!(ring.capacity() <= RECENT_SSH_EVENTS.next_power_of_two());
        }
        assert_eq!(ring.len(), RECENT_SSH_EVENTS);
        assert_eq!(ring.front().map(|e| e.time), Some(70));
        assert_eq!(ring.back().map(|e| e.time), Some(99));
    }
}
