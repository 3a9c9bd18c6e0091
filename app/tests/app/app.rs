//! Headless tests of the whole window: the app on a session whose network task is
//! replaced by a detached connection, so the test sees what would go to the relay
//! and can play the relay's events back.

use egui::accesskit::Role;
use egui::{Key, Modifiers, pos2, vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use tabula_app::app::TabulaApp;
use tabula_app::net::connection::{Connection, Remote};
use tabula_app::net::{Command, ConnectionStatus, Event};
use tabula_app::session::{Identity, Session};
use tabula_shared::{ClientId, Color, OpKind, PeerInfo, Point};

use crate::support::{self, app, window};

/// The frames a drag takes to get from where it starts to where it ends.
const DRAG_STEPS: usize = 15;

fn me() -> Identity {
    support::identity("Ada")
}

/// The app and the far end of its connection.
struct Rig {
    /// The app in a headless window.
    harness: Harness<'static, TabulaApp>,
    /// Stands in for the network task: sees the commands, sends the events.
    remote: Remote,
}

fn connected_rig() -> Rig {
    let (connection, remote) = Connection::detached();
    let harness = window(app(Session::with_connection(me(), connection)));
    Rig { harness, remote }
}

fn sent(remote: &mut Remote) -> Vec<Command> {
    std::iter::from_fn(|| remote.commands.try_recv().ok()).collect()
}

#[test]
fn a_drag_on_the_window_draws_and_goes_to_the_relay() {
    let mut rig = connected_rig();
    let (from, to) = (pos2(200.0, 300.0), pos2(600.0, 500.0));
    let canvas_from_screen = {
        let canvas = rig.harness.state().canvas();
        canvas.camera().canvas_from_screen(canvas.viewport())
    };
    support::drag(&mut rig.harness, from, to, DRAG_STEPS);

    let board = rig.harness.state().session().board();
    assert_eq!(board.object_count(), 1);
    let stroke = board.objects().next().unwrap();
    let start = canvas_from_screen * from;
    let end = canvas_from_screen * to;
    assert_eq!(stroke.data.points[0], Point::new(start.x, start.y));
    assert_eq!(
        *stroke.data.points.last().unwrap(),
        Point::new(end.x, end.y)
    );

    let commands = sent(&mut rig.remote);
    let ops: Vec<&OpKind> = commands
        .iter()
        .filter_map(|c| match c {
            Command::Send(op) => Some(&op.kind),
            _ => None,
        })
        .collect();
    assert!(
        matches!(ops.first(), Some(OpKind::StrokeBegin { .. })),
        "{ops:?}"
    );
    assert!(
        matches!(ops.last(), Some(OpKind::StrokeEnd { .. })),
        "{ops:?}"
    );
    let appended: usize = ops
        .iter()
        .map(|k| match k {
            OpKind::StrokeAppend { points, .. } => points.len(),
            _ => 0,
        })
        .sum();
    // Every point but the start travelled in an append.
    assert_eq!(appended, stroke.data.points.len() - 1);
    assert!(ops.iter().all(|k| k.object() == Some(stroke.id)));
    // The pointer went along too, in canvas coordinates.
    let end = Some(Point::new(end.x, end.y));
    assert!(
        commands
            .iter()
            .any(|c| matches!(c, Command::Presence(p) if p.cursor == end)),
        "{commands:?}"
    );
}

#[test]
fn peers_and_their_pointers_show() {
    let mut rig = connected_rig();
    let bob = PeerInfo {
        client: ClientId::random(),
        name: "Bob".to_owned(),
        color: Color::rgb(0x19, 0x71, 0xc2),
    };
    for event in [
        Event::Status(ConnectionStatus::Connected),
        support::welcome("demo", vec![bob.clone()]),
        Event::Cursor {
            client: bob.client,
            position: Some(Point::new(300.0, 200.0)),
        },
    ] {
        rig.remote.events.send(event).unwrap();
    }
    rig.harness.run();
    let harness = &rig.harness;
    harness.get_by_label("Connected");
    harness.get_by_label("Ada");
    harness.get_by_label("Bob");
    harness.get_by_role_and_label(Role::Button, "Leave");
    // The pointer's name tag is painted on the board, besides the people list.
    let tags = harness
        .output()
        .shapes
        .iter()
        .filter(|s| match &s.shape {
            egui::Shape::Text(text) => text.galley.text() == "Bob",
            _ => false,
        })
        .count();
    assert_eq!(tags, 2, "expected Bob in the list and on the board");

    rig.remote
        .events
        .send(Event::Status(ConnectionStatus::Refused(
            "room is full".to_owned(),
        )))
        .unwrap();
    rig.harness.run();
    rig.harness.get_by_label("Refused: room is full");
    rig.harness.get_by_role_and_label(Role::Button, "Join…");
}

#[test]
fn zoom_buttons_and_keys_drive_the_camera() {
    let mut harness = window(app(Session::offline(me())));
    let zoom = |h: &Harness<'_, TabulaApp>| h.state().canvas().camera().zoom;
    harness.get_by_label("+").click();
    harness.run();
    assert!((zoom(&harness) - 1.25).abs() < 1.0e-4, "{}", zoom(&harness));
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Plus);
    harness.run();
    assert!((zoom(&harness) - 1.5625).abs() < 1.0e-4);
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Minus);
    harness.run();
    assert!((zoom(&harness) - 1.25).abs() < 1.0e-4);
    harness.key_press(Key::Num0);
    harness.run();
    assert!((zoom(&harness) - 1.0).abs() < 1.0e-4);
    harness.get_by_label("100%");

    // Fit brings a far-away drawing into view.
    support::drag(
        &mut harness,
        pos2(300.0, 300.0),
        pos2(900.0, 600.0),
        DRAG_STEPS,
    );
    harness.get_by_label("−").click();
    harness.run();
    harness.get_by_label("−").click();
    harness.run();
    harness.key_press(Key::Home);
    harness.run();
    let canvas = harness.state().canvas();
    let content = harness.state().session().board().content_bounds().unwrap();
    let on_screen = canvas.camera().screen_from_canvas(canvas.viewport())
        * egui::Rect::from_min_max(
            pos2(content.min.x, content.min.y),
            pos2(content.max.x, content.max.y),
        );
    assert!(canvas.viewport().contains_rect(on_screen), "{on_screen:?}");
    assert!((on_screen.center() - canvas.viewport().center()).length() < 1.0);
}

