//! Golden snapshots: `--once` output over the fixture corpus, as text and as `--json`,
//! compared byte for byte with tests/data/golden/. The JSON is a contract (schema,
//! key order, number formatting, null vs missing, escaping) and the text is what an
//! operator reads, so any change to either shows here as a diff.
//!
//! Runs are made deterministic with `--no-whois`, `--proc-root tests/data/proc`,
//! GeoIP off or from databases the test writes, no config file, `TZ=UTC` (syslog
//! stamps are local time) and `--color never`. What still varies per run is
//! normalised, and only that:
//! - a timestamp within this test's own wall-clock window (the summary's `started`
//!   and `ended`, a socket-only row's `first_seen`/`last_seen`, which are the dump's
//!   time, and history's `first_seen` for such a row) becomes `<now>`;
//! - the inferred year of auth.log's yearless syslog stamps (`Oct 10 14:31:0x`)
//!   becomes `<year>`;
//! - the checkout's path becomes `$ROOT`, the test's temporary directory `$TMP`;
//! - in the one timed run (`--for`, for whois), how often /proc was read: the
//!   socket source's `lines` and `malformed` (the text's line counts are log
//!   lines only since issue 12 item 18, so they stay exact);
//! - the numbers in `reason_ages` become `<age>`: an age adds the wall-clock
//!   time since the row's newest line was read, which a tick of the clock
//!   during the run moves by a second (tests/it/fixtures.rs checks the ages);
//! - what this host's vnstat says (the summary's `vnstat` object becomes
//!   `<host>`, the text's `vnstat …` line goes): tests/it/vnstat.rs checks it.
//!
//! `NETHERGAZE_BLESS_GOLDEN=1 cargo test --test tests it::golden` rewrites the files;
//! review the diff before committing it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use mmdb_writer::Value;

use super::enrich::{asn, city, mmdb};
use super::fixtures::{syslog_oct_10, unix_utc};
use super::harness::{self, Running, RUN_TIMEOUT};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn data(path: &str) -> PathBuf {
    Path::new(ROOT).join("tests/data").join(path)
}

/// The access fixtures that `--log-format auto` reads (custom.log needs its config).
const ACCESS_LOGS: [&str; 5] = [
    "logs/combined.log",
    "logs/common.log",
    "logs/vhost_combined.log",
    "logs/caddy.json",
    "logs/mixed.log",
];

