//! Snapshots: a joiner far behind gets the board as of the room's latest
//! snapshot and only the ops after it, and can fetch the history behind it.

use std::time::Duration;

use tabula_server::Config;
use tabula_shared::{
    Board, ClientMessage, Color, ErrorCode, ObjectId, Op, OpKind, Point, SequencedOp,
    ServerMessage, StrokeStyle, Welcome, decode_snapshot,
};
use tokio::time::{Instant, sleep};

use crate::support::{TestClient, TestRelay, WAIT, test_config};

/// Ops between snapshots in these tests.
const EVERY: u64 = 20;

fn snapshotting(data: &std::path::Path) -> Config {
    Config {
        data_dir: Some(data.to_path_buf()),
        snapshot_every: EVERY,
        ..test_config()
    }
}

/// `strokes` strokes of three ops each, then every other one deleted: a board
/// whose snapshot differs from a list of its ops.
fn drawing(strokes: usize) -> Vec<Op> {
    let ids: Vec<ObjectId> = (0..strokes).map(|_| ObjectId::random()).collect();
    let mut ops = Vec::new();
    for (i, &stroke) in ids.iter().enumerate() {
        let x = i as f32 * 10.0;
        ops.push(Op::new(OpKind::StrokeBegin {
            stroke,
            style: StrokeStyle {
                color: Color::rgb(10, 20, 30),
                width: 3.0,
            },
            start: Point::new(x, 0.0),
        }));
        ops.push(Op::new(OpKind::StrokeAppend {
            stroke,
            points: (1..5).map(|k| Point::new(x, k as f32)).collect(),
        }));
        ops.push(Op::new(OpKind::StrokeEnd { stroke }));
    }
    for &object in ids.iter().step_by(2) {
        ops.push(Op::new(OpKind::Delete { object }));
    }
    ops
}

/// How far behind the head a snapshot [`join_with_snapshot`] takes may be:
/// close enough that the two ops its own join and leave add cannot make
/// another one due.
const FRESH: u64 = EVERY - 2;

/// Joins until the welcome announces a snapshot that the snapshotter has
/// brought up to date (within [`FRESH`] ops of the head), giving up after
/// [`WAIT`]. The snapshotter works in the background, and on a loaded machine
/// it may still be building while the room moves on; every join and leave
/// here adds to the head, so a snapshotter that did not keep taking new
/// snapshots as the room grows would never satisfy this.
async fn join_with_snapshot(relay: &TestRelay, room: &str) -> (TestClient, Welcome) {
    let deadline = Instant::now() + WAIT;
    loop {
        let (mut client, welcome) = TestClient::join(relay, room, "late").await;
        if let Some(header) = welcome.snapshot
            && welcome.head - header.seq < FRESH
        {
            return (client, welcome);
        }
        assert!(
            Instant::now() < deadline,
            "no snapshot within {FRESH} ops of the head was offered (the last welcome: {welcome:?})"
        );
        client.ws.close(None).await.expect("closed");
        sleep(Duration::from_millis(20)).await;
    }
}

/// Reads the snapshot the welcome announced and the ops up to its head (joins
/// and leaves included).
async fn board_after_welcome(client: &mut TestClient, welcome: &Welcome) -> Board {
    let header = welcome.snapshot.expect("a snapshot");
    let mut bytes = Vec::new();
    for _ in 0..header.parts {
        match client.recv().await {
            ServerMessage::SnapshotPart(part) => bytes.extend(part),
            other => panic!("expected a snapshot part, got {other:?}"),
        }
    }
    assert_eq!(bytes.len() as u64, header.bytes);
    let mut board = Board::from_snapshot(decode_snapshot(&bytes).expect("the snapshot decodes"));
    assert_eq!(board.last_seq(), header.seq);
    for seq in header.seq + 1..=welcome.head {
        let ServerMessage::Op(op) = client.recv_any().await else {
            panic!("expected op {seq}");
        };
        assert_eq!(op.seq, seq);
        board.apply_sequenced(&op);
    }
    board
}

/// Draws `ops` as the first to join a room and returns the room's ops: the
/// drawer's recorded join, then its ops.
async fn draw_first(client: &mut TestClient, ops: Vec<Op>) -> Vec<SequencedOp> {
    let drawn = draw(client, ops).await;
    let all: Vec<SequencedOp> = client.presence.iter().cloned().chain(drawn).collect();
    assert!(all.iter().zip(1..).all(|(op, seq)| op.seq == seq));
    all
}

