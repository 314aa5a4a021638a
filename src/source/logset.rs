//! A set of log files followed like `tail -F`, driven by one inotify fd.
//!
//! Each pattern is a directory plus a file-name glob matched with
//! `source::glob` (`*`, `?`, `[...]`; a leading `.` must be explicit). The
//! directory of every pattern is watched (not the files), so one watch sees
//! files appear, be renamed, deleted or written, and new files matching a
//! glob are followed at once.
//!
//! The directory may hold wildcards too (`/var/log/nginx/*/access.log`, as
//! Python's `glob.glob`): every directory a wildcard component ranges over
//! is watched as well (`/var/log/nginx` here), so a directory created later
//! that matches is watched and its files followed, read from byte 0. At
//! most [`MAX_GLOB_DIRS`] directories per such pattern are watched (two
//! inotify watches each); the pattern's first source notes when more were
//! left out.
//!
//! Following rules (`tail -F`, nothing lost, nothing counted twice):
//! - files present at [`LogSet::open`] are read from their end (or from
//!   byte 0 with `from_start`); files that appear later from byte 0;
//! - a path that now names another file (rename rotation, delete and
//!   re-create, `mv new log`) makes the old file *draining*: it is read to
//!   its end before the new file is opened, and kept open and read for
//!   `DRAIN_IDLE_TICKS` quiet ticks, because a writer keeps appending to it
//!   until it reopens its log;
//! - a file truncated in place (copytruncate) is read again from byte 0:
//!   it is shorter than what we read, or (written past our offset before
//!   we looked) no longer holds the last bytes we read where we read them.
//!   What we had not read yet is taken from logrotate's copy beside it
//!   (`access.log.1`), and the copies of later truncations before we
//!   looked are read whole; without a copy, the source's note says from
//!   which byte lines were lost, and the partial line held is dropped, not
//!   parsed;
//! - a rotation is read at once, not after the caller's pacing gap: a
//!   second inotify fd ([`LogSet::alarm`]) fires when a file beside a log
//!   is created, opened, moved or deleted, never on writes;
//! - a file renamed away to a name no pattern matches is read to its end,
//!   from byte 0 if it was created and rotated before we ever opened it;
//! - a symlink a glob matches is skipped with a note (opened `O_NOFOLLOW`)
//!   unless [`Follow::follow_symlinks`]; a path named exactly is followed;
//! - at most [`Follow::max_open`] files are held open; the sources beyond
//!   say they are not followed, and are opened when others close;
//! - a file renamed to another name that also matches a pattern keeps its
//!   read position under its new name (no re-reading); a glob that matches
//!   *copies* of rotated logs (`access.log*` with copytruncate, `*.gz`)
//!   reads them as new files: make globs match live logs only;
//! - a path that cannot be read (missing, permission denied, a directory or
//!   FIFO) carries an error in its [`SourceStats`]; the other sources keep
//!   working; the error clears when the path becomes readable.
//!
//! History's log cursors ([`LogCursor`], one per path, handed to
//! [`LogSet::open_at_cursors`]) apply to the files present at start. A file
//! is the cursor's when its first line is the one fingerprinted and it is
//! at least as long as the cursor's offset. Read from byte 0, its lines
//! below the offset go to [`LineSink::recounted_line`]: history counted
//! them already. With [`Follow::resume`] it is read from the offset instead;
//! a path that now names another file (rotated, replaced, truncated) is
//! read from byte 0 after the rest of the cursor's file, found beside it as
//! a rotated copy (`access.log.1`, by inode or fingerprint) and read from
//! the offset, as logtail does.
//!
//! Nothing blocks and nothing sleeps: the caller's loop calls
//! [`LogSet::on_inotify`] when the fd is readable and [`LogSet::on_tick`]
//! on its timer.

use std::ffi::{CStr, CString, OsStr};
use std::fmt::{Display, Write as _};
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::backfill::{self, OldFile};
use super::glob::{expand_dirs, glob_matches, has_wildcard, split_dir_glob, MAX_GLOB_DIRS};
use super::linebuf::Line;
use super::stdin::{StdinLog, ENDED_NOTE, STDIN_PATH};
pub(crate) use super::tailed_file::LogCursor;
use super::tailed_file::{not_regular, Consumed, FileId, Start, TailedFile, MAX_COPY_READ};
use crate::parse::UnixTime;
use crate::sys::file::{open_read, Links};
use crate::sys::inotify::{
    Event, EventBuf, Inotify, Watch, IN_ATTRIB, IN_CLOSE_WRITE, IN_CREATE, IN_DELETE,
    IN_DELETE_SELF, IN_IGNORED, IN_MODIFY, IN_MOVED_FROM, IN_MOVED_TO, IN_MOVE_SELF, IN_ONLYDIR,
    IN_OPEN, IN_Q_OVERFLOW,
};

/// What a log source holds, which decides the parser its lines go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum LogKind {
    /// HTTP access log.
    Access,
    /// sshd log (auth.log, secure, journald).
    Auth,
}

impl LogKind {
    /// Stable name used in JSON output.
    pub(crate) fn code(self) -> &'static str {
        match self {
            LogKind::Access => "access",
            LogKind::Auth => "auth",
        }
    }
}

/// The sink's answer for one line, counted per source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineVerdict {
    /// The line was understood and applied.
    Used,
    /// The line could not be used (bad shape, non-IP client, ...).
    Malformed,
    /// A well-formed line of no interest (an sshd line that is no event).
    Ignored,
}

/// Where a [`LogSet`] hands its complete lines: `line` gets the parser kind,
/// the source index (the one [`LogSet::sources`] reports) and the line
/// without its newline, and says what it made of it, which the source
/// counts. A closure of that shape is a sink too.
pub(crate) trait LineSink {
    fn line(&mut self, kind: LogKind, source: usize, line: &[u8]) -> LineVerdict;

    /// [`line`](Self::line), told `next`: the bytes read after the line (the
    /// lines that follow, the last maybe partial). A sink may read the next
    /// line's start from them to prepare for it (the engine starts loading
    /// its client's row); what the line counts is the same.
    fn line_before(
        &mut self,
        kind: LogKind,
        source: usize,
        line: &[u8],
        _next: &[u8],
    ) -> LineVerdict {
        self.line(kind, source, line)
    }

    /// A line history counted in an earlier run (read again from the start
    /// of a log it has a cursor for): shown like any other, kept out of
    /// lifetime totals by sinks that keep them.
    fn recounted_line(&mut self, kind: LogKind, source: usize, line: &[u8]) -> LineVerdict {
        self.line(kind, source, line)
    }

    /// The event time a line carries (`None`: none that can be read), for
    /// `--since` to find where to start reading. Changes nothing.
    fn line_time(&mut self, _kind: LogKind, _line: &[u8]) -> Option<UnixTime> {
        None
    }
}

impl<F: FnMut(LogKind, usize, &[u8]) -> LineVerdict> LineSink for F {
    fn line(&mut self, kind: LogKind, source: usize, line: &[u8]) -> LineVerdict {
        self(kind, source, line)
    }
}

/// Counters and state of one source (one path, or one pattern that matches
/// nothing yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceStats {
    /// The file followed, or the pattern while it matches no file.
    pub(crate) path: PathBuf,
    /// Which parser its lines go to.
    pub(crate) kind: LogKind,
    /// Non-empty lines handed to the sink, plus over-long lines.
    pub(crate) lines: u64,
    /// `Malformed` verdicts plus over-long lines (never shown to the sink).
    pub(crate) malformed: u64,
    /// Why the source is not being read right now, if it is not.
    pub(crate) error: Option<String>,
    /// Something the operator should know: a symlink not followed, or
    /// lines lost to a truncation seen before we had read to the end.
    pub(crate) note: Option<String>,
}

/// Everything that can happen to a file in a watched directory, and to the
/// directory itself.
const WATCH_MASK: u32 = IN_CREATE
    | IN_MOVED_TO
    | IN_MOVED_FROM
    | IN_DELETE
    | IN_MODIFY
    | IN_CLOSE_WRITE
    | IN_ATTRIB
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    | IN_ONLYDIR;

