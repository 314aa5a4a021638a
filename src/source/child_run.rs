//! One short child process driven from the mio loop without blocking it:
//! its stdout and stderr are non-blocking pipes registered under the
//! owner's token, each read up to a cap (the rest is read and dropped, so
//! the child never blocks on a full pipe); it is reaped once both pipes
//! reach end-of-file and killed when it runs over its timeout. Only
//! [`ChildRun::wait`], for `--once`, blocks.
//!
//! One child at a time: vnstat's runner ([`Vnstat`](super::vnstat::Vnstat))
//! and the block-list reader
//! ([`BlockReader`](super::blocklists::BlockReader)) each own one and keep
//! only what to run and how to read its answer.

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus};
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};

use crate::sys::process::{self, PipedChild};

/// How a run ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// Both pipes closed and the child exited.
    Exited(ExitStatus),
    /// It ran over its timeout and was killed.
    TimedOut,
    /// Waiting for it failed (it was killed if still running).
    Failed(io::Error),
}

struct Running {
    child: Child,
    /// `None` once at EOF.
    stdout: Option<ChildStdout>,
    /// `None` once at EOF.
    stderr: Option<ChildStderr>,
    started: Instant,
}

/// The runner. Register it in mio (readable) through its owner's
/// [`Source`] impl; call [`on_tick`](Self::on_tick) when the token fires,
/// each tick and on `SIGCHLD`.
pub(crate) struct ChildRun {
    /// What is kept of stdout: `max_answer + 1` bytes, so that an answer
    /// over `max_answer` can be told from one that fits.
    max_answer: usize,
    /// What is kept of stderr.
    max_said: usize,
    timeout: Duration,
    running: Option<Running>,
    answer: Vec<u8>,
    said: Vec<u8>,
    /// Kept from `register` so each child's pipes join the same loop.
    registration: Option<(Registry, Token)>,
}

impl ChildRun {
    pub(crate) fn new(max_answer: usize, max_said: usize, timeout: Duration) -> ChildRun {
        ChildRun {
            max_answer,
            max_said,
            timeout,
            running: None,
            answer: Vec::new(),
            said: Vec::new(),
            registration: None,
        }
    }

    /// Tests run scripts that hang: a shorter timeout.
    #[cfg(test)]
    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The running child's pid.
    #[cfg(test)]
    pub(crate) fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.child.id())
    }

    /// What the answer buffer holds allocated (tests bound it).
    #[cfg(test)]
    pub(crate) fn answer_capacity(&self) -> usize {
        self.answer.capacity()
    }

    pub(crate) fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// The last run's stdout: longer than `max_answer` when it was cut.
    pub(crate) fn answer(&self) -> &[u8] {
        &self.answer
    }

    /// The last run's stderr, at most `max_said` bytes.
    pub(crate) fn said(&self) -> &[u8] {
        &self.said
    }

    /// Start `cmd` (stdin, pipes and process group are set here). Refused
    /// while a child runs: never two at once.
    pub(crate) fn start(&mut self, cmd: Command, now: Instant) -> io::Result<()> {
        if self.running.is_some() {
            return Err(io::Error::other("a child is still running"));
        }
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
        self.running = Some(Running {
            child,
            stdout: Some(stdout),
            stderr: Some(stderr),
            started: now,
        });
        Ok(())
    }

    /// A pipe is readable, a tick, `SIGCHLD`: read both pipes until
    /// `WouldBlock`, reap a child whose pipes closed, kill one over the
    /// timeout. `Some` when the run is over.
    pub(crate) fn on_tick(&mut self, now: Instant) -> Option<Ended> {
        self.read_pipes();
        self.reap(now)
    }

    /// `--once`: wait for the running child, at most its timeout. Blocks:
    /// `--once` has nothing else to do meanwhile. `None` when none runs.
    pub(crate) fn wait(&mut self) -> Option<Ended> {
        let deadline = self.running.as_ref()?.started + self.timeout;
        match self.wait_for_pipes(deadline) {
            Ok(Some(ended)) => return Some(ended),
            Ok(None) => {}
            Err(e) => {
                self.kill();
                return Some(Ended::Failed(e));
            }
        }
        let mut run = self.running.take()?;
        // Pipes closed: it has exited or is exiting; a brief wait.
        Some(match run.child.wait() {
            Ok(status) => Ended::Exited(status),
            Err(e) => Ended::Failed(e),
        })
    }

    /// Waits, in a poll of its own, until both pipes closed or `deadline`
    /// (then the child is killed: `Some(TimedOut)`).
    fn wait_for_pipes(&mut self, deadline: Instant) -> io::Result<Option<Ended>> {
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
                return Ok(None);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.kill();
                return Ok(Some(Ended::TimedOut));
            }
            match poll.poll(&mut events, Some(left)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
                Ok(()) => {}
            }
        }
    }

    fn pipes_closed(&self) -> bool {
        self.running
            .as_ref()
            .is_none_or(|r| r.stdout.is_none() && r.stderr.is_none())
    }

    /// Read both pipes until `WouldBlock`; a pipe at EOF is closed.
    fn read_pipes(&mut self) {
        let Some(run) = self.running.as_mut() else {
            return;
        };
        let registry = self.registration.as_ref().map(|(r, _)| r);
        let answer_cap = self.max_answer.saturating_add(1);
        if read_capped(&mut run.stdout, &mut self.answer, answer_cap, registry) {
            run.stdout = None;
        }
        if read_capped(&mut run.stderr, &mut self.said, self.max_said, registry) {
            run.stderr = None;
        }
    }

    /// Reap a child that exited (after its pipes closed), or kill one that
    /// ran over the timeout.
    fn reap(&mut self, now: Instant) -> Option<Ended> {
        let closed = self.pipes_closed();
        let run = self.running.as_mut()?;
        if closed {
            match run.child.try_wait() {
                Ok(Some(status)) => {
                    self.running = None;
                    return Some(Ended::Exited(status));
                }
                Ok(None) => {} // exiting; the next tick or SIGCHLD reaps it
                Err(e) => {
                    self.running = None;
                    return Some(Ended::Failed(e));
                }
            }
        }
        if now.saturating_duration_since(run.started) > self.timeout {
            self.kill();
            return Some(Ended::TimedOut);
        }
        None
    }

    fn kill(&mut self) {
        if let Some(mut run) = self.running.take() {
            self.unregister_pipes(&mut run);
            let _ = run.child.kill();
            let _ = run.child.wait(); // brief: SIGKILL was sent
        }
    }

    fn unregister_pipes(&self, run: &mut Running) {
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
}

