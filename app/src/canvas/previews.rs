//! The others' drags under way, as this canvas shows them: objects someone
//! is moving or reshaping shown where they would be left (and not where the
//! board still has them), a shape someone is dragging out drawn in their
//! style a little faded, each with a thin outline and a small tag in its
//! author's colour.
//!
//! A drag's last preview names the op that makes it real
//! ([`Preview::landing`]); it stays shown until that op has arrived (the
//! board then shows the same thing) or for [`LANDING_PATIENCE`] at most, even
//! once the author's presence has moved on, so that nothing jumps back while
//! the op is on its way. A drag let go of (Escape) goes at once, and so does
//! everything of someone who left. None of it touches the board, undo, the
//! log or files: it is drawn over the board's objects, from copies.
//!
//! Painting stays cheap: which object a drag shows otherwise is an index
//! rebuilt only when someone's preview changes, so that each frame costs an
//! object one hash look-up while anyone drags (nothing when nobody does); a
//! moved object is painted through a shifted transform, not copied.

use std::collections::{BTreeMap, HashMap};

use egui::{Color32, CornerRadius, FontId, Painter, Rect, Stroke, StrokeKind, vec2};
use tabula_shared::presence::{Change, Preview};
use tabula_shared::{ClientId, Color, Object, ObjectData, ObjectId, OpId, Point};

use super::convert::color32;

/// How long an ended drag stays shown while the op it lands as is on its
/// way, in seconds: an op that has not come by then is not coming soon (the
/// link dropped, or the relay refused it).
pub const LANDING_PATIENCE: f64 = 3.0;
/// How much of its colour a shape being dragged out by someone else keeps.
const SHAPE_FADE: f32 = 0.6;
/// How much of its author's colour a drag's outline keeps.
const OUTLINE_FADE: f32 = 0.55;

/// Someone's latest presence, as far as their drag goes.
#[derive(Clone, Copy, Debug)]
pub struct PeerDrag<'a> {
    /// Who.
    pub client: ClientId,
    /// Their name, on the drag's tag.
    pub name: &'a str,
    /// Their colour, for the tag and the outline.
    pub color: Color,
    /// What they are dragging, as they last said.
    pub preview: Option<&'a Preview>,
}

/// How a drag shows one object.
#[derive(Clone, Debug, PartialEq)]
pub enum Look {
    /// Moved by this much.
    Moved(Point),
    /// With these points (in its own frame).
    Reshaped(Vec<Point>),
}

/// One person's drag on show.
#[derive(Clone, Debug, PartialEq)]
struct Shown {
    /// Their name.
    name: String,
    /// Their colour.
    color: Color,
    /// What it changes, and the op it lands as once it has ended.
    preview: Preview,
    /// When the drag was first seen ended (with its landing op), in the
    /// canvas's clock.
    ended_at: Option<f64>,
}

/// The others' drags on show, and which objects they show otherwise.
#[derive(Debug, Default)]
pub struct PeerDrags {
    /// Each person's drag on show.
    shown: BTreeMap<ClientId, Shown>,
    /// Each person's ended drag no longer shown (its op came, or it waited
    /// long enough), so that it does not come back while their presence
    /// still names it.
    settled: BTreeMap<ClientId, OpId>,
    /// The objects the drags on show move or reshape, and how.
    looks: HashMap<ObjectId, (ClientId, Look)>,
}

