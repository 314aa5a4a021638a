//! The journald source against a real journal: `systemd-journal-remote` writes a
//! journal file from sshd entries in journal export format (as OpenSSH logs them:
//! `_COMM=sshd` before 9.8, `sshd-session` after), and nethergaze reads it through the
//! real `journalctl --directory` (`[auth] journal_directory`, as for a rescued
//! system's `/var/log/journal`). `--once --from-start` must count every failure and
//! every accepted login per address, and so must `--for --from-start` (journalctl
//! `-f --no-tail`); without `--from-start` `--once` reads nothing, as for a file; a
//! message with an embedded newline must not forge an address.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use super::harness::{self, assert_reasons, num, Arg, Live, Snapshot};

/// Where Debian (and others) put the journal-remote binary: not on `PATH`.
const JOURNAL_REMOTE: [&str; 2] = [
    "/lib/systemd/systemd-journal-remote",
    "/usr/lib/systemd/systemd-journal-remote",
];

/// Fails three times (invalid user: two counted lines each) as `sshd-session`.
const GUESSER: &str = "198.51.100.7";
/// Logs in with a key as `sshd` (OpenSSH before 9.8), after one failed password.
const OPERATOR: &str = "203.0.113.9";
/// Fails once over IPv6.
const V6: &str = "2001:db8::5";
/// The address a user name with a newline tries to forge.
const FORGED: &str = "192.0.2.66";

/// One sshd journal entry.
struct Entry {
    comm: &'static str,
    pid: u32,
    message: String,
}

fn entry(comm: &'static str, pid: u32, message: &str) -> Entry {
    Entry {
        comm,
        pid,
        message: message.to_owned(),
    }
}

/// What an sshd host logs: failures, a login and the lines around them that are
/// not counted.
fn entries() -> Vec<Entry> {
    let mut all = Vec::new();
    for (i, port) in [40_001, 40_002, 40_003].into_iter().enumerate() {
        let pid = 1000 + i as u32;
        all.push(entry(
            "sshd-session",
            pid,
            &format!("Invalid user admin from {GUESSER} port {port}"),
        ));
        all.push(entry(
            "sshd-session",
            pid,
            &format!("Failed password for invalid user admin from {GUESSER} port {port} ssh2"),
        ));
        all.push(entry(
            "sshd-session",
            pid,
            &format!("Connection closed by invalid user admin {GUESSER} port {port} [preauth]"),
        ));
    }
    all.push(entry(
        "sshd",
        2000,
        &format!("Failed password for root from {OPERATOR} port 50000 ssh2"),
    ));
    all.push(entry(
        "sshd",
        2000,
        &format!("Accepted publickey for root from {OPERATOR} port 50000 ssh2: ED25519 SHA256:x"),
    ));
    all.push(entry(
        "sshd",
        2000,
        "pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)",
    ));
    all.push(entry(
        "sshd-session",
        3000,
        &format!("Failed password for bob from {V6} port 50001 ssh2"),
    ));
    // journalctl prints the part after the newline on its own, indented line.
    all.push(entry(
        "sshd-session",
        4000,
        &format!(
            "Failed password for invalid user x\nFailed password for root from {FORGED} port 22 ssh2"
        ),
    ));
    all
}

/// The entries in journal export format (binary form for a message with a newline).
fn export(entries: &[Entry]) -> Vec<u8> {
    let now_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros();
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let n = entries.len() - i;
        // A few seconds ago, oldest first: recent, so rates and windows see them.
        let realtime = now_us - (n as u128) * 100_000;
        let monotonic = 1_000_000 + i;
        write!(
            out,
            "__REALTIME_TIMESTAMP={realtime}\n__MONOTONIC_TIMESTAMP={monotonic}\n\
             _BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=rescued\n\
             _TRANSPORT=syslog\nSYSLOG_FACILITY=10\nPRIORITY=6\n_UID=0\n\
             _COMM={comm}\n_EXE=/usr/sbin/{comm}\nSYSLOG_IDENTIFIER={comm}\n_PID={pid}\n",
            comm = e.comm,
            pid = e.pid,
        )
        .unwrap();
        if e.message.contains('\n') {
            out.extend_from_slice(b"MESSAGE\n");
            out.extend_from_slice(&(e.message.len() as u64).to_le_bytes());
            out.extend_from_slice(e.message.as_bytes());
            out.extend_from_slice(b"\n\n");
        } else {
            writeln!(out, "MESSAGE={}\n", e.message).unwrap();
        }
    }
    out
}

/// Skips like [`harness::skip_unless`] when journalctl or journal-remote is missing;
/// no root needed (the journal is ours).
fn journal_remote() -> Option<PathBuf> {
    if harness::which("journalctl").is_none() {
        skip_or_fail("journalctl not installed");
        return None;
    }
    let found = JOURNAL_REMOTE
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        skip_or_fail("systemd-journal-remote not installed");
    }
    found
}

fn skip_or_fail(reason: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(!ci, "CI=true but {reason}");
    eprintln!("SKIP: {reason}");
}

/// Writes `entries` into `dir/remote.journal` with the real journal-remote.
fn write_journal(remote: &Path, dir: &Path, entries: &[Entry]) {
    let mut cmd = Command::new(remote);
    cmd.arg(format!("--output={}", dir.join("remote.journal").display()))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&export(entries))
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "journal-remote: {out:?}");
}

/// What the real journalctl prints for sshd from `dir`: the oracle's input.
fn journalctl_text(dir: &Path) -> String {
    let mut cmd = Command::new(harness::bin("journalctl"));
    cmd.arg("--directory").arg(dir);
    cmd.args([
        "-a",
        "-q",
        "-o",
        "short-iso",
        "_COMM=sshd",
        "_COMM=sshd-session",
    ]);
    let out = harness::run_cmd(cmd);
    assert!(out.status.success(), "journalctl: {out:?}");
    out.stdout
}

