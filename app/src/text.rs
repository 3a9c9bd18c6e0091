//! A text as the board shows it, as glyphs and their outlines: what the PNG
//! fills and the SVG writes, and how wide a note's lines are. A leaf: it
//! imports nothing of the app.
//!
//! The board draws a text with egui (`canvas::render::paint_text`): each line
//! (a `'\n'` ends one) laid out on its own, its top [`LINE_HEIGHT_EM`] font
//! sizes below the one before, in egui's proportional family: Ubuntu Light,
//! then, for what it lacks, egui's fallback fonts in egui's order (the icons
//! of `egui::special_emojis`, Noto Emoji, emoji-icon-font), each at its own
//! scale and centred on the line as egui centres it; shaped with harfrust
//! (kerning, ligatures) one run of one font at a time, as egui shapes it. This
//! module lays a text out the same way, from the same font files and the same
//! font definitions (egui's `FontDefinitions::default()`, which the app's
//! context uses: the app sets no fonts of its own), and asks egui which font
//! each character is drawn from. Glyph positions are not rounded to pixels as
//! egui rounds them on screen: a picture may be drawn at any scale.
//!
//! The SVG gets the outlines rather than a `<text>` element with the fonts
//! embedded (`@font-face` with the files as base64 data), because a viewer
//! lays `<text>` out itself: with its own fallback between the fonts it is
//! given, knowing nothing of egui's per-font scale (Noto Emoji at 81 %) or of
//! how egui centres a fallback glyph on the line; and librsvg, Inkscape and
//! most converters ignore `@font-face` altogether and use whatever font is
//! installed. Embedding would also put whole font files (Ubuntu Light alone is
//! 360 KB, a third more as base64) into every drawing with a word in it, as
//! nothing here subsets a font. Outlines look the same in every viewer, weigh
//! what the glyphs drawn weigh, and are exactly the PNG's. What is lost,
//! selecting and searching the text in a viewer, is made up for in part by the
//! SVG keeping each text's string in a `<title>`.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use egui::epaint::text::{FontData, FontDefinitions, Fonts, TextOptions};
use egui::{FontFamily, Pos2, pos2};
use harfrust::{BufferFlags, ShapeOptions, ShaperData, UnicodeBuffer};
use skrifa::instance::{LocationRef, Size};
use skrifa::outline::{DrawSettings, OutlinePen};
use skrifa::{FontRef, GlyphId, MetadataProvider as _};
use tabula_shared::object::LINE_HEIGHT_EM;
use unicode_segmentation::UnicodeSegmentation as _;

/// One command of an outline, in the units the text was laid out in (canvas
/// units), y down.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PathEl {
    /// Starts a contour at a point.
    MoveTo(Pos2),
    /// A straight line to a point.
    LineTo(Pos2),
    /// A quadratic Bézier curve: its control point, then where it ends.
    QuadTo(Pos2, Pos2),
    /// A cubic Bézier curve: its two control points, then where it ends.
    CubicTo(Pos2, Pos2, Pos2),
    /// Closes the contour back to where it started.
    Close,
}

/// One glyph of a laid-out text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlacedGlyph {
    /// The character it stands for (the first of its cluster): for breaking
    /// lines where egui breaks them, for tests and for logs.
    pub chr: char,
    /// Where its cluster starts in the text, in bytes.
    pub byte: usize,
    /// The font it is drawn from, by its place in egui's proportional family
    /// (0 is Ubuntu Light): see [`font_name`].
    pub font: usize,
    /// The glyph in that font.
    glyph: GlyphId,
    /// Where its origin sits (the left end of its baseline).
    pub origin: Pos2,
    /// The size it is drawn at: the text's font size times egui's scale for
    /// this font.
    pub size: f32,
    /// How far the next glyph is to the right of it.
    pub advance: f32,
}

