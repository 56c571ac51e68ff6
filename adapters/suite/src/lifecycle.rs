//! Cancellation, close, drop, reconnection, retries and settings.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kairoi_client::{Client, Disconnected, RetryPolicy, Runtime};
use kairoi_proto::{Config, Instruction};
use kairoi_test_server::TestServer;

use crate::support::{eventually, later, sleep, spawn, timeout};

/// A request given up after it was written never takes a later answer.
pub async fn cancelled_after_the_write_never_steals_a_later_reply<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    let client = Client::<R>::connect(server.addr()).await.unwrap();
    server.faults().set_delay(Duration::from_millis(200));
    server
        .faults()
        .reject_when(|i| matches!(i, Instruction::Set { job, .. } if job.as_str() == "cancelled"));
    // Written, then given up: the server still applies it later.
    let gave_up = timeout::<R, _>(
        Duration::from_millis(50),
        client.set_job("cancelled", later()),
    )
    .await;
    assert!(gave_up.is_none());
    server.faults().set_delay(Duration::ZERO);
    // The late ERROR for "cancelled" arrives while these wait; none of
    // them may take it.
    for n in 0..20 {
        client.set_job(format!("after.{n}"), later()).await.unwrap();
    }
    assert_eq!(server.connections_accepted(), 1);
    assert_eq!(client.in_flight(), 0);
}

/// A request given up while it waits for room is never sent.
pub async fn cancelled_before_the_write_is_withdrawn<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    let client = Client::<R>::builder()
        .window(1)
        .connect(server.addr())
        .await
        .unwrap();
    server.faults().set_delay(Duration::from_millis(300));
    let first = {
        let client = client.clone();
        spawn::<R, _>(async move { client.set_job("first", later()).await })
    };
    eventually::<R>(Duration::from_secs(5), "first request written", || {
        server.requests_received() == 1
    })
    .await;
    // The window holds one request: this one waits in the driver, unsent.
    let second = timeout::<R, _>(
        Duration::from_millis(50),
        client.set_job("withdrawn", later()),
    )
    .await;
    assert!(second.is_none());
    first.join().await.unwrap();
    server.faults().clear();
    client.set_job("third", later()).await.unwrap();
    assert!(server.job("first").is_some());
    assert!(server.job("third").is_some());
    assert!(
        server.job("withdrawn").is_none(),
        "a withdrawn request reached the server"
    );
    assert_eq!(server.requests_received(), 2);
}

/// `in_flight` counts requests written and requests waiting for room.
pub async fn in_flight_counts_queued_and_written_requests<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    let client = Client::<R>::builder()
        .window(2)
        .connect(server.addr())
        .await
        .unwrap();
    server.faults().set_delay(Duration::from_millis(300));
    let tasks: Vec<_> = (0..5)
        .map(|n| {
            let client = client.clone();
            spawn::<R, _>(async move { client.set_job(format!("q{n}"), later()).await })
        })
        .collect();
    // Two written, three waiting for room in the window.
    eventually::<R>(Duration::from_secs(5), "five in flight", || {
        client.in_flight() == 5
    })
    .await;
    assert_eq!(server.requests_received(), 2);
    for task in tasks {
        task.join().await.unwrap();
    }
    assert_eq!(client.in_flight(), 0);
}

/// `close` waits for active requests, then the client stays closed.
pub async fn close_waits_for_requests_in_flight<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    let client = Client::<R>::connect(server.addr()).await.unwrap();
    server.faults().set_delay(Duration::from_millis(150));
    let tasks: Vec<_> = (0..50)
        .map(|n| {
            let client = client.clone();
            spawn::<R, _>(async move { client.set_job(format!("c{n}"), later()).await })
        })
        .collect();
    eventually::<R>(Duration::from_secs(5), "all received", || {
        server.requests_received() == 50
    })
    .await;
    client.close().await;
    for task in tasks {
        task.join().await.unwrap();
    }
    let err = client.set_job("late", later()).await.unwrap_err();
    assert!(err.is_not_sent(), "{err:?}");
    assert_eq!(server.jobs().len(), 50);
    // `close` returned after its driver ended.
    assert!(server.wait_for_open_connections(0, Duration::from_secs(5)));
    // A closed client never connects again.
    assert_eq!(server.connections_accepted(), 1);
}

