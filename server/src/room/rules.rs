//! How a room is run: its password, its invitations, who may do what in it,
//! who was kicked out, and whether it is locked or view-only.
//!
//! What outlives the relay is kept in the room's settings (in a room's file,
//! its `meta` table), read when the room opens: the password's lock
//! ([`ROOM_LOCK_SETTING`]) and the invitations ([`INVITES_SETTING`]: a line
//! each, `<public half in hex> <role>`, and ` revoked` once revoked). The
//! rest is what the room's log says ([`super::record`]): the roles recorded
//! by client id, kicks, the lock against newcomers and view-only, rebuilt
//! whenever the room opens and changed only as the log's records are
//! published, so that a reopened room, and every node of a cluster, runs it
//! alike. Only an editor's role is not recorded: it is what the password
//! or an editor's invitation gives, kept for the open room's session.
//!
//! Nothing here does I/O: [`Rules`] says what a change is to write, and the
//! room writes it off the tokio workers.

use std::collections::{HashMap, HashSet};

use tabula_shared::access::{ROOM_LOCK_SETTING, Role, RoomLock, Verifier};
use tabula_shared::{ClientId, InviteInfo, Moderated, RoomAccess};

use crate::record::{MAX_RECORDED, Record, Ruling};

/// The room setting that keeps the invitations.
pub const INVITES_SETTING: &str = "access_invites";
/// The most invitations a room keeps (revoked ones included): each is a
/// line of its setting (about 80 bytes) and of its operators' access
/// messages.
pub const MAX_INVITES: usize = 256;

/// An invitation the room keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invitation {
    /// Who its holder becomes.
    pub role: Role,
    /// Whether it admits nobody any more.
    pub revoked: bool,
}

impl Invitation {
    /// How the room's file keeps it.
    #[must_use]
    pub fn to_meta(self) -> String {
        if self.revoked {
            format!("{} revoked", self.role)
        } else {
            self.role.name().to_owned()
        }
    }

    /// Reads [`Self::to_meta`]'s form.
    #[must_use]
    pub fn from_meta(text: &str) -> Option<Self> {
        let mut words = text.split_ascii_whitespace();
        let role = Role::from_name(words.next()?)?;
        let revoked = match words.next() {
            None => false,
            Some("revoked") => true,
            Some(_) => return None,
        };
        Some(Self { role, revoked })
    }
}

/// What a hello must prove before it is let in, once its room is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Nothing more: the room has no password of its own.
    Nothing,
    /// The room's password, which this lock checks.
    Password(RoomLock),
    /// The invitation the hello named, which admits as this role.
    Invite(Verifier, Role),
}

/// Why a hello is turned away before it is challenged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Turned {
    /// An operator kicked this client id out of the room.
    #[error("you were removed from room {0} by an operator")]
    Kicked(String),
    /// The invitation was revoked.
    #[error("this invitation to room {0} was revoked")]
    Revoked(String),
    /// The room knows no such invitation.
    #[error("this invitation is not valid for room {0}")]
    UnknownInvite(String),
    /// The hello would make a room private that exists without a password.
    #[error("room {0} already exists without a password: join it without one")]
    NotNew(String),
    /// The room's new password could not be kept in its file.
    #[error("the relay could not store room {0}'s password: {1}")]
    Unstored(String, String),
    /// The hello names one of the room's operators without its resume
    /// secret.
    #[error("client id {0} is one of this room's operators: resuming it needs its resume secret")]
    Impostor(ClientId),
}

/// The role a member entered with (see [`Rules::enter`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entered {
    /// What it may do.
    pub role: Role,
    /// Whether the log still needs a record of that role.
    pub recorded: Recorded,
}

/// Whether a role given on entry needs a record of its own in the room's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The log says it already, or it is an editor's (never recorded).
    Already,
    /// The join says it: the first in a room without an operator runs it.
    /// A node of a cluster records it anyway, since another node may have
    /// let someone else in first at the same moment: both then run the room.
    ByJoin,
    /// Only a record says it: a viewer (recorded before its join), or an
    /// operator named by the relay in a room that has one.
    Needed,
}

