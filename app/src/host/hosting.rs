//! What the app is doing about hosting, advanced once a frame by
//! [`Hosting::poll`], right after the session has taken in the network's
//! events.
//!
//! - **Hosting the board**: [`Hosting::start`] starts a [`Host`] seeded with
//!   the board's log, on a thread (listening and writing the room's file
//!   never hold up a frame); once it serves, the board enters the room
//!   ([`Session::move_to`]), and drawing goes on meanwhile.
//! - **Stopping**: [`Hosting::stop`] hands the room over when others are in
//!   it (to the one the host picks, or the one there longest), so that they
//!   carry on; [`Hosting::stop_now`] just stops. Either way the relay is shut
//!   down on a thread.
//! - **Taking over**: when the room's relay asks this board to host the room
//!   next ([`Session::take_over_request`]), a host is started from the
//!   board's copy of the log, and the relay is told where, or why not.
//!
//! Nothing here waits: each step that blocks runs as a [`Job`] on a named
//! thread (`tabula-host-start`, `tabula-host-stop`), and the frame looks at
//! how it went.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tabula_server::{HandOver, HandOverError, HandedOver};
use tabula_shared::ClientId;
use tabula_shared::access::new_code;
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::{Host, HostError, HostSettings};
use crate::jobs::Job;
use crate::session::Session;

/// How long a member asked to take the room over has to answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

/// How long, after handing the room over, the old relay waits for its
/// members to leave for the new one before it stops.
const MOVE_GRACE: Duration = Duration::from_secs(10);

/// What the app is doing about hosting.
pub struct Hosting {
    /// Where and how to host.
    settings: HostSettings,
    /// The step under way.
    stage: Stage,
    /// What the last step that failed or finished has to say (shown in the
    /// invite panel and the status chip), until the next one starts.
    notice: Option<Notice>,
    /// Called from the jobs' threads when a step is done, to run a frame.
    wake: Arc<dyn Fn() + Send + Sync>,
}

/// Something hosting has to tell the person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A step failed, and why.
    Failed(String),
    /// The room was handed over, to this person.
    HandedOver(String),
}

/// The step under way.
enum Stage {
    /// Not hosting.
    Off,
    /// A host is starting on a thread.
    Starting {
        /// The room.
        room: String,
        /// Why: to bring the board into it, or because the relay asked.
        purpose: Purpose,
        /// The job listening and seeding the room's file.
        started: Job<Result<Host, HostError>>,
    },
    /// Hosting.
    On(Host),
    /// Handing the room over to a member.
    HandingOver {
        /// The host, still serving.
        host: Host,
        /// The relay's answer.
        answer: oneshot::Receiver<Result<HandedOver, HandOverError>>,
    },
    /// The relay is being stopped by a job.
    Stopping(Job<()>),
}

/// Why a host is starting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    /// To bring the board on screen into a room of its own.
    Board,
    /// Because the room's relay asked this board to take the room over.
    TakeOver,
}

/// Where hosting stands, for the status chip and the invite panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Not hosting.
    Off,
    /// Starting.
    Starting,
    /// Hosting.
    On,
    /// Handing the room over.
    HandingOver,
    /// Stopping.
    Stopping,
}

impl Hosting {
    /// Not hosting yet; hosts with `settings`, and calls `wake` when a step
    /// running on a thread is done.
    pub fn new(settings: HostSettings, wake: impl Fn() + Send + Sync + 'static) -> Self {
        Self {
            settings,
            stage: Stage::Off,
            notice: None,
            wake: Arc::new(wake),
        }
    }

    /// Where hosting stands.
    #[must_use]
    pub fn phase(&self) -> Phase {
        match self.stage {
            Stage::Off => Phase::Off,
            Stage::Starting { .. } => Phase::Starting,
            Stage::On(_) => Phase::On,
            Stage::HandingOver { .. } => Phase::HandingOver,
            Stage::Stopping(_) => Phase::Stopping,
        }
    }

    /// The host, while it serves.
    #[must_use]
    pub fn host(&self) -> Option<&Host> {
        match &self.stage {
            Stage::On(host) | Stage::HandingOver { host, .. } => Some(host),
            _ => None,
        }
    }

    /// The room being hosted (or started).
    #[must_use]
    pub fn room(&self) -> Option<&str> {
        match &self.stage {
            Stage::Starting { room, .. } => Some(room),
            Stage::On(host) | Stage::HandingOver { host, .. } => Some(host.room()),
            _ => None,
        }
    }

    /// What the last step has to say, if anything.
    #[must_use]
    pub fn notice(&self) -> Option<&Notice> {
        self.notice.as_ref()
    }

    /// Forgets the notice (the person has read it).
    pub fn dismiss_notice(&mut self) {
        self.notice = None;
    }

