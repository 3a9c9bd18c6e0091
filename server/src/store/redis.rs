//! [`RedisLog`]: a room's log in Redis, for a relay that is one node of a
//! cluster, and the keys, scripts and connections every node shares.
//!
//! A room's keys share the hash tag `{ROOM}`, so Redis Cluster keeps them on
//! one shard and a script may touch them all:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `tabula:{ROOM}:state` | hash | `head` (the latest sequence number), `ms` (its time) |
//! | `tabula:{ROOM}:log` | stream | one entry per op, its id `SEQ-0`: `o` op id, `a` author, `t` time, `k` the op as its author sent it (a `ClientMessage::Op` frame) |
//! | `tabula:{ROOM}:ids` | hash | op id → `SEQ:MS`, the resend index |
//! | `tabula:{ROOM}:snapshot` | hash | the newest board snapshot: `seq`, `format`, `board` |
//! | `tabula:{ROOM}:settings` | hash | the room's settings |
//! | `tabula:{ROOM}:blobs` | hash | the pictures its images show: id (64 hex digits) → the image file, once each |
//! | `tabula:{ROOM}:bus` | pub/sub channel | notices of new ops, presence between nodes |
//! | `tabula:rooms` | set | every room's name, for `tabula-server rooms` (the one key outside a room's tag) |
//!
//! Ops are sequenced by one Lua script per batch ([`SEQUENCE`], run by the
//! node's room task), so the order is the same whichever node received an
//! op. This log is what reads them back (catch-ups, history, snapshots) and
//! what an import appends with ([`APPEND`]); it uses plain blocking
//! connections from a small pool, like a file, on the threads a file is read
//! on, each command bounded by [`COMMAND_TIMEOUT`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use redis::streams::StreamRangeReply;
use redis::{Client, Connection, RedisError, Script, Value};
use tabula_shared::blob::{Blob, BlobId};
use tabula_shared::session_file::StoredSnapshot;
use tabula_shared::{
    ClientId, ClientMessage, Op, OpId, SequencedOp, ServerMessage, decode, encode,
};
use uuid::Uuid;

use super::{Entry, OpLog, Stamp, StoreError};
use crate::sync::lock;

/// The longest a command to Redis may take before the node gives up on it
/// (and on the connection it was sent on).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// The most idle connections the pool keeps.
const POOL_IDLE: usize = 8;

/// The set of every room's name.
pub const ROOMS_KEY: &str = "tabula:rooms";

/// Sequences a batch of ops, atomically: for each op (four arguments: its id,
/// its author, the op as sent, and `1` for a join or leave the relay records,
/// which is never a resend and is not looked up), either the stamp it already
/// has (`SEQ:MS`, a resend) or the next sequence number, the op appended to
/// the stream with that number as its entry id and its id recorded (a join's
/// too: a client whose last op was someone's join resumes by its id). The time never goes
/// backwards. Then, if anything was new, a notice `nHEAD` on the room's bus.
/// Returns `{ms, {SEQ or "SEQ:MS", ...}}`.
///
/// `KEYS`: state, log, ids. `ARGV[1]`: the bus channel.
pub const SEQUENCE: &str = r"
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = tonumber(redis.call('HGET', KEYS[1], 'ms') or '0')
if ms < last then ms = last end
local out = {}
local head = nil
for i = 2, #ARGV, 4 do
  local id, author, op, recorded = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local known = false
  if recorded == '0' then known = redis.call('HGET', KEYS[3], id) end
  if known then
    out[#out + 1] = known
  else
    head = redis.call('HINCRBY', KEYS[1], 'head', 1)
    redis.call('XADD', KEYS[2], head .. '-0', 'o', id, 'a', author, 't', ms, 'k', op)
    redis.call('HSET', KEYS[3], id, head .. ':' .. ms)
    out[#out + 1] = head
  end
end
if head then
  redis.call('HSET', KEYS[1], 'ms', ms)
  redis.call('PUBLISH', ARGV[1], 'n' .. head)
end
return {ms, out}
";

/// Appends ops that already have their stamps (an import), all or none:
/// refused unless the first is the room's next. Each op is four arguments:
/// seq, time, id, author, then the op as sent (five in all).
///
/// `KEYS`: state, log, ids.
pub const APPEND: &str = r"
local head = tonumber(redis.call('HGET', KEYS[1], 'head') or '0')
if #ARGV > 0 and tonumber(ARGV[1]) ~= head + 1 then
  return redis.error_reply('the room holds ' .. head .. ' ops, not ' .. (tonumber(ARGV[1]) - 1))
end
for i = 1, #ARGV, 5 do
  redis.call('XADD', KEYS[2], ARGV[i] .. '-0', 'o', ARGV[i + 2], 'a', ARGV[i + 3], 't', ARGV[i + 1], 'k', ARGV[i + 4])
  redis.call('HSET', KEYS[3], ARGV[i + 2], ARGV[i] .. ':' .. ARGV[i + 1])
  redis.call('HSET', KEYS[1], 'head', ARGV[i], 'ms', ARGV[i + 1])
end
return head
";

/// Keeps a snapshot unless the room has a newer one. `KEYS`: snapshot;
/// `ARGV`: seq, format, board.
const PUT_SNAPSHOT: &str = r"
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '-1')
if tonumber(ARGV[1]) > seq then
  redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'format', ARGV[2], 'board', ARGV[3])
