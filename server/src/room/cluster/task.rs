//! A room's task on a cluster node: sequencing through Redis, and delivering
//! the room's ops to this node's members in order.
//!
//! One tokio task per open room does both, so nothing here needs a lock but
//! the room's own. A batch of proposals (whatever waited while the previous
//! script ran, at most [`MAX_BATCH`]) goes to Redis as one `SEQUENCE` script.
//! Once Redis has answered, the new ops are delivered under the room's lock:
//! at once if they follow the last op delivered here, otherwise after the ops
//! before them, read with `XRANGE` from the last delivered. Ops from other
//! nodes are read the same way when a notice says the head moved, and every
//! [`LOOK_EVERY`] the task compares the head with what it delivered, so a
//! notice lost while the bus reconnected only delays ops, never skips one.
//!
//! An op this node proposed is acked to its author and sent to the others;
//! any other op (another node's, or a join or leave) goes to everyone here.
//! The ack and the op are never sent before Redis has answered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use redis::streams::StreamRangeReply;
use redis::{Script, Value};
use tabula_shared::{ClientId, OpId, OpKind, PeerInfo, SequencedOp, ServerMessage};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::Node;
use super::bus::{self, Change};
use super::presence::Remote;
use crate::frame::encode_frame;
use crate::record::Ruling;
use crate::room::sequencer::{Committed, Outcome, Proposal};
use crate::room::state::State;
use crate::store::redis::{SEQUENCE, StreamOp, key, parse_stamp, sequence_args, stream_ops};
use crate::store::{Entry, Stamp, StoreError};
use crate::sync::lock;

/// The most proposals one script sequences.
const MAX_BATCH: usize = 1024;

/// The most ops read with one `XRANGE`.
const READ_CHUNK: usize = 1024;

/// How often the task compares the room's head in Redis with the last op it
/// delivered, and says on the bus that this node is alive.
pub const LOOK_EVERY: Duration = Duration::from_secs(1);

/// What a cluster backend gives a room to open with: the node it is on.
#[derive(Debug)]
pub struct Start {
    /// The node.
    pub node: Arc<Node>,
}

/// What a room's task is sent.
#[derive(Debug)]
pub enum Message {
    /// Ops to sequence, in proposal order.
    Propose(Vec<Proposal>),
    /// A member's presence frame, for the members on other nodes.
    Presence(Bytes),
    /// Something on the room's bus.
    Bus(Vec<u8>),
    /// The bus was away: look at the head, and say who is here.
    Resync,
    /// Deliver the ops up to this one (a client resuming from another node
    /// has seen them).
    Reach(u64),
}

/// A room task's inbox; the task ends once the room (which holds it) is
/// gone.
#[derive(Debug)]
pub struct Inbox {
    /// Where messages go.
    sender: mpsc::UnboundedSender<Message>,
}

impl Inbox {
    /// Hands the task `message`; `false` if it has ended.
    pub fn send(&self, message: Message) -> bool {
        self.sender.send(message).is_ok()
    }
}

/// A room's side of its task.
#[derive(Debug)]
pub struct Link {
    /// The task's inbox.
    inbox: Arc<Inbox>,
    /// The members on other nodes.
    remote: Arc<Remote>,
}

impl Link {
    /// Has `proposals` sequenced; `false` if the task has ended.
    pub fn submit(&self, proposals: Vec<Proposal>) -> bool {
        self.inbox.send(Message::Propose(proposals))
    }

    /// Passes a member's presence frame to the other nodes.
    pub fn presence(&self, frame: Bytes) {
        self.inbox.send(Message::Presence(frame));
    }

    /// Has the task deliver the ops up to `seq`.
    pub fn reach(&self, seq: u64) {
        self.inbox.send(Message::Reach(seq));
    }

    /// The members on other nodes, for a welcome.
    pub fn remote_peers(&self) -> Vec<PeerInfo> {
        self.remote.peers()
    }

