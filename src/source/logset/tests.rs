use super::*;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::time::Duration;

type Got = Vec<(usize, String)>;

/// A sink that records lines and calls lines starting with `bad`
/// malformed.
fn recorder(got: &mut Got) -> impl FnMut(LogKind, usize, &[u8]) -> LineVerdict + '_ {
    move |_, i, line| {
        got.push((i, String::from_utf8_lossy(line).into_owned()));
        if line.starts_with(b"bad") {
            LineVerdict::Malformed
        } else {
            LineVerdict::Used
        }
    }
}

fn lines(got: &Got) -> Vec<&str> {
    got.iter().map(|(_, l)| l.as_str()).collect()
}

fn append(path: &Path, bytes: &[u8]) -> io::Result<()> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(bytes)
}

fn pattern(path: &Path) -> Vec<(String, LogKind)> {
    vec![(path.display().to_string(), LogKind::Access)]
}

fn events(set: &mut LogSet) -> Got {
    let mut got = Got::new();
    set.on_inotify(&mut recorder(&mut got));
    got
}

fn tick(set: &mut LogSet) -> Got {
    let mut got = Got::new();
    set.on_tick(&mut recorder(&mut got));
    got
}

/// A log grown by far more than one read's bound at once (a writer's
/// `truncate -s 8G`, or a flood) is read over several passes, each at
/// most `MAX_PUMP_BYTES`, with the rest flagged as backlog; nothing is
/// lost or read twice.
#[test]
fn a_huge_growth_is_read_in_bounded_passes() -> io::Result<()> {
    use super::super::tailed_file::MAX_PUMP_BYTES;
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("access.log");
    fs::write(&log, "")?;
    let mut set = LogSet::open(&pattern(&log), false)?;
    let line = format!("{}\n", "x".repeat(99));
    let count = 5 * MAX_PUMP_BYTES as usize / line.len();
    append(&log, line.repeat(count).as_bytes())?;
    let first = events(&mut set);
    assert!(first.len() * line.len() <= MAX_PUMP_BYTES as usize + line.len());
    assert!(!first.is_empty());
    assert!(set.has_backlog());
    let mut total = first.len();
    let mut passes = 1;
    while set.has_backlog() {
        total += events(&mut set).len();
        passes += 1;
        assert!(passes <= 10, "no progress");
    }
    assert_eq!(total, count);
    assert!(passes >= 5, "{passes} passes");
    assert!(events(&mut set).is_empty());
    Ok(())
}

#[test]
fn present_files_start_at_end_unless_from_start() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("access.log");
    fs::write(&log, "old1\nold2\nhalf-writ")?;
    let mut live = LogSet::open(&pattern(&log), false)?;
    let mut once = LogSet::open(&pattern(&log), true)?;
    let mut got = Got::new();
    live.read_available(&mut recorder(&mut got));
    assert!(got.is_empty());
    once.read_available(&mut recorder(&mut got));
    assert_eq!(lines(&got), ["old1", "old2"]);

    // The live set skips the line it joined half-way through.
    append(&log, b"ten\nnew\n")?;
    assert_eq!(lines(&events(&mut live)), ["new"]);
    assert_eq!(lines(&events(&mut once)), ["half-written", "new"]);
    assert_eq!(live.sources()[0].lines, 1);
    Ok(())
}

/// `--once` (no watching): the files present, by glob, are found and read
/// to their end as when watching, but no directory is watched, so a line
/// written later brings no event.
#[test]
fn a_set_that_does_not_watch_reads_what_is_there() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    fs::write(dir.path().join("a.log"), "a1\na2\n")?;
    fs::write(dir.path().join("b.log"), "b1\n")?;
    let glob = dir.path().join("*.log").display().to_string();
    let follow = Follow {
        watch: false,
        ..Follow::new(true)
    };
    let mut set = LogSet::open_with(&[(glob, LogKind::Access)], follow)?;
    let dirs = &set.files.dirs;
    assert!(dirs.iter().all(|d| d.watch.is_none() && d.alarm.is_none()));
    let mut got = Got::new();
    set.read_available(&mut recorder(&mut got));
    assert_eq!(lines(&got), ["a1", "a2", "b1"]);
    append(&dir.path().join("a.log"), b"a3\n")?;
    assert!(events(&mut set).is_empty(), "not watched: no event");
    Ok(())
}

