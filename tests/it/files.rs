//! Paths that hold something else than the file we expect (issue 9, items 1 and 6):
//! a device, a FIFO, a symbolic link, an endless or oversized file, a folder every
//! user may write in. The real binary, real device nodes (made with mknod in a
//! temporary folder, or in a private mount namespace for /dev/null itself), real
//! FIFOs. Every run is bounded by the harness and killed if it hangs.

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use serde_json::Value as Json;

use super::harness::{self, nethergaze, Live, Running, Snapshot, RUN_TIMEOUT};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn mkfifo(path: &Path) {
    let c = CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path for the call's duration.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The summary's source of `kind` (history, sockets).
fn source(snap: &Snapshot, kind: &str) -> Json {
    snap.summary["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == kind)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} source in {}", snap.summary))
}

fn error_of(snap: &Snapshot, kind: &str) -> String {
    source(snap, kind)["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

// ---------------------------------------------------------------------------
// The history file

/// `--once --json --from-start` over the fixtures with history in `db`; exit 0.
fn once_with_history(db: &Path) -> Snapshot {
    let mut cmd = harness::on_fixtures();
    cmd.args([
        "--no-whois",
        "--no-geoip",
        "--once",
        "--from-start",
        "--history-db",
    ])
    .arg(db);
    let out = Running::spawn(cmd).finish(RUN_TIMEOUT);
    assert!(out.status.success(), "{out:?}");
    Snapshot::parse(&out.stdout)
}

/// `--history-db /dev/null`, the natural way to throw history away, is refused with a
/// message pointing at `--no-history`, and /dev/null stays 0666. Run in a private
/// mount namespace whose /dev is a tmpfs holding a mknod'ed null, so the machine's
/// own /dev/null is never at risk, even from a broken build.
#[test]
fn history_db_dev_null_is_refused_and_keeps_its_mode() {
    if harness::skip_unless(&["unshare", "mount", "mknod", "stat"]) {
        return;
    }
    let script = r#"mount -t tmpfs -o mode=0755 nethergaze-dev /dev || exit 90
mknod -m 0666 /dev/null c 1 3 || exit 91
"$@"
code=$?
echo "mode after: $(stat -c %a /dev/null)" >&2
exit $code"#;
    let mut ng = harness::on_fixtures();
    ng.args(["--no-whois", "--no-geoip", "--once", "--from-start"])
        .args(["--history-db", "/dev/null"]);
    let cmd = harness::wrapped(harness::in_private_mounts(script, "sh"), &ng);
    let out = Running::spawn(cmd).finish(RUN_TIMEOUT);
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.contains("mode after: 666"),
        "/dev/null keeps 0666: {out:?}"
    );
    let snap = Snapshot::parse(&out.stdout);
    let error = error_of(&snap, "history");
    assert!(
        error.contains("/dev/null: not a regular file (a device)")
            && error.contains("--no-history"),
        "{error}"
    );
    assert!(
        !snap.ips.is_empty(),
        "the run goes on without history: {snap:?}"
    );
}

/// A link to a file that is not ours (a copy of /etc/passwd owned by nobody) is
/// refused: the target keeps its mode, its content and its name (nothing is moved
/// aside as "corrupt"), and no file appears beside it.
#[test]
fn a_linked_history_file_is_refused_and_its_target_untouched() {
    let dir = harness::tempdir();
    let target = dir.path().join("passwd-copy");
    fs::copy("/etc/passwd", &target).unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(&target, Some(65534), Some(65534)).unwrap();
    let db = dir.path().join("history.db");
    symlink(&target, &db).unwrap();
    let before = names_in(dir.path());
    let snap = once_with_history(&db);
    let error = error_of(&snap, "history");
    assert!(error.contains("symbolic link"), "{error}");
    assert_eq!(mode(&target), 0o644);
    assert_eq!(fs::read(&target).unwrap(), fs::read("/etc/passwd").unwrap());
    assert_eq!(names_in(dir.path()), before, "nothing renamed or created");
}

/// A dangling link does not create its target.
#[test]
fn a_dangling_link_does_not_create_its_target() {
    let dir = harness::tempdir();
    let target = dir.path().join("elsewhere.db");
    let db = dir.path().join("history.db");
    symlink(&target, &db).unwrap();
    let snap = once_with_history(&db);
    assert!(
        error_of(&snap, "history").contains("symbolic link"),
        "{snap:?}"
    );
    assert!(!target.exists(), "the link's target was created");
}

/// A folder every user may write in (with or without the sticky bit) is used, with a
/// warning in the history source; the folder's mode is not changed.
#[test]
fn a_history_folder_every_user_may_write_in_is_warned_about() {
    for folder_mode in [0o777, 0o1777] {
        let dir = harness::tempdir();
        let shared = dir.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(folder_mode)).unwrap();
        let snap = once_with_history(&shared.join("history.db"));
        let error = error_of(&snap, "history");
        assert!(
            error.contains(&format!("writable by every user (mode {folder_mode:04o})")),
            "{error}"
        );
        let client = snap.ips.values().next().unwrap();
        assert_eq!(client["history"]["sessions"], 1, "history still works");
        assert_eq!(mode(&shared), folder_mode);
    }
}

