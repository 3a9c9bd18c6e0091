//! Joining a big room: fill a room with many ops, then time how long a new peer
//! takes from opening its connection to holding the whole history.
//!
//! One filler peer sends the ops in batches (fed, flushed once, then every ack
//! awaited), so the room fills as fast as the relay sequences. The joiner then
//! connects, says hello with nothing seen, and counts the catch-up frames after
//! the welcome until it has the room's head; only the last frame is decoded, to
//! check that it is the head.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message;
use tracing::info;

use crate::load::{self, Mode, Ws};
use crate::procfs::{self, Memory, Pid};
use crate::target::Target;
use crate::wire::{self, OpFrames, Received};

/// Ops sent before the filler waits for their acks.
const BATCH: u64 = 1000;

/// What a join run does.
#[derive(Clone, Debug)]
pub struct JoinPlan {
    /// The relay and the room (room 0 of the target).
    pub target: Target,
    /// How many ops to put in the room first.
    pub ops: u64,
    /// About how large each op's frame is.
    pub size: usize,
    /// How long filling and joining may take, each.
    pub limit: Duration,
    /// The relay's pid, for its memory once the room is full.
    pub relay_pid: Option<u32>,
}

/// What a join run measured.
#[derive(Debug, Default)]
pub struct JoinReport {
    /// Ops in the room when the joiner arrived.
    pub ops: u64,
    /// How long filling the room took.
    pub fill: Duration,
    /// From opening the connection to the welcome.
    pub welcome: Option<Duration>,
    /// From opening the connection to the last catch-up frame.
    pub caught_up: Option<Duration>,
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
            "a room of {} ops, filled in {:.1} s: welcome after {}, caught up after {}",
            self.ops,
            self.fill.as_secs_f64(),
            ms(self.welcome),
            ms(self.caught_up)
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

/// Fills the room, then joins it; never fails, a failure is in the report.
pub async fn run(plan: &JoinPlan) -> JoinReport {
    let mut report = JoinReport::default();
    let started = Instant::now();
    match timeout(plan.limit, fill(plan)).await {
        Ok(Ok(ops)) => report.ops = ops,
        Ok(Err(err)) => report.error = Some(format!("{err:#}")),
        Err(_) => {
            report.error = Some(format!(
                "filling the room took longer than {:?}",
                plan.limit
            ));
        }
    }
    report.fill = started.elapsed();
    if report.error.is_some() {
        return report;
    }
    info!(ops = report.ops, "the room is full; joining");
    if let Err(err) = timeout(plan.limit, join(plan, &mut report))
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

/// Puts `plan.ops` ops in the room; returns the room's head afterwards.
async fn fill(plan: &JoinPlan) -> anyhow::Result<u64> {
    let mut ws = load::connect(&plan.target, Mode::Tabula, 0, 0).await?.ws;
    let mut frames = OpFrames::new(0, plan.size)?;
    let mut sent = 0;
    while sent < plan.ops {
        let batch = BATCH.min(plan.ops - sent);
        for _ in 0..batch {
            ws.feed(Message::Binary(frames.next(0)?.into()))
                .await
                .context("sending an op")?;
        }
        ws.flush().await.context("sending ops")?;
        let mut acked = 0;
        while acked < batch {
            if matches!(
                next_frame(&mut ws).await.map(|f| wire::receive(&f))?,
                Ok(Received::Ack)
            ) {
                acked += 1;
            }
        }
        sent += batch;
    }
    let _ = ws.close(None).await;
    Ok(sent)
}

/// Connects a new peer and reads the welcome and the whole catch-up.
async fn join(plan: &JoinPlan, report: &mut JoinReport) -> anyhow::Result<()> {
    let started = Instant::now();
    let load::Connected { mut ws, head } = load::connect(&plan.target, Mode::Tabula, 1, 0).await?;
    report.welcome = Some(started.elapsed());
    let mut last = None;
    for _ in 0..head {
        last = Some(next_frame(&mut ws).await?);
    }
    report.caught_up = Some(started.elapsed());
    if let Some(last) = last {
        match wire::receive(&last)? {
            Received::Op { seq, .. } if seq == head => {}
            other => anyhow::bail!("the last catch-up frame is {other:?}, not op {head}"),
        }
    }
    report.ops = head;
    let _ = ws.close(None).await;
    Ok(())
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_joiner_gets_the_whole_room() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let relay = tokio::spawn(tabula_server::run(listener, Config::default(), async {
            let _ = stopped.await;
        }));
        let report = run(&JoinPlan {
            target: Target::parse(&format!("ws://{addr}/join"), 1).unwrap(),
            ops: 2500,
            size: 100,
            limit: Duration::from_secs(20),
            relay_pid: None,
        })
        .await;
        assert_eq!(report.error, None);
        assert_eq!(report.ops, 2500);
        assert!(report.caught_up >= report.welcome);
        stop.send(()).unwrap();
        relay.await.unwrap().unwrap();
    }
}
