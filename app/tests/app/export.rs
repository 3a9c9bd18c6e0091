//! Export: the PNG has the board's size and ink where the objects are, at 1× and
//! 2×; the SVG parses and has one element per object; a stroke follows the
//! board's curve in both; a glyph the first font lacks is drawn from egui's
//! fallback font; a note is drawn from one layout on screen, in the PNG and
//! in the SVG; the export dialog exports on its own thread, showing how far
//! it is, and names the file it could not write.

use egui::{Pos2, pos2};
use tabula_app::export::{self, BACKGROUND, MARGIN, png, svg};
use tabula_app::outline::Curve;
use tabula_app::{note, text};
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
    // The ellipse and the text are paths: the board's curve, the glyphs'
    // outlines.
    assert_eq!(
        elements,
        vec!["rect", "path", "line", "path", "path", "path"]
    );
    let title = root
        .descendants()
        .find(|n| n.has_tag_name("title"))
        .unwrap();
    assert_eq!(title.text(), Some("Tabula & <friends>\nsecond line"));
    let rect = root.descendants().find(|n| n.has_tag_name("rect")).unwrap();
    assert_eq!(rect.attribute("fill"), Some("#e03131"));
    assert_eq!(rect.attribute("width"), Some("100"));
}

const YELLOW: Color = Color::rgb(0xff, 0xe5, 0x80);

/// A yellow note at (0, 0)–(200, 200), moved by (10, 20), with a sentence
/// on it.
fn note_object() -> Object {
    let mut note = object(data(
        ObjectKind::Note,
        vec![Point::new(0.0, 0.0), Point::new(200.0, 200.0)],
        YELLOW,
        Fill::None,
        "Ship the release on Friday",
    ));
    note.offset = Point::new(10.0, 20.0);
    note
}

#[test]
fn a_note_is_drawn_from_one_layout_in_the_png_and_in_the_svg() {
    let note = note_object();
    let layout = note::layout(&note);
    assert!(layout.lines.len() >= 2, "{layout:?}");
    let area = note.bounds().expand(MARGIN);

    // The PNG: paper to its edges, the shadow below it, the text dark on it.
    let pixmap = decode(&png::encode(&[&note], 1.0).unwrap());
    let yellow = [YELLOW.r, YELLOW.g, YELLOW.b, 255];
    for corner in [Point::new(12.0, 22.0), Point::new(208.0, 218.0)] {
        assert_eq!(pixel(&pixmap, area, 1.0, corner), yellow, "{corner:?}");
    }
    let [r, g, b, _] = pixel(&pixmap, area, 1.0, Point::new(110.0, 221.5));
    assert!(
        u32::from(r) + u32::from(g) + u32::from(b)
            < u32::from(BACKGROUND.r) + u32::from(BACKGROUND.g) + u32::from(BACKGROUND.b),
        "the shadow below the note"
    );
    assert_eq!(
        pixel(&pixmap, area, 1.0, Point::new(110.0, 226.0)),
        background()
    );
    let first = &layout.lines[0];
    let size = layout.font_size;
    let dark = (0..(size * 4.0) as u32).any(|dx| {
        (0..(size * 1.2) as u32).any(|dy| {
            let p = Point::new(first.top_left.x + dx as f32, first.top_left.y + dy as f32);
            let [r, g, b, _] = pixel(&pixmap, area, 1.0, p);
            u32::from(r) + u32::from(g) + u32::from(b) < 200
        })
    });
    assert!(dark, "no text on the note where its first line is");

    // The SVG: one group, with the text as its title, the paper, and the
    // glyphs within the paper.
    let svg = svg::encode(&[&note]).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let elements: Vec<roxmltree::Node<'_, '_>> = doc
        .root_element()
        .children()
        .filter(roxmltree::Node::is_element)
        .collect();
    assert_eq!(elements.len(), 1);
    let group = elements[0];
    assert_eq!(group.tag_name().name(), "g");
    let title = group.children().find(|n| n.has_tag_name("title")).unwrap();
    assert_eq!(title.text(), Some("Ship the release on Friday"));
    let paper = group.children().rfind(|n| n.has_tag_name("rect")).unwrap();
    assert_eq!(paper.attribute("fill"), Some("#ffe580"));
    assert_eq!(
        (paper.attribute("x"), paper.attribute("y")),
        (Some("10"), Some("20"))
    );
    assert_eq!(paper.attribute("width"), Some("200"));
    let glyphs = group.children().find(|n| n.has_tag_name("path")).unwrap();
    assert_eq!(glyphs.attribute("fill"), Some("#1e1e24"));
    let numbers: Vec<f32> = glyphs
        .attribute("d")
        .unwrap()
        .split(|c: char| c.is_ascii_whitespace() || c.is_ascii_alphabetic())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    for xy in numbers.chunks(2) {
        assert!(
            (10.0..=210.0).contains(&xy[0]) && (20.0..=220.0).contains(&xy[1]),
            "{xy:?}"
        );
    }
}

