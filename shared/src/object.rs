//! The things on a board: freehand strokes, lines, arrows, rectangles, ellipses,
//! texts, sticky notes and images, each an [`Object`] with a stable [`ObjectId`].
//!
//! An image is a rectangle (its two points, opposite corners) filled with a
//! picture whose bytes are a blob ([`crate::blob`]), named in its `text` by
//! the blob's id in hex: the ops, snapshots and files that carry objects kept
//! their encoding when images came, and an image's picture never changes
//! (a set of its text is refused).
//!
//! An object is a bag of independent *properties* (where it is, its shape, its
//! colour, its width, its fill, its text, its font size, its place in the stack).
//! Concurrent edits resolve per property, the last in the relay's order winning,
//! so one person's restyle and another's move of the same box both survive.
//!
//! Geometry is in canvas units. An object's `points` are where it was drawn;
//! moving it changes only its `offset`, a small op whatever the object's size.

use serde::{Deserialize, Serialize};

use crate::blob::BlobId;
use crate::caps::{self, Malformed};
use crate::{ClientId, Color, ObjectId, Point, Rect};

/// The font size of new texts, in canvas units.
pub const DEFAULT_FONT_SIZE: f32 = 24.0;
/// How many characters of a text line fit in one font size of width; an estimate
/// that lets every peer compute the same bounds without fonts.
const CHAR_WIDTH_EM: f32 = 0.6;
/// A text line's height, in font sizes.
pub const LINE_HEIGHT_EM: f32 = 1.25;
/// How far a note's drop shadow reaches below it, as a part of its shorter
/// side: its bounds take the shadow in, so that culling, fitting and export
/// keep it.
pub const NOTE_SHADOW: f32 = 0.025;

/// What kind of thing an object is; fixed when it is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ObjectKind {
    /// Ink that follows the pointer (pen and highlighter): any number of points.
    Freehand,
    /// A straight line from its first point to its second.
    Line,
    /// A line with an arrow head at its second point.
    Arrow,
    /// An axis-aligned rectangle with its two points as opposite corners.
    Rectangle,
    /// The ellipse inscribed in the rectangle of its two points.
    Ellipse,
    /// Text whose top-left corner is its one point; lines split at `\n`.
    Text,
    /// A sticky note: a rectangle of paper in its colour (a square as made)
    /// with its two points as opposite corners, and its text on it, wrapped
    /// and sized to fit by whoever draws it. Its width, fill and font size
    /// mean nothing.
    Note,
    /// A picture filling the rectangle of its two points; its `text` names its
    /// blob ([`ObjectData::image`]).
    Image,
}

impl ObjectKind {
    /// Whether `points` is a valid shape for this kind: as many as the kind
    /// takes (a stroke at most [`caps::MAX_STROKE_POINTS`]), each within the caps.
    #[must_use]
    pub fn accepts(self, points: &[Point]) -> bool {
        self.check_shape(points).is_ok()
    }

    /// [`Self::accepts`], with the reason when not.
    pub fn check_shape(self, points: &[Point]) -> Result<(), Malformed> {
        let count_ok = match self {
            Self::Freehand => !points.is_empty(),
            Self::Line
            | Self::Arrow
            | Self::Rectangle
            | Self::Ellipse
            | Self::Note
            | Self::Image => points.len() == 2,
            Self::Text => points.len() == 1,
        };
        if !count_ok {
            return Err(Malformed::Shape {
                kind: self.name(),
                count: points.len(),
            });
        }
        caps::check_stroke_growth(0, points.len())?;
        caps::check_points(points)?;
        if self == Self::Note {
            caps::check_note_corners(points[0], points[1])?;
        }
        Ok(())
    }

    /// Whether `text` may be this kind's: at most [`caps::MAX_TEXT_BYTES`],
    /// and at most [`caps::MAX_NOTE_TEXT_BYTES`] on a note.
    pub fn check_text(self, text: &str) -> Result<(), Malformed> {
        caps::check_text(text)?;
        if self == Self::Note {
            caps::check_note_text(text)?;
        }
        Ok(())
    }

    /// The kind in words, for messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Freehand => "stroke",
            Self::Line => "line",
            Self::Arrow => "arrow",
            Self::Rectangle => "rectangle",
            Self::Ellipse => "ellipse",
            Self::Text => "text",
            Self::Note => "note",
            Self::Image => "image",
        }
    }
}

/// How the inside of a closed shape is painted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Fill {
    /// Not at all: only the outline.
    #[default]
    None,
    /// The outline's colour, mostly see-through.
    Translucent,
    /// The outline's colour, opaque.
    Solid,
}

