//! Whois policy: the answer cache (`<cache dir>/whois.db`, read once for
//! every row when it is born, so `--once` and the first frame show what is
//! known), which rows are looked up in the background (suspicious ones
//! first, then the busiest, a few a tick), when a failed lookup is tried
//! again, and attaching answers to rows. The lookups themselves run on the
//! worker thread (`enrich::whois::Worker`), which also keeps the one record
//! of what is queued, so no address is queued twice.
//!
//! `--no-whois` means no network: no worker, but an existing cache is still
//! read (it costs nothing and shows what earlier runs learnt); none is created.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::feed::Core;
use crate::config::Config;
use crate::enrich::whois::{Config as WhoisClientConfig, Submit, WhoisError, WhoisInfo, Worker};
use crate::headless::SourceReport;
use crate::net::is_public;
use crate::parse::UnixTime;
use crate::store::whois_cache::{WhoisCache, WhoisEntry};
use crate::table::Row;

/// Background lookups asked per tick.
const PER_TICK: usize = 8;

/// Addresses remembered as asked or failed; past this, settled ones are forgotten.
const ASKED_MAX: usize = 100_000;

/// How long a lookup that failed for good (see `WhoisError::is_lasting`: no
/// registry, an error status, a bad answer, a hang, an oversized body, a
/// redirect loop) is remembered before it is tried again.
const FAILURE_TTL: Duration = Duration::from_secs(3600);

/// From this many new rows in one batch on, the cache is read in one scan
/// when it holds no more entries than the batch has rows (see
/// [`WhoisCache::fresh_entries_if_at_most`]); below it, a point read each.
/// A first read of a log with 20 000 clients against a cold cache: one
/// scan instead of 20 000 queries (~4 500 instructions each).
pub(super) const SCAN_FROM: usize = 64;

/// Seconds before an address whose registry could not be reached is asked again.
const OFFLINE_RETRY: UnixTime = 300;

/// Seconds before an address refused with a 429 (without a usable
/// `Retry-After`) is asked again.
const RATE_LIMIT_RETRY: UnixTime = 60;

/// The cache folder of root when neither `$XDG_CACHE_HOME` nor `$HOME` is set
/// (a systemd unit, cron): where the FHS puts a program's cache.
const ROOT_CACHE_DIR: &str = "/var/cache/nethergaze";

/// A row's claim to a background lookup: suspicious first, then the
/// busiest (requests + inbound connections); ties go to the lower address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Priority {
    suspicious: bool,
    busy: u64,
    ip: Reverse<IpAddr>,
}

/// Why an address has no answer, and when it is asked again.
#[derive(Debug)]
struct Failure {
    /// The error as shown (empty: a failure remembered without its text).
    why: String,
    retry_at: UnixTime,
}

/// What whois is doing for one address: the drill-down's whois line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WhoisState<'a> {
    /// The row has its answer (from a registry or the cache).
    Done,
    /// A private, loopback or reserved address: never looked up.
    NotPublic,
    /// Whois is off (`--no-whois`, `[whois] enabled = false`) and the cache
    /// had nothing.
    Off,
    /// Queued at the worker, or being looked up now.
    Queued,
    /// Not asked yet: background lookups take suspicious rows first, then
    /// the busiest, a few a second.
    Waiting,
    /// The last lookup failed (`why`; empty when remembered from an earlier
    /// run without its text); asked again at `retry_at`.
    Failed { why: &'a str, retry_at: UnixTime },
}

/// What the replies say about reaching the registries: the summary's whois source.
#[derive(Debug, Default)]
struct Health {
    /// Answers from a registry this run.
    answered: u64,
    /// Rows answered from the cache when they were born.
    from_cache: u64,
    /// Lookups that failed this run.
    failed: u64,
    /// `offline: …` while the latest reply said no registry could be reached.
    offline: Option<String>,
    /// `rate limited: …` and until when.
    rate_limited: Option<(String, UnixTime)>,
}

