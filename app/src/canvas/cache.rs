//! What painting needs of each object on show, kept from frame to frame.
//!
//! A big board must not cost every object's points every frame. [`BoardCache`]
//! keeps each object's bounds and ink from one board generation to the next,
//! so culling is a scan of rectangles, and a tiny object can be drawn as a dot
//! ([`super::render::Dots`]) without reading its points.

use std::collections::{HashMap, VecDeque};

use egui::{Color32, Rect};
use tabula_shared::{Board, Object, ObjectId, ObjectKind};

use super::convert::{color32, rect_from_canvas};

/// What painting needs of one object on show, kept from frame to frame.
#[derive(Clone, Copy, Debug)]
pub struct CachedObject {
    /// The object, to fetch it from the board when it is painted in full.
    pub id: ObjectId,
    /// Its bounds in canvas units, width included: culling needs no points.
    pub bounds: Rect,
    /// Its ink, for drawing it as a dot.
    pub color: Color32,
    /// Its width in canvas units, for how dark a dot is (a note's whole
    /// side: it is paper through and through).
    pub width: f32,
    /// Whether it may be drawn as a dot when tiny (not texts, which vanish).
    pub dot: bool,
    /// Its place in the stack.
    pub layer: i64,
}

impl CachedObject {
    /// What painting needs of `object`.
    fn of(object: &Object) -> Self {
        Self {
            id: object.id,
            bounds: rect_from_canvas(object.bounds()),
            color: color32(object.data.color),
            width: if object.data.kind == ObjectKind::Note {
                let frame = object.frame();
                frame.width().max(frame.height())
            } else {
                object.data.width
            },
            dot: object.data.kind != ObjectKind::Text,
            layer: object.layer,
        }
    }
}

/// The objects on show with their bounds, bottom of the stack first, as of one
/// board generation: kept up to date object by object, so a frame of an
/// unchanged board never walks the objects' points, and a change to one object
/// (drawn, restyled, deleted, restacked) costs about that object alone.
///
/// The objects sit in one list in stacking order, which a frame scans. An
/// object that goes leaves a gap (a delete moves nothing); one that comes on
/// top or at the bottom (new, brought to the front, sent to the back) is added
/// at that end; one that comes back where it was (restored, or restacked back
/// by an undo) fills a gap next to its place. Only an object placed between two
/// others with no gap there makes the list be laid out again, from the cached
/// entries (no object's points are read). The gaps are squeezed out when they
/// outnumber the objects, which costs the same.
#[derive(Debug, Default)]
pub struct BoardCache {
    /// The board generation the cache was built from; `None` before the first.
    generation: Option<u64>,
    /// Every object on show and the gaps, in stacking order (the gaps keep the
    /// place they were left at, so the whole list is sorted by place); never a
    /// gap at either end.
    slots: VecDeque<Slot>,
    /// The position of `slots[0]`: positions do not change when an object is
    /// added at the bottom, so that `index` stays true.
    front: i64,
    /// Where each object on show is in `slots`, as a position.
    index: HashMap<ObjectId, i64>,
}

/// One place in the cache's stacking order.
#[derive(Clone, Copy, Debug)]
enum Slot {
    /// An object on show.
    Object(CachedObject),
    /// Where an object was, by its place in the stack then: `(layer, id)`.
    Gap(i64, ObjectId),
}

impl Slot {
    /// Its place in the stack, for keeping the list sorted.
    fn place(&self) -> (i64, ObjectId) {
        match self {
            Self::Object(o) => (o.layer, o.id),
            Self::Gap(layer, id) => (*layer, *id),
        }
    }
}

/// Gaps are squeezed out when they outnumber the objects by more than this.
const GAPS_KEPT: usize = 1024;

impl BoardCache {
    /// Brings the cache up to date with `board`: free when it has not changed,
    /// the changed objects only when the board can name them, otherwise
    /// rebuilt.
    pub fn update(&mut self, board: &Board) {
        if self.generation == Some(board.generation()) {
            return;
        }
        if let Some(ids) = self.generation.and_then(|g| board.changed_since(g)) {
            for id in ids {
                self.patch(id, board.object(id));
            }
            if self.slots.len() > 2 * self.index.len() + GAPS_KEPT {
                self.lay_out(None);
            }
        } else {
            // Into the list's old room: a rebuild allocates nothing new.
            self.slots.clear();
            self.slots
                .extend(board.objects().map(|o| Slot::Object(CachedObject::of(o))));
            self.reindex();
            tracing::trace!(objects = self.index.len(), "board cache rebuilt");
        }
        self.generation = Some(board.generation());
    }

    /// Redoes object `id`, now `object` on the board (`None`: not on show).
    fn patch(&mut self, id: ObjectId, object: Option<&Object>) {
        let at = self.index.get(&id).map(|&p| self.slot(p));
        if let (Some(at), Some(object)) = (at, object)
            && let Slot::Object(cached) = &mut self.slots[at]
            && cached.layer == object.layer
        {
            *cached = CachedObject::of(object);
            return;
        }
        if let Some(at) = at {
            self.index.remove(&id);
            let place = self.slots[at].place();
            self.slots[at] = Slot::Gap(place.0, place.1);
            self.trim();
        }
        if let Some(object) = object {
            self.place(CachedObject::of(object));
        }
    }

