use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Instant;

use super::*;
use crate::actions::block::{BlockRecord, CommandResult, Tool};

fn v4(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
}

/// Row `n` of a session after `step` of `steps` snapshots: counts grow
/// linearly to `n + 1` requests, `(n + 1) * 100` bytes, `n % 3` failures.
fn row(n: u32, step: u64, steps: u64, t0: UnixTime) -> SessionRow {
    let scale = |total: u64| total * step / steps;
    SessionRow {
        ip: v4(n),
        first_seen: t0,
        last_seen: t0 + step as i64,
        requests: scale(u64::from(n) + 1),
        bytes: scale((u64::from(n) + 1) * 100),
        auth_failures: scale(u64::from(n % 3)),
        suspicious: n.is_multiple_of(2) && step == steps,
        country: Some("NL".into()),
        org: None,
        last_paths: vec![format!("/p/{n}/{step}")],
    }
}

fn db_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path()
        .join("state")
        .join("nethergaze")
        .join("history.db")
}

/// Runs one session of `steps` snapshots over `n` rows at time `t0`.
fn run_session(path: &Path, n: u32, steps: u64, t0: UnixTime) {
    let mut h = History::open(path, t0).unwrap();
    for step in 1..=steps {
        let out = h.snapshot((0..n).map(|i| row(i, step, steps, t0))).unwrap();
        assert!(matches!(out, SnapshotOutcome::Written { .. }), "{out:?}");
    }
}

#[test]
fn two_sessions_of_five_snapshots_count_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    run_session(&path, 10, 5, 1000);
    run_session(&path, 10, 5, 2000);
    let h = History::open(&path, 3000).unwrap();
    for i in 0..10u32 {
        let got = h.lookup(v4(i)).unwrap().unwrap();
        let n = u64::from(i);
        assert_eq!(got.sessions, 2, "ip {i}");
        assert_eq!(got.requests, 2 * (n + 1));
        assert_eq!(got.bytes, 2 * (n + 1) * 100);
        assert_eq!(got.auth_failures, 2 * (n % 3));
        assert_eq!(got.suspicious_sessions, if i % 2 == 0 { 2 } else { 0 });
        assert_eq!(got.first_seen, 1000);
        assert_eq!(got.last_seen, 2005);
        assert_eq!(got.country.as_deref(), Some("NL"));
        assert_eq!(got.last_paths, vec![format!("/p/{i}/5")]);
    }
    assert_eq!(h.lookup(v4(99)).unwrap(), None);
    let sessions: i64 = h
        .conn
        .query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sessions, 3);
}

#[test]
fn lookup_includes_the_current_session() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    run_session(&path, 3, 2, 1000);
    let mut h = History::open(&path, 2000).unwrap();
    h.snapshot((0..3).map(|i| row(i, 1, 2, 2000))).unwrap();
    // Row 2 after one of two steps: 3 * 1 / 2 = 1 request, plus 3 before.
    let got = h.lookup(v4(2)).unwrap().unwrap();
    assert_eq!((got.sessions, got.requests), (2, 4));
    // An unchanged snapshot writes nothing and changes nothing.
    let out = h.snapshot((0..3).map(|i| row(i, 1, 2, 2000))).unwrap();
    assert_eq!(out, SnapshotOutcome::Written { changed: 0 });
    assert_eq!(h.lookup(v4(2)).unwrap().unwrap().requests, 4);
}

