//! `contrib/fail2ban/` (issue 14, item 4) against the real fail2ban: the filter on a
//! recorded event stream (`tests/data/events/stream.ndjson`, written by hand to the
//! stream's schema: suspicious lines with every reason over IPv4 and IPv6, the other
//! types, and hostile `host`, `country`, `org` and `user` values that try to slip in
//! another address) read as a file and from a journal, then a private
//! `fail2ban-server` with the example jails that bans through the real nftables action
//! in a network namespace of its own.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::harness::{self, run_cmd, wait_until, Daemon, READY_TIMEOUT};

const STREAM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/events/stream.ndjson"
);
const FILTER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/contrib/fail2ban/filter.d/nethergaze.conf"
);
const JAIL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/contrib/fail2ban/jail.d/nethergaze.conf"
);
const UNIT: &str = "nethergaze-events.service";

/// Every failure the filter must find in the stream with all reasons wanted, in
/// order: the event's time (seconds since the epoch, read from its "time" field) and
/// its address. 203.0.113.10 twice: auth_failures, then breach.
const ALL: [(u64, &str); 7] = [
    (1_796_619_601, "203.0.113.10"),
    (1_796_619_602, "2001:db8::7"),
    (1_796_619_603, "203.0.113.10"),
    (1_796_619_604, "198.51.100.20"),
    (1_796_619_607, "192.0.2.77"),
    (1_796_619_609, "192.0.2.55"),
    (1_796_619_610, "2001:db8:0:1::42"),
];

/// Addresses that only appear inside string values (host, country, org, user) or
/// in lines that are not `suspicious`: never a failure.
const NEVER: [&str; 9] = [
    "198.51.100.66",
    "198.51.100.67",
    "198.51.100.68",
    "198.51.100.69",
    "198.51.100.70",
    "198.51.100.80",
    "198.51.100.81",
    "192.0.2.88",
    "192.0.2.99",
];

/// `fail2ban-regex` on `log` (a file or `systemd-journal[…]`) with `filter` (the
/// filter file, with `[options]`): each failure's time and address, in order.
fn failures(log: &str, filter: &str) -> Vec<(u64, String)> {
    let mut cmd = Command::new(harness::bin("fail2ban-regex"));
    cmd.args(["--out", "<time> <ip>", log, filter]);
    let out = run_cmd(cmd);
    assert!(out.status.success(), "{out:?}");
    out.stdout
        .lines()
        .map(|line| {
            let (time, ip) = line.split_once(' ').unwrap_or_else(|| panic!("{line:?}"));
            // The journal gives microseconds ("1796619601.123456").
            let secs = time.split('.').next().unwrap().parse().unwrap();
            (secs, ip.to_owned())
        })
        .collect()
}

fn addresses(found: &[(u64, String)]) -> Vec<&str> {
    found.iter().map(|(_, ip)| ip.as_str()).collect()
}

#[test]
fn fail2ban_regex_finds_exactly_the_suspicious_addresses() {
    if harness::skip_unless(&["fail2ban-regex"]) {
        return;
    }
    let found = failures(STREAM, FILTER);
    let expect: Vec<(u64, String)> = ALL.iter().map(|&(t, ip)| (t, ip.to_owned())).collect();
    // The times prove the datepattern read each line's own "time" (UTC).
    assert_eq!(found, expect);
    for ip in NEVER {
        assert!(!addresses(&found).contains(&ip), "{ip} found");
    }
}

/// `filter = nethergaze[reasons="…"]` picks reasons: only lines whose
/// `new_reasons` holds one of them, and a code is matched whole.
#[test]
fn reasons_picked_per_jail_match_only_their_announcements() {
    if harness::skip_unless(&["fail2ban-regex"]) {
        return;
    }
    let cases: [(&str, &[&str]); 7] = [
        ("breach|auth_failures", &["203.0.113.10", "203.0.113.10"]),
        ("breach", &["203.0.113.10"]),
        ("syn_recv", &["192.0.2.77"]),
        ("scanner_ua", &["2001:db8::7", "192.0.2.55"]),
        (
            "burst|conns_no_requests",
            &["198.51.100.20", "2001:db8:0:1::42"],
        ),
        // A prefix of a code is not the code.
        ("auth|scanner", &[]),
        // Once: auth_failures is also in the breach line's "reasons", but only
        // the first line announces it in "new_reasons".
        ("auth_failures", &["203.0.113.10"]),
    ];
    for (reasons, expect) in cases {
        let found = failures(STREAM, &format!("{FILTER}[reasons=\"{reasons}\"]"));
        assert_eq!(addresses(&found), expect, "reasons={reasons}");
    }
}

