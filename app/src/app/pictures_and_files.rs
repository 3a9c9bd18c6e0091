//! Pictures and files in and out of the window: pictures made ready landing
//! on the board (and one copied back out with ctrl+C), where the board's
//! view is, and the paths asked of the system's file dialog going to whoever
//! asked for them.

use super::TabulaApp;
use crate::canvas::convert::point_from_pos;
use crate::canvas::tools::Tool;
use crate::files::menu::FileMenu;
use crate::insert::{Landing, landing_size};
use crate::ui::file_dialog::{Outcome, Picked, Purpose};
use crate::ui::notices::Level;

impl TabulaApp {
    /// Starts putting the picture in the file at `path` on the board, in
    /// the middle of the view, as File → Insert image… does.
    pub fn insert_file(&mut self, path: &std::path::Path, ctx: &egui::Context) {
        let at = self.view_centre();
        self.inserting.file(ctx, path, at);
    }

    /// Puts the pictures made ready on the board, each selected (with the
    /// select tool) so that it can be moved and resized at once, and says
    /// why any could not be.
    pub(super) fn land_pictures(&mut self) {
        let (landed, refused) = self.inserting.poll();
        for sentence in refused {
            self.notices.push(Level::Warning, sentence);
        }
        let visible = self.visible_canvas();
        for Landing { picture, at } in landed {
            let size = landing_size(picture.size, visible);
            if let Some(id) = self.session.insert_picture(picture, at, size) {
                self.tools.tool = Tool::Select;
                self.canvas.selection_mut().set([id]);
            }
        }
    }

    /// The board's rectangle on show, in canvas units.
    pub(super) fn visible_canvas(&self) -> tabula_shared::Rect {
        let visible = self.canvas.camera().visible_canvas(self.canvas.viewport());
        tabula_shared::Rect::from_corners(point_from_pos(visible.min), point_from_pos(visible.max))
    }

    /// The centre of the view, in canvas units: where a picture lands when
    /// the pointer is not over the board.
    pub(super) fn view_centre(&self) -> tabula_shared::Point {
        self.visible_canvas().center()
    }

    /// Copies the one image selected to the clipboard as a picture, when
    /// the person copies (ctrl+C) with nothing else selected.
    pub(super) fn copy_picture(&self, ctx: &egui::Context) {
        if !ctx.input(|i| i.events.iter().any(|e| matches!(e, egui::Event::Copy))) {
            return;
        }
        let board = self.session.board();
        let mut selected = self.canvas.selection().objects(board);
        let (Some(only), None) = (selected.next(), selected.next()) else {
            return;
        };
        let Some(blob) = only
            .data
            .blob()
            .and_then(|id| self.session.pictures().get(id))
        else {
            return;
        };
        match crate::pictures::decode::decode(blob.bytes()) {
            Ok(pixels) => ctx.copy_image(pixels),
            Err(err) => tracing::warn!(blob = %blob.id(), %err, "cannot copy an image"),
        }
    }

    /// Asks where, for `purpose`: in the system's file dialog, or, without
    /// one, in the path field of whoever asked.
    pub(super) fn choose(&mut self, purpose: Purpose, ctx: &egui::Context) {
        let request = match purpose {
            Purpose::Open | Purpose::SaveAs => FileMenu::request(purpose, self.documents.current()),
            Purpose::Export => self.export_dialog.file_request(),
            Purpose::TimelapseFolder => match &self.replay {
                Some(replay) => replay.timelapse_request(),
                None => return,
            },
            Purpose::InsertImage => FileMenu::image_request(),
        };
        let ctx_to_wake = ctx.clone();
        let wake = move || ctx_to_wake.request_repaint();
        if let Some(picked) = self.picker.ask(purpose, request, wake) {
            self.picked(picked, ctx);
        }
    }

    /// The path chosen for a purpose (or that it is to be typed) goes to
    /// whoever asked.
    pub(super) fn picked(&mut self, Picked { purpose, outcome }: Picked, ctx: &egui::Context) {
        match (purpose, outcome) {
            (_, Outcome::Cancelled) => {}
            (Purpose::Open | Purpose::SaveAs, Outcome::Chosen(path)) => {
                FileMenu::path_chosen(purpose, &path, &mut self.documents, &self.session, ctx);
            }
            (Purpose::Open | Purpose::SaveAs, Outcome::TypeIt(note)) => {
                self.file_menu
                    .type_path(purpose, self.documents.current(), note);
            }
            (Purpose::Export, Outcome::Chosen(path)) => self.export_dialog.set_path(&path),
            (Purpose::Export, Outcome::TypeIt(note)) => self.export_dialog.type_path(note),
            (Purpose::TimelapseFolder, Outcome::Chosen(path)) => {
                if let Some(replay) = &mut self.replay {
                    replay.set_timelapse_dir(&path);
                }
            }
            (Purpose::TimelapseFolder, Outcome::TypeIt(note)) => {
                if let Some(replay) = &mut self.replay {
                    replay.type_timelapse_dir(note);
                }
            }
            (Purpose::InsertImage, Outcome::Chosen(path)) => {
                let at = self.view_centre();
                self.inserting.file(ctx, &path, at);
            }
            (Purpose::InsertImage, Outcome::TypeIt(note)) => {
                self.file_menu.type_path(purpose, None, note);
            }
        }
    }
}
