//! The timeout rule when the server is hung, refused or restarting.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kairoi_client::{Cause, Client, Runtime};
use kairoi_test_server::TestServer;

use crate::support::{batch, later, spawn, tally};

/// A server that reads but answers nothing: the first requests time out,
/// the connection is then given up (nothing was read for a request
/// timeout), and later requests are answered by a new one.
pub async fn a_server_that_reads_but_never_answers_is_replaced<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    let timeout = Duration::from_millis(200);
    let client = Client::<R>::builder()
        .window(8)
        .request_timeout(timeout)
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(50))
        .connect(server.addr())
        .await
        .unwrap();
    server.faults().set_delay(Duration::from_secs(3600));
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let client = client.clone();
            spawn::<R, _>(async move { client.set_job(format!("hung.{n}"), later()).await })
        })
        .collect();
    for task in tasks {
        // Timed out; or, for a caller whose task started late, ended by
        // the liveness rule first, which an earlier request started.
        let err = task.join().await.unwrap_err();
        let unresponsive = matches!(err.cause(), Some(Cause::Unresponsive { .. }));
        assert!(err.is_timed_out() || unresponsive, "{err:?}");
    }
    assert_eq!(server.requests_received(), 8);
    // Nothing was read for a request timeout: the client drops the
    // connection. (A request submitted in the instant before that would
    // end `NotSent`, which is safe to send again.)
    crate::support::eventually::<R>(
        Duration::from_secs(5),
        "the quiet connection dropped",
        || server.connections_open() == 0,
    )
    .await;
    server.faults().clear();
    // Not queued behind eight answers that never come: a new connection.
    let start = Instant::now();
    for n in 0..20 {
        client.set_job(format!("after.{n}"), later()).await.unwrap();
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(server.connections_accepted(), 2);
}

/// Twelve concurrent callers, the server gone: each ends within its own
/// request timeout plus a small slack, none waits for another's attempt.
pub async fn twelve_callers_to_a_refused_port_end_within_their_timeout<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    let timeout = Duration::from_secs(1);
    let client = Client::<R>::builder()
        .request_timeout(timeout)
        .connect(server.addr())
        .await
        .unwrap();
    server.shutdown();
    let tasks: Vec<_> = (0..12)
        .map(|n| {
            let client = client.clone();
            spawn::<R, _>(async move {
                let start = Instant::now();
                let result = client.set_job(format!("refused.{n}"), later()).await;
                (start.elapsed(), result)
            })
        })
        .collect();
    for task in tasks {
        let (took, result) = task.join().await;
        let err = result.unwrap_err();
        assert!(err.is_not_sent() || err.is_unknown(), "{err:?}");
        assert!(
            took < timeout + Duration::from_millis(500),
            "ended after {took:?}: {err:?}"
        );
    }
}

/// Three thousand tasks in flight when the server stops: every future
/// ends, within a request timeout and a slack.
pub async fn three_thousand_tasks_end_when_the_server_stops<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    server
        .faults()
        .set_per_request_cost(Duration::from_micros(200));
    let timeout = Duration::from_secs(2);
    let client = Client::<R>::builder()
        .request_timeout(timeout)
        .connections(2)
        .connect(server.addr())
        .await
        .unwrap();
    let tasks: Vec<_> = (0..3000)
        .map(|n| {
            let client = client.clone();
            spawn::<R, _>(async move { client.set_job(format!("stop.{n}"), later()).await })
        })
        .collect();
    crate::support::eventually::<R>(Duration::from_secs(10), "some received", || {
        server.requests_received() > 100
    })
    .await;
    let stopped = Instant::now();
    server.shutdown();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.join().await);
    }
    let took = stopped.elapsed();
    assert!(
        took < timeout + Duration::from_secs(1),
        "the last ended after {took:?}"
    );
    let t = tally(&results);
    assert_eq!(t.ok + t.timed_out + t.not_sent + t.unknown, 3000, "{t:?}");
    assert!(
        t.ok < 3000,
        "the server stopped before answering all: {t:?}"
    );
}

/// The server restarted (on the same port) in the middle of a batch:
/// every request ends exactly once, those written to the old server are
/// `Unknown` and never sent again, and the batch goes on on the new one.
pub async fn a_server_restarted_mid_batch_ends_every_request_once<R: Runtime + Default>() {
    let first = TestServer::start().unwrap();
    // Answers held 50 ms: every request of the window is still unanswered
    // when the server goes.
    first.faults().set_delay(Duration::from_millis(50));
    let addr: SocketAddr = first.addr();
    let client = Client::<R>::builder()
        .window(64)
        .reconnect_backoff(Duration::from_millis(1), Duration::from_millis(5))
        .connect(addr)
        .await
        .unwrap();
    let n = 3000;
    let mut first = Some(first);
    let mut second = None;
    let mut results: Vec<Option<Result<(), kairoi_client::RequestError>>> = vec![None; n];
    let mut done = 0;
    client
        .execute_each(batch("restart", n), |i, r| {
            assert!(results[i].is_none(), "position {i} reported twice");
            results[i] = Some(r);
            done += 1;
            if done == 1000 {
                // The old server goes, a new one comes on the same port.
                if let Some(old) = first.take() {
                    old.shutdown();
                }
                second = Some(TestServer::builder().listen(addr).start().unwrap());
            }
        })
        .await;
    let results: Vec<_> = results
        .into_iter()
        .map(|r| r.expect("every position reported"))
        .collect();
    let t = tally(&results);
    assert_eq!(t.ok + t.not_sent + t.unknown, n as u64, "{t:?}");
    assert!(
        t.unknown + t.not_sent >= 1,
        "the restart cut the batch: {t:?}"
    );
    let second = second.expect("restarted");
    let on_second: HashSet<String> = second.jobs().into_iter().map(|j| j.id).collect();
    assert!(
        !on_second.is_empty(),
        "the batch went on after the restart: {t:?}"
    );
    for (i, r) in results.iter().enumerate() {
        let id = format!("restart.{i}");
        match r {
            Ok(()) => {}
            Err(e) => {
                // Never sent again: not on the new server.
                assert!(!on_second.contains(&id), "{id} was resent: {e:?}");
                if e.is_unknown() {
                    assert!(!matches!(e.cause(), Some(Cause::Closed)), "{e:?}");
                }
            }
        }
    }
    // Everything on the new server was answered `OK`.
    for id in &on_second {
        let i: usize = id.trim_start_matches("restart.").parse().unwrap();
        assert!(results[i].is_ok(), "{id}: {:?}", results[i]);
    }
}
