//! The session's pictures: inserting an image, fetching the pictures the
//! board shows and lacks, and taking in what the network task brings.

use tabula_shared::blob::mib;
use tabula_shared::{ObjectData, ObjectId, Op, OpKind, Point, SequencedOp};

use super::Session;
use crate::net::{Command, ConnectionStatus, Event};
use crate::pictures::decode::Prepared;
use crate::pictures::{Lack, Pictures, created_picture};

impl Session {
    /// The pictures the board's images show.
    #[must_use]
    pub fn pictures(&self) -> &Pictures {
        &self.pictures
    }

    /// The pictures the images in the board's history show (deleted ones
    /// too: an undo or a replay brings them back), held here: what a save
    /// or a hosted room keeps.
    #[must_use]
    pub fn pictures_to_save(&self) -> Vec<tabula_shared::blob::Blob> {
        self.pictures.used_by_ops(
            self.log
                .iter()
                .map(|sequenced| &sequenced.op)
                .chain(self.board.pending_ops()),
        )
    }

    /// The pictures, to add some (read from a file).
    pub fn pictures_mut(&mut self) -> &mut Pictures {
        &mut self.pictures
    }

    /// Puts `picture` on the board as an image `size` canvas units large,
    /// centred on `center`, as one action: the new image's id, or `None`
    /// (and a notice saying why) when we may only view the room or its
    /// relay takes no picture that large.
    pub fn insert_picture(
        &mut self,
        picture: Prepared,
        center: Point,
        size: (f32, f32),
    ) -> Option<ObjectId> {
        if !self.may_edit() {
            self.notices
                .push("View only: this room does not let you add images.".to_owned());
            return None;
        }
        let bytes = picture.blob.len() as u64;
        if self.connection.is_some() && bytes > self.max_blob_bytes {
            self.notices.push(format!(
                "The image is {}, and this room's relay takes images of at most {}: it was not added.",
                mib(bytes),
                mib(self.max_blob_bytes)
            ));
            return None;
        }
        let id = picture.blob.id();
        self.pictures.insert(picture.blob);
        let object = ObjectId::random();
        let (half_w, half_h) = (size.0 * 0.5, size.1 * 0.5);
        self.perform(vec![Op::new(OpKind::Create {
            object,
            data: ObjectData::image(
                id,
                Point::new(center.x - half_w, center.y - half_h),
                Point::new(center.x + half_w, center.y + half_h),
            ),
        })]);
        Some(object)
    }

    /// Asks the room for the pictures the board shows and we lack; on a
    /// board in no room, they are missing.
    pub(super) fn fetch_pictures(&mut self) {
        let wanted = self.pictures.wanted(&self.board);
        if wanted.is_empty() {
            return;
        }
        match (&self.connection, &self.status) {
            (Some(connection), ConnectionStatus::Connected) => {
                for id in wanted {
                    tracing::debug!(blob = %id, "fetching a picture");
                    connection.send(Command::FetchBlob(id));
                    self.pictures.lack(id, Lack::Fetching);
                }
            }
            // Asked for once the welcome comes (it makes them wanted again).
            (Some(_), _) => {}
            (None, _) => {
                for id in wanted {
                    self.pictures.lack(id, Lack::Missing);
                }
            }
        }
    }

    /// Takes in a picture the network task fetched, or what became of it.
    pub(super) fn take_picture(&mut self, event: Event) {
        match event {
            Event::Picture(blob) => {
                tracing::debug!(blob = %blob.id(), bytes = blob.len(), "fetched a picture");
                self.pictures.shared(blob.id());
                self.pictures.insert(blob);
            }
            Event::PictureMissing(id) => {
                tracing::warn!(blob = %id, "the room does not hold a picture its board shows");
                self.pictures.lack(id, Lack::Missing);
            }
            Event::PictureDamaged { id, reason } => {
                tracing::warn!(blob = %id, %reason, "a fetched picture came damaged");
                self.pictures.lack(id, Lack::Damaged(reason));
            }
            _ => {}
        }
    }

    /// Notes that the room holds the picture of an image `op` creates.
    pub(super) fn note_shared(&mut self, op: &SequencedOp) -> &mut Self {
        if let Some(id) = created_picture(&op.op) {
            self.pictures.shared(id);
        }
        self
    }
}
