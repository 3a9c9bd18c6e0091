//! `tabula-bench`: the load generator for Tabula's relay and for the broadcast
//! relays it is compared with.
//!
//! It drives a relay on this machine with N peers in R rooms, each sending frames
//! of about BYTES bytes at HZ per second for SECS seconds, and reports delivered
//! frames per second, losses, end-to-end latency (p50, p99, p99.9, from an HDR
//! histogram), acknowledged ops, its own CPU and, given the relay's pid, the
//! relay's CPU and memory. `--json` adds one JSON object as the last line of
//! standard output, which is what `bench/run.sh` reads.
//!
//! When anything fails mid-run (the relay disappears, say), it still prints the
//! figures it has, with the error, and exits with status 1: crash tests read its
//! `acked` count.
//!
//! # Layout
//! - `main.rs` (here): flags, the runtime, printing, the exit status.
//! - `target`: the relay's URL and each room's, loopback only, and the
//!   certificate a `wss://` relay must present.
//! - `transport`: TCP, or TLS over it with the relay's certificate checked.
//! - `wire`: the frames sent (ops whose id carries the send time, or raw frames)
//!   and what the generator reads in the frames received.
//! - `load`: the load run: connect, send, drain, stop (`load::connect` opens
//!   a peer's connection, `load::peer` its writer and reader).
//! - `idle`: many idle connections and the relay's memory per connection.
//! - `join`: a room filled with many ops, and how long a newcomer takes to join it.
//! - `failover`: peers of a cluster node that is killed, moving to the next
//!   URL and resuming, and how long until all are caught up again.
//! - `stats`: the latency histogram and the report, as text and JSON.
//! - `procfs`: CPU time and memory of a process, from `/proc`.
//! - `ws`: the load run's own WebSocket client: handshake, masked frames out,
//!   frames parsed in place in big reads.

#[cfg(test)]
mod access_tests;
mod failover;
mod idle;
mod join;
mod load;
mod procfs;
mod stats;
mod target;
#[cfg(test)]
mod test_relay;
mod transport;
mod wire;
mod ws;

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use tabula_shared::access::Password;
use tracing_subscriber::EnvFilter;

use crate::failover::{FailoverPlan, Node};
use crate::idle::IdlePlan;
use crate::join::JoinPlan;
use crate::load::{LoadPlan, Mode};
use crate::target::{Target, Trust};

/// Load generator for Tabula's relay (and, with --raw, for any broadcast relay):
/// Where idle connections come from (`--sources`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Sources {
    /// All from 127.0.0.1.
    One,
    /// Each from an address of its own in 127.0.0.0/8.
    Spread,
}

/// N peers in R rooms each send frames at a fixed rate; every frame carries its
/// send time, so each delivery gives an end-to-end latency.
///
/// Loopback relays only. Logging follows `RUST_LOG` (default: warnings).
#[derive(Debug, Parser)]
#[command(name = "tabula-bench", version, about)]
struct Args {
    /// The relay and room: ws://127.0.0.1:PORT/ROOM, or wss:// for a relay
    /// that serves TLS (an invitation, wss://…/ROOM#fp=…, names the
    /// certificate to expect). With --rooms R > 1 the rooms are ROOM-0 …
    /// ROOM-(R-1). With --failover: the room on each node of a cluster,
    /// comma-separated (`ws://127.0.0.1:7457/r,ws://127.0.0.1:7458/r`); the
    /// peers start on the first and move to the next when one fails.
    #[arg(long, value_name = "URL")]
    url: String,

    /// With wss://: the SHA-256 of the certificate the relay must present
    /// (as tabula-server gen-cert prints it, hex or base64url).
    #[arg(long, value_name = "FP", conflicts_with = "insecure")]
    fingerprint: Option<tabula_shared::fingerprint::Fingerprint>,

    /// With wss://: accept whatever certificate the relay presents.
    #[arg(long)]
    insecure: bool,

