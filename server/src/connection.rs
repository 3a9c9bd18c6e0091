//! One peer: its handshake, its hello, then reading, writing and heartbeats until
//! it leaves.
//!
//! Each connection is one task that owns its WebSocket outright (no split, no
//! lock). After the hello it joins a room and loops over whatever comes first:
//! a frame from the peer, frames the room queued for it, a heartbeat tick, a kick
//! from the room, or the relay shutting down. Whatever ends the loop is an
//! [`Exit`], logged once and turned into the right close frame.
//!
//! Bad input from one peer closes that peer only, with a close code and a reason
//! a person can read: 1007 for a frame that does not decode, 1002 for another
//! protocol version, 1003 for text frames, 1009 for oversized messages and 1008
//! for anything out of place before the hello. A hello naming a client id that
//! is someone else's (without that id's resume secret) is refused with 4403
//! before it joins: the member it names never hears of it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tabula_shared::{
    ClientMessage, DecodeError, ErrorCode, Hello, Op, PROTOCOL_VERSION, PeerInfo, Point, Proofs,
    ServerMessage, Welcome, decode, op::StrokeTally,
};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, broadcast, oneshot};
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep_until, timeout};
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tracing::{debug, error, info, trace};

use crate::access::{Failures, RelayPassword};
use crate::config::Config;
use crate::frame::encode_frame;
use crate::history::{self, CatchUp, Chunks};
use crate::http::{self, Ws};
use crate::limit::{AddressSlot, Addresses, Rates, Throttle};
use crate::room::handover::HostAnswer;
use crate::room::identities;
use crate::room::registry::{OpenError, Rooms};
use crate::room::{Bounds, CursorInbox, JoinRefused, Kick, Membership, Proposed, Queue, Room};
use crate::snapshots::RoomSnapshot;

/// How long the relay waits for its close frame to go out, and then for the
/// peer's reply (or for the peer to stop sending), before dropping the socket.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// The most queued frames written between two flushes.
const WRITE_BATCH: usize = 256;
/// The close code for a hello naming a client id that is someone else's (it
/// lacks that id's resume secret): the id is taken, and retrying with it
/// will not help.
pub const IDENTITY_REFUSED: u16 = 4403;
/// The close code for a missing or wrong password: retrying without another
/// password will not help.
pub const PASSWORD_REFUSED: u16 = 4401;
/// The WebSocket limit on a close reason, in bytes.
const MAX_CLOSE_REASON: usize = 123;
/// The longest display name passed on to the room, in bytes; longer ones are cut.
/// Every name is repeated in each welcome, so one must not be able to bloat them.
const MAX_NAME_BYTES: usize = 128;

/// What every connection task shares.
#[derive(Debug)]
pub struct Shared {
    /// The relay's settings.
    pub config: Config,
    /// The relay-wide password's verifier, when it has one: every hello
    /// must then answer a challenge with a proof of it.
    pub password: Option<RelayPassword>,
    /// Recent wrong and missing proofs by source address, to slow guessing.
    pub failures: Failures,
    /// Every room, so that peers naming the same room meet in it. In an `Arc` so
    /// that a room can be opened in `spawn_blocking`.
    pub rooms: Arc<Rooms>,
    /// What each source address has open, and the rooms it may still create.
    pub addresses: Arc<Addresses>,
}

