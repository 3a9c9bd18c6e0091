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

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncReadExt as _;
use tokio::sync::{Mutex as AsyncMutex, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep, sleep_until, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tracing::{debug, info};

use crate::procfs::{self, Pid};
use crate::stats::{Latencies, LoadReport};
use crate::target::Target;
use crate::transport::{self, Stream, StreamReader, StreamWriter};
use crate::wire::{self, OpFrames, Received, Scanned, Scanner};
use crate::ws::{self, Parsed, opcode};

/// A client WebSocket.
pub type Ws = WebSocketStream<Stream>;

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

/// The client's WebSocket settings: a modest read buffer, since a run may open
/// thousands of connections and frames are small.
pub fn client_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(16 * 1024)
}

/// A peer that has connected (and in Tabula mode been welcomed).
pub struct Connected {
    /// Its socket.
    pub ws: Ws,
    /// The room's head at the welcome (0 in raw mode): ops up to it are the room's
    /// history from earlier runs, sent as catch-up, and not part of this run.
    pub head: u64,
}

/// Opens one peer's connection: the WebSocket handshake and, in Tabula mode, the
/// hello and its welcome. With `from`, the connection comes from that local
/// address (one of 127.0.0.0/8, so that a relay sees many clients).
pub async fn connect(
    target: &Target,
    mode: Mode,
    index: usize,
    room: usize,
    from: Option<std::net::IpAddr>,
) -> anyhow::Result<Connected> {
    let url = target.url(room);
    let (mut ws, _) = open_from(target, &url, client_config(), from)
        .await
        .with_context(|| format!("connecting peer {index} to {url}"))?;
    let mut head = 0;
    if mode == Mode::Tabula {
        let room = target.room_name(room);
        let (hello, client) = wire::hello(&room, index, target.invite())?;
        ws.send(Message::Binary(hello.into()))
            .await
            .with_context(|| format!("sending peer {index}'s hello"))?;
        loop {
            let message = ws
                .next()
                .await
                .with_context(|| format!("the relay closed peer {index} before its welcome"))?
                .with_context(|| format!("reading peer {index}'s welcome"))?;
            if let Message::Binary(frame) = message {
                match wire::receive(&frame)? {
                    Received::Welcome { head: at } => {
                        head = at;
                        break;
                    }
                    Received::Challenge(challenge) => {
                        let answer = wire::authenticate(
                            &challenge,
                            target.password(),
                            target.invite(),
                            &room,
                            client,
                        )?;
                        ws.send(Message::Binary(answer.into()))
                            .await
                            .with_context(|| format!("answering peer {index}'s challenge"))?;
                    }
                    Received::Error(error) => anyhow::bail!("the relay refused the hello: {error}"),
                    _ => {}
                }
            } else if let Message::Close(frame) = message {
                anyhow::bail!("the relay closed peer {index} before its welcome: {frame:?}");
            }
        }
    }
    Ok(Connected { ws, head })
}

/// Opens a tungstenite WebSocket to `url` on `target`'s relay, through TLS
/// for `wss://`.
pub async fn open(
    target: &Target,
    url: &str,
    config: WebSocketConfig,
) -> anyhow::Result<(
    Ws,
    tokio_tungstenite::tungstenite::handshake::client::Response,
)> {
    open_from(target, url, config, None).await
}

/// [`open`], from the local address `from` if given.
pub async fn open_from(
    target: &Target,
    url: &str,
    config: WebSocketConfig,
    from: Option<std::net::IpAddr>,
) -> anyhow::Result<(
    Ws,
    tokio_tungstenite::tungstenite::handshake::client::Response,
)> {
    let stream = transport::connect_from(target, from).await?;
    Ok(tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await?)
}

/// A load peer's connection, opened with [`crate::ws`] (and in Tabula mode
/// welcomed).
pub struct RawConnected {
    /// Its socket.
    stream: Stream,
    /// Bytes read after the welcome (or the handshake), not yet parsed.
    pending: Vec<u8>,
    /// The room's head at the welcome, as in [`Connected`].
    head: u64,
    /// The key this peer masks its frames with.
    mask: [u8; 4],
}

