//! The dashboard on the real tty, as the event loop drives it: keys in,
//! frames out, signals that concern the screen.
//!
//! Frames are drawn only when something changed (a key, new data applied, a
//! tick, a resize) and at most every [`MIN_FRAME_GAP`]: when the last frame
//! is more recent, a one-shot timer brings the loop back for the next one,
//! so a key press is answered in the next frame, at once if the screen was
//! quiet. Frames that only show new data (lines, dumps, ticks, a child's
//! output) wait [`DATA_FRAME_GAP`] instead: under load every new line
//! scrolls the whole activity log, so fewer such frames write less. A resize only marks the screen dirty (a storm of SIGWINCH costs
//! one frame); the size is read when the frame is drawn. Each frame is one
//! `write`.
//!
//! A hook (`1`…`9`) runs as a child whose output pipe joins the loop under
//! the CHILD token: its bytes stream into the hook modal, SIGCHLD reaps it,
//! the tick enforces its timeout, and frames keep coming meanwhile. Block
//! assist's commands (`b`, once confirmed) run the same way, one after
//! another, each by argv. One child at a time.

use std::io;
use std::mem;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use super::app::{self, Action, Dashboard, Model};
use super::input::{Key, KeyDecoder};
use super::terminal::{self, Terminal};
use super::{RenderMode, Renderer};
use crate::actions::block::{BlockRecord, BlockRun, SafetyContext, Tools};
use crate::actions::hooks::HookRun;
use crate::config::Config;
use crate::engine::Engine;
use crate::headless::SourceReport;
use crate::parse::UnixTime;
use crate::sys::timerfd::TimerFd;

/// Shortest time between two frames (10 frames a second at most).
pub const MIN_FRAME_GAP: Duration = Duration::from_millis(100);
/// Shortest time between two frames when only data changed (4 a second).
pub const DATA_FRAME_GAP: Duration = Duration::from_millis(250);
/// A lone ESC with nothing after it for this long is the Escape key.
const ESC_TIMEOUT: Duration = Duration::from_millis(30);
/// Bytes read from the tty at once.
const READ_CHUNK: usize = 1024;

/// Whether the loop goes on after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

/// The tty, the key decoder, the renderer and the dashboard's state.
pub struct Session {
    terminal: Terminal,
    decoder: KeyDecoder,
    renderer: Renderer,
    dashboard: Dashboard,
    /// Settles a lone ESC (see `ui::input`).
    key_timer: TimerFd,
    /// Brings the loop back for a frame that had to wait.
    frame_timer: TimerFd,
    frame_armed: bool,
    last_frame: Option<Instant>,
    dirty: bool,
    /// What changed was the operator's doing (a key, a resize): the next
    /// frame comes after [`MIN_FRAME_GAP`], not [`DATA_FRAME_GAP`].
    urgent: bool,
    /// The size must be read again before the next frame.
    resized: bool,
    /// `Core::changes` at the last frame.
    seen_changes: u64,
    /// Bytes of the next write: anything queued (OSC 52), then the frame.
    out: Vec<u8>,
    pending: Vec<u8>,
    /// Keys decoded from one read, handled after the decoder lets go.
    keys: Vec<Key>,
    tmux: bool,
    /// The loop's registry, for a child's pipe, and the token it gets.
    registry: Option<Registry>,
    child_token: Token,
    /// The child the dashboard runs (kept after it ends while its modal shows).
    job: Option<Job>,
    /// The job's pipe is in the poll (for a block run: this fd).
    job_registered: Option<i32>,
    /// Hooks, `[filters]`, block execution and the safety checks' inputs.
    config: Config,
    /// Every block run to its end in this session, for history (issue 4).
    /// Finished block runs, handed to history after this loop iteration.
    pub blocks: Vec<BlockRecord>,
}

/// A child run for the operator.
enum Job {
    Hook(HookRun),
    Block(BlockRun),
}

impl Job {
    fn is_finished(&self) -> bool {
        match self {
            Job::Hook(run) => run.is_finished(),
            Job::Block(run) => run.is_finished(),
        }
    }

    /// For messages: `hook 1`.
    fn name(&self) -> String {
        match self {
            Job::Hook(run) => format!("hook {}", run.key),
            Job::Block(_) => "a block command".into(),
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
        }
    }

    /// The pipe to watch now.
    fn fd(&self) -> Option<i32> {
        use std::os::fd::AsRawFd;
        match self {
            Job::Hook(run) => Some(run.as_raw_fd()),
            Job::Block(run) => run.fd(),
        }
    }
}