/// How a [`LogSet`] follows its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Follow {
    /// Files present at start are read from byte 0 (`--from-start`).
    pub(crate) from_start: bool,
    /// Follow a symlink that a glob matches (`[log] follow_symlinks`). A
    /// path named exactly is always followed: the operator chose it.
    pub(crate) follow_symlinks: bool,
    /// The most files held open at once; sources beyond it are not
    /// followed (their error says so) until others close.
    pub(crate) max_open: usize,
    /// `--resume`: files present at start are read from their cursor (from
    /// byte 0 without one), rotated ones from their copy beside them.
    pub(crate) resume: bool,
    /// `--once`: standard input (`-`) is read to its end, waited for.
    pub(crate) stdin_to_end: bool,
    /// `--since`: files present at start are read back from their first
    /// line at or after this time, after their rotated copies (see
    /// `source::backfill`). Wins over `from_start` and `resume`.
    pub(crate) since: Option<UnixTime>,
    /// Watch the directories with inotify (not for `--once`, which reads
    /// what is there and exits: a watch on a busy directory walks its
    /// entries, and closing the watches at exit waits for the kernel's
    /// grace period, ~15 ms of a `--once` run's wall time).
    pub(crate) watch: bool,
}

impl Follow {
    /// `from_start`, symlinks skipped, no limit on open files.
    #[cfg(test)]
    pub(crate) fn new(from_start: bool) -> Follow {
        Follow {
            from_start,
            follow_symlinks: false,
            max_open: usize::MAX,
            resume: false,
            stdin_to_end: false,
            since: None,
            watch: true,
        }
    }
}

/// The note of a skipped symlink (static: a source that stays a symlink
/// is looked at every tick).
const SYMLINK_NOTE: &str =
    "a symlink: not followed ([log] follow_symlinks = true follows symlinks a glob matches)";

/// What announces a rotation in a watched directory: a file created, moved
/// away or deleted, or opened (by logrotate's copy before it truncates).
/// Seen through a second inotify fd that writes never wake, so the loop
/// can read at once, before the rotation, instead of after its pacing gap.
const ALARM_MASK: u32 = IN_CREATE | IN_MOVED_FROM | IN_DELETE | IN_OPEN | IN_ONLYDIR;

/// How a source's note says `--since` is reading its rotated copies.
const READING_BACK: &str = "reading back (--since)";

/// Quiet ticks after which a rotated-away file is closed. The writer had
/// that long to reopen its log (nginx does on USR1, within milliseconds).
const DRAIN_IDLE_TICKS: u32 = 5;

/// The glob of `--log-path` / `--auth-log-path` patterns, followed through
/// one inotify fd. Register it in mio (readable) and call
/// [`on_inotify`](Self::on_inotify) when it fires.
pub(crate) struct LogSet {
    inotify: Inotify,
    /// The same directories, for `ALARM_MASK` only (see there).
    alarm: Inotify,
    events: EventBuf,
    files: Files,
    /// `-` among the patterns: standard input, read as source `.0`.
    stdin: Option<(usize, StdinLog)>,
}

/// The state `on_inotify` updates while the event buffer is borrowed.
struct Files {
    dirs: Vec<WatchedDir>,
    patterns: Vec<Pattern>,
    /// Parallel to `stats`: index `i` is source `i`.
    tails: Vec<Tail>,
    stats: Vec<SourceStats>,
    follow: Follow,
    /// Files held open (current and draining), counted at the start of
    /// each `flush_dirty` and on each open; at most `follow.max_open`.
    open_files: usize,
    /// True only inside `open`: files found now start at their end.
    opening: bool,
    /// The event queue overflowed: look at everything again.
    rescan: bool,
    /// Something was created in a directory that wildcard directories
    /// range over: expand them again.
    regrow: bool,
    /// History's cursors by path, used while opening (then dropped).
    cursors: Vec<(PathBuf, LogCursor)>,
    /// Renames away from a followed path in this batch of events: cookie
    /// and source.
    moved_from: Vec<(u32, usize)>,
    /// Files renamed away from source `.0`'s path to `.1`, a name no
    /// pattern matches: read from their start if we never opened them.
    renamed: Vec<(usize, PathBuf)>,
}

struct WatchedDir {
    /// As written in the pattern; empty for a bare file name.
    path: PathBuf,
    watch: Option<Watch>,
    /// Its watch on the alarm fd.
    alarm: Option<Watch>,
    /// The directory was moved; its watch follows it and must go.
    moved: bool,
    /// Not yet watched: [`LogSet::watch_fresh`] watches it, then lists it.
    fresh: bool,
    /// A wildcard directory component ranges over its entries: a
    /// directory created in it may match.
    ranged: bool,
}

impl WatchedDir {
    /// The path to hand to the kernel (`.` for a bare file name).
    fn fs_path(&self) -> &Path {
        if self.path.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &self.path
        }
    }
}

struct Pattern {
    dir: usize,
    /// The file-name part, a glob unless `literal`.
    name: CString,
    literal: bool,
    kind: LogKind,
    /// The source standing for this glob while it matches nothing.
    placeholder: Option<usize>,
    /// Some file has matched this pattern (then no placeholder is needed).
    has_files: bool,
    /// The pattern as given, for the placeholder's path.
    text: PathBuf,
    /// The pattern as given that this one was expanded from (itself for a
    /// pattern as given): it holds the placeholder and `has_files`.
    group: usize,
    /// Wildcard directories: this pattern matches no file itself, it
    /// expands into one pattern per directory matched (`dir` is the
    /// literal directory above the first wildcard).
    dir_glob: Option<DirGlob>,
}

/// The wildcard directory components of a pattern, and what they reached.
struct DirGlob {
    /// The components from the first wildcard one (`["*"]` for
    /// `/var/log/nginx/*/access.log`).
    parts: Vec<std::ffi::OsString>,
    /// Directories (indices into `dirs`) watched for this pattern, parents
    /// and matches: at most `MAX_GLOB_DIRS`.
    dirs: Vec<usize>,
    /// Some directories were left out for the bound: noted once.
    capped: bool,
}

/// How much a source needs looking at after inotify events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Dirty {
    Clean,
    /// Bytes were written: read on.
    Data,
    /// The name may now point elsewhere: `stat` the path first.
    Path,
}

struct Tail {
    dir: usize,
    name: CString,
    /// Named exactly by a pattern: a missing file is an error. (A file
    /// found by a glob that goes away is just gone.)
    literal: bool,
    /// Stands for a glob matching nothing; has no file.
    placeholder: bool,
    current: Option<TailedFile>,
    /// Files that were at this path, still read until their writer is done.
    draining: Vec<TailedFile>,
    dirty: Dirty,
    /// `--since`: rotated copies still to read back, oldest first; the
    /// current file waits until they are read.
    backfill: std::collections::VecDeque<OldFile>,
    /// `--since`: the current file is to be placed at the cut (with the
    /// sink's clock, on its first pump).
    seek_pending: bool,
    /// `--since`'s progress through the copies: how many there were, and
    /// bytes on disk read and in all.
    backfill_files: usize,
    backfill_bytes: (u64, u64),
}

impl LogSet {
    /// Start following `patterns`. Only start-up faults are errors (no
    /// inotify, a pattern with no file name); an unreadable path becomes
    /// that source's error. Sources are numbered in pattern order, files of
    /// one glob by name.
    ///
    /// Files are opened and positioned here but nothing is read: with
    /// `from_start`, call [`read_available`](Self::read_available) once to
    /// read what is already there.
    #[cfg(test)]
    pub(crate) fn open(patterns: &[(String, LogKind)], from_start: bool) -> io::Result<LogSet> {
        LogSet::open_with(patterns, Follow::new(from_start))
    }

    /// [`open`](Self::open) with all of [`Follow`]'s choices.
    #[cfg(test)]
    pub(crate) fn open_with(patterns: &[(String, LogKind)], follow: Follow) -> io::Result<LogSet> {
        LogSet::open_at_cursors(patterns, follow, Vec::new())
    }

