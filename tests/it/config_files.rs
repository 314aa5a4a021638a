//! Issue 12 item 11: config files written for nethergaze 0.2.0 never stop the
//! start. What 0.2.0 ignored or accepted loads, with one warning per key on
//! stderr before any output; `--check-config` prints the same warnings and
//! exits 1; what can't mean anything is still exit 2; and
//! `/etc/nethergaze/config.toml` is read when the user has no file (tested
//! on the real path, in a private mount namespace).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::harness::{self, run_cmd, Output};

/// 0.2.0's own files, vendored from its sdist (see the README beside them).
fn vendored(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/nethergaze-0.2.0")
        .join(name)
}

/// A `--once` run on the fixtures with `config`: the log and sockets come
/// from flags, so only the file's other keys matter.
fn start_with(config: &Path) -> Output {
    let mut cmd = harness::on_fixtures();
    cmd.args([
        "--once",
        "--no-geoip",
        "--no-whois",
        "--no-history",
        "--config",
    ])
    .arg(config);
    run_cmd(cmd)
}

fn check_config(config: &Path) -> Output {
    let mut cmd = harness::nethergaze();
    cmd.arg("--check-config").arg("--config").arg(config);
    run_cmd(cmd)
}

/// The warning lines of stderr, with the file's path replaced by `F`.
fn warnings(out: &Output, config: &Path) -> Vec<String> {
    let path = config.display().to_string();
    out.stderr
        .lines()
        .filter(|l| l.starts_with("nethergaze: warning: "))
        .map(|l| l.replace(&path, "F"))
        .collect()
}

