//! The style panel, floating at the left: colour (palette and a custom colour
//! picker), width, fill, font size, a note's colour, and for a selection its
//! stacking, duplicate and delete. Each section shows when the tool or the
//! selection has a use for it: the note tool and notes take only a note
//! colour.
//!
//! It edits the [`ToolSettings`] new objects are made with, and reports each
//! change as a [`StyleAction`] so that the app can apply it to the selection too.

use egui::accesskit::Role;
use egui::{Align2, Color32, Context, Response, Sense, Stroke, Ui, WidgetInfo, vec2};
use tabula_shared::object::{Fill, ObjectKind};
use tabula_shared::{Color, Property};

use super::theme::{self, BUTTON_SIZE, EDGE_GAP};
use crate::canvas::convert::color32;
use crate::canvas::tools::{FONT_SIZES, NOTE_PALETTE, PALETTE, Swatch, Tool, ToolSettings, Width};

/// What the style panel asks of the selection.
#[derive(Clone, Debug, PartialEq)]
pub enum StyleAction {
    /// Set this property on the selected objects it fits.
    Restyle(Property),
    /// Give the selected notes this paper colour.
    NoteColor(Color),
    /// Bring the selection to the front.
    ToFront,
    /// Send the selection to the back.
    ToBack,
    /// Duplicate the selection.
    Duplicate,
    /// Delete the selection.
    Delete,
}

/// What the panel needs to know about the selection: how many of each kind
/// that has sections of its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SelectionSummary {
    /// How many objects are selected.
    pub count: usize,
    /// How many are rectangles or ellipses (offer fills).
    pub closed_shapes: usize,
    /// How many are texts (offer font sizes).
    pub texts: usize,
    /// How many are notes (offer note colours).
    pub notes: usize,
    /// How many are images (which have no colour, width or fill).
    pub images: usize,
}

impl SelectionSummary {
    /// The summary of a selection of these kinds.
    #[must_use]
    pub fn of(kinds: impl IntoIterator<Item = ObjectKind>) -> Self {
        let mut summary = Self::default();
        for kind in kinds {
            summary.count += 1;
            match kind {
                ObjectKind::Rectangle | ObjectKind::Ellipse => summary.closed_shapes += 1,
                ObjectKind::Text => summary.texts += 1,
                ObjectKind::Note => summary.notes += 1,
                ObjectKind::Image => summary.images += 1,
                ObjectKind::Freehand | ObjectKind::Line | ObjectKind::Arrow => {}
            }
        }
        summary
    }

    /// Whether anything but notes and images is selected (offer ink
    /// colours).
    #[must_use]
    pub fn has_ink(&self) -> bool {
        self.count > self.notes + self.images
    }

    /// Whether anything with a line is selected: not a text, a note or an image
    /// (offer widths).
    #[must_use]
    pub fn has_line(&self) -> bool {
        self.count > self.texts + self.notes + self.images
    }
}

/// Shows the style panel; returns what was changed or asked for.
pub fn style_panel_ui(
    ctx: &Context,
    tools: &mut ToolSettings,
    selection: SelectionSummary,
) -> Vec<StyleAction> {
    let mut actions = Vec::new();
    let tool = tools.tool;
    let shows_fill = matches!(tool, Tool::Rectangle | Tool::Ellipse) || selection.closed_shapes > 0;
    let shows_font = tool == Tool::Text || selection.texts > 0;
    let shows_width = !matches!(tool, Tool::Eraser | Tool::Text | Tool::Select | Tool::Note)
        || selection.has_line();
    let shows_ink = !matches!(tool, Tool::Note | Tool::Select) || selection.has_ink();
    let shows_note = tool == Tool::Note || selection.notes > 0;
    if matches!(tool, Tool::Eraser | Tool::Laser) || (tool == Tool::Select && selection.count == 0)
    {
        return actions;
    }
    egui::Area::new(egui::Id::unique("tabula-style"))
        .anchor(Align2::LEFT_TOP, vec2(EDGE_GAP, 72.0))
        .show(ctx, |ui| {
            theme::floating_panel(ui).show(ui, |ui| {
                ui.set_width(5.0 * (BUTTON_SIZE - 4.0) + 8.0);
                ui.spacing_mut().item_spacing = vec2(2.0, 4.0);
                if shows_ink {
                    ink_ui(ui, tools, &mut actions);
                }
                if shows_note {
                    section_ui(ui, "Note");
                    for row in NOTE_PALETTE.chunks(5) {
                        ui.horizontal(|ui| {
                            for swatch in row {
                                let selected = tools.note_color == swatch.color;
                                if note_swatch_ui(ui, swatch, selected).clicked() {
                                    tools.note_color = swatch.color;
                                    actions.push(StyleAction::NoteColor(swatch.color));
                                }
                            }
                        });
                    }
                }
                if shows_width {
                    section_ui(ui, "Width");
                    ui.horizontal(|ui| {
                        for width in Width::ALL {
                            if width_button_ui(ui, width, *tools).clicked() {
                                tools.width = width;
                                actions.push(StyleAction::Restyle(Property::Width(
                                    width.canvas_units(),
                                )));
                            }
                        }
                    });
                }
                if shows_fill {
                    section_ui(ui, "Fill");
                    ui.horizontal(|ui| {
                        for fill in [Fill::None, Fill::Translucent, Fill::Solid] {
                            if fill_button_ui(ui, fill, *tools).clicked() {
                                tools.fill = fill;
                                actions.push(StyleAction::Restyle(Property::Fill(fill)));
                            }
                        }
                    });
                }
                if shows_font {
                    section_ui(ui, "Text size");
                    ui.horizontal(|ui| {
                        for (name, size) in FONT_SIZES {
                            let selected = (tools.font_size - size).abs() < f32::EPSILON;
                            let label = &name[..1];
                            if ui
                                .add(
                                    egui::Button::selectable(selected, label)
                                        .min_size(vec2(28.0, 24.0)),
                                )
                                .on_hover_text(format!("{name} ({size} px)"))
                                .clicked()
                            {
                                tools.font_size = size;
                                actions.push(StyleAction::Restyle(Property::FontSize(size)));
                            }
                        }
                    });
                }
                if selection.count > 0 {
                    selection_buttons_ui(ui, &mut actions);
                }
            });
        });
    actions
}

