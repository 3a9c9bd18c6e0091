//! Saving a board to a `.tabula` file off the UI thread.
//!
//! A million-op board is ~200 MB of file, and its board snapshot takes a
//! second to encode: written on the UI thread, the window froze for seconds.
//! [`Saving::start`] writes on a named thread (`tabula-save`) instead. The UI
//! hands over a [`SaveJob`]: the ops the file does not hold yet (every op for
//! a new file) and, when one may be due, the board snapshot at their head.
//! What is drawn meanwhile is not in this save; it goes into the next. The
//! save is a [`Job`]: the UI polls its result each frame ([`Saving::poll`])
//! and shows how far the thread has come ([`Saving::progress`]).
//!
//! The file work is the same whether it runs on the thread or inline
//! ([`save_session_with`]), and as atomic: a new file is written beside the
//! target as `NAME.saving` and renamed into place; ops that continue the file
//! are appended in one transaction; a file that is not a session is never
//! touched. A save given up ([`Saving`] dropped: the app quits) stops before
//! the rename or the transaction, and a process that ends mid-save leaves at
//! most the `.saving` file, which the next save replaces: the target is
//! untouched either way.

use std::fs;
use std::path::{Path, PathBuf};

use tabula_shared::blob::Blob;
use tabula_shared::codec::SNAPSHOT_FORMAT;
use tabula_shared::session_file::{SessionFile, SessionFileError, StoredOp, StoredSnapshot};
use tabula_shared::{Board, OpId, SequencedOp, Snapshot, encode_snapshot};

use super::{FileError, SNAPSHOT_EVERY, SNAPSHOTS_KEPT};
use crate::jobs::{Job, Progress, Work};

/// The name of the thread that saves files.
pub const THREAD_NAME: &str = "tabula-save";

/// A save's one stage, of the ops handed over: encoded and written (or,
/// when appending, encoded, then written in one transaction).
pub const WRITING_OPS: &str = "Writing ops";

/// How many ops are encoded (and, into a new file, written) at a time: the
/// progress moves, a cancel is seen, and few rows are in memory at once.
const CHUNK: usize = 16_384;

/// What one save writes.
#[derive(Debug)]
pub struct SaveJob {
    /// The file.
    pub path: PathBuf,
    /// The room name recorded in a new file.
    pub room: String,
    /// The ops to write, in order, numbered on from `after`'s (from 1 without).
    pub ops: Vec<SequencedOp>,
    /// `Some((n, id))` when the file is believed to hold the board's first
    /// `n` ops, op `n` being `id`: `ops` follow them and are appended. If the
    /// file turns out to hold something else, the save fails with
    /// [`FileError::Changed`] and nothing is written. `None`: `ops` are
    /// the whole history.
    pub after: Option<(u64, OpId)>,
    /// The board after the last of `ops`, if a snapshot may be due. Without
    /// one, a due snapshot is built here from `ops` when they are the whole
    /// history, and otherwise left to a later save.
    pub snapshot: Option<Snapshot>,
    /// The pictures the board's images show: stored once each (a file that
    /// holds one already keeps it as it is), before the ops.
    pub pictures: Vec<Blob>,
}

/// The snapshot of the board after `ops`, given `board`, the session's board
/// with its log applied and, maybe, pending ops on top, which the last of
/// `ops` sequence after the log: those (the ops of `ops` after
/// `board.last_seq()`) are applied to a copy of the confirmed board. `ops`
/// may be the whole history or only its end.
#[must_use]
pub fn snapshot_at_head(board: &Board, ops: &[SequencedOp]) -> Snapshot {
    let confirmed = board.snapshot();
    let after = &ops[ops.partition_point(|op| op.seq <= confirmed.last_seq)..];
    if after.is_empty() {
        return confirmed;
    }
    let mut at_head = Board::from_snapshot(confirmed);
    for op in after {
        at_head.apply_sequenced(op);
    }
    at_head.snapshot()
}

/// What a finished save left in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Saved {
    /// The file's last op.
    pub head: u64,
    /// The op its newest board snapshot stands for; 0 if it has none (or it
    /// could not be read).
    pub snapshot: u64,
}

/// A save under way on the `tabula-save` thread.
#[derive(Debug)]
pub struct Saving {
    /// The file.
    path: PathBuf,
    /// The job: its progress (ops written of the ops handed over), its
    /// cancel flag, and what the file holds once done.
    job: Job<Result<Saved, FileError>>,
}

impl Saving {
    /// Starts writing `job` on a new thread, which calls `wake` as it
    /// progresses and when it is done (pass one that repaints the UI).
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start(job: SaveJob, wake: impl Fn() + Send + 'static) -> Result<Self, FileError> {
        let path = job.path.clone();
        let ops = job.ops.len() as u64;
        let job = Job::spawn_at(WRITING_OPS, ops, THREAD_NAME, wake, move |work| {
            write(job, work)
        })
        .map_err(|cause| FileError::Io {
            path: path.clone(),
            cause,
        })?;
        Ok(Self { path, job })
    }

