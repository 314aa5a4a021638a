//! The dashboard on the real tty, as the event loop drives it: keys in,
//! frames out, signals that concern the screen.
//!
//! Frames are drawn only when something changed (a key, new data applied, a
//! tick, a resize) and at most every [`MIN_FRAME_GAP`]: when the last frame
//! is more recent, a one-shot timer brings the loop back for the next one,
//! so a key press is answered in the next frame, at once if the screen was
//! quiet. Frames that only show new data (lines, dumps, ticks, a child's
//! output) wait [`DATA_FRAME_GAP`] instead: under load every new line
//! scrolls the whole activity log, so fewer such frames write less. A
//! resize only marks the screen dirty (a storm of SIGWINCH costs one
//! frame); the size is read when the frame is drawn. Each frame is one
//! `write`.
//!
//! The session is the loop's frontend for the dashboard: the loop hands it
//! its tokens (the tty, the lone-ESC timer, the frame timer, the child's
//! pipe), the tick and the signals, each with the engine. The child jobs
//! themselves (hooks, block commands) live in [`super::jobs`].

use std::io;
use std::mem;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};

use super::dashboard::{self, Action, Dashboard, Model};
use super::input::{Key, KeyDecoder};
use super::jobs::{Jobs, Reaped};
use super::terminal::{self, Terminal};
use super::{RenderMode, Renderer};
use crate::actions::block::{SafetyContext, Tools};
use crate::config::Config;
use crate::engine::Engine;
use crate::event_loop::{frontend_token, Ending, Flow, Frontend};
use crate::headless::SourceReport;
use crate::parse::UnixTime;
use crate::sys::timerfd::TimerFd;

/// The dashboard's tokens: the tty, its lone-ESC timer, its frame timer and
/// the output pipe of the running hook or block command.
const INPUT: Token = frontend_token(0);
const KEY_TIMER: Token = frontend_token(1);
const FRAME: Token = frontend_token(2);
const CHILD: Token = frontend_token(3);

/// Shortest time between two frames (10 frames a second at most).
const MIN_FRAME_GAP: Duration = Duration::from_millis(100);
/// Shortest time between two frames when only data changed (4 a second).
const DATA_FRAME_GAP: Duration = Duration::from_millis(250);
/// A lone ESC with nothing after it for this long is the Escape key.
const ESC_TIMEOUT: Duration = Duration::from_millis(30);
/// Bytes read from the tty at once.
const READ_CHUNK: usize = 1024;

/// The tty, the key decoder, the renderer and the dashboard's state.
pub(crate) struct Session {
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
    /// The hook or block commands the dashboard runs.
    jobs: Jobs,
    /// Hooks, `[filters]`, block execution and the safety checks' inputs.
    config: Config,
}