end
return 1
";

/// One of a room's keys (see the module's documentation).
#[must_use]
pub fn key(room: &str, part: &str) -> String {
    format!("tabula:{{{room}}}:{part}")
}

/// Redis at one address, as a node and the admin commands reach it: the
/// address (without its password) for messages, and a pool of blocking
/// connections.
pub struct Redis {
    /// Opens connections.
    client: Client,
    /// `HOST:PORT`, for messages.
    address: String,
    /// Connections not in use.
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// Redis at `url` (`redis://[:PASSWORD@]HOST:PORT[/DB]`); connects only
    /// when first used.
    pub fn new(url: &str) -> Result<Arc<Self>, StoreError> {
        let client = Client::open(url).map_err(|cause| StoreError::Redis {
            address: url_address(url),
            cause,
        })?;
        Ok(Arc::new(Self {
            address: url_address(url),
            client,
            idle: Mutex::new(Vec::new()),
        }))
    }

    /// `HOST:PORT`, for messages.
    #[must_use]
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The client, for the node's async connections.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// An error about this Redis.
    #[must_use]
    pub fn error(&self, cause: RedisError) -> StoreError {
        StoreError::Redis {
            address: self.address.clone(),
            cause,
        }
    }

    /// Runs `work` on a pooled connection (a new one if none is idle). A
    /// connection that failed is dropped, not pooled; when a pooled one turns
    /// out to be dead (Redis restarted since it was used), `work` runs once
    /// more on a new one.
    pub fn with<T>(
        &self,
        mut work: impl FnMut(&mut Connection) -> Result<T, RedisError>,
    ) -> Result<T, StoreError> {
        let pooled = lock(&self.idle).pop();
        let was_pooled = pooled.is_some();
        let mut connection = match pooled {
            Some(connection) => connection,
            None => self.connect().map_err(|cause| self.error(cause))?,
        };
        let mut done = work(&mut connection);
        if was_pooled
            && done
                .as_ref()
                .is_err_and(|err| err.is_io_error() || err.is_connection_dropped())
        {
            connection = self.connect().map_err(|cause| self.error(cause))?;
            done = work(&mut connection);
        }
        match done {
            Ok(done) => {
                let mut idle = lock(&self.idle);
                if idle.len() < POOL_IDLE {
                    idle.push(connection);
                }
                Ok(done)
            }
            Err(cause) => Err(self.error(cause)),
        }
    }

    /// A new blocking connection, each command on it bounded in time.
    fn connect(&self) -> Result<Connection, RedisError> {
        let connection = self.client.get_connection_with_timeout(COMMAND_TIMEOUT)?;
        connection.set_read_timeout(Some(COMMAND_TIMEOUT))?;
        connection.set_write_timeout(Some(COMMAND_TIMEOUT))?;
        Ok(connection)
    }

    /// Every room's name, sorted.
    pub fn room_names(&self) -> Result<Vec<String>, StoreError> {
        let mut names: Vec<String> =
            self.with(|c| redis::cmd("SMEMBERS").arg(ROOMS_KEY).query(c))?;
        names.sort();
        Ok(names)
    }

    /// Whether room `room` exists (has a name in [`ROOMS_KEY`]).
    pub fn room_exists(&self, room: &str) -> Result<bool, StoreError> {
        self.with(|c| redis::cmd("SISMEMBER").arg(ROOMS_KEY).arg(room).query(c))
    }

    /// Records that room `room` exists.
    pub fn add_room(&self, room: &str) -> Result<(), StoreError> {
        self.with(|c| redis::cmd("SADD").arg(ROOMS_KEY).arg(room).query(c))
    }
}

