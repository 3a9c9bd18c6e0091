//! The File menu, top left: Open, Save, Save as, Export, Replay, Host on this
//! network and the recent files, with ctrl+O, ctrl+S and ctrl+shift+S; the path dialog (the
//! in-app field, when the system has no file dialog: the app asks
//! [`crate::ui::file_dialog`] first, and comes here when it has none);
//! "Saving NAME… n of m ops" beside the menu while a save runs and the board
//! stays in use; the "Opening…" modal while a file's board is built; and the
//! error message.
//!
//! It shows what [`Documents`] holds and asks it for things; it polls nothing
//! (the app polls the documents once a frame, before the panels).

use std::path::{Path, PathBuf};

use egui::{Align2, Context, Key, Modifiers, vec2};
use tabula_shared::session_file::EXTENSION;

use super::documents::Documents;
use crate::session::Session;
use crate::ui::file_dialog::{Kind, Purpose, Request};
use crate::ui::theme::{self, EDGE_GAP};

/// What the File menu asks the app to do beyond files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MenuAction {
    /// Replay the board's history.
    Replay,
    /// Show the export dialog.
    Export,
    /// Ask where: a file to open ([`Purpose::Open`]) or to save the board to
    /// ([`Purpose::SaveAs`]); the system's dialog if there is one, else
    /// [`FileMenu::type_path`].
    Choose(Purpose),
    /// Host the board on this network.
    Host,
}

/// The path dialog while it shows.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PathDialog {
    /// Open or save as.
    purpose: Purpose,
    /// The path typed so far.
    text: String,
    /// Set when the dialog opens: the field takes the keyboard once, so that
    /// Enter can still leave it (and confirm).
    focus: bool,
    /// A word above the field (that there is no system file dialog).
    note: Option<&'static str>,
}

/// The File menu's own state: the path dialog, while it shows.
#[derive(Debug, Default)]
pub struct FileMenu {
    /// The path dialog, while it shows.
    dialog: Option<PathDialog>,
    /// A picture's path typed for File → Insert image…, until the app takes it.
    image_path: Option<PathBuf>,
}

