//! Opening a `.tabula` file off the UI thread.
//!
//! A million-op file takes seconds to read and replay into a board; done on
//! the UI thread, the window would freeze meanwhile. Opening is two
//! [`Job`]s, each on a `tabula-open` thread:
//!
//! 1. **The board** ([`Opening::start`]). From the newest board snapshot the
//!    file holds (see [`super::SNAPSHOT_EVERY`]) and the ops after it, or,
//!    with no snapshot or none that decodes (logged as a warning), from every
//!    op. It is the job's result, [`Opened`]; the UI polls it each frame
//!    ([`Opening::poll`]) and shows how far it has come
//!    ([`Opening::progress`]) until then.
//! 2. **The history behind the snapshot** ([`History`]), if one was used:
//!    the ops it stands for, which Save and Replay need, started by
//!    [`Opening::poll`] with the file the first job opened. First the file's
//!    integrity check (`PRAGMA quick_check`, which reads the whole file: most
//!    of the time a big file took to open), left until the board is on
//!    screen; a damaged file then gets its error instead of its history, and
//!    so is never saved over or replayed. (Without a snapshot the check comes
//!    first, as every op is read before anything shows.) Then the ops, read
//!    in chunks of [`HISTORY_CHUNK`] and handed over ([`History::poll`])
//!    while the board is already on screen and being drawn on; the session
//!    keeps them aside until all are here, as it does for a room joined from
//!    a snapshot.
//!
//! The jobs wake the UI as they progress and after each hand-over.
//! [`load_session`] reads a whole file on the calling thread instead.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tabula_shared::blob::{Blob, BlobId};
use tabula_shared::codec::SNAPSHOT_FORMAT;
use tabula_shared::session_file::{SessionFile, SessionFileError, StoredSnapshot};
use tabula_shared::{Board, DecodeError, SequencedOp, decode_snapshot};

use super::FileError;
use crate::jobs::{Job, Progress, Work};

/// The name of the threads that open files.
pub const THREAD_NAME: &str = "tabula-open";

/// The board's stages, as the "Opening…" modal names them: the file opened
/// and its head read, its ops read (a snapshot counting for the ops it
/// stands for), then applied to the board, of the file's ops.
pub const READING_THE_FILE: &str = "Reading the file";
/// See [`READING_THE_FILE`].
pub const READING_OPS: &str = "Reading ops";
/// See [`READING_THE_FILE`].
pub const BUILDING_THE_BOARD: &str = "Building the board";
/// The history's stages: the integrity check, then the ops behind the
/// snapshot.
pub const CHECKING_THE_FILE: &str = "Checking the file";
/// See [`CHECKING_THE_FILE`].
pub const READING_THE_HISTORY: &str = "Reading the history";

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
    /// was: ops `1..=behind` follow through [`History`].
    pub behind: u64,
    /// The pictures the file holds, and those of its pictures that are
    /// damaged, by id with the reason.
    pub pictures: Vec<Picture>,
}

/// A picture read from a file, or the id of a damaged one with the reason.
pub type Picture = Result<Blob, (BlobId, String)>;

/// The wake both stages of an opening share: the board's job calls it, and
/// the history's, started once the board is on screen.
type Wake = Arc<dyn Fn() + Send + Sync>;

/// What the board's job leaves: the file, still open for the history, and
/// the board.
type Built = (SessionFile, Opened);

/// A file whose board is being read and built on the `tabula-open` thread.
pub struct Opening {
    /// The file.
    path: PathBuf,
    /// The job building the board.
    job: Job<Result<Option<Built>, FileError>>,
    /// The UI's wake, kept for the history's job.
    wake: Wake,
}

impl std::fmt::Debug for Opening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opening")
            .field("path", &self.path)
            .field("job", &self.job)
            .finish_non_exhaustive()
    }
}

