//! Handing a room over, over real sockets: the relay stops sequencing, asks
//! the longest-present member to host, and sends everyone on; and a resume
//! names its last op, so a client never resumes into another copy's history.

use std::time::Duration;

use tabula_server::{HandOver, HandOverError};
use tabula_shared::{ClientMessage, OpId, ServerMessage};

use crate::support::{TestClient, TestRelay, WAIT, stroke_op};

fn excluding(host: &TestClient) -> HandOver {
    HandOver {
        prefer: None,
        exclude: vec![host.info.client],
        answer_within: WAIT,
    }
}

/// Sends `op` and returns its sequence number, passing over whatever comes
/// before its ack (presence, others' ops).
async fn sequence(client: &mut TestClient, op: &tabula_shared::Op) -> u64 {
    client.send(&ClientMessage::Op(op.clone())).await;
    loop {
        if let ServerMessage::Ack { op: acked, seq, .. } = client.recv().await
            && acked == op.id
        {
            return seq;
        }
    }
}

/// The next message that is neither an op up to `head`, an ack, nor news of
/// who came and went.
async fn next_news(client: &mut TestClient, head: u64) -> ServerMessage {
    loop {
        match client.recv().await {
            ServerMessage::Op(op) => assert!(op.seq <= head, "{op:?} after the head {head}"),
            ServerMessage::Ack { seq, .. } => assert!(seq <= head),
            other => return other,
        }
    }
}

#[tokio::test]
async fn a_room_is_handed_to_the_longest_present_member_and_everyone_is_sent_on() {
    let relay = TestRelay::start().await;
    let (mut host, _) = TestClient::join(&relay, "team", "host").await;
    let (mut ada, _) = TestClient::join(&relay, "team", "ada").await;
    let (mut bo, _) = TestClient::join(&relay, "team", "bo").await;
    sequence(&mut host, &stroke_op()).await;
    sequence(&mut ada, &stroke_op()).await;
    let head = sequence(&mut bo, &stroke_op()).await;

    let moving = {
        let relay = relay.relay.clone();
        let plan = excluding(&host);
        tokio::spawn(async move { relay.hand_over("team", &plan).await })
    };
    assert_eq!(
        next_news(&mut ada, head).await,
        ServerMessage::TakeOver { head }
    );
    // Bo keeps drawing meanwhile: nothing is sequenced, nothing acked.
    let waiting = stroke_op();
    bo.send(&ClientMessage::Op(waiting.clone())).await;
    // Bo was not asked: its answer is refused, and changes nothing.
    bo.send(&ClientMessage::Hosting {
        urls: vec!["ws://127.0.0.1:9/team".to_owned()],
    })
    .await;
    assert!(matches!(bo.recv().await, ServerMessage::Error { .. }));

    let urls = vec!["ws://127.0.0.1:7999/team".to_owned()];
    ada.send(&ClientMessage::Hosting { urls: urls.clone() })
        .await;
    let moved = tokio::time::timeout(WAIT, moving)
        .await
        .expect("the hand-over ends")
        .expect("joins")
        .expect("handed over");
    assert_eq!((moved.to.name.as_str(), moved.head), ("ada", head));
    let wanted = ServerMessage::Moved { urls, head };
    for client in [&mut host, &mut ada, &mut bo] {
        assert_eq!(next_news(client, head).await, wanted);
    }
    bo.expect_nothing(Duration::from_millis(200)).await;
    assert!(
        relay.relay.rooms().iter().any(|room| room.name == "team"),
        "the room is still open here, frozen"
    );
    // A second hand-over of a room that moved is refused.
    assert!(matches!(
        relay.relay.hand_over("team", &excluding(&host)).await,
        Err(HandOverError::AlreadyMoving)
    ));
    assert!(matches!(
        relay.relay.hand_over("nowhere", &excluding(&host)).await,
        Err(HandOverError::NoSuchRoom(_))
    ));
}

#[tokio::test]
async fn a_member_that_cannot_host_is_passed_over_and_nobody_means_the_room_goes_on() {
    let relay = TestRelay::start().await;
    let (mut host, _) = TestClient::join(&relay, "team", "host").await;
    let (mut ada, _) = TestClient::join(&relay, "team", "ada").await;
    let head = sequence(&mut host, &stroke_op()).await;
    let moving = {
        let relay = relay.relay.clone();
        let plan = excluding(&host);
        tokio::spawn(async move { relay.hand_over("team", &plan).await })
    };
    assert_eq!(
        next_news(&mut ada, head).await,
        ServerMessage::TakeOver { head }
    );
    let waiting = stroke_op();
    host.send(&ClientMessage::Op(waiting.clone())).await;
    ada.send(&ClientMessage::CannotHost {
        reason: "its copy is incomplete".to_owned(),
    })
    .await;
    let refused = tokio::time::timeout(WAIT, moving)
        .await
        .expect("the hand-over ends")
        .expect("joins")
        .expect_err("nobody took the room");
    assert_eq!(
        refused.to_string(),
        "nobody could take the room over: ada: its copy is incomplete"
    );
    // The room thawed: the op held meanwhile is sequenced, acked and sent on.
    let seq = loop {
        if let ServerMessage::Ack { op, seq, .. } = host.recv().await
            && op == waiting.id
        {
            break seq;
        }
    };
    assert_eq!(seq, head + 1);
    assert_eq!(ada.recv_op().await.op, waiting);
}

#[tokio::test]
async fn a_resume_naming_another_op_starts_from_nothing() {
    let relay = TestRelay::start().await;
    let (mut ada, _) = TestClient::join(&relay, "copy", "ada").await;
    for _ in 0..3 {
        ada.sequence(&stroke_op()).await;
    }
    let info = ada.info.clone();
    let right = ada.op_at(3);
    ada.ws.close(None).await.expect("closes");

    // The same number, another op: another copy of the room's history.
    let (_, welcome) = TestClient::rejoin(&relay, "copy", &info, 3, Some(OpId::random())).await;
    assert_eq!(welcome.replay_from, 0);
    // No op named at all, likewise.
    let (_, welcome) = TestClient::rejoin(&relay, "copy", &info, 3, None).await;
    assert_eq!(welcome.replay_from, 0);
    // The very op: a resume.
    let (_, welcome) = TestClient::rejoin(&relay, "copy", &info, 3, right).await;
    assert_eq!(welcome.replay_from, 3);
}