/// Opens one load peer's connection: the handshake and, in Tabula mode, the
/// hello and its welcome.
async fn connect_raw(
    target: &Target,
    mode: Mode,
    index: usize,
    room: usize,
) -> anyhow::Result<RawConnected> {
    let (mut stream, mut pending) = ws::connect(target, &target.path(room))
        .await
        .with_context(|| format!("connecting peer {index} to {}", target.url(room)))?;
    let mask = (index as u32 ^ 0x5a3c_9d17).to_le_bytes();
    let mut head = 0;
    if mode == Mode::Tabula {
        let room = target.room_name(room);
        let (hello, client) = wire::hello(&room, index, target.invite())?;
        stream
            .send(&ws::client_frame(opcode::BINARY, &hello, mask))
            .await
            .with_context(|| format!("sending peer {index}'s hello"))?;
        let mut chunk = vec![0; 4096];
        'welcome: loop {
            while let Parsed::Frame(frame, used) = ws::parse(&pending)? {
                match frame.opcode {
                    opcode::BINARY => match wire::receive(frame.payload)? {
                        Received::Welcome { head: at } => {
                            head = at;
                            pending.drain(..used);
                            break 'welcome;
                        }
                        Received::Challenge(challenge) => {
                            let answer = wire::authenticate(
                                &challenge,
                                target.password(),
                                target.invite(),
                                &room,
                                client,
                            )?;
                            stream
                                .send(&ws::client_frame(opcode::BINARY, &answer, mask))
                                .await
                                .with_context(|| format!("answering peer {index}'s challenge"))?;
                        }
                        Received::Error(error) => {
                            anyhow::bail!("the relay refused the hello: {error}")
                        }
                        _ => {}
                    },
                    opcode::CLOSE => anyhow::bail!(
                        "the relay closed peer {index} before its welcome: {}",
                        ws::close_reason(frame.payload)
                    ),
                    _ => {}
                }
                pending.drain(..used);
            }
            let n = stream
                .read(&mut chunk)
                .await
                .with_context(|| format!("reading peer {index}'s welcome"))?;
            anyhow::ensure!(n > 0, "the relay closed peer {index} before its welcome");
            pending.extend_from_slice(&chunk[..n]);
        }
    }
    Ok(RawConnected {
        stream,
        pending,
        head,
        mask,
    })
}

/// Opens every peer's connection, a few at a time, in peer order.
async fn connect_all(plan: &LoadPlan) -> anyhow::Result<Vec<RawConnected>> {
    let connecting = futures_util::stream::iter(0..plan.peers)
        .map(|index| connect_raw(&plan.target, plan.mode, index, plan.room_of(index)))
        .buffered(CONNECT_CONCURRENCY)
        .collect::<Vec<_>>();
    let connected = timeout(plan.connect_timeout, connecting)
        .await
        .with_context(|| {
            format!(
                "connecting {} peers took longer than {:?}",
                plan.peers, plan.connect_timeout
            )
        })?;
    connected.into_iter().collect()
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
        let (read, write) = peer.stream.into_split();
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

/// What one writer sends.
#[derive(Debug)]
enum Frames {
    /// Tabula ops.
    Tabula(OpFrames),
    /// Raw timestamped frames.
    Raw {
        /// The writer's peer index, in each frame.
        sender: u32,
        /// The frame size.
        size: usize,
    },
}

/// The sending half of one active peer.
struct Writer {
    /// The socket's sending half, shared with the reader, which answers pings.
    sink: Arc<AsyncMutex<StreamWriter>>,
    /// The key this peer masks its frames with.
    mask: [u8; 4],
    /// Builds each frame.
    frames: Frames,
    /// The peer's room, whose sent count this writer adds to.
    room: usize,
    /// Counters and the failure flag.
    shared: Arc<Shared>,
    /// Turns true when the run stops; the writer then closes the connection.
    stop: watch::Receiver<bool>,
}

impl Writer {
    /// Sends one frame every `period` from `first` until `end`, then waits for the
    /// run to stop and closes the connection.
    async fn run(mut self, first: Instant, period: Duration, end: Instant) {
        let mut ticks = interval_at(first, period);
        // A writer that falls behind sends less rather than in bursts; `sent`
        // shows the rate it managed.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = self.stop.wait_for(|stop| *stop) => break,
            }
            if Instant::now() >= end || self.shared.has_failed() {
                break;
            }
            let sent_ns = self.shared.now_ns();
            let frame = match &mut self.frames {
                Frames::Tabula(frames) => match frames.next(sent_ns) {
                    Ok(frame) => frame,
                    Err(err) => {
                        self.shared.fail(format!("{err:#}"));
                        break;
                    }
                },
                Frames::Raw { sender, size } => wire::raw_frame(sent_ns, *sender, *size),
            };
            let frame = ws::client_frame(opcode::BINARY, &frame, self.mask);
            match timeout(SEND_TIMEOUT, async {
                self.sink.lock().await.send(&frame).await
            })
            .await
            {
                Ok(Ok(())) => {
                    self.shared.sent[self.room].fetch_add(1, Ordering::Relaxed);
                }
                Ok(Err(err)) => {
                    self.shared
                        .fail(format!("sending to the relay failed: {err}"));
                    break;
                }
                Err(_) => {
                    self.shared
                        .fail(format!("one send took longer than {SEND_TIMEOUT:?}"));
                    break;
                }
            }
        }
        let _ = self.stop.wait_for(|stop| *stop).await;
        if !self.shared.has_failed() {
            let close = ws::client_frame(opcode::CLOSE, &1000_u16.to_be_bytes(), self.mask);
            let _ = timeout(CLOSE_TIMEOUT, async {
                self.sink.lock().await.send(&close).await
            })
            .await;
        }
    }
}

