//! RDAP through the real binary: a fake bootstrap + RDAP server on loopback,
//! `--no-whois` meaning no connection at all, and the answer cache (`whois.db` in
//! the cache folder) used from the moment a row appears.
//!
//! Why a fake and not the real peer: the registries (IANA, the RIRs) are on the
//! internet, which this machine and CI cannot reach, no Debian package ships an
//! RDAP server, and the hostile answers tested here (hangs, trickles, 10 MB bodies,
//! redirect loops, 429 with Retry-After) must be produced on demand.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::harness::{self, Running, Snapshot};

const CLIENT: &str = "45.33.32.156";

/// A fake IANA + RDAP server on loopback: its bootstrap sends every address to itself,
/// so no real registry is ever asked. Records each request's path.
pub(super) struct FakeRdap {
    /// `http://127.0.0.1:PORT/`, the `rdap_bootstrap_url`.
    pub(super) base: String,
    seen: Arc<AtomicUsize>,
    paths: Arc<Mutex<Vec<String>>>,
}

impl FakeRdap {
    /// Requests for `path` so far.
    pub(super) fn hits(&self, path: &str) -> usize {
        self.paths
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}

/// What the fake server does with one request.
enum Reply {
    /// A complete response: status line text, extra header lines, body.
    Http(&'static str, String, String),
    /// Accept, read the request, never answer.
    Hang,
    /// A 200 promising 1000 bytes, then one byte a second.
    Trickle,
    /// A 200 with this many bytes of body.
    Huge(usize),
}

type Handler = dyn Fn(&str, &str) -> Reply + Send + Sync;

/// The bootstrap files, [`RDAP_ANSWER`] for [`CLIENT`], 404 for the rest.
pub(super) fn fake_rdap() -> FakeRdap {
    fake_rdap_with(|path, _| match path {
        "/rdap/ip/45.33.32.156" => json(RDAP_ANSWER),
        _ => Reply::Http("404 Not Found", String::new(), "{}".into()),
    })
}

/// Serves the bootstrap files itself and asks `handler(path, rdap_base)` for the rest.
fn fake_rdap_with(handler: impl Fn(&str, &str) -> Reply + Send + Sync + 'static) -> FakeRdap {
    fake_rdap_routed(None, handler)
}

/// A bootstrap that sends every address to `rdap_base` (`None`: to itself).
fn fake_rdap_routed(
    rdap_base: Option<String>,
    handler: impl Fn(&str, &str) -> Reply + Send + Sync + 'static,
) -> FakeRdap {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let paths = Arc::new(Mutex::new(Vec::new()));
    let (counter, log) = (Arc::clone(&seen), Arc::clone(&paths));
    let rdap_base = rdap_base.unwrap_or_else(|| format!("{base}rdap/"));
    let handler: Arc<Handler> = Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            let (log, handler, rdap_base) =
                (Arc::clone(&log), Arc::clone(&handler), rdap_base.clone());
            std::thread::spawn(move || answer(stream, &rdap_base, &log, &*handler));
        }
    });
    FakeRdap { base, seen, paths }
}

fn json(body: &str) -> Reply {
    Reply::Http("200 OK", String::new(), body.to_owned())
}