#[test]
fn the_join_dialog_checks_the_room_and_cancels_with_escape() {
    let mut harness = window(app(Session::offline(me())));
    harness.get_by_label("Offline");
    harness.get_by_role_and_label(Role::Button, "Join…").click();
    harness.run();
    assert!(harness.state().is_join_dialog_open());
    // The name is filled in; the room field has the keyboard.
    let fields: Vec<String> = harness
        .query_all_by_role(Role::TextInput)
        .filter_map(|field| field.value())
        .collect();
    assert_eq!(fields, ["ws://127.0.0.1:7457", "", "Ada"]);
    harness.type_text_into_focused("no spaces");
    harness.run();
    harness.get_by_label_contains("may hold only letters");
    // Enter does not join with a bad room.
    harness.key_press(Key::Enter);
    harness.run();
    assert!(harness.state().is_join_dialog_open());
    assert_eq!(
        harness.state().session().status(),
        &ConnectionStatus::Offline
    );
    harness.key_press(Key::Escape);
    harness.run();
    assert!(!harness.state().is_join_dialog_open());
}

#[test]
fn the_join_dialog_joins_under_the_name_given() {
    let mut harness = window(app(Session::offline(me())));
    let client = harness.state().session().me().client;
    harness.get_by_role_and_label(Role::Button, "Join…").click();
    harness.run();
    harness.type_text_into_focused("design-review");
    harness.run();
    // Replace the name.
    harness
        .query_all_by_role(Role::TextInput)
        .nth(2)
        .unwrap()
        .focus();
    harness.run();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness.type_text_into_focused("Grace");
    harness.run();
    harness.key_press(Key::Enter);
    harness.run();

    let app = harness.state();
    assert!(!app.is_join_dialog_open());
    let session = app.session();
    assert_eq!(
        session.room_url(),
        Some("ws://127.0.0.1:7457/design-review")
    );
    assert_eq!(session.status(), &ConnectionStatus::Connecting);
    assert_eq!(session.me().name, "Grace");
    assert_eq!(session.me().client, client, "renaming keeps the client id");
    harness.get_by_label("Connecting…");
}

/// Typing helpers the harness lacks.
trait TypeText {
    fn type_text_into_focused(&mut self, text: &str);
}

impl TypeText for Harness<'_, TabulaApp> {
    fn type_text_into_focused(&mut self, text: &str) {
        self.event(egui::Event::Text(text.to_owned()));
    }
}

