//! RDAP through the real binary: a fake bootstrap + RDAP server on loopback,
//! and `--no-whois` meaning no connection at all.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::harness::{self, Running, Snapshot};

const CLIENT: &str = "45.33.32.156";

/// Serves the IANA bootstrap files and one RDAP answer; counts connections.
fn fake_rdap() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    let rdap_base = format!("{base}rdap/");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            let _ = answer(stream, &rdap_base);
        }
    });
    (base, seen)
}

fn answer(mut stream: TcpStream, rdap_base: &str) -> std::io::Result<()> {
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
    let (status, body) = match path.as_str() {
        "/ipv4.json" => (
            "200 OK",
            format!(r#"{{"version":"1.0","services":[[["45.0.0.0/8"],["{rdap_base}"]]]}}"#),
        ),
        "/ipv6.json" => (
            "200 OK",
            format!(r#"{{"version":"1.0","services":[[["2001:db8::/32"],["{rdap_base}"]]]}}"#),
        ),
        "/rdap/ip/45.33.32.156" => ("200 OK", RDAP_ANSWER.to_string()),
        _ => ("404 Not Found", "{}".to_string()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/rdap+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
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

fn config_with(dir: &Path, base: &str, enabled: bool) -> std::path::PathBuf {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!("[whois]\nenabled = {enabled}\nrdap_bootstrap_url = {base:?}\n"),
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
    let (base, _) = fake_rdap();
    let snap = run_for(&config_with(dir.path(), &base, true), &[]);
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
    let (base, seen) = fake_rdap();
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
fn answers_are_cached_in_history_and_reused_without_a_connection() {
    let dir = harness::tempdir();
    let db = dir.path().join("history.db");
    let db_arg = db.to_str().unwrap();
    let (base, seen) = fake_rdap();
    let first = run_for(
        &config_with(dir.path(), &base, true),
        &["--history-db", db_arg],
    );
    assert_eq!(first.ips[CLIENT]["whois"]["network"], "LINODE-US");
    assert!(seen.load(Ordering::SeqCst) > 0);
    // A second run with a fresh server: the answer comes from the cache.
    let (base, seen) = fake_rdap();
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