/// Serves one accepted TCP connection until it is gone. Never fails: whatever goes
/// wrong is logged here, once, and ends only this connection.
pub async fn serve(
    stream: TcpStream,
    address: AddressSlot,
    shared: &Shared,
    mut shutdown: broadcast::Receiver<()>,
) {
    let config = &shared.config;
    let deadline = Instant::now() + config.handshake_timeout;
    let accepted = tokio::select! {
        accepted = http::accept(stream, config, deadline) => accepted,
        _ = shutdown.recv() => return,
    };
    let Some((mut ws, room_name)) = accepted else {
        return;
    };

    let hello = tokio::select! {
        hello = timeout(config.hello_timeout, read_hello(&mut ws)) => match hello {
            Ok(hello) => hello,
            Err(_) => Err(Exit::close(
                CloseCode::Policy,
                format!("no hello within {} s", config.hello_timeout.as_secs_f32()),
                After::AwaitReply,
            )),
        },
        _ = shutdown.recv() => Err(Exit::shutdown()),
    };
    let hello = match hello.and_then(|hello| check_hello(hello, &room_name)) {
        Ok(hello) => hello,
        Err(exit) => {
            if let Exit::Close(_) = exit {
                info!(%exit, "refused before joining");
            } else {
                debug!(%exit, "ended before joining");
            }
            finish(ws, &exit).await;
            return;
        }
    };

    if let Some(password) = &shared.password {
        let source = address.address();
        let proved = tokio::select! {
            proved = authenticate(&mut ws, password, &shared.failures, source, &hello, config) => proved,
            _ = shutdown.recv() => Err(Exit::shutdown()),
        };
        if let Err(exit) = proved {
            info!(%exit, "refused before joining");
            finish(ws, &exit).await;
            return;
        }
    }

    let span = tracing::Span::current();
    span.record("room", room_name.as_str());
    span.record("client", tracing::field::display(hello.client));
    // Opening a room may read its file, and so may checking the op the client
    // resumes from: off the tokio workers.
    let rooms = Arc::clone(&shared.rooms);
    let addresses = Arc::clone(&shared.addresses);
    let name = room_name.clone();
    let (last_seen, last_op) = (hello.last_seen, hello.last_op);
    let source = address.address();
    let opened = tokio::task::spawn_blocking(move || {
        rooms
            .open(&name, || addresses.create_room(source))
            .map(|room| {
                let resumes = last_op.is_some_and(|op| room.holds(last_seen, op));
                (room, resumes)
            })
    });
    let (room, resumes) = match opened.await {
        Ok(Ok(opened)) => opened,
        Ok(Err(err)) => {
            let exit = Exit::room_refused(err, &room_name, config);
            finish(ws, &exit).await;
            return;
        }
        Err(err) => {
            error!(%err, "opening the room failed");
            return;
        }
    };
    let client = hello.client;
    let membership = match enter(&room, hello, resumes, config, &room_name) {
        Ok(membership) => membership,
        Err(exit) => {
            finish(ws, &exit).await;
            return;
        }
    };

    let (mut peer, joined) = Peer::new(ws, &room, client, membership, config);
    let exit = peer.run(joined, &mut shutdown).await;
    room.leave(peer.client, peer.connection);
    info!(%exit, "left");
    finish(peer.ws, &exit).await;
}

/// Joins `room` as `hello` asks, or says why not: the room is full, or the
/// hello names a client id it may not be. Either refusal leaves the room as
/// it was.
fn enter(
    room: &Room,
    hello: Hello,
    resumes: bool,
    config: &Config,
    room_name: &str,
) -> Result<Membership, Exit> {
    let info = PeerInfo {
        client: hello.client,
        name: hello.name,
        color: hello.color,
    };
    let name = info.name.clone();
    let bounds = Bounds {
        frames: config.peer_queue_frames,
        bytes: config.peer_queue_bytes,
        unacked: config.max_unacked_ops,
    };
    let resume = hello.credentials.resume.as_ref();
    let membership = match room.try_join(
        info,
        resume,
        hello.last_seen,
        resumes,
        bounds,
        config.max_members,
    ) {
        Ok(membership) => membership,
        Err(JoinRefused::Full(full)) => return Err(Exit::room_full(room_name, full.members)),
        Err(JoinRefused::Identity(refused)) => {
            let exit = Exit::refused_identity(refused);
            info!(%exit, "refused before joining");
            return Err(exit);
        }
    };
    info!(
        %name,
        replay_from = membership.welcome.replay_from,
        head = membership.welcome.head,
        peers = membership.welcome.peers.len(),
        replaced = membership.replaced,
        "joined"
    );
    Ok(membership)
}

/// Asks the peer to prove the relay's password over a fresh nonce, after
/// waiting out the delay its address earned with earlier failures; a missing
/// or wrong proof closes with [`PASSWORD_REFUSED`] before any room data is
/// sent, and counts as one more failure.
async fn authenticate(
    ws: &mut Ws,
    password: &RelayPassword,
    failures: &Failures,
    source: std::net::IpAddr,
    hello: &Hello,
    config: &Config,
) -> Result<(), Exit> {
    let delay = failures.delay(source);
    if !delay.is_zero() {
        debug!(?delay, "slowing down an address after failed passwords");
        tokio::time::sleep(delay).await;
    }
    let unable = |reason: String| Exit::close(CloseCode::Error, reason, After::AwaitReply);
    let challenge = password
        .challenge()
        .map_err(|err| unable(err.to_string()))?;
    let nonce = challenge.nonce;
    let frame = encode_frame(&ServerMessage::Challenge(challenge))
        .map_err(|err| unable(err.to_string()))?;
    let limit = config.write_timeout;
    Exit::check_write(timeout(limit, ws.send(Message::Binary(frame))).await, limit)?;
    let proofs = match timeout(config.hello_timeout, read_proofs(ws)).await {
        Ok(proofs) => proofs?,
        Err(_) => {
            return Err(Exit::close(
                CloseCode::Policy,
                "no answer to the password challenge in time".to_owned(),
                After::AwaitReply,
            ));
        }
    };
    let proved = proofs
        .relay
        .is_some_and(|proof| password.accepts(&proof, &nonce, &hello.room, hello.client));
    if proved {
        failures.succeeded(source);
        return Ok(());
    }
    failures.failed(source);
    let reason = if proofs.relay.is_none() {
        "this relay needs a password"
    } else {
        "wrong password for this relay"
    };
    Err(Exit::close(
        CloseCode::Library(PASSWORD_REFUSED),
        reason.to_owned(),
        After::AwaitReply,
    ))
}

