//! The selection: which objects the select tool holds, and the ops that move,
//! resize, restyle, restack, duplicate and delete them.
//!
//! Everything here is pure: it reads the board and returns ops, one `Vec` per
//! user action so that one undo takes back the whole action. The canvas decides
//! when; the session applies and sends.

use std::collections::BTreeSet;

use tabula_shared::caps::{MAX_NOTE_SIDE, MIN_NOTE_SIDE};
use tabula_shared::object::{Fill, ObjectKind, Property};
use tabula_shared::{Board, Object, ObjectId, Op, OpKind, Point, Rect};

/// How far a duplicate lands from its original, in canvas units.
pub const DUPLICATE_OFFSET: f32 = 16.0;

/// The objects the select tool holds, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// The selected objects; kept sorted so that ops come out in a stable order.
    ids: BTreeSet<ObjectId>,
}

impl Selection {
    /// Whether nothing is selected.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether `id` is selected.
    #[must_use]
    pub fn contains(&self, id: ObjectId) -> bool {
        self.ids.contains(&id)
    }

    /// The selected ids.
    pub fn ids(&self) -> impl Iterator<Item = ObjectId> + '_ {
        self.ids.iter().copied()
    }

    /// Selects exactly `ids`.
    pub fn set(&mut self, ids: impl IntoIterator<Item = ObjectId>) {
        self.ids = ids.into_iter().collect();
    }

    /// Adds `ids` to the selection.
    pub fn add(&mut self, ids: impl IntoIterator<Item = ObjectId>) {
        self.ids.extend(ids);
    }

    /// Selects `id` if it was not, unselects it if it was (shift-click).
    pub fn toggle(&mut self, id: ObjectId) {
        if !self.ids.remove(&id) {
            self.ids.insert(id);
        }
    }

    /// Selects nothing.
    pub fn clear(&mut self) {
        self.ids.clear();
    }

    /// Drops ids that are no longer on the board (deleted here or by a peer).
    pub fn retain_shown(&mut self, board: &Board) {
        self.ids.retain(|id| board.object(*id).is_some());
    }

    /// The selected objects on show, bottom of the stack first (the board's
    /// order: layer, then id). Looked up by id and sorted, so that it costs the
    /// selection's size, not the board's: it runs every frame.
    pub fn objects<'a>(&'a self, board: &'a Board) -> impl Iterator<Item = &'a Object> + 'a {
        let mut picked: Vec<&Object> = self.ids.iter().filter_map(|id| board.object(*id)).collect();
        picked.sort_unstable_by_key(|o| (o.layer, o.id));
        picked.into_iter()
    }

    /// The area the selected objects cover.
    #[must_use]
    pub fn bounds(&self, board: &Board) -> Option<Rect> {
        self.objects(board).map(Object::bounds).reduce(Rect::union)
    }

    /// Moves every selected object by `by`.
    #[must_use]
    pub fn move_by(&self, board: &Board, by: Point) -> Vec<Op> {
        self.each(board, |o| {
            Some(OpKind::Set {
                object: o.id,
                property: Property::Offset(o.offset.offset(by)),
            })
        })
    }

    /// Sets `property` on every selected object it means something for (a fill
    /// on closed shapes, a font size on texts, a width and an ink colour on
    /// all but texts and notes, an ink colour on texts too; a note's colour
    /// is [`Self::recolor_notes`]'s).
    #[must_use]
    pub fn restyle(&self, board: &Board, property: &Property) -> Vec<Op> {
        self.each(board, |o| {
            let applies = match property {
                // A picture has no colour, width or fill of its own.
                _ if o.data.kind == ObjectKind::Image => {
                    matches!(property, Property::Layer(_) | Property::Offset(_))
                }
                Property::Fill(_) => {
                    matches!(o.data.kind, ObjectKind::Rectangle | ObjectKind::Ellipse)
                }
                Property::FontSize(_) => o.data.kind == ObjectKind::Text,
                Property::Width(_) => !matches!(o.data.kind, ObjectKind::Text | ObjectKind::Note),
                Property::Color(_) => o.data.kind != ObjectKind::Note,
                _ => true,
            };
            (applies && o.get(property) != *property).then(|| OpKind::Set {
                object: o.id,
                property: property.clone(),
            })
        })
    }

    /// Gives every selected note the paper colour `color`.
    #[must_use]
    pub fn recolor_notes(&self, board: &Board, color: tabula_shared::Color) -> Vec<Op> {
        self.each(board, |o| {
            (o.data.kind == ObjectKind::Note && o.data.color != color).then_some(OpKind::Set {
                object: o.id,
                property: Property::Color(color),
            })
        })
    }

    /// Deletes every selected object.
    #[must_use]
    pub fn delete(&self, board: &Board) -> Vec<Op> {
        self.each(board, |o| Some(OpKind::Delete { object: o.id }))
    }

    /// Brings the selection to the front, keeping its own stacking order.
    #[must_use]
    pub fn to_front(&self, board: &Board) -> Vec<Op> {
        self.each(board, |o| Some(OpKind::ToFront { object: o.id }))
    }

    /// Sends the selection to the back, keeping its own stacking order.
    #[must_use]
    pub fn to_back(&self, board: &Board) -> Vec<Op> {
        let mut ops = self.each(board, |o| Some(OpKind::ToBack { object: o.id }));
        // Each to-back goes below the last, so the topmost must go first.
        ops.reverse();
        ops
    }

    /// Copies of the selected objects a little down and to the right, with the
    /// new ids (to select them instead).
    #[must_use]
    pub fn duplicate(&self, board: &Board) -> (Vec<Op>, Vec<ObjectId>) {
        let mut ids = Vec::new();
        let by = Point::new(DUPLICATE_OFFSET, DUPLICATE_OFFSET);
        let ops = self.each(board, |o| {
            let object = ObjectId::random();
            ids.push(object);
            let mut data = o.data.clone();
            data.points = o.points().map(|p| p.offset(by)).collect();
            Some(OpKind::Create { object, data })
        });
        (ops, ids)
    }

    fn each(&self, board: &Board, mut op: impl FnMut(&Object) -> Option<OpKind>) -> Vec<Op> {
        self.objects(board)
            .filter_map(&mut op)
            .map(Op::new)
            .collect()
    }
}

