//! The rig every module of these tests shares: who draws, the app in a
//! headless window, the canvas on its own, drags and clicks, people hosting
//! and joining with no window, relays on 127.0.0.1:0 (behind a proxy the
//! test can cut), and waiting until something has happened.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::{Duration, Instant};

use egui::{Pos2, vec2};
use egui_kittest::Harness;
use tabula_app::app::TabulaApp;
use tabula_app::canvas::Canvas;
use tabula_app::canvas::tools::ToolSettings;
use tabula_app::files::documents::Documents;
use tabula_app::files::recent::RecentFiles;
use tabula_app::host::hosting::Hosting;
use tabula_app::host::{Host, HostSettings};
use tabula_app::session::{ConnectionStatus, Identity, Session};
use tabula_shared::session_file::{SessionFile, SessionFileError};
use tabula_shared::{
    Board, ClientId, Color, History, Op, OpId, OpKind, Point, StrokeId, StrokeStyle,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};

/// How long anything a test waits for may take: far longer than it takes on
/// a loaded machine, so that only something that never happens trips it.
pub const PATIENCE: Duration = Duration::from_mins(1);

/// The colour of everyone [`identity`] makes.
pub const COLOR: Color = Color::rgb(200, 40, 40);

/// Someone drawing, called `name`, in [`COLOR`].
pub fn identity(name: &str) -> Identity {
    Identity {
        client: ClientId::random(),
        name: name.to_owned(),
        color: COLOR,
    }
}

/// A runtime for the app to hold; the UI tests never start a network task on it.
pub fn runtime() -> tokio::runtime::Handle {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a tokio runtime")
        })
        .handle()
        .clone()
}

/// Calls `done` every few milliseconds until it gives a value, which it
/// returns; fails the test, saying `what` it waited for, after [`PATIENCE`].
pub fn eventually<T>(what: &str, mut done: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = done() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A wake for a background thread that also tells when the thread has ended
/// (it drops the wake then): the wake, and what waits for the end.
pub fn watched_wake() -> (impl Fn() + Send + 'static, ThreadEnd) {
    let (sender, receiver) = mpsc::channel();
    let wake = move || {
        // The test may have stopped listening; the wake is only a signal.
        let _ = sender.send(());
    };
    (wake, ThreadEnd(receiver))
}

/// The end of the thread holding a [`watched_wake`].
pub struct ThreadEnd(mpsc::Receiver<()>);

impl ThreadEnd {
    /// Waits until the thread has let its wake go: it has ended.
    pub fn wait(self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.0.recv_timeout(left) {
                Ok(()) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("the thread never ended"),
            }
        }
    }
}

/// Holds the write lock of the session file at `path` until dropped (or
/// rolled back), as another writer would: a save there waits for it (for up
/// to the file's five-second busy timeout, then fails).
pub fn write_lock(path: &Path) -> rusqlite::Connection {
    let lock = rusqlite::Connection::open(path).expect("opens");
    lock.execute_batch("BEGIN IMMEDIATE").expect("locks");
    lock
}

/// The sequence numbers of the board snapshots `file` holds, newest first.
pub fn snapshot_seqs(file: &SessionFile) -> Result<Vec<u64>, SessionFileError> {
    let mut seqs = Vec::new();
    let mut at = u64::MAX;
    while let Some(stored) = file.snapshot_at_or_before(at)? {
        seqs.push(stored.seq);
        let Some(before) = stored.seq.checked_sub(1) else {
            break;
        };
        at = before;
    }
    Ok(seqs)
}

/// Files opened and saved with the recent files kept in memory, away from
/// the user's.
pub fn documents() -> Documents {
    Documents::new(RecentFiles::at(None))
}

/// The app on `session`, with its recent files kept to itself.
pub fn app(session: Session) -> TabulaApp {
    let mut app = TabulaApp::new(session, runtime());
    app.set_documents(documents());
    app
}

/// `app` in a headless 1280×800 window in the app's theme, a frame a quarter
/// of a second, after its first frame. Each frame runs as eframe runs it:
/// the app's logic, then its frame.
pub fn window(app: TabulaApp) -> Harness<'static, TabulaApp> {
    let mut harness = Harness::builder()
        .with_size(vec2(1280.0, 800.0))
        .with_step_dt(0.25)
        .build_ui_state(
            |ui, app: &mut TabulaApp| {
                app.logic(ui.ctx());
                app.whiteboard_ui(ui);
            },
            app,
        );
    tabula_app::ui::theme::apply(&harness.ctx);
    harness.run();
    harness
}

