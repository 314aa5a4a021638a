//! Program state below the screen, and what each kind of input does to it.
//! The event loop owns one `Engine` and calls into it from its single
//! dispatch `match`. The engine is a facade over rooms, one job each:
//!
//! - [`feed`]: the line feed, the [`LineSink`](crate::source::LineSink) that
//!   log files and the journal push lines into (parsers → table);
//! - [`sockets`]: one socket dump at a time, netlink or /proc;
//! - [`whois`]: the answer cache (read as rows are born), which rows are
//!   looked up, the replies;
//! - [`history`]: the SQLite file's snapshots and block log;
//! - [`report`]: every source's health, kept up to date for the summary;
//! - [`host`]: the machine's own readings for the header (bandwidth, boot
//!   time, vnstat's monthly totals and their schedule);
//! - [`demo`]: `--demo`'s generated sources;
//! - [`events`]: the event stream (`--events`, `--events-file`).
//!
//! The facade itself holds no state of its own beyond the run's start and
//! tick interval: each method hands an event to the rooms it concerns and
//! then refreshes the source reports.

mod blocked;
mod demo;
pub(crate) mod events;
mod feed;
mod history;
mod host;
pub(crate) mod import;
mod report;
mod sockets;
#[cfg(test)]
mod tests;
mod whois;

use std::io;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};

use crate::actions::block::BlockRecord;
use crate::config::{Config, Mode};
use crate::detect::Detector;
use crate::enrich::geoip::GeoIp;
use crate::headless::SourceReport;
use crate::parse::sockets::SocketEntry;
use crate::parse::{time, UnixTime};
use crate::source::bandwidth::Bandwidth;
use crate::source::journal::{self, Journal};
use crate::source::vnstat::Vnstat;
use crate::source::LogSet;
use crate::store::History;
use crate::table::IpTable;

use self::blocked::Blocked;
use self::demo::DemoRun;
pub(crate) use self::feed::Core;
use self::history::Keeper;
use self::host::Host;
use self::report::{Parts, Reports};
use self::sockets::Dumps;
pub(crate) use self::sockets::SocketReader;
pub(crate) use self::whois::{Whois, WhoisState};

/// The tokens the engine's fds go under in the loop's poll (the loop's to
/// choose: it dispatches them).
pub(crate) struct SourceTokens {
    /// The logs' inotify fd: lines to read.
    pub(crate) files: Token,
    /// The logs' rotation alarm (`LogSet::drain_alarm`).
    pub(crate) files_alarm: Token,
    /// The netlink socket, when sockets come from netlink.
    pub(crate) sockets: Token,
    /// `journalctl`'s output, when the sshd source is journald.
    pub(crate) journal: Token,
    /// The running `vnstat`'s output.
    pub(crate) vnstat: Token,
    /// The output of the tool asked who is blocked.
    pub(crate) blocked: Token,
}

pub(crate) struct Engine {
    core: Core,
    /// The log files (the loop registers their inotify fd and alarm).
    logs: LogSet,
    /// `journalctl -f` when the sshd source is journald.
    journal: Option<Journal>,
    /// Where dumps come from (the loop registers a netlink socket).
    sockets: SocketReader,
    dumps: Dumps,
    started: UnixTime,
    interval: Duration,
    /// Bandwidth, boot time and vnstat for the header.
    host: Host,
    /// Which addresses the firewalls and ban engines already block.
    blocked: Blocked,
    /// `--once`: the firewalls are read after the socket dump
    /// ([`Engine::read_blocked_now`]), not when registered.
    once: bool,
    whois: Whois,
    /// Lifetime history (`None` when disabled or when it failed: see `keeper`).
    history: Option<History>,
    keeper: Keeper,
    reports: Reports,
    /// `--demo`'s files, written to on every tick.
    demo: Option<DemoRun>,
    /// What the import of nethergaze 0.2.0's data at this start did, to say once.
    import_note: Option<String>,
}

