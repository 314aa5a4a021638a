//! The engine in-process: a Config over the fixture logs (tests/data/logs)
//! and the /proc fixture (tests/data/proc), lines fed, dumps read, ticks
//! run, then the table, the source reports and the whois picks looked at.
//! No terminal, no child process. The fixtures' READMEs give the figures.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::net::IpAddr;

use super::*;
use crate::config::{load_with, Invocation, Probe};

fn data(path: &str) -> String {
    format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// A headless `--once` config from `args` (nothing read from this machine:
/// HOME points nowhere, no default log or auth path is probed).
fn config(args: &[&str]) -> Config {
    let env = |key: &str| (key == "HOME").then(|| "/nonexistent-nethergaze-home".to_string());
    let probe = Probe {
        log_candidates: Vec::new(),
        auth_candidates: Vec::new(),
        system_config: std::path::PathBuf::new(),
    };
    let argv = ["nethergaze", "--once", "--no-geoip", "--no-whois"]
        .iter()
        .chain(args)
        .map(OsString::from);
    match load_with(argv, &env, &probe) {
        Ok(Invocation::Run(config)) => config,
        other => panic!("{args:?}: {other:?}"),
    }
}

/// An engine over one fixture log and the /proc fixture, everything read.
fn engine_over(log: &str, format: &str, extra: &[&str]) -> Engine {
    let (log, proc) = (data(&format!("logs/{log}")), data("proc"));
    let mut args = vec!["--from-start", "--no-history", "--no-auth-log"];
    args.extend([
        "--log-path",
        &log,
        "--log-format",
        format,
        "--proc-root",
        &proc,
    ]);
    args.extend(extra);
    let mut engine = Engine::new(&config(&args)).expect("engine");
    engine.touch_clock();
    engine.read_logs_now();
    engine.start_socket_dump();
    engine
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn report<'e>(engine: &'e Engine, kind: &str) -> &'e SourceReport {
    let reports = engine.source_reports();
    reports
        .iter()
        .find(|r| r.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} source in {:?}", reports.len()))
}

#[test]
fn a_log_and_a_proc_dump_fill_the_table() {
    let engine = engine_over("combined.log", "combined", &[]);
    let table = &engine.core.table;
    let client = table.get(ip("45.33.32.156")).expect("45.33.32.156");
    assert_eq!((client.requests, client.bytes), (4, 6050));
    assert_eq!(
        table.get(ip("185.199.108.153")).expect("burst").requests,
        61
    );
    for forged in ["6.6.6.6", "6.6.6.7", "1.2.3.4"] {
        assert!(table.get(ip(forged)).is_none(), "{forged}");
    }
    // The /proc fixture: 16 sockets, read at once (never in flight).
    assert_eq!(engine.last_dump().len(), 16);
    assert!(!engine.is_dump_in_flight());
    assert_eq!(
        table
            .get(ip("8.8.4.4"))
            .expect("8.8.4.4")
            .sockets()
            .conns_in,
        1
    );
    assert!(engine.core.changes > 0);
}

#[test]
fn source_reports_count_lines_and_name_formats() {
    let engine = engine_over("combined.log", "combined", &[]);
    let reports = engine.source_reports();
    assert_eq!(reports.len(), 2, "the log and the sockets");
    let log = &reports[0];
    assert_eq!(log.path, data("logs/combined.log"));
    assert_eq!((log.kind, log.format.as_str()), ("access", "combined"));
    assert_eq!((log.lines, log.malformed), (138, 4));
    let sockets = &reports[1];
    assert_eq!(sockets.path, format!("{}/net/tcp{{,6}}", data("proc")));
    assert_eq!(
        (sockets.kind, sockets.format.as_str()),
        ("sockets", "procnet")
    );
    assert_eq!(
        (sockets.lines, sockets.malformed, &sockets.error),
        (18, 2, &None)
    );
}

#[test]
fn auto_format_reports_the_format_last_seen() {
    let engine = engine_over("mixed.log", "auto", &[]);
    let log = report(&engine, "access");
    assert_eq!(
        log.format, "auto(json)",
        "mixed.log's last good line is JSON"
    );
    assert_eq!((log.lines, log.malformed), (9, 3));
    let custom = engine_over("custom.log", "$remote_addr $request", &[]);
    assert_eq!(report(&custom, "access").format, "custom");
}

