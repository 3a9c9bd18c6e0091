//! The people in the room, as the status chip lists them, and running the
//! room for one of its operators.
//!
//! Each person is a round avatar in their colour with their initial, their
//! name, and their role when it is not an editor's ("operator", "viewer").
//! A click on someone follows their view (and again stops it); beside each
//! other person a "…" menu offers Follow, and to an operator Make operator,
//! Make editor, Make viewer and Kick; under the list "Ask everyone to
//! follow me" (or "Stop presenting"). Under a view-only role the list says
//! "View only" and why. An operator gets, under the list, the room's
//! switches (Lock room,
//! View only for everyone) and, where the chip offers them, the invitation
//! links ([`links_ui`], which the invite panel shows too). Nothing here
//! talks to the relay: each returns what was asked for.

use egui::{Align2, FontId, Response, RichText, Sense, Ui, vec2};
use tabula_shared::access::{Role, Verifier};
use tabula_shared::{ClientId, Color, Moderation, RoomAccess};

use super::theme::readable_on;
use crate::canvas::convert::color32;
use crate::follow::FollowAction;
use crate::session::Session;

/// What was asked for in the people list or the links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeopleAction {
    /// An operator's command to the room.
    Moderate(Moderation),
    /// An operator's new invitation link that admits as this role, copied
    /// at once.
    MakeLink(Role),
    /// Following someone, or presenting.
    Follow(FollowAction),
}

/// The most characters of a name shown.
const NAME_CHARS: usize = 28;

/// The people in the room, ourselves first, each other person with a "…"
/// menu (Follow; for an operator, their role and Kick) and followed with a
/// click; "Ask everyone to follow me"; for an operator, the room's switches.
/// `following` is whom we follow.
#[must_use = "a click asks for an action"]
pub fn people_ui(
    ui: &mut Ui,
    session: &Session,
    following: Option<ClientId>,
) -> Option<PeopleAction> {
    let access = session.access();
    let operator = session.is_operator();
    let role_of = |client: ClientId| access.map_or(Role::Editor, |access| role_in(access, client));
    let mut action = None;
    let me = session.me();
    person_ui(ui, &me.name, me.color, Some(role_of(me.client)), Mark::Me);
    for peer in session.peers() {
        let info = &peer.info;
        let role = role_of(info.client);
        let followed = following == Some(info.client);
        let follow = if followed {
            FollowAction::Stop
        } else {
            FollowAction::Follow(info.client)
        };
        ui.horizontal(|ui| {
            let mark = if followed {
                Mark::Followed
            } else if peer.presence.presenting {
                Mark::Presenting
            } else {
                Mark::Other
            };
            let row = person_ui(ui, &info.name, info.color, Some(role), mark)
                .on_hover_text(if followed {
                    format!("Stop following {}", info.name)
                } else {
                    format!("Follow {}'s view", info.name)
                })
                .on_hover_cursor(egui::CursorIcon::PointingHand);
            if row.clicked() {
                action = Some(PeopleAction::Follow(follow));
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let menu = PersonMenu {
                    client: info.client,
                    name: &info.name,
                    role,
                    operator,
                    follow,
                };
                action = action.or(person_menu_ui(ui, &menu));
            });
        });
    }
    if session.peers().next().is_some() {
        action = action.or(present_ui(ui, session.presence().presenting));
    }
    if let Some(access) = access {
        action = action.or(room_ui(ui, access, operator));
    }
    action
}

/// "Ask everyone to follow me", or "Stop presenting" while we do.
fn present_ui(ui: &mut Ui, presenting: bool) -> Option<PeopleAction> {
    ui.add_space(2.0);
    let (label, hint) = if presenting {
        (
            "Stop presenting",
            "The others stop following your view; their views stay where they are",
        )
    } else {
        (
            "Ask everyone to follow me",
            "Everyone's view follows yours until they stop it or you do",
        )
    };
    ui.button(label)
        .on_hover_text(hint)
        .clicked()
        .then_some(PeopleAction::Follow(FollowAction::Present(!presenting)))
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

/// Whom a person's "…" menu is about, and what it offers.
struct PersonMenu<'a> {
    /// Who.
    client: ClientId,
    /// Their name.
    name: &'a str,
    /// Their role.
    role: Role,
    /// Whether we are an operator (who may change roles and kick).
    operator: bool,
    /// Follow them, or stop following them.
    follow: FollowAction,
}

/// The "…" menu beside a person: Follow (or Stop following), and for an
/// operator their role and Kick.
fn person_menu_ui(ui: &mut Ui, menu: &PersonMenu<'_>) -> Option<PeopleAction> {
    let PersonMenu {
        client,
        name,
        role,
        operator,
        follow,
    } = *menu;
    let mut action = None;
    ui.menu_button("…", |ui| {
        ui.label(RichText::new(shorten(name)).strong());
        let label = if follow == FollowAction::Stop {
            "Stop following"
        } else {
            "Follow"
        };
        if ui
            .button(label)
            .on_hover_text("Your view travels with theirs until you pan, zoom or draw")
            .clicked()
        {
            action = Some(PeopleAction::Follow(follow));
            ui.close();
        }
        if !operator {
            return;
        }
        ui.separator();
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

/// What a person's row says beside their name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    /// "(you)".
    Me,
    /// "following": we follow them.
    Followed,
    /// "presenting": they ask everyone to follow them.
    Presenting,
    /// Nothing.
    Other,
}

/// One person: a round avatar with their initial, in their colour, the
/// name, what they are to us, and the role when it is not an editor's. The
/// row answers clicks (on the others: following them).
fn person_ui(ui: &mut Ui, name: &str, color: Color, role: Option<Role>, mark: Mark) -> Response {
    let row = ui.horizontal(|ui| {
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
        let name = RichText::new(shorten(name));
        let name = if mark == Mark::Followed {
            name.strong()
        } else {
            name
        };
        ui.add(
            egui::Label::new(name)
                .wrap_mode(egui::TextWrapMode::Truncate)
                .selectable(false),
        );
        match mark {
            Mark::Me => {
                ui.weak("(you)");
            }
            Mark::Followed => {
                ui.label(RichText::new("following").color(fill));
            }
            Mark::Presenting => {
                ui.weak("presenting");
            }
            Mark::Other => {}
        }
        if let Some(role @ (Role::Operator | Role::Viewer)) = role {
            ui.weak(role.name());
        }
    });
    if mark == Mark::Me {
        return row.response;
    }
    ui.interact(
        row.response.rect,
        ui.scope_id().with(("person", name)),
        Sense::click(),
    )
}
