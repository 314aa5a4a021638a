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
    /// Where their blocks go (`[actions]`): the defaults until [`Tools::with_targets`].
    targets: BlockTargets,
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
            targets: BlockTargets::default(),
        }
    }

    /// The same tools, blocking into `targets` (the config's `[actions]`).
    pub(crate) fn with_targets(mut self, targets: BlockTargets) -> Tools {
        self.targets = targets;
        self
    }

    /// Where the plans for these tools put their blocks.
    pub(crate) fn targets(&self) -> &BlockTargets {
        &self.targets
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

/// Default `[actions] fail2ban_jail`.
pub(crate) const DEFAULT_FAIL2BAN_JAIL: &str = "sshd";
/// Default `[actions] cscli_duration`.
pub(crate) const DEFAULT_CSCLI_DURATION: &str = "4h";
/// Default `[actions] nft_table` (family `inet`).
pub(crate) const DEFAULT_NFT_TABLE: &str = "nethergaze";
/// Default `[actions] nft_set_v4`.
pub(crate) const DEFAULT_NFT_SET_V4: &str = "blocked4";
/// Default `[actions] nft_set_v6`.
pub(crate) const DEFAULT_NFT_SET_V6: &str = "blocked6";
/// Longest `[actions] cscli_reason`: CrowdSec shows it in one table cell.
pub(crate) const MAX_CSCLI_REASON: usize = 128; // characters

/// Where the block commands put their blocks: the fail2ban jail, CrowdSec's
/// decision, nft's table and sets (`[actions]`). The one definition the
/// plans and the "already blocked?" reader both use. Every value is checked
/// by [`BlockTargets::check_name`] and friends before it gets here: each
/// reaches a command line (as one argv element, never through a shell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlockTargets {
    /// The jail `fail2ban-client set JAIL banip` bans in.
    pub(crate) fail2ban_jail: String,
    /// `cscli decisions add --duration`.
    pub(crate) cscli_duration: String,
    /// `cscli decisions add --reason`; `None`: not passed (cscli says `manual`).
    pub(crate) cscli_reason: Option<String>,
    /// nft's `inet` table that holds the sets and the input chain.
    pub(crate) nft_table: String,
    /// The set of IPv4 addresses and networks blocked.
    pub(crate) nft_set_v4: String,
    /// The set of IPv6 addresses and networks blocked.
    pub(crate) nft_set_v6: String,
}

impl Default for BlockTargets {
    fn default() -> BlockTargets {
        BlockTargets {
            fail2ban_jail: DEFAULT_FAIL2BAN_JAIL.to_string(),
            cscli_duration: DEFAULT_CSCLI_DURATION.to_string(),
            cscli_reason: None,
            nft_table: DEFAULT_NFT_TABLE.to_string(),
            nft_set_v4: DEFAULT_NFT_SET_V4.to_string(),
            nft_set_v6: DEFAULT_NFT_SET_V6.to_string(),
        }
    }
}

impl BlockTargets {
    /// The nft set for one family.
    pub(crate) fn nft_set(&self, v4: bool) -> &str {
        if v4 {
            &self.nft_set_v4
        } else {
            &self.nft_set_v6
        }
    }

    /// A jail, table or set name: 1 to 64 of `A-Z a-z 0-9 _ . -`, not
    /// starting with `-` (a tool would read it as an option). Narrower than
    /// what fail2ban and nft accept, so it means the same to both and to a
    /// reader of the command.
    pub(crate) fn check_name(name: &str) -> Result<(), String> {
        const MAX: usize = 64;
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b"_.-".contains(&b);
        if name.is_empty() || name.len() > MAX {
            return Err(format!("{name:?}: 1 to {MAX} characters"));
        }
        if name.starts_with('-') {
            return Err(format!("{name:?} starts with `-`"));
        }
        match name.bytes().find(|&b| !allowed(b)) {
            Some(_) => Err(format!(
                "{name:?}: only letters, digits, `_`, `.` and `-` are allowed"
            )),
            None => Ok(()),
        }
    }

    /// A cscli duration: whole hours, minutes and seconds as Go writes them
    /// (`4h`, `30m`, `1h30m`, `90s`), or whole days alone (`1d`, which
    /// cscli also takes); not zero.
    pub(crate) fn check_duration(text: &str) -> Result<(), String> {
        let wrong = || {
            Err(format!(
                "{text:?} is not a cscli duration (such as 4h, 30m, 1h30m, 90s or 1d)"
            ))
        };
        if let Some(days) = text.strip_suffix('d') {
            return match whole(days) {
                Some(n) if n > 0 => Ok(()),
                _ => wrong(),
            };
        }
        let mut rest = text;
        let mut total = 0u64;
        let mut units = "hms";
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let (number, tail) = rest.split_at(digits);
            let Some(unit) = tail.chars().next() else {
                return wrong();
            };
            // Each unit once, largest first, as Go prints them.
            let Some(at) = units.find(unit) else {
                return wrong();
            };
            units = &units[at + 1..];
            let Some(n) = whole(number) else {
                return wrong();
            };
            total = total.saturating_add(n);
            rest = &tail[1..];
        }
        if total == 0 {
            return wrong();
        }
        Ok(())
    }

    /// `[actions] cscli_reason`: free text passed as one argv element; at
    /// most [`MAX_CSCLI_REASON`] characters, no control characters, not
    /// empty and not starting with `-`.
    pub(crate) fn check_reason(text: &str) -> Result<(), String> {
        if text.trim().is_empty() {
            return Err("empty (leave the key out for cscli's own `manual`)".into());
        }
        if text.chars().count() > MAX_CSCLI_REASON {
            return Err(format!("longer than {MAX_CSCLI_REASON} characters"));
        }
        if text.chars().any(char::is_control) {
            return Err("holds a control character (a newline, a tab, an escape…)".into());
        }
        if text.starts_with('-') {
            return Err(format!("{text:?} starts with `-`"));
        }
        Ok(())
    }
}

/// A whole number of up to 6 digits (a duration part; 999 999 days is
/// already longer than any ban anyone means).
fn whole(digits: &str) -> Option<u64> {
    if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}
