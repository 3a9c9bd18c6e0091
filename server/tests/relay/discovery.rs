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
    // A name of its own, so that relays other tests advertise are told apart.
    let instance = format!(
        "test relay {}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
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
