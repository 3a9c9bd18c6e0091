//! Replay mode: the timeline under the canvas.
//!
//! [`ReplayView`] plays a board's history (an opened file's, or the live room's
//! as it stood when replay began) with [`tabula_shared::replay`]: play and
//! pause, a speed from 0.25× to 16×, a scrub slider, steps of one op, jumps to
//! the start and the end, the participants' first and last ops marked on the
//! track, and "compress pauses" (a gap longer than 2 s plays as 2 s). While it
//! shows, the canvas paints the replayed board and nothing can be drawn; "Back
//! to live" returns to the board.

use egui::accesskit::Role;
use egui::{Align2, Color32, Context, Sense, Stroke, Ui, WidgetInfo, vec2};
use tabula_shared::replay::{DEFAULT_MAX_PAUSE_MS, Player, Replay, ReplayError, SPEEDS, Timeline};
use tabula_shared::{Board, SequencedOp};

use crate::presence::identity_color;
use crate::theme;
use crate::timelapse::{self, TimelapseJob};
use crate::toolbar::EDGE_GAP;

/// The height of the bottom bar the timeline floats above.
const BOTTOM_BAR: f32 = 56.0;
/// The width of the scrub slider's rail.
const TRACK_WIDTH: f32 = 640.0;

/// What the timeline asks of the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayAction {
    /// Leave replay mode.
    BackToLive,
}

/// A replay on screen: the ops, the board at the playhead and the clock.
#[derive(Debug)]
pub struct ReplayView {
    /// The ops and the board after any number of them.
    replay: Replay,
    /// When each op happens, pauses compressed or not.
    timeline: Timeline,
    /// Playing or paused, the speed, and the playback clock.
    player: Player,
    /// What is replayed, for the timeline's label ("meeting.tabula", "room").
    title: String,
    /// Whether this is a live room's history, which grows as its ops arrive.
    live: bool,
    /// The folder the timelapse frames go to, as typed.
    timelapse_dir: String,
    /// The timelapse being written, or the last one, for its progress bar.
    timelapse: Option<TimelapseJob>,
}

impl ReplayView {
    /// A replay of `ops`, paused at the start, pauses compressed.
    pub fn new(ops: Vec<SequencedOp>, title: String) -> Result<Self, ReplayError> {
        let replay = Replay::from_ops(ops)?;
        let timeline = Timeline::new(replay.ops(), Some(DEFAULT_MAX_PAUSE_MS));
        Ok(Self {
            replay,
            timeline,
            player: Player::new(),
            title,
            live: false,
            timelapse_dir: "tabula-timelapse".to_owned(),
            timelapse: None,
        })
    }

    /// Marks this replay as a live room's (`true`): [`Self::follow`] adds the
    /// room's new ops to it.
    #[must_use]
    pub fn following(mut self, live: bool) -> Self {
        self.live = live;
        self
    }

    /// Whether this is a live room's history.
    #[must_use]
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// Adds the ops of `log` (the room's whole log) that arrived since; the
    /// playhead stays where it is.
    pub fn follow(&mut self, log: &[SequencedOp]) {
        let known = self.replay.ops().len();
        if log.len() <= known {
            return;
        }
        for op in &log[known..] {
            if let Err(error) = self.replay.push(op.clone()) {
                // The session's log is in sequence by construction.
                tracing::error!(%error, "cannot follow the room's log");
                return;
            }
        }
        self.timeline = Timeline::new(self.replay.ops(), self.timeline.max_pause_ms());
    }

    /// The board at the playhead.
    #[must_use]
    pub fn board(&self) -> &Board {
        self.replay.board()
    }

    /// The replay, for its position and length.
    #[must_use]
    pub fn replay(&self) -> &Replay {
        &self.replay
    }

    /// The player, for whether it plays and how fast.
    #[must_use]
    pub fn player(&self) -> &Player {
        &self.player
    }

    /// Whether long pauses are compressed.
    #[must_use]
    pub fn compresses_pauses(&self) -> bool {
        self.timeline.max_pause_ms().is_some()
    }

