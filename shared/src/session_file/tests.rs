use std::io::{Seek as _, SeekFrom, Write as _};

use super::*;
use crate::{Board, Op, OpKind, StrokeId};

fn op(seq: u64) -> SequencedOp {
    SequencedOp {
        seq,
        author: ClientId::random(),
        timestamp_ms: 1_700_000_000_000 + seq,
        op: Op::new(OpKind::StrokeEnd {
            stroke: StrokeId::random(),
        }),
    }
}

fn stored(from: u64, to: u64) -> Vec<StoredOp> {
    (from..=to)
        .map(|seq| StoredOp::encode(&op(seq)).unwrap())
        .collect()
}

/// A session of ops 1 to 3 at `path`, then `sql` run on it by a plain
/// connection, as a crafted file would be made.
fn crafted(path: &Path, sql: &str) {
    let mut file = SessionFile::create(path, "crafted").unwrap();
    file.append(&stored(1, 3)).unwrap();
    file.close().unwrap();
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(sql).unwrap();
    conn.close().unwrap();
}

#[test]
fn a_file_with_a_view_or_a_trigger_is_refused_by_name_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    for (name, sql, found) in [
        (
            "view.tabula",
            "CREATE VIEW everything AS SELECT * FROM ops, ops AS o2, ops AS o3",
            "a view named \"everything\"",
        ),
        (
            "trigger.tabula",
            "CREATE TRIGGER wipe AFTER INSERT ON ops BEGIN DELETE FROM ops; END",
            "a trigger named \"wipe\"",
        ),
        (
            "table.tabula",
            "CREATE TABLE extra (x BLOB)",
            "a table named \"extra\"",
        ),
    ] {
        let path = dir.path().join(name);
        crafted(&path, sql);
        for opened in [
            SessionFile::open(&path),
            SessionFile::open_read_only(&path),
            SessionFile::open_read_only_unchecked(&path),
        ] {
            let err = opened.expect_err("refused");
            assert!(
                matches!(err, SessionFileError::UnexpectedSchema { .. }),
                "{err:?}"
            );
            let message = err.to_string();
            assert!(
                message.contains(name) && message.contains(found),
                "{message}"
            );
        }
    }
}

#[test]
fn a_frame_longer_than_a_frame_may_be_is_refused_without_being_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fat.tabula");
    crafted(
        &path,
        &format!(
            "UPDATE ops SET frame = zeroblob({}) WHERE seq = 2",
            MAX_FRAME_BYTES + 1
        ),
    );
    let file = SessionFile::open_read_only(&path).unwrap();
    let err = file.ops(0).collect::<Result<Vec<_>, _>>().unwrap_err();
    assert!(
        matches!(
            err,
            SessionFileError::TooBig { bytes, max: MAX_FRAME_BYTES, .. }
                if bytes == MAX_FRAME_BYTES as u64 + 1
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("op 2's frame"), "{err}");
    assert!(matches!(
        file.frames_between(0, 3, 10),
        Err(SessionFileError::TooBig { .. })
    ));
    // The ops before it read as usual.
    assert_eq!(file.ops_after(0, 1).unwrap().len(), 1);
}

