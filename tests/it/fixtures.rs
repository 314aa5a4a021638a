//! Headless snapshots of the fixtures in tests/data/logs (one per access format, and
//! sshd in every framing) and tests/data/proc, checked field by field: every `ip`
//! object is compared whole, so a wrong count, a lost hostile line, a forged address
//! or an unescaped byte anywhere in a row fails the test. tests/data/logs/README says
//! what each fixture line is for and where each expected number comes from.
//!
//! All fixture times are in 2023: `rpm` is 0 and `peak_rpm` is the event-time peak.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::harness::{self, num, Arg, Running, Snapshot, RUN_TIMEOUT};

/// The /proc fixture (tests/data/proc/README).
const PROC_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/proc");

/// A fixture under tests/data/logs, as an absolute path.
fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/logs")
        .join(name)
}

/// The summary's entry for the /proc fixture: 18 data lines, 2 of them
/// malformed (see its README), read once.
fn procnet_source() -> Value {
    json!({"path": format!("{PROC_ROOT}/net/tcp{{,6}}"), "kind": "sockets",
           "format": "procnet", "lines": 18, "malformed": 2, "error": null})
}

/// `--once --from-start` over one access log with the /proc fixture and no sshd log.
fn once_over(log: &str, extra: &[Arg]) -> Snapshot {
    let log = fixture(log);
    let mut args: Vec<Arg> = vec![
        &"--once",
        &"--from-start",
        &"--no-auth-log",
        &"--proc-root",
        &PROC_ROOT,
        &"--log-path",
        &log,
    ];
    args.extend_from_slice(extra);
    harness::snapshot(&args)
}

/// The full `ip` object a row must print: `fields` (which hold `ip`) over the
/// defaults (no sockets, nothing counted, no enrichment); `suspicious` follows
/// `reasons`, and `reason_ages` too unless given ([`fresh_ages`]). Log-only
/// rows must give `first_seen` and `last_seen`.
fn row(fields: &Value) -> Value {
    let mut want = json!({
        "type": "ip", "conns": 0, "conns_out": 0, "states": {}, "services": [],
        "requests": 0, "bytes": 0, "status": {}, "rpm": 0, "peak_rpm": 0,
        "auth_failures": 0, "auth_accepted": 0,
        "country": null, "city": null, "asn": null, "org": null, "whois": null,
        "suspicious": false, "reasons": [], "reason_ages": {}, "last_request": null,
        "history": null, "blocked": null,
    });
    for (key, value) in fields.as_object().unwrap() {
        let known =
            want.get(key).is_some() || ["ip", "first_seen", "last_seen"].contains(&key.as_str());
        assert!(known, "unknown key {key}");
        want[key] = value.clone();
    }
    if want["reasons"].as_array().is_some_and(|r| !r.is_empty()) {
        want["suspicious"] = json!(true);
    }
    if fields.get("reason_ages").is_none() {
        want["reason_ages"] = fresh_ages(&want["reasons"]);
    }
    want
}

/// `reason_ages` when each reason's evidence is the row's newest line (age
/// 0), as in every fixture: null for the reasons read from the sockets.
fn fresh_ages(reasons: &Value) -> Value {
    let mut ages = serde_json::Map::new();
    for code in reasons.as_array().unwrap() {
        let code = code.as_str().unwrap();
        let socket = ["syn_recv", "conns_no_requests"].contains(&code);
        ages.insert(code.into(), if socket { Value::Null } else { json!(0) });
    }
    Value::Object(ages)
}

/// `last_request` of a row.
fn request(time: &str, method: &str, path: &str, status: u16, bytes: u64, ua: &str) -> Value {
    json!({"time": time, "method": method, "path": path, "status": status,
           "bytes": bytes, "user_agent": ua})
}

/// Asserts that the snapshot holds exactly the rows of `want` plus `extra_ips` (nothing
/// forged, nothing lost), and that each row of `want` is, field by field, [`row`].
fn assert_rows(snap: &Snapshot, want: &[Value], extra_ips: &[&str]) {
    let mut expected: Vec<&str> = want.iter().map(|w| w["ip"].as_str().unwrap()).collect();
    expected.extend_from_slice(extra_ips);
    expected.sort_unstable();
    let mut got: Vec<&str> = snap.ips.keys().map(String::as_str).collect();
    got.sort_unstable();
    assert_eq!(got, expected, "rows of the snapshot");
    assert_eq!(
        num(&snap.summary, "ips"),
        expected.len() as u64,
        "summary ips"
    );
    for fields in want {
        let ip = fields["ip"].as_str().unwrap();
        let want = row(fields);
        assert_eq!(ticked_once(snap.ip(ip).clone(), &want), want, "row {ip}");
    }
}

