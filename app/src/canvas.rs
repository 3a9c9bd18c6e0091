//! The canvas: turns pointer input into drawing ops and paints the board.
//!
//! It knows nothing of the network. Each frame runs in two halves, so that the ops
//! of this frame are on the board before it is painted:
//!
//! 1. [`Canvas::input_ui`] reads the pointer, moves the camera (pan and zoom) and
//!    returns what the user did as [`CanvasInput`]: the ops to submit and where the
//!    pointer now is on the canvas.
//! 2. The caller applies the ops (`app.rs` hands them to the session, tests to a
//!    plain [`Board`]) and then calls [`Canvas::paint_ui`] with the board.
//!
//! Strokes stream as they are drawn: a press sends `StrokeBegin`, each frame of
//! dragging at most one `StrokeAppend` with the points gathered in that frame, and
//! the release `StrokeEnd`. Points are stabilised with a light moving average and
//! thinned to a minimum on-screen spacing before they become ops.
//!
//! Painting turns each stroke's points into a smooth curve (centripetal
//! Catmull-Rom, flattened adaptively by its size on screen), so a stroke stays
//! smooth at any zoom.

use egui::emath::TSTransform;
use egui::epaint::{PathShape, PathStroke};
use egui::{
    Color32, CornerRadius, CursorIcon, Event, FontId, Key, Painter, PointerButton, Pos2, Rect,
    Response, Sense, Shape, Stroke as PaintStroke, Ui, Vec2, pos2, vec2,
};
use tabula_shared::{Board, Color, Op, OpKind, Point, Stroke, StrokeId};

use crate::camera::{Camera, ZOOM_STEP};
use crate::tools::{Tool, ToolSettings};

/// Weight of each new pointer sample in the stabiliser's moving average: lower is
/// smoother but lags more behind the pointer.
const SMOOTHING: f32 = 0.6;
/// Samples fed to the stabiliser at the pointer's last position when the pen
/// lifts, so the stroke eases into its end point.
const CATCH_UP_SAMPLES: usize = 3;
/// Points closer than this on screen to the last kept point are dropped.
const MIN_SPACING_PX: f32 = 1.5;
/// How far a flattened curve may stray from the true curve, in screen pixels.
const CURVE_TOLERANCE_PX: f32 = 0.15;
/// The most line pieces one curve segment is flattened into.
const MAX_PIECES: usize = 64;
/// The free border kept around the content when fitting it to the window.
const FIT_MARGIN: f32 = 48.0;

/// A change of view asked for by a button or a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewAction {
    /// Zoom in one step around the centre of the view.
    ZoomIn,
    /// Zoom out one step around the centre of the view.
    ZoomOut,
    /// Back to 100 %, keeping the centre of the view.
    ActualSize,
    /// Show everything on the board.
    Fit,
}

/// Someone else's pointer, to draw over the board.
#[derive(Clone, Copy, Debug)]
pub struct PeerCursor<'a> {
    /// Shown next to the pointer.
    pub name: &'a str,
    /// Their colour, for the pointer and the name tag.
    pub color: Color,
    /// Where it is on the canvas.
    pub position: Point,
}

/// What the user did to the canvas in one frame.
#[derive(Debug)]
pub struct CanvasInput {
    /// The canvas widget's response (hover, drag state).
    pub response: Response,
    /// The ops to submit, in order.
    pub ops: Vec<Op>,
    /// The canvas point under the pointer, `None` when it is not over the canvas.
    pub pointer: Option<Point>,
    /// Whether [`Self::pointer`] differs from last frame's, so that only changes
    /// are passed on.
    pub pointer_changed: bool,
}

/// What a pointer button held down on the canvas is doing.
#[derive(Debug)]
enum Gesture {
    /// Nothing held.
    Idle,
    /// The pen is down.
    Drawing(Drawing),
    /// The board is being dragged along.
    Panning {
        /// The button that holds it (middle, or primary with space held).
        button: PointerButton,
        /// The pointer's previous screen position.
        last: Pos2,
    },
}

/// A stroke being drawn by the local user.
#[derive(Debug)]
struct Drawing {
    /// The stroke's id, sent with each of its ops.
    stroke: StrokeId,
    /// The stabiliser's output: a moving average of the pointer, in canvas space.
    smoothed: Pos2,
    /// The last point kept for the stroke, for the minimum spacing.
    last_kept: Pos2,
    /// Points kept this frame, sent as one append at the end of it.
    batch: Vec<Point>,
}

