//! The smooth curve a freehand stroke is drawn as: a centripetal Catmull-Rom
//! spline through its points, flattened into as few straight pieces as the
//! zoom allows. The canvas paints it ([`super::render`]) and the PNG export
//! draws the same curve.

use egui::{Pos2, Rect};

/// How far a flattened curve may stray from the true curve, in screen pixels.
const CURVE_TOLERANCE_PX: f32 = 0.15;
/// The most line pieces one curve segment is flattened into.
const MAX_PIECES: usize = 64;

/// Flattens a centripetal Catmull-Rom spline through `points` (screen space) into
/// a polyline. Each segment is split into as many pieces as its on-screen
/// curvature needs to stay within a fraction of a pixel; segments outside `clip`
/// stay straight, as they are not seen.
#[must_use]
pub fn smooth_curve(points: &[Pos2], clip: Rect) -> Vec<Pos2> {
    let n = points.len();
    if n < 3 {
        return points.to_vec();
    }
    let mut out = Vec::with_capacity(n * 4);
    out.push(points[0]);
    for i in 0..n - 1 {
        let p1 = points[i];
        let p2 = points[i + 1];
        // Mirror the neighbours at the ends so the curve leaves them naturally.
        let p0 = if i == 0 {
            p1 + (p1 - p2)
        } else {
            points[i - 1]
        };
        let p3 = if i + 2 < n {
            points[i + 2]
        } else {
            p2 + (p2 - p1)
        };
        let [c1, c2] = bezier_handles(p0, p1, p2, p3);
        let bounds = Rect::from_points(&[p1, c1, c2, p2]);
        let pieces = if bounds.intersects(clip) {
            // A cubic flattened into `k` chords strays at most |f''| / (8 k²),
            // and |f''| ≤ 6 × the control polygon's largest second difference.
            let second = (p1 - 2.0 * c1.to_vec2() + c2.to_vec2())
                .to_vec2()
                .length()
                .max((c1 - 2.0 * c2.to_vec2() + p2.to_vec2()).to_vec2().length());
            ((0.75 * second / CURVE_TOLERANCE_PX).sqrt().ceil() as usize).clamp(1, MAX_PIECES)
        } else {
            1
        };
        for k in 1..pieces {
            out.push(cubic_bezier(p1, c1, c2, p2, k as f32 / pieces as f32));
        }
        out.push(p2);
    }
    out
}

/// The Bézier control points of the centripetal Catmull-Rom segment from `p1` to
/// `p2`. Centripetal spacing (square roots of the distances) never loops or cusps
/// within a segment, however unevenly the points are spaced.
fn bezier_handles(p0: Pos2, p1: Pos2, p2: Pos2, p3: Pos2) -> [Pos2; 2] {
    let knot = |a: Pos2, b: Pos2| a.distance(b).sqrt().max(1.0e-4);
    let (d0, d1, d2) = (knot(p0, p1), knot(p1, p2), knot(p2, p3));
    let (v0, v1, v2) = (p1 - p0, p2 - p1, p3 - p2);
    // Tangents of the non-uniform spline at p1 and p2, scaled to the segment.
    let m1 = (v0 / d0 - (p2 - p0) / (d0 + d1) + v1 / d1) * d1;
    let m2 = (v1 / d1 - (p3 - p1) / (d1 + d2) + v2 / d2) * d1;
    [p1 + m1 / 3.0, p2 - m2 / 3.0]
}

/// The cubic Bézier curve from `from` to `to` with handles `c1`, `c2`, at `t`.
fn cubic_bezier(from: Pos2, c1: Pos2, c2: Pos2, to: Pos2, t: f32) -> Pos2 {
    let rest = 1.0 - t;
    let sum = from.to_vec2() * (rest * rest * rest)
        + c1.to_vec2() * (3.0 * rest * rest * t)
        + c2.to_vec2() * (3.0 * rest * t * t)
        + to.to_vec2() * (t * t * t);
    sum.to_pos2()
}

#[cfg(test)]
mod tests {
    use egui::{pos2, vec2};

    use super::*;

    #[test]
    fn curve_passes_through_every_point_and_is_finer_when_bigger() {
        let points = [
            pos2(0.0, 0.0),
            pos2(10.0, 10.0),
            pos2(20.0, 0.0),
            pos2(30.0, 10.0),
        ];
        let clip = Rect::EVERYTHING;
        let small = smooth_curve(&points, clip);
        for p in points {
            assert!(small.contains(&p), "{p:?} missing");
        }
        let zoomed: Vec<Pos2> = points
            .iter()
            .map(|p| (p.to_vec2() * 20.0).to_pos2())
            .collect();
        let big = smooth_curve(&zoomed, clip);
        assert!(big.len() > small.len(), "{} vs {}", big.len(), small.len());
        // Every chord of the zoomed curve is short: no visible corners.
        assert!(big.windows(2).all(|w| w[0].distance(w[1]) < 40.0));
    }

    #[test]
    fn curve_of_a_straight_line_stays_on_it() {
        let points: Vec<Pos2> = (0..6)
            .map(|i| pos2(i as f32 * 7.0, i as f32 * 3.0))
            .collect();
        for p in smooth_curve(&points, Rect::EVERYTHING) {
            assert!((p.x * 3.0 - p.y * 7.0).abs() < 1.0e-2, "{p:?} off the line");
        }
    }

    #[test]
    fn off_screen_segments_are_not_subdivided() {
        let points = [pos2(0.0, 0.0), pos2(1000.0, 1000.0), pos2(2000.0, 0.0)];
        let everywhere = smooth_curve(&points, Rect::EVERYTHING);
        let nowhere = smooth_curve(
            &points,
            Rect::from_min_size(pos2(-900.0, -900.0), vec2(1.0, 1.0)),
        );
        assert_eq!(nowhere.len(), 3);
        assert!(everywhere.len() > 3);
    }
}
