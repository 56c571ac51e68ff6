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
//! use std::io::{BufRead, BufReader, Write};
//! use std::net::TcpStream;
//! use std::time::Duration;
//! use kairoi_test_server::{Clock, JobStatus, TestServer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let start = "2030-01-01 08:00:00".parse()?;
//! let server = TestServer::builder().clock(Clock::Manual(start)).start()?;
//!
//! // The code under test, pointed at the server's address: here two
//! // requests written by hand, in a test the client your code uses
//! // (`kairoi-std`, `kairoi-tokio`, `kairoi-smol`, or any KCP client).
//! let mut socket = TcpStream::connect(server.addr())?;
//! socket.write_all(b"1 RULE SET mail app.mail. shell /usr/bin/send-mail\n")?;
//! socket.write_all(b"2 SET app.mail.42 \"2030-01-01 09:00:00\"\n")?;
//! let mut answers = BufReader::new(socket).lines();
//! assert_eq!(answers.next().transpose()?.as_deref(), Some("1 OK"));
//! assert_eq!(answers.next().transpose()?.as_deref(), Some("2 OK"));
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
//! As the reference server (`docs/protocol.md` §3 of the repository), and
//! checked against it by the differential scenarios of
//! `adapters/test-server/tests/fidelity` (see [Fidelity](#fidelity)):
//! - a job is [`JobStatus::Planned`] until its time, then fires: the rule
//!   whose pattern is the longest prefix of its identifier is recorded in
//!   the [execution log](TestServer::executions) and the job becomes
//!   [`JobStatus::Executed`]; with no matching rule it becomes
//!   [`JobStatus::Failed`];
//! - `SET` on a job moves it back to Planned, except while it is
//!   [`JobStatus::Triggered`] (its runner is running): then the answer is
//!   `ERROR`;
//! - a job identifier, rule identifier, pattern or runner argument longer
//!   than 65,535 bytes is answered `ERROR` (the reference server stores
//!   each with a 16-bit length);
//! - invalid bodies are answered `ERROR`; a malformed message closes the
//!   connection: the `ERROR`s of the invalid bodies before it are written
//!   first, the valid requests before it are applied at the next tick but
//!   never answered, and nothing after it is read;
//! - the end of the client's input (its side closed) closes the connection
//!   at once: the valid requests read before are applied at the next tick,
//!   and the answers not yet written never are;
//! - input is read 2 KiB at a time and decoded as lossy UTF-8: an invalid
//!   sequence becomes U+FFFD, and a character cut by the end of a read gets
//!   a U+FFFD before it;
//! - an answer repeats the request identifier as it was decoded, unquoted:
//!   `"a b" SET ...` is answered `a b OK`, a line the client cannot match.
//!
//! # Ticks: when answers are written
//!
//! Valid requests are applied, and answered, together at the scheduler's
//! next tick ([`TestServerBuilder::tick`], 1/128 s by default, as the
//! reference server's database loop), while the `ERROR` of an invalid body
//! is written as soon as it is read. Responses therefore come back out of
//! order, as they do from the reference server: `0 SET a ...`, `1 SET`
//! is answered `1 ERROR`, then `0 OK`. A request-at-a-time client pays up
//! to one tick per request, as it does in production.
//!
//! # Runners
//!
//! By default runners are never executed: no shell command runs and no
//! AMQP message is published. Every run succeeds;
//! [`TestServer::set_run_outcome`] makes runs fail or stay Triggered. With
//! [`TestServerBuilder::shell_runners`] set to [`ShellRunners::Run`],
//! `shell` runners run for real, as the reference server runs them.
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
//! # Restarts
//!
//! [`TestServer::take_down`] makes the server vanish as a restart during a
//! deploy does, for a client: every connection is closed at once, with
//! the requests it read and did not answer dropped (neither applied nor
//! answered), and the listening socket is closed, so that a connect is
//! refused. [`TestServer::bring_up`] listens on the same address again.
//! [`TestServer::restart`] does both, with the server away for a while.
//! Jobs, rules, the clock, the logs, the faults and the counters are kept:
//! no job fires while the server is down, and the jobs that became due
//! meanwhile fire when it comes back, as Kairoi runs a job at least once
//! after its time.
//!
//! ```
//! use std::io::{ErrorKind, Read, Write};
//! use std::net::TcpStream;
//! use std::time::Duration;
//! use kairoi_test_server::TestServer;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = TestServer::start()?;
//! let mut socket = TcpStream::connect(server.addr())?;
//! socket.write_all(b"1 SET app.job \"2030-01-01 00:00:00\"\n")?;
//! let mut answer = [0u8; 5];
//! socket.read_exact(&mut answer)?;
//! assert_eq!(&answer, b"1 OK\n");
//!
//! server.take_down();
//! assert_eq!(socket.read(&mut answer)?, 0, "the connection is closed");
//! let refused = TcpStream::connect(server.addr()).unwrap_err();
//! assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
//!
//! server.bring_up()?;
//! TcpStream::connect(server.addr())?;
//! assert!(server.job("app.job").is_some());
//!
//! // Or both at once, with the server away for 50 ms.
//! server.restart(Duration::from_millis(50))?;
//! # Ok(())
//! # }
//! ```
//!
//! # Limits
//!
//! Each connection is served by a thread of its own, which blocks while
//! the connection is idle: an idle connection costs a thread's memory and
//! no CPU (`examples/idle_cpu.rs` measures it).
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
//!
//! # Fidelity
//!
//! `adapters/test-server/tests/fidelity` sends the same scripted traffic to a
//! `TestServer` and to the reference server and compares what a client
//! observes: each answer and whether it came at once or at a tick, when
//! connections close, the jobs and rules held at the end, and the job
//! identifiers shell runners received. These differences are on purpose:
//!
//! | the reference server | the `TestServer` | why |
//! | --- | --- | --- |
//! | accepts lenient dates (`2020-5-6 2:6:8`, second 60, a signed year) | answers `ERROR` | a client must write the canonical form: a test should catch one that does not |
//! | no limit on a message's length or arguments | closes the connection past [`TestServer::default_config`]'s 16 MiB or 4,096 arguments | bounded memory per connection; no real request comes near |
//! | parses one message per turn of its connection loop (about 100 µs) and, at the end of input, stops parsing | decodes every message it has read, also before the end of input | the same answers at any speed; requests sent just before a client closes its side may be lost by the reference server, never by the `TestServer` |
//! | between two rules with the same pattern, picks either (hash order) | picks the one set last | deterministic tests |
//! | writes each answer with a `write_all` of its own, on a socket without `TCP_NODELAY`: a small answer written while the one before is not yet acknowledged waits for the client's ACK, which a client that delays its ACKs sends tens of milliseconds later (the official PHP client read `0 ERROR`, then 44 ms later `A ERROR`, for `0 SET \nA "2030-01-01 12:00:00"\n`) | sets `TCP_NODELAY` and writes the answers that are ready together in one write (`0 ERROR\nA ERROR\n`) | the same bytes in the same order; TCP keeps no write boundaries, so no client can rely on how answers are split into reads, and a test server adds no delay (`docs/protocol.md` §2) |
//! | persists times as 64-bit nanoseconds: a job after 2262-04-11 23:47:16 is written to disk wrong, and after a restart runs at once or keeps the server from loading its log (`docs/protocol.md` §3) | keeps every time right, in memory, also across [`TestServer::restart`] | it has no disk |
//! | runs AMQP runners | records them; their outcome comes from [`TestServer::set_run_outcome`] | no broker in tests |
//! | — | [faults](Faults), a [manual clock](Clock::Manual), [`ShellRunners::RunCheckingStatus`] | testing what the reference server cannot show |

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use kairoi_proto::{Config, DateTime};

