//! Lifetime history: opening the SQLite file, a snapshot of the session's
//! running totals every minute and at exit, and the block runs it logs. A
//! failure turns history off with a message (the run goes on); another
//! instance holding the lock is waited out or retried.
//!
//! Each log line is counted once over all runs: every snapshot stores, with
//! the totals, each log's cursor (how far its lines are in them). A later
//! run hands the cursors to the logs at start ([`Keeper::log_cursors`]);
//! lines below a cursor read again (`--from-start`) reach the table as
//! recounted lines, what they added is in `Core::recounted`, and the
//! snapshot takes it as committed already (`History::add_recounted`), so
//! the lifetime totals get only what is new. `--resume` starts at the
//! cursors instead, reading nothing twice.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::feed::Core;
use crate::actions::block::BlockRecord;
use crate::parse::UnixTime;
use crate::source::{LogCursor, LogSet};
use crate::store::{
    History, HistoryError, SessionRow, SnapshotOutcome, BUSY_TIMEOUT, EXIT_BUSY_TIMEOUT, MAX_PATHS,
};
use crate::table::{Row, StrId};

/// How often history is written (and GeoIP files checked for replacement).
const HISTORY_EVERY_SECS: UnixTime = 60;

/// What the engine knows about its history file besides the handle (the
/// handle itself is `Engine::history`, which the screen and the snapshot
/// read).
pub(crate) struct Keeper {
    path: Option<PathBuf>,
    /// Why history is off, or a notice about it; the summary shows it.
    error: Option<String>,
    /// Whether the snapshot at exit was written (`None`: not taken, or history off).
    saved: Option<bool>,
    last_snapshot: UnixTime,
}

impl Keeper {
    /// Open the history file at `path` (`None` when the default path could
    /// not be found: history is then off, with a message).
    pub(crate) fn open(path: Option<PathBuf>, now: UnixTime) -> (Keeper, Option<History>) {
        let mut keeper = Keeper {
            path: None,
            error: None,
            saved: None,
            last_snapshot: now,
        };
        let Some(path) = path else {
            keeper.error = Some("history: no $XDG_STATE_HOME or $HOME for the default path".into());
            return (keeper, None);
        };
        let history = match History::open(&path, now) {
            Ok(mut history) => {
                keeper.error = history.take_notice();
                Some(history)
            }
            Err(e) => {
                keeper.error = Some(format!("{e} (history is off)"));
                None
            }
        };
        keeper.path = Some(path);
        (keeper, history)
    }

    /// History off because `path` can't be ours (`why`: nethergaze 0.2.0's file).
    pub(crate) fn refused(path: Option<PathBuf>, why: String, now: UnixTime) -> Keeper {
        Keeper {
            path,
            error: Some(why),
            saved: None,
            last_snapshot: now,
        }
    }

    /// History turned off in the config: nothing to write or report.
    pub(crate) fn off(now: UnixTime) -> Keeper {
        Keeper {
            path: None,
            error: None,
            saved: None,
            last_snapshot: now,
        }
    }

    /// The log cursors earlier runs stored, by path, to place the logs at
    /// start (none when history is off or they cannot be read: then every
    /// line counts, as before cursors).
    pub(crate) fn log_cursors(&mut self, history: Option<&History>) -> Vec<(PathBuf, LogCursor)> {
        let Some(store) = history else {
            return Vec::new();
        };
        match store.log_cursors() {
            Ok(cursors) => cursors,
            Err(e) => {
                self.error = Some(format!("{e} (log cursors unread: lines may count again)"));
                Vec::new()
            }
        }
    }

    /// A minute has passed since the last snapshot.
    pub(crate) fn is_due(&self, now: UnixTime) -> bool {
        now - self.last_snapshot >= HISTORY_EVERY_SECS
    }

