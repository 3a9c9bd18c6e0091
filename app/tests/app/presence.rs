//! Presence end to end: app sessions with their real network tasks, on a
//! real relay on 127.0.0.1:0 (behind a proxy the test can cut): a laser's
//! points, a view and presenting go from one to the other, a late joiner
//! finds the presenter's view and ask, and after a cut the presence is said
//! again; and a window (the whole app, headless) on a real relay shows a
//! peer's laser trail and follows a presenter.

use egui_kittest::Harness;
use tabula_app::app::TabulaApp;
use tabula_app::session::{ConnectionStatus, Session};
use tabula_server::Config;
use tabula_shared::presence::MAX_LASER_POINTS;
use tabula_shared::{ClientId, OpKind, Point, Presence, Rect};

use crate::support::{self, Proxy, Relay, identity};

/// Runs the sessions' frames (poll, then hand over what we show) until
/// `done` holds.
fn wait_for(what: &str, sessions: &mut [&mut Session], done: impl Fn(&[&mut Session]) -> bool) {
    support::eventually(what, || {
        for session in sessions.iter_mut() {
            session.poll();
            session.send_presence();
        }
        done(sessions).then_some(())
    });
}

/// What `session` knows of `client`'s presence, if they are in its room.
fn presence_of(session: &Session, client: ClientId) -> Option<&Presence> {
    session
        .peers()
        .find(|peer| peer.info.client == client)
        .map(|peer| &peer.presence)
}

/// Polls `session` until `last` has come among `client`'s laser points,
/// gathering them in order.
fn laser_points(session: &mut Session, client: ClientId, last: Point) -> Vec<Point> {
    let mut points = Vec::new();
    support::eventually("the laser's points arrive", || {
        session.poll();
        for (from, batch) in session.take_laser() {
            assert_eq!(from, client, "only Ada points");
            points.extend(batch);
        }
        (points.last() == Some(&last)).then_some(())
    });
    points
}

