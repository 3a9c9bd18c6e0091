//! Tabula's relay: rooms by URL path, the op sequencer, fan-out to every peer.
//!
//! A client connects to `ws://HOST:PORT/ROOM`, says hello, and from then on every
//! op it sends is given the room's next sequence number and passed to everyone
//! else in the room, who all apply ops in that one order. The relay keeps each
//! room's history, so a late joiner or a reconnecting client catches up, and it
//! relays presence (who is here, where their pointer is). It never interprets a
//! drawing: the board model lives in `tabula-shared` and runs in the clients.
//!
//! With a data folder ([`Config::data_dir`]) every room is a `.tabula` session
//! file in `DATA/rooms/`, and an op is acknowledged, and shown to anyone, only once
//! it is on disk: a crash or a restart loses nothing anyone has seen.
//!
//! The binary (`src/main.rs`) only parses flags, sets up logging and calls
//! [`run`]; everything else is in this library, so tests and other programs can
//! embed the relay.
//!
//! # Layout
//! Imports run one way: each module below imports only modules listed after it
//! (and `lib.rs` may use them all).
//! - `lib.rs` (here): [`Relay`] and [`run`]: accepting connections, capping how
//!   many are open, advertising the relay, and on shutdown closing them all and
//!   waiting for them; listing the rooms and handing one over while it runs.
//! - [`admin`]: what the binary does on a data folder without serving: list
//!   its rooms, export one.
//! - `connection`: one task per peer: the hello, joining, reading, writing,
//!   heartbeats, and closing with a code and reason when something is wrong.
//! - `http`: with TLS, runs the handshake first; reads the HTTP request head
//!   itself, answers anything that is not a WebSocket upgrade to a valid room
//!   (and a client speaking TLS to a plain port, or plain HTTP to a TLS one),
//!   and hands the rest to tungstenite.
//! - `room`: the rooms registry and each room's members, fan-out and sequencer,
//!   and the writer threads (one per core) that group-commit the rooms with a
//!   file.
//! - `blobs`: images' bytes as a connection handles them: an upload taken in
//!   parts within the relay's cap (`--max-blob-bytes`) and checked against its
//!   name, a room's pictures stored and read off the tokio workers.
//! - `history`: a stretch of a room's log (`CatchUp`), read off the tokio
//!   workers, for catch-ups and history requests.
//! - `record`: what a room's log says about how it is run (roles, kicks,
//!   the lock, view-only, who has been in): the fold of its `Moderated` and
//!   `Joined` ops, and the checkpoint the snapshotter keeps of it.
//! - `snapshots`: each room's latest board snapshot, made every
//!   [`Config::snapshot_every`] ops on a thread of its own, so that a late joiner
//!   gets the board and a short tail of ops.
//! - [`store`]: the op log behind a small trait: a `SQLite` session file per room,
//!   or memory.
//! - `config`: [`Config`], the relay's settings, and the check that refuses
//!   values it cannot work with.
//! - [`tls`]: the certificate and key a relay serves `wss://` with, the stream
//!   a connection is read through (plain or TLS), and self-signed certificates
//!   for a LAN (`tabula-server gen-cert`, the app's host).
//! - [`discovery`]: advertising the relay on the local network over mDNS, and
//!   browsing for relays (the app's join dialog).
//! - [`error`]: the [`Error`] that can stop [`run`].
//! - `frame`: encoding a message once into a frame every queue can share.
//! - `limit`: the rates and counts each sender is held to: token buckets,
//!   each connection's throttle, and what each source address has open.
//! - `deadline`: the time a peer's WebSocket message may take to arrive,
//!   kept below tungstenite by following the frames as they are read.
//! - [`access`]: the relay-wide password (the public half of its key, a
//!   challenge per connection, checking proofs) and the delay that grows with
//!   each address's failures.
//! - `sync`: the one poison-tolerant way to take a `std::sync::Mutex`.

use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, broadcast, mpsc};
use tokio::time::Instant;
use tracing::{Instrument, debug, info, info_span, warn};

