//! The load run: N peers in R rooms, each sending at a fixed rate for a fixed
//! time while every peer reads what the others send.
//!
//! A run has four phases. **Connect**: every peer opens its WebSocket (and in
//! Tabula mode says hello and waits for the welcome), so that all are members
//! before anyone sends. **Send**: each active peer sends at `rate` Hz, the peers'
//! ticks spread evenly over one period so they do not all fire at once, until the
//! duration is up; CPU is sampled at both ends of this window. **Drain**: the
//! generator waits until every frame sent has reached every other reading peer of
//! its room (and, in Tabula mode, has been acked), or the drain time runs out. **Stop**: readers stop, writers close.
//!
//! Slow peers (`--slow`) join room 0 and then never read nor send: the relay must
//! cut them off or buffer for them, and the others' figures show whether it stalls.
//!
//! If the relay fails (a connection breaks, a frame does not decode, the relay
//! refuses an op), the first error is kept, every peer stops, and the run reports
//! the figures it has with the error.
//!
//! The peers speak WebSocket through [`crate::ws`], not `tokio-tungstenite`:
//! each reader takes whatever its socket holds (up to 64 KiB) in one read and
//! walks the frames in place, with one clock reading for the lot, and
//! [`Scanner`] finds an op's send time without decoding it. Latency is sampled:
//! every tenth peer of each room (its first, eleventh, …) reads as soon as
//! anything arrives and times every frame; the others read every
//! [`BULK_READ_EVERY`], many frames a read, and only count. Every frame is
//! counted, so `delivered` and `lost` are exact. That keeps the generator's
//! cost per delivered frame far below the relay's, so that the relay saturates
//! first: with one tungstenite message per frame and every peer reading at
//! once, the generator's core saturated at about a million frames a second.
//!
//! - [`connect`]: opening a peer's connection (the handshake, the hello and
//!   its welcome), shared with the idle and join runs.
//! - [`peer`]: the writer and reader tasks of one active peer.

mod connect;
mod peer;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Mutex as AsyncMutex, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until};
use tracing::{debug, info};

pub use self::connect::{Connected, Ws, connect, open};
use self::connect::{RawConnected, connect_all};
use self::peer::{Frames, Pong, Reader, Writer};
use crate::procfs::{self, Pid};
use crate::stats::{Latencies, LoadReport};
use crate::target::Target;
use crate::transport::{self, Stream};
use crate::wire::{OpFrames, Scanner};

/// How many connections are opened at once.
const CONNECT_CONCURRENCY: usize = 64;
/// The longest one send may take before the relay is taken to be stuck.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing peer waits for its close frame to go out.
const CLOSE_TIMEOUT: Duration = Duration::from_millis(500);
/// The pause between two checks of the drain and of errors.
const POLL: Duration = Duration::from_millis(10);
/// How much one read of a peer's socket takes at most (the buffer grows for a
/// larger frame).
const READ_CHUNK: usize = 64 * 1024;
/// One peer in this many of each room times its frames; the others only count.
const TIMED_EVERY: usize = 10;
/// How often a peer that only counts reads its socket.
pub const BULK_READ_EVERY: Duration = Duration::from_millis(5);

/// What the relay speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Tabula's protocol: hello, welcome, ops and acks.
    Tabula,
    /// Plain binary frames broadcast to the other clients of the same path.
    Raw,
}

impl Mode {
    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tabula => "tabula",
            Self::Raw => "raw",
        }
    }
}

/// What a load run does.
#[derive(Clone, Debug)]
pub struct LoadPlan {
    /// The relay and rooms.
    pub target: Target,
    /// The protocol.
    pub mode: Mode,
    /// Peers in all, slow ones included.
    pub peers: usize,
    /// Frames each active peer sends per second.
    pub rate_hz: f64,
    /// About how large each frame is, in bytes.
    pub size: usize,
    /// How long peers send.
    pub duration: Duration,
    /// Peers of room 0 that never read nor send.
    pub slow: usize,
    /// The longest wait for frames still in flight after sending stops.
    pub drain: Duration,
    /// How long connecting every peer may take.
    pub connect_timeout: Duration,
    /// The relay's pid, to sample its CPU and memory.
    pub relay_pid: Option<u32>,
}

impl LoadPlan {
    /// The room of peer `index`: peers are dealt round-robin.
    fn room_of(&self, index: usize) -> usize {
        index % self.target.rooms()
    }

    /// Whether peer `index` times every frame it receives (every tenth peer of
    /// its room, from the first) rather than reading in bulk and only counting.
    fn is_timed(&self, index: usize) -> bool {
        (index / self.target.rooms()).is_multiple_of(TIMED_EVERY)
    }

