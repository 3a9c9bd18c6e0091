//! Images: inserted in one app and seen in another through a real relay, one
//! copy of each picture in the room's file, fetched by a late joiner, refused
//! with a sentence over the relay's cap; saved and opened with their
//! pictures; a missing or damaged picture shown as a placeholder; dropped on
//! the window, then moved and resized as a person would.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use egui::{Pos2, vec2};
use image::ImageFormat;
use tabula_app::files::documents::Documents;
use tabula_app::pictures::decode::{prepare, sample};
use tabula_app::pictures::{Lack, Shown};
use tabula_app::session::{ConnectionStatus, Session};
use tabula_server::Config;
use tabula_shared::blob::BlobId;
use tabula_shared::session_file::SessionFile;
use tabula_shared::{Object, ObjectKind, Point};

use crate::support::{self, Relay, drag, eventually, identity, window};

/// Polls the sessions until `done` holds.
fn wait_for(what: &str, sessions: &mut [&mut Session], done: impl Fn(&[&mut Session]) -> bool) {
    eventually(what, || {
        for session in sessions.iter_mut() {
            session.poll();
        }
        done(sessions).then_some(())
    });
}

/// Whether the session is in its room with nothing unacknowledged.
fn settled(session: &Session) -> bool {
    *session.status() == ConnectionStatus::Connected && session.board().pending_ops().count() == 0
}

/// The images on a board.
fn images(session: &Session) -> Vec<&Object> {
    session
        .board()
        .objects()
        .filter(|o| o.data.kind == ObjectKind::Image)
        .collect()
}

/// Whether the session holds the picture `id`.
fn holds(session: &Session, id: BlobId) -> bool {
    matches!(session.pictures().shown(id), Shown::Held(_))
}

/// Puts a `width`×`height` PNG on `session`'s board at `at`; its picture's id.
fn insert(session: &mut Session, width: u32, height: u32, at: f32) -> BlobId {
    let picture = prepare(sample(width, height, ImageFormat::Png)).expect("a sample picture");
    let id = picture.blob.id();
    let size = (width as f32, height as f32);
    session
        .insert_picture(picture, Point::new(at, at), size)
        .expect("inserted");
    id
}

#[test]
fn an_image_inserted_in_one_app_appears_in_another_and_a_late_joiner_with_one_copy_in_the_room() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let relay = Relay::start(
        &runtime,
        Config {
            data_dir: Some(data.path().to_path_buf()),
            ..Config::default()
        },
    );
    let url = relay.url("gallery");
    let mut ada = Session::offline(identity("Ada"));
    let mut bea = Session::offline(identity("Bea"));
    ada.join(&url, runtime.handle(), || {}).unwrap();
    bea.join(&url, runtime.handle(), || {}).unwrap();
    wait_for("both are in", &mut [&mut ada, &mut bea], |s| {
        s.iter().all(|s| settled(s))
    });

    let photo = insert(&mut ada, 320, 200, 0.0);
    // The same picture twice more: pasted again, and duplicated.
    assert_eq!(insert(&mut ada, 320, 200, 400.0), photo);
    let copy = images(&ada)[0].data.clone();
    ada.perform(vec![tabula_shared::Op::new(
        tabula_shared::OpKind::Create {
            object: tabula_shared::ObjectId::random(),
            data: copy,
        },
    )]);
    wait_for(
        "Bea sees three images and has their picture",
        &mut [&mut ada, &mut bea],
        |s| settled(s[0]) && images(s[1]).len() == 3 && holds(s[1], photo),
    );
    assert_eq!(ada.board(), bea.board());
    assert_eq!(
        bea.pictures().get(photo).map(|b| b.bytes().clone()),
        ada.pictures().get(photo).map(|b| b.bytes().clone())
    );

    let mut cleo = Session::offline(identity("Cleo"));
    cleo.join(&url, runtime.handle(), || {}).unwrap();
    wait_for(
        "the late joiner has the images and their picture",
        &mut [&mut cleo],
        |s| settled(s[0]) && images(s[0]).len() == 3 && holds(s[0], photo),
    );

    let file = SessionFile::open_read_only(data.path().join("rooms/gallery.tabula")).unwrap();
    assert_eq!(
        file.blob_ids().unwrap(),
        vec![photo],
        "one copy of the picture"
    );
    for session in [&mut ada, &mut bea, &mut cleo] {
        session.leave();
    }
    relay.stop(&runtime);
}

