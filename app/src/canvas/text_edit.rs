//! Typing a text or a note on the board: a borderless multi-line editor
//! floating exactly where the text will sit, at the board's zoom.
//!
//! The text tool opens one where it clicks (or on the text or note it
//! clicked), the note tool on a new note where it clicks (or on the note it
//! clicked); a double-click with the select tool opens one on a text or a
//! note. On a note the editor fills the note's text area, centred, in the
//! font the note's text fits at ([`crate::note`]), which shrinks and grows
//! as the text does, with the lines broken where the note breaks them.
//! Nothing goes to the room while typing: when the editor loses the keyboard
//! (Escape, a click elsewhere) it becomes one op: a create, a set of the
//! text, or a delete when an existing text was emptied (a note emptied stays,
//! blank, and a new note is stuck even if nothing was typed on it).

use egui::emath::TSTransform;
use egui::text::LayoutJob;
use egui::{Align2, FontId, Id, Order, Stroke, TextEdit, Ui};
use tabula_shared::caps::MAX_NOTE_TEXT_BYTES;
use tabula_shared::object::{LINE_HEIGHT_EM, ObjectKind};
use tabula_shared::{Color, ObjectId, Op, OpKind, Point, Property, Rect};

use super::convert::{color32, pos_from_point, rect_from_canvas};
use super::tools::ToolSettings;
use crate::note;
use crate::ui::theme;

/// A text being typed.
#[derive(Clone, Debug, PartialEq)]
pub struct TextEditor {
    /// The text being edited, or `None` for a new one.
    pub object: Option<ObjectId>,
    /// Its top-left corner on the canvas.
    pub at: Point,
    /// What has been typed so far.
    pub content: String,
    /// What it said before, for an existing text: unchanged means no op.
    pub original: String,
    /// Its font size, in canvas units.
    pub font_size: f32,
    /// Its colour (a note's paper colour).
    pub color: Color,
    /// For a note: its paper, whose text area the text is typed in (kept
    /// up to date with the board's by [`Self::follow`]); `None` for a text.
    pub note: Option<Rect>,
    /// Whether the editor has had the keyboard yet (it asks for it once).
    focused_once: bool,
}

/// What the editor did this frame.
#[derive(Clone, Debug, PartialEq)]
pub enum EditorOutcome {
    /// Still typing.
    Open,
    /// Done: these ops (possibly none) are the edit.
    Done(Vec<Op>),
}

impl TextEditor {
    /// An editor for a new text at `at`, in the current colour and font size.
    #[must_use]
    pub fn new_text(at: Point, tools: &ToolSettings) -> Self {
        Self {
            object: None,
            at,
            content: String::new(),
            original: String::new(),
            font_size: tools.font_size,
            color: tools.color,
            note: None,
            focused_once: false,
        }
    }

    /// An editor on a new note with paper `paper`, in the current note
    /// colour.
    #[must_use]
    pub fn new_note(paper: Rect, tools: &ToolSettings) -> Self {
        Self {
            object: None,
            at: paper.min,
            content: String::new(),
            original: String::new(),
            font_size: tools.font_size,
            color: tools.note_color,
            note: Some(paper),
            focused_once: false,
        }
    }

    /// Whether it edits a note.
    #[must_use]
    pub fn is_note(&self) -> bool {
        self.note.is_some()
    }

    /// Follows the note being edited as the board has it now (moved,
    /// resized or recoloured by someone meanwhile).
    pub fn follow(&mut self, object: &tabula_shared::Object) {
        if self.note.is_some() && Some(object.id) == self.object {
            self.note = Some(object.frame());
            self.at = object.frame().min;
            self.color = object.data.color;
        }
    }

    /// An editor on an existing text or note.
    #[must_use]
    pub fn existing(object: &tabula_shared::Object) -> Self {
        Self {
            object: Some(object.id),
            at: object.points().next().unwrap_or_default(),
            content: object.data.text.clone(),
            original: object.data.text.clone(),
            font_size: object.data.font_size,
            color: object.data.color,
            note: (object.data.kind == ObjectKind::Note).then(|| object.frame()),
            focused_once: false,
        }
    }

    /// The ops that make the edit: a new text is created (unless left empty), an
    /// existing one gets its new content, or is deleted if emptied; a new
    /// note is stuck (even blank), an existing one gets its new content.
    #[must_use]
    pub fn finish(&self, tools: &ToolSettings) -> Vec<Op> {
        let empty = self.content.trim().is_empty() && self.note.is_none();
        let kind = match self.object {
            None if empty => return Vec::new(),
            None => {
                if let Some(paper) = self.note {
                    let mut data = tools.note(paper, self.content.clone());
                    data.color = self.color;
                    return vec![Op::new(OpKind::Create {
                        object: ObjectId::random(),
                        data,
                    })];
                }
                let mut data = tools.text(self.at, self.content.clone());
                data.font_size = self.font_size;
                data.color = self.color;
                OpKind::Create {
                    object: ObjectId::random(),
                    data,
                }
            }
            Some(object) if empty => OpKind::Delete { object },
            Some(_) if self.content == self.original => return Vec::new(),
            Some(object) => OpKind::Set {
                object,
                property: Property::Text(self.content.clone()),
            },
        };
        vec![Op::new(kind)]
    }

