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

use tabula_shared::{ClientId, Presence};

use super::{Peer, Session};
use crate::net::Command;

/// What we show the room, and what of it went out last.
#[derive(Debug, Default)]
pub(super) struct Outgoing {
    /// What we show now; its laser points are those not yet sent.
    shown: Presence,
    /// What the last update said, but for its laser points.
    sent: Presence,
}

impl Outgoing {
    /// The update to send, if anything changed since the last one: the
    /// whole presence with the laser points added since. Once taken, those
    /// points are gone from what is shown.
    fn take_update(&mut self) -> Option<Presence> {
        if self.shown.laser.is_empty() && self.shown == self.sent {
            return None;
        }
        let update = self.shown.clone();
        self.shown.laser.clear();
        self.sent = self.shown.clone();
        Some(update)
    }
}

impl Peer {
    /// Someone who came into the room, showing nothing yet.
    pub(super) fn new(info: tabula_shared::PeerInfo) -> Self {
        Self {
            info,
            presence: Presence::default(),
        }
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
    pub fn set_cursor(&mut self, position: Option<tabula_shared::Point>) {
        self.outgoing.shown.cursor = position;
    }

    /// Hands the network task our presence if it changed since the last
    /// update (once a frame is enough: the task throttles).
    pub fn send_presence(&mut self) {
        let Some(connection) = &self.connection else {
            return;
        };
        if let Some(update) = self.outgoing.take_update() {
            connection.send(Command::Presence(update));
        }
    }

    /// Takes in a peer's latest presence; one beyond the caps is dropped.
    pub(super) fn take_presence(&mut self, client: ClientId, presence: Presence) {
        if let Err(why) = presence.check() {
            tracing::debug!(%client, %why, "a peer's presence beyond the caps; dropped");
            return;
        }
        if let Some(peer) = self.peers.get_mut(&client) {
            peer.presence = presence;
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
