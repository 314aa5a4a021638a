//! Readings about the machine itself for the dashboard's header: the
//! interface's rx/tx rates, the boot time, and this month's totals from
//! vnstat (a child run every `bandwidth_interval`, never two at once).

use std::io;
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};

use crate::config::Config;
use crate::parse::UnixTime;
use crate::source::bandwidth::Bandwidth;
use crate::source::uptime::Uptime;
use crate::source::vnstat::Vnstat;

pub(super) struct Host {
    /// rx/tx of the interface for the dashboard's header.
    bandwidth: Bandwidth,
    /// The system's boot time for the header, from /proc/uptime.
    uptime: Uptime,
    /// This month's totals from vnstat, asked every `vnstat_every`.
    vnstat: Vnstat,
    vnstat_every: Duration,
    /// When the next vnstat run starts (the first tick, then every interval).
    vnstat_due: Instant,
}

impl Host {
    pub(super) fn new(config: &Config, now: UnixTime) -> Host {
        let bandwidth = Bandwidth::system(config.interface.as_deref());
        let vnstat = Vnstat::new(bandwidth.iface());
        let mut uptime = Uptime::open(config.proc_root.as_deref());
        uptime.on_tick(now);
        Host {
            bandwidth,
            uptime,
            vnstat,
            // 0 (accepted from 0.2.0 files) would mean back to back: once a second.
            vnstat_every: config.bandwidth_interval.max(Duration::from_secs(1)),
            vnstat_due: Instant::now(),
        }
    }

    /// Register vnstat's output under `token` and start its first run, so
    /// the totals are there from the first frames.
    pub(super) fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.register(&mut self.vnstat, token, Interest::READABLE)?;
        self.poll_vnstat(Instant::now());
        Ok(())
    }

    /// The periodic tick: rates, vnstat's schedule, the boot time.
    pub(super) fn on_tick(&mut self, now: UnixTime) {
        self.bandwidth.on_tick(Instant::now());
        self.poll_vnstat(Instant::now());
        self.uptime.on_tick(now);
    }

    /// `--once`: this month's totals from vnstat, waited for.
    pub(super) fn read_vnstat_now(&mut self) {
        self.vnstat.run_now();
    }

    /// vnstat wrote something (or closed its output).
    pub(super) fn on_vnstat_ready(&mut self) {
        self.vnstat.on_readable();
    }

    /// SIGCHLD: reap vnstat (or time it out).
    pub(super) fn on_child_exit(&mut self) {
        self.vnstat.on_tick(Instant::now());
    }

    /// Reap or time out the vnstat run, and start one when due: never two
    /// at once.
    fn poll_vnstat(&mut self, now: Instant) {
        self.vnstat.on_tick(now);
        if !self.vnstat.is_running() && now >= self.vnstat_due {
            self.vnstat.start(now);
            self.vnstat_due = now + self.vnstat_every;
        }
    }

    pub(super) fn booted(&self) -> Option<UnixTime> {
        self.uptime.booted()
    }

    pub(super) fn bandwidth(&self) -> &Bandwidth {
        &self.bandwidth
    }

    pub(super) fn vnstat(&self) -> &Vnstat {
        &self.vnstat
    }
}