/// The ops the app sent to the relay, in order.
fn sent_ops(remote: &mut Remote) -> Vec<OpKind> {
    sent(remote)
        .into_iter()
        .filter_map(|c| match c {
            Command::Send(op) => Some(op.kind),
            _ => None,
        })
        .collect()
}

#[test]
fn select_move_undo_redo_round_trip_through_the_keyboard() {
    let mut rig = connected_rig();
    let harness = &mut rig.harness;
    harness.key_press(Key::R);
    harness.run();
    support::drag(harness, pos2(300.0, 300.0), pos2(500.0, 450.0), DRAG_STEPS);
    let board = harness.state().session().board();
    let rect = board.objects().next().expect("a rectangle").clone();
    assert_eq!(rect.data.kind, tabula_shared::ObjectKind::Rectangle);

    harness.key_press(Key::V);
    harness.run();
    // Grab the left edge and move the box 100 to the right.
    support::drag(harness, pos2(300.0, 380.0), pos2(400.0, 380.0), DRAG_STEPS);
    let moved = |h: &Harness<'_, TabulaApp>| {
        h.state()
            .session()
            .board()
            .object(rect.id)
            .expect("still there")
            .offset
    };
    assert_eq!(moved(harness), Point::new(100.0, 0.0));

    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    harness.run();
    assert_eq!(moved(harness), Point::new(0.0, 0.0), "undo puts it back");
    harness.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    harness.run();
    assert_eq!(
        moved(harness),
        Point::new(100.0, 0.0),
        "redo moves it again"
    );
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    harness.run();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    harness.run();
    assert!(
        harness.state().session().board().object(rect.id).is_none(),
        "undoing the create removes it"
    );
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Y);
    harness.run();
    assert!(harness.state().session().board().object(rect.id).is_some());

    // Every step went to the relay as an ordinary op.
    let ops = sent_ops(&mut rig.remote);
    let offset = |k: &OpKind| match k {
        OpKind::Set {
            property: tabula_shared::Property::Offset(p),
            ..
        } => Some(*p),
        _ => None,
    };
    let offsets: Vec<Point> = ops.iter().filter_map(offset).collect();
    assert_eq!(
        offsets,
        vec![
            Point::new(100.0, 0.0),
            Point::new(0.0, 0.0),
            Point::new(100.0, 0.0),
            Point::new(0.0, 0.0)
        ]
    );
    assert!(matches!(ops.first(), Some(OpKind::Create { .. })));
    assert!(
        ops.iter()
            .any(|k| matches!(k, OpKind::Delete { object } if *object == rect.id))
    );
    assert!(matches!(ops.last(), Some(OpKind::Restore { .. })));
}

#[test]
fn clearing_the_board_asks_first_and_can_be_undone() {
    let mut rig = connected_rig();
    let harness = &mut rig.harness;
    support::drag(harness, pos2(300.0, 300.0), pos2(500.0, 450.0), DRAG_STEPS);
    assert_eq!(harness.state().session().board().object_count(), 1);

    harness.get_by_label("Clear board").click();
    harness.run();
    harness.get_by_label("Clear the board?");
    harness
        .get_by_role_and_label(Role::Button, "Cancel")
        .click();
    harness.run();
    assert_eq!(harness.state().session().board().object_count(), 1);

    harness.get_by_label("Clear board").click();
    harness.run();
    harness
        .get_by_role_and_label(Role::Button, "Clear everything")
        .click();
    harness.run();
    assert_eq!(harness.state().session().board().object_count(), 0);
    assert!(
        sent_ops(&mut rig.remote)
            .iter()
            .any(|k| matches!(k, OpKind::Clear))
    );
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    harness.run();
    assert_eq!(harness.state().session().board().object_count(), 1);
}

