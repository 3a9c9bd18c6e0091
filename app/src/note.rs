//! A sticky note as the screen, the PNG and the SVG draw it: its paper, its
//! shadow, and its text wrapped and sized to fit the paper.
//!
//! A note's text is set in the largest font, at most [`MAX_FONT`] of the
//! note's shorter side, whose lines, wrapped to the paper less its
//! [`PADDING`], fit the paper (a little smaller, in fact, so that no line
//! ends exactly at the edge); typing more shrinks the font, deleting or
//! making the note bigger grows it again. Lines are broken where egui breaks
//! them (after a space, else a dash, else punctuation, else anywhere), so
//! that the lines typed in the editor (an egui text edit) are those the
//! board then shows, and centred, as on paper notes.
//!
//! Widths come from [`crate::text`], the shaping every drawing of a text
//! uses, measured once per paragraph at a font size of 1 and scaled, so the
//! same note breaks into the same lines at every zoom and in every export.
//! Each thread keeps the fits it worked out, by text and area, so a frame
//! of an unchanged board measures nothing.
//!
//! A leaf beside [`crate::outline`]: it uses [`crate::text`] and nothing
//! else of the app.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;
use std::rc::Rc;

use egui::{Pos2, Rect, Vec2, pos2, vec2};
use tabula_shared::object::{LINE_HEIGHT_EM, note_shadow};
use tabula_shared::{Color, Object};

use crate::text;

/// The margin between a note's edge and its text, as a part of its shorter
/// side.
pub const PADDING: f32 = 0.08;
/// The largest font of a note's text, as a part of its shorter side: a word
/// or two stand out, as on a paper note.
pub const MAX_FONT: f32 = 0.17;
/// The smallest font of a note's text, as a part of its shorter side: small
/// enough for the longest text a note may hold
/// ([`tabula_shared::caps::MAX_NOTE_TEXT_BYTES`]); a text that does not fit
/// even so loses the lines past the paper's bottom.
pub const MIN_FONT: f32 = 0.004;
/// How many steps the shadow fades in, each a little lower than the one
/// before.
const SHADOW_STEPS: u8 = 3;
/// How dark each step of the shadow is.
const SHADOW_ALPHA: u8 = 16;
/// How many fits each thread keeps before it starts again.
const FITS_KEPT: usize = 4096;
/// How many font sizes the fit tries between the smallest and the largest.
const FIT_STEPS: usize = 20;
/// The part of the largest font that fits which a note's text is set in:
/// the largest one puts some line exactly at the paper's width, where
/// egui's text editor, placing glyphs on whole pixels, would break it
/// otherwise than the board does.
const FIT_SLACK: f32 = 0.97;

/// A note's text on a dark paper.
const LIGHT_INK: Color = Color::rgb(0xff, 0xff, 0xff);
/// A note's text on a light paper (the palette's ink).
const DARK_INK: Color = Color::rgb(0x1e, 0x1e, 0x24);

/// Everything a drawing of a note needs, in canvas units.
#[derive(Clone, Debug, PartialEq)]
pub struct NoteLayout {
    /// The paper.
    pub paper: Rect,
    /// Its colour.
    pub color: Color,
    /// The shadow below it, as rectangles drawn before the paper, each in
    /// its colour.
    pub shadow: Vec<(Rect, Color)>,
    /// The text's colour: dark on light paper, white on dark.
    pub ink: Color,
    /// The font size the text fits the paper at.
    pub font_size: f32,
    /// The lines, each where its top-left corner sits.
    pub lines: Vec<NoteLine>,
}

/// One line of a note's text.
#[derive(Clone, Debug, PartialEq)]
pub struct NoteLine {
    /// What it says (without the spaces it was broken after).
    pub text: String,
    /// Its top-left corner.
    pub top_left: Pos2,
}

/// `object` (a note) as it is drawn.
#[must_use]
pub fn layout(object: &Object) -> NoteLayout {
    let frame = object.frame();
    let paper = Rect::from_min_max(
        pos2(frame.min.x, frame.min.y),
        pos2(frame.max.x, frame.max.y),
    );
    layout_in(paper, object.data.color, &object.data.text)
}

