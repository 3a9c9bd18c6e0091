//! Hosting as the window shows it: the [`Hosting`] this app owns, and the
//! host dialog, the invite panel and the hand-over dialog around it.
//!
//! Each frame the app calls [`Lan::poll`] right after the session has taken
//! in the network's events (hosting moves on, and answers a relay that asks
//! this board to take its room over), [`Lan::hold_close`] when the window is
//! asked to close, and [`Lan::panels_ui`] with the other panels. The status
//! chip shows [`Lan::chip`], and its hosting buttons come back here through
//! [`Lan::chip_action`].
//!
//! Nothing here waits: starting, handing over and stopping run on hosting's
//! threads, and the panels show how far they have come.

use std::sync::Arc;

use egui::{Context, ViewportCommand};
use tabula_server::discovery::Interfaces;
use tabula_shared::PeerInfo;
use tracing::info;

use crate::host::hosting::{Hosting, Notice, Phase};
use crate::host::{HostError, HostSettings};
use crate::session::{ConnectionStatus, Session};
use crate::ui::hand_over::{Choice, HandOverDialog, Progress, Why};
use crate::ui::host_dialog::HostDialog;
use crate::ui::invite::{Invitation, InviteAction, InvitePanel, InviteState};
use crate::ui::people::PeopleAction;
use crate::ui::presence::{HostingChip, PresenceAction};

/// Hosting, and the dialogs and panel that show it.
pub struct Lan {
    /// What the app is doing about hosting.
    hosting: Hosting,
    /// Settings that replace the person's defaults (tests host on loopback,
    /// unadvertised); `None`: [`HostSettings::for_person`].
    settings: Option<HostSettings>,
    /// The interfaces the relay is advertised on (`--mdns-interface`,
    /// `TABULA_MDNS_INTERFACES`; none named: every one); `None` until the
    /// app says, and then it is not advertised (tests send no packet).
    interfaces: Option<Interfaces>,
    /// The name [`Self::hosting`]'s settings were made for: the relay is
    /// advertised as "NAME on MACHINE", so a new name means new settings.
    person: String,
    /// Runs a frame; hosting's threads call it when a step is done.
    wake: Arc<dyn Fn() + Send + Sync>,
    /// The host dialog: which room to host the board in.
    host_dialog: HostDialog,
    /// The invite panel: how others join.
    invite: InvitePanel,
    /// The hand-over dialog: stopping or quitting with others in the room.
    hand_over: HandOverDialog,
    /// Whether the dialog asked for the hand-over under way (or just
    /// ended): its outcome shows there, not on the chip.
    handing: bool,
    /// Why hosting the board could not start, when it was refused at once
    /// (its history still arriving): shown in the invite panel until it is
    /// closed.
    refused: Option<String>,
    /// The window closes once hosting has nothing left under way (after a
    /// hand-over, or once the relay has stopped).
    quitting: bool,
}

impl Lan {
    /// Not hosting; hosts as `person` by default, and calls `wake` to run a
    /// frame when a step on a thread is done.
    pub fn new(person: &str, wake: impl Fn() + Send + Sync + 'static) -> Self {
        let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(wake);
        let interfaces = None;
        let settings = person_settings(person, interfaces.as_ref());
        Self {
            hosting: Hosting::new(settings, waker(&wake)),
            settings: None,
            interfaces,
            person: person.to_owned(),
            wake,
            host_dialog: HostDialog::default(),
            invite: InvitePanel::default(),
            hand_over: HandOverDialog::default(),
            handing: false,
            refused: None,
            quitting: false,
        }
    }

    /// Hosts with `settings` instead of the person's defaults (tests: on
    /// loopback, at any port, unadvertised). Takes effect while not hosting.
    pub fn set_settings(&mut self, settings: HostSettings) {
        self.settings = Some(settings);
        self.renew();
    }