#[test]
fn a_note_is_drawn_on_screen_from_the_layout_the_exports_draw() {
    let note = note_object();
    let layout = note::layout(&note);
    // The paper where the PNG has it, each line where the layout puts it,
    // at the zoom.
    let screen_from_canvas = egui::emath::TSTransform::new(egui::vec2(30.0, -10.0), 2.0);
    let ctx = egui::Context::default();
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            Pos2::ZERO,
            egui::vec2(1200.0, 1200.0),
        )),
        ..egui::RawInput::default()
    };
    let mut output = ctx.run_ui(input, |ui| {
        tabula_app::canvas::render::paint_object(ui.painter(), screen_from_canvas, &note);
    });
    output.textures_delta.clear();
    let rects: Vec<egui::Rect> = output
        .shapes
        .iter()
        .filter_map(|clipped| match &clipped.shape {
            egui::Shape::Rect(rect) => Some(rect.rect),
            _ => None,
        })
        .collect();
    assert_eq!(rects.last(), Some(&(screen_from_canvas * layout.paper)));
    let texts: Vec<(Pos2, String)> = output
        .shapes
        .iter()
        .filter_map(|clipped| match &clipped.shape {
            egui::Shape::Text(text) => Some((text.pos, text.galley.text().to_owned())),
            _ => None,
        })
        .collect();
    let expected: Vec<(Pos2, String)> = layout
        .lines
        .iter()
        .map(|line| (screen_from_canvas * line.top_left, line.text.clone()))
        .collect();
    assert_eq!(texts, expected);
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

/// A text of `text` at (0, 0), 40 units high.
fn text_object(text: &str) -> Object {
    let mut data = data(
        ObjectKind::Text,
        vec![Point::new(0.0, 0.0)],
        Color::rgb(0, 0, 0),
        Fill::None,
        text,
    );
    data.font_size = 40.0;
    object(data)
}

#[test]
fn a_glyph_ubuntu_lacks_is_drawn_from_egui_s_fallback_font() {
    // U+2714 HEAVY CHECK MARK: not in Ubuntu Light; in Noto Emoji, egui's first
    // fallback that has it (emoji-icon-font, after it, has one too).
    let check = text_object("\u{2714}");
    let glyphs = text::layout("\u{2714}", Pos2::ZERO, 40.0);
    assert_eq!(glyphs.len(), 1);
    assert_eq!(text::font_name(glyphs[0].font), Some("NotoEmoji-Regular"));
    let (left, right) = (glyphs[0].origin.x, glyphs[0].origin.x + glyphs[0].advance);
    let (top, bottom) = (0.0, 40.0 * tabula_shared::object::LINE_HEIGHT_EM);

    // The PNG: in the glyph's box, ink where Noto Emoji's check mark is, drawn
    // here from the font file at the place and size the layout gives it.
    let area = check.bounds().expand(MARGIN);
    let exported = decode(&png::encode(&[&check], 1.0).unwrap());
    let expected = noto_glyph(
        '\u{2714}',
        glyphs[0].origin,
        glyphs[0].size,
        &exported,
        area,
    );
    let (mut inked, mut differ) = (0, 0);
    for y in top as u32..bottom as u32 {
        for x in left as u32..right as u32 {
            let p = Point::new(x as f32, y as f32);
            let here = pixel(&exported, area, 1.0, p) != background();
            inked += usize::from(here);
            differ += usize::from(here != (pixel(&expected, area, 1.0, p) != background()));
        }
    }
    assert!(inked > 50, "only {inked} pixels of the check mark inked");
    assert!(
        differ * 50 < inked,
        "{differ} of {inked} pixels unlike Noto Emoji's glyph"
    );

    // The SVG: the text's path has outlines inside the glyph's box, and says
    // what it reads.
    let svg = svg::encode(&[&check]).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let path = doc
        .descendants()
        .find(|n| n.has_tag_name("path"))
        .expect("the text as a path");
    let d = path.attribute("d").unwrap();
    let numbers: Vec<f32> = d
        .split(|c: char| c.is_ascii_whitespace() || c.is_ascii_alphabetic())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    // Noto Emoji's check mark is one contour of six corners.
    assert!(numbers.len() >= 12, "{d}");
    for xy in numbers.chunks(2) {
        assert!(
            (left - 1.0..=right + 1.0).contains(&xy[0]) && (top..=bottom).contains(&xy[1]),
            "{xy:?} outside the glyph's box"
        );
    }
    let title = path.children().find(|n| n.has_tag_name("title")).unwrap();
    assert_eq!(title.text(), Some("\u{2714}"));
}

