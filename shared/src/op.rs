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
//! when each person was there; boards ignore them.

use serde::{Deserialize, Serialize};

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
            Self::Clear | Self::Joined { .. } | Self::Left => None,
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

    /// Whether this op records someone joining or leaving the room rather than
    /// changing the board: only the relay makes such ops.
    #[must_use]
    pub fn is_presence(&self) -> bool {
        matches!(self, Self::Joined { .. } | Self::Left)
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
    /// Whether every coordinate and width in the op is an ordinary finite number,
    /// the relay's check before it sequences an op.
    #[must_use]
    pub fn is_well_formed(&self) -> bool {
        match &self.kind {
            OpKind::StrokeBegin { style, start, .. } => {
                start.is_finite() && crate::object::valid_size(style.width)
            }
            OpKind::StrokeAppend { points, .. } => points.iter().all(|p| p.is_finite()),
            OpKind::Create { data, .. } => data.is_well_formed(),
            OpKind::Set { property, .. } => property.is_well_formed(),
            OpKind::StrokeEnd { .. }
            | OpKind::Delete { .. }
            | OpKind::Restore { .. }
            | OpKind::ToFront { .. }
            | OpKind::ToBack { .. }
            | OpKind::Clear
            | OpKind::Joined { .. }
            | OpKind::Left => true,
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
