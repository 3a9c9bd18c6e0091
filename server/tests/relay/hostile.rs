//! Hostile clients: each of the relay's limits met on purpose, and the honest
//! clients beside them, who must never notice. Clients that need an address
//! of their own bind one of 127.0.0.0/8 before connecting.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tabula_server::Config;
use tabula_shared::{ClientMessage, Point, ServerMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::child::ChildRelay;
use crate::support::{TestClient, TestRelay, WAIT, big_op, stroke_op, test_config};

/// A loopback address of its own for one client: 127.0.0.`n`.
fn address(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// Opens a TCP connection to `to` from `from` (any port).
async fn connect_from(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(to).await
}

/// The WebSocket handshake from `from` to `room`: the client, or the HTTP
/// status and body the relay answered with instead.
async fn handshake_from(
    relay_addr: SocketAddr,
    from: IpAddr,
    room: &str,
    name: &str,
) -> Result<TestClient, (u16, String)> {
    let stream = timeout(WAIT, connect_from(from, relay_addr))
        .await
        .expect("connect timed out")
        .expect("could not connect");
    let url = format!("ws://{relay_addr}/{room}");
    match timeout(
        WAIT,
        tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream)),
    )
    .await
    .expect("handshake timed out")
    {
        Ok((ws, _)) => Ok(TestClient::from_ws(ws, name)),
        Err(WsError::Http(response)) => Err((
            response.status().as_u16(),
            String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned(),
        )),
        Err(err) => panic!("the handshake failed: {err}"),
    }
}

/// Joins `room` from `from`, says hello and returns the client.
async fn join_from(relay: &TestRelay, from: IpAddr, room: &str, name: &str) -> TestClient {
    let mut client = handshake_from(relay.addr, from, room, name)
        .await
        .unwrap_or_else(|(status, body)| panic!("{name}: HTTP {status}: {body}"));
    client.hello(room, 0).await;
    client
}

/// Says hello to `room` and expects the relay to close instead of welcoming.
async fn refused_hello(client: &mut TestClient, room: &str) -> (u16, String) {
    let hello = client.hello_message(room, 0);
    client.send(&ClientMessage::Hello(hello)).await;
    client.expect_close().await
}

/// Sends `op` and waits for its ack, passing over presence, cursors and the
/// acks of earlier ops.
async fn draw(client: &mut TestClient, op: &tabula_shared::Op) {
    client.send(&ClientMessage::Op(op.clone())).await;
    loop {
        match client.recv().await {
            ServerMessage::Ack { op: acked, .. } if acked == op.id => return,
            ServerMessage::Presence { .. } | ServerMessage::Ack { .. } => {}
            other => panic!("{}: expected an ack, got {other:?}", client.info.name),
        }
    }
}

/// A config with rates no test meets unless it means to.
fn unthrottled() -> Config {
    Config {
        messages_per_sec: 1_000_000,
        messages_burst: 1_000_000,
        bytes_per_sec: u32::MAX,
        bytes_burst: u32::MAX,
        ..test_config()
    }
}

#[tokio::test]
async fn a_cursor_flood_reaches_peers_coalesced_and_never_cuts_off_an_honest_reader() {
    // A small queue, which the flood would fill in a moment if cursors went
    // through it.
    let relay = TestRelay::with_config(Config {
        peer_queue_frames: 256,
        ..unthrottled()
    })
    .await;
    let (mut reader, _) = TestClient::join(&relay, "flood", "reader").await;
    let (mut drawer, _) = TestClient::join(&relay, "flood", "drawer").await;
    let (mut flooder, _) = TestClient::join(&relay, "flood", "flooder").await;

    let started = Instant::now();
    let flood = tokio::spawn(async move {
        for i in 0..20_000_u32 {
            let message = ClientMessage::Cursor(Some(Point::new(i as f32, 1.0)));
            flooder
                .ws
                .feed(Message::Binary(
                    tabula_shared::encode(&message).unwrap().into(),
                ))
                .await
                .unwrap();
        }
        flooder.ws.flush().await.unwrap();
        flooder
    });
    let mut ops = Vec::new();
    for _ in 0..100 {
        let op = stroke_op();
        ops.push(op.id);
        drawer.send(&ClientMessage::Op(op)).await;
    }
    let flooder = timeout(WAIT, flood).await.unwrap().unwrap();

    // The reader gets every op, in order, whatever the flood did.
    let mut seen_ops = Vec::new();
    let mut cursors = 0_u32;
    let mut last = None;
    let last_expected = Some(Point::new(19_999.0, 1.0));
    while seen_ops.len() < ops.len() || last != last_expected {
        match reader.recv().await {
            ServerMessage::Op(op) => seen_ops.push(op.op.id),
            ServerMessage::Presence { client, presence } if client == flooder.info.client => {
                cursors += 1;
                last = presence.cursor;
            }
            ServerMessage::Presence { .. } => {}
            other => panic!("the reader got {other:?}"),
        }
    }
    assert_eq!(seen_ops, ops);
    // At most ~30 a second reached it, the latest winning; the flood was 20,000.
    let allowed = (started.elapsed().as_secs_f64() * 30.0).ceil() as u32 + 2;
    assert!(
        cursors <= allowed,
        "{cursors} cursors in {:?}",
        started.elapsed()
    );
    // Nobody was cut off: the reader still gets what is drawn.
    let op = stroke_op();
    draw(&mut drawer, &op).await;
    loop {
        match reader.recv().await {
            ServerMessage::Op(o) => {
                assert_eq!(o.op.id, op.id);
                break;
            }
            ServerMessage::Presence { .. } => {}
            other => panic!("the reader got {other:?}"),
        }
    }
    drop(flooder);
}

