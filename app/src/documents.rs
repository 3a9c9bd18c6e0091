//! Saving and opening `.tabula` files, and the recent files.
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
//! ops after it ([`crate::opening`]).
//!
//! - [`save_session`] and [`load_session`]: the file work, with typed errors
//!   that name the file (saving itself is [`crate::saving`]'s).
//! - [`RecentFiles`]: the last few files, kept in `recent-files.txt` under the
//!   platform's config folder (`~/.config/tabula` on Linux).
//! - [`Documents`]: the File menu, ctrl+S / ctrl+shift+S / ctrl+O, the path
//!   dialog (an in-app field: native dialogs would need GTK's development
//!   libraries), saves written on their own thread ([`crate::saving`]) with
//!   "Saving NAME…" beside the menu while the board stays in use (a save asked
//!   for meanwhile waits its turn, and to the file being saved only once),
//!   the "Opening…" modal while a file's board is built on its own thread
//!   ([`crate::opening`]), the history behind the board's snapshot merged
//!   into the session as it arrives (Save and Replay wait for it), and the
//!   error message.

use std::fs;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use egui::{Align2, Context, Key, Modifiers, vec2};
use tabula_shared::session_file::{EXTENSION, SessionFile, SessionFileError};
use tabula_shared::{Board, SequencedOp, Snapshot};

use crate::opening::{Opened, Opening};
use crate::saving::{SaveJob, Saving};
pub use crate::saving::{save_session, save_session_with};
use crate::session::{Session, room_of_url};
use crate::ui::theme::{self, EDGE_GAP};

