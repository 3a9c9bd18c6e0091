//! Writes the canvas benchmark's board to a `.tabula` file: 100,000 freehand
//! strokes of 50 points (a million ops), to open in the app and watch its
//! frame time (F12).
//!
//! `cargo run --release -p tabula-shared --example stroke_board -- OUT.tabula [STROKES]`

use tabula_shared::session_file::{SessionFile, StoredOp};

#[path = "../benches/support/strokes.rs"]
mod strokes;

/// Any error, boxed: an example needs no error types of its own.
type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .ok_or("usage: stroke_board OUT.tabula [STROKES]")?;
    let count: usize = args.next().map_or(Ok(100_000), |n| n.parse())?;
    let ops = strokes::stroke_ops(count);
    let mut file = SessionFile::create(&out, "strokes")?;
    for batch in ops.chunks(10_000) {
        let rows = batch
            .iter()
            .map(StoredOp::encode)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        file.append(&rows)?;
    }
    eprintln!("{out}: {count} strokes, {} ops", ops.len());
    Ok(())
}
