//! The board model: the objects on a board, the relay's order and the local ops
//! not yet in it.
//!
//! A board has two scenes. The *confirmed* scene is built from sequenced ops
//! alone, in the relay's order, and is the same on every peer. The *view* is what
//! this peer shows: the confirmed scene with the local ops still pending applied
//! on top, in the order they were made. When a foreign op arrives it goes into
//! the confirmed scene, and the view is rebuilt for just the objects that op or a
//! pending op touches: those are copied from the confirmed scene and the pending
//! ops re-applied to them. So the view is always exactly "confirmed + pending",
//! and once every local op is confirmed it equals the relay's order alone,
//! whatever the interleaving.
//!
//! The two scenes differ only in the objects the pending ops touch, so the board
//! holds every object once, in the view, and keeps the confirmed state apart
//! only for those few (the [`Shadow`]). With nothing pending — replaying,
//! opening, joining, watching — an op is applied once, to the view; the first
//! local op copies only the objects it touches, however big the board. Only a
//! pending clear, which touches everything, makes the shadow a whole scene.
//!
//! Pending ops are applied with provisional sequence numbers just after the last
//! confirmed one, so new and raised objects sit on top until the relay places
//! them. A pending op the relay refuses is withdrawn ([`Board::withdraw`]): the
//! objects it touched are rebuilt without it.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::object::{Object, Property};
use crate::op::Touches;
use crate::scene::Scene;
use crate::{ClientId, ObjectId, Op, OpId, OpKind, Rect, SequencedOp};

/// What applying an op did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The board changed.
    Changed,
    /// A sequenced op confirmed a local op that was already applied.
    Confirmed,
    /// The op could not apply and was ignored (it still counts as sequenced).
    Ignored,
    /// The sequence number was already applied; nothing happened.
    Duplicate,
    /// The sequence number skips ahead of the next one expected; nothing happened.
    Gap {
        /// The sequence number the board expected.
        expected: u64,
    },
}

/// A local op waiting for the relay to sequence it.
#[derive(Clone, Debug, PartialEq)]
struct PendingOp {
    /// Who made it (this peer), as the relay will stamp it.
    author: ClientId,
    /// The op as sent.
    op: Op,
}

/// The sequenced state of a board, in a stable serialisable form: what a saved
/// room keeps so that it need not replay its whole log.
///
/// Objects are listed bottom of the stack first (ties by id), deleted ones
/// included so that they can still be restored; the same board always gives the
/// same snapshot, byte for byte once encoded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The last sequence number applied.
    pub last_seq: u64,
    /// Every object, in stacking order.
    pub objects: Vec<Object>,
}

/// The confirmed scene where it may differ from the view: the objects the
/// pending ops touch. Everywhere else the confirmed scene is the view.
#[derive(Clone, Debug, Default)]
struct Shadow {
    /// A pending op touches every object (a clear): `objects` is then the whole
    /// confirmed scene, and `ids` is empty.
    whole: bool,
    /// The objects the pending ops touch, when not `whole`: empty exactly when
    /// nothing is pending.
    ids: BTreeSet<ObjectId>,
    /// The confirmed state of `ids` (an id missing here is missing from the
    /// confirmed scene), or the whole confirmed scene when `whole`.
    objects: Scene,
}

impl Shadow {
    /// Whether the confirmed state of `id` is kept here rather than in the view.
    fn holds(&self, id: ObjectId) -> bool {
        self.whole || self.ids.contains(&id)
    }
}

