//! [`Config`]: everything about the relay's behaviour that does not depend on
//! where it listens, with production's defaults and the check that refuses
//! values the relay cannot work with. A leaf, but for the [`Error`] it refuses
//! with and the advertising and TLS settings it holds.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::discovery::Advertise;
use crate::error::Error;
use crate::tls::TlsSettings;

/// Everything about the relay's behaviour that does not depend on where it
/// listens. [`Config::default`] is what production uses.
#[derive(Clone, Debug)]
pub struct Config {
    /// The largest WebSocket message (and frame) a peer may send, in bytes; a
    /// larger one closes that connection with 1009. The codec itself never
    /// accepts more than [`tabula_shared::codec::MAX_FRAME_BYTES`].
    pub max_frame_bytes: usize,
    /// The largest image blob a client may upload, in bytes, at most
    /// [`tabula_shared::caps::MAX_BLOB_BYTES`]; a bigger one is refused
    /// (`BlobRefused`, with a sentence) and the welcome says this cap.
    pub max_blob_bytes: u64,
    /// How many frames may wait for one peer. A peer whose queue fills up reads too
    /// slowly to keep up and is cut off, so that a room never waits on anyone.
    pub peer_queue_frames: usize,
    /// How many bytes may wait for one peer, however few the frames: 4,096
    /// frames of a megabyte each would otherwise be 4 GiB for one slow reader.
    pub peer_queue_bytes: usize,
    /// Messages (ops, cursor moves, history requests) one connection may send
    /// a second. Above it the relay reads that connection more slowly (TCP
    /// pushes back on the sender); nothing is refused.
    pub messages_per_sec: u32,
    /// Messages one connection may send at once beyond its rate: pasting a
    /// thousand objects is a thousand ops in one go.
    pub messages_burst: u32,
    /// Bytes one connection may send a second, read more slowly above it.
    pub bytes_per_sec: u32,
    /// Bytes one connection may send at once beyond its rate.
    pub bytes_burst: u32,
    /// How many ops one connection may have waiting to be stored and acked;
    /// once it has this many, the relay stops reading it until acks go out,
    /// so that a fast sender cannot pile ops up in the relay's memory.
    pub max_unacked_ops: usize,
    /// The shortest time between two cursor positions of one sender passed
    /// on: a sender's moves in between are coalesced (the latest wins).
    pub cursor_interval: Duration,
    /// The most history bytes the relay holds for one connection at a time
    /// while it sends a catch-up or the history asked for.
    pub history_bytes: usize,
    /// How long a WebSocket message may take to arrive once its first byte
    /// has: a peer that starts a message (or a fragmented one) and never
    /// finishes it is cut off rather than held forever.
    pub message_deadline: Duration,
    /// How many connections one source address may have open at once.
    pub max_connections_per_address: usize,
    /// How many new rooms one source address may create a minute.
    pub new_rooms_per_minute: u32,
    /// How many rooms may be open at once.
    pub max_rooms: usize,
    /// How many people may be in one room at once.
    pub max_members: usize,
    /// How many room files may be open at once; the least recently used is
    /// closed to open another (and reopened when it is used again). Each
    /// takes three file descriptors (the database, its WAL and its index).
    pub max_open_room_files: usize,
    /// How often a connection checks on its peer, pinging it when it has been
    /// quiet, so that dead connections are found even when nobody draws.
    pub heartbeat_interval: Duration,
    /// How long a peer may stay silent (no data, no pong) before it is dropped as
    /// gone.
    pub heartbeat_timeout: Duration,
    /// How long a peer has to send its hello after the WebSocket handshake.
    pub hello_timeout: Duration,
    /// How long a new connection has to send its HTTP request and complete the
    /// WebSocket handshake.
    pub handshake_timeout: Duration,
    /// How long one write to a peer may take before the peer is given up on.
    pub write_timeout: Duration,
    /// How many connections may be open at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// The data folder: each room is kept in `DATA/rooms/<room>.tabula` and comes
    /// back after a restart. `None` keeps rooms in memory only (tests, benchmarks).
    pub data_dir: Option<PathBuf>,
    /// Redis, for a relay that is one node of a cluster
    /// (`redis://[:PASSWORD@]HOST:PORT[/DB]`): every room is sequenced, kept
    /// and fanned out through it, and `data_dir` is not used.
    pub redis: Option<String>,
    /// How long a room's writer waits for more ops after the first of a batch, so
    /// that ops arriving together share one transaction (one fsync). Ops that
    /// arrive while a commit is on disk always share the next one. Unused in
    /// memory.
    ///
    /// The default is zero: an idle writer commits at once, and only the ops
    /// that arrive during a commit wait for the next one, so a busy room still
    /// batches (one fsync per commit, however many ops came in meanwhile) while
    /// a quiet one no longer adds the window to every op. Measured with `SQLite`
    /// (BENCHMARKS.md, 10 peers × 100 Hz in one room): p50 from 2.9 ms with a
    /// 2 ms window to 1.5 ms with none, p99 lower too, and 100 rooms × 10 peers
    /// delivered as much with no window as with 2 ms.
    pub group_commit_window: Duration,
    /// How many ops past its latest board snapshot make a room take a new one
    /// (more for a big board: one op per KiB of its latest snapshot). A joiner at
    /// least this far behind gets the snapshot and the ops after it instead of
    /// everything it missed; the full history stays for replay.
    pub snapshot_every: u64,
    /// How the relay is advertised on the local network over mDNS, if it is
    /// (`tabula-server --mdns`, and the app when it hosts).
    pub advertise: Option<Advertise>,
    /// The certificate and key the relay serves `wss://` with, loaded and
    /// checked ([`TlsSettings::load`]); `None` serves plain `ws://`. Either
    /// way a port speaks one of the two, and a client that tries the other
    /// gets a sentence saying which to use.
    pub tls: Option<TlsSettings>,
    /// The `Origin` headers an upgrade request may carry, exactly as sent
    /// (`https://board.example.com`). Browsers send one for every socket a
    /// web page opens, and the app and tabula-bench send none; an upgrade
    /// with an origin not listed here is refused with 403, so that a web
    /// page a member visits cannot open a socket to the relay. Empty: no
    /// origin is allowed.
    pub allowed_origins: Vec<String>,
    /// The relay-wide password (`--password`, `TABULA_PASSWORD`): every
    /// connection proves it in answer to a challenge before its hello is
    /// accepted (see [`crate::access`]). Kept only until the relay starts,
    /// which keeps the public half of a key derived from it.
    pub password: Option<tabula_shared::access::Password>,
    /// Client ids that run every room they enter, as operators (the app's
    /// host gives its own, so that nobody who comes in before it runs its
    /// room alone). Not a flag: a client id lasts one run of the app.
    pub operators: Vec<tabula_shared::ClientId>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_frame_bytes: tabula_shared::codec::MAX_FRAME_BYTES,
            max_blob_bytes: tabula_shared::caps::MAX_BLOB_BYTES,
            peer_queue_frames: 4096,
            peer_queue_bytes: 16 * 1024 * 1024,
            messages_per_sec: 1000,
            messages_burst: 2000,
            bytes_per_sec: 1024 * 1024,
            bytes_burst: 8 * 1024 * 1024,
            max_unacked_ops: 1000,
            cursor_interval: Duration::from_millis(33),
            history_bytes: 2 * 1024 * 1024,
            message_deadline: Duration::from_secs(30),
            max_connections_per_address: 500,
            new_rooms_per_minute: 30,
            max_rooms: 10_000,
            max_members: 5000,
            max_open_room_files: 1000,
            heartbeat_interval: Duration::from_secs(15),
            heartbeat_timeout: Duration::from_secs(45),
            hello_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_connections: 20_000,
            data_dir: None,
            redis: None,
            group_commit_window: Duration::ZERO,
            snapshot_every: 10_000,
            advertise: None,
            tls: None,
            allowed_origins: Vec::new(),
            password: None,
            operators: Vec::new(),
        }
    }
}

