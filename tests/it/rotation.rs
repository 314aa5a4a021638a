//! Every rotation case of issue 2 §3 against a live `nethergaze --for` run: the test
//! writes lines, rotates the log the way logrotate or a daemon would, writes more, waits
//! until nethergaze has read everything, ends the run with SIGTERM and checks exact
//! totals: nothing lost, nothing counted twice.
//!
//! Each phase of a test writes from its own client address, so a per-address count
//! shows which lines were lost or read twice. "Consumed" is decided from
//! /proc/PID/fdinfo: nethergaze's read position on a file has reached the file's size
//! and the process is back in `epoll_wait`, so what it read has been applied.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::harness::{self, num, Arg, Live, Snapshot};

/// The /proc fixture: fixed sockets, so real ones on this machine don't show up.
const PROC_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/proc");

/// Peak memory allowed while a 10 MB line goes by (the line must not be held).
const MAX_HWM_KIB: u64 = 40 << 10; // 40 MiB

/// A temp dir of logs followed by a live `nethergaze --for 300s` over `DIR/*.log`.
struct Rig {
    dir: tempfile::TempDir,
    live: Live,
}

impl Rig {
    /// Creates `present` (name, contents) in a fresh dir, then follows `DIR/*.log`.
    fn start(present: &[(&str, &str)]) -> Rig {
        let dir = harness::tempdir();
        for (name, text) in present {
            fs::write(dir.path().join(name), text).unwrap();
        }
        let names: Vec<&str> = present.iter().map(|p| p.0).collect();
        Rig::follow(dir, "*.log", &[], &names)
    }

    /// Starts nethergaze on `DIR/pattern` (plus `extra` flags) and waits until it
    /// holds the files `ready` open and is idle.
    fn follow(dir: tempfile::TempDir, pattern: &str, extra: &[Arg], ready: &[&str]) -> Rig {
        let pattern = dir.path().join(pattern);
        let mut args: Vec<Arg> = vec![&"--for", &"300s", &"--log-path", &pattern];
        args.extend_from_slice(&[&"--no-auth-log", &"--proc-root", &PROC_ROOT]);
        args.extend_from_slice(extra);
        let mut live = Live::start(&args);
        let paths: Vec<PathBuf> = ready.iter().map(|n| dir.path().join(n)).collect();
        let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        live.wait_ready(&refs);
        Rig { dir, live }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Waits until nethergaze has read `name` to its end and applied it.
    fn consumed(&mut self, name: &str) {
        let path = self.path(name);
        let len = fs::metadata(&path).unwrap().len();
        self.live
            .wait_for(&format!("nethergaze to read {name} to byte {len}"), |pid| {
                let pos = harness::open_fd(pid, &path).and_then(|fd| harness::fd_pos(pid, fd));
                pos == Some(len) && harness::in_epoll_wait(pid)
            });
    }

    /// Waits until nethergaze has read the deleted file that `writer` still holds
    /// to its end, or has closed it (it closes a rotated-away file only after reading
    /// it to its end and a few quiet ticks). Found by inode: several deleted files
    /// may show the same `PATH (deleted)` name.
    fn consumed_deleted(&mut self, writer: &File) {
        let meta = writer.metadata().unwrap();
        let (ino, len) = (meta.ino(), meta.len());
        self.live.wait_for(
            &format!("nethergaze to read deleted inode {ino} to byte {len}"),
            |pid| {
                let done = match fd_of_inode(pid, ino) {
                    None => true,
                    Some(fd) => harness::fd_pos(pid, fd) == Some(len),
                };
                done && harness::in_epoll_wait(pid)
            },
        );
    }

    /// Waits until nethergaze has read the rotated-away `name` to its end, or has
    /// closed it (it closes a drained file only after reading it to its end).
    fn drained(&mut self, name: &str) {
        let path = self.path(name);
        let len = fs::metadata(&path).unwrap().len();
        self.live
            .wait_for(&format!("nethergaze to drain {name}"), |pid| {
                let done = match harness::open_fd(pid, &path) {
                    None => true,
                    Some(fd) => harness::fd_pos(pid, fd) == Some(len),
                };
                done && harness::in_epoll_wait(pid)
            });
    }

    /// Waits until nethergaze's position on `name` is back at 0 (it saw the truncation).
    fn rewound(&mut self, name: &str) {
        let path = self.path(name);
        self.live
            .wait_for(&format!("nethergaze to rewind {name}"), |pid| {
                let pos = harness::open_fd(pid, &path).and_then(|fd| harness::fd_pos(pid, fd));
                pos == Some(0) && harness::in_epoll_wait(pid)
            });
    }

    /// Opens `name` for appending (creating it), as a logging daemon does.
    fn writer(&self, name: &str) -> File {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(name))
            .unwrap()
    }

