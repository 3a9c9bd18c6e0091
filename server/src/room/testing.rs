//! What the room's unit tests share: peers, ops, a room in memory, and waiting
//! for what a member is sent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tabula_shared::{ClientId, Color, Op, OpKind, PeerInfo, ServerMessage, StrokeId, decode};

use super::{Commit, Membership, Room};
use crate::snapshots::Snapshotter;
use crate::store::MemoryLog;

/// How long a test waits for a writer thread to act before it fails: a
/// margin a loaded 2-core CI machine cannot miss. A passing test never waits
/// it out.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A snapshot interval no test reaches: rooms without snapshots.
pub const NO_SNAPSHOTS: u64 = u64::MAX;

pub fn peer(name: &str) -> PeerInfo {
    PeerInfo {
        client: ClientId::random(),
        name: name.to_owned(),
        color: Color::rgb(1, 2, 3),
    }
}

pub fn op() -> Op {
    Op::new(OpKind::StrokeEnd {
        stroke: StrokeId::random(),
    })
}

/// The news that `peer` came in.
pub fn came(peer: &PeerInfo) -> ServerMessage {
    ServerMessage::Peers {
        joined: vec![peer.clone()],
        left: Vec::new(),
    }
}

/// The news that `client` went.
pub fn went(client: ClientId) -> ServerMessage {
    ServerMessage::Peers {
        joined: Vec::new(),
        left: vec![client],
    }
}

/// A room in memory, sequencing inline.
pub fn room() -> Arc<Room> {
    Room::open(
        "r",
        Box::new(MemoryLog::default()),
        Commit::Inline,
        NO_SNAPSHOTS,
        Snapshotter::start().unwrap(),
    )
    .unwrap()
}

/// The next message for a member, waiting for the writer thread; the
/// room's word on what the member may do passes.
pub fn next_any(member: &mut Membership) -> ServerMessage {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(frame) = member.queue.try_recv() {
            match decode(&frame).unwrap() {
                ServerMessage::Access(_) => continue,
                message => return message,
            }
        }
        assert!(Instant::now() < deadline, "nothing arrived");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether a message is a recorded join or leave (or what a member may do).
pub fn is_presence(message: &ServerMessage) -> bool {
    matches!(message, ServerMessage::Op(o) if o.op.kind.is_presence())
        || matches!(message, ServerMessage::Access(_))
}

/// The next message for a member other than a recorded join or leave.
pub fn next(member: &mut Membership) -> ServerMessage {
    loop {
        let message = next_any(member);
        if !is_presence(&message) {
            return message;
        }
    }
}

/// Asserts that nothing but recorded joins and leaves arrives for a member
/// for a while.
pub fn nothing(member: &mut Membership) {
    std::thread::sleep(Duration::from_millis(100));
    while let Ok(frame) = member.queue.try_recv() {
        let message = decode::<ServerMessage>(&frame);
        assert!(
            message.as_ref().is_ok_and(is_presence),
            "expected nothing, got {message:?}"
        );
    }
}

/// Waits until the room's head reaches `seq` (a writer storing joins and
/// leaves, which nobody is acked for).
pub fn settle(room: &Room, seq: u64) {
    let deadline = Instant::now() + PATIENCE;
    while room.head() < seq {
        assert!(
            Instant::now() < deadline,
            "the head stayed at {}",
            room.head()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Every frame of a member's catch-up, read two at a time.
pub fn catch_up(member: &mut Membership) -> Vec<Bytes> {
    let mut frames = Vec::new();
    while let Some(chunk) = member.catch_up.next_chunk(2, usize::MAX).unwrap() {
        frames.extend(chunk);
    }
    frames
}
