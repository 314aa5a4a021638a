//! SQLite history: what every address did across runs, how far each log's
//! lines are counted in it ([`cursor`]) and the block log, in one WAL-mode
//! file (made 0600 in a 0700 folder). The whois answer cache is a file of
//! its own in the cache folder ([`whois_cache`]); history files keep their
//! unused `whois_cache` table.
//!
//! The loop owns one [`History`]. Every call is short and never waits more
//! than [`BUSY_TIMEOUT`] for another instance's lock: a snapshot that can't
//! get it returns [`SnapshotOutcome::Busy`] and the engine tries again at the
//! next one. Only the last snapshot, at exit, has no next one: it waits up to
//! [`EXIT_BUSY_TIMEOUT`]. Any other error is the engine's cue to turn history
//! off with a visible message; nothing here panics or stops the run.

mod cursor;
pub(crate) mod import;
mod schema;
mod sorted;
#[cfg(test)]
mod tests;
pub(crate) mod whois_cache;

use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::fs::{self, DirBuilder, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io;
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::actions::block::{target_text, BlockRecord, CommandResult};
use crate::parse::UnixTime;
use crate::source::LogCursor;
use crate::sys::file;

use sorted::SortedMap;

/// How long any call waits for another instance's write lock. Short: two
/// instances must not stall each other's loop.
pub const BUSY_TIMEOUT: Duration = Duration::from_millis(50);
/// How long the last snapshot, at exit, waits for another instance's lock.
/// Nothing runs after it, so waiting costs only a slower exit, while giving
/// up loses the whole session. Another instance holds the lock for one
/// snapshot at a time, well under a second even for a full table (the
/// default 50 000 rows), so 5 s outlasts it with room for a slow disk.
pub const EXIT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// At open only (before the loop runs) a first-time schema creation by
/// another instance is worth waiting a little longer for.
const OPEN_BUSY_TIMEOUT: Duration = Duration::from_millis(500);
/// How long [`History::open`] retries an open that met another instance's lock.
const OPEN_RETRY: Duration = Duration::from_secs(3);
/// SQLite's page cache, KiB: part of the memory bound at the row cap, and
/// of the peak RSS after each snapshot. 256 rather than 1 024 (issue 13
/// item 3): `cargo bench --bench history` (20 000 rows) measured no slower
/// snapshot, the file's pages being in the OS's cache anyway.
const SQLITE_CACHE_KIB: i64 = 256;
/// Rows written per transaction of a snapshot: what is held aside until its
/// commit (64 bytes a row) stays small whatever the table's size.
const ROWS_PER_COMMIT: usize = 4096;
/// Paths kept per address.
pub(crate) const MAX_PATHS: usize = 5;
/// Longest path stored (bytes); hostile request lines can be huge.
const MAX_PATH_LEN: usize = 256;
const DIR_MODE: u32 = 0o700;

/// One address as the current session sees it: running totals since the
/// row was created. Handed to [`History::snapshot`] as often as wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub ip: IpAddr,
    pub first_seen: UnixTime,
    pub last_seen: UnixTime,
    pub requests: u64,
    pub bytes: u64,
    pub auth_failures: u64,
    /// Whether the detector flags it now; a session counts as suspicious
    /// for the address once it was flagged at any snapshot.
    pub suspicious: bool,
    pub country: Option<String>,
    pub org: Option<String>,
    /// A few recent paths, oldest first; at most [`MAX_PATHS`] are kept.
    pub last_paths: Vec<String>,
}

/// Lifetime record of an address, including the current session up to its
/// latest committed snapshot: the JSON `history` object.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg(test)]
pub(crate) struct IpHistory {
    pub(crate) sessions: u64,
    pub(crate) first_seen: UnixTime,
    pub(crate) last_seen: UnixTime,
    pub(crate) requests: u64,
    pub(crate) bytes: u64,
    pub(crate) auth_failures: u64,
    pub(crate) suspicious_sessions: u64,
    pub(crate) country: Option<String>,
    pub(crate) org: Option<String>,
    pub(crate) last_paths: Vec<String>,
}

/// The lifetime figures of an address (its record without the text): small
/// and `Copy`, so a view can hold them per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HistoryFigures {
    pub(crate) sessions: u64,
    pub(crate) first_seen: UnixTime,
    pub(crate) requests: u64,
    pub(crate) bytes: u64,
    pub(crate) auth_failures: u64,
    pub(crate) suspicious_sessions: u64,
}

/// What a snapshot did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// Committed; `changed` rows differed from the previous snapshot (the
    /// others cost no write).
    Written { changed: usize },
    /// Another instance held the lock past [`BUSY_TIMEOUT`]; nothing was
    /// written and the next snapshot carries the same changes.
    Busy,
}

/// Why history is unavailable or a call failed. `Display` is the message the
/// UI shows when it turns history off.
#[derive(Debug)]
pub enum HistoryError {
    /// Creating the folder or file, or fixing its mode.
    Io {
        path: PathBuf,
        what: &'static str,
        source: io::Error,
    },
    /// SQLite refused: read-only location, disk full, I/O error, ...
    Sqlite(rusqlite::Error),
    /// The file was written by a newer nethergaze; left untouched.
    NewerSchema(i64),
    /// Another instance held the lock past [`BUSY_TIMEOUT`] (not fatal).
    Busy,
}

