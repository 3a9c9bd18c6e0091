//! The laser pointer: trails that fade, ours and the others', never ops.
//!
//! With the laser tool (K), holding the primary button down on the canvas
//! draws: each frame's pointer position is a point of our trail here and
//! goes to the others in our presence ([`Session::presence_mut`]); their points
//! come back through [`Session::take_laser`]. [`Lasers`] keeps every trail
//! with the time each point was drawn (the frame's time, egui's clock, so
//! that tests drive it), drops points older than [`FADE_SECONDS`], and
//! paints each trail in its person's colour with a bright core, each piece
//! as faint and thin as it is old. It asks for repaints only while a trail
//! is on screen.
//!
//! A peer's points arrive in batches (the relay passes presence on about
//! 30 times a second): a batch's points are spread over the time since
//! their previous batch, so that the trail fades smoothly rather than in
//! steps. A pause of more than [`BREAK_SECONDS`] between two points, or a
//! new press of ours, starts a new piece of trail instead of joining the
//! two.
//!
//! Nothing here is in the board, its log, undo or a file.

use std::collections::{BTreeMap, VecDeque};

use egui::emath::TSTransform;
use egui::{Color32, Painter, Pos2, Stroke};
use tabula_shared::{ClientId, Color, Point};

use crate::canvas::convert::{color32, pos_from_point};
use crate::session::Session;

/// How long a point of a trail shows, in seconds: it fades out over this.
pub const FADE_SECONDS: f64 = 1.2;
/// A pause longer than this between two points of a peer's trail starts a
/// new piece of it.
pub const BREAK_SECONDS: f64 = 0.25;
/// The most points a trail keeps (a fast pointer at 240 Hz for the whole
/// fade).
const MAX_TRAIL_POINTS: usize = 300;
/// The widths of a fresh trail's glow, its colour and its core, in screen
/// points (a trail looks the same at any zoom).
const GLOW_PX: f32 = 16.0;
/// See [`GLOW_PX`].
const INK_PX: f32 = 7.0;
/// See [`GLOW_PX`].
const CORE_PX: f32 = 3.0;

/// One point of a trail.
#[derive(Clone, Copy, Debug, PartialEq)]
struct TrailPoint {
    /// Where, on the canvas.
    at: Point,
    /// When it was drawn, in egui's seconds.
    time: f64,
    /// Whether it starts a new piece (not joined to the point before).
    starts: bool,
}

/// One person's trail.
#[derive(Clone, Debug)]
struct Trail {
    /// Their colour.
    color: Color,
    /// The points, oldest first.
    points: VecDeque<TrailPoint>,
    /// Whether the next point starts a new piece.
    broken: bool,
}

impl Trail {
    /// An empty trail in `color`.
    fn new(color: Color) -> Self {
        Self {
            color,
            points: VecDeque::new(),
            broken: true,
        }
    }

    /// Adds `points`, drawn between the last point and `now` (spread evenly
    /// over that time when it was short, all at `now` after a pause).
    fn extend(&mut self, points: &[Point], now: f64) {
        let last = self.points.back().map(|p| p.time);
        let since = last.map_or(f64::INFINITY, |last| now - last);
        let spread = if since <= BREAK_SECONDS { since } else { 0.0 };
        let starts = self.broken || since > BREAK_SECONDS;
        self.broken = false;
        let count = points.len() as f64;
        for (i, at) in points.iter().enumerate() {
            let time = now - spread * (count - 1.0 - i as f64) / count;
            self.points.push_back(TrailPoint {
                at: *at,
                time,
                starts: starts && i == 0,
            });
        }
        let excess = self.points.len().saturating_sub(MAX_TRAIL_POINTS);
        self.points.drain(..excess);
    }

    /// Drops the points faded by `now`; whether any are left.
    fn fade(&mut self, now: f64) -> bool {
        while self
            .points
            .front()
            .is_some_and(|p| now - p.time >= FADE_SECONDS)
        {
            self.points.pop_front();
            if let Some(next) = self.points.front_mut() {
                next.starts = true;
            }
        }
        !self.points.is_empty()
    }
}

/// Every laser trail on screen: ours and the others'.
#[derive(Debug, Default)]
pub struct Lasers {
    /// Each person's trail, by client.
    trails: BTreeMap<ClientId, Trail>,
    /// Whether our pointer was down with the laser last frame.
    held: bool,
}

