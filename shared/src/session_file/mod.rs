//! Session files: a `.tabula` file is a `SQLite` database holding one room's
//! sequenced ops, and the relay keeps each room in exactly such a file, so a saved
//! session is just a room and a room's file is a saved session.
//!
//! # Schema (format version 3)
//!
//! ```sql
//! PRAGMA application_id = 0x54424c41;  -- "TBLA": this is a Tabula session
//! PRAGMA user_version   = 4;           -- the session format, FORMAT_VERSION
//! CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
//! CREATE TABLE ops (
//!     seq          INTEGER PRIMARY KEY,   -- 1, 2, 3, ... with no gaps
//!     op_id        BLOB NOT NULL UNIQUE,  -- the op's 16-byte uuid: resends are found here
//!     author       BLOB NOT NULL,         -- the author's 16-byte client uuid
//!     timestamp_ms INTEGER NOT NULL,      -- when the relay sequenced it (Unix ms)
//!     frame        BLOB NOT NULL          -- codec::encode(ServerMessage::Op(SequencedOp))
//! );
//! CREATE TABLE snapshots (
//!     seq    INTEGER PRIMARY KEY,  -- the board after applying ops 1..=seq
//!     format INTEGER NOT NULL,     -- the snapshot encoding's version
//!     board  BLOB NOT NULL         -- the encoded board
//! );
//! CREATE TABLE blobs (
//!     id    BLOB PRIMARY KEY,  -- the SHA-256 of bytes (32 bytes)
//!     bytes BLOB NOT NULL      -- an image file, at most caps::MAX_BLOB_BYTES
//! );
//! ```
//!
//! `meta` holds at least `format_version`, `room`, `created_at_ms`, `app_version`
//! (the Tabula version that created the file) and `frame_format` (the codec's
//! [`FORMAT_VERSION`](crate::codec::FORMAT_VERSION) of the frames). A frame is the
//! exact wire frame peers received, so the relay's catch-up sends stored bytes
//! without encoding anything again, and `frame` stays opaque to storage whatever
//! ops come to hold. The other columns repeat what the frame says so that
//! `sqlite3` and the index can answer questions without the codec.
//!
//! Format 2 has format 1's schema; its ops may also record people joining and
//! leaving ([`OpKind::Joined`](crate::OpKind::Joined) and
//! [`OpKind::Left`](crate::OpKind::Left)), which a format-1 reader could not
//! decode. Format 3 has the same schema again; its ops and snapshots may also
//! hold sticky notes ([`ObjectKind::Note`](crate::ObjectKind::Note)) and
//! operators' moderation ([`OpKind::Moderated`](crate::OpKind::Moderated)),
//! which a format-2 reader could not decode. An older file is read as it is and
//! stamped with this build's format when opened for writing, before anything
//! is appended to it.
//!
//! Format 4 adds images: the `blobs` table holds each picture once, however
//! many images show it (`blobs`), and ops may create images, which a format-3
//! reader could not decode. An older file gets the table and is stamped 4
//! when opened for writing.
//!
//! # Durability and safety
//!
//! Files are written in WAL mode with `synchronous = FULL`: when [`append`]
//! returns, the ops survive a crash or a power cut. Opening checks, in order, that
//! the file is a `SQLite` database, that it is a Tabula session, that its format is
//! not newer than this build's, and `PRAGMA quick_check`; each failure is its own
//! [`SessionFileError`] naming the file. A foreign database is never written to.
//! (A reader that shows a big file's board before the rest may leave the
//! integrity check, which reads the whole file, to later:
//! [`SessionFile::open_read_only_unchecked`].)
//!
//! A file may also be crafted to harm whoever opens it. Before anything is
//! read, every connection turns on `SQLITE_DBCONFIG_DEFENSIVE`, turns off
//! the trust in the schema (`trusted_schema`), triggers and views, and limits
//! the length of any one value read ([`MAX_VALUE_BYTES`]);
//! the schema must hold exactly the tables and index above, so a view or a
//! trigger is refused by name; an op's frame longer than a frame may be
//! ([`MAX_FRAME_BYTES`](crate::codec::MAX_FRAME_BYTES)) is refused by a
//! length the query computes before the frame is read, and a snapshot over
//! [`MAX_SNAPSHOT_READ`] is passed over (the ops are the truth). A long read
//! can be stopped from another thread ([`SessionFile::interrupter`]).
//!
//! The module's parts: [`SessionFileError`] and how `SQLite`'s errors map to
//! it (`error`); the log, read and written (`log`: appends, ops, frames,
//! snapshots, exports); the images' bytes (`blobs`); here, opening, creating and checking a file.
//!
//! [`append`]: SessionFile::append

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, params};
use uuid::Uuid;

