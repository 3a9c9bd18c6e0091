//! Encoding the relay's messages into wire frames, once, as shared [`Bytes`]
//! that every queue a frame goes to holds without a copy. A leaf: it imports
//! nothing from the crate.

use bytes::Bytes;
use tabula_shared::{EncodeError, ServerMessage, encode};

/// Encodes a message for the wire, once, into a frame that can be shared by
/// every queue it goes to.
pub fn encode_frame(message: &ServerMessage) -> Result<Bytes, EncodeError> {
    encode(message).map(Bytes::from)
}
