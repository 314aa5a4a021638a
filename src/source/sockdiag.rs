//! The kernel's TCP socket table through netlink `NETLINK_SOCK_DIAG`.
//!
//! One non-blocking netlink socket, registered in the mio loop. Each tick asks
//! for one dump of every TCP socket in every state; the replies are parsed as
//! they arrive, from one reused buffer, without allocating.
//!
//! One request, both families: each dump walks the kernel's whole established
//! hash (every bucket, empty or not: 262 144 of them on a 24 GB host, about
//! 1.3 ms of kernel time), whatever the family asked for. The legacy request
//! `TCPDIAG_GETSOCK` with the old `struct inet_diag_req` is served with family
//! `AF_UNSPEC` (`inet_diag_dump_compat`), so one walk returns IPv4 and IPv6
//! sockets: half the kernel time of asking `SOCK_DIAG_BY_FAMILY` for each
//! family. A kernel that refuses it (built without the compat handler, or a
//! future one that drops it) answers with an error; the socket then falls back
//! to `SOCK_DIAG_BY_FAMILY`, IPv4 then IPv6, for the rest of its life.
//!
//! Why one family after the other in that fallback: a netlink socket runs at
//! most one dump at a time, and a dump request sent while another is still
//! running is refused with `EBUSY` (`netlink_dump_start`). So the IPv6 request
//! goes out when the IPv4 dump's `NLMSG_DONE` arrives.
//!
//! Ticks that cannot have changed anything skip the dump: see
//! [`SockDiag::request_dump_if_due`] and [`dump_due`].
//!
//! A new request while a dump is still in flight (a slow tick, a reader that
//! fell behind) is sent at once with a fresh sequence number; replies that carry
//! an older number are dropped. If the kernel answers `EBUSY` because the old
//! dump is still running, the request is sent again when that dump's
//! `NLMSG_DONE` arrives.

use std::fs::File;
use std::io;
use std::mem::{size_of, MaybeUninit};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::parse::sockets::{Family, SocketEntry, TcpState};
use crate::sys::file::{self, Links};

/// Receive buffer. The kernel sizes dump datagrams to the reader's buffer but
/// caps them at 32 KiB, so 64 KiB never truncates; `MSG_TRUNC` still tells.
const RECV_BUF: usize = 64 << 10; // 64 KiB

/// Ticks in a row whose dump may be skipped: a full dump at least every 5th
/// tick, whatever the counters say.
pub const MAX_SKIPPED_TICKS: u32 = 4;

/// Buffer for /proc/net/sockstat{,6} (about 300 bytes each).
const SOCKSTAT_BUF: usize = 4 << 10; // 4 KiB

/// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h): request and reply message type.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `TCPDIAG_GETSOCK` (linux/inet_diag.h): the legacy TCP request, answered
/// with replies of the same type (and the same body as `SOCK_DIAG_BY_FAMILY`).
const TCPDIAG_GETSOCK: u16 = 18;
const NLMSG_HDRLEN: usize = size_of::<libc::nlmsghdr>();

/// `struct inet_diag_sockid` (linux/inet_diag.h). Ports and addresses are in
/// network byte order; an IPv4 address is the first 4 bytes of `src`/`dst`.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(dead_code)] // the kernel's layout, read whole; not every field is used
struct InetDiagSockId {
    sport: [u8; 2],
    dport: [u8; 2],
    src: [u8; 16],
    dst: [u8; 16],
    interface: u32,
    cookie: [u32; 2],
}

/// `struct inet_diag_req_v2`.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(dead_code)] // the kernel's layout, read whole; not every field is used
struct InetDiagReqV2 {
    family: u8,
    protocol: u8,
    ext: u8,
    pad: u8,
    states: u32,
    id: InetDiagSockId,
}

/// `struct inet_diag_req`: the legacy request body. The kernel ignores its
/// `family` and dumps both (`AF_UNSPEC`).
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(dead_code)] // the kernel's layout, sent whole
struct InetDiagReq {
    family: u8,
    src_len: u8,
    dst_len: u8,
    ext: u8,
    id: InetDiagSockId,
    states: u32,
    dbs: u32,
}

/// `struct inet_diag_msg`: the fixed head of each reply; attributes follow.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(dead_code)] // the kernel's layout, read whole; not every field is used
struct InetDiagMsg {
    family: u8,
    state: u8,
    timer: u8,
    retrans: u8,
    id: InetDiagSockId,
    expires: u32,
    rqueue: u32,
    wqueue: u32,
    uid: u32,
    inode: u32,
}

/// A dump request as sent: header and body, no padding between them.
#[repr(C)]
struct DumpRequest {
    header: libc::nlmsghdr,
    body: InetDiagReqV2,
}

/// A legacy (`TCPDIAG_GETSOCK`) dump request as sent.
#[repr(C)]
struct LegacyRequest {
    header: libc::nlmsghdr,
    body: InetDiagReq,
}

// The kernel ABI: a size mismatch here would misread every reply.
const _: () = assert!(size_of::<InetDiagSockId>() == 48);
const _: () = assert!(size_of::<InetDiagReqV2>() == 56);
const _: () = assert!(size_of::<InetDiagReq>() == 60);
const _: () = assert!(size_of::<LegacyRequest>() == 76);
const _: () = assert!(size_of::<InetDiagMsg>() == 72);
const _: () = assert!(size_of::<DumpRequest>() == 72);

/// Plain integer structs: every bit pattern is a valid value.
///
/// # Safety
/// Implement only for `Copy` types made of integers and arrays of integers.
unsafe trait Pod: Copy {}
unsafe impl Pod for libc::nlmsghdr {}
unsafe impl Pod for InetDiagMsg {}
unsafe impl Pod for i32 {}

/// Read a `T` from the start of `bytes`, or `None` if there are too few.
fn read_pod<T: Pod>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < size_of::<T>() {
        return None;
    }
    // SAFETY: the length is checked above, read_unaligned needs no alignment,
    // and `T: Pod` makes any bytes a valid `T`.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

/// One netlink message of a dump reply, as [`parse_dump_chunk`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// A socket of the dump with sequence number `seq`.
    Socket { seq: u32, entry: SocketEntry },
    /// `NLMSG_DONE`: the dump `seq` is over; `errno` is 0 or the negative
    /// error that cut it short.
    Done { seq: u32, errno: i32 },
    /// `NLMSG_ERROR` for request `seq`: 0 is an ack, else a negative errno.
    Error { seq: u32, errno: i32 },
}