use crate::codec::MAX_FRAME_BYTES;
use crate::{ClientId, EncodeError, OpId, SequencedOp, ServerMessage};

mod blobs;
mod error;
mod log;
#[cfg(test)]
mod tests;

pub use error::SessionFileError;
use error::sqlite_error;
pub use log::Ops;

/// `PRAGMA application_id` of every Tabula session: "TBLA" in ASCII, so that
/// `file(1)` and any `SQLite` tool can tell a session from another database.
pub const APPLICATION_ID: i32 = 0x5442_4c41;
/// The session format this build writes, and the newest it reads
/// (`PRAGMA user_version`).
pub const FORMAT_VERSION: u32 = 4;
/// The file name extension of a session, without the dot.
pub const EXTENSION: &str = "tabula";
/// How many ops [`SessionFile::ops`] reads per query.
const CHUNK: usize = 1024;
/// How long a statement waits for another connection's write lock (another
/// process exporting, say) before it fails with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest value (a frame, a snapshot, a text) any connection reads:
/// `SQLITE_LIMIT_LENGTH`. A crafted file's 500 MB blob fails with
/// [`SessionFileError::TooBig`] instead of being allocated.
pub const MAX_VALUE_BYTES: usize = 256 << 20;
/// The largest stored snapshot read; a larger one is passed over like one
/// that does not decode, and the board built from the ops instead.
pub const MAX_SNAPSHOT_READ: usize = MAX_VALUE_BYTES;
/// [`MAX_FRAME_BYTES`] as an `SQLite` integer (it is far below `i64::MAX`).
#[allow(clippy::cast_possible_wrap)]
const FRAME_LIMIT: i64 = MAX_FRAME_BYTES as i64;
/// [`MAX_SNAPSHOT_READ`] as an `SQLite` integer.
#[allow(clippy::cast_possible_wrap)]
const SNAPSHOT_LIMIT: i64 = MAX_SNAPSHOT_READ as i64;
/// The longest `meta` key or value read.
const MAX_META_BYTES: usize = 64 << 10;
/// Everything a session's schema holds, as `(type, name)` in
/// `sqlite_schema`: anything else (a view, a trigger, another table) is
/// refused before the file is read.
const SCHEMA: [(&str, &str); 6] = [
    ("table", "meta"),
    ("table", "ops"),
    ("index", "sqlite_autoindex_ops_1"),
    ("table", "snapshots"),
    ("table", "blobs"),
    ("index", "sqlite_autoindex_blobs_1"),
];
/// The first 16 bytes of every `SQLite` database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// How an op was stamped when it was sequenced; enough to acknowledge a resend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// The op's place in the room's order.
    pub seq: u64,
    /// When it was sequenced, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
}

/// One row of the `ops` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredOp {
    /// Where it stands in the room's order, and when it was sequenced.
    pub stamp: Stamp,
    /// The op's id, indexed so that a resend is recognised.
    pub op_id: OpId,
    /// Who proposed it, stored apart from the frame for queries.
    pub author: ClientId,
    /// The wire frame of `ServerMessage::Op`, exactly as peers received it.
    pub frame: Vec<u8>,
}

impl StoredOp {
    /// The row for a sequenced op, encoding its frame.
    pub fn encode(op: &SequencedOp) -> Result<Self, EncodeError> {
        let frame = crate::encode(&ServerMessage::Op(op.clone()))?;
        Ok(Self {
            stamp: Stamp {
                seq: op.seq,
                timestamp_ms: op.timestamp_ms,
            },
            op_id: op.op.id,
            author: op.author,
            frame,
        })
    }
}

/// A stored board snapshot: the board after applying ops `1..=seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSnapshot {
    /// The last op the snapshot includes.
    pub seq: u64,
    /// The version of the snapshot encoding, so an old one can be skipped.
    pub format: u32,
    /// The encoded board.
    pub board: Vec<u8>,
}

