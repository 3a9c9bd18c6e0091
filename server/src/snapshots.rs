//! Board snapshots of rooms, so that a late joiner gets the board and a short
//! tail of ops instead of the room's whole history.
//!
//! Each room has a [`RoomSnapshots`]: the latest snapshot, in memory and (for a
//! room with a file) in the file's `snapshots` table. Whenever a room publishes
//! ops and its head has moved [`RoomSnapshots::every`] ops past its latest
//! snapshot, it hands itself to the [`Snapshotter`], one named OS thread shared
//! by every room. The snapshotter takes the latest snapshot (or an empty board),
//! applies the published ops after it, read from the room's log a chunk at a
//! time, and stores the new snapshot. Nothing keeps a board in memory between
//! snapshots: a room costs its latest encoded snapshot, nothing more.
//!
//! Beside each snapshot the snapshotter keeps the room's [`Record`] as of
//! the same op (how it is run: roles, kicks, the lock, view-only), in the
//! room's settings, so that a room opens from it rather than from its
//! whole history (see [`crate::record`]).
//!
//! A snapshot only ever covers published ops (the snapshotter reads up to the
//! head the room had published when it asked), so a joiner that starts from it
//! finds every later op in its catch-up or its queue.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use tabula_shared::codec::SNAPSHOT_FORMAT;
use tabula_shared::session_file::StoredSnapshot;
use tabula_shared::{
    Board, DecodeError, EncodeError, SNAPSHOT_PART_BYTES, ServerMessage, SnapshotHeader, decode,
    decode_snapshot, encode_snapshot,
};
use tracing::{debug, warn};

use crate::frame::encode_frame;
use crate::record::{self, CHECKPOINT_SETTING, Record, Ruling};
use crate::store::{SharedLog, StoreError};
use crate::sync::lock;

/// How many ops the snapshotter reads from a log at a time.
const READ_CHUNK: usize = 4096;
/// The most bytes of ops the snapshotter reads at a time (but at least one op).
const READ_CHUNK_BYTES: usize = 32 * 1024 * 1024;

