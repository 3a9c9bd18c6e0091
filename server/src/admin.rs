//! What `tabula-server` does without serving: listing the rooms of a data
//! folder, and exporting one room into a session file; the same for the
//! rooms of a cluster in Redis, and importing a session file into Redis
//! ([`cluster`]). Each returns a typed result for the binary to print, or an
//! [`AdminError`] saying what went wrong.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tabula_shared::access::{ROOM_LOCK_SETTING, RoomLock};
use tabula_shared::room_name::RoomNameError;
use tabula_shared::session_file::{SessionFile, SessionFileError};

use crate::store::{self, SETTING_PREFIX, StoreError};

pub mod cluster;

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The room name given is not one a room can have.
    #[error("{0}")]
    RoomName(#[from] RoomNameError),
    /// The data folder holds no room of that name.
    #[error("there is no room {room:?} in {}", data.display())]
    NoSuchRoom {
        /// The room asked for.
        room: String,
        /// The data folder looked in.
        data: PathBuf,
    },
    /// The rooms folder could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A room's file could not be read, or the export not written.
    #[error(transparent)]
    File(#[from] SessionFileError),
    /// Redis holds no room of that name.
    #[error("there is no room {room:?} in Redis at {address}")]
    NoSuchRedisRoom {
        /// The room asked for.
        room: String,
        /// Redis's `HOST:PORT`.
        address: String,
    },
    /// An import would overwrite a room that already has a history.
    #[error("room {room:?} already has {ops} ops in Redis at {address}: nothing was imported")]
    RoomExists {
        /// The room.
        room: String,
        /// How many ops it has.
        ops: u64,
        /// Redis's `HOST:PORT`.
        address: String,
    },
}

/// The rooms of a data folder, as `tabula-server rooms` prints them.
#[derive(Debug)]
pub struct RoomList {
    /// Where the rooms are: the folder (`DATA/rooms`), or Redis.
    pub place: String,
    /// Each room by name, sorted, with what is listed of it or why it could
    /// not be read: a damaged room is listed with its problem, and the others
    /// still are.
    pub rooms: Vec<(String, Result<ListedRoom, String>)>,
    /// When the list was made, for how long ago each room was last active.
    pub now: SystemTime,
}

/// One room as `tabula-server rooms` lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListedRoom {
    /// How many ops it holds.
    pub ops: u64,
    /// When its last op was sequenced, if it has one.
    pub last_activity_ms: Option<u64>,
    /// Whether it has a password of its own (a lock the relay can read).
    pub password: bool,
}

/// Whether a room's lock setting, as its settings keep it, is a password the
/// relay would ask for.
fn is_locked(setting: Option<&str>) -> bool {
    setting.is_some_and(|text| RoomLock::from_meta(text).is_ok())
}

/// The listing of the room file `file`.
fn list_file(file: &SessionFile) -> Result<ListedRoom, SessionFileError> {
    let summary = file.summary()?;
    let meta = file.meta()?;
    let lock = meta
        .all
        .get(&format!("{SETTING_PREFIX}{ROOM_LOCK_SETTING}"));
    Ok(ListedRoom {
        ops: summary.ops,
        last_activity_ms: summary.last_activity_ms,
        password: is_locked(lock.map(String::as_str)),
    })
}

/// Lists the rooms in data folder `data` with their op counts and last
/// activity; none if it has no rooms folder yet.
pub fn list_rooms(data: &Path) -> Result<RoomList, AdminError> {
    let rooms_dir = store::rooms_dir(data);
    let names = if rooms_dir.exists() {
        store::room_names(&rooms_dir)?
    } else {
        Vec::new()
    };
    let rooms = names
        .into_iter()
        .map(|name| {
            let summary = SessionFile::open_read_only(store::room_path(&rooms_dir, &name))
                .and_then(|file| list_file(&file))
                .map_err(|err| err.to_string());
            (name, summary)
        })
        .collect();
    Ok(RoomList {
        place: rooms_dir.display().to_string(),
        rooms,
        now: SystemTime::now(),
    })
}

