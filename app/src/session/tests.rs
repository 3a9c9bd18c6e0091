//! The session's unit tests.

use super::*;
use tabula_shared::Point;

#[test]
fn relay_urls_are_checked() {
    assert_eq!(room_of_url("ws://127.0.0.1:7457/team"), Ok("team"));
    assert_eq!(
        room_of_url("wss://x:1/team#fp=nothing-else"),
        Err(JoinError::Url(UrlError::Fingerprint(
            tabula_shared::fingerprint::FingerprintError("nothing-else".to_owned())
        )))
    );
    let fp = tabula_shared::fingerprint::Fingerprint::of_certificate(b"c");
    let invite = format!("wss://x:1/team#fp={}", fp.url_form());
    assert_eq!(room_of_url(&invite), Ok("team"));
    assert_eq!(
        room_of_url("http://x/team"),
        Err(JoinError::Url(UrlError::NotWebSocket))
    );
    assert_eq!(
        room_of_url("ws:///team"),
        Err(JoinError::Url(UrlError::NoHost))
    );
    assert!(matches!(
        room_of_url("ws://host:7457/"),
        Err(JoinError::Url(UrlError::Room(_)))
    ));
}

#[test]
fn several_relays_of_one_room_are_one_join_and_another_room_is_refused() {
    let (urls, room) = room_urls(" ws://a:7457/team , ws://b:7457/team,").unwrap();
    assert_eq!(urls, vec!["ws://a:7457/team", "ws://b:7457/team"]);
    assert_eq!(room, "team");
    assert!(matches!(
        room_urls("ws://a:7457/team,ws://b:7457/other"),
        Err(JoinError::MixedRooms { other, .. }) if other == "ws://b:7457/other"
    ));
    assert!(matches!(
        room_urls("ws://a:7457/team,http://b/team"),
        Err(JoinError::Url(UrlError::NotWebSocket))
    ));
    assert_eq!(room_urls(" , "), Err(JoinError::NoAddress));
}

fn stroke(seq: u64, author: ClientId) -> SequencedOp {
    SequencedOp {
        seq,
        author,
        timestamp_ms: 1000 + seq,
        op: Op::new(tabula_shared::OpKind::StrokeBegin {
            stroke: tabula_shared::StrokeId::random(),
            style: tabula_shared::StrokeStyle {
                color: Color::rgb(1, 2, 3),
                width: 2.0,
            },
            start: Point::new(seq as f32, 0.0),
        }),
    }
}

#[test]
fn a_board_from_a_snapshot_keeps_our_unsent_ops_and_completes_its_history() {
    let (connection, remote) = Connection::detached();
    let me = Identity {
        client: ClientId::random(),
        name: "me".to_owned(),
        color: Color::rgb(9, 9, 9),
    };
    let mut session = Session::with_connection(me, connection);
    let other = ClientId::random();
    let ops: Vec<SequencedOp> = (1..=10).map(|seq| stroke(seq, other)).collect();
    let send = |event| remote.events.send(event).expect("the session listens");
    for op in &ops[..3] {
        send(Event::Op(op.clone()));
    }
    session.poll();
    assert_eq!(session.relay_snapshot(), None);
    let unsent = stroke(0, session.me().client).op;
    session.submit(unsent.clone());

    // The relay answers a reconnect with the board as of op 8, then 9 and 10.
    let room = Board::from_sequenced(&ops[..8]);
    send(Event::Board(Box::new(Board::from_snapshot(
        room.snapshot(),
    ))));
    send(Event::Op(ops[8].clone()));
    send(Event::Op(ops[9].clone()));
    session.poll();
    assert_eq!(session.board().last_seq(), 10);
    assert_eq!(session.relay_snapshot(), Some(8));
    assert_eq!(session.board().object_count(), 11, "ten strokes and ours");
    assert_eq!(session.board().pending_ops().collect::<Vec<_>>(), [&unsent]);
    assert_eq!(session.history_progress(), Some((5, 10)));
    assert_eq!(session.log().len(), 5, "ops 1-3 and 9-10");

    for op in &ops[3..7] {
        send(Event::History(op.clone()));
    }
    session.poll();
    assert_eq!(session.history_progress(), Some((9, 10)));
    send(Event::History(ops[7].clone()));
    session.poll();
    assert_eq!(session.history_progress(), None);
    assert_eq!(session.log(), &ops[..], "every op, in order");
}
