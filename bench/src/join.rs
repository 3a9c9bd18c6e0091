//! Joining a big room: fill a room with many ops, then time how long a new peer
//! takes from opening its connection to holding the room's board, up to date.
//!
//! One filler peer draws real strokes, as the app's pen does: a `StrokeBegin`,
//! [`APPENDS_PER_STROKE`] `StrokeAppend`s of a few points each (as many as make
//! an op frame about `--size` bytes), then a `StrokeEnd`: [`OPS_PER_STROKE`] ops
//! per stroke, so a room of 1,000,000 ops holds 50,000 strokes and its board,
//! and so its snapshot, is as large as such a room's would be. It sends them in
//! batches (fed, flushed once, then every ack awaited), so the room fills as fast
//! as the relay sequences.
//!
//! The joiner then does what the app does: it says hello with nothing seen,
//! reads the welcome and, when it announces a snapshot, receives its parts,
//! decodes it and builds the [`Board`] from it (timed apart, `decode_ms`), then
//! receives the ops after the snapshot up to the welcome's head, decoding and
//! applying each. `join_ms` runs from opening the connection to the board holding
//! the head; the board's object count is checked against the strokes drawn.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tabula_shared::{
    Applied, Board, ClientMessage, Color, Op, OpKind, Point, ServerMessage, SnapshotHeader,
    StrokeId, StrokeStyle, Welcome, decode, decode_snapshot, encode,
};
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tracing::info;

use crate::load::{self, Mode, Ws};
use crate::procfs::{self, Memory, Pid};
use crate::target::Target;
use crate::wire::{self, Received};

/// Ops sent before the filler waits for their acks.
const BATCH: u64 = 1000;
/// `StrokeAppend`s in each stroke the filler draws.
const APPENDS_PER_STROKE: u64 = 18;
/// Ops in each stroke: its begin, its appends, its end.
pub const OPS_PER_STROKE: u64 = APPENDS_PER_STROKE + 2;
/// Strokes per row of the grid the filler draws them on.
const STROKES_PER_ROW: u64 = 250;
/// The pause between two probes while waiting for the relay's snapshot.
const PROBE_PAUSE: Duration = Duration::from_millis(500);
/// The longest wait for the relay's snapshot to cover the room.
const SNAPSHOT_WAIT: Duration = Duration::from_mins(1);
/// The pause after the last probe, so that its connection is gone from the
/// relay before the measured join.
const SETTLE: Duration = Duration::from_millis(500);

/// What a join run does.
#[derive(Clone, Debug)]
pub struct JoinPlan {
    /// The relay and the room (room 0 of the target).
    pub target: Target,
    /// How many ops to put in the room first.
    pub ops: u64,
    /// About how large each `StrokeAppend`'s frame is.
    pub size: usize,
    /// How long filling and joining may take, each.
    pub limit: Duration,
    /// The relay's pid, for its memory once the room is full.
    pub relay_pid: Option<u32>,
    /// The relay's `--snapshot-every`: how far its latest snapshot may lag the
    /// head before it takes another (see [`await_snapshot`]).
    pub snapshot_every: u64,
}

