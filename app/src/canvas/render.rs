//! Painting board objects with egui: strokes as smooth curves, lines, arrows,
//! rectangles, ellipses, texts and notes, at any zoom.
//!
//! [`paint_object`] turns one [`Object`] into egui shapes through the canvas's
//! `screen_from_canvas` transform. The canvas calls it for every visible object;
//! tools call it for the preview of the shape being dragged out. Strokes,
//! ellipses and arrow heads are drawn along the geometry the PNG and the SVG
//! draw too ([`crate::outline`]): the same curves, moved to the screen and
//! flattened there ([`super::curve`]). A note is drawn from its layout
//! ([`crate::note`]), the one the PNG and the SVG draw too.
//!
//! A big board must not cost every object's points every frame: objects
//! smaller on screen than [`DOT_PX`] are drawn as [`Dots`], one quad each in a
//! single mesh, instead of curves (from what [`super::cache`] keeps of them);
//! curve pieces that stay within [`super::curve::MIN_PIECE_PX`] on screen add
//! no line piece; and strokes draw no round caps when thinner than
//! [`CAPS_MIN_PX`].
//!
//! A stroke's level of detail follows its length on screen: before its curve
//! is built, its points closer than [`LOD_STEP_PX`] on screen to the last one
//! kept are passed over ([`thinned`]), so a stroke of fifty thousand points
//! (the cap) seen small builds a curve of a point per third of a pixel it
//! runs, and one seen smaller than [`DOT_PX`] is a dot.

use egui::emath::TSTransform;
use egui::epaint::{Mesh, PathShape, PathStroke};
use egui::{Align2, Color32, FontId, Painter, Pos2, Rect, Shape, Stroke, StrokeKind, vec2};
use tabula_shared::object::{LINE_HEIGHT_EM, arrow_head_size};
use tabula_shared::{Object, ObjectKind};

use super::cache::CachedObject;
use super::convert::{color32, pos_from_point};
use super::curve::flatten;
use crate::note::{self, NoteLayout};
use crate::outline::{Curve, arrow_barbs};

/// An object whose bounds are smaller than this on screen (both sides, in
/// points) is drawn as a dot: its curve would cover a pixel or two anyway.
pub const DOT_PX: f32 = 2.5;
/// Strokes thinner than this on screen get no round caps and joins: the
/// circles would be smaller than the line's own anti-aliased edge.
pub const CAPS_MIN_PX: f32 = 2.0;
/// A stroke's points closer than this on screen to the last one kept add
/// nothing a person could see: passed over before its curve is built.
pub const LOD_STEP_PX: f32 = 0.3;

/// Tiny objects drawn as one quad each, gathered into one mesh (one shape for
/// egui to tessellate instead of one per object). Flush before painting
/// anything else so that the stacking order holds.
#[derive(Debug, Default)]
pub struct Dots {
    /// The quads gathered since the last flush.
    mesh: Mesh,
}

impl Dots {
    /// Room for `count` dots, taken at once: growing a mesh of a hundred
    /// thousand quads by doubling copied it again and again. Pages that no dot
    /// touches are never faulted in, so a generous count costs nothing.
    #[must_use]
    pub fn with_capacity(count: usize) -> Self {
        let mut mesh = Mesh::default();
        mesh.reserve_vertices(4 * count);
        mesh.reserve_triangles(2 * count);
        Self { mesh }
    }

    /// Adds `object`, which covers `on_screen`, as a dot: its bounds filled with
    /// its ink, lighter the less of them a thin line would cover.
    pub fn push(&mut self, object: &CachedObject, on_screen: Rect, scaling: f32) {
        let size = on_screen.size().max(vec2(1.0, 1.0));
        let line = (object.width * scaling).max(0.5);
        let coverage = (line * (size.x + size.y) / (size.x * size.y)).clamp(0.25, 1.0);
        let rect = Rect::from_center_size(on_screen.center(), size);
        self.mesh
            .add_colored_rect(rect, object.color.gamma_multiply(coverage));
    }

    /// Paints the dots gathered so far.
    pub fn flush(&mut self, painter: &Painter) {
        if !self.mesh.is_empty() {
            painter.add(Shape::mesh(std::mem::take(&mut self.mesh)));
        }
    }
}

