//! The hand-over dialog: stopping or quitting while others are in the room
//! this app hosts.
//!
//! "Hand the room to [member ▾]" (by default the member there longest, who
//! the relay asks first), "Stop without handing over" (or "Quit without
//! handing over"), or Cancel. While the room is handed over it shows
//! progress, then the outcome: who hosts it now, or why it stayed here.

use egui::{Color32, Context, RichText, vec2};
use tabula_shared::{ClientId, PeerInfo};

use super::theme;

/// Why the dialog asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// Stop hosting was clicked.
    Stop,
    /// The window is being closed.
    Quit,
}

/// What the hand-over under way has come to, for the dialog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Nothing asked yet, or the last try is over and the room is still
    /// here: ask.
    Asking,
    /// The room is being handed over.
    HandingOver,
    /// The room was handed over, to this person.
    Done(String),
    /// The room could not be handed over, for this reason; it is still here.
    Failed(String),
}

/// What the person chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// Hand the room over to this member.
    HandTo(ClientId),
    /// Stop (or quit) without handing the room over: the others keep their
    /// boards and see the host gone.
    Without,
    /// Neither: keep hosting (or, after a hand-over, the dialog was
    /// dismissed).
    Close,
}

/// The dialog's state between frames.
#[derive(Debug, Default)]
pub struct HandOverDialog {
    /// Why it shows, while it shows.
    open: Option<Why>,
    /// The member picked in the list; `None` until the person picks one,
    /// and then the default (the one there longest) applies.
    picked: Option<ClientId>,
}

impl HandOverDialog {
    /// Shows the dialog, for `why`.
    pub fn open(&mut self, why: Why) {
        self.open = Some(why);
        self.picked = None;
    }

    /// Why it shows, if it does.
    #[must_use]
    pub fn why(&self) -> Option<Why> {
        self.open
    }

    /// Whether it is showing.
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Closes it.
    pub fn close(&mut self) {
        self.open = None;
    }

    /// The member the room goes to: the one picked, while still in the
    /// room, or else the first of `others` (the one there longest).
    #[must_use]
    pub fn choice<'a>(&self, others: &'a [PeerInfo]) -> Option<&'a PeerInfo> {
        self.picked
            .and_then(|picked| others.iter().find(|peer| peer.client == picked))
            .or_else(|| others.first())
    }

    /// The dialog, if open: `room` is the room hosted, `others` who else is
    /// in it, longest-present first, and `progress` how the hand-over is
    /// going. Returns what was chosen.
    pub fn modal_ui(
        &mut self,
        ctx: &Context,
        room: &str,
        others: &[PeerInfo],
        progress: &Progress,
    ) -> Option<Choice> {
        let why = self.open?;
        let mut choice = None;
        let modal = egui::Modal::new(egui::Id::unique("tabula-hand-over"))
            .backdrop_color(Color32::from_black_alpha(60))
            .frame(egui::Frame::window(&ctx.global_style()).inner_margin(20))
            .show(ctx, |ui| {
                ui.set_width(420.0);
                match progress {
                    Progress::HandingOver => {
                        ui.heading(format!("Handing {room} over…"));
                        ui.add_space(4.0);
                        ui.horizontal(|ui| {
                            ui.spinner();
                            let to = self.choice(others).map_or("the next host", |p| &p.name);
                            ui.label(format!(
                                "Asking {to} to host the room; everyone follows it there."
                            ));
                        });
                    }
                    Progress::Done(name) => {
                        ui.heading(format!("{name} hosts {room} now"));
                        ui.add_space(4.0);
                        ui.label(
                            "Everyone, you too, draws on in the room on their machine; \
                             it is advertised from there.",
                        );
                        ui.add_space(8.0);
                        if ui.button("OK").clicked() {
                            choice = Some(Choice::Close);
                        }
                    }
                    Progress::Asking | Progress::Failed(_) => {
                        choice = self.asking_ui(ui, why, room, others, progress);
                    }
                }
            });
        let busy = *progress == Progress::HandingOver;
        if modal.should_close() && !busy && choice.is_none() {
            choice = Some(Choice::Close);
        }
        if matches!(choice, Some(Choice::Close | Choice::Without)) {
            self.open = None;
        }
        choice
    }

    /// The question: to whom, or not at all.
    fn asking_ui(
        &mut self,
        ui: &mut egui::Ui,
        why: Why,
        room: &str,
        others: &[PeerInfo],
        progress: &Progress,
    ) -> Option<Choice> {
        let mut choice = None;
        ui.heading(match why {
            Why::Stop => format!("Stop hosting {room}?"),
            Why::Quit => format!("Quit while hosting {room}?"),
        });
        ui.add_space(4.0);
        let count = match others.len() {
            1 => "Someone else is".to_owned(),
            n => format!("{n} others are"),
        };
        if others.is_empty() {
            ui.label("Nobody else is in the room now.");
        } else {
            ui.label(format!(
                "{count} in the room. Hand it over, and it moves to their machine \
                 with its whole history: everyone follows it and draws on."
            ));
        }
        if let Progress::Failed(reason) = progress {
            ui.add_space(4.0);
            ui.colored_label(ui.visuals().error_fg_color, reason);
        }
        ui.add_space(8.0);
        let picked = self.choice(others).map(|peer| peer.client);
        if let Some(current) = picked {
            ui.horizontal(|ui| {
                let label = ui.label("Hand the room to");
                let shown = others
                    .iter()
                    .find(|peer| peer.client == current)
                    .map_or_else(String::new, |peer| peer.name.clone());
                let mut selected = current;
                egui::ComboBox::from_id_salt("tabula-hand-over-to")
                    .selected_text(shown)
                    .show_ui(ui, |ui| {
                        for peer in others {
                            ui.selectable_value(&mut selected, peer.client, &peer.name);
                        }
                    })
                    .response
                    .labelled_by(label.id);
                if selected != current {
                    self.picked = Some(selected);
                }
                if others.first().is_some_and(|first| first.client == selected) {
                    ui.weak("here longest");
                }
            });
            ui.add_space(8.0);
        }
        ui.horizontal(|ui| {
            if let Some(to) = self.choice(others).map(|peer| peer.client) {
                let label = match why {
                    Why::Stop => "Hand over",
                    Why::Quit => "Hand over and quit",
                };
                let hand = egui::Button::new(RichText::new(label).color(Color32::WHITE).strong())
                    .fill(theme::ACCENT)
                    .min_size(vec2(72.0, 28.0));
                if ui.add(hand).clicked() {
                    choice = Some(Choice::HandTo(to));
                }
            }
            let without = match (why, others.is_empty()) {
                (Why::Stop, false) => "Stop without handing over",
                (Why::Stop, true) => "Stop hosting",
                (Why::Quit, false) => "Quit without handing over",
                (Why::Quit, true) => "Quit",
            };
            if ui
                .button(without)
                .on_hover_text(
                    "The others keep their boards; any of them can host the room from their copy",
                )
                .clicked()
            {
                choice = Some(Choice::Without);
            }
            if ui.button("Cancel").clicked() {
                choice = Some(Choice::Close);
            }
        });
        choice
    }
}
