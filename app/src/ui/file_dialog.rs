//! Choosing a path: the system's file dialog when there is one, the in-app
//! path field when there is none.
//!
//! The system's dialog ([`Portal`]: `rfd` through the XDG desktop portal on
//! Linux, the platform's own elsewhere) runs as a [`Job`] on the
//! `tabula-dialog` thread, so the window keeps painting while it is open and
//! shows a modal saying where to look. When no dialog can answer (no D-Bus
//! session, no portal, no `zenity`), the app falls back to typing a path, and
//! says so once ([`NO_SYSTEM_DIALOG`]).
//!
//! Which dialogs there are is a [`SystemDialogs`] the app is given: none by
//! default, so tests never open one (they give a scripted one instead);
//! the `tabula` binary gives [`Portal`]. [`FilePicker`] holds it and the
//! question under way; the app asks it for a path ([`FilePicker::ask`]),
//! polls the answer once a frame with the other jobs ([`FilePicker::poll`])
//! and hands the path to whoever asked ([`Purpose`]).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Context, Id, Modal};

use crate::jobs::Job;

/// The name of the thread that waits for the system's dialog.
pub const THREAD_NAME: &str = "tabula-dialog";

/// What the app says, once, when it falls back to the path field.
pub const NO_SYSTEM_DIALOG: &str = "No system file dialog is available; type a path";

/// A dialog that comes back empty sooner than this never showed: nobody
/// closes a file dialog within a quarter of a second of its opening. (`rfd`
/// answers "nothing chosen" both when the person cancels and when no portal,
/// nor its `zenity` fallback, answered.)
pub const NO_ANSWER_WITHIN: Duration = Duration::from_millis(250);

/// What a path is being chosen for: who gets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A `.tabula` file to open.
    Open,
    /// Where to save the board.
    SaveAs,
    /// Where the export dialog writes its picture.
    Export,
    /// The folder a timelapse's frames go to.
    TimelapseFolder,
    /// A picture to put on the board.
    InsertImage,
}

/// Which kind of dialog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Pick an existing file.
    OpenFile,
    /// Name a file to write.
    SaveFile,
    /// Pick a folder.
    Folder,
}

/// What the system's dialog is asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Which kind of dialog.
    pub kind: Kind,
    /// Its title.
    pub title: String,
    /// The folder it starts in, if any.
    pub folder: Option<PathBuf>,
    /// The file name it suggests, for [`Kind::SaveFile`].
    pub file_name: Option<String>,
    /// The files it offers: a name and extensions (without dots).
    pub filter: Option<(String, Vec<String>)>,
}

impl Request {
    /// A dialog of `kind` titled `title`, starting wherever the system likes.
    #[must_use]
    pub fn new(kind: Kind, title: &str) -> Self {
        Self {
            kind,
            title: title.to_owned(),
            folder: None,
            file_name: None,
            filter: None,
        }
    }

    /// Starting in `folder`.
    #[must_use]
    pub fn in_folder(mut self, folder: Option<PathBuf>) -> Self {
        self.folder = folder.filter(|folder| folder.is_dir());
        self
    }

    /// Suggesting `name`.
    #[must_use]
    pub fn named(mut self, name: Option<String>) -> Self {
        self.file_name = name;
        self
    }

    /// Offering the files called `name` with `extension`.
    #[must_use]
    pub fn offering(mut self, name: &str, extension: &str) -> Self {
        self.filter = Some((name.to_owned(), vec![extension.to_owned()]));
        self
    }

    /// Offers only files named with one of `extensions` (without dots), as `name`.
    #[must_use]
    pub fn offering_any(mut self, name: &str, extensions: &[&str]) -> Self {
        self.filter = Some((
            name.to_owned(),
            extensions.iter().map(|e| (*e).to_owned()).collect(),
        ));
        self
    }
}

/// What a system dialog answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// This path.
    Chosen(PathBuf),
    /// The person closed it without choosing.
    Cancelled,
    /// No dialog showed: there is none to show.
    Unavailable,
}

/// The system's file dialogs, as the app sees them.
pub trait SystemDialogs: Send + Sync + fmt::Debug {
    /// Whether a dialog might show, said at once on the UI thread: `false`
    /// when one certainly cannot (no D-Bus session for the portal, say).
    fn available(&self) -> bool;

    /// Shows the dialog `request` asks for and waits for the answer; runs on
    /// the `tabula-dialog` thread.
    fn ask(&self, request: &Request) -> Answer;
}

/// The system's dialogs through `rfd`: on Linux and the BSDs the XDG desktop
/// portal over D-Bus (`libdbus` loaded when asked, so nothing is linked),
/// with `zenity` as `rfd`'s own fallback.
#[derive(Clone, Copy, Debug, Default)]
pub struct Portal;

impl SystemDialogs for Portal {
    fn available(&self) -> bool {
        if cfg!(any(target_os = "windows", target_os = "macos")) {
            return true;
        }
        // libdbus finds the session bus from this variable, or at the
        // standard socket; without either, the portal cannot be reached.
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|address| !address.is_empty())
            || std::env::var_os("XDG_RUNTIME_DIR")
                .is_some_and(|dir| std::path::Path::new(&dir).join("bus").exists())
    }

    fn ask(&self, request: &Request) -> Answer {
        let mut dialog = rfd::AsyncFileDialog::new().set_title(request.title.as_str());
        if let Some(folder) = &request.folder {
            dialog = dialog.set_directory(folder);
        }
        if let Some(name) = &request.file_name {
            dialog = dialog.set_file_name(name.as_str());
        }
        if let Some((name, extensions)) = &request.filter {
            dialog = dialog.add_filter(name.as_str(), extensions);
        }
        let asked = Instant::now();
        let chosen = match request.kind {
            Kind::OpenFile => pollster::block_on(dialog.pick_file()),
            Kind::SaveFile => pollster::block_on(dialog.save_file()),
            Kind::Folder => pollster::block_on(dialog.pick_folder()),
        };
        match chosen {
            Some(handle) => Answer::Chosen(handle.path().to_path_buf()),
            None if asked.elapsed() < NO_ANSWER_WITHIN => Answer::Unavailable,
            None => Answer::Cancelled,
        }
    }
}

