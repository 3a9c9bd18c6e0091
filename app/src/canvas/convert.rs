//! Canvas geometry and colours as egui's: the same points in another type.
//!
//! The board (`tabula_shared`) knows nothing of egui; the canvas paints with
//! it. These conversions are the seam, shared by every module of the canvas
//! (and the panels that show a colour), so none of them imports another for
//! them.

use egui::{Color32, Pos2, Rect, pos2};
use tabula_shared::{Color, Point};

/// A canvas point as an egui position (same space, different type).
#[must_use]
pub fn pos_from_point(p: Point) -> Pos2 {
    pos2(p.x, p.y)
}

/// An egui position as a canvas point (same space, different type).
#[must_use]
pub fn point_from_pos(p: Pos2) -> Point {
    Point::new(p.x, p.y)
}

/// A canvas rectangle as an egui rectangle (same space, different type).
#[must_use]
pub fn rect_from_canvas(r: tabula_shared::Rect) -> Rect {
    Rect::from_min_max(pos_from_point(r.min), pos_from_point(r.max))
}

/// A protocol colour as an egui colour.
#[must_use]
pub fn color32(c: Color) -> Color32 {
    Color32::from_rgba_unmultiplied(c.r, c.g, c.b, c.a)
}
