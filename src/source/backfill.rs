//! `--since DURATION`: at start, read back through a log's rotated copies
//! and the log itself to the first line at or after the cut (now − DURATION),
//! oldest first, before following it live.
//!
//! - The copies are the files beside the log as logrotate names them:
//!   `access.log.1`, `access.log.2.gz`, … and, with `dateext`,
//!   `access.log-20261206[.gz]`. A copy last written before the cut (its
//!   mtime) holds nothing in range and is never opened. The others are
//!   opened at start and held, so a rotation while we read them renames
//!   nothing under us: every line is read once.
//! - Plain files (the log, uncompressed copies) are placed by a binary
//!   search on byte offsets: seek, skip to the next line, read its time.
//!   Compressed copies are decompressed (flate2, pure Rust) and the lines
//!   before the first one in range skipped.
//! - "In range" starts at the first line whose time is at or after the cut:
//!   what follows it is read whatever its time (a log is in time order, to
//!   within the writer's buffering). Lines whose time cannot be read (other
//!   programs in auth.log, malformed lines) are skipped before it.

use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use flate2::read::MultiGzDecoder;
use memchr::memchr;

use super::linebuf::LineBuf;
use super::tailed_file::{Start, TailedFile};
use crate::parse::UnixTime;
use crate::sys::file::{open_read, Links};

/// At most this many copies of one log are read back (`rotate 52` of
/// weekly logs is a year).
const MAX_COPIES: usize = 64;

/// Below this span the binary search stops and lines are read in order.
const SCAN_SPAN: u64 = 64 << 10;

/// Bytes read from a file at once by the search.
const PROBE_BYTES: usize = 16 << 10;

/// Bytes of a compressed copy decompressed per pass (about 10 ms), so the
/// dashboard is served between slices.
#[cfg(not(test))]
pub(super) const SLICE_BYTES: u64 = 4 << 20;
#[cfg(test)]
pub(super) const SLICE_BYTES: u64 = 16 << 10;

/// A rotated copy to read back, oldest first.
#[derive(Debug)]
pub(super) enum OldFile {
    /// Uncompressed: read like the log itself, placed by the search on
    /// its first pass (`placed`).
    Plain { file: TailedFile, placed: bool },
    /// Compressed: decompressed in slices.
    Gz(GzCopy),
}

impl OldFile {
    /// Its size on disk (compressed for a `.gz`): what progress is told in.
    pub(super) fn size(&self) -> u64 {
        match self {
            OldFile::Plain { file, .. } => file.size(),
            OldFile::Gz(copy) => copy.file().metadata().map_or(0, |m| m.len()),
        }
    }

    /// How much of [`size`](Self::size) is read (compressed bytes taken
    /// by the decoder, for a `.gz`).
    pub(super) fn position(&self) -> u64 {
        use std::io::Seek;
        match self {
            OldFile::Plain { file, .. } => file.position(),
            OldFile::Gz(copy) => {
                let mut file = copy.file();
                file.stream_position().unwrap_or(0)
            }
        }
    }
}

/// A compressed copy's file, and its decoder once it is read.
#[derive(Debug)]
enum Decoder {
    Waiting(File),
    Reading(MultiGzDecoder<File>),
}

/// A gzip copy being decompressed.
#[derive(Debug)]
pub(super) struct GzCopy {
    /// The decoder's buffers are only made when the copy is read: copies
    /// waiting their turn hold just their fd.
    reader: Decoder,
    pub(super) buf: LineBuf,
    /// A line at or after the cut was seen: the rest is all read.
    pub(super) reached: bool,
    pub(super) done: bool,
}

impl GzCopy {
    fn file(&self) -> &File {
        match &self.reader {
            Decoder::Waiting(file) => file,
            Decoder::Reading(reader) => reader.get_ref(),
        }
    }

    fn open(file: File) -> GzCopy {
        GzCopy {
            reader: Decoder::Waiting(file),
            buf: LineBuf::new(),
            reached: false,
            done: false,
        }
    }