/// `got` with each reason age one second over `want`'s set to it: an age
/// adds the wall-clock time since the row's newest line was read, and the
/// clock may tick once between reading a line and the snapshot.
fn ticked_once(mut got: Value, want: &Value) -> Value {
    let Some(ages) = got["reason_ages"].as_object_mut() else {
        return got;
    };
    for (reason, age) in ages.iter_mut() {
        if let (Some(g), Some(w)) = (age.as_u64(), want["reason_ages"][reason].as_u64()) {
            if g == w + 1 {
                *age = json!(w);
            }
        }
    }
    got
}

/// The rows the /proc fixture adds to every run without `--show-private-ips`.
const PROC_IPS: [&str; 2] = ["8.8.4.4", "2a01:4f8::1"];

/// Checks the [`PROC_IPS`] rows field by field.
fn assert_proc_rows(snap: &Snapshot) {
    assert_socket_row(
        snap,
        &json!({"ip": "8.8.4.4", "conns": 1, "conns_out": 1,
        "states": {"ESTABLISHED": 2}, "services": ["https"]}),
    );
    assert_socket_row(
        snap,
        &json!({"ip": "2a01:4f8::1", "conns": 1,
        "states": {"ESTABLISHED": 1}, "services": ["https"]}),
    );
}

/// Like the check in [`assert_rows`] for a row known from a socket dump only: its
/// first and last seen are the dump's time, so they must lie within the run.
fn assert_socket_row(snap: &Snapshot, fields: &Value) {
    let ip = fields["ip"].as_str().unwrap();
    let mut got = snap.ip(ip).clone();
    let started = str_of(&snap.summary, "started");
    let ended = str_of(&snap.summary, "ended");
    for key in ["first_seen", "last_seen"] {
        let Some(Value::String(t)) = got.as_object_mut().unwrap().remove(key) else {
            panic!("{ip}: no {key}")
        };
        assert!(
            is_rfc3339_utc(&t) && started <= t.as_str() && t.as_str() <= ended,
            "{ip}: {key} {t} outside the run {started}..{ended}"
        );
    }
    let want = row(fields);
    assert_eq!(ticked_once(got, &want), want, "row {ip}");
}

fn str_of<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {obj}"))
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
fn is_rfc3339_utc(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Asserts the summary's counters, that rates are 0 (old fixtures), that the run's
/// times are well-formed and ordered, and that the sources are exactly `sources`.
fn assert_summary(snap: &Snapshot, counts: &Value, sources: &Value) {
    let s = &snap.summary;
    for (key, value) in counts.as_object().unwrap() {
        assert_eq!(&s[key], value, "summary {key}: {s}");
    }
    assert_eq!(s["req_per_sec"], json!(0), "req_per_sec: {s}");
    assert_eq!(s["new_conns_per_sec"], json!(0), "new_conns_per_sec: {s}");
    let (started, ended) = (str_of(s, "started"), str_of(s, "ended"));
    assert!(
        is_rfc3339_utc(started) && is_rfc3339_utc(ended) && started <= ended,
        "{s}"
    );
    assert_eq!(&s["sources"], sources, "summary sources");
}

/// The summary's entry for an access-log fixture.
fn access_source(name: &str, format: &str, lines: u64, malformed: u64) -> Value {
    json!({"path": fixture(name).to_str().unwrap(), "kind": "access", "format": format,
           "lines": lines, "malformed": malformed, "error": null})
}

// Addresses used across fixtures (see tests/data/logs/README).
const CLIENT: &str = "45.33.32.156";
const BURST: &str = "185.199.108.153";
const STEADY: &str = "104.16.0.1";
const PROBER: &str = "91.198.174.192";
const V6: &str = "2a03:2880:f003:c07:face:b00c:0:2";
const SCANNER: &str = "64.233.160.5";
const ESCAPES: &str = "151.101.1.69";
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64)";