impl HistoryError {
    /// Whether the engine should keep history on and simply retry later.
    pub(crate) fn is_busy(&self) -> bool {
        matches!(self, HistoryError::Busy)
    }
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryError::Io { path, what, source } => {
                write!(f, "history: {what} {}: {source}", path.display())
            }
            HistoryError::Sqlite(e) => write!(f, "history: {e}"),
            HistoryError::NewerSchema(v) => write!(
                f,
                "history: file has schema version {v}, newer than this nethergaze ({})",
                schema::VERSION
            ),
            HistoryError::Busy => write!(f, "history: database busy (another instance)"),
        }
    }
}

impl std::error::Error for HistoryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HistoryError::Io { source, .. } => Some(source),
            HistoryError::Sqlite(e) => Some(e),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for HistoryError {
    fn from(e: rusqlite::Error) -> Self {
        if is_busy(&e) {
            HistoryError::Busy
        } else {
            HistoryError::Sqlite(e)
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

fn is_corrupt(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

/// What this session last committed for one address, to turn running
/// totals into increments. One is kept per address of the session, so it
/// is kept small (36 bytes, packed to 4-byte alignment so that with its
/// 16-byte key an entry of the map is 52 bytes, not 64: 20 000 addresses
/// make a table of 32 768 entries, written at each snapshot): times as u32
/// seconds (until 2106), the auth failure count saturating at u32, a 32-bit
/// text hash (a collision only skips one rewrite of the text columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, packed(4))]
struct Written {
    requests: u64,
    bytes: u64,
    first_seen: u32,
    last_seen: u32,
    auth_failures: u32,
    /// Hash of country, org and paths: rewrite them only when they change.
    text: u32,
    suspicious: bool,
    /// This session is counted in the address's `sessions` (false while
    /// only lines an earlier run counted were seen: see
    /// [`History::add_recounted`]).
    counted: bool,
    /// Not counted yet, but seen on a socket this session: a session for
    /// the address even when its lines are all recounted.
    live: bool,
}

/// An address as the key of [`History`]'s `written` map: its canonical
/// form as 16 bytes (IPv4 as `::ffff:a.b.c.d`), so the key needs no
/// alignment and no tag byte.
type AddrKey = [u8; 16];

fn addr_key(ip: IpAddr) -> AddrKey {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// Unix seconds as u32, clamped (u32 lasts until 2106).
fn secs32(t: UnixTime) -> u32 {
    t.clamp(0, i64::from(u32::MAX)) as u32
}

/// One row's change against what was committed, as bound to the upsert.
struct Delta {
    sessions: i64,
    requests: i64,
    bytes: i64,
    auth_failures: i64,
    suspicious_sessions: i64,
}

impl Delta {
    /// No count moves.
    fn adds_nothing(&self) -> bool {
        self.requests == 0 && self.bytes == 0 && self.auth_failures == 0
    }
}

/// What log lines that history had already counted (a `--from-start` run
/// reading a log again) added to one address this session: applied to the
/// table as any line, kept out of the lifetime totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Recounted {
    pub(crate) requests: u64,
    pub(crate) bytes: u64,
    pub(crate) auth_failures: u64,
}

impl Recounted {
    pub(crate) fn add(&mut self, more: Recounted) {
        self.requests = self.requests.saturating_add(more.requests);
        self.bytes = self.bytes.saturating_add(more.bytes);
        self.auth_failures = self.auth_failures.saturating_add(more.auth_failures);
    }
}

impl Written {
    fn of(row: &SessionRow, suspicious: bool) -> Written {
        let mut h = DefaultHasher::new();
        (&row.country, &row.org, &row.last_paths).hash(&mut h);
        Written {
            requests: row.requests,
            bytes: row.bytes,
            first_seen: secs32(row.first_seen),
            last_seen: secs32(row.last_seen),
            auth_failures: row.auth_failures.min(u64::from(u32::MAX)) as u32,
            text: h.finish() as u32,
            suspicious,
            counted: true,
            live: false,
        }
    }

    /// What the record counts, as recounted lines would add it.
    fn counts(&self) -> Recounted {
        Recounted {
            requests: self.requests,
            bytes: self.bytes,
            auth_failures: u64::from(self.auth_failures),
        }
    }

    /// Count what lines an earlier run committed as committed.
    fn add(&mut self, added: Recounted) {
        self.requests = self.requests.saturating_add(added.requests);
        self.bytes = self.bytes.saturating_add(added.bytes);
        let failures = u64::from(self.auth_failures).saturating_add(added.auth_failures);
        self.auth_failures = failures.min(u64::from(u32::MAX)) as u32;
    }

    /// Nothing committed yet for a row first seen at `first_seen`, last at
    /// `last_seen`, and this session not counted for it.
    fn nothing(first_seen: UnixTime, last_seen: UnixTime) -> Written {
        Written {
            requests: 0,
            bytes: 0,
            first_seen: secs32(first_seen),
            last_seen: secs32(last_seen),
            auth_failures: 0,
            text: 0,
            suspicious: false,
            counted: false,
            live: false,
        }
    }

    /// The increment from `self` (previously committed, if any) to `now`.
    /// A row the table expired and recreated restarts its counters: a
    /// counter going down or a later first_seen means a new incarnation,
    /// whose whole count is new.
    fn delta(prev: Option<&Written>, now: &Written) -> Delta {
        let fresh = |p: &Written| {
            now.first_seen > p.first_seen
                || now.requests < p.requests
                || now.bytes < p.bytes
                || now.auth_failures < p.auth_failures
        };
        let base = prev.filter(|p| !fresh(p));
        let diff = |n: u64, p: u64| n.saturating_sub(p).min(i64::MAX as u64) as i64;
        Delta {
            sessions: i64::from(!prev.is_some_and(|p| p.counted)),
            requests: diff(now.requests, base.map_or(0, |p| p.requests)),
            bytes: diff(now.bytes, base.map_or(0, |p| p.bytes)),
            auth_failures: diff(
                u64::from(now.auth_failures),
                u64::from(base.map_or(0, |p| p.auth_failures)),
            ),
            suspicious_sessions: i64::from(now.suspicious && !prev.is_some_and(|p| p.suspicious)),
        }
    }
}

/// The open history file and this run's session in it.
pub struct History {
    conn: Connection,
    path: PathBuf,
    started: UnixTime,
    /// `None` until the session row is written (deferred when the file was
    /// busy at open).
    session: Option<i64>,
    /// What this session committed, by address (see [`Written`]).
    written: SortedMap<AddrKey, Written>,
    /// Block records that met a busy file; written with the next snapshot.
    pending_blocks: Vec<BlockRow>,
    /// Log cursors to write with the next snapshot's last transaction.
    pending_cursors: Vec<(PathBuf, LogCursor)>,
    /// When the pending cursors were taken.
    cursors_at: UnixTime,
    notice: Option<String>,
    /// This instance (high 32 bits) and the snapshot attempts it made (low
    /// bits): figures read before it moved may be stale (see
    /// [`History::generation`]).
    generation: u64,
}

/// A number no other `History` of this process has, so that figures held
/// for one file are never taken for another's.
fn next_instance() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl fmt::Debug for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("History")
            .field("path", &self.path)
            .field("session", &self.session)
            .field("ips", &self.written.len())
            .finish_non_exhaustive()
    }
}

impl History {
    /// Opens (creating as needed) the history file at `path` and starts a
    /// session at `now`. A new folder is made 0700 and a new file 0600; an
    /// existing file keeps its mode. Anything but a regular file (a link, a
    /// device such as /dev/null, a FIFO) is refused. A corrupt file is moved
    /// aside to `<name>.corrupt-<now>` and a new one created;
    /// [`History::take_notice`] then says so, and warns of a file open to
    /// other users or a folder every user may write in.
    ///
    /// Two instances opening a new file at once race to create its header and
    /// switch it to WAL, and SQLite answers some of those races with an
    /// immediate SQLITE_BUSY (no busy handler): the whole open is retried for
    /// up to [`OPEN_RETRY`] before history is turned off.
    pub fn open(path: &Path, now: UnixTime) -> Result<History, HistoryError> {
        History::open_retrying(path, now, true)
    }

    /// [`History::open`] without starting a session (`--import-history`
    /// only adds 0.2.0's data; it is no run of its own).
    pub(crate) fn open_without_session(
        path: &Path,
        now: UnixTime,
    ) -> Result<History, HistoryError> {
        History::open_retrying(path, now, false)
    }

    fn open_retrying(path: &Path, now: UnixTime, session: bool) -> Result<History, HistoryError> {
        let give_up = std::time::Instant::now() + OPEN_RETRY;
        loop {
            match History::open_once(path, now, session) {
                Err(HistoryError::Busy) if std::time::Instant::now() < give_up => {
                    std::thread::sleep(BUSY_TIMEOUT);
                }
                opened => return opened,
            }
        }
    }

    fn open_once(path: &Path, now: UnixTime, session: bool) -> Result<History, HistoryError> {
        let (real, mut notices) = prepare_dir(path)?;
        let mode_notice = prepare_file(path, &real)?;
        let mut conn = match connect(&real) {
            Ok(conn) => {
                notices.extend(mode_notice);
                conn
            }
            Err(Fault::Corrupt(why)) => {
                // The mode warning was about the file moved aside: the new one
                // is created 0600.
                let (conn, aside) = recover(path, &real, now, &why)?;
                if let Some(aside) = aside {
                    notices.insert(
                        0,
                        format!(
                            "history: {} was unreadable ({why}); moved to {} and started afresh",
                            path.display(),
                            aside.display()
                        ),
                    );
                }
                conn
            }
            Err(Fault::Other(e)) => return Err(e),
        };
        let notice = (!notices.is_empty()).then(|| notices.join("; "));
        schema::migrate(&mut conn)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mut history = History {
            conn,
            path: path.to_path_buf(),
            started: now,
            session: None,
            written: SortedMap::default(),
            pending_blocks: Vec::new(),
            pending_cursors: Vec::new(),
            cursors_at: now,
            notice,
            generation: next_instance() << 32,
        };
        if !session {
            return Ok(history);
        }
        match history.start_session() {
            Ok(_) | Err(HistoryError::Busy) => Ok(history),
            Err(e) => Err(e),
        }
    }

    /// The file in use.
    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// This run's session id, once its row is written.
    #[cfg(test)]
    pub(crate) fn session_id(&self) -> Option<i64> {
        self.session
    }

    /// A message for the UI from [`History::open`] (a recovered file, a
    /// file or folder open to other users), once.
    pub(crate) fn take_notice(&mut self) -> Option<String> {
        self.notice.take()
    }

    fn start_session(&mut self) -> Result<i64, HistoryError> {
        if let Some(id) = self.session {
            return Ok(id);
        }
        self.conn
            .execute("INSERT INTO sessions (started) VALUES (?1)", [self.started])?;
        let id = self.conn.last_insert_rowid();
        self.session = Some(id);
        Ok(id)
    }

    /// Writes this session's running totals, [`ROWS_PER_COMMIT`] rows a
    /// transaction. Rows equal to the previous snapshot cost nothing; the
    /// others add only their increase to the lifetime totals, so calling this
    /// every minute and at exit counts each session once. Rows come in
    /// canonical address order (`ip.to_canonical()`), so that two forms of
    /// one address are adjacent and summed; they are read one at a time,
    /// never all held. A failure (or `Busy`) part-way keeps the transactions
    /// already committed; the next snapshot writes the rest.
    pub fn snapshot(
        &mut self,
        rows: impl Iterator<Item = SessionRow>,
    ) -> Result<SnapshotOutcome, HistoryError> {
        match self.write_snapshot(rows) {
            Ok(changed) => {
                self.generation += 1; // the file moved on
                Ok(SnapshotOutcome::Written { changed })
            }
            Err(HistoryError::Busy) => {
                self.generation += 1; // earlier commits may have landed
                Ok(SnapshotOutcome::Busy)
            }
            Err(e) => Err(e),
        }
    }

    /// Moves on at every snapshot, and differs between instances: what
    /// [`History::figures`] answered before may have changed since. Readers
    /// that keep figures (the view's `RowHistory`) read them again when it
    /// moves, and only then.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// [`History::snapshot`] that waits up to `wait` for another instance's
    /// lock (SQLite's busy handler retries with short sleeps), for the last
    /// snapshot at exit; later calls wait [`BUSY_TIMEOUT`] again.
    pub(crate) fn snapshot_waiting(
        &mut self,
        rows: impl Iterator<Item = SessionRow>,
        wait: Duration,
    ) -> Result<SnapshotOutcome, HistoryError> {
        self.conn.busy_timeout(wait)?;
        let outcome = self.snapshot(rows);
        let restored = self.conn.busy_timeout(BUSY_TIMEOUT);
        let outcome = outcome?;
        restored?;
        Ok(outcome)
    }

    /// Lines history had already counted were read again and applied to
    /// rows: for each, its address, when its row was first and last seen
    /// now, and what the lines added. That is taken as committed already,
    /// so snapshots add only what comes on top of it. An address seen only
    /// in such lines is not written at all (this session adds nothing to
    /// it), unless it is on a socket ([`History::mark_live`]).
    pub(crate) fn add_recounted(
        &mut self,
        rows: impl IntoIterator<Item = (IpAddr, UnixTime, UnixTime, Recounted)>,
    ) {
        let mut new: Vec<(AddrKey, Written)> = Vec::new();
        for (ip, first_seen, last_seen, added) in rows {
            let key = addr_key(ip);
            match self.written.get_mut(&key) {
                Some(base) => base.add(added),
                None => {
                    let mut base = Written::nothing(first_seen, last_seen);
                    base.add(added);
                    new.push((key, base));
                }
            }
        }
        // An address seen in two spellings (`1.2.3.4` and `::ffff:1.2.3.4`)
        // is one entry: the counts of the second added to the first.
        sorted::sort_batch(&mut new);
        new.dedup_by(|second, first| {
            let same = second.0 == first.0;
            if same {
                first.1.add(second.1.counts());
            }
            same
        });
        self.written.set_all(new);
    }

    /// `ip` has sockets now: this session counts for it even if its lines
    /// are all recounted ones (as for an address seen only on sockets).
    pub(crate) fn mark_live(&mut self, ip: IpAddr) {
        if let Some(w) = self.written.get_mut(&addr_key(ip)) {
            w.live |= !w.counted;
        }
    }

    /// The log cursors to store with the next snapshot, taken at `now`: how
    /// far each log's lines are in the totals that snapshot writes. They go
    /// into its last transaction, after every row.
    pub(crate) fn stage_cursors(
        &mut self,
        cursors: impl Iterator<Item = (PathBuf, LogCursor)>,
        now: UnixTime,
    ) {
        self.pending_cursors.clear();
        self.pending_cursors.extend(cursors);
        self.cursors_at = now;
    }

    /// The log cursors stored by earlier runs, by path.
    pub(crate) fn log_cursors(&self) -> Result<Vec<(PathBuf, LogCursor)>, HistoryError> {
        Ok(cursor::read_all(&self.conn)?)
    }

    fn write_snapshot(
        &mut self,
        rows: impl Iterator<Item = SessionRow>,
    ) -> Result<usize, HistoryError> {
        let mut rows = by_address(rows).peekable();
        let mut changed = self.write_chunk(&mut rows)?;
        while rows.peek().is_some() {
            changed += self.write_chunk(&mut rows)?;
        }
        Ok(changed)
    }

    /// One transaction: the session row (once), pending block records and
    /// up to [`ROWS_PER_COMMIT`] rows; the last one also the log cursors.
    fn write_chunk<I: Iterator<Item = (IpAddr, SessionRow)>>(
        &mut self,
        rows: &mut std::iter::Peekable<I>,
    ) -> Result<usize, HistoryError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let session = match self.session {
            Some(id) => id,
            None => {
                tx.execute("INSERT INTO sessions (started) VALUES (?1)", [self.started])?;
                tx.last_insert_rowid()
            }
        };
        // Committed state changes only after commit succeeds.
        let mut updates: Vec<(AddrKey, Written)> = Vec::with_capacity(ROWS_PER_COMMIT);
        let mut max_seen: Option<UnixTime> = None;
        let mut new_ips = 0i64;
        {
            let mut upsert = tx.prepare_cached(UPSERT_IP)?;
            for (ip, row) in rows.by_ref().take(ROWS_PER_COMMIT) {
                let key = addr_key(ip);
                let prev = self.written.get(&key);
                let suspicious = row.suspicious || prev.is_some_and(|p| p.suspicious);
                let now = Written::of(&row, suspicious);
                if prev == Some(&now) {
                    continue;
                }
                let d = Written::delta(prev, &now);
                let uncounted = !prev.is_some_and(|p| p.counted);
                let live = prev.is_some_and(|p| p.live);
                if uncounted && prev.is_some() && !live && d.adds_nothing() {
                    continue; // only lines an earlier run counted
                }
                new_ips += i64::from(uncounted);
                let text_changed = prev.is_none_or(|p| p.text != now.text);
                let paths = text_changed.then(|| paths_text(&row.last_paths));
                upsert.execute(params![
                    ip.to_string(),
                    row.first_seen,
                    row.last_seen,
                    d.sessions,
                    d.requests,
                    d.bytes,
                    d.auth_failures,
                    d.suspicious_sessions,
                    row.country.as_deref().filter(|_| text_changed),
                    row.org.as_deref().filter(|_| text_changed),
                    paths,
                    session,
                ])?;
                max_seen = max_seen.max(Some(row.last_seen));
                updates.push((key, now));
            }
        }
        tx.execute(
            "UPDATE sessions SET ips = ips + ?2, last_seen = max(coalesce(last_seen, ?3), ?3)
             WHERE id = ?1",
            params![session, new_ips, max_seen],
        )?;
        write_blocks(&tx, &self.pending_blocks, session)?;
        let last = rows.peek().is_none();
        if last {
            cursor::write(&tx, &self.pending_cursors, self.cursors_at)?;
        }
        tx.commit()?;
        self.session = Some(session);
        self.pending_blocks.clear();
        if last {
            self.pending_cursors.clear();
        }
        let changed = updates.len();
        self.written.set_all(updates);
        Ok(changed)
    }

    /// The lifetime record of `ip` with its text (country, organisation,
    /// paths), as [`History::figures`] reads it; the tests check what a
    /// snapshot stores through it.
    #[cfg(test)]
    pub(crate) fn lookup(&self, ip: IpAddr) -> Result<Option<IpHistory>, HistoryError> {
        self.query(ip.to_canonical())
    }

    /// The lifetime figures of `ip`, including this session up to its last
    /// committed snapshot (`None`: never written): what the Hx column, the
    /// drill-down and `--json` show. One query, nothing cached here (see
    /// [`History::generation`]).
    pub(crate) fn figures(&self, ip: IpAddr) -> Result<Option<HistoryFigures>, HistoryError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT sessions, first_seen, requests, bytes, auth_failures, suspicious_sessions
             FROM ips WHERE ip = ?1",
        )?;
        let found = stmt
            .query_row([ip.to_canonical().to_string()], |r| {
                Ok(HistoryFigures {
                    sessions: count(r.get(0)?),
                    first_seen: r.get(1)?,
                    requests: count(r.get(2)?),
                    bytes: count(r.get(3)?),
                    auth_failures: count(r.get(4)?),
                    suspicious_sessions: count(r.get(5)?),
                })
            })
            .optional()?;
        Ok(found)
    }

    #[cfg(test)]
    fn query(&self, ip: IpAddr) -> Result<Option<IpHistory>, HistoryError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT sessions, first_seen, last_seen, requests, bytes, auth_failures,
                    suspicious_sessions, country, org, last_paths
             FROM ips WHERE ip = ?1",
        )?;
        let found = stmt
            .query_row([ip.to_canonical().to_string()], |r| {
                let paths: Option<String> = r.get(9)?;
                Ok(IpHistory {
                    sessions: count(r.get(0)?),
                    first_seen: r.get(1)?,
                    last_seen: r.get(2)?,
                    requests: count(r.get(3)?),
                    bytes: count(r.get(4)?),
                    auth_failures: count(r.get(5)?),
                    suspicious_sessions: count(r.get(6)?),
                    country: r.get(7)?,
                    org: r.get(8)?,
                    last_paths: paths
                        .map(|p| {
                            p.split('\n')
                                .filter(|s| !s.is_empty())
                                .map(String::from)
                                .collect()
                        })
                        .unwrap_or_default(),
                })
            })
            .optional()?;
        Ok(found)
    }

    /// Logs a block: one row per command run (argv joined by spaces, its
    /// result). When the file is busy the record is kept and written with
    /// the next snapshot, so this never fails with `Busy`.
    pub(crate) fn record_block(&mut self, record: &BlockRecord) -> Result<(), HistoryError> {
        let rows = BlockRow::of(record);
        let Some(session) = self.session else {
            self.pending_blocks.extend(rows);
            return Ok(());
        };
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            write_blocks(&tx, &rows, session)?;
            tx.commit()
        })();
        match result.map_err(HistoryError::from) {
            Ok(()) => Ok(()),
            Err(HistoryError::Busy) => {
                self.pending_blocks.extend(rows);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The block log for `ip`, oldest first: (time, command, result, ok).
    #[cfg(test)]
    pub(crate) fn blocks_for(&self, ip: IpAddr) -> Result<Vec<BlockLogEntry>, HistoryError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT time, target, command, result, ok FROM blocks WHERE ip = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([ip.to_canonical().to_string()], |r| {
            Ok(BlockLogEntry {
                time: r.get(0)?,
                target: r.get(1)?,
                command: r.get(2)?,
                result: r.get(3)?,
                ok: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// One logged block command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg(test)]
pub(crate) struct BlockLogEntry {
    pub(crate) time: UnixTime,
    pub(crate) target: String,
    pub(crate) command: String,
    pub(crate) result: String,
    pub(crate) ok: bool,
}

/// Deltas are added to the stored totals; first/last seen widen; text
/// columns are replaced only when given (NULL keeps the old value).
const UPSERT_IP: &str = "
INSERT INTO ips (ip, first_seen, last_seen, sessions, requests, bytes, auth_failures,
                 suspicious_sessions, country, org, last_paths, last_session)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
ON CONFLICT(ip) DO UPDATE SET
    first_seen = min(first_seen, excluded.first_seen),
    last_seen = max(last_seen, excluded.last_seen),
    sessions = sessions + excluded.sessions,
    requests = requests + excluded.requests,
    bytes = bytes + excluded.bytes,
    auth_failures = auth_failures + excluded.auth_failures,
    suspicious_sessions = suspicious_sessions + excluded.suspicious_sessions,
    country = coalesce(excluded.country, country),
    org = coalesce(excluded.org, org),
    last_paths = coalesce(excluded.last_paths, last_paths),
    last_session = excluded.last_session";

/// The rows keyed by canonical address, adjacent duplicates (an IPv4
/// address and its IPv4-mapped IPv6 form, if a caller kept both) summed: two
/// rows for one key would otherwise each be diffed against the other's
/// committed state. One row at a time: collecting them all (each with its
/// paths) cost 30 MB at 50 000 rows, so the caller passes them in canonical
/// address order (which SQLite's B-tree also takes faster).
fn by_address(
    rows: impl Iterator<Item = SessionRow>,
) -> impl Iterator<Item = (IpAddr, SessionRow)> {
    let mut rows = rows.map(|r| (r.ip.to_canonical(), r)).peekable();
    std::iter::from_fn(move || {
        let (ip, mut row) = rows.next()?;
        while let Some((_, next)) = rows.next_if(|(next, _)| *next == ip) {
            merge(&mut row, next);
        }
        Some((ip, row))
    })
}

fn merge(into: &mut SessionRow, row: SessionRow) {
    into.first_seen = into.first_seen.min(row.first_seen);
    into.requests = into.requests.saturating_add(row.requests);
    into.bytes = into.bytes.saturating_add(row.bytes);
    into.auth_failures = into.auth_failures.saturating_add(row.auth_failures);
    into.suspicious |= row.suspicious;
    into.country = into.country.take().or(row.country);
    into.org = into.org.take().or(row.org);
    if row.last_seen >= into.last_seen && !row.last_paths.is_empty() {
        into.last_paths = row.last_paths;
    }
    into.last_seen = into.last_seen.max(row.last_seen);
}

/// A stored count back as unsigned (never negative as written; a hand-edited
/// file reads as 0 rather than wrapping).
fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// The last [`MAX_PATHS`] paths, each cut to [`MAX_PATH_LEN`] bytes on a
/// char boundary, newline-separated (a newline inside a path becomes a space).
fn paths_text(paths: &[String]) -> String {
    let skip = paths.len().saturating_sub(MAX_PATHS);
    let mut out = String::new();
    for p in &paths[skip..] {
        let mut end = p.len().min(MAX_PATH_LEN);
        while !p.is_char_boundary(end) {
            end -= 1;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.extend(p[..end].chars().map(|c| if c == '\n' { ' ' } else { c }));
    }
    out
}

/// One block-log row before it is written.
#[derive(Debug, Clone)]
struct BlockRow {
    time: UnixTime,
    ip: String,
    target: String,
    tool: &'static str,
    command: String,
    result: String,
    ok: bool,
}

impl BlockRow {
    fn of(record: &BlockRecord) -> Vec<BlockRow> {
        let row = |command: String, result: String, ok: bool| BlockRow {
            time: record.time,
            ip: record.ip.to_canonical().to_string(),
            target: target_text(record.target),
            tool: record.tool.program(),
            command,
            result,
            ok,
        };
        if record.commands.is_empty() {
            return vec![row(String::new(), "not run".into(), false)];
        }
        record
            .commands
            .iter()
            .map(|c| row(c.argv.join(" "), result_text(c), c.succeeded()))
            .collect()
    }
}

fn result_text(c: &CommandResult) -> String {
    if c.timed_out {
        return "timed out".into();
    }
    match &c.status {
        Err(e) => format!("not started: {e}"),
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exit {code}"),
            (None, Some(sig)) => format!("signal {sig}"),
            (None, None) => "unknown".into(),
        },
    }
}

fn write_blocks(tx: &Connection, rows: &[BlockRow], session: i64) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO blocks (time, ip, target, tool, command, result, ok, session)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for b in rows {
        stmt.execute(params![
            b.time, b.ip, b.target, b.tool, b.command, b.result, b.ok, session
        ])?;
    }
    Ok(())
}

/// Creates the folder 0700 and returns the path SQLite is to open: the
/// folder's real path (links the operator chose in it resolved here) joined
/// with the file's name, so that `SQLITE_OPEN_NOFOLLOW` refuses only a link
/// put in its place later. An existing folder's mode is tightened only when it
/// is ours by name (`nethergaze`), a real folder (not a link) and owned by us:
/// `--history-db /tmp/h.db` must not chmod /tmp, nor a planted link its
/// target. A folder every user may write in is used, with a warning.
fn prepare_dir(path: &Path) -> Result<(PathBuf, Vec<String>), HistoryError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let io_err = |what, source| HistoryError::Io {
        path: dir.to_path_buf(),
        what,
        source,
    };
    let Some(name) = path.file_name() else {
        return Err(HistoryError::Io {
            path: path.to_path_buf(),
            what: "cannot use",
            source: io::Error::from_raw_os_error(libc::EISDIR),
        });
    };
    if !dir.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
            .map_err(|e| io_err("cannot create folder", e))?;
    }
    let meta = fs::metadata(dir).map_err(|e| io_err("cannot read folder", e))?;
    if !meta.is_dir() {
        let e = io::Error::from_raw_os_error(libc::ENOTDIR);
        return Err(io_err("cannot use folder", e));
    }
    let ours = dir.file_name().is_some_and(|n| n == "nethergaze");
    if ours && meta.permissions().mode() & 0o777 != DIR_MODE {
        tighten_dir(dir).map_err(|e| io_err("cannot set mode 0700 on", e))?;
    }
    let real = fs::canonicalize(dir).map_err(|e| io_err("cannot resolve folder", e))?;
    let mut notices = Vec::new();
    if let Ok(Some(mode)) = file::world_writable(&real) {
        notices.push(format!(
            "history: folder {} is writable by every user (mode {mode:04o}): \
             another user can put files beside {} (its -wal, -journal){}; \
             keep history in a private folder",
            real.display(),
            path.display(),
            if mode & 0o1000 == 0 {
                " or replace it"
            } else {
                ""
            }
        ));
    }
    Ok((real.join(name), notices))
}

/// chmod 0700 through an fd opened without following a link, and only on a
/// folder we own.
fn tighten_dir(dir: &Path) -> io::Result<()> {
    let fd = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(dir);
    match fd {
        Ok(fd) if file::is_ours(&fd.metadata()?) => {
            fd.set_permissions(fs::Permissions::from_mode(DIR_MODE))
        }
        // A link or someone else's folder: use it as it is.
        Ok(_) => Ok(()),
        // O_NOFOLLOW on a link: ELOOP, or ENOTDIR as O_DIRECTORY is checked first.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates the file 0600 before SQLite touches it (so it is never briefly
/// world-readable under a 022 umask). An existing file must be a regular
/// file, not a link, and keeps its mode: one open to other users gets a
/// warning, never a chmod (it may be someone else's file, or /dev/null).
/// The -wal, -shm and -journal beside it must be regular files of the
/// database's owner, as SQLite makes them: one planted by another user would
/// be replayed into ours. `path` names the file in messages; `real` is opened.
fn prepare_file(path: &Path, real: &Path) -> Result<Option<String>, HistoryError> {
    let io_err = |path: &Path, what, source| HistoryError::Io {
        path: path.to_path_buf(),
        what,
        source,
    };
    let (db, created) = file::open_or_create_private(real).map_err(|e| {
        let e = if e.kind() == io::ErrorKind::InvalidInput {
            io::Error::new(e.kind(), format!("{e}; --no-history runs without history"))
        } else {
            e
        };
        io_err(path, "cannot use", e)
    })?;
    let meta = db.metadata().map_err(|e| io_err(path, "cannot read", e))?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut side = real.as_os_str().to_os_string();
        side.push(suffix);
        let side = PathBuf::from(side);
        let refuse = match fs::symlink_metadata(&side) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => Some(e),
            Ok(m) if !m.is_file() => Some(io::Error::new(
                io::ErrorKind::InvalidInput,
                file::not_regular(&m),
            )),
            Ok(m) if m.uid() != meta.uid() => Some(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "owned by uid {}, not by the database's owner (uid {}); remove it",
                    m.uid(),
                    meta.uid()
                ),
            )),
            Ok(_) => None,
        };
        if let Some(e) = refuse {
            return Err(io_err(&side, "cannot use", e));
        }
    }
    let mode = meta.permissions().mode() & 0o777;
    Ok((!created && mode & 0o077 != 0).then(|| {
        format!(
            "history: {} is open to other users (mode {mode:04o}), left as it is; \
             chmod 600 it to keep it private",
            path.display()
        )
    }))
}

/// Why a connection could not be made ready.
enum Fault {
    Corrupt(String),
    Other(HistoryError),
}

impl Fault {
    fn into_error(self) -> HistoryError {
        match self {
            Fault::Corrupt(why) => HistoryError::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
                Some(why),
            )),
            Fault::Other(e) => e,
        }
    }
}

