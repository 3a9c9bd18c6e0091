//! One active peer of a load run: its writer sends a frame per tick and closes
//! when the run stops; its reader counts (and, for every tenth peer, times)
//! what the others send, and answers pings.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::AsyncReadExt as _;
use tokio::sync::{Mutex as AsyncMutex, watch};
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep, timeout};

use super::{CLOSE_TIMEOUT, Mode, READ_CHUNK, SEND_TIMEOUT, Shared};
use crate::stats::Latencies;
use crate::transport::{SendFlushed as _, StreamReader, StreamWriter};
use crate::wire::{self, OpFrames, Received, Scanned, Scanner};
use crate::ws::{self, Parsed, opcode};

/// What one writer sends.
#[derive(Debug)]
pub(super) enum Frames {
    /// Tabula ops.
    Tabula(OpFrames),
    /// Raw timestamped frames.
    Raw {
        /// The writer's peer index, in each frame.
        sender: u32,
        /// The frame size.
        size: usize,
    },
}

/// The sending half of one active peer.
pub(super) struct Writer {
    /// The socket's sending half, shared with the reader, which answers pings.
    pub(super) sink: Arc<AsyncMutex<StreamWriter>>,
    /// The key this peer masks its frames with.
    pub(super) mask: [u8; 4],
    /// Builds each frame.
    pub(super) frames: Frames,
    /// The peer's room, whose sent count this writer adds to.
    pub(super) room: usize,
    /// Counters and the failure flag.
    pub(super) shared: Arc<Shared>,
    /// Turns true when the run stops; the writer then closes the connection.
    pub(super) stop: watch::Receiver<bool>,
}

impl Writer {
    /// Sends one frame every `period` from `first` until `end`, then waits for the
    /// run to stop and closes the connection.
    pub(super) async fn run(mut self, first: Instant, period: Duration, end: Instant) {
        let mut ticks = interval_at(first, period);
        // A writer that falls behind sends less rather than in bursts; `sent`
        // shows the rate it managed.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = self.stop.wait_for(|stop| *stop) => break,
            }
            if Instant::now() >= end || self.shared.has_failed() {
                break;
            }
            let sent_ns = self.shared.now_ns();
            let frame = match &mut self.frames {
                Frames::Tabula(frames) => match frames.next(sent_ns) {
                    Ok(frame) => frame,
                    Err(err) => {
                        self.shared.fail(format!("{err:#}"));
                        break;
                    }
                },
                Frames::Raw { sender, size } => wire::raw_frame(sent_ns, *sender, *size),
            };
            let frame = ws::client_frame(opcode::BINARY, &frame, self.mask);
            match timeout(SEND_TIMEOUT, async {
                self.sink.lock().await.send(&frame).await
            })
            .await
            {
                Ok(Ok(())) => {
                    self.shared.sent[self.room].fetch_add(1, Ordering::Relaxed);
                }
                Ok(Err(err)) => {
                    self.shared
                        .fail(format!("sending to the relay failed: {err}"));
                    break;
                }
                Err(_) => {
                    self.shared
                        .fail(format!("one send took longer than {SEND_TIMEOUT:?}"));
                    break;
                }
            }
        }
        let _ = self.stop.wait_for(|stop| *stop).await;
        if !self.shared.has_failed() {
            let close = ws::client_frame(opcode::CLOSE, &1000_u16.to_be_bytes(), self.mask);
            let _ = timeout(CLOSE_TIMEOUT, async {
                self.sink.lock().await.send(&close).await
            })
            .await;
        }
    }
}

/// Answers the relay's pings on a peer's socket.
pub(super) struct Pong {
    /// The socket's sending half, shared with the writer.
    pub(super) sink: Arc<AsyncMutex<StreamWriter>>,
    /// The key this peer masks its frames with.
    pub(super) mask: [u8; 4],
}

/// The receiving half of one active peer.
pub(super) struct Reader {
    /// The socket's receiving half.
    pub(super) read: StreamReader,
    /// Bytes read during the welcome and not parsed yet.
    pub(super) pending: Vec<u8>,
    /// Where pongs go.
    pub(super) pong: Pong,
    /// The protocol.
    pub(super) mode: Mode,
    /// Ops up to the head at the welcome are catch-up from earlier runs and ignored.
    pub(super) head: u64,
    /// For a peer that only counts: how long it waits between reads.
    pub(super) bulk: Option<Duration>,
    /// Reads ops and acks without decoding them.
    pub(super) scanner: Scanner,
    /// Counters and the failure flag.
    pub(super) shared: Arc<Shared>,
    /// Turns true when the run stops.
    pub(super) stop: watch::Receiver<bool>,
}

/// Whether a reader goes on after the frames of one read.
enum Next {
    /// More to read.
    Read,
    /// The run stopped, or failed.
    Stop,
}