/// Answers the relay's pings on a peer's socket.
struct Pong {
    /// The socket's sending half, shared with the writer.
    sink: Arc<AsyncMutex<StreamWriter>>,
    /// The key this peer masks its frames with.
    mask: [u8; 4],
}

/// The receiving half of one active peer.
struct Reader {
    /// The socket's receiving half.
    read: StreamReader,
    /// Bytes read during the welcome and not parsed yet.
    pending: Vec<u8>,
    /// Where pongs go.
    pong: Pong,
    /// The protocol.
    mode: Mode,
    /// Ops up to the head at the welcome are catch-up from earlier runs and ignored.
    head: u64,
    /// For a peer that only counts: how long it waits between reads.
    bulk: Option<Duration>,
    /// Reads ops and acks without decoding them.
    scanner: Scanner,
    /// Counters and the failure flag.
    shared: Arc<Shared>,
    /// Turns true when the run stops.
    stop: watch::Receiver<bool>,
}

/// Whether a reader goes on after the frames of one read.
enum Next {
    /// More to read.
    Read,
    /// The run stopped, or failed.
    Stop,
}

impl Reader {
    /// Reads the peer's frames until the run stops, counting and timing what
    /// other peers sent.
    async fn run(mut self) -> Latencies {
        let mut latencies = Latencies::new();
        let mut buf = std::mem::take(&mut self.pending);
        let mut filled = buf.len();
        buf.resize(filled.max(READ_CHUNK), 0);
        loop {
            let (used, next) = self.frames(&buf[..filled], &mut latencies).await;
            buf.copy_within(used..filled, 0);
            filled -= used;
            if let Next::Stop = next {
                break;
            }
            if buf.len() - filled < READ_CHUNK / 2 {
                buf.resize(filled + READ_CHUNK, 0);
            }
            let read = tokio::select! {
                biased;
                _ = self.stop.wait_for(|stop| *stop) => break,
                read = self.read.read(&mut buf[filled..]) => read,
            };
            match read {
                Ok(n) if n > 0 => {
                    filled += n;
                    // A full read may leave more behind: read again at once.
                    if let Some(every) = self.bulk.filter(|_| filled < buf.len()) {
                        tokio::select! {
                            biased;
                            _ = self.stop.wait_for(|stop| *stop) => {}
                            () = sleep(every) => {}
                        }
                    }
                }
                // The writer may have closed by the time the stop is seen.
                _ if *self.stop.borrow() => break,
                Ok(_) => {
                    self.shared.fail("the relay ended a connection".to_owned());
                    break;
                }
                Err(err) => {
                    self.shared
                        .fail(format!("reading from the relay failed: {err}"));
                    break;
                }
            }
        }
        latencies
    }

