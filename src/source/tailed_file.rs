//! One open log file being read: its fd, how far we have read, and its own
//! line buffer. Knows nothing about paths changing under it; `logset` does.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use super::linebuf::{Line, LineBuf};

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

/// Where reading starts in a newly opened file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// At its current end: only lines written from now on (files present
    /// when the program starts).
    End,
    /// At byte 0 (`--from-start`, and any file that appears later).
    Beginning,
}

/// An open regular file, read to its end on each [`pump`](Self::pump).
#[derive(Debug)]
pub(crate) struct TailedFile {
    file: File,
    pub(crate) id: FileId,
    /// Bytes consumed from the file (its read position).
    offset: u64,
    buf: LineBuf,
    /// Ticks in a row this file gave no bytes (used while draining a file
    /// that was rotated away, to decide when the writer is done with it).
    pub(crate) idle_ticks: u32,
}

impl TailedFile {
    /// Open `path` for reading. `O_NONBLOCK` so a FIFO swapped in after the
    /// caller's `stat` cannot block the loop in `open`; then `fstat` on the
    /// fd decides: anything but a regular file is refused.
    pub(crate) fn open(path: &Path, start: Start) -> io::Result<TailedFile> {
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                not_regular(&meta),
            ));
        }
        let mut buf = LineBuf::new();
        let offset = match start {
            Start::Beginning => 0,
            Start::End => {
                let end = file.seek(SeekFrom::End(0))?;
                // A writer caught half-way through a line: skip its tail
                // rather than report a fragment as a malformed line.
                let mut last = [0u8; 1];
                if end > 0 && file.read_at(&mut last, end - 1)? == 1 && last[0] != b'\n' {
                    buf.skip_to_next_line();
                }
                end
            }
        };
        Ok(TailedFile {
            file,
            id: FileId::of(&meta),
            offset,
            buf,
            idle_ticks: 0,
        })
    }

    /// Read everything up to the end of the file, handing out complete
    /// lines. A file now shorter than what we read was truncated in place
    /// (copytruncate): reading restarts at 0. Returns the bytes read.
    pub(crate) fn pump(&mut self, emit: &mut impl FnMut(Line<'_>)) -> io::Result<u64> {
        let mut total = self.read_to_end(emit)?;
        if total == 0 && self.file.metadata()?.len() < self.offset {
            self.buf.clear();
            self.offset = self.file.seek(SeekFrom::Start(0))?;
            total = self.read_to_end(emit)?;
        }
        if total > 0 {
            self.idle_ticks = 0;
        }
        Ok(total)
    }

    fn read_to_end(&mut self, emit: &mut impl FnMut(Line<'_>)) -> io::Result<u64> {
        let mut total = 0u64;
        loop {
            let n = match self.buf.fill(&mut self.file) {
                Ok(0) => return Ok(total),
                Ok(n) => n as u64,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(total),
                Err(e) => return Err(e),
            };
            total += n;
            self.offset += n;
            while let Some(line) = self.buf.next_line() {
                emit(line);
            }
        }
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
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }
}

pub(crate) use crate::sys::file::not_regular;