#[test]
fn combined_fixture_field_by_field() {
    let snap = once_over("combined.log", &[&"--log-format", &"combined"]);
    let rows = [
        // 4 lines, one as ::ffff:, one CRLF + +0200, one with fields after the last.
        json!({"ip": CLIENT, "requests": 4, "bytes": 6050,
            "status": {"2xx": 2, "3xx": 1, "4xx": 1}, "peak_rpm": 2,
            "last_request": request("2023-10-10T13:58:00Z", "GET", "/missing", 404, 153, "Mozilla/5.0"),
            "first_seen": "2023-10-10T13:55:36Z", "last_seen": "2023-10-10T13:58:00Z"}),
        json!({"ip": BURST, "requests": 61, "bytes": 6100, "status": {"2xx": 61},
            "peak_rpm": 61, "reasons": ["burst"],
            "last_request": request("2023-10-10T14:00:59Z", "GET", "/api/items?page=61", 200, 100, "okhttp/4.9"),
            "first_seen": "2023-10-10T14:00:00Z", "last_seen": "2023-10-10T14:00:59Z"}),
        // 61 requests, but never more than 60 in one minute: no burst.
        json!({"ip": STEADY, "requests": 61, "bytes": 610, "status": {"2xx": 61},
            "peak_rpm": 60,
            "last_request": request("2023-10-10T14:06:59Z", "GET", "/feed", 200, 10, "feedreader"),
            "first_seen": "2023-10-10T14:05:00Z", "last_seen": "2023-10-10T14:06:59Z"}),
        // TLS bytes and `-` are requests; `-` bytes is 0.
        json!({"ip": PROBER, "requests": 4, "bytes": 310, "status": {"4xx": 4},
            "peak_rpm": 4, "reasons": ["exploit_path"],
            "last_request": request("2023-10-10T14:10:03Z", "GET", "/wp-login.php", 404, 0, "python-requests/2.31"),
            "first_seen": "2023-10-10T14:10:00Z", "last_seen": "2023-10-10T14:10:03Z"}),
        json!({"ip": V6, "requests": 2, "bytes": 30, "status": {"2xx": 2}, "peak_rpm": 2,
            "last_request": request("2023-10-10T14:15:01Z", "GET", "/caf\u{FFFD}", 200, 20, "agent"),
            "first_seen": "2023-10-10T14:15:00Z", "last_seen": "2023-10-10T14:15:01Z"}),
        json!({"ip": SCANNER, "requests": 1, "bytes": 612, "status": {"2xx": 1},
            "peak_rpm": 1, "reasons": ["scanner_ua"],
            "last_request": request("2023-10-10T14:16:00Z", "GET", "/", 200, 612, "Mozilla/5.0 zgrab/0.x"),
            "first_seen": "2023-10-10T14:16:00Z", "last_seen": "2023-10-10T14:16:00Z"}),
        // Raw ESC/BEL reach the JSON only as \u escapes, which serde decoded here.
        json!({"ip": ESCAPES, "requests": 1, "status": {"4xx": 1}, "peak_rpm": 1,
            "last_request": request("2023-10-10T14:17:00Z", "GET", "/\u{1b}[2J\u{1b}]0;pwned\u{7}", 404, 0, "x\u{1b}[31m"),
            "first_seen": "2023-10-10T14:17:00Z", "last_seen": "2023-10-10T14:17:00Z"}),
    ];
    assert_rows(&snap, &rows, &PROC_IPS);
    assert_proc_rows(&snap);
    assert_summary(
        &snap,
        &json!({"connections": 2, "requests": 134, "bytes": 13712, "auth_failures": 0,
            "lines": 138, "malformed": 4}),
        &json!([
            access_source("combined.log", "combined", 138, 4),
            procnet_source()
        ]),
    );
}