/// `nethergaze --from-start --proc-root … ARGS` with a clean environment.
fn nethergaze(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Command {
    let mut cmd = harness::nethergaze();
    cmd.env("TZ", "UTC")
        .args(["--from-start", "--color", "never", "--proc-root"])
        .arg(data("proc"));
    for arg in args {
        cmd.arg(arg);
    }
    cmd
}

/// `nethergaze --once --no-whois --from-start --proc-root … ARGS`.
fn once(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Command {
    let mut cmd = nethergaze(&[&"--once", &"--no-whois"]);
    cmd.args(args);
    cmd
}

/// Every access fixture and the sshd fixture.
fn on_corpus(cmd: &mut Command) {
    for log in ACCESS_LOGS {
        cmd.arg("--log-path").arg(data(log));
    }
    cmd.arg("--auth-log-path").arg(data("logs/auth.log"));
}

/// Runs `cmd`, asserts exit 0, and returns its stdout.
fn stdout_of(cmd: Command) -> String {
    let out = Running::spawn(cmd).finish(RUN_TIMEOUT);
    assert!(out.status.success(), "{out:?}");
    out.stdout
}

/// The wall-clock window of a test's runs, in Unix seconds.
struct Window {
    start: i64,
    tmp: PathBuf,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl Window {
    fn open(tmp: &Path) -> Window {
        Window {
            start: unix_now(),
            tmp: tmp.to_owned(),
        }
    }

    /// `out` with what varies per run replaced (see the module comment).
    fn normalise(&self, out: &str) -> String {
        let end = unix_now();
        let mut text = out.replace(&self.tmp.display().to_string(), "$TMP");
        text = text.replace(ROOT, "$ROOT");
        for s in 0..=9 {
            let stamp = syslog_oct_10(14, 31, s);
            text = text.replace(&stamp, &format!("<year>{}", &stamp[4..]));
        }
        let text = without_ages(&without_vnstat(&text));
        replace_stamps(&text, |t| (self.start..=end).contains(&t))
    }
}

/// `out` without what this host's vnstat says: the JSON summary's `vnstat`
/// object becomes `"<host>"`, the text's `vnstat IFACE YYYY-MM: …` line goes.
fn without_vnstat(out: &str) -> String {
    let mut text = String::with_capacity(out.len());
    for line in out.split_inclusive('\n') {
        if line.starts_with("vnstat ") {
            continue;
        }
        match line.find("\"vnstat\":{") {
            Some(at) => {
                let close = line[at..].find('}').map_or(line.len(), |c| at + c + 1);
                text.push_str(&line[..at]);
                text.push_str("\"vnstat\":\"<host>\"");
                text.push_str(&line[close..]);
            }
            None => text.push_str(line),
        }
    }
    text
}

/// `out` with every number inside a `"reason_ages":{…}` object replaced by
/// `<age>` (the object holds no nested braces).
fn without_ages(out: &str) -> String {
    const KEY: &str = "\"reason_ages\":{";
    let mut text = String::with_capacity(out.len());
    let mut rest = out;
    while let Some(at) = rest.find(KEY) {
        let body = at + KEY.len();
        let close = rest[body..].find('}').map_or(rest.len(), |c| body + c);
        text.push_str(&rest[..body]);
        let mut digits = false;
        for c in rest[body..close].chars() {
            if c.is_ascii_digit() {
                if !digits {
                    text.push_str("<age>");
                }
                digits = true;
            } else {
                digits = false;
                text.push(c);
            }
        }
        rest = &rest[close..];
    }
    text.push_str(rest);
    text
}

/// Every `"YYYY-MM-DDTHH:MM:SSZ"` whose time satisfies `now` becomes `"<now>"`.
fn replace_stamps(text: &str, now: impl Fn(i64) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('"') {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        if let Some(t) = rest.get(..20).and_then(parse_stamp) {
            if now(t) && rest[20..].starts_with('"') {
                out.push_str("<now>");
                rest = &rest[20..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn parse_stamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let shape = b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().ok();
    let secs = n(11..13)? * 3600 + n(14..16)? * 60 + n(17..19)?;
    Some(unix_utc(n(0..4)?, n(5..7)?, n(8..10)?, secs))
}

/// Compares `got` with tests/data/golden/`name`, or writes it there when
/// `NETHERGAZE_BLESS_GOLDEN=1`.
fn assert_golden(name: &str, got: &str) {
    let path = data("golden").join(name);
    if std::env::var_os("NETHERGAZE_BLESS_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (NETHERGAZE_BLESS_GOLDEN=1 writes it)",
            path.display()
        )
    });
    if got != want {
        let line = got
            .lines()
            .zip(want.lines())
            .position(|(g, w)| g != w)
            .unwrap_or_else(|| got.lines().count().min(want.lines().count()));
        panic!(
            "{name} differs from the golden file at line {}:\n got: {:?}\nwant: {:?}\n\nwhole output:\n{got}",
            line + 1,
            got.lines().nth(line),
            want.lines().nth(line),
        );
    }
}

/// One case: the same run as JSON Lines and as text.
fn assert_both(name: &str, window: &Window, make: impl Fn() -> Command) {
    let mut json = make();
    json.arg("--json");
    assert_golden(
        &format!("{name}.jsonl"),
        &window.normalise(&stdout_of(json)),
    );
    assert_golden(
        &format!("{name}.txt"),
        &window.normalise(&stdout_of(make())),
    );
}

#[test]
fn corpus_without_history() {
    let dir = harness::tempdir();
    let window = Window::open(dir.path());
    assert_both("corpus", &window, || {
        let mut cmd = once(&[&"--no-geoip", &"--no-history"]);
        on_corpus(&mut cmd);
        cmd
    });
    assert_both("corpus-suspicious", &window, || {
        let mut cmd = once(&[&"--no-geoip", &"--no-history", &"--suspicious"]);
        on_corpus(&mut cmd);
        cmd
    });
}

/// The corpus grouped by network (`--group-by net`, issue 15 item 3): one
/// `group` object a /24 or /64, then the summary as without grouping; with
/// `--suspicious`, only the groups flagged together or through a member.
#[test]
fn corpus_grouped_by_network() {
    let dir = harness::tempdir();
    let window = Window::open(dir.path());
    assert_both("corpus-group-net", &window, || {
        let mut cmd = once(&[&"--no-geoip", &"--no-history", &"--group-by", &"net"]);
        on_corpus(&mut cmd);
        cmd
    });
    assert_both("corpus-group-net-suspicious", &window, || {
        let mut cmd = once(&[
            &"--no-geoip",
            &"--no-history",
            &"--group-by",
            &"net",
            &"--suspicious",
        ]);
        on_corpus(&mut cmd);
        cmd
    });
}

/// The corpus read three times into one history file: the JSON of the second run
/// and the text of the third. The run's own session is saved before it prints;
/// log lines count once (issue 11: lifetime requests are the corpus's, and an
/// address seen only in lines read again gains no session), while what the
/// sockets show is seen anew each run (`sessions` 2, then Hx 3).
#[test]
fn corpus_with_history() {
    let dir = harness::tempdir();
    let window = Window::open(dir.path());
    let db = dir.path().join("history.db");
    let make = || {
        let mut cmd = once(&[&"--no-geoip", &"--history-db", &db]);
        on_corpus(&mut cmd);
        cmd
    };
    stdout_of(make());
    assert_both("corpus-history", &window, make);
}

#[test]
fn custom_format_behind_a_proxy() {
    let dir = harness::tempdir();
    let window = Window::open(dir.path());
    assert_both("custom", &window, || {
        let mut cmd = once(&[&"--no-geoip", &"--no-history", &"--no-auth-log"]);
        cmd.arg("--config")
            .arg(data("logs/custom.toml"))
            .arg("--log-path")
            .arg(data("logs/custom.log"));
        cmd
    });
}

/// The sshd corpus: loopback and private peers, so `--show-private-ips`.
#[test]
fn sshd_corpus() {
    let dir = harness::tempdir();
    let window = Window::open(dir.path());
    assert_both("sshd", &window, || {
        let mut cmd = once(&[&"--no-geoip", &"--no-history", &"--show-private-ips"]);
        cmd.arg("--log-path")
            .arg(data("logs/empty.log"))
            .arg("--auth-log-path")
            .arg(data("sshd_corpus.txt"));
        cmd
    });
}

fn country(cc: &str) -> Value {
    Value::map([("country", Value::map([("iso_code", Value::from(cc))]))])
}

/// GeoIP from databases written here: city and ASN, country only, ASN only, an
/// organisation with an escape sequence, a name longer than the text column.
#[test]
fn corpus_with_geoip() {
    let dir = harness::tempdir();
    let window = Window::open(dir.path());
    let city_db = dir.path().join("GeoLite2-City.mmdb");
    let asn_db = dir.path().join("GeoLite2-ASN.mmdb");
    let cities = [
        ("45.33.0.0/16", city("US", "Fremont")),
        ("8.8.8.0/24", city("US", "")),
        ("185.199.108.0/24", country("NL")),
        ("2a03:2880::/32", city("IE", "Dublin \u{202e}evil")),
    ];
    let asns = [
        ("45.33.0.0/16", asn(63949, "Akamai\u{1b}[2J Cloud")),
        ("8.8.4.0/24", asn(15169, "GOOGLE")),
        ("8.8.8.0/24", asn(15169, "GOOGLE")),
        (
            "91.198.174.0/24",
            asn(
                14907,
                "Wikimedia Foundation Inc. with a name longer than thirty",
            ),
        ),
    ];
    std::fs::write(&city_db, mmdb("GeoLite2-City", &cities)).unwrap();
    std::fs::write(&asn_db, mmdb("GeoLite2-ASN", &asns)).unwrap();
    let config = dir.path().join("config.toml");
    let toml = format!("[geoip]\ncity_db = {city_db:?}\nasn_db = {asn_db:?}\n");
    std::fs::write(&config, toml).unwrap();
    assert_both("corpus-geoip", &window, || {
        let mut cmd = once(&[&"--no-history", &"--config", &config]);
        on_corpus(&mut cmd);
        cmd
    });
}

/// Databases that are not there: the GeoIP source's `note` key (present only
/// where there is one) and the text output's `note` line.
#[test]
fn missing_geoip_databases() {
    let dir = harness::tempdir();
    let window = Window::open(dir.path());
    let config = dir.path().join("config.toml");
    let absent = dir.path().join("absent");
    let toml = format!(
        "[geoip]\ncity_db = {:?}\nasn_db = {:?}\n",
        absent.join("GeoLite2-City.mmdb"),
        absent.join("GeoLite2-ASN.mmdb")
    );
    std::fs::write(&config, toml).unwrap();
    assert_both("geoip-missing", &window, || {
        let mut cmd = once(&[&"--no-history", &"--no-auth-log", &"--config", &config]);
        cmd.arg("--log-path").arg(data("logs/combined.log"));
        cmd
    });
}

/// Whois answers as a `--for` run finds them in the cache (`[cache] dir`'s whois.db,
/// read as each row appears: a run with a cached answer for every row asks no
/// registry):
/// an answer with a country and no GeoIP (the CC column's fallback), one with only a
/// network name (the Org column's), an escape sequence, and remembered failures.
#[test]
fn whois_answers_from_the_cache() {
    let dir = harness::tempdir();
    let window = Window::open(dir.path());
    let db = dir.path().join("history.db");
    let config = super::whois::config_with(dir.path(), "http://127.0.0.1:9/", true);
    let log = data("logs/combined.log");
    let args: [&dyn AsRef<std::ffi::OsStr>; 7] = [
        &"--no-geoip",
        &"--no-auth-log",
        &"--history-db",
        &db,
        &"--log-path",
        &log,
        &"--no-whois",
    ];
    stdout_of(once(&args)); // creates the file
    seed_whois_cache(&dir.path().join("cache/whois.db"));
    // `--for`: the whois worker runs (and is the last source), asked nothing.
    let make = || {
        let mut cmd = nethergaze(&args[..6]);
        cmd.args(["--for", "3s", "--config"]).arg(&config);
        cmd
    };
    let mut json = make();
    json.arg("--json");
    let json = window.normalise(&stdout_of(json));
    assert_golden(
        "whois.jsonl",
        &without_read_counts(&json, "\"format\":\"procnet\","),
    );
    let text = window.normalise(&stdout_of(make()));
    assert_golden("whois.txt", &text);
}

/// `text` with the two numbers after `anchor` (the socket source's `lines` and
/// `malformed`) replaced by `<n>`: a timed run reads /proc once per tick, and
/// when the last tick lands against the end varies.
fn without_read_counts(text: &str, anchor: &str) -> String {
    let Some(at) = text.find(anchor).map(|i| i + anchor.len()) else {
        panic!("no {anchor} in {text}")
    };
    let mut out = text[..at].to_owned();
    let mut rest = &text[at..];
    for _ in 0..2 {
        let start = rest.find(|c: char| c.is_ascii_digit()).unwrap();
        let end = start + rest[start..].find(|c: char| !c.is_ascii_digit()).unwrap();
        out.push_str(&rest[..start]);
        out.push_str("<n>");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A fresh cached answer (or failure) for every row of combined.log + /proc, in the
/// cache file `db` (made here, as a user might have copied it: 0644, no version).
fn seed_whois_cache(db: &Path) {
    let answer = |network: &str, cidr: Option<&str>, org: Option<&str>, cc: Option<&str>| {
        serde_json::json!({"network": network, "cidr": cidr, "org": org, "country": cc,
                           "abuse": "abuse@example.net"})
        .to_string()
    };
    let answers = [
        (
            "45.33.32.156",
            answer(
                "LINODE-US",
                Some("45.33.0.0/17"),
                Some("Akamai"),
                Some("US"),
            ),
        ),
        ("8.8.4.4", answer("GOGL", None, None, None)),
        (
            "2a01:4f8::1",
            answer(
                "HETZNER",
                Some("2a01:4f8::/32"),
                Some("Hetzner \u{1b}[2J Online"),
                Some("DE"),
            ),
        ),
    ];
    let failures = [
        "104.16.0.1",
        "185.199.108.153",
        "91.198.174.192",
        "2a03:2880:f003:c07:face:b00c:0:2",
        "64.233.160.5",
        "151.101.1.69",
    ];
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(
        "CREATE TABLE whois_cache (key TEXT PRIMARY KEY, fetched_at INTEGER NOT NULL,
         ok INTEGER NOT NULL, body TEXT NOT NULL) WITHOUT ROWID",
    )
    .unwrap();
    let now = unix_now();
    let put = "INSERT INTO whois_cache (key, fetched_at, ok, body) VALUES (?1, ?2, ?3, ?4)";
    for (ip, body) in answers {
        conn.execute(put, rusqlite::params![ip, now, true, body])
            .unwrap();
    }
    for ip in failures {
        conn.execute(put, rusqlite::params![ip, now, false, ""])
            .unwrap();
    }
}