impl Drawing {
    /// Feeds a pointer sample (canvas space); keeps the smoothed point if it is far
    /// enough from the last one kept.
    fn sample(&mut self, raw: Pos2, min_spacing: f32) {
        self.smoothed += (raw - self.smoothed) * SMOOTHING;
        if self.smoothed.distance(self.last_kept) >= min_spacing {
            self.keep(self.smoothed);
        }
    }

    /// Ends at the pointer's true last position, so the stroke stops where the pen
    /// lifted rather than where the stabiliser lagged. The stabiliser first
    /// catches up over a few samples, so the end curves in instead of jumping.
    fn finish(&mut self, raw: Pos2, min_spacing: f32) {
        for _ in 0..CATCH_UP_SAMPLES {
            self.sample(raw, min_spacing);
        }
        if raw.distance(self.last_kept) > f32::EPSILON {
            self.keep(raw);
        }
    }

    /// Adds a point to this frame's batch.
    fn keep(&mut self, p: Pos2) {
        self.last_kept = p;
        self.batch.push(point_from_pos(p));
    }

    /// The append op for this frame's points, if there are any.
    fn take_append(&mut self) -> Option<Op> {
        (!self.batch.is_empty()).then(|| {
            Op::new(OpKind::StrokeAppend {
                stroke: self.stroke,
                points: std::mem::take(&mut self.batch),
            })
        })
    }
}

/// The board view: camera, the gesture under way and the last pointer reported.
#[derive(Debug)]
pub struct Canvas {
    /// Pan and zoom.
    camera: Camera,
    /// The screen rectangle the canvas filled last frame; the view buttons zoom
    /// around its centre.
    viewport: Rect,
    /// What the held pointer button is doing.
    gesture: Gesture,
    /// The canvas point under the pointer last reported, so that only changes are.
    pointer: Option<Point>,
}

impl Default for Canvas {
    fn default() -> Self {
        Self::new()
    }
}

impl Canvas {
    /// A canvas at 100 % with the origin in the top-left corner.
    #[must_use]
    pub fn new() -> Self {
        Self {
            camera: Camera::default(),
            viewport: Rect::from_min_size(Pos2::ZERO, vec2(1280.0, 800.0)),
            gesture: Gesture::Idle,
            pointer: None,
        }
    }

    /// The camera.
    #[must_use]
    pub fn camera(&self) -> &Camera {
        &self.camera
    }

    /// The camera, to move it.
    pub fn camera_mut(&mut self) -> &mut Camera {
        &mut self.camera
    }

    /// The screen rectangle the canvas filled in the last frame.
    #[must_use]
    pub fn viewport(&self) -> Rect {
        self.viewport
    }

    /// Maps canvas positions to the screen for the current camera and viewport.
    #[must_use]
    pub fn screen_from_canvas(&self) -> TSTransform {
        self.camera.screen_from_canvas(self.viewport)
    }

    /// Whether the pen is down on a stroke.
    #[must_use]
    pub fn is_drawing(&self) -> bool {
        matches!(self.gesture, Gesture::Drawing(_))
    }

    /// Applies a zoom button or key. `content` is the board's extent in canvas
    /// coordinates, for [`ViewAction::Fit`].
    pub fn apply_view(&mut self, action: ViewAction, content: Option<tabula_shared::Rect>) {
        let center = self.viewport.center();
        match action {
            ViewAction::ZoomIn => self.camera.zoom_around(ZOOM_STEP, center, self.viewport),
            ViewAction::ZoomOut => self
                .camera
                .zoom_around(1.0 / ZOOM_STEP, center, self.viewport),
            ViewAction::ActualSize => self.camera.set_zoom_around(1.0, center, self.viewport),
            ViewAction::Fit => match content {
                Some(content) => {
                    self.camera
                        .fit(rect_from_canvas(content), self.viewport, FIT_MARGIN);
                }
                None => self.camera = Camera::default(),
            },
        }
    }