impl Engine {
    /// Build everything from a validated config. Errors here are start-up
    /// errors (before the terminal goes raw).
    pub(crate) fn new(config: &Config) -> Result<Engine, String> {
        let now = time::now();
        let (demo, demo_config) = DemoRun::start(config, now)?.unzip();
        let config = demo_config.as_ref().unwrap_or(config);
        let mut core = Core::new(config, now)?;
        core.events = events::Events::open(&config.events, config.mode != Mode::Dashboard)?;
        // 0.2.0's files are looked for before ours are made.
        let carry = import::Carry::find(config);
        let (mut keeper, mut history) = match (config.history.enabled, carry.clash.clone()) {
            (true, Some(why)) => (Keeper::refused(config.history.db.clone(), why, now), None),
            (true, None) => Keeper::open(config.history.db.clone(), now),
            (false, _) => (Keeper::off(now), None),
        };
        let mut whois = Whois::new(config);
        let import_note = carry.run(history.as_mut(), &mut whois, config, now);
        let cursors = keeper.log_cursors(history.as_ref());
        let logs = feed::open_logs(config, cursors)?;
        let journal = feed::open_journal(config);
        let mut engine = Engine {
            core,
            logs,
            journal,
            sockets: SocketReader::open(config.proc_root.clone()),
            dumps: Dumps::default(),
            started: now,
            interval: config.connections_interval,
            host: Host::new(config, now),
            blocked: Blocked::new(config.blocked_interval, &config.actions.targets.nft_table),
            once: config.mode == Mode::Once,
            whois,
            import_note,
            history,
            keeper,
            reports: Reports::new(config),
            demo,
        };
        engine.reports.note_geoip(engine.core.geoip.as_ref());
        engine.core.note_births = engine.whois.wants_births();
        engine.core.ask_history = engine.history.is_some();
        engine.refresh_reports();
        Ok(engine)
    }

    /// Register every fd the engine reads in the loop's poll, so the loop
    /// never touches the engine's parts.
    pub(crate) fn register(
        &mut self,
        registry: &Registry,
        tokens: &SourceTokens,
    ) -> io::Result<()> {
        registry.register(&mut self.logs, tokens.files, Interest::READABLE)?;
        registry.register(self.logs.alarm(), tokens.files_alarm, Interest::READABLE)?;
        if let Some(stdin) = self.logs.stdin_mut() {
            // Under the inotify fd's token: the same read, the same pacing.
            match registry.register(stdin, tokens.files, Interest::READABLE) {
                Ok(()) => stdin.pollable = true,
                // A regular file or device as stdin: read on every pass.
                Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
                Err(e) => return Err(e),
            }
        }
        if let SocketReader::Netlink(diag) = &mut self.sockets {
            registry.register(diag, tokens.sockets, Interest::READABLE)?;
        }
        if let Some(journal) = self.journal.as_mut() {
            registry.register(journal, tokens.journal, Interest::READABLE)?;
        }
        self.blocked
            .register(registry, tokens.blocked, &mut self.core, !self.once)?;
        self.host.register(registry, tokens.vnstat)
    }

    /// Take the logs' inotify fd out of the poll: the loop paces reads,
    /// and writes meanwhile should not wake it.
    pub(crate) fn pause_log_events(&mut self, registry: &Registry) -> io::Result<()> {
        if let Some(stdin) = self.logs.stdin_mut().filter(|s| s.pollable) {
            // Already gone at its end of input: nothing to take out.
            let _ = registry.deregister(stdin);
        }
        registry.deregister(&mut self.logs)
    }

    /// Put the logs' inotify fd back in the poll under `files` (after
    /// `pause_log_events`).
    pub(crate) fn resume_log_events(
        &mut self,
        registry: &Registry,
        files: Token,
    ) -> io::Result<()> {
        if let Some(stdin) = self.logs.stdin_mut() {
            if stdin.pollable && !stdin.has_ended() {
                registry.register(stdin, files, Interest::READABLE)?;
            }
        }
        registry.register(&mut self.logs, files, Interest::READABLE)
    }