    /// Turns the compression of long pauses on or off, keeping the playhead.
    pub fn set_compress_pauses(&mut self, compress: bool) {
        if compress != self.compresses_pauses() {
            let max = compress.then_some(DEFAULT_MAX_PAUSE_MS);
            self.timeline = Timeline::new(self.replay.ops(), max);
            self.player.sync(&self.replay, &self.timeline);
        }
    }

    /// Starts or stops playing.
    pub fn toggle_play(&mut self) {
        if self.player.is_playing() {
            self.player.pause();
        } else {
            self.player.play(&mut self.replay, &self.timeline);
        }
    }

    /// Shows the board after `k` ops.
    pub fn seek(&mut self, k: u64) {
        self.replay.seek(k);
        self.player.sync(&self.replay, &self.timeline);
    }

    /// Lets `elapsed_ms` of real time pass while playing.
    pub fn advance(&mut self, elapsed_ms: f64) -> bool {
        self.player
            .tick(&mut self.replay, &self.timeline, elapsed_ms)
    }

    /// The timeline panel, bottom centre, for one frame; moves the clock by
    /// the frame's time while playing.
    pub fn timeline_ui(&mut self, ctx: &Context) -> Option<ReplayAction> {
        if self.player.is_playing() {
            let dt = ctx.input(|i| i.stable_dt);
            self.advance(f64::from(dt) * 1000.0);
            ctx.request_repaint();
        }
        let mut action = None;
        egui::Area::new(egui::Id::unique("tabula-replay-timeline"))
            // Above the bottom bar (zoom, undo, export), which stays usable.
            .anchor(Align2::CENTER_BOTTOM, vec2(0.0, -(EDGE_GAP + BOTTOM_BAR)))
            .show(ctx, |ui| {
                theme::floating_panel(ui).show(ui, |ui| {
                    ui.set_width(720.0);
                    action = self.controls_ui(ui);
                    self.track_ui(ui);
                    self.timelapse_ui(ui);
                });
            });
        action
    }

    /// The buttons, the speed and the toggle.
    fn controls_ui(&mut self, ui: &mut Ui) -> Option<ReplayAction> {
        let mut action = None;
        let len = self.replay.len();
        let position = self.replay.position();
        ui.horizontal(|ui| {
            let live = if self.live { " (live)" } else { "" };
            ui.strong(format!("Replay: {}{live}", self.title));
            ui.separator();
            if ui.button("«").on_hover_text("Jump to the start").clicked() {
                self.seek(0);
            }
            if ui.button("‹").on_hover_text("One op back").clicked() {
                self.player.pause();
                self.seek(position.saturating_sub(1));
            }
            let play = if self.player.is_playing() {
                "Pause"
            } else {
                "Play"
            };
            // As wide for "Pause" as for "Play", so nothing shifts.
            if ui
                .add(egui::Button::new(play).min_size(vec2(52.0, 0.0)))
                .clicked()
            {
                self.toggle_play();
            }
            if ui.button("›").on_hover_text("One op forward").clicked() {
                self.player.pause();
                self.seek(position + 1);
            }
            if ui.button("»").on_hover_text("Jump to the end").clicked() {
                self.player.pause();
                self.seek(len);
            }
            ui.separator();
            let mut speed = self.player.speed();
            egui::ComboBox::from_label("speed")
                .width(64.0)
                .selected_text(speed_label(speed))
                .show_ui(ui, |ui| {
                    for s in SPEEDS {
                        ui.selectable_value(&mut speed, s, speed_label(s));
                    }
                });
            self.player.set_speed(speed);
            let mut compress = self.compresses_pauses();
            if ui
                .checkbox(&mut compress, "Compress pauses")
                .on_hover_text("Gaps longer than 2 s play as 2 s")
                .changed()
            {
                self.set_compress_pauses(compress);
            }
            ui.separator();
            ui.label(format!("op {position} / {len}"));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button("Back to live").clicked() {
                    action = Some(ReplayAction::BackToLive);
                }
            });
        });
        action
    }

    /// The scrub slider, with the participants' markers under it.
    fn track_ui(&mut self, ui: &mut Ui) {
        let len = self.replay.len();
        let mut position = self.replay.position();
        ui.spacing_mut().slider_width = TRACK_WIDTH;
        let slider = ui.add(
            egui::Slider::new(&mut position, 0..=len.max(1))
                .show_value(false)
                .text("position"),
        );
        if slider.changed() {
            self.seek(position);
        }
        // One row per person, so that overlapping spans stay apart.
        let rows = self.replay.participants().len().max(1);
        let (rect, response) =
            ui.allocate_exact_size(vec2(TRACK_WIDTH, 10.0 * rows as f32), Sense::hover());
        response.widget_info(|| WidgetInfo::labeled(Role::Group, true, "participants"));
        let painter = ui.painter();
        let x_of = |k: u64| {
            let t = if len == 0 { 0.0 } else { k as f32 / len as f32 };
            // The handle's centre stays half its width inside the rail.
            let handle = ui.spacing().interact_size.y / 2.0;
            rect.left() + handle + t * (TRACK_WIDTH - 2.0 * handle)
        };
        for (row, p) in self.replay.participants().iter().enumerate() {
            let y = rect.top() + 5.0 + 10.0 * row as f32;
            let color = identity_color(p.author);
            let color = Color32::from_rgba_unmultiplied(color.r, color.g, color.b, color.a);
            let (a, b) = (x_of(p.first), x_of(p.last));
            painter.line_segment(
                [egui::pos2(a, y), egui::pos2(b, y)],
                Stroke::new(2.0, color.gamma_multiply(0.5)),
            );
            painter.circle_filled(egui::pos2(a, y), 4.0, color);
            painter.circle_stroke(egui::pos2(b, y), 4.0, Stroke::new(1.5, color));
        }
        response.on_hover_text("Where each person made their first op (dot) and last op (ring)");
    }
}

