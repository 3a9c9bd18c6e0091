//! Replay mode in a headless window (kittest): the timeline's buttons and
//! slider change the board on show, and "Back to live" returns to the board.

use egui::vec2;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use tabula_app::app::TabulaApp;
use tabula_app::files::saving::save_session;
use tabula_app::session::Session;
use tabula_shared::object::{Fill, ObjectData, ObjectKind};
use tabula_shared::{ClientId, Color, ObjectId, Op, OpKind, Point, SequencedOp};

use crate::support::{app, eventually, identity, window};

/// How many ops the recorded session has: one rectangle each, a second apart.
const OPS: u64 = 12;

/// A rectangle at `x`.
fn rectangle(x: f32) -> OpKind {
    OpKind::Create {
        object: ObjectId::random(),
        data: ObjectData {
            kind: ObjectKind::Rectangle,
            points: vec![Point::new(x, 100.0), Point::new(x + 40.0, 160.0)],
            color: Color::rgb(30, 30, 30),
            width: 2.0,
            fill: Fill::Translucent,
            text: String::new(),
            font_size: 20.0,
        },
    }
}

/// Two people each adding a rectangle in turn, one op a second.
fn recording() -> Vec<SequencedOp> {
    let authors = [ClientId::random(), ClientId::random()];
    (1..=OPS)
        .map(|seq| SequencedOp {
            seq,
            author: authors[(seq % 2) as usize],
            timestamp_ms: 1_700_000_000_000 + seq * 1_000,
            op: Op::new(rectangle(seq as f32 * 60.0)),
        })
        .collect()
}

/// The app with the recording opened from a file, in replay mode.
fn replaying(dir: &std::path::Path) -> Harness<'static, TabulaApp> {
    replaying_ops(dir, &recording())
}

/// The app with `ops` opened from a file, in replay mode.
fn replaying_ops(dir: &std::path::Path, ops: &[SequencedOp]) -> Harness<'static, TabulaApp> {
    let path = dir.join("meeting.tabula");
    save_session(&path, "meeting", ops).expect("saved");
    let mut app = app(Session::offline(identity("Ada")));
    app.open_file(&path).expect("opens");
    let mut harness = window(app);
    assert_eq!(
        harness.state().session().board().object_count(),
        tabula_shared::Board::from_sequenced(ops).object_count()
    );
    harness.get_by_label("File").click();
    harness.run();
    harness.get_by_label("Replay…").click();
    harness.run();
    harness
}

/// How many objects the board on show has, and the replay's position.
fn shown(harness: &Harness<'_, TabulaApp>) -> (usize, u64) {
    let replay = harness.state().replay().expect("in replay mode");
    (replay.board().object_count(), replay.replay().position())
}

#[test]
fn play_and_pause_move_the_board_on_show_through_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = replaying(dir.path());
    assert_eq!(
        shown(&harness),
        (0, 0),
        "a replay starts at the empty board"
    );

    harness.get_by_label("Play").click();
    // Ops are a second apart; a frame is a quarter second at 1×.
    harness.run_steps(9);
    let (objects, position) = shown(&harness);
    assert!((2..=4).contains(&position), "at op {position}");
    assert_eq!(objects as u64, position, "the board follows the playhead");

    harness.get_by_label("Pause").click();
    harness.run_steps(8);
    let paused = shown(&harness);
    harness.run_steps(8);
    assert_eq!(shown(&harness), paused, "nothing moves while paused");
    assert!(paused.1 < OPS);

    // Playing on to the end stops there with the whole board.
    harness.get_by_label("Play").click();
    harness.run_steps(80);
    assert_eq!(shown(&harness), (OPS as usize, OPS));
    assert!(!harness.state().replay().unwrap().player().is_playing());
}

#[test]
fn steps_jumps_and_the_slider_seek() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = replaying(dir.path());
    harness.get_by_label("»").click();
    harness.run();
    assert_eq!(shown(&harness), (OPS as usize, OPS));
    harness.get_by_label("‹").click();
    harness.run();
    assert_eq!(shown(&harness), (OPS as usize - 1, OPS - 1));
    harness.get_by_label("«").click();
    harness.run();
    harness.get_by_label("›").click();
    harness.run();
    assert_eq!(shown(&harness), (1, 1));

    // A click on the slider's track, three quarters along, seeks there.
    let track = harness.get_by_label("position").rect();
    let at = track.lerp_inside(vec2(0.75, 0.5));
    harness.hover_at(at);
    harness.run();
    harness.drag_at(at);
    harness.run();
    harness.drop_at(at);
    harness.run();
    let (objects, position) = shown(&harness);
    assert!((6..=11).contains(&position), "at op {position}");
    assert_eq!(objects as u64, position);
}

