//! Drawing ops: the only way anything on a board changes.
//!
//! A client proposes an [`Op`]; the relay, the room's sequencer, stamps it with the
//! room's next sequence number, the author and the time, making a [`SequencedOp`].
//! Every peer applies sequenced ops in sequence order and so ends with the same
//! board.
//!
//! A stroke streams while it is drawn: [`OpKind::StrokeBegin`] when the pen goes
//! down, [`OpKind::StrokeAppend`] with the points gathered since (about one per
//! frame), [`OpKind::StrokeEnd`] when it lifts, so peers see it grow.

use serde::{Deserialize, Serialize};

use crate::{ClientId, Color, OpId, Point, StrokeId};

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
}

impl OpKind {
    /// The stroke this op is about.
    #[must_use]
    pub fn stroke(&self) -> StrokeId {
        match self {
            Self::StrokeBegin { stroke, .. }
            | Self::StrokeAppend { stroke, .. }
            | Self::StrokeEnd { stroke } => *stroke,
        }
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
    /// A new op with a fresh id.
    #[must_use]
    pub fn new(kind: OpKind) -> Self {
        Self {
            id: OpId::random(),
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
                start.is_finite() && style.width.is_finite() && style.width > 0.0
            }
            OpKind::StrokeAppend { points, .. } => points.iter().all(|p| p.is_finite()),
            OpKind::StrokeEnd { .. } => true,
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
