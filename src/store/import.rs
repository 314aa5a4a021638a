//! Carrying nethergaze 0.2.0's data over: its history (`history.db`,
//! SQLite, table `ip_history`) into our history file, its whois answers
//! (`whois_cache.json`) into our whois cache, each once.
//!
//! 0.2.0's files are input, never output: the database is opened read-only
//! (`mode=ro`, `SQLITE_OPEN_READ_ONLY`), the JSON read whole under a size
//! cap. They are also untrusted: every address is parsed, counts are
//! clamped, times must parse and lie between 1970 and now, text is cut and
//! cleaned as our own whois answers are, and at most [`MAX_ROWS`] rows are
//! taken. A file that can't be read is a message, never a panic. Each
//! import leaves a marker (table `imported`, keyed by the source file's
//! real path) in the file it wrote to, inside the same transaction, so the
//! same file is never counted twice.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rusqlite::types::Value;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::whois_cache::WhoisCache;
use super::{History, MAX_PATHS};
use crate::enrich::whois::clean;
use crate::net::WhoisInfo;
use crate::parse::time::parse_rfc3339;
use crate::parse::UnixTime;
use crate::sys::file;

/// 0.2.0's history file name (in its cache folder, `~/.cache/nethergaze`).
pub(crate) const HISTORY_FILE: &str = "history.db";
/// 0.2.0's whois cache file name (beside its history).
pub(crate) const WHOIS_FILE: &str = "whois_cache.json";
/// Rows (addresses) taken from one file at most; more are left out and said.
pub(crate) const MAX_ROWS: usize = 1_000_000;
/// Largest whois_cache.json read (0.2.0 rewrites the whole file per answer,
/// so a real one stays far below this).
/// Parsed whole, it takes a few times its size in memory: 16 MiB keeps
/// that within a small VPS's means and is some 80 000 answers.
const MAX_JSON: u64 = 16 << 20; // 16 MiB
/// Largest count taken from 0.2.0 (requests, bytes, sessions): 2^48, far
/// above anything real, far below where sums could overflow.
const MAX_COUNT: i64 = 1 << 48;
/// Longest text column taken (bytes), like our own stored paths.
const MAX_TEXT: usize = 256;

/// The marker table: which files were imported, when, how many rows.
const MARKER_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS imported (
    source TEXT PRIMARY KEY,
    at INTEGER NOT NULL,
    rows INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Sums and widened times, as a snapshot's upsert; the text we hold
/// already (newer than 0.2.0's) is kept, and so is the last session.
const UPSERT_OLD: &str = "
INSERT INTO ips (ip, first_seen, last_seen, sessions, requests, bytes, auth_failures,
                 suspicious_sessions, country, org, last_paths)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8, ?9, ?10)
ON CONFLICT(ip) DO UPDATE SET
    first_seen = min(first_seen, excluded.first_seen),
    last_seen = max(last_seen, excluded.last_seen),
    sessions = sessions + excluded.sessions,
    requests = requests + excluded.requests,
    bytes = bytes + excluded.bytes,
    suspicious_sessions = suspicious_sessions + excluded.suspicious_sessions,
    country = coalesce(country, excluded.country),
    org = coalesce(org, excluded.org),
    last_paths = coalesce(last_paths, excluded.last_paths)";

/// What one import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Imported {
    /// `rows` taken; `skipped` left out (unparsable, a failed lookup);
    /// `truncated`: the file had more than [`MAX_ROWS`], the rest unread.
    Done {
        rows: usize,
        skipped: usize,
        truncated: bool,
    },
    /// This file was imported before, at `at`: nothing done.
    Already { at: UnixTime },
}

/// Why a file could not be imported (the message names the file).
#[derive(Debug)]
pub(crate) struct ImportError(pub(crate) String);

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn fail(path: &Path, why: impl fmt::Display) -> ImportError {
    ImportError(format!("{}: {why}", path.display()))
}

