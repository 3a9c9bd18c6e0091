//! A session: the board on screen, who we are, and the link to a room if any.
//!
//! The UI and the end-to-end tests drive the same [`Session`]: it applies local ops
//! at once, hands them to the network task, and applies what the task reports.
//!
//! The session keeps its board's sequenced op log, which is what File → Save
//! writes and what a replay plays: in a room, the room's ops as they arrive (and
//! ours as the relay acknowledges them). A *local* board (never shared, or opened
//! from a file) has no relay to order its ops, so it sequences each of its own
//! ops at once, here. A board built from a snapshot has a gap in its log until
//! the ops the snapshot stands for are here: a room joined from one (the relay
//! sends one to a client far behind) until the task has fetched them, a file
//! opened from one ([`Session::load_from_snapshot`]) until its opening thread
//! has read them. Meanwhile [`Session::history_progress`] says how far that
//! has come, the log is not saved or replayed, and a local board does not join
//! a room (it would take along only the ops here). When a local board
//! joins a room, everything on it comes
//! along: its ops are proposed to the room again as new ops of ours (fresh op
//! ids, the same object ids), except the joins and leaves a relay recorded in
//! it, and the room's order replaces the local one. After
//! leaving a room the board still belongs to it: what is drawn then stays pending
//! until it is rejoined, as before.

mod pictures;
mod presence;

use std::collections::BTreeMap;
use std::sync::Arc;

use tabula_shared::access::{InviteToken, Password, ResumeSecret, split_code, split_invite};
use tabula_shared::relay_url::{RelayUrl, UrlError};
use tabula_shared::room_name;
use tabula_shared::{
    Board, ClientId, Color, ErrorCode, History, Op, OpId, PeerInfo, Presence, RoomAccess,
    SequencedOp,
};

use crate::net::connection::Connection;
pub use crate::net::known_hosts::KnownHosts;
use crate::net::{Command, Event, JoinRequest, Liveness};
pub use crate::net::{ConnectionStatus, RelayCertificate, Trust};
use crate::pictures::Pictures;

/// Who is drawing on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Stable for the life of the app, across reconnects.
    pub client: ClientId,
    /// The name others see.
    pub name: String,
    /// The colour of our cursor and name tag for others.
    pub color: Color,
}

/// Someone else in the room.
#[derive(Clone, Debug, PartialEq)]
pub struct Peer {
    /// Their id, name and colour.
    pub info: PeerInfo,
    /// What they show besides their ops, as they last said: their
    /// pointer, view, a drag in progress, presenting (see [`presence`]);
    /// never laser points, which [`Session::take_laser`] hands over.
    pub presence: Presence,
}

/// Why a relay address was not accepted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// Not `ws[s]://HOST:PORT/ROOM[#fp=…]`, and why.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The board was opened from a file's snapshot and the history behind it
    /// is still being read: joining would take along only part of the board.
    #[error(
        "the board's history is still being read from its file ({have} of {total} ops); join in a moment"
    )]
    HistoryArriving {
        /// Ops here so far.
        have: u64,
        /// Ops in all.
        total: u64,
    },
    /// Several relays were given for one room, and one names another room.
    #[error("every address must be of the same room: {first} is room {room}, {other} is not")]
    MixedRooms {
        /// The first address.
        first: String,
        /// Its room.
        room: String,
        /// The address of another room.
        other: String,
    },
    /// Nothing to join.
    #[error("no relay address to join")]
    NoAddress,
}

/// The relay addresses of one room, from `text`: one URL, or several
/// separated by commas (the relays of a cluster, tried in turn), each
/// checked, all of the same room; and that room.
pub fn room_urls(text: &str) -> Result<(Vec<String>, String), JoinError> {
    let urls: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
        .collect();
    let first = urls.first().ok_or(JoinError::NoAddress)?;
    let room = room_of_url(first)?.to_owned();
    for other in &urls[1..] {
        if room_of_url(other)? != room {
            return Err(JoinError::MixedRooms {
                first: first.clone(),
                room,
                other: other.clone(),
            });
        }
    }
    Ok((urls, room))
}

