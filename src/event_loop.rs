//! The one loop: a `mio::Poll` on one thread, every input an fd with a Token,
//! dispatched by one `match`. With nothing happening the process sits in
//! `epoll_wait`; nothing sleeps or polls a flag.
//!
//! The loop owns tokens, not state. Its own tokens (the tick, the signals,
//! the log pacing, and the engine's fds, which the engine registers itself
//! under the tokens of [`token`]) go to the [`Engine`]; every other token,
//! the tick after the engine's and every signal go to the [`Frontend`] with
//! `&mut Engine`: the headless run (`headless::run::Headless`) or the
//! dashboard (`ui::session::Session`). `EventLoop` is generic over it, as
//! alacritty's event loop is over its listener.

mod metrics;

use std::io;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Registry, Token};

use crate::engine::{Engine, SourceTokens};
use crate::sys::signalfd::SignalFd;
use crate::sys::timerfd::TimerFd;

pub(crate) use metrics::MetricsFile;

/// The loop's tokens. The engine registers its fds under `FILES`,
/// `FILES_ALARM`, `SOCKETS`, `JOURNAL` and `VNSTAT` (`Engine::register`); a frontend
/// gets tokens from [`frontend_token`].
pub(crate) mod token {
    use mio::Token;

    pub(crate) const TICK: Token = Token(0);
    /// The netlink sock_diag socket.
    pub(crate) const SOCKETS: Token = Token(1);
    /// The logs' inotify fd.
    pub(crate) const FILES: Token = Token(2);
    pub(crate) const SIGNAL: Token = Token(3);
    /// The stdout pipe of `journalctl -f`.
    pub(crate) const JOURNAL: Token = Token(4);
    /// The stdout and stderr pipes of a running `vnstat`.
    pub(crate) const VNSTAT: Token = Token(5);
    /// The pacing timer that brings the inotify fd back (`ReadPacer`).
    pub(crate) const FILES_PACED: Token = Token(6);
    /// The pipes of the tool asked who is already blocked.
    pub(crate) const BLOCKED: Token = Token(7);
    /// The whois worker's `mio::Waker`: replies are waiting.
    pub(crate) const WORKER: Token = Token(11);
    /// A log is about to rotate (`LogSet::drain_alarm`): read now, unpaced.
    pub(crate) const FILES_ALARM: Token = Token(12);
    /// The `--metrics-file` timer.
    pub(crate) const METRICS: Token = Token(13);
    /// Tokens from here on are the frontend's.
    pub(super) const FIRST_FRONTEND: usize = 16;
}

/// Where the engine registers its fds.
const SOURCE_TOKENS: SourceTokens = SourceTokens {
    files: token::FILES,
    files_alarm: token::FILES_ALARM,
    sockets: token::SOCKETS,
    journal: token::JOURNAL,
    vnstat: token::VNSTAT,
    blocked: token::BLOCKED,
};

/// The frontend's token number `n` (the loop hands its events on unread).
pub(crate) const fn frontend_token(n: usize) -> Token {
    Token(token::FIRST_FRONTEND + n)
}

/// Logs are read at most this often. A busy nginx writes one line per
/// request and inotify reports every write; reading on each would cost a
/// wake-up per line. Within the gap, the inotify fd is taken out of the poll
/// (so further writes don't wake us) and a one-shot timer brings it back.
/// As long as the dashboard's gap between data-only frames: a read per
/// frame, so a line reaches the screen within two gaps (half a second),
/// well within a tick, for a fifth of the wake-ups a 50 ms gap cost.
/// A rotation is read at once whatever the gap (`on_alarm`).
const MIN_READ_GAP: Duration = Duration::from_millis(250);
/// A file stopped at its per-read bound (a backlog) is read on after this
/// shorter gap, so catching up keeps its pace.
const BACKLOG_READ_GAP: Duration = Duration::from_millis(50);

/// How long `--once` waits for one netlink dump before giving up on it.
const ONCE_DUMP_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// `--for` ran its course.
    Deadline,
    /// SIGTERM, SIGINT or SIGHUP.
    Signal(i32),
    /// The operator quit the dashboard (`q`, Ctrl-C, or the tty went away).
    Quit,
}

/// Whether the loop goes on after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    End(Ending),
}

/// What the loop drives besides the engine: the headless run or the
/// dashboard. Every call gets the engine, so a frontend acts on it directly
/// (a key asks for a whois lookup, a finished block run is recorded).
pub(crate) trait Frontend {
    /// Register the frontend's own fds, under [`frontend_token`]s.
    fn register(&mut self, registry: &Registry) -> io::Result<()>;

