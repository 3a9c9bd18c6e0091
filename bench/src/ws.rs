//! A minimal WebSocket client for the load run's peers: the opening handshake,
//! masked frames out, and a frame parser over a plain byte buffer in.
//!
//! `tokio-tungstenite` costs the generator a task wake-up, a buffer and a
//! message per frame received; at a million frames a second that saturated the
//! generator's core before the relay's. Here a peer reads its socket in big
//! chunks and walks the frames in place: the relay's frames to a client are
//! never masked, so finding each payload is a header read and a slice.
//!
//! Only what a benchmark against a loopback relay needs: no extensions, no
//! fragmented messages (none of the relays measured sends them; one is an
//! error), and the handshake's accept key is not checked. TLS, for `wss://`,
//! is the `transport`'s, below this.

use anyhow::{Context as _, bail, ensure};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::target::Target;
use crate::transport::{self, Stream};

/// The payload length byte that says a 16-bit length follows.
const LEN_16: u8 = 0x7E;
/// The payload length byte that says a 64-bit length follows.
const LEN_64: u8 = 0x7F;
/// The longest handshake response read.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// Frame opcodes (RFC 6455, 5.2).
pub mod opcode {
    /// A continuation of a fragmented message.
    pub const CONTINUATION: u8 = 0x0;
    /// A binary message.
    pub const BINARY: u8 = 0x2;
    /// The closing handshake.
    pub const CLOSE: u8 = 0x8;
    /// A ping, to answer with a pong.
    pub const PING: u8 = 0x9;
    /// A pong.
    pub const PONG: u8 = 0xA;
}

/// Connects to `target`'s relay (through TLS for `wss://`) and performs the
/// WebSocket opening handshake for `path`. Returns the stream and whatever
/// the server sent after its response head (the start of the first frames).
pub async fn connect(target: &Target, path: &str) -> anyhow::Result<(Stream, Vec<u8>)> {
    let authority = target.authority();
    let mut stream = transport::connect(target).await?;
    // The key is any 16 bytes in base64; this one is RFC 6455's example.
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0; 1024];
    let end = loop {
        let n = stream.read(&mut chunk).await?;
        ensure!(
            n > 0,
            "the server closed the connection during the handshake"
        );
        head.extend_from_slice(&chunk[..n]);
        if let Some(at) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        ensure!(
            head.len() <= MAX_RESPONSE_HEAD,
            "the handshake response is too long"
        );
    };
    let status = head.split(|&b| b == b'\n').next().unwrap_or_default();
    if !status.starts_with(b"HTTP/1.1 101") {
        bail!(
            "the server refused the WebSocket handshake: {}",
            String::from_utf8_lossy(status).trim_end()
        );
    }
    Ok((stream, head.split_off(end)))
}

/// A client frame (FIN set, masked with `mask`) carrying `payload`.
pub fn client_frame(opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x80 | opcode);
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len @ 126..=0xFFFF => {
            frame.push(0x80 | LEN_16);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | LEN_64);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(
        payload
            .iter()
            .zip(mask.iter().cycle())
            .map(|(byte, key)| byte ^ key),
    );
    frame
}

/// One frame found in a buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// What it is.
    pub opcode: u8,
    /// Whether it ends its message.
    pub fin: bool,
    /// Its payload.
    pub payload: &'a [u8],
}

/// What a close frame's payload says: its code and reason.
#[must_use]
pub fn close_reason(payload: &[u8]) -> String {
    match payload {
        [high, low, reason @ ..] => format!(
            "{} {}",
            u16::from_be_bytes([*high, *low]),
            String::from_utf8_lossy(reason)
        ),
        _ => "no reason given".to_owned(),
    }
}

/// The frame at the start of `buf`, and how many bytes it takes; `Ok(None)` if
/// `buf` does not hold all of it yet (then `needed` says how many bytes would).
pub fn parse(buf: &[u8]) -> anyhow::Result<Parsed<'_>> {
    let [first, second, ..] = *buf else {
        return Ok(Parsed::Incomplete { needed: 2 });
    };
    ensure!(first & 0x70 == 0, "a frame with reserved bits set");
    ensure!(second & 0x80 == 0, "a masked frame from the server");
    let (len, header) = match second & 0x7F {
        LEN_16 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(Parsed::Incomplete { needed: 4 }),
        },
        LEN_64 => match buf.get(2..10) {
            Some(b) => (u64::from_be_bytes(b.try_into()?), 10),
            None => return Ok(Parsed::Incomplete { needed: 10 }),
        },
        len => (u64::from(len), 2),
    };
    let total = header + usize::try_from(len).context("a frame larger than memory")?;
    match buf.get(header..total) {
        Some(payload) => Ok(Parsed::Frame(
            Frame {
                opcode: first & 0x0F,
                fin: first & 0x80 != 0,
                payload,
            },
            total,
        )),
        None => Ok(Parsed::Incomplete { needed: total }),
    }
}

/// What [`parse`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A whole frame, and the bytes it took.
    Frame(Frame<'a>, usize),
    /// Not enough bytes: the frame needs `needed` in all.
    Incomplete {
        /// The bytes the frame (or its header) needs, from its start.
        needed: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server frame (unmasked).
    fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = client_frame(opcode, payload, [0; 4]);
        // Drop the mask bit and the (zero) key.
        frame[1] &= 0x7F;
        let key_at = match payload.len() {
            0..=125 => 2,
            126..=0xFFFF => 4,
            _ => 10,
        };
        frame.drain(key_at..key_at + 4);
        frame
    }

    #[test]
    fn frames_of_every_length_form_parse_whole_and_in_pieces() {
        for len in [0, 1, 125, 126, 1000, 0xFFFF, 0x1_0000] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut buf = server_frame(opcode::BINARY, &payload);
            buf.extend(server_frame(opcode::PING, b"hi"));
            let Parsed::Frame(frame, used) = parse(&buf).unwrap() else {
                panic!("{len}: not parsed");
            };
            assert_eq!(frame.opcode, opcode::BINARY);
            assert!(frame.fin);
            assert_eq!(frame.payload, payload.as_slice());
            let Parsed::Frame(ping, _) = parse(&buf[used..]).unwrap() else {
                panic!("{len}: the second frame");
            };
            assert_eq!((ping.opcode, ping.payload), (opcode::PING, &b"hi"[..]));
            // Any cut inside the first frame asks for more, never past its end.
            for cut in [0, 1, 2, 3, used / 2, used - 1]
                .into_iter()
                .filter(|&cut| cut < used)
            {
                match parse(&buf[..cut]).unwrap() {
                    Parsed::Incomplete { needed } => assert!(needed > cut && needed <= used),
                    Parsed::Frame(..) => panic!("{len}: a frame from {cut} bytes"),
                }
            }
        }
    }

    #[test]
    fn client_frames_are_masked() {
        let frame = client_frame(opcode::BINARY, b"abcd", [1, 2, 3, 4]);
        assert_eq!(frame[..2], [0x82, 0x84]);
        assert_eq!(frame[2..6], [1, 2, 3, 4]);
        assert_eq!(frame[6..], [b'a' ^ 1, b'b' ^ 2, b'c' ^ 3, b'd' ^ 4]);
        // A masked frame is refused on the way in: servers never mask.
        assert!(parse(&frame).is_err());
    }
}
