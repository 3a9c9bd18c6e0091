//! Shutting the relay down closes every peer with 1001, then `run` returns.

use tokio::time::{Instant, timeout};

use crate::support::{TestClient, TestRelay, WAIT};

#[tokio::test]
async fn shutdown_closes_every_peer_with_1001_and_run_returns() {
    let mut relay = TestRelay::start().await;
    let (mut a, _) = TestClient::join(&relay, "closing", "a").await;
    let (mut b, _) = TestClient::join(&relay, "elsewhere", "b").await;
    // Connected, but not yet said hello.
    let mut c = TestClient::connect(&relay, "closing", "c").await;

    let started = Instant::now();
    relay.begin_shutdown();
    for client in [&mut a, &mut b, &mut c] {
        assert_eq!(
            client.expect_close().await,
            (1001, "the relay is shutting down".to_owned())
        );
    }
    // Each client answered the close, so the relay need not wait out its grace.
    let addr = relay.addr;
    timeout(WAIT, relay.stop()).await.unwrap().unwrap();
    assert!(started.elapsed() < WAIT);

    // Nobody is listening any more.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
