//! The wire codec: the only module in the workspace that touches bincode.
//!
//! A frame is `b"TB"`, one format-version byte, then the bincode 2 encoding of a
//! message. The prefix lets old and new peers fail with a clear message instead of
//! reading garbage. The same frames are what a saved session stores.
//!
//! A board [`Snapshot`] is encoded the same way, with the same prefix, but may be
//! far larger than a frame ([`MAX_SNAPSHOT_BYTES`]): it is stored whole in a
//! session file and travels split into parts.

use serde::{Serialize, de::DeserializeOwned};

use crate::Snapshot;

/// The two bytes every frame starts with.
pub const MAGIC: [u8; 2] = *b"TB";
/// The frame format this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes before the payload: the magic and the version.
pub const PREFIX_LEN: usize = MAGIC.len() + 1;
/// The largest frame either side accepts: 1 MiB. A stroke streams in many small
/// frames, so no honest frame comes near it.
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// The largest encoded snapshot either side accepts: 1 GiB, far beyond any board
/// a person draws, but a bound on what a forged length can make a peer allocate.
pub const MAX_SNAPSHOT_BYTES: usize = 1 << 30;

/// The version of the snapshot encoding, stored beside each snapshot in a session
/// file so that a later build can skip snapshots it no longer reads.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// bincode's settings for snapshots: as for frames, with the snapshot limit.
const SNAPSHOT_CONFIG: bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<MAX_SNAPSHOT_BYTES>,
> = bincode::config::standard().with_limit::<MAX_SNAPSHOT_BYTES>();

/// bincode's settings: variable-length integers, and a limit on how much a frame
/// may claim to hold, so that a forged length never becomes a huge allocation.
const CONFIG: bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<MAX_FRAME_BYTES>,
> = bincode::config::standard().with_limit::<MAX_FRAME_BYTES>();

/// Why a message could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The message would be larger than [`MAX_FRAME_BYTES`].
    #[error("the message is larger than the {MAX_FRAME_BYTES}-byte frame limit")]
    TooLarge,
    /// The serializer refused the message.
    #[error("the message could not be encoded: {0}")]
    Serialize(String),
}

/// Why a frame could not be decoded; one variant per way it can fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than the prefix.
    #[error("the frame is {len} bytes long, too short to be a Tabula frame")]
    TooShort {
        /// The frame's length.
        len: usize,
    },
    /// The frame does not start with `TB`.
    #[error("the frame does not start with Tabula's magic bytes; is this a Tabula peer?")]
    BadMagic,
    /// A frame of another format version.
    #[error("the frame is format version {found}, this build speaks version {FORMAT_VERSION}")]
    UnsupportedVersion {
        /// The version in the frame.
        found: u8,
    },
    /// The frame is larger than [`MAX_FRAME_BYTES`].
    #[error("the frame is {len} bytes, more than the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge {
        /// The frame's length.
        len: usize,
    },
    /// The payload is not a valid message.
    #[error("the frame's payload is not a valid message: {0}")]
    Malformed(String),
    /// A valid message followed by bytes that belong to nothing.
    #[error("the frame has {extra} unexpected bytes after its message")]
    TrailingBytes {
        /// How many bytes were left over.
        extra: usize,
    },
}

/// Encodes a message into one frame.
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, EncodeError> {
    encode_with(message, CONFIG, MAX_FRAME_BYTES, 64)
}

/// Decodes one frame into a message; never panics, whatever the bytes.
pub fn decode<T: DeserializeOwned>(frame: &[u8]) -> Result<T, DecodeError> {
    decode_with(frame, CONFIG, MAX_FRAME_BYTES)
}

/// Encodes a board snapshot, prefixed like a frame; see [`MAX_SNAPSHOT_BYTES`].
pub fn encode_snapshot(snapshot: &Snapshot) -> Result<Vec<u8>, EncodeError> {
    encode_with(snapshot, SNAPSHOT_CONFIG, MAX_SNAPSHOT_BYTES, 1024)
}

