//! A broadcast relay written with `fastwebsockets` the way a Rust user after
//! speed would write it: every binary (or text) message is sent to every other
//! client connected to the same URL path (the room), and nothing else is done
//! (no order, no history, no acknowledgements, no limits).
//!
//! - A multi-threaded tokio runtime; hyper answers the HTTP upgrade
//!   (`fastwebsockets::upgrade`), then the TCP stream is taken back from hyper
//!   and split into its owned halves, so reading and writing share no lock.
//! - Each connection has a reader task and a writer task joined by an
//!   unbounded mpsc queue (Node `ws` and Python `websockets` also queue
//!   without bound). A message read is frozen into `Bytes` once and a handle
//!   to it is queued for each other member: no copy per member.
//! - The writer drains whatever is queued (up to a batch) into a buffered
//!   writer and flushes once, so a busy peer gets many frames per `write`.
//!
//! Usage: `fastwebsockets-relay PORT` (serves on 127.0.0.1 only).

use std::collections::HashMap;
use std::io::Cursor;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use fastwebsockets::{
    FragmentCollectorRead, Frame, OpCode, Payload, Role, WebSocketError, after_handshake_split,
    upgrade,
};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Frames a writer takes from its queue before it flushes.
const WRITE_BATCH: usize = 256;
/// The writer's buffer: a flush of small frames is one `write` per 16 KiB.
const WRITE_BUFFER: usize = 16 * 1024;

/// What a connection's writer sends.
enum Out {
    /// A message from another member of the room.
    Message(OpCode, Bytes),
    /// A frame the protocol obliges this connection to send (a pong, or the
    /// answer to a close, after which the writer stops).
    Control(OpCode, Bytes),
}

/// The members of one room: each connection's id and its writer's queue.
type Members = RwLock<Vec<(u64, mpsc::UnboundedSender<Out>)>>;

/// Every room with someone in it, by URL path.
#[derive(Default)]
struct Rooms {
    rooms: Mutex<HashMap<String, Arc<Members>>>,
    next_id: AtomicU64,
}

impl Rooms {
    /// Adds a member to the room at `path`: its id and the room.
    fn join(&self, path: &str, queue: mpsc::UnboundedSender<Out>) -> (u64, Arc<Members>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut rooms = self.rooms.lock().expect("rooms lock");
        let room = rooms.entry(path.to_owned()).or_default().clone();
        room.write().expect("room lock").push((id, queue));
        (id, room)
    }

    /// Removes a member, and its room once empty.
    fn leave(&self, path: &str, id: u64, room: &Members) {
        let mut rooms = self.rooms.lock().expect("rooms lock");
        let mut members = room.write().expect("room lock");
        members.retain(|(member, _)| *member != id);
        if members.is_empty() {
            rooms.remove(path);
        }
    }
}

fn main() -> std::io::Result<()> {
    let port: u16 = match std::env::args().nth(1).map(|arg| arg.parse()) {
        None => 8080,
        Some(Ok(port)) => port,
        Some(Err(err)) => {
            eprintln!("usage: fastwebsockets-relay PORT ({err})");
            std::process::exit(2);
        }
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(port))
}

/// Accepts connections on 127.0.0.1:`port` until killed.
async fn serve(port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!("fastwebsockets relay on ws://127.0.0.1:{port}/ROOM");
    let rooms = Arc::new(Rooms::default());
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of descriptors, say: the next accept may succeed.
            Err(err) => {
                eprintln!("accept: {err}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let rooms = rooms.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handshake(request, rooms.clone()));
            let connection = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            // A client that goes away is no news (Node ws and Python
            // websockets ignore it too).
            let _ = connection.await;
        });
    }
}

/// Answers the upgrade request and hands the connection to [`relay`].
#[allow(clippy::unused_async)] // hyper's `service_fn` takes a function returning a future.
async fn handshake(
    mut request: Request<Incoming>,
    rooms: Arc<Rooms>,
) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let path = request.uri().path().to_owned();
    let (response, upgrading) = upgrade::upgrade(&mut request)?;
    tokio::spawn(async move {
        if let Ok(ws) = upgrading.await {
            // Ends when the client goes, cleanly or not.
            let _ = relay(ws.into_inner().into_inner(), &path, &rooms).await;
        }
    });
    Ok(response)
}

/// Relays one connection's messages to the other members of its room until it
/// closes.
async fn relay(
    upgraded: hyper::upgrade::Upgraded,
    path: &str,
    rooms: &Rooms,
) -> Result<(), WebSocketError> {
    let parts = upgraded
        .downcast::<TokioIo<TcpStream>>()
        .map_err(|_| WebSocketError::IoError(std::io::Error::other("not a TCP stream")))?;
    let (read, write) = parts.io.into_inner().into_split();
    // Bytes hyper read past the request, if the client sent frames early:
    // copied, so that hyper's read buffer is not kept for the connection's life.
    let read = Cursor::new(Bytes::copy_from_slice(&parts.read_buf)).chain(read);
    let (read, write) = after_handshake_split(
        read,
        BufWriter::with_capacity(WRITE_BUFFER, write),
        Role::Server,
    );
    let mut read = FragmentCollectorRead::new(read);
    let (queue, outbox) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_loop(write, outbox));
    let (id, room) = rooms.join(path, queue.clone());
    let result = async {
        loop {
            let frame = read
                .read_frame(&mut |obliged: Frame<'_>| {
                    let out =
                        Out::Control(obliged.opcode, Bytes::copy_from_slice(&obliged.payload));
                    let sent = queue
                        .send(out)
                        .map_err(|_| WebSocketError::ConnectionClosed);
                    async move { sent }
                })
                .await?;
            match frame.opcode {
                OpCode::Close => return Ok(()),
                OpCode::Binary | OpCode::Text => {
                    let message = match frame.payload {
                        Payload::Bytes(bytes) => bytes.freeze(),
                        Payload::Owned(vec) => Bytes::from(vec),
                        other => Bytes::copy_from_slice(&other),
                    };
                    for (member, queue) in room.read().expect("room lock").iter() {
                        if *member != id {
                            let _ = queue.send(Out::Message(frame.opcode, message.clone()));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    .await;
    rooms.leave(path, id, &room);
    drop(queue);
    // The writer ends once the queue is empty and closed (after a close's answer).
    let _ = writer.await;
    result
}

/// Writes what the queue brings, a batch per flush, until the queue closes or
/// a close frame has been answered.
async fn write_loop(
    mut write: fastwebsockets::WebSocketWrite<BufWriter<tokio::net::tcp::OwnedWriteHalf>>,
    mut outbox: mpsc::UnboundedReceiver<Out>,
) -> Result<(), WebSocketError> {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    while outbox.recv_many(&mut batch, WRITE_BATCH).await > 0 {
        let mut closing = false;
        for out in batch.drain(..) {
            let (Out::Message(opcode, payload) | Out::Control(opcode, payload)) = &out;
            write
                .write_frame(Frame::new(true, *opcode, None, Payload::Borrowed(payload)))
                .await?;
            closing |= matches!(out, Out::Control(OpCode::Close, _));
        }
        write.flush().await?;
        if closing {
            break;
        }
    }
    Ok(())
}