impl Fill {
    /// The fill colour for an outline of `color`, or `None` for no fill.
    #[must_use]
    pub fn color_for(self, color: Color) -> Option<Color> {
        match self {
            Self::None => None,
            Self::Translucent => Some(Color {
                a: (u16::from(color.a) * 56 / 255) as u8,
                ..color
            }),
            Self::Solid => Some(color),
        }
    }
}

/// One property of an object, with its value: what a set op changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Property {
    /// Where the object is: added to every point.
    Offset(Point),
    /// Its shape (resize); as many points as its kind takes.
    Points(Vec<Point>),
    /// The outline, ink or text colour.
    Color(Color),
    /// The outline or ink width, in canvas units.
    Width(f32),
    /// How a closed shape is filled.
    Fill(Fill),
    /// A text's content.
    Text(String),
    /// A text's font size, in canvas units.
    FontSize(f32),
    /// Its place in the stack: higher is drawn later, on top.
    Layer(i64),
}

impl Property {
    /// Whether the value is one an object may take: within the caps
    /// ([`crate::caps`]).
    #[must_use]
    pub fn is_well_formed(&self) -> bool {
        self.check().is_ok()
    }

    /// [`Self::is_well_formed`], with the reason when not.
    pub fn check(&self) -> Result<(), Malformed> {
        match self {
            Self::Offset(p) => caps::check_point(*p),
            Self::Points(points) if points.is_empty() => Err(Malformed::Shape {
                kind: "shape",
                count: 0,
            }),
            Self::Points(points) => caps::check_points(points),
            Self::Width(w) | Self::FontSize(w) => caps::check_size(*w),
            Self::Text(text) => caps::check_text(text),
            Self::Color(_) | Self::Fill(_) | Self::Layer(_) => Ok(()),
        }
    }
}

/// Everything needed to make an object: what a create op carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectData {
    /// What it is.
    pub kind: ObjectKind,
    /// Its shape, in canvas units; as many points as the kind takes.
    pub points: Vec<Point>,
    /// Outline, ink or text colour.
    pub color: Color,
    /// Outline or ink width.
    pub width: f32,
    /// The inside of rectangles and ellipses.
    pub fill: Fill,
    /// A text's content; empty for other kinds.
    pub text: String,
    /// A text's font size.
    pub font_size: f32,
}

impl ObjectData {
    /// Whether a create op with this data can apply anywhere: its shape fits
    /// its kind and everything is within the caps.
    #[must_use]
    pub fn is_well_formed(&self) -> bool {
        self.check().is_ok()
    }

    /// [`Self::is_well_formed`], with the reason when not.
    pub fn check(&self) -> Result<(), Malformed> {
        self.kind.check_shape(&self.points)?;
        caps::check_size(self.width)?;
        caps::check_size(self.font_size)?;
        self.kind.check_text(&self.text)?;
        if self.kind == ObjectKind::Image && self.blob().is_none() {
            return Err(Malformed::NoBlob);
        }
        Ok(())
    }

    /// An image showing `blob`, filling the rectangle with these corners.
    #[must_use]
    pub fn image(blob: BlobId, corner: Point, opposite: Point) -> Self {
        Self {
            kind: ObjectKind::Image,
            points: vec![corner, opposite],
            color: Color::rgb(0, 0, 0),
            width: 1.0,
            fill: Fill::None,
            text: blob.hex(),
            font_size: DEFAULT_FONT_SIZE,
        }
    }

    /// The blob an image shows; `None` for other kinds (and for an image
    /// whose text names no blob, which no board holds).
    #[must_use]
    pub fn blob(&self) -> Option<BlobId> {
        if self.kind == ObjectKind::Image {
            BlobId::parse_hex(&self.text)
        } else {
            None
        }
    }
}

/// An object on a board.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Object {
    /// Its name, the same on every peer.
    pub id: ObjectId,
    /// Who made it: only they may stream points into a stroke.
    pub author: ClientId,
    /// Kind, shape, colour, width, fill, text and font size.
    pub data: ObjectData,
    /// Where it has been moved to, relative to where it was drawn.
    pub offset: Point,
    /// Its place in the stack (ties broken by id): a create or to-front puts the
    /// object at its sequence number, a to-back below zero.
    pub layer: i64,
    /// Whether a freehand stroke is complete (always true for other kinds).
    pub finished: bool,
    /// Deleted objects are kept, hidden, so that a restore can bring them back.
    pub deleted: bool,
}

