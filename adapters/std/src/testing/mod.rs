//! A Kairoi server in your tests: test that your code schedules the right
//! jobs, without installing Kairoi.
//!
//! [`TestServer`] is a real KCP server on `127.0.0.1`, on a port of its
//! own, built on the same protocol core as the clients. It keeps rules and
//! jobs in memory with Kairoi's semantics and records every job that fires,
//! so a test can run the code under test against it and then check what
//! was scheduled and what ran:
//!
//! ```
//! use std::time::Duration;
//! use kairoi_std::testing::{Clock, JobStatus, TestServer};
//! use kairoi_std::{Client, DateTime, Runner};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let start: DateTime = "2030-01-01 08:00:00".parse()?;
//! let server = TestServer::builder().clock(Clock::Manual(start)).start()?;
//!
//! // The code under test, pointed at the server's address.
//! let mut client = Client::connect(server.addr())?;
//! client.set_rule("mail", "app.mail.", Runner::shell("/usr/bin/send-mail"))?;
//! client.set_job("app.mail.42", "2030-01-01 09:00:00".parse()?)?;
//!
//! // What it scheduled.
//! let job = server.job("app.mail.42").expect("the job was set");
//! assert_eq!(job.status, JobStatus::Planned);
//!
//! // Move time on: the job fires against the longest matching rule.
//! server.advance(Duration::from_secs(3600));
//! let run = server.wait_for_execution("app.mail.42", Duration::from_secs(5)).unwrap();
//! assert_eq!(run.rule, "mail");
//! assert_eq!(server.job("app.mail.42").unwrap().status, JobStatus::Executed);
//! # Ok(())
//! # }
//! ```
//!
//! # Semantics
//!
//! As the reference server (`docs/protocol.md` §3 of the repository):
//! - a job is [`JobStatus::Planned`] until its time, then fires: the rule
//!   whose pattern is the longest prefix of its identifier is recorded in
//!   the [execution log](TestServer::executions) and the job becomes
//!   [`JobStatus::Executed`]; with no matching rule it becomes
//!   [`JobStatus::Failed`];
//! - `SET` on a job moves it back to Planned, except while it is
//!   [`JobStatus::Triggered`] (its runner is running): then the answer is
//!   `ERROR`;
//! - invalid bodies are answered `ERROR`; a malformed message closes the
//!   connection: the `ERROR`s of the invalid bodies before it are written
//!   first, the valid requests before it are applied but never answered
//!   (the reference server's database applies them after the connection's
//!   thread died), and nothing after it is read.
//!
//! Runners are never executed: no shell command runs and no AMQP message
//! is published. By default every run succeeds;
//! [`TestServer::set_run_outcome`] makes runs fail or stay Triggered.
//!
//! Valid requests are applied in groups, one group per read from the
//! socket, as the reference server's database loop applies what arrived
//! since its last tick; the `ERROR` for an invalid body is written before
//! the answers of the valid requests read with it, so responses come back
//! out of order, as they do from the reference server.
//!
//! # Time
//!
//! With the default [`Clock::Real`], jobs fire on their own when their
//! second starts. With [`Clock::Manual`], time only moves with
//! [`TestServer::advance`] and [`TestServer::set_now`], which fire the jobs
//! that became due before they return. A job set with a time already past
//! fires at once, before its `OK` is written.
//!
//! # Faults
//!
//! [`TestServer::faults`] injects delays, reordering, `ERROR`s, dropped
//! connections, garbage and stalls while the server runs; see [`Faults`].
//!
//! # Limits
//!
//! What one connection holds is bounded, as the core bounds what it
//! decodes: it stops reading requests while [`TestServer::MAX_UNWRITTEN`]
//! bytes of answers wait to be written, and a client that reads none of
//! its answers for [`TestServer::PEER_STALL`] is dropped (the reference
//! server drops it as soon as its socket buffer is full). An ended
//! connection's socket is closed at once; a peer that still writes to it
//! is reset. Durations given to the server saturate: a delay of
//! `Duration::MAX` means never, and [`TestServer::advance`] past the
//! latest representable time stops at 9999-12-31 23:59:59.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use kairoi_client::instant_after;
use kairoi_proto::{Config, DateTime};

mod clock;
mod connection;
mod faults;
mod scheduler;
mod server;
mod target;

pub use clock::Clock;
pub use faults::Faults;
pub use scheduler::{Execution, JobState, JobStatus, Rule, RunOutcome};
pub use target::Target;

use server::{Running, Shared};