    /// Whether a log is about to rotate (and reset the alarm).
    pub(crate) fn take_log_alarm(&mut self) -> bool {
        self.logs.drain_alarm()
    }

    /// Whether a log stopped at its per-read bound with more to read.
    pub(crate) fn has_log_backlog(&self) -> bool {
        self.logs.has_backlog()
    }

    /// How often the loop ticks (`connections_interval`).
    pub(crate) fn tick_interval(&self) -> Duration {
        self.interval
    }

    /// inotify said something changed.
    pub(crate) fn on_files_ready(&mut self) {
        self.logs.on_inotify(&mut self.core);
        self.refresh_reports();
    }

    /// Read everything the logs hold now (`--once`, and what `--from-start`
    /// finds before `--for` follows), however many bounded passes it takes.
    pub(crate) fn read_logs_now(&mut self) {
        self.read_logs_pass();
        while self.logs.has_backlog() {
            self.read_logs_pass();
        }
    }

    /// Look at every log and read on, up to a bounded amount a file (the end
    /// of a run, the refresh key): a log grown by gigabytes does not hold up
    /// the exit or the screen; the loop reads the rest.
    pub(crate) fn read_logs_pass(&mut self) {
        self.logs.read_available(&mut self.core);
        self.refresh_reports();
    }

    /// `--once`: the journal's sshd entries up to now (journalctl without
    /// `-f` stops at the end of the journal), waited for within a deadline.
    pub(crate) fn read_journal_now(&mut self) {
        let Some(journal) = self.journal.as_mut() else {
            return;
        };
        let core = &mut self.core;
        let deadline = Instant::now() + journal::ONCE_TIMEOUT;
        journal.read_to_end(deadline, &mut |line| core.on_auth_line(line));
        self.refresh_reports();
    }

    /// journalctl wrote something.
    pub(crate) fn on_journal_ready(&mut self) {
        let Some(journal) = self.journal.as_mut() else {
            return;
        };
        let core = &mut self.core;
        journal.on_readable(Instant::now(), &mut |line| core.on_auth_line(line));
        self.refresh_reports();
    }

    /// `--once`: this month's totals from vnstat, waited for (at most
    /// [`vnstat::TIMEOUT`](crate::source::vnstat::TIMEOUT)).
    pub(crate) fn read_vnstat_now(&mut self) {
        self.host.read_vnstat_now();
    }

    /// vnstat wrote something (or closed its output).
    pub(crate) fn on_vnstat_ready(&mut self) {
        self.host.on_vnstat_ready();
        self.core.changes += 1;
    }

    /// `--once`: which addresses are blocked, asked and waited for (each
    /// tool at most [`blocklists::TIMEOUT`](crate::source::blocklists::TIMEOUT)).
    pub(crate) fn read_blocked_now(&mut self) {
        self.blocked.read_now(&mut self.core);
    }

    /// The tool asked who is blocked wrote something (or closed its output).
    pub(crate) fn on_blocked_ready(&mut self) {
        self.blocked.on_ready(&mut self.core);
    }

    /// The periodic tick: the host's readings, logs' safety net, a socket
    /// dump, expiry.
    pub(crate) fn on_tick(&mut self) {
        self.host.on_tick(self.core.now);
        self.whois.on_tick(&mut self.core);
        if self.keeper.is_due(self.core.now) {
            self.snapshot_history();
            if let Some(geoip) = self.core.geoip.as_mut() {
                if geoip.reopen_if_changed() {
                    // A monthly update replaced the file.
                    self.reports.note_geoip(Some(geoip));
                }
            }
        }
        if let Some(demo) = self.demo.as_mut() {
            demo.on_tick(self.core.now);
        }
        self.logs.on_tick(&mut self.core);
        self.on_child_exit();
        self.dumps.request(&mut self.sockets, &mut self.core, false);
        self.core.table.expire(self.core.now);
        self.core.reconcile_events();
        self.refresh_reports();
    }

