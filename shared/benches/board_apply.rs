//! Applying a million sequenced ops to a board: 100,000 freehand strokes of 50
//! points, each streamed as a begin, eight appends and an end (what a peer does
//! when it joins a big room or opens a big file).
//!
//! Then, on that board of 100,000 strokes: the first local op (a stroke begun
//! here while nothing else is pending) and its confirmation by the relay, what
//! a person drawing on a big board pays for each new stroke.
//!
//! Run with `cargo bench -p tabula-shared --bench board_apply`; `cargo test`
//! does not run it.

// `criterion_group!` defines a public function it cannot document.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tabula_shared::{Board, ClientId, Color, ObjectId, Op, OpId, OpKind, Point, StrokeStyle};
use uuid::Uuid;

#[path = "support/strokes.rs"]
mod strokes;

/// Strokes on the board: a million ops.
const STROKES: usize = 100_000;

fn applying(c: &mut Criterion) {
    let started = Instant::now();
    let ops = strokes::stroke_ops(STROKES);
    eprintln!("{} ops generated in {:.2?}", ops.len(), started.elapsed());
    let mut group = c.benchmark_group("board_1m_ops");
    group.sample_size(10);
    group.bench_function("apply_sequenced", |b| {
        b.iter_batched(
            Board::new,
            |mut board| {
                for op in &ops {
                    board.apply_sequenced(op);
                }
                black_box(board)
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();

    let mut board = Board::new();
    for op in &ops {
        board.apply_sequenced(op);
    }
    let me = ClientId(Uuid::from_u128(3));
    let mut group = c.benchmark_group("board_100k_strokes");
    let mut n = 0u128;
    group.bench_function("first_local_op_then_confirm", |b| {
        b.iter(|| {
            n += 1;
            let op = Op {
                id: OpId(Uuid::from_u128(u128::MAX - n)),
                kind: OpKind::StrokeBegin {
                    stroke: ObjectId(Uuid::from_u128(u128::MAX - n)),
                    style: StrokeStyle {
                        color: Color::rgb(0, 0, 0),
                        width: 3.0,
                    },
                    start: Point::new(10.0, 10.0),
                },
            };
            let id = op.id;
            board.apply_local(me, op);
            let seq = board.last_seq() + 1;
            black_box(board.confirm(id, seq, 0))
        });
    });
    group.finish();
}

criterion_group!(benches, applying);
criterion_main!(benches);
