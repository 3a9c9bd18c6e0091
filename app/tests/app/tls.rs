//! wss://: sessions with their real network tasks, joined to real relays
//! that serve a certificate made as `tabula-server gen-cert` makes one. The
//! first connection to a host trusts its certificate and remembers it; a
//! host that later presents another is refused, with both fingerprints; an
//! invitation's `#fp=` is checked from the first byte.

use std::net::SocketAddr;

use tabula_app::session::{ConnectionStatus, KnownHosts, Session, Trust};
use tabula_server::tls::TlsSettings;
use tabula_server::tls::self_signed::{generate, write_pair};
use tabula_server::{Config, Relay as RelayHandle};
use tabula_shared::fingerprint::Fingerprint;
use tabula_shared::relay_url::with_fingerprint;
use tabula_shared::{Op, OpKind, Point, StrokeId, StrokeStyle};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use egui_kittest::kittest::Queryable as _;

use crate::support::{self, COLOR, Relay, app, identity, window};

/// A certificate for 127.0.0.1, loaded as a relay loads one, kept in a
/// folder that lives as long as the test.
fn certificate() -> (TlsSettings, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let made = generate(&["127.0.0.1".to_owned()]).expect("a certificate");
    let (cert, key) = write_pair(dir.path(), &made).expect("the pair written");
    let settings = TlsSettings::load(&cert, &key).expect("the pair loads");
    (settings, dir)
}

/// A relay serving wss:// with `tls`.
fn tls_relay(runtime: &tokio::runtime::Runtime, tls: TlsSettings) -> Relay {
    Relay::start(
        runtime,
        Config {
            tls: Some(tls),
            ..Config::default()
        },
    )
}

/// A session whose known hosts are kept in `dir`.
fn session(name: &str, known_hosts: &KnownHosts) -> Session {
    let mut session = Session::offline(identity(name));
    session.set_known_hosts(known_hosts.clone());
    session
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

/// The reason the session was refused, once it is.
fn refusal(session: &mut Session) -> String {
    support::eventually("the relay is refused", || {
        session.poll();
        match session.status() {
            ConnectionStatus::Refused(reason) => Some(reason.clone()),
            _ => None,
        }
    })
}

#[test]
fn two_sessions_draw_over_wss_trusting_on_first_use_and_by_invitation() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (tls, _cert_dir) = certificate();
    let fingerprint = tls.fingerprint();
    let relay = tls_relay(&runtime, tls);
    let url = format!("wss://{}/studio", relay.addr);
    let invite = with_fingerprint(&url, &fingerprint);
    let (alice_dir, bob_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let alice_hosts = KnownHosts::at(alice_dir.path().join("known-hosts"));
    let bob_hosts = KnownHosts::at(bob_dir.path().join("known-hosts"));
    let mut alice = session("Alice", &alice_hosts);
    let mut bob = session("Bob", &bob_hosts);

    // Alice types the address: nothing vouches for the certificate, so she
    // trusts it on first use, sees its short code, and remembers it.
    alice.join(&url, runtime.handle(), || {}).unwrap();
    // Bob opens the invitation: the certificate it names is checked.
    bob.join(&invite, runtime.handle(), || {}).unwrap();
    wait_for(
        "both are connected over wss:// and see each other",
        &mut [&mut alice, &mut bob],
        |s| {
            s.iter()
                .all(|s| *s.status() == ConnectionStatus::Connected && s.peers().count() == 1)
        },
    );
    let authority = relay.addr.to_string();
    let seen = alice.relay_certificate().expect("a certificate").clone();
    assert_eq!(
        (seen.authority.as_str(), seen.fingerprint, seen.trust),
        (authority.as_str(), fingerprint, Trust::FirstUse)
    );
    assert_eq!(seen.fingerprint.short_code().len(), 19);
    let seen = bob.relay_certificate().expect("a certificate");
    assert_eq!(
        (seen.fingerprint, seen.trust),
        (fingerprint, Trust::Invitation)
    );
    for hosts in [&alice_hosts, &bob_hosts] {
        assert_eq!(
            hosts.lookup(&authority).unwrap(),
            Some(fingerprint),
            "remembered for the host"
        );
    }

    // Drawing goes through TLS both ways.
    let stroke = StrokeId::random();
    alice.submit(Op::new(OpKind::StrokeBegin {
        stroke,
        style: StrokeStyle {
            color: COLOR,
            width: 2.0,
        },
        start: Point::new(1.0, 2.0),
    }));
    alice.submit(Op::new(OpKind::StrokeEnd { stroke }));
    wait_for(
        "Bob sees Alice's stroke",
        &mut [&mut alice, &mut bob],
        |s| {
            s[1].board().object(stroke).is_some_and(|st| st.finished)
                && s[0].board().pending_ops().count() == 0
        },
    );
    assert_eq!(alice.board(), bob.board());

    // Next time, Alice's certificate is known, not new.
    alice.leave();
    alice.join(&url, runtime.handle(), || {}).unwrap();
    wait_for("Alice is back", &mut [&mut alice], |s| {
        *s[0].status() == ConnectionStatus::Connected
    });
    assert_eq!(
        alice.relay_certificate().map(|c| c.trust),
        Some(Trust::Known)
    );

    alice.leave();
    bob.leave();
    relay.stop(&runtime);
}

/// A relay serving wss:// with `tls` on `addr` exactly, as a host that
/// restarted with another certificate would.
fn relay_at(
    runtime: &tokio::runtime::Runtime,
    addr: SocketAddr,
    tls: TlsSettings,
) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = runtime
        .block_on(TcpListener::bind(addr))
        .expect("bind the relay's port again");
    let relay = RelayHandle::new(Config {
        tls: Some(tls),
        ..Config::default()
    })
    .expect("a valid config");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = runtime.spawn(async move {
        let _ = relay
            .serve(listener, async move {
                let _ = stopped.await;
            })
            .await;
    });
    (stop, task)
}

