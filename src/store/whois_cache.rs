//! The whois answer cache: `<cache dir>/whois.db` (`[cache] dir`, else
//! `$XDG_CACHE_HOME/nethergaze`), one SQLite file of its own, kept apart
//! from history: per XDG it is cache, not state, and it works with
//! `--no-history`.
//!
//! It is opened with history's care: the folder is made 0700 and must not be
//! one every user may write in, the file is made 0600 before SQLite sees it
//! (`O_NOFOLLOW`: a link, device or FIFO is refused), it and its -wal, -shm
//! and -journal must be ours. Being a cache, a damaged file is simply
//! started afresh. Every call is one short statement that waits at most
//! [`super::BUSY_TIMEOUT`] for another instance; a busy write is skipped.

use std::fs::{self, DirBuilder};
use std::io;
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use super::{connect, has_sqlite_header, is_busy, Fault, BUSY_TIMEOUT, DIR_MODE};
use crate::parse::UnixTime;
use crate::sys::file;

/// The file's name inside the cache folder.
pub(crate) const FILE_NAME: &str = "whois.db";

/// The schema this build writes (`PRAGMA user_version`); a newer file is left alone.
const VERSION: i64 = 1;

/// The same table (and spelling) history files of schema 1 carry.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS whois_cache (
    key TEXT PRIMARY KEY,
    fetched_at INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
";

/// A cached RDAP/whois answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WhoisEntry {
    /// The answer as JSON, or the failure's text.
    pub(crate) body: String,
    pub(crate) fetched_at: UnixTime,
    /// `false`: the lookup failed for good; cached so it is not hammered.
    pub(crate) ok: bool,
}

impl WhoisEntry {
    /// Whether it is still used at `now`: answers for `ttl_ok`, failures
    /// for `ttl_failed`; an entry from the future is not.
    fn is_fresh(&self, now: UnixTime, ttl_ok: Duration, ttl_failed: Duration) -> bool {
        let ttl = if self.ok { ttl_ok } else { ttl_failed };
        let age = now.saturating_sub(self.fetched_at);
        (0..i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)).contains(&age)
    }
}

/// The open cache file.
pub(crate) struct WhoisCache {
    pub(super) conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for WhoisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhoisCache")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// What [`WhoisCache::open`] found.
#[derive(Debug)]
pub(crate) struct Opened {
    /// The cache (`None`: not there and not to be created, or refused).
    pub(crate) cache: Option<WhoisCache>,
    /// Why it is not used, or what was done to it (a damaged file started afresh).
    pub(crate) note: Option<String>,
}

impl WhoisCache {
    /// Opens `<dir>/whois.db`, creating folder and file when `create` (whois
    /// on); without it only an existing file is opened (`--no-whois` reads
    /// what earlier runs fetched, and leaves no file behind).
    pub(crate) fn open(dir: &Path, create: bool) -> Opened {
        let path = dir.join(FILE_NAME);
        if !create && fs::symlink_metadata(&path).is_err() {
            return Opened {
                cache: None,
                note: None,
            };
        }
        match open_at(dir, &path) {
            Ok((cache, note)) => Opened {
                cache: Some(cache),
                note,
            },
            Err(why) => Opened {
                cache: None,
                note: Some(format!(
                    "whois cache {}: {why} (answers are not kept)",
                    path.display()
                )),
            },
        }
    }

    /// The file in use (the whois source's path).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// One read transaction for a batch of [`WhoisCache::get`]s, held until
    /// the guard drops: SQLite takes its shared lock (fcntl calls, and a WAL
    /// read mark) once for the batch instead of once per read. A batch that
    /// cannot begin (the file busy) leaves each read to run on its own.
    pub(crate) fn read_batch(&self) -> ReadBatch<'_> {
        ReadBatch {
            _transaction: self.conn.unchecked_transaction().ok(),
        }
    }

