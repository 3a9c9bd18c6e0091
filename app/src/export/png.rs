//! A PNG of objects, rasterised in pure Rust with `tiny-skia` on the board's
//! paper colour. Strokes, ellipses and arrow heads are drawn along the same
//! curves as on the board ([`crate::outline`]), handed to tiny-skia as the
//! cubic pieces they are; texts are filled from their glyph outlines, laid
//! out as the board lays them out ([`crate::text`]), and notes drawn from
//! the board's layout of them ([`crate::note`]). The same pixels can go to
//! the clipboard as an image.

use std::collections::HashMap;
use std::ops::ControlFlow;

use egui::emath::TSTransform;
use egui::{Pos2, vec2};
use tabula_shared::blob::BlobId;
use tabula_shared::object::{ObjectKind, arrow_head_size};
use tabula_shared::{Color, Object};
use tiny_skia::{
    FillRule, FilterQuality, LineCap, LineJoin, Paint, PathBuilder, Pixmap, PixmapPaint, Stroke,
    Transform,
};

use super::{BACKGROUND, Blobs, ExportError, MAX_PIXELS, MAX_SIDE_PX, area, pixel_size};
use crate::canvas::convert::{pos_from_point, rect_from_canvas};
use crate::note;
use crate::outline::{Curve, arrow_barbs};
use crate::pictures::decode::decode_rgba;
use crate::text::{self, PathEl};

/// `objects` (bottom first) as a PNG at `scale` pixels per canvas unit
/// (images as placeholders: see [`encode_with`]).
pub fn encode(objects: &[&Object], scale: f32) -> Result<Vec<u8>, ExportError> {
    encode_with(objects, &Blobs::new(), scale, &mut |_| {
        ControlFlow::Continue(())
    })
}

/// [`encode`], images drawn from `blobs`, telling `drawn` how many objects
/// are drawn after each; once it breaks, the export stops with
/// [`ExportError::Cancelled`].
pub fn encode_with(
    objects: &[&Object],
    blobs: &Blobs,
    scale: f32,
    drawn: &mut dyn FnMut(usize) -> ControlFlow<()>,
) -> Result<Vec<u8>, ExportError> {
    raster(objects, blobs, scale, drawn)?
        .encode_png()
        .map_err(|e| ExportError::Encode(e.to_string()))
}

/// `objects` (bottom first) as an image for the clipboard, at `scale`.
pub fn image(objects: &[&Object], scale: f32) -> Result<egui::ColorImage, ExportError> {
    image_with(objects, &Blobs::new(), scale, &mut |_| {
        ControlFlow::Continue(())
    })
}

/// [`image`], images drawn from `blobs`, telling `drawn` how many objects
/// are drawn as [`encode_with`] does.
pub fn image_with(
    objects: &[&Object],
    blobs: &Blobs,
    scale: f32,
    drawn: &mut dyn FnMut(usize) -> ControlFlow<()>,
) -> Result<egui::ColorImage, ExportError> {
    let pixmap = raster(objects, blobs, scale, drawn)?;
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
    blobs: &Blobs,
    scale: f32,
    drawn: &mut dyn FnMut(usize) -> ControlFlow<()>,
) -> Result<Pixmap, ExportError> {
    let area = area(objects.iter().copied()).ok_or(ExportError::Empty)?;
    let (width, height) = pixel_size(area, scale);
    if width > MAX_SIDE_PX
        || height > MAX_SIDE_PX
        || u64::from(width) * u64::from(height) > MAX_PIXELS
    {
        return Err(ExportError::TooLarge { width, height });
    }
    let mut pixmap = Pixmap::new(width, height).ok_or(ExportError::TooLarge { width, height })?;
    pixmap.fill(skia_color(BACKGROUND));
    let px_from_canvas = TSTransform::new(vec2(-area.min.x, -area.min.y) * scale, scale);
    let mut pictures = Decoded::default();
    for (i, object) in objects.iter().enumerate() {
        if let Some(id) = object.data.blob() {
            let rect = px_from_canvas * rect_from_canvas(object.frame());
            draw_picture(&mut pixmap, rect, pictures.get(id, blobs));
        } else {
            draw(&mut pixmap, object, px_from_canvas);
        }
        if drawn(i + 1).is_break() {
            return Err(ExportError::Cancelled);
        }
    }
    Ok(pixmap)
}

/// The pictures of an export, decoded once each, the first time an image
/// shows one: `None` for one missing or damaged.
#[derive(Default)]
struct Decoded(HashMap<BlobId, Option<Pixmap>>);

