//! Live drags: a move, a resize or a shape being dragged out is shown to the
//! others while it is dragged, as a preview in our presence that ends with
//! the op it lands as; the others show it over their board until that op
//! has arrived. In the window with a detached connection (what goes to the
//! relay, what comes back), and end to end through a real relay.

use egui::epaint::RectShape;
use egui::{Key, Pos2, Shape, pos2};
use egui_kittest::Harness;
use tabula_app::app::TabulaApp;
use tabula_app::canvas::previews::{PeerDrag, PeerDrags};
use tabula_app::net::connection::{Connection, Remote};
use tabula_app::net::{Command, ConnectionStatus, Event};
use tabula_app::session::Session;
use tabula_server::Config;
use tabula_shared::presence::{Change, MAX_PREVIEW_OBJECTS, Preview};
use tabula_shared::{
    ClientId, Color, Fill, ObjectData, ObjectId, ObjectKind, Op, OpId, OpKind, PeerInfo, Point,
    Presence, Property, SequencedOp,
};

use crate::support::{self, Relay, app, identity, window};

/// The frames a drag takes to get from where it starts to where it ends.
const STEPS: usize = 6;

/// The app with a detached connection, welcomed into a room with Bob.
struct Rig {
    /// The app in a headless window.
    harness: Harness<'static, TabulaApp>,
    /// Stands in for the network task.
    remote: Remote,
    /// Someone else in the room.
    bob: PeerInfo,
}

fn rig() -> Rig {
    let (connection, remote) = Connection::detached();
    let harness = window(app(Session::with_connection(identity("Ada"), connection)));
    let bob = PeerInfo {
        client: ClientId::random(),
        name: "Bob".to_owned(),
        color: Color::rgb(0x19, 0x71, 0xc2),
    };
    let mut rig = Rig {
        harness,
        remote,
        bob,
    };
    rig.send([
        Event::Status(ConnectionStatus::Connected),
        support::welcome("demo", vec![rig.bob.clone()]),
    ]);
    rig
}

impl Rig {
    /// Hands the app these events and runs a frame.
    fn send(&mut self, events: impl IntoIterator<Item = Event>) {
        for event in events {
            self.remote
                .events
                .send(event)
                .expect("the app takes events");
        }
        self.harness.run();
    }

    /// What the app sent since last asked.
    fn sent(&mut self) -> Vec<Command> {
        std::iter::from_fn(|| self.remote.commands.try_recv().ok()).collect()
    }

    /// The previews among what the app sent since last asked, in order.
    fn previews(&mut self) -> Vec<Option<Preview>> {
        self.sent()
            .into_iter()
            .filter_map(|c| match c {
                Command::Presence(presence) => Some(presence.preview),
                _ => None,
            })
            .collect()
    }

    /// Bob's presence, showing `preview`.
    fn bob_shows(&mut self, preview: Option<Preview>) {
        let presence = Presence {
            preview,
            ..Presence::default()
        };
        let client = self.bob.client;
        self.send([Event::Presence { client, presence }]);
    }

    /// Where a canvas rectangle is on the screen.
    fn on_screen(&self, min: Point, max: Point) -> egui::Rect {
        let screen_from_canvas = self.harness.state().canvas().screen_from_canvas();
        screen_from_canvas * egui::Rect::from_min_max(pos2(min.x, min.y), pos2(max.x, max.y))
    }

    /// Whether a rectangle was painted at `area` (screen) in the last frame.
    fn painted_at(&self, area: egui::Rect) -> bool {
        fn rects<'a>(shape: &'a Shape, out: &mut Vec<&'a RectShape>) {
            match shape {
                Shape::Rect(rect) => out.push(rect),
                Shape::Vec(shapes) => shapes.iter().for_each(|s| rects(s, out)),
                _ => {}
            }
        }
        let output = self.harness.output();
        let mut found = Vec::new();
        for clipped in &output.shapes {
            rects(&clipped.shape, &mut found);
        }
        found.iter().any(|r| {
            (r.rect.min - area.min).length() < 0.5 && (r.rect.max - area.max).length() < 0.5
        })
    }

    /// How many times Bob's name is painted (the people list, and a tag on
    /// each drag of his on show).
    fn bob_tags(&self) -> usize {
        self.harness
            .output()
            .shapes
            .iter()
            .filter(|s| matches!(&s.shape, Shape::Text(t) if t.galley.text() == "Bob"))
            .count()
    }
}

