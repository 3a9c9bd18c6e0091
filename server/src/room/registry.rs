//! Every room the relay has open: opened lazily, each in a slot of its own,
//! and closed by a timer once nobody has been in it for a while.
//!
//! Rooms are opened by the relay's [`Backend`]. In memory, rooms are never
//! removed, so the history survives everyone leaving. With a data folder (or
//! Redis), each room is loaded the first time someone joins it after a start,
//! and sequencing carries on where its log ends. The `tabula-sweep` thread,
//! started with the first room a backend can reopen, looks for rooms nobody
//! is in every [`CLOSE_SWEEP_EVERY`]; a room that stays unused for
//! [`CLOSE_UNUSED_AFTER`] is closed (its file let go for good), and is loaded
//! again by the next join. The thread ends when the registry is dropped, once
//! `run` has returned.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tracing::debug;

use super::Room;
use super::backend::{Backend, Opened};
use crate::snapshots::Snapshotter;
use crate::store::StoreError;
use crate::sync::{lock, try_lock};

/// How long a room with a file stays open with nobody in it. An open file costs
/// a `SQLite` connection and its caches; reopening costs an integrity check.
pub const CLOSE_UNUSED_AFTER: Duration = Duration::from_mins(5);

/// How often the `tabula-sweep` thread looks for rooms to close.
pub const CLOSE_SWEEP_EVERY: Duration = Duration::from_mins(1);

/// When rooms nobody is in are closed: [`CLOSE_UNUSED_AFTER`] and
/// [`CLOSE_SWEEP_EVERY`] by default, shorter in tests.
#[derive(Clone, Copy, Debug)]
pub struct Closing {
    /// How long a room stays unused, from the sweep that first finds it so,
    /// before a sweep closes it.
    pub after: Duration,
    /// How often the sweeps run.
    pub every: Duration,
}

impl Default for Closing {
    fn default() -> Self {
        Self {
            after: CLOSE_UNUSED_AFTER,
            every: CLOSE_SWEEP_EVERY,
        }
    }
}

/// Why a room could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Its log could not be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The relay has as many rooms open as it may.
    #[error("{open} rooms are open, as many as allowed")]
    TooManyRooms {
        /// How many.
        open: usize,
    },
    /// The room is new and whoever asked may create no more rooms for now.
    #[error("no more new rooms for now")]
    TooManyNew,
}

/// Where one room is kept once it is open; see [`Rooms`].
type Slot = Arc<Mutex<Option<Arc<Room>>>>;

/// Every room the relay has open.
///
/// The map sits behind a `std::sync::Mutex`, not tokio's: it is held only to look
/// a room's slot up, never across an `.await`. Opening a room reads its file, so
/// [`Rooms::open`] is called from `spawn_blocking`.
#[derive(Debug)]
pub struct Rooms {
    /// Where rooms are kept, and how their ops are sequenced.
    backend: Arc<dyn Backend>,
    /// Room name to the room's slot. Entries are never removed: a room's history
    /// must outlive its members. A slot is empty until its room has been opened
    /// (or after opening it failed, so the next join tries again, or after the
    /// room was closed as unused, so the next join reopens it); each slot has
    /// its own lock so that opening one room's file never holds up the others.
    open: Mutex<HashMap<String, Slot>>,
    /// How many ops past its latest snapshot make a room take a new one.
    snapshot_every: u64,
    /// The thread that makes every room's snapshots, started with the first room.
    snapshotter: Mutex<Option<Snapshotter>>,
    /// Rooms with a file found unused (nobody in them, nothing to write) by a
    /// sweep, and since when; a room still unused [`Closing::after`] later is
    /// closed.
    unused: Mutex<HashMap<String, Instant>>,
    /// When rooms nobody is in are closed.
    closing: Closing,
    /// The `tabula-sweep` thread's stop signal, once the first room with a file
    /// has started it: dropped with the registry, which ends the thread.
    sweeper: Mutex<Option<Sender<()>>>,
    /// This registry, for the `tabula-sweep` thread, which must not keep it
    /// alive.
    me: Weak<Rooms>,
    /// How many slots hold an open room.
    opened: AtomicUsize,
    /// How many rooms may be open.
    most_open: usize,
}

