//! Session files: a `.tabula` file is a `SQLite` database holding one room's
//! sequenced ops, and the relay keeps each room in exactly such a file, so a saved
//! session is just a room and a room's file is a saved session.
//!
//! # Schema (format version 2)
//!
//! ```sql
//! PRAGMA application_id = 0x54424c41;  -- "TBLA": this is a Tabula session
//! PRAGMA user_version   = 2;           -- the session format, FORMAT_VERSION
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
//! decode. A format-1 file is read as it is and stamped 2 when opened for
//! writing, before anything is appended to it.
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
//! the trust in the schema (`trusted_schema`), triggers and views, and limits the length of any one value read ([`MAX_VALUE_BYTES`]);
//! the schema must hold exactly the tables and index above, so a view or a
//! trigger is refused by name; an op's frame longer than a frame may be
//! ([`MAX_FRAME_BYTES`](crate::codec::MAX_FRAME_BYTES)) is refused by a
//! length the query computes before the frame is read, and a snapshot over
//! [`MAX_SNAPSHOT_READ`] is passed over (the ops are the truth). A long read
//! can be stopped from another thread ([`SessionFile::interrupter`]).
//!
//! [`append`]: SessionFile::append

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, OpenOptions};
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension as _, params};
use uuid::Uuid;

use crate::codec::MAX_FRAME_BYTES;
use crate::{Board, ClientId, DecodeError, EncodeError, OpId, SequencedOp, ServerMessage};

