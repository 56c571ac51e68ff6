//! Every TestServer fault: each request gets exactly one result.

mod common;

use std::time::Duration;

use common::{later, sleep, tally};
use kairoi_smol::{Client, Instruction, RequestError};
use kairoi_std::testing::TestServer;

fn batch(prefix: &str, n: usize) -> Vec<Instruction> {
    (0..n)
        .map(|i| Instruction::set(format!("{prefix}.{i}"), later()))
        .collect()
}

async fn client_for(server: &TestServer, timeout: Duration) -> Client {
    Client::builder()
        .request_timeout(timeout)
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(50))
        .connect(server.addr())
        .await
        .unwrap()
}

#[test]
fn delayed_responses_time_out_and_late_answers_are_absorbed() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        let client = client_for(&server, Duration::from_millis(100)).await;
        server.faults().set_delay(Duration::from_millis(400));
        let results = client.execute_all(batch("slow", 20)).await;
        assert_eq!(tally(&results), [0, 0, 20, 0, 0]);
        server.faults().clear();
        // The late responses arrive on the same connection and must not be
        // taken for the answers of new requests.
        sleep(Duration::from_millis(500)).await;
        let results = client.execute_all(batch("fast", 20)).await;
        assert_eq!(tally(&results), [20, 0, 0, 0, 0]);
        assert_eq!(server.connections_accepted(), 1);
    })
}

#[test]
fn close_after_n_requests_then_reconnect() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        let client = client_for(&server, Duration::from_secs(5)).await;
        server.faults().set_close_after(Some(10));
        let results = client.execute_all(batch("a", 50)).await;
        let [ok, rejected, timed_out, not_sent, unknown] = tally(&results);
        assert_eq!(ok + rejected + timed_out + not_sent + unknown, 50);
        // Each connection answers ten at most (fewer if its close resets it
        // before they are read). Requests the client had not yet handed to
        // the closed connection go out on the next one; none is lost.
        let connections = server.connections_accepted();
        assert!(
            ok <= 10 * connections,
            "{connections} connections: {results:?}"
        );
        assert_eq!(rejected + timed_out, 0, "{results:?}");
        assert!(
            not_sent + unknown >= 1,
            "the connection closed mid-batch: {results:?}"
        );
        server.faults().clear();
        let results = client.execute_all(batch("b", 50)).await;
        assert_eq!(tally(&results), [50, 0, 0, 0, 0]);
        assert!(server.connections_accepted() >= 2);
    })
}

#[test]
fn close_without_answer() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        let client = client_for(&server, Duration::from_secs(5)).await;
        server.faults().set_close_without_answer(true);
        let err = client.set_job("x", later()).await.unwrap_err();
        assert!(err.is_unknown(), "{err:?}");
        server.faults().clear();
        client.set_job("y", later()).await.unwrap();
    })
}

#[test]
fn malformed_and_unmatched_responses_end_the_connection() {
    smol::block_on(async {
        for malformed in [true, false] {
            let server = TestServer::start().unwrap();
            let client = client_for(&server, Duration::from_secs(5)).await;
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
                        assert!(matches!(cause, kairoi_proto::Cause::Protocol(_)), "{cause}");
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
    })
}

#[test]
fn rejected_requests_get_their_own_error() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        let client = client_for(&server, Duration::from_secs(5)).await;
        server.faults().reject_every(3);
        let results = client.execute_all(batch("r", 30)).await;
        assert_eq!(tally(&results), [20, 10, 0, 0, 0]);
        for (n, r) in results.iter().enumerate() {
            assert_eq!(r.is_err(), n % 3 == 2, "{n}: {r:?}");
        }
    })
}

#[test]
fn a_server_that_stops_reading_gives_timeouts_not_a_hang() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        let client = client_for(&server, Duration::from_millis(300)).await;
        server.faults().set_stop_reading(true);
        // A read the server already started still completes: wait until it
        // has timed out (the server polls every 50 ms) so nothing is read.
        sleep(Duration::from_millis(150)).await;
        // Enough bytes to fill the socket buffers.
        let big = "x".repeat(30_000);
        let results = client
            .execute_all((0..400).map(|n| Instruction::set(format!("{big}{n}"), later())))
            .await;
        let [ok, rejected, timed_out, not_sent, unknown] = tally(&results);
        assert_eq!(
            timed_out,
            400,
            "{:?}",
            [ok, rejected, timed_out, not_sent, unknown]
        );
    })
}
