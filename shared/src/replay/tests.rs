//! Replay against boards built op by op: seeks, checkpoints, participants,
//! files, the timeline and the player.

use proptest::prelude::*;

use super::*;
use crate::test_strategies::script;
use crate::{ClientId, Color, Op, OpKind, Point, StrokeId, StrokeStyle};

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
