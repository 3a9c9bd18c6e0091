//! The first half of a canvas frame: pointer and keys in, actions and camera
//! moves out ([`Canvas::input_ui`]).

use egui::{CursorIcon, Event, Key, Modifiers, PointerButton, Pos2, Response, Sense, Ui, Vec2};
use tabula_shared::object::ObjectKind;
use tabula_shared::{Board, Object, ObjectId, Op, OpKind, Point};

use super::convert::point_from_pos;
use super::gesture::{Drawing, Gesture, constrain, swept};
use super::live_drag::{MIN_MOVE_PX, MIN_SHAPE_PX};
use super::overlay::HANDLE_PX;
use super::selection;
use super::text_edit::{EditorOutcome, TextEditor};
use super::tools::{NOTE_SIDE, Tool, ToolSettings};
use super::{Canvas, CanvasInput, ERASER_PX};

/// Points closer than this on screen to the last kept point are dropped.
const MIN_SPACING_PX: f32 = 1.5;
/// How near the pointer must be to an object to pick it, in screen points.
const PICK_PX: f32 = 6.0;

impl Canvas {
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
        if let Some(editor) = &mut self.editor
            && let Some(object) = editor.object.and_then(|id| board.object(id))
        {
            editor.follow(object);
        }
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
        if let Gesture::Drawing(d) = &mut self.gesture {
            actions.extend(d.take_ops().into_iter().map(|op| vec![op]));
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
        let preview = self.take_preview(board);

        actions.retain(|a: &Vec<Op>| !a.is_empty());
        if !actions.is_empty() {
            tracing::trace!(count = actions.len(), "canvas actions");
        }
        CanvasInput {
            response,
            actions,
            pointer: self.pointer,
            pointer_changed,
            preview,
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

    /// Clicks that open a text editor: a double-click on a text or a note
    /// with the select tool, any click with the text or the note tool.
    fn clicks(&mut self, response: &Response, board: &Board, space_down: bool) {
        if response.double_clicked() && self.tools.tool == Tool::Select {
            self.double_click(response, board);
        }
        if response.clicked() && !space_down && self.editor.is_none() {
            match self.tools.tool {
                Tool::Text => self.place_text(response, board),
                Tool::Note => self.place_note(response, board),
                _ => {}
            }
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
                    let (drawing, begin) = Drawing::begin(at, self.tools.stroke_style());
                    actions.push(vec![begin]);
                    self.gesture = Gesture::Drawing(drawing);
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
                // A text or a note is placed on the click (the release), so
                // that the release does not take the keyboard from the new
                // editor. The laser makes no object: the app reads the
                // pointer held down.
                Tool::Text | Tool::Note | Tool::Laser => {}
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

    /// A click with the text tool edits the text or note under it, or starts
    /// a new text.
    fn place_text(&mut self, response: &Response, board: &Board) {
        let Some(at) = self.clicked_at(response) else {
            return;
        };
        self.editor = Some(match written_on_at(board, at, PICK_PX / self.camera.zoom) {
            Some(object) => TextEditor::existing(object),
            None => TextEditor::new_text(at, &self.tools),
        });
    }

    /// A click with the note tool edits the note under it, or sticks a new
    /// one of [`NOTE_SIDE`] centred on the click, to type on.
    fn place_note(&mut self, response: &Response, board: &Board) {
        let Some(at) = self.clicked_at(response) else {
            return;
        };
        let under = board
            .object_at(at, PICK_PX / self.camera.zoom)
            .filter(|o| o.data.kind == ObjectKind::Note);
        self.editor = Some(under.map_or_else(
            || {
                let half = NOTE_SIDE * 0.5;
                let paper = tabula_shared::Rect::from_corners(
                    Point::new(at.x - half, at.y - half),
                    Point::new(at.x + half, at.y + half),
                );
                TextEditor::new_note(paper, &self.tools)
            },
            TextEditor::existing,
        ));
    }

    /// The canvas point a click landed on.
    fn clicked_at(&self, response: &Response) -> Option<Point> {
        let pos = response.interact_pointer_pos()?;
        Some(point_from_pos(
            self.camera.canvas_from_screen(self.viewport) * pos,
        ))
    }

    /// A double-click with the select tool on a text or a note opens it for
    /// editing.
    fn double_click(&mut self, response: &Response, board: &Board) {
        let Some(at) = self.clicked_at(response) else {
            return;
        };
        if let Some(object) = written_on_at(board, at, PICK_PX / self.camera.zoom) {
            self.editor = Some(TextEditor::existing(object));
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
        let change = self.drag_change(board);
        match std::mem::replace(&mut self.gesture, Gesture::Idle) {
            Gesture::Drawing(mut d) => {
                d.finish(
                    self.camera.canvas_from_screen(self.viewport) * pos,
                    MIN_SPACING_PX / zoom,
                );
                actions.extend(d.take_ops().into_iter().map(|op| vec![op]));
                actions.push(vec![Op::new(OpKind::StrokeEnd { stroke: d.stroke })]);
            }
            Gesture::Shape { kind, from, to } => {
                let to = constrain(kind, from, to, self.shift);
                if from.distance(to) * zoom >= MIN_SHAPE_PX {
                    let data = self
                        .tools
                        .shape(kind, point_from_pos(from), point_from_pos(to));
                    let action = vec![Op::new(OpKind::Create {
                        object: ObjectId::random(),
                        data,
                    })];
                    self.land(change, &action);
                    actions.push(action);
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
                if from.distance(to) * zoom >= MIN_MOVE_PX {
                    let by = point_from_pos((to - from).to_pos2());
                    let action = self.selection.move_by(board, by);
                    self.land(change, &action);
                    actions.push(action);
                }
            }
            Gesture::Resizing { object, handle, to } => {
                if let Some(o) = board.object(object) {
                    let action = vec![selection::resize(o, handle, point_from_pos(to), self.shift)];
                    self.land(change, &action);
                    actions.push(action);
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
    /// duplicates it, ctrl+A selects everything, Escape lets go of the drag
    /// under way or else of the selection.
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
        // Escape lets go of a drag under way (a move, a resize, a shape)
        // without making anything, or else of the selection.
        if escape && !self.cancel_drag() {
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
}

/// The topmost object within `radius` of `at`, if it is a text or a note.
fn written_on_at(board: &Board, at: Point, radius: f32) -> Option<&Object> {
    board
        .object_at(at, radius)
        .filter(|o| matches!(o.data.kind, ObjectKind::Text | ObjectKind::Note))
}