impl Decoded {
    /// The pixels of the picture `id`.
    fn get(&mut self, id: BlobId, blobs: &Blobs) -> Option<&Pixmap> {
        self.0
            .entry(id)
            .or_insert_with(|| {
                let blob = blobs.get(&id)?;
                let ([width, height], mut rgba) = decode_rgba(blob.bytes())
                    .inspect_err(
                        |err| tracing::warn!(blob = %id, %err, "an exported image does not decode"),
                    )
                    .ok()?;
                // tiny-skia's pixmaps are premultiplied.
                for pixel in rgba.chunks_exact_mut(4) {
                    let alpha = u16::from(pixel[3]);
                    for channel in &mut pixel[..3] {
                        *channel = ((u16::from(*channel) * alpha + 127) / 255) as u8;
                    }
                }
                Pixmap::from_vec(rgba, tiny_skia::IntSize::from_wh(width, height)?)
            })
            .as_ref()
    }
}

/// Draws a picture stretched over `rect` (in pixels), or a grey placeholder
/// where there is none.
fn draw_picture(pixmap: &mut Pixmap, rect: egui::Rect, picture: Option<&Pixmap>) {
    let Some(picture) = picture else {
        if let Some(r) = tiny_skia::Rect::from_ltrb(rect.min.x, rect.min.y, rect.max.x, rect.max.y)
        {
            pixmap.fill_rect(
                r,
                &paint(Color::rgb(0xe8, 0xe8, 0xe8)),
                Transform::identity(),
                None,
            );
        }
        return;
    };
    let transform = Transform::from_row(
        rect.width() / picture.width() as f32,
        0.0,
        0.0,
        rect.height() / picture.height() as f32,
        rect.min.x,
        rect.min.y,
    );
    let quality = PixmapPaint {
        quality: FilterQuality::Bicubic,
        ..PixmapPaint::default()
    };
    pixmap.draw_pixmap(0, 0, picture.as_ref(), &quality, transform, None);
}

/// Draws one object onto the pixmap.
fn draw(pixmap: &mut Pixmap, object: &Object, px_from_canvas: TSTransform) {
    let color = object.data.color;
    let paint = paint(color);
    let width = (object.data.width * px_from_canvas.scaling).max(0.5);
    let path = match figure(object, px_from_canvas) {
        None => return,
        Some(Figure::Dot(at)) => {
            if let Some(dot) = PathBuilder::from_circle(at.x, at.y, width * 0.5) {
                pixmap.fill_path(&dot, &paint, FillRule::Winding, Transform::identity(), None);
            }
            return;
        }
        Some(Figure::Glyphs(path)) => {
            pixmap.fill_path(
                &path,
                &paint,
                FillRule::Winding,
                Transform::identity(),
                None,
            );
            return;
        }
        Some(Figure::Filled(parts)) => {
            for (path, color) in parts {
                pixmap.fill_path(
                    &path,
                    &self::paint(color),
                    FillRule::Winding,
                    Transform::identity(),
                    None,
                );
            }
            return;
        }
        Some(Figure::Outline(path)) => path,
    };
    if let Some(fill) = object.data.fill.color_for(color).map(self::paint) {
        pixmap.fill_path(&path, &fill, FillRule::Winding, Transform::identity(), None);
    }
    let stroke = Stroke {
        width,
        line_cap: LineCap::Round,
        // Sharp corners on a rectangle, as on the board; round elsewhere.
        line_join: if object.data.kind == ObjectKind::Rectangle {
            LineJoin::Miter
        } else {
            LineJoin::Round
        },
        ..Stroke::default()
    };
    pixmap.stroke_path(&path, &paint, &stroke, Transform::identity(), None);
}

/// What the PNG draws for one object, in pixels.
pub(super) enum Figure {
    /// A stroke of one point: a disc as wide as the stroke.
    Dot(Pos2),
    /// A path stroked with the object's ink and width (and filled with its
    /// fill, if it has one).
    Outline(tiny_skia::Path),
    /// A text's glyphs, filled with its ink.
    Glyphs(tiny_skia::Path),
    /// Paths filled one after the other, each in its colour: a note's
    /// shadow, its paper and its text.
    Filled(Vec<(tiny_skia::Path, Color)>),
}

