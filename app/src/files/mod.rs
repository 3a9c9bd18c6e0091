//! Files: saving and opening `.tabula` files, the recent files, and the File
//! menu.
//!
//! A saved board is a session file ([`tabula_shared::session_file`]): the
//! board's whole sequenced history, so it reopens as the same board and can be
//! replayed. Saving again to the file a board came from appends only the new
//! ops; saving a different history over a session writes a new file beside it
//! and renames it into place, so a failed save never leaves half a file. A file
//! that is not a Tabula session is never overwritten. Once a file's log is
//! [`SNAPSHOT_EVERY`] ops past its newest board snapshot (or has none), a save
//! also stores a snapshot of the board at its head, keeping the newest
//! [`SNAPSHOTS_KEPT`]: opening then decodes that board and applies only the
//! ops after it. Opening and saving run as jobs ([`crate::jobs`]) on threads
//! of their own, so a large board never freezes the window; the app polls
//! them once a frame.
//!
//! # Layout
//! - this module: what the parts share: [`FileError`], whose messages name
//!   the file, and when a save stores a board snapshot.
//! - [`documents`]: [`documents::Documents`]: the file the board came from,
//!   the file being opened, the saves, and the failure to show; polled once a
//!   frame by the app.
//! - [`save_queue`]: the save queue's state machine: one save at a time, the
//!   others waiting their turn once per file, and what a file is known to hold.
//! - [`saving`]: writing a file, a job on the `tabula-save` thread.
//! - [`opening`]: reading a file and building its board on the `tabula-open`
//!   thread, then the history behind its snapshot.
//! - [`recent`]: the recent files, kept in the platform's config folder.
//! - [`menu`]: the File menu with ctrl+S / ctrl+shift+S / ctrl+O, the path
//!   dialog, "Saving NAME…" beside the menu, the "Opening…" modal and the
//!   error message.
//!
//! Imports run one way: [`menu`] uses [`documents`], which uses the queue, the
//! two jobs and the recent files; those use this module, which uses none
//! of them.

pub mod documents;
pub mod menu;
pub mod opening;
pub mod recent;
pub mod save_queue;
pub mod saving;

use std::path::PathBuf;

use tabula_shared::session_file::SessionFileError;

/// How many ops past its newest snapshot (or its start) a file's log must be
/// for a save to store a snapshot of the board. Applying ops costs ~4 µs each
/// when a file opens (reading and decoding included), so the ops after a
/// snapshot cost at most ~40 ms, no wait anyone sees; a snapshot holds the
/// whole board, copied on the UI thread when the save starts, so one per save
/// of a small or little-changed board would cost more than it saves. The relay's
/// `--snapshot-every` has the same default.
pub const SNAPSHOT_EVERY: u64 = 10_000;
/// How many snapshots a saved file keeps, newest first: the one before the
/// newest is where opening starts if the newest does not decode.
pub const SNAPSHOTS_KEPT: usize = 2;

/// Why a file could not be saved or opened; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The session file refused: not a session, damaged, newer, unreadable…
    #[error(transparent)]
    File(#[from] SessionFileError),
    /// The file's ops do not follow one another.
    #[error("{}: the session is damaged: op {found} comes where op {expected} should", path.display())]
    OutOfSequence {
        /// The file.
        path: PathBuf,
        /// The sequence number expected.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// An op could not be encoded for the file.
    #[error("{}: op {seq} cannot be written: {cause}", path.display())]
    Encode {
        /// The file.
        path: PathBuf,
        /// The op.
        seq: u64,
        /// Why.
        cause: tabula_shared::EncodeError,
    },
    /// The history behind the snapshot the board was built from (joining a
    /// room, or opening a file) is still arriving, so the board's full history
    /// cannot be written yet.
    #[error(
        "{}: the board's history is still arriving ({have} of {total} ops); save again in a moment",
        path.display()
    )]
    HistoryArriving {
        /// The file.
        path: PathBuf,
        /// Ops here so far.
        have: u64,
        /// Ops in all.
        total: u64,
    },
    /// The history behind the snapshot the board was opened from could not be
    /// read (the file it came from is damaged, say): the board is all there
    /// is, and it is not saved as if it were a whole session.
    #[error(
        "{}: the history behind this board could not be read ({reason}), so it cannot be saved with its history",
        path.display()
    )]
    HistoryUnreadable {
        /// The file.
        path: PathBuf,
        /// Why the history could not be read.
        reason: String,
    },
    /// The file no longer holds what the board's last save there left (it
    /// was changed or replaced since): the save wrote nothing, and is made
    /// again with the whole history.
    #[error("{}: the file has changed since it was saved", path.display())]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// The save was given up before the file changed (the app quit).
    #[error("{}: the save was given up; the file is as it was", path.display())]
    Abandoned {
        /// The file.
        path: PathBuf,
    },
    /// Moving the finished file into place failed.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        cause: std::io::Error,
    },
}
