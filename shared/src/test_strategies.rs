//! Proptest strategies for messages and op scripts, shared by the unit tests.

use proptest::prelude::*;
use uuid::Uuid;

use crate::access::{Kdf, KeyParams, Nonce, Proof, ResumeSecret, Role, RoomLock, Salt, Verifier};
use crate::blob::{BlobChunk, BlobId};
use crate::message::{InviteInfo, Moderation, RoomAccess};
use crate::object::{Fill, ObjectData, ObjectKind, Property};
use crate::op::Moderated;
use crate::presence::{Change, Preview};
use crate::{
    Challenge, ClientId, ClientMessage, Color, Credentials, ErrorCode, Hello, ObjectId, Op, OpId,
    OpKind, PeerInfo, Point, Presence, Proofs, Rect, SequencedOp, ServerMessage, StrokeId,
    StrokeStyle, Welcome, message::SnapshotHeader,
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

/// Any fill.
pub fn fill() -> impl Strategy<Value = Fill> {
    prop_oneof![Just(Fill::None), Just(Fill::Translucent), Just(Fill::Solid)]
}

/// Any kind of object.
pub fn kind() -> impl Strategy<Value = ObjectKind> {
    prop_oneof![
        Just(ObjectKind::Freehand),
        Just(ObjectKind::Line),
        Just(ObjectKind::Arrow),
        Just(ObjectKind::Rectangle),
        Just(ObjectKind::Ellipse),
        Just(ObjectKind::Text),
        Just(ObjectKind::Note),
        Just(ObjectKind::Image),
    ]
}

/// One of a few pictures, by blob id: images that show the same picture
/// share it.
pub fn blob_id() -> impl Strategy<Value = BlobId> {
    (0u8..3).prop_map(|i| BlobId::of(&[i]))
}

fn blob_chunk() -> impl Strategy<Value = BlobChunk> {
    (
        blob_id(),
        any::<u64>(),
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(id, total, offset, bytes)| BlobChunk {
            id,
            total,
            offset,
            bytes,
        })
}

/// The data of a new object, valid for its kind.
pub fn object_data() -> impl Strategy<Value = ObjectData> {
    (
        kind(),
        proptest::collection::vec(point(), 1..6),
        color(),
        0.5f32..40.0,
        fill(),
        "[a-z \n]{0,12}",
        4.0f32..96.0,
        blob_id(),
    )
        .prop_map(
            |(kind, mut points, color, width, fill, mut text, font_size, blob)| {
                match kind {
                    ObjectKind::Freehand => {}
                    ObjectKind::Text => points.truncate(1),
                    ObjectKind::Note => {
                        // Square or not, from the smallest note to a large one.
                        let first = points[0];
                        let (w, h) = points.get(1).map_or((200.0, 200.0), |p| {
                            (8.0 + p.x.abs() % 600.0, 8.0 + p.y.abs() % 600.0)
                        });
                        points = vec![first, Point::new(first.x + w, first.y + h)];
                    }
                    _ => {
                        let first = points[0];
                        points.resize(2, Point::new(first.x + 10.0, first.y + 20.0));
                        points.truncate(2);
                    }
                }
                if kind == ObjectKind::Image {
                    text = blob.hex();
                }
                ObjectData {
                    kind,
                    points,
                    color,
                    width,
                    fill,
                    text,
                    font_size,
                }
            },
        )
}

/// Any property with a value that fits most objects (points may not fit).
pub fn property() -> impl Strategy<Value = Property> {
    prop_oneof![
        point().prop_map(Property::Offset),
        proptest::collection::vec(point(), 1..3).prop_map(Property::Points),
        color().prop_map(Property::Color),
        (0.5f32..40.0).prop_map(Property::Width),
        fill().prop_map(Property::Fill),
        "[a-z\n]{0,8}".prop_map(Property::Text),
        (4.0f32..96.0).prop_map(Property::FontSize),
        (-100i64..100).prop_map(Property::Layer),
    ]
}

fn op_kind(strokes: Vec<StrokeId>) -> impl Strategy<Value = OpKind> {
    let pick = proptest::sample::select(strokes);
    prop_oneof![
        3 => (pick.clone(), style(), point()).prop_map(|(stroke, style, start)| {
            OpKind::StrokeBegin {
                stroke,
                style,
                start,
            }
        }),
        3 => (pick.clone(), proptest::collection::vec(point(), 0..8))
            .prop_map(|(stroke, points)| OpKind::StrokeAppend { stroke, points }),
        2 => pick.clone().prop_map(|stroke| OpKind::StrokeEnd { stroke }),
        3 => (pick.clone(), object_data())
            .prop_map(|(object, data)| OpKind::Create { object, data }),
        4 => (pick.clone(), property())
            .prop_map(|(object, property)| OpKind::Set { object, property }),
        2 => pick.clone().prop_map(|object| OpKind::Delete { object }),
        2 => pick.clone().prop_map(|object| OpKind::Restore { object }),
        1 => pick.clone().prop_map(|object| OpKind::ToFront { object }),
        1 => pick.prop_map(|object| OpKind::ToBack { object }),
        1 => Just(OpKind::Clear),
        1 => (".{0,16}", color()).prop_map(|(name, color)| OpKind::Joined { name, color }),
        1 => Just(OpKind::Left),
        1 => moderated().prop_map(OpKind::Moderated),
    ]
}

/// Any role.
fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Viewer), Just(Role::Editor), Just(Role::Operator)]
}