#[test]
fn a_recreated_row_adds_its_new_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(&db_in(&dir), 1000).unwrap();
    let mut r = row(0, 1, 1, 1000);
    r.requests = 10;
    h.snapshot(std::iter::once(r.clone())).unwrap();
    // Expired and seen again later: counters restart from zero.
    r.first_seen = 1500;
    r.requests = 3;
    h.snapshot(std::iter::once(r.clone())).unwrap();
    r.requests = 4;
    h.snapshot(std::iter::once(r)).unwrap();
    let got = h.lookup(v4(0)).unwrap().unwrap();
    assert_eq!((got.sessions, got.requests, got.first_seen), (1, 14, 1000));
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn new_files_are_0600_in_0700_and_an_existing_file_keeps_its_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let mut h = History::open(&path, 1).unwrap();
    assert_eq!(h.take_notice(), None);
    drop(h);
    let folder = path.parent().unwrap();
    assert_eq!(mode(folder), 0o700);
    assert_eq!(mode(&path), 0o600);
    fs::set_permissions(folder, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let mut h = History::open(&path, 2).unwrap();
    assert_eq!(mode(folder), 0o700, "our own folder is tightened");
    assert_eq!(
        mode(&path),
        0o644,
        "a file we did not create is not chmod'ed"
    );
    let notice = h.take_notice().unwrap();
    assert!(
        notice.contains("open to other users (mode 0644)"),
        "{notice}"
    );
}

/// /dev/null's device, made in a temporary folder: the real one is not risked.
fn mknod_null(path: &Path) -> bool {
    crate::sys::file::mknod_null(path).is_ok()
}

#[test]
fn a_device_is_refused_and_keeps_its_mode() {
    let dir = tempfile::tempdir().unwrap();
    let null = dir.path().join("null");
    if !mknod_null(&null) {
        eprintln!("SKIP: mknod needs root");
        return;
    }
    fs::set_permissions(&null, fs::Permissions::from_mode(0o666)).unwrap();
    let err = History::open(&null, 1).unwrap_err().to_string();
    assert!(
        err.contains("not a regular file (a device)") && err.contains("--no-history"),
        "{err}"
    );
    assert_eq!(mode(&null), 0o666);
}

/// A link to someone else's file (here a copy of /etc/passwd, which is not a
/// database) is refused: the target keeps its mode and its name, nothing is
/// moved aside.
#[test]
fn a_link_is_refused_and_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("passwd");
    fs::copy("/etc/passwd", &target).unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).unwrap();
    let link = dir.path().join("history.db");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let err = History::open(&link, 7).unwrap_err().to_string();
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(mode(&target), 0o644);
    assert_eq!(fs::read(&target).unwrap(), fs::read("/etc/passwd").unwrap());
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "nothing moved aside or created: {names:?}");
    // A dangling link does not create its target.
    let missing = dir.path().join("missing.db");
    let dangling = dir.path().join("dangling.db");
    std::os::unix::fs::symlink(&missing, &dangling).unwrap();
    assert!(History::open(&dangling, 7).is_err());
    assert!(!missing.exists());
}

#[test]
fn planted_sidecars_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let victim = dir.path().join("victim");
    fs::write(&victim, b"keep").unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join("h.db-wal")).unwrap();
    let err = History::open(&path, 1).unwrap_err().to_string();
    assert!(
        err.contains("h.db-wal") && err.contains("symbolic link"),
        "{err}"
    );
    assert_eq!(fs::read(&victim).unwrap(), b"keep");
    fs::remove_file(dir.path().join("h.db-wal")).unwrap();
    // Another user's -journal would be rolled back into ours.
    let journal = dir.path().join("h.db-journal");
    fs::write(&journal, b"").unwrap();
    std::os::unix::fs::chown(&journal, Some(65534), None).unwrap();
    let err = History::open(&path, 1).unwrap_err().to_string();
    assert!(err.contains("owned by uid 65534"), "{err}");
}

#[test]
fn a_folder_every_user_may_write_in_gives_a_warning() {
    for folder_mode in [0o777, 0o1777] {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(folder_mode)).unwrap();
        let mut h = History::open(&dir.path().join("h.db"), 1).unwrap();
        let notice = h.take_notice().unwrap();
        assert!(
            notice.contains(&format!("writable by every user (mode {folder_mode:04o})")),
            "{notice}"
        );
        assert_eq!(mode(dir.path()), folder_mode, "not chmod'ed");
    }
}

#[test]
fn a_linked_nethergaze_folder_is_not_chmodded() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    fs::set_permissions(&elsewhere, fs::Permissions::from_mode(0o755)).unwrap();
    let link = dir.path().join("nethergaze");
    std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
    drop(History::open(&link.join("h.db"), 1).unwrap());
    assert_eq!(mode(&elsewhere), 0o755);
}