/// Past the close timeout, active requests end as unknown.
pub async fn close_past_its_deadline_ends_requests_as_unknown<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    let client = Client::<R>::builder()
        .close_timeout(Duration::from_millis(100))
        .connect(server.addr())
        .await
        .unwrap();
    server.faults().set_delay(Duration::from_millis(2000));
    let task = {
        let client = client.clone();
        spawn::<R, _>(async move { client.set_job("slow", later()).await })
    };
    eventually::<R>(Duration::from_secs(5), "received", || {
        server.requests_received() == 1
    })
    .await;
    let start = Instant::now();
    client.close().await;
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    let err = task.join().await.unwrap_err();
    assert!(err.is_unknown(), "{err:?}");
}

/// Giving up on `close` does not cut active requests off.
pub async fn dropping_the_close_future_does_not_cut_requests_off<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    let client = Client::<R>::connect(server.addr()).await.unwrap();
    server.faults().set_delay(Duration::from_millis(200));
    let tasks: Vec<_> = (0..10)
        .map(|n| {
            let client = client.clone();
            spawn::<R, _>(async move { client.set_job(format!("d{n}"), later()).await })
        })
        .collect();
    eventually::<R>(Duration::from_secs(5), "received", || {
        server.requests_received() == 10
    })
    .await;
    // Stop waiting for the close long before the responses come.
    assert!(
        timeout::<R, _>(Duration::from_millis(20), client.close())
            .await
            .is_none()
    );
    for task in tasks {
        task.join().await.unwrap();
    }
    assert_eq!(server.jobs().len(), 10);
}

/// The last handle gone, the driver finishes and closes on its own.
pub async fn dropping_the_client_lets_the_driver_finish<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    {
        let client = Client::<R>::connect(server.addr()).await.unwrap();
        client.set_job("one", later()).await.unwrap();
        // Written, given up, and still on its way when the client goes.
        server.faults().set_delay(Duration::from_millis(200));
        let gave_up =
            timeout::<R, _>(Duration::from_millis(50), client.set_job("two", later())).await;
        assert!(gave_up.is_none());
    }
    eventually::<R>(
        Duration::from_secs(5),
        "driver closed its connection",
        || server.connections_open() == 0,
    )
    .await;
    assert!(server.job("two").is_some());
}

/// After the server drops the connection, the next request reconnects.
pub async fn reconnects_after_the_server_drops_the_connection<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    let client = Client::<R>::builder()
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(100))
        .connect(server.addr())
        .await
        .unwrap();
    // The server answers one request, then drops the connection.
    server.faults().set_close_after(Some(1));
    client.set_job("before", later()).await.unwrap();
    eventually::<R>(Duration::from_secs(5), "connection dropped", || {
        server.connections_open() == 0
    })
    .await;
    server.faults().clear();
    // The first request after the drop may find the dead connection; it
    // is reported, never retried silently. The next one reconnects.
    if let Err(e) = client.set_job("during", later()).await {
        assert!(e.is_not_sent() || e.is_unknown(), "{e:?}");
    }
    client.set_job("after", later()).await.unwrap();
    assert!(server.connections_accepted() >= 2);
}

/// The caller of a failed request may run before its driver ended: its
/// next request still gets a new connection.
pub async fn the_request_after_a_broken_connection_reconnects<R: Runtime + Default>() {
    for _ in 0..20 {
        let server = TestServer::start().unwrap();
        let client = Client::<R>::builder()
            .reconnect_backoff(Duration::from_millis(1), Duration::from_millis(5))
            .connect(server.addr())
            .await
            .unwrap();
        server.faults().set_close_without_answer(true);
        let err = client.set_job("x", later()).await.unwrap_err();
        assert!(err.is_unknown(), "{err:?}");
        server.faults().clear();
        client.set_job("y", later()).await.unwrap();
    }
}