    /// The file being saved.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How far the save has come: [`WRITING_OPS`], ops written (or, when
    /// appending, encoded) of the ops to write.
    #[must_use]
    pub fn progress(&self) -> Progress {
        self.job.progress()
    }

    /// The outcome, once the thread is done; `None` while it works, and
    /// after the outcome was taken.
    pub fn poll(&mut self) -> Option<Result<Saved, FileError>> {
        Some(self.job.poll()?.unwrap_or_else(|lost| {
            Err(FileError::Io {
                path: self.path.clone(),
                cause: lost.into(),
            })
        }))
    }
}

/// What the file work reports to: the job's [`Work`] on the `tabula-save`
/// thread, or nobody ([`Inline`]) when a save runs on the calling thread.
trait Report {
    /// `done` ops are written.
    fn set_done(&self, done: u64);
    /// `ops` more are written.
    fn add_done(&self, ops: u64);
    /// Whether the save was given up.
    fn is_cancelled(&self) -> bool;

    /// Fails with [`FileError::Abandoned`] once the save is given up (its
    /// [`Saving`] dropped, as when the app quits).
    fn check(&self, path: &Path) -> Result<(), FileError> {
        if self.is_cancelled() {
            return Err(FileError::Abandoned {
                path: path.to_path_buf(),
            });
        }
        Ok(())
    }
}

impl<P> Report for Work<P> {
    fn set_done(&self, done: u64) {
        Work::set_done(self, done);
    }

    fn add_done(&self, ops: u64) {
        Work::add_done(self, ops);
    }

    fn is_cancelled(&self) -> bool {
        Work::is_cancelled(self)
    }
}

/// A save on the calling thread: nobody watches, nobody gives it up.
struct Inline;

impl Report for Inline {
    fn set_done(&self, _: u64) {}

    fn add_done(&self, _: u64) {}

    fn is_cancelled(&self) -> bool {
        false
    }
}

/// The saving thread's work.
fn write<P>(job: SaveJob, work: &Work<P>) -> Result<Saved, FileError> {
    let SaveJob {
        path,
        room,
        ops,
        after,
        snapshot,
        pictures,
    } = job;
    let saved = match after {
        Some(after) => append_after(&path, after, &ops, &pictures, || snapshot, work),
        None => write_whole(
            &path,
            &room,
            &ops,
            &pictures,
            || Some(snapshot.unwrap_or_else(|| Board::from_sequenced(&ops).snapshot())),
            work,
        ),
    };
    // Handled (logged and shown) by the UI once it polls.
    if let Ok(saved) = &saved {
        tracing::debug!(path = %path.display(), ops = ops.len(), head = saved.head, "wrote the file");
    }
    saved
}

/// Writes `ops` (numbered 1, 2, 3, …) to the session file at `path`, recorded
/// as room `room`. If `path` is already a session whose ops are the start of
/// `ops`, only the rest are appended; any other session there is replaced; a
/// file that is not a session is left alone and the save fails. A snapshot of
/// the board `ops` build is stored when one is due (see [`SNAPSHOT_EVERY`]);
/// the board is then rebuilt from `ops`: [`save_session_with`] takes it ready.
///
/// This is the save the `tabula-save` thread runs, on the calling thread.
pub fn save_session(path: &Path, room: &str, ops: &[SequencedOp]) -> Result<(), FileError> {
    save_session_and_pictures(path, room, ops, &[])
}

/// [`save_session`], storing `pictures` (those the images of `ops` show)
/// too: what a hosted room is seeded with.
pub fn save_session_and_pictures(
    path: &Path,
    room: &str,
    ops: &[SequencedOp],
    pictures: &[Blob],
) -> Result<(), FileError> {
    save_session_with(path, room, ops, pictures, || {
        Board::from_sequenced(ops).snapshot()
    })
}

/// [`save_session`], taking the snapshot of the board after `ops` from
/// `snapshot`, called only when one is due.
pub fn save_session_with(
    path: &Path,
    room: &str,
    ops: &[SequencedOp],
    pictures: &[Blob],
    snapshot: impl FnOnce() -> Snapshot,
) -> Result<(), FileError> {
    write_whole(path, room, ops, pictures, || Some(snapshot()), &Inline).map(|_| ())
}