/// Paints one object as it sits on the board.
pub fn paint_object(painter: &Painter, screen_from_canvas: TSTransform, object: &Object) {
    let color = color32(object.data.color);
    let width = (object.data.width * screen_from_canvas.scaling).max(0.5);
    if object.data.kind == ObjectKind::Freehand {
        let step = LOD_STEP_PX / screen_from_canvas.scaling;
        let points = thinned(object.points().map(pos_from_point), step);
        if let Some(curve) = Curve::stroke(points) {
            paint_stroke(
                painter,
                &curve.transformed(screen_from_canvas),
                width,
                color,
            );
        }
        return;
    }
    let points: Vec<Pos2> = object
        .points()
        .map(|p| screen_from_canvas * pos_from_point(p))
        .collect();
    let fill = object
        .data
        .fill
        .color_for(object.data.color)
        .map_or(Color32::TRANSPARENT, color32);
    match object.data.kind {
        // Painted above, as a curve.
        ObjectKind::Freehand => {}
        ObjectKind::Line => paint_line(painter, points[0], points[1], width, color),
        ObjectKind::Arrow => {
            paint_line(painter, points[0], points[1], width, color);
            let head = arrow_head_size(object) * screen_from_canvas.scaling;
            for barb in arrow_barbs(points[0], points[1], head)
                .into_iter()
                .flatten()
            {
                paint_line(painter, points[1], barb, width, color);
            }
        }
        ObjectKind::Rectangle => {
            let rect = Rect::from_two_pos(points[0], points[1]);
            painter.rect(
                rect,
                0.0,
                fill,
                Stroke::new(width, color),
                StrokeKind::Middle,
            );
        }
        ObjectKind::Ellipse => {
            let rect = Rect::from_two_pos(points[0], points[1]);
            let mut outline = Vec::new();
            flatten(
                &Curve::ellipse(rect),
                painter.clip_rect().expand(width),
                &mut outline,
            );
            // Closed: the last point is the first again.
            outline.pop();
            painter.add(PathShape::convex_polygon(
                outline,
                fill,
                Stroke::new(width, color),
            ));
        }
        ObjectKind::Text => {
            let size = object.data.font_size * screen_from_canvas.scaling;
            paint_text(painter, points[0], &object.data.text, size, color);
        }
        // The canvas paints images from their textures (`super::images`);
        // here, with no picture at hand, its place.
        ObjectKind::Image => super::images::paint_placeholder(
            painter,
            Rect::from_two_pos(points[0], points[1]),
            "Image",
        ),
        ObjectKind::Note => paint_note(painter, screen_from_canvas, &note::layout(object), true),
    }
}

/// Paints a note from its layout: the shadow, the paper, and (unless its
/// text is being typed over it) the text.
pub fn paint_note(
    painter: &Painter,
    screen_from_canvas: TSTransform,
    note: &NoteLayout,
    with_text: bool,
) {
    for (rect, color) in &note.shadow {
        painter.rect_filled(screen_from_canvas * *rect, 0.0, color32(*color));
    }
    painter.rect_filled(screen_from_canvas * note.paper, 0.0, color32(note.color));
    let size = note.font_size * screen_from_canvas.scaling;
    if !with_text || size < 1.0 {
        return;
    }
    let font = FontId::proportional(size);
    for line in &note.lines {
        painter.text(
            screen_from_canvas * line.top_left,
            Align2::LEFT_TOP,
            &line.text,
            font.clone(),
            color32(note.ink),
        );
    }
}

/// Paints multi-line text with its top-left corner at `at`, one line every
/// [`LINE_HEIGHT_EM`] font sizes (the same spacing the board's bounds assume).
pub fn paint_text(painter: &Painter, at: Pos2, text: &str, size: f32, color: Color32) {
    if size < 1.0 {
        return;
    }
    let font = FontId::proportional(size);
    for (i, line) in text.split('\n').enumerate() {
        let top = at + vec2(0.0, i as f32 * size * LINE_HEIGHT_EM);
        painter.text(top, Align2::LEFT_TOP, line, font.clone(), color);
    }
}

