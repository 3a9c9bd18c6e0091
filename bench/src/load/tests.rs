//! The load run against a real relay in process: delivery, passwords, a relay
//! that goes away, and wss://.

use tabula_server::Config;
use tokio::sync::oneshot;
use tokio::time::timeout;

use super::connect::connect_raw;
use super::*;
use crate::target::Trust;
use crate::test_relay::{self, RelayTask};

/// The relay, in process, on an ephemeral loopback port.
async fn relay() -> (std::net::SocketAddr, oneshot::Sender<()>, RelayTask) {
    test_relay::spawn(Config::default()).await
}

fn plan(addr: std::net::SocketAddr, rooms: usize, duration: Duration) -> LoadPlan {
    LoadPlan {
        target: Target::parse(&format!("ws://{addr}/smoke"), rooms, Trust::default()).unwrap(),
        mode: Mode::Tabula,
        peers: 6,
        rate_hz: 50.0,
        size: 100,
        duration,
        slow: 0,
        drain: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(10),
        relay_pid: Some(std::process::id()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_against_the_relay_delivers_everything() {
    let (addr, stop, task) = relay().await;
    let plan = plan(addr, 2, Duration::from_secs(1));
    let report = run(&plan).await;
    assert_eq!(report.error, None);
    assert!(report.sent > 0);
    assert!(report.sent <= report.offered + 6);
    assert!(report.delivered > 0);
    assert_eq!(report.lost(), 0);
    assert_eq!(report.acked, report.sent);
    // Two rooms of three: each op reaches the two other peers of its room.
    assert_eq!(report.expected, report.sent * 2);
    assert!(report.latencies.as_ref().unwrap().quantile_us(0.99) > 0);
    assert!(report.relay_memory.is_some());

    // A second run in the same rooms ignores the first run's history.
    let again = run(&plan).await;
    assert_eq!(again.error, None);
    assert_eq!(again.delivered, again.expected);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_answers_a_relays_password_from_the_urls_code_and_fails_without_it() {
    let (addr, stop, task) = test_relay::spawn(Config {
        password: tabula_shared::access::Password::new("K7QX2M"),
        ..Config::default()
    })
    .await;
    let mut with_code = plan(addr, 1, Duration::from_millis(500));
    with_code.target = Target::parse(
        &format!("ws://{addr}/smoke#code=K7QX2M"),
        1,
        Trust::default(),
    )
    .unwrap();
    let report = run(&with_code).await;
    assert_eq!(report.error, None);
    assert!(report.delivered > 0);
    let refused = run(&plan(addr, 1, Duration::from_millis(500))).await;
    let error = refused.error.expect("refused without the password");
    assert!(error.contains("needs a password"), "{error}");
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_goes_away_leaves_the_figures_and_an_error() {
    // Margins a loaded 2-core machine cannot miss: acks within the first
    // 2 s of a run, and the run ending within a minute of the relay, long
    // before the 10 minutes it was planned for.
    let (addr, stop, task) = relay().await;
    let plan = plan(addr, 1, Duration::from_mins(10));
    let run = tokio::spawn(async move { run(&plan).await });
    sleep(Duration::from_secs(2)).await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    let report = timeout(Duration::from_mins(1), run)
        .await
        .expect("the run did not stop when the relay went away")
        .unwrap();
    assert!(report.error.is_some());
    assert!(report.acked > 0);
    assert!(report.duration < Duration::from_mins(1));
}

/// A relay serving wss:// with a certificate made as `gen-cert` makes
/// one, its fingerprint, and the folder the pair is kept in.
async fn tls_relay() -> (
    std::net::SocketAddr,
    tabula_shared::fingerprint::Fingerprint,
    oneshot::Sender<()>,
    RelayTask,
    tempfile::TempDir,
) {
    use tabula_server::tls::self_signed::{generate, write_pair};
    let dir = tempfile::tempdir().unwrap();
    let made = generate(&["127.0.0.1".to_owned()]).unwrap();
    let (cert, key) = write_pair(dir.path(), &made).unwrap();
    let config = Config {
        tls: Some(tabula_server::TlsSettings::load(&cert, &key).unwrap()),
        ..Config::default()
    };
    let (addr, stop, task) = test_relay::spawn(config).await;
    (addr, made.fingerprint, stop, task, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_over_wss_checks_the_relays_certificate() {
    let (addr, fingerprint, stop, task, _dir) = tls_relay().await;
    // An invitation's fingerprint, as the app takes it.
    let invite = format!("wss://{addr}/smoke#fp={}", fingerprint.url_form());
    let plan = LoadPlan {
        target: Target::parse(&invite, 2, Trust::default()).unwrap(),
        ..plan(addr, 2, Duration::from_millis(500))
    };
    let report = run(&plan).await;
    assert_eq!(report.error, None);
    assert!(report.sent > 0);
    assert_eq!(report.delivered, report.expected);
    assert_eq!(report.acked, report.sent);

    // tungstenite's peers (--idle, --join-ops), with --insecure.
    let insecure = Trust {
        insecure: true,
        ..Trust::default()
    };
    let target = Target::parse(&format!("wss://{addr}/smoke-0"), 1, insecure).unwrap();
    let connected = connect(&target, Mode::Tabula, 0, 0, None).await.unwrap();
    assert!(connected.head > 0, "welcomed into the room of the run");

    // Another certificate is refused, naming both.
    let other = tabula_shared::fingerprint::Fingerprint::of_certificate(b"another");
    let pinned = Trust {
        fingerprint: Some(other),
        insecure: false,
    };
    let target = Target::parse(&format!("wss://{addr}/smoke"), 1, pinned).unwrap();
    let refused = connect(&target, Mode::Tabula, 0, 0, None)
        .await
        .err()
        .unwrap();
    let refused = format!("{refused:#}");
    assert!(refused.contains(&other.short_code()), "{refused}");
    assert!(refused.contains(&fingerprint.short_code()), "{refused}");
    let refused = connect_raw(&target, Mode::Tabula, 0, 0)
        .await
        .err()
        .unwrap();
    assert!(
        format!("{refused:#}").contains(&fingerprint.long()),
        "{refused:#}"
    );

    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}
