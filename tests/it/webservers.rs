//! A private Caddy (JSON access log) and a private Apache (Debian's `vhost_combined`)
//! serve curl requests from distinct loopback sources; the snapshot of each real log
//! must count every request per address with the status classes and bytes the server
//! logged, show the last path, and flag the probing and scanning addresses, with the
//! format named and with `auto`. As tests/it/nginx.rs does for nginx.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::harness::{self, assert_reasons, lo, num, Arg, Daemon, Snapshot, READY_TIMEOUT};

const SCANNER_UA: &str = "Mozilla/5.0 zgrab/0.x";

/// One planned request and the status the server must answer it with.
struct Hit {
    src: u8,
    method: &'static str,
    path: &'static str,
    ua: Option<&'static str>,
    status: u16,
}

const fn get(src: u8, path: &'static str, status: u16) -> Hit {
    Hit {
        src,
        method: "GET",
        path,
        ua: None,
        status,
    }
}

/// .2 browses (clean: a page, a large file, a HEAD, a miss, a query string), .3
/// probes exploit paths, .4 is a scanner by user agent.
const PLAN: &[Hit] = &[
    get(2, "/", 200),
    get(2, "/index.html", 200),
    get(2, "/big.bin", 200),
    Hit {
        method: "HEAD",
        ..get(2, "/robots.txt", 200)
    },
    get(2, "/missing.html", 404),
    get(2, "/index.html?q=a&page=2", 200),
    get(3, "/index.html", 200),
    get(3, "/.env", 404),
    get(3, "/wp-login.php", 404),
    Hit {
        ua: Some(SCANNER_UA),
        ..get(4, "/", 200)
    },
    Hit {
        ua: Some(SCANNER_UA),
        ..get(4, "/nothing-here", 404)
    },
];

/// A document root that both servers can read (their workers may not be root).
fn docroot(dir: &Path) -> PathBuf {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    let html = dir.join("html");
    fs::create_dir(&html).unwrap();
    fs::write(html.join("index.html"), "hello\n").unwrap();
    fs::write(html.join("robots.txt"), "User-agent: *\n").unwrap();
    fs::write(html.join("big.bin"), vec![b'x'; 12_345]).unwrap();
    html
}

/// Sends every request of `plan` to 127.0.0.1:`port`, each from its own source
/// address, and checks the server's answer is the planned status.
fn send(daemon: &Daemon, port: u16, plan: &[Hit]) {
    for h in plan {
        let mut cmd = Command::new(harness::bin("curl"));
        cmd.args(["-q", "-s", "-o", "/dev/null", "-w", "%{http_code}"]);
        cmd.args(["--noproxy", "*", "--max-time", "30"]);
        cmd.arg("--interface").arg(lo(h.src).to_string());
        if h.method == "HEAD" {
            cmd.arg("-I");
        }
        if let Some(ua) = h.ua {
            cmd.arg("-A").arg(ua);
        }
        cmd.arg(format!("http://127.0.0.1:{port}{}", h.path));
        let out = harness::run_cmd(cmd);
        daemon.assert_running();
        assert_eq!(
            out.stdout,
            h.status.to_string(),
            "{} {} from .{}: {out:?}",
            h.method,
            h.path,
            h.src
        );
    }
}