/// The key of the marker: the file's real path (a link or `..` in the name
/// given is the same file).
fn source_key(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// When `source` was imported into `conn` (`None`: never, or no marker table yet).
fn imported_at(conn: &Connection, source: &str) -> rusqlite::Result<Option<UnixTime>> {
    let has_table: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'imported'",
        [],
        |r| r.get(0),
    )?;
    if !has_table {
        return Ok(None);
    }
    conn.query_row("SELECT at FROM imported WHERE source = ?1", [source], |r| {
        r.get(0)
    })
    .optional()
}

fn mark(conn: &Connection, source: &str, now: UnixTime, rows: usize) -> rusqlite::Result<()> {
    conn.execute_batch(MARKER_SCHEMA)?;
    conn.execute(
        "INSERT INTO imported (source, at, rows) VALUES (?1, ?2, ?3)",
        params![source, now, rows as i64],
    )?;
    Ok(())
}

/// Whether `path` holds 0.2.0's history (a SQLite file; else it is taken as
/// its whois cache).
pub(crate) fn is_sqlite(path: &Path) -> bool {
    super::has_sqlite_header(path)
}

/// One address of 0.2.0's `ip_history`, checked.
struct OldRow {
    ip: IpAddr,
    first_seen: UnixTime,
    last_seen: UnixTime,
    requests: i64,
    bytes: i64,
    sessions: i64,
    suspicious: i64,
    country: Option<String>,
    org: Option<String>,
    paths: Option<String>,
}

/// Opens 0.2.0's database read-only. Without a -wal beside it (0.2.0 not
/// running: it removes it at exit) it is read as immutable, which makes no
/// -wal or -shm beside it either; with one, as a reader (SQLite's -shm is
/// needed to read the -wal), or as immutable where that fails (a
/// read-only folder).
fn open_old(path: &Path) -> Result<Connection, ImportError> {
    let file = file::open_read(path, file::Links::Follow).map_err(|e| fail(path, e))?;
    drop(file); // only to refuse a device, FIFO or folder before SQLite opens it
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let real = std::fs::canonicalize(path).map_err(|e| fail(path, e))?;
    let uri = |extra: &str| format!("file:{}?mode=ro{extra}", uri_path(&real));
    let readable = |conn: &Connection| -> rusqlite::Result<()> {
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
    };
    let mut wal = real.as_os_str().to_os_string();
    wal.push("-wal");
    let extra = if Path::new(&wal).exists() {
        ""
    } else {
        "&immutable=1"
    };
    let conn = Connection::open_with_flags(uri(extra), flags).map_err(|e| fail(path, e))?;
    match readable(&conn) {
        Ok(()) => Ok(conn),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::CannotOpen) => {
            let conn = Connection::open_with_flags(uri("&immutable=1"), flags)
                .map_err(|e| fail(path, e))?;
            readable(&conn).map_err(|e| fail(path, e))?;
            Ok(conn)
        }
        Err(e) => Err(fail(path, e)),
    }
}

/// A path as a URI path: `%`, `?` and `#` escaped (everything else is
/// taken literally by SQLite).
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

/// A count from a column of any type: integers clamped to
/// `0..=`[`MAX_COUNT`], anything else 0.
fn count(v: &Value) -> i64 {
    match v {
        Value::Integer(n) => (*n).clamp(0, MAX_COUNT),
        Value::Real(f) if f.is_finite() => (*f).clamp(0.0, MAX_COUNT as f64) as i64,
        _ => 0,
    }
}

