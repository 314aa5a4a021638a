//! inotify(7): an owned, non-blocking, close-on-exec inotify fd.
//!
//! Events are read into a caller-owned, reused buffer and handed out as
//! borrowed [`Event`]s, so draining the queue allocates nothing.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub(crate) use libc::{
    IN_ATTRIB, IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_IGNORED, IN_MODIFY,
    IN_MOVED_FROM, IN_MOVED_TO, IN_MOVE_SELF, IN_ONLYDIR, IN_OPEN, IN_Q_OVERFLOW,
};

/// Size of the fixed part of a kernel `struct inotify_event`.
const HEADER: usize = std::mem::size_of::<libc::inotify_event>();

/// Room for a few hundred events per `read`; the kernel needs at least one
/// header plus `NAME_MAX + 1` name bytes or the read fails with `EINVAL`.
pub(crate) const EVENT_BUF: usize = 16 << 10; // 16 KiB

/// A watch descriptor, as returned by `inotify_add_watch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Watch(pub i32);

/// One event, borrowing the read buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Event<'a> {
    /// The watch (directory or file) the event is about.
    pub(crate) watch: Watch,
    /// `IN_*` bits.
    pub(crate) mask: u32,
    /// Pairs an `IN_MOVED_FROM` with its `IN_MOVED_TO`.
    pub(crate) cookie: u32,
    /// The entry's name inside a watched directory; `None` for events about
    /// the watched object itself (`IN_DELETE_SELF`, `IN_IGNORED`, ...).
    pub(crate) name: Option<&'a CStr>,
}

/// An inotify instance. Registered in mio through its fd (readable = events).
#[derive(Debug)]
pub(crate) struct Inotify {
    fd: OwnedFd,
}

impl Inotify {
    /// `inotify_init1(IN_NONBLOCK | IN_CLOEXEC)`.
    pub(crate) fn new() -> io::Result<Inotify> {
        // SAFETY: plain syscall, no pointers.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        Ok(Inotify {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Watch `path` for `mask`. Watching the same inode twice returns the
    /// same descriptor (and replaces its mask).
    pub(crate) fn add_watch(&self, path: &Path, mask: u32) -> io::Result<Watch> {
        let mut bytes = Vec::with_capacity(path.as_os_str().len() + 1);
        bytes.extend_from_slice(path.as_os_str().as_bytes());
        bytes.push(0);
        let c = CStr::from_bytes_with_nul(&bytes)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
        // SAFETY: `c` is a valid NUL-terminated string for the call.
        let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), c.as_ptr(), mask) };
        if wd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Watch(wd))
    }

    /// Remove a watch. The kernel queues `IN_IGNORED` for it.
    pub(crate) fn rm_watch(&self, watch: Watch) -> io::Result<()> {
        // SAFETY: plain syscall, no pointers.
        if unsafe { libc::inotify_rm_watch(self.fd.as_raw_fd(), watch.0) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Read one batch of events into `buf`. `WouldBlock` when the queue is
    /// empty; `Interrupted` is retried here.
    pub(crate) fn read_events<'a>(&self, buf: &'a mut EventBuf) -> io::Result<Events<'a>> {
        loop {
            let room = &mut buf.bytes[..];
            // SAFETY: `room` is a valid writable region of `room.len()` bytes.
            let n =
                unsafe { libc::read(self.fd.as_raw_fd(), room.as_mut_ptr().cast(), room.len()) };
            if n >= 0 {
                let len = usize::try_from(n).unwrap_or(0);
                return Ok(Events {
                    rest: &buf.bytes[..len],
                });
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

impl AsFd for Inotify {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Inotify {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

crate::sys::impl_fd_source!(Inotify);

/// A reused buffer for [`Inotify::read_events`].
pub(crate) struct EventBuf {
    bytes: Box<[u8]>,
}

impl EventBuf {
    pub(crate) fn new() -> EventBuf {
        EventBuf {
            bytes: vec![0; EVENT_BUF].into_boxed_slice(),
        }
    }
}

impl Default for EventBuf {
    fn default() -> Self {
        Self::new()
    }
}

/// Iterator over the events of one `read`. Parses headers with unaligned
/// reads, so the buffer needs no particular alignment, and stops at the
/// first truncated record instead of trusting the kernel blindly.
pub(crate) struct Events<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Events<'a> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        let header = self.rest.get(..HEADER)?;
        let word = |at: usize| -> [u8; 4] {
            let mut w = [0; 4];
            w.copy_from_slice(&header[at..at + 4]);
            w
        };
        // Field order of `struct inotify_event`: wd, mask, cookie, len.
        let wd = i32::from_ne_bytes(word(0));
        let mask = u32::from_ne_bytes(word(4));
        let cookie = u32::from_ne_bytes(word(8));
        let len = usize::try_from(u32::from_ne_bytes(word(12))).ok()?;
        let end = HEADER.checked_add(len)?;
        let Some(name_bytes) = self.rest.get(HEADER..end) else {
            self.rest = &[];
            return None;
        };
        self.rest = &self.rest[end..];
        // The name is NUL-padded to an alignment boundary; `len == 0` means
        // the event is about the watched object itself.
        let name = if len == 0 {
            None
        } else {
            CStr::from_bytes_until_nul(name_bytes).ok()
        };
        Some(Event {
            watch: Watch(wd),
            mask,
            cookie,
            name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_created_and_modified_names() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let ino = Inotify::new()?;
        let w = ino.add_watch(dir.path(), IN_CREATE | IN_MODIFY | IN_ONLYDIR)?;
        let mut buf = EventBuf::new();
        let err = ino.read_events(&mut buf).err().map(|e| e.kind());
        assert_eq!(err, Some(io::ErrorKind::WouldBlock));

        std::fs::write(dir.path().join("a.log"), b"x\n")?;
        let mut seen = Vec::new();
        for ev in ino.read_events(&mut buf)? {
            assert_eq!(ev.watch, w);
            let name = ev.name.map(|n| n.to_bytes().to_vec());
            seen.push((ev.mask & (IN_CREATE | IN_MODIFY), name));
        }
        assert_eq!(
            seen,
            vec![
                (IN_CREATE, Some(b"a.log".to_vec())),
                (IN_MODIFY, Some(b"a.log".to_vec()))
            ]
        );
        Ok(())
    }

    #[test]
    fn truncated_record_ends_iteration() {
        let mut bytes = vec![0u8; HEADER + 4];
        bytes[12..16].copy_from_slice(&64u32.to_ne_bytes()); // claims 64 name bytes
        let mut it = Events { rest: &bytes };
        assert!(it.next().is_none());
    }
}
