//! Saving and opening `.tabula` files through the app's `Session` and
//! `Documents`: real files in temporary folders.

use std::fs;
use std::path::Path;

use egui_kittest::Harness;
use tabula_app::app::TabulaApp;
use tabula_app::files::SNAPSHOT_EVERY;
use tabula_app::files::documents::Documents;
use tabula_app::files::opening::load_session;
use tabula_app::files::recent::RecentFiles;
use tabula_app::files::saving::{save_session, snapshot_at_head};
use tabula_app::session::{JoinError, Session};
use tabula_shared::codec::SNAPSHOT_FORMAT;
use tabula_shared::object::{Fill, ObjectData, ObjectKind, Property};
use tabula_shared::session_file::{FORMAT_VERSION, SessionFile, StoredSnapshot};
use tabula_shared::{
    Board, ClientId, Color, ObjectId, Op, OpKind, Point, SequencedOp, StrokeId, StrokeStyle,
    decode_snapshot, encode_snapshot,
};

use crate::support::{self, app, documents, eventually, identity, window};

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
    // The thread wakes the UI once it has handed the board over, then ends
    // and lets its wake go.
    eventually("the opening thread has ended", || {
        (Arc::strong_count(&woken_on) == 1).then_some(())
    });
    assert_eq!(
        *woken_on.lock().unwrap(),
        [Some(tabula_app::files::opening::THREAD_NAME.to_owned())],
        "the UI is woken once, from the opening thread"
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

/// A local board of at least `ops` ops (ten per [`draw_things`]).
fn long_session(name: &str, ops: u64) -> Session {
    let mut session = Session::offline(identity(name));
    while (session.log().len() as u64) < ops {
        draw_things(&mut session);
    }
    session
}

/// The sequence numbers of the snapshots `path` holds, newest first.
fn snapshot_seqs(path: &Path) -> Vec<u64> {
    let file = SessionFile::open_read_only(path).expect("a session");
    support::snapshot_seqs(&file).expect("snapshots")
}

#[test]
fn a_long_board_is_saved_with_a_snapshot_of_its_head_and_the_newest_two_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let short = saved(dir.path(), "short.tabula");
    assert!(load_session(&short).unwrap().len() < SNAPSHOT_EVERY as usize);
    assert_eq!(snapshot_seqs(&short), [0_u64; 0], "a short log needs none");

    let path = dir.path().join("long.tabula");
    let mut session = long_session("Ann", SNAPSHOT_EVERY);
    let mut docs = documents();
    save_as_now(&mut docs, &session, &path).unwrap();
    let head = session.board().last_seq();
    assert_eq!(snapshot_seqs(&path), [head]);
    let stored = SessionFile::open_read_only(&path)
        .unwrap()
        .snapshot_at_or_before(head)
        .unwrap()
        .unwrap();
    assert_eq!(stored.format, SNAPSHOT_FORMAT);
    assert_eq!(
        decode_snapshot(&stored.board).unwrap(),
        session.board().snapshot(),
        "the board at the file's head"
    );

    // A few more ops are appended without another snapshot; a log that has
    // grown by SNAPSHOT_EVERY gets one, and only the newest two stay.
    draw_things(&mut session);
    save_now(&mut docs, &session);
    assert_eq!(snapshot_seqs(&path), [head]);
    let mut heads = vec![head];
    for _ in 0..2 {
        let target = session.log().len() as u64 + SNAPSHOT_EVERY;
        while (session.log().len() as u64) < target {
            draw_things(&mut session);
        }
        save_now(&mut docs, &session);
        assert!(docs.error().is_none(), "{:?}", docs.error());
        heads.insert(0, session.board().last_seq());
    }
    assert_eq!(snapshot_seqs(&path), heads[..2]);
    assert_eq!(load_session(&path).unwrap().as_slice(), session.log());
}

#[test]
fn the_snapshot_of_a_board_with_pending_ops_is_taken_after_them() {
    let ops: Vec<SequencedOp> = load_session(&saved(
        tempfile::tempdir().unwrap().path(),
        "pending.tabula",
    ))
    .unwrap();
    let mut board = Board::from_sequenced(&ops);
    let author = ClientId::random();
    let mut to_save = ops.clone();
    for kind in [OpKind::Clear, OpKind::Clear] {
        let op = Op::new(kind);
        board.apply_local(author, op.clone());
        to_save.push(SequencedOp {
            seq: to_save.len() as u64 + 1,
            author,
            timestamp_ms: 1,
            op,
        });
    }
    let at_head = snapshot_at_head(&board, &to_save);
    assert_eq!(at_head, Board::from_sequenced(&to_save).snapshot());
    assert_ne!(at_head, board.snapshot(), "the pending clears count");
}

