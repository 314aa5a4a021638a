//! Complete lines out of a byte stream, through one reused buffer.
//!
//! Modelled on ripgrep's `line_buffer.rs`: bytes are read into the spare room
//! of one `Vec<u8>`, complete lines are handed out as slices of it, the
//! partial tail stays for the next read, and the buffer never grows past
//! `max_line + read_min` bytes whatever arrives.
//!
//! Lines are split on `\n` only. A trailing `\r` (CRLF files) is left on the
//! line for the parsers, which treat it as whitespace; NUL bytes and invalid
//! UTF-8 are ordinary bytes. Empty lines, and lines that are only `\r` (the
//! empty lines of a CRLF file), are not handed out.
//!
//! A line longer than `max_line` bytes (newline excluded) is never held: as
//! soon as the partial line passes the limit its bytes are dropped and the
//! buffer discards up to the next newline, then reports [`Line::TooLong`]
//! once. Whether a line is too long does not depend on how the bytes were
//! chunked by `read`.

use std::io::{self, Read};
use std::ops::Range;

use memchr::memchr;

/// The longest line handed out; longer lines are skipped and reported.
pub(crate) const MAX_LINE: usize = 64 << 10; // 64 KiB

/// Least room offered to one `read`, and the initial buffer size.
const READ_MIN: usize = 16 << 10; // 16 KiB

/// One line out of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// A complete, non-empty line without its `\n` (a `\r` before it stays).
    Complete {
        text: &'a [u8],
        /// The bytes read after the line: the lines that follow it, the
        /// last maybe partial (empty at the end of what was read). The
        /// engine reads the next line's address from them one line early.
        next: &'a [u8],
    },
    /// A line over the limit was skipped; its bytes are gone.
    TooLong,
}

impl<'a> Line<'a> {
    /// The text of a complete line.
    pub fn text(self) -> Option<&'a [u8]> {
        match self {
            Line::Complete { text, .. } => Some(text),
            Line::TooLong => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Bytes in `start..end` are the start of a line we will hand out.
    Normal,
    /// Drop bytes up to and including the next newline; then report
    /// `TooLong` if `report` (an over-long line), or nothing (we started
    /// reading in the middle of a line).
    Discard { report: bool },
}

/// A line splitter over one reused buffer.
///
/// Invariants between calls:
/// - `start <= scanned <= end <= buf.len() <= cap()`;
/// - `buf[start..end]` are bytes read but not yet handed out;
/// - `buf[start..scanned]` holds no `\n` (so a long partial line is scanned
///   once, not once per `read`);
/// - after [`next_line`](Self::next_line) returns `None`, `end - start <=
///   max_line`, so the next [`fill`](Self::fill) has at least `read_min`
///   bytes of room after compaction;
/// - in `Discard` mode nothing is held: `start == end`.
#[derive(Debug)]
pub struct LineBuf {
    /// Backing storage, zero-filled as it grows; its length is the capacity
    /// in use. Never shrinks (it is reused for the life of the source).
    buf: Vec<u8>,
    start: usize,
    scanned: usize,
    end: usize,
    mode: Mode,
    /// The stream has ended: the partial tail is handed out as a last line.
    at_eof: bool,
    max_line: usize,
    read_min: usize,
    /// `read_min` outside a backlog read ([`big_reads`](Self::big_reads)).
    base_read_min: usize,
}

impl Default for LineBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl LineBuf {
    /// A splitter with the standard limit [`MAX_LINE`]. Allocates nothing
    /// until the first [`fill`](Self::fill).
    pub fn new() -> LineBuf {
        Self::with_max_line(MAX_LINE)
    }

    /// A splitter with another line limit (tests and fuzzing use small ones
    /// to reach the discard path with small inputs).
    pub fn with_max_line(max_line: usize) -> LineBuf {
        let read_min = READ_MIN.min(max_line.saturating_add(1));
        LineBuf {
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            end: 0,
            mode: Mode::Normal,
            at_eof: false,
            max_line,
            read_min,
            base_read_min: read_min,
        }
    }

    /// Read `size` bytes at a time (a buffer that large) until
    /// [`usual_reads`](Self::usual_reads). For a backlog read once (a large
    /// file read from its start): a read costs a system call, and 16 KiB
    /// reads of a 220 MB log took 40-54 ms of CPU against 29 ms at 256 KiB
    /// (`dd`, issue 13).
    pub(crate) fn big_reads(&mut self, size: usize) {
        self.read_min = size.max(self.base_read_min);
    }

    /// Back to the usual reads (the backlog is read): the memory of
    /// [`big_reads`](Self::big_reads) is given back at the next fill.
    pub(crate) fn usual_reads(&mut self) {
        self.read_min = self.base_read_min;
    }

    /// The most the buffer will ever hold.
    fn cap(&self) -> usize {
        self.max_line.saturating_add(self.read_min)
    }

    /// Bytes currently allocated for the buffer.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Bytes read but not yet handed out (the partial tail, once drained).
    pub(crate) fn pending(&self) -> usize {
        self.end - self.start
    }