impl Session {
    /// Open the tty and install the panic hook; the screen is untouched
    /// until [`enter`](Self::enter).
    pub fn open(config: &Config) -> io::Result<Session> {
        let terminal = Terminal::open()?;
        terminal::install_panic_hook();
        let env = |key: &str| std::env::var(key).ok();
        let color = config.color.enabled(true, &env);
        let mode = RenderMode {
            color,
            ..RenderMode::default()
        };
        let mut dashboard = Dashboard::from_config(config, app::host_name(), color);
        dashboard.utc_offset = app::local_utc_offset(crate::parse::time::now());
        Ok(Session {
            terminal,
            decoder: KeyDecoder::new(),
            renderer: Renderer::new(0, 0, mode),
            dashboard,
            key_timer: TimerFd::disarmed()?,
            frame_timer: TimerFd::disarmed()?,
            frame_armed: false,
            last_frame: None,
            dirty: true,
            urgent: true,
            resized: true,
            seen_changes: 0,
            out: Vec::new(),
            pending: Vec::new(),
            keys: Vec::new(),
            tmux: terminal::in_tmux(std::env::var_os("TMUX").as_deref()),
            registry: None,
            child_token: Token(usize::MAX),
            job: None,
            job_registered: None,
            config: config.clone(),
            blocks: Vec::new(),
        })
    }

    /// Raw mode and the alternate screen; the first frame follows.
    pub fn enter(&mut self) -> io::Result<()> {
        self.terminal.enter()?;
        self.resized = true;
        self.dirty = true;
        self.urgent = true;
        Ok(())
    }

    /// Put the terminal back as it was (also done on drop and by the panic hook).
    pub fn leave(&mut self) -> io::Result<()> {
        self.terminal.leave()
    }

    /// Register the tty and the two timers with the loop's poll; a child's
    /// pipe will be registered under `child` while it runs.
    pub fn register(
        &mut self,
        registry: &Registry,
        [input, key_timer, frame, child]: [Token; 4],
    ) -> io::Result<()> {
        registry.register(&mut self.terminal, input, Interest::READABLE)?;
        registry.register(&mut self.key_timer, key_timer, Interest::READABLE)?;
        registry.register(&mut self.frame_timer, frame, Interest::READABLE)?;
        self.registry = Some(registry.try_clone()?);
        self.child_token = child;
        Ok(())
    }

