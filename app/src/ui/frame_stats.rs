//! The frame-time overlay, toggled with F12: how long the app takes to build a
//! frame, as it measures it itself, with a sparkline of the last few seconds.
//!
//! Three figures, each the latest frame's and the worst of the samples kept:
//! - *canvas*: painting the board (culling, curves, dots), timed around
//!   `Canvas::paint_ui`;
//! - *ui*: the whole of `TabulaApp::whiteboard_ui` (panels, input, canvas);
//! - *frame*: what eframe reports as the previous frame's CPU time (the UI,
//!   egui's tessellation and the GPU painting calls, without waiting for
//!   vsync); absent in headless tests, which have no eframe frame.
//!
//! The sparkline plots *frame* (or *ui* without it) against a line at 16.7 ms,
//! one frame at 60 Hz. While the overlay shows, a summary of every
//! [`SAMPLES`] frames is also logged at info level, and the environment
//! variable `TABULA_FRAME_STATS=1` shows it from the start (for runs without a
//! keyboard, such as screenshots under a virtual display).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::Duration;

use egui::{Align2, Color32, FontId, Key, Modifiers, Sense, Shape, Stroke, pos2, vec2};

/// How many frames the sparkline and the worst figures cover.
const SAMPLES: usize = 240;
/// The sparkline's size, in points.
const SPARK: egui::Vec2 = vec2(240.0, 36.0);
/// One frame at 60 Hz, the sparkline's reference line.
const BUDGET_MS: f32 = 1000.0 / 60.0;

/// One frame's timings, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FrameSample {
    /// Painting the board.
    pub canvas_ms: f32,
    /// The whole `whiteboard_ui`.
    pub ui_ms: f32,
    /// eframe's CPU time for the frame before, if it ran under eframe.
    pub frame_ms: Option<f32>,
}

/// The overlay's state and the timings it shows.
#[derive(Debug, Default)]
pub struct FrameStats {
    /// Whether the overlay is on screen (F12 toggles it).
    shown: bool,
    /// The latest frames' timings, oldest first, at most [`SAMPLES`].
    samples: VecDeque<FrameSample>,
    /// eframe's figure for the last frame, waiting for this frame's sample.
    eframe_ms: Option<f32>,
    /// Frames recorded since the start, to log a summary every [`SAMPLES`].
    recorded: u64,
}

impl FrameStats {
    /// Hidden, unless the environment variable `TABULA_FRAME_STATS` is set to
    /// anything but `0` or nothing.
    #[must_use]
    pub fn from_env() -> Self {
        let shown =
            std::env::var_os("TABULA_FRAME_STATS").is_some_and(|v| !v.is_empty() && v != "0");
        Self {
            shown,
            ..Self::default()
        }
    }

    /// Whether the overlay is on screen.
    #[must_use]
    pub fn is_shown(&self) -> bool {
        self.shown
    }

    /// The latest frame's timings, if any frame was measured.
    #[must_use]
    pub fn latest(&self) -> Option<FrameSample> {
        self.samples.back().copied()
    }

