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
    pub const COUNT: usize = 12;

    pub fn from_kernel(n: u8) -> Option<TcpState> {
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
    pub fn index(self) -> usize {
        self as usize - 1
    }

    /// Whether the state alone says the peer connected to us: only a
    /// passive open (a SYN arriving at a listener) reaches SYN_RECV, even
    /// when the dump holds no LISTEN socket for the port (the listener
    /// closed, or lives in a socket the dump did not show).
    pub fn is_passive_open(self) -> bool {
        matches!(self, TcpState::SynRecv | TcpState::NewSynRecv)
    }

    /// Name as `ss` and the JSON `states` object spell it.
    /// NEW_SYN_RECV (a request socket) is reported as SYN_RECV.
    pub fn name(self) -> &'static str {
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
    Some(SocketEntry {
        local,
        remote,
        state,
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
mod tests {
    use super::*;
    use crate::testutil::Rng;

    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/proc");

    fn sa(text: &str) -> SocketAddr {
        text.parse().expect("test address")
    }

    fn entry(local: &str, remote: &str, state: TcpState) -> SocketEntry {
        SocketEntry {
            local: sa(local),
            remote: sa(remote),
            state,
        }
    }

    fn parse_all(buf: &[u8], family: Family) -> (Vec<SocketEntry>, ProcStats) {
        let mut got = Vec::new();
        let stats = parse_proc_net_tcp(buf, family, &mut |e| got.push(e));
        (got, stats)
    }

    /// A deliberately simple reading of one line, with allocation and std
    /// parsing, to check the byte-level parser against.
    fn naive_line(line: &str, family: Family) -> Option<SocketEntry> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 4 || !fields[0].ends_with(':') {
            return None;
        }
        let endpoint = |f: &str| -> Option<SocketAddr> {
            let (addr, port) = f.split_once(':')?;
            let words = if family == Family::V4 { 1 } else { 4 };
            let all_hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
            if addr.len() != 8 * words || port.len() != 4 || !all_hex(addr) || !all_hex(port) {
                return None;
            }
            let mut octets = Vec::new();
            for i in 0..words {
                let w = u32::from_str_radix(&addr[i * 8..i * 8 + 8], 16).ok()?;
                octets.extend_from_slice(&w.to_ne_bytes());
            }
            let ip = if words == 1 {
                IpAddr::from(<[u8; 4]>::try_from(octets).ok()?)
            } else {
                IpAddr::from(<[u8; 16]>::try_from(octets).ok()?)
            };
            Some(SocketAddr::new(
                ip.to_canonical(),
                u16::from_str_radix(port, 16).ok()?,
            ))
        };
        let all_hex = fields[3].bytes().all(|b| b.is_ascii_hexdigit());
        if fields[3].len() != 2 || !all_hex {
            return None;
        }
        Some(SocketEntry {
            local: endpoint(fields[1])?,
            remote: endpoint(fields[2])?,
            state: TcpState::from_kernel(u8::from_str_radix(fields[3], 16).ok()?)?,
        })
    }

    fn naive(buf: &[u8], family: Family) -> (Vec<SocketEntry>, ProcStats) {
        let text = String::from_utf8_lossy(buf);
        let mut got = Vec::new();
        let mut stats = ProcStats::default();
        for line in text.split('\n') {
            let first = line.split_whitespace().next();
            if first.is_none() || first == Some("sl") {
                continue;
            }
            stats.lines += 1;
            match naive_line(line, family) {
                Some(e) => got.push(e),
                None => stats.malformed += 1,
            }
        }
        (got, stats)
    }

    #[test]
    fn fixture_tcp_rows() {
        let buf = std::fs::read(format!("{FIXTURE}/net/tcp")).expect("fixture");
        let (got, stats) = parse_all(&buf, Family::V4);
        assert_eq!(
            stats,
            ProcStats {
                lines: 11,
                malformed: 1
            }
        );
        use TcpState::*;
        let want = [
            entry("0.0.0.0:22", "0.0.0.0:0", Listen),
            entry("0.0.0.0:80", "0.0.0.0:0", Listen),
            entry("0.0.0.0:443", "0.0.0.0:0", Listen),
            entry("127.0.0.1:5432", "0.0.0.0:0", Listen),
            entry("198.51.100.10:22", "203.0.113.7:51234", Established),
            entry("198.51.100.10:80", "203.0.113.9:40022", SynRecv),
            entry("198.51.100.10:80", "198.51.100.23:33112", TimeWait),
            entry("198.51.100.10:443", "8.8.4.4:55012", Established),
            entry("198.51.100.10:44870", "8.8.4.4:443", Established),
            entry("127.0.0.1:5432", "127.0.0.1:38000", Established),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn fixture_tcp6_rows_with_mapped_v4() {
        let buf = std::fs::read(format!("{FIXTURE}/net/tcp6")).expect("fixture");
        let (got, stats) = parse_all(&buf, Family::V6);
        assert_eq!(
            stats,
            ProcStats {
                lines: 7,
                malformed: 1
            }
        );
        use TcpState::*;
        let want = [
            entry("[::]:22", "[::]:0", Listen),
            entry("[::]:443", "[::]:0", Listen),
            entry("[2001:db8::10]:443", "[2a01:4f8::1]:60001", Established),
            // ::ffff:198.51.100.10 in the file: canonical IPv4 out.
            entry("198.51.100.10:80", "203.0.113.50:50500", Established),
            entry("[2001:db8::10]:22", "[2001:db8::beef]:41000", TimeWait),
            entry("[2001:db8::10]:443", "[2001:db8:1::77]:39100", SynRecv),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn header_and_blank_lines_are_not_counted() {
        let buf = b"  sl  local_address rem_address   st\n\n   \n";
        assert_eq!(parse_all(buf, Family::V4), (vec![], ProcStats::default()));
        assert_eq!(parse_all(b"", Family::V6), (vec![], ProcStats::default()));
    }

    #[test]
    fn lowercase_hex_crlf_and_no_trailing_newline() {
        let buf = b"   0: 0100007f:1f90 0100007f:c350 0a 00000000:00000000\r\n   1: 0100007F:0050 00000000:0000 01";
        let (got, stats) = parse_all(buf, Family::V4);
        assert_eq!(stats.malformed, 0);
        assert_eq!(
            got,
            [
                entry("127.0.0.1:8080", "127.0.0.1:50000", TcpState::Listen),
                entry("127.0.0.1:80", "0.0.0.0:0", TcpState::Established),
            ]
        );
    }

    #[test]
    fn malformed_shapes_are_counted_not_returned() {
        let lines: &[&[u8]] = &[
            b"0 0100007F:0050 00000000:0000 01",          // slot without ':'
            b"0: 0100007F0050 00000000:0000 01",          // no ':' in address
            b"0: 100007F:0050 00000000:0000 01",          // 7 address digits
            b"0: 0100007F:050 00000000:0000 01",          // 3 port digits
            b"0: 0100007F:0050 00000000:0000 00",         // state 0
            b"0: 0100007F:0050 00000000:0000 0D",         // state 13
            b"0: 0100007F:0050 00000000:0000 1",          // one state digit
            b"0: 0100007F:0050 00000000:0000",            // no state
            b"0: +100007F:0050 00000000:0000 01",         // sign is not hex
            b"0: 0100007F:0050 \xff\xfe\x00\x01:0000 01", // binary
        ];
        for line in lines {
            let (got, stats) = parse_all(line, Family::V4);
            assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(line));
            assert_eq!(
                stats,
                ProcStats {
                    lines: 1,
                    malformed: 1
                }
            );
        }
        // A v4 line read as v6 (and the reverse) is the wrong shape.
        let v4 = b"0: 0100007F:0050 00000000:0000 01";
        assert_eq!(parse_all(v4, Family::V6).1.malformed, 1);
    }

    /// Lines printed the way the kernel prints them, then damaged at random,
    /// must read the same through the fast parser and the naive oracle.
    #[test]
    fn matches_naive_oracle_on_random_and_damaged_lines() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for family in [Family::V4, Family::V6] {
            let mut buf = Vec::new();
            for i in 0..2000u64 {
                let words = if family == Family::V4 { 1 } else { 4 };
                let mut line = format!("{i:4}: ");
                for _ in 0..2 {
                    for _ in 0..words {
                        line.push_str(&format!("{:08X}", rng.next() as u32));
                    }
                    line.push_str(&format!(":{:04X} ", rng.next() as u16));
                }
                line.push_str(&format!(
                    "{:02X} 00000000:00000000 00:00000000",
                    rng.next() % 14
                ));
                let mut line = line.into_bytes();
                if rng.next() % 4 == 0 {
                    let at = (rng.next() as usize) % line.len();
                    line[at] = b"0aZ: \t\r\xff"[(rng.next() % 8) as usize];
                }
                buf.extend_from_slice(&line);
                buf.push(b'\n');
            }
            let fast = parse_all(&buf, family);
            assert_eq!(fast, naive(&buf, family));
            assert!(fast.1.malformed > 0 && fast.0.len() > 1000);
        }
    }
}
