//! The handshake after the upgrade: the hello, and the challenge when the
//! relay or the room has a password or the hello comes with an invitation.

use futures_util::{SinkExt, StreamExt};
use tabula_shared::access::{Nonce, Proof, RoomLock, Scope, Verifier};
use tabula_shared::{
    Challenge, ClientMessage, Hello, PROTOCOL_VERSION, Proofs, ServerMessage, decode,
};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tracing::debug;

use crate::access::{Failures, RelayPassword};
use crate::config::Config;
use crate::frame::encode_frame;
use crate::http::Ws;

use super::PASSWORD_REFUSED;
use super::exit::{After, Exit, floor_char_boundary};

/// The longest display name passed on to the room, in bytes; longer ones are cut.
/// Every name is repeated in each welcome, so one must not be able to bloat them.
const MAX_NAME_BYTES: usize = 128;

/// What a challenge asks the peer to prove.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Asked<'a> {
    /// The relay's password.
    pub relay: Option<&'a RelayPassword>,
    /// The room's password.
    pub room: Option<RoomLock>,
    /// The invitation the hello named.
    pub invite: Option<Verifier>,
}

/// Asks the peer to prove what `asked` names over a fresh nonce, after
/// waiting out the delay its address earned with earlier failures; a missing
/// or wrong proof closes with [`PASSWORD_REFUSED`] before any room data is
/// sent, and counts as one more failure.
pub(super) async fn authenticate(
    ws: &mut Ws,
    asked: Asked<'_>,
    failures: &Failures,
    source: std::net::IpAddr,
    hello: &Hello,
    config: &Config,
) -> Result<(), Exit> {
    let delay = failures.delay(source);
    if !delay.is_zero() {
        debug!(?delay, "slowing down an address after failed passwords");
        tokio::time::sleep(delay).await;
    }
    let unable = |reason: String| Exit::close(CloseCode::Error, reason, After::AwaitReply);
    let nonce = Nonce::random().map_err(|err| unable(err.to_string()))?;
    let challenge = Challenge {
        nonce,
        relay: asked.relay.map(RelayPassword::params),
        room: asked.room.map(|lock| lock.params),
        invite: asked.invite.is_some(),
    };
    let frame = encode_frame(&ServerMessage::Challenge(challenge))
        .map_err(|err| unable(err.to_string()))?;
    let limit = config.write_timeout;
    Exit::check_write(timeout(limit, ws.send(Message::Binary(frame))).await, limit)?;
    let proofs = match timeout(config.hello_timeout, read_proofs(ws)).await {
        Ok(proofs) => proofs?,
        Err(_) => {
            return Err(Exit::close(
                CloseCode::Policy,
                "no answer to the password challenge in time".to_owned(),
                After::AwaitReply,
            ));
        }
    };
    let (room, client) = (hello.room.as_str(), hello.client);
    let check = |verifier: Option<Verifier>, proof: Option<Proof>, scope, missing, wrong| match (
        verifier, proof,
    ) {
        (None, _) => None,
        (Some(_), None) => Some(missing),
        (Some(verifier), Some(proof)) => {
            (!verifier.accepts(&proof, scope, &nonce, room, client)).then_some(wrong)
        }
    };
    let room_missing = format!("room {room} needs a password");
    let room_wrong = format!("wrong password for room {room}");
    let failure = check(
        asked.relay.map(RelayPassword::verifier),
        proofs.relay,
        Scope::Relay,
        "this relay needs a password".to_owned(),
        "wrong password for this relay".to_owned(),
    )
    .or_else(|| {
        check(
            asked.room.map(|lock| lock.verifier),
            proofs.room,
            Scope::Room,
            room_missing,
            room_wrong,
        )
    })
    .or_else(|| {
        check(
            asked.invite,
            proofs.invite,
            Scope::Invite,
            "this relay needs the invitation's proof".to_owned(),
            "the invitation's proof is wrong".to_owned(),
        )
    });
    let Some(reason) = failure else {
        failures.succeeded(source);
        return Ok(());
    };
    failures.failed(source);
    Err(Exit::close(
        CloseCode::Library(PASSWORD_REFUSED),
        reason,
        After::AwaitReply,
    ))
}

/// Reads until the next data message, which must answer the challenge.
async fn read_proofs(ws: &mut Ws) -> Result<Proofs, Exit> {
    match read_message(ws, "its proof").await? {
        ClientMessage::Authenticate(proofs) => Ok(proofs),
        _ => Err(Exit::close(
            CloseCode::Policy,
            "the answer to a password challenge must be Authenticate".into(),
            After::AwaitReply,
        )),
    }
}

/// Reads until the first data message, which must be a hello.
pub(super) async fn read_hello(ws: &mut Ws) -> Result<Hello, Exit> {
    match read_message(ws, "the hello").await? {
        ClientMessage::Hello(hello) => Ok(hello),
        _ => Err(Exit::close(
            CloseCode::Policy,
            "the first message must be a hello".into(),
            After::AwaitReply,
        )),
    }
}

/// Reads until the next data message of the handshake (`awaited`, for the
/// reason if the connection ends first) and decodes it; pings and pongs
/// pass.
async fn read_message(ws: &mut Ws, awaited: &str) -> Result<ClientMessage, Exit> {
    loop {
        let frame = match ws.next().await {
            None => {
                return Err(Exit::Lost(format!("the connection ended before {awaited}")));
            }
            Some(Err(err)) => return Err(Exit::from_ws_error(err)),
            Some(Ok(Message::Binary(frame))) => frame,
            Some(Ok(Message::Text(_))) => return Err(Exit::text_frame()),
            Some(Ok(Message::Close(frame))) => return Err(Exit::PeerClosed(frame)),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
        };
        return decode::<ClientMessage>(&frame).map_err(|err| Exit::from_decode_error(&err));
    }
}

/// Checks that a hello speaks our protocol and names the room of the URL, and
/// trims an overlong name.
pub(super) fn check_hello(mut hello: Hello, room: &str) -> Result<Hello, Exit> {
    if hello.protocol != PROTOCOL_VERSION {
        return Err(Exit::close(
            CloseCode::Protocol,
            format!(
                "protocol version {} is not supported: this relay speaks version {PROTOCOL_VERSION}",
                hello.protocol
            ),
            After::AwaitReply,
        ));
    }
    // The URL's room is folded to lower case; the hello's may not be.
    if !hello.room.eq_ignore_ascii_case(room) {
        return Err(Exit::close(
            CloseCode::Policy,
            format!(
                "the hello names room {:?} but the URL names room {room:?}",
                hello.room
            ),
            After::AwaitReply,
        ));
    }
    if hello.name.len() > MAX_NAME_BYTES {
        let cut = floor_char_boundary(&hello.name, MAX_NAME_BYTES);
        hello.name.truncate(cut);
    }
    Ok(hello)
}
