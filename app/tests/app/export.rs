//! Export: the PNG has the board's size and ink where the objects are, at 1× and
//! 2×; the SVG parses and has one element per object; a stroke follows the
//! board's curve in both; the export dialog exports on its own thread,
//! showing how far it is, and names the file it could not write.

use egui::{Pos2, pos2};
use tabula_app::export::{self, BACKGROUND, MARGIN, png, svg};
use tabula_app::outline::Curve;
use tabula_shared::object::{DEFAULT_FONT_SIZE, Fill, ObjectData, ObjectKind};
use tabula_shared::{
    Board, ClientId, Color, Object, ObjectId, Op, OpKind, Point, StrokeId, StrokeStyle,
};

const RED: Color = Color::rgb(0xe0, 0x31, 0x31);
const BLUE: Color = Color::rgb(0x19, 0x71, 0xc2);

fn data(kind: ObjectKind, points: Vec<Point>, color: Color, fill: Fill, text: &str) -> ObjectData {
    ObjectData {
        kind,
        points,
        color,
        width: 4.0,
        fill,
        text: text.to_owned(),
        font_size: DEFAULT_FONT_SIZE,
    }
}

/// A solid red box at (0, 0)–(100, 50), a blue ellipse, a stroke, a line, an
/// arrow and two lines of text below them.
fn board() -> Board {
    let me = ClientId::random();
    let mut board = Board::new();
    let p = Point::new;
    let shapes = [
        data(
            ObjectKind::Rectangle,
            vec![p(0.0, 0.0), p(100.0, 50.0)],
            RED,
            Fill::Solid,
            "",
        ),
        data(
            ObjectKind::Ellipse,
            vec![p(150.0, 0.0), p(250.0, 50.0)],
            BLUE,
            Fill::Translucent,
            "",
        ),
        data(
            ObjectKind::Line,
            vec![p(0.0, 70.0), p(100.0, 70.0)],
            BLUE,
            Fill::None,
            "",
        ),
        data(
            ObjectKind::Arrow,
            vec![p(110.0, 25.0), p(145.0, 25.0)],
            RED,
            Fill::None,
            "",
        ),
        data(
            ObjectKind::Text,
            vec![p(0.0, 90.0)],
            Color::rgb(0, 0, 0),
            Fill::None,
            "Tabula & <friends>\nsecond line",
        ),
    ];
    for data in shapes {
        let object = ObjectId::random();
        board.apply_local(me, Op::new(OpKind::Create { object, data }));
    }
    let stroke = StrokeId::random();
    board.apply_local(
        me,
        Op::new(OpKind::StrokeBegin {
            stroke,
            style: StrokeStyle {
                color: RED,
                width: 3.0,
            },
            start: p(200.0, 80.0),
        }),
    );
    board.apply_local(
        me,
        Op::new(OpKind::StrokeAppend {
            stroke,
            points: vec![p(220.0, 100.0), p(240.0, 80.0)],
        }),
    );
    board
}

fn decode(png: &[u8]) -> tiny_skia::Pixmap {
    tiny_skia::Pixmap::decode_png(png).expect("a PNG")
}

/// The pixel at canvas point `p` of a picture of `area` at `scale`.
fn pixel(pixmap: &tiny_skia::Pixmap, area: tabula_shared::Rect, scale: f32, p: Point) -> [u8; 4] {
    let x = ((p.x - area.min.x) * scale) as u32;
    let y = ((p.y - area.min.y) * scale) as u32;
    let c = pixmap.pixel(x, y).expect("inside the picture");
    [c.red(), c.green(), c.blue(), c.alpha()]
}

fn background() -> [u8; 4] {
    [BACKGROUND.r, BACKGROUND.g, BACKGROUND.b, 255]
}

