//! Hosting from the app, with no window: the app's own hosting code (a
//! `Hosting` per person, beside their `Session`) hosts a board, others
//! join it over loopback, the host hands the room over and leaves, and
//! drawing goes on; a host that vanishes is replaced by a member hosting its
//! own copy. Every board must come out identical and every log contiguous,
//! with no op lost or doubled.

use std::collections::HashMap;

use tabula_app::host::hosting::{Notice, Phase};
use tabula_app::session::ConnectionStatus;
use tabula_shared::OpId;

use crate::support::{self, Person};

/// Turns everyone until `done` holds.
fn wait_for(what: &str, people: &mut [&mut Person], done: impl Fn(&[&mut Person]) -> bool) {
    support::eventually(what, || {
        for person in people.iter_mut() {
            person.turn();
        }
        done(people).then_some(())
    });
}

/// Everyone's board and log are the same, each log runs 1, 2, 3, … with no
/// gap, and every op anyone made is in it exactly once.
fn assert_converged(people: &[&mut Person]) {
    let first = &people[0].session;
    for person in people {
        let session = &person.session;
        let name = &session.me().name;
        assert_eq!(session.board(), first.board(), "{name}'s board");
        for (i, op) in session.log().iter().enumerate() {
            assert_eq!(op.seq, i as u64 + 1, "{name}'s log has a gap");
        }
        let ids: Vec<OpId> = session.log().iter().map(|op| op.op.id).collect();
        let theirs: Vec<OpId> = first.log().iter().map(|op| op.op.id).collect();
        assert_eq!(ids, theirs, "{name}'s log");
    }
    let mut count: HashMap<OpId, usize> = HashMap::new();
    for op in first.log() {
        *count.entry(op.op.id).or_default() += 1;
    }
    for person in people {
        for id in &person.made {
            assert_eq!(
                count.get(id),
                Some(&1),
                "{}'s op {id} must be in the log exactly once",
                person.session.me().name
            );
        }
    }
}

/// Waits until `host` runs the room, as its only operator in `other`'s
/// eyes too, and checks that `other` edits.
fn the_host_runs_the_room(host: &mut Person, other: &mut Person) {
    wait_for("the host is its operator", &mut [host, other], |people| {
        let host = people[0].session.me().client;
        people[0].session.is_operator()
            && people[1]
                .session
                .access()
                .is_some_and(|access| access.operators == [host])
    });
    assert!(!other.session.is_operator() && other.session.may_edit());
}

