//! Playback time: the [`Timeline`] maps it to an op index from the ops'
//! timestamps, and the [`Player`] advances it at a chosen speed.

use super::Replay;
use crate::SequencedOp;

/// The slowest and fastest playback speeds.
pub const SPEED_RANGE: (f64, f64) = (0.25, 16.0);
/// The speeds a speed picker offers.
pub const SPEEDS: [f64; 7] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];
/// The default longest pause when pauses are compressed, in milliseconds.
pub const DEFAULT_MAX_PAUSE_MS: u64 = 2000;

/// When each op happens in playback time: the ops' timestamps measured from the
/// first op, with every gap longer than `max_pause_ms` (if set) counted as
/// `max_pause_ms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    /// `at[i]` is when op `i + 1` happens, in ms from the first op; never
    /// decreasing (a timestamp earlier than the one before counts as a gap of 0).
    at: Vec<u64>,
    /// The longest pause kept, if pauses are compressed.
    max_pause_ms: Option<u64>,
}

impl Timeline {
    /// The timeline of `ops`, pauses compressed to `max_pause_ms` if given.
    #[must_use]
    pub fn new(ops: &[SequencedOp], max_pause_ms: Option<u64>) -> Self {
        let mut at = Vec::with_capacity(ops.len());
        let mut now = 0u64;
        let mut previous = ops.first().map_or(0, |op| op.timestamp_ms);
        for op in ops {
            let gap = op.timestamp_ms.saturating_sub(previous);
            now += max_pause_ms.map_or(gap, |max| gap.min(max));
            previous = previous.max(op.timestamp_ms);
            at.push(now);
        }
        Self { at, max_pause_ms }
    }

    /// The longest pause kept, if pauses are compressed.
    #[must_use]
    pub fn max_pause_ms(&self) -> Option<u64> {
        self.max_pause_ms
    }

    /// How long the whole session plays at 1×, in ms.
    #[must_use]
    pub fn duration_ms(&self) -> u64 {
        self.at.last().copied().unwrap_or(0)
    }

    /// When op `k` happens (1-based); 0 for position 0.
    #[must_use]
    pub fn time_of(&self, k: u64) -> u64 {
        match k {
            0 => 0,
            k => self.at[(k.min(self.at.len() as u64) - 1) as usize],
        }
    }

    /// How many ops have happened by playback time `ms`.
    #[must_use]
    pub fn position_at(&self, ms: u64) -> u64 {
        self.at.partition_point(|&t| t <= ms) as u64
    }
}

/// Playing a replay back in time: whether it plays, how fast, and where the
/// playback clock stands.
#[derive(Clone, Debug, PartialEq)]
pub struct Player {
    /// Whether time moves.
    playing: bool,
    /// How many session milliseconds pass per real millisecond.
    speed: f64,
    /// Where playback stands, in ms of the timeline; kept fractional so that
    /// slow speeds and short frames still add up.
    clock_ms: f64,
}

impl Default for Player {
    fn default() -> Self {
        Self {
            playing: false,
            speed: 1.0,
            clock_ms: 0.0,
        }
    }
}

impl Player {
    /// Paused at the start, at 1×.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether it is playing.
    #[must_use]
    pub fn is_playing(&self) -> bool {
        self.playing
    }

    /// The speed, 0.25× to 16×.
    #[must_use]
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Where playback stands, in ms of the timeline.
    #[must_use]
    pub fn clock_ms(&self) -> f64 {
        self.clock_ms
    }

    /// Sets the speed, kept within [`SPEED_RANGE`].
    pub fn set_speed(&mut self, speed: f64) {
        self.speed = if speed.is_finite() {
            speed.clamp(SPEED_RANGE.0, SPEED_RANGE.1)
        } else {
            1.0
        };
    }

    /// Starts playing; from the start if the replay is at its end.
    pub fn play(&mut self, replay: &mut Replay, timeline: &Timeline) {
        if replay.position() >= replay.len() {
            replay.seek(0);
        }
        self.sync(replay, timeline);
        self.playing = true;
    }

    /// Stops time where it is.
    pub fn pause(&mut self) {
        self.playing = false;
    }

    /// Puts the clock at the op the replay shows, after a seek, a step or a
    /// change of timeline.
    pub fn sync(&mut self, replay: &Replay, timeline: &Timeline) {
        self.clock_ms = timeline.time_of(replay.position()) as f64;
    }

    /// Lets `elapsed_ms` of real time pass: moves the clock by `elapsed_ms ×
    /// speed` and the replay to the ops that have happened by then. Stops at
    /// the end. Returns whether the shown board moved.
    pub fn tick(&mut self, replay: &mut Replay, timeline: &Timeline, elapsed_ms: f64) -> bool {
        if !self.playing || !elapsed_ms.is_finite() || elapsed_ms <= 0.0 {
            return false;
        }
        self.clock_ms += elapsed_ms * self.speed;
        let target = timeline.position_at(self.clock_ms as u64);
        let before = replay.position();
        replay.seek(target);
        if replay.position() >= replay.len() {
            self.playing = false;
        }
        replay.position() != before
    }
}
