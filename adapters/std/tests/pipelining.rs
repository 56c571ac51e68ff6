//! Large pipelined batches over loopback.

mod common;

use std::time::Duration;

use common::{at, tally};
use kairoi_std::{Client, Instruction, Runner};
use kairoi_test_server::TestServer;

#[test]
fn a_hundred_thousand_jobs_with_shuffled_responses() {
    let server = TestServer::start().unwrap();
    server.faults().set_shuffle(true);
    let mut client = Client::builder()
        .window(4096)
        .connect(server.addr())
        .unwrap();
    let when = at("2099-01-01 00:00:00");
    let mut batch: Vec<Instruction> = (0..100_000)
        .map(|n| Instruction::set(format!("bulk.{n}"), when))
        .collect();
    // Some invalid for this server: answered ERROR out of turn.
    batch[10] = Instruction::rule_set("r", "bulk.", Runner::shell("x"));
    server.faults().reject_when(
        |i| matches!(i, Instruction::Set { job, .. } if job.as_str().ends_with("999")),
    );
    let results = client.execute_all(&batch);
    let t = tally(&results, 100_000);
    assert_eq!(t.rejected, 100, "{t:?}");
    assert_eq!(t.ok, 99_900, "{t:?}");
    for (n, r) in results.iter().enumerate() {
        assert_eq!(r.is_ok(), n % 1000 != 999, "{n}");
    }
    assert_eq!(server.job_count(), 99_899);
    assert_eq!(server.rules().len(), 1);
    assert_eq!(server.connections_accepted(), 1);
    assert_eq!(server.requests_received(), 100_000);
}

#[test]
fn several_clients_at_once_on_one_server() {
    let server = TestServer::start().unwrap();
    server.faults().set_shuffle(true);
    let addr = server.addr();
    std::thread::scope(|s| {
        for c in 0..4 {
            s.spawn(move || {
                let mut client = Client::connect(addr).unwrap();
                let batch = common::jobs(&format!("c{c}."), 5000);
                assert_eq!(tally(&client.execute_all(&batch), 5000).ok, 5000);
            });
        }
    });
    assert_eq!(server.job_count(), 20_000);
    assert!(server.wait_for_open_connections(0, Duration::from_secs(5)));
}
