//! Who is in a room, and the one way frames reach them.
//!
//! [`Members`] holds each member's bounded outgoing queue, and its methods
//! ([`Members::broadcast`] and [`Members::send_to`], which cut off whoever
//! cannot keep up) are the only code that puts a frame in one: live ops, acks,
//! refusals and the news of who came and went all go through them. That makes
//! this type the seam where a cluster backplane (Redis, later) replaces
//! in-process fan-out: publish the frame for the relays that hold the room's
//! other members, and deliver what they publish here.
//!
//! The room calls every method under its lock, so the order frames are offered
//! in is the room's order. Nothing here ever waits: a member whose queue is full
//! (in frames or in bytes) is cut off on the spot, and its departure noted for
//! the room to record.
//!
//! Joins and leaves are not sent one by one: they are noted in the room's
//! [`PeerNews`] and told a tick at a time ([`Members::tell_news`]), one
//! `Peers` message for everyone, so a room filling up costs each member a
//! message a tick rather than one per join.
//!
//! Presence (pointers, views, lasers, drags in progress) takes another way:
//! each member has a [`PresenceInbox`] holding the latest presence frame of
//! each sender that it has not written yet, so a sender that moves faster
//! than a member reads overwrites its own older update instead of queuing,
//! and a presence flood can never fill the queue that ops need (nor get a
//! reader cut off). Each member's latest presence (without its laser) is
//! kept too, and put in a newcomer's inbox when it joins, so that whoever
//! arrives sees where everyone is looking and who is presenting.
//!
//! Each membership also holds its connection's credit of unacknowledged ops
//! ([`Added::credit`]): the connection takes a permit per op it proposes, and
//! the room gives it back with the op's ack (or refusal). A connection without
//! permits stops reading its socket, so a fast sender is pushed back on by TCP
//! and the room's waiting list stays bounded.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tabula_shared::{ClientId, PeerInfo};
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};
use tracing::warn;

use super::news::{PeerNews, When};
use crate::frame::encode_frame;
use crate::sync::lock;

/// How much may wait for one member, and how many ops it may have in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// The most frames in its queue.
    pub frames: usize,
    /// The most bytes in its queue (a frame larger than this alone still fits
    /// in an empty queue).
    pub bytes: usize,
    /// The most ops it may have proposed that are not yet acked.
    pub unacked: usize,
}

#[cfg(test)]
impl From<usize> for Bounds {
    /// A queue of `frames` frames and no other bound, for unit tests.
    fn from(frames: usize) -> Self {
        Self {
            frames,
            bytes: usize::MAX,
            unacked: 1 << 20,
        }
    }
}

/// The room's end of a member's queue: bounded in frames and in bytes.
#[derive(Debug)]
struct QueueTx {
    /// The frames.
    frames: mpsc::Sender<Bytes>,
    /// The bytes queued now, shared with the connection's end.
    bytes: Arc<AtomicUsize>,
    /// The most bytes the queue may hold.
    max_bytes: usize,
}

/// Why a frame did not go into a queue.
enum Refused {
    /// The queue is full: the member reads too slowly.
    Full,
    /// The connection has ended; it leaves by itself.
    Closed,
}

impl QueueTx {
    /// Queues `frame` unless the queue is full, in frames or in bytes.
    fn try_send(&self, frame: Bytes) -> Result<(), Refused> {
        let len = frame.len();
        let before = self.bytes.fetch_add(len, Ordering::AcqRel);
        if before > 0 && before + len > self.max_bytes {
            self.bytes.fetch_sub(len, Ordering::AcqRel);
            return Err(Refused::Full);
        }
        self.frames.try_send(frame).map_err(|err| {
            self.bytes.fetch_sub(len, Ordering::AcqRel);
            match err {
                TrySendError::Full(_) => Refused::Full,
                TrySendError::Closed(_) => Refused::Closed,
            }
        })
    }
}

/// The connection's end of its queue: live frames, in room order.
#[derive(Debug)]
pub struct Queue {
    /// The frames.
    frames: mpsc::Receiver<Bytes>,
    /// The bytes queued now, shared with the room's end.
    bytes: Arc<AtomicUsize>,
}