    /// [`open_with`](Self::open_with), placing the files present now by
    /// history's `cursors` (see the module's notes).
    pub(crate) fn open_at_cursors(
        patterns: &[(String, LogKind)],
        follow: Follow,
        cursors: Vec<(PathBuf, LogCursor)>,
    ) -> io::Result<LogSet> {
        let inotify = Inotify::new()?;
        let alarm = Inotify::new()?;
        let mut files = Files {
            dirs: Vec::new(),
            patterns: Vec::new(),
            tails: Vec::new(),
            stats: Vec::new(),
            follow,
            open_files: 0,
            opening: true,
            rescan: false,
            regrow: false,
            cursors,
            moved_from: Vec::new(),
            renamed: Vec::new(),
        };
        let mut stdin = None;
        for (text, kind) in patterns {
            if text == STDIN_PATH {
                if stdin.is_some() {
                    let why = "-: standard input can be read only once";
                    return Err(io::Error::new(io::ErrorKind::InvalidInput, why));
                }
                let log = StdinLog::open(follow.stdin_to_end)?;
                stdin = Some((files.add_stdin(*kind), log));
                continue;
            }
            files.add_pattern(Path::new(text), *kind)?;
        }
        let mut set = LogSet {
            inotify,
            alarm,
            events: EventBuf::new(),
            files,
            stdin,
        };
        // Watch before listing, so a file created in between is not missed.
        set.watch_fresh();
        let files = &mut set.files;
        // Nothing is read at open; a sink comes with the first call.
        files.flush_dirty(
            &mut |_: LogKind, _: usize, _: &[u8]| LineVerdict::Ignored,
            true,
        );
        files.opening = false;
        files.cursors = Vec::new();
        Ok(set)
    }

    /// Watch the directories not watched yet, then list them: a file or
    /// directory created before the watch took is found by the listing,
    /// one created after by an event. Listing a directory that wildcard
    /// directories range over can find new directories: round again.
    fn watch_fresh(&mut self) {
        loop {
            let fresh: Vec<usize> = (0..self.files.dirs.len())
                .filter(|&d| self.files.dirs[d].fresh)
                .collect();
            if fresh.is_empty() {
                return;
            }
            let watch = self.files.follow.watch;
            for &d in &fresh {
                let dir = &mut self.files.dirs[d];
                dir.fresh = false;
                if watch {
                    dir.watch = self.inotify.add_watch(dir.fs_path(), WATCH_MASK).ok();
                    dir.alarm = self.alarm.add_watch(dir.fs_path(), ALARM_MASK).ok();
                }
            }
            self.files.scan_dirs(&fresh);
        }
    }

    /// The inotify fd is readable: drain its events until `WouldBlock`,
    /// then read the files they concern.
    pub(crate) fn on_inotify(&mut self, sink: &mut impl LineSink) {
        loop {
            match self.inotify.read_events(&mut self.events) {
                Ok(events) => {
                    let mut any = false;
                    for ev in events {
                        any = true;
                        self.files.note(ev);
                    }
                    if !any {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    // Unexpected (EINVAL, EBADF): fall back to looking at
                    // everything; the tick keeps doing so.
                    self.files.rescan = true;
                    break;
                }
            }
        }
        self.drop_moved_watches();
        if std::mem::take(&mut self.files.rescan) {
            self.files.rescan_all();
        } else if std::mem::take(&mut self.files.regrow) {
            self.files.expand_all();
        }
        self.watch_fresh();
        self.files.flush_dirty(sink, false);
        self.files.moved_from.clear();
        self.files.read_renamed(sink);
        self.pump_stdin(sink);
    }

    /// The alarm fd (see `ALARM_MASK`), to register in the loop.
    pub(crate) fn alarm(&mut self) -> &mut Inotify {
        &mut self.alarm
    }

    /// The alarm fd is readable: drain it. True when a file beside a log
    /// was created, moved, deleted or opened: read now, before the
    /// rotation this may announce. (The events themselves come again
    /// through the main fd.)
    pub(crate) fn drain_alarm(&mut self) -> bool {
        let mut any = false;
        while let Ok(events) = self.alarm.read_events(&mut self.events) {
            let mut more = false;
            for ev in events {
                more = true;
                any |= ev.name.is_some();
            }
            if !more {
                break;
            }
        }
        any
    }

    /// The loop's safety net, once per tick: re-watch directories that
    /// (re)appeared, `stat` every path to catch what inotify cannot say
    /// (truncation racing a write, a lost event), retry errored sources,
    /// and close rotated-away files that went quiet.
    pub(crate) fn on_tick(&mut self, sink: &mut impl LineSink) {
        self.drop_moved_watches();
        // Whether or not the watch takes, list the directory: it may have
        // just appeared, or we may be without inotify for it (ENOSPC).
        for dir in &mut self.files.dirs {
            dir.fresh |= dir.watch.is_none();
        }
        self.watch_fresh();
        self.files.rescan = false;
        self.files.regrow = false;
        self.files.mark_all(Dirty::Path);
        self.files.flush_dirty(sink, false);
        self.files.age_draining(sink);
        self.pump_stdin(sink);
    }

    /// Look at every source and read what it holds now, up to
    /// `MAX_PUMP_BYTES` a file: [`has_backlog`](Self::has_backlog) says
    /// whether more is waiting (`--once` calls this until it is not).
    pub(crate) fn read_available(&mut self, sink: &mut impl LineSink) {
        self.files.mark_all(Dirty::Path);
        self.files.flush_dirty(sink, false);
        self.pump_stdin(sink);
    }

    /// Standard input, when `-` is a pattern: the engine registers it in
    /// the loop's poll beside the inotify fd.
    pub(crate) fn stdin_mut(&mut self) -> Option<&mut StdinLog> {
        self.stdin.as_mut().map(|(_, log)| log)
    }

    /// Read standard input on, a bounded slice; at its end the source's
    /// note says so.
    fn pump_stdin(&mut self, sink: &mut impl LineSink) {
        let Some((i, log)) = self.stdin.as_mut().filter(|(_, log)| !log.has_ended()) else {
            return;
        };
        let (i, stats) = (*i, &mut self.files.stats[*i]);
        if let Err(e) = log.pump(&mut |line| deliver(stats, i, sink, line)) {
            stats.set_error(e);
        }
        if log.has_ended() && stats.error.is_none() {
            stats.note = Some(ENDED_NOTE.to_string());
        }
    }

    /// A file stopped at `MAX_PUMP_BYTES` with more to read: the next
    /// [`on_inotify`](Self::on_inotify) or [`read_available`](Self::read_available)
    /// reads on without waiting for an event.
    pub(crate) fn has_backlog(&self) -> bool {
        let files = self.files.tails.iter();
        let stdin = self.stdin.as_ref().is_some_and(|(_, log)| log.has_more());
        stdin
            || self.files.tails.iter().any(Tail::is_backfilling)
            || files
                .flat_map(|t| t.current.iter().chain(&t.draining))
                .any(TailedFile::has_more)
    }

    /// Per-source counters; the index is the one passed to the sink.
    pub(crate) fn sources(&self) -> &[SourceStats] {
        &self.files.stats
    }

    /// How far each source's lines are read, for history to keep with the
    /// counts of those lines: its current file's cursor, or, while its path
    /// names no file, that of the file last rotated away from it.
    pub(crate) fn cursors(&self) -> impl Iterator<Item = (PathBuf, LogCursor)> + '_ {
        let files = &self.files;
        files
            .tails
            .iter()
            .zip(&files.stats)
            .filter_map(|(tail, stats)| {
                let file = tail.current.as_ref().or(tail.draining.last())?;
                Some((stats.path.clone(), file.cursor()?))
            })
    }

