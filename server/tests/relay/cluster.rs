//! Several relay nodes on one Redis (`--redis`): one order per room whichever
//! node an op arrives at, late joiners and history on either node, presence
//! between nodes, and a node that loses Redis refusing ops until it is back.

use std::collections::BTreeMap;
use std::time::Duration;

use tabula_server::Config;
use tabula_shared::{
    Board, ClientMessage, OpId, SequencedOp, ServerMessage, Welcome, decode_snapshot,
};
use tokio::time::{Instant, sleep};

use crate::redis_server::TestRedis;
use crate::support::{TestClient, TestRelay, WAIT, stroke_op, test_config};

/// A node of a cluster on `redis`.
async fn node(redis: &TestRedis, snapshot_every: u64) -> TestRelay {
    TestRelay::with_config(Config {
        redis: Some(redis.url()),
        snapshot_every,
        ..test_config()
    })
    .await
}

/// Reads until `client` has seen every op up to `head` (as an op or its
/// ack), passing over presence and snapshot parts; returns what it saw.
async fn seen_up_to(client: &mut TestClient, head: u64) -> BTreeMap<u64, OpId> {
    let deadline = Instant::now() + WAIT;
    while (1..=head).any(|seq| !client.seen.contains_key(&seq)) {
        assert!(
            Instant::now() < deadline,
            "{} did not see every op up to {head}",
            client.info.name
        );
        if let ServerMessage::Error { code, message }
        | ServerMessage::OpRefused { code, message, .. } = client.recv_any().await
        {
            panic!("{}: {code:?}: {message}", client.info.name);
        }
    }
    client.seen.range(1..=head).map(|(s, o)| (*s, *o)).collect()
}