    /// Whether peer `index` is one of the slow peers: the first `slow` peers
    /// dealt to room 0.
    fn is_slow(&self, index: usize) -> bool {
        self.room_of(index) == 0 && index / self.target.rooms() < self.slow
    }

    /// How many peers of each room read and send.
    fn active_per_room(&self) -> Vec<u64> {
        let mut active = vec![0; self.target.rooms()];
        for index in (0..self.peers).filter(|&i| !self.is_slow(i)) {
            active[self.room_of(index)] += 1;
        }
        active
    }

    /// Checks that every room has at least two active peers, so that every
    /// frame has someone to reach.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.rate_hz > 0.0, "--rate must be more than 0");
        anyhow::ensure!(
            self.active_per_room().iter().all(|&n| n >= 2),
            "every room needs at least two peers that read and send: \
             --peers {} over --rooms {} with --slow {} leaves a room with fewer",
            self.peers,
            self.target.rooms(),
            self.slow
        );
        Ok(())
    }
}

/// What every peer task of a run shares.
#[derive(Debug)]
struct Shared {
    /// The run's clock: send times are nanoseconds since this instant.
    epoch: Instant,
    /// Frames sent, by room.
    sent: Vec<AtomicU64>,
    /// Acks received.
    acked: AtomicU64,
    /// Frames received from other peers.
    delivered: AtomicU64,
    /// Set by the first failure; every loop checks it and stops.
    failed: AtomicBool,
    /// The first failure and when it happened.
    error: Mutex<Option<(String, Instant)>>,
}

impl Shared {
    /// Nanoseconds since the epoch.
    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Records a failure; only the first is kept.
    fn fail(&self, error: String) {
        let mut slot = self.error.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            debug!(%error, "run failed");
            *slot = Some((error, Instant::now()));
        }
        self.failed.store(true, Ordering::Relaxed);
    }

    /// Whether something has failed.
    fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Frames sent in all rooms.
    fn total_sent(&self) -> u64 {
        self.sent.iter().map(|s| s.load(Ordering::Relaxed)).sum()
    }
}

/// Runs the load and reports; never fails, a failure is in the report's `error`.
pub async fn run(plan: &LoadPlan) -> LoadReport {
    let mut report = LoadReport {
        mode: plan.mode.name(),
        peers: plan.peers,
        rooms: plan.target.rooms(),
        slow: plan.slow,
        ..LoadReport::default()
    };
    let sockets = match connect_all(plan).await {
        Ok(sockets) => sockets,
        Err(err) => {
            report.error = Some(format!("{err:#}"));
            return report;
        }
    };
    info!(peers = plan.peers, "every peer is connected");

    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        sent: (0..plan.target.rooms())
            .map(|_| AtomicU64::new(0))
            .collect(),
        acked: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        failed: AtomicBool::new(false),
        error: Mutex::new(None),
    });
    let scanner = match Scanner::new() {
        Ok(scanner) => scanner,
        Err(err) => {
            report.error = Some(format!("{err:#}"));
            return report;
        }
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let start = Instant::now() + Duration::from_millis(50);
    let peers = match spawn_peers(plan, sockets, scanner, &shared, &stop_rx, start) {
        Ok(peers) => peers,
        Err(err) => {
            report.error = Some(format!("{err:#}"));
            return report;
        }
    };

    let sending_ended = measure(plan, &shared, start, &mut report).await;
    drain(plan, &shared).await;
    let _ = stop_tx.send(true);

    let mut latencies = Latencies::new();
    for reader in peers.readers {
        match reader.await {
            Ok(reader_latencies) => latencies.merge(&reader_latencies),
            Err(err) => shared.fail(format!("a reader task failed: {err}")),
        }
    }
    for writer in peers.writers {
        if let Err(err) = writer.await {
            shared.fail(format!("a writer task failed: {err}"));
        }
    }
    drop(peers.slow);

    let error = shared
        .error
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    // A failure cuts the send window short: rates are over the time actually sent.
    if let Some((_, at)) = &error {
        report.duration = report.duration.min(
            at.saturating_duration_since(start)
                .min(sending_ended - start),
        );
    }
    report.error = error.map(|(error, _)| error);
    report.offered =
        ((plan.peers - plan.slow) as f64 * plan.rate_hz * report.duration.as_secs_f64()) as u64;
    report.sent = shared.total_sent();
    report.acked = shared.acked.load(Ordering::Relaxed);
    report.delivered = shared.delivered.load(Ordering::Relaxed);
    report.expected = expected(plan, &shared);
    report.latencies = Some(latencies);
    report
}