impl Rooms {
    /// No rooms yet; `backend` opens them, at most `max_rooms` at once.
    /// Each takes a board snapshot every `snapshot_every` ops, and a room the
    /// backend can reopen is closed as `closing` says once nobody is in it.
    pub fn new(
        backend: Arc<dyn Backend>,
        snapshot_every: u64,
        closing: Closing,
        max_rooms: usize,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            backend,
            open: Mutex::new(HashMap::new()),
            snapshot_every,
            snapshotter: Mutex::new(None),
            unused: Mutex::new(HashMap::new()),
            closing,
            sweeper: Mutex::new(None),
            me: me.clone(),
            opened: AtomicUsize::new(0),
            most_open: max_rooms,
        })
    }

    /// Closes the files of rooms that nobody has been in, and that have had
    /// nothing to write, since a sweep at least `after` ago; notes the rooms
    /// that are unused now. A room is only closed when nothing but the registry
    /// holds it, under its slot's lock, so no connection can be using it and the
    /// next join opens it afresh from its file. Rooms in memory are never
    /// closed: their history lives nowhere else. Returns how many were closed.
    pub fn close_unused(&self, after: Duration) -> usize {
        if !self.backend.reopens() {
            return 0;
        }
        let now = Instant::now();
        let slots: Vec<(String, Slot)> = lock(&self.open)
            .iter()
            .map(|(name, slot)| (name.clone(), Arc::clone(slot)))
            .collect();
        let mut unused = lock(&self.unused);
        let mut closed = 0;
        for (name, slot) in slots {
            // A room being opened or joined right now is not unused.
            let Some(mut slot) = try_lock(&slot) else {
                unused.remove(&name);
                continue;
            };
            let idle = slot
                .as_ref()
                .is_some_and(|room| Arc::strong_count(room) == 1 && room.is_idle());
            if !idle {
                unused.remove(&name);
                continue;
            }
            let since = *unused.entry(name.clone()).or_insert(now);
            if now.duration_since(since) >= after {
                *slot = None;
                self.opened.fetch_sub(1, Ordering::AcqRel);
                unused.remove(&name);
                closed += 1;
                debug!(room = name, "closed a room nobody is in");
            }
        }
        closed
    }

    /// Waits until no open room has anything waiting for a writer, or `limit`
    /// has passed; `false` in that case. For shutdown, once every connection
    /// has ended: their leaves are then on disk when the relay stops. A slot
    /// someone holds (the sweeper closing its room) is looked at again a moment
    /// later rather than waited for on a tokio worker.
    pub async fn written(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let slots: Vec<Slot> = lock(&self.open).values().cloned().collect();
            let written = slots.iter().all(|slot| {
                try_lock(slot)
                    .is_some_and(|room| room.as_ref().is_none_or(|room| room.is_written()))
            });
            if written {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// The shared snapshotter, started on first use.
    fn snapshotter(&self) -> Result<Snapshotter, StoreError> {
        started(&self.snapshotter, Snapshotter::start)
    }

    /// Starts the `tabula-sweep` thread unless it runs already.
    fn start_sweeper(&self) -> Result<(), StoreError> {
        let mut sweeper = lock(&self.sweeper);
        if sweeper.is_none() {
            let (stop, stopped) = std::sync::mpsc::channel();
            let rooms = self.me.clone();
            let closing = self.closing;
            std::thread::Builder::new()
                .name("tabula-sweep".to_owned())
                .spawn(move || sweep(&rooms, &stopped, closing))
                .map_err(StoreError::Thread)?;
            *sweeper = Some(stop);
        }
        Ok(())
    }

    /// The room with this name: already open, loaded from its file, or created
    /// empty. Blocks on file I/O when it opens a room. A room that is not
    /// open counts against the relay's limit on open rooms, and a room that
    /// does not exist yet is created only if `may_create` says so (it is
    /// asked only then).
    pub fn open(
        &self,
        name: &str,
        may_create: impl FnOnce() -> bool,
    ) -> Result<Arc<Room>, OpenError> {
        let slot = Arc::clone(lock(&self.open).entry(name.to_owned()).or_default());
        // Joins to this room wait here while its file is read; others do not.
        let mut slot = lock(&slot);
        if let Some(room) = &*slot {
            return Ok(Arc::clone(room));
        }
        let open = self.opened.load(Ordering::Acquire);
        if open >= self.most_open {
            return Err(OpenError::TooManyRooms { open });
        }
        if !self.backend.exists(name) && !may_create() {
            return Err(OpenError::TooManyNew);
        }
        let Opened { log, commit } = self.backend.open(name)?;
        if self.backend.reopens() {
            self.start_sweeper()?;
        }
        let room = Room::open(name, log, commit, self.snapshot_every, self.snapshotter()?)?;
        debug!(room = name, head = room.head(), "opened the room");
        *slot = Some(Arc::clone(&room));
        self.opened.fetch_add(1, Ordering::AcqRel);
        Ok(room)
    }
}

/// One open room, as [`Rooms::summaries`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomSummary {
    /// The room's name.
    pub name: String,
    /// How many are in it.
    pub members: usize,
    /// Whether it has a password of its own (beyond the relay's).
    pub password: bool,
}

