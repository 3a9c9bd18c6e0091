//! LAN discovery on the loopback interface only: a relay advertised by the
//! test is found with its port, flags and rooms, follows their changes, and
//! is removed from the list once it stops.

use std::time::{Duration, Instant};

use tabula_server::discovery::{Advertiser, Browser, FoundRelay, Interfaces};
use tabula_shared::lan::{Advert, AdvertisedRoom};

/// mDNS probes and announces over a second or two; a loaded machine gets
/// far more than that before a test gives up.
const FIND_WITHIN: Duration = Duration::from_secs(30);

fn loopback() -> Interfaces {
    Interfaces::named(["lo"])
}

/// Polls `browser` until the relay named `instance` satisfies `wanted`, or
/// fails the test after [`FIND_WITHIN`].
fn wait_for(
    browser: &mut Browser,
    instance: &str,
    what: &str,
    wanted: impl Fn(Option<&FoundRelay>) -> bool,
) -> Option<FoundRelay> {
    let deadline = Instant::now() + FIND_WITHIN;
    loop {
        browser.poll();
        let relay = browser.relays().find(|relay| relay.instance == instance);
        if wanted(relay) {
            return relay.cloned();
        }
        assert!(
            Instant::now() < deadline,
            "{what} within {FIND_WITHIN:?}; the browser knows {:?}",
            browser.relays().collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A name of its own, so that what other tests advertise is told apart.
fn unique_instance(what: &str) -> String {
    format!(
        "test {what} {}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    )
}

fn advert(rooms: &[(&str, u32)]) -> Advert {
    Advert {
        protocol: tabula_shared::PROTOCOL_VERSION,
        tls: false,
        password: true,
        lists_rooms: true,
        rooms: rooms
            .iter()
            .map(|(name, members)| AdvertisedRoom {
                name: (*name).to_owned(),
                members: *members,
                password: false,
            })
            .collect(),
        more_rooms: 0,
    }
}

#[test]
fn an_advertised_relay_is_found_kept_current_and_removed_when_it_stops() {
    let instance = unique_instance("advertiser");
    let port = 47_123;
    let mut browser = Browser::start(&loopback(), || {}).expect("browsing starts");
    let mut advertiser = Advertiser::start(&instance, port, &loopback(), advert(&[("team", 2)]))
        .expect("advertising starts");

    let found = wait_for(&mut browser, &instance, "the relay is found", |relay| {
        relay.is_some_and(|relay| relay.advert.as_ref().is_ok_and(|a| !a.rooms.is_empty()))
    })
    .expect("found");
    assert_eq!(found.port, port);
    assert!(
        found.addresses.iter().all(std::net::IpAddr::is_loopback),
        "advertised on the loopback interface only: {:?}",
        found.addresses
    );
    assert_eq!(
        found.url("team").as_deref(),
        Some("ws://127.0.0.1:47123/team")
    );
    assert_eq!(found.advert, Ok(advert(&[("team", 2)])));

    advertiser
        .update(advert(&[("team", 3), ("design", 1)]))
        .expect("updates");
    wait_for(
        &mut browser,
        &instance,
        "the new counts are seen",
        |relay| {
            relay.is_some_and(|relay| relay.advert == Ok(advert(&[("team", 3), ("design", 1)])))
        },
    );

    advertiser.stop();
    wait_for(
        &mut browser,
        &instance,
        "the stopped relay is removed",
        |relay| relay.is_none(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_advertises_its_rooms_with_who_is_in_them_and_withdraws_when_it_stops() {
    let instance = unique_instance("relay");
    let relay = crate::support::TestRelay::with_config(tabula_server::Config {
        advertise: Some(tabula_server::discovery::Advertise {
            instance: instance.clone(),
            interfaces: loopback(),
            rooms: tabula_server::discovery::ListRooms::All,
        }),
        ..crate::support::test_config()
    })
    .await;
    let (_ada, _) = crate::support::TestClient::join(&relay, "team", "ada").await;
    let (bo, _) = crate::support::TestClient::join(&relay, "team", "bo").await;
    let (_cy, _) = crate::support::TestClient::join(&relay, "design", "cy").await;

    let port = relay.addr.port();
    let mut browser = Browser::start(&loopback(), || {}).expect("browsing starts");
    let counts = |relay: Option<&FoundRelay>| {
        relay
            .and_then(|relay| relay.advert.clone().ok())
            .map(|advert| {
                advert
                    .rooms
                    .iter()
                    .map(|room| (room.name.clone(), room.members))
                    .collect::<Vec<_>>()
            })
    };
    let found = tokio::task::block_in_place(|| {
        wait_for(&mut browser, &instance, "the rooms are listed", |relay| {
            counts(relay) == Some(vec![("team".to_owned(), 2), ("design".to_owned(), 1)])
        })
    })
    .expect("found");
    assert_eq!(found.port, port);
    assert!(matches!(
        relay.relay.advertised(),
        tabula_server::discovery::Advertised::On(_)
    ));

    drop(bo);
    tokio::task::block_in_place(|| {
        wait_for(&mut browser, &instance, "a leave is counted", |relay| {
            counts(relay) == Some(vec![("design".to_owned(), 1), ("team".to_owned(), 1)])
        });
    });
    relay.stop().await.expect("stops");
    tokio::task::block_in_place(|| {
        wait_for(
            &mut browser,
            &instance,
            "the stopped relay is removed",
            |relay| relay.is_none(),
        );
    });
}