#[test]
fn partial_line_is_handed_out_once_complete() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("access.log");
    fs::write(&log, "")?;
    let mut set = LogSet::open(&pattern(&log), false)?;
    append(&log, b"GET /pa")?;
    assert!(events(&mut set).is_empty());
    append(&log, b"rtial\nbad line\n")?;
    assert_eq!(lines(&events(&mut set)), ["GET /partial", "bad line"]);
    let s = &set.sources()[0];
    assert_eq!((s.lines, s.malformed, s.error.as_deref()), (2, 1, None));
    Ok(())
}

#[test]
fn rename_rotation_drains_old_file_including_writes_after_rename() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("access.log");
    let mut writer = OpenOptions::new().create(true).append(true).open(&log)?;
    let mut set = LogSet::open(&pattern(&log), false)?;
    writer.write_all(b"a1\n")?;
    let mut got = events(&mut set);

    fs::rename(&log, dir.path().join("access.log.1"))?;
    writer.write_all(b"a2\n")?; // the writer has not reopened yet
    fs::write(&log, "b1\n")?;
    got.extend(events(&mut set));
    writer.write_all(b"a3\n")?;
    got.extend(events(&mut set)); // via the event on access.log.1
    writer.write_all(b"a4 no newline")?;
    append(&log, b"b2\n")?;
    for _ in 0..DRAIN_IDLE_TICKS {
        got.extend(tick(&mut set));
    }
    assert!(
        set.files.tails[0].draining.is_empty(),
        "quiet old file is closed"
    );
    writer.write_all(b"\na5\n")?;
    got.extend(tick(&mut set));

    assert_eq!(lines(&got), ["a1", "a2", "b1", "a3", "b2", "a4 no newline"]);
    assert!(got.iter().all(|&(i, _)| i == 0));
    assert_eq!(set.sources()[0].lines, 6);
    Ok(())
}

#[test]
fn copytruncate_restarts_at_zero() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("access.log");
    fs::write(&log, "")?;
    let mut set = LogSet::open(&pattern(&log), false)?;
    append(&log, b"x1 long enough line\nx2 long enough line\n")?;
    let mut got = events(&mut set);
    fs::copy(&log, dir.path().join("access.log.1"))?;
    OpenOptions::new().write(true).open(&log)?.set_len(0)?;
    append(&log, b"y1 shorter\n")?;
    got.extend(events(&mut set));
    // And caught by the tick alone, without the inotify events.
    OpenOptions::new().write(true).open(&log)?.set_len(0)?;
    append(&log, b"y2\n")?;
    got.extend(tick(&mut set));
    assert_eq!(
        lines(&got),
        [
            "x1 long enough line",
            "x2 long enough line",
            "y1 shorter",
            "y2"
        ]
    );
    Ok(())
}

/// Truncated and written past our offset before we looked (the size
/// cannot tell): the lines we had not read are taken from logrotate's
/// copy, the new lines from byte 0, and no fragment is parsed.
#[test]
fn truncation_seen_late_catches_up_from_the_copy() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("access.log");
    fs::write(&log, "")?;
    let mut set = LogSet::open(&pattern(&log), false)?;
    append(&log, b"x1 read before the rotation\n")?;
    let mut got = events(&mut set);
    append(&log, b"x2 not read yet\nx3 half a li")?;
    fs::copy(&log, dir.path().join("access.log.1"))?;
    OpenOptions::new().write(true).open(&log)?.set_len(0)?;
    append(
        &log,
        b"ne\ny1 after the truncation, longer than what was read\n",
    )?;
    got.extend(events(&mut set));
    assert_eq!(
        lines(&got),
        [
            "x1 read before the rotation",
            "x2 not read yet",
            "x3 half a line",
            "y1 after the truncation, longer than what was read"
        ]
    );
    assert_eq!(
        (set.sources()[0].malformed, &set.sources()[0].note),
        (0, &None)
    );
    Ok(())
}

