//! End to end: app sessions, each with its real network task, joined to a real
//! relay (through a TCP proxy that the test can cut, as a dropped Wi-Fi would).

use std::collections::HashSet;
use std::time::Duration;

use tabula_app::net::Liveness;
use tabula_app::session::{ConnectionStatus, Identity, Session};
use tabula_server::Config;
use tabula_shared::replay::{Participant, Replay, Visit};
use tabula_shared::session_file::SessionFile;
use tabula_shared::{ClientId, Color, Op, OpId, OpKind, Point, SequencedOp, StrokeId, StrokeStyle};

use crate::support::{self, COLOR, Proxy, Relay, identity};

/// Polls the sessions until `done` holds.
fn wait_for(what: &str, sessions: &mut [&mut Session], done: impl Fn(&[&mut Session]) -> bool) {
    support::eventually(what, || {
        for session in sessions.iter_mut() {
            session.poll();
        }
        done(sessions).then_some(())
    });
}

/// Draws a stroke through `points`, one op per point as the canvas does per frame.
fn draw(session: &mut Session, points: &[Point], color: Color) -> StrokeId {
    let stroke = StrokeId::random();
    session.submit(Op::new(OpKind::StrokeBegin {
        stroke,
        style: StrokeStyle { color, width: 3.0 },
        start: points[0],
    }));
    for p in &points[1..] {
        session.submit(Op::new(OpKind::StrokeAppend {
            stroke,
            points: vec![*p],
        }));
    }
    session.submit(Op::new(OpKind::StrokeEnd { stroke }));
    stroke
}

fn line(from: Point, steps: usize) -> Vec<Point> {
    (0..steps)
        .map(|i| {
            Point::new(
                from.x + i as f32 * 4.0,
                from.y + (i as f32 * 0.3).sin() * 10.0,
            )
        })
        .collect()
}

fn settled(session: &Session) -> bool {
    *session.status() == ConnectionStatus::Connected && session.board().pending_ops().count() == 0
}

#[test]
fn two_sessions_draw_together_and_converge_after_the_link_is_cut() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let relay = Relay::start(&runtime, Config::default());
    let proxy = Proxy::start(&runtime, relay.addr);
    let url = proxy.url("studio");

    let mut alice = Session::offline(identity("Alice"));
    let mut bob = Session::offline(identity("Bob"));
    // Alice sketched something before sharing: it goes to the room when she joins.
    let offline_stroke = draw(
        &mut alice,
        &line(Point::new(-50.0, -50.0), 5),
        Color::rgb(0, 0, 0),
    );
    alice.join(&url, runtime.handle(), || {}).unwrap();
    bob.join(&url, runtime.handle(), || {}).unwrap();
    wait_for(
        "both are connected, see each other, and Bob has the catch-up",
        &mut [&mut alice, &mut bob],
        |s| {
            s.iter().all(|s| settled(s) && s.peers().count() == 1)
                && s[1].board().object(offline_stroke).is_some()
        },
    );
    assert_eq!(bob.peers().next().unwrap().info.name, "Alice");
    assert!(bob.board().object(offline_stroke).is_some());

    // A stroke appears on the other screen while it is being drawn.
    let growing = StrokeId::random();
    alice.submit(Op::new(OpKind::StrokeBegin {
        stroke: growing,
        style: StrokeStyle {
            color: Color::rgb(0, 90, 200),
            width: 2.0,
        },
        start: Point::new(0.0, 0.0),
    }));
    alice.submit(Op::new(OpKind::StrokeAppend {
        stroke: growing,
        points: vec![Point::new(10.0, 5.0), Point::new(20.0, 7.0)],
    }));
    wait_for(
        "Bob sees the unfinished stroke",
        &mut [&mut alice, &mut bob],
        |s| {
            s[1].board()
                .object(growing)
                .is_some_and(|st| st.data.points.len() == 3 && !st.finished)
        },
    );
    alice.submit(Op::new(OpKind::StrokeEnd { stroke: growing }));
    let bob_stroke = draw(
        &mut bob,
        &line(Point::new(100.0, 0.0), 40),
        Color::rgb(0, 150, 0),
    );
    wait_for("both boards settle", &mut [&mut alice, &mut bob], |s| {
        s.iter()
            .all(|s| settled(s) && s.board().object_count() == 3)
            // Alice's end of her stroke may come after all of Bob's.
            && s[0].board().last_seq() == s[1].board().last_seq()
    });
    assert_eq!(alice.board(), bob.board(), "identical boards");
    let drawn = bob.board().object(bob_stroke).unwrap();
    assert_eq!(drawn.data.points, line(Point::new(100.0, 0.0), 40));
    assert!(drawn.finished);

    cut_and_restore(&proxy, &mut alice, &mut bob);

    alice.leave();
    bob.leave();
    relay.stop(&runtime);
}

