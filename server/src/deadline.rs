//! A deadline on every WebSocket message a peer sends: [`Deadline`] wraps a
//! connection's stream below tungstenite, follows the frames going by, and
//! fails the read once a message has been arriving for longer than the
//! deadline. A leaf: it imports nothing from the crate.
//!
//! tungstenite holds a fragmented message until its last fragment, and a
//! frame until its last byte, however long that takes, while pings (which
//! may come between fragments) keep the connection alive: a peer could hold
//! a megabyte of the relay's memory forever, and a thousand peers a gigabyte.
//! The deadline runs from the first byte of a frame, or of a fragmented
//! message, until its last; control frames between fragments do not stop it.
//! An idle connection (nothing begun) has no deadline: heartbeats look after
//! those.
//!
//! The stream starts with the HTTP request head (the WebSocket handshake),
//! which is passed over to its blank line; frames follow. Only what is read
//! is followed: the deadline can fire only while the connection reads, and
//! [`Deadline::restart`] gives a message begun before the relay paused its
//! reading (to throttle the peer) its time again.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep, sleep_until};

/// The error a read fails with once a message is late: its kind is
/// `TimedOut` and its text says so.
#[derive(Debug, thiserror::Error)]
#[error("a message took longer than {} s to arrive", .0.as_secs_f32())]
pub struct MessageTooSlow(pub Duration);

/// Where in the byte stream the reader is.
#[derive(Clone, Copy, Debug)]
enum Position {
    /// In the HTTP request head: how many bytes of its final CRLF CRLF have
    /// just gone by.
    Head(u8),
    /// In a frame's header: its bytes so far.
    Header {
        /// The header's bytes (at most 14).
        bytes: [u8; 14],
        /// How many are in.
        have: usize,
    },
    /// In a frame's payload.
    Payload {
        /// Bytes still to come.
        left: u64,
        /// Whether the frame is the last of a data message (or a control
        /// frame, which is never part of one).
        ends_message: bool,
        /// Whether it is a control frame (ping, pong, close).
        control: bool,
    },
}

/// A stream whose incoming WebSocket messages must each arrive within a
/// deadline of their first byte.
pub struct Deadline<S> {
    /// The stream.
    inner: S,
    /// How long a message may take.
    limit: Duration,
    /// Where the frames are.
    position: Position,
    /// Whether a fragmented data message has begun and not ended.
    fragmented: bool,
    /// When the message (or frame) under way began, if one is.
    started: Option<Instant>,
    /// The timer for `started + limit`, while it runs.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<S> std::fmt::Debug for Deadline<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deadline")
            .field("limit", &self.limit)
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl<S> Deadline<S> {
    /// Wraps a fresh connection's stream, which starts with the HTTP request
    /// head.
    pub fn new(inner: S, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            position: Position::Head(0),
            fragmented: false,
            started: None,
            timer: None,
        }
    }

    /// Gives the message under way, if any, its full time again from now: the
    /// relay stopped reading for a while, which is not the peer's doing.
    pub fn restart(&mut self) {
        if self.started.is_some() {
            self.started = Some(Instant::now());
            self.timer = None;
        }
    }

    /// Follows `bytes` through the frames, and starts or stops the clock.
    fn follow(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match &mut self.position {
                Position::Head(matched) => {
                    let byte = bytes[0];
                    bytes = &bytes[1..];
                    let expected = b"\r\n\r\n"[usize::from(*matched)];
                    *matched = if byte == expected {
                        *matched + 1
                    } else {
                        u8::from(byte == b'\r')
                    };
                    if *matched == 4 {
                        self.position = Position::Header {
                            bytes: [0; 14],
                            have: 0,
                        };
                    }
                }
                Position::Header {
                    bytes: header,
                    have,
                } => {
                    header[*have] = bytes[0];
                    *have += 1;
                    bytes = &bytes[1..];
                    if let Some(next) = frame_start(header, *have) {
                        self.position = next;
                        self.finish_empty_frame();
                    }
                }
                Position::Payload { left, .. } => {
                    let take = bytes
                        .len()
                        .min(usize::try_from(*left).unwrap_or(usize::MAX));
                    *left -= take as u64;
                    bytes = &bytes[take..];
                    self.finish_empty_frame();
                }
            }
        }
        let under_way = self.fragmented
            || matches!(self.position, Position::Header { have, .. } if have > 0)
            || matches!(self.position, Position::Payload { .. });
        match (under_way, self.started) {
            (true, None) => {
                self.started = Some(Instant::now());
                self.timer = None;
            }
            (false, Some(_)) => {
                self.started = None;
                self.timer = None;
            }
            _ => {}
        }
    }

    /// Ends the frame whose payload has all gone by.
    fn finish_empty_frame(&mut self) {
        if let Position::Payload {
            left: 0,
            ends_message,
            control,
        } = self.position
        {
            if !control {
                self.fragmented = !ends_message;
            }
            self.position = Position::Header {
                bytes: [0; 14],
                have: 0,
            };
        }
    }
}