impl PeerDrags {
    /// Takes in everyone's latest presence (anyone missing has left) at
    /// `now` (seconds, the canvas's clock); `arrived` says whether the board
    /// has an op.
    pub fn update<'a>(
        &mut self,
        peers: impl IntoIterator<Item = PeerDrag<'a>>,
        arrived: impl Fn(OpId) -> bool,
        now: f64,
    ) {
        let mut changed = false;
        let mut present = Vec::new();
        let mut settled = BTreeMap::new();
        for peer in peers {
            present.push(peer.client);
            let was_settled = self.settled.get(&peer.client).copied();
            let landing = peer.preview.and_then(|p| p.landing);
            if let Some(op) = landing.filter(|op| Some(*op) == was_settled) {
                // Their presence still names a drag whose op came.
                settled.insert(peer.client, op);
                changed |= self.shown.remove(&peer.client).is_some();
                continue;
            }
            changed |= take_in(&mut self.shown, &peer, now);
            let ended = self
                .shown
                .get(&peer.client)
                .and_then(|s| s.preview.landing.zip(s.ended_at));
            if let Some((op, ended_at)) = ended
                && (arrived(op) || now - ended_at > LANDING_PATIENCE)
            {
                settled.insert(peer.client, op);
                self.shown.remove(&peer.client);
                changed = true;
            }
        }
        let before = self.shown.len();
        self.shown.retain(|client, _| present.contains(client));
        changed |= self.shown.len() != before;
        self.settled = settled;
        if changed {
            self.reindex();
        }
    }

    /// Lets every drag go (a replay shows no one's).
    pub fn clear(&mut self) {
        self.shown.clear();
        self.settled.clear();
        self.looks.clear();
    }

    /// Whether anyone's drag is on show.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.shown.is_empty()
    }

    /// How someone's drag shows object `id`, if one does, and whose.
    #[must_use]
    pub fn look(&self, id: ObjectId) -> Option<&(ClientId, Look)> {
        if self.looks.is_empty() {
            return None;
        }
        self.looks.get(&id)
    }

    /// The shapes being dragged out, and whose.
    pub fn shapes(&self) -> impl Iterator<Item = (ClientId, &ObjectData)> + '_ {
        self.shown
            .iter()
            .filter_map(|(client, shown)| match &shown.preview.change {
                Change::Shape(data) => Some((*client, data)),
                _ => None,
            })
    }

    /// Each drag on show: whose, their name and colour.
    pub fn people(&self) -> impl Iterator<Item = (ClientId, &str, Color)> + '_ {
        self.shown
            .iter()
            .map(|(client, shown)| (*client, shown.name.as_str(), shown.color))
    }

    /// The drag on show of `client`, if any.
    #[must_use]
    pub fn preview_of(&self, client: ClientId) -> Option<&Preview> {
        self.shown.get(&client).map(|s| &s.preview)
    }

    /// Rebuilds which objects the drags on show move or reshape.
    fn reindex(&mut self) {
        self.looks.clear();
        for (client, shown) in &self.shown {
            match &shown.preview.change {
                Change::Move { objects, by } => {
                    for id in objects {
                        self.looks.insert(*id, (*client, Look::Moved(*by)));
                    }
                }
                Change::Reshape { object, points } => {
                    self.looks
                        .insert(*object, (*client, Look::Reshaped(points.clone())));
                }
                Change::Shape(_) => {}
            }
        }
    }
}

/// Takes `peer`'s latest preview into `shown`: a new or changed one
/// replaces what was shown, none lets go of a drag still under way but keeps
/// one that ended (its op on its way). Whether anything changed.
fn take_in(shown: &mut BTreeMap<ClientId, Shown>, peer: &PeerDrag<'_>, now: f64) -> bool {
    let held = shown.get_mut(&peer.client);
    match (peer.preview, held) {
        (Some(preview), Some(held)) => {
            if held.name != peer.name || held.color != peer.color {
                peer.name.clone_into(&mut held.name);
                held.color = peer.color;
            }
            if held.preview == *preview {
                return false;
            }
            if held.preview.landing != preview.landing {
                held.ended_at = preview.landing.map(|_| now);
            }
            held.preview = preview.clone();
            true
        }
        (Some(preview), None) => {
            shown.insert(
                peer.client,
                Shown {
                    name: peer.name.to_owned(),
                    color: peer.color,
                    preview: preview.clone(),
                    ended_at: preview.landing.map(|_| now),
                },
            );
            true
        }
        // Ended, its op on its way: kept.
        (None, Some(held)) if held.preview.landing.is_some() => false,
        // Let go of.
        (None, Some(_)) => shown.remove(&peer.client).is_some(),
        (None, None) => false,
    }
}

/// An object as `look` shows it: moved or reshaped.
#[must_use]
pub fn as_shown(object: &Object, look: &Look) -> Object {
    let mut shown = object.clone();
    match look {
        Look::Moved(by) => shown.offset = shown.offset.offset(*by),
        Look::Reshaped(points) => shown.data.points.clone_from(points),
    }
    shown
}

