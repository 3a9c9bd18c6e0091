//! Proptest strategies for messages and op scripts, shared by the unit tests.

use proptest::prelude::*;
use uuid::Uuid;

use crate::{
    ClientId, ClientMessage, Color, Credentials, ErrorCode, Hello, Op, OpId, OpKind, PeerInfo,
    Point, SequencedOp, ServerMessage, StrokeId, StrokeStyle, Welcome,
};

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn point() -> impl Strategy<Value = Point> {
    (-1.0e6f32..1.0e6, -1.0e6f32..1.0e6).prop_map(|(x, y)| Point::new(x, y))
}

fn color() -> impl Strategy<Value = Color> {
    any::<[u8; 4]>().prop_map(|[r, g, b, a]| Color { r, g, b, a })
}

fn style() -> impl Strategy<Value = StrokeStyle> {
    (color(), 0.1f32..64.0).prop_map(|(color, width)| StrokeStyle { color, width })
}

fn op_kind(strokes: Vec<StrokeId>) -> impl Strategy<Value = OpKind> {
    let pick = proptest::sample::select(strokes);
    prop_oneof![
        (pick.clone(), style(), point()).prop_map(|(stroke, style, start)| OpKind::StrokeBegin {
            stroke,
            style,
            start
        }),
        (pick.clone(), proptest::collection::vec(point(), 0..8))
            .prop_map(|(stroke, points)| OpKind::StrokeAppend { stroke, points }),
        pick.prop_map(|stroke| OpKind::StrokeEnd { stroke }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    (uuid(), uuid()).prop_flat_map(|(id, stroke)| {
        op_kind(vec![StrokeId(stroke)]).prop_map(move |kind| Op { id: OpId(id), kind })
    })
}

fn peer() -> impl Strategy<Value = PeerInfo> {
    (uuid(), ".{0,16}", color()).prop_map(|(id, name, color)| PeerInfo {
        client: ClientId(id),
        name,
        color,
    })
}

fn sequenced_op() -> impl Strategy<Value = SequencedOp> {
    (any::<u64>(), uuid(), any::<u64>(), op()).prop_map(|(seq, author, timestamp_ms, op)| {
        SequencedOp {
            seq,
            author: ClientId(author),
            timestamp_ms,
            op,
        }
    })
}

/// Any client → relay message.
pub fn client_message() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        (
            any::<u16>(),
            "[a-z0-9-]{1,64}",
            ".{0,32}",
            color(),
            uuid(),
            any::<u64>(),
            proptest::option::of(".{0,16}")
        )
            .prop_map(
                |(protocol, room, name, color, client, last_seen, password)| {
                    ClientMessage::Hello(Hello {
                        protocol,
                        room,
                        name,
                        color,
                        client: ClientId(client),
                        last_seen,
                        credentials: Credentials { password },
                    })
                }
            ),
        op().prop_map(ClientMessage::Op),
        proptest::option::of(point()).prop_map(ClientMessage::Cursor),
    ]
}

/// Any relay → client message.
pub fn server_message() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        (
            "[a-z]{1,8}",
            proptest::collection::vec(peer(), 0..4),
            any::<u64>(),
            any::<u64>()
        )
            .prop_map(
                |(room, peers, replay_from, head)| ServerMessage::Welcome(Welcome {
                    room,
                    peers,
                    replay_from,
                    head
                })
            ),
        sequenced_op().prop_map(ServerMessage::Op),
        (uuid(), any::<u64>(), any::<u64>()).prop_map(|(op, seq, timestamp_ms)| {
            ServerMessage::Ack {
                op: OpId(op),
                seq,
                timestamp_ms,
            }
        }),
        peer().prop_map(ServerMessage::PeerJoined),
        uuid().prop_map(|c| ServerMessage::PeerLeft {
            client: ClientId(c)
        }),
        (uuid(), proptest::option::of(point())).prop_map(|(c, position)| {
            ServerMessage::Cursor {
                client: ClientId(c),
                position,
            }
        }),
        (
            prop_oneof![
                Just(ErrorCode::UnexpectedMessage),
                Just(ErrorCode::InvalidOp)
            ],
            ".{0,40}"
        )
            .prop_map(|(code, message)| ServerMessage::Error { code, message }),
    ]
}

/// Three authors and a relay-ordered list of their ops over a handful of strokes,
/// each stroke begun by one author (others' ops on it must be ignored).
#[derive(Clone, Debug)]
pub struct Script {
    /// The authors; ops name them by index.
    pub authors: Vec<ClientId>,
    /// Ops in the relay's order, with the index of their author.
    pub ops: Vec<(usize, Op)>,
}

/// A random [`Script`].
pub fn script() -> impl Strategy<Value = Script> {
    let strokes: Vec<StrokeId> = (0..6u128)
        .map(|i| StrokeId(Uuid::from_u128(i + 1)))
        .collect();
    proptest::collection::vec((0usize..3, op_kind(strokes)), 0..64).prop_map(|ops| Script {
        authors: (0..3u128)
            .map(|i| ClientId(Uuid::from_u128(100 + i)))
            .collect(),
        ops: ops
            .into_iter()
            .map(|(author, kind)| (author, Op::new(kind)))
            .collect(),
    })
}
