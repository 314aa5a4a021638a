//! One view layer: how a row of the table is shown, whatever shows it.
//!
//! The dashboard (`ui::dashboard`) and the headless output (`headless`: `--once`
//! and `--for` text and JSON) both take their columns, formatters and wire
//! types from here, so a column or a JSON field is defined once.
//!
//! - [`columns`]: the IP table's columns and what each shows for a row;
//! - [`format`]: byte counts, socket states, services, terminal-safe text;
//! - [`wire`]: the `--json` objects as serde types;
//! - [`history`]: history figures held per row, so no frame asks SQLite;
//! - [`groups`]: the table grouped by network, ASN or country;
//! - [`totals`]: the run's headline numbers (lines, req/s, new conns/s).

pub(crate) mod columns;
pub(crate) mod format;
pub mod groups;
pub(crate) mod history;
pub(crate) mod metrics;
pub(crate) mod totals;
pub mod wire;