/// `PRAGMA application_id` of every Tabula session: "TBLA" in ASCII, so that
/// `file(1)` and any `SQLite` tool can tell a session from another database.
pub const APPLICATION_ID: i32 = 0x5442_4c41;
/// The session format this build writes, and the newest it reads
/// (`PRAGMA user_version`).
pub const FORMAT_VERSION: u32 = 2;
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
const SCHEMA: [(&str, &str); 4] = [
    ("table", "meta"),
    ("table", "ops"),
    ("index", "sqlite_autoindex_ops_1"),
    ("table", "snapshots"),
];
/// The first 16 bytes of every `SQLite` database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// What can go wrong with a session file; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum SessionFileError {
    /// The file is not a `SQLite` database at all (a text file, an image, or a file
    /// cut off before the end of its header).
    #[error("{}: not a Tabula session: this is not a SQLite database", path.display())]
    NotSqlite {
        /// The file.
        path: PathBuf,
    },
    /// A `SQLite` database, but some other program's.
    #[error(
        "{}: not a Tabula session: a SQLite database of another kind (application id {found:#010x})",
        path.display()
    )]
    NotTabula {
        /// The file.
        path: PathBuf,
        /// The application id it carries (0 for none).
        found: i32,
    },
    /// A session written by a newer Tabula, in a format this build does not know.
    #[error(
        "{}: written by a newer Tabula (session format {found}); this version reads format {FORMAT_VERSION} and older",
        path.display()
    )]
    NewerVersion {
        /// The file.
        path: PathBuf,
        /// The format version it carries.
        found: u32,
    },
    /// The file is damaged: truncated, overwritten, or missing parts of the schema.
    #[error("{}: the session is damaged or truncated: {detail}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What `SQLite` or the schema check found.
        detail: String,
    },
    /// [`SessionFile::create`] was asked to create a file that is already there.
    #[error("{}: already exists", path.display())]
    AlreadyExists {
        /// The file.
        path: PathBuf,
    },
    /// Ops appended out of sequence: the first must follow the head, and each
    /// the one before.
    #[error("{}: ops must follow the head in order: expected seq {expected}, got {found}", path.display())]
    OutOfOrder {
        /// The file.
        path: PathBuf,
        /// The sequence number that would have been next.
        expected: u64,
        /// The one that was given.
        found: u64,
    },
    /// Something this file cannot do: the file system refuses WAL mode, or a
    /// schema key was to be overwritten.
    #[error("{}: {detail}", path.display())]
    Refused {
        /// The file.
        path: PathBuf,
        /// What was refused.
        detail: String,
    },
    /// A stored frame that does not decode.
    #[error("{}: op {seq} cannot be read: {cause}", path.display())]
    BadFrame {
        /// The file.
        path: PathBuf,
        /// The op's sequence number.
        seq: u64,
        /// Why the frame does not decode.
        cause: DecodeError,
    },
    /// The file holds something this build will not read: a view, a trigger,
    /// a table a session never has.
    #[error("{}: not a Tabula session as this version writes it: it holds {what}", path.display())]
    UnexpectedSchema {
        /// The file.
        path: PathBuf,
        /// What was found, in words.
        what: String,
    },
    /// A stored value longer than Tabula reads.
    #[error("{}: {what} is {bytes} bytes, and at most {max} are read", path.display())]
    TooBig {
        /// The file.
        path: PathBuf,
        /// What it is, in words ("op 12's frame").
        what: String,
        /// How long it is (0 where `SQLite` did not say).
        bytes: u64,
        /// How long it may be.
        max: usize,
    },
    /// A read was stopped from another thread ([`SessionFile::interrupter`]).
    #[error("{}: reading was stopped", path.display())]
    Interrupted {
        /// The file.
        path: PathBuf,
    },
    /// The file system refused (missing file, permissions, ...).
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        cause: io::Error,
    },
    /// `SQLite` failed for another reason: the disk is full, the file is locked, ...
    #[error("{}: {cause}", path.display())]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// What `SQLite` said.
        cause: rusqlite::Error,
    },
}

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

    /// The latest sequence number, 0 while there are no ops.
    pub fn head(&self) -> Result<u64, SessionFileError> {
        self.conn
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM ops")
            .and_then(|mut s| s.query_row([], |row| row.get::<_, i64>(0)))
            .map(|head| head as u64)
            .map_err(|err| self.error(err))
    }

    /// The stamp of the last op, if any: where a relay restarting on this file
    /// carries on (sequence numbers and timestamps never go backwards).
    pub fn last_stamp(&self) -> Result<Option<Stamp>, SessionFileError> {
        self.conn
            .prepare_cached("SELECT seq, timestamp_ms FROM ops ORDER BY seq DESC LIMIT 1")
            .and_then(|mut s| s.query_row([], stamp_from_row).optional())
            .map_err(|err| self.error(err))
    }

    /// How the op with this id was stamped, if the file holds it: found through
    /// the `op_id` index, so a resend is recognised without scanning.
    pub fn stamp_of(&self, op: OpId) -> Result<Option<Stamp>, SessionFileError> {
        self.conn
            .prepare_cached("SELECT seq, timestamp_ms FROM ops WHERE op_id = ?1")
            .and_then(|mut s| s.query_row([op.0.as_bytes()], stamp_from_row).optional())
            .map_err(|err| self.error(err))
    }

    /// The op count and the time of the last op.
    pub fn summary(&self) -> Result<Summary, SessionFileError> {
        let last = self.last_stamp()?;
        Ok(Summary {
            ops: last.map_or(0, |s| s.seq),
            last_activity_ms: last.map(|s| s.timestamp_ms),
        })
    }

    /// Appends sequenced ops in one transaction: when this returns `Ok` they are
    /// durable, and if it fails none of them is stored. The first must be
    /// `head() + 1` and each the one after the one before.
    pub fn append(&mut self, ops: &[StoredOp]) -> Result<(), SessionFileError> {
        let Some(first) = ops.first() else {
            return Ok(());
        };
        let expected = self.head()? + 1;
        if first.stamp.seq != expected {
            return Err(SessionFileError::OutOfOrder {
                path: self.path.clone(),
                expected,
                found: first.stamp.seq,
            });
        }
        if let Some(pair) = ops
            .windows(2)
            .find(|pair| pair[1].stamp.seq != pair[0].stamp.seq + 1)
        {
            return Err(SessionFileError::OutOfOrder {
                path: self.path.clone(),
                expected: pair[0].stamp.seq + 1,
                found: pair[1].stamp.seq,
            });
        }
        let tx = self
            .conn
            .transaction()
            .map_err(|err| sqlite_error(&self.path, err))?;
        let written = (|| {
            let mut insert = tx.prepare_cached(
                "INSERT INTO ops (seq, op_id, author, timestamp_ms, frame)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for op in ops {
                insert.execute(params![
                    to_sql_int(op.stamp.seq),
                    op.op_id.0.as_bytes(),
                    op.author.0.as_bytes(),
                    to_sql_int(op.stamp.timestamp_ms),
                    op.frame,
                ])?;
            }
            drop(insert);
            tx.commit()
        })();
        written.map_err(|err| sqlite_error(&self.path, err))
    }

    /// Up to `limit` ops after sequence number `after`, in order.
    pub fn ops_after(&self, after: u64, limit: usize) -> Result<Vec<StoredOp>, SessionFileError> {
        // The frame's length is computed first: one longer than a frame may
        // be is refused without being read.
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT seq, timestamp_ms, op_id, author, length(frame),
                        CASE WHEN length(frame) <= ?3 THEN frame END
                 FROM ops WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(|err| self.error(err))?;
        let rows: Vec<(StoredOp, u64, bool)> = statement
            .query_map(
                params![
                    to_sql_int(after),
                    i64::try_from(limit).unwrap_or(i64::MAX),
                    FRAME_LIMIT
                ],
                |row| {
                    let frame: Option<Vec<u8>> = row.get(5)?;
                    let op = StoredOp {
                        stamp: stamp_from_row(row)?,
                        op_id: OpId(uuid_from_row(row, 2)?),
                        author: ClientId(uuid_from_row(row, 3)?),
                        frame: frame.clone().unwrap_or_default(),
                    };
                    Ok((op, row.get::<_, i64>(4)? as u64, frame.is_some()))
                },
            )
            .and_then(Iterator::collect)
            .map_err(|err| self.error(err))?;
        rows.into_iter()
            .map(|(op, bytes, read)| {
                if read {
                    Ok(op)
                } else {
                    Err(self.frame_too_big(op.stamp.seq, bytes))
                }
            })
            .collect()
    }

    /// The error for op `seq`'s frame of `bytes`, longer than a frame may be.
    fn frame_too_big(&self, seq: u64, bytes: u64) -> SessionFileError {
        SessionFileError::TooBig {
            path: self.path.clone(),
            what: format!("op {seq}'s frame"),
            bytes,
            max: MAX_FRAME_BYTES,
        }
    }

    /// The frames of the ops after `after` up to and including `up_to`, at most
    /// `limit` of them: a relay's catch-up, read in chunks.
    pub fn frames_between(
        &self,
        after: u64,
        up_to: u64,
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, SessionFileError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT seq, length(frame), CASE WHEN length(frame) <= ?4 THEN frame END
                 FROM ops WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3",
            )
            .map_err(|err| self.error(err))?;
        let rows: Vec<(u64, u64, Option<Vec<u8>>)> = statement
            .query_map(
                params![
                    to_sql_int(after),
                    to_sql_int(up_to),
                    i64::try_from(limit).unwrap_or(i64::MAX),
                    FRAME_LIMIT
                ],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)? as u64,
                        row.get::<_, i64>(1)? as u64,
                        row.get(2)?,
                    ))
                },
            )
            .and_then(Iterator::collect)
            .map_err(|err| self.error(err))?;
        rows.into_iter()
            .map(|(seq, bytes, frame)| frame.ok_or_else(|| self.frame_too_big(seq, bytes)))
            .collect()
    }

    /// Like [`frames_between`](Self::frames_between), stopping once the frames
    /// read hold `max_bytes` (the first is read whatever its size), so that a
    /// reader's memory is bounded however large the frames.
    pub fn frames_within(
        &self,
        after: u64,
        up_to: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<Vec<u8>>, SessionFileError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT frame FROM ops WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3",
            )
            .map_err(|err| self.error(err))?;
        let mut rows = statement
            .query(params![
                to_sql_int(after),
                to_sql_int(up_to),
                i64::try_from(limit).unwrap_or(i64::MAX)
            ])
            .map_err(|err| self.error(err))?;
        let mut frames: Vec<Vec<u8>> = Vec::new();
        let mut bytes = 0_usize;
        while let Some(row) = rows.next().map_err(|err| self.error(err))? {
            let frame: Vec<u8> = row.get(0).map_err(|err| self.error(err))?;
            bytes += frame.len();
            let over = bytes > max_bytes && !frames.is_empty();
            if over {
                break;
            }
            frames.push(frame);
        }
        Ok(frames)
    }

    /// Every op after `after`, in order, read [`CHUNK`] at a time.
    #[must_use]
    pub fn ops(&self, after: u64) -> Ops<'_> {
        Ops {
            file: self,
            after,
            buffered: VecDeque::new(),
            finished: false,
        }
    }

    /// Decodes every op after `after`, in order: what a replay or a board rebuilt
    /// from a file applies.
    pub fn sequenced_ops(
        &self,
        after: u64,
    ) -> impl Iterator<Item = Result<SequencedOp, SessionFileError>> + '_ {
        self.ops(after).map(|stored| {
            let stored = stored?;
            match crate::decode::<ServerMessage>(&stored.frame) {
                Ok(ServerMessage::Op(op)) if op.seq == stored.stamp.seq => Ok(op),
                Ok(_) => Err(self.corrupt(format!(
                    "op {} holds something other than that op",
                    stored.stamp.seq
                ))),
                Err(cause) => Err(SessionFileError::BadFrame {
                    path: self.path.clone(),
                    seq: stored.stamp.seq,
                    cause,
                }),
            }
        })
    }

    /// The board after ops `1..=seq` (the whole session for `u64::MAX`): how a
    /// file opens as a board, and a replay's seek. It applies the ops in order;
    /// once snapshots are written, it is to start from
    /// [`snapshot_at_or_before`](Self::snapshot_at_or_before) instead.
    pub fn board_at(&self, seq: u64) -> Result<Board, SessionFileError> {
        let mut board = Board::new();
        for op in self.sequenced_ops(0) {
            let op = op?;
            if op.seq > seq {
                break;
            }
            board.apply_sequenced(&op);
        }
        Ok(board)
    }

    /// Stores a board snapshot taken after op `snapshot.seq`, which the file must
    /// hold; a snapshot already stored for that op is replaced.
    pub fn put_snapshot(&mut self, snapshot: &StoredSnapshot) -> Result<(), SessionFileError> {
        let head = self.head()?;
        if snapshot.seq > head {
            return Err(SessionFileError::OutOfOrder {
                path: self.path.clone(),
                expected: head,
                found: snapshot.seq,
            });
        }
        self.conn
            .execute(
                "INSERT OR REPLACE INTO snapshots (seq, format, board) VALUES (?1, ?2, ?3)",
                params![to_sql_int(snapshot.seq), snapshot.format, snapshot.board],
            )
            .map(drop)
            .map_err(|err| self.error(err))
    }

    /// The latest snapshot taken at or before op `seq`: where a seek or a late
    /// join starts before applying the ops after it.
    pub fn snapshot_at_or_before(
        &self,
        seq: u64,
    ) -> Result<Option<StoredSnapshot>, SessionFileError> {
        self.conn
            .prepare_cached(
                "SELECT seq, format, board FROM snapshots
                 WHERE seq <= ?1 AND length(board) <= ?2
                 ORDER BY seq DESC LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row(params![to_sql_int(seq), SNAPSHOT_LIMIT], |row| {
                    Ok(StoredSnapshot {
                        seq: row.get::<_, i64>(0)? as u64,
                        format: row.get(1)?,
                        board: row.get(2)?,
                    })
                })
                .optional()
            })
            .map_err(|err| self.error(err))
    }

    /// The op the newest stored snapshot was taken after, if there is one,
    /// without reading its board: enough to tell whether another is due.
    pub fn latest_snapshot_seq(&self) -> Result<Option<u64>, SessionFileError> {
        self.conn
            .prepare_cached("SELECT MAX(seq) FROM snapshots")
            .and_then(|mut s| s.query_row([], |row| row.get::<_, Option<i64>>(0)))
            .map(|seq| seq.map(|seq| seq as u64))
            .map_err(|err| self.error(err))
    }

    /// Deletes every snapshot but the `keep_latest` newest (by `seq`) and returns
    /// how many were deleted: older snapshots only speed up seeks far back, and
    /// each holds a whole board.
    pub fn prune_snapshots(&mut self, keep_latest: usize) -> Result<usize, SessionFileError> {
        let keep = i64::try_from(keep_latest).unwrap_or(i64::MAX);
        self.conn
            .execute(
                "DELETE FROM snapshots WHERE seq NOT IN
                 (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?1)",
                [keep],
            )
            .map_err(|err| self.error(err))
    }

    /// Writes a consistent copy of the whole session to a new file at `out`
    /// (`VACUUM INTO`), while others may go on appending to this one.
    pub fn export_to(&self, out: &Path) -> Result<(), SessionFileError> {
        if out.exists() {
            return Err(SessionFileError::AlreadyExists {
                path: out.to_path_buf(),
            });
        }
        let target = out.to_str().ok_or_else(|| SessionFileError::Io {
            path: out.to_path_buf(),
            cause: io::Error::new(io::ErrorKind::InvalidInput, "the path is not valid UTF-8"),
        })?;
        self.conn
            .execute("VACUUM INTO ?1", [target])
            .map(drop)
            .map_err(|err| sqlite_error(out, err))
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

/// Reads a session's ops in order, a chunk at a time; see [`SessionFile::ops`].
#[derive(Debug)]
pub struct Ops<'a> {
    /// The file read from.
    file: &'a SessionFile,
    /// The last sequence number read.
    after: u64,
    /// Read but not yet handed out.
    buffered: VecDeque<StoredOp>,
    /// Set after the last chunk or an error, so the iterator ends.
    finished: bool,
}