/// What the PNG draws for `object`, moved to the picture's pixels; `None` for
/// an object with nothing to draw.
pub(super) fn figure(object: &Object, px_from_canvas: TSTransform) -> Option<Figure> {
    let canvas_points = || object.points().map(pos_from_point);
    let points: Vec<Pos2> = canvas_points().map(|p| px_from_canvas * p).collect();
    let path = match object.data.kind {
        ObjectKind::Freehand => {
            let curve = Curve::stroke(canvas_points())?.transformed(px_from_canvas);
            if curve.is_dot() {
                return Some(Figure::Dot(curve.start));
            }
            curve_path(&curve)
        }
        ObjectKind::Line | ObjectKind::Arrow => {
            let (from, to) = (points[0], points[1]);
            let mut builder = PathBuilder::new();
            builder.move_to(from.x, from.y);
            builder.line_to(to.x, to.y);
            if object.data.kind == ObjectKind::Arrow {
                let head = arrow_head_size(object) * px_from_canvas.scaling;
                for barb in arrow_barbs(from, to, head).into_iter().flatten() {
                    builder.move_to(to.x, to.y);
                    builder.line_to(barb.x, barb.y);
                }
            }
            builder.finish()
        }
        ObjectKind::Rectangle => {
            let r = egui::Rect::from_two_pos(points[0], points[1]);
            tiny_skia::Rect::from_ltrb(r.min.x, r.min.y, r.max.x, r.max.y)
                .map(PathBuilder::from_rect)
        }
        ObjectKind::Ellipse => curve_path(&Curve::ellipse(egui::Rect::from_two_pos(
            points[0], points[1],
        ))),
        // Drawn from its picture (`draw_picture`).
        ObjectKind::Image => return None,
        ObjectKind::Text => {
            let outlines = text::outlines(
                &object.data.text,
                canvas_points().next().unwrap_or_default(),
                object.data.font_size,
            );
            return glyph_path(&outlines, px_from_canvas).map(Figure::Glyphs);
        }
        ObjectKind::Note => return Some(Figure::Filled(note_parts(object, px_from_canvas))),
    };
    path.map(Figure::Outline)
}

/// A note's shadow, paper and text as paths in pixels, bottom first, each
/// with its colour.
fn note_parts(object: &Object, px_from_canvas: TSTransform) -> Vec<(tiny_skia::Path, Color)> {
    let note = note::layout(object);
    let rect = |r: egui::Rect| {
        let r = px_from_canvas * r;
        tiny_skia::Rect::from_ltrb(r.min.x, r.min.y, r.max.x, r.max.y).map(PathBuilder::from_rect)
    };
    let mut parts: Vec<(tiny_skia::Path, Color)> = note
        .shadow
        .iter()
        .filter_map(|(r, color)| Some((rect(*r)?, *color)))
        .collect();
    parts.extend(rect(note.paper).map(|paper| (paper, note.color)));
    let glyphs: Vec<PathEl> = note
        .lines
        .iter()
        .flat_map(|line| text::outlines(&line.text, line.top_left, note.font_size))
        .collect();
    parts.extend(glyph_path(&glyphs, px_from_canvas).map(|path| (path, note.ink)));
    parts
}

/// `curve` (in pixels) as a tiny-skia path of the same cubic pieces.
fn curve_path(curve: &Curve) -> Option<tiny_skia::Path> {
    let mut builder = PathBuilder::new();
    builder.move_to(curve.start.x, curve.start.y);
    for piece in &curve.pieces {
        builder.cubic_to(
            piece.c1.x, piece.c1.y, piece.c2.x, piece.c2.y, piece.to.x, piece.to.y,
        );
    }
    if curve.closed {
        builder.close();
    }
    builder.finish()
}

/// Glyph outlines (in canvas units) as a tiny-skia path in pixels.
fn glyph_path(outlines: &[PathEl], px_from_canvas: TSTransform) -> Option<tiny_skia::Path> {
    let px = |p: Pos2| px_from_canvas * p;
    let mut builder = PathBuilder::new();
    for el in outlines {
        match *el {
            PathEl::MoveTo(p) => {
                let p = px(p);
                builder.move_to(p.x, p.y);
            }
            PathEl::LineTo(p) => {
                let p = px(p);
                builder.line_to(p.x, p.y);
            }
            PathEl::QuadTo(c, p) => {
                let (c, p) = (px(c), px(p));
                builder.quad_to(c.x, c.y, p.x, p.y);
            }
            PathEl::CubicTo(c1, c2, p) => {
                let (c1, c2, p) = (px(c1), px(c2), px(p));
                builder.cubic_to(c1.x, c1.y, c2.x, c2.y, p.x, p.y);
            }
            PathEl::Close => builder.close(),
        }
    }
    builder.finish()
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
