//! A peer that moves: it draws in one room through the first of several
//! relay URLs and, whenever its connection fails or is lost, goes on to the
//! next one, as the app does. Its hello there names the last op it saw (so
//! its catch-up starts after it) and its resume secret, and it sends again
//! every op not yet acknowledged, which the relays recognise by op id.
//!
//! It reports, through a [`watch`] channel, where it stands: connected or
//! not, how often it has moved, and when it was last caught up after a
//! move (its catch-up read up to its welcome's head, and every op it had
//! sent before the move acknowledged).

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use anyhow::Context as _;
use futures_util::{SinkExt as _, StreamExt as _};
use tabula_shared::access::ResumeSecret;
use tabula_shared::{
    ClientId, ClientMessage, Color, Credentials, Hello, Op, OpId, OpKind, PROTOCOL_VERSION, Point,
    ServerMessage, StrokeId, decode, encode,
};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::load::{Ws, open};
use crate::target::Target;

/// How long one attempt to connect and be welcomed may take.
const ATTEMPT: Duration = Duration::from_secs(5);
/// The wait before trying the next URL once every one has failed in a row.
const ROUND_PAUSE: Duration = Duration::from_millis(50);

/// Where a mover stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Standing {
    /// How many times it has moved (lost its connection and reconnected).
    pub moves: u32,
    /// It is connected and caught up after its latest move (or its first
    /// connection).
    pub caught_up: Option<Instant>,
    /// When it last lost its connection.
    pub lost: Option<Instant>,
}

/// One moving peer of a room.
pub struct Mover {
    /// The room's URLs, one a node, tried in turn from `at`.
    targets: Vec<Target>,
    /// The room's index in each target.
    room: usize,
    /// Which URL it is on (or tries next).
    at: usize,
    /// Its client id, the same across moves.
    client: ClientId,
    /// Its name, for the hello.
    name: String,
    /// The secret its first welcome gave it, presented in every later hello.
    resume: Option<ResumeSecret>,
    /// The last op it saw (as an op or an ack): number and id.
    last: Option<(u64, OpId)>,
    /// Ops sent and not yet acknowledged, oldest first.
    unacked: VecDeque<Op>,
    /// The stroke its ops extend.
    stroke: StrokeId,
    /// Ops it sends a second.
    rate_hz: f64,
    /// Where it tells how it stands.
    standing: watch::Sender<Standing>,
}

impl Mover {
    /// Peer `index` of room `room`, drawing `rate_hz` ops a second, first on
    /// `targets[first]`.
    pub fn new(
        targets: Vec<Target>,
        room: usize,
        first: usize,
        index: usize,
        rate_hz: f64,
    ) -> (Self, watch::Receiver<Standing>) {
        let (standing, watching) = watch::channel(Standing::default());
        let mover = Self {
            at: first % targets.len().max(1),
            targets,
            room,
            client: ClientId::random(),
            name: format!("mover-{index}"),
            resume: None,
            last: None,
            unacked: VecDeque::new(),
            stroke: StrokeId::random(),
            rate_hz,
            standing,
        };
        (mover, watching)
    }

    /// Draws until dropped, moving to the next URL whenever a connection
    /// fails or is lost.
    pub async fn run(mut self) {
        let mut failures = 0;
        loop {
            match self.connect().await {
                Ok((ws, head)) => {
                    failures = 0;
                    let lost = self.draw(ws, head).await;
                    tracing::debug!(peer = %self.name, reason = %lost, "lost its connection; moving on");
                    self.standing.send_modify(|s| {
                        s.lost = Some(Instant::now());
                        s.caught_up = None;
                        s.moves += 1;
                    });
                }
                Err(err) => {
                    tracing::debug!(peer = %self.name, %err, "could not connect; trying the next URL");
                    failures += 1;
                    if failures >= self.targets.len() {
                        failures = 0;
                        sleep(ROUND_PAUSE).await;
                    }
                }
            }
            self.at = (self.at + 1) % self.targets.len();
        }
    }