#[test]
fn an_interrupted_read_stops_with_its_own_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.tabula");
    let mut file = SessionFile::create(&path, "long").unwrap();
    file.append(&stored(1, 5000)).unwrap();
    let interrupter = file.interrupter();
    // Interrupted from another thread while the check runs, again and
    // again until one lands inside it.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopper = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("interrupter".to_owned())
            .spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    interrupter.interrupt();
                    std::thread::yield_now();
                }
            })
            .unwrap()
    };
    let mut was_interrupted = false;
    for _ in 0..10_000 {
        match file.quick_check() {
            Err(SessionFileError::Interrupted { path: p }) => {
                assert_eq!(p, path);
                was_interrupted = true;
                break;
            }
            Ok(()) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    stopper.join().unwrap();
    assert!(was_interrupted, "no check was interrupted");
    file.quick_check().expect("the next query runs as usual");
}

#[test]
fn a_session_round_trips_through_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("room.tabula");
    let ops = stored(1, 2500);
    {
        let mut file = SessionFile::create(&path, "design").unwrap();
        assert_eq!(file.head().unwrap(), 0);
        assert_eq!(file.last_stamp().unwrap(), None);
        file.append(&ops[..1000]).unwrap();
        file.append(&ops[1000..]).unwrap();
        file.set_meta("title", "Sprint review").unwrap();
        assert!(matches!(
            file.set_meta("room", "elsewhere"),
            Err(SessionFileError::Refused { .. })
        ));
    }
    let file = SessionFile::open(&path).unwrap();
    assert_eq!(file.head().unwrap(), 2500);
    let meta = file.meta().unwrap();
    assert_eq!(meta.room, "design");
    assert_eq!(meta.app_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(meta.all["format_version"], FORMAT_VERSION.to_string());
    assert_eq!(meta.all["title"], "Sprint review");
    assert!(meta.created_at_ms > 1_700_000_000_000);
    let read: Vec<StoredOp> = file.ops(0).collect::<Result<_, _>>().unwrap();
    assert_eq!(read, ops, "every row comes back as written, in order");
    let decoded: Vec<SequencedOp> = file.sequenced_ops(2498).collect::<Result<_, _>>().unwrap();
    assert_eq!(decoded.len(), 2);
    assert_eq!(decoded[0].seq, 2499);
    assert_eq!(decoded[0].op.id, ops[2498].op_id);
    assert_eq!(
        file.stamp_of(ops[1233].op_id).unwrap(),
        Some(ops[1233].stamp)
    );
    assert_eq!(file.stamp_of(OpId::random()).unwrap(), None);
    assert_eq!(
        file.frames_between(10, 12, 100).unwrap(),
        vec![ops[10].frame.clone(), ops[11].frame.clone()]
    );
    assert_eq!(
        file.summary().unwrap(),
        Summary {
            ops: 2500,
            last_activity_ms: Some(ops[2499].stamp.timestamp_ms)
        }
    );
}

#[test]
fn a_replayed_file_ends_with_the_live_board_and_seeking_to_k_applies_1_to_k() {
    use crate::{Color, Point, StrokeStyle};

    let dir = tempfile::tempdir().unwrap();
    let mut file = SessionFile::create(dir.path().join("replay.tabula"), "replay").unwrap();
    let authors = [ClientId::random(), ClientId::random()];
    let strokes = [StrokeId::random(), StrokeId::random()];
    let mut kinds = Vec::new();
    for (i, stroke) in strokes.iter().enumerate() {
        kinds.push((
            i,
            OpKind::StrokeBegin {
                stroke: *stroke,
                style: StrokeStyle {
                    color: Color::rgb(10, 20, 30),
                    width: 2.0,
                },
                start: Point::new(i as f32, 0.0),
            },
        ));
    }
    for step in 1..=3 {
        for (i, stroke) in strokes.iter().enumerate() {
            kinds.push((
                i,
                OpKind::StrokeAppend {
                    stroke: *stroke,
                    points: vec![Point::new(i as f32, step as f32)],
                },
            ));
        }
    }
    kinds.push((0, OpKind::StrokeEnd { stroke: strokes[0] }));
    let mut live = Board::new();
    let mut boards = vec![Board::new()];
    let mut rows = Vec::new();
    for (seq, (i, kind)) in (1..).zip(kinds) {
        let op = SequencedOp {
            seq,
            author: authors[i],
            timestamp_ms: 1_700_000_000_000 + seq,
            op: Op::new(kind),
        };
        live.apply_sequenced(&op);
        boards.push(live.clone());
        rows.push(StoredOp::encode(&op).unwrap());
    }
    file.append(&rows).unwrap();
    assert_eq!(file.board_at(u64::MAX).unwrap(), live);
    assert!(live.last_seq() > 0);
    for (k, expected) in boards.iter().enumerate() {
        assert_eq!(&file.board_at(k as u64).unwrap(), expected, "seek to {k}");
    }
}

#[test]
fn appends_must_follow_the_head_and_a_failed_batch_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = SessionFile::create(dir.path().join("a.tabula"), "a").unwrap();
    assert!(matches!(
        file.append(&stored(2, 3)),
        Err(SessionFileError::OutOfOrder {
            expected: 1,
            found: 2,
            ..
        })
    ));
    let mut gap = stored(1, 2);
    gap.extend(stored(4, 4));
    assert!(matches!(
        file.append(&gap),
        Err(SessionFileError::OutOfOrder {
            expected: 3,
            found: 4,
            ..
        })
    ));
    // The same op id twice: the second insert fails, and the first is rolled back.
    let mut twice = stored(1, 2);
    twice[1].op_id = twice[0].op_id;
    assert!(matches!(
        file.append(&twice),
        Err(SessionFileError::Sqlite { .. })
    ));
    assert_eq!(file.head().unwrap(), 0, "nothing of a failed batch is kept");
    file.append(&stored(1, 3)).unwrap();
    assert_eq!(file.head().unwrap(), 3);
}

