//! The blocking client's features, over loopback against the TestServer.

mod common;

use std::io;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{at, jobs, tally};
use kairoi_std::{
    Cause, Client, Config, Instruction, RequestError, RetryPolicy, Runner, SendError,
};
use kairoi_test_server::{Clock, TestServer};

#[test]
fn execute_set_job_and_set_rule_apply_instructions() {
    let server = TestServer::start().unwrap();
    let mut client = Client::connect(server.addr()).unwrap();
    assert!(client.is_connected());
    assert_eq!(client.peer_addr().unwrap(), server.addr());
    client
        .set_rule("r", "app.", Runner::shell("/bin/true"))
        .unwrap();
    client.set_job("app.1", at("2031-01-01 00:00:00")).unwrap();
    client
        .execute(&Instruction::set("app.2", at("2031-01-02 00:00:00")))
        .unwrap();
    assert_eq!(server.rules()[0].runner, Runner::shell("/bin/true"));
    assert_eq!(
        server.job("app.2").unwrap().execution,
        at("2031-01-02 00:00:00")
    );
    assert_eq!(server.connections_accepted(), 1, "one connection for all");
}

#[test]
fn execute_all_returns_results_in_input_order() {
    let server = TestServer::start().unwrap();
    server.faults().set_shuffle(true);
    // Every job whose number ends in 7 is rejected.
    server
        .faults()
        .reject_when(|i| matches!(i, Instruction::Set { job, .. } if job.as_str().ends_with('7')));
    let mut client = Client::builder().window(64).connect(server.addr()).unwrap();
    let batch = jobs("job.", 5000);
    let results = client.execute_all(&batch);
    assert_eq!(results.len(), batch.len());
    for (n, result) in results.iter().enumerate() {
        if n % 10 == 7 {
            assert!(result.as_ref().unwrap_err().is_rejected(), "{n}");
        } else {
            assert!(result.is_ok(), "{n}: {result:?}");
        }
    }
    assert_eq!(server.job_count(), 4500);
}

#[test]
fn execute_all_takes_slices_vectors_and_lazy_iterators() {
    let server = TestServer::start().unwrap();
    let mut client = Client::builder().window(7).connect(server.addr()).unwrap();
    let batch = jobs("a.", 20);
    assert_eq!(tally(&client.execute_all(&batch), 20).ok, 20);
    assert_eq!(tally(&client.execute_all(batch.iter()), 20).ok, 20);
    assert_eq!(tally(&client.execute_all(batch), 20).ok, 20);
    let lazy = (0..1000).map(|n| Instruction::set(format!("lazy.{n}"), at("2031-01-01 00:00:00")));
    assert_eq!(tally(&client.execute_all(lazy), 1000).ok, 1000);
    assert!(client.execute_all(Vec::<Instruction>::new()).is_empty());
    assert_eq!(server.job_count(), 1020);
}

#[test]
fn a_window_of_one_still_pipelines_correctly() {
    let server = TestServer::start().unwrap();
    let mut client = Client::builder().window(0).connect(server.addr()).unwrap();
    assert_eq!(client.window(), 1);
    assert_eq!(tally(&client.execute_all(jobs("w.", 50)), 50).ok, 50);
}

#[test]
fn a_request_too_long_is_invalid_and_the_rest_of_the_batch_goes_through() {
    let server = TestServer::start().unwrap();
    let mut client = Client::builder()
        .config(Config::default().with_max_message_len(100))
        .connect(server.addr())
        .unwrap();
    let when = at("2031-01-01 00:00:00");
    let batch = vec![
        Instruction::set("short", when),
        Instruction::set("x".repeat(200), when),
        Instruction::set("short.2", when),
    ];
    let results = client.execute_all(&batch);
    assert!(results[0].is_ok() && results[2].is_ok());
    let err = results[1].as_ref().unwrap_err();
    assert!(err.is_invalid() && !err.is_safe_to_retry(), "{err:?}");
    assert!(matches!(
        err,
        RequestError::Invalid(SendError::MessageTooLong { limit: 100, .. })
    ));
    assert_eq!(
        io::Error::from(err.clone()).kind(),
        io::ErrorKind::InvalidInput
    );
    assert_eq!(server.job_count(), 2);
    assert_eq!(server.requests_received(), 2, "the long one was never sent");
}