pub mod access;
pub mod admin;
mod blobs;
mod config;
mod connection;
mod deadline;
pub mod discovery;
pub mod error;
mod frame;
mod history;
mod http;
mod limit;
mod record;
mod room;
mod snapshots;
pub mod store;
mod sync;
pub mod tls;

pub use config::Config;
pub use error::Error;
pub use room::handover::{HandOver, HandOverError, HandedOver};
pub use room::registry::RoomSummary;
pub use tls::TlsSettings;

use connection::Shared;
use discovery::{Advertise, Advertised, Advertiser, ListRooms};
use http::TurnAway;
use limit::Addresses;
use room::backend::Backend;
use room::registry::{Closing, Rooms};
use sync::lock;
use tabula_shared::PROTOCOL_VERSION;
use tabula_shared::lan::{Advert, AdvertisedRoom};

/// How long accepting may keep failing before [`run`] gives up with
/// [`Error::Accept`]; running out of file descriptors or memory is never a
/// reason to give up, only to wait.
const ACCEPT_GIVE_UP: Duration = Duration::from_mins(1);
/// File descriptors kept for everything but connections and room files: the
/// listener, the threads' and `SQLite`'s own, the logs.
const FD_RESERVE: u64 = 64;
/// How many connections the relay may be turning away at once (each holds a
/// descriptor for up to a second while its answer goes out).
const TURNING_AWAY: usize = 64;
/// How many descriptors a room file takes: the database, its WAL, its index.
const FDS_PER_ROOM_FILE: u64 = 3;
/// The longest pause between two failed accepts.
const ACCEPT_MAX_BACKOFF: Duration = Duration::from_secs(1);
/// How long shutdown waits, once every connection has ended, for the rooms'
/// writers to store what is left (the leaves of those connections).
const SHUTDOWN_WRITE_LIMIT: Duration = Duration::from_secs(5);
/// How often an advertised relay's record is brought up to date with its
/// rooms and member counts (it is re-sent only when it changed).
const ADVERT_REFRESH: Duration = Duration::from_secs(1);

/// Where the relay `config` describes keeps its rooms: Redis (a node of a
/// cluster: call this on a tokio runtime), a data folder (which this
/// creates) or memory.
fn backend(config: &Config) -> Result<Arc<dyn Backend>, Error> {
    if let Some(url) = &config.redis {
        let cluster = room::cluster::Cluster::new(url).map_err(Error::Redis)?;
        return Ok(Arc::new(cluster));
    }
    let Some(data) = &config.data_dir else {
        info!("no data folder: rooms are kept in memory and lost when the relay stops");
        return Ok(Arc::new(room::backend::Memory));
    };
    let dir = store::rooms_dir(data);
    std::fs::create_dir_all(&dir).map_err(|source| Error::DataDir {
        path: dir.clone(),
        source,
    })?;
    info!(data = %data.display(), "rooms are kept in {}", dir.display());
    Ok(Arc::new(room::backend::Folder::new(
        dir,
        config.group_commit_window,
        config.max_open_room_files,
    )))
}

/// Serves Tabula clients on `listener` until `shutdown` completes, then closes
/// every connection with close code 1001 ("the relay is shutting down") and
/// returns once every connection task has ended: [`Relay::new`] and
/// [`Relay::serve`] in one, for a relay nobody needs to reach while it runs.
///
/// Fails only for an invalid `config` or when accepting connections keeps failing
/// for a long time; problems with single connections are logged and end only
/// those connections.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    Relay::new(config)?.serve(listener, shutdown).await
}

/// A relay: its settings and rooms, served by [`Relay::serve`] and reachable
/// while it runs (cheap to clone: every clone is the same relay). The app's
/// host uses it to list its rooms and to hand one over.
#[derive(Clone, Debug)]
pub struct Relay {
    /// Config and rooms, shared with every connection task.
    shared: Arc<Shared>,
    /// Whether the relay is advertised on the network, for whoever shows it.
    advertised: Arc<Mutex<Advertised>>,
}

