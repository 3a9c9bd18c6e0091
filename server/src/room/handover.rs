//! Handing a room over to another relay, when the app that hosts it stops.
//!
//! Every member holds the room's whole log, so any of them can host it from
//! its own copy. [`hand_over`] runs the move:
//!
//! 1. **Freeze**: the room stops sequencing. Ops proposed from now on are held
//!    (not acked); once whatever was already on its way to the log is
//!    published, the room's head is final.
//! 2. **Ask**: the members, longest-present first (the one the host prefers
//!    before them), are asked in turn with [`ServerMessage::TakeOver`] to
//!    host the room from their copy, which ends at that head (every op up to
//!    it reached them before the question, through the same queue). Each
//!    answers with the URLs of its new relay, or why it cannot.
//! 3. **Move**: everyone is told [`ServerMessage::Moved`], with those URLs and
//!    the head; they reconnect there, resume from their last op and resend
//!    what this relay never acked. The held ops are dropped: their authors
//!    resend them to the new relay. Members who leave now are not recorded as
//!    leaving (the room's history goes on elsewhere), and anyone who joins
//!    this relay's room later is sent on too.
//!
//! If nobody can host, the room thaws: the held ops are sequenced and it goes
//! on here as before.

use std::time::Duration;

use bytes::Bytes;
use tabula_shared::{ClientId, PeerInfo, ServerMessage};
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::Room;
use super::sequencer::Proposal;
use crate::frame::encode_frame;
use crate::sync::lock;

/// How long freezing waits for ops already on their way to the log.
const FREEZE_LIMIT: Duration = Duration::from_secs(10);

/// Where a room stands with respect to moving.
#[derive(Debug, Default)]
pub enum Stage {
    /// Sequencing as usual.
    #[default]
    Open,
    /// A hand-over is under way: nothing is sequenced.
    Frozen {
        /// Ops proposed meanwhile, sequenced if the room thaws.
        held: Vec<Proposal>,
        /// The member asked to host, and where its answer goes.
        asked: Option<Asked>,
    },
    /// The room lives elsewhere now.
    Moved {
        /// The encoded [`ServerMessage::Moved`], for whoever is still here or
        /// joins.
        frame: Bytes,
    },
}

impl Stage {
    /// Whether the room sequences ops and records joins and leaves.
    pub fn is_open(&self) -> bool {
        matches!(self, Self::Open)
    }
}

/// The member asked to host the room.
#[derive(Debug)]
pub struct Asked {
    /// Who.
    client: ClientId,
    /// Receives the answer.
    answer: oneshot::Sender<HostAnswer>,
}

/// A member's answer to [`ServerMessage::TakeOver`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostAnswer {
    /// It hosts the room now, at these URLs.
    Hosting(Vec<String>),
    /// It cannot, for this reason.
    Cannot(String),
}

/// Who should host next.
#[derive(Clone, Debug, Default)]
pub struct HandOver {
    /// The member asked first, if still in the room; then everyone else,
    /// longest-present first.
    pub prefer: Option<ClientId>,
    /// Members never to ask (the host's own app, which is leaving).
    pub exclude: Vec<ClientId>,
    /// How long each member has to answer.
    pub answer_within: Duration,
}

/// Where the room went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandedOver {
    /// The member that hosts it now.
    pub to: PeerInfo,
    /// Its URLs, best first.
    pub urls: Vec<String>,
    /// The room's last op when it moved.
    pub head: u64,
}

/// Why a room was not handed over.
#[derive(Debug, thiserror::Error)]
pub enum HandOverError {
    /// No room of that name is open on this relay.
    #[error("no room {0:?} is open here")]
    NoSuchRoom(String),
    /// A hand-over of this room is already under way, or it has moved.
    #[error("the room is already being handed over, or has moved")]
    AlreadyMoving,
    /// Ops on their way to the room's log did not get there in time.
    #[error("the room's last ops were still being stored after {FREEZE_LIMIT:?}")]
    StillWriting,
    /// Every member asked said no, left or did not answer; the room goes on
    /// here.
    #[error("nobody could take the room over: {}", describe(.0))]
    NobodyCouldHost(Vec<(String, String)>),
}

