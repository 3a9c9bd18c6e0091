//! The export dialog: what to export (the board or the selection), as what (PNG
//! at 1× or 2×, or SVG), and where: a path field, with "Choose…" beside it for
//! the system's file dialog when there is one, or the clipboard, as an image.
//!
//! Export starts an [`ExportJob`] on the `tabula-export` thread; while it
//! runs the dialog shows its stage and how many objects are drawn, with
//! Cancel, and stays open until it ends. The app polls the job once a frame
//! with the other jobs ([`ExportDialog::poll`]); the outcome (the file
//! written, or why not, naming it) shows under the buttons.

use std::path::{Path, PathBuf};

use egui::{Context, Id, Modal, RichText};
use tabula_shared::{Board, Object};

use super::job::{Destination, ExportJob, Exported};
use super::{Blobs, ExportError, Format, blobs_for};
use crate::canvas::selection::Selection;
use crate::pictures::Pictures;

/// What the dialog asks of the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportAction {
    /// Choose the file in the system's dialog ("Choose…").
    ChooseFile,
}

/// The dialog's fields, kept while it is closed, and the export under way.
#[derive(Debug)]
pub struct ExportDialog {
    /// Whether it is showing.
    open: bool,
    /// Export only the selection (when there is one).
    selection_only: bool,
    /// The format.
    format: Format,
    /// Where to write, without the extension the format adds.
    path: String,
    /// What the last export did, to show under the button: done, or why not.
    outcome: Option<Result<String, String>>,
    /// The export running on its thread, while it does.
    running: Option<ExportJob>,
    /// A word beside the path field (that there is no system file dialog),
    /// until the dialog closes.
    note: Option<&'static str>,
    /// Set when the path is to be typed: the field takes the keyboard once.
    focus_path: bool,
}