/// What the `meta` table says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    /// The room the session was recorded in.
    pub room: String,
    /// When the file was created, in milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// The Tabula version that created the file.
    pub app_version: String,
    /// Every key and value in the table, the above included.
    pub all: BTreeMap<String, String>,
}

/// Counts for listings such as `tabula-server rooms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// How many ops the file holds (equal to the head: sequence numbers have no gaps).
    pub ops: u64,
    /// When the last op was sequenced, if there is one.
    pub last_activity_ms: Option<u64>,
}

/// An open session file.
#[derive(Debug)]
pub struct SessionFile {
    /// The connection; statements are cached on it.
    conn: Connection,
    /// The file, for every error message.
    path: PathBuf,
}

/// How [`SessionFile::open_with`] opens a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Open {
    /// To append to (after stamping an older format with this build's).
    ForWriting,
    /// To read, every check made.
    ToRead,
    /// To read, the integrity check left to the caller.
    ToReadUnchecked,
    /// To append to again, after this process opened it [`Self::ForWriting`]
    /// and closed it: the integrity check is not made again.
    Reopen,
}

impl SessionFile {
    /// Creates a new, empty session for `room` at `path`; fails with
    /// [`SessionFileError::AlreadyExists`] if something is there.
    pub fn create(path: impl AsRef<Path>, room: &str) -> Result<Self, SessionFileError> {
        let path = path.as_ref().to_path_buf();
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                return Err(SessionFileError::AlreadyExists { path });
            }
            Err(cause) => return Err(SessionFileError::Io { path, cause }),
        }
        let created = Self::initialise(&path, room);
        if created.is_err() {
            // Nothing was committed; leave no half-made file behind. The original
            // error is the one worth reporting.
            let _ = fs::remove_file(&path);
        }
        created
    }

    /// Opens an existing session to read and append.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SessionFileError> {
        Self::open_with(path.as_ref(), Open::ForWriting)
    }

    /// Opens again, to read and append, a session this process opened (and so
    /// checked) before and then closed: what a relay does when a room it let
    /// rest is used again. The identity and format are checked as by
    /// [`open`](Self::open), but not every page: `PRAGMA quick_check` reads the
    /// whole file, which the next op of a room of a million ops should not wait
    /// for. Damage done since would still fail the read that meets it.
    pub fn reopen(path: impl AsRef<Path>) -> Result<Self, SessionFileError> {
        Self::open_with(path.as_ref(), Open::Reopen)
    }

    /// Opens an existing session to read only (listings, exports, replay); nothing
    /// is written to the file.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, SessionFileError> {
        Self::open_with(path.as_ref(), Open::ToRead)
    }

    /// Like [`Self::open_read_only`] with every check but the integrity check
    /// (`PRAGMA quick_check`, which reads the whole file: most of the time it
    /// takes to open a big one), for a reader that shows something first and
    /// runs [`Self::quick_check`] itself before it trusts the rest.
    pub fn open_read_only_unchecked(path: impl AsRef<Path>) -> Result<Self, SessionFileError> {
        Self::open_with(path.as_ref(), Open::ToReadUnchecked)
    }

    /// Opens the session at `path`, or creates one for `room` if there is none.
    ///
    /// An empty file with no write-ahead log beside it is a creation that never
    /// committed (the process died in between) and is created afresh.
    pub fn open_or_create(path: impl AsRef<Path>, room: &str) -> Result<Self, SessionFileError> {
        let path = path.as_ref();
        match fs::metadata(path) {
            Ok(meta) if meta.len() == 0 && !wal_path(path).exists() => {
                fs::remove_file(path).map_err(|cause| SessionFileError::Io {
                    path: path.to_path_buf(),
                    cause,
                })?;
                Self::create(path, room)
            }
            Ok(_) => Self::open(path),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Self::create(path, room),
            Err(cause) => Err(SessionFileError::Io {
                path: path.to_path_buf(),
                cause,
            }),
        }
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Caps `SQLite`'s page cache for this file at about `kib` KiB (`PRAGMA
    /// cache_size`; the default is 2 MiB) and frees what opening the file left
    /// behind: every cached page (`PRAGMA shrink_memory`; the integrity check
    /// reads the whole file) and the statements its checks prepared. A relay
    /// keeps one file open per room, most of them idle, and reads them
    /// sequentially when it reads at all, so the OS's cache serves it as well.
    ///
    /// What an open file costs beyond that is set at build time: the workspace's
    /// `.cargo/config.toml` builds the bundled `SQLite` with no per-connection
    /// lookaside allocator and no up-front page cache block
    /// (`SQLITE_DEFAULT_LOOKASIDE=0,0`, `SQLITE_DEFAULT_PCACHE_INITSZ=0`), which
    /// would otherwise hold about 120 KiB per open file, idle or not.
    pub fn limit_cache(&self, kib: u32) -> Result<(), SessionFileError> {
        self.conn
            .pragma_update(None, "cache_size", -i64::from(kib.max(1)))
            .map_err(|err| self.error(err))?;
        self.release_memory()
    }

    /// Frees every page `SQLite` holds in its cache for this file (`PRAGMA
    /// shrink_memory`); the next read takes them from the OS's cache again.
    pub fn release_pages(&self) -> Result<(), SessionFileError> {
        self.conn
            .execute_batch("PRAGMA shrink_memory")
            .map_err(|err| self.error(err))
    }

    /// Frees every cached page and every prepared statement, as
    /// [`limit_cache`](Self::limit_cache) does after opening: for a caller
    /// done with reads it will not make again soon.
    pub fn release_memory(&self) -> Result<(), SessionFileError> {
        self.release_pages()?;
        self.conn.flush_prepared_statement_cache();
        Ok(())
    }

    /// Closes the file. Dropping a `SessionFile` closes it too, silently; this
    /// says whether `SQLite` could (the last connection to close checkpoints
    /// the write-ahead log into the file and deletes it and its index).
    pub fn close(self) -> Result<(), SessionFileError> {
        let path = self.path;
        self.conn
            .close()
            .map_err(|(_, err)| sqlite_error(&path, err))
    }

    /// Sets up a fresh, empty file.
    fn initialise(path: &Path, room: &str) -> Result<Self, SessionFileError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|err| sqlite_error(path, err))?;
        let mut file = Self {
            conn,
            path: path.to_path_buf(),
        };
        file.harden()?;
        file.configure_for_writing()?;
        let created_at_ms = now_ms().to_string();
        let app_version = env!("CARGO_PKG_VERSION");
        let frame_format = crate::codec::FORMAT_VERSION.to_string();
        let format = FORMAT_VERSION.to_string();
        let tx = file
            .conn
            .transaction()
            .map_err(|err| sqlite_error(path, err))?;
        let setup = tx
            .execute_batch(&format!(
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
                 CREATE TABLE ops (
                     seq INTEGER PRIMARY KEY,
                     op_id BLOB NOT NULL UNIQUE,
                     author BLOB NOT NULL,
                     timestamp_ms INTEGER NOT NULL,
                     frame BLOB NOT NULL
                 );
                 CREATE TABLE snapshots (
                     seq INTEGER PRIMARY KEY,
                     format INTEGER NOT NULL,
                     board BLOB NOT NULL
                 );
                 PRAGMA application_id = {APPLICATION_ID};
                 PRAGMA user_version = {FORMAT_VERSION};"
            ))
            .and_then(|()| {
                let mut insert = tx.prepare("INSERT INTO meta (key, value) VALUES (?1, ?2)")?;
                for (key, value) in [
                    ("format_version", format.as_str()),
                    ("room", room),
                    ("created_at_ms", created_at_ms.as_str()),
                    ("app_version", app_version),
                    ("frame_format", frame_format.as_str()),
                ] {
                    insert.execute(params![key, value])?;
                }
                Ok(())
            })
            .and_then(|()| tx.commit());
        setup.map_err(|err| sqlite_error(path, err))?;
        Ok(file)
    }

    /// Opens and checks an existing file.
    fn open_with(path: &Path, how: Open) -> Result<Self, SessionFileError> {
        let read_only = matches!(how, Open::ToRead | Open::ToReadUnchecked);
        check_header(path)?;
        let mode = if read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
        };
        let conn = Connection::open_with_flags(path, mode | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|err| sqlite_error(path, err))?;
        let mut file = Self {
            conn,
            path: path.to_path_buf(),
        };
        file.harden()?;
        file.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|err| sqlite_error(path, err))?;
        // Identity first, before anything could write to a foreign database.
        let found: i32 = file
            .conn
            .pragma_query_value(None, "application_id", |row| row.get(0))
            .map_err(|err| file.error(err))?;
        if found != APPLICATION_ID {
            return Err(SessionFileError::NotTabula {
                path: file.path,
                found,
            });
        }
        let version: u32 = file
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|err| file.error(err))?;
        if version > FORMAT_VERSION {
            return Err(SessionFileError::NewerVersion {
                path: file.path,
                found: version,
            });
        }
        if version == 0 {
            return Err(file.corrupt("the session format version is missing".to_owned()));
        }
        file.check_schema()?;
        if matches!(how, Open::ForWriting | Open::ToRead) {
            file.quick_check()?;
        }
        if !read_only {
            file.configure_for_writing()?;
            if version < FORMAT_VERSION {
                file.stamp_format()?;
            }
        }
        // The schema must be there: reading the meta and the head touches both tables.
        file.meta()?;
        file.head()?;
        Ok(file)
    }

    /// Makes the connection safe for a file that may be crafted: defensive
    /// mode, no trust in the schema, no triggers or views, and no value longer than [`MAX_VALUE_BYTES`] (see the module docs).
    fn harden(&self) -> Result<(), SessionFileError> {
        use rusqlite::config::DbConfig;
        use rusqlite::limits::Limit;
        let configured = (|| {
            self.conn
                .set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
            self.conn
                .set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
            self.conn
                .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)?;
            self.conn
                .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_VIEW, false)?;
            let max = i32::try_from(MAX_VALUE_BYTES).unwrap_or(i32::MAX);
            self.conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, max)?;
            Ok(())
        })();
        configured.map_err(|err| self.error(err))
    }

    /// Refuses a file whose schema holds anything but a session's tables
    /// and index ([`SCHEMA`]): a view or a trigger could run or return
    /// anything when the file is read.
    fn check_schema(&self) -> Result<(), SessionFileError> {
        let mut statement = self
            .conn
            .prepare("SELECT type, substr(name, 1, 200) FROM sqlite_schema LIMIT 100")
            .map_err(|err| self.error(err))?;
        let found = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|err| self.error(err))?;
        let unexpected = found
            .iter()
            .find(|(kind, name)| !SCHEMA.contains(&(kind.as_str(), name.as_str())));
        if let Some((kind, name)) = unexpected {
            return Err(SessionFileError::UnexpectedSchema {
                path: self.path.clone(),
                what: format!("a {kind} named {name:?}, which a Tabula session never has"),
            });
        }
        Ok(())
    }

    /// A handle that stops this file's running query from another thread
    /// (a Cancel while a big file is checked or read): the query fails with
    /// [`SessionFileError::Interrupted`].
    #[must_use]
    pub fn interrupter(&self) -> Interrupter {
        Interrupter(self.conn.get_interrupt_handle())
    }

    /// WAL and `synchronous = FULL`: a commit is on disk when it returns, and
    /// readers (an export, a listing) never block the writer.
    fn configure_for_writing(&mut self) -> Result<(), SessionFileError> {
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|err| self.error(err))?;
        let mode: String = self
            .conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|err| self.error(err))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(SessionFileError::Refused {
                path: self.path.clone(),
                detail: format!("the file system refused WAL mode (journal mode is {mode})"),
            });
        }
        self.conn
            .pragma_update(None, "synchronous", "FULL")
            .and_then(|()| self.conn.execute_batch(blobs::CREATE_BLOBS))
            .map_err(|err| self.error(err))
    }

    /// Stamps an older file with this build's format, which it is about to
    /// write ops of.
    fn stamp_format(&mut self) -> Result<(), SessionFileError> {
        let tx = self
            .conn
            .transaction()
            .map_err(|err| sqlite_error(&self.path, err))?;
        tx.execute_batch(&format!("PRAGMA user_version = {FORMAT_VERSION}"))
            .and_then(|()| {
                tx.execute(
                    "UPDATE meta SET value = ?1 WHERE key = 'format_version'",
                    params![FORMAT_VERSION.to_string()],
                )
            })
            .and_then(|_| tx.commit())
            .map_err(|err| sqlite_error(&self.path, err))
    }

    /// Runs `PRAGMA quick_check`: a damaged file is refused on open rather than
    /// failing somewhere in the middle of a session. Every open but
    /// [`Self::open_read_only_unchecked`] runs it.
    pub fn quick_check(&self) -> Result<(), SessionFileError> {
        let mut statement = self
            .conn
            .prepare("PRAGMA quick_check(5)")
            .map_err(|err| self.error(err))?;
        let problems = statement
            .query_map([], |row| row.get::<_, String>(0))
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|err| self.error(err))?;
        if problems.len() == 1 && problems[0] == "ok" {
            Ok(())
        } else {
            Err(self.corrupt(problems.join("; ")))
        }
    }

    /// Everything in the `meta` table.
    pub fn meta(&self) -> Result<Meta, SessionFileError> {
        let mut statement = self
            .conn
            .prepare_cached(&format!(
                "SELECT key, value FROM meta
                 WHERE length(key) <= {MAX_META_BYTES} AND length(value) <= {MAX_META_BYTES}"
            ))
            .map_err(|err| self.error(err))?;
        let all = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .and_then(Iterator::collect::<Result<BTreeMap<String, String>, _>>)
            .map_err(|err| self.error(err))?;
        let get = |key: &str| {
            all.get(key)
                .cloned()
                .ok_or_else(|| self.corrupt(format!("the meta table has no {key}")))
        };
        let created_at_ms = get("created_at_ms")?;
        Ok(Meta {
            room: get("room")?,
            created_at_ms: created_at_ms
                .parse()
                .map_err(|_| self.corrupt(format!("created_at_ms is {created_at_ms:?}")))?,
            app_version: get("app_version")?,
            all,
        })
    }

    /// Sets one metadata value (a title, say); the schema's own keys are kept as
    /// they are.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), SessionFileError> {
        if matches!(
            key,
            "format_version" | "room" | "created_at_ms" | "app_version" | "frame_format"
        ) {
            return Err(SessionFileError::Refused {
                path: self.path.clone(),
                detail: format!("the meta key {key} belongs to the schema and cannot be set"),
            });
        }
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(drop)
            .map_err(|err| self.error(err))
    }

    /// A `SQLite` error about this file, classified.
    fn error(&self, err: rusqlite::Error) -> SessionFileError {
        sqlite_error(&self.path, err)
    }

    /// A damaged-file error about this file.
    fn corrupt(&self, detail: String) -> SessionFileError {
        SessionFileError::Corrupt {
            path: self.path.clone(),
            detail,
        }
    }
}

