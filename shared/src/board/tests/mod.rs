//! The board's rules: determinism, optimistic local ops and refused ones
//! withdrawn, snapshots, and (in [`three_clients`]) convergence of three
//! clients under random interleavings with notes, restores, undo and redo.

use std::collections::VecDeque;

use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::object::{DEFAULT_FONT_SIZE, Fill, ObjectData, ObjectKind, Property};
use crate::restore::ops_to_restore;
use crate::test_strategies::{Script, script};
use crate::{Color, History, Object, Point, StrokeId, StrokeStyle};

mod three_clients;

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
