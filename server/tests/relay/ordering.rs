//! The sequencer: one order per room, the same for everyone in it.

use std::collections::BTreeMap;
use std::time::Duration;

use tabula_shared::{ClientMessage, OpId, ServerMessage};

use crate::support::{TestClient, TestRelay, stroke_op};

#[tokio::test]
async fn two_peers_see_each_others_ops_in_one_order() {
    let relay = TestRelay::start().await;
    let (mut a, _) = TestClient::join(&relay, "order", "a").await;
    let (mut b, _) = TestClient::join(&relay, "order", "b").await;
    a.expect_joined(&b.info).await;

    // Taking turns: the author gets an ack, the other gets the op, seqs count up
    // (after the two joins).
    for (turn, expected_seq) in (3..=6).enumerate() {
        let (author, other) = if turn % 2 == 0 {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        let op = stroke_op();
        author.send(&ClientMessage::Op(op.clone())).await;
        let (seq, timestamp_ms) = author.recv_ack(op.id).await;
        assert_eq!(seq, expected_seq);
        let seen = other.recv_op().await;
        assert_eq!(seen.seq, expected_seq);
        assert_eq!(seen.author, author.info.client);
        assert_eq!(seen.timestamp_ms, timestamp_ms);
        assert_eq!(seen.op, op);
    }
    a.expect_nothing(Duration::from_millis(100)).await;
    b.expect_nothing(Duration::from_millis(100)).await;

    // Both at once: each peer's view is increasing, and the views agree.
    let ops_a: Vec<_> = (0..20).map(|_| stroke_op()).collect();
    let ops_b: Vec<_> = (0..20).map(|_| stroke_op()).collect();
    for (op_a, op_b) in ops_a.iter().zip(&ops_b) {
        a.send(&ClientMessage::Op(op_a.clone())).await;
        b.send(&ClientMessage::Op(op_b.clone())).await;
    }
    let view_a = collect_view(&mut a, 40).await;
    let view_b = collect_view(&mut b, 40).await;
    assert_eq!(view_a, view_b, "both peers must see the same order");
    assert_eq!(
        view_a.keys().copied().collect::<Vec<_>>(),
        (7..=46).collect::<Vec<_>>()
    );
    for op in ops_a.iter().chain(&ops_b) {
        assert_eq!(view_a.values().filter(|id| **id == op.id).count(), 1);
    }
}

/// Reads `count` acks and ops and returns seq → op id, checking that the seqs
/// arrive in increasing order.
async fn collect_view(client: &mut TestClient, count: usize) -> BTreeMap<u64, OpId> {
    let mut view = BTreeMap::new();
    let mut last = 0;
    for _ in 0..count {
        let (seq, id) = match client.recv().await {
            ServerMessage::Ack { op, seq, .. } => (seq, op),
            ServerMessage::Op(op) => (op.seq, op.op.id),
            other => panic!("expected an ack or an op, got {other:?}"),
        };
        assert!(seq > last, "seq {seq} arrived after {last}");
        last = seq;
        view.insert(seq, id);
    }
    view
}

#[tokio::test]
async fn rooms_are_isolated() {
    let relay = TestRelay::start().await;
    let (mut x, _) = TestClient::join(&relay, "room-x", "x").await;
    let (mut y, welcome) = TestClient::join(&relay, "room-y", "y").await;
    assert!(welcome.peers.is_empty(), "x is in another room");

    // After x's join.
    assert_eq!(x.sequence(&stroke_op()).await, 2);
    assert_eq!(x.sequence(&stroke_op()).await, 3);
    y.expect_nothing(Duration::from_millis(200)).await;

    // Room y has its own sequence, and nothing from x.
    assert_eq!(y.sequence(&stroke_op()).await, 2);
    x.expect_nothing(Duration::from_millis(200)).await;
    assert!(
        x.presence.iter().chain(&y.presence).all(|op| op.seq == 1),
        "each room records only its own join"
    );
    let (_, late) = TestClient::join(&relay, "room-y", "late").await;
    assert_eq!(late.head, 2);
}