    /// Advertises a hosted room on `interfaces` only (none named: every
    /// one); until this is called it is not advertised. Takes effect while
    /// not hosting.
    pub fn set_interfaces(&mut self, interfaces: Interfaces) {
        self.interfaces = Some(interfaces);
        self.renew();
    }

    /// What the app is doing about hosting.
    #[must_use]
    pub fn hosting(&self) -> &Hosting {
        &self.hosting
    }

    /// Whether a modal of these (the host or hand-over dialog) is showing.
    #[must_use]
    pub fn is_modal_open(&self) -> bool {
        self.host_dialog.is_open() || self.hand_over.is_open()
    }

    /// Whether the invite panel is showing.
    #[must_use]
    pub fn is_invite_open(&self) -> bool {
        self.invite.is_open()
    }

    /// Hosts the board in `room`, and shows the invite panel, which follows
    /// the relay as it starts. Refused (with the reason) while hosting
    /// already, for a bad name, or while the board's history is arriving.
    pub fn start(&mut self, session: &Session, room: &str) -> Result<(), HostError> {
        self.refused = None;
        self.hosting.start(session, room)?;
        info!(room, "hosting the board on this network");
        self.invite.open();
        Ok(())
    }

    /// Asks which room to host the board in, or, while hosting, shows the
    /// invite panel: File → Host on this network….
    pub fn offer_hosting(&mut self) {
        if self.hosting.phase() == Phase::Off {
            self.host_dialog.open();
        } else {
            self.invite.open();
        }
    }

    /// Moves hosting on, after the session has taken in the network's
    /// events; takes a new name into the settings first.
    pub fn poll(&mut self, session: &mut Session) {
        if session.me().name != self.person && self.hosting.phase() == Phase::Off {
            session.me().name.clone_into(&mut self.person);
            self.renew();
        }
        self.hosting.poll(session);
    }

    /// What the status chip says about hosting.
    #[must_use]
    pub fn chip(&self, session: &Session) -> HostingChip {
        let room = || self.hosting.room().unwrap_or_default().to_owned();
        match self.hosting.phase() {
            Phase::Off => {
                let unreachable = matches!(session.status(), ConnectionStatus::Reconnecting { .. });
                if unreachable && session.room().is_some() {
                    HostingChip::HostGone
                } else {
                    HostingChip::Off
                }
            }
            Phase::Starting => HostingChip::Starting(room()),
            Phase::On => HostingChip::On {
                room: room(),
                here: self.hosting.host().map_or(0, |host| host.members().len()),
            },
            Phase::HandingOver => HostingChip::HandingOver(room()),
            Phase::Stopping => HostingChip::Stopping,
        }
    }

    /// Hosting's notice, for the chip, when neither the invite panel nor the
    /// hand-over dialog shows it.
    #[must_use]
    pub fn chip_notice(&self) -> Option<&Notice> {
        if self.invite.is_open() || self.hand_over.is_open() {
            None
        } else {
            self.hosting.notice()
        }
    }

    /// Carries out a hosting button of the chip (Join… and Leave are the
    /// app's).
    pub fn chip_action(&mut self, action: PresenceAction, session: &mut Session) {
        match action {
            PresenceAction::Host => self.offer_hosting(),
            PresenceAction::Invite => self.invite.open(),
            PresenceAction::StopHosting => self.stop(session, Why::Stop),
            PresenceAction::HostThisBoard => {
                let Some(room) = session.room().map(str::to_owned) else {
                    return;
                };
                info!(room, "the room's host is gone: hosting this board's copy");
                if let Err(err) = self.start(session, &room) {
                    // Shown in the invite panel.
                    self.refused = Some(format!("Could not host {room}: {err}"));
                    self.invite.open();
                }
            }
            PresenceAction::DismissNotice => self.hosting.dismiss_notice(),
            PresenceAction::Join | PresenceAction::Leave | PresenceAction::People(_) => {}
        }
    }

