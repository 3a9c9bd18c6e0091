//! Bringing a board back to an earlier moment with ordinary ops: what
//! "Restore to here" in a replay sends.
//!
//! Objects are never removed from a board, only deleted (hidden), so every
//! object on the board then is on the board now, perhaps deleted or changed
//! since. [`ops_to_restore`] compares the two: an object on show now that was
//! not then is deleted; one hidden now that was on show then is restored;
//! and every property that differs (where it is, its points, colour, width,
//! fill, text, font size and place in the stack) is set back. Applied as one
//! action, this is a change like any other: everyone sees it, its author can
//! undo it, and the history after that moment stays in the log.

use crate::object::Property;
use crate::{Board, Object, Op, OpKind};

/// The ops that make the board `now` show what `then` showed (`then` being
/// the same board at an earlier op). Empty when they already agree.
#[must_use]
pub fn ops_to_restore(now: &Board, then: &Board) -> Vec<Op> {
    let mut ops = Vec::new();
    // On show now, and not then (made since, or restored since): hidden.
    for object in now.objects() {
        if then.object(object.id).is_none() {
            ops.push(Op::new(OpKind::Delete { object: object.id }));
        }
    }
    // On show then: back on show, as it was.
    for past in then.objects() {
        let Some(present) = now.object_any(past.id) else {
            // Cannot happen for the same board; nothing to restore to.
            continue;
        };
        if present.deleted {
            ops.push(Op::new(OpKind::Restore { object: past.id }));
        }
        for property in changed_properties(present, past) {
            ops.push(Op::new(OpKind::Set {
                object: past.id,
                property,
            }));
        }
    }
    ops
}

/// The properties of `past` that `present` (the same object) no longer has.
fn changed_properties(present: &Object, past: &Object) -> Vec<Property> {
    let (now, then) = (&present.data, &past.data);
    let mut changed = Vec::new();
    if present.offset != past.offset {
        changed.push(Property::Offset(past.offset));
    }
    if now.points != then.points {
        changed.push(Property::Points(then.points.clone()));
    }
    if now.color != then.color {
        changed.push(Property::Color(then.color));
    }
    if now.width.to_bits() != then.width.to_bits() {
        changed.push(Property::Width(then.width));
    }
    if now.fill != then.fill {
        changed.push(Property::Fill(then.fill));
    }
    if now.text != then.text {
        changed.push(Property::Text(then.text.clone()));
    }
    if now.font_size.to_bits() != then.font_size.to_bits() {
        changed.push(Property::FontSize(then.font_size));
    }
    if present.layer != past.layer {
        changed.push(Property::Layer(past.layer));
    }
    changed
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::test_strategies::script;
    use crate::{ClientId, History, SequencedOp};

    /// What a person sees of a board: each object on show, as it looks, in
    /// stacking order (whether a stroke is still being drawn aside).
    fn seen(board: &Board) -> Vec<(crate::ObjectId, crate::ObjectData, crate::Point, i64)> {
        board
            .objects()
            .map(|o| (o.id, o.data.clone(), o.offset, o.layer))
            .collect()
    }

    proptest! {
        #[test]
        fn restoring_to_any_op_shows_the_board_as_it_was_then_and_undo_brings_now_back(
            script in script(),
            cut in 0.0f64..=1.0,
        ) {
            let sequenced: Vec<SequencedOp> = script
                .ops
                .iter()
                .enumerate()
                .map(|(i, (author, op))| SequencedOp {
                    seq: i as u64 + 1,
                    author: script.authors[*author],
                    timestamp_ms: i as u64,
                    op: op.clone(),
                })
                .collect();
            let k = (sequenced.len() as f64 * cut) as usize;
            let then = Board::from_sequenced(&sequenced[..k]);
            let mut now = Board::from_sequenced(&sequenced);
            let before = seen(&now);

            let restorer = ClientId::random();
            let mut history = History::new();
            let ops = ops_to_restore(&now, &then);
            history.perform(&mut now, restorer, ops);
            prop_assert_eq!(seen(&now), seen(&then));
            prop_assert!(ops_to_restore(&now, &then).is_empty(), "nothing left to restore");

            history.undo(&mut now, restorer);
            prop_assert_eq!(seen(&now), before, "undo brings the board back to now");
        }
    }
}