/// What became of a request for a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// This path was chosen.
    Chosen(PathBuf),
    /// The person changed their mind.
    Cancelled,
    /// No system dialog: the path is to be typed, with this note to show
    /// beside the field (the first time only).
    TypeIt(Option<&'static str>),
}

/// A request's outcome, and who asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picked {
    /// Who asked.
    pub purpose: Purpose,
    /// What became of it.
    pub outcome: Outcome,
}

/// The system's dialogs, if any, and the question under way.
#[derive(Debug, Default)]
pub struct FilePicker {
    /// The dialogs to use; `None` for the path field alone (the default, and
    /// for the rest of the run once none answered).
    dialogs: Option<Arc<dyn SystemDialogs>>,
    /// The question a system dialog is showing, and who asked it.
    asking: Option<(Purpose, Job<Answer>)>,
    /// Whether [`NO_SYSTEM_DIALOG`] has been said: once is enough.
    said: bool,
}

impl FilePicker {
    /// A picker using `dialogs`.
    #[must_use]
    pub fn with_dialogs(dialogs: Arc<dyn SystemDialogs>) -> Self {
        Self {
            dialogs: Some(dialogs),
            ..Self::default()
        }
    }

    /// Whether system dialogs are offered (a "Choose…" button beside a path
    /// field is worth showing): there are some, and they might show.
    #[must_use]
    pub fn offers_dialogs(&self) -> bool {
        self.dialogs
            .as_ref()
            .is_some_and(|dialogs| dialogs.available())
    }

    /// Whether a system dialog is showing (the modal that says so takes the
    /// keyboard and covers the canvas).
    #[must_use]
    pub fn is_asking(&self) -> bool {
        self.asking.is_some()
    }

    /// Asks for a path for `purpose` with `request`. With a system dialog it
    /// shows on the `tabula-dialog` thread, which calls `wake` once answered,
    /// and the outcome comes from [`Self::poll`] (`None` now); without one,
    /// the outcome is now: type it. A question already under way is given up.
    pub fn ask(
        &mut self,
        purpose: Purpose,
        request: Request,
        wake: impl Fn() + Send + 'static,
    ) -> Option<Picked> {
        self.asking = None;
        let Some(dialogs) = self.dialogs.clone() else {
            return Some(Self::type_it(purpose));
        };
        if !dialogs.available() {
            return Some(self.unavailable(purpose));
        }
        let asked = Job::spawn(THREAD_NAME, wake, move |_| dialogs.ask(&request));
        match asked {
            Ok(job) => {
                self.asking = Some((purpose, job));
                None
            }
            Err(error) => {
                tracing::warn!(%error, "cannot wait for the system's file dialog");
                Some(Self::type_it(purpose))
            }
        }
    }

    /// Once a frame: the system dialog's answer, once it has come.
    pub fn poll(&mut self) -> Option<Picked> {
        let (purpose, job) = self.asking.as_mut()?;
        let purpose = *purpose;
        let answer = job.poll()?;
        self.asking = None;
        Some(match answer {
            Ok(Answer::Chosen(path)) => Picked {
                purpose,
                outcome: Outcome::Chosen(path),
            },
            Ok(Answer::Cancelled) => Picked {
                purpose,
                outcome: Outcome::Cancelled,
            },
            Ok(Answer::Unavailable) => self.unavailable(purpose),
            Err(lost) => {
                tracing::warn!(%lost, "the system's file dialog did not answer");
                self.unavailable(purpose)
            }
        })
    }

    /// The modal shown while the system's dialog is open: where to look, and
    /// a way to type the path instead (the dialog's answer is then ignored).
    pub fn waiting_ui(&mut self, ctx: &Context) -> Option<Picked> {
        let (purpose, _) = self.asking.as_ref()?;
        let purpose = *purpose;
        let mut instead = false;
        Modal::new(Id::unique("tabula-waiting-for-file-dialog")).show(ctx, |ui| {
            ui.set_width(360.0);
            ui.heading("Choose in the system's file dialog");
            ui.add_space(4.0);
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("The file dialog is open in a window of its own.");
            });
            ui.add_space(8.0);
            instead = ui.button("Type a path instead").clicked();
        });
        if !instead {
            return None;
        }
        tracing::info!("typing a path instead of waiting for the system's file dialog");
        self.asking = None;
        Some(Self::type_it(purpose))
    }

    /// No system dialog answered: the path field from now on, with
    /// [`NO_SYSTEM_DIALOG`] to show beside it this once.
    fn unavailable(&mut self, purpose: Purpose) -> Picked {
        self.dialogs = None;
        let note = (!self.said).then_some(NO_SYSTEM_DIALOG);
        if note.is_some() {
            tracing::info!("no system file dialog is available; paths are typed");
            self.said = true;
        }
        Picked {
            purpose,
            outcome: Outcome::TypeIt(note),
        }
    }

    /// The path field, with nothing to say.
    fn type_it(purpose: Purpose) -> Picked {
        Picked {
            purpose,
            outcome: Outcome::TypeIt(None),
        }
    }
}