fn answer(
    mut stream: TcpStream,
    rdap_base: &str,
    log: &Mutex<Vec<String>>,
    handler: &Handler,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    log.lock().unwrap().push(path.clone());
    let reply = match path.as_str() {
        "/ipv4.json" => json(&format!(
            r#"{{"version":"1.0","services":[[["0.0.0.0/0"],["{rdap_base}"]]]}}"#
        )),
        "/ipv6.json" => json(&format!(
            r#"{{"version":"1.0","services":[[["::/0"],["{rdap_base}"]]]}}"#
        )),
        _ => handler(&path, rdap_base),
    };
    match reply {
        Reply::Http(status, headers, body) => write!(
            stream,
            "HTTP/1.1 {status}\r\n{headers}Content-Type: application/rdap+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
        Reply::Hang => {
            std::thread::sleep(Duration::from_secs(120));
            Ok(())
        }
        Reply::Trickle => {
            write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n{{")?;
            for _ in 0..1000 {
                std::thread::sleep(Duration::from_secs(1));
                stream.write_all(b" ")?;
            }
            Ok(())
        }
        Reply::Huge(n) => {
            write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n")?;
            let chunk = vec![b'x'; 64 << 10];
            let mut sent = 0;
            while sent < n {
                stream.write_all(&chunk)?;
                sent += chunk.len();
            }
            Ok(())
        }
    }
}

const RDAP_ANSWER: &str = r#"{
  "objectClassName": "ip network",
  "handle": "NET-45-33-0-0-1",
  "startAddress": "45.33.0.0",
  "endAddress": "45.33.127.255",
  "name": "LINODE-US",
  "country": "US",
  "cidr0_cidrs": [{"v4prefix": "45.33.0.0", "length": 17}],
  "entities": [
    {"roles": ["registrant"], "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Akamai Technologies, Inc."]]]},
    {"roles": ["abuse"], "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Abuse"], ["email", {}, "text", "abuse@linode.com"]]]}
  ]
}"#;

/// A config file in `dir` pointing RDAP at `base` and legacy whois at a closed
/// loopback port (so a failed RDAP lookup never reaches the real whois.iana.org),
/// with its cache folder in `dir`.
pub(super) fn config_with(dir: &Path, base: &str, enabled: bool) -> std::path::PathBuf {
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    config_full(dir, base, enabled, &closed.to_string())
}

fn config_full(dir: &Path, base: &str, enabled: bool, whois: &str) -> std::path::PathBuf {
    let config = dir.join("config.toml");
    let cache = dir.join("cache");
    std::fs::write(
        &config,
        format!(
            "[whois]\nenabled = {enabled}\nrdap_bootstrap_url = {base:?}\n\
             whois_server = {whois:?}\n[cache]\ndir = {cache:?}\n"
        ),
    )
    .unwrap();
    config
}

/// A 6 s live run over the fixtures; `--no-history` unless `extra` names a file.
fn run_for(config: &Path, extra: &[&str]) -> Snapshot {
    let mut cmd = harness::on_fixtures();
    cmd.args(["--for", "6s", "--from-start", "--no-geoip", "--config"])
        .arg(config)
        .args(extra);
    if !extra.contains(&"--history-db") {
        cmd.arg("--no-history");
    }
    let out = Running::spawn(cmd).finish(Duration::from_secs(60));
    assert!(out.status.success(), "{out:?}");
    Snapshot::parse(&out.stdout)
}

#[test]
fn rdap_answers_fill_the_whois_object_and_org() {
    let dir = harness::tempdir();
    let fake = fake_rdap();
    let snap = run_for(&config_with(dir.path(), &fake.base, true), &[]);
    let row = &snap.ips[CLIENT];
    let whois = &row["whois"];
    assert_eq!(whois["network"], "LINODE-US", "{row}");
    assert_eq!(whois["cidr"], "45.33.0.0/17");
    assert_eq!(whois["org"], "Akamai Technologies, Inc.");
    assert_eq!(whois["country"], "US");
    assert_eq!(whois["abuse"], "abuse@linode.com");
    assert_eq!(
        row["org"], "Akamai Technologies, Inc.",
        "without GeoIP, org falls back to whois"
    );
}

#[test]
fn no_whois_makes_no_connection_at_all() {
    let dir = harness::tempdir();
    let FakeRdap { base, seen, .. } = fake_rdap();
    let snap = run_for(&config_with(dir.path(), &base, true), &["--no-whois"]);
    assert_eq!(snap.ips[CLIENT]["whois"], serde_json::Value::Null);
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "the bootstrap server saw a connection"
    );
    let snap = run_for(&config_with(dir.path(), &base, false), &[]);
    assert_eq!(snap.ips[CLIENT]["whois"], serde_json::Value::Null);
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "[whois] enabled = false: no connection either"
    );
}

