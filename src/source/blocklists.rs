//! Who is already blocked: each firewall or ban engine found on PATH is
//! asked in turn, one child at a time, whose stdout and stderr pipes are
//! fds in the caller's mio loop under one token ([`ChildRun`], as vnstat's
//! are):
//!
//! - `nft -j list table inet nethergaze` (the sets block assist fills);
//! - `iptables -S`, `ip6tables -S` (ufw's rules are in its chains there);
//! - `fail2ban-client banned`, then `fail2ban-client get JAIL banip
//!   --with-time` for each jail with bans (when each ban began);
//! - `cscli decisions list -o json`.
//!
//! A round asks every tool; its answers replace the last ones together
//! ([`BlockReader::take_round`]). A tool that fails or hangs (killed after
//! [`TIMEOUT`]) keeps what it said last time: one slow answer does not
//! unblock everyone. Each answer is capped at [`MAX_ANSWER`] bytes.
//! They all need root; run as a user, nothing is asked.

use std::io;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::{Interest, Registry, Token};

use crate::actions::block::{Tool, Tools};
use crate::parse::blocklist::{self, BlockedNet, Blocker};
use crate::source::child_run::{ChildRun, Ended};
use crate::sys::process;
use crate::sys::time::mktime_local;

/// How long one tool may take before it is killed (cscli asks the local
/// API over HTTP; the others answer in milliseconds).
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// What is kept of one answer, in bytes: 16 MiB holds some 30 000 CrowdSec
/// decisions; a longer answer is refused (the tool keeps its last one).
pub(crate) const MAX_ANSWER: usize = 16 << 20;

/// What is kept of a tool's stderr (read so it never blocks on a full pipe).
const MAX_SAID: usize = 256;

/// One question to one tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ask {
    Nft,
    Iptables,
    Ip6tables,
    Fail2ban,
    Cscli,
}

impl Ask {
    const ALL: [Ask; 5] = [
        Ask::Nft,
        Ask::Iptables,
        Ask::Ip6tables,
        Ask::Fail2ban,
        Ask::Cscli,
    ];

    fn tool(self) -> Tool {
        match self {
            Ask::Nft => Tool::Nft,
            Ask::Iptables => Tool::Iptables,
            Ask::Ip6tables => Tool::Ip6tables,
            Ask::Fail2ban => Tool::Fail2ban,
            Ask::Cscli => Tool::Cscli,
        }
    }

    /// Its arguments; `nft_table` is the table block assist fills.
    fn args(self, nft_table: &str) -> Vec<String> {
        let words: &[&str] = match self {
            Ask::Nft => &["-j", "list", "table", "inet"],
            Ask::Iptables | Ask::Ip6tables => &["-S"],
            Ask::Fail2ban => &["banned"],
            Ask::Cscli => &["decisions", "list", "-o", "json"],
        };
        let mut args: Vec<String> = words.iter().map(|w| (*w).to_string()).collect();
        if self == Ask::Nft {
            args.push(nft_table.to_string());
        }
        args
    }

    /// The networks in an answer; `None` when the answer is not one.
    fn parse(self, exit: ExitStatus, answer: &[u8]) -> Option<Vec<BlockedNet>> {
        let mut out = Vec::new();
        match self {
            // No table yet: nothing blocked by us (nft says "No such file").
            Ask::Nft if !exit.success() => {}
            Ask::Nft => blocklist::nft_table(answer, &mut out).ok()?,
            _ if !exit.success() => return None,
            Ask::Iptables => blocklist::iptables_rules(answer, Blocker::Iptables, &mut out),
            Ask::Ip6tables => blocklist::iptables_rules(answer, Blocker::Ip6tables, &mut out),
            Ask::Fail2ban => blocklist::fail2ban_banned(answer, &mut out),
            Ask::Cscli => blocklist::cscli_decisions(answer, &mut out).ok()?,
        }
        Some(out)
    }
}

/// The reader: register it in mio (readable), call
/// [`on_readable`](Self::on_readable) when it fires and
/// [`on_tick`](Self::on_tick) each tick and on SIGCHLD.
pub(crate) struct BlockReader {
    asks: Vec<(Ask, PathBuf)>,
    /// nethergaze's nft table (whose sets block assist fills).
    nft_table: String,
    /// The last good answer of each ask (same index).
    answers: Vec<Vec<BlockedNet>>,
    /// The next ask of the round under way; `None` between rounds.
    next: Option<usize>,
    /// fail2ban jails still to ask for their ban times, and the ask whose
    /// answer they complete.
    jails: Vec<String>,
    jails_of: usize,
    /// The child: at most [`MAX_ANSWER`] (+1, to see an answer over it)
    /// and [`MAX_SAID`] bytes kept, killed after [`TIMEOUT`].
    child: ChildRun,
    /// The ask the running child answers, and the fail2ban jail it is
    /// asked about (after `banned`).
    asked: Option<(usize, Option<String>)>,
    /// Rounds started so far (the one under way included).
    rounds: u64,
    round_done: bool,
}

