//! The test bench: network namespaces joined by a veth pair, connections
//! from chosen source addresses, daemons that die with the test, and the
//! skip rule (root and the tools, or `SKIP`; a failure under `CI=true`).

use std::fs::{self, File};
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::super::super::{Scope, Tool};

/// How long a daemon may take to answer (CrowdSec's brief is "within a
/// minute"; both are ready in about a second here).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an allowed connection through the veth pair may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a blocked connection must stay unanswered (its SYN dropped).
const DROP_WAIT: Duration = Duration::from_secs(1);
/// The port the server namespace listens on (the namespace is private).
pub(super) const PORT: u16 = 8080;

/// The addresses one family's test uses, all held by the client namespace
/// except `server`.
pub(super) struct Family {
    /// The address blocked.
    pub(super) addr: &'static str,
    /// In the same /24 or /64: connects until the subnet is blocked.
    pub(super) neighbour: &'static str,
    /// The "whois network" of `addr` (wider than its subnet).
    pub(super) whois: &'static str,
    /// In the whois network, outside the subnet.
    pub(super) member: &'static str,
    /// Outside everything blocked: always connects.
    pub(super) bystander: &'static str,
    /// The server namespace's address.
    pub(super) server: &'static str,
}

pub(super) const V4: Family = Family {
    addr: "203.0.113.7",
    neighbour: "203.0.113.8",
    whois: "203.0.112.0/22",
    member: "203.0.112.5",
    bystander: "198.51.100.9",
    server: "192.0.2.1",
};

pub(super) const V6: Family = Family {
    addr: "2001:db8:1::7",
    neighbour: "2001:db8:1::8",
    whois: "2001:db8:1::/48",
    member: "2001:db8:1:5::5",
    bystander: "2001:db8:3::9",
    server: "2001:db8:ff::1",
};

impl Family {
    pub(super) fn is_v6(&self) -> bool {
        self.server.contains(':')
    }

    pub(super) fn clients(&self) -> [&'static str; 4] {
        [self.addr, self.neighbour, self.member, self.bystander]
    }

    /// After the address alone: widened to its subnet and its whois
    /// network, narrowed again to the subnet and the address, and the
    /// address once more.
    pub(super) fn widen_and_narrow(&self) -> [Scope; 5] {
        let whois = Scope::Network(self.whois.parse().unwrap());
        [
            Scope::Subnet,
            whois,
            Scope::Subnet,
            Scope::Address,
            Scope::Address,
        ]
    }
}

pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

// ---------------------------------------------------------------------------
// Skipping, commands, daemons

