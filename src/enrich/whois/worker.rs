//! The one thread that does network lookups, and the loop's handle to it.
//!
//! The loop calls [`Worker::request`] (never blocks: a full queue says
//! [`Submit::Full`] and the loop tries again later) and drains [`Worker::try_recv`]
//! when the `mio::Waker` fires. The worker honours per-registry spacing and
//! `Retry-After` by setting aside the addresses of a registry that must not be asked
//! yet and looking up the others meanwhile: one registry's 429 stalls only its own
//! addresses. It is its own thread, so the loop never waits.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::IpAddr;
use std::sync::mpsc::{
    self, Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError, TrySendError,
};
use std::thread;
use std::time::{Duration, Instant};

use super::client::{registry_host, MAX_RETRY_AFTER};
use super::{cache, Bootstrap, Client, Config, WhoisError, WhoisInfo};
use crate::parse::time;

/// A lookup asked of the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Request {
    /// The address to look up.
    pub(crate) ip: IpAddr,
    /// Goes before every non-urgent request (the row the user is looking at).
    pub(crate) urgent: bool,
}

/// A finished lookup.
pub(crate) type Reply = (IpAddr, Result<WhoisInfo, WhoisError>);

/// What became of [`Worker::request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Submit {
    /// Queued; a reply will come.
    Queued,
    /// Already queued or in progress; its reply will come.
    Pending,
    /// The queue is full: nothing was queued, ask again later.
    Full,
    /// Private or reserved address: never looked up.
    NotPublic,
    /// The worker thread is gone.
    Stopped,
}

/// The loop's handle: request sender, reply receiver and the one record of
/// the addresses asked this run.
pub(crate) struct Worker {
    requests: SyncSender<Request>,
    replies: Receiver<Reply>,
    asked: HashMap<IpAddr, Asked>,
}

/// Where an asked address stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    /// Queued or being looked up: asking again is [`Submit::Pending`].
    Pending,
    /// Answered (or settled from the cache): not asked again in the
    /// background, though an urgent request may ask afresh.
    Answered,
}

/// How long after a failed bootstrap fetch it is tried again (the copy in use, built-in
/// or from disk, routes meanwhile). A good copy is fetched again after
/// [`cache::MAX_AGE`].
const BOOTSTRAP_RETRY: Duration = Duration::from_secs(3600);

impl Worker {
    /// Starts the thread `nethergaze-whois`. It calls `waker.wake()` after each reply
    /// and ends when the `Worker` is dropped (after the lookup in progress, if any;
    /// nobody waits for it).
    pub(crate) fn spawn(config: Config, waker: mio::Waker) -> io::Result<Worker> {
        let (requests, inbox) = mpsc::sync_channel(config.queue.max(1));
        let (outbox, replies) = mpsc::channel();
        thread::Builder::new()
            .name("nethergaze-whois".to_owned())
            .spawn(move || run(config, &inbox, &outbox, &waker))?;
        Ok(Worker {
            requests,
            replies,
            asked: HashMap::new(),
        })
    }

    /// Queues a lookup of `ip` unless it is pending already. Never blocks.
    pub(crate) fn request(&mut self, ip: IpAddr, urgent: bool) -> Submit {
        if !crate::net::is_public(ip) {
            return Submit::NotPublic;
        }
        if self.asked.get(&ip) == Some(&Asked::Pending) {
            return Submit::Pending;
        }
        match self.requests.try_send(Request { ip, urgent }) {
            Ok(()) => {
                self.asked.insert(ip, Asked::Pending);
                Submit::Queued
            }
            Err(TrySendError::Full(_)) => Submit::Full,
            Err(TrySendError::Disconnected(_)) => Submit::Stopped,
        }
    }

    /// The next finished lookup, if any. Call until `None` when the waker fires.
    pub(crate) fn try_recv(&mut self) -> Option<Reply> {
        let reply = self.replies.try_recv().ok()?;
        self.asked.insert(reply.0, Asked::Answered);
        Some(reply)
    }