/// Truncated twice before we looked: both copies are read, in order;
/// a copy of what the log holds now (not truncated yet) is not read,
/// the log itself is.
#[test]
fn two_truncations_before_a_read_are_caught_up_in_order() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("access.log");
    fs::write(&log, "")?;
    let mut set = LogSet::open(&pattern(&log), false)?;
    append(&log, b"x1 read before\n")?;
    let mut got = events(&mut set);
    let truncate = || OpenOptions::new().write(true).open(&log)?.set_len(0);
    append(&log, b"x2 in the first copy\n")?;
    fs::copy(&log, dir.path().join("access.log.1"))?;
    truncate()?;
    std::thread::sleep(Duration::from_millis(20)); // copies apart in mtime
    append(&log, b"y1 in the second copy\n")?;
    fs::copy(&log, dir.path().join("access.log.2"))?;
    truncate()?;
    std::thread::sleep(Duration::from_millis(20));
    append(&log, b"z1 in the log, copied but not truncated yet\n")?;
    fs::copy(&log, dir.path().join("access.log.3"))?;
    got.extend(events(&mut set));
    assert_eq!(
        lines(&got),
        [
            "x1 read before",
            "x2 in the first copy",
            "y1 in the second copy",
            "z1 in the log, copied but not truncated yet"
        ]
    );
    Ok(())
}

/// Caught up with the log left empty, then written, copied and
/// truncated again before it was read: nothing told that truncation
/// but the copy, whose lines are read (after the newer ones).
#[test]
fn a_generation_truncated_before_its_first_read_is_read_from_its_copy() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("access.log");
    fs::write(&log, "")?;
    let mut set = LogSet::open(&pattern(&log), false)?;
    let truncate = || OpenOptions::new().write(true).open(&log)?.set_len(0);
    append(&log, b"x1 read\n")?;
    let mut got = events(&mut set);
    fs::copy(&log, dir.path().join("access.log.1"))?;
    truncate()?;
    got.extend(events(&mut set));
    append(&log, b"y1 only ever in a copy\n")?;
    fs::copy(&log, dir.path().join("access.log.2"))?;
    truncate()?;
    append(&log, b"z1 now\n")?;
    got.extend(events(&mut set));
    assert_eq!(lines(&got), ["x1 read", "z1 now", "y1 only ever in a copy"]);
    Ok(())
}

/// A copy holding more than a catch-up reads (a sparse file planted
/// beside the log, read whole or from our offset): reading stops at
/// `MAX_COPY_READ` past where it began, and a note says so.
#[test]
fn a_copy_is_read_up_to_the_cap_only() -> io::Result<()> {
    let beyond = MAX_COPY_READ + 4096;
    for newer in [false, true] {
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("access.log");
        fs::write(&log, "")?;
        let mut set = LogSet::open(&pattern(&log), false)?;
        append(&log, b"x1 read\n")?;
        let mut got = events(&mut set);
        append(&log, b"x2 unread\n")?;
        let copy = dir.path().join("access.log.1");
        fs::copy(&log, &copy)?;
        let huge = match newer {
            // Planted after the real copy, so read whole as a newer one.
            true => {
                std::thread::sleep(Duration::from_millis(20));
                dir.path().join("access.log.2")
            }
            false => copy,
        };
        let f = OpenOptions::new().create(true).append(true).open(&huge)?;
        f.set_len(f.metadata()?.len() + beyond)?; // a hole of NULs
        append(&huge, b"\nzz beyond the cap\n")?;
        OpenOptions::new().write(true).open(&log)?.set_len(0)?;
        got.extend(events(&mut set));
        append(&log, b"y1 after the catch-up\n")?;
        got.extend(events(&mut set));
        let got = lines(&got);
        assert!(got.contains(&"x2 unread"), "{newer}: {got:?}");
        assert!(got.contains(&"y1 after the catch-up"), "{newer}: {got:?}");
        assert!(!got.contains(&"zz beyond the cap"), "{newer}: {got:?}");
        let note = set.sources()[0].note.clone().unwrap_or_default();
        assert!(note.contains("16 MiB"), "{newer}: {note}");
    }
    Ok(())
}