/// True (after printing `SKIP: …`) when a binary is missing or we are not
/// root; under `CI=true` a panic instead, as tests/it/harness.rs does.
pub(super) fn skip_unless(bins: &[&str]) -> bool {
    let mut reasons: Vec<String> = bins
        .iter()
        .filter(|bin| which(bin).is_none())
        .map(|bin| format!("{bin} not installed"))
        .collect();
    if !crate::sys::process::is_root() {
        reasons.push("not running as root".to_owned());
    }
    if reasons.is_empty() {
        return false;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(!ci, "CI=true but {}", reasons.join(", "));
    for reason in reasons {
        eprintln!("SKIP: {reason}");
    }
    true
}

/// The real binary (the sbin directories first: PATH may lack them).
fn which(bin: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["/usr/local/sbin", "/usr/sbin", "/sbin"]
        .into_iter()
        .map(PathBuf::from)
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join(bin))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

pub(super) fn real(bin: &str) -> String {
    which(bin)
        .unwrap_or_else(|| panic!("{bin} not found"))
        .display()
        .to_string()
}

/// Runs a command to completion; panics with what it said unless it exits 0.
pub(super) fn run(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> String {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null());
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A shell word (the test's paths are plain, but be safe).
pub(super) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A stand-in named as the tool in `dir`: `#!/bin/sh` and `body`, which
/// execs the real tool with the plan's arguments (`"$@"`).
pub(super) fn stand_in(dir: &Path, tool: Tool, body: &str) {
    let path = dir.join(tool.program());
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
}

pub(super) fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + READY_TIMEOUT;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A daemon in its own process group, output to a file; SIGTERM to the
/// group when dropped (SIGKILL after 5 s), so a failing test leaves none.
pub(super) struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    pub(super) fn spawn(mut cmd: Command, log: PathBuf) -> Daemon {
        let out = File::create(&log).unwrap();
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        Daemon { child, log }
    }

    pub(super) fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            let log = fs::read_to_string(&self.log).unwrap_or_default();
            panic!("daemon exited early ({status}):\n{log}");
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let group = -(self.child.id() as libc::pid_t);
        // SAFETY: kill has no memory preconditions; the group is our child's,
        // which is not reaped before this (so its id cannot be reused).
        unsafe { libc::kill(group, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: as above; the leader is still unreaped.
        unsafe { libc::kill(group, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// Network namespaces

/// A network namespace (`ip netns add`), deleted when dropped.
pub(super) struct Netns {
    pub(super) name: String,
}

impl Netns {
    fn new(role: &str) -> Netns {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("ngz-{}-{role}{n}", std::process::id());
        run(real("ip"), &["netns", "add", &name]);
        let ns = Netns { name };
        // No duplicate address detection: IPv6 addresses work at once.
        ns.enter(|| {
            for conf in ["all", "default"] {
                let knob = format!("/proc/sys/net/ipv6/conf/{conf}/accept_dad");
                fs::write(&knob, "0").unwrap_or_else(|e| panic!("{knob}: {e}"));
            }
        });
        ns
    }

    /// `ip -n NAME -batch -`: one `ip` command a line.
    fn ip_batch(&self, lines: &[String]) {
        let file = tempfile::NamedTempFile::new().unwrap();
        fs::write(file.path(), lines.join("\n") + "\n").unwrap();
        let path = file.path().display().to_string();
        run(real("ip"), &["-n", &self.name, "-batch", &path]);
    }

    /// Waits (up to 5 s) until `ip` lists no tentative IPv6 address: one
    /// that is still tentative cannot be bound.
    fn wait_until_no_address_is_tentative(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let tentative = run(
                real("ip"),
                &["-n", &self.name, "-6", "addr", "show", "tentative"],
            );
            if tentative.trim().is_empty() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{}: addresses still tentative:\n{tentative}",
                self.name
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Runs `f` on a thread that has joined the namespace (setns is per
    /// thread); sockets it creates stay in the namespace.
    fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.name);
        let file = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: file is an open namespace file; setns changes only
                // this thread, which ends with the scope.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns {path}: {}", io::Error::last_os_error());
                f()
            })
            .join()
            .unwrap()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Some(ip) = which("ip") {
            let _ = Command::new(ip)
                .args(["netns", "del", &self.name])
                .stdin(Stdio::null())
                .status();
        }
    }
}

/// Two namespaces joined by a veth pair: `server`, where the firewall runs
/// and something listens on each family's server address, and `client`,
/// which holds every source address the tests connect from. Neighbours are
/// static, so a blocked address cannot disturb ARP/ND for the others.
pub(super) struct Lab {
    /// Dropped first: the namespaces go once nothing holds them.
    _listeners: Vec<TcpListener>,
    client: Netns,
    pub(super) server: Netns,
}

const SERVER_MAC: &str = "02:00:00:00:00:01";
const CLIENT_MAC: &str = "02:00:00:00:00:02";

impl Lab {
    pub(super) fn new() -> Lab {
        let server = Netns::new("srv");
        let client = Netns::new("cli");
        let mut srv = vec![
            format!(
                "link add vs address {SERVER_MAC} type veth peer name vc address {CLIENT_MAC} \
                 netns {}",
                client.name
            ),
            "link set lo up".into(),
            "link set vs up".into(),
        ];
        let mut cli = vec!["link set lo up".to_string(), "link set vc up".into()];
        for f in [&V4, &V6] {
            // `nodad`: an IPv6 address is usable at once, even before the
            // veth's carrier is up (accept_dad=0 alone left one tentative
            // for a moment in a CI run: its bind failed with EADDRNOTAVAIL).
            let (len, flags) = if f.is_v6() {
                ("128", " nodad")
            } else {
                ("32", "")
            };
            srv.push(format!("addr add {}/{len} dev vs{flags}", f.server));
            cli.push(format!("route add {}/{len} dev vc", f.server));
            cli.push(format!(
                "neigh replace {} lladdr {SERVER_MAC} dev vc nud permanent",
                f.server
            ));
            for addr in f.clients() {
                cli.push(format!("addr add {addr}/{len} dev vc{flags}"));
                srv.push(format!("route replace {addr}/{len} dev vs"));
                srv.push(format!(
                    "neigh replace {addr} lladdr {CLIENT_MAC} dev vs nud permanent"
                ));
            }
        }
        server.ip_batch(&srv);
        client.ip_batch(&cli);
        for ns in [&server, &client] {
            ns.wait_until_no_address_is_tentative();
        }
        let listeners: Vec<TcpListener> = server.enter(|| {
            [&V4, &V6]
                .map(|f| {
                    TcpListener::bind((ip(f.server), PORT))
                        .unwrap_or_else(|e| panic!("listen on {}: {e}", f.server))
                })
                .into()
        });
        Lab {
            _listeners: listeners,
            client,
            server,
        }
    }

    /// From the client namespace, connects from every source at once:
    /// each of `open` must connect, each of `dropped` must stay unanswered
    /// for [`DROP_WAIT`] (not refused: the firewall drops).
    pub(super) fn assert_reach(&self, open: &[&str], dropped: &[&str]) {
        self.client.enter(|| {
            let start = Instant::now();
            let attempt = |src: &&str| {
                let family = if src.contains(':') { &V6 } else { &V4 };
                let dst = SocketAddr::new(ip(family.server), PORT);
                (src.to_string(), connect_from(ip(src), dst))
            };
            let opened: Vec<_> = open.iter().map(attempt).collect();
            let blocked: Vec<_> = dropped.iter().map(attempt).collect();
            for (src, fd) in &opened {
                let left = CONNECT_TIMEOUT.saturating_sub(start.elapsed());
                assert_eq!(
                    outcome(fd, left),
                    Some(Ok(())),
                    "{src} should connect (None: no answer)"
                );
            }
            std::thread::sleep(DROP_WAIT.saturating_sub(start.elapsed()));
            for (src, fd) in &blocked {
                assert_eq!(outcome(fd, Duration::ZERO), None, "{src} should be dropped");
            }
        });
    }
}

/// A non-blocking TCP connect from `src` (bound first: std cannot) to `dst`.
fn connect_from(src: IpAddr, dst: SocketAddr) -> OwnedFd {
    let domain = if dst.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let flags = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: plain socket call; the fd is owned at once below.
    let raw = unsafe { libc::socket(domain, flags, 0) };
    assert!(raw >= 0, "socket: {}", io::Error::last_os_error());
    // SAFETY: raw is a fresh socket nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let (local, len) = sockaddr(SocketAddr::new(src, 0));
    // SAFETY: `local` is a valid socket address of `len` bytes.
    let rc = unsafe { libc::bind(raw, std::ptr::from_ref(&local).cast(), len) };
    assert_eq!(rc, 0, "bind {src}: {}", io::Error::last_os_error());
    let (remote, len) = sockaddr(dst);
    // SAFETY: as above.
    let rc = unsafe { libc::connect(raw, std::ptr::from_ref(&remote).cast(), len) };
    let err = io::Error::last_os_error();
    assert!(
        rc == 0 || err.raw_os_error() == Some(libc::EINPROGRESS),
        "connect {src} -> {dst}: {err}"
    );
    fd
}

/// How a connect ended within `wait`: `None` still unanswered, else
/// `Ok` connected or the error (refused, unreachable).
fn outcome(fd: &OwnedFd, wait: Duration) -> Option<Result<(), String>> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    let ms = libc::c_int::try_from(wait.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    assert!(n >= 0, "poll: {}", io::Error::last_os_error());
    if n == 0 {
        return None;
    }
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: err and len are valid out-parameters of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            std::ptr::from_mut(&mut err).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "getsockopt: {}", io::Error::last_os_error());
    Some(match err {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e).to_string()),
    })
}

fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero bytes are a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write(std::ptr::from_mut(&mut storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write(std::ptr::from_mut(&mut storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}
