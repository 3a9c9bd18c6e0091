//! Hosting and finding rooms as the window shows them: the invite panel (of
//! a real host, on a port that was taken), a host that cannot listen, the
//! join dialog's "On this network" list (relays advertised over mDNS on the
//! loopback interface only, and a list given to it for what no relay here
//! advertises: a lock, another protocol), the host and hand-over dialogs,
//! the whole window hosting on loopback and handing its room over as it
//! quits, and a member hosting the board when its host vanished.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use egui::accesskit::Role;
use egui::{Key, Modifiers, OutputCommand, ViewportCommand, ViewportEvent, ViewportId, vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use tabula_app::app::TabulaApp;
use tabula_app::host::hosting::Phase;
use tabula_app::host::{Advertising, Host, HostSettings};
use tabula_app::session::{ConnectionStatus, Session};
use tabula_app::ui::hand_over::{Choice, HandOverDialog, Progress, Why};
use tabula_app::ui::invite::{Invitation, InviteAction, InvitePanel, InviteState};
use tabula_app::ui::nearby::{NEEDS_PASSWORD, RelaySearch};
use tabula_app::ui::presence::HOST_GONE;
use tabula_server::discovery::{Advertised, FoundRelay, Interfaces, SERVICE_TYPE};
use tabula_shared::fingerprint::Fingerprint;
use tabula_shared::lan::{Advert, AdvertisedRoom};
use tabula_shared::relay_url::with_fingerprint;
use tabula_shared::{ClientId, PROTOCOL_VERSION, PeerInfo};

use crate::support::{self, Person, app, host_settings, identity, window};

/// The loopback interface: the only one these tests advertise or browse on.
fn loopback() -> Interfaces {
    Interfaces::named(["lo"])
}

/// A name no other test (or run) uses, so that what they advertise on the
/// loopback interface is told apart.
fn unique(what: &str) -> String {
    format!(
        "{what}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos())
    )
}

/// A relay as mDNS would have found it: `rooms` as (name, members,
/// password); `None` for one that does not list its rooms.
fn found(
    instance: &str,
    port: u16,
    protocol: u16,
    rooms: Option<&[(&str, u32, bool)]>,
) -> FoundRelay {
    FoundRelay {
        fullname: format!("{instance}.{SERVICE_TYPE}"),
        instance: instance.to_owned(),
        addresses: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
        port,
        advert: Ok(Advert {
            protocol,
            tls: false,
            password: false,
            lists_rooms: rooms.is_some(),
            rooms: rooms
                .unwrap_or_default()
                .iter()
                .map(|(name, members, password)| AdvertisedRoom {
                    name: (*name).to_owned(),
                    members: *members,
                    password: *password,
                })
                .collect(),
            more_rooms: 0,
        }),
    }
}

/// Typing into whichever field has the keyboard.
fn type_text<S>(harness: &mut Harness<'_, S>, text: &str) {
    harness.event(egui::Event::Text(text.to_owned()));
    harness.run();
}

/// The values of the text fields on screen, in order.
fn fields<S>(harness: &Harness<'_, S>) -> Vec<String> {
    harness
        .query_all_by_role(Role::TextInput)
        .filter_map(|field| field.value())
        .collect()
}

/// Clicks the button labelled `label` once the window has settled: the
/// chip, anchored at the right, takes a few frames to fit a new width, and
/// a click goes where the button was in the last frame.
fn press<S>(harness: &mut Harness<'_, S>, label: &str) {
    harness.run_steps(4);
    harness.get_by_role_and_label(Role::Button, label).click();
}

/// What the last frame copied to the clipboard.
fn copied<S>(harness: &Harness<'_, S>) -> Vec<String> {
    harness
        .output()
        .platform_output
        .commands
        .iter()
        .filter_map(|command| match command {
            OutputCommand::CopyText(text) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// The app of `name`, its network tasks on `runtime`.
fn networked_app(name: &str, runtime: &tokio::runtime::Runtime) -> TabulaApp {
    let mut app = TabulaApp::new(Session::offline(identity(name)), runtime.handle().clone());
    app.set_documents(support::documents());
    app
}

/// The app of `name`, its network tasks on `runtime`, hosting on loopback
/// from `data`, unadvertised.
fn hosting_app(name: &str, data: &Path, runtime: &tokio::runtime::Runtime) -> TabulaApp {
    let mut app = networked_app(name, runtime);
    app.set_host_settings(host_settings(data));
    app
}

#[test]
fn the_invite_panel_lists_each_address_with_its_copy_button_loopback_marked() {
    // The order is the host's (best first, loopback and link-local last);
    // this machine has only loopback to offer, so the addresses are given.
    let certificate = Fingerprint::of_certificate(b"the host's certificate");
    let urls = [
        "192.168.1.20:7458",
        "10.0.0.5:7458",
        "169.254.7.1:7458",
        "127.0.0.1:7458",
    ]
    .map(|at| with_fingerprint(&format!("wss://{at}/studio"), &certificate));
    let state = InviteState::Hosting(Invitation {
        room: "studio".to_owned(),
        instance: Some("Ada on box".to_owned()),
        urls: urls.to_vec(),
        certificate: Some(certificate),
        code: Some("K7QX2M".to_owned()),
        port_note: None,
        advertised: Advertised::On(format!("Ada on box.{SERVICE_TYPE}")),
        people: vec!["Ada".to_owned(), "Bo".to_owned()],
    });
    let mut panel = InvitePanel::default();
    panel.open();
    let offline = Session::offline(identity("Ada"));
    let mut harness = Harness::new_ui_state(
        move |ui, (panel, asked): &mut (InvitePanel, Vec<InviteAction>)| {
            asked.extend(panel.window_ui(ui.ctx(), &state, &offline));
        },
        (panel, Vec::new()),
    );
    harness.set_size(vec2(1000.0, 700.0));
    harness.run();

    harness.get_by_label("Hosting studio");
    harness.get_by_label("studio");
    harness.get_by_label("on Ada on box");
    let shown: Vec<String> = harness
        .query_all_by_label_contains("wss://")
        .filter_map(|label| label.accesskit_node().label().or_else(|| label.value()))
        .collect();
    let bare: Vec<&str> = urls
        .iter()
        .map(|url| url.split('#').next().unwrap())
        .collect();
    assert_eq!(
        shown, bare,
        "every address, in the host's order, shown without its fingerprint"
    );
    harness.get_by_label("(link-local)");
    harness.get_by_label("(this machine only)");
    harness.get_by_label("2 here: Ada, Bo");
    // The certificate's code, for those who join without a link to compare.
    harness.get_by_label(&certificate.short_code());
    assert!(
        harness.query_by_label_contains("is taken").is_none(),
        "no port note when the port was free"
    );
    let copies: Vec<_> = harness
        .query_all_by_role_and_label(Role::Button, "Copy")
        .collect();
    assert_eq!(copies.len(), urls.len(), "a Copy button per address");

    copies[1].click();
    harness.step();
    assert_eq!(copied(&harness), [urls[1].as_str()]);
    harness.run();
    assert_eq!(
        harness
            .query_all_by_role_and_label(Role::Button, "Copy")
            .count(),
        urls.len() - 1,
        "the address copied says so"
    );
    harness.get_by_role_and_label(Role::Button, "Copied");

    harness
        .get_by_role_and_label(Role::Button, "Stop hosting")
        .click();
    harness.run();
    assert_eq!(harness.state().1, [InviteAction::StopHosting]);
}

#[test]
fn the_invite_panel_of_a_host_on_a_taken_port_says_so_and_its_url_joins() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let (host, taken) = support::host_on_taken_port(data.path(), "studio");
    let port = taken.local_addr().unwrap().port();
    let mut panel = InvitePanel::default();
    panel.open();
    // The panel reads the host each frame, as the app's does.
    let offline = Session::offline(identity("Ada"));
    let mut harness = Harness::new_ui_state(
        move |ui, (panel, host): &mut (InvitePanel, Host)| {
            let state = InviteState::Hosting(Invitation::of(host, None));
            panel.window_ui(ui.ctx(), &state, &offline);
        },
        (panel, host),
    );
    harness.set_size(vec2(1000.0, 700.0));
    harness.run();

    let host = &harness.state().1;
    let moved = host.address().port();
    assert_ne!(moved, port);
    let url = host.urls()[0].clone();
    assert_eq!(
        url,
        with_fingerprint(
            &format!("wss://127.0.0.1:{moved}/studio"),
            &host.fingerprint()
        ),
        "the host speaks TLS, and its address names its certificate"
    );
    harness.get_by_label(&format!("wss://127.0.0.1:{moved}/studio"));
    harness.get_by_label_contains(&format!("Port {port} is taken"));
    harness.get_by_label_contains(&format!("uses port {moved}"));
    harness.get_by_label("It is not advertised on the network: give others an address below.");
    harness.get_by_label("Nobody is in the room yet.");

    harness.get_by_role_and_label(Role::Button, "Copy").click();
    harness.step();
    assert_eq!(copied(&harness), std::slice::from_ref(&url));

    // The address copied is one others join at.
    let mut bo = Session::offline(identity("Bo"));
    bo.join(&url, runtime.handle(), || {}).unwrap();
    // The host counts Bo at his hello; his session is connected once the
    // welcome is in: wait for both.
    support::eventually("Bo joins at the copied address", || {
        bo.poll();
        harness.step();
        (harness.query_by_label("1 here: Bo").is_some()
            && *bo.status() == ConnectionStatus::Connected)
            .then_some(())
    });
    drop(taken);
}

#[test]
fn hosting_that_cannot_listen_says_what_failed_and_what_to_try() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut app = hosting_app("Ada", data.path(), &runtime);
    // An address of no machine here (TEST-NET-1): listening fails.
    app.set_host_settings(HostSettings {
        bind: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        ..host_settings(data.path())
    });
    let mut harness = window(app);
    harness.get_by_role_and_label(Role::Button, "Host…").click();
    harness.run();
    harness.get_by_role_and_label(Role::Button, "Host").click();
    support::eventually("the start fails", || {
        harness.step();
        harness.query_by_label("Could not host").map(|_| ())
    });
    harness.get_by_label_contains("could not listen on 192.0.2.1");
    harness.get_by_label_contains("Check that this machine is on a network");
    let app = harness.state();
    assert_eq!(app.hosting().phase(), Phase::Off);
    assert_eq!(*app.session().status(), ConnectionStatus::Offline);

    // Closing the panel forgets it; the board is as it was.
    harness.run_steps(2);
    harness.get_by_role_and_label(Role::Button, "Close").click();
    harness.run();
    assert!(!harness.state().is_invite_open());
    assert!(harness.query_by_label("Could not host").is_none());
}

#[test]
fn the_join_dialog_finds_a_relay_on_this_network_keeps_it_current_and_one_click_joins() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let instance = unique("test Ada");
    let room = unique("sketch-club");
    let host = Host::start(
        &HostSettings {
            advertise: Some(Advertising {
                instance: instance.clone(),
                interfaces: loopback(),
            }),
            ..host_settings(data.path())
        },
        &room,
        &[],
        None,
    )
    .unwrap();
    support::eventually("the host is advertised", || match host.advertised() {
        Advertised::On(_) => Some(()),
        Advertised::Off => None,
        Advertised::Failed(reason) => panic!("not advertised: {reason}"),
    });

    // A relay lists the rooms open on it: Cy's is, once she is in.
    let mut cy = Session::offline(identity("Cy"));
    cy.join(&host.urls()[0], runtime.handle(), || {}).unwrap();

    let mut app = networked_app("Bo", &runtime);
    app.set_mdns_interfaces(loopback());
    let mut harness = window(app);
    harness.get_by_role_and_label(Role::Button, "Join…").click();
    harness.run_steps(2);
    harness.get_by_label("On this network");
    support::eventually("the relay is found, with its room and Cy in it", || {
        cy.poll();
        harness.step();
        harness.query_by_label("1 here").map(|_| ())
    });
    harness.get_by_role_and_label(Role::Button, &room);
    harness.get_by_label(&instance);
    harness.get_by_label(&format!("127.0.0.1:{}", host.address().port()));

    // Someone else joins: the count follows while the dialog is open.
    let mut dee = Session::offline(identity("Dee"));
    dee.join(&host.urls()[0], runtime.handle(), || {}).unwrap();
    support::eventually("the list counts Dee too", || {
        cy.poll();
        dee.poll();
        harness.step();
        harness.query_by_label("2 here").map(|_| ())
    });
    assert!(harness.query_by_label("1 here").is_none());

    // One click on the room joins it, at the address it was found at: over
    // TLS, which the advert says the relay speaks, with no fingerprint (the
    // advert carries none: the certificate is trusted on first use).
    press(&mut harness, &room);
    harness.step();
    assert!(!harness.state().is_join_dialog_open());
    let (found_at, _fingerprint) = host.urls()[0].split_once('#').unwrap();
    assert!(found_at.starts_with("wss://"), "{found_at}");
    assert_eq!(harness.state().session().room_url(), Some(found_at));
    support::eventually("Bo is in the room, with Cy and Dee", || {
        cy.poll();
        dee.poll();
        harness.step();
        let app = harness.state();
        (*app.session().status() == ConnectionStatus::Connected
            && app.session().peers().count() == 2)
            .then_some(())
    });
    let names: Vec<String> = host.members().into_iter().map(|peer| peer.name).collect();
    assert_eq!(names, ["Cy", "Dee", "Bo"], "longest-present first");

    // The fields still join beside the list: the relay and room, as
    // typed (here, as the dialog keeps them from the last join).
    press(&mut harness, "Leave");
    harness.run_steps(2);
    assert_eq!(
        *harness.state().session().status(),
        ConnectionStatus::Offline
    );
    press(&mut harness, "Join…");
    harness.run_steps(2);
    harness.get_by_label("On this network");
    // The room it was in, without the invitation's #fp= (its certificate
    // is known for the host by now).
    let relay = format!("wss://127.0.0.1:{}", host.address().port());
    assert_eq!(fields(&harness), [relay, room.clone(), "Bo".to_owned()]);
    harness.key_press(Key::Enter);
    support::eventually("Bo is back in the room", || {
        harness.step();
        (*harness.state().session().status() == ConnectionStatus::Connected).then_some(())
    });
    assert_eq!(host.members().len(), 3);
    host.stop();
}

#[test]
fn the_list_shows_locks_relays_it_cannot_join_and_relays_that_list_no_rooms() {
    let listing = found(
        "Ada on studio",
        7460,
        PROTOCOL_VERSION,
        Some(&[("design-review", 3, true), ("sketches", 1, false)]),
    );
    let unlisted = found("team relay", 7461, PROTOCOL_VERSION, None);
    let newer = found(
        "future relay",
        7462,
        PROTOCOL_VERSION + 1,
        Some(&[("tomorrow", 2, false)]),
    );
    let mut app = app(Session::offline(identity("Bo")));
    app.set_relay_search(RelaySearch::Given(vec![listing.clone(), unlisted, newer]));
    let mut harness = window(app);
    harness.get_by_role_and_label(Role::Button, "Join…").click();
    harness.run();

    harness.get_by_label("Ada on studio");
    harness.get_by_label("127.0.0.1:7460");
    harness.get_by_role_and_label(Role::Button, "design-review");
    harness.get_by_label("3 here");
    harness.get_by_role_and_label(Role::Button, "sketches");
    harness.get_by_label("1 here");
    assert_eq!(
        harness.query_all_by_label(NEEDS_PASSWORD).count(),
        1,
        "a lock on the room that needs a password"
    );
    harness.get_by_label("needs a newer Tabula");
    assert!(
        harness.query_by_label("tomorrow").is_none(),
        "a relay of another protocol offers no room to join"
    );

    // A relay that lists no rooms: use it, and type the room.
    harness.get_by_label_contains("does not list its rooms");
    harness
        .get_by_role_and_label(Role::Button, "Use this relay")
        .click();
    harness.run();
    assert_eq!(fields(&harness), ["ws://127.0.0.1:7461", "", "Bo"]);
    assert!(harness.state().is_join_dialog_open());
}

#[test]
fn the_host_dialog_offers_a_readable_name_and_refuses_a_bad_one() {
    let mut app = app(Session::offline(identity("Ada")));
    // Named, so that the dialog says how others see the room; nothing is
    // hosted, so nothing is sent.
    app.set_mdns_interfaces(loopback());
    let mut harness = window(app);
    harness.get_by_role_and_label(Role::Button, "Host…").click();
    harness.run();
    harness.get_by_label("Host on this network");
    let prefilled = fields(&harness);
    assert_eq!(prefilled.len(), 1, "{prefilled:?}");
    let words: Vec<&str> = prefilled[0].split('-').collect();
    assert_eq!(words.len(), 3, "adjective-animal-number: {prefilled:?}");
    assert!(words[2].parse::<u8>().is_ok(), "{prefilled:?}");
    harness.get_by_label_contains(&format!(
        "Others see it in their join dialog as {}, on Ada on ",
        prefilled[0]
    ));

    // A bad name: said under the field, and Host does nothing.
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    type_text(&mut harness, "no spaces");
    harness.get_by_label_contains("may hold only letters");
    harness.get_by_role_and_label(Role::Button, "Host").click();
    harness.run();
    harness.key_press(Key::Enter);
    harness.run();
    assert!(harness.state().is_modal_open(), "the dialog stays");
    assert_eq!(harness.state().hosting().phase(), Phase::Off);

    // A good one is accepted as typed.
    harness.get_by_role(Role::TextInput).click();
    harness.run();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    type_text(&mut harness, "design-review");
    assert!(harness.query_by_label_contains("may hold only").is_none());
    harness.get_by_label_contains("as design-review, on Ada on ");
    harness.key_press(Key::Escape);
    harness.run();
    assert!(!harness.state().is_modal_open());
    assert_eq!(harness.state().hosting().phase(), Phase::Off);
}

/// Someone in the room, as the relay lists them.
fn peer(name: &str) -> PeerInfo {
    PeerInfo {
        client: ClientId::random(),
        name: name.to_owned(),
        color: support::COLOR,
    }
}

/// The hand-over dialog on its own, asking to stop with `others` in the
/// room (longest-present first); what it answered, if anything.
fn hand_over_dialog(others: Vec<PeerInfo>) -> Harness<'static, (HandOverDialog, Vec<Choice>)> {
    let mut dialog = HandOverDialog::default();
    dialog.open(Why::Stop);
    let mut harness = Harness::new_ui_state(
        move |ui, (dialog, chosen): &mut (HandOverDialog, Vec<Choice>)| {
            chosen.extend(dialog.modal_ui(ui.ctx(), "studio", &others, &Progress::Asking));
        },
        (dialog, Vec::new()),
    );
    harness.run();
    harness
}