pub(crate) struct Whois {
    /// The RDAP/whois worker (`None` with `--no-whois`, before the loop
    /// starts it, or when its thread could not start).
    worker: Option<Worker>,
    /// The worker's settings until it is started (`None`: disabled).
    config: Option<WhoisClientConfig>,
    /// How long a cached RDAP answer is used (`[whois] cache_ttl`).
    cache_ttl: Duration,
    /// The answer cache (`None`: no folder, refused, or absent with whois off).
    cache: Option<WhoisCache>,
    /// Why the cache is not used, or what was done to it.
    cache_note: Option<String>,
    /// Where lookups go: the source's path when there is no cache file.
    registry: String,
    /// Addresses whose lookup failed: why, and when they are asked again.
    failures: HashMap<IpAddr, Failure>,
    health: Health,
    /// The best [`PER_TICK`] candidates of this tick, worst on top (a
    /// bounded min-heap), so picking them never sorts the table; reused.
    best: BinaryHeap<Reverse<Priority>>,
    /// This tick's picks, best first (reused).
    picks: Vec<IpAddr>,
}

impl Whois {
    pub(crate) fn new(config: &Config) -> Whois {
        let enabled = config.whois.enabled;
        let cache_dir = config.cache_dir.clone().or_else(root_cache_dir);
        let (cache, cache_note) = match &cache_dir {
            Some(dir) => {
                let opened = WhoisCache::open(dir, enabled);
                (opened.cache, opened.note)
            }
            None => (
                None,
                enabled.then(|| {
                    "whois cache: no $XDG_CACHE_HOME or $HOME for its folder \
                     (answers are not kept; set [cache] dir)"
                        .to_string()
                }),
            ),
        };
        Whois {
            worker: None,
            config: enabled.then(|| WhoisClientConfig {
                bootstrap_url: Some(config.whois.rdap_bootstrap_url.clone()),
                cache_dir,
                whois_server: Some(config.whois.whois_server.clone()),
                ..WhoisClientConfig::default()
            }),
            cache_ttl: config.whois.cache_ttl,
            cache,
            cache_note,
            registry: config.whois.rdap_bootstrap_url.clone(),
            failures: HashMap::new(),
            health: Health::default(),
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

    /// The answer cache, to fill with nethergaze 0.2.0's answers (`engine::import`).
    pub(crate) fn cache_mut(&mut self) -> &mut Option<WhoisCache> {
        &mut self.cache
    }

    /// Whether new rows are worth noting for [`Whois::attach_born`].
    pub(crate) fn wants_births(&self) -> bool {
        self.cache.is_some()
    }

    /// Ask for a lookup now, before background ones (`w`, the drill-down).
    pub(crate) fn request_now(&mut self, ip: IpAddr) {
        if let Some(worker) = self.worker.as_mut() {
            let _ = worker.request(ip, true);
        }
    }

    /// Rows born since the last call get what the cache knows about their
    /// address: an answer, or a failure remembered until its retry. One
    /// indexed read per new row, or one scan of a cache no bigger than a
    /// large batch ([`SCAN_FROM`]), and never another for it (a miss is
    /// left to the background lookups); the batch is one read transaction,
    /// so a batch read of a log with 20 000 clients locks the file once,
    /// not 20 000 times.
    ///
    /// With whois off (`--no-whois`) the cache is still read when an earlier
    /// run left one: off means no lookups (no network, nothing written),
    /// and answers already fetched cost nothing to show.
    pub(crate) fn attach_born(&mut self, core: &mut Core) {
        if core.born.is_empty() {
            return;
        }
        let mut born = std::mem::take(&mut core.born);
        if let Some(cache) = self.cache.as_ref() {
            let _batch = cache.read_batch();
            let ttl = self.cache_ttl;
            let scanned = (born.len() >= SCAN_FROM)
                .then(|| cache.fresh_entries_if_at_most(born.len(), core.now, ttl, FAILURE_TTL))
                .and_then(|entries| entries.ok().flatten())
                .map(|entries| entries.into_iter().collect::<HashMap<_, _>>());
            for &ip in &born {
                let unanswered = core.table.get(ip).is_some_and(|r| r.whois.is_none());
                if !unanswered || !is_public(ip) {
                    continue;
                }
                let entry = match &scanned {
                    Some(entries) => entries.get(&ip.to_canonical()).cloned(),
                    None => cache.get(ip, core.now, ttl, FAILURE_TTL).ok().flatten(),
                };
                if let Some(entry) = entry {
                    attach_cached(&mut self.failures, &mut self.health, core, ip, entry);
                }
            }
        }
        born.clear();
        core.born = born; // its capacity is kept for the next rows
    }

    /// Background lookups: the best few rows not asked yet (or whose
    /// failure is due for a retry); a full queue is simply asked again next
    /// tick.
    pub(crate) fn on_tick(&mut self, core: &mut Core) {
        let Some(worker) = self.worker.as_mut() else {
            return;
        };
        let now = core.now;
        let asked: &Worker = worker;
        let failures = &self.failures;
        let skip = |ip| !is_due(asked, failures, ip, now);
        pick_by(core, skip, &mut self.best, &mut self.picks);
        for &ip in &self.picks {
            if matches!(worker.request(ip, false), Submit::Full | Submit::Stopped) {
                break;
            }
        }
        worker.forget_answered_past(ASKED_MAX);
        if self.failures.len() > ASKED_MAX {
            self.failures.retain(|_, f| f.retry_at > now);
        }
    }

    /// The worker has replies: cache them and attach answers to their rows.
    pub(crate) fn on_replies(&mut self, core: &mut Core) {
        let Some(worker) = self.worker.as_mut() else {
            return;
        };
        while let Some((ip, reply)) = worker.try_recv() {
            let now = core.now;
            self.health.note(&reply, now);
            // Answers and lasting failures are cached (failures for a
            // shorter time); a rate limit or a refused connection is just
            // retried later.
            let cached = match &reply {
                Ok(info) => serde_json::to_string(info).ok().map(|body| (true, body)),
                Err(e) if e.is_lasting() => Some((false, e.to_string())),
                Err(_) => None,
            };
            if let (Some((ok, body)), Some(cache)) = (cached, self.cache.as_mut()) {
                if let Err(e) = cache.put(ip, now, ok, &body) {
                    // A full or read-only disk: go on without keeping answers.
                    let path = cache.path().display();
                    self.cache_note =
                        Some(format!("whois cache {path}: {e} (answers are not kept)"));
                    self.cache = None;
                }
            }
            match reply {
                Ok(info) => {
                    self.failures.remove(&ip);
                    core.table.set_whois(ip, info);
                }
                Err(e) => {
                    let retry_at = now + retry_in(&e);
                    let why = e.to_string();
                    self.failures.insert(ip, Failure { why, retry_at });
                }
            }
            core.changes += 1;
        }
    }

    /// Addresses with a remembered failure, sorted (tests).
    #[cfg(test)]
    pub(super) fn failed(&self) -> Vec<IpAddr> {
        let mut failed: Vec<IpAddr> = self.failures.keys().copied().collect();
        failed.sort();
        failed
    }

    /// What whois is doing for `row` (the drill-down).
    pub(crate) fn state(&self, row: &Row) -> WhoisState<'_> {
        if row.whois.is_some() {
            return WhoisState::Done;
        }
        if !is_public(row.ip) {
            return WhoisState::NotPublic;
        }
        let Some(worker) = self.worker.as_ref() else {
            return WhoisState::Off;
        };
        if worker.is_pending(row.ip) {
            return WhoisState::Queued;
        }
        match self.failures.get(&row.ip) {
            Some(f) => WhoisState::Failed {
                why: &f.why,
                retry_at: f.retry_at,
            },
            None => WhoisState::Waiting,
        }
    }

    /// The summary's whois entry (only while the worker runs), in place:
    /// `lines` the addresses answered (by a registry or the cache),
    /// `malformed` the lookups that failed, `error` while no registry can
    /// be reached, `note` while one rate-limits us or the cache is unusable.
    pub(crate) fn report(&self, report: &mut SourceReport, now: UnixTime) {
        if report.path.is_empty() {
            report.path = match &self.cache {
                Some(cache) => cache.path().display().to_string(),
                None => self.registry.clone(),
            };
            report.format = "rdap".into();
        }
        report.lines = self.health.answered + self.health.from_cache;
        report.malformed = self.health.failed;
        report.error.clone_from(&self.health.offline);
        let limited = self
            .health
            .rate_limited
            .as_ref()
            .filter(|(_, until)| *until > now)
            .map(|(text, _)| text);
        match (limited, &self.cache_note) {
            (Some(text), None) | (None, Some(text)) => set(&mut report.note, text),
            (Some(limited), Some(cache)) => {
                let joined = format!("{limited}; {cache}");
                set(&mut report.note, &joined);
            }
            (None, None) => report.note = None,
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

impl Health {
    fn note(&mut self, reply: &Result<WhoisInfo, WhoisError>, now: UnixTime) {
        let Err(e) = reply else {
            self.answered += 1;
            self.offline = None;
            self.rate_limited = None;
            return;
        };
        self.failed += 1;
        match e {
            WhoisError::Transport(_) | WhoisError::Timeout => {
                self.offline = Some(format!(
                    "offline: {e}; cached answers are still shown, lookups are retried \
                     every {} min",
                    OFFLINE_RETRY / 60
                ));
            }
            WhoisError::RateLimited { .. } => {
                let wait = retry_in(e);
                let text = format!("rate limited: a registry asks us to wait {wait} s");
                self.rate_limited = Some((text, now + wait));
                self.offline = None;
            }
            // The registry answered (no such network, a bad body): reachable.
            _ => self.offline = None,
        }
    }
}

/// A cached answer goes on the row; a cached failure is remembered until
/// its retry.
fn attach_cached(
    failures: &mut HashMap<IpAddr, Failure>,
    health: &mut Health,
    core: &mut Core,
    ip: IpAddr,
    entry: WhoisEntry,
) {
    if !entry.ok {
        let retry_at = entry.fetched_at + secs(FAILURE_TTL);
        let why = entry.body;
        failures.insert(ip, Failure { why, retry_at });
    } else if let Ok(info) = serde_json::from_str::<WhoisInfo>(&entry.body) {
        core.table.set_whois(ip, info);
        health.from_cache += 1;
        core.changes += 1;
    }
}

/// `text` into `slot`, reusing its buffer.
fn set(slot: &mut Option<String>, text: &str) {
    match slot {
        Some(s) if *s == text => {}
        Some(s) => {
            s.clear();
            s.push_str(text);
        }
        None => *slot = Some(text.to_string()),
    }
}

/// Whether `ip` may be asked in the background now: never asked, or its
/// failure is due for a retry and it is not queued already.
fn is_due(worker: &Worker, failures: &HashMap<IpAddr, Failure>, ip: IpAddr, now: UnixTime) -> bool {
    match failures.get(&ip) {
        Some(f) => f.retry_at <= now && !worker.is_pending(ip),
        None => !worker.was_asked(ip),
    }
}

/// Seconds until an address that failed with `e` is asked again.
fn retry_in(e: &WhoisError) -> UnixTime {
    match e {
        WhoisError::RateLimited { retry_after } => retry_after
            .and_then(|s| UnixTime::try_from(s).ok())
            .map_or(RATE_LIMIT_RETRY, |s| s.max(1)),
        _ if e.is_lasting() => secs(FAILURE_TTL),
        _ => OFFLINE_RETRY,
    }
}

fn secs(d: Duration) -> UnixTime {
    UnixTime::try_from(d.as_secs()).unwrap_or(UnixTime::MAX)
}

/// The cache folder when the config has none: root's FHS folder, for a
/// service or cron job without `$HOME`.
fn root_cache_dir() -> Option<PathBuf> {
    crate::sys::process::is_root().then(|| PathBuf::from(ROOT_CACHE_DIR))
}

/// The best [`PER_TICK`] rows to look up in the background (public, no
/// answer, not `skip`ped), into `picks`, best first.
fn pick_by(
    core: &Core,
    skip: impl Fn(IpAddr) -> bool,
    best: &mut BinaryHeap<Reverse<Priority>>,
    picks: &mut Vec<IpAddr>,
) {
    best.clear();
    let wanted = |r: &&Row| r.whois.is_none() && is_public(r.ip) && !skip(r.ip);
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
