//! [`TabulaApp`], the `eframe::App`: one frame of the whiteboard.
//!
//! Each frame reads like a list ([`TabulaApp::whiteboard_ui`]): poll the
//! network (the room's events into the session), poll hosting right after
//! it (it answers what the relay asked) and the relays the join dialog has
//! found, poll the jobs (a file being opened, the save under way, an export,
//! a timelapse, the system's file dialog), draw the panels (toolbars, people,
//! File menu, dialogs, the invite panel, the replay's timeline), draw the
//! canvas (input to ops, handed to the session, then the board painted).
//! Everything on screen is read from the session each frame; nothing here
//! keeps a copy of the board.
//!
//! Before each frame, and alone while the window is hidden,
//! [`TabulaApp::logic`] guards the window's close: while others are in the
//! room this app hosts, the hand-over dialog asks first, and the window
//! closes once hosting has stopped; a close asked for while a save is under
//! way or waiting is held off, with a modal that says so, until the saves
//! are done; then the window closes itself.
//!
//! [`pictures_and_files`]: pictures landing on the board and copied out,
//! and the paths the system's file dialog gives.

mod pictures_and_files;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use egui::{Ui, ViewportCommand};

use crate::canvas::tools::{Tool, ToolSettings};
use crate::canvas::{Canvas, ViewAction};
use crate::export::dialog::{ExportAction, ExportDialog};
use crate::files::documents::Documents;
use crate::files::menu::{FileMenu, MenuAction};
use crate::files::recent::RecentFiles;
use crate::host::hosting::Hosting;
use crate::host::{HostError, HostSettings};
use crate::insert::Inserting;
use crate::lan::Lan;
use crate::live_drags;
use crate::session::{ConnectionStatus, JoinError, Session};
use crate::together::Together;
use crate::ui::closing::{ClosingChoice, closing_ui};
use crate::ui::file_dialog::{FilePicker, Purpose, SystemDialogs};
use crate::ui::frame_stats::FrameStats;
use crate::ui::join_dialog::{Ask, Field, JoinDialog, JoinTarget};
use crate::ui::nearby::RelaySearch;
use crate::ui::notices::{Level, Notices};
use crate::ui::people::PeopleAction;
use crate::ui::presence::{PresenceAction, presence_ui};
use crate::ui::replay::{ReplayAction, ReplayView};
use crate::ui::style_panel::{SelectionSummary, StyleAction, style_panel_ui};
use crate::ui::theme::PAPER;
use crate::ui::toolbar::{ToolbarAction, shortcuts, toolbar_ui, view_only_ui, zoom_ui};

/// The whiteboard app.
pub struct TabulaApp {
    /// The board, who we are and the link to a room.
    session: Session,
    /// The view onto the board and the gesture under way.
    canvas: Canvas,
    /// The current tool, colour and width.
    tools: ToolSettings,
    /// The join dialog's fields, kept while it is closed so they are there next time.
    join_dialog: JoinDialog,
    /// The runtime the network task runs on; it outlives the app.
    runtime: tokio::runtime::Handle,
    /// The last connection status seen and when it began, for the reconnect
    /// countdown.
    status_since: (ConnectionStatus, Instant),
    /// Whether the "clear the board for everyone?" question is showing.
    confirm_clear: bool,
    /// The file the board came from, the recent files, and the files being
    /// opened and saved.
    documents: Documents,
    /// The File menu's path dialog.
    file_menu: FileMenu,
    /// The replay on show instead of the board, in replay mode.
    replay: Option<ReplayView>,
    /// The export dialog's fields, kept while it is closed.
    export_dialog: ExportDialog,
    /// How long frames take to build, and the F12 overlay that shows it.
    frame_stats: FrameStats,
    /// The system's file dialogs, if any, and the one showing.
    picker: FilePicker,
    /// While a close waits for the saves: how many failures had been shown
    /// when it was asked for (one more, and the window stays open to show
    /// it).
    closing: Option<u64>,
    /// Set by "Quit without waiting": the next close is not held off.
    quit_now: bool,
    /// Short messages in the corner: what the relay refused, what the board
    /// skipped.
    notices: Notices,
    /// Hosting the board on the network, and its dialogs and invite panel.
    lan: Lan,
    /// The window, once its first frame has run: what threads started
    /// before it (hosting's, a hosted board's network task) wake.
    window: Arc<OnceLock<egui::Context>>,
    /// Pictures pasted, dropped or chosen, on their way onto the board.
    inserting: Inserting,
    /// The others' pointers, laser trails, following and presenting.
    together: Together,
}

