//! Rooms: the sequencer, the history and the members of each room.
//!
//! A [`Room`] gives every op the room's next sequence number, stamps it, encodes
//! it once, appends the frame to the op log and fans the same bytes out to every
//! member's bounded outgoing queue. Members are connection tasks; the room never
//! waits on them: a member whose queue is full is cut off on the spot.
//!
//! Rooms live in [`Rooms`] and are never removed, so the history survives everyone
//! leaving and a late joiner or a reconnecting client still gets it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tabula_shared::{
    ClientId, EncodeError, Op, OpId, PeerInfo, Point, SequencedOp, ServerMessage, Welcome, encode,
};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use crate::store::{MemoryLog, OpLog, Stamp};

/// Encodes a message for the wire, once, into a frame that can be shared by every
/// queue it goes to.
pub fn encode_frame(message: &ServerMessage) -> Result<Bytes, EncodeError> {
    encode(message).map(Bytes::from)
}

/// Every room the relay has seen since it started.
///
/// The map sits behind a `std::sync::Mutex`, not tokio's: it is held only to look
/// a room up or insert one, never across an `.await`, so a blocking lock is both
/// correct and cheaper than an async one.
#[derive(Debug, Default)]
pub struct Rooms {
    /// Room name to room. Entries are never removed: a room's history must outlive
    /// its members.
    rooms: Mutex<HashMap<String, Arc<Room>>>,
}

impl Rooms {
    /// The room with this name, created empty on first use.
    pub fn get_or_create(&self, name: &str) -> Arc<Room> {
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(room) = rooms.get(name) {
            return Arc::clone(room);
        }
        let room = Arc::new(Room::new(name));
        rooms.insert(name.to_owned(), Arc::clone(&room));
        room
    }
}

/// Why the room cut a member off; the connection turns it into a close frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kick {
    /// The member's outgoing queue was full: it reads too slowly to keep up.
    Overflow,
    /// The same client joined again on a newer connection.
    Replaced,
}

/// What happened to an op handed to [`Room::sequence`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sequenced {
    /// The op got a new sequence number and went out to the room.
    New(Stamp),
    /// The op had been sequenced before; the author was acked with the old stamp.
    Duplicate(Stamp),
    /// The author is no longer a member (it was just cut off); nothing happened.
    NotMember,
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
    /// The frames after `welcome.replay_from`, to send right after the welcome.
    pub catch_up: Vec<Bytes>,
    /// Live frames for this member, in room order, from after the catch-up on.
    pub queue: mpsc::Receiver<Bytes>,
    /// Fires when the room cuts this member off.
    pub kick: oneshot::Receiver<Kick>,
    /// Whether joining cut off an older connection of the same client.
    pub replaced: bool,
}

/// One room: its sequencer, its history and who is in it.
#[derive(Debug)]
pub struct Room {
    /// The room's name, for the welcome and for logs.
    name: String,
    /// Everything that changes. A `std::sync::Mutex` because every critical
    /// section is short and synchronous (sequence, append, `try_send` to each
    /// queue) and never holds the lock across an `.await`; the lock is what makes
    /// the sequence order and the fan-out order the same.
    state: Mutex<State>,
}

