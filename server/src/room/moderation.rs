//! The room's side of its rules ([`super::rules`]): what a hello must prove
//! to enter, an operator's commands, and telling members what they may do.
//!
//! An operator's command is checked under the room's lock and recorded in
//! the room's log as an [`OpKind::Moderated`] op authored by the operator
//! (a role given, a kick, the lock, view-only; not invitations, whose
//! tokens only their makers hold). It takes effect as the record is
//! published, on this node and on every other node of a cluster alike
//! ([`State::publish`]): the rules change, a kicked member is cut off on
//! the spot (its connection closes with the reason, its leave is recorded
//! after the kick) and everyone is sent what they may do now
//! ([`ServerMessage::Access`]). Invitations and a new room's password are
//! kept in the room's settings, written off the tokio workers
//! ([`Room::write_access`]).

use tabula_shared::access::{ROOM_LOCK_SETTING, ResumeSecret, Role};
use tabula_shared::{
    ClientId, Credentials, ErrorCode, Moderated, Moderation, Op, OpId, OpKind, ServerMessage,
};
use tracing::{info, warn};

use super::Room;
use super::identities::{OPERATOR_SECRETS_SETTING, OperatorSecrets};
use super::rules::{INVITES_SETTING, Needs, Rules, Turned};
use super::sequencer::Proposal;
use super::state::State;
use crate::frame::encode_frame;
use crate::record::Ruling;
use crate::sync::lock;

/// Why an operator's command was not carried out; the connection stays.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModerationRefused {
    /// Only operators give commands.
    #[error("only the room's operators can do that")]
    NotOperator,
    /// The command makes no sense here; the sentence says why.
    #[error("{0}")]
    Invalid(String),
}

/// A room setting to write (see [`Room::write_access`]).
pub type AccessEntry = (String, String);

impl Room {
    /// What a hello naming `client` with `credentials` must prove to enter,
    /// or why it may not (kicked out, a revoked or unknown invitation, a
    /// password for a room that exists without one). A new room takes the
    /// hello's password at once, and keeps it in its file: call this off
    /// the tokio workers.
    pub fn admit(&self, client: ClientId, credentials: &Credentials) -> Result<Needs, Turned> {
        // An operator's id, whose role the log gives it on every node and
        // after a restart, is theirs only with their secret.
        if self
            .operator_secrets()
            .accepts(client, credentials.resume.as_ref())
            == Some(false)
        {
            return Err(Turned::Impostor(client));
        }
        // What the settings say now: in a cluster, another node may have
        // made or revoked an invitation, or given the room its password.
        let stored = self.stored_rules();
        let (needs, new_lock) = {
            let mut state = lock(&self.state);
            if let Some(stored) = stored {
                state.rules.merge(stored);
            }
            let fresh = state.head == 0 && state.members.is_empty();
            state.rules.admission(
                &self.name,
                client,
                credentials.invite,
                credentials.new_room_lock,
                fresh,
            )?
        };
        if let Some(new_lock) = new_lock {
            info!(room = %self.name, "the room's creator gave it a password");
            self.write_access(&(ROOM_LOCK_SETTING.to_owned(), new_lock.to_meta()))
                .map_err(|err| Turned::Unstored(self.name.clone(), err))?;
        }
        Ok(needs)
    }

    /// The verifiers of the room's operators' resume secrets, as its
    /// settings keep them (none, logged, when they cannot be read). Reads
    /// the log: off the tokio workers.
    fn operator_secrets(&self) -> OperatorSecrets {
        let text = lock(&self.log).setting(OPERATOR_SECRETS_SETTING);
        match text {
            Ok(text) => OperatorSecrets::parse(text.as_deref().unwrap_or_default()),
            Err(err) => {
                warn!(room = %self.name, %err, "could not read the operators' secrets");
                OperatorSecrets::default()
            }
        }
    }

    /// Keeps a verifier of the resume secret of `client`, who entered as
    /// an operator, in the room's settings (if it is not kept already), so
    /// that nobody else can take its id and role on another node or after
    /// a restart. Blocks on the disk (or Redis): off the tokio workers.
    pub fn keep_operator_secret(&self, client: ClientId, secret: &ResumeSecret) {
        let mut kept = self.operator_secrets();
        if kept.keep(client, secret)
            && let Err(err) =
                lock(&self.log).set_setting(OPERATOR_SECRETS_SETTING, &kept.to_setting())
        {
            warn!(room = %self.name, %err, "could not keep an operator's secret");
        }
    }

    /// The room's password and invitations as its settings keep them, or
    /// `None` (logged) when they cannot be read. Reads the log: off the
    /// tokio workers, not under the room's lock.
    fn stored_rules(&self) -> Option<Rules> {
        let log = lock(&self.log);
        let read = |key| {
            log.setting(key)
                .map_err(
                    |err| warn!(room = %self.name, %err, key, "could not read an access setting"),
                )
                .ok()
        };
        let lock_text = read(ROOM_LOCK_SETTING)?;
        let invites = read(INVITES_SETTING)?;
        drop(log);
        Some(Rules::from_settings(lock_text.as_deref(), invites.as_deref()).0)
    }

