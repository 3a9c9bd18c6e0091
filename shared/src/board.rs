//! The board model: the strokes on a board and the rules for applying ops to it.
//!
//! A stroke is known by its author together with its id, so no one's op can reach
//! into someone else's stroke, whatever ids they forge.
//!
//! Applying the same sequenced ops in the same order gives the same board on every
//! peer: nothing here depends on time, randomness, hashing order or the machine.
//! An op that cannot apply (an append to a stroke that does not exist, or that
//! someone else began) is ignored, the same way everywhere, never a panic.
//!
//! Local ops are applied at once, optimistically, and kept as *pending* until the
//! relay sequences them. A stroke's content comes only from its author's ops, in
//! the author's order, so optimistic application changes nothing but where a
//! pending stroke sits in the stacking order: on top, until its begin is
//! sequenced, then at its sequence number. Once every op is confirmed the board
//! equals the one built from the relay's order alone.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::{ClientId, Op, OpId, OpKind, Point, Rect, SequencedOp, StrokeId, StrokeStyle};

/// Where a stroke sits in the stacking order: sequenced strokes by sequence
/// number, then pending ones in the order they were drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Layer {
    Sequenced(u64),
    Pending(u64),
}

/// One stroke of the pen.
#[derive(Clone, Debug, PartialEq)]
pub struct Stroke {
    /// Its id, chosen by its author.
    pub id: StrokeId,
    /// Who drew it; only their ops reach it.
    pub author: ClientId,
    /// Colour and width.
    pub style: StrokeStyle,
    /// The points in drawing order; never empty.
    pub points: Vec<Point>,
    /// Whether the pen has lifted.
    pub finished: bool,
    /// The points' bounding box (without the pen width), for culling.
    pub bounds: Rect,
    /// Position in the stacking order.
    layer: Layer,
}

impl Stroke {
    /// The area the stroke covers on the canvas, pen width included.
    #[must_use]
    pub fn covered(&self) -> Rect {
        self.bounds.expand(self.style.width * 0.5)
    }
}

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

/// A stroke's identity: its author and the id the author gave it.
type StrokeKey = (ClientId, StrokeId);

/// A local op waiting for the relay to sequence it.
#[derive(Clone, Debug, PartialEq)]
struct PendingOp {
    author: ClientId,
    op: Op,
    /// Whether applying it changed the board; a begin that was ignored locally is
    /// ignored in the relay's order too, since only its author's ops reach a stroke.
    changed: bool,
}

/// A whiteboard: strokes in stacking order plus the local ops not yet sequenced.
#[derive(Clone, Debug, Default)]
pub struct Board {
    /// Every stroke, by author and id.
    strokes: HashMap<StrokeKey, Stroke>,
    /// Stacking order, bottom first.
    layers: BTreeMap<Layer, StrokeKey>,
    /// The last sequence number applied; the next must be one more.
    last_seq: u64,
    /// Local ops applied optimistically, oldest first.
    pending: VecDeque<PendingOp>,
    /// Hands out [`Layer::Pending`] positions.
    next_pending_layer: u64,
}

/// Two boards are equal when they show the same strokes in the same order and
/// have applied the same sequence.
impl PartialEq for Board {
    fn eq(&self, other: &Self) -> bool {
        self.last_seq == other.last_seq
            && self.pending == other.pending
            && self.strokes().eq(other.strokes())
    }
}

