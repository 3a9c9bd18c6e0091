//! Putting pictures on the board: pasted (ctrl+V), dropped on the window as
//! files, or chosen with File → Insert image….
//!
//! A picture is made fit to share ([`crate::pictures::decode::prepare`]:
//! read, and downscaled and encoded again past the caps) on a
//! `tabula-insert` job, since a large photograph takes a moment; the frame
//! polls the jobs ([`Inserting::poll`]) and each finished one lands on the
//! board, centred where the pointer was (or in the view's centre), as large
//! as it is in pixels but never more than most of the view. A file that is
//! not a picture, or cannot be read, is said in a sentence naming it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use egui::{ColorImage, Context, Event};
use tabula_shared::Point;
use tabula_shared::caps::MAX_BLOB_BYTES;

use crate::jobs::Job;
use crate::pictures::decode::{Prepared, prepare, prepare_pixels};

/// The most of the visible board's width or height a new image takes.
const MOST_OF_VIEW: f32 = 0.6;
/// The largest file read to insert: a panorama's JPEG, well past what is
/// kept (it is downscaled), and not a file that fills memory.
const MAX_FILE_BYTES: u64 = 16 * MAX_BLOB_BYTES;

/// Where a picture comes from, for messages.
#[derive(Clone, Debug)]
enum Source {
    /// The clipboard.
    Clipboard,
    /// A file.
    File(PathBuf),
}

impl Source {
    /// The picture in words: "the pasted picture", "photo.jpg".
    fn name(&self) -> String {
        match self {
            Self::Clipboard => "The pasted picture".to_owned(),
            Self::File(path) => path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
        }
    }
}

/// One picture being made fit to share.
struct Pending {
    /// Where it came from.
    source: Source,
    /// Where its centre goes on the board.
    at: Point,
    /// The work.
    job: Job<Result<Prepared, String>>,
}

/// The pictures on their way onto the board.
#[derive(Default)]
pub struct Inserting {
    /// Oldest first.
    pending: Vec<Pending>,
}

impl std::fmt::Debug for Inserting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inserting")
            .field("pending", &self.pending.len())
            .finish()
    }
}

/// A picture ready to land, and where.
#[derive(Debug)]
pub struct Landing {
    /// The picture.
    pub picture: Prepared,
    /// Its centre on the board.
    pub at: Point,
}

impl Inserting {
    /// Starts inserting what this frame's input brings: pasted pixels, and
    /// files dropped on the window. They land at `at`.
    pub fn take_input(&mut self, ctx: &Context, at: Point) {
        let (pasted, dropped) = ctx.input(|i| {
            let pasted: Vec<Arc<ColorImage>> = i
                .events
                .iter()
                .filter_map(|event| match event {
                    Event::PasteImage(image) => Some(Arc::clone(image)),
                    _ => None,
                })
                .collect();
            (pasted, i.raw.dropped_files.clone())
        });
        for image in pasted {
            self.start(ctx, Source::Clipboard, at, move || {
                prepare_pixels(&image).map_err(|err| err.to_string())
            });
        }
        for file in dropped {
            let path = file.path().to_path_buf();
            if path.is_file() {
                self.file(ctx, &path, at);
            } else {
                self.start(ctx, Source::File(path), at, move || {
                    prepare(file.bytes()?).map_err(|err| err.to_string())
                });
            }
        }
    }

    /// Starts inserting the picture in the file at `path`, landing at `at`.
    pub fn file(&mut self, ctx: &Context, path: &Path, at: Point) {
        let read_from = path.to_path_buf();
        self.start(ctx, Source::File(path.to_path_buf()), at, move || {
            let size = std::fs::metadata(&read_from)
                .map_err(|err| err.to_string())?
                .len();
            if size > MAX_FILE_BYTES {
                return Err(format!(
                    "it is {}, more than Tabula reads",
                    tabula_shared::blob::mib(size)
                ));
            }
            let bytes = std::fs::read(&read_from).map_err(|err| err.to_string())?;
            prepare(bytes).map_err(|err| err.to_string())
        });
    }

    /// Whether pictures are on their way.
    #[must_use]
    pub fn is_busy(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The pictures made ready since the last call, in the order they were
    /// asked for, and sentences for those that cannot be inserted.
    pub fn poll(&mut self) -> (Vec<Landing>, Vec<String>) {
        let mut landed = Vec::new();
        let mut refused = Vec::new();
        self.pending.retain_mut(|pending| {
            let Some(result) = pending.job.poll() else {
                return true;
            };
            match result {
                Ok(Ok(picture)) => landed.push(Landing {
                    picture,
                    at: pending.at,
                }),
                Ok(Err(why)) => {
                    tracing::warn!(source = ?pending.source, %why, "cannot insert a picture");
                    refused.push(format!(
                        "{} cannot be inserted: {why}.",
                        pending.source.name()
                    ));
                }
                Err(lost) => refused.push(format!(
                    "{} cannot be inserted: {lost}.",
                    pending.source.name()
                )),
            }
            false
        });
        (landed, refused)
    }

    /// Runs `work` on a `tabula-insert` job.
    fn start(
        &mut self,
        ctx: &Context,
        source: Source,
        at: Point,
        work: impl FnOnce() -> Result<Prepared, String> + Send + 'static,
    ) {
        let waker = ctx.clone();
        match Job::spawn("tabula-insert", move || waker.request_repaint(), |_| work()) {
            Ok(job) => self.pending.push(Pending { source, at, job }),
            Err(err) => tracing::warn!(%err, "cannot start inserting a picture"),
        }
    }
}

/// How large a picture of `size` pixels lands, in canvas units, when
/// `visible` (canvas units) is on show: its size in pixels at 100 %, made
/// smaller to take at most [`MOST_OF_VIEW`] of the view.
#[must_use]
pub fn landing_size(size: [u32; 2], visible: tabula_shared::Rect) -> (f32, f32) {
    let (w, h) = (size[0].max(1) as f32, size[1].max(1) as f32);
    let fit = (visible.width() * MOST_OF_VIEW / w)
        .min(visible.height() * MOST_OF_VIEW / h)
        .min(1.0);
    (w * fit, h * fit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picture_lands_at_its_size_or_smaller_to_fit_the_view() {
        let view =
            tabula_shared::Rect::from_corners(Point::new(0.0, 0.0), Point::new(1000.0, 500.0));
        assert_eq!(landing_size([200, 100], view), (200.0, 100.0));
        let (w, h) = landing_size([4000, 1000], view);
        assert!(
            (w - 600.0).abs() < 0.01 && (h - 150.0).abs() < 0.01,
            "{w}×{h}"
        );
    }
}