/// Waits until `log` holds `lines` lines (servers write after the response).
fn wait_logged(daemon: &Daemon, log: &Path, lines: usize) {
    harness::wait_until(
        &format!("{lines} lines in {}", log.display()),
        READY_TIMEOUT,
        || {
            daemon.assert_running();
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

/// What a log says about one client.
#[derive(Debug, Default, PartialEq)]
struct Expect {
    requests: u64,
    bytes: u64,
    /// "2xx" → count.
    status: BTreeMap<String, u64>,
    /// The last request's target (path and query) and status.
    last: (String, u64),
}

impl Expect {
    fn add(&mut self, path: &str, status: u64, bytes: u64) {
        self.requests += 1;
        self.bytes += bytes;
        *self
            .status
            .entry(format!("{}xx", status / 100))
            .or_default() += 1;
        self.last = (path.to_owned(), status);
    }
}

/// Planned request count per source address.
fn planned(plan: &[Hit]) -> BTreeMap<String, u64> {
    let mut by_ip = BTreeMap::new();
    for h in plan {
        *by_ip.entry(lo(h.src).to_string()).or_default() += 1;
    }
    by_ip
}

fn counts(expect: &BTreeMap<String, Expect>) -> BTreeMap<String, u64> {
    expect
        .iter()
        .map(|(ip, e)| (ip.clone(), e.requests))
        .collect()
}

/// Runs `--once --from-start` over `log` (plus `extra`) and checks every row
/// against the oracle, the summary and the log's source entry.
fn assert_snapshot(log: &Path, extra: &[Arg], expect: &BTreeMap<String, Expect>) -> Snapshot {
    let mut args: Vec<Arg> = vec![&"--once", &"--from-start", &"--show-private-ips"];
    args.extend_from_slice(&[&"--no-auth-log", &"--log-path", &log]);
    args.extend_from_slice(extra);
    let snap = harness::snapshot(&args);
    for (ip, e) in expect {
        let row = snap.ip(ip);
        assert_eq!(num(row, "requests"), e.requests, "requests of {ip}: {row}");
        assert_eq!(num(row, "bytes"), e.bytes, "bytes of {ip}: {row}");
        let status = row["status"].as_object().unwrap();
        for class in ["1xx", "2xx", "3xx", "4xx", "5xx"] {
            let got = status.get(class).and_then(Value::as_u64).unwrap_or(0);
            let want = e.status.get(class).copied().unwrap_or(0);
            assert_eq!(got, want, "status {class} of {ip}: {row}");
        }
        let last = &row["last_request"];
        assert_eq!(last["path"], e.last.0.as_str(), "last path of {ip}: {row}");
        assert_eq!(num(last, "status"), e.last.1, "last status of {ip}: {row}");
    }
    assert_reasons(snap.ip("127.0.0.2"), &[]);
    assert_reasons(snap.ip("127.0.0.3"), &["exploit_path"]);
    assert_reasons(snap.ip("127.0.0.4"), &["scanner_ua"]);

    let lines = PLAN.len() as u64;
    let s = &snap.summary;
    assert_eq!(num(s, "requests"), lines, "summary: {s}");
    assert_eq!(num(s, "lines"), lines, "summary: {s}");
    assert_eq!(num(s, "malformed"), 0, "summary: {s}");
    let source = snap.source(log);
    assert_eq!(num(source, "lines"), lines, "source: {source}");
    assert_eq!(num(source, "malformed"), 0, "source: {source}");
    assert!(source["error"].is_null(), "source: {source}");
    snap
}

// ---------------------------------------------------------------------------
// Caddy

/// A private Caddy: Caddyfile, docroot, storage and the JSON access log in a temp dir.
struct Caddy {
    daemon: Daemon,
    dir: tempfile::TempDir,
    port: u16,
}

impl Caddy {
    fn start() -> Caddy {
        let dir = harness::tempdir();
        let html = docroot(dir.path());
        // A port can be taken between choosing and binding it: try a few.
        for _ in 0..5 {
            let port = harness::free_ports(1)[0];
            let conf = dir.path().join("Caddyfile");
            fs::write(&conf, caddyfile(dir.path(), &html, port)).unwrap();
            let mut cmd = Command::new(harness::bin("caddy"));
            cmd.args(["run", "--adapter", "caddyfile", "--config"])
                .arg(&conf);
            // Caddy keeps its autosave and data under HOME / XDG: ours, not root's.
            for var in ["HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"] {
                cmd.env(var, dir.path());
            }
            let daemon = Daemon::spawn("caddy", cmd, &dir.path().join("caddy.out"));
            harness::wait_until("caddy to listen", READY_TIMEOUT, || {
                daemon.has_exited() || harness::is_listening(port)
            });
            if !daemon.has_exited() {
                return Caddy { daemon, dir, port };
            }
            assert!(
                daemon.output().contains("address already in use"),
                "caddy failed to start:\n{}",
                daemon.output()
            );
        }
        panic!("caddy: no free port after 5 tries");
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("access.log")
    }
}

fn caddyfile(dir: &Path, html: &Path, port: u16) -> String {
    let (d, h) = (dir.display(), html.display());
    format!(
        r#"{{
	admin off
	auto_https off
	storage file_system {d}/data
	servers {{
		protocols h1
	}}
}}
http://127.0.0.1:{port} {{
	root * {h}
	file_server
	log {{
		output file {d}/access.log
		format json
	}}
}}
"#
    )
}

/// The oracle: per client IP, from Caddy's JSON lines.
fn caddy_oracle(log: &str) -> BTreeMap<String, Expect> {
    let mut by_ip: BTreeMap<String, Expect> = BTreeMap::new();
    for line in log.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let req = &v["request"];
        let ip = req["remote_ip"].as_str().unwrap();
        let path = req["uri"].as_str().unwrap();
        let status = v["status"].as_u64().unwrap();
        let size = v["size"].as_u64().unwrap();
        by_ip
            .entry(ip.to_owned())
            .or_default()
            .add(path, status, size);
    }
    by_ip
}

#[test]
fn caddy_json_log_snapshot_counts_every_request() {
    if harness::skip_unless(&["caddy", "curl"]) {
        return;
    }
    let caddy = Caddy::start();
    send(&caddy.daemon, caddy.port, PLAN);
    let log = caddy.log();
    wait_logged(&caddy.daemon, &log, PLAN.len());
    let expect = caddy_oracle(&harness::read_or_empty(&log));
    assert_eq!(counts(&expect), planned(PLAN), "caddy logged every request");
    assert_eq!(expect["127.0.0.2"].status["2xx"], 5);
    assert!(expect["127.0.0.2"].bytes > 12_345, "{expect:?}");

    let json: [Arg; 2] = [&"--log-format", &"json"];
    let snap = assert_snapshot(&log, &json, &expect);
    assert_eq!(snap.source(&log)["format"], "json", "{}", snap.summary);
    let snap = assert_snapshot(&log, &[], &expect);
    assert_eq!(
        snap.source(&log)["format"],
        "auto(json)",
        "{}",
        snap.summary
    );
}

