//! The members of a room on other nodes, as this node knows them from the
//! room's bus: their joins and leaves, and every node's heartbeat (sent every
//! `task::LOOK_EVERY` while it has members in the room). Never stored: a
//! node that stops being heard for [`QUIET_AFTER`] (it died, or lost Redis)
//! is taken to have lost its members, and this node's members are told they
//! left.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tabula_shared::{ClientId, PeerInfo};
use uuid::Uuid;

use crate::sync::lock;

/// How long a node may go unheard before its members are taken as gone.
pub const QUIET_AFTER: Duration = Duration::from_secs(5);

/// The members of one room on other nodes.
#[derive(Debug)]
pub struct Remote {
    /// This node, never among the others.
    me: Uuid,
    /// Each member elsewhere, with its node. A leaf lock.
    peers: Mutex<HashMap<ClientId, (Uuid, PeerInfo)>>,
    /// When each other node was last heard. A leaf lock.
    heard: Mutex<HashMap<Uuid, Instant>>,
}

impl Remote {
    /// Nobody elsewhere yet, as node `me` sees it.
    pub fn new(me: Uuid) -> Self {
        Self {
            me,
            peers: Mutex::new(HashMap::new()),
            heard: Mutex::new(HashMap::new()),
        }
    }

    /// Node `node` was heard from; `true` if it had not been (or had gone
    /// quiet).
    pub fn heard(&self, node: Uuid) -> bool {
        node != self.me && lock(&self.heard).insert(node, Instant::now()).is_none()
    }

    /// `info` is in the room on `node`; `true` if that is news.
    pub fn joined(&self, node: Uuid, info: &PeerInfo) -> bool {
        let known = lock(&self.peers).insert(info.client, (node, info.clone()));
        known.is_none_or(|(was, before)| was != node || before != *info)
    }

    /// `client` left the room on `node`; `true` if it was known there.
    pub fn left(&self, node: Uuid, client: ClientId) -> bool {
        let mut peers = lock(&self.peers);
        if peers.get(&client).is_some_and(|(on, _)| *on == node) {
            peers.remove(&client);
            true
        } else {
            false
        }
    }

    /// Everyone in the room on other nodes.
    pub fn peers(&self) -> Vec<PeerInfo> {
        lock(&self.peers)
            .values()
            .map(|(_, info)| info.clone())
            .collect()
    }

    /// How many are in the room on other nodes, leaving out those `skip`
    /// names.
    pub fn count(&self, skip: impl Fn(ClientId) -> bool) -> usize {
        lock(&self.peers)
            .keys()
            .filter(|client| !skip(**client))
            .count()
    }

    /// Forgets the nodes not heard from for [`QUIET_AFTER`], and returns
    /// their members.
    pub fn expire(&self) -> Vec<ClientId> {
        let quiet: Vec<Uuid> = {
            let mut heard = lock(&self.heard);
            let quiet: Vec<Uuid> = heard
                .iter()
                .filter(|(_, at)| at.elapsed() >= QUIET_AFTER)
                .map(|(node, _)| *node)
                .collect();
            for node in &quiet {
                heard.remove(node);
            }
            quiet
        };
        if quiet.is_empty() {
            return Vec::new();
        }
        let mut peers = lock(&self.peers);
        let gone: Vec<ClientId> = peers
            .iter()
            .filter(|(_, (node, _))| quiet.contains(node))
            .map(|(client, _)| *client)
            .collect();
        for client in &gone {
            peers.remove(client);
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use tabula_shared::Color;

    use super::*;

    fn peer(name: &str) -> PeerInfo {
        PeerInfo {
            client: ClientId::random(),
            name: name.to_owned(),
            color: Color::rgb(1, 2, 3),
        }
    }

    #[test]
    fn members_elsewhere_come_and_go_by_their_node() {
        let me = Uuid::new_v4();
        let other = Uuid::new_v4();
        let remote = Remote::new(me);
        assert!(!remote.heard(me), "never itself");
        assert!(remote.heard(other));
        assert!(!remote.heard(other));
        let ada = peer("ada");
        assert!(remote.joined(other, &ada));
        assert!(!remote.joined(other, &ada), "told twice");
        assert_eq!(remote.peers(), vec![ada.clone()]);
        assert!(
            !remote.left(Uuid::new_v4(), ada.client),
            "not from another node"
        );
        assert!(remote.left(other, ada.client));
        assert!(remote.peers().is_empty());
        assert!(remote.joined(other, &ada));
        assert!(remote.expire().is_empty(), "heard just now");
        lock(&remote.heard).insert(
            other,
            Instant::now()
                .checked_sub(QUIET_AFTER)
                .expect("a machine up for more than 5 s"),
        );
        assert_eq!(remote.expire(), vec![ada.client]);
        assert!(remote.peers().is_empty());
        assert!(remote.heard(other), "heard again: news");
    }
}
