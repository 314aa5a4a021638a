//! The runner with scripts standing in for vnstat where the real one cannot
//! be made to misbehave: a run that hangs, one that writes without end.
//! tests/it/vnstat.rs runs the real vnstat.

use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use super::*;
use crate::sys::process::exists;

const ANSWER: &str = r#"{"vnstatversion":"2.10","jsonversion":"2","interfaces":[{"name":"vt0","alias":"","traffic":{"total":{"rx":7,"tx":9},"month":[{"id":1,"date":{"year":2026,"month":12},"timestamp":1796083200,"rx":7,"tx":9}]}}]}"#;

fn script(body: &str, iface: &str, timeout: Duration) -> Vnstat {
    Vnstat::with_command("sh", &["-c", body, "sh"], iface, timeout)
}

#[test]
fn a_run_that_hangs_is_killed_after_the_timeout() {
    let mut v = script("exec sleep 30", "vt0", Duration::from_millis(100));
    let t0 = Instant::now();
    v.start(t0);
    let pid = v.pid().expect("running") as libc::pid_t;
    v.on_tick(t0 + Duration::from_millis(50));
    assert!(v.is_running(), "killed before its time");
    v.on_tick(t0 + Duration::from_millis(150));
    assert!(!v.is_running());
    assert!(!exists(pid), "the hung child is gone (killed and reaped)");
    assert_eq!(
        v.status(),
        &VnstatStatus::Failed("vnstat did not answer in time".into())
    );
}

#[test]
fn never_two_runs_at_once() {
    let mut v = script("exec sleep 30", "vt0", Duration::from_secs(60));
    let now = Instant::now();
    v.start(now);
    let first = v.pid();
    v.start(now);
    assert_eq!(v.pid(), first);
}

#[test]
fn the_loop_reads_the_answer_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("answer.json");
    std::fs::write(&file, ANSWER).unwrap();
    let body = format!("cat '{}'", file.display());
    let mut v = script(&body, "vt0", Duration::from_secs(30));
    let mut poll = Poll::new().unwrap();
    poll.registry()
        .register(&mut v, Token(5), Interest::READABLE)
        .unwrap();
    v.start(Instant::now());
    let mut events = Events::with_capacity(4);
    let deadline = Instant::now() + Duration::from_secs(30);
    while v.is_running() && Instant::now() < deadline {
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .unwrap();
        if events.iter().any(|e| e.token() == Token(5)) {
            v.on_readable();
        }
        v.on_tick(Instant::now()); // SIGCHLD's part: reap once it exited
    }
    let totals = v.status().month().expect("totals");
    assert_eq!(
        (totals.year, totals.month, totals.rx, totals.tx),
        (2026, 12, 7, 9)
    );
}

#[test]
fn endless_output_is_bounded_and_refused() {
    let mut v = script("head -c 5000000 /dev/zero", "vt0", Duration::from_secs(30));
    v.run_now();
    assert!(!v.is_running());
    assert_eq!(
        v.status(),
        &VnstatStatus::Failed("vnstat: unreadable answer".into())
    );
    assert!(v.child.answer_capacity() <= 2 * (MAX_ANSWER + 4096));
}

#[test]
fn complaints_are_sorted_and_made_printable() {
    let mut v = script(
        "echo 'Error: No interface matching \"vt0\" found in database.'; exit 1",
        "vt0",
        Duration::from_secs(30),
    );
    v.run_now();
    assert_eq!(v.status(), &VnstatStatus::NoDatabase);
    let mut v = script(
        "printf 'Error: bad \\033[31mthing\\n' >&2; exit 1",
        "vt0",
        Duration::from_secs(30),
    );
    v.run_now();
    assert_eq!(
        v.status(),
        &VnstatStatus::Failed("vnstat: Error: bad [31mthing".into())
    );
    let mut v = Vnstat::with_command("/nonexistent/vnstat", &[], "vt0", TIMEOUT);
    v.run_now();
    assert_eq!(v.status(), &VnstatStatus::NotInstalled);
    assert_eq!(v.status().note(), Some("not installed"));
    let mut v = Vnstat::new("-x");
    v.run_now();
    assert_eq!(v.status(), &VnstatStatus::NoInterface);
}
