//! `RLIMIT_NOFILE`: raise the soft limit to the hard one at start, and
//! share what it allows between log files and everything else.

use std::io;

/// Descriptors kept for everything but log files: stdio, epoll, timers,
/// signalfd, the two inotify fds, the netlink socket, whois sockets,
/// SQLite (database, WAL, shm, journal), hook pipes, journalctl, and the
/// rotated copy opened after a truncation.
pub(crate) const FD_RESERVE: u64 = 64;

fn get() -> io::Result<libc::rlimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(lim)
}

/// Raise the soft limit on open files to the hard limit (any process may),
/// so a glob of a thousand logs fits under the common soft limit of 1 024.
/// Returns the soft limit now in force.
pub(crate) fn raise_nofile() -> io::Result<u64> {
    let mut lim = get()?;
    if lim.rlim_cur < lim.rlim_max {
        let was = lim.rlim_cur;
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid rlimit; the kernel checks its values.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            // An infinite hard limit is above fs.nr_open: keep what we had.
            lim.rlim_cur = was;
        }
    }
    Ok(lim.rlim_cur)
}

/// How many log files this process may hold open: the soft limit less
/// `FD_RESERVE`, and never less than half of a small limit.
pub(crate) fn log_file_budget() -> usize {
    let soft = get().map_or(1024, |l| l.rlim_cur);
    let budget = soft.saturating_sub(FD_RESERVE).max(soft / 2);
    usize::try_from(budget).unwrap_or(usize::MAX)
}
