//! `tabula-server`: the relay binary. Parses flags, sets up logging, listens, and
//! runs [`tabula_server::run`] until Ctrl+C or SIGTERM (serving `wss://` with
//! `--tls-cert` and `--tls-key`). Two subcommands work on a data folder without
//! serving, and print what [`tabula_server::admin`] returns: `rooms` lists its
//! rooms, `export` copies one room into a session file; a third, `gen-cert`,
//! writes a self-signed certificate for a LAN
//! ([`tabula_server::tls::self_signed`]).

use std::future::Future;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use clap::builder::RangedU64ValueParser;
use tabula_server::tls::self_signed;
use tabula_server::{Config, TlsSettings, admin, discovery, store};
use tokio::net::TcpListener;
use tracing::{error, info};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// Tabula's relay: clients connect to ws://HOST:PORT/ROOM (wss:// with
/// --tls-cert and --tls-key); every op sent to a room is given the room's next
/// sequence number and passed on to everyone in it.
///
/// Logging follows `RUST_LOG` (for example `RUST_LOG=tabula_server=debug`); the
/// default is `info`.
#[derive(Debug, Parser)]
#[command(name = "tabula-server", version, about)]
struct Args {
    /// What to do instead of serving.
    #[command(subcommand)]
    command: Option<Command>,

    /// The data folder: each room is kept in DATA/rooms/ROOM.tabula and comes back
    /// after a restart. Default: a tabula-data folder in the platform's data folder
    /// (on Linux ~/.local/share/tabula-data).
    #[arg(long, value_name = "DIR", global = true, env = "TABULA_DATA")]
    data: Option<PathBuf>,

    /// Keep rooms in memory only: nothing is written, and everything is lost when
    /// the relay stops.
    #[arg(long, conflicts_with = "data")]
    memory: bool,

