//! Replay: a room's sequenced ops played back like a recording.
//!
//! A [`Replay`] holds a session's ops in order and the board after any number of
//! them: [`Replay::seek`] to op `k` shows exactly the board built by applying ops
//! `1..=k`, [`Replay::step_forward`] and [`Replay::step_back`] move by one op.
//! The ops come from a `.tabula` file ([`Replay::from_file`]) or from the history
//! a live session kept ([`Replay::from_ops`]); a live room's new ops can be added
//! as they arrive ([`Replay::push`]).
//!
//! # Checkpoints
//!
//! Seeking backwards would mean applying everything again from the start, so the
//! replay keeps *checkpoints*: the board's [`Snapshot`] after certain ops. A seek
//! restores the last checkpoint at or before `k` and applies the ops after it (or
//! carries on from the board it shows when that is nearer). Checkpoints are taken
//! while the ops are first applied, every `max(min_interval, objects_factor ×
//! objects)` ops, where `objects` counts the objects in the checkpoint just
//! taken. So:
//!
//! - a seek applies at most that many ops after restoring at most that board:
//!   its cost is bounded by the size of the board, not of the history;
//! - memory stays bounded: a checkpoint of `n` objects is followed by at least
//!   `objects_factor × n` ops, so all checkpoints together hold about
//!   `ops / objects_factor` objects plus a small multiple of the final board's.
//!
//! For a million-op session of typical strokes (about 80 000 objects, see the
//! `replay_seek` benchmark) that is a few dozen checkpoints, holding together a
//! few times the final board; [`Replay::checkpoint_bytes`] says how much.
//!
//! # Playback
//!
//! [`Timeline`] maps playback time to an op index from the ops' timestamps,
//! optionally compressing long pauses (a gap longer than a limit counts as the
//! limit), and [`Player`] advances it at a speed from 0.25× to 16×.
//!
//! # Participants
//!
//! The relay records each join and leave in the room's ops
//! ([`OpKind::Joined`](crate::OpKind::Joined), [`OpKind::Left`](crate::OpKind::Left)),
//! so [`Replay::participants`] knows who was there when, under which name,
//! watchers included. A join while already there (a reconnect the relay took
//! for the same person) continues the visit; a visit without a leave lasts to
//! the end (the relay stopped, or they are still there). For someone the ops
//! never saw join (a local board, a file from before joins were recorded), one
//! visit stands in, from their first op to their last.
//!
//! - [`participants`]: who was there when, from the recorded joins and leaves.
//! - [`playback`]: the [`Timeline`] and the [`Player`] that moves along it.

mod participants;
mod playback;
#[cfg(test)]
mod tests;

use crate::session_file::{SessionFile, SessionFileError};
use crate::{Board, OpKind, SequencedOp, Snapshot};

pub use self::participants::{Participant, Visit};
pub use self::playback::{DEFAULT_MAX_PAUSE_MS, Player, SPEED_RANGE, SPEEDS, Timeline};

/// Why ops cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The ops do not follow one another: sequence numbers must run 1, 2, 3, …
    #[error("the ops are out of sequence: expected op {expected}, found op {found}")]
    OutOfSequence {
        /// The sequence number that should have come next.
        expected: u64,
        /// The one that came.
        found: u64,
    },
    /// The session file could not be read.
    #[error(transparent)]
    File(#[from] SessionFileError),
}

/// When the replay takes a checkpoint; see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// The fewest ops between two checkpoints: below this, restoring a snapshot
    /// costs more than applying the ops would.
    pub min_interval: u64,
    /// Ops between two checkpoints per object on the board: keeps the memory of
    /// all checkpoints near `ops / objects_factor` objects.
    pub objects_factor: u64,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        Self {
            min_interval: 2048,
            objects_factor: 2,
        }
    }
}

impl CheckpointPolicy {
    /// How many ops after a checkpoint of `objects` objects the next one comes.
    fn interval_after(self, objects: usize) -> u64 {
        self.min_interval
            .max(self.objects_factor.saturating_mul(objects as u64))
            .max(1)
    }
}

/// A saved board and where it stands in the ops.
#[derive(Clone, Debug)]
struct Checkpoint {
    /// The board after ops `1..=snapshot.last_seq`.
    snapshot: Snapshot,
    /// About how many bytes the snapshot holds, for [`Replay::checkpoint_bytes`].
    bytes: usize,
}

/// A session's ops and the board after any number of them.
#[derive(Clone, Debug)]
pub struct Replay {
    /// Every op, `ops[i]` having sequence number `i + 1`.
    ops: Vec<SequencedOp>,
    /// Saved boards in order of their position; the first is the empty board.
    checkpoints: Vec<Checkpoint>,
    /// When checkpoints are taken.
    policy: CheckpointPolicy,
    /// The board after all the ops, carried along by [`Self::push`] so that new
    /// checkpoints can be taken without replaying.
    head: Board,
    /// Where the next checkpoint is due.
    next_checkpoint: u64,
    /// The board after ops `1..=position`: what is shown.
    board: Board,
    /// How many ops the shown board has applied.
    position: u64,
    /// Who was there, in order of their first op.
    participants: Vec<Participant>,
    /// What the room's operators did, in order: the ops that recorded it.
    moderation: Vec<u64>,
}

impl Replay {
    /// A replay of `ops`, which must be numbered 1, 2, 3, …, positioned at the
    /// start (the empty board).
    pub fn from_ops(ops: Vec<SequencedOp>) -> Result<Self, ReplayError> {
        Self::with_policy(ops, CheckpointPolicy::default())
    }

