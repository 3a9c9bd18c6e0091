//! Frames on the WebSocket: encode and send with a deadline, receive and decode,
//! and what a close from the relay means.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use tabula_shared::{ClientMessage, ServerMessage};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

use super::Ended;

/// How long a write to the relay may take before the connection counts as dead.
pub(super) const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the WebSocket runs over: a TCP stream, or TLS over one.
pub(super) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// The WebSocket to the relay.
pub(super) type Socket = WebSocketStream<Box<dyn Stream>>;

/// The next frame from the relay: `Ok(None)` for a ping or pong (it still shows
/// the relay is alive), or how the connection ended.
pub(super) async fn receive(socket: &mut Socket) -> Result<Option<ServerMessage>, Ended> {
    let lost = |reason: String| Ended::lost(reason, false);
    let frame = match socket.next().await {
        Some(Ok(frame)) => frame,
        Some(Err(err)) => return Err(lost(format!("the connection failed: {err}"))),
        None => return Err(lost("the relay closed the connection".to_owned())),
    };
    match frame {
        Message::Binary(bytes) => tabula_shared::decode(&bytes).map(Some).map_err(|err| {
            Ended::Refused(format!(
                "the relay sent a frame this build cannot read: {err}"
            ))
        }),
        Message::Close(frame) => Err(closed_by_relay(frame)),
        Message::Text(_) => Err(Ended::Refused("the relay sent a text frame".to_owned())),
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(None),
    }
}

/// The next relay message, past any pings and pongs.
pub(super) async fn receive_message(socket: &mut Socket) -> Result<ServerMessage, Ended> {
    loop {
        if let Some(message) = receive(socket).await? {
            return Ok(message);
        }
    }
}

/// The relay's close code for a hello naming a client id that is someone
/// else's in the room (it lacks that id's resume secret).
const IDENTITY_REFUSED: u16 = 4403;
/// The relay's close code for a missing or wrong password, or an invitation
/// revoked or unknown.
const PASSWORD_REFUSED: u16 = 4401;
/// The relay's close code for someone an operator removed from the room.
const REMOVED: u16 = 4410;
/// The relay's close code for a newcomer to a locked room.
const LOCKED: u16 = 4423;

/// Whether a close from the relay is worth retrying: a protocol mismatch, a
/// client id the room gives someone else, a password refused, being removed
/// from the room or finding it locked is not; a restart, a timeout, being
/// cut off for reading too slowly or a limit that passes (1013, "try again
/// later": a full room) is.
fn closed_by_relay(frame: Option<CloseFrame>) -> Ended {
    let Some(frame) = frame else {
        return Ended::lost("the relay closed the connection".to_owned(), false);
    };
    let reason = if frame.reason.is_empty() {
        format!(
            "the relay closed the connection (code {})",
            u16::from(frame.code)
        )
    } else if frame.code == CloseCode::Again {
        // A limit that passes: a full room or relay, too many new rooms.
        format!("the relay is busy: {}", frame.reason)
    } else {
        format!("the relay closed the connection: {}", frame.reason)
    };
    match frame.code {
        CloseCode::Protocol
        | CloseCode::Unsupported
        | CloseCode::Invalid
        | CloseCode::Library(IDENTITY_REFUSED | PASSWORD_REFUSED | REMOVED | LOCKED) => {
            Ended::Refused(reason)
        }
        _ => Ended::lost(reason, false),
    }
}

/// Encodes and sends one message, flushing it.
pub(super) async fn send(socket: &mut Socket, message: &ClientMessage) -> Result<(), String> {
    feed(socket, message).await?;
    flush(socket).await
}

/// Encodes one message and queues it without flushing.
pub(super) async fn feed(socket: &mut Socket, message: &ClientMessage) -> Result<(), String> {
    let frame = tabula_shared::encode(message).map_err(|err| err.to_string())?;
    written(tokio::time::timeout(WRITE_TIMEOUT, socket.feed(Message::Binary(frame.into()))).await)
}

/// Flushes queued frames to the relay.
pub(super) async fn flush(socket: &mut Socket) -> Result<(), String> {
    written(tokio::time::timeout(WRITE_TIMEOUT, socket.flush()).await)
}

/// The outcome of a write bounded by [`WRITE_TIMEOUT`], as a reason to reconnect.
pub(super) fn written(
    outcome: Result<Result<(), tungstenite::Error>, tokio::time::error::Elapsed>,
) -> Result<(), String> {
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(format!("could not send to the relay: {err}")),
        Err(_) => Err("the relay stopped reading".to_owned()),
    }
}
