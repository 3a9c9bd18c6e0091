//! The canvas: turns pointer input into drawing ops and paints the board.
//!
//! It knows nothing of the network. Each frame runs in two halves, so that the ops
//! of this frame are on the board before it is painted:
//!
//! 1. [`Canvas::input_ui`] reads the pointer and keys, moves the camera (pan and
//!    zoom) and returns what the user did as [`CanvasInput`]: *actions*, each a
//!    list of ops that one undo takes back, and where the pointer now is.
//! 2. The caller applies the actions (`app.rs` hands them to the session, tests to
//!    a plain [`Board`]) and then calls [`Canvas::paint_ui`] with the board.
//!
//! What a primary drag means depends on the tool (see [`crate::gesture`]):
//! - pen and highlighter strokes stream as they are drawn: a press sends
//!   `StrokeBegin`, each frame at most one `StrokeAppend` with that frame's
//!   stabilised points, the release `StrokeEnd`;
//! - line, arrow, rectangle and ellipse are previewed while dragged and created on
//!   release (shift constrains them);
//! - the text tool opens an editor ([`crate::text_edit`]) where it clicks;
//! - the eraser fades what it touches and deletes it all on release;
//! - the select tool clicks, shift-clicks, rubber-bands, drags the selection,
//!   resizes a shape by its handles and double-clicks a text to edit it; Delete
//!   or Backspace deletes the selection, ctrl+D duplicates it.
//!
//! While a modal dialog covers it ([`Canvas::set_covered`]) the canvas takes no
//! keys, scrolling, zooming, presses or clicks: they are the dialog's.

use egui::emath::TSTransform;
use egui::{
    Color32, CursorIcon, Event, Key, Modifiers, PointerButton, Pos2, Rect, Response, Sense, Ui,
    Vec2, pos2, vec2,
};
use tabula_shared::object::ObjectKind;
use tabula_shared::{Board, Color, Object, ObjectId, Op, OpKind, Point, StrokeId};

use crate::camera::{Camera, ZOOM_STEP};
use crate::gesture::{Drawing, Gesture, constrain, swept};
use crate::overlay::{self, HANDLE_PX};
use crate::render::{BoardCache, DOT_PX, Dots, paint_object};
use crate::selection::{self, Selection};
use crate::text_edit::{EditorOutcome, TextEditor};
use crate::tools::{Tool, ToolSettings};
use crate::ui::theme::PAPER;