    /// A replay of every op in a session file, positioned at the start.
    pub fn from_file(file: &SessionFile) -> Result<Self, ReplayError> {
        let ops = file.sequenced_ops(0).collect::<Result<Vec<_>, _>>()?;
        Self::from_ops(ops)
    }

    /// Like [`Self::from_ops`] with checkpoints taken by `policy`.
    pub fn with_policy(
        ops: Vec<SequencedOp>,
        policy: CheckpointPolicy,
    ) -> Result<Self, ReplayError> {
        let mut replay = Self {
            ops: Vec::with_capacity(ops.len()),
            checkpoints: vec![Checkpoint {
                snapshot: Board::new().snapshot(),
                bytes: 0,
            }],
            policy,
            head: Board::new(),
            next_checkpoint: policy.interval_after(0),
            board: Board::new(),
            position: 0,
            participants: Vec::new(),
            moderation: Vec::new(),
        };
        for op in ops {
            replay.push(op)?;
        }
        Ok(replay)
    }

    /// Adds the next op of a live room; the shown board stays where it is.
    pub fn push(&mut self, op: SequencedOp) -> Result<(), ReplayError> {
        let expected = self.ops.len() as u64 + 1;
        if op.seq != expected {
            return Err(ReplayError::OutOfSequence {
                expected,
                found: op.seq,
            });
        }
        self.head.apply_sequenced(&op);
        let index = self
            .participants
            .iter()
            .position(|p| p.author == op.author)
            .unwrap_or_else(|| {
                self.participants.push(Participant::new(op.author));
                self.participants.len() - 1
            });
        self.participants[index].record(&op);
        if let OpKind::Moderated(_) = op.op.kind {
            self.moderation.push(op.seq);
        }
        self.ops.push(op);
        if expected >= self.next_checkpoint {
            let snapshot = self.head.snapshot();
            let bytes = snapshot_bytes(&snapshot);
            self.next_checkpoint = expected + self.policy.interval_after(snapshot.objects.len());
            self.checkpoints.push(Checkpoint { snapshot, bytes });
        }
        Ok(())
    }

    /// How many ops the session has.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.ops.len() as u64
    }

    /// Whether the session has no ops.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The ops, in order.
    #[must_use]
    pub fn ops(&self) -> &[SequencedOp] {
        &self.ops
    }

    /// How many ops the shown board has applied.
    #[must_use]
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The board after ops `1..=position()`.
    #[must_use]
    pub fn board(&self) -> &Board {
        &self.board
    }

    /// The board after every op: the board that was live at the end.
    #[must_use]
    pub fn final_board(&self) -> &Board {
        &self.head
    }

    /// The op at position `k` (1-based), if there is one.
    #[must_use]
    pub fn op(&self, k: u64) -> Option<&SequencedOp> {
        k.checked_sub(1).and_then(|i| self.ops.get(i as usize))
    }

    /// Who was there, in order of their first op; see the module docs.
    #[must_use]
    pub fn participants(&self) -> &[Participant] {
        &self.participants
    }

    /// What the room's operators did (roles given, kicks, the lock,
    /// view-only), in order: each as the op that recorded it, whose author
    /// is the operator.
    pub fn moderation(&self) -> impl Iterator<Item = (&SequencedOp, &crate::op::Moderated)> {
        self.moderation.iter().filter_map(|&seq| {
            let op = self.op(seq)?;
            match &op.op.kind {
                OpKind::Moderated(what) => Some((op, what)),
                _ => None,
            }
        })
    }

    /// How many checkpoints are kept (the empty board included).
    #[must_use]
    pub fn checkpoint_count(&self) -> usize {
        self.checkpoints.len()
    }

    /// About how many bytes the checkpoints hold: objects, their points and
    /// texts.
    #[must_use]
    pub fn checkpoint_bytes(&self) -> usize {
        self.checkpoints.iter().map(|c| c.bytes).sum()
    }

    /// Shows the board after ops `1..=k` (`k` past the end means the end).
    /// Returns how many ops it applied to get there.
    pub fn seek(&mut self, k: u64) -> u64 {
        let k = k.min(self.len());
        if k == self.position {
            return 0;
        }
        let index = self
            .checkpoints
            .partition_point(|c| c.snapshot.last_seq <= k)
            .saturating_sub(1);
        let checkpoint = &self.checkpoints[index];
        let from_checkpoint = k - checkpoint.snapshot.last_seq;
        if k < self.position || k - self.position > from_checkpoint {
            self.board = Board::from_snapshot(checkpoint.snapshot.clone());
            self.position = checkpoint.snapshot.last_seq;
        }
        let applied = k - self.position;
        for op in &self.ops[self.position as usize..k as usize] {
            self.board.apply_sequenced(op);
        }
        self.position = k;
        applied
    }

    /// Shows one op more; `false` at the end.
    pub fn step_forward(&mut self) -> bool {
        if self.position >= self.len() {
            return false;
        }
        self.seek(self.position + 1);
        true
    }

    /// Shows one op less; `false` at the start.
    pub fn step_back(&mut self) -> bool {
        if self.position == 0 {
            return false;
        }
        self.seek(self.position - 1);
        true
    }
}

/// About how many bytes a snapshot's objects hold.
fn snapshot_bytes(snapshot: &Snapshot) -> usize {
    snapshot
        .objects
        .iter()
        .map(|o| {
            size_of_val(o) + o.data.points.len() * size_of::<crate::Point>() + o.data.text.len()
        })
        .sum()
}
