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

/// Joins until the welcome announces a snapshot (the snapshotter works in the
/// background), giving up after [`WAIT`].
async fn join_with_snapshot(relay: &TestRelay, room: &str) -> (TestClient, Welcome) {
    let deadline = Instant::now() + WAIT;
    loop {
        let (mut client, welcome) = TestClient::join(relay, room, "late").await;
        if welcome.snapshot.is_some() {
            return (client, welcome);
        }
        assert!(Instant::now() < deadline, "no snapshot was ever offered");
        client.ws.close(None).await.expect("closed");
        sleep(Duration::from_millis(20)).await;
    }
}

/// Reads the snapshot the welcome announced and the ops up to its head.
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
        let op = client.recv_op().await;
        assert_eq!(op.seq, seq);
        board.apply_sequenced(&op);
    }
    board
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
    let all = draw(&mut author, drawing(20)).await;
    let head = all.len() as u64;
    assert_eq!(head, 70);
    let expected = Board::from_sequenced(&all);

    let (mut late, welcome) = join_with_snapshot(&relay, "big").await;
    let header = welcome.snapshot.unwrap();
    assert_eq!(welcome.head, head);
    assert_eq!(
        welcome.replay_from, header.seq,
        "ops resume after the snapshot"
    );
    assert!(header.seq >= EVERY && head - header.seq < 2 * EVERY);
    let board = board_after_welcome(&mut late, &welcome).await;
    assert_eq!(board.snapshot(), expected.snapshot());
    assert!(board.object_count() > 0);

    // The history behind the snapshot, on request, exactly as it was sequenced.
    late.send(&ClientMessage::FetchHistory {
        after: 0,
        up_to: header.seq,
    })
    .await;
    for want in &all[..header.seq as usize] {
        assert_eq!(&late.recv_op().await, want);
    }

    // A request for ops the room does not hold is refused; the connection stays.
    late.send(&ClientMessage::FetchHistory {
        after: 5,
        up_to: head + 1,
    })
    .await;
    match late.recv().await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::InvalidRequest),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let more = draw(&mut late, drawing(1)).await;
    assert_eq!(more[0].seq, head + 1);
}

#[tokio::test]
async fn a_joiner_close_to_the_head_gets_ops_not_a_snapshot_and_snapshots_outlive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let relay = TestRelay::with_config(snapshotting(data.path())).await;
    let (mut author, _) = TestClient::join(&relay, "kept", "author").await;
    let all = draw(&mut author, drawing(15)).await;
    let head = all.len() as u64;
    let (mut probe, welcome) = join_with_snapshot(&relay, "kept").await;
    let snapshot_seq = welcome.snapshot.unwrap().seq;
    probe.ws.close(None).await.unwrap();

    // Less than a snapshot interval behind: only the missed ops.
    let last_seen = snapshot_seq - 1;
    let (mut back, welcome) =
        TestClient::rejoin(&relay, "kept", &author.info.clone(), last_seen).await;
    assert_eq!(
        (welcome.snapshot, welcome.replay_from, welcome.head),
        (None, last_seen, head)
    );
    for want in &all[last_seen as usize..] {
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
    assert_eq!(board.snapshot(), Board::from_sequenced(&all).snapshot());
}