/// The link drops; both keep drawing; nothing is lost or doubled.
fn cut_and_restore(proxy: &Proxy, alice: &mut Session, bob: &mut Session) {
    proxy.cut();
    wait_for("both notice the cut", &mut [&mut *alice, &mut *bob], |s| {
        s.iter()
            .all(|s| matches!(s.status(), ConnectionStatus::Reconnecting { .. }))
    });
    let during_a = draw(
        alice,
        &line(Point::new(0.0, 200.0), 30),
        Color::rgb(200, 0, 0),
    );
    let during_b = draw(
        bob,
        &line(Point::new(0.0, 300.0), 25),
        Color::rgb(0, 0, 200),
    );
    std::thread::sleep(Duration::from_millis(300));
    proxy.restore();
    wait_for(
        "both reconnect and converge",
        &mut [&mut *alice, &mut *bob],
        |s| {
            s.iter()
                .all(|s| settled(s) && s.board().object_count() == 5 && s.peers().count() == 1)
                && s[0].board().last_seq() == s[1].board().last_seq()
        },
    );
    assert_eq!(alice.board(), bob.board(), "identical boards after the cut");
    let people = [alice.me().client, bob.me().client];
    wait_for(
        "the relay's record of both coming back arrives",
        &mut [&mut *alice, &mut *bob],
        |s| {
            s.iter()
                .all(|s| people.iter().all(|&who| joins(s.log(), who).len() == 2))
                && s[0].board().last_seq() == s[1].board().last_seq()
        },
    );
    let a = bob
        .board()
        .object(during_a)
        .expect("Alice's offline stroke");
    assert_eq!(a.data.points.len(), 30, "no point lost or doubled");
    let b = alice
        .board()
        .object(during_b)
        .expect("Bob's offline stroke");
    assert_eq!(b.data.points.len(), 25, "no point lost or doubled");
    // 5 + (1 + 2 + 1) + 40 + 30 + 25 points' worth of ops, each sequenced once.
    let ops = (1 + 4 + 1) + 3 + (1 + 39 + 1) + (1 + 29 + 1) + (1 + 24 + 1);
    assert_eq!(drawn(alice.log()).len(), ops);
    let ids: HashSet<OpId> = alice.log().iter().map(|o| o.op.id).collect();
    assert_eq!(ids.len(), alice.log().len(), "no op sequenced twice");
    assert_eq!(alice.log(), bob.log(), "one history");
    assert_eq!(alice.log().len() as u64, alice.board().last_seq(), "no gap");
    // Amid the drawing, the relay recorded who came and went: both joined,
    // and joined again after the cut (after a leave, if the relay noticed the
    // cut before the reconnect), and both are still there.
    let replay = Replay::from_ops(alice.log().to_vec()).expect("a history in sequence");
    for (who, session) in [("Alice", &*alice), ("Bob", &*bob)] {
        let me = session.me().client;
        let p = participant(&replay, me);
        assert_eq!(
            p.identity.as_ref().map(|(name, _)| name.as_str()),
            Some(who)
        );
        assert_eq!(
            p.visits.first().map(|v| v.joined),
            joins(alice.log(), me).first().copied()
        );
        assert_eq!(
            p.visits.last().and_then(|v| v.left),
            None,
            "{who} is still there"
        );
    }
}

/// The ops that are not joins or leaves.
fn drawn(log: &[SequencedOp]) -> Vec<&SequencedOp> {
    log.iter().filter(|o| !o.op.kind.is_presence()).collect()
}

