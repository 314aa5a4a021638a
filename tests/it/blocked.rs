//! Issue 14 item 5: `--once --json` run inside a network namespace whose
//! firewall blocks some of the log's addresses (nethergaze's own nft set,
//! an operator's iptables rule for a /24) says so in each `ip` object's
//! `"blocked"` (and so does `--for`, read by the loop), from the real
//! nft and iptables (documentation
//! addresses: `--show-private-ips` tracks them); `[refresh]
//! blocked_interval = 0` asks nothing.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use super::harness::{self, bin, run_cmd, skip_unless, wrapped, Snapshot};

/// A network namespace (`ip netns add`), deleted when dropped.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = format!("ngz-{}-blocked", std::process::id());
        let netns = Netns(name);
        netns.run("ip", &["netns", "add", &netns.0], false);
        netns
    }

    /// Runs `program ARGS` (in the namespace when `inside`); panics unless it succeeds.
    fn run(&self, program: &str, args: &[&str], inside: bool) {
        let mut cmd = if inside {
            let mut c = Command::new(bin("ip"));
            c.args(["netns", "exec", &self.0]).arg(bin(program));
            c
        } else {
            Command::new(bin(program))
        };
        let out = run_cmd({
            cmd.args(args);
            cmd
        });
        assert!(out.status.success(), "{program} {args:?}: {out:?}");
    }

    /// `nethergaze --json ARGS` in the namespace (`--once` unless ARGS
    /// say `--for`).
    fn snapshot(&self, log: &Path, extra: &[&str]) -> Snapshot {
        let mut inner = harness::nethergaze();
        if !extra.contains(&"--for") {
            inner.arg("--once");
        }
        inner
            .args(["--json", "--no-geoip", "--no-whois", "--no-history"])
            .args([
                "--no-auth-log",
                "--show-private-ips",
                "--from-start",
                "--log-path",
            ])
            .arg(log)
            .args(extra);
        let mut ip = Command::new(bin("ip"));
        ip.args(["netns", "exec", &self.0]);
        let out = run_cmd(wrapped(ip, &inner));
        assert!(out.status.success(), "{out:?}");
        Snapshot::parse(&out.stdout)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new(bin("ip"))
            .args(["netns", "del", &self.0])
            .status();
    }
}

#[test]
fn once_json_says_which_addresses_the_namespaces_firewall_blocks() {
    if skip_unless(&["ip", "nft", "iptables"]) {
        return;
    }
    let netns = Netns::new();
    // nethergaze's own table and set, as block assist makes them.
    let nft = |args: &[&str]| netns.run("nft", args, true);
    nft(&["add", "table", "inet", "nethergaze"]);
    nft(&[
        "add",
        "set",
        "inet",
        "nethergaze",
        "blocked4",
        "{",
        "type",
        "ipv4_addr",
        ";",
        "flags",
        "interval",
        ";",
        "}",
    ]);
    nft(&[
        "add",
        "element",
        "inet",
        "nethergaze",
        "blocked4",
        "{",
        "203.0.113.7",
        "}",
    ]);
    netns.run(
        "iptables",
        &["-A", "INPUT", "-s", "198.51.100.0/24", "-j", "DROP"],
        true,
    );
    let dir = harness::tempdir();
    let log = dir.path().join("access.log");
    let line = |ip: &str| {
        format!("{ip} - - [10/Oct/2023:14:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl\"\n")
    };
    let text: String = ["203.0.113.7", "203.0.113.8", "198.51.100.9", "192.0.2.50"]
        .map(line)
        .concat();
    std::fs::write(&log, text).unwrap();

    let snap = netns.snapshot(&log, &[]);
    let blocked = |ip: &str| snap.ip(ip)["blocked"].clone();
    assert_eq!(
        blocked("203.0.113.7"),
        json!({"by": ["nft"], "scope": "203.0.113.7/32", "since": null})
    );
    assert_eq!(blocked("203.0.113.8"), Value::Null, "its neighbour is not");
    assert_eq!(
        blocked("198.51.100.9"),
        json!({"by": ["iptables"], "scope": "198.51.100.0/24", "since": null}),
        "inside the dropped /24"
    );
    assert_eq!(blocked("192.0.2.50"), Value::Null);

    // The text table says it beside the address.
    let mut inner = harness::nethergaze();
    inner
        .args([
            "--once",
            "--no-geoip",
            "--no-whois",
            "--no-history",
            "--no-auth-log",
        ])
        .args(["--show-private-ips", "--from-start", "--log-path"])
        .arg(&log);
    let mut ip = Command::new(bin("ip"));
    ip.args(["netns", "exec", &netns.0]);
    let text = run_cmd(wrapped(ip, &inner)).stdout;
    let row = |addr: &str| {
        text.lines()
            .find(|l| l.contains(&format!("{addr} ")))
            .unwrap_or_else(|| panic!("{addr} in:\n{text}"))
            .to_string()
    };
    assert!(
        row("203.0.113.7").contains("203.0.113.7 (blocked)"),
        "{text}"
    );
    assert!(row("198.51.100.9").contains("(blocked)"), "{text}");
    assert!(!row("203.0.113.8").contains("(blocked)"), "{text}");

    // Followed (`--for`): the loop reads the firewall in a child of its own.
    let live = netns.snapshot(&log, &["--for", "1s"]);
    assert_eq!(
        live.ip("198.51.100.9")["blocked"]["scope"],
        "198.51.100.0/24"
    );
    assert!(live.ip("203.0.113.8")["blocked"].is_null());

    // Reading switched off: nothing is asked, nothing is known.
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[refresh]\nblocked_interval = 0\n").unwrap();
    let config = config.display().to_string();
    let off = netns.snapshot(&log, &["--config", &config]);
    assert!(
        off.ips.values().all(|o| o["blocked"].is_null()),
        "{:?}",
        off.ips
    );
}
