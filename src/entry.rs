//! From arguments to an exit code: load the config, build the engine, run
//! the loop in the chosen mode, print the snapshot.
//!
//! Exit status, for scripts (documented in `--help`, the man page and the
//! README): 0 when every log source was read; 1 when the run went through
//! (the snapshot is printed) but a log source could not be read, or history
//! lost this session; 2 for usage, config and start-up errors. Errors go to
//! stderr, never stdout.

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use crate::cli::{self, generate};
use crate::config::{self, Config, Invocation, Mode};
use crate::engine::Engine;
use crate::event_loop::{EventLoop, MetricsFile};
use crate::headless::{self, RunInfo};
use crate::parse::time;
use crate::ui::session::Session;
use crate::view::format::printable;

/// Exit code for usage and start-up errors.
const EXIT_USAGE: u8 = 2;
/// Exit code when the run went through but not all is well: a log source
/// could not be read (see `engine::report`), or the session could not be
/// saved to history (another instance held the file past the wait at exit).
const EXIT_INCOMPLETE: u8 = 1;

/// How a run that started ended.
struct Ended {
    /// History lost this session: why.
    history_lost: Option<String>,
    /// Log sources that could not be read, as of the end.
    failed_sources: usize,
}

pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let env = |key: &str| std::env::var(key).ok();
    let args: Vec<OsString> = args.into_iter().collect();
    if let Some(code) = generate_if_asked(&args) {
        return code;
    }
    match config::load(args.clone(), &env) {
        Ok(Invocation::Help(text)) | Ok(Invocation::Version(text)) => {
            println!("{}", text.trim_end());
            if let Some(credit) = dbip_credit(args, &env) {
                println!("\n{credit}");
            }
            ExitCode::SUCCESS
        }
        Ok(Invocation::CheckConfig(report)) => check_config(&report),
        Ok(Invocation::Run(config)) if config.import_history.is_some() => import_history(&config),
        Ok(Invocation::Run(config)) => match run_warned(&config) {
            Ok(ended) => exit_code(ended),
            Err(message) => {
                eprintln!("nethergaze: {message}");
                ExitCode::from(EXIT_USAGE)
            }
        },
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// `--import-history PATH`: import nethergaze 0.2.0's files and exit. It is
/// a one-off step of switching over, run from a shell or a provisioning
/// script, so it says what it did in one line and its exit status tells
/// whether it worked (0, or 2 when a file could not be imported), rather
/// than going on into a dashboard or a snapshot that would bury both.
fn import_history(config: &Config) -> ExitCode {
    let Some(path) = config.import_history.as_deref() else {
        return ExitCode::SUCCESS;
    };
    let now = time::now();
    match crate::engine::import::on_demand(config, path, now) {
        Ok(line) => {
            say(&line);
            ExitCode::SUCCESS
        }
        Err(line) => {
            say(&line);
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// One line on stderr, made printable (it names files and quotes their faults).
fn say(line: &str) {
    eprintln!("nethergaze: {}", printable(line.as_bytes(), 2000));
}

/// The config file's warnings go to stderr before anything starts (the
/// dashboard's screen, the headless output).
fn run_warned(config: &Config) -> Result<Ended, String> {
    for warning in &config.warnings {
        eprintln!("{warning}");
    }
    run(config)
}

/// `--check-config`: the warnings on stderr, one line on stdout; exit 1
/// when there are warnings (errors already exited 2).
fn check_config(report: &config::CheckReport) -> ExitCode {
    for warning in &report.warnings {
        eprintln!("{warning}");
    }
    match &report.file {
        Some(file) if report.warnings.is_empty() => {
            println!("config file {}: ok", file.display());
        }
        Some(file) => {
            let n = report.warnings.len();
            let s = if n == 1 { "" } else { "s" };
            println!("config file {}: {n} warning{s}", file.display());
        }
        None => {
            let searched: Vec<String> = report
                .searched
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            println!(
                "no config file (looked for {}): defaults apply",
                searched.join(", ")
            );
        }
    }
    if report.warnings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INCOMPLETE)
    }
}

/// `--generate KIND` prints the man page or a completion script, without
/// reading any config file (it documents the program, not this machine).
/// `None` when not asked, or when `--help` / `--version` win, or when the
/// arguments do not parse (`config::load` reports that).
fn generate_if_asked(args: &[OsString]) -> Option<ExitCode> {
    let raw = cli::parse(args.iter().cloned()).ok()?;
    if raw.help || raw.version {
        return None;
    }
    let kind = match generate::Kind::from_name(&raw.generate?) {
        Ok(kind) => kind,
        Err(e) => {
            eprintln!("{e}");
            return Some(ExitCode::from(EXIT_USAGE));
        }
    };
    let text = generate::render(kind);
    match io::stdout().lock().write_all(text.as_bytes()) {
        // `--generate man | head` is not a failure.
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("nethergaze: cannot write the {}: {e}", kind.name());
            Some(ExitCode::from(EXIT_USAGE))
        }
        _ => Some(ExitCode::SUCCESS),
    }
}

/// DB-IP Lite's licence (CC BY 4.0) asks for credit where its data is used:
/// `--help` and `--version` say so when the GeoIP databases this run would
/// open are DB-IP's. The config is loaded without the help/version flag to
/// find them; no credit when it can't be.
fn dbip_credit(args: Vec<OsString>, env: &dyn Fn(&str) -> Option<String>) -> Option<&'static str> {
    let is_info = |a: &OsString| matches!(a.to_str(), Some("--help" | "-h" | "--version" | "-V"));
    let Ok(Invocation::Run(config)) = config::load(args.into_iter().filter(|a| !is_info(a)), env)
    else {
        return None;
    };
    let geoip = crate::enrich::geoip::GeoIp::open(&config.geoip);
    geoip.uses_dbip().then_some(crate::enrich::DBIP_CREDIT)
}

