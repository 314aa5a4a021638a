//! Program state below the screen: parsers, the table, sources, and what
//! each kind of input does to them. The event loop owns one `Engine` and
//! calls into it from its single dispatch `match`.

use std::collections::HashSet;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::actions::block::BlockRecord;
use crate::config::{AuthSource, Config, Mode};
use crate::demo::Demo;
use crate::detect::{DetectSettings, Detector};
use crate::enrich::geoip::GeoIp;
use crate::enrich::whois::{Config as WhoisClientConfig, Submit, WhoisInfo, Worker};
use crate::headless::SourceReport;
use crate::net::is_public;
use crate::parse::access::{AccessParser, FormatKind};
use crate::parse::auth::AuthParser;
use crate::parse::sockets::{ProcNetReader, SocketEntry};
use crate::parse::time;
use crate::parse::{AccessHit, Malformed, UnixTime};
use crate::source::bandwidth::Bandwidth;
use crate::source::journal::Journal;
use crate::source::logset::Follow;
use crate::source::sockdiag::{DumpProgress, SockDiag};
use crate::source::{LineVerdict, LogKind, LogSet};
use crate::store::{
    History, HistoryError, SessionRow, SnapshotOutcome, BUSY_TIMEOUT, EXIT_BUSY_TIMEOUT, MAX_PATHS,
};
use crate::table::{Applied, IpTable, Row, StrId};

/// Where socket dumps come from.
pub enum SocketReader {
    /// netlink sock_diag: a real non-blocking socket in the loop.
    Netlink(SockDiag),
    /// /proc/net/tcp{,6}: the fallback, and `--proc-root`.
    Proc(ProcNetReader),
}

/// State of the socket source for the summary.
#[derive(Default)]
struct SocketStatus {
    dumps: u64,
    /// Records read over the run (sockets and malformed ones), as a log
    /// source counts its lines.
    lines: u64,
    malformed: u64,
    error: Option<String>,
    dump_in_flight: bool,
    /// Ticks since the dump in flight was requested.
    ticks_in_flight: u32,
}

/// Background whois lookups asked per tick, and addresses remembered as asked.
const WHOIS_PER_TICK: usize = 8;
const WHOIS_ASKED_MAX: usize = 100_000;

/// How often history is written (and GeoIP files checked for replacement).
const HISTORY_EVERY_SECS: UnixTime = 60;

/// A netlink dump unanswered for this many ticks is requested again.
const STALLED_DUMP_TICKS: u32 = 5;

/// What lines and dumps are applied to: parsers, detector, table, clock.
pub struct Core {
    pub table: IpTable,
    pub detector: Detector,
    /// GeoIP, attached to each row when it is created (`None` with `--no-geoip`).
    pub geoip: Option<GeoIp>,
    access: AccessParser,
    /// JSON string values decoded from their escapes, reused for every line.
    access_scratch: Vec<u8>,
    auth: AuthParser,
    /// Format each access source was last seen in, by source index.
    formats: Vec<&'static str>,
    /// Wall clock, refreshed once per loop iteration (not per line).
    pub now: UnixTime,
    /// Bumped whenever a line or a dump changed the table, so a screen
    /// knows when to draw without comparing anything.
    pub changes: u64,
}

pub struct Engine {
    pub core: Core,
    pub logs: LogSet,
    pub journal: Option<Journal>,
    pub sockets: SocketReader,
    socket_status: SocketStatus,
    /// Socket records of the dump in progress (reused).
    dump: Vec<SocketEntry>,
    /// The last complete dump (the drill-down lists its sockets; a skipped
    /// tick re-applies it). Swapped with `dump`, never copied.
    last_dump: Vec<SocketEntry>,
    format_spec: String,
    pub started: UnixTime,
    pub interval: Duration,
    /// rx/tx of the interface for the dashboard's header.
    pub bandwidth: Bandwidth,
    /// The RDAP/whois worker (`None` with `--no-whois`, before the loop
    /// starts it, or when its thread could not start).
    whois: Option<Worker>,
    /// The worker's settings until it is started (`None`: disabled).
    whois_config: Option<WhoisClientConfig>,
    /// Addresses already asked this run (answered or pending): asked once.
    whois_asked: HashSet<IpAddr>,
    /// How long a cached RDAP answer is used (`[whois] cache_ttl`).
    whois_cache_ttl: Duration,
    /// Lifetime history (`None` when disabled or when it failed: see `history_error`).
    pub history: Option<History>,
    history_path: Option<PathBuf>,
    history_error: Option<String>,
    /// Whether the snapshot at exit was written (`None`: not taken, or history off).
    history_saved: Option<bool>,
    last_history_snapshot: UnixTime,
    /// `--demo`'s files, written to on every tick.
    demo: Option<Demo>,
}

