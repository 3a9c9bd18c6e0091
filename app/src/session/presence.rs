//! Presence, ours and the others': the one place that keeps what we show the
//! room besides our ops (pointer, view, laser points, a drag in progress,
//! presenting) and decides when it is worth an update, and the one place
//! that takes in each peer's latest.
//!
//! The app and its parts change our [`Presence`] through
//! [`Session::presence_mut`] as things happen, and the app calls
//! [`Session::send_presence`] once a frame: it hands the network task the
//! whole presence if anything in it changed since the last update (laser
//! points are the ones added since then). The task sends at most about 30 a
//! second, folding what comes between ticks into one
//! ([`Presence::absorb`]), and the relay coalesces again.
//!
//! A peer's presence arrives whole and replaces the one before; a presence
//! beyond the caps ([`Presence::check`]) is dropped, as the relay would have.
//! A newcomer's may come before the news of them (the relay passes presence
//! on at once and tells joins a moment later): it waits for that news. Laser
//! points are not a state but a stream: each update's points are queued
//! until the app takes them ([`Session::take_laser`]) to draw their fading
//! trails, so that none is lost when two updates come in one frame and the
//! session keeps no clock; [`Peer::presence`] keeps none.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use tabula_shared::presence::{MAX_LASER_POINTS, Preview};
use tabula_shared::{ClientId, OpId, Point, Presence};

use super::{Peer, Session};
use crate::net::Command;

/// How many of the others' latest ops are remembered by id, for the drags
/// that land as them ([`Session::has_op`]).
const RECENT_OPS: usize = 1024;
/// How long our ended drag's preview is shown while its op is not yet
/// acknowledged: longer, and the op is not coming soon (the link dropped,
/// or the relay refused it).
const LANDING_PATIENCE: Duration = Duration::from_secs(3);

/// What we show the room, and what of it went out last.
#[derive(Debug, Default)]
pub(super) struct Outgoing {
    /// What we show now; its laser points are those not yet sent.
    shown: Presence,
    /// What the last update said, but for its laser points.
    sent: Presence,
    /// The op our ended drag lands as, while the relay has not acknowledged
    /// it, and since when: until then our presence keeps the drag's last
    /// preview, so that the others keep showing it until they have the op.
    landing: Option<(OpId, Instant)>,
}

/// The ids of the latest ops from the room, newest last.
#[derive(Debug, Default)]
pub(super) struct RecentOps(VecDeque<OpId>);

impl RecentOps {
    /// Remembers an op that arrived (forgetting the oldest past
    /// [`RECENT_OPS`]).
    pub(super) fn push(&mut self, op: OpId) {
        if self.0.len() == RECENT_OPS {
            self.0.pop_front();
        }
        self.0.push_back(op);
    }
}

/// The most updates' laser points kept for the app to take: a window that
/// draws no frame for a while (hidden) drops the oldest, which would have
/// faded anyway.
const MAX_QUEUED_LASER: usize = 256;

/// The most presences kept of people the room has not announced yet.
const MAX_STRANGERS: usize = 1_024;

/// What came in of the others' presence and is not a peer's state.
#[derive(Debug, Default)]
pub(super) struct Incoming {
    /// Laser points the app has not taken yet: whose, and the points, per
    /// update, oldest first.
    laser: VecDeque<(ClientId, Vec<Point>)>,
    /// The presence of people the room has not announced yet.
    strangers: HashMap<ClientId, Presence>,
}

impl Incoming {
    /// What `client` showed before they were announced, if anything.
    pub(super) fn adopt(&mut self, client: ClientId) -> Presence {
        self.strangers.remove(&client).unwrap_or_default()
    }

    /// `client` left: what they showed before being announced goes too.
    pub(super) fn forget(&mut self, client: ClientId) {
        self.strangers.remove(&client);
    }
}

impl Outgoing {
    /// The update to send, if anything changed since the last one: the
    /// whole presence with the laser points added since (the newest
    /// [`MAX_LASER_POINTS`]). Once taken, those points are gone from what
    /// is shown.
    fn take_update(&mut self) -> Option<Presence> {
        if self.shown.laser.is_empty() && self.shown == self.sent {
            return None;
        }
        let excess = self.shown.laser.len().saturating_sub(MAX_LASER_POINTS);
        self.shown.laser.drain(..excess);
        let update = self.shown.clone();
        self.shown.laser.clear();
        self.sent = self.shown.clone();
        Some(update)
    }
}

impl Peer {
    /// Someone who came into the room, showing `presence` (what came
    /// before the news of them, if anything).
    pub(super) fn new(info: tabula_shared::PeerInfo, presence: Presence) -> Self {
        Self { info, presence }
    }
}

impl Session {
    /// What we show the room besides our ops, to change it; the change goes
    /// out with the next [`Self::send_presence`].
    pub fn presence_mut(&mut self) -> &mut Presence {
        &mut self.outgoing.shown
    }

    /// What we show the room besides our ops.
    #[must_use]
    pub fn presence(&self) -> &Presence {
        &self.outgoing.shown
    }