impl Default for ExportDialog {
    fn default() -> Self {
        Self {
            open: false,
            selection_only: false,
            format: Format::default(),
            path: "tabula-board".to_owned(),
            outcome: None,
            running: None,
            note: None,
            focus_path: false,
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

    /// The export under way, while there is one.
    #[must_use]
    pub fn running(&self) -> Option<&ExportJob> {
        self.running.as_ref()
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

    /// What the system's file dialog is asked: a file to write, named as
    /// the field names it, in its folder.
    #[must_use]
    pub fn file_request(&self) -> crate::ui::file_dialog::Request {
        use crate::ui::file_dialog::{Kind, Request};
        let target = self.target();
        let (name, extension) = match self.format {
            Format::Png1x | Format::Png2x => ("PNG pictures", "png"),
            Format::Svg => ("SVG drawings", "svg"),
        };
        Request::new(Kind::SaveFile, "Export")
            .in_folder(target.parent().map(Path::to_path_buf))
            .named(target.file_name().map(|n| n.to_string_lossy().into_owned()))
            .offering(name, extension)
    }

    /// The file was chosen in the system's dialog: the field says it.
    pub fn set_path(&mut self, path: &Path) {
        self.path = path.display().to_string();
        if let Some(format) = format_of(path, self.format) {
            self.format = format;
        }
    }

    /// The path is to be typed: the field takes the keyboard, with `note`
    /// beside it if there is one.
    pub fn type_path(&mut self, note: Option<&'static str>) {
        self.focus_path = true;
        if note.is_some() {
            self.note = note;
        }
    }

    /// Shows the dialog if open, and starts an export when asked; says when
    /// the system's file dialog is wanted (`offers_dialogs`: there is one).
    pub fn modal_ui(
        &mut self,
        ctx: &Context,
        board: &Board,
        pictures: &Pictures,
        selection: &Selection,
        offers_dialogs: bool,
    ) -> Option<ExportAction> {
        if !self.open {
            return None;
        }
        let mut action = None;
        let has_selection = !selection.is_empty();
        let running = self.running.is_some();
        let modal = Modal::new(Id::unique("tabula-export")).show(ctx, |ui| {
            ui.set_width(400.0);
            ui.heading("Export");
            ui.add_space(4.0);
            ui.add_enabled_ui(!running, |ui| {
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
                ui.horizontal(|ui| {
                    let choose = offers_dialogs
                        && ui
                            .button("Choose…")
                            .on_hover_text("Choose the file in the system's file dialog")
                            .clicked();
                    if choose {
                        action = Some(ExportAction::ChooseFile);
                    }
                    let field = ui
                        .add(
                            egui::TextEdit::singleline(&mut self.path).desired_width(f32::INFINITY),
                        )
                        .labelled_by(label.id);
                    if std::mem::take(&mut self.focus_path) {
                        field.request_focus();
                    }
                });
            });
            if let Some(note) = self.note {
                ui.label(RichText::new(note).small().italics());
            }
            ui.label(
                RichText::new(format!("Writes {}", self.target().display()))
                    .small()
                    .weak(),
            );
            ui.add_space(6.0);
            if let Some(job) = &self.running {
                progress_ui(ui, job);
            } else {
                self.buttons_ui(ui, board, pictures, selection, has_selection);
            }
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
        // An export under way keeps the dialog open: it has Cancel.
        if modal.should_close() && self.running.is_none() {
            self.close();
        }
        action
    }

    /// Close, Export, and Copy as PNG, which start an export.
    fn buttons_ui(
        &mut self,
        ui: &mut egui::Ui,
        board: &Board,
        pictures: &Pictures,
        selection: &Selection,
        has_selection: bool,
    ) {
        ui.horizontal(|ui| {
            if ui.button("Close").clicked() {
                self.close();
            }
            let export = ui.button(RichText::new("Export").strong()).clicked();
            let copy = ui
                .button("Copy as PNG")
                .on_hover_text("Copy the picture to the clipboard")
                .clicked();
            let destination = if export && !self.path.trim().is_empty() {
                Destination::File(self.target())
            } else if copy {
                Destination::Clipboard
            } else {
                return;
            };
            let only = self.selection_only && has_selection;
            let objects: Vec<Object> = board
                .objects()
                .filter(|o| !only || selection.contains(o.id))
                .cloned()
                .collect();
            let blobs = blobs_for(&objects, pictures);
            self.start(objects, blobs, destination, ui.ctx());
        });
    }

    /// Starts exporting `objects` to `destination` on the export thread.
    fn start(
        &mut self,
        objects: Vec<Object>,
        blobs: Blobs,
        destination: Destination,
        ctx: &Context,
    ) {
        self.outcome = None;
        let ctx = ctx.clone();
        match ExportJob::start(objects, blobs, self.format, destination, move || {
            ctx.request_repaint();
        }) {
            Ok(job) => {
                tracing::info!(destination = ?job.destination(), "exporting");
                self.running = Some(job);
            }
            Err(error) => {
                tracing::warn!(%error, "cannot start the export");
                self.outcome = Some(Err(format!("Could not start the export: {error}")));
            }
        }
    }

    /// Once a frame: takes in how the export under way ended, if it has:
    /// the picture goes to the clipboard, the outcome is shown (and a failure
    /// logged, once).
    pub fn poll(&mut self, ctx: &Context) {
        let Some(job) = &mut self.running else {
            return;
        };
        let Some(result) = job.poll() else {
            return;
        };
        let destination = job.destination().clone();
        self.running = None;
        self.outcome = Some(match (result, destination) {
            (Ok(Exported::Written { path, bytes }), _) => {
                tracing::info!(path = %path.display(), bytes, "exported");
                Ok(format!("Saved {}", path.display()))
            }
            (Ok(Exported::Image(image)), _) => {
                ctx.copy_image(image);
                Ok("Copied to the clipboard".to_owned())
            }
            (Err(ExportError::Cancelled), Destination::File(path)) => {
                tracing::info!(path = %path.display(), "export cancelled");
                Ok(format!(
                    "Cancelled: nothing was written to {}",
                    path.display()
                ))
            }
            (Err(ExportError::Cancelled), Destination::Clipboard) => {
                Ok("Cancelled: nothing was copied".to_owned())
            }
            (Err(error), Destination::File(path)) => {
                tracing::warn!(path = %path.display(), %error, "export failed");
                Err(format!("Could not export {}: {error}", path.display()))
            }
            (Err(error), Destination::Clipboard) => {
                tracing::warn!(%error, "copying the picture failed");
                Err(format!("Could not copy the picture: {error}"))
            }
        });
    }

    /// Hides the dialog; its fields stay for next time.
    fn close(&mut self) {
        self.open = false;
        self.note = None;
    }
}

/// "Exporting NAME… Drawing 120 of 500 objects", a progress bar, and Cancel.
fn progress_ui(ui: &mut egui::Ui, job: &ExportJob) {
    let what = match job.destination() {
        Destination::File(path) => path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        Destination::Clipboard => "to the clipboard".to_owned(),
    };
    let progress = job.progress();
    let stage = if progress.total == 0 {
        format!("{}…", progress.stage)
    } else {
        format!(
            "{}: {} of {} objects",
            progress.stage, progress.done, progress.total
        )
    };
    ui.horizontal(|ui| {
        ui.spinner();
        ui.label(format!("Exporting {what}… {stage}"));
    });
    ui.horizontal(|ui| {
        let cancel = egui::Button::new("Cancel");
        // The bar takes the row, but for the button.
        let room_for_cancel = 80.0;
        ui.add(
            egui::ProgressBar::new(progress.fraction())
                .desired_width(ui.available_width() - room_for_cancel)
                .show_percentage(),
        );
        if ui.add_enabled(!job.is_cancelled(), cancel).clicked() {
            job.cancel();
        }
    });
}

/// The format a chosen file's extension asks for, keeping `current` when
/// it fits (PNG at 1× or 2×); `None` for an extension neither format has.
fn format_of(path: &Path, current: Format) -> Option<Format> {
    let extension = path.extension()?.to_string_lossy().to_ascii_lowercase();
    match extension.as_str() {
        "svg" => Some(Format::Svg),
        "png" if current == Format::Svg => Some(Format::Png1x),
        "png" => Some(current),
        _ => None,
    }
}