/// A room's password, invitations, roles, kicks and settings.
#[derive(Debug, Default)]
pub struct Rules {
    /// The room's password, if it has one.
    lock: Option<RoomLock>,
    /// Its invitations, by public half.
    invites: HashMap<Verifier, Invitation>,
    /// What the room's log says: roles, kicks, who has been in, the lock
    /// and view-only.
    record: Record,
    /// The role of each client id admitted as an editor this session and
    /// given none in the record (bounded).
    editors: HashSet<ClientId>,
}

impl Rules {
    /// Whether the room has a password of its own.
    pub fn has_password(&self) -> bool {
        self.lock.is_some()
    }

    /// The rules a room's settings keep: its lock and its invitations, as
    /// [`ROOM_LOCK_SETTING`] and [`INVITES_SETTING`] hold them. What does
    /// not parse is skipped, and named in the result's second part for the
    /// log.
    #[must_use]
    pub fn from_settings(lock: Option<&str>, invites: Option<&str>) -> (Self, Vec<String>) {
        let mut rules = Self::default();
        let mut skipped = Vec::new();
        if let Some(lock) = lock {
            match RoomLock::from_meta(lock) {
                Ok(lock) => rules.lock = Some(lock),
                Err(err) => skipped.push(format!("{ROOM_LOCK_SETTING}: {err}")),
            }
        }
        for line in invites.unwrap_or_default().lines() {
            let parsed = line.split_once(' ').and_then(|(hex, invitation)| {
                Some((Verifier::from_hex(hex)?, Invitation::from_meta(invitation)?))
            });
            match parsed {
                Some((invite, invitation)) if rules.invites.len() < MAX_INVITES => {
                    rules.invites.insert(invite, invitation);
                }
                _ => skipped.push(format!("{INVITES_SETTING}: {line:?}")),
            }
        }
        (rules, skipped)
    }

    /// These rules with `record`, what the room's log says, in place of
    /// whatever they had.
    #[must_use]
    pub fn with_record(mut self, record: Record) -> Self {
        self.record = record;
        self
    }

    /// Takes in a logged op's ruling, as it is published: whether it
    /// changed how the room is run.
    pub fn apply(&mut self, ruling: &Ruling) -> bool {
        let editor = match ruling {
            Ruling::Moderated(Moderated::Kicked { client } | Moderated::Role { client, .. }) => {
                self.editors.remove(client)
            }
            _ => false,
        };
        self.record.apply(ruling) || editor
    }

    /// Takes in what the room's settings say now (another node of a
    /// cluster may have changed them): a lock this room lacks, and every
    /// invitation, revoked when either side says so. Nothing here is
    /// forgotten, so an invitation made a moment ago and not yet written
    /// stays.
    pub fn merge(&mut self, stored: Self) {
        if self.lock.is_none() {
            self.lock = stored.lock;
        }
        for (invite, invitation) in stored.invites {
            if let Some(known) = self.invites.get_mut(&invite) {
                known.revoked |= invitation.revoked;
            } else if self.invites.len() < MAX_INVITES {
                self.invites.insert(invite, invitation);
            }
        }
    }

    /// The invitations as [`INVITES_SETTING`] keeps them.
    fn invites_setting(&self) -> (String, String) {
        let mut lines: Vec<String> = self
            .invites
            .iter()
            .map(|(invite, invitation)| format!("{} {}", invite.to_hex(), invitation.to_meta()))
            .collect();
        lines.sort_unstable();
        (INVITES_SETTING.to_owned(), lines.join("\n"))
    }

    /// What a hello naming `client`, with `invite` or `new_lock`, must prove
    /// to enter. `fresh` says whether the room has never had anyone in it (a
    /// new room, which a hello may give a password). A new lock is taken on
    /// at once (the caller writes it to the room's file), so that two
    /// creators racing cannot both set one.
    pub fn admission(
        &mut self,
        room: &str,
        client: ClientId,
        invite: Option<Verifier>,
        new_lock: Option<RoomLock>,
        fresh: bool,
    ) -> Result<(Needs, Option<RoomLock>), Turned> {
        if self.record.kicked.contains(&client) {
            return Err(Turned::Kicked(room.to_owned()));
        }
        if let Some(invite) = invite {
            return match self.invites.get(&invite) {
                Some(Invitation { revoked: true, .. }) => Err(Turned::Revoked(room.to_owned())),
                Some(invitation) => Ok((Needs::Invite(invite, invitation.role), None)),
                None => Err(Turned::UnknownInvite(room.to_owned())),
            };
        }
        if let Some(lock) = self.lock {
            return Ok((Needs::Password(lock), None));
        }
        match new_lock {
            Some(lock) if fresh => {
                self.lock = Some(lock);
                Ok((Needs::Password(lock), Some(lock)))
            }
            Some(_) => Err(Turned::NotNew(room.to_owned())),
            None => Ok((Needs::Nothing, None)),
        }
    }