impl Engine {
    /// Build everything from a validated config. Errors here are start-up
    /// errors (before the terminal goes raw).
    pub fn new(config: &Config) -> Result<Engine, String> {
        let now = time::now();
        let demo = match config.demo {
            true => Some(Demo::create(now).map_err(|e| format!("--demo: {e}"))?),
            false => None,
        };
        let demo_config = demo.as_ref().map(|d| demo_sources(config, d));
        let config = demo_config.as_ref().unwrap_or(config);
        let detector = Detector::new(detect_settings(config))?;
        let access = AccessParser::new(&config.log_format, config.trusted_proxies.clone())
            .map_err(|e| format!("log_format: {e}"))?;
        let mut patterns: Vec<(String, LogKind)> = config
            .log_paths
            .iter()
            .map(|p| (p.clone(), LogKind::Access))
            .collect();
        if let AuthSource::File(path) = &config.auth.source {
            patterns.push((path.display().to_string(), LogKind::Auth));
        }
        let follow = Follow {
            from_start: config.from_start,
            follow_symlinks: config.follow_symlinks,
            max_open: crate::sys::rlimit::log_file_budget(),
        };
        let logs =
            LogSet::open_with(&patterns, follow).map_err(|e| format!("cannot watch logs: {e}"))?;
        let journal = match config.auth.source {
            AuthSource::Journald => {
                let mut journal = Journal::new();
                // A failure is recorded on the source and retried with back-off.
                let _ = journal.start(Instant::now());
                Some(journal)
            }
            _ => None,
        };
        let mut table = IpTable::new(config.max_tracked_ips, config.show_private_ips);
        table.set_flagged(detector.flagged_test());
        if config.mode == Mode::Dashboard {
            table.activity.set_capacity(config.display.max_log_lines);
        }
        let mut engine = Engine {
            core: Core {
                table,
                detector,
                geoip: None,
                access,
                access_scratch: Vec::new(),
                auth: AuthParser::new(now),
                formats: Vec::new(),
                now,
                changes: 0,
            },
            logs,
            journal,
            sockets: open_socket_reader(config.proc_root.clone()),
            socket_status: SocketStatus::default(),
            dump: Vec::new(),
            last_dump: Vec::new(),
            format_spec: config.log_format.clone(),
            demo,
            started: now,
            interval: config.connections_interval,
            bandwidth: Bandwidth::system(config.interface.as_deref()),
            whois: None,
            whois_config: config.whois.enabled.then(|| WhoisClientConfig {
                bootstrap_url: Some(config.whois.rdap_bootstrap_url.clone()),
                cache_dir: config.cache_dir.clone(),
                whois_server: Some(config.whois.whois_server.clone()),
                ..WhoisClientConfig::default()
            }),
            whois_asked: HashSet::new(),
            whois_cache_ttl: config.whois.cache_ttl,
            history: None,
            history_path: None,
            history_error: None,
            history_saved: None,
            last_history_snapshot: now,
        };
        if config.geoip.enabled {
            engine.core.geoip = Some(GeoIp::open(&config.geoip));
        }
        if config.history.enabled {
            engine.open_history(config.history.db.clone());
        }
        Ok(engine)
    }

    /// inotify said something changed.
    pub fn on_files_ready(&mut self) {
        let core = &mut self.core;
        self.logs
            .on_inotify(&mut |kind, source, line| core.on_line(kind, source, line));
    }

    /// Read everything the logs hold now (`--once`, and what `--from-start`
    /// finds before `--for` follows), however many bounded passes it takes.
    pub fn read_logs_now(&mut self) {
        self.read_logs_pass();
        while self.logs.has_backlog() {
            self.read_logs_pass();
        }
    }

