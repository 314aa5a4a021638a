//! The one integration-test binary: it runs the real `nethergaze` against fixtures and
//! against real peers (nginx, Caddy, Apache, sshd through rsyslog, a journal written by
//! systemd-journal-remote, logrotate) started on loopback by the tests.
//!
//! Real-peer tests need root and the peer binaries; where one is missing they print
//! `SKIP: …` and pass, except under `CI=true`, where a missing peer is a failure.
#![allow(clippy::unwrap_used)]

mod it {
    mod backfill;
    mod blocked;
    mod config_files;
    mod contrib_fail2ban;
    mod contrib_systemd;
    mod dashboard;
    mod demo;
    mod drill_down;
    mod enrich;
    pub mod events;
    mod exit_status;
    mod files;
    mod fixtures;
    mod golden;
    pub mod harness;
    mod history_cursor;
    mod history_lock;
    mod hostile;
    mod import;
    mod journald;
    mod limits;
    mod logfiles;
    mod metrics;
    mod nginx;
    mod preflight;
    mod readme;
    mod reallog;
    mod release;
    mod rotation;
    mod ship;
    mod sshd;
    mod stdin;
    mod synflood;
    mod table_bounds;
    mod vnstat;
    mod webservers;
    mod whois;
}