/// The canvas on its own and a board that takes its ops, as the app would
/// drive them (no session, no network).
pub struct Scene {
    /// The canvas under test.
    pub canvas: Canvas,
    /// Where its ops land, as the session's board would.
    pub board: Board,
    /// Undo for the actions the canvas produced, as the session keeps it.
    pub history: History,
    /// The author of those ops.
    pub me: ClientId,
    /// The tool and style in use.
    pub tools: ToolSettings,
    /// Whether a modal dialog covers the canvas, as the app would say.
    pub covered: bool,
    /// Every action the canvas produced, in order.
    pub actions: Vec<Vec<Op>>,
    /// Every op of those, in order: what would go to the relay.
    pub ops: Vec<Op>,
    /// How many frames produced at least one op.
    pub frames_with_ops: usize,
    /// Every pointer position the canvas reported.
    pub pointers: Vec<Option<Point>>,
    /// The pictures its images show.
    pub pictures: tabula_app::pictures::Pictures,
}

/// The canvas with `tools` in an 800×600 window, a frame `step_dt` seconds,
/// after its first frame.
pub fn scene(tools: ToolSettings, step_dt: f32) -> Harness<'static, Scene> {
    let state = Scene {
        canvas: Canvas::new(),
        board: Board::new(),
        history: History::new(),
        me: ClientId::random(),
        tools,
        covered: false,
        actions: Vec::new(),
        ops: Vec::new(),
        frames_with_ops: 0,
        pointers: Vec::new(),
        pictures: tabula_app::pictures::Pictures::default(),
    };
    let mut harness = Harness::builder()
        .with_size(vec2(800.0, 600.0))
        .with_step_dt(step_dt)
        .build_ui_state(
            |ui, scene: &mut Scene| {
                scene.canvas.set_covered(scene.covered);
                let input = scene.canvas.input_ui(ui, scene.tools, &scene.board);
                if !input.actions.is_empty() {
                    scene.frames_with_ops += 1;
                }
                for action in input.actions {
                    scene.ops.extend(action.iter().cloned());
                    scene.actions.push(action.clone());
                    scene.history.perform(&mut scene.board, scene.me, action);
                }
                if input.pointer_changed {
                    scene.pointers.push(input.pointer);
                }
                scene
                    .canvas
                    .paint_ui(ui, &scene.board, &scene.pictures, &[]);
            },
            state,
        );
    harness.run();
    harness
}

/// Presses the primary button at `from`, moves in `steps` frames to `to`,
/// releases.
pub fn drag<S>(harness: &mut Harness<'_, S>, from: Pos2, to: Pos2, steps: usize) {
    press_and_move(harness, from, to, steps);
    harness.drop_at(to);
    harness.run();
}

/// Presses the primary button at `from`, moves in `steps` frames to `to`,
/// and keeps holding.
pub fn press_and_move<S>(harness: &mut Harness<'_, S>, from: Pos2, to: Pos2, steps: usize) {
    harness.hover_at(from);
    harness.run();
    harness.drag_at(from);
    harness.run();
    for i in 1..=steps {
        harness.hover_at(from + (to - from) * (i as f32 / steps as f32));
        harness.run();
    }
}

/// The relay's welcome into `room`, where `peers` are.
pub fn welcome(room: &str, peers: Vec<tabula_shared::PeerInfo>) -> tabula_app::net::Event {
    tabula_app::net::Event::Welcome(tabula_shared::Welcome {
        room: room.to_owned(),
        peers,
        replay_from: 0,
        head: 0,
        snapshot: None,
        resume_secret: tabula_shared::access::ResumeSecret([7; 32]),
        max_blob_bytes: tabula_shared::caps::MAX_BLOB_BYTES,
    })
}

/// Presses and releases the primary button at `at`, a frame apart.
pub fn click<S>(harness: &mut Harness<'_, S>, at: Pos2) {
    harness.hover_at(at);
    harness.run();
    harness.drag_at(at);
    harness.run();
    harness.drop_at(at);
    harness.run();
}

/// Hosting on loopback only, at any free port, unadvertised.
pub fn host_settings(data: &Path) -> HostSettings {
    HostSettings {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: 0,
        data_dir: data.to_path_buf(),
        advertise: None,
        code_required: false,
        operator: None,
    }
}

/// A host of `room` asked for a port something else holds: the host (on the
/// next free port) and the listener that holds the one asked for, to keep
/// until the test is done with it.
pub fn host_on_taken_port(data: &Path, room: &str) -> (Host, std::net::TcpListener) {
    let taken = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free port");
    let port = taken.local_addr().expect("its address").port();
    let host = Host::start(
        &HostSettings {
            port,
            ..host_settings(data)
        },
        room,
        &[],
        None,
    )
    .expect("hosted on another port");
    (host, taken)
}

/// One person with no window: their board and their hosting, turned by the
/// test as a frame would.
pub struct Person {
    /// Their board and its link to the room.
    pub session: Session,
    /// What their app does about hosting.
    pub hosting: Hosting,
    /// The ids of every op this person made, to find each exactly once.
    pub made: Vec<OpId>,
}

