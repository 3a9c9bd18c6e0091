//! One peer: its handshake, its hello, then reading, writing and heartbeats until
//! it leaves.
//!
//! Each connection is one task that owns its WebSocket outright (no split, no
//! lock). After the hello it joins a room and loops over whatever comes first:
//! a frame from the peer, frames the room queued for it, a heartbeat tick, a kick
//! from the room, or the relay shutting down. Whatever ends the loop is an
//! [`Exit`], logged once and turned into the right close frame.
//!
//! Bad input from one peer closes that peer only, with a close code and a reason
//! a person can read: 1007 for a frame that does not decode, 1002 for another
//! protocol version, 1003 for text frames, 1009 for oversized messages and 1008
//! for anything out of place before the hello. A hello naming a client id that
//! is someone else's (without that id's resume secret) is refused with 4403
//! before it joins: the member it names never hears of it. A missing or wrong
//! password or invitation proof is refused with 4401, a member an operator
//! kicked out with 4410, a newcomer to a locked room with 4423.
//!
//! - [`handshake`]: the hello, the password challenge and what a hello must say.
//! - [`peer`]: a joined peer's loop, its catch-up and the ops it may not send.
//! - [`exit`]: why a connection ends, and the close frame that says so.
//! - [`runs`]: frames written in runs of a few KiB, so that no connection
//!   keeps a large write buffer for its life.

mod exit;
mod handshake;
mod peer;
mod runs;

use std::sync::Arc;

use tabula_shared::access::Role;
use tabula_shared::{Hello, PeerInfo};
use tokio::net::TcpStream;
use tokio::sync::broadcast;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tracing::{debug, error, info, warn};

use crate::access::{Failures, RelayPassword};
use crate::config::Config;
use crate::http;
use crate::limit::{AddressSlot, Addresses};
use crate::room::registry::{OpenError, Rooms};
use crate::room::rules::Turned;
use crate::room::{Bounds, JoinRefused, Membership, Needs, Room};

use exit::{After, Exit, finish};
use handshake::{Asked, authenticate, check_hello, read_hello};
use peer::Peer;

/// The close code for a hello naming a client id that is someone else's (it
/// lacks that id's resume secret): the id is taken, and retrying with it
/// will not help.
pub const IDENTITY_REFUSED: u16 = 4403;
/// The close code for a missing or wrong password, or an invitation that
/// is revoked or unknown: retrying without another will not help.
pub const PASSWORD_REFUSED: u16 = 4401;
/// The close code for a member an operator kicked out, and for its every
/// try to come back while the room is open: retrying will not help.
pub const REMOVED: u16 = 4410;
/// The close code for a newcomer to a locked room: retrying helps only
/// once an operator opens it.
pub const LOCKED: u16 = 4423;

/// What every connection task shares.
#[derive(Debug)]
pub struct Shared {
    /// The relay's settings.
    pub config: Config,
    /// The relay-wide password's verifier, when it has one: every hello
    /// must then answer a challenge with a proof of it.
    pub password: Option<RelayPassword>,
    /// Recent wrong and missing proofs by source address, to slow guessing.
    pub failures: Failures,
    /// Every room, so that peers naming the same room meet in it. In an `Arc` so
    /// that a room can be opened in `spawn_blocking`.
    pub rooms: Arc<Rooms>,
    /// What each source address has open, and the rooms it may still create.
    pub addresses: Arc<Addresses>,
}