    /// Adds `cached` at its place in the stack.
    fn place(&mut self, cached: CachedObject) {
        let place = (cached.layer, cached.id);
        let (Some(bottom), Some(top)) = (self.slots.front(), self.slots.back()) else {
            self.slots.push_back(Slot::Object(cached));
            self.reindex();
            return;
        };
        if top.place() < place {
            let position = self.position(self.slots.len());
            self.slots.push_back(Slot::Object(cached));
            self.index.insert(cached.id, position);
        } else if place < bottom.place() {
            self.front -= 1;
            self.slots.push_front(Slot::Object(cached));
            self.index.insert(cached.id, self.front);
        } else {
            // Between two others: into a gap right next to its place, if any.
            let after = self.slots.partition_point(|s| s.place() < place);
            let gap = [after.wrapping_sub(1), after]
                .into_iter()
                .find(|&i| matches!(self.slots.get(i), Some(Slot::Gap(..))));
            match gap {
                Some(i) => {
                    self.slots[i] = Slot::Object(cached);
                    self.index.insert(cached.id, self.position(i));
                }
                None => self.lay_out(Some(cached)),
            }
        }
    }

    /// Lays the list out again without gaps, with `extra` added at its place.
    fn lay_out(&mut self, extra: Option<CachedObject>) {
        let mut objects: Vec<CachedObject> = self
            .slots
            .drain(..)
            .filter_map(|s| match s {
                Slot::Object(o) => Some(o),
                Slot::Gap(..) => None,
            })
            .collect();
        if let Some(extra) = extra {
            let at = objects.partition_point(|o| (o.layer, o.id) < (extra.layer, extra.id));
            objects.insert(at, extra);
        }
        self.slots.extend(objects.into_iter().map(Slot::Object));
        self.reindex();
        tracing::trace!(objects = self.index.len(), "board cache laid out");
    }

    /// Drops the gaps at both ends.
    fn trim(&mut self) {
        while matches!(self.slots.back(), Some(Slot::Gap(..))) {
            self.slots.pop_back();
        }
        while matches!(self.slots.front(), Some(Slot::Gap(..))) {
            self.slots.pop_front();
            self.front += 1;
        }
    }

    /// Numbers the slots from 0 and indexes the objects.
    fn reindex(&mut self) {
        self.front = 0;
        self.index.clear();
        for (i, slot) in self.slots.iter().enumerate() {
            if let Slot::Object(o) = slot {
                self.index.insert(o.id, self.position(i));
            }
        }
    }

    /// The position of `slots[i]`.
    fn position(&self, i: usize) -> i64 {
        self.front + i64::try_from(i).unwrap_or(i64::MAX)
    }

    /// Where position `position` is in `slots`.
    fn slot(&self, position: i64) -> usize {
        usize::try_from(position - self.front).unwrap_or(usize::MAX)
    }

    /// Every object on show, bottom of the stack first.
    #[must_use]
    pub fn objects(&self) -> CachedObjects<'_> {
        CachedObjects {
            slots: self.slots.iter(),
            left: self.index.len(),
        }
    }
}

/// The objects of a [`BoardCache`], bottom of the stack first.
#[derive(Debug)]
pub struct CachedObjects<'a> {
    /// The slots not yet looked at.
    slots: std::collections::vec_deque::Iter<'a, Slot>,
    /// How many objects they hold.
    left: usize,
}

impl<'a> Iterator for CachedObjects<'a> {
    type Item = &'a CachedObject;

