//! Presence: who is here, where their pointer is, who left, and the record of
//! joins and leaves in the room's history.

use std::time::Duration;

use tabula_shared::{ClientMessage, ErrorCode, Op, OpKind, Point, ServerMessage};

use crate::support::{TestClient, TestRelay, stroke_op};

#[tokio::test]
async fn joins_cursors_and_leaves_are_relayed() {
    let relay = TestRelay::start().await;
    let (mut a, welcome) = TestClient::join(&relay, "presence", "a").await;
    assert!(welcome.peers.is_empty());

    let (mut b, welcome) = TestClient::join(&relay, "presence", "b").await;
    assert_eq!(welcome.peers, vec![a.info.clone()]);
    assert_eq!(a.recv().await, ServerMessage::PeerJoined(b.info.clone()));

    let here = Some(Point::new(10.5, -3.0));
    a.send(&ClientMessage::Cursor(here)).await;
    assert_eq!(
        b.recv().await,
        ServerMessage::Cursor {
            client: a.info.client,
            position: here
        }
    );
    b.send(&ClientMessage::Cursor(None)).await;
    // The first thing a hears is b's cursor: its own never comes back.
    assert_eq!(
        a.recv().await,
        ServerMessage::Cursor {
            client: b.info.client,
            position: None
        }
    );

    b.ws.close(None).await.unwrap();
    assert_eq!(
        a.recv().await,
        ServerMessage::PeerLeft {
            client: b.info.client
        }
    );

    // Cursors are not history; joins and leaves are, with who came and went.
    let (mut c, welcome) = TestClient::join(&relay, "presence", "c").await;
    assert_eq!((welcome.head, welcome.peers), (3, vec![a.info.clone()]));
    c.expect_nothing(Duration::from_millis(100)).await;
    assert_eq!(a.recv().await, ServerMessage::PeerJoined(c.info.clone()));
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
        let ServerMessage::Error { code, message } = a.recv().await else {
            panic!("expected a refusal");
        };
        assert_eq!(code, ErrorCode::InvalidOp);
        assert!(message.contains("only the relay"), "{message}");
    }
    // Nothing was sequenced, and the connection stays.
    assert_eq!(a.sequence(&stroke_op()).await, 2);
}
