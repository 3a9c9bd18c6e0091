//! Crash safety: the real `tabula-server` binary with a data folder, killed with
//! SIGKILL while peers draw as fast as they can, restarted, killed again, and so
//! on. Afterwards every op whose ack a peer received is in the room exactly once
//! at the acked place, no peer ever saw an op the relay lost (each reconnect
//! resumes exactly from the peer's `last_seen`), and all peers converge on one
//! history, which `tabula-server rooms` and `export` see too.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use tabula_shared::session_file::SessionFile;
use tabula_shared::{
    ClientMessage, Op, OpId, PeerInfo, SequencedOp, ServerMessage, decode, encode,
};
use tokio::time::{Instant, interval, sleep, timeout};
use tokio_tungstenite::tungstenite::Message;

use crate::child::ChildRelay;
use crate::support::{peer_info, stroke_op};

/// The room everyone draws in.
pub const ROOM: &str = "crash";
/// How many times the relay is killed.
const CRASHES: u64 = 5;
/// How many peers draw at once.
const PEERS: usize = 3;
/// The longest one phase of one peer may take.
const PHASE_LIMIT: Duration = Duration::from_secs(15);

/// `tabula-server --data DATA --listen 127.0.0.1:0` at the production
/// settings (no group-commit window).
fn start_relay(data: &Path) -> ChildRelay {
    let mut command = Command::new(ChildRelay::binary());
    command
        .arg("--data")
        .arg(data)
        .args(["--listen", "127.0.0.1:0"]);
    ChildRelay::spawn(command)
}

/// The room's URL on `relay`.
fn room_url(relay: &ChildRelay) -> String {
    format!("ws://{}/{ROOM}", relay.addr)
}

/// One peer as the app's network task sees it, across connections.
#[derive(Clone, Debug)]
pub struct Peer {
    /// Who it is; the same on every connection.
    pub info: PeerInfo,
    /// The last sequence number it has seen (op or own ack).
    pub last_seen: u64,
    /// Everything it has seen, by sequence number.
    pub seen: BTreeMap<u64, OpId>,
    /// Its ops sent but not yet acknowledged, oldest first: resent on reconnect.
    outbox: Vec<Op>,
    /// The resume secret its last welcome gave it, presented in every hello.
    secret: Option<tabula_shared::access::ResumeSecret>,
    /// Every ack it received, op to sequence number.
    pub acked: HashMap<OpId, u64>,
    /// Where the relay recorded someone joining or leaving (acked to nobody).
    pub presence: BTreeSet<u64>,
    /// Acks received by every peer, counted as they arrive, so the test can
    /// kill the relay only once it is taking ops.
    acks: Arc<AtomicUsize>,
}

/// What a peer does on one connection.
#[derive(Clone, Copy, Debug)]
pub enum Phase {
    /// Draws until the connection dies.
    Draw,
    /// Resends its outbox and leaves once everything is acknowledged.
    Flush,
    /// Catches up to this head and leaves.
    CatchUp(u64),
}

impl Peer {
    pub fn new(name: &str, acks: &Arc<AtomicUsize>) -> Self {
        Self {
            info: peer_info(name),
            last_seen: 0,
            seen: BTreeMap::new(),
            outbox: Vec::new(),
            secret: None,
            acked: HashMap::new(),
            presence: BTreeSet::new(),
            acks: Arc::clone(acks),
        }
    }

    /// Records `op` at `seq`, which must be the next one or already known.
    fn record(&mut self, seq: u64, op: OpId) {
        if seq <= self.last_seen {
            assert_eq!(
                self.seen.get(&seq),
                Some(&op),
                "{}: seq {seq} named another op before",
                self.info.name
            );
            return;
        }
        assert_eq!(
            seq,
            self.last_seen + 1,
            "{}: a gap in the sequence",
            self.info.name
        );
        self.seen.insert(seq, op);
        self.last_seen = seq;
    }

    /// Takes an ack (or its own op coming back in a catch-up) for `op` at `seq`.
    fn confirm(&mut self, op: OpId, seq: u64) {
        if let Some(first) = self.acked.insert(op, seq) {
            assert_eq!(first, seq, "{}: op acked at two places", self.info.name);
        } else {
            self.acks.fetch_add(1, Ordering::Relaxed);
        }
        self.outbox.retain(|pending| pending.id != op);
    }

    fn handle(&mut self, message: ServerMessage) {
        match message {
            ServerMessage::Op(op) => {
                self.record(op.seq, op.op.id);
                if op.op.kind.is_presence() {
                    self.presence.insert(op.seq);
                } else if op.author == self.info.client {
                    self.confirm(op.op.id, op.seq);
                }
            }
            ServerMessage::Ack { op, seq, .. } => {
                self.record(seq, op);
                self.confirm(op, seq);
            }
            ServerMessage::Error { code, message }
            | ServerMessage::OpRefused { code, message, .. } => {
                panic!(
                    "{}: the relay refused something: {code:?} {message}",
                    self.info.name
                )
            }
            _ => {}
        }
    }