/// Reads until the next data message, which must answer the challenge.
async fn read_proofs(ws: &mut Ws) -> Result<Proofs, Exit> {
    match read_message(ws, "its proof").await? {
        ClientMessage::Authenticate(proofs) => Ok(proofs),
        _ => Err(Exit::close(
            CloseCode::Policy,
            "the answer to a password challenge must be Authenticate".into(),
            After::AwaitReply,
        )),
    }
}

/// Reads until the first data message, which must be a hello.
async fn read_hello(ws: &mut Ws) -> Result<Hello, Exit> {
    match read_message(ws, "the hello").await? {
        ClientMessage::Hello(hello) => Ok(hello),
        _ => Err(Exit::close(
            CloseCode::Policy,
            "the first message must be a hello".into(),
            After::AwaitReply,
        )),
    }
}

/// Reads until the next data message of the handshake (`awaited`, for the
/// reason if the connection ends first) and decodes it; pings and pongs
/// pass.
async fn read_message(ws: &mut Ws, awaited: &str) -> Result<ClientMessage, Exit> {
    loop {
        let frame = match ws.next().await {
            None => {
                return Err(Exit::Lost(format!("the connection ended before {awaited}")));
            }
            Some(Err(err)) => return Err(Exit::from_ws_error(err)),
            Some(Ok(Message::Binary(frame))) => frame,
            Some(Ok(Message::Text(_))) => return Err(Exit::text_frame()),
            Some(Ok(Message::Close(frame))) => return Err(Exit::PeerClosed(frame)),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
        };
        return decode::<ClientMessage>(&frame).map_err(|err| Exit::from_decode_error(&err));
    }
}

/// Checks that a hello speaks our protocol and names the room of the URL, and
/// trims an overlong name.
fn check_hello(mut hello: Hello, room: &str) -> Result<Hello, Exit> {
    if hello.protocol != PROTOCOL_VERSION {
        return Err(Exit::close(
            CloseCode::Protocol,
            format!(
                "protocol version {} is not supported: this relay speaks version {PROTOCOL_VERSION}",
                hello.protocol
            ),
            After::AwaitReply,
        ));
    }
    // The URL's room is folded to lower case; the hello's may not be.
    if !hello.room.eq_ignore_ascii_case(room) {
        return Err(Exit::close(
            CloseCode::Policy,
            format!(
                "the hello names room {:?} but the URL names room {room:?}",
                hello.room
            ),
            After::AwaitReply,
        ));
    }
    if hello.name.len() > MAX_NAME_BYTES {
        let cut = floor_char_boundary(&hello.name, MAX_NAME_BYTES);
        hello.name.truncate(cut);
    }
    Ok(hello)
}

/// A peer that has joined a room.
struct Peer<'a> {
    /// The socket, owned by this task alone.
    ws: Ws,
    /// The room it joined, to sequence its ops and relay its cursor.
    room: &'a Room,
    /// Who it is.
    client: tabula_shared::ClientId,
    /// Which membership of that client this is, so leaving cannot remove a newer one.
    connection: u64,
    /// Frames the room has for this peer, in room order.
    queue: Queue,
    /// The others' latest cursors, written apart from the queue.
    cursors: Arc<CursorInbox>,
    /// One permit per op this peer may still propose before one is acked.
    credit: Arc<Semaphore>,
    /// Fires when the room cuts this peer off.
    kick: oneshot::Receiver<Kick>,
    /// The history this peer asked for, while it is being sent.
    history: Option<Chunks>,
    /// The points of the strokes it has open, to refuse one grown past the
    /// cap.
    strokes: StrokeTally,
    /// Timeouts, heartbeat settings and limits.
    config: &'a Config,
    /// The peer's rates, and until when reading pauses for them.
    throttle: Throttle,
    /// An op read while the peer had no credit left, proposed (and reading
    /// resumed) once an ack gives some back.
    held: Option<Op>,
    /// This peer's own cursor, passed on at most once per cursor interval.
    cursor: OwnCursor,
}

/// A peer's own cursor on its way to the room, coalesced: at most one
/// position per [`Config::cursor_interval`], the latest.
struct OwnCursor {
    /// Whether a position waits to be passed on.
    pending: bool,
    /// The latest position (`None`: off the canvas).
    position: Option<Point>,
    /// The earliest time the next one may go.
    next: Instant,
}

/// What a peer is sent first: the welcome, the snapshot it announces, the ops.
struct Joined {
    /// The room's welcome.
    welcome: Welcome,
    /// The others the welcome had no room for, announced right after it.
    more_peers: Vec<PeerInfo>,
    /// The board the welcome says follows it, if it says so.
    snapshot: Option<Arc<RoomSnapshot>>,
    /// The ops after the welcome's `replay_from` up to its `head`.
    catch_up: CatchUp,
}