#[test]
fn a_foreign_folder_keeps_its_mode() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("h.db");
    drop(History::open(&path, 1).unwrap());
    let mode = fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755);
}

#[test]
fn garbage_file_is_moved_aside_and_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    // Deterministic noise, 8 KiB, no SQLite header.
    let mut x: u32 = 0x1234_5678;
    let noise: Vec<u8> = (0..8192)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    fs::write(&path, &noise).unwrap();
    let mut h = History::open(&path, 4242).unwrap();
    let notice = h.take_notice().unwrap();
    assert!(notice.contains("corrupt-4242"), "{notice}");
    assert_eq!(h.take_notice(), None);
    let aside = path.with_file_name("history.db.corrupt-4242");
    assert_eq!(fs::read(&aside).unwrap(), noise);
    h.snapshot((0..2).map(|i| row(i, 1, 1, 4242))).unwrap();
    assert_eq!(h.lookup(v4(1)).unwrap().unwrap().requests, 2);
}

/// A garbage file open to other users is moved aside: the notice says so,
/// and warns of no mode, as the new file is 0600.
#[test]
fn a_moved_aside_file_leaves_no_mode_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, vec![b'n'; 8192]).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let mut h = History::open(&path, 4242).unwrap();
    let notice = h.take_notice().unwrap();
    assert!(notice.contains("moved to"), "{notice}");
    assert!(!notice.contains("open to other users"), "{notice}");
    assert_eq!(mode(&path), 0o600);
}

/// Two instances starting together on a corrupt file: the one that looks
/// second finds it already moved aside (gone) and opens the new file, with
/// history on, rather than failing on the rename.
#[test]
fn a_corrupt_file_moved_aside_by_another_instance_is_no_fault() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    // What the other instance left: the garbage moved aside, no file here yet.
    fs::write(path.with_file_name("history.db.corrupt-7"), b"garbage").unwrap();
    let (conn, aside) = recover(&path, &path, 7, "file is not a database").unwrap();
    assert_eq!(aside, None, "nothing of ours was moved aside");
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    assert_eq!(mode(&path), 0o600);
    let asides = fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().contains("corrupt")
        })
        .count();
    assert_eq!(asides, 1, "no second copy");
}

/// Another user's file that is no database (a mistyped path) keeps its name.
#[test]
fn a_foreign_garbage_file_is_not_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    fs::write(&path, vec![b'n'; 8192]).unwrap();
    std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
    let err = History::open(&path, 4242).unwrap_err().to_string();
    assert!(err.contains("will not move aside"), "{err}");
    assert_eq!(fs::read(&path).unwrap(), vec![b'n'; 8192]);
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing renamed"
    );
}

#[test]
fn damaged_pages_are_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    run_session(&path, 2000, 1, 1000);
    // Keep the header, smash everything after the first page.
    let mut bytes = fs::read(&path).unwrap();
    assert!(bytes.len() > 8192, "{}", bytes.len());
    for b in &mut bytes[4096..] {
        *b = 0xA5;
    }
    fs::write(&path, &bytes).unwrap();
    let mut h = History::open(&path, 5000).unwrap();
    assert!(h.take_notice().is_some());
    assert_eq!(h.lookup(v4(1)).unwrap(), None);
}

#[test]
fn unusable_locations_are_error_values() {
    let dir = tempfile::tempdir().unwrap();
    // The folder is a regular file (root ignores chmod 0555, so this
    // stands in for a read-only location).
    let blocker = dir.path().join("nethergaze");
    fs::write(&blocker, b"x").unwrap();
    let err = History::open(&blocker.join("history.db"), 1).unwrap_err();
    assert!(matches!(err, HistoryError::Io { .. }), "{err:?}");
    assert!(err.to_string().starts_with("history: "), "{err}");
    // /proc refuses new files even to root.
    let err = History::open(Path::new("/proc/nethergaze-test/history.db"), 1).unwrap_err();
    assert!(!err.is_busy(), "{err}");
    // The database path is a directory.
    let err = History::open(dir.path(), 1).unwrap_err();
    assert!(matches!(err, HistoryError::Io { .. }), "{err:?}");
}

