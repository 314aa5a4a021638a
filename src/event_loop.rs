//! The one loop: a `mio::Poll` on one thread, every input an fd with a Token,
//! dispatched by one `match`. With nothing happening the process sits in
//! `epoll_wait`; nothing sleeps or polls a flag.

use std::io;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Registry, Token};

use crate::engine::{Engine, SocketReader};
use crate::sys::signalfd::SignalFd;
use crate::sys::timerfd::TimerFd;
use crate::ui::session::{Flow, Session};

const TICK: Token = Token(0);
const SOCKETS: Token = Token(1);
const FILES: Token = Token(2);
const SIGNAL: Token = Token(3);
const JOURNAL: Token = Token(4);
const DEADLINE: Token = Token(5);
const FILES_PACED: Token = Token(6);
/// The dashboard's tty, its lone-ESC timer and its frame timer.
const INPUT: Token = Token(7);
const KEY_TIMER: Token = Token(8);
const FRAME: Token = Token(9);
/// The output pipe of the dashboard's running hook or block command.
const CHILD: Token = Token(10);
/// The whois worker's `mio::Waker`: replies are waiting.
const WORKER: Token = Token(11);
/// A log is about to rotate (`LogSet::drain_alarm`): read now, unpaced.
const FILES_ALARM: Token = Token(12);

/// Logs are read at most this often. A busy nginx writes one line per
/// request and inotify reports every write; reading on each would cost a
/// wake-up per line. Within the gap, the inotify fd is taken out of the poll
/// (so further writes don't wake us) and a one-shot timer brings it back.
const MIN_READ_GAP: Duration = Duration::from_millis(50);

/// How long `--once` waits for one netlink dump before giving up on it.
const ONCE_DUMP_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `--for` ran its course.
    Deadline,
    /// SIGTERM, SIGINT or SIGHUP.
    Signal(i32),
    /// The operator quit the dashboard (`q`, Ctrl-C, or the tty went away).
    Quit,
}

pub struct EventLoop {
    poll: Poll,
    events: Events,
    tick: TimerFd,
    signals: SignalFd,
    pacer: ReadPacer,
}

/// Spaces log reads at least `MIN_READ_GAP` apart (see there).
struct ReadPacer {
    timer: TimerFd,
    last_read: Option<Instant>,
    /// The inotify fd is out of the poll until the timer fires.
    deferred: bool,
}