/// Where the relay recorded `who` joining.
fn joins(log: &[SequencedOp], who: ClientId) -> Vec<u64> {
    seqs_of(log, who, |kind| matches!(kind, OpKind::Joined { .. }))
}

/// Where the relay recorded `who` leaving.
fn leaves(log: &[SequencedOp], who: ClientId) -> Vec<u64> {
    seqs_of(log, who, |kind| *kind == OpKind::Left)
}

/// The seqs of `who`'s ops that are `wanted`.
fn seqs_of(log: &[SequencedOp], who: ClientId, wanted: impl Fn(&OpKind) -> bool) -> Vec<u64> {
    log.iter()
        .filter(|o| o.author == who && wanted(&o.op.kind))
        .map(|o| o.seq)
        .collect()
}

/// `who` among the replay's participants.
fn participant(replay: &Replay, who: ClientId) -> &Participant {
    replay
        .participants()
        .iter()
        .find(|p| p.author == who)
        .expect("a participant")
}

/// A relay on 127.0.0.1:0 with `config`, and a proxy in front of it.
fn start_relay(runtime: &tokio::runtime::Runtime, config: Config) -> (Relay, Proxy) {
    let relay = Relay::start(runtime, config);
    let proxy = Proxy::start(runtime, relay.addr);
    (relay, proxy)
}

/// How often both ends of the idle link ping when it is quiet.
const PING: Duration = Duration::from_millis(100);
/// How long a silence makes either end give the link up: twenty pings, so
/// that only a stall of two whole seconds on a loaded machine could drop a
/// live link.
const SILENCE: Duration = Duration::from_secs(2);

