//! What can go wrong with a session file, each error naming the file, and
//! how `SQLite`'s errors map to them.

use std::io;
use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

use super::{FORMAT_VERSION, MAX_VALUE_BYTES};
use crate::DecodeError;
use crate::blob::BlobId;

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
    /// A stored image's bytes are too long or not what their name says.
    #[error("{}: the image {id} is damaged: {detail}", path.display())]
    DamagedBlob {
        /// The file.
        path: PathBuf,
        /// The blob.
        id: BlobId,
        /// What is wrong with it.
        detail: String,
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

/// Classifies a `SQLite` error about `path`.
pub(super) fn sqlite_error(path: &Path, err: rusqlite::Error) -> SessionFileError {
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