impl EventLoop {
    /// Block the handled signals and register the fixed fds. Call before any
    /// thread or child starts, so they inherit the signal mask.
    pub fn new(engine: &mut Engine) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        let mut signals = SignalFd::open()?;
        let mut tick = TimerFd::periodic(engine.interval)?;
        let registry = poll.registry();
        registry.register(&mut tick, TICK, Interest::READABLE)?;
        registry.register(&mut signals, SIGNAL, Interest::READABLE)?;
        registry.register(&mut engine.logs, FILES, Interest::READABLE)?;
        registry.register(engine.logs.alarm(), FILES_ALARM, Interest::READABLE)?;
        if let SocketReader::Netlink(diag) = &mut engine.sockets {
            registry.register(diag, SOCKETS, Interest::READABLE)?;
        }
        if let Some(journal) = engine.journal.as_mut() {
            registry.register(journal, JOURNAL, Interest::READABLE)?;
        }
        let mut pacer = ReadPacer {
            timer: TimerFd::disarmed()?,
            last_read: None,
            deferred: false,
        };
        registry.register(&mut pacer.timer, FILES_PACED, Interest::READABLE)?;
        // After the signal mask is set, so the worker thread inherits it.
        engine.start_whois(mio::Waker::new(registry, WORKER)?);
        Ok(EventLoop {
            poll,
            events: Events::with_capacity(64),
            tick,
            signals,
            pacer,
        })
    }

    /// Run the live engine until `deadline` passes or a terminating signal.
    pub fn run_for(
        &mut self,
        engine: &mut Engine,
        run_for: Option<Duration>,
    ) -> io::Result<Ending> {
        let mut deadline = match run_for {
            Some(d) => {
                let mut timer = TimerFd::periodic(d)?;
                timer.arm(d, Duration::ZERO)?;
                self.poll
                    .registry()
                    .register(&mut timer, DEADLINE, Interest::READABLE)?;
                Some(timer)
            }
            None => None,
        };
        let ending = self.run(engine, deadline.as_ref(), None);
        if let Some(timer) = deadline.as_mut() {
            let _ = self.poll.registry().deregister(timer);
        }
        ending
    }

    /// Run the dashboard until the operator quits or a terminating signal.
    pub fn run_dashboard(&mut self, engine: &mut Engine, ui: &mut Session) -> io::Result<Ending> {
        ui.register(self.poll.registry(), [INPUT, KEY_TIMER, FRAME, CHILD])?;
        self.run(engine, None, Some(ui))
    }

    /// The loop itself: one poll, one dispatch `match`, then (with a
    /// screen) at most one frame.
    fn run(
        &mut self,
        engine: &mut Engine,
        deadline: Option<&TimerFd>,
        mut ui: Option<&mut Session>,
    ) -> io::Result<Ending> {
        engine.touch_clock();
        engine.start_socket_dump();
        loop {
            if let Some(ui) = ui.as_deref_mut() {
                ui.after_events(engine);
            }
            if let Err(e) = self.poll.poll(&mut self.events, None) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            engine.touch_clock();
            for event in self.events.iter() {
                match event.token() {
                    TICK if self.tick.drain() > 0 => {
                        engine.on_tick();
                        if let Some(ui) = ui.as_deref_mut() {
                            ui.on_tick(engine);
                        }
                    }
                    SOCKETS => {
                        engine.on_sockets_ready();
                    }
                    FILES => self.pacer.on_files_event(self.poll.registry(), engine)?,
                    FILES_PACED => self.pacer.on_timer(self.poll.registry(), engine)?,
                    FILES_ALARM => self.pacer.on_alarm(self.poll.registry(), engine)?,
                    JOURNAL => engine.on_journal_ready(),
                    SIGNAL => {
                        while let Some(sig) = self.signals.next() {
                            if sig == libc::SIGCHLD {
                                engine.on_child_exit();
                            }
                            let ends = match ui.as_deref_mut() {
                                Some(ui) => ui.on_signal(sig),
                                None => on_signal(sig),
                            };
                            if ends {
                                return Ok(Ending::Signal(sig));
                            }
                        }
                    }
                    DEADLINE if deadline.is_some_and(|t| t.drain() > 0) => {
                        return Ok(Ending::Deadline);
                    }
                    INPUT | KEY_TIMER => {
                        let Some(ui) = ui.as_deref_mut() else {
                            continue;
                        };
                        let flow = if event.token() == INPUT {
                            ui.on_input(engine)
                        } else {
                            ui.on_key_timer(engine)
                        };
                        if flow == Flow::Quit {
                            return Ok(Ending::Quit);
                        }
                    }
                    FRAME => {
                        if let Some(ui) = ui.as_deref_mut() {
                            ui.on_frame_timer();
                        }
                    }
                    WORKER => engine.on_whois_replies(),
                    CHILD => {
                        if let Some(ui) = ui.as_deref_mut() {
                            ui.on_child_ready();
                        }
                    }
                    _ => {} // unknown tokens are ignored
                }
            }
        }
    }

    /// One netlink dump, waited for in the loop (used by `--once`).
    pub fn one_dump(&mut self, engine: &mut Engine) -> io::Result<()> {
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
            if self.events.iter().any(|e| e.token() == SOCKETS) && engine.on_sockets_ready() {
                break;
            }
        }
        Ok(())
    }
}

impl ReadPacer {
    /// inotify has events: read now, or later if the last read was recent.
    fn on_files_event(&mut self, registry: &Registry, engine: &mut Engine) -> io::Result<()> {
        match self.last_read.map(|t| t.elapsed()) {
            Some(since) if since < MIN_READ_GAP => {
                if !self.deferred {
                    registry.deregister(&mut engine.logs)?;
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
        registry.register(&mut engine.logs, FILES, Interest::READABLE)?;
        self.deferred = false;
        self.read(registry, engine)
    }

    /// A log may be about to rotate: read now, whatever the pacing, while
    /// what was written to it can still be read. Rotations are rare, so
    /// this costs a few wake-ups per rotation, not one per write.
    fn on_alarm(&mut self, registry: &Registry, engine: &mut Engine) -> io::Result<()> {
        if !engine.logs.drain_alarm() {
            return Ok(());
        }
        if std::mem::take(&mut self.deferred) {
            // The pacing timer still fires; `on_timer` ignores it.
            registry.register(&mut engine.logs, FILES, Interest::READABLE)?;
        }
        self.read(registry, engine)
    }

    fn read(&mut self, registry: &Registry, engine: &mut Engine) -> io::Result<()> {
        engine.on_files_ready();
        self.last_read = Some(Instant::now());
        if engine.logs.has_backlog() && !self.deferred {
            // A file stopped at its per-read bound: read on after the gap,
            // as if inotify had spoken, with the loop's other fds served
            // in between.
            registry.deregister(&mut engine.logs)?;
            self.timer.arm(MIN_READ_GAP, Duration::ZERO)?;
            self.deferred = true;
        }
        Ok(())
    }
}

/// What a signal means for a headless run: true when it ends the run. CHLD
/// is handled by the sources that own children (their tick reaps them);
/// WINCH/TSTP/CONT matter only to the dashboard (`Session::on_signal`).
fn on_signal(sig: i32) -> bool {
    match sig {
        libc::SIGTERM | libc::SIGINT | libc::SIGHUP => true,
        libc::SIGTSTP => {
            // Headless: behave like the default action would.
            // SAFETY: raising SIGSTOP on ourselves has no memory effects.
            unsafe { libc::raise(libc::SIGSTOP) };
            false
        }
        _ => false,
    }
}