impl Object {
    /// Whether the object is one a board may hold: its data well formed
    /// ([`ObjectData::is_well_formed`]) and its offset within the caps. A
    /// snapshot's objects are checked with this, since a snapshot comes from
    /// a relay or a file, not from ops a board checked one by one.
    #[must_use]
    pub fn is_well_formed(&self) -> bool {
        self.data.is_well_formed() && caps::check_point(self.offset).is_ok()
    }

    /// Its points where they are now, offset applied.
    pub fn points(&self) -> impl Iterator<Item = Point> + '_ {
        self.data.points.iter().map(|p| p.offset(self.offset))
    }

    /// The current value of the property of the same kind as `like`.
    #[must_use]
    pub fn get(&self, like: &Property) -> Property {
        match like {
            Property::Offset(_) => Property::Offset(self.offset),
            Property::Points(_) => Property::Points(self.data.points.clone()),
            Property::Color(_) => Property::Color(self.data.color),
            Property::Width(_) => Property::Width(self.data.width),
            Property::Fill(_) => Property::Fill(self.data.fill),
            Property::Text(_) => Property::Text(self.data.text.clone()),
            Property::FontSize(_) => Property::FontSize(self.data.font_size),
            Property::Layer(_) => Property::Layer(self.layer),
        }
    }

    /// Sets a property; `false` (and no change) if the value does not fit the
    /// object, such as three points for a rectangle or a note's text beyond
    /// its cap.
    pub fn set(&mut self, property: &Property) -> bool {
        if !property.is_well_formed() {
            return false;
        }
        match property {
            Property::Offset(p) => self.offset = *p,
            Property::Points(points) => {
                if !self.data.kind.accepts(points) {
                    return false;
                }
                self.data.points.clone_from(points);
            }
            Property::Color(c) => self.data.color = *c,
            Property::Width(w) => self.data.width = *w,
            Property::Fill(f) => self.data.fill = *f,
            // An image's text names its picture, which never changes.
            Property::Text(_) if self.data.kind == ObjectKind::Image => return false,
            Property::Text(t) => {
                if self.data.kind.check_text(t).is_err() {
                    return false;
                }
                self.data.text.clone_from(t);
            }
            Property::FontSize(s) => self.data.font_size = *s,
            Property::Layer(l) => self.layer = *l,
        }
        true
    }

    /// The rectangle of its points (or a text's estimated box), offset applied,
    /// without the width.
    #[must_use]
    pub fn frame(&self) -> Rect {
        let mut points = self.points();
        let first = points.next().unwrap_or_default();
        let mut rect = Rect::from_point(first);
        if self.data.kind == ObjectKind::Text {
            let (w, h) = text_size(&self.data.text, self.data.font_size);
            rect.include(Point::new(first.x + w, first.y + h));
        } else {
            for p in points {
                rect.include(p);
            }
        }
        rect
    }

    /// The area the object covers, width included: for culling and fitting.
    #[must_use]
    pub fn bounds(&self) -> Rect {
        let frame = self.frame();
        match self.data.kind {
            ObjectKind::Text | ObjectKind::Image => frame,
            ObjectKind::Note => {
                let mut bounds = frame;
                bounds.max.y += note_shadow(frame);
                bounds
            }
            // The arrow head sticks out by about its size.
            ObjectKind::Arrow => frame.expand(self.data.width * 0.5 + arrow_head_size(self)),
            _ => frame.expand(self.data.width * 0.5),
        }
    }

    /// How far `p` is from the painted object, 0 inside a filled shape or a text.
    #[must_use]
    pub fn distance(&self, p: Point) -> f32 {
        let half = self.data.width * 0.5;
        let pts: Vec<Point> = self.points().collect();
        let filled = self.data.fill != Fill::None;
        match self.data.kind {
            ObjectKind::Text | ObjectKind::Note | ObjectKind::Image => {
                let frame = self.frame();
                if frame.contains(p) {
                    0.0
                } else {
                    rect_outline_distance(frame, p)
                }
            }
            ObjectKind::Freehand => {
                let d = if pts.len() == 1 {
                    p.distance(pts[0])
                } else {
                    pts.windows(2)
                        .map(|w| p.distance_to_segment(w[0], w[1]))
                        .fold(f32::INFINITY, f32::min)
                };
                (d - half).max(0.0)
            }
            ObjectKind::Line | ObjectKind::Arrow => {
                (p.distance_to_segment(pts[0], pts[1]) - half).max(0.0)
            }
            ObjectKind::Rectangle => {
                let rect = Rect::from_corners(pts[0], pts[1]);
                if filled && rect.contains(p) {
                    0.0
                } else {
                    (rect_outline_distance(rect, p) - half).max(0.0)
                }
            }
            ObjectKind::Ellipse => {
                let rect = Rect::from_corners(pts[0], pts[1]);
                let outline = ellipse_outline(rect, 64);
                let inside = ellipse_contains(rect, p);
                if filled && inside {
                    0.0
                } else {
                    let d = outline
                        .windows(2)
                        .map(|w| p.distance_to_segment(w[0], w[1]))
                        .fold(f32::INFINITY, f32::min);
                    (d - half).max(0.0)
                }
            }
        }
    }
}