mod clock;
mod connection;
mod faults;
mod listener;
mod observe;
mod records;
mod runners;
mod scheduler;
mod server;
mod shared;
mod target;

pub use clock::Clock;
pub use faults::Faults;
pub use records::{Execution, JobState, JobStatus, Rule, RunOutcome, ShellRun};
pub use runners::ShellRunners;
pub use target::Target;

use server::Running;
use shared::Shared;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
mod readme {
    #[doc = include_str!("../README.md")]
    struct Crate;
}

/// `now + after`, saturating: a duration past what an [`Instant`] can
/// hold lands about a century away, so that `Duration::MAX` means "never"
/// rather than a panic.
pub(crate) fn instant_after(now: Instant, after: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    now.checked_add(after.min(FAR)).unwrap_or(now)
}

/// Locks a mutex, also after a thread panicked while holding it (the state
/// stays usable: every update leaves it consistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A KCP server on `127.0.0.1` for tests, with Kairoi's semantics, a
/// controllable clock, fault injection and restarts. See the
/// [crate docs](crate).
///
/// Dropping it closes every connection and joins every thread it started.
#[derive(Debug)]
pub struct TestServer {
    running: Running,
}

/// Settings of a [`TestServer`], from [`TestServer::builder`].
#[derive(Debug, Clone)]
pub struct TestServerBuilder {
    pub(crate) listen: SocketAddr,
    pub(crate) clock: Clock,
    pub(crate) config: Config,
    pub(crate) per_request_cost: Duration,
    pub(crate) tick: Duration,
    pub(crate) shell: ShellRunners,
}