impl FileMenu {
    /// Whether the path dialog is showing (it takes the keyboard, and the
    /// canvas under it takes no input).
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.dialog.is_some()
    }

    /// Shows the path dialog for `purpose` ([`Purpose::Open`] or
    /// [`Purpose::SaveAs`]), with `note` above the field if there is one;
    /// saving as starts from `current`, the board's file.
    pub fn type_path(
        &mut self,
        purpose: Purpose,
        current: Option<&Path>,
        note: Option<&'static str>,
    ) {
        let text = match (current, purpose) {
            (Some(path), Purpose::SaveAs) => path.display().to_string(),
            _ => String::new(),
        };
        self.dialog = Some(PathDialog {
            purpose,
            text,
            focus: true,
            note,
        });
    }

    /// What the system's file dialog is asked for `purpose`: a session to
    /// open, or where to save the board (as the board's file, by default),
    /// starting in the board's file's folder.
    #[must_use]
    pub fn request(purpose: Purpose, current: Option<&Path>) -> Request {
        let folder = current.and_then(Path::parent).map(Path::to_path_buf);
        let request = match purpose {
            Purpose::SaveAs => Request::new(Kind::SaveFile, "Save the board as").named(Some(
                current.map_or_else(|| format!("board.{EXTENSION}"), file_name),
            )),
            _ => Request::new(Kind::OpenFile, "Open a session"),
        };
        request
            .in_folder(folder)
            .offering("Tabula sessions", EXTENSION)
    }

    /// What the system's file dialog is asked for File → Insert image…: a
    /// picture.
    #[must_use]
    pub fn image_request() -> Request {
        Request::new(Kind::OpenFile, "Insert an image")
            .offering_any("Images", &["png", "jpg", "jpeg", "gif", "webp"])
    }

    /// The picture's path typed in the path dialog for File → Insert
    /// image…, once: the app inserts it.
    pub fn take_image_path(&mut self) -> Option<PathBuf> {
        self.image_path.take()
    }

    /// `path` was chosen for `purpose`, in the system's dialog or the path
    /// dialog: it opens (repainting `ctx` when it is ready) or the board is
    /// saved there (`.tabula` added if it has no extension).
    pub fn path_chosen(
        purpose: Purpose,
        path: &Path,
        docs: &mut Documents,
        session: &Session,
        ctx: &Context,
    ) {
        match purpose {
            Purpose::SaveAs => {
                // A failure is shown in the error modal.
                let _ = docs.save_as(session, &with_extension(path));
            }
            _ => docs.start_open(path, waker(ctx)),
        }
    }

    /// Saves to the board's file, or asks where.
    fn save(docs: &mut Documents, session: &Session) -> Option<MenuAction> {
        (!docs.save(session)).then_some(MenuAction::Choose(Purpose::SaveAs))
    }

    /// The File menu (top left), its shortcuts (when `keyboard`), the path
    /// dialog, the saving label, and the opening and error modals. Returns
    /// what else the menu asked for.
    pub fn file_menu_ui(
        &mut self,
        ctx: &Context,
        docs: &mut Documents,
        session: &Session,
        keyboard: bool,
    ) -> Option<MenuAction> {
        let mut action = None;
        if keyboard && !self.is_open() && !docs.is_modal_open() {
            action = Self::shortcuts(ctx, docs, session);
        }
        egui::Area::new(egui::Id::unique(theme::FILE_MENU_AREA))
            .anchor(Align2::LEFT_TOP, vec2(EDGE_GAP, EDGE_GAP))
            .show(ctx, |ui| {
                theme::floating_panel(ui).show(ui, |ui| {
                    ui.horizontal(|ui| {
                        ui.menu_button("File", |ui| {
                            if ui.button("Open…  (Ctrl O)").clicked() {
                                action = Some(MenuAction::Choose(Purpose::Open));
                            }
                            // The whole history is needed to save or replay it.
                            let arriving = session.history_progress().map(|(have, total)| {
                                format!(
                                    "The board's history is still arriving: {have} of {total} ops"
                                )
                            });
                            let complete = arriving.is_none();
                            let waiting = |response: egui::Response| match &arriving {
                                Some(text) => response.on_disabled_hover_text(text),
                                None => response,
                            };
                            let save =
                                ui.add_enabled(complete, egui::Button::new("Save  (Ctrl S)"));
                            if waiting(save).clicked() {
                                action = Self::save(docs, session);
                            }
                            let save_as = ui.add_enabled(
                                complete,
                                egui::Button::new("Save as…  (Ctrl Shift S)"),
                            );
                            if waiting(save_as).clicked() {
                                action = Some(MenuAction::Choose(Purpose::SaveAs));
                            }
                            ui.separator();
                            if ui.button("Insert image…").clicked() {
                                action = Some(MenuAction::Choose(Purpose::InsertImage));
                            }
                            if ui.button("Export…").clicked() {
                                action = Some(MenuAction::Export);
                            }
                            let replay = ui.add_enabled(complete, egui::Button::new("Replay…"));
                            if waiting(replay).clicked() {
                                action = Some(MenuAction::Replay);
                            }
                            // The room is seeded with the whole history.
                            let host = ui
                                .add_enabled(complete, egui::Button::new("Host on this network…"));
                            if waiting(host).clicked() {
                                action = Some(MenuAction::Host);
                            }
                            ui.separator();
                            ui.label("Recent files");
                            let recent = docs.recent().paths().to_vec();
                            if recent.is_empty() {
                                ui.weak("none yet");
                            }
                            for path in recent {
                                let button = ui
                                    .button(file_name(&path))
                                    .on_hover_text(path.display().to_string());
                                if button.clicked() {
                                    docs.start_open(&path, waker(ctx));
                                }
                            }
                        });
                        saving_ui(ui, docs);
                    });
                });
            });
        self.path_dialog_ui(ctx, docs, session);
        opening_ui(ctx, docs);
        error_ui(ctx, docs);
        action
    }

    /// Ctrl+S, ctrl+shift+S and ctrl+O.
    fn shortcuts(ctx: &Context, docs: &mut Documents, session: &Session) -> Option<MenuAction> {
        let (save_as, save, open) = ctx.input_mut(|i| {
            (
                i.consume_key(Modifiers::COMMAND | Modifiers::SHIFT, Key::S),
                i.consume_key(Modifiers::COMMAND, Key::S),
                i.consume_key(Modifiers::COMMAND, Key::O),
            )
        });
        if save_as {
            Some(MenuAction::Choose(Purpose::SaveAs))
        } else if save {
            Self::save(docs, session)
        } else if open {
            Some(MenuAction::Choose(Purpose::Open))
        } else {
            None
        }
    }

    /// The modal that asks for a path to open or save to.
    fn path_dialog_ui(&mut self, ctx: &Context, docs: &mut Documents, session: &Session) {
        let Some(dialog) = &mut self.dialog else {
            return;
        };
        let purpose = dialog.purpose;
        let mut confirmed = false;
        let mut cancelled = false;
        let modal = egui::Modal::new(egui::Id::unique("tabula-path-dialog")).show(ctx, |ui| {
            ui.set_width(420.0);
            ui.heading(match purpose {
                Purpose::SaveAs => "Save the board as",
                Purpose::InsertImage => "Insert an image",
                _ => "Open a session",
            });
            if let Some(note) = dialog.note {
                ui.label(egui::RichText::new(note).italics());
                ui.add_space(4.0);
            }
            ui.label(if purpose == Purpose::InsertImage {
                "The path of a PNG, JPEG, GIF or WebP file:"
            } else {
                "The path of a .tabula file:"
            });
            let field = ui.add(
                egui::TextEdit::singleline(&mut dialog.text)
                    .hint_text("~/boards/meeting.tabula")
                    .desired_width(f32::INFINITY),
            );
            if std::mem::take(&mut dialog.focus) {
                field.request_focus();
            }
            if field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) {
                confirmed = true;
            }
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                if ui.button("Cancel").clicked() {
                    cancelled = true;
                }
                let label = match purpose {
                    Purpose::SaveAs => "Save",
                    Purpose::InsertImage => "Insert",
                    _ => "Open",
                };
                if ui.button(label).clicked() {
                    confirmed = true;
                }
            });
        });
        if cancelled || modal.should_close() {
            self.dialog = None;
            return;
        }
        if confirmed && !dialog.text.trim().is_empty() {
            let path = expand_home(dialog.text.trim());
            self.dialog = None;
            if purpose == Purpose::InsertImage {
                self.image_path = Some(path);
            } else {
                Self::path_chosen(purpose, &path, docs, session, ctx);
            }
        }
    }
}