/// A file of at least `ops` ops saved from a session, with a snapshot, then
/// a few more ops appended after it; and the board and log a full replay of
/// the file gives.
fn saved_with_snapshot(dir: &Path, name: &str, ops: u64) -> (std::path::PathBuf, Session) {
    let path = dir.join(name);
    let mut session = long_session("Ann", ops);
    let mut docs = documents();
    save_as_now(&mut docs, &session, &path).expect("saved");
    for _ in 0..5 {
        draw_things(&mut session);
    }
    save_now(&mut docs, &session);
    assert!(docs.error().is_none(), "{:?}", docs.error());
    assert_eq!(snapshot_seqs(&path).len(), 1);
    let mut replayed = Session::offline(identity("Ref"));
    replayed.load(load_session(&path).expect("reads"));
    (path, replayed)
}

/// Polls until the history behind the board on screen is all here.
fn wait_for_history(docs: &mut Documents, session: &mut Session) {
    eventually("the history is read", || {
        assert!(docs.poll_open(session).is_none());
        (!docs.is_reading_history()).then_some(())
    });
}

#[test]
fn a_file_opens_from_its_snapshot_and_its_history_follows() {
    let dir = tempfile::tempdir().unwrap();
    let (path, expected) = saved_with_snapshot(dir.path(), "long.tabula", SNAPSHOT_EVERY);
    let snapshot = snapshot_seqs(&path)[0];
    let head = expected.board().last_seq();
    assert!(head > snapshot);

    let mut session = Session::offline(identity("Dee"));
    let mut docs = documents();
    docs.start_open(&path, || {});
    wait_for_open(&mut docs, &mut session).expect("opens");
    assert_eq!(session.board().snapshot(), expected.board().snapshot());
    assert_eq!(
        session.history_progress(),
        Some((head - snapshot, head)),
        "the board is there before the history behind its snapshot"
    );
    assert_eq!(session.log(), &expected.log()[snapshot as usize..]);
    assert!(docs.is_reading_history() && !docs.is_modal_open());
    assert_eq!(docs.current(), Some(path.as_path()));

    // Drawn on at once; not saved, nor taken into a room, before the
    // history is here.
    session.perform(vec![Op::new(OpKind::Clear)]);
    let elsewhere = dir.path().join("elsewhere.tabula");
    let refused = save_as_now(&mut docs, &session, &elsewhere).unwrap_err();
    assert!(refused.contains("still arriving"), "{refused}");
    assert!(!elsewhere.exists());
    let runtime = support::runtime();
    assert!(matches!(
        session.join("ws://127.0.0.1:9/room", &runtime, || {}),
        Err(JoinError::HistoryArriving { .. })
    ));

    wait_for_history(&mut docs, &mut session);
    assert_eq!(session.history_progress(), None);
    assert_eq!(session.log().len() as u64, head + 1);
    assert_eq!(
        &session.log()[..head as usize],
        expected.log(),
        "the file's ops"
    );
    assert_eq!(session.board().last_seq(), head + 1);
    save_as_now(&mut docs, &session, &elsewhere).unwrap();
    assert_eq!(load_session(&elsewhere).unwrap().as_slice(), session.log());
}

/// Scribbles over the root page of the index of `ops`' op ids, the way a
/// disk can: reading ops by sequence number never touches that page, the
/// integrity check does.
fn damage_the_op_id_index(path: &Path) {
    let (root, page_size) = {
        let conn = rusqlite::Connection::open(path).expect("opens");
        let root: i64 = conn
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ops'",
                [],
                |row| row.get(0),
            )
            .expect("the index's root page");
        let page_size: i64 = conn
            .pragma_query_value(None, "page_size", |row| row.get(0))
            .expect("the page size");
        (root, page_size)
    };
    let mut bytes = fs::read(path).expect("reads");
    let start = usize::try_from((root - 1) * page_size).expect("a page offset");
    bytes[start..start + 64].fill(0xA5);
    fs::write(path, bytes).expect("writes");
}

