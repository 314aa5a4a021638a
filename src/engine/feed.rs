//! The line feed: every complete log line (files through [`LogSet`], sshd
//! lines from the journal) is parsed here and applied to the table. [`Core`]
//! is the [`LineSink`] the log sources push into; nothing on this path
//! allocates per line.
//!
//! [`LogSet`]: crate::source::LogSet

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Instant;

use crate::config::{AuthSource, Config, Mode};
use crate::detect::{DetectSettings, Detector};
use crate::enrich::blocked::BlockIndex;
use crate::enrich::geoip::GeoIp;
use crate::parse::access::{AccessParser, FormatKind, LeadAhead};
use crate::parse::auth::AuthParser;
use crate::parse::sockets::SocketEntry;
use crate::parse::time;
use crate::parse::{AccessHit, AuthEvent, AuthKind, Malformed, UnixTime};
use crate::source::journal::{Journal, JournalQuery};
use crate::source::logset::Follow;
use crate::source::{LineSink, LineVerdict, LogCursor, LogKind, LogSet};
use crate::store::Recounted;
use crate::table::{Applied, IpTable, Row, RowId};

use super::events::Events;

/// Logins from addresses without enough failures this run to be a breach,
/// waiting for history's lifetime count (`Engine::resolve_accepts`); a
/// flood beyond this is judged on this run alone.
const MAX_UNRESOLVED_ACCEPTS: usize = 256;
/// User name bytes an `auth` event keeps.
const AUTH_USER_MAX: usize = 256;

/// An sshd login accepted from an address with fewer failures this run
/// than make a breach: one if history counted enough from it.
pub(crate) struct UnresolvedAccept {
    pub(crate) ip: IpAddr,
    pub(crate) time: UnixTime,
    pub(crate) user: Box<[u8]>,
    /// This run's failures from the address before the login.
    pub(crate) failures: u64,
}

/// What lines and dumps are applied to: parsers, detector, table, clock.
pub(crate) struct Core {
    pub(crate) table: IpTable,
    pub(crate) detector: Detector,
    /// GeoIP, attached to each row when it is created (`None` with `--no-geoip`).
    pub(crate) geoip: Option<GeoIp>,
    /// The networks already blocked, looked up for each row when it is born.
    pub(crate) blocked: BlockIndex,
    access: AccessParser,
    /// JSON string values decoded from their escapes, reused for every line.
    access_scratch: Vec<u8>,
    /// The next access line's leading address, read one line early.
    lead_ahead: LeadAhead,
    auth: AuthParser,
    /// Reads the times of sshd lines `--since` looks at out of order, so
    /// `auth`'s year guess follows the lines applied only.
    auth_probe: AuthParser,
    /// Format each access source was last seen in, by source index.
    formats: Vec<&'static str>,
    /// Wall clock, refreshed once per loop iteration (not per line).
    pub(crate) now: UnixTime,
    /// Bumped whenever a line, a dump or a whois answer changed the table,
    /// so a screen knows when to draw without comparing anything.
    pub(crate) changes: u64,
    /// Rows created since the engine last looked, for their cached whois
    /// answer (`Whois::attach_born`); noted only when `note_births`.
    pub(crate) born: Vec<IpAddr>,
    /// Whether there is a whois cache to read for new rows.
    pub(crate) note_births: bool,
    /// What lines history had counted in an earlier run added, per address,
    /// until the next snapshot hands it to history (which keeps it out of
    /// the lifetime totals).
    pub(crate) recounted: HashMap<IpAddr, Recounted>,
    /// The event stream (`None`: off).
    pub(crate) events: Option<Events>,
    /// Whether history is open, to ask it about logins this run saw no
    /// failure before ([`UnresolvedAccept`]).
    pub(crate) ask_history: bool,
    pub(crate) unresolved_accepts: Vec<UnresolvedAccept>,
}

