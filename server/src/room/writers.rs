//! The writer threads that rooms with a file share, and group commit.
//!
//! [`Writers`] is a few named OS threads (`tabula-writer-N`, one per core)
//! taking rooms with waiting ops from one queue, in the order their first op
//! arrived. A room's side of it is its [`Backlog`]: the ops proposed and not yet
//! taken, and the room's sequencer. A room is in the queue at most once, and
//! only one writer works on it at a time, so its batches are stored and
//! published in sequence order; a hundred quiet rooms cost two threads, not a
//! hundred.
//!
//! A writer takes a room once its first waiting op is due (its arrival plus the
//! group-commit window), gathers every op waiting then (at most [`MAX_BATCH`]),
//! has the sequencer store them in one transaction, and only then publishes them
//! under the room's lock. Ops that arrived during that commit send the room to
//! the back of the queue, due at once: they share the next commit, and other
//! rooms get their turn first.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tracing::debug;

use super::sequencer::{Proposal, Sequencer};
use super::state::State;
use crate::store::StoreError;
use crate::sync::lock;

/// The most ops one transaction holds; more wait for the next one.
const MAX_BATCH: usize = 4096;

/// The group committers every room with a file shares. Cloned into every room;
/// the threads end once every clone is gone.
#[derive(Clone, Debug)]
pub struct Writers {
    /// Rooms with ops waiting, for the writers.
    queue: Arc<Sender<Arc<Backlog>>>,
    /// How long a room's first waiting op waits for more before a writer takes
    /// the room (the group-commit window).
    window: Duration,
}

/// The writers have stopped: nothing more can be stored (the relay is going
/// away).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WritersGone;

/// A room's ops waiting for a writer, and what the writer needs to commit them.
#[derive(Debug)]
pub struct Backlog {
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

impl Writers {
    /// Starts `threads` writers, which wait `window` after a room's first op
    /// before they take the room.
    pub fn start(threads: usize, window: Duration) -> Result<Self, StoreError> {
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

    /// Adds `proposals` to the room's backlog, and puts the room in the queue
    /// unless it is there or being committed already.
    pub fn submit(
        &self,
        backlog: &Arc<Backlog>,
        proposals: Vec<Proposal>,
    ) -> Result<(), WritersGone> {
        let mut waiting = lock(&backlog.waiting);
        waiting.proposals.extend(proposals);
        if waiting.scheduled {
            return Ok(());
        }
        waiting.scheduled = true;
        waiting.due = Instant::now() + self.window;
        drop(waiting);
        self.queue
            .send(Arc::clone(backlog))
            .map_err(|_| WritersGone)
    }

    /// How many handles share the writers' queue: the registry's, each room's,
    /// and any others.
    #[cfg(test)]
    pub fn handles(&self) -> usize {
        Arc::strong_count(&self.queue)
    }
}

impl Backlog {
    /// An empty backlog for the room whose lock is `state` and whose ops
    /// `sequencer` stores.
    pub fn new(state: Arc<Mutex<State>>, sequencer: Sequencer) -> Self {
        Self {
            state,
            sequencer: Mutex::new(sequencer),
            waiting: Mutex::new(Waiting {
                proposals: Vec::new(),
                scheduled: false,
                due: Instant::now(),
            }),
        }
    }

