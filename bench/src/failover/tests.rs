//! Moving peers against real relays in process: a relay that shuts down
//! sends its peers on, past an address where nothing listens, to the next
//! relay, where they are caught up with everything they sent acknowledged.

use std::time::Duration;

use tabula_server::Config;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::time::{Instant, sleep};

use super::mover::{Mover, Standing};
use super::{FailoverReport, wait_until};
use crate::target::{Target, Trust};
use crate::test_relay::{self, RelayTask};

/// A relay in memory, in process, on an ephemeral loopback port.
async fn relay() -> (std::net::SocketAddr, oneshot::Sender<()>, RelayTask) {
    test_relay::spawn(Config::default()).await
}

/// A port nothing listens on.
async fn nowhere() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_moves_past_a_dead_address_to_the_next_relay_and_is_caught_up() {
    let (first, stop, task) = relay().await;
    let dead = nowhere().await;
    let (second, _keep, _serving) = relay().await;
    let targets: Vec<Target> = [first, dead, second]
        .iter()
        .map(|addr| Target::parse(&format!("ws://{addr}/moving"), 1, Trust::default()).unwrap())
        .collect();
    let (mover, standing) = Mover::new(targets, 0, 0, 0, 200.0);
    let peer = tokio::spawn(mover.run());
    let now = || -> Standing { *standing.borrow() };
    wait_until(Duration::from_secs(10), "the first welcome", || {
        now().caught_up.is_some()
    })
    .await
    .unwrap();
    assert_eq!(now().moves, 0);
    sleep(Duration::from_millis(200)).await;
    let stopped = Instant::now();
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    wait_until(Duration::from_secs(10), "the move", || {
        let s = now();
        s.moves == 1 && s.caught_up.is_some()
    })
    .await
    .unwrap();
    let s = now();
    assert!(s.lost.unwrap() >= stopped && s.caught_up.unwrap() >= s.lost.unwrap());
    // It stays on the second relay, drawing.
    sleep(Duration::from_millis(200)).await;
    assert_eq!(now().moves, 1);
    peer.abort();
}

#[test]
fn the_report_gives_nearest_rank_quantiles() {
    let report = FailoverReport {
        runs: [300, 100, 200, 900, 400]
            .map(Duration::from_millis)
            .to_vec(),
        peers: 10,
        error: None,
    };
    assert_eq!(report.quantile(0.5), Some(Duration::from_millis(300)));
    assert_eq!(report.quantile(0.99), Some(Duration::from_millis(900)));
    assert!(
        report
            .to_text()
            .contains("p50 300 ms, p99 900 ms, min 100 ms, max 900 ms")
    );
    assert!(report.to_json().to_string().contains("\"p50_ms\":300.0"));
    assert_eq!(FailoverReport::default().quantile(0.5), None);
}