#[test]
fn a_file_found_damaged_once_its_board_shows_keeps_the_board_and_gets_no_history() {
    let dir = tempfile::tempdir().unwrap();
    let (path, expected) = saved_with_snapshot(dir.path(), "scratched.tabula", SNAPSHOT_EVERY);
    damage_the_op_id_index(&path);
    assert!(
        SessionFile::open_read_only(&path).is_err(),
        "a full check finds the damage"
    );

    let mut session = Session::offline(identity("Eve"));
    let mut docs = documents();
    docs.start_open(&path, || {});
    wait_for_open(&mut docs, &mut session).expect("the board shows first");
    assert_eq!(session.board().snapshot(), expected.board().snapshot());
    assert!(docs.error().is_none());
    wait_for_history(&mut docs, &mut session);
    let error = docs.error().expect("the damage is shown");
    assert!(error.contains("scratched.tabula"), "{error}");
    assert!(error.contains("damaged"), "{error}");
    assert!(
        session.history_progress().is_some(),
        "none of a damaged file's history is taken"
    );
    let copy = dir.path().join("copy.tabula");
    let refused = save_as_now(&mut docs, &session, &copy).unwrap_err();
    assert!(refused.contains("could not be read"), "{refused}");
    assert!(!copy.exists());
    // Another board saves again.
    let fresh = saved(dir.path(), "fresh.tabula");
    docs.start_open(&fresh, || {});
    wait_for_open(&mut docs, &mut session).expect("opens");
    save_as_now(&mut docs, &session, &copy).unwrap();
}

#[test]
fn replay_waits_for_the_history_of_a_file_opened_from_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (path, expected) = saved_with_snapshot(dir.path(), "meeting.tabula", SNAPSHOT_EVERY);
    let head = expected.board().last_seq();
    let mut harness = window(app(Session::offline(identity("Bea"))));
    let ctx = harness.ctx.clone();
    harness.state_mut().start_opening(&path, &ctx);
    eventually("the board is on screen", || {
        harness.step();
        (harness.state().session().board().last_seq() == head).then_some(())
    });
    // The frame that put the board on screen merged no history yet.
    assert_eq!(
        harness.state().session().board().snapshot(),
        expected.board().snapshot()
    );
    assert!(harness.state().session().history_progress().is_some());
    harness.state_mut().start_replay();
    assert!(harness.state().replay().is_none(), "no replay yet");

    eventually("the history is read", || {
        if !harness.state().documents().is_reading_history() {
            return Some(());
        }
        harness.step();
        None
    });
    assert_eq!(harness.state().session().log(), expected.log());
    harness.state_mut().start_replay();
    assert!(
        harness.state().replay().is_some(),
        "the whole history plays"
    );
}

#[test]
fn a_snapshot_that_does_not_decode_is_passed_over() {
    let dir = tempfile::tempdir().unwrap();
    let (path, expected) = saved_with_snapshot(dir.path(), "damaged.tabula", SNAPSHOT_EVERY);
    let good = snapshot_seqs(&path)[0];
    let head = expected.board().last_seq();
    let open = |path: &Path| {
        let mut session = Session::offline(identity("Dee"));
        let mut docs = documents();
        docs.start_open(path, || {});
        wait_for_open(&mut docs, &mut session).expect("opens");
        let progress = session.history_progress();
        wait_for_history(&mut docs, &mut session);
        assert_eq!(session.board().snapshot(), expected.board().snapshot());
        assert_eq!(session.log(), expected.log());
        assert!(docs.error().is_none());
        progress
    };
    let board_bytes = encode_snapshot(&expected.board().snapshot()).unwrap();
    let mut file = SessionFile::open(&path).unwrap();

    // A newer snapshot in a format this build does not know: the good one
    // before it is used.
    file.put_snapshot(&StoredSnapshot {
        seq: head,
        format: SNAPSHOT_FORMAT + 1,
        board: board_bytes.clone(),
    })
    .unwrap();
    assert_eq!(open(&path), Some((head - good, head)));

    // Garbage where the newest board should be: the one before it again.
    let mut garbage = board_bytes.clone();
    garbage.truncate(garbage.len() / 2);
    file.put_snapshot(&StoredSnapshot {
        seq: head,
        format: SNAPSHOT_FORMAT,
        board: garbage.clone(),
    })
    .unwrap();
    assert_eq!(open(&path), Some((head - good, head)));

    // No good snapshot at all: every op is replayed, as with none.
    file.put_snapshot(&StoredSnapshot {
        seq: good,
        format: SNAPSHOT_FORMAT,
        board: garbage.iter().map(|b| b ^ 0x5a).collect(),
    })
    .unwrap();
    assert_eq!(open(&path), None, "the whole log, at once");
}

