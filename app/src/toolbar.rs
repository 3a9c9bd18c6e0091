//! The floating toolbars and the keyboard shortcuts they advertise.
//!
//! - [`toolbar_ui`]: top centre; the tools, the ink palette and the pen widths.
//! - [`zoom_ui`]: bottom left; zoom out, the zoom level (click for 100 %), zoom in,
//!   fit to content.
//! - [`shortcuts`]: the same commands from the keyboard.
//!
//! They edit [`ToolSettings`] in place and return a [`ViewAction`] for the canvas
//! rather than reaching into the camera themselves.

use egui::accesskit::Role;
use egui::{
    Align2, Color32, Context, Key, Modifiers, Response, RichText, Sense, Stroke, Ui, WidgetInfo,
    vec2,
};

use crate::canvas::{ViewAction, color32};
use crate::theme;
use crate::tools::{PALETTE, Swatch, Tool, ToolSettings, Width};

/// Gap between a floating panel and the window's edge.
pub const EDGE_GAP: f32 = 12.0;
/// The side of a tool button, a swatch or a width button.
const BUTTON_SIZE: f32 = 30.0;

/// The main toolbar, floating at the top centre of the window.
pub fn toolbar_ui(ctx: &Context, tools: &mut ToolSettings) {
    egui::Area::new(egui::Id::unique("tabula-toolbar"))
        .anchor(Align2::CENTER_TOP, vec2(0.0, EDGE_GAP))
        .show(ctx, |ui| {
            theme::floating_panel(ui).show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.spacing_mut().item_spacing.x = 2.0;
                    for tool in Tool::ALL {
                        tool_button_ui(ui, tools, tool);
                    }
                    toolbar_separator_ui(ui);
                    for swatch in &PALETTE {
                        if swatch_ui(ui, swatch, tools.color == swatch.color).clicked() {
                            tools.color = swatch.color;
                        }
                    }
                    toolbar_separator_ui(ui);
                    for width in Width::ALL {
                        if width_button_ui(ui, width, *tools).clicked() {
                            tools.width = width;
                        }
                    }
                });
            });
        });
}

/// A tool's button, highlighted while it is the current one.
fn tool_button_ui(ui: &mut Ui, tools: &mut ToolSettings, tool: Tool) {
    let selected = tools.tool == tool;
    let (rect, response) = ui.allocate_exact_size(vec2(BUTTON_SIZE, BUTTON_SIZE), Sense::click());
    response.widget_info(|| WidgetInfo::selected(Role::RadioButton, true, selected, tool.name()));
    let response = response.on_hover_text(format!("{} ({})", tool.name(), tool.shortcut().name()));
    if ui.is_rect_visible(rect) {
        let visuals = ui.visuals();
        let (fill, ink) = if selected {
            (visuals.selection.bg_fill, visuals.selection.stroke.color)
        } else if response.hovered() {
            (visuals.widgets.hovered.weak_bg_fill, visuals.text_color())
        } else {
            (Color32::TRANSPARENT, visuals.text_color())
        };
        ui.painter().rect_filled(rect, 6.0, fill);
        paint_tool_icon(ui.painter(), tool, rect.center(), ink, fill);
    }
    if response.clicked() {
        tools.tool = tool;
    }
}

/// Draws a tool's icon around `center`; `background` cuts details out of it.
/// Drawn rather than taken from a font, since egui's default fonts carry no icons.
fn paint_tool_icon(
    painter: &egui::Painter,
    tool: Tool,
    center: egui::Pos2,
    ink: Color32,
    background: Color32,
) {
    match tool {
        Tool::Pen => {
            // A pencil lying from bottom left (the tip) to top right.
            let along = vec2(1.0, -1.0).normalized();
            let across = vec2(1.0, 1.0).normalized() * 2.8;
            let tip = center + vec2(-7.0, 7.0);
            let shoulder = tip + along * 5.0;
            let end = center + vec2(6.5, -6.5);
            painter.add(egui::Shape::convex_polygon(
                vec![tip, shoulder + across, shoulder - across],
                ink,
                Stroke::NONE,
            ));
            painter.add(egui::Shape::convex_polygon(
                vec![
                    shoulder + across,
                    shoulder - across,
                    end - across,
                    end + across,
                ],
                ink,
                Stroke::NONE,
            ));
            // The line where the sharpened wood meets the paint, and the ferrule.
            let gap = Stroke::new(
                1.2,
                if background == Color32::TRANSPARENT {
                    painter.ctx().global_style().visuals.window_fill
                } else {
                    background
                },
            );
            let ferrule = end - along * 3.5;
            painter.line_segment([shoulder + across, shoulder - across], gap);
            painter.line_segment([ferrule + across, ferrule - across], gap);
        }
    }
}

