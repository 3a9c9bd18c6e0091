//! The generator against a relay whose room admits by invitation: a run
//! with an invitation's token (from the URL's `#invite=`, or `--token`)
//! gets in as the app does with the link, without the relay's password;
//! without it the run stops saying why.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use tabula_server::Config;
use tabula_shared::access::{self, InviteToken, Password, Role, Scope, with_invite};
use tabula_shared::{
    ClientMessage, Credentials, Hello, Moderation, PROTOCOL_VERSION, Proofs, ServerMessage, decode,
    encode,
};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;

use crate::load::{LoadPlan, Mode, run};
use crate::target::{Target, Trust};
use crate::test_relay;

/// A relay with a password, in process, and the operator of its room
/// `smoke`, who made `token` an editor's invitation; returns what stops
/// the relay and the operator's socket (kept open so the room stays).
async fn invited_room(
    token: &InviteToken,
) -> (std::net::SocketAddr, oneshot::Sender<()>, impl Sized) {
    let (addr, stop, _) = test_relay::spawn(Config {
        password: Password::new("relay secret"),
        ..Config::default()
    })
    .await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/smoke"))
        .await
        .unwrap();
    let client = tabula_shared::ClientId::random();
    let hello = Hello {
        protocol: PROTOCOL_VERSION,
        room: "smoke".to_owned(),
        name: "operator".to_owned(),
        color: tabula_shared::Color::rgb(0, 0, 0),
        client,
        last_seen: 0,
        last_op: None,
        credentials: Credentials::default(),
    };
    let send = |message: &ClientMessage| Message::Binary(encode(message).unwrap().into());
    ws.send(send(&ClientMessage::Hello(hello))).await.unwrap();
    let mut invited = false;
    while let Some(Ok(frame)) = ws.next().await {
        let Message::Binary(frame) = frame else {
            continue;
        };
        match decode::<ServerMessage>(&frame).unwrap() {
            ServerMessage::Challenge(challenge) => {
                let key = access::derive(
                    &Password::new("relay secret").unwrap(),
                    &challenge.relay.unwrap(),
                )
                .unwrap();
                let proofs = Proofs {
                    relay: Some(key.prove(Scope::Relay, &challenge.nonce, "smoke", client)),
                    ..Proofs::default()
                };
                ws.send(send(&ClientMessage::Authenticate(proofs)))
                    .await
                    .unwrap();
            }
            ServerMessage::Access(room) if room.role == Role::Operator && !invited => {
                let invite = Moderation::Invite {
                    invite: token.verifier(),
                    role: Role::Editor,
                };
                ws.send(send(&ClientMessage::Moderate(invite)))
                    .await
                    .unwrap();
                invited = true;
            }
            ServerMessage::Access(room) if !room.invites.is_empty() => break,
            _ => {}
        }
    }
    (addr, stop, ws)
}

/// A short run of two peers to `url`.
fn plan(url: &str) -> LoadPlan {
    LoadPlan {
        target: Target::parse(url, 1, Trust::default()).unwrap(),
        mode: Mode::Tabula,
        peers: 2,
        rate_hz: 50.0,
        size: 100,
        duration: Duration::from_millis(500),
        slow: 0,
        drain: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(10),
        relay_pid: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_comes_with_the_invitation_a_link_carries_or_token_names() {
    let token = InviteToken::random().unwrap();
    let (addr, stop, _operator) = invited_room(&token).await;
    let base = format!("ws://{addr}/smoke");
    let report = run(&plan(&with_invite(&base, &token))).await;
    assert_eq!(report.error, None);
    assert!(report.delivered > 0);

    let mut flagged = plan(&base);
    flagged.target.set_invite(token).unwrap();
    let report = run(&flagged).await;
    assert_eq!(report.error, None);

    let refused = run(&plan(&base)).await;
    let error = refused
        .error
        .expect("refused without the password or token");
    assert!(error.contains("needs a password"), "{error}");
    let stranger = InviteToken::random().unwrap();
    let refused = run(&plan(&with_invite(&base, &stranger))).await;
    let error = refused.error.expect("refused with another token");
    assert!(error.contains("not valid"), "{error}");
    stop.send(()).unwrap();
}
