//! Access: who someone is (resume secrets), which origins may open a
//! socket, and the relay's password.

use std::time::{Duration, Instant};

use tabula_server::Config;
use tabula_shared::access::{self, Password, ResumeSecret, Scope};
use tabula_shared::{Challenge, ClientMessage, PeerInfo, Proofs, ServerMessage};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::support::{TestClient, TestRelay, WAIT, peer_info, stroke_op, test_config};

/// The close code of a hello naming someone else's client id.
const IDENTITY_REFUSED: u16 = 4403;

#[tokio::test]
async fn an_impostor_with_a_members_id_is_refused_and_the_member_sees_nothing() {
    let relay = TestRelay::start().await;
    let (mut alice, _) = TestClient::join(&relay, "team", "alice").await;
    let (mut bob, _) = TestClient::join(&relay, "team", "bob").await;
    alice.expect_joined(&bob.info).await;
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

/// The close code of a missing or wrong password.
const PASSWORD_REFUSED: u16 = 4401;

/// A relay whose password is `password`.
async fn relay_with_password(password: &str) -> TestRelay {
    TestRelay::with_config(Config {
        password: Password::new(password),
        ..test_config()
    })
    .await
}

/// Says hello to `room` and waits for the relay's challenge.
async fn challenged(relay: &TestRelay, room: &str, name: &str) -> (TestClient, Challenge) {
    challenged_as(relay, room, &peer_info(name)).await
}

/// Says hello to `room` as `info` and waits for the relay's challenge.
async fn challenged_as(relay: &TestRelay, room: &str, info: &PeerInfo) -> (TestClient, Challenge) {
    let mut client = TestClient::connect(relay, room, &info.name).await;
    client.info = info.clone();
    let hello = client.hello_message(room, 0);
    client.send(&ClientMessage::Hello(hello)).await;
    match client.recv().await {
        ServerMessage::Challenge(challenge) => (client, challenge),
        other => panic!("expected a challenge, got {other:?}"),
    }
}

/// The answer to `challenge` with `password`, for `client` in `room`.
fn answer(challenge: &Challenge, password: &str, room: &str, client: &TestClient) -> ClientMessage {
    let params = challenge
        .relay
        .expect("the challenge asks for the relay's password");
    let key = access::derive(&Password::new(password).expect("a password"), &params)
        .expect("the relay's parameters are within bounds");
    ClientMessage::Authenticate(Proofs {
        relay: Some(key.prove(Scope::Relay, &challenge.nonce, room, client.info.client)),
        room: None,
        invite: None,
    })
}

#[tokio::test]
async fn the_right_password_lets_in_and_a_wrong_or_missing_one_is_refused_before_any_room_data() {
    let relay = relay_with_password("correct horse").await;
    let (mut ada, challenge) = challenged(&relay, "team", "ada").await;
    assert!(challenge.room.is_none());
    ada.send(&answer(&challenge, "correct horse", "team", &ada))
        .await;
    assert!(matches!(ada.recv().await, ServerMessage::Welcome(_)));

    let (mut wrong, challenge) = challenged(&relay, "team", "guess").await;
    wrong
        .send(&answer(&challenge, "correct hoarse", "team", &wrong))
        .await;
    assert_eq!(
        wrong.expect_close().await,
        (PASSWORD_REFUSED, "wrong password for this relay".to_owned())
    );

    let (mut missing, _) = challenged(&relay, "team", "none").await;
    missing
        .send(&ClientMessage::Authenticate(Proofs::default()))
        .await;
    assert_eq!(
        missing.expect_close().await,
        (PASSWORD_REFUSED, "this relay needs a password".to_owned())
    );
    // Ada heard of none of them.
    ada.expect_nothing(Duration::from_millis(200)).await;
    assert_eq!(relay.relay.members("team").len(), 1);
}

#[tokio::test]
async fn a_captured_authentication_replayed_on_another_connection_is_refused() {
    let relay = relay_with_password("correct horse").await;
    let (mut ada, challenge) = challenged(&relay, "team", "ada").await;
    let captured = answer(&challenge, "correct horse", "team", &ada);
    ada.send(&captured).await;
    assert!(matches!(ada.recv().await, ServerMessage::Welcome(_)));

    // Someone who saw that exchange sends the same hello and the same proof.
    let (mut replayer, next) = challenged(&relay, "team", "mallory").await;
    assert_ne!(
        next.nonce, challenge.nonce,
        "every connection its own nonce"
    );
    replayer.info = ada.info.clone();
    replayer.send(&captured).await;
    let (code, _) = replayer.expect_close().await;
    assert_eq!(code, PASSWORD_REFUSED);
}

#[tokio::test]
async fn failures_from_one_address_slow_its_next_attempt_down() {
    let relay = relay_with_password("correct horse").await;
    for _ in 0..2 {
        let (mut guess, challenge) = challenged(&relay, "team", "guess").await;
        guess
            .send(&answer(&challenge, "wrong", "team", &guess))
            .await;
        assert_eq!(guess.expect_close().await.0, PASSWORD_REFUSED);
    }
    // Two failures: the next challenge comes only after twice the first delay.
    let started = Instant::now();
    let (mut ada, challenge) = challenged(&relay, "team", "ada").await;
    assert!(
        started.elapsed() >= tabula_server::access::FIRST_DELAY * 2,
        "{:?}",
        started.elapsed()
    );
    ada.send(&answer(&challenge, "correct horse", "team", &ada))
        .await;
    assert!(matches!(ada.recv().await, ServerMessage::Welcome(_)));
    // Proving the password clears the address's failures: no wait now, where
    // two failures would still mean twice the first delay (the margin is
    // for a loaded machine).
    let started = Instant::now();
    challenged(&relay, "team", "again").await;
    assert!(started.elapsed() < tabula_server::access::FIRST_DELAY * 2);
}