/// How many recent files are remembered.
pub const RECENT_LIMIT: usize = 8;
/// The room name written into a file saved from a local board.
pub const LOCAL_ROOM: &str = "local";
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
pub enum DocumentError {
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

/// Reads every op of the session file at `path`, checked to run 1, 2, 3, …
pub fn load_session(path: &Path) -> Result<Vec<SequencedOp>, DocumentError> {
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
) -> Result<(), DocumentError> {
    for (expected, op) in (after + 1..).zip(file.sequenced_ops(after)) {
        let op = op?;
        if op.seq != expected {
            return Err(DocumentError::OutOfSequence {
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

/// `path` with the `.tabula` extension if it has none.
#[must_use]
pub fn with_extension(path: &Path) -> PathBuf {
    if path.extension().is_some() {
        path.to_path_buf()
    } else {
        path.with_extension(EXTENSION)
    }
}

/// The last files opened or saved, newest first, kept in a small text file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecentFiles {
    /// The files, newest first, at most [`RECENT_LIMIT`].
    paths: Vec<PathBuf>,
    /// Where the list is kept; `None` keeps it in memory only (no config
    /// folder, or tests).
    store: Option<PathBuf>,
}

impl RecentFiles {
    /// The list kept in the platform's config folder.
    #[must_use]
    pub fn from_config_dir() -> Self {
        Self::at(dirs::config_dir().map(|dir| dir.join("tabula").join("recent-files.txt")))
    }

    /// The list kept in `store` (read now if it is there).
    #[must_use]
    pub fn at(store: Option<PathBuf>) -> Self {
        let paths = store
            .as_deref()
            .and_then(|store| fs::read_to_string(store).ok())
            .map(|text| {
                text.lines()
                    .filter(|line| !line.trim().is_empty())
                    .map(PathBuf::from)
                    .take(RECENT_LIMIT)
                    .collect()
            })
            .unwrap_or_default();
        Self { paths, store }
    }

    /// The files, newest first.
    #[must_use]
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Puts `path` first and writes the list down. A list that cannot be
    /// written is only logged: it is a convenience.
    pub fn add(&mut self, path: &Path) {
        let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.paths.retain(|p| *p != path);
        self.paths.insert(0, path);
        self.paths.truncate(RECENT_LIMIT);
        let Some(store) = &self.store else {
            return;
        };
        let mut text = String::new();
        for path in &self.paths {
            text.push_str(&path.to_string_lossy());
            text.push('\n');
        }
        let written = store
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| fs::write(store, text));
        if let Err(err) = written {
            tracing::warn!(store = %store.display(), %err, "could not keep the recent files");
        }
    }
}

/// What the path dialog is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathPurpose {
    /// Open the file named.
    Open,
    /// Save the board to the file named.
    SaveAs,
}

/// The path dialog while it shows.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PathDialog {
    /// Open or save.
    purpose: PathPurpose,
    /// The path typed so far.
    text: String,
    /// Set when the dialog opens: the field takes the keyboard once, so that
    /// Enter can still leave it (and confirm).
    focus: bool,
}

/// What the File menu asks the app to do beyond files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentAction {
    /// Replay the board's history.
    Replay,
    /// A file has been opened: the board on screen is a new one.
    Opened,
}

/// The current file, the recent files, and the File menu's dialogs.
#[derive(Debug, Default)]
pub struct Documents {
    /// The file the board was opened from or last saved to: where ctrl+S saves.
    current: Option<PathBuf>,
    /// The last files used.
    recent: RecentFiles,
    /// The path dialog, while it shows.
    dialog: Option<PathDialog>,
    /// The last failure, shown in a modal until dismissed.
    error: Option<String>,
    /// The file being read and built on its own thread, while it is: the
    /// "Opening…" modal shows until its board is on screen.
    opening: Option<Opening>,
    /// The file whose board is on screen (built from its snapshot), while its
    /// thread still reads the history behind that snapshot.
    history: Option<Opening>,
    /// Why the history behind the board on screen could not be read, if it
    /// could not: saves are refused with it until another board comes.
    history_lost: Option<String>,
    /// The save being written on the `tabula-save` thread, while it is.
    saving: Option<Running>,
    /// Saves asked for while one ran, oldest first, each file once: each
    /// starts in turn with the board as it is then, so a save never
    /// interleaves with another and the last one asked for has everything.
    queued: Vec<PathBuf>,
    /// What the file the board came from or was last saved to holds of the
    /// board's log: a save there hands over only the ops after it.
    in_file: Option<InFile>,
    /// Repaints the window when a save ends (set by the File menu each
    /// frame; tests poll instead).
    waker: Option<Context>,
    /// Counts the files opened: a save that ends after another board came
    /// on screen was of the one before, and says nothing about this one.
    boards: u64,
}

/// A save under way and what it will leave in the file, for [`InFile`].
#[derive(Debug)]
struct Running {
    /// The thread and its progress.
    saving: Saving,
    /// How many of the session's log's ops the file holds once it is done:
    /// `None` when the save also holds ops not yet in the log (pending ones,
    /// numbered here), which the log may later number otherwise.
    log_ops: Option<u64>,
    /// [`Documents::boards`] when it started.
    board: u64,
}

/// What a file is known to hold of the board on screen.
#[derive(Clone, Debug, PartialEq, Eq)]
struct InFile {
    /// The file.
    path: PathBuf,
    /// It holds the first this many ops of the session's log (and no more).
    ops: u64,
    /// The op its newest snapshot stands for, 0 if none or unknown.
    snapshot: u64,
}

impl Documents {
    /// No current file; `recent` remembered.
    #[must_use]
    pub fn new(recent: RecentFiles) -> Self {
        Self {
            recent,
            ..Self::default()
        }
    }

    /// The file ctrl+S saves to, if any.
    #[must_use]
    pub fn current(&self) -> Option<&Path> {
        self.current.as_deref()
    }

    /// The recent files.
    #[must_use]
    pub fn recent(&self) -> &RecentFiles {
        &self.recent
    }

    /// The error on show, if any.
    #[must_use]
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Whether a dialog, the error or a file being opened takes the keyboard
    /// (and the canvas).
    #[must_use]
    pub fn is_modal_open(&self) -> bool {
        self.dialog.is_some() || self.error.is_some() || self.opening.is_some()
    }

    /// The file being opened in the background, while it is.
    #[must_use]
    pub fn opening(&self) -> Option<&Opening> {
        self.opening.as_ref()
    }

