//! Presence: who is here, where their pointer is, who left, and the record of
//! joins and leaves in the room's history.

use std::time::Duration;

use tabula_shared::{ClientMessage, ErrorCode, Op, OpKind, Point, Presence, ServerMessage};

use crate::support::{TestClient, TestRelay, stroke_op};

#[tokio::test]
async fn joins_cursors_and_leaves_are_relayed() {
    let relay = TestRelay::start().await;
    let (mut a, welcome) = TestClient::join(&relay, "presence", "a").await;
    assert!(welcome.peers.is_empty());

    let (mut b, welcome) = TestClient::join(&relay, "presence", "b").await;
    assert_eq!(welcome.peers, vec![a.info.clone()]);
    a.expect_joined(&b.info).await;

    let here = Some(Point::new(10.5, -3.0));
    a.send(&ClientMessage::Cursor(here)).await;
    let pointing = |cursor| Presence {
        cursor,
        ..Presence::default()
    };
    assert_eq!(
        b.recv().await,
        ServerMessage::Presence {
            client: a.info.client,
            presence: pointing(here)
        }
    );
    b.send(&ClientMessage::Cursor(None)).await;
    // The first thing a hears is b's cursor: its own never comes back.
    assert_eq!(
        a.recv().await,
        ServerMessage::Presence {
            client: b.info.client,
            presence: pointing(None)
        }
    );

    b.ws.close(None).await.unwrap();
    a.expect_left(b.info.client).await;
    assert!(a.peers.is_empty());

    // Cursors are not history; joins and leaves are, with who came and went.
    // A newcomer is shown where everyone's pointer is.
    let (mut c, welcome) = TestClient::join(&relay, "presence", "c").await;
    assert_eq!((welcome.head, welcome.peers), (3, vec![a.info.clone()]));
    assert_eq!(
        c.recv().await,
        ServerMessage::Presence {
            client: a.info.client,
            presence: pointing(here)
        }
    );
    c.expect_nothing(Duration::from_millis(100)).await;
    a.expect_joined(&c.info).await;
    let joined = |who: &TestClient| OpKind::Joined {
        name: who.info.name.clone(),
        color: who.info.color,
    };
    let history: Vec<_> = c
        .presence
        .iter()
        .map(|op| (op.seq, op.author, op.op.kind.clone()))
        .collect();
    assert_eq!(
        history,
        vec![
            (1, a.info.client, joined(&a)),
            (2, b.info.client, joined(&b)),
            (3, b.info.client, OpKind::Left),
            (4, c.info.client, joined(&c)),
        ]
    );
    a.expect_nothing(Duration::from_millis(100)).await;
    assert_eq!(a.presence.len(), 4, "a got each as it happened");
}

#[tokio::test]
async fn a_client_cannot_record_joins_or_leaves() {
    let relay = TestRelay::start().await;
    let (mut a, _) = TestClient::join(&relay, "forged", "a").await;
    let forged = [
        OpKind::Joined {
            name: "nobody".to_owned(),
            color: a.info.color,
        },
        OpKind::Left,
    ];
    for kind in forged {
        a.send(&ClientMessage::Op(Op::new(kind))).await;
        let ServerMessage::OpRefused { code, message, .. } = a.recv().await else {
            panic!("expected a refusal");
        };
        assert_eq!(code, ErrorCode::InvalidOp);
        assert!(message.contains("only the relay"), "{message}");
    }
    // Nothing was sequenced, and the connection stays.
    assert_eq!(a.sequence(&stroke_op()).await, 2);
}

#[tokio::test]
async fn a_laser_view_and_drag_reach_peers_coalesced_and_a_newcomer_sees_who_presents() {
    use tabula_shared::Rect;
    use tabula_shared::presence::{Change, Preview};

    let relay = TestRelay::start().await;
    let (mut ada, _) = TestClient::join(&relay, "talk", "ada").await;
    let (mut bo, _) = TestClient::join(&relay, "talk", "bo").await;
    ada.expect_joined(&bo.info).await;

    // Ada presents: her view, a drag in progress, and a laser stroke sent
    // faster than the relay passes updates on (30 a second): bo gets fewer
    // updates, but every laser point, in order, and her latest state.
    let view = Rect::from_corners(Point::new(-100.0, -50.0), Point::new(700.0, 450.0));
    let dragged = tabula_shared::ObjectId::random();
    let at = |i: usize| Point::new(i as f32, 2.0 * i as f32);
    let strokes = 40;
    for i in 0..strokes {
        ada.send(&ClientMessage::Presence(Presence {
            cursor: Some(at(i)),
            view: Some(view),
            laser: vec![at(i)],
            preview: Some(Preview {
                change: Change::Move {
                    objects: vec![dragged],
                    by: Point::new(i as f32, 0.0),
                },
                landing: None,
            }),
            presenting: true,
        }))
        .await;
    }
    let mut updates = 0;
    let mut laser = Vec::new();
    let mut latest = None;
    while laser.len() < strokes {
        match bo.recv().await {
            ServerMessage::Presence { client, presence } => {
                assert_eq!(client, ada.info.client);
                updates += 1;
                laser.extend(presence.laser.iter().copied());
                latest = Some(presence);
            }
            other => panic!("bo got {other:?}"),
        }
    }
    assert_eq!(laser, (0..strokes).map(at).collect::<Vec<_>>());
    assert!(updates < strokes, "{updates} updates for {strokes} sent");
    let latest = latest.expect("at least one update");
    assert_eq!(
        (latest.cursor, latest.view, latest.presenting),
        (Some(at(strokes - 1)), Some(view), true)
    );
    assert_eq!(
        latest.preview.map(|p| p.change),
        Some(Change::Move {
            objects: vec![dragged],
            by: Point::new((strokes - 1) as f32, 0.0)
        })
    );

    // Someone who arrives now is shown where ada looks and that she
    // presents, without the trail that has faded.
    let (mut cy, _) = TestClient::join(&relay, "talk", "cy").await;
    let shown = loop {
        match cy.recv().await {
            ServerMessage::Presence { client, presence } if client == ada.info.client => {
                break presence;
            }
            ServerMessage::Presence { .. } => {}
            other => panic!("cy got {other:?}"),
        }
    };
    assert_eq!((shown.view, shown.presenting), (Some(view), true));
    assert!(shown.laser.is_empty());

    // A presence beyond the caps is dropped, and the sender stays.
    ada.send(&ClientMessage::Presence(Presence {
        laser: vec![Point::new(1.0, 1.0); tabula_shared::presence::MAX_LASER_POINTS + 1],
        ..Presence::default()
    }))
    .await;
    bo.expect_nothing(Duration::from_millis(300)).await;
    assert_eq!(
        ada.sequence(&stroke_op()).await,
        4,
        "three joins, then this"
    );
}
