//! Images' bytes as a connection handles them: a picture a peer uploads in
//! parts ([`Upload`]), checked against the relay's cap and its name, and a
//! room's pictures stored and read off the tokio workers ([`Blobs`]).
//!
//! A blob goes into the room's log ([`crate::store::OpLog::put_blob`]) once,
//! however many images show it; a peer's op that creates an image is
//! sequenced only once the room holds the picture, so every member can fetch
//! what every image shows.

use std::sync::Arc;

use tabula_shared::blob::{Assembly, Blob, BlobChunk, BlobError, BlobId, Progress, mib};
use tracing::warn;

use crate::store::SharedLog;
use crate::sync::lock;

/// A room's pictures, read and written on the blocking pool (a room file is
/// `SQLite`).
#[derive(Clone, Debug)]
pub struct Blobs(pub(crate) SharedLog);

impl Blobs {
    /// Keeps `blob` in the room; `true` when it was new.
    pub async fn put(&self, blob: Blob) -> Result<bool, String> {
        let log = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || lock(&log).put_blob(&blob))
            .await
            .map_err(|err| format!("storing an image failed: {err}"))?
            .map_err(|err| err.to_string())
    }

    /// Whether the room holds the picture named `id`.
    pub async fn has(&self, id: BlobId) -> Result<bool, String> {
        let log = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || lock(&log).has_blob(id))
            .await
            .map_err(|err| format!("looking for an image failed: {err}"))?
            .map_err(|err| err.to_string())
    }

    /// The picture named `id`, if the room holds it and it reads back whole.
    pub async fn get(&self, id: BlobId) -> Option<Blob> {
        let log = Arc::clone(&self.0);
        match tokio::task::spawn_blocking(move || lock(&log).blob(id)).await {
            Ok(Ok(blob)) => blob,
            Ok(Err(err)) => {
                warn!(blob = %id, %err, "an image the room holds cannot be read");
                None
            }
            Err(err) => {
                warn!(blob = %id, %err, "reading an image failed");
                None
            }
        }
    }
}

/// The picture one peer is uploading, a part at a time.
#[derive(Debug, Default)]
pub struct Upload {
    /// The blob under way.
    assembly: Option<Assembly>,
    /// A blob refused part way: its remaining parts are passed over quietly
    /// (the peer was told once).
    refused: Option<BlobId>,
}

/// What one part of an upload came to.
#[derive(Debug)]
pub enum Received {
    /// More parts are due.
    More,
    /// The picture is whole and its bytes are its name: store it.
    Done(Blob),
    /// The picture is refused, for this reason (a sentence for the peer).
    Refused(String),
    /// A later part of a picture already refused.
    PassedOver,
}

impl Upload {
    /// Refuses the picture `id` from its first part on: its remaining parts
    /// are passed over.
    pub fn refuse(&mut self, id: BlobId) {
        self.assembly = None;
        self.refused = Some(id);
    }

    /// Takes one part, within `max` bytes for the whole picture. A part at
    /// offset 0 starts a picture, giving up any unfinished one.
    pub fn receive(&mut self, chunk: &BlobChunk, max: u64) -> Received {
        let id = chunk.id;
        let progress = if chunk.offset == 0 {
            self.refused = None;
            self.assembly = None;
            Assembly::start(chunk, max)
        } else if self.refused == Some(id) {
            return Received::PassedOver;
        } else if let Some(assembly) = self.assembly.take() {
            assembly.push(chunk)
        } else {
            self.refused = Some(id);
            return Received::Refused(format!(
                "a piece of the image {id} came without its beginning"
            ));
        };
        match progress {
            Ok(Progress::More(assembly)) => {
                self.assembly = Some(assembly);
                Received::More
            }
            Ok(Progress::Done(blob)) => Received::Done(blob),
            Err(err) => {
                self.refused = Some(id);
                Received::Refused(refusal(id, &err))
            }
        }
    }
}

/// The sentence a peer is told when its picture is refused.
fn refusal(id: BlobId, err: &BlobError) -> String {
    match err {
        BlobError::TooLarge { bytes, max } => format!(
            "The image is {}, and this relay takes images of at most {}: it was not shared.",
            mib(*bytes),
            mib(*max)
        ),
        other => format!("The image {id} was not shared: {other}."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_is_taken_in_parts_and_one_over_the_cap_refused_once() {
        let mut upload = Upload::default();
        let blob = Blob::new(vec![3u8; 600 * 1024]);
        let mut chunks = blob.chunks();
        let last = chunks.pop().unwrap();
        for chunk in chunks {
            assert!(matches!(upload.receive(&chunk, 1 << 20), Received::More));
        }
        assert!(matches!(upload.receive(&last, 1 << 20), Received::Done(b) if b == blob));

        let mut parts = blob.chunks().into_iter();
        let Received::Refused(sentence) = upload.receive(&parts.next().unwrap(), 512 * 1024) else {
            panic!("a picture over the cap is refused");
        };
        assert_eq!(
            sentence,
            "The image is 600 KiB, and this relay takes images of at most 512 KiB: it was not shared."
        );
        assert!(matches!(
            upload.receive(&parts.next().unwrap(), 512 * 1024),
            Received::PassedOver
        ));

        let stray = blob.chunks().pop().unwrap();
        assert!(matches!(
            Upload::default().receive(&stray, 1 << 20),
            Received::Refused(_)
        ));
    }
}
