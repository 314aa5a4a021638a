//! The headless run as the loop's frontend. `--for` follows the sources
//! through [`EventLoop::run`] until its deadline or a terminating signal;
//! `--once` reads what the logs and the journal hold and waits for one
//! socket dump. Either way the snapshot is printed afterwards (`entry`).

use std::io;
use std::time::Duration;

use mio::{Interest, Registry, Token};

use crate::engine::Engine;
use crate::event_loop::{frontend_token, Ending, EventLoop, Flow, Frontend};
use crate::sys::timerfd::TimerFd;

/// The `--for` deadline's timer.
const DEADLINE: Token = frontend_token(0);

/// A run without a screen: it ends at its deadline.
pub(crate) struct Headless {
    deadline: TimerFd,
}

impl Headless {
    /// A run that ends `run_for` from now (`None`: at a terminating signal).
    pub(crate) fn lasting(run_for: Option<Duration>) -> io::Result<Headless> {
        let deadline = TimerFd::disarmed()?;
        if let Some(run_for) = run_for {
            deadline.arm(run_for, Duration::ZERO)?;
        }
        Ok(Headless { deadline })
    }
}

impl Frontend for Headless {
    fn register(&mut self, registry: &Registry) -> io::Result<()> {
        registry.register(&mut self.deadline, DEADLINE, Interest::READABLE)
    }

    fn on_event(&mut self, token: Token, _engine: &mut Engine) -> Flow {
        if token == DEADLINE && self.deadline.drain() > 0 {
            return Flow::End(Ending::Deadline);
        }
        Flow::Continue
    }

    /// TERM, INT and HUP end the run. CHLD is the engine's (the journal
    /// reader); WINCH and CONT matter only to a screen.
    fn on_signal(&mut self, sig: i32, _engine: &mut Engine) -> Flow {
        match sig {
            libc::SIGTERM | libc::SIGINT | libc::SIGHUP => Flow::End(Ending::Signal(sig)),
            libc::SIGTSTP => {
                // Headless: behave like the default action would.
                crate::sys::process::stop_self_now();
                Flow::Continue
            }
            _ => Flow::Continue,
        }
    }
}

/// `--once`: everything the logs hold now and one socket dump.
pub(crate) fn once(engine: &mut Engine, event_loop: &mut EventLoop) -> Result<(), String> {
    engine.touch_clock();
    engine.read_logs_now();
    engine.read_journal_now();
    engine.read_vnstat_now();
    event_loop
        .one_dump(engine)
        .map_err(|e| format!("socket dump: {e}"))?;
    // After the dump: cscli's connection to its local API is not a row.
    engine.read_blocked_now();
    Ok(())
}

/// `--for DURATION`: what the logs hold already (`--from-start`), then
/// follow them until the deadline (`None`: `--events` alone, none) or a
/// terminating signal.
pub(crate) fn follow_for(
    engine: &mut Engine,
    event_loop: &mut EventLoop,
    duration: Option<Duration>,
) -> Result<Ending, String> {
    engine.touch_clock();
    engine.read_logs_now();
    let mut headless = Headless::lasting(duration).map_err(|e| format!("event loop: {e}"))?;
    let ending = event_loop
        .run(engine, &mut headless)
        .map_err(|e| format!("event loop: {e}"))?;
    engine.touch_clock();
    engine.read_logs_pass(); // lines written just before the end still count
    Ok(ending)
}