/// One font of egui's proportional family, read as egui reads it.
struct Face {
    /// Its name in egui's font definitions (`Ubuntu-Light`, `NotoEmoji-Regular`…).
    name: String,
    /// The font file, and egui's tweaks for it (its scale, a vertical offset).
    data: Arc<FontData>,
    /// The font's shaping tables as harfrust reads them, parsed once.
    shaper: ShaperData,
    /// Its units per em, for scaling its outlines and advances to a size.
    units_per_em: f32,
    /// How far it reaches above its baseline, in font units: where egui puts
    /// the baseline below a line's top.
    ascent: f32,
    /// How far it reaches below the baseline (negative) and the gap it wants
    /// between lines, in font units: with the ascent, its line's height, by
    /// which egui centres a fallback font's glyphs on the line.
    descent_and_gap: f32,
}

impl Face {
    /// Reads the font called `name`.
    fn new(name: String, data: Arc<FontData>) -> Result<Self, skrifa::raw::ReadError> {
        let font = FontRef::from_index(data.bytes(), data.index)?;
        let metrics = font.metrics(Size::unscaled(), LocationRef::default());
        Ok(Self {
            shaper: ShaperData::new(&font),
            units_per_em: f32::from(metrics.units_per_em.max(1)),
            ascent: metrics.ascent,
            descent_and_gap: metrics.leading - metrics.descent,
            name,
            data,
        })
    }

    /// The font itself (cheap: it only finds the tables in the file).
    fn font(&self) -> Option<FontRef<'_>> {
        FontRef::from_index(self.data.bytes(), self.data.index).ok()
    }

    /// The size this font's glyphs are drawn at in a text of `size`.
    fn size(&self, size: f32) -> f32 {
        size * self.data.tweak.scale
    }

    /// Font units to canvas units in a text of `size`.
    fn scale(&self, size: f32) -> f32 {
        self.size(size) / self.units_per_em
    }

    /// The height of a line of this font alone in a text of `size`.
    fn line_height(&self, size: f32) -> f32 {
        (self.ascent + self.descent_and_gap) * self.scale(size)
    }
}

/// egui's proportional family: its fonts in egui's order, and which of them
/// egui draws each character from.
struct Family {
    /// The fonts, Ubuntu Light first, then the fallbacks in the order egui
    /// tries them.
    faces: Vec<Face>,
    /// The characters the first font lacks and a fallback has, with the
    /// fallback egui draws them from (by its place in `faces`). Any other
    /// character is the first font's, which draws a box ("tofu") for what no
    /// font has, as egui does.
    fallback: HashMap<char, usize>,
}

/// The family, read once: the fonts are parsed and the fallbacks found on the
/// first text exported.
static FAMILY: LazyLock<Family> = LazyLock::new(Family::egui_proportional);

impl Family {
    /// egui's proportional family, from egui's default font definitions.
    fn egui_proportional() -> Self {
        let definitions = FontDefinitions::default();
        let mut faces = Vec::new();
        for name in definitions
            .families
            .get(&FontFamily::Proportional)
            .into_iter()
            .flatten()
        {
            let Some(data) = definitions.font_data.get(name) else {
                tracing::warn!(font = %name, "egui names a font it has no data for; text is exported without it");
                continue;
            };
            match Face::new(name.clone(), Arc::clone(data)) {
                Ok(face) => faces.push(face),
                Err(error) => {
                    tracing::warn!(font = %name, %error, "cannot read one of egui's fonts; text is exported without it");
                }
            }
        }
        // Ask egui which font it draws each character from: the first font in
        // the family that has it.
        let mut fonts = Fonts::new(TextOptions::default(), definitions);
        let fallback = fonts
            .with_pixels_per_point(1.0)
            .characters(&FontFamily::Proportional)
            .iter()
            .filter_map(|(chr, names)| {
                let first = names.first()?;
                let font = faces.iter().position(|face| &face.name == first)?;
                (font > 0).then_some((*chr, font))
            })
            .collect();
        tracing::debug!(
            fonts = faces.len(),
            "read egui's proportional fonts for exporting text"
        );
        Self { faces, fallback }
    }

    /// The font egui draws the grapheme cluster `cluster` from (by its first
    /// character, as egui decides).
    fn font_for(&self, cluster: &str) -> usize {
        cluster
            .chars()
            .next()
            .and_then(|chr| self.fallback.get(&chr).copied())
            .unwrap_or(0)
    }
}

