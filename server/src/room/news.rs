//! Who came and who went, told to a room's members in batches.
//!
//! Every join and leave used to reach every member as a message of its own,
//! so a room of `n` filling up put `n²` messages through its members'
//! queues (two thousand joins: four million, each member writing two
//! thousand). [`PeerNews`] gathers a room's joins and leaves instead, one
//! entry per client (what happened to it last), and they are told in one
//! [`ServerMessage::Peers`] per [`TICK`]: the first change after a quiet tick
//! at once (so a lone join is seen at once), the changes that follow it
//! within the tick together when the tick ends.
//!
//! The tick's end is kept by a [`NewsClock`]: a task on the relay's runtime
//! that wakes the room then (see `Room::tell_news`). A room opened outside a
//! runtime (the room's unit tests) has no clock and tells every change at
//! once.

use std::collections::HashMap;
use std::sync::Weak;
use std::time::{Duration, Instant};

use tabula_shared::{ClientId, PeerInfo, ServerMessage};

use super::Room;

/// How long a room gathers joins and leaves before it tells them.
pub const TICK: Duration = Duration::from_millis(100);

/// The most peers one [`ServerMessage::Peers`] lists: the welcome's share
/// and every batch after it stay a few KiB (a peer takes 30 to 160 bytes),
/// so no member's write buffer grows with the room.
pub const PEERS_PER_MESSAGE: usize = 100;

/// A room's joins and leaves not yet told.
#[derive(Debug, Default)]
pub struct PeerNews {
    /// Each client that came or went, and what happened last: `Some` came
    /// (or came back, or changed its name), `None` went.
    pending: HashMap<ClientId, Option<PeerInfo>>,
    /// When the room last told any.
    last_told: Option<Instant>,
    /// Whether the clock will wake the room to tell what is pending.
    scheduled: bool,
}

/// What to do about the news (see [`PeerNews::when`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// Nothing to tell, or the clock already will.
    Nothing,
    /// Tell it now.
    Now,
    /// Have the clock wake the room then.
    At(Instant),
}

impl PeerNews {
    /// `peer` came into the room (or came back).
    pub fn joined(&mut self, peer: PeerInfo) {
        self.pending.insert(peer.client, Some(peer));
    }

    /// `client` left the room.
    pub fn left(&mut self, client: ClientId) {
        self.pending.insert(client, None);
    }

    /// Whether anything waits to be told.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// What to do about the news at `now`, with ticks of `tick`: tell it
    /// now when the last news was told a tick ago or more, else have the
    /// clock wake the room when that tick ends (once: the clock is then
    /// counted on until [`PeerNews::woken`]).
    pub fn when(&mut self, now: Instant, tick: Duration) -> When {
        if self.pending.is_empty() || self.scheduled {
            return When::Nothing;
        }
        match self.last_told.map(|at| at + tick) {
            Some(due) if due > now => {
                self.scheduled = true;
                When::At(due)
            }
            _ => When::Now,
        }
    }

    /// The clock woke the room: what is pending is due.
    pub fn woken(&mut self) {
        self.scheduled = false;
    }

    /// Takes what is pending, as messages of at most [`PEERS_PER_MESSAGE`]
    /// peers each (usually one), and notes that the room told it at `now`.
    pub fn take(&mut self, now: Instant) -> Vec<ServerMessage> {
        self.last_told = Some(now);
        let mut joined = Vec::new();
        let mut left = Vec::new();
        for (client, news) in self.pending.drain() {
            match news {
                Some(peer) => joined.push(peer),
                None => left.push(client),
            }
        }
        peers_messages(joined, left)
    }
}

/// `joined` and `left` as [`ServerMessage::Peers`] messages of at most
/// [`PEERS_PER_MESSAGE`] peers each; none for nothing.
pub fn peers_messages(joined: Vec<PeerInfo>, left: Vec<ClientId>) -> Vec<ServerMessage> {
    let mut messages = Vec::new();
    let mut joined = joined.into_iter().peekable();
    let mut left = left.into_iter().peekable();
    while joined.peek().is_some() || left.peek().is_some() {
        let joined: Vec<PeerInfo> = joined.by_ref().take(PEERS_PER_MESSAGE).collect();
        let left: Vec<ClientId> = left
            .by_ref()
            .take(PEERS_PER_MESSAGE - joined.len())
            .collect();
        messages.push(ServerMessage::Peers { joined, left });
    }
    messages
}