#[test]
fn three_draw_the_host_hands_the_room_over_and_leaves_and_drawing_goes_on() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut ada = Person::new("Ada", &runtime, &data.path().join("ada"));
    let mut bo = Person::new("Bo", &runtime, &data.path().join("bo"));
    let mut cy = Person::new("Cy", &runtime, &data.path().join("cy"));

    // Ada sketched before hosting: the board goes into the room as it is.
    ada.draw(0.0);
    ada.draw(10.0);
    let sketched = ada.session.log().len();
    ada.hosting.start(&ada.session, "studio").unwrap();
    wait_for(
        "Ada hosts her board and her join is recorded",
        &mut [&mut ada],
        |p| {
            p[0].hosting.phase() == Phase::On
                && p[0].settled()
                && p[0].session.log().len() > sketched
        },
    );
    let host = ada.hosting.host().unwrap();
    let url = host.own_url().to_owned();
    assert_eq!(
        host.urls(),
        std::slice::from_ref(&url),
        "on loopback, the one URL"
    );
    assert_eq!(
        ada.session.log().len(),
        sketched + 1,
        "her sketch, then her recorded join"
    );

    // Bo comes first: he will have been there longest after Ada.
    bo.session.join(&url, runtime.handle(), || {}).unwrap();
    wait_for("Bo is in", &mut [&mut ada, &mut bo], |p| {
        p.iter()
            .all(|p| p.settled() && p.session.peers().count() == 1)
    });
    cy.session.join(&url, runtime.handle(), || {}).unwrap();
    wait_for("everyone is in", &mut [&mut ada, &mut bo, &mut cy], |p| {
        p.iter()
            .all(|p| p.settled() && p.session.peers().count() == 2)
    });
    // The host runs the room; the others edit.
    the_host_runs_the_room(&mut ada, &mut bo);
    for (i, person) in [&mut ada, &mut bo, &mut cy].into_iter().enumerate() {
        person.draw(100.0 + i as f32 * 20.0);
    }
    wait_for(
        "the drawings settle",
        &mut [&mut ada, &mut bo, &mut cy],
        |p| {
            p.iter().all(|p| p.settled())
                && p.iter()
                    .all(|q| q.session.board().last_seq() == p[0].session.board().last_seq())
        },
    );

    // Ada stops hosting: Bo, there longest after her, takes the room over,
    // and everyone, Ada too, follows it to Bo's relay while still drawing.
    ada.hosting.stop(&mut ada.session, None);
    assert_eq!(ada.hosting.phase(), Phase::HandingOver);
    cy.draw(300.0);
    wait_for(
        "the room lives on Bo's relay, and Ada's has stopped",
        &mut [&mut ada, &mut bo, &mut cy],
        |p| {
            let Some(bo_host) = p[1].hosting.host() else {
                return false;
            };
            p[0].hosting.phase() == Phase::Off
                && p.iter().all(|p| {
                    p.settled()
                        && bo_host
                            .urls()
                            .iter()
                            .any(|url| p.session.room_url() == Some(url.as_str()))
                })
        },
    );
    assert_eq!(
        ada.hosting.notice(),
        Some(&Notice::HandedOver("Bo".to_owned()))
    );
    for (i, person) in [&mut ada, &mut bo, &mut cy].into_iter().enumerate() {
        person.draw(500.0 + i as f32 * 20.0);
    }
    // Undo keeps working across the move: Ada takes back her last stroke.
    ada.session.undo();
    wait_for(
        "the drawings settle again",
        &mut [&mut ada, &mut bo, &mut cy],
        |p| {
            p.iter().all(|p| p.settled())
                && p.iter()
                    .all(|q| q.session.board().last_seq() == p[0].session.board().last_seq())
        },
    );
    assert_converged(&[&mut ada, &mut bo, &mut cy]);
    assert_eq!(
        ada.session.board().object_count(),
        2 + 3 + 1 + 3 - 1,
        "the sketch, three drawings, Cy's during the move, three more, one undone"
    );
}

#[test]
fn when_the_host_vanishes_a_member_hosts_its_copy_and_the_others_rejoin_it() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut ada = Person::new("Ada", &runtime, &data.path().join("ada"));
    let mut bo = Person::new("Bo", &runtime, &data.path().join("bo"));
    let mut cy = Person::new("Cy", &runtime, &data.path().join("cy"));

    ada.hosting.start(&ada.session, "studio").unwrap();
    wait_for("Ada hosts", &mut [&mut ada], |p| {
        p[0].hosting.phase() == Phase::On && p[0].settled()
    });
    let url = ada.hosting.host().unwrap().own_url().to_owned();
    bo.session.join(&url, runtime.handle(), || {}).unwrap();
    cy.session.join(&url, runtime.handle(), || {}).unwrap();
    for (i, person) in [&mut ada, &mut bo, &mut cy].into_iter().enumerate() {
        person.draw(i as f32 * 20.0);
    }
    wait_for(
        "the drawings settle",
        &mut [&mut ada, &mut bo, &mut cy],
        |p| {
            p.iter()
                .all(|p| p.settled() && p.session.peers().count() == 2)
                && p.iter()
                    .all(|q| q.session.board().last_seq() == p[0].session.board().last_seq())
        },
    );
    let before = bo.session.board().clone();
    let ada_made = ada.made.clone();

    // Ada's laptop closes: her relay is gone without a word.
    ada.hosting.abandon();
    drop(ada);
    wait_for(
        "the others see the host gone",
        &mut [&mut bo, &mut cy],
        |p| {
            p.iter()
                .all(|p| matches!(p.session.status(), ConnectionStatus::Reconnecting { .. }))
        },
    );
    // They keep their boards, and keep drawing.
    assert_eq!(bo.session.board(), &before);
    cy.draw(200.0);

    // Bo hosts the board from his copy; Cy finds it and joins it.
    bo.hosting.start(&bo.session, "studio").unwrap();
    wait_for("Bo hosts his copy", &mut [&mut bo, &mut cy], |p| {
        p[0].hosting.phase() == Phase::On && p[0].settled()
    });
    let bo_url = bo.hosting.host().unwrap().own_url().to_owned();
    cy.session.join(&bo_url, runtime.handle(), || {}).unwrap();
    bo.draw(300.0);
    wait_for(
        "Cy rejoins and the drawings settle",
        &mut [&mut bo, &mut cy],
        |p| {
            p.iter()
                .all(|p| p.settled() && p.session.peers().count() == 1)
                && p[0].session.board().last_seq() == p[1].session.board().last_seq()
        },
    );
    assert_converged(&[&mut bo, &mut cy]);
    let log: Vec<OpId> = bo.session.log().iter().map(|op| op.op.id).collect();
    for id in &ada_made {
        assert!(log.contains(id), "Ada's acknowledged op {id} survives her");
    }
    assert_eq!(bo.session.board().object_count(), 3 + 1 + 1);
}

