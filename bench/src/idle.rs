//! Idle connections: open many peers that only say hello (or, in raw mode, only
//! connect), hold them, and report how much the relay's resident memory grew per
//! connection; then, with `--time-joins`, time how long one more peer takes to
//! join among them.
//!
//! Each idle peer still reads, in a task of its own, so that presence news
//! (everyone's `PeerJoined`) drains instead of filling the relay's queues: what is
//! measured is the cost of a quiet, healthy connection.

use std::fmt::Write as _;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::{Instant, sleep, timeout};
use tracing::info;

use crate::load::{self, Mode};
use crate::procfs::{self, Memory, Pid};
use crate::target::Target;

/// How many connections are opened at once.
const CONNECT_CONCURRENCY: usize = 128;

/// The pause before each timed join, so that each finds the relay at rest
/// (the previous one's leave told, its room's file written).
const JOIN_GAP: Duration = Duration::from_millis(250);

/// What an idle run does.
#[derive(Clone, Debug)]
pub struct IdlePlan {
    /// The relay and rooms; connections are dealt round-robin over the rooms.
    pub target: Target,
    /// The protocol.
    pub mode: Mode,
    /// How many connections to open.
    pub connections: usize,
    /// How long to hold them once all are open, before sampling the relay.
    pub hold: Duration,
    /// How long opening them all may take.
    pub connect_timeout: Duration,
    /// The relay's pid, to sample its memory.
    pub relay_pid: Option<u32>,
    /// Whether each connection comes from an address of its own in
    /// 127.0.0.0/8 (see [`source_address`]), as many clients would.
    pub spread: bool,
    /// How many joins to time into a room nobody is in, and as many into
    /// the rooms the idle connections are in, once they are all held.
    pub timed_joins: usize,
}

/// The local address connection `index` comes from when connections are
/// spread: 127.A.B.C with C in 1..=250, B in 0..250, A from 1 on, so that
/// 15 million connections get addresses of their own.
#[must_use]
pub fn source_address(index: usize) -> std::net::IpAddr {
    let c = (index % 250) as u8 + 1;
    let b = (index / 250 % 250) as u8;
    let a = (index / 62_500 % 254) as u8 + 1;
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, a, b, c))
}

/// What an idle run measured.
#[derive(Debug, Default)]
pub struct IdleReport {
    /// `tabula` or `raw`.
    pub mode: &'static str,
    /// Connections held open.
    pub connections: usize,
    /// How long opening them took.
    pub connect_time: Duration,
    /// The relay's memory before the first connection.
    pub before: Option<Memory>,
    /// The relay's memory with every connection open.
    pub after: Option<Memory>,
    /// Timed joins of one more peer into a room nobody was in: from opening
    /// its connection to its welcome.
    pub joins_fresh: Vec<Duration>,
    /// Timed joins of one more peer into a room of idle connections.
    pub joins_busy: Vec<Duration>,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

/// The median (the upper one of an even count) and the longest of some
/// durations, in milliseconds.
fn median_and_max_ms(times: &[Duration]) -> Option<(f64, f64)> {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let median = sorted.get(sorted.len() / 2)?;
    let max = sorted.last()?;
    Some((median.as_secs_f64() * 1e3, max.as_secs_f64() * 1e3))
}

/// Durations in milliseconds, for JSON.
fn millis(times: &[Duration]) -> Vec<f64> {
    times.iter().map(|t| t.as_secs_f64() * 1e3).collect()
}

impl IdleReport {
    /// Relay memory per connection, in bytes.
    pub fn rss_per_connection(&self) -> Option<u64> {
        let (before, after) = self.before.zip(self.after)?;
        let connections = u64::try_from(self.connections).ok().filter(|&n| n > 0)?;
        Some(after.rss_kib.saturating_sub(before.rss_kib) * 1024 / connections)
    }

