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
pub const MAX_LINE: usize = 64 << 10; // 64 KiB

/// Least room offered to one `read`, and the initial buffer size.
const READ_MIN: usize = 16 << 10; // 16 KiB

/// One line out of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// A complete, non-empty line without its `\n` (a `\r` before it stays).
    Complete(&'a [u8]),
    /// A line over the limit was skipped; its bytes are gone.
    TooLong,
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
        LineBuf {
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            end: 0,
            mode: Mode::Normal,
            at_eof: false,
            max_line,
            read_min: READ_MIN.min(max_line.saturating_add(1)),
        }
    }

    /// The most the buffer will ever hold.
    fn cap(&self) -> usize {
        self.max_line.saturating_add(self.read_min)
    }

    /// Bytes currently allocated for the buffer.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Bytes read but not yet handed out (the partial tail, once drained).
    pub fn pending(&self) -> usize {
        self.end - self.start
    }

    /// Forget everything held (the file was truncated or replaced); keeps the
    /// allocation.
    pub fn clear(&mut self) {
        self.start = 0;
        self.scanned = 0;
        self.end = 0;
        self.mode = Mode::Normal;
        self.at_eof = false;
    }

    /// Drop bytes up to the next newline without reporting them: used when
    /// reading starts in the middle of a line (a file opened at its end
    /// while a writer was half-way through a line).
    pub fn skip_to_next_line(&mut self) {
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
        if self.buf.len() - self.end >= want {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.scanned -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < want && self.buf.len() < self.cap() {
            let grown = (self.buf.len() * 2).max(self.read_min).min(self.cap());
            self.buf.resize(grown, 0);
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
                return Some(Line::Complete(&self.buf[range]));
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
                _ => Some(Line::Complete(&self.buf[tail])),
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
mod tests {
    use super::*;
    use crate::testutil::Rng;

    /// What the splitter must produce, computed the obvious way on the whole
    /// input at once.
    fn oracle(input: &[u8], max_line: usize, at_eof: bool) -> Vec<Option<Vec<u8>>> {
        let mut out = Vec::new();
        let mut parts: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        let tail = parts.pop().unwrap_or_default();
        if at_eof {
            parts.push(tail);
        }
        for line in parts {
            if line.len() > max_line {
                out.push(None);
            } else if !is_blank(line) {
                out.push(Some(line.to_vec()));
            }
        }
        out
    }

    fn collect(buf: &mut LineBuf, out: &mut Vec<Option<Vec<u8>>>) {
        while let Some(line) = buf.next_line() {
            out.push(match line {
                Line::Complete(l) => Some(l.to_vec()),
                Line::TooLong => None,
            });
        }
    }

    /// Feed `input` in chunks whose sizes come from `chunk`.
    fn split_chunked(
        input: &[u8],
        max_line: usize,
        at_eof: bool,
        mut chunk: impl FnMut() -> usize,
    ) -> (Vec<Option<Vec<u8>>>, usize) {
        let mut buf = LineBuf::with_max_line(max_line);
        let mut out = Vec::new();
        let mut rest = input;
        let mut peak = 0;
        while !rest.is_empty() {
            let (mut piece, after) = rest.split_at(chunk().clamp(1, rest.len()));
            rest = after;
            while !piece.is_empty() {
                buf.fill(&mut piece).expect("fill from a slice");
                peak = peak.max(buf.capacity());
                collect(&mut buf, &mut out);
            }
        }
        if at_eof {
            buf.finish();
            collect(&mut buf, &mut out);
            assert_eq!(buf.pending(), 0);
        }
        (out, peak)
    }

    fn random_input(rng: &mut Rng, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| match rng.index(10) {
                0..=1 => b'\n',
                2 => b'\r',
                3 => 0,
                4 => 0xff,
                _ => b'a' + u8::try_from(rng.index(26)).unwrap_or(0),
            })
            .collect()
    }

    #[test]
    fn random_chunks_match_one_shot_split() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..400 {
            let max_line = [1, 3, 7, 16, 64][round % 5];
            let len = rng.index(300);
            let input = random_input(&mut rng, len);
            for at_eof in [false, true] {
                let expected = oracle(&input, max_line, at_eof);
                let mut chunks = Rng(rng.next() | 1);
                let (got, peak) = split_chunked(&input, max_line, at_eof, || chunks.index(40) + 1);
                assert_eq!(
                    got, expected,
                    "round {round} max {max_line} input {input:?}"
                );
                assert!(peak <= max_line + READ_MIN.min(max_line + 1));
            }
        }
    }

    #[test]
    fn long_lines_around_the_limit_with_default_max() {
        let mut input = Vec::new();
        input.extend_from_slice(b"first\n");
        input.extend_from_slice(&vec![b'x'; MAX_LINE]); // exactly the limit: kept
        input.push(b'\n');
        input.extend_from_slice(&vec![b'y'; MAX_LINE + 1]); // one over: skipped
        input.push(b'\n');
        input.extend_from_slice(b"last\n");
        let mut rng = Rng(7);
        for chunk in [1usize, 4096, 65_537, 1 << 20] {
            let (got, _) = split_chunked(&input, MAX_LINE, false, || chunk);
            assert_eq!(got, oracle(&input, MAX_LINE, false), "chunk {chunk}");
        }
        let (got, _) = split_chunked(&input, MAX_LINE, false, || rng.index(20_000) + 1);
        assert_eq!(got.len(), 4);
        assert_eq!(got[2], None);
    }

    #[test]
    fn ten_megabyte_line_is_skipped_in_bounded_memory() {
        let mut input = b"good one\n".to_vec();
        input.extend_from_slice(&vec![b'z'; 10 << 20]);
        input.extend_from_slice(b"\ngood two\n");
        let (got, peak) = split_chunked(&input, MAX_LINE, false, || 1 << 20);
        let expected = vec![Some(b"good one".to_vec()), None, Some(b"good two".to_vec())];
        assert_eq!(got, expected);
        assert!(peak <= MAX_LINE + READ_MIN, "buffer grew to {peak}");
    }

    #[test]
    fn partial_line_waits_for_its_newline() {
        let mut buf = LineBuf::new();
        buf.fill(&mut &b"GET /a HT"[..]).expect("fill");
        assert_eq!(buf.next_line(), None);
        assert_eq!(buf.pending(), 9);
        buf.fill(&mut &b"TP/1.1\r\n\r\n\n"[..]).expect("fill");
        assert_eq!(buf.next_line(), Some(Line::Complete(b"GET /a HTTP/1.1\r")));
        assert_eq!(buf.next_line(), None);
        assert_eq!(buf.pending(), 0);
    }

    #[test]
    fn nul_and_invalid_utf8_are_plain_bytes() {
        let mut buf = LineBuf::new();
        buf.fill(&mut &b"a\0b\xff\xfe\n\xc3\x28\n"[..])
            .expect("fill");
        assert_eq!(buf.next_line(), Some(Line::Complete(b"a\0b\xff\xfe")));
        assert_eq!(buf.next_line(), Some(Line::Complete(b"\xc3\x28")));
        assert_eq!(buf.next_line(), None);
    }

    #[test]
    fn skip_to_next_line_drops_the_head_silently() {
        let mut buf = LineBuf::new();
        buf.skip_to_next_line();
        buf.fill(&mut &b"ail of a line\nwhole\n"[..]).expect("fill");
        assert_eq!(buf.next_line(), Some(Line::Complete(b"whole")));
        assert_eq!(buf.next_line(), None);
    }

    #[test]
    fn finish_hands_out_the_tail_once_then_reuses() {
        let mut buf = LineBuf::new();
        buf.fill(&mut &b"no newline"[..]).expect("fill");
        assert_eq!(buf.next_line(), None);
        buf.finish();
        assert_eq!(buf.next_line(), Some(Line::Complete(b"no newline")));
        assert_eq!(buf.next_line(), None);
        buf.fill(&mut &b"again"[..]).expect("fill");
        assert_eq!(buf.next_line(), None, "finish must not stick");
    }

    #[test]
    fn clear_forgets_discard_mode() {
        let mut buf = LineBuf::with_max_line(4);
        buf.fill(&mut &b"toolong"[..]).expect("fill");
        assert_eq!(buf.next_line(), None);
        buf.clear();
        buf.fill(&mut &b"ok\n"[..]).expect("fill");
        assert_eq!(buf.next_line(), Some(Line::Complete(b"ok")));
    }
}
