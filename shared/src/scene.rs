//! A scene: objects and their stacking order, and the rules of one op.
//!
//! [`Scene::apply`] is a pure function of the scene, the op, its author and its
//! sequence number: no clocks, no randomness, no hash-order iteration. Every
//! peer that applies the same ops in the same order holds the same scene. An op
//! that cannot apply (unknown or deleted object, someone else's stroke, a value
//! that does not fit) changes nothing and reports `false`, never a panic.

use std::collections::{BTreeSet, HashMap};

use crate::object::{DEFAULT_FONT_SIZE, Fill, Object, ObjectData, ObjectKind};
use crate::{ClientId, ObjectId, OpKind, Rect};

/// Objects by id, deleted ones included, and their stacking order.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Scene {
    /// Every object ever made here, deleted ones kept for restores.
    objects: HashMap<ObjectId, Object>,
    /// Stacking order, bottom first: (layer, id) of every object.
    order: BTreeSet<(i64, ObjectId)>,
}

impl Scene {
    /// Every object, deleted ones included, bottom of the stack first.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Object> + '_ {
        self.order.iter().filter_map(|(_, id)| self.objects.get(id))
    }

    /// The objects on show, bottom of the stack first.
    pub(crate) fn visible(&self) -> impl Iterator<Item = &Object> + '_ {
        self.all().filter(|o| !o.deleted)
    }

    /// One object, deleted or not.
    pub(crate) fn get(&self, id: ObjectId) -> Option<&Object> {
        self.objects.get(&id)
    }

    /// How many objects there are, deleted ones included.
    pub(crate) fn len(&self) -> usize {
        self.objects.len()
    }

    /// How many objects are on show.
    pub(crate) fn visible_count(&self) -> usize {
        self.objects.values().filter(|o| !o.deleted).count()
    }

    /// The area the objects on show cover.
    pub(crate) fn bounds(&self) -> Option<Rect> {
        self.objects
            .values()
            .filter(|o| !o.deleted)
            .map(Object::bounds)
            .reduce(Rect::union)
    }

    /// Puts `object` in (or takes the id out, for `None`), keeping the order.
    pub(crate) fn put(&mut self, id: ObjectId, object: Option<Object>) {
        if let Some(old) = self.objects.remove(&id) {
            self.order.remove(&(old.layer, id));
        }
        if let Some(object) = object {
            self.order.insert((object.layer, id));
            self.objects.insert(id, object);
        }
    }

    /// Makes object `id` the same as in `source` (absent if it is absent there).
    pub(crate) fn copy_from(&mut self, source: &Self, id: ObjectId) {
        self.put(id, source.get(id).cloned());
    }

    /// Applies one op by `author` at sequence number `seq` (a provisional one for
    /// a local op); `true` if the scene changed.
    pub(crate) fn apply(&mut self, author: ClientId, kind: &OpKind, seq: u64) -> bool {
        let layer = i64::try_from(seq).unwrap_or(i64::MAX);
        match kind {
            OpKind::StrokeBegin {
                stroke,
                style,
                start,
            } => {
                if self.objects.contains_key(stroke)
                    || crate::caps::check_point(*start).is_err()
                    || crate::caps::check_size(style.width).is_err()
                {
                    return false;
                }
                let data = ObjectData {
                    kind: ObjectKind::Freehand,
                    points: vec![*start],
                    color: style.color,
                    width: style.width,
                    fill: Fill::None,
                    text: String::new(),
                    font_size: DEFAULT_FONT_SIZE,
                };
                self.insert(*stroke, author, data, layer, false);
                true
            }
            OpKind::StrokeAppend { stroke, points } => self.edit_own_stroke(author, *stroke, |o| {
                // A stroke grows only up to the cap: appends past it are
                // ignored, the same way on every peer.
                let fits = crate::caps::check_stroke_growth(o.data.points.len(), points.len());
                if fits.is_ok() && crate::caps::check_points(points).is_ok() {
                    o.data.points.extend_from_slice(points);
                    true
                } else {
                    false
                }
            }),
            OpKind::StrokeEnd { stroke } => self.edit_own_stroke(author, *stroke, |o| {
                o.finished = true;
                true
            }),
            OpKind::Create { object, data } => {
                if self.objects.contains_key(object) || !data.is_well_formed() {
                    return false;
                }
                self.insert(*object, author, data.clone(), layer, true);
                true
            }
            OpKind::Set { object, property } => self.edit(*object, |o| o.set(property)),
            OpKind::Delete { object } => self.edit(*object, |o| {
                o.deleted = true;
                true
            }),
            OpKind::Restore { object } => match self.objects.get_mut(object) {
                Some(o) if o.deleted => {
                    o.deleted = false;
                    true
                }
                _ => false,
            },
            OpKind::ToFront { object } => self.edit(*object, |o| {
                o.layer = layer;
                true
            }),
            OpKind::ToBack { object } => self.edit(*object, |o| {
                o.layer = -layer;
                true
            }),
            OpKind::Clear => {
                let mut changed = false;
                for o in self.objects.values_mut().filter(|o| !o.deleted) {
                    o.deleted = true;
                    changed = true;
                }
                changed
            }
            OpKind::Joined { .. } | OpKind::Left | OpKind::Moderated(_) => false,
        }
    }

    fn insert(
        &mut self,
        id: ObjectId,
        author: ClientId,
        data: ObjectData,
        layer: i64,
        finished: bool,
    ) {
        let object = Object {
            id,
            author,
            data,
            offset: crate::Point::default(),
            layer,
            finished,
            deleted: false,
        };
        self.put(id, Some(object));
    }

    /// Runs `change` on an object on show, keeping the order in step with its
    /// layer; `false` if there is no such object or `change` refused.
    fn edit(&mut self, id: ObjectId, change: impl FnOnce(&mut Object) -> bool) -> bool {
        let Some(object) = self.objects.get_mut(&id).filter(|o| !o.deleted) else {
            return false;
        };
        let before = object.layer;
        let changed = change(object);
        let after = object.layer;
        if before != after {
            self.order.remove(&(before, id));
            self.order.insert((after, id));
        }
        changed
    }

    /// Runs `change` on a stroke still being drawn by `author`.
    fn edit_own_stroke(
        &mut self,
        author: ClientId,
        id: ObjectId,
        change: impl FnOnce(&mut Object) -> bool,
    ) -> bool {
        match self.objects.get_mut(&id) {
            Some(o)
                if o.author == author
                    && o.data.kind == ObjectKind::Freehand
                    && !o.finished
                    && !o.deleted =>
            {
                change(o)
            }
            _ => false,
        }
    }
}
