//! `--since DURATION` (issue 15 item 1): the read-back through a log's rotated copies
//! (`access.log.1`, `access.log.2.gz`, … compressed by the real `gzip`) and the log
//! itself counts every line from the cut on exactly once and none before it, also when
//! the logs rotate while it runs.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use super::harness::{self, num, Live, Snapshot};

/// The /proc fixture: fixed sockets, so real ones on this machine don't show up.
const PROC_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/proc");

/// Seconds between two lines of the set. Lines sit half-way between two steps
/// of the cut, so the seconds between writing the set and the run reading the
/// clock never move a line across the cut.
const STEP: i64 = 30;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

/// `$time_local` of Unix time `t`, in UTC.
fn time_local(t: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{t}"), "+%d %m %Y %H:%M:%S"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let parts: Vec<&str> = text.split_whitespace().collect();
    let month = MONTHS[parts[1].parse::<usize>().unwrap() - 1];
    format!("{}/{month}/{}:{} +0000", parts[0], parts[2], parts[3])
}

/// One combined line at time `t` from an address of its own (`n`).
fn line(n: usize, t: &str) -> String {
    format!(
        "45.{}.{}.{} - - [{t}] \"GET /{n} HTTP/1.1\" 200 10 \"-\" \"backfill-test\"\n",
        60 + n / 62_500,
        n / 250 % 250,
        1 + n % 250
    )
}

/// A logrotate-style set in `dir`: `access.log.3.gz`, `.2.gz`, `.1` and the
/// current `access.log`, one line every `STEP` seconds over the last three hours
/// (oldest in `.3.gz`), each file's mtime its last line's time. Returns the
/// lines' times, oldest first.
fn rotated_set(dir: &Path, t0: i64) -> Vec<i64> {
    let times: Vec<i64> = (0..3 * 3600 / STEP)
        .map(|k| t0 - 3 * 3600 + k * STEP + STEP / 2)
        .collect();
    // Boundaries (seconds before t0): .3.gz 3h..2h, .2.gz 2h..50m (the cut of
    // --since 1h falls in it), .1 50m..20m (that of 30m), access.log 20m..now.
    let bounds = [3 * 3600, 2 * 3600, 50 * 60, 20 * 60, 0];
    let names = ["access.log.3", "access.log.2", "access.log.1", "access.log"];
    let mut first_line = 0;
    let stamps: Vec<String> = times.iter().map(|&t| time_local(t)).collect();
    for (k, name) in names.iter().enumerate() {
        let (from, to) = (t0 - bounds[k], t0 - bounds[k + 1]);
        let part: Vec<usize> = (0..times.len())
            .filter(|&n| times[n] >= from && times[n] < to)
            .collect();
        let text: String = part.iter().map(|&n| line(n, &stamps[n])).collect();
        first_line += part.len();
        let path = dir.join(name);
        fs::write(&path, text).unwrap();
        let last = times[*part.last().unwrap()];
        if k < 2 {
            let status = Command::new("gzip").arg(&path).status().unwrap();
            assert!(status.success());
        }
        let file = if k < 2 {
            dir.join(format!("{name}.gz"))
        } else {
            path
        };
        let touched = Command::new("touch")
            .args(["-d", &format!("@{last}")])
            .arg(&file)
            .status()
            .unwrap();
        assert!(touched.success());
    }
    assert_eq!(first_line, times.len());
    times
}

fn once_since(log: &Path, since: &str) -> Snapshot {
    harness::snapshot(&[
        &"--once",
        &"--since",
        &since,
        &"--log-path",
        &log,
        &"--no-auth-log",
        &"--proc-root",
        &PROC_ROOT,
    ])
}

fn addr(n: usize) -> String {
    format!("45.{}.{}.{}", 60 + n / 62_500, n / 250 % 250, 1 + n % 250)
}

