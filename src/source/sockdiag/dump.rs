//! The dump's request/reply state machine and the socket that drives it.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::gate::{DumpGate, SockStat};
use super::wire::{dump_request, legacy_request, parse_dump_chunk, Reply};
use crate::parse::sockets::{Family, SocketEntry};
use crate::sys::netlink;

/// Receive buffer. The kernel sizes dump datagrams to the reader's buffer but
/// caps them at 32 KiB, so 64 KiB never truncates; `MSG_TRUNC` still tells.
const RECV_BUF: usize = 64 << 10; // 64 KiB

/// Where a dump stands after [`SockDiag::read_replies`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DumpProgress {
    /// A dump is in flight; more replies will make the socket readable.
    Pending,
    /// The dump finished during this call (all of it): the sockets handed
    /// out since [`SockDiag::request_dump`] are the whole table.
    Done,
    /// No dump in flight (none requested since the last `Done`); anything that
    /// arrived was stale and dropped.
    Idle,
}

/// Counters of the current (or last) dump, reset by each request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DumpStats {
    /// Sockets handed out.
    pub(crate) sockets: u32,
    /// Replies of an older request, dropped.
    pub(crate) stale: u32,
    /// Unreadable messages (see [`ChunkResult::malformed`]).
    pub(crate) malformed: u32,
    /// Datagrams larger than the receive buffer (their tail was lost).
    pub(crate) truncated: u32,
    /// Datagrams not from the kernel, dropped.
    pub(crate) foreign: u32,
    /// Requests sent: 1 for a legacy dump of both families, 2 for one family
    /// after the other, more after `EBUSY` or a refused legacy request.
    pub(crate) requests: u32,
    /// The first error the kernel reported for a request (negative errno);
    /// its sockets are missing. `-EAFNOSUPPORT` for IPv6 means the
    /// host has no IPv6.
    pub(crate) error: Option<i32>,
}

/// What one request of a dump asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    /// Both families in one walk (`TCPDIAG_GETSOCK`).
    Both,
    /// One family (`SOCK_DIAG_BY_FAMILY`).
    Only(Family),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Idle,
    /// Dumping `part` under `seq`. `busy`: the kernel refused the request
    /// because an older dump still runs; send again when that one ends.
    Running {
        part: Part,
        seq: u32,
        busy: bool,
    },
}

/// The request/reply state machine, apart from the socket so it can be tested
/// with synthetic replies.
#[derive(Debug)]
pub(super) struct DumpState {
    pub(super) phase: Phase,
    last_seq: u32,
    /// A request for the current phase must be sent once this chunk is read.
    pub(super) must_send: bool,
    /// The dump finished while reading the current batch.
    pub(super) finished: bool,
    /// The kernel refused the legacy request once: ask per family from now on.
    pub(super) per_family: bool,
    pub(super) stats: DumpStats,
}

impl DumpState {
    pub(super) fn new() -> Self {
        DumpState {
            phase: Phase::Idle,
            last_seq: 0,
            must_send: false,
            finished: false,
            per_family: false,
            stats: DumpStats::default(),
        }
    }

    fn fresh_seq(&mut self) -> u32 {
        self.last_seq = self.last_seq.wrapping_add(1);
        self.last_seq
    }

    /// Start a new dump; the caller sends the request.
    pub(super) fn start(&mut self) {
        self.finished = false;
        self.stats = DumpStats::default();
        let first = if self.per_family {
            Part::Only(Family::V4)
        } else {
            Part::Both
        };
        self.send_next(first);
    }

    /// Move on to `part` under a fresh sequence number and ask for its request.
    fn send_next(&mut self, part: Part) {
        let seq = self.fresh_seq();
        self.phase = Phase::Running {
            part,
            seq,
            busy: false,
        };
        self.must_send = true;
    }

    pub(super) fn on_reply(&mut self, reply: Reply, out: &mut impl FnMut(SocketEntry)) {
        let Phase::Running { part, seq, busy } = self.phase else {
            self.stats.stale += 1;
            return;
        };
        match reply {
            Reply::Socket { seq: s, entry } if s == seq => {
                self.stats.sockets += 1;
                out(entry);
            }
            Reply::Done { seq: s, errno } if s == seq => self.part_done(part, errno),
            Reply::Error { seq: s, errno } if s == seq => match -errno {
                0 => {}
                libc::EBUSY => self.set_busy(),
                // Any other refusal of the legacy request (EINVAL, ENOENT,
                // EOPNOTSUPP...) means this kernel won't serve it: restart
                // this dump per family, and remember. A transient error would
                // only cost the single walk, never sockets.
                _ if part == Part::Both => {
                    self.per_family = true;
                    self.send_next(Part::Only(Family::V4));
                }
                _ => self.part_done(part, errno),
            },
            // The end of an older dump frees the socket for the refused request.
            Reply::Done { .. } if busy => {
                self.stats.stale += 1;
                self.send_next(part);
            }
            _ => self.stats.stale += 1,
        }
    }

    fn set_busy(&mut self) {
        if let Phase::Running { busy, .. } = &mut self.phase {
            *busy = true;
        }
    }

    fn part_done(&mut self, part: Part, errno: i32) {
        if errno != 0 && self.stats.error.is_none() {
            self.stats.error = Some(errno);
        }
        match part {
            Part::Only(Family::V4) => self.send_next(Part::Only(Family::V6)),
            Part::Both | Part::Only(Family::V6) => {
                self.phase = Phase::Idle;
                self.finished = true;
            }
        }
    }
}