#[test]
fn sshd_lines_go_to_the_auth_parser() {
    let (empty, auth, proc) = (data("logs/empty.log"), data("logs/auth.log"), data("proc"));
    let args = [
        "--from-start",
        "--no-history",
        "--log-path",
        &empty,
        "--auth-log-path",
        &auth,
        "--proc-root",
        &proc,
    ];
    let mut engine = Engine::new(&config(&args)).expect("engine");
    engine.touch_clock();
    engine.read_logs_now();
    let row = engine.core.table.get(ip("45.33.32.156")).expect("row");
    assert_eq!(row.auth_failures(), 4);
    let auth = report(&engine, "auth");
    assert_eq!(
        (auth.path.as_str(), auth.format.as_str()),
        (data("logs/auth.log").as_str(), "sshd")
    );
    assert_eq!(auth.lines, 14);
}

#[test]
fn reports_are_updated_in_place_as_lines_arrive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    fs::copy(data("logs/common.log"), &log).expect("copy");
    let log = log.display().to_string();
    let proc = data("proc");
    let args = [
        "--from-start",
        "--no-history",
        "--no-auth-log",
        "--log-format",
        "common",
        "--log-path",
        &log,
        "--proc-root",
        &proc,
    ];
    let mut engine = Engine::new(&config(&args)).expect("engine");
    engine.touch_clock();
    engine.read_logs_now();
    let first = &engine.source_reports()[0];
    assert_eq!((first.lines, first.malformed), (9, 2));
    let (list, path) = {
        let first = &engine.source_reports()[0];
        (engine.source_reports().as_ptr(), first.path.as_ptr())
    };
    let line = "8.8.8.8 - - [10/Oct/2023:08:05:00 +0000] \"GET / HTTP/1.1\" 200 1\n";
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open");
    file.write_all(line.as_bytes()).expect("append");
    let before = engine.core.changes;
    engine.read_logs_pass();
    assert!(engine.core.changes > before);
    assert_eq!(
        engine.core.table.get(ip("8.8.8.8")).expect("row").requests,
        1
    );
    let first = &engine.source_reports()[0];
    assert_eq!((first.lines, first.malformed), (10, 2));
    // Same list, same path buffer: refreshed, not rebuilt.
    assert_eq!(engine.source_reports().as_ptr(), list);
    assert_eq!(first.path.as_ptr(), path);
}

#[test]
fn ticks_re_read_proc_and_expire_nothing_recent() {
    let mut engine = engine_over("combined.log", "combined", &[]);
    let rows = engine.core.table.len();
    engine.on_tick();
    engine.on_tick();
    assert_eq!(
        report(&engine, "sockets").lines,
        3 * 18,
        "a /proc read each tick"
    );
    assert_eq!(engine.core.table.len(), rows);
}

#[test]
fn whois_picks_the_suspicious_then_the_busiest_eight() {
    let mut engine = engine_over("combined.log", "combined", &[]);
    let core = &engine.core;
    // The naive oracle: every candidate, sorted (what each tick used to do).
    let mut oracle: Vec<(bool, u64, std::cmp::Reverse<IpAddr>)> = core
        .table
        .rows()
        .filter(|r| r.whois.is_none() && crate::net::is_public(r.ip))
        .map(|r| {
            let suspicious = !core.detector.reasons(r).is_empty();
            (
                suspicious,
                r.requests + u64::from(r.sockets().conns_in),
                std::cmp::Reverse(r.ip),
            )
        })
        .collect();
    oracle.sort_unstable_by(|a, b| b.cmp(a));
    let want: Vec<IpAddr> = oracle.iter().take(8).map(|c| c.2 .0).collect();
    assert!(
        oracle.len() > 8,
        "more candidates than a tick asks: {}",
        oracle.len()
    );
    let picks = engine.whois.pick_unasked(&engine.core).to_vec();
    assert_eq!(picks, want);
    assert_eq!(
        picks[0],
        ip("185.199.108.153"),
        "suspicious (burst) and busiest"
    );
    assert!(!picks.contains(&ip("6.6.6.6")));
}

#[test]
fn history_is_a_source_and_saved_at_exit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("history.sqlite").display().to_string();
    let (log, proc) = (data("logs/combined.log"), data("proc"));
    let args = [
        "--from-start",
        "--no-auth-log",
        "--history-db",
        &db,
        "--log-path",
        &log,
        "--proc-root",
        &proc,
    ];
    let mut engine = Engine::new(&config(&args)).expect("engine");
    engine.touch_clock();
    engine.read_logs_now();
    assert_eq!(engine.history_saved(), None);
    assert_eq!(engine.save_history(), None);
    assert_eq!(engine.history_saved(), Some(true));
    let history = report(&engine, "history");
    assert_eq!(
        (history.path.as_str(), history.format.as_str()),
        (db.as_str(), "sqlite")
    );
    assert_eq!(history.error, None);
    let saved = engine.history.as_ref().expect("history on");
    let known = saved.lookup(ip("45.33.32.156")).expect("lookup");
    assert_eq!(known.expect("saved").requests, 4);
}

