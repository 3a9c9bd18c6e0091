//! Bad input closes only the offending connection, with the right code and a
//! reason, while the rest of the room carries on.

use std::time::Duration;

use bytes::Bytes;
use tabula_shared::codec::{FORMAT_VERSION, MAGIC};
use tabula_shared::{
    ClientMessage, ErrorCode, OpKind, PROTOCOL_VERSION, Point, ServerMessage, StrokeId, encode,
};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TestClient, TestRelay, stroke_op, test_config};

/// Two peers in `room` who have seen each other join.
async fn bystanders(relay: &TestRelay, room: &str) -> (TestClient, TestClient) {
    let (mut a, _) = TestClient::join(relay, room, "a").await;
    let (b, _) = TestClient::join(relay, room, "b").await;
    a.expect_joined(&b.info).await;
    (a, b)
}

/// A peer that joins `room`, seen joining by both bystanders.
async fn offender(
    relay: &TestRelay,
    room: &str,
    a: &mut TestClient,
    b: &mut TestClient,
) -> TestClient {
    let (x, _) = TestClient::join(relay, room, "x").await;
    a.expect_joined(&x.info).await;
    b.expect_joined(&x.info).await;
    x
}

/// Asserts that both bystanders saw `x` leave and can still draw together.
async fn carry_on(a: &mut TestClient, b: &mut TestClient, x: Option<&TestClient>) {
    if let Some(x) = x {
        a.expect_left(x.info.client).await;
        b.expect_left(x.info.client).await;
    }
    let op = stroke_op();
    let seq = a.sequence(&op).await;
    let seen = b.recv_op().await;
    assert_eq!((seen.seq, seen.op), (seq, op));
    let op = stroke_op();
    assert_eq!(b.sequence(&op).await, seq + 1);
    assert_eq!(a.recv_op().await.op, op);
}

#[tokio::test]
async fn garbage_closes_with_1007_and_the_room_carries_on() {
    let relay = TestRelay::start().await;
    let (mut a, mut b) = bystanders(&relay, "garbage").await;
    let mut x = offender(&relay, "garbage", &mut a, &mut b).await;
    x.send_raw(Message::Binary(Bytes::from_static(
        b"definitely not tabula",
    )))
    .await;
    let (code, reason) = x.expect_close().await;
    assert_eq!(code, 1007);
    assert!(reason.contains("magic bytes"), "{reason}");
    carry_on(&mut a, &mut b, Some(&x)).await;

    // A valid prefix with a payload that is not a message.
    let mut x = offender(&relay, "garbage", &mut a, &mut b).await;
    let mut frame = MAGIC.to_vec();
    frame.extend([FORMAT_VERSION, 0xff, 0xff, 0xff]);
    x.send_raw(Message::Binary(frame.into())).await;
    let (code, reason) = x.expect_close().await;
    assert_eq!(code, 1007);
    assert!(reason.contains("not a valid message"), "{reason}");
    assert!(reason.len() <= 123);
    carry_on(&mut a, &mut b, Some(&x)).await;
}

#[tokio::test]
async fn a_text_frame_closes_with_1003() {
    let relay = TestRelay::start().await;
    let (mut a, mut b) = bystanders(&relay, "text").await;
    let mut x = offender(&relay, "text", &mut a, &mut b).await;
    x.send_raw(Message::text("{\"op\": \"hello\"}")).await;
    assert_eq!(
        x.expect_close().await,
        (1003, "Tabula speaks binary frames only".to_owned())
    );
    carry_on(&mut a, &mut b, Some(&x)).await;
}