    /// Whether the next room hosted from the board needs a code (see
    /// [`HostSettings::code_required`]).
    pub fn set_code_required(&mut self, required: bool) {
        self.settings.code_required = required;
    }

    /// The settings hosting uses.
    #[must_use]
    pub fn settings(&self) -> &HostSettings {
        &self.settings
    }

    /// Hosts the board on screen as room `room`: a relay starts on a thread,
    /// seeded with the board's log, and the board enters it once it serves.
    /// Refused while hosting already, or while the board's history is still
    /// arriving.
    pub fn start(&mut self, session: &Session, room: &str) -> Result<(), HostError> {
        if !matches!(self.stage, Stage::Off) {
            return Err(HostError::Incomplete(
                "this app is already hosting a room".to_owned(),
            ));
        }
        tabula_shared::room_name::validate(room)
            .map_err(|err| HostError::Incomplete(err.to_string()))?;
        if let Some((have, total)) = session.history_progress() {
            return Err(HostError::Incomplete(format!(
                "the board's history is still arriving ({have} of {total} ops); host it in a moment"
            )));
        }
        self.begin(session, room, Purpose::Board);
        Ok(())
    }

    /// Stops hosting. With others in the room, it is handed over (to
    /// `prefer`, or whoever has been there longest, when they can take it)
    /// and everyone, this board too, follows it; with nobody else, the relay
    /// just stops and the board stays on screen, offline.
    pub fn stop(&mut self, session: &mut Session, prefer: Option<ClientId>) {
        let Stage::On(host) = std::mem::replace(&mut self.stage, Stage::Off) else {
            return;
        };
        let me = session.me().client;
        if host.members().iter().any(|peer| peer.client != me) {
            info!(room = host.room(), "handing the room over");
            let answer = host.hand_over(HandOver {
                prefer,
                exclude: vec![me],
                answer_within: ANSWER_WITHIN,
            });
            self.notice = None;
            self.stage = Stage::HandingOver { host, answer };
        } else {
            session.leave();
            self.stage = self.stop_host(host, false);
        }
    }

    /// Stops hosting at once, without handing the room over: the others see
    /// the host gone, and any of them can host the board from their copy.
    pub fn stop_now(&mut self, session: &mut Session) {
        let host = match std::mem::replace(&mut self.stage, Stage::Off) {
            Stage::On(host) | Stage::HandingOver { host, .. } => host,
            other => {
                self.stage = other;
                return;
            }
        };
        session.leave();
        self.stage = self.stop_host(host, false);
    }

    /// Ends the relay at once, as a crash or a closed laptop would: no
    /// hand-over, no goodbye (see [`Host::abandon`]). For tests of a host that
    /// vanishes.
    pub fn abandon(&mut self) {
        if let Stage::On(host) | Stage::HandingOver { host, .. } =
            std::mem::replace(&mut self.stage, Stage::Off)
        {
            host.abandon();
        }
    }

    /// Whether hosting has nothing under way that quitting would cut short
    /// (a hand-over, or a relay stopping): the app may close.
    #[must_use]
    pub fn is_settled(&self) -> bool {
        matches!(self.stage, Stage::Off | Stage::On(_))
    }

    /// Advances whatever is under way and answers the relay if it asked this
    /// board to take its room over; `true` if anything changed.
    pub fn poll(&mut self, session: &mut Session) -> bool {
        let mut changed = false;
        if let Some(head) = session.take_over_request() {
            self.take_over(session, head);
            changed = true;
        }
        self.stage = match std::mem::replace(&mut self.stage, Stage::Off) {
            Stage::Starting {
                room,
                purpose,
                mut started,
            } => match started.poll() {
                None => Stage::Starting {
                    room,
                    purpose,
                    started,
                },
                Some(result) => {
                    changed = true;
                    let result = result.unwrap_or_else(|lost| Err(HostError::Lost(lost)));
                    self.started(session, purpose, result)
                }
            },
            Stage::HandingOver { host, mut answer } => match answer.try_recv() {
                Err(oneshot::error::TryRecvError::Empty) => Stage::HandingOver { host, answer },
                Ok(Ok(handed)) => {
                    changed = true;
                    info!(to = handed.to.name, urls = ?handed.urls, "handed the room over");
                    self.notice = Some(Notice::HandedOver(handed.to.name));
                    // This board follows the room like everyone (the relay
                    // sent it `Moved`); the old relay goes once they have.
                    self.stop_host(host, true)
                }
                Ok(Err(err)) => {
                    changed = true;
                    warn!(%err, "the room was not handed over");
                    self.notice = Some(Notice::Failed(format!(
                        "The room was not handed over: {err}. You still host it."
                    )));
                    Stage::On(host)
                }
                Err(oneshot::error::TryRecvError::Closed) => {
                    changed = true;
                    self.notice = Some(Notice::Failed(
                        "The hand-over was cut short; you still host the room.".to_owned(),
                    ));
                    Stage::On(host)
                }
            },
            Stage::Stopping(mut stopping) => match stopping.poll() {
                None => Stage::Stopping(stopping),
                Some(result) => {
                    changed = true;
                    if let Err(lost) = result {
                        // The relay's runtime went with the thread.
                        warn!(%lost, "the hosted relay did not stop cleanly");
                    }
                    Stage::Off
                }
            },
            other => other,
        };
        changed
    }