impl fmt::Display for RoomList {
    /// One line per room: name, op count, and last activity in RFC 3339 (UTC)
    /// with how long ago, then "own password" for a room with one; a heading
    /// first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rooms.is_empty() {
            return writeln!(f, "no rooms in {}", self.place);
        }
        writeln!(f, "{:<40} {:>10}  last activity", "room", "ops")?;
        for (name, summary) in &self.rooms {
            match summary {
                Ok(room) => writeln!(
                    f,
                    "{name:<40} {:>10}  {}{}",
                    room.ops,
                    room.last_activity_ms
                        .map_or_else(|| "never".to_owned(), |ms| describe_time(ms, self.now)),
                    if room.password { "  own password" } else { "" }
                )?,
                Err(err) => writeln!(f, "{name:<40} {:>10}  {err}", "?")?,
            }
        }
        Ok(())
    }
}

/// What [`export`] wrote.
#[derive(Debug)]
pub struct Exported {
    /// The room.
    pub room: String,
    /// How many ops the copy holds.
    pub ops: u64,
    /// The session file written.
    pub out: PathBuf,
}

impl fmt::Display for Exported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wrote room {} ({} ops) to {}",
            self.room,
            self.ops,
            self.out.display()
        )
    }
}

/// Copies room `room` of data folder `data` into a new session file `out`
/// (which must not exist), consistently even while a relay has the room open.
pub fn export(data: &Path, room: &str, out: &Path) -> Result<Exported, AdminError> {
    tabula_shared::room_name::validate(room)?;
    let rooms = store::rooms_dir(data);
    // A room named before names were folded may still have capitals.
    let path = [room.to_owned(), room.to_ascii_lowercase()]
        .iter()
        .map(|name| store::room_path(&rooms, name))
        .find(|path| path.exists())
        .unwrap_or_else(|| store::room_path(&rooms, room));
    if !path.exists() {
        return Err(AdminError::NoSuchRoom {
            room: room.to_owned(),
            data: data.to_path_buf(),
        });
    }
    let file = SessionFile::open_read_only(&path)?;
    file.export_to(out)?;
    let ops = file.summary()?.ops;
    Ok(Exported {
        room: room.to_owned(),
        ops,
        out: out.to_path_buf(),
    })
}

