use super::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn script(dir: &Path, body: &str) -> io::Result<PathBuf> {
    let path = dir.join("fake-journalctl");
    std::fs::write(&path, format!("#!/bin/sh\n{body}"))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(path)
}

/// Drive a mio loop until the child has been reaped (bounded, in case
/// the feature is broken).
fn run_until_reaped(
    journal: &mut Journal,
    poll: &mut mio::Poll,
    now: Instant,
    got: &mut Vec<String>,
) -> io::Result<()> {
    let mut events = mio::Events::with_capacity(8);
    let mut sink = |line: &[u8]| {
        got.push(String::from_utf8_lossy(line).into_owned());
        LineVerdict::Used
    };
    for _ in 0..100 {
        poll.poll(&mut events, Some(Duration::from_millis(50)))?;
        journal.on_readable(now, &mut sink);
        journal.on_tick(now, &mut sink);
        if !journal.is_running() {
            return Ok(());
        }
    }
    Err(io::Error::other("child never reaped"))
}

#[test]
fn lines_flow_and_a_dead_child_is_restarted_with_backoff() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let fake = script(
        dir.path(),
        "echo \"args: $*\"\nprintf 'second\\r\\n'\nprintf 'cut off'\nexit 3\n",
    )?;
    let mut journal = Journal::with_command(fake.as_os_str(), JOURNAL_ARGS);
    let mut poll = mio::Poll::new()?;
    poll.registry()
        .register(&mut journal, Token(3), Interest::READABLE)?;
    let t0 = Instant::now();
    journal.start(t0)?;
    let first_pid = journal.pid();
    let mut got = Vec::new();
    run_until_reaped(&mut journal, &mut poll, t0, &mut got)?;

    let args = format!("args: {}", JOURNAL_ARGS.join(" "));
    assert_eq!(got, [args.as_str(), "second\r"]);
    assert_eq!(journal.stats().lines, 2);
    let err = journal.stats().error.clone().unwrap_or_default();
    assert!(err.contains("exit status: 3"), "{err}");
    assert_eq!(journal.restart_at(), Some(t0 + Duration::from_secs(1)));

    let mut ignore = |_: &[u8]| LineVerdict::Ignored;
    journal.on_tick(t0 + Duration::from_millis(999), &mut ignore);
    assert!(!journal.is_running(), "restarted before its back-off");
    let t1 = t0 + Duration::from_secs(1);
    journal.on_tick(t1, &mut ignore);
    assert!(journal.is_running());
    assert_ne!(journal.pid(), first_pid);
    run_until_reaped(&mut journal, &mut poll, t1, &mut got)?;
    assert_eq!(got.len(), 4, "the new child's pipe was registered: {got:?}");
    assert_eq!(journal.restart_at(), Some(t1 + Duration::from_secs(2)));
    Ok(())
}

#[test]
fn child_that_closes_its_output_but_lingers_is_killed_after_grace() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let fake = script(dir.path(), "echo bye\nexec >&- sleep 600\n")?;
    let mut journal = Journal::with_command(fake.as_os_str(), &[] as &[&str]);
    let mut poll = mio::Poll::new()?;
    poll.registry()
        .register(&mut journal, Token(3), Interest::READABLE)?;
    let t0 = Instant::now();
    journal.start(t0)?;
    let mut events = mio::Events::with_capacity(8);
    let mut got = 0;
    let mut sink = |_: &[u8]| {
        got += 1;
        LineVerdict::Used
    };
    for _ in 0..100 {
        poll.poll(&mut events, Some(Duration::from_millis(50)))?;
        journal.on_readable(t0, &mut sink);
        if journal.running.as_ref().is_some_and(|r| r.stdout.is_none()) {
            break;
        }
    }
    journal.on_tick(t0 + Duration::from_secs(1), &mut sink);
    assert!(journal.is_running(), "killed before its grace period");
    journal.on_tick(t0 + EXIT_GRACE, &mut sink);
    assert!(!journal.is_running());
    let err = journal.stats().error.clone().unwrap_or_default();
    assert!(err.contains("closed its output"), "{err}");
    assert_eq!(got, 1);
    Ok(())
}

#[test]
fn backoff_doubles_to_a_minute_and_resets_after_a_long_run() {
    let mut b = Backoff::new();
    let delays: Vec<u64> = (0..8)
        .map(|_| b.after_exit(Duration::ZERO).as_secs())
        .collect();
    assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
    assert_eq!(b.after_exit(Duration::from_secs(60)), BACKOFF_MIN);
    assert_eq!(b.after_exit(Duration::from_secs(5)), Duration::from_secs(2));
}

#[test]
fn missing_program_is_an_error_with_a_retry() {
    let mut journal = Journal::with_command("/nonexistent/journalctl", JOURNAL_ARGS);
    let t0 = Instant::now();
    assert!(journal.start(t0).is_err());
    assert!(journal.stats().error.is_some());
    assert_eq!(journal.restart_at(), Some(t0 + BACKOFF_MIN));
}