impl TabulaApp {
    /// An app showing `session`, running network tasks on `runtime`.
    #[must_use]
    pub fn new(mut session: Session, runtime: tokio::runtime::Handle) -> Self {
        let status = session.status().clone();
        let window = Arc::new(OnceLock::new());
        // A local board enters the room it hosts without joining one first.
        session.set_spawner(&runtime, repaint(&window));
        let lan = Lan::new(&session.me().name, repaint(&window));
        Self {
            session,
            canvas: Canvas::new(),
            tools: ToolSettings::default(),
            join_dialog: JoinDialog::default(),
            runtime,
            status_since: (status, Instant::now()),
            confirm_clear: false,
            documents: Documents::new(RecentFiles::from_config_dir()),
            file_menu: FileMenu::default(),
            replay: None,
            export_dialog: ExportDialog::default(),
            frame_stats: FrameStats::from_env(),
            picker: FilePicker::default(),
            closing: None,
            quit_now: false,
            notices: Notices::default(),
            lan,
            window,
            inserting: Inserting::default(),
            together: Together::default(),
        }
    }

    /// Asks for paths in `dialogs` (the `tabula` binary gives the system's),
    /// falling back to typing them when none answers. Without this, paths
    /// are typed: tests never open a dialog.
    pub fn set_file_dialogs(&mut self, dialogs: Arc<dyn SystemDialogs>) {
        self.picker = FilePicker::with_dialogs(dialogs);
    }

    /// The messages in the corner.
    #[must_use]
    pub fn notices(&self) -> &Notices {
        &self.notices
    }

    /// The export dialog and the export under way.
    #[must_use]
    pub fn export_dialog(&self) -> &ExportDialog {
        &self.export_dialog
    }

    /// Whether a close waits for the saves to end.
    #[must_use]
    pub fn is_closing(&self) -> bool {
        self.closing.is_some()
    }

    /// Hosts with `settings` instead of the person's defaults (tests: on
    /// loopback, at any port, unadvertised).
    pub fn set_host_settings(&mut self, settings: HostSettings) {
        self.lan.set_settings(settings);
    }

    /// Advertises a hosted room, and looks for relays in the join dialog,
    /// over mDNS on `interfaces` (none named: every one). Without it a
    /// hosted room is not advertised and the join dialog does not look, so
    /// that tests send no packet they did not ask for.
    pub fn set_mdns_interfaces(&mut self, interfaces: tabula_server::discovery::Interfaces) {
        self.lan.set_interfaces(interfaces.clone());
        self.join_dialog.set_search(RelaySearch::Mdns(interfaces));
    }

    /// Where the join dialog looks for relays (tests give a list).
    pub fn set_relay_search(&mut self, search: RelaySearch) {
        self.join_dialog.set_search(search);
    }

    /// Hosting: what it is doing, and the relay while it serves.
    #[must_use]
    pub fn hosting(&self) -> &Hosting {
        self.lan.hosting()
    }

    /// Whether the invite panel is showing.
    #[must_use]
    pub fn is_invite_open(&self) -> bool {
        self.lan.is_invite_open()
    }

    /// Hosts the board in `room` on this network, waking `ctx` as it starts
    /// (`tabula --host`); the invite panel shows how others join.
    pub fn host(&mut self, room: &str, ctx: &egui::Context) -> Result<(), HostError> {
        self.window.get_or_init(|| ctx.clone());
        self.lan.start(&self.session, room)
    }

    /// The frame timings and whether their overlay shows.
    #[must_use]
    pub fn frame_stats(&self) -> &FrameStats {
        &self.frame_stats
    }

    /// The session: board, identity, room.
    #[must_use]
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The canvas, for its camera.
    #[must_use]
    pub fn canvas(&self) -> &Canvas {
        &self.canvas
    }

    /// The laser trails, following and presenting.
    #[must_use]
    pub fn together(&self) -> &Together {
        &self.together
    }

    /// The current tool settings.
    #[must_use]
    pub fn tools(&self) -> &ToolSettings {
        &self.tools
    }

