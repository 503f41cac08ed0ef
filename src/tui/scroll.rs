//! Virtual scrolling for long tables (500 volumes): only the rows in view are
//! built each frame. The first row in view is view memory, not app state, so
//! it lives in a `Cell` the pure render updates, as gitui's `VerticalScroll` does.

use std::cell::Cell;
use std::ops::Range;

#[derive(Debug, Default, Clone)]
pub struct Scroll {
    top: Cell<usize>,
}

impl Scroll {
    /// The rows to draw for a `height`-row viewport so that `cursor` stays in
    /// view, moving the window as little as possible.
    pub fn window(&self, cursor: usize, len: usize, height: usize) -> Range<usize> {
        if height == 0 || len == 0 {
            return 0..0;
        }
        let mut top = self.top.get();
        if cursor < top {
            top = cursor;
        } else if cursor >= top + height {
            top = cursor + 1 - height;
        }
        top = top.min(len.saturating_sub(height));
        self.top.set(top);
        top..(top + height).min(len)
    }

    pub fn reset(&self) {
        self.top.set(0);
    }
}

/// Moves a cursor over `len` rows by `delta`, clamped to the ends.
pub fn step(cursor: usize, len: usize, delta: isize) -> usize {
    if len == 0 {
        return 0;
    }
    cursor.saturating_add_signed(delta).min(len - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_follows_the_cursor_with_minimal_moves() {
        let s = Scroll::default();
        assert_eq!(s.window(0, 500, 10), 0..10);
        assert_eq!(s.window(9, 500, 10), 0..10);
        assert_eq!(s.window(10, 500, 10), 1..11);
        assert_eq!(s.window(5, 500, 10), 1..11, "moving up inside the window keeps it");
        assert_eq!(s.window(0, 500, 10), 0..10);
        assert_eq!(s.window(499, 500, 10), 490..500);
        assert_eq!(s.window(3, 5, 10), 0..5, "fewer rows than the viewport");
        assert_eq!(s.window(0, 0, 10), 0..0);
    }

    #[test]
    fn step_clamps() {
        assert_eq!(step(0, 5, -1), 0);
        assert_eq!(step(4, 5, 1), 4);
        assert_eq!(step(2, 5, 10), 4);
        assert_eq!(step(0, 0, 1), 0);
    }
}