#[test]
fn drop_kills_and_reaps_the_child() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let fake = script(dir.path(), "exec sleep 600\n")?;
    let mut journal = Journal::with_command(fake.as_os_str(), &[] as &[&str]);
    journal.start(Instant::now())?;
    let pid = journal
        .pid()
        .and_then(|p| i32::try_from(p).ok())
        .unwrap_or(0);
    assert!(pid > 0);
    drop(journal);
    let alive = crate::sys::process::exists(pid);
    assert!(
        !alive,
        "child {pid} still exists (not killed or not reaped)"
    );
    Ok(())
}

#[test]
fn query_args_live_default_is_journal_args() {
    let live = JournalQuery {
        directory: None,
        from_start: false,
        follow: true,
        since: None,
    };
    let want: Vec<OsString> = JOURNAL_ARGS.iter().map(OsString::from).collect();
    assert_eq!(live.args(true), want);
    assert_eq!(live.args(false), want);
}

#[test]
fn query_args_directory_from_start_and_once() {
    let args = |q: &JournalQuery, first| -> Vec<String> {
        q.args(first)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    };
    let tail = [
        "-o",
        "short-iso",
        "_COMM=sshd",
        "_COMM=sshd-session",
        "_COMM=sshd-auth",
    ];
    let rescued = JournalQuery {
        directory: Some(PathBuf::from("/mnt/var/log/journal")),
        from_start: true,
        follow: false,
        since: None,
    };
    let head = ["--directory", "/mnt/var/log/journal", "-a"];
    assert_eq!(args(&rescued, true), [&head[..], &tail[..]].concat());
    // --once without --from-start: nothing before now, as for a file.
    let now_only = JournalQuery {
        from_start: false,
        ..rescued.clone()
    };
    let head = ["--directory", "/mnt/var/log/journal", "-a", "-n", "0"];
    assert_eq!(args(&now_only, true), [&head[..], &tail[..]].concat());
    // Followed from the start: all entries, then new ones; a restart only new ones.
    let followed = JournalQuery {
        directory: None,
        from_start: true,
        follow: true,
        since: None,
    };
    assert_eq!(
        args(&followed, true),
        [&["-f", "-a", "--no-tail"][..], &tail[..]].concat()
    );
    assert_eq!(args(&followed, false), JOURNAL_ARGS);
    // --since: the first child from that time, followed; a restart only new ones.
    let since = JournalQuery {
        from_start: false,
        since: Some(1_700_000_000),
        ..followed
    };
    assert_eq!(
        args(&since, true),
        [
            &["-f", "-a", "--since", "@1700000000", "--no-tail"][..],
            &tail[..]
        ]
        .concat()
    );
    assert_eq!(args(&since, false), JOURNAL_ARGS);
}

#[test]
fn a_restart_uses_the_restart_args() -> io::Result<()> {
    let query = JournalQuery {
        directory: None,
        from_start: true,
        follow: true,
        since: None,
    };
    let mut journal = Journal::with_query(&query);
    assert_eq!(journal.args, query.args(true));
    // Whatever the program, a started child switches to the restart args.
    journal.program = OsString::from("true");
    journal.start(Instant::now())?;
    assert_eq!(journal.args, query.args(false));
    Ok(())
}

#[test]
fn read_to_end_reads_a_finite_child_and_reaps_it() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let fake = script(
        dir.path(),
        "printf 'one\\ntwo\\n'\nsleep 0.1\nprintf 'three\\n'\n",
    )?;
    let mut journal = Journal::with_command(fake.as_os_str(), &[] as &[&str]);
    journal.start(Instant::now())?;
    let mut got = Vec::new();
    let mut sink = |line: &[u8]| {
        got.push(String::from_utf8_lossy(line).into_owned());
        LineVerdict::Used
    };
    journal.read_to_end(Instant::now() + Duration::from_secs(30), &mut sink);
    assert_eq!(got, ["one", "two", "three"]);
    assert!(!journal.is_running());
    assert_eq!(journal.stats().error, None);
    assert_eq!(journal.restart_at(), None, "--once does not restart");
    Ok(())
}

#[test]
fn read_to_end_reports_a_failure_and_a_child_past_its_deadline() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let fake = script(
        dir.path(),
        "echo 'No journal files were found.' >&2\nexit 1\n",
    )?;
    let mut journal = Journal::with_command(fake.as_os_str(), &[] as &[&str]);
    journal.start(Instant::now())?;
    let mut ignore = |_: &[u8]| LineVerdict::Ignored;
    journal.read_to_end(Instant::now() + Duration::from_secs(30), &mut ignore);
    let err = journal.stats().error.clone().unwrap_or_default();
    assert!(err.contains("exit status: 1"), "{err}");

    let slow = script(dir.path(), "exec sleep 30\n")?;
    let mut journal = Journal::with_command(slow.as_os_str(), &[] as &[&str]);
    journal.start(Instant::now())?;
    let started = Instant::now();
    journal.read_to_end(Instant::now() + Duration::from_millis(200), &mut ignore);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!journal.is_running(), "killed and reaped");
    let err = journal.stats().error.clone().unwrap_or_default();
    assert!(err.contains("did not finish"), "{err}");
    Ok(())
}