    /// Takes the whole available space, reads this frame's pointer input and turns
    /// it into ops and camera moves. Call [`Self::paint_ui`] after applying the ops.
    pub fn input_ui(&mut self, ui: &mut Ui, tools: ToolSettings) -> CanvasInput {
        let viewport = ui.available_rect_before_wrap();
        self.viewport = viewport;
        let response = ui.interact(viewport, ui.make_persistent_id("canvas"), Sense::drag());
        ui.advance_cursor_after_rect(viewport);

        let (events, space_down, primary_down, middle_down) = ui.input(|i| {
            let events: Vec<Event> = i
                .events
                .iter()
                .filter(|e| matches!(e, Event::PointerMoved(_) | Event::PointerButton { .. }))
                .cloned()
                .collect();
            (
                events,
                i.key_down(Key::Space),
                i.pointer.primary_down(),
                i.pointer.middle_down(),
            )
        });
        // A press counts when it lands on the canvas itself, not on a window or
        // toolbar floating above it.
        let on_canvas = response.hovered() || response.dragged();

        let mut ops = Vec::new();
        for event in events {
            match event {
                Event::PointerButton {
                    pos,
                    button,
                    pressed: true,
                    ..
                } if on_canvas
                    && viewport.contains(pos)
                    && matches!(self.gesture, Gesture::Idle) =>
                {
                    self.press(button, pos, space_down, tools, &mut ops);
                }
                Event::PointerMoved(pos) => self.motion(pos),
                Event::PointerButton {
                    pos,
                    button,
                    pressed: false,
                    ..
                } => self.release(button, pos, &mut ops),
                _ => {}
            }
        }
        // A release can go missing (focus lost mid-stroke): never leave a gesture
        // hanging once its button is up.
        match &self.gesture {
            Gesture::Drawing(d) if !primary_down => {
                let last = d.last_kept;
                self.release(
                    PointerButton::Primary,
                    self.screen_from_canvas() * last,
                    &mut ops,
                );
            }
            Gesture::Panning { button, .. }
                if !(primary_down && *button == PointerButton::Primary
                    || middle_down && *button == PointerButton::Middle) =>
            {
                self.gesture = Gesture::Idle;
            }
            _ => {}
        }
        if let Gesture::Drawing(d) = &mut self.gesture {
            ops.extend(d.take_append());
        }

        if response.hovered() {
            self.scroll_and_zoom(ui, &response);
        }
        let pointer_changed = self.update_pointer(ui, on_canvas);
        self.set_cursor_icon(ui, &response, space_down, tools.tool);

        if !ops.is_empty() {
            tracing::trace!(count = ops.len(), "canvas ops");
        }
        CanvasInput {
            response,
            ops,
            pointer: self.pointer,
            pointer_changed,
        }
    }

    /// Handles a button going down on the canvas.
    fn press(
        &mut self,
        button: PointerButton,
        pos: Pos2,
        space_down: bool,
        tools: ToolSettings,
        ops: &mut Vec<Op>,
    ) {
        match button {
            PointerButton::Middle => self.gesture = Gesture::Panning { button, last: pos },
            PointerButton::Primary if space_down => {
                self.gesture = Gesture::Panning { button, last: pos };
            }
            PointerButton::Primary => match tools.tool {
                Tool::Pen => {
                    let start = self.camera.canvas_from_screen(self.viewport) * pos;
                    let stroke = StrokeId::random();
                    ops.push(Op::new(OpKind::StrokeBegin {
                        stroke,
                        style: tools.stroke_style(),
                        start: point_from_pos(start),
                    }));
                    self.gesture = Gesture::Drawing(Drawing {
                        stroke,
                        smoothed: start,
                        last_kept: start,
                        batch: Vec::new(),
                    });
                }
            },
            _ => {}
        }
    }

    /// Handles the pointer moving to `pos` (screen).
    fn motion(&mut self, pos: Pos2) {
        let canvas_from_screen = self.camera.canvas_from_screen(self.viewport);
        match &mut self.gesture {
            Gesture::Drawing(d) => {
                d.sample(canvas_from_screen * pos, MIN_SPACING_PX / self.camera.zoom);
            }
            Gesture::Panning { last, .. } => {
                let delta = pos - *last;
                *last = pos;
                self.camera.pan_by(delta);
            }
            Gesture::Idle => {}
        }
    }