    /// Run as one node of a cluster on Redis (redis://HOST:PORT): every room
    /// is sequenced, kept and shared through it, so any node serves any room
    /// and clients move to another when one fails. Run Redis with
    /// appendonly yes and appendfsync always (see the README).
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "data",
        env = "TABULA_REDIS",
        global = true
    )]
    redis: Option<String>,

    /// The address and port to listen on.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:7457")]
    listen: String,

    /// The largest message a client may send, in bytes; a larger one closes that
    /// connection with 1009. At least one part of an image (50176), at most the
    /// codec's limit.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = Config::default().max_frame_bytes,
        value_parser = RangedU64ValueParser::<usize>::new()
            .range(tabula_shared::blob::BLOB_FRAME_BYTES as u64..=tabula_shared::codec::MAX_FRAME_BYTES as u64),
    )]
    max_frame_bytes: usize,

    /// The largest image a client may upload, in bytes (an image's encoded
    /// file); a bigger one is refused with a message. At most 10 MiB.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = Config::default().max_blob_bytes,
        value_parser = RangedU64ValueParser::<u64>::new()
            .range(1..=tabula_shared::caps::MAX_BLOB_BYTES),
    )]
    max_blob_bytes: u64,

    /// How many outgoing frames may wait for one client; a client that falls this
    /// far behind is cut off so that its room never waits on it.
    #[arg(
        long,
        value_name = "FRAMES",
        default_value_t = Config::default().peer_queue_frames,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..),
    )]
    peer_queue: usize,

    /// How many bytes of outgoing frames may wait for one client; a client
    /// that falls this far behind is cut off too.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = Config::default().peer_queue_bytes,
        value_parser = RangedU64ValueParser::<usize>::new()
            .range(tabula_shared::codec::MAX_FRAME_BYTES as u64..),
    )]
    peer_queue_bytes: usize,

    /// Messages (ops, cursor moves, requests) one connection may send a second;
    /// above it the relay reads that connection more slowly (nothing is refused).
    #[arg(
        long,
        value_name = "N",
        default_value_t = Config::default().messages_per_sec,
        value_parser = clap::value_parser!(u32).range(1..),
    )]
    max_messages_per_sec: u32,

    /// Messages one connection may send at once beyond that rate (a paste of a
    /// thousand objects is a thousand ops).
    #[arg(
        long,
        value_name = "N",
        default_value_t = Config::default().messages_burst,
        value_parser = clap::value_parser!(u32).range(1..),
    )]
    messages_burst: u32,

    /// Bytes one connection may send a second; read more slowly above it.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = Config::default().bytes_per_sec,
        value_parser = clap::value_parser!(u32).range(1..),
    )]
    max_bytes_per_sec: u32,

    /// Bytes one connection may send at once beyond that rate; at least
    /// --max-frame-bytes.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = Config::default().bytes_burst,
        value_parser = clap::value_parser!(u32).range(1..),
    )]
    bytes_burst: u32,

    /// Ops one connection may have waiting to be stored; with that many the
    /// relay stops reading it until their acks go out.
    #[arg(
        long,
        value_name = "N",
        default_value_t = Config::default().max_unacked_ops,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=1_000_000),
    )]
    max_unacked_ops: usize,

    /// Cursor positions of one sender passed on a second, at most; moves in
    /// between are coalesced (the latest wins).
    #[arg(
        long,
        value_name = "HZ",
        default_value_t = 30,
        value_parser = clap::value_parser!(u32).range(1..=1000),
    )]
    cursor_hz: u32,

    /// Bytes of a room's history the relay holds for one connection at a time
    /// while it sends a catch-up or the history asked for.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = Config::default().history_bytes,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..),
    )]
    history_bytes: usize,

    /// Seconds a message may take to arrive once its first byte has; a client
    /// that starts a message and never finishes it is cut off.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = Config::default().message_deadline.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..),
    )]
    message_deadline_secs: u64,

    /// Connections one address may have open at once; more are answered 429.
    #[arg(
        long,
        value_name = "N",
        default_value_t = Config::default().max_connections_per_address,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..),
    )]
    max_connections_per_address: usize,

    /// New rooms one address may create a minute.
    #[arg(
        long,
        value_name = "N",
        default_value_t = Config::default().new_rooms_per_minute,
        value_parser = clap::value_parser!(u32).range(1..),
    )]
    new_rooms_per_minute: u32,

    /// Rooms that may be open at once.
    #[arg(
        long,
        value_name = "N",
        default_value_t = Config::default().max_rooms,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..),
    )]
    max_rooms: usize,

    /// People who may be in one room at once.
    #[arg(
        long,
        value_name = "N",
        default_value_t = Config::default().max_members,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..),
    )]
    max_members: usize,

    /// Room files that may be open at once (three file descriptors each); the
    /// least recently used is closed to open another. Lowered to fit the
    /// open-file limit.
    #[arg(
        long,
        value_name = "N",
        default_value_t = Config::default().max_open_room_files,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..),
    )]
    max_open_room_files: usize,

    /// Seconds between heartbeat checks; a quiet client is pinged.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = Config::default().heartbeat_interval.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..),
    )]
    heartbeat_secs: u64,

    /// Seconds a client may stay silent (no message, no pong) before it is dropped
    /// as gone. At least --heartbeat-secs.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = Config::default().heartbeat_timeout.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..),
    )]
    heartbeat_timeout_secs: u64,

    /// Seconds a new connection has to complete its HTTP request and WebSocket
    /// handshake, and then again to send its hello.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = Config::default().handshake_timeout.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..),
    )]
    handshake_timeout_secs: u64,

    /// Seconds one write to a client may take before the client is given up on.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = Config::default().write_timeout.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..),
    )]
    write_timeout_secs: u64,

    /// How many connections may be open at once; more are answered 503.
    /// Lowered to fit the open-file limit, which the relay raises to the
    /// system's hard limit at start.
    #[arg(
        long,
        value_name = "N",
        default_value_t = Config::default().max_connections,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..),
    )]
    max_connections: usize,

    /// Milliseconds a room waits for more ops before it writes a batch to disk, so
    /// that ops arriving together share one write. With 0 a room writes at once
    /// and ops arriving during a write share the next one.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = Config::default().group_commit_window.as_millis() as u64,
    )]
    group_commit_ms: u64,

    /// How many ops past its latest board snapshot make a room take a new one; a
    /// joiner at least this far behind gets the snapshot and only the ops after it.
    #[arg(
        long,
        value_name = "OPS",
        default_value_t = Config::default().snapshot_every,
        value_parser = clap::value_parser!(u64).range(1..),
    )]
    snapshot_every: u64,

    /// Advertise the relay on the local network (mDNS / DNS-SD, as
    /// `_tabula._tcp`), so that the app's join dialog lists it.
    #[arg(long)]
    mdns: bool,

    /// The name the relay is advertised under. Default: this machine's name.
    #[arg(long, value_name = "NAME", requires = "mdns")]
    mdns_name: Option<String>,

    /// Advertise on this network interface only (repeatable, or
    /// comma-separated), e.g. `eth0`, or `lo` for this machine alone. Default:
    /// every interface.
    #[arg(
        long = "mdns-interface",
        value_name = "NAME",
        env = discovery::INTERFACES_VARIABLE,
        value_delimiter = ','
    )]
    mdns_interfaces: Vec<String>,

    /// List the open rooms, with how many are in each, in the advertisement.
    /// Without it, people must be told a room's name.
    #[arg(long, requires = "mdns")]
    list_rooms: bool,

    /// Serve wss:// (TLS) with this certificate (PEM; the relay's own
    /// certificate first, then any intermediates), e.g. one `tabula-server
    /// gen-cert` wrote. A plain ws:// request then gets a 400 saying to use
    /// wss://.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Accept WebSocket upgrades whose `Origin` header is exactly this
    /// (repeatable), e.g. `https://board.example.com`, for a web client
    /// served from there. Browsers send an origin with every socket a page
    /// opens, the app and tabula-bench none: without this flag, every
    /// request that carries one is refused (403), so that no web page a
    /// member visits can reach the relay.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,

    /// A password every connection must prove before it enters any room
    /// (it never crosses the wire: clients answer a challenge with it).
    /// Prefer the environment variable to the flag, which other users of
    /// this machine can see in the process list.
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "TABULA_PASSWORD",
        hide_env_values = true
    )]
    password: Option<String>,
}

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Lists the rooms in the data folder (or, with --redis, in Redis) with
    /// their op counts, last activity, and which have their own password.
    Rooms,
    /// Writes one room of the data folder (or, with --redis, of Redis) as a
    /// session file, consistently even while relays serve it.
    Export {
        /// The room.
        #[arg(long)]
        room: String,
        /// The session file to write (it must not exist yet), e.g. meeting.tabula.
        out: PathBuf,
    },
    /// Puts a session file's room (a data folder's ROOM.tabula, or a file the
    /// app saved) into Redis, for the relays of a cluster: its ops with their
    /// numbers, its newest snapshot, its settings. Needs --redis; refused if
    /// Redis already has ops in that room.
    Import {
        /// The room to import it as (default: the room the file was recorded in).
        #[arg(long)]
        room: Option<String>,
        /// The session file to read.
        file: PathBuf,
    },
    /// Writes a self-signed certificate for serving wss:// on a LAN
    /// (tabula-cert.pem, and its key tabula-key.pem, readable by you alone)
    /// and prints its SHA-256 fingerprint and the short code people compare
    /// aloud. Serve it with --tls-cert tabula-cert.pem --tls-key tabula-key.pem.
    GenCert {
        /// A host name or IP address the certificate is for (repeatable).
        /// Default: this machine's name, localhost, 127.0.0.1, `::1` and the
        /// machine's addresses on the network.
        #[arg(long = "name", value_name = "HOST")]
        names: Vec<String>,
        /// The folder to write into (made if missing); an existing
        /// certificate or key there is never overwritten.
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
    },
}