#[test]
fn drawing_is_off_while_replaying_and_back_to_live_returns_to_the_board() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = replaying(dir.path());
    // A drag with the pen over the canvas draws nothing.
    harness.key_press(egui::Key::P);
    harness.run();
    let from = egui::pos2(400.0, 500.0);
    harness.drag_at(from);
    harness.run();
    harness.hover_at(from + vec2(80.0, 40.0));
    harness.run();
    harness.drop_at(from + vec2(80.0, 40.0));
    harness.run();
    assert_eq!(
        harness.state().session().board().object_count(),
        OPS as usize
    );
    assert_eq!(shown(&harness), (0, 0));

    harness.get_by_label("Back to live").click();
    harness.run();
    assert!(harness.state().replay().is_none());
    assert_eq!(
        harness.state().session().board().object_count(),
        OPS as usize
    );
}

#[test]
fn the_live_board_replays_to_itself() {
    let mut session = Session::offline(identity("Bo"));
    for op in recording() {
        session.perform(vec![Op::new(op.op.kind)]);
    }
    let live = session.board().clone();
    let mut app = app(session);
    app.start_replay();
    let replay = app.replay().expect("replaying");
    assert_eq!(replay.replay().len(), OPS);
    assert_eq!(replay.replay().final_board(), &live);
}

#[test]
fn a_live_rooms_replay_grows_as_its_ops_arrive() {
    use tabula_app::net::Event;
    use tabula_app::net::connection::Connection;

    let (connection, remote) = Connection::detached();
    let mut harness = window(app(Session::with_connection(identity("Cy"), connection)));
    let mut ops = recording().into_iter();
    for op in ops.by_ref().take(5) {
        remote.events.send(Event::Op(op)).unwrap();
    }
    harness.run();
    assert_eq!(harness.state().session().log().len(), 5);
    harness.state_mut().start_replay();
    harness.run();
    assert!(harness.state().replay().unwrap().is_live());
    harness.get_by_label("»").click();
    harness.run();
    assert_eq!(shown(&harness), (5, 5));

    // The room goes on while we watch: the track grows, the playhead stays.
    for op in ops {
        remote.events.send(Event::Op(op)).unwrap();
    }
    harness.run();
    let replay = harness.state().replay().unwrap();
    assert_eq!(replay.replay().len(), OPS);
    assert_eq!(shown(&harness), (5, 5));
    harness.get_by_label("»").click();
    harness.run();
    assert_eq!(shown(&harness), (OPS as usize, OPS));
    assert_eq!(
        harness.state().replay().unwrap().board(),
        harness.state().session().board()
    );
}

/// Width and height from a PNG's header.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    (word(16), word(20))
}

#[test]
fn a_timelapse_is_frames_of_one_size_from_the_empty_board_to_the_last() {
    use tabula_app::export::timelapse::{frame_positions, write_frames};
    use tabula_shared::replay::{Replay, Timeline};

    let ops = recording();
    let timeline = Timeline::new(&ops, None);
    // 11 s of session, 12 frames: one a second.
    let positions = frame_positions(&timeline, 12);
    assert_eq!(positions, (1..=12).collect::<Vec<u64>>());
    assert_eq!(frame_positions(&timeline, 1), [12], "one frame is the end");

    let dir = tempfile::tempdir().unwrap();
    let mut replay = Replay::from_ops(ops).unwrap();
    let mut seen = Vec::new();
    let frames = dir.path().join("frames");
    let written = write_frames(&mut replay, &[0, 3, 6, 12], &frames, |n| {
        seen.push(n);
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!((written.frames, written.of), (4, 4));
    assert_eq!(seen, [1, 2, 3, 4], "progress after each frame");
    let read = |n: usize| std::fs::read(frames.join(format!("frame-{n:05}.png"))).unwrap();
    let pictures: Vec<Vec<u8>> = (1..=4).map(read).collect();
    let size = png_size(&pictures[0]);
    assert!(
        size.0 > 600 && size.1 > 60,
        "the final board's area: {size:?}"
    );
    assert!(pictures.iter().all(|p| png_size(p) == size), "one size");
    assert_ne!(pictures[0], pictures[3], "the board grows");
}

#[test]
fn export_frames_shows_progress_and_writes_the_frames() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = replaying(dir.path());
    let frames = dir.path().join("lapse");
    let field = harness
        .query_all_by_role(egui::accesskit::Role::TextInput)
        .next()
        .expect("the folder field");
    field.click();
    harness.run();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.event(egui::Event::Text(frames.display().to_string()));
    harness.run();
    harness.get_by_label("Export frames").click();
    // The progress bar animates: step frames rather than wait for a still one.
    harness.step();
    eventually("the frames are written", || {
        if harness.query_by_label_contains("frames in").is_some() {
            return Some(());
        }
        harness.step();
        None
    });
    // 11 s at 1× with pauses compressed, 30 frames a second.
    let count = std::fs::read_dir(&frames).unwrap().count();
    assert_eq!(count, 330);
}

#[test]
fn a_timelapse_export_can_be_cancelled_and_says_how_many_frames_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = replaying(dir.path());
    let frames = dir.path().join("lapse");
    std::fs::create_dir(&frames).unwrap();
    // The first frame's file is a named pipe: writing it waits for a reader.
    let first = frames.join("frame-00001.png");
    let made = std::process::Command::new("mkfifo")
        .arg(&first)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let field = harness
        .query_all_by_role(egui::accesskit::Role::TextInput)
        .next()
        .expect("the folder field");
    field.click();
    harness.run();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.event(egui::Event::Text(frames.display().to_string()));
    harness.run();
    harness.get_by_label("Export frames").click();
    harness.step();
    harness.get_by_label("Cancel").click();
    harness.step();
    let job = harness.state().replay().unwrap().timelapse().unwrap();
    assert!(
        job.is_cancelled() && job.outcome().is_none(),
        "still writing frame 1"
    );

    let picture = std::fs::read(&first).expect("the pipe is read");
    assert_eq!(&picture[..4], b"\x89PNG");
    let said = format!("Cancelled: 1 of 330 frames written to {}", frames.display());
    eventually("the timelapse stops", || {
        harness.step();
        harness.query_by_label(&said).map(|_| ())
    });
    assert_eq!(
        std::fs::read_dir(&frames).unwrap().count(),
        1,
        "no frame after the one being written"
    );
}