    /// The current file and the recent files.
    #[must_use]
    pub fn documents(&self) -> &Documents {
        &self.documents
    }

    /// Uses `documents` instead (tests keep their recent files to themselves).
    pub fn set_documents(&mut self, documents: Documents) {
        self.documents = documents;
    }

    /// Opens a `.tabula` file as a local board on this thread; a failure is
    /// shown in the window and returned. For tests: the window opens files
    /// with [`Self::start_opening`].
    pub fn open_file(&mut self, path: &std::path::Path) -> Result<(), String> {
        self.replay = None;
        self.documents.open(&mut self.session, path)
    }

    /// Starts opening a `.tabula` file on its own thread, which repaints `ctx`
    /// when done; the board replaces this one in the frame after, and the
    /// "Opening…" modal shows meanwhile. A failure is shown in the window.
    pub fn start_opening(&mut self, path: &std::path::Path, ctx: &egui::Context) {
        let ctx = ctx.clone();
        self.documents
            .start_open(path, move || ctx.request_repaint());
    }

    /// The replay on show, in replay mode.
    #[must_use]
    pub fn replay(&self) -> Option<&ReplayView> {
        self.replay.as_ref()
    }

    /// Enters replay mode on the board's history: a room's grows as its ops
    /// arrive, a local board's is taken as it is now. Not while the history
    /// behind a snapshot the room was joined from is still arriving (the menu
    /// says so).
    pub fn start_replay(&mut self) {
        if let Some((have, total)) = self.session.history_progress() {
            tracing::info!(
                have,
                total,
                "the room's history is still arriving; no replay yet"
            );
            return;
        }
        let live = self.session.room_url().is_some()
            || *self.session.status() != ConnectionStatus::Offline;
        let title = match (self.documents.current(), self.session.room_url()) {
            (_, Some(url)) => url.to_owned(),
            (Some(path), None) => path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            (None, None) => "this board".to_owned(),
        };
        let ops = if live {
            self.session.log().to_vec()
        } else {
            self.session.ops_to_save()
        };
        match ReplayView::new(ops, title) {
            Ok(replay) => self.replay = Some(replay.following(live)),
            // The log is sequenced by construction; this would be a bug.
            Err(error) => tracing::error!(%error, "cannot replay this board"),
        }
    }

    /// Whether a modal dialog is showing: the join or export dialog, the
    /// question before clearing, or one of the File menu's. It takes the
    /// keyboard, and the canvas under it takes no input.
    #[must_use]
    pub fn is_modal_open(&self) -> bool {
        self.join_dialog.is_open()
            || self.confirm_clear
            || self.export_dialog.is_open()
            || self.file_menu.is_open()
            || self.documents.is_modal_open()
            || self.picker.is_asking()
            || self.closing.is_some()
            || self.lan.is_modal_open()
    }

    /// Whether the join dialog is showing.
    #[must_use]
    pub fn is_join_dialog_open(&self) -> bool {
        self.join_dialog.is_open()
    }

    /// Joins the room at `url` (`ws://HOST:PORT/ROOM`), waking `ctx` on each
    /// network event.
    pub fn join(&mut self, url: &str, ctx: &egui::Context) -> Result<(), JoinError> {
        let ctx = ctx.clone();
        self.session
            .join(url, &self.runtime, move || ctx.request_repaint())
    }

    /// What runs before every frame, and alone while the window is hidden
    /// (eframe's `App::logic`). Hosting guards a close first: while others
    /// are in the room this app hosts, the hand-over dialog asks, and the
    /// window closes once hosting has stopped ([`Lan::hold_close`]); that
    /// close comes back here. Then a close asked for while a save is under
    /// way or waiting is cancelled and waits for the saves (polled here, as
    /// a hidden window draws no frame); once they are done the window closes
    /// itself, unless one failed (its message shows instead).
    pub fn logic(&mut self, ctx: &egui::Context) {
        self.window.get_or_init(|| ctx.clone());
        if self.lan.hold_close(ctx, &mut self.session) {
            return;
        }
        let close_requested = ctx.input(|i| i.viewport().close_requested());
        if close_requested && !self.quit_now && self.documents.has_pending_saves() {
            ctx.send_viewport_cmd(ViewportCommand::CancelClose);
            if self.closing.is_none() {
                tracing::info!("closing once the saves are done");
                self.closing = Some(self.documents.failures());
            }
        }
        let Some(failures) = self.closing else {
            return;
        };
        self.poll_jobs(ctx);
        if self.documents.failures() > failures {
            tracing::info!("a save failed; the window stays open");
            self.closing = None;
        } else if !self.documents.has_pending_saves() {
            tracing::info!("saved; closing");
            self.closing = None;
            ctx.send_viewport_cmd(ViewportCommand::Close);
        }
    }

