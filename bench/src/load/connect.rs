//! Opening a peer's connection: the WebSocket handshake and, in Tabula mode,
//! the hello, the answer to the relay's challenge and the welcome — through
//! tungstenite for the idle and join runs, through [`crate::ws`] for the load
//! run's peers.

use anyhow::Context as _;
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncReadExt as _;
use tokio::time::timeout;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::{CONNECT_CONCURRENCY, LoadPlan, Mode};
use crate::target::Target;
use crate::transport::{self, SendFlushed as _, Stream};
use crate::wire::{self, Received};
use crate::ws::{self, Parsed, opcode};

/// A client WebSocket.
pub type Ws = WebSocketStream<Stream>;
/// The client's WebSocket settings: a modest read buffer, since a run may open
/// thousands of connections and frames are small.
fn client_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(16 * 1024)
}

/// A peer that has connected (and in Tabula mode been welcomed).
pub struct Connected {
    /// Its socket.
    pub ws: Ws,
    /// The room's head at the welcome (0 in raw mode): ops up to it are the room's
    /// history from earlier runs, sent as catch-up, and not part of this run.
    pub head: u64,
}

/// Opens one peer's connection: the WebSocket handshake and, in Tabula mode, the
/// hello and its welcome. With `from`, the connection comes from that local
/// address (one of 127.0.0.0/8, so that a relay sees many clients).
pub async fn connect(
    target: &Target,
    mode: Mode,
    index: usize,
    room: usize,
    from: Option<std::net::IpAddr>,
) -> anyhow::Result<Connected> {
    let url = target.url(room);
    let (mut ws, _) = open_from(target, &url, client_config(), from)
        .await
        .with_context(|| format!("connecting peer {index} to {url}"))?;
    let mut head = 0;
    if mode == Mode::Tabula {
        let room = target.room_name(room);
        let (hello, client) = wire::hello(&room, index, target.invite())?;
        ws.send(Message::Binary(hello.into()))
            .await
            .with_context(|| format!("sending peer {index}'s hello"))?;
        loop {
            let message = ws
                .next()
                .await
                .with_context(|| format!("the relay closed peer {index} before its welcome"))?
                .with_context(|| format!("reading peer {index}'s welcome"))?;
            if let Message::Binary(frame) = message {
                match wire::receive(&frame)? {
                    Received::Welcome { head: at } => {
                        head = at;
                        break;
                    }
                    Received::Challenge(challenge) => {
                        let answer = target.answer(&challenge, &room, client)?;
                        ws.send(Message::Binary(answer.into()))
                            .await
                            .with_context(|| format!("answering peer {index}'s challenge"))?;
                    }
                    Received::Error(error) => anyhow::bail!("the relay refused the hello: {error}"),
                    _ => {}
                }
            } else if let Message::Close(frame) = message {
                anyhow::bail!("the relay closed peer {index} before its welcome: {frame:?}");
            }
        }
    }
    Ok(Connected { ws, head })
}

/// Opens a tungstenite WebSocket to `url` on `target`'s relay, through TLS
/// for `wss://`.
pub async fn open(
    target: &Target,
    url: &str,
    config: WebSocketConfig,
) -> anyhow::Result<(
    Ws,
    tokio_tungstenite::tungstenite::handshake::client::Response,
)> {
    open_from(target, url, config, None).await
}

/// [`open`], from the local address `from` if given.
async fn open_from(
    target: &Target,
    url: &str,
    config: WebSocketConfig,
    from: Option<std::net::IpAddr>,
) -> anyhow::Result<(
    Ws,
    tokio_tungstenite::tungstenite::handshake::client::Response,
)> {
    let stream = transport::connect_from(target, from).await?;
    Ok(tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await?)
}

/// A load peer's connection, opened with [`crate::ws`] (and in Tabula mode
/// welcomed).
pub(super) struct RawConnected {
    /// Its socket.
    pub(super) stream: Stream,
    /// Bytes read after the welcome (or the handshake), not yet parsed.
    pub(super) pending: Vec<u8>,
    /// The room's head at the welcome, as in [`Connected`].
    pub(super) head: u64,
    /// The key this peer masks its frames with.
    pub(super) mask: [u8; 4],
}

/// Opens one load peer's connection: the handshake and, in Tabula mode, the
/// hello and its welcome.
pub(super) async fn connect_raw(
    target: &Target,
    mode: Mode,
    index: usize,
    room: usize,
) -> anyhow::Result<RawConnected> {
    let (mut stream, mut pending) = ws::connect(target, &target.path(room))
        .await
        .with_context(|| format!("connecting peer {index} to {}", target.url(room)))?;
    let mask = (index as u32 ^ 0x5a3c_9d17).to_le_bytes();
    let mut head = 0;
    if mode == Mode::Tabula {
        let room = target.room_name(room);
        let (hello, client) = wire::hello(&room, index, target.invite())?;
        stream
            .send(&ws::client_frame(opcode::BINARY, &hello, mask))
            .await
            .with_context(|| format!("sending peer {index}'s hello"))?;
        let mut chunk = vec![0; 4096];
        'welcome: loop {
            while let Parsed::Frame(frame, used) = ws::parse(&pending)? {
                match frame.opcode {
                    opcode::BINARY => match wire::receive(frame.payload)? {
                        Received::Welcome { head: at } => {
                            head = at;
                            pending.drain(..used);
                            break 'welcome;
                        }
                        Received::Challenge(challenge) => {
                            let answer = target.answer(&challenge, &room, client)?;
                            stream
                                .send(&ws::client_frame(opcode::BINARY, &answer, mask))
                                .await
                                .with_context(|| format!("answering peer {index}'s challenge"))?;
                        }
                        Received::Error(error) => {
                            anyhow::bail!("the relay refused the hello: {error}")
                        }
                        _ => {}
                    },
                    opcode::CLOSE => anyhow::bail!(
                        "the relay closed peer {index} before its welcome: {}",
                        ws::close_reason(frame.payload)
                    ),
                    _ => {}
                }
                pending.drain(..used);
            }
            let n = stream
                .read(&mut chunk)
                .await
                .with_context(|| format!("reading peer {index}'s welcome"))?;
            anyhow::ensure!(n > 0, "the relay closed peer {index} before its welcome");
            pending.extend_from_slice(&chunk[..n]);
        }
    }
    Ok(RawConnected {
        stream,
        pending,
        head,
        mask,
    })
}

/// Opens every peer's connection, a few at a time, in peer order.
pub(super) async fn connect_all(plan: &LoadPlan) -> anyhow::Result<Vec<RawConnected>> {
    let connecting = futures_util::stream::iter(0..plan.peers)
        .map(|index| connect_raw(&plan.target, plan.mode, index, plan.room_of(index)))
        .buffered(CONNECT_CONCURRENCY)
        .collect::<Vec<_>>();
    let connected = timeout(plan.connect_timeout, connecting)
        .await
        .with_context(|| {
            format!(
                "connecting {} peers took longer than {:?}",
                plan.peers, plan.connect_timeout
            )
        })?;
    connected.into_iter().collect()
}
