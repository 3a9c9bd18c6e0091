//! [`Job`]: one way to run work off the UI thread, with progress, cancel and a
//! typed result the frame polls (the shape of emilk's `poll-promise`).
//!
//! [`Job::spawn`] runs a closure on a thread of its own, named (`tabula-save`,
//! `tabula-open`, …) so that logs, profilers and panics say whose it is. The
//! closure gets a [`Work`]: it reports its stage and how far it is (n of m),
//! looks at the cancel flag between steps ([`Work::is_cancelled`]), and may
//! hand parts over before it ends ([`Work::hand_over`]: the history behind a
//! file's snapshot, a chunk at a time). What it returns is the job's result.
//!
//! The UI side holds the [`Job`]: each frame, the app polls it
//! ([`Job::poll`], [`Job::poll_handed_over`]) and shows its
//! [`Job::progress`]; nothing blocks. The thread wakes the UI (a closure,
//! in the app one that repaints the window) when it hands something over,
//! when it finishes, on a new stage, and at most every
//! [`PROGRESS_WAKE_EVERY`] as it counts. Dropping the job cancels it: nobody
//! wants the result any more. A thread that ends without a result (it
//! panicked) is reported once as [`Lost`].

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The most often counting progress wakes the UI: ten times a second is
/// smooth for a progress bar and nothing for the UI.
pub const PROGRESS_WAKE_EVERY: Duration = Duration::from_millis(100);

/// How far a job has come, as the UI shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// What it is doing now ("Writing ops", "Drawing"); empty until it says.
    pub stage: Cow<'static, str>,
    /// Steps of this stage done.
    pub done: u64,
    /// Steps of this stage in all; 0 while unknown.
    pub total: u64,
}

impl Progress {
    /// `done` of `total` as 0 to 1 (0 while the total is unknown).
    #[must_use]
    pub fn fraction(&self) -> f32 {
        if self.total == 0 {
            0.0
        } else {
            (self.done.min(self.total) as f64 / self.total as f64) as f32
        }
    }
}

/// The job's thread ended without a result: it panicked (a bug; the panic
/// message is on stderr). The job's owner says what that means for its work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the {thread} thread stopped unexpectedly")]
pub struct Lost {
    /// The thread's name.
    pub thread: String,
}

impl From<Lost> for std::io::Error {
    fn from(lost: Lost) -> Self {
        Self::other(lost)
    }
}

/// Stops a blocking step of the work (an `SQLite` query) when the job is
/// cancelled; see [`Work::on_cancel`].
type Interrupt = Box<dyn Fn() + Send + Sync>;

/// What the thread and the UI share.
struct Shared {
    /// See [`Progress::stage`]; changed a few times a job, so a lock is fine.
    stage: Mutex<Cow<'static, str>>,
    /// See [`Progress::done`]: counted often, so an atomic.
    done: AtomicU64,
    /// See [`Progress::total`].
    total: AtomicU64,
    /// Set when the UI no longer wants the result: the work stops at its
    /// next look.
    cancelled: AtomicBool,
    /// Called once on cancel, for work blocked in a step that never looks
    /// at the flag.
    interrupt: Mutex<Option<Interrupt>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("done", &self.done)
            .field("total", &self.total)
            .field("cancelled", &self.cancelled)
            .finish_non_exhaustive()
    }
}

/// The thread's side of a job: progress, the cancel flag, hand-overs and the
/// UI's wake. The job's closure gets it by reference.
pub struct Work<P = ()> {
    /// Shared with the [`Job`].
    shared: Arc<Shared>,
    /// Where parts handed over before the end go.
    parts: Sender<P>,
    /// Wakes the UI, so that it polls.
    wake: Box<dyn Fn() + Send>,
    /// When the job started: the clock [`Self::last_wake`] counts on.
    started: Instant,
    /// When counting progress last woke the UI, in milliseconds since
    /// `started`: the next wake waits [`PROGRESS_WAKE_EVERY`].
    last_wake: AtomicU64,
}