    /// A moved directory's watch follows the directory: remove it, and let
    /// the tick watch whatever is at the path later.
    fn drop_moved_watches(&mut self) {
        for dir in &mut self.files.dirs {
            if dir.moved {
                if let Some(w) = dir.watch.take() {
                    let _ = self.inotify.rm_watch(w);
                }
                if let Some(w) = dir.alarm.take() {
                    let _ = self.alarm.rm_watch(w);
                }
                dir.moved = false;
            }
        }
    }

    /// Allocated line-buffer bytes over all open files (memory accounting).
    #[cfg(test)]
    pub(crate) fn buffer_bytes(&self) -> usize {
        self.files.tails.iter().map(Tail::buffer_bytes).sum()
    }
}

impl AsRawFd for LogSet {
    fn as_raw_fd(&self) -> RawFd {
        self.inotify.as_raw_fd()
    }
}

crate::sys::impl_fd_source!(LogSet);

impl Tail {
    fn new(dir: usize, name: CString, literal: bool, placeholder: bool) -> Tail {
        Tail {
            dir,
            name,
            literal,
            placeholder,
            current: None,
            draining: Vec::new(),
            dirty: Dirty::Path,
            backfill: std::collections::VecDeque::new(),
            seek_pending: false,
            backfill_files: 0,
            backfill_bytes: (0, 0),
        }
    }

    fn open_files(&self) -> usize {
        usize::from(self.current.is_some()) + self.draining.len() + self.backfill.len()
    }

    /// `--since`'s read-back of this source is not done.
    fn is_backfilling(&self) -> bool {
        self.seek_pending || !self.backfill.is_empty()
    }

    #[cfg(test)]
    fn buffer_bytes(&self) -> usize {
        self.current
            .iter()
            .chain(&self.draining)
            .map(TailedFile::buffer_capacity)
            .sum()
    }
}