/// The whole history `ops` into `path`: appended if the session there holds
/// their start, else written beside it and renamed into place.
fn write_whole(
    path: &Path,
    room: &str,
    ops: &[SequencedOp],
    pictures: &[Blob],
    snapshot: impl FnOnce() -> Option<Snapshot>,
    work: &impl Report,
) -> Result<Saved, FileError> {
    if path.exists() {
        let mut file = SessionFile::open(path)?;
        let head = file.head()?;
        let prefix = head == 0
            || (head <= ops.len() as u64
                && file
                    .stamp_of(ops[head as usize - 1].op.id)?
                    .is_some_and(|stamp| stamp.seq == head));
        if prefix {
            work.set_done(head);
            return append_rest(&mut file, &ops[head as usize..], pictures, snapshot, work);
        }
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".saving");
    let temporary = PathBuf::from(temporary);
    let io = |cause| FileError::Io {
        path: path.to_path_buf(),
        cause,
    };
    match fs::remove_file(&temporary) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(io(err)),
        _ => {}
    }
    let written = (|| {
        let mut file = SessionFile::create(&temporary, room)?;
        put_pictures(&mut file, pictures)?;
        // A file not yet in place may take its ops in several transactions.
        for chunk in ops.chunks(CHUNK) {
            work.check(path)?;
            file.append(&encode(path, chunk)?)?;
            work.add_done(chunk.len() as u64);
        }
        // Before the rename: the file appears with its snapshot or not at all.
        let newest = store_snapshot_if_due(&mut file, snapshot);
        work.check(path)?;
        Ok::<_, FileError>(Saved {
            head: ops.len() as u64,
            snapshot: newest,
        })
    })();
    match written {
        Ok(saved) => {
            fs::rename(&temporary, path).map_err(io)?;
            Ok(saved)
        }
        Err(err) => {
            let _ = fs::remove_file(&temporary);
            Err(err)
        }
    }
}

/// Appends `ops` to the session at `path`, which must hold exactly the ops
/// before them, the last being `id` (else [`FileError::Changed`]).
fn append_after(
    path: &Path,
    (after, id): (u64, OpId),
    ops: &[SequencedOp],
    pictures: &[Blob],
    snapshot: impl FnOnce() -> Option<Snapshot>,
    work: &impl Report,
) -> Result<Saved, FileError> {
    let changed = || FileError::Changed {
        path: path.to_path_buf(),
    };
    if !path.exists() {
        return Err(changed());
    }
    let mut file = SessionFile::open(path)?;
    let holds = file.head()? == after && file.stamp_of(id)?.is_some_and(|s| s.seq == after);
    if !holds {
        return Err(changed());
    }
    append_rest(&mut file, ops, pictures, snapshot, work)
}

/// Stores the pictures `file` lacks, once each, before the ops that show
/// them: a file never holds an image whose picture it lacks.
fn put_pictures(file: &mut SessionFile, pictures: &[Blob]) -> Result<(), FileError> {
    for picture in pictures {
        file.put_blob(picture)?;
    }
    Ok(())
}

/// Appends `ops`, which follow `file`'s head, in one transaction (after the
/// `pictures` they show), then stores a snapshot if one is due.
fn append_rest(
    file: &mut SessionFile,
    ops: &[SequencedOp],
    pictures: &[Blob],
    snapshot: impl FnOnce() -> Option<Snapshot>,
    work: &impl Report,
) -> Result<Saved, FileError> {
    let path = file.path().to_path_buf();
    let mut rows = Vec::with_capacity(ops.len());
    for chunk in ops.chunks(CHUNK) {
        work.check(&path)?;
        rows.extend(encode(&path, chunk)?);
        work.add_done(chunk.len() as u64);
    }
    work.check(&path)?;
    put_pictures(file, pictures)?;
    file.append(&rows)?;
    drop(rows);
    let newest = store_snapshot_if_due(file, snapshot);
    Ok(Saved {
        head: file.head()?,
        snapshot: newest,
    })
}

/// Stores `snapshot()`, the board at `file`'s head, once the log is
/// [`SNAPSHOT_EVERY`] ops past the newest snapshot, and keeps the newest
/// [`SNAPSHOTS_KEPT`]; returns the op the newest snapshot then stands for (0
/// if none, or unknown). A snapshot only speeds up opening, and the ops are
/// already safe, so one that cannot be made or stored is logged, not failed.
fn store_snapshot_if_due(
    file: &mut SessionFile,
    snapshot: impl FnOnce() -> Option<Snapshot>,
) -> u64 {
    let stored = (|| {
        let head = file.head()?;
        let newest = file.latest_snapshot_seq()?.unwrap_or(0);
        if head < newest + SNAPSHOT_EVERY {
            return Ok((newest, None));
        }
        let Some(snapshot) = snapshot() else {
            tracing::debug!(path = %file.path().display(), head, "a snapshot is due; the next save stores it");
            return Ok((newest, None));
        };
        debug_assert_eq!(snapshot.last_seq, head, "a snapshot of the file's head");
        let board = encode_snapshot(&snapshot)?;
        let bytes = board.len();
        file.put_snapshot(&StoredSnapshot {
            seq: snapshot.last_seq,
            format: SNAPSHOT_FORMAT,
            board,
        })?;
        file.prune_snapshots(SNAPSHOTS_KEPT)?;
        Ok::<_, SnapshotError>((snapshot.last_seq, Some(bytes)))
    })();
    match stored {
        Ok((seq, Some(bytes))) => {
            tracing::debug!(path = %file.path().display(), seq, bytes, "stored a board snapshot");
            seq
        }
        Ok((newest, None)) => newest,
        Err(error) => {
            tracing::warn!(path = %file.path().display(), %error, "no board snapshot stored; the file opens without one");
            0
        }
    }
}

