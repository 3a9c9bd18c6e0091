//! Closing the window while a save runs: the close waits for the save, the
//! window says so, and closes itself once the file is saved; or the person
//! quits without waiting, told what that means; or the save fails and the
//! window stays open to say why. Real files, held busy by another writer so
//! that the save is still running when the close comes.

use egui::accesskit::Role;
use egui::{Key, Modifiers, ViewportCommand, ViewportEvent, ViewportId, pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use tabula_app::app::TabulaApp;
use tabula_app::files::opening::load_session;
use tabula_app::files::saving::save_session;
use tabula_app::session::Session;
use tabula_shared::{Op, OpKind};

use crate::support::{self, app, eventually, identity, window, write_lock};

/// What the modal says of itself while the close waits.
const CLOSES_WHEN_DONE: &str = "the window closes when it is done";

/// A window on `meeting.tabula` in `dir` (saved with a few ops), with a
/// stroke drawn since: ctrl+S appends it.
fn window_with_changes(dir: &std::path::Path) -> (Harness<'static, TabulaApp>, std::path::PathBuf) {
    let path = dir.join("meeting.tabula");
    let mut session = Session::offline(identity("Ann"));
    for _ in 0..20 {
        session.perform(vec![Op::new(OpKind::Clear)]);
    }
    save_session(&path, "local", &session.ops_to_save()).expect("saved");
    let mut app = app(Session::offline(identity("Bea")));
    app.open_file(&path).expect("opens");
    let mut harness = window(app);
    support::drag(&mut harness, pos2(400.0, 300.0), pos2(600.0, 400.0), 6);
    (harness, path)
}

/// The window's close button, as the window system sends it.
fn request_close(harness: &mut Harness<'static, TabulaApp>) {
    harness
        .input_mut()
        .viewports
        .entry(ViewportId::ROOT)
        .or_default()
        .events
        .push(ViewportEvent::Close);
}

/// Whether the last frame sent `command` to the window.
fn sent(harness: &Harness<'static, TabulaApp>, command: &ViewportCommand) -> bool {
    harness
        .output()
        .viewport_output
        .get(&ViewportId::ROOT)
        .is_some_and(|viewport| viewport.commands.contains(command))
}

/// Ctrl+S, then a close request in the next frame, while `path` is busy:
/// the close is cancelled and the modal shows.
fn close_during_save(harness: &mut Harness<'static, TabulaApp>) {
    harness.key_press_modifiers(Modifiers::COMMAND, Key::S);
    harness.step();
    let total = eventually("the save has counted its ops", || {
        let saving = harness.state().documents().saving();
        let total = saving
            .expect("the save waits for the file")
            .progress()
            .total;
        (total > 0).then_some(total)
    });
    let new_ops = harness.state().session().log().len() - 20;
    assert_eq!(total, new_ops as u64, "the stroke's ops are appended");
    request_close(harness);
    harness.step();
    assert!(
        sent(harness, &ViewportCommand::CancelClose),
        "the close is held off"
    );
    assert!(!sent(harness, &ViewportCommand::Close));
    assert!(harness.state().is_closing());
    // Encoded, then waiting for the file to take them: n of n.
    let heading = format!("Saving meeting.tabula… {total} of {total} ops — {CLOSES_WHEN_DONE}");
    eventually("the modal counts the ops", || {
        harness.step();
        assert!(!sent(harness, &ViewportCommand::Close));
        harness.query_by_label_contains(&heading).map(|_| ())
    });
    harness.get_by_label_contains(
        "meeting.tabula stays as it was before this save (a save is all or nothing)",
    );
    harness.get_by_role_and_label(Role::Button, "Quit without waiting");
}

#[test]
fn a_close_during_a_save_keeps_the_window_open_until_the_save_is_done_then_closes() {
    let dir = tempfile::tempdir().unwrap();
    let (mut harness, path) = window_with_changes(dir.path());
    let lock = write_lock(&path);
    close_during_save(&mut harness);
    for _ in 0..5 {
        harness.step();
        assert!(
            !sent(&harness, &ViewportCommand::Close),
            "not while the save runs"
        );
        harness.get_by_label_contains(CLOSES_WHEN_DONE);
    }
    assert!(harness.state().documents().saving().is_some());

    drop(lock);
    eventually("the window closes itself", || {
        harness.step();
        sent(&harness, &ViewportCommand::Close).then_some(())
    });
    assert!(harness.state().documents().error().is_none());
    assert!(!harness.state().documents().has_pending_saves());
    assert_eq!(
        load_session(&path).unwrap().as_slice(),
        harness.state().session().log(),
        "the file holds the board: the save was not lost"
    );
    // The close that follows is not held off.
    request_close(&mut harness);
    harness.step();
    assert!(!sent(&harness, &ViewportCommand::CancelClose));
}

#[test]
fn a_close_with_nothing_being_saved_is_not_held_off() {
    let dir = tempfile::tempdir().unwrap();
    let (mut harness, _path) = window_with_changes(dir.path());
    request_close(&mut harness);
    harness.step();
    assert!(!sent(&harness, &ViewportCommand::CancelClose));
    assert!(!harness.state().is_closing());
    assert!(harness.query_by_label_contains(CLOSES_WHEN_DONE).is_none());
}

#[test]
fn quit_without_waiting_closes_at_once_and_keep_open_stays() {
    let dir = tempfile::tempdir().unwrap();
    let (mut harness, path) = window_with_changes(dir.path());
    let before = std::fs::read(&path).unwrap();
    let lock = write_lock(&path);

    // Keep the window open: the save goes on, nothing closes.
    close_during_save(&mut harness);
    harness.get_by_label("Keep the window open").click();
    harness.step();
    harness.step();
    assert!(!harness.state().is_closing());
    assert!(!sent(&harness, &ViewportCommand::Close));
    assert!(harness.query_by_label_contains(CLOSES_WHEN_DONE).is_none());
    assert!(harness.state().documents().saving().is_some(), "it goes on");

    // Asked again, then quit without waiting: the window closes, and the
    // close that comes of it is not held off.
    request_close(&mut harness);
    harness.step();
    assert!(sent(&harness, &ViewportCommand::CancelClose));
    harness
        .get_by_role_and_label(Role::Button, "Quit without waiting")
        .click();
    harness.step();
    assert!(sent(&harness, &ViewportCommand::Close));
    request_close(&mut harness);
    harness.step();
    assert!(!sent(&harness, &ViewportCommand::CancelClose));
    assert!(harness.state().documents().saving().is_some());
    // The app goes with the window, and the save is given up: in the
    // process's last moments the file is as it was (what could be left is
    // an uncommitted transaction, which SQLite rolls back).
    drop(harness);
    assert_eq!(std::fs::read(&path).unwrap(), before);
    drop(lock);
}

#[test]
fn a_save_that_fails_while_the_window_waits_to_close_keeps_it_open_to_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let (mut harness, path) = window_with_changes(dir.path());
    // Held past the file's busy timeout: the save fails.
    let lock = write_lock(&path);
    close_during_save(&mut harness);
    let error = eventually("the save fails", || {
        harness.step();
        assert!(
            !sent(&harness, &ViewportCommand::Close),
            "a failed save does not close the window"
        );
        harness.state().documents().error().map(str::to_owned)
    });
    drop(lock);
    assert!(error.contains("meeting.tabula"), "{error}");
    assert!(!harness.state().is_closing());
    harness.step();
    assert!(!sent(&harness, &ViewportCommand::Close));
    harness.get_by_label_contains("Cannot save");
}