    /// One of the frontend's tokens is ready (unknown ones are ignored).
    fn on_event(&mut self, token: Token, engine: &mut Engine) -> Flow;

    /// The periodic tick, after the engine's.
    fn on_tick(&mut self, _engine: &mut Engine) {}

    /// A signal from the signalfd (SIGCHLD after the engine reaped its own
    /// children). TERM, INT and HUP should end the run.
    fn on_signal(&mut self, sig: i32, engine: &mut Engine) -> Flow;

    /// Before the first poll and after every batch of events: the place to
    /// draw, at most once per loop iteration.
    fn after_events(&mut self, _engine: &mut Engine) {}

    /// Something the operator should know that stops nothing (a metrics
    /// file that cannot be written). Headless: a line on stderr.
    fn on_notice(&mut self, text: String, _engine: &mut Engine) {
        // It names a file, which may hold anything.
        let text = crate::view::format::printable(text.as_bytes(), 2000);
        eprintln!("nethergaze: {text}");
    }
}

pub(crate) struct EventLoop {
    poll: Poll,
    events: Events,
    own: OwnFds,
}

/// The fds the loop itself owns and dispatches.
struct OwnFds {
    tick: TimerFd,
    signals: SignalFd,
    pacer: ReadPacer,
    metrics: Option<MetricsFile>,
}

/// Spaces log reads at least `MIN_READ_GAP` apart, `BACKLOG_READ_GAP` while
/// catching up (see there).
struct ReadPacer {
    timer: TimerFd,
    last_read: Option<Instant>,
    /// The inotify fd is out of the poll until the timer fires.
    deferred: bool,
}

impl EventLoop {
    /// Block the handled signals and register the fixed fds and the
    /// engine's. Call before any thread or child starts, so they inherit
    /// the signal mask.
    pub(crate) fn new(engine: &mut Engine) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        let mut signals = SignalFd::open()?;
        let mut tick = TimerFd::periodic(engine.tick_interval())?;
        let registry = poll.registry();
        registry.register(&mut tick, token::TICK, Interest::READABLE)?;
        registry.register(&mut signals, token::SIGNAL, Interest::READABLE)?;
        engine.register(registry, &SOURCE_TOKENS)?;
        let mut pacer = ReadPacer {
            timer: TimerFd::disarmed()?,
            last_read: None,
            deferred: false,
        };
        registry.register(&mut pacer.timer, token::FILES_PACED, Interest::READABLE)?;
        // After the signal mask is set, so the worker thread inherits it.
        engine.start_whois(mio::Waker::new(registry, token::WORKER)?);
        Ok(EventLoop {
            poll,
            events: Events::with_capacity(64),
            own: OwnFds {
                tick,
                signals,
                pacer,
                metrics: None,
            },
        })
    }

    /// Write `file` on its timer from now on (`--metrics-file`).
    pub(crate) fn export_metrics(&mut self, mut file: MetricsFile) -> io::Result<()> {
        let registry = self.poll.registry();
        registry.register(&mut file.timer, token::METRICS, Interest::READABLE)?;
        self.own.metrics = Some(file);
        Ok(())
    }

    /// Write the metrics file now, if there is one (the end of a run): the
    /// error to report, as [`MetricsFile::write`].
    pub(crate) fn write_metrics_now(&mut self, engine: &Engine) -> Option<String> {
        self.own.metrics.as_mut().and_then(|m| m.write(engine))
    }

    /// Run until the frontend or a signal ends it: one poll, one dispatch
    /// `match` per event, then the frontend's `after_events` (a frame).
    pub(crate) fn run(
        &mut self,
        engine: &mut Engine,
        frontend: &mut impl Frontend,
    ) -> io::Result<Ending> {
        frontend.register(self.poll.registry())?;
        engine.touch_clock();
        engine.start_socket_dump();
        if engine.has_log_backlog() {
            // Left for the loop (a --since read-back under the dashboard):
            // read on in paced slices as if inotify had spoken.
            self.own.pacer.read(self.poll.registry(), engine)?;
        }
        loop {
            frontend.after_events(engine);
            if let Err(e) = self.poll.poll(&mut self.events, None) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            engine.touch_clock();
            let registry = self.poll.registry();
            for event in self.events.iter() {
                let flow = self
                    .own
                    .dispatch(registry, event.token(), engine, frontend)?;
                if let Flow::End(ending) = flow {
                    return Ok(ending);
                }
            }
        }
    }

    /// One netlink dump, waited for in the loop (used by `--once`).
    pub(crate) fn one_dump(&mut self, engine: &mut Engine) -> io::Result<()> {
        engine.start_socket_dump();
        let started = Instant::now();
        while engine.is_dump_in_flight() {
            let left = ONCE_DUMP_TIMEOUT.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            match self.poll.poll(&mut self.events, Some(left)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
                Ok(()) => {}
            }
            let sockets = self.events.iter().any(|e| e.token() == token::SOCKETS);
            if sockets && engine.on_sockets_ready() {
                break;
            }
        }
        Ok(())
    }
}