fn exit_code(ended: Ended) -> ExitCode {
    if let Some(message) = &ended.history_lost {
        eprintln!("nethergaze: {message}");
    }
    if ended.history_lost.is_some() || ended.failed_sources > 0 {
        ExitCode::from(EXIT_INCOMPLETE)
    } else {
        ExitCode::SUCCESS
    }
}

fn run(config: &Config) -> Result<Ended, String> {
    // A glob of a thousand logs must not exhaust the usual soft limit of
    // 1 024 descriptors; the logs then get what is left after a reserve.
    let _ = crate::sys::rlimit::raise_nofile();
    let run_for = match config.mode {
        Mode::Once => None,
        Mode::For(d) => Some(Some(d)),
        Mode::Stream => Some(None),
        Mode::Dashboard if !io::stdout().is_terminal() => {
            return Err("stdout is not a terminal: use --once or --for DURATION for a headless snapshot (add --json for JSON Lines)".into());
        }
        Mode::Dashboard => return run_dashboard(config),
    };
    let mut engine = Engine::new(config)?;
    if let Some(line) = engine.take_import_note() {
        say(&line);
    }
    let mut event_loop =
        EventLoop::new(&mut engine).map_err(|e| format!("cannot start the event loop: {e}"))?;
    export_metrics(config, &mut event_loop)?;
    match run_for {
        None => headless::run::once(&mut engine, &mut event_loop)?,
        Some(duration) => {
            headless::run::follow_for(&mut engine, &mut event_loop, duration)?;
        }
    }
    if let Some(text) = event_loop.write_metrics_now(&engine) {
        say(&text);
    }
    // The session is kept, and `history` includes it; a failure is in the summary.
    let lost = engine.save_history();
    if !config.events.stdout {
        // With `--events`, stdout is the stream: no snapshot after it.
        print_snapshot(&engine, config).map_err(|e| format!("cannot write the snapshot: {e}"))?;
    }
    Ok(outcome(&engine, lost))
}

