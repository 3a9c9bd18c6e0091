//! Opening a `.tabula` file off the UI thread.
//!
//! A million-op file takes seconds to read and replay into a board; done on
//! the UI thread, the window would freeze meanwhile. [`Opening::start`] does
//! the work on a named thread (`tabula-open`), in two stages:
//!
//! 1. **The board.** From the newest board snapshot the file holds (see
//!    [`super::SNAPSHOT_EVERY`]) and the ops after it, or, with no
//!    snapshot or none that decodes (logged as a warning), from every op. It
//!    is handed back as [`Opened`] over a channel; the UI polls it each frame
//!    ([`Opening::poll`]) and shows how far it has come
//!    ([`Opening::progress`]) until then.
//! 2. **The history behind the snapshot**, if one was used: the ops it stands
//!    for, which Save and Replay need. First the file's integrity check
//!    (`PRAGMA quick_check`, which reads the whole file: most of the time a
//!    big file took to open), left until the board is on screen; a damaged
//!    file then gets its error instead of its history, and so is never saved
//!    over or replayed. (Without a snapshot the check comes first, as every
//!    op is read before anything shows.) Then the ops, read in chunks of
//!    [`HISTORY_CHUNK`] and handed over ([`Opening::poll_history`]) while the
//!    board is already on screen and being drawn on; the session keeps them
//!    aside until all are here, as it does for a room joined from a snapshot.
//!
//! The thread wakes the UI after each hand-over. [`load_session`] reads a
//! whole file on the calling thread instead.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};

use tabula_shared::codec::SNAPSHOT_FORMAT;
use tabula_shared::session_file::{SessionFile, StoredSnapshot};
use tabula_shared::{Board, DecodeError, SequencedOp, decode_snapshot};

use super::FileError;

/// The name of the thread that opens files.
pub const THREAD_NAME: &str = "tabula-open";

/// How many ops are applied between looks at the cancel flag.
const CANCEL_CHECK_EVERY: u64 = 4096;

/// How many ops of the history behind a snapshot are handed over at a time:
/// about 15 hand-overs (and repaints) for a million ops, each merged at once.
pub const HISTORY_CHUNK: usize = 65_536;

/// Reads every op of the session file at `path`, checked to run 1, 2, 3, …
pub fn load_session(path: &Path) -> Result<Vec<SequencedOp>, FileError> {
    let file = SessionFile::open_read_only(path)?;
    // The head is only a hint for the allocation: a damaged file may lie.
    let mut ops = Vec::with_capacity(usize::try_from(file.head()?.min(1 << 22)).unwrap_or(0));
    read_ops(&file, 0, u64::MAX, |op| {
        ops.push(op);
        ControlFlow::Continue(())
    })?;
    Ok(ops)
}

/// Reads the ops of `file` after op `after` up to op `up_to`, checked to
/// follow one another from `after + 1`, and hands each to `each`; stops early
/// when `each` breaks.
pub(crate) fn read_ops(
    file: &SessionFile,
    after: u64,
    up_to: u64,
    mut each: impl FnMut(SequencedOp) -> ControlFlow<()>,
) -> Result<(), FileError> {
    for (expected, op) in (after + 1..).zip(file.sequenced_ops(after)) {
        let op = op?;
        if op.seq != expected {
            return Err(FileError::OutOfSequence {
                path: file.path().to_path_buf(),
                expected,
                found: op.seq,
            });
        }
        if op.seq > up_to || each(op).is_break() {
            break;
        }
    }
    Ok(())
}

/// A file's board, ready to show, and the ops of its log read so far.
#[derive(Debug)]
pub struct Opened {
    /// The ops after op `behind`, in order (`ops[i].seq == behind + i + 1`):
    /// the whole log when `behind` is 0.
    pub ops: Vec<SequencedOp>,
    /// The board after all of the file's ops.
    pub board: Board,
    /// The op the snapshot the board was built from stands for, 0 if none
    /// was: ops `1..=behind` follow through [`Opening::poll_history`].
    pub behind: u64,
}

/// How far an opening has come, as the modal shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// The ops the file holds (its head), once known.
    pub total: u64,
    /// Ops read from the file so far (a snapshot counts for the ops it
    /// stands for).
    pub read: u64,
    /// Ops applied to the new board so far (likewise).
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

impl Shared {
    /// Whether the UI has given the file up.
    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}