/// Presses at `from`, moves in [`STEPS`] frames to `to`, keeps holding.
fn press_and_move(harness: &mut Harness<'_, TabulaApp>, from: Pos2, to: Pos2) {
    support::press_and_move(harness, from, to, STEPS);
}

/// The preview of the last presence among `commands` that has one.
fn last_preview(commands: &[Command]) -> Option<Preview> {
    commands.iter().rev().find_map(|c| match c {
        Command::Presence(p) => p.preview.clone(),
        _ => None,
    })
}

/// The ops among `commands`.
fn ops(commands: &[Command]) -> Vec<&Op> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Send(op) => Some(op),
            _ => None,
        })
        .collect()
}

#[test]
fn a_shape_or_move_dragged_shows_the_room_its_change_then_the_op_it_lands_as() {
    let mut rig = rig();
    rig.harness.key_press(Key::R);
    rig.harness.run();
    rig.sent();

    // A rectangle dragged out: growing previews, then the op that makes it.
    press_and_move(&mut rig.harness, pos2(300.0, 300.0), pos2(500.0, 450.0));
    let dragging = rig.previews();
    rig.harness.drop_at(pos2(500.0, 450.0));
    rig.harness.run();
    let commands = rig.sent();
    let create = *ops(&commands).first().expect("the rectangle's op");
    let OpKind::Create { object: rect, data } = &create.kind else {
        panic!("{create:?}");
    };
    let widths: Vec<f32> = dragging
        .iter()
        .skip_while(|p| p.is_none())
        .map(|p| match p {
            Some(Preview {
                change: Change::Shape(shape),
                landing: None,
            }) => {
                assert_eq!(shape.kind, ObjectKind::Rectangle);
                shape.points[1].x - shape.points[0].x
            }
            other => panic!("not a shape being dragged out: {other:?}"),
        })
        .collect();
    assert!(widths.len() >= 3, "{widths:?}");
    assert!(widths.windows(2).all(|w| w[1] > w[0]), "{widths:?}");
    let landed = last_preview(&commands);
    assert_eq!(
        landed,
        Some(Preview {
            change: Change::Shape(data.clone()),
            landing: Some(create.id),
        })
    );
    // Until the relay has it, the preview stays; then it goes.
    rig.harness.run();
    assert_eq!(rig.previews(), Vec::<Option<Preview>>::new());
    rig.send([Event::Acked {
        op: create.id,
        seq: 1,
        timestamp_ms: 0,
    }]);
    assert_eq!(rig.previews(), vec![None]);

    // Moving it by its edge: the objects and how far, then the op.
    rig.harness.key_press(Key::V);
    rig.harness.run();
    press_and_move(&mut rig.harness, pos2(300.0, 380.0), pos2(400.0, 380.0));
    let dragging = rig.previews();
    rig.harness.drop_at(pos2(400.0, 380.0));
    rig.harness.run();
    let commands = rig.sent();
    let set = *ops(&commands).last().expect("the move's op");
    assert!(matches!(
        set.kind,
        OpKind::Set {
            property: Property::Offset(_),
            ..
        }
    ));
    let last = dragging.last().cloned().flatten().expect("a move shown");
    assert_eq!(
        last.change,
        Change::Move {
            objects: vec![*rect],
            by: Point::new(100.0, 0.0)
        }
    );
    let landed = last_preview(&commands);
    assert_eq!(landed.and_then(|p| p.landing), Some(set.id));
    rig.send([Event::Acked {
        op: set.id,
        seq: 2,
        timestamp_ms: 0,
    }]);
    assert_eq!(rig.previews(), vec![None]);
}