impl Relay {
    /// A relay with `config` and no rooms yet; creates the data folder.
    pub fn new(config: Config) -> Result<Self, Error> {
        config.validate()?;
        // Argon2id, once: the relay keeps only the key's public half.
        let password = config
            .password
            .as_ref()
            .map(access::RelayPassword::new)
            .transpose()
            .map_err(Error::Password)?;
        if password.is_some() {
            info!("every connection must prove the relay's password");
        }
        if let Some(tls) = &config.tls {
            let fingerprint = tls.fingerprint();
            info!(
                cert = %tls.cert_path().display(),
                code = %fingerprint.short_code(),
                sha256 = %fingerprint,
                "serving wss:// (TLS)"
            );
        }
        let mut config = config;
        fit_open_file_limit(&mut config);
        let rooms = Rooms::new(
            backend(&config)?,
            config.snapshot_every,
            Closing::default(),
            config.max_rooms,
        );
        let addresses = Addresses::new(
            config.max_connections_per_address,
            config.new_rooms_per_minute,
        );
        Ok(Self {
            shared: Arc::new(Shared {
                password,
                failures: access::Failures::default(),
                config,
                rooms,
                addresses,
            }),
            advertised: Arc::default(),
        })
    }

    /// Every open room, with how many are in it.
    #[must_use]
    pub fn rooms(&self) -> Vec<RoomSummary> {
        self.shared.rooms.summaries()
    }

    /// Who is in `room` (none if it is not open), longest-present first: the
    /// order a hand-over asks them in.
    #[must_use]
    pub fn members(&self, room: &str) -> Vec<tabula_shared::PeerInfo> {
        self.shared
            .rooms
            .get(room)
            .map(|room| room.by_seniority())
            .unwrap_or_default()
    }

    /// Whether the relay is advertised on the local network.
    #[must_use]
    pub fn advertised(&self) -> Advertised {
        lock(&self.advertised).clone()
    }

    /// Hands `room` over to one of its members, which hosts it from its own
    /// copy from then on; everyone in it is sent there (see
    /// [`room::handover`]).
    pub async fn hand_over(
        &self,
        room: &str,
        plan: &HandOver,
    ) -> Result<HandedOver, HandOverError> {
        let open = self
            .shared
            .rooms
            .get(room)
            .ok_or_else(|| HandOverError::NoSuchRoom(room.to_owned()))?;
        room::handover::hand_over(&open, plan).await
    }

    /// Serves Tabula clients on `listener` (advertising the relay, if its
    /// config says so) until `shutdown` completes, then closes every
    /// connection with close code 1001 ("the relay is shutting down") and
    /// returns once every connection task has ended.
    ///
    /// Fails only when accepting connections keeps failing for a long time;
    /// problems with single connections are logged and end only those
    /// connections, and a relay that cannot be advertised serves all the same.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        // Each connection task subscribes to `notify_shutdown` and holds a clone of
        // `done_tx`; once shutdown is announced, `done_rx.recv()` returns `None` when
        // the last task has dropped its clone.
        let (notify_shutdown, _) = broadcast::channel(1);
        let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
        let advertising = self.shared.config.advertise.clone().map(|settings| {
            let port = listener.local_addr().map_or(0, |address| address.port());
            tokio::spawn(advertise(
                self.clone(),
                settings,
                port,
                notify_shutdown.subscribe(),
            ))
        });
        let mut acceptor = Acceptor {
            limit: Arc::new(Semaphore::new(self.shared.config.max_connections)),
            turning_away: Arc::new(Semaphore::new(TURNING_AWAY)),
            spare: spare_descriptor(),
            shared: Arc::clone(&self.shared),
            listener,
            notify_shutdown,
            done_tx,
        };

        let result = tokio::select! {
            result = acceptor.accept_loop() => result,
            () = shutdown => Ok(()),
        };

