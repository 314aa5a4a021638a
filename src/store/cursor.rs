//! Log cursors: per log path, how far history has counted that file, so a
//! later run neither counts its lines again (`--from-start`) nor skips them
//! (`--resume` starts there). As fail2ban keeps them: device, inode, the
//! offset (always at a line boundary) and a fingerprint of the file's first
//! line, which tells a file truncated in place (copytruncate) or replaced
//! from the one that was read.
//!
//! A cursor is written in the same transaction as the counts of the lines
//! below it (the last one of a snapshot), so a crash leaves them agreeing.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};

use crate::parse::UnixTime;
use crate::source::LogCursor;

/// The table (schema step in `schema::migrate`; `IF NOT EXISTS` so the step
/// is harmless to run again whatever number it gets).
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log_cursors (
    -- the log's path as followed (bytes: paths need not be UTF-8)
    path BLOB PRIMARY KEY,
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    -- bytes of the file counted by history, at a line boundary
    offset INTEGER NOT NULL,
    -- FNV-1a of the file's first line (meaningless when offset is 0)
    fingerprint INTEGER NOT NULL,
    updated INTEGER NOT NULL
) WITHOUT ROWID;
";

/// A cursor no run has updated for this long is dropped at the next write:
/// its log is gone or no longer read (`--demo`'s temporary logs, a renamed
/// vhost), and the table must not grow with every path ever read.
const FORGET_AFTER_SECS: UnixTime = 90 * 24 * 3600;

/// Every stored cursor, by path.
pub(super) fn read_all(conn: &Connection) -> rusqlite::Result<Vec<(PathBuf, LogCursor)>> {
    let mut stmt =
        conn.prepare("SELECT path, dev, ino, offset, fingerprint FROM log_cursors ORDER BY path")?;
    let rows = stmt.query_map([], |r| {
        let path: Vec<u8> = r.get(0)?;
        let cursor = LogCursor {
            dev: r.get::<_, i64>(1)? as u64,
            ino: r.get::<_, i64>(2)? as u64,
            offset: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
            fingerprint: r.get::<_, i64>(4)? as u64,
        };
        Ok((PathBuf::from(OsStr::from_bytes(&path)), cursor))
    })?;
    rows.collect()
}

/// Store `cursors` (replacing what each path had), and forget those not
/// updated for [`FORGET_AFTER_SECS`].
pub(super) fn write(
    tx: &Connection,
    cursors: &[(PathBuf, LogCursor)],
    now: UnixTime,
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO log_cursors (path, dev, ino, offset, fingerprint, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(path) DO UPDATE SET dev = excluded.dev, ino = excluded.ino,
             offset = excluded.offset, fingerprint = excluded.fingerprint,
             updated = excluded.updated",
    )?;
    for (path, c) in cursors {
        stmt.execute(params![
            path_bytes(path),
            c.dev as i64,
            c.ino as i64,
            i64::try_from(c.offset).unwrap_or(i64::MAX),
            c.fingerprint as i64,
            now
        ])?;
    }
    tx.prepare_cached("DELETE FROM log_cursors WHERE updated < ?1")?
        .execute([now.saturating_sub(FORGET_AFTER_SECS)])?;
    Ok(())
}

