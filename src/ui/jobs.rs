//! The child the dashboard runs for the operator, one at a time: a hook
//! (`1`…`9`), block assist's commands (`b`, once confirmed), each by argv,
//! or the `ufw status` block assist asks when it opens (any other job
//! simply replaces that one).
//!
//! The child's output pipe joins the loop under the session's child token:
//! its bytes stream into the modal, SIGCHLD reaps it, the tick enforces its
//! timeout, and frames keep coming meanwhile. Block commands run one after
//! another; when the last one ends the run is recorded in history at once
//! (`Engine::record_block`). Messages for the status line are returned as
//! text; the session shows them.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use crate::actions::block::{BlockRun, Tools, UfwProbe, UfwState};
use crate::actions::hooks::HookRun;
use crate::config::Hook;
use crate::engine::Engine;

/// A child run for the operator.
enum Job {
    Hook(HookRun),
    Block(BlockRun),
    /// `ufw status` for the block assist offer.
    UfwProbe(UfwProbe),
}

/// The dashboard's child and its place in the poll.
pub(crate) struct Jobs {
    /// The loop's registry, for the child's pipe, and the token it gets.
    registry: Option<Registry>,
    token: Token,
    /// The child (kept after it ends while its modal shows).
    job: Option<Job>,
    /// The job's pipe is in the poll (for a block run: this fd).
    watched: Option<RawFd>,
}

/// What reaping found.
pub(crate) enum Reaped {
    /// Nothing ended.
    Nothing,
    /// A block command ended and the next one started (`Some`: why its
    /// output cannot be watched).
    NextCommand(Option<String>),
    /// The job is over: its hook ended, or its block run (`Some`: how that
    /// went; the run is recorded in history).
    Over(Option<String>),
    /// `ufw status` answered (block assist shows it).
    Ufw(UfwState),
}

impl Job {
    fn is_finished(&self) -> bool {
        match self {
            Job::Hook(run) => run.is_finished(),
            Job::Block(run) => run.is_finished(),
            Job::UfwProbe(probe) => probe.is_finished(),
        }
    }

    /// For messages: `hook 1`.
    fn name(&self) -> String {
        match self {
            Job::Hook(run) => format!("hook {}", run.key),
            Job::Block(_) => "a block command".into(),
            Job::UfwProbe(_) => "ufw status".into(),
        }
    }

    /// The output the modal shows: the hook's, or the current (else the
    /// last) block command's.
    fn output(&self) -> &[u8] {
        match self {
            Job::Hook(run) => run.output().bytes(),
            Job::Block(run) => match run.running() {
                Some((_, out)) => out.bytes(),
                None => run
                    .record()
                    .commands
                    .last()
                    .map_or(&[][..], |c| c.output.bytes()),
            },
            Job::UfwProbe(_) => &[],
        }
    }

    /// The pipe to watch now.
    fn fd(&self) -> Option<RawFd> {
        match self {
            Job::Hook(run) => Some(run.as_raw_fd()),
            Job::Block(run) => run.fd(),
            Job::UfwProbe(probe) => Some(probe.fd()),
        }
    }
}

impl Jobs {
    pub(crate) fn new() -> Jobs {
        Jobs {
            registry: None,
            token: Token(usize::MAX),
            job: None,
            watched: None,
        }
    }

