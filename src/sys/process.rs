//! Child processes in their own group: what runs between fork and exec,
//! reaping without blocking, signalling the whole group.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};

/// What a child does when we die without cleaning up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParentDeath {
    /// Nothing: it runs on (its own timeout and group kill cover it).
    Survive,
    /// It gets `SIGKILL` (`PR_SET_PDEATHSIG`).
    Kill,
}

/// A child whose output the loop reads (journalctl, vnstat).
pub(crate) struct PipedChild {
    pub(crate) child: Child,
    pub(crate) stdout: ChildStdout,
    pub(crate) stderr: ChildStderr,
}

/// Start `cmd` with stdin from /dev/null and stdout and stderr on
/// non-blocking pipes, each handed to `register` (the loop's poll); in its
/// own process group (a ^C or ^Z at the terminal is ours to handle, not
/// the child's) and dying with us, even if we are killed without cleaning
/// up. On any failure the child is killed and reaped.
pub(crate) fn spawn_piped(
    mut cmd: Command,
    mut register: impl FnMut(RawFd) -> io::Result<()>,
) -> io::Result<PipedChild> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    prepare_child(&mut cmd, ParentDeath::Kill);
    let mut child = cmd.spawn()?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(kill_after(child, io::Error::other("no pipes")));
    };
    for fd in [stdout.as_raw_fd(), stderr.as_raw_fd()] {
        if let Err(e) = crate::sys::fd::set_nonblocking(fd).and_then(|()| register(fd)) {
            return Err(kill_after(child, e));
        }
    }
    Ok(PipedChild {
        child,
        stdout,
        stderr,
    })
}

/// Kill and reap a child we give up on; `why` is the error to return.
fn kill_after(mut child: Child, why: io::Error) -> io::Error {
    let _ = child.kill();
    let _ = child.wait();
    why
}

/// Between fork and exec, undo the loop's signal mask (the loop blocks the
/// signals it reads from a signalfd; the child must get the defaults back)
/// and, with [`ParentDeath::Kill`], die with us.
pub(crate) fn prepare_child(cmd: &mut Command, on_parent_death: ParentDeath) {
    // SAFETY: the closure runs between fork and exec and only makes
    // async-signal-safe syscalls (pthread_sigmask, prctl).
    unsafe {
        cmd.pre_exec(move || {
            crate::sys::signalfd::unblock_all_in_child();
            if on_parent_death == ParentDeath::Kill
                && libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Reap our child `pid` if it has exited (`WNOHANG`).
pub(crate) fn try_reap(pid: libc::pid_t) -> Option<ExitStatus> {
    let mut raw = 0;
    // SAFETY: plain syscall on our own child; `raw` is a valid out-pointer.
    let rc = unsafe { libc::waitpid(pid, &mut raw, libc::WNOHANG) };
    (rc == pid).then(|| ExitStatus::from_raw(raw))
}

/// Whether our child `pid` has exited, without reaping it (`WNOWAIT`), so
/// its pid (and group id) stays ours while we may still signal the group.
pub(crate) fn has_exited(pid: libc::pid_t) -> bool {
    // SAFETY: an all-zero siginfo_t is a valid value to pass for output.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    // SAFETY: plain syscall on our own child; `info` is a valid out-pointer.
    let rc = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) };
    // SAFETY: waitid filled `info` (or left it zeroed: si_pid 0).
    rc == 0 && unsafe { info.si_pid() } == pid
}

/// Send `sig` to the process group `pgid`; a group already gone (`ESRCH`)
/// is fine.
pub(crate) fn signal_group(pgid: libc::pid_t, sig: libc::c_int) {
    // SAFETY: plain syscall; ESRCH (group already gone) is fine.
    unsafe {
        libc::killpg(pgid, sig);
    }
}

/// Whether a process `pid` exists (signal 0).
#[cfg(test)]
pub(crate) fn exists(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks whether the pid exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Whether this process runs as root (effective uid 0).
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Stop this process as the default action of SIGTSTP would (headless
/// mode, where SIGTSTP is read from the signalfd instead).
pub(crate) fn stop_self_now() {
    // SAFETY: raising SIGSTOP on ourselves has no memory effects.
    unsafe { libc::raise(libc::SIGSTOP) };
}

/// Send `sig` to the process `pid`; whether it was delivered.
#[cfg(test)]
pub(crate) fn kill(pid: libc::pid_t, sig: libc::c_int) -> bool {
    // SAFETY: plain syscall, no pointers.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// Wait for our child `pid` to stop or end (`WUNTRACED`): its raw wait
/// status, or `None` on an error.
#[cfg(test)]
pub(crate) fn wait_stopped(pid: libc::pid_t) -> Option<libc::c_int> {
    let mut status = 0;
    // SAFETY: waiting for our own child, status into a local.
    let rc = unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED) };
    (rc == pid).then_some(status)
}

/// The process group of `pid`.
#[cfg(test)]
pub(crate) fn group_of(pid: libc::pid_t) -> libc::pid_t {
    // SAFETY: plain syscall, no pointers.
    unsafe { libc::getpgid(pid) }
}