impl Files {
    fn add_pattern(&mut self, text: &Path, kind: LogKind) -> io::Result<()> {
        let invalid = |why: &str| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: {why}", text.display()),
            )
        };
        let name = text
            .file_name()
            .ok_or_else(|| invalid("no file name to match"))?;
        let name = CString::new(name.as_bytes()).map_err(|_| invalid("contains a NUL byte"))?;
        let (base, parts) = split_dir_glob(text.parent().unwrap_or(Path::new("")));
        let dir = self.dir_index(base);
        let dir_glob = (!parts.is_empty()).then(|| DirGlob {
            parts,
            dirs: Vec::new(),
            capped: false,
        });
        let literal = dir_glob.is_none() && !has_wildcard(&name.to_string_lossy());
        self.patterns.push(Pattern {
            dir,
            name,
            literal,
            kind,
            placeholder: None,
            has_files: false,
            text: text.to_path_buf(),
            group: self.patterns.len(),
            dir_glob,
        });
        Ok(())
    }

    /// Standard input's source: stats, and an inert placeholder tail (no
    /// directory, no pattern: nothing else ever looks at it) so indices stay
    /// parallel.
    fn add_stdin(&mut self, kind: LogKind) -> usize {
        self.tails
            .push(Tail::new(usize::MAX, CString::default(), true, true));
        self.stats.push(new_stats(PathBuf::from(STDIN_PATH), kind));
        self.tails.len() - 1
    }

    /// The index of the watched directory at `path`, added (fresh) if new.
    fn dir_index(&mut self, path: PathBuf) -> usize {
        if let Some(d) = self.dirs.iter().position(|d| d.path == path) {
            return d;
        }
        self.dirs.push(WatchedDir {
            path,
            watch: None,
            alarm: None,
            moved: false,
            fresh: true,
            ranged: false,
        });
        self.dirs.len() - 1
    }

    /// Expand every pattern with wildcard directories again.
    fn expand_all(&mut self) {
        for p in 0..self.patterns.len() {
            if self.patterns[p].dir_glob.is_some() {
                self.scan_pattern(p);
            }
        }
    }

    /// Pattern `p` has wildcard directories: find the directories they
    /// match now, add a pattern for each new one (matching the file name
    /// there, never an error when it matches nothing) and scan them.
    fn expand(&mut self, p: usize) {
        let Some(glob) = &self.patterns[p].dir_glob else {
            return;
        };
        let base = self.dirs[self.patterns[p].dir].path.clone();
        let room = MAX_GLOB_DIRS;
        let found = expand_dirs(&base, &glob.parts, self.follow.follow_symlinks, room);
        let mut capped = found.capped;
        for parent in found.parents {
            if let Some(d) = self.glob_dir(p, parent, &mut capped) {
                self.dirs[d].ranged = true;
            }
        }
        let leaves = found.leaves.len();
        for leaf in found.leaves {
            let Some(d) = self.glob_dir(p, leaf, &mut capped) else {
                continue;
            };
            let known = self
                .patterns
                .iter()
                .position(|q| q.group == p && q.dir == d);
            let q = known.unwrap_or_else(|| self.add_expansion(p, d));
            self.scan_pattern(q);
        }
        self.note_capped(p, capped);
        if leaves == 0 {
            self.mark_unmatched(p, "no directory matches");
        } else {
            self.mark_unmatched(p, "no file matches");
        }
    }

    /// The directory `path` of pattern `p`'s wildcard directories, added
    /// unless that passes the bound (then `capped` is set).
    fn glob_dir(&mut self, p: usize, path: PathBuf, capped: &mut bool) -> Option<usize> {
        let known = self.dirs.iter().position(|d| d.path == path);
        let glob = self.patterns[p].dir_glob.as_ref()?;
        if let Some(d) = known.filter(|d| glob.dirs.contains(d)) {
            return Some(d);
        }
        if glob.dirs.len() >= MAX_GLOB_DIRS {
            *capped = true;
            return None;
        }
        let d = self.dir_index(path);
        self.patterns[p].dir_glob.as_mut()?.dirs.push(d);
        Some(d)
    }

    /// Pattern `p`'s file name in directory `d`, one of the directories its
    /// wildcard directories match.
    fn add_expansion(&mut self, p: usize, d: usize) -> usize {
        let head = &self.patterns[p];
        let expansion = Pattern {
            dir: d,
            name: head.name.clone(),
            literal: false,
            kind: head.kind,
            placeholder: None,
            has_files: false,
            text: head.text.clone(),
            group: p,
            dir_glob: None,
        };
        self.patterns.push(expansion);
        self.patterns.len() - 1
    }

    /// Say once, on the pattern's first source, that the bound was reached.
    fn note_capped(&mut self, p: usize, capped: bool) {
        let Some(glob) = self.patterns[p].dir_glob.as_mut() else {
            return;
        };
        if !capped || glob.capped {
            return;
        }
        glob.capped = true;
        let expansions = self.patterns.iter().filter(|q| q.dir_glob.is_none());
        let first = expansions.filter(|q| q.group == p).find(|q| q.has_files);
        let Some(first) = first.map(|q| q.dir) else {
            return; // the placeholder's error says no file matches
        };
        let Some(i) = self.tails.iter().position(|t| t.dir == first) else {
            return;
        };
        self.stats[i].note = Some(format!(
            "matches more than {MAX_GLOB_DIRS} directories: the rest are not followed"
        ));
    }

    fn matches(&self, p: usize, name: &CStr) -> bool {
        let pat = &self.patterns[p];
        if pat.dir_glob.is_some() {
            false // matches directories, through its expansions
        } else if pat.literal {
            pat.name.as_c_str() == name
        } else {
            glob_matches(pat.name.as_bytes(), name.to_bytes())
        }
    }

    /// List directories `ds` again: the patterns in them, and the wildcard
    /// directories that range over them.
    fn scan_dirs(&mut self, ds: &[usize]) {
        for p in 0..self.patterns.len() {
            let pat = &self.patterns[p];
            let listed = match &pat.dir_glob {
                Some(glob) => glob.dirs.iter().chain([&pat.dir]).any(|d| ds.contains(d)),
                None => ds.contains(&pat.dir),
            };
            if listed {
                self.scan_pattern(p);
            }
        }
    }

    fn rescan_all(&mut self) {
        for p in 0..self.patterns.len() {
            self.scan_pattern(p);
        }
        self.mark_all(Dirty::Path);
    }

    /// Find the files a pattern names now, creating sources for new ones
    /// (marked to be looked at by the next `flush_dirty`).
    fn scan_pattern(&mut self, p: usize) {
        if self.patterns[p].dir_glob.is_some() {
            self.expand(p);
            return;
        }
        if self.patterns[p].literal {
            let name = self.patterns[p].name.clone();
            self.ensure_tail(p, &name);
            return;
        }
        let listing = fs::read_dir(self.dirs[self.patterns[p].dir].fs_path());
        let mut names: Vec<CString> = match listing {
            Ok(entries) => entries
                .filter_map(|e| CString::new(e.ok()?.file_name().as_bytes()).ok())
                .filter(|n| self.matches(p, n))
                .collect(),
            Err(e) => {
                let dir = self.dirs[self.patterns[p].dir]
                    .fs_path()
                    .display()
                    .to_string();
                self.mark_unmatched(p, format_args!("directory {dir}: {e}"));
                return;
            }
        };
        if names.is_empty() {
            self.mark_unmatched(p, "no file matches");
            return;
        }
        names.sort();
        for name in names {
            self.ensure_tail(p, &name);
        }
    }

    /// A glob that matches nothing keeps one source saying so (one for a
    /// pattern as given, whatever its wildcard directories expand into).
    fn mark_unmatched(&mut self, p: usize, why: impl Display) {
        let group = self.patterns[p].group;
        let pat = &mut self.patterns[group];
        if pat.has_files {
            return;
        }
        let i = match pat.placeholder {
            Some(i) => i,
            None => {
                let tail = Tail::new(pat.dir, pat.name.clone(), false, true);
                let stats = new_stats(pat.text.clone(), pat.kind);
                pat.placeholder = Some(self.tails.len());
                self.tails.push(tail);
                self.stats.push(stats);
                self.tails.len() - 1
            }
        };
        self.stats[i].set_error(why);
    }

    /// The source for file `name` of pattern `p`'s directory, created (or
    /// taking over the pattern's placeholder) if new, and marked dirty.
    fn ensure_tail(&mut self, p: usize, name: &CStr) -> usize {
        let dir = self.patterns[p].dir;
        let found = self
            .tails
            .iter()
            .position(|t| !t.placeholder && t.dir == dir && t.name.as_c_str() == name);
        let i = match found {
            Some(i) => i,
            None => self.new_tail(p, name),
        };
        self.tails[i].dirty = Dirty::Path;
        i
    }

    fn new_tail(&mut self, p: usize, name: &CStr) -> usize {
        let path = self.dirs[self.patterns[p].dir]
            .path
            .join(OsStr::from_bytes(name.to_bytes()));
        let pat = &mut self.patterns[p];
        pat.has_files = true;
        let tail = Tail::new(pat.dir, name.to_owned(), pat.literal, false);
        let (kind, group) = (pat.kind, pat.group);
        let head = &mut self.patterns[group];
        head.has_files = true;
        if let Some(i) = head.placeholder.take() {
            self.tails[i] = tail;
            self.stats[i] = new_stats(path, kind);
            return i;
        }
        self.tails.push(tail);
        self.stats.push(new_stats(path, kind));
        self.tails.len() - 1
    }

    fn mark_all(&mut self, level: Dirty) {
        for tail in &mut self.tails {
            tail.dirty = tail.dirty.max(level);
        }
    }

    /// Record one inotify event as dirtiness; the reading comes after the
    /// whole queue is drained, so a burst of writes costs one read pass.
    fn note(&mut self, ev: Event<'_>) {
        if ev.mask & IN_Q_OVERFLOW != 0 {
            self.rescan = true;
            return;
        }
        let Some(d) = self.dirs.iter().position(|d| d.watch == Some(ev.watch)) else {
            return; // a watch we already dropped
        };
        let Some(name) = ev.name else {
            self.note_dir_itself(d, ev.mask);
            return;
        };
        if self.dirs[d].ranged && ev.mask & (IN_CREATE | IN_MOVED_TO) != 0 {
            self.regrow = true; // perhaps a directory a wildcard matches
        }
        let level = if ev.mask & !(IN_MODIFY | IN_CLOSE_WRITE) == 0 {
            Dirty::Data
        } else {
            Dirty::Path
        };
        let known = self
            .tails
            .iter()
            .position(|t| !t.placeholder && t.dir == d && t.name.as_c_str() == name);
        if let Some(i) = known {
            self.tails[i].dirty = self.tails[i].dirty.max(level);
            if ev.mask & IN_MOVED_FROM != 0 {
                self.moved_from.push((ev.cookie, i));
            }
            return;
        }
        if let Some(p) =
            (0..self.patterns.len()).find(|&p| self.patterns[p].dir == d && self.matches(p, name))
        {
            self.ensure_tail(p, name);
            return;
        }
        if let Some(&(_, i)) = self.moved_from.iter().find(|m| m.0 == ev.cookie) {
            if ev.mask & IN_MOVED_TO != 0 {
                let path = self.dirs[d].path.join(OsStr::from_bytes(name.to_bytes()));
                self.renamed.push((i, path));
            }
        }
        // Not a name we follow: perhaps a file we are draining, renamed
        // within this directory (access.log.1), being written.
        for tail in &mut self.tails {
            if tail.dir == d && !tail.draining.is_empty() {
                tail.dirty = tail.dirty.max(Dirty::Data);
            }
        }
    }

    fn note_dir_itself(&mut self, d: usize, mask: u32) {
        if mask & IN_IGNORED != 0 {
            self.dirs[d].watch = None;
        }
        if mask & IN_MOVE_SELF != 0 {
            self.dirs[d].moved = true;
        }
        if mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF) != 0 {
            for tail in &mut self.tails {
                if tail.dir == d {
                    tail.dirty = Dirty::Path;
                }
            }
        }
    }

    /// Look at every dirty source: `stat` its path or just read on.
    /// `silent` (inside `open`) positions files without reading.
    fn flush_dirty(&mut self, sink: &mut impl LineSink, silent: bool) {
        self.open_files = self.tails.iter().map(Tail::open_files).sum();
        for i in 0..self.tails.len() {
            match std::mem::replace(&mut self.tails[i].dirty, Dirty::Clean) {
                Dirty::Clean => {}
                // A write to a path we hold no file for: look at the path.
                Dirty::Data if self.tails[i].current.is_none() => self.sync(i, sink, silent),
                Dirty::Data => self.pump(i, sink),
                Dirty::Path => self.sync(i, sink, silent),
            }
        }
    }

    /// Make source `i` follow whatever its path names now, then read it.
    fn sync(&mut self, i: usize, sink: &mut impl LineSink, silent: bool) {
        if self.tails[i].placeholder {
            return;
        }
        if self.is_skipped_symlink(i) {
            self.retire(i, sink);
            if self.stats[i].note.as_deref() != Some(SYMLINK_NOTE) {
                self.stats[i].note = Some(SYMLINK_NOTE.to_string());
            }
            return;
        }
        match fs::metadata(&self.stats[i].path) {
            Ok(meta) if meta.is_file() => {
                let id = FileId::of(&meta);
                if self.tails[i].current.as_ref().map(|f| f.id) != Some(id) {
                    self.retire(i, sink);
                    self.attach(i, id);
                }
            }
            Ok(meta) => {
                self.retire(i, sink);
                self.stats[i].set_error(not_regular(&meta));
            }
            Err(e) => {
                self.retire(i, sink);
                if e.kind() == io::ErrorKind::NotFound && !self.tails[i].literal {
                    self.stats[i].error = None; // a globbed file went away
                } else {
                    self.stats[i].set_error(e);
                }
            }
        }
        if !silent {
            self.pump(i, sink);
        }
    }

    /// A glob matched a symlink and `follow_symlinks` is off: a link in a
    /// log directory must not make us read (perhaps as root) what it
    /// points to. A path named exactly is followed.
    fn is_skipped_symlink(&mut self, i: usize) -> bool {
        if self.tails[i].literal || self.follow.follow_symlinks {
            return false;
        }
        let link = fs::symlink_metadata(&self.stats[i].path).is_ok_and(|m| m.is_symlink());
        if !link && self.stats[i].note.as_deref() == Some(SYMLINK_NOTE) {
            self.stats[i].note = None;
        }
        link
    }

    /// The path no longer names the current file: read it to its end now
    /// (lines before the switch come first), then keep draining it.
    fn retire(&mut self, i: usize, sink: &mut impl LineSink) {
        self.place_at_cut(i, sink);
        let Some(mut file) = self.tails[i].current.take() else {
            return;
        };
        if let Err(e) = pump_file(&mut file, &mut self.stats[i], i, sink, true) {
            self.stats[i].set_error(e);
        }
        file.idle_ticks = 0;
        self.tails[i].draining.push(file);
    }

    /// Make file `id`, now at source `i`'s path, its current file: a file
    /// we already hold (renamed here) keeps its position; else open it.
    fn attach(&mut self, i: usize, id: FileId) {
        for j in 0..self.tails.len() {
            if let Some(k) = self.tails[j].draining.iter().position(|f| f.id == id) {
                let file = self.tails[j].draining.swap_remove(k);
                self.tails[i].current = Some(file);
                self.stats[i].error = None;
                return;
            }
        }
        let holder = (0..self.tails.len())
            .find(|&j| j != i && self.tails[j].current.as_ref().map(|f| f.id) == Some(id));
        if let Some(j) = holder {
            let same = fs::metadata(&self.stats[j].path).is_ok_and(|m| FileId::of(&m) == id);
            if same {
                // Two names for one file (symlink, hard link): read it once.
                let other = self.stats[j].path.display().to_string();
                self.stats[i].set_error(format_args!("same file as {other}"));
                return;
            }
            self.tails[i].current = self.tails[j].current.take();
            self.stats[i].error = None;
            return;
        }
        if self.open_files >= self.follow.max_open {
            let max = self.follow.max_open;
            self.stats[i].set_error(format_args!("not followed: {max} log files are open, all this process can afford (raise the hard RLIMIT_NOFILE, LimitNOFILE= in systemd, to follow more)"));
            return;
        }
        let since = self.opening && self.follow.since.is_some();
        let start = if self.opening && !since && !self.follow.from_start && !self.follow.resume {
            Start::End
        } else {
            Start::Beginning
        };
        let nofollow = !self.tails[i].literal && !self.follow.follow_symlinks;
        match TailedFile::open(&self.stats[i].path, start, nofollow) {
            Ok(mut file) => {
                self.open_files += 1;
                self.stats[i].error = None;
                if self.opening {
                    if let Err(e) = self.place_at_cursor(i, &mut file) {
                        self.stats[i].set_error(e);
                    }
                }
                if let Some(cut) = self.follow.since.filter(|_| since) {
                    self.start_backfill(i, cut, file.id);
                }
                self.tails[i].current = Some(file);
            }
            Err(e) => self.stats[i].set_error(e),
        }
    }

    /// At start: where history's cursor for source `i`'s path puts `file`,
    /// just opened there (see the module's notes).
    fn place_at_cursor(&mut self, i: usize, file: &mut TailedFile) -> io::Result<()> {
        let path = &self.stats[i].path;
        let Some(&(_, cursor)) = self.cursors.iter().find(|(p, _)| p == path) else {
            return Ok(()); // never counted: all of it is new
        };
        if cursor.offset == 0 {
            return Ok(());
        }
        // `--since` wins over `--resume`: read back, recounting.
        let resume = self.follow.resume && self.follow.since.is_none();
        match (file.is_at(&cursor)?, resume) {
            (true, true) => file.skip_to(cursor.offset),
            (true, false) => file.count_until(cursor.offset),
            (false, true) => {
                self.resume_rotated(i, &cursor);
                Ok(())
            }
            // Replaced or truncated since: nothing of it was counted.
            (false, false) => Ok(()),
        }
    }

    /// `--since` at start: source `i`'s current file (`current`) is placed
    /// at the cut on its first pump, after its rotated copies in range are
    /// read; a copy history has a cursor for recounts what it counted.
    fn start_backfill(&mut self, i: usize, cut: UnixTime, current: FileId) {
        let path = &self.stats[i].path;
        let cursor = self.cursors.iter().find(|(p, _)| p == path).map(|c| c.1);
        let mut copies = backfill::open_copies(path, cut);
        copies.retain_mut(|old| match old {
            OldFile::Plain { file, .. } => {
                if let Some(cursor) = cursor.filter(|c| file.is_at(c).unwrap_or(false)) {
                    let _ = file.count_until(cursor.offset);
                }
                file.id != current // a second name of the log itself
            }
            OldFile::Gz(_) => true,
        });
        self.open_files += copies.len();
        let tail = &mut self.tails[i];
        tail.backfill_files = copies.len();
        tail.backfill_bytes = (0, copies.iter().map(OldFile::size).sum());
        tail.backfill = copies.into();
        tail.seek_pending = true;
    }

    /// `--resume` found another file at source `i`'s path than the
    /// cursor's: the cursor's was rotated. Read the rest of it from its copy
    /// beside the path (by inode, else by first line), then any newer
    /// numbered copies (`access.log.1` when the cursor's is `.2`: rotated
    /// twice since) whole: they are drained before the new file. Other
    /// names beside the log (`access.log.bak`) are never read whole.
    fn resume_rotated(&mut self, i: usize, cursor: &LogCursor) {
        let path = self.stats[i].path.clone();
        let copies = copies_of(&path);
        let by_inode = copies.iter().position(|c| c.id == cursor.file_id());
        let found = by_inode.into_iter().chain(0..copies.len()).find_map(|k| {
            let mut file = TailedFile::open(&copies[k].path, Start::Beginning, true).ok()?;
            file.is_at(cursor).ok()?.then_some(())?;
            file.skip_to(cursor.offset).ok()?;
            Some((k, file))
        });
        let Some((k, file)) = found else {
            self.stats[i].note = Some(format!(
                "replaced or rotated since the last run, and no uncompressed copy beside it \
                 holds what that run read: lines after byte {} of the previous file are not read",
                cursor.offset
            ));
            return;
        };
        self.open_files += 1;
        self.tails[i].draining.push(file);
        // Newer copies (rotated again since), oldest first.
        for copy in copies[..k].iter().rev() {
            if !is_numbered_copy(&path, &copy.path) {
                continue;
            }
            if let Ok(file) = TailedFile::open(&copy.path, Start::Beginning, true) {
                self.open_files += 1;
                self.tails[i].draining.push(file);
            }
        }
    }

    /// Files renamed away from a followed path that we never opened (it was
    /// created and rotated between two reads): read them from their start,
    /// as files source `i` drains.
    fn read_renamed(&mut self, sink: &mut impl LineSink) {
        for (i, path) in std::mem::take(&mut self.renamed) {
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            let full =
                self.tails.iter().map(Tail::open_files).sum::<usize>() >= self.follow.max_open;
            if full || !meta.is_file() || self.holds(FileId::of(&meta)) {
                continue;
            }
            if let Ok(mut file) = TailedFile::open(&path, Start::Beginning, true) {
                let _ = pump_file(&mut file, &mut self.stats[i], i, sink, false);
                self.tails[i].draining.push(file);
            }
        }
    }

    /// Whether some source holds file `id` open.
    fn holds(&self, id: FileId) -> bool {
        self.tails
            .iter()
            .any(|t| t.current.iter().chain(&t.draining).any(|f| f.id == id))
    }

    /// Read source `i`'s current file and the files it is draining. One
    /// that stopped at `MAX_PUMP_BYTES` leaves the source dirty: the next
    /// read goes on (see [`LogSet::has_backlog`]).
    fn pump(&mut self, i: usize, sink: &mut impl LineSink) {
        if self.read_back(i, sink) {
            self.tails[i].dirty = Dirty::Data;
            return;
        }
        let (tail, stats) = (&mut self.tails[i], &mut self.stats[i]);
        for file in tail.draining.iter_mut() {
            // A read error on a file we only drain is not worth an error.
            let _ = pump_file(file, stats, i, sink, false);
        }
        if let Some(file) = tail.current.as_mut() {
            if let Err(e) = pump_file(file, stats, i, sink, true) {
                stats.set_error(e);
            }
            if !file.has_more() {
                file.end_slices(); // caught up: a read-back's slices are over
            }
        }
        let files = tail.current.iter().chain(&tail.draining);
        if files.into_iter().any(TailedFile::has_more) {
            tail.dirty = tail.dirty.max(Dirty::Data);
        }
    }

    /// `--since`: place source `i`'s current file at the cut, once.
    fn place_at_cut(&mut self, i: usize, sink: &mut impl LineSink) {
        let (tail, stats) = (&mut self.tails[i], &mut self.stats[i]);
        let Some(cut) = self.follow.since.filter(|_| tail.seek_pending) else {
            return;
        };
        tail.seek_pending = false;
        let kind = stats.kind;
        if let Some(file) = tail.current.as_mut() {
            let slice = backfill::SLICE_BYTES;
            if let Err(e) = file.seek_to_time(cut, slice, &mut |l| sink.line_time(kind, l)) {
                stats.set_error(e);
            }
        }
    }

    /// `--since`: read a slice of source `i`'s oldest rotated copy left.
    /// True while copies are left (the current file waits for them).
    fn read_back(&mut self, i: usize, sink: &mut impl LineSink) -> bool {
        self.place_at_cut(i, sink);
        let Some(cut) = self.follow.since else {
            return false;
        };
        let (tail, stats) = (&mut self.tails[i], &mut self.stats[i]);
        let Some(old) = tail.backfill.front_mut() else {
            return false;
        };
        let done = match old {
            OldFile::Plain { file, placed } => {
                if !std::mem::replace(placed, true) {
                    let kind = stats.kind;
                    let slice = backfill::SLICE_BYTES;
                    let _ = file.seek_to_time(cut, slice, &mut |l| sink.line_time(kind, l));
                }
                // A read error on a copy ends it, as for a draining file.
                pump_file(file, stats, i, sink, false).is_err() || !file.has_more()
            }
            OldFile::Gz(copy) => {
                let _ = pump_gz(copy, cut, stats, i, sink);
                copy.done
            }
        };
        if done {
            tail.backfill_bytes.0 += old.size();
            tail.backfill.pop_front();
        }
        let ours = stats
            .note
            .as_deref()
            .is_some_and(|n| n.starts_with(READING_BACK));
        stats.note = match tail.backfill.is_empty() {
            true if ours => None,
            true => stats.note.take(),
            false => Some(backfill_note(tail, stats.lines)),
        };
        !tail.backfill.is_empty()
    }

    /// One tick passed: close draining files that stayed quiet long enough,
    /// handing out a last line that never got its newline.
    fn age_draining(&mut self, sink: &mut impl LineSink) {
        for (i, (tail, stats)) in self.tails.iter_mut().zip(&mut self.stats).enumerate() {
            if tail.is_backfilling() {
                // Its files are not read until the read-back is done: none
                // goes quiet meanwhile.
                continue;
            }
            tail.draining.retain_mut(|file| {
                file.idle_ticks += 1;
                if file.idle_ticks < DRAIN_IDLE_TICKS {
                    return true;
                }
                file.finish(&mut |line| deliver(stats, i, sink, line));
                false
            });
        }
    }
}

