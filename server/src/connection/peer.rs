//! A peer that has joined a room: its loop over frames, queued frames, heartbeats
//! and kicks; the catch-up it is sent first; the ops the relay will not sequence.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tabula_shared::blob::{BlobChunk, BlobId};
use tabula_shared::{
    ClientMessage, ErrorCode, Moderation, Op, OpId, OpKind, Presence, ServerMessage, Welcome,
    decode, op::StrokeTally,
};
use tokio::sync::{Semaphore, broadcast, oneshot};
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep_until, timeout};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tracing::{debug, trace, warn};

use crate::blobs::{Received, Upload};
use crate::config::Config;
use crate::frame::encode_frame;
use crate::history::{self, CatchUp, Chunks};
use crate::http::Ws;
use crate::limit::{Rates, Throttle};
use crate::room::handover::HostAnswer;
use crate::room::{Kick, Membership, ModerationRefused, PresenceInbox, Proposed, Queue, Room};
use crate::snapshots::RoomSnapshot;

use super::exit::{After, Exit};
use super::runs::Run;

/// The most queued frames written between two flushes.
const WRITE_BATCH: usize = 256;

/// A peer that has joined a room.
pub(super) struct Peer<'a> {
    /// The socket, owned by this task alone.
    pub(super) ws: Ws,
    /// The room it joined, to sequence its ops and relay its presence.
    room: Arc<Room>,
    /// Who it is.
    pub(super) client: tabula_shared::ClientId,
    /// Which membership of that client this is, so leaving cannot remove a newer one.
    pub(super) connection: u64,
    /// Frames the room has for this peer, in room order.
    queue: Queue,
    /// The others' latest presence, written apart from the queue.
    presences: Arc<PresenceInbox>,
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
    /// This peer's own presence, passed on at most once per cursor interval.
    presence: OwnPresence,
    /// The picture it is uploading, part by part.
    upload: Upload,
}

/// A peer's own presence on its way to the room, coalesced: at most one
/// update per [`Config::cursor_interval`], the latest (with the laser points
/// of those it replaced).
struct OwnPresence {
    /// The update waiting to be passed on, with those that came after it
    /// absorbed.
    pending: Option<Presence>,
    /// What was passed on last, without its laser: what a bare cursor move
    /// (`ClientMessage::Cursor`) changes.
    shown: Presence,
    /// The earliest time the next one may go.
    next: Instant,
}

impl OwnPresence {
    /// Takes in an update from the peer.
    fn note(&mut self, update: Presence) {
        match &mut self.pending {
            Some(pending) => pending.absorb(update),
            None => self.pending = Some(update),
        }
    }

    /// What the peer shows now, without its laser.
    fn current(&self) -> Presence {
        self.pending
            .as_ref()
            .map_or_else(|| self.shown.clone(), Presence::lasting)
    }
}

/// What a peer is sent first: the welcome, the snapshot it announces, the ops.
pub(super) struct Joined {
    /// The room's welcome.
    welcome: Welcome,
    /// The others the welcome had no room for, announced right after it in
    /// `Peers` messages.
    more_peers: Vec<ServerMessage>,
    /// The board the welcome says follows it, if it says so.
    snapshot: Option<Arc<RoomSnapshot>>,
    /// The ops after the welcome's `replay_from` up to its `head`.
    catch_up: CatchUp,
}