    /// The tty is readable: read until it would block, decode, handle keys.
    pub fn on_input(&mut self, engine: &mut Engine) -> Flow {
        let mut buf = [0u8; READ_CHUNK];
        loop {
            match self.terminal.read_input(&mut buf) {
                // End of file or an error: the terminal is gone (hang-up).
                Ok(0) => return Flow::Quit,
                Ok(n) => {
                    let mut keys = mem::take(&mut self.keys);
                    self.decoder.feed(&buf[..n], &mut |k| keys.push(k));
                    let flow = self.on_keys(&mut keys, engine);
                    self.keys = keys;
                    if flow == Flow::Quit {
                        return flow;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return Flow::Quit,
            }
        }
        if self.decoder.pending_escape() {
            // If arming fails the ESC is settled by the next byte instead.
            let _ = self.key_timer.arm(ESC_TIMEOUT, Duration::ZERO);
        }
        Flow::Continue
    }

    /// Nothing followed an ESC in time: it was the Escape key.
    pub fn on_key_timer(&mut self, engine: &mut Engine) -> Flow {
        if self.key_timer.drain() == 0 {
            return Flow::Continue;
        }
        let mut keys = mem::take(&mut self.keys);
        self.decoder.flush_timeout(&mut |k| keys.push(k));
        let flow = self.on_keys(&mut keys, engine);
        self.keys = keys;
        flow
    }

    fn on_keys(&mut self, keys: &mut Vec<Key>, engine: &mut Engine) -> Flow {
        let mut flow = Flow::Continue;
        for key in keys.drain(..) {
            if flow == Flow::Continue {
                flow = self.on_key(key, engine);
            }
        }
        flow
    }

    fn on_key(&mut self, key: Key, engine: &mut Engine) -> Flow {
        self.dirty = true;
        self.urgent = true;
        let action = {
            let model = model(engine, &[], self.job.as_ref());
            self.dashboard.on_key(key, &model)
        };
        let now = engine.core.now;
        match action {
            Action::None => {}
            Action::Quit => return Flow::Quit,
            Action::Suspend => self.suspend(),
            Action::Refresh => {
                engine.read_logs_pass();
                engine.start_socket_dump();
                self.dashboard
                    .set_status("refreshed: logs read, sockets asked for", now);
            }
            Action::Copy(ip) => {
                let text = ip.to_string();
                self.pending
                    .extend_from_slice(&terminal::osc52_copy(&text, self.tmux));
                let via = if self.tmux { ", through tmux" } else { "" };
                self.dashboard.set_status(
                    format!(
                        "copied {text} to the clipboard (OSC 52{via}; the terminal must allow it)"
                    ),
                    now,
                );
            }
            Action::Whois(ip) => {
                engine.request_whois_now(ip);
                let text = if engine.whois_enabled() {
                    format!("whois lookup for {ip} asked (first in line)")
                } else {
                    "whois is off (--no-whois or [whois] enabled = false)".to_string()
                };
                self.dashboard.set_status(text, now);
            }
            Action::Block(ip) => {
                // The whois network is a scope choice once RDAP has answered.
                let network = engine
                    .core
                    .table
                    .get(ip)
                    .and_then(|row| row.whois.as_deref())
                    .and_then(|w| w.cidr.as_deref())
                    .and_then(|cidr| cidr.parse::<ipnet::IpNet>().ok());
                self.open_block(ip, network);
            }
            Action::Hook { index, ip } => self.start_hook(index, ip, now),
            Action::CloseJob => self.close_job(),
            Action::CopyOutput => self.copy_output(now),
            Action::CopyText(text) => self.copy_text(&text, "the command", now),
            Action::RunBlock => self.start_block(now),
        }
        Flow::Continue
    }

    /// Whether a child still runs (then says so: one at a time).
    fn is_busy(&mut self, now: UnixTime) -> bool {
        let Some(job) = self.job.as_ref().filter(|j| !j.is_finished()) else {
            return false;
        };
        let text = format!(
            "{} is still running: wait for it (Esc in a hook's window stops the hook)",
            job.name()
        );
        self.dashboard.set_status(text, now);
        true
    }

    /// Run hook `index` for `ip`, unless a child is still running.
    fn start_hook(&mut self, index: usize, ip: IpAddr, now: UnixTime) {
        if self.is_busy(now) {
            return;
        }
        self.end_job();
        let Some(hook) = self.config.actions.hooks.get(index) else {
            return;
        };
        match HookRun::spawn(hook, ip, Instant::now()) {
            Ok(run) => {
                self.job = Some(Job::Hook(run));
                self.register_job(now);
                self.dashboard.open_hook_output();
            }
            Err(e) => {
                let text = format!("hook {}: cannot start: {e}", hook.key);
                self.dashboard.set_status(text, now);
            }
        }
    }

    /// `b`: block assist for `ip`, with the tools and the safety context
    /// as they are now.
    fn open_block(&mut self, ip: IpAddr, network: Option<ipnet::IpNet>) {
        let assist = app::BlockAssist::new(
            ip,
            Tools::detect(),
            SafetyContext::from_system(&self.config),
            self.config.actions.enable_block_execution,
        )
        .with_network(network);
        if self.job.as_ref().is_some_and(Job::is_finished) {
            self.end_job();
        }
        self.dashboard.open_block(assist);
    }

    /// Block assist was confirmed: start its commands in the loop.
    fn start_block(&mut self, now: UnixTime) {
        let busy = self.is_busy(now);
        let Some(assist) = self.dashboard.block_assist_mut() else {
            return;
        };
        if busy {
            assist.cancel();
            return;
        }
        match assist.start(now) {
            Ok(run) => {
                self.end_job();
                let ended = run.is_finished(); // the tool could not start
                self.job = Some(Job::Block(run));
                if ended {
                    self.block_finished();
                } else {
                    self.register_job(now);
                }
            }
            Err(e) => self.dashboard.set_status(format!("block: {e}"), now),
        }
    }

    /// Put the job's current pipe in the poll.
    fn register_job(&mut self, now: UnixTime) {
        let (Some(registry), Some(fd)) = (&self.registry, self.job.as_ref().and_then(Job::fd))
        else {
            return;
        };
        match registry.register(&mut SourceFd(&fd), self.child_token, Interest::READABLE) {
            Ok(()) => self.job_registered = Some(fd),
            // Its output is still read when it is reaped.
            Err(e) => self
                .dashboard
                .set_status(format!("cannot watch the output: {e}"), now),
        }
    }

    /// Take the pipe out of the poll (before it is closed).
    fn deregister_job(&mut self) {
        if let (Some(registry), Some(fd)) = (&self.registry, self.job_registered.take()) {
            let _ = registry.deregister(&mut SourceFd(&fd));
        }
    }

    /// Forget the job (a child still running is killed with its group).
    fn end_job(&mut self) {
        self.deregister_job();
        self.job = None;
    }

    /// Its modal was closed: stop a running hook (it is reaped later),
    /// forget a finished job. Block commands are left to finish: stopping
    /// a firewall change half-way helps nobody.
    fn close_job(&mut self) {
        match self.job.as_mut() {
            Some(Job::Hook(run)) if !run.is_finished() => run.cancel(Instant::now()),
            Some(Job::Block(run)) if !run.is_finished() => {}
            _ => self.end_job(),
        }
    }

    /// The child's pipe is readable.
    pub fn on_child_ready(&mut self) {
        let got = match self.job.as_mut() {
            Some(Job::Hook(run)) => run.on_readable(),
            Some(Job::Block(run)) => run.on_readable(),
            None => false,
        };
        self.dirty |= got;
    }

    /// SIGCHLD (or a tick, in case signals were merged): reap the child if
    /// it ended, start a block's next command; forget the job when it is
    /// over and nobody looks at it any more.
    fn reap_job(&mut self) {
        let reaped = match self.job.as_mut() {
            Some(Job::Hook(run)) => !run.is_finished() && run.try_reap().is_some(),
            Some(Job::Block(run)) => run.reap(),
            None => false,
        };
        if !reaped {
            return;
        }
        self.dirty = true;
        self.deregister_job();
        if let Some(Job::Block(run)) = self.job.as_mut() {
            if run.start_next() {
                return self.register_job(crate::parse::time::now());
            }
            self.block_finished();
        }
        if !self.dashboard.shows_output() {
            self.end_job();
        }
    }

    /// A block run ended: keep its record, say how it went (also when its
    /// modal was closed).
    fn block_finished(&mut self) {
        let Some(Job::Block(run)) = &self.job else {
            return;
        };
        let record = run.record().clone();
        let target = crate::actions::block::target_text(record.target);
        let tool = record.tool.program();
        let text = if record.succeeded() {
            format!("blocked {target} with {tool}")
        } else {
            format!("blocking {target} with {tool} failed")
        };
        self.blocks.push(record);
        self.dashboard.set_status(text, crate::parse::time::now());
    }

    fn copy_output(&mut self, now: UnixTime) {
        let Some(job) = &self.job else { return };
        let text = String::from_utf8_lossy(job.output()).into_owned();
        let what = format!("{} lines of output", text.lines().count());
        self.copy_text(&text, &what, now);
    }

    /// OSC 52 with `text` (line breaks kept), and a message saying so.
    fn copy_text(&mut self, text: &str, what: &str, now: UnixTime) {
        self.pending
            .extend_from_slice(&terminal::osc52_copy_lines(text, self.tmux));
        let cut = if text.len() > terminal::OSC52_MAX_TEXT {
            format!(" (the first {} KiB)", terminal::OSC52_MAX_TEXT >> 10)
        } else {
            String::new()
        };
        let via = if self.tmux { ", through tmux" } else { "" };
        self.dashboard.set_status(
            format!(
                "copied {what}{cut} to the clipboard (OSC 52{via}; the terminal must allow it)"
            ),
            now,
        );
    }

    /// Ctrl-Z or SIGTSTP: give the terminal back and stop; on return we
    /// were continued, so take it again and repaint everything.
    fn suspend(&mut self) {
        let _ = self.terminal.suspend();
        self.after_continue();
    }

    fn after_continue(&mut self) {
        let _ = self.terminal.resume();
        self.renderer.invalidate();
        self.resized = true;
        self.dirty = true;
        self.urgent = true;
    }

    /// A screen signal from the signalfd. Returns true for the ones that
    /// end the run (TERM, INT, HUP).
    pub fn on_signal(&mut self, sig: i32) -> bool {
        match sig {
            libc::SIGWINCH => {
                self.resized = true;
                self.dirty = true;
                self.urgent = true;
            }
            libc::SIGTSTP => self.suspend(),
            libc::SIGCONT => self.after_continue(),
            libc::SIGTERM | libc::SIGINT | libc::SIGHUP => return true,
            libc::SIGCHLD => self.reap_job(),
            _ => {}
        }
        false
    }

    /// The periodic tick: uptime and rates moved, status messages age.
    pub fn on_tick(&mut self, engine: &Engine) {
        self.dashboard.utc_offset = app::local_utc_offset(engine.core.now);
        self.dirty = true;
        match self.job.as_mut() {
            Some(Job::Hook(run)) => run.on_tick(Instant::now()),
            Some(Job::Block(run)) => run.on_tick(Instant::now()),
            None => {}
        }
        self.reap_job();
    }

    /// The frame timer fired: the gap has passed; the frame itself is drawn
    /// by [`after_events`](Self::after_events).
    pub fn on_frame_timer(&mut self) {
        self.frame_timer.drain();
        self.frame_armed = false;
    }

    /// After every batch of events: draw if something changed and the last
    /// frame is old enough, else make sure the frame timer will come.
    pub fn after_events(&mut self, engine: &mut Engine) {
        for record in self.blocks.drain(..) {
            engine.record_block(&record);
        }
        if engine.core.changes != self.seen_changes {
            self.seen_changes = engine.core.changes;
            self.dirty = true;
        }
        // An armed timer comes soon enough unless a key now wants the
        // shorter gap; when it comes the wait is worked out again.
        if !self.dirty || (self.frame_armed && !self.urgent) {
            return;
        }
        let wait = frame_wait(self.last_frame.map(|t| t.elapsed()), self.urgent);
        if wait.is_zero() {
            return self.draw(engine);
        }
        self.frame_armed = self.frame_timer.arm(wait, Duration::ZERO).is_ok();
        if !self.frame_armed {
            self.draw(engine);
        }
    }

    fn draw(&mut self, engine: &Engine) {
        if mem::take(&mut self.resized) {
            let (w, h) = self.terminal.size().unwrap_or((0, 0));
            self.renderer.resize(w, h);
        }
        if self.terminal.take_redraw() {
            self.renderer.invalidate();
        }
        let sources = engine.source_reports();
        let model = model(engine, &sources, self.job.as_ref());
        self.dashboard.draw(self.renderer.frame(), &model);
        self.out.clear();
        self.out.append(&mut self.pending);
        self.renderer.render(&mut self.out);
        if !self.out.is_empty() {
            // A stalled tty gives up on this frame and asks for a full one.
            let _ = self.terminal.write_frame(&self.out);
        }
        self.dirty = false;
        self.urgent = false;
        self.last_frame = Some(Instant::now());
    }
}

fn model<'e>(engine: &'e Engine, sources: &'e [SourceReport], job: Option<&'e Job>) -> Model<'e> {
    Model {
        hook: match job {
            Some(Job::Hook(run)) => Some(run),
            _ => None,
        },
        block: match job {
            Some(Job::Block(run)) => Some(run),
            _ => None,
        },
        table: &engine.core.table,
        detector: &engine.core.detector,
        geoip: engine.core.geoip.as_ref(),
        sources,
        started: engine.started,
        now: engine.core.now,
        interval_secs: engine.interval.as_secs_f64(),
        bandwidth: Some(&engine.bandwidth),
        sockets: engine.last_dump(),
        history: engine.history.as_ref(),
    }
}

