//! Screen rectangles and the splits views lay themselves out with.
//!
//! All arithmetic saturates: splitting a rectangle by more than it holds
//! gives an empty part, never a panic or a wrap-around, so layouts degrade
//! gracefully down to 0×0.

/// A rectangle of cells: columns `x..x + width`, rows `y..y + height`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rect {
    /// Left column.
    pub x: u16,
    /// Top row.
    pub y: u16,
    /// Columns.
    pub width: u16,
    /// Rows.
    pub height: u16,
}

impl Rect {
    /// A rectangle (its right and bottom edges are clamped to `u16::MAX`).
    pub const fn new(x: u16, y: u16, width: u16, height: u16) -> Rect {
        Rect {
            x,
            y,
            width: if width > u16::MAX - x {
                u16::MAX - x
            } else {
                width
            },
            height: if height > u16::MAX - y {
                u16::MAX - y
            } else {
                height
            },
        }
    }

    /// Whether it holds no cell.
    pub const fn is_empty(self) -> bool {
        self.width == 0 || self.height == 0
    }

    /// One past the last column.
    pub const fn right(self) -> u16 {
        self.x + self.width
    }

    /// One past the last row.
    pub const fn bottom(self) -> u16 {
        self.y + self.height
    }

    /// The top `rows` rows, and the rest below.
    pub fn split_top(self, rows: u16) -> (Rect, Rect) {
        let rows = rows.min(self.height);
        (
            Rect {
                height: rows,
                ..self
            },
            Rect {
                y: self.y + rows,
                height: self.height - rows,
                ..self
            },
        )
    }

    /// The bottom `rows` rows, and the rest above: `(above, bottom)`.
    pub fn split_bottom(self, rows: u16) -> (Rect, Rect) {
        let (above, bottom) = self.split_top(self.height.saturating_sub(rows));
        (above, bottom)
    }

    /// The left `cols` columns, and the rest to the right.
    pub fn split_left(self, cols: u16) -> (Rect, Rect) {
        let cols = cols.min(self.width);
        (
            Rect {
                width: cols,
                ..self
            },
            Rect {
                x: self.x + cols,
                width: self.width - cols,
                ..self
            },
        )
    }

    /// The right `cols` columns, and the rest to the left: `(left, right)`.
    pub fn split_right(self, cols: u16) -> (Rect, Rect) {
        self.split_left(self.width.saturating_sub(cols))
    }

    /// Split the columns at `numerator / denominator` of the width
    /// (`denominator` 0 gives everything to the left).
    pub fn split_ratio(self, numerator: u16, denominator: u16) -> (Rect, Rect) {
        let cols = if denominator == 0 {
            self.width
        } else {
            (u32::from(self.width) * u32::from(numerator) / u32::from(denominator)) as u16
        };
        self.split_left(cols)
    }

    /// Shrunk by `n` cells on every side.
    pub fn inset(self, n: u16) -> Rect {
        let w = self.width.saturating_sub(n.saturating_mul(2));
        let h = self.height.saturating_sub(n.saturating_mul(2));
        Rect {
            x: if w == 0 { self.x } else { self.x + n },
            y: if h == 0 { self.y } else { self.y + n },
            width: w,
            height: h,
        }
    }

    /// The overlap of two rectangles (empty when they do not meet).
    pub fn intersect(self, other: Rect) -> Rect {
        let x = self.x.max(other.x);
        let y = self.y.max(other.y);
        let right = self.right().min(other.right());
        let bottom = self.bottom().min(other.bottom());
        Rect {
            x,
            y,
            width: right.saturating_sub(x),
            height: bottom.saturating_sub(y),
        }
    }

    /// A `width`×`height` rectangle centred in this one (clamped to fit),
    /// for modals.
    pub fn centered(self, width: u16, height: u16) -> Rect {
        let width = width.min(self.width);
        let height = height.min(self.height);
        Rect {
            x: self.x + (self.width - width) / 2,
            y: self.y + (self.height - height) / 2,
            width,
            height,
        }
    }

    /// The row `dy` rows down as a one-row rectangle (empty past the bottom).
    pub fn row(self, dy: u16) -> Rect {
        if dy >= self.height {
            return Rect {
                y: self.bottom(),
                height: 0,
                ..self
            };
        }
        Rect {
            y: self.y + dy,
            height: 1,
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_partition_the_rectangle() {
        let r = Rect::new(2, 3, 10, 5);
        assert_eq!(
            r.split_top(2),
            (Rect::new(2, 3, 10, 2), Rect::new(2, 5, 10, 3))
        );
        assert_eq!(
            r.split_bottom(1),
            (Rect::new(2, 3, 10, 4), Rect::new(2, 7, 10, 1))
        );
        assert_eq!(
            r.split_left(4),
            (Rect::new(2, 3, 4, 5), Rect::new(6, 3, 6, 5))
        );
        assert_eq!(
            r.split_right(4),
            (Rect::new(2, 3, 6, 5), Rect::new(8, 3, 4, 5))
        );
        assert_eq!(r.split_ratio(1, 2).0.width, 5);
        assert_eq!(r.split_ratio(1, 0).0, r);
    }

    #[test]
    fn oversized_splits_saturate() {
        let r = Rect::new(0, 0, 3, 2);
        assert_eq!(r.split_top(9), (r, Rect::new(0, 2, 3, 0)));
        assert_eq!(r.split_bottom(9), (Rect::new(0, 0, 3, 0), r));
        assert_eq!(r.split_right(9), (Rect::new(0, 0, 0, 2), r));
        assert_eq!(r.inset(5), Rect::new(0, 0, 0, 0));
        assert!(r.row(2).is_empty());
        assert_eq!(r.centered(10, 10), r);
        assert_eq!(Rect::new(u16::MAX, u16::MAX, 9, 9).width, 0);
    }

    #[test]
    fn intersect_and_centre() {
        let a = Rect::new(0, 0, 10, 10);
        assert_eq!(a.intersect(Rect::new(5, 8, 10, 10)), Rect::new(5, 8, 5, 2));
        assert!(a.intersect(Rect::new(20, 0, 5, 5)).is_empty());
        assert_eq!(a.centered(4, 2), Rect::new(3, 4, 4, 2));
        assert_eq!(a.inset(1), Rect::new(1, 1, 8, 8));
        assert_eq!(a.row(3), Rect::new(0, 3, 10, 1));
    }
}
