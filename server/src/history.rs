//! Reading stretches of a room's history for a connection: the catch-up after a
//! welcome, and the ops a member asks for with `FetchHistory`.
//!
//! A [`CatchUp`] is such a stretch, which the room hands out and which reads
//! itself from the room's log a chunk at a time. A room's log may be a file, so
//! every chunk is read in `spawn_blocking`, never on a tokio worker. A requested
//! stretch is read by a task of its own into a channel one chunk deep, so that
//! the connection keeps serving live traffic while it writes the chunks out as
//! they come.
//!
//! What is read for one connection at a time is bounded in bytes as well as
//! in frames ([`crate::Config::history_bytes`]): a catch-up holds one chunk
//! at a time, a requested stretch at most two (one being written, one read
//! ahead), each at most half the budget (but always at least one frame).

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::store::{SharedLog, StoreError};
use crate::sync::lock;

/// The most frames read from the log at a time.
pub const CHUNK_FRAMES: usize = 256;

/// A stretch of a room's history: what a joining member has not seen, or what a
/// member asked for. Read from the log a chunk at a time so that a long history
/// neither sits in memory whole nor holds the log.
#[derive(Debug)]
pub struct CatchUp {
    /// The room's log.
    log: SharedLog,
    /// The last sequence number handed out so far.
    after: u64,
    /// The last op of the stretch (for a joiner, the room's head when it joined;
    /// later ops come through its queue).
    up_to: u64,
}

impl CatchUp {
    /// The ops of `log` after `after` up to and including `up_to`.
    pub fn new(log: SharedLog, after: u64, up_to: u64) -> Self {
        Self { log, after, up_to }
    }

    /// How many ops are still to come.
    pub fn remaining(&self) -> u64 {
        self.up_to - self.after
    }

    /// The next frames, at most `limit` of them and, but for the first,
    /// `max_bytes` in all, or `None` when the catch-up is complete. Blocks on
    /// the log: call it from `spawn_blocking`.
    pub fn next_chunk(
        &mut self,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Option<Vec<Bytes>>, StoreError> {
        if self.after >= self.up_to {
            return Ok(None);
        }
        let frames = lock(&self.log).frames_between(self.after, self.up_to, limit, max_bytes)?;
        if frames.is_empty() {
            return Err(StoreError::HistoryGap {
                seq: self.after + 1,
            });
        }
        self.after += frames.len() as u64;
        Ok(Some(frames))
    }
}

/// A stretch's frames, a chunk at a time; an error says why the log could not
/// be read, and is the last thing it yields.
pub type Chunks = mpsc::Receiver<Result<Vec<Bytes>, String>>;

/// Reads the next chunk of `stretch` off the tokio workers, at most
/// `max_bytes` (but at least one frame): the stretch to go on with and the
/// chunk, `None` once it is all read.
pub async fn next_chunk(
    mut stretch: CatchUp,
    max_bytes: usize,
) -> Result<(CatchUp, Option<Vec<Bytes>>), String> {
    let (stretch, chunk) = tokio::task::spawn_blocking(move || {
        let chunk = stretch.next_chunk(CHUNK_FRAMES, max_bytes);
        (stretch, chunk)
    })
    .await
    .map_err(|err| format!("the history reader failed: {err}"))?;
    Ok((stretch, chunk.map_err(|err| err.to_string())?))
}

/// Reads `stretch` in a task of its own, a chunk ahead of whoever receives,
/// holding at most `budget` bytes: the chunk being written and the one read
/// ahead, half each. The task ends when the stretch is read, the log fails,
/// or the receiver is dropped.
pub fn stream(mut stretch: CatchUp, budget: usize) -> Chunks {
    let (chunks, receiver) = mpsc::channel(1);
    let half = (budget / 2).max(1);
    tokio::spawn(async move {
        loop {
            // Reads the next chunk only once the last has been taken: never
            // more than one waiting beside the one being written.
            let Ok(slot) = chunks.reserve().await else {
                return;
            };
            match next_chunk(stretch, half).await {
                Ok((rest, Some(frames))) => {
                    stretch = rest;
                    slot.send(Ok(frames));
                }
                Ok((_, None)) => return,
                Err(reason) => {
                    slot.send(Err(reason));
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