/// A note of paper `paper` and colour `color` with `text` on it, as it is
/// drawn.
#[must_use]
pub fn layout_in(paper: Rect, color: Color, text: &str) -> NoteLayout {
    let area = text_area(paper);
    let fit = fit(text, area.size());
    let block = fit.lines.len() as f32 * fit.font_size * LINE_HEIGHT_EM;
    let top = area.min.y + ((area.height() - block) * 0.5).max(0.0);
    let lines = fit
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| NoteLine {
            text: text[line.bytes.clone()].trim_end().to_owned(),
            top_left: pos2(
                area.center().x - line.width * fit.font_size * 0.5,
                top + i as f32 * fit.font_size * LINE_HEIGHT_EM,
            ),
        })
        .collect();
    NoteLayout {
        paper,
        color,
        shadow: shadow(paper),
        ink: ink_on(color),
        font_size: fit.font_size,
        lines,
    }
}

/// The part of `paper` the text is set in: all of it but the padding.
#[must_use]
pub fn text_area(paper: Rect) -> Rect {
    paper.shrink(paper.width().min(paper.height()) * PADDING)
}

/// The colour a note's text is written in on paper of `color`: the
/// palette's ink where it reads well, else white.
#[must_use]
pub fn ink_on(color: Color) -> Color {
    let luma = 0.299 * f32::from(color.r) + 0.587 * f32::from(color.g) + 0.114 * f32::from(color.b);
    if luma > 140.0 || color.a < 128 {
        DARK_INK
    } else {
        LIGHT_INK
    }
}

/// The steps of the shadow under `paper`: each the paper lowered a little
/// more and narrowed a little, reaching [`note_shadow`] below it in all.
fn shadow(paper: Rect) -> Vec<(Rect, Color)> {
    let frame = tabula_shared::Rect::from_corners(
        tabula_shared::Point::new(paper.min.x, paper.min.y),
        tabula_shared::Point::new(paper.max.x, paper.max.y),
    );
    let reach = note_shadow(frame);
    (1..=SHADOW_STEPS)
        .rev()
        .map(|step| {
            let drop = reach * f32::from(step) / f32::from(SHADOW_STEPS);
            let rect = paper
                .translate(vec2(0.0, drop))
                .shrink2(vec2(drop * 0.5, 0.0));
            (
                rect,
                Color {
                    r: 0,
                    g: 0,
                    b: 0,
                    a: SHADOW_ALPHA,
                },
            )
        })
        .collect()
}

/// A text fitted into an area: its font size and its lines.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    /// The font size, in the area's units.
    pub font_size: f32,
    /// The lines, top first.
    pub lines: Vec<Line>,
}

/// One line of a fitted text.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Where it is in the text, the spaces it was broken after included.
    pub bytes: Range<usize>,
    /// How wide it is at a font size of 1, without those spaces.
    pub width: f32,
}

thread_local! {
    /// The fits worked out on this thread, by text and area (as bits).
    static FITS: RefCell<HashMap<(String, u32, u32), Rc<Fit>>> = RefCell::new(HashMap::new());
}

/// `text` wrapped into `area` (width and height) in the largest font, from
/// [`MIN_FONT`] to [`MAX_FONT`] of the area's shorter side (padding added
/// back), whose lines all fit it.
#[must_use]
pub fn fit(text: &str, area: Vec2) -> Rc<Fit> {
    let key = (text.to_owned(), area.x.to_bits(), area.y.to_bits());
    if let Some(fit) = FITS.with_borrow(|fits| fits.get(&key).cloned()) {
        return fit;
    }
    let fit = Rc::new(fit_uncached(text, area));
    FITS.with_borrow_mut(|fits| {
        if fits.len() >= FITS_KEPT {
            fits.clear();
        }
        fits.insert(key, Rc::clone(&fit));
    });
    fit
}