#[test]
fn the_hand_over_dialog_defaults_to_the_member_there_longest() {
    for order in [["Bo", "Cy"], ["Cy", "Bo"]] {
        let others: Vec<PeerInfo> = order.iter().map(|name| peer(name)).collect();
        let mut harness = hand_over_dialog(others.clone());
        harness.get_by_label("Stop hosting studio?");
        harness.get_by_label("Hand the room to");
        harness
            .get_by_role_and_label(Role::Button, "Hand over")
            .click();
        harness.run();
        assert_eq!(
            harness.state().1,
            [Choice::HandTo(others[0].client)],
            "there longest of {order:?}"
        );
    }

    // Picking another in the list hands it to them instead.
    let others = vec![peer("Bo"), peer("Cy")];
    let mut harness = hand_over_dialog(others.clone());
    harness.get_by_role(Role::ComboBox).click();
    harness.run();
    harness.get_by_role_and_label(Role::Button, "Cy").click();
    harness.run();
    harness
        .get_by_role_and_label(Role::Button, "Hand over")
        .click();
    harness.run();
    assert_eq!(harness.state().1, [Choice::HandTo(others[1].client)]);

    let mut harness = hand_over_dialog(others);
    harness
        .get_by_role_and_label(Role::Button, "Stop without handing over")
        .click();
    harness.run();
    assert_eq!(harness.state().1, [Choice::Without]);
}