    /// Whether `client` was kicked out.
    pub fn is_kicked(&self, client: ClientId) -> bool {
        self.record.kicked.contains(&client)
    }

    /// Whether `client` has been in the room, as its log says.
    pub fn has_seen(&self, client: ClientId) -> bool {
        self.record.seen.contains(&client)
    }

    /// Whether newcomers are turned away.
    pub fn is_locked(&self) -> bool {
        self.record.locked
    }

    /// The role `client` has been given: recorded, or as an editor this
    /// session.
    pub fn role(&self, client: ClientId) -> Option<Role> {
        self.record
            .roles
            .get(&client)
            .copied()
            .or_else(|| self.editors.contains(&client).then_some(Role::Editor))
    }

    /// Whether `client` may change the board now.
    pub fn may_edit(&self, client: ClientId) -> bool {
        match self.role(client) {
            Some(Role::Operator) => true,
            Some(Role::Editor) => !self.record.view_only,
            Some(Role::Viewer) | None => false,
        }
    }

    /// How many operators the room has.
    pub fn operator_count(&self) -> usize {
        self.record
            .roles
            .values()
            .filter(|role| **role == Role::Operator)
            .count()
    }

    /// Whether only operators may change the board.
    pub fn is_view_only(&self) -> bool {
        self.record.view_only
    }

    /// Records `client` entering as `admitted` and says what it may do: a
    /// client id the room's log gives a role keeps it; the first one that
    /// may edit in a room without an operator becomes its operator (the
    /// room's creator, the app's host, the first in a room that had none),
    /// as its join does when the log is read again ([`Record::apply`]);
    /// an editor is kept for the session. An operator or a viewer is taken
    /// in at once; the caller records it in the log ([`Entered::recorded`]).
    /// `in_room` says who is in the room now (never forgotten to make room).
    pub fn enter(
        &mut self,
        client: ClientId,
        admitted: Role,
        in_room: impl Fn(ClientId) -> bool,
    ) -> Entered {
        if let Some(role) = self.record.roles.get(&client) {
            return Entered {
                role: *role,
                recorded: Recorded::Already,
            };
        }
        let (role, recorded) = if admitted >= Role::Editor && !self.record.has_operator() {
            (Role::Operator, Recorded::ByJoin)
        } else if self.editors.contains(&client) {
            (Role::Editor, Recorded::Already)
        } else {
            (admitted, Recorded::Needed)
        };
        if role == Role::Editor {
            if self.editors.len() >= MAX_RECORDED {
                // Forget an editor who is not here.
                if let Some(gone) = self.editors.iter().find(|id| !in_room(**id)).copied() {
                    self.editors.remove(&gone);
                }
            }
            self.editors.insert(client);
            return Entered {
                role,
                recorded: Recorded::Already,
            };
        }
        self.apply(&Ruling::Moderated(Moderated::Role { client, role }));
        Entered { role, recorded }
    }

    /// Keeps an invitation, or says why not; the setting to write.
    pub fn invite(&mut self, invite: Verifier, role: Role) -> Result<(String, String), String> {
        if role == Role::Operator {
            return Err("an invitation admits an editor or a viewer, not an operator".to_owned());
        }
        if self.invites.contains_key(&invite) {
            return Err("that invitation exists already".to_owned());
        }
        if self.invites.len() >= MAX_INVITES {
            return Err(format!(
                "the room has {MAX_INVITES} invitations, as many as it keeps"
            ));
        }
        let invitation = Invitation {
            role,
            revoked: false,
        };
        self.invites.insert(invite, invitation);
        Ok(self.invites_setting())
    }

