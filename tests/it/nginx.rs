//! A private nginx writes real access logs (combined, and a custom `log_format`) for
//! curl requests from distinct loopback sources, while idle sockets from one more
//! source sit in the kernel's table; the snapshot must count every request, every
//! byte and every socket, and flag the right addresses.

use std::collections::BTreeMap;
use std::fs;
use std::net::{SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::harness::{self, assert_reasons, lo, num, Arg, Daemon, Live, Snapshot, READY_TIMEOUT};

/// The custom vhost's `log_format`, passed verbatim to `--log-format` too.
const CUSTOM_FORMAT: &str = "$remote_addr [$time_iso8601] \"$request\" $status \
    $body_bytes_sent $request_time \"$http_x_forwarded_for\" \"$http_user_agent\"";

/// The source that only holds idle connections, and how many.
const IDLE_SRC: u8 = 9;
const IDLE_SOCKETS: usize = 6;

/// A `X-Forwarded-For` the custom vhost logs; with no trusted proxy it must not move
/// a request away from its peer address.
const XFF: &str = "203.0.113.7, 198.51.100.2";
const SCANNER_UA: &str = "Mozilla/5.0 zgrab/0.x";

/// One planned request and the status nginx must answer it with.
struct Hit {
    src: u8,
    path: &'static str,
    ua: Option<&'static str>,
    xff: Option<&'static str>,
    status: u16,
}

const fn hit(src: u8, path: &'static str, status: u16) -> Hit {
    Hit {
        src,
        path,
        ua: None,
        xff: None,
        status,
    }
}

/// Traffic on the combined-format vhost: .2 browses (clean), .3 probes exploit
/// paths, .4 is a scanner by user agent.
const COMBINED_PLAN: &[Hit] = &[
    hit(2, "/", 200),
    hit(2, "/", 200),
    hit(2, "/index.html", 200),
    hit(2, "/big.bin", 200),
    hit(2, "/missing.html", 404),
    hit(2, "/robots.txt", 200),
    hit(3, "/index.html", 200),
    hit(3, "/.env", 404),
    hit(3, "/wp-login.php", 404),
    Hit {
        ua: Some(SCANNER_UA),
        ..hit(4, "/", 200)
    },
    Hit {
        ua: Some(SCANNER_UA),
        ..hit(4, "/nothing-here", 404)
    },
];

/// Traffic on the custom-format vhost: .5 behind a forwarded-for chain, .6 probes.
const CUSTOM_PLAN: &[Hit] = &[
    Hit {
        xff: Some(XFF),
        ..hit(5, "/", 200)
    },
    Hit {
        xff: Some(XFF),
        ..hit(5, "/big.bin", 200)
    },
    hit(5, "/robots.txt", 200),
    hit(6, "/missing", 404),
    hit(6, "/.git/config", 404),
];

/// A private nginx: config, docroot, pid, temp paths and logs in one temp dir.
struct Nginx {
    daemon: Daemon,
    dir: tempfile::TempDir,
    /// The combined-format vhost.
    port: u16,
    /// The custom-format vhost.
    custom_port: u16,
}

impl Nginx {
    fn start() -> Nginx {
        let dir = harness::tempdir();
        for sub in ["html", "logs", "tmp"] {
            fs::create_dir(dir.path().join(sub)).unwrap();
        }
        fs::write(dir.path().join("html/index.html"), "hello\n").unwrap();
        fs::write(dir.path().join("html/robots.txt"), "User-agent: *\n").unwrap();
        fs::write(dir.path().join("html/big.bin"), vec![b'x'; 12_345]).unwrap();
        // A port can be taken between choosing and binding it: try a few.
        for _ in 0..5 {
            let ports = harness::free_ports(2);
            let (port, custom_port) = (ports[0], ports[1]);
            let conf = dir.path().join("nginx.conf");
            fs::write(&conf, config(dir.path(), port, custom_port)).unwrap();
            let mut cmd = Command::new(harness::bin("nginx"));
            cmd.arg("-p").arg(dir.path()).arg("-c").arg(&conf);
            cmd.args(["-e", "stderr", "-g", "daemon off;"]);
            let daemon = Daemon::spawn("nginx", cmd, &dir.path().join("nginx.out"));
            // nginx writes its pid file only after binding every port, so a port
            // that answers is nginx's, not whoever may have taken it meanwhile.
            let pid_file = dir.path().join("nginx.pid");
            harness::wait_until("nginx to listen", READY_TIMEOUT, || {
                daemon.has_exited()
                    || pid_file.exists()
                        && harness::is_listening(port)
                        && harness::is_listening(custom_port)
            });
            if !daemon.has_exited() {
                return Nginx {
                    daemon,
                    dir,
                    port,
                    custom_port,
                };
            }
            assert!(
                daemon.output().contains("Address already in use"),
                "nginx failed to start:\n{}",
                daemon.output()
            );
        }
        panic!("nginx: no free port pair after 5 tries");
    }

    fn access_log(&self) -> PathBuf {
        self.dir.path().join("logs/access.log")
    }

    fn custom_log(&self) -> PathBuf {
        self.dir.path().join("logs/custom.log")
    }

    /// Sends every request of `plan` to `port` with curl, each from its own source,
    /// and checks nginx's answer is the planned status.
    fn send(&self, port: u16, plan: &[Hit]) {
        for h in plan {
            let mut cmd = Command::new(harness::bin("curl"));
            cmd.args(["-q", "-s", "-o", "/dev/null", "-w", "%{http_code}"]);
            cmd.args(["--noproxy", "*", "--max-time", "30"]);
            cmd.arg("--interface").arg(lo(h.src).to_string());
            if let Some(ua) = h.ua {
                cmd.arg("-A").arg(ua);
            }
            if let Some(xff) = h.xff {
                cmd.arg("-H").arg(format!("X-Forwarded-For: {xff}"));
            }
            cmd.arg(format!("http://127.0.0.1:{port}{}", h.path));
            let out = harness::run_cmd(cmd);
            self.daemon.assert_running();
            assert_eq!(
                out.stdout,
                h.status.to_string(),
                "GET {} from .{}: {out:?}",
                h.path,
                h.src
            );
        }
    }

    /// Waits until `log` holds `lines` lines (nginx writes after the response).
    fn wait_logged(&self, log: &Path, lines: usize) {
        harness::wait_until(
            &format!("{lines} lines in {}", log.display()),
            READY_TIMEOUT,
            || {
                self.daemon.assert_running();
                harness::line_count(log) >= lines
            },
        );
        assert_eq!(
            harness::line_count(log),
            lines,
            "{}",
            harness::read_or_empty(log)
        );
    }

    /// `count` idle connections from 127.0.0.`src` to the combined vhost, held open
    /// until dropped; returns once the kernel shows them ESTABLISHED on nginx's side.
    fn hold_idle(&self, src: u8, count: usize) -> Vec<TcpStream> {
        let dst = SocketAddrV4::new(lo(1), self.port);
        let held: Vec<TcpStream> = (0..count)
            .map(|_| harness::connect_from(lo(src), dst))
            .collect();
        harness::wait_until("idle sockets in /proc/net/tcp", READY_TIMEOUT, || {
            harness::proc_tcp_rows(self.port, lo(src), "01") >= count
        });
        held
    }
}

fn config(dir: &Path, port: u16, custom_port: u16) -> String {
    let d = dir.display();
    // `user root`: workers must read the 0700 temp dir; the master (root) opens logs.
    format!(
        r#"user root;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/logs/error.log warn;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    default_type application/octet-stream;
    log_format itest_custom '{CUSTOM_FORMAT}';
    server {{
        listen 127.0.0.1:{port};
        root {d}/html;
        access_log {d}/logs/access.log combined;
    }}
    server {{
        listen 127.0.0.1:{custom_port};
        root {d}/html;
        access_log {d}/logs/custom.log itest_custom;
    }}
}}
"#
    )
}