#[test]
fn create_refuses_an_existing_file_and_open_or_create_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.tabula");
    let mut file = SessionFile::open_or_create(&path, "r").unwrap();
    file.append(&stored(1, 5)).unwrap();
    drop(file);
    assert!(matches!(
        SessionFile::create(&path, "r"),
        Err(SessionFileError::AlreadyExists { .. })
    ));
    assert_eq!(
        SessionFile::open_or_create(&path, "r")
            .unwrap()
            .head()
            .unwrap(),
        5
    );
    // An empty file is a creation that never committed: made afresh.
    let empty = dir.path().join("empty.tabula");
    fs::write(&empty, b"").unwrap();
    assert!(matches!(
        SessionFile::open(&empty),
        Err(SessionFileError::Corrupt { .. })
    ));
    assert_eq!(
        SessionFile::open_or_create(&empty, "e")
            .unwrap()
            .meta()
            .unwrap()
            .room,
        "e"
    );
}

#[test]
fn snapshots_are_found_at_or_before_a_seq() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = SessionFile::create(dir.path().join("s.tabula"), "s").unwrap();
    file.append(&stored(1, 20)).unwrap();
    let snap = |seq| StoredSnapshot {
        seq,
        format: 1,
        board: vec![seq as u8; 3],
    };
    file.put_snapshot(&snap(10)).unwrap();
    file.put_snapshot(&snap(20)).unwrap();
    assert!(file.put_snapshot(&snap(21)).is_err(), "past the head");
    assert_eq!(file.snapshot_at_or_before(9).unwrap(), None);
    assert_eq!(file.snapshot_at_or_before(15).unwrap(), Some(snap(10)));
    assert_eq!(file.snapshot_at_or_before(99).unwrap(), Some(snap(20)));
}

#[test]
fn pruning_keeps_the_newest_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = SessionFile::create(dir.path().join("s.tabula"), "s").unwrap();
    file.append(&stored(1, 50)).unwrap();
    assert_eq!(file.prune_snapshots(2).unwrap(), 0, "nothing to prune");
    let snap = |seq| StoredSnapshot {
        seq,
        format: 1,
        board: vec![seq as u8; 3],
    };
    // Stored out of order: "newest" is by seq, not by when it was stored.
    for seq in [30, 10, 50, 20, 40] {
        file.put_snapshot(&snap(seq)).unwrap();
    }
    assert_eq!(file.prune_snapshots(2).unwrap(), 3);
    assert_eq!(file.snapshot_at_or_before(39).unwrap(), None);
    assert_eq!(file.snapshot_at_or_before(45).unwrap(), Some(snap(40)));
    assert_eq!(file.snapshot_at_or_before(50).unwrap(), Some(snap(50)));
    assert_eq!(file.prune_snapshots(2).unwrap(), 0);
    assert_eq!(file.prune_snapshots(usize::MAX).unwrap(), 0);
    assert_eq!(file.prune_snapshots(0).unwrap(), 2);
    assert_eq!(file.snapshot_at_or_before(50).unwrap(), None);
    // The ops are untouched.
    assert_eq!(file.head().unwrap(), 50);
}

#[test]
fn an_export_is_a_complete_session_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = SessionFile::create(dir.path().join("live.tabula"), "live").unwrap();
    file.append(&stored(1, 50)).unwrap();
    let out = dir.path().join("copy.tabula");
    file.export_to(&out).unwrap();
    assert!(matches!(
        file.export_to(&out),
        Err(SessionFileError::AlreadyExists { .. })
    ));
    // The copy keeps the identity pragmas and opens as a session in its own right.
    let copy = SessionFile::open_read_only(&out).unwrap();
    assert_eq!(copy.head().unwrap(), 50);
    assert_eq!(copy.meta().unwrap().room, "live");
    assert_eq!(
        copy.ops(0).collect::<Result<Vec<_>, _>>().unwrap(),
        file.ops(0).collect::<Result<Vec<_>, _>>().unwrap()
    );
}

#[test]
fn a_text_file_is_not_a_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.tabula");
    let text = "shopping list:\n- milk\n- bread\n".repeat(10);
    fs::write(&path, &text).unwrap();
    let err = SessionFile::open(&path).unwrap_err();
    assert!(matches!(err, SessionFileError::NotSqlite { .. }), "{err:?}");
    assert!(err.to_string().contains("notes.tabula"), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), text, "left untouched");
}

