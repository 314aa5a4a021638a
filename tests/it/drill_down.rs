//! The drill-down end to end (issue 12 item 4), in tmux on a real sshd-format
//! auth log: an ssh brute forcer's drill-down lists the user names it tried,
//! with their times, newest first.

use std::path::Path;

use super::dashboard::{quit_with_exit_0, shell_quote, skip_without_tmux, Tmux};
use super::harness;

const PROC_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/proc");

fn has(screen: &[String], text: &str) -> bool {
    screen.iter().any(|l| l.contains(text))
}

#[test]
fn drill_down_of_an_ssh_brute_forcer_lists_user_names_with_times() {
    if skip_without_tmux() {
        return;
    }
    let dir = harness::tempdir();
    let access = dir.path().join("access.log");
    std::fs::write(&access, "").unwrap();
    // What OpenSSH's sshd writes through rsyslog (RFC 3339 stamps, Debian's default).
    let auth = dir.path().join("auth.log");
    let lines = [
        (
            "23:00:01",
            "Invalid user oracle from 185.199.108.153 port 40001",
        ),
        (
            "23:00:02",
            "Failed password for invalid user oracle from 185.199.108.153 port 40001 ssh2",
        ),
        (
            "23:00:05",
            "Failed password for root from 185.199.108.153 port 40002 ssh2",
        ),
        (
            "23:00:09",
            "Invalid user \u{1b}[31mpostgres from 185.199.108.153 port 40003",
        ),
        (
            "23:00:12",
            "Accepted password for deploy from 185.199.108.153 port 40004 ssh2",
        ),
    ];
    let text: String = lines
        .iter()
        .map(|(time, msg)| format!("2026-12-06T{time}.000000+00:00 web1 sshd[4242]: {msg}\n"))
        .collect();
    std::fs::write(&auth, text).unwrap();
    let (rc, after) = (dir.path().join("rc"), dir.path().join("after"));
    let script = format!(
        "TZ=UTC HOME={home} XDG_CONFIG_HOME={home} {bin} --log-path {access} \
         --auth-log-path {auth} --from-start --proc-root {proc} --no-geoip --no-history \
         --no-whois; echo $? > {rc}; echo done > {after}; exec sleep 600",
        home = shell_quote(&dir.path().join("home")),
        bin = shell_quote(&harness::nethergaze_bin()),
        access = shell_quote(&access),
        auth = shell_quote(&auth),
        proc = shell_quote(Path::new(PROC_ROOT)),
        rc = shell_quote(&rc),
        after = shell_quote(&after),
    );
    let tmux = Tmux::start(dir.path().join("tmux.sock"), 160, 45, &script);
    tmux.wait_for("the brute forcer's row", |s| has(s, "185.199.108.153"));
    tmux.send(&["-l", "/185.199.108.153"]);
    tmux.send(&["Enter"]);
    tmux.wait_for("the filter", |s| s[0].contains("filter: 185.199.108.153"));
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("the sshd events", |s| has(s, "last 30 sshd events"));
    let text = screen.join("\n");
    let heading = screen
        .iter()
        .position(|l| l.contains("last 30 sshd events, newest first"))
        .unwrap();
    let want = [
        "23:00:12 accepted        deploy",
        "23:00:09 invalid user    �[31mpostgres",
        "23:00:05 failed          root",
        "23:00:02 failed          oracle",
        "23:00:01 invalid user    oracle",
    ];
    for (line, want) in screen[heading + 1..].iter().zip(want) {
        assert!(line.contains(want), "{want:?} in {line:?}\n{text}");
    }

    tmux.send(&["Escape"]);
    tmux.wait_for("the drill-down to close", |s| {
        !has(s, "last 30 sshd events")
    });
    quit_with_exit_0(&tmux, &after, &rc);
}

/// The drill-down names the process holding each connection, walking
/// `--proc-root`'s `*/fd` (the fixture's sockets, with two processes added).
#[test]
fn drill_down_names_the_process_of_each_connection() {
    if skip_without_tmux() {
        return;
    }
    let dir = harness::tempdir();
    let proc = dir.path().join("proc");
    std::fs::create_dir_all(proc.join("net")).unwrap();
    for name in ["net/tcp", "net/tcp6", "uptime"] {
        std::fs::copy(Path::new(PROC_ROOT).join(name), proc.join(name)).unwrap();
    }
    // 8.8.4.4's sockets in the fixture: inbound to https (inode 90412), and
    // ours out to its https (90500).
    for (pid, comm, fd, inode) in [("812", "nginx", "7", 90412), ("900", "curl", "3", 90500)] {
        std::fs::create_dir_all(proc.join(pid).join("fd")).unwrap();
        std::fs::write(proc.join(pid).join("comm"), format!("{comm}\n")).unwrap();
        let link = proc.join(pid).join("fd").join(fd);
        std::os::unix::fs::symlink(format!("socket:[{inode}]"), link).unwrap();
    }
    let log = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/logs/combined.log");
    let (rc, after) = (dir.path().join("rc"), dir.path().join("after"));
    let script = format!(
        "HOME={home} XDG_CONFIG_HOME={home} {bin} --log-path {log} --from-start --no-auth-log \
         --proc-root {proc} --no-geoip --no-history --no-whois; echo $? > {rc}; \
         echo done > {after}; exec sleep 600",
        home = shell_quote(&dir.path().join("home")),
        bin = shell_quote(&harness::nethergaze_bin()),
        log = shell_quote(&log),
        proc = shell_quote(&proc),
        rc = shell_quote(&rc),
        after = shell_quote(&after),
    );
    let tmux = Tmux::start(dir.path().join("tmux.sock"), 160, 45, &script);
    tmux.wait_for("8.8.4.4's row", |s| has(s, "8.8.4.4"));
    tmux.send(&["-l", "/8.8.4.4"]);
    tmux.send(&["Enter"]);
    tmux.wait_for("the filter", |s| s[0].contains("filter: 8.8.4.4"));
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("the processes", |s| {
        has(s, "pid 812 nginx") && has(s, "pid 900 curl")
    });
    let line = |pid: &str| screen.iter().find(|l| l.contains(pid)).unwrap().clone();
    assert!(
        line("pid 812").contains("in  ESTABLISHED  https ← :55012"),
        "{}",
        line("pid 812")
    );
    assert!(
        line("pid 900").contains("out ESTABLISHED  → https (from :44870)"),
        "{}",
        line("pid 900")
    );

    tmux.send(&["Escape"]);
    tmux.wait_for("the drill-down to close", |s| !has(s, "pid 812"));
    quit_with_exit_0(&tmux, &after, &rc);
}