/// [`fit`], worked out.
fn fit_uncached(text: &str, area: Vec2) -> Fit {
    let side = area.x.min(area.y) / (1.0 - 2.0 * PADDING);
    let paragraphs = measure(text);
    let (mut low, mut high) = (side * MIN_FONT, side * MAX_FONT);
    if let Some(lines) = lines_at(&paragraphs, high, area) {
        return Fit {
            font_size: high,
            lines,
        };
    }
    let mut best = None;
    for _ in 0..FIT_STEPS {
        let tried = 0.5 * (low + high);
        match lines_at(&paragraphs, tried, area) {
            Some(lines) => {
                best = Some(Fit {
                    font_size: tried,
                    lines,
                });
                low = tried;
            }
            None => high = tried,
        }
    }
    let best = best.map(|fit| {
        let eased = fit.font_size * FIT_SLACK;
        match lines_at(&paragraphs, eased, area) {
            Some(lines) => Fit {
                font_size: eased,
                lines,
            },
            None => fit,
        }
    });
    best.unwrap_or_else(|| {
        // Too much text even in the smallest font: the lines that fit.
        let smallest = side * MIN_FONT;
        let mut lines = wrap_all(&paragraphs, area.x / smallest);
        let rows = (area.y / (smallest * LINE_HEIGHT_EM)).floor().max(1.0) as usize;
        lines.truncate(rows);
        Fit {
            font_size: smallest,
            lines,
        }
    })
}

/// The lines of `paragraphs` at font `size` if they fit `area`.
fn lines_at(paragraphs: &[Paragraph], size: f32, area: Vec2) -> Option<Vec<Line>> {
    let max = area.x / size;
    let lines = wrap_all(paragraphs, max);
    let tall = lines.len() as f32 * size * LINE_HEIGHT_EM;
    let fits = tall <= area.y && lines.iter().all(|line| line.width <= max * 1.0001);
    fits.then_some(lines)
}

/// Every paragraph's lines, at most `max` wide at a font size of 1 where
/// they can be broken.
fn wrap_all(paragraphs: &[Paragraph], max: f32) -> Vec<Line> {
    let mut lines = Vec::new();
    for paragraph in paragraphs {
        wrap(paragraph, max, &mut lines);
    }
    lines
}

/// One glyph of a paragraph at a font size of 1.
#[derive(Clone, Copy, Debug)]
struct Glyph {
    /// Where its cluster starts in the text.
    byte: usize,
    /// Its (first) character, for where a line may break.
    chr: char,
    /// Where it starts from the paragraph's start.
    x: f32,
    /// How wide it is.
    advance: f32,
}

/// A paragraph (a line of the text as typed) measured at a font size of 1.
#[derive(Clone, Debug)]
struct Paragraph {
    /// Where it is in the text.
    bytes: Range<usize>,
    /// Its glyphs, in order.
    glyphs: Vec<Glyph>,
}

/// The paragraphs of `text` (split at `'\n'`), measured.
fn measure(text: &str) -> Vec<Paragraph> {
    let mut paragraphs = Vec::new();
    let mut start = 0;
    for line in text.split('\n') {
        let mut x = 0.0;
        let glyphs = text::layout(line, Pos2::ZERO, 1.0)
            .into_iter()
            .map(|g| {
                let glyph = Glyph {
                    byte: start + g.byte,
                    chr: g.chr,
                    x,
                    advance: g.advance,
                };
                x += g.advance;
                glyph
            })
            .collect();
        paragraphs.push(Paragraph {
            bytes: start..start + line.len(),
            glyphs,
        });
        start += line.len() + 1;
    }
    paragraphs
}

/// The places a line may break, as egui ranks them: the last glyph of each
/// kind seen since the line began.
#[derive(Clone, Copy, Debug, Default)]
struct Breaks {
    /// After a space (not a no-break space): the best.
    space: Option<usize>,
    /// After a dash.
    dash: Option<usize>,
    /// After other punctuation (a URL's dots and slashes).
    punctuation: Option<usize>,
    /// After anything: a word longer than the line.
    any: Option<usize>,
}

