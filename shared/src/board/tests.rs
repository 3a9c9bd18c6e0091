//! The board's rules: determinism, optimistic local ops, convergence of three
//! clients under random interleavings with notes, restores, undo and redo,
//! and snapshots.

use std::collections::VecDeque;

use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::object::{DEFAULT_FONT_SIZE, Fill, ObjectData, ObjectKind, Property};
use crate::restore::ops_to_restore;
use crate::test_strategies::{Script, script};
use crate::{Color, History, Object, Point, StrokeId, StrokeStyle};

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

/// The relay acknowledges the author's own ops and sends everyone else's.
fn deliver(board: &mut Board, op: &SequencedOp, me: ClientId) {
    if op.author == me {
        assert!(board.confirm(op.op.id, op.seq, op.timestamp_ms).is_some());
    } else {
        board.apply_sequenced(op);
    }
}

fn rectangle(at: Point) -> ObjectData {
    ObjectData {
        kind: ObjectKind::Rectangle,
        points: vec![at, Point::new(at.x + 40.0, at.y + 30.0)],
        color: Color::rgb(10, 20, 30),
        width: 2.0,
        fill: Fill::None,
        text: String::new(),
        font_size: DEFAULT_FONT_SIZE,
    }
}

/// A sticky note of side `side` with its top-left corner at `at`.
fn note(at: Point, side: f32, text: &str) -> ObjectData {
    ObjectData {
        kind: ObjectKind::Note,
        points: vec![at, Point::new(at.x + side, at.y + side)],
        color: Color::rgb(0xff, 0xe5, 0x80),
        width: 2.0,
        fill: Fill::None,
        text: text.to_owned(),
        font_size: DEFAULT_FONT_SIZE,
    }
}

/// One thing a simulated person does to their board.
#[derive(Clone, Debug)]
enum Action {
    /// Draws a rectangle.
    Rectangle(Point),
    /// Sticks a note of this side, with this text, here.
    Note(Point, f32, String),
    /// Types this as the text of the n-th object on show (ignored unless it
    /// is a text or a note).
    Write(usize, String),
    /// Draws a stroke through these points, streamed as begin, append, end.
    Stroke(Vec<Point>),
    /// Moves the n-th object on show by this much.
    Move(usize, Point),
    /// Recolours the n-th object on show.
    Restyle(usize, Color),
    /// Resizes the n-th object on show (ignored unless it takes two points).
    Resize(usize, Point),
    /// Deletes the n-th object on show.
    Delete(usize),
    /// Brings the n-th object on show to the front.
    ToFront(usize),
    /// Sends the n-th object on show to the back.
    ToBack(usize),
    /// Deletes everything.
    Clear,
    /// Brings the board back to how it was after this part of the ops the
    /// client has received ("Restore to here", from its replay).
    Restore(f64),
    /// Undoes the latest action.
    Undo,
    /// Redoes the latest undone action.
    Redo,
}

/// One step of the simulation: someone acts, the relay sequences someone's next
/// op, or someone receives the relay's next op.
#[derive(Clone, Debug)]
enum Step {
    Act(usize, Action),
    Send(usize),
    Deliver(usize),
}

fn small_point() -> impl Strategy<Value = Point> {
    (-500.0f32..500.0, -500.0f32..500.0).prop_map(|(x, y)| Point::new(x, y))
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => small_point().prop_map(Action::Rectangle),
        2 => (small_point(), 8.0f32..600.0, "[a-z \n]{0,16}")
            .prop_map(|(at, side, text)| Action::Note(at, side, text)),
        2 => (0usize..8, "[a-z \n]{0,16}").prop_map(|(i, text)| Action::Write(i, text)),
        2 => proptest::collection::vec(small_point(), 1..5).prop_map(Action::Stroke),
        3 => (0usize..8, small_point()).prop_map(|(i, d)| Action::Move(i, d)),
        2 => (0usize..8, any::<[u8; 3]>())
            .prop_map(|(i, [r, g, b])| Action::Restyle(i, Color::rgb(r, g, b))),
        1 => (0usize..8, small_point()).prop_map(|(i, p)| Action::Resize(i, p)),
        2 => (0usize..8).prop_map(Action::Delete),
        1 => (0usize..8).prop_map(Action::ToFront),
        1 => (0usize..8).prop_map(Action::ToBack),
        1 => Just(Action::Clear),
        1 => (0.0f64..=1.0).prop_map(Action::Restore),
        3 => Just(Action::Undo),
        2 => Just(Action::Redo),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        prop_oneof![
            3 => (0usize..3, action()).prop_map(|(c, a)| Step::Act(c, a)),
            3 => (0usize..3).prop_map(Step::Send),
            3 => (0usize..3).prop_map(Step::Deliver),
        ],
        0..120,
    )
}