    /// Whether the room has nothing waiting for a writer or being written:
    /// only the room holds its backlog, and it is not scheduled.
    pub fn is_written(self: &Arc<Self>) -> bool {
        Arc::strong_count(self) == 1 && !lock(&self.waiting).scheduled
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
            state.publish(committed);
            state.members.take_departed()
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use bytes::Bytes;
    use tabula_shared::access::Role;
    use tabula_shared::session_file::StoredSnapshot;
    use tabula_shared::{OpId, ServerMessage};

    use crate::room::testing::{
        NO_SNAPSHOTS, PATIENCE, next, next_any, nothing, op, peer, settle, went,
    };
    use crate::room::{Commit, Kick, Room};
    use crate::snapshots::Snapshotter;
    use crate::store::{Entry, MemoryLog, OpLog, Stamp};

    use super::*;

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
            max_bytes: usize,
        ) -> Result<Vec<Bytes>, StoreError> {
            self.inner.frames_between(after, up_to, limit, max_bytes)
        }
        fn latest_snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError> {
            self.inner.latest_snapshot()
        }
        fn put_snapshot(&mut self, snapshot: &StoredSnapshot) -> Result<(), StoreError> {
            self.inner.put_snapshot(snapshot)
        }
        fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
            self.inner.setting(key)
        }
        fn set_setting(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
            self.inner.set_setting(key, value)
        }
        fn put_blob(&mut self, blob: &tabula_shared::blob::Blob) -> Result<bool, StoreError> {
            self.inner.put_blob(blob)
        }
        fn has_blob(&self, id: tabula_shared::blob::BlobId) -> Result<bool, StoreError> {
            self.inner.has_blob(id)
        }
        fn blob(
            &self,
            id: tabula_shared::blob::BlobId,
        ) -> Result<Option<tabula_shared::blob::Blob>, StoreError> {
            self.inner.blob(id)
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
    fn nothing_is_acked_or_sent_on_before_the_log_has_stored_it() {
        let (room, controls) = controlled_room(Duration::ZERO);
        let a = peer("a");
        let b = peer("b");
        let mut ma = room.join(a.clone(), 0, true, 16);
        let mut mb = room.join(b.clone(), 0, true, 16);
        next(&mut ma); // Peers(b)
        settle(&room, 2); // the joins
        nothing(&mut ma);
        nothing(&mut mb);
        controls.shut.store(true, Ordering::SeqCst);
        room.propose(a.client, ma.connection, op());
        nothing(&mut ma);
        nothing(&mut mb);
        let late_peer = peer("late");
        let mut late = room.join(late_peer.clone(), 0, true, 16);
        assert_eq!(
            late.welcome.head, 2,
            "an op being stored is not in the head"
        );
        controls.shut.store(false, Ordering::SeqCst);
        assert!(matches!(next(&mut ma), ServerMessage::Peers { .. }));
        assert!(matches!(next(&mut ma), ServerMessage::Ack { seq: 3, .. }));
        assert!(matches!(next(&mut mb), ServerMessage::Peers { .. }));
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
        // A window no pause of a loaded machine between two proposals outlasts.
        let (room, controls) = controlled_room(Duration::from_secs(1));
        let a = peer("a");
        let mut ma = room.join(a.clone(), 0, true, 256);
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
        let mut ma = room.join(a.clone(), 0, true, 16);
        let mut mb = room.join(b.clone(), 0, true, 16);
        next(&mut ma); // Peers(b)
        settle(&room, 2); // the joins
        controls.failing.store(true, Ordering::SeqCst);
        let lost = op();
        room.propose(a.client, ma.connection, lost.clone());
        let deadline = Instant::now() + PATIENCE;
        while ma.kick.try_recv() != Ok(Kick::Storage) {
            assert!(Instant::now() < deadline, "a was not cut off");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(next(&mut mb), went(a.client));
        nothing(&mut mb);
        assert_eq!(room.head(), 2, "neither the op nor a's leave was stored");
        // Once the disk recovers, the resend after reconnecting comes right
        // after the join.
        controls.failing.store(false, Ordering::SeqCst);
        let secret = ma.welcome.resume_secret;
        let mut again = room
            .try_join(
                a.clone(),
                Some(&secret),
                Role::Editor,
                0,
                true,
                16.into(),
                usize::MAX,
            )
            .unwrap();
        let ServerMessage::Op(joined) = next_any(&mut again) else {
            panic!("a's join first");
        };
        room.propose(a.client, again.connection, lost.clone());
        assert!(
            matches!(next(&mut again), ServerMessage::Ack { op, seq, .. } if op == lost.id && seq == joined.seq + 1)
        );
    }
}
