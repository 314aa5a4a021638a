//! nethergaze 0.2.0's data carried over (issue 12, item 12), with files the
//! real 0.2.0 wrote (tests/data/nethergaze-0.2.0/, made by its
//! make-fixtures.py): the first start imports them once and says so in one
//! line, `--once --json` then shows the lifetime totals and whois answers,
//! a second start imports nothing, `--import-history PATH` does it on
//! demand, and broken or hostile files are a note, never a crash, and are
//! never written to.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use rusqlite::Connection;

use super::harness::{self, num, Output, Running, Snapshot};

const RUN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
const IMPORTED: &str = "imported nethergaze 0.2.0's data";
const NOT_IMPORTED: &str = "nethergaze 0.2.0's data not imported";
/// When make-fixtures.py's 0.2.0 fetched 9.9.9.9's whois answer (2026-11-01 12:00 UTC).
const FETCHED_9999: i64 = 1_793_534_400;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nethergaze-0.2.0")
}

/// A home folder of its own, with a log of one request from each address.
struct Rig {
    dir: tempfile::TempDir,
}

impl Rig {
    fn new() -> Rig {
        let rig = Rig {
            dir: harness::tempdir(),
        };
        fs::create_dir_all(rig.home()).unwrap();
        let lines: String = ["9.9.9.9", "1.1.1.1", "149.112.112.112"]
            .iter()
            .map(|ip| {
                format!(
                    "{ip} - - [06/Dec/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 100 \"-\" \"curl/8\"\n"
                )
            })
            .collect();
        fs::write(rig.log(), lines).unwrap();
        rig
    }

    /// One more request from 9.9.9.9: the next run is a new session for it.
    fn one_more_request(&self) {
        use std::io::Write;
        let mut log = fs::OpenOptions::new()
            .append(true)
            .open(self.log())
            .unwrap();
        log.write_all(
            b"9.9.9.9 - - [06/Dec/2026:11:00:00 +0000] \"GET /more HTTP/1.1\" 200 100 \"-\" \"curl/8\"\n",
        )
        .unwrap();
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("access.log")
    }

    /// 0.2.0's folder, `~/.cache/nethergaze` (also our cache folder).
    fn old_dir(&self) -> PathBuf {
        self.home().join(".cache/nethergaze")
    }

    /// Our history, `$XDG_STATE_HOME/nethergaze/history.db` by default.
    fn our_history(&self) -> PathBuf {
        self.home().join(".local/state/nethergaze/history.db")
    }

    /// 0.2.0's two files, as it left them, into `dir`.
    fn put_old_files(&self, dir: &Path) {
        fs::create_dir_all(dir).unwrap();
        for name in ["history.db", "whois_cache.json"] {
            fs::copy(fixtures().join(name), dir.join(name)).unwrap();
        }
    }

    /// `nethergaze ARGS` with HOME here and the XDG folders at their defaults.
    fn command(&self, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Command {
        let mut cmd = harness::nethergaze();
        cmd.env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join(".config"))
            .env_remove("XDG_STATE_HOME")
            .env_remove("XDG_CACHE_HOME")
            .args(args.iter().map(|a| a.as_ref()));
        cmd
    }

    fn run(&self, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
        Running::spawn(self.command(args)).finish(RUN_TIMEOUT)
    }

    /// `--once --json` over the log from its start, no network.
    fn once(&self) -> (Snapshot, Output) {
        let root = env!("CARGO_MANIFEST_DIR");
        let proc_root = format!("{root}/tests/data/proc");
        let out = self.run(&[
            &"--once",
            &"--json",
            &"--from-start",
            &"--no-whois",
            &"--no-geoip",
            &"--no-auth-log",
            &"--proc-root",
            &proc_root,
            &"--log-path",
            &self.log(),
        ]);
        assert_no_crash(&out);
        assert!(out.status.success(), "run failed: {out:?}");
        (Snapshot::parse(&out.stdout), out)
    }
}

