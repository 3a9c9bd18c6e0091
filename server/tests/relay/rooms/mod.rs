//! A room's own access: the password its creator gives it, invitations that
//! admit an editor or a viewer, and operators who kick, lock and make the
//! room view-only, each recorded in the room's log.

use std::time::Instant;

use tabula_server::Config;
use tabula_shared::access::{
    self, AccessKey, InviteToken, Kdf, KeyParams, Password, Role, RoomLock, Salt, Scope, Verifier,
};
use tabula_shared::replay::Replay;
use tabula_shared::{
    Challenge, ClientMessage, Credentials, ErrorCode, Moderated, Moderation, OpKind, Proofs,
    RoomAccess, SequencedOp, ServerMessage,
};

use crate::support::{TestClient, TestRelay, WAIT, peer_info, stroke_op, test_config};

mod lasting;

/// The close code of a missing or wrong password or invitation.
const PASSWORD_REFUSED: u16 = 4401;
/// The close code of a member an operator kicked out.
const REMOVED: u16 = 4410;
/// The close code of a newcomer to a locked room.
const LOCKED: u16 = 4423;

/// A room lock for `password`, cheap to derive (the relay accepts any cost
/// within `Kdf::check`), and its key.
fn quick_lock(password: &str) -> (RoomLock, AccessKey) {
    let params = KeyParams {
        salt: Salt::random().expect("the test sets this up"),
        kdf: Kdf {
            memory_kib: Kdf::MIN_MEMORY_KIB,
            iterations: 1,
            lanes: 1,
        },
    };
    let key = access::derive(
        &Password::new(password).expect("the test sets this up"),
        &params,
    )
    .expect("the test sets this up");
    (RoomLock::of(params, &key), key)
}

/// Connects to `room` as a new person and says hello with `credentials`.
async fn hello_with(
    relay: &TestRelay,
    room: &str,
    name: &str,
    credentials: Credentials,
) -> TestClient {
    let mut client = TestClient::connect(relay, room, name).await;
    client.info = peer_info(name);
    let mut hello = client.hello_message(room, 0);
    hello.credentials = Credentials {
        resume: hello.credentials.resume,
        ..credentials
    };
    client.send(&ClientMessage::Hello(hello)).await;
    client
}

/// The next message, which must be a challenge.
async fn challenge(client: &mut TestClient) -> Challenge {
    match client.recv().await {
        ServerMessage::Challenge(challenge) => challenge,
        other => panic!("{}: expected a challenge, got {other:?}", client.info.name),
    }
}

/// Answers `challenge` with a proof of the room's password (`key`, if any)
/// and of an invitation (`invite`, if any).
async fn prove(
    client: &mut TestClient,
    challenge: &Challenge,
    room: &str,
    key: Option<&AccessKey>,
    invite: Option<&InviteToken>,
) {
    let id = client.info.client;
    let proofs = Proofs {
        relay: None,
        room: key.map(|key| key.prove(Scope::Room, &challenge.nonce, room, id)),
        invite: invite.map(|token| token.key().prove(Scope::Invite, &challenge.nonce, room, id)),
    };
    client.send(&ClientMessage::Authenticate(proofs)).await;
}

/// Credentials that name an invitation.
fn with_invite(invite: Verifier) -> Credentials {
    Credentials {
        invite: Some(invite),
        ..Credentials::default()
    }
}

/// An operator's command that makes an invitation.
fn invite(token: &InviteToken, role: Role) -> Moderation {
    Moderation::Invite {
        invite: token.verifier(),
        role,
    }
}

/// Joins `room` with an invitation, answering its challenge.
async fn join_invited(
    relay: &TestRelay,
    room: &str,
    name: &str,
    token: &InviteToken,
) -> TestClient {
    let mut client = hello_with(relay, room, name, with_invite(token.verifier())).await;
    let asked = challenge(&mut client).await;
    assert!(asked.invite && asked.room.is_none() && asked.relay.is_none());
    prove(&mut client, &asked, room, None, Some(token)).await;
    client.welcome().await;
    client
}

