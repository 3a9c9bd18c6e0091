//! Where a room's state lives: its op log (every sequenced op, kept as the
//! exact frame that was sent), its board snapshots and its settings.
//!
//! The log stores encoded frames rather than ops, so a catch-up re-sends the bytes
//! that went out live and never encodes anything again. It sits behind the small,
//! synchronous [`OpLog`] trait, one per room, with three implementations:
//! [`SqliteLog`] (`sqlite`: one `.tabula` session file per room, see
//! [`tabula_shared::session_file`]), [`MemoryLog`] (`memory`: a relay started
//! with `--memory`) and, for a relay that is one node of a cluster, a log in
//! Redis. Which one a relay's rooms get is the relay's `room::backend`.
//!
//! Besides its ops and snapshots, a room keeps *settings*: small named texts
//! ([`OpLog::setting`], [`OpLog::set_setting`]) that outlive the relay as the
//! log does, in the session file's `meta` table (as `setting.KEY`), in memory,
//! or in Redis. Whatever a room must remember beyond its history (a password's
//! verifier, who may do what) goes there, so every backend keeps it alike.
//!
//! A room also keeps the pictures its images show, as blobs named by their
//! SHA-256 ([`OpLog::put_blob`], [`OpLog::blob`]): once per room however
//! many images show one, in the session file's `blobs` table or in memory.
//!
//! Only the room's sequencer appends, and an append returns once the ops are
//! durable; readers (catch-ups) take the same lock a chunk at a time. A log is
//! never touched on a tokio worker: its appends run on a writer thread and
//! catch-ups read through `spawn_blocking`; only a [`MemoryLog`] is appended to
//! on the proposing connection's task.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tabula_shared::blob::{Blob, BlobId};
use tabula_shared::session_file::{SessionFileError, StoredSnapshot};
use tabula_shared::{ClientId, OpId};

mod memory;
pub mod redis;
mod sqlite;

#[cfg(test)]
mod tests;

pub use memory::MemoryLog;
pub use sqlite::{
    FileBudget, RELEASE_PAGES_AFTER, REST_AFTER, SETTING_PREFIX, SqliteLog, on_files_closed,
    room_exists, room_names, room_path, rooms_dir,
};
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
    /// Redis (a relay that is one node of a cluster) could not be reached,
    /// or refused a command.
    #[error("Redis at {address}: {cause}")]
    Redis {
        /// Its `HOST:PORT`.
        address: String,
        /// What the client said.
        cause: ::redis::RedisError,
    },
    /// An op in the log cannot be read back.
    #[error("op {seq} of the room's history cannot be read: {detail}")]
    Unreadable {
        /// Its sequence number.
        seq: u64,
        /// What is wrong with it.
        detail: String,
    },
    /// The rooms' writer threads, or the thread that closes quiet rooms'
    /// files, could not be started.
    #[error("could not start the rooms' threads: {0}")]
    Thread(io::Error),
    /// A picture the room keeps is not what its name says.
    #[error("the room's image {id} is damaged: {detail}")]
    DamagedBlob {
        /// The picture.
        id: BlobId,
        /// What is wrong with it.
        detail: String,
    },
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
    /// in order, and no more once they hold `max_bytes` (the first frame is
    /// read whatever its size).
    fn frames_between(
        &self,
        after: u64,
        up_to: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<Bytes>, StoreError>;

    /// The newest board snapshot kept, if any: where a reopened room's
    /// snapshots carry on (see `crate::snapshots`).
    fn latest_snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError>;

    /// Keeps a board snapshot taken after op `snapshot.seq`, which the log holds,
    /// so that it outlives the relay; older ones may be dropped. A log in memory
    /// keeps none: its room holds the latest itself.
    fn put_snapshot(&mut self, snapshot: &StoredSnapshot) -> Result<(), StoreError>;

    /// The room's setting `key`, if it has one (see the module's
    /// documentation).
    fn setting(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Sets the room's setting `key` to `value`, durably as an append is.
    fn set_setting(&mut self, key: &str, value: &str) -> Result<(), StoreError>;

    /// Keeps `blob` (an image's picture, its hash checked), durably as an
    /// append is, unless the room holds it already: `true` when it was new.
    fn put_blob(&mut self, blob: &Blob) -> Result<bool, StoreError>;

    /// Whether the room holds the blob named `id`.
    fn has_blob(&self, id: BlobId) -> Result<bool, StoreError>;

    /// The blob named `id`, if the room holds it.
    fn blob(&self, id: BlobId) -> Result<Option<Blob>, StoreError>;
}

/// A room's op log, shared by its writer (which appends), catch-ups (which read)
/// and its snapshots. A `std::sync::Mutex`: it is only ever taken on a writer or
/// snapshotter thread or in `spawn_blocking`, never on a tokio worker (a log in
/// memory excepted, which never blocks).
pub type SharedLog = Arc<Mutex<Box<dyn OpLog>>>;