/// The room of `ws[s]://HOST:PORT/ROOM[#fp=…]`, after checking the whole
/// address ([`RelayUrl::parse`]).
pub fn room_of_url(url: &str) -> Result<&str, JoinError> {
    RelayUrl::parse(url)?;
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let bare = rest.split_once('#').map_or(rest, |(bare, _)| bare);
    let path = &bare[bare.find('/').unwrap_or(bare.len())..];
    Ok(room_name::from_path(path).map_err(UrlError::Room)?)
}

/// Where network tasks run and how they wake the UI.
#[derive(Clone)]
struct Spawner {
    /// The runtime network tasks run on.
    runtime: tokio::runtime::Handle,
    /// Wakes the UI after each event.
    wake: Arc<dyn Fn() + Send + Sync>,
}

/// The board on screen and its link to a room.
pub struct Session {
    /// Who we are.
    me: Identity,
    /// What everyone sees, with our pending ops on top.
    board: Board,
    /// Our own actions, to undo and redo them as ordinary ops.
    history: History,
    /// The network task, while joined.
    connection: Option<Connection>,
    /// The room's address, while joined or after leaving (to rejoin it): at
    /// one or more of its relay's addresses, best first. Empty for a local
    /// board.
    room_urls: Vec<String>,
    /// Where network tasks run and how they wake the UI, from the last join:
    /// what following a room that moved needs.
    spawner: Option<Spawner>,
    /// The relay asked us to host the room from our copy of its log, which
    /// must end at this op; taken by whoever can host
    /// ([`Self::take_over_request`]).
    take_over: Option<u64>,
    /// The resume secret the room's welcome gave our client id: presented
    /// on every reconnect, and to the relay the room moves to, so that we
    /// stay who we were and nobody else can be. Forgotten on joining
    /// another room.
    resume: Option<ResumeSecret>,
    /// The password typed for the room's relay ([`Self::set_password`]); a
    /// room URL's `#code=` stands in when none was typed.
    password: Option<Password>,
    /// The password a room we create gets ([`Self::set_new_room_password`]).
    new_room_password: Option<Password>,
    /// The room's own password, when it is not the relay's
    /// ([`Self::set_room_password`]).
    room_password: Option<Password>,
    /// What we may do in the room and how it is run, as the relay last said
    /// (`None` before it says, or offline: everything allowed).
    access: Option<RoomAccess>,
    /// The invitation links this app made for the room (their tokens,
    /// which only the maker holds).
    invites: Vec<InviteToken>,
    /// The link's state, for the status chip.
    status: ConnectionStatus,
    /// The others in the room, by id (a stable order for the people list).
    peers: BTreeMap<ClientId, Peer>,
    /// The last refusal the relay sent while keeping the connection.
    last_relay_error: Option<String>,
    /// What the person should be told and has not been yet, as sentences
    /// (see [`Self::take_notices`]).
    notices: Vec<String>,
    /// The board's count of ops and objects beyond the caps when it was last
    /// looked at, so that they are reported once.
    malformed_seen: u64,
    /// Ping and silence timing for the next join (shortened in tests).
    liveness: Liveness,
    /// The relays' certificates this app trusts (`wss://`).
    known_hosts: KnownHosts,
    /// The certificate the `wss://` relay presented on this link, and why it
    /// was trusted: its short code is what people compare aloud.
    certificate: Option<RelayCertificate>,
    /// Every sequenced op the board has applied, in order (`log[i].seq == i + 1`
    /// once the history is complete): what a save writes and a replay plays.
    log: Vec<SequencedOp>,
    /// Ops fetched to fill the log's gaps, in order, merged in once all are here.
    backfill: Vec<SequencedOp>,
    /// How many ops the log's gaps still lack.
    missing: u64,
    /// The op the last board snapshot the relay sent stood for, since the
    /// log last started over: a join far behind the room's head starts
    /// from one.
    relay_snapshot: Option<u64>,
    /// The pictures the board's images show, held or on their way.
    pictures: Pictures,
    /// The largest picture the room's relay takes (its welcome says).
    max_blob_bytes: u64,
    /// What we show the room besides our ops (see [`presence`]).
    outgoing: presence::Outgoing,
    /// The peers' laser points until the app takes them, and newcomers'
    /// presence until they are announced (see [`presence`]).
    incoming: presence::Incoming,
    /// The latest ops from the room, by id (see [`presence`]).
    recent_ops: presence::RecentOps,
}

