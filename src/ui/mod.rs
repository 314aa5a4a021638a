//! The interactive dashboard: terminal guard, key decoding, rendering.
//!
//! Low layers first: [`terminal`] owns the tty (raw mode, alternate screen,
//! restore on every exit path), [`input`] turns tty bytes into keys.

pub mod input;
pub mod terminal;
