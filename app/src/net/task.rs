//! The network task: connect, say hello, resend what is unacknowledged, serve live
//! traffic, and reconnect with backoff until the UI leaves.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::SinkExt as _;
use tabula_shared::access::{self, AccessKey, KeyParams, Password, ResumeSecret, RoomLock, Scope};
use tabula_shared::{
    Challenge, ClientId, ClientMessage, Credentials, Hello, Op, OpId, PROTOCOL_VERSION, Presence,
    Proofs, ServerMessage, Welcome,
};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::backfill::{Backfill, receive_snapshot};
use super::dial::dial;
use super::pictures::Transfers;
use super::socket::{Socket, WRITE_TIMEOUT, feed, flush, receive, receive_message, send, written};
use super::{Command, ConnectionStatus, Ended, Event, EventSink, JoinRequest, Liveness};

/// Why a join ends when the relay asks for a password and we have none.
pub const NEEDS_PASSWORD: &str = "the relay needs a password";

/// How long a connection attempt, and then the wait for the welcome, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Presence updates are sent at most this often (about 30 Hz).
const PRESENCE_INTERVAL: Duration = Duration::from_millis(33);
/// The first reconnect delay; it doubles per failed attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// What the task remembers across connections.
struct Delivery {
    /// Ops not yet acknowledged, in the order the UI made them.
    outbox: VecDeque<Op>,
    /// The last sequence number seen, sent in the hello of the next connection.
    last_seq: u64,
    /// The id of the op at `last_seq`, sent with it: the relay resumes from
    /// `last_seq` only if it holds that very op there.
    last_op: Option<OpId>,
    /// What we show the room: the newest presence, with the laser points
    /// of every update since the last one sent.
    presence: Presence,
    /// Whether `presence` changed since it was last sent.
    presence_unsent: bool,
    /// History that snapshots skipped, still to fetch.
    backfill: Backfill,
    /// Which of the request's URLs the next connection tries.
    url: usize,
    /// The resume secret the last welcome gave our client id, presented in
    /// every hello.
    resume: Option<ResumeSecret>,
    /// Our password's keys and the salt and cost each was derived with
    /// (the relay's, the room's), so that a reconnect to the same relay
    /// does not derive them again.
    keys: Vec<(KeyParams, AccessKey)>,
    /// The lock a new room gets from [`JoinRequest::new_room_password`],
    /// made once.
    new_room_lock: Option<RoomLock>,
    /// Pictures uploaded for unacknowledged images, and the one being fetched.
    pictures: Transfers,
}

impl Delivery {
    /// The op left the outbox: the relay has sequenced it (or refused it).
    fn delivered(&mut self, op: OpId) {
        if let Some(i) = self.outbox.iter().position(|o| o.id == op) {
            self.outbox.remove(i);
            self.pictures.settle(&self.outbox);
        }
    }

    /// Takes in a presence update, to send at the next presence tick
    /// (folded into the one not yet sent, if any).
    fn show(&mut self, presence: Presence) {
        if self.presence_unsent {
            self.presence.absorb(presence);
        } else {
            self.presence = presence;
        }
        self.presence_unsent = true;
    }

    /// The presence update to send now; its laser points are then gone.
    fn take_presence(&mut self) -> ClientMessage {
        self.presence_unsent = false;
        let update = self.presence.clone();
        self.presence.laser.clear();
        ClientMessage::Presence(update)
    }

    /// Takes a command that arrives while there is no connection; `false` to stop.
    fn queue(&mut self, command: Option<Command>) -> bool {
        match command {
            Some(Command::Send(op)) => self.outbox.push_back(op),
            Some(Command::Presence(presence)) => self.show(presence),
            // Nobody to answer: the relay that asked sees us gone and asks
            // someone else.
            // Asked again after the next welcome.
            Some(
                Command::Hosting(_)
                | Command::CannotHost(_)
                | Command::Moderate(_)
                | Command::FetchBlob(_),
            ) => {}
            Some(Command::PutBlob(blob)) => self.pictures.keep(blob),
            Some(Command::Leave) | None => return false,
        }
        true
    }
}

