//! The people in the room, as the status chip lists them, and running the
//! room for one of its operators.
//!
//! Each person is a round avatar in their colour with their initial, their
//! name, and their role when it is not an editor's ("operator", "viewer").
//! Under a view-only role the list says "View only" and why. An operator
//! gets, beside each other person, a "…" menu (Make operator, Make editor,
//! Make viewer, Kick) and, under the list, the room's switches (Lock room,
//! View only for everyone) and, where the chip offers them, the invitation
//! links ([`links_ui`], which the invite panel shows too). Nothing here
//! talks to the relay: each returns what was asked for.

use egui::{Align2, FontId, RichText, Sense, Ui, vec2};
use tabula_shared::access::{Role, Verifier};
use tabula_shared::{ClientId, Color, Moderation, RoomAccess};

use super::theme::readable_on;
use crate::canvas::convert::color32;
use crate::session::Session;

/// What an operator asked for in the people list or the links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeopleAction {
    /// A command to the room.
    Moderate(Moderation),
    /// A new invitation link that admits as this role, copied at once.
    MakeLink(Role),
}

/// The most characters of a name shown.
const NAME_CHARS: usize = 28;

/// The people in the room, ourselves first; for an operator, what it can do
/// about each of them and about the room.
#[must_use = "an operator's click asks for an action"]
pub fn people_ui(ui: &mut Ui, session: &Session) -> Option<PeopleAction> {
    let access = session.access();
    let operator = session.is_operator();
    let role_of = |client: ClientId| access.map_or(Role::Editor, |access| role_in(access, client));
    let mut action = None;
    let me = session.me();
    person_ui(ui, &me.name, me.color, Some(role_of(me.client)), true);
    for peer in session.peers() {
        let info = &peer.info;
        let role = role_of(info.client);
        ui.horizontal(|ui| {
            person_ui(ui, &info.name, info.color, Some(role), false);
            if operator {
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    action = action.or(person_menu_ui(ui, info.client, &info.name, role));
                });
            }
        });
    }
    if let Some(access) = access {
        action = action.or(room_ui(ui, access, operator));
    }
    action
}

/// The role `client` has in the room, as `access` lists them.
fn role_in(access: &RoomAccess, client: ClientId) -> Role {
    if access.operators.contains(&client) {
        Role::Operator
    } else if access.viewers.contains(&client) {
        Role::Viewer
    } else {
        Role::Editor
    }
}

/// The "…" menu beside a person, for an operator.
fn person_menu_ui(ui: &mut Ui, client: ClientId, name: &str, role: Role) -> Option<PeopleAction> {
    let mut action = None;
    ui.menu_button("…", |ui| {
        ui.label(RichText::new(shorten(name)).strong());
        for (to, label) in [
            (Role::Operator, "Make operator"),
            (Role::Editor, "Make editor"),
            (Role::Viewer, "Make viewer"),
        ] {
            if ui
                .add_enabled(role != to, egui::Button::new(label))
                .clicked()
            {
                action = Some(PeopleAction::Moderate(Moderation::SetRole {
                    client,
                    role: to,
                }));
                ui.close();
            }
        }
        ui.separator();
        let kick = egui::Button::new(RichText::new("Kick").color(ui.visuals().error_fg_color));
        if ui
            .add(kick)
            .on_hover_text("Remove them from the room: they cannot come back while it is open")
            .clicked()
        {
            action = Some(PeopleAction::Moderate(Moderation::Kick { client }));
            ui.close();
        }
    })
    .response
    .on_hover_text(format!("What to do about {name}"));
    action
}

/// The room's switches for an operator; for others, what they mean for
/// them ("View only", "Locked").
fn room_ui(ui: &mut Ui, access: &RoomAccess, operator: bool) -> Option<PeopleAction> {
    if !access.may_edit() {
        ui.add_space(4.0);
        ui.label(
            RichText::new("View only")
                .strong()
                .color(ui.visuals().warn_fg_color),
        );
        let why = if access.role == Role::Viewer {
            "You joined as a viewer: you see everything and can save a copy, but cannot change the board."
        } else {
            "The room's operators made it view-only for now."
        };
        ui.scope(|ui| {
            ui.set_max_width(300.0);
            ui.add(egui::Label::new(RichText::new(why).weak()).wrap());
        });
    }
    if !operator {
        if access.locked {
            ui.weak("The room is locked: nobody new can join.");
        }
        return None;
    }
    ui.add_space(4.0);
    let mut action = None;
    let mut locked = access.locked;
    if ui
        .checkbox(&mut locked, "Lock room")
        .on_hover_text("Let nobody new in; those who were here can come back")
        .changed()
    {
        action = Some(PeopleAction::Moderate(Moderation::SetLocked(locked)));
    }
    let mut view_only = access.view_only;
    if ui
        .checkbox(&mut view_only, "View only for everyone")
        .on_hover_text("Only operators can change the board")
        .changed()
    {
        action = Some(PeopleAction::Moderate(Moderation::SetViewOnly(view_only)));
    }
    action
}

