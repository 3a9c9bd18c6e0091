//! Rooms: the sequencer, the history and the members of each room.
//!
//! A connection hands a [`Room`] each op its peer proposes. Rooms with a file
//! share a small pool of writers, named OS threads (one per core), which take
//! the rooms that have ops waiting in turn: for each, a writer gathers the ops
//! that arrived within the group-commit window (and those that arrived while
//! the room's previous commit was on disk), gives each the room's next sequence
//! number and time, encodes it **once**, and appends the whole batch to the
//! room's op log in one transaction. Only when that
//! append has returned (the ops are durable) does it publish them: under the
//! room's lock, each op's frame goes through [`State::broadcast`] to every other
//! member's bounded outgoing queue and its author gets an `Ack`. A room in memory
//! has nothing to wait for, so it has no writer: the connection task sequences,
//! logs and publishes its op itself, under the room's lock, in the same code.
//! The room never waits on its members: a member whose queue is full is cut off
//! on the spot.
//!
//! Joins and leaves are sequenced and stored the same way, as
//! [`OpKind::Joined`] and [`OpKind::Left`] ops the relay makes itself (see
//! [`Room::record_departures`]), so a room's history says who was there when;
//! they go to every member and are acked to nobody.
//!
//! Rooms live in [`Rooms`]. In memory they are never removed, so the history
//! survives everyone leaving. With a data folder, each room is a `.tabula` file
//! loaded the first time someone joins it after a start, and sequencing carries
//! on where the file ends; a room nobody has been in for [`CLOSE_UNUSED_AFTER`]
//! has its file closed, and is loaded again by the next join.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tabula_shared::{
    ClientId, ErrorCode, Op, OpId, OpKind, PeerInfo, Point, SequencedOp, ServerMessage, Welcome,
};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, trace, warn};

use crate::frame::encode_frame;
use crate::history::CatchUp;
use crate::snapshots::{RoomSnapshot, RoomSnapshots, Snapshotter};
use crate::store::{Entry, MemoryLog, OpLog, SharedLog, SqliteLog, Stamp, StoreError};
use crate::sync::lock;

/// The most ops one transaction holds; more wait for the next one.
const MAX_BATCH: usize = 4096;

/// How long a room with a file stays open with nobody in it. An open file costs
/// a `SQLite` connection and its caches; reopening costs an integrity check.
pub const CLOSE_UNUSED_AFTER: Duration = Duration::from_mins(5);

/// How often joining a room also looks for rooms to close.
const CLOSE_SWEEP_EVERY: Duration = Duration::from_mins(1);

/// Where one room is kept once it is open; see [`Rooms`].
type Slot = Arc<Mutex<Option<Arc<Room>>>>;

/// Every room the relay has open.
///
/// The map sits behind a `std::sync::Mutex`, not tokio's: it is held only to look
/// a room's slot up, never across an `.await`. Opening a room reads its file, so
/// [`Rooms::open`] is called from `spawn_blocking`.
#[derive(Debug)]
pub struct Rooms {
    /// Where room files live (`DATA/rooms`); `None` keeps rooms in memory.
    dir: Option<PathBuf>,
    /// How long a room's writer waits for more ops before it commits a batch to
    /// its file.
    group_commit_window: Duration,
    /// Room name to the room's slot. Entries are never removed: a room's history
    /// must outlive its members. A slot is empty until its room has been opened
    /// (or after opening it failed, so the next join tries again, or after the
    /// room was closed as unused, so the next join reopens it); each slot has
    /// its own lock so that opening one room's file never holds up the others.
    open: Mutex<HashMap<String, Slot>>,
    /// The writers every room with a file shares, started with the first such
    /// room. Every open room holds a clone; the writers end once all are gone.
    writers: Mutex<Option<Writers>>,
    /// How many ops past its latest snapshot make a room take a new one.
    snapshot_every: u64,
    /// The thread that makes every room's snapshots, started with the first room.
    snapshotter: Mutex<Option<Snapshotter>>,
    /// Rooms with a file found unused (nobody in them, nothing to write) by a
    /// sweep, and since when; a room still unused [`CLOSE_UNUSED_AFTER`] later
    /// is closed. Also when the last sweep ran.
    unused: Mutex<Unused>,
}

/// What the sweeps for unused rooms remember.
#[derive(Debug)]
struct Unused {
    /// When the last sweep ran.
    swept: Instant,
    /// Room name to when a sweep first found it unused.
    since: HashMap<String, Instant>,
}

impl Rooms {
    /// No rooms yet; they are opened in `rooms_dir`, or in memory for `None`.
    /// Each takes a board snapshot every `snapshot_every` ops.
    pub fn new(
        rooms_dir: Option<PathBuf>,
        group_commit_window: Duration,
        snapshot_every: u64,
    ) -> Self {
        Self {
            dir: rooms_dir,
            group_commit_window,
            open: Mutex::new(HashMap::new()),
            writers: Mutex::new(None),
            snapshot_every,
            snapshotter: Mutex::new(None),
            unused: Mutex::new(Unused {
                swept: Instant::now(),
                since: HashMap::new(),
            }),
        }
    }

    /// Closes the files of rooms that nobody has been in, and that have had
    /// nothing to write, since a sweep at least `after` ago; notes the rooms
    /// that are unused now. A room is only closed when nothing but the registry
    /// holds it, under its slot's lock, so no connection can be using it and the
    /// next join opens it afresh from its file. Rooms in memory are never
    /// closed: their history lives nowhere else. Returns how many were closed.
    pub fn close_unused(&self, after: Duration) -> usize {
        if self.dir.is_none() {
            return 0;
        }
        let now = Instant::now();
        let slots: Vec<(String, Slot)> = lock(&self.open)
            .iter()
            .map(|(name, slot)| (name.clone(), Arc::clone(slot)))
            .collect();
        let mut unused = lock(&self.unused);
        unused.swept = now;
        let mut closed = 0;
        for (name, slot) in slots {
            // A room being opened or joined right now is not unused.
            let Ok(mut slot) = slot.try_lock() else {
                unused.since.remove(&name);
                continue;
            };
            let idle = slot
                .as_ref()
                .is_some_and(|room| Arc::strong_count(room) == 1 && room.is_idle());
            if !idle {
                unused.since.remove(&name);
                continue;
            }
            let since = *unused.since.entry(name.clone()).or_insert(now);
            if now.duration_since(since) >= after {
                *slot = None;
                unused.since.remove(&name);
                closed += 1;
                debug!(room = name, "closed a room nobody is in");
            }
        }
        closed
    }