/// The task: connect, serve, and reconnect with backoff until told to leave.
pub(super) async fn run(
    request: JoinRequest,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: EventSink,
) {
    let mut delivery = Delivery {
        outbox: request.unsent.iter().cloned().collect(),
        last_seq: request.last_seen,
        last_op: request.last_op,
        presence: Presence::default(),
        presence_unsent: false,
        backfill: Backfill::default(),
        url: 0,
        resume: request.resume,
        keys: Vec::new(),
        new_room_lock: None,
        pictures: Transfers::with(request.pictures.clone()),
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
                // That address did not answer, or its relay went away: the
                // next one may be there (the relays of a cluster serve the
                // same room; a host's addresses reach the same relay).
                // Either way the hello resumes from our last op and the
                // outbox is resent: ops already sequenced are only acked.
                delivery.url = (delivery.url + 1) % request.urls.len().max(1);
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

/// One connection: hello, welcome, resend, then live traffic until it ends.
async fn connect_and_serve(
    request: &JoinRequest,
    delivery: &mut Delivery,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    events: &EventSink,
) -> Ended {
    let lost = |reason: String| Ended::lost(reason, false);
    let Some(url) = request.urls.get(delivery.url) else {
        return Ended::Refused("no address to connect to".to_owned());
    };
    let connecting = dial(url, &request.known_hosts);
    let mut socket = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok((socket, certificate))) => {
            if let Some(certificate) = certificate
                && !events.emit(Event::Certificate(certificate))
            {
                return Ended::Left;
            }
            socket
        }
        Ok(Err(ended)) => return ended,
        Err(_) => return lost("the relay did not answer in time".to_owned()),
    };
    let welcome = match hello(&mut socket, request, delivery).await {
        Ok(welcome) => welcome,
        Err(ended) => return ended,
    };
    tracing::info!(
        room = %welcome.room,
        head = welcome.head,
        replay_from = welcome.replay_from,
        snapshot = ?welcome.snapshot,
        "joined"
    );
    delivery.resume = Some(welcome.resume_secret);
    delivery.backfill.reconnected();
    // A relay that lost the room's history starts it over: so do we.
    let holds = if welcome.replay_from < delivery.last_seq {
        delivery.backfill.forget();
        0
    } else {
        delivery.last_seq
    };
    let (replay_from, snapshot) = (welcome.replay_from, welcome.snapshot);
    if !events.emit(Event::Welcome(welcome)) {
        return Ended::Left;
    }
    if let Some(header) = snapshot {
        let board = match receive_snapshot(&mut socket, header).await {
            Ok(board) => board,
            Err(ended) => return ended,
        };
        delivery.backfill.skipped(holds, header.seq);
        if !events.emit(Event::Board(Box::new(board))) {
            return Ended::Left;
        }
    }
    delivery.last_seq = replay_from;
    if !events.emit(Event::Status(ConnectionStatus::Connected)) {
        return Ended::Left;
    }
    if let Err(reason) = resend(&mut socket, delivery).await {
        return Ended::lost(reason, true);
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

/// Sends the outbox again, each image's picture before it.
async fn resend(socket: &mut Socket, delivery: &mut Delivery) -> Result<(), String> {
    delivery.pictures.reconnected();
    for op in &delivery.outbox {
        for part in delivery.pictures.before_resend(op) {
            feed(socket, &part).await?;
        }
        feed(socket, &ClientMessage::Op(op.clone())).await?;
    }
    Ok(())
}

/// Says hello, answers the relay's challenges and returns its welcome.
async fn hello(
    socket: &mut Socket,
    request: &JoinRequest,
    delivery: &mut Delivery,
) -> Result<Welcome, Ended> {
    let lost = |reason: String| Ended::lost(reason, false);
    if let Some(password) = &request.new_room_password
        && delivery.new_room_lock.is_none()
    {
        delivery.new_room_lock = derive_off_workers(password, None).await?.0;
    }
    let hello = ClientMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        room: request.room.clone(),
        name: request.name.clone(),
        color: request.color,
        client: request.client,
        last_seen: delivery.last_seq,
        last_op: delivery.last_op,
        credentials: Credentials {
            resume: delivery.resume,
            new_room_lock: delivery.new_room_lock,
            invite: request.invite.as_ref().map(access::InviteToken::verifier),
        },
    });
    send(socket, &hello).await.map_err(lost)?;
    let mut answer = tokio::time::timeout(CONNECT_TIMEOUT, receive_message(socket)).await;
    // The relay's password first, then the room's or the invitation: at
    // most two challenges.
    for _ in 0..2 {
        let Ok(Ok(ServerMessage::Challenge(challenge))) = &answer else {
            break;
        };
        authenticate(socket, request, delivery, challenge).await?;
        answer = tokio::time::timeout(CONNECT_TIMEOUT, receive_message(socket)).await;
    }
    match answer {
        Ok(Ok(ServerMessage::Welcome(welcome))) => Ok(welcome),
        Ok(Ok(other)) => Err(Ended::Refused(format!(
            "the relay answered the hello with {other:?}"
        ))),
        Ok(Err(ended)) => Err(ended),
        Err(_) => Err(lost("the relay did not welcome us in time".to_owned())),
    }
}