#[test]
fn newer_schema_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    drop(History::open(&path, 1).unwrap());
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = History::open(&path, 2).unwrap_err();
    assert!(matches!(err, HistoryError::NewerSchema(99)), "{err:?}");
}

#[test]
fn a_held_lock_makes_snapshot_busy_not_blocked() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let mut a = History::open(&path, 1).unwrap();
    let mut b = History::open(&path, 2).unwrap();
    b.snapshot((0..3).map(|i| row(i, 1, 2, 2))).unwrap();
    let tx = a
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    let started = Instant::now();
    let out = b.snapshot((0..3).map(|i| row(i, 2, 2, 2))).unwrap();
    eprintln!("busy snapshot returned after {:?}", started.elapsed());
    assert_eq!(out, SnapshotOutcome::Busy);
    // Readers are not blocked by a writer in WAL mode.
    assert_eq!(b.lookup(v4(2)).unwrap().unwrap().requests, 1);
    // A block during the lock is kept, not lost.
    b.record_block(&block_record(2)).unwrap();
    drop(tx);
    // The retry carries the whole change, counted once.
    let out = b.snapshot((0..3).map(|i| row(i, 2, 2, 2))).unwrap();
    assert_eq!(out, SnapshotOutcome::Written { changed: 3 });
    let got = b.lookup(v4(2)).unwrap().unwrap();
    assert_eq!(
        (got.sessions, got.requests, got.suspicious_sessions),
        (1, 3, 1)
    );
    assert_eq!(b.blocks_for(v4(2)).unwrap().len(), 2);
    // The other handle sees it too.
    assert_eq!(a.lookup(v4(2)).unwrap().unwrap().requests, 3);
}

fn block_record(n: u32) -> BlockRecord {
    let ok = CommandResult {
        argv: vec!["nft".into(), "add".into(), "element".into()],
        is_check: false,
        is_probe: false,
        status: Ok(ExitStatus::from_raw(0)),
        timed_out: false,
        output: Default::default(),
    };
    let failed = CommandResult {
        argv: vec!["nft".into(), "list".into()],
        is_check: false,
        is_probe: false,
        status: Ok(ExitStatus::from_raw(1 << 8)),
        timed_out: false,
        output: Default::default(),
    };
    BlockRecord {
        time: 77,
        ip: v4(n),
        target: ipnet::IpNet::from(v4(n)),
        tool: Tool::Nft,
        probe: None,
        commands: vec![ok, failed],
    }
}

#[test]
fn blocks_are_logged_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(&db_in(&dir), 1).unwrap();
    h.record_block(&block_record(5)).unwrap();
    let log = h.blocks_for(v4(5)).unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].command, "nft add element");
    assert_eq!((log[0].result.as_str(), log[0].ok), ("exit 0", true));
    assert_eq!((log[1].result.as_str(), log[1].ok), ("exit 1", false));
    assert_eq!(log[1].time, 77);
    assert_eq!(log[1].target, "10.0.0.5");
    assert!(h.blocks_for(v4(6)).unwrap().is_empty());
}

#[test]
fn v6_and_mapped_addresses_share_one_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(&db_in(&dir), 1).unwrap();
    let mapped = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped());
    let mut r = row(1, 1, 1, 1);
    r.ip = mapped;
    h.snapshot(std::iter::once(r)).unwrap();
    assert_eq!(h.lookup(v4(1)).unwrap().unwrap().requests, 2);
    let mut r = row(1, 1, 1, 1);
    r.ip = IpAddr::V6(Ipv6Addr::LOCALHOST);
    r.last_paths = vec!["/a\nb".into(), "é".repeat(200)];
    h.snapshot(std::iter::once(r)).unwrap();
    let got = h.lookup(IpAddr::V6(Ipv6Addr::LOCALHOST)).unwrap().unwrap();
    assert_eq!(got.last_paths[0], "/a b");
    assert_eq!(got.last_paths[1].len(), MAX_PATH_LEN);
}