/// A handle that resizes a shape: where it is and which corner stays put.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Handle {
    /// Where it is drawn, in canvas units.
    pub at: Point,
    /// The point that stays where it is while this handle is dragged.
    pub fixed: Point,
    /// Whether the dragged point becomes the shape's first point (a line's start).
    pub moves_first: bool,
}

/// The resize handles of an object: a line's or arrow's two ends, a
/// rectangle's, ellipse's, note's or image's four corners; none for strokes
/// and texts.
#[must_use]
pub fn handles(object: &Object) -> Vec<Handle> {
    let points: Vec<Point> = object.points().collect();
    match object.data.kind {
        ObjectKind::Line | ObjectKind::Arrow => vec![
            Handle {
                at: points[0],
                fixed: points[1],
                moves_first: true,
            },
            Handle {
                at: points[1],
                fixed: points[0],
                moves_first: false,
            },
        ],
        ObjectKind::Rectangle | ObjectKind::Ellipse | ObjectKind::Note | ObjectKind::Image => {
            let r = Rect::from_corners(points[0], points[1]);
            let corners = [
                r.min,
                Point::new(r.max.x, r.min.y),
                r.max,
                Point::new(r.min.x, r.max.y),
            ];
            (0..4)
                .map(|i| Handle {
                    at: corners[i],
                    fixed: corners[(i + 2) % 4],
                    moves_first: false,
                })
                .collect()
        }
        ObjectKind::Freehand | ObjectKind::Text => Vec::new(),
    }
}

/// The op that drags `handle` of `object` to `to` (canvas units). An image
/// keeps its aspect (the corner goes as far as the farther of the two
/// directions takes it) unless `free` (shift held); a note keeps its
/// proportions (a square stays a square), unless `free`, and its sides
/// within the caps.
#[must_use]
pub fn resize(object: &Object, handle: Handle, to: Point, free: bool) -> Op {
    let to = if object.data.kind == ObjectKind::Image && !free {
        keep_aspect(object, handle.fixed, to)
    } else if object.data.kind == ObjectKind::Note {
        note_corner(object, handle, to, free)
    } else {
        to
    };
    let local = |p: Point| p.minus(object.offset);
    let points = if handle.moves_first {
        vec![local(to), local(handle.fixed)]
    } else {
        vec![local(handle.fixed), local(to)]
    };
    Op::new(OpKind::Set {
        object: object.id,
        property: Property::Points(points),
    })
}

/// Where the dragged corner of `object` goes for the pointer at `to`, the
/// opposite corner staying at `fixed`, so that the shape keeps its aspect.
fn keep_aspect(object: &Object, fixed: Point, to: Point) -> Point {
    let frame = object.frame();
    let (width, height) = (frame.width(), frame.height());
    if width <= f32::EPSILON || height <= f32::EPSILON {
        return to;
    }
    let (dx, dy) = (to.x - fixed.x, to.y - fixed.y);
    let scale = (dx.abs() / width).max(dy.abs() / height).max(1e-3);
    let sign = |d: f32| if d < 0.0 { -1.0 } else { 1.0 };
    Point::new(
        fixed.x + sign(dx) * width * scale,
        fixed.y + sign(dy) * height * scale,
    )
}

