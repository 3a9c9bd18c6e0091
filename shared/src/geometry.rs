//! Points, rectangles and colours in canvas space: the unbounded plane the board
//! lives on, independent of any screen, pan or zoom.

use serde::{Deserialize, Serialize};

/// A position on the canvas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Rightwards, in canvas units.
    pub x: f32,
    /// Downwards, in canvas units.
    pub y: f32,
}

impl Point {
    /// The point at `(x, y)`.
    #[must_use]
    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }

    /// Whether both coordinates are ordinary numbers (not NaN or infinite).
    #[must_use]
    pub fn is_finite(self) -> bool {
        self.x.is_finite() && self.y.is_finite()
    }

    /// The straight-line distance to `other`.
    #[must_use]
    pub fn distance(self, other: Self) -> f32 {
        (self.x - other.x).hypot(self.y - other.y)
    }

    /// The point moved by `by` (read as a vector).
    #[must_use]
    pub fn offset(self, by: Self) -> Self {
        Self::new(self.x + by.x, self.y + by.y)
    }

    /// The vector from `origin` to this point.
    #[must_use]
    pub fn minus(self, origin: Self) -> Self {
        Self::new(self.x - origin.x, self.y - origin.y)
    }

    /// The distance to the segment from `a` to `b` (to `a` when they coincide).
    #[must_use]
    pub fn distance_to_segment(self, a: Self, b: Self) -> f32 {
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let len2 = dx * dx + dy * dy;
        if len2 <= f32::EPSILON {
            return self.distance(a);
        }
        let t = (((self.x - a.x) * dx + (self.y - a.y) * dy) / len2).clamp(0.0, 1.0);
        self.distance(Self::new(a.x + t * dx, a.y + t * dy))
    }
}

/// An axis-aligned rectangle on the canvas; used for culling, hit-testing and
/// fit-to-content.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rect {
    /// The corner with the smallest coordinates.
    pub min: Point,
    /// The corner with the largest coordinates.
    pub max: Point,
}

impl Rect {
    /// The rectangle that holds exactly one point.
    #[must_use]
    pub const fn from_point(p: Point) -> Self {
        Self { min: p, max: p }
    }

    /// The rectangle with corners `a` and `b`, in any order.
    #[must_use]
    pub fn from_corners(a: Point, b: Point) -> Self {
        let mut out = Self::from_point(a);
        out.include(b);
        out
    }

    /// Its width.
    #[must_use]
    pub fn width(self) -> f32 {
        self.max.x - self.min.x
    }

    /// Its height.
    #[must_use]
    pub fn height(self) -> f32 {
        self.max.y - self.min.y
    }

    /// Its centre.
    #[must_use]
    pub fn center(self) -> Point {
        Point::new(
            (self.min.x + self.max.x) * 0.5,
            (self.min.y + self.max.y) * 0.5,
        )
    }

    /// Whether `p` lies inside or on the edge.
    #[must_use]
    pub fn contains(self, p: Point) -> bool {
        self.min.x <= p.x && p.x <= self.max.x && self.min.y <= p.y && p.y <= self.max.y
    }

    /// Whether `other` lies wholly inside this one.
    #[must_use]
    pub fn contains_rect(self, other: Self) -> bool {
        self.contains(other.min) && self.contains(other.max)
    }

    /// Grows the rectangle so that it holds `p`.
    pub fn include(&mut self, p: Point) {
        self.min.x = self.min.x.min(p.x);
        self.min.y = self.min.y.min(p.y);
        self.max.x = self.max.x.max(p.x);
        self.max.y = self.max.y.max(p.y);
    }

    /// The rectangle grown by `margin` on every side.
    #[must_use]
    pub fn expand(self, margin: f32) -> Self {
        Self {
            min: Point::new(self.min.x - margin, self.min.y - margin),
            max: Point::new(self.max.x + margin, self.max.y + margin),
        }
    }

    /// Whether the two rectangles overlap (touching counts).
    #[must_use]
    pub fn intersects(self, other: Self) -> bool {
        self.min.x <= other.max.x
            && other.min.x <= self.max.x
            && self.min.y <= other.max.y
            && other.min.y <= self.max.y
    }

    /// The smallest rectangle holding both.
    #[must_use]
    pub fn union(self, other: Self) -> Self {
        let mut out = self;
        out.include(other.min);
        out.include(other.max);
        out
    }
}

/// A colour in sRGB with straight (not premultiplied) alpha.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Color {
    /// Red, 0–255.
    pub r: u8,
    /// Green, 0–255.
    pub g: u8,
    /// Blue, 0–255.
    pub b: u8,
    /// Opacity, 0 (transparent) to 255 (opaque).
    pub a: u8,
}

impl Color {
    /// An opaque colour.
    #[must_use]
    pub const fn rgb(r: u8, g: u8, b: u8) -> Self {
        Self { r, g, b, a: 255 }
    }
}
