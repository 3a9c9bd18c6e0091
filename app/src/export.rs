//! Export: the board, or some of its objects, as a PNG picture or an SVG drawing.
//!
//! Both cover the objects' area plus a small margin. The PNG is rasterised in pure
//! Rust with `tiny-skia`, at 1× (one pixel per canvas unit) or more; its text is
//! drawn from the outlines of egui's own font, so it matches the board. The SVG
//! has exactly one element per object, in stacking order. The same picture can
//! go to the clipboard as an image.

use std::fmt::Write as _;

use egui::{Pos2, pos2};
use skrifa::instance::{LocationRef, Size};
use skrifa::outline::{DrawSettings, OutlinePen};
use skrifa::{FontRef, MetadataProvider as _};
use tabula_shared::object::{Fill, LINE_HEIGHT_EM, ObjectKind, arrow_head_size};
use tabula_shared::{Color, Object, Point, Rect};
use tiny_skia::{FillRule, LineCap, LineJoin, Paint, PathBuilder, Pixmap, Stroke, Transform};

use crate::canvas::curve::smooth_curve;

/// The free border around the objects, in canvas units.
pub const MARGIN: f32 = 16.0;
/// The largest side of an exported picture, in pixels.
pub const MAX_SIDE_PX: u32 = 16_384;
/// The background of a PNG: the board's paper.
pub const BACKGROUND: Color = Color::rgb(0xfb, 0xfb, 0xfa);

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Nothing to export.
    #[error("there is nothing to export")]
    Empty,
    /// The picture would be unreasonably large.
    #[error("the picture would be {width}×{height} pixels; export a smaller part or at 1×")]
    TooLarge {
        /// Its width in pixels.
        width: u32,
        /// Its height in pixels.
        height: u32,
    },
    /// The PNG could not be encoded.
    #[error("could not encode the PNG: {0}")]
    Encode(String),
}

/// The canvas area an export of `objects` covers: their bounds plus the margin.
#[must_use]
pub fn area<'a>(objects: impl IntoIterator<Item = &'a Object>) -> Option<Rect> {
    objects
        .into_iter()
        .map(Object::bounds)
        .reduce(Rect::union)
        .map(|r| r.expand(MARGIN))
}

/// The size in pixels of a PNG of `area` at `scale`.
#[must_use]
pub fn pixel_size(area: Rect, scale: f32) -> (u32, u32) {
    (
        (area.width() * scale).ceil().max(1.0) as u32,
        (area.height() * scale).ceil().max(1.0) as u32,
    )
}

/// `objects` (bottom first) as a PNG at `scale` pixels per canvas unit.
pub fn png(objects: &[&Object], scale: f32) -> Result<Vec<u8>, ExportError> {
    raster(objects, scale)?
        .encode_png()
        .map_err(|e| ExportError::Encode(e.to_string()))
}

/// `objects` (bottom first) as an image for the clipboard, at `scale`.
pub fn image(objects: &[&Object], scale: f32) -> Result<egui::ColorImage, ExportError> {
    let pixmap = raster(objects, scale)?;
    let size = [pixmap.width() as usize, pixmap.height() as usize];
    Ok(egui::ColorImage::from_rgba_premultiplied(
        size,
        pixmap.data(),
    ))
}

/// Rasterises `objects` on the paper colour.
fn raster(objects: &[&Object], scale: f32) -> Result<Pixmap, ExportError> {
    let area = area(objects.iter().copied()).ok_or(ExportError::Empty)?;
    let (width, height) = pixel_size(area, scale);
    if width > MAX_SIDE_PX || height > MAX_SIDE_PX {
        return Err(ExportError::TooLarge { width, height });
    }
    let mut pixmap = Pixmap::new(width, height).ok_or(ExportError::TooLarge { width, height })?;
    pixmap.fill(skia_color(BACKGROUND));
    let to_px = |p: Point| pos2((p.x - area.min.x) * scale, (p.y - area.min.y) * scale);
    for object in objects {
        draw(&mut pixmap, object, &to_px, scale);
    }
    Ok(pixmap)
}

/// Draws one object onto the pixmap.
fn draw(pixmap: &mut Pixmap, object: &Object, to_px: &impl Fn(Point) -> Pos2, scale: f32) {
    let color = object.data.color;
    let width = (object.data.width * scale).max(0.5);
    let points: Vec<Pos2> = object.points().map(to_px).collect();
    let stroke = Stroke {
        width,
        line_cap: LineCap::Round,
        line_join: LineJoin::Round,
        ..Stroke::default()
    };
    let fill = object.data.fill.color_for(color).map(paint);
    let paint = paint(color);
    match object.data.kind {
        ObjectKind::Freehand => {
            let curve = if points.len() > 2 {
                smooth_curve(&points, egui::Rect::EVERYTHING)
            } else {
                points
            };
            if curve.len() == 1 || curve.iter().all(|p| p.distance(curve[0]) < 0.01) {
                if let Some(dot) = PathBuilder::from_circle(curve[0].x, curve[0].y, width * 0.5) {
                    pixmap.fill_path(&dot, &paint, FillRule::Winding, Transform::identity(), None);
                }
            } else if let Some(path) = polyline(&curve) {
                pixmap.stroke_path(&path, &paint, &stroke, Transform::identity(), None);
            }
        }
        ObjectKind::Line | ObjectKind::Arrow => {
            let mut lines = vec![[points[0], points[1]]];
            if object.data.kind == ObjectKind::Arrow {
                lines.extend(arrow_barbs(
                    points[0],
                    points[1],
                    arrow_head_size(object) * scale,
                ));
            }
            for [a, b] in lines {
                if let Some(path) = polyline(&[a, b]) {
                    pixmap.stroke_path(&path, &paint, &stroke, Transform::identity(), None);
                }
            }
        }
        ObjectKind::Rectangle | ObjectKind::Ellipse => {
            let r = egui::Rect::from_two_pos(points[0], points[1]);
            let Some(rect) = tiny_skia::Rect::from_ltrb(r.min.x, r.min.y, r.max.x, r.max.y) else {
                return;
            };
            let path = if object.data.kind == ObjectKind::Rectangle {
                Some(PathBuilder::from_rect(rect))
            } else {
                PathBuilder::from_oval(rect)
            };
            if let Some(path) = path {
                if let Some(fill) = &fill {
                    pixmap.fill_path(&path, fill, FillRule::Winding, Transform::identity(), None);
                }
                let stroke = Stroke {
                    line_join: LineJoin::Miter,
                    ..stroke
                };
                pixmap.stroke_path(&path, &paint, &stroke, Transform::identity(), None);
            }
        }
        ObjectKind::Text => {
            draw_text(
                pixmap,
                points[0],
                &object.data.text,
                object.data.font_size * scale,
                &paint,
            );
        }
    }
}

