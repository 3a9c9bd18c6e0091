//! The network task: a background tokio task that owns the WebSocket to the relay.
//!
//! The UI thread never touches the socket. It talks to the task through two
//! channels: [`Command`]s go out on an unbounded tokio channel (sending never
//! blocks the UI), [`Event`]s come back on a `std::sync::mpsc` channel that the UI
//! drains with `try_recv` each frame, and the task calls the wake closure (the
//! app's `request_repaint`) after each event so the UI wakes up to read it.
//!
//! The task makes delivery reliable across dropped connections. It keeps every op
//! it was given in an outbox until the relay acknowledges it, tracks the last
//! sequence number it has seen, and on reconnect says so in its hello: the relay
//! sends only what was missed, the task resends what is still unacknowledged, and
//! the relay recognises resends by op id. Nothing is lost, nothing doubled.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use tabula_shared::{
    ClientId, ClientMessage, Color, Credentials, Hello, Op, OpId, PROTOCOL_VERSION, PeerInfo,
    Point, SequencedOp, ServerMessage, Welcome,
};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a connection attempt, and then the wait for the welcome, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Cursor positions are sent at most this often (about 30 Hz).
const CURSOR_INTERVAL: Duration = Duration::from_millis(33);
/// The first reconnect delay; it doubles per failed attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long a write to the relay may take before the connection counts as dead.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the UI asks of the network task.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Deliver this op to the relay (now, or after the next reconnect).
    Send(Op),
    /// The local pointer moved on the canvas (`None`: it left).
    Cursor(Option<Point>),
    /// Close the connection politely and end the task.
    Leave,
}

/// What the network task tells the UI.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The connection's state changed.
    Status(ConnectionStatus),
    /// The relay accepted the hello; the ops it is missing follow.
    Welcome(Welcome),
    /// An op in the room's order from someone else (or our own, seen in catch-up).
    Op(SequencedOp),
    /// One of our ops was sequenced.
    Acked {
        /// Which op.
        op: OpId,
        /// Its sequence number.
        seq: u64,
        /// When the relay sequenced it, in Unix milliseconds.
        timestamp_ms: u64,
    },
    /// Someone entered the room.
    PeerJoined(PeerInfo),
    /// Someone left the room.
    PeerLeft(ClientId),
    /// Someone's pointer moved.
    Cursor {
        /// Whose pointer.
        client: ClientId,
        /// Where on the canvas.
        position: Option<Point>,
    },
    /// The relay refused something we sent but kept the connection.
    RelayError(String),
}

/// The state of the link to the relay, as the UI shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ConnectionStatus {
    /// Not connected and not trying: a local board.
    #[default]
    Offline,
    /// The first connection attempt is under way.
    Connecting,
    /// In the room, live.
    Connected,
    /// The connection dropped or could not be made; trying again soon.
    Reconnecting {
        /// How many attempts have failed in a row.
        attempt: u32,
        /// How long until the next attempt.
        retry_in: Duration,
        /// Why the last attempt ended.
        reason: String,
    },
    /// The relay refused us for a reason that retrying will not fix.
    Refused(String),
}

/// How the task tells a live relay from a dead link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Liveness {
    /// How often the task pings the relay.
    pub ping_interval: Duration,
    /// Silence from the relay for this long (not even a pong) means the link is
    /// dead, even if the operating system has not noticed (a laptop lid closed, a
    /// cable pulled).
    pub silence_limit: Duration,
}

impl Default for Liveness {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(5),
            silence_limit: Duration::from_secs(20),
        }
    }
}

/// Who connects where: everything the task needs for its hello.
#[derive(Clone, Debug)]
pub struct JoinRequest {
    /// The relay and room, `ws://HOST:PORT/ROOM`.
    pub url: String,
    /// The room, as in the URL's path.
    pub room: String,
    /// Our display name.
    pub name: String,
    /// Our cursor colour.
    pub color: Color,
    /// Our client id, the same across reconnects.
    pub client: ClientId,
    /// The last sequence number the board has applied.
    pub last_seen: u64,
    /// Ops the board applied that the relay has not acknowledged yet.
    pub unsent: Vec<Op>,
    /// Ping and silence timing.
    pub liveness: Liveness,
}

