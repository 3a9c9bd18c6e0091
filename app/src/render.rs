//! Painting board objects with egui: strokes as smooth curves, lines, arrows,
//! rectangles, ellipses and texts, at any zoom.
//!
//! [`paint_object`] turns one [`Object`] into egui shapes through the canvas's
//! `screen_from_canvas` transform. The canvas calls it for every visible object;
//! tools call it for the preview of the shape being dragged out.
//!
//! A big board must not cost every object's points every frame. [`BoardCache`]
//! keeps each object's bounds and ink from one board generation to the next,
//! so culling is a scan of rectangles; objects smaller on screen than
//! [`DOT_PX`] are drawn as [`Dots`], one quad each in a single mesh, instead of
//! curves; and strokes skip points closer than [`MIN_POINT_SPACING_PX`] on
//! screen and draw no round caps when thinner than [`CAPS_MIN_PX`].

use std::collections::{HashMap, VecDeque};

use egui::emath::TSTransform;
use egui::epaint::{EllipseShape, Mesh, PathShape, PathStroke};
use egui::{Align2, Color32, FontId, Painter, Pos2, Rect, Shape, Stroke, StrokeKind, vec2};
use tabula_shared::object::{LINE_HEIGHT_EM, arrow_head_size};
use tabula_shared::{Board, Object, ObjectId, ObjectKind};

use crate::canvas::{color32, pos_from_point, rect_from_canvas};

/// How far a flattened curve may stray from the true curve, in screen pixels.
const CURVE_TOLERANCE_PX: f32 = 0.15;
/// The most line pieces one curve segment is flattened into.
const MAX_PIECES: usize = 64;
/// An object whose bounds are smaller than this on screen (both sides, in
/// points) is drawn as a dot: its curve would cover a pixel or two anyway.
pub const DOT_PX: f32 = 2.5;
/// A stroke's points closer than this on screen to the last kept one are
/// skipped: they move the curve by less than a pixel's width.
pub const MIN_POINT_SPACING_PX: f32 = 0.5;
/// Strokes thinner than this on screen get no round caps and joins: the
/// circles would be smaller than the line's own anti-aliased edge.
pub const CAPS_MIN_PX: f32 = 2.0;

/// What painting needs of one object on show, kept from frame to frame.
#[derive(Clone, Copy, Debug)]
pub struct CachedObject {
    /// The object, to fetch it from the board when it is painted in full.
    pub id: ObjectId,
    /// Its bounds in canvas units, width included: culling needs no points.
    pub bounds: Rect,
    /// Its ink, for drawing it as a dot.
    pub color: Color32,
    /// Its width in canvas units, for how dark a dot is.
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
            width: object.data.width,
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

/// Tiny objects drawn as one quad each, gathered into one mesh (one shape for
/// egui to tessellate instead of one per object). Flush before painting
/// anything else so that the stacking order holds.
#[derive(Debug, Default)]
pub struct Dots {
    /// The quads gathered since the last flush.
    mesh: Mesh,
}

impl Dots {
    /// Room for `count` dots, taken at once: growing a mesh of a hundred
    /// thousand quads by doubling copied it again and again. Pages that no dot
    /// touches are never faulted in, so a generous count costs nothing.
    #[must_use]
    pub fn with_capacity(count: usize) -> Self {
        let mut mesh = Mesh::default();
        mesh.reserve_vertices(4 * count);
        mesh.reserve_triangles(2 * count);
        Self { mesh }
    }

    /// Adds `object`, which covers `on_screen`, as a dot: its bounds filled with
    /// its ink, lighter the less of them a thin line would cover.
    pub fn push(&mut self, object: &CachedObject, on_screen: Rect, scaling: f32) {
        let size = on_screen.size().max(vec2(1.0, 1.0));
        let line = (object.width * scaling).max(0.5);
        let coverage = (line * (size.x + size.y) / (size.x * size.y)).clamp(0.25, 1.0);
        let rect = Rect::from_center_size(on_screen.center(), size);
        self.mesh
            .add_colored_rect(rect, object.color.gamma_multiply(coverage));
    }