        let Acceptor {
            listener,
            notify_shutdown,
            done_tx,
            ..
        } = acceptor;
        drop(listener);
        let open = notify_shutdown.receiver_count();
        info!(
            connections = open,
            "shutting down: closing every connection"
        );
        // A send error only means there is no connection left to tell.
        let _ = notify_shutdown.send(());
        drop(done_tx);
        let _ = done_rx.recv().await;
        info!("every connection has ended");
        if let Some(advertising) = advertising {
            // It withdraws the advertisement on the same signal.
            let _ = advertising.await;
        }
        if !self.shared.rooms.written(SHUTDOWN_WRITE_LIMIT).await {
            warn!(
                "some rooms still had ops to store after {SHUTDOWN_WRITE_LIMIT:?}: their last leaves may be missing"
            );
        }
        result
    }
}

/// Advertises `relay` on the network as `settings` say until `stop`, keeping
/// its record's rooms and member counts current.
async fn advertise(
    relay: Relay,
    settings: Advertise,
    port: u16,
    mut stop: broadcast::Receiver<()>,
) {
    let record = |relay: &Relay| Advert {
        protocol: PROTOCOL_VERSION,
        tls: relay.shared.config.tls.is_some(),
        password: relay.shared.password.is_some(),
        lists_rooms: settings.rooms != ListRooms::None,
        rooms: relay
            .rooms()
            .into_iter()
            .filter(|room| settings.rooms.includes(&room.name))
            .map(|room| AdvertisedRoom {
                name: room.name,
                members: u32::try_from(room.members).unwrap_or(u32::MAX),
                password: room.password,
            })
            .collect(),
        more_rooms: 0,
    };
    let (instance, interfaces, first) = (
        settings.instance.clone(),
        settings.interfaces.clone(),
        record(&relay),
    );
    let started =
        tokio::task::spawn_blocking(move || Advertiser::start(&instance, port, &interfaces, first))
            .await;
    let mut advertiser = match started {
        Ok(Ok(advertiser)) => advertiser,
        Ok(Err(err)) => {
            warn!(%err, "the relay cannot be advertised on the local network; it serves all the same");
            *lock(&relay.advertised) = Advertised::Failed(err.to_string());
            return;
        }
        Err(err) => {
            warn!(%err, "starting the advertisement failed");
            *lock(&relay.advertised) = Advertised::Failed(err.to_string());
            return;
        }
    };
    *lock(&relay.advertised) = Advertised::On(advertiser.fullname().to_owned());
    let mut tick = tokio::time::interval(ADVERT_REFRESH);
    loop {
        tokio::select! {
            _ = stop.recv() => break,
            _ = tick.tick() => {
                if let Err(err) = advertiser.update(record(&relay)) {
                    warn!(%err, "could not update the relay's advertisement");
                }
            }
        }
    }
    *lock(&relay.advertised) = Advertised::Off;
    // Withdrawing waits (briefly) for the goodbye to be sent.
    let _ = tokio::task::spawn_blocking(move || advertiser.stop()).await;
}

/// The accept loop and what it hands to each connection.
struct Acceptor {
    /// The socket new connections arrive on.
    listener: TcpListener,
    /// One permit per open connection: beyond `max_connections` new ones are
    /// turned away with 503.
    limit: Arc<Semaphore>,
    /// One permit per connection being turned away; with none left, the loop
    /// stops accepting until one is (connections wait in the listen backlog).
    turning_away: Arc<Semaphore>,
    /// A descriptor held in reserve: when accepting fails for want of
    /// descriptors, closing it lets the relay accept one connection and tell
    /// it the relay is full, instead of leaving everyone in the backlog.
    spare: Option<std::fs::File>,
    /// Config and rooms, for every connection task.
    shared: Arc<Shared>,
    /// Tells every connection task to close, on shutdown.
    notify_shutdown: broadcast::Sender<()>,
    /// Cloned into every connection task and dropped when it ends, so that `run`
    /// can wait for the last one.
    done_tx: mpsc::Sender<()>,
}

