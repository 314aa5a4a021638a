//! The whois answer cache file: TTLs, where and how it is made, what is refused.

use super::*;

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn answers_and_failures_keep_for_their_ttls() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = WhoisCache::open(dir.path(), true).cache.unwrap();
    let (day, hour) = (Duration::from_secs(86_400), Duration::from_secs(3600));
    assert!(cache.put(ip("192.0.2.7"), 1000, true, "{\"n\":1}").unwrap());
    assert!(cache
        .put(ip("198.51.100.7"), 1000, false, "timeout")
        .unwrap());
    let get = |k, now| cache.get(ip(k), now, day, hour).unwrap();
    assert_eq!(get("192.0.2.7", 1000).unwrap().body, "{\"n\":1}");
    assert_eq!(get("192.0.2.7", 1000 + 86_399).unwrap().body, "{\"n\":1}");
    assert!(get("192.0.2.7", 1000 + 86_400).is_none(), "answer expired");
    let failed = get("198.51.100.7", 1000 + 3599).unwrap();
    assert!(!failed.ok && failed.body == "timeout");
    assert!(
        get("198.51.100.7", 1000 + 3600).is_none(),
        "failure expired"
    );
    assert!(get("203.0.113.1", 1000).is_none());
    assert!(get("192.0.2.7", 999 - 1).is_none(), "from the future");
    // An IPv4-mapped address is the same key.
    assert!(get("::ffff:192.0.2.7", 1000).is_some());
}

/// A batch of reads is one read transaction: it reads what is there, holds
/// no writer up meanwhile (another instance stores an answer), and once it
/// ends this connection reads the new answer and writes again.
#[test]
fn a_read_batch_is_one_transaction_that_ends_when_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = WhoisCache::open(dir.path(), true).cache.unwrap();
    let day = Duration::from_secs(86_400);
    assert!(cache.put(ip("192.0.2.7"), 1000, true, "{}").unwrap());
    let mut other = WhoisCache::open(dir.path(), true).cache.unwrap();
    {
        let _batch = cache.read_batch();
        assert!(!cache.conn.is_autocommit(), "inside one transaction");
        assert!(cache
            .get(ip("192.0.2.7"), 1000, day, day)
            .unwrap()
            .is_some());
        assert!(cache
            .get(ip("192.0.2.8"), 1000, day, day)
            .unwrap()
            .is_none());
        assert!(
            other.put(ip("192.0.2.8"), 1000, true, "{}").unwrap(),
            "not held up"
        );
    }
    assert!(cache.conn.is_autocommit(), "the batch ended");
    assert!(cache
        .get(ip("192.0.2.8"), 1000, day, day)
        .unwrap()
        .is_some());
    assert!(cache.put(ip("192.0.2.9"), 1000, true, "{}").unwrap());
}

#[test]
fn the_file_is_private_and_lives_in_the_cache_folder() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("a/nethergaze");
    let cache = WhoisCache::open(&folder, true).cache.unwrap();
    assert_eq!(cache.path(), folder.join(FILE_NAME));
    assert_eq!(mode(&folder), 0o700);
    assert_eq!(mode(&folder.join(FILE_NAME)), 0o600);
    drop(cache);
    // A file opened to others (by hand) is made private again.
    fs::set_permissions(folder.join(FILE_NAME), fs::Permissions::from_mode(0o644)).unwrap();
    assert!(WhoisCache::open(&folder, true).cache.is_some());
    assert_eq!(mode(&folder.join(FILE_NAME)), 0o600);
}

#[test]
fn without_create_a_missing_file_stays_missing() {
    let dir = tempfile::tempdir().unwrap();
    let opened = WhoisCache::open(&dir.path().join("c"), false);
    assert!(opened.cache.is_none() && opened.note.is_none());
    assert!(!dir.path().join("c").exists());
}

#[test]
fn links_fifos_and_shared_folders_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.db");
    fs::write(&target, "").unwrap();
    let folder = dir.path().join("c");
    fs::create_dir(&folder).unwrap();
    std::os::unix::fs::symlink(&target, folder.join(FILE_NAME)).unwrap();
    let opened = WhoisCache::open(&folder, true);
    assert!(opened.cache.is_none());
    let note = opened.note.unwrap();
    assert!(note.contains("symbolic link"), "{note}");
    fs::remove_file(folder.join(FILE_NAME)).unwrap();
    crate::sys::file::mkfifo(&folder.join(FILE_NAME), 0o600).unwrap();
    let note = WhoisCache::open(&folder, true).note.unwrap();
    assert!(note.contains("FIFO"), "{note}");
    fs::remove_file(folder.join(FILE_NAME)).unwrap();
    fs::set_permissions(&folder, fs::Permissions::from_mode(0o1777)).unwrap();
    let note = WhoisCache::open(&folder, true).note.unwrap();
    assert!(note.contains("writable by every user"), "{note}");
    assert!(!folder.join(FILE_NAME).exists());
}

#[test]
fn a_damaged_cache_starts_afresh_and_garbage_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.extend(vec![0xff; 4096]);
    fs::write(&path, &bytes).unwrap();
    let opened = WhoisCache::open(dir.path(), true);
    assert!(opened.cache.is_some(), "{:?}", opened.note);
    assert!(opened.note.unwrap().contains("started afresh"));
    // Garbage with no SQLite header, in another folder: a mistyped file, kept.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    fs::write(&path, "not a database, not ours to remove\n".repeat(200)).unwrap();
    let opened = WhoisCache::open(dir.path(), true);
    assert!(opened.cache.is_none());
    assert!(path.exists());
}

/// The scan answers only while the file holds at most `limit` entries, and
/// then with exactly the fresh ones under their canonical address.
#[test]
fn the_scan_gives_every_fresh_entry_of_a_small_cache_and_nothing_of_a_big_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = WhoisCache::open(dir.path(), true).cache.unwrap();
    let (day, hour) = (Duration::from_secs(86_400), Duration::from_secs(3600));
    cache.put(ip("192.0.2.7"), 1000, true, "{}").unwrap();
    cache
        .put(ip("::ffff:198.51.100.7"), 1000, false, "timeout")
        .unwrap();
    cache
        .put(ip("2001:db8::1"), 1000 - 86_400, true, "{}")
        .unwrap();
    let scan = |limit, now| {
        let mut found = cache
            .fresh_entries_if_at_most(limit, now, day, hour)
            .unwrap()?
            .into_iter()
            .map(|(ip, e)| (ip, e.ok))
            .collect::<Vec<_>>();
        found.sort();
        Some(found)
    };
    let both = vec![(ip("192.0.2.7"), true), (ip("198.51.100.7"), false)];
    assert_eq!(scan(3, 1000), Some(both.clone()));
    assert_eq!(scan(30, 1000), Some(both));
    assert_eq!(scan(2, 1000), None, "three entries, limit two");
    assert_eq!(scan(0, 1000), None);
    assert_eq!(scan(3, 1000 + 3600), Some(vec![(ip("192.0.2.7"), true)]));
}