/// `chr` drawn straight from egui's Noto Emoji font file, with its origin at
/// `origin` and `size` units high, on a picture like `like` of `area` at 1×.
fn noto_glyph(
    chr: char,
    origin: Pos2,
    size: f32,
    like: &tiny_skia::Pixmap,
    area: tabula_shared::Rect,
) -> tiny_skia::Pixmap {
    use skrifa::MetadataProvider as _;
    use skrifa::instance::{LocationRef, Size};
    use skrifa::outline::{DrawSettings, OutlinePen};

    /// Glyph outlines (y up) into a path placed on the picture.
    struct Pen(tiny_skia::PathBuilder, Pos2);
    impl OutlinePen for Pen {
        fn move_to(&mut self, x: f32, y: f32) {
            self.0.move_to(self.1.x + x, self.1.y - y);
        }
        fn line_to(&mut self, x: f32, y: f32) {
            self.0.line_to(self.1.x + x, self.1.y - y);
        }
        fn quad_to(&mut self, cx: f32, cy: f32, x: f32, y: f32) {
            let o = self.1;
            self.0.quad_to(o.x + cx, o.y - cy, o.x + x, o.y - y);
        }
        fn curve_to(&mut self, ax: f32, ay: f32, bx: f32, by: f32, x: f32, y: f32) {
            let o = self.1;
            self.0
                .cubic_to(o.x + ax, o.y - ay, o.x + bx, o.y - by, o.x + x, o.y - y);
        }
        fn close(&mut self) {
            self.0.close();
        }
    }

    let definitions = egui::epaint::text::FontDefinitions::default();
    let noto = &definitions.font_data["NotoEmoji-Regular"];
    let font = skrifa::FontRef::new(noto.bytes()).expect("a font");
    let glyph = font.charmap().map(chr).expect("the glyph in Noto Emoji");
    let mut pen = Pen(
        tiny_skia::PathBuilder::new(),
        pos2(origin.x - area.min.x, origin.y - area.min.y),
    );
    font.outline_glyphs()
        .get(glyph)
        .expect("an outline")
        .draw(
            DrawSettings::unhinted(Size::new(size), LocationRef::default()),
            &mut pen,
        )
        .expect("the outline drawn");
    let mut pixmap = tiny_skia::Pixmap::new(like.width(), like.height()).expect("a picture");
    pixmap.fill(tiny_skia::Color::from_rgba8(
        BACKGROUND.r,
        BACKGROUND.g,
        BACKGROUND.b,
        255,
    ));
    let mut paint = tiny_skia::Paint::default();
    paint.set_color_rgba8(0, 0, 0, 255);
    paint.anti_alias = true;
    pixmap.fill_path(
        &pen.0.finish().expect("a path"),
        &paint,
        tiny_skia::FillRule::Winding,
        tiny_skia::Transform::identity(),
        None,
    );
    pixmap
}