    /// Look at every log and read on, up to a bounded amount a file (the end
    /// of a run, the refresh key): a log grown by gigabytes does not hold up
    /// the exit or the screen; the loop reads the rest.
    pub fn read_logs_pass(&mut self) {
        let core = &mut self.core;
        self.logs
            .read_available(&mut |kind, source, line| core.on_line(kind, source, line));
    }

    /// journalctl wrote something.
    pub fn on_journal_ready(&mut self) {
        let Some(journal) = self.journal.as_mut() else {
            return;
        };
        let core = &mut self.core;
        journal.on_readable(Instant::now(), &mut |line| core.on_auth_line(line));
    }

    /// The periodic tick: logs' safety net, a socket dump, expiry.
    pub fn on_tick(&mut self) {
        self.bandwidth.on_tick(Instant::now());
        self.request_whois_background();
        if self.core.now - self.last_history_snapshot >= HISTORY_EVERY_SECS {
            self.snapshot_history();
            if let Some(geoip) = self.core.geoip.as_mut() {
                geoip.reopen_if_changed(); // a monthly update replaced the file
            }
        }
        if let Some(demo) = self.demo.as_mut() {
            // A write failure (disk full) just stops the demo's traffic.
            let _ = demo.on_tick(self.core.now);
        }
        let core = &mut self.core;
        self.logs
            .on_tick(&mut |kind, source, line| core.on_line(kind, source, line));
        self.on_child_exit();
        self.socket_dump(false);
        self.core.table.expire(self.core.now);
    }

    /// Refresh the clock; called once per loop iteration.
    pub fn touch_clock(&mut self) {
        self.core.touch_clock();
    }

    /// Open the history file; a failure turns history off with a message
    /// (the run goes on).
    fn open_history(&mut self, path: Option<PathBuf>) {
        let Some(path) = path else {
            self.history_error =
                Some("history: no $XDG_STATE_HOME or $HOME for the default path".into());
            return;
        };
        match History::open(&path, self.core.now) {
            Ok(mut history) => {
                self.history_error = history.take_notice();
                self.history = Some(history);
            }
            Err(e) => self.history_error = Some(format!("{e} (history is off)")),
        }
        self.history_path = Some(path);
    }

    /// Start the whois worker, which wakes the loop through `waker`.
    pub fn start_whois(&mut self, waker: mio::Waker) {
        if let Some(config) = self.whois_config.take() {
            self.whois = Worker::spawn(config, waker).ok();
        }
    }

    pub fn whois_enabled(&self) -> bool {
        self.whois.is_some()
    }

    /// Ask for a lookup now, before background ones (`w`, the drill-down).
    pub fn request_whois_now(&mut self, ip: IpAddr) {
        if let Some(worker) = self.whois.as_mut() {
            if !matches!(worker.request(ip, true), Submit::Full | Submit::Stopped) {
                self.whois_asked.insert(ip);
            }
        }
    }

    /// Background lookups: suspicious addresses first, then the busiest,
    /// a few per tick; a full queue is simply asked again next tick.
    fn request_whois_background(&mut self) {
        if self.whois.is_none() {
            return;
        }
        let core = &self.core;
        let mut wanted: Vec<(bool, u64, IpAddr)> = core
            .table
            .rows()
            .filter(|r| r.whois.is_none() && !self.whois_asked.contains(&r.ip) && is_public(r.ip))
            .map(|r| {
                (
                    !core.detector.reasons(r).is_empty(),
                    r.requests + u64::from(r.sockets().conns_in),
                    r.ip,
                )
            })
            .collect();
        wanted.sort_unstable_by_key(|&(suspicious, busy, _)| std::cmp::Reverse((suspicious, busy)));
        let now = core.now;
        for (_, _, ip) in wanted.into_iter().take(WHOIS_PER_TICK) {
            if let Some(cached) = cached_whois(self.history.as_ref(), ip, now, self.whois_cache_ttl)
            {
                self.whois_asked.insert(ip);
                if let Some(info) = cached {
                    self.core.table.set_whois(ip, info);
                    self.core.changes += 1;
                }
                continue;
            }
            let Some(worker) = self.whois.as_mut() else {
                return;
            };
            match worker.request(ip, false) {
                Submit::Full | Submit::Stopped => break,
                _ => {
                    self.whois_asked.insert(ip);
                }
            }
        }
        if self.whois_asked.len() > WHOIS_ASKED_MAX {
            self.whois_asked.clear(); // bounded; a few addresses may be asked twice
        }
    }

