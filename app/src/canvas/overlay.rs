//! What the canvas paints around the board's objects: the dot grid under them,
//! and over them the selection with its handles, the rubber band, the eraser's
//! reach and the peers' pointers.

use egui::epaint::PathShape;
use egui::{
    Color32, CornerRadius, FontId, Painter, Pos2, Rect, Shape, Stroke as PaintStroke, pos2, vec2,
};

use super::camera::Camera;
use crate::ui::theme::{ACCENT, readable_on};

/// The side of a resize handle, in screen points.
pub const HANDLE_PX: f32 = 9.0;

/// The grid's dots.
const GRID_DOT: Color32 = Color32::from_rgb(0xcf, 0xcf, 0xd4);
/// The grid's spacing at 100 %, in canvas units.
const GRID_SPACING: f32 = 24.0;
/// On-screen spacing range of the finer grid level; it fades in across it.
const GRID_MIN_PX: f32 = 14.0;

/// A dot grid that keeps a comfortable on-screen spacing at any zoom: dots every
/// `s` canvas units for `s` a power-of-two multiple of [`GRID_SPACING`], the finer
/// level fading in as it spreads out, so zooming never makes the grid jump.
pub fn paint_grid(painter: &Painter, camera: &Camera, viewport: Rect) {
    let mut spacing = GRID_SPACING;
    while spacing * camera.zoom < GRID_MIN_PX {
        spacing *= 2.0;
    }
    while spacing * camera.zoom >= 2.0 * GRID_MIN_PX {
        spacing /= 2.0;
    }
    let fine_px = spacing * camera.zoom;
    let fade = ((fine_px - GRID_MIN_PX) / GRID_MIN_PX).clamp(0.0, 1.0);
    let visible = camera.visible_canvas(viewport);
    let screen_from_canvas = camera.screen_from_canvas(viewport);
    let radius = 1.1;

    let first_x = (visible.min.x / spacing).floor() as i64;
    let first_y = (visible.min.y / spacing).floor() as i64;
    let last_x = (visible.max.x / spacing).ceil() as i64;
    let last_y = (visible.max.y / spacing).ceil() as i64;
    let mut shapes = Vec::new();
    for iy in first_y..=last_y {
        for ix in first_x..=last_x {
            let coarse = ix % 2 == 0 && iy % 2 == 0;
            let color = if coarse {
                GRID_DOT
            } else if fade > 0.02 {
                GRID_DOT.gamma_multiply(fade)
            } else {
                continue;
            };
            let pos = screen_from_canvas * pos2(ix as f32 * spacing, iy as f32 * spacing);
            shapes.push(Shape::circle_filled(pos, radius, color));
        }
    }
    painter.extend(shapes);
}

/// A peer's pointer: an arrow in their colour with their name on a tag beside it.
pub fn paint_peer_cursor(painter: &Painter, tip: Pos2, name: &str, color: Color32) {
    let at = |x: f32, y: f32| tip + vec2(x, y);
    let (left, notch, right) = (at(4.5, 19.5), at(7.5, 12.0), at(16.5, 9.5));
    let outline = vec![tip, left, notch, right];
    // A faint dark rim under a white one keeps the arrow visible on any ink.
    painter.add(PathShape::closed_line(
        outline.clone(),
        PaintStroke::new(3.5, Color32::from_black_alpha(45)),
    ));
    // Two convex halves, since the fill of a polygon must be convex.
    painter.add(Shape::convex_polygon(
        vec![tip, left, notch],
        color,
        PaintStroke::NONE,
    ));
    painter.add(Shape::convex_polygon(
        vec![tip, notch, right],
        color,
        PaintStroke::NONE,
    ));
    painter.add(PathShape::closed_line(
        outline,
        PaintStroke::new(1.5, Color32::WHITE),
    ));

    let font = FontId::proportional(12.0);
    let text_color = readable_on(color);
    let galley = painter.layout_no_wrap(name.to_owned(), font, text_color);
    let tag = Rect::from_min_size(at(14.0, 17.0), galley.size() + vec2(12.0, 6.0));
    painter.rect_filled(tag, CornerRadius::same(6), color);
    painter.galley(tag.center() - galley.size() * 0.5, galley, text_color);
}

/// An outline around a selected object's area (screen).
pub fn paint_selected(painter: &Painter, area: Rect) {
    painter.rect_stroke(
        area.expand(4.0),
        CornerRadius::same(2),
        PaintStroke::new(1.5, ACCENT),
        egui::StrokeKind::Middle,
    );
}

/// A square resize handle centred on `at` (screen).
pub fn paint_handle(painter: &Painter, at: Pos2) {
    let rect = Rect::from_center_size(at, vec2(HANDLE_PX, HANDLE_PX));
    painter.rect(
        rect,
        CornerRadius::same(2),
        Color32::WHITE,
        PaintStroke::new(1.5, ACCENT),
        egui::StrokeKind::Middle,
    );
}

/// The rubber band of a selection being dragged out (screen).
pub fn paint_rubber_band(painter: &Painter, area: Rect) {
    painter.rect(
        area,
        CornerRadius::same(1),
        ACCENT.gamma_multiply(0.08),
        PaintStroke::new(1.0, ACCENT),
        egui::StrokeKind::Middle,
    );
}

/// The eraser's reach around the pointer (screen).
pub fn paint_eraser(painter: &Painter, at: Pos2, radius: f32) {
    painter.circle(
        at,
        radius,
        Color32::from_black_alpha(14),
        PaintStroke::new(1.5, Color32::from_gray(90)),
    );
}