    /// The cached answer for `ip` if it is still fresh at `now`: answers
    /// for `ttl_ok`, failures for `ttl_failed`. One indexed read.
    pub(crate) fn get(
        &self,
        ip: IpAddr,
        now: UnixTime,
        ttl_ok: Duration,
        ttl_failed: Duration,
    ) -> rusqlite::Result<Option<WhoisEntry>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT body, fetched_at, ok FROM whois_cache WHERE key = ?1")?;
        let entry = stmt
            .query_row([key(ip)], |r| {
                Ok(WhoisEntry {
                    body: r.get(0)?,
                    fetched_at: r.get(1)?,
                    ok: r.get(2)?,
                })
            })
            .optional()?;
        Ok(entry.filter(|e| e.is_fresh(now, ttl_ok, ttl_failed)))
    }

    /// Every fresh entry with its address, if the file holds at most
    /// `limit` entries; `None` if it holds more. Counting stops at
    /// `limit + 1`, so a big cache costs a bounded read before the caller
    /// falls back to [`WhoisCache::get`] per address; a small one (a cold
    /// cache under a first read of a big log) costs one scan instead of a
    /// point read per new row. A key that is not an address is skipped.
    pub(crate) fn fresh_entries_if_at_most(
        &self,
        limit: usize,
        now: UnixTime,
        ttl_ok: Duration,
        ttl_failed: Duration,
    ) -> rusqlite::Result<Option<Vec<(IpAddr, WhoisEntry)>>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX - 1);
        let held: i64 = self.conn.query_row(
            "SELECT count(*) FROM (SELECT 1 FROM whois_cache LIMIT ?1)",
            [limit + 1],
            |r| r.get(0),
        )?;
        if held > limit {
            return Ok(None);
        }
        let mut stmt = self
            .conn
            .prepare("SELECT key, body, fetched_at, ok FROM whois_cache")?;
        let rows = stmt.query_map([], |r| {
            let key: String = r.get(0)?;
            let entry = WhoisEntry {
                body: r.get(1)?,
                fetched_at: r.get(2)?,
                ok: r.get(3)?,
            };
            Ok((key.parse::<IpAddr>().ok(), entry))
        })?;
        let mut fresh = Vec::new();
        for row in rows {
            if let (Some(ip), entry) = row? {
                if entry.is_fresh(now, ttl_ok, ttl_failed) {
                    fresh.push((ip, entry));
                }
            }
        }
        Ok(Some(fresh))
    }

    /// Stores an answer (or a lasting failure) for `ip`. `Ok(false)` when
    /// another instance held the file and nothing was stored.
    pub(crate) fn put(
        &mut self,
        ip: IpAddr,
        now: UnixTime,
        ok: bool,
        body: &str,
    ) -> rusqlite::Result<bool> {
        let result = self.conn.execute(
            "INSERT INTO whois_cache (key, fetched_at, ok, body) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(key) DO UPDATE SET fetched_at = excluded.fetched_at,
                 ok = excluded.ok, body = excluded.body",
            params![key(ip), now, ok, body],
        );
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_busy(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// A read transaction over the cache (see [`WhoisCache::read_batch`]); it
/// writes nothing, so ending it by rollback on drop is all it needs.
pub(crate) struct ReadBatch<'c> {
    _transaction: Option<rusqlite::Transaction<'c>>,
}

/// An address as stored: its canonical text (`::ffff:1.2.3.4` is `1.2.3.4`).
fn key(ip: IpAddr) -> String {
    ip.to_canonical().to_string()
}

/// Folder, file and connection; the note says a damaged file was replaced.
fn open_at(dir: &Path, path: &Path) -> Result<(WhoisCache, Option<String>), String> {
    let real = prepare_dir(dir)?.join(FILE_NAME);
    prepare_file(&real)?;
    let (conn, note) = match connect(&real) {
        Ok(conn) => (conn, None),
        Err(Fault::Corrupt(why)) => {
            if !has_sqlite_header(&real) {
                return Err(format!("not a SQLite database ({why}); remove it"));
            }
            remove_with_sides(&real).map_err(|e| format!("cannot remove damaged file: {e}"))?;
            prepare_file(&real)?;
            let conn = connect(&real).map_err(|_| "unreadable after starting afresh".to_owned())?;
            (
                conn,
                Some(format!(
                    "whois cache {} was damaged ({why}); started afresh",
                    path.display()
                )),
            )
        }
        Err(Fault::Other(e)) => return Err(e.to_string()),
    };
    migrate(&conn)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| e.to_string())?;
    let cache = WhoisCache {
        conn,
        path: path.to_path_buf(),
    };
    Ok((cache, note))
}

/// Creates the folder 0700 if needed and returns its real path. A folder
/// every user may write in is refused: another user could put a file (or
/// its -wal) there first, and that would decide what we show.
fn prepare_dir(dir: &Path) -> Result<PathBuf, String> {
    if !dir.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
            .map_err(|e| format!("cannot create folder: {e}"))?;
    }
    let real = fs::canonicalize(dir).map_err(|e| format!("cannot resolve folder: {e}"))?;
    if !fs::metadata(&real).map_err(|e| e.to_string())?.is_dir() {
        return Err("the cache folder is not a folder".into());
    }
    match file::world_writable(&real) {
        Ok(None) => Ok(real),
        Ok(Some(mode)) => Err(format!(
            "folder {} is writable by every user (mode {mode:04o})",
            real.display()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// The file must be a regular file (not a link) of ours, made 0600; its
/// -wal, -shm and -journal, when there, regular files of ours too.
fn prepare_file(real: &Path) -> Result<(), String> {
    let (db, _) = file::open_or_create_private(real).map_err(|e| e.to_string())?;
    let meta = db.metadata().map_err(|e| e.to_string())?;
    if !file::is_ours(&meta) {
        return Err(format!("owned by uid {}, not by this user", meta.uid()));
    }
    if meta.permissions().mode() & 0o777 != file::PRIVATE_MODE {
        // Ours, opened without following a link: safe to make private.
        db.set_permissions(fs::Permissions::from_mode(file::PRIVATE_MODE))
            .map_err(|e| format!("cannot set mode 0600: {e}"))?;
    }
    for suffix in ["-wal", "-shm", "-journal"] {
        let side = with_suffix(real, suffix);
        match fs::symlink_metadata(&side) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", side.display())),
            Ok(m) if !m.is_file() => {
                return Err(format!("{}: {}", side.display(), file::not_regular(&m)))
            }
            Ok(m) if !file::is_ours(&m) => {
                return Err(format!(
                    "{}: owned by uid {}, not by this user; remove it",
                    side.display(),
                    m.uid()
                ))
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// A damaged cache and its -wal and -shm go (a leftover -wal would be
/// replayed into the new file).
fn remove_with_sides(real: &Path) -> io::Result<()> {
    fs::remove_file(real)?;
    for suffix in ["-wal", "-shm"] {
        match fs::remove_file(with_suffix(real, suffix)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Creates the table; a file from a newer nethergaze is left alone.
fn migrate(conn: &Connection) -> Result<(), String> {
    let sql = |e: rusqlite::Error| e.to_string();
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql)?;
    if found > VERSION {
        return Err(format!(
            "schema version {found}, newer than this nethergaze ({VERSION})"
        ));
    }
    if found < VERSION {
        conn.execute_batch(SCHEMA).map_err(sql)?;
        conn.pragma_update(None, "user_version", VERSION)
            .map_err(sql)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
