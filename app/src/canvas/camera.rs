//! The camera: which part of the unbounded canvas the window shows, and how big.
//!
//! A camera is a pan offset and a zoom factor. Together with the viewport (the
//! screen rectangle the canvas is drawn in) they give the two transforms every
//! other module uses, [`Camera::screen_from_canvas`] and its inverse
//! [`Camera::canvas_from_screen`]:
//!
//! ```
//! # use tabula_app::canvas::camera::Camera;
//! # use egui::{pos2, Rect};
//! let viewport = Rect::from_min_size(pos2(0.0, 40.0), egui::vec2(800.0, 600.0));
//! let camera = Camera::default();
//! let pos_in_screen = camera.screen_from_canvas(viewport) * pos2(10.0, 10.0);
//! assert_eq!(pos_in_screen, pos2(10.0, 50.0));
//! ```

use egui::emath::TSTransform;
use egui::{Pos2, Rect, Vec2};

/// The smallest zoom factor (5 %): a whole large board fits on screen.
pub const MIN_ZOOM: f32 = 0.05;
/// The largest zoom factor (3200 %): enough to touch up a single stroke.
pub const MAX_ZOOM: f32 = 32.0;
/// The factor one zoom step (a toolbar button or ctrl +/−) multiplies or divides by.
pub const ZOOM_STEP: f32 = 1.25;

/// Pan and zoom of the view onto the canvas.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Camera {
    /// Where the canvas origin appears, in screen points relative to the viewport's
    /// top-left corner; relative so that resizing the window does not move the board.
    pub pan: Vec2,
    /// Screen points per canvas unit, within [`MIN_ZOOM`]..=[`MAX_ZOOM`].
    pub zoom: f32,
}

impl Default for Camera {
    /// The canvas origin at the viewport's top-left corner, at 100 %.
    fn default() -> Self {
        Self {
            pan: Vec2::ZERO,
            zoom: 1.0,
        }
    }
}

impl Camera {
    /// Maps canvas positions to screen positions for a canvas drawn in `viewport`.
    #[must_use]
    pub fn screen_from_canvas(&self, viewport: Rect) -> TSTransform {
        TSTransform::new(viewport.min.to_vec2() + self.pan, self.zoom)
    }

    /// Maps screen positions back to the canvas; the inverse of
    /// [`Self::screen_from_canvas`].
    #[must_use]
    pub fn canvas_from_screen(&self, viewport: Rect) -> TSTransform {
        self.screen_from_canvas(viewport).inverse()
    }

    /// The part of the canvas visible in `viewport`, in canvas coordinates.
    #[must_use]
    pub fn visible_canvas(&self, viewport: Rect) -> Rect {
        self.canvas_from_screen(viewport) * viewport
    }

    /// Moves the board by `delta` screen points (drag right: the board follows right).
    pub fn pan_by(&mut self, delta: Vec2) {
        if delta.is_finite() {
            self.pan += delta;
        }
    }

    /// Multiplies the zoom by `factor`, keeping the canvas point under the screen
    /// position `anchor` where it is.
    pub fn zoom_around(&mut self, factor: f32, anchor: Pos2, viewport: Rect) {
        self.set_zoom_around(self.zoom * factor, anchor, viewport);
    }

    /// Sets the zoom (clamped to [`MIN_ZOOM`]..=[`MAX_ZOOM`]), keeping the canvas
    /// point under the screen position `anchor` where it is.
    pub fn set_zoom_around(&mut self, zoom: f32, anchor: Pos2, viewport: Rect) {
        if !zoom.is_finite() || !anchor.is_finite() {
            return;
        }
        let anchor_in_canvas = self.canvas_from_screen(viewport) * anchor;
        self.zoom = zoom.clamp(MIN_ZOOM, MAX_ZOOM);
        // Solve `viewport.min + pan + anchor_in_canvas * zoom == anchor` for `pan`.
        self.pan = anchor - viewport.min - anchor_in_canvas.to_vec2() * self.zoom;
    }

    /// Zooms and pans so that `content` (canvas coordinates) fills `viewport` with
    /// `margin` screen points to spare on every side, never zooming in past 100 %
    /// (a single small doodle should not fill the screen).
    pub fn fit(&mut self, content: Rect, viewport: Rect, margin: f32) {
        if !content.is_finite() || !viewport.is_finite() {
            return;
        }
        let room = (viewport.size() - Vec2::splat(2.0 * margin)).max(Vec2::splat(1.0));
        let size = content.size().max(Vec2::splat(1.0e-3));
        let zoom = (room.x / size.x).min(room.y / size.y).min(1.0);
        self.zoom = zoom.clamp(MIN_ZOOM, MAX_ZOOM);
        self.center_on(content.center(), viewport);
    }