#[test]
fn an_idle_link_stays_up_and_a_dead_one_is_noticed() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = Config {
        heartbeat_interval: PING,
        heartbeat_timeout: SILENCE,
        ..Config::default()
    };
    let (_relay, proxy) = start_relay(&runtime, config);
    let url = proxy.url("quiet");
    let mut carol = Session::offline(identity("Carol"));
    carol.set_liveness(Liveness {
        ping_interval: PING,
        silence_limit: SILENCE,
    });
    carol.join(&url, runtime.handle(), || {}).unwrap();
    wait_for("Carol is connected", &mut [&mut carol], |s| settled(s[0]));

    // Idle for half as long again as the silence limit, the relay's
    // heartbeat timeout too: without pings and pongs keeping both ends sure
    // of each other, the link would drop in this time.
    let idle_until = std::time::Instant::now() + SILENCE * 3 / 2;
    while std::time::Instant::now() < idle_until {
        carol.poll();
        assert_eq!(
            *carol.status(),
            ConnectionStatus::Connected,
            "an idle link dropped"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    // The link dies silently (no FIN, no RST): the silence gives it away.
    proxy.freeze();
    wait_for(
        "Carol notices the dead link",
        &mut [&mut carol],
        |s| matches!(s[0].status(), ConnectionStatus::Reconnecting { reason, .. } if reason.contains("stopped answering")),
    );
    let stroke = draw(
        &mut carol,
        &line(Point::new(0.0, 0.0), 10),
        Color::rgb(9, 9, 9),
    );
    proxy.cut();
    proxy.restore();
    wait_for(
        "Carol is back and her stroke is sequenced",
        &mut [&mut carol],
        |s| settled(s[0]),
    );
    assert_eq!(
        carol.board().object(stroke).map(|s| s.data.points.len()),
        Some(10)
    );
}

/// Two people edit the same objects at once through a real relay: per-property
/// edits both survive, a delete wins over a concurrent move, undo is shared, and
/// the boards end identical.
#[test]
fn concurrent_object_edits_converge_through_the_relay() {
    use tabula_shared::{Fill, ObjectData, ObjectId, ObjectKind, Property};

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_relay, proxy) = start_relay(&runtime, Config::default());
    let url = proxy.url("objects");
    let mut alice = Session::offline(identity("Alice"));
    let mut bob = Session::offline(identity("Bob"));
    alice.join(&url, runtime.handle(), || {}).unwrap();
    bob.join(&url, runtime.handle(), || {}).unwrap();

    let (rect, text) = (ObjectId::random(), ObjectId::random());
    let data = |kind, points: Vec<Point>, text: &str| ObjectData {
        kind,
        points,
        color: Color::rgb(0, 0, 0),
        width: 2.0,
        fill: Fill::None,
        text: text.to_owned(),
        font_size: 24.0,
    };
    alice.perform(vec![
        Op::new(OpKind::Create {
            object: rect,
            data: data(
                ObjectKind::Rectangle,
                vec![Point::new(0.0, 0.0), Point::new(50.0, 40.0)],
                "",
            ),
        }),
        Op::new(OpKind::Create {
            object: text,
            data: data(ObjectKind::Text, vec![Point::new(0.0, 60.0)], "draft"),
        }),
    ]);
    wait_for("Bob sees both", &mut [&mut alice, &mut bob], |s| {
        s.iter()
            .all(|s| settled(s) && s.board().object_count() == 2)
    });

    // At once: Alice moves the box and rewrites the text; Bob deletes the box
    // and recolours the text.
    let red = Color::rgb(200, 0, 0);
    let set = |object, property| Op::new(OpKind::Set { object, property });
    alice.perform(vec![set(rect, Property::Offset(Point::new(30.0, 0.0)))]);
    alice.perform(vec![set(text, Property::Text("final".to_owned()))]);
    bob.perform(vec![Op::new(OpKind::Delete { object: rect })]);
    bob.perform(vec![set(text, Property::Color(red))]);
    wait_for("both settle", &mut [&mut alice, &mut bob], |s| {
        s.iter().all(|s| settled(s)) && s[0].board().last_seq() == s[1].board().last_seq()
    });
    assert_eq!(alice.board(), bob.board(), "identical boards");
    assert!(alice.board().object(rect).is_none(), "the delete wins");
    let t = alice.board().object(text).unwrap();
    assert_eq!((t.data.text.as_str(), t.data.color), ("final", red));

    // Undo is shared: Bob takes back his recolour and his delete, Alice her
    // text; everyone sees it.
    bob.undo();
    bob.undo();
    alice.undo();
    wait_for("the undos arrive", &mut [&mut alice, &mut bob], |s| {
        s.iter().all(|s| settled(s)) && s[0].board().last_seq() == s[1].board().last_seq()
    });
    assert_eq!(alice.board(), bob.board(), "identical boards after undo");
    let t = bob.board().object(text).unwrap();
    assert_eq!(
        (t.data.text.as_str(), t.data.color),
        ("draft", Color::rgb(0, 0, 0))
    );
    assert!(bob.board().object(rect).is_some(), "the box is restored");
}