/// What a join run measured.
#[derive(Debug, Default)]
pub struct JoinReport {
    /// Ops in the room when the joiner arrived (the welcome's head): those drawn
    /// and the joins and leaves the relay recorded.
    pub ops: u64,
    /// Ops the filler drew after the requested ones, to have the relay snapshot
    /// the end of the room (see [`await_snapshot`]).
    pub extra_ops: u64,
    /// How long filling the room took.
    pub fill: Duration,
    /// How long the wait for the relay's snapshot took (see [`await_snapshot`]).
    pub snapshot_wait: Duration,
    /// How many probes [`await_snapshot`] made.
    pub probes: u32,
    /// Whether the relay's snapshot covered the room as far as it ever does
    /// when the measured join started.
    pub snapshot_covered: bool,
    /// The relay's `--snapshot-every` as given to the generator.
    pub snapshot_every: u64,
    /// What the welcome announced, if it announced a snapshot.
    pub snapshot: Option<SnapshotHeader>,
    /// Ops after the snapshot (or all of them, without one) up to the head.
    pub tail_ops: u64,
    /// From opening the connection to the welcome.
    pub welcome: Option<Duration>,
    /// From opening the connection to the snapshot's last part.
    pub snapshot_received: Option<Duration>,
    /// Decoding the snapshot and building the board from it.
    pub decode: Option<Duration>,
    /// From opening the connection to the last catch-up frame (the head op, or
    /// the snapshot's last part when the tail is empty).
    pub caught_up: Option<Duration>,
    /// From opening the connection to the board holding the head.
    pub join: Option<Duration>,
    /// Objects on the joiner's board.
    pub objects: usize,
    /// The relay's memory with the room full and the joiner caught up.
    pub relay_memory: Option<Memory>,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

impl JoinReport {
    /// The figures as one JSON object.
    pub fn to_json(&self) -> Value {
        let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1000.0);
        json!({
            "mode": "join",
            "ops": self.ops,
            "fill_s": self.fill.as_secs_f64(),
            "welcome_ms": ms(self.welcome),
            "caught_up_ms": ms(self.caught_up),
            "join_ms": ms(self.join),
            "snapshot_seq": self.snapshot.map(|s| s.seq),
            "snapshot_bytes": self.snapshot.map(|s| s.bytes),
            "snapshot_parts": self.snapshot.map(|s| s.parts),
            "snapshot_ms": ms(self.snapshot_received),
            "decode_ms": ms(self.decode),
            "tail_ops": self.tail_ops,
            "objects": self.objects,
            "extra_ops": self.extra_ops,
            "snapshot_every": self.snapshot_every,
            "snapshot_wait_s": self.snapshot_wait.as_secs_f64(),
            "snapshot_probes": self.probes,
            "snapshot_covered": self.snapshot_covered,
            "relay_rss_kib": self.relay_memory.map(|m| m.rss_kib),
            "error": self.error,
        })
    }

    /// The figures for a person.
    pub fn to_text(&self) -> String {
        let ms = |d: Option<Duration>| {
            d.map_or_else(
                || "–".to_owned(),
                |d| format!("{:.1} ms", d.as_secs_f64() * 1000.0),
            )
        };
        let mut text = format!(
            "a room of {} ops ({} drawn to get a snapshot), filled in {:.1} s, snapshot waited for {:.1} s\n",
            self.ops,
            self.extra_ops,
            self.fill.as_secs_f64(),
            self.snapshot_wait.as_secs_f64(),
        );
        match self.snapshot {
            Some(s) => {
                let _ = writeln!(
                    text,
                    "snapshot at op {}: {} bytes in {} parts, received after {}, decoded in {}",
                    s.seq,
                    s.bytes,
                    s.parts,
                    ms(self.snapshot_received),
                    ms(self.decode)
                );
            }
            None => text.push_str("no snapshot: the whole history\n"),
        }
        let _ = write!(
            text,
            "welcome after {}, {} tail ops, caught up after {}, board ready ({} objects) after {}",
            ms(self.welcome),
            self.tail_ops,
            ms(self.caught_up),
            self.objects,
            ms(self.join)
        );
        if let Some(memory) = self.relay_memory {
            let _ = write!(text, "\nrelay RSS {} KiB", memory.rss_kib);
        }
        if let Some(error) = &self.error {
            let _ = write!(text, "\nerror: {error}");
        }
        text.push('\n');
        text
    }
}

/// Fills the room, waits for its snapshot, then joins it; never fails, a
/// failure is in the report.
pub async fn run(plan: &JoinPlan) -> JoinReport {
    let mut report = JoinReport {
        snapshot_every: plan.snapshot_every,
        ..JoinReport::default()
    };
    let started = Instant::now();
    let filler = match timeout(plan.limit, fill(plan)).await {
        Ok(Ok(filler)) => Some(filler),
        Ok(Err(err)) => {
            report.error = Some(format!("{err:#}"));
            None
        }
        Err(_) => {
            report.error = Some(format!(
                "filling the room took longer than {:?}",
                plan.limit
            ));
            None
        }
    };
    report.fill = started.elapsed();
    let Some(mut filler) = filler else {
        return report;
    };
    info!(
        ops = filler.sent,
        "the room is full; waiting for its snapshot"
    );
    let waiting = Instant::now();
    if let Err(err) = timeout(plan.limit, await_snapshot(plan, &mut filler, &mut report))
        .await
        .unwrap_or_else(|_| {
            Err(anyhow::anyhow!(
                "waiting for the snapshot took longer than {:?}",
                plan.limit
            ))
        })
    {
        report.error = Some(format!("{err:#}"));
    }
    report.snapshot_wait = waiting.elapsed();
    report.extra_ops = filler.sent.saturating_sub(plan.ops);
    let drawn = Drawn {
        before: filler.before,
        ops: filler.sent,
        strokes: filler.strokes.begun(),
    };
    filler.close().await;
    if report.error.is_some() {
        return report;
    }
    sleep(SETTLE).await;
    info!(ops = drawn.ops, "joining");
    if let Err(err) = timeout(plan.limit, join(plan, drawn, &mut report))
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("joining took longer than {:?}", plan.limit)))
    {
        report.error = Some(format!("{err:#}"));
    }
    report.relay_memory = plan
        .relay_pid
        .and_then(|pid| procfs::memory(Pid::Other(pid)).ok());
    report
}

