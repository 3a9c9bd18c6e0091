//! Why a connection ends ([`Exit`]), and carrying that out: the close frame with
//! its code and reason, and how long to wait for the peer after it.

use std::fmt;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tabula_shared::DecodeError;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tracing::{error, info, trace, warn};

use crate::config::Config;
use crate::http::{self, Ws};
use crate::room::Kick;
use crate::room::identities;
use crate::room::registry::OpenError;
use crate::room::rules::Turned;
use crate::store::StoreError;

use super::{IDENTITY_REFUSED, LOCKED, PASSWORD_REFUSED, REMOVED};

/// How long the relay waits for its close frame to go out, and then for the
/// peer's reply (or for the peer to stop sending), before dropping the socket.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// The WebSocket limit on a close reason, in bytes.
const MAX_CLOSE_REASON: usize = 123;

/// Why a connection ends.
#[derive(Debug)]
pub(super) enum Exit {
    /// The peer sent a close frame; tungstenite has queued the reply.
    PeerClosed(Option<CloseFrame>),
    /// The connection broke or stalled; nothing more can usefully be sent.
    Lost(String),
    /// The relay closes the connection.
    Close(Closing),
}

/// A close the relay initiates.
#[derive(Debug)]
pub(super) struct Closing {
    /// The WebSocket close code.
    code: CloseCode,
    /// Why, for a person; cut to the WebSocket limit when sent.
    reason: String,
    /// What to do once the close frame is out.
    after: After,
}

/// What to do after sending a close frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum After {
    /// Keep reading until the peer's close reply or the end of the stream.
    AwaitReply,
    /// The WebSocket stream can no longer be read (it failed mid-frame): shut down
    /// the write half of the socket and discard what the peer still sends, so
    /// that the close frame is not lost to a reset.
    Drain,
    /// The peer is not reading; do not wait for it.
    Abandon,
}

impl Exit {
    /// The relay closes with `code`.
    pub(super) fn close(code: CloseCode, reason: String, after: After) -> Self {
        Self::Close(Closing {
            code,
            reason,
            after,
        })
    }

    /// The room could not be opened for the peer: `err` says why.
    pub(super) fn room_refused(err: OpenError, room: &str, config: &Config) -> Self {
        match err {
            OpenError::Store(err @ StoreError::Redis { .. }) => {
                warn!(%err, "could not open a room: Redis is out of reach");
                Self::close(
                    CloseCode::Again,
                    format!(
                        "the relay cannot reach its Redis, so it cannot open room {room} now: \
                         try again, or another relay of the cluster"
                    ),
                    After::AwaitReply,
                )
            }
            OpenError::Store(err) => {
                error!(%err, "could not open the room");
                Self::close(
                    CloseCode::Error,
                    // The details (a path on the relay's disk) are for its log only.
                    format!("the relay could not open room {room}; its log says why"),
                    After::AwaitReply,
                )
            }
            OpenError::TooManyRooms { open } => {
                info!(open, "refused a room: the relay has as many open as it may");
                Self::close(
                    CloseCode::Again,
                    format!(
                        "the relay has {open} rooms open, as many as it allows: try again later"
                    ),
                    After::AwaitReply,
                )
            }
            OpenError::TooManyNew => {
                info!("refused a new room: this address created too many this minute");
                Self::close(
                    CloseCode::Again,
                    format!(
                        "this address created {} new rooms in the last minute, as many as the relay allows: wait a minute",
                        config.new_rooms_per_minute
                    ),
                    After::AwaitReply,
                )
            }
        }
    }

    /// The room has as many members as it may.
    pub(super) fn room_full(room: &str, members: usize) -> Self {
        info!(members, "refused: the room is full");
        Self::close(
            CloseCode::Again,
            format!("room {room} is full: {members} people are in it, as many as the relay allows"),
            After::AwaitReply,
        )
    }

