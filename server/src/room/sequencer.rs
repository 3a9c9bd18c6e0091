//! Giving a room's ops their sequence numbers and times, and storing them.
//!
//! A [`Sequencer`] takes a batch of [`Proposal`]s, recognises ops the log
//! already holds (a client's resend after a reconnect) so they are only acked
//! again, stamps each new op with the room's next sequence number and a time
//! that never goes backwards, encodes each **once** into the frame that will be
//! stored, sent and replayed, and appends the batch to the room's log in one
//! transaction. What it hands back, a [`Committed`] batch, says what became of
//! each proposal; the room publishes it (`super::state`). It is the one piece
//! of sequencing code, whether it runs on a writer thread or inline.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tabula_shared::{ClientId, Op, OpId, OpKind, SequencedOp, ServerMessage};
use tracing::{error, trace};

use crate::frame::encode_frame;
use crate::record::Ruling;
use crate::store::{Entry, SharedLog, Stamp};
use crate::sync::lock;

/// An op on its way to the sequencer.
#[derive(Debug)]
pub struct Proposal {
    /// Who proposed it (for a join or a leave, who came or went).
    pub author: ClientId,
    /// The op.
    pub op: Op,
}

impl Proposal {
    /// The record that `client` left.
    pub fn left(client: ClientId) -> Self {
        Self {
            author: client,
            op: Op::new(OpKind::Left),
        }
    }
}

/// Gives a room's ops their sequence numbers and times and stores them.
#[derive(Debug)]
pub struct Sequencer {
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
pub struct Committed {
    /// What became of each proposal, in proposal order.
    pub outcomes: Vec<Outcome>,
    /// The newly sequenced ops, in sequence order.
    pub entries: Vec<Entry>,
    /// Whether the log stored them.
    pub stored: bool,
    /// What the new ops say about how the room is run, in sequence order.
    pub rulings: Vec<Ruling>,
}

/// What became of one proposal in a batch, in proposal order.
pub enum Outcome {
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
    /// The room's store cannot be reached (a cluster node that lost Redis):
    /// the op was not sequenced, and its author is to resend it, here once
    /// the store is back or on another node.
    Unavailable {
        /// Who proposed it.
        author: ClientId,
        /// Why, for the relay's log.
        reason: String,
    },
}

impl Sequencer {
    /// The sequencer of room `room`, carrying on after `last`, the latest stamp
    /// in `log` (`None` for an empty log).
    pub fn new(room: &str, log: SharedLog, last: Option<Stamp>) -> Self {
        Self {
            room: room.to_owned(),
            log,
            head: last.map_or(0, |s| s.seq),
            last_timestamp_ms: last.map_or(0, |s| s.timestamp_ms),
        }
    }

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
    pub fn commit(&mut self, batch: Vec<Proposal>) -> Committed {
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut entries: Vec<Entry> = Vec::with_capacity(batch.len());
        let mut rulings = Vec::new();
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
            let ruling = Ruling::of(author, &op.kind);
            let frame = encode_frame(&ServerMessage::Op(SequencedOp {
                seq: stamp.seq,
                author,
                timestamp_ms: stamp.timestamp_ms,
                op,
            }));
            match frame {
                Ok(frame) => {
                    in_batch.insert(op_id, stamp);
                    rulings.extend(ruling);
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
            rulings,
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

#[cfg(test)]
mod tests {
    use tabula_shared::ServerMessage;

    use crate::room::testing::{next, nothing, op, peer, room};

    #[test]
    fn a_resent_op_is_acked_with_its_first_stamp_and_not_sequenced_again() {
        let room = room();
        let a = peer("a");
        let b = peer("b");
        let mut ma = room.join(a.clone(), 0, true, 16);
        let mut mb = room.join(b.clone(), 0, true, 16);
        next(&mut ma); // Peers(b)
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
}