impl Breaks {
    /// Notes glyph `i`, a `chr`, as a place to break after.
    fn add(&mut self, i: usize, chr: char) {
        if chr.is_whitespace() && chr != '\u{A0}' {
            self.space = Some(i);
        } else if chr == '-' {
            self.dash = Some(i);
        } else if chr.is_ascii_punctuation() {
            self.punctuation = Some(i);
        }
        self.any = Some(i);
    }

    /// The best place to break, if any.
    fn best(&self) -> Option<usize> {
        self.space.or(self.dash).or(self.punctuation).or(self.any)
    }
}

/// Adds `paragraph`'s lines, at most `max` wide where it can be broken, to
/// `lines`: egui's line breaking (`epaint`'s `line_break`), on glyphs
/// measured at a font size of 1.
fn wrap(paragraph: &Paragraph, max: f32, lines: &mut Vec<Line>) {
    let glyphs = &paragraph.glyphs;
    let mut start = 0;
    let mut start_x = 0.0;
    let mut breaks = Breaks::default();
    for (i, glyph) in glyphs.iter().enumerate() {
        if glyph.x + glyph.advance - start_x > max
            && let Some(last) = breaks.best()
        {
            lines.push(line(paragraph, start..last + 1));
            start = last + 1;
            start_x = glyphs[start].x;
            breaks = Breaks::default();
            // The glyphs between the break and this one may be broken after.
            for (j, earlier) in glyphs.iter().enumerate().take(i).skip(start) {
                breaks.add(j, earlier.chr);
            }
        }
        breaks.add(i, glyph.chr);
    }
    if start < glyphs.len() || glyphs.is_empty() {
        lines.push(line(paragraph, start..glyphs.len()));
    }
}