/// The snapshot counted exactly the lines at or after `cut`, each once.
fn assert_exactly_from(snap: &Snapshot, times: &[i64], cut: i64) {
    let want: Vec<usize> = (0..times.len()).filter(|&n| times[n] >= cut).collect();
    assert_eq!(
        num(&snap.summary, "requests"),
        want.len() as u64,
        "{}",
        snap.summary
    );
    for (n, &t) in times.iter().enumerate() {
        let requests = snap.ips.get(&addr(n)).map_or(0, |ip| num(ip, "requests"));
        assert_eq!(requests, u64::from(t >= cut), "line {n} at {t}, cut {cut}");
    }
}

#[test]
fn since_reads_back_through_rotated_and_compressed_copies_exactly() {
    if harness::skip_unless(&["gzip"]) {
        return;
    }
    let dir = harness::tempdir();
    let t0 = now();
    let times = rotated_set(dir.path(), t0);
    let log = dir.path().join("access.log");
    // The cut in .2.gz: .3.gz is skipped unopened (its mtime), .2.gz decompressed
    // and read from the cut, .1 and access.log whole.
    let snap = once_since(&log, "1h");
    assert_exactly_from(&snap, &times, t0 - 3600);
    assert_eq!(num(snap.source(&log), "malformed"), 0);
    // The cut in .1: a binary search places it.
    let snap = once_since(&log, "30m");
    assert_exactly_from(&snap, &times, t0 - 1800);
    // The cut in access.log itself.
    let snap = once_since(&log, "10m");
    assert_exactly_from(&snap, &times, t0 - 600);
    // Everything: three hours and more.
    let snap = once_since(&log, "24h");
    assert_exactly_from(&snap, &times, 0);
    // `[log] since` in the config does the same as the flag.
    let config = dir.path().join("nethergaze.toml");
    fs::write(&config, "[log]\nsince = \"1h\"\n").unwrap();
    let snap = harness::snapshot(&[
        &"--once",
        &"--config",
        &config,
        &"--log-path",
        &log,
        &"--no-auth-log",
        &"--proc-root",
        &PROC_ROOT,
    ]);
    assert_exactly_from(&snap, &times, t0 - 3600);
}

#[test]
fn a_rotation_during_the_read_back_still_counts_every_line_once() {
    if harness::skip_unless(&["gzip"]) {
        return;
    }
    let dir = harness::tempdir();
    let t0 = now();
    let mut times = rotated_set(dir.path(), t0);
    let log = dir.path().join("access.log");
    // A big .1 in range, so the read-back is still on when the rotation comes.
    let big = dir.path().join("access.log.1");
    let mut text = fs::read_to_string(&big).unwrap();
    // From one address (the table's bound is not under test here).
    const BIG: usize = 400_000;
    let stamp = time_local(t0 - 45 * 60 + STEP / 2);
    let big_line = line(0, &stamp).replacen("45.60.0.1 ", "45.99.0.1 ", 1);
    text.push_str(&big_line.repeat(BIG));
    fs::write(&big, text).unwrap();
    let touched = Command::new("touch")
        .args(["-d", &format!("@{}", t0 - 20 * 60)])
        .arg(&big)
        .status()
        .unwrap();
    assert!(touched.success());
    let mut run = Live::start(&[
        &"--for",
        &"60s",
        &"--since",
        &"1h",
        &"--log-path",
        &log,
        &"--no-auth-log",
        &"--proc-root",
        &PROC_ROOT,
    ]);
    run.wait_for("the copies opened", |pid| {
        harness::open_fd(pid, &big).is_some()
    });
    // logrotate's rename rotation: .1 → .2, access.log → .1, a new access.log
    // with lines of its own.
    fs::rename(&big, dir.path().join("access.log.2")).unwrap();
    fs::rename(&log, &big).unwrap();
    let first_new = times.len();
    let new: String = (0..100)
        .map(|n| line(first_new + n, &time_local(t0)))
        .collect();
    times.extend(std::iter::repeat_n(t0, 100));
    fs::write(&log, new).unwrap();
    // The rotation came during the read-back: the big copy (now .2) is still
    // held, as copies are closed once read. (400 000 lines take a debug
    // build a few seconds: 60 000 were read too soon once combined lines got
    // their one-pass reader; `make test-static` does not run this module.)
    assert!(
        harness::open_fd(run.pid(), &dir.path().join("access.log.2")).is_some(),
        "the read-back was over before the rotation: nothing tested"
    );
    // The new log is read after the copies: once it is read, all is.
    run.wait_caught_up(&log);
    let snap = run.stop();
    // Every line from the cut on, once: the set's, the big block's, the new log's.
    let in_range = times.iter().filter(|&&t| t >= t0 - 3600).count() + BIG;
    assert_eq!(
        num(&snap.summary, "requests"),
        in_range as u64,
        "{}",
        snap.summary
    );
    assert_eq!(num(&snap.ips["45.99.0.1"], "requests"), BIG as u64);
    for (n, &t) in times.iter().enumerate() {
        let requests = snap.ips.get(&addr(n)).map_or(0, |ip| num(ip, "requests"));
        assert_eq!(requests, u64::from(t >= t0 - 3600), "line {n} at {t}");
    }
}