#[test]
fn twenty_thousand_rows_in_one_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(&db_in(&dir), 1).unwrap();
    let started = Instant::now();
    let out = h.snapshot((0..20_000).map(|i| row(i, 1, 1, 1))).unwrap();
    let first = started.elapsed();
    let started = Instant::now();
    let again = h.snapshot((0..20_000).map(|i| row(i, 2, 1, 1))).unwrap();
    eprintln!(
        "20 000 rows: first snapshot {first:?}, all-changed second {:?}",
        started.elapsed()
    );
    assert_eq!(out, SnapshotOutcome::Written { changed: 20_000 });
    assert_eq!(again, SnapshotOutcome::Written { changed: 20_000 });
    assert_eq!(h.lookup(v4(19_999)).unwrap().unwrap().requests, 40_000);
    let path = h.path().to_path_buf();
    drop(h);
    let started = Instant::now();
    let h = History::open(&path, 2).unwrap();
    eprintln!(
        "reopen (quick_check) of a 20 000-row file: {:?}",
        started.elapsed()
    );
    assert_eq!(h.lookup(v4(0)).unwrap().unwrap().sessions, 1);
}

#[test]
fn a_full_disk_is_an_error_and_loses_nothing_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(&db_in(&dir), 1).unwrap();
    h.snapshot((0..10).map(|i| row(i, 1, 2, 1))).unwrap();
    // Cap the file at its current size: the next growth is SQLITE_FULL.
    let pages: i64 = h
        .conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    h.conn
        .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
        .unwrap();
    let err = h.snapshot((0..2000).map(|i| row(i, 2, 2, 1))).unwrap_err();
    assert!(!err.is_busy(), "{err:?}");
    assert!(err.to_string().contains("full"), "{err}");
    // Rolled back: the first snapshot's totals stand.
    assert_eq!(h.lookup(v4(9)).unwrap().unwrap().requests, 5);
    // Space again: the same rows write their whole increase once.
    h.conn
        .query_row("PRAGMA max_page_count = 1000000", [], |_| Ok(()))
        .unwrap();
    h.snapshot((0..2000).map(|i| row(i, 2, 2, 1))).unwrap();
    let got = h.lookup(v4(9)).unwrap().unwrap();
    assert_eq!((got.sessions, got.requests), (1, 10));
}

/// The snapshot at exit waits for another instance's lock (here a
/// transaction held for several times [`BUSY_TIMEOUT`]) where one during the
/// run would have given up, and writes the whole session with its end.
#[test]
fn the_exit_snapshot_waits_out_a_lock_that_goes() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let mut b = History::open(&path, 2).unwrap();
    let (locked, is_locked) = std::sync::mpsc::channel();
    let other = {
        let path = path.clone();
        std::thread::spawn(move || {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            locked.send(()).unwrap();
            std::thread::sleep(BUSY_TIMEOUT * 6);
            conn.execute_batch("ROLLBACK").unwrap();
        })
    };
    is_locked.recv().unwrap();
    let out = b
        .snapshot_waiting((0..3).map(|i| row(i, 1, 1, 2)), EXIT_BUSY_TIMEOUT)
        .unwrap();
    other.join().unwrap();
    assert_eq!(out, SnapshotOutcome::Written { changed: 3 });
    let end: Option<i64> = b
        .conn
        .query_row("SELECT last_seen FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(end, Some(3), "the session has its end");
    assert_eq!(b.lookup(v4(2)).unwrap().unwrap().requests, 3);
}