/// Decodes what [`encode_snapshot`] made; never panics, whatever the bytes.
pub fn decode_snapshot(bytes: &[u8]) -> Result<Snapshot, DecodeError> {
    decode_with(bytes, SNAPSHOT_CONFIG, MAX_SNAPSHOT_BYTES)
}

/// The prefix, then `value` under `config`, at most `limit` bytes in all.
fn encode_with<T: Serialize, C: bincode::config::Config>(
    value: &T,
    config: C,
    limit: usize,
    capacity: usize,
) -> Result<Vec<u8>, EncodeError> {
    let mut bytes = Vec::with_capacity(capacity);
    bytes.extend_from_slice(&MAGIC);
    bytes.push(FORMAT_VERSION);
    bincode::serde::encode_into_std_write(value, &mut bytes, config)
        .map_err(|err| EncodeError::Serialize(err.to_string()))?;
    if bytes.len() > limit {
        return Err(EncodeError::TooLarge);
    }
    Ok(bytes)
}

/// Reads what [`encode_with`] made with the same `config` and `limit`.
fn decode_with<T: DeserializeOwned, C: bincode::config::Config>(
    bytes: &[u8],
    config: C,
    limit: usize,
) -> Result<T, DecodeError> {
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge { len: bytes.len() });
    }
    let payload = payload_of(bytes)?;
    let (value, used) = bincode::serde::decode_from_slice(payload, config)
        .map_err(|err| DecodeError::Malformed(err.to_string()))?;
    whole(payload, used)?;
    Ok(value)
}

/// Checks the prefix and returns what follows it.
fn payload_of(frame: &[u8]) -> Result<&[u8], DecodeError> {
    if frame.len() < PREFIX_LEN {
        return Err(DecodeError::TooShort { len: frame.len() });
    }
    if frame[..MAGIC.len()] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let version = frame[MAGIC.len()];
    if version != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion { found: version });
    }
    Ok(&frame[PREFIX_LEN..])
}

