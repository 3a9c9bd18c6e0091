//! The floating toolbars and the keyboard shortcuts they advertise.
//!
//! - [`toolbar_ui`]: top centre (top left in a narrow window); the tools, or
//!   [`view_only_ui`] in their place for someone who may only view.
//! - [`zoom_ui`]: bottom left; zoom out, the zoom level (click for 100 %), zoom in,
//!   fit to content, then undo, redo, clear the board and export.
//! - [`shortcuts`]: the same commands from the keyboard.
//!
//! They edit [`ToolSettings`] in place and return what else was asked for (a
//! [`ViewAction`] for the canvas, a [`ToolbarAction`] for the app) rather than
//! reaching into the camera or the session themselves. The colours, widths and
//! fills are in [`super::style_panel`].

use egui::accesskit::Role;
use egui::epaint::{EllipseShape, PathShape};
use egui::{
    Align2, Color32, Context, FontId, Key, Modifiers, Painter, Pos2, Rect, RichText, Sense, Stroke,
    Ui, WidgetInfo, vec2,
};

use super::theme::{self, BUTTON_SIZE, EDGE_GAP};
use crate::canvas::ViewAction;
use crate::canvas::tools::{Tool, ToolSettings};

/// A command from the toolbar or its shortcuts that the app carries out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToolbarAction {
    /// Undo my latest action.
    Undo,
    /// Redo my latest undone action.
    Redo,
    /// Ask whether to clear the board for everyone.
    Clear,
    /// Open the export dialog.
    Export,
}

/// The toolbar's area, by which [`toolbar_rect`] finds it.
const TOOLBAR_AREA: &str = "tabula-toolbar";

/// Where the toolbar (or "View only" in its place) was last shown, so that
/// other panels keep clear of it.
#[must_use]
pub fn toolbar_rect(ctx: &Context) -> Option<Rect> {
    ctx.memory(|m| m.area_rect(egui::Id::unique(TOOLBAR_AREA)))
}

/// Below this window width the toolbar moves to the left, clear of the people
/// chip at the top right.
const NARROW_WINDOW: f32 = 1000.0;

/// Where the toolbar goes: at the top centre of the window, or in a narrow
/// one at the top left, just right of the File menu.
fn placement(ctx: &Context) -> (Align2, egui::Vec2) {
    if ctx.content_rect().width() < NARROW_WINDOW {
        let file_menu = ctx.memory(|m| m.area_rect(egui::Id::unique(theme::FILE_MENU_AREA)));
        let left = file_menu.map_or(EDGE_GAP, |menu| menu.right() + EDGE_GAP / 2.0);
        (Align2::LEFT_TOP, vec2(left, EDGE_GAP))
    } else {
        (Align2::CENTER_TOP, vec2(0.0, EDGE_GAP))
    }
}

/// The tools, floating at the top centre of the window (top left, beside the
/// File menu, in a narrow one).
pub fn toolbar_ui(ctx: &Context, tools: &mut ToolSettings) {
    let (align, offset) = placement(ctx);
    egui::Area::new(egui::Id::unique(TOOLBAR_AREA))
        .anchor(align, offset)
        .show(ctx, |ui| {
            theme::floating_panel(ui).show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.spacing_mut().item_spacing.x = 2.0;
                    for tool in Tool::ALL {
                        tool_button_ui(ui, tools, tool);
                    }
                });
            });
        });
}

/// In place of the tools, for someone who may only view the room: "View
/// only", and why on hover.
pub fn view_only_ui(ctx: &Context) {
    let (align, offset) = placement(ctx);
    egui::Area::new(egui::Id::unique(TOOLBAR_AREA))
        .anchor(align, offset)
        .show(ctx, |ui| {
            theme::floating_panel(ui).show(ui, |ui| {
                ui.label(RichText::new("View only").strong().size(15.0))
                    .on_hover_text(
                        "You can look around, replay and save a copy, but not change the board",
                    );
            });
        });
}

