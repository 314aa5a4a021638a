//! `--demo`: synthetic traffic written to real files in a private temporary
//! directory and read through the normal path (inotify, parsers, /proc
//! reader), so a newcomer sees every view in seconds.
//!
//! The cast: ordinary visitors, a SYN flood from a /24, a scanner, an exploit
//! prober and an sshd brute forcer. Every address is in a documentation range
//! (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32), so the
//! demo never names a real host; the engine shows them as in
//! `--show-private-ips`.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::parse::time::civil_from_days;
use crate::parse::UnixTime;
use crate::sys::file;

const VISITORS: [&str; 6] = [
    "203.0.113.10",
    "203.0.113.24",
    "203.0.113.51",
    "203.0.113.77",
    "2001:db8:40::15",
    "2001:db8:7::3",
];
const SCANNER: &str = "198.51.100.23";
const PROBER: &str = "198.51.100.66";
const BRUTE_FORCER: &str = "203.0.113.99";
/// The SYN flood's sources: 192.0.2.1 .. 192.0.2.FLOOD_HOSTS.
const FLOOD_HOSTS: u8 = 12;

const PATHS: [&str; 6] = [
    "/",
    "/index.html",
    "/static/app.js",
    "/static/style.css",
    "/blog/hello-world",
    "/favicon.ico",
];
const PROBES: [&str; 6] = [
    "/.env",
    "/wp-login.php",
    "/../../etc/passwd",
    "/.git/config",
    "/cgi-bin/luci",
    "/phpMyAdmin/",
];
const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const SCANNER_UA: &str = "Mozilla/5.0 zgrab/0.x";
const USERS: [&str; 5] = ["root", "admin", "ubuntu", "oracle", "test"];

/// The demo's files; the directory is removed when this is dropped.
pub(crate) struct Demo {
    dir: PathBuf,
    access: File,
    auth: File,
    tick: u64,
    rng: u64,
}

impl Demo {
    /// Create the directory (0700) and its files, with a minute of history.
    pub(crate) fn create(now: UnixTime) -> io::Result<Demo> {
        let base = std::env::var_os("TMPDIR").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
        let dir = base.join(format!("nethergaze-demo-{}", std::process::id()));
        fs::DirBuilder::new().mode(0o700).create(&dir)?;
        fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(dir.join("proc/net"))?;
        // The folder is new and ours (mkdir fails on anything already there),
        // and its files are made the way every file we write is.
        let open = |name: &str| file::create_private(&dir.join(name));
        let mut demo = Demo {
            access: open("access.log")?,
            auth: open("auth.log")?,
            dir,
            tick: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
        };
        for second in (1..=60).rev() {
            demo.write_second(now - second)?;
        }
        demo.write_sockets()?;
        // A box up 3d04h03m, for the header's uptime.
        file::create_private(&demo.proc_root().join("uptime"))?
            .write_all(b"273780.52 1000.00\n")?;
        Ok(demo)
    }

    pub(crate) fn access_log(&self) -> PathBuf {
        self.dir.join("access.log")
    }

    pub(crate) fn auth_log(&self) -> PathBuf {
        self.dir.join("auth.log")
    }

    /// Stands for /proc: `net/tcp` and `net/tcp6` in /proc's format.
    pub(crate) fn proc_root(&self) -> PathBuf {
        self.dir.join("proc")
    }

    /// One more second of traffic (called on every tick).
    pub(crate) fn on_tick(&mut self, now: UnixTime) -> io::Result<()> {
        self.write_second(now)?;
        self.write_sockets()
    }

    fn next(&mut self, below: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % below.max(1)
    }

    fn write_second(&mut self, t: UnixTime) -> io::Result<()> {
        self.tick += 1;
        let mut access = String::new();
        for _ in 0..1 + self.next(4) {
            let ip = VISITORS[self.next(VISITORS.len() as u64) as usize];
            let path = PATHS[self.next(PATHS.len() as u64) as usize];
            let status = if self.next(6) == 0 { 304 } else { 200 };
            let bytes = if status == 304 {
                0
            } else {
                500 + self.next(40_000)
            };
            access_line(&mut access, ip, t, "GET", path, status, bytes, BROWSER);
        }
        if self.tick.is_multiple_of(2) {
            let path = format!(
                "/{}",
                ["admin", "backup.zip", "api/v1", "server-status", "login"][self.next(5) as usize]
            );
            access_line(&mut access, SCANNER, t, "GET", &path, 404, 153, SCANNER_UA);
        }
        if self.tick.is_multiple_of(3) {
            let path = PROBES[self.next(PROBES.len() as u64) as usize];
            access_line(&mut access, PROBER, t, "GET", path, 404, 153, "curl/8.5.0");
        }
        self.access.write_all(access.as_bytes())?;
        if self.tick % 2 == 1 {
            let user = USERS[self.next(USERS.len() as u64) as usize];
            let port = 40_000 + self.next(20_000);
            let invalid = if user == "root" { "" } else { "invalid user " };
            let line = format!("{} demo sshd[4242]: Failed password for {invalid}{user} from {BRUTE_FORCER} port {port} ssh2\n", syslog_time(t));
            self.auth.write_all(line.as_bytes())?;
        }
        Ok(())
    }

