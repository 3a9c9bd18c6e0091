//! Seeing each other, as one frame of the window does it: the others'
//! pointers, the laser trails ([`crate::laser`]), following someone's view
//! and presenting ([`crate::follow`]), and the bar that says so.
//!
//! The app calls [`Together::begin_frame`] before its panels (so that a
//! zoom button, a tool key or a pan of the person's own is told from the
//! camera moves of following), [`Together::after_input`] once the canvas
//! has taken its input, [`Together::paint`] after the board is painted, and
//! hands it what was asked for in the people list ([`Together::act`]).

use egui::{Align2, Context, Id, RichText, Sense, Stroke, StrokeKind, Ui, vec2};

use crate::canvas::camera::Camera;
use crate::canvas::convert::color32;
use crate::canvas::tools::{Tool, ToolSettings};
use crate::canvas::{Canvas, CanvasInput, PeerCursor};
use crate::follow::{Follow, FollowAction};
use crate::laser::Lasers;
use crate::session::Session;
use crate::ui::theme::{self, EDGE_GAP};
use crate::ui::toolbar::toolbar_rect;

/// The longest step of following's travel, in seconds: a frame after a
/// long pause moves as if it came on time.
const MAX_STEP_SECONDS: f32 = 0.1;

/// The pointers, trails, following and presenting of one window.
#[derive(Debug, Default)]
pub struct Together {
    /// Every laser trail on screen.
    lasers: Lasers,
    /// Whom we follow, and the view we show the others.
    follow: Follow,
    /// The camera and the tool as the frame began.
    frame_start: Option<(Camera, Tool)>,
}

impl Together {
    /// The laser trails.
    #[must_use]
    pub fn lasers(&self) -> &Lasers {
        &self.lasers
    }

    /// Following.
    #[must_use]
    pub fn follow(&self) -> &Follow {
        &self.follow
    }

    /// Before the panels: the camera and the tool as the frame begins.
    pub fn begin_frame(&mut self, canvas: &Canvas, tools: &ToolSettings) {
        self.frame_start = Some((*canvas.camera(), tools.tool));
    }

    /// After the canvas took its input (and before it is painted): our laser
    /// draws, the others' trails come in, following stops on an input of
    /// our own or moves the view on, and the room hears of our view. Returns
    /// a sentence for the person when following ended by itself.
    pub fn after_input(
        &mut self,
        ctx: &Context,
        session: &mut Session,
        canvas: &mut Canvas,
        tools: &ToolSettings,
        input: &CanvasInput,
    ) -> Option<String> {
        let (now, dt, primary_down) =
            ctx.input(|i| (i.time, i.stable_dt, i.pointer.primary_down()));
        let pressed_here = input.response.is_pointer_button_down_on()
            || input.response.clicked()
            || input.response.drag_started();
        let held = tools.tool == Tool::Laser
            && primary_down
            && input.response.is_pointer_button_down_on()
            && !canvas.is_panning();
        if self.lasers.update(session, held, input.pointer, now) {
            ctx.request_repaint();
        }
        let own_input = !input.actions.is_empty()
            || pressed_here
            || self
                .frame_start
                .is_some_and(|(camera, tool)| camera != *canvas.camera() || tool != tools.tool);
        let frame = self
            .follow
            .update(session, canvas, own_input, dt.min(MAX_STEP_SECONDS));
        if frame.travelling {
            ctx.request_repaint();
        }
        frame
            .left
            .map(|name| format!("{name} left: you are no longer following them."))
    }

    /// What the people list asked for.
    pub fn act(&mut self, action: FollowAction, session: &mut Session) {
        match action {
            FollowAction::Follow(client) => self.follow.start(session, client),
            FollowAction::Stop => self.follow.stop(),
            FollowAction::Present(presenting) => {
                tracing::info!(presenting, "asking everyone to follow");
                if presenting {
                    self.follow.stop();
                }
                session.presence_mut().presenting = presenting;
            }
        }
    }

    /// The others' pointers, to paint over the board.
    #[must_use]
    pub fn cursors(session: &Session) -> Vec<PeerCursor<'_>> {
        session
            .peers()
            .filter_map(|peer| {
                Some(PeerCursor {
                    name: &peer.info.name,
                    color: peer.info.color,
                    position: peer.presence.cursor?,
                })
            })
            .collect()
    }

    /// Over the painted board: the laser trails, and while following, a
    /// frame around the view in the colour of the one followed.
    pub fn paint(&self, ui: &Ui, canvas: &Canvas) {
        let viewport = canvas.viewport();
        let painter = ui.painter_at(viewport);
        let now = ui.input(|i| i.time);
        self.lasers
            .paint(&painter, canvas.screen_from_canvas(), now);
        if let Some(followed) = self.follow.following() {
            painter.rect_stroke(
                viewport.shrink(1.5),
                0.0,
                Stroke::new(3.0, color32(followed.color)),
                StrokeKind::Middle,
            );
        }
    }

    /// The bar under the toolbar while following or presenting: "Following
    /// Ada · Stop", "Ada asks everyone to follow them · Stop", "Presenting ·
    /// Stop".
    pub fn bar_ui(&mut self, ctx: &Context, session: &mut Session) {
        let presenting = session.presence().presenting;
        let (line, color) = match (self.follow.following(), presenting) {
            (_, true) => ("Presenting: everyone follows your view".to_owned(), None),
            (Some(followed), false) if followed.asked => (
                format!("{} asks everyone to follow them", followed.name),
                Some(followed.color),
            ),
            (Some(followed), false) => {
                (format!("Following {}", followed.name), Some(followed.color))
            }
            (None, false) => return,
        };
        let below = toolbar_rect(ctx).map_or(64.0, |toolbar| toolbar.bottom() + EDGE_GAP / 2.0);
        let mut stop = false;
        egui::Area::new(Id::unique("tabula-following-bar"))
            .anchor(Align2::CENTER_TOP, vec2(0.0, below))
            .show(ctx, |ui| {
                theme::floating_panel(ui).show(ui, |ui| {
                    ui.horizontal(|ui| {
                        if let Some(color) = color {
                            let (rect, _) =
                                ui.allocate_exact_size(vec2(10.0, 18.0), Sense::hover());
                            ui.painter()
                                .circle_filled(rect.center(), 5.0, color32(color));
                        }
                        ui.label(RichText::new(line).strong());
                        ui.label("·");
                        stop = ui
                            .button("Stop")
                            .on_hover_text(if presenting {
                                "Stop asking everyone to follow your view"
                            } else {
                                "Stop following: your view stays where it is"
                            })
                            .clicked();
                    });
                });
            });
        if stop {
            if presenting {
                self.act(FollowAction::Present(false), session);
            } else {
                self.act(FollowAction::Stop, session);
            }
        }
    }
}
