//! The save queue: one save at a time, the others waiting their turn, and
//! what a file is known to hold of the board.
//!
//! A save runs on its own thread ([`super::saving`]) while the board stays in
//! use. A save asked for meanwhile waits its turn, each file at most once,
//! and starts in turn with the board as it is then: saves never interleave,
//! and the last one asked for has everything. The queue also remembers what
//! the file the board came from (or was last saved to) holds of the board's
//! log ([`InFile`]), so that a save there hands over only the ops after it,
//! and counts the boards put on screen, so that a save that ends after
//! another board came says nothing about the new one.
//!
//! It is a plain state machine: it starts no thread and reads no file. Its
//! owner ([`Documents`](super::documents::Documents)) asks whether a save may
//! start ([`SaveQueue::ask`]), starts it and hands over its handle
//! ([`SaveQueue::started`]), polls the handle, and says how it ended
//! ([`SaveQueue::finished`]); the queue says what that means and which save
//! comes next ([`SaveQueue::next_save`]).

use std::path::{Path, PathBuf};

use tabula_shared::{OpId, SequencedOp};

use super::FileError;
use super::saving::Saved;

/// What a file is known to hold of the board on screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InFile {
    /// The file.
    pub path: PathBuf,
    /// It holds the first this many ops of the session's log (and no more).
    pub ops: u64,
    /// The op its newest snapshot stands for, 0 if none or unknown.
    pub snapshot: u64,
}

/// Where a save of the board's log to a file can start, from what the file
/// is known to hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// `Some((n, id))` when the file holds the log's first `n` ops, op `n`
    /// being `id`: the save appends the ops after them. `None`: the save
    /// writes the whole log.
    pub after: Option<(u64, OpId)>,
    /// The op the file's newest snapshot stands for, 0 if none or unknown.
    pub newest_snapshot: u64,
}

impl Plan {
    /// How many of the log's ops the save leaves out.
    #[must_use]
    pub fn from(&self) -> u64 {
        self.after.map_or(0, |(ops, _)| ops)
    }
}

/// How a save ended, and what that means.
#[derive(Debug)]
pub enum Finished {
    /// The file holds the board on screen as it was when the save started:
    /// it becomes the board's file.
    Saved {
        /// The file.
        path: PathBuf,
        /// Its last op.
        head: u64,
    },
    /// The file holds a board that has gone from the screen since (another
    /// file was opened): it says nothing about the board on screen.
    SavedEarlierBoard {
        /// The file.
        path: PathBuf,
        /// Its last op.
        head: u64,
    },
    /// The file no longer held what the board's last save there left: the
    /// save wrote nothing, and the file is to be written again, whole.
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// The save failed or was given up; the file is as it was.
    Failed {
        /// The file.
        path: PathBuf,
        /// Why.
        error: FileError,
    },
}

/// A save under way: its owner's handle on it and what it will leave.
#[derive(Debug)]
struct Running<J> {
    /// The handle its owner polls (the `tabula-save` thread, in the app).
    job: J,
    /// The file.
    path: PathBuf,
    /// How many of the session's log's ops the file holds once it is done:
    /// `None` when the save also holds ops not yet in the log (pending ones,
    /// numbered here), which the log may later number otherwise.
    log_ops: Option<u64>,
    /// [`SaveQueue::boards`] when it started.
    board: u64,
}

/// The save under way (its handle a `J`), the saves waiting, and what the
/// board's file holds.
#[derive(Debug)]
pub struct SaveQueue<J> {
    /// The save under way, if any.
    running: Option<Running<J>>,
    /// Saves asked for while one ran, oldest first, each file once.
    queued: Vec<PathBuf>,
    /// What the file the board came from or was last saved to holds of the
    /// board's log: a save there hands over only the ops after it.
    in_file: Option<InFile>,
    /// How many boards have been put on screen: a save that ends after
    /// another board came was of the one before.
    boards: u64,
}

impl<J> Default for SaveQueue<J> {
    fn default() -> Self {
        Self {
            running: None,
            queued: Vec::new(),
            in_file: None,
            boards: 0,
        }
    }
}