/// A -wal planted as a link beside the database is refused (it would be written
/// through or replayed into ours).
#[test]
fn a_planted_wal_link_is_refused() {
    let dir = harness::tempdir();
    let victim = dir.path().join("victim");
    fs::write(&victim, "keep\n").unwrap();
    symlink(&victim, dir.path().join("history.db-wal")).unwrap();
    let snap = once_with_history(&dir.path().join("history.db"));
    let error = error_of(&snap, "history");
    assert!(
        error.contains("history.db-wal") && error.contains("symbolic link"),
        "{error}"
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep\n");
}

// ---------------------------------------------------------------------------
// The RDAP bootstrap cache (beside the whois answers' whois.db)

/// A 6 s run over the fixtures, whois through `config`, no history; exit 0.
fn whois_run(config: &Path) -> Snapshot {
    let mut cmd = harness::on_fixtures();
    cmd.args(["--for", "6s", "--from-start", "--no-geoip", "--no-history"])
        .arg("--config")
        .arg(config);
    let out = Running::spawn(cmd).finish(RUN_TIMEOUT);
    assert!(out.status.success(), "{out:?}");
    Snapshot::parse(&out.stdout)
}

/// The stored bootstrap decides which server hears about every address, so only our
/// own regular file in a private folder is used: a FIFO there (it used to hang the
/// whois worker in `open`: no answer ever came), a link to a good copy, or a copy in a
/// folder every user may write in are all ignored and IANA is asked again.
#[test]
fn the_bootstrap_cache_is_used_only_from_our_own_regular_file() {
    const CLIENT: &str = "45.33.32.156";
    let dir = harness::tempdir();
    let fake = super::whois::fake_rdap();
    let config = super::whois::config_with(dir.path(), &fake.base, true);
    let cache = dir.path().join("cache");
    let stored = cache.join("rdap-bootstrap.json");
    fs::create_dir(&cache).unwrap();
    fs::set_permissions(&cache, fs::Permissions::from_mode(0o700)).unwrap();
    mkfifo(&stored);
    let snap = whois_run(&config);
    assert_eq!(snap.ips[CLIENT]["whois"]["network"], "LINODE-US", "a FIFO");
    assert_eq!(fake.hits("/ipv4.json"), 1);
    assert!(fs::symlink_metadata(&stored).unwrap().is_file(), "replaced");

    // A link to a good, fresh copy is not followed (and its target not written).
    // Without the answers cached by the run above, so the address is looked up.
    fs::remove_file(cache.join("whois.db")).unwrap();
    let elsewhere = dir.path().join("elsewhere.json");
    fs::rename(&stored, &elsewhere).unwrap();
    symlink(&elsewhere, &stored).unwrap();
    let copy = fs::read(&elsewhere).unwrap();
    let snap = whois_run(&config);
    assert_eq!(snap.ips[CLIENT]["whois"]["network"], "LINODE-US");
    assert_eq!(fake.hits("/ipv4.json"), 2, "the linked copy was not used");
    assert_eq!(fs::read(&elsewhere).unwrap(), copy);

    // A fresh copy of ours, in a folder every user may write in: not used.
    fs::set_permissions(&cache, fs::Permissions::from_mode(0o1777)).unwrap();
    let snap = whois_run(&config);
    assert_eq!(snap.ips[CLIENT]["whois"]["network"], "LINODE-US");
    assert_eq!(
        fake.hits("/ipv4.json"),
        3,
        "the shared folder's copy was not used"
    );
}

// ---------------------------------------------------------------------------
// --proc-root tables

/// A /proc stand-in whose net/tcp6 is the fixture and whose net/tcp is made by `make`.
fn proc_root(make: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = harness::tempdir();
    let net = dir.path().join("net");
    fs::create_dir(&net).unwrap();
    fs::copy(format!("{FIXTURES}/proc/net/tcp6"), net.join("tcp6")).unwrap();
    make(&net.join("tcp"));
    dir
}

fn proc_args(root: &Path) -> Vec<String> {
    vec![
        "--log-path".into(),
        format!("{FIXTURES}/logs/combined.log"),
        "--no-auth-log".into(),
        "--proc-root".into(),
        root.display().to_string(),
    ]
}

/// net/tcp is a FIFO: before, `open` blocked for ever and SIGTERM could not end the
/// run. Now the table is an error, the loop runs (it reaches epoll_wait), SIGTERM
/// ends it with its snapshot, and net/tcp6 is still read.
#[test]
fn proc_root_fifo_is_refused_and_sigterm_works() {
    let root = proc_root(mkfifo);
    let mut args: Vec<String> = vec!["--for".into(), "300s".into()];
    args.extend(proc_args(root.path()));
    let args: Vec<&dyn AsRef<std::ffi::OsStr>> = args
        .iter()
        .map(|a| a as &dyn AsRef<std::ffi::OsStr>)
        .collect();
    let mut live = Live::start(&args);
    live.wait_for("nethergaze idle in epoll_wait", harness::in_epoll_wait);
    let snap = live.stop();
    let error = error_of(&snap, "sockets");
    assert!(
        error.contains("tcp: not a regular file (a FIFO)"),
        "{error}"
    );
}

/// `--once` variants: a link to /dev/zero (endless) and a sparse file past the 64 MiB
/// cap are errors for that table, at once, and memory stays small.
#[test]
fn proc_root_endless_or_oversized_tables_are_refused() {
    let zero = proc_root(|tcp| symlink("/dev/zero", tcp).unwrap());
    let big = proc_root(|tcp| {
        let file = fs::File::create(tcp).unwrap();
        file.set_len((64 << 20) + 1).unwrap(); // sparse: costs no disk
    });
    for (root, want) in [
        (&zero, "tcp: not a regular file (a device)"),
        (&big, "tcp: too large"),
    ] {
        let mut cmd = nethergaze();
        cmd.args([
            "--json",
            "--no-geoip",
            "--no-whois",
            "--no-history",
            "--once",
        ])
        .args(proc_args(root.path()));
        limit_memory(&mut cmd);
        let out = Running::spawn(cmd).finish(RUN_TIMEOUT);
        assert!(out.status.success(), "{out:?}");
        let snap = Snapshot::parse(&out.stdout);
        let error = error_of(&snap, "sockets");
        assert!(error.contains(want), "{want}: {error}");
    }
}

/// 512 MiB of address space: ample for a run over the fixtures, and an endless read
/// fails fast here instead of taking the machine's memory.
fn limit_memory(cmd: &mut Command) {
    const LIMIT: libc::rlim_t = 512 << 20;
    // SAFETY: the closure runs between fork and exec and only calls setrlimit, which
    // is async-signal-safe and touches no memory shared with the parent.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: LIMIT,
                rlim_max: LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

// ---------------------------------------------------------------------------
// --config

/// `--config` on a FIFO hung in `open`; on /dev/zero it read until memory ran out.
/// Both are now a clear start-up error (exit 2).
#[test]
fn config_on_a_fifo_or_dev_zero_is_a_clear_error() {
    let dir = harness::tempdir();
    let fifo = dir.path().join("config.toml");
    mkfifo(&fifo);
    let big = dir.path().join("big.toml");
    fs::write(&big, format!("# {}\n", "x".repeat(2 << 20))).unwrap();
    for (path, want) in [
        (fifo.as_path(), "not a regular file (a FIFO)"),
        (Path::new("/dev/zero"), "not a regular file (a device)"),
        (big.as_path(), "at most 1 MiB"),
    ] {
        let mut cmd = nethergaze();
        cmd.args(["--json", "--once", "--no-history", "--config"])
            .arg(path);
        limit_memory(&mut cmd);
        let out = Running::spawn(cmd).finish(RUN_TIMEOUT);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(
            out.stderr.contains(want) && out.stderr.contains(&path.display().to_string()),
            "{want}: {out:?}"
        );
    }
}
