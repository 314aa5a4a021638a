//! Two instances on one history file (issue 9, item 4). The snapshot at exit has no
//! next time, so it waits (bounded) for the other instance's write lock instead of
//! dropping the session; when the lock outlasts the wait, stderr, the summary and
//! the exit status say the session was lost.
//!
//! "The other instance" is either this test process holding a write transaction on
//! the same file (so when the lock is taken and released is under the test's
//! control), or a second nethergaze.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;

use nethergaze::store::{BUSY_TIMEOUT, EXIT_BUSY_TIMEOUT};
use rusqlite::Connection;

use super::harness::{self, wait_until, Output, Running, Snapshot, READY_TIMEOUT, RUN_TIMEOUT};

/// Distinct client addresses in a generated log.
const ADDRESSES: u32 = 2000;

/// A combined-format log with one request from each of `n` public addresses,
/// `45.<first>.x.y` upwards.
fn write_log(path: &Path, first: u32, n: u32) {
    let mut text = String::new();
    for i in first..first + n {
        text.push_str(&format!(
            "45.{}.{}.{} - - [06/Dec/2026:10:00:00 +0000] \"GET /p HTTP/1.1\" 200 10 \"-\" \"curl/8\"\n",
            (i >> 16) & 255,
            (i >> 8) & 255,
            i & 255
        ));
    }
    fs::write(path, text).unwrap();
}

/// nethergaze over `log` from its start, history in `db`, sockets from the fixture.
fn nethergaze(db: &Path, log: &Path) -> Command {
    let mut cmd = harness::nethergaze();
    let root = env!("CARGO_MANIFEST_DIR");
    cmd.args([
        "--json",
        "--no-geoip",
        "--no-whois",
        "--no-auth-log",
        "--from-start",
    ])
    .arg("--proc-root")
    .arg(format!("{root}/tests/data/proc"))
    .arg("--log-path")
    .arg(log)
    .arg("--history-db")
    .arg(db);
    cmd
}

/// True while the process sleeps in nanosleep: SQLite's busy handler, waiting
/// for the lock (nothing else in a headless run sleeps that way).
fn in_nanosleep(pid: u32) -> bool {
    let wchan = fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    matches!(wchan.trim(), "hrtimer_nanosleep" | "do_nanosleep")
}

/// A `--for` run that has read its log and is idle, then this process takes the
/// history file's write lock and asks nethergaze to end: its snapshot at exit
/// meets the lock. Returns the run and the locking connection (its transaction
/// open), once nethergaze is seen waiting.
fn exit_into_a_held_lock(db: &Path, log: &Path) -> (Running, Connection) {
    let mut cmd = nethergaze(db, log);
    cmd.args(["--for", "300s"]);
    let run = Running::spawn(cmd);
    let pid = run.pid();
    wait_until("nethergaze to start and idle", READY_TIMEOUT, || {
        harness::in_epoll_wait(pid)
    });
    let holder = Connection::open(db).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    run.signal(libc::SIGTERM);
    wait_until(
        "the snapshot at exit to wait for the lock",
        READY_TIMEOUT,
        || in_nanosleep(pid),
    );
    (run, holder)
}

/// `(id, ips, last_seen)` of every session, oldest first.
fn sessions(db: &Path) -> Vec<(i64, i64, Option<i64>)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT id, ips, last_seen FROM sessions ORDER BY id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