#[test]
fn answers_are_cached_and_reused_without_a_connection() {
    let dir = harness::tempdir();
    let db = dir.path().join("history.db");
    let db_arg = db.to_str().unwrap();
    let FakeRdap { base, seen, .. } = fake_rdap();
    let first = run_for(
        &config_with(dir.path(), &base, true),
        &["--history-db", db_arg],
    );
    assert_eq!(first.ips[CLIENT]["whois"]["network"], "LINODE-US");
    assert!(seen.load(Ordering::SeqCst) > 0);
    // A second run with a fresh server: the answer comes from the cache.
    let FakeRdap { base, seen, .. } = fake_rdap();
    let second = run_for(
        &config_with(dir.path(), &base, true),
        &["--history-db", db_arg],
    );
    assert_eq!(
        second.ips[CLIENT]["whois"]["org"],
        "Akamai Technologies, Inc."
    );
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "no RDAP connection for a cached answer"
    );
}

/// A combined-format access log in `dir` with one request from each of `ips`,
/// `weights[i]` times (more requests: looked up earlier).
fn access_log(dir: &Path, ips: &[(&str, usize)]) -> std::path::PathBuf {
    let path = dir.join("access.log");
    let mut text = String::new();
    for (ip, times) in ips {
        for _ in 0..*times {
            text.push_str(&format!(
                "{ip} - - [10/Oct/2023:13:55:36 +0000] \"GET / HTTP/1.1\" 200 512 \"-\" \"curl/8.5\"\n"
            ));
        }
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// A live run of `secs` seconds over `log`, without history (no whois answer cache).
fn run_log(config: &Path, log: &Path, secs: u64) -> (Snapshot, Duration) {
    run_log_with(config, log, secs, &["--no-history"])
}

/// As [`run_log`], with `history` flags (`--no-history` or `--history-db FILE`).
fn run_log_with(config: &Path, log: &Path, secs: u64, history: &[&str]) -> (Snapshot, Duration) {
    let mut cmd = harness::nethergaze();
    let root = env!("CARGO_MANIFEST_DIR");
    cmd.args(["--json", "--no-auth-log", "--no-geoip", "--from-start"])
        .args(history);
    cmd.arg("--log-path")
        .arg(log)
        .arg("--proc-root")
        .arg(format!("{root}/tests/data/proc"))
        .arg("--for")
        .arg(format!("{secs}s"))
        .arg("--config")
        .arg(config);
    let started = std::time::Instant::now();
    let out = Running::spawn(cmd).finish(Duration::from_secs(120));
    let took = started.elapsed();
    assert!(out.status.success(), "{out:?}");
    (Snapshot::parse(&out.stdout), took)
}

#[test]
fn the_fetched_bootstrap_is_kept_on_disk_for_the_next_run() {
    let dir = harness::tempdir();
    let fake = fake_rdap();
    let config = config_with(dir.path(), &fake.base, true);
    let log = access_log(dir.path(), &[(CLIENT, 1)]);
    let (first, _) = run_log(&config, &log, 6);
    assert_eq!(first.ips[CLIENT]["whois"]["network"], "LINODE-US");
    assert_eq!(fake.hits("/ipv4.json"), 1);
    assert_eq!(fake.hits("/ipv6.json"), 1);
    let stored = dir.path().join("cache/rdap-bootstrap.json");
    let mode = std::fs::metadata(&stored).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", stored.display());

    // Second run without the answer cache (else the answer comes from there): the
    // address is looked up again, routed by the stored copy.
    std::fs::remove_file(dir.path().join("cache/whois.db")).unwrap();
    let (second, _) = run_log(&config, &log, 6);
    assert_eq!(second.ips[CLIENT]["whois"]["network"], "LINODE-US");
    assert_eq!(
        fake.hits("/rdap/ip/45.33.32.156"),
        2,
        "looked up in both runs"
    );
    assert_eq!(
        fake.hits("/ipv4.json"),
        1,
        "no bootstrap fetch in the second run"
    );
    assert_eq!(
        fake.hits("/ipv6.json"),
        1,
        "no bootstrap fetch in the second run"
    );
}

/// A port-43 stand-in: answers a query for 193.0.6.139 RIPE-style, anything else with
/// no entries.
fn fake_whois() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut query = String::new();
                let _ = BufReader::new(&stream).read_line(&mut query);
                let answer = if query.trim() == "193.0.6.139" {
                    "inetnum: 193.0.0.0 - 193.0.7.255\nnetname: RIPE-NCC\ncountry: NL\n\
                     abuse-mailbox: abuse@ripe.net\n"
                } else {
                    "% No entries found for the selected source(s).\n"
                };
                let _ = (&stream).write_all(answer.as_bytes());
            });
        }
    });
    addr
}