/// Sends every op and returns them as the room sequenced them.
async fn draw(client: &mut TestClient, ops: Vec<Op>) -> Vec<SequencedOp> {
    let mut sequenced = Vec::new();
    for op in ops {
        client.send(&ClientMessage::Op(op.clone())).await;
        let (seq, timestamp_ms) = client.recv_ack(op.id).await;
        sequenced.push(SequencedOp {
            seq,
            author: client.info.client,
            timestamp_ms,
            op,
        });
    }
    sequenced
}

#[tokio::test]
async fn a_late_joiner_gets_the_board_and_the_tail_and_can_fetch_the_history_behind_it() {
    let data = tempfile::tempdir().unwrap();
    let relay = TestRelay::with_config(snapshotting(data.path())).await;
    let (mut author, _) = TestClient::join(&relay, "big", "author").await;
    let all = draw_first(&mut author, drawing(20)).await;
    let head = all.len() as u64;
    assert_eq!(head, 71);
    let expected = Board::from_sequenced(&all);

    let (mut late, welcome) = join_with_snapshot(&relay, "big").await;
    let header = welcome.snapshot.unwrap();
    // Newcomers that found no snapshot yet came and went in between.
    assert!(welcome.head >= head);
    assert_eq!(
        welcome.replay_from, header.seq,
        "ops resume after the snapshot"
    );
    assert!(header.seq >= EVERY, "{header:?}");
    let board = board_after_welcome(&mut late, &welcome).await;
    assert_eq!(board.snapshot().objects, expected.snapshot().objects);
    assert!(board.object_count() > 0);

    // The history behind the snapshot, on request, exactly as it was sequenced.
    late.send(&ClientMessage::FetchHistory {
        after: 0,
        up_to: header.seq,
    })
    .await;
    for want in all
        .iter()
        .filter(|op| op.seq <= header.seq && !op.op.kind.is_presence())
    {
        assert_eq!(&late.recv_op().await, want);
    }
    assert!(
        late.presence.contains(&all[0]),
        "the author's join is history"
    );

    // A request for ops the room does not hold is refused; the connection stays.
    late.send(&ClientMessage::FetchHistory {
        after: 5,
        up_to: welcome.head + 100,
    })
    .await;
    match late.recv().await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::InvalidRequest),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let more = draw(&mut late, drawing(1)).await;
    assert!(more[0].seq > welcome.head + 1, "after late's own join");
}

#[tokio::test]
async fn a_joiner_close_to_the_head_gets_ops_not_a_snapshot_and_snapshots_outlive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let relay = TestRelay::with_config(snapshotting(data.path())).await;
    let (mut author, _) = TestClient::join(&relay, "kept", "author").await;
    let all = draw_first(&mut author, drawing(15)).await;
    let head = all.len() as u64;
    let (mut probe, welcome) = join_with_snapshot(&relay, "kept").await;
    let snapshot_seq = welcome.snapshot.unwrap().seq;
    probe.ws.close(None).await.unwrap();

    // Less than a snapshot interval behind: only the missed ops.
    let last_seen = snapshot_seq - 1;
    let last_op = all
        .iter()
        .find(|op| op.seq == last_seen)
        .map(|op| op.op.id)
        .or_else(|| author.op_at(last_seen));
    let (mut back, welcome) =
        TestClient::rejoin(&relay, "kept", &author.info.clone(), last_seen, last_op).await;
    assert_eq!((welcome.snapshot, welcome.replay_from), (None, last_seen));
    // Newcomers came and went after the drawing.
    assert!(welcome.head >= head);
    for want in all.iter().filter(|op| op.seq > last_seen) {
        assert_eq!(&back.recv_op().await, want);
    }
    back.ws.close(None).await.unwrap();
    author.ws.close(None).await.unwrap();
    relay.stop().await.unwrap();

    // After a restart the stored snapshot is offered at once.
    let relay = TestRelay::with_config(snapshotting(data.path())).await;
    let (mut late, welcome) = TestClient::join(&relay, "kept", "late").await;
    assert!(welcome.snapshot.is_some(), "the stored snapshot is offered");
    let board = board_after_welcome(&mut late, &welcome).await;
    // The same board, whoever came and went since.
    assert_eq!(
        board.snapshot().objects,
        Board::from_sequenced(&all).snapshot().objects
    );
}
