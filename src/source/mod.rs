//! Byte sources: log files followed like `tail -F`, the journald pipe, and
//! the line splitter they share.

pub mod linebuf;