    /// The worker has replies: attach answers to their rows.
    pub fn on_whois_replies(&mut self) {
        let Some(worker) = self.whois.as_mut() else {
            return;
        };
        while let Some((ip, reply)) = worker.try_recv() {
            // Answers and lasting failures are cached (failures for a
            // shorter time); a rate limit or a refused connection is just
            // retried later.
            let cached = match &reply {
                Ok(info) => serde_json::to_string(info).ok().map(|body| (true, body)),
                Err(e) if e.is_lasting() => Some((false, e.to_string())),
                Err(_) => None,
            };
            if let (Some((ok, body)), Some(history)) = (cached, self.history.as_mut()) {
                let _ = history.whois_put(&ip.to_string(), self.core.now, ok, &body);
            }
            if let Ok(info) = reply {
                self.core.table.set_whois(ip, info);
                self.core.changes += 1;
            }
        }
    }

    /// Log a block command that ran (history's `blocks` table). A busy file
    /// queues it inside `History`; another error turns history off.
    pub fn record_block(&mut self, record: &BlockRecord) {
        let Some(history) = self.history.as_mut() else {
            return;
        };
        if let Err(e) = history.record_block(record) {
            self.history_error = Some(format!("{e} (history is off)"));
            self.history = None;
        }
    }

    /// Write this session's running totals (every 60 s). Busy (another
    /// instance) is retried next time, with the same totals; any other error
    /// turns history off with a message.
    pub fn snapshot_history(&mut self) {
        let _ = self.write_history(BUSY_TIMEOUT);
    }

    /// The last snapshot, at exit, which writes the session's end. There is
    /// no next time, so it waits up to [`EXIT_BUSY_TIMEOUT`] for another
    /// instance's lock. When the lock outlasts that, the session is lost:
    /// the message is returned (the caller exits 1) and is the history
    /// source's error in the summary. Another error turns history off with
    /// a message, as during the run.
    pub fn save_history(&mut self) -> Option<String> {
        let result = self.write_history(EXIT_BUSY_TIMEOUT)?;
        self.history_saved = Some(matches!(result, Ok(SnapshotOutcome::Written { .. })));
        let busy = match &result {
            Ok(outcome) => *outcome == SnapshotOutcome::Busy,
            Err(e) => e.is_busy(),
        };
        if !busy {
            return None;
        }
        let path = self.history_path.as_deref().unwrap_or(Path::new("?"));
        let message = format!(
            "history: {} was locked by another instance for {} s at exit; this session \
             ({} addresses) was not saved",
            path.display(),
            EXIT_BUSY_TIMEOUT.as_secs(),
            self.core.table.len()
        );
        self.history_error = Some(message.clone());
        Some(message)
    }

    /// Whether the snapshot at exit was written; `None` before it, or when
    /// history is off.
    pub fn history_saved(&self) -> Option<bool> {
        self.history_saved
    }

    /// One snapshot, waiting up to `wait` for another instance's lock;
    /// `None` when history is off.
    fn write_history(&mut self, wait: Duration) -> Option<Result<SnapshotOutcome, HistoryError>> {
        let history = self.history.as_mut()?;
        self.last_history_snapshot = self.core.now;
        let core = &self.core;
        // In address order, one SessionRow (with its paths) at a time.
        let mut rows: Vec<&Row> = core.table.rows().collect();
        rows.sort_unstable_by_key(|row| row.ip.to_canonical());
        let rows = rows.into_iter().map(|row| session_row(core, row));
        let result = history.snapshot_waiting(rows, wait);
        match &result {
            Err(e) if !e.is_busy() => {
                self.history_error = Some(format!("{e} (history is off)"));
                self.history = None;
            }
            _ => {}
        }
        Some(result)
    }