    /// How many members other nodes have, leaving out those `skip` names.
    pub fn remote_count(&self, skip: impl Fn(ClientId) -> bool) -> usize {
        self.remote.count(skip)
    }
}

impl Start {
    /// Starts room `name`'s task on the node: it sequences for the room and
    /// publishes to `state`, whose head is the last op delivered here.
    pub fn attach(self, name: &str, state: Arc<Mutex<State>>) -> Link {
        let (sender, receiver) = mpsc::unbounded_channel();
        let inbox = Arc::new(Inbox { sender });
        let remote = Arc::new(Remote::new(self.node.id));
        lock(&self.node.rooms).insert(name.to_owned(), Arc::downgrade(&inbox));
        // Subscribed before the task asks who is here, so no answer is missed.
        let _ = self
            .node
            .subscriptions
            .send(Change::Subscribe(name.to_owned()));
        let task = RoomTask {
            name: name.to_owned(),
            node: Arc::clone(&self.node),
            state,
            remote: Arc::clone(&remote),
            own: HashMap::new(),
            script: Script::new(SEQUENCE),
            bus: bus::channel(name),
        };
        self.node.runtime.spawn(task.run(receiver));
        Link { inbox, remote }
    }
}

/// A room's task (see the module's documentation).
struct RoomTask {
    /// The room.
    name: String,
    /// The node.
    node: Arc<Node>,
    /// The room's lock: its head (the last op delivered here), members,
    /// snapshots.
    state: Arc<Mutex<State>>,
    /// The members on other nodes.
    remote: Arc<Remote>,
    /// Ops this node proposed that are sequenced but not yet delivered,
    /// with their authors, to be acked.
    own: HashMap<OpId, ClientId>,
    /// The sequencing script.
    script: Script,
    /// The room's bus channel.
    bus: String,
}