    /// Ends the run with SIGTERM and returns the snapshot.
    fn stop(self) -> (Snapshot, tempfile::TempDir) {
        (self.live.stop(), self.dir)
    }

    /// [`stop`](Self::stop) when a source could not be read: exit 1.
    fn stop_incomplete(self) -> (Snapshot, tempfile::TempDir) {
        (self.live.stop_incomplete(), self.dir)
    }
}

/// The fd under which process `pid` holds the file with inode `ino` (the test's
/// files all live in one temp dir, so one filesystem).
fn fd_of_inode(pid: u32, ino: u64) -> Option<u32> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()?
        .flatten()
        .find(|e| fs::metadata(e.path()).is_ok_and(|m| m.is_file() && m.ino() == ino))
        .and_then(|e| e.file_name().to_str()?.parse().ok())
}

/// The client address of phase `n`.
fn client(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(45, 33, 32, n)
}

/// `count` combined-format lines from `client(phase)`, 100 bytes each, at times in
/// 2023 (so rates are 0 and rows never age out during the run).
fn lines(phase: u8, count: usize) -> String {
    (0..count)
        .map(|i| {
            format!(
                "{} - - [10/Oct/2023:13:{:02}:{:02} +0000] \"GET /p{phase}/{i} HTTP/1.1\" 200 100 \"-\" \"rotation-test\"\n",
                client(phase),
                phase % 60,
                i % 60
            )
        })
        .collect()
}

fn write(file: &mut File, text: &str) {
    file.write_all(text.as_bytes()).unwrap();
}

/// Asserts the snapshot counted exactly `want` (phase, lines) requests, 100 bytes
/// each, and nothing else from the logs.
fn assert_counts(snap: &Snapshot, want: &[(u8, u64)]) {
    for &(phase, count) in want {
        let row = snap.ip(client(phase));
        assert_eq!(
            num(row, "requests"),
            count,
            "requests of phase {phase}: {row}"
        );
        assert_eq!(
            num(row, "bytes"),
            count * 100,
            "bytes of phase {phase}: {row}"
        );
    }
    let total: u64 = want.iter().map(|w| w.1).sum();
    assert_eq!(num(&snap.summary, "requests"), total, "{}", snap.summary);
    assert_eq!(num(&snap.summary, "lines"), total, "{}", snap.summary);
    assert_eq!(num(&snap.summary, "malformed"), 0, "{}", snap.summary);
    // The log rows, plus the two global rows of the /proc fixture.
    assert_eq!(
        snap.ips.len(),
        want.len() + 2,
        "rows: {:?}",
        snap.ips.keys()
    );
}

/// Asserts the source for `path` read `lines` lines without an error.
fn assert_source(snap: &Snapshot, path: &Path, lines: u64, malformed: u64) {
    let source = snap.source(path);
    assert_eq!(num(source, "lines"), lines, "{source}");
    assert_eq!(num(source, "malformed"), malformed, "{source}");
    assert_eq!(source["error"], serde_json::Value::Null, "{source}");
}

#[test]
fn a_file_present_at_start_is_read_from_its_end() {
    // Old lines, then half a line whose writer is caught mid-way.
    let old = lines(1, 5) + "45.33.32.9 - - [10/Oct/2023:13:00:00 +0000] \"GET /half";
    let mut rig = Rig::start(&[("access.log", &old)]);
    let mut log = rig.writer("access.log");
    // The tail of the half line, then new lines.
    write(&mut log, " HTTP/1.1\" 200 100 \"-\" \"x\"\n");
    write(&mut log, &lines(2, 3));
    rig.consumed("access.log");
    let (snap, dir) = rig.stop();
    // Neither the old lines nor the fragment count (the fragment is not malformed).
    assert_counts(&snap, &[(2, 3)]);
    assert_source(&snap, &dir.path().join("access.log"), 3, 0);
}

