//! The screen's line pieces for a curve ([`crate::outline::Curve`]): each cubic
//! piece cut into as few straight pieces as its size on screen allows, so that
//! the line never strays from the curve by more than a fraction of a pixel.
//! The PNG and the SVG draw the same curve from the same control points.

use egui::{Pos2, Rect};

use crate::outline::Curve;

/// How far a flattened curve may stray from the true curve, in screen pixels.
pub const CURVE_TOLERANCE_PX: f32 = 0.15;
/// The most line pieces one curve piece is cut into.
const MAX_PIECES: usize = 64;
/// A curve piece that stays this close (in screen pixels) to where the line
/// already is adds no line piece: a stroke seen from afar is a few pixels
/// long and its fifty points would be noise in the tessellator.
pub const MIN_PIECE_PX: f32 = 0.5;

/// `curve` (in screen space) as a line through points on it, appended to `out`
/// (its first point is the curve's start; a closed curve's last point is its
/// start again). Pieces outside `clip` are not seen and stay one straight line
/// each.
pub fn flatten(curve: &Curve, clip: Rect, out: &mut Vec<Pos2>) {
    out.push(curve.start);
    let mut last = curve.start;
    let count = curve.pieces.len();
    for (i, piece) in curve.pieces.iter().enumerate() {
        let near = |p: Pos2| p.distance_sq(last) < MIN_PIECE_PX * MIN_PIECE_PX;
        if i + 1 < count && near(piece.to) && near(piece.c1) && near(piece.c2) {
            continue;
        }
        let pieces = if piece.bounds().intersects(clip) {
            // A cubic cut into `k` chords strays at most |B''| / (8 k²), and
            // |B''| ≤ 6 × the control polygon's largest second difference.
            let second = (piece.from - 2.0 * piece.c1.to_vec2() + piece.c2.to_vec2())
                .to_vec2()
                .length()
                .max(
                    (piece.c1 - 2.0 * piece.c2.to_vec2() + piece.to.to_vec2())
                        .to_vec2()
                        .length(),
                );
            ((0.75 * second / CURVE_TOLERANCE_PX).sqrt().ceil() as usize).clamp(1, MAX_PIECES)
        } else {
            1
        };
        for k in 1..pieces {
            out.push(piece.at(k as f32 / pieces as f32));
        }
        out.push(piece.to);
        last = piece.to;
    }
}

#[cfg(test)]
mod tests {
    use egui::{pos2, vec2};

    use super::*;

    /// `curve` flattened with nothing clipped.
    fn line(curve: &Curve) -> Vec<Pos2> {
        let mut out = Vec::new();
        flatten(curve, Rect::EVERYTHING, &mut out);
        out
    }

    #[test]
    fn the_line_passes_through_every_point_and_is_finer_when_bigger() {
        let points = [
            pos2(0.0, 0.0),
            pos2(10.0, 10.0),
            pos2(20.0, 0.0),
            pos2(30.0, 10.0),
        ];
        let small = line(&Curve::stroke(points).unwrap());
        for p in points {
            assert!(small.contains(&p), "{p:?} missing");
        }
        let zoomed = Curve::stroke(points.map(|p| (p.to_vec2() * 20.0).to_pos2())).unwrap();
        let big = line(&zoomed);
        assert!(big.len() > small.len(), "{} vs {}", big.len(), small.len());
        // Every chord of the zoomed curve is short: no visible corners.
        assert!(big.windows(2).all(|w| w[0].distance(w[1]) < 40.0));
    }

    #[test]
    fn every_chord_stays_within_the_tolerance_of_the_curve() {
        let curve = Curve::stroke([
            pos2(0.0, 0.0),
            pos2(300.0, 40.0),
            pos2(310.0, 45.0),
            pos2(0.0, 300.0),
        ])
        .unwrap();
        let flat = line(&curve);
        for piece in &curve.pieces {
            for k in 0..=200 {
                let p = piece.at(k as f32 / 200.0);
                let off = flat
                    .windows(2)
                    .map(|w| distance_to_segment(p, w[0], w[1]))
                    .fold(f32::INFINITY, f32::min);
                assert!(off <= CURVE_TOLERANCE_PX + 1.0e-3, "{p:?} is {off} px off");
            }
        }
    }

    #[test]
    fn off_screen_pieces_are_not_cut_and_tiny_ones_add_nothing() {
        let curve =
            Curve::stroke([pos2(0.0, 0.0), pos2(1000.0, 1000.0), pos2(2000.0, 0.0)]).unwrap();
        let mut nowhere = Vec::new();
        flatten(
            &curve,
            Rect::from_min_size(pos2(-900.0, -900.0), vec2(1.0, 1.0)),
            &mut nowhere,
        );
        assert_eq!(nowhere.len(), 3);
        assert!(line(&curve).len() > 3);
        // Fifty points within a pixel: the line keeps its ends and little else.
        let tiny =
            Curve::stroke((0..50).map(|i| pos2(i as f32 * 0.02, (i % 3) as f32 * 0.01))).unwrap();
        let flat = line(&tiny);
        assert!(flat.len() <= 4, "{flat:?}");
        assert_eq!(flat.first(), Some(&tiny.start));
        assert_eq!(flat.last(), tiny.pieces.last().map(|p| &p.to));
    }

    /// The distance from `p` to the segment from `a` to `b`.
    fn distance_to_segment(p: Pos2, a: Pos2, b: Pos2) -> f32 {
        let ab = b - a;
        let t = ((p - a).dot(ab) / ab.length_sq().max(f32::EPSILON)).clamp(0.0, 1.0);
        p.distance(a + ab * t)
    }
}