    /// Whether the history behind the snapshot the board on screen was opened
    /// from is still being read (the session's
    /// [`history_progress`](Session::history_progress) says how far).
    #[must_use]
    pub fn is_reading_history(&self) -> bool {
        self.history.is_some()
    }

    /// The save being written in the background, while it is.
    #[must_use]
    pub fn saving(&self) -> Option<&Saving> {
        self.saving.as_ref().map(|running| &running.saving)
    }

    /// The files to be saved once the save under way is done, oldest first.
    #[must_use]
    pub fn queued_saves(&self) -> &[PathBuf] {
        &self.queued
    }

    /// Opens `path` as a local board in `session`, on this thread, from all
    /// its ops; a failure is shown (and returned). For tests: the window
    /// opens files with [`Self::start_open`].
    pub fn open(&mut self, session: &mut Session, path: &Path) -> Result<(), String> {
        match load_session(path) {
            Ok(ops) => {
                // The history being read was of the board that goes now.
                self.history = None;
                session.load(ops);
                self.opened(path, session.board().last_seq(), 0);
                Ok(())
            }
            Err(err) => Err(self.open_failed(path, &err)),
        }
    }

    /// Starts opening `path` on its own thread, which calls `wake` when it
    /// has something (pass one that repaints the window); [`Self::poll_open`]
    /// puts the board on screen then. Until then the "Opening…" modal shows. A
    /// file already being opened is given up; the history of the board on
    /// screen goes on arriving until another board replaces it.
    pub fn start_open(&mut self, path: &Path, wake: impl Fn() + Send + 'static) {
        self.opening = None;
        match Opening::start(path, wake) {
            Ok(opening) => {
                tracing::info!(path = %path.display(), "opening");
                self.opening = Some(opening);
            }
            Err(err) => {
                self.open_failed(path, &err);
            }
        }
    }

    /// Gives up the file being opened, if any; the board stays as it is.
    pub fn cancel_open(&mut self) {
        if let Some(opening) = self.opening.take() {
            tracing::info!(path = %opening.path().display(), "opening cancelled");
        }
    }

    /// Once the file being opened is ready, installs its board in `session`
    /// (or shows why it could not be opened) and says which. `None` while
    /// nothing is being opened or it is still under way. Also merges into
    /// `session` whatever has arrived of the history behind the snapshot the
    /// board on screen was opened from.
    pub fn poll_open(&mut self, session: &mut Session) -> Option<Result<(), String>> {
        self.poll_history(session);
        let result = self.opening.as_ref()?.poll()?;
        let opening = self.opening.take()?;
        let path = opening.path().to_path_buf();
        Some(match result {
            Ok(Opened { ops, board, behind }) => {
                if behind == 0 {
                    session.load_built(board, ops);
                    self.history = None;
                } else {
                    session.load_from_snapshot(board, ops);
                    tracing::info!(path = %path.display(), ops = behind, "reading the history behind the board");
                    self.history = Some(opening);
                }
                self.opened(&path, session.board().last_seq(), behind);
                Ok(())
            }
            Err(err) => Err(self.open_failed(&path, &err)),
        })
    }

    /// Merges what has arrived of the history behind the board on screen
    /// into `session`; once it is all there, the thread's work is done. A
    /// failure is shown: the board stays, without its full history.
    fn poll_history(&mut self, session: &mut Session) {
        while let Some(history) = &self.history {
            match history.poll_history() {
                None => return,
                Some(Ok(chunk)) => {
                    session.fill_history(chunk);
                    if session.history_progress().is_none() {
                        tracing::info!(path = %history.path().display(), ops = session.log().len(), "read the history");
                        self.history = None;
                    }
                }
                Some(Err(err)) => {
                    let path = history.path().to_path_buf();
                    self.history = None;
                    self.history_lost = Some(err.to_string());
                    self.fail(
                        &format!("Cannot read the history of {}", path.display()),
                        &err,
                    );
                }
            }
        }
    }