/// The same without a copy: what came after our offset is lost and
/// said so; the fragment at our old offset is not parsed as a line.
#[test]
fn truncation_seen_late_without_a_copy_notes_the_loss() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("access.log");
    fs::write(&log, "")?;
    let mut set = LogSet::open(&pattern(&log), false)?;
    append(&log, b"x1 read\nx2 part")?;
    let mut got = events(&mut set);
    OpenOptions::new().write(true).open(&log)?.set_len(0)?;
    append(&log, b"y1 a line longer than the old file\n")?;
    got.extend(events(&mut set));
    assert_eq!(
        lines(&got),
        ["x1 read", "y1 a line longer than the old file"]
    );
    let note = set.sources()[0].note.clone().unwrap_or_default();
    assert!(
        note.contains("after byte 15") && note.contains("7 bytes"),
        "{note}"
    );
    Ok(())
}

/// A file created and renamed away between two reads was never opened:
/// it is read from its start all the same.
#[test]
fn a_file_renamed_away_before_it_was_opened_is_read() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("access.log");
    fs::write(&log, "")?;
    let mut set = LogSet::open(&pattern(&log), false)?;
    append(&log, b"a1\n")?;
    fs::rename(&log, dir.path().join("access.log.1"))?;
    append(&log, b"b1\nb2\n")?;
    fs::rename(&log, dir.path().join("access.log.2"))?;
    append(&log, b"c1\n")?;
    let mut got = events(&mut set);
    got.sort();
    assert_eq!(lines(&got), ["a1", "b1", "b2", "c1"]);
    Ok(())
}

/// The alarm fd wakes for a file created or opened beside a log, not
/// for the writes the pacing is there to batch.
#[test]
fn the_alarm_is_for_rotations_not_writes() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("access.log");
    fs::write(&log, "")?;
    let mut writer = OpenOptions::new().append(true).open(&log)?;
    let mut set = LogSet::open(&pattern(&log), false)?;
    set.drain_alarm();
    writer.write_all(b"w1\n")?;
    assert!(!set.drain_alarm(), "a write");
    fs::copy(&log, dir.path().join("access.log.1"))?;
    assert!(set.drain_alarm(), "a copy being made");
    Ok(())
}

#[test]
fn delete_then_recreate_reads_new_file_from_start() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("auth.log");
    fs::write(&log, "")?;
    let pats = vec![(log.display().to_string(), LogKind::Auth)];
    let mut set = LogSet::open(&pats, false)?;
    append(&log, b"c0\n")?;
    let mut got = events(&mut set);
    fs::remove_file(&log)?;
    got.extend(events(&mut set));
    let err = set.sources()[0].error.clone().unwrap_or_default();
    assert!(err.contains("No such file"), "{err}");
    fs::write(&log, "c1\nc2\n")?;
    got.extend(events(&mut set));
    assert_eq!(lines(&got), ["c0", "c1", "c2"]);
    assert_eq!(set.sources()[0].error, None);
    assert_eq!(set.sources()[0].kind, LogKind::Auth);
    Ok(())
}

#[test]
fn mv_into_place_drains_old_then_reads_new_from_start() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("access.log");
    fs::write(&log, "")?;
    let mut set = LogSet::open(&pattern(&log), false)?;
    append(&log, b"old1\n")?;
    let staged = dir.path().join("staged.tmp");
    fs::write(&staged, "new1\nnew2\n")?;
    append(&log, b"old2\n")?; // not yet read when the swap happens
    fs::rename(&staged, &log)?;
    let got = events(&mut set);
    assert_eq!(lines(&got), ["old1", "old2", "new1", "new2"]);
    Ok(())
}

#[test]
fn rename_to_a_matching_name_keeps_position() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("site.log");
    let mut writer = OpenOptions::new().create(true).append(true).open(&log)?;
    writer.write_all(b"s1\n")?;
    let glob = dir.path().join("*.log");
    let mut set = LogSet::open(&pattern(&glob), true)?;
    let mut got = Got::new();
    set.read_available(&mut recorder(&mut got));
    fs::rename(&log, dir.path().join("site-2024.log"))?;
    writer.write_all(b"s2\n")?; // read while retiring: still source 0
    got.extend(events(&mut set));
    writer.write_all(b"s3\n")?;
    fs::write(&log, "t1\n")?;
    got.extend(events(&mut set));
    got.extend(tick(&mut set));
    let mut seen: Vec<_> = got.iter().map(|(i, l)| (*i, l.as_str())).collect();
    seen.sort();
    // Each line once: the renamed file is not re-read under its new
    // name, later writes to it count there, t1 comes from the new file.
    assert_eq!(seen, [(0, "s1"), (0, "s2"), (0, "t1"), (1, "s3")]);
    assert!(set.sources()[1].path.ends_with("site-2024.log"));
    Ok(())
}