/// netlink, where the sandbox allows it: one dump in flight at a time (the
/// socket's own state), re-asked after five silent ticks, then read whole.
#[test]
fn a_netlink_dump_is_in_flight_until_read_and_re_asked_when_stalled() {
    let (empty, listener) = (
        data("logs/empty.log"),
        std::net::TcpListener::bind("127.0.0.1:0"),
    );
    let args = ["--no-history", "--no-auth-log", "--log-path", &empty];
    let mut engine = Engine::new(&config(&args)).expect("engine");
    if !matches!(engine.sockets, SocketReader::Netlink(_)) {
        eprintln!("netlink refused here: skipped");
        return;
    }
    engine.touch_clock();
    engine.start_socket_dump();
    assert!(engine.is_dump_in_flight());
    for _ in 0..4 {
        engine.on_tick(); // replies unread: no second request
        assert!(engine.is_dump_in_flight());
        assert_eq!(report(&engine, "sockets").error, None);
    }
    engine.on_tick();
    let stalled = report(&engine, "sockets").error.clone();
    assert_eq!(
        stalled.as_deref(),
        Some("netlink: a dump stalled; asked again")
    );
    let give_up = Instant::now() + Duration::from_secs(3);
    while !engine.on_sockets_ready() {
        assert!(Instant::now() < give_up, "the dump never finished");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!engine.is_dump_in_flight());
    let sockets = report(&engine, "sockets");
    assert_eq!(
        (sockets.path.as_str(), sockets.error.as_ref()),
        ("netlink", None)
    );
    let port = listener
        .expect("listener")
        .local_addr()
        .expect("addr")
        .port();
    assert!(engine.last_dump().iter().any(|s| s.local.port() == port));
}

/// Cached answers are attached as rows are born, before any tick or lookup
/// (so `--once` and the first frame show them), with or without history; a
/// remembered failure waits for its retry; the first tick asks about the
/// other rows only. (Whois points at a closed loopback port: nothing leaves
/// the machine.)
#[test]
fn cached_whois_answers_are_attached_when_rows_are_born() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("config.toml");
    let cache_dir = dir.path().join("cache");
    let toml = format!(
        "[whois]\nrdap_bootstrap_url = \"http://127.0.0.1:1/\"\n\
         whois_server = \"127.0.0.1:1\"\n[cache]\ndir = {cache_dir:?}\n"
    );
    fs::write(&conf, toml).expect("config");
    let (log, proc, conf) = (
        data("logs/combined.log"),
        data("proc"),
        conf.display().to_string(),
    );
    let args = [
        "--config",
        &conf,
        "--from-start",
        "--no-auth-log",
        "--no-history",
        "--log-path",
        &log,
        "--proc-root",
        &proc,
    ];
    let mut config = config(&args);
    config.whois.enabled = true; // `config` says --no-whois
    let fresh = |config: &Config| {
        let mut engine = Engine::new(config).expect("engine");
        engine.touch_clock();
        engine.read_logs_now();
        engine.start_socket_dump();
        engine
    };
    let mut engine = fresh(&config);
    let first = engine.whois.pick_unasked(&engine.core).to_vec();
    assert_eq!(first.len(), 8);
    let info = crate::enrich::whois::WhoisInfo {
        network: Some("CACHED".into()),
        ..Default::default()
    };
    let body = serde_json::to_string(&info).expect("json");
    let (failed, answered) = first.split_last().expect("picks");
    {
        let opened = crate::store::whois_cache::WhoisCache::open(&cache_dir, true);
        let mut cache = opened.cache.expect("cache");
        for ip in answered {
            cache.put(*ip, engine.core.now, true, &body).expect("put");
        }
        cache
            .put(*failed, engine.core.now, false, "HTTP status 404")
            .expect("put");
    }

    let mut engine = fresh(&config);
    for ip in answered {
        let row = engine.core.table.get(*ip).expect("row");
        assert_eq!(row.whois.as_deref(), Some(&info), "{ip}");
        assert_eq!(engine.whois().state(row), WhoisState::Done);
    }
    let row = engine.core.table.get(*failed).expect("row");
    assert_eq!(row.whois, None);
    let poll = mio::Poll::new().expect("poll");
    engine.start_whois(mio::Waker::new(poll.registry(), mio::Token(0)).expect("waker"));
    assert!(engine.whois_enabled());
    let row = engine.core.table.get(*failed).expect("row");
    let now = engine.core.now;
    assert!(
        matches!(engine.whois().state(row),
            WhoisState::Failed { why: "HTTP status 404", retry_at } if retry_at > now + 3500),
        "{:?}",
        engine.whois().state(row)
    );
    let next = engine
        .core
        .table
        .rows()
        .filter(|r| crate::net::is_public(r.ip) && !first.contains(&r.ip))
        .map(|r| r.ip)
        .collect::<Vec<_>>();
    assert!(!next.is_empty());
    for ip in &next {
        let row = engine.core.table.get(*ip).expect("row");
        assert_eq!(engine.whois().state(row), WhoisState::Waiting, "{ip}");
    }
    engine.on_tick();
    let worker = engine.whois.worker().expect("worker");
    assert!(
        first.iter().all(|&ip| !worker.was_asked(ip)),
        "cached answers and failures are not asked"
    );
    assert!(
        next.iter().all(|&ip| worker.was_asked(ip)),
        "{next:?} asked"
    );
    assert!(worker.pending() <= next.len());
    for ip in &next {
        let row = engine.core.table.get(*ip).expect("row");
        assert_eq!(engine.whois().state(row), WhoisState::Queued, "{ip}");
    }
    let report = report(&engine, "whois");
    assert_eq!(
        report.lines,
        answered.len() as u64,
        "answers from the cache"
    );
    assert_eq!(
        report.path,
        cache_dir.join("whois.db").display().to_string()
    );
    assert_eq!(
        (report.error.as_deref(), report.note.as_deref()),
        (None, None)
    );
}