impl<'a> Peer<'a> {
    /// A peer that has joined `room` as `membership` says, and what it is to
    /// be sent first.
    pub(super) fn new(
        ws: Ws,
        room: Arc<Room>,
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
            presences: membership.presences,
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
            presence: OwnPresence {
                pending: None,
                shown: Presence::default(),
                next: Instant::now(),
            },
            upload: Upload::default(),
        };
        let mut welcome = membership.welcome;
        welcome.max_blob_bytes = config.max_blob_bytes;
        let joined = Joined {
            welcome,
            more_peers: membership.more_peers,
            snapshot: membership.snapshot,
            catch_up: membership.catch_up,
        };
        (peer, joined)
    }

    /// Sends the welcome and catch-up, then serves the peer until something ends
    /// the connection, and says what.
    pub(super) async fn run(
        &mut self,
        joined: Joined,
        shutdown: &mut broadcast::Receiver<()>,
    ) -> Exit {
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
                () = until(Some(self.presence.next)), if self.presence.pending.is_some() => {
                    self.pass_presence_on();
                    Ok(())
                }
                frame = self.queue.recv() => match frame {
                    Some(frame) => self.forward(frame, shutdown).await,
                    // The room dropped the queue, which it does only right after a kick.
                    None => Err(Exit::kicked(self.kick.try_recv().ok())),
                },
                presences = self.presences.take() => self.write_presences(presences).await,
                chunk = history::next_of(&mut self.history) => self.send_history(chunk).await,
            };
            if let Err(exit) = step {
                return exit;
            }
        }
    }

    /// Writes a batch of queued frames: this one and whatever else is waiting, up
    /// to [`WRITE_BATCH`], flushed in runs of a few KiB ([`Run`]). Gives up when the room kicks the peer,
    /// the relay shuts down, or the batch takes longer than the write timeout.
    async fn forward(
        &mut self,
        first: Bytes,
        shutdown: &mut broadcast::Receiver<()>,
    ) -> Result<(), Exit> {
        let limit = self.config.write_timeout;
        let (ws, queue, kick) = (&mut self.ws, &mut self.queue, &mut self.kick);
        let write = async {
            let mut run = Run::default();
            run.feed(ws, first).await?;
            let mut frames = 1;
            while frames < WRITE_BATCH {
                let Ok(frame) = queue.try_recv() else {
                    break;
                };
                run.feed(ws, frame).await?;
                frames += 1;
            }
            run.flush(ws).await?;
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

    /// Writes the others' latest presence, one per sender.
    async fn write_presences(&mut self, presences: Vec<Bytes>) -> Result<(), Exit> {
        let limit = self.config.write_timeout;
        let ws = &mut self.ws;
        let write = async {
            let mut run = Run::default();
            for frame in presences {
                run.feed(ws, frame).await?;
            }
            run.flush(ws).await
        };
        Exit::check_write(timeout(limit, write).await, limit)
    }

    /// Passes this peer's latest presence on to the room, and notes when the
    /// next may go.
    fn pass_presence_on(&mut self) {
        if let Some(presence) = self.presence.pending.take() {
            self.presence.shown = presence.lasting();
            self.room.presence(self.client, self.connection, presence);
            self.presence.next = Instant::now() + self.config.cursor_interval;
        }
    }

    /// Takes in an update of the peer's presence, passing it on now if the
    /// last went long enough ago.
    fn update_presence(&mut self, update: Presence) {
        self.presence.note(update);
        if Instant::now() >= self.presence.next {
            self.pass_presence_on();
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
            // The room refused it, through the queue, and gave the credit back.
            Proposed::ViewOnly => {
                debug!(op = %id, "refused an op from a member who may only view");
                Ok(())
            }
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
            let mut run = Run::default();
            for frame in frames {
                run.feed(ws, frame).await?;
            }
            run.flush(ws).await
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
                    return self.refuse_op(op.id, ErrorCode::InvalidOp, reason).await;
                }
                if let Some(reason) = self.missing_picture(&op).await {
                    debug!(op = %op.id, %reason, "refused an image");
                    return self.refuse_op(op.id, ErrorCode::BlobRefused, reason).await;
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
                    let update = Presence {
                        cursor: position,
                        ..self.presence.current()
                    };
                    self.update_presence(update);
                }
                Ok(())
            }
            ClientMessage::Presence(presence) => {
                if let Err(reason) = presence.check() {
                    debug!(%reason, "dropped a presence beyond the caps");
                } else {
                    trace!("presence");
                    self.update_presence(presence);
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
            ClientMessage::BlobPart(chunk) => self.receive_blob_part(chunk).await,
            ClientMessage::FetchBlob(id) => self.send_blob(id).await,
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
            ClientMessage::Moderate(command) => self.moderate(command).await,
            ClientMessage::Authenticate(_) => {
                self.reply_error(
                    ErrorCode::UnexpectedMessage,
                    "nothing asked this connection to authenticate".to_owned(),
                )
                .await
            }
        }
    }

    /// Has the room carry out an operator's command, keeping an invitation
    /// made or revoked in its file (off the tokio workers); a refusal goes
    /// back to the peer.
    async fn moderate(&mut self, command: Moderation) -> Result<(), Exit> {
        debug!(?command, "an operator's command");
        let entry = match self.room.moderate(self.client, self.connection, &command) {
            Ok(None) => return Ok(()),
            Ok(Some(entry)) => entry,
            Err(refused) => {
                let code = match refused {
                    ModerationRefused::NotOperator => ErrorCode::NotOperator,
                    ModerationRefused::Invalid(_) => ErrorCode::InvalidRequest,
                };
                return self.reply_error(code, refused.to_string()).await;
            }
        };
        let room = Arc::clone(&self.room);
        let written = tokio::task::spawn_blocking(move || room.write_access(&entry)).await;
        self.room.access_changed();
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => {
                self.reply_error(
                    ErrorCode::InvalidRequest,
                    format!("the invitation holds until the relay restarts: it could not be stored ({err})"),
                )
                .await
            }
            Err(err) => Err(Exit::Lost(format!("storing an invitation failed: {err}"))),
        }
    }

    /// Why an op that creates an image cannot be sequenced, if it cannot:
    /// the room does not hold its picture (its upload was refused, or never
    /// came), which nobody could then fetch.
    async fn missing_picture(&self, op: &Op) -> Option<String> {
        let OpKind::Create { data, .. } = &op.kind else {
            return None;
        };
        let id = data.blob()?;
        match self.room.blobs().has(id).await {
            Ok(true) => None,
            Ok(false) => Some(format!(
                "The image {id} was not shared: the relay does not have its picture."
            )),
            Err(err) => Some(format!("The image {id} was not shared: {err}.")),
        }
    }

    /// Takes one part of a picture the peer uploads; a whole one goes into the
    /// room, one over the relay's cap (or damaged) is refused with a sentence.
    async fn receive_blob_part(&mut self, chunk: BlobChunk) -> Result<(), Exit> {
        if chunk.offset == 0 && !self.room.may_edit(self.client) {
            self.upload.refuse(chunk.id);
            return self
                .reply_error(
                    ErrorCode::ViewOnly,
                    "this member may only view the room, and cannot add images".to_owned(),
                )
                .await;
        }
        let sentence = match self.upload.receive(&chunk, self.config.max_blob_bytes) {
            Received::More | Received::PassedOver => return Ok(()),
            Received::Refused(sentence) => sentence,
            Received::Done(blob) => {
                let (id, bytes) = (blob.id(), blob.len());
                match self.room.blobs().put(blob).await {
                    Ok(new) => {
                        debug!(blob = %id, bytes, new, "stored an image");
                        return Ok(());
                    }
                    Err(err) => {
                        warn!(blob = %id, %err, "could not store an image");
                        format!("The image {id} was not shared: the relay could not store it.")
                    }
                }
            }
        };
        debug!(%sentence, "refused an image");
        self.reply_error(ErrorCode::BlobRefused, sentence).await
    }

    /// Sends the picture named `id` in parts, straight to the socket, or
    /// says the room does not hold it.
    async fn send_blob(&mut self, id: BlobId) -> Result<(), Exit> {
        let frames: Result<Vec<Bytes>, _> = match self.room.blobs().get(id).await {
            Some(blob) => blob
                .chunks()
                .into_iter()
                .map(|chunk| encode_frame(&ServerMessage::BlobPart(chunk)))
                .collect(),
            None => encode_frame(&ServerMessage::NoBlob(id)).map(|frame| vec![frame]),
        };
        let frames = frames
            .map_err(|err| Exit::Lost(format!("could not encode an image's parts: {err}")))?;
        trace!(blob = %id, parts = frames.len(), "sending an image");
        let limit = self.config.write_timeout;
        let ws = &mut self.ws;
        for frame in frames {
            Exit::check_write(timeout(limit, ws.send(Message::Binary(frame))).await, limit)?;
        }
        Ok(())
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
        self.reply(&ServerMessage::Error { code, message }).await
    }

    /// Tells the peer its op `op` will not be sequenced, and why: it
    /// withdraws the op.
    async fn refuse_op(&mut self, op: OpId, code: ErrorCode, message: String) -> Result<(), Exit> {
        self.reply(&ServerMessage::OpRefused { op, code, message })
            .await
    }

    /// Sends the peer a refusal, straight to the socket.
    async fn reply(&mut self, refusal: &ServerMessage) -> Result<(), Exit> {
        let frame = encode_frame(refusal)
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

/// Writes the welcome, the snapshot, the peers the welcome had no room for and
/// the catch-up frames straight to the socket (not through the bounded queue,
/// which only carries live frames), flushed in runs of a few KiB ([`Run`]). The catch-up is read from the room's log a chunk at a time,
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
    let mut run = Run::default();
    Exit::check_write(timeout(limit, run.feed(ws, welcome)).await, limit)?;
    if let Some(snapshot) = snapshot {
        for index in 0..parts as usize {
            let part = snapshot
                .part(index)
                .map_err(|err| unencodable("snapshot", err))?;
            Exit::check_write(timeout(limit, run.feed(ws, part)).await, limit)?;
        }
    }
    for peers in more_peers {
        let peers = encode_frame(&peers).map_err(|err| unencodable("peer list", err))?;
        Exit::check_write(timeout(limit, run.feed(ws, peers)).await, limit)?;
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
                run.feed(ws, frame).await?;
            }
            Ok(())
        };
        Exit::check_write(timeout(limit, feed).await, limit)?;
    }
    Exit::check_write(timeout(limit, run.flush(ws)).await, limit)?;
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

/// Why the relay will not sequence an op from a client, if it will not:
/// beyond the caps every peer enforces ([`tabula_shared::caps`]), or a join
/// or leave, which only the relay records.
fn refusal(op: &Op, strokes: &mut StrokeTally) -> Option<String> {
    if let Err(malformed) = strokes.admit(op) {
        Some(format!("op {}: {malformed}", op.id))
    } else if op.kind.is_presence() {
        Some(format!(
            "op {}: only the relay records joins, leaves and what operators do",
            op.id
        ))
    } else {
        None
    }
}