impl BlockReader {
    /// Asks the tools in `tools` that it knows how to read, nft about
    /// `nft_table`; none when not root (each would refuse).
    pub(crate) fn new(tools: &Tools, nft_table: &str) -> BlockReader {
        let asks: Vec<(Ask, PathBuf)> = if process::is_root() {
            Ask::ALL
                .into_iter()
                .filter_map(|a| tools.path(a.tool()).map(|p| (a, p.to_path_buf())))
                .collect()
        } else {
            Vec::new()
        };
        BlockReader {
            answers: vec![Vec::new(); asks.len()],
            asks,
            nft_table: nft_table.to_string(),
            next: None,
            jails: Vec::new(),
            jails_of: 0,
            child: ChildRun::new(MAX_ANSWER, MAX_SAID, TIMEOUT),
            asked: None,
            rounds: 0,
            round_done: false,
        }
    }

    /// Whether no round is under way.
    pub(crate) fn is_idle(&self) -> bool {
        self.next.is_none() && !self.child.is_running()
    }

    /// Rounds started so far.
    pub(crate) fn rounds(&self) -> u64 {
        self.rounds
    }

    /// Start a round, unless one is under way (never two children at once).
    pub(crate) fn start_round(&mut self, now: Instant) {
        if !self.is_idle() || self.asks.is_empty() {
            return;
        }
        self.rounds += 1;
        self.next = Some(0);
        self.advance(now);
    }

    /// The round just finished: every tool's last good answer.
    pub(crate) fn take_round(&mut self) -> Option<Vec<BlockedNet>> {
        if !std::mem::take(&mut self.round_done) {
            return None;
        }
        Some(self.answers.iter().flatten().copied().collect())
    }

    /// A pipe is readable.
    pub(crate) fn on_readable(&mut self) {
        self.on_tick(Instant::now());
    }

    /// Each tick and on SIGCHLD: read, reap a finished child (and start the
    /// next), kill one over [`TIMEOUT`].
    pub(crate) fn on_tick(&mut self, now: Instant) {
        if let Some(ended) = self.child.on_tick(now) {
            self.finish(ended);
            self.advance(now);
        }
    }

    /// `--once`: a whole round, waited for (each tool at most [`TIMEOUT`]).
    pub(crate) fn run_now(&mut self) {
        self.start_round(Instant::now());
        while let Some(ended) = self.child.wait() {
            self.finish(ended);
            self.advance(Instant::now());
        }
    }

    /// Start the round's next ask (a jail's ban times first), or end the
    /// round.
    fn advance(&mut self, now: Instant) {
        while let Some(jail) = self.jails.pop() {
            if self.spawn(self.jails_of, Some(jail), now).is_ok() {
                return;
            }
        }
        while let Some(at) = self.next {
            if at >= self.asks.len() {
                self.next = None;
                self.round_done = true;
                return;
            }
            self.next = Some(at + 1);
            // A tool gone since it was found keeps its last answer.
            if self.spawn(at, None, now).is_ok() {
                return;
            }
        }
    }

    fn spawn(&mut self, at: usize, jail: Option<String>, now: Instant) -> io::Result<()> {
        let (ask, path) = &self.asks[at];
        let mut cmd = Command::new(path);
        match &jail {
            Some(jail) => cmd.args(["get", jail, "banip", "--with-time"]),
            None => cmd.args(ask.args(&self.nft_table)),
        };
        self.child.start(cmd, now)?;
        self.asked = Some((at, jail));
        Ok(())
    }

    /// An ask ended: a good answer replaces its last one (a jail's ban
    /// times complete the fail2ban answer; `banned` names the jails to ask).
    /// A tool that failed or hung keeps its last answer.
    fn finish(&mut self, ended: Ended) {
        let Some((at, jail)) = self.asked.take() else {
            return;
        };
        let Ended::Exited(exit) = ended else {
            return;
        };
        let answer = self.child.answer();
        if answer.len() > MAX_ANSWER {
            return;
        }
        let ask = self.asks[at].0;
        if jail.is_some() {
            if exit.success() {
                blocklist::fail2ban_ban_times(answer, mktime_local, &mut self.answers[at]);
            }
        } else if let Some(nets) = ask.parse(exit, answer) {
            self.answers[at] = nets;
            if ask == Ask::Fail2ban {
                self.jails = blocklist::fail2ban_jails(answer);
                self.jails_of = at;
            }
        }
    }
}

impl Source for BlockReader {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.child.register(registry, token, interest)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.child.reregister(registry, token, interest)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.child.deregister(registry)
    }
}

#[cfg(test)]
mod tests;