/// Runs one frame of the window, and a turn of everyone else.
fn frame(harness: &mut Harness<'_, TabulaApp>, others: &mut [&mut Person]) {
    harness.step();
    for person in others.iter_mut() {
        person.turn();
    }
}

/// Whether the window's last frame asked for `command`.
fn asked(harness: &Harness<'_, TabulaApp>, command: &ViewportCommand) -> bool {
    harness
        .output()
        .viewport_output
        .get(&ViewportId::ROOT)
        .is_some_and(|output| output.commands.contains(command))
}

#[test]
fn the_window_hosts_invites_and_hands_the_room_over_when_it_quits() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut harness = window(hosting_app("Ada", &data.path().join("ada"), &runtime));

    // From the File menu, as from the chip.
    harness.get_by_label("File").click();
    harness.run();
    harness
        .get_by_role_and_label(Role::Button, "Host on this network…")
        .click();
    harness.run();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    type_text(&mut harness, "studio");
    harness.get_by_role_and_label(Role::Button, "Host").click();
    // The relay starts as a job; the invite panel says so meanwhile, and
    // the board takes input all along.
    harness.step();
    assert!(harness.state().is_invite_open());
    assert!(!harness.state().is_modal_open());
    support::eventually("Ada hosts her board", || {
        harness.step();
        let app = harness.state();
        (app.hosting().phase() == Phase::On
            && *app.session().status() == ConnectionStatus::Connected)
            .then_some(())
    });
    let url = harness
        .state()
        .hosting()
        .host()
        .unwrap()
        .own_url()
        .to_owned();
    assert_eq!(harness.state().session().room_url(), Some(url.as_str()));
    harness.step();
    harness.get_by_label("Hosting studio");
    harness.get_by_label(url.split('#').next().unwrap());
    harness.get_by_role_and_label(Role::Button, "Copy");
    harness.get_by_label("It is not advertised on the network: give others an address below.");

    let mut bo = Person::new("Bo", &runtime, &data.path().join("bo"));
    let mut cy = Person::new("Cy", &runtime, &data.path().join("cy"));
    bo.session.join(&url, runtime.handle(), || {}).unwrap();
    support::eventually("Bo is in, before Cy", || {
        frame(&mut harness, &mut [&mut bo]);
        bo.settled().then_some(())
    });
    cy.session.join(&url, runtime.handle(), || {}).unwrap();
    support::eventually("the chip counts three", || {
        frame(&mut harness, &mut [&mut bo, &mut cy]);
        harness
            .query_by_label("Hosting studio · 3 here")
            .map(|_| ())
    });
    harness.get_by_label("3 here: Ada, Bo, Cy");
    assert_eq!(
        harness
            .query_all_by_role_and_label(Role::Button, "Stop hosting")
            .count(),
        2,
        "on the chip and in the invite panel"
    );

    // Closing the window: held off, and the dialog asks, Bo first.
    harness
        .input_mut()
        .viewports
        .entry(ViewportId::ROOT)
        .or_default()
        .events
        .push(ViewportEvent::Close);
    frame(&mut harness, &mut [&mut bo, &mut cy]);
    assert!(asked(&harness, &ViewportCommand::CancelClose));
    frame(&mut harness, &mut [&mut bo, &mut cy]);
    harness.get_by_label("Quit while hosting studio?");
    harness.get_by_role(Role::ComboBox);
    assert!(harness.query_by_label("Bo").is_some());
    harness
        .get_by_role_and_label(Role::Button, "Hand over and quit")
        .click();
    support::eventually("the room is handed over and the window closes", || {
        frame(&mut harness, &mut [&mut bo, &mut cy]);
        asked(&harness, &ViewportCommand::Close).then_some(())
    });
    assert_eq!(harness.state().hosting().phase(), Phase::Off);
    let bo_urls = bo
        .hosting
        .host()
        .expect("Bo hosts the room")
        .urls()
        .to_vec();
    support::eventually("Cy follows the room to Bo's relay", || {
        frame(&mut harness, &mut [&mut bo, &mut cy]);
        (cy.settled()
            && bo_urls
                .iter()
                .any(|url| cy.session.room_url() == Some(url.as_str())))
        .then_some(())
    });
    // And they draw on together.
    cy.draw(10.0);
    support::eventually("Cy's drawing reaches Bo", || {
        frame(&mut harness, &mut [&mut bo, &mut cy]);
        (bo.session.board().object_count() == 1 && cy.settled()).then_some(())
    });
}

