//! An export off the UI thread: the picture drawn (or the SVG written out),
//! encoded, and written to its file, or handed back for the clipboard, as a
//! [`Job`] on the `tabula-export` thread.
//!
//! A large board takes seconds to rasterise at 2×; on the UI thread the
//! window froze meanwhile. [`ExportJob::start`] takes a copy of the objects
//! and does it all on the thread, reporting each object drawn (n of m) and
//! looking at the cancel flag between them; nothing is written once it is
//! cancelled. The export dialog polls it each frame ([`ExportJob::poll`]) and
//! shows its progress.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use tabula_shared::Object;

use super::{Blobs, ExportError, Format, png, svg};
use crate::jobs::{Job, Progress, Work};

/// The name of the thread that exports.
pub const THREAD_NAME: &str = "tabula-export";

/// Drawing the objects (a PNG) or writing their elements (an SVG), of the
/// objects exported.
pub const DRAWING: &str = "Drawing";
/// Encoding the PNG's pixels.
pub const ENCODING: &str = "Encoding";
/// Writing the file.
pub const WRITING: &str = "Writing the file";

/// Where an export goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// This file, written whole once the picture is ready.
    File(PathBuf),
    /// The clipboard, as an image (the UI thread copies it).
    Clipboard,
}

/// What a finished export made.
#[derive(Debug)]
pub enum Exported {
    /// The file is written, with this many bytes.
    Written {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: usize,
    },
    /// The picture, for the clipboard.
    Image(egui::ColorImage),
}

/// An export running on the `tabula-export` thread.
#[derive(Debug)]
pub struct ExportJob {
    /// Where it goes.
    destination: Destination,
    /// The job: its stage and objects drawn, its cancel flag, its result.
    job: Job<Result<Exported, ExportError>>,
}

impl ExportJob {
    /// Starts exporting `objects` (bottom first) as `format` to
    /// `destination` on a new thread, which calls `wake` as it progresses and
    /// when it is done (pass one that repaints the window). The clipboard
    /// always gets a PNG, at the format's scale.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start(
        objects: Vec<Object>,
        blobs: Blobs,
        format: Format,
        destination: Destination,
        wake: impl Fn() + Send + 'static,
    ) -> std::io::Result<Self> {
        let to = destination.clone();
        let total = objects.len() as u64;
        let job = Job::spawn_at(DRAWING, total, THREAD_NAME, wake, move |work| {
            export(&objects, &blobs, format, &to, work)
        })?;
        Ok(Self { destination, job })
    }

    /// Where it goes.
    #[must_use]
    pub fn destination(&self) -> &Destination {
        &self.destination
    }

    /// How far it has come: [`DRAWING`] n of m objects, [`ENCODING`],
    /// [`WRITING`].
    #[must_use]
    pub fn progress(&self) -> Progress {
        self.job.progress()
    }

    /// Asks it to stop: it does after the object it is drawing, and writes
    /// nothing.
    pub fn cancel(&self) {
        self.job.cancel();
    }

    /// Whether [`Self::cancel`] was called.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.job.is_cancelled()
    }

    /// The outcome, once the thread is done; `None` while it works.
    pub fn poll(&mut self) -> Option<Result<Exported, ExportError>> {
        Some(
            self.job
                .poll()?
                .unwrap_or_else(|lost| Err(ExportError::Write(lost.into()))),
        )
    }
}

/// The export thread's work.
fn export<P>(
    objects: &[Object],
    blobs: &Blobs,
    format: Format,
    destination: &Destination,
    work: &Work<P>,
) -> Result<Exported, ExportError> {
    let objects: Vec<&Object> = objects.iter().collect();
    let total = objects.len();
    // A PNG for a file is encoded once every object is drawn.
    let encodes = format != Format::Svg && matches!(destination, Destination::File(_));
    work.stage(DRAWING, total as u64);
    let mut drawn = |n: usize| {
        work.set_done(n as u64);
        if work.is_cancelled() {
            return ControlFlow::Break(());
        }
        if n == total && encodes {
            work.stage(ENCODING, 0);
        }
        ControlFlow::Continue(())
    };
    let path = match destination {
        Destination::Clipboard => {
            let image = png::image_with(&objects, blobs, format.scale(), &mut drawn)?;
            return Ok(Exported::Image(image));
        }
        Destination::File(path) => path,
    };
    let bytes = match format {
        Format::Png1x | Format::Png2x => {
            png::encode_with(&objects, blobs, format.scale(), &mut drawn)?
        }
        Format::Svg => svg::encode_with(&objects, blobs, &mut drawn)?.into_bytes(),
    };
    if work.is_cancelled() {
        return Err(ExportError::Cancelled);
    }
    work.stage(WRITING, 0);
    write(path, &bytes)?;
    tracing::debug!(path = %path.display(), bytes = bytes.len(), "exported");
    Ok(Exported::Written {
        path: path.clone(),
        bytes: bytes.len(),
    })
}