/// Answers the relay's challenge: our password's proof for each password
/// it asks for (the relay's, the room's: its own if one was typed, else the
/// relay's), and our invitation's when it asks
/// for that, over its nonce, for our room and client id. A password's key
/// is derived (Argon2id, off the tokio workers) once per salt and kept for
/// the next reconnect.
async fn authenticate(
    socket: &mut Socket,
    request: &JoinRequest,
    delivery: &mut Delivery,
    challenge: &Challenge,
) -> Result<(), Ended> {
    if challenge.relay.is_none() && challenge.room.is_none() && !challenge.invite {
        return Err(Ended::Refused(
            "the relay sent a password challenge that asks for nothing".to_owned(),
        ));
    }
    let prove =
        |key: &AccessKey, scope| key.prove(scope, &challenge.nonce, &request.room, request.client);
    let mut proofs = Proofs::default();
    for (params, scope) in [
        (challenge.relay, Scope::Relay),
        (challenge.room, Scope::Room),
    ] {
        let Some(params) = params else {
            continue;
        };
        let password = match scope {
            Scope::Room => request.room_password.as_ref().or(request.password.as_ref()),
            _ => request.password.as_ref(),
        };
        let Some(password) = password.cloned() else {
            return Err(Ended::Refused(NEEDS_PASSWORD.to_owned()));
        };
        let known = delivery
            .keys
            .iter()
            .find(|(derived_for, _)| *derived_for == params);
        let key = if let Some((_, key)) = known {
            key.clone()
        } else {
            let (_, key) = derive_off_workers(&password, Some(params)).await?;
            delivery.keys.push((params, key.clone()));
            key
        };
        let proof = Some(prove(&key, scope));
        match scope {
            Scope::Relay => proofs.relay = proof,
            _ => proofs.room = proof,
        }
    }
    if challenge.invite {
        let Some(invite) = &request.invite else {
            return Err(Ended::Refused(
                "the relay asks for an invitation this app does not have".to_owned(),
            ));
        };
        proofs.invite = Some(prove(&invite.key(), Scope::Invite));
    }
    send(socket, &ClientMessage::Authenticate(proofs))
        .await
        .map_err(|reason| Ended::lost(reason, false))
}

/// `password`'s key for `params`, or for a new room (`None`: fresh
/// parameters, and the lock it makes), derived with Argon2id off the tokio
/// workers.
async fn derive_off_workers(
    password: &Password,
    params: Option<KeyParams>,
) -> Result<(Option<RoomLock>, AccessKey), Ended> {
    let password = password.clone();
    tokio::task::spawn_blocking(move || match params {
        Some(params) => access::derive(&password, &params).map(|key| (None, key)),
        None => RoomLock::new(&password).map(|(lock, key)| (Some(lock), key)),
    })
    .await
    .map_err(|err| Ended::Refused(format!("deriving the password's key failed: {err}")))?
    .map_err(|err| Ended::Refused(format!("the relay's password settings: {err}")))
}

