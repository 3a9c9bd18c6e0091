//! The geometry objects are drawn along, defined once for the screen, the PNG
//! and the SVG: a freehand stroke's smooth curve and an ellipse as cubic
//! Bézier pieces, and an arrow's barbs.
//!
//! The three draw the same control points, each in its own way: the screen
//! flattens a curve into as few line pieces as its zoom allows
//! ([`crate::canvas::curve`]), the PNG hands the pieces to tiny-skia as
//! `cubic_to`, the SVG writes them as `C` commands. Lines and rectangles need
//! no construction (their two points are the geometry); a text's is its
//! glyphs, laid out for the PNG and the SVG as egui lays them out on the
//! screen ([`crate::export::text`]).
//!
//! A curve is built once, in canvas units, and moved to the screen or to a
//! picture's pixels with [`Curve::transformed`]: the control points go through
//! the same `target_from_canvas` transform as everything else. The module
//! imports nothing of the app: it is the leaf both the canvas and the export
//! import.

use egui::emath::TSTransform;
use egui::{Pos2, Rect, Vec2, pos2};

/// Points of a stroke closer than this (in the units they are given in) to the
/// previous one are the same point: they would give the curve no direction.
const SAME_POINT: f32 = 1.0e-3;

/// The handles of a quarter ellipse as a cubic, as a fraction of its radius:
/// `4/3 (√2 − 1)`, which puts the curve's middle on the true ellipse (it
/// strays from it by at most 0.03 % of the radius elsewhere).
const QUARTER_HANDLE: f32 = 0.552_284_8;

/// How far apart an arrow's barbs spread from its shaft, each side, in radians
/// (about 28 degrees).
const BARB_SPREAD: f32 = 0.5;

/// One cubic Bézier piece of a curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cubic {
    /// Where the piece starts: the end of the piece before it.
    pub from: Pos2,
    /// The handle leaving `from`: the curve's direction there.
    pub c1: Pos2,
    /// The handle arriving at `to`: the curve's direction there.
    pub c2: Pos2,
    /// Where the piece ends.
    pub to: Pos2,
}

impl Cubic {
    /// The point of the piece at `t` (0 at `from`, 1 at `to`).
    #[must_use]
    pub fn at(&self, t: f32) -> Pos2 {
        let rest = 1.0 - t;
        let sum = self.from.to_vec2() * (rest * rest * rest)
            + self.c1.to_vec2() * (3.0 * rest * rest * t)
            + self.c2.to_vec2() * (3.0 * rest * t * t)
            + self.to.to_vec2() * (t * t * t);
        sum.to_pos2()
    }

    /// The same piece in another space.
    #[must_use]
    pub fn transformed(&self, target_from_source: TSTransform) -> Self {
        Self {
            from: target_from_source * self.from,
            c1: target_from_source * self.c1,
            c2: target_from_source * self.c2,
            to: target_from_source * self.to,
        }
    }

    /// A rectangle the whole piece lies in: its control points' bounds.
    #[must_use]
    pub fn bounds(&self) -> Rect {
        Rect::from_points(&[self.from, self.c1, self.c2, self.to])
    }
}

/// A curve: cubic pieces end to end.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    /// Where the curve starts; all of it when it has no pieces (a dot).
    pub start: Pos2,
    /// The pieces, each from where the one before ended (the first from
    /// `start`).
    pub pieces: Vec<Cubic>,
    /// Whether the curve goes round an area and ends where it started (an
    /// ellipse), so that it can be filled and has no ends to cap.
    pub closed: bool,
}

impl Curve {
    /// A freehand stroke's curve through `points`: a centripetal Catmull-Rom
    /// spline, one cubic piece from each point to the next. Points that
    /// coincide count once; `None` without any point, a dot with one.
    ///
    /// Centripetal spacing (square roots of the distances) never loops or cusps
    /// within a piece, however unevenly the points are spaced; and the spline
    /// commutes with panning and zooming, so building it in canvas units and
    /// moving it to the screen gives the curve built on the screen.
    pub fn stroke(points: impl IntoIterator<Item = Pos2>) -> Option<Self> {
        let mut kept: Vec<Pos2> = Vec::new();
        for p in points {
            if kept
                .last()
                .is_none_or(|last| last.distance_sq(p) > SAME_POINT * SAME_POINT)
            {
                kept.push(p);
            }
        }
        let start = *kept.first()?;
        let n = kept.len();
        let mut pieces = Vec::with_capacity(n - 1);
        for i in 0..n - 1 {
            let (p1, p2) = (kept[i], kept[i + 1]);
            // Mirror the neighbours at the ends so the curve leaves them
            // naturally (and two points make a straight line).
            let p0 = if i == 0 { p1 + (p1 - p2) } else { kept[i - 1] };
            let p3 = kept.get(i + 2).copied().unwrap_or(p2 + (p2 - p1));
            let [c1, c2] = catmull_rom_handles(p0, p1, p2, p3);
            pieces.push(Cubic {
                from: p1,
                c1,
                c2,
                to: p2,
            });
        }
        Some(Self {
            start,
            pieces,
            closed: false,
        })
    }