/// Serves one accepted TCP connection until it is gone. Never fails: whatever goes
/// wrong is logged here, once, and ends only this connection.
pub async fn serve(
    stream: TcpStream,
    address: AddressSlot,
    shared: &Shared,
    mut shutdown: broadcast::Receiver<()>,
) {
    let config = &shared.config;
    let deadline = Instant::now() + config.handshake_timeout;
    let accepted = tokio::select! {
        accepted = http::accept(stream, config, deadline) => accepted,
        _ = shutdown.recv() => return,
    };
    let Some((mut ws, room_name)) = accepted else {
        return;
    };

    let hello = tokio::select! {
        hello = timeout(config.hello_timeout, read_hello(&mut ws)) => match hello {
            Ok(hello) => hello,
            Err(_) => Err(Exit::close(
                CloseCode::Policy,
                format!("no hello within {} s", config.hello_timeout.as_secs_f32()),
                After::AwaitReply,
            )),
        },
        _ = shutdown.recv() => Err(Exit::shutdown()),
    };
    let hello = match hello.and_then(|hello| check_hello(hello, &room_name)) {
        Ok(hello) => hello,
        Err(exit) => {
            if let Exit::Close(_) = exit {
                info!(%exit, "refused before joining");
            } else {
                debug!(%exit, "ended before joining");
            }
            finish(ws, &exit).await;
            return;
        }
    };

    // An invitation admits to its room without the relay's password; a
    // hello without one proves that password before any room is opened.
    let invite = hello.credentials.invite;
    let source = address.address();
    if let Some(password) = &shared.password
        && invite.is_none()
    {
        let asked = Asked {
            relay: Some(password),
            ..Asked::default()
        };
        let proved = tokio::select! {
            proved = authenticate(&mut ws, asked, &shared.failures, source, &hello, config) => proved,
            _ = shutdown.recv() => Err(Exit::shutdown()),
        };
        if let Err(exit) = proved {
            info!(%exit, "refused before joining");
            finish(ws, &exit).await;
            return;
        }
    }

    let span = tracing::Span::current();
    span.record("room", room_name.as_str());
    span.record("client", tracing::field::display(hello.client));
    let (room, resumes, needs) = match open_room(shared, &room_name, &hello, source).await {
        Ok(opened) => opened,
        Err(exit) => {
            finish(ws, &exit).await;
            return;
        }
    };
    let admitted = admit(&mut ws, needs, shared, source, &hello, &mut shutdown).await;
    let admitted = match admitted {
        Ok(role) => role,
        Err(exit) => {
            info!(%exit, "refused before joining");
            finish(ws, &exit).await;
            return;
        }
    };
    let client = hello.client;
    let admitted = if config.operators.contains(&client) {
        Role::Operator
    } else {
        admitted
    };
    let membership = match enter(&room, hello, admitted, resumes, config, &room_name) {
        Ok(membership) => membership,
        Err(exit) => {
            finish(ws, &exit).await;
            return;
        }
    };

    if membership.role == Role::Operator {
        // Kept before the operator can act: their id and role are theirs
        // alone on every node and after a restart.
        let (room, secret) = (Arc::clone(&room), membership.welcome.resume_secret);
        if let Err(err) =
            tokio::task::spawn_blocking(move || room.keep_operator_secret(client, &secret)).await
        {
            warn!(%err, "keeping an operator's secret failed");
        }
    }
    let (mut peer, joined) = Peer::new(ws, Arc::clone(&room), client, membership, config);
    let exit = peer.run(joined, &mut shutdown).await;
    room.leave(peer.client, peer.connection);
    info!(%exit, "left");
    finish(peer.ws, &exit).await;
}

/// What opening a room gives a hello: the room, whether the client resumes
/// from the op it names, and what it must prove.
type Opened = (Arc<Room>, bool, Result<Needs, Turned>);

