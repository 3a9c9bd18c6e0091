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
    /// How many frames may wait for one peer. A peer whose queue fills up reads too
    /// slowly to keep up and is cut off, so that a room never waits on anyone.
    pub peer_queue_frames: usize,
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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_frame_bytes: tabula_shared::codec::MAX_FRAME_BYTES,
            peer_queue_frames: 4096,
            heartbeat_interval: Duration::from_secs(15),
            heartbeat_timeout: Duration::from_secs(45),
            hello_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_connections: 20_000,
            data_dir: None,
            group_commit_window: Duration::ZERO,
            snapshot_every: 10_000,
            advertise: None,
            tls: None,
        }
    }
}

impl Config {
    /// Refuses values the relay cannot work with.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let problem = if self.max_frame_bytes == 0 {
            "max_frame_bytes must be at least 1"
        } else if self.peer_queue_frames == 0 {
            "peer_queue_frames must be at least 1"
        } else if self.max_connections == 0 || self.max_connections > Semaphore::MAX_PERMITS {
            "max_connections must be at least 1 and fit a semaphore"
        } else if [
            self.heartbeat_interval,
            self.hello_timeout,
            self.handshake_timeout,
            self.write_timeout,
        ]
        .contains(&Duration::ZERO)
        {
            "the heartbeat interval and every timeout must be longer than zero"
        } else if self.snapshot_every == 0 {
            "snapshot_every must be at least 1"
        } else if self.heartbeat_timeout < self.heartbeat_interval {
            "heartbeat_timeout must be at least heartbeat_interval"
        } else {
            return Ok(());
        };
        Err(Error::InvalidConfig(problem))
    }
}
