//! Opening a `.tabula` file off the UI thread.
//!
//! A million-op file takes a second or two to read and replay into a board;
//! done on the UI thread, the window would freeze meanwhile. [`Opening::start`]
//! does both on a named thread (`tabula-open`) and hands the finished ops and
//! board back over a channel; the UI polls it each frame
//! ([`Opening::poll`]) and shows how far it has come ([`Opening::progress`])
//! until then. The thread wakes the UI when it is done.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError};

use tabula_shared::{Board, SequencedOp};

use crate::documents::{DocumentError, read_session};

/// The name of the thread that opens files.
pub const THREAD_NAME: &str = "tabula-open";

/// How many ops are applied between looks at the cancel flag.
const CANCEL_CHECK_EVERY: usize = 4096;

/// A file's history and the board it builds, ready to show.
#[derive(Debug)]
pub struct Opened {
    /// Every op of the file, in order (`ops[i].seq == i + 1`): the session's log.
    pub ops: Vec<SequencedOp>,
    /// The board after all of them.
    pub board: Board,
}

/// How far an opening has come, as the modal shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// The ops the file holds (its head), once known.
    pub total: u64,
    /// Ops read from the file so far.
    pub read: u64,
    /// Ops applied to the new board so far.
    pub applied: u64,
}

/// The counters the opening thread writes and the UI reads.
#[derive(Debug, Default)]
struct Shared {
    /// See [`Progress::total`].
    total: AtomicU64,
    /// See [`Progress::read`].
    read: AtomicU64,
    /// See [`Progress::applied`].
    applied: AtomicU64,
    /// Set when the UI no longer wants the result: the thread stops early.
    cancelled: AtomicBool,
}

/// A file being opened on the `tabula-open` thread.
#[derive(Debug)]
pub struct Opening {
    /// The file.
    path: PathBuf,
    /// Progress and the cancel flag, shared with the thread.
    shared: Arc<Shared>,
    /// Where the thread sends the result, once.
    result: Receiver<Result<Opened, DocumentError>>,
}

impl Opening {
    /// Starts reading `path` and building its board on a new thread, which
    /// calls `wake` once the result is ready (pass one that repaints the UI).
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start(path: &Path, wake: impl Fn() + Send + 'static) -> Result<Self, DocumentError> {
        let shared = Arc::new(Shared::default());
        let (sender, result) = mpsc::channel();
        let thread_path = path.to_path_buf();
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || {
                let opened = open(&thread_path, &thread_shared);
                if thread_shared.cancelled.load(Ordering::Relaxed) {
                    return;
                }
                // The UI may have gone away meanwhile; nobody is left to tell.
                let _ = sender.send(opened);
                wake();
            })
            .map_err(|cause| DocumentError::Io {
                path: path.to_path_buf(),
                cause,
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            shared,
            result,
        })
    }

    /// The file being opened.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How far it has come.
    #[must_use]
    pub fn progress(&self) -> Progress {
        Progress {
            total: self.shared.total.load(Ordering::Relaxed),
            read: self.shared.read.load(Ordering::Relaxed),
            applied: self.shared.applied.load(Ordering::Relaxed),
        }
    }

    /// The result, once the thread has finished; `None` while it works.
    #[must_use]
    pub fn poll(&self) -> Option<Result<Opened, DocumentError>> {
        match self.result.try_recv() {
            Ok(result) => Some(result),
            Err(TryRecvError::Empty) => None,
            // The thread ended without a word: it panicked.
            Err(TryRecvError::Disconnected) => Some(Err(DocumentError::Io {
                path: self.path.clone(),
                cause: std::io::Error::other("reading the file stopped unexpectedly"),
            })),
        }
    }
}

impl Drop for Opening {
    /// Nobody wants the result any more: the thread stops at its next look.
    fn drop(&mut self) {
        self.shared.cancelled.store(true, Ordering::Relaxed);
    }
}

/// Reads `path` and builds its board, counting in `shared`. Stops early (with
/// whatever it has) once cancelled; the caller then drops the result.
fn open(path: &Path, shared: &Shared) -> Result<Opened, DocumentError> {
    let ops = read_session(path, |read, total| {
        shared.total.store(total, Ordering::Relaxed);
        shared.read.store(read, Ordering::Relaxed);
        if shared.cancelled.load(Ordering::Relaxed) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    let mut board = Board::new();
    for (i, op) in ops.iter().enumerate() {
        board.apply_sequenced(op);
        if i.is_multiple_of(CANCEL_CHECK_EVERY) {
            shared.applied.store(i as u64, Ordering::Relaxed);
            if shared.cancelled.load(Ordering::Relaxed) {
                break;
            }
        }
    }
    shared.applied.store(ops.len() as u64, Ordering::Relaxed);
    tracing::debug!(path = %path.display(), ops = ops.len(), "read and built");
    Ok(Opened { ops, board })
}
