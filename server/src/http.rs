//! The HTTP side of a connection, up to and including the WebSocket handshake,
//! with the TLS handshake below it on a `wss://` relay.
//!
//! A relay with a certificate ([`Config::tls`]) looks at a new connection's
//! first byte: a TLS handshake goes through the TLS acceptor before anything
//! else; anything else (a plain `ws://` client, `curl http://`) gets a plain
//! `400` saying to use `wss://`. A relay without one answers a TLS handshake
//! with a `400` saying to use `ws://` (which a TLS client cannot read: clients
//! explain the failed handshake themselves). Both run within the handshake
//! timeout, like the rest of this module.
//!
//! The relay reads the request head itself (at most [`MAX_HEAD_BYTES`], before a
//! deadline) so that it can answer people and programs that are not Tabula
//! clients: a browser or `curl` gets `426 Upgrade Required` with a sentence saying
//! what this is, a bad room path gets `400` with the reason, garbage gets `400`.
//! A proper upgrade is handed to tokio-tungstenite with the bytes already read put
//! back in front of the socket by [`Rewind`].

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tracing::{debug, info};

use crate::config::Config;
use crate::deadline::Deadline;
use crate::tls::transport::{self, Transport};
use crate::tls::{TLS_HANDSHAKE_BYTE, TlsSettings};

/// The largest request head the relay reads; a WebSocket upgrade needs a few
/// hundred bytes.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// The most header lines accepted in a request head.
const MAX_HEADERS: usize = 64;
/// How long a refused client gets to read the answer before the socket closes.
const ANSWER_GRACE: Duration = Duration::from_secs(1);
/// How long a client the relay turns away gets to finish its TLS handshake
/// and hear why: short, because the relay is busy or the address has too
/// many connections already.
const TURN_AWAY_HANDSHAKE: Duration = Duration::from_secs(2);
/// tungstenite's read buffer. It is allocated up front for every connection, and
/// tungstenite zero-fills this much of it before every read from the socket, so
/// it costs memory on idle peers and time on busy ones. A peer sends small frames
/// (an op is a few hundred bytes), so 4 KiB holds a burst of them; a larger frame
/// grows the buffer as it arrives. With 8 KiB an idle connection cost 16.4 KiB of
/// relay RSS (BENCHMARKS.md).
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// How much tungstenite gathers before writing to the socket (a flush always
/// writes everything); small for the same reason as the read buffer.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// The WebSocket stream of an accepted connection, whose messages must each
/// arrive within [`Config::message_deadline`].
pub type Ws = WebSocketStream<Deadline<Rewind<Transport>>>;

/// Reads the request head from a fresh connection (after the TLS handshake, on
/// a relay with a certificate) and either completes the WebSocket handshake,
/// returning the stream and the room named by the path, or answers with an
/// HTTP error and closes. Everything happens before `deadline`.
pub async fn accept(stream: TcpStream, config: &Config, deadline: Instant) -> Option<(Ws, String)> {
    let mut stream = match &config.tls {
        Some(tls) => secure(stream, tls, deadline).await?,
        None => transport::plain(stream),
    };
    let mut head = vec![0; MAX_HEAD_BYTES];
    let mut filled = 0;
    let verdict = loop {
        let read = match timeout_at(deadline, stream.read(&mut head[filled..])).await {
            Ok(Ok(read)) => read,
            Ok(Err(err)) => {
                debug!(%err, "the connection failed before its request head");
                return None;
            }
            Err(_) if filled == 0 => {
                debug!("no request within the handshake timeout");
                return None;
            }
            Err(_) => break Verdict::Refuse(Refusal::timeout()),
        };
        if read == 0 {
            if filled > 0 {
                debug!(
                    bytes = filled,
                    "the connection ended inside its request head"
                );
            }
            return None;
        }
        filled += read;
        match judge(&head[..filled]) {
            Some(verdict) => break verdict,
            None if filled == MAX_HEAD_BYTES => break Verdict::Refuse(Refusal::too_large()),
            None => {}
        }
    };

    let verdict = match verdict {
        Verdict::Upgrade {
            origin: Some(origin),
            ..
        } if !config.allowed_origins.contains(&origin) => {
            Verdict::Refuse(Refusal::forbidden_origin(&origin))
        }
        verdict => verdict,
    };
    let room = match verdict {
        Verdict::Upgrade { room, .. } => room,
        Verdict::Refuse(refusal) => {
            if refusal.status.starts_with("426") {
                debug!("answered a plain HTTP request with 426");
            } else {
                info!(status = refusal.status, reason = %refusal.body.trim_end(), "refused a request");
            }
            answer(&mut stream, &refusal).await;
            return None;
        }
    };

    head.truncate(filled);
    let stream = Deadline::new(
        Rewind::new(stream, Bytes::from(head)),
        config.message_deadline,
    );
    match timeout_at(
        deadline,
        tokio_tungstenite::accept_async_with_config(stream, Some(websocket_config(config))),
    )
    .await
    {
        Ok(Ok(ws)) => Some((ws, room)),
        Ok(Err(err)) => {
            info!(%err, "the WebSocket handshake failed");
            None
        }
        Err(_) => {
            debug!("the WebSocket handshake did not finish in time");
            None
        }
    }
}