/// A batch of new rows at least `SCAN_FROM` long reads a cache no bigger
/// than the batch in one scan, else address by address: both attach the
/// same answers and failures, and neither an expired answer nor a filler
/// entry for an address the log never saw.
#[test]
fn a_big_batch_of_new_rows_reads_the_cache_alike_by_scan_or_by_address() {
    let clients: Vec<IpAddr> = (0..whois::SCAN_FROM as u8 + 36)
        .map(|i| IpAddr::from([45, 33, 7, i]))
        .collect();
    let info = crate::enrich::whois::WhoisInfo {
        network: Some("CACHED".into()),
        ..Default::default()
    };
    let body = serde_json::to_string(&info).expect("json");
    for filler in [0, 2 * clients.len()] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (conf, cache_dir, log) = (
            dir.path().join("config.toml"),
            dir.path().join("cache"),
            dir.path().join("access.log"),
        );
        let toml = format!("[cache]\ndir = {cache_dir:?}\n");
        fs::write(&conf, toml).expect("config");
        let lines: String = clients
            .iter()
            .map(|ip| {
                format!(
                    "{ip} - - [07/Dec/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"x\"\n"
                )
            })
            .collect();
        fs::write(&log, lines).expect("log");
        let now = time::now();
        {
            let opened = crate::store::whois_cache::WhoisCache::open(&cache_dir, true);
            let mut cache = opened.cache.expect("cache");
            for ip in &clients[..10] {
                cache.put(*ip, now, true, &body).expect("put");
            }
            cache
                .put(clients[10], now, false, "HTTP status 404")
                .expect("put");
            cache
                .put(clients[11], now - 400 * 86_400, true, &body)
                .expect("put");
            for i in 0..filler {
                let other = IpAddr::from([46, 33, (i / 256) as u8, (i % 256) as u8]);
                cache.put(other, now, true, &body).expect("put");
            }
        }
        let (conf, log, proc) = (
            conf.display().to_string(),
            log.display().to_string(),
            data("proc"),
        );
        let args = [
            "--config",
            &conf,
            "--from-start",
            "--no-auth-log",
            "--no-history",
            "--log-format",
            "combined",
            "--log-path",
            &log,
            "--proc-root",
            &proc,
        ];
        let mut engine = Engine::new(&config(&args)).expect("engine");
        engine.touch_clock();
        engine.read_logs_now();
        let answered: Vec<IpAddr> = clients
            .iter()
            .filter(|ip| engine.core.table.get(**ip).expect("row").whois.is_some())
            .copied()
            .collect();
        assert_eq!(answered, clients[..10], "filler {filler}");
        assert_eq!(engine.whois.failed(), [clients[10]], "filler {filler}");
    }
}