/// What the filler put in the room.
#[derive(Clone, Copy, Debug)]
struct Drawn {
    /// Ops in the room before.
    before: u64,
    /// Ops.
    ops: u64,
    /// Strokes begun: the objects a board of the room holds.
    strokes: u64,
}

/// The filler's strokes, one op at a time: a begin, [`APPENDS_PER_STROKE`]
/// appends, an end, then the next stroke. Op ids are fresh random uuids, so
/// they never repeat, in this run or another one against the same relay.
#[derive(Debug)]
struct Strokes {
    /// Points per `StrokeAppend`.
    points: usize,
    /// Ops built so far.
    ops: u64,
    /// The stroke being drawn.
    stroke: StrokeId,
}

impl Strokes {
    /// Strokes whose appends are frames of about `size` bytes (one point at
    /// least).
    fn new(size: usize) -> anyhow::Result<Self> {
        let mut strokes = Self {
            points: 0,
            ops: 0,
            stroke: StrokeId::random(),
        };
        let empty = encode(&ClientMessage::Op(strokes.append(0, 0)))
            .context("encoding an op")?
            .len();
        // Each point is two f32s, four bytes each; one more byte may go to the
        // varint length of the point list.
        strokes.points = (size.saturating_sub(empty + 1) / 8).max(1);
        Ok(strokes)
    }

    /// Strokes begun so far.
    fn begun(&self) -> u64 {
        self.ops.div_ceil(OPS_PER_STROKE)
    }

    /// The next op.
    fn next_op(&mut self) -> Op {
        let index = self.ops / OPS_PER_STROKE;
        let step = self.ops % OPS_PER_STROKE;
        self.ops += 1;
        if step == 0 {
            self.stroke = StrokeId::random();
            Op::new(OpKind::StrokeBegin {
                stroke: self.stroke,
                style: StrokeStyle {
                    color: Color::rgb(index as u8, (index >> 8) as u8, 0x80),
                    width: 2.0 + (index % 4) as f32,
                },
                start: point(index, 0),
            })
        } else if step == OPS_PER_STROKE - 1 {
            Op::new(OpKind::StrokeEnd {
                stroke: self.stroke,
            })
        } else {
            self.append(index, 1 + (step - 1) * self.points as u64)
        }
    }

    /// The append of this many points of stroke `index` from point `first` on.
    fn append(&self, index: u64, first: u64) -> Op {
        Op::new(OpKind::StrokeAppend {
            stroke: self.stroke,
            points: (first..first + self.points as u64)
                .map(|i| point(index, i))
                .collect(),
        })
    }
}

/// Point `i` of stroke `index`: a wave across the stroke's cell of a grid.
fn point(index: u64, i: u64) -> Point {
    let x = (index % STROKES_PER_ROW) as f32 * 40.0;
    let y = (index / STROKES_PER_ROW) as f32 * 40.0;
    let t = i as f32;
    Point::new(x + t * 0.25, y + 20.0 + 12.0 * (t * 0.2).sin())
}

/// The peer that draws the room's strokes.
struct Filler {
    /// Its connection.
    ws: Ws,
    /// What it draws.
    strokes: Strokes,
    /// Ops in the room before the filler's (none on a fresh relay).
    before: u64,
    /// Ops sent and acknowledged.
    sent: u64,
}

