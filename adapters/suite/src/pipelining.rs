//! Many tasks on one client, shuffled responses, batches and the pool.

use std::time::{Duration, Instant};

use kairoi_client::{Client, Runtime};
use kairoi_proto::{Instruction, Runner};
use kairoi_test_server::TestServer;

use crate::support::{later, spawn, tally};

/// The client is shared across threads and its futures are `Send`.
pub async fn the_client_and_its_futures_are_send_and_sync<R: Runtime + Default>() {
    fn check<T: Clone + Send + Sync + 'static>(_: &T) {}
    fn check_future<F: std::future::Future + Send>(_: F) {}
    let server = TestServer::start().unwrap();
    let client = Client::<R>::connect(server.addr()).await.unwrap();
    check(&client);
    check_future(client.set_job("x", later()));
    check_future(client.execute(&Instruction::set("x", later())));
    check_future(client.execute_arguments(["UNSET", "x"]));
    check_future(client.execute_all(Vec::<Instruction>::new()));
    check_future(client.execute_each(Vec::<Instruction>::new(), |_, _| {}));
    check_future(client.close());
}

/// A thousand concurrent callers pipeline over one connection.
pub async fn a_thousand_tasks_share_one_connection<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    let client = Client::<R>::connect(server.addr()).await.unwrap();
    let tasks: Vec<_> = (0..1000)
        .map(|n| {
            let client = client.clone();
            spawn::<R, _>(async move { client.set_job(format!("app.job.{n}"), later()).await })
        })
        .collect();
    for task in tasks {
        task.join().await.unwrap();
    }
    assert_eq!(server.jobs().len(), 1000);
    assert_eq!(server.connections_accepted(), 1);
    assert_eq!(client.in_flight(), 0);
}

/// However the answers are ordered, each caller gets its own.
pub async fn shuffled_responses_reach_their_own_callers<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    server.faults().set_shuffle(true);
    server.faults().reject_when(
        |i| matches!(i, Instruction::Set { job, .. } if job.as_str().starts_with("bad.")),
    );
    let client = Client::<R>::connect(server.addr()).await.unwrap();
    let tasks: Vec<_> = (0..300)
        .map(|n| {
            let client = client.clone();
            let prefix = if n % 3 == 0 { "bad" } else { "good" };
            spawn::<R, _>(async move { client.set_job(format!("{prefix}.t{n}"), later()).await })
        })
        .collect();
    for (n, task) in tasks.into_iter().enumerate() {
        let result = task.join().await;
        assert_eq!(result.is_err(), n % 3 == 0, "{n}: {result:?}");
    }
    let instructions: Vec<Instruction> = (0..2000)
        .map(|n| {
            let prefix = if n % 3 == 0 { "bad" } else { "good" };
            Instruction::set(format!("{prefix}.{n}"), later())
        })
        .collect();
    let results = client.execute_all(&instructions).await;
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
}

/// A batch far larger than the window keeps input order.
pub async fn execute_all_keeps_input_order_through_a_small_window<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    server.faults().set_shuffle(true);
    server.faults().reject_every(7);
    let client = Client::<R>::builder()
        .window(16)
        .connect(server.addr())
        .await
        .unwrap();
    let results = client
        .execute_all((0..5000).map(|n| Instruction::set(format!("j{n}"), later())))
        .await;
    let t = tally(&results);
    assert_eq!(t.ok + t.rejected, 5000);
    assert!(
        t.rejected >= 700,
        "every seventh valid request is rejected: {t:?}"
    );
    for (n, result) in results.iter().enumerate() {
        assert_eq!(
            result.is_ok(),
            server.job(&format!("j{n}")).is_some(),
            "{n}: {result:?}"
        );
    }
}

/// The streaming call reports every position once, holding at most a
/// window per connection of the batch at a time.
pub async fn execute_each_reports_each_position_once<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    server.faults().set_shuffle(true);
    let client = Client::<R>::builder()
        .window(8)
        .connections(2)
        .connect(server.addr())
        .await
        .unwrap();
    let taken = std::sync::atomic::AtomicUsize::new(0);
    let mut seen = vec![0u8; 3000];
    let mut most_held = 0;
    let reported = std::cell::Cell::new(0usize);
    let items = (0..3000).map(|n| {
        let held = n - reported.get();
        taken.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (held, Instruction::set(format!("each.{n}"), later()))
    });
    let items = items.map(|(held, i)| {
        most_held = most_held.max(held);
        i
    });
    client
        .execute_each(items, |n, r| {
            assert!(r.is_ok(), "{n}: {r:?}");
            seen[n] += 1;
            reported.set(reported.get() + 1);
        })
        .await;
    assert!(seen.iter().all(|&c| c == 1));
    assert_eq!(taken.into_inner(), 3000);
    assert!(most_held <= 16, "held {most_held} requests at once");
    assert_eq!(server.job_count(), 3000);
}

/// Typed, raw and rule requests, and a body that cannot be sent.
pub async fn typed_raw_and_rule_requests<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    let client = Client::<R>::connect(server.addr()).await.unwrap();
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
}

async fn time_batch<R: Runtime + Default>(server: &TestServer, connections: usize) -> Duration {
    let client = Client::<R>::builder()
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

/// Against a server that serves each connection one request at a time, a
/// pool of four finishes a batch sooner than one connection.
pub async fn a_pool_of_four_beats_one_connection<R: Runtime + Default>() {
    let server = TestServer::start().unwrap();
    server
        .faults()
        .set_per_request_cost(Duration::from_millis(2));
    let one = time_batch::<R>(&server, 1).await;
    let four = time_batch::<R>(&server, 4).await;
    assert!(
        four < one,
        "pool of 4 took {four:?}, one connection {one:?}"
    );
    assert_eq!(server.connections_accepted(), 5);
}
