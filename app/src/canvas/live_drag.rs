//! Our drag as the others see it before it ends: the [`Change`] a move of
//! the selection, a handle being dragged or a shape being dragged out would
//! make if it ended now, and, on the frame it ends, the op that makes it
//! real ([`Preview::landing`]). The canvas reports it with each frame's
//! input ([`super::CanvasInput::preview`]); the app hands it to the session,
//! which shows it to the room as part of our presence.
//!
//! A pen or highlighter stroke needs none: it streams to the others as ops
//! while it is drawn. The eraser's sweep is not shown until it ends.

use tabula_shared::presence::{Change, MAX_PREVIEW_OBJECTS, Preview};
use tabula_shared::{Board, Op, OpKind, Property};

use super::Canvas;
use super::convert::point_from_pos;
use super::gesture::{Gesture, constrain};
use super::selection;

/// A shape dragged out shorter than this on screen is taken for a stray
/// click (and makes nothing).
pub const MIN_SHAPE_PX: f32 = 3.0;
/// A move shorter than this on screen is taken for a click (and moves
/// nothing).
pub const MIN_MOVE_PX: f32 = 1.0;

impl Canvas {
    /// What the drag under way would change if it ended now, as the others
    /// are shown it; `None` when nothing held shows anything (or a move of
    /// more than [`MAX_PREVIEW_OBJECTS`], which they see once it ends).
    #[must_use]
    pub fn drag_change(&self, board: &Board) -> Option<Change> {
        let zoom = self.camera.zoom;
        match self.gesture {
            Gesture::Shape { kind, from, to } => {
                let to = constrain(kind, from, to, self.shift);
                (from.distance(to) * zoom >= MIN_SHAPE_PX).then(|| {
                    Change::Shape(
                        self.tools
                            .shape(kind, point_from_pos(from), point_from_pos(to)),
                    )
                })
            }
            Gesture::Moving { from, to } => {
                if from.distance(to) * zoom < MIN_MOVE_PX {
                    return None;
                }
                let objects: Vec<_> = self.selection.objects(board).map(|o| o.id).collect();
                (!objects.is_empty() && objects.len() <= MAX_PREVIEW_OBJECTS).then(|| {
                    Change::Move {
                        objects,
                        by: point_from_pos((to - from).to_pos2()),
                    }
                })
            }
            Gesture::Resizing { object, handle, to } => {
                let o = board.object(object)?;
                match selection::resize(o, handle, point_from_pos(to), self.shift).kind {
                    OpKind::Set {
                        property: Property::Points(points),
                        ..
                    } => Some(Change::Reshape { object, points }),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Remembers, as a drag that showed a change ends, the change it made
    /// and the op that makes it real (the last of `action`), for this
    /// frame's [`super::CanvasInput::preview`].
    pub(super) fn land(&mut self, change: Option<Change>, action: &[Op]) {
        self.landed = change.zip(action.last()).map(|(change, op)| Preview {
            change,
            landing: Some(op.id),
        });
    }

    /// This frame's preview: the drag that ended this frame with its
    /// landing op, or the one under way.
    pub(super) fn take_preview(&mut self, board: &Board) -> Option<Preview> {
        self.landed.take().or_else(|| {
            self.drag_change(board).map(|change| Preview {
                change,
                landing: None,
            })
        })
    }

    /// Lets go of a move, a resize or a shape being dragged out without
    /// making anything (Escape): `true` if one was under way.
    pub(super) fn cancel_drag(&mut self) -> bool {
        let cancels = matches!(
            self.gesture,
            Gesture::Shape { .. } | Gesture::Moving { .. } | Gesture::Resizing { .. }
        );
        if cancels {
            self.gesture = Gesture::Idle;
        }
        cancels
    }
}
