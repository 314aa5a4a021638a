//! `--log-path -` (issue 15 item 2): the access log read from standard input, a
//! pipe or a redirected file, through the same line splitter and counters as
//! files; the end of input ends `--once`, and with `--for` or the dashboard
//! only marks the source finished.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::process::{ChildStdin, Command, Stdio};
use std::thread;
use std::time::Duration;

use serde_json::Value;

use super::dashboard::{quit_with_exit_0, shell_quote, skip_without_tmux, Tmux};
use super::harness::{self, num, Running, Snapshot, RUN_TIMEOUT};

/// The /proc fixture: fixed sockets, so real ones on this machine don't show up.
const PROC_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/proc");

/// One combined-format line from 45.33.(n / 250 % 4).(1 + n % 250).
fn line(n: usize) -> String {
    format!(
        "45.33.{}.{} - - [10/Oct/2023:13:00:00 +0000] \"GET /{n} HTTP/1.1\" 200 100 \"-\" \"stdin-test\"\n",
        n / 250 % 4,
        1 + n % 250
    )
}

/// `nethergaze --json … --log-path - --no-auth-log` plus `mode`, on the /proc fixture.
fn reading_stdin(mode: &[&str]) -> Command {
    let mut args: Vec<harness::Arg> = vec![&"--log-path", &"-", &"--no-auth-log"];
    args.extend_from_slice(&[&"--proc-root", &PROC_ROOT]);
    let mut cmd = harness::with_args(&args);
    cmd.args(mode);
    cmd
}

fn stdin_source(snap: &Snapshot) -> &Value {
    snap.source(Path::new("-"))
}

fn finish_ok(mut run: Running) -> Snapshot {
    let out = run.finish(RUN_TIMEOUT);
    assert!(out.status.success(), "{out:?}");
    Snapshot::parse(&out.stdout)
}

fn take_stdin(run: &mut Running) -> ChildStdin {
    run.stdin().expect("stdin piped")
}

#[test]
fn once_reads_a_pipe_to_its_end_whatever_it_holds() {
    let mut run = Running::spawn_fed(reading_stdin(&["--once"]), Stdio::piped());
    let mut input = take_stdin(&mut run);
    for n in 0..300 {
        input.write_all(line(n).as_bytes()).unwrap();
    }
    // A slow writer (zcat of a big file): --once waits for the end of input.
    input.flush().unwrap();
    thread::sleep(Duration::from_millis(300));
    // Malformed and binary lines: counted, never fatal. NUL bytes, invalid
    // UTF-8, a line over the 64 KiB limit, a CRLF line, a last line without
    // its newline.
    input.write_all(b"\0\0\0\xff\xfe garbage\n").unwrap();
    input.write_all(&vec![b'a'; 100 << 10]).unwrap();
    input.write_all(b"\n").unwrap();
    input
        .write_all(line(300).replace('\n', "\r\n").as_bytes())
        .unwrap();
    input.write_all(line(301).trim_end().as_bytes()).unwrap();
    drop(input);
    let snap = finish_ok(run);
    let source = stdin_source(&snap);
    assert_eq!(num(source, "lines"), 304, "{source}");
    assert_eq!(num(source, "malformed"), 2, "{source}");
    assert_eq!(source["note"], "end of input", "{source}");
    assert_eq!(num(&snap.summary, "requests"), 302, "{}", snap.summary);
    assert_eq!(num(&snap.ips["45.33.1.52"], "requests"), 1);
}

#[test]
fn once_reads_a_file_redirected_as_stdin() {
    let dir = harness::tempdir();
    let log = dir.path().join("access.log");
    fs::write(&log, (0..1000).map(line).collect::<String>()).unwrap();
    let stdin = Stdio::from(File::open(&log).unwrap());
    let snap = finish_ok(Running::spawn_fed(reading_stdin(&["--once"]), stdin));
    let source = stdin_source(&snap);
    assert_eq!(num(source, "lines"), 1000, "{source}");
    assert_eq!(num(source, "malformed"), 0, "{source}");
    assert_eq!(num(&snap.summary, "requests"), 1000);
    let addr = |n: usize| format!("45.33.{}.{}", n / 250 % 4, 1 + n % 250);
    assert!((0..1000).all(|n| num(&snap.ips[&addr(n)], "requests") == 1));
}

