//! A periodic timerfd: the loop's tick, readable in epoll like any fd.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

pub(crate) struct TimerFd {
    fd: OwnedFd,
}

impl TimerFd {
    /// A monotonic timer that does not fire until [`arm`](Self::arm)ed.
    pub(crate) fn disarmed() -> io::Result<TimerFd> {
        // SAFETY: plain syscall; the fd is checked before use and then owned.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh fd that nothing else owns.
        Ok(TimerFd {
            fd: unsafe { OwnedFd::from_raw_fd(raw) },
        })
    }

    /// A monotonic timer firing every `interval`, first after one interval.
    pub(crate) fn periodic(interval: Duration) -> io::Result<TimerFd> {
        let timer = TimerFd::disarmed()?;
        timer.arm(interval, interval)?;
        Ok(timer)
    }

    /// Set the first expiry and the period (a zero period fires once).
    pub(crate) fn arm(&self, first: Duration, period: Duration) -> io::Result<()> {
        let spec = libc::itimerspec {
            it_interval: timespec(period),
            it_value: timespec(first.max(Duration::from_nanos(1))),
        };
        // SAFETY: `spec` is a valid itimerspec and the fd is ours.
        let rc =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Consume the expirations; returns how many ticks passed (0 if none).
    pub(crate) fn drain(&self) -> u64 {
        let mut count = [0u8; 8];
        loop {
            // SAFETY: reading 8 bytes into an 8-byte buffer we own.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), count.as_mut_ptr().cast(), 8) };
            if n == 8 {
                return u64::from_ne_bytes(count);
            }
            if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return 0;
        }
    }
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        // `as _`: the field's type, without naming `time_t` (deprecated on musl).
        tv_sec: d.as_secs() as _,
        tv_nsec: libc::c_long::from(d.subsec_nanos() as i32),
    }
}

impl AsRawFd for TimerFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

crate::sys::impl_fd_source!(TimerFd);