    /// The relay's password (tabula-server --password), to answer its
    /// challenge with; a URL's #code= does the same.
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "TABULA_PASSWORD",
        hide_env_values = true
    )]
    password: Option<String>,

    /// An invitation's token (the 64 hex digits after an invitation link's
    /// #invite=): every peer comes with it, as the app does with the link;
    /// a URL's #invite= does the same.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "TABULA_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,

    /// Peers in all, dealt round-robin over the rooms.
    #[arg(long, value_name = "N", default_value_t = 2)]
    peers: usize,

    /// How many rooms the peers are spread over.
    #[arg(long, value_name = "R", default_value_t = 1)]
    rooms: usize,

    /// Frames each peer sends per second.
    #[arg(long, value_name = "HZ", default_value_t = 60.0)]
    rate: f64,

    /// About how many bytes each frame has.
    #[arg(long, value_name = "BYTES", default_value_t = 100)]
    size: usize,

    /// How long the peers send, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    duration: f64,

    /// Send plain timestamped binary frames, with no Tabula hello: for relays that
    /// broadcast each frame to the other clients of the same URL path.
    #[arg(long)]
    raw: bool,

    /// Print the figures as one JSON object on the last line of standard output
    /// (the text goes to standard error).
    #[arg(long)]
    json: bool,

    /// The relay's process id, to report its CPU and memory from /proc.
    #[arg(long, value_name = "PID")]
    relay_pid: Option<u32>,

    /// Peers of the first room that join and then never read nor send: the
    /// slow-consumer scenario.
    #[arg(long, value_name = "N", default_value_t = 0, conflicts_with = "idle")]
    slow: usize,

    /// Instead of a load run: open N connections that only say hello (or only
    /// connect, with --raw), hold them, and report the relay's memory per
    /// connection (needs --relay-pid for the memory).
    #[arg(long, value_name = "N")]
    idle: Option<usize>,

    /// With --idle: where the connections come from: `one` address
    /// (127.0.0.1, which a relay's per-address limit counts together), or
    /// `spread`, each from an address of its own in 127.0.0.0/8 (127.1.0.1,
    /// 127.1.0.2, …), as many clients would be.
    #[arg(long, value_enum, default_value_t = Sources::One, requires = "idle")]
    sources: Sources,

    /// With --idle: how long to hold the connections once all are open before
    /// sampling the relay's memory. A relay closes the file of a room that has
    /// been quiet for 10 s, so a hold longer than that measures rooms at rest.
    #[arg(long, value_name = "SECS", default_value_t = 2.0, requires = "idle")]
    hold: f64,

    /// With --idle: once the connections are held and the relay's memory is
    /// read, time N joins of one more peer into a room nobody is in and N
    /// into the idle peers' rooms, one at a time (each leaves before the next
    /// comes): from opening its connection to its welcome.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "idle")]
    time_joins: usize,

    /// Instead of a load run: fill the room with N ops, then time how long a new
    /// peer takes to join it and hold its board up to date (Tabula only).
    #[arg(long, value_name = "N", conflicts_with_all = ["idle", "raw"])]
    join_ops: Option<u64>,

    /// With --join-ops: the relay's --snapshot-every. The join waits (drawing a
    /// stroke now and then) until the relay's snapshot is less than this many ops
    /// behind the room's head, as it stays in a room people keep drawing in.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10_000,
        requires = "join_ops"
    )]
    snapshot_every: u64,

    /// Instead of a load run: RUNS times, put --peers moving peers on the
    /// first URL's node, kill that node (SIGKILL) once they draw, and time
    /// until every peer is caught up on another node (see --node-cmd,
    /// --node-pid). Peers draw --rate ops a second each.
    #[arg(long, value_name = "RUNS", conflicts_with_all = ["idle", "join_ops", "raw"])]
    failover: Option<usize>,

    /// With --failover: the command that starts the first URL's node
    /// (program and arguments, split at spaces), run before each run; the
    /// generator kills it.
    #[arg(
        long,
        value_name = "CMD",
        requires = "failover",
        conflicts_with = "node_pid"
    )]
    node_cmd: Option<String>,

    /// With --failover 1: the process id of the first URL's node, to kill.
    #[arg(long, value_name = "PID", requires = "failover")]
    node_pid: Option<u32>,

    /// With --failover: how long the peers draw before the kill.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 1.0,
        requires = "failover"
    )]
    warmup: f64,

    /// How long to wait, after sending stops, for frames still in flight.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    drain: f64,

    /// How long connecting every peer may take, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    connect_timeout: f64,
}

/// Seconds from a flag, checked.
fn seconds(flag: &str, secs: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero() || flag == "--drain")
        .with_context(|| format!("{flag} {secs} is not a positive number of seconds"))
}

/// `--connect-timeout`, checked.
fn connect_timeout_of(args: &Args) -> anyhow::Result<Duration> {
    seconds("--connect-timeout", args.connect_timeout)
}