/// The TLS handshake of a connection to a `wss://` relay, or, for a client
/// that does not start one, a plain `400` saying to use `wss://`.
async fn secure(stream: TcpStream, tls: &TlsSettings, deadline: Instant) -> Option<Transport> {
    let mut first = [0; 1];
    match timeout_at(deadline, stream.peek(&mut first)).await {
        Ok(Ok(1..)) => {}
        Ok(Ok(0)) => return None,
        Ok(Err(err)) => {
            debug!(%err, "the connection failed before its first byte");
            return None;
        }
        Err(_) => {
            debug!("no request within the handshake timeout");
            return None;
        }
    }
    if first[0] != TLS_HANDSHAKE_BYTE {
        info!("refused a plain request on the TLS port");
        answer(&mut transport::plain(stream), &Refusal::plain_on_tls()).await;
        return None;
    }
    match timeout_at(deadline, tls.acceptor().accept(stream)).await {
        Ok(Ok(stream)) => Some(transport::secure(stream)),
        Ok(Err(err)) => {
            info!(%err, "the TLS handshake failed");
            None
        }
        Err(_) => {
            debug!("the TLS handshake did not finish in time");
            None
        }
    }
}

/// tungstenite's settings: the relay's message size limit (anything larger fails
/// with a capacity error the connection answers with 1009) and small buffers.
fn websocket_config(config: &Config) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_message_size(Some(config.max_frame_bytes))
        .max_frame_size(Some(config.max_frame_bytes))
}

/// Why the relay turns a connection away before reading its request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TurnAway {
    /// The relay is full (503).
    Full(String),
    /// The client's address has too many connections open (429).
    TooMany(String),
}

impl TurnAway {
    /// The HTTP answer.
    fn refusal(self) -> Refusal {
        match self {
            Self::Full(why) => Refusal::unavailable(format!("{why}\n")),
            Self::TooMany(why) => Refusal::too_many(format!("{why}\n")),
        }
    }

    /// The answer as it goes on the wire, for a socket that can only be
    /// written to once, without waiting.
    pub fn into_bytes(self) -> Vec<u8> {
        self.refusal().to_bytes()
    }
}

/// Answers a connection the relay cannot take with an HTTP error (the
/// request unread: whatever it was, the answer is the same) and closes it.
/// On a relay with a certificate the TLS handshake comes first, within
/// [`TURN_AWAY_HANDSHAKE`], so that a `wss://` client reads the answer too.
pub async fn turn_away(stream: TcpStream, why: TurnAway, config: &Config) {
    let mut stream = match &config.tls {
        Some(tls) => match secure(stream, tls, Instant::now() + TURN_AWAY_HANDSHAKE).await {
            Some(stream) => stream,
            None => return,
        },
        None => transport::plain(stream),
    };
    answer(&mut stream, &why.refusal()).await;
}

/// Writes an HTTP answer and closes, giving the client a moment to read it.
async fn answer(stream: &mut Transport, refusal: &Refusal) {
    match timeout(ANSWER_GRACE, stream.write_all(&refusal.to_bytes())).await {
        Ok(Ok(())) => shutdown_and_drain(stream, ANSWER_GRACE).await,
        Ok(Err(err)) => debug!(%err, "could not write the HTTP answer"),
        Err(_) => debug!("could not write the HTTP answer in time"),
    }
}

/// Closes the write half of a stream, then reads and discards whatever the peer
/// still sends until it closes too or `grace` runs out.
///
/// Closing a socket that has unread bytes makes the kernel send a reset, and a
/// reset can destroy the answer or close frame just written before the peer has
/// read it. Draining first lets the last words arrive.
pub async fn shutdown_and_drain<S>(stream: &mut S, grace: Duration)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let drained = timeout(grace, async {
        if stream.shutdown().await.is_err() {
            return;
        }
        let mut scratch = vec![0; 4096];
        while let Ok(1..) = stream.read(&mut scratch).await {}
    })
    .await;
    if drained.is_err() {
        debug!("the peer kept sending after the relay closed; dropping it");
    }
}

