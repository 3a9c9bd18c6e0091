//! A room's op log: every sequenced op, kept as the exact frame that was sent.
//!
//! The log stores encoded frames rather than ops, so a catch-up re-sends the bytes
//! that went out live and never encodes anything again. It sits behind the small,
//! synchronous [`OpLog`] trait with two implementations: [`SqliteLog`], one
//! `.tabula` session file per room (see [`tabula_shared::session_file`]), and
//! [`MemoryLog`] for a relay started without a data folder.
//!
//! Only the room's sequencer appends, and an append returns once the ops are
//! durable; readers (catch-ups) take the same lock a chunk at a time. A file is
//! never touched on a tokio worker: its appends run on a writer thread and
//! catch-ups read through `spawn_blocking`; only a [`MemoryLog`] is appended to
//! on the proposing connection's task.
//!
//! A room's file lets its memory go while the room is quiet: the
//! `tabula-rest` thread frees the pages `SQLite` cached for a [`SqliteLog`]
//! nobody has read or written for [`RELEASE_PAGES_AFTER`], and closes the file
//! after [`REST_AFTER`]; its next use reopens it. An open file costs the relay
//! about 50 KiB (`SQLite`'s connection, schema and statements, and the
//! write-ahead log's 32 KiB index, which `SQLite` maps whole), and a relay
//! holds most of its rooms for people who are only looking.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tabula_shared::session_file::{
    EXTENSION, SessionFile, SessionFileError, StoredOp, StoredSnapshot,
};
use tabula_shared::{ClientId, OpId};
use tracing::{debug, warn};

use crate::sync::{lock, try_lock};

pub use tabula_shared::session_file::Stamp;

/// Why a room's storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The room's session file could not be opened, read or written.
    #[error(transparent)]
    File(#[from] SessionFileError),
    /// The room's data folder could not be made or read.
    #[error("{}: {cause}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// What the OS said.
        cause: io::Error,
    },
    /// The log lacks an op it should hold (its head says it is there).
    #[error("the room's history has no op {seq}")]
    HistoryGap {
        /// The first missing sequence number.
        seq: u64,
    },
    /// The rooms' writer threads, or the thread that closes quiet rooms'
    /// files, could not be started.
    #[error("could not start the rooms' threads: {0}")]
    Thread(io::Error),
}

/// One op as the writer hands it to the log.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The op's id, for the resend index.
    pub op_id: OpId,
    /// Who proposed it.
    pub author: ClientId,
    /// Its sequence number and time.
    pub stamp: Stamp,
    /// The `ServerMessage::Op` frame, shared with the fan-out.
    pub frame: Bytes,
}

/// The history of one room, in sequence order.
///
/// Sequence numbers start at 1 and each batch given to [`append`](OpLog::append)
/// starts at `head() + 1` with no gaps; the room's writer guarantees that.
pub trait OpLog: Send + std::fmt::Debug {
    /// The latest op's stamp, `None` while the log is empty: where sequencing
    /// carries on, even after a restart.
    fn last_stamp(&self) -> Result<Option<Stamp>, StoreError>;

    /// How the op with this id was stamped, if it has been sequenced already: the
    /// index that makes resends idempotent.
    fn stamp_of(&self, op: OpId) -> Result<Option<Stamp>, StoreError>;

    /// Records newly sequenced ops, all or none. When this returns `Ok`, they
    /// survive a crash of the relay (for a durable log, a power cut too).
    fn append(&mut self, batch: &[Entry]) -> Result<(), StoreError>;