#[test]
fn a_late_joiner_of_a_long_session_starts_from_a_snapshot_and_gets_the_whole_history() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // The room is kept in a file, where the test can see the relay's snapshots.
    let data = tempfile::tempdir().unwrap();
    let config = Config {
        snapshot_every: 50,
        data_dir: Some(data.path().to_path_buf()),
        ..Config::default()
    };
    let relay = Relay::start(&runtime, config);
    let url = relay.url("long");
    let room_file = data.path().join("rooms").join("long.tabula");
    let snapshots = |_: &[&mut Session]| {
        // The file may be between writes; it is looked at again.
        SessionFile::open_read_only_unchecked(&room_file)
            .and_then(|file| support::snapshot_seqs(&file))
            .map_or(0, |seqs| seqs.len())
    };

    let mut alice = Session::offline(identity("Alice"));
    alice.join(&url, runtime.handle(), || {}).unwrap();
    wait_for("Alice is in", &mut [&mut alice], |s| settled(s[0]));
    // Twenty strokes, in two halves of more than fifty ops each: the relay
    // snapshots the room after the first half and again after the second.
    let mut strokes = Vec::new();
    for i in 0..20 {
        let from = Point::new(0.0, i as f32 * 20.0);
        strokes.push(draw(&mut alice, &line(from, 10), Color::rgb(0, 0, 0)));
        if i == 9 {
            wait_for("the relay has a snapshot", &mut [&mut alice], |s| {
                snapshots(s) >= 1
            });
        }
    }
    for &stroke in strokes.iter().step_by(3) {
        alice.submit(Op::new(OpKind::Delete { object: stroke }));
    }
    wait_for("Alice's ops are all sequenced", &mut [&mut alice], |s| {
        settled(s[0])
    });
    let head = alice.board().last_seq();
    assert_eq!(drawn(alice.log()).len(), 20 * 11 + 7);
    assert_eq!(alice.log().len() as u64, head, "her ops and her join");
    // The relay's snapshotter keeps a snapshot in memory (where a welcome
    // takes it from) before it makes the next: once a second is in the file,
    // the first is certainly there for Bob.
    wait_for("the relay has two snapshots", &mut [&mut alice], |s| {
        snapshots(s) >= 2
    });

    let mut bob = Session::offline(identity("Bob"));
    bob.join(&url, runtime.handle(), || {}).unwrap();
    // Bob's join is recorded right after what was there.
    let joined = head + 1;
    wait_for(
        "Bob has the board, his join and the whole history",
        &mut [&mut alice, &mut bob],
        |s| {
            s.iter()
                .all(|s| settled(s) && s.board().last_seq() == joined)
                && s[1].history_progress().is_none()
        },
    );
    let from = bob
        .relay_snapshot()
        .expect("Bob's board came from the relay's snapshot");
    assert!((50..=head).contains(&from), "a snapshot of op {from}");
    assert_eq!(bob.board().snapshot(), alice.board().snapshot());
    assert_eq!(bob.log(), alice.log(), "the same history, op for op");
    assert_eq!(joins(bob.log(), bob.me().client), [joined]);
    assert_eq!(bob.board().object_count(), 13, "20 strokes, 7 deleted");

    // Drawing goes on for both.
    let late = draw(
        &mut bob,
        &line(Point::new(300.0, 0.0), 4),
        Color::rgb(0, 90, 0),
    );
    wait_for(
        "Alice sees Bob's stroke",
        &mut [&mut alice, &mut bob],
        |s| settled(s[1]) && s[0].board().object(late).is_some(),
    );
    assert_eq!(bob.log(), alice.log());

    alice.leave();
    bob.leave();
    relay.stop(&runtime);
}

