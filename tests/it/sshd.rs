//! A private sshd logs through a private rsyslogd listening on /dev/log; sshpass
//! drives failed password logins (existing user, invalid user, a username that tries
//! to forge the address) from distinct loopback sources. The snapshot must count every
//! `Failed password` and `Invalid user` line per address and flag the right ones.
//!
//! sshd's syslog(3) is hard-wired to /dev/log. When nothing owns /dev/log (CI, this
//! box), rsyslogd binds it and the socket is removed afterwards. When a system logger
//! owns it, rsyslogd listens on a temp socket and sshd runs in a private mount
//! namespace (`unshare -m`) where that socket is bind-mounted over /dev/log, so the
//! system logger is left alone. Either way one test at a time uses /dev/log: a mutex in
//! this process and an flock across processes.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::events::{describe, EventRun};
use super::harness::{self, assert_reasons, lo, num, Arg, Daemon, READY_TIMEOUT};

const DEV_LOG: &str = "/dev/log";
/// Serializes /dev/log users across test processes (several `cargo test` at once).
const LOCK_FILE: &str = "/tmp/nethergaze-itest-devlog.lock";
/// Serializes /dev/log users within this test binary.
static DEV_LOG_USERS: Mutex<()> = Mutex::new(());

/// A username that, logged naively, would attribute the failure to 10.9.9.9.
const FORGED_USER: &str = "x from 10.9.9.9 port 22 ssh2";
const FORGED_IP: &str = "10.9.9.9";

/// Failed logins to drive: (source 127.0.0.N, user, attempts). Root with a wrong
/// password twice (below the threshold of 3) and three times, an invalid user twice
/// (two lines each: `Invalid user` and `Failed password for invalid user`), and the
/// forging username once.
const PLAN: &[(u8, &str, usize)] = &[
    (21, "root", 2),
    (22, "root", 3),
    (23, "nosuchuser", 2),
    (24, FORGED_USER, 1),
];

/// Exclusive use of /dev/log for as long as it is held.
struct DevLogLock {
    _file: File,
    _guard: MutexGuard<'static, ()>,
}

impl DevLogLock {
    fn acquire() -> DevLogLock {
        // A test that panicked while holding the mutex tore its daemons down anyway.
        let guard = DEV_LOG_USERS.lock().unwrap_or_else(|e| e.into_inner());
        let file = File::create(LOCK_FILE).unwrap();
        // SAFETY: flock on an fd we own; the lock is released when `file` closes.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(
            rc,
            0,
            "flock {LOCK_FILE}: {}",
            std::io::Error::last_os_error()
        );
        DevLogLock {
            _file: file,
            _guard: guard,
        }
    }
}

/// True when a logger is listening on `path` (a stale socket refuses connections).
fn is_live_socket(path: &Path) -> bool {
    UnixDatagram::unbound().is_ok_and(|s| s.connect(path).is_ok())
}

/// True when /dev/log is ours to bind: absent, or a stale socket left by a killed run.
fn dev_log_is_free() -> bool {
    match fs::symlink_metadata(DEV_LOG) {
        Err(e) => e.kind() == ErrorKind::NotFound,
        Ok(m) => m.file_type().is_socket() && !is_live_socket(Path::new(DEV_LOG)),
    }
}

/// A private rsyslogd writing auth and authpriv to two files: the traditional
/// template (`Nov 25 17:47:44 host sshd[1]: …`) and the high-precision RFC 3339 one.
struct Syslog {
    daemon: Daemon,
    /// Where rsyslogd listens: /dev/log itself, or a temp socket to bind-mount there.
    socket: PathBuf,
    /// True when `socket` is a temp socket and sshd needs a private mount namespace.
    namespaced: bool,
    traditional: PathBuf,
    precise: PathBuf,
    _lock: DevLogLock,
}

