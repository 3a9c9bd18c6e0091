//! The relays of a cluster (`tabula-server --redis`): a session given several
//! relays of one room moves to the next when its relay goes away, resumes
//! from its last op and resends what was not acked, and nothing is lost or
//! doubled.

use std::collections::HashSet;

use tabula_app::session::{ConnectionStatus, Session};
use tabula_server::Config;
use tabula_shared::{Color, Op, OpId, OpKind, Point, SequencedOp, StrokeId, StrokeStyle};

use crate::redis_server::TestRedis;
use crate::support::{self, Proxy, Relay, identity};

/// A node of a cluster on `redis`.
fn node(runtime: &tokio::runtime::Runtime, redis: &TestRedis) -> Relay {
    Relay::start(
        runtime,
        Config {
            redis: Some(redis.url()),
            ..Config::default()
        },
    )
}

/// Polls the sessions until `done` holds.
fn wait_for(what: &str, sessions: &mut [&mut Session], done: impl Fn(&[&mut Session]) -> bool) {
    support::eventually(what, || {
        for session in sessions.iter_mut() {
            session.poll();
        }
        done(sessions).then_some(())
    });
}

/// A short stroke, one op per point; the ids of its ops.
fn draw(session: &mut Session, at: f32) -> Vec<OpId> {
    let stroke = StrokeId::random();
    let mut ops = vec![Op::new(OpKind::StrokeBegin {
        stroke,
        style: StrokeStyle {
            color: Color::rgb(20, 40, 60),
            width: 2.0,
        },
        start: Point::new(at, 0.0),
    })];
    for i in 1..4 {
        ops.push(Op::new(OpKind::StrokeAppend {
            stroke,
            points: vec![Point::new(at, i as f32)],
        }));
    }
    ops.push(Op::new(OpKind::StrokeEnd { stroke }));
    let ids = ops.iter().map(|op| op.id).collect();
    for op in ops {
        session.submit(op);
    }
    ids
}

fn settled(session: &Session) -> bool {
    *session.status() == ConnectionStatus::Connected && session.board().pending_ops().count() == 0
}

fn drawn(log: &[SequencedOp]) -> Vec<OpId> {
    log.iter()
        .filter(|o| !o.op.kind.is_presence())
        .map(|o| o.op.id)
        .collect()
}

#[test]
fn a_session_moves_to_the_next_relay_of_the_cluster_and_loses_nothing() {
    let redis = TestRedis::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let a = node(&runtime, &redis);
    let b = node(&runtime, &redis);
    // Ada reaches node a through a link the test cuts, as if a died.
    let to_a = Proxy::start(&runtime, a.addr);
    let mut ada = Session::offline(identity("Ada"));
    let mut bo = Session::offline(identity("Bo"));
    ada.join(
        &format!("{},{}", to_a.url("studio"), b.url("studio")),
        runtime.handle(),
        || {},
    )
    .unwrap();
    bo.join(&b.url("studio"), runtime.handle(), || {}).unwrap();
    let mut made = Vec::new();
    for i in 0..5 {
        made.extend(draw(&mut ada, i as f32 * 10.0));
    }
    wait_for(
        "both settled, each seeing the other across the nodes",
        &mut [&mut ada, &mut bo],
        |s| s.iter().all(|s| settled(s) && s.peers().count() == 1) && drawn(s[1].log()).len() == 25,
    );

    // Node a goes away with ops on their way; Ada draws on meanwhile.
    for i in 5..8 {
        made.extend(draw(&mut ada, i as f32 * 10.0));
    }
    to_a.cut();
    for i in 8..10 {
        made.extend(draw(&mut ada, i as f32 * 10.0));
    }
    wait_for(
        "Ada on node b with everything acked, and Bo has it all",
        &mut [&mut ada, &mut bo],
        |s| s.iter().all(|s| settled(s)) && drawn(s[1].log()).len() == made.len(),
    );
    assert_eq!(drawn(ada.log()), drawn(bo.log()), "one history");
    let ids: HashSet<OpId> = drawn(bo.log()).into_iter().collect();
    assert_eq!(ids.len(), made.len(), "no op doubled");
    assert!(made.iter().all(|id| ids.contains(id)), "no op lost");
    assert_eq!(ada.board().snapshot(), bo.board().snapshot(), "one board");
    assert_eq!(ada.log().len() as u64, ada.board().last_seq(), "no gap");
    a.stop(&runtime);
    b.stop(&runtime);
}