    /// SIGCHLD or a tick: reap and restart the journal reader when due.
    pub fn on_child_exit(&mut self) {
        if let Some(journal) = self.journal.as_mut() {
            let core = &mut self.core;
            journal.on_tick(Instant::now(), &mut |line| core.on_auth_line(line));
        }
    }

    /// Ask for a dump (netlink), or read /proc now.
    pub fn start_socket_dump(&mut self) {
        self.socket_dump(true);
    }

    /// `always`: false on ticks, where netlink skips the dump when the
    /// kernel's TCP counters have not moved (see `SockDiag::request_dump_if_due`).
    fn socket_dump(&mut self, always: bool) {
        match &mut self.sockets {
            SocketReader::Netlink(diag) => {
                let mut always = always;
                if self.socket_status.dump_in_flight {
                    // The previous dump is still arriving: don't stack requests,
                    // unless it has stalled (a lost reply), then ask afresh.
                    self.socket_status.ticks_in_flight += 1;
                    if self.socket_status.ticks_in_flight < STALLED_DUMP_TICKS {
                        return;
                    }
                    self.socket_status.error = Some("netlink: a dump stalled; asked again".into());
                    always = true;
                }
                self.socket_status.ticks_in_flight = 0;
                let sent = if always {
                    diag.request_dump().map(|()| true)
                } else {
                    diag.request_dump_if_due()
                };
                match sent {
                    Ok(true) => {
                        self.dump.clear();
                        self.socket_status.dump_in_flight = true;
                    }
                    // Skipped: the last dump's sockets are still the table;
                    // apply them again, as an identical dump would be.
                    Ok(false) => self.core.apply_sockets(&self.last_dump),
                    Err(e) => {
                        self.dump.clear();
                        self.socket_status.error = Some(format!("netlink: {e}"));
                    }
                }
            }
            SocketReader::Proc(reader) => {
                self.dump.clear();
                let dump = &mut self.dump;
                let result = reader.read(&mut |s| dump.push(s));
                self.socket_status.lines += result.stats().lines;
                self.socket_status.malformed += result.stats().malformed;
                self.socket_status.error = proc_error(&result);
                self.finish_dump();
            }
        }
    }

    /// The netlink socket is readable. Returns true when a dump completed.
    pub fn on_sockets_ready(&mut self) -> bool {
        let SocketReader::Netlink(diag) = &mut self.sockets else {
            return false;
        };
        let dump = &mut self.dump;
        match diag.read_replies(&mut |s| dump.push(s)) {
            Ok(DumpProgress::Done) => {
                let stats = diag.stats();
                let malformed = u64::from(stats.malformed);
                self.socket_status.lines += u64::from(stats.sockets) + malformed;
                self.socket_status.malformed += malformed;
                self.socket_status.dump_in_flight = false;
                self.socket_status.error = None;
                self.finish_dump();
                true
            }
            Ok(DumpProgress::Pending | DumpProgress::Idle) => false,
            Err(e) => {
                self.socket_status.dump_in_flight = false;
                self.socket_status.error = Some(format!("netlink: {e}"));
                false
            }
        }
    }

    fn finish_dump(&mut self) {
        std::mem::swap(&mut self.dump, &mut self.last_dump);
        self.dump.clear();
        self.core.apply_sockets(&self.last_dump);
        self.core.changes += 1;
        if self.socket_status.dumps == 0 {
            // No baseline yet: every socket would look new.
            self.core.table.totals.new_conns_last_dump = 0;
        }
        self.socket_status.dumps += 1;
    }

    /// The sockets of the last complete dump.
    pub fn last_dump(&self) -> &[SocketEntry] {
        &self.last_dump
    }

