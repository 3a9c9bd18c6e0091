//! What a person shows the others besides their ops, and never stores: where
//! their pointer is, the part of the canvas they are looking at, their laser
//! pointer's trail, what they are dragging before they let go, and whether
//! they ask everyone to follow them.
//!
//! A client sends its [`Presence`] whole each time something in it changes
//! ([`ClientMessage::Presence`](crate::ClientMessage::Presence)); the relay
//! passes each sender's latest on at most a few dozen times a second, keeps
//! it for whoever joins later, and never logs it. Every field but
//! [`Presence::laser`] is a state (the latest one wins, so a dropped update
//! costs nothing); the laser's points are the ones drawn since the sender's
//! previous update, which the relay gathers while it holds an update back.
//!
//! A preview is what a drag would do if it ended now (objects moved, a
//! shape's new points, a new shape); once the drag ends, its last preview
//! names the op that makes it real ([`Preview::landing`]), so that a peer
//! keeps showing it until that op has arrived: the op and the presence
//! travel apart, and either may come first.
//!
//! The caps below bound what one update can make a peer draw; every peer
//! checks them ([`Presence::check`]), and the relay drops an update beyond
//! them.

use serde::{Deserialize, Serialize};

use crate::caps::{self, Malformed};
use crate::{ObjectData, ObjectId, OpId, Point, Rect};

/// The most laser points one update carries: the points drawn since the
/// previous one (a fast hand at 120 Hz between two updates a thirtieth of a
/// second apart draws four).
pub const MAX_LASER_POINTS: usize = 64;

/// The most objects a move preview lists. A drag of more shows the others
/// moving only once it ends; at 17 bytes an object, an update stays under
/// 20 KiB.
pub const MAX_PREVIEW_OBJECTS: usize = 1_000;

/// The most points of a shape or a reshaped object in a preview: a line,
/// an arrow, a rectangle and an ellipse take two.
pub const MAX_PREVIEW_POINTS: usize = 64;

/// What one person shows the others right now.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Presence {
    /// Where their pointer is on the canvas; `None` when it is off the canvas.
    pub cursor: Option<Point>,
    /// The part of the canvas their window shows, for whoever follows them;
    /// `None` until they have one.
    pub view: Option<Rect>,
    /// Their laser pointer's points since their previous update, oldest
    /// first; each peer draws them as a trail that fades.
    pub laser: Vec<Point>,
    /// What they are dragging, before it is an op.
    pub preview: Option<Preview>,
    /// Whether they ask everyone to follow their view (a presenter); each
    /// person may stop following.
    pub presenting: bool,
}

/// A drag shown before it ends, and how it ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preview {
    /// What the drag does.
    pub change: Change,
    /// Set once the drag has ended: the id of the last op it proposed. A peer
    /// shows the preview until it has that op (or for a few seconds at most),
    /// so the object never jumps back while the op is on its way.
    pub landing: Option<OpId>,
}

/// What a dragged preview changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Change {
    /// These objects shown moved by `by` from where they are.
    Move {
        /// The objects (at most [`MAX_PREVIEW_OBJECTS`]).
        objects: Vec<ObjectId>,
        /// How far, in canvas units.
        by: Point,
    },
    /// One object shown with these points (a handle being dragged).
    Reshape {
        /// The object.
        object: ObjectId,
        /// Its new points, in its own frame (before its offset), as
        /// [`Property::Points`](crate::Property::Points) would set them.
        points: Vec<Point>,
    },
    /// A shape being dragged out, as it would be made now.
    Shape(ObjectData),
}

impl Presence {
    /// Whether everything in it is within the caps: points are numbers within
    /// [`caps::MAX_COORDINATE`], at most [`MAX_LASER_POINTS`] laser points,
    /// a preview within [`MAX_PREVIEW_OBJECTS`] and [`MAX_PREVIEW_POINTS`].
    pub fn check(&self) -> Result<(), Malformed> {
        if let Some(cursor) = self.cursor {
            caps::check_point(cursor)?;
        }
        if let Some(view) = self.view {
            caps::check_point(view.min)?;
            caps::check_point(view.max)?;
        }
        check_count(self.laser.len(), MAX_LASER_POINTS)?;
        self.laser.iter().try_for_each(|p| caps::check_point(*p))?;
        match self.preview.as_ref().map(|p| &p.change) {
            None => Ok(()),
            Some(Change::Move { objects, by }) => {
                check_count(objects.len(), MAX_PREVIEW_OBJECTS)?;
                caps::check_point(*by)
            }
            Some(Change::Reshape { points, .. }) => {
                check_count(points.len(), MAX_PREVIEW_POINTS)?;
                caps::check_points(points)
            }
            Some(Change::Shape(data)) => {
                check_count(data.points.len(), MAX_PREVIEW_POINTS)?;
                data.check()
            }
        }
    }

