//! What a client says it did ([`Stats`]) against what its calls
//! returned, written once for every client (a [`BatchClient`]): through
//! the `TestServer`'s faults, the snapshot's counts equal the outcomes
//! the calls returned, kind by kind.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kairoi_client::stats::Stats;
use kairoi_client::{RetryPolicy, Tally};
use kairoi_proto::Instruction;
use kairoi_test_server::TestServer;

use crate::restart::{BatchClient, Options};
use crate::support::{batch, later};

/// A client whose snapshot can be read.
pub trait ObservedClient: BatchClient {
    /// Its `stats()`.
    fn stats(&self) -> Stats;
}

/// Waits until `done` holds for the client's snapshot (the drivers of
/// the async client publish their gauges after they answer).
fn eventually<C: ObservedClient>(client: &C, what: &str, done: impl Fn(&Stats) -> bool) -> Stats {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = client.stats();
        if done(&stats) {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "not within 10 s: {what}: {stats:#?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Checks the snapshot against the results returned so far.
fn agrees<C: ObservedClient>(client: &C, returned: &Tally, phase: &str) {
    let stats = client.stats();
    assert_eq!(
        stats.requests, *returned,
        "{phase}: the requests as callers saw them"
    );
    assert_eq!(stats.servers.len(), 1);
    assert_eq!(
        stats.servers[0].requests, *returned,
        "{phase}: the server's requests"
    );
    let idle = |s: &Stats| s.servers[0].queued == 0 && s.servers[0].in_window == 0;
    eventually(
        client,
        &format!("{phase}: nothing queued or in a window"),
        idle,
    );
}

/// Rejections, timeouts, a connection closed by the server, a request too
/// long to send and a server that is down, one after the other: after
/// each, the snapshot's counts equal the outcomes returned, kind by kind,
/// and nothing is left queued or in a window; connections, bytes and the
/// last connection error are counted.
pub fn the_snapshot_counts_what_the_calls_returned<C: ObservedClient>() {
    let server = TestServer::start().expect("a test server");
    let options = Options {
        window: 16,
        connections: 2,
        request_timeout: Duration::from_millis(300),
        retry: RetryPolicy::NONE,
    };
    let mut client = C::connect(server.addr(), options);
    let mut returned = Tally::default();
    let mut run = |client: &mut C, items: Vec<Instruction>| {
        client.execute_each(items.into_iter(), |_, r| returned.record(&r));
        returned
    };

    let t = run(&mut client, batch("ok", 200));
    assert_eq!(t.ok, 200);
    agrees(&client, &t, "all ok");

    server.faults().reject_every(3);
    let t = run(&mut client, batch("rejected", 90));
    assert!(t.rejected > 0, "{t:?}");
    agrees(&client, &t, "rejections");
    server.faults().clear();

    server.faults().set_delay(Duration::from_millis(600));
    let t = run(&mut client, batch("late", 20));
    assert!(t.timed_out + t.unknown > 0, "{t:?}");
    agrees(&client, &t, "timeouts");
    server.faults().clear();

    server.faults().set_close_after(Some(10));
    let t = run(&mut client, batch("closed", 60));
    agrees(&client, &t, "a connection closed by the server");
    server.faults().clear();

    let huge = Instruction::set("x".repeat(100_000), later());
    let t = run(&mut client, vec![huge]);
    assert_eq!(t.invalid, 1, "{t:?}");
    agrees(&client, &t, "a request too long to send");

    server.take_down();
    client.notice_disconnect();
    let single = client.execute(Instruction::set("down", later()));
    returned.record(&single);
    assert!(single.unwrap_err().is_not_sent());
    agrees(&client, &returned, "a server that is down");
    server.bring_up().expect("the same port bound again");

    let stats = client.stats().total();
    assert!(stats.connects >= 2, "{stats:#?}");
    assert!(stats.connect_failures >= 1, "{stats:#?}");
    assert!(
        stats.bytes_written > 0 && stats.bytes_read > 0,
        "{stats:#?}"
    );
    assert!(stats.last_error.is_some(), "{stats:#?}");
    assert_eq!(stats.resends, 0);
}

/// Over three servers, the snapshot has a line per server, named, whose
/// requests add up to the total, and a rule counts once in the total and
/// once on each server.
pub fn the_snapshot_of_several_servers_counts_each<C: ObservedClient>() {
    let servers = [(); 3].map(|_| TestServer::start().expect("a test server"));
    let names = ["a", "b", "c"];
    let named: Vec<(&str, SocketAddr)> = names
        .iter()
        .zip(&servers)
        .map(|(name, server)| (*name, server.addr()))
        .collect();
    let options = Options {
        window: 64,
        connections: 1,
        request_timeout: Duration::from_secs(10),
        retry: RetryPolicy::NONE,
    };
    let mut client = C::connect_servers(&named, options);
    let mut returned = Tally::default();
    client.execute_each(batch("s", 300).into_iter(), |_, r| returned.record(&r));
    let rule = Instruction::rule_set("r", "s.", kairoi_proto::Runner::shell("true"));
    returned.record(&client.execute(rule));
    let stats = client.stats();
    assert_eq!(stats.requests, returned);
    assert_eq!(returned.ok, 301);
    let per_server: Vec<u64> = stats.servers.iter().map(|s| s.requests.ok).collect();
    assert_eq!(per_server.iter().sum::<u64>(), 300 + 3, "{per_server:?}");
    for (n, s) in stats.servers.iter().enumerate() {
        assert_eq!(s.name.as_deref(), Some(names[n]));
        assert_eq!(s.requests.ok as usize, servers[n].job_count() + 1);
    }
}