fn new_stats(path: PathBuf, kind: LogKind) -> SourceStats {
    SourceStats {
        path,
        kind,
        lines: 0,
        malformed: 0,
        error: None,
        note: None,
    }
}

/// Read `file` on. `at_path`: source `i`'s path names (or named, until
/// just now) this file, so a copy made by copytruncate sits beside it.
fn pump_file(
    file: &mut TailedFile,
    stats: &mut SourceStats,
    i: usize,
    sink: &mut impl LineSink,
    at_path: bool,
) -> io::Result<u64> {
    if let Some(consumed) = recover_truncation(file, stats, i, sink, at_path)? {
        file.copies_read = Some(consumed);
    }
    if file.take_copy_capped() {
        note_copy_capped(stats);
    }
    let n = file.pump(&mut |line, counted| match counted {
        true => deliver_recounted(stats, i, sink, line),
        false => deliver(stats, i, sink, line),
    })?;
    // Read from byte 0 after a catch-up: once there are bytes to tell, see
    // whether they are the generation after the copies read.
    if n > 0 {
        if let Some(consumed) = file.copies_read.take() {
            let path = stats.path.clone();
            if read_skipped(file, &path, &consumed, &mut |l| deliver(stats, i, sink, l)) {
                note_copy_capped(stats);
            }
        }
    }
    Ok(n)
}

