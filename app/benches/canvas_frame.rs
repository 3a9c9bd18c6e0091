//! Building one frame of the canvas for a board of 100,000 freehand strokes of
//! 50 points: the app's own painting code (`Canvas::input_ui` and
//! `Canvas::paint_ui`) run inside a headless `egui::Context` with a
//! `CentralPanel`, then egui's tessellation of the shapes into triangles (what
//! eframe does before handing the meshes to the GPU).
//!
//! Cases: zoomed to fit (every stroke on screen, each a few pixels), zoomed in
//! (about a hundred strokes on screen), panning at both zooms (the camera moves
//! every frame, as in a drag), drawing at both zooms (a stroke in the
//! middle of the view gets one more point every frame, so the board changes),
//! and someone else deleting one stroke, or bringing one to the front, every
//! frame (the render cache must not be rebuilt for one object).
//!
//! Run with `cargo bench -p tabula-app --bench canvas_frame`; `cargo test` does
//! not run it.

// `criterion_group!` defines a public function it cannot document.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use egui::{CentralPanel, Context, Frame, Pos2, RawInput, Rect, pos2, vec2};
use tabula_app::canvas::tools::ToolSettings;
use tabula_app::canvas::{Canvas, ViewAction};
use tabula_shared::{
    Board, ClientId, ObjectId, Op, OpKind, Point, SequencedOp, StrokeId, StrokeStyle,
};

#[path = "../../shared/benches/support/strokes.rs"]
mod strokes;

/// Strokes on the board.
const STROKES: usize = 100_000;
/// The window, in points (pixels per point 1).
const WINDOW: [f32; 2] = [1280.0, 800.0];

/// One frame: the canvas's input and painting in a central panel, then egui's
/// tessellation. Returns the number of triangles, so nothing is optimised away.
fn frame(ctx: &Context, canvas: &mut Canvas, board: &Board, tessellate: bool) -> usize {
    let input = RawInput {
        screen_rect: Some(Rect::from_min_size(Pos2::ZERO, vec2(WINDOW[0], WINDOW[1]))),
        ..RawInput::default()
    };
    let output = ctx.run_ui(input, |ui| {
        CentralPanel::default().frame(Frame::NONE).show(ui, |ui| {
            let _ = canvas.input_ui(ui, ToolSettings::default(), board);
            canvas.paint_ui(ui, board, &tabula_app::pictures::Pictures::default(), &[]);
        });
    });
    if !tessellate {
        return output.shapes.len();
    }
    let primitives = ctx.tessellate(output.shapes, output.pixels_per_point);
    primitives
        .iter()
        .map(|p| match &p.primitive {
            egui::epaint::Primitive::Mesh(mesh) => mesh.indices.len() / 3,
            egui::epaint::Primitive::Callback(_) => 0,
        })
        .sum()
}

/// A context and a canvas that has run one frame (so it knows its viewport),
/// zoomed to fit the board or zoomed in on its middle.
fn rig(board: &Board, zoomed_in: bool) -> (Context, Canvas) {
    let ctx = Context::default();
    let mut canvas = Canvas::new();
    frame(&ctx, &mut canvas, board, true);
    canvas.apply_view(ViewAction::Fit, board.content_bounds());
    if zoomed_in {
        let viewport = canvas.viewport();
        let middle = board
            .content_bounds()
            .map_or(Pos2::ZERO, |r| pos2(r.center().x, r.center().y));
        let camera = canvas.camera_mut();
        camera.zoom = 2.0;
        camera.center_on(middle, viewport);
    }
    // Fonts and caches settle in the first frames.
    for _ in 0..3 {
        frame(&ctx, &mut canvas, board, true);
    }
    (ctx, canvas)
}