/// Waits until `client` is told an access that `wanted` accepts, passing
/// over everything else but errors.
async fn access_until(client: &mut TestClient, wanted: impl Fn(&RoomAccess) -> bool) -> RoomAccess {
    if let Some(access) = client.access.clone().filter(&wanted) {
        return access;
    }
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(
            Instant::now() < deadline,
            "{}: no such access came",
            client.info.name
        );
        match client.recv_any().await {
            ServerMessage::Access(access) => {
                client.access = Some(access.clone());
                if wanted(&access) {
                    return access;
                }
            }
            ServerMessage::Op(op) if op.op.kind.is_presence() => client.presence.push(op),
            ServerMessage::Error { code, message }
            | ServerMessage::OpRefused { code, message, .. } => {
                panic!("{}: refused: {code:?} {message}", client.info.name)
            }
            _ => {}
        }
    }
}

/// The next error the relay sends `client`.
async fn error(client: &mut TestClient) -> (ErrorCode, String) {
    loop {
        match client.recv().await {
            ServerMessage::Error { code, message }
            | ServerMessage::OpRefused { code, message, .. } => {
                return (code, message);
            }
            ServerMessage::Presence { .. } => {}
            other => panic!("{}: expected an error, got {other:?}", client.info.name),
        }
    }
}

/// Sends `op` and waits for its ack, passing over what others do.
async fn sequenced(client: &mut TestClient, op: &tabula_shared::Op) {
    client.send(&ClientMessage::Op(op.clone())).await;
    loop {
        match client.recv().await {
            ServerMessage::Ack { op: acked, .. } if acked == op.id => return,
            ServerMessage::Error { code, message }
            | ServerMessage::OpRefused { code, message, .. } => {
                panic!("{}: refused: {code:?} {message}", client.info.name)
            }
            _ => {}
        }
    }
}

/// The next op from someone else, passing over presence.
async fn next_op(client: &mut TestClient) -> SequencedOp {
    loop {
        match client.recv().await {
            ServerMessage::Op(op) => return op,
            ServerMessage::Presence { .. } => {}
            other => panic!("{}: expected an op, got {other:?}", client.info.name),
        }
    }
}

/// An operator's command.
async fn moderate(client: &mut TestClient, command: Moderation) {
    client.send(&ClientMessage::Moderate(command)).await;
}