    /// A child's pipe will be registered with `registry` under `token`.
    pub(crate) fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        self.registry = Some(registry.try_clone()?);
        self.token = token;
        Ok(())
    }

    /// The hook run the hook modal shows (running or finished).
    pub(crate) fn hook(&self) -> Option<&HookRun> {
        match &self.job {
            Some(Job::Hook(run)) => Some(run),
            _ => None,
        }
    }

    /// The block commands the block modal shows (running or finished).
    pub(crate) fn block(&self) -> Option<&BlockRun> {
        match &self.job {
            Some(Job::Block(run)) => Some(run),
            _ => None,
        }
    }

    /// The output the modal shows, if there is a job.
    pub(crate) fn output(&self) -> Option<&[u8]> {
        self.job.as_ref().map(Job::output)
    }

    /// While a child still runs, what to tell the operator who asked for
    /// another (one at a time).
    pub(crate) fn busy(&self) -> Option<String> {
        // `ufw status` for an offer is simply stopped (`end`) by the next job.
        let job = self.job.as_ref().filter(|j| !j.is_finished())?;
        if matches!(job, Job::UfwProbe(_)) {
            return None;
        }
        Some(format!(
            "{} is still running: wait for it (Esc in a hook's window stops the hook)",
            job.name()
        ))
    }

    /// Run `hook` for `ip` (the caller has [`end`](Self::end)ed the last
    /// job, and then [`watch`](Self::watch)es this one). Err: what to show.
    pub(crate) fn start_hook(&mut self, hook: &Hook, ip: IpAddr) -> Result<(), String> {
        let run = HookRun::spawn(hook, ip, Instant::now())
            .map_err(|e| format!("hook {}: cannot start: {e}", hook.key))?;
        self.job = Some(Job::Hook(run));
        Ok(())
    }

    /// Ask `ufw status` for block assist's offer (in place of the last
    /// job, which the caller has checked is over). Err: what to show.
    pub(crate) fn start_ufw_probe(&mut self, tools: &Tools, sudo: bool) -> Result<(), String> {
        self.end();
        let probe = UfwProbe::start(tools, sudo).map_err(|e| format!("ufw status: {e}"))?;
        self.job = Some(Job::UfwProbe(probe));
        self.watch()
    }

    /// Block commands started (in place of the last job): watch them, or
    /// record the run at once if its tool could not start. Returns what to
    /// show, if anything.
    pub(crate) fn start_block(&mut self, run: BlockRun, engine: &mut Engine) -> Option<String> {
        self.end();
        let ended = run.is_finished(); // the tool could not start
        self.job = Some(Job::Block(run));
        if ended {
            return self.finish_block(engine);
        }
        self.watch().err()
    }

    /// Put the job's current pipe in the poll. Err: what to show (its
    /// output is still read when it is reaped).
    pub(crate) fn watch(&mut self) -> Result<(), String> {
        let (Some(registry), Some(fd)) = (&self.registry, self.job.as_ref().and_then(Job::fd))
        else {
            return Ok(());
        };
        registry
            .register(&mut SourceFd(&fd), self.token, Interest::READABLE)
            .map_err(|e| format!("cannot watch the output: {e}"))?;
        self.watched = Some(fd);
        Ok(())
    }

    /// Take the pipe out of the poll (before it is closed).
    fn unwatch(&mut self) {
        if let (Some(registry), Some(fd)) = (&self.registry, self.watched.take()) {
            let _ = registry.deregister(&mut SourceFd(&fd));
        }
    }

    /// Forget the job (a child still running is killed with its group).
    pub(crate) fn end(&mut self) {
        self.unwatch();
        self.job = None;
    }

    /// Forget the job if it is over.
    pub(crate) fn end_if_finished(&mut self) {
        if self.job.as_ref().is_some_and(Job::is_finished) {
            self.end();
        }
    }

    /// Its modal was closed: stop a running hook (it is reaped later),
    /// forget a finished job. Block commands are left to finish: stopping
    /// a firewall change half-way helps nobody.
    pub(crate) fn close(&mut self) {
        match self.job.as_mut() {
            Some(Job::Hook(run)) if !run.is_finished() => run.cancel(Instant::now()),
            Some(Job::Block(run)) if !run.is_finished() => {}
            _ => self.end(),
        }
    }

    /// The child's pipe is readable: true when output arrived.
    pub(crate) fn on_readable(&mut self) -> bool {
        match self.job.as_mut() {
            Some(Job::Hook(run)) => run.on_readable(),
            Some(Job::Block(run)) => run.on_readable(),
            Some(Job::UfwProbe(probe)) => probe.on_readable(),
            None => false,
        }
    }

    /// The tick: a child past its timeout is stopped.
    pub(crate) fn on_tick(&mut self, now: Instant) {
        match self.job.as_mut() {
            Some(Job::Hook(run)) => run.on_tick(now),
            Some(Job::Block(run)) => run.on_tick(now),
            Some(Job::UfwProbe(probe)) => probe.on_tick(now),
            None => {}
        }
    }

    /// SIGCHLD (or a tick, in case signals were merged): reap the child if
    /// it ended, start a block's next command, record a block run that is
    /// over.
    pub(crate) fn reap(&mut self, engine: &mut Engine) -> Reaped {
        let reaped = match self.job.as_mut() {
            Some(Job::Hook(run)) => !run.is_finished() && run.try_reap().is_some(),
            Some(Job::Block(run)) => run.reap(),
            Some(Job::UfwProbe(probe)) => {
                let Some(state) = probe.reap() else {
                    return Reaped::Nothing;
                };
                self.end();
                return Reaped::Ufw(state);
            }
            None => false,
        };
        if !reaped {
            return Reaped::Nothing;
        }
        self.unwatch();
        if let Some(Job::Block(run)) = self.job.as_mut() {
            if run.start_next() {
                return Reaped::NextCommand(self.watch().err());
            }
            return Reaped::Over(self.finish_block(engine));
        }
        Reaped::Over(None)
    }

    /// A block run ended: record it in history, say how it went (also
    /// when its modal was closed).
    fn finish_block(&mut self, engine: &mut Engine) -> Option<String> {
        let Some(Job::Block(run)) = &self.job else {
            return None;
        };
        let record = run.record();
        engine.record_block(record);
        let target = crate::actions::block::target_text(record.target);
        let tool = record.tool.program();
        Some(match record.failure() {
            None => format!("blocked {target} with {tool}"),
            Some(why) if record.refusal().is_some() => {
                format!("not blocked: {why}; nothing was run")
            }
            Some(why) => format!("blocking {target} with {tool} failed: {why}"),
        })
    }
}