    /// The figures as one JSON object.
    pub fn to_json(&self) -> Value {
        json!({
            "mode": self.mode,
            "connections": self.connections,
            "connect_s": self.connect_time.as_secs_f64(),
            "relay_rss_before_kib": self.before.map(|m| m.rss_kib),
            "relay_rss_after_kib": self.after.map(|m| m.rss_kib),
            "rss_per_conn_bytes": self.rss_per_connection(),
            "join_fresh_ms": millis(&self.joins_fresh),
            "join_fresh_p50_ms": median_and_max_ms(&self.joins_fresh).map(|(p50, _)| p50),
            "join_fresh_max_ms": median_and_max_ms(&self.joins_fresh).map(|(_, max)| max),
            "join_busy_ms": millis(&self.joins_busy),
            "join_busy_p50_ms": median_and_max_ms(&self.joins_busy).map(|(p50, _)| p50),
            "join_busy_max_ms": median_and_max_ms(&self.joins_busy).map(|(_, max)| max),
            "error": self.error,
        })
    }

    /// The figures for a person.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{} idle {} connections opened in {:.2} s",
            self.connections,
            self.mode,
            self.connect_time.as_secs_f64()
        );
        if let (Some(before), Some(after)) = (self.before, self.after) {
            let _ = write!(
                text,
                "\nrelay RSS {} KiB before, {} KiB after",
                before.rss_kib, after.rss_kib
            );
        }
        if let Some(per) = self.rss_per_connection() {
            let _ = write!(text, ", {per} bytes per connection");
        }
        for (room, times) in [
            ("a room nobody was in", &self.joins_fresh),
            ("a room of idle peers", &self.joins_busy),
        ] {
            if let Some((median, max)) = median_and_max_ms(times) {
                let _ = write!(
                    text,
                    "\none more peer joined {room} in {median:.2} ms (median of {}), at most {max:.2} ms",
                    times.len()
                );
            }
        }
        if let Some(error) = &self.error {
            let _ = write!(text, "\nerror: {error}");
        }
        text.push('\n');
        text
    }
}