/// True when this build has `--events` (issue 14 item 1, on another branch until
/// the two are merged).
fn has_events_flag() -> bool {
    let mut cmd = harness::nethergaze();
    cmd.arg("--help");
    run_cmd(cmd).stdout.contains("--events")
}

/// nethergaze's own stream, not a hand-written one: `--events --for 2s
/// --from-start` on the fixture logs (exploit paths, scanners, sshd failures and
/// a login after them), then fail2ban-regex on what it wrote finds exactly the
/// addresses of its `suspicious` lines, in order (each announces a new reason).
#[test]
fn the_filter_matches_nethergazes_own_stream() {
    if harness::skip_unless(&["fail2ban-regex"]) {
        return;
    }
    if !has_events_flag() {
        eprintln!("SKIP: this build has no --events yet (issue 14 item 1)");
        return;
    }
    let logs = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/logs");
    let mut cmd = harness::nethergaze();
    cmd.args([
        "--events",
        "--for",
        "2s",
        "--from-start",
        "--show-private-ips",
    ])
    .args(["--no-geoip", "--no-whois", "--no-history", "--proc-root"])
    .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/proc"))
    .arg("--log-path")
    .arg(format!("{logs}/combined.log"))
    .arg("--auth-log-path")
    .arg(format!("{logs}/auth.log"));
    let out = run_cmd(cmd);
    assert!(out.status.success(), "{out:?}");
    let mut expect = Vec::new();
    for line in out.stdout.lines() {
        let event: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if event["type"] == "suspicious" {
            assert_ne!(event["new_reasons"], Value::Array(Vec::new()), "{line}");
            expect.push(event["ip"].as_str().unwrap().to_owned());
        }
    }
    assert!(
        expect.len() >= 2,
        "too few suspicious lines:\n{}",
        out.stdout
    );
    let dir = harness::tempdir();
    let stream = dir.path().join("events.ndjson");
    fs::write(&stream, &out.stdout).unwrap();
    let found = failures(stream.to_str().unwrap(), FILTER);
    assert_eq!(addresses(&found), expect, "{}", out.stdout);
}

/// Where Debian puts journal-remote: not on `PATH`.
fn journal_remote() -> Option<PathBuf> {
    [
        "/lib/systemd/systemd-journal-remote",
        "/usr/lib/systemd/systemd-journal-remote",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// journal-remote, and the `systemd` Python module (python3-systemd) that
/// fail2ban's systemd backend needs, in the Python fail2ban runs with (its `#!`
/// line: a `python3` earlier in `$PATH`, pyenv's, is another one); `None` (a skip,
/// a failure under `CI=true`) when one is missing.
fn journal_backend() -> Option<PathBuf> {
    let script = fs::read_to_string(harness::bin("fail2ban-regex")).unwrap();
    let shebang = script.lines().next().and_then(|l| l.strip_prefix("#!"));
    let interpreter: Vec<&str> = shebang.unwrap_or("python3").split_whitespace().collect();
    let mut python = Command::new(interpreter[0]);
    python
        .args(&interpreter[1..])
        .args(["-c", "import systemd.journal"]);
    let missing = match (journal_remote(), run_cmd(python).status.success()) {
        (None, _) => "systemd-journal-remote not installed",
        (_, false) => "python3-systemd not installed",
        (Some(remote), true) => return Some(remote),
    };
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(!ci, "CI=true but {missing}");
    eprintln!("SKIP: {missing}");
    None
}

/// The stream as the service's journal holds it (one entry per line, `_SYSTEMD_UNIT`
/// our unit, a moment ago), plus two suspicious-looking lines the filter must leave
/// out: one from another unit (its `journalmatch`) and one from our unit's stderr,
/// which lands in the same journal (the regex's anchor). Written by the real
/// journal-remote into `dir/remote.journal`.
fn write_journal(remote: &Path, dir: &Path) -> PathBuf {
    let now_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros();
    let stream = fs::read_to_string(STREAM).unwrap();
    let other = r#"{"schema_version":1,"type":"suspicious","time":"2026-12-07T05:00:01Z","host":"web1","ip":"198.51.100.80","reasons":["breach"],"new_reasons":["breach"]}"#;
    let stderr = format!(
        "nethergaze: access log /srv/{}: Permission denied",
        other.replace("80", "81")
    );
    let entries = stream
        .lines()
        .map(|line| (UNIT, "nethergaze", 4242, line))
        .chain([
            ("other.service", "other", 7, other),
            (UNIT, "nethergaze", 4242, &stderr),
        ]);
    let mut export = Vec::new();
    for (i, (unit, ident, pid, message)) in entries.enumerate() {
        write!(
            export,
            "__REALTIME_TIMESTAMP={realtime}\n__MONOTONIC_TIMESTAMP={monotonic}\n\
             _BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=web1\n_TRANSPORT=stdout\n\
             _SYSTEMD_UNIT={unit}\nSYSLOG_IDENTIFIER={ident}\n_PID={pid}\nMESSAGE={message}\n\n",
            realtime = now_us - 1_000_000 + i as u128 * 1000,
            monotonic = 1_000_000 + i,
        )
        .unwrap();
    }
    let journal = dir.join("remote.journal");
    let mut child = Command::new(remote)
        .arg(format!("--output={}", journal.display()))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&export).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "journal-remote: {out:?}");
    journal
}

