//! Who is already blocked: each firewall or ban engine found on PATH is
//! asked in turn, one child at a time, whose stdout and stderr pipes are
//! fds in the caller's mio loop under one token (as vnstat's are):
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
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus};
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};

use crate::actions::block::{Tool, Tools};
use crate::parse::blocklist::{self, BlockedNet, Blocker};
use crate::source::vnstat::read_capped;
use crate::sys::process::{self, PipedChild};
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

struct Running {
    ask: usize,
    /// A fail2ban jail asked for its ban times (after `banned`).
    jail: Option<String>,
    child: Child,
    /// `None` once at EOF.
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    started: Instant,
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
    running: Option<Running>,
    answer: Vec<u8>,
    said: Vec<u8>,
    timeout: Duration,
    /// Rounds started so far (the one under way included).
    rounds: u64,
    round_done: bool,
    registration: Option<(Registry, Token)>,
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
            running: None,
            answer: Vec::new(),
            said: Vec::new(),
            timeout: TIMEOUT,
            rounds: 0,
            round_done: false,
            registration: None,
        }
    }

    /// Whether no round is under way.
    pub(crate) fn is_idle(&self) -> bool {
        self.next.is_none() && self.running.is_none()
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
        self.read_pipes();
        self.reap(now);
    }

    /// `--once`: a whole round, waited for (each tool at most [`TIMEOUT`]).
    pub(crate) fn run_now(&mut self) {
        self.start_round(Instant::now());
        while let Some(run) = self.running.as_ref() {
            let deadline = run.started + self.timeout;
            if self.wait_for_pipes(deadline).is_err() {
                self.kill();
            }
            self.read_pipes();
            if let Some(mut run) = self.running.take() {
                // Pipes closed: it has exited or is exiting.
                let status = run.child.wait();
                self.unregister(&mut run);
                self.finish(run.ask, run.jail.as_deref(), status.ok());
            }
            self.advance(Instant::now());
        }
    }

    fn wait_for_pipes(&mut self, deadline: Instant) -> io::Result<()> {
        let mut poll = Poll::new()?;
        if let Some(run) = self.running.as_ref() {
            for fd in [
                run.stdout.as_ref().map(AsRawFd::as_raw_fd),
                run.stderr.as_ref().map(AsRawFd::as_raw_fd),
            ]
            .into_iter()
            .flatten()
            {
                poll.registry()
                    .register(&mut SourceFd(&fd), Token(0), Interest::READABLE)?;
            }
        }
        let mut events = Events::with_capacity(2);
        loop {
            self.read_pipes();
            if self.pipes_closed() {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.kill();
                return Ok(());
            }
            match poll.poll(&mut events, Some(left)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
                Ok(()) => {}
            }
        }
    }

    /// Start the round's next ask (a jail's ban times first), or end the
    /// round.
    fn advance(&mut self, now: Instant) {
        while let Some(jail) = self.jails.pop() {
            if let Ok(run) = self.spawn(self.jails_of, Some(jail), now) {
                self.running = Some(run);
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
            if let Ok(run) = self.spawn(at, None, now) {
                self.running = Some(run);
                return;
            }
        }
    }

    fn spawn(&mut self, at: usize, jail: Option<String>, now: Instant) -> io::Result<Running> {
        let (ask, path) = &self.asks[at];
        let mut cmd = Command::new(path);
        match &jail {
            Some(jail) => cmd.args(["get", jail, "banip", "--with-time"]),
            None => cmd.args(ask.args(&self.nft_table)),
        };
        let registration = &self.registration;
        let PipedChild {
            child,
            stdout,
            stderr,
        } = process::spawn_piped(cmd, |fd| match registration {
            Some((registry, token)) => SourceFd(&fd).register(registry, *token, Interest::READABLE),
            None => Ok(()),
        })?;
        self.answer.clear();
        self.said.clear();
        Ok(Running {
            ask: at,
            jail,
            child,
            stdout: Some(stdout),
            stderr: Some(stderr),
            started: now,
        })
    }

    fn pipes_closed(&self) -> bool {
        self.running
            .as_ref()
            .is_none_or(|r| r.stdout.is_none() && r.stderr.is_none())
    }

    fn read_pipes(&mut self) {
        let Some(run) = self.running.as_mut() else {
            return;
        };
        let registry = self.registration.as_ref().map(|(r, _)| r);
        if read_capped(&mut run.stdout, &mut self.answer, MAX_ANSWER + 1, registry) {
            run.stdout = None;
        }
        if read_capped(&mut run.stderr, &mut self.said, MAX_SAID, registry) {
            run.stderr = None;
        }
    }

    fn reap(&mut self, now: Instant) {
        let closed = self.pipes_closed();
        let Some(run) = self.running.as_mut() else {
            return;
        };
        if closed {
            match run.child.try_wait() {
                Ok(Some(status)) => {
                    let (ask, jail) = (run.ask, run.jail.take());
                    self.running = None;
                    self.finish(ask, jail.as_deref(), Some(status));
                    self.advance(now);
                    return;
                }
                Ok(None) => {} // exiting; the next tick or SIGCHLD reaps it
                Err(_) => {
                    let (ask, jail) = (run.ask, run.jail.take());
                    self.running = None;
                    self.finish(ask, jail.as_deref(), None);
                    self.advance(now);
                    return;
                }
            }
        }
        if now.saturating_duration_since(run.started) > self.timeout {
            self.kill();
            self.advance(now);
        }
    }

    /// Kill the running child (it keeps its last answer).
    fn kill(&mut self) {
        if let Some(mut run) = self.running.take() {
            self.unregister(&mut run);
            let _ = run.child.kill();
            let _ = run.child.wait(); // brief: SIGKILL was sent
        }
    }

    fn unregister(&self, run: &mut Running) {
        let Some((registry, _)) = &self.registration else {
            return;
        };
        for fd in [
            run.stdout.take().map(|p| p.as_raw_fd()),
            run.stderr.take().map(|p| p.as_raw_fd()),
        ]
        .into_iter()
        .flatten()
        {
            let _ = SourceFd(&fd).deregister(registry);
        }
    }

    /// An ask ended: a good answer replaces its last one (a jail's ban
    /// times complete the fail2ban answer; `banned` names the jails to ask).
    fn finish(&mut self, at: usize, jail: Option<&str>, exit: Option<ExitStatus>) {
        let whole = self.answer.len() <= MAX_ANSWER;
        let ask = self.asks[at].0;
        let ok = exit.filter(|e| e.success() && whole).is_some();
        if jail.is_some() {
            if ok {
                let times = &self.answer;
                blocklist::fail2ban_ban_times(times, mktime_local, &mut self.answers[at]);
            }
        } else if let Some(nets) = exit
            .filter(|_| whole)
            .and_then(|e| ask.parse(e, &self.answer))
        {
            self.answers[at] = nets;
            if ask == Ask::Fail2ban {
                self.jails = blocklist::fail2ban_jails(&self.answer);
                self.jails_of = at;
            }
        }
        self.answer.clear();
        self.said.clear();
    }
}

impl Source for BlockReader {
    fn register(&mut self, registry: &Registry, token: Token, _: Interest) -> io::Result<()> {
        self.registration = Some((registry.try_clone()?, token));
        Ok(())
    }

    fn reregister(&mut self, registry: &Registry, token: Token, _: Interest) -> io::Result<()> {
        self.registration = Some((registry.try_clone()?, token));
        Ok(())
    }

    fn deregister(&mut self, _registry: &Registry) -> io::Result<()> {
        self.registration = None;
        Ok(())
    }
}

impl Drop for BlockReader {
    fn drop(&mut self) {
        if let Some(mut run) = self.running.take() {
            let _ = run.child.kill();
            let _ = run.child.wait();
        }
    }
}

#[cfg(test)]
mod tests;