/// What a log says about one client, counted by a naive reading of the lines.
#[derive(Debug, Default, PartialEq)]
struct Expect {
    requests: u64,
    bytes: u64,
    /// "2xx" → count.
    status: BTreeMap<String, u64>,
}

/// The oracle: per client IP, from the log text. Both formats used here put the
/// client first and `"$request" $status $body_bytes_sent` right after the request.
fn oracle(log: &str) -> BTreeMap<String, Expect> {
    let mut by_ip: BTreeMap<String, Expect> = BTreeMap::new();
    for line in log.lines() {
        let quoted: Vec<&str> = line.split('"').collect();
        let ip = quoted[0].split_whitespace().next().unwrap();
        let mut after = quoted[2].split_whitespace();
        let status = after.next().unwrap();
        let bytes: u64 = after.next().unwrap().parse().unwrap();
        let e = by_ip.entry(ip.to_owned()).or_default();
        e.requests += 1;
        e.bytes += bytes;
        *e.status.entry(format!("{}xx", &status[..1])).or_default() += 1;
    }
    by_ip
}

/// Planned request count per source address.
fn planned(plan: &[Hit]) -> BTreeMap<String, u64> {
    let mut by_ip = BTreeMap::new();
    for h in plan {
        *by_ip.entry(lo(h.src).to_string()).or_default() += 1;
    }
    by_ip
}