impl Queue {
    /// The next frame; `None` once the room has dropped its end (right after a
    /// kick).
    pub async fn recv(&mut self) -> Option<Bytes> {
        let frame = self.frames.recv().await?;
        self.bytes.fetch_sub(frame.len(), Ordering::AcqRel);
        Some(frame)
    }

    /// The next frame if one is waiting.
    pub fn try_recv(&mut self) -> Result<Bytes, TryRecvError> {
        let frame = self.frames.try_recv()?;
        self.bytes.fetch_sub(frame.len(), Ordering::AcqRel);
        Ok(frame)
    }
}

/// The latest presence of each sender that a member has not been sent yet.
/// A leaf lock: taken under the room's, or alone by the member's connection.
#[derive(Debug, Default)]
pub struct PresenceInbox {
    /// Sender to its latest `ServerMessage::Presence` frame.
    pending: Mutex<HashMap<ClientId, Bytes>>,
    /// Wakes the connection when the inbox stops being empty.
    ready: Notify,
}

impl PresenceInbox {
    /// Keeps `frame` as `from`'s latest presence, replacing an older one.
    fn put(&self, from: ClientId, frame: Bytes) {
        let mut pending = lock(&self.pending);
        let was_empty = pending.is_empty();
        pending.insert(from, frame);
        if was_empty {
            self.ready.notify_one();
        }
    }

    /// Forgets `from`'s presence (it left).
    fn forget(&self, from: ClientId) {
        lock(&self.pending).remove(&from);
    }

    /// Waits until the inbox holds something, then takes all of it: one
    /// frame per sender, the latest.
    pub async fn take(&self) -> Vec<Bytes> {
        loop {
            let taken: Vec<Bytes> = lock(&self.pending)
                .drain()
                .map(|(_, frame)| frame)
                .collect();
            if !taken.is_empty() {
                return taken;
            }
            self.ready.notified().await;
        }
    }
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
    /// An operator removed the member from the room.
    Removed,
    /// The room's store (Redis, for a cluster node) cannot be reached, so
    /// the member's op was not sequenced; the client is to come back, here
    /// later or to another node, and resend it.
    Unavailable,
}

/// The connection's ends of a new membership (see [`Members::add`]).
#[derive(Debug)]
pub struct Added {
    /// Tells this membership apart from an older or newer connection of the
    /// same client.
    pub connection: u64,
    /// Live frames for the member, in room order.
    pub queue: Queue,
    /// The latest presence of the others, apart from the queue.
    pub presences: Arc<PresenceInbox>,
    /// One permit per op the member may still propose before one is acked.
    pub credit: Arc<Semaphore>,
    /// Fires when the room cuts the member off.
    pub kick: oneshot::Receiver<Kick>,
}

/// Everyone in one room, and their queues.
#[derive(Debug, Default)]
pub struct Members {
    /// Who is in the room now, by client id: a client is in a room at most once.
    by_client: HashMap<ClientId, Member>,
    /// The last connection number handed out, to tell memberships apart.
    last_connection: u64,
    /// Members let go whose leave the room has not yet recorded (see
    /// [`Members::take_departed`]).
    departed: Vec<ClientId>,
    /// Joins and leaves not yet told.
    news: PeerNews,
}

/// A connection that is in the room.
#[derive(Debug)]
struct Member {
    /// Which connection of this client this is (see [`Added::connection`]).
    connection: u64,
    /// Name and colour, for the welcome of whoever joins next.
    info: PeerInfo,
    /// The bounded outgoing queue to the connection task; full means too slow.
    queue: QueueTx,
    /// The others' latest presence, for the connection task to write.
    presences: Arc<PresenceInbox>,
    /// This member's latest presence frame without its laser, for whoever
    /// joins later.
    presence: Option<Bytes>,
    /// The connection's credit of unacked ops, given back with each ack.
    credit: Arc<Semaphore>,
    /// Lets the room tell the connection why it was cut off.
    kick: oneshot::Sender<Kick>,
}

impl Members {
    /// Whether nobody is in the room.
    pub fn is_empty(&self) -> bool {
        self.by_client.is_empty()
    }

    /// Whether `connection` is the current membership of `client`.
    pub fn is_member(&self, client: ClientId, connection: u64) -> bool {
        self.by_client
            .get(&client)
            .is_some_and(|m| m.connection == connection)
    }