    /// Revokes an invitation, or says why not; the setting to write.
    pub fn revoke(&mut self, invite: Verifier) -> Result<(String, String), String> {
        let Some(invitation) = self.invites.get_mut(&invite) else {
            return Err("the room has no such invitation".to_owned());
        };
        invitation.revoked = true;
        Ok(self.invites_setting())
    }

    /// How the room is run as a member with `role` sees it: invitations for
    /// operators only. `present` lists who is in the room now.
    pub fn access(&self, role: Role, present: &[ClientId]) -> RoomAccess {
        let mut operators: Vec<ClientId> = self
            .record
            .roles
            .iter()
            .filter(|(_, role)| **role == Role::Operator)
            .map(|(client, _)| *client)
            .collect();
        operators.sort_unstable();
        operators.truncate(RoomAccess::MAX_LISTED);
        let viewers: Vec<ClientId> = present
            .iter()
            .filter(|client| self.role(**client) == Some(Role::Viewer))
            .take(RoomAccess::MAX_LISTED)
            .copied()
            .collect();
        let mut invites: Vec<InviteInfo> = if role == Role::Operator {
            self.invites
                .iter()
                .map(|(invite, invitation)| InviteInfo {
                    invite: *invite,
                    role: invitation.role,
                    revoked: invitation.revoked,
                })
                .collect()
        } else {
            Vec::new()
        };
        invites.sort_by_key(|info| info.invite.0);
        RoomAccess {
            role,
            locked: self.record.locked,
            view_only: self.record.view_only,
            password: self.lock.is_some(),
            operators,
            viewers,
            invites,
        }
    }
}

#[cfg(test)]
mod tests {
    use tabula_shared::access::{InviteToken, KeyParams, Password};

    use super::*;

    fn lock() -> RoomLock {
        let params = KeyParams {
            salt: tabula_shared::access::Salt([7; 16]),
            kdf: tabula_shared::access::Kdf {
                memory_kib: tabula_shared::access::Kdf::MIN_MEMORY_KIB,
                iterations: 1,
                lanes: 1,
            },
        };
        let key = tabula_shared::access::derive(&Password::new("pw").unwrap(), &params).unwrap();
        RoomLock::of(params, &key)
    }

    #[test]
    fn a_new_room_takes_the_first_lock_and_an_old_one_none() {
        let mut rules = Rules::default();
        let (a, b) = (ClientId::random(), ClientId::random());
        let first = lock();
        assert_eq!(
            rules.admission("r", a, None, Some(first), true),
            Ok((Needs::Password(first), Some(first)))
        );
        // The second creator must prove the first one's password.
        assert_eq!(
            rules.admission("r", b, None, Some(lock()), true),
            Ok((Needs::Password(first), None))
        );
        let mut open = Rules::default();
        assert_eq!(
            open.admission("r", a, None, Some(first), false),
            Err(Turned::NotNew("r".into()))
        );
        assert_eq!(
            open.admission("r", a, None, None, false),
            Ok((Needs::Nothing, None))
        );
    }

    #[test]
    fn invitations_admit_as_their_role_until_revoked_and_survive_in_meta() {
        let mut rules = Rules::default();
        let token = InviteToken::random().unwrap();
        let client = ClientId::random();
        assert!(rules.invite(token.verifier(), Role::Operator).is_err());
        let (_, written) = rules.invite(token.verifier(), Role::Viewer).unwrap();
        assert_eq!(
            rules.admission("r", client, Some(token.verifier()), None, false),
            Ok((Needs::Invite(token.verifier(), Role::Viewer), None))
        );
        let (reopened, skipped) = Rules::from_settings(
            None,
            Some(&format!(
                "{written}
zz viewer"
            )),
        );
        assert_eq!(skipped.len(), 1);
        assert_eq!(reopened.invites, rules.invites);
        let (_, revoked) = rules.revoke(token.verifier()).unwrap();
        assert!(revoked.ends_with(" viewer revoked"), "{revoked}");
        assert_eq!(
            rules.admission("r", client, Some(token.verifier()), None, false),
            Err(Turned::Revoked("r".into()))
        );
        let stranger = InviteToken::random().unwrap().verifier();
        assert_eq!(
            rules.admission("r", client, Some(stranger), None, false),
            Err(Turned::UnknownInvite("r".into()))
        );
    }

