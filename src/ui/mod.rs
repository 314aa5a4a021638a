//! The interactive dashboard's low layers: the tty, keys, and the screen.
//!
//! [`terminal`] owns the tty (raw mode, alternate screen, restore on every
//! exit path), [`input`] turns tty bytes into keys. Views draw a whole frame
//! into a [`Grid`] (every string sanitised as it enters a cell, see
//! [`sanitize`]); the [`Renderer`] diffs it against the grid on screen and
//! appends the bytes to send to the terminal.

pub mod bindings;
pub mod cell;
pub mod dashboard;
pub mod diff;
pub mod filter;
pub mod grid;
pub mod input;
pub(crate) mod jobs;
pub mod rect;
pub mod sanitize;
pub mod session;
pub mod terminal;
#[cfg(test)]
pub(crate) mod vt;

pub use cell::{Cell, Color, Style};
pub use diff::{diff, redraw, RenderMode, Renderer};
pub use grid::Grid;
pub use rect::Rect;