#[test]
fn a_slow_response_times_out_and_the_next_call_works() {
    let server = TestServer::start().unwrap();
    let mut client = Client::builder()
        .request_timeout(Duration::from_millis(100))
        .connect(server.addr())
        .unwrap();
    server.faults().set_delay(Duration::from_millis(400));
    let start = Instant::now();
    let err = client
        .set_job("slow", at("2031-01-01 00:00:00"))
        .unwrap_err();
    assert!(err.is_timed_out(), "{err:?}");
    assert_eq!(err.to_string(), "no response within 100ms");
    assert!(start.elapsed() < Duration::from_millis(390));
    // The server still applies it: a timed-out request may have been applied.
    assert!(server.job("slow").is_some());
    server.faults().set_delay(Duration::ZERO);
    // Nothing was read for a request timeout while the late answer was
    // owed: the next call does not wait behind it, on a new connection.
    client.set_job("fast", at("2031-01-01 00:00:00")).unwrap();
    assert_eq!(server.connections_accepted(), 2);
    client.set_job("fast.2", at("2031-01-01 00:00:00")).unwrap();
    assert_eq!(server.connections_accepted(), 2);
}

#[test]
fn requests_timed_out_in_a_batch_each_get_one_result() {
    let server = TestServer::start().unwrap();
    server.faults().set_delay(Duration::from_millis(300));
    let timeout = Duration::from_millis(50);
    let mut client = Client::builder()
        .request_timeout(timeout)
        .window(8)
        .connect(server.addr())
        .unwrap();
    let batch = jobs("t.", 40);
    let results = common::each_exactly_once(&mut client, &batch);
    let t = tally(&results, 40);
    // Each window times out, and the connection, which read nothing for
    // as long, is replaced: the rest of the batch goes out on the next.
    assert_eq!(t.timed_out, 40, "{t:?}");
    assert!(server.connections_accepted() >= 2);
    server.faults().clear();
    client.set_job("after", at("2031-01-01 00:00:00")).unwrap();
}

#[test]
fn connecting_to_a_closed_port_fails_with_the_address() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let err = Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .connect(("127.0.0.1", port))
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[test]
fn a_lost_server_means_not_sent_with_the_connect_error() {
    let server = TestServer::start().unwrap();
    let mut client = Client::builder()
        .request_timeout(Duration::from_millis(300))
        .connect(server.addr())
        .unwrap();
    client.set_job("a", at("2031-01-01 00:00:00")).unwrap();
    drop(server);
    // The idle connection is found closed before writing, then no server
    // accepts a new one for the whole request timeout.
    let err = client.set_job("b", at("2031-01-01 00:00:00")).unwrap_err();
    assert!(err.is_not_sent() && err.is_safe_to_retry(), "{err:?}");
    assert!(
        matches!(err.cause(), Some(Cause::Connect { .. })),
        "{err:?}"
    );
    let results = client.execute_all(jobs("c.", 3));
    assert_eq!(tally(&results, 3).not_sent, 3);
}

#[test]
fn nodelay_off_and_no_timeouts_still_work() {
    let server = TestServer::start().unwrap();
    let mut client = Client::builder()
        .nodelay(false)
        .connect_timeout(None)
        .request_timeout(None)
        .connect(server.addr())
        .unwrap();
    for n in 0..20 {
        client
            .set_job(format!("n.{n}"), at("2031-01-01 00:00:00"))
            .unwrap();
    }
    assert_eq!(tally(&client.execute_all(jobs("m.", 500)), 500).ok, 500);
}