impl<'a> Peer<'a> {
    /// A peer that has joined `room` as `membership` says, and what it is to
    /// be sent first.
    fn new(
        ws: Ws,
        room: &'a Room,
        client: tabula_shared::ClientId,
        membership: Membership,
        config: &'a Config,
    ) -> (Self, Joined) {
        let peer = Peer {
            ws,
            room,
            client,
            connection: membership.connection,
            queue: membership.queue,
            cursors: membership.cursors,
            credit: membership.credit,
            kick: membership.kick,
            history: None,
            strokes: StrokeTally::default(),
            config,
            throttle: Throttle::new(Rates {
                messages_per_sec: f64::from(config.messages_per_sec),
                messages_burst: f64::from(config.messages_burst),
                bytes_per_sec: f64::from(config.bytes_per_sec),
                bytes_burst: f64::from(config.bytes_burst),
            }),
            held: None,
            cursor: OwnCursor {
                pending: false,
                position: None,
                next: Instant::now(),
            },
        };
        let joined = Joined {
            welcome: membership.welcome,
            more_peers: membership.more_peers,
            snapshot: membership.snapshot,
            catch_up: membership.catch_up,
        };
        (peer, joined)
    }

    /// Sends the welcome and catch-up, then serves the peer until something ends
    /// the connection, and says what.
    async fn run(&mut self, joined: Joined, shutdown: &mut broadcast::Receiver<()>) -> Exit {
        let sent = tokio::select! {
            biased;
            kick = &mut self.kick => Err(Exit::kicked(kick.ok())),
            _ = shutdown.recv() => Err(Exit::shutdown()),
            sent = send_catch_up(&mut self.ws, joined, self.config) => sent,
        };
        if let Err(exit) = sent {
            return exit;
        }

        let period = self.config.heartbeat_interval;
        let mut heartbeat = interval_at(Instant::now() + period, period);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        loop {
            // Reading pauses while the peer is over its rates, or has as many
            // ops waiting for acks as it may: TCP then pushes back on it.
            let reading = self.held.is_none() && self.throttle.until.is_none();
            if !reading {
                // A peer the relay does not read cannot be heard.
                last_heard = Instant::now();
            }
            let credit = Arc::clone(&self.credit);
            let step = tokio::select! {
                kick = &mut self.kick => Err(Exit::kicked(kick.ok())),
                _ = shutdown.recv() => Err(Exit::shutdown()),
                _ = heartbeat.tick() => self.heartbeat(last_heard).await,
                message = self.ws.next(), if reading => {
                    last_heard = Instant::now();
                    self.receive(message).await
                }
                () = until(self.throttle.until) => {
                    self.throttle.until = None;
                    self.ws.get_mut().restart();
                    Ok(())
                }
                permit = credit.acquire(), if self.held.is_some() => {
                    self.ws.get_mut().restart();
                    if let (Ok(permit), Some(op)) = (permit, self.held.take()) {
                        permit.forget();
                        self.propose(op)
                    } else {
                        Ok(())
                    }
                }
                () = until(Some(self.cursor.next)), if self.cursor.pending => {
                    self.pass_cursor_on();
                    Ok(())
                }
                frame = self.queue.recv() => match frame {
                    Some(frame) => self.forward(frame, shutdown).await,
                    // The room dropped the queue, which it does only right after a kick.
                    None => Err(Exit::kicked(self.kick.try_recv().ok())),
                },
                cursors = self.cursors.take() => self.write_cursors(cursors).await,
                chunk = history::next_of(&mut self.history) => self.send_history(chunk).await,
            };
            if let Err(exit) = step {
                return exit;
            }
        }
    }

    /// Writes a batch of queued frames: this one and whatever else is waiting, up
    /// to [`WRITE_BATCH`], then one flush. Gives up when the room kicks the peer,
    /// the relay shuts down, or the batch takes longer than the write timeout.
    async fn forward(
        &mut self,
        first: Bytes,
        shutdown: &mut broadcast::Receiver<()>,
    ) -> Result<(), Exit> {
        let limit = self.config.write_timeout;
        let (ws, queue, kick) = (&mut self.ws, &mut self.queue, &mut self.kick);
        let write = async {
            ws.feed(Message::Binary(first)).await?;
            let mut frames = 1;
            while frames < WRITE_BATCH {
                let Ok(frame) = queue.try_recv() else {
                    break;
                };
                ws.feed(Message::Binary(frame)).await?;
                frames += 1;
            }
            ws.flush().await?;
            trace!(frames, "forwarded");
            Ok(())
        };
        tokio::select! {
            biased;
            kick = kick => Err(Exit::kicked(kick.ok())),
            _ = shutdown.recv() => Err(Exit::shutdown()),
            written = timeout(limit, write) => Exit::check_write(written, limit),
        }
    }