    /// Decompress once into the buffer; at the end (or on a corrupt
    /// stream, which ends the copy) the last partial line is handed out.
    pub(super) fn fill(&mut self) -> io::Result<usize> {
        if let Decoder::Waiting(file) = &self.reader {
            match file.try_clone() {
                Ok(file) => self.reader = Decoder::Reading(MultiGzDecoder::new(file)),
                Err(e) => {
                    self.done = true; // unreadable: the copy ends here
                    return Err(e);
                }
            }
        }
        let Decoder::Reading(reader) = &mut self.reader else {
            return Ok(0);
        };
        match self.buf.fill(reader) {
            Ok(0) => {
                self.buf.finish();
                self.done = true;
                Ok(0)
            }
            Ok(n) => Ok(n),
            Err(e) => {
                self.buf.finish();
                self.done = true;
                Err(e)
            }
        }
    }
}

/// A copy's name: the log's name, then `.N` or `-DIGITS` (logrotate's
/// `dateext`), then perhaps `.gz`. Returns whether it is compressed and its
/// generation for ordering (`.N`: N; dated: 0, their mtimes order them).
fn copy_name(log: &[u8], name: &[u8]) -> Option<(bool, u64)> {
    let rest = name.strip_prefix(log)?;
    let (rest, gz) = match rest.strip_suffix(b".gz") {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let (sep, digits) = rest.split_first()?;
    if !matches!(sep, b'.' | b'-') || digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let generation = match sep {
        b'.' => std::str::from_utf8(digits).ok()?.parse().ok()?,
        _ => 0,
    };
    Some((gz, generation))
}

/// The rotated copies of `log` last written at or after `cut`, opened,
/// oldest first (by mtime, then by generation: `.2` before `.1`).
pub(super) fn open_copies(log: &Path, cut: UnixTime) -> Vec<OldFile> {
    let Some((name, entries)) = super::logset::siblings(log) else {
        return Vec::new();
    };
    let cut_time = SystemTime::UNIX_EPOCH + Duration::from_secs(cut.max(0).unsigned_abs());
    let mut found: Vec<(SystemTime, u64, PathBuf, bool)> = entries
        .flatten()
        .filter_map(|e| {
            let (gz, generation) = copy_name(name.as_bytes(), e.file_name().as_bytes())?;
            let meta = e.metadata().ok().filter(fs::Metadata::is_file)?;
            let modified = meta.modified().ok().filter(|m| *m >= cut_time)?;
            Some((modified, generation, e.path(), gz))
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let skip = found.len().saturating_sub(MAX_COPIES);
    found
        .into_iter()
        .skip(skip)
        .filter_map(|(_, _, path, gz)| match gz {
            // A link or anything but a regular file under a copy's name is
            // not read.
            true => open_read(&path, Links::Refuse)
                .ok()
                .map(|f| OldFile::Gz(GzCopy::open(f))),
            false => TailedFile::open(&path, Start::Beginning, true)
                .ok()
                .map(|file| OldFile::Plain {
                    file,
                    placed: false,
                }),
        })
        .collect()
}

/// The offset of the first line of `file` whose time (`time_of`) is at or
/// after `cut`: the end of its last complete line when there is none.
pub(super) fn first_line_at(
    file: &File,
    cut: UnixTime,
    time_of: &mut impl FnMut(&[u8]) -> Option<UnixTime>,
) -> io::Result<u64> {
    let len = file.metadata()?.len();
    let mut buf = vec![0; PROBE_BYTES];
    // Invariant: every timed line before `lo` is before the cut, `lo` is a
    // line start, and the first line at or after the cut starts before
    // the first timed line after `hi` ends.
    let (mut lo, mut hi) = (0, len);
    while hi - lo > SCAN_SPAN {
        let mid = lo + (hi - lo) / 2;
        match timed_line_after(file, mid, hi, &mut buf, time_of)? {
            Some((end, time)) if time < cut => lo = end,
            _ => hi = mid,
        }
    }
    scan_from(file, lo, cut, &mut buf, time_of)
}

/// The first line starting after `pos` (and before `limit`) whose time can
/// be read: its end and time.
fn timed_line_after(
    file: &File,
    pos: u64,
    limit: u64,
    buf: &mut [u8],
    time_of: &mut impl FnMut(&[u8]) -> Option<UnixTime>,
) -> io::Result<Option<(u64, UnixTime)>> {
    // The line holding `pos - 1` is partial: start after its newline.
    let mut at = pos.saturating_sub(1);
    let mut first = pos > 0;
    while at < limit {
        let n = file.read_at(buf, at)?;
        if n == 0 {
            return Ok(None);
        }
        let chunk = &buf[..n];
        let mut start = 0;
        while let Some(nl) = memchr(b'\n', &chunk[start..]) {
            let line = &chunk[start..start + nl];
            let end = at + (start + nl + 1) as u64;
            start += nl + 1;
            if std::mem::take(&mut first) {
                continue;
            }
            if let Some(time) = time_of(line) {
                return Ok(Some((end, time)));
            }
        }
        if start == 0 {
            // A line longer than the buffer: skip past it.
            at += n as u64;
            first = true;
        } else {
            at += start as u64;
        }
    }
    Ok(None)
}

/// Read lines from `lo` (a line start) in order to the first at or after
/// the cut.
fn scan_from(
    file: &File,
    mut at: u64,
    cut: UnixTime,
    buf: &mut [u8],
    time_of: &mut impl FnMut(&[u8]) -> Option<UnixTime>,
) -> io::Result<u64> {
    let mut skipping_long = false;
    loop {
        let n = file.read_at(buf, at)?;
        let chunk = &buf[..n];
        let mut start = 0;
        while let Some(nl) = memchr(b'\n', &chunk[start..]) {
            let line = &chunk[start..start + nl];
            let line_start = at + start as u64;
            start += nl + 1;
            if std::mem::take(&mut skipping_long) {
                continue;
            }
            if time_of(line).is_some_and(|t| t >= cut) {
                return Ok(line_start);
            }
        }
        match (n, start) {
            // End of file: after the last complete line.
            (0, _) => return Ok(at),
            _ if n < buf.len() && start < n => return Ok(at + start as u64),
            (_, 0) => {
                at += n as u64;
                skipping_long = true;
            }
            _ => at += start as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Lines `t=N` for N in `times`; the time is N.
    fn time_of(line: &[u8]) -> Option<UnixTime> {
        std::str::from_utf8(line.strip_prefix(b"t=")?)
            .ok()?
            .parse()
            .ok()
    }

    fn file_of(lines: &[String]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
        f
    }

    fn offset_of(lines: &[String], k: usize) -> u64 {
        lines[..k].iter().map(|l| l.len() as u64 + 1).sum()
    }

    #[test]
    fn the_search_finds_the_first_line_at_the_cut() {
        // 200 000 lines, ten to a second, with untimed lines and long ones.
        let mut lines = Vec::new();
        for n in 0..200_000u64 {
            lines.push(format!("t={}", 1000 + n / 10));
            if n % 997 == 0 {
                lines.push("noise".into());
            }
            if n % 50_001 == 0 {
                lines.push("x".repeat(40_000));
            }
        }
        let file = file_of(&lines);
        for cut in [0, 1000, 1001, 5000, 12_345, 20_999, 21_000, 99_999] {
            let at = first_line_at(&file, cut, &mut time_of).unwrap();
            let want = lines
                .iter()
                .position(|l| time_of(l.as_bytes()).is_some_and(|t| t >= cut))
                .map_or(offset_of(&lines, lines.len()), |k| offset_of(&lines, k));
            assert_eq!(at, want, "cut {cut}");
        }
    }

    #[test]
    fn an_empty_or_untimed_file_is_read_from_its_end() {
        let file = file_of(&[]);
        assert_eq!(first_line_at(&file, 5, &mut time_of).unwrap(), 0);
        let lines = vec!["a".to_string(), "b".to_string()];
        let file = file_of(&lines);
        assert_eq!(first_line_at(&file, 5, &mut time_of).unwrap(), 4);
    }

    #[test]
    fn copy_names_as_logrotate_writes_them() {
        let log = b"access.log";
        assert_eq!(copy_name(log, b"access.log.1"), Some((false, 1)));
        assert_eq!(copy_name(log, b"access.log.12.gz"), Some((true, 12)));
        assert_eq!(copy_name(log, b"access.log-20261206"), Some((false, 0)));
        assert_eq!(copy_name(log, b"access.log-20261206.gz"), Some((true, 0)));
        for other in [
            "access.log",
            "access.log.bak",
            "access.log.1.zst",
            "access.log.",
        ] {
            assert_eq!(copy_name(log, other.as_bytes()), None, "{other}");
        }
    }
}