#[test]
fn from_start_reads_a_present_file_once() {
    let dir = harness::tempdir();
    fs::write(dir.path().join("access.log"), lines(1, 4)).unwrap();
    let mut rig = Rig::follow(dir, "*.log", &[&"--from-start"], &["access.log"]);
    let mut log = rig.writer("access.log");
    write(&mut log, &lines(2, 2));
    rig.consumed("access.log");
    let (snap, _dir) = rig.stop();
    assert_counts(&snap, &[(1, 4), (2, 2)]);
}

#[test]
fn rename_rotation_drains_the_old_file_while_its_writer_goes_on() {
    let mut rig = Rig::start(&[("access.log", "")]);
    let mut old = rig.writer("access.log");
    write(&mut old, &lines(1, 4));
    rig.consumed("access.log");
    fs::rename(rig.path("access.log"), rig.path("access.log.1")).unwrap();
    // The writer has not reopened its log yet: these go to access.log.1.
    write(&mut old, &lines(2, 3));
    let mut new = rig.writer("access.log");
    write(&mut new, &lines(3, 5));
    rig.consumed("access.log");
    // nethergaze has switched to the new file; the old writer still appends.
    write(&mut old, &lines(4, 2));
    rig.consumed("access.log.1");
    write(&mut new, &lines(5, 1));
    rig.consumed("access.log");
    let (snap, dir) = rig.stop();
    assert_counts(&snap, &[(1, 4), (2, 3), (3, 5), (4, 2), (5, 1)]);
    // One source: the path, whichever file it named.
    assert_source(&snap, &dir.path().join("access.log"), 15, 0);
}

#[test]
fn copytruncate_restarts_at_zero() {
    let mut rig = Rig::start(&[("access.log", "")]);
    let mut log = rig.writer("access.log");
    write(&mut log, &lines(1, 6));
    rig.consumed("access.log");
    // logrotate's copytruncate: copy to a name outside the glob, truncate in place;
    // the writer keeps its O_APPEND fd and goes on at the new end.
    fs::copy(rig.path("access.log"), rig.path("access.log.1")).unwrap();
    File::options()
        .write(true)
        .open(rig.path("access.log"))
        .unwrap()
        .set_len(0)
        .unwrap();
    rig.rewound("access.log");
    write(&mut log, &lines(2, 3));
    rig.consumed("access.log");
    let (snap, dir) = rig.stop();
    assert_counts(&snap, &[(1, 6), (2, 3)]);
    assert_source(&snap, &dir.path().join("access.log"), 9, 0);
}

/// Real logrotate with copytruncate, right after a writer's burst (the last writes of
/// which fall in the 50 ms read pacing), then more lines than the log held: the lines
/// not yet read when it truncated come from its copy, and no fragment is parsed.
#[test]
fn logrotate_copytruncate_right_after_writes_loses_nothing() {
    if harness::skip_unless(&["logrotate"]) {
        return;
    }
    let mut rig = Rig::start(&[("access.log", "")]);
    let conf = rig.path("logrotate.conf");
    let rule = "{\n  copytruncate\n  rotate 2\n  missingok\n}\n";
    fs::write(
        &conf,
        format!("{} {rule}", rig.path("access.log").display()),
    )
    .unwrap();
    let mut log = rig.writer("access.log");
    for round in 0..3u8 {
        // One read now, then writes it paces: unread when logrotate truncates.
        write(&mut log, &lines(3 * round + 1, 1));
        write(&mut log, &lines(3 * round + 2, 40));
        logrotate(&rig, &conf);
        write(&mut log, &lines(3 * round + 3, 60));
        rig.consumed("access.log");
    }
    let (snap, dir) = rig.stop();
    let want: Vec<(u8, u64)> = (0..3u8)
        .flat_map(|r| [(3 * r + 1, 1), (3 * r + 2, 40), (3 * r + 3, 60)])
        .collect();
    assert_counts(&snap, &want);
    assert_source(&snap, &dir.path().join("access.log"), 303, 0);
}

/// Runs the real logrotate once, forced, with its own state file.
fn logrotate(rig: &Rig, conf: &Path) {
    let mut cmd = std::process::Command::new(harness::bin("logrotate"));
    cmd.arg("-f").arg("-s").arg(rig.path("state")).arg(conf);
    let out = harness::run_cmd(cmd);
    assert!(out.status.success(), "logrotate: {out:?}");
}