/// Issue #5: the relay records who came and went, so the replay of a live room
/// (and of the file it is saved to) shows each person's stay, from the join to
/// the leave.
#[test]
fn the_replay_of_a_live_room_shows_who_joined_and_who_left() {
    use tabula_app::app::TabulaApp;
    use tabula_app::files::opening::load_session;
    use tabula_app::files::saving::save_session;

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_relay, proxy) = start_relay(&runtime, Config::default());
    let url = proxy.url("visits");
    let mut alice = Session::offline(identity("Alice"));
    let mut bob = Session::offline(Identity {
        color: Color::rgb(20, 120, 220),
        ..identity("Bob")
    });
    alice.join(&url, runtime.handle(), || {}).unwrap();
    wait_for("Alice is in", &mut [&mut alice], |s| settled(s[0]));
    bob.join(&url, runtime.handle(), || {}).unwrap();
    wait_for("Bob is in", &mut [&mut alice, &mut bob], |s| {
        s.iter().all(|s| settled(s) && s.peers().count() == 1)
    });
    let stroke = draw(
        &mut bob,
        &line(Point::new(0.0, 0.0), 8),
        Color::rgb(0, 0, 0),
    );
    wait_for(
        "Bob's stroke is sequenced",
        &mut [&mut alice, &mut bob],
        |s| settled(s[1]) && s[0].board().object(stroke).is_some(),
    );
    let drawn_by_bob = drawn(bob.log()).len() as u64;
    let (a, b) = (alice.me().client, bob.me().client);
    bob.leave();
    wait_for("Alice learns that Bob left", &mut [&mut alice], |s| {
        s[0].peers().count() == 0 && !leaves(s[0].log(), b).is_empty()
    });

    // Where the relay put each record, from Alice's own copy of the room.
    let log = alice.log().to_vec();
    let (alice_joined, bob_joined, bob_left) = (joins(&log, a), joins(&log, b), leaves(&log, b));
    assert_eq!(
        (alice_joined.len(), bob_joined.len(), bob_left.len()),
        (1, 1, 1)
    );
    assert!(alice_joined[0] < bob_joined[0] && bob_joined[0] < bob_left[0]);
    assert_eq!(bob_left[0], log.len() as u64, "Bob's leave is the last op");
    assert!(leaves(&log, a).is_empty());
    let bobs: Vec<u64> = seqs_of(&log, b, |kind| !kind.is_presence());
    assert_eq!(bobs.len() as u64, drawn_by_bob);
    assert!(
        bobs.iter()
            .all(|&seq| bob_joined[0] < seq && seq < bob_left[0])
    );

    let check_participants = |log: &[SequencedOp]| {
        let replay = Replay::from_ops(log.to_vec()).unwrap();
        let (alice, bob) = (
            participant(&replay, a).clone(),
            participant(&replay, b).clone(),
        );
        assert_eq!(
            alice,
            Participant {
                author: a,
                identity: Some(("Alice".to_owned(), COLOR)),
                visits: vec![Visit {
                    joined: alice_joined[0],
                    left: None
                }],
                ops: 0,
            },
            "Alice is still there"
        );
        assert_eq!(
            bob,
            Participant {
                author: b,
                identity: Some(("Bob".to_owned(), Color::rgb(20, 120, 220))),
                visits: vec![Visit {
                    joined: bob_joined[0],
                    left: Some(bob_left[0])
                }],
                ops: drawn_by_bob,
            },
            "Bob's stay ends where his leave was recorded"
        );
        assert_eq!(replay.participants().len(), 2);
    };

    // The app's replay of the live room.
    let mut app = TabulaApp::new(alice, runtime.handle().clone());
    app.start_replay();
    let view = app.replay().expect("replaying");
    assert!(view.is_live());
    assert_eq!(view.replay().ops(), &log[..]);
    check_participants(view.replay().ops());

    // And of the file it is saved to.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("visits.tabula");
    save_session(&path, "visits", app.session().log()).unwrap();
    let saved = load_session(&path).unwrap();
    assert_eq!(saved, log);
    check_participants(&saved);
}

/// A board opened from a room's file brings its drawing to another room, but
/// not the joins and leaves recorded in it: only a relay records those (it
/// would refuse them), and the new room records its own.
#[test]
fn a_saved_rooms_board_joins_another_room_without_its_joins_and_leaves() {
    use tabula_shared::{Fill, ObjectData, ObjectId, ObjectKind};

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_relay, proxy) = start_relay(&runtime, Config::default());
    let url = proxy.url("again");
    let (someone, object) = (ClientId::random(), ObjectId::random());
    let recorded = |seq, kind| SequencedOp {
        seq,
        author: someone,
        timestamp_ms: 1_700_000_000_000 + seq * 1000,
        op: Op::new(kind),
    };
    let box_data = ObjectData {
        kind: ObjectKind::Rectangle,
        points: vec![Point::new(0.0, 0.0), Point::new(40.0, 30.0)],
        color: Color::rgb(0, 0, 0),
        width: 2.0,
        fill: Fill::None,
        text: String::new(),
        font_size: 20.0,
    };
    let saved = vec![
        recorded(
            1,
            OpKind::Joined {
                name: "Someone".to_owned(),
                color: Color::rgb(1, 2, 3),
            },
        ),
        recorded(
            2,
            OpKind::Create {
                object,
                data: box_data,
            },
        ),
        recorded(3, OpKind::Left),
    ];
    let mut dana = Session::offline(identity("Dana"));
    dana.load(saved);
    dana.join(&url, runtime.handle(), || {}).unwrap();
    wait_for("Dana's board is in the room", &mut [&mut dana], |s| {
        settled(s[0]) && !drawn(s[0].log()).is_empty()
    });
    assert_eq!(dana.last_relay_error(), None);
    assert!(dana.board().object(object).is_some());
    let me = dana.me().client;
    let log = dana.log();
    assert!(log.iter().all(|o| o.author == me), "{log:?}");
    assert_eq!(drawn(log).len(), 1, "the box");
    assert_eq!(joins(log, me).len(), 1, "the room's record of Dana");
    assert!(leaves(log, me).is_empty());
}