/// Wakes a room when its tick of news ends.
#[derive(Debug, Clone)]
pub struct NewsClock {
    /// The runtime the waking task runs on; `None` for a room opened outside
    /// one, which tells its news at once.
    runtime: Option<tokio::runtime::Handle>,
    /// The room to wake; the task ends quietly if it has gone meanwhile.
    room: Weak<Room>,
}

impl NewsClock {
    /// A clock for `room` on the runtime the caller runs on, if any.
    pub fn for_room(room: Weak<Room>) -> Self {
        Self {
            runtime: tokio::runtime::Handle::try_current().ok(),
            room,
        }
    }

    /// How long the room gathers news: [`TICK`], or nothing without a
    /// runtime to wake it.
    pub fn tick(&self) -> Duration {
        if self.runtime.is_some() {
            TICK
        } else {
            Duration::ZERO
        }
    }

    /// Has the room told its news at `at`.
    pub fn wake_at(&self, at: Instant) {
        let Some(runtime) = &self.runtime else {
            return;
        };
        let room = Weak::clone(&self.room);
        runtime.spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            if let Some(room) = room.upgrade() {
                room.tell_news();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use tabula_shared::Color;

    use super::*;

    fn peer(n: u8) -> PeerInfo {
        PeerInfo {
            client: ClientId::random(),
            name: format!("p{n}"),
            color: Color::rgb(n, n, n),
        }
    }

    #[test]
    fn the_first_change_is_told_at_once_and_the_rest_of_the_tick_together() {
        let tick = Duration::from_millis(100);
        let start = Instant::now();
        let mut news = PeerNews::default();
        assert_eq!(news.when(start, tick), When::Nothing);
        let (a, b, c) = (peer(1), peer(2), peer(3));
        news.joined(a.clone());
        assert_eq!(news.when(start, tick), When::Now);
        assert_eq!(
            news.take(start),
            vec![ServerMessage::Peers {
                joined: vec![a.clone()],
                left: vec![]
            }]
        );
        news.joined(b.clone());
        news.left(a.client);
        news.joined(c.clone());
        news.left(c.client);
        let later = start + tick / 2;
        assert_eq!(news.when(later, tick), When::At(start + tick));
        assert_eq!(news.when(later, tick), When::Nothing, "scheduled once");
        news.woken();
        assert_eq!(news.when(start + tick, tick), When::Now);
        let [ServerMessage::Peers { joined, left }] = &news.take(start + tick)[..] else {
            panic!("one message");
        };
        let mut left = left.clone();
        left.sort_unstable();
        let mut gone = vec![a.client, c.client];
        gone.sort_unstable();
        assert_eq!((joined.clone(), left), (vec![b], gone));
        assert!(news.is_empty());
        assert_eq!(news.when(start + tick * 3, tick), When::Nothing);
    }

    #[test]
    fn without_a_tick_everything_is_told_at_once() {
        let mut news = PeerNews::default();
        let now = Instant::now();
        for n in 0..3 {
            news.joined(peer(n));
            assert_eq!(news.when(now, Duration::ZERO), When::Now);
            assert_eq!(news.take(now).len(), 1);
        }
    }

    #[test]
    fn many_peers_are_told_in_messages_of_a_bounded_size() {
        let joined: Vec<PeerInfo> = (0..250).map(|n| peer(n as u8)).collect();
        let left: Vec<ClientId> = (0..30).map(|_| ClientId::random()).collect();
        let messages = peers_messages(joined.clone(), left.clone());
        assert_eq!(messages.len(), 3);
        let (mut told_joined, mut told_left) = (Vec::new(), Vec::new());
        for message in messages {
            let ServerMessage::Peers { joined, left } = message else {
                panic!("{message:?}");
            };
            assert!(joined.len() + left.len() <= PEERS_PER_MESSAGE);
            told_joined.extend(joined);
            told_left.extend(left);
        }
        assert_eq!((told_joined, told_left), (joined, left));
        assert!(peers_messages(Vec::new(), Vec::new()).is_empty());
    }
}