/// Stops a [`SessionFile`]'s running query from another thread; see
/// [`SessionFile::interrupter`].
pub struct Interrupter(rusqlite::InterruptHandle);

impl std::fmt::Debug for Interrupter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Interrupter")
    }
}

impl Interrupter {
    /// Stops the query running now, if any (the next one runs as usual).
    pub fn interrupt(&self) {
        self.0.interrupt();
    }
}

/// Refuses a file that cannot be a `SQLite` database before `SQLite` sees it: `SQLite`
/// would take an empty file for a new, empty database. A file whose write-ahead
/// log still holds its first commit may be short, so it is left to `SQLite`.
fn check_header(path: &Path) -> Result<(), SessionFileError> {
    let io_error = |cause| SessionFileError::Io {
        path: path.to_path_buf(),
        cause,
    };
    let mut file = fs::File::open(path).map_err(io_error)?;
    let mut header = [0; SQLITE_HEADER.len()];
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..]).map_err(io_error)? {
            0 => break,
            n => read += n,
        }
    }
    if read == 0 && !wal_path(path).exists() {
        return Err(SessionFileError::Corrupt {
            path: path.to_path_buf(),
            detail: "the file is empty".to_owned(),
        });
    }
    if read > 0 && (read < header.len() || &header != SQLITE_HEADER) {
        return Err(SessionFileError::NotSqlite {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// The write-ahead log `SQLite` keeps beside a database in WAL mode.
fn wal_path(path: &Path) -> PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

/// Reads a stamp from the first two columns.
fn stamp_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Stamp> {
    Ok(Stamp {
        seq: row.get::<_, i64>(0)? as u64,
        timestamp_ms: row.get::<_, i64>(1)? as u64,
    })
}

/// Reads a 16-byte uuid from column `index`.
fn uuid_from_row(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Uuid> {
    let bytes: Vec<u8> = row.get(index)?;
    Uuid::from_slice(&bytes).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Blob, Box::new(err))
    })
}

/// `SQLite` integers are signed 64-bit; sequence numbers and times never come near
/// the top, and anything that did is kept at the largest value rather than wrapped.
fn to_sql_int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Now, in milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
