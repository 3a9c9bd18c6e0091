//! What we may do in the room, and running it as one of its operators: the
//! relay's word on our role ([`Session::access`]), the password a room we
//! create gets, an operator's commands, and the invitation links this app
//! makes (their tokens stay here: the relay keeps only what checks them).

use tabula_shared::access::{InviteToken, Password, Role, Verifier, with_invite};
use tabula_shared::{Moderation, RoomAccess};

use super::Session;
use crate::net::Command;

impl Session {
    /// The password the next join gives its room if the room is new.
    pub fn set_new_room_password(&mut self, password: Option<Password>) {
        self.new_room_password = password;
    }

    /// The room's own password for the next join, when it is not the
    /// relay's (`None`: the relay's answers the room too).
    pub fn set_room_password(&mut self, password: Option<Password>) {
        self.room_password = password;
    }

    /// What we may do in the room and how it is run, once the relay said.
    #[must_use]
    pub fn access(&self) -> Option<&RoomAccess> {
        self.access.as_ref().filter(|_| self.connection.is_some())
    }

    /// Whether we may change the board: always offline, and in a room
    /// unless the relay says we may only view it.
    #[must_use]
    pub fn may_edit(&self) -> bool {
        self.access().is_none_or(RoomAccess::may_edit)
    }

    /// Whether we run the room.
    #[must_use]
    pub fn is_operator(&self) -> bool {
        self.access()
            .is_some_and(|access| access.role == Role::Operator)
    }

    /// Sends an operator's command to the room (the relay refuses it unless
    /// we are one of its operators).
    pub fn moderate(&self, command: Moderation) {
        if let Some(connection) = &self.connection {
            connection.send(Command::Moderate(command));
        }
    }

    /// Makes an invitation that admits as `role`, asks the room to keep it,
    /// and returns its token (for [`Self::invite_link`]); `None` when the
    /// system's random source fails.
    pub fn make_invite(&mut self, role: Role) -> Option<InviteToken> {
        let token = InviteToken::random()
            .map_err(|err| tracing::error!(%err, "could not make an invitation"))
            .ok()?;
        self.invites.push(token);
        self.moderate(Moderation::Invite {
            invite: token.verifier(),
            role,
        });
        Some(token)
    }

    /// Makes a new invitation link to the room at `base` (one of its
    /// addresses, naming the certificate) that admits as `role`; `None`
    /// when none could be made.
    pub fn new_invite_link(&mut self, base: &str, role: Role) -> Option<String> {
        let token = self.make_invite(role)?;
        Some(with_invite(base, &token))
    }

    /// The link of the invitation `invite` to the room at `base` (one of
    /// its addresses, with the certificate's `#fp=`), if this app made it.
    #[must_use]
    pub fn invite_link(&self, base: &str, invite: Verifier) -> Option<String> {
        self.invites
            .iter()
            .find(|token| token.verifier() == invite)
            .map(|token| with_invite(base, token))
    }
}
