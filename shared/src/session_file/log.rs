//! The log in a session file: its head, stamps and summary; appending a
//! batch of ops in one transaction; reading ops and frames back (in chunks,
//! as decoded ops, within a byte budget), the board at an op; snapshots; and
//! exporting a copy. Every frame's length is checked in SQL before the frame
//! is read.

use std::collections::VecDeque;
use std::io;
use std::path::Path;

use rusqlite::{OptionalExtension as _, params};

use super::{
    CHUNK, FRAME_LIMIT, SNAPSHOT_LIMIT, SessionFile, SessionFileError, Stamp, StoredOp,
    StoredSnapshot, Summary, sqlite_error, stamp_from_row, to_sql_int, uuid_from_row,
};
use crate::codec::MAX_FRAME_BYTES;
use crate::{Board, ClientId, OpId, SequencedOp, ServerMessage};

impl SessionFile {
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