/// An error if decoding used less than the whole payload.
fn whole(payload: &[u8], used: usize) -> Result<(), DecodeError> {
    if used == payload.len() {
        Ok(())
    } else {
        Err(DecodeError::TrailingBytes {
            extra: payload.len() - used,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::message::{ClientMessage, ServerMessage};
    use crate::test_strategies::{client_message, server_message};

    proptest! {
        #[test]
        fn every_client_message_round_trips(message in client_message()) {
            let frame = encode(&message).unwrap();
            prop_assert_eq!(decode::<ClientMessage>(&frame).unwrap(), message);
        }

        #[test]
        fn every_server_message_round_trips(message in server_message()) {
            let frame = encode(&message).unwrap();
            prop_assert_eq!(decode::<ServerMessage>(&frame).unwrap(), message);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode::<ClientMessage>(&bytes);
            let _ = decode::<ServerMessage>(&bytes);
        }

        #[test]
        fn arbitrary_payloads_behind_a_valid_prefix_never_panic(
            payload in proptest::collection::vec(any::<u8>(), 0..512)
        ) {
            let mut frame = MAGIC.to_vec();
            frame.push(FORMAT_VERSION);
            frame.extend(payload);
            let _ = decode::<ClientMessage>(&frame);
            let _ = decode::<ServerMessage>(&frame);
        }

        #[test]
        fn a_damaged_frame_is_an_error_or_a_message_never_a_panic(
            message in client_message(), index in any::<prop::sample::Index>(), byte in any::<u8>()
        ) {
            let mut frame = encode(&message).unwrap();
            let i = index.index(frame.len());
            frame[i] = byte;
            let _ = decode::<ClientMessage>(&frame);
        }
    }

    #[test]
    fn each_failure_has_its_own_error() {
        let good = encode(&ClientMessage::Cursor(None)).unwrap();
        assert_eq!(
            decode::<ClientMessage>(b"TB"),
            Err(DecodeError::TooShort { len: 2 })
        );
        assert_eq!(
            decode::<ClientMessage>(b"XX\x01\x00"),
            Err(DecodeError::BadMagic)
        );
        let mut newer = good.clone();
        newer[2] = FORMAT_VERSION + 1;
        assert_eq!(
            decode::<ClientMessage>(&newer),
            Err(DecodeError::UnsupportedVersion {
                found: FORMAT_VERSION + 1
            })
        );
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(
            decode::<ClientMessage>(&trailing),
            Err(DecodeError::TrailingBytes { extra: 1 })
        );
        assert!(matches!(
            decode::<ClientMessage>(b"TB\x01\xff\xff\xff"),
            Err(DecodeError::Malformed(_))
        ));
        let huge = vec![0; MAX_FRAME_BYTES + 1];
        assert_eq!(
            decode::<ClientMessage>(&huge),
            Err(DecodeError::TooLarge {
                len: MAX_FRAME_BYTES + 1
            })
        );
    }

    #[test]
    fn snapshots_round_trip_and_damage_is_an_error() {
        let mut board = crate::Board::new();
        for seq in 1..=50_u16 {
            let start = crate::Point::new(f32::from(seq), 0.5);
            board.apply_sequenced(&crate::SequencedOp {
                seq: u64::from(seq),
                author: crate::ClientId::random(),
                timestamp_ms: 0,
                op: crate::Op::new(crate::OpKind::StrokeBegin {
                    stroke: crate::StrokeId::random(),
                    style: crate::StrokeStyle {
                        color: crate::Color::rgb(0, 0, 0),
                        width: 2.0,
                    },
                    start,
                }),
            });
        }
        let snapshot = board.snapshot();
        let bytes = encode_snapshot(&snapshot).unwrap();
        assert_eq!(decode_snapshot(&bytes).unwrap(), snapshot);
        assert!(matches!(
            decode_snapshot(&bytes[..bytes.len() - 1]),
            Err(DecodeError::Malformed(_))
        ));
        assert_eq!(decode_snapshot(b"XY\x01"), Err(DecodeError::BadMagic));
        let mut trailing = bytes.clone();
        trailing.push(7);
        assert_eq!(
            decode_snapshot(&trailing),
            Err(DecodeError::TrailingBytes { extra: 1 })
        );
    }

    /// A text's create as protocol 6 encoded it: the frames of every file and
    /// relay from before notes still decode, to the same op.
    #[test]
    fn frames_from_before_notes_still_decode() {
        use crate::object::{Fill, ObjectData, ObjectKind};
        use crate::{ClientId, Color, ObjectId, Op, OpId, OpKind, Point, SequencedOp};
        let id = |n: u128| uuid::Uuid::from_u128(n);
        let written_by_protocol_6 = "54420102071000000000000000000000000000000001fd0068e5cf8b01\
            0000100000000000000000000000000000000203100000000000000000000000000000000305010000\
            c03f000000c0010203ff00000040020268690000c041";
        let frame: Vec<u8> = (0..written_by_protocol_6.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&written_by_protocol_6[i..i + 2], 16).unwrap())
            .collect();
        let text = ServerMessage::Op(SequencedOp {
            seq: 7,
            author: ClientId(id(1)),
            timestamp_ms: 1_700_000_000_000,
            op: Op {
                id: OpId(id(2)),
                kind: OpKind::Create {
                    object: ObjectId(id(3)),
                    data: ObjectData {
                        kind: ObjectKind::Text,
                        points: vec![Point::new(1.5, -2.0)],
                        color: Color::rgb(1, 2, 3),
                        width: 2.0,
                        fill: Fill::Solid,
                        text: "hi".to_owned(),
                        font_size: 24.0,
                    },
                },
            },
        });
        assert_eq!(decode::<ServerMessage>(&frame).unwrap(), text);
        assert_eq!(encode(&text).unwrap(), frame);
    }

    #[test]
    fn a_forged_length_does_not_allocate_it() {
        // An append claiming u64::MAX points must fail fast, not try to allocate.
        let mut frame = MAGIC.to_vec();
        frame.push(FORMAT_VERSION);
        frame.extend([1, 0]); // ClientMessage::Op, then the op id's length...
        frame.extend([0xff; 16]);
        assert!(decode::<ClientMessage>(&frame).is_err());
    }
}