#[test]
fn common_fixture_field_by_field() {
    let snap = once_over("common.log", &[&"--log-format", &"common"]);
    let rows = [
        // Escaped quotes stay as logged; combined fields after `bytes` are ignored.
        json!({"ip": CLIENT, "requests": 3, "bytes": 2338,
            "status": {"2xx": 1, "3xx": 1, "5xx": 1}, "peak_rpm": 2,
            "last_request": request("2023-10-11T08:01:00Z", "GET", r#"/q?\"a\""#, 500, 12, ""),
            "first_seen": "2023-10-11T08:00:00Z", "last_seen": "2023-10-11T08:01:00Z"}),
        // Raw TLS bytes, `-`, a NUL in the path, invalid UTF-8.
        json!({"ip": "1.1.1.1", "requests": 4, "bytes": 231,
            "status": {"1xx": 1, "2xx": 1, "4xx": 2}, "peak_rpm": 4,
            "last_request": request("2023-10-11T08:02:03Z", "GET", "/\u{FFFD}\u{FFFD}", 200, 5, ""),
            "first_seen": "2023-10-11T08:02:00Z", "last_seen": "2023-10-11T08:02:03Z"}),
    ];
    assert_rows(&snap, &rows, &PROC_IPS);
    assert_proc_rows(&snap);
    assert_summary(
        &snap,
        &json!({"connections": 2, "requests": 7, "bytes": 2569, "lines": 9, "malformed": 2}),
        &json!([
            access_source("common.log", "common", 9, 2),
            procnet_source()
        ]),
    );
}

#[test]
fn vhost_combined_fixture_field_by_field() {
    let snap = once_over("vhost_combined.log", &[&"--log-format", &"vhost_combined"]);
    let rows = [
        json!({"ip": CLIENT, "requests": 2, "bytes": 5721, "status": {"2xx": 2}, "peak_rpm": 2,
            "last_request": request("2023-10-12T09:00:05Z", "GET", r#"/cart?id=\"1\""#, 200, 321, UA),
            "first_seen": "2023-10-12T09:00:00Z", "last_seen": "2023-10-12T09:00:05Z"}),
        json!({"ip": V6, "requests": 3, "bytes": 7, "status": {"2xx": 1, "4xx": 2},
            "peak_rpm": 3,
            "last_request": request("2023-10-12T09:01:02Z", "GET", "/x\u{0}y", 200, 7, "\u{FFFD}("),
            "first_seen": "2023-10-12T09:01:00Z", "last_seen": "2023-10-12T09:01:02Z"}),
        json!({"ip": SCANNER, "requests": 1, "bytes": 99, "status": {"2xx": 1},
            "peak_rpm": 1, "reasons": ["scanner_ua"],
            "last_request": request("2023-10-12T09:02:00Z", "GET", "/?id=1%27", 200, 99,
                "sqlmap/1.7.2#stable (https://sqlmap.org)"),
            "first_seen": "2023-10-12T09:02:00Z", "last_seen": "2023-10-12T09:02:00Z"}),
    ];
    assert_rows(&snap, &rows, &PROC_IPS);
    assert_proc_rows(&snap);
    assert_summary(
        &snap,
        &json!({"connections": 2, "requests": 6, "bytes": 5827, "lines": 8, "malformed": 2}),
        &json!([
            access_source("vhost_combined.log", "vhost_combined", 8, 2),
            procnet_source()
        ]),
    );
}

#[test]
fn caddy_json_fixture_field_by_field() {
    let snap = once_over("caddy.json", &[&"--log-format", &"json"]);
    // Caddy's peer 172.16.0.2 gets no row: the client is `client_ip`.
    let rows = [
        // Nested keys and ts float (09:00:00.52Z), then flat keys and RFC 3339
        // (07:00:30Z): the last request is the last line, the times min and max.
        json!({"ip": CLIENT, "requests": 2, "bytes": 10912, "status": {"2xx": 2},
            "peak_rpm": 1,
            "last_request": request("2023-10-12T07:00:30Z", "POST", "/api", 201, 12, "ua string"),
            "first_seen": "2023-10-12T07:00:30Z", "last_seen": "2023-10-12T09:00:00Z"}),
        json!({"ip": V6, "requests": 1, "status": {"4xx": 1}, "peak_rpm": 1,
            "reasons": ["exploit_path"],
            "last_request": request("2023-10-12T09:01:00Z", "GET", "/wp-admin/", 404, 0, "Go-http-client/1.1"),
            "first_seen": "2023-10-12T09:01:00Z", "last_seen": "2023-10-12T09:01:00Z"}),
        json!({"ip": PROBER, "requests": 2, "bytes": 5, "status": {"2xx": 1, "4xx": 1},
            "peak_rpm": 2, "reasons": ["scanner_ua"],
            "last_request": request("2023-10-12T09:01:41Z", "GET", "/n\u{0}\u{FFFD}x", 200, 5,
                "nuclei - open-source project (github.com/projectdiscovery/nuclei)"),
            "first_seen": "2023-10-12T09:01:40Z", "last_seen": "2023-10-12T09:01:41Z"}),
    ];
    assert_rows(&snap, &rows, &PROC_IPS);
    assert_proc_rows(&snap);
    assert_summary(
        &snap,
        &json!({"connections": 2, "requests": 5, "bytes": 10917, "lines": 9, "malformed": 4}),
        &json!([access_source("caddy.json", "json", 9, 4), procnet_source()]),
    );
}

#[test]
fn custom_format_behind_a_trusted_proxy() {
    let config = fixture("custom.toml");
    let snap = once_over("custom.log", &[&"--config", &config]);
    // No row for the forged X-Forwarded-For entries 6.6.6.6 and 1.2.3.4.
    let rows = [
        json!({"ip": CLIENT, "requests": 3, "bytes": 600, "status": {"2xx": 3}, "peak_rpm": 3,
            "last_request": request("2023-10-13T10:00:20Z", "GET", r#"/q?\"z\""#, 200, 300, UA),
            "first_seen": "2023-10-13T10:00:00Z", "last_seen": "2023-10-13T10:00:20Z"}),
        json!({"ip": V6, "requests": 2, "status": {"4xx": 2}, "peak_rpm": 2,
            "last_request": request("2023-10-13T10:00:31Z", "", r"\x16\x03\x01", 400, 0, ""),
            "first_seen": "2023-10-13T10:00:30Z", "last_seen": "2023-10-13T10:00:31Z"}),
        // An untrusted peer keeps its request whatever its X-Forwarded-For says.
        json!({"ip": PROBER, "requests": 1, "bytes": 50, "status": {"2xx": 1}, "peak_rpm": 1,
            "last_request": request("2023-10-13T10:01:00Z", "GET", "/n\u{0}\u{FFFD}", 200, 50, "agent"),
            "first_seen": "2023-10-13T10:01:00Z", "last_seen": "2023-10-13T10:01:00Z"}),
    ];
    assert_rows(&snap, &rows, &PROC_IPS);
    // The proxy 8.8.4.4 keeps its sockets and no request.
    assert_proc_rows(&snap);
    assert_summary(
        &snap,
        &json!({"connections": 2, "requests": 6, "bytes": 650, "lines": 7, "malformed": 1}),
        &json!([
            access_source("custom.log", "custom", 7, 1),
            procnet_source()
        ]),
    );
}

#[test]
fn auto_reads_a_mixed_file_line_by_line() {
    let snap = once_over("mixed.log", &[]);
    let rows = [
        json!({"ip": CLIENT, "requests": 3, "bytes": 6000, "status": {"2xx": 2, "3xx": 1},
            "peak_rpm": 3,
            "last_request": request("2023-10-14T11:00:02Z", "GET", "/vhost", 301, 3000, UA),
            "first_seen": "2023-10-14T11:00:00Z", "last_seen": "2023-10-14T11:00:02Z"}),
        json!({"ip": V6, "requests": 2, "status": {"4xx": 2}, "peak_rpm": 2,
            "last_request": request("2023-10-14T11:00:04Z", "", "", 400, 0, ""),
            "first_seen": "2023-10-14T11:00:03Z", "last_seen": "2023-10-14T11:00:04Z"}),
        json!({"ip": PROBER, "requests": 1, "bytes": 4000, "status": {"4xx": 1},
            "peak_rpm": 1, "reasons": ["exploit_path"],
            "last_request": request("2023-10-14T11:00:06Z", "GET", "/x/../../etc/passwd", 403, 4000, "Wget"),
            "first_seen": "2023-10-14T11:00:06Z", "last_seen": "2023-10-14T11:00:06Z"}),
    ];
    assert_rows(&snap, &rows, &PROC_IPS);
    assert_proc_rows(&snap);
    // `auto` names the format of the last line it understood.
    assert_summary(
        &snap,
        &json!({"connections": 2, "requests": 6, "bytes": 10000, "lines": 9, "malformed": 3}),
        &json!([
            access_source("mixed.log", "auto(json)", 9, 3),
            procnet_source()
        ]),
    );
}

/// Unix time of a UTC civil date (Howard Hinnant's `days_from_civil`).
pub(super) fn unix_utc(y: i64, m: i64, d: i64, secs_of_day: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * 86_400 + secs_of_day
}

/// The time nethergaze must give the yearless syslog stamp `Oct 10 h:m:s` under
/// TZ=UTC: in the latest year that puts it at most a day after now.
pub(super) fn syslog_oct_10(h: i64, m: i64, s: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let this_year = (1970..3000)
        .take_while(|&y| unix_utc(y, 1, 1, 0) <= now)
        .last()
        .unwrap();
    let secs = h * 3600 + m * 60 + s;
    let year = if unix_utc(this_year, 10, 10, secs) <= now + 86_400 {
        this_year
    } else {
        this_year - 1
    };
    format!("{year}-10-10T{h:02}:{m:02}:{s:02}Z")
}

#[test]
fn sshd_fixture_in_every_framing() {
    let (empty, auth) = (fixture("empty.log"), fixture("auth.log"));
    let mut cmd = harness::nethergaze();
    cmd.env("TZ", "UTC"); // syslog stamps are local time
    cmd.args(["--json", "--no-geoip", "--no-whois", "--no-history"]);
    cmd.args(["--once", "--from-start", "--proc-root", PROC_ROOT]);
    cmd.arg("--log-path")
        .arg(&empty)
        .arg("--auth-log-path")
        .arg(&auth);
    let out = Running::spawn(cmd).finish(RUN_TIMEOUT);
    assert!(out.status.success(), "{out:?}");
    let snap = Snapshot::parse(&out.stdout);
    // No row for 6.6.6.6 or 6.6.6.7: they appear only inside forged user names or
    // behind another program's tag.
    // Seen only in sshd's log: the service is ssh (as 0.2.0 shows it).
    let rows = [
        // Four framings, ::ffff:, CRLF; the [preauth] close is no failure.
        json!({"ip": CLIENT, "services": ["ssh"], "auth_failures": 4, "reasons": ["auth_failures"],
            "first_seen": "2023-10-10T14:30:05Z", "last_seen": "2023-10-10T14:30:09Z"}),
        // Syslog framing: two failures, below the threshold of 3.
        json!({"ip": PROBER, "services": ["ssh"], "auth_failures": 2,
            "first_seen": syslog_oct_10(14, 31, 0), "last_seen": syslog_oct_10(14, 31, 3)}),
        json!({"ip": V6, "services": ["ssh"], "auth_accepted": 1,
            "first_seen": "2023-10-10T14:32:00Z", "last_seen": "2023-10-10T14:32:00Z"}),
        // max_attempts: a row, but not a failure.
        json!({"ip": SCANNER, "services": ["ssh"],
            "first_seen": "2023-10-10T14:33:00Z", "last_seen": "2023-10-10T14:33:00Z"}),
    ];
    assert_rows(&snap, &rows, &PROC_IPS);
    assert_proc_rows(&snap);
    let auth_source = json!({"path": auth.to_str().unwrap(), "kind": "auth",
        "format": "sshd", "lines": 14, "malformed": 0, "error": null});
    assert_summary(
        &snap,
        &json!({"connections": 2, "requests": 0, "auth_failures": 6, "lines": 0, "malformed": 0}),
        &json!([
            access_source("empty.log", "auto", 0, 0),
            auth_source,
            procnet_source()
        ]),
    );
}

/// `--once` over the /proc fixture alone (the access log is empty).
fn once_over_proc(extra: &[Arg]) -> Snapshot {
    once_over("empty.log", extra)
}

#[test]
fn proc_fixture_hides_non_global_addresses_by_default() {
    let snap = once_over_proc(&[]);
    assert_rows(&snap, &[], &PROC_IPS);
    assert_proc_rows(&snap);
    assert_summary(
        &snap,
        &json!({"connections": 2, "requests": 0, "bytes": 0, "lines": 0, "malformed": 0}),
        &json!([access_source("empty.log", "auto", 0, 0), procnet_source()]),
    );
}

#[test]
fn proc_fixture_with_show_private_ips_shows_every_peer() {
    let snap = once_over_proc(&[&"--show-private-ips"]);
    // Every inbound peer of tests/data/proc/README, one socket each.
    let peers = [
        ("203.0.113.7", "ESTABLISHED", "ssh"),
        ("203.0.113.9", "SYN_RECV", "http"),
        ("198.51.100.23", "TIME_WAIT", "http"),
        ("127.0.0.1", "ESTABLISHED", "pg"),
        ("203.0.113.50", "ESTABLISHED", "http"), // IPv4-mapped in tcp6
        ("2001:db8::beef", "TIME_WAIT", "ssh"),
        ("2001:db8:1::77", "SYN_RECV", "https"),
    ];
    let mut ips: Vec<&str> = peers.iter().map(|p| p.0).collect();
    ips.extend(PROC_IPS);
    assert_rows(&snap, &[], &ips);
    for (ip, state, service) in peers {
        let reasons = if state == "SYN_RECV" {
            vec!["syn_recv"]
        } else {
            vec![]
        };
        assert_socket_row(
            &snap,
            &json!({"ip": ip, "conns": 1, "states": {state: 1},
            "services": [service], "reasons": reasons}),
        );
    }
    assert_proc_rows(&snap);
    assert_summary(
        &snap,
        &json!({"connections": 9, "requests": 0, "lines": 0, "malformed": 0}),
        &json!([access_source("empty.log", "auto", 0, 0), procnet_source()]),
    );
}

#[test]
fn suspicious_prints_only_flagged_rows() {
    let snap = once_over(
        "combined.log",
        &[&"--log-format", &"combined", &"--suspicious"],
    );
    assert_rows(&snap, &[], &[BURST, PROBER, SCANNER]);
    assert!(snap.ips.values().all(|r| r["suspicious"] == json!(true)));
    // The totals still cover the whole table.
    assert_eq!(num(&snap.summary, "requests"), 134);

    let snap = once_over_proc(&[&"--show-private-ips", &"--suspicious"]);
    assert_rows(&snap, &[], &["203.0.113.9", "2001:db8:1::77"]);
    for ip in ["203.0.113.9", "2001:db8:1::77"] {
        assert_eq!(harness::reasons(snap.ip(ip)), ["syn_recv"]);
    }
}

#[test]
fn text_output_has_the_columns_and_no_escape_bytes() {
    let log = fixture("combined.log");
    let mut cmd = harness::nethergaze();
    cmd.args([
        "--no-geoip",
        "--no-whois",
        "--no-history",
        "--once",
        "--from-start",
    ]);
    cmd.args([
        "--no-auth-log",
        "--log-format",
        "combined",
        "--proc-root",
        PROC_ROOT,
    ]);
    cmd.arg("--log-path").arg(&log);
    let out = Running::spawn(cmd).finish(RUN_TIMEOUT);
    assert!(out.status.success(), "{out:?}");
    // `stdout` was decoded lossily, which keeps every control byte as it was.
    assert!(
        !out.stdout.as_bytes().contains(&0x1b),
        "ESC in:\n{}",
        out.stdout
    );
    let controls: Vec<char> = out
        .stdout
        .chars()
        .filter(|&c| c != '\n' && c.is_control())
        .collect();
    assert!(controls.is_empty(), "{controls:?} in:\n{}", out.stdout);
    let first_line = out.stdout.lines().next().unwrap();
    let header: Vec<&str> = first_line
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    let columns = "IP CC Organization Conns State Svc Reqs Bytes Auth Hx Last path";
    assert_eq!(header.join(" "), columns);
    let row_of = |first: &str| {
        out.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(first))
            .unwrap_or_else(|| panic!("no text row for {first}:\n{}", out.stdout))
    };
    // The escape sequences of the path are shown as placeholders, never sent.
    assert!(
        row_of(ESCAPES).ends_with("/?[2J?]0;pwned?"),
        "{}",
        row_of(ESCAPES)
    );
    // Suspicious rows are marked.
    assert!(row_of(&format!("!{BURST}")).ends_with("/api/items?page=61"));
    assert!(row_of(CLIENT).ends_with("/missing"));
    let totals = "9 IPs, 2 connections, 134 requests, 0 auth failures";
    assert!(out.stdout.contains(totals), "{}", out.stdout);
}

#[test]
fn no_terminal_and_no_headless_flag_is_a_usage_error() {
    let empty = fixture("empty.log");
    let mut cmd = harness::nethergaze();
    cmd.args(["--no-auth-log", "--proc-root", PROC_ROOT]);
    cmd.arg("--log-path").arg(&empty);
    let out = Running::spawn(cmd).finish(RUN_TIMEOUT);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        out.stderr.contains("--once") && out.stderr.contains("--for"),
        "{out:?}"
    );
    assert!(out.stdout.is_empty(), "{out:?}");
}

/// A misspelt key is ignored as nethergaze 0.2.0 ignored it, with a warning
/// naming key and line before the snapshot (issue 12 item 11);
/// `--check-config` turns the same warning into exit 1.
#[test]
fn unknown_config_key_is_a_warning_naming_key_and_line() {
    let dir = harness::tempdir();
    let config = dir.path().join("config.toml");
    let text =
        "log_format = \"auto\"\n\n[filters]\nsuspicious_burst_rpm = 60\nsuspicious_min_conn = 5\n";
    std::fs::write(&config, text).unwrap();
    let empty = fixture("empty.log");
    let mut cmd = harness::nethergaze();
    cmd.args([
        "--once",
        "--json",
        "--no-auth-log",
        "--proc-root",
        PROC_ROOT,
    ]);
    cmd.arg("--config")
        .arg(&config)
        .arg("--log-path")
        .arg(&empty);
    let out = Running::spawn(cmd).finish(RUN_TIMEOUT);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let named = out.stderr.contains("warning")
        && out.stderr.contains("suspicious_min_conn")
        && out.stderr.contains("line 5");
    assert!(named, "{out:?}");
    assert!(
        out.stdout.contains("\"type\":\"summary\""),
        "the run goes on: {out:?}"
    );

    let mut check = harness::nethergaze();
    check.arg("--check-config").arg("--config").arg(&config);
    let out = Running::spawn(check).finish(RUN_TIMEOUT);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains("suspicious_min_conn") && out.stderr.contains("line 5"),
        "{out:?}"
    );
}

