//! What the proxy forwards, where, and how it answers: the blocking
//! client and raw connections through a proxy in front of three
//! `TestServer`s.

use std::time::{Duration, Instant};

use kairoi_proto::{DateTime, Instruction, Runner};
use kairoi_tokio::serve::ServeOptions;

use crate::fixture::{FUTURE, Fixture, NAMES, Raw, placed, wait_until};

fn later() -> DateTime {
    "2099-01-01 00:00:00".parse().unwrap()
}

/// A rule through the proxy is on all three servers; each job of a
/// pipelined batch is on its placed server and on no other.
#[test]
fn jobs_go_to_their_placed_server_only_and_rules_to_every_server() {
    let fixture = Fixture::three();
    let mut client = kairoi_std::Client::builder()
        .connections(2)
        .connect(fixture.addr)
        .expect("the blocking client connects to the proxy");
    client
        .set_rule("all", "p.", Runner::shell("/bin/true"))
        .expect("the rule is OK");
    let jobs: Vec<String> = (0..600).map(|n| format!("p.{n}")).collect();
    let batch: Vec<Instruction> = jobs
        .iter()
        .map(|j| Instruction::set(j.as_str(), later()))
        .collect();
    for (n, result) in client.execute_all(&batch).into_iter().enumerate() {
        assert!(result.is_ok(), "{}: {result:?}", jobs[n]);
    }
    for server in &fixture.servers {
        assert!(
            server
                .rules()
                .iter()
                .any(|r| r.id == "all" && r.pattern == "p.")
        );
    }
    let mut per_server = [0; 3];
    for job in &jobs {
        assert_eq!(fixture.holders(job), vec![placed(job)], "{job}");
        per_server[placed(job)] += 1;
    }
    assert!(per_server.iter().all(|&n| n > 100), "{per_server:?}");
    // A raw SET with quoting to undo goes to the job's own server.
    let mut raw = Raw::connect(fixture.addr);
    raw.send(format!("7 SET \"odd \\\"job\\\" id\" {FUTURE}\n"));
    assert_eq!(raw.line().as_deref(), Some("7 OK"));
    assert_eq!(
        fixture.holders("odd \"job\" id"),
        vec![placed("odd \"job\" id")]
    );
}

/// Two requests of one connection with one identifier are forwarded each
/// on its own and each answered with that identifier; the invalid one
/// first, at once.
#[test]
fn duplicate_identifiers_each_get_their_own_answer() {
    let fixture = Fixture::three();
    let mut raw = Raw::connect(fixture.addr);
    raw.send(format!(
        "0 SET dup.a {FUTURE}\n0 SET dup.b {FUTURE}\n0 SET\n"
    ));
    let lines = raw.lines(3);
    assert_eq!(lines[0], "0 ERROR", "{lines:?}");
    assert_eq!(&lines[1..], ["0 OK", "0 OK"], "{lines:?}");
    assert_eq!(fixture.holders("dup.a"), vec![placed("dup.a")]);
    assert_eq!(fixture.holders("dup.b"), vec![placed("dup.b")]);
    // Identifiers are written back as the reference server writes them.
    raw.send(format!("\"a b\" SET dup.c {FUTURE}\n"));
    assert_eq!(raw.line().as_deref(), Some("a b OK"));
}

