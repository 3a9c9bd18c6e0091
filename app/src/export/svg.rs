//! An SVG drawing of objects: one element per object, in stacking order, on
//! the board's paper colour, in canvas units.
//!
//! Strokes, ellipses and arrow heads are paths along the same curves as on the
//! board ([`crate::outline`]): a stroke's `C` commands are its cubic pieces'
//! control points. Lines and rectangles are `<line>` and `<rect>`. A text is
//! the outline of its glyphs as the board lays them out ([`crate::text`], which
//! says why outlines rather than `<text>`), filled, with the text itself in the
//! path's `<title>`. A note is a group of its shadow's and paper's `<rect>`s
//! and its text's glyphs, laid out as the board lays it out
//! ([`crate::note`]), with the text in the group's `<title>`.

use std::fmt::Write as _;
use std::ops::ControlFlow;

use egui::Pos2;
use tabula_shared::object::{Fill, ObjectKind, arrow_head_size};
use tabula_shared::{Color, Object};

use tabula_shared::blob::Blob;

use super::{BACKGROUND, Blobs, ExportError, area};
use crate::canvas::convert::pos_from_point;
use crate::note;
use crate::outline::{Curve, arrow_barbs};
use crate::text::{self, PathEl};

/// `objects` (bottom first) as an SVG document: one element per object
/// (images as placeholders: see [`encode_with`]).
pub fn encode(objects: &[&Object]) -> Result<String, ExportError> {
    encode_with(objects, &Blobs::new(), &mut |_| ControlFlow::Continue(()))
}

/// [`encode`], images embedding their pictures from `blobs`, telling
/// `written` how many elements are written after each; once it breaks, the
/// export stops with [`ExportError::Cancelled`].
pub fn encode_with(
    objects: &[&Object],
    blobs: &Blobs,
    written: &mut dyn FnMut(usize) -> ControlFlow<()>,
) -> Result<String, ExportError> {
    let area = area(objects.iter().copied()).ok_or(ExportError::Empty)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="{x} {y} {w} {h}" style="background-color:{bg}">"#,
        x = area.min.x,
        y = area.min.y,
        w = area.width(),
        h = area.height(),
        bg = hex(BACKGROUND),
    );
    for (i, object) in objects.iter().enumerate() {
        out.push_str("  ");
        match object.data.blob() {
            Some(id) => out.push_str(&image_element(object, blobs.get(&id))),
            None => out.push_str(&svg_element(object)),
        }
        out.push('\n');
        if written(i + 1).is_break() {
            return Err(ExportError::Cancelled);
        }
    }
    out.push_str("</svg>\n");
    Ok(out)
}

/// An image as an `<image>` with its picture in a `data:` URI (the file as
/// it was inserted, base64), stretched over the image's rectangle; a grey
/// `<rect>` where the picture is missing.
pub(super) fn image_element(object: &Object, picture: Option<&Blob>) -> String {
    let frame = object.frame();
    let (x, y, w, h) = (frame.min.x, frame.min.y, frame.width(), frame.height());
    let Some(blob) = picture else {
        return format!(
            r##"<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="#e8e8e8"><title>a missing image</title></rect>"##
        );
    };
    let mime = match image::guess_format(blob.bytes()) {
        Ok(image::ImageFormat::Jpeg) => "image/jpeg",
        Ok(image::ImageFormat::Gif) => "image/gif",
        Ok(image::ImageFormat::WebP) => "image/webp",
        _ => "image/png",
    };
    format!(
        r#"<image x="{x}" y="{y}" width="{w}" height="{h}" preserveAspectRatio="none" href="data:{mime};base64,{}"/>"#,
        base64(blob.bytes())
    )
}