impl Config {
    /// Refuses values the relay cannot work with.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let problem = if self.max_frame_bytes < tabula_shared::blob::BLOB_FRAME_BYTES {
            "max_frame_bytes must be at least 50176, the frame of one part of an image"
        } else if self.peer_queue_frames == 0 {
            "peer_queue_frames must be at least 1"
        } else if self.peer_queue_bytes < self.max_frame_bytes {
            "peer_queue_bytes must be at least max_frame_bytes"
        } else if self.messages_per_sec == 0 || self.messages_burst == 0 {
            "messages_per_sec and messages_burst must be at least 1"
        } else if self.bytes_per_sec == 0 || (self.bytes_burst as usize) < self.max_frame_bytes {
            "bytes_per_sec must be at least 1 and bytes_burst at least max_frame_bytes"
        } else if self.max_unacked_ops == 0 || self.max_unacked_ops > Semaphore::MAX_PERMITS {
            "max_unacked_ops must be at least 1 and fit a semaphore"
        } else if self.history_bytes == 0 {
            "history_bytes must be at least 1"
        } else if [
            self.max_connections_per_address,
            self.max_rooms,
            self.max_members,
            self.max_open_room_files,
        ]
        .contains(&0)
            || self.new_rooms_per_minute == 0
        {
            "every count limit must be at least 1"
        } else if self.max_connections == 0 || self.max_connections > Semaphore::MAX_PERMITS {
            "max_connections must be at least 1 and fit a semaphore"
        } else if [
            self.heartbeat_interval,
            self.hello_timeout,
            self.handshake_timeout,
            self.write_timeout,
            self.message_deadline,
        ]
        .contains(&Duration::ZERO)
        {
            "the heartbeat interval and every timeout must be longer than zero"
        } else if self.snapshot_every == 0 {
            "snapshot_every must be at least 1"
        } else if self.max_blob_bytes == 0
            || self.max_blob_bytes > tabula_shared::caps::MAX_BLOB_BYTES
        {
            "max_blob_bytes must be at least 1 and at most caps::MAX_BLOB_BYTES"
        } else if self.heartbeat_timeout < self.heartbeat_interval {
            "heartbeat_timeout must be at least heartbeat_interval"
        } else {
            return Ok(());
        };
        Err(Error::InvalidConfig(problem))
    }
}