/// Read `pipe` into `buf` until `WouldBlock`, keeping at most `cap` bytes
/// (the rest is read and dropped, so the child never blocks on a full pipe).
/// Returns true at EOF or on an error: the pipe is done (and deregistered).
fn read_capped<R: Read + AsRawFd>(
    pipe: &mut Option<R>,
    buf: &mut Vec<u8>,
    cap: usize,
    registry: Option<&Registry>,
) -> bool {
    let Some(reader) = pipe.as_mut() else {
        return false;
    };
    let mut chunk = [0u8; 4096];
    let done = loop {
        match reader.read(&mut chunk) {
            Ok(0) => break true,
            Ok(n) => {
                let room = cap.saturating_sub(buf.len()).min(n);
                buf.extend_from_slice(&chunk[..room]);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break true,
        }
    };
    if done {
        if let Some(registry) = registry {
            let _ = SourceFd(&reader.as_raw_fd()).deregister(registry);
        }
    }
    done
}

/// The owner registers the runner: each child's pipes join that loop
/// under that token.
impl Source for ChildRun {
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

impl Drop for ChildRun {
    fn drop(&mut self) {
        if let Some(mut run) = self.running.take() {
            let _ = run.child.kill();
            let _ = run.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::process::exists;

    fn sh(body: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", body]);
        cmd
    }

    #[test]
    fn both_pipes_are_kept_up_to_their_caps_and_drained() {
        let mut run = ChildRun::new(10, 4, Duration::from_secs(30));
        let body = "head -c 100000 /dev/zero; head -c 100000 /dev/zero >&2; exit 3";
        run.start(sh(body), Instant::now()).unwrap();
        let Some(Ended::Exited(exit)) = run.wait() else {
            panic!("the child ran to its end");
        };
        assert_eq!(exit.code(), Some(3));
        assert_eq!(run.answer().len(), 11, "one byte over: the answer was cut");
        assert_eq!(run.said().len(), 4);
        assert!(!run.is_running());
    }

    #[test]
    fn never_two_children_at_once() {
        let mut run = ChildRun::new(10, 10, Duration::from_secs(30));
        let now = Instant::now();
        run.start(sh("exec sleep 30"), now).unwrap();
        let first = run.pid();
        assert!(run.start(sh("exit 0"), now).is_err());
        assert_eq!(run.pid(), first);
    }

    #[test]
    fn wait_kills_a_child_over_its_timeout() {
        let mut run = ChildRun::new(10, 10, Duration::from_millis(100));
        run.start(sh("exec sleep 30"), Instant::now()).unwrap();
        let pid = run.pid().expect("running") as libc::pid_t;
        assert!(matches!(run.wait(), Some(Ended::TimedOut)));
        assert!(!run.is_running());
        assert!(!exists(pid), "killed and reaped");
        assert!(run.wait().is_none(), "nothing left to wait for");
    }
}
