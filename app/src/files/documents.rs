//! [`Documents`]: the file the board came from, the file being opened, the
//! saves under way and waiting, the recent files, and the failure to show.
//!
//! The app polls it once a frame, right after the network ([`Documents::poll`]):
//! a file whose board has been built is put on screen, the history behind its
//! snapshot is merged into the session as it arrives (Save and Replay wait for
//! it), a save that has ended is taken note of and the next one started. The
//! File menu ([`super::menu`]) only asks for things. Every failure is handled
//! here, once: logged, and kept to show until dismissed.

use std::path::{Path, PathBuf};

use super::opening::{Arrived, History, Opened, Opening, load_session};
use super::recent::RecentFiles;
use super::save_queue::{Finished, InFile, SaveQueue};
use super::saving::{SaveJob, Saving, snapshot_at_head};
use super::{FileError, SNAPSHOT_EVERY};
use crate::pictures::Lack;
use crate::session::{Session, room_of_url};

/// The room name written into a file saved from a local board.
pub const LOCAL_ROOM: &str = "local";

/// The current file, the recent files, and the files being opened and saved.
#[derive(Debug, Default)]
pub struct Documents {
    /// The file the board was opened from or last saved to: where ctrl+S saves.
    current: Option<PathBuf>,
    /// The last files used.
    recent: RecentFiles,
    /// The last failure, shown in a modal until dismissed.
    error: Option<String>,
    /// The file being read and built on its own thread, while it is: the
    /// "Opening…" modal shows until its board is on screen.
    opening: Option<Opening>,
    /// The file whose board is on screen (built from its snapshot), while its
    /// thread still reads the history behind that snapshot.
    history: Option<History>,
    /// Why the history behind the board on screen could not be read, if it
    /// could not: saves are refused with it until another board comes.
    history_lost: Option<String>,
    /// The save under way on the `tabula-save` thread, the saves waiting, and
    /// what the board's file holds.
    saves: SaveQueue<Saving>,
    /// Repaints the window when a save ends (given by each frame's poll;
    /// tests poll instead).
    waker: Option<egui::Context>,
    /// How many failures have been shown: quitting once the saves are done
    /// does not quit if one of them failed meanwhile.
    failures: u64,
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

    /// The error has been read: it goes.
    pub fn dismiss_error(&mut self) {
        self.error = None;
    }

    /// Whether the error or a file being opened takes the keyboard (and the
    /// canvas).
    #[must_use]
    pub fn is_modal_open(&self) -> bool {
        self.error.is_some() || self.opening.is_some()
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
        self.saves.running()
    }

    /// The files to be saved once the save under way is done, oldest first.
    #[must_use]
    pub fn queued_saves(&self) -> &[PathBuf] {
        self.saves.queued()
    }

    /// Whether a save is under way or waiting: quitting now would lose it.
    #[must_use]
    pub fn has_pending_saves(&self) -> bool {
        self.saves.running().is_some() || !self.saves.queued().is_empty()
    }

