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
//!
//! # Layout
//! - this module: what the UI and the task say to each other ([`Command`],
//!   [`Event`], [`ConnectionStatus`]), what a join asks for ([`JoinRequest`],
//!   [`Liveness`]), and what the task's parts share (how a connection ended,
//!   the events' way to the UI).
//! - [`connection`]: [`connection::Connection`], the UI's end: starts the task
//!   and holds its channels (or a detached pair, for tests).
//! - `task`: the task itself: connect, serve, reconnect with backoff.
//! - `dial`: opening a connection: TCP, TLS with the relay's certificate
//!   checked (an invitation's, a known host's, or trusted on first use), the
//!   WebSocket handshake.
//! - [`known_hosts`]: the relays' certificates this app trusts, per host,
//!   in a file in its data folder.
//! - `backfill`: joining from a room's board snapshot, and fetching the
//!   history the snapshot stands for.
//! - `socket`: frames on the WebSocket: encode and send, receive and decode,
//!   close codes.
//! - `pictures`: images' pictures on the wire: uploads kept until their
//!   image is acknowledged, the picture being fetched put back together.
//!
//! Imports run one way: [`connection`] starts the task, the task uses the
//! dial, the backfill and the socket, the dial uses the known hosts and the
//! socket, the backfill uses the socket, and all of them use this module,
//! which uses none of them.

mod backfill;
pub mod connection;
mod dial;
pub mod known_hosts;
mod pictures;
mod socket;
mod task;

use std::sync::Arc;
use std::time::Duration;

use tabula_shared::access::{InviteToken, Password, ResumeSecret};
use tabula_shared::blob::{Blob, BlobId};
use tabula_shared::fingerprint::Fingerprint;
use tabula_shared::{
    Board, ClientId, Color, ErrorCode, Moderation, Op, OpId, PeerInfo, Point, Presence, RoomAccess,
    SequencedOp, Welcome,
};

use self::known_hosts::KnownHosts;

/// What the UI asks of the network task.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Deliver this op to the relay (now, or after the next reconnect).
    Send(Op),
    /// What we show the room changed (pointer, view, laser points since the
    /// last one, a drag in progress, presenting): sent at most about 30
    /// times a second, what comes between folded into one
    /// ([`Presence::absorb`]).
    Presence(Presence),
    /// Close the connection politely and end the task.
    Leave,
    /// Answer the relay's [`Event::TakeOver`]: we host the room now, at
    /// these URLs. Dropped if the link is down: the relay then asks someone
    /// else.
    Hosting(Vec<String>),
    /// Answer the relay's [`Event::TakeOver`]: we cannot host the room, and
    /// why.
    CannotHost(String),
    /// An operator's command to the room. Dropped if the link is down (the
    /// person sees nothing change and can try again).
    Moderate(Moderation),
    /// Upload a picture, before the op that creates an image of it; kept
    /// (and sent again after a reconnect) until that image is acknowledged.
    PutBlob(Blob),
    /// Fetch a picture the board shows and we lack: answered with
    /// [`Event::Picture`] or [`Event::PictureMissing`]. Dropped if the link
    /// is down: ask again after the next welcome.
    FetchBlob(BlobId),
}