    /// The snapshot of a running session. Busy (another instance) is
    /// retried next time, with the same totals; any other error turns
    /// history off with a message.
    pub(crate) fn snapshot(
        &mut self,
        history: &mut Option<History>,
        core: &mut Core,
        logs: &LogSet,
    ) {
        let _ = self.write(history, core, logs, BUSY_TIMEOUT);
    }

    /// The last snapshot, at exit, which writes the session's end. There is
    /// no next time, so it waits up to [`EXIT_BUSY_TIMEOUT`] for another
    /// instance's lock. When the lock outlasts that, the session is lost:
    /// the message is returned (the caller exits 1) and is the history
    /// source's error in the summary.
    pub(crate) fn save(
        &mut self,
        history: &mut Option<History>,
        core: &mut Core,
        logs: &LogSet,
    ) -> Option<String> {
        let result = self.write(history, core, logs, EXIT_BUSY_TIMEOUT)?;
        self.saved = Some(matches!(result, Ok(SnapshotOutcome::Written { .. })));
        let busy = match &result {
            Ok(outcome) => *outcome == SnapshotOutcome::Busy,
            Err(e) => e.is_busy(),
        };
        if !busy {
            return None;
        }
        let path = self.path.as_deref().unwrap_or(Path::new("?"));
        let message = format!(
            "history: {} was locked by another instance for {} s at exit; this session \
             ({} addresses) was not saved",
            path.display(),
            EXIT_BUSY_TIMEOUT.as_secs(),
            core.table.len()
        );
        self.error = Some(message.clone());
        Some(message)
    }

    /// Whether the snapshot at exit was written; `None` before it, or when
    /// history is off.
    pub(crate) fn saved(&self) -> Option<bool> {
        self.saved
    }

    /// Log a block command that ran (history's `blocks` table). A busy file
    /// queues it inside `History`; another error turns history off.
    pub(crate) fn record_block(&mut self, history: &mut Option<History>, record: &BlockRecord) {
        let Some(store) = history.as_mut() else {
            return;
        };
        if let Err(e) = store.record_block(record) {
            self.error = Some(format!("{e} (history is off)"));
            *history = None;
        }
    }

    /// One snapshot with the logs' cursors, waiting up to `wait` for
    /// another instance's lock; `None` when history is off.
    fn write(
        &mut self,
        history: &mut Option<History>,
        core: &mut Core,
        logs: &LogSet,
        wait: Duration,
    ) -> Option<Result<SnapshotOutcome, HistoryError>> {
        let Some(store) = history.as_mut() else {
            core.recounted.clear();
            return None;
        };
        let table = &core.table;
        store.add_recounted(core.recounted.drain().filter_map(|(ip, added)| {
            let row = table.get(ip)?;
            Some((row.ip, row.first_seen(), row.last_seen(), added))
        }));
        store.stage_cursors(logs.cursors(), core.now);
        let core = &*core;
        self.last_snapshot = core.now;
        // In address order, one SessionRow (with its paths) at a time.
        let mut rows: Vec<&Row> = core.table.rows().collect();
        for row in rows.iter().filter(|row| !row.sockets().is_empty()) {
            store.mark_live(row.ip);
        }
        rows.sort_unstable_by_key(|row| row.ip.to_canonical());
        let rows = rows.into_iter().map(|row| session_row(core, row));
        let result = store.snapshot_waiting(rows, wait);
        if let Err(e) = &result {
            if !e.is_busy() {
                self.error = Some(format!("{e} (history is off)"));
                *history = None;
            }
        }
        Some(result)
    }

    /// The history file (`None`: history off by config, or no default
    /// path); the summary lists it as a source.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Why history is off, or a notice about it.
    pub(crate) fn error(&self) -> &Option<String> {
        &self.error
    }
}

/// What history keeps of a row: its running totals this session.
fn session_row(core: &Core, row: &Row) -> SessionRow {
    let text = |id| String::from_utf8_lossy(core.table.text(id)).into_owned();
    SessionRow {
        ip: row.ip,
        first_seen: row.first_seen(),
        last_seen: row.last_seen(),
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
