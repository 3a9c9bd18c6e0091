//! Who is here and how the link is doing: the chip in the top-right corner.
//!
//! It shows the connection status with a coloured dot (Offline, Connecting…,
//! Connected to ROOM, Reconnecting in Ns…, Refused: reason), or, while this
//! app hosts the room, "Hosting ROOM · N here"; the people in the room
//! (ourselves first, then the others, each in their colour and role, to
//! follow, with an operator's actions: [`super::people`]); and its buttons:
//! Join… and Host… on a local board, Leave in a room, Invite… and Stop
//! hosting while hosting, Host this board when the room's host is gone.
//! Over `wss://` it shows the relay certificate's short code (asking to
//! compare it with the host's the first time this relay is seen), and a
//! refusal too long for the line (a changed certificate's, naming both) in
//! full under it. It reads the [`Session`] and what the app says of hosting
//! ([`HostingChip`]), and returns what was clicked.

use std::time::Duration;

use egui::{Align2, Color32, Context, RichText, Sense, Ui, vec2};
use tabula_shared::{ClientId, Color};

use super::people::{PeopleAction, links_ui, people_ui};
use super::theme::{self, EDGE_GAP};
use super::toolbar::toolbar_rect;
use crate::canvas::tools::PALETTE;
use crate::host::hosting::Notice;
use crate::session::{ConnectionStatus, RelayCertificate, Session, Trust, room_of_url};

/// What the chip's button asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresenceAction {
    /// Open the join dialog.
    Join,
    /// Leave the room and keep drawing offline.
    Leave,
    /// Open the host dialog.
    Host,
    /// Show the invite panel.
    Invite,
    /// Stop hosting (asking about a hand-over when others are in the room).
    StopHosting,
    /// Host the room from this board's copy: its host is gone.
    HostThisBoard,
    /// Forget hosting's notice.
    DismissNotice,
    /// What an operator asked for in the people list.
    People(PeopleAction),
}

/// What the chip says about hosting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum HostingChip {
    /// This app hosts nothing.
    #[default]
    Off,
    /// This app hosts nothing and the board's room cannot be reached: its
    /// host may be gone, and the board can be hosted from here.
    HostGone,
    /// The relay for this room is starting.
    Starting(String),
    /// This app hosts this room, with this many people in it (ourselves
    /// included).
    On {
        /// The room.
        room: String,
        /// How many are in it.
        here: usize,
    },
    /// This room is being handed over.
    HandingOver(String),
    /// The relay is stopping.
    Stopping,
}

/// What the chip says when the room's relay cannot be reached and this app
/// does not host it.
pub const HOST_GONE: &str = "The room's host cannot be reached. Carry on from your copy: \
     Host this board, or Join… it where someone else hosts it.";

/// The status line while hosting, in place of the connection's, if hosting
/// is under way.
#[must_use]
pub fn hosting_line(hosting: &HostingChip) -> Option<String> {
    match hosting {
        HostingChip::Off | HostingChip::HostGone => None,
        HostingChip::Starting(room) => Some(format!("Starting to host {room}…")),
        HostingChip::On { room, here } => Some(format!("Hosting {room} · {here} here")),
        HostingChip::HandingOver(room) => Some(format!("Handing {room} over…")),
        HostingChip::Stopping => Some("Stopping the relay…".to_owned()),
    }
}

/// A person's colour, picked from the palette's bright colours by their client id,
/// so it is the same every time they are seen and spreads evenly.
#[must_use]
pub fn identity_color(client: ClientId) -> Color {
    // Skip the near-black ink and the white: neither makes a visible cursor.
    let bright = &PALETTE[1..PALETTE.len() - 1];
    let index = (client.0.as_u128() % bright.len() as u128) as usize;
    bright[index].color
}

/// The dot of a local board.
const GREY: Color32 = Color32::from_rgb(0x9a, 0x9a, 0xa5);
/// The dot while something is under way.
const AMBER: Color32 = Color32::from_rgb(0xf5, 0x9f, 0x00);
/// The dot of a live room.
const GREEN: Color32 = Color32::from_rgb(0x2f, 0x9e, 0x44);
/// The dot of a refusal.
const RED: Color32 = Color32::from_rgb(0xe0, 0x31, 0x31);

/// The status line and its dot colour. `age` is how long the status has held,
/// for the reconnect countdown.
#[must_use]
pub fn status_line(
    status: &ConnectionStatus,
    room: Option<&str>,
    age: Duration,
) -> (String, Color32) {
    match status {
        ConnectionStatus::Offline => ("Offline".to_owned(), GREY),
        ConnectionStatus::Connecting => ("Connecting…".to_owned(), AMBER),
        ConnectionStatus::Connected => match room {
            Some(room) => (format!("Connected to {room}"), GREEN),
            None => ("Connected".to_owned(), GREEN),
        },
        ConnectionStatus::Reconnecting { retry_in, .. } => {
            let left = retry_in.saturating_sub(age);
            if left.is_zero() {
                ("Reconnecting…".to_owned(), AMBER)
            } else {
                let seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                (format!("Reconnecting in {seconds}s…"), AMBER)
            }
        }
        ConnectionStatus::Refused(reason) => (format!("Refused: {reason}"), RED),
    }
}

