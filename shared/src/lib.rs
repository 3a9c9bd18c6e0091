//! Tabula's protocol, shared by the relay and the desktop app.
//!
//! Nothing here knows about sockets, threads or pixels: it is the vocabulary the
//! other crates speak and the rules that make every peer's board come out the same.
//!
//! # Layout
//! - [`access`]: the secrets of the handshake: passwords turned into keys
//!   (Argon2id), proofs over the relay's nonce (Ed25519), room locks, resume
//!   secrets, room codes and the `#code=` of a room's URL.
//! - [`blob`]: the bytes of images, named by their SHA-256, checked, and sent
//!   in parts.
//! - [`ids`]: the uuid-backed identifiers of clients, ops and objects.
//! - [`geometry`]: points, rectangles and colours in canvas space.
//! - [`caps`]: the caps every peer enforces (points per stroke, text
//!   length, coordinates, widths and font sizes, an image's size and bytes).
//! - [`object`]: the things on a board (strokes, lines, arrows, rectangles,
//!   ellipses, texts, images), their properties and their hit-testing.
//! - [`op`]: drawing ops as a client proposes them ([`Op`]) and as the relay has
//!   ordered them ([`SequencedOp`]), and the tally that keeps a stroke within
//!   its cap as it streams.
//! - [`message`]: every message a client sends the relay and the relay sends a
//!   client, with the hello, the welcome, presence and errors.
//! - [`presence`]: what a person shows the others besides ops, never stored:
//!   pointer, view, laser trail, a drag in progress, presenting; and its caps.
//! - [`codec`]: the one place frames are encoded and decoded (bincode 2 behind a
//!   versioned prefix), with a typed error for every way decoding can fail.
//! - [`board`]: the board model that applies ops deterministically, optimistic
//!   local ops included, and its serialisable [`Snapshot`].
//! - [`history`]: undo and redo of one person's actions, as ordinary ops.
//! - [`replay`]: a session's ops played back: seek to any op through
//!   checkpoints, step, a playback clock with speeds and compressed pauses, and
//!   who took part when.
//! - [`restore`]: the ops that bring a board back to an earlier moment
//!   ("Restore to here").
//! - [`lan`]: the DNS-SD service type and TXT record a relay is advertised
//!   with on the local network.
//! - [`room_name`]: what a room name may be, checked the same way on both ends.
//! - [`relay_url`]: a room's address, `ws[s]://HOST:PORT/ROOM[#fp=…]`, parsed
//!   the same way by every client.
//! - [`fingerprint`]: a relay certificate's SHA-256, in its long, URL and
//!   short (read aloud) forms.
//! - [`pinning`]: how a client trusts a relay's certificate by its
//!   fingerprint: the rustls client configuration of the app and
//!   `tabula-bench`, and the workspace's one crypto provider (ring).
//! - [`session_file`]: `.tabula` files, the `SQLite` databases that hold a room's
//!   sequenced ops: the relay's storage and the app's saved sessions. The one
//!   module here that does I/O.

pub mod access;
pub mod blob;
pub mod board;
pub mod caps;
pub mod codec;
pub mod fingerprint;
pub mod geometry;
pub mod history;
pub mod ids;
pub mod lan;
pub mod message;
pub mod object;
pub mod op;
pub mod pinning;
pub mod presence;
pub mod relay_url;
pub mod replay;
pub mod restore;
pub mod room_name;
mod scene;
pub mod session_file;

pub use board::{Applied, Board, Snapshot};
pub use codec::{DecodeError, EncodeError, decode, decode_snapshot, encode, encode_snapshot};
pub use geometry::{Color, Point, Rect};
pub use history::History;
pub use ids::{ClientId, ObjectId, OpId, StrokeId};
pub use message::{
    Challenge, ClientMessage, Credentials, ErrorCode, Hello, InviteInfo, Moderation,
    PROTOCOL_VERSION, PeerInfo, Proofs, RoomAccess, SNAPSHOT_PART_BYTES, ServerMessage,
    SnapshotHeader, Welcome,
};
pub use object::{Fill, Object, ObjectData, ObjectKind, Property};
pub use op::{Moderated, Op, OpKind, SequencedOp, StrokeStyle, Touches};
pub use presence::Presence;

#[cfg(test)]
mod test_strategies;