#[tokio::test]
async fn a_room_password_from_its_creator_admits_only_the_right_one_and_outlives_a_restart() {
    let data = tempfile::tempdir().expect("the test sets this up");
    let durable = || Config {
        data_dir: Some(data.path().to_path_buf()),
        ..test_config()
    };
    let relay = TestRelay::with_config(durable()).await;
    let (lock, key) = quick_lock("open sesame");
    let mut ada = hello_with(
        &relay,
        "vault",
        "ada",
        Credentials {
            new_room_lock: Some(lock),
            ..Credentials::default()
        },
    )
    .await;
    let asked = challenge(&mut ada).await;
    assert_eq!(
        (asked.room, asked.relay, asked.invite),
        (Some(lock.params), None, false)
    );
    prove(&mut ada, &asked, "vault", Some(&key), None).await;
    ada.welcome().await;
    assert_eq!(access_until(&mut ada, |_| true).await.role, Role::Operator);
    assert!(ada.access.as_ref().expect("the test sets this up").password);

    // Someone who names another password for the room gets the creator's.
    let (other_lock, other_key) = quick_lock("guess");
    let mut wrong = hello_with(
        &relay,
        "vault",
        "wrong",
        Credentials {
            new_room_lock: Some(other_lock),
            ..Credentials::default()
        },
    )
    .await;
    let asked = challenge(&mut wrong).await;
    assert_eq!(asked.room, Some(lock.params));
    let guessed = access::derive(
        &Password::new("guess").expect("the test sets this up"),
        &lock.params,
    )
    .expect("the test sets this up");
    prove(&mut wrong, &asked, "vault", Some(&guessed), None).await;
    assert_eq!(
        wrong.expect_close().await,
        (PASSWORD_REFUSED, "wrong password for room vault".to_owned())
    );
    drop(other_key);
    let mut missing = hello_with(&relay, "vault", "missing", Credentials::default()).await;
    let asked = challenge(&mut missing).await;
    prove(&mut missing, &asked, "vault", None, None).await;
    assert_eq!(
        missing.expect_close().await,
        (PASSWORD_REFUSED, "room vault needs a password".to_owned())
    );
    // Two failures from this address: the next challenge waits them out.
    let started = Instant::now();
    let mut bo = hello_with(&relay, "vault", "bo", Credentials::default()).await;
    let asked = challenge(&mut bo).await;
    assert!(started.elapsed() >= tabula_server::access::FIRST_DELAY * 2);
    prove(&mut bo, &asked, "vault", Some(&key), None).await;
    bo.welcome().await;
    // Nobody refused was ever in the room.
    assert_eq!(relay.relay.members("vault").len(), 2);

    // A room that exists without a password cannot be given one.
    let (_cy, _) = TestClient::join(&relay, "open", "cy").await;
    let mut late = hello_with(
        &relay,
        "open",
        "late",
        Credentials {
            new_room_lock: Some(quick_lock("x").0),
            ..Credentials::default()
        },
    )
    .await;
    let (code, reason) = late.expect_close().await;
    assert_eq!(code, PASSWORD_REFUSED);
    assert!(reason.contains("without a password"), "{reason}");
    // The relay lists (and advertises) which rooms have their own password.
    let listed = [("open".to_owned(), false), ("vault".to_owned(), true)];
    assert_eq!(with_passwords(&relay), listed);

    drop((ada, bo));
    relay.stop().await.expect("the test sets this up");
    let listed = tabula_server::admin::list_rooms(data.path()).expect("the rooms are listed");
    let vault = listed.rooms.iter().find(|(name, _)| name == "vault");
    assert!(
        vault.is_some_and(|(_, room)| room.as_ref().is_ok_and(|room| room.password)),
        "{listed}"
    );
    let relay = TestRelay::with_config(durable()).await;
    let mut again = hello_with(&relay, "vault", "again", Credentials::default()).await;
    let asked = challenge(&mut again).await;
    assert_eq!(asked.room, Some(lock.params), "the file kept the lock");
    prove(&mut again, &asked, "vault", Some(&key), None).await;
    again.welcome().await;
}

/// The open rooms of `relay`, each with whether it has a password.
fn with_passwords(relay: &TestRelay) -> Vec<(String, bool)> {
    let rooms = relay.relay.rooms().into_iter();
    rooms.map(|room| (room.name, room.password)).collect()
}

/// A room whose first member (its operator) made a viewer's and an editor's
/// invitation: the operator, and the two tokens.
async fn invited_room(relay: &TestRelay, room: &str) -> (TestClient, InviteToken, InviteToken) {
    let (mut ana, _) = TestClient::join(relay, room, "ana").await;
    assert_eq!(access_until(&mut ana, |_| true).await.role, Role::Operator);
    let (viewer, editor) = (
        InviteToken::random().expect("a token"),
        InviteToken::random().expect("a token"),
    );
    moderate(&mut ana, invite(&viewer, Role::Viewer)).await;
    moderate(&mut ana, invite(&editor, Role::Editor)).await;
    access_until(&mut ana, |access| access.invites.len() == 2).await;
    (ana, viewer, editor)
}

#[tokio::test]
async fn invitations_admit_editors_and_viewers_and_a_viewers_ops_are_refused() {
    let relay = TestRelay::start().await;
    let (mut ana, viewer, editor) = invited_room(&relay, "studio").await;
    let mut vic = join_invited(&relay, "studio", "vic", &viewer).await;
    let seen = access_until(&mut vic, |_| true).await;
    assert_eq!(seen.role, Role::Viewer);
    assert!(!seen.may_edit() && seen.invites.is_empty(), "{seen:?}");
    // The viewer sees everything live, and its own ops are refused.
    let drawn = stroke_op();
    sequenced(&mut ana, &drawn).await;
    assert_eq!(next_op(&mut vic).await.op.id, drawn.id);
    let refused = stroke_op();
    vic.send(&ClientMessage::Op(refused.clone())).await;
    let (code, message) = error(&mut vic).await;
    assert_eq!(code, ErrorCode::ViewOnly, "{message}");
    assert!(message.contains("only view"), "{message}");
    let mut ed = join_invited(&relay, "studio", "ed", &editor).await;
    assert_eq!(access_until(&mut ed, |_| true).await.role, Role::Editor);
    sequenced(&mut ed, &stroke_op()).await;
    // Nobody saw the viewer's op.
    assert_ne!(next_op(&mut ana).await.op.id, refused.id);
    // Only operators make or revoke invitations.
    moderate(
        &mut ed,
        Moderation::Revoke {
            invite: viewer.verifier(),
        },
    )
    .await;
    assert_eq!(error(&mut ed).await.0, ErrorCode::NotOperator);
    assert_eq!(relay.relay.members("studio").len(), 3);
}

