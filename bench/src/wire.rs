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

use std::sync::Mutex;

use anyhow::Context as _;
use tabula_shared::access::{self, AccessKey, InviteToken, KeyParams, Password, Scope};
use tabula_shared::{
    Challenge, ClientId, ClientMessage, Color, Credentials, Hello, Op, OpId, OpKind,
    PROTOCOL_VERSION, Point, Proofs, SequencedOp, ServerMessage, StrokeId, encode,
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

/// The hello of a benchmark peer, and the client id it names (which the
/// answer to a password challenge proves for).
pub fn hello(
    room: &str,
    index: usize,
    invite: Option<&InviteToken>,
) -> anyhow::Result<(Vec<u8>, ClientId)> {
    let client = ClientId::random();
    let hello = Hello {
        protocol: PROTOCOL_VERSION,
        room: room.to_owned(),
        name: format!("bench-{index}"),
        color: Color::rgb(0x33, 0x66, 0x99),
        client,
        last_seen: 0,
        last_op: None,
        credentials: Credentials {
            invite: invite.map(InviteToken::verifier),
            ..Credentials::default()
        },
    };
    let frame = encode(&ClientMessage::Hello(hello)).context("encoding the hello")?;
    Ok((frame, client))
}

/// The answer to a relay's challenge: `password`'s proof of each password
/// it asks for, and `invite`'s proof when it asks for the invitation, over
/// its nonce for `client` in `room`. A password's key is derived (Argon2id,
/// about 150 ms, on the calling thread) once per salt and kept for every
/// other peer.
pub fn authenticate(
    challenge: &Challenge,
    password: Option<&Password>,
    invite: Option<&InviteToken>,
    room: &str,
    client: ClientId,
) -> anyhow::Result<Vec<u8>> {
    let prove = |params: KeyParams, scope| -> anyhow::Result<_> {
        let password = password
            .context("the relay needs a password: pass --password, or a URL with #code=")?;
        Ok(derived(password, params)?.prove(scope, &challenge.nonce, room, client))
    };
    let invite = if challenge.invite {
        let invite = invite
            .context("the relay asks for an invitation: pass --token, or a URL with #invite=")?;
        Some(
            invite
                .key()
                .prove(Scope::Invite, &challenge.nonce, room, client),
        )
    } else {
        None
    };
    let proofs = Proofs {
        relay: challenge
            .relay
            .map(|params| prove(params, Scope::Relay))
            .transpose()?,
        room: challenge
            .room
            .map(|params| prove(params, Scope::Room))
            .transpose()?,
        invite,
    };
    encode(&ClientMessage::Authenticate(proofs)).context("encoding the answer to the challenge")
}

/// `password`'s key for `params`, derived once per salt for the whole run.
fn derived(password: &Password, params: KeyParams) -> anyhow::Result<AccessKey> {
    static KEYS: Mutex<Vec<(KeyParams, AccessKey)>> = Mutex::new(Vec::new());
    let mut kept = KEYS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, key)) = kept.iter().find(|(derived_for, _)| *derived_for == params) {
        return Ok(key.clone());
    }
    let key = access::derive(password, &params).context("the relay's password settings")?;
    kept.push((params, key.clone()));
    Ok(key)
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
    /// The relay asks for its password before the welcome.
    Challenge(Challenge),
    /// Presence and cursors, which the generator ignores.
    Other,
}

/// Decodes a frame from the relay.
pub fn receive(frame: &[u8]) -> anyhow::Result<Received> {
    let message: ServerMessage =
        tabula_shared::decode(frame).context("a frame from the relay does not decode")?;
    Ok(match message {
        // Joins and leaves the relay records are not load.
        ServerMessage::Op(op) if !op.op.kind.is_presence() => Received::Op {
            sent_ns: sent_ns_of(&op.op),
            seq: op.seq,
        },
        ServerMessage::Ack { .. } => Received::Ack,
        ServerMessage::Welcome(welcome) => Received::Welcome { head: welcome.head },
        ServerMessage::Error { code, message } => Received::Error(format!("{code:?}: {message}")),
        ServerMessage::OpRefused { op, code, message } => {
            Received::Error(format!("op {op} refused: {code:?}: {message}"))
        }
        ServerMessage::Challenge(challenge) => Received::Challenge(challenge),
        // Presence, cursors, and whatever else the relay comes to send.
        _ => Received::Other,
    })
}

/// Finds what the generator needs in the relay's `Op` and `Ack` frames without
/// decoding them: the message kind, and an op's sequence number and send time.
/// Decoding a whole op (its points included) for each of a million frames a
/// second would cost the generator more than the relay's sending them.
///
/// It reads the codec's layout (magic, version, the message's variant index,
/// then `SequencedOp`'s fields as bincode varints and length-prefixed uuids),
/// learnt and checked against [`encode`] when it is made: if the layout
/// changes, [`Scanner::new`] fails instead of the figures going wrong.
#[derive(Clone, Copy, Debug)]
pub struct Scanner {
    /// The variant index of `ServerMessage::Op`.
    op: u8,
    /// The variant index of `ServerMessage::Ack`.
    ack: u8,
    /// The variant index of `OpKind::StrokeAppend`, the generator's ops: other
    /// ops (the joins and leaves the relay records) are not load.
    append: u8,
}

/// What [`Scanner::scan`] found in a frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Scanned {
    /// Another peer's op.
    Op {
        /// Its send time, in nanoseconds since the epoch.
        sent_ns: u64,
        /// Its sequence number.
        seq: u64,
    },
    /// An ack of this peer's op.
    Ack,
    /// Something else: decode it with [`receive`].
    Other,
}