#[test]
fn glob_gains_a_file_through_inotify_alone() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let glob = dir.path().join("*.access.log");
    let mut set = LogSet::open(&pattern(&glob), false)?;
    assert_eq!(set.sources().len(), 1);
    assert_eq!(set.sources()[0].error.as_deref(), Some("no file matches"));
    assert_eq!(set.sources()[0].path, glob);

    fs::write(dir.path().join("a.access.log"), "hello\n")?;
    fs::write(dir.path().join("other.log"), "not matched\n")?;
    assert_eq!(events(&mut set), [(0, "hello".to_string())]);
    assert_eq!(set.sources()[0].error, None);
    assert_eq!(set.sources()[0].path, dir.path().join("a.access.log"));

    fs::write(dir.path().join("b.access.log"), "world\n")?;
    assert_eq!(events(&mut set), [(1, "world".to_string())]);
    assert_eq!(set.sources().len(), 2);
    Ok(())
}

#[test]
fn missing_directory_is_watched_once_it_appears() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let sub = dir.path().join("nginx");
    let mut set = LogSet::open(&pattern(&sub.join("*.log")), false)?;
    let err = set.sources()[0].error.clone().unwrap_or_default();
    assert!(err.starts_with("directory "), "{err}");
    fs::create_dir(&sub)?;
    fs::write(sub.join("a.log"), "first\n")?;
    assert_eq!(lines(&tick(&mut set)), ["first"]);
    fs::write(sub.join("b.log"), "second\n")?;
    assert_eq!(lines(&events(&mut set)), ["second"]);
    Ok(())
}

#[test]
fn ten_megabyte_line_is_skipped_and_counted_in_bounded_memory() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("access.log");
    fs::write(&log, "")?;
    let mut set = LogSet::open(&pattern(&log), false)?;
    append(&log, b"good1\n")?;
    let mut got = events(&mut set);
    let chunk = vec![b'A'; 1 << 20];
    let mut peak = 0;
    for _ in 0..10 {
        append(&log, &chunk)?;
        // 1 MiB is several bounded reads (MAX_PUMP_BYTES in tests).
        got.extend(events(&mut set));
        while set.has_backlog() {
            got.extend(events(&mut set));
        }
        peak = peak.max(set.buffer_bytes());
    }
    append(&log, b"\ngood2\n")?;
    got.extend(events(&mut set));
    assert_eq!(lines(&got), ["good1", "good2"]);
    let s = &set.sources()[0];
    assert_eq!((s.lines, s.malformed), (3, 1));
    assert!(
        peak <= 2 * crate::source::linebuf::MAX_LINE,
        "buffer grew to {peak}"
    );
    Ok(())
}

#[test]
fn crlf_nul_and_invalid_utf8_pass_through() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("access.log");
    fs::write(&log, b"a\r\n\r\n\0b\0\n\xff\xfe\xc3\n")?;
    let mut set = LogSet::open(&pattern(&log), true)?;
    let mut raw = Vec::new();
    set.read_available(&mut |_, _, line: &[u8]| {
        raw.push(line.to_vec());
        LineVerdict::Used
    });
    assert_eq!(
        raw,
        [b"a\r".to_vec(), b"\0b\0".to_vec(), b"\xff\xfe\xc3".to_vec()]
    );
    Ok(())
}

#[test]
fn unreadable_matches_get_errors_and_others_keep_working() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    fs::create_dir(dir.path().join("a-dir.log"))?;
    crate::sys::file::mkfifo(&dir.path().join("b-fifo.log"), 0o644)?;
    let good = dir.path().join("c-good.log");
    fs::write(&good, "")?;
    let missing = dir.path().join("later.txt");
    let pats = vec![
        (
            dir.path().join("*.log").display().to_string(),
            LogKind::Access,
        ),
        (missing.display().to_string(), LogKind::Auth),
    ];
    let mut set = LogSet::open(&pats, false)?;
    let errors: Vec<_> = set.sources().iter().map(|s| s.error.clone()).collect();
    assert_eq!(errors.len(), 4);
    assert!(
        errors[0]
            .as_deref()
            .is_some_and(|e| e.contains("directory")),
        "{errors:?}"
    );
    assert!(
        errors[1].as_deref().is_some_and(|e| e.contains("FIFO")),
        "{errors:?}"
    );
    assert_eq!(errors[2], None);
    assert!(errors[3]
        .as_deref()
        .is_some_and(|e| e.contains("No such file")));

    append(&good, b"fine\n")?;
    assert_eq!(events(&mut set), [(2, "fine".to_string())]);
    fs::write(&missing, "there now\n")?;
    assert_eq!(events(&mut set), [(3, "there now".to_string())]);
    assert_eq!(set.sources()[3].error, None);
    assert!(set.sources()[1].error.is_some(), "the FIFO stays refused");
    Ok(())
}

