//! Cancellation, close and reconnection.

mod common;

use std::time::Duration;

use common::later;
use kairoi_std::testing::TestServer;
use kairoi_tokio::Client;

#[tokio::test]
async fn cancelled_after_the_write_never_steals_a_later_reply() {
    let server = TestServer::start().unwrap();
    let client = Client::connect(server.addr()).await.unwrap();
    server.faults().set_delay(Duration::from_millis(200));
    server.faults().reject_when(
        |i| matches!(i, kairoi_proto::Instruction::Set { job, .. } if job.as_str() == "cancelled"),
    );
    // Written, then given up: the server still applies it later.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(50),
        client.set_job("cancelled", later()),
    )
    .await;
    assert!(gave_up.is_err());
    server.faults().set_delay(Duration::ZERO);
    // The late ERROR for "cancelled" arrives while these wait; none of
    // them may take it.
    for n in 0..20 {
        client.set_job(format!("after.{n}"), later()).await.unwrap();
    }
    assert_eq!(server.connections_accepted(), 1);
}

#[tokio::test]
async fn cancelled_before_the_write_is_withdrawn() {
    let server = TestServer::start().unwrap();
    let client = Client::builder()
        .max_active(1)
        .connect(server.addr())
        .await
        .unwrap();
    server.faults().set_delay(Duration::from_millis(300));
    let first = {
        let client = client.clone();
        tokio::spawn(async move { client.set_job("first", later()).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The window holds one request: this one waits in the driver, unsent.
    let second = tokio::time::timeout(
        Duration::from_millis(50),
        client.set_job("withdrawn", later()),
    )
    .await;
    assert!(second.is_err());
    first.await.unwrap().unwrap();
    server.faults().clear();
    client.set_job("third", later()).await.unwrap();
    assert!(server.job("first").is_some());
    assert!(server.job("third").is_some());
    assert!(
        server.job("withdrawn").is_none(),
        "a withdrawn request reached the server"
    );
}

#[tokio::test]
async fn close_waits_for_requests_in_flight() {
    let server = TestServer::start().unwrap();
    let client = Client::connect(server.addr()).await.unwrap();
    server.faults().set_delay(Duration::from_millis(150));
    let mut tasks = Vec::new();
    for n in 0..50 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client.set_job(format!("c{n}"), later()).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    client.close().await;
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let err = client.set_job("late", later()).await.unwrap_err();
    assert!(err.is_not_sent(), "{err:?}");
    assert_eq!(server.jobs().len(), 50);
}

#[tokio::test]
async fn dropping_the_client_lets_the_driver_finish() {
    let server = TestServer::start().unwrap();
    {
        let client = Client::connect(server.addr()).await.unwrap();
        client.set_job("one", later()).await.unwrap();
    }
    // The driver ends and closes its connection on its own.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while server.connections_open() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "driver kept the connection open"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn reconnects_after_the_server_drops_the_connection() {
    let server = TestServer::start().unwrap();
    let client = Client::builder()
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(100))
        .connect(server.addr())
        .await
        .unwrap();
    // The server answers one request, then drops the connection.
    server.faults().set_close_after(Some(1));
    client.set_job("before", later()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.faults().clear();
    // The first request after the drop may find the dead connection; it
    // is reported, never retried silently. The next one reconnects.
    let first = client.set_job("during", later()).await;
    if let Err(e) = &first {
        assert!(e.is_not_sent() || e.is_unknown(), "{e:?}");
    }
    client.set_job("after", later()).await.unwrap();
    assert!(server.connections_accepted() >= 2);
}

#[tokio::test]
async fn retry_policy_resends_not_sent_requests() {
    let server = TestServer::start().unwrap();
    let client = Client::builder()
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(100))
        .retry(kairoi_tokio::RetryPolicy {
            not_sent: 2,
            unknown: false,
        })
        .connect(server.addr())
        .await
        .unwrap();
    // The server answers one request, then drops the connection.
    server.faults().set_close_after(Some(1));
    client.set_job("before", later()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.faults().clear();
    client.set_job("after", later()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_after_a_broken_connection_reconnects() {
    // On a multi-threaded runtime the caller of a failed request runs at
    // once, possibly before its driver has ended: its next request must
    // still get a new connection.
    for _ in 0..20 {
        let server = TestServer::start().unwrap();
        let client = Client::builder()
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

#[tokio::test]
async fn unbounded_timeouts_are_accepted() {
    let server = TestServer::start().unwrap();
    let client = Client::builder()
        .connect_timeout(Duration::MAX)
        .request_timeout(Duration::MAX)
        .close_timeout(Duration::MAX)
        .reconnect_backoff(Duration::MAX, Duration::MAX)
        .connect(server.addr())
        .await
        .unwrap();
    client.set_job("forever", later()).await.unwrap();
    client.close().await;
    assert!(server.job("forever").is_some());
}
