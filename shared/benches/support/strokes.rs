//! A generated board of freehand strokes, shared by the board and canvas
//! benchmarks and the example that writes it to a `.tabula` file.
//!
//! Strokes sit on a grid, one per cell, each a wavy line of [`POINTS`] points
//! about 40 canvas units long. Each is streamed as a real pen would: a
//! `StrokeBegin` with its first point, appends of a few points, a `StrokeEnd`,
//! so [`OPS_PER_STROKE`] ops per stroke and a million ops for 100,000 strokes.

use tabula_shared::{ClientId, Color, ObjectId, Op, OpId, OpKind, Point, SequencedOp, StrokeStyle};
use uuid::Uuid;

/// Points in every stroke.
pub const POINTS: usize = 50;
/// Ops that stream one stroke: a begin, the appends, an end.
pub const OPS_PER_STROKE: usize = 10;
/// The grid's spacing, in canvas units.
pub const CELL: f32 = 50.0;
/// Strokes per grid row.
pub const COLUMNS: usize = 400;

/// Ids from a counter: random ones would cost more to make than the ops.
fn id(n: u64) -> ObjectId {
    ObjectId(Uuid::from_u128(u128::from(n) + 1))
}

/// The points of stroke `n`: a short wave in its grid cell.
fn stroke_points(n: usize) -> Vec<Point> {
    let cx = (n % COLUMNS) as f32 * CELL;
    let cy = (n / COLUMNS) as f32 * CELL;
    let phase = (n % 17) as f32 * 0.37;
    (0..POINTS)
        .map(|i| {
            let t = i as f32;
            Point::new(
                cx + 5.0 + t * 0.8,
                cy + 20.0 + 8.0 * (t * 0.25 + phase).sin(),
            )
        })
        .collect()
}

/// The ink of stroke `n`: a few colours and widths, all opaque.
fn stroke_style(n: usize) -> StrokeStyle {
    const INKS: [Color; 4] = [
        Color::rgb(0x1e, 0x1e, 0x24),
        Color::rgb(0x19, 0x71, 0xc2),
        Color::rgb(0xe0, 0x31, 0x31),
        Color::rgb(0x2f, 0x9e, 0x44),
    ];
    StrokeStyle {
        color: INKS[n % INKS.len()],
        width: 2.0 + (n % 3) as f32,
    }
}

/// The sequenced ops that draw `strokes` strokes, two authors taking turns,
/// sequence numbers from 1.
#[must_use]
pub fn stroke_ops(strokes: usize) -> Vec<SequencedOp> {
    let authors = [ClientId(Uuid::from_u128(1)), ClientId(Uuid::from_u128(2))];
    let mut ops = Vec::with_capacity(strokes * OPS_PER_STROKE);
    let appends = OPS_PER_STROKE - 2;
    for n in 0..strokes {
        let stroke = id(n as u64);
        let points = stroke_points(n);
        let mut kinds = Vec::with_capacity(OPS_PER_STROKE);
        kinds.push(OpKind::StrokeBegin {
            stroke,
            style: stroke_style(n),
            start: points[0],
        });
        let rest = &points[1..];
        kinds.extend((0..appends).map(|k| OpKind::StrokeAppend {
            stroke,
            points: rest[k * rest.len() / appends..(k + 1) * rest.len() / appends].to_vec(),
        }));
        kinds.push(OpKind::StrokeEnd { stroke });
        for kind in kinds {
            let seq = ops.len() as u64 + 1;
            ops.push(SequencedOp {
                seq,
                author: authors[n % 2],
                timestamp_ms: 1_700_000_000_000 + seq * 16,
                op: Op {
                    id: OpId(Uuid::from_u128(u128::from(seq))),
                    kind,
                },
            });
        }
    }
    ops
}