/// Asserts that the row of every IP in the log matches the oracle exactly.
fn assert_rows_match(snap: &Snapshot, expect: &BTreeMap<String, Expect>) {
    for (ip, e) in expect {
        let row = snap.ip(ip);
        assert_eq!(num(row, "requests"), e.requests, "requests of {ip}: {row}");
        assert_eq!(num(row, "bytes"), e.bytes, "bytes of {ip}: {row}");
        let status = row["status"].as_object().unwrap();
        for class in ["1xx", "2xx", "3xx", "4xx", "5xx"] {
            let got = status.get(class).and_then(|v| v.as_u64()).unwrap_or(0);
            let want = e.status.get(class).copied().unwrap_or(0);
            assert_eq!(got, want, "status {class} of {ip}: {row}");
        }
        assert!(
            row["last_request"].is_object() || row["last_request"].is_string(),
            "{row}"
        );
    }
}

/// Asserts the summary's request and line totals and the log's source entry.
fn assert_summary(snap: &Snapshot, log: &Path, lines: u64) {
    let s = &snap.summary;
    assert_eq!(num(s, "requests"), lines, "summary: {s}");
    assert_eq!(num(s, "lines"), lines, "summary: {s}");
    assert_eq!(num(s, "malformed"), 0, "summary: {s}");
    let source = snap.source(log);
    assert_eq!(num(source, "lines"), lines, "source: {source}");
    assert_eq!(num(source, "malformed"), 0, "source: {source}");
    assert!(source["error"].is_null(), "source: {source}");
}

/// True when `row["services"]` names `port` (as a number or its decimal string).
fn serves(row: &serde_json::Value, port: u16) -> bool {
    row["services"]
        .as_array()
        .unwrap_or_else(|| panic!("no services array in {row}"))
        .iter()
        .any(|s| s.as_u64() == Some(u64::from(port)) || s.as_str() == Some(&port.to_string()))
}

/// nginx, the combined-vhost traffic sent and logged, idle sockets held.
struct CombinedScene {
    nginx: Nginx,
    _idle: Vec<TcpStream>,
}

fn combined_scene() -> CombinedScene {
    let nginx = Nginx::start();
    nginx.send(nginx.port, COMBINED_PLAN);
    nginx.wait_logged(&nginx.access_log(), COMBINED_PLAN.len());
    let idle = nginx.hold_idle(IDLE_SRC, IDLE_SOCKETS);
    CombinedScene { nginx, _idle: idle }
}

/// Self-test of the peer: nginx logs one line per curl request, attributed to the
/// curl's source address, and the idle sockets are in the kernel's table.
#[test]
fn nginx_logs_every_curl_request() {
    if harness::skip_unless(&["nginx", "curl"]) {
        return;
    }
    let scene = combined_scene();
    let nginx = &scene.nginx;
    let log = oracle(&harness::read_or_empty(&nginx.access_log()));
    let counted: BTreeMap<String, u64> =
        log.iter().map(|(ip, e)| (ip.clone(), e.requests)).collect();
    assert_eq!(counted, planned(COMBINED_PLAN));
    assert_eq!(log["127.0.0.2"].status["2xx"], 5);
    assert!(log["127.0.0.2"].bytes > 12_345, "{log:?}");
    assert!(harness::proc_tcp_rows(nginx.port, lo(IDLE_SRC), "01") >= IDLE_SOCKETS);

    nginx.send(nginx.custom_port, CUSTOM_PLAN);
    nginx.wait_logged(&nginx.custom_log(), CUSTOM_PLAN.len());
    let custom = harness::read_or_empty(&nginx.custom_log());
    let counted: BTreeMap<String, u64> = oracle(&custom)
        .iter()
        .map(|(ip, e)| (ip.clone(), e.requests))
        .collect();
    assert_eq!(counted, planned(CUSTOM_PLAN));
    assert!(
        custom.contains(XFF),
        "custom log lacks the forwarded-for chain:\n{custom}"
    );
}

