//! Drawing ops: the only way anything on a board changes.
//!
//! A client proposes an [`Op`]; the relay, the room's sequencer, stamps it with the
//! room's next sequence number, the author and the time, making a [`SequencedOp`].
//! Every peer applies sequenced ops in sequence order and so ends with the same
//! board.
//!
//! A stroke streams while it is drawn: [`OpKind::StrokeBegin`] when the pen goes
//! down, [`OpKind::StrokeAppend`] with the points gathered since (about one per
//! frame), [`OpKind::StrokeEnd`] when it lifts, so peers see it grow. Only the
//! stroke's author may extend it.
//!
//! Every other object is made whole by [`OpKind::Create`] and changed one
//! property at a time by [`OpKind::Set`]; [`OpKind::Delete`] hides it,
//! [`OpKind::Restore`] brings it back (undo of a delete), [`OpKind::ToFront`] and
//! [`OpKind::ToBack`] restack it, and [`OpKind::Clear`] deletes everything.
//! Undo and redo are ordinary ops too, computed by the client that undoes.
//!
//! The relay also records who came and went, as [`OpKind::Joined`] and
//! [`OpKind::Left`] ops in the room's sequence, so that a saved session knows
//! when each person was there; boards ignore them. What the room's operators
//! do (roles, kicks, the lock, view-only) is recorded the same way
//! ([`OpKind::Moderated`]), so a replay shows it.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::access::Role;
use crate::caps;
use crate::object::{ObjectData, Property};
use crate::{ClientId, Color, ObjectId, OpId, Point, StrokeId};

/// How a stroke looks.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StrokeStyle {
    /// The ink colour.
    pub color: Color,
    /// The pen width in canvas units (it scales with zoom like the rest of the board).
    pub width: f32,
}

/// What an op does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum OpKind {
    /// A stroke starts at `start`.
    StrokeBegin {
        /// The new stroke, named by its author.
        stroke: StrokeId,
        /// Its colour and width.
        style: StrokeStyle,
        /// Where the pen went down.
        start: Point,
    },
    /// More points of a stroke that is being drawn.
    StrokeAppend {
        /// The stroke they extend; only its author may extend it.
        stroke: StrokeId,
        /// The points, in drawing order.
        points: Vec<Point>,
    },
    /// The pen lifted: the stroke is complete and takes no more points.
    StrokeEnd {
        /// The stroke that is complete.
        stroke: StrokeId,
    },
    /// A whole object appears (a shape, a text, a pasted or duplicated stroke).
    Create {
        /// Its new id; a create with an id already on the board is ignored.
        object: ObjectId,
        /// What it is and how it looks.
        data: ObjectData,
    },
    /// One property of an object changes; the last in sequence order wins.
    Set {
        /// The object.
        object: ObjectId,
        /// The property and its new value.
        property: Property,
    },
    /// The object is deleted (kept hidden, so that it can be restored).
    Delete {
        /// The object.
        object: ObjectId,
    },
    /// A deleted object comes back, as it was.
    Restore {
        /// The object.
        object: ObjectId,
    },
    /// The object goes on top of everything there is.
    ToFront {
        /// The object.
        object: ObjectId,
    },
    /// The object goes below everything there is.
    ToBack {
        /// The object.
        object: ObjectId,
    },
    /// Every object on the board is deleted.
    Clear,
    /// Someone entered the room, under this name and colour. Recorded by the
    /// relay, never proposed by a client; changes nothing on the board.
    Joined {
        /// The name they went by.
        name: String,
        /// Their cursor colour.
        color: Color,
    },
    /// Someone left the room (closed, timed out, or was cut off). Recorded by
    /// the relay like [`OpKind::Joined`]; changes nothing on the board.
    Left,
    /// An operator (the op's author) ran the room. Recorded by the relay like
    /// [`OpKind::Joined`]; changes nothing on the board.
    Moderated(Moderated),
}

/// What an operator did, as the room's log records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Moderated {
    /// Gave someone a role.
    Role {
        /// Whom.
        client: ClientId,
        /// The role.
        role: Role,
    },
    /// Cut someone off for the rest of the session.
    Kicked {
        /// Whom.
        client: ClientId,
    },
    /// Locked the room against newcomers (`true`) or opened it (`false`).
    Locked(bool),
    /// Made the room view-only for all but operators (`true`), or not.
    ViewOnly(bool),
}

/// Which objects an op can change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Touches {
    /// One object.
    One(ObjectId),
    /// Possibly all of them.
    All,
    /// None: the op records who came and went.
    Nothing,
}

impl OpKind {
    /// The object this op is about, `None` for ops about the whole board.
    #[must_use]
    pub fn object(&self) -> Option<ObjectId> {
        match self {
            Self::StrokeBegin { stroke, .. }
            | Self::StrokeAppend { stroke, .. }
            | Self::StrokeEnd { stroke } => Some(*stroke),
            Self::Create { object, .. }
            | Self::Set { object, .. }
            | Self::Delete { object }
            | Self::Restore { object }
            | Self::ToFront { object }
            | Self::ToBack { object } => Some(*object),
            Self::Clear | Self::Joined { .. } | Self::Left | Self::Moderated(_) => None,
        }
    }

    /// Which objects applying it can change.
    #[must_use]
    pub fn touches(&self) -> Touches {
        if self.is_presence() {
            return Touches::Nothing;
        }
        self.object().map_or(Touches::All, Touches::One)
    }

    /// Whether this op records someone joining or leaving the room, or an
    /// operator running it, rather than changing the board: only the relay
    /// makes such ops.
    #[must_use]
    pub fn is_presence(&self) -> bool {
        matches!(self, Self::Joined { .. } | Self::Left | Self::Moderated(_))
    }
}

