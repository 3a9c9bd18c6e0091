//! Any bytes as a snapshot (from a relay or a file): decoding returns a
//! snapshot or an error; a board built from it holds only objects within the
//! caps, and everything a painter asks of them answers without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tabula_shared::{Board, Point, decode_snapshot};

fuzz_target!(|bytes: &[u8]| {
    let Ok(snapshot) = decode_snapshot(bytes) else {
        return;
    };
    let board = Board::from_snapshot(snapshot);
    for object in board.objects() {
        assert!(object.is_well_formed(), "{object:?}");
        let bounds = object.bounds();
        let _ = object.distance(Point::new(bounds.min.x, bounds.max.y));
        let _ = object.points().count();
    }
    let again = Board::from_snapshot(board.snapshot());
    assert_eq!(again.malformed(), 0, "what a board holds is well formed");
});