    /// The ellipse inscribed in `rect`, as four quarters starting from the
    /// middle of its right side, clockwise on screen.
    #[must_use]
    pub fn ellipse(rect: Rect) -> Self {
        let c = rect.center();
        let r = rect.size() * 0.5;
        let h = r * QUARTER_HANDLE;
        let right = pos2(c.x + r.x, c.y);
        let bottom = pos2(c.x, c.y + r.y);
        let left = pos2(c.x - r.x, c.y);
        let top = pos2(c.x, c.y - r.y);
        let quarter = |from: Pos2, c1: Vec2, c2: Vec2, to: Pos2| Cubic {
            from,
            c1: from + c1,
            c2: to + c2,
            to,
        };
        Self {
            start: right,
            pieces: vec![
                quarter(right, Vec2::new(0.0, h.y), Vec2::new(h.x, 0.0), bottom),
                quarter(bottom, Vec2::new(-h.x, 0.0), Vec2::new(0.0, h.y), left),
                quarter(left, Vec2::new(0.0, -h.y), Vec2::new(-h.x, 0.0), top),
                quarter(top, Vec2::new(h.x, 0.0), Vec2::new(0.0, -h.y), right),
            ],
            closed: true,
        }
    }

    /// The same curve in another space.
    #[must_use]
    pub fn transformed(&self, target_from_source: TSTransform) -> Self {
        Self {
            start: target_from_source * self.start,
            pieces: self
                .pieces
                .iter()
                .map(|piece| piece.transformed(target_from_source))
                .collect(),
            closed: self.closed,
        }
    }

    /// Whether the curve is a single point.
    #[must_use]
    pub fn is_dot(&self) -> bool {
        self.pieces.is_empty()
    }
}

/// The Bézier handles of the centripetal Catmull-Rom piece from `p1` to `p2`,
/// `p0` before it and `p3` after.
fn catmull_rom_handles(p0: Pos2, p1: Pos2, p2: Pos2, p3: Pos2) -> [Pos2; 2] {
    let knot = |a: Pos2, b: Pos2| a.distance(b).sqrt().max(1.0e-4);
    let (d0, d1, d2) = (knot(p0, p1), knot(p1, p2), knot(p2, p3));
    let (v0, v1, v2) = (p1 - p0, p2 - p1, p3 - p2);
    // Tangents of the non-uniform spline at p1 and p2, scaled to the piece.
    let m1 = (v0 / d0 - (p2 - p0) / (d0 + d1) + v1 / d1) * d1;
    let m2 = (v1 / d1 - (p3 - p1) / (d1 + d2) + v2 / d2) * d1;
    [p1 + m1 / 3.0, p2 - m2 / 3.0]
}

/// The tips of an arrow's two barbs, `head` long, spread from the shaft that
/// runs from `from` to `to` (the tip of the arrow); `None` when the arrow has
/// no direction or no head.
#[must_use]
pub fn arrow_barbs(from: Pos2, to: Pos2, head: f32) -> Option<[Pos2; 2]> {
    // A unit vector, or zero (egui's) or not finite when the shaft has no length.
    let dir = (to - from).normalized();
    if !dir.is_finite() || dir.length_sq() < 0.5 || head <= 0.0 {
        return None;
    }
    let back = (-dir).angle();
    Some([-BARB_SPREAD, BARB_SPREAD].map(|spread| to + Vec2::angled(back + spread) * head))
}

#[cfg(test)]
mod tests {
    use egui::vec2;

    use super::*;

