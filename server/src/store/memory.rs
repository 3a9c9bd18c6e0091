//! [`MemoryLog`]: a room's log in memory, for a relay started with
//! `--memory`; gone when the relay stops.

use std::collections::HashMap;

use bytes::Bytes;
use tabula_shared::OpId;
use tabula_shared::blob::{Blob, BlobId};
use tabula_shared::session_file::StoredSnapshot;

use super::{Entry, OpLog, Stamp, StoreError};

/// An [`OpLog`] that lives in memory and is gone when the relay stops.
#[derive(Default)]
pub struct MemoryLog {
    /// The frames in sequence order: the frame of `seq` is at index `seq - 1`,
    /// which makes a catch-up a slice copy.
    frames: Vec<Bytes>,
    /// Op id to stamp, to recognise a resend without scanning the log.
    index: HashMap<OpId, Stamp>,
    /// The latest stamp, for [`OpLog::last_stamp`].
    last: Option<Stamp>,
    /// The room's settings.
    settings: HashMap<String, String>,
    /// The pictures the room's images show, by id.
    blobs: HashMap<BlobId, Blob>,
}

impl std::fmt::Debug for MemoryLog {
    /// The size, not the contents: a log can hold millions of frames.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryLog")
            .field("ops", &self.frames.len())
            .finish_non_exhaustive()
    }
}

impl OpLog for MemoryLog {
    fn last_stamp(&self) -> Result<Option<Stamp>, StoreError> {
        Ok(self.last)
    }

    fn stamp_of(&self, op: OpId) -> Result<Option<Stamp>, StoreError> {
        Ok(self.index.get(&op).copied())
    }

    fn append(&mut self, batch: &[Entry]) -> Result<(), StoreError> {
        for entry in batch {
            debug_assert_eq!(
                entry.stamp.seq,
                self.frames.len() as u64 + 1,
                "ops are appended in order"
            );
            self.frames.push(entry.frame.clone());
            self.index.insert(entry.op_id, entry.stamp);
            self.last = Some(entry.stamp);
        }
        Ok(())
    }

    fn frames_between(
        &self,
        after: u64,
        up_to: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<Bytes>, StoreError> {
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        let end = usize::try_from(up_to)
            .unwrap_or(usize::MAX)
            .min(self.frames.len())
            .min(start.saturating_add(limit));
        let mut bytes = 0;
        Ok(self
            .frames
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .take_while(|frame| {
                let first = bytes == 0;
                bytes += frame.len();
                first || bytes <= max_bytes
            })
            .cloned()
            .collect())
    }

    fn latest_snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError> {
        Ok(None)
    }

    fn put_snapshot(&mut self, _snapshot: &StoredSnapshot) -> Result<(), StoreError> {
        Ok(())
    }

    fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.settings.get(key).cloned())
    }

    fn set_setting(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.settings.insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    fn put_blob(&mut self, blob: &Blob) -> Result<bool, StoreError> {
        Ok(self.blobs.insert(blob.id(), blob.clone()).is_none())
    }

    fn has_blob(&self, id: BlobId) -> Result<bool, StoreError> {
        Ok(self.blobs.contains_key(&id))
    }

    fn blob(&self, id: BlobId) -> Result<Option<Blob>, StoreError> {
        Ok(self.blobs.get(&id).cloned())
    }
}
