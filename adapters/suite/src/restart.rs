//! The restart cases, written once and run by every client of the
//! workspace (the blocking one and the async one on each runtime): a batch
//! through a server that goes away and comes back, as a restart during a
//! deploy looks to a client, and a batch against a server that stays
//! away. They are big: each client runs them in a test binary of its own,
//! one case at a time (one measures the process's memory).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kairoi_client::{Cause, RequestError, RetryPolicy, Tally};
use kairoi_proto::Instruction;
use kairoi_test_server::TestServer;

use crate::Harness;
use crate::bulk::resident;
use crate::support::later;

/// The options the cases set on the client under test.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The window of each connection.
    pub window: usize,
    /// The connections of the pool.
    pub connections: usize,
    /// The request timeout.
    pub request_timeout: Duration,
    /// Which failed requests are sent again.
    pub retry: RetryPolicy,
}

/// A client under test: how it connects and runs a batch.
pub trait BatchClient: Sized {
    /// A client of `addr` with `options` (the other settings at their
    /// defaults).
    fn connect(addr: SocketAddr, options: Options) -> Self;

    /// A client of several named servers with `options`.
    fn connect_servers(servers: &[(&str, SocketAddr)], options: Options) -> Self;

    /// Returns once the client has seen its connections end (the blocking
    /// client sees it at the start of its next call).
    fn notice_disconnect(&mut self);

    /// Returns once the client has seen the connections of one of its
    /// servers end (the blocking client sees it at the start of its next
    /// call).
    fn notice_disconnect_of_one(&mut self);

    /// Its `execute`.
    fn execute(&mut self, instruction: Instruction) -> Result<(), RequestError>;

    /// Its `execute_each`.
    fn execute_each<I, F>(&mut self, items: I, on_result: F)
    where
        I: Iterator<Item = Instruction> + Send,
        F: FnMut(usize, Result<(), RequestError>);

    /// What the figures a case prints call this client.
    fn name() -> String {
        std::any::type_name::<Self>().to_owned()
    }
}

/// One case at a time: one of them measures the process's memory.
static SERIAL: Mutex<()> = Mutex::new(());

/// How long the server stays away in a restart.
const DOWN: Duration = Duration::from_millis(500);

/// Restarts `server` (away for [`DOWN`]) each time `done` reaches one of
/// `at`, until `stop`. Returns the restarts made.
fn restarter(server: &TestServer, done: &AtomicUsize, at: &[usize], stop: &AtomicBool) -> usize {
    let mut made = 0;
    for &mark in at {
        while done.load(Ordering::Relaxed) < mark {
            if stop.load(Ordering::Relaxed) {
                return made;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        server.restart(DOWN).expect("the same port bound again");
        made += 1;
    }
    made
}

/// Counts a result; a rejection or a refusal, which no restart case can
/// cause, fails the case.
pub(crate) fn count(t: &mut Tally, r: &Result<(), RequestError>) {
    t.record(r);
    assert_eq!(t.rejected + t.invalid, 0, "unexpected {r:?}");
}

/// 300,000 jobs through `execute_each` while the server goes away twice
/// for half a second: every request ends exactly once, none `NotSent`,
/// only those written before each end `Unknown` (at most a window per
/// connection per restart), all others `Ok` and in the server.
pub fn a_batch_rides_out_two_restarts<C: BatchClient>() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const N: usize = 300_000;
    let server = TestServer::start().unwrap();
    let options = Options {
        window: 256,
        connections: 2,
        request_timeout: Duration::from_secs(30),
        retry: RetryPolicy::NONE,
    };
    let mut client = C::connect(server.addr(), options);
    let done = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let mut seen = vec![false; N];
    let mut t = Tally::default();
    let mut failed = HashSet::new();
    let start = Instant::now();
    let restarts = std::thread::scope(|scope| {
        let restarts = scope.spawn(|| restarter(&server, &done, &[N / 3, 2 * N / 3], &stop));
        let when = later();
        let items = (0..N).map(move |n| Instruction::set(format!("r.{n}"), when));
        client.execute_each(items, |i, r| {
            assert!(!std::mem::replace(&mut seen[i], true), "{i} reported twice");
            count(&mut t, &r);
            if r.is_err() {
                failed.insert(i);
            }
            done.fetch_add(1, Ordering::Relaxed);
        });
        stop.store(true, Ordering::Relaxed);
        restarts.join().unwrap()
    });
    println!(
        "{N} jobs through 2 restarts in {:?}: {t:?}",
        start.elapsed()
    );
    assert_eq!(restarts, 2, "the server restarted twice");
    assert!(seen.iter().all(|s| *s), "every position reported");
    assert_eq!(t.not_sent, 0, "{t:?}");
    assert_eq!(t.timed_out, 0, "{t:?}");
    let bound = options.window * options.connections * restarts;
    assert!(
        t.unknown <= bound as u64,
        "{} unknown, at most {bound}: {t:?}",
        t.unknown
    );
    let stored: HashSet<String> = server.jobs().into_iter().map(|j| j.id).collect();
    for n in (0..N).filter(|n| !failed.contains(n)) {
        assert!(
            stored.contains(&format!("r.{n}")),
            "r.{n} answered OK but not stored"
        );
    }
}

/// 2,000,000 instructions from a lazy iterator (identifiers repeat, so
/// the server's store stays small) with a retry policy that resends
/// `NotSent` and `Unknown`, through two restarts: every request ends
/// exactly once, all `Ok` but what the policy gave up on, and the process
/// grows by less than 64 MiB.
pub fn a_retried_lazy_batch_rides_out_restarts_in_bounded_memory<C: BatchClient>() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const N: usize = 2_000_000;
    let server = TestServer::start().unwrap();
    let options = Options {
        window: 1024,
        connections: 2,
        request_timeout: Duration::from_secs(30),
        retry: RetryPolicy::not_sent(3)
            .with_unknown()
            .with_backoff(Duration::from_millis(50)),
    };
    let mut client = C::connect(server.addr(), options);
    let when = later();
    // Warm up: the connections' buffers at their working size.
    let warm = (0..20_000).map(move |n| Instruction::set(format!("m.{}", n % 1000), when));
    client.execute_each(warm, |_, r| r.unwrap());
    let before = resident();
    let mut peak = before;
    let done = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let mut t = Tally::default();
    let start = Instant::now();
    let restarts = std::thread::scope(|scope| {
        let restarts = scope.spawn(|| restarter(&server, &done, &[N / 3, 2 * N / 3], &stop));
        let items = (0..N).map(move |n| Instruction::set(format!("m.{}", n % 1000), when));
        client.execute_each(items, |_, r| {
            count(&mut t, &r);
            let n = done.fetch_add(1, Ordering::Relaxed);
            if n % 10_000 == 0 {
                peak = peak.max(resident());
            }
        });
        stop.store(true, Ordering::Relaxed);
        restarts.join().unwrap()
    });
    let took = start.elapsed();
    assert_eq!(done.load(Ordering::Relaxed), N);
    assert_eq!(restarts, 2);
    assert_eq!(
        t.ok + t.not_sent + t.unknown + t.timed_out,
        N as u64,
        "{t:?}"
    );
    assert_eq!(t.not_sent + t.timed_out, 0, "{t:?}");
    assert_eq!(t.unknown, 0, "the policy resent every Unknown: {t:?}");
    match (before, peak) {
        (Some(before), Some(peak)) => {
            let grew = peak.saturating_sub(before);
            println!(
                "{N} lazy requests with retries through 2 restarts in {took:?}; \
                 resident memory grew by {} KiB",
                grew / 1024
            );
            assert!(grew < 64 << 20, "grew by {} KiB", grew / 1024);
        }
        _ => println!("resident memory not measured here (no /proc/self/statm)"),
    }
}