/// A simulated person: their board, their undo history and what they have not
/// yet sent to the relay.
struct Client {
    me: ClientId,
    board: Board,
    history: History,
    outbox: VecDeque<Op>,
    /// How much of the relay's log this client has received.
    seen: usize,
}

impl Client {
    fn new(n: u128) -> Self {
        Self {
            me: ClientId(Uuid::from_u128(100 + n)),
            board: Board::new(),
            history: History::new(),
            outbox: VecDeque::new(),
            seen: 0,
        }
    }

    fn perform(&mut self, ops: Vec<OpKind>) {
        let ops = ops.into_iter().map(Op::new).collect();
        let sent = self.history.perform(&mut self.board, self.me, ops);
        self.outbox.extend(sent);
    }

    fn nth(&self, n: usize) -> Option<&Object> {
        let count = self.board.object_count();
        (count > 0)
            .then(|| self.board.objects().nth(n % count))
            .flatten()
    }

    /// Types `text` on the n-th object on show, if it is a text or a note.
    fn write(&mut self, n: usize, text: String) {
        if let Some(o) = self.nth(n)
            && matches!(o.data.kind, ObjectKind::Text | ObjectKind::Note)
        {
            let op = OpKind::Set {
                object: o.id,
                property: Property::Text(text),
            };
            self.perform(vec![op]);
        }
    }

    /// Brings the board back to how it was after `part` of the ops this
    /// client has received, as one action.
    fn restore(&mut self, part: f64, log: &[SequencedOp]) {
        let k = (self.seen as f64 * part) as usize;
        let then = replay(&log[..k]);
        let ops = ops_to_restore(&self.board, &then);
        let sent = self.history.perform(&mut self.board, self.me, ops);
        self.outbox.extend(sent);
    }

    fn act(&mut self, action: Action, next_id: &mut u128, log: &[SequencedOp]) {
        let mut fresh = || {
            *next_id += 1;
            ObjectId(Uuid::from_u128(*next_id))
        };
        match action {
            Action::Rectangle(at) => self.perform(vec![OpKind::Create {
                object: fresh(),
                data: rectangle(at),
            }]),
            Action::Note(at, side, text) => self.perform(vec![OpKind::Create {
                object: fresh(),
                data: note(at, side, &text),
            }]),
            Action::Write(n, text) => self.write(n, text),
            Action::Stroke(points) => {
                let stroke = fresh();
                self.perform(vec![OpKind::StrokeBegin {
                    stroke,
                    style: StrokeStyle {
                        color: Color::rgb(1, 2, 3),
                        width: 3.0,
                    },
                    start: points[0],
                }]);
                self.perform(vec![OpKind::StrokeAppend {
                    stroke,
                    points: points[1..].to_vec(),
                }]);
                self.perform(vec![OpKind::StrokeEnd { stroke }]);
            }
            Action::Move(n, by) => {
                if let Some(o) = self.nth(n) {
                    let op = OpKind::Set {
                        object: o.id,
                        property: Property::Offset(o.offset.offset(by)),
                    };
                    self.perform(vec![op]);
                }
            }
            Action::Restyle(n, color) => {
                if let Some(o) = self.nth(n) {
                    let op = OpKind::Set {
                        object: o.id,
                        property: Property::Color(color),
                    };
                    self.perform(vec![op]);
                }
            }
            Action::Resize(n, corner) => {
                if let Some(o) = self.nth(n) {
                    let op = OpKind::Set {
                        object: o.id,
                        property: Property::Points(vec![o.data.points[0], corner]),
                    };
                    self.perform(vec![op]);
                }
            }
            Action::Delete(n) => {
                if let Some(o) = self.nth(n) {
                    let op = OpKind::Delete { object: o.id };
                    self.perform(vec![op]);
                }
            }
            Action::ToFront(n) => {
                if let Some(o) = self.nth(n) {
                    let op = OpKind::ToFront { object: o.id };
                    self.perform(vec![op]);
                }
            }
            Action::ToBack(n) => {
                if let Some(o) = self.nth(n) {
                    let op = OpKind::ToBack { object: o.id };
                    self.perform(vec![op]);
                }
            }
            Action::Clear => self.perform(vec![OpKind::Clear]),
            Action::Restore(part) => self.restore(part, log),
            Action::Undo => {
                let ops = self.history.undo(&mut self.board, self.me);
                self.outbox.extend(ops);
            }
            Action::Redo => {
                let ops = self.history.redo(&mut self.board, self.me);
                self.outbox.extend(ops);
            }
        }
    }
}