/// A meeting as the relay records it, an op a second but for a minute's
/// pause: Ann and Bo join, draw, Bo leaves, Ann stays; Cy's client never had
/// its join recorded.
fn meeting() -> (Vec<SequencedOp>, [ClientId; 3]) {
    let people @ [ann, bo, cy] = [ClientId::random(), ClientId::random(), ClientId::random()];
    let joined = |name: &str, color| OpKind::Joined {
        name: name.to_owned(),
        color,
    };
    let kinds = [
        (ann, joined("Ann", Color::rgb(0xe0, 0x31, 0x31))),
        (bo, joined("Bo", Color::rgb(0x19, 0x71, 0xc2))),
        (ann, rectangle(0.0)),
        (bo, rectangle(60.0)),
        (ann, rectangle(120.0)),
        (bo, rectangle(180.0)),
        (bo, OpKind::Left),
        (ann, rectangle(240.0)),
        (cy, rectangle(300.0)),
        (ann, rectangle(360.0)),
    ];
    let ops = (1..)
        .zip(kinds)
        .map(|(seq, (author, kind))| SequencedOp {
            seq,
            author,
            // A minute's pause before Cy's op.
            timestamp_ms: 1_700_000_000_000 + (seq - 1) * 1_000 + if seq >= 9 { 60_000 } else { 0 },
            op: Op::new(kind),
        })
        .collect();
    (ops, people)
}

#[test]
fn the_participants_strip_names_who_joined_and_left_and_when() {
    use egui_kittest::kittest::NodeT as _;

    let dir = tempfile::tempdir().unwrap();
    let (ops, [_, _, cy]) = meeting();
    let mut harness = replaying_ops(dir.path(), &ops);
    let participants = harness.state().replay().unwrap().replay().participants();
    let names: Vec<Option<&str>> = participants
        .iter()
        .map(|p| p.identity.as_ref().map(|(name, _)| name.as_str()))
        .collect();
    assert_eq!(names, [Some("Ann"), Some("Bo"), None]);

    let strip = harness.get_by_label("participants");
    let height = strip.rect().height();
    assert!((height - 30.0).abs() < 0.5, "a row per person: {height}");
    let description = strip.accesskit_node().description().unwrap_or_default();
    let lines: Vec<&str> = description.lines().collect();
    assert_eq!(
        lines,
        [
            "Ann: joined 0:00, still there at the end · 4 ops".to_owned(),
            "Bo: joined 0:01, left 0:06 · 2 ops".to_owned(),
            // In the session's time, though the replay compresses the pause.
            format!("{cy}: active at 1:08 · 1 op"),
        ]
    );

    // Hovering the strip shows the same in a tooltip.
    assert!(harness.query_by_label("Bo").is_none());
    let hover = strip.rect().center();
    harness.hover_at(hover);
    harness.run_steps(4);
    for name in ["Ann", "Bo", &cy.to_string()] {
        assert!(
            harness.query_by_label(name).is_some(),
            "{name} in the tooltip"
        );
    }
    assert!(
        harness
            .query_by_label("joined 0:01, left 0:06 · 2 ops")
            .is_some()
    );
}