/// The most rotated copies of a log looked at after a truncation (several
/// when it was truncated more than once between two reads).
const MAX_COPIES: usize = 8;

/// Times the copies are listed again while catching up, for copies made
/// (and truncations done) while we read the earlier ones.
const MAX_COPY_ROUNDS: usize = 4;

/// Where the log itself is read on from after catching up from its copies.
enum Resume {
    /// Byte 0: it holds what was written since its last truncation (unless
    /// truncated again before we read it: [`read_skipped`] looks).
    Start(Consumed),
    /// After the last copy read, a copy of what it holds now (copied, not
    /// truncated yet). Checked again: it may have been truncated since.
    After(u64),
}

/// Before reading on: if the file was truncated, catch up from its copies
/// and set where to read it from; with no copy, say what was lost. Returns
/// the copies read when the log is then read from byte 0.
fn recover_truncation(
    file: &mut TailedFile,
    stats: &mut SourceStats,
    i: usize,
    sink: &mut impl LineSink,
    at_path: bool,
) -> io::Result<Option<Consumed>> {
    for round in 1..=MAX_COPY_ROUNDS {
        let Some(at) = file.truncated()? else {
            return Ok(None);
        };
        let path = stats.path.clone();
        let resume = match at_path && round < MAX_COPY_ROUNDS {
            true => catch_up(file, &path, &mut |l| deliver(stats, i, sink, l)),
            false => None,
        };
        match resume {
            Some(Resume::After(len)) => file.resume_at(len)?,
            Some(Resume::Start(consumed)) => {
                file.restart(true)?;
                return Ok(Some(consumed));
            }
            None => {
                let dropped = file.restart(false)?;
                stats.note = Some(format!(
                    "truncated before it was read to its end (copytruncate?), no copy of it found beside it: lines written after byte {at} before the truncation are lost, and {dropped} bytes of a partial line"
                ));
                return Ok(None);
            }
        }
    }
    Ok(None)
}