/// Registered in a poll, the engine is woken by inotify when a log grows,
/// and the line is in the table after `on_files_ready`.
#[test]
fn registered_logs_wake_the_poll_when_a_line_arrives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    fs::write(&log, "").expect("create");
    let (log, proc) = (log.display().to_string(), data("proc"));
    let args = [
        "--no-history",
        "--no-auth-log",
        "--log-format",
        "combined",
        "--log-path",
        &log,
        "--proc-root",
        &proc,
    ];
    // Followed, as the dashboard and `--for` are (`--once` watches nothing).
    let mut config = config(&args);
    config.mode = crate::config::Mode::For(Duration::from_secs(60));
    let mut engine = Engine::new(&config).expect("engine");
    let mut poll = mio::Poll::new().expect("poll");
    let tokens = SourceTokens {
        files: mio::Token(1),
        files_alarm: mio::Token(2),
        sockets: mio::Token(3),
        journal: mio::Token(4),
        vnstat: mio::Token(5),
        blocked: mio::Token(6),
    };
    engine.register(poll.registry(), &tokens).expect("register");
    engine.touch_clock();
    let line = "8.8.8.8 - - [10/Oct/2023:08:05:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"t\"\n";
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open");
    file.write_all(line.as_bytes()).expect("append");
    let mut events = mio::Events::with_capacity(8);
    poll.poll(&mut events, Some(Duration::from_secs(5)))
        .expect("poll");
    assert!(
        events.iter().any(|e| e.token() == tokens.files),
        "inotify woke the poll"
    );
    engine.on_files_ready();
    assert_eq!(
        engine.core.table.get(ip("8.8.8.8")).expect("row").requests,
        1
    );
    assert_eq!(report(&engine, "access").lines, 1);
}

/// Without a worker (`--no-whois`) an address with no cached answer is "off",
/// a private one "not looked up", and the summary has no whois source.
#[test]
fn whois_states_without_a_worker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    let line = |ip: &str| {
        format!("{ip} - - [10/Oct/2023:08:05:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"t\"\n")
    };
    fs::write(&log, line("10.0.0.1") + &line("8.8.8.8")).expect("log");
    let (log, proc) = (log.display().to_string(), data("proc"));
    let args = [
        "--no-history",
        "--no-auth-log",
        "--show-private-ips",
        "--from-start",
        "--log-path",
        &log,
        "--proc-root",
        &proc,
    ];
    let mut engine = Engine::new(&config(&args)).expect("engine");
    engine.touch_clock();
    engine.read_logs_now();
    let state = |ip: &str| {
        let row = engine.core.table.get(self::ip(ip)).expect("row");
        engine.whois().state(row)
    };
    assert_eq!(state("10.0.0.1"), WhoisState::NotPublic);
    assert_eq!(state("8.8.8.8"), WhoisState::Off);
    assert!(engine.source_reports().iter().all(|r| r.kind != "whois"));
}

/// A combined-format line from `client`.
fn access_line(client: &str, n: usize) -> String {
    format!(
        "{client} - - [06/Dec/2026:10:00:{:02} +0000] \"GET /{n} HTTP/1.1\" 200 100 \"-\" \"curl/8\"\n",
        n % 60
    )
}

fn append(path: &std::path::Path, text: &str) {
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open log");
    f.write_all(text.as_bytes()).expect("append");
}

/// One headless run over `log` (`mode`: `--from-start` or `--resume`) with
/// history in `db`: everything read, saved as at exit.
fn run_with_history(log: &std::path::Path, db: &std::path::Path, mode: &str) -> Engine {
    let (log, db, proc) = (
        log.display().to_string(),
        db.display().to_string(),
        data("proc"),
    );
    let args = [
        mode,
        "--no-auth-log",
        "--history-db",
        &db,
        "--log-path",
        &log,
        "--log-format",
        "combined",
        "--proc-root",
        &proc,
    ];
    let mut engine = Engine::new(&config(&args)).expect("engine");
    engine.touch_clock();
    engine.read_logs_now();
    assert_eq!(engine.save_history(), None);
    assert_eq!(engine.history_saved(), Some(true));
    engine
}

/// This run's requests from `client`.
fn session_requests(engine: &Engine, client: &str) -> u64 {
    engine
        .core
        .table
        .get(ip(client))
        .map_or(0, |row| row.requests)
}

/// `client`'s lifetime (requests, sessions).
fn lifetime(engine: &Engine, client: &str) -> (u64, u64) {
    let history = engine.history.as_ref().expect("history on");
    let found = history.lookup(ip(client)).expect("lookup");
    found.map_or((0, 0), |h| (h.requests, h.sessions))
}

const A: &str = "45.33.32.156";
const B: &str = "93.184.216.34";
const C: &str = "81.2.69.142";