/// The mutable part of a room.
#[derive(Debug)]
struct State {
    /// Every sequenced op as its encoded frame, with the op-id index; its head is
    /// the room's latest sequence number.
    log: Box<dyn OpLog>,
    /// Who is in the room now, by client id: a client is in a room at most once.
    members: HashMap<ClientId, Member>,
    /// The last connection number handed out, to tell memberships apart.
    last_connection: u64,
    /// The latest timestamp given to an op, so timestamps never go backwards along
    /// the sequence even if the wall clock does.
    last_timestamp_ms: u64,
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

impl Room {
    /// An empty room.
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            state: Mutex::new(State {
                log: Box::new(MemoryLog::default()),
                members: HashMap::new(),
                last_connection: 0,
                last_timestamp_ms: 0,
            }),
        }
    }

    /// Locks the state. Nothing in the critical sections is expected to panic; if
    /// something ever did, carrying on with the state as it stands beats failing
    /// every later member of the room, so a poisoned lock is taken over.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a member and takes its catch-up, atomically with respect to ops: every
    /// op up to `welcome.head` is in `catch_up` (or was seen before `last_seen`),
    /// every later one arrives through the queue.
    ///
    /// A member with the same client id (an older connection not yet known to be
    /// dead) is cut off with [`Kick::Replaced`] and no `PeerLeft`. Everyone else
    /// is told `PeerJoined`.
    pub fn join(&self, info: PeerInfo, last_seen: u64, queue_frames: usize) -> Membership {
        let (queue_tx, queue_rx) = mpsc::channel(queue_frames);
        let (kick_tx, kick_rx) = oneshot::channel();
        let joined = encode_frame(&ServerMessage::PeerJoined(info.clone()));

        let mut state = self.lock();
        let replaced = state.members.remove(&info.client);
        let was_replaced = replaced.is_some();
        if let Some(old) = replaced {
            old.kick(Kick::Replaced);
        }
        let head = state.log.head();
        // A client that has seen more than the room holds was talking to a relay
        // that has since lost the room: it must rebuild from nothing.
        let replay_from = if last_seen <= head { last_seen } else { 0 };
        let catch_up = state.log.frames_after(replay_from);
        match joined {
            Ok(frame) => state.broadcast(&frame, None),
            Err(err) => warn!(room = %self.name, %err, "could not encode PeerJoined"),
        }
        // Listed after the broadcast, which may have cut off slow members.
        let peers = state.members.values().map(|m| m.info.clone()).collect();
        state.last_connection += 1;
        let connection = state.last_connection;
        state.members.insert(
            info.client,
            Member {
                connection,
                info,
                queue: queue_tx,
                kick: kick_tx,
            },
        );
        drop(state);

        Membership {
            connection,
            welcome: Welcome {
                room: self.name.clone(),
                peers,
                replay_from,
                head,
            },
            catch_up,
            queue: queue_rx,
            kick: kick_rx,
            replaced: was_replaced,
        }
    }

    /// Removes a member and tells the others `PeerLeft`. Does nothing (and returns
    /// `false`) when that connection is no longer the member: it was cut off, or
    /// replaced by a newer connection of the same client.
    pub fn leave(&self, client: ClientId, connection: u64) -> bool {
        let mut state = self.lock();
        if !state.is_member(client, connection) {
            return false;
        }
        state.members.remove(&client);
        state.announce_left(client);
        true
    }

    /// Sequences an op from `author`: stamps it with the next sequence number and
    /// the time, encodes it once, appends it to the log, sends it to everyone but
    /// the author and acks the author. An op id already in the log is not
    /// sequenced again; the author is acked with its original stamp.
    pub fn sequence(
        &self,
        author: ClientId,
        connection: u64,
        op: Op,
    ) -> Result<Sequenced, EncodeError> {
        let mut state = self.lock();
        if !state.is_member(author, connection) {
            return Ok(Sequenced::NotMember);
        }
        let op_id = op.id;
        if let Some(stamp) = state.log.stamp_of(op_id) {
            let ack = encode_frame(&ack(op_id, stamp))?;
            state.send_to(author, ack);
            return Ok(Sequenced::Duplicate(stamp));
        }
        let stamp = Stamp {
            seq: state.log.head() + 1,
            timestamp_ms: state.next_timestamp_ms(),
        };
        let ack = encode_frame(&ack(op_id, stamp))?;
        let frame = encode_frame(&ServerMessage::Op(SequencedOp {
            seq: stamp.seq,
            author,
            timestamp_ms: stamp.timestamp_ms,
            op,
        }))?;
        // Logged before it goes out: nobody may see an op the log does not hold.
        state.log.append(op_id, stamp, frame.clone());
        state.broadcast(&frame, Some(author));
        state.send_to(author, ack);
        Ok(Sequenced::New(stamp))
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
        let mut state = self.lock();
        if state.is_member(client, connection) {
            state.broadcast(&frame, Some(client));
        }
    }
}

/// The ack for an op stamped `stamp`.
fn ack(op: OpId, stamp: Stamp) -> ServerMessage {
    ServerMessage::Ack {
        op,
        seq: stamp.seq,
        timestamp_ms: stamp.timestamp_ms,
    }
}

impl State {
    /// Whether `connection` is the current membership of `client`.
    fn is_member(&self, client: ClientId, connection: u64) -> bool {
        self.members
            .get(&client)
            .is_some_and(|m| m.connection == connection)
    }