#[tokio::test]
async fn a_revoked_unknown_or_forged_invitation_is_refused() {
    let relay = TestRelay::start().await;
    let (mut ana, viewer, editor) = invited_room(&relay, "studio").await;
    // A proof from another token for this invitation is refused.
    let mut forger = hello_with(&relay, "studio", "forger", with_invite(viewer.verifier())).await;
    let asked = challenge(&mut forger).await;
    prove(&mut forger, &asked, "studio", None, Some(&editor)).await;
    assert_eq!(
        forger.expect_close().await,
        (
            PASSWORD_REFUSED,
            "the invitation's proof is wrong".to_owned()
        )
    );
    revoke_and_refuse(&mut ana, &relay, viewer.verifier()).await;
    let unknown = InviteToken::random().expect("a token").verifier();
    let mut stranger = hello_with(&relay, "studio", "stranger", with_invite(unknown)).await;
    assert_eq!(
        stranger.expect_close().await,
        (
            PASSWORD_REFUSED,
            "this invitation is not valid for room studio".to_owned()
        )
    );
    // An invitation creates no room.
    let mut nowhere = hello_with(&relay, "nowhere", "n", with_invite(editor.verifier())).await;
    assert_eq!(nowhere.expect_close().await.0, PASSWORD_REFUSED);
    assert_eq!(relay.relay.members("studio").len(), 1);
}

#[tokio::test]
async fn an_invitation_admits_without_the_relays_password() {
    let relay = TestRelay::with_config(Config {
        password: Password::new("relay secret"),
        ..test_config()
    })
    .await;
    let mut ana = hello_with(&relay, "team", "ana", Credentials::default()).await;
    let asked = challenge(&mut ana).await;
    let key = access::derive(
        &Password::new("relay secret").expect("the test sets this up"),
        &asked.relay.expect("the test sets this up"),
    )
    .expect("the test sets this up");
    let proof = key.prove(Scope::Relay, &asked.nonce, "team", ana.info.client);
    ana.send(&ClientMessage::Authenticate(Proofs {
        relay: Some(proof),
        ..Proofs::default()
    }))
    .await;
    ana.welcome().await;
    let token = InviteToken::random().expect("the test sets this up");
    moderate(&mut ana, invite(&token, Role::Viewer)).await;
    access_until(&mut ana, |access| !access.invites.is_empty()).await;
    let mut vic = join_invited(&relay, "team", "vic", &token).await;
    assert_eq!(access_until(&mut vic, |_| true).await.role, Role::Viewer);
}

/// Every op of `room` from 1 to its head, as a newcomer's catch-up brings it.
async fn whole_log(relay: &TestRelay, room: &str) -> Vec<SequencedOp> {
    let (mut reader, welcome) = TestClient::join(relay, room, "reader").await;
    let mut ops = Vec::new();
    while ops.len() < usize::try_from(welcome.head).expect("the test sets this up") {
        match reader.recv_any().await {
            ServerMessage::Op(op) => ops.push(op),
            ServerMessage::Peers { .. } | ServerMessage::Access(_) => {}
            other => panic!("expected the catch-up, got {other:?}"),
        }
    }
    ops
}