    /// Guards the window's close (the app calls it from `logic`, before
    /// each frame and while the window is hidden): while others are in the
    /// room this app hosts, the close is cancelled and the hand-over dialog
    /// asks what to do; while a hand-over or the relay's stop is under way,
    /// the close waits for it (hosting is polled here meanwhile, as a hidden
    /// window draws no frame). Once hosting allows, after the person chose
    /// to hand over and quit or to quit without, the window is closed.
    /// Returns whether hosting holds the close this frame: then nothing
    /// else needs to.
    pub fn hold_close(&mut self, ctx: &Context, session: &mut Session) -> bool {
        let mut held = false;
        if ctx.input(|i| i.viewport().close_requested()) {
            let phase = self.hosting.phase();
            if phase == Phase::On && !self.others(session).is_empty() {
                ctx.send_viewport_cmd(ViewportCommand::CancelClose);
                if !self.hand_over.is_open() {
                    info!("others are in the room: asking about a hand-over before closing");
                    self.handing = false;
                    self.hand_over.open(Why::Quit);
                }
                self.quitting = false;
                held = true;
            } else if !self.hosting.is_settled() {
                ctx.send_viewport_cmd(ViewportCommand::CancelClose);
                info!("closing once hosting has stopped");
                self.quitting = true;
                held = true;
            }
        }
        if !self.quitting {
            return held;
        }
        self.hosting.poll(session);
        if !self.hosting.is_settled() {
            return true;
        }
        self.quitting = false;
        if self.hosting.phase() == Phase::On && !self.others(session).is_empty() {
            // The hand-over failed: the dialog says so, and asks again.
            if !self.hand_over.is_open() {
                self.hand_over.open(Why::Quit);
            }
        } else {
            info!("hosting has stopped; closing");
            ctx.send_viewport_cmd(ViewportCommand::Close);
        }
        true
    }

    /// The host dialog, the invite panel and the hand-over dialog.
    pub fn panels_ui(&mut self, ctx: &Context, session: &mut Session) {
        let instance = self
            .hosting
            .settings()
            .advertise
            .as_ref()
            .map(|advertising| advertising.instance.clone());
        if let Some(room) = self.host_dialog.modal_ui(ctx, instance.as_deref()) {
            self.hosting
                .set_code_required(self.host_dialog.code_required());
            match self.start(session, &room) {
                Ok(()) => self.host_dialog.close(),
                // Shown in the dialog, under the name.
                Err(err) => self.host_dialog.set_error(err.to_string()),
            }
        }
        // Under the hand-over dialog the panel steps aside; it is back if
        // hosting goes on.
        let state = self.invite_state(instance.as_deref());
        let shown = if self.hand_over.is_open() {
            None
        } else {
            self.invite.window_ui(ctx, &state, session)
        };
        match shown {
            Some(InviteAction::StopHosting) => self.stop(session, Why::Stop),
            Some(InviteAction::People(PeopleAction::Moderate(command))) => {
                session.moderate(command);
            }
            Some(InviteAction::People(PeopleAction::MakeLink(role))) => {
                let base = match &state {
                    InviteState::Hosting(invitation) => invitation.urls.first().cloned(),
                    _ => None,
                };
                if let Some(link) = base.and_then(|base| session.new_invite_link(&base, role)) {
                    ctx.copy_text(link);
                }
            }
            Some(InviteAction::Closed) => {
                self.refused = None;
                if matches!(self.hosting.notice(), Some(Notice::Failed(_)))
                    && self.hosting.phase() == Phase::Off
                {
                    self.hosting.dismiss_notice();
                }
            }
            // The invite panel lists nobody to follow.
            Some(InviteAction::People(PeopleAction::Follow(_))) | None => {}
        }
        self.hand_over_ui(ctx, session);
    }

