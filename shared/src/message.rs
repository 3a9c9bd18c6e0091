//! Every message on the wire, in both directions.
//!
//! A connection opens with the client's [`Hello`]; the relay answers with a
//! [`Welcome`], then, when the client is far behind, the room's board as it was
//! at some op (a [`SnapshotHeader`] in the welcome, then that many
//! [`ServerMessage::SnapshotPart`]s), then the sequenced ops the client has not
//! seen yet (each as an ordinary [`ServerMessage::Op`]), then whatever happens in
//! the room live.
//!
//! Images' bytes travel apart from the ops, as blobs ([`crate::blob`]): a
//! client uploads a picture in [`ClientMessage::BlobPart`]s before the op that
//! creates an image of it (the relay refuses an image whose blob the room does
//! not hold, and a blob over its cap, [`Welcome::max_blob_bytes`], with
//! [`ErrorCode::BlobRefused`]), and fetches a picture it lacks with
//! [`ClientMessage::FetchBlob`], answered in [`ServerMessage::BlobPart`]s or
//! with [`ServerMessage::NoBlob`].
//!
//! A client that joined from a snapshot lacks the ops the snapshot stands for;
//! it asks for them with [`ClientMessage::FetchHistory`] and they arrive as
//! ordinary `Op`s older than what it has applied, mixed in with live traffic.
//!
//! A room can move to another relay: when the app that hosts it hands it over,
//! its relay stops sequencing, asks one member to host the room from its own
//! copy of the log ([`ServerMessage::TakeOver`], answered with
//! [`ClientMessage::Hosting`] or [`ClientMessage::CannotHost`]), and then tells
//! everyone where the room lives now ([`ServerMessage::Moved`]). Each client
//! reconnects there and resumes from its last sequence number; the hello's
//! [`Hello::last_op`] lets the new relay check that it holds that very op.
//!
//! A hello names who the client is ([`Hello::client`], public: every peer
//! sees it) and carries, from the second connection on, the private
//! [`ResumeSecret`] the relay's welcome gave that id
//! ([`Credentials::resume`]): a hello naming an id the room knows without its
//! secret is refused (close 4403) and the room hears nothing of it. When the
//! relay or the room has a password, the relay answers the hello with a
//! [`Challenge`] (a fresh nonce, and how to turn each password into its key)
//! and accepts the hello only once [`ClientMessage::Authenticate`] proves
//! each password over that nonce (see [`crate::access`]); a missing or wrong
//! proof is refused (close 4401) before the room sends anything. A hello
//! may come with an invitation instead ([`Credentials::invite`]): the
//! challenge then asks for its proof, and the room admits the link's holder
//! as the invitation's [`Role`] without any password.
//!
//! Once in, each member is told what it may do and how the room is run
//! ([`ServerMessage::Access`], again whenever that changes). An operator
//! runs the room with [`ClientMessage::Moderate`]: roles, kicks, the lock,
//! view-only, invitations.

use serde::{Deserialize, Serialize};

use crate::access::{KeyParams, Nonce, Proof, ResumeSecret, Role, RoomLock, Verifier};
use crate::blob::{BlobChunk, BlobId};
use crate::presence::Presence;
use crate::{ClientId, Color, Op, OpId, Point, SequencedOp};

/// The protocol version a client announces in its hello (2 since the op set grew
/// from strokes to objects, 3 since late joiners get a snapshot, 4 since the
/// relay records joins and leaves as ops, 5 since rooms can move between relays
/// and a resume names its last op, 6 since a welcome hands out a resume
/// secret and a relay or room with a password challenges the hello, 7 since
/// rooms have passwords, invitations, roles and operators, an object may be
/// a sticky note ([`ObjectKind::Note`](crate::ObjectKind::Note)) or an image
/// whose picture is a blob, joins and leaves come batched
/// ([`ServerMessage::Peers`]) and presence is more than a cursor
/// ([`Presence`]: views to follow, a laser, live drags), 8 since an op the
/// relay will not sequence is refused by its id ([`ServerMessage::OpRefused`]),
/// so that its sender withdraws it). The relay refuses a hello of another
/// version with close code 1002 and a message saying which it speaks.
pub const PROTOCOL_VERSION: u16 = 8;

/// The most snapshot bytes one [`ServerMessage::SnapshotPart`] carries, so that
/// every part fits in a frame with room to spare. Small, because a WebSocket
/// connection's write buffer keeps the size of the largest frame it ever
/// wrote for as long as the connection lasts: with 512 KiB parts every late
/// joiner kept half a MiB or more (BENCHMARKS, "Snapshot parts"). Clients
/// take parts of any size up to their frame limit (the welcome says how
/// many), so the relay may change it freely.
pub const SNAPSHOT_PART_BYTES: usize = 16 * 1024;

