//! A room's op log: every sequenced op, kept as the exact frame that was sent.
//!
//! The log stores encoded frames rather than ops, so a catch-up re-sends the bytes
//! that went out live and never encodes anything again. It sits behind the small,
//! synchronous [`OpLog`] trait with two implementations: [`SqliteLog`], one
//! `.tabula` session file per room (see [`tabula_shared::session_file`]), and
//! [`MemoryLog`] for a relay started without a data folder.
//!
//! Only the room's sequencer appends, and an append returns once the ops are
//! durable; readers (catch-ups) take the same lock a chunk at a time. A file is
//! never touched on a tokio worker: its appends run on a writer thread and
//! catch-ups read through `spawn_blocking`; only a [`MemoryLog`] is appended to
//! on the proposing connection's task.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tabula_shared::session_file::{
    EXTENSION, SessionFile, SessionFileError, StoredOp, StoredSnapshot,
};
use tabula_shared::{ClientId, OpId};

pub use tabula_shared::session_file::Stamp;

/// Why a room's storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The room's session file could not be opened, read or written.
    #[error(transparent)]
    File(#[from] SessionFileError),
    /// The room's data folder could not be made or read.
    #[error("{}: {cause}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// What the OS said.
        cause: io::Error,
    },
    /// The log lacks an op it should hold (its head says it is there).
    #[error("the room's history has no op {seq}")]
    HistoryGap {
        /// The first missing sequence number.
        seq: u64,
    },
    /// The rooms' writer threads could not be started.
    #[error("could not start the rooms' writer threads: {0}")]
    Thread(io::Error),
}

/// One op as the writer hands it to the log.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The op's id, for the resend index.
    pub op_id: OpId,
    /// Who proposed it.
    pub author: ClientId,
    /// Its sequence number and time.
    pub stamp: Stamp,
    /// The `ServerMessage::Op` frame, shared with the fan-out.
    pub frame: Bytes,
}

/// The history of one room, in sequence order.
///
/// Sequence numbers start at 1 and each batch given to [`append`](OpLog::append)
/// starts at `head() + 1` with no gaps; the room's writer guarantees that.
pub trait OpLog: Send + std::fmt::Debug {
    /// The latest op's stamp, `None` while the log is empty: where sequencing
    /// carries on, even after a restart.
    fn last_stamp(&self) -> Result<Option<Stamp>, StoreError>;

    /// How the op with this id was stamped, if it has been sequenced already: the
    /// index that makes resends idempotent.
    fn stamp_of(&self, op: OpId) -> Result<Option<Stamp>, StoreError>;

    /// Records newly sequenced ops, all or none. When this returns `Ok`, they
    /// survive a crash of the relay (for a durable log, a power cut too).
    fn append(&mut self, batch: &[Entry]) -> Result<(), StoreError>;

    /// Up to `limit` frames of the ops after `after` up to and including `up_to`,
    /// in order.
    fn frames_between(
        &self,
        after: u64,
        up_to: u64,
        limit: usize,
    ) -> Result<Vec<Bytes>, StoreError>;

    /// The newest board snapshot kept, if any: where a reopened room's
    /// snapshots carry on (see `crate::snapshots`).
    fn latest_snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError>;

    /// Keeps a board snapshot taken after op `snapshot.seq`, which the log holds,
    /// so that it outlives the relay; older ones may be dropped. A log in memory
    /// keeps none: its room holds the latest itself.
    fn put_snapshot(&mut self, snapshot: &StoredSnapshot) -> Result<(), StoreError>;
}

/// A room's op log, shared by its writer (which appends), catch-ups (which read)
/// and its snapshots. A `std::sync::Mutex`: it is only ever taken on a writer or
/// snapshotter thread or in `spawn_blocking`, never on a tokio worker (a log in
/// memory excepted, which never blocks).
pub type SharedLog = Arc<Mutex<Box<dyn OpLog>>>;

/// An [`OpLog`] in a `.tabula` session file: durable, and readable by the app.
#[derive(Debug)]
pub struct SqliteLog {
    /// The open file, in WAL mode with `synchronous = FULL`.
    file: SessionFile,
}