    /// Up to `limit` frames of the ops after `after` up to and including `up_to`,
    /// in order, and no more once they hold `max_bytes` (the first frame is
    /// read whatever its size).
    fn frames_between(
        &self,
        after: u64,
        up_to: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<Bytes>, StoreError>;

    /// The newest board snapshot kept, if any: where a reopened room's
    /// snapshots carry on (see `crate::snapshots`).
    fn latest_snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError>;

    /// Keeps a board snapshot taken after op `snapshot.seq`, which the log holds,
    /// so that it outlives the relay; older ones may be dropped. A log in memory
    /// keeps none: its room holds the latest itself.
    fn put_snapshot(&mut self, snapshot: &StoredSnapshot) -> Result<(), StoreError>;
}

/// A room's op log, shared by its writer (which appends), catch-ups (which read)
/// and its snapshots. A `std::sync::Mutex`: it is only ever taken on a writer or
/// snapshotter thread or in `spawn_blocking`, never on a tokio worker (a log in
/// memory excepted, which never blocks).
pub type SharedLog = Arc<Mutex<Box<dyn OpLog>>>;

/// How many room files may be open at once, and which are: a relay holds
/// one per room people use, and each costs three file descriptors (the
/// database, its write-ahead log and that log's index). Opening one more than
/// the budget allows first closes the least recently used file that nobody is
/// using right now; its room reopens it on its next read or write, unseen.
#[derive(Debug)]
pub struct FileBudget {
    /// The most files open at once (give or take files in use, which are
    /// never closed under their users).
    max: usize,
    /// How many are open now.
    open: AtomicUsize,
    /// Every log's file; an entry dies with its log. A leaf lock.
    files: Mutex<Vec<Weak<Mutex<RoomFile>>>>,
}

impl FileBudget {
    /// A budget of `max` open files.
    #[must_use]
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            open: AtomicUsize::new(0),
            files: Mutex::new(Vec::new()),
        })
    }

    /// How many room files are open now.
    #[must_use]
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Counts `file` among those the budget may close.
    fn track(&self, file: &Arc<Mutex<RoomFile>>) {
        let mut files = lock(&self.files);
        files.retain(|file| file.strong_count() > 0);
        files.push(Arc::downgrade(file));
    }

    /// Before a file opens: closes the least recently used open files that
    /// nobody holds right now until one more fits. Called under the lock of
    /// the file about to open, so it only ever `try_lock`s the others.
    fn make_room(&self) {
        while self.open.load(Ordering::Acquire) >= self.max {
            let files: Vec<Arc<Mutex<RoomFile>>> =
                lock(&self.files).iter().filter_map(Weak::upgrade).collect();
            // Open files by when they were last used, oldest first; one in
            // use right now is passed over for the next.
            let mut open: Vec<(Instant, &Arc<Mutex<RoomFile>>)> = files
                .iter()
                .filter_map(|file| {
                    let held = try_lock(file)?;
                    held.open.as_ref().map(|_| (held.used, file))
                })
                .collect();
            open.sort_by_key(|(used, _)| *used);
            let closed = open
                .into_iter()
                .any(|(_, file)| try_lock(file).is_some_and(|mut file| file.close()));
            if !closed {
                warn!(
                    max = self.max,
                    "every open room file is in use: opening one more than the budget"
                );
                return;
            }
        }
    }

    /// Counts a file that opened.
    fn opened(&self) {
        self.open.fetch_add(1, Ordering::AcqRel);
    }

    /// Counts a file that closed.
    fn closed(&self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An [`OpLog`] in a `.tabula` session file: durable, and readable by the app
/// (and by `sqlite3` or an export) while the relay has it open.
///
/// What the file holds in memory is let go as the room goes quiet (see the
/// module's documentation): its cached pages after [`RELEASE_PAGES_AFTER`],
/// the whole file after [`REST_AFTER`], reopened by the next use unseen by the
/// room.
#[derive(Debug)]
pub struct SqliteLog {
    /// The room's file, shared with the `tabula-rest` thread, which frees its
    /// pages and closes it when the room is quiet.
    file: Arc<Mutex<RoomFile>>,
    /// Keeps the `tabula-rest` thread running while this log is open.
    _rest: Arc<Rest>,
}

/// How long a room's file keeps the pages it read with nobody reading or
/// writing it. A room people are drawing in uses its file many times a second
/// and keeps them; a quiet one's next op reads the few it needs again from the
/// OS's cache.
pub const RELEASE_PAGES_AFTER: Duration = Duration::from_millis(250);

/// How long a room's file stays open with nobody reading or writing it. Long
/// enough that a room where people are drawing keeps its file (closing one
/// costs a checkpoint, reopening it a few hundred microseconds), short enough
/// that rooms of people only looking do not hold one each.
pub const REST_AFTER: Duration = Duration::from_secs(10);

/// How often the `tabula-rest` thread looks for quiet files.
const REST_SWEEP_EVERY: Duration = RELEASE_PAGES_AFTER;

/// The page cache of one room's file, in KiB, until the `tabula-rest` thread
/// frees it. A room appends at the end of its file and a catch-up reads it in
/// order, so a few pages do; with `SQLite`'s default of 2 MiB, a thousand busy
/// rooms could hold gigabytes of cache.
const ROOM_CACHE_KIB: u32 = 64;

/// How many snapshots a room's file keeps. Joins only ever use the newest; the
/// one before it stays in case the newest is being read when it is replaced.
const SNAPSHOTS_KEPT: usize = 2;

/// One room's file, open or resting.
#[derive(Debug)]
struct RoomFile {
    /// Where it is, to reopen it.
    path: PathBuf,
    /// The open file, in WAL mode with `synchronous = FULL`; `None` while it
    /// rests.
    open: Option<SessionFile>,
    /// When the log last read or wrote it.
    used: Instant,
    /// Whether it was used since its pages were last freed.
    holds_pages: bool,
    /// How long it stays open unused ([`REST_AFTER`], shorter in tests).
    rest_after: Duration,
    /// How many room files may be open, counting this one while it is.
    budget: Arc<FileBudget>,
}

impl RoomFile {
    /// The open file, reopened if it was resting; counts as a use.
    fn get(&mut self) -> Result<&mut SessionFile, StoreError> {
        self.used = Instant::now();
        self.holds_pages = true;
        let file = if let Some(file) = self.open.take() {
            file
        } else {
            self.budget.make_room();
            let file = SessionFile::reopen(&self.path)?;
            self.budget.opened();
            if let Err(err) = file.limit_cache(ROOM_CACHE_KIB) {
                // Handled here: the file works with SQLite's usual cache.
                warn!(%err, "could not limit a room file's cache");
            }
            debug!(path = %self.path.display(), "reopened a quiet room's file");
            file
        };
        Ok(self.open.insert(file))
    }

    /// Closes the file if it is open (its next use reopens it); `true` if it
    /// was.
    fn close(&mut self) -> bool {
        let Some(file) = self.open.take() else {
            return false;
        };
        self.budget.closed();
        match file.close() {
            Ok(()) => debug!(path = %self.path.display(), "closed a room's file"),
            // Handled here: the next use reopens the file regardless.
            Err(err) => warn!(%err, "could not close a room's file"),
        }
        true
    }

    /// Frees the file's pages, or closes it, if it has been unused long
    /// enough. `true` if it closed the file.
    fn rest_if_quiet(&mut self) -> bool {
        let quiet = self.used.elapsed();
        if quiet >= self.rest_after {
            return self.close();
        } else if quiet >= RELEASE_PAGES_AFTER
            && self.holds_pages
            && let Some(file) = &self.open
        {
            self.holds_pages = false;
            if let Err(err) = file.release_pages() {
                // Handled here: the pages stay cached until the file closes.
                warn!(%err, "could not free a quiet room file's cache");
            }
        }
        false
    }
}

impl Drop for RoomFile {
    fn drop(&mut self) {
        if self.open.is_some() {
            self.budget.closed();
        }
    }
}

/// What [`on_files_closed`] set.
static FILES_CLOSED_HOOK: OnceLock<fn()> = OnceLock::new();

/// Has the `tabula-rest` thread call `hook` after a sweep in which quiet
/// rooms' files were closed: the moment the process has the most freed memory
/// to give back, which a program can hand to its allocator (`tabula-server`
/// has glibc trim its heap: after a thousand rooms were opened and joined at
/// once, glibc otherwise keeps the freed heap as resident memory). Only the
/// first call in a process counts; `false` for any later one.
pub fn on_files_closed(hook: fn()) -> bool {
    FILES_CLOSED_HOOK.set(hook).is_ok()
}

/// What the `tabula-rest` thread looks after: the file of every open
/// [`SqliteLog`] in the process. The thread runs while any log holds this, and
/// ends within [`REST_SWEEP_EVERY`] of the last one closing.
#[derive(Debug, Default)]
struct Rest {
    /// The logs' files; an entry dies with its log.
    files: Mutex<Vec<Weak<Mutex<RoomFile>>>>,
}

impl Rest {
    /// The running thread's list, starting the thread if none is running.
    fn running() -> Result<Arc<Self>, StoreError> {
        static RUNNING: Mutex<Weak<Rest>> = Mutex::new(Weak::new());
        let mut running = lock(&RUNNING);
        if let Some(rest) = running.upgrade() {
            return Ok(rest);
        }
        let rest = Arc::new(Self::default());
        let watched = Arc::downgrade(&rest);
        std::thread::Builder::new()
            .name("tabula-rest".to_owned())
            .spawn(move || rest_quiet_files(&watched))
            .map_err(StoreError::Thread)?;
        *running = Arc::downgrade(&rest);
        Ok(rest)
    }

    /// Has the thread look after `file` too.
    fn watch(&self, file: &Arc<Mutex<RoomFile>>) {
        lock(&self.files).push(Arc::downgrade(file));
    }
}

/// The `tabula-rest` thread: every [`REST_SWEEP_EVERY`], frees the pages of
/// or closes the files that have been quiet long enough, skipping any in use
/// right now.
fn rest_quiet_files(rest: &Weak<Rest>) {
    loop {
        std::thread::sleep(REST_SWEEP_EVERY);
        let Some(rest) = rest.upgrade() else {
            break;
        };
        let files: Vec<Arc<Mutex<RoomFile>>> = {
            let mut files = lock(&rest.files);
            files.retain(|file| file.strong_count() > 0);
            files.iter().filter_map(Weak::upgrade).collect()
        };
        drop(rest);
        let mut closed = 0_usize;
        for file in files {
            let Some(mut file) = try_lock(&file) else {
                continue;
            };
            closed += usize::from(file.rest_if_quiet());
        }
        if closed > 0
            && let Some(hook) = FILES_CLOSED_HOOK.get()
        {
            debug!(closed, "quiet rooms' files closed: giving memory back");
            hook();
        }
    }
    debug!("the thread resting quiet rooms' files stopped");
}

impl SqliteLog {
    /// Opens the room's file in `rooms_dir`, creating it if the room is new.
    pub fn open_or_create(rooms_dir: &Path, room: &str) -> Result<Self, StoreError> {
        Self::open_within(rooms_dir, room, &FileBudget::new(usize::MAX))
    }

    /// [`open_or_create`](Self::open_or_create), the file counted in
    /// `budget` whenever it is open.
    pub fn open_within(
        rooms_dir: &Path,
        room: &str,
        budget: &Arc<FileBudget>,
    ) -> Result<Self, StoreError> {
        Self::open_resting_after(rooms_dir, room, REST_AFTER, budget)
    }

    /// [`open_within`](Self::open_within), closing the file whenever it has
    /// not been used for `rest_after`.
    fn open_resting_after(
        rooms_dir: &Path,
        room: &str,
        rest_after: Duration,
        budget: &Arc<FileBudget>,
    ) -> Result<Self, StoreError> {
        let path = room_path(rooms_dir, room);
        adopt_older_spelling(rooms_dir, room, &path);
        budget.make_room();
        let file = SessionFile::open_or_create(&path, room)?;
        let file = Arc::new(Mutex::new(RoomFile {
            path,
            open: Some(file),
            used: Instant::now(),
            holds_pages: false,
            rest_after,
            budget: Arc::clone(budget),
        }));
        budget.opened();
        budget.track(&file);
        // Also drops what the integrity check on opening read into the cache.
        if let Some(open) = &lock(&file).open {
            open.limit_cache(ROOM_CACHE_KIB)?;
        }
        let rest = Rest::running()?;
        rest.watch(&file);
        Ok(Self { file, _rest: rest })
    }

    /// Runs `work` on the open file, reopening it if it rests.
    fn with_file<T>(
        &self,
        work: impl FnOnce(&mut SessionFile) -> Result<T, SessionFileError>,
    ) -> Result<T, StoreError> {
        Ok(work(lock(&self.file).get()?)?)
    }

    /// Runs `read` on the open file, a read a room makes once, when it opens,
    /// then frees its statements and pages at once.
    fn read_once<T>(
        &self,
        read: impl FnOnce(&mut SessionFile) -> Result<T, SessionFileError>,
    ) -> Result<T, StoreError> {
        self.with_file(|file| {
            let done = read(file)?;
            if let Err(err) = file.release_memory() {
                // Handled here: what was read stands.
                warn!(%err, "could not free a room file's cache");
            }
            Ok(done)
        })
    }
}

impl OpLog for SqliteLog {
    fn last_stamp(&self) -> Result<Option<Stamp>, StoreError> {
        self.read_once(|file| file.last_stamp())
    }

    fn stamp_of(&self, op: OpId) -> Result<Option<Stamp>, StoreError> {
        self.with_file(|file| file.stamp_of(op))
    }

    fn append(&mut self, batch: &[Entry]) -> Result<(), StoreError> {
        let rows: Vec<StoredOp> = batch
            .iter()
            .map(|entry| StoredOp {
                stamp: entry.stamp,
                op_id: entry.op_id,
                author: entry.author,
                frame: entry.frame.to_vec(),
            })
            .collect();
        self.with_file(|file| file.append(&rows))
    }

    fn frames_between(
        &self,
        after: u64,
        up_to: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<Bytes>, StoreError> {
        let frames = self.with_file(|file| file.frames_within(after, up_to, limit, max_bytes))?;
        Ok(frames.into_iter().map(Bytes::from).collect())
    }

    fn latest_snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError> {
        self.read_once(|file| {
            let head = file.head()?;
            file.snapshot_at_or_before(head)
        })
    }

    fn put_snapshot(&mut self, snapshot: &StoredSnapshot) -> Result<(), StoreError> {
        self.with_file(|file| {
            file.put_snapshot(snapshot)?;
            file.prune_snapshots(SNAPSHOTS_KEPT)
        })?;
        Ok(())
    }
}

/// The folder of room files inside a data folder.
#[must_use]
pub fn rooms_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("rooms")
}

/// A room's file: `ROOMS/<room>.tabula`. Room names are letters, digits, `-`,
/// `_` and `.` only (`tabula_shared::room_name`), so they are safe file names.
#[must_use]
pub fn room_path(rooms_dir: &Path, room: &str) -> PathBuf {
    rooms_dir.join(format!("{room}.{EXTENSION}"))
}

/// Whether room `room` has a file in `rooms_dir`, under its name or one that
/// differs only in case (a room named before names were folded).
#[must_use]
pub fn room_exists(rooms_dir: &Path, room: &str) -> bool {
    if room_path(rooms_dir, room).exists() {
        return true;
    }
    let wanted = format!("{room}.{EXTENSION}");
    fs::read_dir(rooms_dir).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|name| name.eq_ignore_ascii_case(&wanted))
        })
    })
}