#[test]
fn a_taken_port_is_passed_over_for_the_next_and_the_host_says_so() {
    let data = tempfile::tempdir().unwrap();
    let (host, taken) = support::host_on_taken_port(data.path(), "studio");
    let port = taken.local_addr().unwrap().port();
    assert_ne!(host.address().port(), port);
    let note = host.port_note().expect("a note about the port");
    assert!(note.contains(&port.to_string()), "{note}");
    assert!(note.contains(&host.address().port().to_string()), "{note}");
    host.stop();
}

#[test]
fn a_room_hosted_with_a_code_lets_in_its_links_refuses_others_and_keeps_the_code_when_handed_over()
{
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut ada = Person::new("Ada", &runtime, &data.path().join("ada"));
    let mut bo = Person::new("Bo", &runtime, &data.path().join("bo"));
    let mut cy = Person::new("Cy", &runtime, &data.path().join("cy"));
    let mut eve = Person::new("Eve", &runtime, &data.path().join("eve"));
    ada.hosting.set_code_required(true);
    ada.hosting.start(&ada.session, "studio").unwrap();
    wait_for("Ada hosts with a code", &mut [&mut ada], |p| {
        p[0].hosting.phase() == Phase::On && p[0].settled()
    });
    let host = ada.hosting.host().unwrap();
    let code = host.code().expect("a code").clone();
    assert_eq!(code.expose().len(), tabula_shared::access::CODE_LENGTH);
    let url = host.own_url().to_owned();
    assert!(url.ends_with(&format!("&code={}", code.expose())), "{url}");
    let (bare, _) = tabula_shared::access::split_code(&url);
    let bare = bare.to_owned();

    // Bo first: he will have been there longest after Ada, and takes over.
    bo.session.join(&url, runtime.handle(), || {}).unwrap();
    wait_for("Bo is in", &mut [&mut ada, &mut bo], |p| {
        p.iter()
            .all(|p| p.settled() && p.session.peers().count() == 1)
    });
    cy.session.join(&url, runtime.handle(), || {}).unwrap();
    eve.session.join(&bare, runtime.handle(), || {}).unwrap();
    wait_for(
        "the invited are in, the uninvited refused",
        &mut [&mut ada, &mut bo, &mut cy, &mut eve],
        |p| {
            p[..3]
                .iter()
                .all(|p| p.settled() && p.session.peers().count() == 2)
                && matches!(p[3].session.status(), ConnectionStatus::Refused(_))
        },
    );

    // Ada hands over to Bo: his relay asks for the same code, and Cy, who
    // follows the room there, gets in with it.
    ada.hosting.stop(&mut ada.session, None);
    cy.draw(50.0);
    wait_for(
        "the room lives on Bo's relay",
        &mut [&mut ada, &mut bo, &mut cy],
        |p| {
            let Some(bo_host) = p[1].hosting.host() else {
                return false;
            };
            p[0].hosting.phase() == Phase::Off
                && p[1..].iter().all(|p| {
                    p.settled()
                        && bo_host
                            .urls()
                            .iter()
                            .any(|url| p.session.room_url() == Some(url.as_str()))
                })
        },
    );
    assert_eq!(bo.hosting.host().unwrap().code(), Some(&code));
    ada.session.leave();
    bo.session.leave();
    cy.session.leave();
    eve.session.leave();
}