/// The ink colours: the palette and a custom colour.
fn ink_ui(ui: &mut Ui, tools: &mut ToolSettings, actions: &mut Vec<StyleAction>) {
    section_ui(ui, "Colour");
    for row in PALETTE.chunks(5) {
        ui.horizontal(|ui| {
            for swatch in row {
                if swatch_ui(ui, swatch, tools.color == swatch.color).clicked() {
                    tools.color = swatch.color;
                    actions.push(StyleAction::Restyle(Property::Color(swatch.color)));
                }
            }
        });
    }
    ui.horizontal(|ui| {
        let mut rgba = color32(tools.color);
        let picked = egui::color_picker::color_edit_button_srgba(
            ui,
            &mut rgba,
            egui::color_picker::Alpha::Opaque,
        )
        .on_hover_text("Any colour");
        if picked.changed() {
            let [r, g, b, _] = rgba.to_array();
            tools.color = Color::rgb(r, g, b);
            actions.push(StyleAction::Restyle(Property::Color(tools.color)));
        }
        ui.label("Custom");
    });
}

/// The space a swatch takes, and its response: a radio button named after
/// its colour, which its name says on hover.
fn swatch_space(ui: &mut Ui, swatch: &Swatch, selected: bool) -> (egui::Rect, Response) {
    let (rect, response) =
        ui.allocate_exact_size(vec2(BUTTON_SIZE - 4.0, BUTTON_SIZE), Sense::click());
    response.widget_info(|| WidgetInfo::selected(Role::RadioButton, true, selected, swatch.name));
    (rect, response.on_hover_text(swatch.name))
}

/// A note colour, drawn as a little square note; the current one is ringed.
pub fn note_swatch_ui(ui: &mut Ui, swatch: &Swatch, selected: bool) -> Response {
    let (rect, response) = swatch_space(ui, swatch, selected);
    if ui.is_rect_visible(rect) {
        let painter = ui.painter();
        let square = egui::Rect::from_center_size(rect.center(), vec2(17.0, 17.0));
        let outline = ui.visuals().widgets.noninteractive.bg_stroke.color;
        if selected {
            painter.rect_stroke(
                square.expand(3.5),
                4.0,
                Stroke::new(2.0, theme::ACCENT),
                egui::StrokeKind::Middle,
            );
        } else if response.hovered() {
            painter.rect_stroke(
                square.expand(3.5),
                4.0,
                Stroke::new(1.5, outline),
                egui::StrokeKind::Middle,
            );
        }
        painter.rect_filled(square, 1.5, color32(swatch.color));
        let edge = ui.visuals().text_color().gamma_multiply(0.3);
        painter.rect_stroke(
            square,
            1.5,
            Stroke::new(1.0, edge),
            egui::StrokeKind::Inside,
        );
    }
    response
}

/// Restacking, duplicating and deleting the selection.
fn selection_buttons_ui(ui: &mut Ui, actions: &mut Vec<StyleAction>) {
    section_ui(ui, "Selection");
    ui.horizontal_wrapped(|ui| {
        let buttons = [
            ("To front", "Bring to front", StyleAction::ToFront),
            ("To back", "Send to back", StyleAction::ToBack),
            ("Duplicate", "Duplicate (Ctrl D)", StyleAction::Duplicate),
            (
                "Delete",
                "Delete (Delete or Backspace)",
                StyleAction::Delete,
            ),
        ];
        for (label, tip, action) in buttons {
            if ui.small_button(label).on_hover_text(tip).clicked() {
                actions.push(action);
            }
        }
    });
}

/// A small heading over a group of buttons.
fn section_ui(ui: &mut Ui, title: &str) {
    ui.add_space(2.0);
    ui.label(egui::RichText::new(title).small().weak());
}