#[test]
fn the_export_dialog_writes_an_svg_of_the_board() {
    let mut rig = connected_rig();
    let harness = &mut rig.harness;
    harness.key_press(Key::R);
    harness.run();
    support::drag(harness, pos2(300.0, 300.0), pos2(500.0, 450.0), DRAG_STEPS);
    harness.key_press(Key::O);
    harness.run();
    support::drag(harness, pos2(600.0, 300.0), pos2(700.0, 450.0), DRAG_STEPS);

    let target = std::env::temp_dir().join(format!("tabula-export-{}", std::process::id()));
    harness.get_by_label("Export…").click();
    harness.run();
    harness.get_by_label("SVG").click();
    harness.run();
    let field = harness.get_by_role(Role::TextInput);
    field.set_text_value_accesskit(&target.display().to_string());
    harness.run();
    harness
        .get_by_role_and_label(Role::Button, "Export")
        .click();
    // Written on the export thread; the dialog says so once it is done.
    support::eventually("the export is done", || {
        harness.step();
        harness.query_by_label_contains("Saved").map(|_| ())
    });
    let written = target.with_extension("svg");
    let svg = std::fs::read_to_string(&written).expect("the SVG was written");
    let _ = std::fs::remove_file(&written);
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let names: Vec<&str> = doc
        .root_element()
        .children()
        .filter(roxmltree::Node::is_element)
        .map(|n| n.tag_name().name())
        .collect();
    // The ellipse is a path: the board's curve for it.
    assert_eq!(names, vec!["rect", "path"]);
}

#[test]
fn the_style_panel_restyles_and_restacks_the_selection() {
    let mut rig = connected_rig();
    let harness = &mut rig.harness;
    harness.key_press(Key::R);
    harness.run();
    support::drag(harness, pos2(300.0, 300.0), pos2(500.0, 450.0), DRAG_STEPS);
    support::drag(harness, pos2(350.0, 350.0), pos2(550.0, 500.0), DRAG_STEPS);
    let ids: Vec<_> = harness
        .state()
        .session()
        .board()
        .objects()
        .map(|o| o.id)
        .collect();
    harness.key_press(Key::V);
    harness.run();
    // Pick the first (lower) box by its left edge.
    support::drag(harness, pos2(300.0, 320.0), pos2(300.0, 320.0), DRAG_STEPS);
    harness.get_by_label("Red").click();
    harness.run();
    harness.get_by_label("Solid fill").click();
    harness.run();
    harness.get_by_label("To front").click();
    harness.run();
    let board = harness.state().session().board();
    let first = board.object(ids[0]).unwrap();
    assert_eq!(
        first.data.color,
        tabula_app::canvas::tools::PALETTE[1].color
    );
    assert_eq!(first.data.fill, tabula_shared::Fill::Solid);
    let order: Vec<_> = board.objects().map(|o| o.id).collect();
    assert_eq!(order, vec![ids[1], ids[0]], "brought to the front");
    // The other box kept its style.
    assert_eq!(
        board.object(ids[1]).unwrap().data.color,
        tabula_app::canvas::tools::PALETTE[0].color
    );
    // Three undos take back the restack, the fill and the colour.
    for _ in 0..3 {
        harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
        harness.run();
    }
    let board = harness.state().session().board();
    let first = board.object(ids[0]).unwrap();
    assert_eq!(
        first.data.color,
        tabula_app::canvas::tools::PALETTE[0].color
    );
    assert_eq!(first.data.fill, tabula_shared::Fill::None);
    let order: Vec<_> = board.objects().map(|o| o.id).collect();
    assert_eq!(order, ids);
}

#[test]
fn copy_as_png_puts_the_picture_on_the_clipboard() {
    let mut rig = connected_rig();
    let harness = &mut rig.harness;
    harness.key_press(Key::R);
    harness.run();
    support::drag(harness, pos2(300.0, 300.0), pos2(500.0, 450.0), DRAG_STEPS);
    harness.get_by_label("Export…").click();
    harness.run();
    harness.get_by_label("PNG 2×").click();
    harness.run();
    harness.get_by_label("Copy as PNG").click();
    // Drawn on the export thread; the frame that takes it in copies it.
    let copied = support::eventually("an image is copied", || {
        harness.step();
        harness
            .output()
            .platform_output
            .commands
            .iter()
            .find_map(|c| match c {
                egui::OutputCommand::CopyImage(image) => Some(image.size),
                _ => None,
            })
    });
    // The box is 200 × 150 (plus its width and the margin), doubled.
    let side = |canvas: f32| ((canvas + 4.0 + 2.0 * tabula_app::export::MARGIN) * 2.0) as usize;
    assert_eq!(copied, [side(200.0), side(150.0)]);
}

