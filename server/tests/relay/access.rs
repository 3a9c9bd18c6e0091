//! Access: who someone is (resume secrets), and which origins may open a
//! socket.

use std::time::Duration;

use tabula_server::Config;
use tabula_shared::ClientMessage;
use tabula_shared::access::ResumeSecret;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::support::{TestClient, TestRelay, WAIT, stroke_op, test_config};

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

/// Opens a WebSocket to `room` with an `Origin` header, as a web page would.
async fn connect_from_page(
    relay: &TestRelay,
    room: &str,
    origin: &str,
) -> Result<crate::support::ClientWs, tungstenite::Error> {
    let mut request = relay
        .url(room)
        .into_client_request()
        .expect("a relay's URL is a request");
    request.headers_mut().insert(
        "Origin",
        origin.parse().expect("an origin is a header value"),
    );
    tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("the handshake timed out")
        .map(|(ws, _)| ws)
}

#[tokio::test]
async fn an_upgrade_from_a_web_page_is_refused_unless_its_origin_is_allowed() {
    let relay = TestRelay::with_config(Config {
        allowed_origins: vec!["https://board.example.com".to_owned()],
        ..test_config()
    })
    .await;
    for origin in [
        "https://evil.example.com",
        "null",
        "https://board.example.com.evil",
    ] {
        match connect_from_page(&relay, "team", origin).await {
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), 403, "{origin}");
                let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                    .into_owned();
                assert!(body.contains("--allow-origin"), "{body}");
            }
            other => panic!("{origin}: expected a 403, got {other:?}"),
        }
    }
    let ws = connect_from_page(&relay, "team", "https://board.example.com")
        .await
        .expect("an allowed origin gets its socket");
    let mut page = TestClient::from_ws(ws, "page");
    page.hello("team", 0).await;
    // The app and tabula-bench send no origin at all, and are let in.
    TestClient::join(&relay, "team", "app").await;
}
