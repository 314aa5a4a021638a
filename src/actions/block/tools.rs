//! The firewall front ends block assist can drive, found on PATH.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Where firewall tools live when the user's PATH lacks the sbin dirs
/// (a non-root login shell on Debian).
const SBIN_DIRS: &str = "/usr/local/sbin:/usr/sbin:/sbin";
/// Where sudo lives when PATH lacks it.
const BIN_DIRS: &str = "/usr/bin:/bin";

/// A firewall front end we know how to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Tool {
    Ufw,
    Nft,
    Iptables,
    Ip6tables,
    Fail2ban,
    Cscli,
}

impl Tool {
    /// In order of preference: ufw wraps iptables/nft, so it goes first;
    /// fail2ban only bans single addresses for one jail, so it goes last.
    pub(crate) const ALL: [Tool; 6] = [
        Tool::Ufw,
        Tool::Nft,
        Tool::Iptables,
        Tool::Ip6tables,
        Tool::Cscli,
        Tool::Fail2ban,
    ];

    /// The program's file name.
    pub(crate) fn program(self) -> &'static str {
        match self {
            Tool::Ufw => "ufw",
            Tool::Nft => "nft",
            Tool::Iptables => "iptables",
            Tool::Ip6tables => "ip6tables",
            Tool::Fail2ban => "fail2ban-client",
            Tool::Cscli => "cscli",
        }
    }
}

/// The tools found, with the path each one resolved to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tools {
    found: Vec<(Tool, PathBuf)>,
    /// `sudo`, for the commands run when nethergaze is not root.
    sudo: Option<PathBuf>,
}

impl Tools {
    /// Search `$PATH` and then the sbin directories.
    pub(crate) fn detect() -> Tools {
        let mut path = std::env::var_os("PATH").unwrap_or_default();
        path.push(":");
        path.push(SBIN_DIRS);
        path.push(":");
        path.push(BIN_DIRS);
        Tools::detect_in(&path)
    }

    /// Search the directories of a PATH-style list (the seam for tests).
    pub(crate) fn detect_in(path: &OsStr) -> Tools {
        let dirs: Vec<PathBuf> = std::env::split_paths(path).collect();
        let find = |program: &str| {
            dirs.iter()
                .map(|d| d.join(program))
                .find(|p| is_executable(p))
        };
        let found = Tool::ALL
            .into_iter()
            .filter_map(|tool| find(tool.program()).map(|p| (tool, p)))
            .collect();
        Tools {
            found,
            sudo: find("sudo"),
        }
    }

    /// Where `sudo` was found, if it was.
    pub(crate) fn sudo(&self) -> Option<&Path> {
        self.sudo.as_deref()
    }

    /// Where a tool was found, if it was.
    pub(crate) fn path(&self, tool: Tool) -> Option<&Path> {
        self.found
            .iter()
            .find(|(t, _)| *t == tool)
            .map(|(_, p)| p.as_path())
    }

    /// Found tools in preference order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Tool> + '_ {
        self.found.iter().map(|(t, _)| *t)
    }
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