impl Default for TestServerBuilder {
    fn default() -> Self {
        TestServerBuilder {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            clock: Clock::default(),
            config: TestServer::default_config(),
            per_request_cost: Duration::ZERO,
            tick: TestServer::DEFAULT_TICK,
            shell: ShellRunners::Record,
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

    /// The limits of each connection (default:
    /// [`TestServer::default_config`]). At [`Config::max_active`]
    /// unanswered requests a connection stops reading until it answers
    /// some; a message longer than [`Config::max_message_len`] or with more
    /// than [`Config::max_arguments`] arguments closes its connection.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The scheduler's tick (default: [`TestServer::DEFAULT_TICK`], 1/128
    /// s, the reference server's database loop): valid requests are applied
    /// and answered together at the first tick after they are read, while
    /// the `ERROR` of an invalid body is written at once. `Duration::ZERO`
    /// applies and answers each read at once.
    #[must_use]
    pub fn tick(mut self, tick: Duration) -> Self {
        self.tick = tick;
        self
    }

    /// What to do with the `shell` runners of jobs that fire (default:
    /// [`ShellRunners::Record`], run nothing).
    #[must_use]
    pub fn shell_runners(mut self, shell: ShellRunners) -> Self {
        self.shell = shell;
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
        let running = Running::start(self)?;
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
    /// The default scheduler tick, 1/128 s: the reference server's
    /// database loop runs at 128 Hz.
    pub const DEFAULT_TICK: Duration = Duration::from_nanos(7_812_500);

    /// The default limits of each connection: [`Config::default`] with
    /// messages of up to 16 MiB and 4,096 arguments. The reference server
    /// has no limits; these are high enough that no real request meets
    /// them, and still bound what one connection holds.
    pub fn default_config() -> Config {
        Config::default()
            .with_max_message_len(16 << 20)
            .with_max_arguments(4096)
    }

    /// Starts a server with a real clock and no faults on `127.0.0.1:0`.
    pub fn start() -> io::Result<TestServer> {
        Self::builder().start()
    }

    /// Settings for a server: clock, limits, per-request cost.
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    pub(crate) fn shared(&self) -> &Shared {
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

    // ----- restarts -----

    /// Whether the server listens and serves: from its start until
    /// [`TestServer::take_down`], and again after
    /// [`TestServer::bring_up`].
    pub fn is_up(&self) -> bool {
        self.running.is_up()
    }

    /// Takes the server down, as a restart does for its clients: closes
    /// every connection at once (requests read and not yet answered are
    /// neither applied nor answered) and the listening socket, so that a
    /// connect is refused. Jobs, rules, the clock, the logs, the faults
    /// and the counters are kept; no job fires until
    /// [`TestServer::bring_up`]. The connections' threads are joined
    /// before it returns. Does nothing while the server is down.
    pub fn take_down(&self) {
        self.running.take_down();
    }

    /// Brings the server up again on the same address ([`TestServer::addr`],
    /// the same port), then fires the jobs that became due while it was
    /// down, before returning. Binding is tried again for up to 2 seconds
    /// while the port is in use. Does nothing while the server is up.
    ///
    /// # Errors
    ///
    /// The address cannot be bound (another socket still holds the port
    /// after those 2 seconds), or the accepting thread cannot be started;
    /// the server stays down.
    pub fn bring_up(&self) -> io::Result<()> {
        self.running.bring_up()
    }

    /// [`TestServer::take_down`], a pause of `down`, then
    /// [`TestServer::bring_up`]: a restart with the server away for
    /// `down`.
    ///
    /// # Errors
    ///
    /// As [`TestServer::bring_up`]: the server stays down.
    pub fn restart(&self, down: Duration) -> io::Result<()> {
        self.take_down();
        std::thread::sleep(down);
        self.bring_up()
    }

    // ----- clock -----

    /// The server's current time, in whole seconds.
    pub fn now(&self) -> DateTime {
        lock(&self.shared().state).clock.now()
    }

    /// Moves the clock forward by `by`, then fires the jobs that became
    /// due, before returning (while the server is down, they fire when it
    /// comes back up).
    pub fn advance(&self, by: Duration) {
        lock(&self.shared().state).clock.advance(by);
        self.shared().fire_due();
        self.shared().changed.notify_all();
    }

    /// Sets the clock to `at` (a real clock keeps ticking from there), then
    /// fires the jobs that became due, before returning (while the server
    /// is down, they fire when it comes back up).
    pub fn set_now(&self, at: DateTime) {
        lock(&self.shared().state).clock.set_now(at);
        self.shared().fire_due();
        self.shared().changed.notify_all();
    }

    /// Decides what the runner of each job that fires from now on does:
    /// succeed ([`RunOutcome::Executed`], the default), fail, or keep
    /// running ([`RunOutcome::Triggered`], until [`TestServer::complete`]).
    ///
    /// The hook runs while the server's state is locked: it must not call
    /// the `TestServer`. With [`ShellRunners::Run`] or
    /// [`ShellRunners::RunCheckingStatus`], the jobs of `shell` rules end
    /// with their command instead, and the hook decides the others.
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

    /// Closes every connection and joins every thread, whether the server
    /// is up or down; the same as dropping the server.
    pub fn shutdown(self) {
        drop(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_after_saturates_instead_of_panicking() {
        let now = Instant::now();
        assert_eq!(
            instant_after(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
        for far in [Duration::MAX, Duration::from_secs(u64::MAX / 2)] {
            assert!(instant_after(now, far) > now + Duration::from_secs(3600));
        }
    }
}
