//! A cluster under load losing a node or its Redis: a node as a child
//! process killed with SIGKILL while its peers draw as fast as they can (they
//! move to another node), and Redis itself killed and restarted under load.
//! Afterwards every acknowledged op is in the room exactly once where its ack
//! said, Redis's stream holds each op once, and every peer converges.

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis::streams::StreamRangeReply;
use tabula_server::Config;
use tabula_shared::OpId;
use tokio::time::{Instant, sleep};
use uuid::Uuid;

use crate::child::ChildRelay;
use crate::crash::{self, Peer, Phase, ROOM};
use crate::redis_server::TestRedis;
use crate::support::{TestRelay, WAIT, test_config};

/// How many peers draw at once.
const PEERS: usize = 3;
/// How many times a node (or Redis) is killed.
const KILLS: u64 = 2;

/// `tabula-server --redis URL --listen 127.0.0.1:0` in a child process.
fn child_node(redis: &TestRedis) -> ChildRelay {
    let mut command = Command::new(ChildRelay::binary());
    command
        .arg("--redis")
        .arg(redis.url())
        .args(["--listen", "127.0.0.1:0"]);
    ChildRelay::spawn(command)
}

/// Waits until the peers have been acked more than `before` ops in all.
async fn taking_ops(acks: &AtomicUsize, before: usize) {
    let deadline = Instant::now() + WAIT;
    while acks.load(Ordering::Relaxed) <= before && Instant::now() < deadline {
        sleep(Duration::from_millis(10)).await;
    }
}

/// Has `peers` draw on `url` until `kill`, called once they are taking ops
/// and a moment later in each `round`, cuts them off; leaves them as they
/// were then and returns how many of their ops were in flight.
async fn draw_until(
    peers: &mut Vec<Peer>,
    url: &str,
    acks: &AtomicUsize,
    round: u64,
    kill: impl FnOnce(),
) -> usize {
    let drawing = {
        let (mut peers, url) = (peers.clone(), url.to_owned());
        tokio::spawn(async move {
            let unacked = crash::all(&mut peers, &url, Phase::Draw).await;
            (peers, unacked)
        })
    };
    let before: usize = peers.iter().map(|p| p.acked.len()).sum();
    taking_ops(acks, before).await;
    sleep(Duration::from_millis(150 + 80 * round)).await;
    kill();
    let (after, unacked) = drawing.await.expect("the drawing peers panicked");
    *peers = after;
    unacked
}

/// Every op id in the room's stream in Redis, in order.
fn stream_ids(redis: &TestRedis) -> Vec<OpId> {
    let mut connection = redis::Client::open(redis.url())
        .and_then(|client| client.get_connection())
        .expect("a connection to look into Redis");
    let reply: StreamRangeReply = redis::cmd("XRANGE")
        .arg(format!("tabula:{{{ROOM}}}:log"))
        .arg("-")
        .arg("+")
        .query(&mut connection)
        .expect("XRANGE");
    reply
        .ids
        .iter()
        .map(|entry| {
            let bytes: Vec<u8> = entry.get("o").expect("an op id");
            OpId(Uuid::from_slice(&bytes).expect("16 bytes"))
        })
        .collect()
}

/// Flushes every peer's outbox on `url`, catches everyone (and a reader) up,
/// and checks the one history, in the relay and in Redis.
async fn settle_and_check(
    peers: &mut [Peer],
    acks: &Arc<AtomicUsize>,
    url: &str,
    redis: &TestRedis,
) {
    assert_eq!(
        crash::all(peers, url, Phase::Flush).await,
        0,
        "every op acked in the end"
    );
    let head = peers.iter().map(|p| p.last_seen).max().expect("peers");
    crash::all(peers, url, Phase::CatchUp(head)).await;
    let mut reader = Peer::new("reader", acks);
    reader.connect(url, Phase::CatchUp(head)).await;
    crash::one_history(peers, &reader, head);
    // Redis's stream is that history: each op once, at its number.
    let logged = stream_ids(redis);
    let expected: Vec<OpId> = reader.seen.values().copied().collect();
    assert_eq!(
        &logged[..expected.len()],
        &expected[..],
        "the stream is the history"
    );
    let mut once: HashMap<OpId, usize> = HashMap::new();
    for id in &logged {
        *once.entry(*id).or_default() += 1;
    }
    assert!(
        once.values().all(|n| *n == 1),
        "an op twice in Redis's stream"
    );
}

