//! Hosting a room from the app: the relay library (the same code as
//! `tabula-server`) on a runtime of its own, serving a room seeded from the
//! board's own log, and advertised on the local network.
//!
//! A session file is a room file, so a board's log becomes the room: it is
//! written to `DATA/rooms/ROOM.tabula` in the host's data folder (an earlier
//! file of that name is moved aside to `DATA/earlier/`, never overwritten),
//! then the relay opens it like any room after a restart, and the board
//! enters the room by resuming from its own last op.
//!
//! The relay serves `wss://` with a self-signed certificate the app makes
//! the first time it hosts and keeps in the host's data folder
//! (`DATA/tls/`), so that its fingerprint, and the short code people compare
//! aloud, stays the same from one session to the next; the room's URLs carry
//! it (`wss://HOST:PORT/ROOM#fp=…`), so that whoever opens one checks the
//! certificate from the first byte, and the mDNS advert says the relay
//! speaks TLS. That one path serves
//! three moments: hosting the board on screen, taking over a room whose host
//! hands it over, and hosting a board whose host vanished.
//!
//! - [`Host`] (here): one embedded relay: listen (the next free port when the
//!   default is taken), seed, serve, advertise, hand over, stop.
//! - [`hosting`]: what the app is doing about hosting, frame by frame:
//!   starting, hosting, handing over, stopping, and answering the relay that
//!   asks this board to take its room over.
//! - [`names`]: readable random room names.

pub mod hosting;
pub mod names;

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tabula_server::discovery::{self, Advertise, Advertised, Interfaces, ListRooms};
use tabula_server::tls::{TlsError, self_signed};
use tabula_server::{Config, HandOver, HandOverError, HandedOver, Relay, store};
use tabula_shared::access::{Password, with_code};
use tabula_shared::blob::Blob;
use tabula_shared::fingerprint::Fingerprint;
use tabula_shared::relay_url::with_fingerprint;
use tabula_shared::{ClientId, PeerInfo, SequencedOp};
use tokio::sync::oneshot;
use tracing::{info, warn};

use crate::files::FileError;
use crate::files::saving::save_session_and_pictures;

/// The port a host listens on when it is free: `tabula-server`'s default.
pub const DEFAULT_PORT: u16 = 7457;

/// How many ports after the first are tried before any free port is taken.
const PORT_TRIES: u16 = 20;

/// How long stopping waits for the relay to close its connections.
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// Where and how the app hosts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostSettings {
    /// The address the relay listens on: every interface (`0.0.0.0`), so that
    /// others on the network can join; `127.0.0.1` keeps it to this machine
    /// (tests).
    pub bind: IpAddr,
    /// The port tried first; when it is taken, the next free one of the
    /// [`PORT_TRIES`] after it, then any free port. `0`: any free port.
    pub port: u16,
    /// The host's data folder: hosted rooms are kept in `DATA/rooms`, as a
    /// relay keeps them, and the relay's certificate and key in `DATA/tls`.
    pub data_dir: PathBuf,
    /// How the relay is advertised on the local network; `None`: it is not.
    pub advertise: Option<Advertising>,
    /// Whether a room hosted from the board needs a fresh short code
    /// ([`tabula_shared::access::new_code`], the relay's password, carried in
    /// the invitations as `#code=`); otherwise anyone on the network may
    /// join. A room taken over keeps the code it had.
    pub code_required: bool,
    /// The client id of the board that hosts: it runs the hosted room, as
    /// its operator, from its first join on.
    pub operator: Option<ClientId>,
}

/// How a hosted room is advertised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advertising {
    /// The name others see in their join dialog.
    pub instance: String,
    /// The interfaces it is advertised on.
    pub interfaces: Interfaces,
}

impl HostSettings {
    /// What hosting uses by default for `person`: every interface, port
    /// 7457, the app's data folder, advertised as "PERSON on MACHINE" on the
    /// interfaces `TABULA_MDNS_INTERFACES` names (every one when unset).
    #[must_use]
    pub fn for_person(person: &str) -> Self {
        let data_dir = dirs::data_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("tabula")
            .join("hosted");
        Self {
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: DEFAULT_PORT,
            data_dir,
            advertise: Some(Advertising {
                instance: instance_name(person),
                interfaces: Interfaces::from_env(),
            }),
            code_required: true,
            operator: None,
        }
    }
}

