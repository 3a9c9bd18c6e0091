//! Export: the board, or some of its objects, as a PNG picture or an SVG
//! drawing, and a replay as PNG frames.
//!
//! Both pictures cover the objects' area plus a small margin ([`area`]).
//!
//! # Layout
//! - this module: what the formats share: the area, the margin, the
//!   background, the formats offered ([`Format`]), and [`ExportError`].
//! - [`png`]: rasterised in pure Rust with `tiny-skia`, at 1× (one pixel per
//!   canvas unit) or more, images drawn from their pictures ([`Blobs`]); the
//!   same picture can go to the clipboard as an image.
//! - [`svg`]: exactly one element per object, in stacking order; an image's
//!   picture embedded as a `data:` URI.
//! - [`job`]: an export drawn, encoded and written (or copied) on the
//!   `tabula-export` thread, with progress and cancel.
//! - [`dialog`]: what to export, as what, and where; it starts the job and
//!   shows its progress.
//! - [`timelapse`]: a replay written out as numbered PNG frames on the
//!   `tabula-timelapse` thread, with progress and cancel.
//!
//! Both formats draw the board's own geometry ([`crate::outline`]): the same
//! curves as the screen, from the same control points; texts and notes as
//! glyph outlines laid out as the board lays them out ([`crate::text`],
//! [`crate::note`]). The formats use this
//! module; it uses none of them. [`job`] and [`timelapse`] use the formats;
//! [`dialog`] uses [`job`].

pub mod dialog;
pub mod job;
pub mod png;
pub mod svg;
#[cfg(test)]
mod tests;
pub mod timelapse;

use std::collections::HashMap;

use tabula_shared::blob::{Blob, BlobId};
use tabula_shared::{Color, Object, Rect};

use crate::pictures::Pictures;

/// The pictures an export draws its images from, by id: a copy (cheap: the
/// bytes are shared) that the export thread owns.
pub type Blobs = HashMap<BlobId, Blob>;

/// The held pictures the images among `objects` show.
#[must_use]
pub fn blobs_for<'a>(objects: impl IntoIterator<Item = &'a Object>, pictures: &Pictures) -> Blobs {
    pictures
        .used_by(objects)
        .into_iter()
        .map(|blob| (blob.id(), blob))
        .collect()
}

/// The free border around the objects, in canvas units.
pub const MARGIN: f32 = 16.0;
/// The largest side of an exported picture, in pixels.
pub const MAX_SIDE_PX: u32 = 16_384;
/// The most pixels an exported picture may have: 64 megapixels, 256 MiB of
/// pixmap (a 16,384-pixel square would be a gibibyte).
pub const MAX_PIXELS: u64 = 64 << 20;
/// The background of a PNG: the board's paper.
pub const BACKGROUND: Color = Color::rgb(0xfb, 0xfb, 0xfa);

/// The picture formats offered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// PNG, one pixel per canvas unit.
    #[default]
    Png1x,
    /// PNG, two pixels per canvas unit (sharp on high-density screens).
    Png2x,
    /// SVG, one element per object.
    Svg,
}

impl Format {
    /// The file extension.
    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png1x | Self::Png2x => "png",
            Self::Svg => "svg",
        }
    }

    /// Pixels per canvas unit (1 for SVG, whose units are the canvas's).
    #[must_use]
    pub fn scale(self) -> f32 {
        match self {
            Self::Png1x | Self::Svg => 1.0,
            Self::Png2x => 2.0,
        }
    }
}

/// Why an export failed. Where it was going is said by whoever shows it.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Nothing to export.
    #[error("there is nothing to export")]
    Empty,
    /// The picture would be unreasonably large.
    #[error(
        "the picture would be {width}×{height} pixels, over the {} megapixels an export may have; export the selection or at 1×",
        MAX_PIXELS >> 20
    )]
    TooLarge {
        /// Its width in pixels.
        width: u32,
        /// Its height in pixels.
        height: u32,
    },
    /// The PNG could not be encoded.
    #[error("could not encode the PNG: {0}")]
    Encode(String),
    /// The file could not be written.
    #[error("could not write it: {0}")]
    Write(#[source] std::io::Error),
    /// The export was cancelled before anything was written.
    #[error("the export was cancelled; nothing was written")]
    Cancelled,
}

/// The canvas area an export of `objects` covers: their bounds plus the margin.
#[must_use]
pub fn area<'a>(objects: impl IntoIterator<Item = &'a Object>) -> Option<Rect> {
    objects
        .into_iter()
        .map(Object::bounds)
        .reduce(Rect::union)
        .map(|r| r.expand(MARGIN))
}

/// The size in pixels of a PNG of `area` at `scale`.
#[must_use]
pub fn pixel_size(area: Rect, scale: f32) -> (u32, u32) {
    (
        (area.width() * scale).ceil().max(1.0) as u32,
        (area.height() * scale).ceil().max(1.0) as u32,
    )
}
