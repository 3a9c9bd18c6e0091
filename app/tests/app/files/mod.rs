//! Saving and opening `.tabula` files through the app's `Session` and
//! `Documents`: real files in temporary folders. Here: saving, opening and
//! refusing files, in the background and through the window; in
//! [`snapshots`], files with board snapshots, and saves that run while the
//! board is drawn on.

mod hostile;
mod snapshots;

use std::fs;
use std::path::Path;

use egui_kittest::Harness;
use tabula_app::app::TabulaApp;
use tabula_app::files::documents::Documents;
use tabula_app::files::opening::load_session;
use tabula_app::files::recent::RecentFiles;
use tabula_app::files::saving::save_session;
use tabula_app::session::Session;
use tabula_shared::object::{Fill, ObjectData, ObjectKind, Property};
use tabula_shared::session_file::FORMAT_VERSION;
use tabula_shared::{Color, ObjectId, Op, OpKind, Point, StrokeId, StrokeStyle};

use crate::support::{self, app, documents, eventually, identity, window, write_lock};

/// A stroke, a rectangle restyled, and an undone delete.
fn draw_things(session: &mut Session) -> (StrokeId, ObjectId) {
    let stroke = StrokeId::random();
    session.perform(vec![Op::new(OpKind::StrokeBegin {
        stroke,
        style: StrokeStyle {
            color: Color::rgb(200, 0, 0),
            width: 3.0,
        },
        start: Point::new(0.0, 0.0),
    })]);
    for i in 1..5 {
        session.perform(vec![Op::new(OpKind::StrokeAppend {
            stroke,
            points: vec![Point::new(i as f32 * 10.0, 5.0)],
        })]);
    }
    session.perform(vec![Op::new(OpKind::StrokeEnd { stroke })]);
    let rect = ObjectId::random();
    session.perform(vec![Op::new(OpKind::Create {
        object: rect,
        data: ObjectData {
            kind: ObjectKind::Rectangle,
            points: vec![Point::new(50.0, 50.0), Point::new(120.0, 90.0)],
            color: Color::rgb(0, 0, 0),
            width: 2.0,
            fill: Fill::None,
            text: String::new(),
            font_size: 20.0,
        },
    })]);
    session.perform(vec![Op::new(OpKind::Set {
        object: rect,
        property: Property::Fill(Fill::Solid),
    })]);
    session.perform(vec![Op::new(OpKind::Delete { object: stroke })]);
    session.undo();
    (stroke, rect)
}

/// Polls `docs` until no save is under way or waiting; the outcome of the
/// last save that ended.
fn finish_saves(docs: &mut Documents, session: &Session) -> Result<(), String> {
    let mut last = Ok(());
    eventually("no save is under way", || {
        if let Some(result) = docs.poll_save(session) {
            last = result;
        }
        docs.saving().is_none().then_some(())
    });
    assert!(docs.queued_saves().is_empty(), "a queued save starts");
    last
}

/// Saves `session` to `path` in the background and waits until it is done.
fn save_as_now(docs: &mut Documents, session: &Session, path: &Path) -> Result<(), String> {
    docs.save_as(session, path)?;
    finish_saves(docs, session)
}

/// ctrl+S, waiting until the save is done; a failure is in `docs.error()`.
fn save_now(docs: &mut Documents, session: &Session) {
    docs.save(session);
    let _ = finish_saves(docs, session);
}

#[test]
fn a_local_board_sequences_its_own_ops() {
    let mut session = Session::offline(identity("Ann"));
    draw_things(&mut session);
    assert_eq!(session.board().pending_ops().count(), 0, "nothing waits");
    let log = session.log();
    assert_eq!(log.len() as u64, session.board().last_seq());
    assert!(log.iter().zip(1..).all(|(op, seq)| op.seq == seq));
    assert!(log.iter().all(|op| op.author == session.me().client));
}