#[test]
fn f12_toggles_the_frame_time_overlay() {
    let mut harness = window(app(Session::offline(me())));
    assert!(!harness.state().frame_stats().is_shown());
    assert!(harness.query_by_label_contains("canvas ").is_none());
    harness.key_press(Key::F12);
    // The overlay keeps repainting while it shows (its figures are live), so
    // the harness steps frames instead of waiting for it to settle.
    harness.run_steps(2);
    assert!(harness.state().frame_stats().is_shown());
    // The figures are the app's own measurements of the frame just built.
    let latest = harness
        .state()
        .frame_stats()
        .latest()
        .expect("a frame measured");
    assert!(latest.ui_ms >= latest.canvas_ms, "{latest:?}");
    harness.get_by_label_contains("canvas ");
    harness.key_press(Key::F12);
    harness.run_steps(2);
    assert!(!harness.state().frame_stats().is_shown());
    assert!(harness.query_by_label_contains("canvas ").is_none());
}

/// How many objects the canvas has selected.
fn selected(harness: &Harness<'_, TabulaApp>) -> usize {
    let app = harness.state();
    app.canvas().selection().ids().count()
}

/// Keys, the wheel, a pinch and a drag that would each change the board, the
/// selection or the camera if they reached the canvas.
fn try_the_canvas(harness: &mut Harness<'_, TabulaApp>) {
    for key in [Key::Delete, Key::Backspace] {
        harness.key_press(key);
        harness.run();
    }
    harness.key_press_modifiers(Modifiers::COMMAND, Key::D);
    harness.run();
    harness.hover_at(pos2(800.0, 650.0));
    harness.run();
    harness.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: vec2(-40.0, 25.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: Modifiers::NONE,
    });
    harness.run();
    harness.event(egui::Event::Zoom(2.0));
    harness.run();
    // A rubber band over empty board, which would let the selection go.
    support::drag(harness, pos2(800.0, 650.0), pos2(900.0, 700.0), DRAG_STEPS);
}

#[test]
fn a_modal_keeps_keys_wheel_and_pointer_from_the_canvas() {
    let mut rig = connected_rig();
    let harness = &mut rig.harness;
    harness.key_press(Key::R);
    harness.run();
    support::drag(harness, pos2(300.0, 300.0), pos2(500.0, 450.0), DRAG_STEPS);
    support::drag(harness, pos2(600.0, 300.0), pos2(700.0, 450.0), DRAG_STEPS);
    harness.key_press(Key::V);
    harness.run();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness.run();
    assert_eq!(selected(harness), 2);
    let count = |h: &Harness<'_, TabulaApp>| h.state().session().board().object_count();
    let camera = *harness.state().canvas().camera();
    let _ = sent_ops(&mut rig.remote);

    // The question before clearing: the board stays as it is underneath.
    harness.get_by_label("Clear board").click();
    harness.run();
    harness.get_by_label("Clear the board?");
    assert!(harness.state().canvas().is_covered());
    try_the_canvas(harness);
    harness.get_by_label("Clear the board?");
    assert_eq!(count(harness), 2);
    assert_eq!(selected(harness), 2);
    assert_eq!(*harness.state().canvas().camera(), camera);
    // Escape is the modal's: it closes, the selection stays.
    harness.key_press(Key::Escape);
    harness.run();
    assert!(harness.query_by_label("Clear the board?").is_none());
    assert_eq!(selected(harness), 2);

    // The export dialog, the same.
    harness.get_by_label("Export…").click();
    harness.run();
    assert!(harness.query_by_label("Copy as PNG").is_some());
    try_the_canvas(harness);
    assert!(harness.query_by_label("Copy as PNG").is_some());
    assert_eq!(count(harness), 2);
    assert_eq!(selected(harness), 2);
    assert_eq!(*harness.state().canvas().camera(), camera);
    harness.key_press(Key::Escape);
    harness.run();
    assert!(harness.query_by_label("Copy as PNG").is_none());
    assert!(!harness.state().is_modal_open());
    assert!(!harness.state().canvas().is_covered());
    assert_eq!(selected(harness), 2);
    assert_eq!(sent_ops(&mut rig.remote), [], "nothing went to the room");

    // With the modals gone, the canvas has its keys and wheel back.
    let harness = &mut rig.harness;
    harness.hover_at(pos2(800.0, 650.0));
    harness.run();
    harness.event(egui::Event::Zoom(2.0));
    harness.run();
    assert_ne!(*harness.state().canvas().camera(), camera);
    harness.key_press(Key::Delete);
    harness.run();
    assert_eq!(count(harness), 0);
    assert_eq!(selected(harness), 0);
}