/// The recording, then the first rectangle moved and the second deleted.
fn recording_with_changes() -> (Vec<SequencedOp>, [ObjectId; 2]) {
    let mut ops = recording();
    let object = |k: usize| match ops[k].op.kind {
        OpKind::Create { object, .. } => object,
        _ => unreachable!("the recording creates"),
    };
    let (first, second) = (object(0), object(1));
    for kind in [
        OpKind::Set {
            object: first,
            property: tabula_shared::Property::Offset(Point::new(500.0, 300.0)),
        },
        OpKind::Delete { object: second },
    ] {
        let seq = ops.len() as u64 + 1;
        ops.push(SequencedOp {
            seq,
            author: ops[0].author,
            timestamp_ms: 1_700_000_000_000 + seq * 1_000,
            op: Op::new(kind),
        });
    }
    (ops, [first, second])
}

/// What the board shows: each object on show with where it is.
fn on_show(board: &tabula_shared::Board) -> Vec<(ObjectId, Point)> {
    board.objects().map(|o| (o.id, o.offset)).collect()
}

/// Steps the replay from the start to op `k`.
fn seek_to(harness: &mut Harness<'static, TabulaApp>, k: u64) {
    harness.get_by_label("«").click();
    harness.run();
    for _ in 0..k {
        harness.get_by_label("›").click();
        harness.run();
    }
    assert_eq!(shown(harness).1, k);
}

#[test]
fn restore_to_here_brings_the_board_back_as_one_change_that_undo_takes_back() {
    let dir = tempfile::tempdir().unwrap();
    let (ops, [first, second]) = recording_with_changes();
    let mut harness = replaying_ops(dir.path(), &ops);
    let now = on_show(harness.state().session().board());
    seek_to(&mut harness, 5);
    let then = on_show(harness.state().replay().expect("replaying").board());
    assert_eq!(then.len(), 5);

    harness.get_by_label("Restore to here").click();
    harness.run();
    assert!(harness.state().replay().is_none(), "back on the board");
    let session = harness.state().session();
    assert_eq!(on_show(session.board()), then);
    assert_eq!(
        session.board().object(first).expect("shown").offset,
        Point::new(0.0, 0.0)
    );
    assert!(session.board().object(second).is_some(), "restored");
    // The history after op 5 stays: the restore came after it.
    assert!(session.log().len() + session.board().pending_ops().count() > ops.len());
    assert!(
        harness
            .state()
            .notices()
            .texts()
            .any(|t| t.contains("as it was at op 5")),
        "said so"
    );

    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    harness.run();
    assert_eq!(on_show(harness.state().session().board()), now, "undone");
}

#[test]
fn start_a_new_board_from_here_opens_the_board_then_with_its_history_in_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let (ops, _) = recording_with_changes();
    let mut harness = replaying_ops(dir.path(), &ops);
    assert!(harness.state().documents().current().is_some());
    seek_to(&mut harness, 7);
    let then = on_show(harness.state().replay().expect("replaying").board());

    harness.get_by_label("Start a new board from here").click();
    harness.run();
    assert!(harness.state().replay().is_none());
    let session = harness.state().session();
    assert_eq!(on_show(session.board()), then);
    assert_eq!(session.log(), &ops[..7], "its history to there");
    assert_eq!(
        harness.state().documents().current(),
        None,
        "in no file yet"
    );
    // The file it came from keeps everything.
    let kept = tabula_app::files::opening::load_session(&dir.path().join("meeting.tabula"))
        .expect("reads");
    assert_eq!(kept, ops);
}

#[test]
fn what_the_operators_did_shows_under_the_participants() {
    use egui_kittest::kittest::NodeT as _;
    use tabula_shared::Moderated;

    let dir = tempfile::tempdir().unwrap();
    let (mut ops, [ann, bo, _]) = meeting();
    // Without operators' records there is no row for them.
    let harness = replaying_ops(dir.path(), &ops);
    assert!(harness.query_by_label("room events").is_none());
    drop(harness);
    let last = ops.last().unwrap().clone();
    for (n, kind) in [
        OpKind::Moderated(Moderated::Kicked { client: bo }),
        OpKind::Moderated(Moderated::Locked(true)),
    ]
    .into_iter()
    .enumerate()
    {
        let seq = last.seq + 1 + n as u64;
        ops.push(SequencedOp {
            seq,
            author: ann,
            timestamp_ms: last.timestamp_ms + 1_000 * (n as u64 + 1),
            op: Op::new(kind),
        });
    }
    let harness = replaying_ops(dir.path(), &ops);
    let events = harness.get_by_label("room events");
    let description = events.accesskit_node().description().unwrap_or_default();
    assert_eq!(
        description.lines().collect::<Vec<_>>(),
        ["1:10 Ann removed Bo", "1:11 Ann locked the room"]
    );
}
