//! Byte sources: log files followed like `tail -F`, the journald pipe, and
//! the line splitter they share.

pub mod journal;
pub mod linebuf;
pub mod logset;
mod tailed_file;

pub use journal::Journal;
pub use linebuf::{Line, LineBuf, MAX_LINE};
pub use logset::{LineVerdict, LogKind, LogSet, SourceStats};
