//! The skip gate: a tick whose kernel TCP counters have not moved since the
//! last complete dump may skip its dump.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::sys::file::{self, Links};

/// Ticks in a row whose dump may be skipped: a full dump at least every 5th
/// tick, whatever the counters say.
pub(crate) const MAX_SKIPPED_TICKS: u32 = 4;

/// Buffer for /proc/net/sockstat{,6} (about 300 bytes each).
const SOCKSTAT_BUF: usize = 4 << 10; // 4 KiB

/// The kernel's TCP socket counters (`/proc/net/sockstat` and `sockstat6`).
/// Creating, closing, orphaning a socket or moving it to TIME_WAIT changes at
/// least one of them; they are per-CPU sums, read without walking any hash.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TcpCounters {
    /// `TCP: inuse`: hashed IPv4 sockets (listening and connected).
    pub(crate) inuse: i64,
    /// `TCP: orphan`: closed by their process, still in the table.
    pub(crate) orphan: i64,
    /// `TCP: tw`: TIME_WAIT entries.
    pub(crate) tw: i64,
    /// `TCP: alloc`: TCP sockets allocated, both families.
    pub(crate) alloc: i64,
    /// `TCP6: inuse`: hashed IPv6 sockets; 0 on a host without IPv6.
    pub(crate) inuse6: i64,
}

impl TcpCounters {
    /// Counters from the text of sockstat and (if the host has IPv6)
    /// sockstat6; `None` if a counter is missing or unreadable.
    pub(crate) fn parse(sockstat: &[u8], sockstat6: Option<&[u8]>) -> Option<TcpCounters> {
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
pub(crate) fn dump_due(
    last_dump: Option<TcpCounters>,
    now: Option<TcpCounters>,
    skipped: u32,
) -> bool {
    match (last_dump, now) {
        (Some(last), Some(now)) => last != now || skipped >= MAX_SKIPPED_TICKS,
        _ => true,
    }
}

/// `/proc/net/sockstat` and `sockstat6`, kept open and read again from the
/// start each time (seq files regenerate on every read).
#[derive(Debug)]
pub(super) struct SockStat {
    v4: File,
    /// Absent on a host without IPv6.
    v6: Option<File>,
    buf: Vec<u8>,
}

impl SockStat {
    /// `None` where /proc/net/sockstat cannot be opened: every tick dumps.
    pub(super) fn open() -> Option<SockStat> {
        Some(SockStat {
            v4: open_proc("/proc/net/sockstat").ok()?,
            v6: open_proc("/proc/net/sockstat6").ok(),
            buf: vec![0; SOCKSTAT_BUF],
        })
    }

    pub(super) fn read(&mut self) -> Option<TcpCounters> {
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
pub(super) struct DumpGate {
    stat: Option<SockStat>,
    /// Counters read right before the dump in flight was requested.
    in_flight: Option<TcpCounters>,
    /// Counters read right before the last complete dump; `None` while a dump
    /// is in flight, and after one that lost sockets.
    pub(super) last_dump: Option<TcpCounters>,
    /// Ticks skipped since the last request.
    pub(super) skipped: u32,
}

impl DumpGate {
    pub(super) fn new(stat: Option<SockStat>) -> DumpGate {
        DumpGate {
            stat,
            in_flight: None,
            last_dump: None,
            skipped: 0,
        }
    }

    pub(super) fn read(&mut self) -> Option<TcpCounters> {
        self.stat.as_mut()?.read()
    }

    /// A tick that read `counters`: `true` (and the dump begun) if it must
    /// dump, else `false` and the skip counted.
    pub(super) fn tick(&mut self, counters: Option<TcpCounters>) -> bool {
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
    pub(super) fn begin(&mut self, counters: Option<TcpCounters>) {
        self.in_flight = counters;
        self.last_dump = None;
        self.skipped = 0;
    }

    /// The dump in flight ended; `whole`: with every socket.
    pub(super) fn completed(&mut self, whole: bool) {
        let counters = self.in_flight.take();
        self.last_dump = counters.filter(|_| whole);
    }
}
