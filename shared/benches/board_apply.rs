//! Applying a million sequenced ops to a board: 100,000 freehand strokes of 50
//! points, each streamed as a begin, eight appends and an end (what a peer does
//! when it joins a big room or opens a big file).
//!
//! Run with `cargo bench -p tabula-shared --bench board_apply`; `cargo test`
//! does not run it.

// `criterion_group!` defines a public function it cannot document.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tabula_shared::Board;

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
}

criterion_group!(benches, applying);
criterion_main!(benches);