    /// `path` is on screen, its newest snapshot (if known) standing for op
    /// `snapshot`: it becomes the current file and the newest recent one.
    /// Saves still waiting were of the board that has gone.
    fn opened(&mut self, path: &Path, ops: u64, snapshot: u64) {
        tracing::info!(path = %path.display(), ops, "opened");
        self.history_lost = None;
        self.current = Some(path.to_path_buf());
        self.recent.add(path);
        self.in_file = Some(InFile {
            path: path.to_path_buf(),
            ops,
            snapshot,
        });
        self.boards += 1;
        if !self.queued.is_empty() {
            tracing::info!(
                saves = self.queued.len(),
                "saves of the previous board dropped"
            );
            self.queued.clear();
        }
    }

    /// Shows why `path` could not be opened; returns the message.
    fn open_failed(&mut self, path: &Path, error: &DocumentError) -> String {
        self.fail(&format!("Cannot open {}", path.display()), error)
    }

    /// Starts saving `session` to `path` on the `tabula-save` thread, or,
    /// while another save runs, queues it (once per file) to start with the
    /// board as it is then. `path` becomes the current file once saved
    /// ([`Self::poll_save`]). A save that cannot start is shown (and returned).
    pub fn save_as(&mut self, session: &Session, path: &Path) -> Result<(), String> {
        if let Some(reason) = self.history_lost.clone() {
            let err = DocumentError::HistoryUnreadable {
                path: path.to_path_buf(),
                reason,
            };
            return Err(self.save_failed(path, &err));
        }
        if let Some((have, total)) = session.history_progress() {
            let err = DocumentError::HistoryArriving {
                path: path.to_path_buf(),
                have,
                total,
            };
            return Err(self.save_failed(path, &err));
        }
        if self.saving.is_some() {
            if !self.queued.iter().any(|queued| queued == path) {
                tracing::info!(path = %path.display(), "a save is under way; this one follows it");
                self.queued.push(path.to_path_buf());
            }
            return Ok(());
        }
        self.start_save(session, path)
    }

    /// Hands what `path` lacks of `session` to a new `tabula-save` thread:
    /// the ops after those the file is known to hold (all of them otherwise,
    /// and the pending ones numbered after the log), and the board at their
    /// head if a snapshot may be due.
    fn start_save(&mut self, session: &Session, path: &Path) -> Result<(), String> {
        let handing_over = std::time::Instant::now();
        let room = session
            .room_url()
            .and_then(|url| room_of_url(url).ok())
            .unwrap_or(LOCAL_ROOM);
        let log = session.log();
        let known = self
            .in_file
            .as_ref()
            .filter(|known| known.path == path && known.ops <= log.len() as u64);
        let after = known.and_then(|known| {
            let last = log.get(usize::try_from(known.ops).ok()?.checked_sub(1)?)?;
            Some((known.ops, last.op.id))
        });
        let newest_snapshot = known.map_or(0, |known| known.snapshot);
        let from = after.map_or(0, |(ops, _)| ops);
        let ops = session.ops_to_save_after(from);
        let head = from + ops.len() as u64;
        // Certainly due only if the newest snapshot is known; otherwise taken
        // in case, and the thread stores it only if it is.
        let snapshot = (head >= newest_snapshot + SNAPSHOT_EVERY)
            .then(|| snapshot_at_head(session.board(), &ops));
        let log_ops = (head == log.len() as u64).then_some(head);
        let snapshot_taken = snapshot.is_some();
        let job = SaveJob {
            path: path.to_path_buf(),
            room: room.to_owned(),
            ops,
            after,
            snapshot,
        };
        let wake = self.waker.clone();
        let started = Saving::start(job, move || {
            if let Some(ctx) = &wake {
                ctx.request_repaint();
            }
        });
        match started {
            Ok(saving) => {
                tracing::info!(
                    path = %path.display(),
                    ops = head - from,
                    appended = after.is_some(),
                    snapshot = snapshot_taken,
                    handed_over_in = ?handing_over.elapsed(),
                    "saving"
                );
                self.saving = Some(Running {
                    saving,
                    log_ops,
                    board: self.boards,
                });
                Ok(())
            }
            Err(err) => Err(self.save_failed(path, &err)),
        }
    }