/// The relay's answer to a hello when a password is needed: what
/// [`ClientMessage::Authenticate`] must prove, for this connection only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// Fresh for this connection: every proof signs it, so an authentication
    /// captured on another connection proves nothing here.
    pub nonce: Nonce,
    /// How to derive the relay-wide password's key, when the relay has one:
    /// [`Proofs::relay`] must prove it.
    pub relay: Option<KeyParams>,
    /// How to derive the room's password's key, when the room has one:
    /// [`Proofs::room`] must prove it.
    pub room: Option<KeyParams>,
    /// Whether [`Proofs::invite`] must prove the invitation the hello named.
    pub invite: bool,
}

/// The answer to a [`Challenge`]: a proof of each password it asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proofs {
    /// The relay-wide password's proof over the challenge's nonce.
    pub relay: Option<Proof>,
    /// The room's password's proof over the challenge's nonce.
    pub room: Option<Proof>,
    /// The invitation's proof over the challenge's nonce.
    pub invite: Option<Proof>,
}

/// Who a hello says it is, and the room lock of a room it creates. Both
/// optional, so that what a room needs can grow without another protocol
/// version.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The secret a welcome gave this client id in this room: needed to take
    /// the id over while the relay remembers it. A relay with no record of
    /// the id keeps the one it is shown (see ARCHITECTURE, *Access*).
    pub resume: Option<ResumeSecret>,
    /// For a room that does not exist yet: its password, as the relay keeps
    /// it (the salt, the cost and the key's public half; never the
    /// password). Ignored for a room that has a password (the challenge
    /// asks for that one); a room that exists without one refuses it (close
    /// 4401), so nobody believes a public room private.
    pub new_room_lock: Option<RoomLock>,
    /// The invitation this client comes with (its public half; the
    /// challenge asks for the proof): it admits to its room, as its role,
    /// without the relay's or the room's password.
    pub invite: Option<Verifier>,
}

/// The first message of every connection, from the client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`] of the client.
    pub protocol: u16,
    /// The room to join; must match the URL path the client connected to.
    pub room: String,
    /// The name shown to the other people in the room.
    pub name: String,
    /// The colour of this person's cursor and name tag.
    pub color: Color,
    /// Stable across reconnects of the same running client.
    pub client: ClientId,
    /// The last sequence number this client has applied, 0 for none: the relay
    /// sends only what came after it.
    pub last_seen: u64,
    /// The id of the op at `last_seen` (`None` for none). The relay resumes
    /// from `last_seen` only when its log holds this op at that number, so a
    /// client never resumes into another room, or into another copy of the
    /// room's history, that happens to be as long.
    pub last_op: Option<OpId>,
    /// Who this client is (its resume secret), and the lock of a room it
    /// creates.
    pub credentials: Credentials,
}

/// Someone in a room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// Their client id.
    pub client: ClientId,
    /// Their display name.
    pub name: String,
    /// Their cursor colour.
    pub color: Color,
}

/// The relay's answer to a hello.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// The room joined.
    pub room: String,
    /// Everyone else in the room right now, or the first hundred of them
    /// in a bigger room: the rest follow the welcome (and its snapshot) in
    /// [`ServerMessage::Peers`] messages of at most as many each, so that
    /// no message of a join grows with the room.
    pub peers: Vec<PeerInfo>,
    /// The ops that follow this welcome start after this sequence number: the
    /// client's `last_seen` when the room still has everything after it, otherwise
    /// 0, which tells the client to rebuild its board from nothing.
    pub replay_from: u64,
    /// The room's latest sequence number when the welcome was sent: once the client
    /// has applied this one it is caught up.
    pub head: u64,
    /// When set, the board as it was after op `replay_from` follows the welcome,
    /// in parts, before the ops: the client replaces its board's sequenced state
    /// with it (keeping its own unsent ops on top).
    pub snapshot: Option<SnapshotHeader>,
    /// This client's secret in this room: sent in every later hello
    /// ([`Credentials::resume`]), here and on any relay the room moves to,
    /// it lets this client, and only it, take its id over. The same for as
    /// long as the relay remembers the id.
    pub resume_secret: ResumeSecret,
    /// The largest image blob this relay takes, in bytes (at most
    /// [`crate::caps::MAX_BLOB_BYTES`]): the app says so before it sends a
    /// bigger one.
    pub max_blob_bytes: u64,
}

/// What a welcome says about the snapshot that follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotHeader {
    /// The last op the snapshot includes (equal to the welcome's `replay_from`).
    pub seq: u64,
    /// The length of the encoded snapshot (see
    /// [`codec::decode_snapshot`](crate::codec::decode_snapshot)), in bytes.
    pub bytes: u64,
    /// How many [`ServerMessage::SnapshotPart`]s carry it, each at most
    /// [`SNAPSHOT_PART_BYTES`] long, in order.
    pub parts: u32,
}

