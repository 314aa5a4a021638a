use std::fs;

use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/nethergaze-0.2.0")
        .join(name)
}

/// A folder name with the characters a SQLite URI gives meaning to.
#[test]
fn old_history_is_read_from_any_path_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("we?ird#100%");
    fs::create_dir(&odd).unwrap();
    let old = odd.join(HISTORY_FILE);
    fs::copy(fixture(HISTORY_FILE), &old).unwrap();
    let before = fs::read(&old).unwrap();

    let mut history =
        History::open_without_session(&dir.path().join("ours.db"), 2_000_000_000).unwrap();
    let done = import_history(&mut history, &old, 2_000_000_000).unwrap();
    assert_eq!(
        done,
        Imported::Done {
            rows: 2,
            skipped: 0,
            truncated: false
        }
    );
    let figures = history
        .figures("9.9.9.9".parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        (figures.sessions, figures.requests, figures.bytes),
        (3, 9, 9000)
    );
    assert_eq!(figures.suspicious_sessions, 1);
    let again = import_history(&mut history, &old, 2_000_000_001).unwrap();
    assert_eq!(again, Imported::Already { at: 2_000_000_000 });

    assert_eq!(fs::read(&old).unwrap(), before);
    // Read as immutable: no -wal or -shm made beside it.
    let names: Vec<_> = fs::read_dir(&odd)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [HISTORY_FILE]);
}

#[test]
fn hostile_values_are_clamped_or_refused() {
    let now = 2_000_000_000;
    assert_eq!(count(&Value::Integer(i64::MAX)), MAX_COUNT);
    assert_eq!(count(&Value::Integer(-1)), 0);
    assert_eq!(count(&Value::Real(f64::NAN)), 0);
    assert_eq!(count(&Value::Real(1e300)), MAX_COUNT);
    assert_eq!(count(&Value::Text("9".into())), 0);
    let t = |s: &str| time(&Value::Text(s.into()), now);
    assert_eq!(t("2026-10-02T12:00:00+00:00"), Some(1_790_942_400));
    assert_eq!(t("2026-10-02T14:00:00.123456+02:00"), Some(1_790_942_400));
    assert_eq!(t("2999-01-01T00:00:00"), Some(now));
    assert_eq!(t("1969-12-31T23:59:59Z"), None);
    assert_eq!(t("yesterday"), None);
    let long = format!("{}\u{1b}[2J", "x".repeat(1000));
    let cut = text(&Value::Text(long)).unwrap();
    assert!(cut.len() <= MAX_TEXT && !cut.contains('\u{1b}'));
    assert_eq!(text(&Value::Text("?".into())), None);
    let p = paths(&Value::Text("/1,/2,/3,/4,/5,/6\u{7}".into())).unwrap();
    assert_eq!(p, "/2\n/3\n/4\n/5\n/6");
}

#[test]
fn whois_cache_that_is_no_object_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = WhoisCache::open(&dir.path().join("cache"), true)
        .cache
        .unwrap();
    for (i, body) in ["[1, 2]", "{\"9.9.9.9\": ", "\u{0}\u{1}"]
        .iter()
        .enumerate()
    {
        let old = dir.path().join(format!("whois_cache-{i}.json"));
        fs::write(&old, body).unwrap();
        let err = import_whois(&mut cache, &old, 1).unwrap_err().to_string();
        assert!(err.contains("not nethergaze 0.2.0's whois cache"), "{err}");
    }
}

/// 0.2.0 still running: its -wal is there, and what it holds is read too.
#[test]
fn old_history_with_its_wal_is_read_with_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join(HISTORY_FILE);
    fs::copy(fixture(HISTORY_FILE), &old).unwrap();
    // As 0.2.0's open connection leaves it: a row only in the -wal.
    let writer = Connection::open(&old).unwrap();
    writer
        .execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
             INSERT INTO ip_history VALUES ('8.8.8.8', '2026-11-01T00:00:00+00:00',
                 '2026-11-01T00:00:00+00:00', 7, 70, 1, 0, '?', '?', '/w');",
        )
        .unwrap();
    assert!(dir.path().join("history.db-wal").exists());
    let mut history =
        History::open_without_session(&dir.path().join("ours.db"), 2_000_000_000).unwrap();
    let done = import_history(&mut history, &old, 2_000_000_000).unwrap();
    assert!(matches!(done, Imported::Done { rows: 3, .. }), "{done:?}");
    let figures = history
        .figures("8.8.8.8".parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(figures.requests, 7);
    drop(writer);
}
