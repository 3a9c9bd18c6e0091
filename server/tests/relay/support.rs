//! Test support: [`TestRelay`] runs the real relay on an ephemeral loopback port;
//! [`TestClient`] speaks to it the way the app does, with helpers that never wait
//! longer than [`WAIT`].

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tabula_server::Config;
use tabula_shared::access::ResumeSecret;
use tabula_shared::{
    ClientId, ClientMessage, Color, Credentials, Hello, Op, OpId, OpKind, PROTOCOL_VERSION,
    PeerInfo, Point, RoomAccess, SequencedOp, ServerMessage, StrokeId, StrokeStyle, Welcome,
    decode, encode,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The longest any single wait in a test may take before it fails: for what
/// should happen soon, a margin that a loaded 2-core CI machine cannot miss.
/// A passing test never waits it out; a failing one fails once it has.
pub const WAIT: Duration = Duration::from_secs(30);

/// Settings for tests: quick heartbeats, small messages, and timeouts no test
/// meets by accident on a loaded machine (a test of a timeout sets its own).
pub fn test_config() -> Config {
    Config {
        max_frame_bytes: 64 * 1024,
        heartbeat_interval: Duration::from_millis(200),
        heartbeat_timeout: Duration::from_mins(1),
        hello_timeout: WAIT,
        handshake_timeout: WAIT,
        write_timeout: WAIT,
        ..Config::default()
    }
}

/// The resume secret each test client id was given in each room, as the
/// app keeps its own: every hello presents it.
fn secrets() -> std::sync::MutexGuard<'static, HashMap<(String, ClientId), ResumeSecret>> {
    static SECRETS: OnceLock<Mutex<HashMap<(String, ClientId), ResumeSecret>>> = OnceLock::new();
    SECRETS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A relay running in the test's runtime.
pub struct TestRelay {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The relay itself, to list its rooms or hand one over.
    pub relay: tabula_server::Relay,
    /// Completing this starts the relay's shutdown.
    stop: Option<oneshot::Sender<()>>,
    /// The task running [`tabula_server::Relay::serve`].
    task: JoinHandle<Result<(), tabula_server::Error>>,
}

impl TestRelay {
    /// A relay with [`test_config`].
    pub async fn start() -> Self {
        Self::with_config(test_config()).await
    }

    /// A relay with the given settings.
    pub async fn with_config(config: Config) -> Self {
        // RUST_LOG=tabula_server=debug shows the relay's side of a failing test.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("could not bind a loopback port");
        let addr = listener.local_addr().expect("no local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let relay = tabula_server::Relay::new(config).expect("a valid config");
        let serving = relay.clone();
        let task = tokio::spawn(async move {
            serving
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
        });
        Self {
            addr,
            relay,
            stop: Some(stop),
            task,
        }
    }

    /// The WebSocket URL of a room (or of any path).
    pub fn url(&self, path: &str) -> String {
        format!("ws://{}/{path}", self.addr)
    }

    /// Starts the shutdown without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shuts down and waits for [`tabula_server::run`] to return.
    pub async fn stop(mut self) -> Result<(), tabula_server::Error> {
        self.begin_shutdown();
        timeout(WAIT, self.task)
            .await
            .expect("run did not return after shutdown")
            .expect("run panicked")
    }
}

/// The client side of a connection.
pub type ClientWs = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A test peer.
pub struct TestClient {
    /// Its socket.
    pub ws: ClientWs,
    /// Who it says it is.
    pub info: PeerInfo,
    /// The joins and leaves the relay recorded that [`Self::recv`] has passed
    /// over, in order.
    pub presence: Vec<SequencedOp>,
    /// Who this client knows is in the room besides itself: the welcome's
    /// peers, then the `Peers` news [`Self::recv`] has passed over.
    pub peers: BTreeMap<ClientId, PeerInfo>,
    /// The id of every op seen (as an op or an ack) by sequence number, for
    /// the `last_op` of a later hello.
    pub seen: BTreeMap<u64, OpId>,
    /// The latest word on what this client may do in its room, which
    /// [`Self::recv`] passes over.
    pub access: Option<RoomAccess>,
}

impl TestClient {
    /// Completes the WebSocket handshake to `room`, without a hello.
    pub async fn connect(relay: &TestRelay, room: &str, name: &str) -> Self {
        let (ws, _) = timeout(WAIT, tokio_tungstenite::connect_async(relay.url(room)))
            .await
            .expect("handshake timed out")
            .expect("handshake failed");
        Self::from_ws(ws, name)
    }

    /// Wraps a socket that has completed the handshake.
    pub fn from_ws(ws: ClientWs, name: &str) -> Self {
        Self {
            ws,
            info: peer_info(name),
            presence: Vec::new(),
            peers: BTreeMap::new(),
            seen: BTreeMap::new(),
            access: None,
        }
    }

    /// Connects, says hello with `last_seen` 0 and returns the welcome.
    pub async fn join(relay: &TestRelay, room: &str, name: &str) -> (Self, Welcome) {
        let mut client = Self::connect(relay, room, name).await;
        let welcome = client.hello(room, 0).await;
        (client, welcome)
    }

    /// Connects as an existing client (same id) that has seen up to
    /// `last_seen`, which was op `last_op`.
    pub async fn rejoin(
        relay: &TestRelay,
        room: &str,
        info: &PeerInfo,
        last_seen: u64,
        last_op: Option<OpId>,
    ) -> (Self, Welcome) {
        let mut client = Self::connect(relay, room, &info.name).await;
        client.info = info.clone();
        if let Some(op) = last_op {
            client.seen.insert(last_seen, op);
        }
        let welcome = client.hello(room, last_seen).await;
        (client, welcome)
    }

    /// The id of the op this client saw as number `seq`.
    pub fn op_at(&self, seq: u64) -> Option<OpId> {
        self.seen.get(&seq).copied()
    }

    /// This client's hello for `room`, naming the op it saw at `last_seen`
    /// and carrying the resume secret this client id was given in `room`, if
    /// it was given one (as the app does across reconnects).
    pub fn hello_message(&self, room: &str, last_seen: u64) -> Hello {
        let resume = secrets().get(&(room.to_owned(), self.info.client)).copied();
        Hello {
            protocol: PROTOCOL_VERSION,
            room: room.to_owned(),
            name: self.info.name.clone(),
            color: self.info.color,
            client: self.info.client,
            last_seen,
            last_op: self.op_at(last_seen),
            credentials: Credentials {
                resume,
                ..Credentials::default()
            },
        }
    }

    /// Says hello and returns the welcome.
    pub async fn hello(&mut self, room: &str, last_seen: u64) -> Welcome {
        let hello = self.hello_message(room, last_seen);
        self.send(&ClientMessage::Hello(hello)).await;
        self.welcome().await
    }

    /// Waits for the welcome, and remembers the resume secret it gives this
    /// client id in its room for the next hello.
    pub async fn welcome(&mut self) -> Welcome {
        match self.recv().await {
            ServerMessage::Welcome(welcome) => {
                self.peers = welcome
                    .peers
                    .iter()
                    .map(|p| (p.client, p.clone()))
                    .collect();
                secrets().insert(
                    (welcome.room.clone(), self.info.client),
                    welcome.resume_secret,
                );
                welcome
            }
            other => panic!("expected a welcome, got {other:?}"),
        }
    }

    /// Sends one message.
    pub async fn send(&mut self, message: &ClientMessage) {
        self.send_raw(Message::Binary(
            encode(message).expect("could not encode").into(),
        ))
        .await;
    }

    /// Sends one WebSocket message as is.
    pub async fn send_raw(&mut self, message: Message) {
        timeout(WAIT, self.ws.send(message))
            .await
            .expect("send timed out")
            .expect("send failed");
    }

    /// Sends an op and waits for its ack; returns the sequence number.
    pub async fn sequence(&mut self, op: &Op) -> u64 {
        self.send(&ClientMessage::Op(op.clone())).await;
        self.recv_ack(op.id).await.0
    }

    /// The next message from the relay, recorded joins and leaves set aside
    /// in [`Self::presence`], what this client may do in [`Self::access`],
    /// the news of who came and went taken into [`Self::peers`] (and pings
    /// and pongs skipped).
    pub async fn recv(&mut self) -> ServerMessage {
        timeout(WAIT, self.next_message())
            .await
            .unwrap_or_else(|_| panic!("{}: nothing arrived within {WAIT:?}", self.info.name))
    }

    /// The next message from the relay, whatever it is (pings and pongs skipped).
    pub async fn recv_any(&mut self) -> ServerMessage {
        timeout(WAIT, self.next_any())
            .await
            .unwrap_or_else(|_| panic!("{}: nothing arrived within {WAIT:?}", self.info.name))
    }

    /// The next message but a recorded join or leave, a word on access or
    /// the news of who came and went, however long it takes.
    async fn next_message(&mut self) -> ServerMessage {
        loop {
            match self.next_any().await {
                ServerMessage::Op(op) if op.op.kind.is_presence() => self.presence.push(op),
                ServerMessage::Access(access) => self.access = Some(access),
                ServerMessage::Peers { joined, left } => self.take_news(joined, left),
                other => return other,
            }
        }
    }

    /// Takes in the news of who came and went, as the app does.
    fn take_news(&mut self, joined: Vec<PeerInfo>, left: Vec<ClientId>) {
        for client in left {
            self.peers.remove(&client);
        }
        for peer in joined {
            if peer.client != self.info.client {
                self.peers.insert(peer.client, peer);
            }
        }
    }

    /// Reads until the news says `who` is in the room (as it is now); only
    /// news and recorded joins and leaves may come meanwhile.
    pub async fn expect_joined(&mut self, who: &PeerInfo) {
        self.expect_news(|peers| peers.get(&who.client) == Some(who), &who.name)
            .await;
    }

    /// Reads until the news says `client` has left; only news and recorded
    /// joins and leaves may come meanwhile.
    pub async fn expect_left(&mut self, client: ClientId) {
        self.expect_news(|peers| !peers.contains_key(&client), "a leave")
            .await;
    }

    /// Reads news until `known` holds of who is in the room.
    async fn expect_news(
        &mut self,
        known: impl Fn(&BTreeMap<ClientId, PeerInfo>) -> bool,
        what: &str,
    ) {
        while !known(&self.peers) {
            match self.recv_any().await {
                ServerMessage::Op(op) if op.op.kind.is_presence() => self.presence.push(op),
                ServerMessage::Peers { joined, left } => self.take_news(joined, left),
                ServerMessage::Access(access) => self.access = Some(access),
                other => panic!("{}: expected news of {what}, got {other:?}", self.info.name),
            }
        }
    }

    /// The next message, however long it takes.
    async fn next_any(&mut self) -> ServerMessage {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Binary(frame))) => {
                    let message = decode(&frame).expect("the relay sent a bad frame");
                    match &message {
                        ServerMessage::Op(op) => {
                            self.seen.insert(op.seq, op.op.id);
                        }
                        ServerMessage::Ack { op, seq, .. } => {
                            self.seen.insert(*seq, *op);
                        }
                        _ => {}
                    }
                    return message;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("{}: expected a binary frame, got {other:?}", self.info.name),
            }
        }
    }

    /// Waits for the relay's record of this client's latest join (which a room
    /// with a file stores in the background) and returns its sequence number;
    /// nothing but joins and leaves may come first.
    pub async fn own_join(&mut self) -> u64 {
        loop {
            let own = self
                .presence
                .iter()
                .rev()
                .find(|op| op.author == self.info.client && op.op.kind != OpKind::Left);
            if let Some(op) = own {
                return op.seq;
            }
            match self.recv_any().await {
                ServerMessage::Op(op) if op.op.kind.is_presence() => self.presence.push(op),
                ServerMessage::Access(access) => self.access = Some(access),
                other => panic!("{}: expected its join, got {other:?}", self.info.name),
            }
        }
    }

    /// The next message, which must be a sequenced op.
    pub async fn recv_op(&mut self) -> SequencedOp {
        match self.recv().await {
            ServerMessage::Op(op) => op,
            other => panic!("{}: expected an op, got {other:?}", self.info.name),
        }
    }

    /// The next message, which must be the ack of `op`; returns seq and timestamp.
    pub async fn recv_ack(&mut self, op: OpId) -> (u64, u64) {
        match self.recv().await {
            ServerMessage::Ack {
                op: acked,
                seq,
                timestamp_ms,
            } if acked == op => (seq, timestamp_ms),
            other => panic!(
                "{}: expected the ack of {op}, got {other:?}",
                self.info.name
            ),
        }
    }

    /// Asserts that no message but recorded joins and leaves arrives for `quiet`.
    pub async fn expect_nothing(&mut self, quiet: Duration) {
        if let Ok(message) = timeout(quiet, self.next_message()).await {
            panic!("{}: expected nothing, got {message:?}", self.info.name);
        }
    }

    /// Reads until the relay's close frame and returns its code and reason, after
    /// answering it as a real client does and seeing the relay end the connection.
    pub async fn expect_close(&mut self) -> (u16, String) {
        let closed = timeout(WAIT, async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Close(Some(frame)))) => {
                        return (u16::from(frame.code), frame.reason.to_string());
                    }
                    Some(Ok(Message::Close(None))) => panic!("a close frame without a code"),
                    Some(Ok(_)) => {}
                    other => panic!("expected a close frame, got {other:?}"),
                }
            }
        });
        let close = closed.await.expect("no close frame arrived");
        // Reading on sends tungstenite's close reply; the stream then ends when
        // the relay closes the TCP connection.
        timeout(WAIT, async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await
        .expect("the relay did not close the connection after its close frame");
        close
    }
}

