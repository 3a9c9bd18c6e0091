//! Timelapse: a replay written out as numbered PNG frames.
//!
//! Frames are taken at even steps of playback time (pauses compressed or not,
//! as the timeline shows them), the last one at the end of the session, and
//! each is drawn by [`super::png::encode`], the board's own PNG export. Every
//! frame covers the same area, the final board's: two invisible one-point
//! strokes pinned at that area's corners go into each frame, so that the
//! export (which frames what it is given) makes every picture the same size
//! and the drawing does not jump about between frames.
//!
//! [`TimelapseJob`] does the work as a [`Job`] on the `tabula-timelapse`
//! thread, counting frames written, so the window stays live and shows a
//! progress bar; Cancel stops it after the frame it is writing, and it says
//! how many frames were written.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use tabula_shared::object::{Fill, ObjectData, ObjectKind};
use tabula_shared::replay::{Replay, Timeline};
use tabula_shared::{ClientId, Color, Object, ObjectId, Point, Rect};

use super::{ExportError, png};
use crate::jobs::{Job, Work};

/// The name of the thread that writes timelapse frames.
pub const THREAD_NAME: &str = "tabula-timelapse";

/// The timelapse's one stage, of the frames to write.
pub const WRITING_FRAMES: &str = "Writing frames";

/// Pixels per canvas unit in a frame.
const SCALE: f32 = 1.0;

/// Why frames could not be written; names the file or folder.
#[derive(Debug, thiserror::Error)]
pub enum TimelapseError {
    /// The frame could not be drawn.
    #[error("frame {frame}: {cause}")]
    Export {
        /// Which frame.
        frame: usize,
        /// Why.
        cause: ExportError,
    },
    /// The folder or a frame could not be written.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        cause: std::io::Error,
    },
}

/// The positions (ops applied) of `frames` frames at even steps of playback
/// time, the last at the end. Repeats are kept: a pause is a still stretch.
#[must_use]
pub fn frame_positions(timeline: &Timeline, frames: usize) -> Vec<u64> {
    let duration = timeline.duration_ms();
    let frames = frames.max(1);
    (1..=frames)
        .map(|i| {
            let at = if frames == 1 {
                duration
            } else {
                duration * (i - 1) as u64 / (frames - 1) as u64
            };
            timeline.position_at(at)
        })
        .collect()
}

/// Two invisible marks at the corners of `area`, so that every frame covers it.
fn corner_marks(area: Rect) -> [Object; 2] {
    [area.min, area.max].map(|at| Object {
        id: ObjectId::random(),
        author: ClientId::random(),
        data: ObjectData {
            kind: ObjectKind::Freehand,
            points: vec![at],
            color: Color {
                r: 0,
                g: 0,
                b: 0,
                a: 0,
            },
            width: 0.5,
            fill: Fill::None,
            text: String::new(),
            font_size: 20.0,
        },
        offset: Point::default(),
        layer: 0,
        finished: true,
        deleted: false,
    })
}

/// How many frames were written, of how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// Frames written, `frame-00001.png` on.
    pub frames: usize,
    /// Frames asked for.
    pub of: usize,
}

impl Written {
    /// Whether it stopped before the last frame (it was cancelled).
    #[must_use]
    pub fn stopped_early(&self) -> bool {
        self.frames < self.of
    }
}