impl Syslog {
    fn start(dir: &Path) -> Syslog {
        let lock = DevLogLock::acquire();
        let namespaced = !dev_log_is_free();
        let socket = if namespaced {
            dir.join("log.sock")
        } else {
            PathBuf::from(DEV_LOG)
        };
        let traditional = dir.join("auth.log");
        let precise = dir.join("auth-rfc3339.log");
        let conf = dir.join("rsyslog.conf");
        fs::write(&conf, rsyslog_config(dir, &socket, &traditional, &precise)).unwrap();
        let mut cmd = Command::new(harness::bin("rsyslogd"));
        cmd.arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"));
        let daemon = Daemon::spawn("rsyslogd", cmd, &dir.join("rsyslogd.out"));
        let syslog = Syslog {
            daemon,
            socket,
            namespaced,
            traditional,
            precise,
            _lock: lock,
        };
        syslog.wait_ready();
        syslog
    }

    /// Sends a marker through the socket until one is accepted, then waits for it in
    /// both files: the whole path from socket to disk works.
    fn wait_ready(&self) {
        let marker = format!("nethergaze-itest ready {}", std::process::id());
        let client = UnixDatagram::unbound().unwrap();
        let mut sent = false;
        harness::wait_until(
            "rsyslogd to write a marker to both files",
            READY_TIMEOUT,
            || {
                self.daemon.assert_running();
                // <38> = facility auth (4) * 8 + severity info (6).
                sent = sent
                    || client
                        .send_to(format!("<38>itest: {marker}").as_bytes(), &self.socket)
                        .is_ok();
                sent && [&self.traditional, &self.precise]
                    .iter()
                    .all(|f| harness::read_or_empty(f).contains(&marker))
            },
        );
    }

    fn files(&self) -> [&Path; 2] {
        [&self.traditional, &self.precise]
    }
}

impl Drop for Syslog {
    fn drop(&mut self) {
        self.daemon.stop();
        // rsyslogd leaves its socket behind; a stale /dev/log would mislead the next
        // program that logs, so remove it (it is ours: /dev/log was free at start).
        if !self.namespaced && !is_live_socket(&self.socket) {
            let _ = fs::remove_file(&self.socket);
        }
    }
}

fn rsyslog_config(dir: &Path, socket: &Path, traditional: &Path, precise: &Path) -> String {
    format!(
        r#"global(workDirectory="{dir}")
module(load="imuxsock" SysSock.Name="{socket}" SysSock.Unlink="on" SysSock.RateLimit.Interval="0")
auth,authpriv.* action(type="omfile" file="{traditional}" template="RSYSLOG_TraditionalFileFormat")
auth,authpriv.* action(type="omfile" file="{precise}" template="RSYSLOG_FileFormat")
"#,
        dir = dir.display(),
        socket = socket.display(),
        traditional = traditional.display(),
        precise = precise.display(),
    )
}

/// A private sshd on 127.0.0.1:`port`, password authentication without PAM (so a
/// wrong password fails at once, with no PAM delay), logging to syslog only.
struct Sshd {
    daemon: Daemon,
    port: u16,
}

/// A login sshd accepts, in copies of /etc/passwd and /etc/shadow that are
/// bind-mounted over the real ones in sshd's private mount namespace (the
/// machine's own accounts are never touched).
struct Account {
    passwd: PathBuf,
    shadow: PathBuf,
}

/// The account's name and password ([`SECRET_HASH`] is its SHA-512 crypt).
const ACCOUNT: &str = "ngitest";
const SECRET: &str = "secret";
const SECRET_HASH: &str = "$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG.";

impl Account {
    fn create(dir: &Path) -> Account {
        let (passwd, shadow) = (dir.join("passwd"), dir.join("shadow"));
        let mut users = fs::read_to_string("/etc/passwd").unwrap();
        users.push_str(&format!(
            "{ACCOUNT}:x:64999:64999:nethergaze test:/tmp:/bin/sh\n"
        ));
        fs::write(&passwd, users).unwrap();
        let mut secrets = fs::read_to_string("/etc/shadow").unwrap();
        secrets.push_str(&format!("{ACCOUNT}:{SECRET_HASH}:19000:0:99999:7:::\n"));
        fs::write(&shadow, secrets).unwrap();
        fs::set_permissions(&shadow, fs::Permissions::from_mode(0o600)).unwrap();
        Account { passwd, shadow }
    }
}

