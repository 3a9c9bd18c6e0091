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

use crate::session_file::{SessionFile, SessionFileError};
use crate::{Board, ClientId, Color, OpKind, SequencedOp, Snapshot};

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

/// One person in a session: who, when they were there, how much they did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant {
    /// Who.
    pub author: ClientId,
    /// The name and colour they joined with last, `None` if the ops never
    /// recorded them joining.
    pub identity: Option<(String, Color)>,
    /// Their time in the room, in order; see the module docs.
    pub visits: Vec<Visit>,
    /// How many ops they made (joins and leaves not counted).
    pub ops: u64,
}

/// One stay of one person in the room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Visit {
    /// The op that recorded them joining (or, if none did, their first op).
    pub joined: u64,
    /// The op that recorded them leaving (or, if no join was recorded, their
    /// last op); `None` while they are still there at the end of the ops.
    pub left: Option<u64>,
}

impl Participant {
    /// Someone not seen yet.
    fn new(author: ClientId) -> Self {
        Self {
            author,
            identity: None,
            visits: Vec::new(),
            ops: 0,
        }
    }

    /// Takes in `op`, which is theirs.
    fn record(&mut self, op: &SequencedOp) {
        let open = self.visits.last().is_some_and(|v| v.left.is_none());
        match &op.op.kind {
            OpKind::Joined { name, color } => {
                if self.identity.is_none() {
                    // Stand-in visits from their ops give way to recorded ones.
                    self.visits.clear();
                }
                self.identity = Some((name.clone(), *color));
                if !open {
                    self.visits.push(Visit {
                        joined: op.seq,
                        left: None,
                    });
                }
            }
            OpKind::Left => {
                if let Some(visit) = self.visits.last_mut().filter(|v| v.left.is_none()) {
                    visit.left = Some(op.seq);
                }
            }
            // What an operator did: in `Replay::moderation`, not their ops.
            OpKind::Moderated(_) => {}
            _ => {
                self.ops += 1;
                match (self.identity.is_some(), self.visits.last_mut()) {
                    // Only ops stand for their stay: it lasts to this one.
                    (false, Some(visit)) => visit.left = Some(op.seq),
                    // Here, as recorded.
                    (true, Some(Visit { left: None, .. })) => {}
                    // First seen, or acting without a recorded join.
                    (recorded, _) => self.visits.push(Visit {
                        joined: op.seq,
                        left: (!recorded).then_some(op.seq),
                    }),
                }
            }
        }
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

/// The slowest and fastest playback speeds.
pub const SPEED_RANGE: (f64, f64) = (0.25, 16.0);
/// The speeds a speed picker offers.
pub const SPEEDS: [f64; 7] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];
/// The default longest pause when pauses are compressed, in milliseconds.
pub const DEFAULT_MAX_PAUSE_MS: u64 = 2000;

/// When each op happens in playback time: the ops' timestamps measured from the
/// first op, with every gap longer than `max_pause_ms` (if set) counted as
/// `max_pause_ms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    /// `at[i]` is when op `i + 1` happens, in ms from the first op; never
    /// decreasing (a timestamp earlier than the one before counts as a gap of 0).
    at: Vec<u64>,
    /// The longest pause kept, if pauses are compressed.
    max_pause_ms: Option<u64>,
}

impl Timeline {
    /// The timeline of `ops`, pauses compressed to `max_pause_ms` if given.
    #[must_use]
    pub fn new(ops: &[SequencedOp], max_pause_ms: Option<u64>) -> Self {
        let mut at = Vec::with_capacity(ops.len());
        let mut now = 0u64;
        let mut previous = ops.first().map_or(0, |op| op.timestamp_ms);
        for op in ops {
            let gap = op.timestamp_ms.saturating_sub(previous);
            now += max_pause_ms.map_or(gap, |max| gap.min(max));
            previous = previous.max(op.timestamp_ms);
            at.push(now);
        }
        Self { at, max_pause_ms }
    }