    /// Whether `client` is in the room (on any connection).
    pub fn contains(&self, client: ClientId) -> bool {
        self.by_client.contains_key(&client)
    }

    /// How many are in the room.
    pub fn len(&self) -> usize {
        self.by_client.len()
    }

    /// Who is in the room, for a welcome.
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.by_client.values().map(|m| m.info.clone()).collect()
    }

    /// Who is in the room, longest-present first (connections are numbered
    /// as they join, and a reconnect joins anew).
    pub fn by_seniority(&self) -> Vec<PeerInfo> {
        let mut members: Vec<&Member> = self.by_client.values().collect();
        members.sort_by_key(|m| m.connection);
        members.into_iter().map(|m| m.info.clone()).collect()
    }

    /// Cuts off the member with this client id, if any (an older connection
    /// not yet known to be dead), with [`Kick::Replaced`], told to nobody as a leave:
    /// the client is staying. Whether there was one.
    pub fn replace(&mut self, client: ClientId) -> bool {
        self.by_client
            .remove(&client)
            .map(|old| old.kick(Kick::Replaced))
            .is_some()
    }

    /// Notes that `peer` is joining, for the others to be told: before
    /// [`Members::add`], so that news told at once does not tell the joiner
    /// of itself.
    pub fn note_joined(&mut self, peer: PeerInfo) {
        self.news.joined(peer);
    }

    /// Adds a member with a queue as large as `bounds` say; it gets every
    /// frame offered from now on, and the latest presence of everyone who
    /// has one.
    pub fn add(&mut self, info: PeerInfo, bounds: Bounds) -> Added {
        let (frames_tx, frames) = mpsc::channel(bounds.frames);
        let bytes = Arc::new(AtomicUsize::new(0));
        let (kick_tx, kick) = oneshot::channel();
        let presences = Arc::new(PresenceInbox::default());
        for (from, member) in &self.by_client {
            if let Some(frame) = &member.presence {
                presences.put(*from, frame.clone());
            }
        }
        let credit = Arc::new(Semaphore::new(
            bounds.unacked.clamp(1, Semaphore::MAX_PERMITS),
        ));
        self.last_connection += 1;
        let connection = self.last_connection;
        self.by_client.insert(
            info.client,
            Member {
                connection,
                info,
                queue: QueueTx {
                    frames: frames_tx,
                    bytes: Arc::clone(&bytes),
                    max_bytes: bounds.bytes,
                },
                presences: Arc::clone(&presences),
                presence: None,
                credit: Arc::clone(&credit),
                kick: kick_tx,
            },
        );
        Added {
            connection,
            queue: Queue { frames, bytes },
            presences,
            credit,
            kick,
        }
    }

    /// Gives `client` back the credit of one op, which was just acked or
    /// refused.
    pub fn credit(&self, client: ClientId) {
        // An ack always follows a permit taken; the check only keeps a
        // proposal made without one (the unit tests make them) from growing
        // the credit past what a semaphore holds.
        if let Some(member) = self.by_client.get(&client)
            && member.credit.available_permits() < Semaphore::MAX_PERMITS / 2
        {
            member.credit.add_permits(1);
        }
    }

    /// Offers every member but `from` its latest presence frame, `live`, and
    /// keeps `lasting` (the same without its laser) for those who join
    /// later. Never fills a queue: each member keeps one presence per
    /// sender, the latest.
    pub fn presence(&mut self, from: ClientId, live: &Bytes, lasting: Bytes) {
        for (client, member) in &self.by_client {
            if *client != from {
                member.presences.put(from, live.clone());
            }
        }
        if let Some(member) = self.by_client.get_mut(&from) {
            member.presence = Some(lasting);
        }
    }

    /// Notes that `client`, a member on another relay of the cluster, left,
    /// for the members here to be told.
    pub fn note_left_elsewhere(&mut self, client: ClientId) {
        self.news.left(client);
    }

    /// Offers every member here the latest presence frame of `from`, a
    /// member on another relay of the cluster.
    pub fn presence_from_elsewhere(&self, from: ClientId, frame: &Bytes) {
        for member in self.by_client.values() {
            member.presences.put(from, frame.clone());
        }
    }

    /// What to do about the joins and leaves not yet told, at `now` with
    /// ticks of `tick` (see [`PeerNews::when`]).
    pub fn news_when(&mut self, now: Instant, tick: Duration) -> When {
        self.news.when(now, tick)
    }

    /// The clock the room asked for has struck: the news is due.
    pub fn news_woken(&mut self) {
        self.news.woken();
    }

    /// Tells everyone the joins and leaves not yet told, in one message
    /// (more only for a crowd), and cuts off whoever cannot take it (their
    /// leaves are then news for the next tick).
    pub fn tell_news(&mut self, now: Instant) {
        let mut slow = Vec::new();
        for message in self.news.take(now) {
            match encode_frame(&message) {
                Ok(frame) => self.offer_all(&frame, None, &mut slow),
                Err(err) => warn!(%err, "could not encode the peers who came and went"),
            }
        }
        self.cut_off(slow);
    }

    /// Removes a member that leaves, notes the news for the others and the
    /// leave for recording. Does nothing (and returns `false`) when that
    /// connection is no longer the member.
    pub fn leave(&mut self, client: ClientId, connection: u64) -> bool {
        if !self.is_member(client, connection) {
            return false;
        }
        self.by_client.remove(&client);
        self.announce_left(client);
        true
    }

    /// Removes a member whose op could not be stored and tells the others it
    /// left. Its connection closes; the client reconnects and resends what was
    /// not acked.
    pub fn drop_unsaved(&mut self, client: ClientId) {
        if let Some(member) = self.by_client.remove(&client) {
            member.kick(Kick::Storage);
            self.announce_left(client);
        }
    }

    /// Removes a member an operator kicked out, tells the others it left and
    /// notes the leave for recording. Whether it was here.
    pub fn remove(&mut self, client: ClientId) -> bool {
        let Some(member) = self.by_client.remove(&client) else {
            return false;
        };
        member.kick(Kick::Removed);
        self.announce_left(client);
        true
    }

    /// The client ids in the room.
    pub fn clients(&self) -> Vec<ClientId> {
        self.by_client.keys().copied().collect()
    }

    /// Removes a member whose op could not be sequenced because the room's
    /// store is out of reach, and tells the others it left. Its connection
    /// closes saying so; the client comes back (here or to another node)
    /// and resends what was not acked.
    pub fn drop_unavailable(&mut self, client: ClientId) {
        if let Some(member) = self.by_client.remove(&client) {
            member.kick(Kick::Unavailable);
            self.announce_left(client);
        }
    }

    /// The members let go (left, cut off, or failed to store) since the last
    /// call, whose leaves the room is to record.
    pub fn take_departed(&mut self) -> Vec<ClientId> {
        std::mem::take(&mut self.departed)
    }

    /// Sends one frame to every member but `except`, and cuts off whoever cannot
    /// take it.
    ///
    /// This is the room's one fan-out path for what is sequenced: live ops and
    /// the news of who came and went go through it. It is the seam where a Redis (or similar) backplane will later
    /// publish frames to the relays that hold the room's other members.
    pub fn broadcast(&mut self, frame: &Bytes, except: Option<ClientId>) {
        let mut slow = Vec::new();
        self.offer_all(frame, except, &mut slow);
        self.cut_off(slow);
    }

    /// Sends one frame to one member (an ack or a refusal to its author),
    /// cutting it off if it cannot take it.
    pub fn send_to(&mut self, client: ClientId, frame: Bytes) {
        let full = self
            .by_client
            .get(&client)
            .is_some_and(|m| matches!(m.queue.try_send(frame), Err(Refused::Full)));
        if full {
            self.cut_off(vec![client]);
        }
    }

    /// Notes that `client` left, for the others to be told and for the room
    /// to record.
    fn announce_left(&mut self, client: ClientId) {
        self.departed.push(client);
        self.forget_presence(client);
        self.news.left(client);
    }

    /// Offers a frame to every member but `except` without waiting; the members
    /// whose queue is full are pushed onto `slow`. A queue whose task has ended is
    /// left alone: that task is about to leave the room itself.
    fn offer_all(&self, frame: &Bytes, except: Option<ClientId>, slow: &mut Vec<ClientId>) {
        for (client, member) in &self.by_client {
            if Some(*client) == except {
                continue;
            }
            if let Err(Refused::Full) = member.queue.try_send(frame.clone()) {
                slow.push(*client);
            }
        }
    }

    /// Removes and kicks members that could not keep up; the rest are told
    /// with the next news.
    fn cut_off(&mut self, slow: Vec<ClientId>) {
        for client in slow {
            // A member can be full for two frames in a row and so appear twice.
            let Some(member) = self.by_client.remove(&client) else {
                continue;
            };
            warn!(
                cut_off = %client,
                name = %member.info.name,
                "outgoing queue overflow: cutting off a peer that reads too slowly"
            );
            member.kick(Kick::Overflow);
            self.announce_left(client);
        }
    }

    /// Drops a departed member's presence from everyone's inbox.
    fn forget_presence(&self, client: ClientId) {
        for member in self.by_client.values() {
            member.presences.forget(client);
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
    use tabula_shared::access::Role;
    use tabula_shared::{ClientId, OpKind, ServerMessage, decode};

    use crate::room::identities::Refused;
    use crate::room::testing::{came, catch_up, next, nothing, op, peer, room, went};
    use crate::room::{JoinRefused, Proposed};

    use super::*;

    #[test]
    fn a_full_queue_cuts_the_member_off_and_the_room_moves_on() {
        let room = room();
        let a = peer("a");
        let slow = peer("slow");
        let mut ma = room.join(a.clone(), 0, true, 64);
        let mut ms = room.join(slow.clone(), 0, true, 2);
        next(&mut ma); // Peers(slow)
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
        assert!(seen.contains(&went(slow.client)), "{seen:?}");
        assert!(!room.leave(slow.client, ms.connection), "already gone");
        // Two joins, three ops, and slow's leave, recorded when it was cut off.
        assert_eq!(room.head(), 6);
        let leaves: Vec<ClientId> = catch_up(&mut room.join(peer("c"), 0, true, 16))
            .iter()
            .filter_map(|f| match decode(f).unwrap() {
                ServerMessage::Op(o) if o.op.kind == OpKind::Left => Some(o.author),
                _ => None,
            })
            .collect();
        assert_eq!(leaves, vec![slow.client]);
    }

    #[test]
    fn a_hello_without_the_secret_of_a_members_id_changes_nothing() {
        let room = room();
        let a = peer("a");
        let b = peer("b");
        let mut mb = room.join(b.clone(), 0, true, 16);
        let mut ma = room.join(a.clone(), 0, true, 16);
        assert_eq!(next(&mut mb), came(&a));
        let impostor = PeerInfo {
            name: "not a".to_owned(),
            ..a.clone()
        };
        let forged = tabula_shared::access::ResumeSecret::random().unwrap();
        let head = room.head();
        for presented in [None, Some(&forged)] {
            assert!(matches!(
                room.try_join(impostor.clone(), presented, Role::Editor, 0, true, 16.into(), usize::MAX),
                Err(JoinRefused::Identity(Refused::Impostor(client))) if client == a.client
            ));
        }
        // Nothing recorded, nobody told, nobody cut off.
        assert_eq!(room.head(), head);
        nothing(&mut mb);
        assert_eq!(room.member_count(), 2);
        assert_eq!(ma.kick.try_recv(), Err(oneshot::error::TryRecvError::Empty));
        assert_eq!(
            room.propose(a.client, ma.connection, op()),
            Proposed::Queued
        );
    }

    #[test]
    fn a_reconnect_replaces_the_old_member_without_peer_left() {
        let room = room();
        let a = peer("a");
        let b = peer("b");
        let mut mb = room.join(b.clone(), 0, true, 16);
        let mut old = room.join(a.clone(), 0, true, 16);
        let secret = old.welcome.resume_secret;
        let new = room
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
        assert!(new.replaced);
        assert_eq!(new.welcome.resume_secret, secret);
        assert_eq!(old.kick.try_recv(), Ok(Kick::Replaced));
        assert!(!room.leave(a.client, old.connection));
        assert_eq!(next(&mut mb), came(&a));
        assert_eq!(next(&mut mb), came(&a));
        nothing(&mut mb);
        assert_eq!(
            room.propose(a.client, old.connection, op()),
            Proposed::NotMember
        );
        assert!(room.leave(a.client, new.connection));
        assert_eq!(next(&mut mb), went(a.client));
    }
}
