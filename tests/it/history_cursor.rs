//! History counts every log line at most once (issue 11, item 4), as the real
//! binary runs from cron: headless runs over one growing log share a history
//! file. `--from-start` runs show every line in their snapshot but add only the
//! new ones to the lifetime totals; `--resume` runs read each line once, across
//! appends and rotations by the real `logrotate` (create, then copytruncate),
//! and start over on a log replaced by another file.
//!
//! Each phase writes from its own client address, so a per-address count
//! shows which lines a run read and what history kept.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use rusqlite::Connection;

use super::harness::{self, num, Running, Snapshot};

const RUN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The client of phase `n`: a global address (private ones are hidden).
fn client(n: u8) -> String {
    format!("81.2.69.{n}")
}

/// `count` combined-format lines from phase `n`'s client.
fn lines(n: u8, count: usize) -> String {
    (0..count)
        .map(|i| {
            format!(
                "{} - - [06/Dec/2026:10:00:{:02} +0000] \"GET /p{n}/{i} HTTP/1.1\" 200 100 \"-\" \"curl/8\"\n",
                client(n),
                i % 60
            )
        })
        .collect()
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

struct Rig {
    dir: tempfile::TempDir,
}

impl Rig {
    fn new() -> Rig {
        Rig {
            dir: harness::tempdir(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn log(&self) -> PathBuf {
        self.path("access.log")
    }

    fn db(&self) -> PathBuf {
        self.path("history.db")
    }

    /// `nethergaze --once --json MODE` over the log, history in the rig's file.
    fn run(&self, mode: &str) -> Snapshot {
        let mut cmd = harness::nethergaze();
        let root = env!("CARGO_MANIFEST_DIR");
        cmd.args([
            "--once",
            "--json",
            "--no-geoip",
            "--no-whois",
            "--no-auth-log",
        ])
        .arg(mode)
        .arg("--log-format")
        .arg("combined")
        .arg("--proc-root")
        .arg(format!("{root}/tests/data/proc"))
        .arg("--log-path")
        .arg(self.log())
        .arg("--history-db")
        .arg(self.db());
        let out = Running::spawn(cmd).finish(RUN_TIMEOUT);
        assert!(out.status.success(), "nethergaze {mode}: {out:?}");
        let snap = Snapshot::parse(&out.stdout);
        assert_eq!(snap.summary["history_saved"], true, "{}", snap.summary);
        snap
    }

    /// Lifetime requests of phase `n`'s client (0: never written).
    fn lifetime(&self, n: u8) -> i64 {
        let conn = Connection::open(self.db()).unwrap();
        conn.query_row(
            "SELECT coalesce(sum(requests), 0) FROM ips WHERE ip = ?1",
            [client(n)],
            |r| r.get(0),
        )
        .unwrap()
    }

    /// Runs logrotate -f with `rule` on the log.
    fn logrotate(&self, rule: &str) {
        let conf = self.path("logrotate.conf");
        let text = format!(
            "{} {{\n{rule}  rotate 3\n  missingok\n}}\n",
            self.log().display()
        );
        fs::write(&conf, text).unwrap();
        let mut cmd = Command::new(harness::bin("logrotate"));
        cmd.arg("-f").arg("-s").arg(self.path("state")).arg(&conf);
        let out = harness::run_cmd(cmd);
        assert!(out.status.success(), "logrotate {rule}: {out:?}");
    }
}

/// Requests of phase `n`'s client in this run's own table (0: no row).
fn seen(snap: &Snapshot, n: u8) -> u64 {
    snap.ips
        .get(&client(n))
        .map_or(0, |row| num(row, "requests"))
}

/// The case: three `--once --json --from-start` runs over a growing log
/// gave lifetime requests 2, 4, 6. Each snapshot still shows every line.
#[test]
fn overlapping_from_start_runs_leave_lifetime_totals_equal_to_the_log() {
    let rig = Rig::new();
    append(&rig.log(), &lines(1, 2));
    for (run, more) in [(1, 0), (2, 1), (3, 0)] {
        append(&rig.log(), &lines(1, more));
        let snap = rig.run("--from-start");
        let total = harness::line_count(&rig.log()) as u64;
        let row = snap.ip(client(1));
        assert_eq!(num(row, "requests"), total, "run {run}: its own table");
        assert_eq!(
            num(&row["history"], "requests"),
            total,
            "run {run}: lifetime = lines in the log"
        );
        // A session that read nothing new is not one more session.
        let sessions = if run == 1 { 1 } else { 2 };
        assert_eq!(num(&row["history"], "sessions"), sessions, "run {run}");
    }
    assert_eq!(rig.lifetime(1), 3);
}

/// `--resume` as a cron job: every line read once, across appends, a `create`
/// rotation and a `copytruncate` one by the real logrotate (each with lines the
/// previous file got after the last run), and a run with nothing new.
#[test]
fn resume_runs_read_each_line_once_across_logrotate() {
    if harness::skip_unless(&["logrotate"]) {
        return;
    }
    let rig = Rig::new();
    append(&rig.log(), &lines(1, 2));
    let snap = rig.run("--resume");
    assert_eq!(seen(&snap, 1), 2, "the first run reads the whole log");

    append(&rig.log(), &lines(2, 3));
    let snap = rig.run("--resume");
    assert_eq!(
        (seen(&snap, 1), seen(&snap, 2)),
        (0, 3),
        "only the new lines"
    );

    append(&rig.log(), &lines(3, 1));
    rig.logrotate("  create\n");
    assert!(rig.path("access.log.1").exists());
    append(&rig.log(), &lines(4, 2));
    let snap = rig.run("--resume");
    let got: Vec<u64> = (1..=4).map(|n| seen(&snap, n)).collect();
    assert_eq!(
        got,
        [0, 0, 1, 2],
        "the rest of access.log.1, then the new log"
    );

    append(&rig.log(), &lines(5, 1));
    rig.logrotate("  copytruncate\n");
    append(&rig.log(), &lines(6, 2));
    let snap = rig.run("--resume");
    let got: Vec<u64> = (1..=6).map(|n| seen(&snap, n)).collect();
    assert_eq!(
        got,
        [0, 0, 0, 0, 1, 2],
        "the copy's rest, then the truncated log"
    );

    let snap = rig.run("--resume");
    let got: Vec<u64> = (1..=6).map(|n| seen(&snap, n)).collect();
    assert_eq!(got, [0; 6], "nothing new");
    assert_eq!(num(&snap.summary, "requests"), 0);
    let lifetime: Vec<i64> = (1..=6).map(|n| rig.lifetime(n)).collect();
    assert_eq!(lifetime, [2, 3, 1, 2, 1, 2], "each line counted once");
}

/// The log replaced by another file (another first line, no copy beside it):
/// `--resume` reads it from its start and says the old file's rest is not read;
/// a `--from-start` run after it counts nothing again.
#[test]
fn a_replaced_log_starts_over() {
    let rig = Rig::new();
    append(&rig.log(), &lines(1, 3));
    rig.run("--resume");
    let fresh = rig.path("fresh.tmp");
    append(&fresh, &lines(2, 2));
    fs::rename(&fresh, rig.log()).unwrap();
    let snap = rig.run("--resume");
    assert_eq!((seen(&snap, 1), seen(&snap, 2)), (0, 2));
    let note = snap.source(&rig.log())["note"].as_str().unwrap_or_default();
    assert!(note.contains("replaced or rotated"), "note: {note:?}");
    let snap = rig.run("--from-start");
    assert_eq!(seen(&snap, 2), 2, "shown again");
    assert_eq!((rig.lifetime(1), rig.lifetime(2)), (3, 2));
}