impl Rooms {
    /// The room with this name if it is open now; never opens one.
    pub fn get(&self, name: &str) -> Option<Arc<Room>> {
        let slot = lock(&self.open).get(name).cloned()?;
        try_lock(&slot)?.as_ref().map(Arc::clone)
    }

    /// Every open room with how many are in it and whether it has a password,
    /// by name. A room being opened
    /// or closed right now is left out rather than waited for.
    pub fn summaries(&self) -> Vec<RoomSummary> {
        let mut slots: Vec<(String, Slot)> = lock(&self.open)
            .iter()
            .map(|(name, slot)| (name.clone(), Arc::clone(slot)))
            .collect();
        slots.sort_by(|a, b| a.0.cmp(&b.0));
        slots
            .into_iter()
            .filter_map(|(name, slot)| {
                let room = try_lock(&slot)?.as_ref().map(Arc::clone)?;
                Some(RoomSummary {
                    name,
                    members: room.member_count(),
                    password: room.has_password(),
                })
            })
            .collect()
    }
}

/// A handle to threads the rooms share: the one in `slot`, or one `start`s now
/// and keeps there.
fn started<T: Clone>(
    slot: &Mutex<Option<T>>,
    start: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut slot = lock(slot);
    if let Some(running) = &*slot {
        return Ok(running.clone());
    }
    let running = start()?;
    *slot = Some(running.clone());
    Ok(running)
}

/// The `tabula-sweep` thread: every [`Closing::every`], closes the rooms that
/// have been unused for [`Closing::after`], until the registry is gone (its
/// end of `stopped` is dropped with it).
fn sweep(rooms: &Weak<Rooms>, stopped: &Receiver<()>, closing: Closing) {
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(closing.every) {
        let Some(rooms) = rooms.upgrade() else {
            break;
        };
        rooms.close_unused(closing.after);
    }
    debug!("the sweeper stopped");
}

#[cfg(test)]
mod tests {
    use tabula_shared::ServerMessage;

    use crate::room::Proposed;
    use crate::room::testing::{NO_SNAPSHOTS, PATIENCE, next, op, peer, settle};

    use super::*;

    /// Rooms in folder `dir`, at most `files` of their files open, committed
    /// with no group-commit window.
    fn folder(dir: &tempfile::TempDir, files: usize) -> Arc<dyn Backend> {
        Arc::new(crate::room::backend::Folder::new(
            dir.path().to_path_buf(),
            Duration::ZERO,
            files,
        ))
    }

    /// Sweeps too rare to run during a test: these tests close rooms themselves.
    const NO_SWEEPS: Closing = Closing {
        after: CLOSE_UNUSED_AFTER,
        every: Duration::from_hours(1),
    };