    /// Starts a host for `room` from the board's log, as a job; a job that
    /// cannot start is a failure to host, said as any other.
    fn begin(&mut self, session: &Session, room: &str, purpose: Purpose) {
        let settings = HostSettings {
            operator: Some(session.me().client),
            ..self.settings.clone()
        };
        let log = session.log().to_vec();
        let pictures = session.pictures_to_save();
        let name = room.to_owned();
        // A room taken over keeps the code its members joined with.
        let code = match purpose {
            Purpose::TakeOver => session.password(),
            Purpose::Board if settings.code_required => match new_code() {
                Ok(code) => Some(code),
                Err(err) => {
                    self.stage = self.failed(session, purpose, &HostError::Code(err));
                    return;
                }
            },
            Purpose::Board => None,
        };
        let spawned = Job::spawn("tabula-host-start", waker(&self.wake), move |_| {
            Host::start_with_pictures(&settings, &name, &log, &pictures, code)
        });
        self.notice = None;
        self.stage = match spawned {
            Ok(started) => Stage::Starting {
                room: room.to_owned(),
                purpose,
                started,
            },
            Err(err) => self.failed(session, purpose, &HostError::Thread(err)),
        };
    }

    /// What follows a host's start.
    fn started(
        &mut self,
        session: &mut Session,
        purpose: Purpose,
        result: Result<Host, HostError>,
    ) -> Stage {
        match (result, purpose) {
            (Ok(host), Purpose::Board) => {
                session.move_to(vec![host.own_url().to_owned()]);
                Stage::On(host)
            }
            (Ok(host), Purpose::TakeOver) => {
                // The relay sends everyone (this board too) here with `Moved`.
                session.answer_take_over(Ok(host.urls().to_vec()));
                Stage::On(host)
            }
            (Err(err), purpose) => self.failed(session, purpose, &err),
        }
    }

    /// Hosting could not start: the relay that asked this board to take
    /// its room over is told why, and so is the person.
    fn failed(&mut self, session: &Session, purpose: Purpose, err: &HostError) -> Stage {
        warn!(%err, "could not host");
        if purpose == Purpose::TakeOver {
            session.answer_take_over(Err(err.to_string()));
        }
        self.notice = Some(Notice::Failed(format!("Could not host: {err}")));
        Stage::Off
    }

    /// The relay asked this board to host the room from its copy, which must
    /// end at `head`: starts a host, or tells the relay why not.
    fn take_over(&mut self, session: &mut Session, head: u64) {
        let refusal = if !matches!(self.stage, Stage::Off) {
            Some("it is already hosting a room".to_owned())
        } else if let Some((have, total)) = session.history_progress() {
            Some(format!(
                "its copy of the room is still arriving ({have} of {total} ops)"
            ))
        } else if session.board().last_seq() != head {
            Some(format!(
                "its copy ends at op {}, the room's at {head}",
                session.board().last_seq()
            ))
        } else {
            None
        };
        let Some(room) = session.room().map(str::to_owned) else {
            session.answer_take_over(Err("it is in no room".to_owned()));
            return;
        };
        if let Some(reason) = refusal {
            info!(%reason, "cannot take the room over");
            session.answer_take_over(Err(reason));
            return;
        }
        info!(room, head, "taking the room over");
        self.begin(session, &room, Purpose::TakeOver);
    }

    /// Stops `host` as a job; after a hand-over, once its members have left
    /// for the new relay (or [`MOVE_GRACE`] has passed). The stop does not
    /// look at the job's cancel flag: the relay must end, and its room's
    /// file be complete, whether or not anyone still waits for it.
    fn stop_host(&self, host: Host, after_move: bool) -> Stage {
        let spawned = Job::spawn("tabula-host-stop", waker(&self.wake), move |_| {
            if after_move {
                let deadline = Instant::now() + MOVE_GRACE;
                while !host.members().is_empty() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            host.stop();
        });
        match spawned {
            Ok(stopping) => Stage::Stopping(stopping),
            Err(err) => {
                // The work went unrun, and the host with it: dropping a host
                // stops it, here.
                warn!(%err, "no thread to stop the hosted relay on; it was stopped on this one");
                Stage::Off
            }
        }
    }
}

/// A wake for a job's thread that runs `wake`.
fn waker(wake: &Arc<dyn Fn() + Send + Sync>) -> impl Fn() + Send + 'static {
    let wake = Arc::clone(wake);
    move || wake()
}