impl From<rusqlite::Error> for Fault {
    fn from(e: rusqlite::Error) -> Self {
        if is_corrupt(&e) {
            Fault::Corrupt(e.to_string())
        } else {
            Fault::Other(e.into())
        }
    }
}

/// Opens the file, checks it is a sound database and switches it to WAL.
fn connect(path: &Path) -> Result<Connection, Fault> {
    // NOFOLLOW: `path` holds no link (see `prepare_dir`), so one now means the
    // file was swapped after our checks. SQLite itself opens its -wal, -shm
    // and -journal with O_NOFOLLOW.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_NOFOLLOW;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(OPEN_BUSY_TIMEOUT)?;
    // The first read is where a garbage file shows ("file is not a database").
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(Fault::Corrupt(check));
    }
    if is_old_history(&conn)? {
        return Err(Fault::Other(HistoryError::Io {
            path: path.to_path_buf(),
            what: "will not use",
            source: io::Error::new(
                io::ErrorKind::InvalidInput,
                "it is nethergaze 0.2.0's history (table ip_history), left untouched; \
                 name another file (--import-history carries its data over)",
            ),
        }));
    }
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        // Still usable (e.g. a filesystem without shared memory); just slower.
        conn.pragma_update(None, "journal_mode", "DELETE")?;
    }
    // WAL + NORMAL is durable across application crashes, which is what a
    // history needs; a power cut may lose the last snapshot.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Page cache in KiB (negative: a size, not pages); SQLite's default is
    // 2 000. A snapshot of 50 000 rows spills to the WAL a little sooner.
    conn.pragma_update(None, "cache_size", -SQLITE_CACHE_KIB)?;
    Ok(conn)
}

