//! Fault injection: misbehaviours a test turns on and off while the server
//! runs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use kairoi_proto::Instruction;

use crate::{instant_after, lock};

/// Chooses the requests answered `ERROR` by [`Faults::reject_when`].
type RejectFn = Arc<dyn Fn(&Instruction) -> bool + Send + Sync>;

/// The fault settings in force, copied by each connection once per loop.
#[derive(Clone, Default)]
pub(crate) struct Settings {
    pub(crate) delay: Duration,
    pub(crate) per_request_cost: Duration,
    pub(crate) reject: Option<RejectFn>,
    pub(crate) reject_every: u64,
    pub(crate) shuffle: bool,
    pub(crate) close_after: Option<usize>,
    pub(crate) close_without_answer: bool,
    pub(crate) malformed_responses: bool,
    pub(crate) unmatched_responses: bool,
    pub(crate) stop_reading: bool,
    /// Counts the changes: a connection that waits for one compares it
    /// with the count its settings were copied at.
    pub(crate) generation: u64,
}

/// The faults of a [`TestServer`](crate::TestServer), from
/// [`TestServer::faults`](crate::TestServer::faults). Every setting takes
/// effect while the server runs, on every connection, from the next
/// request or response it handles; [`Faults::clear`] turns them all off.
///
/// The behaviours of the reference server are always on, not settings: a
/// malformed request closes its connection without answering the valid
/// requests before it, and answers come at the scheduler's ticks (see the
/// [crate docs](crate)).
///
/// Faults are how a test checks that code copes with a slow, wrong or
/// vanishing server:
///
/// ```
/// use std::time::Duration;
/// use kairoi_test_server::TestServer;
/// use kairoi_proto::Instruction;
///
/// let server = TestServer::start()?;
/// server.faults().set_delay(Duration::from_millis(20));
/// server.faults().set_shuffle(true);
/// server.faults().reject_when(|instruction| {
///     matches!(instruction, Instruction::Set { job, .. } if job.as_str().starts_with("poison."))
/// });
/// // ... run the code under test ...
/// server.faults().clear();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Faults {
    settings: Mutex<Settings>,
    /// Notified on every change, and when connections must stop.
    changed: Condvar,
    /// Valid requests counted by [`Faults::reject_every`].
    counted: AtomicU64,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.snapshot();
        f.debug_struct("Faults")
            .field("delay", &s.delay)
            .field("per_request_cost", &s.per_request_cost)
            .field("reject", &s.reject.is_some())
            .field("reject_every", &s.reject_every)
            .field("shuffle", &s.shuffle)
            .field("close_after", &s.close_after)
            .field("close_without_answer", &s.close_without_answer)
            .field("malformed_responses", &s.malformed_responses)
            .field("unmatched_responses", &s.unmatched_responses)
            .field("stop_reading", &s.stop_reading)
            .finish()
    }
}

impl Faults {
    pub(crate) fn new() -> Self {
        Faults {
            settings: Mutex::new(Settings::default()),
            changed: Condvar::new(),
            counted: AtomicU64::new(0),
        }
    }

    fn update(&self, f: impl FnOnce(&mut Settings)) {
        {
            let mut settings = lock(&self.settings);
            let generation = settings.generation.wrapping_add(1);
            f(&mut settings);
            settings.generation = generation;
        }
        self.changed.notify_all();
    }

    pub(crate) fn snapshot(&self) -> Settings {
        lock(&self.settings).clone()
    }

    /// Whether connections stop reading now.
    pub(crate) fn stops_reading(&self) -> bool {
        lock(&self.settings).stop_reading
    }