#[tokio::test]
async fn another_protocol_or_format_version_closes_with_1002() {
    let relay = TestRelay::start().await;
    let (mut a, mut b) = bystanders(&relay, "versions").await;

    let mut x = TestClient::connect(&relay, "versions", "x").await;
    let mut hello = x.hello_message("versions", 0);
    hello.protocol = PROTOCOL_VERSION + 1;
    x.send(&ClientMessage::Hello(hello)).await;
    let (code, reason) = x.expect_close().await;
    assert_eq!(code, 1002);
    assert!(
        reason.contains(&format!("version {}", PROTOCOL_VERSION + 1))
            && reason.contains(&format!("version {PROTOCOL_VERSION}")),
        "{reason}"
    );

    // A frame from a newer codec.
    let mut x = offender(&relay, "versions", &mut a, &mut b).await;
    let mut frame = encode(&ClientMessage::Cursor(None)).unwrap();
    frame[MAGIC.len()] = FORMAT_VERSION + 1;
    x.send_raw(Message::Binary(frame.into())).await;
    let (code, reason) = x.expect_close().await;
    assert_eq!(code, 1002);
    assert!(reason.contains("format version 2"), "{reason}");
    carry_on(&mut a, &mut b, Some(&x)).await;
}

#[tokio::test]
async fn an_oversized_message_closes_with_1009() {
    let relay = TestRelay::start().await;
    let (mut a, mut b) = bystanders(&relay, "big").await;
    let mut x = offender(&relay, "big", &mut a, &mut b).await;
    // Far more than the socket buffers hold: the relay refuses it from the frame
    // header, and must keep the connection up long enough for the sender to
    // finish and read the close frame instead of getting a reset.
    let too_big = 8 * 1024 * 1024;
    assert!(too_big > test_config().max_frame_bytes);
    x.send_raw(Message::Binary(vec![7; too_big].into())).await;
    let (code, reason) = x.expect_close().await;
    assert_eq!(code, 1009);
    assert!(reason.contains(&too_big.to_string()), "{reason}");
    carry_on(&mut a, &mut b, Some(&x)).await;
}

#[tokio::test]
async fn anything_but_a_hello_first_closes_with_1008() {
    let relay = TestRelay::start().await;
    let (mut a, mut b) = bystanders(&relay, "manners").await;

    let mut x = TestClient::connect(&relay, "manners", "x").await;
    x.send(&ClientMessage::Op(stroke_op())).await;
    assert_eq!(
        x.expect_close().await,
        (1008, "the first message must be a hello".to_owned())
    );

    let mut y = TestClient::connect(&relay, "manners", "y").await;
    let hello = y.hello_message("elsewhere", 0);
    y.send(&ClientMessage::Hello(hello)).await;
    let (code, reason) = y.expect_close().await;
    assert_eq!(code, 1008);
    assert!(
        reason.contains("elsewhere") && reason.contains("manners"),
        "{reason}"
    );

    // Neither joined, so nobody heard of them.
    carry_on(&mut a, &mut b, None).await;
}

#[tokio::test]
async fn no_hello_in_time_closes_with_1008() {
    let relay = TestRelay::with_config(tabula_server::Config {
        hello_timeout: Duration::from_millis(300),
        ..test_config()
    })
    .await;
    let mut x = TestClient::connect(&relay, "slowpoke", "x").await;
    let (code, reason) = x.expect_close().await;
    assert_eq!(code, 1008);
    assert!(reason.contains("no hello"), "{reason}");
}

#[tokio::test]
async fn a_bad_op_or_a_second_hello_gets_an_error_and_the_connection_stays() {
    let relay = TestRelay::start().await;
    let (mut a, mut b) = bystanders(&relay, "lenient").await;

    let bad = tabula_shared::Op::new(OpKind::StrokeAppend {
        stroke: StrokeId::random(),
        points: vec![Point::new(f32::NAN, 0.0)],
    });
    let refused = bad.id;
    a.send(&ClientMessage::Op(bad)).await;
    let ServerMessage::OpRefused { op, code, message } = a.recv().await else {
        panic!("expected a refusal");
    };
    assert_eq!((op, code), (refused, ErrorCode::InvalidOp));
    assert!(message.contains("is not a number"), "{message}");

    let hello = a.hello_message("lenient", 0);
    a.send(&ClientMessage::Hello(hello)).await;
    let ServerMessage::Error { code, .. } = a.recv().await else {
        panic!("expected an error");
    };
    assert_eq!(code, ErrorCode::UnexpectedMessage);

    // Nothing was sequenced or relayed for either.
    b.expect_nothing(Duration::from_millis(200)).await;
    carry_on(&mut a, &mut b, None).await;
    // After the two joins and carry_on's two ops.
    assert_eq!(a.sequence(&stroke_op()).await, 5);
}

