//! A PNG of objects, rasterised in pure Rust with `tiny-skia` on the board's
//! paper colour; text is drawn from the outlines of egui's own font (read with
//! `skrifa`), so the picture matches the board. The same pixels can go to the
//! clipboard as an image.

use std::ops::ControlFlow;

use egui::{Pos2, pos2};
use skrifa::instance::{LocationRef, Size};
use skrifa::outline::{DrawSettings, OutlinePen};
use skrifa::{FontRef, MetadataProvider as _};
use tabula_shared::object::{LINE_HEIGHT_EM, ObjectKind, arrow_head_size};
use tabula_shared::{Color, Object, Point};
use tiny_skia::{FillRule, LineCap, LineJoin, Paint, PathBuilder, Pixmap, Stroke, Transform};

use super::{BACKGROUND, ExportError, MAX_SIDE_PX, area, arrow_barbs, pixel_size};
use crate::canvas::curve::smooth_curve;

/// `objects` (bottom first) as a PNG at `scale` pixels per canvas unit.
pub fn encode(objects: &[&Object], scale: f32) -> Result<Vec<u8>, ExportError> {
    encode_with(objects, scale, &mut |_| ControlFlow::Continue(()))
}

/// [`encode`], telling `drawn` how many objects are drawn after each; once
/// it breaks, the export stops with [`ExportError::Cancelled`].
pub fn encode_with(
    objects: &[&Object],
    scale: f32,
    drawn: &mut dyn FnMut(usize) -> ControlFlow<()>,
) -> Result<Vec<u8>, ExportError> {
    raster(objects, scale, drawn)?
        .encode_png()
        .map_err(|e| ExportError::Encode(e.to_string()))
}

/// `objects` (bottom first) as an image for the clipboard, at `scale`.
pub fn image(objects: &[&Object], scale: f32) -> Result<egui::ColorImage, ExportError> {
    image_with(objects, scale, &mut |_| ControlFlow::Continue(()))
}

/// [`image`], telling `drawn` how many objects are drawn as [`encode_with`]
/// does.
pub fn image_with(
    objects: &[&Object],
    scale: f32,
    drawn: &mut dyn FnMut(usize) -> ControlFlow<()>,
) -> Result<egui::ColorImage, ExportError> {
    let pixmap = raster(objects, scale, drawn)?;
    let size = [pixmap.width() as usize, pixmap.height() as usize];
    Ok(egui::ColorImage::from_rgba_premultiplied(
        size,
        pixmap.data(),
    ))
}

/// Rasterises `objects` on the paper colour, telling `drawn` how many are
/// drawn after each.
fn raster(
    objects: &[&Object],
    scale: f32,
    drawn: &mut dyn FnMut(usize) -> ControlFlow<()>,
) -> Result<Pixmap, ExportError> {
    let area = area(objects.iter().copied()).ok_or(ExportError::Empty)?;
    let (width, height) = pixel_size(area, scale);
    if width > MAX_SIDE_PX || height > MAX_SIDE_PX {
        return Err(ExportError::TooLarge { width, height });
    }
    let mut pixmap = Pixmap::new(width, height).ok_or(ExportError::TooLarge { width, height })?;
    pixmap.fill(skia_color(BACKGROUND));
    let to_px = |p: Point| pos2((p.x - area.min.x) * scale, (p.y - area.min.y) * scale);
    for (i, object) in objects.iter().enumerate() {
        draw(&mut pixmap, object, &to_px, scale);
        if drawn(i + 1).is_break() {
            return Err(ExportError::Cancelled);
        }
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

fn skia_color(c: Color) -> tiny_skia::Color {
    tiny_skia::Color::from_rgba8(c.r, c.g, c.b, c.a)
}

fn paint(c: Color) -> Paint<'static> {
    let mut paint = Paint::default();
    paint.set_color(skia_color(c));
    paint.anti_alias = true;
    paint
}