impl<P> std::fmt::Debug for Work<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Work")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl<P> Work<P> {
    /// Whether the UI has given the job up: the work should stop (and its
    /// result will not be read).
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.shared.cancelled.load(Ordering::Relaxed)
    }

    /// Calls `interrupt` when the job is cancelled (at once if it already
    /// is), in place of any given before: for a step that blocks without
    /// looking at the flag, such as a long `SQLite` query, which it stops.
    pub fn on_cancel(&self, interrupt: impl Fn() + Send + Sync + 'static) {
        let mut slot = self
            .shared
            .interrupt
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if self.is_cancelled() {
            interrupt();
        } else {
            *slot = Some(Box::new(interrupt));
        }
    }

    /// A new stage, `stage`, of `total` steps (0: unknown), none done yet;
    /// wakes the UI.
    pub fn stage(&self, stage: impl Into<Cow<'static, str>>, total: u64) {
        *self
            .shared
            .stage
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = stage.into();
        self.shared.done.store(0, Ordering::Relaxed);
        self.shared.total.store(total, Ordering::Relaxed);
        (self.wake)();
    }

    /// The stage's total turned out to be `total`.
    pub fn set_total(&self, total: u64) {
        self.shared.total.store(total, Ordering::Relaxed);
    }

    /// `done` steps of the stage are done; wakes the UI at most every
    /// [`PROGRESS_WAKE_EVERY`].
    pub fn set_done(&self, done: u64) {
        self.shared.done.store(done, Ordering::Relaxed);
        self.progressed();
    }

    /// `steps` more steps of the stage are done; wakes the UI as
    /// [`Self::set_done`] does.
    pub fn add_done(&self, steps: u64) {
        self.shared.done.fetch_add(steps, Ordering::Relaxed);
        self.progressed();
    }

    /// Hands `part` to the UI before the job ends, and wakes it. `false`
    /// when nobody listens any more (the job was dropped): stop.
    pub fn hand_over(&self, part: P) -> bool {
        let sent = self.parts.send(part).is_ok();
        (self.wake)();
        sent
    }

    /// Wakes the UI if it has not been woken for [`PROGRESS_WAKE_EVERY`].
    fn progressed(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        let last = self.last_wake.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= PROGRESS_WAKE_EVERY.as_millis() as u64
            && self
                .last_wake
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            (self.wake)();
        }
    }
}

/// Work running on a named thread: its progress, its cancel flag, the parts
/// it hands over (`P`) and, once it is done, its result (`T`, usually a
/// `Result` of the work's own).
#[derive(Debug)]
pub struct Job<T, P = ()> {
    /// The thread's name, for [`Lost`].
    name: String,
    /// Progress and the cancel flag, shared with the thread.
    shared: Arc<Shared>,
    /// Where the thread sends its result, once.
    result: Receiver<T>,
    /// Where the thread sends parts before its result, oldest first.
    parts: Receiver<P>,
    /// Whether the result (or [`Lost`]) has been polled: polls after say
    /// nothing.
    polled: bool,
}

impl<T: Send + 'static, P: Send + 'static> Job<T, P> {
    /// Starts `work` on a new thread called `name`. The thread calls `wake`
    /// (pass one that repaints the window) when it progresses, hands a part
    /// over or finishes, and lets it go when it ends.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn spawn(
        name: &str,
        wake: impl Fn() + Send + 'static,
        work: impl FnOnce(&Work<P>) -> T + Send + 'static,
    ) -> std::io::Result<Self> {
        Self::spawn_at("", 0, name, wake, work)
    }

    /// [`Self::spawn`], the progress starting at `stage` of `total` steps:
    /// the UI knows them from the start, before the thread has run.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn spawn_at(
        stage: &'static str,
        total: u64,
        name: &str,
        wake: impl Fn() + Send + 'static,
        work: impl FnOnce(&Work<P>) -> T + Send + 'static,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            stage: Mutex::new(Cow::Borrowed(stage)),
            done: AtomicU64::new(0),
            total: AtomicU64::new(total),
            cancelled: AtomicBool::new(false),
            interrupt: Mutex::new(None),
        });
        let (result_sender, result) = mpsc::channel();
        let (part_sender, parts) = mpsc::channel();
        let context = Work {
            shared: Arc::clone(&shared),
            parts: part_sender,
            wake: Box::new(wake),
            started: Instant::now(),
            last_wake: AtomicU64::new(0),
        };
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let outcome = work(&context);
                // What the work's interrupt stopped may live on in its result
                // (an open file, read by the next job): a later cancel must
                // leave it be.
                context
                    .shared
                    .interrupt
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                // The UI may have gone away meanwhile; nobody is left to tell.
                let _ = result_sender.send(outcome);
                (context.wake)();
                // `context` goes here, and the wake with it.
            })?;
        Ok(Self {
            name: name.to_owned(),
            shared,
            result,
            parts,
            polled: false,
        })
    }
}