/// Whether the file is nethergaze 0.2.0's history: its table and none of
/// our schema. Written to (tables added, mode changed) it would no longer
/// be 0.2.0's as it was.
fn is_old_history(conn: &Connection) -> rusqlite::Result<bool> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version != 0 {
        return Ok(false);
    }
    conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'ip_history'",
        [],
        |r| r.get(0),
    )
}

/// Moves the corrupt file at `real` aside and opens a new one there; returns
/// where it went. Another instance starting at the same moment may have moved
/// it first: a file gone from under us is then no fault (`None`), and the new
/// file, theirs or ours, is opened.
fn recover(
    path: &Path,
    real: &Path,
    now: UnixTime,
    why: &str,
) -> Result<(Connection, Option<PathBuf>), HistoryError> {
    refuse_foreign(path, real, why)?;
    let aside = match move_aside(real, now) {
        Ok(aside) => Some(aside),
        Err(HistoryError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    prepare_file(path, real)?;
    let conn = connect(real).map_err(Fault::into_error)?;
    Ok((conn, aside))
}

/// The first 16 bytes of every SQLite 3 database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// An unreadable file is moved aside only when it is ours and is, or was meant to
/// be, a history database: it starts with SQLite's header (a damaged database), or
/// it sits in our own `nethergaze` folder. Anything else (`--history-db
/// /etc/shadow`, a copy of /etc/passwd, another user's file) is a mistyped path:
/// it is left where and as it is, and history is off with a message. As root every
/// root-owned file is "ours", so the owner alone decides nothing. One already gone
/// (moved aside by another instance) is nothing to refuse.
fn refuse_foreign(path: &Path, real: &Path, why: &str) -> Result<(), HistoryError> {
    let refuse = |reason: String| HistoryError::Io {
        path: path.to_path_buf(),
        what: "will not move aside",
        source: io::Error::new(io::ErrorKind::PermissionDenied, reason),
    };
    let meta = match fs::symlink_metadata(real) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(HistoryError::Io {
                path: path.to_path_buf(),
                what: "cannot read",
                source,
            })
        }
    };
    if !file::is_ours(&meta) {
        return Err(refuse(format!(
            "unreadable ({why}) and owned by uid {}, not by this user",
            meta.uid()
        )));
    }
    let in_our_folder = real
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|n| n == "nethergaze");
    if in_our_folder || has_sqlite_header(real) {
        return Ok(());
    }
    Err(refuse(format!(
        "not a SQLite database ({why}), and not in a nethergaze folder: \
         name a new file, or remove this one if it is an old history"
    )))
}

