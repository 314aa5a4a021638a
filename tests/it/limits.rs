//! Numbers out of their range (issue 9, item 7) stop the real binary at start with
//! exit 2 and one line naming the file, the line, the key and the allowed range;
//! nothing is printed on stdout. The keys nethergaze 0.2.0 had are the exception
//! (issue 12, item 11): their value is moved into range with one warning naming
//! the same, and the run goes on.

use super::harness::{self, Running, RUN_TIMEOUT};

/// Runs `nethergaze` with `config` as its config file and `args` (the mode among
/// them); returns stderr and the file's path after checking the exit code is 2 and
/// stdout is empty.
fn refused(config: &str, args: &[&str]) -> (String, String) {
    let dir = harness::tempdir();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(&log, "").unwrap();
    let mut cmd = harness::nethergaze();
    cmd.args(["--json", "--no-auth-log", "--no-history"])
        .arg("--config")
        .arg(&path)
        .arg("--log-path")
        .arg(&log)
        .args(args);
    let out = Running::spawn(cmd).finish(RUN_TIMEOUT);
    assert_eq!(out.status.code(), Some(2), "{config:?}: {out:?}");
    assert!(out.stdout.is_empty(), "nothing may run: {out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "one line: {out:?}");
    (out.stderr, path.display().to_string())
}

#[test]
fn the_issues_examples_name_file_line_key_and_range() {
    let cases = [
        (
            "[[actions.hooks]]\nkey = \"1\"\ncommand = \"true\"\ntimeout = 0\n",
            "line 4: [[actions.hooks]] timeout: 0 is out of range (allowed: 0.1 to 86400 seconds)",
        ),
        (
            "[[actions.hooks]]\nkey = \"1\"\ncommand = \"true\"\ntimeout = 1e308\n",
            "line 4: [[actions.hooks]] timeout: 1e308 is out of range (allowed: 0.1 to 86400 seconds)",
        ),
        (
            "max_tracked_ips = 9223372036854775807\n",
            "line 1: max_tracked_ips: 9223372036854775807 is out of range (allowed: 1 to 1000000 addresses)",
        ),
        (
            "show_private_ips = false\nlog_format = \"$\"\n",
            "line 2: log_format: log format has no $remote_addr, so lines name no client",
        ),
    ];
    for (config, want) in cases {
        let (stderr, path) = refused(config, &["--once"]);
        let want = format!("nethergaze: config file {path} {want}\n");
        assert_eq!(stderr, want, "{config:?}");
    }
}

/// A key of 0.2.0's out of range: one warning naming file, line, key and
/// range, then the run with the nearer end of the range.
#[test]
fn the_issues_examples_for_0_2_0_keys_warn_and_run() {
    let cases = [
        (
            "[log]\nmax_log_lines = 100000000000\n",
            "line 2: [log] max_log_lines = 100000000000 is above 100000 (allowed: 1 to 100000 lines); using 100000",
        ),
        (
            "[log]\nformat = \"auto\"\nmax_log_lines = 9223372036854775807\n",
            "line 3: [log] max_log_lines = 9223372036854775807 is above 100000 (allowed: 1 to 100000 lines); using 100000",
        ),
    ];
    for (config, want) in cases {
        let dir = harness::tempdir();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config).unwrap();
        let log = dir.path().join("access.log");
        std::fs::write(&log, "").unwrap();
        let mut cmd = harness::nethergaze();
        cmd.args(["--once", "--json", "--no-auth-log", "--no-history"])
            .arg("--config")
            .arg(&path)
            .arg("--log-path")
            .arg(&log);
        let out = Running::spawn(cmd).finish(RUN_TIMEOUT);
        assert_eq!(out.status.code(), Some(0), "{config:?}: {out:?}");
        assert!(out.stdout.contains("\"type\":\"summary\""), "{out:?}");
        let want = format!(
            "nethergaze: warning: config file {} {want}\n",
            path.display()
        );
        assert_eq!(out.stderr, want, "{config:?}");
    }
}

#[test]
fn flags_that_carry_numbers_have_the_same_ranges() {
    let (stderr, _) = refused("", &["--for", "9000000h"]);
    assert_eq!(
        stderr,
        "nethergaze: --for: `9000000h` is out of range (allowed: 1 to 31536000 seconds)\n"
    );
    let (stderr, _) = refused("", &["--once", "--connections-interval", "1e308"]);
    assert_eq!(
        stderr,
        "nethergaze: --connections-interval: 1e308 is out of range (allowed: 0.1 to 86400 seconds)\n"
    );
}
