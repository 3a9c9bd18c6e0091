//! A sequence of frames, each decoded as a relay's op and applied to a board
//! in order (sequence numbers as they come: gaps and repeats included): the
//! board never panics, holds only objects within the caps, and a board built
//! from its snapshot is the same board.
//!
//! Input: frames, each a little-endian `u16` length and that many bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tabula_shared::{Board, ClientId, ServerMessage, decode};

fuzz_target!(|input: &[u8]| {
    let mut board = Board::default();
    let mut local = Board::default();
    let me = ClientId(uuid_of(input));
    let mut rest = input;
    while rest.len() >= 2 {
        let length = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
        let frame = &rest[..length.min(rest.len())];
        rest = &rest[frame.len()..];
        if let Ok(ServerMessage::Op(op)) = decode::<ServerMessage>(frame) {
            let _ = board.apply_sequenced(&op);
            // The same op as one of our own, then confirmed: the optimistic
            // path.
            let _ = local.apply_local(me, op.op.clone());
            let _ = local.confirm(op.op.id, op.seq, op.timestamp_ms);
        }
    }
    for object in board.objects() {
        assert!(object.is_well_formed(), "{object:?}");
    }
    let rebuilt = Board::from_snapshot(board.snapshot());
    assert_eq!(rebuilt.snapshot(), board.snapshot());
});

/// A client id from the input, so runs are repeatable.
fn uuid_of(input: &[u8]) -> uuid::Uuid {
    let mut bytes = [0_u8; 16];
    for (slot, byte) in bytes.iter_mut().zip(input) {
        *slot = *byte;
    }
    uuid::Uuid::from_bytes(bytes)
}
