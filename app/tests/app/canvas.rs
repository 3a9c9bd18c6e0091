//! Headless tests of the canvas on its own: pointer input in, ops and camera moves
//! out, against a plain `Board` (no session, no network).

use egui::{Event, Key, Modifiers, MouseWheelUnit, PointerButton, Pos2, pos2, vec2};
use egui_kittest::Harness;
use tabula_app::canvas::tools::{Tool, ToolSettings};
use tabula_shared::{Board, Object, OpKind, Point};

use crate::support::{self, Scene};

fn scene() -> Harness<'static, Scene> {
    support::scene(ToolSettings::default(), 0.25)
}

/// The canvas point under a screen position, for the canvas's camera right now.
fn canvas_at(harness: &Harness<'_, Scene>, pos: Pos2) -> Pos2 {
    let canvas = &harness.state().canvas;
    canvas.camera().canvas_from_screen(canvas.viewport()) * pos
}

fn near(a: Point, b: Pos2) -> bool {
    (a.x - b.x).abs() < 1.0e-3 && (a.y - b.y).abs() < 1.0e-3
}

fn only_stroke(board: &Board) -> &Object {
    assert_eq!(board.object_count(), 1, "expected exactly one stroke");
    board.objects().next().expect("a stroke")
}

#[test]
fn a_drag_draws_one_stroke_streamed_as_begin_appends_end() {
    let mut harness = scene();
    let (from, to) = (pos2(100.0, 120.0), pos2(400.0, 270.0));
    let (from_canvas, to_canvas) = (canvas_at(&harness, from), canvas_at(&harness, to));
    support::drag(&mut harness, from, to, 20);

    let scene = harness.state();
    let stroke = only_stroke(&scene.board);
    assert!(stroke.finished);
    assert!(
        near(stroke.data.points[0], from_canvas),
        "{:?}",
        stroke.data.points[0]
    );
    assert!(near(*stroke.data.points.last().unwrap(), to_canvas));
    assert!(
        stroke.data.points.len() >= 10,
        "only {} points",
        stroke.data.points.len()
    );
    // A straight drag stays on its line, moving steadily forward.
    let dir = (to_canvas - from_canvas).normalized();
    let mut along = -1.0;
    for p in &stroke.data.points {
        let v = pos2(p.x, p.y) - from_canvas;
        assert!(
            v.dot(vec2(-dir.y, dir.x)).abs() < 0.01,
            "{p:?} off the line"
        );
        assert!(v.dot(dir) > along, "{p:?} goes backwards");
        along = v.dot(dir);
    }

    // On the wire: one begin, then appends, then one end, all for this stroke.
    let kinds = &scene.ops;
    assert!(matches!(
        kinds.first().map(|o| &o.kind),
        Some(OpKind::StrokeBegin { .. })
    ));
    assert!(matches!(
        kinds.last().map(|o| &o.kind),
        Some(OpKind::StrokeEnd { .. })
    ));
    assert!(kinds.len() > 3);
    for op in &kinds[1..kinds.len() - 1] {
        assert!(matches!(op.kind, OpKind::StrokeAppend { .. }), "{op:?}");
        assert_eq!(op.kind.object(), Some(stroke.id));
    }
    // The pen's style went along with the begin.
    let style = ToolSettings::default().stroke_style();
    assert_eq!(
        (stroke.data.color, stroke.data.width),
        (style.color, style.width)
    );
}

#[test]
fn points_of_one_frame_go_out_as_one_append() {
    let mut harness = scene();
    harness.hover_at(pos2(50.0, 50.0));
    harness.run();
    harness.drag_at(pos2(50.0, 50.0));
    harness.run();
    let before = harness.state().ops.len();
    let frames_before = harness.state().frames_with_ops;
    // Many pointer samples arrive within a single frame.
    for i in 1..=12 {
        harness
            .input_mut()
            .events
            .push(Event::PointerMoved(pos2(50.0 + 10.0 * i as f32, 50.0)));
    }
    harness.step();
    let scene = harness.state();
    assert_eq!(scene.frames_with_ops, frames_before + 1);
    let new_ops = &scene.ops[before..];
    assert_eq!(new_ops.len(), 1, "{new_ops:?}");
    match &new_ops[0].kind {
        OpKind::StrokeAppend { points, .. } => assert!(points.len() >= 10, "{points:?}"),
        other => panic!("expected an append, got {other:?}"),
    }
}