fn path_bytes(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::super::{History, SessionRow};
    use super::*;

    fn db(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("history.db")
    }

    fn row(requests: u64) -> SessionRow {
        SessionRow {
            ip: IpAddr::from([81, 2, 69, 142]),
            first_seen: 1000,
            last_seen: 1000 + requests as i64,
            requests,
            bytes: requests * 100,
            auth_failures: 0,
            suspicious: false,
            country: None,
            org: None,
            last_paths: Vec::new(),
        }
    }

    const CURSOR: LogCursor = LogCursor {
        dev: 8,
        ino: u64::MAX - 1,
        offset: 4242,
        fingerprint: u64::MAX - 7,
    };

    #[test]
    fn cursors_are_stored_with_the_snapshot_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = History::open(&db(&dir), 1).unwrap();
        assert_eq!(h.log_cursors().unwrap(), Vec::new());
        let path = PathBuf::from(OsStr::from_bytes(b"/var/log/\xffaccess.log"));
        h.stage_cursors([(path.clone(), CURSOR)].into_iter(), 5);
        h.snapshot([row(1)].into_iter()).unwrap();
        drop(h);
        let h = History::open(&db(&dir), 2).unwrap();
        assert_eq!(h.log_cursors().unwrap(), vec![(path.clone(), CURSOR)]);
        // A later snapshot replaces the path's cursor.
        let mut h = h;
        let later = LogCursor {
            offset: 5000,
            ..CURSOR
        };
        h.stage_cursors([(path.clone(), later)].into_iter(), 6);
        h.snapshot([row(2)].into_iter()).unwrap();
        assert_eq!(h.log_cursors().unwrap(), vec![(path, later)]);
    }

    /// Seen on a socket this session: a session for the address even when
    /// its lines were all counted before (the counts still are not).
    #[test]
    fn an_address_on_a_socket_counts_a_session_with_recounted_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = History::open(&db(&dir), 1).unwrap();
        first.snapshot([row(2)].into_iter()).unwrap();
        drop(first);
        let mut second = History::open(&db(&dir), 2).unwrap();
        let recounted = super::super::Recounted {
            requests: 2,
            bytes: 200,
            auth_failures: 0,
        };
        second.add_recounted([(row(2).ip, 1000, 1002, recounted)]);
        second.mark_live(row(2).ip);
        second.snapshot([row(2)].into_iter()).unwrap();
        let got = second.lookup(row(2).ip).unwrap().unwrap();
        assert_eq!((got.requests, got.bytes, got.sessions), (2, 200, 2));
    }

    /// Recounted lines of one address in two spellings (`1.2.3.4` and
    /// `::ffff:1.2.3.4`: two rows of the table) are both taken as committed,
    /// so only what came on top of them is added to the lifetime totals.
    #[test]
    fn recounted_lines_of_one_address_in_two_spellings_are_added_together() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = History::open(&db(&dir), 1).unwrap();
        first.snapshot([row(2)].into_iter()).unwrap();
        drop(first);
        let mut second = History::open(&db(&dir), 2).unwrap();
        let one = super::super::Recounted {
            requests: 1,
            bytes: 100,
            auth_failures: 0,
        };
        let v4 = row(2).ip;
        let IpAddr::V4(octets) = v4 else {
            unreachable!()
        };
        let mapped = IpAddr::V6(octets.to_ipv6_mapped());
        second.add_recounted([(v4, 1000, 1002, one), (mapped, 1000, 1002, one)]);
        // The two recounted lines and three new ones.
        second.snapshot([row(5)].into_iter()).unwrap();
        let got = second.lookup(v4).unwrap().unwrap();
        assert_eq!((got.requests, got.bytes, got.sessions), (5, 500, 2));
    }

    #[test]
    fn cursors_not_updated_for_90_days_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = History::open(&db(&dir), 1).unwrap();
        let (old, kept) = (
            PathBuf::from("/tmp/demo/access.log"),
            PathBuf::from("/a.log"),
        );
        h.stage_cursors([(old, CURSOR), (kept.clone(), CURSOR)].into_iter(), 1000);
        h.snapshot([row(1)].into_iter()).unwrap();
        let later = 1000 + FORGET_AFTER_SECS + 1;
        h.stage_cursors([(kept.clone(), CURSOR)].into_iter(), later);
        h.snapshot([row(2)].into_iter()).unwrap();
        assert_eq!(h.log_cursors().unwrap(), vec![(kept, CURSOR)]);
    }

    #[test]
    fn a_version_1_file_gains_the_cursor_table() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = History::open(&db(&dir), 1).unwrap();
        h.snapshot([row(3)].into_iter()).unwrap();
        h.conn
            .execute_batch("DROP TABLE log_cursors; PRAGMA user_version = 1;")
            .unwrap();
        drop(h);
        let h = History::open(&db(&dir), 2).unwrap();
        let version: i64 = h
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, super::super::schema::VERSION);
        assert_eq!(h.log_cursors().unwrap(), Vec::new());
        // What version 1 held is kept.
        assert_eq!(h.lookup(row(0).ip).unwrap().unwrap().requests, 3);
    }

    /// A session that reads counted lines again adds neither their counts
    /// nor a session; lines on top of them count, with the session.
    #[test]
    fn recounted_lines_add_nothing_to_lifetime_totals() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = History::open(&db(&dir), 1).unwrap();
        first.snapshot([row(2)].into_iter()).unwrap();
        drop(first);
        let mut second = History::open(&db(&dir), 2).unwrap();
        let recounted = super::super::Recounted {
            requests: 2,
            bytes: 200,
            auth_failures: 0,
        };
        second.add_recounted([(row(2).ip, 1000, 1002, recounted)]);
        second.snapshot([row(2)].into_iter()).unwrap();
        let got = second.lookup(row(2).ip).unwrap().unwrap();
        assert_eq!((got.requests, got.bytes, got.sessions), (2, 200, 1));
        let session_ips = |h: &History| -> i64 {
            let id = h.session_id().unwrap();
            h.conn
                .query_row("SELECT ips FROM sessions WHERE id = ?1", [id], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(session_ips(&second), 0);
        second.snapshot([row(3)].into_iter()).unwrap();
        let got = second.lookup(row(2).ip).unwrap().unwrap();
        assert_eq!((got.requests, got.bytes, got.sessions), (3, 300, 2));
        assert_eq!(session_ips(&second), 1);
    }
}