/// "Saving NAME… n of m ops" with a spinner beside the File menu while a
/// save runs (and how many wait after it); the board stays in use.
fn saving_ui(ui: &mut egui::Ui, docs: &Documents) {
    let Some(saving) = docs.saving() else {
        return;
    };
    let path = saving.path();
    ui.spinner();
    let text = saving_text(docs).unwrap_or_default();
    // The spinner repaints the window, so the count moves.
    ui.add(egui::Label::new(text).extend())
        .on_hover_text(path.display().to_string());
}

/// "Saving NAME… n of m ops (then k more)" while a save runs (the ops once
/// the thread has counted them); `None` while none does.
#[must_use]
pub fn saving_text(docs: &Documents) -> Option<String> {
    let saving = docs.saving()?;
    let progress = saving.progress();
    let count = if progress.total > 0 {
        format!(
            " {} of {} ops",
            thousands(progress.done),
            thousands(progress.total)
        )
    } else {
        String::new()
    };
    let then = match docs.queued_saves().len() {
        0 => String::new(),
        n => format!(" (then {n} more)"),
    };
    Some(format!("Saving {}…{count}{then}", file_name(saving.path())))
}

/// "Opening NAME… (n ops)" with a spinner, while a file is read and built;
/// it blocks the canvas like the other modals. Cancel keeps the board.
fn opening_ui(ctx: &Context, docs: &mut Documents) {
    let Some(opening) = docs.opening() else {
        return;
    };
    let name = file_name(opening.path());
    let progress = opening.progress();
    let mut cancel = false;
    egui::Modal::new(egui::Id::unique("tabula-opening")).show(ctx, |ui| {
        ui.set_width(420.0);
        ui.heading(if progress.total == 0 {
            format!("Opening {name}…")
        } else {
            format!("Opening {name}… ({} ops)", thousands(progress.total))
        });
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            ui.spinner();
            let stage = if progress.stage.is_empty() {
                super::opening::READING_THE_FILE.to_owned()
            } else if progress.total == 0 {
                progress.stage.into_owned()
            } else {
                format!(
                    "{}: {}",
                    progress.stage,
                    percent(progress.done, progress.total)
                )
            };
            ui.label(stage);
        });
        ui.add_space(8.0);
        if ui.button("Cancel").clicked() {
            cancel = true;
        }
    });
    if cancel {
        docs.cancel_open();
    }
}

/// The error message, until dismissed.
fn error_ui(ctx: &Context, docs: &mut Documents) {
    let Some(message) = docs.error() else {
        return;
    };
    let mut close = false;
    let modal = egui::Modal::new(egui::Id::unique("tabula-file-error")).show(ctx, |ui| {
        ui.set_width(420.0);
        let (heading, detail) = message.split_once("\n\n").unwrap_or((message, ""));
        ui.heading(heading);
        ui.add_space(4.0);
        ui.label(detail);
        ui.add_space(8.0);
        if ui.button("OK").clicked() {
            close = true;
        }
    });
    if close || modal.should_close() {
        docs.dismiss_error();
    }
}

/// A wake for the opening thread: repaints the window, so the next frame
/// polls the result.
fn waker(ctx: &Context) -> impl Fn() + Send + 'static {
    let ctx = ctx.clone();
    move || ctx.request_repaint()
}

/// The file name of `path`, or all of it if it has none.
#[must_use]
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            text.push(',');
        }
        text.push(c);
    }
    text
}

/// `part` of `whole` as a whole percentage, `"41 %"`.
fn percent(part: u64, whole: u64) -> String {
    format!("{} %", part.saturating_mul(100) / whole.max(1))
}

/// `~/x` as a path under the home folder.
fn expand_home(text: &str) -> PathBuf {
    match (text.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(text),
    }
}

/// `path` with the `.tabula` extension if it has none.
fn with_extension(path: &Path) -> PathBuf {
    if path.extension().is_some() {
        path.to_path_buf()
    } else {
        path.with_extension(EXTENSION)
    }
}