#[test]
fn readiness_arrives_through_mio() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("access.log");
    File::create(&log)?;
    let mut set = LogSet::open(&pattern(&log), false)?;
    let mut poll = mio::Poll::new()?;
    let token = mio::Token(7);
    poll.registry()
        .register(&mut set, token, mio::Interest::READABLE)?;
    let mut mio_events = mio::Events::with_capacity(8);
    poll.poll(&mut mio_events, Some(Duration::from_millis(0)))?;
    assert!(mio_events.is_empty());

    append(&log, b"via mio\n")?;
    let mut got = Got::new();
    for _ in 0..50 {
        poll.poll(&mut mio_events, Some(Duration::from_millis(100)))?;
        if mio_events.iter().any(|e| e.token() == token) {
            set.on_inotify(&mut recorder(&mut got));
            break;
        }
    }
    assert_eq!(lines(&got), ["via mio"]);
    Ok(())
}

/// A sink that tells recounted lines (history counted them in an earlier
/// run) from new ones.
#[derive(Default)]
struct Split {
    new: Vec<String>,
    recounted: Vec<String>,
}

impl LineSink for Split {
    fn line(&mut self, _: LogKind, _: usize, line: &[u8]) -> LineVerdict {
        self.new.push(String::from_utf8_lossy(line).into_owned());
        LineVerdict::Used
    }

    fn recounted_line(&mut self, _: LogKind, _: usize, line: &[u8]) -> LineVerdict {
        self.recounted
            .push(String::from_utf8_lossy(line).into_owned());
        LineVerdict::Used
    }
}

/// The cursor of `log` after its first `lines` lines of `text`.
fn cursor_after(log: &Path, text: &str, lines: usize) -> LogCursor {
    use std::os::unix::fs::MetadataExt;
    let offset: usize = text.split_inclusive('\n').take(lines).map(str::len).sum();
    let meta = fs::metadata(log).unwrap();
    let file = File::open(log).unwrap();
    let fingerprint = super::super::tailed_file::first_line_fingerprint(&file)
        .unwrap()
        .unwrap();
    LogCursor {
        dev: meta.dev(),
        ino: meta.ino(),
        offset: offset as u64,
        fingerprint,
    }
}

fn read_split(set: &mut LogSet) -> Split {
    let mut split = Split::default();
    set.read_available(&mut split);
    split
}

/// From the start over a log history counted part of: the counted lines
/// are recounted, the rest new, and the cursor moves to the end; with
/// another first line (the file replaced) nothing is recounted; with
/// `resume` only the rest is read.
#[test]
fn lines_below_a_cursor_are_recounted_or_skipped() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("access.log");
    let text = "a0\na1\na2\na3\na4\n";
    fs::write(&log, text)?;
    let cursor = cursor_after(&log, text, 3);
    let cursors = || vec![(log.clone(), cursor)];

    let mut set = LogSet::open_at_cursors(&pattern(&log), Follow::new(true), cursors())?;
    let got = read_split(&mut set);
    assert_eq!(got.recounted, ["a0", "a1", "a2"]);
    assert_eq!(got.new, ["a3", "a4"]);
    let (path, at) = set.cursors().next().expect("a cursor");
    assert_eq!(
        (path, at.offset, at.fingerprint),
        (log.clone(), text.len() as u64, cursor.fingerprint)
    );

    let mut resume = Follow::new(false);
    resume.resume = true;
    let mut set = LogSet::open_at_cursors(&pattern(&log), resume, cursors())?;
    let got = read_split(&mut set);
    assert!(got.recounted.is_empty());
    assert_eq!(got.new, ["a3", "a4"]);

    // Replaced: another first line, no copy beside it.
    fs::write(&log, "b0\nb1\nb2\nb3\n")?;
    let mut set = LogSet::open_at_cursors(&pattern(&log), Follow::new(true), cursors())?;
    let got = read_split(&mut set);
    assert!(got.recounted.is_empty());
    assert_eq!(got.new.len(), 4);
    let mut set = LogSet::open_at_cursors(&pattern(&log), resume, cursors())?;
    assert_eq!(read_split(&mut set).new.len(), 4, "read from its start");
    let note = set.sources()[0].note.clone().unwrap_or_default();
    assert!(note.contains("not read"), "{note}");
    Ok(())
}

