//! Seeing each other in the window: the laser pointer (ours and a peer's
//! trail, fading as the harness's clock runs), following someone's view
//! until an input of our own, presenting and being asked to follow, and a
//! people chip that keeps its width and stays clear of the toolbar. The app
//! runs on a detached connection: the test sees what would go to the relay
//! and plays the relay's events back.

use egui::accesskit::Role as A11y;
use egui::{Key, Pos2, Rect, pos2, vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use tabula_app::app::TabulaApp;
use tabula_app::canvas::tools::Tool;
use tabula_app::laser::FADE_SECONDS;
use tabula_app::net::connection::{Connection, Remote};
use tabula_app::net::{Command, ConnectionStatus, Event};
use tabula_app::session::Session;
use tabula_shared::access::Role;
use tabula_shared::{ClientId, Color, PeerInfo, Point, Presence, RoomAccess};

use crate::support::{self, app, identity};

/// A frame's time in these windows, in seconds: a 30 Hz display.
const FRAME: f32 = 1.0 / 30.0;

/// The app on a detached connection in a `width`×800 window, a frame
/// [`FRAME`] seconds, and the connection's far end.
fn rig(width: f32) -> (Harness<'static, TabulaApp>, Remote) {
    let (connection, remote) = Connection::detached();
    let mut harness = Harness::builder()
        .with_size(vec2(width, 800.0))
        .with_step_dt(FRAME)
        .with_max_steps(120)
        .build_ui_state(
            |ui, app: &mut TabulaApp| {
                app.logic(ui.ctx());
                app.whiteboard_ui(ui);
            },
            app(Session::with_connection(identity("Ada"), connection)),
        );
    tabula_app::ui::theme::apply(&harness.ctx);
    harness.run();
    (harness, remote)
}

/// What the app sent since the last call.
fn sent(remote: &mut Remote) -> Vec<Command> {
    std::iter::from_fn(|| remote.commands.try_recv().ok()).collect()
}

/// Someone else in the room.
fn peer(name: &str, color: Color) -> PeerInfo {
    PeerInfo {
        client: ClientId::random(),
        name: name.to_owned(),
        color,
    }
}

/// Bob, in blue.
fn bob() -> PeerInfo {
    peer("Bob", Color::rgb(0x19, 0x71, 0xc2))
}

/// Plays the relay welcoming us with `peers` in the room.
fn welcomed(harness: &mut Harness<'static, TabulaApp>, remote: &Remote, peers: Vec<PeerInfo>) {
    for event in [
        Event::Status(ConnectionStatus::Connected),
        support::welcome("studio", peers),
    ] {
        remote.events.send(event).expect("the app listens");
    }
    harness.run();
}

/// Plays the relay passing on `client`'s presence, and runs a frame.
fn shows(
    harness: &mut Harness<'static, TabulaApp>,
    remote: &Remote,
    client: ClientId,
    presence: Presence,
) {
    remote
        .events
        .send(Event::Presence { client, presence })
        .expect("the app listens");
    harness.step();
}

/// The relay passing on that `client` now shows `view` (and nothing else).
fn shows_view(
    harness: &mut Harness<'static, TabulaApp>,
    remote: &Remote,
    client: ClientId,
    view: tabula_shared::Rect,
) {
    let presence = Presence {
        view: Some(view),
        ..Presence::default()
    };
    shows(harness, remote, client, presence);
}

/// Runs frames for `seconds` of the harness's clock.
fn run_for(harness: &mut Harness<'static, TabulaApp>, seconds: f64) {
    let frames = (seconds / f64::from(FRAME)).ceil() as usize;
    for _ in 0..frames {
        harness.step();
    }
}

/// The laser points that went to the relay in `commands`, in order.
fn laser_sent(commands: &[Command]) -> Vec<Point> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Presence(presence) => Some(presence.laser.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// How many filled circles of `color` (at any opacity) the last frame drew:
/// a trail's dots.
fn dots_of(harness: &Harness<'static, TabulaApp>, color: Color) -> usize {
    harness
        .output()
        .shapes
        .iter()
        .filter(|s| match &s.shape {
            egui::Shape::Circle(circle) => {
                let [r, g, b, a] = circle.fill.to_srgba_unmultiplied();
                let near = |x: u8, y: u8| x.abs_diff(y) <= 4;
                a > 0 && near(r, color.r) && near(g, color.g) && near(b, color.b)
            }
            _ => false,
        })
        .count()
}

/// The canvas point at the centre of the view.
fn view_centre(harness: &Harness<'static, TabulaApp>) -> Pos2 {
    let canvas = harness.state().canvas();
    canvas.camera().visible_canvas(canvas.viewport()).center()
}

/// A view of Bob's: 640×400 canvas units far from the origin.
fn far_view() -> tabula_shared::Rect {
    tabula_shared::Rect::from_corners(Point::new(5000.0, 3000.0), Point::new(5640.0, 3400.0))
}

#[test]
fn the_laser_draws_a_trail_that_fades_and_is_never_an_op() {
    let (mut harness, mut remote) = rig(1280.0);
    welcomed(&mut harness, &remote, vec![bob()]);
    harness.key_press(Key::K);
    harness.run();
    assert_eq!(harness.state().tools().tool, Tool::Laser);
    harness.get_by_label("Laser pointer");
    sent(&mut remote);
    let me = harness.state().session().me().client;
    let ink = harness.state().session().me().color;

    // Our avatar in the people list is a dot in our colour too.
    let avatar = dots_of(&harness, ink);
    // A sweep while pressed: a trail here, its points to the relay.
    let (from, to) = (pos2(300.0, 400.0), pos2(700.0, 450.0));
    harness.hover_at(from);
    harness.step();
    harness.drag_at(from);
    harness.step();
    for i in 1..=12 {
        harness.hover_at(from + (to - from) * (i as f32 / 12.0));
        harness.step();
    }
    let lasers = harness.state().together().lasers();
    assert!(lasers.is_visible());
    let drawn = lasers.points_of(me);
    assert!(drawn >= 12, "{drawn} points");
    assert!(
        dots_of(&harness, ink) >= avatar + drawn,
        "the trail is painted"
    );
    harness.drop_at(to);
    harness.step();
    let commands = sent(&mut remote);
    let points = laser_sent(&commands);
    assert_eq!(points.len(), drawn, "every point of the trail went out");
    let canvas = harness.state().canvas();
    let end = canvas.camera().canvas_from_screen(canvas.viewport()) * to;
    assert_eq!(points.last(), Some(&Point::new(end.x, end.y)));
    assert!(
        commands.iter().all(|c| !matches!(c, Command::Send(_))),
        "a laser makes no op: {commands:?}"
    );
    let session = harness.state().session();
    assert_eq!(session.board().object_count(), 0);
    assert!(!session.can_undo());

    // Hovering without the button down draws nothing more.
    harness.hover_at(pos2(800.0, 300.0));
    harness.step();
    assert!(laser_sent(&sent(&mut remote)).is_empty());

    // The trail fades from its oldest end, then is gone, and the window
    // stops repainting.
    run_for(&mut harness, 0.9);
    let fading = harness.state().together().lasers().points_of(me);
    assert!(fading > 0 && fading < drawn, "{fading} of {drawn} left");
    run_for(&mut harness, FADE_SECONDS);
    assert!(!harness.state().together().lasers().is_visible());
    harness.step();
    assert_eq!(dots_of(&harness, ink), avatar);
    let frames = harness.run();
    assert!(frames <= 2, "{frames} frames after the trail faded");
}

#[test]
fn a_peers_laser_shows_in_their_colour_and_fades() {
    let (mut harness, remote) = rig(1280.0);
    let bob = bob();
    welcomed(&mut harness, &remote, vec![bob.clone()]);
    let sweep: Vec<Point> = (0..10)
        .map(|i| Point::new(100.0 + 20.0 * i as f32, 200.0))
        .collect();
    for batch in sweep.chunks(3) {
        shows(
            &mut harness,
            &remote,
            bob.client,
            Presence {
                laser: batch.to_vec(),
                ..Presence::default()
            },
        );
    }
    assert_eq!(
        harness.state().together().lasers().points_of(bob.client),
        10
    );
    assert!(dots_of(&harness, bob.color) > 10, "drawn in Bob's colour");
    run_for(&mut harness, FADE_SECONDS + 0.1);
    assert_eq!(harness.state().together().lasers().points_of(bob.client), 0);
    assert!(!harness.state().together().lasers().is_visible());
    assert_eq!(harness.state().session().board().object_count(), 0);
}

#[test]
fn following_travels_to_their_view_and_stops_on_our_own_input() {
    let (mut harness, mut remote) = rig(1280.0);
    let bob = bob();
    welcomed(&mut harness, &remote, vec![bob.clone()]);
    shows_view(&mut harness, &remote, bob.client, far_view());
    // Our own view goes to the room.
    let views: Vec<_> = sent(&mut remote)
        .into_iter()
        .filter_map(|c| match c {
            Command::Presence(p) => p.view,
            _ => None,
        })
        .collect();
    assert!(!views.is_empty(), "the window tells the room its view");

    // A click on Bob in the people list: the view travels, smoothly, to his.
    harness.get_by_label("Bob").click();
    harness.step();
    assert_eq!(
        harness
            .state()
            .together()
            .follow()
            .following()
            .map(|f| f.client),
        Some(bob.client)
    );
    harness.step();
    let target = Pos2::new(5320.0, 3200.0);
    let halfway = view_centre(&harness);
    assert!(
        halfway.distance(target) > 1.0,
        "it travels rather than jumps: {halfway:?}"
    );
    run_for(&mut harness, 1.0);
    assert!(
        view_centre(&harness).distance(target) < 1.0,
        "{:?}",
        view_centre(&harness)
    );
    // His 640×400 fits our window, whose shape is his, at twice the size.
    let viewport = harness.state().canvas().viewport();
    let expected_zoom = (viewport.width() / 640.0).min(viewport.height() / 400.0);
    assert!((harness.state().canvas().camera().zoom - expected_zoom).abs() < 1e-3);
    harness.get_by_label("Following Bob");
    // He moves on; we go along.
    let moved = tabula_shared::Rect::from_corners(Point::new(0.0, 0.0), Point::new(1280.0, 800.0));
    shows_view(&mut harness, &remote, bob.client, moved);
    run_for(&mut harness, 1.0);
    assert!(view_centre(&harness).distance(Pos2::new(640.0, 400.0)) < 1.0);

    // A tool key of ours stops it; the view stays where it is.
    harness.key_press(Key::R);
    harness.step();
    assert!(harness.state().together().follow().following().is_none());
    assert!(harness.query_by_label("Following Bob").is_none());
    let stopped_at = view_centre(&harness);
    shows_view(&mut harness, &remote, bob.client, far_view());
    run_for(&mut harness, 0.5);
    assert_eq!(view_centre(&harness), stopped_at, "no longer following");
}

#[test]
fn following_stops_on_a_pan_on_the_bars_stop_and_when_they_leave() {
    let (mut harness, remote) = rig(1280.0);
    let bob = bob();
    welcomed(&mut harness, &remote, vec![bob.clone()]);
    shows_view(&mut harness, &remote, bob.client, far_view());
    // Followed from his "…" menu; the wheel (a pan) stops it.
    harness.get_by_role_and_label(A11y::Button, "…").click();
    harness.run();
    harness.get_by_label("Follow").click();
    harness.step();
    assert!(harness.state().together().follow().following().is_some());
    harness.hover_at(pos2(640.0, 500.0));
    harness.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: vec2(0.0, -40.0),
        modifiers: egui::Modifiers::NONE,
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
    });
    run_for(&mut harness, 0.2);
    assert!(harness.state().together().follow().following().is_none());

    // Followed again, and the Stop on the bar stops it.
    harness.get_by_label("Bob").click();
    harness.step();
    harness.get_by_label("Following Bob");
    harness.get_by_role_and_label(A11y::Button, "Stop").click();
    harness.step();
    assert!(harness.state().together().follow().following().is_none());

    // Followed again; he leaves: it stops, and says so.
    harness.get_by_label("Bob").click();
    harness.step();
    remote
        .events
        .send(Event::Peers {
            joined: Vec::new(),
            left: vec![bob.client],
        })
        .unwrap();
    harness.step();
    harness.step();
    assert!(harness.state().together().follow().following().is_none());
    assert!(
        harness
            .state()
            .notices()
            .texts()
            .any(|text| text.contains("Bob left")),
        "a notice says why following stopped"
    );
}