/// Three overlapping `--once --from-start` runs over a growing log: each
/// shows every line, the lifetime totals equal the lines in the log (they
/// were 2, 4, 6 for a log of two lines), and a run with nothing new is no
/// new session.
#[test]
fn overlapping_from_start_runs_count_each_line_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, db) = (dir.path().join("access.log"), dir.path().join("h.db"));
    append(&log, &(access_line(A, 0) + &access_line(A, 1)));
    let first = run_with_history(&log, &db, "--from-start");
    assert_eq!(session_requests(&first, A), 2);
    assert_eq!(lifetime(&first, A), (2, 1));
    drop(first);
    append(&log, &(access_line(A, 2) + &access_line(B, 3)));
    let second = run_with_history(&log, &db, "--from-start");
    assert_eq!(
        session_requests(&second, A),
        3,
        "the snapshot shows every line"
    );
    assert_eq!(lifetime(&second, A), (3, 2));
    assert_eq!(lifetime(&second, B), (1, 1));
    drop(second);
    let third = run_with_history(&log, &db, "--from-start");
    assert_eq!(session_requests(&third, A), 3);
    assert_eq!(
        lifetime(&third, A),
        (3, 2),
        "nothing new: no count, no session"
    );
    assert_eq!(lifetime(&third, B), (1, 1));
}

/// `--resume` reads each line once: appends, a rename rotation (with a line
/// the old file got after the last run), a copytruncate one, and nothing new.
#[test]
fn resume_reads_each_line_once_across_appends_and_rotations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, db) = (dir.path().join("access.log"), dir.path().join("h.db"));
    let rotated = dir.path().join("access.log.1");
    append(&log, &(access_line(A, 0) + &access_line(A, 1)));
    let run = run_with_history(&log, &db, "--resume");
    assert_eq!(session_requests(&run, A), 2, "the first run reads it all");
    drop(run);

    append(&log, &access_line(A, 2));
    let run = run_with_history(&log, &db, "--resume");
    assert_eq!(session_requests(&run, A), 1, "only the new line");
    assert_eq!(lifetime(&run, A).0, 3);
    drop(run);

    // Rename rotation: the writer's last line lands in the old file.
    append(&log, &access_line(B, 3));
    fs::rename(&log, &rotated).expect("rotate");
    append(&log, &access_line(C, 4));
    let run = run_with_history(&log, &db, "--resume");
    let seen = [A, B, C].map(|c| session_requests(&run, c));
    assert_eq!(
        seen,
        [0, 1, 1],
        "the rest of access.log.1, then the new log"
    );
    drop(run);

    // copytruncate by hand: copy, truncate in place, write on.
    append(&log, &access_line(B, 5));
    fs::remove_file(&rotated).expect("old copy");
    fs::copy(&log, &rotated).expect("copy");
    fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .and_then(|f| f.set_len(0))
        .expect("truncate");
    append(&log, &(access_line(A, 6) + &access_line(A, 7)));
    let run = run_with_history(&log, &db, "--resume");
    let seen = [A, B, C].map(|c| session_requests(&run, c));
    assert_eq!(seen, [2, 1, 0], "the copy's rest, then the truncated log");
    drop(run);

    let run = run_with_history(&log, &db, "--resume");
    assert_eq!([A, B, C].map(|c| session_requests(&run, c)), [0, 0, 0]);
    let counted = [A, B, C].map(|c| lifetime(&run, c).0);
    assert_eq!(counted, [5, 2, 1], "every line once");
}

/// A log replaced by another file (another first line): `--resume` reads it
/// from its start (nothing of it was counted) and notes the old file's rest.
#[test]
fn resume_starts_a_replaced_log_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, db) = (dir.path().join("access.log"), dir.path().join("h.db"));
    append(&log, &(access_line(A, 0) + &access_line(A, 1)));
    drop(run_with_history(&log, &db, "--resume"));
    let fresh = dir.path().join("new.tmp");
    append(&fresh, &access_line(B, 2));
    fs::rename(&fresh, &log).expect("replace");
    let run = run_with_history(&log, &db, "--resume");
    assert_eq!([A, B].map(|c| session_requests(&run, c)), [0, 1]);
    assert_eq!([A, B].map(|c| lifetime(&run, c).0), [2, 1]);
    let note = run.logs.sources()[0].note.clone().unwrap_or_default();
    assert!(note.contains("replaced or rotated"), "{note}");
}

