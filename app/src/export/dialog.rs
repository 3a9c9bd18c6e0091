//! The export dialog: what to export (the board or the selection), as what (PNG
//! at 1× or 2×, or SVG), and where: a path field (no native file dialog: the
//! usual crate would need GTK on Linux, a system library this app does without),
//! or the clipboard, as an image.

use std::path::PathBuf;

use egui::{Context, Id, Modal, RichText};
use tabula_shared::{Board, Object};

use super::{png, svg};
use crate::canvas::selection::Selection;

/// The picture formats offered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// PNG, one pixel per canvas unit.
    #[default]
    Png1x,
    /// PNG, two pixels per canvas unit (sharp on high-density screens).
    Png2x,
    /// SVG, one element per object.
    Svg,
}

impl Format {
    /// The file extension.
    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png1x | Self::Png2x => "png",
            Self::Svg => "svg",
        }
    }
}

/// The dialog's fields, kept while it is closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportDialog {
    /// Whether it is showing.
    open: bool,
    /// Export only the selection (when there is one).
    selection_only: bool,
    /// The format.
    format: Format,
    /// Where to write, without the extension the format adds.
    path: String,
    /// What the last export did, to show under the button.
    outcome: Option<Result<String, String>>,
}

impl Default for ExportDialog {
    fn default() -> Self {
        Self {
            open: false,
            selection_only: false,
            format: Format::default(),
            path: "tabula-board".to_owned(),
            outcome: None,
        }
    }
}

impl ExportDialog {
    /// Shows the dialog, offering "selection only" when something is selected.
    pub fn open(&mut self, has_selection: bool) {
        self.open = true;
        self.selection_only = has_selection;
        self.outcome = None;
    }

    /// Whether it is showing.
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// The file the current fields would write.
    #[must_use]
    pub fn target(&self) -> PathBuf {
        let mut path = PathBuf::from(self.path.trim());
        if path
            .extension()
            .is_none_or(|e| e != self.format.extension())
        {
            path.set_extension(self.format.extension());
        }
        path
    }

    /// Shows the dialog if open, and exports when asked.
    pub fn modal_ui(&mut self, ctx: &Context, board: &Board, selection: &Selection) {
        if !self.open {
            return;
        }
        let has_selection = !selection.is_empty();
        let modal = Modal::new(Id::unique("tabula-export")).show(ctx, |ui| {
            ui.set_width(360.0);
            ui.heading("Export");
            ui.add_space(4.0);
            ui.horizontal(|ui| {
                ui.selectable_value(&mut self.selection_only, false, "Whole board");
                ui.add_enabled_ui(has_selection, |ui| {
                    ui.selectable_value(&mut self.selection_only, true, "Selection");
                });
            });
            ui.horizontal(|ui| {
                ui.selectable_value(&mut self.format, Format::Png1x, "PNG 1×");
                ui.selectable_value(&mut self.format, Format::Png2x, "PNG 2×");
                ui.selectable_value(&mut self.format, Format::Svg, "SVG");
            });
            let label = ui.label("Save as");
            ui.add(egui::TextEdit::singleline(&mut self.path).desired_width(f32::INFINITY))
                .labelled_by(label.id);
            ui.label(
                RichText::new(format!("Writes {}", self.target().display()))
                    .small()
                    .weak(),
            );
            ui.add_space(6.0);
            ui.horizontal(|ui| {
                if ui.button("Close").clicked() {
                    self.open = false;
                }
                let only = self.selection_only && has_selection;
                let objects: Vec<&Object> = board
                    .objects()
                    .filter(|o| !only || selection.contains(o.id))
                    .collect();
                if ui.button(RichText::new("Export").strong()).clicked() {
                    self.outcome = Some(self.write(&objects));
                }
                let scale = if self.format == Format::Png2x {
                    2.0
                } else {
                    1.0
                };
                if ui
                    .button("Copy as PNG")
                    .on_hover_text("Copy the picture to the clipboard")
                    .clicked()
                {
                    self.outcome = Some(
                        png::image(&objects, scale)
                            .map(|image| {
                                ui.ctx().copy_image(image);
                                "Copied to the clipboard".to_owned()
                            })
                            .map_err(|e| e.to_string()),
                    );
                }
            });
            match &self.outcome {
                Some(Ok(done)) => {
                    ui.label(RichText::new(done).color(ui.visuals().text_color()));
                }
                Some(Err(error)) => {
                    ui.label(RichText::new(error).color(ui.visuals().error_fg_color));
                }
                None => {}
            }
        });
        if modal.should_close() {
            self.open = false;
        }
    }

    /// Writes `objects` in the chosen format; a sentence for the person either way.
    fn write(&self, objects: &[&Object]) -> Result<String, String> {
        let bytes = match self.format {
            Format::Png1x => png::encode(objects, 1.0),
            Format::Png2x => png::encode(objects, 2.0),
            Format::Svg => svg::encode(objects).map(String::into_bytes),
        }
        .map_err(|e| e.to_string())?;
        let target = self.target();
        std::fs::write(&target, bytes)
            .map_err(|e| format!("could not write {}: {e}", target.display()))?;
        tracing::info!(path = %target.display(), "exported");
        Ok(format!("Saved {}", target.display()))
    }
}