/// Draws a rectangle from (300, 300) to (500, 450) on screen, has the relay
/// acknowledge it, and selects it: its id.
fn selected_rectangle(rig: &mut Rig) -> ObjectId {
    rig.harness.key_press(Key::R);
    rig.harness.run();
    support::drag(
        &mut rig.harness,
        pos2(300.0, 300.0),
        pos2(500.0, 450.0),
        STEPS,
    );
    let commands = rig.sent();
    let create = *ops(&commands).first().expect("the rectangle's op");
    let OpKind::Create { object, .. } = create.kind else {
        panic!("{create:?}");
    };
    let op = create.id;
    rig.send([Event::Acked {
        op,
        seq: 1,
        timestamp_ms: 0,
    }]);
    rig.harness.key_press(Key::V);
    rig.harness.run();
    support::click(&mut rig.harness, pos2(300.0, 380.0));
    rig.sent();
    object
}

#[test]
fn a_resize_dragged_shows_its_points_and_escape_takes_a_drag_back() {
    let mut rig = rig();
    let rect = &selected_rectangle(&mut rig);

    // Its bottom-right corner dragged: its new points, then the op.
    let corner = rig
        .harness
        .state()
        .session()
        .board()
        .object(*rect)
        .unwrap()
        .points()
        .nth(1)
        .unwrap();
    let screen = rig.harness.state().canvas().screen_from_canvas() * pos2(corner.x, corner.y);
    press_and_move(&mut rig.harness, screen, screen + egui::vec2(40.0, 30.0));
    let dragging = rig.previews();
    rig.harness.drop_at(screen + egui::vec2(40.0, 30.0));
    rig.harness.run();
    let commands = rig.sent();
    let reshape = *ops(&commands).last().expect("the resize's op");
    let OpKind::Set {
        property: Property::Points(points),
        ..
    } = &reshape.kind
    else {
        panic!("{reshape:?}");
    };
    assert!(matches!(
        dragging.last(),
        Some(Some(Preview { change: Change::Reshape { object, .. }, landing: None })) if object == rect
    ));
    let landed = last_preview(&commands);
    assert_eq!(
        landed,
        Some(Preview {
            change: Change::Reshape {
                object: *rect,
                points: points.clone()
            },
            landing: Some(reshape.id),
        })
    );
    rig.send([Event::Acked {
        op: reshape.id,
        seq: 3,
        timestamp_ms: 0,
    }]);
    rig.sent();

    // A move let go of with Escape: shown, then none, and no op.
    press_and_move(&mut rig.harness, pos2(300.0, 380.0), pos2(350.0, 420.0));
    assert!(matches!(
        rig.previews().last(),
        Some(Some(Preview {
            change: Change::Move { .. },
            landing: None
        }))
    ));
    rig.harness.key_press(Key::Escape);
    rig.harness.run();
    rig.harness.drop_at(pos2(350.0, 420.0));
    rig.harness.run();
    let commands = rig.sent();
    assert_eq!(ops(&commands).len(), 0, "{commands:?}");
    let previews: Vec<_> = commands
        .iter()
        .filter_map(|c| match c {
            Command::Presence(p) => Some(p.preview.clone()),
            _ => None,
        })
        .collect();
    assert!(
        !previews.is_empty() && previews.iter().all(Option::is_none),
        "{previews:?}"
    );
    assert_eq!(
        rig.harness
            .state()
            .session()
            .board()
            .object(*rect)
            .unwrap()
            .offset,
        Point::default(),
        "the move let go of moved nothing"
    );
}

/// Bob's rectangle from (100, 100) to (200, 160), as the relay sends it.
fn bobs_rectangle(rig: &Rig) -> (ObjectId, Event) {
    let object = ObjectId::random();
    let data = ObjectData {
        kind: ObjectKind::Rectangle,
        points: vec![Point::new(100.0, 100.0), Point::new(200.0, 160.0)],
        color: Color::rgb(0x19, 0x71, 0xc2),
        width: 3.0,
        fill: Fill::None,
        text: String::new(),
        font_size: 24.0,
    };
    let op = SequencedOp {
        seq: 1,
        author: rig.bob.client,
        timestamp_ms: 0,
        op: Op::new(OpKind::Create { object, data }),
    };
    (object, Event::Op(op))
}