/// Writes one PNG per position into `dir` (`frame-00001.png`, …), telling
/// `written` the number written after each; stops once it breaks. Returns
/// how many were written.
pub fn write_frames(
    replay: &mut Replay,
    positions: &[u64],
    dir: &Path,
    mut written: impl FnMut(usize) -> ControlFlow<()>,
) -> Result<Written, TimelapseError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |cause| TimelapseError::Io { path, cause }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let area = replay
        .final_board()
        .content_bounds()
        .unwrap_or(Rect::from_corners(
            Point::new(0.0, 0.0),
            Point::new(640.0, 480.0),
        ));
    let marks = corner_marks(area);
    for (i, &position) in positions.iter().enumerate() {
        replay.seek(position);
        let objects: Vec<&Object> = marks.iter().chain(replay.board().objects()).collect();
        let png = png::encode(&objects, SCALE).map_err(|cause| TimelapseError::Export {
            frame: i + 1,
            cause,
        })?;
        let path = dir.join(format!("frame-{:05}.png", i + 1));
        std::fs::write(&path, png).map_err(io(&path))?;
        if written(i + 1).is_break() {
            return Ok(Written {
                frames: i + 1,
                of: positions.len(),
            });
        }
    }
    Ok(Written {
        frames: positions.len(),
        of: positions.len(),
    })
}

/// A timelapse being written on the `tabula-timelapse` thread.
#[derive(Debug)]
pub struct TimelapseJob {
    /// Where the frames go.
    dir: PathBuf,
    /// How many frames in all.
    total: usize,
    /// The job: frames written so far, the cancel flag, and the outcome.
    job: Job<Result<Written, TimelapseError>>,
    /// The outcome once the job is done: frames written, or why not.
    outcome: Option<Result<Written, String>>,
}

impl TimelapseJob {
    /// Starts writing the frames of `replay` at `positions` into `dir`;
    /// `wake` is called as frames are written and at the end (the window's
    /// repaint).
    pub fn start(
        mut replay: Replay,
        positions: Vec<u64>,
        dir: PathBuf,
        wake: impl Fn() + Send + 'static,
    ) -> Result<Self, TimelapseError> {
        let total = positions.len();
        let target = dir.clone();
        let job = Job::spawn(THREAD_NAME, wake, move |work: &Work| {
            work.stage(WRITING_FRAMES, positions.len() as u64);
            write_frames(&mut replay, &positions, &target, |n| {
                work.set_done(n as u64);
                if work.is_cancelled() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
        })
        .map_err(|cause| TimelapseError::Io {
            path: dir.clone(),
            cause,
        })?;
        Ok(Self {
            dir,
            total,
            job,
            outcome: None,
        })
    }

    /// Takes in how the thread ended, once it has; the app calls it once a
    /// frame with the other jobs.
    pub fn poll(&mut self) {
        let Some(result) = self.job.poll() else {
            return;
        };
        let result = result.unwrap_or_else(|lost| {
            Err(TimelapseError::Io {
                path: self.dir.clone(),
                cause: lost.into(),
            })
        });
        self.outcome = Some(match result {
            Ok(written) if written.stopped_early() => {
                tracing::info!(frames = written.frames, of = written.of, dir = %self.dir.display(), "timelapse cancelled");
                Ok(written)
            }
            Ok(written) => {
                tracing::info!(frames = written.frames, dir = %self.dir.display(), "timelapse written");
                Ok(written)
            }
            // Logged here and shown by the timeline.
            Err(error) => {
                tracing::warn!(%error, "timelapse failed");
                Err(error.to_string())
            }
        });
    }

    /// Asks the thread to stop after the frame it is writing.
    pub fn cancel(&self) {
        self.job.cancel();
    }

    /// Whether [`Self::cancel`] was called.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.job.is_cancelled()
    }

    /// How far along, 0 to 1.
    #[must_use]
    pub fn fraction(&self) -> f32 {
        if self.total == 0 {
            1.0
        } else {
            self.counts().0 as f32 / self.total as f32
        }
    }

    /// Frames written so far, and in all.
    #[must_use]
    pub fn counts(&self) -> (usize, usize) {
        let done = usize::try_from(self.job.progress().done).unwrap_or(self.total);
        (done.min(self.total), self.total)
    }

    /// The outcome, once done.
    #[must_use]
    pub fn outcome(&self) -> Option<&Result<Written, String>> {
        self.outcome.as_ref()
    }

    /// Where the frames go.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
