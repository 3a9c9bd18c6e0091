//! Presence: who is here, where their pointer is, who left.

use std::time::Duration;

use tabula_shared::{ClientMessage, Point, ServerMessage};

use crate::support::{TestClient, TestRelay};

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

    // Cursors are not history.
    let (mut c, welcome) = TestClient::join(&relay, "presence", "c").await;
    assert_eq!((welcome.head, welcome.peers), (0, vec![a.info.clone()]));
    c.expect_nothing(Duration::from_millis(100)).await;
    assert_eq!(a.recv().await, ServerMessage::PeerJoined(c.info.clone()));
}
