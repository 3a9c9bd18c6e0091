//! What operators did outlives the room's opening and holds on every node:
//! roles, kicks, the lock and view-only are what the room's log records,
//! rebuilt when a relay reopens the room from its data folder (from the
//! snapshotter's checkpoint, and from the first op) and taken in by each node
//! of a cluster as the records arrive from Redis.

use tabula_server::Config;
use tabula_shared::access::Role;
use tabula_shared::{ClientMessage, ErrorCode, Moderation, PeerInfo};

use super::{
    LOCKED, REMOVED, access_until, error, invited_room, join_invited, moderate, sequenced,
};
use crate::redis_server::TestRedis;
use crate::support::{TestClient, TestRelay, stroke_op, test_config};

/// The close code for a hello naming someone else's id without its secret.
const IDENTITY_REFUSED: u16 = 4403;

/// A hello from `info` to `room` on `relay`, which must be refused with
/// `code`; the reason it gives.
async fn refused(relay: &TestRelay, room: &str, info: &PeerInfo, code: u16) -> String {
    let mut client = TestClient::connect(relay, room, &info.name).await;
    client.info = info.clone();
    let hello = client.hello_message(room, 0);
    client.send(&ClientMessage::Hello(hello)).await;
    let (closed, reason) = client.expect_close().await;
    assert_eq!(closed, code, "{}: {reason}", info.name);
    reason
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_id_is_theirs_alone_after_a_restart() {
    let data = tempfile::tempdir().expect("a temporary folder");
    let durable = || Config {
        data_dir: Some(data.path().to_path_buf()),
        ..test_config()
    };
    let relay = TestRelay::with_config(durable()).await;
    let (mut ana, _) = TestClient::join(&relay, "club", "ana").await;
    assert_eq!(access_until(&mut ana, |_| true).await.role, Role::Operator);
    let ana_info = ana.info.clone();
    drop(ana);
    relay.stop().await.expect("the relay stops");

    // After a restart, someone who knows Ana's id (every member sees it)
    // but not her secret is refused: the log would make them the operator.
    let relay = TestRelay::with_config(durable()).await;
    let mut eve = TestClient::connect(&relay, "club", "eve").await;
    eve.info = ana_info.clone();
    let mut hello = eve.hello_message("club", 0);
    hello.credentials.resume = None;
    eve.send(&ClientMessage::Hello(hello)).await;
    let (code, reason) = eve.expect_close().await;
    assert_eq!(code, IDENTITY_REFUSED, "{reason}");
    assert!(reason.contains("operators"), "{reason}");
    // Ana, with her secret, runs the room as before.
    let (mut ana, _) = TestClient::rejoin(&relay, "club", &ana_info, 0, None).await;
    assert_eq!(access_until(&mut ana, |_| true).await.role, Role::Operator);
}

/// `client`'s next op is refused as one it may not make; the sentence.
async fn refused_op(client: &mut TestClient) -> String {
    client.send(&ClientMessage::Op(stroke_op())).await;
    let (code, message) = error(client).await;
    assert_eq!(code, ErrorCode::ViewOnly, "{message}");
    message
}

/// Runs room "class" with its first member (ana, the operator) on `home`
/// and everyone else on `away` (the same relay, or another node): bo is made
/// a viewer, cy kicked out (cut off on `away`), vic enters with a viewer's
/// link, ed stays an editor; then the room is made view-only and locked,
/// which `away` enforces. Returns ana, bo, ed and vic, and cy.
async fn run_a_room(home: &TestRelay, away: &TestRelay) -> ([PeerInfo; 4], PeerInfo) {
    let (mut ana, viewer, _) = invited_room(home, "class").await;
    // Ana's entry is in the log before anyone comes in on another node
    // (else that node would let its first member run the room too).
    ana.own_join().await;
    let (mut bo, _) = TestClient::join(away, "class", "bo").await;
    let (mut cy, _) = TestClient::join(away, "class", "cy").await;
    let (mut ed, _) = TestClient::join(away, "class", "ed").await;
    let mut vic = join_invited(away, "class", "vic", &viewer).await;
    assert_eq!(access_until(&mut vic, |_| true).await.role, Role::Viewer);
    for client in [&mut bo, &mut ed] {
        let access = access_until(client, |_| true).await;
        assert_eq!(access.role, Role::Editor, "{access:?}");
        sequenced(client, &stroke_op()).await;
    }
    moderate(
        &mut ana,
        Moderation::SetRole {
            client: bo.info.client,
            role: Role::Viewer,
        },
    )
    .await;
    access_until(&mut bo, |access| access.role == Role::Viewer).await;
    // A demoted editor is refused ops wherever it is.
    assert!(refused_op(&mut bo).await.contains("only view"));
    moderate(
        &mut ana,
        Moderation::Kick {
            client: cy.info.client,
        },
    )
    .await;
    let (code, reason) = cy.expect_close().await;
    assert_eq!(code, REMOVED, "{reason}");
    assert!(
        refused(away, "class", &cy.info, REMOVED)
            .await
            .contains("removed")
    );
    moderate(&mut ana, Moderation::SetViewOnly(true)).await;
    moderate(&mut ana, Moderation::SetLocked(true)).await;
    access_until(&mut ed, |access| access.locked && access.view_only).await;
    assert!(refused_op(&mut ed).await.contains("view-only"));
    let newcomer = crate::support::peer_info("dee");
    assert!(
        refused(away, "class", &newcomer, LOCKED)
            .await
            .contains("locked")
    );
    (
        [ana, bo, ed, vic].map(|client| client.info.clone()),
        cy.info.clone(),
    )
}

/// Checks that room "class" on `relay` is run as [`run_a_room`] left it,
/// everyone coming back after their relay lost the room (or to a node that
/// had never opened it).
async fn still_run_alike(relay: &TestRelay, [ana, bo, ed, vic]: &[PeerInfo; 4], cy: &PeerInfo) {
    // The first member back who may edit is no operator: the room has one.
    let (mut ed, _) = TestClient::rejoin(relay, "class", ed, 0, None).await;
    let access = access_until(&mut ed, |_| true).await;
    assert_eq!(access.role, Role::Editor, "{access:?}");
    assert!(access.locked && access.view_only, "{access:?}");
    assert_eq!(access.operators, vec![ana.client]);
    assert!(refused_op(&mut ed).await.contains("view-only"));
    // The viewers stay viewers, whatever they come back with.
    for viewer in [bo, vic] {
        let (mut back, _) = TestClient::rejoin(relay, "class", viewer, 0, None).await;
        assert_eq!(access_until(&mut back, |_| true).await.role, Role::Viewer);
        assert!(refused_op(&mut back).await.contains("only view"));
    }
    // The kicked member and a newcomer stay out.
    assert!(
        refused(relay, "class", cy, REMOVED)
            .await
            .contains("removed")
    );
    let newcomer = crate::support::peer_info("dee");
    assert!(
        refused(relay, "class", &newcomer, LOCKED)
            .await
            .contains("locked")
    );
    // The operator runs the room again.
    let (mut ana, _) = TestClient::rejoin(relay, "class", ana, 0, None).await;
    assert_eq!(access_until(&mut ana, |_| true).await.role, Role::Operator);
    sequenced(&mut ana, &stroke_op()).await;
    moderate(&mut ana, Moderation::SetViewOnly(false)).await;
    access_until(&mut ed, tabula_shared::RoomAccess::may_edit).await;
    sequenced(&mut ed, &stroke_op()).await;
}

#[tokio::test]
async fn roles_kicks_the_lock_and_view_only_outlive_a_restart_from_the_log() {
    // Once from the first op, once from the snapshotter's checkpoint (a
    // snapshot every 4 ops) and the ops after it.
    for snapshot_every in [10_000, 4] {
        let data = tempfile::tempdir().expect("the test sets this up");
        let durable = || Config {
            data_dir: Some(data.path().to_path_buf()),
            snapshot_every,
            ..test_config()
        };
        let relay = TestRelay::with_config(durable()).await;
        let (everyone, cy) = run_a_room(&relay, &relay).await;
        relay.stop().await.expect("the test sets this up");
        let relay = TestRelay::with_config(durable()).await;
        still_run_alike(&relay, &everyone, &cy).await;
    }
}

#[tokio::test]
async fn in_a_cluster_what_an_operator_does_on_one_node_holds_on_the_others() {
    let redis = TestRedis::start();
    let node = || {
        TestRelay::with_config(Config {
            redis: Some(redis.url()),
            snapshot_every: 4,
            ..test_config()
        })
    };
    let (a, b) = (node().await, node().await);
    // Everything checked on b as it happens there.
    let (everyone, cy) = run_a_room(&a, &b).await;
    // A node that never had the room open reads it all from Redis.
    let c = node().await;
    still_run_alike(&c, &everyone, &cy).await;
}