/// The name egui gives the font at `font` in its proportional family
/// (`Ubuntu-Light`, `NotoEmoji-Regular`…), if there is one.
#[must_use]
pub fn font_name(font: usize) -> Option<&'static str> {
    FAMILY.faces.get(font).map(|face| face.name.as_str())
}

/// The glyphs of `text` (lines split at `'\n'`) laid out as the board lays it
/// out with its top-left corner at `top_left`, at `size` (canvas units).
#[must_use]
pub fn layout(text: &str, top_left: Pos2, size: f32) -> Vec<PlacedGlyph> {
    let family = &*FAMILY;
    let mut glyphs = Vec::new();
    let Some(primary) = family.faces.first() else {
        return glyphs;
    };
    let mut buffer = UnicodeBuffer::new();
    let mut line_start = 0;
    for (i, line) in text.split('\n').enumerate() {
        let line_byte = line_start;
        line_start += line.len() + 1;
        let top = top_left.y + i as f32 * size * LINE_HEIGHT_EM;
        let mut x = top_left.x;
        let runs = runs(family, line);
        let count = runs.len();
        for (r, (font, range)) in runs.into_iter().enumerate() {
            let face = &family.faces[font];
            let Some(font_ref) = face.font() else {
                continue;
            };
            // egui's baseline for this font: its ascent below the top, its line
            // centred on the first font's, and egui's offset for it.
            let tweak = &face.data.tweak;
            let baseline = top
                + face.ascent * face.scale(size)
                + 0.5 * (primary.line_height(size) - face.line_height(size))
                + face.size(size) * tweak.y_offset_factor
                + tweak.y_offset;
            let scale = face.scale(size);
            let run_start = line_byte + range.start;
            let run = &line[range];
            let mut flags = BufferFlags::empty();
            if r == 0 {
                flags |= BufferFlags::BEGINNING_OF_TEXT;
            }
            if r + 1 == count {
                flags |= BufferFlags::END_OF_TEXT;
            }
            buffer.set_flags(flags);
            buffer.push_str(run);
            buffer.guess_segment_properties();
            let shaped = face
                .shaper
                .shaper(&font_ref)
                .build()
                .shape(buffer, ShapeOptions::new());
            let mut cluster = None;
            for (info, pos) in shaped.glyph_infos().iter().zip(shaped.glyph_positions()) {
                let chr = run
                    .get(info.cluster as usize..)
                    .and_then(|rest| rest.chars().next())
                    .unwrap_or('\u{FFFD}');
                let first_in_cluster = cluster != Some(info.cluster);
                cluster = Some(info.cluster);
                let mut glyph = GlyphId::new(info.glyph_id);
                let mut advance = pos.x_advance as f32 * scale;
                // egui draws tabs and thin spaces as spaces of its own widths.
                let spaces = match chr {
                    '\t' => Some(tweak.tab_size),
                    '\u{2009}' | '\u{202F}' => Some(tweak.thin_space_width),
                    _ => None,
                };
                if let Some(spaces) = spaces {
                    let (space, width) = space(&font_ref);
                    glyph = space;
                    advance = spaces * width * scale;
                } else if glyph == GlyphId::NOTDEF && (!first_in_cluster || invisible(chr)) {
                    // egui draws nothing for a cluster's other characters that
                    // the font lacks, nor for its invisible ones.
                    continue;
                }
                glyphs.push(PlacedGlyph {
                    chr,
                    byte: run_start + info.cluster as usize,
                    font,
                    glyph,
                    origin: pos2(
                        x + pos.x_offset as f32 * scale,
                        baseline - pos.y_offset as f32 * scale,
                    ),
                    size: face.size(size),
                    advance,
                });
                x += advance;
            }
            buffer = shaped.clear();
        }
    }
    glyphs
}

