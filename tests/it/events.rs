//! The event stream (`--events`) of the real binary, on an nginx-format access log
//! and an sshd log written while it runs: the exact sequence of event types and
//! reasons, each line JSON that starts with the fixed prefix. [`EventRun`] is also
//! what the sshd-through-rsyslog test (`it::sshd`) reads the stream with.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::harness::{self, Arg, READY_TIMEOUT};

/// The prefix every line starts with (a contract: fail2ban filters match it).
const PREFIX: &str = r#"{"schema_version":1,"type":""#;

/// `nethergaze --events …` running, its stdout in a file read as it grows.
pub struct EventRun {
    child: Option<Child>,
    out: PathBuf,
    err: PathBuf,
}

impl EventRun {
    /// Starts `nethergaze --events --no-geoip --no-whois --no-history ARGS`,
    /// stdout and stderr to files in `dir`.
    pub fn start(dir: &Path, args: &[Arg]) -> EventRun {
        let (out, err) = (dir.join("events.ndjson"), dir.join("events.err"));
        let mut cmd = harness::nethergaze();
        cmd.args(["--events", "--no-geoip", "--no-whois", "--no-history"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(File::create(&out).unwrap())
            .stderr(File::create(&err).unwrap())
            .process_group(0);
        let child = cmd.spawn().unwrap();
        EventRun {
            child: Some(child),
            out,
            err,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Waits until the run has `file` open (it reads from the end: lines
    /// appended before would be missed).
    pub fn wait_open(&self, file: &Path) {
        harness::wait_until(
            &format!("nethergaze to open {}", file.display()),
            READY_TIMEOUT,
            || harness::open_fd(self.pid(), file).is_some(),
        );
    }

    /// The complete lines so far, each checked: JSON, with the fixed prefix.
    pub fn events(&self) -> Vec<Value> {
        let text = harness::read_or_empty(&self.out);
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        complete
            .lines()
            .map(|line| {
                assert!(line.starts_with(PREFIX), "bad prefix: {line}");
                assert!(!line.bytes().any(|b| b < 0x20), "raw control: {line:?}");
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"))
            })
            .collect()
    }

    /// Polls until an event matching `want` has arrived (within
    /// [`READY_TIMEOUT`]); returns when it was first seen.
    pub fn wait_event(&self, what: &str, want: impl Fn(&Value) -> bool) -> Instant {
        harness::wait_until(what, READY_TIMEOUT, || {
            self.assert_running();
            self.events().iter().any(&want)
        });
        Instant::now()
    }

    fn assert_running(&self) {
        let exited = self.child.as_ref().is_none_or(|c| {
            // SAFETY: zeroed siginfo_t is a valid out-parameter for waitid.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
            // SAFETY: `info` is writable; the pid is our own child, left unreaped.
            let rc = unsafe { libc::waitid(libc::P_PID, c.id(), &mut info, flags) };
            // SAFETY: si_pid is set by waitid (0 while the child runs).
            rc == 0 && unsafe { info.si_pid() } != 0
        });
        assert!(
            !exited,
            "nethergaze exited: {}",
            harness::read_or_empty(&self.err)
        );
    }

    /// SIGTERM, then the whole stream (the run must end within the wait).
    pub fn stop(mut self) -> Vec<Value> {
        let mut child = self.child.take().unwrap();
        // SAFETY: kill has no memory preconditions; the child is ours, unreaped.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let status = child.wait().unwrap();
        assert!(status.code().is_some(), "killed: {status:?}");
        self.events()
    }

    /// What the run said on stderr.
    pub fn stderr(&self) -> String {
        harness::read_or_empty(&self.err)
    }
}

impl Drop for EventRun {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: as in `stop`; the group is the child's own.
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            let _ = child.wait();
        }
    }
}

/// `type ip +new_reasons` / `type ip -cleared_reasons` / `type ip`.
pub fn describe(event: &Value) -> String {
    let codes = |key: &str| {
        event[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    };
    let ip = event["ip"].as_str().unwrap_or("-");
    match event["type"].as_str().unwrap_or("?") {
        "suspicious" => format!("suspicious {ip} +{}", codes("new_reasons")),
        "cleared" => format!("cleared {ip} -{}", codes("cleared_reasons")),
        "auth" => format!("auth {ip} after {}", event["after_failures"]),
        "source" => format!("source {} {}", event["source"], event["status"]),
        other => format!("{other} {ip}"),
    }
}

/// Now as RFC 3339 with microseconds (rsyslog's precise stamp, UTC) and as
/// nginx's `$time_local` (UTC).
fn stamps() -> (String, String) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil(days as i64);
    let (hh, mm, ss) = (rest / 3600, rest % 3600 / 60, rest % 60);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    (
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.000000+00:00"),
        format!(
            "{d:02}/{}/{y:04}:{hh:02}:{mm:02}:{ss:02} +0000",
            MONTHS[m as usize - 1]
        ),
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
pub(crate) fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn append(path: &Path, line: &str) {
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(format!("{line}\n").as_bytes()).unwrap();
}

fn sshd_line(what: &str) -> String {
    format!("{} web1 sshd[4242]: {what}", stamps().0)
}

/// An empty /proc/net for the socket reader: no socket, so no reason from
/// this machine's own connections.
fn empty_proc(dir: &Path) -> PathBuf {
    let proc = dir.join("proc");
    fs::create_dir_all(proc.join("net")).unwrap();
    let header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
    for name in ["tcp", "tcp6"] {
        fs::write(proc.join("net").join(name), header).unwrap();
    }
    proc
}

/// The whole life of a stream: the sshd log missing (a `source` failure) and
/// then created (recovered); a brute forcer's failures (`auth_failures`);
/// a scanner's probe in the nginx log (two reasons in one line); the brute
/// forcer logging in (`breach`, then `auth` with `after_failures` 3); the
/// reasons fading after `reason_ttl` (`cleared`), except `breach`. Lines
/// that repeat a reason announce nothing.
#[test]
fn events_follow_a_brute_forcer_and_a_scanner_in_order() {
    let dir = harness::tempdir();
    let (access, auth) = (dir.path().join("access.log"), dir.path().join("auth.log"));
    fs::write(&access, "").unwrap();
    let config = dir.path().join("config.toml");
    fs::write(&config, "[filters]\nreason_ttl = 6\n").unwrap();
    let proc = empty_proc(dir.path());
    let args: [Arg; 11] = [
        &"--config",
        &config,
        &"--log-path",
        &access,
        &"--log-format",
        &"combined",
        &"--auth-log-path",
        &auth,
        &"--proc-root",
        &proc,
        &"--connections-interval=0.2",
    ];
    let run = EventRun::start(dir.path(), &args);
    run.wait_event("the sshd log's failure", |e| e["type"] == "source");
    append(&auth, &sshd_line("Server listening on 0.0.0.0 port 22."));
    run.wait_event("the sshd log's recovery", |e| e["status"] == "recovered");
    run.wait_open(&auth);
    let brute = "45.33.32.156";
    for port in 0..5 {
        append(
            &auth,
            &sshd_line(&format!(
                "Failed password for root from {brute} port {} ssh2",
                40_000 + port
            )),
        );
    }
    run.wait_event("auth_failures", |e| e["new_reasons"][0] == "auth_failures");
    let scanner = "93.184.216.34";
    let probe = format!(
        r#"{scanner} - - [{}] "GET /.env HTTP/1.1" 404 153 "-" "zgrab/0.x""#,
        stamps().1
    );
    append(&access, &probe);
    append(&access, &probe);
    run.wait_event("the scanner", |e| e["ip"] == scanner);
    append(
        &auth,
        &sshd_line(&format!(
            "Accepted password for root from {brute} port 40100 ssh2"
        )),
    );
    run.wait_event("the login", |e| e["type"] == "auth");
    run.wait_event("the scanner cleared", |e| {
        e["type"] == "cleared" && e["ip"] == scanner
    });
    run.wait_event("the failures cleared", |e| {
        e["type"] == "cleared" && e["ip"] == brute
    });
    let events = run.stop();
    let seen: Vec<String> = events.iter().map(describe).collect();
    // Clearing order between two addresses is not fixed; before it, all is.
    let (announced, cleared) = seen.split_at(seen.len() - 2);
    assert_eq!(
        announced,
        [
            "source \"auth\" \"failed\"".to_string(),
            "source \"auth\" \"recovered\"".to_string(),
            format!("suspicious {brute} +auth_failures"),
            format!("suspicious {scanner} +scanner_ua,exploit_path"),
            format!("suspicious {brute} +breach"),
            format!("auth {brute} after 5"),
        ],
        "{seen:#?}"
    );
    let mut cleared = cleared.to_vec();
    cleared.sort();
    assert_eq!(
        cleared,
        [
            format!("cleared {brute} -auth_failures"),
            format!("cleared {scanner} -scanner_ua,exploit_path"),
        ]
    );
    let breach = &events[4];
    assert_eq!(
        breach["reasons"],
        serde_json::json!(["breach", "auth_failures"])
    );
    assert_eq!(breach["auth_failures"], 5);
    let login = &events[5];
    assert_eq!(login["user"], "root");
    let scan = &events[3];
    // Counts are as of the batch of lines read together: one probe or both.
    let requests = scan["requests"].as_u64().unwrap();
    assert!((1..=2).contains(&requests), "{scan}");
    for key in ["time", "host", "country", "org", "connections", "syn_recv"] {
        assert!(scan.get(key).is_some(), "{key} missing: {scan}");
    }
    let brute_cleared = events
        .iter()
        .find(|e| e["type"] == "cleared" && e["ip"] == brute)
        .unwrap();
    assert_eq!(
        brute_cleared["reasons"],
        serde_json::json!(["breach"]),
        "breach stays"
    );
}

/// `--for` bounds an `--events` run; stdout is the stream alone (no
/// snapshot after it), and `--events-file` gets the same lines, in a file
/// only its owner can read.
#[test]
fn events_for_a_while_then_exit_without_a_snapshot() {
    use std::os::unix::fs::PermissionsExt;
    let dir = harness::tempdir();
    let access = dir.path().join("access.log");
    let probe = r#"93.184.216.34 - - [07/Dec/2026:05:00:00 +0000] "GET /wp-login.php HTTP/1.1" 404 153 "-" "curl/8""#;
    fs::write(&access, format!("{probe}\n")).unwrap();
    let copy = dir.path().join("copy.ndjson");
    let proc = empty_proc(dir.path());
    let args: [Arg; 10] = [
        &"--for=1",
        &"--from-start",
        &"--no-auth-log",
        &"--log-path",
        &access,
        &"--proc-root",
        &proc,
        &"--events-file",
        &copy,
        &"--log-format=combined",
    ];
    let started = Instant::now();
    let mut run = EventRun::start(dir.path(), &args);
    let status = run.child.take().unwrap().wait().unwrap();
    assert!(status.success(), "{status:?}: {}", run.stderr());
    assert!(started.elapsed() < Duration::from_secs(30));
    let events = run.events();
    let seen: Vec<String> = events.iter().map(describe).collect();
    assert_eq!(seen, ["suspicious 93.184.216.34 +exploit_path"]);
    assert_eq!(
        fs::read_to_string(&copy).unwrap(),
        harness::read_or_empty(&run.out)
    );
    let mode = fs::metadata(&copy).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}
