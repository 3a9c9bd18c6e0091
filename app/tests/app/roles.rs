//! Roles and operators: the window of someone who may only view the room
//! (View only, no drawing tools, nothing sent), an operator's actions in the
//! people list (a detached connection shows what goes to the relay), and
//! through a real relay a viewer's link, a kick, and a room's own password.

use egui::accesskit::Role as A11y;
use egui::pos2;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use tabula_app::app::TabulaApp;
use tabula_app::net::connection::{Connection, Remote};
use tabula_app::net::{Command, ConnectionStatus, Event};
use tabula_app::session::Session;
use tabula_server::Config;
use tabula_shared::access::{Password, Role};
use tabula_shared::object::{Fill, ObjectData, ObjectKind};
use tabula_shared::{
    ClientId, Color, Moderation, ObjectId, Op, OpKind, PeerInfo, Point, RoomAccess,
};

use crate::support::{self, Proxy, Relay, app, identity, window};

/// The app on a detached connection, and the connection's far end.
fn rig() -> (Harness<'static, TabulaApp>, Remote) {
    let (connection, remote) = Connection::detached();
    let harness = window(app(Session::with_connection(identity("Ada"), connection)));
    (harness, remote)
}

/// What the app sent since the last call.
fn sent(remote: &mut Remote) -> Vec<Command> {
    std::iter::from_fn(|| remote.commands.try_recv().ok()).collect()
}

/// Bob, someone else in the room.
fn bob() -> PeerInfo {
    PeerInfo {
        client: ClientId::random(),
        name: "Bob".to_owned(),
        color: Color::rgb(0x19, 0x71, 0xc2),
    }
}

/// Plays the relay welcoming us with `peers` in the room, then saying what
/// we may do.
fn welcomed(
    harness: &mut Harness<'static, TabulaApp>,
    remote: &Remote,
    peers: Vec<PeerInfo>,
    access: RoomAccess,
) {
    for event in [
        Event::Status(ConnectionStatus::Connected),
        support::welcome("class", peers),
        Event::Access(access),
    ] {
        remote.events.send(event).expect("the app listens");
    }
    harness.run();
}

/// What the relay says of a room with no operator but `operators`.
fn access(role: Role, operators: Vec<ClientId>) -> RoomAccess {
    RoomAccess {
        role,
        locked: false,
        view_only: false,
        password: false,
        operators,
        viewers: Vec::new(),
        invites: Vec::new(),
    }
}

#[test]
fn a_viewer_gets_view_only_and_no_drawing_tools_and_sends_nothing() {
    let (mut harness, mut remote) = rig();
    harness.get_by_label("Pen");
    welcomed(
        &mut harness,
        &remote,
        vec![bob()],
        access(Role::Viewer, Vec::new()),
    );
    assert!(
        harness.query_all_by_label("View only").count() >= 1,
        "View only shows"
    );
    for tool in ["Pen", "Highlighter", "Rectangle", "Text", "Eraser"] {
        assert!(harness.query_by_label(tool).is_none(), "{tool} is hidden");
    }
    // A drag on the board changes nothing and sends nothing.
    sent(&mut remote);
    support::drag(&mut harness, pos2(300.0, 300.0), pos2(600.0, 450.0), 10);
    assert_eq!(harness.state().session().board().object_count(), 0);
    assert!(
        !sent(&mut remote)
            .iter()
            .any(|command| matches!(command, Command::Send(_))),
        "no op went to the relay"
    );
    // Made an editor, the tools come back.
    remote
        .events
        .send(Event::Access(access(Role::Editor, Vec::new())))
        .unwrap();
    harness.run();
    harness.get_by_label("Pen");
    assert!(harness.query_by_label("View only").is_none());
}

#[test]
fn an_operator_runs_the_room_from_the_people_list() {
    let (mut harness, mut remote) = rig();
    let bob = bob();
    let me = harness.state().session().me().client;
    welcomed(
        &mut harness,
        &remote,
        vec![bob.clone()],
        access(Role::Operator, vec![me]),
    );
    harness.get_by_label("operator");
    sent(&mut remote);
    let moderated = |remote: &mut Remote| -> Vec<Moderation> {
        sent(remote)
            .into_iter()
            .filter_map(|command| match command {
                Command::Moderate(moderation) => Some(moderation),
                _ => None,
            })
            .collect()
    };
    for (item, expected) in [
        (
            "Make operator",
            Moderation::SetRole {
                client: bob.client,
                role: Role::Operator,
            },
        ),
        (
            "Make viewer",
            Moderation::SetRole {
                client: bob.client,
                role: Role::Viewer,
            },
        ),
        ("Kick", Moderation::Kick { client: bob.client }),
    ] {
        harness.get_by_role_and_label(A11y::Button, "…").click();
        harness.run();
        harness.get_by_label(item).click();
        harness.run();
        assert_eq!(moderated(&mut remote), vec![expected], "{item}");
    }
    harness.get_by_label("Lock room").click();
    harness.run();
    assert_eq!(moderated(&mut remote), vec![Moderation::SetLocked(true)]);
    harness.get_by_label("View only for everyone").click();
    harness.run();
    assert_eq!(moderated(&mut remote), vec![Moderation::SetViewOnly(true)]);

    // An editor gets none of it.
    remote
        .events
        .send(Event::Access(access(Role::Editor, vec![bob.client])))
        .unwrap();
    harness.run();
    // Their "…" offers only to follow them.
    harness.get_by_role_and_label(A11y::Button, "…").click();
    harness.run();
    harness.get_by_label("Follow");
    assert!(harness.query_by_label("Make viewer").is_none());
    assert!(harness.query_by_label("Kick").is_none());
    harness.key_press(egui::Key::Escape);
    harness.run();
    assert!(harness.query_by_label("Lock room").is_none());
    harness.get_by_label("operator"); // Bob is one now.
}