impl Session {
    /// Open the tty and install the panic hook; the screen is untouched
    /// until [`enter`](Self::enter).
    pub(crate) fn open(config: &Config) -> io::Result<Session> {
        let terminal = Terminal::open()?;
        terminal::install_panic_hook();
        let env = |key: &str| std::env::var(key).ok();
        let color = config.color.enabled(true, &env);
        let mode = RenderMode {
            color,
            ..RenderMode::default()
        };
        let mut dashboard = Dashboard::from_config(config, dashboard::host_name(), color);
        dashboard.utc_offset = dashboard::local_utc_offset(crate::parse::time::now());
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
            jobs: Jobs::new(),
            config: config.clone(),
        })
    }

    /// A message for the status line (what happened at start-up).
    pub(crate) fn set_status(&mut self, text: String, now: crate::parse::UnixTime) {
        self.dashboard.set_status(text, now);
    }

    /// Raw mode and the alternate screen; the first frame follows.
    pub(crate) fn enter(&mut self) -> io::Result<()> {
        self.terminal.enter()?;
        self.resized = true;
        self.dirty = true;
        self.urgent = true;
        Ok(())
    }

    /// Put the terminal back as it was (also done on drop and by the panic hook).
    pub(crate) fn leave(&mut self) -> io::Result<()> {
        self.terminal.leave()
    }

    /// The tty is readable: read until it would block, decode, handle keys.
    fn on_input(&mut self, engine: &mut Engine) -> Flow {
        let mut buf = [0u8; READ_CHUNK];
        loop {
            match self.terminal.read_input(&mut buf) {
                // End of file or an error: the terminal is gone (hang-up).
                Ok(0) => return Flow::End(Ending::Quit),
                Ok(n) => {
                    let mut keys = mem::take(&mut self.keys);
                    self.decoder.feed(&buf[..n], &mut |k| keys.push(k));
                    let flow = self.on_keys(&mut keys, engine);
                    self.keys = keys;
                    if flow != Flow::Continue {
                        return flow;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return Flow::End(Ending::Quit),
            }
        }
        if self.decoder.pending_escape() {
            // If arming fails the ESC is settled by the next byte instead.
            let _ = self.key_timer.arm(ESC_TIMEOUT, Duration::ZERO);
        }
        Flow::Continue
    }

    /// Nothing followed an ESC in time: it was the Escape key.
    fn on_key_timer(&mut self, engine: &mut Engine) -> Flow {
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
        // A drill-down just opened names its processes in the same frame,
        // and its row keeps `max_log_entries_per_ip` requests from now on.
        self.dashboard
            .refresh_owners(engine.last_dump(), Instant::now());
        if let Some(ip) = self.dashboard.detail_ip() {
            engine.widen_row(ip);
        }
        flow
    }

    fn on_key(&mut self, key: Key, engine: &mut Engine) -> Flow {
        self.dirty = true;
        self.urgent = true;
        let action = {
            let model = model(engine, &[], &self.jobs);
            self.dashboard.on_key(key, &model)
        };
        let now = engine.now();
        match action {
            Action::None => {}
            Action::Quit => return Flow::End(Ending::Quit),
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
                let text = if !crate::net::is_public(ip) {
                    format!("whois: {ip} is a private or reserved address, not looked up")
                } else if engine.whois_enabled() {
                    format!("whois lookup for {ip} asked (first in line)")
                } else {
                    "whois is off (--no-whois or [whois] enabled = false)".to_string()
                };
                self.dashboard.set_status(text, now);
            }
            Action::Block(ip) => {
                let network = whois_network(engine, ip);
                self.open_block(ip, network, None, now);
            }
            Action::BlockNet(ip, group) => {
                let network = whois_network(engine, ip);
                self.open_block(ip, network, Some(group), now);
            }
            Action::Hook { index, ip } => self.start_hook(index, ip, now),
            Action::CloseJob => self.jobs.close(),
            Action::CopyOutput => self.copy_output(now),
            Action::CopyText(text) => self.copy_text(&text, "the command", now),
            Action::RunBlock => self.start_block(engine, now),
            Action::ShowPrivate(on) => {
                engine.set_show_private(on);
                let said = if on {
                    "private and loopback addresses shown from now on (p hides them)"
                } else {
                    "private and loopback addresses hidden (p shows them)"
                };
                self.dashboard.set_status(said, now);
            }
        }
        Flow::Continue
    }

    /// Whether a child still runs (then says so: one at a time).
    fn is_busy(&mut self, now: UnixTime) -> bool {
        let Some(text) = self.jobs.busy() else {
            return false;
        };
        self.dashboard.set_status(text, now);
        true
    }

    /// Run hook `index` for `ip`, unless a child is still running.
    fn start_hook(&mut self, index: usize, ip: IpAddr, now: UnixTime) {
        if self.is_busy(now) {
            return;
        }
        self.jobs.end();
        let Some(hook) = self.config.actions.hooks.get(index) else {
            return;
        };
        match self.jobs.start_hook(hook, ip) {
            Ok(()) => {
                let watched = self.jobs.watch();
                self.show(watched.err(), now);
                self.dashboard.open_hook_output();
            }
            Err(text) => self.dashboard.set_status(text, now),
        }
    }

    /// `b`: block assist for `ip`, with the tools and the safety context
    /// as they are now.
    /// Not root: the commands carry `sudo` (and run as `sudo -n`). With
    /// ufw among the tools and no child running, `ufw status` is asked so
    /// the offer can say whether ufw is on; as a user only when execution
    /// is on (else a `sudo -n` refused on every `b` would fill the auth
    /// log for a command nobody will run from here).
    /// Block assist for `ip`, on the scope whose target is `group` (a
    /// group's network) when one is.
    fn open_block(
        &mut self,
        ip: IpAddr,
        network: Option<ipnet::IpNet>,
        group: Option<ipnet::IpNet>,
        now: UnixTime,
    ) {
        let tools = Tools::detect().with_targets(self.config.actions.targets.clone());
        let sudo = !crate::sys::process::is_root();
        let execution = self.config.actions.enable_block_execution;
        let probe = tools.path(crate::actions::block::Tool::Ufw).is_some() && (!sudo || execution);
        let assist = dashboard::BlockAssist::new(
            ip,
            tools.clone(),
            SafetyContext::from_system(&self.config),
            execution,
        )
        .with_network(network)
        .with_sudo(sudo)
        .with_scope_of(group);
        self.jobs.end_if_finished();
        self.dashboard.open_block(assist);
        if probe && self.jobs.busy().is_none() {
            let asked = self.jobs.start_ufw_probe(&tools, sudo);
            self.show(asked.err(), now);
        }
    }

    /// Block assist was confirmed: start its commands in the loop.
    fn start_block(&mut self, engine: &mut Engine, now: UnixTime) {
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
                let news = self.jobs.start_block(run, engine);
                self.show(news, crate::parse::time::now());
            }
            Err(e) => self.dashboard.set_status(format!("block: {e}"), now),
        }
    }

    /// The child's pipe is readable.
    fn on_child_ready(&mut self) {
        self.dirty |= self.jobs.on_readable();
    }

    /// SIGCHLD (or a tick, in case signals were merged): reap the child if
    /// it ended (a finished block run is recorded with the engine); forget
    /// the job when it is over and nobody looks at it any more.
    fn reap_job(&mut self, engine: &mut Engine) {
        let now = crate::parse::time::now();
        match self.jobs.reap(engine) {
            Reaped::Nothing => {}
            Reaped::Ufw(state) => {
                if let Some(assist) = self.dashboard.block_assist_mut() {
                    assist.set_ufw_state(state);
                    self.dirty = true;
                }
            }
            Reaped::NextCommand(news) => {
                self.dirty = true;
                self.show(news, now);
            }
            Reaped::Over(news) => {
                self.dirty = true;
                self.show(news, now);
                if !self.dashboard.shows_output() {
                    self.jobs.end();
                }
            }
        }
    }

    /// A message from the jobs, if any, in the status line.
    fn show(&mut self, news: Option<String>, now: UnixTime) {
        if let Some(text) = news {
            self.dashboard.set_status(text, now);
        }
    }

    fn copy_output(&mut self, now: UnixTime) {
        let Some(output) = self.jobs.output() else {
            return;
        };
        let text = String::from_utf8_lossy(output).into_owned();
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

    /// The frame timer fired: the gap has passed; the frame itself is drawn
    /// by [`after_events`](Frontend::after_events).
    fn on_frame_timer(&mut self) {
        self.frame_timer.drain();
        self.frame_armed = false;
    }

    /// Draw if something changed and the last frame is old enough, else
    /// make sure the frame timer will come.
    fn frame_if_due(&mut self, engine: &Engine) {
        if engine.changes() != self.seen_changes {
            self.seen_changes = engine.changes();
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
        let model = model(engine, sources, &self.jobs);
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

/// The dashboard's frontend: its fds, the tick and the screen's signals.
impl Frontend for Session {
    /// In the status line (stderr is the screen).
    fn on_notice(&mut self, text: String, engine: &mut Engine) {
        self.dashboard.set_status(text, engine.now());
        self.dirty = true;
    }

    /// The tty and the two timers; a child's pipe joins under `CHILD`
    /// while it runs.
    fn register(&mut self, registry: &Registry) -> io::Result<()> {
        registry.register(&mut self.terminal, INPUT, Interest::READABLE)?;
        registry.register(&mut self.key_timer, KEY_TIMER, Interest::READABLE)?;
        registry.register(&mut self.frame_timer, FRAME, Interest::READABLE)?;
        self.jobs.register(registry, CHILD)
    }

    fn on_event(&mut self, token: Token, engine: &mut Engine) -> Flow {
        match token {
            INPUT => return self.on_input(engine),
            KEY_TIMER => return self.on_key_timer(engine),
            FRAME => self.on_frame_timer(),
            CHILD => self.on_child_ready(),
            _ => {}
        }
        Flow::Continue
    }

    /// Uptime and rates moved, status messages age, a child may be past
    /// its timeout or reaped (signals can merge).
    fn on_tick(&mut self, engine: &mut Engine) {
        self.dashboard.utc_offset = dashboard::local_utc_offset(engine.now());
        self.dirty = true;
        // Only while the drill-down is open, at most once a second.
        self.dashboard
            .refresh_owners(engine.last_dump(), Instant::now());
        self.jobs.on_tick(Instant::now());
        self.reap_job(engine);
        if let Some(error) = engine.take_events_error() {
            self.dashboard.set_status(error, engine.now());
        }
    }

    /// The screen's signals; TERM, INT and HUP end the run.
    fn on_signal(&mut self, sig: i32, engine: &mut Engine) -> Flow {
        match sig {
            libc::SIGWINCH => {
                self.resized = true;
                self.dirty = true;
                self.urgent = true;
            }
            libc::SIGTSTP => self.suspend(),
            libc::SIGCONT => self.after_continue(),
            libc::SIGTERM | libc::SIGINT | libc::SIGHUP => return Flow::End(Ending::Signal(sig)),
            libc::SIGCHLD => self.reap_job(engine),
            _ => {}
        }
        Flow::Continue
    }

    fn after_events(&mut self, engine: &mut Engine) {
        self.frame_if_due(engine);
    }
}

fn model<'e>(engine: &'e Engine, sources: &'e [SourceReport], jobs: &'e Jobs) -> Model<'e> {
    Model {
        hook: jobs.hook(),
        block: jobs.block(),
        table: engine.table(),
        detector: engine.detector(),
        geoip: engine.geoip(),
        sources,
        started: engine.started(),
        booted: engine.booted(),
        now: engine.now(),
        interval_secs: engine.tick_interval().as_secs_f64(),
        bandwidth: Some(engine.bandwidth()),
        vnstat: Some(engine.vnstat().status()),
        sockets: engine.last_dump(),
        history: engine.history(),
        whois: Some(engine.whois()),
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
mod tests;

/// The whois network of `ip`, a scope choice once RDAP has answered.
fn whois_network(engine: &Engine, ip: IpAddr) -> Option<ipnet::IpNet> {
    engine
        .table()
        .get(ip)
        .and_then(|row| row.whois.as_deref())
        .and_then(|w| w.cidr.as_deref())
        .and_then(|cidr| cidr.parse::<ipnet::IpNet>().ok())
}
