//! The invite panel: how others join the room this app hosts.
//!
//! A window over the board, shown once when hosting starts and again from
//! the status chip's Invite…: the room's name as others see it in their join
//! dialog, whether the relay is advertised on the network (or why not), the
//! room's URL at each of the machine's addresses (loopback and link-local
//! last) with a Copy button each, a note when the default port was taken,
//! who is in the room, and Stop hosting. The relay speaks TLS: the addresses
//! name its certificate (`#fp=…`), and the panel shows the certificate's
//! short code, for those who find the room on the network or type an
//! address to compare aloud. Its operator makes and revokes invitation
//! links there too (Editor link, Viewer link: [`super::people::links_ui`]),
//! to the first address. While the relay starts it says so; when it
//! could not start, it says what failed and what to try.

use std::net::IpAddr;

use egui::{Align2, Color32, Context, RichText, Ui, vec2};
use tabula_server::discovery::Advertised;
use tabula_shared::fingerprint::Fingerprint;

use super::people::{PeopleAction, links_ui};
use super::theme::EDGE_GAP;
use crate::host::Host;
use crate::session::Session;

/// How others join a hosted room: what the panel shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    /// The room.
    pub room: String,
    /// The name the relay is advertised under, if it is: what others see
    /// beside the room in their join dialog.
    pub instance: Option<String>,
    /// The room's URL at each address others can reach, best first.
    pub urls: Vec<String>,
    /// The certificate the relay serves `wss://` with, if it does.
    pub certificate: Option<Fingerprint>,
    /// The code others need to join (the copied addresses carry it), when
    /// the room needs one.
    pub code: Option<String>,
    /// Why the relay is not on the default port, if it is not.
    pub port_note: Option<String>,
    /// Whether the relay is advertised on the network, or why not.
    pub advertised: Advertised,
    /// Who is in the room, longest-present first.
    pub people: Vec<String>,
}

impl Invitation {
    /// The invitation to `host`'s room, advertised as `instance` if at all.
    #[must_use]
    pub fn of(host: &Host, instance: Option<&str>) -> Self {
        Self {
            room: host.room().to_owned(),
            instance: instance.map(str::to_owned),
            urls: host.urls().to_vec(),
            certificate: Some(host.fingerprint()),
            code: host.code().map(|code| code.expose().to_owned()),
            port_note: host.port_note().map(str::to_owned),
            advertised: host.advertised(),
            people: host.members().into_iter().map(|peer| peer.name).collect(),
        }
    }
}

/// What the panel has to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InviteState {
    /// The relay for this room is starting.
    Starting(String),
    /// Hosting.
    Hosting(Invitation),
    /// Hosting could not start, for this reason.
    Failed(String),
    /// Not hosting (any more): the panel closes.
    Off,
}

/// What the panel asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InviteAction {
    /// An invitation link made or revoked: the room's first address is
    /// what links are made to.
    People(PeopleAction),
    /// Stop hosting (handing the room over if others are in it).
    StopHosting,
    /// The panel was closed: forget the notice it showed.
    Closed,
}

/// The panel's state between frames.
#[derive(Debug, Default)]
pub struct InvitePanel {
    /// Whether it is showing.
    open: bool,
    /// The URL last copied, marked "Copied" until the panel closes.
    copied: Option<String>,
}

impl InvitePanel {
    /// Shows the panel.
    pub fn open(&mut self) {
        self.open = true;
        self.copied = None;
    }

    /// Whether it is showing.
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// The panel, if it is open, showing `state`; returns what was asked
    /// for.
    pub fn window_ui(
        &mut self,
        ctx: &Context,
        state: &InviteState,
        session: &Session,
    ) -> Option<InviteAction> {
        if !self.open {
            return None;
        }
        if *state == InviteState::Off {
            self.open = false;
            return None;
        }
        let mut action = None;
        let mut open = true;
        let right_top = ctx.content_rect().right_top();
        egui::Window::new("Invite others")
            .id(egui::Id::unique("tabula-invite"))
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .pivot(Align2::RIGHT_TOP)
            .default_pos(right_top + vec2(-EDGE_GAP, 150.0))
            .default_width(420.0)
            .show(ctx, |ui| {
                ui.set_max_width(440.0);
                action = match state {
                    InviteState::Starting(room) => {
                        starting_ui(ui, room);
                        None
                    }
                    InviteState::Hosting(invitation) => self.invitation_ui(ui, invitation, session),
                    InviteState::Failed(reason) => {
                        failed_ui(ui, reason);
                        ui.add_space(6.0);
                        ui.button("Close").clicked().then_some(InviteAction::Closed)
                    }
                    InviteState::Off => None,
                };
            });
        if !open || action == Some(InviteAction::Closed) {
            self.open = false;
            return Some(InviteAction::Closed);
        }
        action
    }