impl Acceptor {
    /// Accepts connections and spawns a task for each, forever unless accepting
    /// keeps failing for [`ACCEPT_GIVE_UP`] for a reason other than running
    /// out of descriptors or memory. A connection beyond the relay's limit,
    /// or beyond its address's, is answered with 503 or 429.
    async fn accept_loop(&mut self) -> Result<(), Error> {
        let mut failing_since: Option<Instant> = None;
        let mut backoff = Duration::from_millis(10);
        loop {
            if self.limit.available_permits() == 0 && self.turning_away.available_permits() == 0 {
                // Busy turning people away: let the backlog wait.
                let _ = Arc::clone(&self.turning_away).acquire_owned().await;
                continue;
            }
            let (socket, address) = match self.listener.accept().await {
                Ok(accepted) => {
                    failing_since = None;
                    backoff = Duration::from_millis(10);
                    accepted
                }
                Err(err) if is_about_one_connection(&err) => {
                    debug!(%err, "a connection failed before it was accepted");
                    continue;
                }
                Err(err) if is_out_of_resources(&err) => {
                    // Never a reason to stop: connections and rooms close, and
                    // their descriptors come back.
                    if backoff >= ACCEPT_MAX_BACKOFF {
                        debug!(%err, "still out of descriptors or memory");
                    } else {
                        warn!(%err, retry_in = ?backoff, "out of descriptors or memory: turning connections away until some close");
                    }
                    self.turn_one_away();
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(ACCEPT_MAX_BACKOFF);
                    continue;
                }
                Err(err) => {
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= ACCEPT_GIVE_UP {
                        return Err(Error::Accept(err));
                    }
                    warn!(%err, retry_in = ?backoff, "could not accept a connection");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(ACCEPT_MAX_BACKOFF);
                    continue;
                }
            };
            let config = &self.shared.config;
            let slot = match self.shared.addresses.connect(address.ip()) {
                Ok(slot) => slot,
                Err(too_many) => {
                    info!(peer = %address, open = too_many.open, "turned a connection away: its address has too many open");
                    self.answer(
                        socket,
                        TurnAway::TooMany(format!(
                            "This address has {} open to the relay, as many as it allows. Close some, or try again later.",
                            connections(too_many.open)
                        )),
                    );
                    continue;
                }
            };
            let Ok(permit) = Arc::clone(&self.limit).try_acquire_owned() else {
                warn!(
                    max = config.max_connections,
                    "connection limit reached: turning a connection away"
                );
                self.answer(
                    socket,
                    TurnAway::Full(format!(
                        "The relay has {} connections open, as many as it allows. Try again in a moment.",
                        config.max_connections
                    )),
                );
                continue;
            };
            if let Err(err) = socket.set_nodelay(true) {
                debug!(%err, "could not set TCP_NODELAY");
            }

            let shared = Arc::clone(&self.shared);
            let shutdown = self.notify_shutdown.subscribe();
            let done = self.done_tx.clone();
            let span = info_span!(
                "connection",
                peer = %address,
                room = tracing::field::Empty,
                client = tracing::field::Empty,
            );
            tokio::spawn(
                async move {
                    connection::serve(socket, slot, &shared, shutdown).await;
                    drop(permit);
                    drop(done);
                }
                .instrument(span),
            );
        }
    }

    /// Answers a connection the relay will not serve with an HTTP error (after
    /// the TLS handshake, on a relay with a certificate), in a task of its
    /// own, if it is not turning away too many already (then the connection
    /// is just closed).
    fn answer(&self, socket: tokio::net::TcpStream, why: TurnAway) {
        let Ok(permit) = Arc::clone(&self.turning_away).try_acquire_owned() else {
            return;
        };
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move {
            http::turn_away(socket, why, &shared.config).await;
            drop(permit);
        });
    }

    /// Out of descriptors: lets the spare one go, accepts the connection
    /// waiting longest, tells it the relay is full, closes it and takes the
    /// spare back, so that clients hear why instead of waiting in the backlog.
    fn turn_one_away(&mut self) {
        if self.spare.take().is_none() {
            return;
        }
        if let Some(Ok((socket, address))) = self.listener.accept().now_or_never()
            && self.shared.config.tls.is_none()
        {
            debug!(peer = %address, "out of descriptors: told a connection the relay is full");
            let answer = TurnAway::Full(
                "The relay is out of file descriptors. Try again in a moment.".to_owned(),
            )
            .into_bytes();
            let _ = socket.try_write(&answer);
        }
        self.spare = spare_descriptor();
    }
}

