//! Peers that stop answering or stop reading are dropped; the room never waits.

use std::time::Duration;

use tabula_server::Config;
use tabula_shared::{ClientMessage, OpKind, ServerMessage};
use tokio::net::TcpSocket;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TestClient, TestRelay, WAIT, big_op, stroke_op, test_config};
use futures_util::StreamExt;

/// How long a peer may stay silent in the heartbeat test: short, so the test
/// is quick, yet long enough that the peer which keeps reading always answers
/// a ping in time, however loaded the machine.
const SILENCE: Duration = Duration::from_secs(3);

#[tokio::test]
async fn a_silent_peer_is_dropped_by_the_heartbeat() {
    let relay = TestRelay::with_config(Config {
        heartbeat_interval: Duration::from_millis(100),
        heartbeat_timeout: SILENCE,
        ..test_config()
    })
    .await;
    let (mut a, _) = TestClient::join(&relay, "heartbeat", "a").await;
    // The relay last hears from the silent peer after this: no sooner than
    // SILENCE from here may it drop it.
    let connecting = Instant::now();
    // The silent peer says hello, then is never polled again: it neither reads
    // nor answers pings.
    let (silent, _) = TestClient::join(&relay, "heartbeat", "silent").await;
    a.expect_joined(&silent.info).await;

    // a keeps reading, so it answers pings and stays.
    a.expect_left(silent.info.client).await;
    let after = connecting.elapsed();
    assert!(after >= SILENCE, "dropped after only {after:?}");
    // After the two joins and silent's leave.
    assert_eq!(a.sequence(&stroke_op()).await, 4);
    drop(silent);
}

/// The longest one ack may take while a peer of the room stops reading. A room
/// that waited for the slow peer would wait for its write timeout (10 min);
/// one that does not acks in milliseconds, and in seconds on a loaded machine.
const ACK_LIMIT: Duration = WAIT;

/// The longest the whole flood may take until the slow peer is cut off.
const CUT_OFF_LIMIT: Duration = Duration::from_mins(3);

#[tokio::test]
async fn a_peer_that_stops_reading_is_cut_off_and_the_room_is_not_stalled() {
    let relay = TestRelay::with_config(Config {
        peer_queue_frames: 8,
        // Neither of these may be what cuts the slow peer off: a room that
        // waited on it would wait this long, far beyond ACK_LIMIT.
        heartbeat_timeout: Duration::from_mins(10),
        write_timeout: Duration::from_mins(10),
        ..test_config()
    })
    .await;
    let (mut flood, _) = TestClient::join(&relay, "flood", "flood").await;

    // The slow peer's socket has a tiny receive buffer, so the relay's writes to
    // it block soon and its queue fills.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(relay.addr).await.unwrap();
    let (ws, _) =
        tokio_tungstenite::client_async(relay.url("flood"), MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
    let mut slow = TestClient::from_ws(ws, "slow");
    slow.hello("flood", 0).await;
    flood.expect_joined(&slow.info).await;

    let started = Instant::now();
    let mut cut_off = false;
    let mut sent = 0;
    while !cut_off {
        assert!(sent < 3000, "the slow peer was never cut off");
        // About 32 KiB per op.
        let op = big_op(4096);
        let sent_at = Instant::now();
        flood.send(&ClientMessage::Op(op.clone())).await;
        sent += 1;
        match flood.recv().await {
            ServerMessage::Ack { op: acked, seq, .. } if acked == op.id => {
                // After the two joins, and slow's leave once it was cut off
                // (recorded right after the op that overflowed its queue,
                // before the next op).
                let leaves = flood
                    .presence
                    .iter()
                    .filter(|o| o.op.kind == OpKind::Left)
                    .count() as u64;
                assert_eq!(seq, sent + 2 + leaves);
            }
            other => panic!("unexpected {other:?}"),
        }
        // The news that it left comes with the next tick.
        cut_off = !flood.peers.contains_key(&slow.info.client);
        let waited = sent_at.elapsed();
        assert!(waited < ACK_LIMIT, "an ack took {waited:?}");
    }
    let took = started.elapsed();
    assert!(
        took < CUT_OFF_LIMIT,
        "cutting the slow peer off took {took:?}"
    );

    // The slow peer finds its stream ends: with the overflow close frame if it
    // made it out, or just the end of the buffered frames.
    let ended = timeout(WAIT, async {
        loop {
            match slow.ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .expect("the slow peer's connection was not closed");
    if let Some(frame) = ended {
        assert_eq!(u16::from(frame.code), 1008);
        assert_eq!(
            frame.reason.as_str(),
            "outgoing queue overflow: this peer reads too slowly"
        );
    }
    // The room is fine: after the two joins, the ops and slow's leave.
    assert_eq!(flood.sequence(&stroke_op()).await, sent + 4);
}