    /// Forget everything held (the file was truncated or replaced); keeps the
    /// allocation.
    pub(crate) fn clear(&mut self) {
        self.start = 0;
        self.scanned = 0;
        self.end = 0;
        self.mode = Mode::Normal;
        self.at_eof = false;
    }

    /// Drop bytes up to the next newline without reporting them: used when
    /// reading starts in the middle of a line (a file opened at its end
    /// while a writer was half-way through a line).
    pub(crate) fn skip_to_next_line(&mut self) {
        self.clear();
        self.mode = Mode::Discard { report: false };
    }

    /// The stream has ended (a rotated file went idle): the next calls to
    /// [`next_line`](Self::next_line) hand out the partial tail as a last
    /// line, then the buffer is empty and ready for reuse.
    pub fn finish(&mut self) {
        self.at_eof = true;
    }

    /// Read once from `r` into the spare room. Returns the bytes read (0 at
    /// end of file). Retries `Interrupted`; `WouldBlock` is returned as is.
    ///
    /// Call [`next_line`](Self::next_line) until it returns `None` before the
    /// next `fill`, or the room may run out (an `InvalidInput` error).
    pub fn fill<R: Read + ?Sized>(&mut self, r: &mut R) -> io::Result<usize> {
        self.make_room();
        let room = &mut self.buf[self.end..];
        if room.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "line buffer full: lines were not consumed",
            ));
        }
        loop {
            match r.read(room) {
                Ok(n) => {
                    self.end += n.min(room.len());
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Ensure at least `read_min / 2` bytes of room, compacting first and
    /// growing (up to `cap`) only when compaction is not enough.
    fn make_room(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.scanned = 0;
            self.end = 0;
        }
        let want = (self.read_min / 2).max(1);
        if self.buf.len() > self.cap() {
            // A backlog read is over: keep the usual buffer only.
            self.compact();
            self.buf.truncate(self.cap().max(self.end));
            self.buf.shrink_to_fit();
        }
        if self.buf.len() - self.end >= want {
            return;
        }
        self.compact();
        if self.buf.len() - self.end < want && self.buf.len() < self.cap() {
            let grown = (self.buf.len() * 2).max(self.read_min).min(self.cap());
            self.buf.resize(grown, 0);
        }
    }

    /// Move the bytes held to the start of the buffer.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.scanned -= self.start;
            self.start = 0;
        }
    }

    /// The next complete line, or `None` when only a partial line (or
    /// nothing) is left. Over-long lines come out as [`Line::TooLong`].
    pub fn next_line(&mut self) -> Option<Line<'_>> {
        loop {
            if let Mode::Discard { report } = self.mode {
                let Some(nl) = memchr(b'\n', &self.buf[self.start..self.end]) else {
                    return self.drop_discarded(report);
                };
                self.start += nl + 1;
                self.scanned = self.start;
                self.mode = Mode::Normal;
                if report {
                    return Some(Line::TooLong);
                }
                continue;
            }
            let Some(range) = self.take_line() else {
                return self.take_tail();
            };
            if range.len() > self.max_line {
                return Some(Line::TooLong);
            }
            if !is_blank(&self.buf[range.clone()]) {
                return Some(Line::Complete {
                    text: &self.buf[range],
                    next: &self.buf[self.start..self.end],
                });
            }
        }
    }

    /// Consume through the next newline and return the line's range.
    fn take_line(&mut self) -> Option<Range<usize>> {
        match memchr(b'\n', &self.buf[self.scanned..self.end]) {
            Some(i) => {
                let line = self.start..self.scanned + i;
                self.start = line.end + 1;
                self.scanned = self.start;
                Some(line)
            }
            None => {
                self.scanned = self.end;
                None
            }
        }
    }

    /// No newline left: hand out the tail at end of stream, start discarding
    /// an over-long partial line, or keep the partial line for later.
    fn take_tail(&mut self) -> Option<Line<'_>> {
        let tail = self.start..self.end;
        if self.at_eof {
            self.clear();
            return match tail.len() {
                n if n > self.max_line => Some(Line::TooLong),
                _ if is_blank(&self.buf[tail.clone()]) => None,
                _ => Some(Line::Complete {
                    text: &self.buf[tail],
                    next: b"",
                }),
            };
        }
        if tail.len() > self.max_line {
            self.clear();
            self.mode = Mode::Discard { report: true };
        }
        None
    }

    /// A `Discard` scan found no newline: keep nothing. At end of stream
    /// the skipped line ends there and is reported if it was over-long.
    fn drop_discarded(&mut self, report: bool) -> Option<Line<'static>> {
        self.start = 0;
        self.scanned = 0;
        self.end = 0;
        if self.at_eof {
            self.clear();
            return report.then_some(Line::TooLong);
        }
        None
    }
}

/// Empty lines and the empty lines of CRLF files are not handed out.
fn is_blank(line: &[u8]) -> bool {
    line.is_empty() || line == b"\r"
}

#[cfg(test)]
mod tests;