/// A fill choice, drawn as a small square filled that way.
fn fill_button_ui(ui: &mut Ui, fill: Fill, tools: ToolSettings) -> Response {
    let selected = tools.fill == fill;
    let name = match fill {
        Fill::None => "No fill",
        Fill::Translucent => "Translucent fill",
        Fill::Solid => "Solid fill",
    };
    let (rect, response) = ui.allocate_exact_size(vec2(BUTTON_SIZE, BUTTON_SIZE), Sense::click());
    response.widget_info(|| WidgetInfo::selected(Role::RadioButton, true, selected, name));
    let response = response.on_hover_text(name);
    if ui.is_rect_visible(rect) {
        let visuals = ui.visuals();
        let painter = ui.painter();
        option_background(painter, visuals, rect, selected, response.hovered());
        let ink = legible_on(color32(tools.color), visuals.window_fill);
        let square = rect.shrink(9.0);
        let inside = fill
            .color_for(tools.color)
            .map_or(Color32::TRANSPARENT, |c| {
                let c = color32(c);
                if c == Color32::WHITE {
                    visuals.text_color()
                } else {
                    c
                }
            });
        painter.rect(
            square,
            2.0,
            inside,
            Stroke::new(1.5, ink),
            egui::StrokeKind::Middle,
        );
    }
    response
}

/// A round colour swatch; the current one is ringed.
pub fn swatch_ui(ui: &mut Ui, swatch: &Swatch, selected: bool) -> Response {
    let (rect, response) = swatch_space(ui, swatch, selected);
    if ui.is_rect_visible(rect) {
        let painter = ui.painter();
        let center = rect.center();
        let color = color32(swatch.color);
        let outline = ui.visuals().widgets.noninteractive.bg_stroke.color;
        if selected {
            painter.circle_stroke(center, 11.5, Stroke::new(2.0, theme::ACCENT));
        } else if response.hovered() {
            painter.circle_stroke(center, 11.5, Stroke::new(1.5, outline));
        }
        painter.circle_filled(center, 8.5, color);
        // White would vanish into a light panel, near-black into a dark one,
        // without an edge in the panel's text colour.
        let edge = ui.visuals().text_color().gamma_multiply(0.3);
        painter.circle_stroke(center, 8.5, Stroke::new(1.0, edge));
    }
    response
}

/// A pen width, shown as a dot of that size in the current colour.
pub fn width_button_ui(ui: &mut Ui, width: Width, tools: ToolSettings) -> Response {
    let selected = tools.width == width;
    let (rect, response) = ui.allocate_exact_size(vec2(BUTTON_SIZE, BUTTON_SIZE), Sense::click());
    response.widget_info(|| WidgetInfo::selected(Role::RadioButton, true, selected, width.name()));
    let response = response.on_hover_text(format!(
        "{} ({} px at 100 %)",
        width.name(),
        width.canvas_units()
    ));
    if ui.is_rect_visible(rect) {
        let visuals = ui.visuals();
        let painter = ui.painter();
        option_background(painter, visuals, rect, selected, response.hovered());
        // Dot sizes read as a scale rather than to scale: the extra pen's 16 px
        // would not fit the button.
        let radius = match width {
            Width::Thin => 1.75,
            Width::Medium => 3.0,
            Width::Thick => 4.75,
            Width::Extra => 7.0,
        };
        let ink = legible_on(color32(tools.color), visuals.window_fill);
        painter.circle_filled(rect.center(), radius, ink);
    }
    response
}

/// The background of one option in a row of choices: highlighted when chosen,
/// shaded when hovered.
fn option_background(
    painter: &egui::Painter,
    visuals: &egui::Visuals,
    rect: egui::Rect,
    selected: bool,
    hovered: bool,
) {
    if selected {
        painter.rect_filled(rect, 6.0, visuals.selection.bg_fill);
    } else if hovered {
        painter.rect_filled(rect, 6.0, visuals.widgets.hovered.weak_bg_fill);
    }
}

/// `color`, or the theme's text colour when `color` would barely show on
/// `background` (white ink on a light panel, near-black ink on a dark one).
fn legible_on(color: Color32, background: Color32) -> Color32 {
    let luminance = |c: Color32| {
        let [r, g, b, _] = c.to_normalized_gamma_f32();
        0.2126 * r + 0.7152 * g + 0.0722 * b
    };
    if (luminance(color) - luminance(background)).abs() < 0.2 {
        if luminance(background) > 0.5 {
            Color32::from_gray(40)
        } else {
            Color32::from_gray(225)
        }
    } else {
        color
    }
}

#[cfg(test)]
mod legibility_tests {
    use super::*;

    #[test]
    fn ink_that_matches_the_panel_is_swapped_for_a_contrasting_one() {
        let dark_panel = Color32::from_gray(27);
        let light_panel = Color32::from_gray(248);
        let near_black = Color32::from_rgb(30, 30, 35);
        assert_eq!(legible_on(near_black, dark_panel), Color32::from_gray(225));
        assert_eq!(legible_on(near_black, light_panel), near_black);
        assert_eq!(
            legible_on(Color32::WHITE, light_panel),
            Color32::from_gray(40)
        );
        let red = Color32::from_rgb(220, 40, 40);
        assert_eq!(legible_on(red, dark_panel), red);
    }
}
