//! Writes the fuzz targets' seeds into `fuzz/seeds/`: real frames, a real
//! snapshot and a real sequence of ops, so that mutations start past the
//! codec's prefix and bincode's layout instead of searching for them.
//!
//!     cargo run --manifest-path fuzz/Cargo.toml --bin make_seeds

use std::fs;
use std::path::Path;

use tabula_shared::codec::SNAPSHOT_FORMAT;
use tabula_shared::object::{Fill, ObjectData, ObjectKind, Property};
use tabula_shared::session_file::{SessionFile, StoredOp, StoredSnapshot};
use tabula_shared::{
    Board, ClientId, ClientMessage, Color, Credentials, Hello, ObjectId, Op, OpKind,
    PROTOCOL_VERSION, Point, SequencedOp, ServerMessage, StrokeId, StrokeStyle, encode,
    encode_snapshot,
};

fn main() -> std::io::Result<()> {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let author = ClientId::random();
    let ops = drawing();
    let sequenced: Vec<SequencedOp> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| SequencedOp {
            seq: i as u64 + 1,
            author,
            timestamp_ms: 1_700_000_000_000 + i as u64,
            op: op.clone(),
        })
        .collect();

    let frames = seeds.join("frame_decoder");
    fs::create_dir_all(&frames)?;
    let hello = ClientMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        room: "design-review".to_owned(),
        name: "Ada".to_owned(),
        color: Color::rgb(200, 40, 40),
        client: author,
        last_seen: 12,
        last_op: None,
        credentials: Credentials::default(),
    });
    let mut messages = vec![
        encode(&hello),
        encode(&ClientMessage::Cursor(Some(Point::new(3.0, 4.0)))),
        encode(&ClientMessage::FetchHistory { after: 1, up_to: 9 }),
        encode(&ServerMessage::PeerLeft { client: author }),
    ];
    for op in &ops {
        messages.push(encode(&ClientMessage::Op(op.clone())));
    }
    for op in &sequenced {
        messages.push(encode(&ServerMessage::Op(op.clone())));
    }
    for (i, message) in messages.into_iter().enumerate() {
        fs::write(frames.join(format!("{i:03}")), message.expect("encodes"))?;
    }

    let board = Board::from_sequenced(&sequenced);
    let snapshots = seeds.join("snapshot_decoder");
    fs::create_dir_all(&snapshots)?;
    fs::write(
        snapshots.join("board"),
        encode_snapshot(&board.snapshot()).expect("encodes"),
    )?;

    let runs = seeds.join("board_ops");
    fs::create_dir_all(&runs)?;
    let mut run = Vec::new();
    for op in &sequenced {
        let frame = encode(&ServerMessage::Op(op.clone())).expect("encodes");
        let length = u16::try_from(frame.len()).expect("a small frame");
        run.extend_from_slice(&length.to_le_bytes());
        run.extend_from_slice(&frame);
    }
    fs::write(runs.join("drawing"), run)?;

    let files = seeds.join("session_file");
    fs::create_dir_all(&files)?;
    let path = files.join("small.tabula");
    let _ = fs::remove_file(&path);
    let mut file = SessionFile::create(&path, "design-review").expect("created");
    let stored: Vec<StoredOp> = sequenced
        .iter()
        .map(|op| StoredOp::encode(op).expect("encodes"))
        .collect();
    file.append(&stored).expect("appended");
    file.put_snapshot(&StoredSnapshot {
        seq: board.last_seq(),
        format: SNAPSHOT_FORMAT,
        board: encode_snapshot(&board.snapshot()).expect("encodes"),
    })
    .expect("snapshot stored");
    file.close().expect("closed");
    println!("seeds written to {}", seeds.display());
    Ok(())
}

/// A little of everything: a stroke streamed, each kind of shape, a text,
/// restyles, a move, a delete and restore, restacking, a clear.
fn drawing() -> Vec<Op> {
    let stroke = StrokeId::random();
    let style = StrokeStyle {
        color: Color::rgb(20, 20, 20),
        width: 3.0,
    };
    let mut ops = vec![
        Op::new(OpKind::StrokeBegin {
            stroke,
            style,
            start: Point::new(0.0, 0.0),
        }),
        Op::new(OpKind::StrokeAppend {
            stroke,
            points: vec![Point::new(5.0, 2.0), Point::new(9.0, 7.0)],
        }),
        Op::new(OpKind::StrokeEnd { stroke }),
    ];
    let mut ids = Vec::new();
    for (kind, points, text) in [
        (
            ObjectKind::Line,
            vec![Point::new(0.0, 0.0), Point::new(50.0, 5.0)],
            "",
        ),
        (
            ObjectKind::Arrow,
            vec![Point::new(0.0, 9.0), Point::new(40.0, 30.0)],
            "",
        ),
        (
            ObjectKind::Rectangle,
            vec![Point::new(10.0, 10.0), Point::new(80.0, 60.0)],
            "",
        ),
        (
            ObjectKind::Ellipse,
            vec![Point::new(-20.0, 5.0), Point::new(30.0, 45.0)],
            "",
        ),
        (
            ObjectKind::Text,
            vec![Point::new(100.0, 100.0)],
            "hello\nworld",
        ),
    ] {
        let object = ObjectId::random();
        ids.push(object);
        ops.push(Op::new(OpKind::Create {
            object,
            data: ObjectData {
                kind,
                points,
                color: Color::rgb(30, 90, 200),
                width: 2.0,
                fill: Fill::Translucent,
                text: text.to_owned(),
                font_size: 24.0,
            },
        }));
    }
    ops.push(Op::new(OpKind::Set {
        object: ids[0],
        property: Property::Offset(Point::new(4.0, 4.0)),
    }));
    ops.push(Op::new(OpKind::Set {
        object: ids[4],
        property: Property::Text("changed".to_owned()),
    }));
    ops.push(Op::new(OpKind::Delete { object: ids[1] }));
    ops.push(Op::new(OpKind::Restore { object: ids[1] }));
    ops.push(Op::new(OpKind::ToBack { object: ids[2] }));
    ops.push(Op::new(OpKind::ToFront { object: ids[3] }));
    ops.push(Op::new(OpKind::Clear));
    ops
}