/// A counted region longer than one read's bound is recounted over
/// several passes, never mixed with new lines.
#[test]
fn a_long_counted_region_is_recounted_in_bounded_passes() -> io::Result<()> {
    use super::super::tailed_file::MAX_PUMP_BYTES;
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("access.log");
    let line = format!("{}\n", "x".repeat(99));
    let counted = 3 * MAX_PUMP_BYTES as usize / line.len();
    let text = line.repeat(counted) + "new\n";
    fs::write(&log, &text)?;
    let cursor = cursor_after(&log, &text, counted);
    let mut set = LogSet::open_at_cursors(
        &pattern(&log),
        Follow::new(true),
        vec![(log.clone(), cursor)],
    )?;
    let mut got = read_split(&mut set);
    let mut passes = 1;
    while set.has_backlog() {
        let more = read_split(&mut set);
        got.recounted.extend(more.recounted);
        got.new.extend(more.new);
        passes += 1;
        assert!(passes <= 10, "no progress");
    }
    assert!(passes >= 3, "{passes} passes");
    assert_eq!(got.recounted.len(), counted);
    assert_eq!(got.new, ["new"]);
    Ok(())
}

/// A writer half-way through a line when the run ends: the cursor stays at
/// the line's start, so the next `--resume` reads the line whole.
#[test]
fn a_cursor_stops_before_a_partial_line() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("access.log");
    fs::write(&log, "a0\na1\npart")?;
    let mut set = LogSet::open(&pattern(&log), true)?;
    assert_eq!(read_split(&mut set).new, ["a0", "a1"]);
    let (_, cursor) = set.cursors().next().expect("a cursor");
    assert_eq!(cursor.offset, 6, "before `part`");
    append(&log, b"ial\na2\n")?;
    let mut resume = Follow::new(false);
    resume.resume = true;
    let mut set = LogSet::open_at_cursors(&pattern(&log), resume, vec![(log.clone(), cursor)])?;
    assert_eq!(read_split(&mut set).new, ["partial", "a2"]);
    Ok(())
}

/// `--resume` after two rotations since the last run: the rest of the
/// cursor's file (now `.2`), then `.1` whole, then the new log; a backup
/// beside the log is not read.
#[test]
fn resume_reads_every_generation_rotated_since() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("access.log");
    let path = |name: &str| dir.path().join(name);
    fs::write(&log, "a0\na1\n")?;
    let cursor = cursor_after(&log, "a0\na1\n", 2);
    append(&log, b"a2\n")?;
    fs::rename(&log, path("access.log.2"))?;
    std::thread::sleep(Duration::from_millis(20)); // distinct mtimes
    fs::write(path("access.log.1"), "b0\nb1\n")?;
    std::thread::sleep(Duration::from_millis(20));
    fs::write(path("access.log.bak"), "junk\n")?;
    fs::write(&log, "c0\n")?;
    let mut resume = Follow::new(false);
    resume.resume = true;
    let mut set = LogSet::open_at_cursors(&pattern(&log), resume, vec![(log.clone(), cursor)])?;
    assert_eq!(read_split(&mut set).new, ["a2", "b0", "b1", "c0"]);
    Ok(())
}

