//! `--demo`: every actor shows up flagged for its reason, through the real
//! sources and parsers, and the temporary directory is gone afterwards.

use super::harness::{nethergaze, Running, Snapshot};
use std::time::Duration;

#[test]
fn demo_shows_every_kind_of_trouble_and_cleans_up() {
    let tmp = super::harness::tempdir();
    let mut cmd = nethergaze();
    cmd.env("TMPDIR", tmp.path());
    cmd.args([
        "--demo",
        "--for",
        "3s",
        "--json",
        "--no-geoip",
        "--no-whois",
        "--no-history",
    ]);
    let out = Running::spawn(cmd).finish(Duration::from_secs(30));
    assert!(out.status.success(), "{out:?}");
    let snap = Snapshot::parse(&out.stdout);
    let reasons = |ip: &str| -> Vec<String> {
        let row = snap.ips.get(ip).unwrap_or_else(|| panic!("{ip} missing"));
        row["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect()
    };
    assert!(reasons("198.51.100.23").contains(&"scanner_ua".to_string()));
    assert!(reasons("198.51.100.66").contains(&"exploit_path".to_string()));
    assert!(reasons("203.0.113.99").contains(&"auth_failures".to_string()));
    assert!(reasons("192.0.2.5").contains(&"syn_recv".to_string()));
    assert!(
        reasons("203.0.113.10").is_empty(),
        "a visitor is not flagged"
    );
    assert_eq!(snap.summary["malformed"], 0);
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "the demo's directory is removed"
    );
}