#[test]
fn hostile_registries_cannot_hold_the_run_past_its_end() {
    let dir = harness::tempdir();
    let fake = fake_rdap_with(|path, rdap_base| {
        let Some(ip) = path.strip_prefix("/rdap/ip/") else {
            return Reply::Http("404 Not Found", String::new(), "{}".into());
        };
        match ip {
            "45.33.32.156" => json(RDAP_ANSWER),
            "8.8.8.8" | "1.1.1.1" | "9.9.9.9" => json(&format!(
                r#"{{"name": "NET-{ip}", "country": "ZZ", "cidr0_cidrs": [{{"v4prefix": "{ip}", "length": 32}}]}}"#
            )),
            // Invalid JSON here; the legacy whois server knows it.
            "193.0.6.139" => json("{\"name\": oops"),
            "23.3.3.3" => Reply::Huge(10 << 20),
            "23.4.4.4" => Reply::Http(
                "301 Moved Permanently",
                format!("Location: {rdap_base}ip/23.4.4.4\r\n"),
                String::new(),
            ),
            "23.5.5.5" => json("\u{1b}[2J not json at all"),
            "23.6.6.6" => Reply::Http(
                "429 Too Many Requests",
                "Retry-After: 2\r\n".into(),
                String::new(),
            ),
            "23.1.1.1" => Reply::Hang,
            "23.2.2.2" => Reply::Trickle,
            _ => Reply::Http("404 Not Found", String::new(), "{}".into()),
        }
    });
    let config = config_full(dir.path(), &fake.base, true, &fake_whois());
    // More requests: looked up earlier. The good addresses go first, then the quick
    // failures, then the ones that hang (the worker is still stuck in them at the end).
    let good = [
        "45.33.32.156",
        "8.8.8.8",
        "1.1.1.1",
        "9.9.9.9",
        "193.0.6.139",
    ];
    let quick = ["23.3.3.3", "23.4.4.4", "23.5.5.5", "23.6.6.6"];
    let slow = ["23.1.1.1", "23.2.2.2"];
    let mut ips: Vec<(&str, usize)> = good.iter().map(|ip| (*ip, 6)).collect();
    ips.extend(quick.iter().map(|ip| (*ip, 3)));
    ips.extend(slow.iter().map(|ip| (*ip, 1)));
    let log = access_log(dir.path(), &ips);

    let secs = 10;
    let (snap, took) = run_log(&config, &log, secs);
    // A deadline check, not a speed test: a run that waited for the hanging or
    // trickling registry would take tens of seconds more.
    assert!(
        took < Duration::from_secs(secs + 8),
        "--for {secs}s took {took:?}"
    );
    assert_eq!(snap.ips["45.33.32.156"]["whois"]["network"], "LINODE-US");
    for ip in ["8.8.8.8", "1.1.1.1", "9.9.9.9"] {
        let whois = &snap.ips[ip]["whois"];
        assert_eq!(whois["network"], format!("NET-{ip}"), "{ip}: {whois}");
        assert_eq!(whois["cidr"], format!("{ip}/32"));
    }
    assert!(
        fake.hits("/rdap/ip/23.4.4.4") <= 4,
        "a redirect to itself is followed at most 3 times"
    );
    let ripe = &snap.ips["193.0.6.139"]["whois"];
    assert_eq!(
        ripe["network"], "RIPE-NCC",
        "legacy whois after bad RDAP: {ripe}"
    );
    assert_eq!(ripe["cidr"], "193.0.0.0/21");
    assert_eq!(ripe["abuse"], "abuse@ripe.net");
    for ip in quick.iter().chain(&slow) {
        assert_eq!(snap.ips[*ip]["whois"], serde_json::Value::Null, "{ip}");
    }
}