/// With [`Disconnected::FailFast`], after a failed attempt, requests fail
/// at once with its error until the backoff has passed; then the next
/// request connects again, here to a server restarted on the same port.
pub async fn failed_attempts_back_off_and_calls_fail_fast_meanwhile<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    let addr = server.addr();
    let min = Duration::from_secs(2);
    let client = Client::<R>::builder()
        .when_disconnected(Disconnected::FailFast)
        .reconnect_backoff(min, Duration::from_secs(4))
        .connect(addr)
        .await
        .unwrap();
    server.shutdown();
    // The dead connection, then a refused attempt: both reported.
    let mut failed_at = Instant::now();
    for _ in 0..2 {
        let err = client.set_job("lost", later()).await.unwrap_err();
        assert!(err.is_not_sent() || err.is_unknown(), "{err:?}");
        failed_at = Instant::now();
    }
    // Back on the same port, but the backoff (at least half of `min`)
    // still runs: no attempt is made, the request fails at once.
    let restarted = TestServer::builder().listen(addr).start().unwrap();
    let start = Instant::now();
    let err = client.set_job("during", later()).await.unwrap_err();
    assert!(
        err.is_not_sent() && matches!(err.cause(), Some(kairoi_client::Cause::Connect { .. })),
        "{err:?}"
    );
    assert!(start.elapsed() < min / 2, "{:?}", start.elapsed());
    assert_eq!(restarted.connections_accepted(), 0);
    // Once the backoff has passed, the next request connects.
    let wait = (failed_at + min).saturating_duration_since(Instant::now());
    sleep::<R>(wait + Duration::from_millis(50)).await;
    client.set_job("after", later()).await.unwrap();
    assert_eq!(restarted.connections_accepted(), 1);
    assert!(restarted.job("during").is_none());
}

/// By default a call made while the server is away waits for it: the
/// client keeps attempting with backoff, and the call succeeds once the
/// server is back, within its request timeout.
pub async fn a_call_waits_for_a_server_that_comes_back<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    let client = Client::<R>::builder()
        .request_timeout(Duration::from_secs(20))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(100))
        .connect(server.addr())
        .await
        .unwrap();
    client.set_job("before", later()).await.unwrap();
    server.take_down();
    // A request written before the client reads the end of its connection
    // would end `Unknown`: this case is about the one made after.
    eventually::<R>(Duration::from_secs(5), "the end seen", || {
        !client.is_connected()
    })
    .await;
    let call = {
        let client = client.clone();
        spawn::<R, _>(async move { client.set_job("during", later()).await })
    };
    // The server stays away for a while, as during a restart.
    sleep::<R>(Duration::from_millis(300)).await;
    assert!(server.job("during").is_none());
    server.bring_up().unwrap();
    call.join().await.unwrap();
    assert!(server.job("during").is_some());
    assert!(server.connections_accepted() >= 2);
}

/// A `NotSent` request goes again on a new connection; a written one is
/// never resent.
pub async fn retry_policy_resends_not_sent_requests<R: Runtime + Default>() {
    let first = TestServer::start().unwrap();
    let second = TestServer::start().unwrap();
    let addrs: [SocketAddr; 2] = [first.addr(), second.addr()];
    let client = Client::<R>::builder()
        .window(1)
        .retry(RetryPolicy::not_sent(1))
        .connect(addrs)
        .await
        .unwrap();
    first.faults().set_delay(Duration::from_secs(3));
    let written = {
        let client = client.clone();
        spawn::<R, _>(async move { client.set_job("written", later()).await })
    };
    eventually::<R>(Duration::from_secs(5), "written", || {
        first.requests_received() == 1
    })
    .await;
    // The window is full: this one waits in the driver, unsent.
    let queued = {
        let client = client.clone();
        spawn::<R, _>(async move { client.set_job("queued", later()).await })
    };
    eventually::<R>(Duration::from_secs(5), "queued", || client.in_flight() == 2).await;
    first.shutdown();
    // The written request may have been applied: never sent again.
    let err = written.join().await.unwrap_err();
    assert!(err.is_unknown(), "{err:?}");
    // The queued one was never sent: it goes again, on a connection to
    // the next address, since the first one is gone.
    queued.join().await.unwrap();
    assert!(second.job("queued").is_some());
    assert!(second.job("written").is_none());
}

/// With `with_unknown`, written requests whose answer was lost go again.
pub async fn retry_policy_can_resend_requests_of_unknown_outcome<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    let client = Client::<R>::builder()
        .reconnect_backoff(Duration::from_millis(1), Duration::from_millis(10))
        .retry(RetryPolicy::not_sent(3).with_unknown())
        .connect(server.addr())
        .await
        .unwrap();
    // Each connection answers one request, then closes.
    server.faults().set_close_after(Some(1));
    let results = client
        .execute_all([
            Instruction::set("r0", later()),
            Instruction::set("r1", later()),
        ])
        .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(server.job("r1").is_some());
    assert!(server.connections_accepted() >= 2);
}