    /// Every source as the summary reports it.
    pub fn source_reports(&self) -> Vec<SourceReport> {
        let mut reports: Vec<SourceReport> = self
            .logs
            .sources()
            .iter()
            .enumerate()
            .map(|(i, s)| SourceReport {
                path: s.path.display().to_string(),
                kind: match s.kind {
                    LogKind::Access => "access",
                    LogKind::Auth => "auth",
                },
                format: match s.kind {
                    LogKind::Access => self.format_name(i),
                    LogKind::Auth => "sshd".into(),
                },
                lines: s.lines,
                malformed: s.malformed,
                error: s.error.clone(),
                note: s.note.clone(),
            })
            .collect();
        if let Some(journal) = &self.journal {
            reports.push(SourceReport {
                path: "journald".into(),
                kind: "auth",
                format: "sshd".into(),
                lines: journal.stats().lines,
                malformed: journal.stats().malformed,
                error: journal.stats().error.clone(),
                note: None,
            });
        }
        reports.push(self.socket_report());
        if let Some(geoip) = &self.core.geoip {
            reports.push(SourceReport {
                path: geoip.describe(),
                kind: "geoip",
                format: "mmdb".into(),
                lines: 0,
                malformed: 0,
                error: None,
                note: geoip.note().map(str::to_string),
            });
        }
        if let Some(path) = &self.history_path {
            reports.push(SourceReport {
                path: path.display().to_string(),
                kind: "history",
                format: "sqlite".into(),
                lines: 0,
                malformed: 0,
                error: self.history_error.clone(),
                note: None,
            });
        }
        reports
    }

    /// The configured format, with the detected one for `auto`: `auto(combined)`.
    fn format_name(&self, source: usize) -> String {
        match self.core.formats.get(source).filter(|f| !f.is_empty()) {
            Some(seen) if self.format_spec == "auto" => format!("auto({seen})"),
            _ if self.format_spec.contains('$') => "custom".into(),
            _ => self.format_spec.clone(),
        }
    }

    fn socket_report(&self) -> SourceReport {
        let (path, format) = match &self.sockets {
            SocketReader::Netlink(_) => ("netlink".to_string(), "sock_diag"),
            SocketReader::Proc(reader) => (
                reader.root().join("net/tcp{,6}").display().to_string(),
                "procnet",
            ),
        };
        SourceReport {
            path,
            kind: "sockets",
            format: format.into(),
            lines: self.socket_status.lines,
            malformed: self.socket_status.malformed,
            error: self.socket_status.error.clone(),
            note: None,
        }
    }

    pub fn is_dump_in_flight(&self) -> bool {
        self.socket_status.dump_in_flight
    }
}

impl Core {
    /// Refresh the clock; called once per loop iteration.
    pub fn touch_clock(&mut self) {
        self.now = time::now();
        self.auth.set_now(self.now);
    }

    /// Apply one sshd line (from a file or the journal).
    fn on_auth_line(&mut self, line: &[u8]) -> LineVerdict {
        match self.auth.parse(line) {
            Some(event) => {
                if let Some(applied) = self.table.apply_auth(&event, self.now) {
                    self.enrich_if_new(applied);
                }
                self.changes += 1;
                LineVerdict::Used
            }
            None => LineVerdict::Ignored,
        }
    }

    /// Feed one complete line from a log source.
    fn on_line(&mut self, kind: LogKind, source: usize, line: &[u8]) -> LineVerdict {
        match kind {
            LogKind::Access => {
                match parse_access(&self.access, &self.table, line, &mut self.access_scratch) {
                    Ok((hit, format)) => {
                        if self.formats.len() <= source {
                            self.formats.resize(source + 1, "");
                        }
                        self.formats[source] = format.name();
                        if let Some((applied, request)) = self.table.apply_access(&hit, self.now) {
                            self.detector.check_request(
                                &mut self.table,
                                applied.row,
                                &request,
                                &hit,
                            );
                            self.enrich_if_new(applied);
                        }
                        self.changes += 1;
                        LineVerdict::Used
                    }
                    Err(_) => LineVerdict::Malformed,
                }
            }
            LogKind::Auth => self.on_auth_line(line),
        }
    }

    /// A complete socket dump: every row's sockets replaced, new rows enriched.
    fn apply_sockets(&mut self, dump: &[SocketEntry]) {
        let geoip = self.geoip.as_ref();
        self.table
            .apply_sockets(dump, self.now, |row| attach_geo(geoip, row));
    }

    /// The row a line counted was created for it: attach its GeoIP record.
    fn enrich_if_new(&mut self, applied: Applied) {
        if applied.is_new {
            attach_geo(self.geoip.as_ref(), self.table.row_mut(applied.row));
        }
    }
}