impl Core {
    /// Parsers, detector and table from a validated config (the demo's, when
    /// `--demo` replaced the sources).
    pub(crate) fn new(config: &Config, now: UnixTime) -> Result<Core, String> {
        let mut detector = Detector::new(detect_settings(config))?;
        detector.set_now(now);
        let access = AccessParser::new(&config.log_format, config.trusted_proxies.clone())
            .map_err(|e| format!("log_format: {e}"))?;
        let mut table = IpTable::new(config.max_tracked_ips, config.show_private_ips);
        table.set_flagged(detector.flagged_test());
        table.set_max_recent(config.display.max_log_entries_per_ip);
        if config.mode == Mode::Dashboard {
            table.activity.set_capacity(config.display.max_log_lines);
        }
        let geoip = config.geoip.enabled.then(|| GeoIp::open(&config.geoip));
        Ok(Core {
            table,
            detector,
            geoip,
            blocked: BlockIndex::default(),
            access,
            access_scratch: Vec::new(),
            lead_ahead: LeadAhead::default(),
            auth: AuthParser::new(now),
            auth_probe: AuthParser::new(now),
            formats: Vec::new(),
            now,
            changes: 0,
            born: Vec::new(),
            note_births: false,
            recounted: HashMap::new(),
            events: None,
            ask_history: false,
            unresolved_accepts: Vec::new(),
        })
    }

    /// Refresh the clock; called once per loop iteration.
    pub(crate) fn touch_clock(&mut self) {
        self.now = time::now();
        self.auth.set_now(self.now);
        self.auth_probe.set_now(self.now);
        self.detector.set_now(self.now);
    }

    /// The format access source `source` was last seen in (`auto` detects
    /// it per line); `None` before its first good line.
    pub(crate) fn format_seen(&self, source: usize) -> Option<&'static str> {
        self.formats.get(source).copied().filter(|f| !f.is_empty())
    }

    /// Apply one sshd line (from a file or the journal).
    pub(crate) fn on_auth_line(&mut self, line: &[u8]) -> LineVerdict {
        self.apply_auth_line(line).0
    }

    /// [`on_auth_line`](Self::on_auth_line), and the row it counted.
    fn apply_auth_line(&mut self, line: &[u8]) -> (LineVerdict, Option<RowId>) {
        match self.auth.parse(line) {
            Some(event) => {
                let applied = self.table.apply_auth(&event, self.now);
                if let Some(applied) = applied {
                    self.detector.check_auth(&mut self.table, applied.row);
                    self.enrich_if_new(applied);
                    if event.kind == AuthKind::Accepted {
                        self.on_accepted(applied.row, &event);
                    } else if let Some(events) = self.events.as_mut() {
                        events.after_row(&self.detector, self.table.row_mut(applied.row));
                    }
                }
                self.changes += 1;
                (LineVerdict::Used, applied.map(|a| a.row))
            }
            None => (LineVerdict::Ignored, None),
        }
    }

    /// Apply one access-log line of source `source`, and say which row it
    /// counted. `next` is what was read after the line (empty if unknown):
    /// the next line's address is read from it now, and its row starts
    /// loading into the cache while this line is handled.
    fn apply_access_line(
        &mut self,
        source: usize,
        line: &[u8],
        next: &[u8],
    ) -> (LineVerdict, Option<RowId>) {
        let known = self.table.next_line(&mut self.lead_ahead, next);
        // Matched by reference: moving the ~170-byte hit out is a copy.
        let parsed = parse_access(
            &self.access,
            &self.table,
            line,
            &mut self.access_scratch,
            &known,
        );
        match &parsed {
            Ok((hit, format)) => {
                if self.formats.len() <= source {
                    self.formats.resize(source + 1, "");
                }
                self.formats[source] = format.name();
                let mut row = None;
                if let Some((applied, request)) = self.table.apply_access(hit, self.now) {
                    self.detector
                        .check_request(&mut self.table, applied.row, &request, hit);
                    self.enrich_if_new(applied);
                    if let Some(events) = self.events.as_mut() {
                        events.after_row(&self.detector, self.table.row_mut(applied.row));
                    }
                    row = Some(applied.row);
                }
                self.changes += 1;
                (LineVerdict::Used, row)
            }
            Err(_) => (LineVerdict::Malformed, None),
        }
    }

    /// sshd accepted a login on `row`: a breach when its address failed
    /// `min_auth_failures` times before (this run; else history is asked,
    /// after this batch of lines), announced on the event stream before the
    /// `auth` line.
    fn on_accepted(&mut self, row: RowId, event: &AuthEvent<'_>) {
        let row = self.table.row_mut(row);
        let (ip, failures) = (row.ip, row.auth_failures());
        let time = event.time.unwrap_or(self.now);
        let user = &event.user[..event.user.len().min(AUTH_USER_MAX)];
        let judged_now = failures >= self.detector.breach_threshold() || !self.ask_history;
        if !judged_now && self.unresolved_accepts.len() < MAX_UNRESOLVED_ACCEPTS {
            self.unresolved_accepts.push(UnresolvedAccept {
                ip,
                time,
                user: user.into(),
                failures,
            });
            return;
        }
        self.judge_accepted(ip, time, user, failures);
    }

    /// A login from `ip` at `time` after `failures` failed attempts (this
    /// run's, or history's): noted as a breach if any, then announced.
    pub(crate) fn judge_accepted(
        &mut self,
        ip: IpAddr,
        time: UnixTime,
        user: &[u8],
        failures: u64,
    ) {
        self.detector
            .check_accepted(&mut self.table, ip, time, failures);
        let (Some(events), Some(row)) = (self.events.as_mut(), self.table.get(ip)) else {
            return;
        };
        events.after_row(&self.detector, row);
        events.accepted(row, user, failures);
    }

    /// Write the events this batch of lines noted.
    pub(crate) fn flush_events(&mut self) {
        if let Some(events) = self.events.as_mut() {
            events.flush(&self.table, &self.detector, self.now);
        }
    }

    /// The tick, or a socket dump: announce what sockets show and clear
    /// what faded.
    pub(crate) fn reconcile_events(&mut self) {
        if let Some(events) = self.events.as_mut() {
            events.reconcile(&self.table, &self.detector, self.now);
        }
    }

    /// Apply a line history counted in an earlier run, and note what it
    /// added to its row (the change in the session totals) in `recounted`.
    fn apply_recounted(&mut self, kind: LogKind, source: usize, line: &[u8]) -> LineVerdict {
        let before = session_totals(&self.table);
        let (verdict, row) = match kind {
            LogKind::Access => self.apply_access_line(source, line, b""),
            LogKind::Auth => self.apply_auth_line(line),
        };
        if let Some(row) = row {
            let after = session_totals(&self.table);
            let added = Recounted {
                requests: after.requests - before.requests,
                bytes: after.bytes - before.bytes,
                auth_failures: after.auth_failures - before.auth_failures,
            };
            let ip = self.table.row_mut(row).ip;
            self.recounted.entry(ip).or_default().add(added);
            if self.recounted.len() > 2 * self.table.len().max(1024) {
                // Bounded whatever the log holds: addresses evicted from
                // the table since are dropped (nothing of theirs is written).
                let table = &self.table;
                self.recounted.retain(|ip, _| table.get(*ip).is_some());
            }
        }
        verdict
    }
}

