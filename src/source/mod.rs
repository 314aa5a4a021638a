//! Byte sources: log files followed like `tail -F`, the journald pipe, the
//! line splitter they share, and the netlink socket dump.

pub mod bandwidth;
pub mod glob;
pub mod journal;
pub mod linebuf;
pub mod logset;
pub mod sockdiag;
mod tailed_file;

pub use journal::Journal;
pub use linebuf::{Line, LineBuf, MAX_LINE};
pub use logset::{LineSink, LineVerdict, LogKind, LogSet, SourceStats};