impl Scanner {
    /// Learns the variant indexes from the codec and checks the layout against
    /// it, sequence numbers and times of every varint width included.
    pub fn new() -> anyhow::Result<Self> {
        let mut frames = OpFrames::new(0, 100)?;
        let relayed = |seq: u64, timestamp_ms: u64, sent_ns: u64, frames: &mut OpFrames| {
            let ClientMessage::Op(op) = tabula_shared::decode(&frames.next(sent_ns)?)? else {
                anyhow::bail!("OpFrames built something else than an op");
            };
            Ok(encode(&ServerMessage::Op(SequencedOp {
                seq,
                author: ClientId::random(),
                timestamp_ms,
                op,
            }))?)
        };
        let ack = encode(&ServerMessage::Ack {
            op: OpId(Uuid::nil()),
            seq: 1,
            timestamp_ms: 1,
        })?;
        let op = relayed(1, 1, 1, &mut frames)?;
        let scanner = Self {
            op: *op.get(3).context("an op frame of 3 bytes")?,
            ack: *ack.get(3).context("an ack frame of 3 bytes")?,
            append: op
                .get(4..)
                .and_then(op_fields)
                .context("the relay's op frame layout changed: update wire::Scanner")?
                .2,
        };
        anyhow::ensure!(
            scanner.scan(&ack) == Scanned::Ack,
            "the scanner does not recognise an ack: update wire::Scanner"
        );
        let left = encode(&ServerMessage::Op(SequencedOp {
            seq: 1,
            author: ClientId::random(),
            timestamp_ms: 1,
            op: Op::new(OpKind::Left),
        }))?;
        anyhow::ensure!(
            scanner.scan(&left) == Scanned::Other,
            "the scanner takes a leave for load: update wire::Scanner"
        );
        for seq in [1, 250, 251, 70_000, 5_000_000_000] {
            for timestamp_ms in [0, 1_700_000_000_000] {
                for sent_ns in [0, 1, 123_456_789_012, u64::MAX] {
                    let frame = relayed(seq, timestamp_ms, sent_ns, &mut frames)?;
                    anyhow::ensure!(
                        scanner.scan(&frame) == Scanned::Op { sent_ns, seq },
                        "the relay's op frame layout changed: update wire::Scanner"
                    );
                }
            }
        }
        Ok(scanner)
    }

    /// What `frame` is, as far as the generator cares.
    pub fn scan(self, frame: &[u8]) -> Scanned {
        match frame {
            [b'T', b'B', _, kind, rest @ ..] if *kind == self.op => op_fields(rest)
                .filter(|&(_, _, kind)| kind == self.append)
                .map_or(Scanned::Other, |(seq, sent_ns, _)| Scanned::Op {
                    sent_ns,
                    seq,
                }),
            [b'T', b'B', _, kind, ..] if *kind == self.ack => Scanned::Ack,
            _ => Scanned::Other,
        }
    }
}

/// The sequence number, send time and op kind's variant index at the start of
/// an encoded `SequencedOp`: seq, author (a 16-byte uuid, length first), time,
/// the op's id (whose first 8 bytes are the send time), then its kind.
fn op_fields(bytes: &[u8]) -> Option<(u64, u64, u8)> {
    let (seq, rest) = varint(bytes)?;
    let rest = rest.strip_prefix(&[16])?.get(16..)?;
    let (_timestamp_ms, rest) = varint(rest)?;
    let id = rest.strip_prefix(&[16])?;
    let sent_ns = u64::from_be_bytes(id.get(..8)?.try_into().ok()?);
    Some((seq, sent_ns, *id.get(16)?))
}

/// A bincode varint (up to a u64) and what follows it.
fn varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (&first, rest) = bytes.split_first()?;
    let width = match first {
        0..=250 => return Some((u64::from(first), rest)),
        251 => 2,
        252 => 4,
        253 => 8,
        _ => return None,
    };
    let mut value = [0; 8];
    value[..width].copy_from_slice(rest.get(..width)?);
    Some((u64::from_le_bytes(value), &rest[width..]))
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
    use tabula_shared::decode;

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
    fn the_scanner_agrees_with_the_codec() {
        let scanner = Scanner::new().unwrap();
        let mut frames = OpFrames::new(3, 100).unwrap();
        let ClientMessage::Op(op) = decode::<ClientMessage>(&frames.next(77).unwrap()).unwrap()
        else {
            panic!("not an op");
        };
        let relayed = encode(&ServerMessage::Op(SequencedOp {
            seq: 300,
            author: ClientId::random(),
            timestamp_ms: 1_700_000_000_123,
            op,
        }))
        .unwrap();
        assert_eq!(
            scanner.scan(&relayed),
            Scanned::Op {
                sent_ns: 77,
                seq: 300
            }
        );
        // Cut short, it is not an op; anything else is left to `receive`.
        assert_eq!(scanner.scan(&relayed[..20]), Scanned::Other);
        let left = encode(&ServerMessage::PeerLeft {
            client: ClientId::random(),
        });
        if let Ok(left) = left {
            assert_eq!(scanner.scan(&left), Scanned::Other);
        }
        assert_eq!(scanner.scan(b"TB"), Scanned::Other);
    }

    #[test]
    fn joins_and_leaves_the_relay_records_are_not_load() {
        let scanner = Scanner::new().unwrap();
        let joined = encode(&ServerMessage::Op(SequencedOp {
            seq: 300,
            author: ClientId::random(),
            timestamp_ms: 1_700_000_000_123,
            op: Op::new(OpKind::Joined {
                name: "bench-1".to_owned(),
                color: Color::rgb(1, 2, 3),
            }),
        }))
        .unwrap();
        assert_eq!(scanner.scan(&joined), Scanned::Other);
        assert_eq!(receive(&joined).unwrap(), Received::Other);
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