/// `(addresses, sum of their sessions, sum of their requests)` in the file.
fn totals(db: &Path) -> (i64, i64, i64) {
    let conn = Connection::open(db).unwrap();
    conn.query_row(
        "SELECT count(*), coalesce(sum(sessions), 0), coalesce(sum(requests), 0) FROM ips",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .unwrap()
}

/// Status, stderr and the summary line: the ip lines are thousands.
fn brief(out: &Output) -> String {
    let summary = out.stdout.lines().last().unwrap_or_default();
    format!(
        "{:?}, stderr {:?}, summary {summary}",
        out.status, out.stderr
    )
}

fn history_error(snap: &Snapshot, db: &Path) -> String {
    snap.source(db)["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn paths(dir: &Path) -> (PathBuf, PathBuf) {
    let log = dir.join("access.log");
    write_log(&log, 0, ADDRESSES);
    (dir.join("history.db"), log)
}

#[test]
fn a_lock_released_within_the_wait_still_saves_the_session() {
    let dir = harness::tempdir();
    let (db, log) = paths(dir.path());
    let (mut run, holder) = exit_into_a_held_lock(&db, &log);
    // Another instance's long snapshot: held ten times what a snapshot during
    // the run waits, well inside the wait at exit. Then the lock goes while
    // nethergaze waits.
    thread::sleep(BUSY_TIMEOUT * 10);
    assert!(BUSY_TIMEOUT * 10 < EXIT_BUSY_TIMEOUT);
    holder.execute_batch("ROLLBACK").unwrap();
    let out = run.finish(RUN_TIMEOUT);
    let snap = Snapshot::parse(&out.stdout);
    let ips = i64::try_from(harness::num(&snap.summary, "ips")).unwrap();
    assert!(ips >= i64::from(ADDRESSES), "{}", brief(&out));
    // The file holds the whole session, its end included.
    let all = sessions(&db);
    assert_eq!(all.len(), 1, "{all:?}");
    let (_, session_ips, end) = all[0];
    assert_eq!(session_ips, ips, "every address of the session: {all:?}");
    assert!(end.is_some(), "the session row has its end: {all:?}");
    let (addresses, counted, requests) = totals(&db);
    assert_eq!((addresses, counted), (ips, ips));
    assert_eq!(requests, i64::from(ADDRESSES));
    // And the run says all is well.
    assert!(out.status.success(), "{}", brief(&out));
    assert!(out.stderr.is_empty(), "{}", brief(&out));
    assert_eq!(snap.summary["history_saved"], true, "{}", brief(&out));
    assert_eq!(history_error(&snap, &db), "");
}

#[test]
fn a_lock_held_past_the_wait_is_reported_and_exits_1() {
    let dir = harness::tempdir();
    let (db, log) = paths(dir.path());
    let (mut run, holder) = exit_into_a_held_lock(&db, &log);
    // Held until nethergaze has given up.
    let out = run.finish(RUN_TIMEOUT);
    holder.execute_batch("ROLLBACK").unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", brief(&out));
    let snap = Snapshot::parse(&out.stdout);
    let ips = harness::num(&snap.summary, "ips");
    let said = format!(
        "history: {} was locked by another instance for {} s at exit; this session \
         ({ips} addresses) was not saved",
        db.display(),
        EXIT_BUSY_TIMEOUT.as_secs()
    );
    assert_eq!(out.stderr, format!("nethergaze: {said}\n"));
    assert_eq!(snap.summary["history_saved"], false, "{}", snap.summary);
    assert_eq!(history_error(&snap, &db), said);
    // What the file holds: the session's start (written at open), no end, no rows.
    let all = sessions(&db);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!((all[0].1, all[0].2), (0, None), "{all:?}");
    assert_eq!(totals(&db), (0, 0, 0));
}

/// The case: two instances end at the same moment on one file, each
/// with a table big enough that its snapshot holds the lock for a while. Both
/// sessions are saved, whoever waits.
#[test]
fn two_instances_ending_together_both_keep_their_session() {
    let dir = harness::tempdir();
    let db = dir.path().join("history.db");
    let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    // Half the addresses in both logs, half only in one.
    write_log(&a, 0, 20_000);
    write_log(&b, 10_000, 20_000);
    let mut runs: Vec<Running> = [&a, &b]
        .into_iter()
        .map(|log| {
            let mut cmd = nethergaze(&db, log);
            cmd.arg("--once");
            Running::spawn(cmd)
        })
        .collect();
    let outs: Vec<Output> = runs.iter_mut().map(|r| r.finish(RUN_TIMEOUT)).collect();
    let snaps: Vec<Snapshot> = outs.iter().map(|o| Snapshot::parse(&o.stdout)).collect();
    let ips: u64 = snaps.iter().map(|s| harness::num(&s.summary, "ips")).sum();
    for (out, snap) in outs.iter().zip(&snaps) {
        assert!(out.status.success(), "{}", brief(out));
        assert_eq!(snap.summary["history_saved"], true, "{}", snap.summary);
    }
    let all = sessions(&db);
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all.iter().all(|s| s.2.is_some()), "both ended: {all:?}");
    let written: i64 = all.iter().map(|s| s.1).sum();
    assert_eq!(u64::try_from(written).unwrap(), ips);
    let (_, counted, requests) = totals(&db);
    assert_eq!(u64::try_from(counted).unwrap(), ips, "each session once");
    assert_eq!(requests, 40_000);
}