    /// Refresh the clock; called once per loop iteration.
    pub(crate) fn touch_clock(&mut self) {
        self.core.touch_clock();
    }

    /// Start the whois worker, which wakes the loop through `waker`.
    pub(crate) fn start_whois(&mut self, waker: mio::Waker) {
        self.whois.start(waker);
    }

    pub(crate) fn whois_enabled(&self) -> bool {
        self.whois.is_enabled()
    }

    /// Ask for a lookup now, before background ones (`w`, the drill-down).
    pub(crate) fn request_whois_now(&mut self, ip: IpAddr) {
        self.whois.request_now(ip);
    }

    /// The worker has replies: attach answers to their rows.
    pub(crate) fn on_whois_replies(&mut self) {
        self.whois.on_replies(&mut self.core);
        self.refresh_reports();
    }

    /// Whois for the drill-down: what it is doing for an address.
    pub(crate) fn whois(&self) -> &Whois {
        &self.whois
    }

    /// Log a block command that ran (history's `blocks` table).
    pub(crate) fn record_block(&mut self, record: &BlockRecord) {
        if let Some(events) = self.core.events.as_mut() {
            events.blocked(record, self.core.now);
        }
        self.keeper.record_block(&mut self.history, record);
        self.blocked.note_block(&mut self.core, record);
        self.refresh_reports();
    }

    /// Write this session's running totals (every 60 s).
    pub(crate) fn snapshot_history(&mut self) {
        self.keeper
            .snapshot(&mut self.history, &mut self.core, &self.logs);
        self.refresh_reports();
    }

    /// The last snapshot, at exit; `Some(message)` when another instance's
    /// lock outlasted the wait and the session was lost (the caller exits 1).
    pub(crate) fn save_history(&mut self) -> Option<String> {
        let lost = self
            .keeper
            .save(&mut self.history, &mut self.core, &self.logs);
        self.refresh_reports();
        lost
    }

    /// Whether the snapshot at exit was written; `None` before it, or when
    /// history is off.
    pub(crate) fn history_saved(&self) -> Option<bool> {
        self.keeper.saved()
    }

    /// SIGCHLD or a tick: reap vnstat, and reap and restart the journal
    /// reader when due.
    pub(crate) fn on_child_exit(&mut self) {
        self.host.on_child_exit();
        self.blocked.poll(&mut self.core, Instant::now());
        if let Some(journal) = self.journal.as_mut() {
            let core = &mut self.core;
            journal.on_tick(Instant::now(), &mut |line| core.on_auth_line(line));
            self.refresh_reports();
        }
    }

    /// Ask for a dump (netlink), or read /proc now.
    pub(crate) fn start_socket_dump(&mut self) {
        self.dumps.request(&mut self.sockets, &mut self.core, true);
        self.refresh_reports();
    }

    /// The netlink socket is readable. Returns true when a dump completed.
    pub(crate) fn on_sockets_ready(&mut self) -> bool {
        let done = self.dumps.on_ready(&mut self.sockets, &mut self.core);
        if done {
            self.core.reconcile_events();
        }
        self.refresh_reports();
        done
    }

    /// The sockets of the last complete dump.
    pub(crate) fn last_dump(&self) -> &[SocketEntry] {
        self.dumps.last_dump()
    }

    /// Every source as the summary reports it.
    pub(crate) fn source_reports(&self) -> &[SourceReport] {
        self.reports.as_slice()
    }

    /// Log sources that could not be read (the exit status is 1 if any).
    pub(crate) fn source_failures(&self) -> usize {
        self.reports.failures()
    }

    pub(crate) fn is_dump_in_flight(&self) -> bool {
        self.sockets.is_dump_in_flight()
    }