#[tokio::test]
async fn a_sender_over_its_rate_is_read_more_slowly_and_nothing_is_refused() {
    let relay = TestRelay::with_config(Config {
        messages_per_sec: 100,
        messages_burst: 50,
        ..test_config()
    })
    .await;
    let (mut fast, _) = TestClient::join(&relay, "rate", "fast").await;
    let started = Instant::now();
    let ops: Vec<_> = (0..250).map(|_| stroke_op()).collect();
    for op in &ops {
        let frame = tabula_shared::encode(&ClientMessage::Op(op.clone())).unwrap();
        fast.ws.feed(Message::Binary(frame.into())).await.unwrap();
    }
    fast.ws.flush().await.unwrap();
    for op in &ops {
        fast.recv_ack(op.id).await;
    }
    // 50 at once, then 100 a second: 200 more take two seconds.
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1700), "took {took:?}");
}

#[tokio::test]
async fn a_sender_with_as_many_unacked_ops_as_allowed_is_not_read_until_acks_go_out() {
    let relay = TestRelay::with_config(Config {
        max_unacked_ops: 8,
        ..test_config()
    })
    .await;
    let (mut host, _) = TestClient::join(&relay, "unacked", "host").await;
    let (mut asked, _) = TestClient::join(&relay, "unacked", "asked").await;
    let (mut eager, _) = TestClient::join(&relay, "unacked", "eager").await;
    host.expect_joined(&asked.info).await;
    host.expect_joined(&eager.info).await;
    asked.expect_joined(&eager.info).await;
    // A hand-over freezes the room: ops are held, not acked.
    let moving = {
        let relay = relay.relay.clone();
        let plan = tabula_server::HandOver {
            prefer: Some(asked.info.client),
            exclude: vec![host.info.client, eager.info.client],
            answer_within: WAIT,
        };
        tokio::spawn(async move { relay.hand_over("unacked", &plan).await })
    };
    assert!(matches!(asked.recv().await, ServerMessage::TakeOver { .. }));
    let ops: Vec<_> = (0..20).map(|_| stroke_op()).collect();
    for op in &ops {
        eager.send(&ClientMessage::Op(op.clone())).await;
    }
    // Read after its 20 ops: only once acks have gone out.
    eager
        .send(&ClientMessage::Cursor(Some(Point::new(5.0, 5.0))))
        .await;
    host.expect_nothing(Duration::from_secs(1)).await;

    asked
        .send(&ClientMessage::CannotHost {
            reason: "not today".to_owned(),
        })
        .await;
    assert!(timeout(WAIT, moving).await.unwrap().unwrap().is_err());
    for op in &ops {
        eager.recv_ack(op.id).await;
    }
    loop {
        match host.recv().await {
            ServerMessage::Presence { client, .. } if client == eager.info.client => break,
            ServerMessage::Op(_) => {}
            other => panic!("host got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_peer_that_stops_reading_is_cut_off_by_bytes_long_before_frames() {
    let relay = TestRelay::with_config(Config {
        peer_queue_bytes: 64 * 1024,
        ..unthrottled()
    })
    .await;
    let (stalled, _) = TestClient::join(&relay, "bytes", "stalled").await;
    let (mut reader, _) = TestClient::join(&relay, "bytes", "reader").await;
    let (mut sender, _) = TestClient::join(&relay, "bytes", "sender").await;
    // 500 frames of 32 KB: 16 MB, far fewer frames than the 4,096 a queue holds.
    let reading = tokio::spawn(async move {
        let mut got = 0;
        while got < 500 {
            if let ServerMessage::Op(_) = reader.recv().await {
                got += 1;
            }
        }
        reader
    });
    for _ in 0..500 {
        draw(&mut sender, &big_op(4000)).await;
    }
    let mut reader = timeout(WAIT, reading).await.unwrap().unwrap();
    // The stalled peer was cut off: what it finally reads ends (with a close
    // frame, if there was room for one) long before the 500 ops.
    let mut stalled = stalled.ws;
    let mut ops = 0;
    let close = timeout(WAIT, async {
        loop {
            match stalled.next().await {
                Some(Ok(Message::Binary(frame))) => {
                    if let Ok(ServerMessage::Op(_)) = tabula_shared::decode(&frame) {
                        ops += 1;
                    }
                }
                Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break None,
            }
        }
    })
    .await
    .expect("the stalled peer's connection did not end");
    assert!(ops < 500, "the stalled peer got all {ops} ops");
    assert!(close.is_none_or(|code| code == 1008), "{close:?}");
    // The honest reader is still there.
    let op = stroke_op();
    draw(&mut sender, &op).await;
    assert_eq!(reader.recv_op().await.op.id, op.id);
}

#[tokio::test]
async fn a_message_left_unfinished_is_cut_off_after_the_deadline() {
    let relay = TestRelay::with_config(Config {
        message_deadline: Duration::from_secs(1),
        ..test_config()
    })
    .await;
    let (mut slow, _) = TestClient::join(&relay, "fragments", "slow").await;
    // A finished message, however fragmented, is fine.
    let op = stroke_op();
    let frame = tabula_shared::encode(&ClientMessage::Op(op.clone())).unwrap();
    let (first, rest) = frame.split_at(5);
    slow.send_raw(Message::Frame(Frame::message(
        first.to_vec(),
        OpCode::Data(Data::Binary),
        false,
    )))
    .await;
    slow.send_raw(Message::Frame(Frame::message(
        rest.to_vec(),
        OpCode::Data(Data::Continue),
        true,
    )))
    .await;
    slow.recv_ack(op.id).await;
    // A first fragment and then only pings: held open, then cut.
    slow.send_raw(Message::Frame(Frame::message(
        first.to_vec(),
        OpCode::Data(Data::Binary),
        false,
    )))
    .await;
    let started = Instant::now();
    // Pings between fragments are allowed, and do not put the deadline off.
    for _ in 0..4 {
        sleep(Duration::from_millis(200)).await;
        slow.send_raw(Message::Ping(Vec::new().into())).await;
    }
    let (code, reason) = slow.expect_close().await;
    assert_eq!(code, 1008);
    assert!(reason.contains("took longer than 1 s"), "{reason}");
    assert!(started.elapsed() < WAIT);
    // A frame header alone is held open too.
    let (mut header_only, _) = TestClient::join(&relay, "fragments", "header").await;
    let mut head = Vec::new();
    FrameHeader {
        is_final: true,
        opcode: OpCode::Data(Data::Binary),
        mask: Some([1, 2, 3, 4]),
        ..FrameHeader::default()
    }
    .format(1000, &mut head)
    .unwrap();
    let MaybeTlsStream::Plain(tcp) = header_only.ws.get_mut() else {
        panic!("plain TCP");
    };
    tcp.write_all(&head).await.unwrap();
    tcp.write_all(&[0; 10]).await.unwrap();
    let (code, _) = header_only.expect_close().await;
    assert_eq!(code, 1008);
}

#[tokio::test]
async fn a_full_room_and_a_full_relay_turn_newcomers_away_with_a_reason() {
    let relay = TestRelay::with_config(Config {
        max_members: 2,
        max_rooms: 2,
        ..test_config()
    })
    .await;
    let (_a, _) = TestClient::join(&relay, "small", "a").await;
    let (b, _) = TestClient::join(&relay, "small", "b").await;
    let mut c = TestClient::connect(&relay, "small", "c").await;
    let (code, reason) = refused_hello(&mut c, "small").await;
    assert_eq!(code, 1013, "try again later");
    assert!(reason.contains("room small is full: 2 people"), "{reason}");
    // b comes back on a new connection: it was in, so it may.
    let (_b_again, _) = TestClient::rejoin(&relay, "small", &b.info, 0, None).await;

    let (_other, _) = TestClient::join(&relay, "other", "o").await;
    let mut third = TestClient::connect(&relay, "third", "t").await;
    let (code, reason) = refused_hello(&mut third, "third").await;
    assert_eq!(code, 1013);
    assert!(reason.contains("2 rooms open"), "{reason}");
}

#[tokio::test]
async fn a_room_flood_from_one_address_leaves_others_drawing() {
    let relay = TestRelay::with_config(Config {
        new_rooms_per_minute: 5,
        max_connections_per_address: 4,
        ..test_config()
    })
    .await;
    let flooder = address(2);
    let honest = address(3);
    let mut made = 0;
    let mut refused = None;
    for n in 0..20 {
        let room = format!("flood-{n}");
        let mut client = handshake_from(relay.addr, flooder, &room, "flooder")
            .await
            .expect("a connection of its own");
        let hello = client.hello_message(&room, 0);
        client.send(&ClientMessage::Hello(hello)).await;
        match client.recv_any().await {
            ServerMessage::Welcome(_) => made += 1,
            other => panic!("{other:?}"),
        }
        // Each connection goes before the next: only rooms are counted here.
        client
            .ws
            .close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "done".into(),
            }))
            .await
            .unwrap();
        let _ = client.expect_close().await;
        if made == 5 {
            let mut client = handshake_from(relay.addr, flooder, "flood-x", "flooder")
                .await
                .expect("a connection of its own");
            refused = Some(refused_hello(&mut client, "flood-x").await);
            break;
        }
    }
    let (code, reason) = refused.expect("the sixth room was refused");
    assert_eq!(code, 1013);
    assert!(
        reason.contains("5 new rooms in the last minute"),
        "{reason}"
    );
    // A room that exists is no new room: the flooder may still join one.
    let _back = join_from(&relay, flooder, "flood-0", "flooder").await;

    // Connections per address: four, then 429; another address is not counted.
    let mut held = Vec::new();
    let deadline = Instant::now() + WAIT;
    while held.len() < 3 {
        assert!(
            Instant::now() < deadline,
            "closed connections stayed counted"
        );
        match handshake_from(relay.addr, flooder, "flood-1", "flooder").await {
            Ok(mut client) => {
                client.hello("flood-1", 0).await;
                held.push(client);
            }
            // A connection closed a moment ago may not be uncounted yet.
            Err((429, _)) => sleep(Duration::from_millis(50)).await,
            Err(other) => panic!("{other:?}"),
        }
    }
    let Err((status, body)) = handshake_from(relay.addr, flooder, "flood-1", "flooder").await
    else {
        panic!("a fifth connection from one address");
    };
    assert_eq!(status, 429);
    assert!(body.contains("4 connections open"), "{body}");

    let mut artist = join_from(&relay, honest, "studio", "artist").await;
    let mut viewer = join_from(&relay, honest, "studio", "viewer").await;
    let op = stroke_op();
    draw(&mut artist, &op).await;
    assert_eq!(viewer.recv_op().await.op.id, op.id);
}