impl Lasers {
    /// One frame: our laser (`held` while the primary button is down on the
    /// canvas with the laser tool, `pointer` where it is) draws and goes to
    /// the room; the others' points are taken from the session; faded points
    /// go. Returns whether a trail is left to show (the caller repaints
    /// then).
    pub fn update(
        &mut self,
        session: &mut Session,
        held: bool,
        pointer: Option<Point>,
        now: f64,
    ) -> bool {
        let me = session.me().clone();
        if held && let Some(at) = pointer {
            let trail = self
                .trails
                .entry(me.client)
                .or_insert_with(|| Trail::new(me.color));
            if !self.held {
                trail.broken = true;
            }
            if trail
                .points
                .back()
                .is_none_or(|p| p.at != at || trail.broken)
            {
                trail.extend(&[at], now);
                session.presence_mut().laser.push(at);
            }
        }
        self.held = held && pointer.is_some();
        for (client, points) in session.take_laser() {
            let Some(color) = session
                .peers()
                .find(|peer| peer.info.client == client)
                .map(|peer| peer.info.color)
            else {
                continue;
            };
            self.trails
                .entry(client)
                .or_insert_with(|| Trail::new(color))
                .extend(&points, now);
        }
        self.trails.retain(|_, trail| trail.fade(now));
        !self.trails.is_empty()
    }

    /// Whether any trail is on screen.
    #[must_use]
    pub fn is_visible(&self) -> bool {
        !self.trails.is_empty()
    }

    /// How many points `client`'s trail shows now.
    #[must_use]
    pub fn points_of(&self, client: ClientId) -> usize {
        self.trails.get(&client).map_or(0, |t| t.points.len())
    }

    /// Paints every trail as it looks at `now`.
    pub fn paint(&self, painter: &Painter, screen_from_canvas: TSTransform, now: f64) {
        for trail in self.trails.values() {
            paint_trail(painter, screen_from_canvas, trail, now);
        }
    }
}

/// One trail: each piece between two points as faint and thin as the newer
/// point is old, a glow, the colour, and a white core.
fn paint_trail(painter: &Painter, screen_from_canvas: TSTransform, trail: &Trail, now: f64) {
    let ink = color32(trail.color);
    let to_screen = |p: &TrailPoint| screen_from_canvas * pos_from_point(p.at);
    let mut previous: Option<Pos2> = None;
    for point in &trail.points {
        let at = to_screen(point);
        let life = (1.0 - (now - point.time) / FADE_SECONDS).clamp(0.0, 1.0) as f32;
        let from = if point.starts {
            at
        } else {
            previous.unwrap_or(at)
        };
        previous = Some(at);
        if life <= 0.0 {
            continue;
        }
        let scale = 0.35 + 0.65 * life;
        for (width, color) in [
            (GLOW_PX, ink.gamma_multiply(0.3 * life)),
            (INK_PX, ink.gamma_multiply(life)),
            (CORE_PX, Color32::WHITE.gamma_multiply(life)),
        ] {
            let width = width * scale;
            if from != at {
                painter.line_segment([from, at], Stroke::new(width, color));
            }
            painter.circle_filled(at, width / 2.0, color);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(x: f32) -> Point {
        Point::new(x, 0.0)
    }

    #[test]
    fn a_batch_is_spread_over_the_time_since_the_last_and_fades() {
        let mut trail = Trail::new(Color::rgb(1, 2, 3));
        trail.extend(&[at(0.0)], 10.0);
        trail.extend(&[at(1.0), at(2.0), at(3.0)], 10.03);
        let times: Vec<f64> = trail.points.iter().map(|p| p.time).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
        assert!((times[3] - 10.03).abs() < 1e-9);
        assert!(trail.points.iter().skip(1).all(|p| !p.starts));
        assert!(trail.fade(10.5));
        assert_eq!(trail.points.len(), 4);
        assert!(trail.fade(11.2 + 0.015));
        assert!(trail.points.len() < 4 && trail.points[0].starts);
        assert!(!trail.fade(10.03 + FADE_SECONDS + 1e-6));
    }

    #[test]
    fn a_pause_starts_a_new_piece() {
        let mut trail = Trail::new(Color::rgb(1, 2, 3));
        trail.extend(&[at(0.0), at(1.0)], 1.0);
        trail.extend(&[at(50.0)], 1.0 + BREAK_SECONDS * 2.0);
        let starts: Vec<bool> = trail.points.iter().map(|p| p.starts).collect();
        assert_eq!(starts, [true, false, true]);
    }
}
