//! The canvas: turns pointer input into drawing ops and paints the board.
//!
//! It knows nothing of the network. Each frame runs in two halves, so that the ops
//! of this frame are on the board before it is painted:
//!
//! 1. [`Canvas::input_ui`] reads the pointer and keys, moves the camera (pan and
//!    zoom) and returns what the user did as [`CanvasInput`]: *actions*, each a
//!    list of ops that one undo takes back, and where the pointer now is.
//! 2. The caller applies the actions (`app.rs` hands them to the session, tests to
//!    a plain [`Board`](tabula_shared::Board)) and then calls
//!    [`Canvas::paint_ui`] with the board.
//!
//! What a primary drag means depends on the tool (see [`gesture`]):
//! - pen and highlighter strokes stream as they are drawn: a press sends
//!   `StrokeBegin`, each frame at most one `StrokeAppend` with that frame's
//!   stabilised points, the release `StrokeEnd`;
//! - line, arrow, rectangle and ellipse are previewed while dragged and created on
//!   release (shift constrains them);
//! - the text tool opens an editor ([`text_edit`]) where it clicks;
//! - the eraser fades what it touches and deletes it all on release;
//! - the select tool clicks, shift-clicks, rubber-bands, drags the selection,
//!   resizes a shape by its handles and double-clicks a text to edit it; Delete
//!   or Backspace deletes the selection, ctrl+D duplicates it.
//!
//! While a modal dialog covers it ([`Canvas::set_covered`]) the canvas takes no
//! keys, scrolling, zooming, presses or clicks: they are the dialog's.
//!
//! # Layout
//! - this module: [`Canvas`], its state, and the view changes the zoom buttons
//!   ask for; `input.rs` adds the first half of a frame ([`Canvas::input_ui`]),
//!   `paint.rs` the second ([`Canvas::paint_ui`]).
//! - [`camera`]: pan and zoom, and the `screen_from_canvas` transform both ways.
//! - [`tools`]: the tools with their shortcuts, the palette, widths and font sizes.
//! - [`gesture`]: what a held button is doing (drawing, dragging out a shape,
//!   erasing, moving, resizing, rubber-banding) and the geometry each needs.
//! - [`selection`]: the selected objects and the ops that move, resize,
//!   restyle, restack, duplicate and delete them.
//! - [`text_edit`]: typing a text where it will sit on the board.
//! - [`render`]: painting one object (strokes, shapes, texts) with egui, and
//!   tiny ones as dots.
//! - [`images`]: images' textures, one per picture, decoded off the UI
//!   thread, and the placeholder where a picture is loading, missing or
//!   damaged.
//! - [`cache`]: what painting needs of each object on show, kept from frame to
//!   frame.
//! - [`curve`]: the screen's line pieces for a curve of [`crate::outline`]
//!   (a stroke, an ellipse), as fine as the zoom needs.
//! - [`live_drag`]: our drag as the others see it before it ends (the
//!   change it would make, the op it lands as).
//! - [`previews`]: the others' drags under way, kept until the op they land
//!   as arrives, and painted over the board in their colour.
//! - [`overlay`]: the dot grid, selection outlines and handles, the rubber band,
//!   the eraser's reach and peers' pointers.
//! - [`convert`]: canvas points, rectangles and colours as egui's, the leaf the
//!   others share.
//!
//! Imports run one way: this module uses its children, `input.rs` and
//! `paint.rs` use this module and the others, and [`convert`] uses none.

pub mod cache;
pub mod camera;
pub mod convert;
pub mod curve;
pub mod gesture;
pub mod images;
mod input;
pub mod live_drag;
pub mod overlay;
mod paint;
pub mod previews;
pub mod render;
pub mod selection;
pub mod text_edit;
pub mod tools;

use std::cell::RefCell;

use egui::emath::TSTransform;
use egui::{Pos2, Rect, Response, vec2};
use tabula_shared::presence::Preview;
use tabula_shared::{Color, ObjectId, Op, Point};

use self::cache::BoardCache;
use self::camera::{Camera, ZOOM_STEP};
use self::convert::rect_from_canvas;
use self::gesture::Gesture;
use self::images::Textures;
use self::previews::PeerDrags;
use self::selection::Selection;
use self::text_edit::TextEditor;
use self::tools::ToolSettings;