impl Args {
    /// The data folder: `--data`, or the platform default.
    fn data_dir(&self) -> anyhow::Result<PathBuf> {
        match &self.data {
            Some(dir) => Ok(dir.clone()),
            None => dirs::data_dir()
                .map(|dir| dir.join("tabula-data"))
                .context("this platform has no data folder: pass --data DIR"),
        }
    }

    /// The relay settings these flags describe.
    fn config(&self) -> Config {
        let handshake = Duration::from_secs(self.handshake_timeout_secs);
        Config {
            max_frame_bytes: self.max_frame_bytes,
            max_blob_bytes: self.max_blob_bytes,
            peer_queue_frames: self.peer_queue,
            peer_queue_bytes: self.peer_queue_bytes,
            messages_per_sec: self.max_messages_per_sec,
            messages_burst: self.messages_burst,
            bytes_per_sec: self.max_bytes_per_sec,
            bytes_burst: self.bytes_burst,
            max_unacked_ops: self.max_unacked_ops,
            cursor_interval: Duration::from_secs(1) / self.cursor_hz,
            history_bytes: self.history_bytes,
            message_deadline: Duration::from_secs(self.message_deadline_secs),
            max_connections_per_address: self.max_connections_per_address,
            new_rooms_per_minute: self.new_rooms_per_minute,
            max_rooms: self.max_rooms,
            max_members: self.max_members,
            max_open_room_files: self.max_open_room_files,
            heartbeat_interval: Duration::from_secs(self.heartbeat_secs),
            heartbeat_timeout: Duration::from_secs(self.heartbeat_timeout_secs),
            hello_timeout: handshake,
            handshake_timeout: handshake,
            write_timeout: Duration::from_secs(self.write_timeout_secs),
            max_connections: self.max_connections,
            data_dir: None,
            redis: self.redis.clone(),
            group_commit_window: Duration::from_millis(self.group_commit_ms),
            snapshot_every: self.snapshot_every,
            tls: None,
            advertise: self.mdns.then(|| discovery::Advertise {
                instance: self
                    .mdns_name
                    .clone()
                    .unwrap_or_else(discovery::machine_name),
                interfaces: discovery::Interfaces::named(&self.mdns_interfaces),
                rooms: if self.list_rooms {
                    discovery::ListRooms::All
                } else {
                    discovery::ListRooms::None
                },
            }),
            allowed_origins: self.allowed_origins.clone(),
            password: self
                .password
                .clone()
                .and_then(tabula_shared::access::Password::new),
            operators: Vec::new(),
        }
    }
}