/// A journal directory written by journal-remote, and a config file that points
/// nethergaze's journald source at it.
struct Scene {
    dir: tempfile::TempDir,
}

impl Scene {
    fn new(remote: &Path) -> Scene {
        let dir = harness::tempdir();
        fs::create_dir(dir.path().join("journal")).unwrap();
        write_journal(remote, &dir.path().join("journal"), &entries());
        fs::write(dir.path().join("empty.log"), "").unwrap();
        let config = format!(
            "[auth]\nsource = \"journald\"\njournal_directory = \"{}\"\n",
            dir.path().join("journal").display()
        );
        fs::write(dir.path().join("config.toml"), config).unwrap();
        Scene { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `--once` over the journal (and an empty access log), plus `extra` flags.
    fn once(&self, extra: &[Arg]) -> Snapshot {
        let (config, empty) = (self.path("config.toml"), self.path("empty.log"));
        let mut args: Vec<Arg> = vec![&"--once", &"--show-private-ips", &"--config", &config];
        args.extend_from_slice(&[&"--log-path", &empty]);
        args.extend_from_slice(extra);
        harness::snapshot(&args)
    }
}

/// The journal holds what was exported: the peer works as the test assumes.
#[test]
fn journal_remote_writes_what_journalctl_reads() {
    let Some(remote) = journal_remote() else {
        return;
    };
    let scene = Scene::new(&remote);
    let text = journalctl_text(&scene.path("journal"));
    assert!(
        text.contains(&format!(
            "sshd-session[1000]: Failed password for invalid user admin from {GUESSER} port 40001 ssh2"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "sshd[2000]: Accepted publickey for root from {OPERATOR}"
        )),
        "{text}"
    );
    // The newline is printed as a continuation line of its own.
    let forged = text.lines().find(|l| l.contains(FORGED)).unwrap();
    assert!(forged.starts_with(' '), "{forged:?}");
    assert_eq!(text.lines().count(), entries().len() + 1, "{text}");
}

/// `--once --from-start` counts every failure and login in the real journal.
#[test]
fn journald_once_counts_failures_and_logins_from_a_real_journal() {
    let Some(remote) = journal_remote() else {
        return;
    };
    let scene = Scene::new(&remote);
    let from_start: [Arg; 1] = [&"--from-start"];
    assert_counted(&scene.once(&from_start));
}

/// `--for --from-start` follows the journal (`journalctl -f --no-tail`): the entries
/// already there are counted, once.
#[test]
fn journald_follow_from_start_counts_the_journal() {
    let Some(remote) = journal_remote() else {
        return;
    };
    let scene = Scene::new(&remote);
    let (config, empty) = (scene.path("config.toml"), scene.path("empty.log"));
    let args: [Arg; 8] = [
        &"--for",
        &"300s",
        &"--from-start",
        &"--show-private-ips",
        &"--config",
        &config,
        &"--log-path",
        &empty,
    ];
    let mut live = Live::start(&args);
    live.wait_for(
        "journalctl to print the journal and nethergaze to read it",
        settled,
    );
    assert_counted(&live.stop());
}

/// True when nethergaze's journalctl child waits for new entries and nethergaze
/// waits in `epoll_wait`, twice in a row: all journalctl printed has been read.
fn settled(pid: u32) -> bool {
    let idle = || {
        let children =
            fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        let journalctl_waits = children.split_whitespace().any(|child| {
            let proc =
                |f: &str| fs::read_to_string(format!("/proc/{child}/{f}")).unwrap_or_default();
            proc("comm").trim() == "journalctl" && proc("wchan").contains("poll")
        });
        journalctl_waits && harness::in_epoll_wait(pid)
    };
    idle() && {
        std::thread::sleep(std::time::Duration::from_millis(50));
        idle()
    }
}

/// The rows, totals and source of a snapshot of the whole journal.
fn assert_counted(snap: &Snapshot) {
    let guesser = snap.ip(GUESSER);
    assert_eq!(num(guesser, "auth_failures"), 6, "{guesser}");
    assert_eq!(num(guesser, "auth_accepted"), 0, "{guesser}");
    assert_reasons(guesser, &["auth_failures"]);
    let operator = snap.ip(OPERATOR);
    assert_eq!(num(operator, "auth_failures"), 1, "{operator}");
    assert_eq!(num(operator, "auth_accepted"), 1, "{operator}");
    assert_reasons(operator, &[]);
    let v6 = snap.ip(V6);
    assert_eq!(num(v6, "auth_failures"), 1, "{v6}");
    assert!(
        !snap.ips.contains_key(FORGED),
        "a newline in a message forged a row"
    );
    assert_eq!(num(&snap.summary, "auth_failures"), 8, "{}", snap.summary);

    let source = snap.source(Path::new("journald"));
    // Every line journalctl printed reached the parser (the continuation too).
    assert_eq!(num(source, "lines"), entries().len() as u64 + 1, "{source}");
    assert!(source["error"].is_null(), "{source}");
}

/// Without `--from-start`, `--once` reads the journal from its end, as it reads a
/// file: nothing, and no error.
#[test]
fn journald_once_without_from_start_reads_nothing() {
    let Some(remote) = journal_remote() else {
        return;
    };
    let scene = Scene::new(&remote);
    let snap = scene.once(&[]);
    for ip in [GUESSER, OPERATOR, V6] {
        assert!(
            !snap.ips.contains_key(ip),
            "{ip} counted from before the start"
        );
    }
    let source = snap.source(Path::new("journald"));
    assert_eq!(num(source, "lines"), 0, "{source}");
    assert!(source["error"].is_null(), "{source}");
}