/// Why the relay reports an error without closing the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// A message that makes no sense at this point (a second hello, say).
    UnexpectedMessage,
    /// An op the relay will not sequence (for example with non-finite coordinates).
    InvalidOp,
    /// A history request for ops the room does not hold, or a second one while
    /// the first is still being answered.
    InvalidRequest,
    /// An op from a member who may only view the room (a viewer, or anyone
    /// but an operator while the room is view-only).
    ViewOnly,
    /// A command only the room's operators may give.
    NotOperator,
    /// A blob the relay will not keep (over its cap, damaged, or out of
    /// order), or an image whose blob the room does not hold.
    BlobRefused,
}

/// What an operator does to its room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Moderation {
    /// Gives a member (present, or known to the room) a role.
    SetRole {
        /// Whom.
        client: ClientId,
        /// What they may do from now on.
        role: Role,
    },
    /// Cuts a member off; they cannot come back while the relay keeps the
    /// room open.
    Kick {
        /// Whom.
        client: ClientId,
    },
    /// Locks the room against newcomers (those it has not seen this
    /// session), or opens it again.
    SetLocked(bool),
    /// Makes the room view-only for everyone but its operators, or not.
    SetViewOnly(bool),
    /// Keeps an invitation: a link carrying the token whose public half
    /// this is admits as `role`. The token itself never reaches the relay.
    Invite {
        /// The invitation's public half.
        invite: Verifier,
        /// Who its holder becomes: an editor or a viewer.
        role: Role,
    },
    /// Revokes an invitation: its link admits nobody any more.
    Revoke {
        /// The invitation's public half.
        invite: Verifier,
    },
}

/// An invitation to a room, as its operators see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteInfo {
    /// Its public half (what names it).
    pub invite: Verifier,
    /// Who its holder becomes.
    pub role: Role,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// How a room is run, as one member sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomAccess {
    /// What this member may do.
    pub role: Role,
    /// Newcomers are turned away.
    pub locked: bool,
    /// Only operators may change the board.
    pub view_only: bool,
    /// Whether the room has a password of its own.
    pub password: bool,
    /// The room's operators (at most [`RoomAccess::MAX_LISTED`]).
    pub operators: Vec<ClientId>,
    /// The room's viewers who are in it now (at most
    /// [`RoomAccess::MAX_LISTED`]).
    pub viewers: Vec<ClientId>,
    /// The room's invitations: sent to operators only (empty for others).
    pub invites: Vec<InviteInfo>,
}

impl RoomAccess {
    /// The most ids each list carries, so that the message stays small in a
    /// room of thousands.
    pub const MAX_LISTED: usize = 256;

    /// Whether a member with this access may change the board.
    #[must_use]
    pub fn may_edit(&self) -> bool {
        self.role == Role::Operator || (self.role == Role::Editor && !self.view_only)
    }
}

/// Client → relay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ClientMessage {
    /// Must be the first message, and only the first.
    Hello(Hello),
    /// An op to sequence and share.
    Op(Op),
    /// Where this person's pointer is on the canvas; `None` when it left the canvas.
    Cursor(Option<Point>),
    /// Asks for the room's ops after `after` up to and including `up_to` (which
    /// the room must hold), for a client that joined from a snapshot and wants
    /// the history behind it. They come as ordinary [`ServerMessage::Op`]s, in
    /// order, among the live traffic; one request at a time.
    FetchHistory {
        /// The last op the client already has.
        after: u64,
        /// The last op wanted.
        up_to: u64,
    },
    /// The answer to [`ServerMessage::TakeOver`]: this client now hosts the
    /// room, on a relay of its own, at these URLs (best first).
    Hosting {
        /// `ws://ADDRESS:PORT/ROOM` for each of the new relay's addresses.
        urls: Vec<String>,
    },
    /// The answer to [`ServerMessage::TakeOver`]: this client cannot host the
    /// room (its copy is incomplete, or it could not listen), and says why.
    CannotHost {
        /// A sentence for the host's log and screen.
        reason: String,
    },
    /// The answer to the relay's [`ServerMessage::Challenge`]: proves each
    /// password it asked for, over its nonce.
    Authenticate(Proofs),
    /// An operator's command (refused with [`ErrorCode::NotOperator`] from
    /// anyone else).
    Moderate(Moderation),
    /// What this person shows the others now (pointer, view, laser, a drag
    /// in progress, presenting), whole; replaces what it sent before. The
    /// relay passes it on to the others as [`ServerMessage::Presence`], at
    /// most a few dozen times a second, and never stores it. Since protocol 7.
    Presence(Presence),
    /// The next piece of a blob this client uploads, in order, before the op
    /// that creates an image of it.
    BlobPart(BlobChunk),
    /// Asks for a blob the room holds: answered with its
    /// [`ServerMessage::BlobPart`]s, or [`ServerMessage::NoBlob`].
    FetchBlob(BlobId),
}