/// The UI's end of a network task. Dropping it ends the task, which closes the
/// connection politely.
pub struct Connection {
    /// Commands to the task; sending never blocks.
    commands: mpsc::UnboundedSender<Command>,
    /// Events from the task, drained each frame.
    events: std::sync::mpsc::Receiver<Event>,
}

/// The far end of a [`Connection::detached`] connection, standing in for the task
/// in tests.
pub struct Remote {
    /// What the UI sent.
    pub commands: mpsc::UnboundedReceiver<Command>,
    /// Events to hand the UI.
    pub events: std::sync::mpsc::Sender<Event>,
}

impl Connection {
    /// Starts the network task on `runtime`. `wake` is called after every event.
    pub fn spawn(
        runtime: &tokio::runtime::Handle,
        request: JoinRequest,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        let (command_tx, command_rx) = mpsc::unbounded_channel();
        let (event_tx, event_rx) = std::sync::mpsc::channel();
        let events = EventSink {
            tx: event_tx,
            wake: Arc::new(wake),
        };
        runtime.spawn(run(request, command_rx, events));
        Self {
            commands: command_tx,
            events: event_rx,
        }
    }

    /// A connection with no task behind it: the test holds the other end.
    #[must_use]
    pub fn detached() -> (Self, Remote) {
        let (command_tx, command_rx) = mpsc::unbounded_channel();
        let (event_tx, event_rx) = std::sync::mpsc::channel();
        (
            Self {
                commands: command_tx,
                events: event_rx,
            },
            Remote {
                commands: command_rx,
                events: event_tx,
            },
        )
    }

    /// Hands the task a command. If the task has ended, its last status event
    /// already said why, so there is nothing more to report here.
    pub fn send(&self, command: Command) {
        let _ended = self.commands.send(command).is_err();
    }

    /// The next event, if one has arrived.
    #[must_use]
    pub fn try_recv(&self) -> Option<Event> {
        self.events.try_recv().ok()
    }
}

/// Delivers events to the UI and wakes it.
struct EventSink {
    /// The UI's inbox.
    tx: std::sync::mpsc::Sender<Event>,
    /// Makes the UI run a frame to read the inbox.
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl EventSink {
    /// Sends an event; `false` once the UI has hung up.
    fn emit(&self, event: Event) -> bool {
        let delivered = self.tx.send(event).is_ok();
        (self.wake)();
        delivered
    }
}

/// What the task remembers across connections.
struct Delivery {
    /// Ops not yet acknowledged, in the order the UI made them.
    outbox: VecDeque<Op>,
    /// The last sequence number seen, sent in the hello of the next connection.
    last_seq: u64,
    /// The newest cursor position (`None`: off the canvas).
    cursor: Option<Point>,
    /// Whether `cursor` changed since it was last sent.
    cursor_unsent: bool,
}

impl Delivery {
    /// The op left the outbox: the relay has sequenced it.
    fn delivered(&mut self, op: OpId) {
        if let Some(i) = self.outbox.iter().position(|o| o.id == op) {
            self.outbox.remove(i);
        }
    }

    /// Remembers where the pointer is, to send at the next cursor tick.
    fn move_cursor(&mut self, position: Option<Point>) {
        self.cursor = position;
        self.cursor_unsent = true;
    }