fn assert_no_crash(out: &Output) {
    assert!(
        !out.stderr.contains("panicked") && out.status.code().is_some(),
        "crashed: {out:?}"
    );
}

/// The stderr lines that speak of 0.2.0's data.
fn import_lines(out: &Output) -> Vec<&str> {
    out.stderr
        .lines()
        .filter(|l| l.contains("0.2.0's data"))
        .collect()
}

fn file_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// `(fetched_at, body)` of `ip` in our whois cache.
fn cached_whois(cache_dir: &Path, ip: &str) -> Option<(i64, String)> {
    let conn = Connection::open(cache_dir.join("whois.db")).unwrap();
    conn.query_row(
        "SELECT fetched_at, body FROM whois_cache WHERE key = ?1",
        [ip],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .ok()
}

#[test]
fn first_start_imports_once_and_json_shows_it() {
    let rig = Rig::new();
    rig.put_old_files(&rig.old_dir());
    let before: Vec<_> = file_bytes(&rig.old_dir());

    let (snap, out) = rig.once();
    let said = import_lines(&out);
    assert_eq!(said.len(), 1, "one line: {out:?}");
    assert!(
        said[0].starts_with(&format!("nethergaze: {IMPORTED}: ")),
        "{said:?}"
    );
    assert!(said[0].contains("2 addresses from"), "{said:?}");
    assert!(said[0].contains("2 whois answers from"), "{said:?}");

    // 0.2.0's three sessions of 9.9.9.9 (9 requests, 9 000 bytes, one
    // suspicious) plus this one.
    let h = &snap.ip("9.9.9.9")["history"];
    assert_eq!(num(h, "sessions"), 4, "{h}");
    assert_eq!(num(h, "requests"), 10, "{h}");
    assert_eq!(num(h, "bytes"), 9_100, "{h}");
    assert_eq!(num(h, "suspicious_sessions"), 1, "{h}");
    assert_eq!(h["first_seen"], "2026-10-02T12:00:00Z", "{h}");
    let h = &snap.ip("1.1.1.1")["history"];
    assert_eq!((num(h, "sessions"), num(h, "requests")), (2, 3), "{h}");

    // The answer 0.2.0 fetched "in 2100" is taken as fetched now, so it is
    // fresh: shown, cleaned of its escape sequence as our own answers are.
    let whois = &snap.ip("149.112.112.112")["whois"];
    assert_eq!(whois["network"], "QUAD9-2", "{whois}");
    assert_eq!(whois["cidr"], "149.112.112.0/24", "{whois}");
    assert_eq!(whois["abuse"], "abuse@quad9.net", "{whois}");
    let org = whois["org"].as_str().unwrap();
    assert!(
        org.starts_with("Quad9") && !org.contains('\u{1b}'),
        "{whois}"
    );
    // 9.9.9.9's keeps its age (older than the 24 h cache_ttl: not shown);
    // 1.1.1.1's failed lookup is no answer.
    assert!(snap.ip("9.9.9.9")["whois"].is_null());
    let (fetched, body) = cached_whois(&rig.old_dir(), "9.9.9.9").expect("9.9.9.9 cached");
    assert_eq!(fetched, FETCHED_9999);
    assert!(body.contains("QUAD9-AS-1"), "{body}");
    assert!(cached_whois(&rig.old_dir(), "1.1.1.1").is_none());

    // 0.2.0's files are as they were, and nothing was put beside them
    // but our own whois cache.
    let mut after = file_bytes(&rig.old_dir());
    after.retain(|(name, _)| !name.starts_with("whois.db"));
    assert_eq!(after, before, "0.2.0's files changed");

    // A second start imports nothing: the totals grow by this session only.
    rig.one_more_request();
    let (snap, out) = rig.once();
    assert!(import_lines(&out).is_empty(), "imported again: {out:?}");
    let h = &snap.ip("9.9.9.9")["history"];
    assert_eq!((num(h, "sessions"), num(h, "requests")), (5, 11), "{h}");
}

#[test]
fn import_history_on_demand_imports_once_and_exits() {
    let rig = Rig::new();
    // History already there (ours exist: no import at start).
    let (snap, _) = rig.once();
    assert_eq!(num(&snap.ip("9.9.9.9")["history"], "sessions"), 1);
    let old = rig.dir.path().join("from-the-old-box");
    rig.put_old_files(&old);

    let out = rig.run(&[&"--import-history", &old]);
    assert_no_crash(&out);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        out.stdout.is_empty(),
        "it exits without a snapshot: {out:?}"
    );
    let said = import_lines(&out);
    assert_eq!(said.len(), 1, "{out:?}");
    assert!(said[0].contains("2 addresses from") && said[0].contains("2 whois answers"));

    rig.one_more_request();
    let (snap, _) = rig.once();
    let h = &snap.ip("9.9.9.9")["history"];
    // 1 + 3 imported + this one; 1 + 9 + 1 requests.
    assert_eq!((num(h, "sessions"), num(h, "requests")), (5, 11), "{h}");
    assert_eq!(h["first_seen"], "2026-10-02T12:00:00Z", "{h}");

    // Again, by the file's own name: already imported, nothing added.
    let out = rig.run(&[&"--import-history", &old.join("history.db")]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stderr.contains("imported already"), "{out:?}");
    rig.one_more_request();
    let (snap, _) = rig.once();
    let h = &snap.ip("9.9.9.9")["history"];
    assert_eq!((num(h, "sessions"), num(h, "requests")), (6, 12), "{h}");
    assert!(rig.our_history().is_file());
}

