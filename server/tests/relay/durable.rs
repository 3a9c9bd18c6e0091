//! Durable rooms: a relay with a data folder keeps every room in a session file
//! and carries on after a restart as if it had never stopped; a room whose file
//! is damaged is refused without taking the others down.

use tabula_server::Config;
use tabula_shared::ClientMessage;
use tabula_shared::session_file::SessionFile;

use crate::support::{TestClient, TestRelay, stroke_op, test_config};

fn durable(data: &std::path::Path) -> Config {
    Config {
        data_dir: Some(data.to_path_buf()),
        ..test_config()
    }
}

#[tokio::test]
async fn a_restarted_relay_carries_on_where_it_stopped() {
    let data = tempfile::tempdir().unwrap();
    let relay = TestRelay::with_config(durable(data.path())).await;
    let (mut a, _) = TestClient::join(&relay, "kept", "a").await;
    let ops: Vec<_> = (0..5).map(|_| stroke_op()).collect();
    let mut stamps = Vec::new();
    for op in &ops {
        a.send(&ClientMessage::Op(op.clone())).await;
        stamps.push(a.recv_ack(op.id).await);
    }
    let info = a.info.clone();
    a.ws.close(None).await.unwrap();
    relay.stop().await.unwrap();

    // The room is a session file anyone can open.
    // a's join, its five ops and its leave.
    let file = SessionFile::open_read_only(data.path().join("rooms/kept.tabula")).unwrap();
    assert_eq!(file.head().unwrap(), 7);
    assert_eq!(file.meta().unwrap().room, "kept");
    drop(file);

    let relay = TestRelay::with_config(durable(data.path())).await;
    let (mut late, welcome) = TestClient::join(&relay, "kept", "late").await;
    assert_eq!((welcome.replay_from, welcome.head), (0, 7));
    for ((seq, op), stamp) in (2..).zip(&ops).zip(&stamps) {
        let seen = late.recv_op().await;
        assert_eq!((seen.seq, &seen.op, seen.author), (seq, op, info.client));
        assert_eq!(seen.timestamp_ms, stamp.1);
    }

    assert_eq!(late.own_join().await, 8);
    let (mut a, welcome) = TestClient::rejoin(&relay, "kept", &info, 8, late.op_at(8)).await;
    assert_eq!((welcome.replay_from, welcome.head), (8, 8));
    late.expect_joined(&a.info).await;
    // A resend of an op stored before the restart is found in the file.
    a.send(&ClientMessage::Op(ops[2].clone())).await;
    assert_eq!(a.recv_ack(ops[2].id).await, stamps[2]);
    // And the sequence carries on, with time never going backwards.
    let next = stroke_op();
    a.send(&ClientMessage::Op(next.clone())).await;
    let (seq, timestamp_ms) = a.recv_ack(next.id).await;
    // After a's join, op 9.
    assert_eq!(seq, 10);
    assert!(timestamp_ms >= stamps[4].1);
    assert_eq!(late.recv_op().await.seq, 10);
    relay.stop().await.unwrap();
}

#[tokio::test]
async fn a_damaged_room_file_is_refused_and_other_rooms_go_on() {
    let data = tempfile::tempdir().unwrap();
    let rooms = data.path().join("rooms");
    std::fs::create_dir_all(&rooms).unwrap();
    std::fs::write(
        rooms.join("broken.tabula"),
        "this is not a database".repeat(10),
    )
    .unwrap();
    let relay = TestRelay::with_config(durable(data.path())).await;

    let mut x = TestClient::connect(&relay, "broken", "x").await;
    let hello = x.hello_message("broken", 0);
    x.send(&ClientMessage::Hello(hello)).await;
    let (code, reason) = x.expect_close().await;
    assert_eq!(code, 1011);
    assert!(reason.contains("could not open room broken"), "{reason}");
    assert!(
        !reason.contains(&*data.path().to_string_lossy()),
        "no paths to clients: {reason}"
    );

    // After the join.
    let (mut a, _) = TestClient::join(&relay, "fine", "a").await;
    assert_eq!(a.sequence(&stroke_op()).await, 2);

    // Once the operator moves the damaged file away, the room opens afresh.
    std::fs::rename(rooms.join("broken.tabula"), data.path().join("broken.bad")).unwrap();
    let (mut b, _) = TestClient::join(&relay, "broken", "b").await;
    assert_eq!(b.sequence(&stroke_op()).await, 2);
    relay.stop().await.unwrap();
}
