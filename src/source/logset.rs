//! A set of log files followed like `tail -F`, driven by one inotify fd.
//!
//! Each pattern is a literal directory plus a file-name glob matched with
//! `source::glob` (`*`, `?`, `[...]`; a leading `.` must be explicit). Only the
//! *file name* may contain wildcards: `/var/log/*/access.log` means a
//! directory literally named `*`. The directory of every pattern is watched
//! (not the files), so one watch sees files appear, be renamed, deleted or
//! written, and new files matching a glob are followed at once.
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

use super::glob::{glob_matches, has_wildcard};
use super::linebuf::Line;
use super::tailed_file::{not_regular, Consumed, FileId, Start, TailedFile, MAX_COPY_READ};
use crate::sys::file::{open_read, Links};
use crate::sys::inotify::{
    Event, EventBuf, Inotify, Watch, IN_ATTRIB, IN_CLOSE_WRITE, IN_CREATE, IN_DELETE,
    IN_DELETE_SELF, IN_IGNORED, IN_MODIFY, IN_MOVED_FROM, IN_MOVED_TO, IN_MOVE_SELF, IN_ONLYDIR,
    IN_OPEN, IN_Q_OVERFLOW,
};

/// What a log source holds, which decides the parser its lines go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogKind {
    /// HTTP access log.
    Access,
    /// sshd log (auth.log, secure, journald).
    Auth,
}

impl LogKind {
    /// Stable name used in JSON output.
    pub fn code(self) -> &'static str {
        match self {
            LogKind::Access => "access",
            LogKind::Auth => "auth",
        }
    }
}

/// The sink's answer for one line, counted per source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineVerdict {
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
pub trait LineSink {
    fn line(&mut self, kind: LogKind, source: usize, line: &[u8]) -> LineVerdict;
}

impl<F: FnMut(LogKind, usize, &[u8]) -> LineVerdict> LineSink for F {
    fn line(&mut self, kind: LogKind, source: usize, line: &[u8]) -> LineVerdict {
        self(kind, source, line)
    }
}

/// Counters and state of one source (one path, or one pattern that matches
/// nothing yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStats {
    /// The file followed, or the pattern while it matches no file.
    pub path: PathBuf,
    /// Which parser its lines go to.
    pub kind: LogKind,
    /// Non-empty lines handed to the sink, plus over-long lines.
    pub lines: u64,
    /// `Malformed` verdicts plus over-long lines (never shown to the sink).
    pub malformed: u64,
    /// Why the source is not being read right now, if it is not.
    pub error: Option<String>,
    /// Something the operator should know: a symlink not followed, or
    /// lines lost to a truncation seen before we had read to the end.
    pub note: Option<String>,
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
pub struct Follow {
    /// Files present at start are read from byte 0 (`--from-start`).
    pub from_start: bool,
    /// Follow a symlink that a glob matches (`[log] follow_symlinks`). A
    /// path named exactly is always followed: the operator chose it.
    pub follow_symlinks: bool,
    /// The most files held open at once; sources beyond it are not
    /// followed (their error says so) until others close.
    pub max_open: usize,
}

