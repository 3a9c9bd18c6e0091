//! Pictures on the wire, the network task's side: uploads kept until the
//! image that shows each is acknowledged (and sent again, before it, after a
//! reconnect), and the picture being fetched put back together.

use std::collections::HashMap;

use tabula_shared::blob::{Assembly, Blob, BlobChunk, BlobId, Progress};
use tabula_shared::caps::MAX_BLOB_BYTES;
use tabula_shared::{ClientMessage, Op, OpKind};

use super::Event;

/// The pictures under way, across connections.
#[derive(Debug, Default)]
pub(super) struct Transfers {
    /// Pictures uploaded for images the relay has not acknowledged yet.
    uploads: HashMap<BlobId, Blob>,
    /// The picture being fetched, part by part (the relay answers one fetch
    /// at a time, each whole).
    download: Option<Assembly>,
}

/// The picture an op shows, if it creates an image.
fn picture_of(op: &Op) -> Option<BlobId> {
    match &op.kind {
        OpKind::Create { data, .. } => data.blob(),
        _ => None,
    }
}

impl Transfers {
    /// Transfers that hold `blobs`, to upload for the unsent images of a join.
    pub(super) fn with(blobs: Vec<Blob>) -> Self {
        Self {
            uploads: blobs.into_iter().map(|blob| (blob.id(), blob)).collect(),
            download: None,
        }
    }

    /// The messages that upload `blob`, which is kept until its image is
    /// acknowledged.
    pub(super) fn upload(&mut self, blob: Blob) -> Vec<ClientMessage> {
        let parts = blob
            .chunks()
            .into_iter()
            .map(ClientMessage::BlobPart)
            .collect();
        self.uploads.insert(blob.id(), blob);
        parts
    }

    /// Keeps `blob` to upload with the next connection.
    pub(super) fn keep(&mut self, blob: Blob) {
        self.uploads.insert(blob.id(), blob);
    }

    /// What goes before `op` when it is sent again: its picture's parts,
    /// for an image whose picture we hold.
    pub(super) fn before_resend(&self, op: &Op) -> Vec<ClientMessage> {
        picture_of(op)
            .and_then(|id| self.uploads.get(&id))
            .map(|blob| {
                blob.chunks()
                    .into_iter()
                    .map(ClientMessage::BlobPart)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Lets go of the pictures no image in `outbox` shows any more.
    pub(super) fn settle<'a>(&mut self, outbox: impl IntoIterator<Item = &'a Op>) {
        if self.uploads.is_empty() {
            return;
        }
        let still: Vec<BlobId> = outbox.into_iter().filter_map(picture_of).collect();
        self.uploads.retain(|id, _| still.contains(id));
    }

    /// A new connection: a fetch under way on the old one is gone.
    pub(super) fn reconnected(&mut self) {
        self.download = None;
    }

    /// Takes a part of the picture being fetched: the event for the UI once
    /// it is whole, or damaged.
    pub(super) fn receive(&mut self, chunk: &BlobChunk) -> Option<Event> {
        let id = chunk.id;
        let progress = match self.download.take() {
            Some(under_way) if under_way.id() == id && chunk.offset > 0 => under_way.push(chunk),
            _ => Assembly::start(chunk, MAX_BLOB_BYTES),
        };
        match progress {
            Ok(Progress::More(assembly)) => {
                self.download = Some(assembly);
                None
            }
            Ok(Progress::Done(blob)) => Some(Event::Picture(blob)),
            Err(err) => Some(Event::PictureDamaged {
                id,
                reason: err.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use tabula_shared::{ObjectData, ObjectId, Point};

    use super::*;

    #[test]
    fn an_upload_is_kept_until_no_unsent_image_shows_it() {
        let blob = Blob::new(vec![5u8; 100_000]);
        let image = Op::new(OpKind::Create {
            object: ObjectId::random(),
            data: ObjectData::image(blob.id(), Point::new(0.0, 0.0), Point::new(1.0, 1.0)),
        });
        let mut transfers = Transfers::default();
        assert_eq!(transfers.upload(blob.clone()).len(), blob.chunks().len());
        transfers.settle([&image]);
        assert_eq!(transfers.before_resend(&image).len(), blob.chunks().len());
        transfers.settle([]);
        assert!(transfers.before_resend(&image).is_empty());
    }

    #[test]
    fn a_fetched_picture_comes_whole_or_is_said_damaged() {
        let blob = Blob::new(vec![6u8; 120_000]);
        let mut transfers = Transfers::default();
        let mut events: Vec<Event> = blob
            .chunks()
            .into_iter()
            .filter_map(|chunk| transfers.receive(&chunk))
            .collect();
        assert_eq!(events.pop(), Some(Event::Picture(blob.clone())));
        let mut forged = blob.chunks();
        forged[0].bytes[0] ^= 1;
        let events: Vec<Event> = forged
            .into_iter()
            .filter_map(|chunk| transfers.receive(&chunk))
            .collect();
        assert!(matches!(events[..], [Event::PictureDamaged { id, .. }] if id == blob.id()));
    }
}