/// What one datagram held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChunkResult {
    /// Messages whose header could be read (any type).
    pub messages: u32,
    /// Messages with an unreadable body, plus one if a broken header or a cut
    /// message ended the walk early.
    pub malformed: u32,
}

/// Walk the netlink messages in `bytes` (one received datagram), calling `out`
/// for each socket, `NLMSG_DONE` and `NLMSG_ERROR`. Other message types are
/// skipped. Pure and panic-free on any input; the fuzz target calls it.
pub fn parse_dump_chunk(bytes: &[u8], out: &mut impl FnMut(Reply)) -> ChunkResult {
    let mut result = ChunkResult::default();
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some(header) = read_pod::<libc::nlmsghdr>(rest) else {
            result.malformed += 1;
            break;
        };
        let len = header.nlmsg_len as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            result.malformed += 1;
            break;
        }
        result.messages += 1;
        if !read_message(&header, &rest[NLMSG_HDRLEN..len], out) {
            result.malformed += 1;
        }
        // Messages are 4-byte aligned; the last one may end without padding.
        let next = len.saturating_add(3) & !3;
        rest = rest.get(next..).unwrap_or_default();
    }
    result
}

/// Hand one message to `out`; `false` if its body is unreadable.
fn read_message(header: &libc::nlmsghdr, body: &[u8], out: &mut impl FnMut(Reply)) -> bool {
    let seq = header.nlmsg_seq;
    match i32::from(header.nlmsg_type) {
        libc::NLMSG_DONE => {
            // The kernel appends the dump's result; an old kernel may not.
            let errno = read_pod::<i32>(body).unwrap_or(0);
            out(Reply::Done { seq, errno });
            true
        }
        libc::NLMSG_ERROR => match read_pod::<i32>(body) {
            Some(errno) => {
                out(Reply::Error { seq, errno });
                true
            }
            None => false,
        },
        _ if matches!(header.nlmsg_type, SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK) => {
            match socket_entry(body) {
                Some(entry) => {
                    out(Reply::Socket { seq, entry });
                    true
                }
                None => false,
            }
        }
        _ => true,
    }
}

/// A socket from the body of a `SOCK_DIAG_BY_FAMILY` or `TCPDIAG_GETSOCK` reply.
fn socket_entry(body: &[u8]) -> Option<SocketEntry> {
    let msg = read_pod::<InetDiagMsg>(body)?;
    let ip = |raw: [u8; 16]| -> Option<IpAddr> {
        match i32::from(msg.family) {
            libc::AF_INET => Some(IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]))),
            libc::AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(raw)).to_canonical()),
            _ => None,
        }
    };
    Some(SocketEntry {
        local: SocketAddr::new(ip(msg.id.src)?, u16::from_be_bytes(msg.id.sport)),
        remote: SocketAddr::new(ip(msg.id.dst)?, u16::from_be_bytes(msg.id.dport)),
        state: TcpState::from_kernel(msg.state)?,
    })
}

/// Where a dump stands after [`SockDiag::read_replies`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpProgress {
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
pub struct DumpStats {
    /// Sockets handed out.
    pub sockets: u32,
    /// Replies of an older request, dropped.
    pub stale: u32,
    /// Unreadable messages (see [`ChunkResult::malformed`]).
    pub malformed: u32,
    /// Datagrams larger than the receive buffer (their tail was lost).
    pub truncated: u32,
    /// Datagrams not from the kernel, dropped.
    pub foreign: u32,
    /// Requests sent: 1 for a legacy dump of both families, 2 for one family
    /// after the other, more after `EBUSY` or a refused legacy request.
    pub requests: u32,
    /// The first error the kernel reported for a request (negative errno);
    /// its sockets are missing. `-EAFNOSUPPORT` for IPv6 means the
    /// host has no IPv6.
    pub error: Option<i32>,
}

/// What one request of a dump asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Both families in one walk (`TCPDIAG_GETSOCK`).
    Both,
    /// One family (`SOCK_DIAG_BY_FAMILY`).
    Only(Family),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
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
struct DumpState {
    phase: Phase,
    last_seq: u32,
    /// A request for the current phase must be sent once this chunk is read.
    must_send: bool,
    /// The dump finished while reading the current batch.
    finished: bool,
    /// The kernel refused the legacy request once: ask per family from now on.
    per_family: bool,
    stats: DumpStats,
}

