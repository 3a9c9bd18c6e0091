//! History: late joiners, reconnects and idempotent resends.

use std::time::Duration;

use tabula_shared::{ClientMessage, OpKind};

use crate::support::{TestClient, TestRelay, stroke_op};

#[tokio::test]
async fn a_late_joiner_gets_the_whole_history_in_order() {
    let relay = TestRelay::start().await;
    let (mut a, _) = TestClient::join(&relay, "history", "a").await;
    let ops: Vec<_> = (0..5).map(|_| stroke_op()).collect();
    for op in &ops {
        a.sequence(op).await;
    }
    a.ws.close(None).await.unwrap();

    let (mut late, welcome) = TestClient::join(&relay, "history", "late").await;
    assert_eq!(welcome.room, "history");
    // a's join, its five ops and its leave.
    assert_eq!((welcome.replay_from, welcome.head), (0, 7));
    assert!(welcome.peers.is_empty(), "a has left");
    for (seq, op) in (2..).zip(&ops) {
        let seen = late.recv_op().await;
        assert_eq!((seen.seq, &seen.op, seen.author), (seq, op, a.info.client));
    }
    late.expect_nothing(Duration::from_millis(100)).await;
    // The joins and leaves are history too, then late's own join comes live.
    let presence: Vec<_> = late
        .presence
        .iter()
        .map(|op| (op.seq, op.author, op.op.kind == OpKind::Left))
        .collect();
    assert_eq!(
        presence,
        vec![
            (1, a.info.client, false),
            (7, a.info.client, true),
            (8, late.info.client, false)
        ]
    );
}

#[tokio::test]
async fn a_reconnect_gets_only_what_it_missed_and_a_resend_is_not_sequenced_twice() {
    let relay = TestRelay::start().await;
    let (mut a, _) = TestClient::join(&relay, "resume", "a").await;
    let (mut b, _) = TestClient::join(&relay, "resume", "b").await;
    a.expect_joined(&b.info).await;
    let ops: Vec<_> = (0..5).map(|_| stroke_op()).collect();
    let mut stamps = Vec::new();
    for op in &ops {
        b.send(&ClientMessage::Op(op.clone())).await;
        stamps.push(b.recv_ack(op.id).await);
    }
    // a saw the first two (after the two joins), then its connection died.
    assert_eq!(a.recv_op().await.seq, 3);
    assert_eq!(a.recv_op().await.seq, 4);
    let info = a.info.clone();
    let last_op = a.op_at(4);
    assert_eq!(last_op, Some(ops[1].id));
    a.ws.close(None).await.unwrap();
    b.expect_left(info.client).await;

    // Its leave is op 8.
    let (mut a, welcome) = TestClient::rejoin(&relay, "resume", &info, 4, last_op).await;
    assert_eq!((welcome.replay_from, welcome.head), (4, 8));
    for (seq, op) in (5..=7).zip(&ops[2..]) {
        let seen = a.recv_op().await;
        assert_eq!((seen.seq, &seen.op), (seq, op));
    }
    b.expect_joined(&info).await;

    // b resends op 4 (say its ack was lost): same seq, same time, nothing new.
    b.send(&ClientMessage::Op(ops[3].clone())).await;
    assert_eq!(b.recv_ack(ops[3].id).await, stamps[3]);
    a.expect_nothing(Duration::from_millis(200)).await;
    // After a's join again, op 9.
    let next = stroke_op();
    assert_eq!(
        b.sequence(&next).await,
        10,
        "the resend took no sequence number"
    );
    assert_eq!(a.recv_op().await.seq, 10);
}

#[tokio::test]
async fn a_client_ahead_of_the_relay_rebuilds_from_nothing() {
    let relay = TestRelay::start().await;
    let (mut a, _) = TestClient::join(&relay, "lost", "a").await;
    for _ in 0..3 {
        a.sequence(&stroke_op()).await;
    }
    // A client that has seen seq 99 was talking to a relay that lost the room.
    let info = crate::support::peer_info("ahead");
    let (mut ahead, welcome) = TestClient::rejoin(&relay, "lost", &info, 99, None).await;
    // a's join and three ops.
    assert_eq!((welcome.replay_from, welcome.head), (0, 4));
    for seq in 2..=4 {
        assert_eq!(ahead.recv_op().await.seq, seq);
    }
    assert_eq!(ahead.presence.len(), 1, "a's join");
}

#[tokio::test]
async fn a_newer_connection_of_the_same_client_replaces_the_older_one() {
    let relay = TestRelay::start().await;
    let (mut b, _) = TestClient::join(&relay, "twice", "b").await;
    let (mut old, _) = TestClient::join(&relay, "twice", "a").await;
    b.expect_joined(&old.info).await;

    let (mut new, welcome) = TestClient::rejoin(&relay, "twice", &old.info, 0, None).await;
    assert_eq!(
        welcome.peers,
        vec![b.info.clone()],
        "the old connection is gone"
    );
    let (code, reason) = old.expect_close().await;
    assert_eq!(code, 1008);
    assert_eq!(reason, "replaced by a newer connection of the same client");
    // b hears the client join again, but never that it left.
    b.expect_joined(&new.info).await;
    b.expect_nothing(Duration::from_millis(300)).await;
    assert!(b.peers.contains_key(&new.info.client));

    // Three joins, and no leave in between.
    let op = stroke_op();
    assert_eq!(new.sequence(&op).await, 4);
    assert_eq!(b.recv_op().await.author, new.info.client);
    let joins: Vec<_> = b.presence.iter().map(|op| op.author).collect();
    assert_eq!(
        joins,
        vec![b.info.clone().client, old.info.client, new.info.client]
    );
}
