//! The modal shown while a close waits for the saves: what is being saved,
//! that the window closes once it is done, and what quitting without
//! waiting would give up.

use crate::files::documents::Documents;
use crate::files::menu::{file_name, saving_text};

/// What the person chose in the closing modal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClosingChoice {
    /// Keep the window open; the save goes on.
    Stay,
    /// Close now, giving the save under way up.
    Quit,
}

/// The modal, over everything, while `documents` are being saved before
/// the window closes; returns the person's choice, if they made one.
#[must_use = "the modal returns whether to stay or quit"]
pub fn closing_ui(ctx: &egui::Context, documents: &Documents) -> Option<ClosingChoice> {
    let saving = saving_text(documents).unwrap_or_else(|| "Saving…".to_owned());
    let name = documents
        .saving()
        .map_or_else(|| "the file".to_owned(), |s| file_name(s.path()));
    let waiting = documents.queued_saves().len();
    let mut stay = false;
    let mut quit = false;
    let modal = egui::Modal::new(egui::Id::unique("tabula-closing")).show(ctx, |ui| {
        ui.set_width(460.0);
        ui.horizontal_top(|ui| {
            ui.spinner();
            let heading = format!("{saving} — the window closes when it is done");
            ui.add(egui::Label::new(egui::RichText::new(heading).heading()).wrap());
        });
        ui.add_space(6.0);
        let mut consequence = format!(
            "Quit without waiting gives this save up: {name} stays as it was before \
             this save (a save is all or nothing), without what it would add."
        );
        if waiting > 0 {
            consequence.push_str(" The saves waiting after it are not made either.");
        }
        ui.label(consequence);
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            stay = ui.button("Keep the window open").clicked();
            let quit_button = egui::Button::new(
                egui::RichText::new("Quit without waiting").color(egui::Color32::WHITE),
            )
            .fill(egui::Color32::from_rgb(0xd0, 0x3b, 0x3b));
            quit = ui.add(quit_button).clicked();
        });
    });
    if quit {
        tracing::warn!(file = %name, "quitting without waiting for the save; the file stays as it was before it");
        Some(ClosingChoice::Quit)
    } else if stay || modal.should_close() {
        tracing::info!("not closing; the save goes on");
        Some(ClosingChoice::Stay)
    } else {
        None
    }
}