    /// One frame of the whole window: the network, the jobs, the panels, the
    /// canvas.
    pub fn whiteboard_ui(&mut self, ui: &mut Ui) {
        let started = Instant::now();
        let ctx = ui.ctx().clone();
        self.window.get_or_init(|| ctx.clone());
        self.frame_stats.toggle_key_ui(&ctx);
        // A modal that shows as the frame begins has its keys and wheel, even
        // if it closes during the frame (a file's board arrives, say).
        let modal_open = self.is_modal_open();
        self.poll_network();
        self.poll_lan();
        self.poll_jobs(&ctx);
        self.together.begin_frame(&self.canvas, &self.tools);
        self.panels_ui(&ctx, modal_open);
        let canvas_time = self.canvas_ui(ui, modal_open);
        self.session.send_presence();
        self.frame_stats.record(canvas_time, started.elapsed());
        self.frame_stats.overlay_ui(&ctx);
    }

    /// The network: the room's events into the session, and since when the
    /// link has been in its state (for the reconnect countdown).
    fn poll_network(&mut self) {
        self.session.poll();
        for notice in self.session.take_notices() {
            self.notices.push(Level::Warning, notice);
        }
        if self.session.status() != &self.status_since.0 {
            self.status_since = (self.session.status().clone(), Instant::now());
            // A relay or room that turned out to need a password (or
            // another one): the join dialog asks for it.
            if self.status_since.0.needs_password()
                && let Some(url) = self.session.room_url().map(str::to_owned)
            {
                let wrong = self.session.password().is_some();
                let name = self.session.me().name.clone();
                let ask = match (wrong, self.status_since.0.refused_room_password()) {
                    (false, _) => Ask::Password,
                    (true, false) => Ask::WrongPassword,
                    (true, true) => Ask::RoomsOwn,
                };
                let given = self.session.password();
                self.join_dialog
                    .ask_password(&name, &url, ask, given.as_ref());
            }
        }
    }

    /// Hosting, right after the network (it answers a relay that asks this
    /// board to take its room over), and the relays the join dialog has
    /// found.
    fn poll_lan(&mut self) {
        self.lan.poll(&mut self.session);
        self.join_dialog.poll_nearby();
    }

    /// The jobs: a file whose board is built goes on screen (a replay was of
    /// the board that has gone), the history behind its snapshot is merged, a
    /// save that has ended is taken note of and the next one started, an
    /// export's or a replay's frames' end is taken in, and the path chosen in
    /// the system's file dialog goes where it was asked for.
    fn poll_jobs(&mut self, ctx: &egui::Context) {
        if self.documents.poll(&mut self.session, ctx) {
            self.replay = None;
        }
        self.export_dialog.poll(ctx);
        if let Some(replay) = &mut self.replay {
            replay.poll_timelapse();
        }
        if let Some(picked) = self.picker.poll() {
            self.picked(picked, ctx);
        }
        if let Some(path) = self.file_menu.take_image_path() {
            let at = self.view_centre();
            self.inserting.file(ctx, &path, at);
        }
        self.land_pictures();
    }