/// Polls the sessions until `done` holds.
fn wait_for(what: &str, sessions: &mut [&mut Session], done: impl Fn(&[&mut Session]) -> bool) {
    support::eventually(what, || {
        for session in sessions.iter_mut() {
            session.poll();
        }
        done(sessions).then_some(())
    });
}

#[test]
fn a_viewer_link_admits_a_viewer_until_revoked_and_a_kick_is_for_good() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let relay = Relay::start(&runtime, Config::default());
    let url = relay.url("class");
    let mut ana = Session::offline(identity("Ana"));
    ana.join(&url, runtime.handle(), || {}).unwrap();
    wait_for("Ana runs the room", &mut [&mut ana], |s| s[0].is_operator());
    let link = ana.new_invite_link(&url, Role::Viewer).unwrap();
    assert!(link.contains("#invite="), "{link}");
    wait_for("the room keeps the link", &mut [&mut ana], |s| {
        s[0].access()
            .is_some_and(|access| access.invites.len() == 1)
    });

    let mut vic = Session::offline(identity("Vic"));
    vic.join(&link, runtime.handle(), || {}).unwrap();
    wait_for("Vic views", &mut [&mut ana, &mut vic], |s| {
        s[1].access()
            .is_some_and(|access| access.role == Role::Viewer)
            && !s[1].may_edit()
    });

    // Revoked, the link lets nobody else in.
    let invite = ana.access().unwrap().invites[0].invite;
    ana.moderate(Moderation::Revoke { invite });
    wait_for("the link is revoked", &mut [&mut ana], |s| {
        s[0].access()
            .is_some_and(|access| access.invites[0].revoked)
    });
    let mut late = Session::offline(identity("Late"));
    late.join(&link, runtime.handle(), || {}).unwrap();
    wait_for(
        "the late one is refused",
        &mut [&mut late],
        |s| matches!(s[0].status(), ConnectionStatus::Refused(reason) if reason.contains("revoked")),
    );

    // Kicked, Vic is cut off and stays out.
    ana.moderate(Moderation::Kick {
        client: vic.me().client,
    });
    wait_for(
        "Vic is removed",
        &mut [&mut ana, &mut vic],
        |s| matches!(s[1].status(), ConnectionStatus::Refused(reason) if reason.contains("removed")),
    );
    ana.leave();
    relay.stop(&runtime);
}

#[test]
fn a_rooms_own_password_keeps_out_whoever_lacks_it_and_the_dialog_asks() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let relay = Relay::start(&runtime, Config::default());
    let url = relay.url("vault");
    let mut ana = Session::offline(identity("Ana"));
    ana.set_password(Password::new("open sesame"));
    ana.set_new_room_password(Password::new("open sesame"));
    ana.join(&url, runtime.handle(), || {}).unwrap();
    wait_for("Ana made the room", &mut [&mut ana], |s| {
        s[0].access().is_some_and(|access| access.password)
    });
    let mut bo = Session::offline(identity("Bo"));
    bo.set_password(Password::new("open sesam"));
    bo.join(&url, runtime.handle(), || {}).unwrap();
    wait_for("a wrong password is refused", &mut [&mut bo], |s| {
        s[0].status().needs_password()
    });
    bo.set_password(Password::new("open sesame"));
    bo.join(&url, runtime.handle(), || {}).unwrap();
    wait_for("the right one lets Bo in", &mut [&mut ana, &mut bo], |s| {
        *s[1].status() == ConnectionStatus::Connected && s[0].peers().count() == 1
    });

    // In the window, a join that turns out to need the password reopens
    // the dialog asking for it.
    let mut cy = Session::offline(identity("Cy"));
    cy.join(&url, runtime.handle(), || {}).unwrap();
    let mut harness = window(app(cy));
    support::eventually("the dialog asks for the password", || {
        harness.step();
        harness
            .query_by_label_contains("needs a password or code")
            .map(|_| ())
    });
    harness.get_by_label("Join a room");
    drop(harness);
    ana.leave();
    bo.leave();
    relay.stop(&runtime);
}