/// The outlines of `text` laid out with its top-left corner at `top_left`, at
/// `size`: every glyph's contours, to be filled with the non-zero rule.
#[must_use]
pub fn outlines(text: &str, top_left: Pos2, size: f32) -> Vec<PathEl> {
    let mut pen = Pen {
        path: Vec::new(),
        origin: top_left,
    };
    for glyph in layout(text, top_left, size) {
        let Some(face) = FAMILY.faces.get(glyph.font) else {
            continue;
        };
        let Some(outline) = face
            .font()
            .and_then(|font| font.outline_glyphs().get(glyph.glyph))
        else {
            // A space, or a glyph with no outline: nothing to draw.
            continue;
        };
        pen.origin = glyph.origin;
        let settings = DrawSettings::unhinted(Size::new(glyph.size), LocationRef::default());
        if let Err(error) = outline.draw(settings, &mut pen) {
            tracing::debug!(chr = %glyph.chr, %error, "a glyph could not be drawn; exported without it");
        }
    }
    pen.path
}

/// The runs of `line` drawn from one font each, as egui cuts them: its
/// grapheme clusters, each from the font of its first character, the
/// neighbours from the same font together. Each is a font and a byte range.
fn runs(family: &Family, line: &str) -> Vec<(usize, std::ops::Range<usize>)> {
    let mut runs: Vec<(usize, std::ops::Range<usize>)> = Vec::new();
    for (start, cluster) in line.grapheme_indices(true) {
        let font = family.font_for(cluster);
        let end = start + cluster.len();
        match runs.last_mut() {
            Some((last, range)) if *last == font => range.end = end,
            _ => runs.push((font, start..end)),
        }
    }
    runs
}

/// A space's glyph in `font` and its advance in font units: egui draws tabs
/// and thin spaces as spaces, sized by it.
fn space(font: &FontRef<'_>) -> (GlyphId, f32) {
    let glyph = font.charmap().map(' ').unwrap_or(GlyphId::NOTDEF);
    let advance = font
        .glyph_metrics(Size::unscaled(), LocationRef::default())
        .advance_width(glyph)
        .unwrap_or(0.0);
    (glyph, advance)
}

/// Characters egui never draws (a carriage return, zero-width and
/// direction marks), from epaint's `text::unicode::invisible_char`.
fn invisible(chr: char) -> bool {
    matches!(
        chr,
        '\r' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}' | '\u{FEFF}'
    )
}

/// Turns glyph outlines (y up, from the baseline) into path commands placed on
/// the text's baseline (y down).
struct Pen {
    /// The commands so far.
    path: Vec<PathEl>,
    /// Where the glyph being drawn has its origin.
    origin: Pos2,
}

impl Pen {
    /// A point of the glyph, placed.
    fn at(&self, x: f32, y: f32) -> Pos2 {
        pos2(self.origin.x + x, self.origin.y - y)
    }
}

impl OutlinePen for Pen {
    fn move_to(&mut self, x: f32, y: f32) {
        self.path.push(PathEl::MoveTo(self.at(x, y)));
    }

    fn line_to(&mut self, x: f32, y: f32) {
        self.path.push(PathEl::LineTo(self.at(x, y)));
    }

    fn quad_to(&mut self, cx0: f32, cy0: f32, x: f32, y: f32) {
        self.path
            .push(PathEl::QuadTo(self.at(cx0, cy0), self.at(x, y)));
    }

    fn curve_to(&mut self, cx0: f32, cy0: f32, cx1: f32, cy1: f32, x: f32, y: f32) {
        self.path.push(PathEl::CubicTo(
            self.at(cx0, cy0),
            self.at(cx1, cy1),
            self.at(x, y),
        ));
    }

    fn close(&mut self) {
        self.path.push(PathEl::Close);
    }
}

#[cfg(test)]
mod tests {
    use egui::epaint::text::{FontDefinitions, Fonts, TextOptions};
    use egui::{Color32, FontId};

    use super::*;