/// The estimated size of `text` at `font_size`: the same on every peer, whatever
/// fonts it has. An empty text still has the size of one character.
#[must_use]
pub fn text_size(text: &str, font_size: f32) -> (f32, f32) {
    let lines = text.split('\n');
    let (mut count, mut longest) = (0usize, 1usize);
    for line in lines {
        count += 1;
        longest = longest.max(line.chars().count());
    }
    (
        longest as f32 * CHAR_WIDTH_EM * font_size,
        count.max(1) as f32 * LINE_HEIGHT_EM * font_size,
    )
}

/// How far the drop shadow of a note with this frame reaches below it
/// ([`NOTE_SHADOW`] of its shorter side).
#[must_use]
pub fn note_shadow(frame: Rect) -> f32 {
    frame.width().min(frame.height()) * NOTE_SHADOW
}

/// The length of an arrow's head for an arrow of this width and length.
#[must_use]
pub fn arrow_head_size(object: &Object) -> f32 {
    let mut points = object.points();
    let (a, b) = (
        points.next().unwrap_or_default(),
        points.next().unwrap_or_default(),
    );
    (object.data.width * 3.0 + 8.0).min(a.distance(b) * 0.5)
}

/// `n + 1` points around the ellipse inscribed in `rect`, the first repeated last.
#[must_use]
pub fn ellipse_outline(rect: Rect, n: usize) -> Vec<Point> {
    let c = rect.center();
    let (rx, ry) = (rect.width() * 0.5, rect.height() * 0.5);
    (0..=n)
        .map(|i| {
            let t = i as f32 / n as f32 * std::f32::consts::TAU;
            Point::new(c.x + rx * t.cos(), c.y + ry * t.sin())
        })
        .collect()
}

/// Whether `p` is inside the ellipse inscribed in `rect`.
fn ellipse_contains(rect: Rect, p: Point) -> bool {
    let c = rect.center();
    let (rx, ry) = (rect.width() * 0.5, rect.height() * 0.5);
    if rx <= f32::EPSILON || ry <= f32::EPSILON {
        return false;
    }
    let (dx, dy) = ((p.x - c.x) / rx, (p.y - c.y) / ry);
    dx * dx + dy * dy <= 1.0
}