#[test]
fn the_png_has_the_boards_size_and_ink_where_the_objects_are() {
    let board = board();
    let objects: Vec<&Object> = board.objects().collect();
    let area = board.content_bounds().unwrap().expand(MARGIN);
    for scale in [1.0, 2.0] {
        let pixmap = decode(&png::encode(&objects, scale).unwrap());
        assert_eq!(
            (pixmap.width(), pixmap.height()),
            export::pixel_size(area, scale)
        );
        assert_eq!(
            pixmap.width(),
            ((area.width()) * scale).ceil() as u32,
            "{scale}×"
        );
        // Inside the solid red box: red.
        assert_eq!(
            pixel(&pixmap, area, scale, Point::new(50.0, 25.0)),
            [RED.r, RED.g, RED.b, 255]
        );
        // The margin's corner and the empty gap under the box: paper.
        assert_eq!(pixel(&pixmap, area, scale, area.min), background());
        assert_eq!(
            pixel(&pixmap, area, scale, Point::new(50.0, 60.0)),
            background()
        );
        // On the line, on the stroke, in the ellipse's translucent inside: ink.
        for p in [
            Point::new(50.0, 70.0),
            Point::new(220.0, 99.0),
            Point::new(200.0, 25.0),
        ] {
            assert_ne!(pixel(&pixmap, area, scale, p), background(), "{p:?}");
        }
        // The text is drawn: some pixel of its first line is dark.
        let dark = (0..120).any(|x| {
            (92..115).any(|y| {
                let [r, g, b, _] = pixel(&pixmap, area, scale, Point::new(x as f32, y as f32));
                u32::from(r) + u32::from(g) + u32::from(b) < 200
            })
        });
        assert!(dark, "no text at {scale}×");
    }
}

#[test]
fn a_selection_exports_only_its_area() {
    let board = board();
    let boxes: Vec<&Object> = board
        .objects()
        .filter(|o| o.data.kind == ObjectKind::Rectangle)
        .collect();
    let pixmap = decode(&png::encode(&boxes, 1.0).unwrap());
    assert_eq!(
        (pixmap.width(), pixmap.height()),
        (100 + 4 + 2 * MARGIN as u32, 50 + 4 + 2 * MARGIN as u32)
    );
    assert!(matches!(
        png::encode(&[], 1.0),
        Err(export::ExportError::Empty)
    ));
}

#[test]
fn the_svg_parses_with_one_element_per_object() {
    let board = board();
    let objects: Vec<&Object> = board.objects().collect();
    let svg = svg::encode(&objects).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let elements: Vec<&str> = root
        .children()
        .filter(roxmltree::Node::is_element)
        .map(|n| n.tag_name().name())
        .collect();
    // The ellipse is a path: the board's curve for it.
    assert_eq!(
        elements,
        vec!["rect", "path", "line", "path", "text", "path"]
    );
    let text = root.descendants().find(|n| n.has_tag_name("text")).unwrap();
    let lines: Vec<&str> = text.children().filter_map(|n| n.text()).collect();
    assert_eq!(lines, vec!["Tabula & <friends>", "second line"]);
    let rect = root.descendants().find(|n| n.has_tag_name("rect")).unwrap();
    assert_eq!(rect.attribute("fill"), Some("#e03131"));
    assert_eq!(rect.attribute("width"), Some("100"));
}

/// Makes a named pipe at `path`: writing a file there waits until someone
/// reads it, so an export to it is caught in the act.
fn pipe(path: &std::path::Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", path.display());
}

#[test]
fn the_export_dialog_exports_off_the_ui_thread_showing_how_far_it_is() {
    use egui::accesskit::Role;
    use egui_kittest::kittest::Queryable as _;
    use tabula_app::session::Session;

    use crate::support::{app, eventually, identity, window};

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("slow.svg");
    pipe(&target);
    let mut session = Session::offline(identity("Ann"));
    let drawn = board();
    for object in drawn.objects() {
        session.perform(vec![Op::new(OpKind::Create {
            object: ObjectId::random(),
            data: object.data.clone(),
        })]);
    }
    let mut harness = window(app(session));
    harness.get_by_label("Export…").click();
    harness.run();
    harness.get_by_label("SVG").click();
    harness.run();
    harness
        .get_by_role(Role::TextInput)
        .set_text_value_accesskit(&target.display().to_string());
    harness.run();
    harness
        .get_by_role_and_label(Role::Button, "Export")
        .click();
    // The export thread waits for the pipe to be read; the window does not.
    eventually("the dialog shows the export writing", || {
        harness.step();
        harness
            .query_by_label_contains("Exporting slow.svg… Writing the file")
            .map(|_| ())
    });
    harness.get_by_role_and_label(Role::Button, "Cancel");
    assert!(
        harness
            .query_by_role_and_label(Role::Button, "Close")
            .is_none(),
        "the dialog stays while it runs"
    );
    assert!(harness.state().export_dialog().running().is_some());
    harness.step();
    harness.get_by_label_contains("Exporting slow.svg");

    let svg = std::fs::read_to_string(&target).expect("the pipe is read");
    eventually("the dialog says it is saved", || {
        harness.step();
        harness.query_by_label_contains("Saved").map(|_| ())
    });
    assert!(harness.state().export_dialog().running().is_none());
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let elements = doc
        .root_element()
        .children()
        .filter(roxmltree::Node::is_element)
        .count();
    assert_eq!(elements, drawn.objects().count());
}

