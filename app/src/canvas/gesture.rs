//! What a held pointer button is doing on the canvas, one variant per kind of
//! drag, with the pure geometry each needs: the pen's stabiliser, shift
//! constraints for shapes, and the eraser's sweep.

use egui::{PointerButton, Pos2, vec2};
use tabula_shared::caps::MAX_STROKE_POINTS;
use tabula_shared::object::ObjectKind;
use tabula_shared::{Board, ObjectId, Op, OpKind, Point, StrokeId, StrokeStyle};

use super::convert::point_from_pos;
use super::selection::Handle;

/// Weight of each new pointer sample in the stabiliser's moving average: lower is
/// smoother but lags more behind the pointer.
const SMOOTHING: f32 = 0.6;
/// Samples fed to the stabiliser at the pointer's last position when the pen
/// lifts, so the stroke eases into its end point.
const CATCH_UP_SAMPLES: usize = 3;

/// What a pointer button held down on the canvas is doing. Positions are in
/// canvas units unless named `screen`.
#[derive(Debug)]
pub enum Gesture {
    /// Nothing held.
    Idle,
    /// The pen or highlighter is down.
    Drawing(Drawing),
    /// The board is being dragged along.
    Panning {
        /// The button that holds it (middle, or primary with space held).
        button: PointerButton,
        /// The pointer's previous screen position.
        last: Pos2,
    },
    /// A line, arrow, rectangle or ellipse is being dragged out.
    Shape {
        /// Which.
        kind: ObjectKind,
        /// Where the drag began.
        from: Pos2,
        /// Where the pointer is.
        to: Pos2,
    },
    /// The eraser is sweeping; what it touched is in the canvas's erased list.
    Erasing {
        /// The pointer's last position, to sweep the gap to the next one.
        last: Pos2,
    },
    /// The selection is being dragged.
    Moving {
        /// Where the drag began.
        from: Pos2,
        /// Where the pointer is.
        to: Pos2,
    },
    /// A shape's handle is being dragged.
    Resizing {
        /// The shape.
        object: ObjectId,
        /// The handle.
        handle: Handle,
        /// Where the pointer is.
        to: Pos2,
    },
    /// A selection rectangle is being dragged out.
    Selecting {
        /// Where the drag began.
        from: Pos2,
        /// Where the pointer is.
        to: Pos2,
        /// Whether shift was held: add to the selection instead of replacing it.
        additive: bool,
    },
}

/// With shift: a rectangle or ellipse becomes a square or circle, a line or
/// arrow snaps to a multiple of 45°.
#[must_use]
pub fn constrain(kind: ObjectKind, from: Pos2, to: Pos2, shift: bool) -> Pos2 {
    if !shift {
        return to;
    }
    let d = to - from;
    match kind {
        ObjectKind::Rectangle | ObjectKind::Ellipse | ObjectKind::Note => {
            let side = d.x.abs().max(d.y.abs());
            from + vec2(side.copysign(d.x), side.copysign(d.y))
        }
        ObjectKind::Line | ObjectKind::Arrow => {
            let step = std::f32::consts::FRAC_PI_4;
            let angle = (d.angle() / step).round() * step;
            from + egui::Vec2::angled(angle) * d.length()
        }
        ObjectKind::Freehand | ObjectKind::Text | ObjectKind::Image => to,
    }
}

/// The objects on show that an eraser of `radius` touches on its way from
/// `from` to `to`, sampled finely enough that nothing thinner slips through.
#[must_use]
pub fn swept(board: &Board, from: Pos2, to: Pos2, radius: f32) -> Vec<ObjectId> {
    let step = (radius * 0.5).max(0.01);
    let samples = ((from.distance(to) / step).ceil() as usize).clamp(1, 4096);
    let points: Vec<Point> = (0..=samples)
        .map(|i| point_from_pos(from + (to - from) * (i as f32 / samples as f32)))
        .collect();
    board
        .objects()
        .filter(|o| {
            let near = o.bounds().expand(radius);
            points
                .iter()
                .any(|p| near.contains(*p) && o.distance(*p) <= radius)
        })
        .map(|o| o.id)
        .collect()
}

/// A stroke being drawn by the local user.
///
/// A stroke holds at most [`MAX_STROKE_POINTS`]; one drawn on past that (some
/// minutes without lifting the pen) goes on as a new stroke of the same
/// style from where it reached the cap, so nothing drawn is lost and no op
/// is one the relay refuses.
#[derive(Debug)]
pub struct Drawing {
    /// The stroke's id, sent with each of its ops.
    pub stroke: StrokeId,
    /// Its colour and width, for the stroke that carries on past the cap.
    pub style: StrokeStyle,
    /// How many points the stroke holds so far, its start included.
    pub points: usize,
    /// The stabiliser's output: a moving average of the pointer, in canvas space.
    pub smoothed: Pos2,
    /// The last point kept for the stroke, for the minimum spacing.
    pub last_kept: Pos2,
    /// Points kept this frame, sent as one append at the end of it.
    pub batch: Vec<Point>,
    /// The last point sent, where a stroke carrying on past the cap starts.
    pub last_sent: Option<Point>,
}

impl Drawing {
    /// A stroke that starts at `at` (canvas space), with its begin op.
    #[must_use]
    pub fn begin(at: Pos2, style: StrokeStyle) -> (Self, Op) {
        let stroke = StrokeId::random();
        let begin = Op::new(OpKind::StrokeBegin {
            stroke,
            style,
            start: point_from_pos(at),
        });
        let drawing = Self {
            stroke,
            style,
            points: 1,
            smoothed: at,
            last_kept: at,
            batch: Vec::new(),
            last_sent: Some(point_from_pos(at)),
        };
        (drawing, begin)
    }
}