/// Why a snapshot could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The log could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored op or the previous snapshot could not be decoded.
    #[error("a stored frame could not be decoded: {0}")]
    Decode(#[from] DecodeError),
    /// The board could not be encoded.
    #[error("the board could not be encoded: {0}")]
    Encode(#[from] EncodeError),
    /// The log holds something other than an op where an op should be.
    #[error("the log holds something other than an op at {seq}")]
    NotAnOp {
        /// Where.
        seq: u64,
    },
}

/// A room's board after op `seq`, encoded (see
/// [`tabula_shared::codec::encode_snapshot`]).
#[derive(Debug)]
pub struct RoomSnapshot {
    /// The last op it includes.
    pub seq: u64,
    /// The encoded board.
    bytes: Bytes,
}

impl RoomSnapshot {
    /// What a welcome says about it.
    pub fn header(&self) -> SnapshotHeader {
        SnapshotHeader {
            seq: self.seq,
            bytes: self.bytes.len() as u64,
            parts: u32::try_from(self.bytes.len().div_ceil(SNAPSHOT_PART_BYTES))
                .unwrap_or(u32::MAX),
        }
    }

    /// The frame of part `index` (of [`SnapshotHeader::parts`]).
    pub fn part(&self, index: usize) -> Result<Bytes, EncodeError> {
        let start = (index * SNAPSHOT_PART_BYTES).min(self.bytes.len());
        let end = (start + SNAPSHOT_PART_BYTES).min(self.bytes.len());
        encode_frame(&ServerMessage::SnapshotPart(
            self.bytes[start..end].to_vec(),
        ))
    }
}

/// The snapshots of one room.
#[derive(Debug)]
pub struct RoomSnapshots {
    /// The room's name, for logs.
    room: String,
    /// The room's log: ops to read, snapshots to keep.
    log: SharedLog,
    /// The latest snapshot.
    latest: Mutex<Option<Arc<RoomSnapshot>>>,
    /// Whether the snapshotter has this room in hand, so it is asked only once.
    building: AtomicBool,
    /// After a failed snapshot, the head before which no other is tried, so a
    /// room whose snapshots fail does not ask again on every op.
    retry_at: AtomicU64,
    /// How many ops past the latest snapshot make a new one (at the least; see
    /// [`Self::due`]).
    every: u64,
    /// The latest head the room published, so that a snapshot finished while
    /// the room went quiet can see whether another is due at once.
    published: AtomicU64,
    /// Where to ask for one.
    snapshotter: Snapshotter,
}

impl RoomSnapshots {
    /// The snapshots of a room on `log`, starting from the newest the log keeps
    /// (one of another format is ignored). Reads the log: call it where blocking
    /// is fine.
    pub fn open(
        room: &str,
        log: SharedLog,
        every: u64,
        snapshotter: Snapshotter,
    ) -> Result<Arc<Self>, StoreError> {
        let stored = lock(&log).latest_snapshot()?;
        let latest = stored
            .filter(|stored| stored.format == SNAPSHOT_FORMAT)
            .map(|stored| {
                Arc::new(RoomSnapshot {
                    seq: stored.seq,
                    bytes: Bytes::from(stored.board),
                })
            });
        Ok(Arc::new(Self {
            room: room.to_owned(),
            log,
            latest: Mutex::new(latest),
            building: AtomicBool::new(false),
            retry_at: AtomicU64::new(0),
            published: AtomicU64::new(0),
            every: every.max(1),
            snapshotter,
        }))
    }

    /// How many ops past the latest snapshot make a new one.
    pub fn every(&self) -> u64 {
        self.every
    }

    /// The latest snapshot, if any.
    pub fn latest(&self) -> Option<Arc<RoomSnapshot>> {
        lock(&self.latest).clone()
    }

    /// How many ops past `latest` make a new snapshot due: [`Self::every`], or
    /// one op per KiB of the latest snapshot if that is more, so that a huge
    /// board (each snapshot decodes, applies and encodes it whole) is not
    /// rebuilt more often than its size is worth. A 54 MB board of 50,000
    /// strokes gets one every ~52,000 ops; the tail a joiner gets stays short.
    fn due(&self, latest: Option<&RoomSnapshot>) -> u64 {
        let size_kib = latest.map_or(0, |s| s.bytes.len() as u64 / 1024);
        self.every.max(size_kib)
    }

    /// The room has published up to `head`: asks for a snapshot if the latest is
    /// [`Self::due`] ops behind and none is being made. Cheap; never blocks.
    pub fn published(self: &Arc<Self>, head: u64) {
        self.published.fetch_max(head, Ordering::AcqRel);
        let latest = self.latest();
        let behind = latest.as_ref().map_or(0, |s| s.seq);
        if head.saturating_sub(behind) < self.due(latest.as_deref())
            || head < self.retry_at.load(Ordering::Acquire)
            || self.building.swap(true, Ordering::AcqRel)
        {
            return;
        }
        if self
            .snapshotter
            .jobs
            .send((Arc::clone(self), head))
            .is_err()
        {
            self.building.store(false, Ordering::Release);
        }
    }

    /// Makes and keeps the snapshot after op `up_to`, which the room has
    /// published: the latest snapshot with the ops after it applied.
    fn build(&self, up_to: u64) -> Result<Arc<RoomSnapshot>, SnapshotError> {
        let (mut board, mut after) = match self.latest() {
            Some(latest) if latest.seq <= up_to => (
                Board::from_snapshot(decode_snapshot(&latest.bytes)?),
                latest.seq,
            ),
            _ => (Board::new(), 0),
        };
        let mut ruled = self.record_at(after);
        while after < up_to {
            let frames =
                lock(&self.log).frames_between(after, up_to, READ_CHUNK, READ_CHUNK_BYTES)?;
            if frames.is_empty() {
                return Err(StoreError::HistoryGap { seq: after + 1 }.into());
            }
            for frame in frames {
                after += 1;
                let ServerMessage::Op(op) = decode(&frame)? else {
                    return Err(SnapshotError::NotAnOp { seq: after });
                };
                if let (Some(ruled), Some(ruling)) =
                    (ruled.as_mut(), Ruling::of(op.author, &op.op.kind))
                {
                    ruled.apply(&ruling);
                }
                board.apply_sequenced(&op);
            }
        }
        let bytes = encode_snapshot(&board.snapshot())?;
        let stored = StoredSnapshot {
            seq: up_to,
            format: SNAPSHOT_FORMAT,
            board: bytes,
        };
        lock(&self.log).put_snapshot(&stored)?;
        if let Some(ruled) = ruled {
            // Without it, the room opens from an older one, or from its
            // first op: slower, never wrong.
            if let Err(err) =
                lock(&self.log).set_setting(CHECKPOINT_SETTING, &ruled.to_setting(up_to))
            {
                warn!(room = %self.room, %err, "could not keep the room's record beside its snapshot");
            }
        }
        let snapshot = Arc::new(RoomSnapshot {
            seq: up_to,
            bytes: Bytes::from(stored.board),
        });
        *lock(&self.latest) = Some(Arc::clone(&snapshot));
        Ok(snapshot)
    }
}

impl RoomSnapshots {
    /// The room's record as of op `seq`, or `None` (logged) if the log
    /// cannot say: the snapshot is made without one.
    fn record_at(&self, seq: u64) -> Option<Record> {
        let log = lock(&self.log);
        record::read(log.as_ref(), seq)
            .map_err(|err| warn!(room = %self.room, %err, "could not read the room's record"))
            .ok()
    }
}

/// The thread that makes every room's snapshots, one at a time. Cloned into
/// each room; the thread ends once every clone is gone.
#[derive(Clone, Debug)]
pub struct Snapshotter {
    /// Rooms asking for a snapshot, with the head to take it at.
    jobs: Sender<(Arc<RoomSnapshots>, u64)>,
}

impl Snapshotter {
    /// Starts the thread.
    pub fn start() -> Result<Self, StoreError> {
        let (jobs, queue) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("tabula-snapshots".to_owned())
            .spawn(move || make_snapshots(&queue))
            .map_err(StoreError::Thread)?;
        Ok(Self { jobs })
    }
}

/// The snapshotter's loop.
fn make_snapshots(queue: &Receiver<(Arc<RoomSnapshots>, u64)>) {
    while let Ok((room, head)) = queue.recv() {
        let started = Instant::now();
        match room.build(head) {
            Ok(snapshot) => debug!(
                room = %room.room,
                seq = snapshot.seq,
                bytes = snapshot.bytes.len(),
                ms = started.elapsed().as_millis(),
                "stored a snapshot"
            ),
            // The room works on without it: joiners get more ops to catch up.
            Err(err) => {
                warn!(room = %room.room, %err, "could not make a snapshot");
                room.retry_at
                    .store(head.saturating_add(room.every), Ordering::Release);
            }
        }
        room.building.store(false, Ordering::Release);
        // Ops published while this one was made may already call for the next,
        // and a room that has gone quiet would not ask again.
        let head = room.published.load(Ordering::Acquire);
        room.published(head);
    }
    debug!("the snapshotter stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_goes_out_in_parts_no_longer_than_snapshot_part_bytes() {
        let bytes: Vec<u8> = (0..2 * SNAPSHOT_PART_BYTES + 10)
            .map(|i| (i % 251) as u8)
            .collect();
        let snapshot = RoomSnapshot {
            seq: 7,
            bytes: Bytes::from(bytes.clone()),
        };
        let header = snapshot.header();
        assert_eq!(header.seq, 7);
        assert_eq!(header.bytes, bytes.len() as u64);
        assert_eq!(header.parts, 3);
        let mut joined = Vec::new();
        for index in 0..header.parts as usize {
            let frame = snapshot.part(index).unwrap();
            let ServerMessage::SnapshotPart(part) = decode(&frame).unwrap() else {
                panic!("part {index} is not a snapshot part");
            };
            assert!(
                part.len() <= SNAPSHOT_PART_BYTES,
                "part {index}: {}",
                part.len()
            );
            joined.extend(part);
        }
        assert_eq!(joined, bytes);
    }
}