    /// Keeps one of the room's access settings (in its file, for a room
    /// with one). Blocks on the disk: off the tokio workers.
    pub fn write_access(&self, (key, value): &AccessEntry) -> Result<(), String> {
        lock(&self.log).set_setting(key, value).map_err(|err| {
            warn!(room = %self.name, %err, key, "could not store an access entry");
            err.to_string()
        })
    }

    /// Carries out an operator's command from `actor` on `connection`, and
    /// returns the entry the room's file is to keep (for an invitation made
    /// or revoked), which the caller writes with [`Room::write_access`] and then
    /// announces with [`Room::access_changed`].
    pub fn moderate(
        &self,
        actor: ClientId,
        connection: u64,
        command: &Moderation,
    ) -> Result<Option<AccessEntry>, ModerationRefused> {
        let mut state = lock(&self.state);
        if !state.members.is_member(actor, connection) {
            // Cut off a moment ago; the kick ends its loop next.
            return Ok(None);
        }
        if state.rules.role(actor) != Some(Role::Operator) {
            return Err(ModerationRefused::NotOperator);
        }
        let invalid = |why: &str| Err(ModerationRefused::Invalid(why.to_owned()));
        let known = |state: &State, client| {
            state.members.contains(client)
                || state.identities.knows(client)
                || state.rules.has_seen(client)
        };
        let (record, entry) = match *command {
            Moderation::SetRole { client, role } => {
                if !known(&state, client) {
                    return invalid("nobody with that id has been in the room");
                }
                if client == actor && role != Role::Operator && state.rules.operator_count() < 2 {
                    return invalid("the room's last operator cannot step down");
                }
                if state.rules.role(client) == Some(role) {
                    return Ok(None);
                }
                (Some(Moderated::Role { client, role }), None)
            }
            Moderation::Kick { client } => {
                if client == actor {
                    return invalid("operators cannot kick themselves out");
                }
                if !known(&state, client) {
                    return invalid("nobody with that id has been in the room");
                }
                if state.rules.is_kicked(client) {
                    return Ok(None);
                }
                (Some(Moderated::Kicked { client }), None)
            }
            Moderation::SetLocked(locked) => {
                if state.rules.is_locked() == locked {
                    return Ok(None);
                }
                (Some(Moderated::Locked(locked)), None)
            }
            Moderation::SetViewOnly(view_only) => {
                if state.rules.is_view_only() == view_only {
                    return Ok(None);
                }
                (Some(Moderated::ViewOnly(view_only)), None)
            }
            Moderation::Invite { invite, role } => {
                let entry = state
                    .rules
                    .invite(invite, role)
                    .map_err(ModerationRefused::Invalid)?;
                (None, Some(entry))
            }
            Moderation::Revoke { invite } => {
                let entry = state
                    .rules
                    .revoke(invite)
                    .map_err(ModerationRefused::Invalid)?;
                (None, Some(entry))
            }
        };
        if let Some(what) = record {
            info!(room = %self.name, operator = %actor, ?what, "an operator ran the room");
            if state.stage.is_open() {
                let proposal = Proposal {
                    author: actor,
                    op: Op::new(OpKind::Moderated(what)),
                };
                // Takes effect once published. A writer gone means the
                // relay is going away: the record goes with it, like a
                // leave in a crash.
                let _ = self.sequence(&mut state, vec![proposal]);
            } else {
                // Being handed over: nothing is recorded until the room
                // thaws, so the command holds here for the session.
                state.rule(&[Ruling::Moderated(what)]);
            }
        }
        // An invitation's change is told once it is stored (see
        // `Room::access_changed`), so that nobody hears of one another node
        // of a cluster does not know of yet.
        self.record_departures(&mut state);
        Ok(entry)
    }

    /// Tells every member how the room is run now: after an invitation made
    /// or revoked was stored.
    pub fn access_changed(&self) {
        let mut state = lock(&self.state);
        state.tell_access(None);
        self.record_departures(&mut state);
    }
}

/// Refuses `author`'s op `op`, which it may not make (it may only view the
/// room), and gives back the credit the op took.
pub(super) fn refuse_view_only(state: &mut State, author: ClientId, op: OpId) {
    let message = if state.rules.role(author) == Some(Role::Viewer) {
        format!("op {op}: you can only view this room; an operator can make you an editor")
    } else {
        format!("op {op}: the room is view-only; only its operators can change the board")
    };
    state.members.credit(author);
    let refusal = ServerMessage::OpRefused {
        op,
        code: ErrorCode::ViewOnly,
        message,
    };
    match encode_frame(&refusal) {
        Ok(frame) => state.members.send_to(author, frame),
        Err(err) => warn!(%err, "could not encode a refusal"),
    }
}
