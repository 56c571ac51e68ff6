//! Every TestServer fault: each request gets exactly one result.

use std::time::{Duration, Instant};

use kairoi_client::{Cause, RequestError, Runtime};
use kairoi_proto::Instruction;
use kairoi_test_server::TestServer;

use crate::support::{batch, client_for, later, sleep, tally};

/// Answers later than the timeout: every request times out, and the
/// connection, which read nothing for a request timeout, is replaced.
/// The late answers never reach the new requests.
pub async fn delayed_responses_time_out_and_the_quiet_connection_is_replaced<
    R: Runtime + Default,
>() {
    let server = TestServer::start().unwrap();
    let client = client_for::<R>(&server, Duration::from_millis(100)).await;
    server.faults().set_delay(Duration::from_millis(400));
    let t = tally(&client.execute_all(batch("slow", 20)).await);
    assert_eq!(t.ok, 0, "{t:?}");
    assert_eq!(t.timed_out + t.unknown + t.not_sent, 20, "{t:?}");
    server.faults().clear();
    sleep::<R>(Duration::from_millis(50)).await;
    let t = tally(&client.execute_all(batch("fast", 20)).await);
    assert_eq!(t.ok, 20, "{t:?}");
    assert_eq!(server.connections_accepted(), 2);
}

/// A connection closed after N answers: the rest end once each, and the
/// next batch reconnects.
pub async fn close_after_n_requests_then_reconnect<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    let client = client_for::<R>(&server, Duration::from_secs(5)).await;
    server.faults().set_close_after(Some(10));
    let results = client.execute_all(batch("a", 50)).await;
    let t = tally(&results);
    assert_eq!(t.ok + t.rejected + t.timed_out + t.not_sent + t.unknown, 50);
    // Each connection answers ten at most (fewer if its close resets it
    // before they are read). Requests not yet handed to the closed
    // connection go out on the next one; none is lost.
    let connections = server.connections_accepted();
    assert!(
        t.ok <= 10 * connections as u64,
        "{connections} connections: {t:?}"
    );
    assert_eq!(t.rejected + t.timed_out, 0, "{t:?}");
    assert!(
        t.not_sent + t.unknown >= 1,
        "the connection closed mid-batch: {t:?}"
    );
    server.faults().clear();
    let t = tally(&client.execute_all(batch("b", 50)).await);
    assert_eq!(t.ok, 50, "{t:?}");
    assert!(server.connections_accepted() >= 2);
}

/// A server that closes without answering: the written request is unknown.
pub async fn close_without_answer<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    let client = client_for::<R>(&server, Duration::from_secs(5)).await;
    server.faults().set_close_without_answer(true);
    let err = client.set_job("x", later()).await.unwrap_err();
    assert!(err.is_unknown(), "{err:?}");
    server.faults().clear();
    client.set_job("y", later()).await.unwrap();
}

/// Malformed or unmatched answers end the connection with a protocol cause.
pub async fn malformed_and_unmatched_responses_end_the_connection<R: Runtime + Default>() {
    for malformed in [true, false] {
        let server = TestServer::start().unwrap();
        let client = client_for::<R>(&server, Duration::from_secs(5)).await;
        if malformed {
            server.faults().set_malformed_responses(true);
        } else {
            server.faults().set_unmatched_responses(true);
        }
        let results = client.execute_all(batch("m", 30)).await;
        assert_eq!(results.len(), 30);
        // Written requests have an unknown outcome; requests submitted
        // after the connection failed were not sent.
        let mut unknown = 0;
        for r in &results {
            match r {
                Err(RequestError::Unknown { cause }) => {
                    assert!(matches!(cause, Cause::Protocol(_)), "{cause}");
                    unknown += 1;
                }
                Err(RequestError::NotSent { .. }) => {}
                other => panic!("expected Unknown or NotSent, got {other:?}"),
            }
        }
        assert!(unknown > 0);
        server.faults().clear();
        client.set_job("after", later()).await.unwrap();
    }
}

/// Rejected requests get their own error, in input order.
pub async fn rejected_requests_get_their_own_error<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    let client = client_for::<R>(&server, Duration::from_secs(5)).await;
    server.faults().reject_every(3);
    let results = client.execute_all(batch("r", 30)).await;
    let t = tally(&results);
    assert_eq!((t.ok, t.rejected), (20, 10), "{t:?}");
    for (n, r) in results.iter().enumerate() {
        assert_eq!(r.is_err(), n % 3 == 2, "{n}: {r:?}");
    }
}

/// A server that stops reading: the requests end (timed out, or with the
/// dropped connection), nothing hangs, and the next batch works.
pub async fn a_server_that_stops_reading_gives_outcomes_not_a_hang<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    let timeout = Duration::from_millis(300);
    let client = client_for::<R>(&server, timeout).await;
    server.faults().set_stop_reading(true);
    // Enough bytes to fill the socket buffers. A read the server had
    // already started may take the first of them, but it does not look at
    // them until reading resumes.
    let big = "x".repeat(30_000);
    let start = Instant::now();
    let results = client
        .execute_all((0..400).map(|n| Instruction::set(format!("{big}{n}"), later())))
        .await;
    let t = tally(&results);
    assert_eq!(t.ok + t.rejected, 0, "{t:?}");
    assert!(t.timed_out >= 1, "{t:?}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    server.faults().clear();
    // The requests the dropped connection had not written went out on a
    // new one, and time out there too if the server reads them late: the
    // client is back once they are through.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let t = tally(&client.execute_all(batch("after", 20)).await);
        if t.ok == 20 {
            break;
        }
        assert!(Instant::now() < deadline, "never recovered: {t:?}");
    }
}
