//! Joining from a snapshot: receiving the board the welcome announces, and
//! fetching the history it stands for.
//!
//! A relay answers a client that is far behind with the room's latest board
//! snapshot and only the ops after it. The board is all the canvas needs, so
//! the client is live at once; the ops the snapshot skipped are still wanted
//! (File → Save writes the whole history, a replay plays it), so the task
//! remembers each skipped stretch as a *gap* and, once live, asks for the gaps
//! one at a time. Their ops arrive as ordinary ops older than the board, among
//! the live traffic, and go to the UI as [`Event::History`](super::Event).

use std::collections::VecDeque;
use std::time::Duration;

use tabula_shared::codec::MAX_SNAPSHOT_BYTES;
use tabula_shared::{Board, ClientMessage, ServerMessage, SnapshotHeader, decode_snapshot};

use super::Ended;
use super::socket::{Socket, receive_message};

/// How long each part of a snapshot may take to arrive.
const PART_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads the snapshot `header` announces, part by part, and builds its board
/// off the async workers.
pub(super) async fn receive_snapshot(
    socket: &mut Socket,
    header: SnapshotHeader,
) -> Result<Board, Ended> {
    let lost = |reason: String| Ended::lost(reason, true);
    let size = usize::try_from(header.bytes).unwrap_or(usize::MAX);
    if size > MAX_SNAPSHOT_BYTES {
        return Err(Ended::Refused(format!(
            "the relay announced a board of {size} bytes, more than the {MAX_SNAPSHOT_BYTES}-byte limit"
        )));
    }
    let mut bytes = Vec::with_capacity(size);
    for part in 0..header.parts {
        let message = tokio::time::timeout(PART_TIMEOUT, receive_message(socket))
            .await
            .map_err(|_| lost("the room's board stopped arriving".to_owned()))??;
        let ServerMessage::SnapshotPart(chunk) = message else {
            return Err(lost(format!(
                "the relay sent {message:?} where part {part} of the board belonged"
            )));
        };
        if bytes.len() + chunk.len() > size {
            return Err(lost("the room's board is longer than announced".to_owned()));
        }
        bytes.extend_from_slice(&chunk);
    }
    if bytes.len() != size {
        return Err(lost(
            "the room's board is shorter than announced".to_owned(),
        ));
    }
    let built =
        tokio::task::spawn_blocking(move || decode_snapshot(&bytes).map(Board::from_snapshot))
            .await
            .map_err(|err| lost(format!("reading the room's board failed: {err}")))?;
    let board = built.map_err(|err| lost(format!("the room's board does not decode: {err}")))?;
    if board.last_seq() == header.seq {
        Ok(board)
    } else {
        Err(lost(format!(
            "the room's board is as of op {}, not {} as announced",
            board.last_seq(),
            header.seq
        )))
    }
}

/// The stretches of history a snapshot skipped, to fetch once live.
#[derive(Debug, Default)]
pub(super) struct Backfill {
    /// Each gap as (the last op before it we hold, the last op it lacks), in
    /// order; the front one is being (or will next be) fetched.
    gaps: VecDeque<(u64, u64)>,
    /// Whether the front gap has been asked for on this connection.
    asked: bool,
}

impl Backfill {
    /// A snapshot took the board from op `had` to op `now`: the ops between are
    /// a gap.
    pub(super) fn skipped(&mut self, had: u64, now: u64) {
        if now > had {
            self.gaps.push_back((had, now));
        }
    }

    /// The room's history started over: no old gap can be filled any more.
    pub(super) fn forget(&mut self) {
        self.gaps.clear();
        self.asked = false;
    }

    /// A new connection: nothing has been asked for on it yet.
    pub(super) fn reconnected(&mut self) {
        self.asked = false;
    }

    /// The request to send now, if a gap is waiting and none is being fetched.
    pub(super) fn request(&mut self) -> Option<ClientMessage> {
        let &(after, up_to) = self.gaps.front()?;
        if self.asked {
            return None;
        }
        self.asked = true;
        Some(ClientMessage::FetchHistory { after, up_to })
    }

    /// Whether an op older than the board, numbered `seq`, is the next one of
    /// the gap being fetched (it then counts as filled); `false` for anything
    /// else, a duplicate to ignore.
    pub(super) fn fills(&mut self, seq: u64) -> bool {
        let Some(front) = self.gaps.front_mut() else {
            return false;
        };
        if !self.asked || seq != front.0 + 1 {
            return false;
        }
        front.0 = seq;
        if front.0 == front.1 {
            self.gaps.pop_front();
            self.asked = false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_asked_for_one_at_a_time_and_filled_in_order() {
        let mut backfill = Backfill::default();
        assert_eq!(backfill.request(), None);
        backfill.skipped(0, 3);
        backfill.skipped(5, 5);
        backfill.skipped(6, 7);
        assert!(!backfill.fills(1), "not asked for yet");
        assert_eq!(
            backfill.request(),
            Some(ClientMessage::FetchHistory { after: 0, up_to: 3 })
        );
        assert_eq!(backfill.request(), None, "one at a time");
        assert!(backfill.fills(1));
        assert!(!backfill.fills(1), "a duplicate");
        assert!(!backfill.fills(3), "out of order");
        backfill.reconnected();
        assert_eq!(
            backfill.request(),
            Some(ClientMessage::FetchHistory { after: 1, up_to: 3 }),
            "a new connection asks again from where the gap stands"
        );
        assert!(backfill.fills(2) && backfill.fills(3));
        assert_eq!(
            backfill.request(),
            Some(ClientMessage::FetchHistory { after: 6, up_to: 7 })
        );
        assert!(backfill.fills(7));
        assert_eq!(backfill.request(), None);
        backfill.skipped(10, 20);
        backfill.forget();
        assert_eq!(backfill.request(), None);
    }
}
