//! Image files as pixels, and pictures made fit to share.
//!
//! [`decode`] reads a blob (PNG, JPEG, the first frame of a GIF, WebP) into
//! pixels, refusing anything past [`MAX_IMAGE_SIDE`] before it allocates, so a
//! crafted file cannot make the app allocate gigabytes. [`prepare`] turns a
//! file someone inserts into the blob that is shared: as it is when it fits
//! the caps, otherwise downscaled to [`MAX_IMAGE_SIDE`] on its long side and
//! encoded again (PNG when it has transparency, JPEG otherwise), smaller
//! still until it is within [`MAX_BLOB_BYTES`].

use std::io::Cursor;

use egui::ColorImage;
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use tabula_shared::blob::{Blob, mib};
use tabula_shared::caps::{MAX_BLOB_BYTES, MAX_IMAGE_SIDE};

/// The largest picture [`prepare`] reads before downscaling it, on either
/// side: a 200-megapixel panorama, and not a decompression bomb.
const MAX_INSERT_SIDE: u32 = 20_000;
/// The most memory decoding one inserted picture may take.
const MAX_INSERT_ALLOC: u64 = 1 << 30;
/// JPEG quality of a downscaled photograph.
const JPEG_QUALITY: u8 = 88;

/// Why a picture cannot be shown or inserted, as a sentence's end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PictureError {
    /// Not one of the formats Tabula reads.
    #[error("it is not a PNG, JPEG, GIF or WebP image")]
    Format,
    /// The file does not decode.
    #[error("it cannot be read: {0}")]
    Damaged(String),
    /// Too many pixels to read at all.
    #[error("it is {width}×{height} pixels, more than Tabula reads")]
    TooLarge {
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
    },
    /// It could not be brought within the caps.
    #[error("it stays over {} however small it is made", mib(MAX_BLOB_BYTES))]
    WontFit,
}

/// A picture ready to share: its blob and its size in pixels.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The encoded file, as shared and stored.
    pub blob: Blob,
    /// Its width and height in pixels.
    pub size: [u32; 2],
    /// Whether it was downscaled or encoded again to fit the caps.
    pub reduced: bool,
}

/// The formats Tabula takes.
fn format_of(bytes: &[u8]) -> Result<ImageFormat, PictureError> {
    match image::guess_format(bytes) {
        Ok(
            format @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif | ImageFormat::WebP),
        ) => Ok(format),
        _ => Err(PictureError::Format),
    }
}

/// Reads `bytes` of `format` within `side` pixels a side and `alloc` bytes.
fn read(bytes: &[u8], side: u32, alloc: u64) -> Result<DynamicImage, PictureError> {
    let format = format_of(bytes)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    limits.max_alloc = Some(alloc);
    reader.limits(limits);
    reader.decode().map_err(|err| match err {
        image::ImageError::Limits(_) => {
            let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
                .into_dimensions()
                .unwrap_or((0, 0));
            PictureError::TooLarge { width, height }
        }
        other => PictureError::Damaged(other.to_string()),
    })
}

/// The pixels of a blob, for a texture or an export: at most
/// [`MAX_IMAGE_SIDE`] a side (what every shared picture is).
pub fn decode(bytes: &[u8]) -> Result<ColorImage, PictureError> {
    let ([width, height], rgba) = decode_rgba(bytes)?;
    Ok(ColorImage::from_rgba_unmultiplied(
        [width as usize, height as usize],
        &rgba,
    ))
}

/// The pixels of a blob as straight (not premultiplied) RGBA rows, with
/// its size: what the PNG export draws from.
pub fn decode_rgba(bytes: &[u8]) -> Result<([u32; 2], Vec<u8>), PictureError> {
    let side = MAX_IMAGE_SIDE;
    let rgba = read(bytes, side, u64::from(side) * u64::from(side) * 8)?.to_rgba8();
    Ok(([rgba.width(), rgba.height()], rgba.into_raw()))
}

/// The size in pixels of a blob, read from its header alone.
pub fn dimensions(bytes: &[u8]) -> Result<[u32; 2], PictureError> {
    let format = format_of(bytes)?;
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|err| PictureError::Damaged(err.to_string()))?;
    Ok([width, height])
}

