//! Paths chosen in the system's file dialog, or typed when there is none.
//! The system's dialogs are scripted here ([`Scripted`]): no test opens a
//! real one, and an app given none (every other test's) types its paths.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use tabula_app::app::TabulaApp;
use tabula_app::files::opening::load_session;
use tabula_app::files::saving::save_session;
use tabula_app::session::Session;
use tabula_app::ui::file_dialog::{Answer, Kind, NO_SYSTEM_DIALOG, Request, SystemDialogs};
use tabula_shared::{Op, OpKind};

use crate::support::{app, eventually, identity, window};

/// System dialogs that answer what the test says, when it says, and note
/// what they were asked and on which thread.
#[derive(Debug)]
struct Scripted {
    /// What [`SystemDialogs::available`] says.
    available: bool,
    /// The answers, one per dialog, each given when the test sends it.
    answers: Mutex<Receiver<Answer>>,
    /// What each dialog was asked, and the name of the thread that asked.
    asked: Mutex<Vec<(Request, Option<String>)>>,
    /// How many dialogs have answered.
    answered: AtomicUsize,
}

impl SystemDialogs for Scripted {
    fn available(&self) -> bool {
        self.available
    }

    fn ask(&self, request: &Request) -> Answer {
        let thread = std::thread::current().name().map(str::to_owned);
        self.asked
            .lock()
            .expect("the test holds no lock while it panics")
            .push((request.clone(), thread));
        let answer = self
            .answers
            .lock()
            .expect("one dialog at a time")
            .recv()
            .unwrap_or(Answer::Cancelled);
        self.answered.fetch_add(1, Ordering::SeqCst);
        answer
    }
}

/// A window whose system dialogs are scripted: the window, the dialogs (for
/// what they were asked), and where their answers go.
fn scripted(available: bool) -> (Harness<'static, TabulaApp>, Arc<Scripted>, Sender<Answer>) {
    let (answer, answers) = mpsc::channel();
    let dialogs = Arc::new(Scripted {
        available,
        answers: Mutex::new(answers),
        asked: Mutex::new(Vec::new()),
        answered: AtomicUsize::new(0),
    });
    let mut app = app(Session::offline(identity("Ann")));
    app.set_file_dialogs(dialogs.clone());
    (window(app), dialogs, answer)
}

/// A session file of a few ops in `dir`.
fn a_file(dir: &Path) -> (PathBuf, Vec<tabula_shared::SequencedOp>) {
    let path = dir.join("notes.tabula");
    let mut session = Session::offline(identity("Cid"));
    for _ in 0..3 {
        session.perform(vec![Op::new(OpKind::Clear)]);
    }
    save_session(&path, "local", &session.ops_to_save()).expect("saved");
    (path.clone(), load_session(&path).expect("reads"))
}

/// Steps until `done`, which the window must reach.
fn until(harness: &mut Harness<'static, TabulaApp>, what: &str, done: impl Fn(&TabulaApp) -> bool) {
    eventually(what, || {
        harness.step();
        done(harness.state()).then_some(())
    });
    harness.run();
}

#[test]
fn a_file_chosen_in_the_system_dialog_opens_while_the_window_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let (path, ops) = a_file(dir.path());
    let (mut harness, dialogs, answer) = scripted(true);

    harness.key_press_modifiers(Modifiers::COMMAND, Key::O);
    harness.step();
    // The dialog is open on its thread; the window paints and says so.
    harness.get_by_label("Choose in the system's file dialog");
    harness.get_by_label("Type a path instead");
    assert!(harness.state().is_modal_open(), "it covers the canvas");
    assert!(
        harness.query_by_label("Open a session").is_none(),
        "no path field"
    );
    eventually("the dialog is asked", || {
        (!dialogs.asked.lock().unwrap().is_empty()).then_some(())
    });
    let (request, thread) = dialogs.asked.lock().unwrap()[0].clone();
    assert_eq!(request.kind, Kind::OpenFile);
    assert_eq!(request.title, "Open a session");
    assert_eq!(
        request.filter,
        Some(("Tabula sessions".to_owned(), vec!["tabula".to_owned()]))
    );
    assert_eq!(
        thread.as_deref(),
        Some("tabula-dialog"),
        "not the UI thread"
    );

    answer.send(Answer::Chosen(path.clone())).unwrap();
    until(&mut harness, "the file is open", |app| {
        app.documents().current() == Some(path.as_path())
    });
    assert_eq!(harness.state().session().log(), ops.as_slice());
    assert!(
        harness
            .query_by_label("Choose in the system's file dialog")
            .is_none()
    );
}

#[test]
fn a_board_saved_where_the_system_dialog_says_gets_its_extension() {
    let dir = tempfile::tempdir().unwrap();
    let (mut harness, dialogs, answer) = scripted(true);
    harness.key_press_modifiers(Modifiers::COMMAND, Key::S);
    harness.step();
    let chosen = dir.path().join("sketch");
    answer.send(Answer::Chosen(chosen)).unwrap();
    let saved = dir.path().join("sketch.tabula");
    until(&mut harness, "the board is saved", |app| {
        app.documents().current() == Some(saved.as_path())
    });
    assert!(saved.exists());
    let (request, _) = dialogs.asked.lock().unwrap()[0].clone();
    assert_eq!(
        (request.kind, request.file_name.as_deref()),
        (Kind::SaveFile, Some("board.tabula"))
    );

    // Cancelled: nothing happens, and no path field instead.
    harness.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::S);
    harness.step();
    answer.send(Answer::Cancelled).unwrap();
    until(&mut harness, "the dialog has answered", |app| {
        !app.is_modal_open()
    });
    assert!(harness.query_by_label("Save the board as").is_none());
}