    /// How many failures have been shown so far.
    #[must_use]
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// Once a frame: puts a file whose board has been built on screen in
    /// `session` (or shows why it could not be opened), merges what has
    /// arrived of the history behind it, and takes note of a save that has
    /// ended (or shows why it failed) and starts the next. Saves started from
    /// now on repaint `ctx` when they end. Returns whether another board is
    /// on screen.
    pub fn poll(&mut self, session: &mut Session, ctx: &egui::Context) -> bool {
        if self.waker.is_none() {
            self.waker = Some(ctx.clone());
        }
        let opened = self.poll_open(session) == Some(Ok(()));
        // A failure is shown in the error modal.
        let _ = self.poll_save(session);
        opened
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
    pub fn start_open(&mut self, path: &Path, wake: impl Fn() + Send + Sync + 'static) {
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
        let result = self.opening.as_mut()?.poll()?;
        let opening = self.opening.take()?;
        let path = opening.path().to_path_buf();
        Some(match result {
            Ok((
                Opened {
                    ops,
                    board,
                    behind,
                    pictures,
                },
                history,
            )) => {
                for picture in pictures {
                    match picture {
                        Ok(blob) => session.pictures_mut().insert(blob),
                        Err((id, why)) => session.pictures_mut().lack(id, Lack::Damaged(why)),
                    }
                }
                if behind == 0 {
                    session.load_built(board, ops);
                } else {
                    session.load_from_snapshot(board, ops);
                    tracing::info!(path = %path.display(), ops = behind, "reading the history behind the board");
                }
                // The history being read before was of the board that goes now.
                self.history = history;
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
        while let Some(history) = &mut self.history {
            let arrived = history.poll();
            let path = history.path().to_path_buf();
            match arrived {
                None => return,
                Some(Ok(Arrived::Chunk(chunk))) => {
                    session.fill_history(chunk);
                    if session.history_progress().is_none() {
                        tracing::info!(path = %path.display(), ops = session.log().len(), "read the history");
                        self.history = None;
                    }
                }
                Some(Ok(Arrived::End)) => {
                    self.history = None;
                    if let Some((have, total)) = session.history_progress() {
                        // The file holds fewer ops than its snapshot stands for.
                        let err = FileError::Io {
                            path: path.clone(),
                            cause: std::io::Error::other(format!(
                                "the history behind the board ends after {have} of its {total} ops"
                            )),
                        };
                        self.history_lost = Some(err.to_string());
                        self.fail(
                            &format!("Cannot read the history of {}", path.display()),
                            &err,
                        );
                    }
                }
                Some(Err(err)) => {
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
    /// A new board is on screen, in no file yet (started from a replay's
    /// moment): Save asks where, and nothing of the board before is read or
    /// saved for it.
    pub fn new_board(&mut self) {
        self.history = None;
        self.history_lost = None;
        self.current = None;
        let dropped = self.saves.board_replaced(None);
        if dropped > 0 {
            tracing::info!(saves = dropped, "saves of the previous board dropped");
        }
    }

    fn opened(&mut self, path: &Path, ops: u64, snapshot: u64) {
        tracing::info!(path = %path.display(), ops, "opened");
        self.history_lost = None;
        self.current = Some(path.to_path_buf());
        self.recent.add(path);
        let dropped = self.saves.board_replaced(Some(InFile {
            path: path.to_path_buf(),
            ops,
            snapshot,
        }));
        if dropped > 0 {
            tracing::info!(saves = dropped, "saves of the previous board dropped");
        }
    }

    /// Shows why `path` could not be opened; returns the message.
    fn open_failed(&mut self, path: &Path, error: &FileError) -> String {
        self.fail(&format!("Cannot open {}", path.display()), error)
    }

    /// Saves to the current file (or to the file a save under way writes,
    /// before it becomes the current one); a failure is shown. `false` when
    /// there is no such file: the caller asks where.
    pub fn save(&mut self, session: &Session) -> bool {
        let target = self
            .current
            .clone()
            .or_else(|| self.saves.running_path().map(Path::to_path_buf));
        let Some(path) = target else {
            return false;
        };
        // Shown in the modal by save_as.
        let _ = self.save_as(session, &path);
        true
    }

    /// Starts saving `session` to `path` on the `tabula-save` thread, or,
    /// while another save runs, queues it (once per file) to start with the
    /// board as it is then. `path` becomes the current file once saved
    /// ([`Self::poll_save`]). A save that cannot start is shown (and returned).
    pub fn save_as(&mut self, session: &Session, path: &Path) -> Result<(), String> {
        if let Some(reason) = self.history_lost.clone() {
            let err = FileError::HistoryUnreadable {
                path: path.to_path_buf(),
                reason,
            };
            return Err(self.save_failed(path, &err));
        }
        if let Some((have, total)) = session.history_progress() {
            let err = FileError::HistoryArriving {
                path: path.to_path_buf(),
                have,
                total,
            };
            return Err(self.save_failed(path, &err));
        }
        if !self.saves.ask(path) {
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
        let plan = self.saves.plan(path, session.log());
        let from = plan.from();
        let ops = session.ops_to_save_after(from);
        let head = from + ops.len() as u64;
        // Certainly due only if the newest snapshot is known; otherwise taken
        // in case, and the thread stores it only if it is.
        let snapshot = (head >= plan.newest_snapshot + SNAPSHOT_EVERY)
            .then(|| snapshot_at_head(session.board(), &ops));
        let log_ops = (head == session.log().len() as u64).then_some(head);
        let snapshot_taken = snapshot.is_some();
        let job = SaveJob {
            path: path.to_path_buf(),
            room: room.to_owned(),
            ops,
            after: plan.after,
            snapshot,
            pictures: session.pictures_to_save(),
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
                    appended = plan.after.is_some(),
                    snapshot = snapshot_taken,
                    handed_over_in = ?handing_over.elapsed(),
                    "saving"
                );
                self.saves.started(saving, path, log_ops);
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
        let result = self.saves.running_mut()?.poll()?;
        let outcome = match self.saves.finished(result)? {
            Finished::SavedEarlierBoard { path, head } => {
                tracing::info!(path = %path.display(), ops = head, "saved the board shown before");
                self.recent.add(&path);
                Some(Ok(()))
            }
            Finished::Saved { path, head } => {
                tracing::info!(path = %path.display(), ops = head, "saved");
                self.recent.add(&path);
                self.current = Some(path);
                Some(Ok(()))
            }
            Finished::Changed { path } => {
                tracing::info!(path = %path.display(), "the file has changed since it was saved; writing it whole");
                match self.start_save(session, &path) {
                    Ok(()) => None,
                    Err(message) => Some(Err(message)),
                }
            }
            Finished::Failed { path, error } => Some(Err(self.save_failed(&path, &error))),
        };
        if let Some(next) = self.saves.next_save() {
            // A failure is shown in the error modal.
            let _ = self.save_as(session, &next);
        }
        outcome
    }

    /// Shows why `path` could not be saved; returns the message.
    fn save_failed(&mut self, path: &Path, error: &FileError) -> String {
        self.fail(&format!("Cannot save {}", path.display()), error)
    }

    /// Shows `error` under `heading`; returns the whole message. Errors are
    /// handled here, once: logged and shown.
    fn fail(&mut self, heading: &str, error: &FileError) -> String {
        tracing::warn!(%error, "{heading}");
        self.failures += 1;
        let message = format!("{heading}\n\n{error}");
        self.error = Some(message.clone());
        message
    }
}
