//! A SYN flood in a private network namespace (issue 13 item 4): behaviour, not
//! speed. `benches/synflood.py --hold` makes 3 000 sockets from 1 000 loopback
//! addresses (2 400 half-open from raw SYNs to a listener that never accepts,
//! 300 established pairs) and keeps them while the test runs; then
//! `--once --json` must count exactly what was made, and the dashboard, in a
//! tmux pane inside the namespace, must show the rows flagged and answer a key.
//! Then the same flood against `max_tracked_ips = 300`, fewer than its
//! addresses: rows evicted as designed, never more than the cap, and the
//! dashboard still answering a key.
//!
//! Needs root, python3, ip (iproute2), nft and tmux; a skip otherwise, a failure
//! under `CI=true`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

use serde_json::Value;

use super::dashboard::{shell_quote, Tmux};
use super::harness::{self, Snapshot};

const SOCKETS: u32 = 3000;
const ADDRESSES: u32 = 1000;
/// The script's split: four fifths half-open, one fifth in established pairs.
const SYN_RECV: u64 = 2400;
const ESTABLISHED: u64 = 300;
/// `max_tracked_ips` of the capped run: under the flood's addresses.
const CAP: usize = 300;

/// A named network namespace, deleted when dropped.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = format!("ngtest-flood-{}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap();
        assert!(ok.success(), "ip netns add {name}");
        Netns(name)
    }

    /// `ip netns exec <name>` followed by `args`.
    fn exec(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.0]).args(args);
        cmd
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// The flood's sockets, held by the script until its stdin closes.
struct Flood {
    child: Child,
    stdin: Option<ChildStdin>,
    made: Value,
}

