//! nethergaze: a live triage console for one Linux server.
//!
//! See DESIGN.md for the shape: one mio loop, zero-copy parsing into an
//! arena-backed IP table, a headless snapshot and a hand-rolled renderer.

// Tests may unwrap; the library may not (`unwrap_used` in Cargo.toml).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod actions;
pub mod cli;
pub mod config;
pub mod demo;
pub mod detect;
pub mod engine;
pub mod enrich;
pub mod entry;
pub(crate) mod event_loop;
pub mod headless;
pub mod net;
pub mod parse;
pub mod source;
pub mod store;
pub mod sys;
pub mod table;
#[cfg(test)]
pub(crate) mod testutil;
pub mod ui;
pub(crate) mod view;