/// "1 connection", "4 connections".
fn connections(count: usize) -> String {
    if count == 1 {
        "1 connection".to_owned()
    } else {
        format!("{count} connections")
    }
}

/// A descriptor to hold in reserve (see [`Acceptor::spare`]).
fn spare_descriptor() -> Option<std::fs::File> {
    std::fs::File::open(if cfg!(windows) { "NUL" } else { "/dev/null" }).ok()
}

/// Whether an accept error means the process or the system is out of file
/// descriptors, buffers or memory: it passes as connections close.
fn is_out_of_resources(err: &io::Error) -> bool {
    if err.kind() == io::ErrorKind::OutOfMemory {
        return true;
    }
    #[cfg(unix)]
    {
        // EMFILE, ENFILE, ENOBUFS, ENOMEM on Linux and the BSDs alike but for
        // ENOBUFS (105 on Linux, 55 on the BSDs and macOS).
        matches!(err.raw_os_error(), Some(24 | 23 | 105 | 55 | 12))
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// Raises the process's soft limit on open files to its hard limit, so that
/// the relay can hold as many connections and room files as the system lets
/// it; returns the limit now in force (`None` where there is none to raise).
/// `tabula-server` calls it at start; a program embedding the relay may.
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => Some(limit),
            Err(err) => {
                warn!(%err, "could not raise the open-file limit");
                rlimit::getrlimit(rlimit::Resource::NOFILE)
                    .ok()
                    .map(|(soft, _)| soft)
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Fits the connection and room-file limits into the process's open-file
/// limit, keeping [`FD_RESERVE`] for everything else and room files their
/// share, so that a relay full of connections can still open its rooms'
/// files (and one full of files still accept).
fn fit_open_file_limit(config: &mut Config) {
    #[cfg(unix)]
    let soft = rlimit::getrlimit(rlimit::Resource::NOFILE)
        .ok()
        .map(|(soft, _)| soft);
    #[cfg(not(unix))]
    let soft: Option<u64> = None;
    let Some(soft) = soft.filter(|&soft| soft != rlimit_infinity()) else {
        return;
    };
    let usable = soft.saturating_sub(FD_RESERVE + TURNING_AWAY as u64).max(4);
    // Room files get what they ask for, up to a quarter of what is usable.
    let files = (config.max_open_room_files as u64 * FDS_PER_ROOM_FILE).min(usable / 4);
    let max_files = usize::try_from(files / FDS_PER_ROOM_FILE)
        .unwrap_or(usize::MAX)
        .max(1);
    let max_connections = usize::try_from(usable - files).unwrap_or(usize::MAX).max(1);
    if max_files < config.max_open_room_files || max_connections < config.max_connections {
        info!(
            open_file_limit = soft,
            connections = max_connections.min(config.max_connections),
            room_files = max_files.min(config.max_open_room_files),
            "limits fitted to the open-file limit"
        );
    }
    config.max_open_room_files = config.max_open_room_files.min(max_files);
    config.max_connections = config.max_connections.min(max_connections);
}

/// What `getrlimit` says for no limit.
fn rlimit_infinity() -> u64 {
    #[cfg(unix)]
    {
        rlimit::INFINITY
    }
    #[cfg(not(unix))]
    {
        u64::MAX
    }
}

/// Whether an accept error concerns only the connection being accepted (it went
/// away, or its network did) rather than the listener.
fn is_about_one_connection(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::TimedOut
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::NetworkDown
    )
}