/// Zero, one, the largest values and no limit: every request still ends
/// exactly once, and nothing panics.
pub async fn extreme_settings_never_panic<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    let err = Client::<R>::builder()
        .connections(usize::MAX)
        .connect(server.addr())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("18446744073709551615 connections asked for, at most 1024"),
        "{err}"
    );
    let durations = [
        Some(Duration::ZERO),
        Some(Duration::from_nanos(1)),
        Some(Duration::from_secs(u64::MAX / 2)),
        Some(Duration::MAX),
        None,
    ];
    for (n, d) in durations.into_iter().enumerate() {
        for window in [0, 1, usize::MAX] {
            let config = Config::default()
                .with_max_message_len(usize::MAX)
                .with_max_arguments(usize::MAX);
            let built = Client::<R>::builder()
                .config(config)
                .window(window)
                .connections(if window == 1 { 2 } else { 1 })
                .connect_timeout(d.filter(|d| *d > Duration::from_millis(1)))
                .request_timeout(d)
                .close_timeout(d)
                .reconnect_backoff(d.unwrap_or(Duration::MAX), Duration::MAX)
                .retry(RetryPolicy::not_sent(3).with_backoff(Duration::ZERO))
                .connect(server.addr())
                .await;
            let client = built.unwrap();
            let mut seen = [0usize; 5];
            client
                .execute_each(
                    crate::support::batch(&format!("x{n}.{window}"), 5),
                    |i, _| seen[i] += 1,
                )
                .await;
            assert_eq!(seen, [1; 5], "{d:?} {window}");
            // A zero timeout may end it before its answer, or find the
            // connection dropped as quiet: any outcome, but one.
            let _ = client
                .set_job(format!("single.{n}.{window}"), later())
                .await;
            let _ = timeout::<R, _>(Duration::from_secs(5), client.close()).await;
        }
    }
}

/// A host name is kept, and resolved again for each new connection.
pub async fn a_host_name_is_resolved_again_on_reconnect<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    let port = server.addr().port();
    let client = Client::<R>::builder()
        .reconnect_backoff(Duration::from_millis(1), Duration::from_millis(5))
        .connect(format!("localhost:{port}"))
        .await
        .unwrap();
    client.set_job("by.name", later()).await.unwrap();
    server.faults().set_close_without_answer(true);
    let _ = client.set_job("dropped", later()).await;
    server.faults().clear();
    client.set_job("again", later()).await.unwrap();
    assert_eq!(server.connections_accepted(), 2);
    // A name that resolves to nothing is reported with the name.
    let err = Client::<R>::connect("no-such-host.invalid:5678")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no-such-host.invalid"), "{err}");
}

/// A client over a transport the caller connected pipelines as usual.
pub async fn over_a_caller_connected_transport<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    server.faults().set_shuffle(true);
    let stream = R::default().connect(server.addr(), true).await.unwrap();
    let client = Client::with_transport(stream, Client::<R>::builder().window(8));
    let results = client.execute_all(crate::support::batch("t", 500)).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(client.in_flight(), 0);
    client.close().await;
    eventually::<R>(Duration::from_secs(5), "closed", || {
        server.connections_open() == 0
    })
    .await;
    let err = client.set_job("closed", later()).await.unwrap_err();
    assert!(err.is_not_sent(), "{err:?}");
    assert_eq!(server.connections_accepted(), 1);
}

/// A caller's transport that ends is not replaced.
pub async fn a_transport_that_ends_is_not_replaced<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    server.faults().set_close_after(Some(1));
    let stream = R::default().connect(server.addr(), true).await.unwrap();
    let client = Client::with_transport(stream, Client::<R>::builder());
    client.set_job("one", later()).await.unwrap();
    eventually::<R>(Duration::from_secs(5), "closed", || {
        server.connections_open() == 0
    })
    .await;
    server.faults().clear();
    // The first may still find the connection ending.
    for _ in 0..3 {
        let err = client.set_job("two", later()).await.unwrap_err();
        assert!(err.is_not_sent() || err.is_unknown(), "{err:?}");
    }
    let err = client.set_job("two", later()).await.unwrap_err();
    assert!(err.is_not_sent(), "{err:?}");
    assert_eq!(server.connections_accepted(), 1);
}
