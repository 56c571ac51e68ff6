//! Many tasks on one client, shuffled responses, batches and the pool,
//! over loopback against the TestServer.

mod common;

use std::time::{Duration, Instant};

use common::{later, tally};
use kairoi_smol::{Client, Instruction, Runner};
use kairoi_std::testing::TestServer;

#[test]
fn the_client_and_its_futures_are_send_and_sync() {
    fn check<T: Clone + Send + Sync + 'static>(_: &T) {}
    fn check_future<F: std::future::Future + Send>(_: F) {}
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        let client = Client::connect(server.addr()).await.unwrap();
        check(&client);
        check_future(client.set_job("x", later()));
        check_future(client.execute_all(Vec::new()));
        check_future(client.close());
    })
}

#[test]
fn a_thousand_tasks_share_one_connection() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        let client = Client::connect(server.addr()).await.unwrap();
        let mut tasks = Vec::new();
        for n in 0..1000 {
            let client = client.clone();
            tasks.push(smol::spawn(async move {
                client.set_job(format!("app.job.{n}"), later()).await
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(server.jobs().len(), 1000);
        assert_eq!(server.connections_accepted(), 1);
        assert_eq!(client.in_flight(), 0);
    })
}

#[test]
fn shuffled_responses_reach_their_own_callers() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        server.faults().set_shuffle(true);
        // Requests for jobs named "bad.*" are rejected: each caller must get
        // its own answer however the responses are ordered.
        server.faults().reject_when(
            |i| matches!(i, Instruction::Set { job, .. } if job.as_str().starts_with("bad.")),
        );
        let client = Client::connect(server.addr()).await.unwrap();
        // Concurrent callers, each with its own future.
        let tasks: Vec<_> = (0..300)
            .map(|n| {
                let client = client.clone();
                let prefix = if n % 3 == 0 { "bad" } else { "good" };
                smol::spawn(async move { client.set_job(format!("{prefix}.t{n}"), later()).await })
            })
            .collect();
        for (n, task) in tasks.into_iter().enumerate() {
            let result = task.await;
            assert_eq!(result.is_err(), n % 3 == 0, "{n}: {result:?}");
        }
        // One batch.
        let instructions: Vec<Instruction> = (0..2000)
            .map(|n| {
                let prefix = if n % 3 == 0 { "bad" } else { "good" };
                Instruction::set(format!("{prefix}.{n}"), later())
            })
            .collect();
        let results = client.execute_all(instructions).await;
        assert_eq!(results.len(), 2000);
        for (n, result) in results.iter().enumerate() {
            if n % 3 == 0 {
                assert!(
                    result.as_ref().unwrap_err().is_rejected(),
                    "{n}: {result:?}"
                );
            } else {
                assert!(result.is_ok(), "{n}: {result:?}");
            }
        }
    })
}

#[test]
fn execute_all_keeps_input_order_through_a_small_window() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        server.faults().set_shuffle(true);
        server.faults().reject_every(7);
        let client = Client::builder()
            .window(16)
            .connect(server.addr())
            .await
            .unwrap();
        let results = client
            .execute_all((0..5000).map(|n| Instruction::set(format!("j{n}"), later())))
            .await;
        let [ok, rejected, ..] = tally(&results);
        assert_eq!(ok + rejected, 5000);
        assert!(
            rejected >= 700,
            "every seventh valid request is rejected: {rejected}"
        );
        // Each result belongs to its own instruction.
        for (n, result) in results.iter().enumerate() {
            assert_eq!(
                result.is_ok(),
                server.job(&format!("j{n}")).is_some(),
                "{n}: {result:?}"
            );
        }
    })
}

#[test]
fn typed_raw_and_rule_requests() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        let client = Client::connect(server.addr()).await.unwrap();
        client
            .set_rule("r", "app.", Runner::shell("run.sh"))
            .await
            .unwrap();
        assert_eq!(server.rules().len(), 1);
        client
            .set_job("app.\"quoted\" job\nwith a line feed", later())
            .await
            .unwrap();
        assert!(server.job("app.\"quoted\" job\nwith a line feed").is_some());
        client
            .execute(&Instruction::set("typed", later()))
            .await
            .unwrap();
        assert!(server.job("typed").is_some());
        let unknown = client.execute_arguments(["UNSET", "x"]).await;
        assert!(unknown.unwrap_err().is_rejected());
        let empty: [&str; 0] = [];
        let invalid = client.execute_arguments(empty).await.unwrap_err();
        assert!(
            invalid.is_invalid() && !invalid.is_safe_to_retry(),
            "{invalid:?}"
        );
    })
}

async fn time_batch(server: &TestServer, connections: usize) -> Duration {
    let client = Client::builder()
        .connections(connections)
        .connect(server.addr())
        .await
        .unwrap();
    let start = Instant::now();
    let results = client
        .execute_all((0..200).map(|n| Instruction::set(format!("p{connections}.{n}"), later())))
        .await;
    let took = start.elapsed();
    assert!(results.iter().all(Result::is_ok));
    client.close().await;
    took
}

#[test]
fn a_pool_of_four_beats_one_connection() {
    smol::block_on(async {
        let server = TestServer::start().unwrap();
        // Each connection handles its requests one at a time, like the
        // reference server's per-connection thread.
        server
            .faults()
            .set_per_request_cost(Duration::from_millis(2));
        let one = time_batch(&server, 1).await;
        let four = time_batch(&server, 4).await;
        assert!(
            four < one,
            "pool of 4 took {four:?}, one connection {one:?}"
        );
        assert_eq!(server.connections_accepted(), 5);
    })
}