/// A compressed copy of `lines` lines from 45.99.(k / 250).(1 + k % 250) over the
/// last half hour, made with `gzip -1` from a pipe.
fn big_gz(path: &Path, lines: usize, t0: i64) {
    use std::io::Write;
    let file = fs::File::create(path).unwrap();
    let mut gzip = Command::new("gzip")
        .arg("-1")
        .stdin(std::process::Stdio::piped())
        .stdout(file)
        .spawn()
        .unwrap();
    let mut input = std::io::BufWriter::new(gzip.stdin.take().unwrap());
    let stamps: Vec<String> = (0..30).map(|m| time_local(t0 - 1800 + m * 60)).collect();
    for k in 0..lines {
        let stamp = &stamps[k * 30 / lines];
        writeln!(
            input,
            "45.99.{}.{} - - [{stamp}] \"GET /{k} HTTP/1.1\" 200 10 \"-\" \"backfill-test\"",
            k / 250 % 250,
            1 + k % 250
        )
        .unwrap();
    }
    drop(input);
    assert!(gzip.wait().unwrap().success());
}

#[test]
fn the_dashboard_answers_keys_while_it_reads_back() {
    use super::dashboard::{quit_with_exit_0, shell_quote, skip_without_tmux, Tmux};
    // Two checks on two lines: tests/preflight.sh reads one per line.
    if skip_without_tmux() {
        return;
    }
    if harness::skip_unless(&["gzip"]) {
        return;
    }
    let dir = harness::tempdir();
    let t0 = now();
    // 800 000 lines to read back, compressed (seconds for a debug build).
    big_gz(&dir.path().join("access.log.1.gz"), 800_000, t0);
    let log = dir.path().join("access.log");
    fs::write(&log, line(0, &time_local(t0 - 5))).unwrap();
    let (rc, after) = (dir.path().join("rc"), dir.path().join("after"));
    let script = format!(
        "HOME={home} XDG_CONFIG_HOME={home} {bin} --log-path {log} --since 1h --no-auth-log \
         --proc-root {proc} --no-geoip --no-history --no-whois; echo $? > {rc}; \
         echo done > {after}; exec sleep 600",
        home = shell_quote(&dir.path().join("home")),
        bin = shell_quote(&harness::nethergaze_bin()),
        log = shell_quote(&log),
        proc = shell_quote(Path::new(PROC_ROOT)),
        rc = shell_quote(&rc),
        after = shell_quote(&after),
    );
    // Wide enough for the whole progress note in the stats bar.
    let tmux = Tmux::start(dir.path().join("tmux.sock"), 280, 45, &script);
    let reading = |s: &[String]| s.iter().any(|l| l.contains("note: reading back (--since)"));
    tmux.wait_for("the read-back's progress in the stats bar", reading);
    // A key while it reads: the sort changes at once, the read-back goes on.
    tmux.send(&["-l", "s"]);
    let screen = tmux.wait_for("the next sort", |s| {
        s.iter().any(|l| l.contains("sort: requests"))
            || s.iter().any(|l| l.contains("sort: bytes"))
    });
    assert!(
        reading(&screen),
        "the read-back ended before the key was answered:\n{}",
        screen.join("\n")
    );
    // The progress moves: some part of the copy read, not all of it.
    tmux.wait_for("a percentage on the way", |s| {
        s.iter().any(|l| {
            let Some((_, rest)) = l.split_once("file 1 of 2, ") else {
                return false;
            };
            let percent = rest
                .split("% done")
                .next()
                .and_then(|p| p.rsplit(' ').next());
            percent
                .and_then(|p| p.parse::<u32>().ok())
                .is_some_and(|p| (1..100).contains(&p))
        })
    });
    // Then it ends: every line read, the progress gone.
    tmux.wait_for("the end of the read-back", |s| {
        !reading(s) && s.iter().any(|l| l.contains("lines 800001"))
    });
    quit_with_exit_0(&tmux, &after, &rc);
}

