//! Which log files are opened, and how many: symlinks a glob matches are not followed
//! (issue 9 §10), and a glob matching more logs than the process may hold open neither
//! stops the start nor starves the socket source (issue 9 §5).

use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::Path;

use serde_json::Value;

use super::harness::{self, num, Live, Snapshot};

/// The /proc fixture: fixed sockets, so real ones on this machine don't show up.
const PROC_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/proc");

/// One combined-format line from 45.33.(n / 250).(1 + n % 250), in 2023.
fn line(n: usize) -> String {
    format!(
        "45.33.{}.{} - - [10/Oct/2023:13:00:00 +0000] \"GET /{n} HTTP/1.1\" 200 100 \"-\" \"files-test\"\n",
        n / 250,
        1 + n % 250
    )
}

fn sources<'a>(snap: &'a Snapshot, kind: &str) -> Vec<&'a Value> {
    let all = snap.summary["sources"].as_array().unwrap();
    all.iter().filter(|s| s["kind"] == kind).collect()
}

fn once(log_path: &Path, extra: &[&dyn AsRef<std::ffi::OsStr>]) -> Snapshot {
    let mut args: Vec<harness::Arg> = vec![&"--once", &"--from-start", &"--log-path", &log_path];
    args.extend_from_slice(&[&"--no-auth-log", &"--proc-root", &PROC_ROOT]);
    args.extend_from_slice(extra);
    harness::snapshot(&args)
}

#[test]
fn a_symlink_a_glob_matches_is_skipped_but_a_named_one_is_followed() {
    let dir = harness::tempdir();
    let elsewhere = harness::tempdir();
    let secret = elsewhere.path().join("secret");
    fs::write(&secret, line(1)).unwrap();
    fs::write(dir.path().join("real.log"), line(2)).unwrap();
    let evil = dir.path().join("evil.log");
    symlink(&secret, &evil).unwrap();
    // The case of the issue: a link to a file only root may read.
    let shadow = dir.path().join("shadow.log");
    symlink("/etc/shadow", &shadow).unwrap();

    let snap = once(&dir.path().join("*.log"), &[]);
    assert_eq!(num(&snap.summary, "lines"), 1, "{}", snap.summary);
    for link in [&evil, &shadow] {
        let source = snap.source(link);
        assert_eq!(num(source, "lines"), 0, "{source}");
        let note = source["note"].as_str().unwrap_or_default();
        assert!(note.contains("symlink"), "{source}");
    }

    // Named exactly, the operator chose it: followed.
    let named = once(&evil, &[]);
    assert_eq!(num(named.source(&evil), "lines"), 1, "{}", named.summary);

    // `[log] follow_symlinks = true` follows the links a glob matches.
    let config = dir.path().join("nethergaze.toml");
    fs::write(&config, "[log]\nfollow_symlinks = true\n").unwrap();
    let followed = once(&dir.path().join("[er]*.log"), &[&"--config", &config]);
    assert_eq!(
        num(followed.source(&evil), "lines"),
        1,
        "{}",
        followed.summary
    );
    assert_eq!(num(&followed.summary, "lines"), 2, "{}", followed.summary);
}

/// The soft limit of `pid`'s open files, from /proc/PID/limits.
fn soft_nofile(pid: u32) -> u64 {
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let row = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    row.split_whitespace().nth(3).unwrap().parse().unwrap()
}