    /// The time for the next op, never before the previous op's.
    fn next_timestamp_ms(&mut self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.last_timestamp_ms = self.last_timestamp_ms.max(now);
        self.last_timestamp_ms
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

    /// Tells everyone that `client` left.
    fn announce_left(&mut self, client: ClientId) {
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
    use tabula_shared::{Color, OpKind, StrokeId, decode};

    use super::*;

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

    fn next(member: &mut Membership) -> Option<ServerMessage> {
        member
            .queue
            .try_recv()
            .ok()
            .map(|frame| decode(&frame).unwrap())
    }

    #[test]
    fn sequences_in_order_acks_the_author_and_sends_the_op_to_the_others() {
        let room = Room::new("r");
        let a = peer("a");
        let b = peer("b");
        let mut ma = room.join(a.clone(), 0, 16);
        let mut mb = room.join(b.clone(), 0, 16);
        assert_eq!(next(&mut ma), Some(ServerMessage::PeerJoined(b.clone())));
        assert_eq!(mb.welcome.peers, vec![a.clone()]);

        for expected in 1..=3 {
            let op = op();
            let Sequenced::New(stamp) = room.sequence(a.client, ma.connection, op.clone()).unwrap()
            else {
                panic!("a fresh op must be sequenced");
            };
            assert_eq!(stamp.seq, expected);
            assert_eq!(
                next(&mut ma),
                Some(ServerMessage::Ack {
                    op: op.id,
                    seq: expected,
                    timestamp_ms: stamp.timestamp_ms
                })
            );
            let Some(ServerMessage::Op(sequenced)) = next(&mut mb) else {
                panic!("b must get the op");
            };
            assert_eq!((sequenced.seq, sequenced.author), (expected, a.client));
            assert_eq!(sequenced.op, op);
            assert_eq!(next(&mut ma), None, "the author never gets its own op");
        }
    }

    #[test]
    fn a_resent_op_is_acked_with_its_first_stamp_and_not_sequenced_again() {
        let room = Room::new("r");
        let a = peer("a");
        let mut ma = room.join(a.clone(), 0, 16);
        let op = op();
        let first = room.sequence(a.client, ma.connection, op.clone()).unwrap();
        let again = room.sequence(a.client, ma.connection, op.clone()).unwrap();
        let (Sequenced::New(s1), Sequenced::Duplicate(s2)) = (first, again) else {
            panic!("expected new then duplicate, got {first:?} then {again:?}");
        };
        assert_eq!(s1, s2);
        assert_eq!(next(&mut ma), next(&mut ma));
        assert_eq!(room.lock().log.head(), 1);
    }

    #[test]
    fn catch_up_starts_after_last_seen_or_from_nothing_when_the_room_was_lost() {
        let room = Room::new("r");
        let a = peer("a");
        let ma = room.join(a.clone(), 0, 16);
        for _ in 0..5 {
            room.sequence(a.client, ma.connection, op()).unwrap();
        }
        let late = room.join(peer("late"), 3, 16);
        assert_eq!((late.welcome.replay_from, late.welcome.head), (3, 5));
        assert_eq!(late.catch_up.len(), 2);
        let lost = room.join(peer("lost"), 9, 16);
        assert_eq!((lost.welcome.replay_from, lost.welcome.head), (0, 5));
        assert_eq!(lost.catch_up.len(), 5);
    }

    #[test]
    fn a_full_queue_cuts_the_member_off_and_the_room_moves_on() {
        let room = Room::new("r");
        let a = peer("a");
        let slow = peer("slow");
        let mut ma = room.join(a.clone(), 0, 64);
        let mut ms = room.join(slow.clone(), 0, 2);
        next(&mut ma); // PeerJoined(slow)
        for _ in 0..3 {
            room.sequence(a.client, ma.connection, op()).unwrap();
        }
        assert_eq!(ms.kick.try_recv(), Ok(Kick::Overflow));
        let mut seen = Vec::new();
        while let Some(message) = next(&mut ma) {
            seen.push(message);
        }
        assert!(
            seen.contains(&ServerMessage::PeerLeft {
                client: slow.client
            }),
            "{seen:?}"
        );
        assert_eq!(
            seen.iter()
                .filter(|m| matches!(m, ServerMessage::Ack { .. }))
                .count(),
            3
        );
        assert!(!room.leave(slow.client, ms.connection), "already gone");
    }

    #[test]
    fn a_reconnect_replaces_the_old_member_without_peer_left() {
        let room = Room::new("r");
        let a = peer("a");
        let b = peer("b");
        let mut mb = room.join(b.clone(), 0, 16);
        let mut old = room.join(a.clone(), 0, 16);
        let new = room.join(a.clone(), 0, 16);
        assert!(new.replaced);
        assert_eq!(old.kick.try_recv(), Ok(Kick::Replaced));
        assert!(!room.leave(a.client, old.connection));
        assert_eq!(next(&mut mb), Some(ServerMessage::PeerJoined(a.clone())));
        assert_eq!(next(&mut mb), Some(ServerMessage::PeerJoined(a.clone())));
        assert_eq!(
            next(&mut mb),
            None,
            "no PeerLeft for the replaced connection"
        );
        assert_eq!(
            room.sequence(a.client, old.connection, op()).unwrap(),
            Sequenced::NotMember
        );
        assert!(room.leave(a.client, new.connection));
        assert_eq!(
            next(&mut mb),
            Some(ServerMessage::PeerLeft { client: a.client })
        );
    }
}