/// A non-blocking `NETLINK_SOCK_DIAG` socket that dumps the TCP table.
///
/// Register it in the loop (it is a `mio::event::Source`), call
/// [`request_dump`](Self::request_dump) each tick and
/// [`read_replies`](Self::read_replies) when it is readable, collecting sockets
/// until `Done`.
#[derive(Debug)]
pub struct SockDiag {
    fd: OwnedFd,
    buf: Vec<u8>,
    state: DumpState,
    pub(super) gate: DumpGate,
    /// Tests: send the legacy request cut short, so the kernel refuses it
    /// (`EINVAL`) and the fallback runs against the real kernel.
    #[cfg(test)]
    pub(super) refuse_legacy: bool,
}

impl SockDiag {
    /// Open the socket and connect it to the kernel, so the kernel refuses
    /// messages from any other netlink sender. Fails cleanly where netlink is
    /// refused (sandboxes, seccomp); the caller then reads /proc.
    pub(crate) fn open() -> io::Result<SockDiag> {
        let fd = netlink::open_sock_diag()?;
        Ok(SockDiag {
            fd,
            buf: vec![0; RECV_BUF],
            state: DumpState::new(),
            gate: DumpGate::new(SockStat::open()),
            #[cfg(test)]
            refuse_legacy: false,
        })
    }

    /// Start a dump of every TCP socket in every state, both families. A dump
    /// still in flight is abandoned: its remaining replies are dropped.
    pub(crate) fn request_dump(&mut self) -> io::Result<()> {
        let counters = self.gate.read();
        self.gate.begin(counters);
        self.state.start();
        self.send_pending()
    }

    /// A tick's dump: send it as [`request_dump`](Self::request_dump) does and
    /// return `true`, unless [`dump_due`] says the kernel's TCP counters have
    /// not moved since the last complete dump (then `false`: that dump's
    /// sockets are still the table).
    pub(crate) fn request_dump_if_due(&mut self) -> io::Result<bool> {
        let counters = self.gate.read();
        if !self.gate.tick(counters) {
            return Ok(false);
        }
        self.state.start();
        self.send_pending()?;
        Ok(true)
    }

    /// Read every reply queued on the socket (until `WouldBlock`), calling
    /// `out` for each socket of the current dump. Sockets of one dump may come
    /// over several calls; `Done` marks the call that completed it.
    pub(crate) fn read_replies(
        &mut self,
        out: &mut impl FnMut(SocketEntry),
    ) -> io::Result<DumpProgress> {
        let was_running = self.state.phase != Phase::Idle;
        while let Some(len) = self.recv()? {
            let chunk = &self.buf[..len.min(self.buf.len())];
            if len > self.buf.len() {
                self.state.stats.truncated += 1;
            }
            let state = &mut self.state;
            let result = parse_dump_chunk(chunk, &mut |reply| state.on_reply(reply, out));
            state.stats.malformed += result.malformed;
            self.send_pending()?;
        }
        let finished = std::mem::take(&mut self.state.finished);
        if finished {
            let stats = self.state.stats;
            let whole = stats.error.is_none() && stats.truncated == 0 && stats.malformed == 0;
            self.gate.completed(whole);
        }
        Ok(if finished {
            DumpProgress::Done
        } else if was_running {
            DumpProgress::Pending
        } else {
            DumpProgress::Idle
        })
    }

    /// Counters of the current dump, or of the last one once it is done.
    pub(crate) fn stats(&self) -> DumpStats {
        self.state.stats
    }

    /// True once the kernel has refused the single legacy request: every dump
    /// then asks for IPv4 and IPv6 one after the other (two hash walks).
    #[cfg(test)]
    pub(crate) fn is_per_family(&self) -> bool {
        self.state.per_family
    }

    /// True from a request until its dump is done (or abandoned): the one
    /// record of a dump in flight, which the engine's stall check reads.
    pub(crate) fn is_dump_in_flight(&self) -> bool {
        self.state.phase != Phase::Idle
    }

    /// Give up on the dump in flight after an error: its remaining replies
    /// are dropped as stale, and the next request starts afresh.
    pub(crate) fn abandon_dump(&mut self) {
        self.state.phase = Phase::Idle;
    }

    /// Send the request the state machine asked for, if any.
    fn send_pending(&mut self) -> io::Result<()> {
        if !std::mem::take(&mut self.state.must_send) {
            return Ok(());
        }
        let Phase::Running { part, seq, .. } = self.state.phase else {
            return Ok(());
        };
        self.state.stats.requests += 1;
        match part {
            Part::Both => {
                #[allow(unused_mut)] // changed by the test hook only
                let mut request = legacy_request(seq);
                #[cfg(test)]
                if self.refuse_legacy {
                    request.header.nlmsg_len = (super::wire::NLMSG_HDRLEN + 4) as u32;
                }
                netlink::send(self.fd.as_raw_fd(), request.as_bytes())
            }
            Part::Only(family) => {
                let request = dump_request(family, seq);
                netlink::send(self.fd.as_raw_fd(), request.as_bytes())
            }
        }
    }

    /// One datagram into `buf`: `Some(full length)` (may exceed the buffer, see
    /// `MSG_TRUNC`), `None` when nothing is queued. Datagrams from anyone but
    /// the kernel are dropped and counted.
    fn recv(&mut self) -> io::Result<Option<usize>> {
        while let Some((len, sender)) = netlink::recv(self.fd.as_raw_fd(), &mut self.buf)? {
            if sender == 0 {
                return Ok(Some(len));
            }
            self.state.stats.foreign += 1;
        }
        Ok(None)
    }
}

impl AsRawFd for SockDiag {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

crate::sys::impl_fd_source!(SockDiag);