/// The two barbs of an arrow head at `to`, as segments (the same as on screen).
fn arrow_barbs(from: Pos2, to: Pos2, head: f32) -> Vec<[Pos2; 2]> {
    let dir = (to - from).normalized();
    if !dir.is_finite() || head <= 0.0 {
        return Vec::new();
    }
    let back = (-dir).angle();
    [-0.5_f32, 0.5]
        .iter()
        .map(|spread| [to, to + egui::Vec2::angled(back + spread) * head])
        .collect()
}

/// A path through `points`.
fn polyline(points: &[Pos2]) -> Option<tiny_skia::Path> {
    let mut builder = PathBuilder::new();
    let (first, rest) = points.split_first()?;
    builder.move_to(first.x, first.y);
    for p in rest {
        builder.line_to(p.x, p.y);
    }
    builder.finish()
}

/// Turns glyph outlines (y up, from the baseline) into a tiny-skia path.
struct GlyphPen {
    /// The path so far.
    builder: PathBuilder,
    /// Where the glyph's origin (on the baseline) is, in pixels.
    origin: Pos2,
}

impl OutlinePen for GlyphPen {
    fn move_to(&mut self, x: f32, y: f32) {
        self.builder.move_to(self.origin.x + x, self.origin.y - y);
    }

    fn line_to(&mut self, x: f32, y: f32) {
        self.builder.line_to(self.origin.x + x, self.origin.y - y);
    }

    fn quad_to(&mut self, cx0: f32, cy0: f32, x: f32, y: f32) {
        let o = self.origin;
        self.builder.quad_to(o.x + cx0, o.y - cy0, o.x + x, o.y - y);
    }

    fn curve_to(&mut self, cx0: f32, cy0: f32, cx1: f32, cy1: f32, x: f32, y: f32) {
        let o = self.origin;
        self.builder
            .cubic_to(o.x + cx0, o.y - cy0, o.x + cx1, o.y - cy1, o.x + x, o.y - y);
    }

    fn close(&mut self) {
        self.builder.close();
    }
}

/// Draws multi-line text with its top-left corner at `top_left`, `size` pixels
/// high, one line every [`LINE_HEIGHT_EM`] sizes, as the board lays it out.
fn draw_text(pixmap: &mut Pixmap, top_left: Pos2, text: &str, size: f32, paint: &Paint<'_>) {
    let Ok(font) = FontRef::new(epaint_default_fonts::UBUNTU_LIGHT) else {
        return;
    };
    let px = Size::new(size);
    let location = LocationRef::default();
    let ascent = font.metrics(px, location).ascent;
    let charmap = font.charmap();
    let outlines = font.outline_glyphs();
    let advances = font.glyph_metrics(px, location);
    let mut pen = GlyphPen {
        builder: PathBuilder::new(),
        origin: top_left,
    };
    for (i, line) in text.split('\n').enumerate() {
        let baseline = top_left.y + i as f32 * size * LINE_HEIGHT_EM + ascent;
        pen.origin = pos2(top_left.x, baseline);
        for ch in line.chars() {
            let Some(glyph) = charmap.map(ch) else {
                continue;
            };
            if let Some(outline) = outlines.get(glyph) {
                // A glyph the font cannot draw is skipped, not fatal.
                let _ = outline.draw(DrawSettings::unhinted(px, location), &mut pen);
            }
            pen.origin.x += advances.advance_width(glyph).unwrap_or(size * 0.5);
        }
    }
    if let Some(path) = pen.builder.finish() {
        pixmap.fill_path(&path, paint, FillRule::Winding, Transform::identity(), None);
    }
}

/// `objects` (bottom first) as an SVG document: one element per object.
pub fn svg(objects: &[&Object]) -> Result<String, ExportError> {
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
    for object in objects {
        out.push_str("  ");
        out.push_str(&svg_element(object));
        out.push('\n');
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

fn skia_color(c: Color) -> tiny_skia::Color {
    tiny_skia::Color::from_rgba8(c.r, c.g, c.b, c.a)
}

fn paint(c: Color) -> Paint<'static> {
    let mut paint = Paint::default();
    paint.set_color(skia_color(c));
    paint.anti_alias = true;
    paint
}