/// `/var/log/nginx/*/access.log` (issue 12 item 14): the vhost directories
/// present are followed, and a vhost directory made after start, then its
/// access.log, are found through inotify alone, read from byte 0.
#[test]
fn wildcard_directories_gain_new_directories_live() -> io::Result<()> {
    let root = tempfile::tempdir()?;
    let nginx = root.path().join("nginx");
    fs::create_dir_all(nginx.join("a.com"))?;
    fs::create_dir_all(nginx.join("empty.org"))?; // no access.log: no source, no error
    fs::write(nginx.join("a.com/access.log"), "old\n")?;
    fs::write(nginx.join("a.com/error.log"), "not matched\n")?;
    let glob = nginx.join("*").join("access.log");
    let mut set = LogSet::open(&pattern(&glob), false)?;
    let paths: Vec<_> = set.sources().iter().map(|s| s.path.clone()).collect();
    assert_eq!(paths, [nginx.join("a.com/access.log")]);
    assert_eq!(set.sources()[0].error, None);

    append(&nginx.join("a.com/access.log"), b"a1\n")?;
    assert_eq!(lines(&events(&mut set)), ["a1"]);

    fs::create_dir(nginx.join("b.com"))?;
    assert!(events(&mut set).is_empty());
    append(&nginx.join("b.com/access.log"), b"b1\nb2\n")?;
    assert_eq!(lines(&events(&mut set)), ["b1", "b2"]);
    assert_eq!(set.sources()[1].path, nginx.join("b.com/access.log"));

    // Made with its log already inside (mkdir + write before we look).
    fs::create_dir(nginx.join("c.com"))?;
    fs::write(nginx.join("c.com/access.log"), "c1\n")?;
    fs::write(nginx.join("c.com/other.log"), "no\n")?;
    assert_eq!(lines(&events(&mut set)), ["c1"]);
    append(&nginx.join("c.com/access.log"), b"c2\n")?;
    assert_eq!(lines(&events(&mut set)), ["c2"]);
    Ok(())
}

/// Two wildcard levels with a literal one between: `*/logs/*.log`. A
/// `logs` directory made later inside an existing site is found too, and
/// a pattern that matches nothing yet keeps one source saying so.
#[test]
fn nested_wildcard_directories_are_watched_at_every_level() -> io::Result<()> {
    let root = tempfile::tempdir()?;
    let r = root.path();
    fs::create_dir_all(r.join("site1"))?;
    let glob = r.join("*").join("logs").join("*.log");
    let mut set = LogSet::open(&pattern(&glob), false)?;
    assert_eq!(set.sources().len(), 1);
    assert_eq!(set.sources()[0].path, glob);
    assert_eq!(
        set.sources()[0].error.as_deref(),
        Some("no directory matches")
    );

    fs::create_dir(r.join("site1/logs"))?;
    assert!(events(&mut set).is_empty());
    let err = set.sources()[0].error.as_deref();
    assert_eq!(err, Some("no file matches"));
    append(&r.join("site1/logs/x.log"), b"x1\n")?;
    assert_eq!(lines(&events(&mut set)), ["x1"]);
    assert_eq!(set.sources()[0].path, r.join("site1/logs/x.log"));
    assert_eq!(set.sources()[0].error, None);

    fs::create_dir_all(r.join("site2/logs"))?;
    append(&r.join("site2/logs/y.log"), b"y1\n")?;
    assert_eq!(lines(&events(&mut set)), ["y1"]);
    // Files of a glob with directory wildcards are globbed files: one that
    // goes away is gone, no error.
    fs::remove_dir_all(r.join("site2"))?;
    events(&mut set);
    tick(&mut set);
    assert!(set.sources().iter().all(|s| s.error.is_none()));
    Ok(())
}

/// The watches a pattern with wildcard directories takes are bounded.
#[test]
fn wildcard_directories_are_bounded() -> io::Result<()> {
    let root = tempfile::tempdir()?;
    let r = root.path();
    for i in 0..MAX_GLOB_DIRS + 5 {
        fs::create_dir(r.join(format!("d{i:03}")))?;
    }
    fs::write(r.join("d000/access.log"), "")?;
    let glob = r.join("*").join("access.log");
    let set = LogSet::open(&pattern(&glob), false)?;
    assert!(
        set.files.dirs.len() <= MAX_GLOB_DIRS + 1,
        "{}",
        set.files.dirs.len()
    );
    let note = set.sources()[0].note.as_deref().unwrap_or_default();
    assert!(note.contains("more than 256 directories"), "{note}");
    Ok(())
}