    /// The panels, floating above the canvas on their own layers: they come
    /// first, so that their changes show in this frame's painting. Under a
    /// modal (`modal_open`) no shortcut reaches the board.
    fn panels_ui(&mut self, ctx: &egui::Context, modal_open: bool) {
        let mut view = None;
        let mut command = None;
        if !modal_open && !ctx.text_edit_focused() {
            (view, command) = shortcuts(ctx, &mut self.tools);
        }
        // A viewer (or anyone in a view-only room) gets no drawing tools:
        // selecting, panning and zooming only, and the style panel is gone.
        let may_edit = self.session.may_edit();
        if may_edit {
            toolbar_ui(ctx, &mut self.tools);
            let board = self.session.board();
            let summary =
                SelectionSummary::of(self.canvas.selection().objects(board).map(|o| o.data.kind));
            let style = style_panel_ui(ctx, &mut self.tools, summary);
            if self.replay.is_none() {
                self.style(style);
            }
        } else {
            self.tools.tool = Tool::Select;
            view_only_ui(ctx);
        }
        let can = (self.session.can_undo(), self.session.can_redo());
        let (zoom_view, clicked) = zoom_ui(ctx, self.canvas.camera().zoom, can.0, can.1);
        view = zoom_view.or(view);
        command = clicked.or(command);
        if self.replay.is_some() || (!may_edit && command != Some(ToolbarAction::Export)) {
            // Read-only while replaying or viewing: no undo, redo or clear.
            command = None;
        }
        self.presence_ui(ctx);
        self.notices.notices_ui(ctx);
        self.join_dialog_ui(ctx);
        self.lan.panels_ui(ctx, &mut self.session);
        self.command(command);
        self.confirm_clear_ui(ctx);
        let offers_dialogs = self.picker.offers_dialogs();
        let export = self.export_dialog.modal_ui(
            ctx,
            self.session.board(),
            self.session.pictures(),
            self.canvas.selection(),
            offers_dialogs,
        );
        if export == Some(ExportAction::ChooseFile) {
            self.choose(Purpose::Export, ctx);
        }
        if let Some(action) = view {
            self.view(action);
        }

        let keyboard = !modal_open && !ctx.text_edit_focused();
        let menu = self
            .file_menu
            .file_menu_ui(ctx, &mut self.documents, &self.session, keyboard);
        match menu {
            Some(MenuAction::Replay) => self.start_replay(),
            Some(MenuAction::Export) => self.command(Some(ToolbarAction::Export)),
            Some(MenuAction::Choose(purpose)) => self.choose(purpose, ctx),
            Some(MenuAction::Host) => self.lan.offer_hosting(),
            None => {}
        }
        if let Some(replay) = self.replay.as_mut().filter(|r| r.is_live()) {
            replay.follow(self.session.log());
        }
        let timeline = self
            .replay
            .as_mut()
            .and_then(|r| r.timeline_ui(ctx, offers_dialogs));
        match timeline {
            Some(ReplayAction::BackToLive) => self.replay = None,
            Some(ReplayAction::StartNewBoard { at }) => self.start_board_from_replay(at),
            Some(ReplayAction::RestoreTo { at }) => self.restore_to_replay(at),
            Some(ReplayAction::ChooseTimelapseFolder) => {
                self.choose(Purpose::TimelapseFolder, ctx);
            }
            None => {}
        }
        if let Some(picked) = self.picker.waiting_ui(ctx) {
            self.picked(picked, ctx);
        }
        self.closing_ui(ctx);
    }

    /// "Start a new board from here": the replayed board as it was after op
    /// `at`, with its history to there, becomes a new local board in no
    /// file (a room it was in carries on without it; a file it came from
    /// keeps everything).
    fn start_board_from_replay(&mut self, at: u64) {
        let Some(replay) = self.replay.take() else {
            return;
        };
        let ops = replay.replay().ops();
        let ops = ops[..usize::try_from(at).unwrap_or(ops.len()).min(ops.len())].to_vec();
        tracing::info!(at, "a new board from the replay");
        self.session.load(ops);
        self.documents.new_board();
        self.canvas.selection_mut().clear();
        self.notices.push(
            Level::Info,
            format!("A new board, as it was at op {at}. Save it, or host it, to keep it."),
        );
    }

    /// "Restore to here": the board brought back to how the replay shows it
    /// after op `at`, as one action of ordinary ops (undo takes it back;
    /// the history after it stays).
    fn restore_to_replay(&mut self, at: u64) {
        let Some(replay) = self.replay.take() else {
            return;
        };
        let ops = tabula_shared::restore::ops_to_restore(self.session.board(), replay.board());
        tracing::info!(at, ops = ops.len(), "restored the board to an earlier op");
        if ops.is_empty() {
            return;
        }
        self.session.perform(ops);
        self.canvas.selection_mut().clear();
        self.notices.push(
            Level::Info,
            format!("The board is back as it was at op {at}. Undo (ctrl+Z) takes it back."),
        );
    }