impl<T, P> Job<T, P> {
    /// The name of the job's thread.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How far the work has come.
    #[must_use]
    pub fn progress(&self) -> Progress {
        Progress {
            stage: self
                .shared
                .stage
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            done: self.shared.done.load(Ordering::Relaxed),
            total: self.shared.total.load(Ordering::Relaxed),
        }
    }

    /// Asks the work to stop; it does at its next look at the flag, and its
    /// result (if it still gives one) says how far it got.
    pub fn cancel(&self) {
        let slot = self
            .shared
            .interrupt
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.shared.cancelled.store(true, Ordering::Relaxed);
        if let Some(interrupt) = slot.as_ref() {
            interrupt();
        }
    }

    /// Whether [`Self::cancel`] was called.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.shared.cancelled.load(Ordering::Relaxed)
    }

    /// The result, once the work is done (or [`Lost`] if its thread ended
    /// without one); `None` while it works, and after the result was taken.
    /// Take the parts handed over first ([`Self::poll_handed_over`]): they
    /// were sent before it.
    pub fn poll(&mut self) -> Option<Result<T, Lost>> {
        if self.polled {
            return None;
        }
        let result = match self.result.try_recv() {
            Ok(result) => Ok(result),
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Disconnected) => Err(Lost {
                thread: self.name.clone(),
            }),
        };
        self.polled = true;
        Some(result)
    }

    /// The oldest part handed over and not yet taken; `None` if there is
    /// none (yet, or any more).
    #[must_use]
    pub fn poll_handed_over(&self) -> Option<P> {
        self.parts.try_recv().ok()
    }
}