#[test]
fn the_set_the_real_logrotate_makes_is_read_back_exactly() {
    if harness::skip_unless(&["logrotate", "gzip"]) {
        return;
    }
    let dir = harness::tempdir();
    let log = dir.path().join("access.log");
    let (conf, state) = (dir.path().join("logrotate.conf"), dir.path().join("state"));
    fs::write(
        &conf,
        format!(
            "{} {{\n  rotate 5\n  compress\n  delaycompress\n  create 0640\n}}\n",
            log.display()
        ),
    )
    .unwrap();
    let t0 = now();
    let times: Vec<i64> = (0..3 * 3600 / STEP)
        .map(|k| t0 - 3 * 3600 + k * STEP + STEP / 2)
        .collect();
    // Written in four parts, rotated after each of the first three (-f: now):
    // access.log.3.gz, access.log.2.gz, access.log.1 and access.log.
    let bounds = [3 * 3600, 2 * 3600, 50 * 60, 20 * 60, 0];
    for k in 0..4 {
        let (from, to) = (t0 - bounds[k], t0 - bounds[k + 1]);
        let text: String = (0..times.len())
            .filter(|&n| times[n] >= from && times[n] < to)
            .map(|n| line(n, &time_local(times[n])))
            .collect();
        fs::write(&log, text).unwrap();
        if k < 3 {
            let mut rotate = Command::new("logrotate");
            rotate.arg("-f").arg("-s").arg(&state).arg(&conf);
            let out = harness::run_cmd(rotate);
            assert!(out.status.success(), "{out:?}");
        }
    }
    for name in ["access.log.3.gz", "access.log.2.gz", "access.log.1"] {
        assert!(dir.path().join(name).is_file(), "logrotate made no {name}");
    }
    let snap = once_since(&log, "1h");
    assert_exactly_from(&snap, &times, t0 - 3600);
    let snap = once_since(&log, "24h");
    assert_exactly_from(&snap, &times, 0);
}