#[tokio::test]
async fn operators_kick_lock_and_make_the_room_view_only_and_the_log_shows_it() {
    let relay = TestRelay::start().await;
    let (mut ana, _) = TestClient::join(&relay, "class", "ana").await;
    let (mut bo, _) = TestClient::join(&relay, "class", "bo").await;
    let (mut cy, _) = TestClient::join(&relay, "class", "cy").await;
    assert_eq!(access_until(&mut bo, |_| true).await.role, Role::Editor);

    // A member who is not an operator is refused every command.
    for command in [
        Moderation::Kick {
            client: ana.info.client,
        },
        Moderation::SetLocked(true),
        Moderation::SetViewOnly(true),
        Moderation::SetRole {
            client: cy.info.client,
            role: Role::Operator,
        },
    ] {
        moderate(&mut cy, command).await;
        let (code, message) = error(&mut cy).await;
        assert_eq!(code, ErrorCode::NotOperator, "{message}");
    }

    moderate(
        &mut ana,
        Moderation::SetRole {
            client: bo.info.client,
            role: Role::Operator,
        },
    )
    .await;
    access_until(&mut bo, |access| access.role == Role::Operator).await;
    let operators = access_until(&mut cy, |access| access.operators.len() == 2).await;
    assert!(operators.operators.contains(&bo.info.client));

    // Bo kicks Cy: cut off at once, and never back while the room is open.
    moderate(
        &mut bo,
        Moderation::Kick {
            client: cy.info.client,
        },
    )
    .await;
    let (code, reason) = cy.expect_close().await;
    assert_eq!(code, REMOVED, "{reason}");
    let cy_info = cy.info.clone();
    let mut back = TestClient::connect(&relay, "class", "cy").await;
    back.info = cy_info.clone();
    let hello = back.hello_message("class", 0);
    back.send(&ClientMessage::Hello(hello)).await;
    let (code, reason) = back.expect_close().await;
    assert_eq!(code, REMOVED, "{reason}");
    assert!(reason.contains("removed"), "{reason}");

    log_shows(&relay, &mut ana, &mut bo, cy_info.client).await;
}

/// Continues the room of the test above: locks it, makes it view-only and
/// opens it again, then checks the log records all of it.
async fn log_shows(
    relay: &TestRelay,
    ana: &mut TestClient,
    bo: &mut TestClient,
    kicked: tabula_shared::ClientId,
) {
    let (mut ed, _) = TestClient::join(relay, "class", "ed").await;
    // Locked: a newcomer is turned away, someone the room knows is not.
    ed.ws.close(None).await.expect("the test sets this up");
    moderate(ana, Moderation::SetLocked(true)).await;
    access_until(ana, |access| access.locked).await;
    let mut newcomer = TestClient::connect(relay, "class", "dee").await;
    let hello = newcomer.hello_message("class", 0);
    newcomer.send(&ClientMessage::Hello(hello)).await;
    let (code, reason) = newcomer.expect_close().await;
    assert_eq!(code, LOCKED, "{reason}");
    assert!(reason.contains("locked"), "{reason}");
    let (mut ed, _) = TestClient::rejoin(relay, "class", &ed.info, 0, None).await;

    // View-only: editors' ops are refused, operators' go through.
    moderate(ana, Moderation::SetViewOnly(true)).await;
    access_until(&mut ed, |access| access.view_only && !access.may_edit()).await;
    ed.send(&ClientMessage::Op(stroke_op())).await;
    let (code, message) = error(&mut ed).await;
    assert_eq!(code, ErrorCode::ViewOnly);
    assert!(message.contains("view-only"), "{message}");
    sequenced(bo, &stroke_op()).await;
    moderate(ana, Moderation::SetViewOnly(false)).await;
    moderate(ana, Moderation::SetLocked(false)).await;
    access_until(&mut ed, |access| !access.locked && access.may_edit()).await;
    sequenced(&mut ed, &stroke_op()).await;

    // The log records each of them, by the operator who did it, and a
    // replay lists them in order.
    let log = whole_log(relay, "class").await;
    let replayed = Replay::from_ops(log.clone()).expect("the test sets this up");
    let done: Vec<_> = replayed
        .moderation()
        .map(|(op, what)| (op.author, what.clone()))
        .collect();
    let (a, b) = (ana.info.client, bo.info.client);
    assert_eq!(
        done,
        vec![
            (
                a,
                Moderated::Role {
                    client: b,
                    role: Role::Operator
                }
            ),
            (b, Moderated::Kicked { client: kicked }),
            (a, Moderated::Locked(true)),
            (a, Moderated::ViewOnly(true)),
            (a, Moderated::ViewOnly(false)),
            (a, Moderated::Locked(false)),
        ]
    );
    // The kick comes before the kicked member's leave.
    let kick = log
        .iter()
        .position(|op| matches!(op.op.kind, OpKind::Moderated(Moderated::Kicked { .. })))
        .expect("the kick is in the log");
    assert!(
        log[kick..]
            .iter()
            .any(|op| op.author == kicked && op.op.kind == OpKind::Left)
    );
}

