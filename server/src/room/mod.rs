//! A room: its members, its published head, and the way its ops are sequenced.
//!
//! A connection hands a [`Room`] each op its peer proposes. Rooms with a file
//! share a small pool of writers ([`writers`]), which gather the ops that
//! arrived within the group-commit window (and those that arrived while the
//! room's previous commit was on disk), have the room's [`sequencer`] give each
//! the next sequence number and time, encode it **once** and append the whole
//! batch to the room's op log in one transaction. Only when that append has
//! returned (the ops are durable) do they publish them: under the room's lock,
//! each op's frame goes through [`members::Members::broadcast`] to every other
//! member's bounded outgoing queue and its author gets an `Ack` ([`state`]). A
//! room in memory has nothing to wait for, so it has no writer: the connection
//! task sequences, logs and publishes its op itself, under the room's lock, in
//! the same code. The room never waits on its members: a member whose queue is
//! full is cut off on the spot.
//!
//! Joins and leaves are sequenced and stored the same way, as
//! [`OpKind::Joined`] and [`OpKind::Left`] ops the relay makes itself (see
//! [`Room::record_departures`]), so a room's history says who was there when;
//! they go to every member and are acked to nobody. Who is in the room now is
//! told apart from the log, a tick of joins and leaves at a time ([`news`]).
//! Presence (pointers, views, lasers, drags in progress) is neither
//! sequenced nor stored: each member keeps each sender's latest.
//!
//! # Layout
//! - `mod.rs` (here): [`Room`], what a connection calls: join, propose, leave,
//!   presence, history.
//! - [`registry`]: `Rooms`, every open room: opened lazily, each in a slot of
//!   its own, and closed by a timer once nobody has been in it for a while.
//! - [`backend`]: where rooms are kept and how their ops are sequenced: a
//!   data folder, memory, or Redis; what the registry opens rooms with.
//! - [`members`]: who is in the room, their bounded queues, and fan-out: the one
//!   way frames reach members, the seam a cluster backplane will replace.
//! - [`news`]: joins and leaves gathered and told once a tick, and the clock
//!   that wakes the room to tell them.
//! - [`sequencer`]: proposals to stamped, encoded, stored ops; resends
//!   recognised.
//! - [`state`]: what changes under the room's lock, and publishing a committed
//!   batch.
//! - [`writers`]: the writer threads rooms with a file share, and group commit.
//! - [`handover`]: handing the room over to a member's relay: freezing,
//!   asking, announcing the move.
//! - [`identities`]: who someone is: each client id's resume secret, without
//!   which nobody takes that id over.
//! - [`rules`]: how the room is run: its password, invitations, roles,
//!   kicks, lock and view-only.
//! - `moderation`: the room's side of them: admitting a hello, an
//!   operator's commands (recorded as [`OpKind::Moderated`] ops), telling
//!   members what they may do.

use std::sync::{Arc, Mutex};

use tabula_shared::access::{ROOM_LOCK_SETTING, ResumeSecret, Role};
use tabula_shared::{ClientId, Op, OpId, OpKind, PeerInfo, Presence, ServerMessage, Welcome};
use tokio::sync::{Semaphore, oneshot};
use tracing::{info, warn};

use crate::frame::encode_frame;
use crate::history::CatchUp;
use crate::snapshots::{RoomSnapshot, RoomSnapshots, Snapshotter};
use crate::store::{OpLog, SharedLog, StoreError};
use crate::sync::lock;
use handover::Stage;
use members::Members;
use news::NewsClock;
use sequencer::{Proposal, Sequencer};
use state::State;
use writers::{Backlog, Writers};

pub mod backend;
pub mod cluster;
pub mod handover;
pub mod identities;
mod members;
mod moderation;
mod news;
pub mod registry;
pub mod rules;
mod sequencer;
mod state;
mod writers;

#[cfg(test)]
mod testing;

pub use members::{Bounds, Kick, PresenceInbox, Queue};
pub use moderation::ModerationRefused;
pub use news::PEERS_PER_MESSAGE;
pub use rules::Needs;