impl<T, P> Drop for Job<T, P> {
    /// Nobody wants the result any more: the work stops at its next look.
    fn drop(&mut self) {
        self.cancel();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;

    /// Polls `job` until it has a result.
    fn wait<T, P>(job: &mut Job<T, P>) -> Result<T, Lost> {
        let deadline = Instant::now() + Duration::from_mins(1);
        loop {
            if let Some(result) = job.poll() {
                return result;
            }
            assert!(Instant::now() < deadline, "the job never finished");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn a_job_runs_on_its_named_thread_and_its_result_is_polled_once() {
        let (woken, wakes) = mpsc::channel();
        let mut job = Job::<_, ()>::spawn(
            "tabula-test-job",
            move || {
                let _ = woken.send(std::thread::current().name().map(str::to_owned));
            },
            |_| std::thread::current().name().map(str::to_owned),
        )
        .unwrap();
        assert_eq!(job.name(), "tabula-test-job");
        assert_eq!(wait(&mut job), Ok(Some("tabula-test-job".to_owned())));
        assert!(job.poll().is_none(), "once");
        // The thread woke the UI once done, from itself, then let its wake go.
        let woken: Vec<_> = wakes.iter().collect();
        assert_eq!(woken, [Some("tabula-test-job".to_owned())]);
    }

    #[test]
    fn cancel_interrupts_a_blocked_step_and_not_once_the_work_is_done() {
        // The step blocks on a channel only the interrupt feeds, as an
        // SQLite query blocks until interrupted.
        let (interrupt, interrupted) = mpsc::channel::<()>();
        let (started, has_started) = mpsc::channel();
        let calls = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&calls);
        let mut job = Job::<_, ()>::spawn(
            "tabula-test-job",
            || {},
            move |work| {
                work.on_cancel(move || {
                    counted.fetch_add(1, Ordering::Relaxed);
                    let _ = interrupt.send(());
                });
                started.send(()).unwrap();
                interrupted.recv_timeout(Duration::from_mins(1)).is_ok()
            },
        )
        .unwrap();
        has_started.recv().unwrap();
        job.cancel();
        assert_eq!(wait(&mut job), Ok(true), "the step was interrupted");
        assert_eq!(calls.load(Ordering::Relaxed), 1);

        let calls = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&calls);
        let mut done = Job::<_, ()>::spawn(
            "tabula-test-job",
            || {},
            move |work| {
                work.on_cancel(move || {
                    counted.fetch_add(1, Ordering::Relaxed);
                });
            },
        )
        .unwrap();
        assert_eq!(wait(&mut done), Ok(()));
        drop(done);
        assert_eq!(
            calls.load(Ordering::Relaxed),
            0,
            "nothing to stop once done"
        );
    }

    #[test]
    fn a_job_started_at_a_stage_shows_it_before_its_thread_runs() {
        let go = Arc::new(Barrier::new(2));
        let thread_go = Arc::clone(&go);
        let mut job = Job::<_, ()>::spawn_at(
            "Waiting",
            7,
            "tabula-test-job",
            || {},
            move |_| {
                thread_go.wait();
            },
        )
        .unwrap();
        assert_eq!(
            job.progress(),
            Progress {
                stage: "Waiting".into(),
                done: 0,
                total: 7
            }
        );
        go.wait();
        assert_eq!(wait(&mut job), Ok(()));
    }

    #[test]
    fn progress_stages_counts_and_parts_reach_the_ui_in_order() {
        let steps = Arc::new(Barrier::new(2));
        let thread_steps = Arc::clone(&steps);
        let mut job = Job::spawn(
            "tabula-test-job",
            || {},
            move |work: &Work<&str>| {
                work.stage("Counting", 10);
                work.set_done(3);
                work.add_done(2);
                thread_steps.wait(); // the UI reads the progress
                thread_steps.wait();
                assert!(work.hand_over("first"));
                assert!(work.hand_over("second"));
                "done"
            },
        )
        .unwrap();
        assert!(job.poll().is_none(), "still working");
        steps.wait();
        let progress = job.progress();
        assert_eq!(
            progress,
            Progress {
                stage: "Counting".into(),
                done: 5,
                total: 10
            }
        );
        assert!((progress.fraction() - 0.5).abs() < f32::EPSILON);
        steps.wait();
        assert_eq!(wait(&mut job), Ok("done"));
        assert_eq!(job.poll_handed_over(), Some("first"));
        assert_eq!(job.poll_handed_over(), Some("second"));
        assert_eq!(job.poll_handed_over(), None);
    }

    #[test]
    fn a_cancelled_or_dropped_job_stops_at_its_next_look() {
        let started = Arc::new(Barrier::new(2));
        let thread_started = Arc::clone(&started);
        let mut job = Job::<_, ()>::spawn(
            "tabula-test-job",
            || {},
            move |work| {
                thread_started.wait();
                let mut looks = 0_u64;
                while !work.is_cancelled() {
                    looks += 1;
                    std::thread::yield_now();
                }
                looks
            },
        )
        .unwrap();
        started.wait();
        assert!(!job.is_cancelled());
        job.cancel();
        assert!(job.is_cancelled());
        assert!(wait(&mut job).is_ok(), "it stopped");

        // Dropped: the work sees the flag, and a part it hands over finds
        // nobody listening.
        let (told, heard) = mpsc::channel();
        let job = Job::spawn(
            "tabula-test-job",
            || {},
            move |work: &Work<u8>| {
                while !work.is_cancelled() {
                    std::thread::yield_now();
                }
                let _ = told.send(work.hand_over(1));
            },
        )
        .unwrap();
        drop(job);
        assert_eq!(
            heard.recv_timeout(Duration::from_mins(1)),
            Ok(false),
            "nobody listens"
        );
    }

    #[test]
    fn a_thread_that_ends_without_a_result_is_lost() {
        let mut job =
            Job::<(), ()>::spawn("tabula-test-panics", || {}, |_| panic!("a bug in the work"))
                .unwrap();
        let lost = wait(&mut job).unwrap_err();
        assert_eq!(lost.thread, "tabula-test-panics");
        assert_eq!(
            lost.to_string(),
            "the tabula-test-panics thread stopped unexpectedly"
        );
        assert!(job.poll().is_none(), "said once");
    }

    #[test]
    fn counting_wakes_the_ui_at_most_every_tenth_of_a_second() {
        let (woken, wakes) = mpsc::channel();
        let mut job = Job::<_, ()>::spawn(
            "tabula-test-job",
            move || {
                let _ = woken.send(());
            },
            |work| {
                let started = Instant::now();
                for done in 0..1_000_000 {
                    work.set_done(done);
                }
                started.elapsed()
            },
        )
        .unwrap();
        let took = wait(&mut job).unwrap();
        let most = took.as_millis() / PROGRESS_WAKE_EVERY.as_millis() + 1;
        let count = wakes.iter().count() as u128;
        assert!(
            count <= most + 1,
            "{count} wakes in {took:?}: a million counts would be a million wakes unthrottled"
        );
        assert!(count >= 1, "the end wakes");
    }
}