    #[test]
    fn a_stroke_passes_through_its_points_once_each() {
        let points = [
            pos2(0.0, 0.0),
            pos2(10.0, 10.0),
            pos2(10.0, 10.0),
            pos2(20.0, 0.0),
            pos2(30.0, 10.0),
        ];
        let curve = Curve::stroke(points).unwrap();
        assert_eq!(curve.pieces.len(), 3, "the repeated point counts once");
        assert_eq!(curve.start, points[0]);
        for (piece, to) in curve.pieces.iter().zip([points[1], points[3], points[4]]) {
            assert_eq!(piece.to, to);
        }
        for pair in curve.pieces.windows(2) {
            assert_eq!(pair[0].to, pair[1].from, "pieces end to end");
            // Smooth where they meet: the handles on either side are in line.
            let before = (pair[0].to - pair[0].c2).normalized();
            let after = (pair[1].c1 - pair[1].from).normalized();
            assert!(before.dot(after) > 0.999, "{before:?} {after:?}");
        }
    }

    #[test]
    fn a_straight_stroke_stays_straight_and_one_point_is_a_dot() {
        let points: Vec<Pos2> = (0..6)
            .map(|i| pos2(i as f32 * 7.0, i as f32 * 3.0))
            .collect();
        let curve = Curve::stroke(points).unwrap();
        for piece in &curve.pieces {
            for p in [piece.c1, piece.c2, piece.at(0.3)] {
                assert!((p.x * 3.0 - p.y * 7.0).abs() < 1.0e-3, "{p:?} off the line");
            }
        }
        assert!(
            Curve::stroke([pos2(1.0, 2.0), pos2(1.0, 2.0)])
                .unwrap()
                .is_dot()
        );
        assert!(Curve::stroke([]).is_none());
    }

    #[test]
    fn a_stroke_built_in_canvas_units_is_the_one_built_on_screen() {
        let points = [
            pos2(3.0, 4.0),
            pos2(9.0, 30.0),
            pos2(10.0, 31.0),
            pos2(50.0, -6.0),
        ];
        let screen_from_canvas = TSTransform::new(vec2(-40.0, 17.0), 3.5);
        let moved = Curve::stroke(points)
            .unwrap()
            .transformed(screen_from_canvas);
        let built_there = Curve::stroke(points.map(|p| screen_from_canvas * p)).unwrap();
        for (a, b) in moved.pieces.iter().zip(&built_there.pieces) {
            for (p, q) in [(a.c1, b.c1), (a.c2, b.c2), (a.to, b.to)] {
                assert!(p.distance(q) < 1.0e-3, "{p:?} vs {q:?}");
            }
        }
    }

    #[test]
    fn an_ellipse_stays_on_the_true_ellipse() {
        let rect = Rect::from_min_max(pos2(10.0, 20.0), pos2(210.0, 120.0));
        let ellipse = Curve::ellipse(rect);
        assert!(ellipse.closed);
        assert_eq!(ellipse.pieces.last().unwrap().to, ellipse.start);
        for piece in &ellipse.pieces {
            for k in 0..=20 {
                let p = piece.at(k as f32 / 20.0) - rect.center();
                let on = (p.x / 100.0).powi(2) + (p.y / 50.0).powi(2);
                assert!((on - 1.0).abs() < 1.0e-3, "{p:?}: {on}");
            }
        }
        // A circle's curve is within 0.03 % of its radius everywhere.
        let circle = Curve::ellipse(Rect::from_center_size(Pos2::ZERO, vec2(200.0, 200.0)));
        let off = circle
            .pieces
            .iter()
            .flat_map(|piece| (0..=1000).map(move |k| piece.at(k as f32 / 1000.0)))
            .map(|p| (p.to_vec2().length() - 100.0).abs())
            .fold(0.0, f32::max);
        assert!(off < 0.03, "{off}");
    }

    #[test]
    fn arrow_barbs_point_back_along_the_shaft() {
        let [a, b] = arrow_barbs(pos2(0.0, 0.0), pos2(100.0, 0.0), 10.0).unwrap();
        for tip in [a, b] {
            assert!((tip.distance(pos2(100.0, 0.0)) - 10.0).abs() < 1.0e-4);
            assert!(tip.x < 100.0);
        }
        assert!((a.y + b.y).abs() < 1.0e-4, "symmetric: {a:?} {b:?}");
        assert!(arrow_barbs(pos2(5.0, 5.0), pos2(5.0, 5.0), 10.0).is_none());
    }
}
