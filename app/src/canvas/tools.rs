//! Tools and their settings: what a press on the canvas does, in which colour,
//! how wide, with which fill and font size, and on which note colour.
//!
//! [`Tool`] names what a primary drag means (the canvas matches on it), with the
//! letter that selects it and its pointer shape. [`ToolSettings`] is what the
//! toolbar and the style panel edit and the canvas reads to make new objects.

use egui::{CursorIcon, Key};
use tabula_shared::object::{DEFAULT_FONT_SIZE, Fill, ObjectData, ObjectKind};
use tabula_shared::{Color, Point, StrokeStyle};

/// What a primary press-and-drag on the canvas does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Tool {
    /// Click, rubber-band, move, resize and restyle objects.
    Select,
    /// Freehand ink that follows the pointer.
    #[default]
    Pen,
    /// Wide translucent ink, for marking things up.
    Highlighter,
    /// A straight line.
    Line,
    /// A straight line with an arrow head.
    Arrow,
    /// A rectangle (a square with shift).
    Rectangle,
    /// An ellipse (a circle with shift).
    Ellipse,
    /// Click to place text, then type.
    Text,
    /// Click to stick a note, then type on it.
    Note,
    /// Removes every object it touches.
    Eraser,
    /// Points while held down: a trail everyone sees fade, never an object.
    Laser,
}

impl Tool {
    /// Every tool, in toolbar order.
    pub const ALL: [Self; 11] = [
        Self::Select,
        Self::Pen,
        Self::Highlighter,
        Self::Line,
        Self::Arrow,
        Self::Rectangle,
        Self::Ellipse,
        Self::Text,
        Self::Note,
        Self::Eraser,
        Self::Laser,
    ];

    /// The name shown in tooltips.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Select => "Select",
            Self::Pen => "Pen",
            Self::Highlighter => "Highlighter",
            Self::Line => "Line",
            Self::Arrow => "Arrow",
            Self::Rectangle => "Rectangle",
            Self::Ellipse => "Ellipse",
            Self::Text => "Text",
            Self::Note => "Note",
            Self::Eraser => "Eraser",
            Self::Laser => "Laser pointer",
        }
    }

    /// The key that selects it, as in Excalidraw.
    #[must_use]
    pub fn shortcut(self) -> Key {
        match self {
            Self::Select => Key::V,
            Self::Pen => Key::P,
            Self::Highlighter => Key::H,
            Self::Line => Key::L,
            Self::Arrow => Key::A,
            Self::Rectangle => Key::R,
            Self::Ellipse => Key::O,
            Self::Text => Key::T,
            Self::Note => Key::N,
            Self::Eraser => Key::E,
            Self::Laser => Key::K,
        }
    }

    /// The pointer shape over the canvas while it is selected.
    #[must_use]
    pub fn cursor(self) -> CursorIcon {
        match self {
            Self::Select => CursorIcon::Default,
            Self::Text => CursorIcon::Text,
            Self::Eraser => CursorIcon::None,
            _ => CursorIcon::Crosshair,
        }
    }

    /// The kind of shape a drag with this tool makes, for the shape tools.
    #[must_use]
    pub fn shape_kind(self) -> Option<ObjectKind> {
        match self {
            Self::Line => Some(ObjectKind::Line),
            Self::Arrow => Some(ObjectKind::Arrow),
            Self::Rectangle => Some(ObjectKind::Rectangle),
            Self::Ellipse => Some(ObjectKind::Ellipse),
            _ => None,
        }
    }
}

/// A named ink colour of the palette.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Swatch {
    /// Shown in the swatch's tooltip and read by screen readers.
    pub name: &'static str,
    /// The ink.
    pub color: Color,
}

