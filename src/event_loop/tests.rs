//! The loop in-process: a real `Poll`, timerfds, inotify and the signalfd,
//! over the fixture logs and the `--proc-root` fixture (no tmux, no child).
//! Signals are raised at this test's own thread, which the loop's
//! `SignalFd::open` has blocked them in.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::*;
use crate::config::{self, Config, Invocation, Probe};
use crate::headless::run::{follow_for, once, Headless};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// Data lines of the /proc fixture, read once per dump (see its README).
const PROC_LINES: u64 = 18;

/// `--once --from-start` over `log` with the /proc fixture; no sshd log,
/// GeoIP, whois or history, nothing read from this machine's config.
fn fixture_config(log: &Path) -> Config {
    let proc_root = format!("{ROOT}/tests/data/proc");
    let args = [
        "nethergaze".as_ref(),
        "--once".as_ref(),
        "--from-start".as_ref(),
        "--no-auth-log".as_ref(),
        "--no-geoip".as_ref(),
        "--no-whois".as_ref(),
        "--no-history".as_ref(),
        "--log-format".as_ref(),
        "combined".as_ref(),
        "--proc-root".as_ref(),
        proc_root.as_ref(),
        "--log-path".as_ref(),
        log.as_os_str(),
    ]
    .map(OsString::from);
    let env = |key: &str| (key == "HOME").then(|| "/nonexistent-nethergaze-home".to_string());
    let probe = Probe {
        log_candidates: Vec::new(),
        auth_candidates: Vec::new(),
        system_config: std::path::PathBuf::new(),
    };
    match config::load_with(args, &env, &probe) {
        Ok(Invocation::Run(config)) => config,
        Ok(other) => panic!("expected a run, got {other:?}"),
        Err(e) => panic!("{e}"),
    }
}