    /// Connects to the current URL and is welcomed: the socket and the
    /// welcome's head.
    async fn connect(&mut self) -> anyhow::Result<(Ws, u64)> {
        let target = &self.targets[self.at];
        let url = target.url(self.room);
        let room = target.room_name(self.room);
        let config = WebSocketConfig::default();
        let (mut ws, _) = timeout(ATTEMPT, open(target, &url, config))
            .await
            .with_context(|| format!("{url} did not answer"))??;
        let hello = Hello {
            protocol: PROTOCOL_VERSION,
            room: room.clone(),
            name: self.name.clone(),
            color: Color::rgb(0x99, 0x33, 0x66),
            client: self.client,
            last_seen: self.last.map_or(0, |(seq, _)| seq),
            last_op: self.last.map(|(_, op)| op),
            credentials: Credentials {
                resume: self.resume,
                invite: target
                    .invite()
                    .map(tabula_shared::access::InviteToken::verifier),
                ..Credentials::default()
            },
        };
        send(&mut ws, &ClientMessage::Hello(hello)).await?;
        let welcomed = timeout(ATTEMPT, async {
            loop {
                match next(&mut ws).await? {
                    ServerMessage::Welcome(welcome) => return anyhow::Ok(welcome),
                    ServerMessage::Challenge(challenge) => {
                        let answer = target.answer(&challenge, &room, self.client)?;
                        ws.send(Message::Binary(answer.into())).await?;
                    }
                    other => anyhow::bail!("expected a welcome, got {other:?}"),
                }
            }
        })
        .await
        .with_context(|| format!("{url} did not welcome the peer"))??;
        self.resume = Some(welcomed.resume_secret);
        if welcomed.replay_from == 0 && self.last.is_some() {
            // The room does not hold our last op at its number: all of it
            // comes again.
            self.last = None;
        }
        Ok((ws, welcomed.head))
    }

    /// Sends what was not acknowledged, then draws and reads until the
    /// connection fails: why it did.
    async fn draw(&mut self, mut ws: Ws, head: u64) -> anyhow::Error {
        let pending: HashSet<OpId> = self.unacked.iter().map(|op| op.id).collect();
        let resend: Vec<Op> = self.unacked.iter().cloned().collect();
        for op in resend {
            if let Err(err) = send(&mut ws, &ClientMessage::Op(op)).await {
                return err;
            }
        }
        let mut waiting = pending;
        let mut caught_up = false;
        let check = |last: Option<(u64, OpId)>, waiting: &HashSet<OpId>| {
            waiting.is_empty() && last.map_or(0, |(seq, _)| seq) >= head
        };
        if check(self.last, &waiting) {
            caught_up = true;
            self.standing
                .send_modify(|s| s.caught_up = Some(Instant::now()));
        }
        let mut tick = interval(Duration::from_secs_f64(1.0 / self.rate_hz.max(0.001)));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let op = self.next_op();
                    self.unacked.push_back(op.clone());
                    if let Err(err) = send(&mut ws, &ClientMessage::Op(op)).await {
                        return err;
                    }
                }
                message = next(&mut ws) => {
                    match message {
                        Ok(ServerMessage::Op(op)) => self.last = Some((op.seq, op.op.id)),
                        Ok(ServerMessage::Ack { op, seq, .. }) => {
                            self.last = Some((seq, op));
                            self.unacked.retain(|sent| sent.id != op);
                            waiting.remove(&op);
                        }
                        Ok(ServerMessage::Error { code, message }) => {
                            tracing::warn!(peer = %self.name, ?code, %message, "the relay refused something");
                        }
                        Ok(ServerMessage::OpRefused { op, code, message }) => {
                            // Never sent again, and not waited for.
                            tracing::warn!(peer = %self.name, %op, ?code, %message, "the relay refused an op");
                            self.unacked.retain(|sent| sent.id != op);
                            waiting.remove(&op);
                        }
                        Ok(_) => {}
                        Err(err) => return err,
                    }
                    if !caught_up && check(self.last, &waiting) {
                        caught_up = true;
                        self.standing.send_modify(|s| s.caught_up = Some(Instant::now()));
                    }
                }
            }
        }
    }

    /// A new op: a few points more of its stroke.
    fn next_op(&self) -> Op {
        Op::new(OpKind::StrokeAppend {
            stroke: self.stroke,
            points: (0..4u8).map(|i| Point::new(f32::from(i), 0.0)).collect(),
        })
    }
}

/// Sends one message.
async fn send(ws: &mut Ws, message: &ClientMessage) -> anyhow::Result<()> {
    let frame = encode(message).context("encoding a message")?;
    ws.send(Message::Binary(frame.into()))
        .await
        .context("sending to the relay")
}

/// The next message from the relay, past pings.
async fn next(ws: &mut Ws) -> anyhow::Result<ServerMessage> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Binary(frame))) => {
                return decode(&frame).context("a frame from the relay does not decode");
            }
            Some(Ok(Message::Close(frame))) => {
                anyhow::bail!("the relay closed the connection: {frame:?}")
            }
            Some(Ok(_)) => {}
            Some(Err(err)) => return Err(err).context("reading from the relay"),
            None => anyhow::bail!("the connection ended"),
        }
    }
}