/// A GeoIP file that opens but is corrupt where a row's address leads: the
/// first lookup that meets the damage puts a note in the geoip source, and
/// the summary shows it (it used to keep the note of the moment it opened).
#[test]
fn a_corrupt_spot_met_by_a_new_row_reaches_the_geoip_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    let line = |ip: &str| {
        format!("{ip} - - [10/Oct/2023:08:05:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"t\"\n")
    };
    let clients = [
        "81.2.69.142",
        "216.160.83.56",
        "89.160.20.112",
        "175.16.199.1",
    ];
    fs::write(&log, clients.map(line).concat()).expect("log");
    let (log, proc) = (log.display().to_string(), data("proc"));
    let args = [
        "--from-start",
        "--no-history",
        "--no-auth-log",
        "--log-path",
        &log,
    ];
    let mut config = config(&[&args[..], &["--proc-root", &proc]].concat());
    let maxmind = std::path::Path::new(&data("maxmind")).join("test-data");
    config.geoip = crate::config::GeoipConfig {
        enabled: true,
        city_db: maxmind.join("GeoIP2-City-Test-Broken-Double-Format.mmdb"),
        asn_db: maxmind.join("GeoLite2-ASN-Test.mmdb"),
    };
    let mut engine = Engine::new(&config).expect("engine");
    assert_eq!(report(&engine, "geoip").note, None, "opens clean");
    engine.touch_clock();
    engine.read_logs_now();
    let note = report(&engine, "geoip").note.clone().unwrap_or_default();
    assert!(note.contains("looks corrupt"), "{note:?}");
}

/// One `--once --from-start` run over the sshd log `auth` with history in
/// `db`: everything read, saved as at exit.
fn auth_run_with_history(dir: &std::path::Path, auth: &std::path::Path) -> Engine {
    let access = dir.join("empty-access.log");
    append(&access, "");
    let (access, auth, db, proc) = (
        access.display().to_string(),
        auth.display().to_string(),
        dir.join("h.db").display().to_string(),
        data("proc"),
    );
    let args = [
        "--from-start",
        "--auth-log-path",
        &auth,
        "--history-db",
        &db,
        "--log-path",
        &access,
        "--proc-root",
        &proc,
    ];
    let mut engine = Engine::new(&config(&args)).expect("engine");
    engine.touch_clock();
    engine.read_logs_now();
    assert_eq!(engine.save_history(), None);
    engine
}

/// Issue 14 item 2: a login from an address this run saw too few failures
/// from is a breach when history counted `min_auth_failures` from it before
/// (one query a login, after the batch of lines); not without that record.
#[test]
fn a_login_after_failures_in_history_is_a_breach() {
    let dir = tempfile::tempdir().expect("tempdir");
    let line = |t: u32, what: String| {
        format!("2026-12-06T10:00:{t:02}.000000+00:00 web1 sshd[7]: {what}\n")
    };
    let first = dir.path().join("auth.log.1");
    for s in 0..3 {
        for client in [A, C] {
            append(
                &first,
                &line(
                    s,
                    format!("Failed password for root from {client} port 1 ssh2"),
                ),
            );
        }
    }
    drop(auth_run_with_history(dir.path(), &first));
    let second = dir.path().join("auth.log");
    append(
        &second,
        &line(
            30,
            format!("Accepted password for root from {A} port 2 ssh2"),
        ),
    );
    append(
        &second,
        &line(
            31,
            format!("Accepted password for root from {B} port 3 ssh2"),
        ),
    );
    // One failure this run, three before: the lifetime count decides.
    append(
        &second,
        &line(32, format!("Failed password for root from {C} port 4 ssh2")),
    );
    append(
        &second,
        &line(
            33,
            format!("Accepted password for root from {C} port 4 ssh2"),
        ),
    );
    let engine = auth_run_with_history(dir.path(), &second);
    let row = |client| engine.table().get(ip(client)).unwrap();
    let reasons = |client| engine.detector().reasons(row(client));
    assert_eq!(row(A).auth_failures(), 0, "none this run");
    assert!(reasons(A).contains(crate::detect::Reason::Breach));
    assert!(
        reasons(B).is_empty(),
        "no failure anywhere: an ordinary login"
    );
    assert_eq!(row(C).auth_failures(), 1);
    assert!(reasons(C).contains(crate::detect::Reason::Breach));
    assert!(engine.core.unresolved_accepts.is_empty());
}