impl Filler {
    /// Draws `ops` more ops, in batches, each batch acknowledged before the next.
    async fn draw(&mut self, ops: u64) -> anyhow::Result<()> {
        let mut left = ops;
        while left > 0 {
            let batch = BATCH.min(left);
            for _ in 0..batch {
                let frame =
                    encode(&ClientMessage::Op(self.strokes.next_op())).context("encoding an op")?;
                self.ws
                    .feed(Message::Binary(frame.into()))
                    .await
                    .context("sending an op")?;
            }
            self.ws.flush().await.context("sending ops")?;
            let mut acked = 0;
            while acked < batch {
                match wire::receive(&next_frame(&mut self.ws).await?)? {
                    Received::Ack => acked += 1,
                    Received::Error(error) => anyhow::bail!("the relay refused an op: {error}"),
                    _ => {}
                }
            }
            left -= batch;
            self.sent += batch;
        }
        Ok(())
    }

    /// Leaves the room.
    async fn close(mut self) {
        let _ = timeout(Duration::from_secs(1), self.ws.close(None)).await;
    }
}

/// Connects the filler and puts `plan.ops` ops in the room.
async fn fill(plan: &JoinPlan) -> anyhow::Result<Filler> {
    let connected = load::connect(&plan.target, Mode::Tabula, 0, 0, None).await?;
    let mut filler = Filler {
        ws: connected.ws,
        strokes: Strokes::new(plan.size)?,
        before: connected.head,
        sent: 0,
    };
    filler.draw(plan.ops).await?;
    Ok(filler)
}

/// Waits until the relay's latest snapshot covers the room as far as the relay
/// ever makes it: the head less than one snapshot interval past it, the
/// interval being `plan.snapshot_every` or, as the relay spaces a big board's
/// snapshots, one op per KiB of the latest snapshot if that is more.
///
/// Why wait, and why draw: the relay asks its snapshotter thread for a snapshot
/// when it publishes ops and the head is `snapshot_every` ops past the latest
/// one, and only if none is being made. While the room fills at tens of
/// thousands of ops a second, each snapshot takes long enough (decode the last
/// one, apply the ops since, encode it all) that the filler is far ahead when it
/// lands, and once the filler stops nothing asks again: a joiner right after
/// the fill would get a snapshot tens of thousands of ops old, or none, and its
/// figure would depend on where the snapshotter happened to be. A room people
/// draw in keeps publishing and its snapshot keeps up, so that is the case to
/// measure. Sleeping a fixed time would not help (no op, no new snapshot), so
/// each round probes with a newcomer that reads only the welcome (then drops
/// its connection), and if the snapshot it announces is still `snapshot_every`
/// ops or more behind the head, the filler draws one more stroke (what someone
/// still drawing would do), which asks for a snapshot once the snapshotter is
/// free. The extra ops are counted in the report (`extra_ops`); so is the wait.
/// After [`SNAPSHOT_WAIT`] it gives up and the join measures what the relay has
/// (`snapshot_covered: false`).
///
/// With the relay's `--snapshot-every` above the room's size (snapshots off),
/// the first probe is enough: the whole history is what a joiner gets.
async fn await_snapshot(
    plan: &JoinPlan,
    filler: &mut Filler,
    report: &mut JoinReport,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + SNAPSHOT_WAIT;
    loop {
        let (ws, welcome) = hello(plan, 2).await?;
        // Dropped unread: the relay's writes of the snapshot and the catch-up
        // fail, and it lets the connection go.
        drop(ws);
        report.probes += 1;
        let covered = welcome.snapshot.map_or(0, |s| s.seq);
        let interval = plan
            .snapshot_every
            .max(welcome.snapshot.map_or(0, |s| s.bytes / 1024));
        if welcome.head.saturating_sub(covered) < interval {
            report.snapshot_covered = true;
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Ok(());
        }
        filler.draw(OPS_PER_STROKE).await?;
        sleep(PROBE_PAUSE).await;
    }
}

