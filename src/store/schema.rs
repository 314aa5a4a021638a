//! The history file's tables, versioned with `PRAGMA user_version`.
//!
//! `ips` holds lifetime totals per address. A session adds to them only the
//! difference between what it reports now and what it last committed (kept
//! in memory by [`super::History`]), so a session's counts land exactly once
//! however many snapshots it writes.

use rusqlite::Connection;

use super::HistoryError;

/// The schema this build writes. Bump it and add a step to [`migrate`] when
/// a table changes; a file with a higher version is left alone.
pub(crate) const VERSION: i64 = 2;

/// Version 1: sessions, lifetime per-IP totals, block log, whois cache.
const V1: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    started INTEGER NOT NULL,
    -- latest last_seen of any row the session wrote
    last_seen INTEGER,
    ips INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS ips (
    ip TEXT PRIMARY KEY,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    sessions INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    auth_failures INTEGER NOT NULL,
    suspicious_sessions INTEGER NOT NULL,
    country TEXT,
    org TEXT,
    -- newline-separated, newest last
    last_paths TEXT,
    last_session INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blocks (
    id INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    ip TEXT NOT NULL,
    target TEXT NOT NULL,
    tool TEXT NOT NULL,
    command TEXT NOT NULL,
    result TEXT NOT NULL,
    ok INTEGER NOT NULL,
    session INTEGER
);
CREATE INDEX IF NOT EXISTS blocks_ip ON blocks(ip);
CREATE TABLE IF NOT EXISTS whois_cache (
    key TEXT PRIMARY KEY,
    fetched_at INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
";

/// Brings the file up to [`VERSION`] in one immediate transaction (a second
/// instance opening at the same moment waits for the busy timeout, then sees
/// the finished schema).
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), HistoryError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > VERSION {
        return Err(HistoryError::NewerSchema(found));
    }
    if found == VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Re-read under the lock: another instance may have just migrated.
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found < 1 {
        tx.execute_batch(V1)?;
    }
    if found < 2 {
        // Version 2: log cursors (history counts each log line once).
        tx.execute_batch(super::cursor::SCHEMA)?;
    }
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()?;
    Ok(())
}
