//! Blobs: the bytes of an image file, named by their SHA-256 ([`BlobId`]).
//!
//! An image on a board is an object that names its picture by the picture's
//! hash; the bytes travel and are stored apart from the ops, once per room and
//! once per file however many images show them. A [`Blob`] is bytes whose
//! hash has been checked against its id, so that whoever holds one can trust
//! the name. Blobs travel in [`BlobChunk`]s of at most [`BLOB_PART_BYTES`]
//! (like snapshots), and an [`Assembly`] puts a blob back together from its
//! chunks, refusing one larger than its cap, chunks out of order, or bytes
//! whose hash is not the id.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The most blob bytes one [`BlobChunk`] carries: small enough that a part
/// fits the smallest frame a relay takes ([`BLOB_FRAME_BYTES`]), and that a
/// picture's parts interleave with live ops instead of holding them up; a
/// 10 MiB picture is 214 parts.
pub const BLOB_PART_BYTES: usize = 48 * 1024;

/// The longest frame a [`BlobChunk`] makes, part and header: a relay must
/// take frames at least this long to take pictures.
pub const BLOB_FRAME_BYTES: usize = BLOB_PART_BYTES + 1024;

/// A blob's name: the SHA-256 of its bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BlobId(pub [u8; 32]);

impl BlobId {
    /// The id of `bytes`.
    #[must_use]
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// The 64 lower-case hex digits of the hash.
    #[must_use]
    pub fn hex(&self) -> String {
        use fmt::Write as _;
        self.0.iter().fold(String::with_capacity(64), |mut out, b| {
            let _infallible = write!(out, "{b:02x}");
            out
        })
    }

    /// Reads [`Self::hex`]'s form back: exactly 64 hex digits (either case).
    #[must_use]
    pub fn parse_hex(text: &str) -> Option<Self> {
        let digits = text.as_bytes();
        if digits.len() != 64 {
            return None;
        }
        let mut id = [0u8; 32];
        for (byte, pair) in id.iter_mut().zip(digits.chunks_exact(2)) {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            *byte = (high * 16 + low) as u8;
        }
        Some(Self(id))
    }
}

impl fmt::Display for BlobId {
    /// The first twelve hex digits: plenty to tell blobs apart in a message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex()[..12])
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({self})")
    }
}

/// Bytes whose SHA-256 is known to be their id: made only by hashing them
/// ([`Blob::new`]) or by checking a claimed id ([`Blob::verified`]). Cheap to
/// clone (the bytes are shared).
#[derive(Clone, PartialEq, Eq)]
pub struct Blob {
    /// The hash of `bytes`.
    id: BlobId,
    /// The image file, as it was inserted (or as it was downscaled to fit).
    bytes: Arc<[u8]>,
}

impl Blob {
    /// Names `bytes` by their hash.
    #[must_use]
    pub fn new(bytes: impl Into<Arc<[u8]>>) -> Self {
        let bytes = bytes.into();
        Self {
            id: BlobId::of(&bytes),
            bytes,
        }
    }

    /// `bytes`, if their hash is `id`.
    pub fn verified(id: BlobId, bytes: impl Into<Arc<[u8]>>) -> Result<Self, BlobError> {
        let blob = Self::new(bytes);
        if blob.id == id {
            Ok(blob)
        } else {
            Err(BlobError::WrongHash { id })
        }
    }

    /// Its name.
    #[must_use]
    pub fn id(&self) -> BlobId {
        self.id
    }

    /// Its bytes.
    #[must_use]
    pub fn bytes(&self) -> &Arc<[u8]> {
        &self.bytes
    }

    /// How many bytes it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether it holds no bytes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The blob in chunks of at most [`BLOB_PART_BYTES`], in order (one
    /// empty chunk for an empty blob).
    #[must_use]
    pub fn chunks(&self) -> Vec<BlobChunk> {
        let total = self.bytes.len() as u64;
        let mut chunks: Vec<BlobChunk> = self
            .bytes
            .chunks(BLOB_PART_BYTES)
            .scan(0u64, |offset, part| {
                let chunk = BlobChunk {
                    id: self.id,
                    total,
                    offset: *offset,
                    bytes: part.to_vec(),
                };
                *offset += part.len() as u64;
                Some(chunk)
            })
            .collect();
        if chunks.is_empty() {
            chunks.push(BlobChunk {
                id: self.id,
                total: 0,
                offset: 0,
                bytes: Vec::new(),
            });
        }
        chunks
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({}, {} bytes)", self.id, self.bytes.len())
    }
}

/// One piece of a blob on the wire: a client uploading it, or the relay
/// answering a fetch.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobChunk {
    /// The blob it is part of.
    pub id: BlobId,
    /// The whole blob's length, in bytes (the same in every chunk).
    pub total: u64,
    /// Where these bytes start in the blob.
    pub offset: u64,
    /// At most [`BLOB_PART_BYTES`] of them.
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

impl fmt::Debug for BlobChunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BlobChunk({}, {}..{} of {})",
            self.id,
            self.offset,
            self.offset + self.bytes.len() as u64,
            self.total
        )
    }
}

/// Why a blob, or a chunk of one, was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// Larger than the cap of whoever receives it.
    #[error("an image of {}, and at most {} is allowed", mib(*bytes), mib(*max))]
    TooLarge {
        /// The blob's length.
        bytes: u64,
        /// The cap.
        max: u64,
    },
    /// A chunk that does not follow the one before, or says another length.
    #[error("the image {id} arrived out of order: bytes from {offset} when {expected} were due")]
    OutOfOrder {
        /// The blob.
        id: BlobId,
        /// Where the chunk said it starts.
        offset: u64,
        /// Where the next chunk had to start.
        expected: u64,
    },
    /// A chunk longer than a part may be, or past the blob's end.
    #[error("a piece of the image {id} is longer than allowed")]
    Overrun {
        /// The blob.
        id: BlobId,
    },
    /// The bytes are not what the id names: damaged, or not what was sent.
    #[error("the image {id} is damaged: its bytes do not match its name")]
    WrongHash {
        /// The blob.
        id: BlobId,
    },
}

