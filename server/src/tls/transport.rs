//! [`Transport`]: an accepted connection, plain or through TLS, which the
//! relay reads the HTTP head from and speaks WebSocket over. Plain
//! connections pay nothing for TLS: its state is boxed. `tokio_util`'s
//! `Either` reads and writes through whichever it holds.

use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_util::either::Either;

/// An accepted connection: `Left` for `ws://`, `Right` for `wss://` after
/// the handshake (boxed: a TLS session's state is large, and plain
/// connections should not pay for it). Made by [`plain`] and [`secure`].
pub type Transport = Either<TcpStream, Box<TlsStream<TcpStream>>>;

/// A `ws://` connection.
pub fn plain(stream: TcpStream) -> Transport {
    Either::Left(stream)
}

/// A `wss://` connection, its TLS handshake done.
pub fn secure(stream: TlsStream<TcpStream>) -> Transport {
    Either::Right(Box::new(stream))
}