/// The registry of `fake_rdap_with` for the caching test: an oversized body, a
/// redirect to itself, a 429, and country codes good and bad.
fn caching_registry(path: &str, rdap_base: &str) -> Reply {
    let Some(ip) = path.strip_prefix("/rdap/ip/") else {
        return Reply::Http("404 Not Found", String::new(), "{}".into());
    };
    match ip {
        "23.3.3.3" => Reply::Huge(10 << 20),
        "23.4.4.4" => Reply::Http(
            "301 Moved Permanently",
            format!("Location: {rdap_base}ip/23.4.4.4\r\n"),
            String::new(),
        ),
        "23.6.6.6" => Reply::Http(
            "429 Too Many Requests",
            "Retry-After: 1\r\n".into(),
            String::new(),
        ),
        "8.8.8.8" => json(r#"{"name": "NET-8", "country": "\u001b[31mUSA"}"#),
        "1.1.1.1" => json(r#"{"name": "NET-1", "country": "au"}"#),
        _ => Reply::Http("404 Not Found", String::new(), "{}".into()),
    }
}

#[test]
fn oversized_and_looping_answers_are_remembered_like_other_failures() {
    let dir = harness::tempdir();
    let db = dir.path().join("history.db");
    let history = ["--history-db", db.to_str().unwrap()];
    let ips = ["23.3.3.3", "23.4.4.4", "23.6.6.6", "8.8.8.8", "1.1.1.1"];
    let log = access_log(dir.path(), &ips.map(|ip| (ip, 1)));
    let first = fake_rdap_with(caching_registry);
    let config = config_with(dir.path(), &first.base, true);
    let (snap, _) = run_log_with(&config, &log, 6, &history);
    for ip in ["23.3.3.3", "23.4.4.4", "23.6.6.6"] {
        assert!(first.hits(&format!("/rdap/ip/{ip}")) >= 1, "{ip} asked");
    }
    // A country that is not two letters is dropped; one in lowercase is raised.
    assert_eq!(snap.ips["8.8.8.8"]["whois"]["network"], "NET-8");
    assert_eq!(
        snap.ips["8.8.8.8"]["whois"]["country"],
        serde_json::Value::Null
    );
    assert_eq!(snap.ips["1.1.1.1"]["whois"]["country"], "AU");

    // The next run, within the failure TTL: the 10 MB body and the redirect loop are
    // not asked again; the rate-limited address is.
    let second = fake_rdap_with(caching_registry);
    let config = config_with(dir.path(), &second.base, true);
    run_log_with(&config, &log, 6, &history);
    assert_eq!(second.hits("/rdap/ip/23.3.3.3"), 0, "10 MB body remembered");
    assert_eq!(
        second.hits("/rdap/ip/23.4.4.4"),
        0,
        "redirect loop remembered"
    );
    assert!(
        second.hits("/rdap/ip/23.6.6.6") >= 1,
        "a 429 is asked again"
    );
}

#[test]
fn a_registry_that_hangs_is_remembered_too() {
    let dir = harness::tempdir();
    let db = dir.path().join("history.db");
    let history = ["--history-db", db.to_str().unwrap()];
    let log = access_log(dir.path(), &[("23.1.1.1", 1)]);
    let hang = |path: &str, _: &str| match path {
        "/rdap/ip/23.1.1.1" => Reply::Hang,
        _ => Reply::Http("404 Not Found", String::new(), "{}".into()),
    };
    // Long enough for the lookup's 20 s deadline to pass within the run.
    let first = fake_rdap_with(hang);
    let (snap, _) = run_log_with(
        &config_with(dir.path(), &first.base, true),
        &log,
        24,
        &history,
    );
    assert_eq!(first.hits("/rdap/ip/23.1.1.1"), 1);
    assert_eq!(snap.ips["23.1.1.1"]["whois"], serde_json::Value::Null);
    let second = fake_rdap_with(hang);
    run_log_with(
        &config_with(dir.path(), &second.base, true),
        &log,
        4,
        &history,
    );
    assert_eq!(
        second.hits("/rdap/ip/23.1.1.1"),
        0,
        "the hang is remembered"
    );
}

/// A `http://127.0.0.1:PORT/` nothing listens on: a registry that went away.
fn closed_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}/")
}