/// What a client's board must be at any moment: the relay's order as far as it
/// has received it, with its own unconfirmed ops applied on top.
fn expected_view(client: &Client, log: &[SequencedOp]) -> Board {
    let mut board = replay(&log[..client.seen]);
    for op in client.board.pending_ops() {
        board.apply_local(client.me, op.clone());
    }
    board
}

/// The relay takes client `c`'s next op, if any, and gives it the next number.
fn send(client: &mut Client, log: &mut Vec<SequencedOp>) {
    if let Some(op) = client.outbox.pop_front() {
        let seq = log.len() as u64 + 1;
        log.push(SequencedOp {
            seq,
            author: client.me,
            timestamp_ms: seq,
            op,
        });
    }
}

/// Client `c` receives the relay's next op, if it has one it has not seen.
fn receive(client: &mut Client, log: &[SequencedOp]) {
    if let Some(op) = log.get(client.seen) {
        client.seen += 1;
        deliver(&mut client.board, op, client.me);
    }
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

    /// Client 0's ops the relay refuses (a random few) are withdrawn when the
    /// relay's stream reaches them, the rest confirmed: the board ends as the
    /// relay's order alone, as if the refused ones had never been made.
    #[test]
    fn refused_local_ops_are_withdrawn_as_if_never_made(
        script in script(),
        refuse in proptest::collection::vec(any::<bool>(), 0..64),
        lag in proptest::collection::vec(0usize..4, 0..64),
    ) {
        let me = script.authors[0];
        let mut refusals = refuse.into_iter().chain(std::iter::repeat(false));
        // What the relay does with each op of the script, in order: sequence
        // it, or refuse it.
        let mut stream: Vec<Result<SequencedOp, OpId>> = Vec::new();
        let mut log = Vec::new();
        for (i, (author, op)) in script.ops.iter().enumerate() {
            let author = script.authors[*author];
            if author == me && refusals.next().unwrap_or(false) {
                stream.push(Err(op.id));
                continue;
            }
            let sequenced = SequencedOp {
                seq: log.len() as u64 + 1,
                author,
                timestamp_ms: 1_700_000_000_000 + i as u64,
                op: op.clone(),
            };
            log.push(sequenced.clone());
            stream.push(Ok(sequenced));
        }
        let answer = |board: &mut Board, event: &Result<SequencedOp, OpId>| match event {
            Ok(op) => deliver(board, op, me),
            Err(refused) => assert!(board.withdraw(*refused).is_some(), "{refused} was pending"),
        };
        let mut board = Board::new();
        let mut delivered = 0;
        let mut lags = lag.into_iter().cycle();
        for (i, (author, op)) in script.ops.iter().enumerate() {
            if script.authors[*author] == me {
                board.apply_local(me, op.clone());
            }
            let behind = lags.next().unwrap_or(0);
            while delivered + behind <= i {
                answer(&mut board, &stream[delivered]);
                delivered += 1;
            }
        }
        for event in &stream[delivered..] {
            answer(&mut board, event);
        }
        prop_assert_eq!(board.pending_ops().count(), 0);
        prop_assert_eq!(board, replay(&log));
    }

    /// Three people create shapes, strokes and notes, write on notes and
    /// texts, move, restyle, resize, delete, restack, clear, restore the board
    /// to an earlier op, undo and redo at once; the relay sequences their ops as they arrive and each
    /// receives the relay's stream at its own pace. At every step each board
    /// shows what it has received plus its own pending ops; once everything is
    /// delivered all three boards are identical, and identical to the relay's
    /// order applied alone (so optimistic local application changed nothing).
    #[test]
    fn three_clients_converge_under_any_interleaving(steps in steps()) {
        let mut clients: Vec<Client> = (0..3).map(Client::new).collect();
        let mut log = Vec::new();
        let mut next_id = 0u128;
        for step in steps {
            match step {
                Step::Act(c, action) => clients[c].act(action, &mut next_id, &log),
                Step::Send(c) => send(&mut clients[c], &mut log),
                Step::Deliver(c) => receive(&mut clients[c], &log),
            }
            // At every moment, not only at the end: the view is exactly the
            // confirmed state with the pending ops re-applied on top.
            for client in &clients {
                prop_assert_eq!(&client.board, &expected_view(client, &log));
            }
        }
        for client in &mut clients {
            while !client.outbox.is_empty() {
                send(client, &mut log);
            }
        }
        for client in &mut clients {
            while client.seen < log.len() {
                receive(client, &log);
            }
        }
        let alone = replay(&log);
        for client in &clients {
            prop_assert_eq!(client.board.pending_ops().count(), 0);
            prop_assert_eq!(&client.board, &alone);
        }
    }

    /// A snapshot survives encoding, and the board rebuilt from it is the same
    /// board: equal now, and equal after the same further ops.
    #[test]
    fn snapshots_round_trip(script in script(), split in any::<prop::sample::Index>()) {
        let ops = sequenced(&script);
        let at = if ops.is_empty() { 0 } else { split.index(ops.len() + 1) };
        let mut board = replay(&ops[..at]);
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(board.snapshot(), config).unwrap();
        let (decoded, _): (Snapshot, usize) =
            bincode::serde::decode_from_slice(&bytes, config).unwrap();
        let mut restored = Board::from_snapshot(decoded);
        prop_assert_eq!(&restored, &board);
        // Deterministic: the same board always encodes to the same bytes.
        let again = bincode::serde::encode_to_vec(replay(&ops[..at]).snapshot(), config).unwrap();
        prop_assert_eq!(&again, &bytes);
        for op in &ops[at..] {
            board.apply_sequenced(op);
            restored.apply_sequenced(op);
        }
        prop_assert_eq!(restored, board);
    }
}