/// An op as its author proposes it, before the relay has ordered it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Unique per op; a resend after a reconnect carries the same id.
    pub id: OpId,
    /// What it does.
    pub kind: OpKind,
}

impl Op {
    /// A new op with a fresh, time-ordered id ([`OpId::time_ordered`]).
    #[must_use]
    pub fn new(kind: OpKind) -> Self {
        Self {
            id: OpId::time_ordered(),
            kind,
        }
    }
}

impl Op {
    /// Whether every coordinate, size, point count and text in the op is
    /// within the caps ([`crate::caps`]): the relay's check before it
    /// sequences an op, and every board's before it applies one.
    #[must_use]
    pub fn is_well_formed(&self) -> bool {
        self.check().is_ok()
    }

    /// [`Self::is_well_formed`], with the reason when not.
    pub fn check(&self) -> Result<(), caps::Malformed> {
        match &self.kind {
            OpKind::StrokeBegin { style, start, .. } => {
                caps::check_point(*start)?;
                caps::check_size(style.width)
            }
            OpKind::StrokeAppend { points, .. } => caps::check_points(points),
            OpKind::Create { data, .. } => data.check(),
            OpKind::Set { property, .. } => property.check(),
            OpKind::StrokeEnd { .. }
            | OpKind::Delete { .. }
            | OpKind::Restore { .. }
            | OpKind::ToFront { .. }
            | OpKind::ToBack { .. }
            | OpKind::Clear
            | OpKind::Joined { .. }
            | OpKind::Left
            | OpKind::Moderated(_) => Ok(()),
        }
    }
}

/// An op after the relay has ordered it: what every peer applies and what a saved
/// session stores, one per row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SequencedOp {
    /// The room's sequence number: 1 for the first op, then one more each time.
    pub seq: u64,
    /// Who proposed it.
    pub author: ClientId,
    /// When the relay ordered it, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The op itself.
    pub op: Op,
}

/// How many points each stroke one sender has open holds so far: what lets
/// the relay refuse the append that would take a stroke past
/// [`caps::MAX_STROKE_POINTS`], where each op alone is within the caps.
///
/// Kept per connection, for the latest [`Self::TRACKED`] strokes begun and
/// not ended (a person draws one at a time): an older one, or one begun
/// before a reconnect, counts from zero. Past the cap the boards ignore a
/// stroke's points all the same; the tally keeps them out of the log.
#[derive(Debug, Default)]
pub struct StrokeTally {
    /// Open strokes and their points so far, the latest begun last.
    open: VecDeque<(StrokeId, usize)>,
}

impl StrokeTally {
    /// How many open strokes are tallied at most.
    pub const TRACKED: usize = 64;

    /// Checks `op` against the caps ([`Op::check`]) and, for a stroke's
    /// begin, appends and end, against the stroke's points so far; counts it
    /// if it passes.
    pub fn admit(&mut self, op: &Op) -> Result<(), caps::Malformed> {
        op.check()?;
        match &op.kind {
            OpKind::StrokeBegin { stroke, .. } => {
                self.open.retain(|(open, _)| open != stroke);
                if self.open.len() == Self::TRACKED {
                    self.open.pop_front();
                }
                self.open.push_back((*stroke, 1));
            }
            OpKind::StrokeAppend { stroke, points } => {
                let tallied = self.open.iter_mut().find(|(open, _)| open == stroke);
                let had = tallied.as_ref().map_or(0, |(_, count)| *count);
                caps::check_stroke_growth(had, points.len())?;
                if let Some((_, count)) = tallied {
                    *count = had + points.len();
                }
            }
            OpKind::StrokeEnd { stroke } => {
                self.open.retain(|(open, _)| open != stroke);
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: OpKind) -> Op {
        Op::new(kind)
    }

    #[test]
    fn a_stroke_grows_to_the_cap_and_no_further() {
        let mut tally = StrokeTally::default();
        let stroke = StrokeId::random();
        let style = StrokeStyle {
            color: Color::rgb(0, 0, 0),
            width: 2.0,
        };
        let start = Point::new(0.0, 0.0);
        tally
            .admit(&op(OpKind::StrokeBegin {
                stroke,
                style,
                start,
            }))
            .unwrap();
        let half = vec![Point::new(1.0, 1.0); caps::MAX_STROKE_POINTS / 2];
        let append = |points: Vec<Point>| op(OpKind::StrokeAppend { stroke, points });
        tally.admit(&append(half.clone())).unwrap();
        tally.admit(&append(half[1..].to_vec())).unwrap();
        let past = tally
            .admit(&append(vec![Point::new(2.0, 2.0)]))
            .unwrap_err();
        assert_eq!(
            past,
            caps::Malformed::TooManyPoints {
                count: caps::MAX_STROKE_POINTS + 1,
                max: caps::MAX_STROKE_POINTS
            }
        );
        tally.admit(&op(OpKind::StrokeEnd { stroke })).unwrap();
        assert!(tally.open.is_empty());
    }

    #[test]
    fn strokes_begun_and_never_ended_are_tallied_the_latest_few() {
        let mut tally = StrokeTally::default();
        let begin = || {
            op(OpKind::StrokeBegin {
                stroke: StrokeId::random(),
                style: StrokeStyle {
                    color: Color::rgb(0, 0, 0),
                    width: 2.0,
                },
                start: Point::new(0.0, 0.0),
            })
        };
        for _ in 0..10 * StrokeTally::TRACKED {
            tally.admit(&begin()).unwrap();
        }
        assert_eq!(tally.open.len(), StrokeTally::TRACKED);
    }
}