#[test]
fn when_the_host_vanishes_a_member_sees_it_and_hosts_the_board_from_its_copy() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut ada = Person::new("Ada", &runtime, &data.path().join("ada"));
    ada.draw(0.0);
    ada.hosting.start(&ada.session, "harbour").unwrap();
    support::eventually("Ada hosts", || {
        ada.turn();
        ada.settled().then_some(())
    });
    let url = ada.hosting.host().unwrap().own_url().to_owned();

    let mut harness = window(hosting_app("Bo", &data.path().join("bo"), &runtime));
    let ctx = harness.ctx.clone();
    harness.state_mut().join(&url, &ctx).unwrap();
    support::eventually("Bo is in, with Ada's drawing", || {
        frame(&mut harness, &mut [&mut ada]);
        let session = harness.state().session();
        (*session.status() == ConnectionStatus::Connected && session.board().object_count() == 1)
            .then_some(())
    });
    assert!(harness.query_by_label(HOST_GONE).is_none());
    let log = harness.state().session().log().len();

    ada.hosting.abandon();
    support::eventually("Bo sees the host gone", || {
        harness.step();
        harness.query_by_label(HOST_GONE).map(|_| ())
    });
    harness.get_by_role_and_label(Role::Button, "Join…");
    press(&mut harness, "Host this board");
    support::eventually("Bo hosts the room from his copy, his join recorded", || {
        harness.step();
        let app = harness.state();
        (app.hosting().phase() == Phase::On
            && *app.session().status() == ConnectionStatus::Connected
            && app.session().log().len() > log)
            .then_some(())
    });
    harness.step();
    harness.get_by_label("Hosting harbour · 1 here");
    assert!(harness.query_by_label(HOST_GONE).is_none());
    let session = harness.state().session();
    assert_eq!(session.board().object_count(), 1, "nothing lost");
    let host = harness.state().hosting().host().unwrap();
    assert_eq!(host.room(), "harbour");
    assert_eq!(session.room_url(), Some(host.own_url()));
}