impl Opening {
    /// Starts reading `path` and building its board on a new thread, which
    /// calls `wake` when it progresses and once the board is ready (pass one
    /// that repaints the UI).
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start(path: &Path, wake: impl Fn() + Send + Sync + 'static) -> Result<Self, FileError> {
        let wake: Wake = Arc::new(wake);
        let job_wake = Arc::clone(&wake);
        let thread_path = path.to_path_buf();
        let job = Job::spawn(
            THREAD_NAME,
            move || job_wake(),
            move |work| build(&thread_path, work),
        )
        .map_err(|cause| FileError::Io {
            path: path.to_path_buf(),
            cause,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            job,
            wake,
        })
    }

    /// The file being opened.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How far the board has come: its stage ("Reading ops", "Building the
    /// board") and how many of the file's ops.
    #[must_use]
    pub fn progress(&self) -> Progress {
        self.job.progress()
    }

    /// The board, once the thread has built it, and the job that reads the
    /// history behind its snapshot, if it came from one (`behind` > 0);
    /// `None` while it works.
    pub fn poll(&mut self) -> Option<Result<(Opened, Option<History>), FileError>> {
        let built = match self.job.poll()? {
            Ok(Ok(Some(built))) => built,
            // Cancelled: only the job's own drop cancels, so nobody polls.
            Ok(Ok(None)) => return None,
            Ok(Err(err)) => return Some(Err(err)),
            Err(lost) => {
                return Some(Err(FileError::Io {
                    path: self.path.clone(),
                    cause: lost.into(),
                }));
            }
        };
        let (file, opened) = built;
        if opened.behind == 0 {
            return Some(Ok((opened, None)));
        }
        let history = History::start(file, opened.behind, Arc::clone(&self.wake));
        Some(match history {
            Ok(history) => Ok((opened, Some(history))),
            Err(err) => Err(err),
        })
    }
}

/// What has come of the history behind a snapshot.
#[derive(Debug)]
pub enum Arrived {
    /// The next ops, oldest first.
    Chunk(Vec<SequencedOp>),
    /// Every op has been read and handed over.
    End,
}

/// The history behind the snapshot a board on screen was built from, being
/// read on the `tabula-open` thread and handed over a chunk at a time.
#[derive(Debug)]
pub struct History {
    /// The file.
    path: PathBuf,
    /// The job: chunks of ops handed over, then how the reading ended.
    job: Job<Result<(), FileError>, Vec<SequencedOp>>,
}

