//! Access: who someone is (resume secrets).

use std::time::Duration;

use tabula_shared::ClientMessage;
use tabula_shared::access::ResumeSecret;

use crate::support::{TestClient, TestRelay, stroke_op};

/// The close code of a hello naming someone else's client id.
const IDENTITY_REFUSED: u16 = 4403;

#[tokio::test]
async fn an_impostor_with_a_members_id_is_refused_and_the_member_sees_nothing() {
    let relay = TestRelay::start().await;
    let (mut alice, _) = TestClient::join(&relay, "team", "alice").await;
    let (mut bob, _) = TestClient::join(&relay, "team", "bob").await;
    alice.recv().await; // PeerJoined(bob)
    // Alice starts a stroke the impostor would like to take over.
    let begin = stroke_op();
    alice.sequence(&begin).await;
    bob.recv_op().await;

    let forged = ResumeSecret::random().unwrap();
    for presented in [None, Some(forged)] {
        let mut impostor = TestClient::connect(&relay, "team", "mallory").await;
        let mut hello = impostor.hello_message("team", 0);
        hello.client = alice.info.client;
        hello.credentials.resume = presented;
        impostor.send(&ClientMessage::Hello(hello)).await;
        let (code, reason) = impostor.expect_close().await;
        assert_eq!(code, IDENTITY_REFUSED, "{reason}");
        assert!(reason.contains("resume secret"), "{reason}");
    }

    // Nobody was told anything, and alice is still herself, connected.
    alice.expect_nothing(Duration::from_millis(300)).await;
    bob.expect_nothing(Duration::from_millis(300)).await;
    assert!(
        alice
            .presence
            .iter()
            .chain(&bob.presence)
            .all(|op| op.author != alice.info.client || op.op.kind != tabula_shared::OpKind::Left),
        "no leave was recorded for alice"
    );
    let next = stroke_op();
    alice.sequence(&next).await;
    assert_eq!(bob.recv_op().await.op.id, next.id);
    assert_eq!(relay.relay.members("team").len(), 2);
}

#[tokio::test]
async fn a_member_resumes_with_its_secret_after_each_reconnect() {
    let relay = TestRelay::start().await;
    let (mut alice, first) = TestClient::join(&relay, "team", "alice").await;
    let info = alice.info.clone();
    for _ in 0..3 {
        let last = alice.sequence(&stroke_op()).await;
        let op = alice.op_at(last);
        drop(alice);
        let (again, welcome) = TestClient::rejoin(&relay, "team", &info, last, op).await;
        assert_eq!(welcome.resume_secret, first.resume_secret);
        assert_eq!(welcome.replay_from, last, "it resumed where it was");
        alice = again;
    }
    // Another room gives the same id another secret.
    let mut elsewhere = TestClient::connect(&relay, "elsewhere", "alice").await;
    elsewhere.info = info;
    let welcome = elsewhere.hello("elsewhere", 0).await;
    assert_ne!(welcome.resume_secret, first.resume_secret);
}