/// The page cache of one room's file, in KiB. A room appends at the end of its
/// file and a catch-up reads it in order, so a few pages do; with `SQLite`'s
/// default of 2 MiB, a thousand open rooms could hold gigabytes of cache.
const ROOM_CACHE_KIB: u32 = 64;

/// How many snapshots a room's file keeps. Joins only ever use the newest; the
/// one before it stays in case the newest is being read when it is replaced.
const SNAPSHOTS_KEPT: usize = 2;

impl SqliteLog {
    /// Opens the room's file in `rooms_dir`, creating it if the room is new.
    pub fn open_or_create(rooms_dir: &Path, room: &str) -> Result<Self, StoreError> {
        let file = SessionFile::open_or_create(room_path(rooms_dir, room), room)?;
        // Also drops what the integrity check on opening read into the cache.
        file.limit_cache(ROOM_CACHE_KIB)?;
        Ok(Self { file })
    }
}

impl OpLog for SqliteLog {
    fn last_stamp(&self) -> Result<Option<Stamp>, StoreError> {
        Ok(self.file.last_stamp()?)
    }

    fn stamp_of(&self, op: OpId) -> Result<Option<Stamp>, StoreError> {
        Ok(self.file.stamp_of(op)?)
    }

    fn append(&mut self, batch: &[Entry]) -> Result<(), StoreError> {
        let rows: Vec<StoredOp> = batch
            .iter()
            .map(|entry| StoredOp {
                stamp: entry.stamp,
                op_id: entry.op_id,
                author: entry.author,
                frame: entry.frame.to_vec(),
            })
            .collect();
        Ok(self.file.append(&rows)?)
    }

    fn frames_between(
        &self,
        after: u64,
        up_to: u64,
        limit: usize,
    ) -> Result<Vec<Bytes>, StoreError> {
        Ok(self
            .file
            .frames_between(after, up_to, limit)?
            .into_iter()
            .map(Bytes::from)
            .collect())
    }

    fn latest_snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError> {
        let head = self.file.head()?;
        Ok(self.file.snapshot_at_or_before(head)?)
    }

    fn put_snapshot(&mut self, snapshot: &StoredSnapshot) -> Result<(), StoreError> {
        self.file.put_snapshot(snapshot)?;
        self.file.prune_snapshots(SNAPSHOTS_KEPT)?;
        Ok(())
    }
}

/// The folder of room files inside a data folder.
#[must_use]
pub fn rooms_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("rooms")
}

/// A room's file: `ROOMS/<room>.tabula`. Room names are letters, digits, `-`,
/// `_` and `.` only (`tabula_shared::room_name`), so they are safe file names.
#[must_use]
pub fn room_path(rooms_dir: &Path, room: &str) -> PathBuf {
    rooms_dir.join(format!("{room}.{EXTENSION}"))
}

