//! Test machinery: run `nethergaze` and parse its JSON Lines, start daemons that die
//! with the test (even when an assertion fails), poll for readiness with a deadline,
//! and skip a real-peer test when its peer binary is missing.
//!
//! Nothing here sleeps for a fixed time where a readiness check exists: every wait is
//! `wait_until(what, deadline, check)`, and a timeout names what it waited for.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::FromRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a daemon may take to become ready on a busy 2-core machine.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a `--once` run or a helper command (curl, sshpass) may take.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between two readiness checks.
const POLL: Duration = Duration::from_millis(20);
/// Grace between SIGTERM and SIGKILL when a test tears a process group down.
const TERM_GRACE: Duration = Duration::from_secs(5);

/// Flags every nethergaze run gets: machine output and no network or disk side effects.
const QUIET_FLAGS: [&str; 4] = ["--json", "--no-geoip", "--no-whois", "--no-history"];

/// One command-line argument: `&"--once"`, `&path`, `&format!(..)`.
pub type Arg<'a> = &'a dyn AsRef<OsStr>;

// ---------------------------------------------------------------------------
// Skipping and locating peer binaries

/// Returns true (after printing `SKIP: <name> not installed`) when the test must be
/// skipped because a binary in `bins` is missing or we are not root. Under `CI=true`
/// it panics instead: CI installs every peer, so a skip there would hide a regression.
pub fn skip_unless(bins: &[&str]) -> bool {
    let mut reasons: Vec<String> = bins
        .iter()
        .filter(|bin| which(bin).is_none())
        .map(|bin| format!("{bin} not installed"))
        .collect();
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
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

/// The absolute path of `bin`, searched in `$PATH` and then the sbin directories
/// (a non-root `$PATH` often lacks them, and sshd must be exec'd by absolute path).
pub fn which(bin: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let sbins = ["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from);
    std::env::split_paths(&path)
        .chain(sbins)
        .map(|dir| dir.join(bin))
        .find(|candidate| {
            fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Like [`which`], for a binary that `skip_unless` already vouched for.
pub fn bin(name: &str) -> PathBuf {
    which(name).unwrap_or_else(|| panic!("{name} not found in PATH or sbin"))
}

// ---------------------------------------------------------------------------
// Waiting

/// Polls `ready` until it returns true; panics naming `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        thread::sleep(POLL);
    }
}

// ---------------------------------------------------------------------------
// Files, addresses, sockets

/// A fresh temporary directory, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("nethergaze-it-")
        .tempdir()
        .unwrap()
}

/// The file's contents, or "" when it does not exist (yet).
pub fn read_or_empty(path: &Path) -> String {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => panic!("read {}: {e}", path.display()),
    }
}

/// Number of complete lines in the file (0 when it does not exist yet).
pub fn line_count(path: &Path) -> usize {
    read_or_empty(path).bytes().filter(|&b| b == b'\n').count()
}

/// `127.0.0.n`: every test client gets its own loopback source address.
pub fn lo(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, n)
}

/// `n` distinct free TCP ports on 127.0.0.1 (all held while choosing, so distinct).
/// Another process may take one before the daemon binds it: daemons retry on EADDRINUSE.
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// True when something accepts TCP connections on 127.0.0.1:`port`.
pub fn is_listening(port: u16) -> bool {
    TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// A TCP connection from `src` (any port) to `dst`, left idle: std cannot bind a
/// client socket before connecting, three libc calls can.
pub fn connect_from(src: Ipv4Addr, dst: SocketAddrV4) -> TcpStream {
    // SAFETY: plain socket call; the fd is owned by `stream` at once, so it is closed
    // on every path below, including a panic.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0, "socket: {}", io::Error::last_os_error());
    // SAFETY: fd is a fresh socket nobody else owns.
    let stream = unsafe { TcpStream::from_raw_fd(fd) };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let local = sockaddr_in(src, 0);
    // SAFETY: `local` is a valid sockaddr_in of `len` bytes that outlives the call.
    let rc = unsafe { libc::bind(fd, std::ptr::from_ref(&local).cast(), len) };
    assert_eq!(rc, 0, "bind {src}: {}", io::Error::last_os_error());
    let remote = sockaddr_in(*dst.ip(), dst.port());
    // SAFETY: as above; the socket is blocking, so connect returns after the handshake.
    let rc = unsafe { libc::connect(fd, std::ptr::from_ref(&remote).cast(), len) };
    assert_eq!(
        rc,
        0,
        "connect {src} -> {dst}: {}",
        io::Error::last_os_error()
    );
    stream
}

fn sockaddr_in(ip: Ipv4Addr, port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(ip.octets()),
        },
        sin_zero: [0; 8],
    }
}

