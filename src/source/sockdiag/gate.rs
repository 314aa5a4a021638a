//! The skip gate: a tick whose kernel TCP counters have not moved since the
//! last complete dump may skip its dump.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::sys::file::{self, Links};

/// Ticks in a row whose dump may be skipped: a full dump at least every
/// 30th tick, whatever the counters say. Each dump walks the kernel's whole
/// TCP hash, every network namespace's sockets included (10 ms here with
/// 25 000 TIME_WAIT sockets in other namespaces): every 5th tick, that was
/// 0.2 % of a core on an idle dashboard; the counters below see almost
/// every change in ours, so the full dump is a backstop.
pub(crate) const MAX_SKIPPED_TICKS: u32 = 29;

/// Buffer for sockstat, sockstat6 and snmp together (about 300, 150 and
/// 1 500 bytes).
const COUNTERS_BUF: usize = 8 << 10; // 8 KiB

/// The TCP counters of this network namespace (`/proc/net/sockstat`,
/// `sockstat6` and `snmp`). Creating, closing or resetting a connection,
/// or moving one to TIME_WAIT, changes at least one of them; they are
/// per-CPU sums, read without walking any hash.
///
/// Only per-namespace counters: sockstat's `orphan` and `alloc` (and `mem`)
/// are host-wide, so any other namespace's sockets (containers, a test's
/// network) moved them and opened the gate. A connection closed and another
/// opened between two reads leaves `inuse` and `tw` as they were, but not
/// the opens, which only grow.
///
/// Kept as their low 32 bits: they are only compared for a change between
/// two ticks a second apart, and the dump state stays small.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TcpCounters {
    /// sockstat `TCP: inuse`: hashed IPv4 sockets (listening and connected).
    pub(crate) inuse: u32,
    /// sockstat `TCP: tw`: TIME_WAIT entries.
    pub(crate) tw: u32,
    /// sockstat6 `TCP6: inuse`: hashed IPv6 sockets; 0 on a host without IPv6.
    pub(crate) inuse6: u32,
    /// snmp `Tcp: ActiveOpens`: connect()s begun (both families).
    pub(crate) active_opens: u32,
    /// snmp `Tcp: PassiveOpens`: connections accepted from a listener.
    pub(crate) passive_opens: u32,
    /// snmp `Tcp: AttemptFails`: handshakes that failed.
    pub(crate) attempt_fails: u32,
    /// snmp `Tcp: EstabResets`: connections reset.
    pub(crate) estab_resets: u32,
    /// snmp `Tcp: CurrEstab`: connections in ESTABLISHED or CLOSE_WAIT.
    pub(crate) curr_estab: u32,
    /// snmp `Tcp: RetransSegs`: segments sent again, SYN-ACKs included: a
    /// SYN flood's half-open sockets (which no other counter here sees)
    /// move it from their first second.
    pub(crate) retrans_segs: u32,
}

impl TcpCounters {
    /// Counters from the text of sockstat, sockstat6 (if the host has IPv6)
    /// and snmp; `None` if a counter is missing or unreadable.
    pub(crate) fn parse(
        sockstat: &[u8],
        sockstat6: Option<&[u8]>,
        snmp: &[u8],
    ) -> Option<TcpCounters> {
        let tcp = |key| table_counter(snmp, b"Tcp:", key);
        Some(TcpCounters {
            inuse: counter(sockstat, b"TCP:", b"inuse")?,
            tw: counter(sockstat, b"TCP:", b"tw")?,
            inuse6: match sockstat6 {
                Some(text) => counter(text, b"TCP6:", b"inuse")?,
                None => 0,
            },
            active_opens: tcp(b"ActiveOpens")?,
            passive_opens: tcp(b"PassiveOpens")?,
            attempt_fails: tcp(b"AttemptFails")?,
            estab_resets: tcp(b"EstabResets")?,
            curr_estab: tcp(b"CurrEstab")?,
            retrans_segs: tcp(b"RetransSegs")?,
        })
    }
}