#[test]
fn an_export_that_cannot_be_written_names_the_file() {
    use egui::accesskit::Role;
    use egui_kittest::kittest::Queryable as _;
    use tabula_app::session::Session;

    use crate::support::{app, eventually, identity, window};

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("no such folder").join("board.png");
    let mut session = Session::offline(identity("Ann"));
    session.perform(vec![Op::new(OpKind::Create {
        object: ObjectId::random(),
        data: data(
            ObjectKind::Rectangle,
            vec![Point::new(0.0, 0.0), Point::new(10.0, 10.0)],
            RED,
            Fill::Solid,
            "",
        ),
    })]);
    let mut harness = window(app(session));
    harness.get_by_label("Export…").click();
    harness.run();
    harness
        .get_by_role(Role::TextInput)
        .set_text_value_accesskit(&target.display().to_string());
    harness.run();
    harness
        .get_by_role_and_label(Role::Button, "Export")
        .click();
    let said = format!("Could not export {}: could not write it", target.display());
    eventually("the dialog says why, naming the file", || {
        harness.step();
        harness.query_by_label_contains(&said).map(|_| ())
    });
}

/// The object made of `data`, with no offset.
fn object(data: ObjectData) -> Object {
    Object {
        id: ObjectId::random(),
        author: ClientId::random(),
        data,
        offset: Point::default(),
        layer: 0,
        finished: true,
        deleted: false,
    }
}

/// A black stroke through five points on the top half of a circle of radius 80
/// around (100, 100): a line through the points would cut 6 units inside the
/// circle between them, where the curve stays on it.
fn arc_stroke() -> Object {
    let points = (0..5)
        .map(|i| {
            let angle = std::f32::consts::PI * (1.0 + i as f32 / 4.0);
            Point::new(100.0 + 80.0 * angle.cos(), 100.0 + 80.0 * angle.sin())
        })
        .collect();
    let mut data = data(
        ObjectKind::Freehand,
        points,
        Color::rgb(0, 0, 0),
        Fill::None,
        "",
    );
    data.width = 4.0;
    object(data)
}

#[test]
fn a_png_stroke_follows_the_boards_curve_not_a_line_through_its_points() {
    let stroke = arc_stroke();
    let area = stroke.bounds().expand(MARGIN);
    let pixmap = decode(&png::encode(&[&stroke], 1.0).unwrap());
    let curve = Curve::stroke(stroke.points().map(|p| pos2(p.x, p.y))).unwrap();
    let inked = |p: Pos2| pixel(&pixmap, area, 1.0, Point::new(p.x, p.y)) != background();
    for piece in &curve.pieces {
        for k in 0..=20 {
            let t = k as f32 / 20.0;
            let on = piece.at(t);
            assert!(inked(on), "nothing drawn on the curve at {on:?}");
            // 3 units clear of the stroke's edge on either side: paper.
            let normal = (piece.at((t + 0.01).min(1.0)) - piece.at((t - 0.01).max(0.0)))
                .normalized()
                .rot90();
            for side in [-1.0, 1.0] {
                let off = on + normal * side * (2.0 + 3.0);
                assert!(!inked(off), "ink off the curve at {off:?}");
            }
        }
    }
    // Where a line through the points would pass, 6 units inside the circle
    // (between the inner points: the end pieces head for mirrored neighbours
    // and bend less): paper.
    for piece in &curve.pieces[1..curve.pieces.len() - 1] {
        let chord = piece.from + (piece.to - piece.from) * 0.5;
        assert!(!inked(chord), "ink on the chord at {chord:?}");
    }
}

#[test]
fn an_svg_stroke_is_a_path_of_cubic_pieces() {
    let board = board();
    let objects: Vec<&Object> = board.objects().collect();
    let svg = svg::encode(&objects).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    // The stroke is on top: the last element.
    let stroke = doc
        .root_element()
        .children()
        .rfind(roxmltree::Node::is_element)
        .unwrap();
    assert_eq!(stroke.tag_name().name(), "path");
    let d = stroke.attribute("d").unwrap();
    assert!(d.starts_with('M'), "{d}");
    assert_eq!(d.matches('C').count(), 2, "a cubic per pair of points: {d}");
    assert!(!d.contains('L'), "no straight pieces: {d}");
    assert_eq!(stroke.attribute("fill"), Some("none"));
    assert_eq!(stroke.attribute("stroke-width"), Some("3"));
    assert_eq!(stroke.attribute("stroke-linecap"), Some("round"));
    assert_eq!(stroke.attribute("stroke-linejoin"), Some("round"));
}