    /// One connection: hello, catch-up, resend, then the phase's work, until the
    /// phase is done or the connection dies. Returns how many of its ops were
    /// unacknowledged when it ended.
    pub async fn connect(&mut self, url: &str, phase: Phase) -> usize {
        // On a loaded machine the kill can come before a peer has connected or been
        // welcomed: that connection died early, like any other, and the peer
        // simply has nothing new. A relay that refuses to come back is caught by
        // the later phases, which must end with nothing unacknowledged.
        let Ok((ws, _)) = timeout(PHASE_LIMIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connecting timed out")
        else {
            return self.outbox.len();
        };
        let (mut sink, mut stream) = ws.split();
        let frame = |message: &ClientMessage| {
            Message::Binary(encode(message).expect("could not encode").into())
        };
        let hello = tabula_shared::Hello {
            protocol: tabula_shared::PROTOCOL_VERSION,
            room: ROOM.to_owned(),
            name: self.info.name.clone(),
            color: self.info.color,
            client: self.info.client,
            last_seen: self.last_seen,
            last_op: self.seen.get(&self.last_seen).copied(),
            credentials: tabula_shared::Credentials {
                resume: self.secret,
                ..tabula_shared::Credentials::default()
            },
        };
        if sink
            .send(frame(&ClientMessage::Hello(hello)))
            .await
            .is_err()
        {
            return self.outbox.len();
        }
        let welcome = loop {
            match timeout(PHASE_LIMIT, stream.next())
                .await
                .expect("no welcome")
            {
                Some(Ok(Message::Binary(bytes))) => match decode(&bytes).expect("a bad frame") {
                    ServerMessage::Welcome(welcome) => {
                        self.secret = Some(welcome.resume_secret);
                        break welcome;
                    }
                    other => panic!("expected a welcome, got {other:?}"),
                },
                Some(Ok(_)) => {}
                // The relay died between the hello and the welcome.
                Some(Err(_)) | None => return self.outbox.len(),
            }
        };
        // The heart of it: the relay never lost an op this peer saw.
        assert_eq!(
            welcome.replay_from, self.last_seen,
            "{}: the relay is behind what this peer saw (head {})",
            self.info.name, welcome.head
        );
        for op in self.outbox.clone() {
            if sink.send(frame(&ClientMessage::Op(op))).await.is_err() {
                return self.outbox.len();
            }
        }

        let mut pen = interval(Duration::from_millis(1));
        let deadline = Instant::now() + PHASE_LIMIT;
        loop {
            let done = match phase {
                Phase::Draw => false,
                Phase::Flush => self.outbox.is_empty(),
                Phase::CatchUp(head) => self.last_seen >= head,
            };
            if done {
                return self.outbox.len();
            }
            assert!(
                Instant::now() < deadline,
                "{}: {phase:?} took too long",
                self.info.name
            );
            tokio::select! {
                _ = pen.tick(), if matches!(phase, Phase::Draw) => {
                    let op = stroke_op();
                    // In the outbox before it is sent: if the relay dies now, it
                    // may or may not have it, and a resend settles which.
                    self.outbox.push(op.clone());
                    if sink.send(frame(&ClientMessage::Op(op))).await.is_err() {
                        return self.outbox.len();
                    }
                }
                message = stream.next() => match message {
                    Some(Ok(Message::Binary(bytes))) => self.handle(decode(&bytes).expect("a bad frame")),
                    Some(Ok(_)) => {}
                    _ => return self.outbox.len(),
                },
                () = sleep(deadline.saturating_duration_since(Instant::now())) => {}
            }
        }
    }
}

/// Runs `phase` for every peer at once against `url`; returns how many ops were
/// unacknowledged at the end, in all.
pub async fn all(peers: &mut [Peer], url: &str, phase: Phase) -> usize {
    let tasks: Vec<_> = peers
        .iter()
        .cloned()
        .map(|mut peer| {
            let url = url.to_owned();
            tokio::spawn(async move {
                let unacked = peer.connect(&url, phase).await;
                (peer, unacked)
            })
        })
        .collect();
    let mut unacked = 0;
    for (slot, task) in peers.iter_mut().zip(tasks) {
        let (peer, left) = timeout(PHASE_LIMIT * 2, task)
            .await
            .expect("a peer hung")
            .expect("a peer panicked");
        *slot = peer;
        unacked += left;
    }
    unacked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_ops_survive_kill_9_exactly_once_and_peers_converge() {
    let data = tempfile::tempdir().unwrap();
    let acks = Arc::new(AtomicUsize::new(0));
    let mut peers: Vec<Peer> = (0..PEERS)
        .map(|i| Peer::new(&format!("p{i}"), &acks))
        .collect();
    let mut in_flight_at_kills = 0;

    for crash in 0..CRASHES {
        let relay = start_relay(data.path());
        let url = room_url(&relay);
        let drawing = {
            let mut peers = peers.clone();
            tokio::spawn(async move {
                let unacked = all(&mut peers, &url, Phase::Draw).await;
                (peers, unacked)
            })
        };
        // Kill at a different moment each time, always mid-stroke, once the
        // relay is taking ops (a loaded machine may take a while to start it).
        let acked_before: usize = peers.iter().map(|p| p.acked.len()).sum();
        let deadline = Instant::now() + PHASE_LIMIT;
        while acks.load(Ordering::Relaxed) <= acked_before && Instant::now() < deadline {
            sleep(Duration::from_millis(10)).await;
        }
        sleep(Duration::from_millis(150 + 60 * crash)).await;
        relay.kill();
        let (after, unacked) = drawing.await.expect("the drawing peers panicked");
        peers = after;
        let acked_now: usize = peers.iter().map(|p| p.acked.len()).sum();
        assert!(acked_now > acked_before, "round {crash}: nothing was acked");
        in_flight_at_kills += unacked;
        eprintln!("kill {crash}: {acked_now} ops acked so far, {unacked} in flight at the kill");
    }
    assert!(
        in_flight_at_kills > 0,
        "the relay was never killed with ops in flight: the test proved nothing"
    );

    // Back up for good: everyone resends what is unacked, then catches up.
    let relay = start_relay(data.path());
    let url = room_url(&relay);
    assert_eq!(all(&mut peers, &url, Phase::Flush).await, 0);
    let head = peers.iter().map(|p| p.last_seen).max().unwrap();
    all(&mut peers, &url, Phase::CatchUp(head)).await;
    let mut reader = Peer::new("reader", &acks);
    reader.connect(&url, Phase::CatchUp(head)).await;
    relay.kill();

    let history = reader.seen.clone();
    let recorded = one_history(&peers, &reader, head);
    eprintln!(
        "{head} ops in the room after {CRASHES} kills ({recorded} joins and leaves), every one acked once"
    );
    check_tools(data.path(), &history);
}

/// Checks that `reader`, caught up to `head`, holds one history of ops
/// 1..=`head` with every op once, that every op a peer was acked is there
/// where its ack said, that every peer saw that same history, and that every
/// op but the recorded joins and leaves was acked to its author; returns how
/// many joins and leaves were recorded.
pub fn one_history(peers: &[Peer], reader: &Peer, head: u64) -> usize {
    // One history, ops 1..=head, every op exactly once.
    let history = &reader.seen;
    assert_eq!(history.len() as u64, head);
    assert_eq!(
        history.keys().copied().collect::<Vec<_>>(),
        (1..=head).collect::<Vec<_>>()
    );
    let mut places: HashMap<OpId, u64> = HashMap::new();
    for (seq, op) in history {
        assert!(
            places.insert(*op, *seq).is_none(),
            "op {op} is in the room twice"
        );
    }
    let mut acked = 0;
    for peer in peers {
        // Every acknowledged op is there, where its ack said.
        for (op, seq) in &peer.acked {
            assert_eq!(
                places.get(op),
                Some(seq),
                "{}: acked op {op} lost or moved",
                peer.info.name
            );
        }
        acked += peer.acked.len();
        // And every peer ends with the same history as everyone else.
        assert_eq!(&peer.seen, history, "{} diverged", peer.info.name);
    }
    let recorded = reader.presence.len();
    assert!(
        recorded >= PEERS,
        "at least each peer's first join is recorded"
    );
    assert_eq!(
        (acked + recorded) as u64,
        head,
        "every op in the room but the joins and leaves was acked to its author"
    );

    recorded
}

/// `tabula-server rooms` and `export` see the room the peers saw, and after it
/// only the joins and leaves of the last catch-ups.
fn check_tools(data: &Path, history: &BTreeMap<u64, OpId>) {
    let run = |args: &[&std::ffi::OsStr]| {
        let output = Command::new(env!("CARGO_BIN_EXE_tabula-server"))
            .args(args)
            .env_remove("TABULA_DATA")
            .output()
            .expect("could not run tabula-server");
        assert!(output.status.success(), "{args:?}: {output:?}");
        String::from_utf8(output.stdout).expect("the output is not UTF-8")
    };
    let data_arg = data.as_os_str();
    let listing = run(&["rooms".as_ref(), "--data".as_ref(), data_arg]);
    let line = listing
        .lines()
        .find(|line| line.starts_with(ROOM))
        .unwrap_or_else(|| panic!("no {ROOM} in:\n{listing}"));
    let count: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("no op count");
    let last_activity = line.split_whitespace().nth(2).expect("no last activity");
    assert!(
        humantime::parse_rfc3339(last_activity).is_ok(),
        "not an RFC 3339 time: {line}"
    );

    let out = data.join("exported.tabula");
    run(&[
        "export".as_ref(),
        "--data".as_ref(),
        data_arg,
        "--room".as_ref(),
        ROOM.as_ref(),
        out.as_os_str(),
    ]);
    let file = SessionFile::open_read_only(&out).expect("the export does not open");
    let exported: Vec<SequencedOp> = file
        .sequenced_ops(0)
        .collect::<Result<_, _>>()
        .expect("the export does not read");
    assert_eq!(count, exported.len() as u64, "{line}");
    let (seen, after) = exported.split_at(history.len());
    let seen: BTreeMap<u64, OpId> = seen.iter().map(|op| (op.seq, op.op.id)).collect();
    assert_eq!(&seen, history);
    assert!(after.iter().all(|op| op.op.kind.is_presence()), "{after:?}");
}