    /// Pans so that the canvas point `target` is at the centre of `viewport`.
    pub fn center_on(&mut self, target: Pos2, viewport: Rect) {
        self.pan = viewport.size() * 0.5 - target.to_vec2() * self.zoom;
    }
}

#[cfg(test)]
mod tests {
    use egui::{pos2, vec2};

    use super::*;

    fn viewport() -> Rect {
        Rect::from_min_size(pos2(30.0, 50.0), vec2(800.0, 600.0))
    }

    fn assert_near(a: Pos2, b: Pos2) {
        assert!(a.distance(b) < 1.0e-3, "{a:?} is not {b:?}");
    }

    #[test]
    fn round_trip_is_the_identity() {
        let camera = Camera {
            pan: vec2(-123.5, 42.0),
            zoom: 2.7,
        };
        for p in [pos2(0.0, 0.0), pos2(13.0, -7.5), pos2(-400.0, 900.0)] {
            let screen = camera.screen_from_canvas(viewport()) * p;
            assert_near(camera.canvas_from_screen(viewport()) * screen, p);
        }
    }

    #[test]
    fn default_camera_maps_origin_to_viewport_corner() {
        let camera = Camera::default();
        assert_eq!(
            camera.screen_from_canvas(viewport()) * Pos2::ZERO,
            viewport().min
        );
        assert_eq!(
            camera.screen_from_canvas(viewport()) * pos2(10.0, 20.0),
            pos2(40.0, 70.0)
        );
    }

    #[test]
    fn zoom_keeps_the_point_under_the_anchor() {
        let mut camera = Camera {
            pan: vec2(17.0, -3.0),
            zoom: 1.5,
        };
        let anchor = pos2(412.0, 333.0);
        let before = camera.canvas_from_screen(viewport()) * anchor;
        camera.zoom_around(2.0, anchor, viewport());
        assert!((camera.zoom - 3.0).abs() < 1.0e-6);
        assert_near(camera.canvas_from_screen(viewport()) * anchor, before);
        camera.zoom_around(0.1, anchor, viewport());
        assert_near(camera.canvas_from_screen(viewport()) * anchor, before);
    }

    #[test]
    fn zoom_is_clamped_and_still_anchored() {
        let mut camera = Camera::default();
        let anchor = pos2(100.0, 100.0);
        let before = camera.canvas_from_screen(viewport()) * anchor;
        camera.zoom_around(1.0e6, anchor, viewport());
        assert!((camera.zoom - MAX_ZOOM).abs() < f32::EPSILON);
        assert_near(camera.canvas_from_screen(viewport()) * anchor, before);
        camera.set_zoom_around(0.0, anchor, viewport());
        assert!((camera.zoom - MIN_ZOOM).abs() < f32::EPSILON);
        camera.set_zoom_around(f32::NAN, anchor, viewport());
        assert!((camera.zoom - MIN_ZOOM).abs() < f32::EPSILON);
    }

    #[test]
    fn pan_moves_the_board_with_the_drag() {
        let mut camera = Camera::default();
        let p = pos2(5.0, 5.0);
        let before = camera.screen_from_canvas(viewport()) * p;
        camera.pan_by(vec2(10.0, -4.0));
        assert_near(
            camera.screen_from_canvas(viewport()) * p,
            before + vec2(10.0, -4.0),
        );
    }

    #[test]
    fn fit_shows_all_content_centred() {
        let mut camera = Camera::default();
        let content = Rect::from_min_max(pos2(1000.0, 1000.0), pos2(5000.0, 2000.0));
        camera.fit(content, viewport(), 20.0);
        let on_screen = camera.screen_from_canvas(viewport()) * content;
        assert!(viewport().shrink(19.9).contains_rect(on_screen));
        assert_near(on_screen.center(), viewport().center());
        // Wide content is limited by the width: it spans it, margins aside.
        assert!((on_screen.width() - (800.0 - 40.0)).abs() < 1.0e-2);

        // A tiny doodle is centred at 100 %, not blown up.
        let doodle = Rect::from_min_max(pos2(-3.0, -3.0), pos2(3.0, 3.0));
        camera.fit(doodle, viewport(), 20.0);
        assert!((camera.zoom - 1.0).abs() < f32::EPSILON);
        assert_near(
            camera.screen_from_canvas(viewport()) * pos2(0.0, 0.0),
            viewport().center(),
        );
    }

    #[test]
    fn visible_canvas_is_the_viewport_mapped_back() {
        let camera = Camera {
            pan: vec2(100.0, 0.0),
            zoom: 2.0,
        };
        let visible = camera.visible_canvas(viewport());
        assert_near(visible.min, pos2(-50.0, 0.0));
        assert_near(visible.max, pos2(350.0, 300.0));
    }
}