    /// Number of lookups queued or in progress.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.asked
            .values()
            .filter(|&&a| a == Asked::Pending)
            .count()
    }

    /// Whether `ip` was asked this run (pending or answered).
    pub(crate) fn was_asked(&self, ip: IpAddr) -> bool {
        self.asked.contains_key(&ip)
    }

    /// Whether `ip` is queued or being looked up now.
    pub(crate) fn is_pending(&self, ip: IpAddr) -> bool {
        self.asked.get(&ip) == Some(&Asked::Pending)
    }

    /// Keep the record bounded: past `max` addresses, forget the answered
    /// ones (a few may then be asked twice); pending ones stay, so no
    /// lookup is ever queued twice.
    pub(crate) fn forget_answered_past(&mut self, max: usize) {
        if self.asked.len() > max {
            self.asked.retain(|_, asked| *asked == Asked::Pending);
        }
    }
}

/// Requests taken from the channel, urgent ones first, each kind in arrival order.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    urgent: VecDeque<IpAddr>,
    normal: VecDeque<IpAddr>,
}

impl Queue {
    pub(crate) fn push(&mut self, req: Request) {
        if req.urgent {
            self.urgent.push_back(req.ip);
        } else {
            self.normal.push_back(req.ip);
        }
    }

    pub(crate) fn pop(&mut self) -> Option<IpAddr> {
        self.urgent.pop_front().or_else(|| self.normal.pop_front())
    }

    pub(crate) fn len(&self) -> usize {
        self.urgent.len() + self.normal.len()
    }
}

/// The worker's state: its queue, the addresses set aside until their registry may
/// be asked again, and when each registry (by host) may be.
struct State {
    client: Client,
    queue: Queue,
    /// Addresses whose registry is waiting out its spacing or a `Retry-After`, oldest
    /// first; at most the queue's capacity (then the queue and the channel fill, and
    /// the loop asks again later, as with any backlog).
    parked: VecDeque<(IpAddr, String)>,
    not_before: HashMap<String, Instant>,
    bootstrap_due: Instant,
}

/// Longest wait that keeps an address set aside when the set is full: longer
/// than any spacing (LACNIC's 6 s), shorter than a `Retry-After` worth waiting out
/// while other registries' addresses queue behind it.
const MAX_PARKED_WAIT: Duration = Duration::from_secs(10);

/// What the worker does next.
enum Next {
    /// Look this address up now.
    Lookup(IpAddr),
    /// Answer without asking: its registry is limited and too many wait for it.
    Refuse(IpAddr, WhoisError),
    /// Nothing can be asked now; wait for a request or this instant.
    Wait(Option<Instant>),
}