fn at_seq(seq: u64, author: ClientId, kind: OpKind) -> SequencedOp {
    SequencedOp {
        seq,
        author,
        timestamp_ms: 0,
        op: Op::new(kind),
    }
}

#[test]
fn gaps_and_foreign_appends_are_refused() {
    let alice = ClientId::random();
    let mallory = ClientId::random();
    let stroke = StrokeId::random();
    let style = StrokeStyle {
        color: Color::rgb(0, 0, 0),
        width: 2.0,
    };
    let mut board = Board::new();
    let begin = OpKind::StrokeBegin {
        stroke,
        style,
        start: Point::new(0.0, 0.0),
    };
    assert_eq!(
        board.apply_sequenced(&at_seq(1, alice, begin)),
        Applied::Changed
    );
    let hijack = at_seq(
        2,
        mallory,
        OpKind::StrokeAppend {
            stroke,
            points: vec![Point::new(9.0, 9.0)],
        },
    );
    assert_eq!(board.apply_sequenced(&hijack), Applied::Ignored);
    assert_eq!(board.object(stroke).unwrap().data.points.len(), 1);
    let skipped = SequencedOp { seq: 5, ..hijack };
    assert_eq!(
        board.apply_sequenced(&skipped),
        Applied::Gap { expected: 3 }
    );
}