/// Text from a column, cut to [`MAX_TEXT`] bytes and cleaned of control
/// characters; 0.2.0's `?` (unknown) is none.
fn text(v: &Value) -> Option<String> {
    let Value::Text(s) = v else { return None };
    let mut end = s.len().min(MAX_TEXT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    clean(&s[..end]).filter(|s| s != "?")
}

/// A time column: ISO 8601 as 0.2.0 writes it (`isoformat()`), from 1970
/// on; one in the future (a clock that was wrong) is taken as `now`.
fn time(v: &Value, now: UnixTime) -> Option<UnixTime> {
    let Value::Text(s) = v else { return None };
    parse_rfc3339(s.trim().as_bytes())
        .filter(|t| *t >= 0)
        .map(|t| t.min(now))
}

/// 0.2.0's paths are comma-separated, oldest first: ours are the last
/// [`MAX_PATHS`], newline-separated, each cleaned.
fn paths(v: &Value) -> Option<String> {
    let Value::Text(s) = v else { return None };
    let all: Vec<&str> = s.split(',').filter(|p| !p.is_empty()).collect();
    let skip = all.len().saturating_sub(MAX_PATHS);
    let kept: Vec<String> = all[skip..]
        .iter()
        .filter_map(|p| text(&Value::Text((*p).to_owned())))
        .collect();
    (!kept.is_empty()).then(|| kept.join("\n"))
}

fn old_row(values: &[Value], now: UnixTime) -> Option<OldRow> {
    let Value::Text(ip) = &values[0] else {
        return None;
    };
    let ip: IpAddr = ip.trim().parse().ok()?;
    let last_seen = time(&values[2], now)?;
    let first_seen = time(&values[1], now).unwrap_or(last_seen).min(last_seen);
    Some(OldRow {
        ip: ip.to_canonical(),
        first_seen,
        last_seen,
        requests: count(&values[3]),
        bytes: count(&values[4]),
        sessions: count(&values[5]).max(1),
        suspicious: count(&values[6]),
        country: text(&values[7])
            .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
            .map(|c| c.to_ascii_uppercase()),
        org: text(&values[8]),
        paths: paths(&values[9]),
    })
}

/// Adds 0.2.0's history at `path` to `history`'s lifetime totals (an address
/// already there gets the sums, the earlier first and later last seen), in
/// one transaction with its marker.
pub(crate) fn import_history(
    history: &mut History,
    path: &Path,
    now: UnixTime,
) -> Result<Imported, ImportError> {
    let source = source_key(path);
    if let Some(at) = imported_at(&history.conn, &source).map_err(|e| fail(path, e))? {
        return Ok(Imported::Already { at });
    }
    let old = open_old(path)?;
    let mut stmt = old
        .prepare(
            "SELECT ip, first_seen_ever, last_seen_ever, total_historical_requests,
                    total_historical_bytes, sessions_seen, suspicious_count, country_code,
                    as_org, last_paths
             FROM ip_history",
        )
        .map_err(|e| fail(path, format!("not nethergaze 0.2.0's history ({e})")))?;
    let mut rows = stmt.query([]).map_err(|e| fail(path, e))?;
    // Another instance may hold the file for a snapshot: wait it out as
    // the last snapshot at exit does.
    history
        .conn
        .busy_timeout(super::EXIT_BUSY_TIMEOUT)
        .map_err(|e| fail(path, e))?;
    let result = add_rows(history, path, &source, &mut rows, now);
    history
        .conn
        .busy_timeout(super::BUSY_TIMEOUT)
        .map_err(|e| fail(path, e))?;
    result
}

/// The rows into our `ips` with the marker, in one transaction; the marker
/// is looked for again under the write lock (another instance starting at
/// the same moment may have imported the file just now).
fn add_rows(
    history: &mut History,
    path: &Path,
    source: &str,
    rows: &mut rusqlite::Rows<'_>,
    now: UnixTime,
) -> Result<Imported, ImportError> {
    let tx = history
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| fail(path, e))?;
    if let Some(at) = imported_at(&tx, source).map_err(|e| fail(path, e))? {
        return Ok(Imported::Already { at });
    }
    let (mut taken, mut skipped, mut truncated) = (0usize, 0usize, false);
    {
        let mut upsert = tx.prepare(UPSERT_OLD).map_err(|e| fail(path, e))?;
        while let Some(row) = rows.next().map_err(|e| fail(path, e))? {
            if taken >= MAX_ROWS {
                truncated = true;
                break;
            }
            let values: Vec<Value> = (0..10)
                .map(|i| row.get::<_, Value>(i).unwrap_or(Value::Null))
                .collect();
            let Some(r) = old_row(&values, now) else {
                skipped += 1;
                continue;
            };
            upsert
                .execute(params![
                    r.ip.to_string(),
                    r.first_seen,
                    r.last_seen,
                    r.sessions,
                    r.requests,
                    r.bytes,
                    r.suspicious,
                    r.country,
                    r.org,
                    r.paths,
                ])
                .map_err(|e| fail(path, e))?;
            taken += 1;
        }
    }
    mark(&tx, source, now, taken).map_err(|e| fail(path, e))?;
    tx.commit().map_err(|e| fail(path, e))?;
    history.generation += 1; // figures read before are stale
    Ok(Imported::Done {
        rows: taken,
        skipped,
        truncated,
    })
}