#[test]
fn a_presenter_is_followed_by_everyone_and_each_can_stop() {
    let (mut harness, mut remote) = rig(1280.0);
    let bob = bob();
    welcomed(&mut harness, &remote, vec![bob.clone()]);
    let presenting = Presence {
        view: Some(far_view()),
        presenting: true,
        ..Presence::default()
    };
    shows(&mut harness, &remote, bob.client, presenting.clone());
    harness.step();
    harness.step();
    let following = harness.state().together().follow().following().cloned();
    assert!(
        following
            .as_ref()
            .is_some_and(|f| f.client == bob.client && f.asked)
    );
    harness.get_by_label("Bob asks everyone to follow them");
    run_for(&mut harness, 1.0);
    assert!(view_centre(&harness).distance(Pos2::new(5320.0, 3200.0)) < 1.0);

    // We stop; his next update does not ask again.
    harness.get_by_role_and_label(A11y::Button, "Stop").click();
    harness.step();
    assert!(harness.state().together().follow().following().is_none());
    shows(&mut harness, &remote, bob.client, presenting.clone());
    harness.step();
    assert!(harness.state().together().follow().following().is_none());

    // He stops presenting and starts again: we follow again, and when he
    // stops, we are let go.
    shows(&mut harness, &remote, bob.client, Presence::default());
    shows(&mut harness, &remote, bob.client, presenting);
    harness.step();
    assert!(harness.state().together().follow().following().is_some());
    shows_view(&mut harness, &remote, bob.client, far_view());
    harness.step();
    assert!(harness.state().together().follow().following().is_none());

    // Now we present: the room hears it, the bar says so, Stop ends it.
    sent(&mut remote);
    harness.get_by_label("Ask everyone to follow me").click();
    harness.step();
    let asked = |commands: Vec<Command>| {
        commands.into_iter().rev().find_map(|c| match c {
            Command::Presence(p) => Some(p.presenting),
            _ => None,
        })
    };
    assert_eq!(asked(sent(&mut remote)), Some(true));
    harness.get_by_label("Presenting: everyone follows your view");
    harness.step();
    harness.get_by_label("Stop presenting");
    harness.get_by_role_and_label(A11y::Button, "Stop").click();
    harness.step();
    assert_eq!(asked(sent(&mut remote)), Some(false));
    assert!(!harness.state().session().presence().presenting);
    harness.step();
    harness.get_by_label("Ask everyone to follow me");
}

