//! Short messages in the bottom-right corner: what the relay refused, what a
//! board held that was skipped, anything the person should know that needs
//! no answer.
//!
//! A notice for information fades after a few seconds; a warning stays until
//! it is closed. The same text is never listed twice, and only the latest
//! few are kept, so a relay that refuses a burst of changes makes one line,
//! not a wall.

use std::time::Duration;

use egui::{Align2, Color32, Context, RichText, Sense, vec2};

use super::theme::{self, EDGE_GAP};

/// How long a notice for information stays.
const INFO_FOR: Duration = Duration::from_secs(8);
/// How many notices are listed at most; older ones give way.
const MAX_LISTED: usize = 4;
/// How far above the bottom edge the list sits, clear of the bottom bar.
const ABOVE_BOTTOM: f32 = 64.0;

/// How much a notice matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Good to know; fades by itself.
    Info,
    /// Something went wrong or was refused; stays until closed.
    Warning,
}

/// One listed notice.
#[derive(Clone, Debug)]
struct Notice {
    /// What it says.
    text: String,
    /// How much it matters.
    level: Level,
    /// When it was first drawn, in egui's time, for fading; `None` until then.
    since: Option<f64>,
}

/// The notices listed now.
#[derive(Debug, Default)]
pub struct Notices {
    /// Oldest first.
    listed: Vec<Notice>,
}

impl Notices {
    /// Lists `text`, unless the same text is listed already (then it only
    /// starts its time again).
    pub fn push(&mut self, level: Level, text: impl Into<String>) {
        let text = text.into();
        if let Some(same) = self.listed.iter_mut().find(|n| n.text == text) {
            same.since = None;
            return;
        }
        if self.listed.len() == MAX_LISTED {
            self.listed.remove(0);
        }
        self.listed.push(Notice {
            text,
            level,
            since: None,
        });
    }

    /// The texts listed now, oldest first.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.listed.iter().map(|n| n.text.as_str())
    }

    /// Draws the list, drops the notices whose time is up and those closed.
    pub fn notices_ui(&mut self, ctx: &Context) {
        let now = ctx.input(|i| i.time);
        self.listed.retain(|n| match (n.level, n.since) {
            (Level::Info, Some(since)) => now - since < INFO_FOR.as_secs_f64(),
            _ => true,
        });
        if self.listed.is_empty() {
            return;
        }
        let mut closed = None;
        egui::Area::new(egui::Id::unique("tabula-notices"))
            .anchor(Align2::RIGHT_BOTTOM, vec2(-EDGE_GAP, -ABOVE_BOTTOM))
            .show(ctx, |ui| {
                ui.set_max_width(360.0);
                for (index, notice) in self.listed.iter_mut().enumerate() {
                    let since = *notice.since.get_or_insert(now);
                    theme::floating_panel(ui).show(ui, |ui| {
                        ui.horizontal(|ui| {
                            let dot = match notice.level {
                                Level::Info => Color32::from_rgb(0x1c, 0x7e, 0xd6),
                                Level::Warning => Color32::from_rgb(0xf5, 0x9f, 0x00),
                            };
                            let (rect, _) =
                                ui.allocate_exact_size(vec2(10.0, 18.0), Sense::hover());
                            ui.painter().circle_filled(rect.center(), 4.5, dot);
                            ui.add(egui::Label::new(RichText::new(&notice.text)).wrap());
                            if ui
                                .small_button("×")
                                .on_hover_text("Close this message")
                                .clicked()
                            {
                                closed = Some(index);
                            }
                        });
                    });
                    if notice.level == Level::Info {
                        let left = INFO_FOR.as_secs_f64() - (now - since);
                        ctx.request_repaint_after(Duration::from_secs_f64(left.max(0.05)));
                    }
                }
            });
        if let Some(index) = closed {
            self.listed.remove(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_is_listed_once_and_only_the_latest_few_are_kept() {
        let mut notices = Notices::default();
        for _ in 0..3 {
            notices.push(Level::Warning, "refused");
        }
        assert_eq!(notices.texts().collect::<Vec<_>>(), ["refused"]);
        for i in 0..10 {
            notices.push(Level::Info, format!("note {i}"));
        }
        assert_eq!(
            notices.texts().collect::<Vec<_>>(),
            ["note 6", "note 7", "note 8", "note 9"]
        );
    }

    #[test]
    fn information_fades_and_a_warning_stays() {
        let ctx = Context::default();
        let mut notices = Notices::default();
        notices.push(Level::Info, "saved");
        notices.push(Level::Warning, "refused");
        let frame_at = |time: f64, notices: &mut Notices| {
            let input = egui::RawInput {
                time: Some(time),
                ..Default::default()
            };
            let mut output = ctx.run_ui(input, |ui| notices.notices_ui(ui.ctx()));
            output.textures_delta.clear();
        };
        frame_at(1.0, &mut notices);
        frame_at(5.0, &mut notices);
        assert_eq!(notices.texts().count(), 2);
        frame_at(1.0 + INFO_FOR.as_secs_f64() + 0.1, &mut notices);
        assert_eq!(notices.texts().collect::<Vec<_>>(), ["refused"]);
    }
}