/// Points closer than this on screen to the last kept point are dropped.
const MIN_SPACING_PX: f32 = 1.5;
/// The free border kept around the content when fitting it to the window.
const FIT_MARGIN: f32 = 48.0;
/// How near the pointer must be to an object to pick it, in screen points.
const PICK_PX: f32 = 6.0;
/// The eraser's reach, in screen points (it erases the same on-screen area at
/// any zoom).
pub const ERASER_PX: f32 = 10.0;
/// A shape dragged out shorter than this on screen is taken for a stray click.
const MIN_SHAPE_PX: f32 = 3.0;

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
    cache: std::cell::RefCell<BoardCache>,
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
            cache: std::cell::RefCell::default(),
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

    /// What the select tool holds.
    #[must_use]
    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// The selection, to change it (after a duplicate, say).
    pub fn selection_mut(&mut self) -> &mut Selection {
        &mut self.selection
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

    /// Takes the whole available space, reads this frame's pointer and key input
    /// and turns it into actions and camera moves. `board` is the board as shown,
    /// for picking and erasing. Call [`Self::paint_ui`] after applying the actions.
    /// Under a modal dialog ([`Self::set_covered`]) it reads only the pointer's
    /// moves and releases, for a gesture already under way.
    pub fn input_ui(&mut self, ui: &mut Ui, tools: ToolSettings, board: &Board) -> CanvasInput {
        let viewport = ui.available_rect_before_wrap();
        self.viewport = viewport;
        if tools.tool != self.tools.tool {
            self.erased.clear();
            if tools.tool != Tool::Select {
                self.selection.clear();
            }
        }
        self.tools = tools;
        self.selection.retain_shown(board);
        let response = ui.interact(
            viewport,
            ui.make_persistent_id("canvas"),
            Sense::click_and_drag(),
        );
        ui.advance_cursor_after_rect(viewport);

        let mut actions = Vec::new();
        self.text_editor_ui(ui.ctx(), &mut actions);

        let (events, modifiers, space_down, primary_down, middle_down) = ui.input(|i| {
            let events: Vec<Event> = i
                .events
                .iter()
                .filter(|e| matches!(e, Event::PointerMoved(_) | Event::PointerButton { .. }))
                .cloned()
                .collect();
            (
                events,
                i.modifiers,
                i.key_down(Key::Space),
                i.pointer.primary_down(),
                i.pointer.middle_down(),
            )
        });
        self.shift = modifiers.shift;
        // A press counts when it lands on the canvas itself, not on a window,
        // toolbar or modal dialog floating above it. egui's modal backdrop keeps
        // the pointer off the canvas (though not the keys) only from the frame
        // after the dialog first shows, so the canvas does not rely on it.
        let on_canvas = !self.covered && (response.hovered() || response.dragged());

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
                    self.press(button, pos, space_down, board, &mut actions);
                }
                Event::PointerMoved(pos) => self.motion(pos, board),
                Event::PointerButton {
                    pos,
                    button,
                    pressed: false,
                    ..
                } => self.release(button, pos, board, &mut actions),
                _ => {}
            }
        }
        self.release_if_lifted(primary_down, middle_down, board, &mut actions);
        if let Gesture::Drawing(d) = &mut self.gesture
            && let Some(append) = d.take_append()
        {
            actions.push(vec![append]);
        }
        if !self.covered {
            self.clicks(&response, board, space_down);
            if self.editor.is_none() && !ui.ctx().text_edit_focused() {
                self.keys_ui(ui, board, &mut actions);
            }
            if response.hovered() {
                self.scroll_and_zoom(ui, &response);
            }
        }
        let pointer_changed = self.update_pointer(ui, on_canvas);
        self.set_cursor_icon(ui, &response, space_down);

        actions.retain(|a: &Vec<Op>| !a.is_empty());
        if !actions.is_empty() {
            tracing::trace!(count = actions.len(), "canvas actions");
        }
        CanvasInput {
            response,
            actions,
            pointer: self.pointer,
            pointer_changed,
        }
    }

    /// A release can go missing (focus lost mid-stroke): never leave a gesture
    /// hanging once its button is up.
    fn release_if_lifted(
        &mut self,
        primary_down: bool,
        middle_down: bool,
        board: &Board,
        actions: &mut Vec<Vec<Op>>,
    ) {
        let held = match &self.gesture {
            Gesture::Idle => None,
            Gesture::Panning { button, .. } => Some(*button),
            _ => Some(PointerButton::Primary),
        };
        let still_down = |b: PointerButton| match b {
            PointerButton::Primary => primary_down,
            PointerButton::Middle => middle_down,
            _ => false,
        };
        if let Some(button) = held.filter(|b| !still_down(*b)) {
            let at = self.last_gesture_pos().unwrap_or(self.viewport.center());
            self.release(button, at, board, actions);
        }
    }

    /// Clicks that open a text editor: a double-click on a text with the select
    /// tool, any click with the text tool.
    fn clicks(&mut self, response: &Response, board: &Board, space_down: bool) {
        if response.double_clicked() && self.tools.tool == Tool::Select {
            self.double_click(response, board);
        }
        if response.clicked()
            && self.tools.tool == Tool::Text
            && !space_down
            && self.editor.is_none()
        {
            self.place_text(response, board);
        }
    }

    /// Shows the text editor if one is open, and ends it when typing is done.
    fn text_editor_ui(&mut self, ctx: &egui::Context, actions: &mut Vec<Vec<Op>>) {
        let screen_from_canvas = self.screen_from_canvas();
        let tools = self.tools;
        if let Some(editor) = &mut self.editor
            && let EditorOutcome::Done(ops) = editor.editor_ui(ctx, screen_from_canvas, &tools)
        {
            actions.push(ops);
            self.editor = None;
        }
    }

    /// Where the gesture under way last saw the pointer, on screen.
    fn last_gesture_pos(&self) -> Option<Pos2> {
        let canvas = match &self.gesture {
            Gesture::Idle => return None,
            Gesture::Panning { last, .. } => return Some(*last),
            Gesture::Drawing(d) => d.last_kept,
            Gesture::Erasing { last } => *last,
            Gesture::Shape { to, .. }
            | Gesture::Moving { to, .. }
            | Gesture::Resizing { to, .. }
            | Gesture::Selecting { to, .. } => *to,
        };
        Some(self.screen_from_canvas() * canvas)
    }

    /// Handles a button going down on the canvas.
    fn press(
        &mut self,
        button: PointerButton,
        pos: Pos2,
        space_down: bool,
        board: &Board,
        actions: &mut Vec<Vec<Op>>,
    ) {
        let at = self.camera.canvas_from_screen(self.viewport) * pos;
        match button {
            PointerButton::Middle => self.gesture = Gesture::Panning { button, last: pos },
            PointerButton::Primary if space_down => {
                self.gesture = Gesture::Panning { button, last: pos };
            }
            PointerButton::Primary => match self.tools.tool {
                Tool::Pen | Tool::Highlighter => {
                    let stroke = StrokeId::random();
                    actions.push(vec![Op::new(OpKind::StrokeBegin {
                        stroke,
                        style: self.tools.stroke_style(),
                        start: point_from_pos(at),
                    })]);
                    self.gesture = Gesture::Drawing(Drawing {
                        stroke,
                        smoothed: at,
                        last_kept: at,
                        batch: Vec::new(),
                    });
                }
                Tool::Line | Tool::Arrow | Tool::Rectangle | Tool::Ellipse => {
                    if let Some(kind) = self.tools.tool.shape_kind() {
                        self.gesture = Gesture::Shape {
                            kind,
                            from: at,
                            to: at,
                        };
                    }
                }
                // A text is placed on the click (the release), so that the
                // release does not take the keyboard from the new editor.
                Tool::Text => {}
                Tool::Eraser => {
                    self.erased.clear();
                    self.gesture = Gesture::Erasing { last: at };
                    self.erase(board, at, at);
                }
                Tool::Select => self.press_select(at, board),
            },
            _ => {}
        }
    }

    /// A press with the select tool: a handle resizes, an object picks (shift
    /// toggles it) and drags the selection, empty board starts a rubber band.
    fn press_select(&mut self, at: Pos2, board: &Board) {
        let radius = PICK_PX / self.camera.zoom;
        if let Some((object, handle)) = self.handle_at(at, board) {
            self.gesture = Gesture::Resizing {
                object,
                handle,
                to: at,
            };
            return;
        }
        match board.object_at(point_from_pos(at), radius) {
            Some(hit) if self.shift => self.selection.toggle(hit.id),
            Some(hit) => {
                if !self.selection.contains(hit.id) {
                    self.selection.set([hit.id]);
                }
                self.gesture = Gesture::Moving { from: at, to: at };
            }
            None => {
                if !self.shift {
                    self.selection.clear();
                }
                self.gesture = Gesture::Selecting {
                    from: at,
                    to: at,
                    additive: self.shift,
                };
            }
        }
    }

    /// The handle of the one selected shape under `at` (canvas), if any.
    fn handle_at(&self, at: Pos2, board: &Board) -> Option<(ObjectId, selection::Handle)> {
        let mut selected = self.selection.objects(board);
        let only = selected.next()?;
        if selected.next().is_some() {
            return None;
        }
        let reach = HANDLE_PX / self.camera.zoom;
        selection::handles(only)
            .into_iter()
            .find(|h| {
                (h.at.x - at.x).abs() <= reach * 0.75 && (h.at.y - at.y).abs() <= reach * 0.75
            })
            .map(|h| (only.id, h))
    }

    /// A click with the text tool edits the text under it, or starts a new one.
    fn place_text(&mut self, response: &Response, board: &Board) {
        let Some(pos) = response.interact_pointer_pos() else {
            return;
        };
        let at = point_from_pos(self.camera.canvas_from_screen(self.viewport) * pos);
        let radius = PICK_PX / self.camera.zoom;
        self.editor = Some(
            match board
                .object_at(at, radius)
                .filter(|o| o.data.kind == ObjectKind::Text)
            {
                Some(text) => TextEditor::existing(text),
                None => TextEditor::new_text(at, &self.tools),
            },
        );
    }

    /// A double-click with the select tool on a text opens it for editing.
    fn double_click(&mut self, response: &Response, board: &Board) {
        let Some(pos) = response.interact_pointer_pos() else {
            return;
        };
        let at = point_from_pos(self.camera.canvas_from_screen(self.viewport) * pos);
        if let Some(text) = board
            .object_at(at, PICK_PX / self.camera.zoom)
            .filter(|o| o.data.kind == ObjectKind::Text)
        {
            self.editor = Some(TextEditor::existing(text));
            self.gesture = Gesture::Idle;
        }
    }

    /// Marks what the eraser touches between `from` and `to` (canvas).
    fn erase(&mut self, board: &Board, from: Pos2, to: Pos2) {
        for id in swept(board, from, to, ERASER_PX / self.camera.zoom) {
            if !self.erased.contains(&id) {
                self.erased.push(id);
            }
        }
    }

    /// Handles the pointer moving to `pos` (screen).
    fn motion(&mut self, pos: Pos2, board: &Board) {
        let at = self.camera.canvas_from_screen(self.viewport) * pos;
        match &mut self.gesture {
            Gesture::Drawing(d) => d.sample(at, MIN_SPACING_PX / self.camera.zoom),
            Gesture::Panning { last, .. } => {
                let delta = pos - *last;
                *last = pos;
                self.camera.pan_by(delta);
            }
            Gesture::Erasing { last } => {
                let from = std::mem::replace(last, at);
                self.erase(board, from, at);
            }
            Gesture::Shape { to, .. }
            | Gesture::Moving { to, .. }
            | Gesture::Resizing { to, .. }
            | Gesture::Selecting { to, .. } => *to = at,
            Gesture::Idle => {}
        }
    }

    /// Handles a button coming up at `pos` (screen).
    fn release(
        &mut self,
        button: PointerButton,
        pos: Pos2,
        board: &Board,
        actions: &mut Vec<Vec<Op>>,
    ) {
        if let Gesture::Panning { button: held, .. } = &self.gesture {
            if *held == button {
                self.motion(pos, board);
                self.gesture = Gesture::Idle;
            }
            return;
        }
        if button != PointerButton::Primary || matches!(self.gesture, Gesture::Idle) {
            return;
        }
        self.motion(pos, board);
        let zoom = self.camera.zoom;
        match std::mem::replace(&mut self.gesture, Gesture::Idle) {
            Gesture::Drawing(mut d) => {
                d.finish(
                    self.camera.canvas_from_screen(self.viewport) * pos,
                    MIN_SPACING_PX / zoom,
                );
                actions.extend(d.take_append().map(|op| vec![op]));
                actions.push(vec![Op::new(OpKind::StrokeEnd { stroke: d.stroke })]);
            }
            Gesture::Shape { kind, from, to } => {
                let to = constrain(kind, from, to, self.shift);
                if from.distance(to) * zoom >= MIN_SHAPE_PX {
                    let data = self
                        .tools
                        .shape(kind, point_from_pos(from), point_from_pos(to));
                    actions.push(vec![Op::new(OpKind::Create {
                        object: ObjectId::random(),
                        data,
                    })]);
                }
            }
            Gesture::Erasing { .. } => {
                let ops = std::mem::take(&mut self.erased)
                    .into_iter()
                    .filter(|id| board.object(*id).is_some())
                    .map(|object| Op::new(OpKind::Delete { object }))
                    .collect();
                actions.push(ops);
            }
            Gesture::Moving { from, to } => {
                if from.distance(to) * zoom >= 1.0 {
                    let by = point_from_pos((to - from).to_pos2());
                    actions.push(self.selection.move_by(board, by));
                }
            }
            Gesture::Resizing { object, handle, to } => {
                if let Some(o) = board.object(object) {
                    actions.push(vec![selection::resize(o, handle, point_from_pos(to))]);
                }
            }
            Gesture::Selecting { from, to, additive } => {
                let band =
                    tabula_shared::Rect::from_corners(point_from_pos(from), point_from_pos(to));
                let inside = board
                    .objects()
                    .filter(|o| band.contains_rect(o.bounds()))
                    .map(|o| o.id);
                if additive {
                    self.selection.add(inside);
                } else {
                    self.selection.set(inside);
                }
            }
            Gesture::Panning { .. } | Gesture::Idle => {}
        }
    }

    /// Keys that act on the selection: Delete or Backspace deletes it, ctrl+D
    /// duplicates it, ctrl+A selects everything, Escape lets it go.
    fn keys_ui(&mut self, ui: &Ui, board: &Board, actions: &mut Vec<Vec<Op>>) {
        let (delete, duplicate, all, escape) = ui.input_mut(|i| {
            (
                i.consume_key(Modifiers::NONE, Key::Delete)
                    || i.consume_key(Modifiers::NONE, Key::Backspace),
                i.consume_key(Modifiers::COMMAND, Key::D),
                i.consume_key(Modifiers::COMMAND, Key::A),
                i.consume_key(Modifiers::NONE, Key::Escape),
            )
        });
        if delete {
            actions.push(self.selection.delete(board));
            self.selection.clear();
        }
        if duplicate {
            self.duplicate(board, actions);
        }
        if all && self.tools.tool == Tool::Select {
            self.selection.set(board.objects().map(|o| o.id));
        }
        if escape {
            self.selection.clear();
        }
    }

    /// Duplicates the selection and selects the copies.
    pub fn duplicate(&mut self, board: &Board, actions: &mut Vec<Vec<Op>>) {
        let (ops, ids) = self.selection.duplicate(board);
        if !ops.is_empty() {
            actions.push(ops);
            self.selection.set(ids);
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

    /// The tool's cursor over the board, a hand while panning, arrows over what
    /// the select tool would move.
    fn set_cursor_icon(&self, ui: &Ui, response: &Response, space_down: bool) {
        let tool = self.tools.tool;
        let icon = match self.gesture {
            Gesture::Panning { .. } => CursorIcon::Grabbing,
            Gesture::Moving { .. } => CursorIcon::Move,
            Gesture::Idle if response.hovered() && space_down => CursorIcon::Grab,
            Gesture::Idle if !response.hovered() => return,
            _ => tool.cursor(),
        };
        ui.ctx().set_cursor_icon(icon);
    }

    /// Paints the paper, the dot grid, every visible object (with the gesture
    /// under way previewed), the selection and the peers' pointers.
    pub fn paint_ui(&self, ui: &Ui, board: &Board, cursors: &[PeerCursor<'_>]) {
        let painter = ui.painter_at(self.viewport);
        painter.rect_filled(self.viewport, 0.0, PAPER);
        overlay::paint_grid(&painter, &self.camera, self.viewport);

        let screen_from_canvas = self.screen_from_canvas();
        let visible = self.camera.visible_canvas(self.viewport);
        let editing = self.editor.as_ref().and_then(|e| e.object);
        let mut cache = self.cache.borrow_mut();
        cache.update(board);
        let mut dots = Dots::with_capacity(cache.objects().len());
        let previewing = self.is_previewing();
        for cached in cache.objects() {
            if Some(cached.id) == editing {
                continue;
            }
            if previewing && self.is_previewed(cached.id) {
                // Moved, resized or faded by the gesture under way: painted as
                // it would be left, from a copy.
                if let Some(object) = board.object(cached.id) {
                    let shown = self.as_previewed(object);
                    if rect_from_canvas(shown.bounds()).intersects(visible) {
                        dots.flush(&painter);
                        paint_object(&painter, screen_from_canvas, &shown);
                    }
                }
                continue;
            }
            if !cached.bounds.intersects(visible) {
                continue;
            }
            let on_screen = screen_from_canvas * cached.bounds;
            if cached.dot && on_screen.width() < DOT_PX && on_screen.height() < DOT_PX {
                dots.push(cached, on_screen, screen_from_canvas.scaling);
            } else if let Some(object) = board.object(cached.id) {
                dots.flush(&painter);
                paint_object(&painter, screen_from_canvas, object);
            }
        }
        dots.flush(&painter);
        drop(cache);
        if let Some(preview) = self.shape_preview(board) {
            paint_object(&painter, screen_from_canvas, &preview);
        }
        self.paint_selection_ui(&painter, board);
        if let Gesture::Selecting { from, to, .. } = self.gesture {
            overlay::paint_rubber_band(
                &painter,
                Rect::from_two_pos(screen_from_canvas * from, screen_from_canvas * to),
            );
        }
        if self.tools.tool == Tool::Eraser
            && let Some(pointer) = self.pointer
        {
            overlay::paint_eraser(
                &painter,
                screen_from_canvas * pos_from_point(pointer),
                ERASER_PX,
            );
        }
        for cursor in cursors {
            let pos = screen_from_canvas * pos_from_point(cursor.position);
            if self.viewport.expand(4.0).contains(pos) {
                overlay::paint_peer_cursor(&painter, pos, cursor.name, color32(cursor.color));
            }
        }
    }

    /// Whether the gesture under way shows some objects otherwise than the
    /// board has them (see [`Self::as_previewed`]).
    fn is_previewing(&self) -> bool {
        matches!(
            self.gesture,
            Gesture::Moving { .. } | Gesture::Resizing { .. }
        ) || !self.erased.is_empty()
    }

    /// Whether the gesture under way shows object `id` otherwise than the board
    /// has it.
    fn is_previewed(&self, id: ObjectId) -> bool {
        let by_gesture = match &self.gesture {
            Gesture::Moving { .. } => self.selection.contains(id),
            Gesture::Resizing { object, .. } => *object == id,
            _ => false,
        };
        by_gesture || self.erased.contains(&id)
    }

    /// An object as the gesture under way would leave it: moved with the
    /// selection, resized by its handle, or faded if the eraser touched it.
    fn as_previewed(&self, object: &Object) -> Object {
        let mut shown = object.clone();
        match &self.gesture {
            Gesture::Moving { from, to } if self.selection.contains(object.id) => {
                shown.offset = shown.offset.offset(point_from_pos((*to - *from).to_pos2()));
            }
            Gesture::Resizing {
                object: id,
                handle,
                to,
            } if *id == object.id => {
                if let OpKind::Set {
                    property: tabula_shared::Property::Points(points),
                    ..
                } = selection::resize(object, *handle, point_from_pos(*to)).kind
                {
                    shown.data.points = points;
                }
            }
            _ => {}
        }
        if self.erased.contains(&object.id) {
            shown.data.color.a /= 4;
        }
        shown
    }

    /// The shape being dragged out, as it would be created now.
    fn shape_preview(&self, board: &Board) -> Option<Object> {
        let Gesture::Shape { kind, from, to } = self.gesture else {
            return None;
        };
        let to = constrain(kind, from, to, self.shift);
        let _ = board;
        Some(Object {
            id: ObjectId::random(),
            author: tabula_shared::ClientId(uuid::Uuid::nil()),
            data: self
                .tools
                .shape(kind, point_from_pos(from), point_from_pos(to)),
            offset: Point::default(),
            layer: i64::MAX,
            finished: false,
            deleted: false,
        })
    }

    /// Outlines around the selected objects, and handles on a lone shape.
    fn paint_selection_ui(&self, painter: &egui::Painter, board: &Board) {
        let screen_from_canvas = self.screen_from_canvas();
        let mut count = 0;
        let mut last = None;
        for object in self.selection.objects(board) {
            let shown = self.as_previewed(object);
            overlay::paint_selected(
                painter,
                screen_from_canvas * rect_from_canvas(shown.bounds()),
            );
            count += 1;
            last = Some(shown);
        }
        if count == 1
            && let Some(only) = last
        {
            for handle in selection::handles(&only) {
                overlay::paint_handle(painter, screen_from_canvas * pos_from_point(handle.at));
            }
        }
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