/// Opens the connections, samples the relay, and closes them all.
pub async fn run(plan: &IdlePlan) -> IdleReport {
    let relay = plan.relay_pid.map(Pid::Other);
    let mut report = IdleReport {
        mode: plan.mode.name(),
        before: relay.and_then(|pid| procfs::memory(pid).ok()),
        ..IdleReport::default()
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let started = Instant::now();
    let rooms = plan.target.rooms();
    let opening = futures_util::stream::iter(0..plan.connections)
        .map(|index| {
            let from = plan.spread.then(|| source_address(index));
            load::connect(&plan.target, plan.mode, index, index % rooms, from)
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .map(|connected| {
            connected.map(|load::Connected { ws, .. }| {
                let mut stop = stop_rx.clone();
                tokio::spawn(async move {
                    let (_sink, mut stream) = ws.split();
                    loop {
                        tokio::select! {
                            _ = stop.wait_for(|stop| *stop) => break,
                            message = stream.next() => if !matches!(message, Some(Ok(_))) { break },
                        }
                    }
                })
            })
        })
        .collect::<Vec<_>>();
    let mut tasks = Vec::new();
    if let Ok(opened) = timeout(plan.connect_timeout, opening).await {
        for task in opened {
            match task {
                Ok(task) => tasks.push(task),
                Err(err) => {
                    report.error.get_or_insert_with(|| format!("{err:#}"));
                }
            }
        }
    } else {
        report.error = Some(format!(
            "opening {} connections took longer than {:?}",
            plan.connections, plan.connect_timeout
        ));
    }
    report.connections = tasks.len();
    report.connect_time = started.elapsed();
    info!(connections = tasks.len(), "idle connections are open");
    sleep(plan.hold).await;
    report.after = relay.and_then(|pid| procfs::memory(pid).ok());
    if tasks.iter().any(tokio::task::JoinHandle::is_finished) && report.error.is_none() {
        report.error = Some("the relay closed idle connections".to_owned());
    }
    if report.error.is_none()
        && let Err(err) = time_joins(plan, &mut report).await
    {
        report.error = Some(format!("{err:#}"));
    }
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
    report
}

/// Times `plan.timed_joins` joins of one more peer into rooms nobody is in
/// and as many into the idle peers' rooms (spread over them), alternately,
/// each from an address of its own when the idle connections are spread:
/// from opening the connection to the welcome (in raw mode, to the end of the
/// handshake). Each joiner leaves before the next comes.
async fn time_joins(plan: &IdlePlan, report: &mut IdleReport) -> anyhow::Result<()> {
    let rooms = plan.target.rooms();
    // Rooms past the idle peers' own: `ROOM-rooms`, `ROOM-(rooms+1)`, …
    let fresh = plan.target.with_rooms(rooms + plan.timed_joins + 1);
    for probe in 0..plan.timed_joins {
        for busy in [false, true] {
            let (target, room) = if busy {
                (&plan.target, probe * rooms / plan.timed_joins)
            } else {
                (&fresh, rooms + probe)
            };
            let index = plan.connections + 2 * probe + usize::from(busy);
            let from = plan.spread.then(|| source_address(index));
            sleep(JOIN_GAP).await;
            let started = Instant::now();
            let load::Connected { mut ws, .. } = timeout(
                plan.connect_timeout,
                load::connect(target, plan.mode, index, room, from),
            )
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "one more peer could not join {} within {:?}",
                    target.url(room),
                    plan.connect_timeout
                )
            })??;
            let took = started.elapsed();
            if busy {
                report.joins_busy.push(took);
            } else {
                report.joins_fresh.push(took);
            }
            let _ = ws.close(None).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use tabula_server::Config;
    use tokio::net::TcpListener;

    use super::*;
    use crate::target::Trust;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_connections_are_held_and_counted() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let relay = tokio::spawn(tabula_server::run(listener, Config::default(), async {
            let _ = stopped.await;
        }));
        let report = run(&IdlePlan {
            target: Target::parse(&format!("ws://{addr}/idle"), 3, Trust::default()).unwrap(),
            mode: Mode::Tabula,
            connections: 30,
            hold: Duration::from_millis(100),
            connect_timeout: Duration::from_secs(10),
            relay_pid: Some(std::process::id()),
            spread: true,
            timed_joins: 2,
        })
        .await;
        assert_eq!(report.error, None);
        assert_eq!(report.connections, 30);
        assert!(report.rss_per_connection().is_some());
        assert_eq!(report.joins_fresh.len(), 2);
        assert_eq!(report.joins_busy.len(), 2);
        let json = report.to_json();
        assert!(json["join_fresh_p50_ms"].as_f64().unwrap() > 0.0);
        assert!(
            json["join_busy_max_ms"].as_f64().unwrap()
                >= json["join_busy_p50_ms"].as_f64().unwrap()
        );
        stop.send(()).unwrap();
        relay.await.unwrap().unwrap();
    }

    #[test]
    fn spread_connections_have_addresses_of_their_own() {
        let addresses: std::collections::HashSet<_> = (0..70_000).map(source_address).collect();
        assert_eq!(addresses.len(), 70_000);
        assert_eq!(source_address(0).to_string(), "127.1.0.1");
        assert_eq!(source_address(62_500).to_string(), "127.2.0.1");
    }

    #[test]
    fn memory_per_connection_is_the_growth_over_the_count() {
        let report = IdleReport {
            connections: 1000,
            before: Some(Memory {
                rss_kib: 10_000,
                peak_kib: 10_000,
            }),
            after: Some(Memory {
                rss_kib: 20_000,
                peak_kib: 20_000,
            }),
            ..IdleReport::default()
        };
        assert_eq!(report.rss_per_connection(), Some(10_240));
        assert_eq!(report.to_json()["rss_per_conn_bytes"], 10_240);
        assert_eq!(IdleReport::default().rss_per_connection(), None);
    }
}
