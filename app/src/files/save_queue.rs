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

    /// The handle of the save under way, if any, to poll.
    pub fn running_mut(&mut self) -> Option<&mut J> {
        self.running.as_mut().map(|running| &mut running.job)
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

    /// Another board is on screen, from the file `in_file` says (none: a
    /// new board, in no file yet): the saves waiting were of the board that
    /// has gone, and are given up (how many is returned). A save under way
    /// goes on; its end says nothing about this board.
    pub fn board_replaced(&mut self, in_file: Option<InFile>) -> usize {
        self.boards += 1;
        self.in_file = in_file;
        std::mem::take(&mut self.queued).len()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use tabula_shared::{ClientId, Op, OpKind};

    use super::*;

    /// `n` ops numbered from 1.
    fn log(n: u64) -> Vec<SequencedOp> {
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

    /// A queue whose handles are file names, with `path` being saved.
    fn saving(path: &str) -> SaveQueue<&'static str> {
        let mut queue = SaveQueue::default();
        assert!(queue.ask(Path::new(path)), "nothing runs: it starts");
        queue.started("job", Path::new(path), Some(10));
        queue
    }

    /// What a save of `head` ops without a snapshot left.
    fn saved(head: u64) -> Saved {
        Saved { head, snapshot: 0 }
    }

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn a_save_asked_for_during_a_save_waits_for_it() {
        let mut queue = saving("a");
        assert!(!queue.ask(Path::new("b")), "one save at a time");
        assert_eq!(queue.queued(), paths(&["b"]));
        assert_eq!(queue.running(), Some(&"job"));
        assert_eq!(queue.next_save(), None, "not while a save runs");

        let finished = queue.finished(Ok(saved(10)));
        assert!(
            matches!(finished, Some(Finished::Saved { path, head: 10 }) if path == Path::new("a"))
        );
        assert_eq!(queue.running(), None);
        assert_eq!(
            queue.next_save(),
            Some(PathBuf::from("b")),
            "then it starts"
        );
        assert_eq!(queue.next_save(), None);
        assert!(
            queue.finished(Ok(saved(10))).is_none(),
            "nothing was running"
        );
    }

    #[test]
    fn the_same_file_asked_for_twice_during_a_save_waits_once() {
        let mut queue = saving("a");
        assert!(!queue.ask(Path::new("a")), "the file being saved waits too");
        assert!(!queue.ask(Path::new("a")));
        assert_eq!(queue.queued(), paths(&["a"]), "once");
        queue.finished(Ok(saved(10)));
        assert_eq!(queue.next_save(), Some(PathBuf::from("a")));
        assert_eq!(queue.next_save(), None);
    }

    #[test]
    fn other_files_wait_in_the_order_asked_each_once() {
        let mut queue = saving("a");
        for path in ["b", "a", "c", "b", "a"] {
            assert!(!queue.ask(Path::new(path)));
        }
        assert_eq!(queue.queued(), paths(&["b", "a", "c"]));
        queue.finished(Ok(saved(10)));
        let mut order = Vec::new();
        while let Some(next) = queue.next_save() {
            queue.started("job", &next, Some(10));
            // Asked for again while it runs, once: it waits once more.
            if order.is_empty() {
                assert!(!queue.ask(&next));
            }
            order.push(next);
            queue.finished(Ok(saved(10)));
            assert!(order.len() < 10, "the queue ends: {order:?}");
        }
        assert_eq!(order, paths(&["b", "a", "c", "b"]));
    }

    #[test]
    fn a_finished_save_says_what_its_file_holds_and_the_next_appends() {
        let log = log(12);
        let mut queue = SaveQueue::default();
        assert_eq!(
            queue.plan(Path::new("a"), &log).after,
            None,
            "unknown: whole"
        );
        queue.started((), Path::new("a"), Some(10));
        queue.finished(Ok(Saved {
            head: 10,
            snapshot: 4,
        }));
        assert_eq!(
            queue.in_file(),
            Some(&InFile {
                path: PathBuf::from("a"),
                ops: 10,
                snapshot: 4
            })
        );
        let plan = queue.plan(Path::new("a"), &log);
        assert_eq!(plan.after, Some((10, log[9].op.id)));
        assert_eq!((plan.from(), plan.newest_snapshot), (10, 4));
        assert_eq!(
            queue.plan(Path::new("b"), &log).after,
            None,
            "another file: whole"
        );
        assert_eq!(
            queue.plan(Path::new("a"), &log[..5]),
            Plan {
                after: None,
                newest_snapshot: 0
            },
            "a log that no longer has those ops is written whole"
        );

        // A save that also held pending ops leaves nothing known.
        queue.started((), Path::new("a"), None);
        queue.finished(Ok(saved(14)));
        assert_eq!(queue.in_file(), None);
    }

    #[test]
    fn a_failed_save_is_reported_and_the_next_one_starts() {
        let mut queue = saving("a");
        queue.finished(Ok(saved(10)));
        queue.started("job", Path::new("a"), Some(12));
        queue.ask(Path::new("b"));
        let failed = queue.finished(Err(FileError::Io {
            path: PathBuf::from("a"),
            cause: std::io::Error::other("disk full"),
        }));
        assert!(
            matches!(&failed, Some(Finished::Failed { path, error: FileError::Io { .. } }) if path == Path::new("a")),
            "{failed:?}"
        );
        assert_eq!(
            queue.in_file().map(|known| known.ops),
            Some(10),
            "the file holds what it held"
        );
        assert_eq!(queue.next_save(), Some(PathBuf::from("b")));
    }

    #[test]
    fn a_file_that_changed_since_its_last_save_is_written_again_whole() {
        let log = log(12);
        let mut queue = saving("a");
        queue.finished(Ok(saved(10)));
        assert!(queue.plan(Path::new("a"), &log).after.is_some());
        queue.started("job", Path::new("a"), Some(12));
        queue.ask(Path::new("b"));
        let changed = queue.finished(Err(FileError::Changed {
            path: PathBuf::from("a"),
        }));
        assert!(matches!(changed, Some(Finished::Changed { path }) if path == Path::new("a")));
        assert_eq!(queue.plan(Path::new("a"), &log).after, None, "whole");
        // Its owner starts it again before the next one.
        queue.started("again", Path::new("a"), Some(12));
        assert_eq!(queue.next_save(), None);
        assert_eq!(queue.queued(), paths(&["b"]));
    }

    #[test]
    fn saves_of_a_board_that_has_gone_are_given_up() {
        let mut queue = saving("a");
        queue.ask(Path::new("a"));
        queue.ask(Path::new("b"));
        let opened = InFile {
            path: PathBuf::from("c"),
            ops: 7,
            snapshot: 0,
        };
        assert_eq!(
            queue.board_replaced(Some(opened.clone())),
            2,
            "both given up"
        );
        assert!(queue.queued().is_empty());
        assert_eq!(queue.running_path(), Some(Path::new("a")), "goes on");

        // It ends after the new board came: it says nothing about it, and a
        // change found there is the old board's business, not a rewrite.
        let finished = queue.finished(Ok(saved(10)));
        assert!(
            matches!(finished, Some(Finished::SavedEarlierBoard { path, head: 10 }) if path == Path::new("a"))
        );
        assert_eq!(queue.in_file(), Some(&opened));
        queue.started("job", Path::new("a"), Some(7));
        queue.board_replaced(Some(opened.clone()));
        let changed = queue.finished(Err(FileError::Changed {
            path: PathBuf::from("a"),
        }));
        assert!(
            matches!(changed, Some(Finished::Failed { .. })),
            "{changed:?}"
        );
        assert_eq!(queue.in_file(), Some(&opened));
    }

    #[test]
    fn a_save_given_up_is_reported_as_failed_and_the_queue_goes_on() {
        let mut queue = saving("a");
        queue.ask(Path::new("b"));
        let given_up = queue.finished(Err(FileError::Abandoned {
            path: PathBuf::from("a"),
        }));
        assert!(
            matches!(
                &given_up,
                Some(Finished::Failed {
                    error: FileError::Abandoned { .. },
                    ..
                })
            ),
            "{given_up:?}"
        );
        assert_eq!(queue.in_file(), None, "nothing known of the file");
        assert_eq!(queue.next_save(), Some(PathBuf::from("b")));
    }

    /// A handle that notes when it is dropped, as the save thread's stops.
    struct Handle(Rc<Cell<bool>>);

    impl Drop for Handle {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }

    #[test]
    fn the_save_under_way_is_given_up_with_the_queue() {
        let dropped = Rc::new(Cell::new(false));
        let mut queue = SaveQueue::default();
        queue.started(Handle(Rc::clone(&dropped)), Path::new("a"), Some(1));
        queue.ask(Path::new("b"));
        assert!(!dropped.get());
        drop(queue);
        assert!(dropped.get(), "its handle goes with it: the thread stops");

        // And once finished, the handle is let go at once.
        let dropped = Rc::new(Cell::new(false));
        let mut queue = SaveQueue::default();
        queue.started(Handle(Rc::clone(&dropped)), Path::new("a"), Some(1));
        queue.finished(Ok(saved(1)));
        assert!(dropped.get());
    }
}