/// Real logrotate with `create` as Debian rotates nginx and apache2 logs (rename, a
/// new empty log, the one before compressed with delaycompress), three rounds: lines
/// before the rotation, lines the daemon still writes to its renamed file before it
/// reopens its log (postrotate), then lines to the new log. All count, once.
#[test]
fn logrotate_create_counts_lines_before_between_and_after() {
    if harness::skip_unless(&["logrotate"]) {
        return;
    }
    let mut rig = Rig::start(&[("access.log", "")]);
    let conf = rig.path("logrotate.conf");
    let rule = "{\n  create 0640\n  rotate 2\n  compress\n  delaycompress\n  missingok\n}\n";
    fs::write(
        &conf,
        format!("{} {rule}", rig.path("access.log").display()),
    )
    .unwrap();
    let mut log = rig.writer("access.log");
    for round in 0..3u8 {
        let phase = 3 * round + 1;
        write(&mut log, &lines(phase, 20));
        logrotate(&rig, &conf);
        assert_eq!(fs::metadata(rig.path("access.log")).unwrap().len(), 0);
        // The daemon has not reopened its log yet: these go to access.log.1.
        write(&mut log, &lines(phase + 1, 5));
        // postrotate: the daemon reopens its log.
        log = rig.writer("access.log");
        write(&mut log, &lines(phase + 2, 10));
        rig.consumed("access.log");
        rig.drained("access.log.1");
    }
    assert!(rig.path("access.log.2.gz").exists(), "logrotate compressed");
    let (snap, dir) = rig.stop();
    let want: Vec<(u8, u64)> = (0..3u8)
        .flat_map(|r| [(3 * r + 1, 20), (3 * r + 2, 5), (3 * r + 3, 10)])
        .collect();
    assert_counts(&snap, &want);
    assert_source(&snap, &dir.path().join("access.log"), 105, 0);
}

#[test]
fn delete_then_recreate_reads_the_new_file_from_its_start() {
    let mut rig = Rig::start(&[("access.log", "")]);
    let mut old = rig.writer("access.log");
    write(&mut old, &lines(1, 4));
    rig.consumed("access.log");
    fs::remove_file(rig.path("access.log")).unwrap();
    // The writer's fd keeps the deleted file (and its inode number) alive.
    write(&mut old, &lines(2, 2));
    let mut new = rig.writer("access.log");
    write(&mut new, &lines(3, 5));
    rig.consumed("access.log");
    rig.consumed_deleted(&old);
    let (snap, dir) = rig.stop();
    assert_counts(&snap, &[(1, 4), (2, 2), (3, 5)]);
    assert_source(&snap, &dir.path().join("access.log"), 11, 0);
}

#[test]
fn mv_new_log_into_place() {
    let mut rig = Rig::start(&[("access.log", "")]);
    let mut old = rig.writer("access.log");
    write(&mut old, &lines(1, 3));
    rig.consumed("access.log");
    // A new log prepared aside (outside the glob), then renamed over the live one.
    fs::write(rig.path("access.log.new"), lines(2, 4)).unwrap();
    fs::rename(rig.path("access.log.new"), rig.path("access.log")).unwrap();
    write(&mut old, &lines(3, 2));
    let mut new = rig.writer("access.log");
    write(&mut new, &lines(4, 3));
    rig.consumed("access.log");
    rig.consumed_deleted(&old);
    let (snap, dir) = rig.stop();
    assert_counts(&snap, &[(1, 3), (2, 4), (3, 2), (4, 3)]);
    assert_source(&snap, &dir.path().join("access.log"), 12, 0);
}

#[test]
fn a_glob_that_gains_a_file_reads_it_from_its_start() {
    let mut rig = Rig::start(&[("a.log", "")]);
    let mut a = rig.writer("a.log");
    write(&mut a, &lines(1, 2));
    rig.consumed("a.log");
    // A new vhost's log appears with lines already in it: all of them count.
    let mut b = rig.writer("b.log");
    write(&mut b, &lines(2, 5));
    rig.consumed("b.log");
    write(&mut b, &lines(3, 1));
    write(&mut a, &lines(4, 1));
    rig.consumed("b.log");
    rig.consumed("a.log");
    let (snap, dir) = rig.stop();
    assert_counts(&snap, &[(1, 2), (2, 5), (3, 1), (4, 1)]);
    assert_source(&snap, &dir.path().join("a.log"), 3, 0);
    assert_source(&snap, &dir.path().join("b.log"), 6, 0);
}