/// Opens the room `hello` names (or refuses to: an invitation creates no
/// room), off the tokio workers: opening may read the room's file, and so
/// may checking the op the client resumes from and keeping a new room's
/// password.
async fn open_room(
    shared: &Shared,
    room_name: &str,
    hello: &Hello,
    source: std::net::IpAddr,
) -> Result<Opened, Exit> {
    let rooms = Arc::clone(&shared.rooms);
    let addresses = Arc::clone(&shared.addresses);
    let name = room_name.to_owned();
    let (last_seen, last_op) = (hello.last_seen, hello.last_op);
    let (client, credentials) = (hello.client, hello.credentials.clone());
    let invite = credentials.invite;
    let opened = tokio::task::spawn_blocking(move || {
        let may_create = || invite.is_none() && addresses.create_room(source);
        rooms.open(&name, may_create).map(|room| {
            let resumes = last_op.is_some_and(|op| room.holds(last_seen, op));
            let needs = room.admit(client, &credentials);
            (room, resumes, needs)
        })
    });
    match opened.await {
        Ok(Ok(opened)) => Ok(opened),
        Ok(Err(OpenError::TooManyNew)) if invite.is_some() => {
            shared.failures.failed(source);
            Err(Exit::turned(&Turned::UnknownInvite(room_name.to_owned())))
        }
        Ok(Err(err)) => Err(Exit::room_refused(err, room_name, &shared.config)),
        Err(err) => {
            error!(%err, "opening the room failed");
            Err(Exit::Lost(format!("opening the room failed: {err}")))
        }
    }
}

/// Has the peer prove what its room needs (the room's password, or the
/// invitation it named) and says which role that earns it, or why it is
/// turned away; a revoked or unknown invitation counts as a failure of its
/// address, like a wrong proof.
async fn admit(
    ws: &mut http::Ws,
    needs: Result<Needs, Turned>,
    shared: &Shared,
    source: std::net::IpAddr,
    hello: &Hello,
    shutdown: &mut broadcast::Receiver<()>,
) -> Result<Role, Exit> {
    let (asked, role) = match needs {
        Ok(Needs::Nothing) => return Ok(Role::Editor),
        Ok(Needs::Password(lock)) => (
            Asked {
                room: Some(lock),
                ..Asked::default()
            },
            Role::Editor,
        ),
        Ok(Needs::Invite(invite, role)) => (
            Asked {
                invite: Some(invite),
                ..Asked::default()
            },
            role,
        ),
        Err(turned) => {
            if matches!(turned, Turned::Revoked(_) | Turned::UnknownInvite(_)) {
                shared.failures.failed(source);
            }
            return Err(Exit::turned(&turned));
        }
    };
    tokio::select! {
        proved = authenticate(ws, asked, &shared.failures, source, hello, &shared.config) => proved.map(|()| role),
        _ = shutdown.recv() => Err(Exit::shutdown()),
    }
}

/// Joins `room` as `hello` asks, or says why not: the room is full, or the
/// hello names a client id it may not be. Either refusal leaves the room as
/// it was.
fn enter(
    room: &Room,
    hello: Hello,
    admitted: Role,
    resumes: bool,
    config: &Config,
    room_name: &str,
) -> Result<Membership, Exit> {
    let info = PeerInfo {
        client: hello.client,
        name: hello.name,
        color: hello.color,
    };
    let name = info.name.clone();
    let bounds = Bounds {
        frames: config.peer_queue_frames,
        bytes: config.peer_queue_bytes,
        unacked: config.max_unacked_ops,
    };
    let resume = hello.credentials.resume.as_ref();
    let membership = match room.try_join(
        info,
        resume,
        admitted,
        hello.last_seen,
        resumes,
        bounds,
        config.max_members,
    ) {
        Ok(membership) => membership,
        Err(JoinRefused::Full(full)) => return Err(Exit::room_full(room_name, full.members)),
        Err(JoinRefused::Identity(refused)) => {
            let exit = Exit::refused_identity(refused);
            info!(%exit, "refused before joining");
            return Err(exit);
        }
        Err(JoinRefused::Turned(turned)) => {
            let exit = Exit::turned(&turned);
            info!(%exit, "refused before joining");
            return Err(exit);
        }
        Err(JoinRefused::Locked(room)) => {
            let exit = Exit::locked(&room);
            info!(%exit, "refused before joining");
            return Err(exit);
        }
    };
    info!(
        %name,
        replay_from = membership.welcome.replay_from,
        head = membership.welcome.head,
        peers = membership.welcome.peers.len(),
        replaced = membership.replaced,
        role = %membership.role,
        "joined"
    );
    Ok(membership)
}