impl Follow {
    /// `from_start`, symlinks skipped, no limit on open files.
    pub fn new(from_start: bool) -> Follow {
        Follow {
            from_start,
            follow_symlinks: false,
            max_open: usize::MAX,
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

/// Quiet ticks after which a rotated-away file is closed. The writer had
/// that long to reopen its log (nginx does on USR1, within milliseconds).
const DRAIN_IDLE_TICKS: u32 = 5;

/// The glob of `--log-path` / `--auth-log-path` patterns, followed through
/// one inotify fd. Register it in mio (readable) and call
/// [`on_inotify`](Self::on_inotify) when it fires.
pub struct LogSet {
    inotify: Inotify,
    /// The same directories, for `ALARM_MASK` only (see there).
    alarm: Inotify,
    events: EventBuf,
    files: Files,
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
    pub fn open(patterns: &[(String, LogKind)], from_start: bool) -> io::Result<LogSet> {
        LogSet::open_with(patterns, Follow::new(from_start))
    }

    /// [`open`](Self::open) with all of [`Follow`]'s choices.
    pub fn open_with(patterns: &[(String, LogKind)], follow: Follow) -> io::Result<LogSet> {
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
            moved_from: Vec::new(),
            renamed: Vec::new(),
        };
        for (text, kind) in patterns {
            files.add_pattern(Path::new(text), *kind)?;
        }
        // Watch before listing, so a file created in between is not missed.
        for dir in &mut files.dirs {
            dir.watch = inotify.add_watch(dir.fs_path(), WATCH_MASK).ok();
            dir.alarm = alarm.add_watch(dir.fs_path(), ALARM_MASK).ok();
        }
        for p in 0..files.patterns.len() {
            files.scan_pattern(p);
        }
        // Nothing is read at open; a sink comes with the first call.
        files.flush_dirty(
            &mut |_: LogKind, _: usize, _: &[u8]| LineVerdict::Ignored,
            true,
        );
        files.opening = false;
        Ok(LogSet {
            inotify,
            alarm,
            events: EventBuf::new(),
            files,
        })
    }

    /// The inotify fd is readable: drain its events until `WouldBlock`,
    /// then read the files they concern.
    pub fn on_inotify(&mut self, sink: &mut impl LineSink) {
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
        }
        self.files.flush_dirty(sink, false);
        self.files.moved_from.clear();
        self.files.read_renamed(sink);
    }

    /// The alarm fd (see `ALARM_MASK`), to register in the loop.
    pub fn alarm(&mut self) -> &mut Inotify {
        &mut self.alarm
    }

    /// The alarm fd is readable: drain it. True when a file beside a log
    /// was created, moved, deleted or opened: read now, before the
    /// rotation this may announce. (The events themselves come again
    /// through the main fd.)
    pub fn drain_alarm(&mut self) -> bool {
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
    pub fn on_tick(&mut self, sink: &mut impl LineSink) {
        self.drop_moved_watches();
        for d in 0..self.files.dirs.len() {
            if self.files.dirs[d].watch.is_some() {
                continue;
            }
            let dir = &mut self.files.dirs[d];
            dir.watch = self.inotify.add_watch(dir.fs_path(), WATCH_MASK).ok();
            dir.alarm = self.alarm.add_watch(dir.fs_path(), ALARM_MASK).ok();
            // Whether or not the watch took, list the directory: it may have
            // just appeared, or we may be without inotify for it (ENOSPC).
            self.files.scan_dir(d);
        }
        self.files.rescan = false;
        self.files.mark_all(Dirty::Path);
        self.files.flush_dirty(sink, false);
        self.files.age_draining(sink);
    }

    /// Look at every source and read what it holds now, up to
    /// `MAX_PUMP_BYTES` a file: [`has_backlog`](Self::has_backlog) says
    /// whether more is waiting (`--once` calls this until it is not).
    pub fn read_available(&mut self, sink: &mut impl LineSink) {
        self.files.mark_all(Dirty::Path);
        self.files.flush_dirty(sink, false);
    }

    /// A file stopped at `MAX_PUMP_BYTES` with more to read: the next
    /// [`on_inotify`](Self::on_inotify) or [`read_available`](Self::read_available)
    /// reads on without waiting for an event.
    pub fn has_backlog(&self) -> bool {
        let files = self.files.tails.iter();
        files
            .flat_map(|t| t.current.iter().chain(&t.draining))
            .any(TailedFile::has_more)
    }

    /// Per-source counters; the index is the one passed to the sink.
    pub fn sources(&self) -> &[SourceStats] {
        &self.files.stats
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
    pub fn buffer_bytes(&self) -> usize {
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
        }
    }

    fn open_files(&self) -> usize {
        usize::from(self.current.is_some()) + self.draining.len()
    }

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
        let dir_path = text.parent().unwrap_or(Path::new("")).to_path_buf();
        let dir = match self.dirs.iter().position(|d| d.path == dir_path) {
            Some(d) => d,
            None => {
                self.dirs.push(WatchedDir {
                    path: dir_path,
                    watch: None,
                    alarm: None,
                    moved: false,
                });
                self.dirs.len() - 1
            }
        };
        let literal = !has_wildcard(&name.to_string_lossy());
        self.patterns.push(Pattern {
            dir,
            name,
            literal,
            kind,
            placeholder: None,
            has_files: false,
            text: text.to_path_buf(),
        });
        Ok(())
    }

    fn matches(&self, p: usize, name: &CStr) -> bool {
        let pat = &self.patterns[p];
        if pat.literal {
            pat.name.as_c_str() == name
        } else {
            glob_matches(pat.name.as_bytes(), name.to_bytes())
        }
    }

    fn scan_dir(&mut self, d: usize) {
        for p in 0..self.patterns.len() {
            if self.patterns[p].dir == d {
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

    /// A glob that matches nothing keeps one source saying so.
    fn mark_unmatched(&mut self, p: usize, why: impl Display) {
        let pat = &mut self.patterns[p];
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
        if let Some(i) = pat.placeholder.take() {
            self.tails[i] = tail;
            self.stats[i] = new_stats(path, pat.kind);
            return i;
        }
        self.tails.push(tail);
        self.stats.push(new_stats(path, pat.kind));
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
        let start = if self.opening && !self.follow.from_start {
            Start::End
        } else {
            Start::Beginning
        };
        let nofollow = !self.tails[i].literal && !self.follow.follow_symlinks;
        match TailedFile::open(&self.stats[i].path, start, nofollow) {
            Ok(file) => {
                self.open_files += 1;
                self.tails[i].current = Some(file);
                self.stats[i].error = None;
            }
            Err(e) => self.stats[i].set_error(e),
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
        let (tail, stats) = (&mut self.tails[i], &mut self.stats[i]);
        for file in tail.draining.iter_mut() {
            // A read error on a file we only drain is not worth an error.
            let _ = pump_file(file, stats, i, sink, false);
        }
        if let Some(file) = tail.current.as_mut() {
            if let Err(e) = pump_file(file, stats, i, sink, true) {
                stats.set_error(e);
            }
        }
        let files = tail.current.iter().chain(&tail.draining);
        if files.into_iter().any(TailedFile::has_more) {
            tail.dirty = tail.dirty.max(Dirty::Data);
        }
    }

    /// One tick passed: close draining files that stayed quiet long enough,
    /// handing out a last line that never got its newline.
    fn age_draining(&mut self, sink: &mut impl LineSink) {
        for (i, (tail, stats)) in self.tails.iter_mut().zip(&mut self.stats).enumerate() {
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
    let n = file.pump(&mut |line| deliver(stats, i, sink, line))?;
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

/// Regular files (not symlinks) beside `path` named like its rotated
/// copies, newest first, at most `MAX_COPIES`.
fn copies_of(path: &Path) -> Vec<RotatedCopy> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = fs::read_dir(dir) else {
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

/// `access.log.1`, `access.log-20250101`, `access.log_old` for `access.log`.
fn is_copy_name(log: &[u8], other: &[u8]) -> bool {
    other.len() > log.len() + 1
        && other.starts_with(log)
        && matches!(other[log.len()], b'.' | b'-' | b'_')
}

/// Hand one line of source `i` to the sink, counting it.
fn deliver(stats: &mut SourceStats, i: usize, sink: &mut impl LineSink, line: Line<'_>) {
    let kind = stats.kind;
    stats.count(line, |bytes| sink.line(kind, i, bytes));
}

impl SourceStats {
    /// Count one line. Over-long lines are counted malformed without
    /// bothering `judge`, which sees complete lines only.
    pub(crate) fn count(&mut self, line: Line<'_>, judge: impl FnOnce(&[u8]) -> LineVerdict) {
        self.lines += 1;
        let malformed = match line {
            Line::TooLong => true,
            Line::Complete(bytes) => judge(bytes) == LineVerdict::Malformed,
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
mod tests {
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
}
