//! Whois policy: which rows are looked up in the background (suspicious
//! ones first, then the busiest, a few a tick), the cache in the history
//! file (answers for `[whois] cache_ttl`, lasting failures for an hour) and
//! attaching answers to rows. The lookups themselves run on the worker
//! thread (`enrich::whois::Worker`), which also keeps the one record of
//! what was asked this run, so no address is queued twice.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::IpAddr;
use std::time::Duration;

use super::feed::Core;
use crate::config::Config;
use crate::enrich::whois::{Config as WhoisClientConfig, Submit, WhoisInfo, Worker};
use crate::net::is_public;
use crate::parse::UnixTime;
use crate::store::History;
use crate::table::Row;

/// Background lookups asked per tick.
const PER_TICK: usize = 8;

/// Addresses remembered as asked; past this, answered ones are forgotten.
const ASKED_MAX: usize = 100_000;

/// How long a lookup that failed for good (see `WhoisError::is_lasting`: no
/// registry, an error status, a bad answer, a hang, an oversized body, a
/// redirect loop) is remembered before it is tried again.
const FAILURE_TTL: Duration = Duration::from_secs(3600);

/// A row's claim to a background lookup: suspicious first, then the
/// busiest (requests + inbound connections); ties go to the lower address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Priority {
    suspicious: bool,
    busy: u64,
    ip: Reverse<IpAddr>,
}

pub(crate) struct Whois {
    /// The RDAP/whois worker (`None` with `--no-whois`, before the loop
    /// starts it, or when its thread could not start).
    worker: Option<Worker>,
    /// The worker's settings until it is started (`None`: disabled).
    config: Option<WhoisClientConfig>,
    /// How long a cached RDAP answer is used (`[whois] cache_ttl`).
    cache_ttl: Duration,
    /// The best [`PER_TICK`] candidates of this tick, worst on top (a
    /// bounded min-heap), so picking them never sorts the table; reused.
    best: BinaryHeap<Reverse<Priority>>,
    /// This tick's picks, best first (reused).
    picks: Vec<IpAddr>,
}

impl Whois {
    pub(crate) fn new(config: &Config) -> Whois {
        Whois {
            worker: None,
            config: config.whois.enabled.then(|| WhoisClientConfig {
                bootstrap_url: Some(config.whois.rdap_bootstrap_url.clone()),
                cache_dir: config.cache_dir.clone(),
                whois_server: Some(config.whois.whois_server.clone()),
                ..WhoisClientConfig::default()
            }),
            cache_ttl: config.whois.cache_ttl,
            best: BinaryHeap::with_capacity(PER_TICK + 1),
            picks: Vec::with_capacity(PER_TICK),
        }
    }

    /// Start the worker, which wakes the loop through `waker`.
    pub(crate) fn start(&mut self, waker: mio::Waker) {
        if let Some(config) = self.config.take() {
            self.worker = Worker::spawn(config, waker).ok();
        }
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.worker.is_some()
    }

    /// Ask for a lookup now, before background ones (`w`, the drill-down).
    pub(crate) fn request_now(&mut self, ip: IpAddr) {
        if let Some(worker) = self.worker.as_mut() {
            let _ = worker.request(ip, true);
        }
    }

    /// Background lookups: the best few rows not asked yet, answered from
    /// the cache when it has them; a full queue is simply asked again next
    /// tick.
    pub(crate) fn on_tick(&mut self, core: &mut Core, history: Option<&History>) {
        let Some(worker) = self.worker.as_mut() else {
            return;
        };
        pick(core, worker, &mut self.best, &mut self.picks);
        for &ip in &self.picks {
            if let Some(cached) = cached_whois(history, ip, core.now, self.cache_ttl) {
                worker.settle(ip);
                if let Some(info) = cached {
                    core.table.set_whois(ip, info);
                    core.changes += 1;
                }
                continue;
            }
            if matches!(worker.request(ip, false), Submit::Full | Submit::Stopped) {
                break;
            }
        }
        worker.forget_answered_past(ASKED_MAX);
    }

    /// The worker has replies: cache them and attach answers to their rows.
    pub(crate) fn on_replies(&mut self, core: &mut Core, mut history: Option<&mut History>) {
        let Some(worker) = self.worker.as_mut() else {
            return;
        };
        while let Some((ip, reply)) = worker.try_recv() {
            // Answers and lasting failures are cached (failures for a
            // shorter time); a rate limit or a refused connection is just
            // retried later.
            let cached = match &reply {
                Ok(info) => serde_json::to_string(info).ok().map(|body| (true, body)),
                Err(e) if e.is_lasting() => Some((false, e.to_string())),
                Err(_) => None,
            };
            if let (Some((ok, body)), Some(history)) = (cached, history.as_deref_mut()) {
                let _ = history.whois_put(&ip.to_string(), core.now, ok, &body);
            }
            if let Ok(info) = reply {
                core.table.set_whois(ip, info);
                core.changes += 1;
            }
        }
    }

    /// The worker, once started (tests).
    #[cfg(test)]
    pub(crate) fn worker(&self) -> Option<&Worker> {
        self.worker.as_ref()
    }

    /// Pick as a tick would, without a worker: every row counts as not
    /// asked (tests).
    #[cfg(test)]
    pub(crate) fn pick_unasked(&mut self, core: &Core) -> &[IpAddr] {
        pick_by(core, |_| false, &mut self.best, &mut self.picks);
        &self.picks
    }
}

/// The best [`PER_TICK`] rows to look up in the background, into `picks`.
fn pick(
    core: &Core,
    worker: &Worker,
    best: &mut BinaryHeap<Reverse<Priority>>,
    picks: &mut Vec<IpAddr>,
) {
    pick_by(core, |ip| worker.was_asked(ip), best, picks);
}

fn pick_by(
    core: &Core,
    was_asked: impl Fn(IpAddr) -> bool,
    best: &mut BinaryHeap<Reverse<Priority>>,
    picks: &mut Vec<IpAddr>,
) {
    best.clear();
    let wanted = |r: &&Row| r.whois.is_none() && !was_asked(r.ip) && is_public(r.ip);
    for row in core.table.rows().filter(wanted) {
        best.push(Reverse(Priority {
            suspicious: !core.detector.reasons(row).is_empty(),
            busy: row.requests + u64::from(row.sockets().conns_in),
            ip: Reverse(row.ip),
        }));
        if best.len() > PER_TICK {
            best.pop(); // the worst of PER_TICK + 1
        }
    }
    picks.clear();
    // The heap pops worst first: fill from the back.
    picks.resize(best.len(), IpAddr::from([0, 0, 0, 0]));
    for slot in picks.iter_mut().rev() {
        if let Some(Reverse(p)) = best.pop() {
            *slot = p.ip.0;
        }
    }
}

/// A fresh cached answer for `ip`: `Some(Some(info))` for an answer,
/// `Some(None)` for a remembered failure, `None` when nothing fresh is cached.
fn cached_whois(
    history: Option<&History>,
    ip: IpAddr,
    now: UnixTime,
    ttl: Duration,
) -> Option<Option<WhoisInfo>> {
    let entry = history?
        .whois_get(&ip.to_string(), now, ttl, FAILURE_TTL)
        .ok()??;
    Some(
        entry
            .ok
            .then(|| serde_json::from_str(&entry.body).ok())
            .flatten(),
    )
}