/// From the journal, fail2ban's systemd backend puts "web1 nethergaze[4242]: " before
/// each line and gives the entry's time as the date: the same addresses, and the
/// other unit's line is not read at all (the filter's journalmatch).
#[test]
fn fail2ban_regex_reads_the_same_addresses_from_the_services_journal() {
    if harness::skip_unless(&["fail2ban-regex"]) {
        return;
    }
    let Some(remote) = journal_backend() else {
        return;
    };
    let dir = harness::tempdir();
    let journal = write_journal(&remote, dir.path());
    let log = format!("systemd-journal[journalfiles=\"{}\"]", journal.display());
    let found = failures(&log, FILTER);
    let expect: Vec<&str> = ALL.iter().map(|&(_, ip)| ip).collect();
    assert_eq!(addresses(&found), expect);
}

/// A copy of /etc/fail2ban with our filter and example jails, run privately:
/// its own log, database, socket and pid file in `dir`, Debian's sshd jail off,
/// the journal jail reading `journal` and picking `breach` only, the file jail
/// (off in the example) on, polling `events`. Both ban every port with the real
/// nftables action (the server runs in a network namespace of its own).
fn private_config(dir: &Path, journal: &Path, events: &Path) -> PathBuf {
    let conf = dir.join("conf");
    let mut cp = Command::new(harness::bin("cp"));
    cp.arg("-r").arg("/etc/fail2ban").arg(&conf);
    assert!(run_cmd(cp).status.success());
    fs::copy(FILTER, conf.join("filter.d/nethergaze.conf")).unwrap();
    fs::copy(JAIL, conf.join("jail.d/nethergaze.conf")).unwrap();
    let server = format!(
        "[Definition]\nlogtarget = {}\ndbfile = {}\n",
        dir.join("fail2ban.log").display(),
        dir.join("fail2ban.sqlite3").display()
    );
    fs::write(conf.join("fail2ban.d/zz-test.local"), server).unwrap();
    let jails = format!(
        "[sshd]\nenabled = false\n\n\
         [nethergaze]\nfilter = nethergaze[reasons=\"breach\"]\n\
         backend = systemd[journalfiles=\"{journal}\"]\n\
         banaction_allports = nftables[type=allports]\n\n\
         [nethergaze-file]\nenabled = true\nbackend = polling\nlogpath = {events}\n\
         banaction_allports = nftables[type=allports]\n",
        journal = journal.display(),
        events = events.display(),
    );
    fs::write(conf.join("jail.d/zz-test.local"), jails).unwrap();
    conf
}

/// `fail2ban-client -s SOCKET ARGS`: its stdout, or `None` when it fails (the
/// server is not up yet).
fn client(socket: &Path, args: &[&str]) -> Option<String> {
    let mut cmd = Command::new(harness::bin("fail2ban-client"));
    cmd.arg("-s").arg(socket).args(args);
    let out = run_cmd(cmd);
    out.status.success().then_some(out.stdout)
}

/// The jail's "Banned IP list", sorted.
fn banned(socket: &Path, jail: &str) -> Vec<String> {
    let status = client(socket, &["status", jail]).unwrap_or_default();
    let list = status
        .lines()
        .find_map(|l| l.split_once("Banned IP list:"))
        .map_or("", |(_, list)| list);
    let mut ips: Vec<String> = list.split_whitespace().map(str::to_owned).collect();
    ips.sort();
    ips
}