#[test]
fn a_saved_board_opens_as_the_same_board_and_saving_again_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("board.tabula");
    let mut ann = Session::offline(identity("Ann"));
    let (stroke, rect) = draw_things(&mut ann);
    let mut docs = documents();
    save_as_now(&mut docs, &ann, &path).unwrap();
    assert_eq!(docs.current(), Some(path.as_path()));

    let mut bea = Session::offline(identity("Bea"));
    let mut bea_docs = documents();
    bea_docs.open(&mut bea, &path).unwrap();
    assert_eq!(bea.board(), ann.board(), "the same board");
    assert_eq!(bea.log(), ann.log(), "the same history");
    assert!(bea.board().object(stroke).is_some(), "the undone delete");
    assert_eq!(
        bea.board().object(rect).unwrap().data.fill,
        Fill::Solid,
        "the restyle"
    );

    // Bea keeps drawing on the opened board; ctrl+S appends to the same file.
    let before = ann.log().len();
    bea.perform(vec![Op::new(OpKind::ToBack { object: rect })]);
    assert_eq!(bea.log().len(), before + 1, "continues the file's sequence");
    save_now(&mut bea_docs, &bea);
    assert!(bea_docs.error().is_none(), "{:?}", bea_docs.error());
    let reopened = load_session(&path).unwrap();
    assert_eq!(reopened.as_slice(), bea.log());
    assert_eq!(reopened[..before], ann.log()[..], "appended, not rewritten");

    // Ann saves her own, different history over it: the file is replaced.
    ann.perform(vec![Op::new(OpKind::Clear)]);
    save_now(&mut docs, &ann);
    assert_eq!(load_session(&path).unwrap().as_slice(), ann.log());
    let mut cleared = Session::offline(identity("Cid"));
    documents().open(&mut cleared, &path).unwrap();
    assert_eq!(cleared.board().object_count(), 0);
    assert!(!dir.path().join("board.tabula.saving").exists());
}

#[test]
fn recent_files_are_kept_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("config").join("recent-files.txt");
    let mut recent = RecentFiles::at(Some(store.clone()));
    for name in ["a", "b", "a", "c"] {
        recent.add(&dir.path().join(format!("{name}.tabula")));
    }
    let names = |recent: &RecentFiles| -> Vec<String> {
        recent
            .paths()
            .iter()
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(names(&recent), ["c", "a", "b"]);
    let again = RecentFiles::at(Some(store));
    assert_eq!(names(&again), ["c", "a", "b"], "read back from the file");
}

/// A saved session, closed, so that its pages are all in the main file.
fn saved(dir: &Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut session = Session::offline(identity("Ann"));
    for _ in 0..300 {
        draw_things(&mut session);
    }
    save_session(&path, "local", &session.ops_to_save()).expect("saved");
    path
}

/// Opens `path` in a session holding a drawing; the error must name the file
/// and say `problem`, and the drawing must stay.
fn refused(path: &Path, problem: &str) {
    let mut session = Session::offline(identity("Dee"));
    draw_things(&mut session);
    let before = session.board().clone();
    let mut docs = documents();
    let message = docs.open(&mut session, path).expect_err("refused");
    let name = path
        .file_name()
        .expect("a name")
        .to_string_lossy()
        .into_owned();
    assert!(message.contains(&name), "{message}");
    assert!(message.contains(problem), "{message}");
    assert_eq!(docs.error(), Some(message.as_str()), "shown in the modal");
    assert_eq!(session.board(), &before, "the board on screen is kept");
    assert_eq!(docs.current(), None);
}

#[test]
fn foreign_damaged_and_newer_files_are_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();

    let text = dir.path().join("notes.tabula");
    fs::write(&text, "not a board\n".repeat(20)).unwrap();
    refused(&text, "not a SQLite database");

    let missing = dir.path().join("missing.tabula");
    refused(&missing, "missing.tabula");

    // SQLite's header keeps user_version at byte 60 and application_id at 68.
    let foreign = saved(dir.path(), "foreign.tabula");
    let mut bytes = fs::read(&foreign).unwrap();
    bytes[68..72].copy_from_slice(&0x1234_5678_u32.to_be_bytes());
    fs::write(&foreign, &bytes).unwrap();
    refused(&foreign, "another kind");

    let newer = saved(dir.path(), "newer.tabula");
    let mut bytes = fs::read(&newer).unwrap();
    bytes[60..64].copy_from_slice(&(FORMAT_VERSION + 1).to_be_bytes());
    fs::write(&newer, &bytes).unwrap();
    refused(&newer, "newer Tabula");

    let truncated = saved(dir.path(), "truncated.tabula");
    let len = fs::metadata(&truncated).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&truncated)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    refused(&truncated, "damaged or truncated");
}

#[test]
fn a_file_that_is_not_a_session_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let precious = dir.path().join("thesis.txt");
    fs::write(&precious, "chapter one\n".repeat(10)).unwrap();
    let mut session = Session::offline(identity("Eve"));
    draw_things(&mut session);
    let mut docs = documents();
    let message = save_as_now(&mut docs, &session, &precious).unwrap_err();
    assert!(message.contains("thesis.txt"), "{message}");
    assert_eq!(
        fs::read_to_string(&precious).unwrap(),
        "chapter one\n".repeat(10)
    );
}