/// Locks a mutex, also after a thread panicked while holding it (the state
/// stays usable: every update leaves it consistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A KCP server on `127.0.0.1` for tests, with Kairoi's semantics, a
/// controllable clock and fault injection. See the [module docs](self).
///
/// Dropping it closes every connection and joins every thread it started.
#[derive(Debug)]
pub struct TestServer {
    running: Running,
}

/// Settings of a [`TestServer`], from [`TestServer::builder`].
#[derive(Debug, Clone)]
pub struct TestServerBuilder {
    listen: SocketAddr,
    clock: Clock,
    config: Config,
    per_request_cost: Duration,
}

impl Default for TestServerBuilder {
    fn default() -> Self {
        TestServerBuilder {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            clock: Clock::default(),
            config: Config::default(),
            per_request_cost: Duration::ZERO,
        }
    }
}

impl TestServerBuilder {
    /// The address to listen on (default: `127.0.0.1:0`, a free port):
    /// a fixed port lets a test restart a server where its clients
    /// expect it.
    #[must_use]
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The clock: [`Clock::Real`] (the default) or [`Clock::Manual`].
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The limits of each connection (default: [`Config::default`]). At
    /// [`Config::max_active`] unanswered requests a connection stops
    /// reading until it answers some.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Starts with [`Faults::set_per_request_cost`] set to `cost`.
    #[must_use]
    pub fn per_request_cost(mut self, cost: Duration) -> Self {
        self.per_request_cost = cost;
        self
    }

    /// Binds the listening address and starts serving.
    pub fn start(self) -> io::Result<TestServer> {
        let faults = Faults::new();
        faults.set_per_request_cost(self.per_request_cost);
        let running = Running::start(self.listen, self.clock, self.config, faults)?;
        Ok(TestServer { running })
    }
}

impl TestServer {
    /// Answers waiting to be written, in bytes, beyond which a connection
    /// stops reading requests: 256 KiB.
    pub const MAX_UNWRITTEN: usize = connection::MAX_UNWRITTEN;
    /// How long a client may read none of its waiting answers before its
    /// connection is dropped: 5 seconds.
    pub const PEER_STALL: Duration = connection::PEER_STALL;

    /// Starts a server with a real clock and no faults on `127.0.0.1:0`.
    pub fn start() -> io::Result<TestServer> {
        Self::builder().start()
    }

    /// Settings for a server: clock, limits, per-request cost.
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    fn shared(&self) -> &Shared {
        &self.running.shared
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    /// The fault settings, changeable while the server runs.
    pub fn faults(&self) -> &Faults {
        &self.shared().faults
    }

    // ----- clock -----

    /// The server's current time, in whole seconds.
    pub fn now(&self) -> DateTime {
        lock(&self.shared().state).clock.now()
    }

    /// Moves the clock forward by `by`, then fires the jobs that became
    /// due, before returning.
    pub fn advance(&self, by: Duration) {
        lock(&self.shared().state).clock.advance(by);
        self.shared().fire_due();
        self.shared().changed.notify_all();
    }

    /// Sets the clock to `at` (a real clock keeps ticking from there), then
    /// fires the jobs that became due, before returning.
    pub fn set_now(&self, at: DateTime) {
        lock(&self.shared().state).clock.set_now(at);
        self.shared().fire_due();
        self.shared().changed.notify_all();
    }

    // ----- rules, jobs, executions -----

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
        mut check: impl FnMut(&scheduler::Scheduler) -> Option<T>,
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

    /// Decides what the runner of each job that fires from now on does:
    /// succeed ([`RunOutcome::Executed`], the default), fail, or keep
    /// running ([`RunOutcome::Triggered`], until [`TestServer::complete`]).
    ///
    /// The hook runs while the server's state is locked: it must not call
    /// the `TestServer`.
    pub fn set_run_outcome(&self, hook: impl Fn(&Execution) -> RunOutcome + Send + Sync + 'static) {
        lock(&self.shared().state).set_run_hook(Some(Arc::new(hook)));
    }

    /// Goes back to runs that always succeed.
    pub fn clear_run_outcome(&self) {
        lock(&self.shared().state).set_run_hook(None);
    }

    /// Ends the run of a [`JobStatus::Triggered`] job with `outcome`.
    /// Returns whether the job was Triggered.
    pub fn complete(&self, job: &str, outcome: RunOutcome) -> bool {
        let done = lock(&self.shared().state).complete(job, outcome);
        self.shared().changed.notify_all();
        done
    }

    // ----- counters -----

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

    /// Closes every connection and joins every thread; the same as
    /// dropping the server.
    pub fn shutdown(self) {
        drop(self);
    }
}