impl Sshd {
    fn start(dir: &Path, syslog: &Syslog) -> Sshd {
        Sshd::start_with(dir, syslog, None)
    }

    fn start_with(dir: &Path, syslog: &Syslog, account: Option<&Account>) -> Sshd {
        // sshd refuses to start without its privilege-separation directory.
        fs::create_dir_all("/run/sshd").unwrap();
        fs::set_permissions("/run/sshd", fs::Permissions::from_mode(0o755)).unwrap();
        let key = dir.join("ssh_host_ed25519_key");
        let mut keygen = Command::new(harness::bin("ssh-keygen"));
        keygen
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key);
        let out = harness::run_cmd(keygen);
        assert!(out.status.success(), "ssh-keygen: {out:?}");
        let conf = dir.join("sshd_config");
        for _ in 0..5 {
            let port = harness::free_ports(1)[0];
            write_sshd_config(&conf, dir, &key, port);
            let command = sshd_command(&conf, syslog, account);
            let daemon = Daemon::spawn("sshd", command, &dir.join("sshd.out"));
            // The line names the daemon's pid: a stale line from a failed try never counts.
            let listening = format!(
                "[{}]: Server listening on 127.0.0.1 port {port}.",
                daemon.pid()
            );
            harness::wait_until(
                "sshd's `Server listening` line in the log",
                READY_TIMEOUT,
                || {
                    daemon.has_exited()
                        || harness::read_or_empty(&syslog.traditional).contains(&listening)
                },
            );
            if !daemon.has_exited() {
                return Sshd { daemon, port };
            }
            let said = harness::read_or_empty(&syslog.traditional) + &daemon.output();
            assert!(
                said.contains("Address already in use"),
                "sshd failed to start:\n{said}"
            );
        }
        panic!("sshd: no free port after 5 tries");
    }

    /// One password login as `user` from 127.0.0.`src` with a wrong password.
    /// Returns whether it reached sshd's password check ("Permission denied"): a newer
    /// ssh client may refuse a username like [`FORGED_USER`] before connecting.
    fn fail_login(&self, src: u8, user: &str) -> bool {
        let out = self.login(src, user, "wrong-password");
        assert!(
            !out.status.success(),
            "login as {user:?} with a wrong password succeeded"
        );
        out.stderr.contains("Permission denied")
    }

    /// One password login as `user` from 127.0.0.`src`, running `true`.
    fn login(&self, src: u8, user: &str, password: &str) -> harness::Output {
        let mut cmd = Command::new(harness::bin("sshpass"));
        cmd.args(["-p", password]).arg(harness::bin("ssh"));
        cmd.args(["-F", "/dev/null", "-o", "StrictHostKeyChecking=no"]);
        cmd.args([
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
        ]);
        cmd.args([
            "-o",
            "PreferredAuthentications=password",
            "-o",
            "PubkeyAuthentication=no",
        ]);
        cmd.args(["-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=30"]);
        cmd.arg("-b").arg(lo(src).to_string());
        cmd.arg("-p").arg(self.port.to_string());
        cmd.arg("-l").arg(user).args(["127.0.0.1", "true"]);
        let out = harness::run_cmd(cmd);
        self.daemon.assert_running();
        out
    }
}

fn write_sshd_config(conf: &Path, dir: &Path, key: &Path, port: u16) {
    let mut text = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\nPidFile {pid}\n\
         UsePAM no\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n\
         PubkeyAuthentication no\nPermitRootLogin yes\nMaxAuthTries 6\n\
         MaxStartups 100:30:200\nLoginGraceTime 60\nSyslogFacility AUTH\nLogLevel INFO\n",
        key = key.display(),
        pid = dir.join("sshd.pid").display(),
    );
    // OpenSSH ≥ 9.8 refuses a source after repeated failures; switch that off where
    // the option exists (older sshd rejects the unknown keyword).
    let penalties = format!("{text}PerSourcePenalties no\n");
    fs::write(conf, &penalties).unwrap();
    if sshd_test(conf).is_ok() {
        return;
    }
    fs::write(conf, &text).unwrap();
    if let Err(why) = sshd_test(conf) {
        text.push_str(&why);
        panic!("sshd -t rejects its config:\n{text}");
    }
}