/// A fresh identity.
pub fn peer_info(name: &str) -> PeerInfo {
    PeerInfo {
        client: ClientId::random(),
        name: name.to_owned(),
        color: Color::rgb(200, 30, 90),
    }
}

/// A small, valid op.
pub fn stroke_op() -> Op {
    Op::new(OpKind::StrokeBegin {
        stroke: StrokeId::random(),
        style: StrokeStyle {
            color: Color::rgb(0, 0, 0),
            width: 2.0,
        },
        start: Point::new(1.0, 2.0),
    })
}

/// A valid op carrying `points` points: about 8 bytes each on the wire.
pub fn big_op(points: usize) -> Op {
    Op::new(OpKind::StrokeAppend {
        stroke: StrokeId::random(),
        points: (0..points).map(|i| Point::new(i as f32, 0.5)).collect(),
    })
}

/// Sends raw bytes to the relay and returns everything it answers until it
/// closes the connection.
pub async fn http_exchange(relay: &TestRelay, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(relay.addr)
        .await
        .expect("could not connect");
    stream
        .write_all(request)
        .await
        .expect("could not send the request");
    let mut answer = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut answer))
        .await
        .expect("the relay did not close the connection")
        .expect("reading the answer failed");
    String::from_utf8_lossy(&answer).into_owned()
}