#[test]
fn a_peers_drag_shows_where_it_goes_until_its_op_arrives_and_goes_when_they_leave() {
    let mut rig = rig();
    let (rect, created) = bobs_rectangle(&rig);
    rig.send([created]);
    let (min, max) = (Point::new(100.0, 100.0), Point::new(200.0, 160.0));
    let by = Point::new(300.0, 50.0);
    let old = rig.on_screen(min, max);
    let new = rig.on_screen(min.offset(by), max.offset(by));
    assert!(rig.painted_at(old) && !rig.painted_at(new));
    assert_eq!(rig.bob_tags(), 1, "Bob in the people list");

    // Bob drags it: shown where it goes, not where it was, with his tag.
    let moving = |landing| Preview {
        change: Change::Move {
            objects: vec![rect],
            by,
        },
        landing,
    };
    rig.bob_shows(Some(moving(None)));
    assert!(rig.painted_at(new) && !rig.painted_at(old));
    assert_eq!(rig.bob_tags(), 2, "Bob's tag on his drag");
    assert_eq!(
        rig.harness
            .state()
            .session()
            .board()
            .object(rect)
            .unwrap()
            .offset,
        Point::default(),
        "the board is untouched"
    );

    // He lets go; his presence moves on before his op is here: still shown
    // where it goes.
    let landing = OpId::random();
    rig.bob_shows(Some(moving(Some(landing))));
    rig.bob_shows(None);
    rig.harness.run();
    assert!(rig.painted_at(new) && !rig.painted_at(old));

    // The op arrives: the board has it there, and the preview is gone.
    let mut op = Op::new(OpKind::Set {
        object: rect,
        property: Property::Offset(by),
    });
    op.id = landing;
    rig.send([Event::Op(SequencedOp {
        seq: 2,
        author: rig.bob.client,
        timestamp_ms: 0,
        op,
    })]);
    assert!(rig.painted_at(new) && !rig.painted_at(old));
    assert_eq!(rig.bob_tags(), 1, "no drag of Bob's on show");
    assert!(rig.harness.state().canvas().peer_drags().is_empty());

    // A shape he drags out shows faded in his style; a preview beyond the
    // caps, or of an object gone, shows nothing.
    let shape = ObjectData {
        kind: ObjectKind::Ellipse,
        points: vec![Point::new(0.0, 0.0), Point::new(50.0, 50.0)],
        color: Color::rgb(200, 0, 0),
        width: 2.0,
        fill: Fill::None,
        text: String::new(),
        font_size: 24.0,
    };
    rig.bob_shows(Some(Preview {
        change: Change::Shape(shape),
        landing: None,
    }));
    assert_eq!(rig.bob_tags(), 2);
    rig.bob_shows(Some(Preview {
        change: Change::Move {
            objects: vec![rect; MAX_PREVIEW_OBJECTS + 1],
            by,
        },
        landing: None,
    }));
    assert_eq!(rig.bob_tags(), 2, "the malformed update was dropped");
    rig.bob_shows(Some(Preview {
        change: Change::Move {
            objects: vec![ObjectId::random()],
            by,
        },
        landing: None,
    }));
    assert_eq!(rig.bob_tags(), 1, "nothing of it is on the board");

    // He drags it again and leaves mid-drag: it is back where the board has it.
    rig.bob_shows(Some(moving(None)));
    let further = rig.on_screen(min.offset(by).offset(by), max.offset(by).offset(by));
    assert!(rig.painted_at(further));
    let client = rig.bob.client;
    rig.send([Event::Peers {
        joined: Vec::new(),
        left: vec![client],
    }]);
    assert!(rig.painted_at(new) && !rig.painted_at(further));
    assert_eq!(rig.bob_tags(), 0);
}