impl Flood {
    fn start(ns: &Netns) -> Flood {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/synflood.py");
        let (sockets, addresses) = (SOCKETS.to_string(), ADDRESSES.to_string());
        let mut child = ns
            .exec(&[
                "python3",
                script.to_str().unwrap(),
                "--hold",
                "--sockets",
                &sockets,
                "--addresses",
                &addresses,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let made: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("synflood.py --hold said {line:?} ({e})"));
        assert_eq!(made["syn_recv"], SYN_RECV, "{made}");
        assert_eq!(made["established"], ESTABLISHED, "{made}");
        assert_eq!(made["addresses"], ADDRESSES, "{made}");
        Flood { child, stdin, made }
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// Flags for a run on the namespace's sockets only: an empty log, nothing else.
fn flags(log: &Path) -> Vec<String> {
    [
        "--show-private-ips",
        "--no-history",
        "--no-whois",
        "--no-geoip",
        "--no-auth-log",
        "--log-path",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([log.display().to_string()])
    .collect()
}

fn source_address(k: u32) -> String {
    let n = k + 1;
    format!("127.{}.{}.{}", 1 + (n >> 16), (n >> 8) & 0xff, n & 0xff)
}

fn states(row: &Value, state: &str) -> u64 {
    row["states"][state].as_u64().unwrap_or(0)
}

#[test]
fn a_syn_flood_is_counted_flagged_and_the_dashboard_answers_keys() {
    if harness::skip_unless(&["python3", "ip", "nft", "tmux"]) {
        return;
    }
    let dir = harness::tempdir();
    let log = dir.path().join("access.log");
    std::fs::write(&log, "").unwrap();
    let home = dir.path().join("home");
    let ns = Netns::new();
    let flood = Flood::start(&ns);

    // --once --json: one row per source address plus 127.0.0.1 (the
    // established clients' outbound sockets), every SYN_RECV counted.
    let bin = harness::nethergaze_bin();
    let mut once = ns.exec(&[bin.to_str().unwrap(), "--once", "--json"]);
    once.args(flags(&log)).env("HOME", &home);
    let out = harness::run_cmd(once);
    assert!(out.status.success(), "{out:?}");
    let snap = Snapshot::parse(&out.stdout);
    assert_eq!(snap.ips.len(), ADDRESSES as usize + 1, "{}", flood.made);
    let total = |state| snap.ips.values().map(|r| states(r, state)).sum::<u64>();
    assert_eq!(total("SYN_RECV"), SYN_RECV);
    assert_eq!(total("ESTABLISHED"), 2 * ESTABLISHED);
    let server = &snap.ips["127.0.0.1"];
    assert_eq!(server["conns_out"], ESTABLISHED, "{server}");
    for k in 0..ADDRESSES {
        let row = &snap.ips[&source_address(k)];
        assert!(states(row, "SYN_RECV") >= 2, "{row}");
        assert_eq!(row["suspicious"], true, "{row}");
        let reasons = row["reasons"].as_array().unwrap();
        assert!(reasons.iter().any(|r| r == "syn_recv"), "{row}");
    }

    // The dashboard inside the namespace: the header's count of IPs, flagged
    // rows, and `p` (private addresses hidden, then shown) answered on screen.
    let script = format!(
        "ip netns exec {ns} env HOME={home} {bin} {flags}; exec sleep 600",
        ns = ns.0,
        home = shell_quote(&home),
        bin = shell_quote(&bin),
        flags = flags(&log)
            .iter()
            .map(|f| shell_quote(Path::new(f)))
            .collect::<Vec<_>>()
            .join(" "),
    );
    let tmux = Tmux::start(dir.path().join("tmux.sock"), 160, 45, &script);
    let ips = format!("{} IPs", ADDRESSES + 1);
    tmux.wait_for("the flood's rows", |s| {
        s.first().is_some_and(|h| h.contains(&ips)) && flagged_rows(s) >= 30
    });
    tmux.send(&["-l", "p"]);
    tmux.wait_for("private addresses hidden", |s| flagged_rows(s) == 0);
    tmux.send(&["-l", "p"]);
    tmux.wait_for("private addresses shown again", |s| flagged_rows(s) >= 30);
    tmux.send(&["-l", "q"]);
    drop(tmux);

    past_the_cap(&ns, &bin, &log, &home, dir.path());
    drop(flood);
}

/// The flood against `max_tracked_ips = CAP` (issue 13 item 4): `--for 3`
/// applies a few dumps, each evicting rows to make room; never more rows
/// than the cap; the dashboard answers `s` (the next sort order) on screen.
fn past_the_cap(ns: &Netns, bin: &Path, log: &Path, home: &Path, dir: &Path) {
    let config = dir.join("capped.toml");
    std::fs::write(&config, format!("max_tracked_ips = {CAP}\n")).unwrap();
    let mut flags = flags(log);
    flags.extend(["--config".to_owned(), config.display().to_string()]);
    let mut run = ns.exec(&[bin.to_str().unwrap(), "--for", "3", "--json"]);
    run.args(&flags).env("HOME", home);
    let out = harness::run_cmd(run);
    assert!(out.status.success(), "{out:?}");
    let snap = Snapshot::parse(&out.stdout);
    assert!(
        (1..=CAP).contains(&snap.ips.len()),
        "{} rows at max_tracked_ips = {CAP}",
        snap.ips.len()
    );
    let evicted = snap.summary["evicted"].as_u64().unwrap();
    assert!(
        evicted >= u64::from(ADDRESSES) - CAP as u64,
        "{}",
        snap.summary
    );
    // Every row kept has every socket of its address, as without the cap:
    // address k has the (k + 1000 n)-th half-open connections and the
    // server's side of the k-th established one (127.0.0.1's row has their
    // clients' sides).
    for k in 0..ADDRESSES {
        let Some(row) = snap.ips.get(&source_address(k)) else {
            continue;
        };
        let syn_recv = (0..SYN_RECV).filter(|i| i % u64::from(ADDRESSES) == u64::from(k));
        assert_eq!(states(row, "SYN_RECV"), syn_recv.count() as u64, "{row}");
        let established = u64::from(u64::from(k) < ESTABLISHED);
        assert_eq!(states(row, "ESTABLISHED"), established, "{row}");
    }
    if let Some(server) = snap.ips.get("127.0.0.1") {
        assert_eq!(server["conns_out"], ESTABLISHED, "{server}");
    }
    let flood_rows = (0..ADDRESSES).filter(|&k| snap.ips.contains_key(&source_address(k)));
    let server_row = usize::from(snap.ips.contains_key("127.0.0.1"));
    assert_eq!(
        flood_rows.count() + server_row,
        snap.ips.len(),
        "only the flood's rows"
    );

    let script = format!(
        "ip netns exec {ns} env HOME={home} {bin} {flags}; exec sleep 600",
        ns = ns.0,
        home = shell_quote(home),
        bin = shell_quote(bin),
        flags = flags
            .iter()
            .map(|f| shell_quote(Path::new(f)))
            .collect::<Vec<_>>()
            .join(" "),
    );
    let tmux = Tmux::start(dir.join("tmux-capped.sock"), 160, 45, &script);
    let screen = tmux.wait_for("the flood's rows under the cap", |s| {
        header_ips(s).is_some() && flagged_rows(s) >= 30
    });
    let shown = header_ips(&screen).unwrap();
    assert!((1..=CAP).contains(&shown), "{shown} IPs on screen");
    let before = sort_order(&screen).unwrap();
    tmux.send(&["-l", "s"]);
    tmux.wait_for("the next sort order", |s| {
        sort_order(s).is_some_and(|o| o != before) && header_ips(s).is_some_and(|n| n <= CAP)
    });
    tmux.send(&["-l", "q"]);
}

/// The header's count of IPs (`… 300 IPs …`).
fn header_ips(screen: &[String]) -> Option<usize> {
    let header = screen.first()?;
    let before = &header[..header.find(" IPs")?];
    before.rsplit(' ').next()?.parse().ok()
}

/// The status bar's sort order (`sort: connections │`).
fn sort_order(screen: &[String]) -> Option<String> {
    let line = screen.iter().find(|l| l.contains("sort: "))?;
    let rest = &line[line.find("sort: ")? + 6..];
    Some(rest.split('\u{2502}').next()?.trim().to_owned())
}

/// Rows of the table that are flood addresses marked suspicious (`!127.1.…`).
fn flagged_rows(screen: &[String]) -> usize {
    screen
        .iter()
        .filter(|l| l.trim_start().starts_with("!127.1."))
        .count()
}
