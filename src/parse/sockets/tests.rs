use super::*;
use crate::testutil::Rng;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/proc");

fn sa(text: &str) -> SocketAddr {
    text.parse().expect("test address")
}

/// `dump` with every inode 0, to compare with [`entry`]s.
fn without_inodes(dump: &[SocketEntry]) -> Vec<SocketEntry> {
    dump.iter()
        .map(|&s| SocketEntry { inode: 0, ..s })
        .collect()
}

/// The inode column of the fixtures' parsed lines, in order.
const TCP_INODES: [u32; 10] = [18231, 20112, 20113, 19877, 88231, 0, 0, 90412, 90500, 70001];
const TCP6_INODES: [u32; 6] = [18233, 20114, 91001, 91002, 0, 0];

fn entry(local: &str, remote: &str, state: TcpState) -> SocketEntry {
    SocketEntry {
        local: sa(local),
        remote: sa(remote),
        state,
        inode: 0,
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
        inode: fields.get(9).and_then(|f| f.parse().ok()).unwrap_or(0),
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
    assert_eq!(without_inodes(&got), want);
    let inodes: Vec<u32> = got.iter().map(|s| s.inode).collect();
    assert_eq!(
        inodes, TCP_INODES,
        "the inode column, 0 where the line has none"
    );
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
    assert_eq!(without_inodes(&got), want);
    let inodes: Vec<u32> = got.iter().map(|s| s.inode).collect();
    assert_eq!(inodes, TCP6_INODES);
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
            if rng.next().is_multiple_of(4) {
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
