//! What a test reads of a [`TestServer`]: its jobs, rules, execution log,
//! shell runs and counters, and waits for them to change.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::records::{Execution, JobState, JobStatus, Rule, ShellRun};
use crate::scheduler::Scheduler;
use crate::{TestServer, instant_after, lock};

impl TestServer {
    /// A job, by identifier.
    pub fn job(&self, id: &str) -> Option<JobState> {
        lock(&self.shared().state).job(id)
    }

    /// Every job, sorted by identifier.
    pub fn jobs(&self) -> Vec<JobState> {
        lock(&self.shared().state).jobs()
    }

    /// How many jobs the server holds.
    pub fn job_count(&self) -> usize {
        lock(&self.shared().state).job_count()
    }

    /// Every rule, sorted by identifier.
    pub fn rules(&self) -> Vec<Rule> {
        lock(&self.shared().state).rules()
    }

    /// Every job that fired against a rule, in firing order.
    pub fn executions(&self) -> Vec<Execution> {
        lock(&self.shared().state).executions().to_vec()
    }

    /// The first execution of `job`, waiting up to `timeout` for it to
    /// fire. `None` when it has not fired by then.
    pub fn wait_for_execution(&self, job: &str, timeout: Duration) -> Option<Execution> {
        self.wait_until(timeout, |s| {
            s.executions().iter().find(|e| e.job == job).cloned()
        })
    }

    /// The execution log once it holds at least `count` entries, waiting up
    /// to `timeout`; what it holds at the timeout otherwise.
    pub fn wait_for_executions(&self, count: usize, timeout: Duration) -> Vec<Execution> {
        self.wait_until(timeout, |s| {
            (s.executions().len() >= count).then(|| s.executions().to_vec())
        })
        .unwrap_or_else(|| self.executions())
    }

    /// Every `shell` runner that ran and ended, in the order they ended
    /// (only with [`TestServerBuilder::shell_runners`] set to run them).
    ///
    /// [`TestServerBuilder::shell_runners`]: crate::TestServerBuilder::shell_runners
    pub fn shell_runs(&self) -> Vec<ShellRun> {
        lock(&self.shared().state).shell_runs().to_vec()
    }

    /// The ended shell runs once there are at least `count`, waiting up to
    /// `timeout`; what there is at the timeout otherwise.
    pub fn wait_for_shell_runs(&self, count: usize, timeout: Duration) -> Vec<ShellRun> {
        self.wait_until(timeout, |s| {
            (s.shell_runs().len() >= count).then(|| s.shell_runs().to_vec())
        })
        .unwrap_or_else(|| self.shell_runs())
    }

    /// The executions from position `start` of the log on, waiting up to
    /// `timeout` for there to be one: a way to follow the log as jobs
    /// fire. Empty at the timeout.
    pub fn executions_from(&self, start: usize, timeout: Duration) -> Vec<Execution> {
        self.follow(start, timeout, Scheduler::executions)
    }

    /// The shell runs from position `start` on, waiting up to `timeout`
    /// for there to be one. Empty at the timeout.
    pub fn shell_runs_from(&self, start: usize, timeout: Duration) -> Vec<ShellRun> {
        self.follow(start, timeout, Scheduler::shell_runs)
    }

    /// The entries of a log from `start` on, waiting up to `timeout` for
    /// there to be one.
    fn follow<T: Clone>(
        &self,
        start: usize,
        timeout: Duration,
        log: fn(&Scheduler) -> &[T],
    ) -> Vec<T> {
        self.wait_until(timeout, |s| {
            let new = log(s).get(start..)?;
            (!new.is_empty()).then(|| new.to_vec())
        })
        .unwrap_or_default()
    }

    /// Waits up to `timeout` until `job` has `status`. Returns whether it
    /// has.
    pub fn wait_for_status(&self, job: &str, status: JobStatus, timeout: Duration) -> bool {
        self.wait_until(timeout, |s| {
            s.job(job).filter(|j| j.status == status).map(|_| ())
        })
        .is_some()
    }

    fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&Scheduler) -> Option<T>,
    ) -> Option<T> {
        let deadline = instant_after(Instant::now(), timeout);
        let shared = self.shared();
        let mut state = lock(&shared.state);
        loop {
            if let Some(found) = check(&state) {
                return Some(found);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            state = match shared.changed.wait_timeout(state, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Connections accepted since the start.
    pub fn connections_accepted(&self) -> usize {
        self.shared().accepted.load(Ordering::Relaxed)
    }

    /// Connections open now.
    pub fn connections_open(&self) -> usize {
        self.shared().open.load(Ordering::Acquire)
    }

    /// Waits up to `timeout` until at most `count` connections are open.
    /// Returns whether that happened.
    pub fn wait_for_open_connections(&self, count: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |_| {
            (self.connections_open() <= count).then_some(())
        })
        .is_some()
    }

    /// Requests received since the start, on every connection, valid or
    /// not (malformed messages are not requests and are not counted).
    pub fn requests_received(&self) -> u64 {
        self.shared().requests.load(Ordering::Relaxed)
    }
}
