//! Files with board snapshots (saved once the log is far enough past the
//! newest, opened from the newest that decodes, the history behind it read
//! after the board shows), and saves that run on their own thread while the
//! board is drawn on, waiting their turn.

use std::fs;
use std::path::Path;

use tabula_app::files::SNAPSHOT_EVERY;
use tabula_app::files::documents::Documents;
use tabula_app::files::opening::load_session;
use tabula_app::files::saving::snapshot_at_head;
use tabula_app::session::{JoinError, Session};
use tabula_shared::codec::SNAPSHOT_FORMAT;
use tabula_shared::session_file::{SessionFile, StoredSnapshot};
use tabula_shared::{Board, ClientId, Op, OpKind, SequencedOp, decode_snapshot, encode_snapshot};

use super::{draw_things, finish_saves, save_as_now, save_now, saved, wait_for_open, write_lock};
use crate::support::{self, app, documents, eventually, identity, window};

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