/// `bytes` in MiB (or KiB below one MiB), for a sentence.
#[must_use]
pub fn mib(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

/// A blob put back together from its chunks, in order.
#[derive(Debug)]
pub struct Assembly {
    /// The blob being received.
    id: BlobId,
    /// Its length, as its first chunk said.
    total: u64,
    /// What has arrived so far.
    bytes: Vec<u8>,
}

impl Assembly {
    /// Starts receiving the blob `first` is the first chunk of, within `max`
    /// bytes ([`Progress::Done`] when that chunk is the whole of it).
    pub fn start(first: &BlobChunk, max: u64) -> Result<Progress, BlobError> {
        if first.total > max {
            return Err(BlobError::TooLarge {
                bytes: first.total,
                max,
            });
        }
        let assembly = Self {
            id: first.id,
            total: first.total,
            // Grown as chunks arrive, never trusting the claimed total up front
            // beyond one part.
            bytes: Vec::with_capacity((first.total as usize).min(BLOB_PART_BYTES)),
        };
        assembly.push(first)
    }

    /// The blob being received.
    #[must_use]
    pub fn id(&self) -> BlobId {
        self.id
    }

    /// Takes the next chunk: the blob once it is complete and its hash checked.
    pub fn push(mut self, chunk: &BlobChunk) -> Result<Progress, BlobError> {
        let expected = self.bytes.len() as u64;
        if chunk.id != self.id || chunk.total != self.total || chunk.offset != expected {
            return Err(BlobError::OutOfOrder {
                id: chunk.id,
                offset: chunk.offset,
                expected,
            });
        }
        if chunk.bytes.len() > BLOB_PART_BYTES
            || expected + chunk.bytes.len() as u64 > self.total
            || (chunk.bytes.is_empty() && self.total > 0)
        {
            return Err(BlobError::Overrun { id: self.id });
        }
        self.bytes.extend_from_slice(&chunk.bytes);
        if (self.bytes.len() as u64) < self.total {
            return Ok(Progress::More(self));
        }
        Blob::verified(self.id, self.bytes).map(Progress::Done)
    }
}

/// Where an [`Assembly`] stands after a chunk.
#[derive(Debug)]
pub enum Progress {
    /// More chunks are due.
    More(Assembly),
    /// The blob is complete and its hash is its id.
    Done(Blob),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assemble(chunks: Vec<BlobChunk>, max: u64) -> Result<Blob, BlobError> {
        let mut chunks = chunks.into_iter();
        let mut progress = Assembly::start(&chunks.next().unwrap(), max)?;
        for chunk in chunks {
            progress = match progress {
                Progress::More(assembly) => assembly.push(&chunk)?,
                Progress::Done(_) => panic!("more chunks than the blob"),
            };
        }
        match progress {
            Progress::Done(blob) => Ok(blob),
            Progress::More(_) => panic!("the blob was not complete"),
        }
    }

    #[test]
    fn an_id_is_the_sha256_and_reads_back_from_hex() {
        let id = BlobId::of(b"abc");
        assert_eq!(
            id.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(BlobId::parse_hex(&id.hex()), Some(id));
        assert_eq!(BlobId::parse_hex(&id.hex().to_uppercase()), Some(id));
        assert_eq!(BlobId::parse_hex("ba78"), None);
        assert_eq!(BlobId::parse_hex(&"g".repeat(64)), None);
        assert_eq!(id.to_string(), "ba7816bf8f01");
    }

    #[test]
    fn a_blob_goes_in_parts_and_comes_back_whole() {
        let bytes: Vec<u8> = (0..BLOB_PART_BYTES * 2 + 17).map(|i| i as u8).collect();
        let blob = Blob::new(bytes.clone());
        let chunks = blob.chunks();
        assert_eq!(chunks.len(), 3);
        assert_eq!(assemble(chunks, 10 << 20).unwrap(), blob);
        let empty = Blob::new(Vec::new());
        assert_eq!(assemble(empty.chunks(), 10).unwrap(), empty);
    }

    #[test]
    fn a_blob_over_the_cap_is_refused_at_its_first_chunk() {
        let blob = Blob::new(vec![7u8; 2000]);
        let refused = Assembly::start(&blob.chunks()[0], 1024).unwrap_err();
        assert_eq!(
            refused,
            BlobError::TooLarge {
                bytes: 2000,
                max: 1024
            }
        );
        assert_eq!(
            refused.to_string(),
            "an image of 2 KiB, and at most 1 KiB is allowed"
        );
    }

    #[test]
    fn chunks_out_of_order_or_bytes_that_do_not_match_are_refused() {
        let blob = Blob::new(vec![1u8; BLOB_PART_BYTES + 10]);
        let mut chunks = blob.chunks();
        chunks.swap(0, 1);
        assert!(matches!(
            assemble(chunks, u64::MAX),
            Err(BlobError::OutOfOrder { .. })
        ));
        let mut forged = blob.chunks();
        forged[1].bytes[0] = 2;
        assert_eq!(
            assemble(forged, u64::MAX),
            Err(BlobError::WrongHash { id: blob.id() })
        );
        let mut long = blob.chunks();
        long[1].bytes.extend_from_slice(&[0; 10]);
        assert!(matches!(
            assemble(long, u64::MAX),
            Err(BlobError::Overrun { .. })
        ));
        assert!(Blob::verified(blob.id(), vec![0u8; 3]).is_err());
    }
}
