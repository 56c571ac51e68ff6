//! Helpers shared by the tests (included with `mod common;`).

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use kairoi_proto::DateTime;
use smol::Timer;

/// A time far in the future, so jobs never fire during a test.
pub fn later() -> DateTime {
    "2999-01-01 00:00:00".parse().unwrap()
}

/// Counts results by kind: (ok, rejected, timed out, not sent, unknown).
pub fn tally(results: &[Result<(), kairoi_proto::RequestError>]) -> [usize; 5] {
    let mut t = [0; 5];
    for r in results {
        let i = match r {
            Ok(()) => 0,
            Err(e) if e.is_rejected() => 1,
            Err(e) if e.is_timed_out() => 2,
            Err(e) if e.is_not_sent() => 3,
            Err(e) if e.is_unknown() => 4,
            Err(e) => panic!("unexpected error {e:?}"),
        };
        t[i] += 1;
    }
    t
}

/// Runs `future` for at most `limit`; `None` when it took longer (the
/// future is then dropped, as a caller's own timeout would).
pub async fn timeout<F: Future>(limit: Duration, future: F) -> Option<F::Output> {
    smol::future::or(async { Some(future.await) }, async {
        Timer::after(limit).await;
        None
    })
    .await
}

/// Waits `duration`.
pub async fn sleep(duration: Duration) {
    Timer::after(duration).await;
}