#[test]
fn a_ten_megabyte_line_is_skipped_once_in_bounded_memory() {
    let mut rig = Rig::start(&[("access.log", "")]);
    let mut log = rig.writer("access.log");
    write(&mut log, &lines(1, 1));
    // 10 MB that look like the start of a good line, written in 1 MiB pieces.
    let head = format!("{} - - [10/Oct/2023:13:00:00 +0000] \"GET /", client(9));
    write(&mut log, &head);
    let chunk = "a".repeat(1 << 20);
    for _ in 0..10 {
        write(&mut log, &chunk);
    }
    write(&mut log, " HTTP/1.1\" 200 100 \"-\" \"x\"\n");
    write(&mut log, &lines(2, 1));
    rig.consumed("access.log");
    let hwm = vm_hwm_kib(rig.live.pid());
    let (snap, dir) = rig.stop();
    assert!(
        hwm < MAX_HWM_KIB,
        "VmHWM {hwm} KiB while a 10 MB line went by"
    );
    let source = dir.path().join("access.log");
    assert_source(&snap, &source, 3, 1);
    for phase in [1, 2] {
        assert_eq!(num(snap.ip(client(phase)), "requests"), 1);
    }
    assert!(!snap.ips.contains_key(&client(9).to_string()));
    assert_eq!(num(&snap.summary, "requests"), 2);
    assert_eq!(num(&snap.summary, "malformed"), 1);
}

/// Peak resident set of `pid`, from /proc/PID/status.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_line_written_in_pieces_counts_once() {
    let mut rig = Rig::start(&[("access.log", "")]);
    let mut log = rig.writer("access.log");
    let line = lines(1, 1);
    // Split inside the address, so a piece read as a line would be malformed; then
    // between `\r` and `\n` of a CRLF ending.
    let line = line.trim_end_matches('\n').to_owned() + "\r\n";
    let (first, rest) = line.split_at(7);
    let (middle, last) = rest.split_at(rest.len() - 1);
    for piece in [first, middle] {
        write(&mut log, piece);
        rig.consumed("access.log");
    }
    write(&mut log, last);
    rig.consumed("access.log");
    let (snap, dir) = rig.stop();
    assert_counts(&snap, &[(1, 1)]);
    assert_source(&snap, &dir.path().join("access.log"), 1, 0);
}

#[test]
fn rename_rotation_right_after_writes_loses_nothing() {
    // No waiting between the steps: nethergaze may see the rename before it has
    // read the lines written before it.
    let mut rig = Rig::start(&[("access.log", "")]);
    let mut old = rig.writer("access.log");
    write(&mut old, &lines(1, 5));
    fs::rename(rig.path("access.log"), rig.path("access.log.1")).unwrap();
    write(&mut old, &lines(2, 2));
    let mut new = rig.writer("access.log");
    write(&mut new, &lines(3, 4));
    write(&mut old, &lines(4, 1));
    rig.consumed("access.log");
    rig.consumed("access.log.1");
    let (snap, dir) = rig.stop();
    assert_counts(&snap, &[(1, 5), (2, 2), (3, 4), (4, 1)]);
    assert_source(&snap, &dir.path().join("access.log"), 12, 0);
}

#[test]
fn renamed_to_a_name_the_glob_also_matches_keeps_its_position() {
    let mut rig = Rig::start(&[("access.log", "")]);
    let mut old = rig.writer("access.log");
    write(&mut old, &lines(1, 3));
    rig.consumed("access.log");
    // `old.log` matches `*.log` too: it must not be read again from its start.
    fs::rename(rig.path("access.log"), rig.path("old.log")).unwrap();
    write(&mut old, &lines(2, 2));
    let mut new = rig.writer("access.log");
    write(&mut new, &lines(3, 4));
    rig.consumed("access.log");
    rig.consumed("old.log");
    let (snap, _dir) = rig.stop();
    assert_counts(&snap, &[(1, 3), (2, 2), (3, 4)]);
}