    /// Takes every whole frame at the start of `bytes`, all received now;
    /// returns how many bytes they took.
    async fn frames(&mut self, bytes: &[u8], latencies: &mut Latencies) -> (usize, Next) {
        let now_ns = self.shared.now_ns();
        let (mut used, mut delivered, mut acked) = (0, 0, 0);
        let mut next = Next::Read;
        loop {
            let frame = match ws::parse(&bytes[used..]) {
                Ok(Parsed::Frame(frame, len)) => {
                    used += len;
                    frame
                }
                Ok(Parsed::Incomplete { .. }) => break,
                Err(err) => {
                    self.shared
                        .fail(format!("a bad frame from the relay: {err:#}"));
                    next = Next::Stop;
                    break;
                }
            };
            if !frame.fin || frame.opcode == opcode::CONTINUATION {
                self.shared
                    .fail("a fragmented message from the relay (not supported)".to_owned());
                next = Next::Stop;
                break;
            }
            let sent_ns = match frame.opcode {
                opcode::BINARY => match self.binary(frame.payload) {
                    Ok(Some(Delivery::Op(sent_ns))) => Some(sent_ns),
                    Ok(Some(Delivery::Ack)) => {
                        acked += 1;
                        None
                    }
                    Ok(None) => None,
                    Err(error) => {
                        self.shared.fail(error);
                        next = Next::Stop;
                        break;
                    }
                },
                opcode::PING => {
                    let pong = ws::client_frame(opcode::PONG, frame.payload, self.pong.mask);
                    let _ = timeout(SEND_TIMEOUT, async {
                        self.pong.sink.lock().await.send(&pong).await
                    })
                    .await;
                    None
                }
                opcode::CLOSE => {
                    // After the stop, this is the answer to the writer's close.
                    if !*self.stop.borrow() {
                        self.shared.fail(format!(
                            "the relay closed a connection: {:?}",
                            String::from_utf8_lossy(frame.payload)
                        ));
                    }
                    next = Next::Stop;
                    break;
                }
                _ => None,
            };
            if let Some(sent_ns) = sent_ns {
                if self.bulk.is_none() {
                    latencies.record_ns(now_ns.saturating_sub(sent_ns));
                }
                delivered += 1;
            }
        }
        if delivered > 0 {
            self.shared
                .delivered
                .fetch_add(delivered, Ordering::Relaxed);
        }
        if acked > 0 {
            self.shared.acked.fetch_add(acked, Ordering::Relaxed);
        }
        (used, next)
    }

    /// What a binary message means: another peer's op (with its send time), an
    /// ack of this peer's, nothing to count, or an error to stop the run with.
    fn binary(&self, payload: &[u8]) -> Result<Option<Delivery>, String> {
        if self.mode == Mode::Raw {
            return Ok(wire::raw_sent_ns(payload).map(Delivery::Op));
        }
        let (sent_ns, seq) = match self.scanner.scan(payload) {
            Scanned::Op { sent_ns, seq } => (sent_ns, seq),
            Scanned::Ack => return Ok(Some(Delivery::Ack)),
            Scanned::Other => match wire::receive(payload) {
                Ok(Received::Op { sent_ns, seq }) => (sent_ns, seq),
                Ok(Received::Ack) => return Ok(Some(Delivery::Ack)),
                Ok(Received::Error(error)) => {
                    return Err(format!("the relay refused an op: {error}"));
                }
                Ok(Received::Welcome { .. } | Received::Other) => return Ok(None),
                Ok(Received::Challenge(_)) => {
                    return Err("a password challenge after the welcome".to_owned());
                }
                Err(err) => return Err(format!("{err:#}")),
            },
        };
        Ok((seq > self.head).then_some(Delivery::Op(sent_ns)))
    }
}

/// A binary message that counts.
enum Delivery {
    /// Another peer's op, sent at this time (nanoseconds since the epoch).
    Op(u64),
    /// An ack of this peer's op.
    Ack,
}

#[cfg(test)]
mod tests {
    use tabula_server::Config;
    use tokio::net::TcpListener;
    use tokio::sync::oneshot;
    use tokio::task::JoinHandle;
    use tracing_subscriber::EnvFilter;

    use super::*;
    use crate::target::Trust;

    /// The relay, in process, on an ephemeral loopback port.
    async fn relay() -> (
        std::net::SocketAddr,
        oneshot::Sender<()>,
        JoinHandle<Result<(), tabula_server::Error>>,
    ) {
        // RUST_LOG=tabula_server=debug shows the relay's side of a failing test.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(tabula_server::run(listener, Config::default(), async {
            let _ = stopped.await;
        }));
        (addr, stop, task)
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
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let config = Config {
            password: tabula_shared::access::Password::new("K7QX2M"),
            ..Config::default()
        };
        let task = tokio::spawn(tabula_server::run(listener, config, async {
            let _ = stopped.await;
        }));
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
        JoinHandle<Result<(), tabula_server::Error>>,
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
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(tabula_server::run(listener, config, async {
            let _ = stopped.await;
        }));
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
}