/// The width of the chip's content in a room: the same whoever is in it,
/// whatever they are called and whatever an operator's menus hold.
pub const CHIP_WIDTH: f32 = 340.0;

/// The chip's area, by which its last size is found.
const CHIP_AREA: &str = "tabula-presence";

/// The chip in the top-right corner. `status_age` is how long the current status
/// has held; `hosting` what this app is doing about hosting, and `notice`
/// what hosting has to say, when no dialog says it; `following` whom we
/// follow. In a room it is [`CHIP_WIDTH`] wide; where that would cover the
/// toolbar (a window not much wider than both), it sits under the toolbar.
#[must_use = "the chip's button asks for an action"]
pub fn presence_ui(
    ctx: &Context,
    session: &Session,
    status_age: Duration,
    hosting: &HostingChip,
    notice: Option<&Notice>,
    following: Option<ClientId>,
) -> Option<PresenceAction> {
    let status = session.status();
    let room = session.room_url().and_then(|url| room_of_url(url).ok());
    let (line, dot) = match hosting_line(hosting) {
        Some(line) if matches!(hosting, HostingChip::On { .. }) => (line, GREEN),
        Some(line) => (line, AMBER),
        None => status_line(status, room, status_age),
    };
    if matches!(status, ConnectionStatus::Reconnecting { .. }) {
        ctx.request_repaint_after(Duration::from_millis(250));
    }
    let in_room = session.room_url().is_some() || *status != ConnectionStatus::Offline;
    let mut action = None;
    egui::Area::new(egui::Id::unique(CHIP_AREA))
        .anchor(Align2::RIGHT_TOP, vec2(-EDGE_GAP, chip_top(ctx)))
        .show(ctx, |ui| {
            theme::floating_panel(ui).show(ui, |ui| {
                if in_room {
                    ui.set_width(CHIP_WIDTH);
                }
                ui.horizontal(|ui| {
                    let (rect, _) = ui.allocate_exact_size(vec2(10.0, 18.0), Sense::hover());
                    ui.painter().circle_filled(rect.center(), 4.5, dot);
                    let shown = shorten(&line, STATUS_MAX_CHARS);
                    let label = ui.add(
                        egui::Label::new(RichText::new(shown).strong())
                            .wrap_mode(egui::TextWrapMode::Extend),
                    );
                    match status {
                        ConnectionStatus::Reconnecting {
                            attempt, reason, ..
                        } => {
                            label.on_hover_text(format!("Attempt {attempt} failed: {reason}"));
                        }
                        ConnectionStatus::Refused(_) => {
                            label.on_hover_text(line.as_str());
                        }
                        _ => {}
                    }
                    ui.add_space(8.0);
                    for (text, hint, clicked) in buttons(status, hosting) {
                        if ui.button(text).on_hover_text(hint).clicked() {
                            action = Some(clicked);
                        }
                    }
                });
                if let ConnectionStatus::Refused(reason) = status
                    && line.chars().count() > STATUS_MAX_CHARS
                {
                    wrapped_ui(ui, reason, ui.visuals().error_fg_color);
                }
                if let Some(certificate) = session.relay_certificate()
                    && *status == ConnectionStatus::Connected
                {
                    certificate_ui(ui, certificate);
                }
                if *hosting == HostingChip::HostGone {
                    ui.scope(|ui| {
                        ui.set_max_width(340.0);
                        ui.add(
                            egui::Label::new(
                                RichText::new(HOST_GONE).color(ui.visuals().warn_fg_color),
                            )
                            .wrap(),
                        );
                    });
                }
                if let Some(notice) = notice
                    && notice_ui(ui, notice)
                {
                    action = Some(PresenceAction::DismissNotice);
                }
                ui.add_space(2.0);
                if let Some(asked) = people_ui(ui, session, following) {
                    action = Some(PresenceAction::People(asked));
                }
                // The host's links are in its invite panel, at the
                // addresses others reach it by.
                if *hosting == HostingChip::Off
                    && let Some(base) = session.room_url()
                    && session.is_operator()
                {
                    ui.add_space(4.0);
                    let id = egui::Id::unique("tabula-people-copied");
                    let mut copied: Option<String> =
                        ui.data_mut(|data| data.get_temp(id)).unwrap_or_default();
                    if let Some(asked) = links_ui(ui, session, base, &mut copied) {
                        action = Some(PresenceAction::People(asked));
                    }
                    ui.data_mut(|data| data.insert_temp(id, copied));
                }
            });
        });
    action
}

/// How far from the window's top the chip sits: at the edge gap, or under
/// the toolbar where it would cover it there.
fn chip_top(ctx: &Context) -> f32 {
    let Some(toolbar) = toolbar_rect(ctx) else {
        return EDGE_GAP;
    };
    let width = ctx
        .memory(|m| m.area_rect(egui::Id::unique(CHIP_AREA)))
        .map_or(CHIP_WIDTH, |chip| chip.width());
    let left = ctx.content_rect().right() - EDGE_GAP - width;
    if left < toolbar.right() + EDGE_GAP {
        toolbar.bottom() + EDGE_GAP
    } else {
        EDGE_GAP
    }
}