/// A whiteboard: the view with local ops on top, the confirmed state where it
/// differs, and the local ops not yet sequenced.
#[derive(Clone, Debug, Default)]
pub struct Board {
    /// The confirmed scene with the pending ops applied on top: what is shown.
    /// Also the confirmed scene itself for every object `shadow` does not hold,
    /// so that each object is kept once.
    view: Scene,
    /// The confirmed state of the objects the pending ops touch: with `view`,
    /// the confirmed scene, built from sequenced ops alone and the same on
    /// every peer.
    shadow: Shadow,
    /// The last sequence number applied; the next must be one more.
    last_seq: u64,
    /// Local ops applied optimistically, oldest first.
    pending: VecDeque<PendingOp>,
    /// Changes whenever the view may have changed, to a number no other board
    /// state has had (see [`Self::generation`]): lets a painter keep what it
    /// derived from the objects until the board changes. Not part of equality.
    generation: u64,
    /// The latest changes, oldest first, at most [`CHANGES_KEPT`]: the
    /// generation before each and the objects it changed (`None`: possibly
    /// all), so that a painter can redo only those (see [`Self::changed_since`]).
    changes: VecDeque<(u64, Option<Vec<ObjectId>>)>,
    /// How many sequenced ops beyond the caps were ignored, and objects beyond
    /// them dropped from a snapshot: what a relay or file sent that no honest
    /// peer makes, for the app to report once (see [`Self::malformed`]). Not
    /// part of equality.
    malformed: u64,
}

/// How many of the latest changes a board remembers for [`Board::changed_since`].
const CHANGES_KEPT: usize = 64;

/// Hands out board generations, unique in the process: a board that changes
/// never takes a number another board (or an earlier state) has had.
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

/// A generation number no board state has had yet.
fn fresh_generation() -> u64 {
    NEXT_GENERATION.fetch_add(1, Ordering::Relaxed)
}

/// Two boards are equal when they have applied the same sequence, hold the same
/// objects in the same order and have the same ops pending.
impl PartialEq for Board {
    fn eq(&self, other: &Self) -> bool {
        self.last_seq == other.last_seq
            && self.pending == other.pending
            && self.view == other.view
            && self.confirmed_objects() == other.confirmed_objects()
    }
}

impl Board {
    /// An empty board.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A number that changes whenever the objects on show may have changed.
    /// Two boards with the same generation show the same objects (one is a
    /// clone of the other, or both are empty and new), so whatever was derived
    /// from a board's objects stays valid while its generation stays the same.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The objects that changed (appeared, changed or went) between the board
    /// of `generation` and this one, if this board came from that one by at
    /// most [`CHANGES_KEPT`] changes each naming its objects; `None` when that
    /// is not known (then anything may have changed).
    #[must_use]
    pub fn changed_since(&self, generation: u64) -> Option<Vec<ObjectId>> {
        if generation == self.generation {
            return Some(Vec::new());
        }
        let start = self
            .changes
            .iter()
            .rposition(|(before, _)| *before == generation)?;
        let mut ids = Vec::new();
        for (_, changed) in self.changes.iter().skip(start) {
            ids.extend(changed.as_ref()?.iter().copied());
        }
        Some(ids)
    }

    /// Moves to a new generation after a change to the objects `ids` (`None`:
    /// possibly all of them).
    fn record_change(&mut self, ids: Option<Vec<ObjectId>>) {
        let before = self.generation;
        self.generation = fresh_generation();
        if self.changes.len() == CHANGES_KEPT {
            self.changes.pop_front();
        }
        self.changes.push_back((before, ids));
    }