/// `HOST:PORT` of a Redis URL, never its password.
fn url_address(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

/// The bytes of an id, as Redis keeps it.
#[must_use]
pub fn id_bytes(id: Uuid) -> [u8; 16] {
    *id.as_bytes()
}

/// A stamp as the resend index keeps it: `SEQ:MS`.
#[must_use]
pub fn parse_stamp(text: &str) -> Option<Stamp> {
    let (seq, ms) = text.split_once(':')?;
    Some(Stamp {
        seq: seq.parse().ok()?,
        timestamp_ms: ms.parse().ok()?,
    })
}

/// One op read from a room's stream.
#[derive(Debug)]
pub struct StreamOp {
    /// Its stamp.
    pub stamp: Stamp,
    /// Its id.
    pub op_id: OpId,
    /// Its author.
    pub author: ClientId,
    /// The op.
    pub op: Op,
}

impl StreamOp {
    /// The `ServerMessage::Op` frame every member gets.
    pub fn frame(self) -> Result<Bytes, StoreError> {
        crate::frame::encode_frame(&ServerMessage::Op(SequencedOp {
            seq: self.stamp.seq,
            author: self.author,
            timestamp_ms: self.stamp.timestamp_ms,
            op: self.op,
        }))
        .map_err(|err| StoreError::Unreadable {
            seq: self.stamp.seq,
            detail: err.to_string(),
        })
    }
}

/// The ops of an `XRANGE` reply, in order.
pub fn stream_ops(reply: StreamRangeReply) -> Result<Vec<StreamOp>, StoreError> {
    reply
        .ids
        .into_iter()
        .map(|entry| {
            let seq = entry
                .id
                .split_once('-')
                .and_then(|(seq, _)| seq.parse::<u64>().ok());
            let unreadable = |detail: &str| StoreError::Unreadable {
                seq: seq.unwrap_or(0),
                detail: format!("stream entry {}: {detail}", entry.id),
            };
            let seq = seq.ok_or_else(|| unreadable("not a sequence number"))?;
            let bytes = |field: &str| -> Result<Vec<u8>, StoreError> {
                entry
                    .get::<Vec<u8>>(field)
                    .ok_or_else(|| unreadable(&format!("no field {field}")))
            };
            let uuid = |field: &str| -> Result<Uuid, StoreError> {
                Uuid::from_slice(&bytes(field)?).map_err(|err| unreadable(&err.to_string()))
            };
            let timestamp_ms = entry.get::<u64>("t").ok_or_else(|| unreadable("no time"))?;
            let ClientMessage::Op(op) =
                decode(&bytes("k")?).map_err(|err| unreadable(&err.to_string()))?
            else {
                return Err(unreadable("not an op"));
            };
            Ok(StreamOp {
                stamp: Stamp { seq, timestamp_ms },
                op_id: OpId(uuid("o")?),
                author: ClientId(uuid("a")?),
                op,
            })
        })
        .collect()
}

/// The arguments [`SEQUENCE`] takes for one op.
pub fn sequence_args(
    args: &mut Vec<Vec<u8>>,
    op: &Op,
    author: ClientId,
    recorded: bool,
) -> Result<(), tabula_shared::EncodeError> {
    args.push(id_bytes(op.id.0).to_vec());
    args.push(id_bytes(author.0).to_vec());
    args.push(encode(&ClientMessage::Op(op.clone()))?);
    args.push(if recorded {
        b"1".to_vec()
    } else {
        b"0".to_vec()
    });
    Ok(())
}

/// A room's log in Redis.
#[derive(Debug)]
pub struct RedisLog {
    /// The room.
    room: String,
    /// Where it is.
    redis: Arc<Redis>,
}

impl RedisLog {
    /// Room `room` in `redis`, recorded among the rooms.
    pub fn open(redis: &Arc<Redis>, room: &str) -> Result<Self, StoreError> {
        redis.add_room(room)?;
        Ok(Self {
            room: room.to_owned(),
            redis: Arc::clone(redis),
        })
    }

    /// The ops after `after` up to `up_to`, at most `limit`.
    pub fn ops_between(
        &self,
        after: u64,
        up_to: u64,
        limit: usize,
    ) -> Result<Vec<StreamOp>, StoreError> {
        if after >= up_to {
            return Ok(Vec::new());
        }
        let reply: StreamRangeReply = self.redis.with(|c| {
            redis::cmd("XRANGE")
                .arg(key(&self.room, "log"))
                .arg(format!("{}-0", after + 1))
                .arg(format!("{up_to}-0"))
                .arg("COUNT")
                .arg(limit)
                .query(c)
        })?;
        stream_ops(reply)
    }
}

impl RedisLog {
    /// Every setting of the room.
    pub fn settings(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.redis.with(|c| {
            redis::cmd("HGETALL")
                .arg(key(&self.room, "settings"))
                .query(c)
        })
    }
}

impl OpLog for RedisLog {
    fn last_stamp(&self) -> Result<Option<Stamp>, StoreError> {
        let (head, ms): (Option<u64>, Option<u64>) = self.redis.with(|c| {
            redis::cmd("HMGET")
                .arg(key(&self.room, "state"))
                .arg("head")
                .arg("ms")
                .query(c)
        })?;
        Ok(head.filter(|&seq| seq > 0).map(|seq| Stamp {
            seq,
            timestamp_ms: ms.unwrap_or(0),
        }))
    }

    fn stamp_of(&self, op: OpId) -> Result<Option<Stamp>, StoreError> {
        let stamp: Option<String> = self.redis.with(|c| {
            redis::cmd("HGET")
                .arg(key(&self.room, "ids"))
                .arg(&id_bytes(op.0)[..])
                .query(c)
        })?;
        Ok(stamp.as_deref().and_then(parse_stamp))
    }

    fn append(&mut self, batch: &[Entry]) -> Result<(), StoreError> {
        let mut args: Vec<Vec<u8>> = Vec::with_capacity(batch.len() * 5);
        for entry in batch {
            let unreadable = |detail: String| StoreError::Unreadable {
                seq: entry.stamp.seq,
                detail,
            };
            let ServerMessage::Op(sequenced) =
                decode(&entry.frame).map_err(|err| unreadable(err.to_string()))?
            else {
                return Err(unreadable("not an op".to_owned()));
            };
            args.push(entry.stamp.seq.to_string().into_bytes());
            args.push(entry.stamp.timestamp_ms.to_string().into_bytes());
            args.push(id_bytes(entry.op_id.0).to_vec());
            args.push(id_bytes(entry.author.0).to_vec());
            args.push(
                encode(&ClientMessage::Op(sequenced.op))
                    .map_err(|err| unreadable(err.to_string()))?,
            );
        }
        let script = Script::new(APPEND);
        self.redis.with(|c| {
            let mut invocation = script.prepare_invoke();
            invocation
                .key(key(&self.room, "state"))
                .key(key(&self.room, "log"))
                .key(key(&self.room, "ids"));
            for arg in &args {
                invocation.arg(&arg[..]);
            }
            invocation.invoke::<Value>(c).map(drop)
        })
    }

    fn frames_between(
        &self,
        after: u64,
        up_to: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<Bytes>, StoreError> {
        let mut bytes = 0;
        let mut frames = Vec::new();
        for op in self.ops_between(after, up_to, limit)? {
            let frame = op.frame()?;
            bytes += frame.len();
            if !frames.is_empty() && bytes > max_bytes {
                break;
            }
            frames.push(frame);
        }
        Ok(frames)
    }

    fn latest_snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError> {
        let (seq, format, board): (Option<u64>, Option<u32>, Option<Vec<u8>>) =
            self.redis.with(|c| {
                redis::cmd("HMGET")
                    .arg(key(&self.room, "snapshot"))
                    .arg("seq")
                    .arg("format")
                    .arg("board")
                    .query(c)
            })?;
        Ok(match (seq, format, board) {
            (Some(seq), Some(format), Some(board)) => Some(StoredSnapshot { seq, format, board }),
            _ => None,
        })
    }

    fn put_snapshot(&mut self, snapshot: &StoredSnapshot) -> Result<(), StoreError> {
        let script = Script::new(PUT_SNAPSHOT);
        self.redis.with(|c| {
            script
                .key(key(&self.room, "snapshot"))
                .arg(snapshot.seq)
                .arg(snapshot.format)
                .arg(&snapshot.board[..])
                .invoke::<Value>(c)
                .map(drop)
        })
    }

    fn setting(&self, key_name: &str) -> Result<Option<String>, StoreError> {
        self.redis.with(|c| {
            redis::cmd("HGET")
                .arg(key(&self.room, "settings"))
                .arg(key_name)
                .query(c)
        })
    }

    fn set_setting(&mut self, key_name: &str, value: &str) -> Result<(), StoreError> {
        self.redis.with(|c| {
            redis::cmd("HSET")
                .arg(key(&self.room, "settings"))
                .arg(key_name)
                .arg(value)
                .query::<Value>(c)
                .map(drop)
        })
    }

    fn put_blob(&mut self, blob: &Blob) -> Result<bool, StoreError> {
        self.redis.with(|c| {
            redis::cmd("HSETNX")
                .arg(key(&self.room, "blobs"))
                .arg(blob.id().hex())
                .arg(&blob.bytes()[..])
                .query::<bool>(c)
        })
    }

    fn has_blob(&self, id: BlobId) -> Result<bool, StoreError> {
        self.redis.with(|c| {
            redis::cmd("HEXISTS")
                .arg(key(&self.room, "blobs"))
                .arg(id.hex())
                .query::<bool>(c)
        })
    }

    fn blob(&self, id: BlobId) -> Result<Option<Blob>, StoreError> {
        let bytes: Option<Vec<u8>> = self.redis.with(|c| {
            redis::cmd("HGET")
                .arg(key(&self.room, "blobs"))
                .arg(id.hex())
                .query(c)
        })?;
        bytes
            .map(|bytes| Blob::verified(id, bytes))
            .transpose()
            .map_err(|err| StoreError::DamagedBlob {
                id,
                detail: err.to_string(),
            })
    }
}