impl DumpState {
    fn new() -> Self {
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
    fn start(&mut self) {
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

    fn on_reply(&mut self, reply: Reply, out: &mut impl FnMut(SocketEntry)) {
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
    gate: DumpGate,
    /// Tests: send the legacy request cut short, so the kernel refuses it
    /// (`EINVAL`) and the fallback runs against the real kernel.
    #[cfg(test)]
    refuse_legacy: bool,
}

impl SockDiag {
    /// Open the socket and connect it to the kernel, so the kernel refuses
    /// messages from any other netlink sender. Fails cleanly where netlink is
    /// refused (sandboxes, seccomp); the caller then reads /proc.
    pub fn open() -> io::Result<SockDiag> {
        let flags = libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
        // SAFETY: plain syscall with constant arguments.
        let raw = unsafe { libc::socket(libc::AF_NETLINK, flags, libc::NETLINK_SOCK_DIAG) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let kernel = kernel_addr();
        // SAFETY: `kernel` is a valid sockaddr_nl and the length is its size.
        let rc = unsafe {
            libc::connect(
                fd.as_raw_fd(),
                std::ptr::from_ref(&kernel).cast(),
                sockaddr_nl_len(),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
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
    pub fn request_dump(&mut self) -> io::Result<()> {
        let counters = self.gate.read();
        self.gate.begin(counters);
        self.state.start();
        self.send_pending()
    }

    /// A tick's dump: send it as [`request_dump`](Self::request_dump) does and
    /// return `true`, unless [`dump_due`] says the kernel's TCP counters have
    /// not moved since the last complete dump (then `false`: that dump's
    /// sockets are still the table).
    pub fn request_dump_if_due(&mut self) -> io::Result<bool> {
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
    pub fn read_replies(&mut self, out: &mut impl FnMut(SocketEntry)) -> io::Result<DumpProgress> {
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
    pub fn stats(&self) -> DumpStats {
        self.state.stats
    }

    /// True once the kernel has refused the single legacy request: every dump
    /// then asks for IPv4 and IPv6 one after the other (two hash walks).
    pub fn is_per_family(&self) -> bool {
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
                    request.header.nlmsg_len = (NLMSG_HDRLEN + 4) as u32;
                }
                self.send_message(&request, request.header.nlmsg_len as usize)
            }
            Part::Only(family) => {
                let request = dump_request(family, seq);
                self.send_message(&request, size_of::<DumpRequest>())
            }
        }
    }

    /// Send the first `len` bytes of `request`, a repr(C) netlink message.
    fn send_message<T>(&self, request: &T, len: usize) -> io::Result<()> {
        let len = len.min(size_of::<T>());
        loop {
            // SAFETY: `request` is a live value of at least `len` bytes.
            let rc = unsafe {
                libc::send(
                    self.fd.as_raw_fd(),
                    std::ptr::from_ref(request).cast(),
                    len,
                    0,
                )
            };
            if rc >= 0 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    /// One datagram into `buf`: `Some(full length)` (may exceed the buffer, see
    /// `MSG_TRUNC`), `None` when nothing is queued. Datagrams from anyone but
    /// the kernel are dropped and counted.
    fn recv(&mut self) -> io::Result<Option<usize>> {
        loop {
            let mut from = MaybeUninit::<libc::sockaddr_nl>::zeroed();
            let mut from_len = sockaddr_nl_len();
            // SAFETY: the buffer pointer and length describe `self.buf`; `from`
            // is large enough for the address the kernel writes.
            let rc = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    libc::MSG_TRUNC,
                    from.as_mut_ptr().cast(),
                    &mut from_len,
                )
            };
            if rc < 0 {
                let err = io::Error::last_os_error();
                match err.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock => return Ok(None),
                    _ => return Err(err),
                }
            }
            // SAFETY: zero-initialised, and a sockaddr_nl is plain integers.
            let from = unsafe { from.assume_init() };
            if from.nl_pid != 0 {
                self.state.stats.foreign += 1;
                continue;
            }
            return Ok(Some(rc.unsigned_abs()));
        }
    }
}

impl AsRawFd for SockDiag {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

crate::sys::impl_fd_source!(SockDiag);

/// The kernel's TCP socket counters (`/proc/net/sockstat` and `sockstat6`).
/// Creating, closing, orphaning a socket or moving it to TIME_WAIT changes at
/// least one of them; they are per-CPU sums, read without walking any hash.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpCounters {
    /// `TCP: inuse`: hashed IPv4 sockets (listening and connected).
    pub inuse: i64,
    /// `TCP: orphan`: closed by their process, still in the table.
    pub orphan: i64,
    /// `TCP: tw`: TIME_WAIT entries.
    pub tw: i64,
    /// `TCP: alloc`: TCP sockets allocated, both families.
    pub alloc: i64,
    /// `TCP6: inuse`: hashed IPv6 sockets; 0 on a host without IPv6.
    pub inuse6: i64,
}

impl TcpCounters {
    /// Counters from the text of sockstat and (if the host has IPv6)
    /// sockstat6; `None` if a counter is missing or unreadable.
    pub fn parse(sockstat: &[u8], sockstat6: Option<&[u8]>) -> Option<TcpCounters> {
        let v4 = |key| counter(sockstat, b"TCP:", key);
        Some(TcpCounters {
            inuse: v4(b"inuse")?,
            orphan: v4(b"orphan")?,
            tw: v4(b"tw")?,
            alloc: v4(b"alloc")?,
            inuse6: match sockstat6 {
                Some(text) => counter(text, b"TCP6:", b"inuse")?,
                None => 0,
            },
        })
    }
}

/// The number after `key` on the line of `text` that starts with `tag`
/// (`TCP: inuse 5 orphan 0 tw 2 alloc 7 mem 1`).
fn counter(text: &[u8], tag: &[u8], key: &[u8]) -> Option<i64> {
    let line = text.split(|&b| b == b'\n').find(|l| l.starts_with(tag))?;
    let mut words = line
        .get(tag.len()..)?
        .split(|&b| b == b' ')
        .filter(|w| !w.is_empty());
    while let Some(word) = words.next() {
        let value = words.next()?;
        if word == key {
            return std::str::from_utf8(value).ok()?.parse().ok();
        }
    }
    None
}

/// Whether a tick must dump, given the counters read right before the last
/// complete dump (`None`: no complete dump yet, or it lost sockets), the
/// counters now (`None`: unreadable) and the ticks skipped since that dump.
///
/// The trade-off: equal counters mean no socket was created, closed, orphaned
/// or moved to TIME_WAIT, so the last dump's sockets are exactly the table.
/// What they cannot see is a socket changing state without leaving the table
/// (ESTABLISHED to CLOSE_WAIT, FIN_WAIT1 to FIN_WAIT2 of a socket its process
/// still holds), or one socket replaced by another between two reads. Those
/// show up late, never lost: a full dump still runs at least every
/// `MAX_SKIPPED_TICKS + 1` ticks. In exchange an idle host walks the kernel's
/// established hash (262 144 buckets on 24 GB, ~1.5 ms) every 5 s, not 1 s.
pub fn dump_due(last_dump: Option<TcpCounters>, now: Option<TcpCounters>, skipped: u32) -> bool {
    match (last_dump, now) {
        (Some(last), Some(now)) => last != now || skipped >= MAX_SKIPPED_TICKS,
        _ => true,
    }
}

/// `/proc/net/sockstat` and `sockstat6`, kept open and read again from the
/// start each time (seq files regenerate on every read).
#[derive(Debug)]
struct SockStat {
    v4: File,
    /// Absent on a host without IPv6.
    v6: Option<File>,
    buf: Vec<u8>,
}

impl SockStat {
    /// `None` where /proc/net/sockstat cannot be opened: every tick dumps.
    fn open() -> Option<SockStat> {
        Some(SockStat {
            v4: open_proc("/proc/net/sockstat").ok()?,
            v6: open_proc("/proc/net/sockstat6").ok(),
            buf: vec![0; SOCKSTAT_BUF],
        })
    }

    fn read(&mut self) -> Option<TcpCounters> {
        let v4_len = read_whole(&self.v4, &mut self.buf)?;
        let (v4, rest) = self.buf.split_at_mut(v4_len);
        let v6 = match &self.v6 {
            Some(file) => {
                let len = read_whole(file, rest)?;
                Some(&rest[..len])
            }
            None => None,
        };
        TcpCounters::parse(v4, v6)
    }
}

/// Opened the way every file we read is (non-blocking, regular files only).
fn open_proc(path: &str) -> io::Result<File> {
    file::open_read(Path::new(path), Links::Follow)
}

/// Read `file` from offset 0 into `buf`; `None` on an error or if it does
/// not fit (then it is not the file we know).
fn read_whole(file: &File, buf: &mut [u8]) -> Option<usize> {
    let mut len = 0;
    loop {
        match file.read_at(buf.get_mut(len..)?, len as u64) {
            Ok(0) => return Some(len),
            Ok(n) if len + n < buf.len() => len += n,
            Ok(_) => return None,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

/// Whether a tick's dump may be skipped: the counters behind the last
/// complete dump and the ticks skipped since.
#[derive(Debug)]
struct DumpGate {
    stat: Option<SockStat>,
    /// Counters read right before the dump in flight was requested.
    in_flight: Option<TcpCounters>,
    /// Counters read right before the last complete dump; `None` while a dump
    /// is in flight, and after one that lost sockets.
    last_dump: Option<TcpCounters>,
    /// Ticks skipped since the last request.
    skipped: u32,
}

impl DumpGate {
    fn new(stat: Option<SockStat>) -> DumpGate {
        DumpGate {
            stat,
            in_flight: None,
            last_dump: None,
            skipped: 0,
        }
    }

    fn read(&mut self) -> Option<TcpCounters> {
        self.stat.as_mut()?.read()
    }

    /// A tick that read `counters`: `true` (and the dump begun) if it must
    /// dump, else `false` and the skip counted.
    fn tick(&mut self, counters: Option<TcpCounters>) -> bool {
        // The decision and its trade-off: see `dump_due`.
        if dump_due(self.last_dump, counters, self.skipped) {
            self.begin(counters);
            true
        } else {
            self.skipped += 1;
            false
        }
    }

    /// A dump is requested after reading `counters`.
    fn begin(&mut self, counters: Option<TcpCounters>) {
        self.in_flight = counters;
        self.last_dump = None;
        self.skipped = 0;
    }

    /// The dump in flight ended; `whole`: with every socket.
    fn completed(&mut self, whole: bool) {
        let counters = self.in_flight.take();
        self.last_dump = counters.filter(|_| whole);
    }
}

/// The kernel's netlink address (port id 0).
fn kernel_addr() -> libc::sockaddr_nl {
    // SAFETY: sockaddr_nl is plain integers; all-zero is valid.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr
}

fn sockaddr_nl_len() -> libc::socklen_t {
    size_of::<libc::sockaddr_nl>() as libc::socklen_t
}

/// A dump request for every TCP socket of `family` in every state.
fn dump_request(family: Family, seq: u32) -> DumpRequest {
    let family = match family {
        Family::V4 => libc::AF_INET,
        Family::V6 => libc::AF_INET6,
    };
    DumpRequest {
        header: libc::nlmsghdr {
            nlmsg_len: size_of::<DumpRequest>() as u32,
            nlmsg_type: SOCK_DIAG_BY_FAMILY,
            nlmsg_flags: (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16,
            nlmsg_seq: seq,
            nlmsg_pid: 0,
        },
        body: InetDiagReqV2 {
            family: family as u8,
            protocol: libc::IPPROTO_TCP as u8,
            ext: 0,
            pad: 0,
            states: !0,
            id: any_socket(),
        },
    }
}

/// The legacy request for every TCP socket of both families in every state.
fn legacy_request(seq: u32) -> LegacyRequest {
    LegacyRequest {
        header: libc::nlmsghdr {
            nlmsg_len: size_of::<LegacyRequest>() as u32,
            nlmsg_type: TCPDIAG_GETSOCK,
            nlmsg_flags: (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16,
            nlmsg_seq: seq,
            nlmsg_pid: 0,
        },
        body: InetDiagReq {
            // Ignored by the kernel (it dumps AF_UNSPEC); set for clarity.
            family: libc::AF_UNSPEC as u8,
            src_len: 0,
            dst_len: 0,
            ext: 0,
            id: any_socket(),
            states: !0,
            dbs: 0,
        },
    }
}

/// The socket id of a dump request: all zero (a dump does not filter on it).
fn any_socket() -> InetDiagSockId {
    InetDiagSockId {
        sport: [0; 2],
        dport: [0; 2],
        src: [0; 16],
        dst: [0; 16],
        interface: 0,
        cookie: [0; 2],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::sockets::ProcNetReader;
    use std::collections::BTreeSet;
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    // ---- synthetic replies -------------------------------------------------

    fn message(ty: u16, seq: u32, body: &[u8]) -> Vec<u8> {
        let len = (NLMSG_HDRLEN + body.len()) as u32;
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&len.to_ne_bytes());
        bytes.extend_from_slice(&ty.to_ne_bytes());
        bytes.extend_from_slice(&2u16.to_ne_bytes()); // NLM_F_MULTI
        bytes.extend_from_slice(&seq.to_ne_bytes());
        bytes.extend_from_slice(&0u32.to_ne_bytes());
        bytes.extend_from_slice(body);
        while bytes.len() % 4 != 0 {
            bytes.push(0);
        }
        bytes
    }

    /// The body of a `SOCK_DIAG_BY_FAMILY` reply, laid out as the kernel does,
    /// followed by one attribute as real replies carry.
    fn diag_body(family: u8, state: u8, local: SocketAddr, remote: SocketAddr) -> Vec<u8> {
        let raw = |ip: IpAddr| match ip {
            IpAddr::V4(v4) => {
                let mut b = [0u8; 16];
                b[..4].copy_from_slice(&v4.octets());
                b
            }
            IpAddr::V6(v6) => v6.octets(),
        };
        let mut body = vec![family, state, 0, 0];
        body.extend_from_slice(&local.port().to_be_bytes());
        body.extend_from_slice(&remote.port().to_be_bytes());
        body.extend_from_slice(&raw(local.ip()));
        body.extend_from_slice(&raw(remote.ip()));
        body.extend_from_slice(&[0; 12 + 20]); // if, cookie, expires..inode
        body.extend_from_slice(&[5, 0, 8, 0, 0, 0, 0, 0]); // INET_DIAG_SHUTDOWN attr
        body
    }

    fn socket_msg(seq: u32, local: &str, remote: &str, state: TcpState) -> Vec<u8> {
        let (local, remote): (SocketAddr, SocketAddr) =
            (local.parse().expect("addr"), remote.parse().expect("addr"));
        let family = if local.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        let body = diag_body(family as u8, state as u8, local, remote);
        message(SOCK_DIAG_BY_FAMILY, seq, &body)
    }

    fn done(seq: u32, errno: i32) -> Vec<u8> {
        message(libc::NLMSG_DONE as u16, seq, &errno.to_ne_bytes())
    }

    fn error(seq: u32, errno: i32) -> Vec<u8> {
        let mut body = errno.to_ne_bytes().to_vec();
        body.extend_from_slice(&[0; NLMSG_HDRLEN]); // the echoed request header
        message(libc::NLMSG_ERROR as u16, seq, &body)
    }

    fn parse(bytes: &[u8]) -> (Vec<Reply>, ChunkResult) {
        let mut replies = Vec::new();
        let result = parse_dump_chunk(bytes, &mut |r| replies.push(r));
        (replies, result)
    }

    fn entry(local: &str, remote: &str, state: TcpState) -> SocketEntry {
        SocketEntry {
            local: local.parse().expect("addr"),
            remote: remote.parse().expect("addr"),
            state,
        }
    }

    #[test]
    fn chunk_with_sockets_done_and_error() {
        let mut bytes = socket_msg(7, "127.0.0.1:80", "127.0.0.1:50000", TcpState::Established);
        bytes.extend(socket_msg(
            7,
            "[::ffff:10.0.0.1]:443",
            "[::ffff:203.0.113.5]:4000",
            TcpState::SynRecv,
        ));
        bytes.extend(socket_msg(7, "[::1]:22", "[::]:0", TcpState::Listen));
        bytes.extend(message(libc::NLMSG_NOOP as u16, 7, &[]));
        bytes.extend(error(8, -libc::EBUSY));
        bytes.extend(done(7, 0));
        let (replies, result) = parse(&bytes);
        assert_eq!(
            result,
            ChunkResult {
                messages: 6,
                malformed: 0
            }
        );
        assert_eq!(
            replies,
            [
                Reply::Socket {
                    seq: 7,
                    entry: entry("127.0.0.1:80", "127.0.0.1:50000", TcpState::Established)
                },
                // IPv4-mapped comes out as IPv4.
                Reply::Socket {
                    seq: 7,
                    entry: entry("10.0.0.1:443", "203.0.113.5:4000", TcpState::SynRecv)
                },
                Reply::Socket {
                    seq: 7,
                    entry: entry("[::1]:22", "[::]:0", TcpState::Listen)
                },
                Reply::Error {
                    seq: 8,
                    errno: -libc::EBUSY
                },
                Reply::Done { seq: 7, errno: 0 },
            ]
        );
    }

    #[test]
    fn broken_messages_are_counted_not_panicked_on() {
        let good = socket_msg(1, "127.0.0.1:80", "127.0.0.1:5", TcpState::Established);
        // Cut anywhere inside the message: the walk stops and counts one.
        for cut in 1..good.len() {
            let (replies, result) = parse(&good[..cut]);
            assert!(replies.is_empty(), "cut at {cut}");
            assert_eq!(result.malformed, 1, "cut at {cut}");
        }
        // A length below the header size would loop forever if trusted.
        let mut tiny = good.clone();
        tiny[..4].copy_from_slice(&3u32.to_ne_bytes());
        assert_eq!(
            parse(&tiny).1,
            ChunkResult {
                messages: 0,
                malformed: 1
            }
        );
        // A body too short, an unknown family and an unknown state.
        let short = message(SOCK_DIAG_BY_FAMILY, 1, &[2, 1, 0, 0]);
        let mut bad_family = good.clone();
        bad_family[NLMSG_HDRLEN] = 99;
        let mut bad_state = good.clone();
        bad_state[NLMSG_HDRLEN + 1] = 0;
        let empty_error = message(libc::NLMSG_ERROR as u16, 1, &[]);
        let mut bytes = [short, bad_family, bad_state, empty_error].concat();
        bytes.extend_from_slice(&good);
        let (replies, result) = parse(&bytes);
        assert_eq!(
            result,
            ChunkResult {
                messages: 5,
                malformed: 4
            }
        );
        assert_eq!(replies.len(), 1);
        // A DONE without its errno (old kernels) still ends the dump.
        let (replies, _) = parse(&message(libc::NLMSG_DONE as u16, 4, &[]));
        assert_eq!(replies, [Reply::Done { seq: 4, errno: 0 }]);
    }

    fn feed(state: &mut DumpState, bytes: &[u8]) -> Vec<SocketEntry> {
        let mut got = Vec::new();
        parse_dump_chunk(bytes, &mut |r| state.on_reply(r, &mut |e| got.push(e)));
        got
    }

    fn running(state: &DumpState) -> Option<(Part, u32, bool)> {
        match state.phase {
            Phase::Running { part, seq, busy } => Some((part, seq, busy)),
            Phase::Idle => None,
        }
    }

    const V4: Part = Part::Only(Family::V4);
    const V6: Part = Part::Only(Family::V6);

    /// A state machine that has already fallen back to per-family requests.
    fn per_family() -> DumpState {
        let mut state = DumpState::new();
        state.per_family = true;
        state
    }

    #[test]
    fn state_machine_legacy_dump_is_one_request() {
        let mut state = DumpState::new();
        state.start();
        assert!(std::mem::take(&mut state.must_send));
        assert_eq!(running(&state), Some((Part::Both, 1, false)));
        let got = feed(
            &mut state,
            &[
                socket_msg(1, "1.2.3.4:1", "5.6.7.8:2", TcpState::Established),
                socket_msg(1, "[::1]:1", "[::1]:2", TcpState::Listen),
                done(1, 0),
            ]
            .concat(),
        );
        assert_eq!(got.len(), 2);
        assert!(state.finished && running(&state).is_none() && !state.must_send);
        assert!(!state.per_family);
        // An error that ends the walk is the dump's error, not a refusal.
        state.start();
        feed(&mut state, &done(2, -libc::ENOBUFS));
        assert!(state.finished && !state.per_family);
        assert_eq!(state.stats.error, Some(-libc::ENOBUFS));
    }

    /// The kernel refuses the legacy request: the same dump goes on per
    /// family, and the next dump starts per family at once.
    #[test]
    fn state_machine_falls_back_when_legacy_is_refused() {
        for errno in [libc::EINVAL, libc::ENOENT, libc::EOPNOTSUPP] {
            let mut state = DumpState::new();
            state.start();
            state.must_send = false;
            feed(&mut state, &error(1, -errno));
            assert!(state.per_family, "errno {errno}");
            assert!(std::mem::take(&mut state.must_send));
            assert_eq!(running(&state), Some((V4, 2, false)));
            feed(
                &mut state,
                &[
                    socket_msg(2, "1.1.1.1:1", "2.2.2.2:2", TcpState::Established),
                    done(2, 0),
                ]
                .concat(),
            );
            assert_eq!(running(&state), Some((V6, 3, false)));
            feed(&mut state, &done(3, 0));
            assert!(state.finished);
            assert_eq!(state.stats.error, None, "a refusal is not a dump error");
            assert_eq!(state.stats.sockets, 1);
            state.start();
            assert_eq!(running(&state), Some((V4, 4, false)));
        }
        // EBUSY is not a refusal: the legacy request is sent again.
        let mut state = DumpState::new();
        state.start();
        feed(&mut state, &error(1, -libc::EBUSY));
        assert!(!state.per_family);
        assert_eq!(running(&state), Some((Part::Both, 1, true)));
    }

    #[test]
    fn state_machine_v4_then_v6_then_done() {
        let mut state = per_family();
        state.start();
        assert!(std::mem::take(&mut state.must_send));
        assert_eq!(running(&state), Some((V4, 1, false)));
        let got = feed(
            &mut state,
            &[
                socket_msg(1, "1.2.3.4:1", "5.6.7.8:2", TcpState::Established),
                done(1, 0),
            ]
            .concat(),
        );
        assert_eq!(got.len(), 1);
        assert!(
            std::mem::take(&mut state.must_send),
            "IPv6 request after IPv4 DONE"
        );
        assert_eq!(running(&state), Some((V6, 2, false)));
        let got = feed(
            &mut state,
            &[
                socket_msg(2, "[::1]:1", "[::1]:2", TcpState::Listen),
                done(2, 0),
            ]
            .concat(),
        );
        assert_eq!(got.len(), 1);
        assert!(state.finished && running(&state).is_none() && !state.must_send);
        assert_eq!(state.stats.sockets, 2);
        assert_eq!(state.stats.error, None);
    }

    #[test]
    fn state_machine_family_error_still_finishes() {
        let mut state = per_family();
        state.start();
        feed(&mut state, &done(1, 0));
        feed(&mut state, &error(2, -libc::EAFNOSUPPORT));
        assert!(state.finished);
        assert_eq!(state.stats.error, Some(-libc::EAFNOSUPPORT));
    }

    /// Request A is in flight, request B is refused with EBUSY: A's replies
    /// are dropped, and B goes out again (fresh seq) when A's DONE arrives.
    #[test]
    fn state_machine_new_request_while_in_flight() {
        let mut state = per_family();
        state.start(); // A, seq 1
        let a = socket_msg(1, "1.1.1.1:1", "2.2.2.2:2", TcpState::Established);
        assert_eq!(feed(&mut state, &a).len(), 1);
        state.start(); // B, seq 2
        state.must_send = false;
        let got = feed(
            &mut state,
            &[a.clone(), error(2, -libc::EBUSY), a.clone()].concat(),
        );
        assert!(got.is_empty());
        assert_eq!(running(&state), Some((V4, 2, true)));
        assert!(!state.must_send);
        feed(&mut state, &[a.clone(), done(1, 0)].concat());
        assert!(state.must_send, "resend when the old dump ends");
        assert_eq!(running(&state), Some((V4, 3, false)));
        assert_eq!(state.stats.stale, 4);
        // A stale DONE when not busy changes nothing.
        state.must_send = false;
        feed(&mut state, &done(1, 0));
        assert!(!state.must_send);
        assert_eq!(running(&state), Some((V4, 3, false)));
        // Replies with no dump in flight are stale.
        let mut idle = DumpState::new();
        assert!(feed(&mut idle, &a).is_empty());
        assert_eq!(idle.stats.stale, 1);
    }

    // ---- the real kernel ---------------------------------------------------

    /// Open the socket, or say why the test cannot run here.
    fn open_or_skip() -> Option<SockDiag> {
        match SockDiag::open() {
            Ok(diag) => Some(diag),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EPERM | libc::EACCES | libc::EAFNOSUPPORT | libc::EPROTONOSUPPORT)
                ) =>
            {
                eprintln!("skipped: netlink sock_diag refused here: {e}");
                None
            }
            Err(e) => panic!("SockDiag::open: {e}"),
        }
    }

    /// One full dump through a mio Poll, as the event loop will drive it.
    fn dump(diag: &mut SockDiag) -> Vec<SocketEntry> {
        diag.request_dump().expect("request");
        finish(diag)
    }

    /// The rest of the dump already requested.
    fn finish(diag: &mut SockDiag) -> Vec<SocketEntry> {
        let mut poll = mio::Poll::new().expect("poll");
        let mut events = mio::Events::with_capacity(8);
        poll.registry()
            .register(diag, mio::Token(1), mio::Interest::READABLE)
            .expect("register");
        let mut got = Vec::new();
        // A bound on rounds so a broken dump fails the test instead of hanging.
        for _ in 0..100 {
            match diag.read_replies(&mut |e| got.push(e)).expect("read") {
                DumpProgress::Done => {
                    poll.registry().deregister(diag).expect("deregister");
                    return got;
                }
                DumpProgress::Pending => {
                    poll.poll(&mut events, Some(Duration::from_secs(1)))
                        .expect("poll");
                }
                DumpProgress::Idle => panic!("idle while a dump was requested"),
            }
        }
        panic!("dump never finished: {:?}", diag.stats());
    }

    fn proc_read() -> Vec<SocketEntry> {
        let mut got = Vec::new();
        let result = ProcNetReader::default().read(&mut |e| got.push(e));
        assert_eq!(result.v4.expect("/proc/net/tcp").malformed, 0);
        got
    }

    /// The test's own sockets: those on its listening ports. TIME_WAIT is left
    /// out because an old connection may have used one of those ports.
    fn ours(all: &[SocketEntry], ports: &[u16]) -> BTreeSet<(SocketAddr, SocketAddr, TcpState)> {
        all.iter()
            .filter(|e| e.state != TcpState::TimeWait)
            .filter(|e| ports.contains(&e.local.port()) || ports.contains(&e.remote.port()))
            .map(|e| (e.local, e.remote, e.state))
            .collect()
    }

    struct Pair {
        listener: TcpListener,
        client: TcpStream,
        server: TcpStream,
    }

    fn pair(bind: &str, connect_ip: &str) -> io::Result<Pair> {
        let listener = TcpListener::bind(bind)?;
        let port = listener.local_addr()?.port();
        let client = TcpStream::connect((connect_ip, port))?;
        let (server, _) = listener.accept()?;
        Ok(Pair {
            listener,
            client,
            server,
        })
    }

    /// The three sockets of a pair, as both readers must report them.
    fn expected(p: &Pair, listen: &str) -> Vec<(SocketAddr, SocketAddr, TcpState)> {
        let c = p.client.local_addr().expect("addr");
        let s = p.server.local_addr().expect("addr");
        let l = p.listener.local_addr().expect("addr");
        let canon = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
        vec![
            (l, listen.parse().expect("addr"), TcpState::Listen),
            (canon(c), canon(s), TcpState::Established),
            (canon(s), canon(c), TcpState::Established),
        ]
    }

    /// Real IPv4, IPv6 and IPv4-mapped sockets: one netlink dump and /proc
    /// must both see exactly them. The dump's stats are returned.
    fn check_real_sockets(diag: &mut SockDiag) -> DumpStats {
        let v4 = pair("127.0.0.1:0", "127.0.0.1").expect("IPv4 loopback");
        let mut want = expected(&v4, "0.0.0.0:0");
        let mut ports = vec![v4.listener.local_addr().expect("addr").port()];
        let mut held = Vec::new(); // open to the end of the test
                                   // IPv6 may be off on a CI host; IPv4 is then still checked.
        match (pair("[::1]:0", "::1"), pair("[::]:0", "127.0.0.1")) {
            (Ok(v6), Ok(dual)) => {
                want.extend(expected(&v6, "[::]:0"));
                // The accepted side lives in the IPv6 table as ::ffff:127.0.0.1
                // and must come out as 127.0.0.1.
                let dual_want = expected(&dual, "[::]:0");
                assert!(dual_want[2].0.is_ipv4(), "expected() canonicalises");
                want.extend(dual_want);
                ports.push(v6.listener.local_addr().expect("addr").port());
                ports.push(dual.listener.local_addr().expect("addr").port());
                held.extend([v6, dual]);
            }
            (a, b) => eprintln!("IPv6 part skipped: {:?} {:?}", a.err(), b.err()),
        }
        let want: BTreeSet<_> = want.into_iter().collect();

        let from_netlink = ours(&dump(diag), &ports);
        let from_proc = ours(&proc_read(), &ports);
        assert_eq!(from_netlink, want);
        assert_eq!(from_proc, want);
        assert_eq!(diag.stats().malformed, 0);
        assert_eq!(diag.stats().error, None);
        drop((v4, held));
        diag.stats()
    }

    /// The default: one legacy request returns both families (one hash walk).
    #[test]
    fn legacy_request_dumps_both_families_at_once() {
        let Some(mut diag) = open_or_skip() else {
            return;
        };
        let stats = check_real_sockets(&mut diag);
        assert_eq!(
            stats.requests, 1,
            "one request for IPv4 and IPv6: {stats:?}"
        );
        assert!(!diag.is_per_family());
    }

    /// A kernel that refuses the legacy request (here: sent cut short, so the
    /// real kernel answers EINVAL): the same dump completes per family, and
    /// later dumps ask per family at once.
    #[test]
    fn refused_legacy_request_falls_back_per_family() {
        let Some(mut diag) = open_or_skip() else {
            return;
        };
        diag.refuse_legacy = true;
        let stats = check_real_sockets(&mut diag);
        assert!(diag.is_per_family());
        assert_eq!(stats.requests, 3, "refused legacy, IPv4, IPv6: {stats:?}");
        let stats = check_real_sockets(&mut diag);
        assert_eq!(stats.requests, 2, "IPv4, IPv6: {stats:?}");
    }

    /// A second request while the first dump is still running: the kernel
    /// refuses it (EBUSY), the first dump's replies are dropped, and the
    /// resent request yields every socket exactly once.
    #[test]
    fn request_while_in_flight_yields_each_socket_once() {
        let Some(mut diag) = open_or_skip() else {
            return;
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut held = Vec::new();
        // Enough sockets that the first datagram cannot hold the whole dump,
        // so the kernel dump is still running when the second request arrives.
        for _ in 0..200 {
            let client = TcpStream::connect(addr).expect("connect");
            let (server, _) = listener.accept().expect("accept");
            held.push((client, server));
        }
        diag.request_dump().expect("first request");
        let all = dump(&mut diag);
        let stats = diag.stats();
        assert!(stats.stale > 0, "the first dump was in flight: {stats:?}");
        let mut seen = std::collections::BTreeMap::new();
        for e in all
            .iter()
            .filter(|e| e.local.port() == addr.port() || e.remote.port() == addr.port())
        {
            if e.state != TcpState::TimeWait {
                *seen.entry((e.local, e.remote, e.state)).or_insert(0) += 1;
            }
        }
        assert_eq!(seen.len(), 1 + 2 * held.len());
        assert!(
            seen.values().all(|&n| n == 1),
            "duplicates: stale replies leaked"
        );
    }

    #[test]
    fn idle_socket_reads_idle() {
        let Some(mut diag) = open_or_skip() else {
            return;
        };
        let mut n = 0;
        assert_eq!(
            diag.read_replies(&mut |_| n += 1).expect("read"),
            DumpProgress::Idle
        );
        assert_eq!(n, 0);
        dump(&mut diag);
        assert_eq!(
            diag.read_replies(&mut |_| n += 1).expect("read"),
            DumpProgress::Idle
        );
    }

    // ---- skipping dumps ----------------------------------------------------

    const SOCKSTAT: &[u8] = b"sockets: used 211
TCP: inuse 5 orphan 1 tw 2 alloc 9 mem 3
UDP: inuse 0 mem 0
RAW: inuse 0
";
    const SOCKSTAT6: &[u8] = b"TCP6: inuse 3
UDP6: inuse 1
";

    fn counters(inuse: i64, orphan: i64, tw: i64, alloc: i64, inuse6: i64) -> TcpCounters {
        TcpCounters {
            inuse,
            orphan,
            tw,
            alloc,
            inuse6,
        }
    }

    #[test]
    fn sockstat_parses_the_tcp_counters() {
        assert_eq!(
            TcpCounters::parse(SOCKSTAT, Some(SOCKSTAT6)),
            Some(counters(5, 1, 2, 9, 3))
        );
        // No IPv6 on the host: no sockstat6.
        assert_eq!(
            TcpCounters::parse(SOCKSTAT, None),
            Some(counters(5, 1, 2, 9, 0))
        );
        // Anything unexpected reads as unreadable (then every tick dumps).
        for bad in [
            &b""[..],
            b"TCP: inuse 5 orphan 1 tw 2",
            b"TCP: inuse 5 orphan x tw 2 alloc 9",
            b"TCP: inuse 5 orphan 1 tw 2 alloc",
            b"UDP: inuse 5 orphan 1 tw 2 alloc 9",
            b"\xff\xfe TCP: \n TCP:",
        ] {
            assert_eq!(TcpCounters::parse(bad, None), None, "{bad:?}");
        }
        assert_eq!(TcpCounters::parse(SOCKSTAT, Some(b"UDP6: inuse 1")), None);
        // Only the TCP line counts; mem is ignored (it moves with traffic).
        let more = b"TCP: mem 99 alloc 9 tw 2 orphan 1 inuse 5\nTCP6: inuse 7";
        assert_eq!(
            TcpCounters::parse(more, Some(more)),
            Some(counters(5, 1, 2, 9, 7))
        );
    }

    #[test]
    fn dump_due_only_when_counters_move_or_too_long_skipped() {
        let base = counters(5, 1, 2, 9, 3);
        assert!(!dump_due(Some(base), Some(base), 0));
        assert!(!dump_due(Some(base), Some(base), MAX_SKIPPED_TICKS - 1));
        assert!(dump_due(Some(base), Some(base), MAX_SKIPPED_TICKS));
        for moved in [
            counters(6, 1, 2, 9, 3),
            counters(5, 0, 2, 9, 3),
            counters(5, 1, 3, 9, 3),
            counters(5, 1, 2, 10, 3),
            counters(5, 1, 2, 9, 4),
        ] {
            assert!(dump_due(Some(base), Some(moved), 0), "{moved:?}");
        }
        // No complete dump to stand on, or counters unreadable: dump.
        assert!(dump_due(None, Some(base), 0));
        assert!(dump_due(Some(base), None, 0));
        assert!(dump_due(None, None, 0));
    }

    /// The bookkeeping around `dump_due`, tick by tick.
    #[test]
    fn gate_skips_at_most_four_ticks_after_a_whole_dump() {
        let c = Some(counters(5, 1, 2, 9, 3));
        let mut gate = DumpGate::new(None);
        assert!(gate.tick(c), "no dump yet");
        assert!(gate.tick(c), "the first one is still in flight");
        gate.completed(true);
        let ticks: Vec<bool> = (0..11).map(|_| gate.tick(c)).collect();
        // Tick 4 must dump; that dump never completes, so every later tick
        // dumps too (the engine would not ask while one is in flight).
        let mut want = [false; 11];
        want[4] = true;
        assert_eq!(ticks[..5], want[..5]);
        assert!(ticks[5..].iter().all(|&t| t), "in flight: {ticks:?}");
        gate.completed(true);
        assert!(!gate.tick(c));
        // Counters moved: dump at once, and the new values are the baseline.
        let moved = Some(counters(6, 1, 2, 10, 3));
        assert!(gate.tick(moved));
        gate.completed(true);
        assert!(!gate.tick(moved));
        assert!(gate.tick(c));
        // A dump that lost sockets is no baseline.
        gate.completed(false);
        assert!(gate.tick(c));
        gate.completed(true);
        assert!(!gate.tick(c));
        // Unreadable counters: always dump, and no baseline from them.
        assert!(gate.tick(None));
        gate.completed(true);
        assert!(gate.tick(c));
    }

    #[test]
    fn sockstat_counters_move_with_a_new_connection() {
        let Some(mut stat) = SockStat::open() else {
            panic!("/proc/net/sockstat unreadable");
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let before = stat.read().expect("sockstat");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        let after = stat.read().expect("sockstat");
        // Others may open or close sockets meanwhile; ours add two to each.
        assert_ne!(before, after);
        drop((client, server));
    }

    /// Live: after a whole dump the gate has a baseline; a connection opened
    /// before the next tick makes that tick dump, and so does `request_dump`
    /// (`--once`) whatever the counters say.
    #[test]
    fn new_connection_between_ticks_makes_the_next_tick_dump() {
        let Some(mut diag) = open_or_skip() else {
            return;
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        dump(&mut diag);
        assert!(diag.gate.last_dump.is_some(), "a whole dump is a baseline");
        let client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        assert!(diag.request_dump_if_due().expect("tick"), "counters moved");
        let got = finish(&mut diag);
        let ours = got
            .iter()
            .filter(|e| e.local.port() == port && e.state == TcpState::Established);
        assert_eq!(ours.count(), 1, "the new connection is in the dump");
        // Forced dumps ignore the gate.
        diag.gate.last_dump = diag.gate.read();
        diag.gate.skipped = 0;
        assert!(dump(&mut diag).iter().any(|e| e.local.port() == port));
        drop((client, server));
    }
}