/// 0.2.0's answer as ours; `None` for its failed lookups (`?` as name and
/// network), which 0.2.0 did not use either.
fn whois_info(entry: &serde_json::Value) -> Option<WhoisInfo> {
    let field = |key: &str| {
        entry
            .get(key)
            .and_then(serde_json::Value::as_str)
            .and_then(|s| text(&Value::Text(s.to_owned())))
    };
    let info = WhoisInfo {
        network: field("network_name"),
        cidr: field("network_cidr"),
        org: field("description"),
        country: None,
        abuse: field("abuse_contact"),
    };
    (info.network.is_some() || info.cidr.is_some()).then_some(info)
}

/// Adds 0.2.0's whois answers at `path` to our cache, each with the time it
/// was fetched (`_ts`, clamped to now), so it ages out as ours do. An answer
/// we already hold from later is kept.
pub(crate) fn import_whois(
    cache: &mut WhoisCache,
    path: &Path,
    now: UnixTime,
) -> Result<Imported, ImportError> {
    let source = source_key(path);
    if let Some(at) = imported_at(&cache.conn, &source).map_err(|e| fail(path, e))? {
        return Ok(Imported::Already { at });
    }
    let body = file::read_text(path, file::Links::Follow, MAX_JSON).map_err(|e| fail(path, e))?;
    let data: serde_json::Value = serde_json::from_str(&body)
        .map_err(|e| fail(path, format!("not nethergaze 0.2.0's whois cache ({e})")))?;
    drop(body);
    let Some(entries) = data.as_object() else {
        return Err(fail(
            path,
            "not nethergaze 0.2.0's whois cache (not a JSON object)",
        ));
    };
    let tx = cache
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| fail(path, e))?;
    let (mut taken, mut skipped, mut truncated) = (0usize, 0usize, false);
    {
        let mut put = tx
            .prepare(
                "INSERT INTO whois_cache (key, fetched_at, ok, body) VALUES (?1, ?2, 1, ?3)
                 ON CONFLICT(key) DO UPDATE SET fetched_at = excluded.fetched_at,
                     ok = 1, body = excluded.body
                 WHERE excluded.fetched_at > whois_cache.fetched_at",
            )
            .map_err(|e| fail(path, e))?;
        for (ip, entry) in entries {
            let ip: Option<IpAddr> = ip.trim().parse().ok();
            let info = whois_info(entry);
            let fetched = entry.get("_ts").and_then(serde_json::Value::as_f64);
            if taken >= MAX_ROWS {
                truncated = true;
                break;
            }
            let (Some(ip), Some(info), Some(fetched)) = (ip, info, fetched) else {
                skipped += 1;
                continue;
            };
            if !fetched.is_finite() || fetched < 0.0 {
                skipped += 1;
                continue;
            }
            let fetched_at = (fetched as i64).min(now);
            let body = serde_json::to_string(&info).map_err(|e| fail(path, e))?;
            put.execute(params![ip.to_canonical().to_string(), fetched_at, body])
                .map_err(|e| fail(path, e))?;
            taken += 1;
        }
    }
    mark(&tx, &source, now, taken).map_err(|e| fail(path, e))?;
    tx.commit().map_err(|e| fail(path, e))?;
    Ok(Imported::Done {
        rows: taken,
        skipped,
        truncated,
    })
}

/// Where 0.2.0 kept its files: its `cache_dir` (`~/.cache/nethergaze`, or
/// the `[cache] cache_dir` of a config both read), each folder once.
pub(crate) fn old_folders(home: Option<&Path>, cache_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let default = home.map(|h| h.join(".cache").join("nethergaze"));
    for dir in [cache_dir.map(Path::to_path_buf), default]
        .into_iter()
        .flatten()
    {
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs
}

/// Whether two paths name one file (the same path, or the same inode).
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if a == b {
        return true;
    }
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