/// A shape someone is dragging out, as it would be made, its colours faded.
#[must_use]
pub fn faded_shape(author: ClientId, data: &ObjectData) -> Object {
    let mut data = data.clone();
    data.color.a = (f32::from(data.color.a) * SHAPE_FADE) as u8;
    Object {
        id: ObjectId(uuid::Uuid::nil()),
        author,
        data,
        offset: Point::default(),
        layer: i64::MAX,
        finished: false,
        deleted: false,
    }
}

/// A thin outline in `color` around `area` (screen) and a small tag with
/// `name` above its top-left corner: whose drag this is.
pub fn paint_tag(painter: &Painter, area: Rect, name: &str, color: Color) {
    let color = color32(color);
    painter.rect_stroke(
        area.expand(3.0),
        CornerRadius::same(2),
        Stroke::new(1.0, color.gamma_multiply(OUTLINE_FADE)),
        StrokeKind::Middle,
    );
    let galley =
        painter.layout_no_wrap(name.to_owned(), FontId::proportional(10.0), Color32::WHITE);
    let size = galley.size() + vec2(8.0, 2.0);
    let tag = Rect::from_min_size(area.left_top() + vec2(-3.0, -4.0 - size.y), size);
    painter.rect_filled(tag, CornerRadius::same(3), color.gamma_multiply(0.85));
    painter.galley(tag.min + vec2(4.0, 1.0), galley, Color32::WHITE);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moved(objects: Vec<ObjectId>, landing: Option<OpId>) -> Preview {
        Preview {
            change: Change::Move {
                objects,
                by: Point::new(10.0, 0.0),
            },
            landing,
        }
    }

    fn peer(client: ClientId, preview: Option<&Preview>) -> PeerDrag<'_> {
        PeerDrag {
            client,
            name: "Bob",
            color: Color::rgb(0, 0, 200),
            preview,
        }
    }

    #[test]
    fn an_ended_drag_stays_until_its_op_arrives_and_does_not_come_back() {
        let (bob, object, op) = (ClientId::random(), ObjectId::random(), OpId::random());
        let mut drags = PeerDrags::default();
        let dragging = moved(vec![object], None);
        drags.update([peer(bob, Some(&dragging))], |_| false, 0.0);
        assert!(matches!(drags.look(object), Some((_, Look::Moved(_)))));
        let ended = moved(vec![object], Some(op));
        drags.update([peer(bob, Some(&ended))], |_| false, 0.1);
        // Their presence moves on before the op is here: still shown.
        drags.update([peer(bob, None)], |_| false, 0.2);
        assert_eq!(drags.preview_of(bob), Some(&ended));
        assert!(drags.look(object).is_some());
        drags.update([peer(bob, None)], |o| o == op, 0.3);
        assert!(drags.is_empty());
        assert!(drags.look(object).is_none());
        // Their presence still names it, the op long arrived: not again.
        drags.update([peer(bob, Some(&ended))], |_| false, 0.4);
        assert!(drags.is_empty());
    }

    #[test]
    fn a_drag_let_go_of_or_of_someone_who_left_goes_at_once_and_an_ended_one_in_time() {
        let (bob, object) = (ClientId::random(), ObjectId::random());
        let mut drags = PeerDrags::default();
        let dragging = moved(vec![object], None);
        drags.update([peer(bob, Some(&dragging))], |_| false, 0.0);
        drags.update([peer(bob, None)], |_| false, 0.1);
        assert!(drags.is_empty(), "let go of");
        drags.update([peer(bob, Some(&dragging))], |_| false, 0.2);
        drags.update([], |_| false, 0.3);
        assert!(drags.is_empty(), "left");
        let ended = moved(vec![object], Some(OpId::random()));
        drags.update([peer(bob, Some(&ended))], |_| false, 1.0);
        drags.update([peer(bob, None)], |_| false, 1.0 + LANDING_PATIENCE / 2.0);
        assert!(!drags.is_empty());
        drags.update([peer(bob, None)], |_| false, 1.1 + LANDING_PATIENCE);
        assert!(drags.is_empty(), "waited long enough");
    }
}