/// Issue 14 item 1: an address's first `suspicious` event carries what is
/// known of it, the whois cache's organisation included (events are written
/// once the batch's new rows have their cached answer).
#[test]
fn a_first_event_carries_the_cached_whois_org() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (conf, cache_dir) = (dir.path().join("config.toml"), dir.path().join("cache"));
    let toml = format!(
        "[whois]\nrdap_bootstrap_url = \"http://127.0.0.1:1/\"\n\
         whois_server = \"127.0.0.1:1\"\n[cache]\ndir = {cache_dir:?}\n"
    );
    fs::write(&conf, toml).expect("config");
    let scanner = ip("64.233.160.5");
    let info = crate::enrich::whois::WhoisInfo {
        org: Some("Cached Org".into()),
        ..Default::default()
    };
    {
        let opened = crate::store::whois_cache::WhoisCache::open(&cache_dir, true);
        let mut cache = opened.cache.expect("cache");
        let body = serde_json::to_string(&info).expect("json");
        cache.put(scanner, time::now(), true, &body).expect("put");
    }
    let events = dir.path().join("events.ndjson");
    let (log, proc, conf, file) = (
        data("logs/combined.log"),
        data("proc"),
        conf.display().to_string(),
        events.display().to_string(),
    );
    let args = [
        "--config",
        &conf,
        "--from-start",
        "--no-auth-log",
        "--no-history",
        "--log-path",
        &log,
        "--proc-root",
        &proc,
        "--events-file",
        &file,
    ];
    let mut config = config(&args);
    config.whois.enabled = true; // `config` says --no-whois
    let mut engine = Engine::new(&config).expect("engine");
    engine.touch_clock();
    engine.read_logs_now();
    let text = fs::read_to_string(&events).expect("events");
    let first: serde_json::Value = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .find(|e| e["ip"] == "64.233.160.5")
        .expect("the scanner's event");
    assert_eq!(
        first["new_reasons"],
        serde_json::json!(["scanner_ua"]),
        "{first}"
    );
    assert_eq!(first["org"], "Cached Org", "{first}");
}

/// Issue 14 item 5: a block run from the dashboard that succeeded marks
/// its rows at once (the next read of the firewalls confirms it); one that
/// failed marks nothing.
#[test]
fn a_block_that_succeeded_marks_its_rows_at_once() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    use crate::actions::block::{BlockRecord, CommandResult, Tool};
    let mut engine = engine_over("combined.log", "combined", &[]);
    let addr = engine.table().rows().next().expect("a row").ip;
    let net = ipnet::IpNet::new(addr, if addr.is_ipv4() { 24 } else { 64 })
        .unwrap()
        .trunc();
    let record = |code: i32| BlockRecord {
        time: 77,
        ip: addr,
        target: net,
        tool: Tool::Ufw,
        probe: None,
        commands: vec![CommandResult {
            argv: vec!["ufw".into(), "prepend".into()],
            is_check: false,
            is_probe: false,
            status: Ok(ExitStatus::from_raw(code << 8)),
            timed_out: false,
            output: Default::default(),
        }],
    };
    let blocked = |e: &Engine| e.table().blocked(e.table().get(addr).unwrap()).copied();
    assert_eq!(blocked(&engine), None);
    engine.record_block(&record(1));
    assert_eq!(blocked(&engine), None, "the command failed");
    let changes = engine.changes();
    engine.record_block(&record(0));
    let mark = blocked(&engine).expect("marked at once");
    let by: Vec<&str> = mark.by.iter().map(|b| b.name()).collect();
    assert_eq!(by, ["ufw"]);
    assert_eq!((mark.scope, mark.since), (net, Some(77)));
    assert!(engine.changes() > changes, "the screen redraws");
}

/// Issue 14 item 5: rows born after the blocked list was read, from a log
/// line or a socket, are looked up in it then (never per line after).
#[test]
fn rows_born_inside_a_blocked_network_are_marked_at_birth() {
    use crate::enrich::blocked::{install, BlockIndex};
    use crate::parse::blocklist::{BlockedNet, Blocker};
    use crate::source::{LineSink, LogKind};
    let mut engine = engine_over("combined.log", "combined", &[]);
    let nets = [BlockedNet {
        net: "192.0.2.0/24".parse().unwrap(),
        by: Blocker::Iptables,
        since: None,
    }];
    let core = &mut engine.core;
    core.blocked = BlockIndex::new(&nets);
    install(&mut core.table, &core.blocked);
    core.table.set_show_private(true);
    let line = |ip: &str| {
        format!("{ip} - - [10/Oct/2023:13:55:36 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"x\"")
    };
    for ip in ["192.0.2.77", "192.0.3.77"] {
        core.line(LogKind::Access, 0, line(ip).as_bytes());
    }
    let dump = [crate::parse::sockets::SocketEntry {
        local: "10.0.0.1:443".parse().unwrap(),
        remote: "192.0.2.78:5000".parse().unwrap(),
        state: crate::parse::sockets::TcpState::Established,
        inode: 0,
    }];
    core.apply_sockets(&dump);
    let table = engine.table();
    let scope = |a: &str| {
        let row = table.get(ip(a)).unwrap_or_else(|| panic!("no row {a}"));
        table.blocked(row).map(|m| m.scope.to_string())
    };
    assert_eq!(
        scope("192.0.2.77").as_deref(),
        Some("192.0.2.0/24"),
        "a line's"
    );
    assert_eq!(
        scope("192.0.2.78").as_deref(),
        Some("192.0.2.0/24"),
        "a socket's"
    );
    assert_eq!(scope("192.0.3.77"), None);
}
