//! The dashboard's screen: a grid of sanitised cells and a diff renderer.
//!
//! Views draw a whole frame into a [`Grid`] (every string sanitised as it
//! enters a cell, see [`sanitize`]); the [`Renderer`] diffs it against the
//! grid on screen and appends the bytes to send to the terminal.

pub mod cell;
pub mod diff;
pub mod grid;
pub mod rect;
pub mod sanitize;
#[cfg(test)]
pub(crate) mod vt;

pub use cell::{Cell, Color, Style};
pub use diff::{diff, redraw, RenderMode, Renderer};
pub use grid::Grid;
pub use rect::Rect;