/// Whether the file starts as a SQLite database does (unreadable: no).
fn has_sqlite_header(path: &Path) -> bool {
    let mut head = [0u8; 16];
    file::open_read(path, file::Links::Refuse)
        .and_then(|mut f| io::Read::read_exact(&mut f, &mut head))
        .is_ok_and(|()| &head == SQLITE_HEADER)
}

/// Renames a corrupt file (and its -wal/-shm, which belong to it) to
/// `<name>.corrupt-<now>[.<n>]`.
fn move_aside(path: &Path, now: UnixTime) -> Result<PathBuf, HistoryError> {
    let mut name = path.as_os_str().to_os_string();
    name.push(format!(".corrupt-{now}"));
    let mut aside = PathBuf::from(&name);
    for n in 1..100 {
        if !aside.exists() {
            break;
        }
        aside = PathBuf::from(format!("{}.{n}", name.to_string_lossy()));
    }
    fs::rename(path, &aside).map_err(|source| HistoryError::Io {
        path: path.to_path_buf(),
        what: "cannot move aside corrupt",
        source,
    })?;
    for suffix in ["-wal", "-shm"] {
        let mut from = path.as_os_str().to_os_string();
        from.push(suffix);
        let mut to = aside.as_os_str().to_os_string();
        to.push(suffix);
        // Absent in the usual case; a leftover would be replayed into the
        // new file, so a failure to move it is an error.
        match fs::rename(&from, &to) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(HistoryError::Io {
                    path: PathBuf::from(from),
                    what: "cannot move aside",
                    source: e,
                })
            }
            _ => {}
        }
    }
    Ok(aside)
}