/// A file being opened on the `tabula-open` thread.
#[derive(Debug)]
pub struct Opening {
    /// The file.
    path: PathBuf,
    /// Progress and the cancel flag, shared with the thread.
    shared: Arc<Shared>,
    /// Where the thread sends the board, once.
    board: Receiver<Result<Opened, FileError>>,
    /// Where the thread then sends the history behind the snapshot, a chunk
    /// at a time, oldest first.
    history: Receiver<Result<Vec<SequencedOp>, FileError>>,
}

/// The thread's ends of the channels, and how it wakes the UI.
struct Senders<W> {
    /// See [`Opening::board`].
    board: Sender<Result<Opened, FileError>>,
    /// See [`Opening::history`].
    history: Sender<Result<Vec<SequencedOp>, FileError>>,
    /// Repaints the UI, so that it polls.
    wake: W,
}

impl Opening {
    /// Starts reading `path` and building its board on a new thread, which
    /// calls `wake` whenever it hands something over (pass one that repaints
    /// the UI).
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start(path: &Path, wake: impl Fn() + Send + 'static) -> Result<Self, FileError> {
        let shared = Arc::new(Shared::default());
        let (board_sender, board) = mpsc::channel();
        let (history_sender, history) = mpsc::channel();
        let senders = Senders {
            board: board_sender,
            history: history_sender,
            wake,
        };
        let thread_path = path.to_path_buf();
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || open(&thread_path, &thread_shared, &senders))
            .map_err(|cause| FileError::Io {
                path: path.to_path_buf(),
                cause,
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            shared,
            board,
            history,
        })
    }

    /// The file being opened.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How far the board has come.
    #[must_use]
    pub fn progress(&self) -> Progress {
        Progress {
            total: self.shared.total.load(Ordering::Relaxed),
            read: self.shared.read.load(Ordering::Relaxed),
            applied: self.shared.applied.load(Ordering::Relaxed),
        }
    }

    /// The board, once the thread has built it; `None` while it works.
    #[must_use]
    pub fn poll(&self) -> Option<Result<Opened, FileError>> {
        match self.board.try_recv() {
            Ok(result) => Some(result),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(self.stopped())),
        }
    }

    /// The next chunk of the history behind the snapshot, oldest first, once
    /// read; `None` while the thread reads. Only after [`Self::poll`] gave a
    /// board with ops `behind` it, and until they have all come.
    #[must_use]
    pub fn poll_history(&self) -> Option<Result<Vec<SequencedOp>, FileError>> {
        match self.history.try_recv() {
            Ok(result) => Some(result),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(self.stopped())),
        }
    }

    /// The thread ended without a word: it panicked.
    fn stopped(&self) -> FileError {
        FileError::Io {
            path: self.path.clone(),
            cause: std::io::Error::other("reading the file stopped unexpectedly"),
        }
    }
}

impl Drop for Opening {
    /// Nobody wants the result any more: the thread stops at its next look.
    fn drop(&mut self) {
        self.shared.cancelled.store(true, Ordering::Relaxed);
    }
}

/// The opening thread: the board, then the history behind its snapshot, each
/// sent (or why it failed) unless the UI has given up meanwhile.
fn open<W: Fn()>(path: &Path, shared: &Shared, senders: &Senders<W>) {
    let (file, opened) = match build(path, shared) {
        Ok(Some(built)) => built,
        Ok(None) => return,
        Err(err) => {
            if !shared.cancelled() {
                // The UI may have gone away meanwhile; nobody is left to tell.
                let _ = senders.board.send(Err(err));
                (senders.wake)();
            }
            return;
        }
    };
    let behind = opened.behind;
    if senders.board.send(Ok(opened)).is_err() {
        return;
    }
    (senders.wake)();
    if behind == 0 {
        return;
    }
    if let Err(err) = file.quick_check() {
        if !shared.cancelled() {
            let _ = senders.history.send(Err(err.into()));
            (senders.wake)();
        }
        return;
    }
    let hand_over = |chunk| {
        let sent = senders.history.send(Ok(chunk)).is_ok();
        (senders.wake)();
        sent
    };
    match read_history(&file, behind, shared, hand_over) {
        Ok(()) => tracing::debug!(path = %path.display(), ops = behind, "read the history"),
        Err(err) => {
            if !shared.cancelled() {
                let _ = senders.history.send(Err(err));
                (senders.wake)();
            }
        }
    }
}

