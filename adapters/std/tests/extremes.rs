//! Extreme values for every setting of the blocking client: nothing
//! panics, nothing hangs, every request ends once.

mod common;

use std::time::Duration;

use common::{at, jobs};
use kairoi_std::{Client, Config, RetryPolicy};
use kairoi_test_server::TestServer;

const DURATIONS: [Option<Duration>; 6] = [
    Some(Duration::ZERO),
    Some(Duration::from_nanos(1)),
    Some(Duration::from_millis(1)),
    Some(Duration::from_secs(u64::MAX / 2)),
    Some(Duration::MAX),
    None,
];

#[test]
fn extreme_client_settings_never_panic_and_end_each_request_once() {
    let server = TestServer::start().unwrap();
    for (n, d) in DURATIONS.into_iter().enumerate() {
        for (window, connections) in [(0, 1), (1, 2), (usize::MAX, 1), (3, 3)] {
            let config = Config::default()
                .with_max_message_len(usize::MAX)
                .with_max_arguments(usize::MAX);
            let built = Client::builder()
                .config(config)
                .window(window)
                .connections(connections)
                .connect_timeout(d)
                .request_timeout(d)
                .close_timeout(d)
                .reconnect_backoff(d.unwrap_or(Duration::MAX), Duration::MAX)
                .retry(RetryPolicy::not_sent(3))
                .connect(server.addr());
            // A zero connection timeout is a millisecond: loopback makes it.
            let mut client = built.unwrap_or_else(|e| panic!("{d:?}: {e}"));
            let batch = jobs(&format!("x{n}.{window}."), 7);
            let mut seen = [0usize; 7];
            client.execute_each(&batch, |i, _| seen[i] += 1);
            assert_eq!(seen, [1; 7], "{d:?} {window} {connections}");
            let _ = client.set_job(format!("single.{n}.{window}"), at("2099-01-01 00:00:00"));
            let _ = client.execute_arguments(["UNSET", "x"]);
            client.close().unwrap();
        }
    }
}

#[test]
fn too_many_connections_is_a_clear_error() {
    let server = TestServer::start().unwrap();
    let err = Client::builder()
        .connections(usize::MAX)
        .connect(server.addr())
        .unwrap_err();
    assert!(err.to_string().contains("18446744073709551615"), "{err}");
    assert!(err.to_string().contains("1024"), "{err}");
}
