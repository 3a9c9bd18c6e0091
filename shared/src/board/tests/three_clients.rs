//! Three simulated people drawing at once, each receiving the relay's stream
//! at their own pace: every board shows what it received plus its own pending
//! ops at every step, and all converge to the relay's order.

use proptest::prelude::*;

use super::*;

/// One thing a simulated person does to their board.
#[derive(Clone, Debug)]
enum Action {
    /// Draws a rectangle.
    Rectangle(Point),
    /// Sticks a note of this side, with this text, here.
    Note(Point, f32, String),
    /// Types this as the text of the n-th object on show (ignored unless it
    /// is a text or a note).
    Write(usize, String),
    /// Draws a stroke through these points, streamed as begin, append, end.
    Stroke(Vec<Point>),
    /// Moves the n-th object on show by this much.
    Move(usize, Point),
    /// Recolours the n-th object on show.
    Restyle(usize, Color),
    /// Resizes the n-th object on show (ignored unless it takes two points).
    Resize(usize, Point),
    /// Deletes the n-th object on show.
    Delete(usize),
    /// Brings the n-th object on show to the front.
    ToFront(usize),
    /// Sends the n-th object on show to the back.
    ToBack(usize),
    /// Deletes everything.
    Clear,
    /// Brings the board back to how it was after this part of the ops the
    /// client has received ("Restore to here", from its replay).
    Restore(f64),
    /// Undoes the latest action.
    Undo,
    /// Redoes the latest undone action.
    Redo,
}

/// One step of the simulation: someone acts, the relay sequences someone's next
/// op, or someone receives the relay's next op.
#[derive(Clone, Debug)]
enum Step {
    Act(usize, Action),
    Send(usize),
    Deliver(usize),
}

fn small_point() -> impl Strategy<Value = Point> {
    (-500.0f32..500.0, -500.0f32..500.0).prop_map(|(x, y)| Point::new(x, y))
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => small_point().prop_map(Action::Rectangle),
        2 => (small_point(), 8.0f32..600.0, "[a-z \n]{0,16}")
            .prop_map(|(at, side, text)| Action::Note(at, side, text)),
        2 => (0usize..8, "[a-z \n]{0,16}").prop_map(|(i, text)| Action::Write(i, text)),
        2 => proptest::collection::vec(small_point(), 1..5).prop_map(Action::Stroke),
        3 => (0usize..8, small_point()).prop_map(|(i, d)| Action::Move(i, d)),
        2 => (0usize..8, any::<[u8; 3]>())
            .prop_map(|(i, [r, g, b])| Action::Restyle(i, Color::rgb(r, g, b))),
        1 => (0usize..8, small_point()).prop_map(|(i, p)| Action::Resize(i, p)),
        2 => (0usize..8).prop_map(Action::Delete),
        1 => (0usize..8).prop_map(Action::ToFront),
        1 => (0usize..8).prop_map(Action::ToBack),
        1 => Just(Action::Clear),
        1 => (0.0f64..=1.0).prop_map(Action::Restore),
        3 => Just(Action::Undo),
        2 => Just(Action::Redo),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        prop_oneof![
            3 => (0usize..3, action()).prop_map(|(c, a)| Step::Act(c, a)),
            3 => (0usize..3).prop_map(Step::Send),
            3 => (0usize..3).prop_map(Step::Deliver),
        ],
        0..120,
    )
}

/// A simulated person: their board, their undo history and what they have not
/// yet sent to the relay.
struct Client {
    me: ClientId,
    board: Board,
    history: History,
    outbox: VecDeque<Op>,
    /// How much of the relay's log this client has received.
    seen: usize,
}

impl Client {
    fn new(n: u128) -> Self {
        Self {
            me: ClientId(Uuid::from_u128(100 + n)),
            board: Board::new(),
            history: History::new(),
            outbox: VecDeque::new(),
            seen: 0,
        }
    }

    fn perform(&mut self, ops: Vec<OpKind>) {
        let ops = ops.into_iter().map(Op::new).collect();
        let sent = self.history.perform(&mut self.board, self.me, ops);
        self.outbox.extend(sent);
    }

    fn nth(&self, n: usize) -> Option<&Object> {
        let count = self.board.object_count();
        (count > 0)
            .then(|| self.board.objects().nth(n % count))
            .flatten()
    }

    /// Types `text` on the n-th object on show, if it is a text or a note.
    fn write(&mut self, n: usize, text: String) {
        if let Some(o) = self.nth(n)
            && matches!(o.data.kind, ObjectKind::Text | ObjectKind::Note)
        {
            let op = OpKind::Set {
                object: o.id,
                property: Property::Text(text),
            };
            self.perform(vec![op]);
        }
    }

    /// Brings the board back to how it was after `part` of the ops this
    /// client has received, as one action.
    fn restore(&mut self, part: f64, log: &[SequencedOp]) {
        let k = (self.seen as f64 * part) as usize;
        let then = replay(&log[..k]);
        let ops = ops_to_restore(&self.board, &then);
        let sent = self.history.perform(&mut self.board, self.me, ops);
        self.outbox.extend(sent);
    }