fn frames(c: &mut Criterion) {
    let started = Instant::now();
    let mut board = Board::new();
    for op in strokes::stroke_ops(STROKES) {
        board.apply_sequenced(&op);
    }
    eprintln!(
        "{} strokes on the board, built in {:.2?}",
        board.object_count(),
        started.elapsed()
    );

    let mut group = c.benchmark_group("canvas_100k_strokes");
    group.sample_size(10);
    for (name, zoomed_in) in [("fit", false), ("zoomed_in", true)] {
        let (ctx, mut canvas) = rig(&board, zoomed_in);
        let shapes = frame(&ctx, &mut canvas, &board, false);
        let triangles = frame(&ctx, &mut canvas, &board, true);
        eprintln!(
            "{name}: zoom {:.3}, {shapes} shapes, {triangles} triangles",
            canvas.camera().zoom
        );
        group.bench_function(format!("{name}/paint"), |b| {
            b.iter(|| black_box(frame(&ctx, &mut canvas, &board, false)));
        });
        group.bench_function(format!("{name}/paint_and_tessellate"), |b| {
            b.iter(|| black_box(frame(&ctx, &mut canvas, &board, true)));
        });
        // Panning: the camera moves every frame, back and forth so that the
        // view stays on the board.
        let mut step = 0u32;
        group.bench_function(format!("{name}/pan_paint_and_tessellate"), |b| {
            b.iter(|| {
                step = (step + 1) % 64;
                let dx = if step < 32 { 9.0 } else { -9.0 };
                canvas.camera_mut().pan_by(vec2(dx, dx * 0.5));
                black_box(frame(&ctx, &mut canvas, &board, true))
            });
        });
        // Drawing: someone's stroke grows by a point every frame, on a copy of
        // the board so that the other cases keep theirs.
        let mut drawn = board.clone();
        let author = ClientId(uuid::Uuid::from_u128(3));
        let stroke: StrokeId = ObjectId(uuid::Uuid::from_u128(u128::MAX));
        let middle = canvas.camera().visible_canvas(canvas.viewport()).center();
        let mut seq = drawn.last_seq();
        let mut next = |kind: OpKind| {
            seq += 1;
            SequencedOp {
                seq,
                author,
                timestamp_ms: seq,
                op: Op::new(kind),
            }
        };
        drawn.apply_sequenced(&next(OpKind::StrokeBegin {
            stroke,
            style: StrokeStyle {
                color: tabula_shared::Color::rgb(0, 0, 0),
                width: 3.0,
            },
            start: Point::new(middle.x, middle.y),
        }));
        let mut t = 0.0_f32;
        group.bench_function(format!("{name}/drawing_paint_and_tessellate"), |b| {
            b.iter(|| {
                t += 0.05;
                let at = Point::new(middle.x + 40.0 * t.sin(), middle.y + 40.0 * t.cos());
                drawn.apply_sequenced(&next(OpKind::StrokeAppend {
                    stroke,
                    points: vec![at],
                }));
                black_box(frame(&ctx, &mut canvas, &drawn, true))
            });
        });
        // Deleting and restacking: each frame another stroke, spread over the
        // board, is deleted (or raised to the top) by someone else.
        for (op, raise) in [("delete_one", false), ("to_front_one", true)] {
            let mut edited = board.clone();
            let mut seq = edited.last_seq();
            let mut k = 0u64;
            frame(&ctx, &mut canvas, &edited, true);
            group.bench_function(format!("{name}/{op}_paint_and_tessellate"), |b| {
                b.iter(|| {
                    k = (k + 7919) % STROKES as u64;
                    seq += 1;
                    let object = ObjectId(uuid::Uuid::from_u128(u128::from(k) + 1));
                    let kind = if raise {
                        OpKind::ToFront { object }
                    } else {
                        OpKind::Delete { object }
                    };
                    edited.apply_sequenced(&SequencedOp {
                        seq,
                        author,
                        timestamp_ms: seq,
                        op: Op::new(kind),
                    });
                    black_box(frame(&ctx, &mut canvas, &edited, true))
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, frames);
criterion_main!(benches);