#[test]
fn more_logs_than_descriptors_neither_stop_the_start_nor_the_sockets() {
    if harness::skip_unless(&["prlimit"]) {
        return;
    }
    const LOGS: usize = 300;
    const LATER: usize = 40;
    let dir = harness::tempdir();
    for n in 0..LOGS {
        fs::write(dir.path().join(format!("site{n:03}.log")), line(n)).unwrap();
    }
    let glob = dir.path().join("*.log");
    // Soft 64 would not even hold the event loop's fds next to 300 logs; the
    // hard limit of 256 does, less the reserve, for most of them.
    let mut live = Live::start_with_nofile(
        "64:256",
        &[
            &"--for",
            &"300s",
            &"--from-start",
            &"--log-path",
            &glob,
            &"--no-auth-log",
            &"--proc-root",
            &PROC_ROOT,
        ],
    );
    live.wait_ready(&[&dir.path().join("site000.log")]);
    assert_eq!(soft_nofile(live.pid()), 256, "the soft limit is raised");
    // Files that appear later find no room either; the sockets keep theirs.
    for n in LOGS..LOGS + LATER {
        fs::write(dir.path().join(format!("site{n:03}.log")), line(n)).unwrap();
    }
    let last = dir.path().join(format!("site{:03}.log", LOGS + LATER - 1));
    // A line written after them is read in the same pass as their creation.
    let first = dir.path().join("site000.log");
    let mut log = fs::OpenOptions::new().append(true).open(&first).unwrap();
    log.write_all(line(0).as_bytes()).unwrap();
    live.wait_caught_up(&first);
    // A tick or two, so the socket reader runs with every later file known.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    // Logs not followed are logs not read: exit 1, each on stderr.
    let snap = live.stop_incomplete();

    let sockets = sources(&snap, "sockets");
    assert_eq!(sockets.len(), 1, "{}", snap.summary);
    assert_eq!(sockets[0]["error"], Value::Null, "{}", snap.summary);
    assert!(num(&snap.summary, "connections") > 0, "{}", snap.summary);

    let logs = sources(&snap, "access");
    assert_eq!(logs.len(), LOGS + LATER, "{}", snap.summary);
    let (read, skipped): (Vec<&Value>, Vec<&Value>) =
        logs.iter().partition(|s| s["error"].is_null());
    assert!(read.len() >= LOGS / 2, "{} followed", read.len());
    assert!(!skipped.is_empty(), "all {} followed", logs.len());
    for source in &skipped {
        let error = source["error"].as_str().unwrap();
        assert!(error.starts_with("not followed"), "{source}");
        assert_eq!(num(source, "lines"), 0, "{source}");
    }
    let lines: u64 = read.iter().map(|s| num(s, "lines")).sum();
    assert_eq!(
        lines,
        read.len() as u64 + 1,
        "one line each, two in site000.log"
    );
    let later = snap.source(&last);
    assert!(
        later["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("not followed")),
        "{later}"
    );
    assert_eq!(num(&snap.summary, "lines"), lines);
}

/// Whoever may write a log can grow it by gigabytes at once (`truncate -s 16G`: NUL
/// bytes, no lines). The loop reads it in bounded passes with signals served in
/// between, so SIGTERM still ends the run with its snapshot; before, one read went
/// to the end (about 40 s for 16 GiB in a release build, SIGTERM waiting). The bound
/// below is about ending at all while the NULs last, not speed.
#[test]
fn a_log_grown_by_gigabytes_does_not_hold_up_sigterm() {
    let dir = harness::tempdir();
    let log = dir.path().join("access.log");
    fs::write(&log, "").unwrap();
    let mut live = Live::start(&[
        &"--for",
        &"120s",
        &"--log-path",
        &log,
        &"--no-auth-log",
        &"--proc-root",
        &PROC_ROOT,
    ]);
    live.wait_ready(&[&log]);
    // Sparse: no disk used.
    fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(16 << 30)
        .unwrap();
    let pid = live.pid();
    // Reading has begun (its offset moved), and it is far from done.
    live.wait_for("nethergaze to start on the NULs", |pid| {
        harness::open_fd(pid, &log)
            .and_then(|fd| harness::fd_pos(pid, fd))
            .is_some_and(|pos| pos > 0)
    });
    let started = std::time::Instant::now();
    let snap = live.stop();
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(15),
        "SIGTERM took {took:?} to end pid {pid}"
    );
    let source = snap.source(&log);
    assert_eq!(source["error"], Value::Null, "{source}");
}

/// `--log-path /var/log/nginx/*/access.log` (issue 12 item 14, as 0.2.0's
/// `glob.glob`): a vhost directory made after start, then its access.log, are
/// followed live and their lines counted, by the real binary.
#[test]
fn a_new_vhost_directory_is_followed_live() {
    let dir = harness::tempdir();
    fs::create_dir(dir.path().join("a.com")).unwrap();
    let old = dir.path().join("a.com/access.log");
    fs::write(&old, line(1)).unwrap();
    let glob = dir.path().join("*/access.log");
    let mut live = Live::start(&[
        &"--for",
        &"120s",
        &"--log-path",
        &glob,
        &"--no-auth-log",
        &"--proc-root",
        &PROC_ROOT,
    ]);
    live.wait_ready(&[&old]);
    fs::create_dir(dir.path().join("b.com")).unwrap();
    let new = dir.path().join("b.com/access.log");
    let mut file = fs::File::create(&new).unwrap();
    for n in 2..5 {
        file.write_all(line(n).as_bytes()).unwrap();
    }
    live.wait_for("nethergaze to open b.com/access.log", |pid| {
        harness::open_fd(pid, &new).is_some()
    });
    live.wait_caught_up(&new);
    let snap = live.stop();
    assert_eq!(num(snap.source(&new), "lines"), 3, "{}", snap.summary);
    assert_eq!(num(snap.source(&old), "lines"), 0, "read from its end");
    assert_eq!(num(&snap.summary, "lines"), 3, "{}", snap.summary);
}