    /// Takes in `newer`, an update that came before this one was passed on:
    /// its state replaces this one's, and its laser points follow this
    /// one's (the newest [`MAX_LASER_POINTS`] are kept).
    pub fn absorb(&mut self, newer: Self) {
        let mut laser = std::mem::take(&mut self.laser);
        laser.extend(newer.laser.iter().copied());
        let excess = laser.len().saturating_sub(MAX_LASER_POINTS);
        laser.drain(..excess);
        *self = Self { laser, ..newer };
    }

    /// This presence without its laser points: what a peer who arrives
    /// later is shown (the trail they would get has faded).
    #[must_use]
    pub fn lasting(&self) -> Self {
        Self {
            laser: Vec::new(),
            ..self.clone()
        }
    }
}

/// Whether `count` things are at most `max`.
fn check_count(count: usize, max: usize) -> Result<(), Malformed> {
    if count <= max {
        Ok(())
    } else {
        Err(Malformed::TooManyPoints { count, max })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Color, ObjectKind, encode};

    fn laser(n: usize) -> Vec<Point> {
        (0..n).map(|i| Point::new(i as f32, 0.0)).collect()
    }

    #[test]
    fn presences_beyond_the_caps_are_refused() {
        assert_eq!(Presence::default().check(), Ok(()));
        let far = Point::new(f32::NAN, 0.0);
        for bad in [
            Presence {
                cursor: Some(far),
                ..Presence::default()
            },
            Presence {
                view: Some(Rect::from_point(far)),
                ..Presence::default()
            },
            Presence {
                laser: laser(MAX_LASER_POINTS + 1),
                ..Presence::default()
            },
            Presence {
                preview: Some(Preview {
                    change: Change::Move {
                        objects: vec![ObjectId::random(); MAX_PREVIEW_OBJECTS + 1],
                        by: Point::new(1.0, 1.0),
                    },
                    landing: None,
                }),
                ..Presence::default()
            },
            Presence {
                preview: Some(Preview {
                    change: Change::Shape(ObjectData {
                        kind: ObjectKind::Freehand,
                        points: laser(MAX_PREVIEW_POINTS + 1),
                        color: Color::rgb(0, 0, 0),
                        width: 2.0,
                        fill: crate::Fill::None,
                        text: String::new(),
                        font_size: 24.0,
                    }),
                    landing: None,
                }),
                ..Presence::default()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_largest_presence_fits_a_frame_with_room_to_spare() {
        let largest = Presence {
            cursor: Some(Point::new(1.0, 2.0)),
            view: Some(Rect::from_point(Point::new(1.0, 2.0))),
            laser: laser(MAX_LASER_POINTS),
            preview: Some(Preview {
                change: Change::Move {
                    objects: vec![ObjectId::random(); MAX_PREVIEW_OBJECTS],
                    by: Point::new(1.0, 1.0),
                },
                landing: Some(OpId::random()),
            }),
            presenting: true,
        };
        assert_eq!(largest.check(), Ok(()));
        let frame = encode(&crate::ClientMessage::Presence(largest)).unwrap();
        assert!(frame.len() < 20 * 1024, "{} bytes", frame.len());
    }

    #[test]
    fn an_update_held_back_takes_in_the_next_keeping_both_trails() {
        let mut held = Presence {
            cursor: Some(Point::new(1.0, 1.0)),
            laser: laser(3),
            ..Presence::default()
        };
        held.absorb(Presence {
            cursor: Some(Point::new(5.0, 5.0)),
            laser: vec![Point::new(9.0, 9.0)],
            presenting: true,
            ..Presence::default()
        });
        assert_eq!(held.cursor, Some(Point::new(5.0, 5.0)));
        assert!(held.presenting);
        assert_eq!(held.laser.len(), 4);
        assert_eq!(held.laser[3], Point::new(9.0, 9.0));
        held.absorb(Presence {
            laser: laser(MAX_LASER_POINTS - 1),
            ..Presence::default()
        });
        assert_eq!(held.laser.len(), MAX_LASER_POINTS);
        assert_eq!(held.laser[0], Point::new(9.0, 9.0), "the newest are kept");
        assert!(held.lasting().laser.is_empty());
        assert_eq!(held.lasting().cursor, held.cursor);
    }
}