/// The room's invitation links for an operator, each to the room at `base`
/// (an address others can reach, naming the certificate): Editor link and
/// Viewer link make one and copy it; each made here can be copied again
/// and each can be revoked. `copied` marks the link last copied.
#[must_use = "a click asks for a link or a revocation"]
pub fn links_ui(
    ui: &mut Ui,
    session: &Session,
    base: &str,
    copied: &mut Option<String>,
) -> Option<PeopleAction> {
    let access = session.access().filter(|_| session.is_operator())?;
    let mut action = None;
    ui.label(RichText::new("Invitation links").strong());
    ui.horizontal(|ui| {
        if ui
            .button("Editor link")
            .on_hover_text("A new link that lets its holder in to draw, without the code; copied")
            .clicked()
        {
            action = Some(PeopleAction::MakeLink(Role::Editor));
        }
        if ui
            .button("Viewer link")
            .on_hover_text("A new link that lets its holder in to watch only; copied")
            .clicked()
        {
            action = Some(PeopleAction::MakeLink(Role::Viewer));
        }
    });
    let live: Vec<_> = access
        .invites
        .iter()
        .filter(|invite| !invite.revoked)
        .collect();
    if live.is_empty() {
        ui.weak("No links yet. Anyone with a link gets in as its role, until you revoke it.");
    }
    egui::Grid::new("tabula-invite-links")
        .num_columns(3)
        .spacing(vec2(8.0, 4.0))
        .show(ui, |ui| {
            for invite in live {
                let link = session.invite_link(base, invite.invite);
                let what = match invite.role {
                    Role::Viewer => "Viewer link",
                    _ => "Editor link",
                };
                ui.label(what).on_hover_text(link.as_deref().unwrap_or(
                    "Made by another operator (or before a restart): only they have the link",
                ));
                match &link {
                    Some(link) => {
                        let label = if copied.as_deref() == Some(link) {
                            "Copied"
                        } else {
                            "Copy"
                        };
                        if ui.button(label).clicked() {
                            ui.ctx().copy_text(link.clone());
                            *copied = Some(link.clone());
                        }
                    }
                    None => {
                        ui.weak("not this app's");
                    }
                }
                if ui
                    .button("Revoke")
                    .on_hover_text("The link lets nobody in any more; who is in stays")
                    .clicked()
                {
                    action = Some(PeopleAction::Moderate(revoke(invite.invite)));
                }
                ui.end_row();
            }
        });
    action
}

/// The command that revokes `invite`.
fn revoke(invite: Verifier) -> Moderation {
    Moderation::Revoke { invite }
}

/// `name` cut to [`NAME_CHARS`] characters, with an ellipsis when cut.
fn shorten(name: &str) -> String {
    if name.chars().count() <= NAME_CHARS {
        name.to_owned()
    } else {
        let mut cut: String = name.chars().take(NAME_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

/// One person: a round avatar with their initial, in their colour, the
/// name, and the role when it is not an editor's.
fn person_ui(ui: &mut Ui, name: &str, color: Color, role: Option<Role>, is_me: bool) {
    ui.horizontal(|ui| {
        let (rect, _) = ui.allocate_exact_size(vec2(20.0, 20.0), Sense::hover());
        let fill = color32(color);
        ui.painter().circle_filled(rect.center(), 10.0, fill);
        let initial: String = name
            .chars()
            .find(|c| c.is_alphanumeric())
            .map_or_else(|| "?".to_owned(), |c| c.to_uppercase().collect());
        ui.painter().text(
            rect.center(),
            Align2::CENTER_CENTER,
            initial,
            FontId::proportional(11.0),
            readable_on(fill),
        );
        ui.add(egui::Label::new(shorten(name)).wrap_mode(egui::TextWrapMode::Extend));
        if is_me {
            ui.weak("(you)");
        }
        if let Some(role @ (Role::Operator | Role::Viewer)) = role {
            ui.weak(role.name());
        }
    });
}
