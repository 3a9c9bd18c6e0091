//! Replay mode: the timeline under the canvas.
//!
//! [`ReplayView`] plays a board's history (an opened file's, or the live room's
//! as it stood when replay began) with [`tabula_shared::replay`]: play and
//! pause, a speed from 0.25× to 16×, a scrub slider, steps of one op, jumps to
//! the start and the end, and "compress pauses" (a gap longer than 2 s plays as
//! 2 s). Under the slider, one row per participant shows when they were there:
//! each visit a line from the op that recorded them joining (a dot) to the one
//! that recorded them leaving (a ring), or to the end if they stayed; for
//! someone whose join was never recorded (a local board, an older file), a
//! plain line from their first op to their last. Hovering the rows names
//! everyone, with when they came and went (in the session's time, pauses not
//! compressed) and how many ops they made. Under the rows, what the room's
//! operators did (a role given, a kick, the lock, view-only) shows as a
//! diamond per record on its own row, each put in words on hover ("0:42 Ana
//! removed Bo"). While the replay
//! shows, the canvas paints the replayed board and nothing can be drawn; "Back
//! to live" returns to the board.

use egui::accesskit::Role;
use egui::{Align2, Color32, Context, Sense, Stroke, Ui, WidgetInfo, vec2};
use tabula_shared::replay::{
    DEFAULT_MAX_PAUSE_MS, Participant, Player, Replay, ReplayError, SPEEDS, Timeline, Visit,
};
use tabula_shared::{Board, Moderated, OpKind, SequencedOp};

use super::presence::identity_color;
use super::theme::{self, EDGE_GAP};
use crate::export::timelapse::{self, TimelapseJob};

/// The height of the bottom bar the timeline floats above.
const BOTTOM_BAR: f32 = 56.0;
/// The width of the scrub slider's rail.
const TRACK_WIDTH: f32 = 640.0;
/// The width of the timeline panel's contents: room for the controls row with
/// a title of [`TITLE_WIDTH`] and a four-digit op count.
const PANEL_WIDTH: f32 = 760.0;
/// The most width the replay's title takes in the controls row.
const TITLE_WIDTH: f32 = 170.0;
/// The height of one participant's row under the slider.
const ROW_HEIGHT: f32 = 10.0;
/// The most height the participants' rows take; more people get thinner rows.
const MAX_STRIP_HEIGHT: f32 = 120.0;
/// What the participants' strip says while nobody is in the replay.
const NOBODY: &str = "Nobody has joined or made an op yet";