    /// Once the save under way is done, takes note (`path` becomes the current
    /// file) or shows why it failed, says which, and starts the next save
    /// asked for, with `session` as it is now. `None` while nothing is being
    /// saved or it is still under way (also when a file that changed since
    /// the last save there is being written again, whole).
    pub fn poll_save(&mut self, session: &Session) -> Option<Result<(), String>> {
        let result = self.saving.as_ref()?.saving.poll()?;
        let running = self.saving.take()?;
        let path = running.saving.path().to_path_buf();
        let outcome = match result {
            Ok(saved) if running.board != self.boards => {
                tracing::info!(path = %path.display(), ops = saved.head, "saved the board shown before");
                self.recent.add(&path);
                Some(Ok(()))
            }
            Ok(saved) => {
                tracing::info!(path = %path.display(), ops = saved.head, "saved");
                self.current = Some(path.clone());
                self.recent.add(&path);
                self.in_file = running.log_ops.map(|ops| InFile {
                    path: path.clone(),
                    ops,
                    snapshot: saved.snapshot,
                });
                Some(Ok(()))
            }
            Err(DocumentError::Changed { .. }) if running.board == self.boards => {
                tracing::info!(path = %path.display(), "the file has changed since it was saved; writing it whole");
                self.in_file = None;
                match self.start_save(session, &path) {
                    Ok(()) => None,
                    Err(message) => Some(Err(message)),
                }
            }
            Err(err) => Some(Err(self.save_failed(&path, &err))),
        };
        if self.saving.is_none() && !self.queued.is_empty() {
            let next = self.queued.remove(0);
            // A failure is shown in the error modal.
            let _ = self.save_as(session, &next);
        }
        outcome
    }

    /// Shows why `path` could not be saved; returns the message.
    fn save_failed(&mut self, path: &Path, error: &DocumentError) -> String {
        self.fail(&format!("Cannot save {}", path.display()), error)
    }

    /// Saves to the current file (or to the file a save under way writes,
    /// before it becomes the current one), or asks where.
    pub fn save(&mut self, session: &Session) {
        let target = self
            .current
            .clone()
            .or_else(|| self.saving().map(|saving| saving.path().to_path_buf()));
        match target {
            Some(path) => {
                // Shown in the modal by save_as.
                let _ = self.save_as(session, &path);
            }
            None => self.ask(PathPurpose::SaveAs),
        }
    }

    /// Shows the path dialog.
    pub fn ask(&mut self, purpose: PathPurpose) {
        let text = match (&self.current, purpose) {
            (Some(path), PathPurpose::SaveAs) => path.display().to_string(),
            _ => String::new(),
        };
        self.dialog = Some(PathDialog {
            purpose,
            text,
            focus: true,
        });
    }

    /// Shows `error` under `heading`; returns the whole message. Errors are
    /// handled here, once: logged and shown.
    fn fail(&mut self, heading: &str, error: &DocumentError) -> String {
        tracing::warn!(%error, "{heading}");
        let message = format!("{heading}\n\n{error}");
        self.error = Some(message.clone());
        message
    }

