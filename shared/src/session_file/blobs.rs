//! The blobs in a session file: the bytes of the images its ops show, one
//! row per picture however many images show it, named by their SHA-256.
//!
//! A blob's length is checked in SQL before it is read (at most
//! [`MAX_BLOB_BYTES`]), and its bytes against its name after: a file whose
//! blob was damaged or swapped gives [`SessionFileError::DamagedBlob`] for
//! that blob, and the rest of the file reads as before. A file of format 2
//! (before images) has no `blobs` table until it is opened for writing; read
//! as it is, it holds no blobs.

use rusqlite::{OptionalExtension as _, params};

use super::{SessionFile, SessionFileError};
use crate::blob::{Blob, BlobId};
use crate::caps::MAX_BLOB_BYTES;

/// [`MAX_BLOB_BYTES`] as an `SQLite` integer.
#[allow(clippy::cast_possible_wrap)]
const BLOB_LIMIT: i64 = MAX_BLOB_BYTES as i64;

/// The `blobs` table, made with a new file and when an older one is first
/// opened for writing.
pub(super) const CREATE_BLOBS: &str =
    "CREATE TABLE IF NOT EXISTS blobs (id BLOB PRIMARY KEY, bytes BLOB NOT NULL)";

impl SessionFile {
    /// Stores `blob` unless the file holds it already: `true` when it was new.
    /// One row per picture, however often it is used.
    pub fn put_blob(&mut self, blob: &Blob) -> Result<bool, SessionFileError> {
        if blob.len() as u64 > MAX_BLOB_BYTES {
            return Err(SessionFileError::Refused {
                path: self.path.clone(),
                detail: format!(
                    "the image {} is {} bytes, and a file keeps at most {MAX_BLOB_BYTES}",
                    blob.id(),
                    blob.len()
                ),
            });
        }
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO blobs (id, bytes) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![&blob.id().0[..], &blob.bytes()[..]]))
            .map(|inserted| inserted > 0)
            .map_err(|err| self.error(err))
    }

    /// Whether the file holds the blob named `id`.
    pub fn has_blob(&self, id: BlobId) -> Result<bool, SessionFileError> {
        if !self.has_blobs_table()? {
            return Ok(false);
        }
        self.conn
            .prepare_cached("SELECT 1 FROM blobs WHERE id = ?1")
            .and_then(|mut s| s.exists(params![&id.0[..]]))
            .map_err(|err| self.error(err))
    }

    /// The blob named `id`, if the file holds it; one too long or whose
    /// bytes are not what its name says is [`SessionFileError::DamagedBlob`].
    pub fn blob(&self, id: BlobId) -> Result<Option<Blob>, SessionFileError> {
        if !self.has_blobs_table()? {
            return Ok(None);
        }
        let row: Option<(i64, Option<Vec<u8>>)> = self
            .conn
            .prepare_cached(
                "SELECT length(bytes), CASE WHEN length(bytes) <= ?2 THEN bytes END
                 FROM blobs WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.query_row(params![&id.0[..], BLOB_LIMIT], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()
            })
            .map_err(|err| self.error(err))?;
        let Some((length, bytes)) = row else {
            return Ok(None);
        };
        let damaged = |detail: String| SessionFileError::DamagedBlob {
            path: self.path.clone(),
            id,
            detail,
        };
        let bytes = bytes.ok_or_else(|| {
            damaged(format!(
                "it is {length} bytes, and an image is at most {MAX_BLOB_BYTES}"
            ))
        })?;
        Blob::verified(id, bytes)
            .map(Some)
            .map_err(|err| damaged(err.to_string()))
    }

    /// The ids of every blob the file holds, in id order.
    pub fn blob_ids(&self) -> Result<Vec<BlobId>, SessionFileError> {
        if !self.has_blobs_table()? {
            return Ok(Vec::new());
        }
        let mut statement = self
            .conn
            .prepare_cached("SELECT id FROM blobs WHERE length(id) = 32 ORDER BY id")
            .map_err(|err| self.error(err))?;
        statement
            .query_map([], |row| {
                let bytes: Vec<u8> = row.get(0)?;
                let mut id = [0u8; 32];
                id.copy_from_slice(&bytes);
                Ok(BlobId(id))
            })
            .and_then(Iterator::collect)
            .map_err(|err| self.error(err))
    }

    /// Whether the file has a `blobs` table (a format-2 file read as it is
    /// has none).
    fn has_blobs_table(&self) -> Result<bool, SessionFileError> {
        self.conn
            .prepare_cached("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'blobs'")
            .and_then(|mut s| s.exists([]))
            .map_err(|err| self.error(err))
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    #[test]
    fn a_blob_is_stored_once_however_often_it_is_put_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("images.tabula");
        let mut file = SessionFile::create(&path, "images").unwrap();
        let blob = Blob::new(vec![9u8; 100_000]);
        let other = Blob::new(b"another picture".to_vec());
        assert!(file.put_blob(&blob).unwrap());
        assert!(!file.put_blob(&blob).unwrap(), "already there");
        assert!(file.put_blob(&other).unwrap());
        file.close().unwrap();

        let file = SessionFile::open_read_only(&path).unwrap();
        assert_eq!(file.blob(blob.id()).unwrap(), Some(blob.clone()));
        assert!(file.has_blob(other.id()).unwrap());
        assert_eq!(file.blob(BlobId::of(b"never stored")).unwrap(), None);
        let mut ids = vec![blob.id(), other.id()];
        ids.sort();
        assert_eq!(file.blob_ids().unwrap(), ids);
        let rows: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM blobs", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 2);
    }

    #[test]
    fn a_damaged_or_oversized_blob_is_refused_naming_the_file_and_the_image() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("damaged.tabula");
        let mut file = SessionFile::create(&path, "damaged").unwrap();
        let blob = Blob::new(vec![1u8; 4096]);
        let big = Blob::new(vec![2u8; 16]);
        file.put_blob(&blob).unwrap();
        file.put_blob(&big).unwrap();
        file.close().unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE blobs SET bytes = zeroblob(4096) WHERE id = ?1",
            params![&blob.id().0[..]],
        )
        .unwrap();
        conn.execute(
            "UPDATE blobs SET bytes = zeroblob(?2) WHERE id = ?1",
            params![&big.id().0[..], BLOB_LIMIT + 1],
        )
        .unwrap();
        drop(conn);

        let file = SessionFile::open_read_only(&path).unwrap();
        let err = file.blob(blob.id()).unwrap_err();
        assert!(
            matches!(err, SessionFileError::DamagedBlob { id, .. } if id == blob.id()),
            "{err:?}"
        );
        let said = err.to_string();
        assert!(
            said.contains("damaged.tabula") && said.contains(&blob.id().to_string()),
            "{said}"
        );
        let err = file.blob(big.id()).unwrap_err();
        assert!(err.to_string().contains("at most"), "{err}");
    }

    #[test]
    fn a_format_2_file_has_no_blobs_until_it_is_opened_for_writing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("before-images.tabula");
        drop(SessionFile::create(&path, "old").unwrap());
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("DROP TABLE blobs; PRAGMA user_version = 2;")
                .unwrap();
        }
        let read = SessionFile::open_read_only(&path).unwrap();
        assert_eq!(read.blob_ids().unwrap(), Vec::new());
        assert_eq!(read.blob(BlobId::of(b"x")).unwrap(), None);
        drop(read);
        let mut file = SessionFile::open(&path).unwrap();
        let blob = Blob::new(b"now it can".to_vec());
        assert!(file.put_blob(&blob).unwrap());
        assert_eq!(file.blob(blob.id()).unwrap(), Some(blob));
    }
}