/// The payload that follows a frame header of `have` bytes, once the header
/// is complete.
fn frame_start(header: &[u8; 14], have: usize) -> Option<Position> {
    if have < 2 {
        return None;
    }
    let fin = header[0] & 0x80 != 0;
    let control = header[0] & 0x08 != 0;
    let masked = header[1] & 0x80 != 0;
    let (extra, short) = match header[1] & 0x7f {
        126 => (2, None),
        127 => (8, None),
        len => (0, Some(u64::from(len))),
    };
    let needed = 2 + extra + if masked { 4 } else { 0 };
    if have < needed {
        return None;
    }
    let left = short.unwrap_or_else(|| {
        header[2..2 + extra]
            .iter()
            .fold(0_u64, |len, byte| (len << 8) | u64::from(*byte))
    });
    Some(Position::Payload {
        left,
        ends_message: fin || control,
        control,
    })
}

impl<S: AsyncRead + Unpin> AsyncRead for Deadline<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(started) = this.started {
            let limit = this.limit;
            let timer = this
                .timer
                .get_or_insert_with(|| Box::pin(sleep_until(started + limit)));
            if timer.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    MessageTooSlow(limit),
                )));
            }
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = read {
            let filled = buf.filled();
            let new = filled[before..].to_vec();
            this.follow(&new);
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Deadline<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame: `fin`, `opcode`, and a payload of `len` bytes.
    fn frame(fin: bool, opcode: u8, len: usize) -> Vec<u8> {
        let mut bytes = vec![u8::from(fin) << 7 | opcode];
        match len {
            0..=125 => bytes.push(0x80 | len as u8),
            126..=0xffff => {
                bytes.push(0x80 | 0x7e);
                bytes.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                bytes.push(0x80 | 0x7f);
                bytes.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        bytes.extend(std::iter::repeat_n(7, len));
        bytes
    }

    fn following() -> Deadline<()> {
        let mut deadline = Deadline::new((), Duration::from_secs(1));
        deadline.follow(b"GET /room HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(deadline.started.is_none(), "a head is not a message");
        deadline
    }

    #[tokio::test]
    async fn whole_frames_leave_no_message_under_way() {
        let mut d = following();
        let mut bytes = frame(true, 2, 100);
        bytes.extend(frame(true, 9, 0));
        bytes.extend(frame(true, 2, 70_000));
        d.follow(&bytes);
        assert!(d.started.is_none());
    }

    #[tokio::test]
    async fn a_partial_frame_or_an_open_fragmented_message_is_under_way() {
        let mut d = following();
        let whole = frame(true, 2, 300);
        d.follow(&whole[..10]);
        assert!(d.started.is_some(), "a frame half read");
        d.follow(&whole[10..]);
        assert!(d.started.is_none());
        // A first fragment, a ping between fragments: still under way.
        d.follow(&frame(false, 2, 10));
        assert!(d.started.is_some());
        let started = d.started;
        d.follow(&frame(true, 9, 4));
        assert_eq!(d.started, started, "a ping does not end the message");
        d.follow(&frame(false, 0, 10));
        assert_eq!(d.started, started);
        d.follow(&frame(true, 0, 10));
        assert!(d.started.is_none(), "the last fragment ends it");
    }
}