    fn next(&mut self) -> Option<Self::Item> {
        for slot in self.slots.by_ref() {
            if let Slot::Object(o) = slot {
                self.left -= 1;
                return Some(o);
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for CachedObjects<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cache's objects as (id, bounds, colour, layer), for comparing.
    fn cached(cache: &BoardCache) -> Vec<(ObjectId, Rect, Color32, i64)> {
        cache
            .objects()
            .map(|o| (o.id, o.bounds, o.color, o.layer))
            .collect()
    }

    #[test]
    fn cache_patched_by_changes_equals_cache_rebuilt() {
        use tabula_shared::object::Property;
        use tabula_shared::{ClientId, Color, Op, OpKind, Point, SequencedOp, StrokeStyle};
        let me = ClientId::random();
        let other = ClientId::random();
        let mut board = Board::new();
        let mut cache = BoardCache::default();
        let ids: Vec<ObjectId> = (0..4).map(|_| ObjectId::random()).collect();
        let style = StrokeStyle {
            color: Color::rgb(1, 2, 3),
            width: 2.0,
        };
        let mut seq = 0;
        let mut steps: Vec<(ClientId, OpKind, bool)> = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let start = Point::new(i as f32 * 10.0, 0.0);
            steps.push((
                me,
                OpKind::StrokeBegin {
                    stroke: *id,
                    style,
                    start,
                },
                i % 2 == 0,
            ));
            steps.push((
                me,
                OpKind::StrokeAppend {
                    stroke: *id,
                    points: vec![Point::new(i as f32 * 10.0 + 5.0, 7.0)],
                },
                i % 2 == 1,
            ));
        }
        steps.extend([
            (
                other,
                OpKind::Set {
                    object: ids[1],
                    property: Property::Color(Color::rgb(9, 9, 9)),
                },
                false,
            ),
            (me, OpKind::ToBack { object: ids[3] }, true),
            (other, OpKind::Delete { object: ids[0] }, false),
            (me, OpKind::Restore { object: ids[0] }, true),
            (other, OpKind::ToFront { object: ids[1] }, false),
            (other, OpKind::Delete { object: ids[2] }, false),
            (other, OpKind::Restore { object: ids[2] }, false),
            (me, OpKind::ToFront { object: ids[0] }, true),
            (
                other,
                OpKind::Set {
                    object: ids[0],
                    property: Property::Layer(-40),
                },
                false,
            ),
            (me, OpKind::Delete { object: ids[3] }, true),
            (
                me,
                OpKind::StrokeAppend {
                    stroke: ids[2],
                    points: vec![Point::new(90.0, 90.0)],
                },
                true,
            ),
            (other, OpKind::Clear, false),
        ]);
        for (author, kind, local) in steps {
            if local {
                // Applied at once, then confirmed by the relay.
                let op = Op::new(kind);
                board.apply_local(author, op.clone());
                cache.update(&board);
                let mut fresh = BoardCache::default();
                fresh.update(&board);
                assert_eq!(cached(&cache), cached(&fresh));
                seq += 1;
                board.confirm(op.id, seq, 0);
            } else {
                seq += 1;
                board.apply_sequenced(&SequencedOp {
                    seq,
                    author,
                    timestamp_ms: 0,
                    op: Op::new(kind),
                });
            }
            cache.update(&board);
            let mut fresh = BoardCache::default();
            fresh.update(&board);
            assert_eq!(cached(&cache), cached(&fresh));
        }
    }

    /// Many deletes, restores and restacks of objects all over the stack, by
    /// others and (pending, then confirmed) by me: the cache kept up to date
    /// object by object, its gaps filled and squeezed out, always equals one
    /// built afresh.
    #[test]
    fn cache_patched_through_deletes_and_restacks_equals_cache_rebuilt() {
        use tabula_shared::object::{Fill, ObjectData, Property};
        use tabula_shared::{ClientId, Color, Op, OpKind, Point, SequencedOp};
        const OBJECTS: u64 = 1500;
        let me = ClientId(uuid::Uuid::from_u128(1));
        let other = ClientId(uuid::Uuid::from_u128(2));
        let id = |n: u64| ObjectId(uuid::Uuid::from_u128(u128::from(n) + 10));
        let mut board = Board::new();
        let sequenced = |board: &mut Board, author: ClientId, kind: OpKind| {
            board.apply_sequenced(&SequencedOp {
                seq: board.last_seq() + 1,
                author,
                timestamp_ms: 0,
                op: Op::new(kind),
            });
        };
        for n in 0..OBJECTS {
            let at = Point::new(n as f32, (n % 7) as f32);
            let data = ObjectData {
                kind: ObjectKind::Rectangle,
                points: vec![at, Point::new(at.x + 3.0, at.y + 2.0)],
                color: Color::rgb(0, 0, 0),
                width: 1.0,
                fill: Fill::None,
                text: String::new(),
                font_size: 20.0,
            };
            sequenced(
                &mut board,
                other,
                OpKind::Create {
                    object: id(n),
                    data,
                },
            );
        }
        let mut cache = BoardCache::default();
        cache.update(&board);
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut pending = Vec::new();
        for step in 0..2500 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let object = id(state % OBJECTS);
            // Mostly deletes early on, so that gaps pile up and get squeezed.
            let kind = match (state >> 32) % 8 {
                _ if step < 1200 && step % 3 != 0 => OpKind::Delete { object },
                0 | 1 => OpKind::Delete { object },
                2 | 3 => OpKind::Restore { object },
                4 => OpKind::ToFront { object },
                5 => OpKind::ToBack { object },
                6 => OpKind::Set {
                    object,
                    property: Property::Layer(i64::from((state % 3000) as u16) - 1500),
                },
                _ => OpKind::Set {
                    object,
                    property: Property::Color(Color::rgb(9, 9, 9)),
                },
            };
            if state.is_multiple_of(5) {
                let op = Op::new(kind);
                board.apply_local(me, op.clone());
                pending.push(op.id);
            } else {
                sequenced(&mut board, other, kind);
            }
            if state.is_multiple_of(11) {
                for op in pending.drain(..) {
                    let next = board.last_seq() + 1;
                    board.confirm(op, next, 0);
                }
            }
            cache.update(&board);
            let mut fresh = BoardCache::default();
            fresh.update(&board);
            assert_eq!(cached(&cache), cached(&fresh), "step {step}");
        }
    }
}