/// The value of `key` in the two lines of `text` that start with `tag`,
/// names then values (snmp's `Tcp: RtoAlgorithm ... CurrEstab ...` over
/// `Tcp: 1 ... 5 ...`).
fn table_counter(text: &[u8], tag: &[u8], key: &[u8]) -> Option<u32> {
    let mut lines = text
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(tag))
        .map(|l| {
            l[tag.len()..]
                .split(|&b| b == b' ')
                .filter(|w| !w.is_empty())
        });
    let (names, values) = (lines.next()?, lines.next()?);
    let (_, value) = names.zip(values).find(|(name, _)| *name == key)?;
    low_bits(value)
}

/// The number after `key` on the line of `text` that starts with `tag`
/// (`TCP: inuse 5 orphan 0 tw 2 alloc 7 mem 1`).
fn counter(text: &[u8], tag: &[u8], key: &[u8]) -> Option<u32> {
    let line = text.split(|&b| b == b'\n').find(|l| l.starts_with(tag))?;
    let mut words = line
        .get(tag.len()..)?
        .split(|&b| b == b' ')
        .filter(|w| !w.is_empty());
    while let Some(word) = words.next() {
        let value = words.next()?;
        if word == key {
            return low_bits(value);
        }
    }
    None
}

/// A decimal counter's low 32 bits (see [`TcpCounters`]); i128 holds both
/// a u64 counter and the -1 of an unlimited one.
fn low_bits(text: &[u8]) -> Option<u32> {
    let value: i128 = std::str::from_utf8(text).ok()?.parse().ok()?;
    Some(value as u32)
}

/// Whether a tick must dump, given the counters read right before the last
/// complete dump (`None`: no complete dump yet, or it lost sockets), the
/// counters now (`None`: unreadable) and the ticks skipped since that dump.
///
/// The trade-off: equal counters mean no connection was opened, accepted,
/// failed, reset, closed or moved to TIME_WAIT in this namespace, and no
/// SYN-ACK sent again, so the last dump's sockets are exactly the table.
/// What they cannot see is a socket changing state without leaving the
/// table or ESTABLISHED (ESTABLISHED to CLOSE_WAIT, FIN_WAIT1 to FIN_WAIT2
/// of a socket its process still holds). Those show up late, never lost: a
/// full dump still runs at least every `MAX_SKIPPED_TICKS + 1` ticks. In
/// exchange an idle host walks the kernel's TCP hash (262 144 buckets on
/// 24 GB, ~1.5 ms, more with other namespaces' sockets) every 30 s, not 1 s.
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

/// `sockstat`, `sockstat6` and `snmp` of the calling thread's network
/// namespace (the one its netlink socket dumps), kept open and read again
/// from the start each time (seq files regenerate on every read).
#[derive(Debug)]
pub(super) struct SockStat {
    v4: File,
    /// Absent on a host without IPv6.
    v6: Option<File>,
    snmp: File,
    buf: Vec<u8>,
}

impl SockStat {
    /// `None` where the files cannot be opened: every tick dumps.
    pub(super) fn open() -> Option<SockStat> {
        Some(SockStat {
            v4: open_proc("sockstat").ok()?,
            v6: open_proc("sockstat6").ok(),
            snmp: open_proc("snmp").ok()?,
            buf: vec![0; COUNTERS_BUF],
        })
    }

    pub(super) fn read(&mut self) -> Option<TcpCounters> {
        let v4_len = read_whole(&self.v4, &mut self.buf)?;
        let (v4, rest) = self.buf.split_at_mut(v4_len);
        let snmp_len = read_whole(&self.snmp, rest)?;
        let (snmp, rest) = rest.split_at_mut(snmp_len);
        let v6 = match &self.v6 {
            Some(file) => {
                let len = read_whole(file, rest)?;
                Some(&rest[..len])
            }
            None => None,
        };
        TcpCounters::parse(v4, v6, snmp)
    }
}

/// `name` under /proc/thread-self/net (the thread's namespace, where a
/// thread may have joined another one), else /proc/net (before Linux 3.17),
/// opened the way every file we read is (non-blocking, regular files only).
fn open_proc(name: &str) -> io::Result<File> {
    let open = |dir: &str| file::open_read(&Path::new(dir).join(name), Links::Follow);
    open("/proc/thread-self/net").or_else(|_| open("/proc/net"))
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