/// `sshd -t -f CONF`: the config check, Err(stderr) when it fails.
fn sshd_test(conf: &Path) -> Result<(), String> {
    let mut cmd = Command::new(harness::bin("sshd"));
    cmd.arg("-t").arg("-f").arg(conf);
    let out = harness::run_cmd(cmd);
    if out.status.success() {
        Ok(())
    } else {
        Err(out.stderr)
    }
}

/// `sshd -D -f CONF`, wrapped in a private mount namespace when a system logger owns
/// /dev/log (the temp syslog socket is bind-mounted over it) or when `account` is
/// given (its passwd and shadow over the real ones).
fn sshd_command(conf: &Path, syslog: &Syslog, account: Option<&Account>) -> Command {
    let sshd = harness::bin("sshd");
    let mut binds: Vec<(&Path, &str)> = Vec::new();
    if syslog.namespaced {
        binds.push((&syslog.socket, DEV_LOG));
    }
    if let Some(account) = account {
        binds.push((&account.passwd, "/etc/passwd"));
        binds.push((&account.shadow, "/etc/shadow"));
    }
    if binds.is_empty() {
        let mut cmd = Command::new(sshd);
        cmd.arg("-D").arg("-f").arg(conf);
        return cmd;
    }
    // `exec` keeps the pid, so the daemon guard signals sshd itself. The
    // sources are the positional parameters ($1…), sshd and its arguments follow.
    let mut script: String = binds
        .iter()
        .enumerate()
        .map(|(i, (_, target))| format!(r#"mount --bind "${}" {target} && "#, i + 1))
        .collect();
    script.push_str(&format!(r#"shift {} && exec "$@""#, binds.len()));
    let mut cmd = Command::new(harness::bin("unshare"));
    cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"]);
    cmd.arg(script).arg("sh");
    for (source, _) in &binds {
        cmd.arg(source);
    }
    cmd.arg(sshd).arg("-D").arg("-f").arg(conf);
    cmd
}

/// Failure lines (`Failed password …`, `Invalid user …`) per client address, read
/// naively: the address is the word after the *last* " from ", so a username
/// containing " from 10.9.9.9" does not move the failure.
fn failures_by_ip(log: &str) -> BTreeMap<String, u64> {
    let mut by_ip = BTreeMap::new();
    for line in log.lines() {
        if !(line.contains(": Failed password for ") || line.contains(": Invalid user ")) {
            continue;
        }
        let Some(at) = line.rfind(" from ") else {
            continue;
        };
        let ip = line[at + " from ".len()..]
            .split_whitespace()
            .next()
            .unwrap_or("");
        *by_ip.entry(ip.to_owned()).or_default() += 1;
    }
    by_ip
}

/// Log lines each attempt must produce: an invalid user logs `Invalid user` and then
/// `Failed password for invalid user`.
fn lines_per_attempt(user: &str) -> u64 {
    if user == "root" {
        1
    } else {
        2
    }
}

/// rsyslogd, sshd and the failed logins of [`PLAN`], all in both log files.
///
/// Fields drop in order: sshd, then rsyslogd, then the directory they write in.
struct Scene {
    _sshd: Sshd,
    syslog: Syslog,
    /// Failure lines expected per address (attempts that reached sshd).
    expect: BTreeMap<String, u64>,
    dir: tempfile::TempDir,
}

fn scene() -> Scene {
    let dir = harness::tempdir();
    let syslog = Syslog::start(dir.path());
    let sshd = Sshd::start(dir.path(), &syslog);
    let mut expect = BTreeMap::new();
    for &(src, user, attempts) in PLAN {
        let mut reached: u64 = 0;
        for _ in 0..attempts {
            if sshd.fail_login(src, user) {
                reached += 1;
            } else {
                assert_eq!(
                    user, FORGED_USER,
                    "login as {user} from .{src} never reached sshd"
                );
            }
        }
        if reached > 0 {
            expect.insert(lo(src).to_string(), reached * lines_per_attempt(user));
        }
    }
    for file in syslog.files() {
        harness::wait_until(
            &format!("every failure in {}", file.display()),
            READY_TIMEOUT,
            || {
                let got = failures_by_ip(&harness::read_or_empty(file));
                expect
                    .iter()
                    .all(|(ip, n)| got.get(ip).is_some_and(|g| g >= n))
            },
        );
    }
    Scene {
        _sshd: sshd,
        syslog,
        expect,
        dir,
    }
}

/// Self-test of the peers: every failed login reaches both files through rsyslog,
/// attributed to its source address, exactly once.
#[test]
fn sshd_failures_reach_the_auth_log() {
    if harness::skip_unless(&["sshd", "rsyslogd", "sshpass", "ssh", "ssh-keygen"]) {
        return;
    }
    let scene = scene();
    for file in scene.syslog.files() {
        let text = harness::read_or_empty(file);
        let mut got = failures_by_ip(&text);
        got.retain(|ip, _| scene.expect.contains_key(ip));
        assert_eq!(got, scene.expect, "{}:\n{text}", file.display());
        assert!(!failures_by_ip(&text).contains_key(FORGED_IP), "{text}");
        assert!(
            text.contains(" sshd"),
            "no sshd lines in {}:\n{text}",
            file.display()
        );
    }
    let precise = harness::read_or_empty(&scene.syslog.precise);
    let first = precise.lines().next().unwrap_or("");
    // RSYSLOG_FileFormat: 2026-11-25T17:47:44.123456+00:00 host tag: msg
    assert!(
        first.len() > 20 && first.as_bytes()[10] == b'T',
        "not RFC 3339: {first}"
    );
}

/// The snapshot of each auth log counts every failure per address and flags the
/// addresses at or over the threshold (3), whichever timestamp style the file has.
#[test]
fn sshd_snapshot_counts_every_failure() {
    if harness::skip_unless(&["sshd", "rsyslogd", "sshpass", "ssh", "ssh-keygen"]) {
        return;
    }
    let scene = scene();
    // An empty access log (a glob matching nothing would be a source that
    // could not be read: exit 1).
    let no_access_logs = scene.dir.path().join("empty-access.log");
    std::fs::write(&no_access_logs, "").unwrap();
    for file in scene.syslog.files() {
        let args: [Arg; 7] = [
            &"--once",
            &"--from-start",
            &"--show-private-ips",
            &"--auth-log-path",
            &file,
            &"--log-path",
            &no_access_logs,
        ];
        let snap = harness::snapshot(&args);
        let all = failures_by_ip(&harness::read_or_empty(file));
        for (ip, &failures) in &scene.expect {
            let row = snap.ip(ip);
            assert_eq!(
                num(row, "auth_failures"),
                failures,
                "{}: {row}",
                file.display()
            );
            assert_eq!(num(row, "auth_accepted"), 0, "{row}");
            let want: &[&str] = if failures >= 3 {
                &["auth_failures"]
            } else {
                &[]
            };
            assert_reasons(row, want);
        }
        assert!(
            !snap.ips.contains_key(FORGED_IP),
            "forged address got a row"
        );
        let total: u64 = all.values().sum();
        assert_eq!(
            num(&snap.summary, "auth_failures"),
            total,
            "{}",
            snap.summary
        );
        let source = snap.source(file);
        assert!(source["error"].is_null(), "{source}");
    }
}

/// Polls the sshd log and the event stream together until `event` has
/// arrived; returns how long after the log first held `logged` lines
/// matching `line` it was seen (at the poll's resolution, a few ms).
fn lag(
    run: &EventRun,
    log: &Path,
    line: &str,
    logged: usize,
    event: impl Fn(&Value) -> bool,
) -> Duration {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut in_log = None;
    loop {
        let now = Instant::now();
        if in_log.is_none() && harness::read_or_empty(log).matches(line).count() >= logged {
            in_log = Some(now);
        }
        if run.events().iter().any(&event) {
            return now - in_log.unwrap_or(now);
        }
        assert!(now < deadline, "no event for {line:?}: {:#?}", run.events());
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Issue 14's end-to-end test: a real sshd logging through rsyslog, a brute
/// forcer (sshpass) failing `min_auth_failures` (3) times and then logging in
/// with the right password. `nethergaze --events` on the auth log prints
/// `suspicious` with `auth_failures`, then `suspicious` with `breach`, then
/// `auth` with `after_failures` 3, in that order. How long after sshd's line
/// each arrived is measured and printed, not asserted.
#[test]
fn sshd_brute_force_then_login_is_a_breach_on_the_event_stream() {
    if harness::skip_unless(&[
        "sshd",
        "rsyslogd",
        "sshpass",
        "ssh",
        "ssh-keygen",
        "unshare",
    ]) {
        return;
    }
    let dir = harness::tempdir();
    let syslog = Syslog::start(dir.path());
    let account = Account::create(dir.path());
    let sshd = Sshd::start_with(dir.path(), &syslog, Some(&account));
    let access = dir.path().join("empty-access.log");
    fs::write(&access, "").unwrap();
    let proc = dir.path().join("proc");
    fs::create_dir_all(proc.join("net")).unwrap();
    for name in ["tcp", "tcp6"] {
        fs::write(
            proc.join("net").join(name),
            "  sl  local_address rem_address   st\n",
        )
        .unwrap();
    }
    let args: [Arg; 7] = [
        &"--show-private-ips",
        &"--auth-log-path",
        &syslog.traditional,
        &"--log-path",
        &access,
        &"--proc-root",
        &proc,
    ];
    let run = EventRun::start(dir.path(), &args);
    run.wait_open(&syslog.traditional);
    let brute = lo(31).to_string();
    let failed = format!("Failed password for {ACCOUNT} from {brute} ");
    let attempts = 3;
    for _ in 1..attempts {
        assert!(
            sshd.fail_login(31, ACCOUNT),
            "the wrong password reached sshd"
        );
    }
    // The last failure and the login run while the log and the stream are
    // watched, so the lag is measured from the moment sshd's line lands.
    let failures_lag = std::thread::scope(|s| {
        let attempt = s.spawn(|| sshd.fail_login(31, ACCOUNT));
        let lag = lag(&run, &syslog.traditional, &failed, attempts, |e| {
            e["ip"] == brute.as_str() && e["new_reasons"] == serde_json::json!(["auth_failures"])
        });
        assert!(attempt.join().unwrap(), "the wrong password reached sshd");
        lag
    });
    let accepted = format!("Accepted password for {ACCOUNT} from {brute} ");
    let breach_lag = std::thread::scope(|s| {
        let login = s.spawn(|| sshd.login(31, ACCOUNT, SECRET));
        let lag = lag(&run, &syslog.traditional, &accepted, 1, |e| {
            e["ip"] == brute.as_str() && e["type"] == "auth"
        });
        let out = login.join().unwrap();
        assert!(out.status.success(), "the right password: {out:?}");
        lag
    });
    eprintln!(
        "event stream lag after sshd's line (via rsyslog): auth_failures {failures_lag:?}, \
         breach and auth {breach_lag:?}"
    );
    let events = run.stop();
    let seen: Vec<String> = events
        .iter()
        .filter(|e| e["ip"] == brute.as_str())
        .map(describe)
        .collect();
    assert_eq!(
        seen,
        [
            format!("suspicious {brute} +auth_failures"),
            format!("suspicious {brute} +breach"),
            format!("auth {brute} after 3"),
        ],
        "{events:#?}"
    );
    let breach = events
        .iter()
        .find(|e| e["new_reasons"][0] == "breach")
        .unwrap();
    assert_eq!(
        breach["reasons"],
        serde_json::json!(["breach", "auth_failures"])
    );
    assert_eq!(breach["auth_failures"], 3);
    let login = events.iter().find(|e| e["type"] == "auth").unwrap();
    assert_eq!(login["user"], ACCOUNT);
}