/// Why a snapshot was not stored: only logged.
#[derive(Debug, thiserror::Error)]
enum SnapshotError {
    /// The file refused.
    #[error(transparent)]
    File(#[from] SessionFileError),
    /// The board could not be encoded.
    #[error("the board cannot be encoded: {0}")]
    Encode(#[from] tabula_shared::EncodeError),
}

/// Encodes ops as rows of the `ops` table.
fn encode(path: &Path, ops: &[SequencedOp]) -> Result<Vec<StoredOp>, FileError> {
    ops.iter()
        .map(|op| {
            StoredOp::encode(op).map_err(|cause| FileError::Encode {
                path: path.to_path_buf(),
                seq: op.seq,
                cause,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use tabula_shared::{ClientId, Op, OpKind};

    use super::*;

    /// `n` ops numbered from 1.
    fn ops(n: u64) -> Vec<SequencedOp> {
        let author = ClientId::random();
        (1..=n)
            .map(|seq| SequencedOp {
                seq,
                author,
                timestamp_ms: seq,
                op: Op::new(OpKind::Clear),
            })
            .collect()
    }

    /// A save given up before it began.
    struct GivenUp;

    impl Report for GivenUp {
        fn set_done(&self, _: u64) {}

        fn add_done(&self, _: u64) {}

        fn is_cancelled(&self) -> bool {
            true
        }
    }

    #[test]
    fn a_save_runs_on_the_named_thread_and_says_what_the_file_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("named.tabula");
        let (sender, thread) = std::sync::mpsc::channel();
        let job = SaveJob {
            path: path.clone(),
            room: "local".to_owned(),
            ops: ops(SNAPSHOT_EVERY),
            after: None,
            snapshot: None,
            pictures: Vec::new(),
        };
        let mut saving = Saving::start(job, move || {
            let name = std::thread::current().name().map(str::to_owned);
            // The test stops listening once the save is done.
            let _ = sender.send(name);
        })
        .unwrap();
        // Woken as it goes and once done, always from its own thread.
        let mut outcome = None;
        for name in &thread {
            assert_eq!(name.as_deref(), Some(THREAD_NAME));
            outcome = outcome.or_else(|| saving.poll());
        }
        let saved = outcome
            .or_else(|| saving.poll())
            .expect("done once it let its wake go")
            .unwrap();
        assert_eq!(
            saved,
            Saved {
                head: SNAPSHOT_EVERY,
                snapshot: SNAPSHOT_EVERY,
            },
            "a due snapshot is built from the ops when none is handed over"
        );
        let progress = saving.progress();
        assert_eq!(
            (progress.stage.as_ref(), progress.done, progress.total),
            (WRITING_OPS, SNAPSHOT_EVERY, SNAPSHOT_EVERY)
        );
    }

    #[test]
    fn a_save_given_up_leaves_the_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kept.tabula");
        let first = ops(10);
        save_session(&path, "local", &first).unwrap();
        let before = fs::read(&path).unwrap();
        let other = ops(20);
        let rewrite = write_whole(&path, "local", &other, &[], || None, &GivenUp);
        assert!(matches!(rewrite, Err(FileError::Abandoned { .. })));
        let more = ops(12);
        let append = append_after(
            &path,
            (10, first[9].op.id),
            &more[10..],
            &[],
            || None,
            &GivenUp,
        );
        assert!(matches!(append, Err(FileError::Abandoned { .. })));

        assert_eq!(fs::read(&path).unwrap(), before);
        assert!(!dir.path().join("kept.tabula.saving").exists());
        let mut temporary = path.into_os_string();
        temporary.push(".saving");
        assert!(!PathBuf::from(temporary).exists());
    }

    #[test]
    fn an_append_to_a_file_that_changed_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("changed.tabula");
        save_session(&path, "local", &ops(10)).unwrap();
        let before = fs::read(&path).unwrap();
        let other = ops(12);
        let append = append_after(
            &path,
            (10, other[9].op.id),
            &other[10..],
            &[],
            || None,
            &Inline,
        );
        assert!(matches!(append, Err(FileError::Changed { .. })));
        assert_eq!(fs::read(&path).unwrap(), before);
    }
}