/// What the child says on stderr is the source's error while it runs, and part
/// of it when it ends (journalctl reports a journal it may not read there).
#[test]
fn stderr_is_the_error_while_running_and_when_it_ends() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let go = dir.path().join("go");
    let body = format!(
        "printf 'No journal files were opened\\ndue to insufficient permissions.\\n' >&2\n\
         echo line\nwhile [ ! -e {go} ]; do sleep 0.05; done\nexit 1\n",
        go = go.display()
    );
    let fake = script(dir.path(), &body)?;
    let mut journal = Journal::with_command(fake.as_os_str(), &[] as &[&str]);
    let mut poll = mio::Poll::new()?;
    poll.registry()
        .register(&mut journal, Token(3), Interest::READABLE)?;
    let t0 = Instant::now();
    journal.start(t0)?;
    let mut events = mio::Events::with_capacity(8);
    let mut ignore = |_: &[u8]| LineVerdict::Ignored;
    let said = "No journal files were opened due to insufficient permissions.";
    for _ in 0..100 {
        poll.poll(&mut events, Some(Duration::from_millis(50)))?;
        journal.on_readable(t0, &mut ignore);
        if journal.stats().error.is_some() {
            break;
        }
    }
    assert!(journal.is_running());
    let error = journal.stats().error.clone().unwrap_or_default();
    assert_eq!(error, format!("{:?}: {said}", fake.as_os_str()));
    std::fs::write(&go, "")?;
    let mut got = Vec::new();
    run_until_reaped(&mut journal, &mut poll, t0, &mut got)?;
    let error = journal.stats().error.clone().unwrap_or_default();
    assert!(error.contains("exit status: 1"), "{error}");
    assert!(
        error.contains(&format!("): {said}; restarting in 1s")),
        "{error}"
    );
    Ok(())
}

/// The real journalctl, run as `nobody` on a journal directory it may not read:
/// its complaint is the source's error, not silence. Needs root (to become
/// nobody), journalctl and setpriv; skipped without them, except under CI=true.
#[test]
fn real_journalctl_as_nobody_says_why_it_reads_nothing() -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let which = |bin: &str| {
        ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
            .iter()
            .map(|d| Path::new(d).join(bin))
            .find(|p| p.is_file())
    };
    let (Some(journalctl), Some(setpriv)) = (which("journalctl"), which("setpriv")) else {
        return skip("journalctl or setpriv not installed");
    };
    if !crate::sys::process::is_root() {
        return skip("not root (needed to run journalctl as nobody)");
    }
    // A journal directory nobody may list but whose file it may not open: the
    // system journal of a machine where this user is in neither adm nor
    // systemd-journal.
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    let file = dir.path().join("system.journal");
    std::fs::write(&file, b"not for nobody")?;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
    let mut args: Vec<OsString> = ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
        .iter()
        .map(OsString::from)
        .collect();
    args.push(journalctl.into_os_string());
    args.push("-D".into());
    args.push(dir.path().as_os_str().to_owned());
    args.extend(JOURNAL_ARGS.iter().map(OsString::from));
    let mut journal = Journal::with_command(setpriv.as_os_str(), &args);
    let mut poll = mio::Poll::new()?;
    poll.registry()
        .register(&mut journal, Token(3), Interest::READABLE)?;
    let t0 = Instant::now();
    journal.start(t0)?;
    let mut got = Vec::new();
    run_until_reaped(&mut journal, &mut poll, t0, &mut got)?;
    assert!(got.is_empty(), "{got:?}");
    let error = journal.stats().error.clone().unwrap_or_default();
    assert!(error.contains("insufficient permissions"), "{error}");
    assert!(
        error.contains("'systemd-journal'"),
        "the fix is named: {error}"
    );
    Ok(())
}

/// A peer-test skip: printed, and a failure under `CI=true` (which installs
/// every peer and runs as root), as in tests/it/harness.rs.
fn skip(why: &str) -> io::Result<()> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(!ci, "CI=true but {why}");
    eprintln!("SKIP: {why}");
    Ok(())
}

/// journalctl's own informational lines (`-q` is not given, so that its
/// "not readable" notice reaches stderr) are not counted as log lines.
#[test]
fn journalctl_markers_are_not_lines() {
    let marker = |text: &[u8]| is_marker(&Line::Complete { text, next: b"" });
    assert!(marker(b"-- No entries --"));
    assert!(marker(b"-- Boot 0f1e2d3c4b5a69788796a5b4c3d2e1f0 --"));
    assert!(!marker(b"2026-12-06T10:00:00+0000 host sshd[1]: -- x --"));
    assert!(!marker(b"    -- indented continuation --"));
}