/// Undo, redo, clear and export, as buttons in a row; returns the one clicked.
fn commands_ui(ui: &mut Ui, can_undo: bool, can_redo: bool) -> Option<ToolbarAction> {
    let mut action = None;
    let commands = [
        (ToolbarAction::Undo, "Undo (Ctrl Z)", can_undo),
        (
            ToolbarAction::Redo,
            "Redo (Ctrl Shift Z or Ctrl Y)",
            can_redo,
        ),
        (ToolbarAction::Clear, "Clear the board…", true),
        (ToolbarAction::Export, "Export as PNG or SVG…", true),
    ];
    for (command, tip, enabled) in commands {
        if command_button_ui(ui, command, tip, enabled).clicked() {
            action = Some(command);
        }
    }
    action
}

/// A tool's button, highlighted while it is the current one.
fn tool_button_ui(ui: &mut Ui, tools: &mut ToolSettings, tool: Tool) {
    let selected = tools.tool == tool;
    let (rect, response) = ui.allocate_exact_size(vec2(BUTTON_SIZE, BUTTON_SIZE), Sense::click());
    response.widget_info(|| WidgetInfo::selected(Role::RadioButton, true, selected, tool.name()));
    let response = response.on_hover_text(format!("{} — {}", tool.name(), tool.shortcut().name()));
    if ui.is_rect_visible(rect) {
        let visuals = ui.visuals();
        let (fill, ink) = if selected {
            (visuals.selection.bg_fill, visuals.selection.stroke.color)
        } else if response.hovered() {
            (visuals.widgets.hovered.weak_bg_fill, visuals.text_color())
        } else {
            (Color32::TRANSPARENT, visuals.text_color())
        };
        ui.painter().rect_filled(rect, 7.0, fill);
        let background = if fill == Color32::TRANSPARENT {
            visuals.window_fill
        } else {
            fill
        };
        paint_tool_icon(ui.painter(), tool, rect.center(), ink, background);
        // The shortcut letter, small, in the corner, as in Excalidraw.
        ui.painter().text(
            rect.right_bottom() + vec2(-3.0, -1.0),
            Align2::RIGHT_BOTTOM,
            tool.shortcut().name(),
            FontId::proportional(8.5),
            ink.gamma_multiply(0.55),
        );
    }
    if response.clicked() {
        tools.tool = tool;
    }
}

/// Undo, redo or clear: a plain button with its glyph.
fn command_button_ui(
    ui: &mut Ui,
    command: ToolbarAction,
    tip: &str,
    enabled: bool,
) -> egui::Response {
    let sense = if enabled {
        Sense::click()
    } else {
        Sense::hover()
    };
    let (rect, response) = ui.allocate_exact_size(vec2(BUTTON_SIZE, BUTTON_SIZE), sense);
    let name = match command {
        ToolbarAction::Undo => "Undo",
        ToolbarAction::Redo => "Redo",
        ToolbarAction::Clear => "Clear board",
        ToolbarAction::Export => "Export…",
    };
    response.widget_info(|| WidgetInfo::labeled(Role::Button, enabled, name));
    let response = response.on_hover_text(tip);
    if ui.is_rect_visible(rect) {
        let visuals = ui.visuals();
        if enabled && response.hovered() {
            ui.painter()
                .rect_filled(rect, 7.0, visuals.widgets.hovered.weak_bg_fill);
        }
        let mut ink = visuals.text_color();
        if !enabled {
            ink = ink.gamma_multiply(0.35);
        }
        let painter = ui.painter();
        let c = rect.center();
        let stroke = Stroke::new(1.6, ink);
        match command {
            ToolbarAction::Undo | ToolbarAction::Redo => {
                let flip = if command == ToolbarAction::Undo {
                    1.0
                } else {
                    -1.0
                };
                // ↶ / ↷: an arc over the top whose far end turns down into an
                // arrow head (on the left for undo, on the right for redo).
                let arc: Vec<Pos2> = (0..=16)
                    .map(|i| {
                        let t = std::f32::consts::PI * (i as f32 / 16.0);
                        c + vec2(flip * 6.5 * t.cos(), -6.5 * t.sin() + 3.5)
                    })
                    .collect();
                let tip = arc[arc.len() - 1] + vec2(0.0, 1.0);
                painter.add(PathShape::line(arc, stroke));
                painter.line_segment([tip, tip + vec2(-3.5, -3.5)], stroke);
                painter.line_segment([tip, tip + vec2(3.5, -3.5)], stroke);
            }
            ToolbarAction::Clear => {
                // A bin: lid, handle, body with two ribs.
                painter.line_segment([c + vec2(-7.0, -5.0), c + vec2(7.0, -5.0)], stroke);
                painter.line_segment([c + vec2(-2.5, -7.5), c + vec2(2.5, -7.5)], stroke);
                painter.add(PathShape::line(
                    vec![
                        c + vec2(-5.5, -5.0),
                        c + vec2(-4.5, 7.0),
                        c + vec2(4.5, 7.0),
                        c + vec2(5.5, -5.0),
                    ],
                    stroke,
                ));
                painter.line_segment([c + vec2(-1.5, -2.0), c + vec2(-1.2, 4.5)], stroke);
                painter.line_segment([c + vec2(1.5, -2.0), c + vec2(1.2, 4.5)], stroke);
            }
            ToolbarAction::Export => {
                // A tray with an arrow rising out of it.
                painter.add(PathShape::line(
                    vec![
                        c + vec2(-7.0, 1.0),
                        c + vec2(-7.0, 7.0),
                        c + vec2(7.0, 7.0),
                        c + vec2(7.0, 1.0),
                    ],
                    stroke,
                ));
                painter.line_segment([c + vec2(0.0, 3.0), c + vec2(0.0, -8.0)], stroke);
                painter.line_segment([c + vec2(0.0, -8.0), c + vec2(-4.0, -4.0)], stroke);
                painter.line_segment([c + vec2(0.0, -8.0), c + vec2(4.0, -4.0)], stroke);
            }
        }
    }
    response
}