/// The line of `paragraph`'s glyphs `range`.
fn line(paragraph: &Paragraph, range: Range<usize>) -> Line {
    let glyphs = &paragraph.glyphs[range.clone()];
    let byte_of = |i: usize| {
        paragraph
            .glyphs
            .get(i)
            .map_or(paragraph.bytes.end, |g| g.byte)
    };
    let first_x = glyphs.first().map_or(0.0, |g| g.x);
    let width = glyphs
        .iter()
        .rev()
        .find(|g| !g.chr.is_whitespace())
        .map_or(0.0, |g| g.x + g.advance - first_x);
    let start = if range.start == 0 {
        paragraph.bytes.start
    } else {
        byte_of(range.start)
    };
    Line {
        bytes: start..byte_of(range.end),
        width,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper(side: f32) -> Rect {
        Rect::from_min_size(pos2(100.0, 50.0), vec2(side, side))
    }

    const YELLOW: Color = Color::rgb(0xff, 0xe5, 0x80);

    #[test]
    fn a_word_is_set_large_and_centred_and_more_text_shrinks_the_font() {
        let one = layout_in(paper(200.0), YELLOW, "Ship it");
        assert!((one.font_size - 200.0 * MAX_FONT).abs() < 1.0e-3, "{one:?}");
        assert_eq!(one.lines.len(), 1);
        let line = &one.lines[0];
        assert_eq!(line.text, "Ship it");
        // Centred both ways.
        let width = fit("Ship it", text_area(paper(200.0)).size()).lines[0].width * one.font_size;
        assert!(
            (line.top_left.x + width * 0.5 - 200.0).abs() < 0.01,
            "{line:?}"
        );
        let middle = line.top_left.y + one.font_size * LINE_HEIGHT_EM * 0.5;
        assert!((middle - 150.0).abs() < 0.01, "{line:?}");

        let long = "We should ship the release on Friday after the review, \
                    once the last two bugs are fixed and the notes are written.";
        let many = layout_in(paper(200.0), YELLOW, long);
        assert!(many.font_size < one.font_size, "{many:?}");
        assert!(many.lines.len() > 3, "{many:?}");
        let area = text_area(paper(200.0));
        let last = many.lines.last().unwrap();
        assert!(last.top_left.y + many.font_size * LINE_HEIGHT_EM <= area.max.y + 0.01);
        // The lines, put back together, are the text.
        let joined: Vec<&str> = many.lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            joined.join(" "),
            long.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        // A bigger note of the same text has a bigger font, in the same lines.
        let big = layout_in(paper(400.0), YELLOW, long);
        assert!((big.font_size - 2.0 * many.font_size).abs() < 0.05 * many.font_size);
        assert_eq!(
            big.lines.iter().map(|l| &l.text).collect::<Vec<_>>(),
            many.lines.iter().map(|l| &l.text).collect::<Vec<_>>()
        );
    }

    #[test]
    fn every_line_fits_the_paper_however_long_the_text() {
        let area = vec2(160.0, 160.0);
        for text in [
            "a",
            "",
            "two\n\nparagraphs with a blank line",
            "averyveryverylongwordwithnospacesatallthatmustbebrokensomewhere",
            "well-known hyphen-ated words, and www.example.com/a/path",
            "x ".repeat(2_000).as_str(),
        ] {
            let fit = fit(text, area);
            for line in &fit.lines {
                assert!(
                    line.width * fit.font_size <= area.x * 1.001,
                    "{text:?}: {line:?}"
                );
            }
            let tall = fit.lines.len() as f32 * fit.font_size * LINE_HEIGHT_EM;
            assert!(tall <= area.y * 1.001, "{text:?}: {fit:?}");
        }
    }

    #[test]
    fn egui_breaks_a_fitted_text_where_the_note_breaks_it() {
        let mut fonts = egui::epaint::text::Fonts::new(
            egui::epaint::text::TextOptions::default(),
            egui::epaint::text::FontDefinitions::default(),
        );
        let texts = [
            "Ask the team about the launch date, the budget and who-does-what",
            "Ask Ada about the budget and the launch date, then write the notes",
            "Ship the release on Friday",
            "Retro: what went well, what did not, and what we try next sprint",
            "https://example.com/a/very/long/path/that/has/no/spaces",
            "One\ntwo lines and a third that is longer than the others",
        ];
        for text in texts {
            for area in [vec2(168.0, 168.0), vec2(336.0, 336.0), vec2(90.0, 200.0)] {
                let fit = fit(text, area);
                // As the note's editor lays it out: wrapped at the area's
                // width exactly.
                let mut job = egui::text::LayoutJob::simple(
                    text.to_owned(),
                    egui::FontId::proportional(fit.font_size),
                    egui::Color32::BLACK,
                    area.x,
                );
                job.round_output_to_gui = false;
                let galley = fonts.with_pixels_per_point(1.0).layout_job(job);
                let theirs: Vec<String> = galley
                    .rows
                    .iter()
                    .map(|row| {
                        let row: String = row.glyphs.iter().map(|g| g.chr).collect();
                        row.trim_end().to_owned()
                    })
                    .collect();
                let ours: Vec<&str> = fit
                    .lines
                    .iter()
                    .map(|l| text[l.bytes.clone()].trim_end())
                    .collect();
                assert_eq!(ours, theirs, "{text:?} in {area:?}");
            }
        }
    }

    #[test]
    fn text_is_dark_on_light_paper_and_light_on_dark_and_the_shadow_is_below() {
        assert_eq!(ink_on(YELLOW), DARK_INK);
        assert_eq!(ink_on(Color::rgb(0x19, 0x30, 0x80)), LIGHT_INK);
        let note = layout_in(paper(200.0), YELLOW, "");
        assert_eq!(note.lines.len(), 1);
        let lowest = note.shadow.first().unwrap().0;
        assert!(
            (lowest.max.y - (note.paper.max.y + 200.0 * tabula_shared::object::NOTE_SHADOW)).abs()
                < 0.01
        );
        assert!(
            note.shadow
                .iter()
                .all(|(r, _)| r.min.x >= note.paper.min.x && r.max.x <= note.paper.max.x)
        );
    }
}