    /// The File menu (top left), its shortcuts, the path dialog and the error
    /// message. Returns what else the menu asked for.
    pub fn file_menu_ui(
        &mut self,
        ctx: &Context,
        session: &mut Session,
        keyboard: bool,
    ) -> Option<DocumentAction> {
        let mut action = None;
        self.waker = Some(ctx.clone());
        // Before anything can start another: a file started this frame shows
        // its modal at least once.
        if self.poll_open(session) == Some(Ok(())) {
            action = Some(DocumentAction::Opened);
        }
        // A failure is shown in the error modal.
        let _ = self.poll_save(session);
        if keyboard && !self.is_modal_open() {
            self.shortcuts(ctx, session);
        }
        egui::Area::new(egui::Id::unique("tabula-file-menu"))
            .anchor(Align2::LEFT_TOP, vec2(EDGE_GAP, EDGE_GAP))
            .show(ctx, |ui| {
                theme::floating_panel(ui).show(ui, |ui| {
                    ui.horizontal(|ui| {
                        ui.menu_button("File", |ui| {
                            if ui.button("Open…  (Ctrl O)").clicked() {
                                self.ask(PathPurpose::Open);
                            }
                            // The whole history is needed to save or replay it.
                            let arriving = session.history_progress().map(|(have, total)| {
                                format!(
                                    "The board's history is still arriving: {have} of {total} ops"
                                )
                            });
                            let complete = arriving.is_none();
                            let waiting = |response: egui::Response| match &arriving {
                                Some(text) => response.on_disabled_hover_text(text),
                                None => response,
                            };
                            let save =
                                ui.add_enabled(complete, egui::Button::new("Save  (Ctrl S)"));
                            if waiting(save).clicked() {
                                self.save(session);
                            }
                            let save_as = ui.add_enabled(
                                complete,
                                egui::Button::new("Save as…  (Ctrl Shift S)"),
                            );
                            if waiting(save_as).clicked() {
                                self.ask(PathPurpose::SaveAs);
                            }
                            ui.separator();
                            let replay = ui.add_enabled(complete, egui::Button::new("Replay…"));
                            if waiting(replay).clicked() {
                                action = Some(DocumentAction::Replay);
                            }
                            ui.separator();
                            ui.label("Recent files");
                            let recent = self.recent.paths().to_vec();
                            if recent.is_empty() {
                                ui.weak("none yet");
                            }
                            for path in recent {
                                let name = path.file_name().map_or_else(
                                    || path.display().to_string(),
                                    |n| n.to_string_lossy().into_owned(),
                                );
                                let button =
                                    ui.button(name).on_hover_text(path.display().to_string());
                                if button.clicked() {
                                    self.start_open(&path, waker(ctx));
                                }
                            }
                        });
                        self.saving_ui(ui);
                    });
                });
            });
        self.path_dialog_ui(ctx, session);
        self.opening_ui(ctx);
        self.error_ui(ctx);
        action
    }

    /// Ctrl+S, ctrl+shift+S and ctrl+O.
    fn shortcuts(&mut self, ctx: &Context, session: &Session) {
        let (save_as, save, open) = ctx.input_mut(|i| {
            (
                i.consume_key(Modifiers::COMMAND | Modifiers::SHIFT, Key::S),
                i.consume_key(Modifiers::COMMAND, Key::S),
                i.consume_key(Modifiers::COMMAND, Key::O),
            )
        });
        if save_as {
            self.ask(PathPurpose::SaveAs);
        } else if save {
            self.save(session);
        } else if open {
            self.ask(PathPurpose::Open);
        }
    }