impl RoomTask {
    /// Serves the room until it is closed.
    async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Message>) {
        let mut look = tokio::time::interval(LOOK_EVERY);
        look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.publish(bus::roster_request(self.node.id)).await;
        loop {
            tokio::select! {
                message = inbox.recv() => {
                    let Some(message) = message else { break };
                    self.handle(message, &mut inbox).await;
                }
                _ = look.tick() => self.look().await,
            }
        }
        lock(&self.node.rooms).remove(&self.name);
        let _ = self
            .node
            .subscriptions
            .send(Change::Unsubscribe(self.name.clone()));
        debug!(room = %self.name, "the room's cluster task stopped");
    }

    /// Handles one message, and with proposals, every other proposal
    /// waiting (up to [`MAX_BATCH`]).
    async fn handle(&mut self, message: Message, inbox: &mut mpsc::UnboundedReceiver<Message>) {
        match message {
            Message::Propose(mut batch) => {
                let mut later = Vec::new();
                while batch.len() < MAX_BATCH {
                    match inbox.try_recv() {
                        Ok(Message::Propose(more)) => batch.extend(more),
                        Ok(other) => later.push(other),
                        Err(_) => break,
                    }
                }
                self.sequence(batch).await;
                for other in later {
                    Box::pin(self.handle(other, inbox)).await;
                }
            }
            Message::Presence(frame) => {
                let message = bus::presence(b'c', self.node.id, &frame);
                self.publish_detached(message);
            }
            Message::Bus(payload) => self.on_bus(&payload).await,
            Message::Reach(seq) => self.deliver_up_to(seq).await,
            Message::Resync => {
                self.look().await;
                self.announce_members().await;
            }
        }
    }

    /// Sequences `batch` with one script and delivers what is new.
    async fn sequence(&mut self, batch: Vec<Proposal>) {
        let mut args: Vec<Vec<u8>> = vec![self.bus.clone().into_bytes()];
        let mut sent: Vec<(Proposal, bool)> = Vec::with_capacity(batch.len());
        let mut refused = Vec::new();
        for proposal in batch {
            let recorded = proposal.op.kind.is_presence();
            match check(&proposal)
                .and_then(|()| sequence_args(&mut args, &proposal.op, proposal.author, recorded))
            {
                Ok(()) => sent.push((proposal, recorded)),
                Err(err) => refused.push(Outcome::Refused {
                    author: proposal.author,
                    op: proposal.op.id,
                    reason: format!("op {} cannot be sequenced: {err}", proposal.op.id),
                }),
            }
        }
        if !refused.is_empty() {
            self.publish_outcomes(refused, Vec::new(), Vec::new());
        }
        if sent.is_empty() {
            return;
        }
        for (proposal, recorded) in &sent {
            if !recorded {
                self.own.insert(proposal.op.id, proposal.author);
            }
        }
        let answer = self.run_script(&args).await;
        let (ms, results) = match answer {
            Ok(answer) => answer,
            Err(err) => {
                warn!(room = %self.name, %err, ops = sent.len(), "could not sequence ops: their authors are cut off");
                let outcomes = sent
                    .into_iter()
                    .filter(|(_, recorded)| !recorded)
                    .map(|(proposal, _)| {
                        self.own.remove(&proposal.op.id);
                        Outcome::Unavailable {
                            author: proposal.author,
                            reason: err.to_string(),
                        }
                    })
                    .collect();
                self.publish_outcomes(outcomes, Vec::new(), Vec::new());
                return;
            }
        };
        self.announce(&sent).await;
        let (outcomes, entries, rulings) = self.stamped(sent, results, ms);
        let last = entries.last().map_or(0, |entry| entry.stamp.seq);
        let follows = entries
            .first()
            .is_none_or(|first| first.stamp.seq == lock(&self.state).head + 1);
        if follows {
            for entry in &entries {
                self.own.remove(&entry.op_id);
            }
            self.publish_outcomes(outcomes, entries, rulings);
        } else {
            // Others' ops came first: those are read, and these with them.
            let duplicates = outcomes
                .into_iter()
                .filter(|o| matches!(o, Outcome::Duplicate { .. }))
                .collect();
            self.publish_outcomes(duplicates, Vec::new(), Vec::new());
            self.deliver_up_to(last).await;
        }
    }

    /// What became of each op the script was given, and the new ops' entries
    /// and rulings in sequence order.
    fn stamped(
        &mut self,
        sent: Vec<(Proposal, bool)>,
        results: Vec<Sequenced>,
        ms: u64,
    ) -> (Vec<Outcome>, Vec<Entry>, Vec<Ruling>) {
        let mut outcomes = Vec::new();
        let mut entries = Vec::new();
        let mut rulings = Vec::new();
        for ((proposal, recorded), result) in sent.into_iter().zip(results) {
            match result {
                Sequenced::New(seq) => {
                    let stamp = Stamp {
                        seq,
                        timestamp_ms: ms,
                    };
                    let op_id = proposal.op.id;
                    let author = proposal.author;
                    let ruling = Ruling::of(author, &proposal.op.kind);
                    let frame = encode_frame(&ServerMessage::Op(SequencedOp {
                        seq,
                        author,
                        timestamp_ms: ms,
                        op: proposal.op,
                    }));
                    match frame {
                        Ok(frame) => {
                            rulings.extend(ruling);
                            outcomes.push(if recorded {
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
                        // Checked before: cannot happen.
                        Err(err) => {
                            warn!(room = %self.name, %err, "a sequenced op does not encode");
                        }
                    }
                }
                Sequenced::Known(stamp) => {
                    self.own.remove(&proposal.op.id);
                    outcomes.push(Outcome::Duplicate {
                        author: proposal.author,
                        op: proposal.op.id,
                        stamp,
                    });
                }
            }
        }
        (outcomes, entries, rulings)
    }

    /// Runs the sequencing script: the time it gave new ops, and what became
    /// of each op.
    async fn run_script(&self, args: &[Vec<u8>]) -> Result<(u64, Vec<Sequenced>), StoreError> {
        let mut commands = self.node.commands().await?;
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(key(&self.name, "state"))
            .key(key(&self.name, "log"))
            .key(key(&self.name, "ids"));
        for arg in args {
            invocation.arg(&arg[..]);
        }
        let reply = invocation
            .invoke_async::<Value>(&mut commands)
            .await
            .map_err(|cause| self.node.redis.error(cause))?;
        parse_reply(&reply, args.len().saturating_sub(1) / 4).ok_or_else(|| {
            StoreError::Unreadable {
                seq: 0,
                detail: format!("the sequencing script answered {reply:?}"),
            }
        })
    }

    /// Publishes what became of proposals (and the ops `entries` holds,
    /// which follow the last op delivered) under the room's lock, then has
    /// those the news cut off recorded as leaving.
    fn publish_outcomes(
        &mut self,
        outcomes: Vec<Outcome>,
        entries: Vec<Entry>,
        rulings: Vec<Ruling>,
    ) {
        let departed = {
            let mut state = lock(&self.state);
            state.publish(Committed {
                outcomes,
                entries,
                stored: true,
                rulings,
            });
            state.members.take_departed()
        };
        if !departed.is_empty() {
            let proposals = departed.into_iter().map(Proposal::left).collect();
            // Sequenced on the next turn, like any proposal.
            let _ = lock(&self.node.rooms)
                .get(&self.name)
                .and_then(std::sync::Weak::upgrade)
                .map(|inbox| inbox.send(Message::Propose(proposals)));
        }
    }

    /// Reads and delivers every op after the last delivered up to `up_to`.
    async fn deliver_up_to(&mut self, up_to: u64) {
        loop {
            let head = lock(&self.state).head;
            if head >= up_to {
                return;
            }
            let ops = match self.read_after(head).await {
                Ok(ops) => ops,
                Err(err) => {
                    warn!(room = %self.name, %err, "could not read the room's new ops; trying again shortly");
                    return;
                }
            };
            if ops.is_empty() {
                warn!(room = %self.name, head, up_to, "the room's log ends before its head");
                return;
            }
            self.deliver(ops);
        }
    }

    /// Delivers ops read from the stream, in order, after the last delivered.
    fn deliver(&mut self, ops: Vec<StreamOp>) {
        let head = lock(&self.state).head;
        let mut outcomes = Vec::new();
        let mut entries = Vec::new();
        let mut rulings = Vec::new();
        let mut next = head + 1;
        for op in ops {
            if op.stamp.seq < next {
                continue;
            }
            if op.stamp.seq > next {
                warn!(room = %self.name, seq = op.stamp.seq, expected = next, "a gap in the room's log");
                break;
            }
            next += 1;
            let own = self.own.remove(&op.op_id);
            let (op_id, author, stamp) = (op.op_id, op.author, op.stamp);
            let ruling = Ruling::of(author, &op.op.kind);
            match op.frame() {
                Ok(frame) => {
                    rulings.extend(ruling);
                    outcomes.push(if own.is_some() {
                        Outcome::New(entries.len())
                    } else {
                        Outcome::Recorded(entries.len())
                    });
                    entries.push(Entry {
                        op_id,
                        author,
                        stamp,
                        frame,
                    });
                }
                Err(err) => {
                    warn!(room = %self.name, %err, "an op in the room's log cannot be sent");
                    break;
                }
            }
        }
        self.publish_outcomes(outcomes, entries, rulings);
    }

    /// Up to [`READ_CHUNK`] ops after `after`.
    async fn read_after(&self, after: u64) -> Result<Vec<StreamOp>, StoreError> {
        let mut read = redis::cmd("XRANGE");
        read.arg(key(&self.name, "log"))
            .arg(format!("{}-0", after + 1))
            .arg("+")
            .arg("COUNT")
            .arg(READ_CHUNK);
        stream_ops(self.node.query::<StreamRangeReply>(&read).await?)
    }

    /// Compares the room's head in Redis with the last op delivered here and
    /// delivers what is missing; says on the bus that this node is here, and
    /// forgets the members of nodes not heard from for a while.
    async fn look(&mut self) {
        let mut read = redis::cmd("HGET");
        read.arg(key(&self.name, "state")).arg("head");
        match self.node.query::<Option<u64>>(&read).await {
            Ok(Some(head)) => self.deliver_up_to(head).await,
            Ok(None) => {}
            Err(err) => debug!(room = %self.name, %err, "could not look at the room's head"),
        }
        let has_members = !lock(&self.state).members.is_empty();
        if has_members {
            self.publish_detached(bus::heartbeat(self.node.id));
        }
        for gone in self.remote.expire() {
            self.left_elsewhere(gone);
        }
    }

    /// Handles a message on the room's bus.
    async fn on_bus(&mut self, payload: &[u8]) {
        match bus::parse(payload) {
            Some(bus::Parsed::Notice(head)) => self.deliver_up_to(head).await,
            Some(bus::Parsed::Presence { kind, node, frame }) if node != self.node.id => {
                self.remote.heard(node);
                self.presence_from(kind, node, frame);
            }
            Some(bus::Parsed::Heartbeat(node)) if node != self.node.id => {
                if self.remote.heard(node) {
                    // A node this one had not heard: it may not know who is here.
                    self.announce_members().await;
                }
            }
            Some(bus::Parsed::RosterRequest(node)) if node != self.node.id => {
                self.remote.heard(node);
                self.announce_members().await;
            }
            Some(_) => {}
            None => debug!(room = %self.name, "an unknown message on the room's bus"),
        }
    }

    /// A member's join, leave or presence on another node: joins and leaves
    /// become this tick's news for this node's members, presence goes to
    /// their inboxes.
    fn presence_from(&mut self, kind: u8, node: uuid::Uuid, frame: &[u8]) {
        let Ok(message) = tabula_shared::decode::<ServerMessage>(frame) else {
            return;
        };
        let mut state = lock(&self.state);
        match (kind, message) {
            (b'j', ServerMessage::PeerJoined(info)) => {
                if state.members.contains(info.client) {
                    return;
                }
                if self.remote.joined(node, &info) {
                    state.members.note_joined(info);
                    state.settle_news();
                }
            }
            (b'l', ServerMessage::PeerLeft { client })
                if self.remote.left(node, client) && !state.members.contains(client) =>
            {
                state.members.note_left_elsewhere(client);
                state.settle_news();
            }
            (b'c', ServerMessage::Presence { client, .. }) if !state.members.contains(client) => {
                state
                    .members
                    .presence_from_elsewhere(client, &Bytes::copy_from_slice(frame));
            }
            _ => {}
        }
        let departed = state.members.take_departed();
        drop(state);
        self.record_left(departed);
    }

    /// Has the leaves of this node's members that telling news cut off
    /// recorded.
    fn record_left(&self, departed: Vec<ClientId>) {
        if !departed.is_empty() {
            let proposals = departed.into_iter().map(Proposal::left).collect();
            if let Some(inbox) = self.node.room(&self.name) {
                inbox.send(Message::Propose(proposals));
            }
        }
    }

    /// A member on another node is gone (its node went quiet): tells this
    /// node's members.
    fn left_elsewhere(&self, client: ClientId) {
        let mut state = lock(&self.state);
        if state.members.contains(client) {
            return;
        }
        state.members.note_left_elsewhere(client);
        state.settle_news();
        let departed = state.members.take_departed();
        drop(state);
        self.record_left(departed);
    }

    /// Tells the other nodes of the joins and leaves just recorded.
    async fn announce(&self, sent: &[(Proposal, bool)]) {
        for (proposal, recorded) in sent {
            if !recorded {
                continue;
            }
            let (kind, message) = match &proposal.op.kind {
                OpKind::Joined { name, color } => (
                    b'j',
                    ServerMessage::PeerJoined(PeerInfo {
                        client: proposal.author,
                        name: name.clone(),
                        color: *color,
                    }),
                ),
                OpKind::Left => (
                    b'l',
                    ServerMessage::PeerLeft {
                        client: proposal.author,
                    },
                ),
                _ => continue,
            };
            if let Ok(frame) = encode_frame(&message) {
                self.publish(bus::presence(kind, self.node.id, &frame))
                    .await;
            }
        }
    }

    /// Tells the other nodes who is in the room on this one.
    async fn announce_members(&self) {
        let peers = lock(&self.state).members.peers();
        for info in peers {
            if let Ok(frame) = encode_frame(&ServerMessage::PeerJoined(info)) {
                self.publish(bus::presence(b'j', self.node.id, &frame))
                    .await;
            }
        }
    }

    /// Publishes `message` on the room's bus, waiting for Redis.
    async fn publish(&self, message: Vec<u8>) {
        let mut publish = redis::cmd("PUBLISH");
        publish.arg(&self.bus).arg(message);
        if let Err(err) = self.node.query::<Value>(&publish).await {
            debug!(room = %self.name, %err, "could not publish on the room's bus");
        }
    }

    /// Publishes `message` on the room's bus without waiting: presence that
    /// the next one replaces.
    fn publish_detached(&self, message: Vec<u8>) {
        let node = Arc::clone(&self.node);
        let bus = self.bus.clone();
        self.node.runtime.spawn(async move {
            let mut publish = redis::cmd("PUBLISH");
            publish.arg(&bus).arg(message);
            // Presence the next one replaces: a lost one is not worth a word.
            let _ = node.query::<Value>(&publish).await;
        });
    }
}

/// What the script did with one op.
#[derive(Debug, PartialEq, Eq)]
enum Sequenced {
    /// Sequenced now, as this number.
    New(u64),
    /// A resend: sequenced before, with this stamp.
    Known(Stamp),
}

/// The script's answer `{ms, {SEQ or "SEQ:MS", ...}}` for `ops` ops.
fn parse_reply(reply: &Value, ops: usize) -> Option<(u64, Vec<Sequenced>)> {
    let Value::Array(parts) = reply else {
        return None;
    };
    let [Value::Int(ms), Value::Array(results)] = parts.as_slice() else {
        return None;
    };
    let results: Vec<Sequenced> = results
        .iter()
        .map(|result| match result {
            Value::Int(seq) => u64::try_from(*seq).ok().map(Sequenced::New),
            Value::BulkString(text) => std::str::from_utf8(text)
                .ok()
                .and_then(parse_stamp)
                .map(Sequenced::Known),
            _ => None,
        })
        .collect::<Option<_>>()?;
    (results.len() == ops).then_some((u64::try_from(*ms).ok()?, results))
}

/// Whether `proposal` can be sequenced: its frame, with the largest number
/// and time, is within the frame limit.
fn check(proposal: &Proposal) -> Result<(), tabula_shared::EncodeError> {
    encode_frame(&ServerMessage::Op(SequencedOp {
        seq: u64::MAX,
        author: proposal.author,
        timestamp_ms: u64::MAX,
        op: proposal.op.clone(),
    }))
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scripts_answer_is_read_or_refused() {
        let reply = Value::Array(vec![
            Value::Int(1_700_000_000_000),
            Value::Array(vec![
                Value::Int(7),
                Value::BulkString(b"3:1699999999000".to_vec()),
            ]),
        ]);
        assert_eq!(
            parse_reply(&reply, 2),
            Some((
                1_700_000_000_000,
                vec![
                    Sequenced::New(7),
                    Sequenced::Known(Stamp {
                        seq: 3,
                        timestamp_ms: 1_699_999_999_000
                    })
                ]
            ))
        );
        assert_eq!(parse_reply(&reply, 3), None, "one answer per op");
        assert_eq!(parse_reply(&Value::Int(1), 0), None);
    }
}