/// A sentence under the status line, wrapped, in `color`.
fn wrapped_ui(ui: &mut Ui, text: &str, color: Color32) {
    ui.scope(|ui| {
        ui.set_max_width(340.0);
        ui.add(egui::Label::new(RichText::new(text).color(color)).wrap());
    });
}

/// The `wss://` relay's certificate code; the first time this relay is
/// seen, a request to compare it with the host's.
fn certificate_ui(ui: &mut Ui, certificate: &RelayCertificate) {
    let code = certificate.fingerprint.short_code();
    if certificate.trust == Trust::FirstUse {
        wrapped_ui(
            ui,
            &format!(
                "New relay certificate {code}: check that the host's app shows the same code."
            ),
            ui.visuals().warn_fg_color,
        );
    } else {
        ui.weak(format!("Certificate {code}"))
            .on_hover_text(format!("SHA-256 {}", certificate.fingerprint));
    }
}

/// The chip's buttons for this status and hosting: label, hover text,
/// action.
fn buttons(
    status: &ConnectionStatus,
    hosting: &HostingChip,
) -> Vec<(&'static str, &'static str, PresenceAction)> {
    const LEAVE: (&str, &str, PresenceAction) = (
        "Leave",
        "Leave the room and keep drawing offline",
        PresenceAction::Leave,
    );
    const INVITE: (&str, &str, PresenceAction) = (
        "Invite…",
        "How others join this room",
        PresenceAction::Invite,
    );
    match hosting {
        HostingChip::On { .. } => vec![
            INVITE,
            (
                "Stop hosting",
                "Stop serving the room; with others in it, hand it over first",
                PresenceAction::StopHosting,
            ),
        ],
        HostingChip::Starting(_) => vec![INVITE],
        HostingChip::HandingOver(_) | HostingChip::Stopping => Vec::new(),
        HostingChip::HostGone => vec![
            (
                "Host this board",
                "Host the room from your copy, on this machine: the others find it in their join dialog",
                PresenceAction::HostThisBoard,
            ),
            (
                "Join…",
                "Join the room where someone else hosts it now",
                PresenceAction::Join,
            ),
            LEAVE,
        ],
        HostingChip::Off => {
            if matches!(
                status,
                ConnectionStatus::Offline | ConnectionStatus::Refused(_)
            ) {
                vec![
                    (
                        "Join…",
                        "Share this board: join a room on a relay",
                        PresenceAction::Join,
                    ),
                    (
                        "Host…",
                        "Host on this network: others on your network join this board",
                        PresenceAction::Host,
                    ),
                ]
            } else {
                vec![LEAVE]
            }
        }
    }
}

/// Hosting's notice under the status, with a button to dismiss it; `true`
/// when it was dismissed.
fn notice_ui(ui: &mut Ui, notice: &Notice) -> bool {
    let (text, color) = match notice {
        Notice::Failed(reason) => (reason.clone(), ui.visuals().error_fg_color),
        Notice::HandedOver(name) => (
            format!("{name} hosts the room now."),
            ui.visuals().text_color(),
        ),
    };
    let mut dismissed = false;
    ui.horizontal_top(|ui| {
        ui.set_max_width(340.0);
        dismissed = ui.small_button("×").on_hover_text("Dismiss").clicked();
        ui.add(egui::Label::new(RichText::new(text).color(color)).wrap());
    });
    dismissed
}

/// The longest status line shown whole; a longer refusal is cut, in full on hover.
const STATUS_MAX_CHARS: usize = 40;

/// `text` cut to `max` characters, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_read_well() {
        let no_time = Duration::ZERO;
        assert_eq!(
            status_line(&ConnectionStatus::Offline, None, no_time).0,
            "Offline"
        );
        assert_eq!(
            status_line(&ConnectionStatus::Connected, Some("design"), no_time).0,
            "Connected to design"
        );
        let reconnecting = ConnectionStatus::Reconnecting {
            attempt: 2,
            retry_in: Duration::from_millis(2_500),
            reason: "connection refused".to_owned(),
        };
        assert_eq!(
            status_line(&reconnecting, None, no_time).0,
            "Reconnecting in 3s…"
        );
        assert_eq!(
            status_line(&reconnecting, None, Duration::from_secs(2)).0,
            "Reconnecting in 1s…"
        );
        assert_eq!(
            status_line(&reconnecting, None, Duration::from_secs(9)).0,
            "Reconnecting…"
        );
        assert_eq!(
            status_line(
                &ConnectionStatus::Refused("room full".to_owned()),
                None,
                no_time
            )
            .0,
            "Refused: room full"
        );
    }

    #[test]
    fn identity_colours_are_stable_and_visible() {
        let client = ClientId::random();
        assert_eq!(identity_color(client), identity_color(client));
        for _ in 0..32 {
            let color = identity_color(ClientId::random());
            assert_ne!(color, PALETTE[0].color);
            assert_ne!(color, Color::rgb(255, 255, 255));
        }
    }
}