impl<J> SaveQueue<J> {
    /// The handle of the save under way, if any.
    #[must_use]
    pub fn running(&self) -> Option<&J> {
        self.running.as_ref().map(|running| &running.job)
    }

    /// The file the save under way writes, if any.
    #[must_use]
    pub fn running_path(&self) -> Option<&Path> {
        self.running.as_ref().map(|running| running.path.as_path())
    }

    /// The files to be saved once the save under way is done, oldest first.
    #[must_use]
    pub fn queued(&self) -> &[PathBuf] {
        &self.queued
    }

    /// What the board's file is known to hold, if anything.
    #[must_use]
    pub fn in_file(&self) -> Option<&InFile> {
        self.in_file.as_ref()
    }

    /// A save of `path` is asked for: `true` when it may start now, as no
    /// save is under way. Otherwise it waits its turn, queued once per file
    /// (also the file being saved: it then gets what was drawn meanwhile).
    pub fn ask(&mut self, path: &Path) -> bool {
        if self.running.is_none() {
            return true;
        }
        if !self.queued.iter().any(|queued| queued == path) {
            tracing::info!(path = %path.display(), "a save is under way; this one follows it");
            self.queued.push(path.to_path_buf());
        }
        false
    }

    /// Where a save of `log` to `path` can start: after the ops the file is
    /// known to hold, if it is the board's file and they are still the
    /// start of `log`.
    #[must_use]
    pub fn plan(&self, path: &Path, log: &[SequencedOp]) -> Plan {
        let known = self
            .in_file
            .as_ref()
            .filter(|known| known.path == path && known.ops <= log.len() as u64);
        let after = known.and_then(|known| {
            let last = log.get(usize::try_from(known.ops).ok()?.checked_sub(1)?)?;
            Some((known.ops, last.op.id))
        });
        Plan {
            after,
            newest_snapshot: known.map_or(0, |known| known.snapshot),
        }
    }

    /// The save of `path` has started as `job`. Once done, the file holds
    /// the log's first `log_ops` ops (`None`: also ops the log does not hold
    /// yet).
    pub fn started(&mut self, job: J, path: &Path, log_ops: Option<u64>) {
        debug_assert!(self.running.is_none(), "one save at a time");
        self.running = Some(Running {
            job,
            path: path.to_path_buf(),
            log_ops,
            board: self.boards,
        });
    }

    /// The save under way ended with `result` (its handle is dropped): what
    /// that means. `None` if no save was under way.
    pub fn finished(&mut self, result: Result<Saved, FileError>) -> Option<Finished> {
        let Running {
            path,
            log_ops,
            board,
            ..
        } = self.running.take()?;
        let same_board = board == self.boards;
        Some(match result {
            Ok(saved) if !same_board => Finished::SavedEarlierBoard {
                path,
                head: saved.head,
            },
            Ok(saved) => {
                self.in_file = log_ops.map(|ops| InFile {
                    path: path.clone(),
                    ops,
                    snapshot: saved.snapshot,
                });
                Finished::Saved {
                    path,
                    head: saved.head,
                }
            }
            Err(FileError::Changed { .. }) if same_board => {
                self.in_file = None;
                Finished::Changed { path }
            }
            Err(error) => Finished::Failed { path, error },
        })
    }

    /// The next save waiting, taken off the queue, once none is under way.
    pub fn next_save(&mut self) -> Option<PathBuf> {
        if self.running.is_some() || self.queued.is_empty() {
            return None;
        }
        Some(self.queued.remove(0))
    }

    /// Another board is on screen, from the file `in_file` says: the saves
    /// waiting were of the board that has gone, and are given up (how many
    /// is returned). A save under way goes on; its end says nothing about
    /// this board.
    pub fn board_replaced(&mut self, in_file: InFile) -> usize {
        self.boards += 1;
        self.in_file = Some(in_file);
        std::mem::take(&mut self.queued).len()
    }
}