impl ReplayView {
    /// The timelapse row: the folder, the button, and the progress bar.
    fn timelapse_ui(&mut self, ui: &mut Ui) {
        if let Some(job) = &mut self.timelapse {
            job.poll();
        }
        ui.horizontal(|ui| {
            let running = self
                .timelapse
                .as_ref()
                .is_some_and(|job| job.outcome().is_none());
            let label = ui.label("Timelapse frames to");
            ui.add(egui::TextEdit::singleline(&mut self.timelapse_dir).desired_width(220.0))
                .labelled_by(label.id);
            let export = ui.add_enabled(!running, egui::Button::new("Export frames"));
            if export.clicked() && !self.timelapse_dir.trim().is_empty() {
                self.start_timelapse(ui.ctx());
            }
            match &self.timelapse {
                Some(job) if job.outcome().is_none() => {
                    let (done, total) = job.counts();
                    ui.add(
                        egui::ProgressBar::new(job.fraction())
                            .text(format!("{done} / {total}"))
                            .desired_width(160.0),
                    );
                }
                Some(job) => match job.outcome() {
                    Some(Ok(n)) => {
                        ui.label(format!("{n} frames in {}", job.dir().display()));
                    }
                    Some(Err(error)) => {
                        ui.colored_label(ui.visuals().error_fg_color, error);
                    }
                    None => {}
                },
                None => {}
            }
        });
    }

    /// Starts writing frames: 30 a second of playback at the chosen speed.
    fn start_timelapse(&mut self, ctx: &Context) {
        let seconds = self.timeline.duration_ms() as f64 / 1000.0 / self.player.speed();
        let frames = ((seconds * 30.0).ceil() as usize).clamp(2, 3000);
        let positions = timelapse::frame_positions(&self.timeline, frames);
        let dir = std::path::PathBuf::from(self.timelapse_dir.trim());
        let ctx = ctx.clone();
        match TimelapseJob::start(self.replay.clone(), positions, dir, move || {
            ctx.request_repaint();
        }) {
            Ok(job) => self.timelapse = Some(job),
            // No thread could be started: said once, in the log.
            Err(error) => tracing::error!(%error, "cannot start the timelapse"),
        }
    }
}

/// "4×", "0.25×".
fn speed_label(speed: f64) -> String {
    format!("{speed}×")
}
