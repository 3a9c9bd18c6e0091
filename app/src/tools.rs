//! Tools and their settings: what a press on the canvas does, in which colour and
//! how wide.
//!
//! The pen is the only tool today. [`Tool`] is an enum so that a highlighter,
//! shapes, an eraser and a selection tool each slot in as a variant with a name, a
//! shortcut and a cursor; the canvas matches on it to decide what a drag means.

use egui::{CursorIcon, Key};
use tabula_shared::{Color, StrokeStyle};

/// What a primary press-and-drag on the canvas does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Tool {
    /// Freehand ink that follows the pointer.
    #[default]
    Pen,
}

impl Tool {
    /// Every tool, in toolbar order.
    pub const ALL: [Self; 1] = [Self::Pen];

    /// The name shown in tooltips.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Pen => "Pen",
        }
    }

    /// The key that selects it.
    #[must_use]
    pub fn shortcut(self) -> Key {
        match self {
            Self::Pen => Key::P,
        }
    }

    /// The pointer shape over the canvas while it is selected.
    #[must_use]
    pub fn cursor(self) -> CursorIcon {
        match self {
            Self::Pen => CursorIcon::Crosshair,
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

/// The current tool and how it inks; what the toolbar edits and the canvas reads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ToolSettings {
    /// What a primary drag on the canvas does.
    pub tool: Tool,
    /// The ink of new strokes.
    pub color: Color,
    /// The width of new strokes.
    pub width: Width,
}

impl Default for ToolSettings {
    /// The pen, in ink, medium width.
    fn default() -> Self {
        Self {
            tool: Tool::Pen,
            color: PALETTE[0].color,
            width: Width::default(),
        }
    }
}

impl ToolSettings {
    /// The style a stroke begun now gets.
    #[must_use]
    pub fn stroke_style(&self) -> StrokeStyle {
        StrokeStyle {
            color: self.color,
            width: self.width.canvas_units(),
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
    fn widths_grow_and_palette_colours_differ() {
        let widths: Vec<f32> = Width::ALL.iter().map(|w| w.canvas_units()).collect();
        assert!(widths.windows(2).all(|w| w[0] < w[1]));
        for (i, a) in PALETTE.iter().enumerate() {
            for b in &PALETTE[i + 1..] {
                assert_ne!(a.color, b.color, "{} and {}", a.name, b.name);
            }
        }
    }
}