    #[test]
    fn rooms_with_files_share_the_writers_and_each_keeps_its_order() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(crate::room::backend::Folder::new(
            dir.path().to_path_buf(),
            Duration::ZERO,
            usize::MAX,
        ));
        let rooms = Rooms::new(backend.clone(), NO_SNAPSHOTS, NO_SWEEPS, usize::MAX);
        let mut members = Vec::new();
        for name in ["one", "two", "three"] {
            let room = rooms.open(name, || true).unwrap();
            let a = peer("a");
            let b = peer("b");
            let ma = room.join(a.clone(), 0, true, 64);
            let mb = room.join(b, 0, true, 64);
            members.push((room, a, ma, mb));
        }
        for _ in 0..10 {
            for (room, a, ma, _) in &members {
                assert_eq!(
                    room.propose(a.client, ma.connection, op()),
                    Proposed::Queued
                );
            }
        }
        for (room, _, _, mb) in &mut members {
            // After the two joins.
            for expected in 3..=12 {
                assert!(
                    matches!(next(mb), ServerMessage::Op(o) if o.seq == expected),
                    "room {} out of order",
                    room.name
                );
            }
            assert_eq!(room.head(), 12);
        }
        // One queue for all: the backend's handle, each room's, and this one.
        let writers = backend.running_writers().unwrap();
        assert_eq!(writers.handles(), 1 + 3 + 1);
    }

    #[test]
    fn a_room_nobody_is_in_is_closed_and_reopened_from_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let rooms = Rooms::new(
            folder(&dir, usize::MAX),
            NO_SNAPSHOTS,
            NO_SWEEPS,
            usize::MAX,
        );
        let room = rooms.open("kept", || true).unwrap();
        let a = peer("a");
        let mut ma = room.join(a.clone(), 0, true, 16);
        room.propose(a.client, ma.connection, op());
        assert!(matches!(next(&mut ma), ServerMessage::Ack { seq: 2, .. }));
        assert_eq!(rooms.close_unused(Duration::ZERO), 0, "a is in it");
        assert!(room.leave(a.client, ma.connection));
        settle(&room, 3); // a's leave
        assert_eq!(
            rooms.close_unused(Duration::ZERO),
            0,
            "held by a connection"
        );
        drop(room);
        assert_eq!(
            rooms.close_unused(Duration::from_mins(1)),
            0,
            "not for long"
        );
        assert_eq!(rooms.close_unused(Duration::ZERO), 1);
        let slot = Arc::clone(&lock(&rooms.open)["kept"]);
        assert!(lock(&slot).is_none());
        let again = rooms.open("kept", || true).unwrap();
        assert_eq!(again.head(), 3);
        let b = peer("b");
        let mut mb = again.join(b.clone(), 0, true, 16);
        again.propose(b.client, mb.connection, op());
        assert!(matches!(next(&mut mb), ServerMessage::Ack { seq: 5, .. }));
    }

    #[test]
    fn rooms_beyond_the_limits_are_refused_and_existing_ones_need_no_permission() {
        let dir = tempfile::tempdir().unwrap();
        let rooms = Rooms::new(folder(&dir, 1), NO_SNAPSHOTS, NO_SWEEPS, 2);
        assert!(matches!(
            rooms.open("new", || false),
            Err(OpenError::TooManyNew)
        ));
        let one = rooms.open("one", || true).unwrap();
        let a = peer("a");
        let ma = room_member(&one, &a);
        assert!(one.leave(a.client, ma));
        settle(&one, 2);
        drop(one);
        assert_eq!(rooms.close_unused(Duration::ZERO), 1);
        // Its file exists: reopening it creates nothing.
        rooms.open("one", || panic!("not a new room")).unwrap();
        rooms.open("two", || true).unwrap();
        assert!(matches!(
            rooms.open("three", || true),
            Err(OpenError::TooManyRooms { open: 2 })
        ));
        // Open ones are still served.
        rooms.open("two", || panic!("open already")).unwrap();
    }

    /// Joins `who` to `room` and returns its connection number.
    fn room_member(room: &Room, who: &tabula_shared::PeerInfo) -> u64 {
        room.join(who.clone(), 0, true, 16).connection
    }

    #[test]
    fn a_room_nobody_is_in_is_closed_by_the_timer_without_another_join() {
        let dir = tempfile::tempdir().unwrap();
        let rooms = Rooms::new(
            folder(&dir, usize::MAX),
            NO_SNAPSHOTS,
            Closing {
                after: Duration::from_millis(100),
                every: Duration::from_millis(10),
            },
            usize::MAX,
        );
        let room = rooms.open("quiet", || true).unwrap();
        let a = peer("a");
        let mut ma = room.join(a.clone(), 0, true, 16);
        room.propose(a.client, ma.connection, op());
        assert!(matches!(next(&mut ma), ServerMessage::Ack { seq: 2, .. }));
        assert!(room.leave(a.client, ma.connection));
        settle(&room, 3); // a's leave
        drop(room);
        // Nobody joins any room from here on: only the timer can close it.
        let slot = Arc::clone(&lock(&rooms.open)["quiet"]);
        let deadline = Instant::now() + PATIENCE;
        while lock(&slot).is_some() {
            assert!(
                Instant::now() < deadline,
                "the sweeper did not close the room"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            rooms.open("quiet", || true).unwrap().head(),
            3,
            "reopened from its file"
        );
    }
}