#[test]
fn a_click_leaves_a_dot() {
    let mut harness = scene();
    let at = pos2(200.0, 200.0);
    harness.hover_at(at);
    harness.run();
    // Press and release within one frame.
    harness.input_mut().events.extend([
        Event::PointerButton {
            pos: at,
            button: PointerButton::Primary,
            pressed: true,
            modifiers: Modifiers::NONE,
        },
        Event::PointerButton {
            pos: at,
            button: PointerButton::Primary,
            pressed: false,
            modifiers: Modifiers::NONE,
        },
    ]);
    harness.step();
    harness.run();
    let stroke = only_stroke(&harness.state().board);
    assert_eq!(stroke.data.points.len(), 1);
    assert!(stroke.finished);
}

#[test]
fn zoom_keeps_the_point_under_the_pointer() {
    let mut harness = scene();
    let anchor = pos2(321.0, 234.0);
    harness.hover_at(anchor);
    harness.run();
    let before = canvas_at(&harness, anchor);

    // A pinch (or a synthesised ctrl+scroll) arrives as a zoom factor.
    harness.event(Event::Zoom(2.0));
    harness.run();
    assert!((harness.state().canvas.camera().zoom - 2.0).abs() < 1.0e-4);
    assert!(canvas_at(&harness, anchor).distance(before) < 1.0e-3);

    // Ctrl + mouse wheel zooms in too, around the same point.
    harness.event(Event::MouseWheel {
        unit: MouseWheelUnit::Line,
        delta: vec2(0.0, 3.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: Modifiers::CTRL,
    });
    harness.run();
    let zoom = harness.state().canvas.camera().zoom;
    assert!(zoom > 2.1, "ctrl+wheel did not zoom in: {zoom}");
    assert!(canvas_at(&harness, anchor).distance(before) < 1.0e-2);
    // No stroke came of any of it.
    assert!(harness.state().ops.is_empty());
}

#[test]
fn plain_scroll_pans() {
    let mut harness = scene();
    harness.hover_at(pos2(300.0, 300.0));
    harness.run();
    let before = harness.state().canvas.camera().pan;
    harness.event(Event::MouseWheel {
        unit: MouseWheelUnit::Point,
        delta: vec2(-40.0, 25.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: Modifiers::NONE,
    });
    harness.run();
    let moved = harness.state().canvas.camera().pan - before;
    assert!((moved - vec2(-40.0, 25.0)).length() < 0.5, "{moved:?}");
    assert!((harness.state().canvas.camera().zoom - 1.0).abs() < f32::EPSILON);
}

/// Drags with the middle button, or the primary button with space held.
fn pan_drag(harness: &mut Harness<'_, Scene>, button: PointerButton, from: Pos2, to: Pos2) {
    harness.hover_at(from);
    harness.run();
    harness.event(Event::PointerButton {
        pos: from,
        button,
        pressed: true,
        modifiers: Modifiers::NONE,
    });
    harness.run();
    for i in 1..=5 {
        harness.hover_at(from + (to - from) * (i as f32 / 5.0));
        harness.run();
    }
    harness.event(Event::PointerButton {
        pos: to,
        button,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    harness.run();
}

#[test]
fn a_stroke_after_zoom_and_pan_lands_where_the_pointer_was() {
    let mut harness = scene();
    // Where things are on the canvas before the camera moves: at 100 % with the
    // origin in the corner, a screen point minus the viewport's corner.
    let viewport = harness.state().canvas.viewport();
    let a = pos2(200.0, 200.0);
    let b = pos2(350.0, 260.0);
    let target = a - viewport.min.to_vec2();
    let target_end = target + vec2(30.0, 20.0) / 2.5;

    // Zoom to 250 % around `a`, then drag the board with the middle button so that
    // what was under `a` is now under `b`.
    harness.hover_at(a);
    harness.run();
    harness.event(Event::Zoom(2.5));
    harness.run();
    pan_drag(&mut harness, PointerButton::Middle, a, b);
    assert!(canvas_at(&harness, b).distance(target) < 1.0e-2);
    assert!(harness.state().ops.is_empty(), "panning drew");

    // Space + primary drag pans too, and draws nothing: there and back again.
    harness.key_down(Key::Space);
    harness.run();
    pan_drag(&mut harness, PointerButton::Primary, b, a);
    pan_drag(&mut harness, PointerButton::Primary, a, b);
    harness.key_up(Key::Space);
    harness.run();
    assert!(harness.state().ops.is_empty(), "space-panning drew");
    assert!(canvas_at(&harness, b).distance(target) < 1.0e-2);

    // A stroke drawn from `b` starts at the canvas point that was under `a`, and
    // 30×20 screen points at 250 % are 12×8 canvas units.
    support::drag(&mut harness, b, b + vec2(30.0, 20.0), 10);
    let stroke = only_stroke(&harness.state().board);
    assert!(
        near(stroke.data.points[0], target),
        "{:?} vs {target:?}",
        stroke.data.points[0]
    );
    assert!(near(*stroke.data.points.last().unwrap(), target_end));
}

#[test]
fn the_pointer_is_reported_in_canvas_space_and_when_it_leaves() {
    let mut harness = scene();
    harness.hover_at(pos2(100.0, 100.0));
    harness.run();
    let expected = canvas_at(&harness, pos2(100.0, 100.0));
    let last = *harness.state().pointers.last().unwrap();
    assert!(near(last.unwrap(), expected));
    let reports = harness.state().pointers.len();
    // Hovering again at the same place reports nothing new.
    harness.hover_at(pos2(100.0, 100.0));
    harness.run();
    assert_eq!(harness.state().pointers.len(), reports);
    harness.remove_cursor();
    harness.run();
    assert_eq!(harness.state().pointers.last(), Some(&None));
}

#[test]
fn a_covered_canvas_takes_no_keys_wheel_or_presses() {
    let mut harness = scene();
    support::drag(&mut harness, pos2(100.0, 100.0), pos2(200.0, 150.0), 5);
    support::drag(&mut harness, pos2(300.0, 100.0), pos2(400.0, 150.0), 5);
    harness.state_mut().tools.tool = Tool::Select;
    harness.run();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness.run();
    let selected = |h: &Harness<'_, Scene>| h.state().canvas.selection().ids().count();
    assert_eq!(selected(&harness), 2);
    let ops = harness.state().ops.len();
    let camera = *harness.state().canvas.camera();

    harness.state_mut().covered = true;
    harness.run();
    for key in [Key::Delete, Key::Backspace, Key::Escape] {
        harness.key_press(key);
        harness.run();
    }
    harness.key_press_modifiers(Modifiers::COMMAND, Key::D);
    harness.run();
    harness.hover_at(pos2(600.0, 500.0));
    harness.run();
    harness.event(Event::MouseWheel {
        unit: MouseWheelUnit::Point,
        delta: vec2(-40.0, 25.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: Modifiers::NONE,
    });
    harness.event(Event::Zoom(2.0));
    harness.run();
    // A rubber band over empty board would let the selection go.
    support::drag(&mut harness, pos2(600.0, 500.0), pos2(700.0, 550.0), 5);
    pan_drag(
        &mut harness,
        PointerButton::Middle,
        pos2(600.0, 500.0),
        pos2(650.0, 520.0),
    );
    let scene = harness.state();
    assert_eq!(scene.ops.len(), ops, "{:?}", &scene.ops[ops..]);
    assert_eq!(scene.board.object_count(), 2);
    assert_eq!(selected(&harness), 2);
    assert_eq!(*harness.state().canvas.camera(), camera);
    assert_eq!(harness.state().pointers.last(), Some(&None));

    // Uncovered, the same keys act again.
    harness.state_mut().covered = false;
    harness.run();
    harness.key_press(Key::Delete);
    harness.run();
    assert_eq!(harness.state().board.object_count(), 0);
    assert_eq!(selected(&harness), 0);
}

#[test]
fn a_stroke_under_way_when_a_dialog_opens_ends_on_its_release() {
    let mut harness = scene();
    let (from, to) = (pos2(100.0, 100.0), pos2(300.0, 200.0));
    harness.hover_at(from);
    harness.run();
    harness.drag_at(from);
    harness.run();
    harness.hover_at(pos2(200.0, 150.0));
    harness.run();
    harness.state_mut().covered = true;
    harness.hover_at(to);
    harness.run();
    harness.drop_at(to);
    harness.run();
    assert!(!harness.state().canvas.is_drawing());
    let stroke = only_stroke(&harness.state().board);
    assert!(stroke.finished);
    let end = canvas_at(&harness, to);
    assert!(near(*stroke.data.points.last().unwrap(), end));
}