#[test]
fn a_missing_directory_is_followed_once_it_appears() {
    let dir = harness::tempdir();
    let logs = dir.path().join("later");
    let glob = logs.join("*.log");
    let mut live = Live::start(&[
        &"--for",
        &"300s",
        &"--log-path",
        &glob,
        &"--no-auth-log",
        &"--proc-root",
        &PROC_ROOT,
    ]);
    live.wait_ready(&[]);
    fs::create_dir(&logs).unwrap();
    let path = logs.join("access.log");
    fs::write(&path, lines(1, 3)).unwrap();
    // Found by the tick that re-watches the directory: read from its start.
    live.wait_caught_up(&path);
    assert!(
        harness::open_fd(live.pid(), &path).is_some(),
        "never opened"
    );
    let mut log = OpenOptions::new().append(true).open(&path).unwrap();
    write(&mut log, &lines(2, 2));
    live.wait_caught_up(&path);
    let snap = live.stop();
    assert_counts(&snap, &[(1, 3), (2, 2)]);
    assert_source(&snap, &path, 5, 0);
}

#[test]
fn unreadable_matches_get_errors_and_the_others_keep_working() {
    let dir = harness::tempdir();
    fs::create_dir(dir.path().join("dir.log")).unwrap();
    let fifo = std::ffi::CString::new(dir.path().join("fifo.log").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo touches nothing else.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    fs::write(dir.path().join("access.log"), "").unwrap();
    let mut rig = Rig::follow(dir, "*.log", &[], &["access.log"]);
    let mut log = rig.writer("access.log");
    write(&mut log, &lines(1, 4));
    rig.consumed("access.log");
    // The glob was named: what it matches but cannot read makes the exit 1.
    let (snap, dir) = rig.stop_incomplete();
    assert_counts(&snap, &[(1, 4)]);
    assert_source(&snap, &dir.path().join("access.log"), 4, 0);
    for name in ["dir.log", "fifo.log"] {
        let source = snap.source(&dir.path().join(name));
        assert!(source["error"].is_string(), "{name}: {source}");
        assert_eq!(num(source, "lines"), 0, "{source}");
    }
}

/// Rename rotation then delete and re-create, on a literal `--log-path` (no glob).
#[test]
fn a_literal_path_follows_rename_and_re_creation() {
    let dir = harness::tempdir();
    fs::write(dir.path().join("access.log"), "").unwrap();
    let mut rig = Rig::follow(dir, "access.log", &[], &["access.log"]);
    let mut first = rig.writer("access.log");
    write(&mut first, &lines(1, 3));
    rig.consumed("access.log");
    fs::rename(rig.path("access.log"), rig.path("access.log.1")).unwrap();
    write(&mut first, &lines(2, 1));
    let mut second = rig.writer("access.log");
    write(&mut second, &lines(3, 2));
    rig.consumed("access.log");
    rig.consumed("access.log.1");
    fs::remove_file(rig.path("access.log")).unwrap();
    write(&mut second, &lines(4, 2));
    rig.consumed_deleted(&second);
    let mut third = rig.writer("access.log");
    write(&mut third, &lines(5, 3));
    rig.consumed("access.log");
    let (snap, dir) = rig.stop();
    assert_counts(&snap, &[(1, 3), (2, 1), (3, 2), (4, 2), (5, 3)]);
    assert_source(&snap, &dir.path().join("access.log"), 11, 0);
}

/// A writer that never pauses, each line in two writes, its log renamed away four
/// times (each time once nethergaze follows the new file, as rotations are seconds
/// apart in life): every line is counted exactly once.
#[test]
fn rotation_under_a_busy_writer_loses_nothing() {
    const FILES: u8 = 4;
    const PER_FILE: usize = 2500;
    let mut rig = Rig::start(&[("access.log", "")]);
    let mut log = rig.writer("access.log");
    for phase in 1..=FILES {
        for (i, line) in lines(phase, PER_FILE).lines().enumerate() {
            let (a, b) = line.split_at(1 + i % (line.len() - 1));
            write(&mut log, a);
            write(&mut log, &format!("{b}\n"));
        }
        let rotated = format!("access.log.{phase}");
        fs::rename(rig.path("access.log"), rig.path(&rotated)).unwrap();
        log = rig.writer("access.log");
        let path = rig.path("access.log");
        rig.live
            .wait_for("nethergaze to follow the new access.log", |pid| {
                harness::open_fd(pid, &path).is_some()
            });
    }
    rig.consumed("access.log");
    for phase in 1..=FILES {
        rig.drained(&format!("access.log.{phase}"));
    }
    let (snap, dir) = rig.stop();
    let want: Vec<(u8, u64)> = (1..=FILES).map(|p| (p, PER_FILE as u64)).collect();
    assert_counts(&snap, &want);
    let total = u64::from(FILES) * PER_FILE as u64;
    assert_source(&snap, &dir.path().join("access.log"), total, 0);
}

#[test]
fn lines_written_just_before_the_end_still_count() {
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        let rig = Rig::start(&[("access.log", "")]);
        let mut log = rig.writer("access.log");
        write(&mut log, &lines(1, 7));
        // No wait: the signal may well be handled before the inotify event.
        let snap = rig.live.stop_with(signal);
        assert_counts(&snap, &[(1, 7)]);
    }
}