#[test]
fn without_a_system_dialog_the_path_is_typed_and_that_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let (path, ops) = a_file(dir.path());
    // No D-Bus session, say: the app knows before asking.
    let (mut harness, dialogs, _answer) = scripted(false);

    harness.key_press_modifiers(Modifiers::COMMAND, Key::O);
    harness.run();
    harness.get_by_label("Open a session");
    harness.get_by_label(NO_SYSTEM_DIALOG);
    harness.event(egui::Event::Text(path.display().to_string()));
    harness.run();
    harness.key_press(Key::Enter);
    until(&mut harness, "the file is open", |app| {
        app.documents().current() == Some(path.as_path())
    });
    assert_eq!(harness.state().session().log(), ops.as_slice());

    // Said once: the next time, the field alone.
    harness.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::S);
    harness.run();
    harness.get_by_label("Save the board as");
    assert!(harness.query_by_label(NO_SYSTEM_DIALOG).is_none());
    assert!(dialogs.asked.lock().unwrap().is_empty(), "never asked");
    harness.key_press(Key::Escape);
    harness.run();

    // Nor is a "Choose…" offered beside the export's path any more.
    harness.get_by_label("Export…").click();
    harness.run();
    assert!(harness.query_by_label("Choose…").is_none());
}

#[test]
fn a_system_dialog_that_never_showed_falls_back_to_the_field_for_good() {
    let (mut harness, dialogs, answer) = scripted(true);
    harness.key_press_modifiers(Modifiers::COMMAND, Key::O);
    harness.step();
    // rfd came back empty at once: no portal, no zenity.
    answer.send(Answer::Unavailable).unwrap();
    eventually("the path field shows", || {
        harness.step();
        harness.query_by_label("Open a session").map(|_| ())
    });
    harness.get_by_label(NO_SYSTEM_DIALOG);
    harness.key_press(Key::Escape);
    harness.run();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::O);
    harness.run();
    harness.get_by_label("Open a session");
    assert!(
        harness.query_by_label(NO_SYSTEM_DIALOG).is_none(),
        "said once"
    );
    assert_eq!(dialogs.asked.lock().unwrap().len(), 1, "not asked again");
}

#[test]
fn the_export_and_timelapse_paths_can_be_chosen_in_the_system_dialog() {
    let dir = tempfile::tempdir().unwrap();
    let (mut harness, dialogs, answer) = scripted(true);
    harness.get_by_label("Export…").click();
    harness.run();
    harness.get_by_label("SVG").click();
    harness.run();
    harness.get_by_label("Choose…").click();
    harness.step();
    let chosen = dir.path().join("picture.svg");
    answer.send(Answer::Chosen(chosen.clone())).unwrap();
    eventually("the path is in the field", || {
        harness.step();
        harness
            .query_by_label_contains(&format!("Writes {}", chosen.display()))
            .map(|_| ())
    });
    let (request, _) = dialogs.asked.lock().unwrap()[0].clone();
    assert_eq!(request.kind, Kind::SaveFile);
    assert_eq!(request.file_name.as_deref(), Some("tabula-board.svg"));
    harness.get_by_role_and_label(Role::Button, "Close").click();
    harness.run();

    // And the timelapse's folder, in replay mode (an empty board replays).
    harness.state_mut().start_replay();
    harness.run();
    harness.get_by_label("Choose…").click();
    harness.step();
    let folder = dir.path().join("frames");
    answer.send(Answer::Chosen(folder.clone())).unwrap();
    eventually("the folder is in the field", || {
        harness.step();
        harness
            .query_all_by_value(&folder.display().to_string())
            .next()
            .map(|_| ())
    });
    assert_eq!(dialogs.asked.lock().unwrap()[1].0.kind, Kind::Folder);
}

#[test]
fn typing_a_path_instead_of_waiting_for_the_dialog_ignores_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = a_file(dir.path());
    let (mut harness, dialogs, answer) = scripted(true);
    harness.key_press_modifiers(Modifiers::COMMAND, Key::O);
    harness.step();
    harness.get_by_label("Type a path instead").click();
    harness.run();
    harness.get_by_label("Open a session");
    assert!(
        harness.query_by_label(NO_SYSTEM_DIALOG).is_none(),
        "there is a dialog; it was passed over"
    );
    harness.key_press(Key::Escape);
    harness.run();
    // The dialog's late answer goes nowhere.
    answer.send(Answer::Chosen(path)).unwrap();
    eventually("the dialog has answered", || {
        (dialogs.answered.load(Ordering::SeqCst) == 1).then_some(())
    });
    for _ in 0..5 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        harness.step();
    }
    assert_eq!(harness.state().documents().current(), None);
    assert!(!harness.state().is_modal_open());
}
