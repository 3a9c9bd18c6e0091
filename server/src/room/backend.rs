//! Where a relay keeps its rooms and how their ops are sequenced and fanned
//! out: one interface, [`Backend`], with one implementation per way a relay
//! can run.
//!
//! - [`Folder`] (the default): each room a `.tabula` file in the data folder
//!   (`store::SqliteLog`), its ops sequenced in batches by the shared writer
//!   threads, each batch one transaction; a room nobody uses is closed and
//!   reopened from its file.
//! - [`Memory`] (`--memory`): each room a `store::MemoryLog`, its ops
//!   sequenced inline on the proposing connection's task; rooms are never
//!   closed, their history lives nowhere else.
//! - Redis (`--redis URL`): the relay is one node of a cluster; the room's
//!   sequencer, log, snapshots and settings are in Redis, and its fan-out to
//!   the members on other nodes goes through Redis too.
//!
//! The registry (`super::registry`) asks a backend whether a room exists and
//! to open it; everything else a room does (join, propose, publish,
//! catch-ups, snapshots, settings) goes through what [`Backend::open`] gave
//! it: an [`crate::store::OpLog`] and a [`Commit`].

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Commit;
use super::writers::Writers;
use crate::store::{self, FileBudget, MemoryLog, OpLog, SqliteLog, StoreError};
use crate::sync::lock;

/// A room as a backend opens it: its log and the way its ops are sequenced.
#[derive(Debug)]
pub struct Opened {
    /// The room's log: ops, snapshots, settings.
    pub log: Box<dyn OpLog>,
    /// Where its ops are sequenced, stored and published.
    pub commit: Commit,
}

/// Where a relay keeps its rooms (see the module's documentation).
pub trait Backend: Send + Sync + fmt::Debug {
    /// Whether room `room` exists already, so that opening it creates
    /// nothing. Blocks on I/O: call it where blocking is fine.
    fn exists(&self, room: &str) -> bool;

    /// Opens room `room`, creating it if it is new. Blocks on I/O: call it
    /// where blocking is fine.
    fn open(&self, room: &str) -> Result<Opened, StoreError>;

    /// Whether a room nobody is in may be closed and later opened again
    /// from where it is kept (not for rooms whose history lives only in the
    /// relay's memory).
    fn reopens(&self) -> bool;
}

/// Rooms in memory, gone when the relay stops (`--memory`).
#[derive(Debug, Default)]
pub struct Memory;

impl Backend for Memory {
    fn exists(&self, _room: &str) -> bool {
        // A room in memory exists only while it is open, and then the
        // registry does not ask.
        false
    }

    fn open(&self, _room: &str) -> Result<Opened, StoreError> {
        // Without a disk write there is nothing to wait for: a room in memory
        // sequences on the proposing connection's task, with no thread.
        Ok(Opened {
            log: Box::new(MemoryLog::default()),
            commit: Commit::Inline,
        })
    }

    fn reopens(&self) -> bool {
        false
    }
}

/// Rooms in a data folder, one `.tabula` file each (the default).
#[derive(Debug)]
pub struct Folder {
    /// Where room files live (`DATA/rooms`).
    dir: PathBuf,
    /// How long a room's writer waits for more ops before it commits a batch
    /// to its file.
    group_commit_window: Duration,
    /// The writers every room with a file shares, started with the first
    /// such room. Every open room holds a clone; the writers end once all
    /// are gone.
    writers: Mutex<Option<Writers>>,
    /// The open room files, and how many may be.
    files: Arc<FileBudget>,
}

impl Folder {
    /// Rooms in `rooms_dir` (which exists), at most `max_open_files` of their
    /// files open at once, each committing what arrived within
    /// `group_commit_window` in one transaction.
    #[must_use]
    pub fn new(rooms_dir: PathBuf, group_commit_window: Duration, max_open_files: usize) -> Self {
        Self {
            dir: rooms_dir,
            group_commit_window,
            writers: Mutex::new(None),
            files: FileBudget::new(max_open_files),
        }
    }

    /// The shared writers, started on first use.
    fn writers(&self) -> Result<Writers, StoreError> {
        let mut slot = lock(&self.writers);
        if let Some(running) = &*slot {
            return Ok(running.clone());
        }
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let running = Writers::start(threads, self.group_commit_window)?;
        *slot = Some(running.clone());
        Ok(running)
    }

    /// The writers' handle, if they have started, for unit tests.
    #[cfg(test)]
    pub fn running_writers(&self) -> Option<Writers> {
        lock(&self.writers).clone()
    }
}

impl Backend for Folder {
    fn exists(&self, room: &str) -> bool {
        store::room_exists(&self.dir, room)
    }

    fn open(&self, room: &str) -> Result<Opened, StoreError> {
        let log = SqliteLog::open_within(&self.dir, room, &self.files)?;
        Ok(Opened {
            log: Box::new(log),
            commit: Commit::Writers(self.writers()?),
        })
    }

    fn reopens(&self) -> bool {
        true
    }
}
