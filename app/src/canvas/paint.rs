//! The second half of a canvas frame: the paper, the grid, the objects with
//! the gesture under way previewed and the others' drags shown
//! ([`super::previews`]), the selection and the peers' pointers
//! ([`Canvas::paint_ui`]).

use std::collections::BTreeMap;

use egui::emath::TSTransform;
use egui::{Painter, Rect, Ui, vec2};
use tabula_shared::{Board, ClientId, Object, ObjectId, ObjectKind, OpKind, Point};

use super::cache::CachedObject;
use super::convert::{color32, point_from_pos, pos_from_point, rect_from_canvas};
use super::gesture::{Gesture, constrain};
use super::images::paint_picture;
use super::overlay;
use super::previews::{self, Look};
use super::render::{DOT_PX, Dots, paint_note, paint_object};
use super::selection;
use super::tools::Tool;
use super::{Canvas, ERASER_PX, PeerCursor};
use crate::note;
use crate::pictures::Pictures;
use crate::ui::theme::PAPER;

impl Canvas {
    /// Paints the paper, the dot grid, every visible object (with the gesture
    /// under way previewed; images from `pictures`), the selection and the
    /// peers' pointers.
    pub fn paint_ui(
        &self,
        ui: &Ui,
        board: &Board,
        pictures: &Pictures,
        cursors: &[PeerCursor<'_>],
    ) {
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
        // Where each of the others' drags shows its objects (canvas units).
        let mut dragged: BTreeMap<ClientId, Rect> = BTreeMap::new();
        for cached in cache.objects() {
            if Some(cached.id) == editing {
                // Typed over in the editor: a note shows its paper beneath.
                dots.flush(&painter);
                self.paint_note_being_edited(&painter);
                continue;
            }
            if previewing && self.is_previewed(cached.id) {
                // Moved, resized or faded by the gesture under way: painted as
                // it would be left, from a copy.
                if let Some(object) = board.object(cached.id) {
                    let shown = self.as_previewed(object);
                    if rect_from_canvas(shown.bounds()).intersects(visible) {
                        dots.flush(&painter);
                        self.paint_one(ui, &painter, screen_from_canvas, &shown, pictures);
                    }
                }
                continue;
            }
            if let Some((client, look)) = self.peer_drags.look(cached.id) {
                // Someone else is dragging it: shown where they would leave it.
                if let Some(object) = board.object(cached.id) {
                    let parts = (ui, &painter, pictures);
                    let area = self.paint_dragged(parts, &mut dots, cached, object, look);
                    dragged
                        .entry(*client)
                        .and_modify(|a| *a = a.union(area))
                        .or_insert(area);
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
                self.paint_one(ui, &painter, screen_from_canvas, object, pictures);
            }
        }
        dots.flush(&painter);
        drop(cache);
        if self.editor.as_ref().is_some_and(|e| e.object.is_none()) {
            self.paint_note_being_edited(&painter);
        }
        if let Some(preview) = self.shape_preview(board) {
            paint_object(&painter, screen_from_canvas, &preview);
        }
        self.paint_peer_drags(&painter, dragged);
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

    /// Paints one object: an image from its picture's texture (or a
    /// placeholder), anything else as [`paint_object`] draws it.
    fn paint_one(
        &self,
        ui: &Ui,
        painter: &Painter,
        screen_from_canvas: TSTransform,
        object: &Object,
        pictures: &Pictures,
    ) {
        let Some(blob) = object.data.blob() else {
            paint_object(painter, screen_from_canvas, object);
            return;
        };
        debug_assert_eq!(object.data.kind, ObjectKind::Image);
        let look = self.textures.borrow_mut().look(ui.ctx(), pictures, blob);
        let rect = screen_from_canvas * rect_from_canvas(object.frame());
        paint_picture(painter, rect, &look, self.erased.contains(&object.id));
    }

    /// Paints `object` (cached as `cached`) as someone else's drag shows
    /// it: moved (through a shifted transform, or as a dot when tiny) or
    /// reshaped. Returns where it is shown, in canvas units.
    fn paint_dragged(
        &self,
        (ui, painter, pictures): (&Ui, &Painter, &Pictures),
        dots: &mut Dots,
        cached: &CachedObject,
        object: &Object,
        look: &Look,
    ) -> Rect {
        let screen_from_canvas = self.screen_from_canvas();
        let visible = self.camera.visible_canvas(self.viewport);
        match look {
            Look::Moved(by) => {
                let shift = vec2(by.x, by.y);
                let bounds = cached.bounds.translate(shift);
                if bounds.intersects(visible) {
                    let on_screen = screen_from_canvas * bounds;
                    if cached.dot && on_screen.width() < DOT_PX && on_screen.height() < DOT_PX {
                        dots.push(cached, on_screen, screen_from_canvas.scaling);
                    } else {
                        dots.flush(painter);
                        let shifted = screen_from_canvas * TSTransform::from_translation(shift);
                        self.paint_one(ui, painter, shifted, object, pictures);
                    }
                }
                bounds
            }
            Look::Reshaped(_) => {
                let shown = previews::as_shown(object, look);
                let bounds = rect_from_canvas(shown.bounds());
                if bounds.intersects(visible) {
                    dots.flush(painter);
                    self.paint_one(ui, painter, screen_from_canvas, &shown, pictures);
                }
                bounds
            }
        }
    }

    /// The shapes the others are dragging out, faded, and a tag in its
    /// author's colour on each drag shown (`dragged`: where their moved and
    /// reshaped objects are, in canvas units).
    fn paint_peer_drags(&self, painter: &Painter, mut dragged: BTreeMap<ClientId, Rect>) {
        if self.peer_drags.is_empty() {
            return;
        }
        let screen_from_canvas = self.screen_from_canvas();
        for (client, data) in self.peer_drags.shapes() {
            let shape = previews::faded_shape(client, data);
            paint_object(painter, screen_from_canvas, &shape);
            dragged.insert(client, rect_from_canvas(shape.bounds()));
        }
        for (client, name, color) in self.peer_drags.people() {
            if let Some(area) = dragged.get(&client) {
                let on_screen = screen_from_canvas * *area;
                if on_screen.intersects(self.viewport) {
                    previews::paint_tag(painter, on_screen, name, color);
                }
            }
        }
    }

    /// The paper (and shadow) of the note being typed on, if it is a note:
    /// its text is the editor's.
    fn paint_note_being_edited(&self, painter: &Painter) {
        if let Some(editor) = &self.editor
            && let Some(paper) = editor.note
        {
            let layout = note::layout_in(rect_from_canvas(paper), editor.color, "");
            paint_note(painter, self.screen_from_canvas(), &layout, false);
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
                } = selection::resize(object, *handle, point_from_pos(*to), self.shift).kind
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
            author: ClientId(uuid::Uuid::nil()),
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
    fn paint_selection_ui(&self, painter: &Painter, board: &Board) {
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