/// The most peers a welcome lists; the others follow it in `Peers` messages
/// of as many. A peer takes 30 to 160 bytes (a name is cut to 128), so a
/// welcome stays a few KiB however full the room: none of a join's messages
/// grows with the room, nor the write buffer each connection keeps.
pub const WELCOME_PEERS: usize = PEERS_PER_MESSAGE;

/// A join turned away: the room has as many members as it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the room is full: {members} people are in it, as many as this relay allows")]
pub struct RoomFull {
    /// How many are in it.
    pub members: usize,
}

/// Why [`Room::try_join`] turned a hello away. Nothing in the room changed:
/// nobody was told, cut off or recorded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JoinRefused {
    /// The room has as many members as it may.
    #[error(transparent)]
    Full(#[from] RoomFull),
    /// The hello named a client id it may not be.
    #[error(transparent)]
    Identity(#[from] identities::Refused),
    /// An operator kicked this client id out, or the room turns it away
    /// for another reason its rules give.
    #[error(transparent)]
    Turned(#[from] rules::Turned),
    /// The room is locked and this client id is new to it.
    #[error("room {0} is locked: its operators let nobody new in")]
    Locked(String),
}

/// Where a room's ops are sequenced, stored and published.
#[derive(Debug)]
pub enum Commit {
    /// On the proposing connection's task, under the room's lock, one op at a
    /// time: for a log that never touches a disk (memory), where a thread and
    /// two hand-overs per op would cost more than the work itself.
    Inline,
    /// On the shared writer threads, in batches that share one transaction: for
    /// a log whose append waits for the disk.
    Writers(Writers),
    /// By Redis, on the room's task on this cluster node: for a room every
    /// node serves.
    Cluster(cluster::Start),
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
    /// The author may only view the room; nothing happened.
    ViewOnly,
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
    /// The others the welcome has no room for, to announce right after it (and
    /// the snapshot): `Peers` messages of at most [`PEERS_PER_MESSAGE`].
    pub more_peers: Vec<ServerMessage>,
    /// The snapshot the welcome announces (`welcome.snapshot`), to send right
    /// after it.
    pub snapshot: Option<Arc<RoomSnapshot>>,
    /// The ops after `welcome.replay_from` up to `welcome.head`, to send after
    /// the welcome (and the snapshot).
    pub catch_up: CatchUp,
    /// Live frames for this member, in room order, from after the catch-up on.
    pub queue: Queue,
    /// The others' latest presence, apart from the queue.
    pub presences: Arc<PresenceInbox>,
    /// One permit per op this member may still propose before one is acked.
    pub credit: Arc<Semaphore>,
    /// Fires when the room cuts this member off.
    pub kick: oneshot::Receiver<Kick>,
    /// Whether joining cut off an older connection of the same client.
    pub replaced: bool,
    /// What the member may do.
    pub role: Role,
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
    /// The room's task on this cluster node.
    Cluster(cluster::Link),
}

impl Room {
    /// Opens a room on `log`, which gets a snapshot every `snapshot_every` ops
    /// from `snapshotter` (at once, if the log is that far past its latest).
    pub fn open(
        name: &str,
        log: Box<dyn OpLog>,
        commit: Commit,
        snapshot_every: u64,
        snapshotter: Snapshotter,
    ) -> Result<Arc<Self>, StoreError> {
        let last = log.last_stamp()?;
        let head = last.map_or(0, |s| s.seq);
        let (rules, skipped) = rules::Rules::from_settings(
            log.setting(ROOM_LOCK_SETTING)?.as_deref(),
            log.setting(rules::INVITES_SETTING)?.as_deref(),
        );
        for entry in skipped {
            warn!(room = name, %entry, "skipped an access entry of the room's file that does not parse");
        }
        // Roles, kicks, the lock and view-only, as the log says.
        let rules = rules.with_record(crate::record::read(log.as_ref(), head)?);
        let log: SharedLog = Arc::new(Mutex::new(log));
        let snapshots = RoomSnapshots::open(name, Arc::clone(&log), snapshot_every, snapshotter)?;
        snapshots.published(head);
        Ok(Arc::new_cyclic(|room| {
            let state = Arc::new(Mutex::new(State {
                name: name.to_owned(),
                head,
                snapshots,
                members: Members::default(),
                identities: identities::Identities::default(),
                rules,
                stage: Stage::Open,
                clock: NewsClock::for_room(room.clone()),
            }));
            let sequencer = Sequencer::new(name, Arc::clone(&log), last);
            let sequencing = match commit {
                Commit::Inline => Sequencing::Inline(Mutex::new(sequencer)),
                Commit::Writers(writers) => Sequencing::Writers {
                    backlog: Arc::new(Backlog::new(Arc::clone(&state), sequencer)),
                    writers,
                },
                Commit::Cluster(start) => {
                    Sequencing::Cluster(start.attach(name, Arc::clone(&state)))
                }
            };
            Self {
                name: name.to_owned(),
                state,
                log,
                sequencing,
            }
        }))
    }

    /// The latest sequence number published.
    pub fn head(&self) -> u64 {
        lock(&self.state).head
    }

    /// How many are in the room now.
    pub fn member_count(&self) -> usize {
        lock(&self.state).members.len()
    }

    /// Whether the room has a password of its own.
    pub fn has_password(&self) -> bool {
        lock(&self.state).rules.has_password()
    }

    /// Whether nobody is in the room and it has nothing waiting to be written.
    pub fn is_idle(&self) -> bool {
        let state = lock(&self.state);
        state.members.is_empty() && self.is_written()
    }

    /// Whether the room has nothing waiting for a writer or being written.
    pub fn is_written(&self) -> bool {
        match &self.sequencing {
            // Redis has it, or the author was told it does not.
            Sequencing::Inline(_) | Sequencing::Cluster(_) => true,
            Sequencing::Writers { backlog, .. } => backlog.is_written(),
        }
    }

    /// Adds a member and marks where its catch-up ends, atomically with respect to
    /// publishing: every op up to `welcome.head` is in `catch_up` (or was seen
    /// before `last_seen`), every later one arrives through the queue.
    ///
    /// The hello's claim to its client id comes first: an id the room knows
    /// needs the secret its first welcome gave it (`resume`), and a claim
    /// without it is refused before anything changes (see [`identities`]).
    /// A member with the same client id (an older connection not yet known to be
    /// dead) is cut off with [`Kick::Replaced`], told to nobody as a leave.
    /// Everyone else is told with the tick's `Peers` news, and the join is
    /// recorded as an
    /// [`OpKind::Joined`] op, which everyone (the joiner too) gets after the
    /// welcome.
    ///
    /// `resumes` says whether the room's log holds the op the client named as
    /// its last (see [`tabula_shared::Hello::last_op`]); when it does not, the
    /// client is sent the room from the start, whatever `last_seen` says.
    /// While the room is being handed over, the join is not recorded; once it
    /// has moved, the joiner is sent on right after its catch-up.
    ///
    /// The welcome lists at most [`WELCOME_PEERS`] of the others, so that it
    /// stays small in a room of thousands; the rest are in
    /// [`Membership::more_peers`], to be sent as `Peers` right after it.
    /// A room that has `max_members` in it already (on a cluster node, on
    /// every node, as presence tells of them) turns a newcomer away
    /// (a client already in it may always come back on a new connection).
    ///
    /// `admitted` is the role the hello earned (an invitation's, else an
    /// editor's); the room's rules have the last word (see
    /// [`rules::Rules::enter`]): a client id kicked out is refused, and a
    /// locked room refuses ids it has not seen. The member is sent what it
    /// may do ([`ServerMessage::Access`]) right after its catch-up.
    #[expect(
        clippy::too_many_arguments,
        reason = "each says another thing about the hello or the room's limits"
    )]
    pub fn try_join(
        &self,
        info: PeerInfo,
        resume: Option<&ResumeSecret>,
        admitted: Role,
        last_seen: u64,
        resumes: bool,
        bounds: Bounds,
        max_members: usize,
    ) -> Result<Membership, JoinRefused> {
        let mut state = lock(&self.state);
        if !state.members.contains(info.client) {
            // On a cluster node, the members of other nodes count too, as
            // presence has told of them.
            let elsewhere = match &self.sequencing {
                Sequencing::Cluster(link) => {
                    link.remote_count(|c| c == info.client || state.members.contains(c))
                }
                _ => 0,
            };
            let members = state.members.len() + elsewhere;
            if members >= max_members {
                return Err(JoinRefused::Full(RoomFull { members }));
            }
        }
        if state.rules.is_kicked(info.client) {
            return Err(rules::Turned::Kicked(self.name.clone()).into());
        }
        if state.rules.is_locked()
            && !state.identities.knows(info.client)
            && !state.rules.has_seen(info.client)
        {
            return Err(JoinRefused::Locked(self.name.clone()));
        }
        let State {
            identities,
            members,
            rules,
            ..
        } = &mut *state;
        let resume_secret = identities.claim(info.client, resume, |c| members.contains(c))?;
        let rules::Entered { role, recorded } =
            rules.enter(info.client, admitted, |c| members.contains(c));
        if role != admitted {
            info!(room = %self.name, client = %info.client, %role, "the room's record gives this client another role");
        }
        let replaced = state.members.replace(info.client);
        let head = state.head;
        // A client that has seen more than the room holds was talking to a relay
        // that has since lost the room (an in-memory relay that restarted): it must
        // rebuild from nothing. A durable relay never gets here, because it sends
        // nobody an op before the op is stored.
        let from = if last_seen <= head && (resumes || last_seen == 0) {
            last_seen
        } else {
            0
        };
        // A joiner far behind gets the board as of the latest snapshot and only
        // the ops after it.
        let snapshot = state
            .snapshots
            .latest()
            .filter(|s| s.seq > from && s.seq - from >= state.snapshots.every());
        let replay_from = snapshot.as_ref().map_or(from, |s| s.seq);
        // Told before the joiner is a member (when told at once), so that it
        // is not told of itself; listed after, as telling may cut off slow
        // members.
        state.members.note_joined(info.clone());
        state.settle_news();
        let mut peers = state.members.peers();
        if let Sequencing::Cluster(link) = &self.sequencing {
            peers.extend(
                link.remote_peers()
                    .into_iter()
                    .filter(|p| !state.members.contains(p.client)),
            );
        }
        let more_peers =
            news::peers_messages(peers.split_off(peers.len().min(WELCOME_PEERS)), Vec::new());
        let records = self.entry_records(&info, role, recorded);
        let client = info.client;
        let added = state.members.add(info, bounds);
        match &state.stage {
            Stage::Open => {
                self.sequence(&mut state, records);
            }
            Stage::Frozen { .. } => {}
            Stage::Moved { frame } => {
                let frame = frame.clone();
                state.members.send_to(client, frame);
            }
        }
        // Everyone's lists of operators and viewers change with an operator
        // or a viewer; an editor only needs to hear its own.
        state.tell_access((role == Role::Editor).then_some(client));
        // Those the news cut off.
        self.record_departures(&mut state);
        drop(state);

        Ok(Membership {
            connection: added.connection,
            welcome: Welcome {
                room: self.name.clone(),
                peers,
                replay_from,
                head,
                snapshot: snapshot.as_ref().map(|s| s.header()),
                resume_secret,
                // The relay's own cap is set by the connection, which has its
                // configuration.
                max_blob_bytes: tabula_shared::caps::MAX_BLOB_BYTES,
            },
            more_peers,
            snapshot,
            catch_up: CatchUp::new(Arc::clone(&self.log), replay_from, head),
            queue: added.queue,
            presences: added.presences,
            credit: added.credit,
            kick: added.kick,
            replaced,
            role,
        })
    }

    /// What a member's entry records: its join, after the role the room
    /// gave it if the log needs a record of that (a viewer's invitation, an
    /// operator the relay names; on a cluster node, the first operator
    /// too), so that it outlives this opening and holds on every node.
    /// The role comes first, so that a viewer's join never makes it the
    /// operator of a room that has none.
    fn entry_records(
        &self,
        info: &PeerInfo,
        role: Role,
        recorded: rules::Recorded,
    ) -> Vec<Proposal> {
        let to_record = match recorded {
            rules::Recorded::Already => false,
            rules::Recorded::ByJoin => matches!(self.sequencing, Sequencing::Cluster(_)),
            rules::Recorded::Needed => true,
        };
        let role = to_record.then(|| Proposal {
            author: info.client,
            op: Op::new(OpKind::Moderated(tabula_shared::Moderated::Role {
                client: info.client,
                role,
            })),
        });
        let joined = Proposal {
            author: info.client,
            op: Op::new(OpKind::Joined {
                name: info.name.clone(),
                color: info.color,
            }),
        };
        role.into_iter().chain([joined]).collect()
    }

    /// [`Room::try_join`] with no limit on members and no resume secret (a
    /// client new to the room), for unit tests.
    #[cfg(test)]
    pub fn join(
        &self,
        info: PeerInfo,
        last_seen: u64,
        resumes: bool,
        bounds: impl Into<Bounds>,
    ) -> Membership {
        match self.try_join(
            info,
            None,
            Role::Editor,
            last_seen,
            resumes,
            bounds.into(),
            usize::MAX,
        ) {
            Ok(membership) => membership,
            Err(refused) => panic!("{refused}"),
        }
    }

    /// Whether the room's log holds op `op` as number `seq`: whether a client
    /// whose last op that was can resume here (see [`Room::join`]). Reads the
    /// log: call it off the tokio workers, and not under the room's lock. A
    /// log that cannot be read holds nothing, so the client starts afresh.
    ///
    /// On a cluster node, a client that comes from another node may have
    /// seen ops this node has not delivered yet: this then waits (a while
    /// at most) until it has, so that its catch-up can start there.
    pub fn holds(&self, seq: u64, op: OpId) -> bool {
        let held = match lock(&self.log).stamp_of(op) {
            Ok(stamp) => stamp.is_some_and(|stamp| stamp.seq == seq),
            Err(err) => {
                warn!(room = %self.name, %err, "could not look a resumed op up");
                false
            }
        };
        match &self.sequencing {
            Sequencing::Cluster(link) if held && self.head() < seq => {
                link.reach(seq);
                let deadline = std::time::Instant::now() + cluster::REACH_WITHIN;
                while self.head() < seq {
                    if std::time::Instant::now() >= deadline {
                        warn!(room = %self.name, seq, "did not reach a resuming client's op in time");
                        return false;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                true
            }
            _ => held,
        }
    }

    /// Whether `client` may change the board (and so upload pictures).
    pub fn may_edit(&self, client: ClientId) -> bool {
        lock(&self.state).rules.may_edit(client)
    }

    /// The room's pictures (the bytes of its images), to store an upload or
    /// answer a fetch.
    pub fn blobs(&self) -> crate::blobs::Blobs {
        crate::blobs::Blobs(Arc::clone(&self.log))
    }

    /// The ops after `after` up to and including `up_to`, for a member that asked
    /// for them; `None` unless `after < up_to <= head`.
    pub fn history(&self, after: u64, up_to: u64) -> Option<CatchUp> {
        (after < up_to && up_to <= self.head())
            .then(|| CatchUp::new(Arc::clone(&self.log), after, up_to))
    }

    /// Removes a member, tells the others (with the tick's news) and records an
    /// [`OpKind::Left`] op. Does nothing (and returns `false`) when that
    /// connection is no longer the member: it was cut off, or replaced by a newer
    /// connection of the same client.
    pub fn leave(&self, client: ClientId, connection: u64) -> bool {
        let mut state = lock(&self.state);
        if !state.members.leave(client, connection) {
            return false;
        }
        self.record_departures(&mut state);
        true
    }

    /// Has an op from `author` sequenced, stored, sent to everyone but the author
    /// and acked to the author: by the room's writer, or for a room in memory
    /// right here. An op id the log already holds is not sequenced again; the
    /// author is acked with its original stamp. Never blocks on a disk.
    pub fn propose(&self, author: ClientId, connection: u64, op: Op) -> Proposed {
        // Checked under the lock so that a member cut off a moment ago cannot
        // slip an op in after its leave.
        let mut state = lock(&self.state);
        if !state.members.is_member(author, connection) {
            return Proposed::NotMember;
        }
        if !state.rules.may_edit(author) {
            moderation::refuse_view_only(&mut state, author, op.id);
            return Proposed::ViewOnly;
        }
        let proposal = Proposal { author, op };
        let proposed = match &mut state.stage {
            Stage::Open => self.sequence(&mut state, vec![proposal]),
            // Sequenced if the hand-over fails; otherwise resent to the new relay.
            Stage::Frozen { held, .. } => {
                held.push(proposal);
                Proposed::Queued
            }
            // Resent to the new relay, where its author is on its way.
            Stage::Moved { .. } => Proposed::Queued,
        };
        self.record_departures(&mut state);
        proposed
    }

    /// Has `proposals` sequenced, by the room's writer or, for a room in memory,
    /// right here (under the room's lock, `state`).
    fn sequence(&self, state: &mut State, proposals: Vec<Proposal>) -> Proposed {
        match &self.sequencing {
            Sequencing::Inline(sequencer) => {
                let committed = lock(sequencer).commit(proposals);
                state.publish(committed);
                Proposed::Queued
            }
            Sequencing::Writers { backlog, writers } => match writers.submit(backlog, proposals) {
                Ok(()) => Proposed::Queued,
                Err(writers::WritersGone) => Proposed::WriterGone,
            },
            Sequencing::Cluster(link) => {
                if link.submit(proposals) {
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
        state.settle_news();
        if !state.stage.is_open() {
            // Recorded when the room thaws; forgotten once it has moved.
            if let Stage::Moved { .. } = state.stage {
                drop(state.members.take_departed());
            }
            return;
        }
        loop {
            let departed = state.members.take_departed();
            if departed.is_empty() {
                break;
            }
            let proposals = departed.into_iter().map(Proposal::left).collect();
            // A writer gone means the relay is going away: the leave goes unrecorded
            // like one in a crash, and the replay shows them there to the end.
            let _ = self.sequence(state, proposals);
        }
    }

    /// Relays someone's presence (pointer, view, laser, a drag in progress)
    /// to everyone but its owner, and keeps it, without its laser, for
    /// whoever joins later. Presence is neither sequenced nor logged: only
    /// the latest matters, so each member keeps only the latest of each
    /// sender's (see [`PresenceInbox`]), never in the queue ops need.
    pub fn presence(&self, client: ClientId, connection: u64, presence: Presence) {
        let lasting = presence.lasting();
        let frames = encode_frame(&ServerMessage::Presence { client, presence }).and_then(|live| {
            let lasting = encode_frame(&ServerMessage::Presence {
                client,
                presence: lasting,
            })?;
            Ok((live, lasting))
        });
        let (live, lasting) = match frames {
            Ok(frames) => frames,
            Err(err) => {
                warn!(room = %self.name, %err, "could not encode a presence");
                return;
            }
        };
        let mut state = lock(&self.state);
        if state.members.is_member(client, connection) {
            if let Sequencing::Cluster(link) = &self.sequencing {
                link.presence(live.clone());
            }
            state.members.presence(client, &live, lasting);
        }
    }

    /// The clock struck: tells the joins and leaves gathered this tick, and
    /// records the leaves of whoever that cut off.
    fn tell_news(&self) {
        let mut state = lock(&self.state);
        state.members.news_woken();
        self.record_departures(&mut state);
    }
}

#[cfg(test)]
mod tests {
    use tabula_shared::{OpKind, decode};

    use super::testing::{came, catch_up, next, next_any, nothing, op, peer, room, went};
    use super::*;

    #[test]
    fn sequences_in_order_acks_the_author_and_sends_the_op_to_the_others() {
        let room = room();
        let a = peer("a");
        let b = peer("b");
        let mut ma = room.join(a.clone(), 0, true, 16);
        let mut mb = room.join(b.clone(), 0, true, 16);
        assert_eq!(next(&mut ma), came(&b));
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
        let mut ma = room.join(a.clone(), 0, true, 16);
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
        let mut mb = room.join(b.clone(), 0, true, 16);
        assert_eq!(mb.welcome.head, 1, "its own join comes after the welcome");
        assert_eq!(next_any(&mut ma), came(&b));
        assert_eq!(record(2, &b, next_any(&mut ma)), joined(&b));
        assert_eq!(record(2, &b, next_any(&mut mb)), joined(&b));
        assert!(room.leave(b.client, mb.connection));
        assert_eq!(next_any(&mut ma), went(b.client));
        assert_eq!(record(3, &b, next_any(&mut ma)), OpKind::Left);
        assert!(ma.queue.try_recv().is_err(), "no ack for anyone");
        // They are history like any op.
        let kinds: Vec<OpKind> = catch_up(&mut room.join(peer("c"), 0, true, 16))
            .iter()
            .map(|f| match decode(f).unwrap() {
                ServerMessage::Op(o) => o.op.kind,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(kinds, vec![joined(&a), joined(&b), OpKind::Left]);
    }

    #[test]
    fn a_welcome_lists_so_many_peers_and_the_rest_follow_it() {
        let room = room();
        let mut members = Vec::new();
        for n in 0..WELCOME_PEERS + 2 {
            let m = room.join(peer(&format!("p{n}")), 0, true, 4);
            // Their queues go: a queue nobody holds is never full.
            members.push((m.connection, m.kick));
        }
        let last = room.join(peer("last"), 0, true, 4);
        assert_eq!(last.welcome.peers.len(), WELCOME_PEERS);
        let mut everyone: Vec<_> = last.welcome.peers.iter().map(|p| p.client).collect();
        for more in &last.more_peers {
            let ServerMessage::Peers { joined, left } = more else {
                panic!("{more:?}");
            };
            assert!(left.is_empty() && joined.len() <= PEERS_PER_MESSAGE);
            everyone.extend(joined.iter().map(|p| p.client));
        }
        everyone.sort_unstable();
        everyone.dedup();
        assert_eq!(everyone.len(), WELCOME_PEERS + 2);
        let full = room.try_join(
            peer("one more"),
            None,
            Role::Editor,
            0,
            true,
            Bounds::from(4),
            WELCOME_PEERS + 3,
        );
        assert!(
            matches!(full, Err(JoinRefused::Full(RoomFull { members })) if members == WELCOME_PEERS + 3)
        );
    }

    #[test]
    fn catch_up_starts_after_last_seen_or_from_nothing_when_the_room_was_lost() {
        let room = room();
        let a = peer("a");
        let mut ma = room.join(a.clone(), 0, true, 16);
        for _ in 0..5 {
            room.propose(a.client, ma.connection, op());
            next(&mut ma);
        }
        // a's join and five ops.
        assert_eq!(room.head(), 6);
        let mut late = room.join(peer("late"), 3, true, 16);
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
        let mut lost = room.join(peer("lost"), 9, true, 16);
        assert_eq!((lost.welcome.replay_from, lost.welcome.head), (0, 7));
        assert_eq!(catch_up(&mut lost).len(), 7);
        // A client whose op 3 is not the room's op 3 was in another room (or
        // another copy of this one): it starts from nothing too.
        let mut stranger = room.join(peer("stranger"), 3, false, 16);
        assert_eq!(
            (stranger.welcome.replay_from, stranger.welcome.head),
            (0, 8)
        );
        assert_eq!(catch_up(&mut stranger).len(), 8);
    }
}
