//! Access through real relays: a session keeps the resume secret its welcome
//! gave it and presents it on every reconnect; a session that names
//! another's client id without it is refused, and the other never notices; a
//! session answers a relay's password challenge with the invitation's code.

use std::time::Duration;

use tabula_app::session::{ConnectionStatus, Session};
use tabula_server::Config;
use tabula_shared::access::Password;
use tabula_shared::{Op, OpKind, StrokeId};

use crate::support::{self, Proxy, Relay, identity};

/// Polls the sessions until `done` holds.
fn wait_for(what: &str, sessions: &mut [&mut Session], done: impl Fn(&[&mut Session]) -> bool) {
    support::eventually(what, || {
        for session in sessions.iter_mut() {
            session.poll();
        }
        done(sessions).then_some(())
    });
}

/// An op that shows on the other board.
fn mark() -> Op {
    Op::new(OpKind::StrokeEnd {
        stroke: StrokeId::random(),
    })
}

#[test]
fn a_session_with_another_members_id_is_refused_and_the_member_stays() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let relay = Relay::start(&runtime, Config::default());
    let url = relay.url("studio");
    let alice_identity = identity("Alice");
    let mut alice = Session::offline(alice_identity.clone());
    let mut bob = Session::offline(identity("Bob"));
    alice.join(&url, runtime.handle(), || {}).unwrap();
    bob.join(&url, runtime.handle(), || {}).unwrap();
    wait_for("both are in", &mut [&mut alice, &mut bob], |s| {
        s.iter()
            .all(|s| *s.status() == ConnectionStatus::Connected && s.peers().count() == 1)
    });

    // Someone who read Alice's id off the wire (every peer sees it) claims it.
    let mut impostor = Session::offline(alice_identity);
    impostor.join(&url, runtime.handle(), || {}).unwrap();
    wait_for("the impostor is refused", &mut [&mut impostor], |s| {
        matches!(s[0].status(), ConnectionStatus::Refused(_))
    });
    let ConnectionStatus::Refused(reason) = impostor.status() else {
        unreachable!()
    };
    assert!(reason.contains("resume secret"), "{reason}");

    // Alice is still connected and still herself; Bob saw nobody come or go.
    std::thread::sleep(Duration::from_millis(300));
    alice.poll();
    bob.poll();
    assert_eq!(*alice.status(), ConnectionStatus::Connected);
    assert_eq!(bob.peers().count(), 1);
    let drawn = mark();
    alice.submit(drawn.clone());
    wait_for("Bob gets Alice's op", &mut [&mut alice, &mut bob], |s| {
        s[1].log()
            .iter()
            .any(|o| o.op.id == drawn.id && o.author == s[0].me().client)
    });
    impostor.leave();
    alice.leave();
    bob.leave();
    relay.stop(&runtime);
}

#[test]
fn a_session_resumes_as_itself_after_each_cut() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let relay = Relay::start(&runtime, Config::default());
    let proxy = Proxy::start(&runtime, relay.addr);
    let mut alice = Session::offline(identity("Alice"));
    let mut bob = Session::offline(identity("Bob"));
    alice
        .join(&proxy.url("studio"), runtime.handle(), || {})
        .unwrap();
    bob.join(&relay.url("studio"), runtime.handle(), || {})
        .unwrap();
    for round in 0..3 {
        wait_for("both are in", &mut [&mut alice, &mut bob], |s| {
            s.iter()
                .all(|s| *s.status() == ConnectionStatus::Connected && s.peers().count() == 1)
        });
        let drawn = mark();
        alice.submit(drawn.clone());
        wait_for("Bob gets Alice's op", &mut [&mut alice, &mut bob], |s| {
            s[1].log().iter().any(|o| o.op.id == drawn.id)
        });
        proxy.cut();
        wait_for(
            &format!("Alice notices cut {round}"),
            &mut [&mut alice],
            |s| matches!(s[0].status(), ConnectionStatus::Reconnecting { .. }),
        );
        proxy.restore();
    }
    wait_for("Alice is back", &mut [&mut alice, &mut bob], |s| {
        *s[0].status() == ConnectionStatus::Connected
    });
    alice.leave();
    bob.leave();
    relay.stop(&runtime);
}

#[test]
fn a_session_answers_the_relays_password_from_the_invitations_code() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let relay = Relay::with_password(&runtime, "K7QX2M");
    let url = relay.url("studio");
    let mut invited = Session::offline(identity("Invited"));
    invited
        .join(&format!("{url}#code=K7QX2M"), runtime.handle(), || {})
        .unwrap();
    let mut typed = Session::offline(identity("Typed"));
    typed.set_password(Password::new("K7QX2M"));
    typed.join(&url, runtime.handle(), || {}).unwrap();
    let mut wrong = Session::offline(identity("Wrong"));
    wrong
        .join(&format!("{url}#code=AAAAAA"), runtime.handle(), || {})
        .unwrap();
    let mut without = Session::offline(identity("Without"));
    without.join(&url, runtime.handle(), || {}).unwrap();
    wait_for(
        "the two with the code are in, the others refused",
        &mut [&mut invited, &mut typed, &mut wrong, &mut without],
        |s| {
            s[..2]
                .iter()
                .all(|s| *s.status() == ConnectionStatus::Connected && s.peers().count() == 1)
                && s[2..]
                    .iter()
                    .all(|s| matches!(s.status(), ConnectionStatus::Refused(_)))
        },
    );
    assert_eq!(
        *wrong.status(),
        ConnectionStatus::Refused(
            "the relay closed the connection: wrong password for this relay".to_owned()
        )
    );
    assert_eq!(
        *without.status(),
        ConnectionStatus::Refused("the relay needs a password".to_owned())
    );
    for session in [&mut invited, &mut typed, &mut wrong, &mut without] {
        session.leave();
    }
    relay.stop(&runtime);
}