    /// Tells the room where our pointer is (`None`: off the canvas), with
    /// the next [`Self::send_presence`].
    pub fn set_cursor(&mut self, position: Option<Point>) {
        self.outgoing.shown.cursor = position;
    }

    /// Hands the network task our presence if it changed since the last
    /// update (once a frame is enough: the task throttles).
    /// With no room, laser points go nowhere and are dropped.
    pub fn send_presence(&mut self) {
        let Some(connection) = &self.connection else {
            self.outgoing.shown.laser.clear();
            return;
        };
        if let Some(update) = self.outgoing.take_update() {
            connection.send(Command::Presence(update));
        }
    }

    /// Shows the room our drag under way (`Some`, its landing op set once it
    /// has ended) or none (`None`): an ended drag's preview stays in our
    /// presence until the relay acknowledges its op (or for a few seconds
    /// at most), so that the others keep showing it until they have the op.
    /// With no room to show, an ended drag shows nothing.
    pub fn show_drag(&mut self, preview: Option<Preview>) {
        let outgoing = &mut self.outgoing;
        match preview {
            Some(preview) if preview.landing.is_some() && self.connection.is_none() => {
                outgoing.landing = None;
                outgoing.shown.preview = None;
            }
            Some(preview) => {
                outgoing.landing = preview.landing.map(|op| (op, Instant::now()));
                outgoing.shown.preview = Some(preview);
            }
            None => {
                let waited = outgoing
                    .landing
                    .is_some_and(|(_, since)| since.elapsed() > LANDING_PATIENCE);
                if outgoing.landing.is_none() || waited {
                    outgoing.landing = None;
                    outgoing.shown.preview = None;
                }
            }
        }
    }

    /// Whether the board has the op `op` from the room, among the latest
    /// [`RECENT_OPS`] (what a peer's ended drag waits for).
    #[must_use]
    pub fn has_op(&self, op: OpId) -> bool {
        self.recent_ops.0.iter().rev().any(|o| *o == op)
    }

    /// An op from the room arrives: remembered by id (a peer's drag may land
    /// as it), and the pictures it shares noted.
    pub(super) fn note_arrival(&mut self, op: &tabula_shared::SequencedOp) -> &mut Self {
        self.recent_ops.push(op.op.id);
        self.note_shared(op)
    }

    /// One of our ops was acknowledged: if our ended drag landed as it, its
    /// preview has done its job.
    pub(super) fn acknowledged(&mut self, op: OpId) {
        if self
            .outgoing
            .landing
            .is_some_and(|(landing, _)| landing == op)
        {
            self.outgoing.landing = None;
            self.outgoing.shown.preview = None;
        }
    }

    /// A new network task knows nothing of what we show: the next
    /// [`Self::send_presence`] tells it all.
    pub(super) fn presence_to_new_connection(&mut self) {
        self.outgoing.sent = Presence::default();
    }

    /// The laser points that came since the last call: whose, and the
    /// points (oldest first), in the order they came.
    pub fn take_laser(&mut self) -> Vec<(ClientId, Vec<Point>)> {
        self.incoming.laser.drain(..).collect()
    }

    /// Takes in a peer's latest presence (one beyond the caps is dropped):
    /// its state replaces theirs, its laser points are queued for the app.
    pub(super) fn take_presence(&mut self, client: ClientId, mut presence: Presence) {
        if client == self.me.client {
            return;
        }
        if let Err(why) = presence.check() {
            tracing::debug!(%client, %why, "a peer's presence beyond the caps; dropped");
            return;
        }
        let laser = std::mem::take(&mut presence.laser);
        if let Some(peer) = self.peers.get_mut(&client) {
            peer.presence = presence;
        } else {
            let strangers = &mut self.incoming.strangers;
            if strangers.len() >= MAX_STRANGERS && !strangers.contains_key(&client) {
                strangers.clear();
            }
            strangers.insert(client, presence);
        }
        if !laser.is_empty() {
            let queued = &mut self.incoming.laser;
            if queued.len() == MAX_QUEUED_LASER {
                queued.pop_front();
            }
            queued.push_back((client, laser));
        }
    }
}

#[cfg(test)]
mod tests {
    use tabula_shared::Point;

    use super::*;

    #[test]
    fn an_update_goes_out_once_per_change_with_the_laser_points_since_the_last() {
        let mut outgoing = Outgoing::default();
        assert_eq!(outgoing.take_update(), None);
        outgoing.shown.cursor = Some(Point::new(1.0, 2.0));
        outgoing.shown.laser.push(Point::new(3.0, 3.0));
        let first = outgoing.take_update().expect("a change");
        assert_eq!(first.cursor, Some(Point::new(1.0, 2.0)));
        assert_eq!(first.laser, vec![Point::new(3.0, 3.0)]);
        assert_eq!(outgoing.take_update(), None, "nothing changed since");
        outgoing.shown.laser.push(Point::new(4.0, 4.0));
        let second = outgoing.take_update().expect("new laser points");
        assert_eq!(second.laser, vec![Point::new(4.0, 4.0)]);
        assert_eq!(second.cursor, first.cursor);
    }
}