impl Drawing {
    /// Feeds a pointer sample (canvas space); keeps the smoothed point if it is far
    /// enough from the last one kept.
    pub fn sample(&mut self, raw: Pos2, min_spacing: f32) {
        self.smoothed += (raw - self.smoothed) * SMOOTHING;
        if self.smoothed.distance(self.last_kept) >= min_spacing {
            self.keep(self.smoothed);
        }
    }

    /// Ends at the pointer's true last position, so the stroke stops where the pen
    /// lifted rather than where the stabiliser lagged. The stabiliser first
    /// catches up over a few samples, so the end curves in instead of jumping.
    pub fn finish(&mut self, raw: Pos2, min_spacing: f32) {
        for _ in 0..CATCH_UP_SAMPLES {
            self.sample(raw, min_spacing);
        }
        if raw.distance(self.last_kept) > f32::EPSILON {
            self.keep(raw);
        }
    }

    /// Adds a point to this frame's batch.
    fn keep(&mut self, p: Pos2) {
        self.last_kept = p;
        self.batch.push(point_from_pos(p));
    }

    /// The ops for this frame's points: an append, if there are any; where
    /// they take the stroke to its cap, the append that fills it, its end,
    /// and the begin and append of the stroke that carries on.
    pub fn take_ops(&mut self) -> Vec<Op> {
        let mut ops = Vec::new();
        let mut batch = std::mem::take(&mut self.batch);
        while !batch.is_empty() {
            let room = MAX_STROKE_POINTS - self.points;
            if room == 0 {
                let start = self.last_sent.unwrap_or(batch[0]);
                ops.push(Op::new(OpKind::StrokeEnd {
                    stroke: self.stroke,
                }));
                self.stroke = StrokeId::random();
                self.points = 1;
                ops.push(Op::new(OpKind::StrokeBegin {
                    stroke: self.stroke,
                    style: self.style,
                    start,
                }));
                continue;
            }
            let rest = batch.split_off(room.min(batch.len()));
            self.points += batch.len();
            self.last_sent = batch.last().copied();
            ops.push(Op::new(OpKind::StrokeAppend {
                stroke: self.stroke,
                points: batch,
            }));
            batch = rest;
        }
        ops
    }
}

#[cfg(test)]
mod tests {
    use egui::pos2;

    use super::*;

    fn style() -> StrokeStyle {
        StrokeStyle {
            color: tabula_shared::Color::rgb(0, 0, 0),
            width: 2.0,
        }
    }

    #[test]
    fn a_stroke_drawn_past_its_cap_carries_on_as_a_new_one_from_where_it_stopped() {
        let (mut d, begin) = Drawing::begin(Pos2::ZERO, style());
        let first = d.stroke;
        let mut board = Board::default();
        let me = tabula_shared::ClientId::random();
        let mut all = vec![begin];
        for frame in 0..60 {
            for i in 0..1000 {
                d.keep(pos2((frame * 1000 + i) as f32 * 0.01, 0.0));
            }
            all.extend(d.take_ops());
        }
        for op in &all {
            assert!(op.is_well_formed(), "{op:?}");
        }
        for op in all {
            board.apply_local(me, op);
        }
        let strokes: Vec<_> = board.objects().collect();
        assert_eq!(strokes.len(), 2);
        assert_eq!(strokes[0].id, first);
        assert_eq!(strokes[0].data.points.len(), MAX_STROKE_POINTS);
        // The second starts where the first stopped: 60,000 kept points and
        // the start, one of them shared.
        assert_eq!(
            strokes[1].data.points[0],
            *strokes[0].data.points.last().unwrap()
        );
        assert_eq!(strokes[1].data.points.len(), 60_001 - MAX_STROKE_POINTS + 1);
    }

    #[test]
    fn stabiliser_keeps_spacing_and_ends_on_the_pointer() {
        let (mut d, _) = Drawing::begin(Pos2::ZERO, style());
        for i in 1..=10 {
            d.sample(pos2(i as f32 * 0.5, 0.0), 2.0);
        }
        d.finish(pos2(5.0, 0.0), 2.0);
        let xs: Vec<f32> = d.batch.iter().map(|p| p.x).collect();
        assert!(xs.windows(2).all(|w| w[1] > w[0]), "{xs:?}");
        assert!(
            xs.windows(2)
                .take(xs.len().saturating_sub(2))
                .all(|w| w[1] - w[0] >= 2.0 - 1.0e-4)
        );
        assert_eq!(xs.last().copied(), Some(5.0));
    }

    #[test]
    fn shift_makes_squares_and_45_degree_lines() {
        let from = pos2(10.0, 10.0);
        let square = constrain(ObjectKind::Rectangle, from, pos2(40.0, -50.0), true);
        assert_eq!(square, pos2(70.0, -50.0));
        let line = constrain(ObjectKind::Line, from, pos2(110.0, 20.0), true);
        assert!((line.y - 10.0).abs() < 1.0e-3, "{line:?}");
        let diagonal = constrain(ObjectKind::Arrow, from, pos2(50.0, 55.0), true);
        assert!(((diagonal.x - 10.0) - (diagonal.y - 10.0)).abs() < 1.0e-3);
        assert_eq!(
            constrain(ObjectKind::Rectangle, from, pos2(3.0, 4.0), false),
            pos2(3.0, 4.0)
        );
    }
}