/// A server that stays away longer than the request timeout: a batch of
/// 1,000,000 ends within two request timeouts, every request `NotSent`
/// with the connect error.
pub fn a_batch_against_a_server_that_stays_away_ends_promptly<C: BatchClient>() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const N: usize = 1_000_000;
    // Long enough that reporting a million results (a second or two in
    // a debug build) fits in the second timeout.
    let timeout = Duration::from_secs(4);
    let server = TestServer::start().unwrap();
    let options = Options {
        window: 1024,
        connections: 2,
        request_timeout: timeout,
        retry: RetryPolicy::NONE,
    };
    let mut client = C::connect(server.addr(), options);
    server.take_down();
    client.notice_disconnect();
    let when = later();
    let items = (0..N).map(move |n| Instruction::set(format!("d.{n}"), when));
    let mut seen = 0usize;
    let start = Instant::now();
    client.execute_each(items, |_, r| {
        let e = r.expect_err("the server is away");
        assert!(e.is_not_sent(), "{e:?}");
        assert!(matches!(e.cause(), Some(Cause::Connect { .. })), "{e:?}");
        seen += 1;
    });
    let took = start.elapsed();
    println!("{N} requests to a server that stays away ended in {took:?}");
    assert_eq!(seen, N);
    assert!(
        took < 2 * timeout,
        "took {took:?}, more than two request timeouts"
    );
}

/// The restart cases on an async runtime, through its [`Harness`].
#[derive(Debug)]
pub struct Async<H: Harness>(kairoi_client::Client<H::Rt>);

impl<H: Harness> BatchClient for Async<H> {
    fn connect(addr: SocketAddr, options: Options) -> Self {
        let connect = kairoi_client::Client::<H::Rt>::builder()
            .window(options.window)
            .connections(options.connections)
            .request_timeout(options.request_timeout)
            .retry(options.retry)
            .connect(addr);
        Async(H::block_on(connect).expect("connected"))
    }

    fn connect_servers(servers: &[(&str, SocketAddr)], options: Options) -> Self {
        let connect = kairoi_client::Client::<H::Rt>::builder()
            .window(options.window)
            .connections(options.connections)
            .request_timeout(options.request_timeout)
            .retry(options.retry)
            .connect_servers(servers.iter().copied());
        Async(H::block_on(connect).expect("connected"))
    }

    fn notice_disconnect_of_one(&mut self) {
        let client = &self.0;
        let per_server = client.settings().connections;
        let others = per_server * (client.servers().len() - 1);
        H::block_on(crate::support::eventually::<H::Rt>(
            Duration::from_secs(10),
            "the client saw every connection of one server end",
            || client.open_connections() <= others,
        ));
    }

    fn execute(&mut self, instruction: Instruction) -> Result<(), RequestError> {
        H::block_on(self.0.execute(&instruction))
    }

    fn notice_disconnect(&mut self) {
        let client = &self.0;
        H::block_on(crate::support::eventually::<H::Rt>(
            Duration::from_secs(10),
            "the client saw its connections end",
            || !client.is_connected(),
        ));
    }

    fn execute_each<I, F>(&mut self, items: I, on_result: F)
    where
        I: Iterator<Item = Instruction> + Send,
        F: FnMut(usize, Result<(), RequestError>),
    {
        H::block_on(self.0.execute_each(items, on_result));
    }

    fn name() -> String {
        let runtime = std::any::type_name::<H::Rt>();
        let runtime = runtime.rsplit("::").next().unwrap_or(runtime);
        format!("async client on {runtime}")
    }
}

impl<H: Harness> crate::observed::ObservedClient for Async<H> {
    fn stats(&self) -> kairoi_client::stats::Stats {
        self.0.stats()
    }
}