/// A file someone inserts (or pastes, as PNG), made fit to share.
pub fn prepare(bytes: Vec<u8>) -> Result<Prepared, PictureError> {
    let format = format_of(&bytes)?;
    let [width, height] = dimensions(&bytes)?;
    if width == 0 || height == 0 {
        return Err(PictureError::Damaged("it has no pixels".to_owned()));
    }
    if width.max(height) <= MAX_IMAGE_SIDE && bytes.len() as u64 <= MAX_BLOB_BYTES {
        // Read once, so that a damaged file is refused now rather than
        // shared and shown as damaged everywhere.
        decode(&bytes)?;
        return Ok(Prepared {
            blob: Blob::new(bytes),
            size: [width, height],
            reduced: false,
        });
    }
    let image = read(&bytes, MAX_INSERT_SIDE, MAX_INSERT_ALLOC)?;
    drop(bytes);
    let transparent = image.color().has_alpha() || format == ImageFormat::Gif;
    let mut side = MAX_IMAGE_SIDE.min(width.max(height));
    for _ in 0..8 {
        let scaled = if width.max(height) > side {
            image.resize(side, side, FilterType::Triangle)
        } else {
            image.clone()
        };
        let encoded = encode(&scaled, transparent)?;
        if encoded.len() as u64 <= MAX_BLOB_BYTES {
            return Ok(Prepared {
                blob: Blob::new(encoded),
                size: [scaled.width(), scaled.height()],
                reduced: true,
            });
        }
        side = side * 3 / 4;
    }
    Err(PictureError::WontFit)
}

/// Pixels pasted from the clipboard, as a PNG made fit to share.
pub fn prepare_pixels(image: &ColorImage) -> Result<Prepared, PictureError> {
    let [width, height] = image.size;
    let rgba: Vec<u8> = image
        .pixels
        .iter()
        .flat_map(egui::Color32::to_srgba_unmultiplied)
        .collect();
    let buffer = image::RgbaImage::from_raw(width as u32, height as u32, rgba)
        .ok_or_else(|| PictureError::Damaged("the pasted picture has no pixels".to_owned()))?;
    let png = encode(&DynamicImage::ImageRgba8(buffer), true)?;
    prepare(png)
}

/// `image` as PNG (keeping transparency) or JPEG.
fn encode(image: &DynamicImage, transparent: bool) -> Result<Vec<u8>, PictureError> {
    let mut out = Cursor::new(Vec::new());
    let written = if transparent {
        image.write_to(&mut out, ImageFormat::Png)
    } else {
        let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
        let mut encoder =
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
        encoder.encode_image(&rgb)
    };
    written.map_err(|err| PictureError::Damaged(err.to_string()))?;
    Ok(out.into_inner())
}

/// A picture of `width`×`height` pixels of one colour with a diagonal,
/// encoded as `format`: for tests and examples.
#[must_use]
pub fn sample(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let image = image::RgbaImage::from_fn(width, height, |x, y| {
        if x * height / width.max(1) == y {
            image::Rgba([20, 20, 160, 255])
        } else {
            image::Rgba([240, 180, 40, 255])
        }
    });
    let mut out = Cursor::new(Vec::new());
    let image = if format == ImageFormat::Jpeg {
        DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(image).to_rgb8())
    } else {
        DynamicImage::ImageRgba8(image)
    };
    image
        .write_to(&mut out, format)
        .expect("an in-memory sample encodes");
    out.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picture_within_the_caps_is_shared_as_it_is() {
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Gif] {
            let bytes = sample(40, 30, format);
            let prepared = prepare(bytes.clone()).unwrap();
            assert_eq!(prepared.size, [40, 30], "{format:?}");
            assert!(!prepared.reduced);
            assert_eq!(&prepared.blob.bytes()[..], &bytes[..]);
            let pixels = decode(&bytes).unwrap();
            assert_eq!(pixels.size, [40, 30]);
        }
    }

    #[test]
    fn a_picture_over_the_side_cap_is_downscaled_keeping_its_aspect() {
        let bytes = sample(MAX_IMAGE_SIDE + 904, 1000, ImageFormat::Png);
        let prepared = prepare(bytes).unwrap();
        assert!(prepared.reduced);
        assert_eq!(prepared.size[0], MAX_IMAGE_SIDE);
        assert_eq!(
            prepared.size[1],
            1000 * MAX_IMAGE_SIDE / (MAX_IMAGE_SIDE + 904)
        );
        assert_eq!(dimensions(prepared.blob.bytes()).unwrap(), prepared.size);
    }

    #[test]
    fn what_is_not_a_picture_or_is_damaged_is_refused_with_a_reason() {
        assert_eq!(
            prepare(b"GIF? no, text".to_vec()).unwrap_err(),
            PictureError::Format
        );
        let mut cut = sample(64, 64, ImageFormat::Png);
        cut.truncate(cut.len() / 2);
        assert!(matches!(decode(&cut), Err(PictureError::Damaged(_))));
        assert!(prepare(cut).is_err());
    }

    #[test]
    fn pasted_pixels_become_a_png() {
        let image = ColorImage::filled([8, 4], egui::Color32::from_rgb(1, 2, 3));
        let prepared = prepare_pixels(&image).unwrap();
        assert_eq!(prepared.size, [8, 4]);
        assert_eq!(
            image::guess_format(prepared.blob.bytes()).unwrap(),
            ImageFormat::Png
        );
    }
}
