//! The geometry caps every peer enforces: how many points a stroke may hold,
//! how long a text or a note's text may be, how far from the origin a point
//! may lie, how wide a line and how large a font or a note may be.
//!
//! They are far beyond anything a person draws (a continuous pen stroke of
//! several minutes, a page of text, a board thousands of screens across) and
//! they bound what a hostile peer, relay or file can make anyone store, send,
//! or draw. The relay refuses an op beyond them (`InvalidOp`); every board
//! ignores one (the same on every peer, so boards stay identical) and drops
//! an object beyond them from a snapshot; so a malicious relay or file can
//! neither crash nor freeze the app with geometry.

use crate::Point;

/// The most points one freehand stroke may hold. At 120 points a second (a
/// fast pen, before the app thins it), that is seven minutes without lifting
/// the pen.
pub const MAX_STROKE_POINTS: usize = 50_000;

/// The most points one op may carry (a stroke's begin and appends, a
/// shape's points). A pen streams a few points a frame; a pasted stroke
/// arrives whole in one create, hence the same cap as a stroke.
pub const MAX_OP_POINTS: usize = MAX_STROKE_POINTS;

/// The longest text, in bytes: a long page of prose.
pub const MAX_TEXT_BYTES: usize = 20_000;

/// The longest text on a sticky note, in bytes: a note holds a few
/// sentences, and its font shrinks to fit them (at this length, on a note of
/// the default side, to about a tenth of the text tool's font).
pub const MAX_NOTE_TEXT_BYTES: usize = 5_000;

/// The smallest side of a sticky note, in canvas units: smaller, it would be
/// a speck whatever the zoom.
pub const MIN_NOTE_SIDE: f32 = 8.0;

/// The largest side of a sticky note, in canvas units: twenty-five times the
/// side a note is made with, and a font that fits it stays within
/// [`MAX_SIZE`].
pub const MAX_NOTE_SIDE: f32 = 5_000.0;

/// How far from the origin a point or an offset may lie, in canvas units, on
/// either axis: some ten thousand screens in every direction, and well
/// inside where `f32` still tells points a unit apart.
pub const MAX_COORDINATE: f32 = 10_000_000.0;

/// The largest width or font size, in canvas units.
pub const MAX_SIZE: f32 = 1000.0;

/// The most pixels an image may have on its long side. The app downscales a
/// bigger picture to this before it stores it: 4096 px is sharp on a 4K
/// screen at 100 % and keeps a decoded texture within 64 MiB.
pub const MAX_IMAGE_SIDE: u32 = 4096;

/// The most bytes one image's encoded file (a blob) may hold. The app
/// re-encodes a bigger file (as PNG, or JPEG for a photograph) until it fits;
/// a relay refuses a bigger blob, so nobody can make a room store more than
/// this per image. A relay may take less (`--max-blob-bytes`).
pub const MAX_BLOB_BYTES: u64 = 10 * 1024 * 1024;

/// What in an op, object or snapshot lies beyond the caps, or is no shape
/// at all: the reason the relay gives when it refuses an op.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Malformed {
    /// A coordinate is not a number or lies too far out.
    #[error(
        "a point at ({x}, {y}) is not a number or lies farther than {MAX_COORDINATE} from the origin"
    )]
    Point {
        /// The point's x.
        x: f32,
        /// The point's y.
        y: f32,
    },
    /// Too many points in one op or one stroke.
    #[error("{count} points, and at most {max} are allowed")]
    TooManyPoints {
        /// How many there were (or would be, for a stroke grown by an append).
        count: usize,
        /// The cap.
        max: usize,
    },
    /// A width or font size out of range.
    #[error("a size of {0}, and a width or font size must be above 0 and at most {MAX_SIZE}")]
    Size(f32),
    /// A text too long.
    #[error("a text of {0} bytes, and at most {MAX_TEXT_BYTES} are allowed")]
    TextTooLong(usize),
    /// A note's text too long.
    #[error("a note's text of {0} bytes, and at most {MAX_NOTE_TEXT_BYTES} are allowed")]
    NoteTextTooLong(usize),
    /// A note too small or too large.
    #[error(
        "a note of {width} × {height}, and a note's sides must be from {MIN_NOTE_SIDE} to {MAX_NOTE_SIDE}"
    )]
    NoteSize {
        /// Its width.
        width: f32,
        /// Its height.
        height: f32,
    },
    /// An image whose text is not the id of a blob.
    #[error("an image that names no picture")]
    NoBlob,
    /// Points that make no object of this kind (a line takes two).
    #[error("{count} points make no {kind}")]
    Shape {
        /// The kind of object, in words.
        kind: &'static str,
        /// How many points there were.
        count: usize,
    },
}

/// Whether `point` is an ordinary number within [`MAX_COORDINATE`] on both
/// axes.
pub fn check_point(point: Point) -> Result<(), Malformed> {
    if point.is_finite() && point.x.abs() <= MAX_COORDINATE && point.y.abs() <= MAX_COORDINATE {
        Ok(())
    } else {
        Err(Malformed::Point {
            x: point.x,
            y: point.y,
        })
    }
}

