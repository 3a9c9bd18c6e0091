//! An SVG drawing of objects: one element per object, in stacking order, on
//! the board's paper colour.

use std::fmt::Write as _;
use std::ops::ControlFlow;

use egui::pos2;
use tabula_shared::object::{Fill, LINE_HEIGHT_EM, ObjectKind, arrow_head_size};
use tabula_shared::{Color, Object, Point, Rect};

use super::{BACKGROUND, ExportError, area, arrow_barbs};

/// `objects` (bottom first) as an SVG document: one element per object.
pub fn encode(objects: &[&Object]) -> Result<String, ExportError> {
    encode_with(objects, &mut |_| ControlFlow::Continue(()))
}

/// [`encode`], telling `written` how many elements are written after each;
/// once it breaks, the export stops with [`ExportError::Cancelled`].
pub fn encode_with(
    objects: &[&Object],
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
        out.push_str(&svg_element(object));
        out.push('\n');
        if written(i + 1).is_break() {
            return Err(ExportError::Cancelled);
        }
    }
    out.push_str("</svg>\n");
    Ok(out)
}

/// One object as one SVG element.
fn svg_element(object: &Object) -> String {
    let d = &object.data;
    let points: Vec<Point> = object.points().collect();
    let stroke = format!(
        r#"stroke="{}" stroke-opacity="{:.3}" stroke-width="{}" stroke-linecap="round" stroke-linejoin="round""#,
        hex(d.color),
        f32::from(d.color.a) / 255.0,
        d.width
    );
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
            let mut path = String::new();
            for (i, p) in points.iter().enumerate() {
                let _ = write!(path, "{}{} {} ", if i == 0 { "M" } else { "L" }, p.x, p.y);
            }
            if points.len() == 1 {
                // A dot: a zero-length line shows as a round cap.
                let _ = write!(path, "L{} {}", points[0].x, points[0].y);
            }
            format!(r#"<path d="{}" fill="none" {stroke}/>"#, path.trim_end())
        }
        ObjectKind::Line => format!(
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" {stroke}/>"#,
            points[0].x, points[0].y, points[1].x, points[1].y
        ),
        ObjectKind::Arrow => {
            let (a, b) = (points[0], points[1]);
            let mut path = format!("M{} {} L{} {}", a.x, a.y, b.x, b.y);
            let barbs = arrow_barbs(pos2(a.x, a.y), pos2(b.x, b.y), arrow_head_size(object));
            for [from, to] in barbs {
                let _ = write!(path, " M{} {} L{} {}", from.x, from.y, to.x, to.y);
            }
            format!(r#"<path d="{path}" fill="none" {stroke}/>"#)
        }
        ObjectKind::Rectangle => {
            let r = Rect::from_corners(points[0], points[1]);
            format!(
                r#"<rect x="{}" y="{}" width="{}" height="{}" {fill} {stroke}/>"#,
                r.min.x,
                r.min.y,
                r.width(),
                r.height()
            )
        }
        ObjectKind::Ellipse => {
            let r = Rect::from_corners(points[0], points[1]);
            let c = r.center();
            format!(
                r#"<ellipse cx="{}" cy="{}" rx="{}" ry="{}" {fill} {stroke}/>"#,
                c.x,
                c.y,
                r.width() * 0.5,
                r.height() * 0.5
            )
        }
        ObjectKind::Text => {
            let at = points[0];
            let mut spans = String::new();
            for (i, line) in d.text.split('\n').enumerate() {
                let dy = if i == 0 {
                    0.0
                } else {
                    d.font_size * LINE_HEIGHT_EM
                };
                let _ = write!(
                    spans,
                    r#"<tspan x="{}" dy="{dy}">{}</tspan>"#,
                    at.x,
                    escape(line)
                );
            }
            format!(
                r#"<text x="{}" y="{}" dominant-baseline="text-before-edge" font-family="Ubuntu, sans-serif" font-weight="300" font-size="{}" fill="{}" fill-opacity="{:.3}">{spans}</text>"#,
                at.x,
                at.y,
                d.font_size,
                hex(d.color),
                f32::from(d.color.a) / 255.0
            )
        }
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
