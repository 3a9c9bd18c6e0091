//! Writing frames to a peer's socket in runs of a few KiB.
//!
//! tungstenite gathers what it is given in a write buffer and keeps that
//! buffer's capacity for the life of the connection: one catch-up of a
//! thousand joins, or one burst of queued frames, written with a single
//! flush, left every connection of a big room holding 20 to 32 KiB it never
//! used again. A [`Run`] flushes before the frames fed since the last flush
//! would pass [`FLUSH_AT`], so the buffer never grows past it (but for a
//! single frame larger, which it must hold whole). That is one write to the
//! socket per 4 KiB of a busy connection's frames rather than per 16 KiB:
//! under a full fan-out load the difference did not show (BENCHMARKS,
//! "Presence"); in a town hall of 2,000 it is 20 KiB a member.

use bytes::Bytes;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::http::Ws;

/// The most bytes fed to tungstenite between two flushes (frames and their
/// headers), unless one frame alone is larger.
pub(super) const FLUSH_AT: usize = 4 * 1024;

/// The most header bytes tungstenite puts before a frame the relay sends
/// (unmasked, with a 64-bit length).
const HEADER_BYTES: usize = 10;

/// A run of frames on its way to one socket.
#[derive(Debug, Default)]
pub(super) struct Run {
    /// Bytes fed since the last flush.
    pending: usize,
}

impl Run {
    /// Feeds `frame` to the socket, flushing first what was fed before it if
    /// the two together would pass [`FLUSH_AT`].
    pub(super) async fn feed(&mut self, ws: &mut Ws, frame: Bytes) -> Result<(), WsError> {
        let size = frame.len() + HEADER_BYTES;
        if self.pending > 0 && self.pending + size > FLUSH_AT {
            ws.flush().await?;
            self.pending = 0;
        }
        ws.feed(Message::Binary(frame)).await?;
        self.pending += size;
        Ok(())
    }

    /// Flushes what was fed, ending the run.
    pub(super) async fn flush(mut self, ws: &mut Ws) -> Result<(), WsError> {
        self.pending = 0;
        ws.flush().await
    }
}