    fn act(&mut self, action: Action, next_id: &mut u128, log: &[SequencedOp]) {
        let mut fresh = || {
            *next_id += 1;
            ObjectId(Uuid::from_u128(*next_id))
        };
        match action {
            Action::Rectangle(at) => self.perform(vec![OpKind::Create {
                object: fresh(),
                data: rectangle(at),
            }]),
            Action::Note(at, side, text) => self.perform(vec![OpKind::Create {
                object: fresh(),
                data: note(at, side, &text),
            }]),
            Action::Write(n, text) => self.write(n, text),
            Action::Stroke(points) => {
                let stroke = fresh();
                self.perform(vec![OpKind::StrokeBegin {
                    stroke,
                    style: StrokeStyle {
                        color: Color::rgb(1, 2, 3),
                        width: 3.0,
                    },
                    start: points[0],
                }]);
                self.perform(vec![OpKind::StrokeAppend {
                    stroke,
                    points: points[1..].to_vec(),
                }]);
                self.perform(vec![OpKind::StrokeEnd { stroke }]);
            }
            Action::Move(n, by) => {
                if let Some(o) = self.nth(n) {
                    let op = OpKind::Set {
                        object: o.id,
                        property: Property::Offset(o.offset.offset(by)),
                    };
                    self.perform(vec![op]);
                }
            }
            Action::Restyle(n, color) => {
                if let Some(o) = self.nth(n) {
                    let op = OpKind::Set {
                        object: o.id,
                        property: Property::Color(color),
                    };
                    self.perform(vec![op]);
                }
            }
            Action::Resize(n, corner) => {
                if let Some(o) = self.nth(n) {
                    let op = OpKind::Set {
                        object: o.id,
                        property: Property::Points(vec![o.data.points[0], corner]),
                    };
                    self.perform(vec![op]);
                }
            }
            Action::Delete(n) => {
                if let Some(o) = self.nth(n) {
                    let op = OpKind::Delete { object: o.id };
                    self.perform(vec![op]);
                }
            }
            Action::ToFront(n) => {
                if let Some(o) = self.nth(n) {
                    let op = OpKind::ToFront { object: o.id };
                    self.perform(vec![op]);
                }
            }
            Action::ToBack(n) => {
                if let Some(o) = self.nth(n) {
                    let op = OpKind::ToBack { object: o.id };
                    self.perform(vec![op]);
                }
            }
            Action::Clear => self.perform(vec![OpKind::Clear]),
            Action::Restore(part) => self.restore(part, log),
            Action::Undo => {
                let ops = self.history.undo(&mut self.board, self.me);
                self.outbox.extend(ops);
            }
            Action::Redo => {
                let ops = self.history.redo(&mut self.board, self.me);
                self.outbox.extend(ops);
            }
        }
    }
}

/// What a client's board must be at any moment: the relay's order as far as it
/// has received it, with its own unconfirmed ops applied on top.
fn expected_view(client: &Client, log: &[SequencedOp]) -> Board {
    let mut board = replay(&log[..client.seen]);
    for op in client.board.pending_ops() {
        board.apply_local(client.me, op.clone());
    }
    board
}

/// The relay takes client `c`'s next op, if any, and gives it the next number.
fn send(client: &mut Client, log: &mut Vec<SequencedOp>) {
    if let Some(op) = client.outbox.pop_front() {
        let seq = log.len() as u64 + 1;
        log.push(SequencedOp {
            seq,
            author: client.me,
            timestamp_ms: seq,
            op,
        });
    }
}

/// Client `c` receives the relay's next op, if it has one it has not seen.
fn receive(client: &mut Client, log: &[SequencedOp]) {
    if let Some(op) = log.get(client.seen) {
        client.seen += 1;
        deliver(&mut client.board, op, client.me);
    }
}

proptest! {
    /// Three people create shapes, strokes and notes, write on notes and
    /// texts, move, restyle, resize, delete, restack, clear, restore the board
    /// to an earlier op, undo and redo at once; the relay sequences their ops as they arrive and each
    /// receives the relay's stream at its own pace. At every step each board
    /// shows what it has received plus its own pending ops; once everything is
    /// delivered all three boards are identical, and identical to the relay's
    /// order applied alone (so optimistic local application changed nothing).
    #[test]
    fn three_clients_converge_under_any_interleaving(steps in steps()) {
        let mut clients: Vec<Client> = (0..3).map(Client::new).collect();
        let mut log = Vec::new();
        let mut next_id = 0u128;
        for step in steps {
            match step {
                Step::Act(c, action) => clients[c].act(action, &mut next_id, &log),
                Step::Send(c) => send(&mut clients[c], &mut log),
                Step::Deliver(c) => receive(&mut clients[c], &log),
            }
            // At every moment, not only at the end: the view is exactly the
            // confirmed state with the pending ops re-applied on top.
            for client in &clients {
                prop_assert_eq!(&client.board, &expected_view(client, &log));
            }
        }
        for client in &mut clients {
            while !client.outbox.is_empty() {
                send(client, &mut log);
            }
        }
        for client in &mut clients {
            while client.seen < log.len() {
                receive(client, &log);
            }
        }
        let alone = replay(&log);
        for client in &clients {
            prop_assert_eq!(client.board.pending_ops().count(), 0);
            prop_assert_eq!(&client.board, &alone);
        }
    }
}
