//! Every fault of the TestServer against a pipelined batch: each request
//! in flight gets exactly one outcome, none twice, none dropped.

mod common;

use std::time::{Duration, Instant};

use common::{at, each_exactly_once, jobs, tally};
use kairoi_std::{Cause, Client, ConnectionError, Disconnected, Instruction};
use kairoi_test_server::TestServer;

fn client(server: &TestServer, window: usize) -> Client {
    Client::builder()
        .window(window)
        .request_timeout(Duration::from_secs(5))
        .connect(server.addr())
        .unwrap()
}

/// After a fault is cleared, the same client works again (reconnecting if
/// the fault broke its connection).
fn recovers(server: &TestServer, client: &mut Client) {
    server.faults().clear();
    let results = client.execute_all(jobs("after.", 100));
    assert_eq!(tally(&results, 100).ok, 100);
}

#[test]
fn delayed_responses_all_arrive() {
    let server = TestServer::start().unwrap();
    server.faults().set_delay(Duration::from_millis(50));
    let mut client = client(&server, 128);
    let start = Instant::now();
    let results = each_exactly_once(&mut client, &jobs("d.", 1000));
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert_eq!(tally(&results, 1000).ok, 1000);
    recovers(&server, &mut client);
}

#[test]
fn chosen_requests_are_rejected_and_not_applied() {
    let server = TestServer::start().unwrap();
    server.faults().reject_every(3);
    let mut client = client(&server, 64);
    let batch = jobs("e.", 300);
    let results = each_exactly_once(&mut client, &batch);
    let t = tally(&results, 300);
    assert_eq!((t.ok, t.rejected), (200, 100));
    assert_eq!(server.job_count(), 200);
    for (n, r) in results.iter().enumerate() {
        let applied = server.job(&format!("e.{n}")).is_some();
        assert_eq!(r.is_ok(), applied, "job {n}");
    }
    recovers(&server, &mut client);
}

#[test]
fn shuffled_responses_are_matched_by_identifier() {
    let server = TestServer::start().unwrap();
    server.faults().set_shuffle(true);
    server
        .faults()
        .reject_when(|i| matches!(i, Instruction::Set { job, .. } if job.as_str().ends_with("3")));
    let mut client = client(&server, 256);
    let results = each_exactly_once(&mut client, &jobs("s.", 2000));
    for (n, r) in results.iter().enumerate() {
        assert_eq!(r.is_ok(), n % 10 != 3, "job {n}: {r:?}");
    }
    recovers(&server, &mut client);
}

#[test]
fn a_batch_goes_on_over_connections_closed_after_n_requests() {
    let server = TestServer::start().unwrap();
    server.faults().set_close_after(Some(25));
    let mut client = client(&server, 64);
    let results = each_exactly_once(&mut client, &jobs("c.", 200));
    let t = tally(&results, 200);
    // Each connection answers 25; what it had not written goes out on the
    // next one, so nothing ends `NotSent`.
    assert_eq!(t.not_sent, 0, "{t:?}");
    assert_eq!(t.ok + t.unknown, 200, "{t:?}");
    assert!(t.ok >= 50, "{t:?}");
    assert!(results[..25].iter().all(Result::is_ok));
    assert_eq!(server.job_count() as u64, t.ok);
    assert!(server.connections_accepted() >= 3);
    recovers(&server, &mut client);
}

#[test]
fn closing_without_answer_leaves_every_written_request_unknown() {
    let server = TestServer::start().unwrap();
    server.faults().set_delay(Duration::from_millis(20));
    let mut client = client(&server, 64);
    // Answered normally first (delayed), then the fault hits mid-batch.
    assert_eq!(tally(&client.execute_all(jobs("pre.", 10)), 10).ok, 10);
    server.faults().set_close_without_answer(true);
    let results = each_exactly_once(&mut client, &jobs("x.", 500));
    let t = tally(&results, 500);
    assert_eq!(t.ok, 0, "{t:?}");
    assert!(t.unknown >= 1, "{t:?}");
    assert_eq!(t.unknown + t.not_sent, 500, "{t:?}");
    recovers(&server, &mut client);
}

#[test]
fn malformed_responses_end_the_connection_with_unknown_outcomes() {
    let server = TestServer::start().unwrap();
    server.faults().set_malformed_responses(true);
    let mut client = client(&server, 32);
    let results = each_exactly_once(&mut client, &jobs("m.", 100));
    let t = tally(&results, 100);
    assert_eq!(t.ok, 0, "{t:?}");
    assert!(t.unknown >= 1, "{t:?}");
    assert_eq!(t.unknown + t.not_sent, 100);
    let err = results
        .iter()
        .find_map(|r| r.as_ref().err().filter(|e| e.is_unknown()))
        .unwrap();
    assert!(
        matches!(
            err.cause(),
            Some(Cause::Protocol(ConnectionError::Malformed(_)))
        ),
        "{err:?}"
    );
    // The server applied what it answered with garbage: Unknown was right.
    assert!(server.job_count() >= 1);
    recovers(&server, &mut client);
}

#[test]
fn unmatched_responses_end_the_connection_with_unknown_outcomes() {
    let server = TestServer::start().unwrap();
    server.faults().set_unmatched_responses(true);
    let mut client = client(&server, 32);
    let results = each_exactly_once(&mut client, &jobs("u.", 100));
    let t = tally(&results, 100);
    assert_eq!(t.ok, 0, "{t:?}");
    assert_eq!(t.unknown + t.not_sent, 100, "{t:?}");
    let err = results[0].as_ref().unwrap_err();
    assert!(
        matches!(
            err.cause(),
            Some(Cause::Protocol(ConnectionError::UnmatchedResponse { .. }))
        ),
        "{err:?}"
    );
    recovers(&server, &mut client);
}