/// `points` without those closer than `step` to the last one kept; the first
/// and the last are always kept.
pub fn thinned(points: impl IntoIterator<Item = Pos2>, step: f32) -> Vec<Pos2> {
    let mut points = points.into_iter();
    let Some(first) = points.next() else {
        return Vec::new();
    };
    let mut kept = vec![first];
    let mut last_seen = None;
    let step_sq = step * step;
    for p in points {
        if p.distance_sq(kept[kept.len() - 1]) >= step_sq {
            kept.push(p);
            last_seen = None;
        } else {
            last_seen = Some(p);
        }
    }
    kept.extend(last_seen);
    kept
}

/// A straight line with round ends.
fn paint_line(painter: &Painter, from: Pos2, to: Pos2, width: f32, color: Color32) {
    painter.line_segment([from, to], Stroke::new(width, color));
    if color.a() == 255 {
        painter.circle_filled(from, width * 0.5, color);
        painter.circle_filled(to, width * 0.5, color);
    }
}

/// The line the screen draws for a stroke's `curve` (in screen space): the
/// curve flattened, as far as `clip` shows it.
fn stroke_line(curve: &Curve, clip: Rect) -> Vec<Pos2> {
    let mut line = Vec::with_capacity(4 * curve.pieces.len() + 1);
    flatten(curve, clip, &mut line);
    line
}

/// Paints a freehand stroke's curve (in screen space) with round ends, or a
/// dot. Translucent ink (the highlighter) gets no round caps, which would show
/// as darker blots where they overlap the line.
pub fn paint_stroke(painter: &Painter, curve: &Curve, width: f32, color: Color32) {
    if curve.is_dot() {
        painter.circle_filled(curve.start, width * 0.5, color);
        return;
    }
    let line = stroke_line(curve, painter.clip_rect().expand(width));
    let caps_visible = width >= CAPS_MIN_PX && color.a() == 255;
    // Round caps, and round joins where the line turns sharply (the
    // tessellator would otherwise bevel them).
    let caps: Vec<Pos2> = if caps_visible {
        let turns = line.windows(3).filter_map(|w| {
            let (a, b) = (w[1] - w[0], w[2] - w[1]);
            (a.dot(b) < 0.3 * (a.length_sq() * b.length_sq()).sqrt()).then_some(w[1])
        });
        [line[0], line[line.len() - 1]]
            .into_iter()
            .chain(turns)
            .collect()
    } else {
        Vec::new()
    };
    painter.add(PathShape::line(line, PathStroke::new(width, color)));
    for pos in caps {
        painter.circle_filled(pos, width * 0.5, color);
    }
}

#[cfg(test)]
mod tests {
    use egui::pos2;

    use super::*;

    #[test]
    fn a_stroke_seen_small_keeps_few_points_and_its_ends() {
        // Fifty thousand points scribbled back and forth in a 100-unit square.
        let scribble: Vec<Pos2> = (0..50_000)
            .map(|i| {
                let t = i as f32 * 0.013;
                pos2(50.0 + 50.0 * t.sin(), 50.0 + 50.0 * (1.7 * t).cos())
            })
            .collect();
        // At 1 % zoom the square is a pixel (and the scribble some 370 px of
        // travel back and forth within it): a point per step of that.
        let far = thinned(scribble.iter().copied(), LOD_STEP_PX / 0.01);
        assert!(far.len() < 1_300, "{} points", far.len());
        assert_eq!(far[0], scribble[0]);
        assert_eq!(far[far.len() - 1], scribble[scribble.len() - 1]);
        // Close up, nearly all of them matter.
        let near = thinned(scribble.iter().copied(), LOD_STEP_PX / 10.0);
        assert!(near.len() > 40_000, "{} points", near.len());
        // A stroke drawn at the pen's spacing loses nothing at 100 %.
        let drawn: Vec<Pos2> = (0..100).map(|i| pos2(i as f32 * 2.0, 0.0)).collect();
        assert_eq!(thinned(drawn.iter().copied(), LOD_STEP_PX), drawn);
        assert!(thinned(std::iter::empty(), 1.0).is_empty());
    }
}