/// What the timeline asks of the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayAction {
    /// Leave replay mode.
    BackToLive,
    /// Choose the timelapse's folder in the system's file dialog.
    ChooseTimelapseFolder,
    /// Open the board as it was after op `at`, with its history to there, as
    /// a new local board.
    StartNewBoard {
        /// The last op the new board holds.
        at: u64,
    },
    /// Bring the live board back to how it was after op `at`, with ordinary
    /// ops that everyone sees and its author can undo.
    RestoreTo {
        /// The op whose board comes back.
        at: u64,
    },
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
    /// A word beside the folder field (that there is no system file dialog).
    timelapse_note: Option<&'static str>,
    /// Set when the folder is to be typed: the field takes the keyboard once.
    focus_timelapse_dir: bool,
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
            timelapse_note: None,
            focus_timelapse_dir: false,
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
    /// the frame's time while playing. `offers_dialogs`: the system has file
    /// dialogs, so the timelapse's folder can be chosen in one.
    pub fn timeline_ui(&mut self, ctx: &Context, offers_dialogs: bool) -> Option<ReplayAction> {
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
                    ui.set_width(PANEL_WIDTH);
                    action = self.controls_ui(ui);
                    self.track_ui(ui);
                    action = self.moment_ui(ui).or(action);
                    action = self.timelapse_ui(ui, offers_dialogs).or(action);
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
            // A long file name or room address is cut short (whole on hover)
            // rather than pushing the rest of the row under "Back to live".
            ui.scope(|ui| {
                ui.set_max_width(TITLE_WIDTH);
                ui.add(
                    egui::Label::new(
                        egui::RichText::new(format!("Replay: {}{live}", self.title)).strong(),
                    )
                    .truncate(),
                );
            });
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

    /// What can be done with the moment at the playhead: a new board from
    /// it, or the board brought back to it.
    fn moment_ui(&self, ui: &mut Ui) -> Option<ReplayAction> {
        let at = self.replay.position();
        let mut action = None;
        ui.horizontal(|ui| {
            ui.label(format!("At op {at}:"));
            if ui
                .button("Start a new board from here")
                .on_hover_text(
                    "Open the board as it was here, with its history to here, as a new board \
                     of your own (this one stays as it is)",
                )
                .clicked()
            {
                action = Some(ReplayAction::StartNewBoard { at });
            }
            let changed = at < self.replay.len();
            if ui
                .add_enabled(changed, egui::Button::new("Restore to here"))
                .on_hover_text(
                    "Bring the board back to how it was here, as one change everyone sees; \
                     undo takes it back, and the history after it stays",
                )
                .clicked()
            {
                action = Some(ReplayAction::RestoreTo { at });
            }
        });
        action
    }

    /// The scrub slider, with the participants' visits under it.
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
        self.participants_ui(ui);
        self.moderation_ui(ui);
    }

    /// What the room's operators did, a diamond each at its op, in words on
    /// hover; nothing when they did nothing.
    fn moderation_ui(&self, ui: &mut Ui) {
        let done: Vec<String> = self
            .replay
            .moderation()
            .map(|(op, what)| {
                let time = clock(session_time(&self.replay, op.seq));
                format!("{time} {}", moderation_sentence(&self.replay, op, what))
            })
            .collect();
        if done.is_empty() {
            return;
        }
        let len = self.replay.len();
        let (rect, response) =
            ui.allocate_exact_size(vec2(TRACK_WIDTH, ROW_HEIGHT), Sense::hover());
        response.widget_info(|| WidgetInfo::labeled(Role::Group, true, "room events"));
        let handle = ui.spacing().interact_size.y / 2.0;
        let color = ui.visuals().warn_fg_color;
        for (op, _) in self.replay.moderation() {
            let t = if len == 0 {
                0.0
            } else {
                op.seq as f32 / len as f32
            };
            let x = rect.left() + handle + t * (TRACK_WIDTH - 2.0 * handle);
            let c = egui::pos2(x, rect.center().y);
            let r = ROW_HEIGHT * 0.4;
            ui.painter().add(egui::Shape::convex_polygon(
                vec![
                    c + vec2(0.0, -r),
                    c + vec2(r, 0.0),
                    c + vec2(0.0, r),
                    c + vec2(-r, 0.0),
                ],
                color,
                Stroke::NONE,
            ));
        }
        let description = done.join("\n");
        let ctx = ui.ctx();
        if ctx.accesskit_node_builder(response.id, |_| ()).is_some() {
            ctx.accesskit_node_builder(response.id, |node| {
                node.set_description(description.clone());
            });
        }
        response.on_hover_ui(|ui| {
            ui.label(egui::RichText::new("What the operators did").strong());
            for line in &done {
                ui.label(line);
            }
        });
    }

    /// One row per person, so that overlapping visits stay apart, and who they
    /// are on hover.
    fn participants_ui(&self, ui: &mut Ui) {
        let len = self.replay.len();
        let participants = self.replay.participants();
        let rows = participants.len().max(1) as f32;
        // A crowd shares the strip's most height in thinner rows.
        let height = (ROW_HEIGHT * rows).min(MAX_STRIP_HEIGHT);
        let row_height = height / rows;
        let radius = (row_height * 0.4).min(4.0);
        let (rect, response) = ui.allocate_exact_size(vec2(TRACK_WIDTH, height), Sense::hover());
        response.widget_info(|| WidgetInfo::labeled(Role::Group, true, "participants"));
        let painter = ui.painter();
        // The handle's centre stays half its width inside the rail.
        let handle = ui.spacing().interact_size.y / 2.0;
        let x_of = |k: u64| {
            let t = if len == 0 { 0.0 } else { k as f32 / len as f32 };
            rect.left() + handle + t * (TRACK_WIDTH - 2.0 * handle)
        };
        for (row, p) in participants.iter().enumerate() {
            let y = rect.top() + row_height * (row as f32 + 0.5);
            let color = participant_color(p);
            for visit in &p.visits {
                let (joined, left) = (x_of(visit.joined), x_of(visit.left.unwrap_or(len)));
                painter.line_segment(
                    [egui::pos2(joined, y), egui::pos2(left, y)],
                    Stroke::new(2.0, color.gamma_multiply(0.5)),
                );
                let (came, went) = recorded(&self.replay, visit);
                if came {
                    painter.circle_filled(egui::pos2(joined, y), radius, color);
                } else {
                    // Their first op: a tick, not a join.
                    end_tick(painter, egui::pos2(joined, y), radius, color);
                }
                match visit.left {
                    Some(_) if went => {
                        let ring = Stroke::new(1.5, color);
                        painter.circle_stroke(egui::pos2(left, y), radius, ring);
                    }
                    Some(_) => end_tick(painter, egui::pos2(left, y), radius, color),
                    // Still there at the end.
                    None => {}
                }
            }
        }
        // Put into words only for a screen reader (or a test), and on hover.
        let ctx = ui.ctx();
        if ctx.accesskit_node_builder(response.id, |_| ()).is_some() {
            let description = if participants.is_empty() {
                NOBODY.to_owned()
            } else {
                self.people()
                    .iter()
                    .map(|person| format!("{}: {}", person.name, person.detail))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            ctx.accesskit_node_builder(response.id, |node| node.set_description(description));
        }
        response.on_hover_ui(|ui| {
            participants_tooltip_ui(ui, &self.people(), self.all_recorded());
        });
    }

    /// Whether every visit on the track starts with a recorded join and ends
    /// with a recorded leave (or lasts to the end): then the key leaves out
    /// the ticks of first and last ops.
    fn all_recorded(&self) -> bool {
        self.replay.participants().iter().all(|p| {
            p.visits.iter().all(|visit| {
                let (came, went) = recorded(&self.replay, visit);
                came && (went || visit.left.is_none())
            })
        })
    }

    /// Everyone in the replay, in words.
    fn people(&self) -> Vec<Person> {
        self.replay
            .participants()
            .iter()
            .map(|p| Person {
                color: participant_color(p),
                name: participant_name(p),
                detail: participant_detail(&self.replay, p),
            })
            .collect()
    }
}

