//! The tty's own calls: open the controlling terminal, termios (get, set,
//! raw), raw writes that wait a bounded time for a stalled tty, and stopping
//! ourselves for job control. Policy (when to enter, what to write) is
//! `ui::terminal`'s.

use std::ffi::CStr;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// How long a frame write may wait for a tty that does not drain (a stalled
/// SSH link) before giving up on that frame: the loop must keep running.
pub(crate) const WRITE_STALL_MS: libc::c_int = 2_000;

/// Open the controlling terminal (`/dev/tty`), read-write, non-blocking,
/// close-on-exec.
pub(crate) fn open_controlling() -> io::Result<OwnedFd> {
    const PATH: &CStr = c"/dev/tty";
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC | libc::O_NONBLOCK;
    // SAFETY: a valid NUL-terminated path; the fd is checked, then owned.
    let raw = unsafe { libc::open(PATH.as_ptr(), flags) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh fd nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Whether `fd` is a terminal (else `errno` says why).
pub(crate) fn is_tty(fd: RawFd) -> bool {
    // SAFETY: isatty only inspects the fd.
    unsafe { libc::isatty(fd) == 1 }
}

pub(crate) fn raw_of(mut termios: libc::termios) -> libc::termios {
    // SAFETY: cfmakeraw only edits the struct it is given.
    unsafe { libc::cfmakeraw(&mut termios) };
    termios
}

pub(crate) fn get_attr(fd: RawFd) -> io::Result<libc::termios> {
    let mut termios = MaybeUninit::<libc::termios>::uninit();
    // SAFETY: tcgetattr fills the whole struct on success, checked below.
    if unsafe { libc::tcgetattr(fd, termios.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: initialised by the successful tcgetattr.
    Ok(unsafe { termios.assume_init() })
}

/// `tcsetattr(TCSANOW)`, retried on `EINTR` (a background `tcsetattr` after
/// `bg` stops us with SIGTTOU; continuing may interrupt the call).
pub(crate) fn set_attr(fd: RawFd, termios: &libc::termios) -> io::Result<()> {
    loop {
        // SAFETY: a valid termios pointer for the duration of the call.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, termios) } == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// `write` until done; `EINTR` retried, `EAGAIN` waits for `POLLOUT` up to
/// [`WRITE_STALL_MS`] of no progress. Raw syscalls only: the panic hook
/// uses this too, and must not take std's stdout lock.
pub(crate) fn write_all(fd: RawFd, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: writing from a live slice of exactly `bytes.len()` bytes.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = bytes.get(n.unsigned_abs()..).unwrap_or_default();
            continue;
        }
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => wait_writable(fd)?,
            _ => return Err(err),
        }
    }
    Ok(())
}

fn wait_writable(fd: RawFd) -> io::Result<()> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, WRITE_STALL_MS) };
        match n {
            0 => return Err(io::ErrorKind::WouldBlock.into()),
            n if n > 0 => return Ok(()),
            _ => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
        }
    }
}

/// Stop this process with SIGTSTP (blocked, as the loop reads it from a
/// signalfd), as a Ctrl-Z would; returns once continued. See
/// `ui::terminal::Terminal::suspend` for why SIGTSTP and why this order.
pub(crate) fn stop_self() {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    let mut old = MaybeUninit::<libc::sigset_t>::uninit();
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: the sets are initialised by sigemptyset / pthread_sigmask
    // before use; every call is a plain syscall wrapper on valid pointers.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGTSTP);
        // A SIGTSTP already pending would stop us a second time on unblock.
        while libc::sigtimedwait(set.as_ptr(), std::ptr::null_mut(), &zero) == libc::SIGTSTP {}
        if libc::pthread_sigmask(libc::SIG_UNBLOCK, set.as_ptr(), old.as_mut_ptr()) != 0 {
            return;
        }
        libc::raise(libc::SIGTSTP);
        libc::pthread_sigmask(libc::SIG_SETMASK, old.as_ptr(), std::ptr::null_mut());
    }
}

/// A pseudo-terminal `(master, slave)`, both close-on-exec, the master
/// non-blocking (tests drive a real tty through it).
#[cfg(test)]
pub(crate) fn open_pty() -> io::Result<(OwnedFd, OwnedFd)> {
    let (mut m, mut s) = (-1, -1);
    // SAFETY: out-pointers to two ints; null name/termios/winsize allowed.
    let rc = unsafe {
        libc::openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh fds from openpty, owned from here on.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
    for fd in [m, s] {
        // SAFETY: fcntl on fds we own; children must not inherit them.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    crate::sys::fd::set_nonblocking(m)?;
    Ok((master, slave))
}

/// Set the window size of the pty whose master is `fd` (`TIOCSWINSZ`).
#[cfg(test)]
pub(crate) fn set_window_size(fd: RawFd, cols: u16, rows: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