/// Draws a tool's icon around `center`; `background` cuts details out of it.
/// Drawn rather than taken from a font, since egui's default fonts carry no icons.
fn paint_tool_icon(painter: &Painter, tool: Tool, center: Pos2, ink: Color32, background: Color32) {
    let at = |x: f32, y: f32| center + vec2(x, y);
    let stroke = Stroke::new(1.7, ink);
    match tool {
        Tool::Select => {
            // A pointer arrow.
            let outline = vec![
                at(-5.0, -8.0),
                at(-5.0, 6.0),
                at(-1.5, 2.5),
                at(1.5, 8.5),
                at(3.5, 7.5),
                at(0.5, 1.5),
                at(5.5, 1.0),
            ];
            painter.add(PathShape::closed_line(outline, stroke));
        }
        Tool::Pen => paint_pencil(painter, center, ink, background),
        Tool::Highlighter => {
            // A broad translucent swipe with a marker's chisel tip above it.
            painter.line_segment(
                [at(-8.0, 6.0), at(8.0, 6.0)],
                Stroke::new(4.5, ink.gamma_multiply(0.35)),
            );
            let tip = vec![at(-2.0, 3.0), at(2.5, 3.0), at(7.0, -6.0), at(2.5, -8.5)];
            painter.add(PathShape::closed_line(tip, stroke));
            painter.line_segment([at(-2.0, 3.0), at(0.5, -2.0)], stroke);
        }
        Tool::Line => {
            painter.line_segment([at(-7.0, 7.0), at(7.0, -7.0)], stroke);
        }
        Tool::Arrow => {
            painter.line_segment([at(-7.0, 7.0), at(7.0, -7.0)], stroke);
            painter.line_segment([at(7.0, -7.0), at(0.5, -6.5)], stroke);
            painter.line_segment([at(7.0, -7.0), at(6.5, -0.5)], stroke);
        }
        Tool::Rectangle => {
            painter.rect_stroke(
                Rect::from_center_size(center, vec2(15.0, 12.0)),
                2.0,
                stroke,
                egui::StrokeKind::Middle,
            );
        }
        Tool::Ellipse => {
            painter.add(EllipseShape {
                center,
                radius: vec2(8.0, 6.5),
                fill: Color32::TRANSPARENT,
                stroke,
                angle: 0.0,
            });
        }
        Tool::Text => {
            painter.text(
                center,
                Align2::CENTER_CENTER,
                "T",
                FontId::proportional(18.0),
                ink,
            );
        }
        Tool::Note => {
            // A square of paper with its lower right corner turned up, and
            // two lines written on it.
            let outline = vec![
                at(-7.0, -7.0),
                at(7.0, -7.0),
                at(7.0, 2.5),
                at(2.5, 7.0),
                at(-7.0, 7.0),
            ];
            painter.add(PathShape::closed_line(outline, stroke));
            painter.add(PathShape::line(
                vec![at(7.0, 2.5), at(2.5, 2.5), at(2.5, 7.0)],
                Stroke::new(1.2, ink),
            ));
            painter.line_segment([at(-4.0, -3.0), at(4.0, -3.0)], Stroke::new(1.2, ink));
            painter.line_segment([at(-4.0, 0.5), at(0.0, 0.5)], Stroke::new(1.2, ink));
        }
        Tool::Eraser => {
            // A tilted block, its lower end shaded, over a baseline.
            let along = vec2(1.0, -1.0).normalized();
            let across = vec2(1.0, 1.0).normalized() * 4.0;
            let low = at(-4.5, 4.0);
            let high = low + along * 12.0;
            let mid = low + along * 5.0;
            painter.add(PathShape::closed_line(
                vec![low + across, low - across, high - across, high + across],
                stroke,
            ));
            painter.add(egui::Shape::convex_polygon(
                vec![low + across, low - across, mid - across, mid + across],
                ink,
                Stroke::NONE,
            ));
            painter.line_segment([at(-1.0, 8.5), at(8.0, 8.5)], Stroke::new(1.2, ink));
        }
        Tool::Laser => paint_laser(painter, center, stroke),
    }
}

