//! Which process owns a connection, for the drill-down: a walk of
//! `/proc/*/fd` (under `--proc-root` when given) for the links that name
//! the sockets' inodes (`socket:[INODE]`).
//!
//! It is done for the one address the drill-down shows, never for the
//! table, and at most once a second while the drill-down is open
//! ([`SocketOwners::refresh`]); a closed drill-down costs nothing. A walk
//! visits at most [`MAX_FDS_VISITED`] fds (about 10 ms at 1–2 µs a
//! `readlink`), so a box with 100 000 open fds doesn't stall the loop: the
//! walk then stops, what it found is shown, and the drill-down says it was
//! cut short. Processes we may not look into (other users', without root)
//! are skipped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::parse::sockets::{SocketEntry, TcpState};

/// Fds (and process directories) one walk may visit.
pub(crate) const MAX_FDS_VISITED: usize = 20_000;
/// Least time between two walks for the same address.
pub(crate) const WALK_INTERVAL: Duration = Duration::from_secs(1);
/// Bytes of a process name kept (the kernel's `comm` is at most 15).
const COMM_MAX: usize = 16;

/// A process holding a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    pub(crate) pid: u32,
    /// `/proc/PID/comm`, cut to 16 bytes: the process may name itself (sanitise when drawn).
    pub(crate) comm: Vec<u8>,
}

/// What one walk found: the first process seen holding each inode.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    pub(crate) owners: HashMap<u32, Owner>,
    /// Whether the walk stopped at [`MAX_FDS_VISITED`] before finding every inode.
    pub(crate) cut_short: bool,
}

/// Walk `proc_root/*/fd` for the sockets `inodes` (0 ignored), visiting at
/// most `max_visits` fds and process directories; stops once all are found.
pub(crate) fn walk(proc_root: &Path, inodes: &[u32], max_visits: usize) -> Walk {
    let mut found = Walk::default();
    let wanted = inodes.iter().filter(|&&i| i != 0).count();
    if wanted == 0 {
        return found;
    }
    let Ok(procs) = std::fs::read_dir(proc_root) else {
        return found;
    };
    let mut visits = 0usize;
    for proc in procs.flatten() {
        let Some(pid) = proc
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        visits += 1;
        let Ok(fds) = std::fs::read_dir(proc.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            visits += 1;
            if visits > max_visits {
                found.cut_short = true;
                return found;
            }
            let Some(inode) = socket_inode(&fd.path()) else {
                continue;
            };
            if inodes.contains(&inode) && !found.owners.contains_key(&inode) {
                let comm = comm(&proc.path());
                found.owners.insert(inode, Owner { pid, comm });
                if found.owners.len() == wanted {
                    return found;
                }
            }
        }
    }
    found
}

/// The inode a `/proc/PID/fd/N` link names when it is a socket.
fn socket_inode(link: &Path) -> Option<u32> {
    let target = std::fs::read_link(link).ok()?;
    let target = target.to_str()?;
    target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// A process's name, without the newline, cut to [`COMM_MAX`] bytes.
fn comm(proc_dir: &Path) -> Vec<u8> {
    let mut comm = std::fs::read(proc_dir.join("comm")).unwrap_or_default();
    comm.truncate(COMM_MAX);
    if let Some(end) = comm.iter().position(|&b| b == b'\n') {
        comm.truncate(end);
    }
    comm
}

/// The owners of one address's sockets, refreshed by the drill-down.
#[derive(Debug)]
pub(crate) struct SocketOwners {
    proc_root: PathBuf,
    ip: Option<IpAddr>,
    walked_at: Option<Instant>,
    last: Walk,
    /// Walks done so far (a closed drill-down must not add any).
    pub(crate) walks: u64,
}

impl SocketOwners {
    /// Owners looked up under `proc_root` (`/proc` when `None`).
    pub(crate) fn new(proc_root: Option<&Path>) -> SocketOwners {
        SocketOwners {
            proc_root: proc_root.unwrap_or(Path::new("/proc")).to_path_buf(),
            ip: None,
            walked_at: None,
            last: Walk::default(),
            walks: 0,
        }
    }

    /// Walk again for `ip`'s sockets in `dump` when it is another address
    /// than last time, or [`WALK_INTERVAL`] has passed since the last walk.
    /// Returns whether it walked.
    pub(crate) fn refresh(&mut self, ip: IpAddr, dump: &[SocketEntry], now: Instant) -> bool {
        let fresh = self
            .walked_at
            .is_some_and(|at| now.saturating_duration_since(at) < WALK_INTERVAL);
        if self.ip == Some(ip) && fresh {
            return false;
        }
        let inodes: Vec<u32> = dump
            .iter()
            .filter(|s| s.state != TcpState::Listen && s.remote.ip().to_canonical() == ip)
            .map(|s| s.inode)
            .collect();
        self.last = walk(&self.proc_root, &inodes, MAX_FDS_VISITED);
        self.ip = Some(ip);
        self.walked_at = Some(now);
        self.walks += 1;
        true
    }

    /// Forget the last walk (the drill-down closed): the next open walks at once.
    pub(crate) fn clear(&mut self) {
        self.ip = None;
        self.walked_at = None;
        self.last = Walk::default();
    }

    /// The process holding `inode`, if the last walk (for `ip`) found it.
    pub(crate) fn owner(&self, ip: IpAddr, inode: u32) -> Option<&Owner> {
        if self.ip != Some(ip) || inode == 0 {
            return None;
        }
        self.last.owners.get(&inode)
    }

    /// Whether the last walk for `ip` stopped at [`MAX_FDS_VISITED`].
    pub(crate) fn is_cut_short(&self, ip: IpAddr) -> bool {
        self.ip == Some(ip) && self.last.cut_short
    }
}

#[cfg(test)]
mod tests;