/// Live traffic: relay messages in, commands out, pings and presence updates.
async fn serve(
    socket: &mut Socket,
    liveness: Liveness,
    delivery: &mut Delivery,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    events: &EventSink,
) -> Ended {
    let lost = |reason: String| Ended::lost(reason, true);
    if let Err(reason) = flush(socket).await {
        return lost(reason);
    }
    let mut ping = tokio::time::interval(liveness.ping_interval);
    let mut presence = tokio::time::interval(PRESENCE_INTERVAL);
    presence.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // A new connection: the relay forgot what we showed on the last one.
    if delivery.presence != Presence::default() {
        delivery.presence_unsent = true;
    }
    let mut last_heard = Instant::now();
    loop {
        if let Some(request) = delivery.backfill.request()
            && let Err(reason) = send(socket, &request).await
        {
            return lost(reason);
        }
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
                    Some(Command::Presence(update)) => {
                        delivery.show(update);
                        Ok(())
                    }
                    Some(Command::Hosting(urls)) => {
                        send(socket, &ClientMessage::Hosting { urls }).await
                    }
                    Some(Command::CannotHost(reason)) => {
                        send(socket, &ClientMessage::CannotHost { reason }).await
                    }
                    Some(Command::Moderate(command)) => {
                        send(socket, &ClientMessage::Moderate(command)).await
                    }
                    Some(Command::PutBlob(blob)) => {
                        let mut sent = Ok(());
                        for part in delivery.pictures.upload(blob) {
                            sent = feed(socket, &part).await;
                            if sent.is_err() {
                                break;
                            }
                        }
                        if sent.is_ok() { flush(socket).await } else { sent }
                    }
                    Some(Command::FetchBlob(id)) => {
                        send(socket, &ClientMessage::FetchBlob(id)).await
                    }
                    Some(Command::Leave) | None => return Ended::Left,
                };
                if let Err(reason) = result {
                    return lost(reason);
                }
            }
            _ = presence.tick(), if delivery.presence_unsent => {
                if let Err(reason) = send(socket, &delivery.take_presence()).await {
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
        ServerMessage::Op(op) if op.seq <= delivery.last_seq => {
            if !delivery.backfill.fills(op.seq) {
                return Ok(());
            }
            Event::History(op)
        }
        ServerMessage::Op(op) => {
            if !next_in_sequence(&mut delivery.last_seq, op.seq)? {
                return Ok(());
            }
            delivery.last_op = Some(op.op.id);
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
            delivery.last_op = Some(op);
            delivery.delivered(op);
            Event::Acked {
                op,
                seq,
                timestamp_ms,
            }
        }
        ServerMessage::Peers { joined, left } => Event::Peers { joined, left },
        ServerMessage::Presence { client, presence } => Event::Presence { client, presence },
        ServerMessage::PeerJoined(peer) => Event::Peers {
            joined: vec![peer],
            left: Vec::new(),
        },
        ServerMessage::PeerLeft { client } => Event::Peers {
            joined: Vec::new(),
            left: vec![client],
        },
        ServerMessage::Cursor { client, position } => Event::Cursor { client, position },
        ServerMessage::Error { code, message } => {
            tracing::warn!(?code, %message, "the relay refused a message");
            Event::RelayError { code, message }
        }
        ServerMessage::OpRefused { op, code, message } => {
            tracing::warn!(%op, ?code, %message, "the relay refused an op");
            // Never sent again: the relay would refuse it again.
            delivery.delivered(op);
            Event::OpRefused { op, code, message }
        }
        ServerMessage::TakeOver { head } => Event::TakeOver { head },
        ServerMessage::Moved { urls, head } => Event::Moved { urls, head },
        ServerMessage::Access(access) => Event::Access(access),
        ServerMessage::Welcome(_) => return Err("a second welcome on one connection".to_owned()),
        ServerMessage::Challenge(_) => {
            return Err("a password challenge after the welcome".to_owned());
        }
        ServerMessage::SnapshotPart(_) => {
            return Err("a piece of a board that no welcome announced".to_owned());
        }
        ServerMessage::BlobPart(chunk) => match delivery.pictures.receive(&chunk) {
            Some(event) => event,
            None => return Ok(()),
        },
        ServerMessage::NoBlob(id) => Event::PictureMissing(id),
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