/// `bytes` in standard base64 with padding (RFC 4648).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= group.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One object as one SVG element.
pub(super) fn svg_element(object: &Object) -> String {
    let d = &object.data;
    let points: Vec<Pos2> = object.points().map(pos_from_point).collect();
    let stroke = |join: &str| {
        format!(
            r#"stroke="{}" stroke-opacity="{:.3}" stroke-width="{}" stroke-linecap="round" stroke-linejoin="{join}""#,
            hex(d.color),
            f32::from(d.color.a) / 255.0,
            d.width
        )
    };
    let fill = match d.fill.color_for(d.color) {
        Some(c) if d.fill != Fill::None => {
            format!(
                r#"fill="{}" fill-opacity="{:.3}""#,
                hex(c),
                f32::from(c.a) / 255.0
            )
        }
        _ => r#"fill="none""#.to_owned(),
    };
    match d.kind {
        ObjectKind::Freehand => {
            let Some(curve) = Curve::stroke(points.iter().copied()) else {
                return String::new();
            };
            let mut path = curve_data(&curve);
            if curve.is_dot() {
                // A dot: a line of no length shows as a round cap.
                let _ = write!(path, " L{} {}", curve.start.x, curve.start.y);
            }
            format!(r#"<path d="{path}" fill="none" {}/>"#, stroke("round"))
        }
        ObjectKind::Line => format!(
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" {}/>"#,
            points[0].x,
            points[0].y,
            points[1].x,
            points[1].y,
            stroke("round")
        ),
        ObjectKind::Arrow => {
            let (a, b) = (points[0], points[1]);
            let mut path = format!("M{} {} L{} {}", a.x, a.y, b.x, b.y);
            for barb in arrow_barbs(a, b, arrow_head_size(object))
                .into_iter()
                .flatten()
            {
                let _ = write!(path, " M{} {} L{} {}", b.x, b.y, barb.x, barb.y);
            }
            format!(r#"<path d="{path}" fill="none" {}/>"#, stroke("round"))
        }
        ObjectKind::Rectangle => {
            let r = egui::Rect::from_two_pos(points[0], points[1]);
            // Sharp corners, as on the board.
            format!(
                r#"<rect x="{}" y="{}" width="{}" height="{}" {fill} {}/>"#,
                r.min.x,
                r.min.y,
                r.width(),
                r.height(),
                stroke("miter")
            )
        }
        ObjectKind::Ellipse => {
            let curve = Curve::ellipse(egui::Rect::from_two_pos(points[0], points[1]));
            format!(
                r#"<path d="{}" {fill} {}/>"#,
                curve_data(&curve),
                stroke("round")
            )
        }
        ObjectKind::Image => image_element(object, None),
        ObjectKind::Text => {
            let at = points.first().copied().unwrap_or_default();
            let glyphs = glyph_data(&text::outlines(&d.text, at, d.font_size));
            format!(
                r#"<path d="{glyphs}" fill="{}" fill-opacity="{:.3}"><title>{}</title></path>"#,
                hex(d.color),
                f32::from(d.color.a) / 255.0,
                escape(&d.text)
            )
        }
        ObjectKind::Note => note_element(object),
    }
}

/// A note as one group: its shadow and paper as rectangles, its text as
/// glyphs, the text in a `<title>`.
fn note_element(object: &Object) -> String {
    let note = note::layout(object);
    let rect = |r: egui::Rect, color: Color| {
        format!(
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}" fill-opacity="{:.3}"/>"#,
            r.min.x,
            r.min.y,
            r.width(),
            r.height(),
            hex(color),
            f32::from(color.a) / 255.0
        )
    };
    let mut group = format!("<g><title>{}</title>", escape(&object.data.text));
    for (r, color) in &note.shadow {
        group.push_str(&rect(*r, *color));
    }
    group.push_str(&rect(note.paper, note.color));
    let glyphs: Vec<PathEl> = note
        .lines
        .iter()
        .flat_map(|line| text::outlines(&line.text, line.top_left, note.font_size))
        .collect();
    if !glyphs.is_empty() {
        let _ = write!(
            group,
            r#"<path d="{}" fill="{}"/>"#,
            glyph_data(&glyphs),
            hex(note.ink)
        );
    }
    group.push_str("</g>");
    group
}

/// Path data for `curve`: its start, then one `C` per cubic piece with the
/// piece's control points exactly as they are (`Z` if it is closed).
fn curve_data(curve: &Curve) -> String {
    let mut data = format!("M{} {}", curve.start.x, curve.start.y);
    for piece in &curve.pieces {
        let _ = write!(
            data,
            " C{} {} {} {} {} {}",
            piece.c1.x, piece.c1.y, piece.c2.x, piece.c2.y, piece.to.x, piece.to.y
        );
    }
    if curve.closed {
        data.push_str(" Z");
    }
    data
}

/// Path data for glyph outlines, to a hundredth of a canvas unit.
fn glyph_data(outlines: &[PathEl]) -> String {
    let mut data = String::new();
    for el in outlines {
        let _ = match *el {
            PathEl::MoveTo(p) => write!(data, "M{}", pair(p)),
            PathEl::LineTo(p) => write!(data, "L{}", pair(p)),
            PathEl::QuadTo(c, p) => write!(data, "Q{} {}", pair(c), pair(p)),
            PathEl::CubicTo(c1, c2, p) => write!(data, "C{} {} {}", pair(c1), pair(c2), pair(p)),
            PathEl::Close => write!(data, "Z"),
        };
    }
    data
}

/// `x y`, each to a hundredth.
fn pair(p: Pos2) -> String {
    format!("{} {}", hundredths(p.x), hundredths(p.y))
}

/// `v` to a hundredth, without trailing zeros.
fn hundredths(v: f32) -> String {
    let text = format!("{v:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// `#rrggbb`.
fn hex(c: Color) -> String {
    format!("#{:02x}{:02x}{:02x}", c.r, c.g, c.b)
}

/// Text made safe inside an XML element.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
