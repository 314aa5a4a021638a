//! Byte sources: log files followed like `tail -F`, the journald pipe, the
//! line splitter they share, the netlink socket dump
//! and its /proc fallback.

pub(crate) mod backfill;
pub(crate) mod bandwidth;
pub(crate) mod blocklists;
pub(crate) mod child_run;
pub(crate) mod glob;
pub(crate) mod journal;
pub mod linebuf;
pub(crate) mod logset;
pub(crate) mod owners;
pub(crate) mod procnet;
pub mod sockdiag;
pub(crate) mod stdin;
mod tailed_file;
pub(crate) mod uptime;
pub(crate) mod vnstat;

pub(crate) use logset::{LineSink, LineVerdict, LogCursor, LogKind, LogSet};