#[test]
fn delete_wins_over_a_concurrent_move_and_unknown_objects_are_ignored() {
    let (alice, bob) = (ClientId::random(), ClientId::random());
    let object = ObjectId::random();
    let create = OpKind::Create {
        object,
        data: rectangle(Point::new(0.0, 0.0)),
    };
    let moved = OpKind::Set {
        object,
        property: Property::Offset(Point::new(50.0, 0.0)),
    };
    let delete = OpKind::Delete { object };
    // Whichever the relay orders first, the box ends deleted.
    for (first, second) in [(&moved, &delete), (&delete, &moved)] {
        let mut board = Board::new();
        board.apply_sequenced(&at_seq(1, alice, create.clone()));
        board.apply_sequenced(&at_seq(2, alice, first.clone()));
        board.apply_sequenced(&at_seq(3, bob, second.clone()));
        assert!(board.object(object).is_none());
        assert_eq!(board.object_count(), 0);
    }
    let mut board = Board::new();
    let unknown = OpKind::Set {
        object: ObjectId::random(),
        property: Property::Width(3.0),
    };
    assert_eq!(
        board.apply_sequenced(&at_seq(1, bob, unknown)),
        Applied::Ignored
    );
}

#[test]
fn concurrent_edits_of_different_properties_both_survive() {
    let (alice, bob) = (ClientId::random(), ClientId::random());
    let object = ObjectId::random();
    let mut board = Board::new();
    let create = OpKind::Create {
        object,
        data: rectangle(Point::new(0.0, 0.0)),
    };
    board.apply_sequenced(&at_seq(1, alice, create));
    let red = Color::rgb(255, 0, 0);
    let to = Point::new(5.0, 6.0);
    let moves = [
        at_seq(
            2,
            alice,
            OpKind::Set {
                object,
                property: Property::Offset(to),
            },
        ),
        at_seq(
            3,
            bob,
            OpKind::Set {
                object,
                property: Property::Color(red),
            },
        ),
    ];
    for op in &moves {
        board.apply_sequenced(op);
    }
    let o = board.object(object).unwrap();
    assert_eq!((o.offset, o.data.color), (to, red));
}

#[test]
fn undo_restores_moves_and_deletes_and_removes_only_my_own_work() {
    let (me, other) = (ClientId::random(), ClientId::random());
    let mut board = Board::new();
    let mut history = History::new();
    let theirs = ObjectId::random();
    board.apply_sequenced(&at_seq(
        1,
        other,
        OpKind::Create {
            object: theirs,
            data: rectangle(Point::new(0.0, 0.0)),
        },
    ));
    let mine = ObjectId::random();
    let mut act = |board: &mut Board, kind: OpKind| {
        history.perform(board, me, vec![Op::new(kind)]);
    };
    act(
        &mut board,
        OpKind::Create {
            object: mine,
            data: rectangle(Point::new(100.0, 0.0)),
        },
    );
    act(
        &mut board,
        OpKind::Set {
            object: theirs,
            property: Property::Offset(Point::new(7.0, 7.0)),
        },
    );
    act(&mut board, OpKind::Delete { object: theirs });
    assert_eq!(board.object_count(), 1);

    // Undo the delete: their box is back, where I had moved it.
    history.undo(&mut board, me);
    assert_eq!(board.object(theirs).unwrap().offset, Point::new(7.0, 7.0));
    // Undo the move: back where they put it.
    history.undo(&mut board, me);
    assert_eq!(board.object(theirs).unwrap().offset, Point::default());
    // Undo my create: my box goes, theirs stays.
    history.undo(&mut board, me);
    assert!(board.object(mine).is_none());
    assert!(board.object(theirs).is_some());
    assert!(!history.can_undo());
    // Nothing more to undo: their work is never touched.
    assert!(history.undo(&mut board, me).is_empty());
    assert!(board.object(theirs).is_some());
    // Redo brings my box back.
    history.redo(&mut board, me);
    assert!(board.object(mine).is_some());
}

#[test]
fn undo_of_clear_brings_back_what_was_there() {
    let me = ClientId::random();
    let mut board = Board::new();
    let mut history = History::new();
    for x in [0.0, 100.0] {
        let create = OpKind::Create {
            object: ObjectId::random(),
            data: rectangle(Point::new(x, 0.0)),
        };
        history.perform(&mut board, me, vec![Op::new(create)]);
    }
    history.perform(&mut board, me, vec![Op::new(OpKind::Clear)]);
    assert_eq!(board.object_count(), 0);
    history.undo(&mut board, me);
    assert_eq!(board.object_count(), 2);
}

