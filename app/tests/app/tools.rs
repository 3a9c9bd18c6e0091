//! Headless tests of each tool: a drag or a click sequence on the canvas makes
//! the right object (or selection, or deletion), with undo where it applies.
//! The canvas runs against a plain `Board` and a `History`, as the session
//! would drive them.

use egui::{Event, Key, Modifiers, Pos2, pos2};
use egui_kittest::Harness;
use tabula_app::canvas::tools::{Tool, ToolSettings};
use tabula_shared::object::{Fill, ObjectKind};
use tabula_shared::{Object, ObjectId, Point};

use crate::support::{self, Scene};

/// The canvas with `tool` in hand, frames a 60th of a second apart, so that
/// two clicks can be a double-click.
fn scene(tool: Tool) -> Harness<'static, Scene> {
    let tools = ToolSettings {
        tool,
        ..ToolSettings::default()
    };
    support::scene(tools, 1.0 / 60.0)
}

/// The canvas point under a screen position.
fn at(harness: &Harness<'_, Scene>, p: Pos2) -> Point {
    let canvas = &harness.state().canvas;
    let c = canvas.camera().canvas_from_screen(canvas.viewport()) * p;
    Point::new(c.x, c.y)
}

/// The frames a drag takes to get from where it starts to where it ends.
const DRAG_STEPS: usize = 8;

fn with_shift(harness: &mut Harness<'_, Scene>, f: impl FnOnce(&mut Harness<'_, Scene>)) {
    harness.event(Event::ModifiersChanged(Modifiers::SHIFT));
    harness.run();
    f(harness);
    harness.event(Event::ModifiersChanged(Modifiers::NONE));
    harness.run();
}

fn objects(harness: &Harness<'_, Scene>) -> Vec<Object> {
    harness.state().board.objects().cloned().collect()
}

fn only(harness: &Harness<'_, Scene>) -> Object {
    let all = objects(harness);
    assert_eq!(all.len(), 1, "expected one object, got {all:?}");
    all.into_iter().next().expect("one object")
}

fn near(a: Point, b: Point) -> bool {
    a.distance(b) < 1.0e-3
}

#[test]
fn shape_tools_drag_out_their_shape_in_the_current_style() {
    for (tool, kind) in [
        (Tool::Line, ObjectKind::Line),
        (Tool::Arrow, ObjectKind::Arrow),
        (Tool::Rectangle, ObjectKind::Rectangle),
        (Tool::Ellipse, ObjectKind::Ellipse),
    ] {
        let mut harness = scene(tool);
        harness.state_mut().tools.fill = Fill::Translucent;
        let (from, to) = (pos2(100.0, 120.0), pos2(300.0, 220.0));
        support::drag(&mut harness, from, to, DRAG_STEPS);
        let shape = only(&harness);
        assert_eq!(shape.data.kind, kind);
        assert!(near(shape.data.points[0], at(&harness, from)), "{tool:?}");
        assert!(near(shape.data.points[1], at(&harness, to)), "{tool:?}");
        assert_eq!(shape.data.fill, Fill::Translucent);
        let width = ToolSettings::default().width.canvas_units();
        assert!((shape.data.width - width).abs() < f32::EPSILON);
        // One create, nothing streamed while dragging.
        assert_eq!(harness.state().actions.len(), 1);
    }
}

#[test]
fn shift_makes_a_square_and_a_45_degree_line() {
    let mut harness = scene(Tool::Rectangle);
    with_shift(&mut harness, |h| {
        support::drag(h, pos2(100.0, 100.0), pos2(200.0, 160.0), DRAG_STEPS);
    });
    let square = only(&harness);
    assert!(near(
        square.data.points[1],
        at(&harness, pos2(200.0, 200.0))
    ));

    let mut harness = scene(Tool::Line);
    with_shift(&mut harness, |h| {
        support::drag(h, pos2(100.0, 100.0), pos2(300.0, 120.0), DRAG_STEPS);
    });
    let line = only(&harness);
    let end = line.data.points[1];
    assert!(
        (end.y - at(&harness, pos2(0.0, 100.0)).y).abs() < 1.0e-3,
        "{end:?} is not level"
    );
}

#[test]
fn a_click_with_a_shape_tool_makes_nothing() {
    let mut harness = scene(Tool::Rectangle);
    support::click(&mut harness, pos2(100.0, 100.0));
    assert_eq!(harness.state().board.object_count(), 0);
}

#[test]
fn the_highlighter_draws_a_wide_translucent_stroke() {
    let mut harness = scene(Tool::Highlighter);
    support::drag(
        &mut harness,
        pos2(100.0, 100.0),
        pos2(300.0, 100.0),
        DRAG_STEPS,
    );
    let stroke = only(&harness);
    assert_eq!(stroke.data.kind, ObjectKind::Freehand);
    assert!(stroke.finished);
    assert!(stroke.data.color.a < 128);
    assert!(stroke.data.width > ToolSettings::default().width.canvas_units() * 2.0);
}