    /// The relay is shutting down.
    /// The room's log could not be read for a catch-up or a history request.
    pub(super) fn unreadable_history(reason: &str) -> Self {
        error!(%reason, "could not read the room's history");
        Exit::close(
            CloseCode::Error,
            format!("the relay could not read the room's history: {reason}"),
            After::AwaitReply,
        )
    }

    pub(super) fn shutdown() -> Self {
        Self::close(
            CloseCode::Away,
            "the relay is shutting down".to_owned(),
            After::AwaitReply,
        )
    }

    /// The hello named a client id it may not be (close 4403), or no
    /// secret could be made for it (1011).
    pub(super) fn refused_identity(refused: identities::Refused) -> Self {
        let code = match refused {
            identities::Refused::Impostor(_) => CloseCode::Library(IDENTITY_REFUSED),
            identities::Refused::NoRandom => CloseCode::Error,
        };
        Self::close(code, refused.to_string(), After::AwaitReply)
    }

    /// The room's rules turn the hello away (see [`Turned`]).
    pub(super) fn turned(turned: &Turned) -> Self {
        let code = match turned {
            Turned::Kicked(_) => CloseCode::Library(REMOVED),
            Turned::Revoked(_) | Turned::UnknownInvite(_) | Turned::NotNew(_) => {
                CloseCode::Library(PASSWORD_REFUSED)
            }
            Turned::Unstored(..) => CloseCode::Error,
            Turned::Impostor(_) => CloseCode::Library(IDENTITY_REFUSED),
        };
        Self::close(code, turned.to_string(), After::AwaitReply)
    }

    /// The room is locked and the hello's client id is new to it.
    pub(super) fn locked(room: &str) -> Self {
        Self::close(
            CloseCode::Library(LOCKED),
            format!("room {room} is locked: its operators let nobody new in"),
            After::AwaitReply,
        )
    }

    /// The peer sent a text frame.
    pub(super) fn text_frame() -> Self {
        Self::close(
            CloseCode::Unsupported,
            "Tabula speaks binary frames only".to_owned(),
            After::AwaitReply,
        )
    }

    /// The room cut the peer off; `None` if it did so without saying why.
    pub(super) fn kicked(kick: Option<Kick>) -> Self {
        match kick {
            Some(Kick::Overflow) => Self::close(
                CloseCode::Policy,
                "outgoing queue overflow: this peer reads too slowly".to_owned(),
                After::Abandon,
            ),
            Some(Kick::Replaced) => Self::close(
                CloseCode::Policy,
                "replaced by a newer connection of the same client".to_owned(),
                After::AwaitReply,
            ),
            Some(Kick::Storage) => Self::close(
                CloseCode::Error,
                "the relay could not store an op: reconnect and send it again".to_owned(),
                After::AwaitReply,
            ),
            Some(Kick::Removed) => Self::close(
                CloseCode::Library(REMOVED),
                "you were removed from the room by an operator".to_owned(),
                After::AwaitReply,
            ),
            Some(Kick::Unavailable) => Self::close(
                CloseCode::Again,
                "the relay cannot reach its Redis, so it takes no ops now: \
                 reconnect (to another relay of the cluster) and send them again"
                    .to_owned(),
                After::AwaitReply,
            ),
            None => Self::Lost("removed from the room".to_owned()),
        }
    }

    /// A frame that does not decode.
    pub(super) fn from_decode_error(err: &DecodeError) -> Self {
        let code = match err {
            DecodeError::UnsupportedVersion { .. } => CloseCode::Protocol,
            DecodeError::TooLarge { .. } => CloseCode::Size,
            _ => CloseCode::Invalid,
        };
        Self::close(code, err.to_string(), After::AwaitReply)
    }