    /// Writes the others' latest cursors, one per sender.
    async fn write_cursors(&mut self, cursors: Vec<Bytes>) -> Result<(), Exit> {
        let limit = self.config.write_timeout;
        let ws = &mut self.ws;
        let write = async {
            for frame in cursors {
                ws.feed(Message::Binary(frame)).await?;
            }
            ws.flush().await
        };
        Exit::check_write(timeout(limit, write).await, limit)
    }

    /// Passes this peer's latest cursor on to the room, and notes when the
    /// next may go.
    fn pass_cursor_on(&mut self) {
        if std::mem::take(&mut self.cursor.pending) {
            self.room
                .cursor(self.client, self.connection, self.cursor.position);
            self.cursor.next = Instant::now() + self.config.cursor_interval;
        }
    }

    /// Hands an op to the room, which acks it (or refuses it) once it is
    /// stored; the permit it took from the peer's credit comes back then.
    fn propose(&mut self, op: Op) -> Result<(), Exit> {
        let id = op.id;
        match self.room.propose(self.client, self.connection, op) {
            Proposed::Queued => {
                trace!(op = %id, "proposed");
                Ok(())
            }
            // Cut off a moment ago; the kick ends the loop next.
            Proposed::NotMember => Ok(()),
            Proposed::WriterGone => Err(Exit::close(
                CloseCode::Error,
                "the relay can no longer store ops in this room".to_owned(),
                After::AwaitReply,
            )),
        }
    }

    /// Writes the next chunk of the history the peer asked for; at its end, makes
    /// way for another request.
    async fn send_history(
        &mut self,
        chunk: Option<Result<Vec<Bytes>, String>>,
    ) -> Result<(), Exit> {
        let frames = match chunk {
            None => {
                trace!("sent the history asked for");
                self.history = None;
                return Ok(());
            }
            Some(Ok(frames)) => frames,
            Some(Err(reason)) => return Err(Exit::unreadable_history(&reason)),
        };
        let limit = self.config.write_timeout;
        let ws = &mut self.ws;
        let write = async {
            for frame in frames {
                ws.feed(Message::Binary(frame)).await?;
            }
            ws.flush().await
        };
        Exit::check_write(timeout(limit, write).await, limit)
    }

    /// Handles one thing read from the socket.
    async fn receive(&mut self, message: Option<Result<Message, WsError>>) -> Result<(), Exit> {
        match message {
            None => Err(Exit::Lost(
                "the connection ended without a close frame".into(),
            )),
            Some(Err(err)) => Err(Exit::from_ws_error(err)),
            Some(Ok(Message::Binary(frame))) => self.receive_frame(&frame).await,
            Some(Ok(Message::Text(_))) => Err(Exit::text_frame()),
            Some(Ok(Message::Close(frame))) => Err(Exit::PeerClosed(frame)),
            // tungstenite answers pings itself; a pong only proves the peer is alive.
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => Ok(()),
        }
    }

    /// Handles one binary frame from the peer.
    async fn receive_frame(&mut self, frame: &[u8]) -> Result<(), Exit> {
        self.throttle.count(frame.len());
        match decode::<ClientMessage>(frame).map_err(|err| Exit::from_decode_error(&err))? {
            ClientMessage::Op(op) => {
                if let Some(reason) = refusal(&op, &mut self.strokes) {
                    debug!(op = %op.id, %reason, "refused an op");
                    return self.reply_error(ErrorCode::InvalidOp, reason).await;
                }
                // The ack (or a refusal) comes back through the queue once the
                // room's writer has stored the op, and with it the credit.
                if self
                    .credit
                    .try_acquire()
                    .map(tokio::sync::SemaphorePermit::forget)
                    .is_ok()
                {
                    self.propose(op)
                } else {
                    trace!(op = %op.id, "as many ops as allowed await their acks: reading pauses");
                    self.held = Some(op);
                    Ok(())
                }
            }
            ClientMessage::Cursor(position) => {
                if position.is_some_and(|p| !p.is_finite()) {
                    trace!("dropped a cursor that is not a finite point");
                } else {
                    trace!("cursor");
                    self.cursor.pending = true;
                    self.cursor.position = position;
                    if Instant::now() >= self.cursor.next {
                        self.pass_cursor_on();
                    }
                }
                Ok(())
            }
            ClientMessage::FetchHistory { after, up_to } => {
                if self.history.is_some() {
                    return self
                        .reply_error(
                            ErrorCode::InvalidRequest,
                            "the history asked for before is still being sent".to_owned(),
                        )
                        .await;
                }
                let Some(stretch) = self.room.history(after, up_to) else {
                    let head = self.room.head();
                    return self
                        .reply_error(
                            ErrorCode::InvalidRequest,
                            format!(
                                "the room holds no ops after {after} up to {up_to} (its latest is {head})"
                            ),
                        )
                        .await;
                };
                debug!(after, up_to, "sending the history asked for");
                self.history = Some(history::stream(stretch, self.config.history_bytes));
                Ok(())
            }
            ClientMessage::Hosting { urls } => self.answer_host(HostAnswer::Hosting(urls)).await,
            ClientMessage::CannotHost { reason } => {
                self.answer_host(HostAnswer::Cannot(reason)).await
            }
            ClientMessage::Hello(_) => {
                self.reply_error(
                    ErrorCode::UnexpectedMessage,
                    "this connection has already said hello".to_owned(),
                )
                .await
            }
            ClientMessage::Authenticate(_) => {
                self.reply_error(
                    ErrorCode::UnexpectedMessage,
                    "nothing asked this connection to authenticate".to_owned(),
                )
                .await
            }
        }
    }

