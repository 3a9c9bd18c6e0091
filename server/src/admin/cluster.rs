//! The rooms of a cluster, in Redis: `tabula-server rooms --redis URL` lists
//! them, `export --redis URL --room ROOM OUT.tabula` writes one into a
//! session file, and `import --redis URL FILE.tabula` puts a session file's
//! room (a data folder's room file, or one the app saved) into Redis. A room
//! moves between a data folder and a cluster as a file: its ops with their
//! numbers, times and ids, its newest board snapshot, and its settings.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;
use tabula_shared::access::ROOM_LOCK_SETTING;
use tabula_shared::session_file::{SessionFile, StoredOp};

use super::{AdminError, Exported, ListedRoom, RoomList, is_locked};
use crate::store::redis::{Redis, RedisLog};
use crate::store::{Entry, OpLog, SETTING_PREFIX, StoreError};

/// How many ops are copied at a time.
const CHUNK: usize = 4096;

/// Lists the rooms in Redis at `url` with their op counts, last activity and
/// whether they have a password.
pub fn list_rooms(url: &str) -> Result<RoomList, AdminError> {
    let redis = Redis::new(url)?;
    let rooms = redis
        .room_names()?
        .into_iter()
        .map(|name| {
            let summary = RedisLog::open(&redis, &name)
                .and_then(|log| {
                    let last = log.last_stamp()?;
                    Ok(ListedRoom {
                        ops: last.map_or(0, |s| s.seq),
                        last_activity_ms: last.map(|s| s.timestamp_ms),
                        password: is_locked(log.setting(ROOM_LOCK_SETTING)?.as_deref()),
                    })
                })
                .map_err(|err| err.to_string());
            (name, summary)
        })
        .collect();
    Ok(RoomList {
        place: format!("Redis at {}", redis.address()),
        rooms,
        now: SystemTime::now(),
    })
}

/// Writes room `room` of Redis at `url` into a new session file `out` (which
/// must not exist): its ops, newest snapshot and settings. Consistent up to
/// the head it read first, while nodes serve the room.
pub fn export(url: &str, room: &str, out: &Path) -> Result<Exported, AdminError> {
    tabula_shared::room_name::validate(room)?;
    let redis = Redis::new(url)?;
    if !redis.room_exists(room)? {
        return Err(AdminError::NoSuchRedisRoom {
            room: room.to_owned(),
            address: redis.address().to_owned(),
        });
    }
    let log = RedisLog::open(&redis, room)?;
    let head = log.last_stamp()?.map_or(0, |s| s.seq);
    let mut file = SessionFile::create(out, room)?;
    let mut after = 0;
    while after < head {
        let ops = log.ops_between(after, head, CHUNK)?;
        if ops.is_empty() {
            return Err(StoreError::HistoryGap { seq: after + 1 }.into());
        }
        let rows = ops
            .into_iter()
            .map(|op| {
                let (stamp, op_id, author) = (op.stamp, op.op_id, op.author);
                Ok(StoredOp {
                    stamp,
                    op_id,
                    author,
                    frame: op.frame()?.to_vec(),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        after = rows.last().map_or(after, |row| row.stamp.seq);
        file.append(&rows)?;
    }
    if let Some(snapshot) = log.latest_snapshot()?.filter(|s| s.seq <= head) {
        file.put_snapshot(&snapshot)?;
    }
    for (key, value) in log.settings()? {
        file.set_meta(&format!("{SETTING_PREFIX}{key}"), &value)?;
    }
    Ok(Exported {
        room: room.to_owned(),
        ops: head,
        out: out.to_path_buf(),
    })
}

/// What [`import`] put into Redis.
#[derive(Debug)]
pub struct Imported {
    /// The room.
    pub room: String,
    /// How many ops it holds.
    pub ops: u64,
    /// The file read.
    pub file: PathBuf,
    /// Redis's `HOST:PORT`.
    pub address: String,
}

impl fmt::Display for Imported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "imported room {} ({} ops) from {} into Redis at {}",
            self.room,
            self.ops,
            self.file.display(),
            self.address
        )
    }
}

/// Puts the room in session file `file` into Redis at `url`, as room `room`
/// (by default the room the file was recorded in): its ops with their
/// numbers, times and ids, its newest snapshot and its settings. Refused if
/// Redis already has ops in that room.
pub fn import(url: &str, file: &Path, room: Option<&str>) -> Result<Imported, AdminError> {
    let session = SessionFile::open_read_only(file)?;
    let room = match room {
        Some(room) => room.to_owned(),
        None => session.meta()?.room,
    };
    let room = tabula_shared::room_name::canonical(&room)?;
    let redis = Redis::new(url)?;
    let mut log = RedisLog::open(&redis, &room)?;
    if let Some(last) = log.last_stamp()? {
        return Err(AdminError::RoomExists {
            room,
            ops: last.seq,
            address: redis.address().to_owned(),
        });
    }
    let mut batch = Vec::with_capacity(CHUNK);
    let mut ops = 0;
    for row in session.ops(0) {
        let row = row?;
        batch.push(Entry {
            op_id: row.op_id,
            author: row.author,
            stamp: row.stamp,
            frame: Bytes::from(row.frame),
        });
        if batch.len() == CHUNK {
            log.append(&batch)?;
            ops += batch.len() as u64;
            batch.clear();
        }
    }
    log.append(&batch)?;
    ops += batch.len() as u64;
    if let Some(snapshot) = session.snapshot_at_or_before(ops)? {
        log.put_snapshot(&snapshot)?;
    }
    for (key, value) in &session.meta()?.all {
        if let Some(setting) = key.strip_prefix(SETTING_PREFIX) {
            log.set_setting(setting, value)?;
        }
    }
    Ok(Imported {
        room,
        ops,
        file: file.to_path_buf(),
        address: redis.address().to_owned(),
    })
}