/// Where the dragged corner of a note goes when its handle is dragged to
/// `to`: as far as the pointer went along the farther axis, the other axis
/// following in proportion (or each axis on its own when `free`), within
/// [`MIN_NOTE_SIDE`] and [`MAX_NOTE_SIDE`], on the side of the fixed corner
/// the pointer is on.
fn note_corner(object: &Object, handle: Handle, to: Point, free: bool) -> Point {
    let frame = object.frame();
    let (width, height) = (
        frame.width().max(MIN_NOTE_SIDE),
        frame.height().max(MIN_NOTE_SIDE),
    );
    let (dx, dy) = (to.x - handle.fixed.x, to.y - handle.fixed.y);
    let (new_width, new_height) = if free {
        (
            dx.abs().clamp(MIN_NOTE_SIDE, MAX_NOTE_SIDE),
            dy.abs().clamp(MIN_NOTE_SIDE, MAX_NOTE_SIDE),
        )
    } else {
        let lowest = MIN_NOTE_SIDE / width.min(height);
        let highest = MAX_NOTE_SIDE / width.max(height);
        let scale = (dx.abs() / width)
            .max(dy.abs() / height)
            .clamp(lowest, highest);
        (width * scale, height * scale)
    };
    // The side the handle was on, when the pointer is level with the fixed
    // corner.
    let side = |d: f32, was: f32| if d == 0.0 { was.signum() } else { d.signum() };
    Point::new(
        handle.fixed.x + side(dx, handle.at.x - handle.fixed.x) * new_width,
        handle.fixed.y + side(dy, handle.at.y - handle.fixed.y) * new_height,
    )
}

/// Whether a fill choice means anything for the selection's kinds.
#[must_use]
pub fn fill_applies(kinds: impl IntoIterator<Item = ObjectKind>) -> bool {
    kinds
        .into_iter()
        .any(|k| matches!(k, ObjectKind::Rectangle | ObjectKind::Ellipse))
}

/// The fill shared by the selected closed shapes, if they agree.
#[must_use]
pub fn common_fill(selection: &Selection, board: &Board) -> Option<Fill> {
    let mut fills = selection
        .objects(board)
        .filter(|o| matches!(o.data.kind, ObjectKind::Rectangle | ObjectKind::Ellipse))
        .map(|o| o.data.fill);
    let first = fills.next()?;
    fills.all(|f| f == first).then_some(first)
}

#[cfg(test)]
mod tests {
    use tabula_shared::object::{DEFAULT_FONT_SIZE, ObjectData};
    use tabula_shared::{ClientId, Color};

    use super::*;

    fn note(side: f32) -> Object {
        Object {
            id: ObjectId::random(),
            author: ClientId::random(),
            data: ObjectData {
                kind: ObjectKind::Note,
                points: vec![Point::new(0.0, 0.0), Point::new(side, side)],
                color: Color::rgb(0xff, 0xe5, 0x80),
                width: 4.0,
                fill: Fill::None,
                text: String::new(),
                font_size: DEFAULT_FONT_SIZE,
            },
            offset: Point::new(100.0, 100.0),
            layer: 1,
            finished: true,
            deleted: false,
        }
    }

    /// The note `object` becomes when its bottom-right handle goes to `to`.
    fn dragged(object: &Object, to: Point, free: bool) -> Rect {
        let handle = handles(object)[2];
        let OpKind::Set {
            property: Property::Points(points),
            ..
        } = resize(object, handle, to, free).kind
        else {
            panic!("a resize sets the points");
        };
        let mut resized = object.clone();
        assert!(resized.set(&Property::Points(points)), "within the caps");
        resized.frame()
    }

    #[test]
    fn a_note_stays_square_unless_shift_frees_it_and_within_its_caps() {
        let square = note(200.0);
        // Dragged further right than down: the square follows the farther.
        let frame = dragged(&square, Point::new(500.0, 350.0), false);
        assert_eq!((frame.width(), frame.height()), (400.0, 400.0));
        assert_eq!(frame.min, Point::new(100.0, 100.0));
        // Shift: each side on its own.
        let frame = dragged(&square, Point::new(500.0, 350.0), true);
        assert_eq!((frame.width(), frame.height()), (400.0, 250.0));
        // Past the fixed corner: flipped, never smaller than the cap.
        let frame = dragged(&square, Point::new(99.0, 99.0), false);
        assert_eq!(
            (frame.width(), frame.height()),
            (MIN_NOTE_SIDE, MIN_NOTE_SIDE)
        );
        assert!(frame.max.x <= 100.0 && frame.max.y <= 100.0, "{frame:?}");
        let frame = dragged(&square, Point::new(1.0e6, 1.0e6), false);
        assert_eq!(
            (frame.width(), frame.height()),
            (MAX_NOTE_SIDE, MAX_NOTE_SIDE)
        );
    }
}