#[test]
fn a_move_dragged_in_one_app_is_shown_live_by_another_through_a_relay_then_lands() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let relay = Relay::start(&runtime, Config::default());
    let url = format!("ws://{}/studio", relay.addr);
    let mut alice = Session::offline(identity("Alice"));
    alice.join(&url, runtime.handle(), || {}).unwrap();
    let mut alice = window(app(alice));
    let mut bob = Session::offline(identity("Bob"));
    bob.join(&url, runtime.handle(), || {}).unwrap();
    let mut shown = PeerDrags::default();
    support::eventually("Alice and Bob see each other", || {
        alice.run();
        poll_bob(&mut bob, &mut shown, 0.0);
        (bob.peers().count() == 1 && alice.state().session().peers().count() == 1).then_some(())
    });

    alice.key_press(Key::R);
    alice.run();
    support::drag(&mut alice, pos2(300.0, 300.0), pos2(500.0, 450.0), STEPS);
    let rect = alice.state().session().board().objects().next().unwrap().id;
    support::eventually("Bob has Alice's rectangle", || {
        alice.run();
        poll_bob(&mut bob, &mut shown, 0.0);
        bob.board().object(rect).map(|_| ())
    });

    // Each step of Alice's move reaches Bob as a preview.
    alice.key_press(Key::V);
    alice.run();
    let (from, to) = (pos2(300.0, 380.0), pos2(420.0, 380.0));
    alice.hover_at(from);
    alice.run();
    alice.drag_at(from);
    alice.run();
    for i in 1..=STEPS {
        alice.hover_at(from + (to - from) * (i as f32 / STEPS as f32));
        alice.run();
        let expected = alice.state().session().presence().preview.clone();
        assert!(
            matches!(&expected, Some(Preview { change: Change::Move { objects, .. }, landing: None }) if objects == &vec![rect]),
            "{expected:?}"
        );
        support::eventually("Bob sees Alice's drag as it is now", || {
            poll_bob(&mut bob, &mut shown, 0.0);
            let alices = bob.peers().next()?.presence.preview.clone();
            (alices == expected && shown.preview_of(alice_id(&alice)) == expected.as_ref())
                .then_some(())
        });
        assert_eq!(bob.board().object(rect).unwrap().offset, Point::default());
    }

    // She lets go: Bob gets the preview with its landing op and the op, in
    // either order, and then shows no preview, the board having the move.
    alice.drop_at(to);
    alice.run();
    let mut landings = Vec::new();
    support::eventually("Bob has the move, and Alice's presence no drag", || {
        alice.run();
        poll_bob(&mut bob, &mut shown, 0.0);
        let alices = bob.peers().next()?.presence.preview.clone();
        landings.extend(alices.as_ref().and_then(|p| p.landing));
        let moved = bob.board().object(rect)?.offset == Point::new(120.0, 0.0);
        (moved && alices.is_none()).then_some(())
    });
    // Whatever landing preview reached Bob named the move's op.
    let set = alice
        .state()
        .session()
        .log()
        .last()
        .expect("the move")
        .op
        .id;
    assert!(landings.iter().all(|l| *l == set), "{landings:?} {set:?}");
    assert!(shown.is_empty(), "the op is here: no preview on top of it");
    drop(alice);
    relay.stop(&runtime);
}

/// Bob's side, one poll at a time: his session, and what his canvas would
/// show of the others' drags.
fn poll_bob(bob: &mut Session, shown: &mut PeerDrags, now: f64) {
    bob.poll();
    let peers = bob.peers().map(|p| PeerDrag {
        client: p.info.client,
        name: &p.info.name,
        color: p.info.color,
        preview: p.presence.preview.as_ref(),
    });
    shown.update(peers, |op| bob.has_op(op), now);
}

/// Alice's client id.
fn alice_id(alice: &Harness<'_, TabulaApp>) -> ClientId {
    alice.state().session().me().client
}
