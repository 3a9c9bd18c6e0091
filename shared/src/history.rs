//! Undo and redo of one person's own actions, as ordinary ops.
//!
//! Each action a person takes (draw a stroke, move a selection, delete, restyle…)
//! is a group of ops. Before each op is applied, [`Board::inverse`] works out the
//! ops that would put back what it changes, from the board as shown; the group of
//! inverses goes on the undo stack. Undo applies such a group as new local ops
//! (so every peer sees it) and puts *its* inverses on the redo stack, and so on.
//!
//! Undo never removes another person's work: an inverse only ever deletes an
//! object this person created, restores one they deleted, or sets back a
//! property they changed to the value it had just before. If someone else has
//! deleted the object since, the inverse is ignored by every board alike.

use crate::{Board, ClientId, Op};

/// One person's undo and redo stacks.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Groups of ops that undo the latest actions, latest last.
    undo: Vec<Vec<Op>>,
    /// Groups of ops that redo what was undone, latest undo last.
    redo: Vec<Vec<Op>>,
}

impl History {
    /// Empty stacks.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether there is anything to undo.
    #[must_use]
    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    /// Whether there is anything to redo.
    #[must_use]
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Applies `ops` to `board` as one action by `me` and remembers how to undo
    /// it. Returns the ops, to send to the room. Ops that change nothing worth
    /// undoing (a stroke's later points) leave the stacks alone.
    pub fn perform(&mut self, board: &mut Board, me: ClientId, ops: Vec<Op>) -> Vec<Op> {
        let inverse = apply_recording(board, me, &ops);
        if !inverse.is_empty() {
            self.undo.push(inverse);
            self.redo.clear();
        }
        ops
    }

    /// Undoes the latest action still on the stack; returns the ops applied, to
    /// send to the room (none when there is nothing to undo).
    pub fn undo(&mut self, board: &mut Board, me: ClientId) -> Vec<Op> {
        let Some(group) = self.undo.pop() else {
            return Vec::new();
        };
        let inverse = apply_recording(board, me, &group);
        if !inverse.is_empty() {
            self.redo.push(inverse);
        }
        group
    }

    /// Redoes the latest undone action; returns the ops applied, to send.
    pub fn redo(&mut self, board: &mut Board, me: ClientId) -> Vec<Op> {
        let Some(group) = self.redo.pop() else {
            return Vec::new();
        };
        let inverse = apply_recording(board, me, &group);
        if !inverse.is_empty() {
            self.undo.push(inverse);
        }
        group
    }
}

/// Applies `ops` locally, one by one, and returns the ops that undo them all
/// (last op's inverse first).
fn apply_recording(board: &mut Board, me: ClientId, ops: &[Op]) -> Vec<Op> {
    let mut inverse = Vec::new();
    for op in ops {
        let mut undo = board.inverse(&op.kind);
        board.apply_local(me, op.clone());
        undo.append(&mut inverse);
        inverse = undo;
    }
    inverse
}