    /// Takes a command that arrives while there is no connection; `false` to stop.
    fn queue(&mut self, command: Option<Command>) -> bool {
        match command {
            Some(Command::Send(op)) => self.outbox.push_back(op),
            Some(Command::Cursor(position)) => self.move_cursor(position),
            Some(Command::Leave) | None => return false,
        }
        true
    }
}

/// How one connection ended.
enum Ended {
    /// The UI asked to leave (or went away).
    Left,
    /// The relay refused us; retrying will not help.
    Refused(String),
    /// The connection was lost or could not be made; try again.
    Lost {
        /// Why, for the status line.
        reason: String,
        /// Whether we got as far as the welcome (resets the backoff).
        was_welcomed: bool,
    },
}

/// The task: connect, serve, and reconnect with backoff until told to leave.
async fn run(
    request: JoinRequest,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: EventSink,
) {
    let mut delivery = Delivery {
        outbox: request.unsent.iter().cloned().collect(),
        last_seq: request.last_seen,
        cursor: None,
        cursor_unsent: false,
    };
    let mut attempt = 0u32;
    if !events.emit(Event::Status(ConnectionStatus::Connecting)) {
        return;
    }
    loop {
        match connect_and_serve(&request, &mut delivery, &mut commands, &events).await {
            Ended::Left => {
                events.emit(Event::Status(ConnectionStatus::Offline));
                return;
            }
            Ended::Refused(reason) => {
                tracing::warn!(%reason, "the relay refused the connection");
                events.emit(Event::Status(ConnectionStatus::Refused(reason)));
                return;
            }
            Ended::Lost {
                reason,
                was_welcomed,
            } => {
                attempt = if was_welcomed { 1 } else { attempt + 1 };
                let retry_in = backoff(attempt, &request.client);
                tracing::info!(%reason, attempt, ?retry_in, "connection lost; reconnecting");
                let status = ConnectionStatus::Reconnecting {
                    attempt,
                    retry_in,
                    reason,
                };
                if !events.emit(Event::Status(status)) {
                    return;
                }
                let wake_at = Instant::now() + retry_in;
                loop {
                    tokio::select! {
                        () = tokio::time::sleep_until(wake_at) => break,
                        command = commands.recv() => {
                            if !delivery.queue(command) {
                                events.emit(Event::Status(ConnectionStatus::Offline));
                                return;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Exponential backoff with a little jitter (from the client id, so peers that
/// lost the same relay do not all knock at the same instant).
fn backoff(attempt: u32, client: &ClientId) -> Duration {
    let exponential = FIRST_BACKOFF.saturating_mul(1 << attempt.saturating_sub(1).min(10));
    let jitter_ms = u64::from(client.0.as_bytes()[0]) % 50;
    exponential.min(MAX_BACKOFF) + Duration::from_millis(jitter_ms)
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One connection: hello, welcome, resend, then live traffic until it ends.
async fn connect_and_serve(
    request: &JoinRequest,
    delivery: &mut Delivery,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    events: &EventSink,
) -> Ended {
    let lost = |reason: String| Ended::Lost {
        reason,
        was_welcomed: false,
    };
    let config = tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(tabula_shared::codec::MAX_FRAME_BYTES))
        .max_frame_size(Some(tabula_shared::codec::MAX_FRAME_BYTES));
    let connecting =
        tokio_tungstenite::connect_async_with_config(request.url.as_str(), Some(config), true);
    let mut socket = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok((socket, _response))) => socket,
        Ok(Err(tungstenite::Error::Http(response))) => {
            return Ended::Refused(format!(
                "the relay answered HTTP {} instead of opening a WebSocket",
                response.status()
            ));
        }
        Ok(Err(err)) => return lost(format!("could not connect: {err}")),
        Err(_) => return lost("the relay did not answer in time".to_owned()),
    };
    let hello = ClientMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        room: request.room.clone(),
        name: request.name.clone(),
        color: request.color,
        client: request.client,
        last_seen: delivery.last_seq,
        credentials: Credentials::default(),
    });
    if let Err(reason) = send(&mut socket, &hello).await {
        return lost(reason);
    }
    let welcome = match tokio::time::timeout(CONNECT_TIMEOUT, receive_message(&mut socket)).await {
        Ok(Ok(ServerMessage::Welcome(welcome))) => welcome,
        Ok(Ok(other)) => {
            return Ended::Refused(format!("the relay answered the hello with {other:?}"));
        }
        Ok(Err(ended)) => return ended,
        Err(_) => return lost("the relay did not welcome us in time".to_owned()),
    };
    tracing::info!(room = %welcome.room, head = welcome.head, replay_from = welcome.replay_from, "joined");
    // A relay that lost the room's history starts it over: so do we.
    delivery.last_seq = delivery.last_seq.min(welcome.replay_from);
    if !events.emit(Event::Welcome(welcome))
        || !events.emit(Event::Status(ConnectionStatus::Connected))
    {
        return Ended::Left;
    }
    let resend: Vec<_> = delivery.outbox.iter().cloned().collect();
    for op in resend {
        if let Err(reason) = feed(&mut socket, &ClientMessage::Op(op)).await {
            return Ended::Lost {
                reason,
                was_welcomed: true,
            };
        }
    }
    let ended = serve(&mut socket, request.liveness, delivery, commands, events).await;
    if let Ended::Left = ended {
        let goodbye = Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "left the room".into(),
        }));
        let _already_closed = tokio::time::timeout(WRITE_TIMEOUT, socket.send(goodbye)).await;
    }
    ended
}

/// Live traffic: relay messages in, commands out, pings and cursor updates.
async fn serve(
    socket: &mut Socket,
    liveness: Liveness,
    delivery: &mut Delivery,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    events: &EventSink,
) -> Ended {
    let lost = |reason: String| Ended::Lost {
        reason,
        was_welcomed: true,
    };
    if let Err(reason) = flush(socket).await {
        return lost(reason);
    }
    let mut ping = tokio::time::interval(liveness.ping_interval);
    let mut cursor = tokio::time::interval(CURSOR_INTERVAL);
    cursor.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            incoming = receive(socket) => {
                last_heard = Instant::now();
                let message = match incoming {
                    Ok(Some(message)) => message,
                    Ok(None) => continue,
                    Err(Ended::Lost { reason, .. }) => return lost(reason),
                    Err(ended) => return ended,
                };
                if let Err(reason) = deliver(message, delivery, events) {
                    return lost(reason);
                }
            }
            command = commands.recv() => {
                let result = match command {
                    Some(Command::Send(op)) => {
                        delivery.outbox.push_back(op.clone());
                        send(socket, &ClientMessage::Op(op)).await
                    }
                    Some(Command::Cursor(position)) => {
                        delivery.move_cursor(position);
                        Ok(())
                    }
                    Some(Command::Leave) | None => return Ended::Left,
                };
                if let Err(reason) = result {
                    return lost(reason);
                }
            }
            _ = cursor.tick(), if delivery.cursor_unsent => {
                delivery.cursor_unsent = false;
                if let Err(reason) = send(socket, &ClientMessage::Cursor(delivery.cursor)).await {
                    return lost(reason);
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > liveness.silence_limit {
                    return lost("the relay stopped answering".to_owned());
                }
                let ping = socket.send(Message::Ping(Vec::new().into()));
                if let Err(reason) = written(tokio::time::timeout(WRITE_TIMEOUT, ping).await) {
                    return lost(reason);
                }
            }
        }
    }
}

/// Applies one relay message to the delivery state and passes it to the UI.
/// An error means the relay broke the protocol: reconnect and resume.
fn deliver(
    message: ServerMessage,
    delivery: &mut Delivery,
    events: &EventSink,
) -> Result<(), String> {
    let event = match message {
        ServerMessage::Op(op) => {
            if !next_in_sequence(&mut delivery.last_seq, op.seq)? {
                return Ok(());
            }
            delivery.delivered(op.op.id);
            Event::Op(op)
        }
        ServerMessage::Ack {
            op,
            seq,
            timestamp_ms,
        } => {
            // An ack for an op we already saw in the catch-up is a duplicate.
            if !next_in_sequence(&mut delivery.last_seq, seq)? {
                return Ok(());
            }
            delivery.delivered(op);
            Event::Acked {
                op,
                seq,
                timestamp_ms,
            }
        }
        ServerMessage::PeerJoined(peer) => Event::PeerJoined(peer),
        ServerMessage::PeerLeft { client } => Event::PeerLeft(client),
        ServerMessage::Cursor { client, position } => Event::Cursor { client, position },
        ServerMessage::Error { code, message } => {
            tracing::warn!(?code, %message, "the relay refused a message");
            Event::RelayError(message)
        }
        ServerMessage::Welcome(_) => return Err("a second welcome on one connection".to_owned()),
    };
    events.emit(event);
    Ok(())
}

/// Advances `last_seq` to `seq` if it is the next one; `Ok(false)` for one already
/// seen, an error for a gap.
fn next_in_sequence(last_seq: &mut u64, seq: u64) -> Result<bool, String> {
    if seq <= *last_seq {
        return Ok(false);
    }
    if seq != *last_seq + 1 {
        return Err(format!(
            "the relay skipped from sequence number {last_seq} to {seq}"
        ));
    }
    *last_seq = seq;
    Ok(true)
}

/// The next frame from the relay: `Ok(None)` for a ping or pong (it still shows
/// the relay is alive), or how the connection ended.
async fn receive(socket: &mut Socket) -> Result<Option<ServerMessage>, Ended> {
    let lost = |reason: String| Ended::Lost {
        reason,
        was_welcomed: false,
    };
    let frame = match socket.next().await {
        Some(Ok(frame)) => frame,
        Some(Err(err)) => return Err(lost(format!("the connection failed: {err}"))),
        None => return Err(lost("the relay closed the connection".to_owned())),
    };
    match frame {
        Message::Binary(bytes) => tabula_shared::decode(&bytes).map(Some).map_err(|err| {
            Ended::Refused(format!(
                "the relay sent a frame this build cannot read: {err}"
            ))
        }),
        Message::Close(frame) => Err(closed_by_relay(frame)),
        Message::Text(_) => Err(Ended::Refused("the relay sent a text frame".to_owned())),
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(None),
    }
}

/// The next relay message, past any pings and pongs.
async fn receive_message(socket: &mut Socket) -> Result<ServerMessage, Ended> {
    loop {
        if let Some(message) = receive(socket).await? {
            return Ok(message);
        }
    }
}

/// Whether a close from the relay is worth retrying: a protocol mismatch is not;
/// a restart, a timeout or being cut off for reading too slowly is.
fn closed_by_relay(frame: Option<CloseFrame>) -> Ended {
    let Some(frame) = frame else {
        return Ended::Lost {
            reason: "the relay closed the connection".to_owned(),
            was_welcomed: false,
        };
    };
    let reason = if frame.reason.is_empty() {
        format!(
            "the relay closed the connection (code {})",
            u16::from(frame.code)
        )
    } else {
        format!("the relay closed the connection: {}", frame.reason)
    };
    match frame.code {
        CloseCode::Protocol | CloseCode::Unsupported | CloseCode::Invalid => Ended::Refused(reason),
        _ => Ended::Lost {
            reason,
            was_welcomed: false,
        },
    }
}

/// Encodes and sends one message, flushing it.
async fn send(socket: &mut Socket, message: &ClientMessage) -> Result<(), String> {
    feed(socket, message).await?;
    flush(socket).await
}

/// Encodes one message and queues it without flushing.
async fn feed(socket: &mut Socket, message: &ClientMessage) -> Result<(), String> {
    let frame = tabula_shared::encode(message).map_err(|err| err.to_string())?;
    written(tokio::time::timeout(WRITE_TIMEOUT, socket.feed(Message::Binary(frame.into()))).await)
}

/// Flushes queued frames to the relay.
async fn flush(socket: &mut Socket) -> Result<(), String> {
    written(tokio::time::timeout(WRITE_TIMEOUT, socket.flush()).await)
}

/// The outcome of a write bounded by [`WRITE_TIMEOUT`], as a reason to reconnect.
fn written(
    outcome: Result<Result<(), tungstenite::Error>, tokio::time::error::Elapsed>,
) -> Result<(), String> {
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(format!("could not send to the relay: {err}")),
        Err(_) => Err("the relay stopped reading".to_owned()),
    }
}