/// Peak resident memory of `pid` in KiB (VmHWM).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_huge_pipe_is_read_in_bounded_memory() {
    const INPUT: usize = 96 << 20;
    let mut run = Running::spawn_fed(reading_stdin(&["--once"]), Stdio::piped());
    let mut input = take_stdin(&mut run);
    // 1000 addresses over and over, and once a 16 MiB line with no newline in
    // sight: the buffer must neither grow with the input nor with the line.
    let block: String = (0..1000).map(line).collect();
    let mut written = 0;
    let mut lines = 0;
    while written < INPUT {
        if written >= INPUT / 2 && written < INPUT / 2 + block.len() {
            input.write_all(&vec![b'x'; 16 << 20]).unwrap();
            input.write_all(b"\n").unwrap();
            lines += 1;
        }
        input.write_all(block.as_bytes()).unwrap();
        written += block.len();
        lines += 1000;
    }
    // Everything but the pipe's buffer has been read by now.
    let peak = peak_rss_kib(run.pid());
    drop(input);
    let snap = finish_ok(run);
    let source = stdin_source(&snap);
    assert_eq!(num(source, "lines"), lines, "{source}");
    assert_eq!(num(source, "malformed"), 1, "{source}");
    // About 16 MiB here (a debug build); holding the long line alone would
    // add 16 MiB, holding the input 96.
    assert!(
        peak < 28 << 10,
        "peak RSS {peak} KiB after {INPUT} bytes through stdin"
    );
}

#[test]
fn with_for_the_end_of_input_only_finishes_the_source() {
    let mut run = Running::spawn_fed(reading_stdin(&["--for", "30s"]), Stdio::piped());
    let mut input = take_stdin(&mut run);
    for n in 0..50 {
        input.write_all(line(n).as_bytes()).unwrap();
    }
    drop(input);
    // The run goes on after the end of input: it is still there a moment
    // later, and ends on SIGTERM with what it read.
    thread::sleep(Duration::from_millis(500));
    assert!(!run.has_exited(), "--for ended with its input");
    run.signal(libc::SIGTERM);
    let snap = finish_ok(run);
    let source = stdin_source(&snap);
    assert_eq!(num(source, "lines"), 50, "{source}");
    assert_eq!(source["note"], "end of input", "{source}");
}

#[test]
fn a_terminal_as_stdin_is_refused() {
    if harness::which("script").is_none() {
        eprintln!("SKIP: script (bsdutils) not installed");
        return;
    }
    // `script` runs the command on a pseudo-terminal: stdin is a tty.
    let inner = format!(
        "{} --once --log-path - --no-auth-log --no-history; echo rc=$?",
        shell_quote(&harness::nethergaze_bin())
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &inner, "/dev/null"]);
    let out = harness::run_cmd(cmd);
    assert!(
        out.stdout.contains("standard input is a terminal") && out.stdout.contains("rc=2"),
        "{out:?}"
    );
}

#[test]
fn the_dashboard_reads_its_keys_from_the_tty_when_stdin_is_the_log() {
    if skip_without_tmux() {
        return;
    }
    let dir = harness::tempdir();
    let fifo = dir.path().join("log.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let (rc, after) = (dir.path().join("rc"), dir.path().join("after"));
    let script = format!(
        "HOME={home} XDG_CONFIG_HOME={home} {bin} --log-path - --no-auth-log \
         --proc-root {proc} --no-geoip --no-history --no-whois < {fifo}; echo $? > {rc}; \
         echo done > {after}; exec sleep 600",
        home = shell_quote(&dir.path().join("home")),
        bin = shell_quote(&harness::nethergaze_bin()),
        fifo = shell_quote(&fifo),
        proc = shell_quote(Path::new(PROC_ROOT)),
        rc = shell_quote(&rc),
        after = shell_quote(&after),
    );
    let tmux = Tmux::start(dir.path().join("tmux.sock"), 160, 45, &script);
    // Opens once the shell opened the read end.
    let mut input = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    input
        .write_all(
            b"45.33.99.77 - - [10/Oct/2023:13:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"x\"\n",
        )
        .unwrap();
    tmux.wait_for("the piped line's row", |s| {
        s.iter().any(|l| l.contains("45.33.99.77"))
    });
    // A key reaches the dashboard (from /dev/tty, not from the log).
    tmux.send(&["-l", "?"]);
    tmux.wait_for("help", |s| s.iter().any(|l| l.contains("Key bindings")));
    tmux.send(&["Escape"]);
    // The end of input does not end the dashboard.
    drop(input);
    tmux.send(&["-l", "?"]);
    tmux.wait_for("help again", |s| {
        s.iter().any(|l| l.contains("Key bindings"))
    });
    tmux.send(&["Escape"]);
    quit_with_exit_0(&tmux, &after, &rc);
}

#[test]
fn without_a_tty_for_keys_the_dashboard_says_why() {
    if harness::which("script").is_none() || harness::which("setsid").is_none() {
        eprintln!("SKIP: script or setsid (util-linux) not installed");
        return;
    }
    // stdout is a terminal (script's), but setsid leaves no controlling
    // terminal to read keys from: the log on stdin cannot stand in for it.
    let inner = format!(
        "setsid -w {} --log-path - --no-auth-log --no-history --no-whois < /dev/null; echo rc=$?",
        shell_quote(&harness::nethergaze_bin())
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &inner, "/dev/null"]);
    let out = harness::run_cmd(cmd);
    assert!(
        out.stdout.contains("cannot open the terminal")
            && out.stdout.contains("standard input is the log")
            && out.stdout.contains("rc=2"),
        "{out:?}"
    );
}