    /// While a close waits for the saves: what is being saved, that the
    /// window closes once it is done, and what quitting without waiting
    /// means.
    fn closing_ui(&mut self, ctx: &egui::Context) {
        if self.closing.is_none() {
            return;
        }
        match closing_ui(ctx, &self.documents) {
            Some(ClosingChoice::Quit) => {
                self.closing = None;
                self.quit_now = true;
                ctx.send_viewport_cmd(ViewportCommand::Close);
            }
            Some(ClosingChoice::Stay) => self.closing = None,
            None => {}
        }
    }

    /// The canvas: its input becomes ops the session applies (none while
    /// replaying), then the board (or the replay's) is painted with the
    /// peers' pointers. Returns how long the painting took.
    fn canvas_ui(&mut self, ui: &mut Ui, modal_open: bool) -> std::time::Duration {
        let ctx = ui.ctx().clone();
        // A modal that showed at the start of the frame or opened during it
        // has the keys and the wheel: its Escape or Enter, a Delete pressed
        // under it, are not the board's.
        self.canvas.set_covered(modal_open || self.is_modal_open());
        let camera_before = *self.canvas.camera();
        let board = self
            .replay
            .as_ref()
            .map_or(self.session.board(), ReplayView::board);
        let input = self.canvas.input_ui(ui, self.tools, board);
        let (session, canvas) = (&mut self.session, &mut self.canvas);
        if let Some(notice) = self
            .together
            .after_input(&ctx, session, canvas, &self.tools, &input)
        {
            self.notices.push(Level::Info, notice);
        }
        // A replay is read-only, and so is a room we may only view: what the
        // tools made of the input is dropped.
        if self.replay.is_none() && self.session.may_edit() {
            for action in input.actions {
                self.session.perform(action);
            }
            if !self.canvas.is_covered() && self.canvas.editor().is_none() {
                let at = input.pointer.unwrap_or_else(|| self.view_centre());
                self.inserting.take_input(&ctx, at);
                self.copy_picture(&ctx);
            }
        }
        if input.pointer_changed {
            self.session.set_cursor(input.pointer);
        }
        let (replaying, time) = (self.replay.is_some(), ctx.input(|i| i.time));
        let ours = input
            .preview
            .filter(|_| !replaying && self.session.may_edit());
        live_drags::exchange(&mut self.canvas, &mut self.session, ours, replaying, time);
        let board = self
            .replay
            .as_ref()
            .map_or(self.session.board(), ReplayView::board);
        let painting = Instant::now();
        let cursors = Together::cursors(&self.session);
        self.canvas
            .paint_ui(ui, board, self.session.pictures(), &cursors);
        self.together.paint(ui, &self.canvas);
        let canvas_time = painting.elapsed();
        if *self.canvas.camera() != camera_before {
            // The zoom label was drawn before the canvas moved the camera.
            ctx.request_repaint();
        }
        canvas_time
    }

    /// Carries out undo, redo or the start of clearing the board.
    fn command(&mut self, command: Option<ToolbarAction>) {
        match command {
            Some(ToolbarAction::Undo) => self.session.undo(),
            Some(ToolbarAction::Redo) => self.session.redo(),
            Some(ToolbarAction::Clear) => self.confirm_clear = true,
            Some(ToolbarAction::Export) => {
                let has_selection = !self.canvas.selection().is_empty();
                self.export_dialog.open(has_selection);
            }
            None => {}
        }
    }

    /// Applies the style panel's changes to the selection.
    fn style(&mut self, actions: Vec<StyleAction>) {
        for action in actions {
            let board = self.session.board();
            let selection = self.canvas.selection();
            let ops = match action {
                StyleAction::Restyle(property) => selection.restyle(board, &property),
                StyleAction::NoteColor(color) => selection.recolor_notes(board, color),
                StyleAction::ToFront => selection.to_front(board),
                StyleAction::ToBack => selection.to_back(board),
                StyleAction::Delete => selection.delete(board),
                StyleAction::Duplicate => {
                    let mut actions = Vec::new();
                    self.canvas.duplicate(board, &mut actions);
                    actions.into_iter().flatten().collect()
                }
            };
            self.session.perform(ops);
        }
    }