/// "Ada on studio", cut to what mDNS allows (63 bytes).
#[must_use]
pub fn instance_name(person: &str) -> String {
    let mut name = format!("{person} on {}", discovery::machine_name());
    if name.len() > 63 {
        let mut cut = 63;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
    }
    name
}

/// Why hosting could not start.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// No port could be listened on.
    #[error(
        "could not listen on {address}: {source}. Check that this machine is on a network and that no firewall or other program keeps Tabula from listening."
    )]
    Listen {
        /// The address tried last.
        address: SocketAddr,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The board's log is not all here (it is still arriving from a file or
    /// a room), or does not end where the room does.
    #[error("{0}")]
    Incomplete(String),
    /// The room's file could not be written.
    #[error("could not write the room's file: {0}")]
    Seed(#[from] FileError),
    /// An earlier room file could not be moved aside.
    #[error("could not move the earlier room file {} aside: {source}", path.display())]
    MoveAside {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The relay's certificate could not be made or read.
    #[error("the relay's certificate: {0}")]
    Certificate(#[from] TlsError),
    /// No code could be made for the room.
    #[error("no code could be made for the room: {0}")]
    Code(#[source] tabula_shared::access::AccessError),
    /// The relay refused to start.
    #[error("the relay could not start: {0}")]
    Relay(#[from] tabula_server::Error),
    /// Its runtime could not start.
    #[error("the relay's runtime could not start: {0}")]
    Runtime(#[source] io::Error),
    /// No thread could be started to start the relay on.
    #[error("no thread could be started for the relay: {0}")]
    Thread(#[source] io::Error),
    /// The thread starting the relay stopped unexpectedly (a bug).
    #[error("{0}")]
    Lost(#[from] crate::jobs::Lost),
}

/// A relay this app runs, serving one room.
pub struct Host {
    /// The runtime the relay runs on, its own (the network task's runtime
    /// is the app's), so that stopping it ends everything it started.
    runtime: Option<tokio::runtime::Runtime>,
    /// The relay, for its members and to hand the room over.
    relay: Relay,
    /// Completing it starts the relay's shutdown.
    stop: Option<oneshot::Sender<()>>,
    /// The relay serving, until it has shut down.
    serving: Option<tokio::task::JoinHandle<Result<(), tabula_server::Error>>>,
    /// The room it hosts.
    room: String,
    /// Where it listens.
    address: SocketAddr,
    /// The room's URL at each address others can reach, best first.
    urls: Vec<String>,
    /// The URL this app joins its own room at.
    own_url: String,
    /// The certificate the relay serves `wss://` with.
    fingerprint: Fingerprint,
    /// Why it does not listen on the port asked for, if it does not.
    port_note: Option<String>,
    /// The room's code (its relay's password), when it needs one.
    code: Option<Password>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("room", &self.room)
            .field("address", &self.address)
            .field("urls", &self.urls)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// Hosts `room` as `settings` say, seeded with `log` (the board's every
    /// sequenced op, numbered 1, 2, 3, …). Blocks on the disk and the
    /// network: call it off the UI thread.
    pub fn start(
        settings: &HostSettings,
        room: &str,
        log: &[SequencedOp],
        code: Option<Password>,
    ) -> Result<Self, HostError> {
        Self::start_with_pictures(settings, room, log, &[], code)
    }

    /// [`Self::start`], the room also seeded with `pictures`, those the
    /// board's images show, so that its members can fetch them.
    pub fn start_with_pictures(
        settings: &HostSettings,
        room: &str,
        log: &[SequencedOp],
        pictures: &[Blob],
        code: Option<Password>,
    ) -> Result<Self, HostError> {
        if let Some((i, op)) = log
            .iter()
            .enumerate()
            .find(|(i, op)| op.seq != *i as u64 + 1)
        {
            return Err(HostError::Incomplete(format!(
                "the board's history has a gap before op {} (found op {} there)",
                i + 1,
                op.seq
            )));
        }
        let (listener, port_note) = listen(settings.bind, settings.port)?;
        let address = listener.local_addr().map_err(|source| HostError::Listen {
            address: SocketAddr::new(settings.bind, settings.port),
            source,
        })?;
        seed(&settings.data_dir, room, log, pictures)?;
        let tls = self_signed::load_or_generate(&settings.data_dir.join("tls"))?;
        let fingerprint = tls.fingerprint();

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tabula-host")
            .enable_all()
            .build()
            .map_err(HostError::Runtime)?;
        let config = Config {
            data_dir: Some(settings.data_dir.clone()),
            tls: Some(tls),
            advertise: settings.advertise.as_ref().map(|advertising| Advertise {
                instance: advertising.instance.clone(),
                interfaces: advertising.interfaces.clone(),
                rooms: ListRooms::Only(vec![room.to_owned()]),
            }),
            password: code.clone(),
            operators: settings.operator.into_iter().collect(),
            ..Config::default()
        };
        let relay = Relay::new(config)?;
        listener
            .set_nonblocking(true)
            .map_err(|source| HostError::Listen { address, source })?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener)
                .map_err(|source| HostError::Listen { address, source })?
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = {
            let relay = relay.clone();
            runtime.spawn(async move {
                relay
                    .serve(listener, async {
                        let _ = stopped.await;
                    })
                    .await
            })
        };

        let urls: Vec<String> = discovery::reachable_addresses(address.ip())
            .unwrap_or_else(|err| {
                warn!(%err, "could not list this machine's addresses");
                vec![loopback_of(address.ip())]
            })
            .into_iter()
            .map(|ip| invitation(ip, address.port(), room, &fingerprint, code.as_ref()))
            .collect();
        let own = if address.ip().is_unspecified() {
            loopback_of(address.ip())
        } else {
            address.ip()
        };
        let own_url = invitation(own, address.port(), room, &fingerprint, code.as_ref());
        for url in &urls {
            info!(room, "others join at {url}");
        }
        Ok(Self {
            runtime: Some(runtime),
            relay,
            stop: Some(stop),
            serving: Some(serving),
            room: room.to_owned(),
            address,
            urls,
            own_url,
            fingerprint,
            port_note,
            code,
        })
    }

    /// The code others need to join, when the room needs one (it is in
    /// every URL of [`Self::urls`] too).
    #[must_use]
    pub fn code(&self) -> Option<&Password> {
        self.code.as_ref()
    }

    /// The room hosted.
    #[must_use]
    pub fn room(&self) -> &str {
        &self.room
    }

    /// Where the relay listens.
    #[must_use]
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The room's URL at each address others can reach, best first
    /// (loopback and link-local last).
    #[must_use]
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// The URL this app joins its own room at.
    #[must_use]
    pub fn own_url(&self) -> &str {
        &self.own_url
    }

    /// The certificate the relay serves `wss://` with: its short code is
    /// what people who join without a link compare aloud.
    #[must_use]
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// Why the relay does not listen on the port asked for, if it does not.
    #[must_use]
    pub fn port_note(&self) -> Option<&str> {
        self.port_note.as_deref()
    }

    /// Whether the relay is advertised on the local network.
    #[must_use]
    pub fn advertised(&self) -> Advertised {
        self.relay.advertised()
    }

    /// Who is in the room, longest-present first.
    #[must_use]
    pub fn members(&self) -> Vec<PeerInfo> {
        self.relay.members(&self.room)
    }

    /// Hands the room over to a member (see [`Relay::hand_over`]); the
    /// answer arrives on the returned channel.
    pub fn hand_over(
        &self,
        plan: HandOver,
    ) -> oneshot::Receiver<Result<HandedOver, HandOverError>> {
        let (tx, rx) = oneshot::channel();
        let relay = self.relay.clone();
        let room = self.room.clone();
        if let Some(runtime) = &self.runtime {
            runtime.spawn(async move {
                let _ = tx.send(relay.hand_over(&room, &plan).await);
            });
        }
        rx
    }

    /// Stops the relay: every connection is closed (1001), the advertisement
    /// withdrawn, the room's file left complete. Blocks until it has (at most
    /// [`STOP_LIMIT`]): call it off the UI thread.
    pub fn stop(mut self) {
        self.shut_down();
    }

    /// Ends the relay at once, as a crash would: no goodbye, no hand-over.
    /// For tests of a host that vanishes.
    pub fn abandon(mut self) {
        self.stop.take();
        self.serving.take();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    /// The work of [`Self::stop`], once.
    fn shut_down(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(serving) = self.serving.take() {
            match runtime.block_on(async { tokio::time::timeout(STOP_LIMIT, serving).await }) {
                Ok(Ok(Ok(()))) => info!(room = self.room, "stopped hosting"),
                Ok(Ok(Err(err))) => warn!(%err, "the hosted relay ended with an error"),
                Ok(Err(err)) => warn!(%err, "the hosted relay failed"),
                Err(_) => warn!("the hosted relay took too long to stop"),
            }
        }
        runtime.shutdown_timeout(Duration::from_secs(1));
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// `wss://IP:PORT/ROOM#fp=…[&code=…]`: the room's address, naming its
/// certificate and, when it needs one, its code.
fn invitation(
    ip: IpAddr,
    port: u16,
    room: &str,
    fingerprint: &Fingerprint,
    code: Option<&Password>,
) -> String {
    let pinned = with_fingerprint(&discovery::room_url(true, ip, port, room), fingerprint);
    match code {
        Some(code) => with_code(&pinned, code),
        None => pinned,
    }
}

/// The loopback address of `ip`'s family.
fn loopback_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
    }
}

/// A listener on `bind`, at `port` or the next free one of the
/// [`PORT_TRIES`] after it, or at any free port; with a note when it is not
/// at `port`.
fn listen(bind: IpAddr, port: u16) -> Result<(TcpListener, Option<String>), HostError> {
    if port == 0 {
        return bind_at(bind, 0).map(|listener| (listener, None));
    }
    let last = port.saturating_add(PORT_TRIES);
    for candidate in port..=last {
        match bind_at(bind, candidate) {
            Ok(listener) => {
                let note = (candidate != port).then(|| {
                    format!(
                        "Port {port} is taken (by another Tabula, perhaps), so this room uses port {candidate}."
                    )
                });
                return Ok((listener, note));
            }
            Err(HostError::Listen { source, .. }) if source.kind() == io::ErrorKind::AddrInUse => {}
            Err(err) => return Err(err),
        }
    }
    let listener = bind_at(bind, 0)?;
    let chosen = listener.local_addr().map_or(0, |address| address.port());
    Ok((
        listener,
        Some(format!(
            "Ports {port} to {last} are taken, so this room uses port {chosen}."
        )),
    ))
}

/// A listener on `bind:port`.
fn bind_at(bind: IpAddr, port: u16) -> Result<TcpListener, HostError> {
    let address = SocketAddr::new(bind, port);
    TcpListener::bind(address).map_err(|source| HostError::Listen { address, source })
}

/// Writes `log` as room `room`'s file in `data_dir`, moving an earlier file
/// of that name aside to `DATA/earlier/`.
fn seed(
    data_dir: &Path,
    room: &str,
    log: &[SequencedOp],
    pictures: &[Blob],
) -> Result<(), HostError> {
    let rooms = store::rooms_dir(data_dir);
    let path = store::room_path(&rooms, room);
    if path.exists() {
        let earlier = data_dir.join("earlier");
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis());
        let aside = earlier.join(format!("{room}-{stamp}.tabula"));
        std::fs::create_dir_all(&earlier)
            .and_then(|()| std::fs::rename(&path, &aside))
            .map_err(|source| HostError::MoveAside {
                path: path.clone(),
                source,
            })?;
        // The WAL and shared-memory files belong to the file moved aside,
        // which SQLite has folded them into when it last closed it.
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        info!(room, aside = %aside.display(), "moved an earlier file of this room aside");
    }
    std::fs::create_dir_all(&rooms).map_err(|cause| {
        HostError::Seed(FileError::Io {
            path: rooms.clone(),
            cause,
        })
    })?;
    save_session_and_pictures(&path, room, log, pictures)?;
    Ok(())
}
