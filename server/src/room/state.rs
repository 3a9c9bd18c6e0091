//! What a room changes under its lock, and publishing a committed batch to it.
//!
//! A room's [`State`] is its published head, its members and its snapshots,
//! behind one `std::sync::Mutex` (the room's lock). [`State::publish`] sends a
//! [`Committed`] batch on in sequence order: each new op's frame to everyone
//! but its author, an `Ack` to the author, a recorded join or leave to everyone,
//! a refusal to whoever proposed an op that cannot be sequenced; then it tells
//! the snapshots how far the room has published. Publishing under the same lock
//! as joins is what makes the sequence order and the fan-out order the same,
//! and what lets a joiner's catch-up end exactly where its queue begins.
//! The batch's [`Ruling`]s change the room's rules as they are published
//! ([`State::rule`]), so that what an operator did holds from its place in
//! the log on, wherever it was done.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tabula_shared::access::Role;
use tabula_shared::{ClientId, ErrorCode, Moderated, OpId, ServerMessage};
use tracing::{debug, warn};

use super::handover::Stage;
use super::identities::Identities;
use super::members::Members;
use super::news::{NewsClock, When};
use super::rules::Rules;
use super::sequencer::{Committed, Outcome};
use crate::frame::encode_frame;
use crate::record::Ruling;
use crate::snapshots::RoomSnapshots;
use crate::store::Stamp;

/// The part of a room that changes.
#[derive(Debug)]
pub struct State {
    /// The room's name, for logs.
    pub name: String,
    /// The latest sequence number published: stored, acked and fanned out. A
    /// joiner catches up to here; every later op reaches it through its queue.
    pub head: u64,
    /// The room's board snapshots, told of each published head.
    pub snapshots: Arc<RoomSnapshots>,
    /// Who is in the room, and the only way frames reach them.
    pub members: Members,
    /// Every client id the room has seen, with its resume secret: who may
    /// take an id over.
    pub identities: Identities,
    /// Its password, invitations, roles, kicks, lock and view-only.
    pub rules: Rules,
    /// Whether the room sequences as usual, is being handed over, or has
    /// moved to another relay.
    pub stage: Stage,
    /// Wakes the room when its joins and leaves are due to be told.
    pub clock: NewsClock,
}

impl State {
    /// Sends each outcome of `committed` on, in sequence order.
    pub fn publish(&mut self, committed: Committed) {
        let Committed {
            outcomes,
            entries,
            stored,
            rulings,
        } = committed;
        for outcome in outcomes {
            match outcome {
                Outcome::New(index) if stored => {
                    let entry = &entries[index];
                    self.head = entry.stamp.seq;
                    self.members.broadcast(&entry.frame, Some(entry.author));
                    self.ack(entry.author, entry.op_id, entry.stamp);
                }
                Outcome::New(index) => self.members.drop_unsaved(entries[index].author),
                Outcome::Recorded(index) if stored => {
                    let entry = &entries[index];
                    self.head = entry.stamp.seq;
                    self.members.broadcast(&entry.frame, None);
                }
                // Already logged as an error; nobody is to blame or to resend.
                Outcome::Recorded(_) => {}
                Outcome::Unsaved { author } => self.members.drop_unsaved(author),
                Outcome::Unavailable { author, reason } => {
                    debug!(room = %self.name, %reason, "cut off an author: its op cannot be sequenced now");
                    self.members.drop_unavailable(author);
                }
                Outcome::Duplicate { author, op, stamp } => {
                    debug!(room = %self.name, op = %op, seq = stamp.seq, "acked a resent op again");
                    self.ack(author, op, stamp);
                }
                Outcome::Refused { author, op, reason } => {
                    debug!(room = %self.name, op = %op, %reason, "refused an op");
                    self.members.credit(author);
                    let refusal = ServerMessage::OpRefused {
                        op,
                        code: ErrorCode::InvalidOp,
                        message: reason,
                    };
                    match encode_frame(&refusal) {
                        Ok(frame) => self.members.send_to(author, frame),
                        Err(err) => warn!(%err, "could not encode a refusal"),
                    }
                }
            }
        }
        if stored {
            self.rule(&rulings);
        }
        self.snapshots.published(self.head);
        self.settle_news();
    }

    /// Takes in what published ops say about how the room is run: cuts off
    /// a member kicked out (its leave is for the caller to record, like any
    /// departure), and tells everyone what they may do when an operator did
    /// something.
    pub fn rule(&mut self, rulings: &[Ruling]) {
        let mut changed = false;
        for ruling in rulings {
            changed |= self.rules.apply(ruling);
            if let Ruling::Moderated(Moderated::Kicked { client }) = ruling
                && self.members.remove(*client)
            {
                debug!(room = %self.name, %client, "cut off a member an operator kicked out");
            }
        }
        if changed {
            self.tell_access(None);
        }
    }

    /// Sends `only` (or every member) what it may do and how the room is
    /// run, each as its role sees it.
    pub fn tell_access(&mut self, only: Option<ClientId>) {
        let present = self.members.clients();
        let targets = only.map_or_else(|| present.clone(), |client| vec![client]);
        let mut frames: HashMap<Role, Option<Bytes>> = HashMap::new();
        for client in targets {
            let role = self.rules.role(client).unwrap_or(Role::Viewer);
            let frame = frames
                .entry(role)
                .or_insert_with(|| {
                    let access = self.rules.access(role, &present);
                    encode_frame(&ServerMessage::Access(access))
                        .map_err(|err| warn!(room = %self.name, %err, "could not encode access"))
                        .ok()
                })
                .clone();
            if let Some(frame) = frame {
                self.members.send_to(client, frame);
            }
        }
    }

    /// Tells the joins and leaves not yet told if they are due, or has the
    /// clock wake the room when they are. Whoever it cuts off is in
    /// `members.take_departed()` for the caller to record, like any
    /// departure; their leaves are news for the next tick.
    pub fn settle_news(&mut self) {
        let now = Instant::now();
        loop {
            match self.members.news_when(now, self.clock.tick()) {
                When::Nothing => break,
                When::Now => self.members.tell_news(now),
                When::At(at) => {
                    self.clock.wake_at(at);
                    break;
                }
            }
        }
    }

    /// Acks an op to its author, if it is still here (if not, its resend after
    /// reconnecting is acked instead).
    fn ack(&mut self, author: ClientId, op: OpId, stamp: Stamp) {
        self.members.credit(author);
        let ack = ServerMessage::Ack {
            op,
            seq: stamp.seq,
            timestamp_ms: stamp.timestamp_ms,
        };
        match encode_frame(&ack) {
            Ok(frame) => self.members.send_to(author, frame),
            Err(err) => warn!(room = %self.name, %err, "could not encode an ack"),
        }
    }
}