    /// The modal that asks for a path to open or save to.
    fn path_dialog_ui(&mut self, ctx: &Context, session: &Session) {
        let Some(dialog) = &mut self.dialog else {
            return;
        };
        let purpose = dialog.purpose;
        let mut confirmed = false;
        let mut cancelled = false;
        let modal = egui::Modal::new(egui::Id::unique("tabula-path-dialog")).show(ctx, |ui| {
            ui.set_width(420.0);
            ui.heading(match purpose {
                PathPurpose::Open => "Open a session",
                PathPurpose::SaveAs => "Save the board as",
            });
            ui.label("The path of a .tabula file:");
            let field = ui.add(
                egui::TextEdit::singleline(&mut dialog.text)
                    .hint_text("~/boards/meeting.tabula")
                    .desired_width(f32::INFINITY),
            );
            if std::mem::take(&mut dialog.focus) {
                field.request_focus();
            }
            if field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) {
                confirmed = true;
            }
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                if ui.button("Cancel").clicked() {
                    cancelled = true;
                }
                let label = match purpose {
                    PathPurpose::Open => "Open",
                    PathPurpose::SaveAs => "Save",
                };
                if ui.button(label).clicked() {
                    confirmed = true;
                }
            });
        });
        if cancelled || modal.should_close() {
            self.dialog = None;
            return;
        }
        if confirmed && !dialog.text.trim().is_empty() {
            let path = expand_home(dialog.text.trim());
            self.dialog = None;
            match purpose {
                PathPurpose::Open => self.start_open(&path, waker(ctx)),
                PathPurpose::SaveAs => {
                    // A failure is shown in the error modal.
                    let _ = self.save_as(session, &with_extension(&path));
                }
            }
        }
    }

    /// "Saving NAME… n of m ops" with a spinner beside the File menu while a
    /// save runs (and how many wait after it); the board stays in use.
    fn saving_ui(&self, ui: &mut egui::Ui) {
        let Some(saving) = self.saving() else {
            return;
        };
        let path = saving.path();
        let progress = saving.progress();
        ui.spinner();
        let count = if progress.written < progress.total {
            format!(
                " {} of {} ops",
                thousands(progress.written),
                thousands(progress.total)
            )
        } else {
            String::new()
        };
        let then = match self.queued.len() {
            0 => String::new(),
            n => format!(" (then {n} more)"),
        };
        let text = format!("Saving {}…{count}{then}", file_name(path));
        // The spinner repaints the window, so the count moves.
        ui.add(egui::Label::new(text).extend())
            .on_hover_text(path.display().to_string());
    }

    /// "Opening NAME… (n ops)" with a spinner, while a file is read and built;
    /// it blocks the canvas like the other modals. Cancel keeps the board.
    fn opening_ui(&mut self, ctx: &Context) {
        let Some(opening) = &self.opening else {
            return;
        };
        let name = file_name(opening.path());
        let progress = opening.progress();
        let mut cancel = false;
        egui::Modal::new(egui::Id::unique("tabula-opening")).show(ctx, |ui| {
            ui.set_width(420.0);
            ui.heading(if progress.total == 0 {
                format!("Opening {name}…")
            } else {
                format!("Opening {name}… ({} ops)", thousands(progress.total))
            });
            ui.add_space(4.0);
            ui.horizontal(|ui| {
                ui.spinner();
                let stage = if progress.total == 0 {
                    "Reading the file".to_owned()
                } else if progress.read < progress.total {
                    format!("Reading ops: {}", percent(progress.read, progress.total))
                } else {
                    format!(
                        "Building the board: {}",
                        percent(progress.applied, progress.total)
                    )
                };
                ui.label(stage);
            });
            ui.add_space(8.0);
            if ui.button("Cancel").clicked() {
                cancel = true;
            }
        });
        if cancel {
            self.cancel_open();
        }
    }

    /// The error message, until dismissed.
    fn error_ui(&mut self, ctx: &Context) {
        let Some(message) = &self.error else {
            return;
        };
        let mut close = false;
        let modal = egui::Modal::new(egui::Id::unique("tabula-file-error")).show(ctx, |ui| {
            ui.set_width(420.0);
            let (heading, detail) = message.split_once("\n\n").unwrap_or((message, ""));
            ui.heading(heading);
            ui.add_space(4.0);
            ui.label(detail);
            ui.add_space(8.0);
            if ui.button("OK").clicked() {
                close = true;
            }
        });
        if close || modal.should_close() {
            self.error = None;
        }
    }
}

/// A wake for the opening thread: repaints the window, so the next frame
/// polls the result.
fn waker(ctx: &Context) -> impl Fn() + Send + 'static {
    let ctx = ctx.clone();
    move || ctx.request_repaint()
}

/// The file name of `path`, or all of it if it has none.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            text.push(',');
        }
        text.push(c);
    }
    text
}

/// `part` of `whole` as a whole percentage, `"41 %"`.
fn percent(part: u64, whole: u64) -> String {
    format!("{} %", part.saturating_mul(100) / whole.max(1))
}

/// `~/x` as a path under the home folder.
fn expand_home(text: &str) -> PathBuf {
    match (text.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(text),
    }
}