/// Whether there are at most [`MAX_OP_POINTS`] of `points` and each passes
/// [`check_point`].
pub fn check_points(points: &[Point]) -> Result<(), Malformed> {
    if points.len() > MAX_OP_POINTS {
        return Err(Malformed::TooManyPoints {
            count: points.len(),
            max: MAX_OP_POINTS,
        });
    }
    points.iter().try_for_each(|p| check_point(*p))
}

/// Whether `size` is a usable width or font size: positive, at most
/// [`MAX_SIZE`].
pub fn check_size(size: f32) -> Result<(), Malformed> {
    if size.is_finite() && size > 0.0 && size <= MAX_SIZE {
        Ok(())
    } else {
        Err(Malformed::Size(size))
    }
}

/// Whether `text` is at most [`MAX_TEXT_BYTES`] long.
pub fn check_text(text: &str) -> Result<(), Malformed> {
    if text.len() <= MAX_TEXT_BYTES {
        Ok(())
    } else {
        Err(Malformed::TextTooLong(text.len()))
    }
}

/// Whether `text` is at most [`MAX_NOTE_TEXT_BYTES`] long: a note's text.
pub fn check_note_text(text: &str) -> Result<(), Malformed> {
    if text.len() <= MAX_NOTE_TEXT_BYTES {
        Ok(())
    } else {
        Err(Malformed::NoteTextTooLong(text.len()))
    }
}

/// Whether a note with corners `a` and `b` (each within the caps) has both
/// sides from [`MIN_NOTE_SIDE`] to [`MAX_NOTE_SIDE`].
pub fn check_note_corners(a: Point, b: Point) -> Result<(), Malformed> {
    let (width, height) = ((a.x - b.x).abs(), (a.y - b.y).abs());
    let fits = |side: f32| (MIN_NOTE_SIDE..=MAX_NOTE_SIDE).contains(&side);
    if fits(width) && fits(height) {
        Ok(())
    } else {
        Err(Malformed::NoteSize { width, height })
    }
}

/// Whether a stroke of `had` points may take `more`: at most
/// [`MAX_STROKE_POINTS`] in all.
pub fn check_stroke_growth(had: usize, more: usize) -> Result<(), Malformed> {
    let count = had.saturating_add(more);
    if count <= MAX_STROKE_POINTS {
        Ok(())
    } else {
        Err(Malformed::TooManyPoints {
            count,
            max: MAX_STROKE_POINTS,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caps_take_what_people_draw_and_refuse_the_rest() {
        assert!(check_point(Point::new(-1e6, 5e6)).is_ok());
        assert!(check_point(Point::new(2e7, 0.0)).is_err());
        assert!(check_point(Point::new(0.0, f32::NAN)).is_err());
        assert!(check_points(&vec![Point::new(1.0, 1.0); MAX_OP_POINTS]).is_ok());
        assert_eq!(
            check_points(&vec![Point::new(1.0, 1.0); MAX_OP_POINTS + 1]),
            Err(Malformed::TooManyPoints {
                count: MAX_OP_POINTS + 1,
                max: MAX_OP_POINTS
            })
        );
        assert!(check_size(0.5).is_ok() && check_size(MAX_SIZE).is_ok());
        for size in [0.0, MAX_SIZE * 2.0, f32::INFINITY] {
            assert!(check_size(size).is_err());
        }
        assert!(check_text(&"x".repeat(MAX_TEXT_BYTES)).is_ok());
        assert!(check_text(&"x".repeat(MAX_TEXT_BYTES + 1)).is_err());
        assert!(check_stroke_growth(MAX_STROKE_POINTS - 10, 10).is_ok());
        assert!(check_note_text(&"x".repeat(MAX_NOTE_TEXT_BYTES)).is_ok());
        assert!(check_note_text(&"x".repeat(MAX_NOTE_TEXT_BYTES + 1)).is_err());
        let origin = Point::new(0.0, 0.0);
        assert!(check_note_corners(origin, Point::new(200.0, -200.0)).is_ok());
        assert!(check_note_corners(origin, Point::new(MAX_NOTE_SIDE, MIN_NOTE_SIDE)).is_ok());
        for corner in [
            Point::new(200.0, 2.0),
            Point::new(MAX_NOTE_SIDE + 1.0, 200.0),
            origin,
        ] {
            assert!(check_note_corners(origin, corner).is_err(), "{corner:?}");
        }
        assert!(check_stroke_growth(MAX_STROKE_POINTS - 10, 11).is_err());
    }

    #[test]
    fn a_refusal_says_what_was_beyond_which_cap() {
        let too_many = check_points(&vec![Point::new(0.0, 0.0); 2_000_000]).unwrap_err();
        assert_eq!(
            too_many.to_string(),
            "2000000 points, and at most 50000 are allowed"
        );
        let tiny = check_note_corners(Point::new(0.0, 0.0), Point::new(2.0, 300.0)).unwrap_err();
        assert_eq!(
            tiny.to_string(),
            "a note of 2 × 300, and a note's sides must be from 8 to 5000"
        );
        let far = check_point(Point::new(3e7, 1.0)).unwrap_err();
        assert!(far.to_string().contains("30000000"), "{far}");
    }
}