/// The people chip's rectangle and the toolbar's, as last drawn.
fn chip_and_toolbar(harness: &Harness<'static, TabulaApp>) -> (Rect, Rect) {
    let chip = harness
        .ctx
        .memory(|m| m.area_rect(egui::Id::unique("tabula-presence")))
        .expect("the chip is shown");
    let toolbar =
        tabula_app::ui::toolbar::toolbar_rect(&harness.ctx).expect("the toolbar is shown");
    (chip, toolbar)
}

#[test]
fn in_a_narrow_window_the_toolbar_keeps_clear_of_the_file_menu() {
    for width in [700.0, 900.0, 1280.0] {
        let (mut harness, _remote) = rig(width);
        harness.run();
        let file_menu = harness
            .ctx
            .memory(|m| m.area_rect(egui::Id::unique(tabula_app::ui::theme::FILE_MENU_AREA)))
            .expect("the File menu is shown");
        let toolbar =
            tabula_app::ui::toolbar::toolbar_rect(&harness.ctx).expect("the toolbar is shown");
        assert!(
            !file_menu.intersects(toolbar),
            "{width}: the File menu {file_menu:?} under the toolbar {toolbar:?}"
        );
    }
}

#[test]
fn an_operators_people_chip_keeps_its_width_and_never_covers_the_toolbar() {
    for width in [1280.0, 1100.0, 900.0] {
        let (mut harness, remote) = rig(width);
        let me = harness.state().session().me().client;
        welcomed(&mut harness, &remote, vec![bob()]);
        remote
            .events
            .send(Event::Access(RoomAccess {
                role: Role::Operator,
                locked: false,
                view_only: false,
                password: false,
                operators: vec![me],
                viewers: Vec::new(),
                invites: Vec::new(),
            }))
            .unwrap();
        harness.run();
        let (chip, toolbar) = chip_and_toolbar(&harness);
        assert!(
            !chip.intersects(toolbar),
            "{width}: {chip:?} covers {toolbar:?}"
        );
        assert!(chip.right() <= width, "{width}: {chip:?}");
        // Someone with a long name comes in: the chip keeps its width.
        remote
            .events
            .send(Event::Peers {
                joined: vec![peer(
                    "Maximilian Alexander von Longname-Smythe the Third",
                    Color::rgb(0x2f, 0x9e, 0x44),
                )],
                left: Vec::new(),
            })
            .unwrap();
        harness.run();
        let (wider, toolbar) = chip_and_toolbar(&harness);
        assert!(
            (wider.width() - chip.width()).abs() < 0.5,
            "{width}: {chip:?} then {wider:?}"
        );
        assert!(
            !wider.intersects(toolbar),
            "{width}: {wider:?} covers {toolbar:?}"
        );
    }
}
