//! The reader with scripts standing in for the tools where the real ones
//! cannot be made to misbehave: one that hangs, one that writes without
//! end, one that fails after a good answer. The real tools are read in
//! `actions/block/tests/firewall/readback.rs` and tests/it/blocked.rs.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use super::*;

/// Reading needs root (each tool would refuse otherwise); the tests too.
fn skip_unless_root() -> bool {
    if process::is_root() {
        return false;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(!ci, "CI=true but not running as root");
    eprintln!("SKIP: not running as root");
    true
}

/// `dir/NAME`: `#!/bin/sh` and `body`.
fn script(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
}

fn reader(dir: &Path, timeout: Duration) -> BlockReader {
    let mut reader = BlockReader::new(&Tools::detect_in(dir.as_os_str()), "nethergaze");
    reader.child.set_timeout(timeout);
    reader
}

fn nets(found: &[BlockedNet]) -> Vec<String> {
    found.iter().map(|b| b.net.to_string()).collect()
}

#[test]
fn a_tool_that_hangs_is_killed_and_keeps_its_last_answer() {
    if skip_unless_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hang = dir.path().join("hang");
    // Answers once; from the second round on it hangs until killed.
    let body = format!(
        "[ -e {0} ] && exec sleep 30\n: > {0}\necho '-A INPUT -s 192.0.2.0/24 -j DROP'",
        hang.display()
    );
    script(dir.path(), "iptables", &body);
    let mut r = reader(dir.path(), Duration::from_millis(300));
    r.run_now();
    assert_eq!(nets(&r.take_round().unwrap()), ["192.0.2.0/24"]);
    let t0 = Instant::now();
    r.run_now();
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "killed at the timeout"
    );
    assert!(r.is_idle());
    assert_eq!(
        nets(&r.take_round().unwrap()),
        ["192.0.2.0/24"],
        "the last good answer"
    );
}

#[test]
fn an_answer_over_the_cap_is_refused_and_a_failed_one_changes_nothing() {
    if skip_unless_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rule = "-A INPUT -s 198.51.100.0/24 -j DROP";
    let big = dir.path().join("big");
    let body = format!(
        "if [ -e {0} ]; then yes -- '{rule}' | head -c {1}; else : > {0}; printf '%s\\n' '{rule}'; fi",
        big.display(),
        MAX_ANSWER + 100
    );
    script(dir.path(), "iptables", &body);
    script(
        dir.path(),
        "fail2ban-client",
        "echo 'Failed to access socket path' >&2; exit 255",
    );
    let mut r = reader(dir.path(), Duration::from_secs(30));
    r.run_now();
    assert_eq!(nets(&r.take_round().unwrap()), ["198.51.100.0/24"]);
    r.run_now();
    assert_eq!(
        nets(&r.take_round().unwrap()),
        ["198.51.100.0/24"],
        "16 MiB and more: refused, the last answer kept"
    );
}

#[test]
fn the_loop_reads_a_round_without_blocking_one_child_at_a_time() {
    if skip_unless_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("running");
    // Each tool notes it started and whether another was running then.
    let note = |name: &str, out: &str| {
        format!(
            "[ -e {0}.now ] && echo overlap >> {0}\n: > {0}.now\necho {name} >> {0}\nsleep 0.1\n{out}\nrm {0}.now",
            log.display()
        )
    };
    script(
        dir.path(),
        "iptables",
        &note("iptables", "echo '-A INPUT -s 192.0.2.1/32 -j DROP'"),
    );
    script(
        dir.path(),
        "ip6tables",
        &note("ip6tables", "echo '-A INPUT -s 2001:db8::/64 -j REJECT'"),
    );
    script(
        dir.path(),
        "fail2ban-client",
        &note("fail2ban", "echo \"[{'sshd': ['203.0.113.9']}]\""),
    );
    let mut r = reader(dir.path(), Duration::from_secs(30));
    let mut poll = Poll::new().unwrap();
    poll.registry()
        .register(&mut r, Token(7), Interest::READABLE)
        .unwrap();
    r.start_round(Instant::now());
    r.start_round(Instant::now()); // under way: no second round
    assert_eq!(r.rounds(), 1);
    let mut events = Events::with_capacity(4);
    let deadline = Instant::now() + Duration::from_secs(30);
    let found = loop {
        assert!(Instant::now() < deadline, "the round never ended");
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .unwrap();
        if events.iter().any(|e| e.token() == Token(7)) {
            r.on_readable();
        }
        r.on_tick(Instant::now()); // as SIGCHLD would
        if let Some(found) = r.take_round() {
            break found;
        }
    };
    let mut got = nets(&found);
    got.sort();
    assert_eq!(got, ["192.0.2.1/32", "2001:db8::/64", "203.0.113.9/32"]);
    let ran = fs::read_to_string(&log).unwrap();
    // fail2ban-client was asked `banned`, then `get sshd banip --with-time`.
    assert_eq!(
        ran, "iptables\nip6tables\nfail2ban\nfail2ban\n",
        "one at a time, in order"
    );
}