/// The free border kept around the content when fitting it to the window.
const FIT_MARGIN: f32 = 48.0;
/// The eraser's reach, in screen points (it erases the same on-screen area at
/// any zoom).
pub const ERASER_PX: f32 = 10.0;

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
    /// What to apply, in order: each inner list is one action, undone as one.
    pub actions: Vec<Vec<Op>>,
    /// The canvas point under the pointer, `None` when it is not over the canvas.
    pub pointer: Option<Point>,
    /// Whether [`Self::pointer`] differs from last frame's, so that only changes
    /// are passed on.
    pub pointer_changed: bool,
    /// What our drag shows the others now ([`live_drag`]): the change a
    /// move, a resize or a shape being dragged out would make, and on the
    /// frame it ends the op that makes it real; `None` when nothing is
    /// dragged, or the drag was let go of with Escape.
    pub preview: Option<Preview>,
}

impl CanvasInput {
    /// Every op of every action, in order.
    pub fn ops(&self) -> impl Iterator<Item = &Op> + '_ {
        self.actions.iter().flatten()
    }
}

/// The board view: camera, the gesture under way, the selection, the text being
/// typed and the last pointer reported.
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
    /// What the select tool holds.
    selection: Selection,
    /// What the eraser has touched in the sweep under way, deleted on release.
    erased: Vec<ObjectId>,
    /// The text being typed, if any.
    editor: Option<TextEditor>,
    /// The settings of the last frame, for previews and the eraser's circle.
    tools: ToolSettings,
    /// Whether shift was held this frame (constrains shapes while dragging).
    shift: bool,
    /// Whether a modal dialog covers the canvas this frame, set by the app
    /// before [`Self::input_ui`]: Delete, Escape and the wheel are the dialog's
    /// then, not the board's.
    covered: bool,
    /// The objects' bounds and ink from the last board painted, so that a frame
    /// of an unchanged board culls by rectangles alone; in a cell because
    /// painting only reads the canvas.
    cache: RefCell<BoardCache>,
    /// The images' textures, one per picture, made as they come on screen.
    textures: RefCell<Textures>,
    /// The drag that ended this frame with an op, and that op, for this
    /// frame's [`CanvasInput::preview`].
    landed: Option<Preview>,
    /// The others' drags under way, shown over the board ([`previews`]).
    peer_drags: PeerDrags,
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
            selection: Selection::default(),
            erased: Vec::new(),
            editor: None,
            tools: ToolSettings::default(),
            shift: false,
            covered: false,
            cache: RefCell::default(),
            textures: RefCell::default(),
            landed: None,
            peer_drags: PeerDrags::default(),
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

    /// Whether the board is being dragged around (space or the middle
    /// button held).
    #[must_use]
    pub fn is_panning(&self) -> bool {
        matches!(self.gesture, Gesture::Panning { .. })
    }

    /// What the select tool holds.
    #[must_use]
    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// The selection, to change it (after a duplicate, say).
    pub fn selection_mut(&mut self) -> &mut Selection {
        &mut self.selection
    }

    /// The others' drags under way, to take in their latest presence
    /// before painting.
    pub fn peer_drags_mut(&mut self) -> &mut PeerDrags {
        &mut self.peer_drags
    }

    /// The others' drags under way, as shown.
    #[must_use]
    pub fn peer_drags(&self) -> &PeerDrags {
        &self.peer_drags
    }

    /// The text being typed, if any.
    #[must_use]
    pub fn editor(&self) -> Option<&TextEditor> {
        self.editor.as_ref()
    }

    /// Says whether a modal dialog covers the canvas, before each
    /// [`Self::input_ui`]. While one does, the canvas takes no keys (Delete,
    /// ctrl+D, ctrl+A, Escape), no scrolling or zooming and no presses or
    /// clicks; a gesture already under way still follows the pointer and ends
    /// on its release.
    pub fn set_covered(&mut self, covered: bool) {
        self.covered = covered;
    }

    /// Whether a modal dialog covers the canvas (see [`Self::set_covered`]).
    #[must_use]
    pub fn is_covered(&self) -> bool {
        self.covered
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
}