/// A syslog stamp (`Dec  7 05:00:00`) of Unix time `t` in local time, as rsyslog
/// writes auth.log.
fn syslog_stamp(t: i64) -> String {
    let out = Command::new("date")
        .args(["-d", &format!("@{t}"), "+%b %e %H:%M:%S"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim_end()
        .to_string()
}

#[test]
fn since_reads_back_the_sshd_log_and_its_copies_too() {
    if harness::skip_unless(&["gzip"]) {
        return;
    }
    let dir = harness::tempdir();
    let t0 = now();
    let times: Vec<i64> = (0..3 * 3600 / STEP)
        .map(|k| t0 - 3 * 3600 + k * STEP + STEP / 2)
        .collect();
    let auth = dir.path().join("auth.log");
    let bounds = [3 * 3600, 2 * 3600, 40 * 60, 0];
    for (k, name) in ["auth.log.2", "auth.log.1", "auth.log"].iter().enumerate() {
        let (from, to) = (t0 - bounds[k], t0 - bounds[k + 1]);
        let mut text = String::new();
        for (n, &t) in times
            .iter()
            .enumerate()
            .filter(|(_, &t)| t >= from && t < to)
        {
            // Other programs' lines in between, as in a real auth.log.
            text.push_str(&format!(
                "{} host CRON[9]: pam_unix(cron:session): session opened\n",
                syslog_stamp(t)
            ));
            text.push_str(&format!(
                "{} host sshd[{n}]: Failed password for root from {} port 22 ssh2\n",
                syslog_stamp(t),
                addr(n)
            ));
        }
        let path = dir.path().join(name);
        fs::write(&path, text).unwrap();
        if k == 0 {
            assert!(Command::new("gzip").arg(&path).status().unwrap().success());
        }
    }
    let access = dir.path().join("access.log");
    fs::write(&access, "").unwrap();
    let snap = harness::snapshot(&[
        &"--once",
        &"--since",
        &"1h",
        &"--log-path",
        &access,
        &"--auth-log-path",
        &auth,
        &"--proc-root",
        &PROC_ROOT,
    ]);
    let cut = t0 - 3600;
    let want = times.iter().filter(|&&t| t >= cut).count() as u64;
    assert_eq!(
        num(&snap.summary, "auth_failures"),
        want,
        "{}",
        snap.summary
    );
    for (n, &t) in times.iter().enumerate() {
        let failures = snap
            .ips
            .get(&addr(n))
            .map_or(0, |ip| num(ip, "auth_failures"));
        assert_eq!(failures, u64::from(t >= cut), "line {n} at {t}, cut {cut}");
    }
}

/// `nethergaze --once --json --resume` with a history file, plus `extra`.
fn resume_run(log: &Path, db: &Path, extra: &[&str]) -> Snapshot {
    let mut cmd = harness::nethergaze();
    cmd.args(["--once", "--json", "--resume", "--no-geoip", "--no-whois"])
        .arg("--history-db")
        .arg(db)
        .arg("--log-path")
        .arg(log)
        .args(["--no-auth-log", "--proc-root", PROC_ROOT])
        .args(extra);
    let out = harness::Running::spawn(cmd).finish(harness::RUN_TIMEOUT);
    assert!(out.status.success(), "{out:?}");
    Snapshot::parse(&out.stdout)
}

#[test]
fn since_with_resume_reads_back_but_adds_no_line_to_history_twice() {
    if harness::skip_unless(&["gzip"]) {
        return;
    }
    let dir = harness::tempdir();
    let t0 = now();
    let times = rotated_set(dir.path(), t0);
    let (log, db) = (dir.path().join("access.log"), dir.path().join("history.db"));
    // The cron job's first run counts access.log (the last 20 minutes).
    let first = resume_run(&log, &db, &[]);
    assert_exactly_from(&first, &times, t0 - 1200);
    // --since wins over the cursor for where to start: the last hour again…
    let again = resume_run(&log, &db, &["--since", "1h"]);
    assert_exactly_from(&again, &times, t0 - 3600);
    // …but what the first run counted is not added to the lifetime totals twice.
    for (n, &t) in times.iter().enumerate().filter(|(_, &t)| t >= t0 - 3600) {
        let row = &again.ips[&addr(n)];
        assert_eq!(
            num(&row["history"], "requests"),
            1,
            "line {n} at {t}: {row}"
        );
    }
}

#[test]
fn a_corrupt_compressed_copy_ends_there_and_the_rest_is_read() {
    if harness::skip_unless(&["gzip"]) {
        return;
    }
    let dir = harness::tempdir();
    let t0 = now();
    let times = rotated_set(dir.path(), t0);
    // The oldest copy is not gzip at all (a truncated upload, a planted file).
    fs::write(
        dir.path().join("access.log.3.gz"),
        b"\x1f\x8bnot really gzip\n\0\xff",
    )
    .unwrap();
    let snap = once_since(&dir.path().join("access.log"), "24h");
    assert_exactly_from(&snap, &times, t0 - 2 * 3600);
}
