//! The pictures the board's images show: the blobs this app holds, and what
//! became of those it lacks.
//!
//! An image on the board names its picture by the blob's id
//! ([`tabula_shared::blob`]); the bytes come apart from the ops: inserted
//! here, read from a session file, or fetched from the room. [`Pictures`]
//! keeps them, once each, and for a picture it lacks whether it is being
//! fetched, nowhere to be had, or damaged, which is what the canvas shows in
//! its place. Each frame the session asks it which pictures of the board are
//! wanted ([`Pictures::wanted`]) and fetches those.
//!
//! A leaf of the app: it imports nothing of it. `decode` reads blobs into
//! pixels and prepares inserted files to share.

pub mod decode;

use std::collections::HashMap;

use tabula_shared::blob::{Blob, BlobId};
use tabula_shared::{Board, ObjectKind, Op, OpKind};

/// The picture `op` creates an image of, if it does.
#[must_use]
pub fn created_picture(op: &Op) -> Option<BlobId> {
    match &op.kind {
        OpKind::Create { data, .. } => data.blob(),
        _ => None,
    }
}

/// What became of a picture this app does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lack {
    /// Asked of the room; on its way.
    Fetching,
    /// Nobody has it: not the room, not the file.
    Missing,
    /// It came, but damaged (its bytes are not its name, or do not decode).
    Damaged(String),
}

/// A picture as the canvas can show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown<'a> {
    /// Here it is.
    Held(&'a Blob),
    /// Not here (yet), and why.
    Lacking(&'a Lack),
    /// Never asked for yet.
    Unknown,
}

/// The blobs this app holds, and the ones it lacks.
#[derive(Debug, Default)]
pub struct Pictures {
    /// Every picture held, by id.
    held: HashMap<BlobId, Blob>,
    /// The pictures the board showed that are not held, and why.
    lacking: HashMap<BlobId, Lack>,
    /// The board generation [`Self::wanted`] last looked at.
    looked_at: Option<u64>,
    /// Counts every change, so a painter knows when to look again.
    changes: u64,
    /// The pictures the room is known to hold (uploaded, fetched, or shown
    /// by an op from it): an image of one needs no upload.
    in_room: std::collections::HashSet<BlobId>,
}

impl Pictures {
    /// Keeps `blob` (once, however often it is added).
    pub fn insert(&mut self, blob: Blob) {
        self.lacking.remove(&blob.id());
        if self.held.insert(blob.id(), blob).is_none() {
            self.changes += 1;
        }
    }

    /// The picture named `id`, if held.
    #[must_use]
    pub fn get(&self, id: BlobId) -> Option<&Blob> {
        self.held.get(&id)
    }

    /// The picture named `id` as the canvas can show it.
    #[must_use]
    pub fn shown(&self, id: BlobId) -> Shown<'_> {
        match (self.held.get(&id), self.lacking.get(&id)) {
            (Some(blob), _) => Shown::Held(blob),
            (None, Some(lack)) => Shown::Lacking(lack),
            (None, None) => Shown::Unknown,
        }
    }

    /// Records why the picture named `id` is not here.
    pub fn lack(&mut self, id: BlobId, lack: Lack) {
        if !self.held.contains_key(&id) && self.lacking.insert(id, lack.clone()) != Some(lack) {
            self.changes += 1;
        }
    }

    /// Forgets the fetches under way (the connection that carried them is
    /// gone) and what was missing (a new connection may have it): asked again.
    pub fn retry(&mut self) {
        self.lacking
            .retain(|_, lack| matches!(lack, Lack::Damaged(_)));
        self.looked_at = None;
        self.changes += 1;
    }

    /// Notes that the room holds the picture `id`.
    pub fn shared(&mut self, id: BlobId) {
        self.in_room.insert(id);
    }

    /// Whether the room is known to hold the picture `id`.
    #[must_use]
    pub fn is_shared(&self, id: BlobId) -> bool {
        self.in_room.contains(&id)
    }

    /// Another room: it holds none of our pictures until they are shared.
    pub fn left_room(&mut self) {
        self.in_room.clear();
        self.retry();
    }

    /// The picture to upload before `op`, when it creates an image of a
    /// picture we hold and the room is not known to hold; it is then.
    pub fn to_upload(&mut self, op: &Op) -> Option<Blob> {
        let id = created_picture(op)?;
        let blob = self.held.get(&id)?.clone();
        self.in_room.insert(id).then_some(blob)
    }

    /// The held pictures of the images `ops` create.
    #[must_use]
    pub fn used_by_ops<'a>(&self, ops: impl IntoIterator<Item = &'a Op>) -> Vec<Blob> {
        let mut ids: Vec<BlobId> = ops.into_iter().filter_map(created_picture).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
            .filter_map(|id| self.held.get(&id).cloned())
            .collect()
    }

    /// How many changes the store has seen: a painter's cue to look again.
    #[must_use]
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// The pictures `board` shows that are neither held nor accounted for,
    /// in a stable order; empty while the board has not changed since the
    /// last call.
    pub fn wanted(&mut self, board: &Board) -> Vec<BlobId> {
        if self.looked_at == Some(board.generation()) {
            return Vec::new();
        }
        self.looked_at = Some(board.generation());
        let mut wanted: Vec<BlobId> = board
            .objects()
            .filter(|o| o.data.kind == ObjectKind::Image)
            .filter_map(|o| o.data.blob())
            .filter(|id| !self.held.contains_key(id) && !self.lacking.contains_key(id))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        wanted
    }

    /// The held pictures that objects of `board` (deleted ones too: an undo
    /// brings them back) show, in id order: what a save keeps.
    #[must_use]
    pub fn used_by<'a>(
        &self,
        objects: impl IntoIterator<Item = &'a tabula_shared::Object>,
    ) -> Vec<Blob> {
        let mut ids: Vec<BlobId> = objects.into_iter().filter_map(|o| o.data.blob()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
            .filter_map(|id| self.held.get(&id).cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use tabula_shared::{ClientId, ObjectData, ObjectId, Op, OpKind, Point};

    use super::*;

    fn image(board: &mut Board, blob: BlobId) {
        board.apply_local(
            ClientId::random(),
            Op::new(OpKind::Create {
                object: ObjectId::random(),
                data: ObjectData::image(blob, Point::new(0.0, 0.0), Point::new(4.0, 3.0)),
            }),
        );
    }

    #[test]
    fn the_pictures_a_board_lacks_are_wanted_once() {
        let mut pictures = Pictures::default();
        let mut board = Board::new();
        let held = Blob::new(b"held".to_vec());
        let absent = BlobId::of(b"absent");
        pictures.insert(held.clone());
        image(&mut board, held.id());
        image(&mut board, absent);
        image(&mut board, absent);
        assert_eq!(pictures.wanted(&board), vec![absent]);
        assert_eq!(
            pictures.wanted(&board),
            Vec::new(),
            "the board did not change"
        );
        pictures.lack(absent, Lack::Fetching);
        image(&mut board, held.id());
        assert_eq!(pictures.wanted(&board), Vec::new(), "already asked for");
        assert_eq!(pictures.shown(absent), Shown::Lacking(&Lack::Fetching));
        pictures.retry();
        assert_eq!(pictures.wanted(&board), vec![absent]);
        pictures.insert(Blob::new(b"absent".to_vec()));
        assert!(matches!(pictures.shown(absent), Shown::Held(_)));
    }
}