#[test]
fn once_without_from_start_reads_nothing_from_the_logs() {
    let log = fixture("combined.log");
    let snap = harness::snapshot(&[
        &"--once",
        &"--no-auth-log",
        &"--proc-root",
        &PROC_ROOT,
        &"--log-path",
        &log,
    ]);
    assert_rows(&snap, &[], &PROC_IPS);
    assert_summary(
        &snap,
        &json!({"requests": 0, "lines": 0, "malformed": 0}),
        &json!([
            access_source("combined.log", "auto", 0, 0),
            procnet_source()
        ]),
    );
}

#[test]
fn a_file_reached_by_two_patterns_is_read_once() {
    let dir = harness::tempdir();
    let alias = dir.path().join("alias.log");
    std::os::unix::fs::symlink(fixture("combined.log"), &alias).unwrap();
    let glob = dir.path().join("*.log");
    // A symlink a glob matches is followed only when asked (issue 9 §10).
    let config = dir.path().join("nethergaze.toml");
    std::fs::write(&config, "[log]\nfollow_symlinks = true\n").unwrap();
    let snap = once_over(
        "combined.log",
        &[
            &"--log-format",
            &"combined",
            &"--log-path",
            &glob,
            &"--config",
            &config,
        ],
    );
    assert_eq!(num(&snap.summary, "requests"), 134);
    assert_eq!(num(&snap.summary, "lines"), 138);
    let source = snap.source(&alias);
    assert_eq!(num(source, "lines"), 0, "{source}");
    assert!(
        str_of(source, "error").starts_with("same file as"),
        "{source}"
    );
}

