//! The table's bounds seen through the real binary (issue 9): what a flood does at
//! `max_tracked_ips`, and what the bounded string store shows once unique strings
//! have filled it. Logs are generated here, one second of event time per 50 lines.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use super::harness::{self, num, Running, Snapshot, RUN_TIMEOUT};

const START: i64 = 1_764_000_000; // 2025-11-24T16:00:00Z

/// `24/Nov/2025:16:00:00 +0000` for `START + secs` (the tests stay within the day).
fn clf_time(secs: i64) -> String {
    let t = START + secs;
    let (h, m, s) = (t / 3600 % 24, t / 60 % 60, t % 60);
    format!("24/Nov/2025:{h:02}:{m:02}:{s:02} +0000")
}

/// One combined line; `n` (its position in the log) sets its time.
fn line(out: &mut String, n: usize, ip: &str, path: &str, status: u16, ua: &str) {
    let _ = writeln!(
        out,
        r#"{ip} - - [{}] "GET {path} HTTP/1.1" {status} 512 "-" "{ua}""#,
        clf_time(n as i64 / 50)
    );
}

/// `nethergaze --once --json --from-start` over `log` (and `auth`), with `config`
/// written to a file, plus `extra` flags.
fn once(dir: &Path, log: &str, auth: Option<&str>, config: &str, extra: &[&str]) -> Snapshot {
    let (log_path, auth_path, conf) = (
        dir.join("access.log"),
        dir.join("auth.log"),
        dir.join("config.toml"),
    );
    std::fs::write(&log_path, log).unwrap();
    std::fs::write(&conf, config).unwrap();
    let mut cmd = harness::nethergaze();
    cmd.env("TZ", "UTC");
    cmd.args([
        "--once",
        "--json",
        "--from-start",
        "--no-geoip",
        "--no-whois",
    ]);
    cmd.args(["--no-history", "--proc-root"]);
    cmd.arg(dir.join("no-proc"))
        .arg("--config")
        .arg(&conf)
        .arg("--log-path")
        .arg(&log_path);
    match auth {
        Some(text) => {
            std::fs::write(&auth_path, text).unwrap();
            cmd.arg("--auth-log-path").arg(&auth_path);
        }
        None => {
            cmd.arg("--no-auth-log");
        }
    }
    cmd.args(extra);
    let out = Running::spawn(cmd).finish(RUN_TIMEOUT);
    assert!(out.status.success(), "{out:?}");
    Snapshot::parse(&out.stdout)
}

/// Issue 9, item 2: a sqlmap prober and a burst, then 3 000 one-request IPv6
/// clients against `max_tracked_ips = 200`, and an sshd brute forcer in the auth
/// log (a row of its own, whichever log is read first). `--suspicious` still lists
/// all three, and the summary says how many rows were evicted.
#[test]
fn a_flood_at_the_cap_keeps_the_flagged_rows() {
    let dir = harness::tempdir();
    let mut log = String::new();
    let mut n = 0;
    let mut next = |log: &mut String, ip: &str, path: &str, status: u16, ua: &str| {
        line(log, n, ip, path, status, ua);
        n += 1;
    };
    next(
        &mut log,
        "9.9.9.9",
        "/item.php?id=1%27",
        500,
        "sqlmap/1.7.2#stable (https://sqlmap.org)",
    );
    for _ in 0..100 {
        next(&mut log, "1.0.0.7", "/api", 200, "python-requests/2.31");
    }
    let flood = 3000;
    for c in 0..flood {
        next(
            &mut log,
            &format!("2a01:4f8:0:{c:x}::1"),
            "/",
            200,
            "Mozilla/5.0",
        );
    }
    let mut auth = String::new();
    for s in 0..5 {
        let _ = writeln!(
            auth,
            "2025-11-24T16:00:0{s}+00:00 web1 sshd[9{s}]: Failed password for root from 8.8.4.4 port 5000{s} ssh2"
        );
    }
    let config = "max_tracked_ips = 200\n";
    let snap = once(dir.path(), &log, Some(&auth), config, &["--suspicious"]);
    let flagged = [
        ("8.8.4.4", "auth_failures"),
        ("9.9.9.9", "scanner_ua"),
        ("1.0.0.7", "burst"),
    ];
    for (ip, reason) in flagged {
        let row = snap.ip(ip);
        assert!(harness::reasons(row).contains(&reason), "{ip}: {row}");
    }
    assert_eq!(snap.ips.len(), flagged.len(), "only the flagged rows");
    assert_eq!(num(&snap.summary, "auth_failures"), 5);
    // 3 003 addresses came; the table held at most 200 of them at the end.
    let evicted = num(&snap.summary, "evicted");
    let everyone = once(dir.path(), &log, Some(&auth), config, &[]);
    let kept = everyone.ips.len() as u64;
    assert!(kept <= 200, "{kept}");
    assert_eq!(evicted, flood + 3 - kept, "{}", snap.summary);
}

/// Issue 9, item 3: 12 000 clients with one unique 500-byte path and user agent each
/// (more than the 6 MiB string store), 3 000 with short ones, then probers. The
/// newest requests are readable in full; the oldest client's strings were dropped,
/// and a dropped string is `null` in the JSON, not `"…"`.
#[test]
fn later_paths_stay_readable_after_unique_strings_fill_the_store() {
    let dir = harness::tempdir();
    let mut log = String::with_capacity(13 << 20);
    let mut n = 0;
    let mut next = |log: &mut String, ip: &str, path: &str, ua: &str| {
        line(log, n, ip, path, 200, ua);
        n += 1;
    };
    let v4 = |c: usize| format!("11.{}.{}.{}", c >> 16, (c >> 8) & 255, c & 255);
    for c in 0..12_000 {
        let path = format!("/long/{c}/{}", "p".repeat(480));
        let ua = format!("agent {c} {}", "u".repeat(480));
        next(&mut log, &v4(c), &path, &ua);
    }
    for c in 12_000..15_000 {
        next(&mut log, &v4(c), &format!("/s/{c}"), "curl/8.0");
    }
    let late: Vec<(String, String)> = (0..20)
        .map(|k| (format!("12.0.0.{}", k + 1), format!("/.env?late={k}")))
        .collect();
    for (ip, path) in &late {
        next(&mut log, ip, path, "late-agent/1.0");
    }
    let snap = once(dir.path(), &log, None, "", &[]);
    for (ip, path) in &late {
        let last = &snap.ip(ip)["last_request"];
        assert_eq!(last["path"], Value::from(path.as_str()), "{ip}: {last}");
        assert_eq!(last["user_agent"], "late-agent/1.0", "{ip}: {last}");
        assert!(harness::reasons(snap.ip(ip)).contains(&"exploit_path"));
    }
    let short = &snap.ip(v4(14_999))["last_request"];
    assert_eq!(short["path"], "/s/14999", "{short}");
    let first = &snap.ip(v4(0))["last_request"];
    assert_eq!(first["path"], Value::Null, "dropped: {first}");
    assert_eq!(first["user_agent"], Value::Null, "dropped: {first}");
    assert_eq!(first["method"], "GET", "methods are never dropped: {first}");
    // No `…` anywhere: a dropped string is unknown, not text.
    for row in snap.ips.values() {
        let last = &row["last_request"];
        for key in ["method", "path", "user_agent"] {
            assert_ne!(last[key], "…", "{last}");
        }
    }
}