/// The ink colours offered, in toolbar order: balanced to read well on the light
/// board, with white last for drawing over things.
pub const PALETTE: [Swatch; 10] = [
    Swatch {
        name: "Ink",
        color: Color::rgb(0x1e, 0x1e, 0x24),
    },
    Swatch {
        name: "Red",
        color: Color::rgb(0xe0, 0x31, 0x31),
    },
    Swatch {
        name: "Orange",
        color: Color::rgb(0xf0, 0x8c, 0x00),
    },
    Swatch {
        name: "Amber",
        color: Color::rgb(0xf5, 0xb7, 0x00),
    },
    Swatch {
        name: "Green",
        color: Color::rgb(0x2f, 0x9e, 0x44),
    },
    Swatch {
        name: "Teal",
        color: Color::rgb(0x0c, 0x85, 0x99),
    },
    Swatch {
        name: "Blue",
        color: Color::rgb(0x19, 0x71, 0xc2),
    },
    Swatch {
        name: "Purple",
        color: Color::rgb(0x70, 0x48, 0xe8),
    },
    Swatch {
        name: "Pink",
        color: Color::rgb(0xd6, 0x33, 0x6c),
    },
    Swatch {
        name: "White",
        color: Color::rgb(0xff, 0xff, 0xff),
    },
];

/// The colours of sticky notes, in the style panel's order: light enough
/// for dark text, apart enough to sort notes by.
pub const NOTE_PALETTE: [Swatch; 10] = [
    Swatch {
        name: "Yellow note",
        color: Color::rgb(0xff, 0xe5, 0x80),
    },
    Swatch {
        name: "Orange note",
        color: Color::rgb(0xff, 0xc6, 0x8a),
    },
    Swatch {
        name: "Pink note",
        color: Color::rgb(0xff, 0xb8, 0xd1),
    },
    Swatch {
        name: "Coral note",
        color: Color::rgb(0xff, 0xa3, 0x9e),
    },
    Swatch {
        name: "Purple note",
        color: Color::rgb(0xd8, 0xc8, 0xff),
    },
    Swatch {
        name: "Blue note",
        color: Color::rgb(0xaa, 0xd4, 0xff),
    },
    Swatch {
        name: "Teal note",
        color: Color::rgb(0x9f, 0xe6, 0xdb),
    },
    Swatch {
        name: "Green note",
        color: Color::rgb(0xc0, 0xec, 0xa0),
    },
    Swatch {
        name: "Lime note",
        color: Color::rgb(0xe6, 0xf4, 0x8c),
    },
    Swatch {
        name: "Grey note",
        color: Color::rgb(0xe2, 0xe2, 0xe6),
    },
];

/// The side of a note stuck with a click, in canvas units.
pub const NOTE_SIDE: f32 = 200.0;

/// Pen widths, in canvas units (they grow and shrink with zoom like the board).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Width {
    /// Fine lines and handwriting.
    Thin,
    /// The everyday pen.
    #[default]
    Medium,
    /// A marker.
    Thick,
    /// Filling and emphasis.
    Extra,
}

impl Width {
    /// Every width, thinnest first.
    pub const ALL: [Self; 4] = [Self::Thin, Self::Medium, Self::Thick, Self::Extra];

    /// The width in canvas units.
    #[must_use]
    pub fn canvas_units(self) -> f32 {
        match self {
            Self::Thin => 2.0,
            Self::Medium => 4.0,
            Self::Thick => 8.0,
            Self::Extra => 16.0,
        }
    }

    /// The name shown in tooltips.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Thin => "Thin",
            Self::Medium => "Medium",
            Self::Thick => "Thick",
            Self::Extra => "Extra thick",
        }
    }
}

/// The opacity of highlighter ink: enough to see, little enough to read through.
pub const HIGHLIGHTER_ALPHA: u8 = 90;
/// How many times wider the highlighter is than the pen at the same setting.
pub const HIGHLIGHTER_SCALE: f32 = 4.0;
/// The font sizes offered, in canvas units.
pub const FONT_SIZES: [(&str, f32); 4] = [
    ("Small", 16.0),
    ("Medium", DEFAULT_FONT_SIZE),
    ("Large", 36.0),
    ("Huge", 56.0),
];

/// The current tool and how it inks; what the toolbar edits and the canvas reads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ToolSettings {
    /// What a primary drag on the canvas does.
    pub tool: Tool,
    /// The ink, outline and text colour of new objects.
    pub color: Color,
    /// The width of new strokes and outlines.
    pub width: Width,
    /// How new rectangles and ellipses are filled.
    pub fill: Fill,
    /// The font size of new texts.
    pub font_size: f32,
    /// The colour of new notes.
    pub note_color: Color,
}