    /// The socket table: LISTEN on 22/80/443, visitors ESTABLISHED on 443,
    /// the flood's half-open SYN_RECV sockets, the scanner's idle connections.
    /// Written to a new file and renamed into place, as /proc is read whole.
    fn write_sockets(&mut self) -> io::Result<()> {
        let mut v4 = String::from("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n");
        let mut row = 0;
        let mut add = |text: &mut String,
                       local: ([u8; 4], u16),
                       remote: ([u8; 4], u16),
                       state: u8| {
            let _ = writeln!(text, "{row:4}: {}:{:04X} {}:{:04X} {state:02X} 00000000:00000000 00:00000000 00000000     0        0 {} 1 0000000000000000 20 4 30 10 -1", hex4(local.0), local.1, hex4(remote.0), remote.1, 1000 + row);
            row += 1;
        };
        let server = [198, 51, 100, 1];
        for port in [22, 80, 443] {
            add(&mut v4, ([0, 0, 0, 0], port), ([0, 0, 0, 0], 0), 0x0A);
        }
        for (i, ip) in VISITORS
            .iter()
            .filter_map(|v| v.parse::<std::net::Ipv4Addr>().ok())
            .enumerate()
        {
            add(
                &mut v4,
                (server, 443),
                (ip.octets(), 51_000 + i as u16),
                0x01,
            );
        }
        let flood_size = 2 + (self.tick % 4) as u8;
        for host in 1..=FLOOD_HOSTS {
            for k in 0..flood_size {
                add(
                    &mut v4,
                    (server, 443),
                    (
                        [192, 0, 2, host],
                        30_000 + u16::from(k) * 7 + u16::from(host),
                    ),
                    0x03,
                );
            }
        }
        for k in 0..6u16 {
            add(
                &mut v4,
                (server, 80),
                ([198, 51, 100, 23], 45_000 + k),
                0x01,
            );
        }
        add(&mut v4, (server, 22), ([203, 0, 113, 99], 52_222), 0x01);
        add(&mut v4, (server, 41_000), ([203, 0, 113, 200], 443), 0x01);
        replace(&self.proc_root().join("net/tcp"), v4.as_bytes())?;
        let v6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
        replace(&self.proc_root().join("net/tcp6"), v6.as_bytes())
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[allow(clippy::too_many_arguments)]
fn access_line(
    out: &mut String,
    ip: &str,
    t: UnixTime,
    method: &str,
    path: &str,
    status: u16,
    bytes: u64,
    ua: &str,
) {
    let _ = writeln!(
        out,
        "{ip} - - [{}] \"{method} {path} HTTP/1.1\" {status} {bytes} \"-\" \"{ua}\"",
        clf_time(t)
    );
}

/// `/proc/net/tcp` prints an IPv4 address as one host-order 32-bit word.
fn hex4(octets: [u8; 4]) -> String {
    format!("{:08X}", u32::from_ne_bytes(octets))
}

fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("new");
    let _ = fs::remove_file(&tmp); // left by a write that failed half-way
    file::create_private(&tmp)?.write_all(bytes)?;
    fs::rename(tmp, path)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn clf_time(t: UnixTime) -> String {
    let (y, mo, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!(
        "{d:02}/{}/{y:04}:{:02}:{:02}:{:02} +0000",
        MONTHS[mo as usize - 1],
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// RFC 3339 in UTC: the auth parser reads it without guessing a year or zone.
fn syslog_time(t: UnixTime) -> String {
    crate::parse::time::format_rfc3339(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{DetectSettings, Detector, Reason};
    use crate::parse::access::AccessParser;
    use crate::parse::auth::AuthParser;
    use crate::source::procnet::ProcNetReader;
    use crate::table::IpTable;

    /// The demo's files, read by the real parsers into a real table, show
    /// every kind of trouble the demo promises.
    #[test]
    fn every_actor_is_flagged_for_its_reason() {
        let now = 1_795_628_512;
        let mut demo = Demo::create(now).unwrap();
        demo.on_tick(now + 1).unwrap();
        let access = AccessParser::new("combined", Vec::new()).unwrap();
        let mut auth = AuthParser::new(now);
        let mut detector = Detector::new(DetectSettings::default()).unwrap();
        let mut table = IpTable::new(1000, true);
        let mut scratch = Vec::new();
        for line in fs::read(demo.access_log())
            .unwrap()
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
        {
            let (hit, _) = access.parse(line, &mut scratch).unwrap();
            if let Some((applied, request)) = table.apply_access(&hit, now) {
                detector.check_request(&mut table, applied.row, &request, &hit);
            }
        }
        for line in fs::read(demo.auth_log())
            .unwrap()
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
        {
            table.apply_auth(&auth.parse(line).unwrap(), now);
        }
        let mut dump = Vec::new();
        let result = ProcNetReader::new(demo.proc_root()).read(&mut |s| dump.push(s));
        assert_eq!(result.stats().malformed, 0);
        table.apply_sockets(&dump, now, |_| {});
        let reasons = |ip: &str| detector.reasons(table.get(ip.parse().unwrap()).unwrap());
        assert!(reasons(SCANNER).contains(Reason::ScannerUa));
        assert!(reasons(PROBER).contains(Reason::ExploitPath));
        assert!(reasons(BRUTE_FORCER).contains(Reason::AuthFailures));
        assert!(reasons("192.0.2.7").contains(Reason::SynRecv));
        for visitor in VISITORS {
            assert!(
                reasons(visitor).is_empty(),
                "{visitor} is an ordinary visitor"
            );
        }
        let dir = demo.dir.clone();
        drop(demo);
        assert!(!dir.exists(), "the demo cleans up after itself");
    }
}