    /// Shows the editor over the canvas and reports whether typing is done.
    pub fn editor_ui(
        &mut self,
        ctx: &egui::Context,
        screen_from_canvas: TSTransform,
        tools: &ToolSettings,
    ) -> EditorOutcome {
        if let Some(paper) = self.note {
            return self.note_editor_ui(ctx, screen_from_canvas, paper, tools);
        }
        let size = (self.font_size * screen_from_canvas.scaling).max(4.0);
        let at = screen_from_canvas * pos_from_point(self.at);
        let id = Id::unique("tabula-text-editor");
        let mut done = false;
        egui::Area::new(id.with("area"))
            .order(Order::Foreground)
            .fixed_pos(at)
            .show(ctx, |ui| {
                let lines = self.content.split('\n').count().max(1) as f32;
                let longest = self
                    .content
                    .split('\n')
                    .map(|l| l.chars().count())
                    .max()
                    .unwrap_or(0)
                    .max(4) as f32;
                ui.spacing_mut().item_spacing.y = 0.0;
                let response = ui.add(
                    TextEdit::multiline(&mut self.content)
                        .id(id)
                        .font(FontId::proportional(size))
                        .text_color(color32(self.color))
                        .frame(egui::Frame::NONE)
                        .margin(egui::Margin::ZERO)
                        .desired_rows(lines as usize)
                        .desired_width((longest + 2.0) * size * 0.6)
                        .hint_text("Type…"),
                );
                ui.painter().rect_stroke(
                    response.rect.expand(4.0),
                    4.0,
                    Stroke::new(1.0, theme::ACCENT.gamma_multiply(0.8)),
                    egui::StrokeKind::Outside,
                );
                done = self.lost_focus(&response);
            });
        self.outcome(done, tools)
    }

    /// Whether the editor has lost the keyboard, which ends it: on its first
    /// frame it takes the keyboard instead.
    fn lost_focus(&mut self, response: &egui::Response) -> bool {
        if self.focused_once {
            return !response.has_focus();
        }
        response.request_focus();
        self.focused_once = true;
        false
    }

    /// Open, or, once `done`, done with the ops it makes.
    fn outcome(&self, done: bool, tools: &ToolSettings) -> EditorOutcome {
        if done {
            EditorOutcome::Done(self.finish(tools))
        } else {
            EditorOutcome::Open
        }
    }

    /// The editor on a note with paper `paper`: it fills the text area, in
    /// the font the text fits at, centred, and outlines the paper.
    fn note_editor_ui(
        &mut self,
        ctx: &egui::Context,
        screen_from_canvas: TSTransform,
        paper: Rect,
        tools: &ToolSettings,
    ) -> EditorOutcome {
        let paper = rect_from_canvas(paper);
        let area = note::text_area(paper);
        let fit = note::fit(&self.content, area.size());
        let scaling = screen_from_canvas.scaling;
        let size = (fit.font_size * scaling).max(1.0);
        let on_screen = screen_from_canvas * area;
        let id = Id::unique("tabula-text-editor");
        let mut done = false;
        let ink = color32(note::ink_on(self.color));
        // Wrapped to the text area itself (not to what is left of it beside
        // the cursor), lines as far apart as the board sets them, each at
        // the top of its line as the board draws it.
        let mut layouter = move |ui: &Ui, text: &dyn egui::TextBuffer, _offered: f32| {
            let mut job = LayoutJob::simple(
                text.as_str().to_owned(),
                FontId::proportional(size),
                ink,
                on_screen.width(),
            );
            job.halign = egui::Align::Center;
            job.keep_trailing_whitespace = true;
            // Wrapped at the width itself, not half a point more.
            job.round_output_to_gui = false;
            for section in &mut job.sections {
                section.format.line_height = Some(size * LINE_HEIGHT_EM);
                section.format.valign = egui::Align::TOP;
            }
            ui.fonts_mut(|f| f.layout_job(job))
        };
        egui::Area::new(id.with("area"))
            .order(Order::Foreground)
            .fixed_pos(on_screen.min)
            .show(ctx, |ui| {
                ui.spacing_mut().item_spacing.y = 0.0;
                let response = ui.add(
                    TextEdit::multiline(&mut self.content)
                        .id(id)
                        .font(FontId::proportional(size))
                        .text_color(ink)
                        .layouter(&mut layouter)
                        .frame(egui::Frame::NONE)
                        .margin(egui::Margin::ZERO)
                        .desired_width(on_screen.width())
                        .min_size(on_screen.size())
                        .desired_rows(1)
                        .align(Align2::CENTER_CENTER)
                        .hint_text("Type…"),
                );
                // Typing past a note's cap stops at it.
                if self.content.len() > MAX_NOTE_TEXT_BYTES {
                    let mut end = MAX_NOTE_TEXT_BYTES;
                    while !self.content.is_char_boundary(end) {
                        end -= 1;
                    }
                    self.content.truncate(end);
                }
                ui.painter().rect_stroke(
                    screen_from_canvas * paper,
                    0.0,
                    Stroke::new(1.5, theme::ACCENT),
                    egui::StrokeKind::Outside,
                );
                done = self.lost_focus(&response);
            });
        self.outcome(done, tools)
    }
}