impl Session {
    /// A local board, not linked to any room.
    #[must_use]
    pub fn offline(me: Identity) -> Self {
        Self {
            me,
            board: Board::new(),
            history: History::new(),
            connection: None,
            room_urls: Vec::new(),
            spawner: None,
            take_over: None,
            resume: None,
            password: None,
            new_room_password: None,
            room_password: None,
            access: None,
            invites: Vec::new(),
            status: ConnectionStatus::Offline,
            peers: BTreeMap::new(),
            last_relay_error: None,
            notices: Vec::new(),
            malformed_seen: 0,
            liveness: Liveness::default(),
            known_hosts: KnownHosts::in_memory(),
            certificate: None,
            log: Vec::new(),
            backfill: Vec::new(),
            missing: 0,
            relay_snapshot: None,
            pictures: Pictures::default(),
            max_blob_bytes: tabula_shared::caps::MAX_BLOB_BYTES,
            outgoing: presence::Outgoing::default(),
            incoming: presence::Incoming::default(),
            recent_ops: presence::RecentOps::default(),
        }
    }

    /// A session linked through `connection` (a detached one, in tests).
    #[must_use]
    pub fn with_connection(me: Identity, connection: Connection) -> Self {
        Self {
            connection: Some(connection),
            status: ConnectionStatus::Connecting,
            ..Self::offline(me)
        }
    }

    /// Who we are.
    #[must_use]
    pub fn me(&self) -> &Identity {
        &self.me
    }

    /// The board as it should be drawn.
    #[must_use]
    pub fn board(&self) -> &Board {
        &self.board
    }

    /// The link's state.
    #[must_use]
    pub fn status(&self) -> &ConnectionStatus {
        &self.status
    }

    /// The room's address, if this board belongs to one (the best of its
    /// addresses).
    #[must_use]
    pub fn room_url(&self) -> Option<&str> {
        self.room_urls.first().map(String::as_str)
    }

    /// The room this board belongs to, if any.
    #[must_use]
    pub fn room(&self) -> Option<&str> {
        self.room_url().and_then(|url| room_of_url(url).ok())
    }

