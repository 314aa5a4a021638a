//! `--metrics-file` read by the real node-exporter (Debian's
//! `prometheus-node-exporter`): its textfile collector, started on loopback by the
//! test, scrapes the file nethergaze replaces every `[refresh] metrics_interval`,
//! and every value it serves is the one the JSON snapshot reports.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::dashboard::{quit_with_exit_0, shell_quote, skip_without_tmux, Tmux};
use super::harness::{self, num, skip_unless, Daemon, Live, READY_TIMEOUT};

/// `GET /metrics` from 127.0.0.1:`port`: the body.
fn scrape(port: u16) -> String {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    body.to_owned()
}

/// Samples by series (`name{labels as served}`), value parsed.
fn samples(body: &str) -> HashMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_owned(), value.parse().unwrap())
        })
        .collect()
}

/// A label value as the exposition format writes it (the test's own oracle).
fn escaped(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

#[test]
fn node_exporter_serves_the_metrics_file_with_the_snapshot_numbers() {
    if skip_unless(&["prometheus-node-exporter"]) {
        return;
    }
    let dir = harness::tempdir();
    let textfile = dir.path().join("textfile");
    fs::create_dir(&textfile).unwrap();
    // A log path with every character the label format escapes.
    let logs = dir.path().join("we\"ird\\logs\nhere");
    fs::create_dir(&logs).unwrap();
    let log = logs.join("access.log");
    let root = env!("CARGO_MANIFEST_DIR");
    fs::copy(format!("{root}/tests/data/logs/combined.log"), &log).unwrap();
    let config = dir.path().join("config.toml");
    fs::write(&config, "[refresh]\nmetrics_interval = 1\n").unwrap();

    let port = harness::free_ports(1)[0];
    let mut exporter = Command::new(harness::bin("prometheus-node-exporter"));
    exporter
        .args(["--collector.disable-defaults", "--collector.textfile"])
        .arg(format!(
            "--collector.textfile.directory={}",
            textfile.display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"));
    let exporter = Daemon::spawn("node-exporter", exporter, &dir.path().join("exporter.log"));
    harness::wait_until("node-exporter to listen", READY_TIMEOUT, || {
        exporter.assert_running();
        harness::is_listening(port)
    });

    let prom = textfile.join("nethergaze.prom");
    let mut live = Live::start(&[
        &"--config",
        &config,
        &"--log-path",
        &log,
        &"--from-start",
        &"--no-auth-log",
        &"--proc-root",
        &format!("{root}/tests/data/proc"),
        &"--metrics-file",
        &prom,
        &"--for",
        &"3s",
    ]);
    // Written on the interval while the run goes on, and served.
    let version = format!(
        "nethergaze_build_info{{version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    live.wait_for("node-exporter to serve the metrics file", |_| {
        samples(&scrape(port)).get(&version) == Some(&1.0)
    });
    let snapshot = live.wait_end();

    let body = scrape(port);
    let got = samples(&body);
    let value = |series: &str| {
        *got.get(series)
            .unwrap_or_else(|| panic!("{series} not served:\n{body}"))
    };
    assert_eq!(value("node_textfile_scrape_error"), 0.0, "{body}");
    let s = &snapshot.summary;
    let want = [
        ("nethergaze_requests_total", num(s, "requests")),
        ("nethergaze_response_bytes_total", num(s, "bytes")),
        (
            "nethergaze_lines_read_total{kind=\"access\"}",
            num(s, "lines"),
        ),
        (
            "nethergaze_lines_read_total{kind=\"auth\"}",
            num(s, "auth_lines"),
        ),
        ("nethergaze_malformed_lines_total", num(s, "malformed")),
        ("nethergaze_auth_failures_total", num(s, "auth_failures")),
        ("nethergaze_tracked_addresses", num(s, "ips")),
        ("nethergaze_evicted_addresses_total", num(s, "evicted")),
        ("nethergaze_connections", num(s, "connections")),
    ];
    for (series, n) in want {
        assert_eq!(value(series), n as f64, "{series}:\n{body}");
    }
    assert!(num(s, "requests") > 0 && num(s, "connections") > 0, "{s}");
    // Suspicious addresses by reason, as the snapshot's rows have them.
    let rows: Vec<&Value> = snapshot.ips.values().collect();
    let mut flagged_any = 0;
    for row in &rows {
        flagged_any += u64::from(!harness::reasons(row).is_empty());
    }
    for code in [
        "syn_recv",
        "conns_no_requests",
        "burst",
        "scanner_ua",
        "exploit_path",
        "auth_failures",
    ] {
        let n = rows
            .iter()
            .filter(|r| harness::reasons(r).contains(&code))
            .count();
        let series = format!("nethergaze_suspicious_addresses{{reason=\"{code}\"}}");
        assert_eq!(value(&series), n as f64, "{series}:\n{body}");
    }
    assert!(flagged_any > 0, "the fixture has suspicious addresses");
    assert_eq!(
        value("nethergaze_suspicious_addresses_any"),
        flagged_any as f64
    );
    // Inbound sockets by state sum to the connections.
    let inbound: f64 = got
        .iter()
        .filter(|(k, _)| k.starts_with("nethergaze_sockets{direction=\"in\","))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(inbound, num(s, "connections") as f64, "{body}");
    // Every source, its path escaped (node-exporter sorts the labels).
    let sources = s["sources"].as_array().unwrap();
    assert!(sources
        .iter()
        .any(|src| src["path"] == log.to_str().unwrap()));
    for src in sources {
        let series = format!(
            "nethergaze_source_up{{kind=\"{}\",source=\"{}\"}}",
            src["kind"].as_str().unwrap(),
            escaped(src["path"].as_str().unwrap())
        );
        let up = if src["error"].is_null() { 1.0 } else { 0.0 };
        assert_eq!(value(&series), up, "{series}:\n{body}");
    }
    // Only the file itself is left in the collector's directory.
    let names: Vec<_> = fs::read_dir(&textfile)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["nethergaze.prom"]);
    assert!(Path::new(&prom).exists());
}

/// The dashboard writes the file too, on the same timer. A directory that is
/// missing at first is said once in the status line and the run goes on; once
/// the directory exists the next write lands.
#[test]
fn the_dashboard_writes_metrics_and_says_so_when_it_cannot() {
    if skip_without_tmux() {
        return;
    }
    let dir = harness::tempdir();
    let textfile = dir.path().join("textfile");
    let prom = textfile.join("nethergaze.prom");
    let config = dir.path().join("config.toml");
    fs::write(&config, "[refresh]\nmetrics_interval = 1\n").unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (after, rc, home) = (
        dir.path().join("stty.after"),
        dir.path().join("rc"),
        dir.path().join("home"),
    );
    let script = format!(
        "HOME={home} XDG_CONFIG_HOME={home} {bin} --config {config} --log-path {log} \
         --from-start --no-auth-log --proc-root {proc} --no-geoip --no-whois --no-history \
         --metrics-file {prom}; echo $? > {rc}; stty -g > {after}; exec sleep 600",
        home = shell_quote(&home),
        bin = shell_quote(&harness::nethergaze_bin()),
        config = shell_quote(&config),
        log = shell_quote(&root.join("tests/data/logs/combined.log")),
        proc = shell_quote(&root.join("tests/data/proc")),
        prom = shell_quote(&prom),
        rc = shell_quote(&rc),
        after = shell_quote(&after),
    );
    let tmux = Tmux::start(dir.path().join("tmux.sock"), 160, 45, &script);
    let said = format!("cannot write the metrics file {}", prom.display());
    tmux.wait_for("the metrics error in the status line", |s| {
        s[44].contains(&said)
    });
    fs::create_dir(&textfile).unwrap();
    harness::wait_until("the metrics file", READY_TIMEOUT, || {
        harness::read_or_empty(&prom).contains("\nnethergaze_tracked_addresses 9\n")
    });
    quit_with_exit_0(&tmux, &after, &rc);
}