#[test]
fn a_known_host_presenting_another_certificate_is_refused_with_both_fingerprints() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (first, _first_dir) = certificate();
    let (second, _second_dir) = certificate();
    let (trusted, other) = (first.fingerprint(), second.fingerprint());
    let relay = tls_relay(&runtime, first);
    let addr = relay.addr;
    let url = format!("wss://{addr}/studio");
    let dir = tempfile::tempdir().unwrap();
    let known_hosts = KnownHosts::at(dir.path().join("known-hosts"));
    let mut alice = session("Alice", &known_hosts);
    alice.join(&url, runtime.handle(), || {}).unwrap();
    wait_for("Alice is connected", &mut [&mut alice], |s| {
        *s[0].status() == ConnectionStatus::Connected
    });
    alice.leave();
    relay.stop(&runtime);

    // The same host and port now present another certificate.
    let (stop, task) = relay_at(&runtime, addr, second);
    alice.join(&url, runtime.handle(), || {}).unwrap();
    let reason = refusal(&mut alice);
    assert_refused_naming(&reason, trusted, other);
    assert!(
        reason.contains("known-hosts"),
        "says where to forget it: {reason}"
    );
    assert_eq!(alice.board().object_count(), 0);
    assert_eq!(
        known_hosts.lookup(&addr.to_string()).unwrap(),
        Some(trusted),
        "the certificate trusted before is still the one trusted"
    );
    // Refused for good: it does not try again.
    std::thread::sleep(std::time::Duration::from_millis(300));
    alice.poll();
    assert!(matches!(alice.status(), ConnectionStatus::Refused(_)));

    alice.leave();
    let _ = stop.send(());
    runtime.block_on(task).unwrap();
}

/// The refusal says the certificate changed and names both, long and short.
fn assert_refused_naming(reason: &str, expected: Fingerprint, presented: Fingerprint) {
    assert!(reason.contains("CERTIFICATE CHANGED"), "{reason}");
    for fingerprint in [expected, presented] {
        assert!(reason.contains(&fingerprint.long()), "{reason}");
        assert!(reason.contains(&fingerprint.short_code()), "{reason}");
    }
}