    /// Handles a button coming up at `pos` (screen).
    fn release(&mut self, button: PointerButton, pos: Pos2, ops: &mut Vec<Op>) {
        match &mut self.gesture {
            Gesture::Drawing(d) if button == PointerButton::Primary => {
                d.finish(
                    self.camera.canvas_from_screen(self.viewport) * pos,
                    MIN_SPACING_PX / self.camera.zoom,
                );
                ops.extend(d.take_append());
                ops.push(Op::new(OpKind::StrokeEnd { stroke: d.stroke }));
                self.gesture = Gesture::Idle;
            }
            Gesture::Panning { button: held, .. } if *held == button => {
                self.motion(pos);
                self.gesture = Gesture::Idle;
            }
            _ => {}
        }
    }

    /// Plain scrolling (wheel, two-finger trackpad) pans; ctrl+wheel and pinch zoom
    /// around the pointer.
    fn scroll_and_zoom(&mut self, ui: &Ui, response: &Response) {
        let (scroll, zoom, touch_pan) = ui.input(|i| {
            (
                i.smooth_scroll_delta,
                i.zoom_delta(),
                i.multi_touch().map_or(Vec2::ZERO, |t| t.translation_delta),
            )
        });
        self.camera.pan_by(scroll + touch_pan);
        if (zoom - 1.0).abs() > f32::EPSILON {
            let anchor = response.hover_pos().unwrap_or(self.viewport.center());
            self.camera.zoom_around(zoom, anchor, self.viewport);
        }
    }

    /// Works out the canvas point under the pointer and whether it changed.
    fn update_pointer(&mut self, ui: &Ui, on_canvas: bool) -> bool {
        let canvas_from_screen = self.camera.canvas_from_screen(self.viewport);
        let now = ui
            .input(|i| i.pointer.latest_pos())
            .filter(|pos| on_canvas && self.viewport.contains(*pos))
            .map(|pos| point_from_pos(canvas_from_screen * pos));
        let changed = now != self.pointer;
        self.pointer = now;
        changed
    }

    /// The tool's cursor over the board, a hand while panning.
    fn set_cursor_icon(&self, ui: &Ui, response: &Response, space_down: bool, tool: Tool) {
        let icon = match self.gesture {
            Gesture::Panning { .. } => CursorIcon::Grabbing,
            Gesture::Drawing(_) => tool.cursor(),
            Gesture::Idle if response.hovered() && space_down => CursorIcon::Grab,
            Gesture::Idle if response.hovered() => tool.cursor(),
            Gesture::Idle => return,
        };
        ui.ctx().set_cursor_icon(icon);
    }

