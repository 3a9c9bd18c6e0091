//! The failover run: how long the peers of a cluster node that dies take to
//! be caught up on another node.
//!
//! Each run puts `peers` moving peers ([`mover`]) in a room of their own,
//! all on the first URL's node, drawing at `rate` ops a second. Once every
//! one is caught up and `warmup` has passed, the node is killed with
//! SIGKILL: a node the generator started itself (`--node-cmd`, started
//! again before each run) or one it is given (`--node-pid`, one run). The
//! run's figure is the time from the kill until the last peer is caught up
//! on another node: reconnected, its catch-up read up to its welcome's
//! head, and every op it had sent before the kill acknowledged. The report
//! gives each run's figure and p50, p99, min and max over the runs.
//!
//! # Layout
//! - `mod.rs` (here): the plan, the runs, the report.
//! - [`mover`]: a peer that moves to the next URL when its connection is
//!   lost, resuming from its last op and resending what was not acked.
//! - `tests`: movers against relays in process.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep};

use crate::target::Target;
use mover::{Mover, Standing};

pub mod mover;

#[cfg(test)]
mod tests;

/// How often the run looks at where the peers stand.
const POLL: Duration = Duration::from_millis(1);
/// How long a node may take to start listening.
const START_LIMIT: Duration = Duration::from_secs(30);

/// The node the run kills.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A command that starts it (the first URL's node), run before each run.
    Start(Vec<String>),
    /// A node already running, with this process id: one run.
    Pid(u32),
}

/// What a failover run does, from the flags.
#[derive(Clone, Debug)]
pub struct FailoverPlan {
    /// The room's URLs, one a node; the first is the node that dies. Each
    /// has one room a run.
    pub targets: Vec<Target>,
    /// Peers in the room.
    pub peers: usize,
    /// Ops each peer sends a second.
    pub rate_hz: f64,
    /// How many runs.
    pub runs: usize,
    /// The node to kill.
    pub node: Node,
    /// How long the peers draw, all caught up, before the kill.
    pub warmup: Duration,
    /// How long any wait of a run may take before the run fails.
    pub limit: Duration,
}

impl FailoverPlan {
    /// Checks the plan.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.targets.len() < 2 {
            bail!("--failover needs the room's URLs on at least two nodes: --url A,B");
        }
        if self.peers == 0 || self.runs == 0 {
            bail!("--failover needs at least one peer and one run");
        }
        if !(self.rate_hz > 0.0 && self.rate_hz.is_finite()) {
            bail!("--rate must be a positive number of ops a second");
        }
        if matches!(self.node, Node::Pid(_)) && self.runs > 1 {
            bail!("--node-pid kills a node once: use --failover 1, or --node-cmd to start it");
        }
        if let Node::Start(command) = &self.node
            && command.is_empty()
        {
            bail!("--node-cmd is empty");
        }
        Ok(())
    }
}

/// What the runs measured.
#[derive(Debug, Default)]
pub struct FailoverReport {
    /// Each run's time from the kill until every peer was caught up.
    pub runs: Vec<Duration>,
    /// How many peers each run had.
    pub peers: usize,
    /// What stopped the runs, if anything did.
    pub error: Option<String>,
}

impl FailoverReport {
    /// The `q` quantile of the runs' times (nearest rank).
    fn quantile(&self, q: f64) -> Option<Duration> {
        let mut sorted = self.runs.clone();
        sorted.sort_unstable();
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
        sorted.get(rank - 1).copied()
    }

    /// The figures as text.
    pub fn to_text(&self) -> String {
        let ms = |d: Option<Duration>| {
            d.map_or_else(|| "-".to_owned(), |d| format!("{} ms", d.as_millis()))
        };
        let each: Vec<String> = self
            .runs
            .iter()
            .map(|d| d.as_millis().to_string())
            .collect();
        let mut text = format!(
            "failover: {} runs, {} peers each\n  from the kill until every peer is caught up on another node: p50 {}, p99 {}, min {}, max {}\n  each run (ms): {}\n",
            self.runs.len(),
            self.peers,
            ms(self.quantile(0.5)),
            ms(self.quantile(0.99)),
            ms(self.runs.iter().min().copied()),
            ms(self.runs.iter().max().copied()),
            each.join(", ")
        );
        if let Some(error) = &self.error {
            text.push_str("error: ");
            text.push_str(error);
            text.push('\n');
        }
        text
    }