/// The log was read from byte 0 after a catch-up; if it was truncated
/// again between the catch-up and that read, what we read is a later
/// generation and the copy of the one in between holds lines we skipped:
/// a copy we did not read that does not hold what we just read is such a
/// copy (older than the copy of ours, if that exists yet). Read each whole,
/// on a line buffer of its own (late, but counted). Returns whether one was
/// cut at [`MAX_COPY_READ`].
fn read_skipped(
    file: &TailedFile,
    path: &Path,
    consumed: &Consumed,
    emit: &mut impl FnMut(Line<'_>),
) -> bool {
    let mut newer: Vec<RotatedCopy> = copies_of(path)
        .into_iter()
        .filter(|c| c.modified >= consumed.since && !consumed.done.contains(&c.id))
        .collect();
    newer.reverse();
    let mut capped = false;
    for copy in &newer {
        let Ok(f) = open_copy(&copy.path) else {
            continue;
        };
        if file.holds_what_was_read(&f).unwrap_or(true) {
            break; // the copy of ours: the ones after it come later
        }
        capped |= TailedFile::read_detached(&f, emit).unwrap_or(false);
    }
    capped
}

/// A rotated copy held more than a catch-up reads: say what was skipped.
fn note_copy_capped(stats: &mut SourceStats) {
    stats.note = Some(format!(
        "a rotated copy beside it held more than {} MiB to read: only that much of it was read",
        MAX_COPY_READ >> 20
    ));
}

/// A rotated copy of a log, as found beside it.
struct RotatedCopy {
    path: PathBuf,
    id: FileId,
    modified: std::time::SystemTime,
}

/// copytruncate copies the log, then truncates it: what we had not read
/// yet is in the copy. Try the files beside `path` whose names extend its
/// name (`access.log.1`, `access.log-20250101`), newest first, and read on
/// in the first whose bytes before our offset are the ones we read. `None`
/// when no copy is that one.
fn catch_up(file: &mut TailedFile, path: &Path, emit: &mut impl FnMut(Line<'_>)) -> Option<Resume> {
    let copies = copies_of(path);
    let k = copies.iter().position(|c| {
        open_copy(&c.path).is_ok_and(|f| matches!(file.catch_up(&f, emit), Ok(Some(_))))
    })?;
    let since = copies[k].modified;
    let mut done: Vec<FileId> = copies[k..].iter().map(|c| c.id).collect();
    for _ in 0..MAX_COPY_ROUNDS {
        match read_newer_copies(file, path, since, &mut done, emit) {
            Newer::Nothing => break,
            Newer::Read => {}
            Newer::OfCurrent(len) => return Some(Resume::After(len)),
        }
    }
    Some(Resume::Start(Consumed { since, done }))
}

/// What [`read_newer_copies`] found.
enum Newer {
    Nothing,
    /// Copies were read: list again, more may have come meanwhile.
    Read,
    /// The copy read last, of this many bytes, is a copy of the log now.
    OfCurrent(u64),
}

/// Copies newer than the one caught up from were made by later truncations
/// before we looked: read each whole, oldest first, stopping after one of
/// what the log holds now.
fn read_newer_copies(
    file: &mut TailedFile,
    path: &Path,
    since: std::time::SystemTime,
    done: &mut Vec<FileId>,
    emit: &mut impl FnMut(Line<'_>),
) -> Newer {
    let mut newer: Vec<RotatedCopy> = copies_of(path)
        .into_iter()
        .filter(|c| c.modified >= since && !done.contains(&c.id))
        .collect();
    newer.reverse();
    for copy in &newer {
        done.push(copy.id);
        let Ok(f) = open_copy(&copy.path) else {
            continue;
        };
        let len = file.catch_up_whole(&f, emit).ok().flatten().unwrap_or(0);
        if file.is_copy_of_current(&f).unwrap_or(false) {
            return Newer::OfCurrent(len);
        }
    }
    match newer.is_empty() {
        true => Newer::Nothing,
        false => Newer::Read,
    }
}

/// A rotated copy as itself: a link or anything but a regular file planted
/// under a copy's name is not read.
fn open_copy(path: &Path) -> io::Result<fs::File> {
    open_read(path, Links::Refuse)
}

/// `path`'s file name and the entries of its directory (`.` for a bare
/// name): where its rotated copies are looked for.
pub(super) fn siblings(path: &Path) -> Option<(&std::ffi::OsStr, fs::ReadDir)> {
    let (dir, name) = (path.parent()?, path.file_name()?);
    let dir = match dir.as_os_str().is_empty() {
        true => Path::new("."),
        false => dir,
    };
    Some((name, fs::read_dir(dir).ok()?))
}

/// Regular files (not symlinks) beside `path` named like its rotated
/// copies, newest first, at most `MAX_COPIES`.
fn copies_of(path: &Path) -> Vec<RotatedCopy> {
    let Some((name, entries)) = siblings(path) else {
        return Vec::new();
    };
    let name = name.as_bytes();
    let mut found: Vec<RotatedCopy> = entries
        .flatten()
        .filter(|e| is_copy_name(name, e.file_name().as_bytes()))
        .filter_map(|e| {
            let meta = e.metadata().ok().filter(fs::Metadata::is_file)?;
            Some(RotatedCopy {
                path: e.path(),
                id: FileId::of(&meta),
                modified: meta.modified().ok()?,
            })
        })
        .collect();
    found.sort_by_key(|c| std::cmp::Reverse(c.modified));
    found.truncate(MAX_COPIES);
    found
}

/// `access.log.2` for `access.log`: a generation logrotate numbered (and did
/// not compress).
fn is_numbered_copy(log: &Path, copy: &Path) -> bool {
    let (Some(log), Some(copy)) = (log.file_name(), copy.file_name()) else {
        return false;
    };
    let (log, copy) = (log.as_bytes(), copy.as_bytes());
    copy.len() > log.len() + 1
        && copy.starts_with(log)
        && copy[log.len()] == b'.'
        && copy[log.len() + 1..].iter().all(u8::is_ascii_digit)
}

/// `access.log.1`, `access.log-20250101`, `access.log_old` for `access.log`.
fn is_copy_name(log: &[u8], other: &[u8]) -> bool {
    other.len() > log.len() + 1
        && other.starts_with(log)
        && matches!(other[log.len()], b'.' | b'-' | b'_')
}

/// `--since`'s progress, in the source's note (the stats bar shows it):
/// `reading back (--since): file 2 of 4, 51234 lines, 37% done`.
fn backfill_note(tail: &Tail, lines: u64) -> String {
    let file = tail.backfill_files - tail.backfill.len() + 1;
    let (done, all) = tail.backfill_bytes;
    let reading = tail.backfill.front().map_or(0, OldFile::position);
    let percent = ((done + reading) * 100)
        .checked_div(all)
        .unwrap_or(0)
        .min(100);
    format!(
        "{READING_BACK}: file {file} of {}, {lines} lines, {percent}% done",
        tail.backfill_files + 1
    )
}

/// A slice of a compressed copy, at most `SLICE_BYTES` decompressed: the
/// lines from the first at or after the cut.
fn pump_gz(
    copy: &mut backfill::GzCopy,
    cut: UnixTime,
    stats: &mut SourceStats,
    i: usize,
    sink: &mut impl LineSink,
) -> io::Result<()> {
    let mut total = 0u64;
    let kind = stats.kind;
    while !copy.done && total < backfill::SLICE_BYTES {
        let read = copy.fill();
        while let Some(line) = copy.buf.next_line() {
            if !copy.reached {
                let Some(text) = line.text() else {
                    continue;
                };
                match sink.line_time(kind, text) {
                    Some(t) if t >= cut => copy.reached = true,
                    _ => continue,
                }
            }
            deliver(stats, i, sink, line);
        }
        total += read? as u64;
    }
    Ok(())
}

/// Hand one line of source `i` to the sink, counting it.
fn deliver(stats: &mut SourceStats, i: usize, sink: &mut impl LineSink, line: Line<'_>) {
    let kind = stats.kind;
    stats.count(line, |text, next| sink.line_before(kind, i, text, next));
}

/// Hand one line of source `i` that history counted already to the sink.
fn deliver_recounted(stats: &mut SourceStats, i: usize, sink: &mut impl LineSink, line: Line<'_>) {
    let kind = stats.kind;
    stats.count(line, |text, _| sink.recounted_line(kind, i, text));
}

impl SourceStats {
    /// Count one line. Over-long lines are counted malformed without
    /// bothering `judge`, which sees complete lines only.
    pub(crate) fn count(
        &mut self,
        line: Line<'_>,
        judge: impl FnOnce(&[u8], &[u8]) -> LineVerdict,
    ) {
        self.lines += 1;
        let malformed = match line {
            Line::TooLong => true,
            Line::Complete { text, next } => judge(text, next) == LineVerdict::Malformed,
        };
        self.malformed += u64::from(malformed);
    }

    /// Set the error, reusing its string (a persistent fault is set again
    /// every tick; this keeps that from allocating).
    pub(crate) fn set_error(&mut self, why: impl Display) {
        let s = self.error.get_or_insert_with(String::new);
        s.clear();
        let _ = write!(s, "{why}");
    }
}

#[cfg(test)]
mod tests;