/// The end of a run: log sources' errors said on stderr (the snapshot, on
/// stdout, has them in its summary), and what sets the exit status.
fn outcome(engine: &Engine, history_lost: Option<String>) -> Ended {
    let stderr = io::stderr();
    let mut err = stderr.lock();
    for source in engine.source_reports() {
        let Some(error) = source.error.as_deref() else {
            continue;
        };
        // History's own failure has its message (`history_lost`).
        if matches!(source.kind, "access" | "auth") {
            let _ = writeln!(
                err,
                "nethergaze: {} log {}: {}",
                source.kind,
                printable(source.path.as_bytes(), 200),
                printable(error.as_bytes(), 400)
            );
        }
    }
    Ended {
        history_lost,
        failed_sources: engine.source_failures(),
    }
}

/// The interactive screen. Everything that can fail at start-up (config,
/// sources, the loop, the tty) fails before the terminal goes raw, so its
/// message prints normally; once entered, the terminal is restored on every
/// way out (quit, signals, drop, the panic hook).
fn run_dashboard(config: &Config) -> Result<Ended, String> {
    let mut engine = Engine::new(config)?;
    let mut event_loop =
        EventLoop::new(&mut engine).map_err(|e| format!("cannot start the event loop: {e}"))?;
    export_metrics(config, &mut event_loop)?;
    let mut session = Session::open(config).map_err(|e| {
        // Keys come from /dev/tty, never from stdin, which may be the log.
        let stdin_is_log = config.log_paths.iter().any(|p| p == "-");
        let hint = match stdin_is_log {
            true => " (standard input is the log, so keys are read from /dev/tty: run with --once or --for DURATION without a terminal)",
            false => "",
        };
        format!("cannot open the terminal: {e}{hint}")
    })?;
    if let Some(line) = engine.take_import_note() {
        // Before the screen is taken (it stays in the scrollback), and in
        // the status line.
        say(&line);
        session.set_status(line, engine.now());
    }
    engine.touch_clock();
    match config.since {
        // The read-back goes on in the loop, in slices: the screen comes
        // first and answers keys meanwhile.
        Some(_) => engine.read_logs_pass(),
        None => engine.read_logs_now(),
    }
    session
        .enter()
        .map_err(|e| format!("cannot set up the terminal: {e}"))?;
    let ended = event_loop.run(&mut engine, &mut session);
    let left = session.leave();
    if let Some(text) = event_loop.write_metrics_now(&engine) {
        say(&text);
    }
    let lost = engine.save_history();
    ended.map_err(|e| format!("event loop: {e}"))?;
    left.map_err(|e| format!("cannot restore the terminal: {e}"))?;
    Ok(outcome(&engine, lost))
}

/// `--metrics-file`: written on its timer from the loop's start.
fn export_metrics(config: &Config, event_loop: &mut EventLoop) -> Result<(), String> {
    let Some(path) = &config.metrics_file else {
        return Ok(());
    };
    MetricsFile::new(path.clone(), config.metrics_interval)
        .and_then(|file| event_loop.export_metrics(file))
        .map_err(|e| format!("cannot start the metrics timer: {e}"))
}

fn print_snapshot(engine: &Engine, config: &Config) -> io::Result<()> {
    let sources = engine.source_reports();
    let info = RunInfo {
        started: engine.started(),
        ended: time::now(),
        sources,
        interval_secs: engine.tick_interval().as_secs_f64(),
        suspicious_only: config.suspicious_only,
        group_by: config.group_by,
        history: engine.history(),
        history_saved: engine.history_saved(),
        vnstat: engine.vnstat(),
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let table = engine.table();
    if config.json {
        headless::write_json(&mut out, table, engine.detector(), &info)?;
    } else {
        headless::write_text(&mut out, table, engine.detector(), &info)?;
    }
    out.flush()
}
