//! Typing a text on the board: a borderless multi-line editor floating exactly
//! where the text will sit, at the board's zoom.
//!
//! The text tool opens one where it clicks (or on the text it clicked); a
//! double-click with the select tool opens one on a text. Nothing goes to the
//! room while typing: when the editor loses the keyboard (Escape, a click
//! elsewhere) it becomes one op, a create, a set of the text, or a delete when
//! an existing text was emptied.

use egui::emath::TSTransform;
use egui::{FontId, Id, Order, Stroke, TextEdit};
use tabula_shared::{Color, ObjectId, Op, OpKind, Point, Property};

use super::convert::{color32, pos_from_point};
use super::tools::ToolSettings;
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
    /// Its colour.
    pub color: Color,
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
            focused_once: false,
        }
    }

    /// An editor on an existing text.
    #[must_use]
    pub fn existing(object: &tabula_shared::Object) -> Self {
        Self {
            object: Some(object.id),
            at: object.points().next().unwrap_or_default(),
            content: object.data.text.clone(),
            original: object.data.text.clone(),
            font_size: object.data.font_size,
            color: object.data.color,
            focused_once: false,
        }
    }

    /// The ops that make the edit: a new text is created (unless left empty), an
    /// existing one gets its new content, or is deleted if emptied.
    #[must_use]
    pub fn finish(&self, tools: &ToolSettings) -> Vec<Op> {
        let empty = self.content.trim().is_empty();
        let kind = match self.object {
            None if empty => return Vec::new(),
            None => {
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
                if !self.focused_once {
                    response.request_focus();
                    self.focused_once = true;
                } else if !response.has_focus() {
                    done = true;
                }
            });
        if done {
            EditorOutcome::Done(self.finish(tools))
        } else {
            EditorOutcome::Open
        }
    }
}