#[test]
fn a_room_with_its_own_password_on_a_relay_with_another_asks_for_both() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let relay = Relay::with_password(&runtime, "K7QX2M");
    let url = relay.url("vault");
    let mut ana = Session::offline(identity("Ana"));
    ana.set_password(Password::new("K7QX2M"));
    ana.set_room_password(Password::new("open sesame"));
    ana.set_new_room_password(Password::new("open sesame"));
    ana.join(&url, runtime.handle(), || {}).unwrap();
    wait_for("Ana made the room", &mut [&mut ana], |s| {
        s[0].access().is_some_and(|access| access.password)
    });
    // The relay's code alone: the relay lets Bo by, the room does not.
    let mut bo = Session::offline(identity("Bo"));
    bo.set_password(Password::new("K7QX2M"));
    bo.join(&url, runtime.handle(), || {}).unwrap();
    wait_for("the room refuses the relay's code", &mut [&mut bo], |s| {
        s[0].status().refused_room_password()
    });

    // In the window, the dialog keeps the code and asks for the room's own;
    // typed, it lets Cy in (the app joins again on this test's runtime).
    let mut cy = Session::offline(identity("Cy"));
    cy.set_password(Password::new("K7QX2M"));
    cy.join(&url, runtime.handle(), || {}).unwrap();
    let mut cy = TabulaApp::new(cy, runtime.handle().clone());
    cy.set_documents(support::documents());
    let mut harness = window(cy);
    support::eventually("the dialog asks for the room's own password", || {
        harness.step();
        harness
            .query_by_label_contains("a password of its own")
            .map(|_| ())
    });
    harness.get_by_label("The room's own password");
    harness.event(egui::Event::Text("open sesame".to_owned()));
    harness.run();
    harness.key_press(egui::Key::Enter);
    support::eventually("Cy is in", || {
        harness.step();
        (*harness.state().session().status() == ConnectionStatus::Connected).then_some(())
    });
    drop(harness);
    ana.leave();
    relay.stop(&runtime);
}

/// A new rectangle `object` at `x`.
fn rectangle(object: ObjectId, x: f32) -> Op {
    Op::new(OpKind::Create {
        object,
        data: ObjectData {
            kind: ObjectKind::Rectangle,
            points: vec![Point::new(x, 100.0), Point::new(x + 40.0, 160.0)],
            color: Color::rgb(30, 30, 30),
            width: 2.0,
            fill: Fill::None,
            text: String::new(),
            font_size: 20.0,
        },
    })
}

#[test]
fn an_op_the_relay_refuses_is_withdrawn_said_and_never_sent_again() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let relay = Relay::start(&runtime, Config::default());
    let proxy = Proxy::start(&runtime, relay.addr);
    let mut ana = Session::offline(identity("Ana"));
    ana.join(&relay.url("class"), runtime.handle(), || {})
        .unwrap();
    wait_for("Ana runs the room", &mut [&mut ana], |s| s[0].is_operator());
    let mut bo = Session::offline(identity("Bo"));
    bo.join(&proxy.url("class"), runtime.handle(), || {})
        .unwrap();
    let first = ObjectId::random();
    bo.perform(vec![rectangle(first, 0.0)]);
    wait_for("Bo's rectangle is in", &mut [&mut ana, &mut bo], |s| {
        s[0].board().object_count() == 1 && s[1].board().pending_ops().count() == 0
    });

    // The room turns view-only; an op Bo made meanwhile (the window would
    // not have let him) is refused, and his board is the room's again.
    ana.moderate(Moderation::SetViewOnly(true));
    wait_for(
        "Bo hears the room is view-only",
        &mut [&mut ana, &mut bo],
        |s| !s[1].may_edit(),
    );
    bo.take_notices();
    bo.perform(vec![rectangle(ObjectId::random(), 100.0)]);
    assert_eq!(bo.board().object_count(), 2, "shown at once, as every op");
    wait_for("the refused rectangle is withdrawn", &mut [&mut bo], |s| {
        s[0].board().object_count() == 1 && s[0].board().pending_ops().count() == 0
    });
    let notices = bo.take_notices();
    assert!(
        notices
            .iter()
            .any(|notice| notice.starts_with("View only:")),
        "{notices:?}"
    );

    // Editable again and back on the network after a cut, Bo does not send
    // it again (the relay would take it now): both boards hold the first
    // rectangle and the next, and nothing else.
    ana.moderate(Moderation::SetViewOnly(false));
    wait_for("Bo may draw again", &mut [&mut ana, &mut bo], |s| {
        s[1].may_edit()
    });
    proxy.cut();
    proxy.restore();
    let next = ObjectId::random();
    bo.perform(vec![rectangle(next, 200.0)]);
    wait_for(
        "both see the two rectangles",
        &mut [&mut ana, &mut bo],
        |s| {
            s.iter().all(|s| {
                let board = s.board();
                board.object(next).is_some() && board.pending_ops().count() == 0
            })
        },
    );
    for session in [&ana, &bo] {
        let ids: Vec<ObjectId> = session.board().objects().map(|o| o.id).collect();
        assert_eq!(ids, [first, next], "{}", session.me().name);
    }
    ana.leave();
    bo.leave();
    relay.stop(&runtime);
}