/// Relay → client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ServerMessage {
    /// The answer to the hello.
    Welcome(Welcome),
    /// The next piece of the snapshot the welcome announced.
    SnapshotPart(#[serde(with = "serde_bytes")] Vec<u8>),
    /// An op in the room's order, from history or live.
    Op(SequencedOp),
    /// The author's own op has been sequenced (the author gets this instead of the
    /// op itself).
    Ack {
        /// The op that was sequenced.
        op: OpId,
        /// The sequence number it was given.
        seq: u64,
        /// When, in milliseconds since the Unix epoch.
        timestamp_ms: u64,
    },
    /// Someone entered the room. Relays of protocol 7 send
    /// [`ServerMessage::Peers`] instead; clients still understand it.
    PeerJoined(PeerInfo),
    /// Someone left the room (closed, timed out, or was cut off). Relays of
    /// protocol 7 send [`ServerMessage::Peers`] instead.
    PeerLeft {
        /// Who left.
        client: ClientId,
    },
    /// Someone moved their pointer. Relays of protocol 7 send
    /// [`ServerMessage::Presence`] instead.
    Cursor {
        /// Whose pointer.
        client: ClientId,
        /// Where on the canvas; `None` when it left the canvas.
        position: Option<Point>,
    },
    /// The room is being handed over and this member was chosen to host it
    /// next, from its own copy of the log, which holds every op up to `head`
    /// (they all came before this message; the relay sequences nothing more).
    /// Answered with [`ClientMessage::Hosting`] or [`ClientMessage::CannotHost`].
    TakeOver {
        /// The room's last op, which the new host's copy must end with.
        head: u64,
    },
    /// The room now lives on another relay, at these URLs (best first), which
    /// holds every op up to `head`. Reconnect there and resume; ops this relay
    /// did not acknowledge are to be sent there.
    Moved {
        /// `ws://ADDRESS:PORT/ROOM` for each of the new relay's addresses.
        urls: Vec<String>,
        /// The room's last op when it moved.
        head: u64,
    },
    /// Something the client sent was refused; the connection stays open.
    /// (An op refused is [`ServerMessage::OpRefused`], naming it.)
    Error {
        /// What kind of problem.
        code: ErrorCode,
        /// A sentence for a person.
        message: String,
    },
    /// The answer to a hello when the relay or the room has a password:
    /// the hello is accepted once [`ClientMessage::Authenticate`] proves
    /// each one over this nonce.
    Challenge(Challenge),
    /// What this member may do and how the room is run: after the welcome,
    /// and again whenever it changes.
    Access(RoomAccess),
    /// Who came and who went since the room last said: the relay gathers a
    /// room's joins and leaves for a moment and tells them to everyone in
    /// one message, so that a room of thousands filling up costs each member
    /// a message a tick, not one per join. A client appears at most once
    /// (what happened last): add or update everyone in `joined`, remove
    /// everyone in `left`. It may name the receiver itself (it joined in
    /// that moment), which a client ignores, and people the receiver's
    /// welcome already listed. Also how the peers a welcome has no room for
    /// arrive. Since protocol 7.
    Peers {
        /// Those who are in the room now and were not (or came back).
        joined: Vec<PeerInfo>,
        /// Those who have left.
        left: Vec<ClientId>,
    },
    /// Someone's presence (pointer, view, laser, a drag in progress,
    /// presenting), sent again whenever it changes, and on a join for each
    /// member who has one. Since protocol 7.
    Presence {
        /// Whose.
        client: ClientId,
        /// What they show now.
        presence: Presence,
    },
    /// The next piece of a blob this client fetched, in order.
    BlobPart(BlobChunk),
    /// The answer to a fetch of a blob the room does not hold.
    NoBlob(BlobId),
    /// An op of this client's that the relay will not sequence (malformed or
    /// past the caps, from someone who may only view, an image whose picture
    /// was refused or never sent), and why. It is never in the room's log:
    /// its sender withdraws it from its board and stops resending it, so that
    /// its board is everyone's again. (Refusals of anything but an op are
    /// [`ServerMessage::Error`]s.)
    OpRefused {
        /// The op refused.
        op: OpId,
        /// What kind of refusal.
        code: ErrorCode,
        /// A sentence for a person.
        message: String,
    },
}