/// Renames the file of a room named before names were folded to lower case
/// (`Design.tabula`, with its `-wal` and `-shm`) to the name the room has now
/// (`path`, for `room`), unless a file of that name exists. A folder holding
/// several spellings of one room (possible only where names are case
/// sensitive) keeps the others as they are, with a warning: the newest wins.
fn adopt_older_spelling(rooms_dir: &Path, room: &str, path: &Path) {
    if path.exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(rooms_dir) else {
        return;
    };
    let wanted = format!("{room}.{EXTENSION}");
    let mut spellings: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|name| name != wanted && name.eq_ignore_ascii_case(&wanted))
        })
        .map(|entry| {
            let modified = entry
                .metadata()
                .and_then(|meta| meta.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (modified, entry.path())
        })
        .collect();
    spellings.sort();
    let Some((_, older)) = spellings.pop() else {
        return;
    };
    for (_, other) in &spellings {
        warn!(
            kept = %older.display(),
            left = %other.display(),
            "two files hold room {room} under names differing only in case: the newer is used"
        );
    }
    for suffix in ["-wal", "-shm", ""] {
        let mut from = older.clone().into_os_string();
        from.push(suffix);
        let mut to = path.to_path_buf().into_os_string();
        to.push(suffix);
        if !Path::new(&from).exists() {
            continue;
        }
        match fs::rename(&from, &to) {
            Ok(()) => debug!(from = ?from, to = ?to, "renamed a room file to its folded name"),
            Err(err) => {
                warn!(%err, from = ?from, "could not rename a room file to its folded name");
            }
        }
    }
}