#[test]
fn cancelling_another_file_keeps_the_board_whose_history_is_arriving() {
    let dir = tempfile::tempdir().unwrap();
    let (first, expected) = saved_with_snapshot(dir.path(), "first.tabula", SNAPSHOT_EVERY);
    let (second, _) = saved_with_snapshot(dir.path(), "second.tabula", SNAPSHOT_EVERY);

    // Cancelled before its board shows: the board on screen stays.
    let mut session = Session::offline(identity("Dee"));
    draw_things(&mut session);
    let before = session.board().clone();
    let mut docs = documents();
    let (wake, ended) = support::watched_wake();
    docs.start_open(&first, wake);
    docs.cancel_open();
    ended.wait();
    assert!(docs.poll_open(&mut session).is_none());
    assert_eq!(session.board(), &before);
    assert!(!docs.is_reading_history());

    // Another file given up while the first's history is being read: the
    // first board stays and its history still completes.
    docs.start_open(&first, || {});
    wait_for_open(&mut docs, &mut session).expect("opens");
    assert!(session.history_progress().is_some());
    docs.start_open(&second, || {});
    docs.cancel_open();
    wait_for_history(&mut docs, &mut session);
    assert_eq!(session.board().snapshot(), expected.board().snapshot());
    assert_eq!(session.log(), expected.log());
    assert_eq!(docs.current(), Some(first.as_path()));
}

/// Holds the write lock of the session file at `path` until dropped (or
/// rolled back), as another writer would: a save there waits for it.
fn write_lock(path: &Path) -> rusqlite::Connection {
    let lock = rusqlite::Connection::open(path).expect("opens");
    lock.execute_batch("BEGIN IMMEDIATE").expect("locks");
    lock
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

#[test]
fn a_save_runs_on_its_own_thread_while_the_board_takes_ops_and_holds_the_board_it_started_with() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.tabula");
    let mut session = long_session("Ann", SNAPSHOT_EVERY);
    let mut docs = documents();
    save_as_now(&mut docs, &session, &path).unwrap();
    let in_file = session.log().len();
    for _ in 0..3 {
        draw_things(&mut session);
    }
    let started_with = session.log().to_vec();

    // The file is busy: the save's thread waits for it, the UI does not.
    let lock = write_lock(&path);
    save_now_started(&mut docs, &session);
    let saving = docs
        .saving()
        .expect("the save is under way when save returns");
    assert_eq!(saving.path(), path.as_path());
    assert_eq!(
        saving.progress().total,
        (started_with.len() - in_file) as u64,
        "only the ops the file lacks are handed over"
    );
    assert!(
        docs.poll_save(&session).is_none(),
        "still waiting for the file"
    );
    assert!(!docs.is_modal_open(), "the board stays in use");
    draw_things(&mut session);
    assert!(session.log().len() > started_with.len());
    drop(lock);

    assert_eq!(finish_saves(&mut docs, &session), Ok(()));
    assert_eq!(
        load_session(&path).unwrap(),
        started_with,
        "exactly the log as it was when the save started"
    );
    // What was drawn meanwhile goes into the next save.
    save_now(&mut docs, &session);
    assert_eq!(load_session(&path).unwrap().as_slice(), session.log());
}

/// ctrl+S, without waiting.
fn save_now_started(docs: &mut Documents, session: &Session) {
    docs.save(session);
    assert!(docs.error().is_none(), "{:?}", docs.error());
}