/// Three boxes side by side; the eraser is dragged across the first two only.
#[test]
fn the_eraser_removes_exactly_what_it_crossed() {
    let mut harness = scene(Tool::Rectangle);
    for x in [100.0, 300.0, 500.0] {
        support::drag(
            &mut harness,
            pos2(x, 100.0),
            pos2(x + 100.0, 200.0),
            DRAG_STEPS,
        );
    }
    let ids: Vec<ObjectId> = objects(&harness).iter().map(|o| o.id).collect();
    assert_eq!(ids.len(), 3);
    harness.state_mut().tools.tool = Tool::Eraser;
    harness.run();
    // Crosses the left box's edges and the middle box's left edge, and stops
    // in the empty middle of the second box (the boxes are unfilled).
    support::drag(
        &mut harness,
        pos2(50.0, 150.0),
        pos2(350.0, 150.0),
        DRAG_STEPS,
    );
    let left: Vec<ObjectId> = objects(&harness).iter().map(|o| o.id).collect();
    assert_eq!(left, vec![ids[2]]);
    // One action: one undo brings both back.
    let Scene {
        board, history, me, ..
    } = harness.state_mut();
    history.undo(board, *me);
    assert_eq!(harness.state().board.object_count(), 3);
}

#[test]
fn typing_places_a_multi_line_text_and_a_double_click_edits_it() {
    let mut harness = scene(Tool::Text);
    support::click(&mut harness, pos2(200.0, 150.0));
    assert!(harness.state().canvas.editor().is_some());
    harness.event(Event::Text("Hello".to_owned()));
    harness.run();
    harness.key_press(Key::Enter);
    harness.run();
    harness.event(Event::Text("board".to_owned()));
    harness.run();
    // Nothing goes out while typing.
    assert_eq!(harness.state().board.object_count(), 0);
    harness.key_press(Key::Escape);
    harness.run();
    harness.run();
    let text = only(&harness);
    assert_eq!(text.data.kind, ObjectKind::Text);
    assert_eq!(text.data.text, "Hello\nboard");
    assert!(near(text.data.points[0], at(&harness, pos2(200.0, 150.0))));
    assert!(harness.state().canvas.editor().is_none());

    // Edit it later: a double-click with the select tool opens it again.
    harness.state_mut().tools.tool = Tool::Select;
    harness.run();
    let inside = pos2(210.0, 160.0);
    harness.hover_at(inside);
    harness.run();
    for _ in 0..2 {
        harness.drag_at(inside);
        harness.run();
        harness.event(Event::PointerButton {
            pos: inside,
            button: egui::PointerButton::Primary,
            pressed: false,
            modifiers: Modifiers::NONE,
        });
        harness.run();
    }
    assert!(
        harness.state().canvas.editor().is_some(),
        "double-click edits"
    );
    harness.key_press(Key::End);
    harness.run();
    harness.event(Event::Text("s".to_owned()));
    harness.run();
    harness.key_press(Key::Escape);
    harness.run();
    harness.run();
    let edited = only(&harness);
    assert_eq!(edited.id, text.id);
    assert_eq!(edited.data.text, "Hello\nboards");
}

#[test]
fn select_click_rubber_band_shift_add_delete_and_duplicate() {
    let mut harness = scene(Tool::Rectangle);
    for x in [100.0, 300.0, 500.0] {
        support::drag(
            &mut harness,
            pos2(x, 100.0),
            pos2(x + 100.0, 200.0),
            DRAG_STEPS,
        );
    }
    let ids: Vec<ObjectId> = objects(&harness).iter().map(|o| o.id).collect();
    harness.state_mut().tools.tool = Tool::Select;
    harness.run();

    // A click on an edge picks one; a click on nothing lets go.
    support::click(&mut harness, pos2(100.0, 150.0));
    let selected =
        |h: &Harness<'_, Scene>| -> Vec<ObjectId> { h.state().canvas.selection().ids().collect() };
    assert_eq!(selected(&harness), vec![ids[0]]);
    support::click(&mut harness, pos2(150.0, 400.0));
    assert!(selected(&harness).is_empty());

    // A rubber band around the first two, then shift-click the third.
    support::drag(
        &mut harness,
        pos2(80.0, 80.0),
        pos2(420.0, 220.0),
        DRAG_STEPS,
    );
    let mut two = vec![ids[0], ids[1]];
    two.sort();
    assert_eq!(selected(&harness), two);
    with_shift(&mut harness, |h| support::click(h, pos2(600.0, 150.0)));
    assert_eq!(selected(&harness).len(), 3);

    // Ctrl+D copies all three, offset, and selects the copies.
    harness.key_press_modifiers(Modifiers::COMMAND, Key::D);
    harness.run();
    assert_eq!(harness.state().board.object_count(), 6);
    let copies = selected(&harness);
    assert!(copies.iter().all(|id| !ids.contains(id)));

    // Delete removes the copies only.
    harness.key_press(Key::Delete);
    harness.run();
    let left: Vec<ObjectId> = objects(&harness).iter().map(|o| o.id).collect();
    assert_eq!(left, ids);
}

#[test]
fn a_handle_resizes_a_rectangle() {
    let mut harness = scene(Tool::Rectangle);
    support::drag(
        &mut harness,
        pos2(100.0, 100.0),
        pos2(200.0, 200.0),
        DRAG_STEPS,
    );
    harness.state_mut().tools.tool = Tool::Select;
    harness.run();
    support::click(&mut harness, pos2(100.0, 150.0));
    // Drag the bottom-right handle out.
    support::drag(
        &mut harness,
        pos2(200.0, 200.0),
        pos2(260.0, 240.0),
        DRAG_STEPS,
    );
    let rect = only(&harness);
    let frame = rect.frame();
    assert!(
        near(frame.min, at(&harness, pos2(100.0, 100.0))),
        "{frame:?}"
    );
    assert!(
        near(frame.max, at(&harness, pos2(260.0, 240.0))),
        "{frame:?}"
    );
}