    /// The objects on show, bottom of the stack first.
    pub fn objects(&self) -> impl Iterator<Item = &Object> + '_ {
        self.view.visible()
    }

    /// One object by id, if it is on show.
    #[must_use]
    pub fn object(&self, id: ObjectId) -> Option<&Object> {
        self.view.get(id).filter(|o| !o.deleted)
    }

    /// One object by id, deleted or not.
    #[must_use]
    pub fn object_any(&self, id: ObjectId) -> Option<&Object> {
        self.view.get(id)
    }

    /// How many objects are on show.
    #[must_use]
    pub fn object_count(&self) -> usize {
        self.view.visible_count()
    }

    /// The last sequence number applied (0 for none).
    #[must_use]
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The local ops not yet sequenced, oldest first.
    pub fn pending_ops(&self) -> impl Iterator<Item = &Op> + '_ {
        self.pending.iter().map(|p| &p.op)
    }

    /// The area the objects on show cover, or `None` for an empty board.
    #[must_use]
    pub fn content_bounds(&self) -> Option<Rect> {
        self.view.bounds()
    }

    /// The topmost object on show within `radius` of `p`.
    #[must_use]
    pub fn object_at(&self, p: crate::Point, radius: f32) -> Option<&Object> {
        let hits: Vec<&Object> = self
            .objects()
            .filter(|o| o.bounds().expand(radius).contains(p) && o.distance(p) <= radius)
            .collect();
        hits.last().copied()
    }

    /// Applies a local op at once and keeps it pending until the relay sequences it.
    pub fn apply_local(&mut self, author: ClientId, op: Op) -> Applied {
        self.shadow_before_local(op.kind.touches());
        let provisional = self.last_seq + 1 + self.pending.len() as u64;
        let changed = op.is_well_formed() && self.view.apply(author, &op.kind, provisional);
        self.record_change(touched(&op.kind));
        self.pending.push_back(PendingOp { author, op });
        if changed {
            Applied::Changed
        } else {
            Applied::Ignored
        }
    }

    /// Applies an op in the relay's order. If it is one of this board's pending
    /// local ops, it is confirmed instead of applied twice.
    pub fn apply_sequenced(&mut self, sequenced: &SequencedOp) -> Applied {
        if sequenced.seq <= self.last_seq {
            return Applied::Duplicate;
        }
        let expected = self.last_seq + 1;
        if sequenced.seq != expected {
            return Applied::Gap { expected };
        }
        self.last_seq = sequenced.seq;
        let kind = &sequenced.op.kind;
        let well_formed = sequenced.op.is_well_formed();
        if !well_formed {
            self.malformed += 1;
        }
        let own = self.pending.iter().position(|p| p.op.id == sequenced.op.id);
        if let Some(index) = own {
            self.pending.remove(index);
        }
        if kind.is_presence() {
            // Who came and went: nothing on the board changes (and the later
            // pending ops keep their provisional places).
            return if own.is_some() {
                Applied::Confirmed
            } else {
                Applied::Ignored
            };
        }
        let changed = if self.pending.is_empty() && own.is_none() {
            // Nothing local on top, so nothing shadowed: the view is the
            // confirmed scene and takes the step alone.
            let changed = well_formed && self.view.apply(sequenced.author, kind, sequenced.seq);
            self.record_change(touched(kind));
            changed
        } else {
            let changed =
                well_formed && self.apply_confirmed(sequenced.author, kind, sequenced.seq);
            let refreshed = self.refresh_view(kind.touches());
            self.record_change(refreshed);
            changed
        };
        match (own, changed) {
            (Some(_), _) => Applied::Confirmed,
            (None, true) => Applied::Changed,
            (None, false) => Applied::Ignored,
        }
    }

    /// Confirms a pending local op that the relay acknowledged with `seq`, and
    /// returns it as sequenced; `None` if no such op is pending.
    pub fn confirm(&mut self, op: OpId, seq: u64, timestamp_ms: u64) -> Option<SequencedOp> {
        let pending = self.pending.iter().find(|p| p.op.id == op)?;
        let sequenced = SequencedOp {
            seq,
            author: pending.author,
            timestamp_ms,
            op: pending.op.clone(),
        };
        (self.apply_sequenced(&sequenced) == Applied::Confirmed).then_some(sequenced)
    }

    /// Withdraws the pending local op `op`, which the relay refused: the view
    /// becomes the confirmed scene with the other pending ops on top, as if
    /// `op` had never been made. Returns it; `None` if no such op is pending.
    pub fn withdraw(&mut self, op: OpId) -> Option<Op> {
        let index = self.pending.iter().position(|p| p.op.id == op)?;
        let withdrawn = self.pending.remove(index)?.op;
        let refreshed = self.refresh_view(withdrawn.kind.touches());
        self.record_change(refreshed);
        Some(withdrawn)
    }

    /// Forgets everything sequenced and keeps the pending local ops, applied again
    /// on an empty board: for when the relay starts the room over from nothing.
    pub fn restart_keeping_pending(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        *self = Self::new();
        for p in pending {
            self.apply_local(p.author, p.op);
        }
    }

    /// The ops that would undo `kind` if it were applied now: computed from the
    /// board as shown, before `kind` is applied. Empty when it would change
    /// nothing worth undoing (a stroke's points, an op that will be ignored).
    #[must_use]
    pub fn inverse(&self, kind: &OpKind) -> Vec<Op> {
        let shown = |id: &ObjectId| self.object(*id);
        let kinds = match kind {
            OpKind::StrokeBegin { stroke: object, .. } | OpKind::Create { object, .. } => {
                if self.view.get(*object).is_none() {
                    vec![OpKind::Delete { object: *object }]
                } else {
                    Vec::new()
                }
            }
            OpKind::StrokeAppend { .. }
            | OpKind::StrokeEnd { .. }
            | OpKind::Joined { .. }
            | OpKind::Left
            | OpKind::Moderated(_) => Vec::new(),
            OpKind::Set { object, property } => shown(object)
                .map(|o| OpKind::Set {
                    object: *object,
                    property: o.get(property),
                })
                .into_iter()
                .collect(),
            OpKind::Delete { object } => shown(object)
                .map(|_| OpKind::Restore { object: *object })
                .into_iter()
                .collect(),
            OpKind::Restore { object } => match self.view.get(*object) {
                Some(o) if o.deleted => vec![OpKind::Delete { object: *object }],
                _ => Vec::new(),
            },
            OpKind::ToFront { object } | OpKind::ToBack { object } => shown(object)
                .map(|o| OpKind::Set {
                    object: *object,
                    property: Property::Layer(o.layer),
                })
                .into_iter()
                .collect(),
            OpKind::Clear => self
                .objects()
                .map(|o| OpKind::Restore { object: o.id })
                .collect(),
        };
        kinds.into_iter().map(Op::new).collect()
    }

    /// The sequenced state, without pending local ops: for saving a room.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            last_seq: self.last_seq,
            objects: self.confirmed_objects().into_iter().cloned().collect(),
        }
    }

    /// The board after applying `ops` in order, with nothing pending.
    #[must_use]
    pub fn from_sequenced<'a>(ops: impl IntoIterator<Item = &'a SequencedOp>) -> Self {
        let mut board = Self::new();
        for op in ops {
            board.apply_sequenced(op);
        }
        board
    }

    /// A board holding exactly what `snapshot` recorded, with nothing pending.
    /// Objects that repeat an id are taken once (the first); a snapshot made by
    /// [`Self::snapshot`] never repeats one.
    #[must_use]
    pub fn from_snapshot(snapshot: Snapshot) -> Self {
        let mut scene = Scene::default();
        let mut malformed = 0;
        for object in snapshot.objects {
            if !object.is_well_formed() {
                malformed += 1;
            } else if scene.get(object.id).is_none() {
                scene.put(object.id, Some(object));
            }
        }
        Self {
            view: scene,
            shadow: Shadow::default(),
            last_seq: snapshot.last_seq,
            pending: VecDeque::new(),
            generation: fresh_generation(),
            changes: VecDeque::new(),
            malformed,
        }
    }

    /// How many sequenced ops beyond the caps ([`crate::caps`]) this board
    /// ignored and objects beyond them it dropped from the snapshot it was
    /// built from: what a hostile relay or a crafted file sent. The board is
    /// the same on every peer all the same; the app says so once.
    #[must_use]
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// The confirmed scene's objects, bottom of the stack first, deleted ones
    /// included: the view's where the shadow holds nothing, the shadow's where
    /// it does.
    fn confirmed_objects(&self) -> Vec<&Object> {
        let shadow = &self.shadow;
        if shadow.whole {
            return shadow.objects.all().collect();
        }
        let mut merged = Vec::with_capacity(self.view.len());
        let mut held = shadow.objects.all().peekable();
        for object in self.view.all().filter(|o| !shadow.ids.contains(&o.id)) {
            while let Some(first) = held.next_if(|h| (h.layer, h.id) < (object.layer, object.id)) {
                merged.push(first);
            }
            merged.push(object);
        }
        merged.extend(held);
        merged
    }

    /// Before a local op touching `touches` is applied to the view: keeps the
    /// confirmed state of what it touches in the shadow, unless it is there
    /// already.
    fn shadow_before_local(&mut self, touches: Touches) {
        let shadow = &mut self.shadow;
        if shadow.whole {
            return;
        }
        match touches {
            Touches::One(id) => {
                if shadow.ids.insert(id) {
                    shadow.objects.put(id, self.view.get(id).cloned());
                }
            }
            Touches::All => {
                // The whole confirmed scene: the view, with what the shadow
                // holds put back.
                let mut whole = self.view.clone();
                for id in std::mem::take(&mut shadow.ids) {
                    whole.copy_from(&shadow.objects, id);
                }
                shadow.objects = whole;
                shadow.whole = true;
            }
            Touches::Nothing => {}
        }
    }

    /// Applies a sequenced op to the confirmed scene while ops are pending:
    /// to the shadow for what it holds, to the view (which is the confirmed
    /// scene there) for the rest. `true` if the confirmed scene changed.
    fn apply_confirmed(&mut self, author: ClientId, kind: &OpKind, seq: u64) -> bool {
        match kind.touches() {
            Touches::One(id) if self.shadow.holds(id) => {
                self.shadow.objects.apply(author, kind, seq)
            }
            Touches::One(_) => self.view.apply(author, kind, seq),
            Touches::All if self.shadow.whole => self.shadow.objects.apply(author, kind, seq),
            Touches::All => {
                // The view outside the shadow is confirmed: it takes the op
                // too. The shadowed objects in it are rebuilt afterwards.
                let ids = &self.shadow.ids;
                let outside = self.view.visible().any(|o| !ids.contains(&o.id));
                self.view.apply(author, kind, seq);
                let inside = self.shadow.objects.apply(author, kind, seq);
                outside || inside
            }
            Touches::Nothing => false,
        }
    }

    /// Rebuilds the view for the objects `dirty` names and those the pending ops
    /// touched: copies them from the confirmed scene and re-applies the pending
    /// ops. Then lets the shadow go of what no pending op touches any more.
    /// Returns the objects it rebuilt (`None`: possibly all of them).
    fn refresh_view(&mut self, dirty: Touches) -> Option<Vec<ObjectId>> {
        let mut still = BTreeSet::new();
        let mut whole = false;
        for p in &self.pending {
            match p.op.kind.touches() {
                Touches::One(id) => {
                    still.insert(id);
                }
                Touches::All => whole = true,
                Touches::Nothing => {}
            }
        }
        let shadow = &mut self.shadow;
        let rebuilt = if shadow.whole {
            // The shadow is the whole confirmed scene.
            if whole {
                self.view = shadow.objects.clone();
            } else {
                let mut kept = Scene::default();
                for id in &still {
                    kept.copy_from(&shadow.objects, *id);
                }
                self.view = std::mem::replace(&mut shadow.objects, kept);
                shadow.whole = false;
                shadow.ids.clone_from(&still);
            }
            None
        } else {
            // Outside the shadow the view is already confirmed, the dirty
            // object included.
            for id in &shadow.ids {
                self.view.copy_from(&shadow.objects, *id);
            }
            let mut ids = std::mem::replace(&mut shadow.ids, still);
            for id in ids.difference(&shadow.ids) {
                shadow.objects.put(*id, None);
            }
            match dirty {
                Touches::One(id) => {
                    ids.insert(id);
                    Some(ids.into_iter().collect())
                }
                Touches::Nothing => Some(ids.into_iter().collect()),
                Touches::All => None,
            }
        };
        for (i, p) in self.pending.iter().enumerate() {
            if p.op.is_well_formed() {
                let provisional = self.last_seq + 1 + i as u64;
                self.view.apply(p.author, &p.op.kind, provisional);
            }
        }
        rebuilt
    }
}

/// The objects an op can change, `None` for possibly all.
fn touched(kind: &OpKind) -> Option<Vec<ObjectId>> {
    match kind.touches() {
        Touches::One(id) => Some(vec![id]),
        Touches::Nothing => Some(Vec::new()),
        Touches::All => None,
    }
}

#[cfg(test)]
mod tests;