#[test]
fn open_while_another_instance_writes_defers_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let mut a = History::open(&path, 1).unwrap();
    let tx = a
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    let mut b = History::open(&path, 2).unwrap();
    assert_eq!(b.session_id(), None);
    assert_eq!(
        b.snapshot(std::iter::empty()).unwrap(),
        SnapshotOutcome::Busy
    );
    drop(tx);
    b.snapshot((0..2).map(|i| row(i, 1, 1, 2))).unwrap();
    let id = b.session_id().unwrap();
    assert!(id > a.session_id().unwrap());
    assert_eq!(a.lookup(v4(1)).unwrap().unwrap().sessions, 1);
}

#[test]
fn a_mapped_duplicate_in_one_snapshot_is_summed_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(&db_in(&dir), 1).unwrap();
    let mapped = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped());
    for step in 1..=5 {
        let a = row(1, step, 5, 1); // 2 requests at the end
        let mut b = row(1, step, 5, 1);
        b.ip = mapped;
        h.snapshot([a, b].into_iter()).unwrap();
    }
    let got = h.lookup(v4(1)).unwrap().unwrap();
    assert_eq!((got.sessions, got.requests, got.bytes), (1, 4, 400));
}

/// A file of ours that is no database, outside a nethergaze folder, is a
/// mistyped path (`--history-db /etc/shadow` as root): refused, not renamed,
/// not replaced, its bytes and mode as they were.
#[test]
fn our_own_non_database_file_elsewhere_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("passwd");
    let text = b"root:x:0:0:root:/root:/bin/bash\n".repeat(40);
    fs::write(&path, &text).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let err = History::open(&path, 4242).unwrap_err().to_string();
    assert!(err.contains("will not move aside"), "{err}");
    assert!(err.contains("not a SQLite database"), "{err}");
    assert_eq!(fs::read(&path).unwrap(), text);
    assert_eq!(mode(&path), 0o644);
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing renamed"
    );
}

/// A damaged database (SQLite's header, broken pages) at a path of our
/// choosing is still recovered: moved aside and started afresh.
#[test]
fn a_damaged_database_anywhere_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("custom.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (x TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL \
             SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO t SELECT hex(i) FROM n;",
        )
        .unwrap();
    }
    let mut bytes = fs::read(&path).unwrap();
    assert!(bytes.len() > 8192, "several pages");
    bytes[4096..].fill(0x5a); // every page after the first
    fs::write(&path, &bytes).unwrap();
    let mut h = History::open(&path, 4242).unwrap();
    let notice = h.take_notice().unwrap();
    assert!(notice.contains("moved to"), "{notice}");
    assert_eq!(
        fs::read(path.with_file_name("custom.db.corrupt-4242")).unwrap(),
        bytes
    );
}

/// nethergaze 0.2.0's history file (as 0.2.0 wrote it) named as ours, at any
/// path: refused before anything is written to it, so 0.2.0 still reads it.
#[test]
fn nethergaze_0_2_0_history_is_refused_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("elsewhere").join("history.db");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nethergaze-0.2.0/history.db");
    fs::copy(&fixture, &path).unwrap();
    let before = fs::read(&path).unwrap();
    let err = History::open(&path, 1).unwrap_err().to_string();
    assert!(err.contains("nethergaze 0.2.0's history"), "{err}");
    assert_eq!(fs::read(&path).unwrap(), before);
    let conn = Connection::open(&path).unwrap();
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 1, "only 0.2.0's ip_history");
}

/// One entry of the `written` map per address of the session: 52 bytes
/// (16-byte key, 36-byte record), and one key per address whatever its
/// spelling (`1.2.3.4` and `::ffff:1.2.3.4` are one address).
#[test]
fn a_written_entry_stays_small_and_keyed_canonically() {
    assert_eq!(std::mem::size_of::<(AddrKey, Written)>(), 52);
    let v4: IpAddr = "1.2.3.4".parse().unwrap();
    let mapped: IpAddr = "::ffff:1.2.3.4".parse().unwrap();
    let v6: IpAddr = "2001:db8::1".parse().unwrap();
    assert_eq!(addr_key(v4), addr_key(mapped));
    assert_ne!(addr_key(v4), addr_key(v6));
    assert_eq!(addr_key(v6), Ipv6Addr::from(addr_key(v6)).octets());
}