/// A laser pointer's beam ending in a glowing dot, with a short fading
/// trail beside it.
fn paint_laser(painter: &Painter, center: Pos2, stroke: Stroke) {
    let at = |x: f32, y: f32| center + vec2(x, y);
    let ink = stroke.color;
    painter.line_segment([at(-8.0, 8.0), at(1.0, -1.0)], stroke);
    painter.circle_filled(at(3.5, -3.5), 4.5, ink.gamma_multiply(0.3));
    painter.circle_filled(at(3.5, -3.5), 2.5, ink);
    painter.line_segment(
        [at(-7.0, -2.0), at(-1.0, -6.0)],
        Stroke::new(1.4, ink.gamma_multiply(0.45)),
    );
}

/// A pencil lying from bottom left (the tip) to top right.
fn paint_pencil(painter: &Painter, center: Pos2, ink: Color32, background: Color32) {
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
    let gap = Stroke::new(1.2, background);
    let ferrule = end - along * 3.5;
    painter.line_segment([shoulder + across, shoulder - across], gap);
    painter.line_segment([ferrule + across, ferrule - across], gap);
}

/// A thin vertical rule between groups of buttons.
pub fn toolbar_separator_ui(ui: &mut Ui) {
    let (rect, _) = ui.allocate_exact_size(vec2(13.0, BUTTON_SIZE), Sense::hover());
    let stroke = Stroke::new(1.0, ui.visuals().widgets.noninteractive.bg_stroke.color);
    ui.painter().vline(
        rect.center().x,
        rect.shrink2(vec2(0.0, 6.0)).y_range(),
        stroke,
    );
}

/// The bottom bar, floating at the bottom left: zoom, then undo, redo, clear and
/// export. Returns the view change or the command clicked.
#[must_use = "the zoom bar returns the view change or command clicked"]
pub fn zoom_ui(
    ctx: &Context,
    zoom: f32,
    can_undo: bool,
    can_redo: bool,
) -> (Option<ViewAction>, Option<ToolbarAction>) {
    let mut action = None;
    let mut command = None;
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
                    toolbar_separator_ui(ui);
                    command = commands_ui(ui, can_undo, can_redo);
                });
            });
        });
    (action, command)
}

/// Reads the toolbar's keyboard shortcuts: a tool's letter selects it, ctrl+Z
/// undoes, ctrl+shift+Z and ctrl+Y redo, 0 resets the zoom, 1 or Home fits the
/// drawing, ctrl +/− zoom in and out. Call it only when no text field has the
/// keyboard.
pub fn shortcuts(
    ctx: &Context,
    tools: &mut ToolSettings,
) -> (Option<ViewAction>, Option<ToolbarAction>) {
    let command = ctx.input_mut(|i| {
        if i.consume_key(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z)
            || i.consume_key(Modifiers::COMMAND, Key::Y)
        {
            Some(ToolbarAction::Redo)
        } else if i.consume_key(Modifiers::COMMAND, Key::Z) {
            Some(ToolbarAction::Undo)
        } else {
            None
        }
    });
    let view = ctx.input_mut(|i| {
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
    });
    (view, command)
}