/// `nethergaze --once --json --from-start` over `log` with `config`, plus `extra`.
fn once_log(config: &Path, log: &Path, extra: &[&str]) -> Snapshot {
    let mut cmd = harness::nethergaze();
    let root = env!("CARGO_MANIFEST_DIR");
    cmd.args([
        "--json",
        "--no-auth-log",
        "--no-geoip",
        "--from-start",
        "--once",
    ])
    .arg("--log-path")
    .arg(log)
    .arg("--proc-root")
    .arg(format!("{root}/tests/data/proc"))
    .arg("--config")
    .arg(config)
    .args(extra);
    let out = Running::spawn(cmd).finish(Duration::from_secs(60));
    assert!(out.status.success(), "{out:?}");
    Snapshot::parse(&out.stdout)
}

/// The summary's whois source (`None`: there is none).
fn whois_source(snap: &Snapshot) -> Option<serde_json::Value> {
    let sources = snap.summary["sources"].as_array().unwrap();
    sources.iter().find(|s| s["kind"] == "whois").cloned()
}

/// The issue's case: the second run after the registry went away answers from the
/// cache, in `--once` (no tick, no lookup), with and without history, and with
/// `--no-whois` (which reads the cache but makes no connection).
#[test]
fn a_second_once_answers_from_the_cache_after_the_registry_went_away() {
    let dir = harness::tempdir();
    let fake = fake_rdap();
    let log = access_log(dir.path(), &[(CLIENT, 2), ("9.9.9.9", 1)]);
    let (first, _) = run_log(&config_with(dir.path(), &fake.base, true), &log, 6);
    assert_eq!(first.ips[CLIENT]["whois"]["network"], "LINODE-US");
    assert!(fake.hits("/rdap/ip/9.9.9.9") >= 1, "9.9.9.9 asked (404)");

    let gone = config_with(dir.path(), &closed_url(), true);
    let db = dir.path().join("history.db");
    let with_history = ["--history-db", db.to_str().unwrap()];
    for extra in [
        &["--no-history"][..],
        &with_history,
        &["--no-history", "--no-whois"],
    ] {
        let snap = once_log(&gone, &log, extra);
        let whois = &snap.ips[CLIENT]["whois"];
        assert_eq!(whois["network"], "LINODE-US", "{extra:?}: {whois}");
        assert_eq!(whois["cidr"], "45.33.0.0/17");
        assert_eq!(snap.ips[CLIENT]["org"], "Akamai Technologies, Inc.");
        assert_eq!(snap.ips["9.9.9.9"]["whois"], serde_json::Value::Null);
        let source = whois_source(&snap);
        if extra.contains(&"--no-whois") {
            assert_eq!(source, None, "no whois worker, no whois source");
        } else {
            let source = source.unwrap_or_else(|| panic!("no whois source: {}", snap.summary));
            let cache = dir.path().join("cache/whois.db");
            assert_eq!(source["path"], cache.display().to_string());
            assert_eq!(source["format"], "rdap");
            assert_eq!(source["lines"], 1, "one answer from the cache: {source}");
            assert_eq!(source["error"], serde_json::Value::Null);
            assert!(source.get("note").is_none(), "{source}");
        }
    }
    assert_eq!(
        fake.hits("/rdap/ip/45.33.32.156"),
        1,
        "asked once, in the first run only"
    );
}

