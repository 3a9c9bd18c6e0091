//! Every message on the wire, in both directions.
//!
//! A connection opens with the client's [`Hello`]; the relay answers with a
//! [`Welcome`], then sends the sequenced ops the client has not seen yet (each as
//! an ordinary [`ServerMessage::Op`]), then whatever happens in the room live.

use serde::{Deserialize, Serialize};

use crate::{ClientId, Color, Op, OpId, Point, SequencedOp};

/// The protocol version a client announces in its hello (2 since the op set grew
/// from strokes to objects). The relay refuses a hello
/// of another version with close code 1002 and a message saying which it speaks.
pub const PROTOCOL_VERSION: u16 = 2;

/// How a client proves it may enter a room. Empty today; room passwords and tokens
/// will travel here without changing the hello.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// A room password, once rooms can have one.
    pub password: Option<String>,
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
    /// Proof of access, for rooms that will need it.
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
    /// Everyone else in the room right now.
    pub peers: Vec<PeerInfo>,
    /// The ops that follow this welcome start after this sequence number: the
    /// client's `last_seen` when the room still has everything after it, otherwise
    /// 0, which tells the client to rebuild its board from nothing.
    pub replay_from: u64,
    /// The room's latest sequence number when the welcome was sent: once the client
    /// has applied this one it is caught up.
    pub head: u64,
}

/// Why the relay reports an error without closing the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// A message that makes no sense at this point (a second hello, say).
    UnexpectedMessage,
    /// An op the relay will not sequence (for example with non-finite coordinates).
    InvalidOp,
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
}

/// Relay → client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ServerMessage {
    /// The answer to the hello.
    Welcome(Welcome),
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
    /// Someone entered the room.
    PeerJoined(PeerInfo),
    /// Someone left the room (closed, timed out, or was cut off).
    PeerLeft {
        /// Who left.
        client: ClientId,
    },
    /// Someone moved their pointer.
    Cursor {
        /// Whose pointer.
        client: ClientId,
        /// Where on the canvas; `None` when it left the canvas.
        position: Option<Point>,
    },
    /// Something the client sent was refused; the connection stays open.
    Error {
        /// What kind of problem.
        code: ErrorCode,
        /// A sentence for a person.
        message: String,
    },
}
