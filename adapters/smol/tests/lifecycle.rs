//! Cancellation, close, drop and reconnection.

mod common;

use std::time::{Duration, Instant};

use common::{later, sleep, timeout};
use kairoi_smol::{Client, Instruction};
use kairoi_std::testing::TestServer;

#[test]
fn cancelled_after_the_write_never_steals_a_later_reply() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        let client = Client::connect(server.addr()).await.unwrap();
        server.faults().set_delay(Duration::from_millis(200));
        server.faults().reject_when(
            |i| matches!(i, Instruction::Set { job, .. } if job.as_str() == "cancelled"),
        );
        // Written, then given up: the server still applies it later.
        let gave_up = timeout(
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
    })
}

#[test]
fn cancelled_before_the_write_is_withdrawn() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        let client = Client::builder()
            .window(1)
            .connect(server.addr())
            .await
            .unwrap();
        server.faults().set_delay(Duration::from_millis(300));
        let first = {
            let client = client.clone();
            smol::spawn(async move { client.set_job("first", later()).await })
        };
        sleep(Duration::from_millis(50)).await;
        // The window holds one request: this one waits in the driver, unsent.
        let second = timeout(
            Duration::from_millis(50),
            client.set_job("withdrawn", later()),
        )
        .await;
        assert!(second.is_none());
        first.await.unwrap();
        server.faults().clear();
        client.set_job("third", later()).await.unwrap();
        assert!(server.job("first").is_some());
        assert!(server.job("third").is_some());
        assert!(
            server.job("withdrawn").is_none(),
            "a withdrawn request reached the server"
        );
        assert_eq!(server.requests_received(), 2);
    })
}

#[test]
fn in_flight_counts_queued_and_written_requests() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        let client = Client::builder()
            .window(2)
            .connect(server.addr())
            .await
            .unwrap();
        server.faults().set_delay(Duration::from_millis(300));
        let tasks: Vec<_> = (0..5)
            .map(|n| {
                let client = client.clone();
                smol::spawn(async move { client.set_job(format!("q{n}"), later()).await })
            })
            .collect();
        sleep(Duration::from_millis(100)).await;
        // Two written, three waiting for room in the window.
        assert_eq!(client.in_flight(), 5);
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(client.in_flight(), 0);
    })
}

#[test]
fn close_waits_for_requests_in_flight() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        let client = Client::connect(server.addr()).await.unwrap();
        server.faults().set_delay(Duration::from_millis(150));
        let mut tasks = Vec::new();
        for n in 0..50 {
            let client = client.clone();
            tasks.push(smol::spawn(async move {
                client.set_job(format!("c{n}"), later()).await
            }));
        }
        sleep(Duration::from_millis(30)).await;
        client.close().await;
        for task in tasks {
            task.await.unwrap();
        }
        let err = client.set_job("late", later()).await.unwrap_err();
        assert!(err.is_not_sent(), "{err:?}");
        assert_eq!(server.jobs().len(), 50);
        assert!(server.wait_for_open_connections(0, Duration::from_secs(5)));
        // A closed client never connects again.
        assert_eq!(server.connections_accepted(), 1);
    })
}

#[test]
fn close_past_its_deadline_ends_requests_as_unknown() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        let client = Client::builder()
            .close_timeout(Duration::from_millis(100))
            .connect(server.addr())
            .await
            .unwrap();
        server.faults().set_delay(Duration::from_millis(1000));
        let task = {
            let client = client.clone();
            smol::spawn(async move { client.set_job("slow", later()).await })
        };
        sleep(Duration::from_millis(30)).await;
        let start = Instant::now();
        client.close().await;
        assert!(start.elapsed() < Duration::from_millis(900));
        let err = task.await.unwrap_err();
        assert!(err.is_unknown(), "{err:?}");
    })
}

#[test]
fn dropping_the_close_future_does_not_cut_requests_off() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        let client = Client::connect(server.addr()).await.unwrap();
        server.faults().set_delay(Duration::from_millis(200));
        let tasks: Vec<_> = (0..10)
            .map(|n| {
                let client = client.clone();
                smol::spawn(async move { client.set_job(format!("d{n}"), later()).await })
            })
            .collect();
        sleep(Duration::from_millis(30)).await;
        // Stop waiting for the close long before the responses come.
        assert!(
            timeout(Duration::from_millis(20), client.close())
                .await
                .is_none()
        );
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(server.jobs().len(), 10);
    })
}