#[test]
fn to_front_and_back_restack_and_new_objects_go_on_top() {
    let me = ClientId::random();
    let ids: Vec<ObjectId> = (0..3).map(|_| ObjectId::random()).collect();
    let mut board = Board::new();
    let mut seq = 0;
    let mut apply = |board: &mut Board, kind: OpKind| {
        seq += 1;
        board.apply_sequenced(&at_seq(seq, me, kind));
    };
    for id in &ids[..2] {
        let create = OpKind::Create {
            object: *id,
            data: rectangle(Point::default()),
        };
        apply(&mut board, create);
    }
    apply(&mut board, OpKind::ToBack { object: ids[1] });
    apply(&mut board, OpKind::ToFront { object: ids[1] });
    apply(&mut board, OpKind::ToBack { object: ids[0] });
    let create = OpKind::Create {
        object: ids[2],
        data: rectangle(Point::default()),
    };
    apply(&mut board, create);
    let order: Vec<ObjectId> = board.objects().map(|o| o.id).collect();
    assert_eq!(order, ids);
}

#[test]
fn restarting_keeps_pending_objects() {
    let me = ClientId::random();
    let mut board = Board::new();
    let create = OpKind::Create {
        object: ObjectId::random(),
        data: rectangle(Point::new(1.0, 1.0)),
    };
    board.apply_local(me, Op::new(create));
    board.restart_keeping_pending();
    assert_eq!(board.object_count(), 1);
    assert_eq!(board.pending_ops().count(), 1);
}

#[test]
fn generation_changes_with_the_board_and_only_then() {
    let me = ClientId(Uuid::from_u128(7));
    let mut board = Board::new();
    assert_eq!(board.generation(), Board::new().generation());
    let object = ObjectId(Uuid::from_u128(1));
    let create = OpKind::Create {
        object,
        data: rectangle(Point::new(0.0, 0.0)),
    };
    board.apply_sequenced(&at_seq(1, me, create));
    let after_create = board.generation();
    assert_ne!(after_create, Board::new().generation());
    // A duplicate or a gap changes nothing, and keeps the generation.
    board.apply_sequenced(&at_seq(1, me, OpKind::Clear));
    board.apply_sequenced(&at_seq(5, me, OpKind::Clear));
    assert_eq!(board.generation(), after_create);
    // A clone shows the same objects: same generation; each then moves on to
    // its own new number.
    let mut copy = board.clone();
    assert_eq!(copy.generation(), after_create);
    copy.apply_local(me, Op::new(OpKind::Delete { object }));
    board.apply_local(me, Op::new(OpKind::Delete { object }));
    assert_ne!(copy.generation(), after_create);
    assert_ne!(copy.generation(), board.generation());
    let restored = Board::from_snapshot(board.snapshot());
    assert_ne!(restored.generation(), board.generation());
}

/// A board of `count` rectangles, all sequenced, by `author`: what a peer holds
/// after joining a room or opening a file, before it draws anything.
fn sequenced_rectangles(count: u64, author: ClientId) -> Vec<SequencedOp> {
    (1..=count)
        .map(|seq| {
            at_seq(
                seq,
                author,
                OpKind::Create {
                    object: ObjectId(Uuid::from_u128(u128::from(seq))),
                    data: rectangle(Point::new(seq as f32, 0.0)),
                },
            )
        })
        .collect()
}