/// Connects a newcomer (peer `index`), says hello with nothing seen and reads
/// up to the welcome. The client's settings are tungstenite's defaults, as the
/// app's.
async fn hello(plan: &JoinPlan, index: usize) -> anyhow::Result<(Ws, Welcome)> {
    let url = plan.target.url(0);
    let (mut ws, _) = load::open(&plan.target, &url, WebSocketConfig::default())
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let room = plan.target.room_name(0);
    let (hello, client) = wire::hello(&room, index, plan.target.invite())?;
    ws.send(Message::Binary(hello.into()))
        .await
        .context("sending the hello")?;
    loop {
        match decode::<ServerMessage>(&next_frame(&mut ws).await?)
            .context("a frame from the relay does not decode")?
        {
            ServerMessage::Welcome(welcome) => return Ok((ws, welcome)),
            ServerMessage::Challenge(challenge) => {
                let answer = plan.target.answer(&challenge, &room, client)?;
                ws.send(Message::Binary(answer.into()))
                    .await
                    .context("answering the password challenge")?;
            }
            ServerMessage::Error { code, message } => {
                anyhow::bail!("the relay refused the hello: {code:?}: {message}")
            }
            _ => {}
        }
    }
}

/// Joins as the app does and builds the board up to the welcome's head.
async fn join(plan: &JoinPlan, drawn: Drawn, report: &mut JoinReport) -> anyhow::Result<()> {
    let started = Instant::now();
    let (mut ws, welcome) = hello(plan, 1).await?;
    report.welcome = Some(started.elapsed());
    report.ops = welcome.head;
    report.snapshot = welcome.snapshot;
    let mut board = match welcome.snapshot {
        Some(header) => {
            let bytes = receive_snapshot(&mut ws, header).await?;
            report.snapshot_received = Some(started.elapsed());
            report.caught_up = report.snapshot_received;
            let decoding = Instant::now();
            let snapshot = decode_snapshot(&bytes).context("the snapshot does not decode")?;
            let board = Board::from_snapshot(snapshot);
            report.decode = Some(decoding.elapsed());
            anyhow::ensure!(
                board.last_seq() == header.seq,
                "the snapshot announced as op {} holds op {}",
                header.seq,
                board.last_seq()
            );
            board
        }
        None => Board::new(),
    };
    anyhow::ensure!(
        board.last_seq() == welcome.replay_from,
        "the catch-up starts after op {}, the board holds up to op {}",
        welcome.replay_from,
        board.last_seq()
    );
    report.tail_ops = welcome.head.saturating_sub(welcome.replay_from);
    while board.last_seq() < welcome.head {
        let frame = next_frame(&mut ws).await?;
        let message =
            decode::<ServerMessage>(&frame).context("a catch-up frame does not decode")?;
        let ServerMessage::Op(op) = message else {
            continue;
        };
        if op.seq == welcome.head {
            report.caught_up = Some(started.elapsed());
        }
        match board.apply_sequenced(&op) {
            Applied::Gap { expected } => {
                anyhow::bail!("op {} came where op {expected} should", op.seq)
            }
            Applied::Duplicate => anyhow::bail!("op {} came twice", op.seq),
            Applied::Changed | Applied::Confirmed | Applied::Ignored => {}
        }
    }
    report.join = Some(started.elapsed());
    report.objects = board.object_count();
    let _ = timeout(Duration::from_secs(1), ws.close(None)).await;
    // Only the filler drew in the room (a fresh relay): its strokes are the board.
    if drawn.before == 0 && welcome.head == drawn.ops {
        anyhow::ensure!(
            report.objects as u64 == drawn.strokes,
            "the board holds {} objects, the filler drew {} strokes",
            report.objects,
            drawn.strokes
        );
    }
    Ok(())
}

/// Receives the parts of the snapshot `header` announces, whole.
async fn receive_snapshot(ws: &mut Ws, header: SnapshotHeader) -> anyhow::Result<Vec<u8>> {
    let len = usize::try_from(header.bytes).context("a snapshot larger than memory")?;
    anyhow::ensure!(
        len <= tabula_shared::codec::MAX_SNAPSHOT_BYTES,
        "a snapshot of {len} bytes is larger than any peer accepts"
    );
    let mut bytes = Vec::with_capacity(len);
    let mut parts = 0;
    while parts < header.parts {
        let frame = next_frame(ws).await?;
        match decode::<ServerMessage>(&frame).context("a snapshot frame does not decode")? {
            ServerMessage::SnapshotPart(part) => {
                bytes.extend_from_slice(&part);
                parts += 1;
            }
            ServerMessage::Op(op) => {
                anyhow::bail!("op {} came before the snapshot's last part", op.seq)
            }
            _ => {}
        }
    }
    anyhow::ensure!(
        bytes.len() == len,
        "the snapshot announced {len} bytes and came with {}",
        bytes.len()
    );
    Ok(bytes)
}