#[test]
fn garbage_files_are_a_note_not_a_crash() {
    let rig = Rig::new();
    fs::create_dir_all(rig.old_dir()).unwrap();
    let garbage_db = b"SQLite format 3\0 and then nothing a database has".repeat(3);
    fs::write(rig.old_dir().join("history.db"), &garbage_db).unwrap();
    fs::write(
        rig.old_dir().join("whois_cache.json"),
        b"{\"9.9.9.9\": [1, 2",
    )
    .unwrap();
    let before = file_bytes(&rig.old_dir());

    // At start: a note, and the run goes on (exit 0: no log source failed).
    let (snap, out) = rig.once();
    let said = import_lines(&out);
    assert_eq!(said.len(), 1, "{out:?}");
    assert!(said[0].contains(NOT_IMPORTED), "{said:?}");
    assert!(said[0].contains("history.db") && said[0].contains("whois_cache.json"));
    assert_eq!(num(&snap.ip("9.9.9.9")["history"], "sessions"), 1);
    let mut after = file_bytes(&rig.old_dir());
    after.retain(|(name, _)| !name.starts_with("whois.db"));
    assert_eq!(after, before, "0.2.0's files changed");

    // On demand: the command failed, exit 2 (README, "Exit status").
    for name in ["history.db", "whois_cache.json"] {
        let out = rig.run(&[&"--import-history", &rig.old_dir().join(name)]);
        assert_no_crash(&out);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(out.stderr.contains(NOT_IMPORTED), "{out:?}");
    }
    let out = rig.run(&[&"--import-history", &rig.dir.path().join("nowhere")]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// A 0.2.0-shaped database with hostile rows: absurd counts and future
/// times are clamped, rows without an address or a time are skipped, text
/// is cleaned.
#[test]
fn hostile_history_is_clamped_and_cleaned() {
    let rig = Rig::new();
    let (_, _) = rig.once();
    let old = rig.dir.path().join("hostile.db");
    let conn = Connection::open(&old).unwrap();
    conn.execute_batch(
        "CREATE TABLE ip_history (ip TEXT PRIMARY KEY, first_seen_ever TEXT NOT NULL,
            last_seen_ever TEXT NOT NULL, total_historical_requests INTEGER DEFAULT 0,
            total_historical_bytes INTEGER DEFAULT 0, sessions_seen INTEGER DEFAULT 0,
            suspicious_count INTEGER DEFAULT 0, country_code TEXT DEFAULT '?',
            as_org TEXT DEFAULT '?', last_paths TEXT DEFAULT '');
         INSERT INTO ip_history VALUES ('9.9.9.9', '2026-01-01T00:00:00+02:00',
            '2026-02-01T00:00:00', 9223372036854775807, -5, 'many', 1e300,
            'X' || char(27), 'Evil' || char(27) || ']0;pwned' || char(7) || 'Org',
            '/a,/b' || char(27) || '[2J');
         INSERT INTO ip_history VALUES ('not an address', '2026-01-01T00:00:00', '2026-01-01T00:00:00', 1, 1, 1, 0, '?', '?', '');
         INSERT INTO ip_history VALUES ('1.1.1.1', 'yesterday', 'never', 1, 1, 1, 0, '?', '?', '');
         INSERT INTO ip_history VALUES ('4.2.2.2', '2999-01-01T00:00:00', '2999-01-01T00:00:00', 1, 1, 1, 0, '?', '?', '');",
    )
    .unwrap();
    drop(conn);

    let out = rig.run(&[&"--import-history", &old]);
    assert_no_crash(&out);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        out.stderr.contains("2 addresses from") && out.stderr.contains("2 entries skipped"),
        "{out:?}"
    );
    let ours = Connection::open(rig.our_history()).unwrap();
    let (requests, bytes, sessions, suspicious, org): (i64, i64, i64, i64, Option<String>) = ours
        .query_row(
            "SELECT requests, bytes, sessions, suspicious_sessions, org FROM ips WHERE ip = '9.9.9.9'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    // Our first run's request, plus 2^48 at most.
    assert_eq!(requests, 1 + (1 << 48));
    assert_eq!(bytes, 100);
    // 1 + at least one session for an address 0.2.0 saw.
    assert_eq!(sessions, 2);
    assert_eq!(suspicious, 1 << 48);
    // We had none (GeoIP off): 0.2.0's, without its control characters.
    assert_eq!(org.as_deref(), Some("Evil]0;pwnedOrg"));
    // Seen "in 2999": taken as seen at the import (an address the first run
    // did not see: the /proc fixture holds 8.8.4.4).
    let (first, last): (i64, i64) = ours
        .query_row(
            "SELECT first_seen, last_seen FROM ips WHERE ip = '4.2.2.2'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_eq!(first, last);
    assert!(last <= now && last > now - 3600, "{last}");
}

/// Our history pointed at 0.2.0's file: not used, and not touched.
#[test]
fn our_history_at_the_old_path_is_refused_and_left_alone() {
    let rig = Rig::new();
    rig.put_old_files(&rig.old_dir());
    let before = fs::read(rig.old_dir().join("history.db")).unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let out = rig.run(&[
        &"--once",
        &"--json",
        &"--no-whois",
        &"--no-geoip",
        &"--no-auth-log",
        &"--proc-root",
        &format!("{root}/tests/data/proc"),
        &"--log-path",
        &rig.log(),
        &"--history-db",
        &rig.old_dir().join("history.db"),
    ]);
    assert_no_crash(&out);
    let snap = Snapshot::parse(&out.stdout);
    let source = snap.source(&rig.old_dir().join("history.db"));
    let error = source["error"].as_str().unwrap_or_default();
    assert!(error.contains("0.2.0's history"), "{source}");
    assert_eq!(fs::read(rig.old_dir().join("history.db")).unwrap(), before);

    // Named for --import-history as well as for us: refused too.
    let out = rig.run(&[
        &"--import-history",
        &rig.old_dir().join("history.db"),
        &"--history-db",
        &rig.old_dir().join("history.db"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(fs::read(rig.old_dir().join("history.db")).unwrap(), before);
}