fn combined_log() -> std::path::PathBuf {
    Path::new(ROOT).join("tests/data/logs/combined.log")
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// The (lines, malformed) the engine reports for the source of `kind`.
fn counted(engine: &Engine, kind: &str) -> (u64, u64) {
    let reports = engine.source_reports();
    let report = reports.iter().find(|r| r.kind == kind).unwrap();
    (report.lines, report.malformed)
}

/// What the loop handed a frontend.
#[derive(Default)]
struct Calls {
    registered: usize,
    events: Vec<Token>,
    ticks: usize,
    signals: Vec<i32>,
    after_events: usize,
}

/// A frontend that records its calls. It owns two timers: `poke` fires
/// first (and may append lines to a log, or raise signals), `deadline`
/// ends the run.
struct Recorder {
    calls: Calls,
    poke: TimerFd,
    deadline: TimerFd,
    /// Appended to this log when `poke` fires.
    append: Option<(std::path::PathBuf, &'static [u8])>,
    /// Raised at this thread when `poke` fires.
    raise: Vec<i32>,
}

const POKE: Token = frontend_token(0);
const DEADLINE: Token = frontend_token(1);

impl Recorder {
    fn new(poke_after: Duration, run_for: Duration) -> Recorder {
        let poke = TimerFd::disarmed().unwrap();
        poke.arm(poke_after, Duration::ZERO).unwrap();
        let deadline = TimerFd::disarmed().unwrap();
        deadline.arm(run_for, Duration::ZERO).unwrap();
        Recorder {
            calls: Calls::default(),
            poke,
            deadline,
            append: None,
            raise: Vec::new(),
        }
    }
}

impl Frontend for Recorder {
    fn register(&mut self, registry: &Registry) -> io::Result<()> {
        self.calls.registered += 1;
        registry.register(&mut self.poke, POKE, Interest::READABLE)?;
        registry.register(&mut self.deadline, DEADLINE, Interest::READABLE)
    }

    fn on_event(&mut self, token: Token, _engine: &mut Engine) -> Flow {
        self.calls.events.push(token);
        if token == POKE && self.poke.drain() > 0 {
            if let Some((path, lines)) = &self.append {
                let mut log = OpenOptions::new().append(true).open(path).unwrap();
                log.write_all(lines).unwrap();
            }
            for &sig in &self.raise {
                // SAFETY: the loop's signalfd has this thread block `sig`.
                unsafe { libc::raise(sig) };
            }
        }
        if token == DEADLINE && self.deadline.drain() > 0 {
            return Flow::End(Ending::Deadline);
        }
        Flow::Continue
    }

    fn on_tick(&mut self, _engine: &mut Engine) {
        self.calls.ticks += 1;
    }

    fn on_signal(&mut self, sig: i32, _engine: &mut Engine) -> Flow {
        self.calls.signals.push(sig);
        match sig {
            libc::SIGTERM => Flow::End(Ending::Signal(sig)),
            _ => Flow::Continue,
        }
    }

    fn after_events(&mut self, _engine: &mut Engine) {
        self.calls.after_events += 1;
    }
}

#[test]
fn the_frontend_gets_its_tokens_the_ticks_and_none_of_the_loops() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    fs::write(&log, "").unwrap();
    let mut config = fixture_config(&log);
    config.connections_interval = Duration::from_millis(100);
    let mut engine = Engine::new(&config).unwrap();
    let mut event_loop = EventLoop::new(&mut engine).unwrap();
    let mut recorder = Recorder::new(Duration::from_millis(20), Duration::from_millis(450));
    recorder.append = Some((
        log.clone(),
        b"45.33.32.156 - - [10/Oct/2023:13:55:36 +0000] \"GET / HTTP/1.1\" 200 10 \"-\" \"t\"\n\
          45.33.32.156 - - [10/Oct/2023:13:55:37 +0000] \"GET /a HTTP/1.1\" 200 20 \"-\" \"t\"\n",
    ));

    let ending = event_loop.run(&mut engine, &mut recorder).unwrap();

    assert_eq!(ending, Ending::Deadline);
    let calls = &recorder.calls;
    assert_eq!(calls.registered, 1);
    // Only its own tokens, each once: the engine's (files, sockets) and the
    // loop's (tick, signals, pacing) stay with the loop.
    assert_eq!(calls.events, [POKE, DEADLINE]);
    // No signal was sent; SIGCHLD may come from the engine's vnstat child
    // when vnstat is installed.
    let sent = calls.signals.iter().filter(|&&s| s != libc::SIGCHLD);
    assert_eq!(sent.count(), 0, "{:?}", calls.signals);
    // About 4; a loaded machine merges expirations into fewer calls.
    assert!((1..=5).contains(&calls.ticks), "{} ticks", calls.ticks);
    // Before the first poll, then after each batch of events.
    assert!(calls.after_events > calls.ticks, "{}", calls.after_events);
    // The lines appended during the run reached the table through FILES.
    let row = engine.table().get(ip("45.33.32.156")).unwrap();
    assert_eq!((row.requests, row.bytes), (2, 30));
    assert_eq!(counted(&engine, "access"), (2, 0));
    // One dump when the run starts, one per tick the frontend saw after
    // the engine: the /proc fixture read that many times.
    let dumps = 1 + calls.ticks as u64;
    assert_eq!(counted(&engine, "sockets"), (dumps * PROC_LINES, dumps * 2));
    assert!(engine.table().get(ip("8.8.4.4")).is_some());
}

#[test]
fn a_terminating_signal_ends_the_run_through_the_frontend() {
    let mut engine = Engine::new(&fixture_config(&combined_log())).unwrap();
    let mut event_loop = EventLoop::new(&mut engine).unwrap();
    let mut recorder = Recorder::new(Duration::from_millis(10), Duration::from_secs(10));
    recorder.raise = vec![libc::SIGWINCH, libc::SIGTERM];
    let started = Instant::now();

    let ending = event_loop.run(&mut engine, &mut recorder).unwrap();

    assert_eq!(ending, Ending::Signal(libc::SIGTERM));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(recorder.calls.signals.contains(&libc::SIGTERM));
    assert_eq!(recorder.calls.events, [POKE]);
}

#[test]
fn a_headless_run_ends_after_its_deadline_with_the_fixture_counted() {
    let mut engine = Engine::new(&fixture_config(&combined_log())).unwrap();
    let mut event_loop = EventLoop::new(&mut engine).unwrap();
    let started = Instant::now();

    let ending = follow_for(
        &mut engine,
        &mut event_loop,
        Some(Duration::from_millis(200)),
    )
    .unwrap();

    assert_eq!(ending, Ending::Deadline);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(started.elapsed() < Duration::from_secs(5));
    // combined.log's README: 138 lines counted, 4 malformed.
    assert_eq!(counted(&engine, "access"), (138, 4));
    let row = engine.table().get(ip("45.33.32.156")).unwrap();
    assert_eq!((row.requests, row.bytes), (4, 6050));
    let burst = engine.table().get(ip("185.199.108.153")).unwrap();
    assert_eq!(burst.requests, 61);
    // The start of the run dumped the /proc fixture once (no tick in 200 ms).
    assert_eq!(counted(&engine, "sockets"), (PROC_LINES, 2));
    assert!(engine.table().get(ip("2a01:4f8::1")).is_some());
}

#[test]
fn a_headless_run_ends_on_hangup() {
    let mut engine = Engine::new(&fixture_config(&combined_log())).unwrap();
    let mut event_loop = EventLoop::new(&mut engine).unwrap();
    let mut headless = Headless::lasting(Some(Duration::from_secs(10))).unwrap();
    // SAFETY: `EventLoop::new` blocked SIGHUP in this thread: it waits in
    // the signalfd.
    unsafe { libc::raise(libc::SIGHUP) };

    let ending = event_loop.run(&mut engine, &mut headless).unwrap();

    assert_eq!(ending, Ending::Signal(libc::SIGHUP));
}

#[test]
fn once_reads_the_logs_and_one_dump() {
    let mut engine = Engine::new(&fixture_config(&combined_log())).unwrap();
    let mut event_loop = EventLoop::new(&mut engine).unwrap();

    once(&mut engine, &mut event_loop).unwrap();

    assert_eq!(counted(&engine, "access"), (138, 4));
    assert_eq!(counted(&engine, "sockets"), (PROC_LINES, 2));
    assert!(engine.table().get(ip("8.8.4.4")).is_some());
}
