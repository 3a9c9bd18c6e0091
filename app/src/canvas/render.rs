//! Painting board objects with egui: strokes as smooth curves, lines, arrows,
//! rectangles, ellipses and texts, at any zoom.
//!
//! [`paint_object`] turns one [`Object`] into egui shapes through the canvas's
//! `screen_from_canvas` transform. The canvas calls it for every visible object;
//! tools call it for the preview of the shape being dragged out.
//!
//! A big board must not cost every object's points every frame: objects
//! smaller on screen than [`DOT_PX`] are drawn as [`Dots`], one quad each in a
//! single mesh, instead of curves (from what [`super::cache`] keeps of them);
//! and strokes skip points closer than [`MIN_POINT_SPACING_PX`] on screen and
//! draw no round caps when thinner than [`CAPS_MIN_PX`].

use egui::emath::TSTransform;
use egui::epaint::{EllipseShape, Mesh, PathShape, PathStroke};
use egui::{Align2, Color32, FontId, Painter, Pos2, Rect, Shape, Stroke, StrokeKind, vec2};
use tabula_shared::object::{LINE_HEIGHT_EM, arrow_head_size};
use tabula_shared::{Object, ObjectKind};

use super::cache::CachedObject;
use super::convert::{color32, pos_from_point};
use super::curve::smooth_curve;

/// An object whose bounds are smaller than this on screen (both sides, in
/// points) is drawn as a dot: its curve would cover a pixel or two anyway.
pub const DOT_PX: f32 = 2.5;
/// A stroke's points closer than this on screen to the last kept one are
/// skipped: they move the curve by less than a pixel's width.
pub const MIN_POINT_SPACING_PX: f32 = 0.5;
/// Strokes thinner than this on screen get no round caps and joins: the
/// circles would be smaller than the line's own anti-aliased edge.
pub const CAPS_MIN_PX: f32 = 2.0;

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
        // Points a fraction of a pixel apart are dropped as they are mapped.
        let mut points: Vec<Pos2> = Vec::with_capacity(object.data.points.len());
        for p in object.points() {
            let pos = screen_from_canvas * pos_from_point(p);
            if points
                .last()
                .is_none_or(|last| last.distance_sq(pos) >= MIN_POINT_SPACING_PX.powi(2))
            {
                points.push(pos);
            }
        }
        paint_stroke(painter, &points, width, color);
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
        // Painted above, with its points thinned as they were mapped.
        ObjectKind::Freehand => {}
        ObjectKind::Line => paint_line(painter, points[0], points[1], width, color),
        ObjectKind::Arrow => {
            paint_line(painter, points[0], points[1], width, color);
            let head = arrow_head_size(object) * screen_from_canvas.scaling;
            paint_arrow_head(painter, points[0], points[1], head, width, color);
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
            painter.add(EllipseShape {
                center: rect.center(),
                radius: rect.size() * 0.5,
                fill,
                stroke: Stroke::new(width, color),
                angle: 0.0,
            });
        }
        ObjectKind::Text => {
            let size = object.data.font_size * screen_from_canvas.scaling;
            paint_text(painter, points[0], &object.data.text, size, color);
        }
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

/// A straight line with round ends.
fn paint_line(painter: &Painter, from: Pos2, to: Pos2, width: f32, color: Color32) {
    painter.line_segment([from, to], Stroke::new(width, color));
    if color.a() == 255 {
        painter.circle_filled(from, width * 0.5, color);
        painter.circle_filled(to, width * 0.5, color);
    }
}

/// Two barbs at `to`, pointing back along the line from `from`.
fn paint_arrow_head(
    painter: &Painter,
    from: Pos2,
    to: Pos2,
    head: f32,
    width: f32,
    color: Color32,
) {
    let dir = (to - from).normalized();
    if !dir.is_finite() || head <= 0.0 {
        return;
    }
    let back = -dir * head;
    let spread = 0.5_f32; // about 28 degrees each side
    for sign in [-1.0, 1.0] {
        let rotated = egui::Vec2::angled(back.angle() + sign * spread) * head;
        paint_line(painter, to, to + rotated, width, color);
    }
}

/// Paints a freehand stroke: a smooth curve through its points with round ends,
/// or a dot. Translucent ink (the highlighter) gets no round caps, which would
/// show as darker blots where they overlap the line.
pub fn paint_stroke(painter: &Painter, raw: &[Pos2], width: f32, color: Color32) {
    let mut points: Vec<Pos2> = Vec::with_capacity(raw.len());
    for &pos in raw {
        // Points that coincide on screen add nothing but noise to the curve.
        if points.last().is_none_or(|last| last.distance(pos) > 0.25) {
            points.push(pos);
        }
    }
    let caps_visible = width >= CAPS_MIN_PX && color.a() == 255;
    let (Some(&first), Some(&last)) = (points.first(), points.last()) else {
        return;
    };
    if points.len() == 1 {
        painter.circle_filled(first, width * 0.5, color);
        return;
    }
    let clip = painter.clip_rect().expand(width);
    let curve = smooth_curve(&points, clip);
    painter.add(PathShape::line(curve, PathStroke::new(width, color)));
    if !caps_visible {
        return;
    }
    // Round caps, and round joins where the path turns sharply (the tessellator
    // would otherwise bevel them).
    let mut caps = vec![first, last];
    caps.extend(
        points
            .windows(3)
            .filter(|w| (w[1] - w[0]).normalized().dot((w[2] - w[1]).normalized()) < 0.3)
            .map(|w| w[1]),
    );
    for pos in caps {
        painter.circle_filled(pos, width * 0.5, color);
    }
}
