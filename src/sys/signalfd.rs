//! Signals as an fd: blocked for the whole process, then read in the loop.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The signals the loop handles.
pub(crate) const HANDLED: [libc::c_int; 7] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGWINCH,
    libc::SIGTSTP,
    libc::SIGCONT,
    libc::SIGCHLD,
];

pub(crate) struct SignalFd {
    fd: OwnedFd,
}

impl SignalFd {
    /// Block `HANDLED` in this thread (call before starting other threads, so
    /// they inherit the mask) and open a signalfd for them.
    pub(crate) fn open() -> io::Result<SignalFd> {
        let set = handled_set();
        // SAFETY: `set` is initialised; a null old-set pointer is allowed.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        // SAFETY: plain syscall; the fd is checked and then owned.
        let raw = unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh fd that nothing else owns.
        Ok(SignalFd {
            fd: unsafe { OwnedFd::from_raw_fd(raw) },
        })
    }

    /// Next pending signal number, or `None` when there is none.
    pub(crate) fn next(&self) -> Option<libc::c_int> {
        let mut info = MaybeUninit::<libc::signalfd_siginfo>::uninit();
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        loop {
            // SAFETY: reading one siginfo into a buffer of exactly its size.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), info.as_mut_ptr().cast(), size) };
            if n == size as isize {
                // SAFETY: the kernel filled the whole struct.
                return Some(unsafe { info.assume_init() }.ssi_signo as libc::c_int);
            }
            if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return None;
        }
    }
}

fn handled_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set; sigaddset takes valid signals.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        for sig in HANDLED {
            libc::sigaddset(set.as_mut_ptr(), sig);
        }
        set.assume_init()
    }
}

/// Unblock the handled signals (for a child process about to exec).
pub(crate) fn unblock_all_in_child() {
    let set = handled_set();
    // SAFETY: async-signal-safe call with an initialised set.
    unsafe {
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}

/// Block (`true`) or unblock `sig` in this thread, as the loop does for the
/// signals its signalfd reads (tests).
#[cfg(test)]
pub(crate) fn set_blocked_in_thread(sig: libc::c_int, blocked: bool) {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    let how = if blocked {
        libc::SIG_BLOCK
    } else {
        libc::SIG_UNBLOCK
    };
    // SAFETY: sigemptyset initialises the set before sigaddset and
    // pthread_sigmask read it; a null old-set pointer is allowed.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), sig);
        libc::pthread_sigmask(how, set.as_ptr(), std::ptr::null_mut());
    }
}

impl AsRawFd for SignalFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

crate::sys::impl_fd_source!(SignalFd);
