//! After the server drops a connection, the next call connects again.

mod common;

use std::time::{Duration, Instant};

use common::{at, jobs, tally};
use kairoi_std::Client;
use kairoi_test_server::TestServer;

#[test]
fn the_next_call_reconnects_after_the_server_closed_an_idle_connection() {
    let server = TestServer::start().unwrap();
    server.faults().set_close_after(Some(1));
    let mut client = Client::connect(server.addr()).unwrap();
    client.set_job("a", at("2031-01-01 00:00:00")).unwrap();
    // The server closed the connection after its one answer.
    assert!(server.wait_for_open_connections(0, Duration::from_secs(5)));
    // The client notices before writing, reconnects, and nothing is lost.
    client.set_job("b", at("2031-01-01 00:00:00")).unwrap();
    assert_eq!(server.connections_accepted(), 2);
    assert!(server.wait_for_open_connections(0, Duration::from_secs(5)));
    let results = client.execute_all(jobs("c.", 5));
    let t = tally(&results, 5);
    assert_eq!(t.ok, 1, "one answer per connection: {t:?}");
    assert_eq!(server.connections_accepted(), 3);
    assert_eq!(server.job_count(), 3);
}

#[test]
fn a_broken_batch_is_reported_and_the_next_call_uses_a_new_connection() {
    let server = TestServer::start().unwrap();
    server.faults().set_close_without_answer(true);
    let mut client = Client::connect(server.addr()).unwrap();
    let t = tally(&client.execute_all(jobs("x.", 50)), 50);
    assert_eq!(t.unknown + t.not_sent, 50, "{t:?}");
    assert!(!client.is_connected());
    server.faults().clear();
    let t = tally(&client.execute_all(jobs("y.", 50)), 50);
    assert_eq!(t.ok, 50);
    assert_eq!(server.connections_accepted(), 2);
    // Nothing of the broken batch was sent again.
    assert!(server.jobs().iter().all(|j| j.id.starts_with("y.")));
}

#[test]
fn a_server_restarted_elsewhere_is_not_found_but_the_client_keeps_working_calls() {
    let server = TestServer::start().unwrap();
    let mut client = Client::builder()
        .connect_timeout(Some(Duration::from_secs(1)))
        .request_timeout(Duration::from_millis(300))
        .connect(server.addr())
        .unwrap();
    client.set_job("a", at("2031-01-01 00:00:00")).unwrap();
    drop(server);
    for _ in 0..3 {
        let err = client.set_job("a", at("2031-01-01 00:00:00")).unwrap_err();
        assert!(err.is_not_sent(), "{err:?}");
        assert!(!client.is_connected());
    }
}

#[test]
fn the_client_reconnects_to_a_server_restarted_on_its_port() {
    let server = TestServer::start().unwrap();
    let timeout = Duration::from_millis(500);
    let mut client = Client::builder()
        .request_timeout(timeout)
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(50))
        .connect(server.addr())
        .unwrap();
    client.set_job("a", at("2031-01-01 00:00:00")).unwrap();
    server.take_down();
    // While the server stays down, a call waits for it for its request
    // timeout, then fails without sending anything.
    let start = Instant::now();
    let err = client.set_job("b", at("2031-01-01 00:00:00")).unwrap_err();
    assert!(err.is_not_sent(), "{err:?}");
    assert!(start.elapsed() >= timeout, "{:?}", start.elapsed());
    assert!(!client.is_connected());
    server.bring_up().unwrap();
    // Back up on the same port: a call connects again once the client's
    // reconnect backoff allows it, within its request timeout.
    client.set_job("c", at("2031-01-01 00:00:00")).unwrap();
    assert_eq!(server.connections_accepted(), 2);
    let ids: Vec<String> = server.jobs().into_iter().map(|j| j.id).collect();
    assert_eq!(ids, ["a", "c"]);
}