/// The tasks of a run's peers.
struct Peers {
    /// One per active peer: sends, then closes.
    writers: Vec<JoinHandle<()>>,
    /// One per active peer: reads until the run stops.
    readers: Vec<JoinHandle<Latencies>>,
    /// The slow peers' sockets, held open and never read until the end.
    slow: Vec<Stream>,
}

/// Splits every active peer's socket into a writer and a reader task; the
/// writers' first ticks are spread over one period from `start`.
fn spawn_peers(
    plan: &LoadPlan,
    sockets: Vec<RawConnected>,
    scanner: Scanner,
    shared: &Arc<Shared>,
    stop: &watch::Receiver<bool>,
    start: Instant,
) -> anyhow::Result<Peers> {
    let end = start + plan.duration;
    let period = Duration::from_secs_f64(1.0 / plan.rate_hz);
    let active = plan.peers - plan.slow;
    let mut peers = Peers {
        writers: Vec::with_capacity(active),
        readers: Vec::with_capacity(active),
        slow: Vec::with_capacity(plan.slow),
    };
    for (index, peer) in sockets.into_iter().enumerate() {
        if plan.is_slow(index) {
            peers.slow.push(peer.stream);
            continue;
        }
        let (read, write) = transport::split(peer.stream);
        let sink = Arc::new(AsyncMutex::new(write));
        let offset = period.mul_f64(peers.writers.len() as f64 / active as f64);
        let writer = Writer {
            sink: Arc::clone(&sink),
            mask: peer.mask,
            frames: match plan.mode {
                Mode::Tabula => Frames::Tabula(OpFrames::new(index as u32, plan.size)?),
                Mode::Raw => Frames::Raw {
                    sender: index as u32,
                    size: plan.size,
                },
            },
            room: plan.room_of(index),
            shared: Arc::clone(shared),
            stop: stop.clone(),
        };
        peers
            .writers
            .push(tokio::spawn(writer.run(start + offset, period, end)));
        let reader = Reader {
            read,
            pending: peer.pending,
            pong: Pong {
                sink,
                mask: peer.mask,
            },
            mode: plan.mode,
            head: peer.head,
            bulk: (!plan.is_timed(index)).then_some(BULK_READ_EVERY),
            scanner,
            shared: Arc::clone(shared),
            stop: stop.clone(),
        };
        peers.readers.push(tokio::spawn(reader.run()));
    }
    Ok(peers)
}

/// Waits out the send window (or a failure), sampling CPU and memory at both
/// ends into `report`; returns when sending ended.
async fn measure(
    plan: &LoadPlan,
    shared: &Shared,
    start: Instant,
    report: &mut LoadReport,
) -> Instant {
    let end = start + plan.duration;
    sleep_until(start).await;
    let relay = plan.relay_pid.map(Pid::Other);
    let bench_cpu_before = procfs::cpu_time(Pid::Own).ok();
    let relay_cpu_before = relay.and_then(|pid| procfs::cpu_time(pid).ok());
    while Instant::now() < end && !shared.has_failed() {
        sleep(POLL.min(end.saturating_duration_since(Instant::now()))).await;
    }
    let sending_ended = Instant::now();
    let wall = sending_ended - start;
    report.duration = wall;
    if let (Some(before), Ok(after)) = (bench_cpu_before, procfs::cpu_time(Pid::Own)) {
        report.bench_cpu_pct = procfs::cpu_percent(before, after, wall);
    }
    if let Some(pid) = relay {
        report.relay_cpu_pct = relay_cpu_before
            .zip(procfs::cpu_time(pid).ok())
            .map(|(before, after)| procfs::cpu_percent(before, after, wall));
        report.relay_memory = procfs::memory(pid).ok();
    }
    sending_ended
}

/// Frames the reading peers should have received: each frame sent once per
/// other reading peer of its room.
fn expected(plan: &LoadPlan, shared: &Shared) -> u64 {
    shared
        .sent
        .iter()
        .zip(plan.active_per_room())
        .map(|(sent, active)| sent.load(Ordering::Relaxed) * (active - 1))
        .sum()
}

/// Waits for frames in flight (and, in Tabula mode, acks) until all have
/// arrived, something failed, or the drain time is up.
async fn drain(plan: &LoadPlan, shared: &Shared) {
    let in_flight = || {
        shared.delivered.load(Ordering::Relaxed) < expected(plan, shared)
            || (plan.mode == Mode::Tabula
                && shared.acked.load(Ordering::Relaxed) < shared.total_sent())
    };
    let until = Instant::now() + plan.drain;
    while !shared.has_failed() && Instant::now() < until && in_flight() {
        sleep(POLL).await;
    }
}