    /// The figures as one JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1000.0);
        serde_json::json!({
            "mode": "failover",
            "runs": self.runs.iter().map(|d| d.as_secs_f64() * 1000.0).collect::<Vec<_>>(),
            "peers": self.peers,
            "p50_ms": ms(self.quantile(0.5)),
            "p99_ms": ms(self.quantile(0.99)),
            "min_ms": ms(self.runs.iter().min().copied()),
            "max_ms": ms(self.runs.iter().max().copied()),
            "error": self.error,
        })
    }
}

/// Runs the plan; the report says what stopped it, if anything did.
pub async fn run(plan: &FailoverPlan) -> FailoverReport {
    let mut report = FailoverReport {
        peers: plan.peers,
        ..FailoverReport::default()
    };
    for index in 0..plan.runs {
        match one_run(plan, index).await {
            Ok(time) => {
                tracing::info!(
                    run = index,
                    ms = time.as_millis(),
                    "caught up after the kill"
                );
                report.runs.push(time);
            }
            Err(err) => {
                report.error = Some(format!("run {index}: {err:#}"));
                break;
            }
        }
    }
    report
}

/// One run, in room `index`: the time from the kill until every peer is
/// caught up again.
async fn one_run(plan: &FailoverPlan, index: usize) -> anyhow::Result<Duration> {
    let mut started = match &plan.node {
        Node::Start(command) => Some(Started(start(command)?)),
        Node::Pid(_) => None,
    };
    let doomed = &plan.targets[0];
    listening(&doomed.authority()).await?;
    let mut peers = Vec::with_capacity(plan.peers);
    let mut standings = Vec::with_capacity(plan.peers);
    for peer in 0..plan.peers {
        let (mover, standing) = Mover::new(plan.targets.clone(), index, 0, peer, plan.rate_hz);
        peers.push(tokio::spawn(mover.run()));
        standings.push(standing);
    }
    let _stop = AbortOnDrop(peers);
    let everyone =
        |wanted: &dyn Fn(&Standing) -> bool| standings.iter().all(|s| wanted(&s.borrow()));
    wait_until(
        plan.limit,
        "every peer to be welcomed and caught up",
        || everyone(&|s| s.caught_up.is_some() && s.moves == 0),
    )
    .await?;
    sleep(plan.warmup).await;
    let killed = Instant::now();
    match (&mut started, &plan.node) {
        (Some(Started(child)), _) => child.kill().context("killing the node")?,
        (None, Node::Pid(pid)) => kill(*pid)?,
        (None, Node::Start(_)) => unreachable!("a started node is kept"),
    }
    wait_until(
        plan.limit,
        "every peer to be caught up on another node",
        || everyone(&|s| s.moves >= 1 && s.caught_up.is_some()),
    )
    .await?;
    let last = standings
        .iter()
        .filter_map(|s| s.borrow().caught_up)
        .max()
        .unwrap_or(killed);
    Ok(last.saturating_duration_since(killed))
}

/// A node the run started, killed and reaped when dropped.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The peers' tasks, stopped when dropped.
struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for peer in &self.0 {
            peer.abort();
        }
    }
}

/// Starts `command` (a program and its arguments), its output discarded.
fn start(command: &[String]) -> anyhow::Result<Child> {
    let (program, args) = command.split_first().context("--node-cmd is empty")?;
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting the node: {}", command.join(" ")))
}

/// Kills process `pid` with SIGKILL.
fn kill(pid: u32) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .context("running kill")?;
    if !status.success() {
        bail!("kill -KILL {pid} failed ({status})");
    }
    Ok(())
}

/// Waits until `authority` (`HOST:PORT`) accepts connections.
async fn listening(authority: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + START_LIMIT;
    loop {
        if TcpStream::connect(authority).await.is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("nothing listens on {authority} after {START_LIMIT:?}");
        }
        sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `done` until it holds, at most `limit`.
async fn wait_until(
    limit: Duration,
    what: &str,
    mut done: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() >= deadline {
            bail!("waited {limit:?} for {what}");
        }
        sleep(POLL).await;
    }
    Ok(())
}