fn run(config: Config, inbox: &Receiver<Request>, outbox: &Sender<Reply>, waker: &mio::Waker) {
    let cap = config.queue.max(1);
    let mut st = State::new(config);
    loop {
        // Take what is waiting (bounded, so the channel keeps back-pressure).
        while st.queue.len() < cap {
            match inbox.try_recv() {
                Ok(req) => st.queue.push(req),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        let (ip, result) = match st.next(cap) {
            Next::Lookup(ip) => (ip, st.lookup(ip)),
            Next::Refuse(ip, e) => (ip, Err(e)),
            Next::Wait(until) => {
                // Nothing to do now: block for the next request, or until a parked
                // address's registry may be asked; Disconnected means the loop is gone.
                let req = match until {
                    None => inbox.recv().map_err(|_| RecvTimeoutError::Disconnected),
                    Some(at) => inbox.recv_timeout(at.saturating_duration_since(Instant::now())),
                };
                match req {
                    Ok(req) => st.queue.push(req),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                continue;
            }
        };
        if outbox.send((ip, result)).is_err() {
            return;
        }
        // A failed wake only delays the reply to the loop's next turn.
        let _ = waker.wake();
    }
}

impl State {
    /// Routes by the copy of the bootstrap cached on disk while it is fresh (no fetch
    /// until it is a week old), else by the built-in one, to be refreshed before the
    /// first lookup. Nothing is fetched here: a run with nothing to look up connects
    /// nowhere.
    fn new(config: Config) -> State {
        let stored = match (&config.cache_dir, &config.bootstrap_url) {
            (Some(dir), Some(url)) => cache::load(dir, url, time::now()),
            _ => None,
        };
        let now = Instant::now();
        let (bootstrap, bootstrap_due) = match stored {
            Some(s) => (
                Bootstrap::from_stored(&s),
                now + s.fresh_for(time::now()).unwrap_or_default(),
            ),
            None => (Bootstrap::builtin(), now),
        };
        State {
            client: Client::new(config, bootstrap),
            queue: Queue::default(),
            parked: VecDeque::new(),
            not_before: HashMap::new(),
            bootstrap_due,
        }
    }

    /// The registry host that would be asked about `ip` (`None`: no registry, the
    /// lookup fails or goes to legacy whois at once).
    fn registry_of(&self, ip: IpAddr) -> Option<String> {
        self.client
            .registry_for(ip)
            .map(|b| registry_host(b).to_owned())
    }

    /// When `registry` may be asked again, if not yet.
    fn blocked_until(&self, registry: &str, now: Instant) -> Option<Instant> {
        self.not_before
            .get(registry)
            .copied()
            .filter(|&at| at > now)
    }

    /// A parked address whose registry is free now, else the next queued one whose
    /// registry is free (those that are not are parked, up to `cap`), else how long
    /// to wait. With `cap` parked, one held back by a long `Retry-After` is answered
    /// as rate limited without asking, to make room.
    fn next(&mut self, cap: usize) -> Next {
        if self.queue.len() == 0 && self.parked.is_empty() {
            return Next::Wait(None); // nothing to route: fetch no bootstrap
        }
        self.refresh_bootstrap_if_due();
        let now = Instant::now();
        let ready = self
            .parked
            .iter()
            .position(|(_, registry)| self.blocked_until(registry, now).is_none());
        if let Some((ip, _)) = ready.and_then(|i| self.parked.remove(i)) {
            return Next::Lookup(ip);
        }
        while self.parked.len() < cap {
            let Some(ip) = self.queue.pop() else { break };
            let Some(registry) = self.registry_of(ip) else {
                return Next::Lookup(ip);
            };
            if self.blocked_until(&registry, now).is_none() {
                return Next::Lookup(ip);
            }
            self.parked.push_back((ip, registry));
        }
        if self.parked.len() >= cap && self.queue.len() > 0 {
            // Full with more queued behind it: make room by answering the oldest
            // address held back by a `Retry-After` (not mere spacing), so other
            // registries go on. With nothing queued, the parked wait their turn.
            let held = self.parked.iter().position(|(_, registry)| {
                self.blocked_until(registry, now)
                    .is_some_and(|at| at - now > MAX_PARKED_WAIT)
            });
            if let Some(i) = held {
                let until = self.blocked_until(&self.parked[i].1, now);
                let left = until.map_or(0, |at| (at - now).as_secs().max(1));
                if let Some((ip, _)) = self.parked.remove(i) {
                    let retry_after = Some(left);
                    return Next::Refuse(ip, WhoisError::RateLimited { retry_after });
                }
            }
        }
        let until = self
            .parked
            .iter()
            .filter_map(|(_, registry)| self.blocked_until(registry, now))
            .min();
        Next::Wait(until)
    }

    /// Fetches the bootstrap when due and keeps the fetched copy on disk.
    fn refresh_bootstrap_if_due(&mut self) {
        if Instant::now() < self.bootstrap_due {
            return;
        }
        let wait = match self.client.refresh_bootstrap(time::now()) {
            Ok(Some(stored)) => {
                if let Some(dir) = &self.client.config().cache_dir {
                    // A read-only or full disk only costs a fetch at the next start.
                    let _ = cache::save(dir, &stored);
                }
                cache::MAX_AGE
            }
            Ok(None) => cache::MAX_AGE,
            Err(_) => BOOTSTRAP_RETRY,
        };
        self.bootstrap_due = Instant::now() + wait;
    }

    /// Looks up `ip` (its registry is free: see [`State::next`]) and notes when that
    /// registry may be asked again: after its spacing, or its `Retry-After`.
    fn lookup(&mut self, ip: IpAddr) -> Result<WhoisInfo, WhoisError> {
        let Some(registry) = self.registry_of(ip) else {
            return self.client.lookup(ip);
        };
        let result = self.client.lookup(ip);
        let mut gap = self.client.config().spacing_for(&registry);
        if let Err(WhoisError::RateLimited { retry_after }) = &result {
            let asked = Duration::from_secs(retry_after.unwrap_or(60));
            gap = gap.max(asked.min(MAX_RETRY_AFTER));
        }
        self.not_before.insert(registry, Instant::now() + gap);
        result
    }
}
