//! Thin libc wrappers that own their file descriptors: inotify, signalfd, timerfd
//! (and `RLIMIT_NOFILE`, which decides how many of them we may own); `file`,
//! the one way to open a file whose path may hold a FIFO, a device or a symbolic
//! link; `fd` (the one non-blocking pipe), `process` (children in their own
//! group), `netlink` (the sock_diag socket), `tty` (termios and raw writes),
//! `time` (`localtime_r`, `mktime`), `host` (name and addresses) and `random`
//! (`getrandom`).
//!
//! Every libc call with an `unsafe` block lives here, behind a safe function.
//!
//! Each wrapper does the one syscall dance it exists for, returns
//! `io::Result`, and closes its fd on drop. No policy lives here beyond
//! `file`'s: regular files only, capped reads, no links followed where we write.

/// `mio::event::Source` for a type that owns one fd (`AsRawFd`): the loop
/// registers it like a socket. One impl instead of one per wrapper.
macro_rules! impl_fd_source {
    ($ty:ty) => {
        impl mio::event::Source for $ty {
            fn register(
                &mut self,
                r: &mio::Registry,
                t: mio::Token,
                i: mio::Interest,
            ) -> std::io::Result<()> {
                mio::unix::SourceFd(&std::os::fd::AsRawFd::as_raw_fd(self)).register(r, t, i)
            }
            fn reregister(
                &mut self,
                r: &mio::Registry,
                t: mio::Token,
                i: mio::Interest,
            ) -> std::io::Result<()> {
                mio::unix::SourceFd(&std::os::fd::AsRawFd::as_raw_fd(self)).reregister(r, t, i)
            }
            fn deregister(&mut self, r: &mio::Registry) -> std::io::Result<()> {
                mio::unix::SourceFd(&std::os::fd::AsRawFd::as_raw_fd(self)).deregister(r)
            }
        }
    };
}
pub(crate) use impl_fd_source;

pub(crate) mod fd;
pub(crate) mod file;
pub(crate) mod host;
pub(crate) mod inotify;
pub(crate) mod netlink;
pub(crate) mod process;
pub(crate) mod random;
pub(crate) mod rlimit;
pub(crate) mod signalfd;
pub(crate) mod time;
pub(crate) mod timerfd;
pub(crate) mod tty;
