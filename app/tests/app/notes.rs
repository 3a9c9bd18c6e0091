//! Sticky notes end to end: a note stuck in one app reaches another through
//! a real relay on 127.0.0.1:0, both write on it, move, resize and recolour
//! it at once and end with the same note; the room's file holds it, and a
//! late joiner gets it from the relay's snapshot.

use tabula_app::canvas::tools::{NOTE_PALETTE, ToolSettings};
use tabula_app::note;
use tabula_app::session::{ConnectionStatus, Session};
use tabula_server::Config;
use tabula_shared::object::ObjectKind;
use tabula_shared::session_file::SessionFile;
use tabula_shared::{Board, ObjectId, Op, OpKind, Point, Property, Rect};

use crate::support::{self, Relay, identity};

/// Polls the sessions until `done` holds.
fn wait_for(what: &str, sessions: &mut [&mut Session], done: impl Fn(&[&mut Session]) -> bool) {
    support::eventually(what, || {
        for session in sessions.iter_mut() {
            session.poll();
        }
        done(sessions).then_some(())
    });
}

fn settled(session: &Session) -> bool {
    *session.status() == ConnectionStatus::Connected && session.board().pending_ops().count() == 0
}

fn set(object: ObjectId, property: Property) -> Op {
    Op::new(OpKind::Set { object, property })
}

#[test]
fn a_note_reaches_a_peer_through_a_relay_its_room_file_and_a_late_joiner() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let config = Config {
        snapshot_every: 5,
        data_dir: Some(data.path().to_path_buf()),
        ..Config::default()
    };
    let relay = Relay::start(&runtime, config);
    let url = relay.url("notes");
    let mut alice = Session::offline(identity("Alice"));
    let mut bob = Session::offline(identity("Bob"));
    alice.join(&url, runtime.handle(), || {}).unwrap();
    bob.join(&url, runtime.handle(), || {}).unwrap();
    wait_for("both are in", &mut [&mut alice, &mut bob], |s| {
        s.iter().all(|s| settled(s) && s.peers().count() == 1)
    });

    // Alice sticks a pink note, as her note tool would.
    let tools = ToolSettings {
        note_color: NOTE_PALETTE[2].color,
        ..ToolSettings::default()
    };
    let note = ObjectId::random();
    let paper = Rect::from_corners(Point::new(100.0, 100.0), Point::new(300.0, 300.0));
    alice.perform(vec![Op::new(OpKind::Create {
        object: note,
        data: tools.note(paper, "Ship it".to_owned()),
    })]);
    wait_for("Bob has the note", &mut [&mut alice, &mut bob], |s| {
        settled(s[0]) && s[1].board().object(note).is_some()
    });
    let seen = bob.board().object(note).unwrap();
    assert_eq!(seen.data.kind, ObjectKind::Note);
    assert_eq!(seen, alice.board().object(note).unwrap());

    // At once: Bob writes on it and makes it bigger, Alice moves it and
    // makes it blue.
    let bigger = vec![Point::new(100.0, 100.0), Point::new(500.0, 500.0)];
    bob.perform(vec![set(
        note,
        Property::Text("Ship it on Friday".to_owned()),
    )]);
    bob.perform(vec![set(note, Property::Points(bigger.clone()))]);
    alice.perform(vec![set(note, Property::Offset(Point::new(50.0, 0.0)))]);
    alice.perform(vec![set(note, Property::Color(NOTE_PALETTE[5].color))]);
    wait_for("both settle", &mut [&mut alice, &mut bob], |s| {
        s.iter().all(|s| settled(s)) && s[0].board().last_seq() == s[1].board().last_seq()
    });
    assert_eq!(alice.board(), bob.board(), "identical boards");
    let both = alice.board().object(note).unwrap();
    assert_eq!(both.data.text, "Ship it on Friday");
    assert_eq!(both.data.points, bigger);
    assert_eq!(both.offset, Point::new(50.0, 0.0));
    assert_eq!(both.data.color, NOTE_PALETTE[5].color);
    // Drawn alike on both screens.
    assert_eq!(
        note::layout(both),
        note::layout(bob.board().object(note).unwrap())
    );

    // The room's file holds the note: its ops rebuild the same board.
    let room_file = data.path().join("rooms").join("notes.tabula");
    let file = SessionFile::open_read_only(&room_file).unwrap();
    let ops: Vec<_> = file.sequenced_ops(0).collect::<Result<_, _>>().unwrap();
    let from_file = Board::from_sequenced(&ops);
    assert_eq!(from_file.object(note), Some(both));
    drop(file);
    wait_for("the relay has a snapshot", &mut [&mut alice], |_| {
        SessionFile::open_read_only_unchecked(&room_file)
            .and_then(|file| support::snapshot_seqs(&file))
            .is_ok_and(|seqs| !seqs.is_empty())
    });

    // Carol comes late: her board starts from the relay's snapshot, with the
    // note as it is now.
    let mut carol = Session::offline(identity("Carol"));
    carol.join(&url, runtime.handle(), || {}).unwrap();
    let joined = alice.board().last_seq() + 1;
    wait_for(
        "Carol has the board and its history",
        &mut [&mut alice, &mut bob, &mut carol],
        |s| {
            s.iter()
                .all(|s| settled(s) && s.board().last_seq() == joined)
                && s[2].history_progress().is_none()
        },
    );
    assert!(
        carol.relay_snapshot().is_some(),
        "from the relay's snapshot"
    );
    assert_eq!(carol.board().object(note), alice.board().object(note));
    assert_eq!(carol.board().snapshot(), alice.board().snapshot());

    for session in [&mut alice, &mut bob, &mut carol] {
        session.leave();
    }
    relay.stop(&runtime);
}