    /// Passes the peer's answer to a [`ServerMessage::TakeOver`] to the room,
    /// or tells the peer nobody asked.
    async fn answer_host(&mut self, answer: HostAnswer) -> Result<(), Exit> {
        debug!(?answer, "answered whether it takes the room over");
        if self.room.answer_host(self.client, self.connection, answer) {
            return Ok(());
        }
        self.reply_error(
            ErrorCode::UnexpectedMessage,
            "nobody asked this client to take the room over".to_owned(),
        )
        .await
    }

    /// Tells the peer that something it sent was refused; the connection stays.
    async fn reply_error(&mut self, code: ErrorCode, message: String) -> Result<(), Exit> {
        let frame = encode_frame(&ServerMessage::Error { code, message })
            .map_err(|err| Exit::Lost(format!("could not encode an error reply: {err}")))?;
        let limit = self.config.write_timeout;
        Exit::check_write(
            timeout(limit, self.ws.send(Message::Binary(frame))).await,
            limit,
        )
    }

    /// On each tick: gives up on a peer not heard from for the heartbeat timeout,
    /// and pings one that has been quiet, so that a live peer answers.
    async fn heartbeat(&mut self, last_heard: Instant) -> Result<(), Exit> {
        let quiet = last_heard.elapsed();
        if quiet >= self.config.heartbeat_timeout {
            return Err(Exit::close(
                CloseCode::Away,
                format!(
                    "heartbeat timeout: nothing heard for {:.1} s",
                    quiet.as_secs_f32()
                ),
                After::Abandon,
            ));
        }
        if quiet >= self.config.heartbeat_interval / 2 {
            trace!("ping");
            let limit = self.config.write_timeout;
            return Exit::check_write(
                timeout(limit, self.ws.send(Message::Ping(Bytes::new()))).await,
                limit,
            );
        }
        Ok(())
    }
}

/// Writes the welcome, the snapshot and the catch-up frames straight to the
/// socket (not through the bounded queue, which only carries live frames), then
/// flushes once. The catch-up is read from the room's log a chunk at a time,
/// off the tokio workers; each write has the write timeout: a long catch-up to a
/// slow peer is fine as long as it keeps moving.
async fn send_catch_up(ws: &mut Ws, joined: Joined, config: &Config) -> Result<(), Exit> {
    let limit = config.write_timeout;
    let Joined {
        welcome,
        more_peers,
        snapshot,
        mut catch_up,
    } = joined;
    let unencodable = |what: &str, err: tabula_shared::EncodeError| {
        Exit::close(
            CloseCode::Error,
            format!("the {what} cannot be encoded: {err}"),
            After::AwaitReply,
        )
    };
    let parts = welcome.snapshot.map_or(0, |header| header.parts);
    let welcome = encode_frame(&ServerMessage::Welcome(welcome))
        .map_err(|err| unencodable("welcome", err))?;
    let frames = catch_up.remaining();
    Exit::check_write(
        timeout(limit, ws.feed(Message::Binary(welcome))).await,
        limit,
    )?;
    if let Some(snapshot) = snapshot {
        for index in 0..parts as usize {
            let part = snapshot
                .part(index)
                .map_err(|err| unencodable("snapshot", err))?;
            Exit::check_write(timeout(limit, ws.feed(Message::Binary(part))).await, limit)?;
        }
    }
    for peer in more_peers {
        let joined = encode_frame(&ServerMessage::PeerJoined(peer))
            .map_err(|err| unencodable("peer list", err))?;
        Exit::check_write(
            timeout(limit, ws.feed(Message::Binary(joined))).await,
            limit,
        )?;
    }
    loop {
        let batch = match history::next_chunk(catch_up, config.history_bytes).await {
            Ok((rest, Some(batch))) => {
                catch_up = rest;
                batch
            }
            Ok((_, None)) => break,
            Err(reason) => return Err(Exit::unreadable_history(&reason)),
        };
        let feed = async {
            for frame in batch {
                ws.feed(Message::Binary(frame)).await?;
            }
            Ok(())
        };
        Exit::check_write(timeout(limit, feed).await, limit)?;
    }
    Exit::check_write(timeout(limit, ws.flush()).await, limit)?;
    trace!(frames, "sent the welcome and the catch-up");
    Ok(())
}