#[tokio::test]
async fn a_stroke_streamed_past_its_cap_is_refused_and_nobody_gets_the_rest() {
    let relay = TestRelay::start().await;
    let (mut a, mut b) = bystanders(&relay, "endless").await;

    // A begin and appends of 7,000 points (each within the test relay's
    // frame limit): seven fit under 50,000, the eighth would not, and neither
    // would any after it (the 2,000,000-point stroke a hostile member
    // streams, in pieces every op cap lets through).
    let stroke = StrokeId::random();
    let begin = tabula_shared::Op::new(OpKind::StrokeBegin {
        stroke,
        style: tabula_shared::StrokeStyle {
            color: tabula_shared::Color::rgb(0, 0, 0),
            width: 2.0,
        },
        start: Point::new(0.0, 0.0),
    });
    a.sequence(&begin).await;
    assert_eq!(b.recv_op().await.op, begin);
    let append = || {
        tabula_shared::Op::new(OpKind::StrokeAppend {
            stroke,
            points: vec![Point::new(1.0, 2.0); 7_000],
        })
    };
    for _ in 0..7 {
        let op = append();
        a.sequence(&op).await;
        assert_eq!(b.recv_op().await.op, op);
    }
    for _ in 0..100 {
        a.send(&ClientMessage::Op(append())).await;
    }
    for _ in 0..100 {
        let ServerMessage::OpRefused { code, message, .. } = a.recv().await else {
            panic!("expected a refusal");
        };
        assert_eq!(code, ErrorCode::InvalidOp);
        assert!(message.contains("at most 50000"), "{message}");
    }
    b.expect_nothing(Duration::from_millis(200)).await;
    carry_on(&mut a, &mut b, None).await;
}

#[tokio::test]
async fn a_note_within_its_caps_is_relayed_and_one_beyond_them_is_refused_with_the_reason() {
    use tabula_shared::caps::MAX_NOTE_TEXT_BYTES;
    use tabula_shared::object::{Fill, ObjectData, ObjectKind};
    use tabula_shared::{Color, ObjectId, Op};

    let relay = TestRelay::start().await;
    let (mut a, mut b) = bystanders(&relay, "notes").await;
    let note = |side: f32, text: String| {
        Op::new(OpKind::Create {
            object: ObjectId::random(),
            data: ObjectData {
                kind: ObjectKind::Note,
                points: vec![Point::new(0.0, 0.0), Point::new(side, side)],
                color: Color::rgb(0xff, 0xe5, 0x80),
                width: 2.0,
                fill: Fill::None,
                text,
                font_size: 24.0,
            },
        })
    };
    let fine = note(200.0, "x".repeat(MAX_NOTE_TEXT_BYTES));
    a.sequence(&fine).await;
    assert_eq!(b.recv_op().await.op, fine);

    for (bad, reason) in [
        (
            note(200.0, "x".repeat(MAX_NOTE_TEXT_BYTES + 1)),
            "a note's text of 5001 bytes",
        ),
        (note(2.0, String::new()), "a note of 2 × 2"),
        (note(1.0e5, String::new()), "a note of 100000 × 100000"),
    ] {
        a.send(&ClientMessage::Op(bad)).await;
        let ServerMessage::OpRefused { code, message, .. } = a.recv().await else {
            panic!("expected a refusal");
        };
        assert_eq!(code, ErrorCode::InvalidOp);
        assert!(message.contains(reason), "{message}");
    }
    b.expect_nothing(Duration::from_millis(200)).await;
    carry_on(&mut a, &mut b, None).await;
}