    /// Paints the dots gathered so far.
    pub fn flush(&mut self, painter: &Painter) {
        if !self.mesh.is_empty() {
            painter.add(Shape::mesh(std::mem::take(&mut self.mesh)));
        }
    }
}

/// Paints one object as it sits on the board.
pub fn paint_object(painter: &Painter, screen_from_canvas: TSTransform, object: &Object) {
    let color = color32(object.data.color);
    let width = (object.data.width * screen_from_canvas.scaling).max(0.5);
    if object.data.kind == ObjectKind::Freehand {
        // Points a fraction of a pixel apart are dropped as they are mapped.
        let mut points: Vec<Pos2> = Vec::with_capacity(object.data.points.len());
        for p in object.points() {
            let pos = screen_from_canvas * pos_from_point(p);
            if points
                .last()
                .is_none_or(|last| last.distance_sq(pos) >= MIN_POINT_SPACING_PX.powi(2))
            {
                points.push(pos);
            }
        }
        paint_stroke(painter, &points, width, color);
        return;
    }
    let points: Vec<Pos2> = object
        .points()
        .map(|p| screen_from_canvas * pos_from_point(p))
        .collect();
    let fill = object
        .data
        .fill
        .color_for(object.data.color)
        .map_or(Color32::TRANSPARENT, color32);
    match object.data.kind {
        // Painted above, with its points thinned as they were mapped.
        ObjectKind::Freehand => {}
        ObjectKind::Line => paint_line(painter, points[0], points[1], width, color),
        ObjectKind::Arrow => {
            paint_line(painter, points[0], points[1], width, color);
            let head = arrow_head_size(object) * screen_from_canvas.scaling;
            paint_arrow_head(painter, points[0], points[1], head, width, color);
        }
        ObjectKind::Rectangle => {
            let rect = Rect::from_two_pos(points[0], points[1]);
            painter.rect(
                rect,
                0.0,
                fill,
                Stroke::new(width, color),
                StrokeKind::Middle,
            );
        }
        ObjectKind::Ellipse => {
            let rect = Rect::from_two_pos(points[0], points[1]);
            painter.add(EllipseShape {
                center: rect.center(),
                radius: rect.size() * 0.5,
                fill,
                stroke: Stroke::new(width, color),
                angle: 0.0,
            });
        }
        ObjectKind::Text => {
            let size = object.data.font_size * screen_from_canvas.scaling;
            paint_text(painter, points[0], &object.data.text, size, color);
        }
    }
}

/// Paints multi-line text with its top-left corner at `at`, one line every
/// [`LINE_HEIGHT_EM`] font sizes (the same spacing the board's bounds assume).
pub fn paint_text(painter: &Painter, at: Pos2, text: &str, size: f32, color: Color32) {
    if size < 1.0 {
        return;
    }
    let font = FontId::proportional(size);
    for (i, line) in text.split('\n').enumerate() {
        let top = at + vec2(0.0, i as f32 * size * LINE_HEIGHT_EM);
        painter.text(top, Align2::LEFT_TOP, line, font.clone(), color);
    }
}

/// A straight line with round ends.
fn paint_line(painter: &Painter, from: Pos2, to: Pos2, width: f32, color: Color32) {
    painter.line_segment([from, to], Stroke::new(width, color));
    if color.a() == 255 {
        painter.circle_filled(from, width * 0.5, color);
        painter.circle_filled(to, width * 0.5, color);
    }
}

/// Two barbs at `to`, pointing back along the line from `from`.
fn paint_arrow_head(
    painter: &Painter,
    from: Pos2,
    to: Pos2,
    head: f32,
    width: f32,
    color: Color32,
) {
    let dir = (to - from).normalized();
    if !dir.is_finite() || head <= 0.0 {
        return;
    }
    let back = -dir * head;
    let spread = 0.5_f32; // about 28 degrees each side
    for sign in [-1.0, 1.0] {
        let rotated = egui::Vec2::angled(back.angle() + sign * spread) * head;
        paint_line(painter, to, to + rotated, width, color);
    }
}

/// Paints a freehand stroke: a smooth curve through its points with round ends,
/// or a dot. Translucent ink (the highlighter) gets no round caps, which would
/// show as darker blots where they overlap the line.
pub fn paint_stroke(painter: &Painter, raw: &[Pos2], width: f32, color: Color32) {
    let mut points: Vec<Pos2> = Vec::with_capacity(raw.len());
    for &pos in raw {
        // Points that coincide on screen add nothing but noise to the curve.
        if points.last().is_none_or(|last| last.distance(pos) > 0.25) {
            points.push(pos);
        }
    }
    let caps_visible = width >= CAPS_MIN_PX && color.a() == 255;
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
    if !caps_visible {
        return;
    }
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

#[cfg(test)]
mod tests {
    use egui::pos2;

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
}
