//! nethergaze: a live triage console for one Linux server.
//!
//! See DESIGN.md for the shape: one mio loop, zero-copy parsing into an
//! arena-backed IP table, a headless snapshot and a hand-rolled renderer.

// Tests may unwrap; the library may not (`unwrap_used` in Cargo.toml).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub(crate) mod actions;
pub(crate) mod cli;
pub mod config;
pub(crate) mod demo;
pub mod detect;
pub(crate) mod engine;
pub mod enrich;
pub mod entry;
pub(crate) mod event_loop;
pub(crate) mod headless;
pub(crate) mod net;
pub mod parse;
pub mod source;
pub mod store;
pub(crate) mod sys;
pub mod table;
#[cfg(test)]
pub(crate) mod testutil;
pub mod ui;
pub mod view;