#[test]
fn saves_asked_for_during_a_save_wait_their_turn_once_and_the_file_ends_with_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meeting.tabula");
    let other = dir.path().join("copy.tabula");
    let mut session = long_session("Ann", 2 * SNAPSHOT_EVERY);
    let mut docs = documents();
    docs.save_as(&session, &path).unwrap();
    assert_eq!(
        docs.saving().map(tabula_app::files::saving::Saving::path),
        Some(path.as_path())
    );

    // Drawing goes on; ctrl+S twice and a save as, all while the first runs.
    draw_things(&mut session);
    docs.save(&session);
    draw_things(&mut session);
    docs.save(&session);
    docs.save_as(&session, &other).unwrap();
    docs.save(&session);
    assert_eq!(
        docs.queued_saves(),
        [path.clone(), other.clone()],
        "each file once, in turn"
    );
    assert_eq!(
        docs.saving().map(tabula_app::files::saving::Saving::path),
        Some(path.as_path())
    );
    draw_things(&mut session);

    assert_eq!(finish_saves(&mut docs, &session), Ok(()));
    assert_eq!(load_session(&path).unwrap().as_slice(), session.log());
    assert_eq!(load_session(&other).unwrap().as_slice(), session.log());
    assert_eq!(docs.current(), Some(other.as_path()));
    let head = session.board().last_seq();
    assert_eq!(
        snapshot_seqs(&path)[0],
        head - 30,
        "the first save's snapshot; the one after it was of few ops"
    );
    assert_eq!(snapshot_seqs(&other), [head]);
    assert!(!dir.path().join("meeting.tabula.saving").exists());
}

#[test]
fn a_failed_save_names_the_file_and_leaves_the_file_there_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let mut ann = long_session("Ann", 1000);
    let mut docs = documents();

    // A folder that does not exist.
    let nowhere = dir.path().join("no such folder").join("board.tabula");
    docs.save_as(&ann, &nowhere).unwrap();
    assert!(docs.saving().is_some(), "the failure comes from the thread");
    let message = finish_saves(&mut docs, &ann).unwrap_err();
    assert!(
        message.contains(&format!("Cannot save {}", nowhere.display())),
        "{message}"
    );
    assert_eq!(docs.error(), Some(message.as_str()));
    assert_eq!(docs.current(), None);
    assert!(!nowhere.exists());

    // A file whose replacement cannot be written beside it (in the way of
    // its temporary file: a folder, which not even root can write over).
    let path = dir.path().join("board.tabula");
    let mut docs = documents();
    save_as_now(&mut docs, &ann, &path).unwrap();
    let before = fs::read(&path).unwrap();
    let temporary = dir.path().join("board.tabula.saving");
    fs::create_dir(&temporary).unwrap();
    let bea = long_session("Bea", 100);
    let message = save_as_now(&mut docs, &bea, &path).unwrap_err();
    assert!(message.contains("board.tabula"), "{message}");
    assert_eq!(fs::read(&path).unwrap(), before, "the file is as it was");
    assert_eq!(load_session(&path).unwrap().as_slice(), ann.log());

    // Appending while another writer holds the file past the wait: nothing
    // of the save is in it.
    fs::remove_dir(&temporary).unwrap();
    draw_things(&mut ann);
    let lock = write_lock(&path);
    let message = save_as_now(&mut docs, &ann, &path).unwrap_err();
    drop(lock);
    assert!(message.contains("board.tabula"), "{message}");
    assert_eq!(load_session(&path).unwrap().len(), before_ops(&ann));
}

/// The ops of `session`'s log but the last [`draw_things`].
fn before_ops(session: &Session) -> usize {
    session.log().len() - 10
}

#[test]
fn a_save_that_ends_after_another_file_opened_leaves_the_new_board_its_own_file() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.tabula");
    let second = saved(dir.path(), "second.tabula");
    let mut session = long_session("Ann", 100);
    let mut docs = documents();
    docs.save_as(&session, &first).unwrap();
    docs.save(&session);
    assert_eq!(docs.queued_saves(), std::slice::from_ref(&first));
    docs.open(&mut session, &second).unwrap();
    assert!(
        docs.queued_saves().is_empty(),
        "those were of the board gone"
    );

    assert_eq!(finish_saves(&mut docs, &session), Ok(()));
    assert_eq!(docs.current(), Some(second.as_path()));
    assert_eq!(load_session(&first).unwrap().len(), 100);
    draw_things(&mut session);
    save_now(&mut docs, &session);
    assert_eq!(load_session(&second).unwrap().as_slice(), session.log());
    assert_eq!(load_session(&first).unwrap().len(), 100, "left alone");
}
