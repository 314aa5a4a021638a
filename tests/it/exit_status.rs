//! The exit status scripts can trust (issue 11, item 5): 0 when every log source
//! was read, 1 when one the user named could not be (the snapshot still printed,
//! the error on stderr and never on stdout), 2 for usage errors. And an unreadable
//! log names the fix (item 7).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use super::harness::{self, run_cmd, Output, Snapshot};

const PROC_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/proc");
const COMBINED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/logs/combined.log");

/// `nethergaze --once --no-auth-log --proc-root FIXTURE --no-geoip --no-whois
/// --no-history ARGS`.
fn once(args: &[&str]) -> Command {
    let mut cmd = harness::nethergaze();
    cmd.args(["--once", "--no-auth-log", "--proc-root", PROC_ROOT])
        .args(["--no-geoip", "--no-whois", "--no-history"])
        .args(args);
    cmd
}

fn run(args: &[&str]) -> Output {
    run_cmd(once(args))
}

#[test]
fn every_source_read_is_0_and_stderr_stays_empty() {
    let out = run(&["--json", "--log-path", COMBINED]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(out.stderr, "", "{out:?}");
}

#[test]
fn a_named_log_that_is_missing_is_1_with_the_snapshot_and_the_error_on_stderr() {
    let missing = "/nonexistent-nethergaze/access.log";
    // JSON: the snapshot is whole, its source has the error; stderr says it too.
    let out = run(&["--json", "--log-path", missing]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let snap = Snapshot::parse(&out.stdout);
    let source = snap.source(std::path::Path::new(missing));
    let error = source["error"].as_str().unwrap_or_default();
    assert!(error.contains("No such file or directory"), "{source}");
    let said = format!("nethergaze: access log {missing}: {error}\n");
    assert_eq!(out.stderr, said, "{out:?}");
    // Text: the table and its summary line on stdout, the error only on stderr.
    let out = run(&["--log-path", missing]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.contains(" IPs, "), "{out:?}");
    assert!(
        !out.stdout.contains("No such file"),
        "error on stdout: {out:?}"
    );
    assert_eq!(out.stderr, said, "{out:?}");
}

#[test]
fn one_named_log_missing_among_several_is_still_1() {
    let out = run(&[
        "--json",
        "--from-start",
        "--log-path",
        COMBINED,
        "--log-path",
        "/nonexistent-ng/*.log",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let snap = Snapshot::parse(&out.stdout);
    assert!(
        harness::num(&snap.summary, "requests") > 0,
        "{}",
        snap.summary
    );
    assert!(
        out.stderr
            .contains("nethergaze: access log /nonexistent-ng/*.log: "),
        "{out:?}"
    );
}

#[test]
fn a_named_sshd_log_that_is_missing_is_1() {
    let mut cmd = harness::nethergaze();
    cmd.args([
        "--once",
        "--json",
        "--no-geoip",
        "--no-whois",
        "--no-history",
    ])
    .args(["--proc-root", PROC_ROOT, "--log-path", COMBINED])
    .args(["--auth-log-path", "/nonexistent-nethergaze/auth.log"]);
    let out = run_cmd(cmd);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr
            .starts_with("nethergaze: auth log /nonexistent-nethergaze/auth.log: "),
        "{out:?}"
    );
}

#[test]
fn a_usage_error_is_2() {
    let out = run(&["--for", "1s"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(out.stdout, "");
}

/// A log the user cannot read (0600, root's) read as `nobody`: exit 1, and the
/// error names the fix.
#[test]
fn an_unreadable_log_names_the_adm_group_or_root() {
    if harness::skip_unless(&["setpriv"]) {
        return;
    }
    let dir = harness::tempdir();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let log = dir.path().join("access.log");
    fs::copy(COMBINED, &log).unwrap();
    fs::set_permissions(&log, fs::Permissions::from_mode(0o600)).unwrap();
    let inner = once(&["--json", "--log-path", log.to_str().unwrap()]);
    let mut setpriv = Command::new(harness::bin("setpriv"));
    setpriv.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]);
    let out = run_cmd(harness::wrapped(setpriv, &inner));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let snap = Snapshot::parse(&out.stdout);
    let error = snap.source(&log)["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(error.starts_with("Permission denied"), "{error}");
    assert!(
        error.contains("run as root, or add the user to the adm group"),
        "{error}"
    );
    assert!(out.stderr.contains(&error), "{out:?}");
}
