//! Helpers of the cases: time, tasks and tallies on any runtime.

use std::future::Future;
use std::time::{Duration, Instant};

use futures_lite::future;
use kairoi_client::{Client, RequestError, Runtime, Tally};
use kairoi_proto::{DateTime, Instruction};
use kairoi_test_server::TestServer;

/// A time far in the future, so jobs never fire during a test.
pub fn later() -> DateTime {
    "2999-01-01 00:00:00".parse().unwrap()
}

/// `n` job `SET`s named `prefix.0`, `prefix.1`...
pub fn batch(prefix: &str, n: usize) -> Vec<Instruction> {
    (0..n)
        .map(|i| Instruction::set(format!("{prefix}.{i}"), later()))
        .collect()
}

/// Counts results by kind; a request refused for its content (which no
/// case sends) fails the test.
pub fn tally(results: &[Result<(), RequestError>]) -> Tally {
    let t: Tally = results.iter().collect();
    assert_eq!(t.invalid, 0, "a request was refused for its content: {t:?}");
    t
}

/// Sleeps on the runtime.
pub async fn sleep<R: Runtime + Default>(d: Duration) {
    R::default().timer(Instant::now() + d).await;
}

/// `f`'s output, or `None` when it takes longer than `d` (it is dropped).
pub async fn timeout<R: Runtime + Default, F: Future>(d: Duration, f: F) -> Option<F::Output> {
    future::or(async { Some(f.await) }, async {
        sleep::<R>(d).await;
        None
    })
    .await
}

/// Waits until `done()` holds, checking every few milliseconds; fails the
/// test after `limit`.
pub async fn eventually<R: Runtime + Default>(
    limit: Duration,
    what: &str,
    done: impl Fn() -> bool,
) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        sleep::<R>(Duration::from_millis(5)).await;
    }
}

/// A task spawned on the runtime, whose output can be awaited.
pub struct Task<T>(async_channel::Receiver<T>);

impl<T> Task<T> {
    /// The task's output.
    pub async fn join(self) -> T {
        self.0
            .recv()
            .await
            .expect("the task ended without an output")
    }
}

/// Spawns `f` on the runtime.
pub fn spawn<R, F>(f: F) -> Task<F::Output>
where
    R: Runtime + Default,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = async_channel::bounded(1);
    R::default().spawn(Box::pin(async move {
        let _ = tx.send(f.await).await;
    }));
    Task(rx)
}

/// A client of `server` with short backoffs and this request timeout.
pub async fn client_for<R: Runtime + Default>(server: &TestServer, timeout: Duration) -> Client<R> {
    Client::<R>::builder()
        .request_timeout(timeout)
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(50))
        .connect(server.addr())
        .await
        .unwrap()
}