    /// The others in the room.
    pub fn peers(&self) -> impl Iterator<Item = &Peer> + '_ {
        self.peers.values()
    }

    /// The last message the relay refused, if any.
    #[must_use]
    pub fn last_relay_error(&self) -> Option<&str> {
        self.last_relay_error.as_deref()
    }

    /// What the person should be told, as sentences, once each: what the
    /// relay refused, and that the board skipped changes beyond the caps
    /// (said once for a board, however many follow).
    pub fn take_notices(&mut self) -> Vec<String> {
        let malformed = self.board.malformed();
        if malformed > 0 && self.malformed_seen == 0 {
            let s = if malformed == 1 { "" } else { "s" };
            self.notices.push(format!(
                "Skipped {malformed} change{s} beyond Tabula's limits (points in a stroke, \
                 size, text length or distance from the centre) that the room or file held; \
                 the board shows everything else."
            ));
        }
        self.malformed_seen = malformed;
        std::mem::take(&mut self.notices)
    }

    /// Applies a local op at once and queues it for the room, as an action of
    /// its own for undo. An op with non-finite numbers is dropped here, since
    /// the relay would refuse it.
    pub fn submit(&mut self, op: Op) {
        self.perform(vec![op]);
    }

    /// Applies the ops of one action at once, remembers how to undo them, and
    /// queues them for the room. Malformed ops are dropped.
    pub fn perform(&mut self, ops: Vec<Op>) {
        let (good, bad): (Vec<Op>, Vec<Op>) = ops.into_iter().partition(Op::is_well_formed);
        for op in bad {
            tracing::warn!(?op, "dropped a malformed local op");
        }
        if good.is_empty() {
            return;
        }
        let sent = self.history.perform(&mut self.board, self.me.client, good);
        self.send(sent);
    }

    /// Undoes our latest action still undoable, with ops everyone sees.
    pub fn undo(&mut self) {
        let ops = self.history.undo(&mut self.board, self.me.client);
        self.send(ops);
    }

    /// Redoes our latest undone action.
    pub fn redo(&mut self) {
        let ops = self.history.redo(&mut self.board, self.me.client);
        self.send(ops);
    }

    /// Whether there is an action of ours to undo.
    #[must_use]
    pub fn can_undo(&self) -> bool {
        self.history.can_undo()
    }

    /// Whether there is an undone action to redo.
    #[must_use]
    pub fn can_redo(&self) -> bool {
        self.history.can_redo()
    }

    /// Hands ops already applied locally to the network task; on a local board,
    /// sequences them here instead.
    fn send(&mut self, ops: Vec<Op>) {
        if let Some(connection) = &self.connection {
            for op in ops {
                if let Some(blob) = self.pictures.to_upload(&op) {
                    connection.send(Command::PutBlob(blob));
                }
                connection.send(Command::Send(op));
            }
        } else if self.room_urls.is_empty() {
            for op in ops {
                let seq = self.board.last_seq() + 1;
                if let Some(sequenced) = self.board.confirm(op.id, seq, now_ms()) {
                    self.log.push(sequenced);
                }
            }
        }
    }

    /// The board's sequenced ops, in order: the room's, or a local board's own.
    /// While [`Self::history_progress`] says the history is still arriving, it
    /// lacks the ops a snapshot stood for.
    #[must_use]
    pub fn log(&self) -> &[SequencedOp] {
        &self.log
    }

    /// While the room's history behind a snapshot is still arriving: how many of
    /// the board's ops are here, and how many there are. `None` once the log
    /// holds every op (always, for a local board).
    #[must_use]
    pub fn history_progress(&self) -> Option<(u64, u64)> {
        let total = self.board.last_seq();
        (self.missing > 0).then(|| (total - self.missing, total))
    }

    /// The op the board snapshot the relay last sent stood for, if it sent
    /// one since the log last started over: it sends one to a client far
    /// behind the room's head, who then fetches the history behind it.
    #[must_use]
    pub fn relay_snapshot(&self) -> Option<u64> {
        self.relay_snapshot
    }

    /// The id of the board's last sequenced op, when the log holds it: what a
    /// resume names so that the relay can check it holds the same op there.
    fn last_op(&self) -> Option<OpId> {
        self.log
            .last()
            .filter(|op| op.seq == self.board.last_seq())
            .map(|op| op.op.id)
    }

    /// Drops the log and anything fetched to complete it.
    fn forget_log(&mut self) {
        self.log.clear();
        self.backfill.clear();
        self.missing = 0;
        self.relay_snapshot = None;
    }

    /// Everything on the board as sequenced ops, to save: the log, then any ops
    /// still waiting for the relay, sequenced after it as ours, now.
    #[must_use]
    pub fn ops_to_save(&self) -> Vec<SequencedOp> {
        self.ops_to_save_after(0)
    }

    /// [`Self::ops_to_save`] without the log's first `from` ops: what a file
    /// that already holds those lacks.
    #[must_use]
    pub fn ops_to_save_after(&self, from: u64) -> Vec<SequencedOp> {
        let now = now_ms();
        let rest = self
            .log
            .get(usize::try_from(from).unwrap_or(usize::MAX)..)
            .unwrap_or_default();
        let mut ops = rest.to_vec();
        for (seq, op) in (self.board.last_seq() + 1..).zip(self.board.pending_ops()) {
            ops.push(SequencedOp {
                seq,
                author: self.me.client,
                timestamp_ms: now,
                op: op.clone(),
            });
        }
        ops
    }

    /// Replaces the board with a local one holding `ops` (numbered 1, 2, 3, …, as
    /// a session file's are): how a file opens. Leaves any room; undo starts
    /// afresh. Ops drawn from now on continue the sequence.
    pub fn load(&mut self, ops: Vec<SequencedOp>) {
        self.load_built(Board::from_sequenced(&ops), ops);
    }

    /// [`Self::load`] with the board already built from `ops` (on another
    /// thread: see [`crate::files::opening`]): the board on screen becomes `board`,
    /// its log `ops`. Leaves any room; undo starts afresh.
    pub fn load_built(&mut self, board: Board, ops: Vec<SequencedOp>) {
        self.leave();
        self.board = board;
        self.forget_log();
        self.log = ops;
        self.history = History::new();
        self.room_urls.clear();
    }

    /// [`Self::load_built`] for a board built from a file's snapshot: `ops`
    /// are the file's ops after the snapshot (the log so far); the ops the
    /// snapshot stands for come later, through [`Self::fill_history`], and
    /// until they are all here [`Self::history_progress`] says how far they
    /// have come.
    pub fn load_from_snapshot(&mut self, board: Board, ops: Vec<SequencedOp>) {
        let behind = ops
            .first()
            .map_or(board.last_seq(), |first| first.seq.saturating_sub(1));
        self.load_built(board, ops);
        self.missing = behind;
    }

    /// Ops of the history behind the board's snapshot, oldest first, in
    /// order, following those given before: kept aside, and merged into the
    /// log once the last one is here. Ignored once nothing is missing.
    pub fn fill_history(&mut self, ops: impl IntoIterator<Item = SequencedOp>) {
        if self.missing == 0 {
            return;
        }
        for op in ops {
            self.backfill.push(op);
            self.missing -= 1;
            if self.missing == 0 {
                self.complete_log();
                return;
            }
        }
    }

    /// Applies everything the network task has reported; `true` if anything did.
    pub fn poll(&mut self) -> bool {
        let mut changed = false;
        while let Some(event) = self.connection.as_ref().and_then(Connection::try_recv) {
            changed = true;
            self.apply(event);
        }
        self.fetch_pictures();
        changed
    }

    /// Joins the room at `url` (`ws://HOST:PORT/ROOM`, or several such
    /// addresses of one room separated by commas: the relays of a cluster,
    /// each tried in turn when one fails). Joining the room this
    /// board belongs to again (a room of the same name, wherever it is now)
    /// resumes it: the relay carries on from our last op if it holds it, and
    /// otherwise sends its own history, which replaces ours (our unsent ops
    /// stay on top). Joining another room starts from that room's board,
    /// taking along only what was drawn here and never shared; a local board
    /// takes everything along.
    pub fn join(
        &mut self,
        url: &str,
        runtime: &tokio::runtime::Handle,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Result<(), JoinError> {
        let (urls, room) = room_urls(url)?;
        if let (true, Some((have, total))) = (self.room_urls.is_empty(), self.history_progress()) {
            return Err(JoinError::HistoryArriving { have, total });
        }
        self.leave();
        if !self.room_urls.iter().any(|joined| urls.contains(joined)) {
            // Our secret is for the relay that gave it (and those the room
            // moves to): another relay, even with a room of that name, must
            // never learn it.
            self.resume = None;
            self.invites.clear();
        }
        if self.room_urls.is_empty() {
            // A local board: all of it comes along, proposed to the room anew;
            // not who came and went where it was recorded (only a relay
            // records that, and the new room records our own join).
            let local = std::mem::take(&mut self.log);
            self.forget_log();
            self.board = Board::new();
            for sequenced in local {
                if !sequenced.op.kind.is_presence() {
                    self.board
                        .apply_local(self.me.client, Op::new(sequenced.op.kind));
                }
            }
        } else if self.room() != Some(room.as_str()) && self.board.last_seq() > 0 {
            let unshared: Vec<Op> = self.board.pending_ops().cloned().collect();
            self.board = Board::new();
            self.history = History::new();
            self.forget_log();
            for op in unshared {
                self.board.apply_local(self.me.client, op);
            }
        }
        self.spawner = Some(Spawner {
            runtime: runtime.clone(),
            wake: Arc::new(wake),
        });
        self.connect(urls);
        Ok(())
    }

    /// Carries the board on into its room at `urls` (best first), keeping
    /// everything (log, undo, unsent ops): how the board follows its room to
    /// another relay, and how a host's own board enters the room its relay
    /// was seeded with. The relay resumes from our last op, which it must
    /// hold; ops it never acknowledged are sent again. Does nothing without a
    /// runtime from an earlier join or [`Self::set_spawner`].
    pub fn move_to(&mut self, urls: Vec<String>) {
        if urls.is_empty() || self.spawner.is_none() {
            tracing::warn!(?urls, "cannot follow the room: no address or no runtime");
            return;
        }
        tracing::info!(?urls, "following the room to its new relay");
        self.leave();
        self.connect(urls);
    }

    /// Where network tasks run and how they wake the UI, for a board that
    /// enters a room by [`Self::move_to`] before it ever joined one.
    pub fn set_spawner(
        &mut self,
        runtime: &tokio::runtime::Handle,
        wake: impl Fn() + Send + Sync + 'static,
    ) {
        self.spawner = Some(Spawner {
            runtime: runtime.clone(),
            wake: Arc::new(wake),
        });
    }

    /// Starts the network task for the room at `urls`, from where the board
    /// stands.
    fn connect(&mut self, urls: Vec<String>) {
        let Some(spawner) = self.spawner.clone() else {
            return;
        };
        let Some(room) = urls.first().and_then(|url| room_of_url(url).ok()) else {
            return;
        };
        let request = JoinRequest {
            urls: urls.clone(),
            room: room.to_owned(),
            name: self.me.name.clone(),
            color: self.me.color,
            client: self.me.client,
            last_seen: self.board.last_seq(),
            last_op: self.last_op(),
            unsent: self.board.pending_ops().cloned().collect(),
            pictures: self.pictures.used_by_ops(self.board.pending_ops()),
            resume: self.resume,
            password: urls
                .iter()
                .find_map(|url| split_code(url).1)
                .or_else(|| self.password.clone()),
            invite: urls.iter().find_map(|url| split_invite(url).1),
            new_room_password: self.new_room_password.clone(),
            room_password: self.room_password.clone(),
            liveness: self.liveness,
            known_hosts: self.known_hosts.clone(),
        };
        let wake = Arc::clone(&spawner.wake);
        self.connection = Some(Connection::spawn(&spawner.runtime, request, move || {
            wake();
        }));
        self.presence_to_new_connection();
        self.room_urls = urls;
        self.status = ConnectionStatus::Connecting;
    }

    /// The head the relay asked us to host the room from, if it asked since
    /// the last call: the caller either hosts the room from this board's log
    /// and answers [`Self::answer_take_over`], or says why not.
    pub fn take_over_request(&mut self) -> Option<u64> {
        self.take_over.take()
    }

    /// Answers the relay's request to host the room: the URLs we host it at,
    /// or why we cannot.
    pub fn answer_take_over(&self, answer: Result<Vec<String>, String>) {
        if let Some(connection) = &self.connection {
            connection.send(match answer {
                Ok(urls) => Command::Hosting(urls),
                Err(reason) => Command::CannotHost(reason),
            });
        }
    }

    /// Changes our display name; the room learns it when we next join (the join
    /// dialog always joins anew).
    pub fn set_name(&mut self, name: String) {
        self.me.name = name;
    }

    /// Where the relays' certificates this app trusts are kept, for the
    /// next join: the `tabula` binary keeps them in the app's data folder
    /// ([`KnownHosts::in_data_dir`]); a session starts with them in memory,
    /// so that tests never write there.
    pub fn set_known_hosts(&mut self, known_hosts: KnownHosts) {
        self.known_hosts = known_hosts;
    }

    /// The certificate the room's `wss://` relay presented on this link,
    /// and why it was trusted; `None` for `ws://` or before the handshake.
    #[must_use]
    pub fn relay_certificate(&self) -> Option<&RelayCertificate> {
        self.certificate.as_ref()
    }

    /// The password this board's room is joined with: the room URL's
    /// `#code=`, else the one typed ([`Self::set_password`]). A host that
    /// takes the room over keeps it as the room's code.
    #[must_use]
    pub fn password(&self) -> Option<Password> {
        self.room_urls
            .iter()
            .find_map(|url| split_code(url).1)
            .or_else(|| self.password.clone())
    }

    /// The password the next join answers the relay's challenge with (`None`:
    /// the room URL's `#code=`, if it has one).
    pub fn set_password(&mut self, password: Option<Password>) {
        self.password = password;
    }

    /// Sets how the next join tells a live relay from a dead link.
    pub fn set_liveness(&mut self, liveness: Liveness) {
        self.liveness = liveness;
    }

    /// Leaves the room, keeping the board on screen to draw on offline.
    pub fn leave(&mut self) {
        if let Some(connection) = self.connection.take() {
            connection.send(Command::Leave);
        }
        self.peers.clear();
        self.certificate = None;
        self.access = None;
        self.status = ConnectionStatus::Offline;
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Status(status) => {
                if status != ConnectionStatus::Connected {
                    self.peers.clear();
                }
                self.status = status;
            }
            Event::Certificate(certificate) => {
                // A reconnect finds the certificate it trusted first known:
                // keep saying it was new, so the code stays on screen.
                let first_use = self.certificate.as_ref().is_some_and(|shown| {
                    shown.trust == Trust::FirstUse && shown.fingerprint == certificate.fingerprint
                });
                self.certificate = Some(RelayCertificate {
                    trust: if first_use {
                        Trust::FirstUse
                    } else {
                        certificate.trust
                    },
                    ..certificate
                });
            }
            Event::Welcome(welcome) => {
                self.resume = Some(welcome.resume_secret);
                self.max_blob_bytes = welcome.max_blob_bytes;
                self.pictures.retry();
                if welcome.replay_from < self.board.last_seq() {
                    tracing::warn!(
                        room = %welcome.room,
                        "the relay no longer has this room's history; starting it over"
                    );
                    self.board.restart_keeping_pending();
                    self.forget_log();
                }
                self.peers = welcome
                    .peers
                    .into_iter()
                    .map(|info| {
                        let presence = self.incoming.adopt(info.client);
                        (info.client, Peer::new(info, presence))
                    })
                    .collect();
            }
            Event::Board(board) => {
                // The board moves on to the snapshot; our unsent ops stay on top.
                self.missing += board.last_seq().saturating_sub(self.board.last_seq());
                self.relay_snapshot = Some(board.last_seq());
                let pending: Vec<Op> = self.board.pending_ops().cloned().collect();
                self.board = *board;
                for op in pending {
                    self.board.apply_local(self.me.client, op);
                }
            }
            Event::History(op) => self.fill_history([op]),
            Event::Picture(_) | Event::PictureMissing(_) | Event::PictureDamaged { .. } => {
                self.take_picture(event);
            }
            Event::Op(op) => match self.note_arrival(&op).board.apply_sequenced(&op) {
                tabula_shared::Applied::Gap { expected } => {
                    tracing::error!(expected, got = op.seq, "sequence gap; op not applied");
                }
                tabula_shared::Applied::Duplicate => {}
                _ => self.log.push(op),
            },
            Event::Acked {
                op,
                seq,
                timestamp_ms,
            } => {
                if let Some(sequenced) = self.board.confirm(op, seq, timestamp_ms) {
                    self.log.push(sequenced);
                }
                self.acknowledged(op);
            }
            Event::Peers { joined, left } => self.take_news(joined, left),
            Event::Presence { client, presence } => self.take_presence(client, presence),
            Event::Cursor { client, position } => {
                if let Some(peer) = self.peers.get_mut(&client) {
                    peer.presence.cursor = position;
                }
            }
            Event::OpRefused { op, code, message } => {
                // The board shows what everyone sees again; an undo of the
                // withdrawn op finds nothing to put back.
                if self.board.withdraw(op).is_some() {
                    tracing::info!(%op, "withdrew an op the relay refused");
                }
                self.notices.push(refusal_sentence(code, &message));
                self.last_relay_error = Some(message);
            }
            Event::RelayError { code, message } => {
                self.notices.push(refusal_sentence(code, &message));
                self.last_relay_error = Some(message);
            }
            Event::TakeOver { head } => self.take_over = Some(head),
            Event::Access(access) => self.access = Some(access),
            Event::Moved { urls, head } => {
                tracing::info!(?urls, head, "the room moved");
                self.move_to(urls);
            }
        }
    }
}

