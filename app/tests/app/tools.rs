//! Headless tests of each tool: a drag or a click sequence on the canvas makes
//! the right object (or selection, or deletion), with undo where it applies.
//! The canvas runs against a plain `Board` and a `History`, as the session
//! would drive them.

use egui::{Event, Key, Modifiers, Pos2, pos2};
use egui_kittest::Harness;
use tabula_app::canvas::tools::{NOTE_PALETTE, NOTE_SIDE, Tool, ToolSettings};
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

/// A double-click at `p` (screen), as a person makes one.
fn double_click(harness: &mut Harness<'_, Scene>, p: Pos2) {
    harness.hover_at(p);
    harness.run();
    for _ in 0..2 {
        harness.drag_at(p);
        harness.run();
        harness.event(Event::PointerButton {
            pos: p,
            button: egui::PointerButton::Primary,
            pressed: false,
            modifiers: Modifiers::NONE,
        });
        harness.run();
    }
}

/// Types `text` into the editor that has the keyboard.
fn type_text(harness: &mut Harness<'_, Scene>, text: &str) {
    harness.event(Event::Text(text.to_owned()));
    harness.run();
}

/// Ends typing: the editor lets go of the keyboard and makes its op.
fn stop_typing(harness: &mut Harness<'_, Scene>) {
    harness.key_press(Key::Escape);
    harness.run();
    harness.run();
    assert!(harness.state().canvas.editor().is_none());
}

#[test]
fn a_click_sticks_a_note_to_type_on_and_undo_takes_it_back() {
    let mut harness = scene(Tool::Note);
    support::click(&mut harness, pos2(300.0, 250.0));
    let editor = harness
        .state()
        .canvas
        .editor()
        .expect("an editor on the note");
    assert!(editor.is_note());
    type_text(&mut harness, "Plan the launch");
    // Nothing goes out while typing.
    assert_eq!(harness.state().board.object_count(), 0);
    stop_typing(&mut harness);
    let note = only(&harness);
    assert_eq!(note.data.kind, ObjectKind::Note);
    assert_eq!(note.data.text, "Plan the launch");
    assert_eq!(note.data.color, NOTE_PALETTE[0].color);
    let frame = note.frame();
    assert!(
        near(frame.center(), at(&harness, pos2(300.0, 250.0))),
        "{frame:?}"
    );
    assert!(
        (frame.width() - NOTE_SIDE).abs() < 1.0e-3 && (frame.height() - NOTE_SIDE).abs() < 1.0e-3
    );
    // One action: one undo takes the note back, one redo brings it again.
    assert_eq!(harness.state().actions.len(), 1);
    let scene = harness.state_mut();
    scene.history.undo(&mut scene.board, scene.me);
    assert_eq!(scene.board.object_count(), 0);
    scene.history.redo(&mut scene.board, scene.me);
    assert_eq!(only(&harness).data.text, "Plan the launch");

    // A click with the note tool on the note edits it rather than sticking
    // another; emptied, it stays, blank.
    support::click(&mut harness, pos2(320.0, 260.0));
    assert!(
        harness
            .state()
            .canvas
            .editor()
            .is_some_and(|e| e.object == Some(note.id))
    );
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness.run();
    harness.key_press(Key::Backspace);
    harness.run();
    stop_typing(&mut harness);
    assert_eq!(only(&harness).data.text, "");

    // Left blank, a new note is stuck all the same, in the colour chosen.
    harness.state_mut().tools.note_color = NOTE_PALETTE[5].color;
    support::click(&mut harness, pos2(600.0, 250.0));
    stop_typing(&mut harness);
    let notes = objects(&harness);
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[1].data.color, NOTE_PALETTE[5].color);
    assert_eq!(notes[1].data.text, "");
}

#[test]
fn a_double_click_edits_a_note_and_its_handles_resize_it_square_or_free_with_shift() {
    let mut harness = scene(Tool::Note);
    support::click(&mut harness, pos2(300.0, 250.0));
    type_text(&mut harness, "Ship it");
    stop_typing(&mut harness);
    let note = only(&harness);

    // Double-click with the select tool: the editor opens on it.
    harness.state_mut().tools.tool = Tool::Select;
    harness.run();
    double_click(&mut harness, pos2(300.0, 250.0));
    assert!(
        harness
            .state()
            .canvas
            .editor()
            .is_some_and(|e| e.object == Some(note.id)),
        "double-click edits the note"
    );
    harness.key_press(Key::End);
    harness.run();
    type_text(&mut harness, " on Friday");
    stop_typing(&mut harness);
    let edited = only(&harness);
    assert_eq!(
        (edited.id, edited.data.text.as_str()),
        (note.id, "Ship it on Friday")
    );

    // Selected, its bottom-right handle dragged further right than down:
    // it stays square, following the farther.
    support::click(&mut harness, pos2(300.0, 250.0));
    assert_eq!(
        harness.state().canvas.selection().ids().collect::<Vec<_>>(),
        vec![note.id]
    );
    support::drag(
        &mut harness,
        pos2(400.0, 350.0),
        pos2(500.0, 400.0),
        DRAG_STEPS,
    );
    let frame = only(&harness).frame();
    assert!(
        near(frame.min, at(&harness, pos2(200.0, 150.0))),
        "{frame:?}"
    );
    assert!(
        near(frame.max, at(&harness, pos2(500.0, 450.0))),
        "{frame:?}"
    );
    // With shift, each side on its own.
    with_shift(&mut harness, |h| {
        support::drag(h, pos2(500.0, 450.0), pos2(560.0, 470.0), DRAG_STEPS);
    });
    let frame = only(&harness).frame();
    assert!(
        near(frame.max, at(&harness, pos2(560.0, 470.0))),
        "{frame:?}"
    );

    // Moved, duplicated and deleted like anything else.
    support::drag(
        &mut harness,
        pos2(300.0, 250.0),
        pos2(340.0, 270.0),
        DRAG_STEPS,
    );
    let moved = only(&harness);
    assert!(near(moved.frame().min, at(&harness, pos2(240.0, 170.0))));
    harness.key_press_modifiers(Modifiers::COMMAND, Key::D);
    harness.run();
    let both = objects(&harness);
    assert_eq!(both.len(), 2);
    assert_eq!(both[1].data.kind, ObjectKind::Note);
    assert_eq!(both[1].data.text, "Ship it on Friday");
    harness.key_press(Key::Delete);
    harness.run();
    assert_eq!(only(&harness).id, note.id);
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
