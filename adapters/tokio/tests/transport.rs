//! `Client::with_transport` over Tokio streams the caller connected,
//! adapted with `tokio_util::compat`. (The runtime-independent transport
//! cases are in the shared suite.)

use std::time::{Duration, Instant};

use kairoi_suite::support::later;
use kairoi_test_server::TestServer;
use kairoi_tokio::Client;
use tokio::io::DuplexStream;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::sleep;
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

/// An in-memory stream of `capacity` bytes each way, whose other end the
/// returned task copies to and from a TCP connection to `server`.
async fn bridged(server: &TestServer, capacity: usize) -> (Compat<DuplexStream>, JoinHandle<()>) {
    let (ours, mut theirs) = tokio::io::duplex(capacity);
    let mut tcp = TcpStream::connect(server.addr()).await.unwrap();
    let bridge = tokio::spawn(async move {
        let _ = tokio::io::copy_bidirectional(&mut theirs, &mut tcp).await;
    });
    (ours.compat(), bridge)
}

/// Waits (without blocking the runtime) until the server has no open
/// connection.
async fn until_no_connection_open(server: &TestServer) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.connections_open() > 0 {
        assert!(Instant::now() < deadline, "a connection stayed open");
        sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn works_over_a_small_in_memory_duplex() {
    let server = TestServer::start().unwrap();
    // 64 bytes each way: most writes and reads are partial.
    let (stream, _bridge) = bridged(&server, 64).await;
    let client = Client::with_transport(stream, Client::builder());
    let tasks: Vec<_> = (0..100)
        .map(|n| {
            let client = client.clone();
            let job = format!("a.{n}.{}", "x".repeat(n * 10));
            tokio::spawn(async move { client.set_job(job, later()).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(server.jobs().len(), 100);
    assert!(server.job(&format!("a.99.{}", "x".repeat(990))).is_some());
    client.close().await;
    // Closing the client ends its side of the duplex; the bridge passes
    // the end on to the server.
    until_no_connection_open(&server).await;
}

#[tokio::test]
async fn a_transport_cut_mid_request_ends_it_as_unknown() {
    let server = TestServer::start().unwrap();
    server.faults().set_delay(Duration::from_millis(300));
    let (stream, bridge) = bridged(&server, 4096).await;
    let client = Client::with_transport(stream, Client::builder());
    let tasks: Vec<_> = (0..5)
        .map(|n| {
            let client = client.clone();
            tokio::spawn(async move { client.set_job(format!("cut.{n}"), later()).await })
        })
        .collect();
    sleep(Duration::from_millis(50)).await;
    // The caller's transport goes away while every request waits for its
    // answer: the server may have applied them.
    bridge.abort();
    for task in tasks {
        let err = task.await.unwrap().unwrap_err();
        assert!(err.is_unknown(), "{err:?}");
    }
    assert_eq!(client.in_flight(), 0);
    let err = client.set_job("after", later()).await.unwrap_err();
    assert!(err.is_not_sent(), "{err:?}");
    assert_eq!(server.connections_accepted(), 1);
}
