//! The state the server's threads and the [`TestServer`](crate::TestServer)
//! handle share: the scheduler, the faults, the limits, the counters and
//! the tick.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use kairoi_proto::Config;

use crate::faults::Faults;
use crate::scheduler::Scheduler;
use crate::{instant_after, lock};

/// State shared by the server's threads and the [`TestServer`] handle.
///
/// [`TestServer`]: crate::TestServer
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<Scheduler>,
    /// Notified when rules, jobs, the clock or the execution log change.
    pub(crate) changed: Condvar,
    pub(crate) faults: Faults,
    pub(crate) config: Config,
    pub(crate) shutdown: AtomicBool,
    /// Set while the server is taken down: no job fires.
    pub(crate) down: AtomicBool,
    pub(crate) accepted: AtomicUsize,
    pub(crate) open: AtomicUsize,
    pub(crate) requests: AtomicU64,
    /// The scheduler's tick: valid requests are applied and answered at
    /// the first tick after they are read (zero: at once).
    pub(crate) tick: Duration,
    /// When the first tick was.
    pub(crate) epoch: Instant,
}

impl Shared {
    /// The state of a server that starts now.
    pub(crate) fn new(scheduler: Scheduler, config: Config, tick: Duration) -> Shared {
        Shared {
            state: Mutex::new(scheduler),
            changed: Condvar::new(),
            faults: Faults::new(),
            config,
            shutdown: AtomicBool::new(false),
            down: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            open: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            tick,
            epoch: Instant::now(),
        }
    }

    /// The first tick after `t` (`t` itself with a zero tick).
    pub(crate) fn next_tick(&self, t: Instant) -> Instant {
        if self.tick.is_zero() {
            return t;
        }
        let since = t.saturating_duration_since(self.epoch).as_nanos();
        // Less than one tick, and than the time since the epoch.
        let into = since % self.tick.as_nanos();
        let into = Duration::from_nanos(u64::try_from(into).unwrap_or(u64::MAX));
        instant_after(t, self.tick.saturating_sub(into))
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// Fires the jobs that are due, unless the server is down, and wakes
    /// whoever waits for changes.
    pub(crate) fn fire_due(&self) {
        if self.is_down() {
            return;
        }
        let fired = lock(&self.state).fire_due();
        if fired > 0 {
            self.changed.notify_all();
        }
    }
}