/// Writes `bytes` to `path`.
fn write(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    std::fs::write(path, bytes).map_err(ExportError::Write)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};
    use std::time::{Duration, Instant};

    use tabula_shared::object::{Fill, ObjectData, ObjectKind};
    use tabula_shared::{ClientId, Color, ObjectId, Point};

    use super::*;

    /// `n` small boxes in a row.
    fn boxes(n: usize) -> Vec<Object> {
        (0..n)
            .map(|i| {
                let x = i as f32 * 30.0;
                Object {
                    id: ObjectId::random(),
                    author: ClientId::random(),
                    data: ObjectData {
                        kind: ObjectKind::Rectangle,
                        points: vec![Point::new(x, 0.0), Point::new(x + 20.0, 20.0)],
                        color: Color::rgb(200, 40, 40),
                        width: 2.0,
                        fill: Fill::Solid,
                        text: String::new(),
                        font_size: 20.0,
                    },
                    offset: Point::default(),
                    layer: i64::try_from(i).unwrap(),
                    finished: true,
                    deleted: false,
                }
            })
            .collect()
    }

    /// Polls `poll` until it gives the outcome.
    fn wait<T>(mut poll: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_mins(1);
        loop {
            if let Some(outcome) = poll() {
                return outcome;
            }
            assert!(Instant::now() < deadline, "the export never ended");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn an_export_draws_every_object_then_writes_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("boxes.png");
        let objects = boxes(12);
        let expected = png::encode(&objects.iter().collect::<Vec<_>>(), 2.0).unwrap();
        let mut job = ExportJob::start(
            objects,
            Blobs::new(),
            Format::Png2x,
            Destination::File(path.clone()),
            || {},
        )
        .unwrap();
        let exported = wait(|| job.poll()).unwrap();
        assert!(
            matches!(&exported, Exported::Written { path: p, bytes } if *p == path && *bytes == expected.len()),
            "{exported:?}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), expected);
        assert_eq!(job.progress().stage, WRITING, "its last stage");
    }

    #[test]
    fn a_cancelled_export_stops_after_the_object_it_draws_and_writes_nothing() {
        for format in [Format::Png1x, Format::Svg] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(format!("boxes.{}", format.extension()));
            let objects = boxes(50);
            let go = Arc::new(Barrier::new(2));
            let thread_go = Arc::clone(&go);
            let to = Destination::File(path.clone());
            let mut job = Job::spawn(
                "tabula-test-export",
                || {},
                move |work: &Work| {
                    thread_go.wait();
                    export(&objects, &Blobs::new(), format, &to, work)
                },
            )
            .unwrap();
            job.cancel();
            go.wait();
            let outcome = wait(|| job.poll()).unwrap();
            assert!(
                matches!(outcome, Err(ExportError::Cancelled)),
                "{outcome:?}"
            );
            let progress = job.progress();
            assert_eq!(
                (progress.stage.as_ref(), progress.done, progress.total),
                (DRAWING, 1, 50),
                "stopped after the first object"
            );
            assert!(!path.exists(), "nothing written");
        }
    }

    #[test]
    fn an_export_that_cannot_be_written_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no such folder").join("boxes.svg");
        let mut job = ExportJob::start(
            boxes(2),
            Blobs::new(),
            Format::Svg,
            Destination::File(path),
            || {},
        )
        .unwrap();
        let outcome = wait(|| job.poll());
        assert!(matches!(outcome, Err(ExportError::Write(_))), "{outcome:?}");
        // And nothing to export is said as such.
        let mut job = ExportJob::start(
            Vec::new(),
            Blobs::new(),
            Format::Png1x,
            Destination::Clipboard,
            || {},
        )
        .unwrap();
        assert!(matches!(wait(|| job.poll()), Err(ExportError::Empty)));
    }

    #[test]
    fn the_clipboard_gets_the_picture_at_the_formats_scale() {
        let mut job = ExportJob::start(
            boxes(3),
            Blobs::new(),
            Format::Png2x,
            Destination::Clipboard,
            || {},
        )
        .unwrap();
        match wait(|| job.poll()) {
            Ok(Exported::Image(image)) => {
                let expected = png::image(&boxes(3).iter().collect::<Vec<_>>(), 2.0).unwrap();
                assert_eq!(image.size, expected.size);
            }
            other => panic!("{other:?}"),
        }
    }
}
