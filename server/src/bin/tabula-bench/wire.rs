//! What the load generator puts on the wire, and how it finds the send time in
//! what comes back.
//!
//! In Tabula mode every op is a `StrokeAppend` padded with points to about the
//! requested size, and its [`OpId`] carries the send time: the relay passes op ids
//! through untouched, so a receiver recovers the time from the op alone, with no
//! table shared between peers. In raw mode a frame is the send time, the sender's
//! index and zero padding, for a relay that only broadcasts bytes.
//!
//! Times are nanoseconds since the run's epoch, an `Instant` shared by every peer
//! of the one process, so sender and receiver read the same clock.

use anyhow::Context as _;
use tabula_shared::{
    ClientId, ClientMessage, Color, Credentials, Hello, Op, OpId, OpKind, PROTOCOL_VERSION, Point,
    ServerMessage, StrokeId, encode,
};
use uuid::Uuid;

/// The smallest raw frame: the send time and the sender's index.
pub const RAW_HEADER_BYTES: usize = 12;

/// Builds the op frames of one Tabula peer.
#[derive(Debug)]
pub struct OpFrames {
    /// The stroke every op of this peer extends (the relay never checks that it
    /// began: stroke semantics live in the clients).
    stroke: StrokeId,
    /// This peer's index, in the op id next to the counter, so ids never collide.
    sender: u32,
    /// How many ops this peer has built, the other half of the op id.
    counter: u32,
    /// Points per op, chosen once so that a frame is about the requested size.
    points: usize,
}

impl OpFrames {
    /// Frames for peer `sender`, each about `size` bytes long (never less than an
    /// op with no points).
    pub fn new(sender: u32, size: usize) -> anyhow::Result<Self> {
        let mut frames = Self {
            stroke: StrokeId::random(),
            sender,
            counter: 0,
            points: 0,
        };
        let empty = encode(&ClientMessage::Op(frames.op(0, 0)))
            .context("encoding an op")?
            .len();
        // Each point is two f32s, four bytes each; one more byte may go to the
        // varint length of the point list.
        frames.points = size.saturating_sub(empty + 1) / 8;
        Ok(frames)
    }

    /// The next op frame, stamped with `sent_ns`.
    pub fn next(&mut self, sent_ns: u64) -> anyhow::Result<Vec<u8>> {
        self.counter = self.counter.wrapping_add(1);
        let op = self.op(sent_ns, self.points);
        encode(&ClientMessage::Op(op)).context("encoding an op")
    }

    /// A `StrokeAppend` with `points` points whose id carries `sent_ns`.
    fn op(&self, sent_ns: u64, points: usize) -> Op {
        let tag = (u64::from(self.sender) << 32) | u64::from(self.counter);
        Op {
            id: OpId(Uuid::from_u64_pair(sent_ns, tag)),
            kind: OpKind::StrokeAppend {
                stroke: self.stroke,
                points: (0..points)
                    .map(|i| Point::new(i as f32, self.counter as f32))
                    .collect(),
            },
        }
    }
}

/// The send time carried by an op this generator built.
pub fn sent_ns_of(op: &Op) -> u64 {
    op.id.0.as_u64_pair().0
}

/// The hello of a benchmark peer.
pub fn hello(room: &str, index: usize) -> anyhow::Result<Vec<u8>> {
    let hello = Hello {
        protocol: PROTOCOL_VERSION,
        room: room.to_owned(),
        name: format!("bench-{index}"),
        color: Color::rgb(0x33, 0x66, 0x99),
        client: ClientId::random(),
        last_seen: 0,
        credentials: Credentials::default(),
    };
    encode(&ClientMessage::Hello(hello)).context("encoding the hello")
}

/// What a Tabula frame from the relay means to the generator.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// Another peer's op, sent at this time.
    Op {
        /// Its send time, in nanoseconds since the epoch.
        sent_ns: u64,
        /// Its sequence number.
        seq: u64,
    },
    /// The relay sequenced one of this peer's ops.
    Ack,
    /// The welcome, with the room's head.
    Welcome {
        /// The room's latest sequence number when this peer joined.
        head: u64,
    },
    /// A refusal: the relay did not take something this peer sent.
    Error(String),
    /// Presence and cursors, which the generator ignores.
    Other,
}

/// Decodes a frame from the relay.
pub fn receive(frame: &[u8]) -> anyhow::Result<Received> {
    let message: ServerMessage =
        tabula_shared::decode(frame).context("a frame from the relay does not decode")?;
    Ok(match message {
        ServerMessage::Op(op) => Received::Op {
            sent_ns: sent_ns_of(&op.op),
            seq: op.seq,
        },
        ServerMessage::Ack { .. } => Received::Ack,
        ServerMessage::Welcome(welcome) => Received::Welcome { head: welcome.head },
        ServerMessage::Error { code, message } => Received::Error(format!("{code:?}: {message}")),
        ServerMessage::PeerJoined(_)
        | ServerMessage::PeerLeft { .. }
        | ServerMessage::Cursor { .. } => Received::Other,
    })
}

/// A raw frame: the send time (8 bytes, little-endian), the sender (4 bytes) and
/// zeros up to `size`.
pub fn raw_frame(sent_ns: u64, sender: u32, size: usize) -> Vec<u8> {
    let mut frame = vec![0; size.max(RAW_HEADER_BYTES)];
    frame[..8].copy_from_slice(&sent_ns.to_le_bytes());
    frame[8..12].copy_from_slice(&sender.to_le_bytes());
    frame
}

/// The send time of a raw frame, if it is long enough to hold one.
pub fn raw_sent_ns(frame: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = frame.get(..8)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use tabula_shared::{SequencedOp, decode};

    use super::*;

    #[test]
    fn an_op_frame_is_about_the_requested_size_and_carries_its_send_time() {
        for size in [100, 1000, 4096] {
            let mut frames = OpFrames::new(7, size).unwrap();
            let frame = frames.next(123_456_789).unwrap();
            assert!(
                frame.len() <= size && frame.len() + 9 > size,
                "{size}: {}",
                frame.len()
            );
            let ClientMessage::Op(op) = decode::<ClientMessage>(&frame).unwrap() else {
                panic!("not an op");
            };
            assert!(op.is_well_formed());
            assert_eq!(sent_ns_of(&op), 123_456_789);
            // As the relay passes it on.
            let relayed = encode(&ServerMessage::Op(SequencedOp {
                seq: 9,
                author: ClientId::random(),
                timestamp_ms: 1,
                op,
            }))
            .unwrap();
            assert_eq!(
                receive(&relayed).unwrap(),
                Received::Op {
                    sent_ns: 123_456_789,
                    seq: 9
                }
            );
        }
        // Too small for any point: the smallest op there is.
        let mut tiny = OpFrames::new(0, 1).unwrap();
        assert!(tiny.next(1).unwrap().len() < 100);
    }

    #[test]
    fn op_ids_of_one_peer_differ() {
        let mut frames = OpFrames::new(1, 100).unwrap();
        let a = decode::<ClientMessage>(&frames.next(5).unwrap()).unwrap();
        let b = decode::<ClientMessage>(&frames.next(5).unwrap()).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn raw_frames_carry_their_send_time() {
        let frame = raw_frame(42, 3, 100);
        assert_eq!(frame.len(), 100);
        assert_eq!(raw_sent_ns(&frame), Some(42));
        assert_eq!(raw_frame(1, 1, 0).len(), RAW_HEADER_BYTES);
        assert_eq!(raw_sent_ns(b"short"), None);
    }
}