/// Look a new row up in GeoIP, once in its life (sub-microsecond, memory-mapped).
fn attach_geo(geoip: Option<&GeoIp>, row: &mut Row) {
    if let Some(geoip) = geoip {
        row.geo = geoip.lookup_boxed(row.ip);
    }
}

/// The row of the line's address starts loading into the cache while the
/// rest of the line is parsed. (A function of the fields it needs, so the
/// hit may borrow the scratch while the table is updated.)
#[inline]
fn parse_access<'a>(
    access: &AccessParser,
    table: &IpTable,
    line: &'a [u8],
    scratch: &'a mut Vec<u8>,
) -> Result<(AccessHit<'a>, FormatKind), Malformed> {
    access.parse_with(line, scratch, |ip| table.prefetch(ip))
}

/// How long a lookup that failed for good (see `WhoisError::is_lasting`: no
/// registry, an error status, a bad answer, a hang, an oversized body, a
/// redirect loop) is remembered before it is tried again.
const WHOIS_FAILURE_TTL: Duration = Duration::from_secs(3600);

/// A fresh cached answer for `ip`: `Some(Some(info))` for an answer,
/// `Some(None)` for a remembered failure, `None` when nothing fresh is cached.
fn cached_whois(
    history: Option<&History>,
    ip: IpAddr,
    now: UnixTime,
    ttl: Duration,
) -> Option<Option<WhoisInfo>> {
    let entry = history?
        .whois_get(&ip.to_string(), now, ttl, WHOIS_FAILURE_TTL)
        .ok()??;
    Some(
        entry
            .ok
            .then(|| serde_json::from_str(&entry.body).ok())
            .flatten(),
    )
}

/// What history keeps of a row: its running totals this session.
fn session_row(core: &Core, row: &Row) -> SessionRow {
    let text = |id| String::from_utf8_lossy(core.table.text(id)).into_owned();
    SessionRow {
        ip: row.ip,
        first_seen: row.first_seen,
        last_seen: row.last_seen,
        requests: row.requests,
        bytes: row.bytes,
        auth_failures: row.auth_failures(),
        suspicious: !core.detector.reasons(row).is_empty(),
        country: row.geo.as_ref().and_then(|g| g.country.clone()),
        org: row.geo.as_ref().and_then(|g| g.org.clone()),
        last_paths: {
            // Dropped paths are unknown, not "…".
            let known = row.recent.iter().filter(|r| r.path != StrId::DROPPED);
            let skip = known.clone().count().saturating_sub(MAX_PATHS);
            known.skip(skip).map(|r| text(r.path)).collect()
        },
    }
}

/// The config with the demo's files in place of the real sources.
fn demo_sources(config: &Config, demo: &Demo) -> Config {
    let mut config = config.clone();
    config.log_paths = vec![demo.access_log().display().to_string()];
    config.log_format = "auto".into();
    config.auth.source = AuthSource::File(demo.auth_log());
    config.proc_root = Some(demo.proc_root());
    config.show_private_ips = true; // the demo uses documentation ranges only
    config.from_start = true;
    config
}

fn detect_settings(config: &Config) -> DetectSettings {
    DetectSettings {
        burst_rpm: config.detect.burst_rpm,
        min_conns: config.detect.min_conns,
        min_auth_failures: config.detect.min_auth_failures,
        scanner_user_agents: config.detect.scanner_user_agents.clone(),
        exploit_path_patterns: config.detect.exploit_path_patterns.clone(),
    }
}

/// netlink unless `--proc-root` asks for files, or netlink is refused.
fn open_socket_reader(proc_root: Option<PathBuf>) -> SocketReader {
    if let Some(root) = proc_root {
        return SocketReader::Proc(ProcNetReader::new(root));
    }
    match SockDiag::open() {
        Ok(diag) => SocketReader::Netlink(diag),
        Err(_) => SocketReader::Proc(ProcNetReader::default()),
    }
}

fn proc_error(result: &crate::parse::sockets::ProcReadResult) -> Option<String> {
    let errors: Vec<String> = [("tcp", &result.v4), ("tcp6", &result.v6)]
        .into_iter()
        .filter_map(|(name, r)| r.as_ref().err().map(|e: &io::Error| format!("{name}: {e}")))
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}