    /// Paints the paper, the dot grid, every visible stroke and the peers' pointers.
    pub fn paint_ui(&self, ui: &Ui, board: &Board, cursors: &[PeerCursor<'_>]) {
        let painter = ui.painter_at(self.viewport);
        painter.rect_filled(self.viewport, 0.0, PAPER);
        paint_grid(&painter, &self.camera, self.viewport);

        let screen_from_canvas = self.screen_from_canvas();
        let visible = self.camera.visible_canvas(self.viewport);
        for stroke in board.strokes() {
            if rect_from_canvas(stroke.covered()).intersects(visible) {
                paint_stroke(&painter, screen_from_canvas, stroke);
            }
        }
        for cursor in cursors {
            let pos = screen_from_canvas * pos_from_point(cursor.position);
            if self.viewport.expand(4.0).contains(pos) {
                paint_peer_cursor(&painter, pos, cursor.name, color32(cursor.color));
            }
        }
    }
}

/// The board's background.
pub const PAPER: Color32 = Color32::from_rgb(0xfb, 0xfb, 0xfa);
/// The grid's dots.
const GRID_DOT: Color32 = Color32::from_rgb(0xcf, 0xcf, 0xd4);
/// The grid's spacing at 100 %, in canvas units.
const GRID_SPACING: f32 = 24.0;
/// On-screen spacing range of the finer grid level; it fades in across it.
const GRID_MIN_PX: f32 = 14.0;

/// A dot grid that keeps a comfortable on-screen spacing at any zoom: dots every
/// `s` canvas units for `s` a power-of-two multiple of [`GRID_SPACING`], the finer
/// level fading in as it spreads out, so zooming never makes the grid jump.
fn paint_grid(painter: &Painter, camera: &Camera, viewport: Rect) {
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

/// Paints one stroke: a smooth curve through its points with round ends, or a dot.
fn paint_stroke(painter: &Painter, screen_from_canvas: TSTransform, stroke: &Stroke) {
    let color = color32(stroke.style.color);
    let width = (stroke.style.width * screen_from_canvas.scaling).max(0.5);
    let mut points: Vec<Pos2> = Vec::with_capacity(stroke.points.len());
    for p in &stroke.points {
        let pos = screen_from_canvas * pos_from_point(*p);
        // Points that coincide on screen add nothing but noise to the curve.
        if points.last().is_none_or(|last| last.distance(pos) > 0.25) {
            points.push(pos);
        }
    }
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

/// Flattens a centripetal Catmull-Rom spline through `points` (screen space) into
/// a polyline. Each segment is split into as many pieces as its on-screen
/// curvature needs to stay within a fraction of a pixel; segments outside `clip`
/// stay straight, as they are not seen.
#[must_use]
pub fn smooth_curve(points: &[Pos2], clip: Rect) -> Vec<Pos2> {
    let n = points.len();
    if n < 3 {
        return points.to_vec();
    }
    let mut out = Vec::with_capacity(n * 4);
    out.push(points[0]);
    for i in 0..n - 1 {
        let p1 = points[i];
        let p2 = points[i + 1];
        // Mirror the neighbours at the ends so the curve leaves them naturally.
        let p0 = if i == 0 {
            p1 + (p1 - p2)
        } else {
            points[i - 1]
        };
        let p3 = if i + 2 < n {
            points[i + 2]
        } else {
            p2 + (p2 - p1)
        };
        let [c1, c2] = bezier_handles(p0, p1, p2, p3);
        let bounds = Rect::from_points(&[p1, c1, c2, p2]);
        let pieces = if bounds.intersects(clip) {
            // A cubic flattened into `k` chords strays at most |f''| / (8 k²),
            // and |f''| ≤ 6 × the control polygon's largest second difference.
            let second = (p1 - 2.0 * c1.to_vec2() + c2.to_vec2())
                .to_vec2()
                .length()
                .max((c1 - 2.0 * c2.to_vec2() + p2.to_vec2()).to_vec2().length());
            ((0.75 * second / CURVE_TOLERANCE_PX).sqrt().ceil() as usize).clamp(1, MAX_PIECES)
        } else {
            1
        };
        for k in 1..pieces {
            out.push(cubic_bezier(p1, c1, c2, p2, k as f32 / pieces as f32));
        }
        out.push(p2);
    }
    out
}

/// The Bézier control points of the centripetal Catmull-Rom segment from `p1` to
/// `p2`. Centripetal spacing (square roots of the distances) never loops or cusps
/// within a segment, however unevenly the points are spaced.
fn bezier_handles(p0: Pos2, p1: Pos2, p2: Pos2, p3: Pos2) -> [Pos2; 2] {
    let knot = |a: Pos2, b: Pos2| a.distance(b).sqrt().max(1.0e-4);
    let (d0, d1, d2) = (knot(p0, p1), knot(p1, p2), knot(p2, p3));
    let (v0, v1, v2) = (p1 - p0, p2 - p1, p3 - p2);
    // Tangents of the non-uniform spline at p1 and p2, scaled to the segment.
    let m1 = (v0 / d0 - (p2 - p0) / (d0 + d1) + v1 / d1) * d1;
    let m2 = (v1 / d1 - (p3 - p1) / (d1 + d2) + v2 / d2) * d1;
    [p1 + m1 / 3.0, p2 - m2 / 3.0]
}

/// The cubic Bézier curve from `from` to `to` with handles `c1`, `c2`, at `t`.
fn cubic_bezier(from: Pos2, c1: Pos2, c2: Pos2, to: Pos2, t: f32) -> Pos2 {
    let rest = 1.0 - t;
    let sum = from.to_vec2() * (rest * rest * rest)
        + c1.to_vec2() * (3.0 * rest * rest * t)
        + c2.to_vec2() * (3.0 * rest * t * t)
        + to.to_vec2() * (t * t * t);
    sum.to_pos2()
}

/// A peer's pointer: an arrow in their colour with their name on a tag beside it.
fn paint_peer_cursor(painter: &Painter, tip: Pos2, name: &str, color: Color32) {
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

/// Black or white, whichever reads better on `background`.
#[must_use]
pub fn readable_on(background: Color32) -> Color32 {
    let [r, g, b, _] = background.to_array();
    let luma = 0.299 * f32::from(r) + 0.587 * f32::from(g) + 0.114 * f32::from(b);
    if luma > 160.0 {
        Color32::from_rgb(0x1e, 0x1e, 0x24)
    } else {
        Color32::WHITE
    }
}

/// A canvas point as an egui position (same space, different type).
#[must_use]
pub fn pos_from_point(p: Point) -> Pos2 {
    pos2(p.x, p.y)
}

/// An egui position as a canvas point (same space, different type).
#[must_use]
pub fn point_from_pos(p: Pos2) -> Point {
    Point::new(p.x, p.y)
}

/// A canvas rectangle as an egui rectangle (same space, different type).
#[must_use]
pub fn rect_from_canvas(r: tabula_shared::Rect) -> Rect {
    Rect::from_min_max(pos_from_point(r.min), pos_from_point(r.max))
}

/// A protocol colour as an egui colour.
#[must_use]
pub fn color32(c: Color) -> Color32 {
    Color32::from_rgba_unmultiplied(c.r, c.g, c.b, c.a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_passes_through_every_point_and_is_finer_when_bigger() {
        let points = [
            pos2(0.0, 0.0),
            pos2(10.0, 10.0),
            pos2(20.0, 0.0),
            pos2(30.0, 10.0),
        ];
        let clip = Rect::EVERYTHING;
        let small = smooth_curve(&points, clip);
        for p in points {
            assert!(small.contains(&p), "{p:?} missing");
        }
        let zoomed: Vec<Pos2> = points
            .iter()
            .map(|p| (p.to_vec2() * 20.0).to_pos2())
            .collect();
        let big = smooth_curve(&zoomed, clip);
        assert!(big.len() > small.len(), "{} vs {}", big.len(), small.len());
        // Every chord of the zoomed curve is short: no visible corners.
        assert!(big.windows(2).all(|w| w[0].distance(w[1]) < 40.0));
    }

    #[test]
    fn curve_of_a_straight_line_stays_on_it() {
        let points: Vec<Pos2> = (0..6)
            .map(|i| pos2(i as f32 * 7.0, i as f32 * 3.0))
            .collect();
        for p in smooth_curve(&points, Rect::EVERYTHING) {
            assert!((p.x * 3.0 - p.y * 7.0).abs() < 1.0e-2, "{p:?} off the line");
        }
    }

    #[test]
    fn off_screen_segments_are_not_subdivided() {
        let points = [pos2(0.0, 0.0), pos2(1000.0, 1000.0), pos2(2000.0, 0.0)];
        let everywhere = smooth_curve(&points, Rect::EVERYTHING);
        let nowhere = smooth_curve(
            &points,
            Rect::from_min_size(pos2(-900.0, -900.0), vec2(1.0, 1.0)),
        );
        assert_eq!(nowhere.len(), 3);
        assert!(everywhere.len() > 3);
    }

    #[test]
    fn stabiliser_keeps_spacing_and_ends_on_the_pointer() {
        let mut d = Drawing {
            stroke: StrokeId::random(),
            smoothed: Pos2::ZERO,
            last_kept: Pos2::ZERO,
            batch: Vec::new(),
        };
        for i in 1..=10 {
            d.sample(pos2(i as f32 * 0.5, 0.0), 2.0);
        }
        d.finish(pos2(5.0, 0.0), 2.0);
        let xs: Vec<f32> = d.batch.iter().map(|p| p.x).collect();
        assert!(xs.windows(2).all(|w| w[1] > w[0]), "{xs:?}");
        assert!(
            xs.windows(2)
                .take(xs.len().saturating_sub(2))
                .all(|w| w[1] - w[0] >= 2.0 - 1.0e-4)
        );
        assert_eq!(xs.last().copied(), Some(5.0));
    }

    #[test]
    fn text_on_tags_stays_readable() {
        assert_eq!(
            readable_on(Color32::from_rgb(0x19, 0x71, 0xc2)),
            Color32::WHITE
        );
        assert_ne!(
            readable_on(Color32::from_rgb(0xf5, 0xb7, 0x00)),
            Color32::WHITE
        );
    }
}
