//! One open log file being read: its fd, how far we have read, and its own
//! line buffer. Knows nothing about paths changing under it; `logset` does.

use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

use super::linebuf::{Line, LineBuf};
use crate::sys::file::{open_read, Links};

/// Identity of a file whatever its name: device and inode. Two paths with
/// the same `FileId` are the same file (a rename, a hard link, a symlink).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    pub(crate) fn of(meta: &Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// How far history has counted one log file (kept per path in the history
/// file, as fail2ban keeps its): the file's identity, the offset of the line
/// boundary up to which its lines are in the lifetime totals, and a
/// fingerprint of its first line, which tells the same file from one
/// truncated in place (copytruncate) or replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogCursor {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    /// Bytes counted, at a line boundary; 0: nothing.
    pub(crate) offset: u64,
    /// [`first_line_fingerprint`] of the file (unused when `offset` is 0).
    pub(crate) fingerprint: u64,
}

impl LogCursor {
    pub(crate) fn file_id(&self) -> FileId {
        FileId {
            dev: self.dev,
            ino: self.ino,
        }
    }
}

/// The longest first line a fingerprint covers; a longer one is
/// fingerprinted by its first this many bytes.
const FINGERPRINT_BYTES: usize = 1024;

/// FNV-1a (64 bits) of the file's first line, without its newline: stable
/// across builds and versions, as a stored fingerprint must be. `None`
/// while the file holds no complete first line.
pub(crate) fn first_line_fingerprint(file: &File) -> io::Result<Option<u64>> {
    let mut head = [0u8; FINGERPRINT_BYTES];
    let mut n = 0;
    while n < head.len() {
        match file.read_at(&mut head[n..], n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let line = match memchr::memchr(b'\n', &head[..n]) {
        Some(end) => &head[..end],
        None if n == head.len() => &head[..],
        None => return Ok(None),
    };
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in line {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    Ok(Some(hash))
}

/// The rotated copies a catch-up after a truncation read (see `logset`):
/// the one caught up from (modified at `since`), the older ones, and the
/// newer ones read whole.
#[derive(Debug)]
pub(crate) struct Consumed {
    pub(crate) since: std::time::SystemTime,
    pub(crate) done: Vec<FileId>,
}

/// Where reading starts in a newly opened file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// At its current end: only lines written from now on (files present
    /// when the program starts).
    End,
    /// At byte 0 (`--from-start`, and any file that appears later).
    Beginning,
}

/// How many of the last bytes read a file remembers, to tell later whether
/// the file still holds them (a truncation the size cannot show) and to
/// recognise a copy of it.
const SEEN_BYTES: usize = 64;

/// Most bytes read from one rotated copy: a copy holds what the log gained
/// between two of our reads (milliseconds of traffic), far less than this;
/// a file planted beside the log (a sparse 20 GB one) would otherwise hold
/// the event loop for minutes.
pub(crate) const MAX_COPY_READ: u64 = 16 << 20; // 16 MiB

/// Most bytes one [`TailedFile::pump`] reads before handing back to the loop
/// (about 0.1 s of parsing): a log grown by gigabytes at once (`truncate -s 8G`
/// by whoever may write it) is read over several turns of the loop, with
/// signals, keys and sockets handled between them. Small in unit tests so
/// they can cross it cheaply.
#[cfg(not(test))]
pub(crate) const MAX_PUMP_BYTES: u64 = 64 << 20; // 64 MiB
#[cfg(test)]
pub(crate) const MAX_PUMP_BYTES: u64 = 64 << 10; // 64 KiB

/// Bytes one read asks for while a file opened at its start holds more
/// (`--from-start`, `--once`): fewer system calls for the backlog, and a
/// buffer that stays in the L2 cache while its lines are parsed.
const BACKLOG_READ: usize = 256 << 10; // 256 KiB

/// An open regular file, read to its end on each [`pump`](Self::pump).
#[derive(Debug)]
pub(crate) struct TailedFile {
    file: File,
    pub(crate) id: FileId,
    /// Bytes consumed from the file (its read position).
    offset: u64,
    /// The last bytes consumed, ending at `offset`.
    seen: Seen,
    buf: LineBuf,
    /// Read from byte 0 after catching up from these copies, and nothing
    /// read since: whether a copy was skipped is told by the first bytes.
    pub(crate) copies_read: Option<Consumed>,
    /// Ticks in a row this file gave no bytes (used while draining a file
    /// that was rotated away, to decide when the writer is done with it).
    pub(crate) idle_ticks: u32,
    /// A copy read since the last [`take_copy_capped`](Self::take_copy_capped)
    /// held more than [`MAX_COPY_READ`] bytes to read: the rest was skipped.
    copy_capped: bool,
    /// The last pump stopped at [`MAX_PUMP_BYTES`]: read on soon.
    more: bool,
    /// The most bytes one pump reads ([`MAX_PUMP_BYTES`], less while a
    /// `--since` read-back runs, so the loop is served between slices).
    slice: u64,
    /// Bytes of the file history has counted already (an earlier run's
    /// cursor): lines below are read as recounted, not new.
    counted_until: u64,
    /// [`first_line_fingerprint`], once the file has a complete first line
    /// that we read.
    fingerprint: Option<u64>,
}

impl TailedFile {
    /// Open `path` for reading. `O_NONBLOCK` so a FIFO swapped in after the
    /// caller's `stat` cannot block the loop in `open`; then `fstat` on the
    /// fd decides: anything but a regular file is refused.
    ///
    /// `nofollow` refuses a symlink (`ELOOP`): a file a glob found in a log
    /// directory is opened as itself, never as what a link points to.
    pub(crate) fn open(path: &Path, start: Start, nofollow: bool) -> io::Result<TailedFile> {
        let links = if nofollow {
            Links::Refuse
        } else {
            Links::Follow
        };
        let mut file = open_read(path, links)?;
        let meta = file.metadata()?;
        let mut buf = LineBuf::new();
        let mut seen = Seen::default();
        let offset = match start {
            Start::Beginning => {
                if meta.len() > BACKLOG_READ as u64 {
                    buf.big_reads(BACKLOG_READ);
                }
                0
            }
            Start::End => {
                let end = file.seek(SeekFrom::End(0))?;
                seen.load(&file, end)?;
                // A writer caught half-way through a line: skip its tail
                // rather than report a fragment as a malformed line.
                if seen.bytes().last().is_some_and(|&b| b != b'\n') {
                    buf.skip_to_next_line();
                }
                end
            }
        };
        Ok(TailedFile {
            file,
            id: FileId::of(&meta),
            offset,
            seen,
            buf,
            copies_read: None,
            idle_ticks: 0,
            copy_capped: false,
            more: false,
            slice: MAX_PUMP_BYTES,
            counted_until: 0,
            fingerprint: None,
        })
    }

    /// Whether this is the file `cursor` was taken of (its first line is
    /// the same) and it still holds what was counted.
    pub(crate) fn is_at(&self, cursor: &LogCursor) -> io::Result<bool> {
        if cursor.offset == 0 || self.file.metadata()?.len() < cursor.offset {
            return Ok(false);
        }
        Ok(first_line_fingerprint(&self.file)? == Some(cursor.fingerprint))
    }

    /// Read on from `offset` (a line boundary of this file: a cursor's),
    /// as if we had read up to it (`--resume`).
    pub(crate) fn skip_to(&mut self, offset: u64) -> io::Result<()> {
        self.offset = self.file.seek(SeekFrom::Start(offset))?;
        self.seen = Seen::default();
        self.seen.load(&self.file, offset)?;
        self.buf.clear();
        self.fingerprint = first_line_fingerprint(&self.file)?;
        Ok(())
    }

    /// `--since`: read on from the first line at or after `cut` (a binary
    /// search on offsets, see `source::backfill`), in slices of `slice`
    /// bytes until [`end_slices`](Self::end_slices).
    pub(crate) fn seek_to_time(
        &mut self,
        cut: crate::parse::UnixTime,
        slice: u64,
        time_of: &mut impl FnMut(&[u8]) -> Option<crate::parse::UnixTime>,
    ) -> io::Result<()> {
        let at = super::backfill::first_line_at(&self.file, cut, time_of)?;
        self.slice = slice;
        self.skip_to(at)
    }

    /// Back to full-size reads (the read-back is done).
    pub(crate) fn end_slices(&mut self) {
        self.slice = MAX_PUMP_BYTES;
    }

    /// History has counted this file up to `offset` (a line boundary): the
    /// lines below it, read from the start, are handed out as recounted.
    pub(crate) fn count_until(&mut self, offset: u64) -> io::Result<()> {
        self.counted_until = offset;
        self.fingerprint = first_line_fingerprint(&self.file)?;
        Ok(())
    }

    /// How far this file's lines are in what we counted: the complete
    /// lines read (never less than an earlier run's cursor we read again
    /// from the start). `None` before we know the first line.
    pub(crate) fn cursor(&self) -> Option<LogCursor> {
        let read = self.offset.saturating_sub(self.buf.pending() as u64);
        let offset = read.max(self.counted_until);
        let fingerprint = match offset {
            0 => 0,
            _ => self.fingerprint?,
        };
        Some(LogCursor {
            dev: self.id.dev,
            ino: self.id.ino,
            offset,
            fingerprint,
        })
    }

    /// Read everything up to the end of the file, handing out complete
    /// lines, each with whether history counted it already (it lies below
    /// [`count_until`](Self::count_until)'s offset). Returns the bytes read.
    /// Call [`truncated`](Self::truncated) first: after a truncation this
    /// would read from the old offset.
    pub(crate) fn pump(&mut self, emit: &mut impl FnMut(Line<'_>, bool)) -> io::Result<u64> {
        let mut total = 0;
        if self.offset < self.counted_until {
            // Up to the boundary only, so no line straddles it.
            let limit = (self.counted_until - self.offset).min(self.slice);
            let mut from = (&self.file).take(limit);
            total = read_into(&mut self.buf, &mut self.seen, &mut from, &mut |l| {
                emit(l, true)
            })?;
            self.offset += total;
            if self.offset < self.counted_until {
                // Out of budget, or the file ends early (truncated: the
                // next `truncated` sees it).
                return Ok(self.pumped(total, total == limit));
            }
        }
        let mut from = (&self.file).take(self.slice - total);
        let n = read_into(&mut self.buf, &mut self.seen, &mut from, &mut |l| {
            emit(l, false)
        })?;
        self.offset += n;
        total += n;
        if self.fingerprint.is_none() && self.offset > self.buf.pending() as u64 {
            // A first line was read: know it while it is the one we read
            // (unreadable now: no cursor is kept for the file).
            self.fingerprint = first_line_fingerprint(&self.file).unwrap_or(None);
        }
        Ok(self.pumped(total, total >= self.slice))
    }

    fn pumped(&mut self, total: u64, more: bool) -> u64 {
        self.more = more;
        if !more {
            // At the end of what the file holds: any backlog is read.
            self.buf.usual_reads();
        }
        if total > 0 {
            self.idle_ticks = 0;
        }
        total
    }

    /// How far into the file we have read.
    pub(crate) fn position(&self) -> u64 {
        self.offset
    }

    /// The file's size now (0 when it cannot be read).
    pub(crate) fn size(&self) -> u64 {
        self.file.metadata().map_or(0, |m| m.len())
    }

    /// Whether the last [`pump`](Self::pump) stopped at [`MAX_PUMP_BYTES`]
    /// with more to read.
    pub(crate) fn has_more(&self) -> bool {
        self.more
    }

    /// Whether the file was truncated in place (copytruncate) since we read
    /// it: it is shorter than what we read, or it was truncated and written
    /// past our offset before we looked, so the bytes before our offset are
    /// no longer the ones we read. Returns our offset if so.
    pub(crate) fn truncated(&self) -> io::Result<Option<u64>> {
        let len = self.file.metadata()?.len();
        let cut = len < self.offset
            || (len > self.offset && !self.seen.is_in(&self.file, self.offset)?);
        Ok(cut.then_some(self.offset))
    }

    /// After a truncation: go on reading `copy` (what logrotate saved of
    /// this file before truncating it) from our offset to its end, if its
    /// bytes before our offset are the ones we read. Returns the bytes read
    /// from it, or `None` when it is not a copy of what we read. The partial
    /// line at its end is kept: the writer finishes it in the emptied file.
    pub(crate) fn catch_up(
        &mut self,
        copy: &File,
        emit: &mut impl FnMut(Line<'_>),
    ) -> io::Result<Option<u64>> {
        if self.offset == 0 || !self.seen.is_in(copy, self.offset)? {
            return Ok(None);
        }
        self.read_copy(copy, self.offset, emit)
    }

    /// After [`catch_up`](Self::catch_up): the file was truncated again
    /// before we looked, and `copy` holds the whole of what it held in
    /// between. Read it all.
    pub(crate) fn catch_up_whole(
        &mut self,
        copy: &File,
        emit: &mut impl FnMut(Line<'_>),
    ) -> io::Result<Option<u64>> {
        self.read_copy(copy, 0, emit)
    }

    /// Whether `copy` is a copy of what the file holds now (made, but the
    /// truncation not done yet): their first bytes are the same.
    pub(crate) fn is_copy_of_current(&self, copy: &File) -> io::Result<bool> {
        let (mut ours, mut theirs) = ([0u8; SEEN_BYTES], [0u8; SEEN_BYTES]);
        let n = self.file.read_at(&mut ours, 0)?;
        let m = copy.read_at(&mut theirs, 0)?;
        let k = n.min(m);
        Ok(k > 0 && ours[..k] == theirs[..k])
    }

    /// Whether `copy` holds the last bytes we read from this file where we
    /// read them (it is a copy of what we read).
    pub(crate) fn holds_what_was_read(&self, copy: &File) -> io::Result<bool> {
        self.seen.is_in(copy, self.offset)
    }

    /// Read all of `copy` (at most [`MAX_COPY_READ`] bytes) on a line
    /// buffer of its own, handing out its last line even without a newline:
    /// a generation of the log that was skipped, read out of turn. Returns
    /// whether the copy held more than that.
    pub(crate) fn read_detached(copy: &File, emit: &mut impl FnMut(Line<'_>)) -> io::Result<bool> {
        let mut buf = LineBuf::new();
        let mut from = ReadAt::new(copy, 0);
        read_into(&mut buf, &mut Seen::default(), &mut from, emit)?;
        let capped = from.hit_cap();
        // Cut at the cap, the partial line is a fragment, not the last line.
        if !capped {
            buf.finish();
            while let Some(line) = buf.next_line() {
                emit(line);
            }
        }
        Ok(capped)
    }

    fn read_copy(
        &mut self,
        copy: &File,
        pos: u64,
        emit: &mut impl FnMut(Line<'_>),
    ) -> io::Result<Option<u64>> {
        let mut from = ReadAt::new(copy, pos);
        let n = read_into(&mut self.buf, &mut self.seen, &mut from, emit)?;
        if from.hit_cap() {
            // The partial line held is a fragment of the copy: drop it, or
            // the log's next line would be counted as its end.
            self.buf.clear();
            self.copy_capped = true;
        }
        Ok(Some(n))
    }

    /// Whether a copy read since the last call was cut at [`MAX_COPY_READ`].
    pub(crate) fn take_copy_capped(&mut self) -> bool {
        std::mem::take(&mut self.copy_capped)
    }

    /// After a copy of what the file holds now was read whole: read the
    /// file on from the copy's end (`truncated` checks, from the last bytes
    /// read from the copy, that it is still the same).
    pub(crate) fn resume_at(&mut self, len: u64) -> io::Result<()> {
        self.offset = self.file.seek(SeekFrom::Start(len))?;
        self.forget_counted();
        Ok(())
    }

    /// The file was truncated: what history counted of it is gone.
    fn forget_counted(&mut self) {
        self.counted_until = 0;
        self.fingerprint = None;
    }

    /// Read the truncated file again from byte 0. Without a copy caught up
    /// (`keep_partial` false) the partial line held is a fragment whose end
    /// is lost: it is dropped, and its length returned.
    pub(crate) fn restart(&mut self, keep_partial: bool) -> io::Result<usize> {
        let dropped = if keep_partial { 0 } else { self.buf.pending() };
        if !keep_partial {
            self.buf.clear();
        }
        self.offset = self.file.seek(SeekFrom::Start(0))?;
        self.seen = Seen::default();
        self.forget_counted();
        Ok(dropped)
    }

    /// The writer is done with this file: hand out a last line that never
    /// got its newline. The file is closed when `self` is dropped.
    pub(crate) fn finish(&mut self, emit: &mut impl FnMut(Line<'_>)) {
        self.buf.finish();
        while let Some(line) = self.buf.next_line() {
            emit(line);
        }
    }

    /// Bytes held by the line buffer's allocation.
    #[cfg(test)]
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }
}

/// Fill `buf` from `from` until it has nothing more, handing out complete
/// lines and remembering the last bytes read in `seen`.
fn read_into(
    buf: &mut LineBuf,
    seen: &mut Seen,
    from: &mut impl Read,
    emit: &mut impl FnMut(Line<'_>),
) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        let mut recording = Recording { from, seen };
        let n = match buf.fill(&mut recording) {
            Ok(0) => return Ok(total),
            Ok(n) => n as u64,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(total),
            Err(e) => return Err(e),
        };
        total += n;
        while let Some(line) = buf.next_line() {
            emit(line);
        }
    }
}

/// The last bytes read from a file (at most `SEEN_BYTES`).
#[derive(Debug, Clone, Copy)]
struct Seen {
    bytes: [u8; SEEN_BYTES],
    len: usize,
}

impl Default for Seen {
    fn default() -> Seen {
        Seen {
            bytes: [0; SEEN_BYTES],
            len: 0,
        }
    }
}

impl Seen {
    fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn push(&mut self, new: &[u8]) {
        if new.len() >= SEEN_BYTES {
            self.bytes.copy_from_slice(&new[new.len() - SEEN_BYTES..]);
            self.len = SEEN_BYTES;
            return;
        }
        let keep = self.len.min(SEEN_BYTES - new.len());
        self.bytes.copy_within(self.len - keep..self.len, 0);
        self.bytes[keep..keep + new.len()].copy_from_slice(new);
        self.len = keep + new.len();
    }

    /// Remember the bytes of `file` just before `end` (a file opened at
    /// its end).
    fn load(&mut self, file: &File, end: u64) -> io::Result<()> {
        let n = end.min(SEEN_BYTES as u64) as usize;
        file.read_exact_at(&mut self.bytes[..n], end - n as u64)?;
        self.len = n;
        Ok(())
    }

    /// Whether `file` holds these bytes just before `end`.
    fn is_in(&self, file: &File, end: u64) -> io::Result<bool> {
        let n = self.len;
        if (n as u64) > end {
            return Ok(false);
        }
        let mut there = [0u8; SEEN_BYTES];
        match file.read_exact_at(&mut there[..n], end - n as u64) {
            Ok(()) => Ok(there[..n] == self.bytes[..n]),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// A reader that remembers the last bytes it passed on.
struct Recording<'a, R> {
    from: &'a mut R,
    seen: &'a mut Seen,
}

impl<R: Read> Read for Recording<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.from.read(out)?;
        self.seen.push(&out[..n]);
        Ok(n)
    }
}

/// Reads `file` from `pos` up to `end` with `pread`, leaving its fd
/// position alone.
struct ReadAt<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl<'a> ReadAt<'a> {
    /// From `pos`, at most [`MAX_COPY_READ`] bytes.
    fn new(file: &'a File, pos: u64) -> ReadAt<'a> {
        let end = pos.saturating_add(MAX_COPY_READ);
        ReadAt { file, pos, end }
    }

    /// Whether reading stopped at `end` with more in the file.
    fn hit_cap(&self) -> bool {
        self.pos >= self.end && self.file.metadata().is_ok_and(|m| m.len() > self.end)
    }
}

impl Read for ReadAt<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let room = usize::try_from(self.end.saturating_sub(self.pos)).unwrap_or(usize::MAX);
        let room = room.min(out.len());
        let n = self.file.read_at(&mut out[..room], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

pub(crate) use crate::sys::file::not_regular;