/// The next binary frame from the relay.
async fn next_frame(ws: &mut Ws) -> anyhow::Result<bytes::Bytes> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Binary(frame))) => return Ok(frame),
            Some(Ok(Message::Close(frame))) => anyhow::bail!("the relay closed: {frame:?}"),
            Some(Ok(_)) => {}
            Some(Err(err)) => return Err(err).context("reading from the relay"),
            None => anyhow::bail!("the relay ended the connection"),
        }
    }
}

#[cfg(test)]
mod tests {
    use tabula_server::Config;
    use tokio::net::TcpListener;

    use super::*;
    use crate::target::Trust;

    /// Fills a room of `ops` ops on a relay in memory taking a snapshot every
    /// `snapshot_every` ops, and joins it.
    async fn join_a_room(ops: u64, snapshot_every: u64) -> JoinReport {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = Config {
            snapshot_every,
            ..Config::default()
        };
        let relay = tokio::spawn(tabula_server::run(listener, config, async {
            let _ = stopped.await;
        }));
        let report = run(&JoinPlan {
            target: Target::parse(&format!("ws://{addr}/join"), 1, Trust::default()).unwrap(),
            ops,
            size: 100,
            limit: Duration::from_secs(30),
            relay_pid: None,
            snapshot_every,
        })
        .await;
        stop.send(()).unwrap();
        relay.await.unwrap().unwrap();
        report
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_joiner_gets_the_whole_room() {
        let report = join_a_room(2500, 10_000).await;
        assert_eq!(report.error, None);
        // The filler's and the probe's joins, and the leaves the relay has
        // recorded by the time the joiner arrives.
        assert!((2502..=2504).contains(&report.ops), "{}", report.ops);
        assert_eq!(report.extra_ops, 0);
        assert_eq!(report.snapshot, None);
        assert_eq!(report.tail_ops, report.ops);
        assert_eq!(report.objects, 125);
        assert!(report.caught_up >= report.welcome);
        assert!(report.join >= report.caught_up);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_joiner_of_a_long_room_starts_from_its_snapshot() {
        let report = join_a_room(2510, 500).await;
        assert_eq!(report.error, None);
        assert!(report.snapshot_covered);
        let snapshot = report.snapshot.expect("a snapshot");
        assert!(report.ops >= 2510);
        assert_eq!(report.tail_ops, report.ops - snapshot.seq);
        assert!(report.tail_ops < 500);
        assert!(snapshot.bytes > 0 && snapshot.parts >= 1);
        // Half a stroke at the end: 126 strokes begun, and one more per extra.
        assert_eq!(
            report.objects as u64,
            (2510 + report.extra_ops).div_ceil(OPS_PER_STROKE)
        );
        assert!(report.decode.is_some() && report.join >= report.caught_up);
    }

    #[test]
    fn strokes_begin_append_and_end() {
        let mut strokes = Strokes::new(100).unwrap();
        let ops: Vec<Op> = (0..=OPS_PER_STROKE).map(|_| strokes.next_op()).collect();
        assert!(matches!(ops[0].kind, OpKind::StrokeBegin { .. }));
        for op in &ops[1..=APPENDS_PER_STROKE as usize] {
            let OpKind::StrokeAppend { points, .. } = &op.kind else {
                panic!("not an append: {op:?}");
            };
            assert!(points.len() >= 3, "{} points", points.len());
            let frame = encode(&ClientMessage::Op(op.clone())).unwrap();
            assert!(
                frame.len() <= 100 && frame.len() + 9 > 100,
                "{}",
                frame.len()
            );
        }
        assert!(matches!(ops[19].kind, OpKind::StrokeEnd { .. }));
        assert!(matches!(ops[20].kind, OpKind::StrokeBegin { .. }));
        assert_ne!(ops[0].kind.object(), ops[20].kind.object());
        assert!(ops.iter().all(Op::is_well_formed));
        assert_eq!(strokes.begun(), 2);
        let mut ids: Vec<_> = ops.iter().map(|op| op.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ops.len());
    }
}
