//! The logs answer alike; a room file rests, closes and reopens unseen.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tabula_shared::session_file::SessionFile;

use super::sqlite::RoomFile;
use super::*;
use crate::sync::lock;

fn entries(n: u64) -> Vec<Entry> {
    (1..=n)
        .map(|seq| Entry {
            op_id: OpId::random(),
            author: ClientId::random(),
            stamp: Stamp {
                seq,
                timestamp_ms: 100 + seq,
            },
            frame: Bytes::from(vec![seq as u8; 3]),
        })
        .collect()
}

/// The logs answer every question the same way.
fn check(log: &mut dyn OpLog) {
    assert_eq!(log.last_stamp().unwrap(), None);
    assert!(
        log.frames_between(0, 10, 10, usize::MAX)
            .unwrap()
            .is_empty()
    );
    let ops = entries(5);
    log.append(&ops[..2]).unwrap();
    log.append(&ops[2..]).unwrap();
    assert_eq!(log.last_stamp().unwrap(), Some(ops[4].stamp));
    let frames = |after, up_to, limit| log.frames_between(after, up_to, limit, usize::MAX).unwrap();
    let expected: Vec<Bytes> = ops.iter().map(|e| e.frame.clone()).collect();
    assert_eq!(frames(0, 5, 100), expected);
    assert_eq!(frames(1, 3, 100), expected[1..3].to_vec());
    assert_eq!(frames(0, 5, 2), expected[..2].to_vec());
    assert!(frames(5, 5, 100).is_empty());
    assert!(frames(u64::MAX, u64::MAX, 100).is_empty());
    // Each frame is 3 bytes: 7 bytes hold two; the first always comes.
    assert_eq!(
        log.frames_between(0, 5, 100, 7).unwrap(),
        expected[..2].to_vec()
    );
    assert_eq!(
        log.frames_between(0, 5, 100, 1).unwrap(),
        expected[..1].to_vec()
    );
    assert_eq!(log.stamp_of(ops[3].op_id).unwrap(), Some(ops[3].stamp));
    assert_eq!(log.stamp_of(OpId::random()).unwrap(), None);
    // Settings: absent, set, replaced; the schema's own keys untouched.
    assert_eq!(log.setting("room").unwrap(), None);
    log.set_setting("room", "a setting, not the room's name")
        .unwrap();
    log.set_setting("locked", "no").unwrap();
    log.set_setting("locked", "yes").unwrap();
    assert_eq!(log.setting("locked").unwrap().as_deref(), Some("yes"));
    assert_eq!(
        log.setting("room").unwrap().as_deref(),
        Some("a setting, not the room's name")
    );
}

#[test]
fn the_memory_log_keeps_frames_in_order_and_indexes_ids() {
    check(&mut MemoryLog::default());
}

#[test]
fn the_sqlite_log_does_the_same_and_outlives_its_process() {
    let dir = tempfile::tempdir().unwrap();
    let rooms = rooms_dir(dir.path());
    fs::create_dir_all(&rooms).unwrap();
    check(&mut SqliteLog::open_or_create(&rooms, "kept").unwrap());
    let reopened = SqliteLog::open_or_create(&rooms, "kept").unwrap();
    assert_eq!(reopened.last_stamp().unwrap().map(|s| s.seq), Some(5));
    assert_eq!(reopened.setting("locked").unwrap().as_deref(), Some("yes"));
    SqliteLog::open_or_create(&rooms, "other.room").unwrap();
    fs::write(rooms.join("notes.txt"), "not a room").unwrap();
    assert_eq!(room_names(&rooms).unwrap(), vec!["kept", "other.room"]);
}

#[test]
fn a_room_file_named_with_capitals_opens_under_the_folded_name() {
    let dir = tempfile::tempdir().unwrap();
    let rooms = rooms_dir(dir.path());
    fs::create_dir_all(&rooms).unwrap();
    let mut old = SqliteLog::open_or_create(&rooms, "Design").unwrap();
    old.append(&entries(3)).unwrap();
    drop(old);
    let folded = SqliteLog::open_or_create(&rooms, "design").unwrap();
    assert_eq!(folded.last_stamp().unwrap().map(|s| s.seq), Some(3));
    assert_eq!(room_names(&rooms).unwrap(), vec!["design"]);
}