/// Starts with exit 0 and the given warnings; `--check-config` reports the
/// same warnings, exit 0 when there are none and 1 otherwise.
fn assert_starts_with_warnings(config: &Path, want: &[&str]) {
    let start = start_with(config);
    assert_eq!(
        start.status.code(),
        Some(0),
        "{}: {start:?}",
        config.display()
    );
    assert_eq!(warnings(&start, config), want, "{start:?}");
    assert!(
        !start.stdout.contains("warning"),
        "warnings go to stderr only: {start:?}"
    );
    assert!(start.stdout.contains(r#""type":"summary""#), "{start:?}");

    let check = check_config(config);
    let code = if want.is_empty() { 0 } else { 1 };
    assert_eq!(check.status.code(), Some(code), "{check:?}");
    assert_eq!(warnings(&check, config), want, "{check:?}");
    let n = want.len();
    let summary = match n {
        0 => format!("config file {}: ok", config.display()),
        1 => format!("config file {}: 1 warning", config.display()),
        n => format!("config file {}: {n} warnings", config.display()),
    };
    assert_eq!(check.stdout.trim(), summary, "{check:?}");
}

#[test]
fn the_config_files_of_0_2_0_start_and_check_clean() {
    for name in [
        "config.example.toml",
        "pypi-config.toml",
        "pypi-minimal.toml",
    ] {
        assert_starts_with_warnings(&vendored(name), &[]);
    }
}

/// 0.2.0's example with every `# key = value` line uncommented, as a user
/// following its comments would: `[cache] cache_dir`, which 0.2.0's loader
/// never read, is the one warning.
#[test]
fn the_0_2_0_example_uncommented_starts_with_one_warning() {
    let example = fs::read_to_string(vendored("config.example.toml")).unwrap();
    let uncommented: String = example
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if rest.starts_with('[') || rest.contains(" = ") => rest,
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = harness::tempdir();
    let path = dir.path().join("config.toml");
    fs::write(&path, &uncommented).unwrap();
    let line = uncommented
        .lines()
        .position(|l| l.starts_with("cache_dir = "))
        .expect("cache_dir in 0.2.0's example")
        + 1;
    let want = format!(
        "nethergaze: warning: config file F line {line}: [cache] cache_dir ignored: 0.2.0 \
         never read it (its loader read `dir`), so its caches stayed in ~/.cache/nethergaze; \
         write `dir` to move nethergaze's cache"
    );
    assert_starts_with_warnings(&path, &[&want]);
}

/// Every kind of value the issue lists: one warning each, saying what was
/// done, printed before the snapshot.
#[test]
fn values_0_2_0_accepted_start_with_one_warning_per_key() {
    let text = r#"log_path = ""
colour_scheme = "dark"

[log]
max_log_lines = 0
max_log_entries_per_ip = 5.0

[refresh]
connections_interval = 0.05

[whois]
max_workers = 0

[cache]
cache_dir = "/srv/cache"

[theme]
accent = "red"
"#;
    let dir = harness::tempdir();
    let path = dir.path().join("config.toml");
    fs::write(&path, text).unwrap();
    let want = [
        r#"nethergaze: warning: config file F line 1: log_path = "" reads no access log, as in 0.2.0 (sockets and sshd only)"#,
        "nethergaze: warning: config file F line 2: unknown key `colour_scheme` at the top level ignored (known: log_path, log_format, interface, show_private_ips, trusted_proxies, max_tracked_ips, log, refresh, geoip, whois, auth, cache, filters, actions, history)",
        "nethergaze: warning: config file F line 5: [log] max_log_lines = 0 meant no limit in 0.2.0; using the maximum, 100000",
        "nethergaze: warning: config file F line 6: [log] max_log_entries_per_ip = 5.0 is not an integer; using 5",
        "nethergaze: warning: config file F line 9: [refresh] connections_interval = 0.05 is below 0.1 (allowed: 0.1 to 86400 seconds); using 0.1",
        "nethergaze: warning: config file F line 12: [whois] max_workers = 0 let no lookup run in 0.2.0; whois lookups are off (write [whois] enabled = false)",
        "nethergaze: warning: config file F line 15: [cache] cache_dir ignored: 0.2.0 never read it (its loader read `dir`), so its caches stayed in ~/.cache/nethergaze; write `dir` to move nethergaze's cache",
        "nethergaze: warning: config file F line 17: unknown section [theme] ignored",
    ];
    assert_starts_with_warnings(&path, &want);

    // Without --log-path, `log_path = ""` reads no access log, as 0.2.0 did;
    // the warnings come before the snapshot (both streams on one pipe).
    let script = r#""$@" 2>&1"#;
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script, "sh"]);
    let mut inner = harness::nethergaze();
    inner
        .args([
            "--once",
            "--json",
            "--no-geoip",
            "--no-history",
            "--no-auth-log",
        ])
        .arg("--proc-root")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/proc"))
        .arg("--config")
        .arg(&path);
    let out = run_cmd(harness::wrapped(cmd, &inner));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines.len() > want.len(), "{out:?}");
    let path_s = path.display().to_string();
    for (got, want) in lines.iter().zip(want) {
        assert_eq!(got.replace(&path_s, "F"), want, "warnings first: {out:?}");
    }
    let summary = lines.last().unwrap();
    assert!(summary.contains(r#""type":"summary""#), "{out:?}");
    assert!(
        !summary.contains(r#""kind":"access""#),
        "no access log source: {summary}"
    );
}

/// A regex or CIDR that can't compile still stops the start (exit 2), and
/// `--check-config` says the same.
#[test]
fn what_means_nothing_is_still_exit_2() {
    let dir = harness::tempdir();
    for (text, want) in [
        (
            "[filters]\nexploit_path_patterns = [\"(unclosed\"]\n",
            "line 2: [filters] exploit_path_patterns: invalid regex `(unclosed`",
        ),
        (
            "trusted_proxies = [\"10.0.0.300/8\"]\n",
            "line 1: trusted_proxies: invalid CIDR `10.0.0.300/8`",
        ),
    ] {
        let path = dir.path().join("config.toml");
        fs::write(&path, text).unwrap();
        for out in [start_with(&path), check_config(&path)] {
            assert_eq!(out.status.code(), Some(2), "{text:?}: {out:?}");
            assert!(out.stderr.contains(want), "{text:?}: {out:?}");
            assert!(out.stdout.is_empty(), "{out:?}");
        }
    }
}

/// `sh -c SCRIPT` in a private mount namespace where `/etc` shows the real
/// `/etc` with `etc_extra` laid over it (a read-only overlay: nothing is
/// written to the real /etc, and nothing is seen outside).
fn with_etc_overlay(etc_extra: &Path, inner: &Command) -> Command {
    let script = format!(
        "mount -t overlay overlay -o lowerdir={}:/etc /etc && exec \"$@\"",
        etc_extra.display()
    );
    harness::wrapped(harness::in_private_mounts(&script, "sh"), inner)
}

#[test]
fn etc_nethergaze_config_is_read_when_the_user_has_none() {
    if harness::skip_unless(&["unshare", "mount"]) {
        return;
    }
    let dir = harness::tempdir();
    let extra = dir.path().join("etc");
    fs::create_dir_all(extra.join("nethergaze")).unwrap();
    fs::write(
        extra.join("nethergaze/config.toml"),
        "[refresh]\nconnections_interval = 0.01\n",
    )
    .unwrap();
    let home = dir.path().join("home");
    fs::create_dir_all(&home).unwrap();
    let check = |args: &[&str]| {
        let mut inner = harness::nethergaze();
        inner
            .env("HOME", &home)
            .env_remove("XDG_CONFIG_HOME")
            .arg("--check-config")
            .args(args);
        run_cmd(with_etc_overlay(&extra, &inner))
    };

    let out = check(&[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        out.stdout.trim(),
        "config file /etc/nethergaze/config.toml: 1 warning",
        "{out:?}"
    );
    assert!(
        out.stderr.contains(
            "config file /etc/nethergaze/config.toml line 2: [refresh] connections_interval = 0.01"
        ),
        "{out:?}"
    );

    // The user's file wins over the system's.
    let user = home.join(".config/nethergaze");
    fs::create_dir_all(&user).unwrap();
    fs::write(user.join("config.toml"), "interface = \"eth0\"\n").unwrap();
    let out = check(&[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let want = format!("config file {}: ok", user.join("config.toml").display());
    assert_eq!(out.stdout.trim(), want, "{out:?}");

    // An explicit --config that does not exist stays an error.
    let out = check(&["--config", "/nonexistent-ng/config.toml"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("--config"), "{out:?}");
}