    /// Toggles the overlay when F12 was pressed this frame.
    pub fn toggle_key_ui(&mut self, ctx: &egui::Context) {
        if ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::F12)) {
            self.shown = !self.shown;
            tracing::debug!(shown = self.shown, "frame-time overlay");
        }
    }

    /// Notes eframe's CPU time for the previous frame (`Frame::info().cpu_usage`).
    pub fn set_eframe_cpu(&mut self, seconds: Option<f32>) {
        self.eframe_ms = seconds.map(|s| s * 1000.0);
    }

    /// Records one frame: `canvas` painting the board, `ui` the whole frame's UI.
    pub fn record(&mut self, canvas: Duration, ui: Duration) {
        if self.samples.len() == SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(FrameSample {
            canvas_ms: canvas.as_secs_f32() * 1000.0,
            ui_ms: ui.as_secs_f32() * 1000.0,
            frame_ms: self.eframe_ms.take(),
        });
        self.recorded += 1;
        if self.shown && self.recorded.is_multiple_of(SAMPLES as u64) {
            let n = self.samples.len() as f32;
            let mean = |f: fn(&FrameSample) -> f32| self.samples.iter().map(f).sum::<f32>() / n;
            tracing::info!(
                frames = self.samples.len(),
                canvas_ms = mean(|s| s.canvas_ms),
                ui_ms = mean(|s| s.ui_ms),
                frame_ms = mean(|s| s.frame_ms.unwrap_or(0.0)),
                "mean frame times"
            );
        }
    }

    /// The overlay, in the top-right corner, when shown. While it shows, the
    /// app repaints continuously so that the figures stay live.
    pub fn overlay_ui(&self, ctx: &egui::Context) {
        if !self.shown {
            return;
        }
        ctx.request_repaint();
        let latest = self.latest().unwrap_or_default();
        let worst = |f: fn(&FrameSample) -> f32| self.samples.iter().map(f).fold(0.0, f32::max);
        let mut text = format!(
            "canvas {:.1} ms (worst {:.1})\nui {:.1} ms (worst {:.1})",
            latest.canvas_ms,
            worst(|s| s.canvas_ms),
            latest.ui_ms,
            worst(|s| s.ui_ms),
        );
        if let Some(frame) = latest.frame_ms {
            let _ = write!(
                text,
                "\nframe {frame:.1} ms (worst {:.1})",
                worst(|s| s.frame_ms.unwrap_or(0.0))
            );
        }
        egui::Area::new(egui::Id::unique("tabula-frame-stats"))
            .anchor(Align2::RIGHT_TOP, vec2(-12.0, 96.0))
            .interactable(false)
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.label(egui::RichText::new(text).font(FontId::monospace(12.0)));
                    self.sparkline_ui(ui);
                });
            });
    }

    /// The last frames' times as a line, against one frame at 60 Hz.
    fn sparkline_ui(&self, ui: &mut egui::Ui) {
        let (rect, _) = ui.allocate_exact_size(SPARK, Sense::hover());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
        let value = |s: &FrameSample| s.frame_ms.unwrap_or(s.ui_ms);
        let top = self
            .samples
            .iter()
            .map(value)
            .fold(2.0 * BUDGET_MS, f32::max);
        let y = |ms: f32| rect.bottom() - (ms / top).min(1.0) * rect.height();
        let budget = y(BUDGET_MS);
        painter.hline(
            rect.x_range(),
            budget,
            Stroke::new(1.0, Color32::from_rgb(0xe0, 0x8a, 0x1e)),
        );
        let step = rect.width() / (SAMPLES - 1) as f32;
        let offset = SAMPLES - self.samples.len();
        let points: Vec<_> = self
            .samples
            .iter()
            .enumerate()
            .map(|(i, s)| pos2(rect.left() + (offset + i) as f32 * step, y(value(s))))
            .collect();
        if points.len() >= 2 {
            painter.add(Shape::line(
                points,
                Stroke::new(1.0, ui.visuals().strong_text_color()),
            ));
        }
        painter.text(
            rect.min + vec2(2.0, 1.0),
            Align2::LEFT_TOP,
            format!("{top:.0} ms"),
            FontId::monospace(9.0),
            ui.visuals().weak_text_color(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_samples_and_takes_eframe_time_once() {
        let mut stats = FrameStats::default();
        stats.set_eframe_cpu(Some(0.004));
        stats.record(Duration::from_millis(1), Duration::from_millis(2));
        let first = stats.latest().expect("a sample");
        assert!((first.frame_ms.expect("eframe's time") - 4.0).abs() < 1.0e-3);
        stats.record(Duration::from_millis(1), Duration::from_millis(2));
        assert_eq!(stats.latest().map(|s| s.frame_ms), Some(None));
        for _ in 0..SAMPLES * 2 {
            stats.record(Duration::ZERO, Duration::ZERO);
        }
        assert_eq!(stats.samples.len(), SAMPLES);
    }
}