    /// A failed read. After any error tungstenite's stream cannot be read again.
    pub(super) fn from_ws_error(err: WsError) -> Self {
        match err {
            WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => Self::close(
                CloseCode::Size,
                format!("a message of {size} bytes is over the {max_size}-byte limit"),
                After::Drain,
            ),
            WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                Self::Lost("the peer went away without a close frame".to_owned())
            }
            WsError::Protocol(err) => {
                Self::close(CloseCode::Protocol, err.to_string(), After::Drain)
            }
            WsError::Utf8(_) => Self::close(
                CloseCode::Invalid,
                "a text or close frame is not valid UTF-8".to_owned(),
                After::Drain,
            ),
            WsError::Io(err)
                if err.get_ref().is_some_and(
                    <dyn std::error::Error + Send + Sync>::is::<crate::deadline::MessageTooSlow>,
                ) =>
            {
                Self::close(CloseCode::Policy, err.to_string(), After::Drain)
            }
            err => Self::Lost(err.to_string()),
        }
    }

    /// Turns the outcome of a write with a timeout into an `Exit` when it failed.
    pub(super) fn check_write(
        written: Result<Result<(), WsError>, tokio::time::error::Elapsed>,
        limit: Duration,
    ) -> Result<(), Self> {
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(Self::Lost(err.to_string())),
            Err(_) => Err(Self::Lost(format!(
                "nothing could be written for {} s",
                limit.as_secs_f32()
            ))),
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PeerClosed(Some(frame)) => {
                write!(f, "closed by the peer ({} {})", frame.code, frame.reason)
            }
            Self::PeerClosed(None) => f.write_str("closed by the peer"),
            Self::Lost(why) => write!(f, "connection lost: {why}"),
            Self::Close(closing) => write!(f, "closed with {}: {}", closing.code, closing.reason),
        }
    }
}

/// Carries out an exit: completes the peer's close, or sends ours and makes sure
/// it can arrive, all within a bounded time. Logs nothing; the caller did.
pub(super) async fn finish(mut ws: Ws, exit: &Exit) {
    let closing = match exit {
        Exit::PeerClosed(_) => {
            // Flushes the close reply tungstenite queued, then ends the stream.
            let _ = timeout(CLOSE_GRACE, SinkExt::close(&mut ws)).await;
            return;
        }
        Exit::Lost(_) => return,
        Exit::Close(closing) => closing,
    };
    let frame = CloseFrame {
        code: closing.code,
        reason: truncate(&closing.reason, MAX_CLOSE_REASON).into(),
    };
    let sent = timeout(CLOSE_GRACE, ws.send(Message::Close(Some(frame)))).await;
    if !matches!(sent, Ok(Ok(()))) {
        trace!("the close frame could not be sent");
        return;
    }
    match closing.after {
        After::AwaitReply => {
            let _ = timeout(CLOSE_GRACE, async {
                while let Some(Ok(_)) = ws.next().await {}
            })
            .await;
        }
        After::Drain => http::shutdown_and_drain(ws.get_mut(), CLOSE_GRACE).await,
        After::Abandon => {}
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
pub(super) fn truncate(text: &str, max: usize) -> &str {
    &text[..floor_char_boundary(text, max)]
}

/// The largest character boundary in `text` at or below `index`.
pub(super) fn floor_char_boundary(text: &str, index: usize) -> usize {
    if index >= text.len() {
        return text.len();
    }
    (0..=index)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate("hello", 123), "hello");
        assert_eq!(truncate("hello", 3), "hel");
        // 'é' is two bytes: cutting inside it keeps the character out.
        assert_eq!(truncate("aé", 2), "a");
        assert!(truncate(&"é".repeat(100), MAX_CLOSE_REASON).len() <= MAX_CLOSE_REASON);
    }

    #[test]
    fn decode_errors_map_to_close_codes() {
        let code = |err: DecodeError| match Exit::from_decode_error(&err) {
            Exit::Close(closing) => u16::from(closing.code),
            other => panic!("expected a close, got {other:?}"),
        };
        assert_eq!(code(DecodeError::BadMagic), 1007);
        assert_eq!(code(DecodeError::UnsupportedVersion { found: 9 }), 1002);
        assert_eq!(code(DecodeError::TooLarge { len: 1 << 21 }), 1009);
    }
}