impl Reader {
    /// Reads the peer's frames until the run stops, counting and timing what
    /// other peers sent.
    pub(super) async fn run(mut self) -> Latencies {
        let mut latencies = Latencies::new();
        let mut buf = std::mem::take(&mut self.pending);
        let mut filled = buf.len();
        buf.resize(filled.max(READ_CHUNK), 0);
        loop {
            let (used, next) = self.frames(&buf[..filled], &mut latencies).await;
            buf.copy_within(used..filled, 0);
            filled -= used;
            if let Next::Stop = next {
                break;
            }
            if buf.len() - filled < READ_CHUNK / 2 {
                buf.resize(filled + READ_CHUNK, 0);
            }
            let read = tokio::select! {
                biased;
                _ = self.stop.wait_for(|stop| *stop) => break,
                read = self.read.read(&mut buf[filled..]) => read,
            };
            match read {
                Ok(n) if n > 0 => {
                    filled += n;
                    // A full read may leave more behind: read again at once.
                    if let Some(every) = self.bulk.filter(|_| filled < buf.len()) {
                        tokio::select! {
                            biased;
                            _ = self.stop.wait_for(|stop| *stop) => {}
                            () = sleep(every) => {}
                        }
                    }
                }
                // The writer may have closed by the time the stop is seen.
                _ if *self.stop.borrow() => break,
                Ok(_) => {
                    self.shared.fail("the relay ended a connection".to_owned());
                    break;
                }
                Err(err) => {
                    self.shared
                        .fail(format!("reading from the relay failed: {err}"));
                    break;
                }
            }
        }
        latencies
    }

    /// Takes every whole frame at the start of `bytes`, all received now;
    /// returns how many bytes they took.
    async fn frames(&mut self, bytes: &[u8], latencies: &mut Latencies) -> (usize, Next) {
        let now_ns = self.shared.now_ns();
        let (mut used, mut delivered, mut acked) = (0, 0, 0);
        let mut next = Next::Read;
        loop {
            let frame = match ws::parse(&bytes[used..]) {
                Ok(Parsed::Frame(frame, len)) => {
                    used += len;
                    frame
                }
                Ok(Parsed::Incomplete { .. }) => break,
                Err(err) => {
                    self.shared
                        .fail(format!("a bad frame from the relay: {err:#}"));
                    next = Next::Stop;
                    break;
                }
            };
            if !frame.fin || frame.opcode == opcode::CONTINUATION {
                self.shared
                    .fail("a fragmented message from the relay (not supported)".to_owned());
                next = Next::Stop;
                break;
            }
            let sent_ns = match frame.opcode {
                opcode::BINARY => match self.binary(frame.payload) {
                    Ok(Some(Delivery::Op(sent_ns))) => Some(sent_ns),
                    Ok(Some(Delivery::Ack)) => {
                        acked += 1;
                        None
                    }
                    Ok(None) => None,
                    Err(error) => {
                        self.shared.fail(error);
                        next = Next::Stop;
                        break;
                    }
                },
                opcode::PING => {
                    let pong = ws::client_frame(opcode::PONG, frame.payload, self.pong.mask);
                    let _ = timeout(SEND_TIMEOUT, async {
                        self.pong.sink.lock().await.send(&pong).await
                    })
                    .await;
                    None
                }
                opcode::CLOSE => {
                    // After the stop, this is the answer to the writer's close.
                    if !*self.stop.borrow() {
                        self.shared.fail(format!(
                            "the relay closed a connection: {:?}",
                            String::from_utf8_lossy(frame.payload)
                        ));
                    }
                    next = Next::Stop;
                    break;
                }
                _ => None,
            };
            if let Some(sent_ns) = sent_ns {
                if self.bulk.is_none() {
                    latencies.record_ns(now_ns.saturating_sub(sent_ns));
                }
                delivered += 1;
            }
        }
        if delivered > 0 {
            self.shared
                .delivered
                .fetch_add(delivered, Ordering::Relaxed);
        }
        if acked > 0 {
            self.shared.acked.fetch_add(acked, Ordering::Relaxed);
        }
        (used, next)
    }

    /// What a binary message means: another peer's op (with its send time), an
    /// ack of this peer's, nothing to count, or an error to stop the run with.
    fn binary(&self, payload: &[u8]) -> Result<Option<Delivery>, String> {
        if self.mode == Mode::Raw {
            return Ok(wire::raw_sent_ns(payload).map(Delivery::Op));
        }
        let (sent_ns, seq) = match self.scanner.scan(payload) {
            Scanned::Op { sent_ns, seq } => (sent_ns, seq),
            Scanned::Ack => return Ok(Some(Delivery::Ack)),
            Scanned::Other => match wire::receive(payload) {
                Ok(Received::Op { sent_ns, seq }) => (sent_ns, seq),
                Ok(Received::Ack) => return Ok(Some(Delivery::Ack)),
                Ok(Received::Error(error)) => {
                    return Err(format!("the relay refused an op: {error}"));
                }
                Ok(Received::Welcome { .. } | Received::Other) => return Ok(None),
                Ok(Received::Challenge(_)) => {
                    return Err("a password challenge after the welcome".to_owned());
                }
                Err(err) => return Err(format!("{err:#}")),
            },
        };
        Ok((seq > self.head).then_some(Delivery::Op(sent_ns)))
    }
}

/// A binary message that counts.
enum Delivery {
    /// Another peer's op, sent at this time (nanoseconds since the epoch).
    Op(u64),
    /// An ack of this peer's op.
    Ack,
}
