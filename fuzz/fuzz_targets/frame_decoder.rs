//! Any bytes as a frame, from a client or from the relay: decoding returns a
//! message or an error, never panics, and a message decoded encodes again to
//! bytes that decode to the same bytes (compared as bytes: a NaN is not equal
//! to itself).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tabula_shared::{ClientMessage, ServerMessage, decode, encode};

fuzz_target!(|frame: &[u8]| {
    if let Ok(message) = decode::<ClientMessage>(frame) {
        let again = encode(&message).expect("a decoded message encodes");
        let decoded: ClientMessage = decode(&again).expect("what was encoded decodes");
        assert_eq!(encode(&decoded).expect("encodes"), again);
    }
    if let Ok(message) = decode::<ServerMessage>(frame) {
        let again = encode(&message).expect("a decoded message encodes");
        let decoded: ServerMessage = decode(&again).expect("what was encoded decodes");
        assert_eq!(encode(&decoded).expect("encodes"), again);
    }
});