/// "Ada: her copy is incomplete; Bo: did not answer", or "nobody else is in
/// the room".
fn describe(refusals: &[(String, String)]) -> String {
    if refusals.is_empty() {
        return "nobody else is in the room".to_owned();
    }
    refusals
        .iter()
        .map(|(name, why)| format!("{name}: {why}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Hands `room` over to one of its members (see the module's doc).
pub async fn hand_over(room: &Room, plan: &HandOver) -> Result<HandedOver, HandOverError> {
    if !room.freeze() {
        return Err(HandOverError::AlreadyMoving);
    }
    let deadline = tokio::time::Instant::now() + FREEZE_LIMIT;
    while !room.is_written() {
        if tokio::time::Instant::now() >= deadline {
            room.thaw();
            return Err(HandOverError::StillWriting);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let head = room.head();
    let mut candidates: Vec<PeerInfo> = room
        .by_seniority()
        .into_iter()
        .filter(|peer| !plan.exclude.contains(&peer.client))
        .collect();
    if let Some(i) = plan
        .prefer
        .and_then(|prefer| candidates.iter().position(|peer| peer.client == prefer))
    {
        let preferred = candidates.remove(i);
        candidates.insert(0, preferred);
    }
    info!(
        room = room.name,
        head,
        candidates = candidates.len(),
        "handing the room over"
    );
    let mut refusals = Vec::new();
    for candidate in candidates {
        let Some(answer) = room.ask_to_host(candidate.client, head) else {
            continue;
        };
        let why = match tokio::time::timeout(plan.answer_within, answer).await {
            Ok(Ok(HostAnswer::Hosting(urls))) if !urls.is_empty() => {
                room.announce_move(&urls, head);
                info!(
                    room = room.name,
                    to = candidate.name,
                    ?urls,
                    head,
                    "handed the room over"
                );
                return Ok(HandedOver {
                    to: candidate,
                    urls,
                    head,
                });
            }
            Ok(Ok(HostAnswer::Hosting(_))) => "named no address".to_owned(),
            Ok(Ok(HostAnswer::Cannot(reason))) => reason,
            Ok(Err(_)) => "left the room".to_owned(),
            Err(_) => format!("did not answer within {} s", plan.answer_within.as_secs()),
        };
        warn!(room = room.name, member = candidate.name, %why, "a member could not take the room over");
        refusals.push((candidate.name, why));
        room.withdraw_ask();
    }
    room.thaw();
    Err(HandOverError::NobodyCouldHost(refusals))
}

impl Room {
    /// Stops sequencing; `false` if the room is already frozen or moved.
    fn freeze(&self) -> bool {
        let mut state = lock(&self.state);
        if !state.stage.is_open() {
            return false;
        }
        state.stage = Stage::Frozen {
            held: Vec::new(),
            asked: None,
        };
        true
    }

    /// Sequences again, starting with the ops held while frozen.
    fn thaw(&self) {
        let mut state = lock(&self.state);
        let Stage::Frozen { held, .. } = std::mem::take(&mut state.stage) else {
            return;
        };
        if !held.is_empty() {
            self.sequence(&mut state, held);
        }
        self.record_departures(&mut state);
    }

    /// The members, longest-present first (a reconnect counts as arriving):
    /// the order a hand-over asks them in.
    pub fn by_seniority(&self) -> Vec<PeerInfo> {
        lock(&self.state).members.by_seniority()
    }

    /// Asks `client` to host the room from its copy up to `head`; `None` if it
    /// is not here (or the room is not frozen).
    fn ask_to_host(&self, client: ClientId, head: u64) -> Option<oneshot::Receiver<HostAnswer>> {
        let frame = match encode_frame(&ServerMessage::TakeOver { head }) {
            Ok(frame) => frame,
            Err(err) => {
                warn!(%err, "could not encode TakeOver");
                return None;
            }
        };
        let mut state = lock(&self.state);
        if !state.members.contains(client) {
            return None;
        }
        let Stage::Frozen { asked, .. } = &mut state.stage else {
            return None;
        };
        let (tx, rx) = oneshot::channel();
        *asked = Some(Asked { client, answer: tx });
        state.members.send_to(client, frame);
        Some(rx)
    }

    /// Forgets the member asked, whose answer no longer counts.
    fn withdraw_ask(&self) {
        if let Stage::Frozen { asked, .. } = &mut lock(&self.state).stage {
            *asked = None;
        }
    }

    /// Takes a member's answer to [`ServerMessage::TakeOver`]; `false` if it
    /// was not asked (or not any more).
    pub fn answer_host(&self, client: ClientId, connection: u64, answer: HostAnswer) -> bool {
        let mut state = lock(&self.state);
        if !state.members.is_member(client, connection) {
            return false;
        }
        let Stage::Frozen { asked, .. } = &mut state.stage else {
            return false;
        };
        if asked.as_ref().is_none_or(|a| a.client != client) {
            return false;
        }
        asked
            .take()
            .is_some_and(|asked| asked.answer.send(answer).is_ok())
    }

    /// Tells everyone the room lives at `urls` now, and sends on whoever
    /// joins later.
    fn announce_move(&self, urls: &[String], head: u64) {
        let moved = ServerMessage::Moved {
            urls: urls.to_vec(),
            head,
        };
        let frame = match encode_frame(&moved) {
            Ok(frame) => frame,
            Err(err) => {
                warn!(%err, "could not encode Moved");
                return;
            }
        };
        let mut state = lock(&self.state);
        state.members.broadcast(&frame, None);
        state.settle_news();
        // Leaves from now on are not history here.
        drop(state.members.take_departed());
        state.stage = Stage::Moved { frame };
    }
}

#[cfg(test)]
mod tests {
    use tabula_shared::ServerMessage;

    use super::*;
    use crate::room::Proposed;
    use crate::room::testing::{next, next_any, nothing, op, peer, room};

    fn plan(exclude: &[ClientId]) -> HandOver {
        HandOver {
            prefer: None,
            exclude: exclude.to_vec(),
            answer_within: Duration::from_secs(30),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_longest_present_member_takes_over_and_everyone_is_sent_on() {
        let room = room();
        let (host, a, b) = (peer("host"), peer("a"), peer("b"));
        let mut mh = room.join(host.clone(), 0, true, 64);
        let mut ma = room.join(a.clone(), 0, true, 64);
        let mut mb = room.join(b.clone(), 0, true, 64);
        room.propose(host.client, mh.connection, op());
        let head = room.head();

        let moving = tokio::spawn({
            let room = std::sync::Arc::clone(&room);
            let exclude = [host.client];
            async move { hand_over(&room, &plan(&exclude)).await }
        });
        // a has been here longest after the host: a is asked, after every op.
        let asked = loop {
            match next_any(&mut ma) {
                ServerMessage::TakeOver { head } => break head,
                ServerMessage::Op(o) => assert!(o.seq <= head),
                _ => {}
            }
        };
        assert_eq!(asked, head);
        // Meanwhile nothing is sequenced: b's op is held, not acked.
        assert_eq!(
            room.propose(b.client, mb.connection, op()),
            Proposed::Queued
        );
        assert_eq!(room.head(), head);
        assert!(!room.answer_host(
            b.client,
            mb.connection,
            HostAnswer::Cannot("not asked".into())
        ));
        let urls = vec!["ws://127.0.0.1:1/r".to_owned()];
        assert!(room.answer_host(a.client, ma.connection, HostAnswer::Hosting(urls.clone())));
        let moved = moving.await.expect("joins").expect("handed over");
        assert_eq!(
            (moved.to, moved.urls.clone(), moved.head),
            (a.clone(), urls.clone(), head)
        );

        let wanted = ServerMessage::Moved { urls, head };
        for member in [&mut mh, &mut ma, &mut mb] {
            let got = loop {
                match next_any(member) {
                    ServerMessage::Op(o) => assert!(o.seq <= head, "nothing after the head"),
                    ServerMessage::Ack { seq, .. } => assert!(seq <= head),
                    ServerMessage::Peers { .. } => {}
                    other => break other,
                }
            };
            assert_eq!(got, wanted);
        }
        // Leaving and joining are not history any more; a latecomer is sent on.
        assert!(room.leave(b.client, mb.connection));
        let late = peer("late");
        let mut ml = room.join(late.clone(), 0, true, 64);
        assert_eq!(room.head(), head);
        assert_eq!(next(&mut ml), wanted);
        // Presence still flows (a tick of news at a time), but nothing is
        // recorded.
        let (mut came, mut went) = (Vec::new(), Vec::new());
        while !went.contains(&b.client) || !came.contains(&late.client) {
            match next_any(&mut ma) {
                ServerMessage::Peers { joined, left } => {
                    came.extend(joined.iter().map(|p| p.client));
                    went.extend(left);
                }
                other => panic!("{other:?}"),
            }
        }
        nothing(&mut ma);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_room_nobody_can_take_thaws_and_sequences_what_it_held() {
        let room = room();
        let (host, a) = (peer("host"), peer("a"));
        let mh = room.join(host.clone(), 0, true, 64);
        let mut ma = room.join(a.clone(), 0, true, 64);
        let head = room.head();
        let moving = tokio::spawn({
            let room = std::sync::Arc::clone(&room);
            let exclude = [host.client];
            async move { hand_over(&room, &plan(&exclude)).await }
        });
        loop {
            if let ServerMessage::TakeOver { .. } = next_any(&mut ma) {
                break;
            }
        }
        let waiting = op();
        room.propose(host.client, mh.connection, waiting.clone());
        assert!(room.answer_host(
            a.client,
            ma.connection,
            HostAnswer::Cannot("my copy is incomplete".into())
        ));
        let err = moving.await.expect("joins").expect_err("nobody took it");
        assert_eq!(
            err.to_string(),
            "nobody could take the room over: a: my copy is incomplete"
        );
        assert_eq!(room.head(), head + 1, "the held op is sequenced on thawing");
        let ServerMessage::Op(sequenced) = next(&mut ma) else {
            panic!("a gets the held op");
        };
        assert_eq!(sequenced.op, waiting);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_room_with_nobody_else_in_it_is_not_handed_over() {
        let room = room();
        let host = peer("host");
        let _mh = room.join(host.clone(), 0, true, 64);
        let err = hand_over(&room, &plan(&[host.client]))
            .await
            .expect_err("nobody to hand it to");
        assert_eq!(
            err.to_string(),
            "nobody could take the room over: nobody else is in the room"
        );
        assert!(room.freeze(), "thawed again");
    }
}