/// The table's session totals (what one line adds to them is what it adds
/// to its row).
fn session_totals(table: &IpTable) -> Recounted {
    Recounted {
        requests: table.totals.requests,
        bytes: table.totals.bytes,
        auth_failures: table.totals.auth_failures,
    }
}

impl Core {
    /// A complete socket dump: every row's sockets replaced, new rows enriched.
    pub(crate) fn apply_sockets(&mut self, dump: &[SocketEntry]) {
        let geoip = self.geoip.as_ref();
        let blocked = &self.blocked;
        let mut born = self.note_births.then_some(&mut self.born);
        self.table.apply_sockets(dump, self.now, |row| {
            attach_geo(geoip, row);
            row.set_blocked(blocked.lookup_id(row.ip));
            if let Some(born) = born.as_deref_mut() {
                born.push(row.ip);
            }
        });
    }

    /// The row a line counted was created for it: attach its GeoIP record
    /// and blocked mark, and note it for its cached whois answer.
    #[inline]
    fn enrich_if_new(&mut self, applied: Applied) {
        if applied.is_new {
            self.enrich_new(applied.row);
        }
    }

    /// [`enrich_if_new`](Self::enrich_if_new) for a new row (out of line:
    /// most lines count an existing row).
    #[inline(never)]
    fn enrich_new(&mut self, row: RowId) {
        let row = self.table.row_mut(row);
        attach_geo(self.geoip.as_ref(), row);
        row.set_blocked(self.blocked.lookup_id(row.ip));
        if self.note_births {
            self.born.push(row.ip);
        }
    }
}