/// Every room with a file in `rooms_dir`, by name, sorted.
pub fn room_names(rooms_dir: &Path) -> Result<Vec<String>, StoreError> {
    let folder_error = |cause| StoreError::Folder {
        path: rooms_dir.to_path_buf(),
        cause,
    };
    let mut names = Vec::new();
    for entry in fs::read_dir(rooms_dir).map_err(folder_error)? {
        let path = entry.map_err(folder_error)?.path();
        if path.extension().is_some_and(|ext| ext == EXTENSION)
            && let Some(name) = path.file_stem().and_then(|stem| stem.to_str())
            && tabula_shared::room_name::validate(name).is_ok()
        {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// An [`OpLog`] that lives in memory and is gone when the relay stops.
#[derive(Default)]
pub struct MemoryLog {
    /// The frames in sequence order: the frame of `seq` is at index `seq - 1`,
    /// which makes a catch-up a slice copy.
    frames: Vec<Bytes>,
    /// Op id to stamp, to recognise a resend without scanning the log.
    index: HashMap<OpId, Stamp>,
    /// The latest stamp, for [`OpLog::last_stamp`].
    last: Option<Stamp>,
}

impl std::fmt::Debug for MemoryLog {
    /// The size, not the contents: a log can hold millions of frames.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryLog")
            .field("ops", &self.frames.len())
            .finish_non_exhaustive()
    }
}

impl OpLog for MemoryLog {
    fn last_stamp(&self) -> Result<Option<Stamp>, StoreError> {
        Ok(self.last)
    }

    fn stamp_of(&self, op: OpId) -> Result<Option<Stamp>, StoreError> {
        Ok(self.index.get(&op).copied())
    }

    fn append(&mut self, batch: &[Entry]) -> Result<(), StoreError> {
        for entry in batch {
            debug_assert_eq!(
                entry.stamp.seq,
                self.frames.len() as u64 + 1,
                "ops are appended in order"
            );
            self.frames.push(entry.frame.clone());
            self.index.insert(entry.op_id, entry.stamp);
            self.last = Some(entry.stamp);
        }
        Ok(())
    }

    fn frames_between(
        &self,
        after: u64,
        up_to: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<Bytes>, StoreError> {
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        let end = usize::try_from(up_to)
            .unwrap_or(usize::MAX)
            .min(self.frames.len())
            .min(start.saturating_add(limit));
        let mut bytes = 0;
        Ok(self
            .frames
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .take_while(|frame| {
                let first = bytes == 0;
                bytes += frame.len();
                first || bytes <= max_bytes
            })
            .cloned()
            .collect())
    }

    fn latest_snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError> {
        Ok(None)
    }

    fn put_snapshot(&mut self, _snapshot: &StoredSnapshot) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn entries(n: u64) -> Vec<Entry> {
        (1..=n)
            .map(|seq| Entry {
                op_id: OpId::random(),
                author: ClientId::random(),
                stamp: Stamp {
                    seq,
                    timestamp_ms: 100 + seq,
                },
                frame: Bytes::from(vec![seq as u8; 3]),
            })
            .collect()
    }

    /// The two logs answer every question the same way.
    fn check(log: &mut dyn OpLog) {
        assert_eq!(log.last_stamp().unwrap(), None);
        assert!(
            log.frames_between(0, 10, 10, usize::MAX)
                .unwrap()
                .is_empty()
        );
        let ops = entries(5);
        log.append(&ops[..2]).unwrap();
        log.append(&ops[2..]).unwrap();
        assert_eq!(log.last_stamp().unwrap(), Some(ops[4].stamp));
        let frames =
            |after, up_to, limit| log.frames_between(after, up_to, limit, usize::MAX).unwrap();
        let expected: Vec<Bytes> = ops.iter().map(|e| e.frame.clone()).collect();
        assert_eq!(frames(0, 5, 100), expected);
        assert_eq!(frames(1, 3, 100), expected[1..3].to_vec());
        assert_eq!(frames(0, 5, 2), expected[..2].to_vec());
        assert!(frames(5, 5, 100).is_empty());
        assert!(frames(u64::MAX, u64::MAX, 100).is_empty());
        // Each frame is 3 bytes: 7 bytes hold two; the first always comes.
        assert_eq!(
            log.frames_between(0, 5, 100, 7).unwrap(),
            expected[..2].to_vec()
        );
        assert_eq!(
            log.frames_between(0, 5, 100, 1).unwrap(),
            expected[..1].to_vec()
        );
        assert_eq!(log.stamp_of(ops[3].op_id).unwrap(), Some(ops[3].stamp));
        assert_eq!(log.stamp_of(OpId::random()).unwrap(), None);
    }

    #[test]
    fn the_memory_log_keeps_frames_in_order_and_indexes_ids() {
        check(&mut MemoryLog::default());
    }

    #[test]
    fn the_sqlite_log_does_the_same_and_outlives_its_process() {
        let dir = tempfile::tempdir().unwrap();
        let rooms = rooms_dir(dir.path());
        fs::create_dir_all(&rooms).unwrap();
        check(&mut SqliteLog::open_or_create(&rooms, "kept").unwrap());
        let reopened = SqliteLog::open_or_create(&rooms, "kept").unwrap();
        assert_eq!(reopened.last_stamp().unwrap().map(|s| s.seq), Some(5));
        SqliteLog::open_or_create(&rooms, "other.room").unwrap();
        fs::write(rooms.join("notes.txt"), "not a room").unwrap();
        assert_eq!(room_names(&rooms).unwrap(), vec!["kept", "other.room"]);
    }

    #[test]
    fn a_room_file_named_with_capitals_opens_under_the_folded_name() {
        let dir = tempfile::tempdir().unwrap();
        let rooms = rooms_dir(dir.path());
        fs::create_dir_all(&rooms).unwrap();
        let mut old = SqliteLog::open_or_create(&rooms, "Design").unwrap();
        old.append(&entries(3)).unwrap();
        drop(old);
        let folded = SqliteLog::open_or_create(&rooms, "design").unwrap();
        assert_eq!(folded.last_stamp().unwrap().map(|s| s.seq), Some(3));
        assert_eq!(room_names(&rooms).unwrap(), vec!["design"]);
    }

    #[test]
    fn beyond_the_budget_the_least_recently_used_file_closes_and_reopens_on_use() {
        let dir = tempfile::tempdir().unwrap();
        let rooms = rooms_dir(dir.path());
        fs::create_dir_all(&rooms).unwrap();
        let budget = FileBudget::new(2);
        let ops = entries(3);
        let mut a = SqliteLog::open_within(&rooms, "a", &budget).unwrap();
        a.append(&ops[..1]).unwrap();
        let mut b = SqliteLog::open_within(&rooms, "b", &budget).unwrap();
        b.append(&ops[..1]).unwrap();
        assert_eq!(budget.open(), 2);
        // a was used longest ago: it closes for c.
        let c = SqliteLog::open_within(&rooms, "c", &budget).unwrap();
        assert_eq!(budget.open(), 2);
        assert!(lock(&a.file).open.is_none());
        assert!(lock(&b.file).open.is_some());
        // a's next use reopens it, closing b.
        a.append(&ops[1..2]).unwrap();
        assert_eq!(a.last_stamp().unwrap(), Some(ops[1].stamp));
        assert!(lock(&b.file).open.is_none());
        assert_eq!(budget.open(), 2);
        drop((a, b, c));
        assert_eq!(budget.open(), 0);
    }

    /// How long a test waits for the `tabula-rest` thread before it fails: a
    /// margin a loaded 2-core CI machine cannot miss.
    const PATIENCE: Duration = Duration::from_secs(30);

    /// Waits, up to [`PATIENCE`], until `done` holds for the log's file.
    fn wait_for(log: &SqliteLog, done: impl Fn(&RoomFile) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !done(&lock(&log.file)) {
            assert!(Instant::now() < deadline, "the tabula-rest thread did not");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_quiet_file_is_closed_and_reopened_by_its_next_use() {
        let dir = tempfile::tempdir().unwrap();
        let rooms = rooms_dir(dir.path());
        fs::create_dir_all(&rooms).unwrap();
        let mut log =
            SqliteLog::open_resting_after(&rooms, "quiet", Duration::ZERO, &FileBudget::new(9))
                .unwrap();
        let ops = entries(4);
        log.append(&ops[..2]).unwrap();
        wait_for(&log, |file| file.open.is_none());
        let path = room_path(&rooms, "quiet");
        for suffix in ["-wal", "-shm"] {
            let mut beside = path.clone().into_os_string();
            beside.push(suffix);
            assert!(
                !Path::new(&beside).exists(),
                "{suffix} is gone while it rests"
            );
        }

        log.append(&ops[2..]).unwrap();
        assert_eq!(log.last_stamp().unwrap(), Some(ops[3].stamp));
        assert_eq!(log.stamp_of(ops[0].op_id).unwrap(), Some(ops[0].stamp));
        let frames: Vec<Bytes> = ops.iter().map(|e| e.frame.clone()).collect();
        assert_eq!(log.frames_between(0, 4, 10, usize::MAX).unwrap(), frames);
    }

    #[test]
    fn closing_quiet_files_calls_the_hook_once_set() {
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        fn count() {
            CALLS.fetch_add(1, Ordering::SeqCst);
        }
        assert!(on_files_closed(count));
        assert!(!on_files_closed(count), "only the first one counts");
        let dir = tempfile::tempdir().unwrap();
        let rooms = rooms_dir(dir.path());
        fs::create_dir_all(&rooms).unwrap();
        let mut log =
            SqliteLog::open_resting_after(&rooms, "hooked", Duration::ZERO, &FileBudget::new(9))
                .unwrap();
        log.append(&entries(1)).unwrap();
        wait_for(&log, |file| file.open.is_none());
        let deadline = Instant::now() + PATIENCE;
        while CALLS.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "the hook was not called");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn an_open_room_file_can_be_read_and_exported_by_another_connection() {
        let dir = tempfile::tempdir().unwrap();
        let rooms = rooms_dir(dir.path());
        fs::create_dir_all(&rooms).unwrap();
        let mut log = SqliteLog::open_or_create(&rooms, "live").unwrap();
        let ops = entries(4);
        log.append(&ops[..3]).unwrap();
        // Its pages are freed once it is quiet; the file stays open.
        wait_for(&log, |file| !file.holds_pages);
        assert!(lock(&log.file).open.is_some());

        let reader = SessionFile::open_read_only(room_path(&rooms, "live")).unwrap();
        assert_eq!(reader.head().unwrap(), 3);
        let export = dir.path().join("export.tabula");
        reader.export_to(&export).unwrap();
        assert_eq!(
            SessionFile::open_read_only(&export)
                .unwrap()
                .head()
                .unwrap(),
            3
        );
        // And the relay goes on writing beside the reader.
        log.append(&ops[3..]).unwrap();
        assert_eq!(reader.head().unwrap(), 4);
    }
}
