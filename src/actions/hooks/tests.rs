use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use mio::{Events, Interest, Poll, Token};

use super::*;

fn hook(command: &str, timeout_secs: u64) -> Hook {
    Hook {
        key: '1',
        label: "test".into(),
        command: command.into(),
        timeout: Duration::from_secs(timeout_secs),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Drive a run the way the loop does (mio readiness, reap attempts) until
/// it is reaped. `tick` is called each round with the round number.
fn drive(run: &mut HookRun, mut tick: impl FnMut(&mut HookRun, u32)) -> ExitStatus {
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(4);
    poll.registry()
        .register(run, Token(7), Interest::READABLE)
        .unwrap();
    // A bound on the rounds, not a timing assertion: 50 ms each, 20 s at most.
    for round in 0..400 {
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .unwrap();
        if events.iter().any(|e| e.token() == Token(7)) {
            run.on_readable();
        }
        tick(run, round);
        if let Some(status) = run.try_reap() {
            poll.registry().deregister(run).unwrap();
            return status;
        }
    }
    panic!(
        "hook did not finish: {:?}",
        String::from_utf8_lossy(run.output().bytes())
    );
}

fn run_to_end(command: &str, addr: IpAddr) -> (ExitStatus, String) {
    let mut run = HookRun::spawn(&hook(command, 30), addr, Instant::now()).unwrap();
    let status = drive(&mut run, |_, _| {});
    (
        status,
        String::from_utf8_lossy(run.output().bytes()).into_owned(),
    )
}

#[test]
fn ip_placeholder_and_env_carry_exactly_the_address() {
    let cmd = "printf '%s|%s|%s' {ip} \"$NETHERGAZE_IP\" '{ip}'";
    let (status, out) = run_to_end(cmd, ip("::ffff:203.0.113.9"));
    assert!(status.success());
    assert_eq!(out, "203.0.113.9|203.0.113.9|203.0.113.9");
    let (_, out) = run_to_end(cmd, ip("2001:DB8:0:0::1"));
    assert_eq!(out, "2001:db8::1|2001:db8::1|2001:db8::1");
}

#[test]
fn expand_replaces_every_placeholder_and_nothing_else() {
    let out = expand("whois {ip} | grep -i {ip}{ip} {IP} {ip", ip("192.0.2.1")).unwrap();
    assert_eq!(out, "whois 192.0.2.1 | grep -i 192.0.2.1192.0.2.1 {IP} {ip");
    // The API takes a parsed address: text that is not one cannot get in.
    for hostile in [
        "1.2.3.4;id",
        "1.2.3.4 $(id)",
        "::1`id`",
        "1.2.3.4\n",
        "[::1]",
    ] {
        assert!(hostile.parse::<IpAddr>().is_err(), "{hostile}");
    }
}

#[test]
fn non_unicast_addresses_start_no_hook() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let cmd = format!("touch '{}'", marker.display());
    for addr in [
        "0.0.0.0",
        "::",
        "::ffff:0.0.0.0",
        "255.255.255.255",
        "224.0.0.1",
        "239.255.255.250",
        "ff02::1",
    ] {
        let err = HookRun::spawn(&hook(&cmd, 5), ip(addr), Instant::now()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{addr}");
        assert!(err.to_string().contains("not a host"), "{addr}: {err}");
    }
    assert!(!marker.exists(), "a refused hook ran");
}

#[test]
fn stderr_is_interleaved_stdin_is_null_and_status_is_kept() {
    let (status, out) = run_to_end("echo out; echo err >&2; cat; exit 3", ip("192.0.2.1"));
    assert_eq!(status.code(), Some(3));
    assert_eq!(out, "out\nerr\n");
}

#[test]
fn loop_signal_mask_is_undone_in_the_child() {
    // Block SIGTERM in this thread, as the loop's signalfd does.
    crate::sys::signalfd::set_blocked_in_thread(libc::SIGTERM, true);
    let result = run_to_end("exec grep SigBlk /proc/self/status", ip("192.0.2.1"));
    crate::sys::signalfd::set_blocked_in_thread(libc::SIGTERM, false);
    let hex = result.1.trim().trim_start_matches("SigBlk:").trim();
    let blocked = u64::from_str_radix(hex, 16).unwrap();
    assert_eq!(blocked & (1 << (libc::SIGTERM - 1)), 0, "{}", result.1);
}

/// Whether a process is gone (or a zombie nobody has reaped yet: a
/// container's init may not reap orphans).
fn is_dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

#[test]
fn timeout_kills_the_whole_group_including_grandchildren() {
    // One grandchild sleeps normally, one ignores SIGTERM; each prints its pid.
    let cmd = "sleep 1000 & echo $!; (trap '' TERM; exec sleep 1000) & echo $!; sleep 1000";
    let start = Instant::now();
    let mut run = HookRun::spawn(&hook(cmd, 5), ip("192.0.2.1"), start).unwrap();
    assert_eq!(
        crate::sys::process::group_of(run.pid()),
        run.pid(),
        "own group"
    );
    let mut pids: Vec<i32> = Vec::new();
    let status = drive(&mut run, |run, _| {
        let out = String::from_utf8_lossy(run.output().bytes()).into_owned();
        pids = out.lines().filter_map(|l| l.trim().parse().ok()).collect();
        // The clock is injected: once both pids are known, jump past the
        // timeout, then past the grace period.
        if pids.len() == 2 && !run.was_killed() {
            run.on_tick(start + Duration::from_secs(4));
            assert!(!run.was_killed(), "not before the timeout");
            run.on_tick(start + Duration::from_secs(6));
            run.on_tick(start + Duration::from_secs(9));
        }
    });
    assert!(run.was_killed());
    assert!(status.signal().is_some(), "{status:?}");
    assert_eq!(pids.len(), 2);
    for pid in pids {
        let dead = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            is_dead(pid)
        });
        assert!(dead, "grandchild {pid} survived");
    }
}

#[test]
fn output_is_capped_and_the_pipe_keeps_draining() {
    // 1 MiB, far past the pipe's buffer: the child only exits if we drain.
    let cmd = "head -c 1048576 /dev/zero | tr '\\0' a";
    let mut run =
        HookRun::spawn_with(&hook(cmd, 30), ip("192.0.2.1"), Instant::now(), 1000).unwrap();
    let status = drive(&mut run, |_, _| {});
    assert!(status.success());
    let out = run.output();
    assert!(out.is_truncated());
    let (kept, marker) = out.bytes().split_at(1000);
    assert!(kept.iter().all(|&b| b == b'a'));
    assert_eq!(marker, b"\n[output truncated]\n");
}

#[test]
fn cancel_stops_a_running_hook() {
    let start = Instant::now();
    let mut run = HookRun::spawn(
        &hook("echo started; sleep 1000", 30),
        ip("192.0.2.1"),
        start,
    )
    .unwrap();
    let status = drive(&mut run, |run, _| {
        if !run.output().bytes().is_empty() {
            run.cancel(start);
        }
    });
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    assert!(run.is_finished());
}