/// What to run, from the flags.
#[derive(Debug)]
enum Plan {
    /// A load run.
    Load(LoadPlan),
    /// An idle-connections run.
    Idle(IdlePlan),
    /// A join run.
    Join(JoinPlan),
    /// A failover run.
    Failover(FailoverPlan),
}

impl Plan {
    /// Checks the flags and turns them into a plan.
    fn from_args(args: &Args) -> anyhow::Result<Self> {
        let trust = Trust {
            fingerprint: args.fingerprint,
            insecure: args.insecure,
        };
        let urls: Vec<&str> = args.url.split(',').map(str::trim).collect();
        let rooms = args.failover.unwrap_or(args.rooms);
        let mut targets = urls
            .iter()
            .map(|url| {
                let mut target = Target::parse(url, rooms, trust)?;
                if let Some(password) = args.password.clone().and_then(Password::new) {
                    target.set_password(password);
                }
                if let Some(token) = &args.token {
                    let invite = tabula_shared::access::InviteToken::from_text(token)
                        .context("--token is not an invitation's token (64 hex digits)")?;
                    target.set_invite(invite)?;
                }
                anyhow::Ok(target)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        if let Some(runs) = args.failover {
            let node = match (&args.node_cmd, args.node_pid) {
                (Some(command), None) => {
                    Node::Start(command.split_whitespace().map(str::to_owned).collect())
                }
                (None, Some(pid)) => Node::Pid(pid),
                _ => anyhow::bail!("--failover needs --node-cmd CMD or --node-pid PID"),
            };
            let plan = FailoverPlan {
                targets,
                peers: args.peers,
                rate_hz: args.rate,
                runs,
                node,
                warmup: seconds("--warmup", args.warmup)?,
                limit: connect_timeout_of(args)?,
            };
            plan.validate()?;
            return Ok(Self::Failover(plan));
        }
        anyhow::ensure!(
            targets.len() == 1,
            "several URLs are for --failover; a load, idle or join run drives one relay \
             (run one tabula-bench per node)"
        );
        let target = targets.remove(0);
        let mode = if args.raw { Mode::Raw } else { Mode::Tabula };
        let connect_timeout = connect_timeout_of(args)?;
        if let Some(connections) = args.idle {
            anyhow::ensure!(connections > 0, "--idle needs at least one connection");
            return Ok(Self::Idle(IdlePlan {
                target,
                mode,
                connections,
                hold: seconds("--hold", args.hold)?,
                connect_timeout,
                relay_pid: args.relay_pid,
                spread: args.sources == Sources::Spread,
                timed_joins: args.time_joins,
            }));
        }
        if let Some(ops) = args.join_ops {
            anyhow::ensure!(ops > 0, "--join-ops needs at least one op");
            anyhow::ensure!(
                args.snapshot_every > 0,
                "--snapshot-every needs at least one op"
            );
            return Ok(Self::Join(JoinPlan {
                target,
                ops,
                size: args.size,
                limit: connect_timeout.max(Duration::from_mins(5)),
                relay_pid: args.relay_pid,
                snapshot_every: args.snapshot_every,
            }));
        }
        let plan = LoadPlan {
            target,
            mode,
            peers: args.peers,
            rate_hz: args.rate,
            size: args.size,
            duration: seconds("--duration", args.duration)?,
            slow: args.slow,
            drain: seconds("--drain", args.drain)?,
            connect_timeout,
            relay_pid: args.relay_pid,
        };
        plan.validate()?;
        Ok(Self::Load(plan))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "tabula-bench: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the plan and prints its figures; `Ok(false)` when the run failed midway
/// (the figures are printed all the same).
fn run(args: &Args) -> anyhow::Result<bool> {
    let plan = Plan::from_args(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("tabula-bench")
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let (text, json, ok) = runtime.block_on(async {
        match &plan {
            Plan::Load(plan) => {
                let report = load::run(plan).await;
                (report.to_text(), report.to_json(), report.error.is_none())
            }
            Plan::Idle(plan) => {
                let report = idle::run(plan).await;
                (report.to_text(), report.to_json(), report.error.is_none())
            }
            Plan::Join(plan) => {
                let report = join::run(plan).await;
                (report.to_text(), report.to_json(), report.error.is_none())
            }
            Plan::Failover(plan) => {
                let report = failover::run(plan).await;
                (report.to_text(), report.to_json(), report.error.is_none())
            }
        }
    });
    // Connections still closing must not hold the figures up.
    runtime.shutdown_timeout(Duration::from_secs(1));
    if args.json {
        write!(std::io::stderr(), "{text}")?;
        writeln!(std::io::stdout(), "{json}")?;
    } else {
        write!(std::io::stdout(), "{text}")?;
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(flags: &[&str]) -> anyhow::Result<Plan> {
        let args = Args::try_parse_from(["tabula-bench"].iter().chain(flags))?;
        Plan::from_args(&args)
    }

    #[test]
    fn flags_make_a_load_plan() {
        let Plan::Load(load) = plan(&[
            "--url",
            "ws://127.0.0.1:7457/bench",
            "--peers",
            "100",
            "--rooms",
            "10",
            "--rate",
            "30",
            "--size",
            "200",
            "--duration",
            "1.5",
            "--raw",
        ])
        .unwrap() else {
            panic!("not a load plan");
        };
        assert_eq!(load.peers, 100);
        assert_eq!(load.mode, Mode::Raw);
        assert_eq!(load.duration, Duration::from_millis(1500));
        assert_eq!(load.target.url(9), "ws://127.0.0.1:7457/bench-9");
    }

    #[test]
    fn idle_makes_an_idle_plan() {
        let Plan::Idle(idle) = plan(&["--url", "ws://127.0.0.1:1/r", "--idle", "10"]).unwrap()
        else {
            panic!("not an idle plan");
        };
        assert_eq!(idle.connections, 10);
        assert_eq!(idle.mode, Mode::Tabula);
        assert_eq!(idle.timed_joins, 0);
        let Plan::Idle(timed) = plan(&[
            "--url",
            "ws://127.0.0.1:1/r",
            "--idle",
            "10",
            "--time-joins",
            "5",
        ])
        .unwrap() else {
            panic!("not an idle plan");
        };
        assert_eq!(timed.timed_joins, 5);
        assert!(plan(&["--url", "ws://127.0.0.1:1/r", "--time-joins", "5"]).is_err());
    }

    #[test]
    fn bad_flags_are_refused() {
        let url = "ws://127.0.0.1:1/r";
        // A room with one peer has nobody to deliver to.
        assert!(plan(&["--url", url, "--peers", "3", "--rooms", "2"]).is_err());
        assert!(plan(&["--url", url, "--peers", "3", "--slow", "2"]).is_err());
        assert!(plan(&["--url", url, "--rate", "0"]).is_err());
        assert!(plan(&["--url", url, "--duration", "-1"]).is_err());
        assert!(plan(&["--url", "ws://192.168.1.1:1/r"]).is_err());
        assert!(plan(&["--url", url, "--idle", "0"]).is_err());
        assert!(plan(&["--url", url, "--join-ops", "10", "--raw"]).is_err());
        assert!(matches!(
            plan(&["--url", url, "--join-ops", "10"]),
            Ok(Plan::Join(_))
        ));
        assert!(plan(&["--url", url, "--snapshot-every", "10"]).is_err());
        assert!(plan(&["--url", url, "--join-ops", "10", "--snapshot-every", "0"]).is_err());
        assert!(plan(&["--peers", "2"]).is_err());
        // Several URLs are for a failover run, which needs a node to kill.
        let two = "ws://127.0.0.1:1/r,ws://127.0.0.1:2/r";
        assert!(plan(&["--url", two]).is_err());
        assert!(plan(&["--url", two, "--failover", "3"]).is_err());
        assert!(plan(&["--url", url, "--failover", "3", "--node-cmd", "x"]).is_err());
        assert!(plan(&["--url", two, "--failover", "3", "--node-pid", "9"]).is_err());
        assert!(plan(&["--url", two, "--failover", "1", "--node-pid", "9", "--raw"]).is_err());
    }

    #[test]
    fn failover_takes_the_rooms_urls_and_a_node_to_kill() {
        let Plan::Failover(failover) = plan(&[
            "--url",
            "ws://127.0.0.1:1/r, ws://127.0.0.1:2/r",
            "--failover",
            "5",
            "--node-cmd",
            "tabula-server --redis redis://127.0.0.1:6379 --listen 127.0.0.1:1",
            "--peers",
            "10",
        ])
        .unwrap() else {
            panic!("not a failover plan");
        };
        assert_eq!(failover.targets.len(), 2);
        assert_eq!(failover.targets[1].url(4), "ws://127.0.0.1:2/r-4");
        assert_eq!(failover.runs, 5);
        assert_eq!(failover.peers, 10);
        assert!(matches!(&failover.node, Node::Start(cmd) if cmd.len() == 5));
    }
}