#[test]
fn an_invitation_naming_another_certificate_is_refused_before_any_room_data() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (tls, _cert_dir) = certificate();
    let presented = tls.fingerprint();
    let relay = tls_relay(&runtime, tls);
    let url = format!("wss://{}/studio", relay.addr);
    let forged = Fingerprint::of_certificate(b"the certificate the invitation names");
    let dir = tempfile::tempdir().unwrap();
    let known_hosts = KnownHosts::at(dir.path().join("known-hosts"));
    let mut bob = session("Bob", &known_hosts);
    bob.join(&with_fingerprint(&url, &forged), runtime.handle(), || {})
        .unwrap();
    let reason = refusal(&mut bob);
    assert_refused_naming(&reason, forged, presented);
    assert!(reason.contains("invitation"), "{reason}");
    assert!(bob.relay_certificate().is_none());
    assert_eq!(bob.peers().count(), 0, "no room data arrived");
    assert_eq!(
        known_hosts.lookup(&relay.addr.to_string()).unwrap(),
        None,
        "nothing remembered"
    );
    bob.leave();
    relay.stop(&runtime);
}

#[test]
fn the_wrong_scheme_is_refused_with_a_sentence_saying_which_to_use() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (tls, _cert_dir) = certificate();
    let secure = tls_relay(&runtime, tls);
    let plain = Relay::start(&runtime, Config::default());
    let dir = tempfile::tempdir().unwrap();
    let known_hosts = KnownHosts::at(dir.path().join("known-hosts"));

    let mut ws_to_tls = session("Ada", &known_hosts);
    ws_to_tls
        .join(&secure.url("studio"), runtime.handle(), || {})
        .unwrap();
    let reason = refusal(&mut ws_to_tls);
    assert!(
        reason.contains("HTTP 400") && reason.contains("wss://"),
        "{reason}"
    );

    let mut tls_to_ws = session("Bob", &known_hosts);
    let url = format!("wss://{}/studio", plain.addr);
    tls_to_ws.join(&url, runtime.handle(), || {}).unwrap();
    let reason = refusal(&mut tls_to_ws);
    assert!(reason.contains("does not speak TLS"), "{reason}");

    ws_to_tls.leave();
    tls_to_ws.leave();
    secure.stop(&runtime);
    plain.stop(&runtime);
}

#[test]
fn the_window_shows_a_new_certificates_code_to_compare_and_a_changed_one_in_full() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (tls, _cert_dir) = certificate();
    let code = tls.fingerprint().short_code();
    let relay = tls_relay(&runtime, tls);
    let known_hosts = KnownHosts::in_memory();
    let mut alice = session("Alice", &known_hosts);
    alice
        .join(
            &format!("wss://{}/studio", relay.addr),
            runtime.handle(),
            || {},
        )
        .unwrap();
    let mut harness = window(app(alice));
    support::eventually("Alice is connected", || {
        harness.step();
        (*harness.state().session().status() == ConnectionStatus::Connected).then_some(())
    });
    harness.run_steps(2);
    harness.get_by_label(&format!(
        "New relay certificate {code}: check that the host's app shows the same code."
    ));
    drop(harness);

    // Another certificate where the known one was expected: the refusal is
    // shown whole, naming both.
    let (other, _other_dir) = certificate();
    let other_code = other.fingerprint().short_code();
    let impostor = tls_relay(&runtime, other);
    let trusted = known_hosts
        .lookup(&relay.addr.to_string())
        .unwrap()
        .expect("remembered on first use");
    assert_eq!(trusted.short_code(), code);
    known_hosts
        .remember(&impostor.addr.to_string(), &trusted)
        .unwrap();
    let mut bob = session("Bob", &known_hosts);
    bob.join(
        &format!("wss://{}/studio", impostor.addr),
        runtime.handle(),
        || {},
    )
    .unwrap();
    let mut harness = window(app(bob));
    support::eventually("Bob is refused", || {
        harness.step();
        matches!(
            harness.state().session().status(),
            ConnectionStatus::Refused(_)
        )
        .then_some(())
    });
    harness.run_steps(2);
    harness.get_by_label_contains(&format!("presented certificate {other_code}"));
    harness.get_by_label_contains(&format!("not {code}"));
    drop(harness);
    relay.stop(&runtime);
    impostor.stop(&runtime);
}