/// The sockets source counts the records it read, as a log source counts its
/// lines: here from the live netlink dump (or /proc where netlink is refused),
/// which holds at least the listener this test opens.
#[test]
fn the_live_socket_source_counts_what_it_read() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = harness::tempdir();
    let log = dir.path().join("empty.log");
    std::fs::write(&log, "").unwrap();
    let snap = harness::snapshot(&[&"--once", &"--no-auth-log", &"--log-path", &log]);
    let sources = snap.summary["sources"].as_array().unwrap();
    let sockets = sources
        .iter()
        .find(|s| s["kind"] == "sockets")
        .unwrap_or_else(|| panic!("no sockets source in {sources:?}"));
    assert!(num(sockets, "lines") >= 1, "{sockets}");
    assert!(
        num(sockets, "malformed") <= num(sockets, "lines"),
        "{sockets}"
    );
    drop(listener);
}

/// Issue 12 item 18: one count of connections (inbound sockets) and of lines
/// (access, sshd apart) in the text table, its summary line and the JSON, over
/// the fixtures (8.8.4.4 has an inbound and an outbound socket; its Conns once
/// said 2 while the header said 1).
#[test]
fn header_table_text_and_json_count_the_same() {
    let (access, auth) = (fixture("combined.log"), fixture("auth.log"));
    let args = |json: bool| {
        let mut cmd = harness::nethergaze();
        cmd.args(["--once", "--from-start", "--no-geoip", "--no-whois"]);
        cmd.args(["--no-history", "--log-path"]).arg(&access);
        cmd.arg("--auth-log-path").arg(&auth);
        cmd.args(["--proc-root", PROC_ROOT]);
        if json {
            cmd.arg("--json");
        }
        cmd
    };
    let out = harness::run_cmd(args(true));
    assert!(out.status.success(), "{out:?}");
    let snap = Snapshot::parse(&out.stdout);
    let json_conns: u64 = snap.ips.values().map(|ip| num(ip, "conns")).sum();
    let s = &snap.summary;
    assert_eq!(num(s, "connections"), json_conns, "{s}");
    assert_eq!(num(snap.ip("8.8.4.4"), "conns"), 1);
    assert_eq!(num(snap.ip("8.8.4.4"), "conns_out"), 1);

    let out = harness::run_cmd(args(false));
    assert!(out.status.success(), "{out:?}");
    let text = out.stdout;
    let mut lines = text.lines();
    let head = lines.next().unwrap();
    let at = head.find("Conns").unwrap() + "Conns".len();
    let table: Vec<&str> = lines.by_ref().take_while(|l| !l.is_empty()).collect();
    let conns_cell = |row: &str| -> u64 {
        let cell = row.get(..at).unwrap_or(row).split_whitespace().last();
        cell.and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("{row}"))
    };
    let row_8844 = table.iter().find(|r| r.starts_with("8.8.4.4 ")).unwrap();
    assert_eq!(conns_cell(row_8844), 1, "{row_8844}");
    let table_conns: u64 = table.iter().map(|r| conns_cell(r)).sum();
    let summary = lines.next().unwrap_or_default();
    let want = format!(
        "{} IPs, {} connections, {} requests, {} auth failures, {} access lines, {} sshd lines,",
        table.len(),
        table_conns,
        num(s, "requests"),
        num(s, "auth_failures"),
        num(s, "lines"),
        num(s, "auth_lines"),
    );
    assert!(summary.starts_with(&want), "{summary:?} vs {want:?}");
    assert_eq!(table_conns, json_conns);
    // Log lines by kind; the sources' own counts add up to them, records of
    // the socket source apart.
    let sources = s["sources"].as_array().unwrap();
    let of_kind = |kind: &str| -> u64 {
        let all = sources.iter().filter(|src| src["kind"] == kind);
        all.map(|src| num(src, "lines")).sum()
    };
    assert_eq!(num(s, "lines"), of_kind("access"));
    assert_eq!(num(s, "auth_lines"), of_kind("auth"));
    assert!(num(s, "auth_lines") > 0 && of_kind("sockets") > 0, "{s}");
}