/// Completes at `at`, or never for `None`: a timer that can sit in a
/// `select!` whether or not it is set.
async fn until(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Why a connection ends.
#[derive(Debug)]
enum Exit {
    /// The peer sent a close frame; tungstenite has queued the reply.
    PeerClosed(Option<CloseFrame>),
    /// The connection broke or stalled; nothing more can usefully be sent.
    Lost(String),
    /// The relay closes the connection.
    Close(Closing),
}

/// A close the relay initiates.
#[derive(Debug)]
struct Closing {
    /// The WebSocket close code.
    code: CloseCode,
    /// Why, for a person; cut to the WebSocket limit when sent.
    reason: String,
    /// What to do once the close frame is out.
    after: After,
}

/// What to do after sending a close frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum After {
    /// Keep reading until the peer's close reply or the end of the stream.
    AwaitReply,
    /// The WebSocket stream can no longer be read (it failed mid-frame): shut down
    /// the write half of the socket and discard what the peer still sends, so
    /// that the close frame is not lost to a reset.
    Drain,
    /// The peer is not reading; do not wait for it.
    Abandon,
}

impl Exit {
    /// The relay closes with `code`.
    fn close(code: CloseCode, reason: String, after: After) -> Self {
        Self::Close(Closing {
            code,
            reason,
            after,
        })
    }

    /// The room could not be opened for the peer: `err` says why.
    fn room_refused(err: OpenError, room: &str, config: &Config) -> Self {
        match err {
            OpenError::Store(err) => {
                error!(%err, "could not open the room");
                Self::close(
                    CloseCode::Error,
                    // The details (a path on the relay's disk) are for its log only.
                    format!("the relay could not open room {room}; its log says why"),
                    After::AwaitReply,
                )
            }
            OpenError::TooManyRooms { open } => {
                info!(open, "refused a room: the relay has as many open as it may");
                Self::close(
                    CloseCode::Again,
                    format!(
                        "the relay has {open} rooms open, as many as it allows: try again later"
                    ),
                    After::AwaitReply,
                )
            }
            OpenError::TooManyNew => {
                info!("refused a new room: this address created too many this minute");
                Self::close(
                    CloseCode::Again,
                    format!(
                        "this address created {} new rooms in the last minute, as many as the relay allows: wait a minute",
                        config.new_rooms_per_minute
                    ),
                    After::AwaitReply,
                )
            }
        }
    }

    /// The room has as many members as it may.
    fn room_full(room: &str, members: usize) -> Self {
        info!(members, "refused: the room is full");
        Self::close(
            CloseCode::Again,
            format!("room {room} is full: {members} people are in it, as many as the relay allows"),
            After::AwaitReply,
        )
    }

    /// The relay is shutting down.
    /// The room's log could not be read for a catch-up or a history request.
    fn unreadable_history(reason: &str) -> Self {
        error!(%reason, "could not read the room's history");
        Exit::close(
            CloseCode::Error,
            format!("the relay could not read the room's history: {reason}"),
            After::AwaitReply,
        )
    }

    fn shutdown() -> Self {
        Self::close(
            CloseCode::Away,
            "the relay is shutting down".to_owned(),
            After::AwaitReply,
        )
    }

    /// The hello named a client id it may not be (close 4403), or no
    /// secret could be made for it (1011).
    fn refused_identity(refused: identities::Refused) -> Self {
        let code = match refused {
            identities::Refused::Impostor(_) => CloseCode::Library(IDENTITY_REFUSED),
            identities::Refused::NoRandom => CloseCode::Error,
        };
        Self::close(code, refused.to_string(), After::AwaitReply)
    }

    /// The peer sent a text frame.
    fn text_frame() -> Self {
        Self::close(
            CloseCode::Unsupported,
            "Tabula speaks binary frames only".to_owned(),
            After::AwaitReply,
        )
    }

    /// The room cut the peer off; `None` if it did so without saying why.
    fn kicked(kick: Option<Kick>) -> Self {
        match kick {
            Some(Kick::Overflow) => Self::close(
                CloseCode::Policy,
                "outgoing queue overflow: this peer reads too slowly".to_owned(),
                After::Abandon,
            ),
            Some(Kick::Replaced) => Self::close(
                CloseCode::Policy,
                "replaced by a newer connection of the same client".to_owned(),
                After::AwaitReply,
            ),
            Some(Kick::Storage) => Self::close(
                CloseCode::Error,
                "the relay could not store an op: reconnect and send it again".to_owned(),
                After::AwaitReply,
            ),
            None => Self::Lost("removed from the room".to_owned()),
        }
    }

    /// A frame that does not decode.
    fn from_decode_error(err: &DecodeError) -> Self {
        let code = match err {
            DecodeError::UnsupportedVersion { .. } => CloseCode::Protocol,
            DecodeError::TooLarge { .. } => CloseCode::Size,
            _ => CloseCode::Invalid,
        };
        Self::close(code, err.to_string(), After::AwaitReply)
    }

