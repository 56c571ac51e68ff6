//! `Client::with_transport` over streams the caller connected.

mod common;

use std::time::Duration;

use common::{later, sleep, tally};
use kairoi_smol::{Client, Instruction};
use kairoi_std::testing::TestServer;
use smol::Async;
use smol::net::TcpStream;

fn batch(n: usize) -> Vec<Instruction> {
    (0..n)
        .map(|i| Instruction::set(format!("t.{i}"), later()))
        .collect()
}

#[test]
fn pipelines_over_a_caller_connected_stream() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        server.faults().set_shuffle(true);
        let stream = TcpStream::connect(server.addr()).await.unwrap();
        let client = Client::with_transport(stream, Client::builder().window(8));
        let results = client.execute_all(batch(500)).await;
        assert_eq!(tally(&results), [500, 0, 0, 0, 0]);
        assert_eq!(client.in_flight(), 0);
        client.close().await;
        assert!(server.wait_for_open_connections(0, Duration::from_secs(5)));
        let err = client.set_job("closed", later()).await.unwrap_err();
        assert!(err.is_not_sent(), "{err:?}");
    })
}

#[test]
fn works_over_an_async_std_stream() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        let stream = Async::<std::net::TcpStream>::connect(server.addr())
            .await
            .unwrap();
        let client = Client::with_transport(stream, Client::builder());
        let tasks: Vec<_> = (0..100)
            .map(|n| {
                let client = client.clone();
                smol::spawn(async move { client.set_job(format!("a.{n}"), later()).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(server.jobs().len(), 100);
    })
}

#[test]
fn a_transport_that_ends_is_not_replaced() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        server.faults().set_close_after(Some(1));
        let stream = TcpStream::connect(server.addr()).await.unwrap();
        let client = Client::with_transport(stream, Client::builder());
        client.set_job("one", later()).await.unwrap();
        sleep(Duration::from_millis(50)).await;
        server.faults().clear();
        for _ in 0..3 {
            let err = client.set_job("two", later()).await.unwrap_err();
            assert!(err.is_not_sent(), "{err:?}");
        }
        assert_eq!(server.connections_accepted(), 1);
        assert!(server.job("two").is_none());
    })
}