#[test]
fn a_server_that_stops_reading_is_reported_not_waited_for_forever() {
    let server = TestServer::start().unwrap();
    server.faults().set_stop_reading(true);
    let timeout = Duration::from_millis(500);
    // A window far larger than the socket buffers, and long requests, so
    // the client blocks in writes: ~100 bytes x 200,000 = 20 MB.
    let mut client = Client::builder()
        .window(200_000)
        .request_timeout(timeout)
        .connect(server.addr())
        .unwrap();
    let when = at("2031-01-01 00:00:00");
    let batch: Vec<Instruction> = (0..200_000)
        .map(|n| Instruction::set(format!("stalled.job.with.a.long.identifier.{n:060}"), when))
        .collect();
    let start = Instant::now();
    let results = each_exactly_once(&mut client, &batch);
    let elapsed = start.elapsed();
    let t = tally(&results, batch.len());
    assert_eq!(t.ok, 0, "{t:?}");
    assert!(t.timed_out >= 1, "{t:?}");
    // Requests whose bytes never left were withdrawn at their deadline,
    // or the stalled connection was dropped.
    assert!(elapsed >= timeout, "{elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(20),
        "it must not hang: {elapsed:?}"
    );
    assert_eq!(server.requests_received(), 0);
    recovers(&server, &mut client);
}

#[test]
fn faults_change_while_a_client_runs() {
    let server = TestServer::start().unwrap();
    let mut client = client(&server, 16);
    for round in 0..6 {
        match round % 3 {
            0 => server.faults().set_shuffle(true),
            1 => server.faults().set_delay(Duration::from_millis(5)),
            _ => server.faults().clear(),
        }
        let results = each_exactly_once(&mut client, &jobs(&format!("r{round}."), 300));
        assert_eq!(tally(&results, 300).ok, 300);
    }
    assert_eq!(server.connections_accepted(), 1);
}

#[test]
fn a_connection_that_answers_nothing_for_a_request_timeout_is_replaced() {
    let server = TestServer::start().unwrap();
    server.faults().set_stop_reading(true);
    let timeout = Duration::from_millis(100);
    let mut client = Client::builder()
        .window(16)
        .request_timeout(timeout)
        .connect(server.addr())
        .unwrap();
    // Small requests: all fit in the socket buffers and are written, so
    // each times out, and nothing is read for a whole request timeout.
    let mut accepted = 0;
    for round in 0..2 {
        let results = each_exactly_once(&mut client, &jobs(&format!("w{round}."), 16));
        let t = tally(&results, 16);
        assert_eq!(t.timed_out, 16, "round {round}: {t:?} {:?}", results[0]);
        // The next call does not queue behind the dead connection: it
        // makes a new one.
        assert!(server.connections_accepted() > accepted, "round {round}");
        accepted = server.connections_accepted();
    }
    recovers(&server, &mut client);
    assert!(server.connections_accepted() > accepted);
}

#[test]
fn a_batch_on_connections_that_stop_answering_times_out_window_by_window() {
    let server = TestServer::start().unwrap();
    let timeout = Duration::from_millis(200);
    let mut client = Client::builder()
        .window(8)
        .request_timeout(timeout)
        .connect(server.addr())
        .unwrap();
    server.faults().set_delay(Duration::from_secs(3600));
    let start = Instant::now();
    let results = each_exactly_once(&mut client, &jobs("h.", 40));
    let t = tally(&results, 40);
    // Each window times out (or, written after the quiet time began, ends
    // `Unknown` with the connection), the quiet connection is replaced,
    // and the next window goes out on the new one.
    assert!(t.timed_out >= 8, "{t:?}");
    assert_eq!(t.timed_out + t.unknown, 40, "{t:?}");
    assert!(server.connections_accepted() >= 2);
    assert!(start.elapsed() < Duration::from_secs(10));
    recovers(&server, &mut client);
}

#[test]
fn failing_fast_a_batch_on_a_connection_that_stops_answering_ends_as_stalled() {
    let server = TestServer::start().unwrap();
    let timeout = Duration::from_millis(200);
    let mut client = Client::builder()
        .window(8)
        .request_timeout(timeout)
        .when_disconnected(Disconnected::FailFast)
        .connect(server.addr())
        .unwrap();
    // An hour per answer: the first eight requests fill the window, then
    // nothing is read for a request timeout.
    server.faults().set_delay(Duration::from_secs(3600));
    let start = Instant::now();
    let results = each_exactly_once(&mut client, &jobs("h.", 100));
    let t = tally(&results, 100);
    // The first window times out, the quiet connection is dropped, and
    // the rest of the batch fails at once.
    assert!(t.timed_out >= 8 && t.not_sent >= 80, "{t:?}");
    assert_eq!(t.timed_out + t.not_sent, 100, "{t:?}");
    let err = results[99].as_ref().unwrap_err();
    assert!(
        matches!(err.cause(), Some(Cause::Unresponsive { waited }) if *waited == timeout),
        "{err:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    recovers(&server, &mut client);
    assert!(server.connections_accepted() >= 2);
}