/// Anything an operator's record says.
fn moderated() -> impl Strategy<Value = Moderated> {
    prop_oneof![
        (uuid(), role()).prop_map(|(c, role)| Moderated::Role {
            client: ClientId(c),
            role
        }),
        uuid().prop_map(|c| Moderated::Kicked {
            client: ClientId(c)
        }),
        any::<bool>().prop_map(Moderated::Locked),
        any::<bool>().prop_map(Moderated::ViewOnly),
    ]
}

/// Any operator's command.
fn moderation() -> impl Strategy<Value = Moderation> {
    prop_oneof![
        (uuid(), role()).prop_map(|(c, role)| Moderation::SetRole {
            client: ClientId(c),
            role
        }),
        uuid().prop_map(|c| Moderation::Kick {
            client: ClientId(c)
        }),
        any::<bool>().prop_map(Moderation::SetLocked),
        any::<bool>().prop_map(Moderation::SetViewOnly),
        (any::<[u8; 32]>(), role()).prop_map(|(v, role)| Moderation::Invite {
            invite: Verifier(v),
            role
        }),
        any::<[u8; 32]>().prop_map(|v| Moderation::Revoke {
            invite: Verifier(v)
        }),
    ]
}

/// Any room access.
fn room_access() -> impl Strategy<Value = RoomAccess> {
    (
        role(),
        any::<(bool, bool, bool)>(),
        proptest::collection::vec(uuid(), 0..3),
        proptest::collection::vec(uuid(), 0..3),
        proptest::collection::vec((any::<[u8; 32]>(), role(), any::<bool>()), 0..3),
    )
        .prop_map(
            |(role, (locked, view_only, password), operators, viewers, invites)| RoomAccess {
                role,
                locked,
                view_only,
                password,
                operators: operators.into_iter().map(ClientId).collect(),
                viewers: viewers.into_iter().map(ClientId).collect(),
                invites: invites
                    .into_iter()
                    .map(|(v, role, revoked)| InviteInfo {
                        invite: Verifier(v),
                        role,
                        revoked,
                    })
                    .collect(),
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    (uuid(), uuid()).prop_flat_map(|(id, stroke)| {
        op_kind(vec![ObjectId(stroke)]).prop_map(move |kind| Op { id: OpId(id), kind })
    })
}

fn peer() -> impl Strategy<Value = PeerInfo> {
    (uuid(), ".{0,16}", color()).prop_map(|(id, name, color)| PeerInfo {
        client: ClientId(id),
        name,
        color,
    })
}

/// Any presence, within the caps or not.
pub fn presence() -> impl Strategy<Value = Presence> {
    let change = prop_oneof![
        (proptest::collection::vec(uuid(), 0..4), point()).prop_map(|(objects, by)| {
            Change::Move {
                objects: objects.into_iter().map(ObjectId).collect(),
                by,
            }
        }),
        (uuid(), proptest::collection::vec(point(), 0..4)).prop_map(|(object, points)| {
            Change::Reshape {
                object: ObjectId(object),
                points,
            }
        }),
        object_data().prop_map(Change::Shape),
    ];
    (
        proptest::option::of(point()),
        proptest::option::of((point(), point())),
        proptest::collection::vec(point(), 0..8),
        proptest::option::of((change, proptest::option::of(uuid()))),
        any::<bool>(),
    )
        .prop_map(|(cursor, view, laser, preview, presenting)| Presence {
            cursor,
            view: view.map(|(a, b)| Rect::from_corners(a, b)),
            laser,
            preview: preview.map(|(change, landing)| Preview {
                change,
                landing: landing.map(OpId),
            }),
            presenting,
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
            proptest::option::of(uuid()),
            credentials()
        )
            .prop_map(
                |(protocol, room, name, color, client, last_seen, last_op, credentials)| {
                    ClientMessage::Hello(Hello {
                        protocol,
                        room,
                        name,
                        color,
                        client: ClientId(client),
                        last_seen,
                        last_op: last_op.map(OpId),
                        credentials,
                    })
                }
            ),
        op().prop_map(ClientMessage::Op),
        proptest::option::of(point()).prop_map(ClientMessage::Cursor),
        (any::<u64>(), any::<u64>())
            .prop_map(|(after, up_to)| ClientMessage::FetchHistory { after, up_to }),
        proptest::collection::vec("ws://[a-z0-9.:]{1,20}/[a-z]{1,8}", 0..3)
            .prop_map(|urls| ClientMessage::Hosting { urls }),
        ".{0,40}".prop_map(|reason| ClientMessage::CannotHost { reason }),
        (
            proptest::option::of(proof()),
            proptest::option::of(proof()),
            proptest::option::of(proof())
        )
            .prop_map(|(relay, room, invite)| ClientMessage::Authenticate(Proofs {
                relay,
                room,
                invite
            })),
        moderation().prop_map(ClientMessage::Moderate),
        blob_chunk().prop_map(ClientMessage::BlobPart),
        blob_id().prop_map(ClientMessage::FetchBlob),
        presence().prop_map(ClientMessage::Presence),
    ]
}

/// Any salt and cost.
fn key_params() -> impl Strategy<Value = KeyParams> {
    (any::<[u8; 16]>(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(
        |(salt, memory_kib, iterations, lanes)| KeyParams {
            salt: Salt(salt),
            kdf: Kdf {
                memory_kib,
                iterations,
                lanes,
            },
        },
    )
}

/// Any proof (as bytes; not a valid one).
fn proof() -> impl Strategy<Value = Proof> {
    (any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(a, b)| {
        let mut bytes = [0; 64];
        bytes[..32].copy_from_slice(&a);
        bytes[32..].copy_from_slice(&b);
        Proof(bytes)
    })
}

/// Any credentials.
fn credentials() -> impl Strategy<Value = Credentials> {
    (
        proptest::option::of(any::<[u8; 32]>()),
        proptest::option::of((key_params(), any::<[u8; 32]>())),
        proptest::option::of(any::<[u8; 32]>()),
    )
        .prop_map(|(resume, lock, invite)| Credentials {
            invite: invite.map(Verifier),
            resume: resume.map(ResumeSecret),
            new_room_lock: lock.map(|(params, verifier)| RoomLock {
                params,
                verifier: Verifier(verifier),
            }),
        })
}

/// Any relay → client message.
pub fn server_message() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        (
            "[a-z]{1,8}",
            proptest::collection::vec(peer(), 0..4),
            any::<u64>(),
            any::<u64>(),
            proptest::option::of((any::<u64>(), any::<u64>(), any::<u32>())),
            any::<[u8; 32]>(),
        )
            .prop_map(|(room, peers, replay_from, head, snapshot, secret)| {
                ServerMessage::Welcome(Welcome {
                    room,
                    peers,
                    replay_from,
                    head,
                    snapshot: snapshot.map(|(seq, bytes, parts)| SnapshotHeader {
                        seq,
                        bytes,
                        parts,
                    }),
                    resume_secret: ResumeSecret(secret),
                    max_blob_bytes: head / 3,
                })
            }),
        blob_chunk().prop_map(ServerMessage::BlobPart),
        blob_id().prop_map(ServerMessage::NoBlob),
        (
            any::<[u8; 32]>(),
            proptest::option::of(key_params()),
            proptest::option::of(key_params()),
            any::<bool>()
        )
            .prop_map(
                |(nonce, relay, room, invite)| ServerMessage::Challenge(Challenge {
                    nonce: Nonce(nonce),
                    relay,
                    room,
                    invite,
                })
            ),
        room_access().prop_map(ServerMessage::Access),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(ServerMessage::SnapshotPart),
        sequenced_op().prop_map(ServerMessage::Op),
        (uuid(), any::<u64>(), any::<u64>()).prop_map(|(op, seq, timestamp_ms)| {
            ServerMessage::Ack {
                op: OpId(op),
                seq,
                timestamp_ms,
            }
        }),
        peer().prop_map(ServerMessage::PeerJoined),
        any::<u64>().prop_map(|head| ServerMessage::TakeOver { head }),
        (
            proptest::collection::vec("ws://[a-z0-9.:]{1,20}/[a-z]{1,8}", 0..3),
            any::<u64>()
        )
            .prop_map(|(urls, head)| ServerMessage::Moved { urls, head }),
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
                Just(ErrorCode::InvalidOp),
                Just(ErrorCode::InvalidRequest),
                Just(ErrorCode::ViewOnly),
                Just(ErrorCode::NotOperator),
                Just(ErrorCode::BlobRefused)
            ],
            ".{0,40}"
        )
            .prop_map(|(code, message)| ServerMessage::Error { code, message }),
        (uuid(), ".{0,40}").prop_map(|(op, message)| ServerMessage::OpRefused {
            op: OpId(op),
            code: ErrorCode::InvalidOp,
            message,
        }),
        (
            proptest::collection::vec(peer(), 0..4),
            proptest::collection::vec(uuid(), 0..4)
        )
            .prop_map(|(joined, left)| ServerMessage::Peers {
                joined,
                left: left.into_iter().map(ClientId).collect(),
            }),
        (uuid(), presence()).prop_map(|(client, presence)| ServerMessage::Presence {
            client: ClientId(client),
            presence,
        }),
    ]
}

/// Three authors and a relay-ordered list of their ops over a handful of objects,
/// any of which any author may try to make or change (a stroke's points must
/// come from the author who began it).
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
        .map(|i| ObjectId(Uuid::from_u128(i + 1)))
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