#[test]
fn ctrl_s_asks_where_and_ctrl_o_opens_what_is_typed() {
    use egui::{Key, Modifiers};
    use egui_kittest::kittest::Queryable as _;

    let dir = tempfile::tempdir().unwrap();
    let mut ann = Session::offline(identity("Ann"));
    draw_things(&mut ann);
    let board = ann.board().clone();
    let mut harness = window(app(ann));
    harness.key_press_modifiers(Modifiers::COMMAND, Key::S);
    harness.run();
    harness.get_by_label("Save the board as");
    // No extension typed: .tabula is added.
    let path = dir.path().join("sketch");
    harness.event(egui::Event::Text(path.display().to_string()));
    harness.run();
    harness.get_by_label("Save").click();
    until_saved(&mut harness);
    let saved = dir.path().join("sketch.tabula");
    assert_eq!(harness.state().documents().current(), Some(saved.as_path()));
    assert_eq!(
        load_session(&saved).unwrap().as_slice(),
        harness.state().session().log()
    );

    let mut harness = window(app(Session::offline(identity("Bea"))));
    harness.key_press_modifiers(Modifiers::COMMAND, Key::O);
    harness.run();
    harness.get_by_label("Open a session");
    harness.event(egui::Event::Text(saved.display().to_string()));
    harness.run();
    harness.key_press(Key::Enter);
    until_opened(&mut harness);
    assert_eq!(harness.state().session().board(), &board);
    assert_eq!(
        harness.state().tools().tool,
        tabula_app::canvas::tools::Tool::Pen,
        "ctrl+O is not the ellipse's O"
    );

    // A file that is not a session: the message names it, in the window.
    let text = dir.path().join("notes.txt");
    fs::write(&text, "hello\n".repeat(50)).unwrap();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::O);
    harness.run();
    harness.event(egui::Event::Text(text.display().to_string()));
    harness.run();
    harness.key_press(Key::Enter);
    until_opened(&mut harness);
    harness.get_by_label(&format!("Cannot open {}", text.display()));
    harness.get_by_label_contains("not a SQLite database");
    harness.get_by_label("OK").click();
    harness.run();
    assert!(harness.state().documents().error().is_none());
    assert_eq!(harness.state().session().board(), &board, "the board stays");
}

/// Steps the window until the file being opened is on screen (or refused),
/// then lets it settle.
fn until_opened(harness: &mut Harness<'static, TabulaApp>) {
    eventually("the file is opened", || {
        harness.step();
        harness
            .state()
            .documents()
            .opening()
            .is_none()
            .then_some(())
    });
    harness.run();
}

/// Steps the window until no save is under way, then lets it settle.
fn until_saved(harness: &mut Harness<'static, TabulaApp>) {
    eventually("the file is saved", || {
        harness.step();
        harness.state().documents().saving().is_none().then_some(())
    });
    harness.run();
}

/// Polls `docs` until the file it is opening is on screen in `session` or
/// refused.
fn wait_for_open(docs: &mut Documents, session: &mut Session) -> Result<(), String> {
    eventually("the file is opened", || docs.poll_open(session))
}

#[test]
fn a_file_is_read_and_built_on_its_own_thread_and_shown_once_polled() {
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().unwrap();
    let path = saved(dir.path(), "big.tabula");
    let mut expected = Session::offline(identity("Ref"));
    expected.load(load_session(&path).unwrap());
    assert!(expected.board().object_count() > 0);

    let mut session = Session::offline(identity("Dee"));
    draw_things(&mut session);
    let before = session.board().clone();
    let mut docs = documents();
    let woken_on = Arc::new(Mutex::new(Vec::new()));
    let wake = {
        let woken_on = Arc::clone(&woken_on);
        move || {
            let name = std::thread::current().name().map(str::to_owned);
            woken_on.lock().unwrap().push(name);
        }
    };
    docs.start_open(&path, wake);
    // Nothing changes on screen until the UI polls, however fast the thread.
    assert_eq!(session.board(), &before, "the board waits for the poll");
    assert_eq!(docs.current(), None);
    assert!(docs.is_modal_open(), "the opening modal blocks the canvas");
    assert_eq!(
        docs.opening()
            .map(tabula_app::files::opening::Opening::path),
        Some(path.as_path())
    );

    wait_for_open(&mut docs, &mut session).expect("opens");
    // The thread wakes the UI as it goes and once it has the board, then
    // ends and lets its wake go.
    eventually("the opening thread has ended", || {
        (Arc::strong_count(&woken_on) == 1).then_some(())
    });
    let woken_on = woken_on.lock().unwrap();
    assert!(!woken_on.is_empty(), "the UI is woken");
    assert!(
        woken_on
            .iter()
            .all(|name| name.as_deref() == Some(tabula_app::files::opening::THREAD_NAME)),
        "the UI is woken from the opening thread: {woken_on:?}"
    );
    assert_eq!(session.board(), expected.board(), "the file's board");
    assert_eq!(session.log(), expected.log(), "the file's history");
    assert!(!session.can_undo(), "undo starts afresh");
    assert_eq!(docs.current(), Some(path.as_path()));
    assert_eq!(
        docs.recent().paths().first(),
        Some(&fs::canonicalize(&path).unwrap())
    );
    assert!(!docs.is_modal_open());
    assert!(docs.poll_open(&mut session).is_none(), "told once");

    // Drawing on the opened board continues the file's sequence.
    let head = session.log().len() as u64;
    session.perform(vec![Op::new(OpKind::Clear)]);
    assert_eq!(session.log().last().map(|op| op.seq), Some(head + 1));
}

