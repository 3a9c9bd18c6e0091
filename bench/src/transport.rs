//! The bytes under every peer's WebSocket: a TCP connection to the relay,
//! and for `wss://` TLS over it, with the relay's certificate checked as the
//! app checks it (`tabula_shared::pinning`): the one `--fingerprint` or the
//! invitation's `#fp=` names, or, with `--insecure`, whatever it presents.
//!
//! A load peer splits its stream into a reader and a writer task: plain TCP
//! into its owned halves (no lock between them, as before TLS), TLS into
//! tokio's halves, which share the one session.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use anyhow::Context as _;
use tabula_shared::pinning::{PinnedClient, server_name};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::target::Target;

/// A connection to the relay, plain or through TLS.
pub enum Stream {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://`. Boxed: a TLS session's state is large.
    Tls(Box<TlsStream<TcpStream>>),
}

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
        return Ok(Stream::Plain(tcp));
    };
    let client = PinnedClient::new(expect);
    let name = server_name(target.host())
        .with_context(|| format!("{:?} is not a host name", target.host()))?;
    match TlsConnector::from(client.config()).connect(name, tcp).await {
        Ok(tls) => Ok(Stream::Tls(Box::new(tls))),
        Err(err) => match client.mismatch() {
            Some(mismatch) => Err(anyhow::anyhow!("{mismatch}: refusing to connect")),
            None => Err(err).with_context(|| format!("the TLS handshake with {authority}")),
        },
    }
}

impl Stream {
    /// Writes `bytes` and flushes them: TLS holds records back until it is
    /// flushed (plain TCP sends at once, and its flush costs nothing).
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes).await?;
        self.flush().await
    }

    /// A reader and a writer half, for two tasks.
    pub fn into_split(self) -> (StreamReader, StreamWriter) {
        match self {
            Self::Plain(tcp) => {
                let (read, write) = tcp.into_split();
                (StreamReader::Plain(read), StreamWriter::Plain(write))
            }
            Self::Tls(tls) => {
                let (read, write) = tokio::io::split(*tls);
                (
                    StreamReader::Tls(Box::new(read)),
                    StreamWriter::Tls(Box::new(write)),
                )
            }
        }
    }
}

/// The reading half of a [`Stream`].
pub enum StreamReader {
    /// Of a plain connection.
    Plain(OwnedReadHalf),
    /// Of a TLS connection.
    Tls(Box<ReadHalf<TlsStream<TcpStream>>>),
}

/// The writing half of a [`Stream`].
pub enum StreamWriter {
    /// Of a plain connection.
    Plain(OwnedWriteHalf),
    /// Of a TLS connection.
    Tls(Box<WriteHalf<TlsStream<TcpStream>>>),
}

impl StreamWriter {
    /// Writes `bytes` and flushes them, as [`Stream::send`].
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes).await?;
        self.flush().await
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}

impl AsyncRead for StreamReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(read) => Pin::new(read).poll_read(cx, buf),
            Self::Tls(read) => Pin::new(read.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for StreamWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(write) => Pin::new(write).poll_write(cx, buf),
            Self::Tls(write) => Pin::new(write.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(write) => Pin::new(write).poll_flush(cx),
            Self::Tls(write) => Pin::new(write.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(write) => Pin::new(write).poll_shutdown(cx),
            Self::Tls(write) => Pin::new(write.as_mut()).poll_shutdown(cx),
        }
    }
}
