//! `--log-path -`: a log read from standard input as a stream
//! (`zcat access.log.*.gz | nethergaze --once --log-path -`).
//!
//! The fd is made non-blocking and read in bounded slices through the same
//! [`LineBuf`] as files. A pipe (or socket) is registered in the loop's poll
//! by the engine; a regular file or device redirected as stdin cannot be
//! (epoll refuses them), so it is read on every pass while it has more,
//! like a file with a backlog. End of input finishes the source: its last
//! partial line is handed out and its note says the input ended.
//!
//! `--once` reads to the end of input: when the writer is slower than us,
//! it waits for more with `poll(2)`, a fraction of a second at a time, and
//! stops early only on a terminating signal (pending, as the loop blocks
//! them for its signalfd), so Ctrl-C still ends the run with what was read.

use std::fs::File;
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};

use super::linebuf::{Line, LineBuf};

/// The most bytes read from stdin in one pass: a fast writer never holds
/// up the loop's other fds (the same bound as a file's).
#[cfg(not(test))]
const MAX_SLICE_BYTES: usize = 64 << 20;
#[cfg(test)]
const MAX_SLICE_BYTES: usize = 64 << 10;

/// How long `--once` waits for input in one `poll` before it looks at the
/// pending signals again.
const WAIT_MS: libc::c_int = 100;

/// What the source list says once the input has ended.
pub(crate) const ENDED_NOTE: &str = "end of input";

/// The pattern that names standard input.
pub(crate) const STDIN_PATH: &str = "-";

/// Standard input, read as a log.
#[derive(Debug)]
pub(crate) struct StdinLog {
    /// Fd 0 (another fd in tests), borrowed: never closed by us.
    file: ManuallyDrop<File>,
    buf: LineBuf,
    /// The fd's flags before we made it non-blocking, put back on drop.
    flags: libc::c_int,
    /// Registered in the loop's poll (a pipe or socket); otherwise read on
    /// every pass until it ends.
    pub(crate) pollable: bool,
    /// The last slice stopped at its bound with more to read.
    more: bool,
    ended: bool,
    /// `--once`: wait for the end of input.
    to_end: bool,
}

impl StdinLog {
    /// Standard input. A terminal is refused: the operator forgot the pipe,
    /// and the dashboard reads its keys from it.
    pub(crate) fn open(to_end: bool) -> io::Result<StdinLog> {
        if crate::sys::tty::is_tty(libc::STDIN_FILENO) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "-: standard input is a terminal; pipe a log into it (zcat access.log.*.gz | nethergaze --once --log-path -)",
            ));
        }
        StdinLog::from_fd(libc::STDIN_FILENO, to_end)
    }

    /// Read `fd` (which stays open after us) as standard input.
    pub(crate) fn from_fd(fd: RawFd, to_end: bool) -> io::Result<StdinLog> {
        // SAFETY: fcntl on an fd we were given; failure is checked.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as above, setting a flag.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(StdinLog {
            // SAFETY: the File is never dropped (ManuallyDrop), so the fd
            // it wraps is only borrowed for reads.
            file: ManuallyDrop::new(unsafe { File::from_raw_fd(fd) }),
            buf: LineBuf::new(),
            flags,
            pollable: false,
            more: true,
            ended: false,
            to_end,
        })
    }

    /// The input has ended (everything in it was handed out).
    pub(crate) fn has_ended(&self) -> bool {
        self.ended
    }

    /// More is known to be waiting (or, not being polled, may be): the
    /// next pass should read on without an event.
    pub(crate) fn has_more(&self) -> bool {
        !self.ended && (self.more || !self.pollable || self.to_end)
    }

    /// Read what is there now, up to `MAX_SLICE_BYTES`, handing out
    /// complete lines (and, at the end of input, the last partial one).
    /// `--once` waits for the end. Returns the bytes read.
    pub(crate) fn pump(&mut self, emit: &mut impl FnMut(Line<'_>)) -> io::Result<usize> {
        let mut total = 0;
        self.more = false;
        while !self.ended {
            if total >= MAX_SLICE_BYTES {
                self.more = true;
                break;
            }
            match self.buf.fill(&mut &*self.file) {
                Ok(0) => {
                    self.buf.finish();
                    self.ended = true;
                }
                Ok(n) => total += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !self.to_end || !wait_readable(self.file.as_raw_fd()) {
                        break;
                    }
                }
                Err(e) => {
                    self.ended = true;
                    return Err(e);
                }
            }
            while let Some(line) = self.buf.next_line() {
                emit(line);
            }
        }
        Ok(total)
    }
}

