//! The bytes under every peer's WebSocket: a TCP connection to the relay,
//! and for `wss://` TLS over it, with the relay's certificate checked as the
//! app checks it (`tabula_shared::pinning`): the one `--fingerprint` or the
//! invitation's `#fp=` names, or, with `--insecure`, whatever it presents.
//!
//! A load peer splits its stream into a reader and a writer task: plain TCP
//! into its owned halves (no lock between them, as before TLS), TLS into
//! tokio's halves, which share the one session.

use std::io;

use anyhow::Context as _;
use tabula_shared::pinning::{PinnedClient, server_name};
use tokio::io::{AsyncWrite, AsyncWriteExt as _, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;

use crate::target::Target;

/// A connection to the relay: `Left` for `ws://`, `Right` for `wss://`
/// (boxed: a TLS session's state is large). `Either` reads and writes
/// through whichever it holds.
pub type Stream = Either<TcpStream, Box<TlsStream<TcpStream>>>;

/// The reading half of a [`Stream`].
pub type StreamReader = Either<OwnedReadHalf, Box<ReadHalf<TlsStream<TcpStream>>>>;

/// The writing half of a [`Stream`].
pub type StreamWriter = Either<OwnedWriteHalf, Box<WriteHalf<TlsStream<TcpStream>>>>;

/// Connects to the relay of `target`, through TLS for `wss://`.
pub async fn connect(target: &Target) -> anyhow::Result<Stream> {
    connect_from(target, None).await
}

/// [`connect`], from the local address `from` if given (one of 127.0.0.0/8,
/// so that a relay on this machine sees many clients).
pub async fn connect_from(
    target: &Target,
    from: Option<std::net::IpAddr>,
) -> anyhow::Result<Stream> {
    let authority = target.authority();
    let tcp = match from {
        None => TcpStream::connect(authority.as_str()).await,
        Some(from) => {
            let relay = tokio::net::lookup_host(authority.as_str())
                .await?
                .next()
                .with_context(|| format!("no address for {authority}"))?;
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(std::net::SocketAddr::new(from, 0))?;
            socket.connect(relay).await
        }
    }
    .with_context(|| format!("connecting to {authority}"))?;
    tcp.set_nodelay(true)?;
    let Some(expect) = target.certificate() else {
        return Ok(Either::Left(tcp));
    };
    let client = PinnedClient::new(expect);
    let name = server_name(target.host())
        .with_context(|| format!("{:?} is not a host name", target.host()))?;
    match TlsConnector::from(client.config()).connect(name, tcp).await {
        Ok(tls) => Ok(Either::Right(Box::new(tls))),
        Err(err) => match client.mismatch() {
            Some(mismatch) => Err(anyhow::anyhow!("{mismatch}: refusing to connect")),
            None => Err(err).with_context(|| format!("the TLS handshake with {authority}")),
        },
    }
}

/// Writing and flushing at once, on a [`Stream`] or its [`StreamWriter`].
pub trait SendFlushed: AsyncWrite + Unpin {
    /// Writes `bytes` and flushes them: TLS holds records back until it is
    /// flushed (plain TCP sends at once, and its flush costs nothing).
    fn send(&mut self, bytes: &[u8]) -> impl Future<Output = io::Result<()>> {
        async move {
            self.write_all(bytes).await?;
            self.flush().await
        }
    }
}

impl<W: AsyncWrite + Unpin> SendFlushed for W {}

/// A reader and a writer half of `stream`, for two tasks.
pub fn split(stream: Stream) -> (StreamReader, StreamWriter) {
    match stream {
        Either::Left(tcp) => {
            let (read, write) = tcp.into_split();
            (Either::Left(read), Either::Left(write))
        }
        Either::Right(tls) => {
            let (read, write) = tokio::io::split(*tls);
            (
                Either::Right(Box::new(read)),
                Either::Right(Box::new(write)),
            )
        }
    }
}