impl Session {
    /// Takes in the news of who came into the room and who left.
    fn take_news(&mut self, joined: Vec<PeerInfo>, left: Vec<ClientId>) {
        for client in left {
            self.incoming.forget(client);
            if let Some(peer) = self.peers.remove(&client) {
                tracing::info!(name = %peer.info.name, "left the room");
            }
        }
        for info in joined {
            if info.client == self.me.client {
                continue;
            }
            if let Some(peer) = self.peers.get_mut(&info.client) {
                peer.info = info;
            } else {
                tracing::info!(name = %info.name, "joined the room");
                let presence = self.incoming.adopt(info.client);
                self.peers.insert(info.client, Peer::new(info, presence));
            }
        }
    }

    /// Merges the fetched ops into the log, which then holds every op in order.
    fn complete_log(&mut self) {
        let fetched = std::mem::take(&mut self.backfill);
        let held = std::mem::take(&mut self.log);
        let mut log = Vec::with_capacity(held.len() + fetched.len());
        let (mut held, mut fetched) = (held.into_iter().peekable(), fetched.into_iter().peekable());
        while let (Some(a), Some(b)) = (held.peek(), fetched.peek()) {
            let next = if a.seq < b.seq {
                held.next()
            } else {
                fetched.next()
            };
            log.extend(next);
        }
        log.extend(held);
        log.extend(fetched);
        tracing::info!(ops = log.len(), "the board's history is complete");
        self.log = log;
    }
}

/// Now, in milliseconds since the Unix epoch: a local board's timestamps.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A refusal from the relay as the person reads it.
fn refusal_sentence(code: ErrorCode, message: &str) -> String {
    match code {
        ErrorCode::InvalidOp => format!("The relay refused a change: {message}."),
        ErrorCode::InvalidRequest => {
            format!("The relay refused to send the room's history: {message}.")
        }
        ErrorCode::UnexpectedMessage => {
            format!("The relay did not expect what this app sent: {message}.")
        }
        ErrorCode::ViewOnly => format!("View only: {message}."),
        ErrorCode::NotOperator => format!("Only the room's operators can do that: {message}."),
        // Already a sentence, saying which image and why.
        ErrorCode::BlobRefused => message.to_owned(),
    }
}

mod access;
#[cfg(test)]
mod tests;