#[test]
fn a_foreign_sqlite_database_is_not_a_session_and_is_not_touched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
    }
    let before = fs::read(&path).unwrap();
    let err = SessionFile::open(&path).unwrap_err();
    assert!(
        matches!(err, SessionFileError::NotTabula { found: 0, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("other.db"), "{err}");
    assert_eq!(
        fs::read(&path).unwrap(),
        before,
        "not switched to WAL, not written"
    );
    assert!(!wal_path(&path).exists());
}

#[test]
fn older_formats_are_read_as_they_are_and_stamped_when_opened_for_writing() {
    let dir = tempfile::tempdir().unwrap();
    let version = |path: &Path| -> u32 {
        Connection::open(path)
            .unwrap()
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap()
    };
    for old in 1..FORMAT_VERSION {
        let path = dir.path().join(format!("old-{old}.tabula"));
        drop(SessionFile::create(&path, "old").unwrap());
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", old).unwrap();
            conn.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'format_version'",
                [old.to_string()],
            )
            .unwrap();
        }
        drop(SessionFile::open_read_only(&path).unwrap());
        assert_eq!(version(&path), old, "reading leaves the file alone");
        let file = SessionFile::open(&path).unwrap();
        assert_eq!(
            file.meta().unwrap().all["format_version"],
            FORMAT_VERSION.to_string()
        );
        drop(file);
        assert_eq!(version(&path), FORMAT_VERSION);
    }
}

#[test]
fn a_newer_format_is_refused_with_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.tabula");
    drop(SessionFile::create(&path, "f").unwrap());
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", FORMAT_VERSION + 1)
            .unwrap();
    }
    let err = SessionFile::open(&path).unwrap_err();
    assert!(
        matches!(err, SessionFileError::NewerVersion { found, .. } if found == FORMAT_VERSION + 1),
        "{err:?}"
    );
    assert!(err.to_string().contains("newer Tabula"), "{err}");
}

/// A session big enough to span many pages, closed so that the WAL is
/// checkpointed into the file.
fn big_session(dir: &Path) -> PathBuf {
    let path = dir.join("big.tabula");
    let mut file = SessionFile::create(&path, "big").unwrap();
    file.append(&stored(1, 3000)).unwrap();
    drop(file);
    assert!(!wal_path(&path).exists(), "closing checkpoints the log");
    path
}

#[test]
fn a_truncated_session_is_reported_as_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let path = big_session(dir.path());
    let len = fs::metadata(&path).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let err = SessionFile::open(&path).unwrap_err();
    assert!(matches!(err, SessionFileError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("big.tabula"), "{err}");
    // Cut inside the header, it cannot even be told from any other file.
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(10)
        .unwrap();
    assert!(matches!(
        SessionFile::open(&path),
        Err(SessionFileError::NotSqlite { .. })
    ));
}

#[test]
fn an_overwritten_session_is_reported_as_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let path = big_session(dir.path());
    let len = fs::metadata(&path).unwrap().len();
    let mut file = OpenOptions::new().write(true).open(&path).unwrap();
    // Garbage over pages in the middle of the ops table (the header is kept).
    file.seek(SeekFrom::Start(len / 3)).unwrap();
    file.write_all(&vec![0xA5; 16 * 1024]).unwrap();
    drop(file);
    let err = SessionFile::open(&path).unwrap_err();
    assert!(matches!(err, SessionFileError::Corrupt { .. }), "{err:?}");
}

#[test]
fn reopening_checks_what_the_file_is_but_not_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = big_session(dir.path());
    let mut file = SessionFile::open(&path).unwrap();
    file.append(&stored(3001, 3001)).unwrap();
    assert!(wal_path(&path).exists());
    file.close().unwrap();
    assert!(
        !wal_path(&path).exists(),
        "closing checkpoints the log away"
    );
    assert_eq!(SessionFile::reopen(&path).unwrap().head().unwrap(), 3001);

    let len = fs::metadata(&path).unwrap().len();
    let mut damaged = OpenOptions::new().write(true).open(&path).unwrap();
    damaged.seek(SeekFrom::Start(len / 3)).unwrap();
    damaged.write_all(&vec![0xA5; 16 * 1024]).unwrap();
    drop(damaged);
    assert!(SessionFile::open(&path).is_err());
    assert!(SessionFile::reopen(&path).is_ok(), "no quick_check");

    let other = dir.path().join("other.db");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x);")
        .unwrap();
    assert!(matches!(
        SessionFile::reopen(&other),
        Err(SessionFileError::NotTabula { .. })
    ));
}
