//! The wire codec: the only module in the workspace that touches bincode.
//!
//! A frame is `b"TB"`, one format-version byte, then the bincode 2 encoding of a
//! message. The prefix lets old and new peers fail with a clear message instead of
//! reading garbage. The same frames are what a saved session stores.

use serde::{Serialize, de::DeserializeOwned};

/// The two bytes every frame starts with.
pub const MAGIC: [u8; 2] = *b"TB";
/// The frame format this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes before the payload: the magic and the version.
pub const PREFIX_LEN: usize = MAGIC.len() + 1;
/// The largest frame either side accepts: 1 MiB. A stroke streams in many small
/// frames, so no honest frame comes near it.
pub const MAX_FRAME_BYTES: usize = 1 << 20;

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
    let mut frame = Vec::with_capacity(64);
    frame.extend_from_slice(&MAGIC);
    frame.push(FORMAT_VERSION);
    bincode::serde::encode_into_std_write(message, &mut frame, CONFIG)
        .map_err(|err| EncodeError::Serialize(err.to_string()))?;
    if frame.len() > MAX_FRAME_BYTES {
        return Err(EncodeError::TooLarge);
    }
    Ok(frame)
}

/// Decodes one frame into a message; never panics, whatever the bytes.
pub fn decode<T: DeserializeOwned>(frame: &[u8]) -> Result<T, DecodeError> {
    if frame.len() > MAX_FRAME_BYTES {
        return Err(DecodeError::TooLarge { len: frame.len() });
    }
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
    let payload = &frame[PREFIX_LEN..];
    let (message, used) = bincode::serde::decode_from_slice(payload, CONFIG)
        .map_err(|err| DecodeError::Malformed(err.to_string()))?;
    if used != payload.len() {
        return Err(DecodeError::TrailingBytes {
            extra: payload.len() - used,
        });
    }
    Ok(message)
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
    fn a_forged_length_does_not_allocate_it() {
        // An append claiming u64::MAX points must fail fast, not try to allocate.
        let mut frame = MAGIC.to_vec();
        frame.push(FORMAT_VERSION);
        frame.extend([1, 0]); // ClientMessage::Op, then the op id's length...
        frame.extend([0xff; 16]);
        assert!(decode::<ClientMessage>(&frame).is_err());
    }
}
