//! The relay as one node of a cluster (`--redis URL`): every node serves
//! every room, and Redis is each room's sequencer, log and bus.
//!
//! - [`Cluster`], the [`Backend`]: opens a room's [`RedisLog`] and starts
//!   its task on this node.
//! - `task`: a room's task on this node: sequences each batch of proposals
//!   with one Lua script (`store::redis::SEQUENCE`), and delivers the room's
//!   ops to this node's members in sequence order, reading them with
//!   `XRANGE` from the last one delivered whenever a notice, its own batch
//!   or a periodic look at the head says there are more: a missed notice
//!   never skips an op, it only delays it.
//! - `bus`: the node's one pub/sub connection, subscribed to the bus of
//!   every room open here; it hands each message to its room's task and,
//!   after Redis comes back, resubscribes and has every room look again.
//! - `presence`: the members on other nodes, from their joins, leaves,
//!   presence and heartbeats on the bus; never stored.
//!
//! Nothing is acked or shown to anyone before Redis has answered the script
//! that sequenced it; with Redis's append-only file at `appendfsync always`
//! an acked op survives a Redis restart. A node that cannot reach Redis
//! refuses ops (its members are cut off with close 1013, saying why) and
//! joins to rooms it does not have open, and takes them again once Redis is
//! back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::runtime::Handle;
use tokio::sync::{OnceCell, mpsc};
use tracing::info;
use uuid::Uuid;

use super::Commit;
use super::backend::{Backend, Opened};
use crate::store::StoreError;
use crate::store::redis::{Redis, RedisLog};
use crate::sync::lock;

mod bus;
mod presence;
mod task;

pub use task::{Link, Start};

/// How long a node waits to deliver the ops a client resuming from another
/// node has seen before it sends that client the room from the start.
pub const REACH_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Rooms in Redis, this relay one node of a cluster (see the module's
/// documentation).
#[derive(Debug)]
pub struct Cluster {
    /// What the node's rooms share.
    node: Arc<Node>,
}

/// What the rooms open on this node share: who the node is, Redis, and the
/// bus.
#[derive(Debug)]
pub struct Node {
    /// This node, among the others on a room's bus.
    id: Uuid,
    /// Redis, for blocking reads (logs) and to open async connections.
    redis: Arc<Redis>,
    /// The runtime the rooms' tasks and the bus run on.
    runtime: Handle,
    /// The async connection every room's task sends its scripts and reads
    /// on (it reconnects by itself), made by the first task that needs it.
    commands: OnceCell<redis::aio::ConnectionManager>,
    /// The rooms open on this node, by name, for the bus to hand messages
    /// to.
    rooms: Mutex<HashMap<String, Weak<task::Inbox>>>,
    /// Tells the bus to subscribe to or leave a room's channel.
    subscriptions: mpsc::UnboundedSender<bus::Change>,
}

impl Cluster {
    /// A node on Redis at `url`; its tasks run on the current tokio runtime.
    /// Connects only when a room is first opened.
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let runtime = Handle::try_current().map_err(|err| {
            StoreError::Thread(std::io::Error::other(format!(
                "a cluster node needs a tokio runtime: {err}"
            )))
        })?;
        let redis = Redis::new(url)?;
        let (subscriptions, changes) = mpsc::unbounded_channel();
        let node = Arc::new(Node {
            id: Uuid::new_v4(),
            redis,
            runtime,
            commands: OnceCell::new(),
            rooms: Mutex::new(HashMap::new()),
            subscriptions,
        });
        node.runtime.spawn(bus::run(Arc::downgrade(&node), changes));
        info!(redis = %node.redis.address(), node = %node.id, "rooms are kept in Redis: this relay is one node of a cluster");
        Ok(Self { node })
    }
}

impl Node {
    /// The async connection for commands, made on first use.
    async fn commands(&self) -> Result<redis::aio::ConnectionManager, StoreError> {
        self.commands
            .get_or_try_init(|| async {
                // A lost connection is tried again a few times over about a
                // second, then the command fails: ops are refused, saying so,
                // rather than held while Redis is away.
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_number_of_retries(3)
                    .set_min_delay(std::time::Duration::from_millis(50))
                    .set_max_delay(std::time::Duration::from_millis(500))
                    .set_response_timeout(Some(crate::store::redis::COMMAND_TIMEOUT))
                    .set_connection_timeout(Some(crate::store::redis::COMMAND_TIMEOUT));
                redis::aio::ConnectionManager::new_with_config(self.redis.client().clone(), config)
                    .await
                    .map_err(|cause| self.redis.error(cause))
            })
            .await
            .cloned()
    }

    /// Sends `command` on the async connection; each command is bounded by
    /// `store::redis::COMMAND_TIMEOUT`.
    async fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, StoreError> {
        let mut commands = self.commands().await?;
        command
            .query_async(&mut commands)
            .await
            .map_err(|cause| self.redis.error(cause))
    }

    /// The room's task's inbox, if the room is open on this node.
    fn room(&self, name: &str) -> Option<Arc<task::Inbox>> {
        lock(&self.rooms).get(name).and_then(Weak::upgrade)
    }

    /// Every room open on this node.
    fn open_rooms(&self) -> Vec<(String, Arc<task::Inbox>)> {
        lock(&self.rooms)
            .iter()
            .filter_map(|(name, inbox)| Some((name.clone(), inbox.upgrade()?)))
            .collect()
    }
}

impl Backend for Cluster {
    fn exists(&self, room: &str) -> bool {
        // A room that cannot be looked up is taken as new: opening it then
        // fails the same way, with the reason.
        self.node.redis.room_exists(room).unwrap_or(false)
    }

    fn open(&self, room: &str) -> Result<Opened, StoreError> {
        let log = RedisLog::open(&self.node.redis, room)?;
        Ok(Opened {
            log: Box::new(log),
            commit: Commit::Cluster(Start {
                node: Arc::clone(&self.node),
            }),
        })
    }

    fn reopens(&self) -> bool {
        true
    }
}