/// The first local ops after many sequenced ones, then foreign ops on the same
/// and other objects, then the relay's confirmations: at every step the view is
/// the confirmed board with the pending ops on top, and the confirmed board
/// (the snapshot) is the relay's order alone.
#[test]
fn first_local_ops_after_many_sequenced_ones_keep_view_and_confirmed_apart() {
    let (me, other) = (ClientId(Uuid::from_u128(1)), ClientId(Uuid::from_u128(2)));
    let mut log = sequenced_rectangles(1000, other);
    let mut board = replay(&log);
    let before = board.generation();
    let moved = ObjectId(Uuid::from_u128(500));
    let new = ObjectId(Uuid::from_u128(5000));
    let local = [
        Op::new(OpKind::Set {
            object: moved,
            property: Property::Offset(Point::new(0.0, 70.0)),
        }),
        Op::new(OpKind::Create {
            object: new,
            data: rectangle(Point::new(-10.0, -10.0)),
        }),
        Op::new(OpKind::ToBack { object: moved }),
    ];
    board.apply_local(me, local[0].clone());
    assert_eq!(board.changed_since(before), Some(vec![moved]));
    for op in &local[1..] {
        board.apply_local(me, op.clone());
    }
    let check = |board: &Board, log: &[SequencedOp]| {
        let mut expected = replay(log);
        assert_eq!(board.snapshot(), expected.snapshot(), "confirmed");
        for op in board.pending_ops() {
            expected.apply_local(me, op.clone());
        }
        let shown: Vec<&Object> = board.objects().collect();
        let wanted: Vec<&Object> = expected.objects().collect();
        assert_eq!(shown, wanted, "view");
        assert_eq!(board, &expected);
    };
    check(&board, &log);
    assert_eq!(board.objects().next().map(|o| o.id), Some(moved));
    assert_eq!(board.object(moved).unwrap().offset, Point::new(0.0, 70.0));
    assert_eq!(board.snapshot().objects[499].offset, Point::default());

    // Someone else restyles the object moved here, and moves another one.
    let foreign = [
        OpKind::Set {
            object: moved,
            property: Property::Color(Color::rgb(200, 0, 0)),
        },
        OpKind::Set {
            object: ObjectId(Uuid::from_u128(7)),
            property: Property::Offset(Point::new(3.0, 3.0)),
        },
        OpKind::ToFront { object: moved },
    ];
    for kind in foreign {
        let op = at_seq(log.len() as u64 + 1, other, kind);
        board.apply_sequenced(&op);
        log.push(op);
        check(&board, &log);
    }
    // Still at the back, moved and red: the pending restack comes later.
    let shown = board.objects().next().unwrap();
    assert_eq!((shown.id, shown.offset), (moved, Point::new(0.0, 70.0)));
    assert_eq!(shown.data.color, Color::rgb(200, 0, 0));

    // The relay confirms the local ops one by one.
    for op in local {
        let seq = log.len() as u64 + 1;
        let sequenced = board.confirm(op.id, seq, 0).unwrap();
        log.push(sequenced);
        check(&board, &log);
    }
    assert_eq!(board.pending_ops().count(), 0);
    assert_eq!(board, replay(&log));
    assert_eq!(board.object_count(), 1001);
}

/// A clear made here touches every object: objects that others create or
/// restyle before the relay orders it are shown cleared, yet kept as they are
/// in the confirmed board, until the clear is confirmed.
#[test]
fn a_pending_clear_hides_what_arrives_before_it_is_confirmed() {
    let (me, other) = (ClientId(Uuid::from_u128(1)), ClientId(Uuid::from_u128(2)));
    let mut log = sequenced_rectangles(50, other);
    let mut board = replay(&log);
    let kept = ObjectId(Uuid::from_u128(9));
    board.apply_local(
        me,
        Op::new(OpKind::Set {
            object: kept,
            property: Property::Width(7.0),
        }),
    );
    let clear = Op::new(OpKind::Clear);
    board.apply_local(me, clear.clone());
    let after = ObjectId(Uuid::from_u128(77));
    board.apply_local(
        me,
        Op::new(OpKind::Create {
            object: after,
            data: rectangle(Point::new(1.0, 1.0)),
        }),
    );
    assert_eq!(board.objects().map(|o| o.id).collect::<Vec<_>>(), [after]);
    let arriving = ObjectId(Uuid::from_u128(60));
    for kind in [
        OpKind::Create {
            object: arriving,
            data: rectangle(Point::new(5.0, 5.0)),
        },
        OpKind::Set {
            object: kept,
            property: Property::Color(Color::rgb(0, 90, 0)),
        },
    ] {
        let op = at_seq(log.len() as u64 + 1, other, kind);
        board.apply_sequenced(&op);
        log.push(op);
        assert_eq!(board.objects().map(|o| o.id).collect::<Vec<_>>(), [after]);
        assert_eq!(board.snapshot(), replay(&log).snapshot());
    }
    // The relay orders the first op (the width), then the clear.
    let pending: Vec<Op> = board.pending_ops().cloned().collect();
    for op in &pending[..2] {
        let seq = log.len() as u64 + 1;
        log.push(board.confirm(op.id, seq, 0).unwrap());
        assert_eq!(board.snapshot(), replay(&log).snapshot());
    }
    assert_eq!(board.objects().map(|o| o.id).collect::<Vec<_>>(), [after]);
    let seq = log.len() as u64 + 1;
    log.push(board.confirm(pending[2].id, seq, 0).unwrap());
    assert_eq!(board, replay(&log));
    let kept = board.object_any(kept).unwrap();
    assert!(kept.deleted);
    assert_eq!(kept.get(&Property::Width(0.0)), Property::Width(7.0));
    assert_eq!(kept.data.color, Color::rgb(0, 90, 0));
}