#[test]
fn a_picture_over_the_relays_cap_is_refused_with_a_sentence() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let relay = Relay::start(
        &runtime,
        Config {
            max_blob_bytes: 2048,
            ..Config::default()
        },
    );
    let url = relay.url("small");
    // Drawn on a board of one's own, then taken into a room whose relay
    // takes pictures of at most 2 KiB.
    let mut ada = Session::offline(identity("Ada"));
    let poster = insert(&mut ada, 400, 300, 0.0);
    let size = ada.pictures().get(poster).unwrap().len();
    assert!(size > 2048, "{size} bytes");
    ada.join(&url, runtime.handle(), || {}).unwrap();
    let said = eventually("the relay refuses the picture", || {
        ada.poll();
        ada.take_notices()
            .into_iter()
            .find(|notice| notice.contains("this relay takes images of at most 2 KiB"))
    });
    assert!(said.starts_with("The image is "), "{said}");
    assert!(said.ends_with("it was not shared."), "{said}");

    // Once in the room, the app says so before sending anything.
    let picture = prepare(sample(400, 300, ImageFormat::Png)).unwrap();
    assert!(
        ada.insert_picture(picture, Point::new(0.0, 0.0), (40.0, 30.0))
            .is_none()
    );
    let said = ada.take_notices().pop().unwrap();
    assert!(
        said.contains("this room's relay takes images of at most 2 KiB: it was not added."),
        "{said}"
    );
    ada.leave();
    relay.stop(&runtime);
}

/// Polls `docs` until no save is under way; the last save's outcome.
fn finish_saves(docs: &mut Documents, session: &Session) -> Result<(), String> {
    let mut last = Ok(());
    eventually("no save is under way", || {
        if let Some(result) = docs.poll_save(session) {
            last = result;
        }
        docs.saving().is_none().then_some(())
    });
    last
}

/// Opens `path` into a new session.
fn open(path: &Path) -> Session {
    let mut docs = support::documents();
    let mut session = Session::offline(identity("Reader"));
    docs.start_open(path, || {});
    eventually("the file is opened", || docs.poll_open(&mut session)).expect("the file opens");
    session
}

#[test]
fn a_session_file_keeps_each_picture_once_and_brings_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pictures.tabula");
    let mut session = Session::offline(identity("Ann"));
    let photo = insert(&mut session, 64, 48, 0.0);
    insert(&mut session, 64, 48, 100.0);
    let other = insert(&mut session, 30, 30, 200.0);
    let mut docs = support::documents();
    docs.save_as(&session, &path).unwrap();
    finish_saves(&mut docs, &session).unwrap();
    // Saved again after a change: the pictures are not stored twice.
    session.undo();
    docs.save(&session);
    finish_saves(&mut docs, &session).unwrap();

    let mut ids = vec![photo, other];
    ids.sort();
    let file = SessionFile::open_read_only(&path).unwrap();
    assert_eq!(file.blob_ids().unwrap(), ids);
    drop(file);

    let opened = open(&path);
    assert_eq!(opened.board(), session.board());
    assert!(holds(&opened, photo) && holds(&opened, other));
}

#[test]
fn a_missing_or_damaged_picture_is_a_placeholder_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.tabula");
    let mut session = Session::offline(identity("Ann"));
    let kept = insert(&mut session, 64, 48, 0.0);
    let lost = insert(&mut session, 30, 30, 200.0);
    let mut docs = support::documents();
    docs.save_as(&session, &path).unwrap();
    finish_saves(&mut docs, &session).unwrap();
    {
        // One picture's bytes overwritten, the other's row gone, as a disk
        // or another program could leave them.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE blobs SET bytes = zeroblob(100) WHERE id = ?1",
            [&kept.0[..]],
        )
        .unwrap();
        conn.execute("DELETE FROM blobs WHERE id = ?1", [&lost.0[..]])
            .unwrap();
    }
    let mut opened = open(&path);
    assert_eq!(images(&opened).len(), 2, "both images are on the board");
    assert!(matches!(
        opened.pictures().shown(kept),
        Shown::Lacking(Lack::Damaged(_))
    ));
    opened.poll();
    assert_eq!(
        opened.pictures().shown(lost),
        Shown::Lacking(&Lack::Missing),
        "a board in no room has nowhere to fetch it from"
    );

    // The window paints both as placeholders, frame after frame.
    let mut harness = window(support::app(opened));
    harness.run_steps(4);
    let ctx = harness.ctx.clone();
    let mut textures = tabula_app::canvas::images::Textures::default();
    let pictures = harness.state().session().pictures();
    for (id, says) in [(kept, "This image is damaged"), (lost, "missing")] {
        let tabula_app::canvas::images::Look::Placeholder(message) =
            textures.look(&ctx, pictures, id)
        else {
            panic!("a placeholder for {id}");
        };
        assert!(message.contains(says), "{message}");
    }
}

