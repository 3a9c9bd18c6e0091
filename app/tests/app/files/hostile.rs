//! Files made to harm whoever opens them: a view or a trigger in the schema,
//! a frame far longer than any op, a snapshot holding a line of no points.
//! Each is refused with a message naming the file and the reason, or, for
//! the object, skipped and reported once; the app never panics or hangs.

use std::path::Path;

use tabula_app::files::SNAPSHOT_EVERY;
use tabula_app::session::Session;
use tabula_shared::codec::MAX_FRAME_BYTES;
use tabula_shared::object::{Fill, ObjectData, ObjectKind};
use tabula_shared::{ClientId, Color, Object, ObjectId, decode_snapshot, encode_snapshot};

use super::{draw_things, refused, save_as_now, saved, wait_for_open};
use crate::support::{documents, identity};

/// Runs `sql` on the file at `path` with a plain connection, as someone
/// crafting it would.
fn craft(path: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(path).expect("the file opens in SQLite");
    conn.execute_batch(sql).expect("the crafting SQL runs");
    conn.close().expect("closed");
}

#[test]
fn a_view_a_trigger_or_an_overlong_frame_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let view = saved(dir.path(), "view.tabula");
    craft(
        &view,
        "CREATE VIEW slow AS SELECT a.frame FROM ops a, ops b, ops c, ops d",
    );
    refused(&view, "a view named \"slow\"");

    let trigger = saved(dir.path(), "trigger.tabula");
    craft(
        &trigger,
        "CREATE TRIGGER wipe AFTER UPDATE ON meta BEGIN DELETE FROM ops; END",
    );
    refused(&trigger, "a trigger named \"wipe\"");

    let fat = saved(dir.path(), "fat.tabula");
    craft(
        &fat,
        &format!(
            "UPDATE ops SET frame = zeroblob({}) WHERE seq = 5",
            4 * MAX_FRAME_BYTES
        ),
    );
    refused(&fat, "op 5's frame");
}

#[test]
fn a_line_of_no_points_in_a_snapshot_is_skipped_and_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pointless.tabula");
    let mut session = Session::offline(identity("Ann"));
    while (session.log().len() as u64) < SNAPSHOT_EVERY {
        draw_things(&mut session);
    }
    let mut docs = documents();
    save_as_now(&mut docs, &session, &path).unwrap();
    let expected = session.board().snapshot();

    // The newest snapshot gets a line with no points (which drew as
    // `points[0]` and panicked) and a text far past the text cap.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (seq, board): (i64, Vec<u8>) = conn
        .query_row(
            "SELECT seq, board FROM snapshots ORDER BY seq DESC LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    let mut snapshot = decode_snapshot(&board).unwrap();
    let bad = |kind, points: Vec<tabula_shared::Point>, text: String| Object {
        id: ObjectId::random(),
        author: ClientId::random(),
        data: ObjectData {
            kind,
            points,
            color: Color::rgb(1, 2, 3),
            width: 2.0,
            fill: Fill::None,
            text,
            font_size: 24.0,
        },
        offset: tabula_shared::Point::new(0.0, 0.0),
        layer: 1,
        finished: true,
        deleted: false,
    };
    snapshot
        .objects
        .push(bad(ObjectKind::Line, Vec::new(), String::new()));
    snapshot.objects.push(bad(
        ObjectKind::Text,
        vec![tabula_shared::Point::new(5.0, 5.0)],
        "x".repeat(1 << 20),
    ));
    conn.execute(
        "UPDATE snapshots SET board = ?1 WHERE seq = ?2",
        rusqlite::params![encode_snapshot(&snapshot).unwrap(), seq],
    )
    .unwrap();
    conn.close().unwrap();

    let mut opened = Session::offline(identity("Bea"));
    let mut docs = documents();
    docs.start_open(&path, || {});
    wait_for_open(&mut docs, &mut opened).expect("opened");
    assert_eq!(
        opened.board().snapshot().objects,
        expected.objects,
        "everything but the two"
    );
    let notices = opened.take_notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].contains("Skipped 2 changes"), "{notices:?}");
    assert!(opened.take_notices().is_empty(), "said once");
}