    /// The longest pause kept, if pauses are compressed.
    #[must_use]
    pub fn max_pause_ms(&self) -> Option<u64> {
        self.max_pause_ms
    }

    /// How long the whole session plays at 1×, in ms.
    #[must_use]
    pub fn duration_ms(&self) -> u64 {
        self.at.last().copied().unwrap_or(0)
    }

    /// When op `k` happens (1-based); 0 for position 0.
    #[must_use]
    pub fn time_of(&self, k: u64) -> u64 {
        match k {
            0 => 0,
            k => self.at[(k.min(self.at.len() as u64) - 1) as usize],
        }
    }

    /// How many ops have happened by playback time `ms`.
    #[must_use]
    pub fn position_at(&self, ms: u64) -> u64 {
        self.at.partition_point(|&t| t <= ms) as u64
    }
}

/// Playing a replay back in time: whether it plays, how fast, and where the
/// playback clock stands.
#[derive(Clone, Debug, PartialEq)]
pub struct Player {
    /// Whether time moves.
    playing: bool,
    /// How many session milliseconds pass per real millisecond.
    speed: f64,
    /// Where playback stands, in ms of the timeline; kept fractional so that
    /// slow speeds and short frames still add up.
    clock_ms: f64,
}

impl Default for Player {
    fn default() -> Self {
        Self {
            playing: false,
            speed: 1.0,
            clock_ms: 0.0,
        }
    }
}

impl Player {
    /// Paused at the start, at 1×.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether it is playing.
    #[must_use]
    pub fn is_playing(&self) -> bool {
        self.playing
    }

    /// The speed, 0.25× to 16×.
    #[must_use]
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Where playback stands, in ms of the timeline.
    #[must_use]
    pub fn clock_ms(&self) -> f64 {
        self.clock_ms
    }

    /// Sets the speed, kept within [`SPEED_RANGE`].
    pub fn set_speed(&mut self, speed: f64) {
        self.speed = if speed.is_finite() {
            speed.clamp(SPEED_RANGE.0, SPEED_RANGE.1)
        } else {
            1.0
        };
    }

    /// Starts playing; from the start if the replay is at its end.
    pub fn play(&mut self, replay: &mut Replay, timeline: &Timeline) {
        if replay.position() >= replay.len() {
            replay.seek(0);
        }
        self.sync(replay, timeline);
        self.playing = true;
    }

    /// Stops time where it is.
    pub fn pause(&mut self) {
        self.playing = false;
    }

    /// Puts the clock at the op the replay shows, after a seek, a step or a
    /// change of timeline.
    pub fn sync(&mut self, replay: &Replay, timeline: &Timeline) {
        self.clock_ms = timeline.time_of(replay.position()) as f64;
    }

