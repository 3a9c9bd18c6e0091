//! The look: spacing, corner radii and colours for egui's light and dark themes,
//! the frame of the floating panels over the board, the board's paper, and the
//! sizes the panels share.
//!
//! The app follows the system's light or dark preference (light when the system
//! does not say). The board itself stays paper-white in both, like a whiteboard.

use egui::{Color32, CornerRadius, Frame, Margin, Shadow, Stroke, Style, Theme, Ui, vec2};

/// Sets both themes' styles on `ctx`, light when the system has no preference,
/// and takes ctrl +/− away from egui's UI scaling (they zoom the board instead).
pub fn apply(ctx: &egui::Context) {
    ctx.options_mut(|o| {
        o.fallback_theme = Theme::Light;
        o.zoom_with_keyboard = false;
    });
    ctx.style_mut_of(Theme::Light, |style| tune(style, false));
    ctx.style_mut_of(Theme::Dark, |style| tune(style, true));
}

/// Rounder, roomier widgets than egui's defaults, and calmer colours.
fn tune(style: &mut Style, dark: bool) {
    let spacing = &mut style.spacing;
    spacing.item_spacing = vec2(6.0, 6.0);
    spacing.button_padding = vec2(8.0, 4.0);
    spacing.interact_size.y = 24.0;
    spacing.window_margin = Margin::same(14);

    let visuals = &mut style.visuals;
    let radius = CornerRadius::same(6);
    for widget in [
        &mut visuals.widgets.noninteractive,
        &mut visuals.widgets.inactive,
        &mut visuals.widgets.hovered,
        &mut visuals.widgets.active,
        &mut visuals.widgets.open,
    ] {
        widget.corner_radius = radius;
    }
    visuals.widgets.hovered.expansion = 0.0;
    visuals.widgets.active.expansion = 0.0;
    visuals.window_corner_radius = CornerRadius::same(12);
    visuals.menu_corner_radius = CornerRadius::same(10);
    visuals.window_shadow = soft_shadow(dark);
    visuals.popup_shadow = soft_shadow(dark);
    // A tint of the accent behind selected things, the accent itself on top.
    visuals.selection.bg_fill = if dark {
        Color32::from_rgb(0x3a, 0x3a, 0x78)
    } else {
        Color32::from_rgb(0xe4, 0xe4, 0xfb)
    };
    visuals.selection.stroke = Stroke::new(
        1.0,
        if dark {
            Color32::from_rgb(0xc4, 0xc4, 0xff)
        } else {
            ACCENT
        },
    );
    if !dark {
        visuals.window_fill = Color32::WHITE;
        visuals.panel_fill = Color32::from_rgb(0xf6, 0xf6, 0xf7);
        visuals.window_stroke = Stroke::new(1.0, Color32::from_rgb(0xe3, 0xe3, 0xe8));
        visuals.widgets.inactive.weak_bg_fill = Color32::from_rgb(0xf1, 0xf1, 0xf4);
        visuals.widgets.inactive.bg_fill = Color32::from_rgb(0xf1, 0xf1, 0xf4);
        visuals.widgets.hovered.weak_bg_fill = Color32::from_rgb(0xe6, 0xe6, 0xec);
        visuals.widgets.hovered.bg_fill = Color32::from_rgb(0xe6, 0xe6, 0xec);
        visuals.widgets.hovered.bg_stroke = Stroke::NONE;
        visuals.extreme_bg_color = Color32::WHITE;
    }
}

/// The accent colour: selections, the active tool, the primary button.
pub const ACCENT: Color32 = Color32::from_rgb(0x5b, 0x5b, 0xd6);

/// The board's background.
pub const PAPER: Color32 = Color32::from_rgb(0xfb, 0xfb, 0xfa);

/// Gap between a floating panel and the window's edge.
pub const EDGE_GAP: f32 = 12.0;

/// The File menu's area (top left), which the toolbar keeps clear of in a
/// narrow window.
pub const FILE_MENU_AREA: &str = "tabula-file-menu";
/// The side of a tool button, a swatch or a width button.
pub const BUTTON_SIZE: f32 = 32.0;

/// Black or white, whichever reads better on `background`.
#[must_use]
pub fn readable_on(background: Color32) -> Color32 {
    let [r, g, b, _] = background.to_array();
    let luma = 0.299 * f32::from(r) + 0.587 * f32::from(g) + 0.114 * f32::from(b);
    if luma > 160.0 {
        Color32::from_rgb(0x1e, 0x1e, 0x24)
    } else {
        Color32::WHITE
    }
}

/// A shadow that lifts a panel off the board without a hard edge.
fn soft_shadow(dark: bool) -> Shadow {
    Shadow {
        offset: [0, 4],
        blur: 16,
        spread: 0,
        color: Color32::from_black_alpha(if dark { 90 } else { 28 }),
    }
}

/// The frame of a floating panel (toolbar, zoom bar, people chip).
pub fn floating_panel(ui: &Ui) -> Frame {
    let visuals = ui.visuals();
    Frame::new()
        .fill(visuals.window_fill)
        .stroke(visuals.window_stroke)
        .corner_radius(CornerRadius::same(12))
        .inner_margin(Margin::symmetric(8, 6))
        .shadow(soft_shadow(visuals.dark_mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_on_tags_stays_readable() {
        assert_eq!(
            readable_on(Color32::from_rgb(0x19, 0x71, 0xc2)),
            Color32::WHITE
        );
        assert_ne!(
            readable_on(Color32::from_rgb(0xf5, 0xb7, 0x00)),
            Color32::WHITE
        );
    }
}