impl Board {
    /// An empty board.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The strokes, bottom of the stack first.
    pub fn strokes(&self) -> impl Iterator<Item = &Stroke> + '_ {
        self.layers.values().filter_map(|id| self.strokes.get(id))
    }

    /// One stroke by its author and id.
    #[must_use]
    pub fn stroke(&self, author: ClientId, id: StrokeId) -> Option<&Stroke> {
        self.strokes.get(&(author, id))
    }

    /// How many strokes the board holds.
    #[must_use]
    pub fn stroke_count(&self) -> usize {
        self.strokes.len()
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

    /// The area all strokes cover, or `None` for an empty board.
    #[must_use]
    pub fn content_bounds(&self) -> Option<Rect> {
        self.strokes
            .values()
            .map(Stroke::covered)
            .reduce(Rect::union)
    }

    /// Applies a local op at once and keeps it pending until the relay sequences it.
    pub fn apply_local(&mut self, author: ClientId, op: Op) -> Applied {
        let layer = Layer::Pending(self.next_pending_layer);
        self.next_pending_layer += 1;
        let applied = self.apply_kind(author, &op.kind, layer);
        self.pending.push_back(PendingOp {
            author,
            op,
            changed: applied == Applied::Changed,
        });
        applied
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
        if let Some(index) = self.pending.iter().position(|p| p.op.id == sequenced.op.id) {
            let pending = self.pending.remove(index).expect("index from position");
            if let (OpKind::StrokeBegin { stroke, .. }, true) = (&pending.op.kind, pending.changed)
            {
                self.move_to_layer((pending.author, *stroke), Layer::Sequenced(sequenced.seq));
            }
            return Applied::Confirmed;
        }
        self.apply_kind(
            sequenced.author,
            &sequenced.op.kind,
            Layer::Sequenced(sequenced.seq),
        )
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

    /// Forgets everything sequenced and keeps the pending local ops, applied again
    /// on an empty board: for when the relay starts the room over from nothing.
    pub fn restart_keeping_pending(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        *self = Self::new();
        for p in pending {
            self.apply_local(p.author, p.op);
        }
    }

    fn apply_kind(&mut self, author: ClientId, kind: &OpKind, layer: Layer) -> Applied {
        match kind {
            OpKind::StrokeBegin {
                stroke,
                style,
                start,
            } => {
                let key = (author, *stroke);
                if self.strokes.contains_key(&key)
                    || !start.is_finite()
                    || !(style.width.is_finite() && style.width > 0.0)
                {
                    return Applied::Ignored;
                }
                self.strokes.insert(
                    key,
                    Stroke {
                        id: *stroke,
                        author,
                        style: *style,
                        points: vec![*start],
                        finished: false,
                        bounds: Rect::from_point(*start),
                        layer,
                    },
                );
                self.layers.insert(layer, key);
                Applied::Changed
            }
            OpKind::StrokeAppend { stroke, points } => {
                match self.strokes.get_mut(&(author, *stroke)) {
                    Some(s) if !s.finished && points.iter().all(|p| p.is_finite()) => {
                        for &p in points {
                            s.bounds.include(p);
                        }
                        s.points.extend_from_slice(points);
                        Applied::Changed
                    }
                    _ => Applied::Ignored,
                }
            }
            OpKind::StrokeEnd { stroke } => match self.strokes.get_mut(&(author, *stroke)) {
                Some(s) if !s.finished => {
                    s.finished = true;
                    Applied::Changed
                }
                _ => Applied::Ignored,
            },
        }
    }

    fn move_to_layer(&mut self, stroke: StrokeKey, layer: Layer) {
        if let Some(s) = self.strokes.get_mut(&stroke) {
            self.layers.remove(&s.layer);
            s.layer = layer;
            self.layers.insert(layer, stroke);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::test_strategies::{Script, script};

    fn sequenced(script: &Script) -> Vec<SequencedOp> {
        script
            .ops
            .iter()
            .enumerate()
            .map(|(i, (author, op))| SequencedOp {
                seq: i as u64 + 1,
                author: script.authors[*author],
                timestamp_ms: 1_700_000_000_000 + i as u64,
                op: op.clone(),
            })
            .collect()
    }

    fn replay(ops: &[SequencedOp]) -> Board {
        let mut board = Board::new();
        for op in ops {
            assert!(!matches!(
                board.apply_sequenced(op),
                Applied::Gap { .. } | Applied::Duplicate
            ));
        }
        board
    }

    proptest! {
        #[test]
        fn the_same_sequence_gives_the_same_board(script in script()) {
            let ops = sequenced(&script);
            prop_assert_eq!(replay(&ops), replay(&ops));
        }

        #[test]
        fn duplicates_change_nothing(script in script(), again in any::<prop::sample::Index>()) {
            let ops = sequenced(&script);
            let mut board = replay(&ops);
            let before = board.clone();
            if !ops.is_empty() {
                prop_assert_eq!(board.apply_sequenced(&ops[again.index(ops.len())]), Applied::Duplicate);
            }
            prop_assert_eq!(board, before);
        }

        /// Client 0 applies its own ops at once and the others' as the relay
        /// delivers them; after the relay's order catches up, its board equals one
        /// built from the relay's order alone.
        #[test]
        fn optimistic_local_ops_converge_to_the_relay_order(
            script in script(), lag in proptest::collection::vec(0usize..4, 0..64)
        ) {
            let ops = sequenced(&script);
            let me = script.authors[0];
            let mut board = Board::new();
            let mut delivered = 0;
            let mut lags = lag.into_iter().cycle();
            for (i, op) in ops.iter().enumerate() {
                if op.author == me {
                    board.apply_local(me, op.op.clone());
                }
                // The relay's stream trails the local pen by a random amount.
                let behind = lags.next().unwrap_or(0);
                while delivered + behind <= i {
                    deliver(&mut board, &ops[delivered], me);
                    delivered += 1;
                }
            }
            for op in &ops[delivered..] {
                deliver(&mut board, op, me);
            }
            prop_assert_eq!(board.pending_ops().count(), 0);
            prop_assert_eq!(board, replay(&ops));
        }
    }

    /// The relay acknowledges the author's own ops and sends everyone else's.
    fn deliver(board: &mut Board, op: &SequencedOp, me: ClientId) {
        if op.author == me {
            assert!(board.confirm(op.op.id, op.seq, op.timestamp_ms).is_some());
        } else {
            board.apply_sequenced(op);
        }
    }

    #[test]
    fn gaps_and_foreign_appends_are_refused() {
        let alice = ClientId::random();
        let mallory = ClientId::random();
        let stroke = StrokeId::random();
        let style = StrokeStyle {
            color: crate::Color::rgb(0, 0, 0),
            width: 2.0,
        };
        let mut board = Board::new();
        let begin = SequencedOp {
            seq: 1,
            author: alice,
            timestamp_ms: 0,
            op: Op::new(OpKind::StrokeBegin {
                stroke,
                style,
                start: Point::new(0.0, 0.0),
            }),
        };
        assert_eq!(board.apply_sequenced(&begin), Applied::Changed);
        let hijack = SequencedOp {
            seq: 2,
            author: mallory,
            timestamp_ms: 0,
            op: Op::new(OpKind::StrokeAppend {
                stroke,
                points: vec![Point::new(9.0, 9.0)],
            }),
        };
        assert_eq!(board.apply_sequenced(&hijack), Applied::Ignored);
        assert_eq!(board.stroke(alice, stroke).unwrap().points.len(), 1);
        let skipped = SequencedOp { seq: 5, ..hijack };
        assert_eq!(
            board.apply_sequenced(&skipped),
            Applied::Gap { expected: 3 }
        );
    }

    #[test]
    fn restarting_keeps_pending_strokes() {
        let me = ClientId::random();
        let mut board = Board::new();
        let stroke = StrokeId::random();
        board.apply_local(
            me,
            Op::new(OpKind::StrokeBegin {
                stroke,
                style: StrokeStyle {
                    color: crate::Color::rgb(1, 2, 3),
                    width: 1.0,
                },
                start: Point::new(1.0, 1.0),
            }),
        );
        board.restart_keeping_pending();
        assert_eq!(board.stroke_count(), 1);
        assert_eq!(board.pending_ops().count(), 1);
    }
}