#[test]
fn a_file_refused_in_the_background_is_named_and_the_board_stays() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.tabula");
    fs::write(&text, "not a board\n".repeat(20)).unwrap();
    let missing = dir.path().join("missing.tabula");
    for (path, problem) in [
        (&text, "not a SQLite database"),
        (&missing, "missing.tabula"),
    ] {
        let mut session = Session::offline(identity("Dee"));
        draw_things(&mut session);
        let before = session.board().clone();
        let mut docs = documents();
        docs.start_open(path, || {});
        let message = wait_for_open(&mut docs, &mut session).expect_err("refused");
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            message.contains(&format!("Cannot open {}", path.display())),
            "{message}"
        );
        assert!(message.contains(&name), "{message}");
        assert!(message.contains(problem), "{message}");
        assert_eq!(docs.error(), Some(message.as_str()), "shown in the modal");
        assert_eq!(session.board(), &before, "the board on screen is kept");
        assert_eq!(docs.current(), None);
        assert!(docs.recent().paths().is_empty());
    }
}

#[test]
fn a_cancelled_opening_leaves_the_board_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved(dir.path(), "board.tabula");
    let mut session = Session::offline(identity("Dee"));
    draw_things(&mut session);
    let before = session.board().clone();
    let mut docs = documents();
    let (wake, ended) = support::watched_wake();
    docs.start_open(&path, wake);
    docs.cancel_open();
    assert!(!docs.is_modal_open());
    ended.wait();
    assert!(docs.poll_open(&mut session).is_none());
    assert_eq!(session.board(), &before);
    assert_eq!(docs.current(), None);
    assert!(docs.error().is_none());
}

#[test]
fn the_window_says_it_is_opening_blocks_shortcuts_then_shows_the_board() {
    use egui::Key;
    use egui_kittest::kittest::Queryable as _;

    let dir = tempfile::tempdir().unwrap();
    let path = saved(dir.path(), "meeting.tabula");
    let mut expected = Session::offline(identity("Ref"));
    expected.load(load_session(&path).unwrap());

    let mut harness = window(app(Session::offline(identity("Bea"))));
    let ctx = harness.ctx.clone();
    // Until the lock goes, the opening thread waits for the file: this frame
    // shows the modal and swallows the shortcut, however fast the thread.
    let lock = exclusive_lock(&path);
    harness.state_mut().start_opening(&path, &ctx);
    harness.key_press(Key::R);
    harness.step();
    harness.get_by_label_contains("Opening meeting.tabula…");
    harness.get_by_label("Cancel");
    assert_eq!(harness.state().session().board().object_count(), 0);
    assert_eq!(
        harness.state().tools().tool,
        tabula_app::canvas::tools::Tool::Pen,
        "R does not pick the rectangle while the modal shows"
    );
    drop(lock);

    until_opened(&mut harness);
    assert_eq!(harness.state().session().board(), expected.board());
    assert_eq!(harness.state().documents().current(), Some(path.as_path()));
    assert!(
        harness
            .query_by_label_contains("Opening meeting.tabula")
            .is_none(),
        "the modal is gone"
    );
    harness.key_press(Key::R);
    harness.run();
    assert_eq!(
        harness.state().tools().tool,
        tabula_app::canvas::tools::Tool::Rectangle,
        "shortcuts work again"
    );

    // The recent files open in the background too.
    harness.get_by_label("File").click();
    harness.run();
    harness.get_by_label("meeting.tabula").click();
    harness.step();
    harness.get_by_label_contains("Opening meeting.tabula…");
    until_opened(&mut harness);
    assert_eq!(harness.state().session().board(), expected.board());
}

/// Holds every lock of the session file at `path` until dropped, as a writer
/// in exclusive locking mode would: even reading it waits for it (for up to
/// the file's five-second busy timeout, far longer than a test holds it).
fn exclusive_lock(path: &Path) -> rusqlite::Connection {
    let lock = rusqlite::Connection::open(path).expect("opens");
    lock.execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
        .expect("locks");
    lock
}