/// What the network task tells the UI.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The connection's state changed.
    Status(ConnectionStatus),
    /// A `wss://` relay presented the certificate it was trusted by (sent
    /// before the connection's welcome).
    Certificate(RelayCertificate),
    /// The relay accepted the hello; the ops it is missing follow.
    Welcome(Welcome),
    /// The room's board as of an op well past ours (it came as a snapshot after
    /// the welcome): it replaces the board's sequenced state, and the ops
    /// between ours and it arrive later as [`Event::History`].
    Board(Box<Board>),
    /// An op older than the board, fetched to complete its history.
    History(SequencedOp),
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
    /// Who came into the room and who left since the relay last said (a
    /// client appears at most once; `joined` may name us, which we ignore).
    Peers {
        /// In the room now: added, or updated.
        joined: Vec<PeerInfo>,
        /// Gone.
        left: Vec<ClientId>,
    },
    /// Someone's presence changed: pointer, view, laser, a drag in progress,
    /// presenting.
    Presence {
        /// Whose.
        client: ClientId,
        /// What they show now.
        presence: Presence,
    },
    /// Someone's pointer moved.
    Cursor {
        /// Whose pointer.
        client: ClientId,
        /// Where on the canvas.
        position: Option<Point>,
    },
    /// The relay will not sequence our op `op`: it is withdrawn from the
    /// outbox (never sent again), and the board is to withdraw it too.
    OpRefused {
        /// The op.
        op: OpId,
        /// What kind of refusal.
        code: ErrorCode,
        /// The relay's reason.
        message: String,
    },
    /// The relay refused something we sent but kept the connection.
    RelayError {
        /// What kind of refusal.
        code: ErrorCode,
        /// The relay's reason.
        message: String,
    },
    /// The room is being handed over and we were chosen to host it next,
    /// from our copy of its log, which ends at `head`.
    TakeOver {
        /// The room's last op.
        head: u64,
    },
    /// What we may do in the room and how it is run (after the welcome,
    /// and whenever it changes).
    Access(RoomAccess),
    /// The room lives at these URLs now; it holds every op up to `head`.
    Moved {
        /// Where, best first.
        urls: Vec<String>,
        /// The room's last op when it moved.
        head: u64,
    },
    /// A picture we fetched.
    Picture(Blob),
    /// The room does not hold the picture we fetched.
    PictureMissing(BlobId),
    /// The picture we fetched came damaged.
    PictureDamaged {
        /// Which picture.
        id: BlobId,
        /// What was wrong with it.
        reason: String,
    },
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

impl ConnectionStatus {
    /// Whether the relay refused us for a missing or wrong password or code
    /// (its own or the room's): another password may get us in.
    #[must_use]
    pub fn needs_password(&self) -> bool {
        matches!(self, Self::Refused(reason)
            if reason.contains("needs a password") || reason.contains("wrong password"))
    }

    /// Whether the relay refused the password we gave the room (the relay's
    /// own, if it has one, was right): the room has another of its own.
    #[must_use]
    pub fn refused_room_password(&self) -> bool {
        matches!(self, Self::Refused(reason) if reason.contains("wrong password for room "))
    }
}

/// The certificate a `wss://` relay presented, and why it was trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayCertificate {
    /// The relay, `HOST:PORT`: what the certificate is remembered by.
    pub authority: String,
    /// The certificate's SHA-256; its short code is what people compare.
    pub fingerprint: Fingerprint,
    /// Why it was trusted.
    pub trust: Trust,
}

/// Why a relay's certificate was trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    /// The invitation (`#fp=…`) named it; it is remembered for the host now.
    Invitation,
    /// It is the one remembered for this host.
    Known,
    /// The first connection to this host: nothing vouched for it, so it was
    /// remembered as presented. People should compare its short code with
    /// the one the host's app shows.
    FirstUse,
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
    /// The relay and room, `ws[s]://HOST:PORT/ROOM[#fp=…]`, at one or more
    /// addresses, best first: each connection attempt tries the next one
    /// after an address that failed.
    pub urls: Vec<String>,
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
    /// The id of that op, if the board knows it.
    pub last_op: Option<OpId>,
    /// Ops the board applied that the relay has not acknowledged yet.
    pub unsent: Vec<Op>,
    /// The pictures of the images among `unsent`, uploaded before them.
    pub pictures: Vec<Blob>,
    /// The resume secret a welcome to this room gave our client id, if one
    /// did: without it the relay refuses our id (it is someone else's to
    /// the room). Each welcome's secret replaces it for the next hello.
    pub resume: Option<ResumeSecret>,
    /// The password to answer the relay's challenge with, when it asks for
    /// one (from the invitation's `#code=`, or typed).
    pub password: Option<Password>,
    /// The invitation we come with (an invitation link's `#invite=`): it
    /// admits without any password, as the role it was made for.
    pub invite: Option<InviteToken>,
    /// The password to give the room if it is new (its creator's choice):
    /// the relay keeps it and asks everyone after for it.
    pub new_room_password: Option<Password>,
    /// The room's own password, when it is not the relay's: `None` answers
    /// the room's challenge with [`Self::password`] too.
    pub room_password: Option<Password>,
    /// Ping and silence timing.
    pub liveness: Liveness,
    /// The relays' certificates this app trusts, for `wss://`.
    pub known_hosts: KnownHosts,
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

impl Ended {
    /// The connection was lost; `was_welcomed` says whether it got as far as the
    /// welcome.
    fn lost(reason: String, was_welcomed: bool) -> Self {
        Self::Lost {
            reason,
            was_welcomed,
        }
    }
}
