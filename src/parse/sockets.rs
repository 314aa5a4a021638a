//! TCP socket records, as read from a netlink sock_diag dump or /proc/net/tcp{,6};
//! the parser of the /proc text (the reader is `source::procnet`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Kernel TCP states (include/net/tcp_states.h), numbered as the kernel does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum TcpState {
    Established = 1,
    SynSent = 2,
    SynRecv = 3,
    FinWait1 = 4,
    FinWait2 = 5,
    TimeWait = 6,
    Close = 7,
    CloseWait = 8,
    LastAck = 9,
    Listen = 10,
    Closing = 11,
    NewSynRecv = 12,
}

impl TcpState {
    pub(crate) const COUNT: usize = 12;

    pub(crate) fn from_kernel(n: u8) -> Option<TcpState> {
        use TcpState::*;
        Some(match n {
            1 => Established,
            2 => SynSent,
            3 => SynRecv,
            4 => FinWait1,
            5 => FinWait2,
            6 => TimeWait,
            7 => Close,
            8 => CloseWait,
            9 => LastAck,
            10 => Listen,
            11 => Closing,
            12 => NewSynRecv,
            _ => return None,
        })
    }

    /// Index 0..COUNT for per-state counters.
    pub(crate) fn index(self) -> usize {
        self as usize - 1
    }

    /// Whether the state alone says the peer connected to us: only a
    /// passive open (a SYN arriving at a listener) reaches SYN_RECV, even
    /// when the dump holds no LISTEN socket for the port (the listener
    /// closed, or lives in a socket the dump did not show).
    pub(crate) fn is_passive_open(self) -> bool {
        matches!(self, TcpState::SynRecv | TcpState::NewSynRecv)
    }

    /// Name as `ss` and the JSON `states` object spell it.
    /// NEW_SYN_RECV (a request socket) is reported as SYN_RECV.
    pub(crate) fn name(self) -> &'static str {
        use TcpState::*;
        match self {
            Established => "ESTABLISHED",
            SynSent => "SYN_SENT",
            SynRecv | NewSynRecv => "SYN_RECV",
            FinWait1 => "FIN_WAIT1",
            FinWait2 => "FIN_WAIT2",
            TimeWait => "TIME_WAIT",
            Close => "CLOSE",
            CloseWait => "CLOSE_WAIT",
            LastAck => "LAST_ACK",
            Listen => "LISTEN",
            Closing => "CLOSING",
        }
    }
}

/// One TCP socket. Addresses are canonical (IPv4-mapped IPv6 → IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketEntry {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: TcpState,
    /// The socket's inode (0 when unknown): what /proc/PID/fd links name
    /// (`socket:[INODE]`), so the drill-down can find a connection's process.
    pub inode: u32,
}

/// Address family of a socket table (`/proc/net/tcp` or `/proc/net/tcp6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

/// What one pass over a `/proc/net/tcp{,6}` buffer saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcStats {
    /// Non-empty lines other than the header.
    pub lines: u64,
    /// Lines among `lines` that could not be read and were skipped.
    pub malformed: u64,
}

impl ProcStats {
    pub(crate) fn add(&mut self, other: ProcStats) {
        self.lines += other.lines;
        self.malformed += other.malformed;
    }
}

/// Parse the text of `/proc/net/tcp` (`Family::V4`) or `/proc/net/tcp6`
/// (`Family::V6`), calling `out` for every socket line.
///
/// The header line (first field `sl`) and empty lines are skipped; a line that
/// does not read as `N: LOCAL REMOTE STATE ...` is skipped and counted. Nothing is
/// allocated: fields are sliced out of `buf` and decoded in place.
pub fn parse_proc_net_tcp(
    buf: &[u8],
    family: Family,
    out: &mut impl FnMut(SocketEntry),
) -> ProcStats {
    let mut stats = ProcStats::default();
    for line in buf.split(|&b| b == b'\n') {
        let mut fields = line
            .split(|&b| b == b' ' || b == b'\t' || b == b'\r')
            .filter(|f| !f.is_empty());
        let Some(first) = fields.next() else { continue };
        if first == b"sl" {
            continue;
        }
        stats.lines += 1;
        match parse_fields(first, &mut fields, family) {
            Some(entry) => out(entry),
            None => stats.malformed += 1,
        }
    }
    stats
}

/// Read one data line given its first field (`N:`) and the rest.
fn parse_fields<'a>(
    slot: &[u8],
    rest: &mut impl Iterator<Item = &'a [u8]>,
    family: Family,
) -> Option<SocketEntry> {
    if slot.last() != Some(&b':') {
        return None;
    }
    let local = parse_endpoint(rest.next()?, family)?;
    let remote = parse_endpoint(rest.next()?, family)?;
    let state = rest.next()?;
    if state.len() != 2 {
        return None;
    }
    let state = TcpState::from_kernel(u8::try_from(hex_u32(state)?).ok()?)?;
    // tx:rx queues, timer, retransmits, uid, timeout, then the inode; a
    // line without one still counts (the inode only names the process).
    let inode = rest
        .nth(5)
        .and_then(|f| std::str::from_utf8(f).ok()?.parse().ok())
        .unwrap_or(0);
    Some(SocketEntry {
        local,
        remote,
        state,
        inode,
    })
}

/// `ADDR:PORT` as the kernel prints it: the address as 32-bit words in host byte
/// order, each `%08X` (one word for IPv4, four for IPv6); the port as `%04X` of
/// its numeric value. Host order is little-endian on every machine we target;
/// decoding with native order keeps a big-endian host right too.
fn parse_endpoint(field: &[u8], family: Family) -> Option<SocketAddr> {
    let words = match family {
        Family::V4 => 1,
        Family::V6 => 4,
    };
    if field.len() != words * 8 + 5 || field[words * 8] != b':' {
        return None;
    }
    let (addr, port) = field.split_at(words * 8);
    let port = u16::try_from(hex_u32(&port[1..])?).ok()?;
    let ip = match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::from(hex_u32(addr)?.to_ne_bytes())),
        Family::V6 => {
            let mut octets = [0u8; 16];
            for (chunk, word) in octets.chunks_exact_mut(4).zip(addr.chunks_exact(8)) {
                chunk.copy_from_slice(&hex_u32(word)?.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(octets))
        }
    };
    Some(SocketAddr::new(ip.to_canonical(), port))
}

/// Up to 8 hex digits (either case) as a number; anything else is `None`.
fn hex_u32(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, &b| {
        let d = char::from(b).to_digit(16)?;
        Some(acc << 4 | d)
    })
}

#[cfg(test)]
mod tests;