/// Rows of /proc/net/tcp in state `state` (hex, "01" = ESTABLISHED) whose local
/// address is 127.0.0.1:`port` and remote address is `remote`: the server side of
/// connections from `remote`, as nethergaze should see them.
pub fn proc_tcp_rows(port: u16, remote: Ipv4Addr, state: &str) -> usize {
    let local = format!("{}:{port:04X}", hex_ip(Ipv4Addr::LOCALHOST));
    let remote = format!("{}:", hex_ip(remote));
    read_or_empty(Path::new("/proc/net/tcp"))
        .lines()
        .skip(1)
        .filter(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            f.len() > 3 && f[1] == local && f[2].starts_with(&remote) && f[3] == state
        })
        .count()
}

/// An IPv4 address as /proc/net/tcp prints it: the in-memory u32, in hex.
fn hex_ip(ip: Ipv4Addr) -> String {
    format!("{:08X}", u32::from_ne_bytes(ip.octets()))
}

// ---------------------------------------------------------------------------
// Processes that die with the test

/// Puts the child in its own process group (so teardown reaches its workers and
/// session children) and asks the kernel to SIGTERM it if the test thread dies
/// without running destructors (panic=abort, SIGKILL of the test binary).
fn contain(cmd: &mut Command) {
    cmd.process_group(0);
    // SAFETY: the closure runs between fork and exec and only calls prctl, which is
    // async-signal-safe and touches no memory shared with the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// True once `child` has exited. The zombie is left unreaped (WNOWAIT), so its pid,
/// and with it the process group id, cannot be reused before [`stop_group`] runs.
fn has_exited(child: &Child) -> bool {
    let pid = child.id() as libc::id_t;
    // SAFETY: zeroed siginfo_t is a valid out-parameter for waitid.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid, writable siginfo_t; pid is our own child.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: si_pid is set by waitid (0 when the child is still running).
    rc == 0 && unsafe { info.si_pid() } != 0
}

/// SIGTERM to the child's whole process group, up to [`TERM_GRACE`] for the leader to
/// exit, SIGKILL to whatever is left in the group, then reap the leader.
fn stop_group(child: &mut Child) -> ExitStatus {
    let pgid = child.id() as libc::pid_t;
    // SAFETY: kill has no memory preconditions; pgid is our unreaped child's group.
    unsafe { libc::kill(-pgid, libc::SIGTERM) };
    let deadline = Instant::now() + TERM_GRACE;
    while !has_exited(child) && Instant::now() < deadline {
        thread::sleep(POLL);
    }
    // SAFETY: as above; the leader is at worst a zombie, so the group id is still ours.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    child.wait().unwrap()
}

/// A long-running peer (nginx, rsyslogd, sshd) with stdout and stderr in a file;
/// its process group is terminated when the value is dropped.
pub struct Daemon {
    name: String,
    child: Option<Child>,
    output: PathBuf,
}

impl Daemon {
    /// Starts `cmd` contained (see [`contain`]), output to `output`.
    pub fn spawn(name: &str, mut cmd: Command, output: &Path) -> Daemon {
        let out = File::create(output).unwrap();
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        contain(&mut cmd);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Daemon {
            name: name.to_owned(),
            child: Some(child),
            output: output.to_owned(),
        }
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// True when the daemon has exited (it stays unreaped until dropped).
    pub fn has_exited(&self) -> bool {
        self.child.as_ref().is_none_or(has_exited)
    }

    /// What the daemon wrote on stdout and stderr so far.
    pub fn output(&self) -> String {
        read_or_empty(&self.output)
    }

    /// Panics with the daemon's output if it has exited.
    pub fn assert_running(&self) {
        assert!(
            !self.has_exited(),
            "{} exited early; its output:\n{}",
            self.name,
            self.output()
        );
    }

    /// Terminates the process group now (idempotent; Drop does the same).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_group(&mut child);
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A finished short-lived command.
#[derive(Debug)]
pub struct Output {
    /// How it ended.
    pub status: ExitStatus,
    /// Everything it wrote on stdout.
    pub stdout: String,
    /// Everything it wrote on stderr.
    pub stderr: String,
}

/// A contained child whose stdout and stderr are collected by two reader threads
/// (so a full pipe never blocks it). Dropped unfinished, its group is terminated.
pub struct Running {
    what: String,
    child: Option<Child>,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

impl Running {
    /// Starts `cmd` contained, stdin from /dev/null.
    pub fn spawn(cmd: Command) -> Running {
        Running::spawn_fed(cmd, Stdio::null())
    }

    /// [`Running::spawn`] with `stdin` as its standard input.
    pub fn spawn_fed(mut cmd: Command, stdin: Stdio) -> Running {
        let what = format!("{cmd:?}");
        cmd.stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        contain(&mut cmd);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stdout = child.stdout.take().map(collect);
        let stderr = child.stderr.take().map(collect);
        Running {
            what,
            child: Some(child),
            stdout,
            stderr,
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The write end of the child's stdin, if it was piped (once).
    pub fn stdin(&mut self) -> Option<ChildStdin> {
        self.child.as_mut()?.stdin.take()
    }

    /// Whether the child has exited (it stays unreaped).
    pub fn has_exited(&self) -> bool {
        self.child.as_ref().is_none_or(has_exited)
    }

    /// Panics with what the child said if it has exited.
    fn assert_running(&mut self) {
        let exited = self.child.as_ref().is_none_or(has_exited);
        if exited {
            let out = self.finish(Duration::ZERO);
            panic!("{} exited early: {out:?}", self.what);
        }
    }

    /// Sends `signal` to the child itself (not its group).
    pub fn signal(&self, signal: libc::c_int) {
        if let Some(child) = &self.child {
            // SAFETY: kill has no memory preconditions; the child is ours and unreaped.
            unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        }
    }

    /// Waits up to `timeout` for the child to exit (killing its group and panicking
    /// if it does not), then returns its output.
    pub fn finish(&mut self, timeout: Duration) -> Output {
        let Some(mut child) = self.child.take() else {
            panic!("{} already finished", self.what);
        };
        let deadline = Instant::now() + timeout;
        while !has_exited(&child) && Instant::now() < deadline {
            thread::sleep(POLL);
        }
        let timed_out = !has_exited(&child);
        let status = stop_group(&mut child);
        let stdout = self.stdout.take().map(join).unwrap_or_default();
        let stderr = self.stderr.take().map(join).unwrap_or_default();
        let out = Output {
            status,
            stdout,
            stderr,
        };
        assert!(
            !timed_out,
            "{} still running after {timeout:?}: {out:?}",
            self.what
        );
        out
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_group(&mut child);
        }
    }
}

fn collect(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn join(handle: JoinHandle<String>) -> String {
    handle.join().unwrap_or_default()
}

/// Runs a helper command (curl, ssh-keygen, sshpass) to completion within
/// [`RUN_TIMEOUT`].
pub fn run_cmd(cmd: Command) -> Output {
    Running::spawn(cmd).finish(RUN_TIMEOUT)
}

// ---------------------------------------------------------------------------
// nethergaze

/// The binary under test: cargo's build of `nethergaze`, or `$NETHERGAZE_TEST_BIN`
/// (to run the suite against a release or static musl build).
pub fn nethergaze_bin() -> PathBuf {
    std::env::var_os("NETHERGAZE_TEST_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_nethergaze")),
        PathBuf::from,
    )
}

/// `nethergaze` with a clean environment: no `NETHERGAZE_*` variables and a HOME and
/// XDG_CONFIG_HOME without a config file, so only the test's flags count.
pub fn nethergaze() -> Command {
    let mut cmd = Command::new(nethergaze_bin());
    let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-home");
    cmd.env("HOME", &home).env("XDG_CONFIG_HOME", &home);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("NETHERGAZE_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// `nethergaze --json` reading the combined log fixture (from its end unless
/// `--from-start` follows) and the /proc fixture, no sshd log: the base of the
/// enrichment tests, which add their own GeoIP, whois and history flags.
pub fn on_fixtures() -> Command {
    let mut cmd = nethergaze();
    let root = env!("CARGO_MANIFEST_DIR");
    cmd.arg("--json")
        .arg("--log-path")
        .arg(format!("{root}/tests/data/logs/combined.log"))
        .args(["--no-auth-log", "--proc-root"])
        .arg(format!("{root}/tests/data/proc"));
    cmd
}

/// `nethergaze --json --no-geoip --no-whois --no-history ARGS`.
pub fn with_args(args: &[Arg]) -> Command {
    let mut cmd = nethergaze();
    cmd.args(QUIET_FLAGS);
    cmd.args(args.iter().map(|a| a.as_ref()));
    cmd
}

/// Runs `nethergaze --json --no-geoip --no-whois --no-history ARGS` (ARGS should hold
/// `--once`) to completion, asserts exit 0 and parses the snapshot.
pub fn snapshot(args: &[Arg]) -> Snapshot {
    let out = Running::spawn(with_args(args)).finish(RUN_TIMEOUT);
    assert!(
        out.status.success(),
        "nethergaze {args:?} failed: {out:?}",
        args = debug_args(args)
    );
    Snapshot::parse(&out.stdout)
}

fn debug_args(args: &[Arg]) -> Vec<OsString> {
    args.iter().map(|a| a.as_ref().to_owned()).collect()
}

/// `wrapper` (prlimit, unshare, …) running `inner`: its program and arguments
/// appended, its environment carried over.
pub fn wrapped(mut wrapper: Command, inner: &Command) -> Command {
    wrapper.arg(inner.get_program()).args(inner.get_args());
    for (key, value) in inner.get_envs() {
        match value {
            Some(value) => wrapper.env(key, value),
            None => wrapper.env_remove(key),
        };
    }
    wrapper
}

/// `sh -c SCRIPT ARG0 …` in a private mount namespace (`unshare --mount`): the
/// script mounts what a test needs (a tmpfs /dev, a tiny full disk) and runs
/// `"$@"`; nothing it mounts is seen outside.
pub fn in_private_mounts(script: &str, arg0: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(bin("unshare"));
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        script,
    ])
    .arg(arg0);
    cmd
}

/// A `nethergaze --for …` run in the background, ended by SIGTERM.
pub struct Live {
    run: Running,
}

impl Live {
    /// Starts `nethergaze --json --no-geoip --no-whois --no-history ARGS`; ARGS should
    /// hold `--for DURATION` longer than the test needs.
    pub fn start(args: &[Arg]) -> Live {
        Live {
            run: Running::spawn(with_args(args)),
        }
    }

    /// Like [`start`](Self::start), under `prlimit --nofile=SOFT:HARD` (prlimit sets
    /// its own limit and execs nethergaze, so the pid is nethergaze's).
    pub fn start_with_nofile(nofile: &str, args: &[Arg]) -> Live {
        let mut prlimit = Command::new(bin("prlimit"));
        prlimit.arg(format!("--nofile={nofile}")).arg("--");
        Live {
            run: Running::spawn(wrapped(prlimit, &with_args(args))),
        }
    }

    /// Waits until nethergaze holds every file in `files` open and is idle in
    /// `epoll_wait`: its start-up is over, so lines written from now on are new.
    pub fn wait_ready(&mut self, files: &[&Path]) {
        let pid = self.run.pid();
        wait_until(
            "nethergaze to open its logs and block in epoll_wait",
            READY_TIMEOUT,
            || {
                self.run.assert_running();
                files.iter().all(|f| open_fd(pid, f).is_some()) && in_epoll_wait(pid)
            },
        );
    }

    /// Waits until nethergaze's file offset on `file` has reached its size, i.e. it
    /// has read everything written so far. A reader using pread keeps offset 0: after
    /// [`READY_TIMEOUT`] this gives up with a note and lets the snapshot decide.
    pub fn wait_caught_up(&mut self, file: &Path) {
        let pid = self.run.pid();
        let len = fs::metadata(file).unwrap().len();
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            self.run.assert_running();
            let pos = open_fd(pid, file).and_then(|fd| fd_pos(pid, fd));
            if pos.is_some_and(|pos| pos >= len) && in_epoll_wait(pid) {
                return;
            }
            thread::sleep(POLL);
        }
        eprintln!(
            "note: nethergaze's offset on {} never reached {len}",
            file.display()
        );
    }

    /// nethergaze's pid (for /proc/PID/{fd,fdinfo,status}).
    pub fn pid(&self) -> u32 {
        self.run.pid()
    }

    /// Polls `ready(pid)` until it returns true; panics naming `what` after
    /// [`READY_TIMEOUT`], or at once if nethergaze has exited.
    pub fn wait_for(&mut self, what: &str, mut ready: impl FnMut(u32) -> bool) {
        let pid = self.run.pid();
        wait_until(what, READY_TIMEOUT, || {
            self.run.assert_running();
            ready(pid)
        });
    }

    /// Waits for a run to end by itself (`--for` ran its course) and returns its
    /// snapshot; asserts exit 0.
    pub fn wait_end(mut self) -> Snapshot {
        let out = self.run.finish(RUN_TIMEOUT);
        assert!(out.status.success(), "nethergaze failed: {out:?}");
        Snapshot::parse(&out.stdout)
    }

    /// Ends the run with SIGTERM and returns its snapshot; asserts exit 0.
    pub fn stop(self) -> Snapshot {
        self.stop_with(libc::SIGTERM)
    }

    /// Ends the run with `signal` and returns its snapshot; asserts exit 0.
    pub fn stop_with(self, signal: libc::c_int) -> Snapshot {
        self.stop_expecting(signal, 0)
    }

    /// Ends the run with SIGTERM and returns its snapshot; asserts exit 1 (a log
    /// source could not be read: the snapshot is still printed) and that stderr
    /// names each such source.
    pub fn stop_incomplete(self) -> Snapshot {
        self.stop_expecting(libc::SIGTERM, 1)
    }

    fn stop_expecting(mut self, signal: libc::c_int, code: i32) -> Snapshot {
        self.run.assert_running();
        self.run.signal(signal);
        let out = self.run.finish(RUN_TIMEOUT);
        let died_of = out.status.signal();
        assert_eq!(
            out.status.code(),
            Some(code),
            "nethergaze did not exit {code} on signal {signal} (died of {died_of:?}): {out:?}"
        );
        let snap = Snapshot::parse(&out.stdout);
        if code == 1 {
            let failed = snap.summary["sources"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["kind"] == "access" && s["error"].is_string());
            for source in failed {
                let path = source["path"].as_str().unwrap();
                assert!(
                    out.stderr.contains(&format!("access log {path}: ")),
                    "{path} not on stderr: {}",
                    out.stderr
                );
            }
        }
        snap
    }
}

/// The fd number under which process `pid` has `file` open.
pub fn open_fd(pid: u32, file: &Path) -> Option<u32> {
    let want = fs::canonicalize(file).ok()?;
    fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()?
        .flatten()
        .find(|entry| fs::read_link(entry.path()).is_ok_and(|target| target == want))
        .and_then(|entry| entry.file_name().to_str()?.parse().ok())
}

/// The file offset of `fd` in process `pid`, from /proc/PID/fdinfo.
pub fn fd_pos(pid: u32, fd: u32) -> Option<u64> {
    let info = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).ok()?;
    let line = info.lines().find(|l| l.starts_with("pos:"))?;
    line["pos:".len()..].trim().parse().ok()
}

/// True when the process is asleep in epoll_wait (its one loop is idle).
pub fn in_epoll_wait(pid: u32) -> bool {
    let wchan = fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    matches!(wchan.trim(), "do_epoll_wait" | "ep_poll" | "sys_epoll_wait")
}

// ---------------------------------------------------------------------------
// Snapshots

/// One headless JSON snapshot: the `ip` objects by address, and the `summary`.
#[derive(Debug)]
pub struct Snapshot {
    /// Every `{"type":"ip"}` object, keyed by its `ip`.
    pub ips: HashMap<String, Value>,
    /// The final `{"type":"summary"}` object.
    pub summary: Value,
}

impl Snapshot {
    /// Parses JSON Lines; panics (quoting the line) on anything off-contract: a line
    /// that is not JSON, an unknown type, a repeated IP, a line after the summary.
    pub fn parse(stdout: &str) -> Snapshot {
        let mut ips = HashMap::new();
        let mut summary = None;
        for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
            assert!(summary.is_none(), "line after the summary: {line}");
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            match value["type"].as_str() {
                Some("ip") => {
                    let ip = value["ip"]
                        .as_str()
                        .unwrap_or_else(|| panic!("no ip: {line}"));
                    let previous = ips.insert(ip.to_owned(), value.clone());
                    assert!(previous.is_none(), "IP {ip} printed twice");
                }
                Some("summary") => summary = Some(value),
                _ => panic!("unknown line type: {line}"),
            }
        }
        let summary = summary.unwrap_or_else(|| panic!("no summary line in:\n{stdout}"));
        assert_eq!(summary["schema_version"], 1, "summary: {summary}");
        Snapshot { ips, summary }
    }

    /// The row of `ip`; panics listing the IPs present.
    pub fn ip(&self, ip: impl std::fmt::Display) -> &Value {
        let ip = ip.to_string();
        self.ips.get(&ip).unwrap_or_else(|| {
            let mut known: Vec<&String> = self.ips.keys().collect();
            known.sort();
            panic!("no row for {ip}; rows: {known:?}")
        })
    }

    /// The source entry whose `path` is `path`.
    pub fn source(&self, path: &Path) -> &Value {
        let sources = self.summary["sources"].as_array().unwrap();
        let want = path.to_string_lossy();
        sources
            .iter()
            .find(|s| s["path"].as_str() == Some(&want))
            .unwrap_or_else(|| panic!("no source {want} in {sources:?}"))
    }
}

/// `obj[key]` as an unsigned integer; panics showing the object.
pub fn num(obj: &Value, key: &str) -> u64 {
    obj[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not an unsigned integer in {obj}"))
}

/// `obj["reasons"]` as strings.
pub fn reasons(obj: &Value) -> Vec<&str> {
    obj["reasons"]
        .as_array()
        .unwrap_or_else(|| panic!("no reasons array in {obj}"))
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect()
}

/// Asserts that `obj` is suspicious for exactly the reasons in `want` (order free).
pub fn assert_reasons(obj: &Value, want: &[&str]) {
    let mut got = reasons(obj);
    got.sort_unstable();
    let mut want = want.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "reasons of {}", obj["ip"]);
    assert_eq!(obj["suspicious"], !want.is_empty(), "suspicious of {obj}");
}

/// The skip contract itself: a missing peer skips, or fails under `CI=true`.
#[test]
fn skip_unless_skips_a_missing_binary_or_fails_in_ci() {
    let missing = ["nethergaze-itest-no-such-binary"];
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        assert!(std::panic::catch_unwind(|| skip_unless(&missing)).is_err());
    } else {
        assert!(skip_unless(&missing));
    }
    assert!(which("sh").is_some_and(|p| p.is_absolute()));
}