/// The distance from `p` to the nearest edge of `rect`.
fn rect_outline_distance(rect: Rect, p: Point) -> f32 {
    let corners = [
        rect.min,
        Point::new(rect.max.x, rect.min.y),
        rect.max,
        Point::new(rect.min.x, rect.max.y),
    ];
    (0..4)
        .map(|i| p.distance_to_segment(corners[i], corners[(i + 1) % 4]))
        .fold(f32::INFINITY, f32::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(kind: ObjectKind, points: Vec<Point>, fill: Fill) -> Object {
        Object {
            id: ObjectId::random(),
            author: ClientId::random(),
            data: ObjectData {
                kind,
                points,
                color: Color::rgb(0, 0, 0),
                width: 2.0,
                fill,
                text: "hello\nworld!".to_owned(),
                font_size: 20.0,
            },
            offset: Point::new(10.0, 0.0),
            layer: 1,
            finished: true,
            deleted: false,
        }
    }

    #[test]
    fn an_image_names_its_blob_which_never_changes_and_is_hit_anywhere_inside() {
        let blob = BlobId::of(b"a picture");
        let data = ObjectData::image(blob, Point::new(0.0, 0.0), Point::new(40.0, 30.0));
        assert_eq!(data.check(), Ok(()));
        assert_eq!(data.blob(), Some(blob));
        let nameless = ObjectData {
            text: "not a blob".to_owned(),
            ..data.clone()
        };
        assert_eq!(nameless.check(), Err(Malformed::NoBlob));
        let mut image = Object {
            id: ObjectId::random(),
            author: ClientId::random(),
            data,
            offset: Point::new(10.0, 0.0),
            layer: 1,
            finished: true,
            deleted: false,
        };
        assert!(!image.set(&Property::Text(BlobId::of(b"another").hex())));
        assert_eq!(image.data.blob(), Some(blob));
        assert!(image.distance(Point::new(30.0, 15.0)).abs() < f32::EPSILON);
        assert!((image.distance(Point::new(60.0, 15.0)) - 10.0).abs() < 1e-3);
        assert_eq!(
            image.bounds(),
            Rect::from_corners(Point::new(10.0, 0.0), Point::new(50.0, 30.0))
        );
        assert!(image.set(&Property::Points(vec![
            Point::new(0.0, 0.0),
            Point::new(80.0, 60.0)
        ])));
        assert!(!image.set(&Property::Points(vec![Point::new(0.0, 0.0)])));
    }

    #[test]
    fn hit_testing_follows_outline_fill_and_offset() {
        let corners = vec![Point::new(0.0, 0.0), Point::new(100.0, 50.0)];
        let hollow = object(ObjectKind::Rectangle, corners.clone(), Fill::None);
        // Moved 10 to the right: the left edge is at x = 10.
        assert!(hollow.distance(Point::new(10.0, 25.0)) < 0.01);
        assert!(hollow.distance(Point::new(60.0, 25.0)) > 20.0);
        let filled = object(ObjectKind::Rectangle, corners.clone(), Fill::Solid);
        assert!(filled.distance(Point::new(60.0, 25.0)) < 0.01);
        let ellipse = object(ObjectKind::Ellipse, corners, Fill::None);
        assert!(ellipse.distance(Point::new(60.0, 0.0)) < 0.5);
        assert!(ellipse.distance(Point::new(12.0, 2.0)) > 5.0);
        let text = object(ObjectKind::Text, vec![Point::new(0.0, 0.0)], Fill::None);
        // Two lines of at most six characters at 20 units.
        let frame = text.frame();
        assert!((frame.width() - 6.0 * 0.6 * 20.0).abs() < 0.01);
        assert!((frame.height() - 2.0 * LINE_HEIGHT_EM * 20.0).abs() < 0.01);
        assert!(text.distance(Point::new(15.0, 10.0)) < 0.01);
    }

    #[test]
    fn properties_that_do_not_fit_are_refused() {
        let mut line = object(
            ObjectKind::Line,
            vec![Point::new(0.0, 0.0), Point::new(1.0, 1.0)],
            Fill::None,
        );
        let before = line.clone();
        assert!(!line.set(&Property::Points(vec![Point::new(0.0, 0.0)])));
        assert!(!line.set(&Property::Width(f32::NAN)));
        assert!(!line.set(&Property::Width(0.0)));
        assert_eq!(line, before);
        assert!(line.set(&Property::Width(3.0)));
        assert_eq!(line.get(&Property::Width(0.0)), Property::Width(3.0));
    }

    #[test]
    fn a_note_is_paper_to_its_edges_with_its_shadow_below_and_caps_of_its_own() {
        let corners = vec![Point::new(0.0, 0.0), Point::new(200.0, 200.0)];
        let mut note = object(ObjectKind::Note, corners, Fill::None);
        assert!(note.is_well_formed());
        // Moved 10 to the right; picked anywhere on its paper.
        assert!(note.distance(Point::new(110.0, 100.0)) < 0.01);
        assert!((note.distance(Point::new(220.0, 100.0)) - 10.0).abs() < 0.01);
        let bounds = note.bounds();
        assert_eq!((bounds.min, bounds.max.x), (Point::new(10.0, 0.0), 210.0));
        assert!((bounds.max.y - 205.0).abs() < 0.01, "{bounds:?}");
        // A text's cap is not a note's.
        let long = "x".repeat(caps::MAX_NOTE_TEXT_BYTES + 1);
        assert!(!note.set(&Property::Text(long.clone())));
        let mut text = object(ObjectKind::Text, vec![Point::new(0.0, 0.0)], Fill::None);
        assert!(text.set(&Property::Text(long)));
        // Too small to be a note, or too large.
        let speck = vec![Point::new(0.0, 0.0), Point::new(2.0, 2.0)];
        assert!(!note.set(&Property::Points(speck.clone())));
        assert!(!ObjectKind::Note.accepts(&speck));
        let vast = vec![Point::new(0.0, 0.0), Point::new(1.0e5, 200.0)];
        assert!(!note.set(&Property::Points(vast)));
        assert!(note.set(&Property::Points(vec![
            Point::new(0.0, 0.0),
            Point::new(300.0, 120.0)
        ])));
    }
}