impl Drop for StdinLog {
    fn drop(&mut self) {
        // The shell may share the file description: leave it as we found it.
        // SAFETY: fcntl on the borrowed fd; a failure changes nothing.
        unsafe { libc::fcntl(self.file.as_raw_fd(), libc::F_SETFL, self.flags) };
    }
}

impl AsRawFd for StdinLog {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

crate::sys::impl_fd_source!(StdinLog);

/// `--once`: wait up to `WAIT_MS` for `fd` to be readable. False when a
/// terminating signal is pending (stop reading: the run ends with what it
/// read) or `poll` fails.
fn wait_readable(fd: RawFd) -> bool {
    if terminating_signal_pending() {
        return false;
    }
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, its count, a timeout.
    let n = unsafe { libc::poll(&mut pfd, 1, WAIT_MS) };
    n >= 0 || io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
}

/// SIGINT, SIGTERM or SIGHUP is pending (blocked for the loop's signalfd).
fn terminating_signal_pending() -> bool {
    // SAFETY: a zeroed sigset_t is a valid argument for sigpending, which
    // fills it; sigismember reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        if libc::sigpending(&mut set) != 0 {
            return false;
        }
        [libc::SIGINT, libc::SIGTERM, libc::SIGHUP]
            .iter()
            .any(|&sig| libc::sigismember(&set, sig) == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::OwnedFd;

    fn pipe() -> (OwnedFd, File) {
        let mut fds = [0; 2];
        // SAFETY: a two-int array for pipe(2); both fds are then owned.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: fresh fds nothing else owns.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) }
    }

    fn lines(log: &mut StdinLog) -> Vec<String> {
        let mut out = Vec::new();
        log.pump(&mut |line| match line {
            Line::Complete { text, .. } => out.push(String::from_utf8_lossy(text).into_owned()),
            Line::TooLong => out.push("<too long>".into()),
        })
        .unwrap();
        out
    }

    #[test]
    fn lines_then_partial_line_at_end_of_input() {
        let (read, mut write) = pipe();
        let mut log = StdinLog::from_fd(read.as_raw_fd(), false).unwrap();
        log.pollable = true;
        write.write_all(b"one\ntwo\nthr").unwrap();
        assert_eq!(lines(&mut log), ["one", "two"]);
        assert!(!log.has_more(), "a drained pipe waits for its event");
        write.write_all(b"ee\nfour").unwrap();
        drop(write);
        assert_eq!(lines(&mut log), ["three", "four"]);
        assert!(log.has_ended() && !log.has_more());
        assert!(lines(&mut log).is_empty());
    }

    #[test]
    fn a_slice_is_bounded_and_reading_goes_on() {
        let (read, mut write) = pipe();
        let mut log = StdinLog::from_fd(read.as_raw_fd(), false).unwrap();
        log.pollable = true;
        let line = [b'x'; 99];
        let writer = std::thread::spawn(move || {
            for _ in 0..4000 {
                write.write_all(&line).unwrap();
                write.write_all(b"\n").unwrap();
            }
        });
        let mut n = 0;
        while !log.has_ended() {
            n += lines(&mut log).len();
        }
        writer.join().unwrap();
        assert_eq!(n, 4000);
    }

    #[test]
    fn to_end_waits_for_a_slow_writer() {
        let (read, mut write) = pipe();
        let mut log = StdinLog::from_fd(read.as_raw_fd(), true).unwrap();
        let writer = std::thread::spawn(move || {
            write.write_all(b"a\n").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(150));
            write.write_all(b"b\n").unwrap();
        });
        assert_eq!(lines(&mut log), ["a", "b"]);
        assert!(log.has_ended());
        writer.join().unwrap();
    }
}