#[tokio::test]
async fn room_names_are_folded_and_device_and_dot_names_refused() {
    let relay = TestRelay::start().await;
    let (mut upper, welcome) = TestClient::join(&relay, "Design-Review", "upper").await;
    assert_eq!(welcome.room, "design-review");
    let (lower, welcome) = TestClient::join(&relay, "design-review", "lower").await;
    assert_eq!(welcome.peers, vec![upper.info.clone()], "one room");
    upper.expect_joined(&lower.info).await;
    for path in ["CON", "nul.txt", "com1", ".hidden", "trailing."] {
        let answer = crate::support::http_exchange(
            &relay,
            format!(
                "GET /{path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            )
            .as_bytes(),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{path}: {answer}");
    }
}

/// `tabula-server --memory` in a child process whose open-file limit is
/// `limit`.
fn limited_relay(limit: u32) -> ChildRelay {
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--nofile={limit}:{limit}"))
        .arg("--")
        .arg(ChildRelay::binary())
        .args(["--memory", "--listen", "127.0.0.1:0"]);
    ChildRelay::spawn(command)
}

#[tokio::test]
async fn a_relay_out_of_descriptors_turns_connections_away_and_serves_again_after() {
    let relay = limited_relay(200);
    // Far more connections than the relay has descriptors for, each from its
    // own address so that only the relay's limits count.
    let mut open = Vec::new();
    let mut turned_away = 0;
    for n in 0..400_u32 {
        let from = IpAddr::V4(Ipv4Addr::new(127, 1, (n / 250) as u8, (n % 250) as u8 + 1));
        let Ok(Ok(mut stream)) =
            timeout(Duration::from_secs(5), connect_from(from, relay.addr)).await
        else {
            continue;
        };
        let request = "GET /crowd HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        if stream.write_all(request.as_bytes()).await.is_err() {
            continue;
        }
        let mut answer = [0_u8; 12];
        match timeout(Duration::from_secs(2), stream.read(&mut answer)).await {
            Ok(Ok(n)) if n > 0 && answer.starts_with(b"HTTP/1.1 503") => turned_away += 1,
            _ => {}
        }
        open.push(stream);
    }
    assert!(turned_away > 0, "nobody was told the relay is full");
    // Once the crowd goes, the relay serves as before.
    drop(open);
    let deadline = Instant::now() + WAIT;
    let (mut a, mut b) = loop {
        let a = handshake_from(relay.addr, address(9), "after", "a").await;
        let b = handshake_from(relay.addr, address(9), "after", "b").await;
        if let (Ok(a), Ok(b)) = (a, b) {
            break (a, b);
        }
        assert!(Instant::now() < deadline, "the relay did not come back");
        sleep(Duration::from_millis(100)).await;
    };
    a.hello("after", 0).await;
    b.hello("after", 0).await;
    let op = stroke_op();
    draw(&mut a, &op).await;
    assert_eq!(b.recv_op().await.op.id, op.id);
}

/// Points in each append of the two-million-point stroke: as many as fit the
/// test's 64 KiB frames.
const PER_APPEND: usize = 7000;

#[tokio::test]
async fn a_two_million_point_stroke_is_cut_at_the_cap_and_peers_never_get_more() {
    use tabula_shared::caps::MAX_STROKE_POINTS;
    use tabula_shared::{Color, Op, OpKind, StrokeId, StrokeStyle};

    let relay = TestRelay::with_config(unthrottled()).await;
    let (mut drawer, _) = TestClient::join(&relay, "huge", "drawer").await;
    let (mut peer, _) = TestClient::join(&relay, "huge", "peer").await;
    let stroke = StrokeId::random();
    draw(
        &mut drawer,
        &Op::new(OpKind::StrokeBegin {
            stroke,
            style: StrokeStyle {
                color: Color::rgb(0, 0, 0),
                width: 2.0,
            },
            start: Point::new(0.0, 0.0),
        }),
    )
    .await;
    // 2,000,000 points in appends that each fit the test's 64 KiB frames.
    let appends: Vec<Op> = (0..=2_000_000 / PER_APPEND)
        .map(|n| {
            Op::new(OpKind::StrokeAppend {
                stroke,
                points: (0..PER_APPEND)
                    .map(|i| Point::new((n * PER_APPEND + i) as f32 * 0.01, 1.0))
                    .collect(),
            })
        })
        .collect();
    let sending = {
        let frames: Vec<Vec<u8>> = appends
            .iter()
            .map(|op| tabula_shared::encode(&ClientMessage::Op(op.clone())).unwrap())
            .collect();
        let mut ws = drawer.ws;
        tokio::spawn(async move {
            for frame in frames {
                ws.feed(Message::Binary(frame.into())).await.unwrap();
            }
            ws.flush().await.unwrap();
            ws
        })
    };
    drawer.ws = timeout(WAIT, sending).await.unwrap().unwrap();
    let (mut acked, mut refused) = (0, 0);
    while acked + refused < appends.len() {
        match drawer.recv().await {
            ServerMessage::Ack { .. } => acked += 1,
            ServerMessage::OpRefused { code, .. } => {
                assert_eq!(code, tabula_shared::ErrorCode::InvalidOp);
                refused += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        acked * PER_APPEND < MAX_STROKE_POINTS,
        "{acked} appends acked"
    );
    assert!(refused > 0);
    // The peer got the acked points and no more.
    let mut points = 1;
    let mut appends_seen = 0;
    while appends_seen < acked {
        if let ServerMessage::Op(op) = peer.recv().await
            && let OpKind::StrokeAppend { points: p, .. } = op.op.kind
        {
            points += p.len();
            appends_seen += 1;
        }
    }
    assert!(points <= MAX_STROKE_POINTS);
    peer.expect_nothing(Duration::from_millis(300)).await;
}