impl ReplayView {
    /// The timelapse row: the folder, the buttons, and the progress bar with
    /// Cancel, or how the last one ended.
    fn timelapse_ui(&mut self, ui: &mut Ui, offers_dialogs: bool) -> Option<ReplayAction> {
        let mut action = None;
        ui.horizontal(|ui| {
            let running = self
                .timelapse
                .as_ref()
                .is_some_and(|job| job.outcome().is_none());
            let label = ui.label("Timelapse frames to");
            let field = ui
                .add_enabled(
                    !running,
                    egui::TextEdit::singleline(&mut self.timelapse_dir).desired_width(200.0),
                )
                .labelled_by(label.id);
            if std::mem::take(&mut self.focus_timelapse_dir) {
                field.request_focus();
            }
            if offers_dialogs
                && ui
                    .add_enabled(!running, egui::Button::new("Choose…"))
                    .on_hover_text("Choose the folder in the system's file dialog")
                    .clicked()
            {
                action = Some(ReplayAction::ChooseTimelapseFolder);
            }
            let export = ui.add_enabled(!running, egui::Button::new("Export frames"));
            if export.clicked() && !self.timelapse_dir.trim().is_empty() {
                self.timelapse_note = None;
                self.start_timelapse(ui.ctx());
            }
            if let Some(note) = self.timelapse_note {
                ui.label(egui::RichText::new(note).small().italics());
            }
            match &self.timelapse {
                Some(job) if job.outcome().is_none() => {
                    let (done, total) = job.counts();
                    ui.add(
                        egui::ProgressBar::new(job.fraction())
                            .text(format!("{done} / {total}"))
                            .desired_width(140.0),
                    );
                    let cancel = ui.add_enabled(!job.is_cancelled(), egui::Button::new("Cancel"));
                    if cancel
                        .on_hover_text("Stop after the frame being written")
                        .clicked()
                    {
                        job.cancel();
                    }
                }
                Some(job) => match job.outcome() {
                    Some(Ok(written)) if written.stopped_early() => {
                        ui.label(format!(
                            "Cancelled: {} of {} frames written to {}",
                            written.frames,
                            written.of,
                            job.dir().display()
                        ));
                    }
                    Some(Ok(written)) => {
                        ui.label(format!(
                            "{} frames in {}",
                            written.frames,
                            job.dir().display()
                        ));
                    }
                    Some(Err(error)) => {
                        ui.colored_label(ui.visuals().error_fg_color, error);
                    }
                    None => {}
                },
                None => {}
            }
        });
        action
    }