impl Default for ToolSettings {
    /// The pen, in ink, medium width, shapes unfilled.
    fn default() -> Self {
        Self {
            tool: Tool::Pen,
            color: PALETTE[0].color,
            width: Width::default(),
            fill: Fill::None,
            font_size: DEFAULT_FONT_SIZE,
            note_color: NOTE_PALETTE[0].color,
        }
    }
}

impl ToolSettings {
    /// The style a stroke begun now gets: the highlighter's is wide and
    /// translucent.
    #[must_use]
    pub fn stroke_style(&self) -> StrokeStyle {
        let width = self.width.canvas_units();
        if self.tool == Tool::Highlighter {
            StrokeStyle {
                color: Color {
                    a: HIGHLIGHTER_ALPHA,
                    ..self.color
                },
                width: width * HIGHLIGHTER_SCALE,
            }
        } else {
            StrokeStyle {
                color: self.color,
                width,
            }
        }
    }

    /// A new shape of `kind` between `from` and `to`.
    #[must_use]
    pub fn shape(&self, kind: ObjectKind, from: Point, to: Point) -> ObjectData {
        ObjectData {
            kind,
            points: vec![from, to],
            color: self.color,
            width: self.width.canvas_units(),
            fill: self.fill,
            text: String::new(),
            font_size: self.font_size,
        }
    }

    /// A new note on `paper` (two opposite corners) with `content` on it, in
    /// the note colour.
    #[must_use]
    pub fn note(&self, paper: tabula_shared::Rect, content: String) -> ObjectData {
        ObjectData {
            kind: ObjectKind::Note,
            points: vec![paper.min, paper.max],
            color: self.note_color,
            width: Width::default().canvas_units(),
            fill: Fill::None,
            text: content,
            font_size: DEFAULT_FONT_SIZE,
        }
    }

    /// A new text at `at`.
    #[must_use]
    pub fn text(&self, at: Point, content: String) -> ObjectData {
        ObjectData {
            kind: ObjectKind::Text,
            points: vec![at],
            color: self.color,
            width: self.width.canvas_units(),
            fill: Fill::None,
            text: content,
            font_size: self.font_size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_a_medium_ink_pen() {
        let settings = ToolSettings::default();
        assert_eq!(settings.tool, Tool::Pen);
        assert_eq!(settings.stroke_style().color, PALETTE[0].color);
        assert!((settings.stroke_style().width - 4.0).abs() < f32::EPSILON);
    }

    #[test]
    fn the_highlighter_is_wide_and_translucent_and_every_tool_has_its_own_key() {
        let pen = ToolSettings::default();
        let highlighter = ToolSettings {
            tool: Tool::Highlighter,
            ..pen
        };
        assert!(highlighter.stroke_style().width > pen.stroke_style().width * 2.0);
        assert!(highlighter.stroke_style().color.a < 128);
        for (i, a) in Tool::ALL.iter().enumerate() {
            for b in &Tool::ALL[i + 1..] {
                assert_ne!(a.shortcut(), b.shortcut(), "{a:?} and {b:?}");
            }
        }
    }

    #[test]
    fn widths_grow_and_palette_colours_differ() {
        let widths: Vec<f32> = Width::ALL.iter().map(|w| w.canvas_units()).collect();
        assert!(widths.windows(2).all(|w| w[0] < w[1]));
        for palette in [&PALETTE, &NOTE_PALETTE] {
            for (i, a) in palette.iter().enumerate() {
                for b in &palette[i + 1..] {
                    assert_ne!(a.color, b.color, "{} and {}", a.name, b.name);
                }
            }
        }
        // Every note colour takes the dark ink.
        for swatch in NOTE_PALETTE {
            assert_eq!(
                crate::note::ink_on(swatch.color),
                PALETTE[0].color,
                "{}",
                swatch.name
            );
        }
    }
}