/// How long the next frame must wait, `since` the last one (none yet: now).
/// Zero means draw now.
fn frame_wait(since: Option<Duration>, urgent: bool) -> Duration {
    let gap = if urgent {
        MIN_FRAME_GAP
    } else {
        DATA_FRAME_GAP
    };
    since.map_or(Duration::ZERO, |s| gap.saturating_sub(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn first_frame_is_drawn_at_once() {
        assert_eq!(frame_wait(None, false), Duration::ZERO);
        assert_eq!(frame_wait(None, true), Duration::ZERO);
    }

    #[test]
    fn a_key_gets_the_next_frame_after_the_short_gap() {
        // Quiet screen: at once.
        assert_eq!(frame_wait(Some(ms(100)), true), Duration::ZERO);
        assert_eq!(frame_wait(Some(ms(5_000)), true), Duration::ZERO);
        // Just after a data frame: the rest of MIN_FRAME_GAP, not of the data gap.
        assert_eq!(frame_wait(Some(ms(30)), true), ms(70));
        assert_eq!(frame_wait(Some(ms(150)), true), Duration::ZERO);
    }

    #[test]
    fn data_only_frames_wait_the_longer_gap() {
        assert_eq!(frame_wait(Some(ms(100)), false), ms(150));
        assert_eq!(frame_wait(Some(ms(249)), false), ms(1));
        assert_eq!(frame_wait(Some(ms(250)), false), Duration::ZERO);
        assert!(DATA_FRAME_GAP > MIN_FRAME_GAP);
    }
}