#[test]
fn a_laser_a_view_and_presenting_reach_the_others_through_a_relay() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let relay = Relay::start(&runtime, Config::default());
    let proxy = Proxy::start(&runtime, relay.addr);
    let url = proxy.url("pointing");
    let mut ada = Session::offline(identity("Ada"));
    let mut bob = Session::offline(identity("Bob"));
    let ada_id = ada.me().client;
    // Her view is known before she joins: it goes along with the join.
    let view = Rect::from_corners(Point::new(-400.0, -300.0), Point::new(400.0, 300.0));
    ada.presence_mut().view = Some(view);
    ada.send_presence();
    ada.join(&url, runtime.handle(), || {}).unwrap();
    bob.join(&url, runtime.handle(), || {}).unwrap();
    wait_for(
        "both are in and Bob has Ada's view",
        &mut [&mut ada, &mut bob],
        |s| {
            s.iter()
                .all(|s| *s.status() == ConnectionStatus::Connected && s.peers().count() == 1)
                && presence_of(s[1], ada_id).and_then(|p| p.view) == Some(view)
        },
    );

    // A sweep of the laser, a frame's point at a time, more than one update
    // carries: the points arrive in order, none twice, through to the last
    // (an update held back longer than its cap allows keeps the newest).
    let sweep: Vec<Point> = (0..3 * MAX_LASER_POINTS / 2)
        .map(|i| Point::new(i as f32 * 3.0, 50.0))
        .collect();
    for (i, point) in sweep.iter().enumerate() {
        ada.presence_mut().laser.push(*point);
        ada.send_presence();
        if i % 8 == 7 {
            // A frame's worth of time: some updates go out alone, some
            // gather several points.
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    ada.set_cursor(sweep.last().copied());
    ada.send_presence();
    let arrived = laser_points(&mut bob, ada_id, *sweep.last().unwrap());
    assert!(
        arrived.windows(2).all(|w| w[0].x < w[1].x),
        "in order, none twice: {arrived:?}"
    );
    assert!(arrived.iter().all(|p| sweep.contains(p)));
    assert!(arrived.len() > MAX_LASER_POINTS, "{} points", arrived.len());
    assert!(
        ada.presence().laser.is_empty(),
        "laser points are never kept"
    );
    wait_for("Bob has her pointer", &mut [&mut ada, &mut bob], |s| {
        presence_of(s[1], ada_id).and_then(|p| p.cursor) == sweep.last().copied()
    });
    assert!(
        presence_of(&bob, ada_id).unwrap().laser.is_empty(),
        "a peer's state keeps no laser: the app takes the points"
    );
    assert_eq!(ada.board().object_count(), 0, "a laser is never an object");
    for session in [&ada, &bob] {
        assert!(
            session
                .log()
                .iter()
                .all(|op| matches!(op.op.kind, OpKind::Joined { .. })),
            "nor an op: only the relay's record of who came"
        );
    }

    // She presents; a newcomer finds her view and her ask waiting.
    let view = Rect::from_corners(Point::new(1000.0, 1000.0), Point::new(1600.0, 1400.0));
    ada.presence_mut().view = Some(view);
    ada.presence_mut().presenting = true;
    wait_for("Bob sees her present", &mut [&mut ada, &mut bob], |s| {
        presence_of(s[1], ada_id).is_some_and(|p| p.presenting && p.view == Some(view))
    });
    let mut cy = Session::offline(identity("Cy"));
    cy.join(&relay.url("pointing"), runtime.handle(), || {})
        .unwrap();
    wait_for(
        "Cy, late, finds Ada presenting",
        &mut [&mut ada, &mut bob, &mut cy],
        |s| presence_of(s[2], ada_id).is_some_and(|p| p.presenting && p.view == Some(view)),
    );
    assert!(
        cy.take_laser().is_empty(),
        "a late joiner gets no old trail"
    );

    cut_and_back(&proxy, [&mut ada, &mut bob, &mut cy], view);

    ada.leave();
    bob.leave();
    cy.leave();
    relay.stop(&runtime);
}

/// The link of the first two sessions (through `proxy`) drops and comes
/// back: the first says its presence again (presenting `view`), and the
/// third, which stayed, sees it.
fn cut_and_back(proxy: &Proxy, sessions: [&mut Session; 3], view: Rect) {
    let ada_id = sessions[0].me().client;
    let mut sessions = sessions;
    // Her link (and Bob's) drops and comes back: she says her presence
    // again, and Cy, who stayed, sees it.
    proxy.cut();
    wait_for(
        "Ada notices the cut and Cy sees her leave",
        &mut sessions,
        |s| {
            matches!(s[0].status(), ConnectionStatus::Reconnecting { .. })
                && presence_of(s[2], ada_id).is_none()
        },
    );
    proxy.restore();
    wait_for(
        "she is back, presenting her view again",
        &mut sessions,
        |s| {
            *s[0].status() == ConnectionStatus::Connected
                && presence_of(s[2], ada_id).is_some_and(|p| p.presenting && p.view == Some(view))
        },
    );
}

#[test]
fn a_window_sees_a_peers_laser_and_follows_a_presenter_through_a_relay() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let relay = Relay::start(&runtime, Config::default());
    let url = relay.url("lecture");
    let mut bob_app = TabulaApp::new(Session::offline(identity("Bob")), runtime.handle().clone());
    bob_app.set_documents(support::documents());
    let mut bob = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .with_step_dt(1.0 / 30.0)
        .build_ui_state(
            |ui, app: &mut TabulaApp| {
                app.logic(ui.ctx());
                app.whiteboard_ui(ui);
            },
            bob_app,
        );
    let ctx = bob.ctx.clone();
    bob.state_mut().join(&url, &ctx).unwrap();
    let mut ada = Session::offline(identity("Ada"));
    let ada_id = ada.me().client;
    ada.join(&url, runtime.handle(), || {}).unwrap();
    // Both run their frames until `done` holds for Bob's window.
    let mut frames = |ada: &mut Session, what: &str, done: &dyn Fn(&TabulaApp) -> bool| {
        support::eventually(what, || {
            ada.poll();
            ada.send_presence();
            bob.step();
            done(bob.state()).then_some(())
        });
    };
    frames(&mut ada, "Bob sees Ada", &|app| {
        app.session().peers().any(|p| p.info.client == ada_id)
    });
    // The news of Bob may reach Ada a tick later (joins go out batched).
    support::eventually("Ada sees Bob", || {
        ada.poll();
        (ada.peers().count() == 1).then_some(())
    });

    // Her laser: a trail on Bob's screen.
    for i in 0..20 {
        ada.presence_mut()
            .laser
            .push(Point::new(i as f32 * 10.0, 100.0));
    }
    frames(&mut ada, "Bob's window shows her trail", &|app| {
        app.together().lasers().points_of(ada_id) == 20
    });

    // She presents her view: Bob's window follows it there.
    let view = Rect::from_corners(Point::new(2000.0, 1000.0), Point::new(2640.0, 1400.0));
    ada.presence_mut().view = Some(view);
    ada.presence_mut().presenting = true;
    frames(&mut ada, "Bob's window follows her view", &|app| {
        let canvas = app.canvas();
        let shown = canvas.camera().visible_canvas(canvas.viewport()).center();
        app.together()
            .follow()
            .following()
            .is_some_and(|f| f.client == ada_id && f.asked)
            && shown.distance(egui::pos2(2320.0, 1200.0)) < 1.0
    });
    // And Bob's view went back to her relay too, for whoever follows him.
    support::eventually("Ada has Bob's view", || {
        ada.poll();
        ada.peers()
            .next()
            .and_then(|bob| bob.presence.view)
            .filter(|v| (v.center().x - 2320.0).abs() < 1.0)
    });
    ada.leave();
    relay.stop(&runtime);
}