/// Sequences `kinds` as ops of `author`, numbered from 1.
fn sequence_kinds(author: ClientId, kinds: Vec<OpKind>) -> Vec<SequencedOp> {
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| SequencedOp {
            seq: i as u64 + 1,
            author,
            timestamp_ms: 1_700_000_000_000,
            op: Op::new(kind),
        })
        .collect()
}

#[test]
fn a_stroke_stops_growing_at_the_cap_the_same_way_on_every_board() {
    let author = ClientId::random();
    let stroke = StrokeId::random();
    let chunk = vec![Point::new(1.0, 2.0); 10_000];
    let mut kinds = vec![OpKind::StrokeBegin {
        stroke,
        style: StrokeStyle {
            color: Color::rgb(1, 2, 3),
            width: 2.0,
        },
        start: Point::new(0.0, 0.0),
    }];
    // Two hundred chunks: 2,000,000 points offered, the cap kept.
    kinds.extend((0..200).map(|_| OpKind::StrokeAppend {
        stroke,
        points: chunk.clone(),
    }));
    kinds.push(OpKind::StrokeEnd { stroke });
    let ops = sequence_kinds(author, kinds);
    let board = replay(&ops);
    let held = board.object(stroke).expect("the stroke").data.points.len();
    assert!(held <= crate::caps::MAX_STROKE_POINTS, "{held} points");
    assert!(held > crate::caps::MAX_STROKE_POINTS - chunk.len());
    assert_eq!(board.last_seq(), ops.len() as u64, "every op still counts");
    assert_eq!(replay(&ops), board, "and every board agrees");
}

#[test]
fn ops_and_snapshot_objects_beyond_the_caps_are_left_out_and_counted() {
    let author = ClientId::random();
    let far = ObjectData {
        points: vec![Point::new(0.0, 0.0), Point::new(3e7, 0.0)],
        ..rectangle(Point::new(0.0, 0.0))
    };
    let long_text = ObjectData {
        kind: ObjectKind::Text,
        points: vec![Point::new(0.0, 0.0)],
        text: "x".repeat(crate::caps::MAX_TEXT_BYTES + 1),
        ..rectangle(Point::new(0.0, 0.0))
    };
    let fine = ObjectId::random();
    let ops = sequence_kinds(
        author,
        vec![
            OpKind::Create {
                object: ObjectId::random(),
                data: far,
            },
            OpKind::Create {
                object: ObjectId::random(),
                data: long_text,
            },
            OpKind::Create {
                object: fine,
                data: rectangle(Point::new(5.0, 5.0)),
            },
        ],
    );
    let board = replay(&ops);
    assert_eq!(board.object_count(), 1);
    assert_eq!(board.malformed(), 2);

    // A snapshot from a hostile relay or a crafted file: a line of no points
    // (which would index past the end when drawn), a stroke too far away.
    let mut snapshot = board.snapshot();
    let mut broken = snapshot.objects[0].clone();
    broken.id = ObjectId::random();
    broken.data.kind = ObjectKind::Line;
    broken.data.points.clear();
    let mut distant = snapshot.objects[0].clone();
    distant.id = ObjectId::random();
    distant.offset = Point::new(f32::MAX, 0.0);
    snapshot.objects.push(broken);
    snapshot.objects.push(distant);
    let rebuilt = Board::from_snapshot(snapshot);
    assert_eq!(rebuilt.object_count(), 1, "only the well-formed rectangle");
    assert!(rebuilt.object(fine).is_some());
    assert_eq!(rebuilt.malformed(), 2);
}
