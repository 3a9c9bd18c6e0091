//! The host dialog: which room to host this board in, on this machine, for
//! others on the network to join.
//!
//! A modal over the board with one field, the room's name, prefilled with a
//! readable random name ([`random_room_name`], such as `blue-otter-42`) and
//! checked as it is typed with [`room_name::validate`], the rule the relay
//! applies. It says how others will see the room in their join dialog.
//! Below it, who may join: "Code required" (the default: a short code, the
//! room relay's password, shown in the invite panel and carried in the
//! invitation links as `#code=`) or "Anyone on this network". Enter or Host
//! hosts; Escape or Cancel closes it.

use egui::{Color32, Context, Key, RichText, TextEdit, vec2};
use tabula_shared::room_name;

use super::theme;
use crate::host::names::random_room_name;

/// The dialog's state between frames.
#[derive(Debug)]
pub struct HostDialog {
    /// "Code required" (the default) or "Anyone on this network".
    code_required: bool,
    /// Whether it is showing.
    open: bool,
    /// The room's name as typed.
    room: String,
    /// Why hosting was refused when it was asked for (the board's history
    /// still arriving, say), until the name is edited.
    error: Option<String>,
    /// Put the keyboard in the field on the next frame.
    focus_pending: bool,
}

impl Default for HostDialog {
    fn default() -> Self {
        Self {
            code_required: true,
            open: false,
            room: String::new(),
            error: None,
            focus_pending: false,
        }
    }
}

impl HostDialog {
    /// Whether the room is to need a code (the choice in the dialog).
    #[must_use]
    pub fn code_required(&self) -> bool {
        self.code_required
    }

    /// Shows the dialog with a fresh random room name.
    pub fn open(&mut self) {
        self.open_with(&random_room_name());
    }

    /// Shows the dialog with `room` in the field.
    pub fn open_with(&mut self, room: &str) {
        room.clone_into(&mut self.room);
        self.open = true;
        self.error = None;
        self.focus_pending = true;
    }

    /// Whether the dialog is showing.
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Closes the dialog.
    pub fn close(&mut self) {
        self.open = false;
    }

    /// The room's name as typed, trimmed.
    #[must_use]
    pub fn room(&self) -> &str {
        self.room.trim()
    }

    /// Shows why hosting was refused, and keeps the dialog open.
    pub fn set_error(&mut self, message: impl Into<String>) {
        self.error = Some(message.into());
        self.open = true;
    }

    /// What is wrong with the room's name, or with hosting it, if anything.
    fn problem(&self) -> Option<String> {
        self.error.clone().or_else(|| {
            room_name::validate(self.room())
                .err()
                .map(|err| err.to_string())
        })
    }

    /// Shows the dialog if it is open; returns the room to host when the
    /// person confirms a valid name. `instance` is the name the relay is
    /// advertised under, if it is advertised. The dialog stays open until
    /// [`Self::close`] (or Cancel, Escape, a click outside), so that a
    /// refusal can be shown in it.
    pub fn modal_ui(&mut self, ctx: &Context, instance: Option<&str>) -> Option<String> {
        if !self.open {
            return None;
        }
        let problem = self.problem();
        let mut submit = false;
        let mut cancel = false;
        let modal = egui::Modal::new(egui::Id::unique("tabula-host-dialog"))
            .backdrop_color(Color32::from_black_alpha(60))
            .frame(egui::Frame::window(&ctx.global_style()).inner_margin(20))
            .show(ctx, |ui| {
                ui.set_width(400.0);
                ui.heading("Host on this network");
                ui.add_space(2.0);
                ui.weak(
                    "This board becomes a room that others on your network can join. \
                     It is served from this machine: keep Tabula open while they draw.",
                );
                ui.add_space(12.0);
                ui.label(RichText::new("Room").strong());
                let mut edit = TextEdit::singleline(&mut self.room)
                    .hint_text("blue-otter-42")
                    .desired_width(f32::INFINITY)
                    .margin(vec2(8.0, 5.0));
                if problem.is_some() {
                    edit = edit.background_color(ui.visuals().error_fg_color.gamma_multiply(0.12));
                }
                let field = ui.add(edit);
                if std::mem::take(&mut self.focus_pending) {
                    field.request_focus();
                }
                if field.changed() {
                    self.error = None;
                }
                if let Some(problem) = &problem {
                    ui.colored_label(ui.visuals().error_fg_color, problem);
                } else {
                    let room = self.room.trim();
                    let seen = match instance {
                        Some(instance) => {
                            format!("Others see it in their join dialog as {room}, on {instance}.")
                        }
                        None => format!(
                            "It is not advertised: others join it by its address, ending in /{room}."
                        ),
                    };
                    ui.weak(seen);
                }
                ui.add_space(8.0);
                ui.label(RichText::new("Who may join").strong());
                ui.radio_value(&mut self.code_required, true, "Code required")
                    .on_hover_text("A short code, shown once hosting starts and carried in the invitation links");
                ui.radio_value(&mut self.code_required, false, "Anyone on this network");
                ui.add_space(8.0);
                ui.horizontal(|ui| {
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                        let host = egui::Button::new(
                            RichText::new("Host").color(Color32::WHITE).strong(),
                        )
                        .fill(theme::ACCENT)
                        .min_size(vec2(72.0, 28.0));
                        submit |= ui
                            .add_enabled(problem.is_none(), host)
                            .on_hover_text("Host (Enter)")
                            .clicked();
                        cancel |= ui
                            .add(egui::Button::new("Cancel").min_size(vec2(72.0, 28.0)))
                            .on_hover_text("Cancel (Escape)")
                            .clicked();
                    });
                });
                submit |= ui.input(|i| i.key_pressed(Key::Enter));
            });
        if cancel || modal.should_close() {
            self.open = false;
            return None;
        }
        (submit && self.problem().is_none()).then(|| self.room().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefilled_name_is_a_room_and_a_bad_one_is_refused() {
        let mut dialog = HostDialog::default();
        assert!(dialog.code_required(), "a code by default");
        dialog.open();
        assert!(dialog.problem().is_none(), "{:?}", dialog.room);
        "no spaces".clone_into(&mut dialog.room);
        assert!(dialog.problem().is_some());
        dialog.open_with(" studio ");
        assert_eq!(dialog.room(), "studio");
        dialog.set_error("the board's history is still arriving");
        assert_eq!(
            dialog.problem().as_deref(),
            Some("the board's history is still arriving")
        );
    }
}
