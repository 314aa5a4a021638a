//! Thin libc wrappers that own their fds: timerfd, signalfd, inotify.

pub mod signalfd;
pub mod timerfd;