#[test]
fn beyond_the_budget_the_least_recently_used_file_closes_and_reopens_on_use() {
    let dir = tempfile::tempdir().unwrap();
    let rooms = rooms_dir(dir.path());
    fs::create_dir_all(&rooms).unwrap();
    let budget = FileBudget::new(2);
    let ops = entries(3);
    let mut a = SqliteLog::open_within(&rooms, "a", &budget).unwrap();
    a.append(&ops[..1]).unwrap();
    let mut b = SqliteLog::open_within(&rooms, "b", &budget).unwrap();
    b.append(&ops[..1]).unwrap();
    assert_eq!(budget.open(), 2);
    // a was used longest ago: it closes for c.
    let c = SqliteLog::open_within(&rooms, "c", &budget).unwrap();
    assert_eq!(budget.open(), 2);
    assert!(lock(&a.file).open.is_none());
    assert!(lock(&b.file).open.is_some());
    // a's next use reopens it, closing b.
    a.append(&ops[1..2]).unwrap();
    assert_eq!(a.last_stamp().unwrap(), Some(ops[1].stamp));
    assert!(lock(&b.file).open.is_none());
    assert_eq!(budget.open(), 2);
    drop((a, b, c));
    assert_eq!(budget.open(), 0);
}

/// How long a test waits for the `tabula-rest` thread before it fails: a
/// margin a loaded 2-core CI machine cannot miss.
const PATIENCE: Duration = Duration::from_secs(30);

/// Waits, up to [`PATIENCE`], until `done` holds for the log's file.
fn wait_for(log: &SqliteLog, done: impl Fn(&RoomFile) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done(&lock(&log.file)) {
        assert!(Instant::now() < deadline, "the tabula-rest thread did not");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_quiet_file_is_closed_and_reopened_by_its_next_use() {
    let dir = tempfile::tempdir().unwrap();
    let rooms = rooms_dir(dir.path());
    fs::create_dir_all(&rooms).unwrap();
    let mut log =
        SqliteLog::open_resting_after(&rooms, "quiet", Duration::ZERO, &FileBudget::new(9))
            .unwrap();
    let ops = entries(4);
    log.append(&ops[..2]).unwrap();
    wait_for(&log, |file| file.open.is_none());
    let path = room_path(&rooms, "quiet");
    for suffix in ["-wal", "-shm"] {
        let mut beside = path.clone().into_os_string();
        beside.push(suffix);
        assert!(
            !Path::new(&beside).exists(),
            "{suffix} is gone while it rests"
        );
    }

    log.append(&ops[2..]).unwrap();
    assert_eq!(log.last_stamp().unwrap(), Some(ops[3].stamp));
    assert_eq!(log.stamp_of(ops[0].op_id).unwrap(), Some(ops[0].stamp));
    let frames: Vec<Bytes> = ops.iter().map(|e| e.frame.clone()).collect();
    assert_eq!(log.frames_between(0, 4, 10, usize::MAX).unwrap(), frames);
}

#[test]
fn closing_quiet_files_calls_the_hook_once_set() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    fn count() {
        CALLS.fetch_add(1, Ordering::SeqCst);
    }
    assert!(on_files_closed(count));
    assert!(!on_files_closed(count), "only the first one counts");
    let dir = tempfile::tempdir().unwrap();
    let rooms = rooms_dir(dir.path());
    fs::create_dir_all(&rooms).unwrap();
    let mut log =
        SqliteLog::open_resting_after(&rooms, "hooked", Duration::ZERO, &FileBudget::new(9))
            .unwrap();
    log.append(&entries(1)).unwrap();
    wait_for(&log, |file| file.open.is_none());
    let deadline = Instant::now() + PATIENCE;
    while CALLS.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the hook was not called");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_open_room_file_can_be_read_and_exported_by_another_connection() {
    let dir = tempfile::tempdir().unwrap();
    let rooms = rooms_dir(dir.path());
    fs::create_dir_all(&rooms).unwrap();
    let mut log = SqliteLog::open_or_create(&rooms, "live").unwrap();
    let ops = entries(4);
    log.append(&ops[..3]).unwrap();
    // Its pages are freed once it is quiet; the file stays open.
    wait_for(&log, |file| !file.holds_pages);
    assert!(lock(&log.file).open.is_some());

    let reader = SessionFile::open_read_only(room_path(&rooms, "live")).unwrap();
    assert_eq!(reader.head().unwrap(), 3);
    let export = dir.path().join("export.tabula");
    reader.export_to(&export).unwrap();
    assert_eq!(
        SessionFile::open_read_only(&export)
            .unwrap()
            .head()
            .unwrap(),
        3
    );
    // And the relay goes on writing beside the reader.
    log.append(&ops[3..]).unwrap();
    assert_eq!(reader.head().unwrap(), 4);
}