/// A Unix time in milliseconds in RFC 3339 (UTC, whole seconds), with how long
/// before `now` it was.
fn describe_time(ms: u64, now: SystemTime) -> String {
    let then = UNIX_EPOCH + Duration::from_millis(ms);
    let ago = now.duration_since(then).map_or(0, |ago| ago.as_secs());
    let ago = match ago {
        0..60 => format!("{ago} s ago"),
        60..3600 => format!("{} min ago", ago / 60),
        3600..86_400 => format!("{} h ago", ago / 3600),
        _ => format!("{} days ago", ago / 86_400),
    };
    format!("{} ({ago})", humantime::format_rfc3339_seconds(then))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use bytes::Bytes;
    use tabula_shared::access::{self, Kdf, KeyParams, Password, Salt};
    use tabula_shared::{ClientId, OpId};

    use super::*;
    use crate::store::{Entry, OpLog, SqliteLog, Stamp};

    /// 2023-11-14T22:13:20Z, in milliseconds.
    const NOV_14_MS: u64 = 1_700_000_000_000;

    /// A data folder with room `kept` (two ops, the last at [`NOV_14_MS`]),
    /// room `vault` (no ops, its own password) and a `broken.tabula` that is
    /// no session file.
    fn data_folder() -> tempfile::TempDir {
        let data = tempfile::tempdir().unwrap();
        let rooms = store::rooms_dir(data.path());
        fs::create_dir_all(&rooms).unwrap();
        let mut log = SqliteLog::open_or_create(&rooms, "kept").unwrap();
        let entries: Vec<Entry> = (1..=2)
            .map(|seq| Entry {
                op_id: OpId::random(),
                author: ClientId::random(),
                stamp: Stamp {
                    seq,
                    timestamp_ms: NOV_14_MS - 1000 + seq * 500,
                },
                frame: Bytes::from_static(b"an op"),
            })
            .collect();
        log.append(&entries).unwrap();
        let mut vault = SqliteLog::open_or_create(&rooms, "vault").unwrap();
        vault
            .set_setting(ROOM_LOCK_SETTING, &test_lock().to_meta())
            .unwrap();
        fs::write(rooms.join("broken.tabula"), "not a database").unwrap();
        data
    }

    /// A room lock, cheap to make.
    fn test_lock() -> RoomLock {
        let params = KeyParams {
            salt: Salt::random().unwrap(),
            kdf: Kdf {
                memory_kib: Kdf::MIN_MEMORY_KIB,
                iterations: 1,
                lanes: 1,
            },
        };
        let key = access::derive(&Password::new("open sesame").unwrap(), &params).unwrap();
        RoomLock::of(params, &key)
    }

    #[test]
    fn rooms_are_listed_with_ops_and_last_activity_and_a_damaged_one_with_its_problem() {
        let data = data_folder();
        let mut list = list_rooms(data.path()).unwrap();
        let names: Vec<&str> = list.rooms.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["broken", "kept", "vault"]);
        assert!(list.rooms[0].1.is_err());
        let kept = list.rooms[1].1.as_ref().unwrap();
        assert_eq!(
            (kept.ops, kept.last_activity_ms, kept.password),
            (2, Some(NOV_14_MS), false)
        );
        let vault = list.rooms[2].1.as_ref().unwrap();
        assert_eq!((vault.ops, vault.password), (0, true));

        list.now = UNIX_EPOCH + Duration::from_millis(NOV_14_MS) + Duration::from_secs(90);
        let text = list.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("room ") && lines[0].ends_with("ops  last activity"));
        assert!(
            lines[1].starts_with("broken ") && lines[1].contains(" ?  "),
            "{text}"
        );
        assert!(
            lines[2].starts_with("kept ")
                && lines[2].ends_with("         2  2023-11-14T22:13:20Z (1 min ago)"),
            "{text}"
        );
        assert!(
            lines[3].starts_with("vault ") && lines[3].ends_with(" 0  never  own password"),
            "{text}"
        );
    }

    #[test]
    fn a_data_folder_without_rooms_lists_none() {
        let data = tempfile::tempdir().unwrap();
        let list = list_rooms(data.path()).unwrap();
        assert!(list.rooms.is_empty());
        assert_eq!(
            list.to_string(),
            format!("no rooms in {}\n", store::rooms_dir(data.path()).display())
        );
    }

    #[test]
    fn a_room_is_exported_once_and_unknown_rooms_or_bad_names_are_refused() {
        let data = data_folder();
        let out = data.path().join("meeting.tabula");
        let exported = export(data.path(), "kept", &out).unwrap();
        assert_eq!(exported.ops, 2);
        assert_eq!(
            exported.to_string(),
            format!("wrote room kept (2 ops) to {}", out.display())
        );
        assert_eq!(
            SessionFile::open_read_only(&out)
                .unwrap()
                .summary()
                .unwrap()
                .ops,
            2
        );
        assert!(matches!(
            export(data.path(), "kept", &out),
            Err(AdminError::File(SessionFileError::AlreadyExists { .. }))
        ));
        assert!(matches!(
            export(data.path(), "elsewhere", &out),
            Err(AdminError::NoSuchRoom { room, .. }) if room == "elsewhere"
        ));
        assert!(matches!(
            export(data.path(), "../kept", &out),
            Err(AdminError::RoomName(_))
        ));
    }

    #[test]
    fn times_are_rfc_3339_with_how_long_ago() {
        let then = UNIX_EPOCH + Duration::from_millis(NOV_14_MS);
        for (later, ago) in [
            (0, "0 s ago"),
            (59, "59 s ago"),
            (3599, "59 min ago"),
            (7200, "2 h ago"),
            (3 * 86_400, "3 days ago"),
        ] {
            assert_eq!(
                describe_time(NOV_14_MS, then + Duration::from_secs(later)),
                format!("2023-11-14T22:13:20Z ({ago})")
            );
        }
        // A clock set back shows no negative age.
        assert_eq!(
            describe_time(NOV_14_MS, then - Duration::from_secs(5)),
            "2023-11-14T22:13:20Z (0 s ago)"
        );
    }
}
