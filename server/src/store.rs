//! A room's op log: every sequenced op, kept as the exact frame that was sent.
//!
//! The log stores encoded frames rather than ops, so a catch-up re-sends the bytes
//! that went out live and never encodes anything again. It sits behind the small,
//! synchronous [`OpLog`] trait because a durable implementation (`SQLite`) will
//! replace [`MemoryLog`]; the room calls it while holding its lock, which is why it
//! must not be async.

use std::collections::HashMap;

use bytes::Bytes;
use tabula_shared::OpId;

/// What the relay stamped on an op when it sequenced it; enough to answer a resend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// The op's place in the room's order.
    pub seq: u64,
    /// When it was sequenced, in milliseconds since the Unix epoch, so the ack of a
    /// resend carries the same time as the first ack.
    pub timestamp_ms: u64,
}

/// The history of one room, in sequence order.
///
/// Sequence numbers start at 1 and each [`append`](OpLog::append) is given
/// `head() + 1`; the room guarantees that, implementations may rely on it.
pub trait OpLog: Send + std::fmt::Debug {
    /// The latest sequence number, 0 while the log is empty.
    fn head(&self) -> u64;

    /// How the op with this id was stamped, if it has been sequenced already: the
    /// index that makes resends idempotent.
    fn stamp_of(&self, op: OpId) -> Option<Stamp>;

    /// Records the frame of a newly sequenced op.
    fn append(&mut self, op: OpId, stamp: Stamp, frame: Bytes);

    /// The frames of every op with a sequence number above `seq`, in order.
    fn frames_after(&self, seq: u64) -> Vec<Bytes>;
}

/// An [`OpLog`] that lives in memory and is gone when the relay stops.
#[derive(Default)]
pub struct MemoryLog {
    /// The frames in sequence order: the frame of `seq` is at index `seq - 1`,
    /// which makes a catch-up a slice copy.
    frames: Vec<Bytes>,
    /// Op id to stamp, to recognise a resend without scanning the log.
    index: HashMap<OpId, Stamp>,
}

impl std::fmt::Debug for MemoryLog {
    /// The size, not the contents: a log can hold millions of frames.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryLog")
            .field("head", &self.head())
            .finish_non_exhaustive()
    }
}

impl OpLog for MemoryLog {
    fn head(&self) -> u64 {
        self.frames.len() as u64
    }

    fn stamp_of(&self, op: OpId) -> Option<Stamp> {
        self.index.get(&op).copied()
    }

    fn append(&mut self, op: OpId, stamp: Stamp, frame: Bytes) {
        debug_assert_eq!(stamp.seq, self.head() + 1, "ops are appended in order");
        self.frames.push(frame);
        self.index.insert(op, stamp);
    }

    fn frames_after(&self, seq: u64) -> Vec<Bytes> {
        let start = usize::try_from(seq).unwrap_or(usize::MAX);
        self.frames.get(start..).unwrap_or_default().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u8) -> Bytes {
        Bytes::from(vec![n])
    }

    #[test]
    fn keeps_frames_in_order_and_indexes_ids() {
        let mut log = MemoryLog::default();
        assert_eq!(log.head(), 0);
        assert!(log.frames_after(0).is_empty());
        let ids: Vec<OpId> = (0..3).map(|_| OpId::random()).collect();
        for (i, id) in ids.iter().enumerate() {
            let seq = i as u64 + 1;
            log.append(
                *id,
                Stamp {
                    seq,
                    timestamp_ms: 100 + seq,
                },
                frame(i as u8),
            );
        }
        assert_eq!(log.head(), 3);
        assert_eq!(log.frames_after(0), vec![frame(0), frame(1), frame(2)]);
        assert_eq!(log.frames_after(2), vec![frame(2)]);
        assert!(log.frames_after(3).is_empty());
        assert!(log.frames_after(u64::MAX).is_empty());
        assert_eq!(
            log.stamp_of(ids[1]),
            Some(Stamp {
                seq: 2,
                timestamp_ms: 102
            })
        );
        assert_eq!(log.stamp_of(OpId::random()), None);
    }
}