impl Iterator for Ops<'_> {
    type Item = Result<StoredOp, SessionFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buffered.is_empty() && !self.finished {
            match self.file.ops_after(self.after, CHUNK) {
                Ok(chunk) => {
                    self.finished = chunk.len() < CHUNK;
                    self.buffered.extend(chunk);
                }
                Err(err) => {
                    self.finished = true;
                    return Some(Err(err));
                }
            }
        }
        let op = self.buffered.pop_front()?;
        self.after = op.stamp.seq;
        Some(Ok(op))
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

/// Classifies a `SQLite` error about `path`.
fn sqlite_error(path: &Path, err: rusqlite::Error) -> SessionFileError {
    let path = path.to_path_buf();
    match err.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => SessionFileError::NotSqlite { path },
        Some(ErrorCode::DatabaseCorrupt) => SessionFileError::Corrupt {
            path,
            detail: err.to_string(),
        },
        Some(ErrorCode::TooBig) => SessionFileError::TooBig {
            path,
            what: "a value".to_owned(),
            bytes: 0,
            max: MAX_VALUE_BYTES,
        },
        Some(ErrorCode::OperationInterrupted) => SessionFileError::Interrupted { path },
        _ => SessionFileError::Sqlite { path, cause: err },
    }
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

#[cfg(test)]
mod tests {
    use std::io::{Seek as _, SeekFrom, Write as _};