/// Look a new row up in GeoIP, once in its life (sub-microsecond, memory-mapped).
fn attach_geo(geoip: Option<&GeoIp>, row: &mut Row) {
    if let Some(geoip) = geoip {
        row.geo = geoip.lookup_boxed(row.ip);
    }
}

impl LineSink for Core {
    /// Feed one complete line from a log source.
    fn line(&mut self, kind: LogKind, source: usize, line: &[u8]) -> LineVerdict {
        self.line_before(kind, source, line, b"")
    }

    fn line_before(
        &mut self,
        kind: LogKind,
        source: usize,
        line: &[u8],
        next: &[u8],
    ) -> LineVerdict {
        match kind {
            LogKind::Access => self.apply_access_line(source, line, next).0,
            LogKind::Auth => self.on_auth_line(line),
        }
    }

    fn recounted_line(&mut self, kind: LogKind, source: usize, line: &[u8]) -> LineVerdict {
        self.apply_recounted(kind, source, line)
    }

    fn line_time(&mut self, kind: LogKind, line: &[u8]) -> Option<UnixTime> {
        match kind {
            LogKind::Access => {
                let hit = self
                    .access
                    .parse_with(line, &mut self.access_scratch, |_| {});
                hit.ok()?.0.time
            }
            LogKind::Auth => self.auth_probe.parse(line)?.time,
        }
    }
}

/// The row of the line's address starts loading into the cache while the
/// rest of the line is parsed, unless the line before read the address
/// (`known`) and started it then. (A function of the fields it needs, so
/// the hit may borrow the scratch while the table is updated.)
#[inline]
fn parse_access<'a>(
    access: &AccessParser,
    table: &IpTable,
    line: &'a [u8],
    scratch: &'a mut Vec<u8>,
    known: &LeadAhead,
) -> Result<(AccessHit<'a>, FormatKind), Malformed> {
    access.parse_after(line, scratch, known, |ip| table.prefetch(ip))
}

fn detect_settings(config: &Config) -> DetectSettings {
    DetectSettings {
        burst_rpm: config.detect.burst_rpm,
        reason_ttl: config.detect.reason_ttl,
        min_conns: config.detect.min_conns,
        min_auth_failures: config.detect.min_auth_failures,
        scanner_user_agents: config.detect.scanner_user_agents.clone(),
        static_extensions: config.detect.static_extensions.clone(),
        exploit_path_patterns: config.detect.exploit_path_patterns.clone(),
    }
}

/// Watch the access logs and the sshd log file, if that is the sshd source,
/// placed by history's `cursors`.
pub(crate) fn open_logs(
    config: &Config,
    cursors: Vec<(PathBuf, LogCursor)>,
) -> Result<LogSet, String> {
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
        resume: config.resume,
        stdin_to_end: config.mode == Mode::Once,
        since: since_cut(config),
        watch: config.mode != Mode::Once,
    };
    LogSet::open_at_cursors(&patterns, follow, cursors)
        .map_err(|e| format!("cannot watch logs: {e}"))
}

/// `--since`'s cut: now − the duration.
fn since_cut(config: &Config) -> Option<UnixTime> {
    let back = i64::try_from(config.since?.as_secs()).unwrap_or(i64::MAX);
    Some(time::now().saturating_sub(back))
}

/// `journalctl` when the sshd source is journald: followed (`-f`), or read
/// to its end for `--once`; from its start with `--from-start`. A failure to
/// start it is recorded on the source and retried with back-off.
pub(crate) fn open_journal(config: &Config) -> Option<Journal> {
    match config.auth.source {
        AuthSource::Journald => {
            let query = JournalQuery {
                directory: config.auth.journal_directory.clone(),
                from_start: config.from_start,
                follow: config.mode != Mode::Once,
                since: since_cut(config),
            };
            let mut journal = Journal::with_query(&query);
            let _ = journal.start(Instant::now());
            Some(journal)
        }
        _ => None,
    }
}