/// What to do with a request head.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// A WebSocket upgrade to a valid room.
    Upgrade {
        /// The room named by the path.
        room: String,
        /// The request's `Origin` header, which browsers send for a page's
        /// sockets and the app and tabula-bench never send: refused unless
        /// allowed ([`Config::allowed_origins`]).
        origin: Option<String>,
    },
    /// Anything else, answered over plain HTTP.
    Refuse(Refusal),
}

/// An HTTP error answer.
#[derive(Debug, PartialEq, Eq)]
struct Refusal {
    /// Status code and reason phrase.
    status: &'static str,
    /// Header lines beyond the ones every answer carries, each ending in CRLF.
    headers: &'static str,
    /// A sentence for the person or program that made the request.
    body: String,
}

impl Refusal {
    /// Not a WebSocket upgrade: say what this server is and how to reach it.
    fn not_websocket() -> Self {
        Self {
            status: "426 Upgrade Required",
            headers: "Upgrade: websocket\r\n",
            body: "This is a Tabula relay: it speaks WebSocket only. \
                   Connect with a Tabula client to ws://HOST:PORT/ROOM.\n"
                .to_owned(),
        }
    }

    /// A TLS handshake to a relay that speaks plain `ws://`. A TLS client
    /// cannot read it, but a person looking at the bytes can.
    fn tls_on_plain() -> Self {
        Self::bad_request(
            "This relay speaks plain ws://, not TLS: use ws://HOST:PORT/ROOM (not wss://).",
        )
    }

    /// A plain request to a relay that speaks `wss://` only.
    fn plain_on_tls() -> Self {
        Self::bad_request(
            "This relay speaks wss:// (TLS) only: use wss://HOST:PORT/ROOM (not ws://).",
        )
    }

    /// A request the relay cannot serve, with the reason.
    fn bad_request(reason: impl std::fmt::Display) -> Self {
        Self {
            status: "400 Bad Request",
            headers: "",
            body: format!("{reason}\n"),
        }
    }

    /// An upgrade from a web page whose origin is not allowed: any page a
    /// member visits could otherwise open a socket to the relay in their
    /// name.
    fn forbidden_origin(origin: &str) -> Self {
        Self {
            status: "403 Forbidden",
            headers: "",
            body: format!(
                "Origin {origin:?} is not allowed on this relay (tabula-server --allow-origin).\n"
            ),
        }
    }

    /// The head did not fit in [`MAX_HEAD_BYTES`].
    fn too_large() -> Self {
        Self {
            status: "431 Request Header Fields Too Large",
            headers: "",
            body: format!("The request head is larger than {MAX_HEAD_BYTES} bytes.\n"),
        }
    }

    /// The head did not arrive in time.
    fn timeout() -> Self {
        Self {
            status: "408 Request Timeout",
            headers: "",
            body: "The request head did not arrive in time.\n".to_owned(),
        }
    }

    /// The relay cannot take the connection now: it is full, or out of file
    /// descriptors.
    fn unavailable(body: String) -> Self {
        Self {
            status: "503 Service Unavailable",
            headers: "Retry-After: 5\r\n",
            body,
        }
    }

    /// The client's address has as many connections open as it may.
    fn too_many(body: String) -> Self {
        Self {
            status: "429 Too Many Requests",
            headers: "Retry-After: 5\r\n",
            body,
        }
    }

    /// The whole answer as it goes on the wire.
    fn to_bytes(&self) -> Vec<u8> {
        format!(
            "HTTP/1.1 {}\r\n{}Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: {}\r\n\r\n{}",
            self.status,
            self.headers,
            self.body.len(),
            self.body
        )
        .into_bytes()
    }
}

/// Judges the bytes read so far: `None` while the head is incomplete.
fn judge(head: &[u8]) -> Option<Verdict> {
    if head.first() == Some(&TLS_HANDSHAKE_BYTE) {
        return Some(Verdict::Refuse(Refusal::tls_on_plain()));
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Partial) => None,
        Ok(httparse::Status::Complete(_)) => Some(judge_request(&request)),
        Err(httparse::Error::TooManyHeaders) => Some(Verdict::Refuse(Refusal::too_large())),
        Err(err) => Some(Verdict::Refuse(Refusal::bad_request(format_args!(
            "This is not an HTTP request ({err}). This is a Tabula relay: \
             connect with a Tabula client to ws://HOST:PORT/ROOM."
        )))),
    }
}

