//! nethergaze: a live triage console for one Linux server.
//!
//! See DESIGN.md for the shape: one mio loop, zero-copy parsing into an
//! arena-backed IP table, a headless snapshot and a hand-rolled renderer.

pub mod parse;
pub mod source;
