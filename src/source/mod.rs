//! Byte sources: log files followed like `tail -F`, the journald pipe, the
//! line splitter they share, the netlink socket dump
//! and its /proc fallback.

pub mod bandwidth;
pub(crate) mod glob;
pub mod journal;
pub mod linebuf;
pub mod logset;
pub mod procnet;
pub mod sockdiag;
mod tailed_file;

pub use logset::{LineSink, LineVerdict, LogKind, LogSet};
