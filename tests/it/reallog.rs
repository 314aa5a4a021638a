//! The realistic benchmark log (`benches/genlog.py --realistic`, issue 13 item 1)
//! read by the real binary: every line is a request of the right client, TLS
//! garbage and `"-"` included, so the benchmark measures a parser that reads it all.
//! The generator's `--truth` file says what it wrote.

use std::process::Command;

use serde_json::Value;

use super::harness::{self, num};

const LINES: u64 = 20_000;
const CLIENTS: u64 = 3_000;

#[test]
fn every_realistic_line_is_a_request_of_its_client() {
    let dir = harness::tempdir();
    let (log, truth) = (dir.path().join("real.log"), dir.path().join("truth.json"));
    let genlog = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/genlog.py");
    let status = Command::new("python3")
        .arg(genlog)
        .arg(&log)
        .arg(LINES.to_string())
        .args(["--clients", &CLIENTS.to_string(), "--realistic", "--truth"])
        .arg(&truth)
        .status()
        .expect("python3 runs benches/genlog.py");
    assert!(status.success(), "genlog.py --realistic: {status}");
    let truth: Value = serde_json::from_slice(&std::fs::read(&truth).unwrap()).unwrap();
    // The generator wrote what the benchmark is for.
    assert!(
        num(&truth, "not_http") > 0,
        "no TLS garbage or \"-\": {truth}"
    );
    assert!(num(&truth, "probes") > 0, "no probes: {truth}");
    assert!(num(&truth, "ipv6_clients") > 0, "no IPv6 client: {truth}");

    let snap = harness::snapshot(&[
        &"--once",
        &"--from-start",
        &"--no-auth-log",
        &"--log-path",
        &log,
        &"--proc-root",
        &dir.path().join("noproc"),
    ]);
    let summary = &snap.summary;
    assert_eq!(num(summary, "lines"), LINES, "{summary}");
    assert_eq!(num(summary, "malformed"), 0, "{summary}");
    assert_eq!(num(summary, "requests"), LINES, "{summary}");
    assert_eq!(num(summary, "bytes"), num(&truth, "bytes"), "{summary}");
    assert_eq!(num(summary, "evicted"), 0, "{summary}");

    let expected = truth["requests_by_client"].as_object().unwrap();
    assert_eq!(expected.len() as u64, num(&truth, "clients"));
    assert_eq!(snap.ips.len(), expected.len(), "distinct clients");
    for (ip, requests) in expected {
        let row = snap
            .ips
            .get(ip)
            .unwrap_or_else(|| panic!("client {ip} missing"));
        assert_eq!(row["requests"], *requests, "requests of {ip}");
    }
}