    use super::*;
    use crate::{Op, OpKind, StrokeId};

    fn op(seq: u64) -> SequencedOp {
        SequencedOp {
            seq,
            author: ClientId::random(),
            timestamp_ms: 1_700_000_000_000 + seq,
            op: Op::new(OpKind::StrokeEnd {
                stroke: StrokeId::random(),
            }),
        }
    }

    fn stored(from: u64, to: u64) -> Vec<StoredOp> {
        (from..=to)
            .map(|seq| StoredOp::encode(&op(seq)).unwrap())
            .collect()
    }

    /// A session of ops 1 to 3 at `path`, then `sql` run on it by a plain
    /// connection, as a crafted file would be made.
    fn crafted(path: &Path, sql: &str) {
        let mut file = SessionFile::create(path, "crafted").unwrap();
        file.append(&stored(1, 3)).unwrap();
        file.close().unwrap();
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(sql).unwrap();
        conn.close().unwrap();
    }

    #[test]
    fn a_file_with_a_view_or_a_trigger_is_refused_by_name_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        for (name, sql, found) in [
            (
                "view.tabula",
                "CREATE VIEW everything AS SELECT * FROM ops, ops AS o2, ops AS o3",
                "a view named \"everything\"",
            ),
            (
                "trigger.tabula",
                "CREATE TRIGGER wipe AFTER INSERT ON ops BEGIN DELETE FROM ops; END",
                "a trigger named \"wipe\"",
            ),
            (
                "table.tabula",
                "CREATE TABLE extra (x BLOB)",
                "a table named \"extra\"",
            ),
        ] {
            let path = dir.path().join(name);
            crafted(&path, sql);
            for opened in [
                SessionFile::open(&path),
                SessionFile::open_read_only(&path),
                SessionFile::open_read_only_unchecked(&path),
            ] {
                let err = opened.expect_err("refused");
                assert!(
                    matches!(err, SessionFileError::UnexpectedSchema { .. }),
                    "{err:?}"
                );
                let message = err.to_string();
                assert!(
                    message.contains(name) && message.contains(found),
                    "{message}"
                );
            }
        }
    }

    #[test]
    fn a_frame_longer_than_a_frame_may_be_is_refused_without_being_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fat.tabula");
        crafted(
            &path,
            &format!(
                "UPDATE ops SET frame = zeroblob({}) WHERE seq = 2",
                MAX_FRAME_BYTES + 1
            ),
        );
        let file = SessionFile::open_read_only(&path).unwrap();
        let err = file.ops(0).collect::<Result<Vec<_>, _>>().unwrap_err();
        assert!(
            matches!(
                err,
                SessionFileError::TooBig { bytes, max: MAX_FRAME_BYTES, .. }
                    if bytes == MAX_FRAME_BYTES as u64 + 1
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("op 2's frame"), "{err}");
        assert!(matches!(
            file.frames_between(0, 3, 10),
            Err(SessionFileError::TooBig { .. })
        ));
        // The ops before it read as usual.
        assert_eq!(file.ops_after(0, 1).unwrap().len(), 1);
    }

    #[test]
    fn an_interrupted_read_stops_with_its_own_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.tabula");
        let mut file = SessionFile::create(&path, "long").unwrap();
        file.append(&stored(1, 5000)).unwrap();
        let interrupter = file.interrupter();
        // Interrupted from another thread while the check runs, again and
        // again until one lands inside it.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopper = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("interrupter".to_owned())
                .spawn(move || {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        interrupter.interrupt();
                        std::thread::yield_now();
                    }
                })
                .unwrap()
        };
        let mut was_interrupted = false;
        for _ in 0..10_000 {
            match file.quick_check() {
                Err(SessionFileError::Interrupted { path: p }) => {
                    assert_eq!(p, path);
                    was_interrupted = true;
                    break;
                }
                Ok(()) => {}
                Err(other) => panic!("{other:?}"),
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        stopper.join().unwrap();
        assert!(was_interrupted, "no check was interrupted");
        file.quick_check().expect("the next query runs as usual");
    }

    #[test]
    fn a_session_round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("room.tabula");
        let ops = stored(1, 2500);
        {
            let mut file = SessionFile::create(&path, "design").unwrap();
            assert_eq!(file.head().unwrap(), 0);
            assert_eq!(file.last_stamp().unwrap(), None);
            file.append(&ops[..1000]).unwrap();
            file.append(&ops[1000..]).unwrap();
            file.set_meta("title", "Sprint review").unwrap();
            assert!(matches!(
                file.set_meta("room", "elsewhere"),
                Err(SessionFileError::Refused { .. })
            ));
        }
        let file = SessionFile::open(&path).unwrap();
        assert_eq!(file.head().unwrap(), 2500);
        let meta = file.meta().unwrap();
        assert_eq!(meta.room, "design");
        assert_eq!(meta.app_version, env!("CARGO_PKG_VERSION"));
        assert_eq!(meta.all["format_version"], FORMAT_VERSION.to_string());
        assert_eq!(meta.all["title"], "Sprint review");
        assert!(meta.created_at_ms > 1_700_000_000_000);
        let read: Vec<StoredOp> = file.ops(0).collect::<Result<_, _>>().unwrap();
        assert_eq!(read, ops, "every row comes back as written, in order");
        let decoded: Vec<SequencedOp> = file.sequenced_ops(2498).collect::<Result<_, _>>().unwrap();
        assert_eq!(decoded.len(), 2);
        assert_eq!(decoded[0].seq, 2499);
        assert_eq!(decoded[0].op.id, ops[2498].op_id);
        assert_eq!(
            file.stamp_of(ops[1233].op_id).unwrap(),
            Some(ops[1233].stamp)
        );
        assert_eq!(file.stamp_of(OpId::random()).unwrap(), None);
        assert_eq!(
            file.frames_between(10, 12, 100).unwrap(),
            vec![ops[10].frame.clone(), ops[11].frame.clone()]
        );
        assert_eq!(
            file.summary().unwrap(),
            Summary {
                ops: 2500,
                last_activity_ms: Some(ops[2499].stamp.timestamp_ms)
            }
        );
    }

    #[test]
    fn a_replayed_file_ends_with_the_live_board_and_seeking_to_k_applies_1_to_k() {
        use crate::{Color, Point, StrokeStyle};

        let dir = tempfile::tempdir().unwrap();
        let mut file = SessionFile::create(dir.path().join("replay.tabula"), "replay").unwrap();
        let authors = [ClientId::random(), ClientId::random()];
        let strokes = [StrokeId::random(), StrokeId::random()];
        let mut kinds = Vec::new();
        for (i, stroke) in strokes.iter().enumerate() {
            kinds.push((
                i,
                OpKind::StrokeBegin {
                    stroke: *stroke,
                    style: StrokeStyle {
                        color: Color::rgb(10, 20, 30),
                        width: 2.0,
                    },
                    start: Point::new(i as f32, 0.0),
                },
            ));
        }
        for step in 1..=3 {
            for (i, stroke) in strokes.iter().enumerate() {
                kinds.push((
                    i,
                    OpKind::StrokeAppend {
                        stroke: *stroke,
                        points: vec![Point::new(i as f32, step as f32)],
                    },
                ));
            }
        }
        kinds.push((0, OpKind::StrokeEnd { stroke: strokes[0] }));
        let mut live = Board::new();
        let mut boards = vec![Board::new()];
        let mut rows = Vec::new();
        for (seq, (i, kind)) in (1..).zip(kinds) {
            let op = SequencedOp {
                seq,
                author: authors[i],
                timestamp_ms: 1_700_000_000_000 + seq,
                op: Op::new(kind),
            };
            live.apply_sequenced(&op);
            boards.push(live.clone());
            rows.push(StoredOp::encode(&op).unwrap());
        }
        file.append(&rows).unwrap();
        assert_eq!(file.board_at(u64::MAX).unwrap(), live);
        assert!(live.last_seq() > 0);
        for (k, expected) in boards.iter().enumerate() {
            assert_eq!(&file.board_at(k as u64).unwrap(), expected, "seek to {k}");
        }
    }

    #[test]
    fn appends_must_follow_the_head_and_a_failed_batch_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = SessionFile::create(dir.path().join("a.tabula"), "a").unwrap();
        assert!(matches!(
            file.append(&stored(2, 3)),
            Err(SessionFileError::OutOfOrder {
                expected: 1,
                found: 2,
                ..
            })
        ));
        let mut gap = stored(1, 2);
        gap.extend(stored(4, 4));
        assert!(matches!(
            file.append(&gap),
            Err(SessionFileError::OutOfOrder {
                expected: 3,
                found: 4,
                ..
            })
        ));
        // The same op id twice: the second insert fails, and the first is rolled back.
        let mut twice = stored(1, 2);
        twice[1].op_id = twice[0].op_id;
        assert!(matches!(
            file.append(&twice),
            Err(SessionFileError::Sqlite { .. })
        ));
        assert_eq!(file.head().unwrap(), 0, "nothing of a failed batch is kept");
        file.append(&stored(1, 3)).unwrap();
        assert_eq!(file.head().unwrap(), 3);
    }

    #[test]
    fn create_refuses_an_existing_file_and_open_or_create_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.tabula");
        let mut file = SessionFile::open_or_create(&path, "r").unwrap();
        file.append(&stored(1, 5)).unwrap();
        drop(file);
        assert!(matches!(
            SessionFile::create(&path, "r"),
            Err(SessionFileError::AlreadyExists { .. })
        ));
        assert_eq!(
            SessionFile::open_or_create(&path, "r")
                .unwrap()
                .head()
                .unwrap(),
            5
        );
        // An empty file is a creation that never committed: made afresh.
        let empty = dir.path().join("empty.tabula");
        fs::write(&empty, b"").unwrap();
        assert!(matches!(
            SessionFile::open(&empty),
            Err(SessionFileError::Corrupt { .. })
        ));
        assert_eq!(
            SessionFile::open_or_create(&empty, "e")
                .unwrap()
                .meta()
                .unwrap()
                .room,
            "e"
        );
    }

    #[test]
    fn snapshots_are_found_at_or_before_a_seq() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = SessionFile::create(dir.path().join("s.tabula"), "s").unwrap();
        file.append(&stored(1, 20)).unwrap();
        let snap = |seq| StoredSnapshot {
            seq,
            format: 1,
            board: vec![seq as u8; 3],
        };
        file.put_snapshot(&snap(10)).unwrap();
        file.put_snapshot(&snap(20)).unwrap();
        assert!(file.put_snapshot(&snap(21)).is_err(), "past the head");
        assert_eq!(file.snapshot_at_or_before(9).unwrap(), None);
        assert_eq!(file.snapshot_at_or_before(15).unwrap(), Some(snap(10)));
        assert_eq!(file.snapshot_at_or_before(99).unwrap(), Some(snap(20)));
    }

    #[test]
    fn pruning_keeps_the_newest_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = SessionFile::create(dir.path().join("s.tabula"), "s").unwrap();
        file.append(&stored(1, 50)).unwrap();
        assert_eq!(file.prune_snapshots(2).unwrap(), 0, "nothing to prune");
        let snap = |seq| StoredSnapshot {
            seq,
            format: 1,
            board: vec![seq as u8; 3],
        };
        // Stored out of order: "newest" is by seq, not by when it was stored.
        for seq in [30, 10, 50, 20, 40] {
            file.put_snapshot(&snap(seq)).unwrap();
        }
        assert_eq!(file.prune_snapshots(2).unwrap(), 3);
        assert_eq!(file.snapshot_at_or_before(39).unwrap(), None);
        assert_eq!(file.snapshot_at_or_before(45).unwrap(), Some(snap(40)));
        assert_eq!(file.snapshot_at_or_before(50).unwrap(), Some(snap(50)));
        assert_eq!(file.prune_snapshots(2).unwrap(), 0);
        assert_eq!(file.prune_snapshots(usize::MAX).unwrap(), 0);
        assert_eq!(file.prune_snapshots(0).unwrap(), 2);
        assert_eq!(file.snapshot_at_or_before(50).unwrap(), None);
        // The ops are untouched.
        assert_eq!(file.head().unwrap(), 50);
    }

    #[test]
    fn an_export_is_a_complete_session_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = SessionFile::create(dir.path().join("live.tabula"), "live").unwrap();
        file.append(&stored(1, 50)).unwrap();
        let out = dir.path().join("copy.tabula");
        file.export_to(&out).unwrap();
        assert!(matches!(
            file.export_to(&out),
            Err(SessionFileError::AlreadyExists { .. })
        ));
        // The copy keeps the identity pragmas and opens as a session in its own right.
        let copy = SessionFile::open_read_only(&out).unwrap();
        assert_eq!(copy.head().unwrap(), 50);
        assert_eq!(copy.meta().unwrap().room, "live");
        assert_eq!(
            copy.ops(0).collect::<Result<Vec<_>, _>>().unwrap(),
            file.ops(0).collect::<Result<Vec<_>, _>>().unwrap()
        );
    }

    #[test]
    fn a_text_file_is_not_a_sqlite_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.tabula");
        let text = "shopping list:\n- milk\n- bread\n".repeat(10);
        fs::write(&path, &text).unwrap();
        let err = SessionFile::open(&path).unwrap_err();
        assert!(matches!(err, SessionFileError::NotSqlite { .. }), "{err:?}");
        assert!(err.to_string().contains("notes.tabula"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), text, "left untouched");
    }

    #[test]
    fn a_foreign_sqlite_database_is_not_a_session_and_is_not_touched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
                .unwrap();
        }
        let before = fs::read(&path).unwrap();
        let err = SessionFile::open(&path).unwrap_err();
        assert!(
            matches!(err, SessionFileError::NotTabula { found: 0, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("other.db"), "{err}");
        assert_eq!(
            fs::read(&path).unwrap(),
            before,
            "not switched to WAL, not written"
        );
        assert!(!wal_path(&path).exists());
    }

    #[test]
    fn a_format_1_file_is_read_as_it_is_and_stamped_2_when_opened_for_writing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.tabula");
        drop(SessionFile::create(&path, "old").unwrap());
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "UPDATE meta SET value = '1' WHERE key = 'format_version'",
                [],
            )
            .unwrap();
        }
        let version = |path: &Path| -> u32 {
            Connection::open(path)
                .unwrap()
                .pragma_query_value(None, "user_version", |row| row.get(0))
                .unwrap()
        };
        drop(SessionFile::open_read_only(&path).unwrap());
        assert_eq!(version(&path), 1, "reading leaves the file alone");
        let file = SessionFile::open(&path).unwrap();
        assert_eq!(file.meta().unwrap().all["format_version"], "2");
        drop(file);
        assert_eq!(version(&path), 2);
    }

    #[test]
    fn a_newer_format_is_refused_with_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("future.tabula");
        drop(SessionFile::create(&path, "f").unwrap());
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", FORMAT_VERSION + 1)
                .unwrap();
        }
        let err = SessionFile::open(&path).unwrap_err();
        assert!(
            matches!(err, SessionFileError::NewerVersion { found, .. } if found == FORMAT_VERSION + 1),
            "{err:?}"
        );
        assert!(err.to_string().contains("newer Tabula"), "{err}");
    }

    /// A session big enough to span many pages, closed so that the WAL is
    /// checkpointed into the file.
    fn big_session(dir: &Path) -> PathBuf {
        let path = dir.join("big.tabula");
        let mut file = SessionFile::create(&path, "big").unwrap();
        file.append(&stored(1, 3000)).unwrap();
        drop(file);
        assert!(!wal_path(&path).exists(), "closing checkpoints the log");
        path
    }

    #[test]
    fn a_truncated_session_is_reported_as_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = big_session(dir.path());
        let len = fs::metadata(&path).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len / 2)
            .unwrap();
        let err = SessionFile::open(&path).unwrap_err();
        assert!(matches!(err, SessionFileError::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains("big.tabula"), "{err}");
        // Cut inside the header, it cannot even be told from any other file.
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(10)
            .unwrap();
        assert!(matches!(
            SessionFile::open(&path),
            Err(SessionFileError::NotSqlite { .. })
        ));
    }

    #[test]
    fn an_overwritten_session_is_reported_as_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = big_session(dir.path());
        let len = fs::metadata(&path).unwrap().len();
        let mut file = OpenOptions::new().write(true).open(&path).unwrap();
        // Garbage over pages in the middle of the ops table (the header is kept).
        file.seek(SeekFrom::Start(len / 3)).unwrap();
        file.write_all(&vec![0xA5; 16 * 1024]).unwrap();
        drop(file);
        let err = SessionFile::open(&path).unwrap_err();
        assert!(matches!(err, SessionFileError::Corrupt { .. }), "{err:?}");
    }

    #[test]
    fn reopening_checks_what_the_file_is_but_not_every_page() {
        let dir = tempfile::tempdir().unwrap();
        let path = big_session(dir.path());
        let mut file = SessionFile::open(&path).unwrap();
        file.append(&stored(3001, 3001)).unwrap();
        assert!(wal_path(&path).exists());
        file.close().unwrap();
        assert!(
            !wal_path(&path).exists(),
            "closing checkpoints the log away"
        );
        assert_eq!(SessionFile::reopen(&path).unwrap().head().unwrap(), 3001);

        let len = fs::metadata(&path).unwrap().len();
        let mut damaged = OpenOptions::new().write(true).open(&path).unwrap();
        damaged.seek(SeekFrom::Start(len / 3)).unwrap();
        damaged.write_all(&vec![0xA5; 16 * 1024]).unwrap();
        drop(damaged);
        assert!(SessionFile::open(&path).is_err());
        assert!(SessionFile::reopen(&path).is_ok(), "no quick_check");

        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x);")
            .unwrap();
        assert!(matches!(
            SessionFile::reopen(&other),
            Err(SessionFileError::NotTabula { .. })
        ));
    }
}
