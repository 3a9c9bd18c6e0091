//! Who was in a session and when: a [`Participant`] per person, their
//! [`Visit`]s from the joins and leaves the relay recorded (or, where none
//! was, from their first op to their last); see the module docs of
//! [`crate::replay`].

use crate::{ClientId, Color, OpKind, SequencedOp};

/// One person in a session: who, when they were there, how much they did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant {
    /// Who.
    pub author: ClientId,
    /// The name and colour they joined with last, `None` if the ops never
    /// recorded them joining.
    pub identity: Option<(String, Color)>,
    /// Their time in the room, in order; see the module docs.
    pub visits: Vec<Visit>,
    /// How many ops they made (joins and leaves not counted).
    pub ops: u64,
}

/// One stay of one person in the room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Visit {
    /// The op that recorded them joining (or, if none did, their first op).
    pub joined: u64,
    /// The op that recorded them leaving (or, if no join was recorded, their
    /// last op); `None` while they are still there at the end of the ops.
    pub left: Option<u64>,
}

impl Participant {
    /// Someone not seen yet.
    pub(super) fn new(author: ClientId) -> Self {
        Self {
            author,
            identity: None,
            visits: Vec::new(),
            ops: 0,
        }
    }

    /// Takes in `op`, which is theirs.
    pub(super) fn record(&mut self, op: &SequencedOp) {
        let open = self.visits.last().is_some_and(|v| v.left.is_none());
        match &op.op.kind {
            OpKind::Joined { name, color } => {
                if self.identity.is_none() {
                    // Stand-in visits from their ops give way to recorded ones.
                    self.visits.clear();
                }
                self.identity = Some((name.clone(), *color));
                if !open {
                    self.visits.push(Visit {
                        joined: op.seq,
                        left: None,
                    });
                }
            }
            OpKind::Left => {
                if let Some(visit) = self.visits.last_mut().filter(|v| v.left.is_none()) {
                    visit.left = Some(op.seq);
                }
            }
            // What an operator did: in `Replay::moderation`, not their ops.
            OpKind::Moderated(_) => {}
            _ => {
                self.ops += 1;
                match (self.identity.is_some(), self.visits.last_mut()) {
                    // Only ops stand for their stay: it lasts to this one.
                    (false, Some(visit)) => visit.left = Some(op.seq),
                    // Here, as recorded.
                    (true, Some(Visit { left: None, .. })) => {}
                    // First seen, or acting without a recorded join.
                    (recorded, _) => self.visits.push(Visit {
                        joined: op.seq,
                        left: (!recorded).then_some(op.seq),
                    }),
                }
            }
        }
    }
}
