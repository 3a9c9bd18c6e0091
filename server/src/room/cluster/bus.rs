//! The node's pub/sub connection to Redis, and what travels on a room's bus
//! (`tabula:{ROOM}:bus`).
//!
//! A message is one byte saying what it is, then:
//!
//! | byte | what | then |
//! |---|---|---|
//! | `n` | a notice: the room's head moved (published by the sequencing script) | the head, in decimal |
//! | `j`, `l`, `c` | a member's join, leave or presence on another node | that node's id (16 bytes), the `PeerJoined`, `PeerLeft` or `Presence` frame (joins and leaves are told to the members here as the tick's `Peers` news) |
//! | `h` | a heartbeat: that node has members in the room | the node's id |
//! | `r` | a node that just opened the room asks who is in it | the node's id |
//!
//! [`run`] keeps one pub/sub connection for the node, subscribed to the bus
//! of every room open here, and hands each message to its room's task. When
//! the connection drops it reconnects (backing off up to
//! [`MAX_BACKOFF`]), subscribes again, and has every room look at its head
//! ([`Message::Resync`]): notices published meanwhile are lost, the ops they
//! announced are not.

use std::collections::HashSet;
use std::sync::Weak;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::mpsc;
use tracing::{info, warn};
use uuid::Uuid;

use super::Node;
use super::task::Message;
use crate::store::redis::key;

/// The longest pause between two attempts to reach Redis.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A change to what the node is subscribed to.
#[derive(Debug)]
pub enum Change {
    /// A room opened on this node.
    Subscribe(String),
    /// A room closed on this node.
    Unsubscribe(String),
}

/// Room `room`'s bus channel.
pub fn channel(room: &str) -> String {
    key(room, "bus")
}

/// The room a bus channel belongs to.
fn room_of(channel: &str) -> Option<&str> {
    channel.strip_prefix("tabula:{")?.strip_suffix("}:bus")
}

/// A member's join, leave or presence (`kind` `j`, `l`, `c`) on node `node`.
pub fn presence(kind: u8, node: Uuid, frame: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(17 + frame.len());
    message.push(kind);
    message.extend_from_slice(node.as_bytes());
    message.extend_from_slice(frame);
    message
}

/// Node `node` has members in the room.
pub fn heartbeat(node: Uuid) -> Vec<u8> {
    presence(b'h', node, &[])
}

/// Node `node` asks who is in the room.
pub fn roster_request(node: Uuid) -> Vec<u8> {
    presence(b'r', node, &[])
}

/// A message on a room's bus, read.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// The head moved to this.
    Notice(u64),
    /// A member's join, leave or presence on another node.
    Presence {
        /// `j`, `l` or `c`.
        kind: u8,
        /// The node.
        node: Uuid,
        /// The frame.
        frame: &'a [u8],
    },
    /// A node with members in the room.
    Heartbeat(Uuid),
    /// A node asking who is in the room.
    RosterRequest(Uuid),
}

/// Reads a bus message; `None` for anything else.
pub fn parse(payload: &[u8]) -> Option<Parsed<'_>> {
    let (&kind, rest) = payload.split_first()?;
    if kind == b'n' {
        return std::str::from_utf8(rest)
            .ok()?
            .parse()
            .ok()
            .map(Parsed::Notice);
    }
    let node = Uuid::from_slice(rest.get(..16)?).ok()?;
    let frame = &rest[16..];
    match kind {
        b'j' | b'l' | b'c' => Some(Parsed::Presence { kind, node, frame }),
        b'h' => Some(Parsed::Heartbeat(node)),
        b'r' => Some(Parsed::RosterRequest(node)),
        _ => None,
    }
}

/// The node's bus connection, until the node is gone (its end of `changes`
/// is dropped with it).
pub async fn run(node: Weak<Node>, mut changes: mpsc::UnboundedReceiver<Change>) {
    let mut rooms: HashSet<String> = HashSet::new();
    let mut backoff = Duration::from_millis(50);
    let mut was_lost = false;
    loop {
        let Some(strong) = node.upgrade() else {
            return;
        };
        let connected = strong.redis.client().get_async_pubsub().await;
        let address = strong.redis.address().to_owned();
        drop(strong);
        let pubsub = match connected {
            Ok(pubsub) => pubsub,
            Err(err) => {
                if !was_lost {
                    warn!(redis = %address, %err, "cannot reach Redis for the rooms' buses; trying again");
                    was_lost = true;
                }
                // Meanwhile, what to subscribe to once it is back.
                let wait = tokio::time::sleep(backoff);
                tokio::pin!(wait);
                loop {
                    tokio::select! {
                        () = &mut wait => break,
                        change = changes.recv() => match change {
                            Some(change) => apply(&mut rooms, change),
                            None => return,
                        },
                    }
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_millis(50);
        let (mut sink, mut stream) = pubsub.split();
        let mut subscribed = true;
        for room in &rooms {
            if sink.subscribe(channel(room)).await.is_err() {
                subscribed = false;
                break;
            }
        }
        if !subscribed {
            continue;
        }
        if was_lost {
            info!(redis = %address, "reached Redis again: the rooms' buses are back");
        }
        // Every room looks at its head: notices may have been missed.
        if let Some(strong) = node.upgrade() {
            for (_, inbox) in strong.open_rooms() {
                inbox.send(Message::Resync);
            }
        }
        loop {
            tokio::select! {
                change = changes.recv() => {
                    let Some(change) = change else { return };
                    let result = match &change {
                        Change::Subscribe(room) => sink.subscribe(channel(room)).await,
                        Change::Unsubscribe(room) => sink.unsubscribe(channel(room)).await,
                    };
                    apply(&mut rooms, change);
                    if result.is_err() {
                        break;
                    }
                }
                message = stream.next() => {
                    let Some(message) = message else { break };
                    let Some(strong) = node.upgrade() else { return };
                    if let Some(inbox) = room_of(message.get_channel_name()).and_then(|room| strong.room(room)) {
                        inbox.send(Message::Bus(message.get_payload_bytes().to_vec()));
                    }
                }
            }
        }
        warn!(redis = %address, "lost the connection to Redis for the rooms' buses; reconnecting");
        was_lost = true;
    }
}

/// Notes a change in what the node should be subscribed to.
fn apply(rooms: &mut HashSet<String>, change: Change) {
    match change {
        Change::Subscribe(room) => {
            rooms.insert(room);
        }
        Change::Unsubscribe(room) => {
            rooms.remove(&room);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bus_messages_read_back_and_channels_name_their_room() {
        let node = Uuid::new_v4();
        assert_eq!(parse(b"n42"), Some(Parsed::Notice(42)));
        assert_eq!(parse(&heartbeat(node)), Some(Parsed::Heartbeat(node)));
        assert_eq!(
            parse(&roster_request(node)),
            Some(Parsed::RosterRequest(node))
        );
        assert_eq!(
            parse(&presence(b'c', node, b"frame")),
            Some(Parsed::Presence {
                kind: b'c',
                node,
                frame: b"frame"
            })
        );
        assert_eq!(parse(b"x"), None);
        assert_eq!(parse(b"nope"), None);
        assert_eq!(parse(b""), None);
        assert_eq!(room_of(&channel("design.review")), Some("design.review"));
        assert_eq!(room_of("tabula:{x}:log"), None);
    }
}
