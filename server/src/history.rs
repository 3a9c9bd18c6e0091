//! Reading stretches of a room's history for a connection: the catch-up after a
//! welcome, and the ops a member asks for with `FetchHistory`.
//!
//! A room's log may be a file, so every chunk is read in `spawn_blocking`, never
//! on a tokio worker. A requested stretch is read by a task of its own into a
//! channel one chunk deep, so that the connection keeps serving live traffic
//! while it writes the chunks out as they come.

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::room::CatchUp;

/// The most frames read from the log at a time.
pub const CHUNK_FRAMES: usize = 256;

/// A stretch's frames, a chunk at a time; an error says why the log could not
/// be read, and is the last thing it yields.
pub type Chunks = mpsc::Receiver<Result<Vec<Bytes>, String>>;

/// Reads the next chunk of `stretch` off the tokio workers: the stretch to go
/// on with and the chunk, `None` once it is all read.
pub async fn next_chunk(mut stretch: CatchUp) -> Result<(CatchUp, Option<Vec<Bytes>>), String> {
    let (stretch, chunk) = tokio::task::spawn_blocking(move || {
        let chunk = stretch.next_chunk(CHUNK_FRAMES);
        (stretch, chunk)
    })
    .await
    .map_err(|err| format!("the history reader failed: {err}"))?;
    Ok((stretch, chunk.map_err(|err| err.to_string())?))
}

/// Reads `stretch` in a task of its own, a chunk ahead of whoever receives.
/// The task ends when the stretch is read, the log fails, or the receiver is
/// dropped.
pub fn stream(mut stretch: CatchUp) -> Chunks {
    let (chunks, receiver) = mpsc::channel(1);
    tokio::spawn(async move {
        loop {
            match next_chunk(stretch).await {
                Ok((rest, Some(frames))) => {
                    stretch = rest;
                    if chunks.send(Ok(frames)).await.is_err() {
                        return;
                    }
                }
                Ok((_, None)) => return,
                Err(reason) => {
                    let _receiver_gone = chunks.send(Err(reason)).await;
                    return;
                }
            }
        }
    });
    receiver
}

/// The next chunk of the stream in progress, `None` once it has ended. With no
/// stream this never completes, so it can sit in a `select!` beside live
/// traffic.
pub async fn next_of(stream: &mut Option<Chunks>) -> Option<Result<Vec<Bytes>, String>> {
    match stream {
        Some(chunks) => chunks.recv().await,
        None => std::future::pending().await,
    }
}