impl History {
    /// Starts checking `file` and reading its ops `1..=behind` on a new
    /// thread, which calls `wake` after each chunk and at the end.
    fn start(file: SessionFile, behind: u64, wake: Wake) -> Result<Self, FileError> {
        let path = file.path().to_path_buf();
        let job = Job::spawn(
            THREAD_NAME,
            move || wake(),
            move |work| read_history(&file, behind, work),
        )
        .map_err(|cause| FileError::Io {
            path: path.clone(),
            cause,
        })?;
        Ok(Self { path, job })
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How far the history has come.
    #[must_use]
    pub fn progress(&self) -> Progress {
        self.job.progress()
    }

    /// The next chunk of the history, oldest first, once read, then that it
    /// is all read; `None` while the thread reads. Why it could not be read
    /// otherwise.
    pub fn poll(&mut self) -> Option<Result<Arrived, FileError>> {
        if let Some(chunk) = self.job.poll_handed_over() {
            return Some(Ok(Arrived::Chunk(chunk)));
        }
        match self.job.poll()? {
            Ok(Ok(())) => Some(Ok(Arrived::End)),
            Ok(Err(err)) => Some(Err(err)),
            Err(lost) => Some(Err(FileError::Io {
                path: self.path.clone(),
                cause: lost.into(),
            })),
        }
    }
}

/// Opens `path` and builds its board, from its newest snapshot that decodes
/// if it has one, reporting to `work`. `None` once cancelled.
fn build<P>(path: &Path, work: &Work<P>) -> Result<Option<Built>, FileError> {
    work.stage(READING_THE_FILE, 0);
    // Checked later when a snapshot shows the board first (see the module docs).
    let file = SessionFile::open_read_only_unchecked(path)?;
    // Cancel stops a long query (the integrity check of a big file) too.
    let interrupter = file.interrupter();
    work.on_cancel(move || interrupter.interrupt());
    let total = file.head()?;
    work.stage(READING_OPS, total);
    let snapshot = newest_snapshot(&file, total, work)?;
    if snapshot.is_none() {
        file.quick_check()?;
    }
    let mut board = snapshot.unwrap_or_default();
    let behind = board.last_seq();
    // The head is only a hint for the allocation: a damaged file may lie.
    let mut ops =
        Vec::with_capacity(usize::try_from((total - behind.min(total)).min(1 << 22)).unwrap_or(0));
    read_ops(&file, behind, u64::MAX, |op| {
        if op.seq.is_multiple_of(CANCEL_CHECK_EVERY) {
            work.set_done(op.seq);
        }
        ops.push(op);
        if work.is_cancelled() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    work.stage(BUILDING_THE_BOARD, total);
    work.set_done(behind);
    for op in &ops {
        board.apply_sequenced(op);
        if op.seq.is_multiple_of(CANCEL_CHECK_EVERY) {
            work.set_done(op.seq);
            if work.is_cancelled() {
                return Ok(None);
            }
        }
    }
    if work.is_cancelled() {
        return Ok(None);
    }
    work.set_done(board.last_seq());
    let pictures = read_pictures(&file)?;
    tracing::debug!(path = %path.display(), snapshot = behind, ops = ops.len(), pictures = pictures.len(), "built the board");
    Ok(Some((
        file,
        Opened {
            ops,
            board,
            behind,
            pictures,
        },
    )))
}

/// Every picture the file holds; one damaged is said as such (the image
/// that shows it shows a placeholder), and the rest read on.
fn read_pictures(file: &SessionFile) -> Result<Vec<Picture>, FileError> {
    let mut pictures = Vec::new();
    for id in file.blob_ids()? {
        match file.blob(id) {
            Ok(Some(blob)) => pictures.push(Ok(blob)),
            Ok(None) => {}
            Err(SessionFileError::DamagedBlob { detail, .. }) => {
                tracing::warn!(path = %file.path().display(), blob = %id, %detail, "a damaged picture");
                pictures.push(Err((id, detail)));
            }
            Err(other) => return Err(other.into()),
        }
    }
    Ok(pictures)
}

/// The board of the newest snapshot at or before op `head` that decodes, or
/// `None` if there is none. One that does not decode (damaged, or a format
/// this build does not know) is logged and the one before it tried: the ops
/// are the truth, a snapshot only saves time. A snapshot counts in `work`
/// as the ops it stands for.
fn newest_snapshot<P>(
    file: &SessionFile,
    head: u64,
    work: &Work<P>,
) -> Result<Option<Board>, FileError> {
    let mut at = head;
    while let Some(stored) = file.snapshot_at_or_before(at)? {
        work.set_done(stored.seq);
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
    work.set_done(0);
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

/// Checks `file` (see the module docs), then reads its ops `1..=behind`,
/// handing them over [`HISTORY_CHUNK`] at a time; stops when cancelled or
/// when nobody listens any more.
fn read_history(
    file: &SessionFile,
    behind: u64,
    work: &Work<Vec<SequencedOp>>,
) -> Result<(), FileError> {
    work.stage(CHECKING_THE_FILE, 0);
    file.quick_check()?;
    work.stage(READING_THE_HISTORY, behind);
    let mut chunk = Vec::with_capacity(HISTORY_CHUNK);
    let mut listening = true;
    read_ops(file, 0, behind, |op| {
        chunk.push(op);
        if chunk.len() == HISTORY_CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(HISTORY_CHUNK));
            work.add_done(full.len() as u64);
            listening = !work.is_cancelled() && work.hand_over(full);
        }
        if listening {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    })?;
    if listening && !chunk.is_empty() && !work.is_cancelled() {
        work.add_done(chunk.len() as u64);
        work.hand_over(chunk);
    }
    tracing::debug!(path = %file.path().display(), ops = behind, "read the history");
    Ok(())
}