    /// `p` on the dashboard: track private and loopback addresses from now
    /// on, or stop (see [`IpTable::set_show_private`]).
    pub(crate) fn set_show_private(&mut self, on: bool) {
        self.core.table.set_show_private(on);
        self.core.changes += 1;
    }

    /// The drill-down opened `ip`: its row keeps `[log]
    /// max_log_entries_per_ip` recent requests from now on (see [`IpTable::widen`]).
    pub(crate) fn widen_row(&mut self, ip: IpAddr) {
        self.core.table.widen(ip);
    }

    /// What happened, per address.
    pub(crate) fn table(&self) -> &IpTable {
        &self.core.table
    }

    /// The reasons an address stands out.
    pub(crate) fn detector(&self) -> &Detector {
        &self.core.detector
    }

    /// The wall clock as of this loop iteration.
    pub(crate) fn now(&self) -> UnixTime {
        self.core.now
    }

    /// Bumped whenever the table changed (a screen compares it to know
    /// when to draw).
    pub(crate) fn changes(&self) -> u64 {
        self.core.changes
    }

    /// When this run started.
    pub(crate) fn started(&self) -> UnixTime {
        self.started
    }

    /// When the system booted (`None` when /proc/uptime is unreadable).
    pub(crate) fn booted(&self) -> Option<UnixTime> {
        self.host.booted()
    }

    /// The interface's live rx/tx rates.
    pub(crate) fn bandwidth(&self) -> &Bandwidth {
        self.host.bandwidth()
    }

    /// This month's totals from vnstat, or why there are none.
    pub(crate) fn vnstat(&self) -> &Vnstat {
        self.host.vnstat()
    }

    /// The GeoIP databases (`None` with `--no-geoip`).
    pub(crate) fn geoip(&self) -> Option<&GeoIp> {
        self.core.geoip.as_ref()
    }

    /// What importing nethergaze 0.2.0's data at this start did (once).
    pub(crate) fn take_import_note(&mut self) -> Option<String> {
        self.import_note.take()
    }

    /// The event stream's first write error, once (the dashboard's status
    /// line; headless runs say it on stderr themselves).
    pub(crate) fn take_events_error(&mut self) -> Option<String> {
        self.core.events.as_mut().and_then(|e| e.take_error())
    }

    /// Lifetime history, when enabled and open.
    pub(crate) fn history(&self) -> Option<&History> {
        self.history.as_ref()
    }

    /// Bring the source reports up to date (in place: no allocation when
    /// nothing but counters changed). Called after everything that can
    /// create rows, so rows born since the last call get their cached whois
    /// answer here first: whatever reads the engine next (a frame, the
    /// snapshot) shows it.
    fn refresh_reports(&mut self) {
        self.whois.attach_born(&mut self.core);
        self.resolve_accepts();
        self.reports.refresh(&Parts {
            logs: &self.logs,
            core: &self.core,
            journal: self.journal.as_ref(),
            reader: &self.sockets,
            dumps: &self.dumps,
            keeper: &self.keeper,
            whois: &self.whois,
        });
        self.core.flush_events();
        if let Some(events) = self.core.events.as_mut() {
            events.sources(self.reports.as_slice(), self.core.now);
        }
    }

    /// Logins this run saw too few failures before: a breach when history
    /// counted enough from the address (its lifetime count includes this
    /// run's once a snapshot is written, so the larger of the two is taken).
    /// One query a login; logins are rare.
    fn resolve_accepts(&mut self) {
        if self.core.unresolved_accepts.is_empty() {
            return;
        }
        for accept in std::mem::take(&mut self.core.unresolved_accepts) {
            let lifetime = self
                .history
                .as_ref()
                .and_then(|h| h.figures(accept.ip).ok().flatten())
                .map_or(0, |f| f.auth_failures);
            let failures = lifetime.max(accept.failures);
            self.core
                .judge_accepted(accept.ip, accept.time, &accept.user, failures);
        }
    }
}