#[test]
fn retry_resends_not_sent_requests_only() {
    // Each connection answers 10 requests, then closes.
    let server = TestServer::start().unwrap();
    server.faults().set_close_after(Some(10));
    let mut client = Client::builder()
        .window(4)
        .retry(RetryPolicy::not_sent(50))
        .connect(server.addr())
        .unwrap();
    let batch = jobs("r.", 40);
    let results = common::each_exactly_once(&mut client, &batch);
    let t = tally(&results, 40);
    // Requests written when the connection closed are Unknown and kept
    // as such; requests never written are resent until done.
    assert!(t.unknown >= 1, "{t:?}");
    assert_eq!(t.ok + t.unknown, 40, "{t:?}");
    assert_eq!(
        server.job_count() as u64,
        t.ok,
        "Unknown ones were not applied here"
    );
    // Each connection answers 10 while at least 10 remain.
    assert!(t.ok >= 30, "{t:?}");
    assert!(server.connections_accepted() >= 3);
}

#[test]
fn retry_with_unknown_resends_until_every_request_is_answered() {
    let server = TestServer::start().unwrap();
    server.faults().set_close_after(Some(10));
    let mut client = Client::builder()
        .window(4)
        .retry(RetryPolicy::not_sent(50).with_unknown())
        .connect(server.addr())
        .unwrap();
    let batch = jobs("u.", 40);
    let results = common::each_exactly_once(&mut client, &batch);
    assert_eq!(tally(&results, 40).ok, 40);
    assert_eq!(server.job_count(), 40);
}

#[test]
fn without_a_retry_policy_nothing_is_sent_twice() {
    let server = TestServer::builder()
        .clock(Clock::Manual(at("2030-01-01 00:00:00")))
        .start()
        .unwrap();
    server.faults().set_close_without_answer(true);
    let mut client = Client::connect(server.addr()).unwrap();
    let err = client
        .set_job("once", at("2031-01-01 00:00:00"))
        .unwrap_err();
    assert!(err.is_unknown(), "{err:?}");
    assert_eq!(server.requests_received(), 1);
    server.faults().clear();
    client.set_job("twice", at("2031-01-01 00:00:00")).unwrap();
    assert_eq!(server.requests_received(), 2);
    assert_eq!(server.connections_accepted(), 2);
}

#[test]
fn a_rejected_request_is_never_retried() {
    let server = TestServer::start().unwrap();
    server.faults().reject_every(1);
    let mut client = Client::builder()
        .retry(RetryPolicy::not_sent(5).with_unknown())
        .connect(server.addr())
        .unwrap();
    let err = client.set_job("no", at("2031-01-01 00:00:00")).unwrap_err();
    assert!(err.is_rejected(), "{err:?}");
    assert_eq!(server.requests_received(), 1);
}

#[test]
fn close_ends_the_connection() {
    let server = TestServer::start().unwrap();
    let client = Client::connect(server.addr()).unwrap();
    client.close().unwrap();
    assert!(server.wait_for_open_connections(0, Duration::from_secs(5)));
    // The server serves the next client.
    let mut next = Client::connect(server.addr()).unwrap();
    next.set_job("a", at("2031-01-01 00:00:00")).unwrap();
}

#[test]
fn errors_convert_to_io_errors() {
    let server = TestServer::start().unwrap();
    server.faults().reject_every(1);
    let mut client = Client::connect(server.addr()).unwrap();
    let run = |client: &mut Client| -> io::Result<()> {
        client.set_job("x", at("2031-01-01 00:00:00"))?;
        Ok(())
    };
    let err = run(&mut client).unwrap_err();
    assert!(err.to_string().contains("rejected"), "{err}");
    let inner: Box<RequestError> = err.into_inner().unwrap().downcast().unwrap();
    assert!(inner.is_rejected());
}

#[test]
fn clients_servers_and_errors_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send::<Client>();
    send_sync::<TestServer>();
    send_sync::<RequestError>();
    send_sync::<Cause>();
}