#[tokio::test]
async fn the_last_operator_cannot_step_down_nor_kick_itself() {
    let relay = TestRelay::start().await;
    let (mut ana, _) = TestClient::join(&relay, "solo", "ana").await;
    access_until(&mut ana, |access| access.role == Role::Operator).await;
    let own = ana.info.client;
    moderate(
        &mut ana,
        Moderation::SetRole {
            client: own,
            role: Role::Editor,
        },
    )
    .await;
    assert_eq!(error(&mut ana).await.0, ErrorCode::InvalidRequest);
    moderate(&mut ana, Moderation::Kick { client: own }).await;
    assert_eq!(error(&mut ana).await.0, ErrorCode::InvalidRequest);
    // A client sending a record of its own is refused like a join.
    ana.send(&ClientMessage::Op(tabula_shared::Op::new(
        OpKind::Moderated(Moderated::Locked(true)),
    )))
    .await;
    assert_eq!(error(&mut ana).await.0, ErrorCode::InvalidOp);
}

#[tokio::test]
async fn a_client_id_the_relay_names_runs_every_room_it_enters() {
    let host = peer_info("host");
    let relay = TestRelay::with_config(Config {
        operators: vec![host.client],
        ..test_config()
    })
    .await;
    // Someone comes in first, and runs the room until the host comes.
    let (mut early, _) = TestClient::join(&relay, "hosted", "early").await;
    access_until(&mut early, |access| access.role == Role::Operator).await;
    let mut own = TestClient::connect(&relay, "hosted", "host").await;
    own.info = host;
    own.hello("hosted", 0).await;
    let access = access_until(&mut own, |_| true).await;
    assert_eq!(access.role, Role::Operator);
    // So the host can take the room back from whoever came first.
    let early_id = early.info.client;
    moderate(
        &mut own,
        Moderation::SetRole {
            client: early_id,
            role: Role::Editor,
        },
    )
    .await;
    access_until(&mut early, |access| access.role == Role::Editor).await;
}

#[tokio::test]
async fn in_a_cluster_an_invitation_made_on_one_node_admits_and_is_revoked_on_another() {
    let redis = crate::redis_server::TestRedis::start();
    let on = |redis: &crate::redis_server::TestRedis| Config {
        redis: Some(redis.url()),
        ..test_config()
    };
    let (a, b) = (
        TestRelay::with_config(on(&redis)).await,
        TestRelay::with_config(on(&redis)).await,
    );
    let (mut ana, viewer, _) = invited_room(&a, "studio").await;
    let mut vic = join_invited(&b, "studio", "vic", &viewer).await;
    assert_eq!(access_until(&mut vic, |_| true).await.role, Role::Viewer);
    revoke_and_refuse(&mut ana, &b, viewer.verifier()).await;
}

/// `operator` revokes `invite` in room "studio", and a newcomer on `relay`
/// with it is refused, saying so.
async fn revoke_and_refuse(operator: &mut TestClient, relay: &TestRelay, invite: Verifier) {
    moderate(operator, Moderation::Revoke { invite }).await;
    access_until(operator, |access| access.invites.iter().any(|i| i.revoked)).await;
    let mut late = hello_with(relay, "studio", "late", with_invite(invite)).await;
    assert_eq!(
        late.expect_close().await,
        (
            PASSWORD_REFUSED,
            "this invitation to room studio was revoked".to_owned()
        )
    );
}
