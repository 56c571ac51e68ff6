//! The cases of a client over several servers, written once and run by
//! every client of the workspace: three `TestServer`s as one, jobs on
//! their placed server only, rules on all, and a server that stops.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kairoi_client::{RequestError, RetryPolicy, Tally};
use kairoi_proto::{Instruction, Runner, placement};
use kairoi_test_server::TestServer;

use crate::restart::{BatchClient, Options};
use crate::support::later;

/// The servers' names.
const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

fn options(request_timeout: Duration) -> Options {
    Options {
        window: 64,
        connections: 2,
        request_timeout,
        retry: RetryPolicy::NONE,
    }
}

/// Three servers, and their names with their addresses.
fn start_three() -> ([TestServer; 3], Vec<(&'static str, SocketAddr)>) {
    let servers = [(); 3].map(|_| TestServer::start().expect("a test server"));
    let named = NAMES
        .iter()
        .zip(&servers)
        .map(|(name, server)| (*name, server.addr()))
        .collect();
    (servers, named)
}

/// Three servers and a client over them.
fn three<C: BatchClient>(request_timeout: Duration) -> ([TestServer; 3], C) {
    let (servers, named) = start_three();
    let client = C::connect_servers(&named, options(request_timeout));
    (servers, client)
}

/// The position of the server a job goes to.
fn placed(job: &str) -> usize {
    placement::place(job.as_bytes(), &NAMES).expect("three servers")
}

fn rule(id: &str) -> Instruction {
    Instruction::rule_set(id, "shard.", Runner::shell("true"))
}

/// A batch of 3,000 jobs with a rule in the middle, then a single job
/// and a single rule: every job is on its placed server and on no other,
/// every rule on all three, and each server holds a fair share.
pub fn jobs_land_on_their_placed_server_and_rules_on_all<C: BatchClient>() {
    const N: usize = 3_000;
    let (servers, mut client) = three::<C>(Duration::from_secs(10));
    let items = (0..N).map(|i| match i {
        1_500 => rule("in-batch"),
        _ => Instruction::set(format!("shard.{i}"), later()),
    });
    let mut tally = Tally::default();
    client.execute_each(items, |_, r| tally.record(&r));
    assert_eq!(tally.ok, N as u64, "{tally:?}");
    client
        .execute(Instruction::set("shard.single", later()))
        .expect("a single job");
    client.execute(rule("single")).expect("a single rule");
    for (n, server) in servers.iter().enumerate() {
        let jobs: HashSet<String> = server.jobs().into_iter().map(|j| j.id).collect();
        for job in &jobs {
            assert_eq!(placed(job), n, "{job} on {}", NAMES[n]);
        }
        let share = jobs.len() as f64 / N as f64;
        assert!((0.2..0.47).contains(&share), "{}: {share}", NAMES[n]);
        let rules: HashSet<String> = server.rules().into_iter().map(|r| r.id).collect();
        assert!(
            rules.contains("in-batch") && rules.contains("single"),
            "{rules:?}"
        );
    }
    let total: usize = servers.iter().map(TestServer::job_count).sum();
    assert_eq!(total, N, "every job once");
    assert!(
        servers[placed("shard.single")]
            .job("shard.single")
            .is_some()
    );
}

/// One server stopped: exactly its jobs fail, naming it, and promptly
/// (within about one request timeout) while the others end `Ok`; a rule
/// ends with each server's result; once it is back, calls reach it.
pub fn a_stopped_server_fails_only_its_share_naming_it<C: BatchClient>() {
    const N: usize = 900;
    let timeout = Duration::from_secs(1);
    let (servers, mut client) = three::<C>(timeout);
    let down = 1;
    servers[down].take_down();
    client.notice_disconnect_of_one();
    let started = Instant::now();
    let items = (0..N).map(|i| Instruction::set(format!("shard.{i}"), later()));
    let mut results = vec![None; N];
    client.execute_each(items, |i, r| results[i] = Some(r));
    let took = started.elapsed();
    for (i, result) in results.iter().enumerate() {
        let job = format!("shard.{i}");
        match result.as_ref().expect("every job reported") {
            Ok(()) => assert_ne!(placed(&job), down, "{job} Ok on the stopped server"),
            Err(e) => {
                assert_eq!(placed(&job), down, "{job} failed: {e}");
                assert!(e.is_not_sent(), "{job}: {e}");
                assert_eq!(e.server(), Some(NAMES[down]), "{e}");
                assert!(e.to_string().starts_with("server beta: not sent"), "{e}");
            }
        }
    }
    println!(
        "{}: the batch took {took:?} with a {timeout:?} request timeout",
        C::name()
    );
    assert!(
        took < 3 * timeout,
        "took {took:?} with a {timeout:?} request timeout"
    );
    let e = client.execute(rule("partial")).unwrap_err();
    assert!(e.is_not_sent(), "{e}");
    let RequestError::Partial(parts) = &e else {
        panic!("not a partial result: {e:?}")
    };
    let parts: Vec<(&str, bool)> = parts.iter().map(|(n, r)| (n.as_ref(), r.is_ok())).collect();
    assert_eq!(parts, [("alpha", true), ("beta", false), ("gamma", true)]);
    servers[down].bring_up().expect("the same port bound again");
    let job = (0..)
        .map(|i| format!("back.{i}"))
        .find(|j| placed(j) == down)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match client.execute(Instruction::set(job.as_str(), later())) {
            Ok(()) => break,
            Err(e) => assert!(Instant::now() < deadline, "never reached again: {e}"),
        }
    }
    assert!(servers[down].job(&job).is_some());
    client
        .execute(rule("after"))
        .expect("a rule on every server");
    assert!(
        servers
            .iter()
            .all(|s| s.rules().iter().any(|r| r.id == "after"))
    );
}

