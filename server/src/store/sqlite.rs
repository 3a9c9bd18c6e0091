//! [`SqliteLog`]: a room's log in its `.tabula` session file, in the relay's
//! data folder (`DATA/rooms/ROOM.tabula`), and the files' budget and rest.
//!
//! A room's file lets its memory go while the room is quiet: the
//! `tabula-rest` thread frees the pages `SQLite` cached for a [`SqliteLog`]
//! nobody has read or written for [`RELEASE_PAGES_AFTER`], and closes the file
//! after [`REST_AFTER`]; its next use reopens it. An open file costs the relay
//! about 50 KiB (`SQLite`'s connection, schema and statements, and the
//! write-ahead log's 32 KiB index, which `SQLite` maps whole), and a relay
//! holds most of its rooms for people who are only looking.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tabula_shared::OpId;
use tabula_shared::blob::{Blob, BlobId};
use tabula_shared::session_file::{
    EXTENSION, SessionFile, SessionFileError, StoredOp, StoredSnapshot,
};
use tracing::{debug, warn};

use super::{Entry, OpLog, Stamp, StoreError};
use crate::sync::{lock, try_lock};

/// The prefix of a room setting's key in the file's `meta` table, which
/// keeps settings apart from the schema's own keys.
pub const SETTING_PREFIX: &str = "setting.";

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
    pub(super) file: Arc<Mutex<RoomFile>>,
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
pub(super) struct RoomFile {
    /// Where it is, to reopen it.
    path: PathBuf,
    /// The open file, in WAL mode with `synchronous = FULL`; `None` while it
    /// rests.
    pub(super) open: Option<SessionFile>,
    /// When the log last read or wrote it.
    used: Instant,
    /// Whether it was used since its pages were last freed.
    pub(super) holds_pages: bool,
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
    pub(super) fn open_resting_after(
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

    fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = format!("{SETTING_PREFIX}{key}");
        self.with_file(|file| Ok(file.meta()?.all.get(&key).cloned()))
    }

    fn set_setting(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        let key = format!("{SETTING_PREFIX}{key}");
        self.with_file(|file| file.set_meta(&key, value))
    }

    fn put_blob(&mut self, blob: &Blob) -> Result<bool, StoreError> {
        self.with_file(|file| file.put_blob(blob))
    }

    fn has_blob(&self, id: BlobId) -> Result<bool, StoreError> {
        self.with_file(|file| file.has_blob(id))
    }

    fn blob(&self, id: BlobId) -> Result<Option<Blob>, StoreError> {
        self.read_once(|file| file.blob(id))
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