    /// Lets `elapsed_ms` of real time pass: moves the clock by `elapsed_ms ×
    /// speed` and the replay to the ops that have happened by then. Stops at
    /// the end. Returns whether the shown board moved.
    pub fn tick(&mut self, replay: &mut Replay, timeline: &Timeline, elapsed_ms: f64) -> bool {
        if !self.playing || !elapsed_ms.is_finite() || elapsed_ms <= 0.0 {
            return false;
        }
        self.clock_ms += elapsed_ms * self.speed;
        let target = timeline.position_at(self.clock_ms as u64);
        let before = replay.position();
        replay.seek(target);
        if replay.position() >= replay.len() {
            self.playing = false;
        }
        replay.position() != before
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::test_strategies::script;
    use crate::{Color, Op, OpKind, Point, StrokeId, StrokeStyle};

    /// Sequences a script's ops, `step_ms` apart.
    fn sequence(authors: &[ClientId], ops: Vec<(usize, Op)>, step_ms: u64) -> Vec<SequencedOp> {
        (1..)
            .zip(ops)
            .map(|(seq, (author, op))| SequencedOp {
                seq,
                author: authors[author],
                timestamp_ms: 1_700_000_000_000 + seq * step_ms,
                op,
            })
            .collect()
    }

    /// The board after applying ops `1..=k`, the slow way.
    fn applied(ops: &[SequencedOp], k: usize) -> Board {
        Board::from_sequenced(&ops[..k])
    }

    /// Two people drawing strokes in turns, a stroke every `ops_per_stroke` ops.
    fn strokes(n: u64) -> (Vec<ClientId>, Vec<SequencedOp>) {
        let authors = vec![ClientId::random(), ClientId::random()];
        let mut ops = Vec::new();
        let mut stroke = StrokeId::random();
        for seq in 1..=n {
            let kind = match seq % 5 {
                1 => {
                    stroke = StrokeId::random();
                    OpKind::StrokeBegin {
                        stroke,
                        style: StrokeStyle {
                            color: Color::rgb(1, 2, 3),
                            width: 2.0,
                        },
                        start: Point::new(seq as f32, 0.0),
                    }
                }
                0 => OpKind::StrokeEnd { stroke },
                _ => OpKind::StrokeAppend {
                    stroke,
                    points: vec![Point::new(seq as f32, 1.0)],
                },
            };
            ops.push(SequencedOp {
                seq,
                author: authors[((seq - 1) / 5 % 2) as usize],
                timestamp_ms: 1_700_000_000_000 + seq * 10,
                op: Op::new(kind),
            });
        }
        (authors, ops)
    }

    #[test]
    fn replaying_op_by_op_ends_with_the_live_board() {
        let (_, ops) = strokes(500);
        let live = applied(&ops, ops.len());
        let policy = CheckpointPolicy {
            min_interval: 16,
            objects_factor: 2,
        };
        let mut replay = Replay::with_policy(ops.clone(), policy).unwrap();
        assert!(replay.checkpoint_count() > 3, "checkpoints were taken");
        assert_eq!(replay.board(), &Board::new());
        let mut steps = 0;
        while replay.step_forward() {
            steps += 1;
            assert_eq!(replay.board().last_seq(), steps);
        }
        assert_eq!(steps, 500);
        assert_eq!(replay.board(), &live);
        assert_eq!(replay.final_board(), &live);
        // And back again, one op at a time, through the checkpoints.
        while replay.step_back() {
            steps -= 1;
            if steps % 37 == 0 {
                assert_eq!(replay.board(), &applied(&ops, steps as usize));
            }
        }
        assert_eq!(steps, 0);
        assert_eq!(replay.board(), &Board::new());
    }

    #[test]
    fn a_seek_applies_no_more_than_the_checkpoint_interval() {
        let (_, ops) = strokes(10_000);
        let policy = CheckpointPolicy {
            min_interval: 100,
            objects_factor: 1,
        };
        let mut replay = Replay::with_policy(ops, policy).unwrap();
        // 2000 strokes at the end: the interval grows with the board.
        let longest = policy.interval_after(2000);
        for k in [9_999, 17, 5_000, 4_999, 1, 10_000, 0, 7_777] {
            let applied = replay.seek(k);
            assert!(applied <= longest, "seek to {k} applied {applied}");
            assert_eq!(replay.position(), k);
        }
        replay.seek(20_000);
        assert_eq!(replay.position(), replay.len(), "past the end is the end");
        assert!(replay.checkpoint_bytes() > 0);
    }

    #[test]
    fn ops_out_of_sequence_are_refused() {
        let (_, mut ops) = strokes(10);
        ops.remove(4);
        let err = Replay::from_ops(ops).unwrap_err();
        assert!(
            matches!(
                err,
                ReplayError::OutOfSequence {
                    expected: 5,
                    found: 6
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn participants_stay_from_the_join_to_the_leave_the_relay_recorded() {
        let (a, b, c) = (ClientId::random(), ClientId::random(), ClientId::random());
        let joined = |name: &str| OpKind::Joined {
            name: name.to_owned(),
            color: Color::rgb(9, 9, 9),
        };
        let kinds = [
            (a, joined("Ann")),
            (b, joined("Bo")),
            (a, OpKind::Clear),
            (a, OpKind::Left),
            (a, joined("Ann B.")),
            // Bo's reconnect, taken before the relay knew the old connection gone.
            (b, joined("Bo")),
            (a, OpKind::Clear),
            // A watcher who never drew, whom Ann removed.
            (c, joined("Cy")),
            (
                a,
                OpKind::Moderated(crate::op::Moderated::Kicked { client: c }),
            ),
            (c, OpKind::Left),
            (a, OpKind::Left),
        ];
        let ops = (1..)
            .zip(kinds)
            .map(|(seq, (author, kind))| SequencedOp {
                seq,
                author,
                timestamp_ms: 1_700_000_000_000 + seq,
                op: Op::new(kind),
            })
            .collect();
        let replay = Replay::from_ops(ops).unwrap();
        let visit = |joined, left| Visit { joined, left };
        let identity = |name: &str| Some((name.to_owned(), Color::rgb(9, 9, 9)));
        assert_eq!(
            replay.participants(),
            &[
                Participant {
                    author: a,
                    identity: identity("Ann B."),
                    visits: vec![visit(1, Some(4)), visit(5, Some(11))],
                    ops: 2,
                },
                Participant {
                    author: b,
                    identity: identity("Bo"),
                    visits: vec![visit(2, None)],
                    ops: 0,
                },
                Participant {
                    author: c,
                    identity: identity("Cy"),
                    visits: vec![visit(8, Some(10))],
                    ops: 0,
                },
            ]
        );
        let moderation: Vec<_> = replay
            .moderation()
            .map(|(op, what)| (op.seq, op.author, what.clone()))
            .collect();
        assert_eq!(
            moderation,
            vec![(9, a, crate::op::Moderated::Kicked { client: c })]
        );
        assert!(
            replay.final_board().objects().next().is_none(),
            "joins and leaves change nothing"
        );
    }

    #[test]
    fn without_recorded_joins_people_stay_from_their_first_op_to_their_last() {
        let (authors, mut ops) = strokes(20);
        let late = ClientId::random();
        ops.push(SequencedOp {
            seq: 21,
            author: late,
            timestamp_ms: 1_700_000_001_000,
            op: Op::new(OpKind::Clear),
        });
        let replay = Replay::from_ops(ops).unwrap();
        let expect = |author, first, last, ops| Participant {
            author,
            identity: None,
            visits: vec![Visit {
                joined: first,
                left: Some(last),
            }],
            ops,
        };
        assert_eq!(
            replay.participants(),
            &[
                expect(authors[0], 1, 15, 10),
                expect(authors[1], 6, 20, 10),
                expect(late, 21, 21, 1),
            ]
        );
    }

    #[test]
    fn a_file_replays_to_the_board_it_holds() {
        use crate::session_file::StoredOp;

        let dir = tempfile::tempdir().unwrap();
        let mut file = SessionFile::create(dir.path().join("r.tabula"), "r").unwrap();
        let (_, ops) = strokes(3000);
        let rows: Vec<StoredOp> = ops.iter().map(|op| StoredOp::encode(op).unwrap()).collect();
        file.append(&rows).unwrap();
        let mut replay = Replay::from_file(&file).unwrap();
        assert_eq!(replay.len(), 3000);
        replay.seek(u64::MAX);
        assert_eq!(replay.board(), &file.board_at(u64::MAX).unwrap());
        replay.seek(1234);
        assert_eq!(replay.board(), &file.board_at(1234).unwrap());
    }

    /// Ops at the given timestamps (ms), all by one author.
    fn at_times(times: &[u64]) -> Vec<SequencedOp> {
        let author = ClientId::random();
        (1..)
            .zip(times)
            .map(|(seq, &timestamp_ms)| SequencedOp {
                seq,
                author,
                timestamp_ms,
                op: Op::new(OpKind::Clear),
            })
            .collect()
    }

    #[test]
    fn the_timeline_measures_from_the_first_op_and_compresses_pauses() {
        // A minute's pause between op 3 and op 4; a clock step back at op 6.
        let ops = at_times(&[5_000, 5_500, 6_000, 66_000, 66_100, 66_050, 67_000]);
        let plain = Timeline::new(&ops, None);
        assert_eq!(plain.duration_ms(), 62_000);
        assert_eq!(
            (1..=7).map(|k| plain.time_of(k)).collect::<Vec<_>>(),
            [0, 500, 1_000, 61_000, 61_100, 61_100, 62_000]
        );
        assert_eq!(plain.time_of(0), 0);
        assert_eq!(plain.position_at(0), 1, "op 1 happens at once");
        assert_eq!(plain.position_at(999), 2);
        assert_eq!(plain.position_at(1_000), 3);
        assert_eq!(plain.position_at(60_000), 3, "the pause");
        assert_eq!(plain.position_at(61_100), 6);
        assert_eq!(plain.position_at(u64::MAX), 7);

        let compressed = Timeline::new(&ops, Some(2_000));
        assert_eq!(compressed.max_pause_ms(), Some(2_000));
        assert_eq!(compressed.time_of(4), 3_000, "the minute counts as 2 s");
        assert_eq!(compressed.duration_ms(), 4_000);
        assert_eq!(compressed.position_at(2_999), 3);
        assert_eq!(compressed.position_at(3_000), 4);
    }

    #[test]
    #[allow(
        clippy::float_cmp,
        reason = "speeds and clock times here are exact in binary"
    )]
    fn the_player_moves_at_its_speed_and_stops_at_the_end() {
        let ops = at_times(&[0, 1_000, 2_000, 3_000, 4_000, 64_000]);
        let mut replay = Replay::from_ops(ops.clone()).unwrap();
        let timeline = Timeline::new(&ops, None);
        let mut player = Player::new();
        assert!(!player.tick(&mut replay, &timeline, 1_000.0), "paused");
        player.play(&mut replay, &timeline);
        assert!(player.tick(&mut replay, &timeline, 1.0));
        assert_eq!(replay.position(), 1, "op 1 is at time 0");
        player.set_speed(4.0);
        player.tick(&mut replay, &timeline, 500.0);
        assert_eq!(replay.position(), 3, "0.5 s at 4× is 2 s of session");
        player.set_speed(0.25);
        player.tick(&mut replay, &timeline, 3_995.0);
        assert_eq!(replay.position(), 3, "just short of 1 s of session");
        player.tick(&mut replay, &timeline, 4.0);
        assert_eq!(replay.position(), 4);
        player.set_speed(100.0);
        assert_eq!(player.speed(), 16.0, "16× at most");
        player.set_speed(0.0);
        assert_eq!(player.speed(), 0.25, "0.25× at least");
        player.set_speed(16.0);
        player.tick(&mut replay, &timeline, 3_700.0);
        assert_eq!(replay.position(), 5, "the minute's pause is still running");
        assert!(player.is_playing());
        player.tick(&mut replay, &timeline, 200.0);
        assert_eq!(replay.position(), 6);
        assert!(!player.is_playing(), "stopped at the end");
        // Playing again starts over; a step while paused moves the clock along.
        player.play(&mut replay, &timeline);
        assert_eq!(replay.position(), 0);
        assert_eq!(player.clock_ms(), 0.0);
        player.pause();
        replay.seek(5);
        player.sync(&replay, &timeline);
        assert_eq!(player.clock_ms(), 4_000.0);
    }

    proptest! {
        #[test]
        fn seeking_to_k_equals_applying_1_to_k(
            script in script(),
            seeks in proptest::collection::vec(any::<prop::sample::Index>(), 1..12),
            min_interval in 1u64..8,
        ) {
            let ops = sequence(&script.authors, script.ops, 7);
            let policy = CheckpointPolicy { min_interval, objects_factor: 1 };
            let mut replay = Replay::with_policy(ops.clone(), policy).unwrap();
            prop_assert_eq!(replay.final_board(), &applied(&ops, ops.len()));
            for seek in seeks {
                let k = seek.index(ops.len() + 1);
                replay.seek(k as u64);
                prop_assert_eq!(replay.board(), &applied(&ops, k), "seek to {}", k);
            }
        }
    }
}