/// Judges a complete request head.
fn judge_request(request: &httparse::Request<'_, '_>) -> Verdict {
    let header_has = |name: &str, token: &str| {
        request
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .filter_map(|h| std::str::from_utf8(h.value).ok())
            .flat_map(|value| value.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };

    if !header_has("Upgrade", "websocket") {
        return Verdict::Refuse(Refusal::not_websocket());
    }
    let room = match tabula_shared::room_name::from_path(request.path.unwrap_or_default())
        .and_then(tabula_shared::room_name::canonical)
    {
        Ok(room) => room,
        Err(err) => return Verdict::Refuse(Refusal::bad_request(err)),
    };
    let problem = if request.method != Some("GET") {
        Some("A WebSocket upgrade must be a GET request.")
    } else if request.version != Some(1) {
        Some("A WebSocket upgrade must be an HTTP/1.1 request.")
    } else if !header_has("Connection", "upgrade") {
        Some("A WebSocket upgrade needs a Connection: Upgrade header.")
    } else if header("Sec-WebSocket-Version") != Some(b"13".as_slice()) {
        Some("This relay speaks WebSocket version 13 (Sec-WebSocket-Version: 13).")
    } else if header("Sec-WebSocket-Key").is_none() {
        Some("A WebSocket upgrade needs a Sec-WebSocket-Key header.")
    } else {
        None
    };
    match problem {
        Some(problem) => Verdict::Refuse(Refusal::bad_request(problem)),
        None => Verdict::Upgrade {
            room,
            origin: header("Origin").map(|value| String::from_utf8_lossy(value).into_owned()),
        },
    }
}

/// A stream with bytes that were already read from it put back in front: reads
/// return `prefix` first, then whatever the inner stream has; writes go straight
/// through.
#[derive(Debug)]
pub struct Rewind<S> {
    /// Bytes read before the stream was handed on (the request head), not yet
    /// read again. Replaced by an empty value once used up, freeing the buffer.
    prefix: Bytes,
    /// The socket.
    inner: S,
}

impl<S> Rewind<S> {
    /// A stream that replays `prefix` before reading from `inner`.
    pub fn new(inner: S, prefix: Bytes) -> Self {
        Self { prefix, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.prefix.is_empty() {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let n = this.prefix.len().min(buf.remaining());
        buf.put_slice(&this.prefix[..n]);
        this.prefix.advance(n);
        if this.prefix.is_empty() {
            this.prefix = Bytes::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewind<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPGRADE: &str = "GET /board HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n\
        Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    fn status(verdict: Option<Verdict>) -> &'static str {
        match verdict {
            Some(Verdict::Refuse(refusal)) => refusal.status,
            Some(Verdict::Upgrade { .. }) => "upgrade",
            None => "partial",
        }
    }

    #[test]
    fn a_proper_upgrade_names_its_room() {
        assert_eq!(
            judge(UPGRADE.as_bytes()),
            Some(Verdict::Upgrade {
                room: "board".to_owned(),
                origin: None,
            })
        );
        let from_a_page = UPGRADE.replace("\r\n\r\n", "\r\nOrigin: https://example.com\r\n\r\n");
        assert_eq!(
            judge(from_a_page.as_bytes()),
            Some(Verdict::Upgrade {
                room: "board".to_owned(),
                origin: Some("https://example.com".to_owned()),
            })
        );
        assert_eq!(status(judge(&UPGRADE.as_bytes()[..30])), "partial");
    }

    #[test]
    fn everything_else_is_refused_with_a_reason() {
        assert_eq!(
            status(judge(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")),
            "426 Upgrade Required"
        );
        let bad_room = UPGRADE.replace("/board", "/a/b");
        let Some(Verdict::Refuse(refusal)) = judge(bad_room.as_bytes()) else {
            panic!("a bad room must be refused");
        };
        assert_eq!(refusal.status, "400 Bad Request");
        assert!(
            refusal.body.contains("may hold only letters"),
            "{}",
            refusal.body
        );
        assert_eq!(
            status(judge(UPGRADE.replace("GET", "POST").as_bytes())),
            "400 Bad Request"
        );
        assert_eq!(
            status(judge(UPGRADE.replace(": 13", ": 8").as_bytes())),
            "400 Bad Request"
        );
        let Some(Verdict::Refuse(tls)) = judge(b"\x16\x03\x01\x02\x00") else {
            panic!("a TLS handshake must be refused");
        };
        assert_eq!(tls.status, "400 Bad Request");
        assert!(tls.body.contains("use ws://"), "{}", tls.body);
        let crowded = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "A: b\r\n".repeat(MAX_HEADERS + 1)
        );
        assert_eq!(
            status(judge(crowded.as_bytes())),
            "431 Request Header Fields Too Large"
        );
    }

    #[tokio::test]
    async fn rewind_replays_the_prefix_then_reads_the_stream() {
        let mut stream = Rewind::new(b" world".as_slice(), Bytes::from_static(b"hello"));
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "hello world");
        assert!(stream.prefix.is_empty());
    }
}
