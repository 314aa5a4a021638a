//! Custom hooks (`[[actions.hooks]]`, on any key no built-in takes): the operator's own
//! command for the selected address, run without stopping the dashboard.
//!
//! The loop drives a [`HookRun`]: register it (it is a mio `Source` for its
//! output pipe) under a CHILD token, call [`HookRun::on_readable`] when that
//! token fires, [`HookRun::on_tick`] on every TICK (the timeout) and
//! [`HookRun::try_reap`] on SIGCHLD; when it returns the exit status,
//! deregister. Nothing here blocks.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::process::{Command, ExitStatus};
use std::time::Instant;

use super::child::{ChildProc, CommandOutput};
use super::{address_text, is_address_text, non_unicast};
use crate::config::Hook;

/// Output kept per run; the rest is counted as cut.
pub(crate) const HOOK_OUTPUT_CAP: usize = 256 << 10; // 256 KiB
/// The shell the command runs under (absolute: the user's PATH may be odd).
const SHELL: &str = "/bin/sh";
/// Environment variable holding the address, as `{ip}` does.
pub(crate) const IP_ENV: &str = "NETHERGAZE_IP";

/// The hook's command with every `{ip}` replaced by the canonical address.
/// The result is `None` only if the address text were not plain (it always
/// is: see [`address_text`]).
pub(crate) fn expand(command: &str, ip: IpAddr) -> Option<String> {
    let text = address_text(ip);
    is_address_text(&text).then(|| command.replace("{ip}", &text))
}

/// One running (or finished) hook.
#[derive(Debug)]
pub(crate) struct HookRun {
    pub(crate) key: char,
    pub(crate) label: String,
    pub(crate) ip: IpAddr,
    /// The command as run (after `{ip}` expansion).
    pub(crate) command: String,
    pub(crate) started: Instant,
    child: ChildProc,
}

impl HookRun {
    /// Start `hook` for `ip` under `sh -c` in its own process group, with
    /// `NETHERGAZE_IP` set, stdin null, output on one non-blocking pipe.
    /// An unspecified, broadcast or multicast address is refused (no
    /// process starts): a hook acts on one host.
    pub(crate) fn spawn(hook: &Hook, ip: IpAddr, now: Instant) -> io::Result<HookRun> {
        Self::spawn_with(hook, ip, now, HOOK_OUTPUT_CAP)
    }

    fn spawn_with(hook: &Hook, ip: IpAddr, now: Instant, cap: usize) -> io::Result<HookRun> {
        if let Some(what) = non_unicast(ip.to_canonical().into()) {
            let text = format!("{} is {what}, not a host's address", address_text(ip));
            return Err(io::Error::new(io::ErrorKind::InvalidInput, text));
        }
        let bad = || io::Error::new(io::ErrorKind::InvalidInput, "address text not plain");
        let command = expand(&hook.command, ip).ok_or_else(bad)?;
        let mut cmd = Command::new(SHELL);
        cmd.arg("-c").arg(&command).env(IP_ENV, address_text(ip));
        let child = ChildProc::spawn(cmd, hook.timeout, cap, now)?;
        Ok(HookRun {
            key: hook.key,
            label: hook.label.clone(),
            ip,
            command,
            started: now,
            child,
        })
    }

    /// Read available output (call when its token is readable). Returns
    /// whether new bytes arrived, i.e. the modal needs a redraw.
    pub(crate) fn on_readable(&mut self) -> bool {
        self.child.on_readable()
    }

    /// Enforce the timeout: SIGTERM to the whole group when it passes,
    /// SIGKILL a grace period later.
    pub(crate) fn on_tick(&mut self, now: Instant) {
        self.child.on_tick(now);
    }

    /// The operator gave up on it (e.g. closed the modal): stop the group.
    pub(crate) fn cancel(&mut self, now: Instant) {
        self.child.terminate(now);
    }

    /// On SIGCHLD: the exit status once the shell has exited (and reaped),
    /// with the output read to what the pipe held.
    pub(crate) fn try_reap(&mut self) -> Option<ExitStatus> {
        self.child.try_reap()
    }

    /// Output so far (raw bytes from the child: sanitise when drawing).
    pub(crate) fn output(&self) -> &CommandOutput {
        self.child.output()
    }

    /// Whether it was stopped by its timeout or a cancel.
    pub(crate) fn was_killed(&self) -> bool {
        self.child.was_killed()
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.child.status().is_some()
    }

    /// The exit status once reaped.
    pub(crate) fn status(&self) -> Option<ExitStatus> {
        self.child.status()
    }

    /// Process (and process group) id, for the status line.
    pub(crate) fn pid(&self) -> i32 {
        self.child.pid()
    }
}

impl AsRawFd for HookRun {
    fn as_raw_fd(&self) -> RawFd {
        self.child.as_raw_fd()
    }
}

crate::sys::impl_fd_source!(HookRun);

#[cfg(test)]
mod tests;