/// Every room with a file in `rooms_dir`, by name, sorted.
pub fn room_names(rooms_dir: &Path) -> Result<Vec<String>, StoreError> {
    let folder_error = |cause| StoreError::Folder {
        path: rooms_dir.to_path_buf(),
        cause,
    };
    let mut names = Vec::new();
    for entry in fs::read_dir(rooms_dir).map_err(folder_error)? {
        let path = entry.map_err(folder_error)?.path();
        if path.extension().is_some_and(|ext| ext == EXTENSION)
            && let Some(name) = path.file_stem().and_then(|stem| stem.to_str())
            && tabula_shared::room_name::validate(name).is_ok()
        {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// An [`OpLog`] that lives in memory and is gone when the relay stops.
#[derive(Default)]
pub struct MemoryLog {
    /// The frames in sequence order: the frame of `seq` is at index `seq - 1`,
    /// which makes a catch-up a slice copy.
    frames: Vec<Bytes>,
    /// Op id to stamp, to recognise a resend without scanning the log.
    index: HashMap<OpId, Stamp>,
    /// The latest stamp, for [`OpLog::last_stamp`].
    last: Option<Stamp>,
}

impl std::fmt::Debug for MemoryLog {
    /// The size, not the contents: a log can hold millions of frames.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryLog")
            .field("ops", &self.frames.len())
            .finish_non_exhaustive()
    }
}

impl OpLog for MemoryLog {
    fn last_stamp(&self) -> Result<Option<Stamp>, StoreError> {
        Ok(self.last)
    }

    fn stamp_of(&self, op: OpId) -> Result<Option<Stamp>, StoreError> {
        Ok(self.index.get(&op).copied())
    }

    fn append(&mut self, batch: &[Entry]) -> Result<(), StoreError> {
        for entry in batch {
            debug_assert_eq!(
                entry.stamp.seq,
                self.frames.len() as u64 + 1,
                "ops are appended in order"
            );
            self.frames.push(entry.frame.clone());
            self.index.insert(entry.op_id, entry.stamp);
            self.last = Some(entry.stamp);
        }
        Ok(())
    }

    fn frames_between(
        &self,
        after: u64,
        up_to: u64,
        limit: usize,
    ) -> Result<Vec<Bytes>, StoreError> {
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        let end = usize::try_from(up_to)
            .unwrap_or(usize::MAX)
            .min(self.frames.len())
            .min(start.saturating_add(limit));
        Ok(self.frames.get(start..end).unwrap_or_default().to_vec())
    }

    fn latest_snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError> {
        Ok(None)
    }

    fn put_snapshot(&mut self, _snapshot: &StoredSnapshot) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(n: u64) -> Vec<Entry> {
        (1..=n)
            .map(|seq| Entry {
                op_id: OpId::random(),
                author: ClientId::random(),
                stamp: Stamp {
                    seq,
                    timestamp_ms: 100 + seq,
                },
                frame: Bytes::from(vec![seq as u8; 3]),
            })
            .collect()
    }

    /// The two logs answer every question the same way.
    fn check(log: &mut dyn OpLog) {
        assert_eq!(log.last_stamp().unwrap(), None);
        assert!(log.frames_between(0, 10, 10).unwrap().is_empty());
        let ops = entries(5);
        log.append(&ops[..2]).unwrap();
        log.append(&ops[2..]).unwrap();
        assert_eq!(log.last_stamp().unwrap(), Some(ops[4].stamp));
        let frames = |after, up_to, limit| log.frames_between(after, up_to, limit).unwrap();
        let expected: Vec<Bytes> = ops.iter().map(|e| e.frame.clone()).collect();
        assert_eq!(frames(0, 5, 100), expected);
        assert_eq!(frames(1, 3, 100), expected[1..3].to_vec());
        assert_eq!(frames(0, 5, 2), expected[..2].to_vec());
        assert!(frames(5, 5, 100).is_empty());
        assert!(frames(u64::MAX, u64::MAX, 100).is_empty());
        assert_eq!(log.stamp_of(ops[3].op_id).unwrap(), Some(ops[3].stamp));
        assert_eq!(log.stamp_of(OpId::random()).unwrap(), None);
    }

    #[test]
    fn the_memory_log_keeps_frames_in_order_and_indexes_ids() {
        check(&mut MemoryLog::default());
    }

    #[test]
    fn the_sqlite_log_does_the_same_and_outlives_its_process() {
        let dir = tempfile::tempdir().unwrap();
        let rooms = rooms_dir(dir.path());
        fs::create_dir_all(&rooms).unwrap();
        check(&mut SqliteLog::open_or_create(&rooms, "kept").unwrap());
        let reopened = SqliteLog::open_or_create(&rooms, "kept").unwrap();
        assert_eq!(reopened.last_stamp().unwrap().map(|s| s.seq), Some(5));
        SqliteLog::open_or_create(&rooms, "other.room").unwrap();
        fs::write(rooms.join("notes.txt"), "not a room").unwrap();
        assert_eq!(room_names(&rooms).unwrap(), vec!["kept", "other.room"]);
    }
}
