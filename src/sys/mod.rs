//! Thin libc wrappers that own their file descriptors: inotify, signalfd, timerfd.
//!
//! Each wrapper does the one syscall dance it exists for, returns
//! `io::Result`, and closes its fd on drop. No policy lives here.

use std::ffi::CStr;

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

pub mod inotify;
pub mod signalfd;
pub mod timerfd;

/// Shell-style match of one file name against a glob (`*`, `?`, `[...]`).
///
/// A leading `.` in `name` must be matched explicitly (`FNM_PERIOD`), as in
/// the shell, so `*.log` does not pick up `.access.log.swp`.
pub fn fnmatch(pattern: &CStr, name: &CStr) -> bool {
    // SAFETY: both pointers are valid NUL-terminated strings for the call.
    unsafe { libc::fnmatch(pattern.as_ptr(), name.as_ptr(), libc::FNM_PERIOD) == 0 }
}

/// Whether `pattern` contains a glob metacharacter `fnmatch` would interpret.
pub fn has_glob_meta(pattern: &[u8]) -> bool {
    pattern
        .iter()
        .any(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_follows_the_shell() {
        assert!(fnmatch(c"*.log", c"access.log"));
        assert!(fnmatch(c"*access.log", c"site.access.log"));
        assert!(fnmatch(c"a?c.[lx]og", c"abc.log"));
        assert!(!fnmatch(c"*.log", c"access.log.1"));
        assert!(!fnmatch(c"*.log", c".hidden.log"));
        assert!(has_glob_meta(b"*.log"));
        assert!(!has_glob_meta(b"access.log"));
    }
}