    /// Waits until no open room has anything waiting for a writer, or `limit`
    /// has passed; `false` in that case. For shutdown, once every connection
    /// has ended: their leaves are then on disk when the relay stops.
    pub async fn written(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let slots: Vec<Slot> = lock(&self.open).values().cloned().collect();
            let written = slots
                .iter()
                .all(|slot| lock(slot).as_ref().is_none_or(|room| room.is_written()));
            if written {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// The shared writers, started on first use.
    fn writers(&self) -> Result<Writers, StoreError> {
        started(&self.writers, || {
            let threads = std::thread::available_parallelism().map_or(1, usize::from);
            Writers::start(threads, self.group_commit_window)
        })
    }

    /// The shared snapshotter, started on first use.
    fn snapshotter(&self) -> Result<Snapshotter, StoreError> {
        started(&self.snapshotter, Snapshotter::start)
    }

    /// The room with this name: already open, loaded from its file, or created
    /// empty. Blocks on file I/O when it opens a room.
    pub fn open(&self, name: &str) -> Result<Arc<Room>, StoreError> {
        let sweep = lock(&self.unused).swept.elapsed() >= CLOSE_SWEEP_EVERY;
        if sweep {
            self.close_unused(CLOSE_UNUSED_AFTER);
        }
        let slot = Arc::clone(lock(&self.open).entry(name.to_owned()).or_default());
        // Joins to this room wait here while its file is read; others do not.
        let mut slot = lock(&slot);
        if let Some(room) = &*slot {
            return Ok(Arc::clone(room));
        }
        let log: Box<dyn OpLog> = match &self.dir {
            Some(dir) => Box::new(SqliteLog::open_or_create(dir, name)?),
            None => Box::new(MemoryLog::default()),
        };
        // Without a disk write there is nothing to wait for: a room in memory
        // sequences on the proposing connection's task, with no thread.
        let commit = if self.dir.is_some() {
            Commit::Writers(self.writers()?)
        } else {
            Commit::Inline
        };
        let room = Room::open(name, log, commit, self.snapshot_every, self.snapshotter()?)?;
        debug!(room = name, head = room.head(), "opened the room");
        *slot = Some(Arc::clone(&room));
        Ok(room)
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

/// Why the room cut a member off; the connection turns it into a close frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kick {
    /// The member's outgoing queue was full: it reads too slowly to keep up.
    Overflow,
    /// The same client joined again on a newer connection.
    Replaced,
    /// An op of this member could not be stored, so it was neither acked nor sent
    /// on; the client is to reconnect and resend it.
    Storage,
}

/// Where a room's ops are sequenced, stored and published.
#[derive(Debug)]
enum Commit {
    /// On the proposing connection's task, under the room's lock, one op at a
    /// time: for a log that never touches a disk (memory), where a thread and
    /// two hand-overs per op would cost more than the work itself.
    Inline,
    /// On the shared writer threads, in batches that share one transaction: for
    /// a log whose append waits for the disk.
    Writers(Writers),
}

/// What happened to an op handed to [`Room::propose`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proposed {
    /// The room has it; the ack (or, for a resend, the first ack again) follows
    /// once it is stored (at once, for a room in memory).
    Queued,
    /// The author is no longer a member (it was just cut off); nothing happened.
    NotMember,
    /// The writers have stopped; nothing more can be stored in this room.
    WriterGone,
}

/// What a connection gets from [`Room::join`]: everything it needs to catch up and
/// then follow the room.
#[derive(Debug)]
pub struct Membership {
    /// Tells this membership apart from an older or newer connection of the same
    /// client, so that a replaced connection's leave cannot remove its successor.
    pub connection: u64,
    /// The welcome to send first.
    pub welcome: Welcome,
    /// The snapshot the welcome announces (`welcome.snapshot`), to send right
    /// after it.
    pub snapshot: Option<Arc<RoomSnapshot>>,
    /// The ops after `welcome.replay_from` up to `welcome.head`, to send after
    /// the welcome (and the snapshot).
    pub catch_up: CatchUp,
    /// Live frames for this member, in room order, from after the catch-up on.
    pub queue: mpsc::Receiver<Bytes>,
    /// Fires when the room cuts this member off.
    pub kick: oneshot::Receiver<Kick>,
    /// Whether joining cut off an older connection of the same client.
    pub replaced: bool,
}

/// One room: its members, its published head, and its sequencer.
#[derive(Debug)]
pub struct Room {
    /// The room's name, for the welcome and for logs.
    name: String,
    /// Everything about members. A `std::sync::Mutex` because every critical
    /// section is short and synchronous (join, leave, `try_send` to each queue)
    /// and never holds the lock across an `.await`; the writer publishes under
    /// it, which is what makes the sequence order and the fan-out order the same.
    state: Arc<Mutex<State>>,
    /// The op log, for catch-ups.
    log: SharedLog,
    /// Where proposals go to be sequenced.
    sequencing: Sequencing,
}

/// A room's way to its sequencer (see [`Commit`]).
#[derive(Debug)]
enum Sequencing {
    /// The sequencer itself, taken only under the room's `state` lock, so it is
    /// never contended: the lock order is state, then sequencer, then log.
    Inline(Mutex<Sequencer>),
    /// The room's side of the shared writers.
    Writers {
        /// The room's waiting ops and its sequencer, which a writer takes.
        backlog: Arc<Backlog>,
        /// Where the room asks for a writer when its first op is waiting.
        writers: Writers,
    },
}

/// The part of a room that changes.
#[derive(Debug)]
struct State {
    /// The room's name, for logs.
    name: String,
    /// The latest sequence number published: stored, acked and fanned out. A
    /// joiner catches up to here; every later op reaches it through its queue.
    head: u64,
    /// The room's board snapshots, told of each published head.
    snapshots: Arc<RoomSnapshots>,
    /// Who is in the room now, by client id: a client is in a room at most once.
    members: HashMap<ClientId, Member>,
    /// The last connection number handed out, to tell memberships apart.
    last_connection: u64,
    /// Members let go whose leave is not yet recorded (see
    /// [`Room::record_departures`]).
    departed: Vec<ClientId>,
}

/// A connection that is in the room.
#[derive(Debug)]
struct Member {
    /// Which connection of this client this is (see [`Membership::connection`]).
    connection: u64,
    /// Name and colour, for the welcome of whoever joins next.
    info: PeerInfo,
    /// The bounded outgoing queue to the connection task; full means too slow.
    queue: mpsc::Sender<Bytes>,
    /// Lets the room tell the connection why it was cut off.
    kick: oneshot::Sender<Kick>,
}

/// An op on its way to the writer.
#[derive(Debug)]
struct Proposal {
    /// Who proposed it (for a join or a leave, who came or went).
    author: ClientId,
    /// The op.
    op: Op,
}

impl Proposal {
    /// The record that `client` left.
    fn left(client: ClientId) -> Self {
        Self {
            author: client,
            op: Op::new(OpKind::Left),
        }
    }
}

impl Room {
    /// Opens a room on `log`, which gets a snapshot every `snapshot_every` ops
    /// from `snapshotter` (at once, if the log is that far past its latest).
    fn open(
        name: &str,
        log: Box<dyn OpLog>,
        commit: Commit,
        snapshot_every: u64,
        snapshotter: Snapshotter,
    ) -> Result<Arc<Self>, StoreError> {
        let last = log.last_stamp()?;
        let head = last.map_or(0, |s| s.seq);
        let log: SharedLog = Arc::new(Mutex::new(log));
        let snapshots = RoomSnapshots::open(name, Arc::clone(&log), snapshot_every, snapshotter)?;
        snapshots.published(head);
        let state = Arc::new(Mutex::new(State {
            name: name.to_owned(),
            head,
            snapshots,
            members: HashMap::new(),
            last_connection: 0,
            departed: Vec::new(),
        }));
        let sequencer = Sequencer {
            room: name.to_owned(),
            log: Arc::clone(&log),
            head,
            last_timestamp_ms: last.map_or(0, |s| s.timestamp_ms),
        };
        let sequencing = match commit {
            Commit::Inline => Sequencing::Inline(Mutex::new(sequencer)),
            Commit::Writers(writers) => Sequencing::Writers {
                backlog: Arc::new(Backlog {
                    state: Arc::clone(&state),
                    sequencer: Mutex::new(sequencer),
                    waiting: Mutex::new(Waiting::default()),
                }),
                writers,
            },
        };
        Ok(Arc::new(Self {
            name: name.to_owned(),
            state,
            log,
            sequencing,
        }))
    }

    /// The latest sequence number published.
    pub fn head(&self) -> u64 {
        lock(&self.state).head
    }

    /// Whether nobody is in the room and it has nothing waiting to be written.
    fn is_idle(&self) -> bool {
        let state = lock(&self.state);
        state.members.is_empty() && self.is_written()
    }

    /// Whether the room has nothing waiting for a writer or being written.
    fn is_written(&self) -> bool {
        match &self.sequencing {
            Sequencing::Inline(_) => true,
            Sequencing::Writers { backlog, .. } => {
                Arc::strong_count(backlog) == 1 && !lock(&backlog.waiting).scheduled
            }
        }
    }

    /// Adds a member and marks where its catch-up ends, atomically with respect to
    /// publishing: every op up to `welcome.head` is in `catch_up` (or was seen
    /// before `last_seen`), every later one arrives through the queue.
    ///
    /// A member with the same client id (an older connection not yet known to be
    /// dead) is cut off with [`Kick::Replaced`] and no `PeerLeft`. Everyone else
    /// is told `PeerJoined`, and the join is recorded as an
    /// [`OpKind::Joined`] op, which everyone (the joiner too) gets after the
    /// welcome.
    pub fn join(&self, info: PeerInfo, last_seen: u64, queue_frames: usize) -> Membership {
        let (queue_tx, queue_rx) = mpsc::channel(queue_frames);
        let (kick_tx, kick_rx) = oneshot::channel();
        let joined = encode_frame(&ServerMessage::PeerJoined(info.clone()));

        let mut state = lock(&self.state);
        let replaced = state.members.remove(&info.client);
        let was_replaced = replaced.is_some();
        if let Some(old) = replaced {
            old.kick(Kick::Replaced);
        }
        let head = state.head;
        // A client that has seen more than the room holds was talking to a relay
        // that has since lost the room (an in-memory relay that restarted): it must
        // rebuild from nothing. A durable relay never gets here, because it sends
        // nobody an op before the op is stored.
        let from = if last_seen <= head { last_seen } else { 0 };
        // A joiner far behind gets the board as of the latest snapshot and only
        // the ops after it.
        let snapshot = state
            .snapshots
            .latest()
            .filter(|s| s.seq > from && s.seq - from >= state.snapshots.every());
        let replay_from = snapshot.as_ref().map_or(from, |s| s.seq);
        match joined {
            Ok(frame) => state.broadcast(&frame, None),
            Err(err) => warn!(room = %self.name, %err, "could not encode PeerJoined"),
        }
        // Listed after the broadcast, which may have cut off slow members.
        let peers = state.members.values().map(|m| m.info.clone()).collect();
        state.last_connection += 1;
        let connection = state.last_connection;
        let record = Proposal {
            author: info.client,
            op: Op::new(OpKind::Joined {
                name: info.name.clone(),
                color: info.color,
            }),
        };
        state.members.insert(
            info.client,
            Member {
                connection,
                info,
                queue: queue_tx,
                kick: kick_tx,
            },
        );
        self.sequence(&mut state, vec![record]);
        // Those the news cut off.
        self.record_departures(&mut state);
        drop(state);

        Membership {
            connection,
            welcome: Welcome {
                room: self.name.clone(),
                peers,
                replay_from,
                head,
                snapshot: snapshot.as_ref().map(|s| s.header()),
            },
            snapshot,
            catch_up: CatchUp::new(Arc::clone(&self.log), replay_from, head),
            queue: queue_rx,
            kick: kick_rx,
            replaced: was_replaced,
        }
    }

    /// The ops after `after` up to and including `up_to`, for a member that asked
    /// for them; `None` unless `after < up_to <= head`.
    pub fn history(&self, after: u64, up_to: u64) -> Option<CatchUp> {
        (after < up_to && up_to <= self.head())
            .then(|| CatchUp::new(Arc::clone(&self.log), after, up_to))
    }

    /// Removes a member, tells the others `PeerLeft` and records an
    /// [`OpKind::Left`] op. Does nothing (and returns `false`) when that
    /// connection is no longer the member: it was cut off, or replaced by a newer
    /// connection of the same client.
    pub fn leave(&self, client: ClientId, connection: u64) -> bool {
        let mut state = lock(&self.state);
        if !state.is_member(client, connection) {
            return false;
        }
        state.members.remove(&client);
        state.announce_left(client);
        self.record_departures(&mut state);
        true
    }

    /// Has an op from `author` sequenced, stored, sent to everyone but the author
    /// and acked to the author: by the room's writer, or for a room in memory
    /// right here. An op id the log already holds is not sequenced again; the
    /// author is acked with its original stamp. Never blocks on a disk.
    pub fn propose(&self, author: ClientId, connection: u64, op: Op) -> Proposed {
        // Checked under the lock so that a member cut off a moment ago cannot
        // slip an op in after its PeerLeft.
        let mut state = lock(&self.state);
        if !state.is_member(author, connection) {
            return Proposed::NotMember;
        }
        let proposed = self.sequence(&mut state, vec![Proposal { author, op }]);
        self.record_departures(&mut state);
        proposed
    }

    /// Has `proposals` sequenced, by the room's writer or, for a room in memory,
    /// right here (under the room's lock, `state`).
    fn sequence(&self, state: &mut State, proposals: Vec<Proposal>) -> Proposed {
        match &self.sequencing {
            Sequencing::Inline(sequencer) => {
                let committed = lock(sequencer).commit(proposals);
                committed.publish(state);
                Proposed::Queued
            }
            Sequencing::Writers { backlog, writers } => {
                let mut waiting = lock(&backlog.waiting);
                waiting.proposals.extend(proposals);
                if waiting.scheduled {
                    return Proposed::Queued;
                }
                waiting.scheduled = true;
                waiting.due = Instant::now() + writers.window;
                drop(waiting);
                if writers.queue.send(Arc::clone(backlog)).is_ok() {
                    Proposed::Queued
                } else {
                    Proposed::WriterGone
                }
            }
        }
    }

    /// Records an [`OpKind::Left`] for every member that `state` has let go
    /// since the last call (left, cut off, or failed to store), sequenced like
    /// any op. Every method that changes the members ends with it. In memory,
    /// publishing those can cut off more slow members, whose leaves follow;
    /// each member leaves once, so this ends.
    fn record_departures(&self, state: &mut State) {
        while !state.departed.is_empty() {
            let proposals = state.departed.drain(..).map(Proposal::left).collect();
            // A writer gone means the relay is going away: the leave goes unrecorded
            // like one in a crash, and the replay shows them there to the end.
            let _ = self.sequence(state, proposals);
        }
    }

    /// Relays a pointer position to everyone but its owner. Cursors are neither
    /// sequenced nor logged: only the latest one matters.
    pub fn cursor(&self, client: ClientId, connection: u64, position: Option<Point>) {
        let frame = match encode_frame(&ServerMessage::Cursor { client, position }) {
            Ok(frame) => frame,
            Err(err) => {
                warn!(room = %self.name, %err, "could not encode a cursor");
                return;
            }
        };
        let mut state = lock(&self.state);
        if state.is_member(client, connection) {
            state.broadcast(&frame, Some(client));
            self.record_departures(&mut state);
        }
    }
}

/// The group committers every room with a file shares: a few named OS threads
/// (one per core) taking rooms with waiting ops from one queue, in the order
/// their first op arrived. A room is in the queue at most once, and only one
/// writer works on it at a time, so its batches are stored and published in
/// sequence order; a hundred quiet rooms cost two threads, not a hundred.
#[derive(Clone, Debug)]
struct Writers {
    /// Rooms with ops waiting, for the writers.
    queue: Arc<Sender<Arc<Backlog>>>,
    /// How long a room's first waiting op waits for more before a writer takes
    /// the room (the group-commit window).
    window: Duration,
}

/// A room's ops waiting for a writer, and what the writer needs to commit them.
#[derive(Debug)]
struct Backlog {
    /// The room's members, to publish to.
    state: Arc<Mutex<State>>,
    /// Gives the ops their numbers and stores them. Only the writer that holds
    /// the room (see [`Waiting::scheduled`]) takes it.
    sequencer: Mutex<Sequencer>,
    /// Ops proposed and not yet taken by a writer.
    waiting: Mutex<Waiting>,
}

/// The ops of one room not yet taken by a writer.
#[derive(Debug)]
struct Waiting {
    /// In proposal order.
    proposals: Vec<Proposal>,
    /// Whether the room is in the writers' queue or being committed: then new
    /// ops only join the list, and the writer holding the room takes them next.
    scheduled: bool,
    /// When a writer may take the room: its first op's arrival plus the window.
    due: Instant,
}

impl Default for Waiting {
    fn default() -> Self {
        Self {
            proposals: Vec::new(),
            scheduled: false,
            due: Instant::now(),
        }
    }
}

/// Gives a room's ops their sequence numbers and times and stores them; the one
/// piece of sequencing code, whether it runs on a writer thread or inline.
#[derive(Debug)]
struct Sequencer {
    /// The room's name, for logs.
    room: String,
    /// Where ops are stored.
    log: SharedLog,
    /// The latest sequence number stored.
    head: u64,
    /// The latest timestamp given to an op, so timestamps never go backwards along
    /// the sequence even if the wall clock does (or the relay restarts).
    last_timestamp_ms: u64,
}

/// A batch the sequencer has been through, ready to publish.
struct Committed {
    /// What became of each proposal, in proposal order.
    outcomes: Vec<Outcome>,
    /// The newly sequenced ops, in sequence order.
    entries: Vec<Entry>,
    /// Whether the log stored them.
    stored: bool,
}

/// What became of one proposal in a batch, in proposal order.
enum Outcome {
    /// Newly sequenced: the entry at this index of the batch.
    New(usize),
    /// A join or leave, newly sequenced as the entry at this index: it goes to
    /// everyone and is acked to nobody.
    Recorded(usize),
    /// Already in the log with this stamp: ack it again.
    Duplicate {
        /// Who resent it.
        author: ClientId,
        /// The op.
        op: OpId,
        /// Its first stamp.
        stamp: Stamp,
    },
    /// Cannot be sequenced (its frame would be too large).
    Refused {
        /// Who proposed it.
        author: ClientId,
        /// The op.
        op: OpId,
        /// Why, for the author.
        reason: String,
    },
    /// The log failed: the op was not stored, and its author must resend it.
    Unsaved {
        /// Who proposed it.
        author: ClientId,
    },
}

impl Writers {
    /// Starts `threads` writers.
    fn start(threads: usize, window: Duration) -> Result<Self, StoreError> {
        let (queue, rooms) = std::sync::mpsc::channel();
        let queue = Arc::new(queue);
        let rooms = Arc::new(Mutex::new(rooms));
        for number in 0..threads.max(1) {
            let rooms = Arc::clone(&rooms);
            let requeue = Arc::downgrade(&queue);
            std::thread::Builder::new()
                .name(format!("tabula-writer-{number}"))
                .spawn(move || write_rooms(&rooms, &requeue))
                .map_err(StoreError::Thread)?;
        }
        Ok(Self { queue, window })
    }
}

/// One writer: takes rooms with waiting ops, in turn, until every room (and so
/// every sender of the queue) is gone. A room whose ops arrived during its
/// commit goes to the back of the queue, due at once: those ops share the next
/// commit, and other rooms get their turn first.
fn write_rooms(rooms: &Mutex<Receiver<Arc<Backlog>>>, requeue: &Weak<Sender<Arc<Backlog>>>) {
    loop {
        // Held only while waiting for the next room: the others wait their turn.
        let next = lock(rooms).recv();
        let Ok(room) = next else {
            break;
        };
        // The queue is in order of `due` (give or take a requeued room, which is
        // due at once), so waiting for this room never delays a later one.
        let due = lock(&room.waiting).due;
        let wait = due.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        let batch = {
            let mut waiting = lock(&room.waiting);
            let take = waiting.proposals.len().min(MAX_BATCH);
            waiting.proposals.drain(..take).collect::<Vec<_>>()
        };
        let committed = lock(&room.sequencer).commit(batch);
        let departed = {
            let mut state = lock(&room.state);
            committed.publish(&mut state);
            std::mem::take(&mut state.departed)
        };
        let mut waiting = lock(&room.waiting);
        // Those cut off while publishing: this writer holds the room, so their
        // leaves are simply next.
        waiting
            .proposals
            .extend(departed.into_iter().map(Proposal::left));
        if waiting.proposals.is_empty() {
            waiting.scheduled = false;
            continue;
        }
        waiting.due = Instant::now();
        drop(waiting);
        let requeued = requeue
            .upgrade()
            .is_some_and(|queue| queue.send(Arc::clone(&room)).is_ok());
        if !requeued {
            // Only when the relay is going away: nobody will read these acks.
            debug!("the writers stopped with ops waiting");
            break;
        }
    }
    debug!("a writer stopped");
}

impl Sequencer {
    /// Sequences a batch and stores it in one transaction; the caller then
    /// publishes it.
    ///
    /// Publishing waits for the store, for peers as much as for the author. If
    /// peers saw an op that the relay then lost in a crash, the restarted relay
    /// would hand that sequence number to a different op: peers that saw the lost
    /// op would hold a different op at the same place than everyone else, and
    /// would never notice (their `last_seen` looks valid). Boards would diverge
    /// silently. Storing first means every seq anyone has seen survives a crash,
    /// so after a restart sequencing carries on from the stored head and a
    /// client's `last_seen` is never ahead of it.
    fn commit(&mut self, batch: Vec<Proposal>) -> Committed {
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut entries: Vec<Entry> = Vec::with_capacity(batch.len());
        let log = Arc::clone(&self.log);
        let mut log = lock(&log);
        // Ops sequenced in this batch are not in the log yet.
        let mut in_batch: HashMap<OpId, Stamp> = HashMap::new();
        for Proposal { author, op } in batch {
            let op_id = op.id;
            let presence = op.kind.is_presence();
            // The relay made a join or leave's id just now: not in the log.
            let known = match in_batch.get(&op_id) {
                _ if presence => Ok(None),
                Some(stamp) => Ok(Some(*stamp)),
                None => log.stamp_of(op_id),
            };
            match known {
                Ok(Some(stamp)) => {
                    outcomes.push(Outcome::Duplicate {
                        author,
                        op: op_id,
                        stamp,
                    });
                    continue;
                }
                Ok(None) => {}
                Err(err) => {
                    error!(room = %self.room, op = %op_id, %err, "could not look up an op");
                    outcomes.push(Outcome::Unsaved { author });
                    continue;
                }
            }
            let stamp = Stamp {
                seq: self.head + entries.len() as u64 + 1,
                timestamp_ms: self.next_timestamp_ms(),
            };
            let frame = encode_frame(&ServerMessage::Op(SequencedOp {
                seq: stamp.seq,
                author,
                timestamp_ms: stamp.timestamp_ms,
                op,
            }));
            match frame {
                Ok(frame) => {
                    in_batch.insert(op_id, stamp);
                    outcomes.push(if presence {
                        Outcome::Recorded(entries.len())
                    } else {
                        Outcome::New(entries.len())
                    });
                    entries.push(Entry {
                        op_id,
                        author,
                        stamp,
                        frame,
                    });
                }
                Err(err) => outcomes.push(Outcome::Refused {
                    author,
                    op: op_id,
                    reason: format!("op {op_id} cannot be sequenced: {err}"),
                }),
            }
        }
        let stored = log.append(&entries);
        drop(log);
        match &stored {
            Ok(()) => {
                self.head += entries.len() as u64;
                trace!(room = %self.room, ops = entries.len(), head = self.head, "committed");
            }
            Err(err) => error!(
                room = %self.room,
                ops = entries.len(),
                %err,
                "could not store ops: their authors are disconnected to resend them"
            ),
        }
        Committed {
            outcomes,
            entries,
            stored: stored.is_ok(),
        }
    }

    /// The time for the next op, never before the previous op's.
    fn next_timestamp_ms(&mut self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.last_timestamp_ms = self.last_timestamp_ms.max(now);
        self.last_timestamp_ms
    }
}

impl Committed {
    /// Sends each outcome on, in sequence order, under the room's lock (`state`).
    fn publish(self, state: &mut State) {
        let Self {
            outcomes,
            entries,
            stored,
        } = self;
        for outcome in outcomes {
            match outcome {
                Outcome::New(index) if stored => {
                    let entry = &entries[index];
                    state.head = entry.stamp.seq;
                    state.broadcast(&entry.frame, Some(entry.author));
                    state.ack(entry.author, entry.op_id, entry.stamp);
                }
                Outcome::New(index) => state.drop_unsaved(entries[index].author),
                Outcome::Recorded(index) if stored => {
                    let entry = &entries[index];
                    state.head = entry.stamp.seq;
                    state.broadcast(&entry.frame, None);
                }
                // Already logged as an error; nobody is to blame or to resend.
                Outcome::Recorded(_) => {}
                Outcome::Unsaved { author } => state.drop_unsaved(author),
                Outcome::Duplicate { author, op, stamp } => {
                    debug!(room = %state.name, op = %op, seq = stamp.seq, "acked a resent op again");
                    state.ack(author, op, stamp);
                }
                Outcome::Refused { author, op, reason } => {
                    debug!(room = %state.name, op = %op, %reason, "refused an op");
                    let refusal = ServerMessage::Error {
                        code: ErrorCode::InvalidOp,
                        message: reason,
                    };
                    match encode_frame(&refusal) {
                        Ok(frame) => state.send_to(author, frame),
                        Err(err) => warn!(%err, "could not encode a refusal"),
                    }
                }
            }
        }
        state.snapshots.published(state.head);
    }
}

impl State {
    /// Whether `connection` is the current membership of `client`.
    fn is_member(&self, client: ClientId, connection: u64) -> bool {
        self.members
            .get(&client)
            .is_some_and(|m| m.connection == connection)
    }

    /// Acks an op to its author, if it is still here (if not, its resend after
    /// reconnecting is acked instead).
    fn ack(&mut self, author: ClientId, op: OpId, stamp: Stamp) {
        let ack = ServerMessage::Ack {
            op,
            seq: stamp.seq,
            timestamp_ms: stamp.timestamp_ms,
        };
        match encode_frame(&ack) {
            Ok(frame) => self.send_to(author, frame),
            Err(err) => warn!(room = %self.name, %err, "could not encode an ack"),
        }
    }

    /// Removes a member whose op could not be stored and tells the others it left.
    /// Its connection closes; the client reconnects and resends what was not acked.
    fn drop_unsaved(&mut self, client: ClientId) {
        if let Some(member) = self.members.remove(&client) {
            member.kick(Kick::Storage);
            self.announce_left(client);
        }
    }

    /// Sends one frame to every member but `except`, and cuts off whoever cannot
    /// take it.
    ///
    /// This is the room's one fan-out path: live ops, presence and cursors all go
    /// through it. It is the seam where a Redis (or similar) backplane will later
    /// publish frames to the relays that hold the room's other members.
    fn broadcast(&mut self, frame: &Bytes, except: Option<ClientId>) {
        let mut slow = Vec::new();
        self.offer_all(frame, except, &mut slow);
        self.cut_off(slow);
    }

    /// Sends one frame to one member (an ack to its author), cutting it off if it
    /// cannot take it.
    fn send_to(&mut self, client: ClientId, frame: Bytes) {
        let full = self
            .members
            .get(&client)
            .is_some_and(|m| matches!(m.queue.try_send(frame), Err(TrySendError::Full(_))));
        if full {
            self.cut_off(vec![client]);
        }
    }

    /// Tells everyone that `client` left, and notes the leave for recording.
    fn announce_left(&mut self, client: ClientId) {
        self.departed.push(client);
        let mut slow = Vec::new();
        self.offer_left(client, &mut slow);
        self.cut_off(slow);
    }

    /// Offers a frame to every member but `except` without waiting; the members
    /// whose queue is full are pushed onto `slow`. A queue whose task has ended is
    /// left alone: that task is about to leave the room itself.
    fn offer_all(&self, frame: &Bytes, except: Option<ClientId>, slow: &mut Vec<ClientId>) {
        for (client, member) in &self.members {
            if Some(*client) == except {
                continue;
            }
            if let Err(TrySendError::Full(_)) = member.queue.try_send(frame.clone()) {
                slow.push(*client);
            }
        }
    }

    /// Offers everyone the news that `client` left.
    fn offer_left(&self, client: ClientId, slow: &mut Vec<ClientId>) {
        match encode_frame(&ServerMessage::PeerLeft { client }) {
            Ok(frame) => self.offer_all(&frame, None, slow),
            Err(err) => warn!(%err, "could not encode PeerLeft"),
        }
    }

    /// Removes and kicks members that could not keep up, telling the rest. That
    /// news can overflow more queues, so this works through a list rather than
    /// recursing: a room of thousands of stalled peers must not blow the stack.
    fn cut_off(&mut self, mut slow: Vec<ClientId>) {
        while let Some(client) = slow.pop() {
            // A member can be full for two frames in a row and so appear twice.
            let Some(member) = self.members.remove(&client) else {
                continue;
            };
            warn!(
                cut_off = %client,
                name = %member.info.name,
                "outgoing queue overflow: cutting off a peer that reads too slowly"
            );
            member.kick(Kick::Overflow);
            self.departed.push(client);
            self.offer_left(client, &mut slow);
        }
    }
}

impl Member {
    /// Tells the connection task why it is being cut off. Dropping the member
    /// right after also closes its queue.
    fn kick(self, why: Kick) {
        // An error means the task is already gone, which is all a kick wants.
        let _ = self.kick.send(why);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use tabula_shared::session_file::StoredSnapshot;
    use tabula_shared::{Color, OpKind, StrokeId, decode};

    use super::*;

    /// Long enough for the writer thread to act on a loaded machine.
    const PATIENCE: Duration = Duration::from_secs(5);

    /// A snapshot interval no test reaches: rooms without snapshots.
    const NO_SNAPSHOTS: u64 = u64::MAX;

    fn peer(name: &str) -> PeerInfo {
        PeerInfo {
            client: ClientId::random(),
            name: name.to_owned(),
            color: Color::rgb(1, 2, 3),
        }
    }

    fn op() -> Op {
        Op::new(OpKind::StrokeEnd {
            stroke: StrokeId::random(),
        })
    }

    fn room() -> Arc<Room> {
        Room::open(
            "r",
            Box::new(MemoryLog::default()),
            Commit::Inline,
            NO_SNAPSHOTS,
            Snapshotter::start().unwrap(),
        )
        .unwrap()
    }

    /// The next message for a member, waiting for the writer thread.
    fn next_any(member: &mut Membership) -> ServerMessage {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(frame) = member.queue.try_recv() {
                return decode(&frame).unwrap();
            }
            assert!(Instant::now() < deadline, "nothing arrived");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Whether a message is a recorded join or leave.
    fn is_presence(message: &ServerMessage) -> bool {
        matches!(message, ServerMessage::Op(o) if o.op.kind.is_presence())
    }

    /// The next message for a member other than a recorded join or leave.
    fn next(member: &mut Membership) -> ServerMessage {
        loop {
            let message = next_any(member);
            if !is_presence(&message) {
                return message;
            }
        }
    }

    /// Asserts that nothing but recorded joins and leaves arrives for a member
    /// for a while.
    fn nothing(member: &mut Membership) {
        std::thread::sleep(Duration::from_millis(100));
        while let Ok(frame) = member.queue.try_recv() {
            let message = decode::<ServerMessage>(&frame);
            assert!(
                message.as_ref().is_ok_and(is_presence),
                "expected nothing, got {message:?}"
            );
        }
    }

    /// Waits until the room's head reaches `seq` (a writer storing joins and
    /// leaves, which nobody is acked for).
    fn settle(room: &Room, seq: u64) {
        let deadline = Instant::now() + PATIENCE;
        while room.head() < seq {
            assert!(
                Instant::now() < deadline,
                "the head stayed at {}",
                room.head()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn catch_up(member: &mut Membership) -> Vec<Bytes> {
        let mut frames = Vec::new();
        while let Some(chunk) = member.catch_up.next_chunk(2).unwrap() {
            frames.extend(chunk);
        }
        frames
    }

    /// A log that counts appends, can be held shut, and can be made to fail.
    #[derive(Debug, Default)]
    struct Controls {
        appends: AtomicUsize,
        shut: AtomicBool,
        failing: AtomicBool,
    }

    #[derive(Debug)]
    struct ControlledLog {
        inner: MemoryLog,
        controls: Arc<Controls>,
    }

    impl OpLog for ControlledLog {
        fn last_stamp(&self) -> Result<Option<Stamp>, StoreError> {
            self.inner.last_stamp()
        }
        fn stamp_of(&self, op: OpId) -> Result<Option<Stamp>, StoreError> {
            self.inner.stamp_of(op)
        }
        fn append(&mut self, batch: &[Entry]) -> Result<(), StoreError> {
            let deadline = Instant::now() + PATIENCE;
            while self.controls.shut.load(Ordering::SeqCst) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            self.controls.appends.fetch_add(1, Ordering::SeqCst);
            if self.controls.failing.load(Ordering::SeqCst) {
                return Err(StoreError::Thread(std::io::Error::other("disk on fire")));
            }
            self.inner.append(batch)
        }
        fn frames_between(
            &self,
            after: u64,
            up_to: u64,
            limit: usize,
        ) -> Result<Vec<Bytes>, StoreError> {
            self.inner.frames_between(after, up_to, limit)
        }
        fn latest_snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError> {
            self.inner.latest_snapshot()
        }
        fn put_snapshot(&mut self, snapshot: &StoredSnapshot) -> Result<(), StoreError> {
            self.inner.put_snapshot(snapshot)
        }
    }

    fn controlled_room(window: Duration) -> (Arc<Room>, Arc<Controls>) {
        let controls = Arc::new(Controls::default());
        let log = ControlledLog {
            inner: MemoryLog::default(),
            controls: Arc::clone(&controls),
        };
        (
            Room::open(
                "c",
                Box::new(log),
                Commit::Writers(Writers::start(1, window).unwrap()),
                NO_SNAPSHOTS,
                Snapshotter::start().unwrap(),
            )
            .unwrap(),
            controls,
        )
    }

    #[test]
    fn sequences_in_order_acks_the_author_and_sends_the_op_to_the_others() {
        let room = room();
        let a = peer("a");
        let b = peer("b");
        let mut ma = room.join(a.clone(), 0, 16);
        let mut mb = room.join(b.clone(), 0, 16);
        assert_eq!(next(&mut ma), ServerMessage::PeerJoined(b.clone()));
        assert_eq!(mb.welcome.peers, vec![a.clone()]);
        // The two joins.
        let base = room.head();
        assert_eq!(base, 2);

        for expected in base + 1..=base + 3 {
            let op = op();
            assert_eq!(
                room.propose(a.client, ma.connection, op.clone()),
                Proposed::Queued
            );
            let ServerMessage::Ack {
                op: acked,
                seq,
                timestamp_ms,
            } = next(&mut ma)
            else {
                panic!("a must get its ack");
            };
            assert_eq!((acked, seq), (op.id, expected));
            let ServerMessage::Op(sequenced) = next(&mut mb) else {
                panic!("b must get the op");
            };
            assert_eq!(
                (sequenced.seq, sequenced.author, sequenced.timestamp_ms),
                (expected, a.client, timestamp_ms)
            );
            assert_eq!(sequenced.op, op);
        }
        nothing(&mut ma);
        assert_eq!(room.head(), base + 3);
    }

    #[test]
    fn joins_and_leaves_are_sequenced_for_everyone_and_acked_to_nobody() {
        let room = room();
        let a = peer("a");
        let b = peer("b");
        let mut ma = room.join(a.clone(), 0, 16);
        let record = |seq, who: &PeerInfo, kind| {
            let ServerMessage::Op(o) = kind else {
                panic!("{kind:?} is not an op");
            };
            assert_eq!((o.seq, o.author), (seq, who.client));
            o.op.kind
        };
        let joined = |who: &PeerInfo| OpKind::Joined {
            name: who.name.clone(),
            color: who.color,
        };
        assert_eq!(record(1, &a, next_any(&mut ma)), joined(&a));
        let mut mb = room.join(b.clone(), 0, 16);
        assert_eq!(mb.welcome.head, 1, "its own join comes after the welcome");
        assert_eq!(next_any(&mut ma), ServerMessage::PeerJoined(b.clone()));
        assert_eq!(record(2, &b, next_any(&mut ma)), joined(&b));
        assert_eq!(record(2, &b, next_any(&mut mb)), joined(&b));
        assert!(room.leave(b.client, mb.connection));
        assert_eq!(
            next_any(&mut ma),
            ServerMessage::PeerLeft { client: b.client }
        );
        assert_eq!(record(3, &b, next_any(&mut ma)), OpKind::Left);
        assert!(ma.queue.try_recv().is_err(), "no ack for anyone");
        // They are history like any op.
        let kinds: Vec<OpKind> = catch_up(&mut room.join(peer("c"), 0, 16))
            .iter()
            .map(|f| match decode(f).unwrap() {
                ServerMessage::Op(o) => o.op.kind,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(kinds, vec![joined(&a), joined(&b), OpKind::Left]);
    }

    #[test]
    fn a_resent_op_is_acked_with_its_first_stamp_and_not_sequenced_again() {
        let room = room();
        let a = peer("a");
        let b = peer("b");
        let mut ma = room.join(a.clone(), 0, 16);
        let mut mb = room.join(b.clone(), 0, 16);
        next(&mut ma); // PeerJoined(b)
        let op = op();
        room.propose(a.client, ma.connection, op.clone());
        let first = next(&mut ma);
        room.propose(a.client, ma.connection, op.clone());
        assert_eq!(next(&mut ma), first);
        // The same op twice in one batch is sequenced once, too.
        let twice = self::op();
        room.propose(a.client, ma.connection, twice.clone());
        room.propose(a.client, ma.connection, twice);
        assert_eq!(next(&mut ma), next(&mut ma));
        // After the two joins.
        assert!(matches!(next(&mut mb), ServerMessage::Op(o) if o.seq == 3));
        assert!(matches!(next(&mut mb), ServerMessage::Op(o) if o.seq == 4));
        nothing(&mut mb);
        assert_eq!(room.head(), 4);
    }

    #[test]
    fn catch_up_starts_after_last_seen_or_from_nothing_when_the_room_was_lost() {
        let room = room();
        let a = peer("a");
        let mut ma = room.join(a.clone(), 0, 16);
        for _ in 0..5 {
            room.propose(a.client, ma.connection, op());
            next(&mut ma);
        }
        // a's join and five ops.
        assert_eq!(room.head(), 6);
        let mut late = room.join(peer("late"), 3, 16);
        assert_eq!((late.welcome.replay_from, late.welcome.head), (3, 6));
        assert_eq!(late.catch_up.remaining(), 3);
        let frames = catch_up(&mut late);
        let seqs: Vec<u64> = frames
            .iter()
            .map(|f| match decode(f).unwrap() {
                ServerMessage::Op(op) => op.seq,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(seqs, vec![4, 5, 6]);
        // late's join is op 7.
        let mut lost = room.join(peer("lost"), 9, 16);
        assert_eq!((lost.welcome.replay_from, lost.welcome.head), (0, 7));
        assert_eq!(catch_up(&mut lost).len(), 7);
    }

    #[test]
    fn nothing_is_acked_or_sent_on_before_the_log_has_stored_it() {
        let (room, controls) = controlled_room(Duration::ZERO);
        let a = peer("a");
        let b = peer("b");
        let mut ma = room.join(a.clone(), 0, 16);
        let mut mb = room.join(b.clone(), 0, 16);
        next(&mut ma); // PeerJoined(b)
        settle(&room, 2); // the joins
        nothing(&mut ma);
        nothing(&mut mb);
        controls.shut.store(true, Ordering::SeqCst);
        room.propose(a.client, ma.connection, op());
        nothing(&mut ma);
        nothing(&mut mb);
        let late_peer = peer("late");
        let mut late = room.join(late_peer.clone(), 0, 16);
        assert_eq!(
            late.welcome.head, 2,
            "an op being stored is not in the head"
        );
        controls.shut.store(false, Ordering::SeqCst);
        assert!(matches!(next(&mut ma), ServerMessage::PeerJoined(_)));
        assert!(matches!(next(&mut ma), ServerMessage::Ack { seq: 3, .. }));
        assert!(matches!(next(&mut mb), ServerMessage::PeerJoined(_)));
        assert!(matches!(next(&mut mb), ServerMessage::Op(o) if o.seq == 3));
        assert!(
            matches!(next_any(&mut late), ServerMessage::Op(o) if o.seq == 3),
            "a joiner during the commit gets the op live"
        );
        assert!(
            matches!(next_any(&mut late), ServerMessage::Op(o) if o.seq == 4 && o.author == late_peer.client),
            "then its own join"
        );
    }

    #[test]
    fn ops_arriving_together_share_one_transaction() {
        let (room, controls) = controlled_room(Duration::from_millis(100));
        let a = peer("a");
        let mut ma = room.join(a.clone(), 0, 256);
        for _ in 0..50 {
            room.propose(a.client, ma.connection, op());
        }
        // a's join came first.
        for seq in 2..=51 {
            assert!(matches!(next(&mut ma), ServerMessage::Ack { seq: s, .. } if s == seq));
        }
        let appends = controls.appends.load(Ordering::SeqCst);
        assert!(appends <= 2, "50 ops took {appends} transactions");
    }

    #[test]
    fn an_op_that_cannot_be_stored_is_never_acked_and_its_author_is_cut_off() {
        let (room, controls) = controlled_room(Duration::ZERO);
        let a = peer("a");
        let b = peer("b");
        let mut ma = room.join(a.clone(), 0, 16);
        let mut mb = room.join(b.clone(), 0, 16);
        next(&mut ma); // PeerJoined(b)
        settle(&room, 2); // the joins
        controls.failing.store(true, Ordering::SeqCst);
        let lost = op();
        room.propose(a.client, ma.connection, lost.clone());
        let deadline = Instant::now() + PATIENCE;
        while ma.kick.try_recv() != Ok(Kick::Storage) {
            assert!(Instant::now() < deadline, "a was not cut off");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(next(&mut mb), ServerMessage::PeerLeft { client: a.client });
        nothing(&mut mb);
        assert_eq!(room.head(), 2, "neither the op nor a's leave was stored");
        // Once the disk recovers, the resend after reconnecting comes right
        // after the join.
        controls.failing.store(false, Ordering::SeqCst);
        let mut again = room.join(a.clone(), 0, 16);
        let ServerMessage::Op(joined) = next_any(&mut again) else {
            panic!("a's join first");
        };
        room.propose(a.client, again.connection, lost.clone());
        assert!(
            matches!(next(&mut again), ServerMessage::Ack { op, seq, .. } if op == lost.id && seq == joined.seq + 1)
        );
    }

    #[test]
    fn rooms_with_files_share_the_writers_and_each_keeps_its_order() {
        let dir = tempfile::tempdir().unwrap();
        let rooms = Rooms::new(Some(dir.path().to_path_buf()), Duration::ZERO, NO_SNAPSHOTS);
        let mut members = Vec::new();
        for name in ["one", "two", "three"] {
            let room = rooms.open(name).unwrap();
            let a = peer("a");
            let b = peer("b");
            let ma = room.join(a.clone(), 0, 64);
            let mb = room.join(b, 0, 64);
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
        // One queue for all: the registry's handle, each room's, and this one.
        let writers = lock(&rooms.writers).clone().unwrap();
        assert_eq!(Arc::strong_count(&writers.queue), 1 + 3 + 1);
    }

    #[test]
    fn a_room_nobody_is_in_is_closed_and_reopened_from_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let rooms = Rooms::new(Some(dir.path().to_path_buf()), Duration::ZERO, NO_SNAPSHOTS);
        let room = rooms.open("kept").unwrap();
        let a = peer("a");
        let mut ma = room.join(a.clone(), 0, 16);
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
        let again = rooms.open("kept").unwrap();
        assert_eq!(again.head(), 3);
        let b = peer("b");
        let mut mb = again.join(b.clone(), 0, 16);
        again.propose(b.client, mb.connection, op());
        assert!(matches!(next(&mut mb), ServerMessage::Ack { seq: 5, .. }));
    }

    #[test]
    fn a_full_queue_cuts_the_member_off_and_the_room_moves_on() {
        let room = room();
        let a = peer("a");
        let slow = peer("slow");
        let mut ma = room.join(a.clone(), 0, 64);
        let mut ms = room.join(slow.clone(), 0, 2);
        next(&mut ma); // PeerJoined(slow)
        for _ in 0..3 {
            room.propose(a.client, ma.connection, op());
        }
        let mut seen = Vec::new();
        while seen
            .iter()
            .filter(|m| matches!(m, ServerMessage::Ack { .. }))
            .count()
            < 3
        {
            seen.push(next(&mut ma));
        }
        assert_eq!(ms.kick.try_recv(), Ok(Kick::Overflow));
        assert!(
            seen.contains(&ServerMessage::PeerLeft {
                client: slow.client
            }),
            "{seen:?}"
        );
        assert!(!room.leave(slow.client, ms.connection), "already gone");
        // Two joins, three ops, and slow's leave, recorded when it was cut off.
        assert_eq!(room.head(), 6);
        let leaves: Vec<ClientId> = catch_up(&mut room.join(peer("c"), 0, 16))
            .iter()
            .filter_map(|f| match decode(f).unwrap() {
                ServerMessage::Op(o) if o.op.kind == OpKind::Left => Some(o.author),
                _ => None,
            })
            .collect();
        assert_eq!(leaves, vec![slow.client]);
    }

    #[test]
    fn a_reconnect_replaces_the_old_member_without_peer_left() {
        let room = room();
        let a = peer("a");
        let b = peer("b");
        let mut mb = room.join(b.clone(), 0, 16);
        let mut old = room.join(a.clone(), 0, 16);
        let new = room.join(a.clone(), 0, 16);
        assert!(new.replaced);
        assert_eq!(old.kick.try_recv(), Ok(Kick::Replaced));
        assert!(!room.leave(a.client, old.connection));
        assert_eq!(next(&mut mb), ServerMessage::PeerJoined(a.clone()));
        assert_eq!(next(&mut mb), ServerMessage::PeerJoined(a.clone()));
        nothing(&mut mb);
        assert_eq!(
            room.propose(a.client, old.connection, op()),
            Proposed::NotMember
        );
        assert!(room.leave(a.client, new.connection));
        assert_eq!(next(&mut mb), ServerMessage::PeerLeft { client: a.client });
    }
}