#[test]
fn dropping_the_client_lets_the_driver_finish() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        {
            let client = Client::connect(server.addr()).await.unwrap();
            client.set_job("one", later()).await.unwrap();
            // Written, given up, and still on its way when the client goes.
            server.faults().set_delay(Duration::from_millis(200));
            let gave_up = timeout(Duration::from_millis(50), client.set_job("two", later())).await;
            assert!(gave_up.is_none());
        }
        // The driver ends and closes its connection on its own.
        let deadline = Instant::now() + Duration::from_secs(5);
        while server.connections_open() > 0 {
            assert!(Instant::now() < deadline, "driver kept the connection open");
            sleep(Duration::from_millis(10)).await;
        }
        assert!(server.job("two").is_some());
    })
}

#[test]
fn reconnects_after_the_server_drops_the_connection() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        let client = Client::builder()
            .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(100))
            .connect(server.addr())
            .await
            .unwrap();
        // The server answers one request, then drops the connection.
        server.faults().set_close_after(Some(1));
        client.set_job("before", later()).await.unwrap();
        sleep(Duration::from_millis(50)).await;
        server.faults().clear();
        // The first request after the drop may find the dead connection; it
        // is reported, never retried silently. The next one reconnects.
        let first = client.set_job("during", later()).await;
        if let Err(e) = &first {
            assert!(e.is_not_sent() || e.is_unknown(), "{e:?}");
        }
        client.set_job("after", later()).await.unwrap();
        assert!(server.connections_accepted() >= 2);
    })
}

#[test]
fn failed_connection_attempts_back_off() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        let addr = server.addr();
        let client = Client::builder()
            .reconnect_backoff(Duration::from_millis(200), Duration::from_secs(1))
            .connect(addr)
            .await
            .unwrap();
        server.shutdown();
        // The dead connection, then a refused attempt: both reported.
        for _ in 0..2 {
            let err = client.set_job("lost", later()).await.unwrap_err();
            assert!(err.is_not_sent() || err.is_unknown(), "{err:?}");
        }
        // The next attempt waits for the backoff first.
        let start = Instant::now();
        let err = client.set_job("lost", later()).await.unwrap_err();
        assert!(err.is_not_sent(), "{err:?}");
        assert!(
            start.elapsed() >= Duration::from_millis(200),
            "tried again after {:?}",
            start.elapsed()
        );
    })
}

#[test]
fn retry_policy_resends_not_sent_requests() {
    smol::block_on(async {
        let first = TestServer::start().unwrap();
        let second = TestServer::start().unwrap();
        let addrs = [first.addr(), second.addr()];
        let client = Client::builder()
            .window(1)
            .retry(kairoi_smol::RetryPolicy::not_sent(1))
            .connect(&addrs[..])
            .await
            .unwrap();
        first.faults().set_delay(Duration::from_millis(300));
        let written = {
            let client = client.clone();
            smol::spawn(async move { client.set_job("written", later()).await })
        };
        sleep(Duration::from_millis(50)).await;
        // The window is full: this one waits in the driver, unsent.
        let queued = {
            let client = client.clone();
            smol::spawn(async move { client.set_job("queued", later()).await })
        };
        sleep(Duration::from_millis(50)).await;
        first.shutdown();
        // The written request may have been applied: never sent again.
        let err = written.await.unwrap_err();
        assert!(err.is_unknown(), "{err:?}");
        // The queued one was never sent: it goes again, on a connection to
        // the next address, since the first one is gone.
        queued.await.unwrap();
        assert!(second.job("queued").is_some());
        assert!(second.job("written").is_none());
    })
}

#[test]
fn retry_policy_can_resend_requests_of_unknown_outcome() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        let client = Client::builder()
            .reconnect_backoff(Duration::from_millis(1), Duration::from_millis(10))
            .retry(kairoi_smol::RetryPolicy::not_sent(3).with_unknown())
            .connect(server.addr())
            .await
            .unwrap();
        // Each connection answers one request, then closes: the second
        // request of the batch is written and never answered.
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
    })
}

#[test]
fn unbounded_timeouts_are_accepted() {
    smol::block_on(async {
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
    })
}