/// A thin vertical rule between groups of buttons.
fn toolbar_separator_ui(ui: &mut Ui) {
    let (rect, _) = ui.allocate_exact_size(vec2(13.0, BUTTON_SIZE), Sense::hover());
    let stroke = Stroke::new(1.0, ui.visuals().widgets.noninteractive.bg_stroke.color);
    ui.painter().vline(
        rect.center().x,
        rect.shrink2(vec2(0.0, 6.0)).y_range(),
        stroke,
    );
}

/// A round colour swatch; the current one is ringed.
fn swatch_ui(ui: &mut Ui, swatch: &Swatch, selected: bool) -> Response {
    let (rect, response) =
        ui.allocate_exact_size(vec2(BUTTON_SIZE - 4.0, BUTTON_SIZE), Sense::click());
    response.widget_info(|| WidgetInfo::selected(Role::RadioButton, true, selected, swatch.name));
    let response = response.on_hover_text(swatch.name);
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
        // Light colours would vanish into a light panel without an edge.
        painter.circle_stroke(center, 8.5, Stroke::new(1.0, Color32::from_black_alpha(30)));
    }
    response
}

/// A pen width, shown as a dot of that size in the current colour.
fn width_button_ui(ui: &mut Ui, width: Width, tools: ToolSettings) -> Response {
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
        if selected {
            painter.rect_filled(rect, 6.0, visuals.selection.bg_fill);
        } else if response.hovered() {
            painter.rect_filled(rect, 6.0, visuals.widgets.hovered.weak_bg_fill);
        }
        // Dot sizes read as a scale rather than to scale: the extra pen's 16 px
        // would not fit the button.
        let radius = match width {
            Width::Thin => 1.75,
            Width::Medium => 3.0,
            Width::Thick => 4.75,
            Width::Extra => 7.0,
        };
        let mut ink = color32(tools.color);
        if ink == Color32::WHITE {
            ink = visuals.text_color();
        }
        painter.circle_filled(rect.center(), radius, ink);
    }
    response
}

/// The zoom bar, floating at the bottom left. Returns the view change clicked.
#[must_use = "the zoom bar returns the view change clicked"]
pub fn zoom_ui(ctx: &Context, zoom: f32) -> Option<ViewAction> {
    let mut action = None;
    egui::Area::new(egui::Id::unique("tabula-zoom"))
        .anchor(Align2::LEFT_BOTTOM, vec2(EDGE_GAP, -EDGE_GAP))
        .show(ctx, |ui| {
            theme::floating_panel(ui).show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.spacing_mut().item_spacing.x = 2.0;
                    let small = vec2(28.0, 26.0);
                    if ui
                        .add(egui::Button::new(RichText::new("−").size(15.0)).min_size(small))
                        .on_hover_text("Zoom out (Ctrl −)")
                        .clicked()
                    {
                        action = Some(ViewAction::ZoomOut);
                    }
                    let label = format!("{:.0}%", zoom * 100.0);
                    if ui
                        .add(
                            egui::Button::new(RichText::new(label).monospace())
                                .frame_when_inactive(false)
                                .min_size(vec2(58.0, 26.0)),
                        )
                        .on_hover_text("Reset to 100 % (0)")
                        .clicked()
                    {
                        action = Some(ViewAction::ActualSize);
                    }
                    if ui
                        .add(egui::Button::new(RichText::new("+").size(15.0)).min_size(small))
                        .on_hover_text("Zoom in (Ctrl +)")
                        .clicked()
                    {
                        action = Some(ViewAction::ZoomIn);
                    }
                    toolbar_separator_ui(ui);
                    if ui
                        .add(egui::Button::new("Fit").min_size(vec2(40.0, 26.0)))
                        .on_hover_text("Fit the drawing to the window (1 or Home)")
                        .clicked()
                    {
                        action = Some(ViewAction::Fit);
                    }
                });
            });
        });
    action
}

/// Reads the toolbar's keyboard shortcuts: a tool's letter selects it, 0 resets
/// the zoom, 1 or Home fits the drawing, ctrl +/− zoom in and out. Call it only
/// when no text field has the keyboard.
pub fn shortcuts(ctx: &Context, tools: &mut ToolSettings) -> Option<ViewAction> {
    ctx.input_mut(|i| {
        for tool in Tool::ALL {
            if i.consume_key(Modifiers::NONE, tool.shortcut()) {
                tools.tool = tool;
            }
        }
        if i.consume_key(Modifiers::COMMAND, Key::Plus)
            || i.consume_key(Modifiers::COMMAND, Key::Equals)
        {
            Some(ViewAction::ZoomIn)
        } else if i.consume_key(Modifiers::COMMAND, Key::Minus) {
            Some(ViewAction::ZoomOut)
        } else if i.consume_key(Modifiers::NONE, Key::Num0)
            || i.consume_key(Modifiers::COMMAND, Key::Num0)
        {
            Some(ViewAction::ActualSize)
        } else if i.consume_key(Modifiers::NONE, Key::Num1)
            || i.consume_key(Modifiers::NONE, Key::Home)
        {
            Some(ViewAction::Fit)
        } else {
            None
        }
    })
}
