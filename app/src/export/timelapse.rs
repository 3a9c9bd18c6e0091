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
//! [`TimelapseJob`] does the work on a named thread and reports progress over a
//! channel, so the window stays live and shows a progress bar.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use tabula_shared::object::{Fill, ObjectData, ObjectKind};
use tabula_shared::replay::{Replay, Timeline};
use tabula_shared::{ClientId, Color, Object, ObjectId, Point, Rect};

use super::{ExportError, png};

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

/// Writes one PNG per position into `dir` (`frame-00001.png`, …), calling
/// `progress` with the number written after each. Returns how many.
pub fn write_frames(
    replay: &mut Replay,
    positions: &[u64],
    dir: &Path,
    mut progress: impl FnMut(usize),
) -> Result<usize, TimelapseError> {
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
        progress(i + 1);
    }
    Ok(positions.len())
}

/// What the thread tells the window.
#[derive(Debug)]
enum Report {
    /// This many frames are written.
    Frame(usize),
    /// Finished: how many frames, or why not.
    Done(Result<usize, String>),
}

/// A timelapse being written on its own thread.
#[derive(Debug)]
pub struct TimelapseJob {
    /// Where the frames go.
    dir: PathBuf,
    /// How many frames in all.
    total: usize,
    /// How many are written so far.
    done: usize,
    /// Progress from the thread: frames written, then the outcome.
    events: mpsc::Receiver<Report>,
    /// The outcome once the thread is done: frames written, or why not.
    outcome: Option<Result<usize, String>>,
}

impl TimelapseJob {
    /// Starts writing the frames of `replay` at `positions` into `dir`;
    /// `wake` is called after each frame (the window's repaint).
    pub fn start(
        mut replay: Replay,
        positions: Vec<u64>,
        dir: PathBuf,
        wake: impl Fn() + Send + 'static,
    ) -> Result<Self, TimelapseError> {
        let (tx, events) = mpsc::channel();
        let total = positions.len();
        let target = dir.clone();
        std::thread::Builder::new()
            .name("tabula-timelapse".to_owned())
            .spawn(move || {
                let written = write_frames(&mut replay, &positions, &target, |n| {
                    let _ = tx.send(Report::Frame(n));
                    wake();
                });
                // The window may have closed; nobody is left to tell.
                let _ = tx.send(Report::Done(written.map_err(|e| e.to_string())));
                wake();
            })
            .map_err(|cause| TimelapseError::Io {
                path: dir.clone(),
                cause,
            })?;
        Ok(Self {
            dir,
            total,
            done: 0,
            events,
            outcome: None,
        })
    }

    /// Takes in what the thread reported; call each frame.
    pub fn poll(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            match event {
                Report::Frame(n) => self.done = n,
                Report::Done(Ok(n)) => {
                    tracing::info!(frames = n, dir = %self.dir.display(), "timelapse written");
                    self.outcome = Some(Ok(n));
                }
                // Logged here and shown by the timeline.
                Report::Done(Err(error)) => {
                    tracing::warn!(%error, "timelapse failed");
                    self.outcome = Some(Err(error));
                }
            }
        }
    }

    /// How far along, 0 to 1.
    #[must_use]
    pub fn fraction(&self) -> f32 {
        if self.total == 0 {
            1.0
        } else {
            self.done as f32 / self.total as f32
        }
    }

    /// Frames written so far, and in all.
    #[must_use]
    pub fn counts(&self) -> (usize, usize) {
        (self.done, self.total)
    }

    /// The outcome, once done.
    #[must_use]
    pub fn outcome(&self) -> Option<&Result<usize, String>> {
        self.outcome.as_ref()
    }

    /// Where the frames go.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