    #[test]
    fn what_the_settings_say_now_is_taken_in_without_forgetting_anything() {
        let (a, b) = (
            InviteToken::random().unwrap(),
            InviteToken::random().unwrap(),
        );
        let mut here = Rules::default();
        here.invite(a.verifier(), Role::Viewer).unwrap();
        let mut elsewhere = Rules::default();
        elsewhere.invite(a.verifier(), Role::Viewer).unwrap();
        elsewhere.revoke(a.verifier()).unwrap();
        let (_, stored) = elsewhere.invite(b.verifier(), Role::Editor).unwrap();
        let (stored, _) = Rules::from_settings(Some(&lock().to_meta()), Some(&stored));
        here.merge(stored);
        let client = ClientId::random();
        assert_eq!(
            here.admission("r", client, Some(a.verifier()), None, false),
            Err(Turned::Revoked("r".into()))
        );
        assert_eq!(
            here.admission("r", client, Some(b.verifier()), None, false),
            Ok((Needs::Invite(b.verifier(), Role::Editor), None))
        );
        assert!(matches!(
            here.admission("r", client, None, None, false),
            Ok((Needs::Password(_), None))
        ));
    }

    #[test]
    fn the_first_editor_runs_the_room_and_roles_stick_to_client_ids() {
        let mut rules = Rules::default();
        let (viewer, first, second) = (ClientId::random(), ClientId::random(), ClientId::random());
        let nobody = |_| false;
        let entered = |role, recorded| Entered { role, recorded };
        assert_eq!(
            rules.enter(viewer, Role::Viewer, nobody),
            entered(Role::Viewer, Recorded::Needed)
        );
        assert_eq!(
            rules.enter(first, Role::Editor, nobody),
            entered(Role::Operator, Recorded::ByJoin)
        );
        assert_eq!(
            rules.enter(second, Role::Editor, nobody),
            entered(Role::Editor, Recorded::Already)
        );
        // A viewer who comes back with the password stays a viewer.
        assert_eq!(rules.enter(viewer, Role::Editor, nobody).role, Role::Viewer);
        assert!(rules.may_edit(second) && !rules.may_edit(viewer));
        rules.apply(&Ruling::Moderated(Moderated::ViewOnly(true)));
        assert!(!rules.may_edit(second) && rules.may_edit(first));
        assert!(rules.apply(&Ruling::Moderated(Moderated::Kicked { client: second })));
        assert!(rules.is_kicked(second) && rules.role(second).is_none());
        assert_eq!(
            rules.admission("r", second, None, None, false),
            Err(Turned::Kicked("r".into()))
        );
        let seen = rules.access(Role::Editor, &[viewer, first]);
        assert_eq!(seen.operators, vec![first]);
        assert_eq!(seen.viewers, vec![viewer]);
        assert!(seen.view_only && !seen.may_edit());
    }

    #[test]
    fn a_reopened_room_keeps_what_its_log_recorded() {
        let (operator, viewer, kicked) =
            (ClientId::random(), ClientId::random(), ClientId::random());
        let mut record = Record::default();
        for ruling in [
            Ruling::Joined(operator),
            Ruling::Moderated(Moderated::Role {
                client: viewer,
                role: Role::Viewer,
            }),
            Ruling::Moderated(Moderated::Kicked { client: kicked }),
            Ruling::Moderated(Moderated::Locked(true)),
        ] {
            record.apply(&ruling);
        }
        let mut rules = Rules::default().with_record(record);
        let nobody = |_| false;
        // The first editor back is no operator: the room has one.
        let newcomer = ClientId::random();
        assert_eq!(
            rules.enter(newcomer, Role::Editor, nobody).role,
            Role::Editor
        );
        assert_eq!(rules.enter(viewer, Role::Editor, nobody).role, Role::Viewer);
        assert_eq!(
            rules.enter(operator, Role::Editor, nobody).role,
            Role::Operator
        );
        assert!(rules.is_kicked(kicked) && rules.is_locked());
        assert!(rules.has_seen(operator) && !rules.has_seen(newcomer));
    }
}