/// A node on `redis` that stays up, and `count` peers named `prefix` and a
/// number, with the count of acks they share.
async fn node_and_peers(
    redis: &TestRedis,
    count: usize,
    prefix: &str,
) -> (TestRelay, Arc<AtomicUsize>, Vec<Peer>) {
    let survivor = TestRelay::with_config(Config {
        redis: Some(redis.url()),
        ..test_config()
    })
    .await;
    let acks = Arc::new(AtomicUsize::new(0));
    let peers = (0..count)
        .map(|i| Peer::new(&format!("{prefix}{i}"), &acks))
        .collect();
    (survivor, acks, peers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_of_a_node_killed_under_load_move_to_another_and_lose_nothing() {
    let redis = TestRedis::start();
    let (survivor, acks, mut peers) = node_and_peers(&redis, PEERS, "p").await;
    let mut in_flight = 0;
    for kill in 0..KILLS {
        let doomed = child_node(&redis);
        let url = format!("ws://{}/{ROOM}", doomed.addr);
        in_flight += draw_until(&mut peers, &url, &acks, kill, || doomed.kill()).await;
        // They move to the other node: resend, resume, carry on.
        let url = survivor.url(ROOM);
        assert_eq!(crash::all(&mut peers, &url, Phase::Flush).await, 0);
    }
    assert!(
        in_flight > 0,
        "no op was in flight at a kill: the test proved nothing"
    );
    settle_and_check(&mut peers, &acks, &survivor.url(ROOM), &redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_under_load_loses_nothing_acknowledged() {
    let mut redis = TestRedis::start();
    let node = TestRelay::with_config(Config {
        redis: Some(redis.url()),
        ..test_config()
    })
    .await;
    let url = node.url(ROOM);
    let acks = Arc::new(AtomicUsize::new(0));
    let mut peers: Vec<Peer> = (0..PEERS)
        .map(|i| Peer::new(&format!("p{i}"), &acks))
        .collect();
    let mut in_flight = 0;
    for kill in 0..KILLS {
        // SIGKILL: Redis keeps only what its append-only file had.
        in_flight += draw_until(&mut peers, &url, &acks, kill, || redis.kill()).await;
        redis.restart();
        // The peers were cut off (1013); they come back and resend.
        assert_eq!(crash::all(&mut peers, &url, Phase::Flush).await, 0);
    }
    assert!(
        in_flight > 0,
        "no op was in flight at a kill: the test proved nothing"
    );
    settle_and_check(&mut peers, &acks, &url, &redis).await;
}

/// Not a test but a measurement, for BENCHMARKS.md ("Several relays on
/// Redis"): run with `cargo test -p tabula-server --test relay failover_time
/// -- --ignored --nocapture`. Ten peers draw on a node in a child process;
/// it is killed with SIGKILL, and the time is taken from the kill until every
/// one of them is on the other node, caught up (its welcome there brings
/// every op sequenced before the kill) and with its outbox acked. The peers
/// move at once: the app waits its first reconnect backoff (100 ms and up to
/// 49 ms of jitter) before it does. Repeated, then p50 and p99 printed; nothing is asserted
/// about the times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for BENCHMARKS.md, not a test"]
async fn failover_time() {
    const RUNS: usize = 20;
    const MOVERS: usize = 10;
    let redis = TestRedis::start();
    let (survivor, acks, mut peers) = node_and_peers(&redis, MOVERS, "m").await;
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let doomed = child_node(&redis);
        let url = format!("ws://{}/{ROOM}", doomed.addr);
        let drawing = {
            let mut peers = peers.clone();
            tokio::spawn(async move {
                crash::all(&mut peers, &url, Phase::Draw).await;
                peers
            })
        };
        let before: usize = peers.iter().map(|p| p.acked.len()).sum();
        taking_ops(&acks, before).await;
        sleep(Duration::from_millis(200)).await;
        let killed = Instant::now();
        doomed.kill();
        peers = drawing.await.expect("the drawing peers panicked");
        // Each peer's welcome there brings every op sequenced before the
        // kill; the flush ends once its own unacked ops are acked.
        crash::all(&mut peers, &survivor.url(ROOM), Phase::Flush).await;
        times.push(killed.elapsed());
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    eprintln!(
        "failover of {MOVERS} peers, {RUNS} runs: p50 {:?}, p99 {:?}, min {:?}, max {:?}",
        at(0.5),
        at(0.99),
        times[0],
        times[times.len() - 1]
    );
}
