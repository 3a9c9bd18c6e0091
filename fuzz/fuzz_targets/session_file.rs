//! Any bytes as a `.tabula` file: opening it is refused with an error naming
//! the file, or it opens and every op, snapshot and board read from it
//! comes back or fails with an error; nothing panics or runs away. (Start
//! from the seeds in `fuzz/seeds/session_file`: real session files, so that
//! mutations reach past SQLite's header.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use tabula_shared::session_file::SessionFile;
use tabula_shared::{Board, decode_snapshot};

fuzz_target!(|bytes: &[u8]| {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("fuzzed.tabula");
    std::fs::write(&path, bytes).expect("written");
    let file = match SessionFile::open_read_only(&path) {
        Ok(file) => file,
        Err(err) => {
            assert!(err.to_string().contains("fuzzed.tabula"), "{err}");
            return;
        }
    };
    let _ = file.meta();
    let Ok(head) = file.head() else { return };
    let mut board = Board::default();
    for op in file.sequenced_ops(0).take(10_000) {
        match op {
            Ok(op) => {
                let _ = board.apply_sequenced(&op);
            }
            Err(_) => break,
        }
    }
    if let Ok(Some(stored)) = file.snapshot_at_or_before(head) {
        if let Ok(snapshot) = decode_snapshot(&stored.board) {
            let _ = Board::from_snapshot(snapshot);
        }
    }
    let _ = file.board_at(head.min(10_000));
});