#[test]
fn pictures_that_do_not_decode_become_placeholders_once_read() {
    let ctx = egui::Context::default();
    let mut pictures = tabula_app::pictures::Pictures::default();
    let garbage = tabula_shared::blob::Blob::new(b"\x89PNG\r\n\x1a\nnot really".to_vec());
    pictures.insert(garbage.clone());
    let mut textures = tabula_app::canvas::images::Textures::default();
    let message = eventually("the decode ends", || {
        match textures.look(&ctx, &pictures, garbage.id()) {
            tabula_app::canvas::images::Look::Placeholder(m) if m.contains("damaged") => Some(m),
            _ => None,
        }
    });
    assert!(message.starts_with("This image is damaged"), "{message}");
}

/// A file dropped on the window, as the windowing system hands it over.
#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|err| err.to_string())
    }
}

#[test]
fn a_dropped_file_lands_under_the_pointer_selected_and_is_moved_and_resized_keeping_its_aspect() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chart.png");
    std::fs::write(&file, sample(200, 100, ImageFormat::Png)).unwrap();
    let mut harness = window(support::app(Session::offline(identity("Ann"))));
    let drop_at = Pos2::new(600.0, 400.0);
    harness.hover_at(drop_at);
    harness.run();
    harness
        .input_mut()
        .dropped_files
        .push(Arc::new(Dropped(file)));
    let image = eventually("the dropped picture lands", || {
        harness.step();
        images(harness.state().session()).first().map(|o| o.id)
    });
    harness.run();
    let app = harness.state();
    let placed = app.session().board().object(image).unwrap().frame();
    let screen_from_canvas = app.canvas().screen_from_canvas();
    let centre = screen_from_canvas * Pos2::new(placed.center().x, placed.center().y);
    assert!(centre.distance(drop_at) < 1.0, "landed at {centre:?}");
    assert!((placed.width() - 200.0).abs() < 0.01 && (placed.height() - 100.0).abs() < 0.01);
    assert!(app.canvas().selection().contains(image), "selected");
    assert!(holds(
        app.session(),
        BlobId::of(&std::fs::read(dir.path().join("chart.png")).unwrap())
    ));

    // Moved by dragging it.
    drag(&mut harness, centre, centre + vec2(120.0, 40.0), 6);
    let moved = harness
        .state()
        .session()
        .board()
        .object(image)
        .unwrap()
        .frame();
    assert!(
        (moved.min.x - placed.min.x - 120.0).abs() < 1.0,
        "{moved:?}"
    );
    assert!((moved.min.y - placed.min.y - 40.0).abs() < 1.0, "{moved:?}");

    // Resized by its bottom-right corner: it keeps its aspect, 2:1.
    let corner =
        harness.state().canvas().screen_from_canvas() * Pos2::new(moved.max.x, moved.max.y);
    drag(&mut harness, corner, corner + vec2(100.0, 10.0), 6);
    let resized = harness
        .state()
        .session()
        .board()
        .object(image)
        .unwrap()
        .frame();
    assert!((resized.width() - 300.0).abs() < 1.5, "{resized:?}");
    assert!(
        (resized.width() / resized.height() - 2.0).abs() < 0.02,
        "{resized:?}"
    );
    assert!(
        (resized.min.x - moved.min.x).abs() < 0.01,
        "the opposite corner stays"
    );

    // With shift, it goes where it is dragged.
    let corner =
        harness.state().canvas().screen_from_canvas() * Pos2::new(resized.max.x, resized.max.y);
    harness.event(egui::Event::ModifiersChanged(egui::Modifiers::SHIFT));
    drag(&mut harness, corner, corner + vec2(0.0, 100.0), 6);
    harness.event(egui::Event::ModifiersChanged(egui::Modifiers::NONE));
    let free = harness
        .state()
        .session()
        .board()
        .object(image)
        .unwrap()
        .frame();
    assert!((free.width() - resized.width()).abs() < 1.0, "{free:?}");
    assert!(
        (free.height() - resized.height() - 100.0).abs() < 1.5,
        "{free:?}"
    );
}
