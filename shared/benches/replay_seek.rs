//! Seeking in a generated session of a million ops: the replay's checkpoints
//! must keep any seek under 100 ms.
//!
//! The session is two people drawing strokes in turns (a begin, ten appends of
//! four points, an end), with a rectangle created and restyled now and then. It
//! is generated in memory, without a file, so setup takes a second or two.
//!
//! Run with `cargo bench -p tabula-shared --bench replay_seek`; `cargo test`
//! does not run it.

// `criterion_group!` defines a public function it cannot document.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use tabula_shared::object::{Fill, ObjectData, ObjectKind, Property};
use tabula_shared::replay::Replay;
use tabula_shared::{ClientId, Color, ObjectId, Op, OpKind, Point, SequencedOp, StrokeStyle};
use uuid::Uuid;

/// How many ops the session has.
const OPS: u64 = 1_000_000;

/// Ids from a counter: random ones would cost more to make than the ops.
fn id(n: u64) -> ObjectId {
    ObjectId(Uuid::from_u128(u128::from(n) + 1))
}

/// The generated session.
fn session() -> Vec<SequencedOp> {
    let authors = [ClientId(Uuid::from_u128(1)), ClientId(Uuid::from_u128(2))];
    let mut ops = Vec::with_capacity(OPS as usize);
    let mut objects = 0u64;
    let mut stroke = id(0);
    let mut author = 0usize;
    let mut in_stroke = 0u32;
    let mut last_shape = None;
    for seq in 1..=OPS {
        let x = (seq % 1000) as f32;
        let y = (seq / 1000) as f32;
        let kind = if seq % 500 == 0 {
            objects += 1;
            last_shape = Some(id(objects));
            OpKind::Create {
                object: id(objects),
                data: ObjectData {
                    kind: ObjectKind::Rectangle,
                    points: vec![Point::new(x, y), Point::new(x + 40.0, y + 30.0)],
                    color: Color::rgb(30, 30, 30),
                    width: 2.0,
                    fill: Fill::None,
                    text: String::new(),
                    font_size: 20.0,
                },
            }
        } else if seq % 500 == 250 && last_shape.is_some() {
            OpKind::Set {
                object: last_shape.unwrap_or(stroke),
                property: Property::Fill(Fill::Translucent),
            }
        } else {
            in_stroke += 1;
            match in_stroke {
                1 => {
                    objects += 1;
                    stroke = id(objects);
                    author = 1 - author;
                    OpKind::StrokeBegin {
                        stroke,
                        style: StrokeStyle {
                            color: Color::rgb(20, 80, 200),
                            width: 3.0,
                        },
                        start: Point::new(x, y),
                    }
                }
                12 => {
                    in_stroke = 0;
                    OpKind::StrokeEnd { stroke }
                }
                _ => OpKind::StrokeAppend {
                    stroke,
                    points: (0..4)
                        .map(|i| Point::new(x + i as f32, y + in_stroke as f32))
                        .collect(),
                },
            }
        };
        ops.push(SequencedOp {
            seq,
            author: authors[author],
            timestamp_ms: 1_700_000_000_000 + seq * 16,
            op: Op {
                id: tabula_shared::OpId(Uuid::from_u128(u128::from(seq))),
                kind,
            },
        });
    }
    ops
}

fn seeking(c: &mut Criterion) {
    let started = Instant::now();
    let mut replay = Replay::from_ops(session()).expect("the session is in sequence");
    eprintln!(
        "{} ops, {} objects at the end: built in {:.2?}, {} checkpoints holding ~{} MiB",
        replay.len(),
        replay.final_board().object_count(),
        started.elapsed(),
        replay.checkpoint_count(),
        replay.checkpoint_bytes() / (1024 * 1024),
    );
    let len = replay.len();
    // Far jumps all over the session, from a pseudo-random walk.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let targets: Vec<u64> = (0..1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % (len + 1)
        })
        .collect();
    let mut group = c.benchmark_group("replay_1m_ops");
    group.sample_size(20);
    let mut next = 0;
    group.bench_function("seek_random", |b| {
        b.iter(|| {
            next = (next + 1) % targets.len();
            black_box(replay.seek(targets[next]))
        });
    });
    // One op back from the end: restores the last checkpoint and applies
    // everything after it, the longest a seek near the end can take.
    group.bench_function("step_back_at_end", |b| {
        b.iter(|| {
            replay.seek(len);
            black_box(replay.seek(len - 1))
        });
    });
    group.bench_function("seek_to_start_then_end", |b| {
        b.iter(|| {
            replay.seek(0);
            black_box(replay.seek(len))
        });
    });
    group.finish();
}

criterion_group!(benches, seeking);
criterion_main!(benches);