    /// Stops hosting: at once when nobody else is in the room, or after the
    /// hand-over dialog has asked.
    fn stop(&mut self, session: &mut Session, why: Why) {
        if self.others(session).is_empty() {
            self.hosting.stop(session, None);
        } else {
            self.handing = false;
            self.hand_over.open(why);
        }
    }

    /// The hand-over dialog, and what it asks for.
    fn hand_over_ui(&mut self, ctx: &Context, session: &mut Session) {
        let Some(why) = self.hand_over.why() else {
            return;
        };
        let room = self
            .hosting
            .room()
            .or(session.room())
            .unwrap_or("the room")
            .to_owned();
        let others = self.others(session);
        let progress = match (self.hosting.phase(), self.handing, self.hosting.notice()) {
            (Phase::HandingOver, ..) => Progress::HandingOver,
            (_, true, Some(Notice::HandedOver(name))) => Progress::Done(name.clone()),
            (_, true, Some(Notice::Failed(reason))) => Progress::Failed(reason.clone()),
            _ => Progress::Asking,
        };
        match self.hand_over.modal_ui(ctx, &room, &others, &progress) {
            Some(Choice::HandTo(client)) => {
                info!(room, "handing the room over");
                self.hosting.stop(session, Some(client));
                self.handing = true;
                self.quitting = why == Why::Quit;
                if self.hosting.phase() != Phase::HandingOver {
                    // Everyone else left meanwhile: it just stopped.
                    self.hand_over.close();
                }
            }
            Some(Choice::Without) => {
                info!(room, "stopping without handing the room over");
                self.hosting.stop_now(session);
                self.handing = false;
                self.quitting = why == Why::Quit;
            }
            // After a hand-over, the dialog said how it went: that is read.
            Some(Choice::Close) if std::mem::take(&mut self.handing) => {
                self.hosting.dismiss_notice();
            }
            Some(Choice::Close) | None => {}
        }
    }

    /// What the invite panel shows.
    fn invite_state(&self, instance: Option<&str>) -> InviteState {
        match (self.hosting.phase(), self.hosting.host()) {
            (Phase::Starting, _) => {
                InviteState::Starting(self.hosting.room().unwrap_or_default().to_owned())
            }
            (_, Some(host)) => InviteState::Hosting(Invitation::of(host, instance)),
            _ => match (&self.refused, self.hosting.notice()) {
                (Some(reason), _) | (None, Some(Notice::Failed(reason))) => {
                    InviteState::Failed(reason.clone())
                }
                _ => InviteState::Off,
            },
        }
    }

    /// Who else is in the room this app hosts, longest-present first.
    fn others(&self, session: &Session) -> Vec<PeerInfo> {
        let me = session.me().client;
        self.hosting.host().map_or_else(Vec::new, |host| {
            host.members()
                .into_iter()
                .filter(|peer| peer.client != me)
                .collect()
        })
    }

    /// New settings for hosting, while it hosts nothing.
    fn renew(&mut self) {
        if self.hosting.phase() != Phase::Off {
            return;
        }
        let settings = self
            .settings
            .clone()
            .unwrap_or_else(|| person_settings(&self.person, self.interfaces.as_ref()));
        if *self.hosting.settings() != settings {
            self.hosting = Hosting::new(settings, waker(&self.wake));
        }
    }
}

/// What hosting uses for `person`, advertised on `interfaces` (not at all
/// when `None`).
fn person_settings(person: &str, interfaces: Option<&Interfaces>) -> HostSettings {
    let mut settings = HostSettings::for_person(person);
    match (&mut settings.advertise, interfaces) {
        (Some(advertising), Some(interfaces)) => advertising.interfaces = interfaces.clone(),
        (advertise, _) => *advertise = None,
    }
    settings
}

/// A wake for hosting's threads that runs `wake`.
fn waker(wake: &Arc<dyn Fn() + Send + Sync>) -> impl Fn() + Send + Sync + 'static {
    let wake = Arc::clone(wake);
    move || wake()
}