// ---------------------------------------------------------------------------
// Apache

/// Debian's `vhost_combined` (/etc/apache2/apache2.conf), verbatim.
const VHOST_COMBINED: &str =
    r#""%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" vhost_combined"#;

/// Debian's module directory.
const APACHE_MODULES: &str = "/usr/lib/apache2/modules";

/// A private Apache: config, docroot, pid, mutex, runtime dir and logs in a temp dir.
struct Apache {
    daemon: Daemon,
    dir: tempfile::TempDir,
    port: u16,
}

impl Apache {
    fn start() -> Apache {
        let dir = harness::tempdir();
        let html = docroot(dir.path());
        fs::create_dir(dir.path().join("logs")).unwrap();
        for _ in 0..5 {
            let port = harness::free_ports(1)[0];
            let conf = dir.path().join("apache2.conf");
            fs::write(&conf, apache_config(dir.path(), &html, port)).unwrap();
            let mut cmd = Command::new(harness::bin("apache2"));
            cmd.arg("-f").arg(&conf).arg("-DFOREGROUND");
            let daemon = Daemon::spawn("apache2", cmd, &dir.path().join("apache2.out"));
            // Apache writes its pid file after binding its port.
            let pid_file = dir.path().join("apache2.pid");
            harness::wait_until("apache2 to listen", READY_TIMEOUT, || {
                daemon.has_exited() || pid_file.exists() && harness::is_listening(port)
            });
            if !daemon.has_exited() {
                return Apache { daemon, dir, port };
            }
            let errors = harness::read_or_empty(&dir.path().join("logs/error.log"));
            assert!(
                errors.contains("Address already in use")
                    || daemon.output().contains("Address already in use"),
                "apache2 failed to start:\n{}\n{errors}",
                daemon.output()
            );
        }
        panic!("apache2: no free port after 5 tries");
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("logs/access.log")
    }
}

fn apache_config(dir: &Path, html: &Path, port: u16) -> String {
    let (d, h, m) = (dir.display(), html.display(), APACHE_MODULES);
    // The workers run as www-data (Apache refuses root); the parent, root, opens
    // the logs.
    format!(
        r#"ServerRoot {d}
ServerName localhost
Listen 127.0.0.1:{port}
PidFile {d}/apache2.pid
DefaultRuntimeDir {d}
Mutex file:{d}
ErrorLog {d}/logs/error.log
User www-data
Group www-data
LoadModule mpm_event_module {m}/mod_mpm_event.so
LoadModule authz_core_module {m}/mod_authz_core.so
LoadModule mime_module {m}/mod_mime.so
LoadModule dir_module {m}/mod_dir.so
TypesConfig /etc/mime.types
LogFormat {VHOST_COMBINED}
<VirtualHost 127.0.0.1:{port}>
    ServerName itest.local
    DocumentRoot {h}
    CustomLog {d}/logs/access.log vhost_combined
    <Directory {h}>
        Require all granted
    </Directory>
</VirtualHost>
"#
    )
}

/// The oracle: per client IP, from `vhost:port ip - - [time] "request" status bytes
/// "referer" "agent"` lines.
fn apache_oracle(log: &str) -> BTreeMap<String, Expect> {
    let mut by_ip: BTreeMap<String, Expect> = BTreeMap::new();
    for line in log.lines() {
        let quoted: Vec<&str> = line.split('"').collect();
        let ip = quoted[0].split_whitespace().nth(1).unwrap();
        let path = quoted[1].split_whitespace().nth(1).unwrap();
        let mut after = quoted[2].split_whitespace();
        let status: u64 = after.next().unwrap().parse().unwrap();
        let bytes: u64 = after.next().unwrap().parse().unwrap();
        by_ip
            .entry(ip.to_owned())
            .or_default()
            .add(path, status, bytes);
    }
    by_ip
}

#[test]
fn apache_vhost_combined_snapshot_counts_every_request() {
    if harness::skip_unless(&["apache2", "curl"]) {
        return;
    }
    let apache = Apache::start();
    send(&apache.daemon, apache.port, PLAN);
    let log = apache.log();
    wait_logged(&apache.daemon, &log, PLAN.len());
    let text = harness::read_or_empty(&log);
    assert!(
        text.starts_with("itest.local:"),
        "not vhost_combined:\n{text}"
    );
    let expect = apache_oracle(&text);
    assert_eq!(
        counts(&expect),
        planned(PLAN),
        "apache logged every request"
    );
    assert_eq!(expect["127.0.0.2"].status["2xx"], 5);
    assert!(expect["127.0.0.2"].bytes > 12_345, "{expect:?}");

    let vhost: [Arg; 2] = [&"--log-format", &"vhost_combined"];
    let snap = assert_snapshot(&log, &vhost, &expect);
    assert_eq!(snap.source(&log)["format"], "vhost_combined");
    let snap = assert_snapshot(&log, &[], &expect);
    assert_eq!(snap.source(&log)["format"], "auto(vhost_combined)");
}