impl Person {
    /// `name`, offline, hosting (when asked) from `data` with
    /// [`host_settings`], their network tasks on `runtime`.
    pub fn new(name: &str, runtime: &tokio::runtime::Runtime, data: &Path) -> Self {
        let mut session = Session::offline(identity(name));
        session.set_spawner(runtime.handle(), || {});
        Self {
            session,
            hosting: Hosting::new(host_settings(data), || {}),
            made: Vec::new(),
        }
    }

    /// A short stroke, one op per point as the canvas streams it.
    pub fn draw(&mut self, at: f32) {
        let stroke = StrokeId::random();
        let mut ops = vec![Op::new(OpKind::StrokeBegin {
            stroke,
            style: StrokeStyle {
                color: Color::rgb(10, 20, 30),
                width: 2.0,
            },
            start: Point::new(at, at),
        })];
        for i in 1..4 {
            ops.push(Op::new(OpKind::StrokeAppend {
                stroke,
                points: vec![Point::new(at + i as f32, at)],
            }));
        }
        ops.push(Op::new(OpKind::StrokeEnd { stroke }));
        for op in ops {
            self.made.push(op.id);
            self.session.submit(op);
        }
    }

    /// One frame's worth: the network's events, then hosting.
    pub fn turn(&mut self) {
        self.session.poll();
        self.hosting.poll(&mut self.session);
    }

    /// Whether they are in their room with nothing left unacknowledged.
    pub fn settled(&self) -> bool {
        *self.session.status() == ConnectionStatus::Connected
            && self.session.board().pending_ops().count() == 0
    }
}

/// A relay on 127.0.0.1:0, running on a test's runtime until stopped or
/// dropped.
pub struct Relay {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Stops it when sent (or dropped).
    stop: oneshot::Sender<()>,
    /// Its task, which ends once it has shut down.
    task: tokio::task::JoinHandle<Result<(), tabula_server::Error>>,
}

impl Relay {
    /// Starts a relay with `config` on `runtime`.
    pub fn start(runtime: &tokio::runtime::Runtime, config: tabula_server::Config) -> Self {
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind the relay");
        let addr = listener.local_addr().expect("the relay's address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = runtime.spawn(tabula_server::run(listener, config, async move {
            let _ = stopped.await;
        }));
        Self { addr, stop, task }
    }

    /// Starts a relay whose password (or host's code) is `password`.
    pub fn with_password(runtime: &tokio::runtime::Runtime, password: &str) -> Self {
        let config = tabula_server::Config {
            password: tabula_shared::access::Password::new(password),
            ..tabula_server::Config::default()
        };
        Self::start(runtime, config)
    }

    /// The address of `room` on this relay.
    pub fn url(&self, room: &str) -> String {
        format!("ws://{}/{room}", self.addr)
    }

    /// Shuts the relay down and checks that it stopped cleanly.
    pub fn stop(self, runtime: &tokio::runtime::Runtime) {
        let _ = self.stop.send(());
        runtime
            .block_on(self.task)
            .expect("the relay's task")
            .expect("the relay stopped cleanly");
    }
}

/// Forwards TCP connections to a relay until told to cut them.
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    /// While set, the proxy refuses new connections.
    down: Arc<AtomicBool>,
    /// Wakes every forwarding task to drop its connection.
    cut: Arc<Notify>,
    /// Wakes every forwarding task to stop forwarding but keep its sockets open:
    /// a link that died without either end noticing.
    freeze: Arc<Notify>,
}

impl Proxy {
    /// A proxy to `relay` on 127.0.0.1:0, on `runtime`.
    pub fn start(runtime: &tokio::runtime::Runtime, relay: SocketAddr) -> Self {
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let down = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(Notify::new());
        let freeze = Arc::new(Notify::new());
        let (down_flag, cut_signal, freeze_signal) = (down.clone(), cut.clone(), freeze.clone());
        runtime.spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if down_flag.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection fail
                }
                let (cut, freeze) = (cut_signal.clone(), freeze_signal.clone());
                tokio::spawn(async move {
                    let Ok(mut relay) = TcpStream::connect(relay).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut relay) => {}
                        () = cut.notified() => return,
                        () = freeze.notified() => {}
                    }
                    // Frozen: hold both sockets, silent, until cut.
                    cut.notified().await;
                    drop((client, relay));
                });
            }
        });
        Self {
            addr,
            down,
            cut,
            freeze,
        }
    }

    /// The address of `room` through the proxy.
    pub fn url(&self, room: &str) -> String {
        format!("ws://{}/{room}", self.addr)
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.cut.notify_waiters();
    }

    /// Stops forwarding without closing anything, and refuses new connections.
    pub fn freeze(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.freeze.notify_waiters();
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}