#[test]
fn a_run_for_a_duration_ends_by_itself_with_its_snapshot() {
    let dir = harness::tempdir();
    let path = dir.path().join("access.log");
    fs::write(&path, "").unwrap();
    let mut live = Live::start(&[
        &"--for",
        &"4s", // long enough to be ready before it ends, on a loaded machine
        &"--log-path",
        &path,
        &"--no-auth-log",
        &"--proc-root",
        &PROC_ROOT,
    ]);
    live.wait_ready(&[&path]);
    let mut log = OpenOptions::new().append(true).open(&path).unwrap();
    write(&mut log, &lines(1, 3));
    let snap = live.wait_end();
    assert_counts(&snap, &[(1, 3)]);
}

#[test]
fn mv_into_place_of_a_file_the_glob_already_follows() {
    let mut rig = Rig::start(&[("access.log", "")]);
    let mut old = rig.writer("access.log");
    write(&mut old, &lines(1, 3));
    rig.consumed("access.log");
    // `next.log` matches `*.log`: it is followed (and counted) as soon as it appears,
    // and keeps its position when it becomes access.log.
    let mut next = rig.writer("next.log");
    write(&mut next, &lines(2, 4));
    rig.consumed("next.log");
    fs::rename(rig.path("next.log"), rig.path("access.log")).unwrap();
    write(&mut next, &lines(3, 2));
    write(&mut old, &lines(4, 1));
    rig.consumed("access.log");
    rig.consumed_deleted(&old);
    // And once more without waiting for anything in between.
    let mut third = rig.writer("third.log");
    write(&mut third, &lines(5, 2));
    fs::rename(rig.path("third.log"), rig.path("access.log")).unwrap();
    write(&mut third, &lines(6, 3));
    write(&mut next, &lines(7, 1));
    rig.consumed("access.log");
    rig.consumed_deleted(&next);
    let (snap, _dir) = rig.stop();
    assert_counts(
        &snap,
        &[(1, 3), (2, 4), (3, 2), (4, 1), (5, 2), (6, 3), (7, 1)],
    );
}

/// Voluntary context switches of a process: one per sleep in `epoll_wait`.
fn wakeups(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap()
}

/// A writer doing one `write` per line (as nginx does) must not wake the loop
/// once per line: reads are paced, and every line still counts exactly once.
#[test]
fn line_by_line_writes_are_read_in_batches() {
    let dir = harness::tempdir();
    let path = dir.path().join("access.log");
    fs::write(&path, "").unwrap();
    let mut live = Live::start(&[
        &"--for",
        &"300s",
        &"--log-path",
        &path,
        &"--no-auth-log",
        &"--proc-root",
        &PROC_ROOT,
    ]);
    live.wait_ready(&[&path]);
    let before = wakeups(live.pid());
    let mut log = OpenOptions::new().append(true).open(&path).unwrap();
    const LINES: usize = 1500;
    for line in lines(7, LINES).lines() {
        log.write_all(format!("{line}\n").as_bytes()).unwrap();
        std::thread::sleep(std::time::Duration::from_micros(500));
    }
    live.wait_caught_up(&path);
    let woken = wakeups(live.pid()) - before;
    let snap = live.stop();
    assert_counts(&snap, &[(7, LINES as u64)]);
    // Unpaced, this is about one wake-up per write (1 500); paced, a few per
    // 50 ms gap plus the 1 s ticks, whatever the machine's speed.
    assert!(
        woken < LINES as u64 / 3,
        "{woken} wake-ups for {LINES} single-line writes"
    );
}
