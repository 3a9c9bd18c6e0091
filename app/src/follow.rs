//! Following someone's view, and presenting: whose view this window
//! travels with, and the view it shows the others.
//!
//! Everyone's window says which part of the canvas it shows
//! (in [`Session::presence_mut`], whenever it changes; the network task sends it at
//! most about 30 times a second). Following someone ([`Follow::start`], a
//! click on them in the people list) moves our camera, smoothly, to show
//! their rectangle whole: their centre in our centre, at the zoom that fits
//! their rectangle in our window (so with a window of another shape we see
//! a little more, never less). Any input of our own (a pan, a zoom, a
//! press on the canvas, a tool key) stops it, as does their leaving.
//!
//! A presenter asks everyone to follow them ([`tabula_shared::Presence::presenting`]):
//! each window that sees someone start presenting (or finds them presenting
//! on joining) follows them, once; whoever stops is not asked again until
//! the presenter stops and starts again, and when the presenter stops,
//! their followers are let go. A presenter follows nobody on their ask.

use std::collections::BTreeSet;

use egui::Rect;
use tabula_shared::{ClientId, Color};

use crate::canvas::Canvas;
use crate::canvas::camera::{MAX_ZOOM, MIN_ZOOM};
use crate::canvas::convert::{point_from_pos, rect_from_canvas};
use crate::session::Session;

/// How quickly the view travels to the one followed: the time constant of
/// its exponential approach, in seconds (about 0.4 s to get there).
const TRAVEL_SECONDS: f32 = 0.09;
/// Closer than this (in screen points, and in zoom ratio) is there.
const ARRIVED_PX: f32 = 0.5;

/// What the people list asks of following and presenting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowAction {
    /// Follow this person's view.
    Follow(ClientId),
    /// Stop following.
    Stop,
    /// Ask everyone to follow us (`true`), or stop asking.
    Present(bool),
}

/// Whose view we follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Followed {
    /// Who.
    pub client: ClientId,
    /// Their name, as shown.
    pub name: String,
    /// Their colour.
    pub color: Color,
    /// Whether we follow because they asked everyone to (they present).
    pub asked: bool,
}

/// What a frame of following did, for the app to show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FollowFrame {
    /// The view is still travelling: paint the next frame soon.
    pub travelling: bool,
    /// Following stopped because they left: their name, for a notice.
    pub left: Option<String>,
}

/// Following and presenting in this window.
#[derive(Debug, Default)]
pub struct Follow {
    /// Whose view we follow, if anyone's.
    following: Option<Followed>,
    /// Presenters whose ask this window has answered (by following them),
    /// until they stop presenting.
    answered: BTreeSet<ClientId>,
    /// The view last told to the room.
    shared_view: Option<tabula_shared::Rect>,
}

impl Follow {
    /// Whose view we follow, if anyone's.
    #[must_use]
    pub fn following(&self) -> Option<&Followed> {
        self.following.as_ref()
    }

    /// Starts following `client`, if they are in the room.
    pub fn start(&mut self, session: &Session, client: ClientId) {
        self.start_as(session, client, false);
    }

    /// Stops following.
    pub fn stop(&mut self) {
        if let Some(followed) = self.following.take() {
            tracing::info!(name = %followed.name, "stopped following");
        }
    }

    /// One frame, after the canvas took its input and before it is painted:
    /// `own_input` says whether the person did anything of their own to the
    /// view or the board (which stops following). Answers presenters, moves
    /// the camera towards the followed view (`dt` seconds since the last
    /// frame), and tells the room our view if it changed.
    pub fn update(
        &mut self,
        session: &mut Session,
        canvas: &mut Canvas,
        own_input: bool,
        dt: f32,
    ) -> FollowFrame {
        let mut frame = FollowFrame::default();
        if own_input && self.following.is_some() {
            self.stop();
        }
        self.answer_presenters(session);
        if let Some(followed) = &self.following {
            match session.peers().find(|p| p.info.client == followed.client) {
                None => {
                    tracing::info!(name = %followed.name, "the person followed left");
                    frame.left = Some(followed.name.clone());
                    self.following = None;
                }
                Some(peer) if followed.asked && !peer.presence.presenting => self.stop(),
                Some(peer) => {
                    if let Some(view) = peer.presence.view {
                        frame.travelling = travel(canvas, rect_from_canvas(view), dt);
                    }
                }
            }
        }
        let visible = canvas.camera().visible_canvas(canvas.viewport());
        let view = tabula_shared::Rect::from_corners(
            point_from_pos(visible.min),
            point_from_pos(visible.max),
        );
        if self.shared_view != Some(view) && view.min.x.is_finite() && view.max.y.is_finite() {
            self.shared_view = Some(view);
            session.presence_mut().view = Some(view);
        }
        frame
    }

    /// Follows whoever started presenting since the last frame (unless we
    /// present ourselves), and forgets the presenters who stopped.
    fn answer_presenters(&mut self, session: &Session) {
        let presenting: Vec<ClientId> = session
            .peers()
            .filter(|peer| peer.presence.presenting)
            .map(|peer| peer.info.client)
            .collect();
        self.answered.retain(|client| presenting.contains(client));
        for client in presenting {
            if self.answered.insert(client) && !session.presence().presenting {
                self.start_as(session, client, true);
            }
        }
    }

    /// Starts following `client`; `asked` when they present.
    fn start_as(&mut self, session: &Session, client: ClientId, asked: bool) {
        let Some(peer) = session.peers().find(|p| p.info.client == client) else {
            return;
        };
        tracing::info!(name = %peer.info.name, asked, "following");
        self.following = Some(Followed {
            client,
            name: peer.info.name.clone(),
            color: peer.info.color,
            asked,
        });
    }
}

/// Moves the camera part of the way towards showing `target` (canvas
/// coordinates) whole in the viewport; whether it still has further to go.
fn travel(canvas: &mut Canvas, target: Rect, dt: f32) -> bool {
    let viewport = canvas.viewport();
    if !target.is_finite() || target.width() <= 0.0 || target.height() <= 0.0 {
        return false;
    }
    let zoom_to = (viewport.width() / target.width())
        .min(viewport.height() / target.height())
        .clamp(MIN_ZOOM, MAX_ZOOM);
    let camera = *canvas.camera();
    let centre_from = camera.visible_canvas(viewport).center();
    let centre_to = target.center();
    let step = 1.0 - (-dt.max(0.0) / TRAVEL_SECONDS).exp();
    let arrived = (zoom_to / camera.zoom - 1.0).abs() < 1e-3
        && (centre_to - centre_from).length() * camera.zoom < ARRIVED_PX;
    if arrived {
        // Left where it is: setting it again would move it by a rounding
        // error each frame, and each move repaints.
        return false;
    }
    // The last step lands exactly; the others go part of the way.
    let near = (zoom_to / camera.zoom - 1.0).abs() < 0.01
        && (centre_to - centre_from).length() * camera.zoom < 4.0 * ARRIVED_PX;
    let step = if near { 1.0 } else { step };
    let log_zoom = camera.zoom.ln() + (zoom_to.ln() - camera.zoom.ln()) * step;
    let centre = centre_from + (centre_to - centre_from) * step;
    let camera = canvas.camera_mut();
    camera.zoom = log_zoom.exp();
    camera.center_on(centre, viewport);
    true
}