    /// Blocks until the settings change from those of `generation`, `stop`
    /// is set (see [`Faults::wake`]), or `wait` has passed (`None`: no
    /// limit).
    pub(crate) fn wait_for_change(
        &self,
        generation: u64,
        wait: Option<Duration>,
        stop: &AtomicBool,
    ) {
        let deadline = wait.map(|w| instant_after(Instant::now(), w));
        let mut settings = lock(&self.settings);
        while settings.generation == generation && !stop.load(Ordering::Acquire) {
            settings = match deadline {
                None => self
                    .changed
                    .wait(settings)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return;
                    }
                    match self.changed.wait_timeout(settings, left) {
                        Ok((guard, _)) => guard,
                        Err(poisoned) => poisoned.into_inner().0,
                    }
                }
            };
        }
    }

    /// Wakes every connection in [`Faults::wait_for_change`], to see the
    /// stop flag set before this call.
    pub(crate) fn wake(&self) {
        // Taking the lock orders this after the check of a waiter that
        // has not started waiting yet: it sees the flag, or the wake-up.
        drop(lock(&self.settings));
        self.changed.notify_all();
    }

    /// Turns every fault off (the per-request cost included).
    pub fn clear(&self) {
        self.update(|s| *s = Settings::default());
        self.counted.store(0, Ordering::Relaxed);
    }

    /// Holds every response back for `delay` after its request arrived,
    /// the `ERROR` of an invalid body (otherwise written at once)
    /// included. Responses still held back when their connection ends
    /// (a malformed request, the end of the client's input) are never
    /// written. `Duration::ZERO` turns it off.
    pub fn set_delay(&self, delay: Duration) {
        self.update(|s| s.delay = delay);
    }

    /// Makes each connection handle its valid requests one at a time, at
    /// this fixed cost each, like the reference server's one thread per
    /// connection: one connection then answers at most one request per
    /// `cost`, and more connections answer more. `Duration::ZERO` (the
    /// default) turns it off.
    pub fn set_per_request_cost(&self, cost: Duration) {
        self.update(|s| s.per_request_cost = cost);
    }

    /// Answers `ERROR`, without applying it, to every valid instruction for
    /// which `predicate` is true.
    ///
    /// The predicate runs on the connection's thread and must not call the
    /// [`TestServer`](crate::TestServer).
    pub fn reject_when(&self, predicate: impl Fn(&Instruction) -> bool + Send + Sync + 'static) {
        self.update(|s| s.reject = Some(Arc::new(predicate)));
    }

    /// Answers `ERROR`, without applying it, to every `n`th valid
    /// instruction the server receives from now on (across connections).
    /// 0 turns it off.
    pub fn reject_every(&self, n: u64) {
        self.counted.store(0, Ordering::Relaxed);
        self.update(|s| s.reject_every = n);
    }

    /// Stops [`Faults::reject_when`] and [`Faults::reject_every`].
    pub fn clear_rejects(&self) {
        self.update(|s| {
            s.reject = None;
            s.reject_every = 0;
        });
    }

    /// Writes the responses that are ready at the same time in a random
    /// order instead of the order the requests arrived.
    pub fn set_shuffle(&self, on: bool) {
        self.update(|s| s.shuffle = on);
    }

    /// Makes each connection answer its first `n` requests, then close.
    /// Later requests on it are neither applied nor answered. `None` turns
    /// it off.
    pub fn set_close_after(&self, n: Option<usize>) {
        self.update(|s| s.close_after = n);
    }

    /// Makes a connection close as soon as it receives a request, without
    /// answering it or any other request still unanswered (see
    /// [`Faults::set_delay`]).
    pub fn set_close_without_answer(&self, on: bool) {
        self.update(|s| s.close_without_answer = on);
    }

    /// Replaces every response with bytes that are not a valid message (an
    /// invalid escape inside quotes). The instructions are still applied.
    pub fn set_malformed_responses(&self, on: bool) {
        self.update(|s| s.malformed_responses = on);
    }

    /// Answers every request with an identifier the client never used.
    /// The instructions are still applied.
    pub fn set_unmatched_responses(&self, on: bool) {
        self.update(|s| s.unmatched_responses = on);
    }

    /// Stops reading from every connection (responses already due are
    /// still written), so that a client writing a long pipeline fills the
    /// socket buffers and blocks. Reading resumes when turned off. A read
    /// that was already waiting for the client when it was turned on may
    /// still take what the client sends next (at most 2 KiB), but the
    /// server does not look at it until reading resumes.
    pub fn set_stop_reading(&self, on: bool) {
        self.update(|s| s.stop_reading = on);
    }

    /// Whether the fault settings reject this valid instruction.
    pub(crate) fn rejects(&self, settings: &Settings, instruction: &Instruction) -> bool {
        if settings.reject.as_ref().is_some_and(|f| f(instruction)) {
            return true;
        }
        settings.reject_every > 0
            && (self.counted.fetch_add(1, Ordering::Relaxed) + 1) % settings.reject_every == 0
    }
}