    /// egui's own layout of one line of `text` at `size`, as the board gets it:
    /// each glyph's character and where its baseline starts, and the line's
    /// width.
    fn egui_layout(text: &str, size: f32) -> (Vec<(char, Pos2)>, f32) {
        let mut fonts = Fonts::new(TextOptions::default(), FontDefinitions::default());
        let galley = fonts.with_pixels_per_point(1.0).layout_no_wrap(
            text.to_owned(),
            FontId::proportional(size),
            Color32::BLACK,
        );
        let row = &galley.rows[0];
        let glyphs = row
            .glyphs
            .iter()
            .map(|g| (g.chr, row.pos + g.pos.to_vec2()))
            .collect();
        (glyphs, row.size.x)
    }

    #[test]
    fn each_character_comes_from_the_font_egui_draws_it_from() {
        let font = |text: &str| {
            let glyphs = layout(text, Pos2::ZERO, 20.0);
            font_name(glyphs[0].font).unwrap()
        };
        assert_eq!(font("a"), "Ubuntu-Light");
        // In both Noto Emoji and emoji-icon-font: egui tries Noto Emoji first.
        assert_eq!(font("\u{2714}"), "NotoEmoji-Regular");
        // ✆ is only in emoji-icon-font.
        assert_eq!(font("\u{2706}"), "emoji-icon-font");
        assert_eq!(
            font(egui::special_emojis::GITHUB.encode_utf8(&mut [0; 4])),
            "egui-icons"
        );
        // In no font at all: Ubuntu Light's box for a missing glyph.
        assert_eq!(font("\u{10FFFD}"), "Ubuntu-Light");
    }

    #[test]
    fn a_line_is_laid_out_where_egui_lays_it_out() {
        // Kerning (AV, Ta), two fallback fonts of their own sizes, a tab.
        let text = "Tabula AVAT \u{2714} ok \u{2706}\tend";
        let size = 40.0;
        let ours = layout(text, Pos2::ZERO, size);
        let (theirs, width) = egui_layout(text, size);
        assert_eq!(
            ours.iter().map(|g| g.chr).collect::<String>(),
            theirs.iter().map(|g| g.0).collect::<String>()
        );
        for (mine, (chr, at)) in ours.iter().zip(&theirs) {
            // egui rounds glyphs to whole pixels; this layout does not.
            assert!(
                mine.origin.distance(*at) < 1.0,
                "{chr:?}: {:?} here, {at:?} in egui",
                mine.origin
            );
        }
        let last = ours.last().unwrap();
        assert!((last.origin.x + last.advance - width).abs() < 1.0);
        // A ligature ("ffi" is one glyph in Ubuntu Light) makes the line as
        // long as egui's.
        let ligature = layout("office", Pos2::ZERO, size);
        let (_, width) = egui_layout("office", size);
        assert!(ligature.len() < 6, "{ligature:?}");
        let end = ligature
            .iter()
            .map(|g| g.origin.x + g.advance)
            .fold(0.0, f32::max);
        assert!((end - width).abs() < 1.0, "{end} vs {width}");
    }

    #[test]
    fn lines_are_a_line_height_apart_and_glyphs_have_outlines() {
        let glyphs = layout("a\nb\r\n\nc", pos2(10.0, 20.0), 20.0);
        let tops: Vec<(char, f32)> = glyphs
            .iter()
            .filter(|g| g.chr != '\r')
            .map(|g| (g.chr, g.origin.y))
            .collect();
        assert_eq!(tops.len(), 3, "{tops:?}");
        // Ubuntu Light has a glyph for a carriage return, which egui draws:
        // an empty one.
        assert!(outlines("\r", Pos2::ZERO, 20.0).is_empty());
        let step = 20.0 * LINE_HEIGHT_EM;
        assert!((tops[1].1 - tops[0].1 - step).abs() < 1.0e-3, "{tops:?}");
        assert!(
            (tops[2].1 - tops[0].1 - 3.0 * step).abs() < 1.0e-3,
            "{tops:?}"
        );
        assert!(
            glyphs
                .iter()
                .filter(|g| g.chr != '\r')
                .all(|g| (g.origin.x - 10.0).abs() < 1.0e-3),
            "{glyphs:?}"
        );
        let outlines = outlines("a", Pos2::ZERO, 20.0);
        assert!(matches!(outlines.first(), Some(PathEl::MoveTo(_))));
        assert!(outlines.contains(&PathEl::Close));
    }
}