/// The cache is `whois.db` in `$XDG_CACHE_HOME/nethergaze`, else in
/// `~/.cache/nethergaze` (file 0600, folder 0700), whether or not history is kept;
/// `--no-whois` creates none.
#[test]
fn the_cache_file_lives_in_the_xdg_cache_folder_and_is_private() {
    let dir = harness::tempdir();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[whois]\nrdap_bootstrap_url = {:?}\nwhois_server = \"127.0.0.1:9\"\n",
            closed_url()
        ),
    )
    .unwrap();
    let log = access_log(dir.path(), &[(CLIENT, 1)]);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let run = |env: &[(&str, &Path)], extra: &[&str]| {
        let mut cmd = harness::nethergaze();
        cmd.env_remove("XDG_CACHE_HOME");
        for (key, value) in env {
            cmd.env(key, value);
        }
        cmd.args([
            "--json",
            "--no-auth-log",
            "--no-geoip",
            "--once",
            "--no-history",
        ])
        .arg("--log-path")
        .arg(&log)
        .arg("--config")
        .arg(&config)
        .args(extra);
        let out = Running::spawn(cmd).finish(Duration::from_secs(60));
        assert!(out.status.success(), "{out:?}");
        Snapshot::parse(&out.stdout)
    };
    let xdg = dir.path().join("xdg");
    run(&[("XDG_CACHE_HOME", xdg.as_path())], &["--no-whois"]);
    assert!(!xdg.exists(), "--no-whois created a cache");
    let snap = run(&[("XDG_CACHE_HOME", xdg.as_path())], &[]);
    let file = xdg.join("nethergaze/whois.db");
    assert_eq!(mode(&file), 0o600, "{}", file.display());
    assert_eq!(mode(&xdg.join("nethergaze")), 0o700);
    let source = whois_source(&snap).unwrap();
    assert_eq!(source["path"], file.display().to_string());

    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    run(&[("HOME", home.as_path())], &[]);
    let file = home.join(".cache/nethergaze/whois.db");
    assert_eq!(mode(&file), 0o600, "{}", file.display());
}

/// The whois source says `offline` (an error) while no registry can be reached,
/// and `rate limited` (a note) while one asks us to wait.
#[test]
fn the_whois_source_reports_offline_and_rate_limits() {
    let dir = harness::tempdir();
    let offline = fake_rdap_routed(Some(format!("{}rdap/", closed_url())), |_, _| {
        Reply::Http("404 Not Found", String::new(), "{}".into())
    });
    let log = access_log(dir.path(), &[(CLIENT, 1)]);
    let (snap, _) = run_log(&config_with(dir.path(), &offline.base, true), &log, 4);
    assert_eq!(offline.hits("/ipv4.json"), 1, "the bootstrap was fetched");
    let source = whois_source(&snap).unwrap();
    let error = source["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{source}"));
    assert!(error.starts_with("offline: "), "{error}");
    assert!(source["malformed"].as_u64().unwrap() >= 1, "{source}");
    assert_eq!(snap.ips[CLIENT]["whois"], serde_json::Value::Null);

    let dir = harness::tempdir();
    let limited = fake_rdap_with(|_, _| {
        Reply::Http(
            "429 Too Many Requests",
            "Retry-After: 30\r\n".into(),
            String::new(),
        )
    });
    let log = access_log(dir.path(), &[(CLIENT, 1)]);
    let (snap, _) = run_log(&config_with(dir.path(), &limited.base, true), &log, 4);
    let source = whois_source(&snap).unwrap();
    assert_eq!(source["error"], serde_json::Value::Null, "{source}");
    let note = source["note"]
        .as_str()
        .unwrap_or_else(|| panic!("{source}"));
    assert!(note.starts_with("rate limited: "), "{note}");
}