fn sorted(ips: &[&str]) -> Vec<String> {
    let mut ips: Vec<String> = ips.iter().map(|ip| (*ip).to_owned()).collect();
    ips.sort();
    ips.dedup();
    ips
}

/// The recorded stream with its times moved to the last minutes: fail2ban
/// skips lines older than the jail's `findtime` (1 h), so the recording's
/// own times (all `2026-12-07T05:00:SS`) would stop banning an hour after
/// they were written.
fn stream_stamped_in_the_last_minutes() -> Vec<u8> {
    let recorded = fs::read_to_string(STREAM).unwrap();
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 120;
    let (y, m, d) = super::events::civil((secs / 86_400) as i64);
    let (hh, mm) = (secs % 86_400 / 3600, secs % 3600 / 60);
    let minute = format!("\"time\":\"{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:");
    assert!(recorded.contains("\"time\":\"2026-12-07T05:00:"));
    recorded
        .replace("\"time\":\"2026-12-07T05:00:", &minute)
        .into_bytes()
}

/// A private fail2ban-server with the example jails bans exactly the expected
/// addresses: from the journal (the `[nethergaze]` jail, `breach` only) at start,
/// and from the file (`[nethergaze-file]`) once the stream is appended to it; the
/// real nftables action puts them in its sets.
#[test]
fn a_private_fail2ban_server_bans_the_streams_addresses() {
    if harness::skip_unless(&[
        "fail2ban-server",
        "fail2ban-client",
        "unshare",
        "nsenter",
        "nft",
        "cp",
    ]) {
        return;
    }
    let Some(remote) = journal_backend() else {
        return;
    };
    let dir = harness::tempdir();
    let journal = write_journal(&remote, dir.path());
    let events = dir.path().join("events.ndjson");
    fs::write(&events, "").unwrap();
    let conf = private_config(dir.path(), &journal, &events);
    let socket = dir.path().join("fail2ban.sock");
    let mut cmd = Command::new(harness::bin("unshare"));
    cmd.args(["--net", "--"])
        .arg(harness::bin("fail2ban-server"))
        .args(["-f", "-x", "-c"])
        .arg(&conf)
        .arg("-s")
        .arg(&socket)
        .arg("-p")
        .arg(dir.path().join("fail2ban.pid"));
    let server = Daemon::spawn("fail2ban-server", cmd, &dir.path().join("server.out"));
    wait_until("fail2ban-server to start both jails", READY_TIMEOUT, || {
        server.assert_running();
        client(&socket, &["status"])
            .is_some_and(|s| s.contains("nethergaze-file") && s.contains("Number of jail:\t2"))
    });

    // The journal jail read its entries at start: breach only.
    let from_journal = sorted(&["203.0.113.10"]);
    wait_until("the journal jail's ban", READY_TIMEOUT, || {
        banned(&socket, "nethergaze") == from_journal
    });

    // Lines appended to the file are read by the file jail.
    let stream = stream_stamped_in_the_last_minutes();
    fs::OpenOptions::new()
        .append(true)
        .open(&events)
        .unwrap()
        .write_all(&stream)
        .unwrap();
    let from_file = sorted(&ALL.map(|(_, ip)| ip));
    wait_until("the file jail's bans", READY_TIMEOUT, || {
        banned(&socket, "nethergaze-file").len() >= from_file.len()
    });
    assert_eq!(banned(&socket, "nethergaze-file"), from_file);
    assert_eq!(banned(&socket, "nethergaze"), from_journal);

    // The nftables action banned them in the server's namespace.
    let mut nft = Command::new(harness::bin("nsenter"));
    nft.arg(format!("--net=/proc/{}/ns/net", server.pid()))
        .arg(harness::bin("nft"))
        .args(["list", "ruleset"]);
    let out = run_cmd(nft);
    assert!(out.status.success(), "{out:?}");
    for ip in &from_file {
        assert!(
            out.stdout.contains(ip.as_str()),
            "{ip} not in\n{}",
            out.stdout
        );
    }
    for ip in NEVER {
        assert!(!out.stdout.contains(ip), "{ip} banned:\n{}", out.stdout);
        assert!(!banned(&socket, "nethergaze-file").contains(&ip.to_owned()));
    }

    assert!(client(&socket, &["stop"]).is_some(), "{}", server.output());
    wait_until("fail2ban-server to stop", READY_TIMEOUT, || {
        server.has_exited()
    });
}