    /// What the system's file dialog is asked for the timelapse: a folder,
    /// starting from the one typed.
    #[must_use]
    pub fn timelapse_request(&self) -> crate::ui::file_dialog::Request {
        use crate::ui::file_dialog::{Kind, Request};
        let typed = std::path::PathBuf::from(self.timelapse_dir.trim());
        let start = if typed.is_dir() {
            Some(typed)
        } else {
            typed.parent().map(std::path::Path::to_path_buf)
        };
        Request::new(Kind::Folder, "Timelapse frames to").in_folder(start)
    }

    /// The folder was chosen in the system's dialog: the field says it.
    pub fn set_timelapse_dir(&mut self, dir: &std::path::Path) {
        self.timelapse_dir = dir.display().to_string();
    }

    /// The folder is to be typed: the field takes the keyboard, with `note`
    /// beside it if there is one.
    pub fn type_timelapse_dir(&mut self, note: Option<&'static str>) {
        self.focus_timelapse_dir = true;
        if note.is_some() {
            self.timelapse_note = note;
        }
    }

    /// The timelapse being written, or the last one written.
    #[must_use]
    pub fn timelapse(&self) -> Option<&TimelapseJob> {
        self.timelapse.as_ref()
    }

    /// Takes in how far the frames being written have come (or how they
    /// ended); the app calls it once a frame, with the other jobs.
    pub fn poll_timelapse(&mut self) {
        if let Some(job) = &mut self.timelapse {
            job.poll();
        }
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

/// One participant, in words and colour, for the tooltip.
struct Person {
    /// Their colour on the track.
    color: Color32,
    /// Their name, or the start of their id.
    name: String,
    /// When they were there and how many ops they made.
    detail: String,
}

/// The participants' tooltip: a row per person, in their colour, and the key
/// to the marks (the ticks only if some visit has them).
fn participants_tooltip_ui(ui: &mut Ui, people: &[Person], all_recorded: bool) {
    if people.is_empty() {
        ui.label(NOBODY);
        return;
    }
    egui::Grid::new("tabula-replay-participants")
        .num_columns(2)
        .spacing(vec2(8.0, 4.0))
        .show(ui, |ui| {
            for person in people {
                ui.horizontal(|ui| {
                    let (dot, _) = ui.allocate_exact_size(vec2(10.0, 10.0), Sense::hover());
                    ui.painter().circle_filled(dot.center(), 4.0, person.color);
                    ui.strong(&person.name);
                });
                ui.label(&person.detail);
                ui.end_row();
            }
        });
    ui.add_space(2.0);
    // The key to the marks, drawn as on the track.
    ui.horizontal(|ui| {
        let weak = ui.visuals().weak_text_color();
        let mark = |ui: &mut Ui, paint: &dyn Fn(&egui::Painter, egui::Pos2)| {
            let (rect, _) = ui.allocate_exact_size(vec2(10.0, 10.0), Sense::hover());
            paint(ui.painter(), rect.center());
        };
        mark(ui, &|painter, at| {
            painter.circle_filled(at, 4.0, weak);
        });
        ui.weak("joined");
        mark(ui, &|painter, at| {
            painter.circle_stroke(at, 4.0, Stroke::new(1.5, weak));
        });
        ui.weak("left");
        if !all_recorded {
            mark(ui, &|painter, at| end_tick(painter, at, 4.0, weak));
            ui.weak("first or last op (no join or leave recorded)");
        }
    });
}

/// A short upright stroke, as tall as a dot of `radius`: the end of a visit
/// that no join or leave recorded.
fn end_tick(painter: &egui::Painter, at: egui::Pos2, radius: f32, color: Color32) {
    painter.line_segment(
        [at - vec2(0.0, radius), at + vec2(0.0, radius)],
        Stroke::new(2.0, color),
    );
}

/// Whether the relay recorded the start and the end of `visit` (rather than
/// the replay standing in someone's first and last ops).
fn recorded(replay: &Replay, visit: &Visit) -> (bool, bool) {
    let kind = |k: Option<u64>| k.and_then(|k| replay.op(k)).map(|o| &o.op.kind);
    (
        matches!(kind(Some(visit.joined)), Some(OpKind::Joined { .. })),
        matches!(kind(visit.left), Some(OpKind::Left)),
    )
}

/// The colour someone joined with, or the one the app gives their id.
fn participant_color(p: &Participant) -> Color32 {
    let color = p
        .identity
        .as_ref()
        .map_or_else(|| identity_color(p.author), |(_, color)| *color);
    Color32::from_rgba_unmultiplied(color.r, color.g, color.b, color.a)
}

/// The name someone joined with, or the start of their id.
fn participant_name(p: &Participant) -> String {
    match &p.identity {
        Some((name, _)) if !name.trim().is_empty() => name.clone(),
        _ => p.author.to_string(),
    }
}

/// When someone was there and how much they did, in time since the first op:
/// "joined 0:05, left 1:20 · 12 ops", or for someone whose join was not
/// recorded, "active from 0:05 to 1:20 · 12 ops". The times are the session's
/// own, whether or not the replay compresses its pauses (there is no playback
/// clock on screen to read compressed times against).
fn participant_detail(replay: &Replay, p: &Participant) -> String {
    let at = |k: u64| clock(session_time(replay, k));
    let visits: Vec<String> = p
        .visits
        .iter()
        .map(|visit| {
            let (came, went) = recorded(replay, visit);
            match (came, visit.left) {
                (true, Some(left)) if went => {
                    format!("joined {}, left {}", at(visit.joined), at(left))
                }
                (true, Some(left)) => format!("joined {}, last op {}", at(visit.joined), at(left)),
                (true, None) => format!("joined {}, still there at the end", at(visit.joined)),
                (false, Some(left)) if went => {
                    format!("first op {}, left {}", at(visit.joined), at(left))
                }
                (false, Some(left)) if left == visit.joined => format!("active at {}", at(left)),
                (false, Some(left)) => format!("active from {} to {}", at(visit.joined), at(left)),
                (false, None) => format!("first op {}, still there at the end", at(visit.joined)),
            }
        })
        .collect();
    let ops = match p.ops {
        0 => "no ops".to_owned(),
        1 => "1 op".to_owned(),
        n => format!("{n} ops"),
    };
    format!("{} · {ops}", visits.join("; "))
}

/// What an operator did, as a sentence naming them and whom it was about.
fn moderation_sentence(replay: &Replay, op: &SequencedOp, what: &Moderated) -> String {
    let name = |client| {
        replay
            .participants()
            .iter()
            .find(|p| p.author == client)
            .map_or_else(|| client.to_string(), participant_name)
    };
    let who = name(op.author);
    match what {
        Moderated::Role { client, role } => {
            format!(
                "{who} made {} {}",
                name(*client),
                match role {
                    tabula_shared::access::Role::Operator => "an operator",
                    tabula_shared::access::Role::Editor => "an editor",
                    tabula_shared::access::Role::Viewer => "a viewer",
                }
            )
        }
        Moderated::Kicked { client } => format!("{who} removed {}", name(*client)),
        Moderated::Locked(true) => format!("{who} locked the room"),
        Moderated::Locked(false) => format!("{who} opened the room"),
        Moderated::ViewOnly(true) => format!("{who} made the room view-only"),
        Moderated::ViewOnly(false) => format!("{who} let everyone edit again"),
    }
}

/// When op `k` happened, in milliseconds since the first op.
fn session_time(replay: &Replay, k: u64) -> u64 {
    match (replay.op(1), replay.op(k)) {
        (Some(first), Some(op)) => op.timestamp_ms.saturating_sub(first.timestamp_ms),
        _ => 0,
    }
}

/// Milliseconds as "m:ss".
fn clock(ms: u64) -> String {
    let seconds = ms / 1000;
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

#[cfg(test)]
mod tests {
    use super::clock;

    #[test]
    fn times_read_as_minutes_and_seconds() {
        assert_eq!(clock(0), "0:00");
        assert_eq!(clock(9_999), "0:09");
        assert_eq!(clock(61_000), "1:01");
        assert_eq!(clock(3_725_000), "62:05");
    }
}