/// A body no Kairoi server accepts is answered ERROR by the proxy, and
/// nothing reaches the servers; a date the core refuses is forwarded, and
/// the server decides.
#[test]
fn invalid_bodies_are_answered_locally_and_dates_decided_upstream() {
    let fixture = Fixture::three();
    let mut raw = Raw::connect(fixture.addr);
    raw.send(format!("w SET warm {FUTURE}\n"));
    assert_eq!(raw.line().as_deref(), Some("w OK"));
    let before = fixture.upstream_requests();
    raw.send(concat!(
        "1 NOPE x\n",
        "2 SET only-two\n",
        "3 RULE SET r p. SHELL x\n",
        "4 RULE SET r p. shell a b\n",
        "5 set a \"2099-01-01 00:00:00\"\n",
    ));
    let mut lines = raw.lines(5);
    lines.sort();
    assert_eq!(
        lines,
        ["1 ERROR", "2 ERROR", "3 ERROR", "4 ERROR", "5 ERROR"]
    );
    assert_eq!(fixture.upstream_requests(), before, "nothing was forwarded");
    // A lenient date: the TestServer refuses it (the reference server
    // would accept it), and it was asked.
    raw.send("6 SET lenient \"2099-5-6 2:6:8\"\n");
    assert_eq!(raw.line().as_deref(), Some("6 ERROR"));
    assert_eq!(fixture.upstream_requests(), before + 1);
    let stats = fixture.proxy().client().stats();
    assert_eq!(stats.requests.rejected, 1, "{stats:?}");
}

/// A malformed message: the ERRORs before it are written, the valid
/// requests before it applied but not answered, nothing after it read;
/// the connection closes, and no other connection, downstream or
/// upstream, notices.
#[test]
fn a_malformed_message_closes_only_its_connection() {
    let fixture = Fixture::three();
    let mut other = Raw::connect(fixture.addr);
    other.send(format!("0 SET m.other {FUTURE}\n"));
    assert_eq!(other.line().as_deref(), Some("0 OK"));
    let upstream = fixture.upstream_accepted();
    let mut raw = Raw::connect(fixture.addr);
    raw.send(format!(
        "0 SET m.before {FUTURE}\n1 SET\nX\n2 SET m.after {FUTURE}\n"
    ));
    assert_eq!(raw.rest(), ["1 ERROR"]);
    wait_until("m.before applied", || {
        fixture.holders("m.before") == [placed("m.before")]
    });
    other.send(format!("1 SET m.again {FUTURE}\n"));
    assert_eq!(other.line().as_deref(), Some("1 OK"));
    assert!(fixture.holders("m.after").is_empty());
    assert_eq!(
        fixture.upstream_accepted(),
        upstream,
        "no upstream connection was made again"
    );
    assert_eq!(fixture.proxy().counters().malformed(), 1);
    wait_until("the connection closed", || {
        fixture.proxy().counters().connections_open() == 1
    });
}

/// With one server down, only the jobs placed on it are answered ERROR,
/// once the request timeout has passed; the rule, sent to every server,
/// too; the others are OK.
#[test]
fn with_one_server_down_only_its_share_answers_error() {
    let fixture = Fixture::with(
        |b| b.request_timeout(Duration::from_millis(800)),
        ServeOptions::default(),
    );
    let down = 1;
    fixture.servers[down].take_down();
    let mut client = kairoi_std::Client::builder()
        .connections(2)
        .connect(fixture.addr)
        .expect("the blocking client connects to the proxy");
    let jobs: Vec<String> = (0..300).map(|n| format!("d.{n}")).collect();
    let mut batch = vec![Instruction::rule_set("d", "d.", Runner::shell("true"))];
    batch.extend(jobs.iter().map(|j| Instruction::set(j.as_str(), later())));
    let start = Instant::now();
    let results = client.execute_all(&batch);
    let took = start.elapsed();
    assert!(
        results[0].as_ref().is_err_and(|e| e.is_rejected()),
        "{:?}",
        results[0]
    );
    let mut failed = 0;
    for (job, result) in jobs.iter().zip(&results[1..]) {
        if placed(job) == down {
            assert!(
                result.as_ref().is_err_and(|e| e.is_rejected()),
                "{job}: {result:?}"
            );
            failed += 1;
        } else {
            assert!(result.is_ok(), "{job}: {result:?}");
            assert_eq!(fixture.holders(job), vec![placed(job)]);
        }
    }
    assert!(failed > 50, "{failed}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    let stats = fixture.proxy().client().stats();
    let server = &stats.servers[down];
    assert_eq!(server.name.as_deref(), Some(NAMES[down]));
    assert_eq!(server.requests.ok, 0, "{server:?}");
    assert!(server.requests.not_sent + server.requests.unknown + server.requests.timed_out > 0);
}
