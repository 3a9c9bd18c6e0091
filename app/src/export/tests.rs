//! The screen, the PNG and the SVG draw a stroke from the same control points:
//! the shared curve's ([`crate::outline::Curve`]).

use egui::emath::TSTransform;
use egui::epaint::PathShape;
use egui::{Pos2, RawInput, Rect, Shape, vec2};
use tabula_shared::object::{Fill, ObjectData, ObjectKind};
use tabula_shared::{ClientId, Color, Object, ObjectId, Point};
use tiny_skia::PathSegment;

use super::png::{Figure, figure};
use super::svg::svg_element;
use crate::canvas::convert::pos_from_point;
use crate::canvas::curve::CURVE_TOLERANCE_PX;
use crate::canvas::render::paint_object;
use crate::outline::{Cubic, Curve};

/// A freehand stroke that turns hard, with points unevenly spaced, moved by an
/// offset (which every drawing must take along).
fn stroke() -> Object {
    let points = [
        (0.0, 0.0),
        (40.0, 5.0),
        (42.0, 7.0),
        (60.0, 50.0),
        (20.0, 60.0),
        (25.0, 20.0),
    ];
    Object {
        id: ObjectId::random(),
        author: ClientId::random(),
        data: ObjectData {
            kind: ObjectKind::Freehand,
            points: points.iter().map(|&(x, y)| Point::new(x, y)).collect(),
            color: Color::rgb(0, 0, 0),
            width: 3.0,
            fill: Fill::None,
            text: String::new(),
            font_size: 20.0,
        },
        offset: Point::new(7.0, -3.0),
        layer: 0,
        finished: true,
        deleted: false,
    }
}

/// The numbers of SVG path data, in order.
fn numbers(data: &str) -> Vec<f32> {
    data.split(|c: char| c.is_ascii_whitespace() || c.is_ascii_alphabetic())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("a number"))
        .collect()
}

/// The distance from `p` to `pieces`, to within a hundredth of their length.
fn distance_to_curve(pieces: &[Cubic], p: Pos2) -> f32 {
    pieces
        .iter()
        .flat_map(|piece| (0..=2000).map(move |k| piece.at(k as f32 / 2000.0)))
        .map(|q| q.distance(p))
        .fold(f32::INFINITY, f32::min)
}

/// The distance from `p` to the line through `points`.
fn distance_to_line(points: &[Pos2], p: Pos2) -> f32 {
    points
        .windows(2)
        .map(|w| {
            let ab = w[1] - w[0];
            let t = ((p - w[0]).dot(ab) / ab.length_sq().max(f32::EPSILON)).clamp(0.0, 1.0);
            p.distance(w[0] + ab * t)
        })
        .fold(f32::INFINITY, f32::min)
}

#[test]
fn the_screen_the_png_and_the_svg_draw_a_stroke_from_the_same_control_points() {
    let object = stroke();
    let curve = Curve::stroke(object.points().map(pos_from_point)).unwrap();
    assert_eq!(curve.pieces.len(), 5);

    // The SVG: `M start C c1 c2 to …`, the control points' very numbers.
    let element = svg_element(&object);
    let doc = roxmltree::Document::parse(&element).unwrap();
    let data = doc.root_element().attribute("d").unwrap();
    assert_eq!(data.matches('C').count(), curve.pieces.len(), "{data}");
    let mut expected = vec![curve.start.x, curve.start.y];
    for piece in &curve.pieces {
        expected.extend([
            piece.c1.x, piece.c1.y, piece.c2.x, piece.c2.y, piece.to.x, piece.to.y,
        ]);
    }
    assert_eq!(numbers(data), expected);

    // The PNG: tiny-skia gets the same pieces, moved to the picture's pixels.
    let px_from_canvas = TSTransform::new(vec2(-30.0, 12.0), 2.0);
    let Some(Figure::Outline(path)) = figure(&object, px_from_canvas) else {
        panic!("a stroke is a path to stroke");
    };
    let in_px = curve.transformed(px_from_canvas);
    let near =
        |a: tiny_skia::Point, b: Pos2| (a.x - b.x).abs() < 1.0e-3 && (a.y - b.y).abs() < 1.0e-3;
    let segments: Vec<PathSegment> = path.segments().collect();
    assert_eq!(segments.len(), 1 + in_px.pieces.len());
    assert!(matches!(segments[0], PathSegment::MoveTo(p) if near(p, in_px.start)));
    for (segment, piece) in segments[1..].iter().zip(&in_px.pieces) {
        let PathSegment::CubicTo(c1, c2, to) = *segment else {
            panic!("{segment:?} is not a cubic");
        };
        assert!(
            near(c1, piece.c1) && near(c2, piece.c2) && near(to, piece.to),
            "{segment:?} vs {piece:?}"
        );
    }

    // The screen: painted through egui at a zoom, the line egui is handed lies
    // on the same curve, and the curve within the flattening's tolerance of
    // the line.
    let screen_from_canvas = TSTransform::new(vec2(100.0, 40.0), 4.0);
    let ctx = egui::Context::default();
    let input = RawInput {
        screen_rect: Some(Rect::from_min_size(Pos2::ZERO, vec2(1200.0, 1200.0))),
        ..RawInput::default()
    };
    let mut output = ctx.run_ui(input, |ui| {
        paint_object(ui.painter(), screen_from_canvas, &object);
    });
    // No renderer takes the font texture.
    output.textures_delta.clear();
    let lines: Vec<&PathShape> = output
        .shapes
        .iter()
        .filter_map(|clipped| match &clipped.shape {
            Shape::Path(path) => Some(path),
            _ => None,
        })
        .collect();
    assert_eq!(lines.len(), 1, "one line for the stroke");
    let line = &lines[0].points;
    let on_screen = curve.transformed(screen_from_canvas);
    assert_eq!(line.first(), Some(&on_screen.start));
    assert_eq!(line.last(), on_screen.pieces.last().map(|p| &p.to));
    // Sampling the curve every ~0.2 px finds each point within 0.1 px of one.
    for &p in line {
        let off = distance_to_curve(&on_screen.pieces, p);
        assert!(off < 0.1, "{p:?} is {off} px off the curve");
    }
    for piece in &on_screen.pieces {
        for k in 0..=100 {
            let p = piece.at(k as f32 / 100.0);
            let off = distance_to_line(line, p);
            assert!(
                off <= CURVE_TOLERANCE_PX + 1.0e-3,
                "the curve at {p:?} is {off} px off the line"
            );
        }
    }
}

#[test]
fn a_picture_over_the_pixel_cap_is_refused_before_anything_is_allocated() {
    // Two dots 10,000 units apart: each side is within MAX_SIDE_PX, the area
    // (a hundred megapixels, 400 MB of pixmap) is not.
    let mut far = stroke();
    far.data.points = vec![Point::new(0.0, 0.0)];
    let mut other = far.clone();
    other.offset = Point::new(10_000.0, 10_000.0);
    let err = super::png::encode(&[&far, &other], 1.0).unwrap_err();
    assert!(
        matches!(err, super::ExportError::TooLarge { width, height }
            if width > 10_000 && height > 10_000),
        "{err:?}"
    );
    assert!(err.to_string().contains("64 megapixels"), "{err}");
    // A tenth of the size is fine.
    assert!(super::png::encode(&[&far, &other], 0.1).is_ok());
}