/// Opens `path` and builds its board, from its newest snapshot that decodes
/// if it has one, counting in `shared`. `None` once cancelled.
fn build(path: &Path, shared: &Shared) -> Result<Option<(SessionFile, Opened)>, FileError> {
    // Checked later when a snapshot shows the board first (see the module docs).
    let file = SessionFile::open_read_only_unchecked(path)?;
    let total = file.head()?;
    shared.total.store(total, Ordering::Relaxed);
    let snapshot = newest_snapshot(&file, total, shared)?;
    if snapshot.is_none() {
        file.quick_check()?;
    }
    let mut board = snapshot.unwrap_or_default();
    let behind = board.last_seq();
    // The head is only a hint for the allocation: a damaged file may lie.
    let mut ops =
        Vec::with_capacity(usize::try_from((total - behind.min(total)).min(1 << 22)).unwrap_or(0));
    read_ops(&file, behind, u64::MAX, |op| {
        shared.read.store(op.seq, Ordering::Relaxed);
        ops.push(op);
        if shared.cancelled() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    for op in &ops {
        board.apply_sequenced(op);
        if op.seq.is_multiple_of(CANCEL_CHECK_EVERY) {
            shared.applied.store(op.seq, Ordering::Relaxed);
            if shared.cancelled() {
                return Ok(None);
            }
        }
    }
    if shared.cancelled() {
        return Ok(None);
    }
    shared.applied.store(board.last_seq(), Ordering::Relaxed);
    tracing::debug!(path = %path.display(), snapshot = behind, ops = ops.len(), "built the board");
    Ok(Some((file, Opened { ops, board, behind })))
}

/// The board of the newest snapshot at or before op `head` that decodes, or
/// `None` if there is none. One that does not decode (damaged, or a format
/// this build does not know) is logged and the one before it tried: the ops
/// are the truth, a snapshot only saves time.
fn newest_snapshot(
    file: &SessionFile,
    head: u64,
    shared: &Shared,
) -> Result<Option<Board>, FileError> {
    let mut at = head;
    while let Some(stored) = file.snapshot_at_or_before(at)? {
        shared.read.store(stored.seq, Ordering::Relaxed);
        shared.applied.store(stored.seq, Ordering::Relaxed);
        match board_of(&stored) {
            Ok(board) => return Ok(Some(board)),
            Err(error) => tracing::warn!(
                path = %file.path().display(),
                seq = stored.seq,
                %error,
                "a board snapshot cannot be used; building the board from the ops instead"
            ),
        }
        let Some(before) = stored.seq.checked_sub(1) else {
            break;
        };
        at = before;
    }
    shared.read.store(0, Ordering::Relaxed);
    shared.applied.store(0, Ordering::Relaxed);
    Ok(None)
}

/// Why a stored snapshot cannot be used; only logged.
#[derive(Debug, thiserror::Error)]
enum UnusableSnapshot {
    /// Written by a newer Tabula, or damaged.
    #[error("its format is {0}, and this Tabula reads format {SNAPSHOT_FORMAT}")]
    UnknownFormat(u32),
    /// The bytes are not a board.
    #[error("it does not decode: {0}")]
    Decode(#[from] DecodeError),
    /// The board is of another op than the row says.
    #[error("it holds the board after op {0}")]
    OtherOp(u64),
}

/// The board a stored snapshot holds.
fn board_of(stored: &StoredSnapshot) -> Result<Board, UnusableSnapshot> {
    if stored.format != SNAPSHOT_FORMAT {
        return Err(UnusableSnapshot::UnknownFormat(stored.format));
    }
    let snapshot = decode_snapshot(&stored.board)?;
    if snapshot.last_seq != stored.seq {
        return Err(UnusableSnapshot::OtherOp(snapshot.last_seq));
    }
    Ok(Board::from_snapshot(snapshot))
}

/// Reads ops `1..=behind`, handing them to `hand_over` [`HISTORY_CHUNK`] at a
/// time; stops when cancelled or when `hand_over` says nobody listens.
fn read_history(
    file: &SessionFile,
    behind: u64,
    shared: &Shared,
    mut hand_over: impl FnMut(Vec<SequencedOp>) -> bool,
) -> Result<(), FileError> {
    let mut chunk = Vec::with_capacity(HISTORY_CHUNK);
    let mut listening = true;
    read_ops(file, 0, behind, |op| {
        chunk.push(op);
        if chunk.len() == HISTORY_CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(HISTORY_CHUNK));
            listening = !shared.cancelled() && hand_over(full);
        }
        if listening {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    })?;
    if listening && !chunk.is_empty() && !shared.cancelled() {
        hand_over(chunk);
    }
    Ok(())
}