    /// A hosted room: how others find it, its addresses, who is in it.
    fn invitation_ui(
        &mut self,
        ui: &mut Ui,
        invitation: &Invitation,
        session: &Session,
    ) -> Option<InviteAction> {
        let mut action = None;
        ui.heading(format!("Hosting {}", invitation.room));
        ui.add_space(4.0);
        found_ui(ui, invitation);
        ui.add_space(8.0);
        let listed = matches!(invitation.advertised, Advertised::On(_));
        let addresses = if listed {
            "Or they join at one of these addresses:"
        } else {
            "They join at one of these addresses:"
        };
        ui.label(RichText::new(addresses).strong());
        egui::Grid::new("tabula-invite-urls")
            .num_columns(2)
            .spacing(vec2(8.0, 4.0))
            .show(ui, |ui| {
                for url in &invitation.urls {
                    ui.horizontal(|ui| {
                        // Shown without the certificate's #fp=, which Copy
                        // takes along.
                        let bare = url.split_once('#').map_or(url.as_str(), |(bare, _)| bare);
                        ui.label(RichText::new(bare).monospace())
                            .on_hover_text(url.as_str());
                        if let Some(reach) = reach(url) {
                            ui.weak(reach);
                        }
                    });
                    let copied = self.copied.as_deref() == Some(url.as_str());
                    let label = if copied { "Copied" } else { "Copy" };
                    if ui
                        .button(label)
                        .on_hover_text(format!("Copy {url}"))
                        .clicked()
                    {
                        ui.ctx().copy_text(url.clone());
                        self.copied = Some(url.clone());
                    }
                    ui.end_row();
                }
            });
        if let Some(note) = &invitation.port_note {
            ui.add_space(4.0);
            ui.colored_label(ui.visuals().warn_fg_color, note);
        }
        if let Some(code) = &invitation.code {
            ui.add_space(8.0);
            code_ui(ui, code);
        }
        if let Some(certificate) = &invitation.certificate {
            ui.add_space(8.0);
            certificate_ui(ui, certificate);
        }
        if let Some(base) = invitation.urls.first() {
            ui.add_space(8.0);
            if let Some(asked) = links_ui(ui, session, base, &mut self.copied) {
                action = Some(InviteAction::People(asked));
            }
        }
        ui.add_space(8.0);
        let people = &invitation.people;
        ui.label(match people.len() {
            0 => "Nobody is in the room yet.".to_owned(),
            n => format!("{n} here: {}", people.join(", ")),
        });
        ui.weak(
            "Others need TCP to this port, and mDNS (UDP 5353) to find it, through any firewall.",
        );
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            let stop = egui::Button::new(RichText::new("Stop hosting").color(Color32::WHITE))
                .fill(Color32::from_rgb(0xd0, 0x3b, 0x3b));
            if ui
                .add(stop)
                .on_hover_text("Stop serving the room; with others in it, hand it over first")
                .clicked()
            {
                action = Some(InviteAction::StopHosting);
            }
        });
        action
    }
}

/// How others find the room: in their join dialog when it is advertised,
/// else (and why) only by an address.
fn found_ui(ui: &mut Ui, invitation: &Invitation) {
    match (&invitation.advertised, &invitation.instance) {
        (Advertised::On(_), Some(instance)) => {
            ui.label("Others on this network find it in their join dialog, under On this network:");
            ui.horizontal(|ui| {
                ui.label(RichText::new(&invitation.room).strong().size(15.0));
                ui.label(format!("on {instance}"));
            });
        }
        (Advertised::Off, Some(_)) => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Advertising it on the network…");
            });
        }
        (Advertised::Failed(reason), _) => {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!(
                    "It is not advertised on the network ({reason}), so it does not show in others' join dialog: give them an address below."
                ),
            );
        }
        _ => {
            ui.label("It is not advertised on the network: give others an address below.");
        }
    }
}

/// The room's code, which others type under "Password or code" when they
/// join from the network list or a typed address.
fn code_ui(ui: &mut Ui, code: &str) {
    ui.horizontal(|ui| {
        ui.label("Code to join:");
        ui.label(RichText::new(code).monospace().strong().size(18.0));
    });
    ui.weak(
        "The addresses copied above carry it. Whoever joins from the network list or types an address needs it.",
    );
}

/// The certificate's short code, to read aloud: those who open a link are
/// checked by it already; the others compare the code their app shows.
fn certificate_ui(ui: &mut Ui, certificate: &Fingerprint) {
    ui.horizontal(|ui| {
        ui.label("Certificate code:");
        ui.label(RichText::new(certificate.short_code()).monospace().strong())
            .on_hover_text(format!("SHA-256 {certificate}"));
    });
    ui.weak(
        "The addresses copied above carry it. Whoever joins from the network list or types an address sees a code too: read yours aloud, and theirs must be the same.",
    );
}

/// The relay is starting: drawing goes on meanwhile.
fn starting_ui(ui: &mut Ui, room: &str) {
    ui.heading(format!("Hosting {room}"));
    ui.horizontal(|ui| {
        ui.spinner();
        ui.label("Starting the relay… you can keep drawing.");
    });
}

/// Hosting could not start: why, and what to try (the reason says).
fn failed_ui(ui: &mut Ui, reason: &str) {
    ui.heading("Could not host");
    ui.add_space(4.0);
    ui.add(egui::Label::new(RichText::new(reason).color(ui.visuals().error_fg_color)).wrap());
}

/// A note on who an address reaches, for those that reach few: loopback
/// (this machine only) and link-local addresses.
fn reach(url: &str) -> Option<&'static str> {
    let host = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))?;
    let host = host.split('/').next()?;
    let host = host
        .rsplit_once(':')
        .map_or(host, |(host, _port)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let ip: IpAddr = host.parse().ok()?;
    match ip {
        ip if ip.is_loopback() => Some("(this machine only)"),
        IpAddr::V4(v4) if v4.is_link_local() => Some("(link-local)"),
        IpAddr::V6(v6) if v6.is_unicast_link_local() => Some("(link-local)"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_link_local_addresses_are_marked() {
        assert_eq!(
            reach("ws://127.0.0.1:7457/studio"),
            Some("(this machine only)")
        );
        assert_eq!(reach("ws://[::1]:7457/studio"), Some("(this machine only)"));
        assert_eq!(reach("ws://169.254.2.3:7457/studio"), Some("(link-local)"));
        assert_eq!(reach("ws://192.168.1.20:7457/studio"), None);
        assert_eq!(reach("ws://[2001:db8::1]:7458/studio"), None);
    }
}