    /// A failed read. After any error tungstenite's stream cannot be read again.
    fn from_ws_error(err: WsError) -> Self {
        match err {
            WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => Self::close(
                CloseCode::Size,
                format!("a message of {size} bytes is over the {max_size}-byte limit"),
                After::Drain,
            ),
            WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                Self::Lost("the peer went away without a close frame".to_owned())
            }
            WsError::Protocol(err) => {
                Self::close(CloseCode::Protocol, err.to_string(), After::Drain)
            }
            WsError::Utf8(_) => Self::close(
                CloseCode::Invalid,
                "a text or close frame is not valid UTF-8".to_owned(),
                After::Drain,
            ),
            WsError::Io(err)
                if err.get_ref().is_some_and(
                    <dyn std::error::Error + Send + Sync>::is::<crate::deadline::MessageTooSlow>,
                ) =>
            {
                Self::close(CloseCode::Policy, err.to_string(), After::Drain)
            }
            err => Self::Lost(err.to_string()),
        }
    }

    /// Turns the outcome of a write with a timeout into an `Exit` when it failed.
    fn check_write(
        written: Result<Result<(), WsError>, tokio::time::error::Elapsed>,
        limit: Duration,
    ) -> Result<(), Self> {
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(Self::Lost(err.to_string())),
            Err(_) => Err(Self::Lost(format!(
                "nothing could be written for {} s",
                limit.as_secs_f32()
            ))),
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PeerClosed(Some(frame)) => {
                write!(f, "closed by the peer ({} {})", frame.code, frame.reason)
            }
            Self::PeerClosed(None) => f.write_str("closed by the peer"),
            Self::Lost(why) => write!(f, "connection lost: {why}"),
            Self::Close(closing) => write!(f, "closed with {}: {}", closing.code, closing.reason),
        }
    }
}

/// Carries out an exit: completes the peer's close, or sends ours and makes sure
/// it can arrive, all within a bounded time. Logs nothing; the caller did.
async fn finish(mut ws: Ws, exit: &Exit) {
    let closing = match exit {
        Exit::PeerClosed(_) => {
            // Flushes the close reply tungstenite queued, then ends the stream.
            let _ = timeout(CLOSE_GRACE, SinkExt::close(&mut ws)).await;
            return;
        }
        Exit::Lost(_) => return,
        Exit::Close(closing) => closing,
    };
    let frame = CloseFrame {
        code: closing.code,
        reason: truncate(&closing.reason, MAX_CLOSE_REASON).into(),
    };
    let sent = timeout(CLOSE_GRACE, ws.send(Message::Close(Some(frame)))).await;
    if !matches!(sent, Ok(Ok(()))) {
        trace!("the close frame could not be sent");
        return;
    }
    match closing.after {
        After::AwaitReply => {
            let _ = timeout(CLOSE_GRACE, async {
                while let Some(Ok(_)) = ws.next().await {}
            })
            .await;
        }
        After::Drain => http::shutdown_and_drain(ws.get_mut(), CLOSE_GRACE).await,
        After::Abandon => {}
    }
}

/// Why the relay will not sequence an op from a client, if it will not:
/// beyond the caps every peer enforces ([`tabula_shared::caps`]), or a join
/// or leave, which only the relay records.
fn refusal(op: &Op, strokes: &mut StrokeTally) -> Option<String> {
    if let Err(malformed) = strokes.admit(op) {
        Some(format!("op {}: {malformed}", op.id))
    } else if op.kind.is_presence() {
        Some(format!(
            "op {}: only the relay records joins and leaves",
            op.id
        ))
    } else {
        None
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    &text[..floor_char_boundary(text, max)]
}

/// The largest character boundary in `text` at or below `index`.
fn floor_char_boundary(text: &str, index: usize) -> usize {
    if index >= text.len() {
        return text.len();
    }
    (0..=index)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate("hello", 123), "hello");
        assert_eq!(truncate("hello", 3), "hel");
        // 'é' is two bytes: cutting inside it keeps the character out.
        assert_eq!(truncate("aé", 2), "a");
        assert!(truncate(&"é".repeat(100), MAX_CLOSE_REASON).len() <= MAX_CLOSE_REASON);
    }

    #[test]
    fn decode_errors_map_to_close_codes() {
        let code = |err: DecodeError| match Exit::from_decode_error(&err) {
            Exit::Close(closing) => u16::from(closing.code),
            other => panic!("expected a close, got {other:?}"),
        };
        assert_eq!(code(DecodeError::BadMagic), 1007);
        assert_eq!(code(DecodeError::UnsupportedVersion { found: 9 }), 1002);
        assert_eq!(code(DecodeError::TooLarge { len: 1 << 21 }), 1009);
    }
}