/// Gives the heap's free pages back to the system: glibc keeps what a burst
/// of work freed (a thousand rooms opened and joined at once leave most of an
/// idle relay's resident memory behind), and only trims the top of its heaps
/// by itself.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_heap() {
    // SAFETY: malloc_trim takes no pointers and only walks glibc's own heaps
    // under their locks; any thread may call it at any time.
    #[allow(unsafe_code)]
    let released = unsafe { libc::malloc_trim(0) };
    tracing::debug!(released = released != 0, "trimmed the heap");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    store::on_files_closed(trim_heap);
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::builder()
                .with_default_directive(LevelFilter::INFO.into())
                .from_env_lossy(),
        )
        .init();

    match &args.command {
        Some(Command::Rooms) => {
            let rooms = match &args.redis {
                Some(url) => admin::cluster::list_rooms(url)?,
                None => admin::list_rooms(&args.data_dir()?)?,
            };
            write!(std::io::stdout().lock(), "{rooms}")?;
            return Ok(());
        }
        Some(Command::Export { room, out }) => {
            let exported = match &args.redis {
                Some(url) => admin::cluster::export(url, room, out)?,
                None => admin::export(&args.data_dir()?, room, out)?,
            };
            writeln!(std::io::stdout().lock(), "{exported}")?;
            return Ok(());
        }
        Some(Command::Import { room, file }) => {
            let url = args
                .redis
                .as_deref()
                .context("import puts a room into Redis: say which with --redis URL")?;
            let imported = admin::cluster::import(url, file, room.as_deref())?;
            writeln!(std::io::stdout().lock(), "{imported}")?;
            return Ok(());
        }
        Some(Command::GenCert { names, out }) => return gen_cert(names, out),
        None => {}
    }
    if args.memory && args.redis.is_some() {
        anyhow::bail!("--memory and --redis exclude each other: rooms are kept in one place");
    }
    let mut config = args.config();
    if !args.memory && args.redis.is_none() {
        config.data_dir = Some(args.data_dir()?);
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls = Some(TlsSettings::load(cert, key)?);
    }
    let scheme = if config.tls.is_some() { "wss" } else { "ws" };

    if let Some(limit) = tabula_server::raise_open_file_limit() {
        info!(limit, "open-file limit");
    }
    let shutdown = shutdown_signal()?;
    let listener = TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("could not listen on {}", args.listen))?;
    let address = listener
        .local_addr()
        .context("could not read the listening address")?;
    info!(%address, "Tabula relay listening: clients connect to {scheme}://{address}/ROOM");

    tabula_server::run(listener, config, shutdown).await?;
    info!("stopped");
    Ok(())
}

/// `tabula-server gen-cert`: writes a self-signed pair into `out` and prints
/// where, for which names, and its fingerprint in both forms.
fn gen_cert(names: &[String], out: &std::path::Path) -> anyhow::Result<()> {
    let names = if names.is_empty() {
        self_signed::default_names()
    } else {
        names.to_vec()
    };
    let made = self_signed::generate(&names)?;
    let (cert, key) = self_signed::write_pair(out, &made)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "certificate: {}", cert.display())?;
    writeln!(stdout, "key:         {} (keep it secret)", key.display())?;
    writeln!(stdout, "for:         {}", names.join(", "))?;
    writeln!(stdout, "SHA-256:     {}", made.fingerprint)?;
    writeln!(stdout, "short code:  {}", made.fingerprint.short_code())?;
    writeln!(
        stdout,
        "serve it:    tabula-server --tls-cert {} --tls-key {}",
        cert.display(),
        key.display()
    )?;
    writeln!(
        stdout,
        "invite with: wss://HOST:PORT/ROOM#fp={}",
        made.fingerprint.url_form()
    )?;
    Ok(())
}

/// Completes on Ctrl+C or, on Unix, SIGTERM. The SIGTERM handler is installed
/// now, so that a failure to install it stops the relay before it starts.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("could not install the SIGTERM handler")?;
    Ok(async move {
        let ctrl_c = async {
            if let Err(err) = tokio::signal::ctrl_c().await {
                error!(%err, "could not listen for Ctrl+C");
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        let terminate = terminate.recv();
        #[cfg(not(unix))]
        let terminate = std::future::pending::<Option<()>>();
        tokio::select! {
            () = ctrl_c => info!("Ctrl+C: shutting down"),
            _ = terminate => info!("SIGTERM: shutting down"),
        }
    })
}