/// The snapshot of a real combined log plus the live socket table.
#[test]
fn nginx_snapshot_counts_every_request() {
    if harness::skip_unless(&["nginx", "curl"]) {
        return;
    }
    let scene = combined_scene();
    let log = scene.nginx.access_log();
    let args: [Arg; 6] = [
        &"--once",
        &"--from-start",
        &"--show-private-ips",
        &"--no-auth-log",
        &"--log-path",
        &log,
    ];
    let snap = harness::snapshot(&args);

    let expect = oracle(&harness::read_or_empty(&log));
    assert_rows_match(&snap, &expect);
    assert_summary(&snap, &log, COMBINED_PLAN.len() as u64);
    assert_reasons(snap.ip("127.0.0.2"), &[]);
    assert_reasons(snap.ip("127.0.0.3"), &["exploit_path"]);
    assert_reasons(snap.ip("127.0.0.4"), &["scanner_ua"]);

    let idle = snap.ip(lo(IDLE_SRC));
    assert!(num(idle, "conns") >= IDLE_SOCKETS as u64, "{idle}");
    assert!(
        num(&idle["states"], "ESTABLISHED") >= IDLE_SOCKETS as u64,
        "{idle}"
    );
    assert_eq!(num(idle, "requests"), 0, "{idle}");
    assert!(
        serves(idle, scene.nginx.port),
        "service {} missing: {idle}",
        scene.nginx.port
    );
    assert_reasons(idle, &["conns_no_requests"]);

    // Without --show-private-ips no loopback address is shown at all.
    let args: [Arg; 5] = [
        &"--once",
        &"--from-start",
        &"--no-auth-log",
        &"--log-path",
        &log,
    ];
    let hidden = harness::snapshot(&args);
    let shown: Vec<&String> = hidden
        .ips
        .keys()
        .filter(|ip| ip.starts_with("127.") || *ip == "::1")
        .collect();
    assert!(
        shown.is_empty(),
        "loopback rows without --show-private-ips: {shown:?}"
    );
}

/// The snapshot of a real log in a custom `log_format`, with a forwarded-for chain
/// that must not move requests away from the peer (no trusted proxies).
#[test]
fn nginx_custom_format_snapshot() {
    if harness::skip_unless(&["nginx", "curl"]) {
        return;
    }
    let nginx = Nginx::start();
    nginx.send(nginx.custom_port, CUSTOM_PLAN);
    let log = nginx.custom_log();
    nginx.wait_logged(&log, CUSTOM_PLAN.len());
    let args: [Arg; 8] = [
        &"--once",
        &"--from-start",
        &"--show-private-ips",
        &"--no-auth-log",
        &"--log-format",
        &CUSTOM_FORMAT,
        &"--log-path",
        &log,
    ];
    let snap = harness::snapshot(&args);

    assert_rows_match(&snap, &oracle(&harness::read_or_empty(&log)));
    assert_summary(&snap, &log, CUSTOM_PLAN.len() as u64);
    assert_reasons(snap.ip("127.0.0.5"), &[]);
    assert_reasons(snap.ip("127.0.0.6"), &["exploit_path"]);
    for forwarded in ["203.0.113.7", "198.51.100.2"] {
        assert!(
            !snap.ips.contains_key(forwarded),
            "{forwarded} got a row from X-Forwarded-For"
        );
    }
}

/// A live `--for` run started after some traffic counts exactly the requests sent
/// after it started (files present at start are read from their end).
#[test]
fn nginx_live_counts_only_requests_after_start() {
    if harness::skip_unless(&["nginx", "curl"]) {
        return;
    }
    let nginx = Nginx::start();
    let log = nginx.access_log();
    let before = [
        hit(2, "/", 200),
        hit(2, "/index.html", 200),
        hit(3, "/", 200),
    ];
    nginx.send(nginx.port, &before);
    nginx.wait_logged(&log, before.len());

    let args: [Arg; 6] = [
        &"--for",
        &"300s",
        &"--show-private-ips",
        &"--no-auth-log",
        &"--log-path",
        &log,
    ];
    let mut live = Live::start(&args);
    live.wait_ready(&[&log]);
    let after = [
        hit(2, "/", 200),
        hit(2, "/missing", 404),
        hit(3, "/robots.txt", 200),
        hit(3, "/.env", 404),
        hit(3, "/", 200),
        hit(3, "/big.bin", 200),
    ];
    nginx.send(nginx.port, &after);
    nginx.wait_logged(&log, before.len() + after.len());
    live.wait_caught_up(&log);
    let snap = live.stop();

    let text = harness::read_or_empty(&log);
    let tail: String = text
        .lines()
        .skip(before.len())
        .map(|l| format!("{l}\n"))
        .collect();
    assert_rows_match(&snap, &oracle(&tail));
    assert_eq!(num(snap.ip("127.0.0.2"), "requests"), 2);
    assert_eq!(num(snap.ip("127.0.0.3"), "requests"), 4);
    assert_summary(&snap, &log, after.len() as u64);
    assert_reasons(snap.ip("127.0.0.3"), &["exploit_path"]);
}