/// The ops a client has received as ops (not acks), by sequence number.
async fn ops_up_to(client: &mut TestClient, head: u64) -> BTreeMap<u64, SequencedOp> {
    let mut ops = BTreeMap::new();
    let deadline = Instant::now() + WAIT;
    while (ops.len() as u64) < head {
        assert!(
            Instant::now() < deadline,
            "{} did not get every op",
            client.info.name
        );
        if let ServerMessage::Op(op) = client.recv_any().await
            && op.seq <= head
        {
            ops.insert(op.seq, op);
        }
    }
    ops
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_on_two_nodes_share_one_order_and_late_joiners_catch_up_on_either() {
    let redis = TestRedis::start();
    let a = node(&redis, u64::MAX).await;
    let b = node(&redis, u64::MAX).await;
    let (mut ann, _) = TestClient::join(&a, "shared", "ann").await;
    let (mut bob, _) = TestClient::join(&b, "shared", "bob").await;

    // Both at once, on their own nodes.
    let ops_ann: Vec<_> = (0..30).map(|_| stroke_op()).collect();
    let ops_bob: Vec<_> = (0..30).map(|_| stroke_op()).collect();
    for (op_a, op_b) in ops_ann.iter().zip(&ops_bob) {
        ann.send(&ClientMessage::Op(op_a.clone())).await;
        bob.send(&ClientMessage::Op(op_b.clone())).await;
    }
    // Two joins, the record of the first as the room's operator (a node
    // records it: another node may let someone in first at the same time),
    // and sixty ops.
    let head = 63;
    let view_ann = seen_up_to(&mut ann, head).await;
    let view_bob = seen_up_to(&mut bob, head).await;
    assert_eq!(view_ann, view_bob, "one order on both nodes");
    for op in ops_ann.iter().chain(&ops_bob) {
        assert_eq!(
            view_ann.values().filter(|id| **id == op.id).count(),
            1,
            "each op once"
        );
    }

    // Redis holds each op once, at the number everyone saw.
    let mut look = redis::Client::open(redis.url())
        .and_then(|client| client.get_connection())
        .expect("a connection to look into Redis");
    let indexed: u64 = redis::cmd("HLEN")
        .arg("tabula:{shared}:ids")
        .query(&mut look)
        .expect("HLEN");
    assert_eq!(indexed, head, "every op (and join) once in the index");

    // Late joiners, one on each node, get the same history.
    for relay in [&a, &b] {
        let (mut late, welcome) = TestClient::join(relay, "shared", "late").await;
        assert!(welcome.head >= head);
        let history = ops_up_to(&mut late, welcome.head).await;
        let ids: BTreeMap<u64, OpId> = history.iter().map(|(s, o)| (*s, o.op.id)).collect();
        assert_eq!(
            ids.range(1..=head)
                .map(|(s, o)| (*s, *o))
                .collect::<BTreeMap<_, _>>(),
            view_ann
        );
        drop(late);
    }

    // Presence crosses nodes: ann's cursor reaches bob.
    ann.send(&ClientMessage::Cursor(Some(tabula_shared::Point::new(
        3.0, 4.0,
    ))))
    .await;
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "bob never saw ann's cursor");
        if let ServerMessage::Presence { client, .. } = bob.recv_any().await
            && client == ann.info.client
        {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_on_another_node_gets_the_snapshot_and_the_history_behind_it() {
    let redis = TestRedis::start();
    let a = node(&redis, 10).await;
    let b = node(&redis, 10).await;
    let (mut ann, _) = TestClient::join(&a, "drawn", "ann").await;
    for _ in 0..40 {
        ann.sequence(&stroke_op()).await;
    }
    let head = 41;
    let view_ann = seen_up_to(&mut ann, head).await;
    // The snapshot is made in the background: join until one is announced.
    let deadline = Instant::now() + WAIT;
    let (mut bob, welcome): (TestClient, Welcome) = loop {
        let (bob, welcome) = TestClient::join(&b, "drawn", "bob").await;
        if welcome.snapshot.is_some() {
            break (bob, welcome);
        }
        assert!(Instant::now() < deadline, "no snapshot was announced");
        drop(bob);
        sleep(Duration::from_millis(50)).await;
    };
    let header = welcome.snapshot.expect("a snapshot");
    let mut bytes = Vec::new();
    while bytes.len() < header.bytes as usize {
        match bob.recv_any().await {
            ServerMessage::SnapshotPart(part) => bytes.extend(part),
            other => panic!("expected the snapshot, got {other:?}"),
        }
    }
    let board = Board::from_snapshot(decode_snapshot(&bytes).expect("the snapshot decodes"));
    // The history behind it, from the other node's ops.
    bob.send(&ClientMessage::FetchHistory {
        after: 0,
        up_to: header.seq,
    })
    .await;
    let history = ops_up_to(&mut bob, header.seq).await;
    let mut rebuilt = Board::new();
    for (seq, op) in &history {
        assert_eq!(Some(&op.op.id), view_ann.get(seq));
        rebuilt.apply_sequenced(op);
    }
    assert!(
        rebuilt.snapshot() == board.snapshot(),
        "the snapshot is the board of the ops before it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_loses_redis_refuses_ops_saying_why_and_recovers_when_it_is_back() {
    let mut redis = TestRedis::start();
    let a = node(&redis, u64::MAX).await;
    let (mut ann, _) = TestClient::join(&a, "fragile", "ann").await;
    let first = ann.sequence(&stroke_op()).await;

    redis.kill();
    ann.send(&ClientMessage::Op(stroke_op())).await;
    let (code, reason) = ann.expect_close().await;
    assert_eq!(code, 1013, "try again later: {reason}");
    assert!(reason.contains("Redis"), "{reason}");
    // A room the node does not have open cannot be opened either.
    let mut other = TestClient::connect(&a, "elsewhere", "ola").await;
    other
        .send(&ClientMessage::Hello(other.hello_message("elsewhere", 0)))
        .await;
    let (code, reason) = other.expect_close().await;
    assert_eq!(code, 1013, "{reason}");
    assert!(reason.contains("Redis"), "{reason}");

    redis.restart();
    // Back: ann comes back and her ops are taken again, after the first.
    let deadline = Instant::now() + WAIT;
    loop {
        let info = ann.info.clone();
        let (mut again, welcome) =
            TestClient::rejoin(&a, "fragile", &info, first, ann.op_at(first)).await;
        let op = stroke_op();
        again.send(&ClientMessage::Op(op.clone())).await;
        let answer = tokio::time::timeout(WAIT, async {
            loop {
                match again.recv_any().await {
                    ServerMessage::Ack { op: acked, seq, .. } if acked == op.id => {
                        return Some(seq);
                    }
                    ServerMessage::Error { .. } | ServerMessage::OpRefused { .. } => return None,
                    _ => {}
                }
            }
        })
        .await;
        if let Ok(Some(seq)) = answer {
            assert!(seq > first && welcome.head >= first);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the node did not recover once Redis was back"
        );
        sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_moves_from_a_data_folder_into_redis_and_back_out_whole() {
    use tabula_server::admin::{self, AdminError};
    use tabula_shared::session_file::SessionFile;

    // A room drawn on a relay with a data folder.
    let data = tempfile::tempdir().unwrap();
    let single = TestRelay::with_config(Config {
        data_dir: Some(data.path().to_path_buf()),
        ..test_config()
    })
    .await;
    let (mut ann, _) = TestClient::join(&single, "moving", "ann").await;
    for _ in 0..10 {
        ann.sequence(&stroke_op()).await;
    }
    drop(ann);
    single.stop().await.unwrap();
    let file =
        tabula_server::store::room_path(&tabula_server::store::rooms_dir(data.path()), "moving");
    let original: Vec<OpId> = SessionFile::open_read_only(&file)
        .unwrap()
        .ops(0)
        .map(|row| row.unwrap().op_id)
        .collect();

    let redis = TestRedis::start();
    let url = redis.url();
    let imported = tokio::task::spawn_blocking({
        let (url, file) = (url.clone(), file.clone());
        move || admin::cluster::import(&url, &file, None)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        (imported.room.as_str(), imported.ops),
        ("moving", original.len() as u64)
    );
    let again = tokio::task::spawn_blocking({
        let (url, file) = (url.clone(), file.clone());
        move || admin::cluster::import(&url, &file, None)
    })
    .await
    .unwrap();
    assert!(
        matches!(again, Err(AdminError::RoomExists { .. })),
        "{again:?}"
    );

    // A node serves it from where it was, with its history.
    let a = node(&redis, u64::MAX).await;
    let (mut bob, welcome) = TestClient::join(&a, "moving", "bob").await;
    assert_eq!(welcome.head, original.len() as u64);
    let history = ops_up_to(&mut bob, welcome.head).await;
    let ids: Vec<OpId> = history.values().map(|op| op.op.id).collect();
    assert_eq!(ids, original, "the same ops at the same numbers");
    let seq = bob.sequence(&stroke_op()).await;
    assert_eq!(seq, welcome.head + 2, "after bob's join");

    // And back out into a file; listed meanwhile.
    let out = data.path().join("out.tabula");
    let (exported, list) = tokio::task::spawn_blocking({
        let (url, out) = (url.clone(), out.clone());
        move || {
            (
                admin::cluster::export(&url, "moving", &out),
                admin::cluster::list_rooms(&url),
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(exported.unwrap().ops, seq);
    let list = list.unwrap();
    assert_eq!(list.rooms.len(), 1);
    assert_eq!(list.rooms[0].1.as_ref().unwrap().ops, seq);
    let copy: Vec<OpId> = SessionFile::open_read_only(&out)
        .unwrap()
        .ops(0)
        .map(|row| row.unwrap().op_id)
        .collect();
    assert_eq!(&copy[..original.len()], &original[..]);
    assert_eq!(copy.len() as u64, seq);
    let missing = tokio::task::spawn_blocking(move || {
        admin::cluster::export(&url, "nowhere", &data.path().join("no.tabula"))
    })
    .await
    .unwrap();
    assert!(matches!(missing, Err(AdminError::NoSuchRedisRoom { .. })));
}

#[tokio::test]
async fn a_full_room_counts_its_members_on_every_node() {
    let redis = TestRedis::start();
    let small = || {
        TestRelay::with_config(Config {
            redis: Some(redis.url()),
            max_members: 2,
            ..test_config()
        })
    };
    let (a, b) = (small().await, small().await);
    let (mut ann, _) = TestClient::join(&a, "small", "ann").await;
    let (bob, _) = TestClient::join(&b, "small", "bob").await;
    // Node a has heard of bob.
    ann.expect_joined(&bob.info).await;
    let mut cy = TestClient::connect(&a, "small", "cy").await;
    let hello = cy.hello_message("small", 0);
    cy.send(&ClientMessage::Hello(hello)).await;
    let (code, reason) = cy.expect_close().await;
    assert_eq!(code, 1013, "{reason}");
    assert!(reason.contains("room small is full: 2 people"), "{reason}");
    // Bob may always come back, on either node.
    TestClient::rejoin(&a, "small", &bob.info, 0, None).await;
}