impl OwnFds {
    /// The one dispatch `match`: the loop's tokens, then the frontend's.
    fn dispatch(
        &mut self,
        registry: &Registry,
        token: Token,
        engine: &mut Engine,
        frontend: &mut impl Frontend,
    ) -> io::Result<Flow> {
        match token {
            token::TICK => {
                if self.tick.drain() > 0 {
                    engine.on_tick();
                    frontend.on_tick(engine);
                }
            }
            token::SOCKETS => {
                engine.on_sockets_ready();
            }
            token::FILES => self.pacer.on_files_event(registry, engine)?,
            token::FILES_PACED => self.pacer.on_timer(registry, engine)?,
            token::FILES_ALARM => self.pacer.on_alarm(registry, engine)?,
            token::JOURNAL => engine.on_journal_ready(),
            token::VNSTAT => engine.on_vnstat_ready(),
            token::BLOCKED => engine.on_blocked_ready(),
            token::WORKER => engine.on_whois_replies(),
            token::METRICS => self.on_metrics_timer(engine, frontend),
            token::SIGNAL => return Ok(self.on_signals(engine, frontend)),
            _ => return Ok(frontend.on_event(token, engine)),
        }
        Ok(Flow::Continue)
    }

    fn on_metrics_timer(&mut self, engine: &mut Engine, frontend: &mut impl Frontend) {
        let Some(metrics) = self.metrics.as_mut().filter(|m| m.timer.drain() > 0) else {
            return;
        };
        if let Some(text) = metrics.write(engine) {
            frontend.on_notice(text, engine);
        }
    }

    /// Every pending signal: SIGCHLD reaps the engine's children first.
    fn on_signals(&mut self, engine: &mut Engine, frontend: &mut impl Frontend) -> Flow {
        while let Some(sig) = self.signals.next() {
            if sig == libc::SIGCHLD {
                engine.on_child_exit();
            }
            let flow = frontend.on_signal(sig, engine);
            if flow != Flow::Continue {
                return flow;
            }
        }
        Flow::Continue
    }
}

impl ReadPacer {
    /// inotify has events: read now, or later if the last read was recent.
    fn on_files_event(&mut self, registry: &Registry, engine: &mut Engine) -> io::Result<()> {
        match self.last_read.map(|t| t.elapsed()) {
            Some(since) if since < MIN_READ_GAP => {
                if !self.deferred {
                    engine.pause_log_events(registry)?;
                    self.timer.arm(MIN_READ_GAP - since, Duration::ZERO)?;
                    self.deferred = true;
                }
            }
            _ => self.read(registry, engine)?,
        }
        Ok(())
    }

    /// The gap has passed: watch inotify again and read what came meanwhile.
    fn on_timer(&mut self, registry: &Registry, engine: &mut Engine) -> io::Result<()> {
        if self.timer.drain() == 0 || !self.deferred {
            return Ok(());
        }
        engine.resume_log_events(registry, token::FILES)?;
        self.deferred = false;
        self.read(registry, engine)
    }

    /// A log may be about to rotate: read now, whatever the pacing, while
    /// what was written to it can still be read. Rotations are rare, so
    /// this costs a few wake-ups per rotation, not one per write.
    fn on_alarm(&mut self, registry: &Registry, engine: &mut Engine) -> io::Result<()> {
        if !engine.take_log_alarm() {
            return Ok(());
        }
        if std::mem::take(&mut self.deferred) {
            // The pacing timer still fires; `on_timer` ignores it.
            engine.resume_log_events(registry, token::FILES)?;
        }
        self.read(registry, engine)
    }

    fn read(&mut self, registry: &Registry, engine: &mut Engine) -> io::Result<()> {
        engine.on_files_ready();
        self.last_read = Some(Instant::now());
        if engine.has_log_backlog() && !self.deferred {
            // A file stopped at its per-read bound: read on after the gap,
            // as if inotify had spoken, with the loop's other fds served
            // in between.
            engine.pause_log_events(registry)?;
            self.timer.arm(BACKLOG_READ_GAP, Duration::ZERO)?;
            self.deferred = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