/// Issue 12 item 18: `req_per_sec` of a short `--for` run tailing a log is its
/// requests over the seconds it ran, not over 60.
#[test]
fn req_per_sec_of_a_short_run_uses_its_own_window() {
    let dir = harness::tempdir();
    let log = dir.path().join("access.json");
    std::fs::write(&log, "").unwrap();
    let mut live = harness::Live::start(&[
        &"--for",
        &"3s",
        &"--log-path",
        &log,
        &"--no-auth-log",
        &"--proc-root",
        &PROC_ROOT,
    ]);
    live.wait_ready(&[&log]);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut lines = String::new();
    for n in 0..12 {
        lines.push_str(&format!(
            "{{\"ts\":{now},\"request\":{{\"remote_ip\":\"45.33.7.{n}\",\"method\":\"GET\",\"uri\":\"/\"}},\"status\":200,\"size\":1}}\n"
        ));
    }
    std::fs::write(&log, lines).unwrap();
    let snap = live.wait_end();
    let s = &snap.summary;
    assert_eq!(num(s, "requests"), 12, "{s}");
    let secs = |key: &str| rfc3339_secs(str_of(s, key));
    // The rate window ends at the later of the end and the newest line.
    let window = (secs("ended").max(now as i64) - secs("started")).clamp(1, 60);
    let rate = s["req_per_sec"].as_f64().unwrap();
    let want = (12.0 / window as f64 * 100.0).round() / 100.0;
    assert_eq!(rate, want, "{s}");
    assert!(window < 60 && rate > 12.0 / 60.0, "not 12 / 60: {s}");
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SSZ` (days from civil date,
/// Howard Hinnant's algorithm).
fn rfc3339_secs(t: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| -> i64 { t[r].parse().unwrap() };
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
}