    /// Asks before clearing the board for everyone; clearing can be undone.
    fn confirm_clear_ui(&mut self, ctx: &egui::Context) {
        if !self.confirm_clear {
            return;
        }
        let modal = egui::Modal::new(egui::Id::unique("tabula-confirm-clear")).show(ctx, |ui| {
            ui.set_width(320.0);
            ui.heading("Clear the board?");
            ui.label("Everything on it disappears for everyone in the room. You can undo it.");
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                if ui.button("Cancel").clicked() {
                    self.confirm_clear = false;
                }
                let clear = egui::Button::new(
                    egui::RichText::new("Clear everything").color(egui::Color32::WHITE),
                )
                .fill(egui::Color32::from_rgb(0xd0, 0x3b, 0x3b));
                if ui.add(clear).clicked() {
                    self.session
                        .perform(vec![tabula_shared::Op::new(tabula_shared::OpKind::Clear)]);
                    self.confirm_clear = false;
                }
            });
        });
        if modal.should_close() {
            self.confirm_clear = false;
        }
    }

    /// Applies a zoom button or shortcut.
    fn view(&mut self, action: ViewAction) {
        let content = self.session.board().content_bounds();
        self.canvas.apply_view(action, content);
    }

    /// The status and people chip, and what its button asks for.
    fn presence_ui(&mut self, ctx: &egui::Context) {
        let age = self.status_since.1.elapsed();
        let hosting = self.lan.chip(&self.session);
        let notice = self.lan.chip_notice();
        let following = self.together.follow().following().map(|f| f.client);
        match presence_ui(ctx, &self.session, age, &hosting, notice, following) {
            Some(PresenceAction::Join) => {
                let me = self.session.me();
                self.join_dialog.open(&me.name, self.session.room_url());
                let ctx = ctx.clone();
                self.join_dialog.look_around(move || ctx.request_repaint());
            }
            Some(PresenceAction::Leave) => {
                tracing::info!("leaving the room");
                self.session.leave();
            }
            Some(PresenceAction::People(PeopleAction::Moderate(command))) => {
                tracing::info!(?command, "running the room");
                self.session.moderate(command);
            }
            Some(PresenceAction::People(PeopleAction::MakeLink(role))) => {
                let base = self.session.room_url().map(str::to_owned);
                if let Some(link) = base.and_then(|base| self.session.new_invite_link(&base, role))
                {
                    ctx.copy_text(link);
                }
            }
            Some(PresenceAction::People(PeopleAction::Follow(asked))) => {
                self.together.act(asked, &mut self.session);
            }
            Some(action) => self.lan.chip_action(action, &mut self.session),
            None => {}
        }
        self.together.bar_ui(ctx, &mut self.session);
    }

    /// The join dialog, and joining when it is confirmed.
    fn join_dialog_ui(&mut self, ctx: &egui::Context) {
        let Some(JoinTarget {
            url,
            name,
            password,
            new_room_password,
            room_password,
        }) = self.join_dialog.modal_ui(ctx)
        else {
            return;
        };
        self.session.set_name(name);
        self.session.set_password(password);
        self.session.set_new_room_password(new_room_password);
        self.session.set_room_password(room_password);
        match self.join(&url, ctx) {
            Ok(()) => {
                tracing::info!(%url, "joining");
                self.join_dialog.close();
            }
            // Shown in the dialog, next to the address; not logged as well.
            Err(error) => self.join_dialog.set_error(Field::Relay, error.to_string()),
        }
    }
}

/// A wake for threads started before the window's first frame: repaints
/// the window once there is one.
fn repaint(window: &Arc<OnceLock<egui::Context>>) -> impl Fn() + Send + Sync + 'static {
    let window = Arc::clone(window);
    move || {
        if let Some(ctx) = window.get() {
            ctx.request_repaint();
        }
    }
}

impl eframe::App for TabulaApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        TabulaApp::logic(self, ctx);
    }

    fn ui(&mut self, ui: &mut Ui, frame: &mut eframe::Frame) {
        self.frame_stats.set_eframe_cpu(frame.info().cpu_usage);
        self.whiteboard_ui(ui);
    }

    fn clear_color(&self, _visuals: &egui::Visuals) -> [f32; 4] {
        PAPER.to_normalized_gamma_f32()
    }
}