/// A server that is down when the client starts: the client starts, its
/// jobs fail promptly naming it, the others' end `Ok`, and it is reached
/// once it is up. With every server down, connecting fails, naming each.
pub fn a_server_down_at_the_start_fails_only_its_share<C: BatchClient>() {
    const N: usize = 600;
    let timeout = Duration::from_secs(1);
    let (servers, named) = start_three();
    let down = 2;
    servers[down].take_down();
    let mut client = C::connect_servers(&named, options(timeout));
    let started = Instant::now();
    let mut failed = 0;
    let items = (0..N).map(|i| Instruction::set(format!("start.{i}"), later()));
    client.execute_each(items, |i, r| {
        let job = format!("start.{i}");
        match r {
            Ok(()) => assert_ne!(placed(&job), down),
            Err(e) => {
                assert_eq!((placed(&job), e.server()), (down, Some(NAMES[down])), "{e}");
                assert!(e.is_not_sent(), "{e}");
                failed += 1;
            }
        }
    });
    let took = started.elapsed();
    assert_eq!(
        failed,
        (0..N)
            .filter(|i| placed(&format!("start.{i}")) == down)
            .count()
    );
    assert!(
        took < 3 * timeout,
        "took {took:?} with a {timeout:?} request timeout"
    );
    servers[down].bring_up().expect("the same port bound again");
    let job = (0..)
        .map(|i| format!("up.{i}"))
        .find(|j| placed(j) == down)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(e) = client.execute(Instruction::set(job.as_str(), later())) {
        assert!(Instant::now() < deadline, "never reached: {e}");
    }
    assert!(servers[down].job(&job).is_some());
    for server in &servers {
        server.take_down();
    }
    let all_down = std::panic::catch_unwind(|| C::connect_servers(&named, options(timeout)));
    let message = match all_down {
        Ok(_) => panic!("connected with every server down"),
        Err(panic) => panic.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert!(
        message.contains("no server could be reached: alpha:"),
        "{message}"
    );
}
