//! Restarts: a server taken down closes its connections and refuses new
//! ones, and comes back up on the same port with everything it held.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::{Kcp, at};
use kairoi_proto::{Outcome, Runner};
use kairoi_test_server::{Clock, JobStatus, ShellRunners, TestServer};

/// How long any wait of these tests may last before it fails.
const PATIENCE: Duration = Duration::from_secs(10);

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Writes `request` and reads its one-line answer.
fn request(stream: &mut TcpStream, request: &[u8]) -> String {
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\n") {
        match stream.read(&mut byte) {
            Ok(1) => answer.push(byte[0]),
            other => panic!("no answer to {request:?}: {other:?}"),
        }
    }
    String::from_utf8(answer).unwrap()
}

/// Checks that the server closed `stream` without writing anything more.
fn assert_closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("the connection is still open: {other:?}"),
    }
}

fn assert_refused(addr: SocketAddr) {
    match TcpStream::connect(addr) {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}"),
        Ok(_) => panic!("a connect to {addr} succeeded while the server is down"),
    }
}

#[test]
fn a_server_taken_down_closes_its_connections_refuses_connects_and_comes_back_on_its_port() {
    let server = TestServer::start().unwrap();
    let addr = server.addr();
    let mut raw = connect(addr);
    assert_eq!(
        request(&mut raw, b"1 SET job \"2030-01-01 00:00:00\"\n"),
        "1 OK\n"
    );
    let mut client = Kcp::connect(addr);
    client.set_job("other", at("2030-01-01 00:00:00")).unwrap();
    assert!(server.is_up());
    assert_eq!(server.connections_open(), 2);

    server.take_down();
    assert!(!server.is_up());
    assert_closed(&mut raw);
    assert_refused(addr);
    assert_eq!(server.connections_open(), 0);
    let lost = client
        .set_job("lost", at("2030-01-01 00:00:00"))
        .unwrap_err();
    assert!(
        matches!(lost, Outcome::NotSent | Outcome::Unknown),
        "{lost:?}"
    );

    server.bring_up().unwrap();
    assert!(server.is_up());
    assert_eq!(server.addr(), addr);
    let mut raw = connect(addr);
    assert_eq!(
        request(&mut raw, b"2 SET again \"2030-01-01 00:00:00\"\n"),
        "2 OK\n"
    );
    let ids: Vec<String> = server.jobs().into_iter().map(|j| j.id).collect();
    assert_eq!(ids, ["again", "job", "other"]);
    assert_eq!(
        server.job("job").unwrap().execution,
        at("2030-01-01 00:00:00")
    );
    assert_eq!(server.connections_accepted(), 3);
    assert_eq!(server.requests_received(), 3);
}

#[test]
fn requests_waiting_for_their_answer_are_never_answered() {
    let server = TestServer::start().unwrap();
    // Applied at the next tick, answered never.
    server.faults().set_delay(Duration::MAX);
    let mut raw = connect(server.addr());
    raw.write_all(b"1 SET waiting \"2030-01-01 00:00:00\"\n")
        .unwrap();
    assert!(server.wait_for_status("waiting", JobStatus::Planned, PATIENCE));
    server.take_down();
    assert_closed(&mut raw);
    server.bring_up().unwrap();
    server.faults().clear();
    assert_eq!(
        request(
            &mut connect(server.addr()),
            b"2 SET next \"2030-01-01 00:00:00\"\n"
        ),
        "2 OK\n"
    );
}

#[test]
fn jobs_due_while_the_server_is_down_fire_when_it_comes_back() {
    let server = TestServer::builder()
        .clock(Clock::Manual(at("2030-01-01 00:00:00")))
        .start()
        .unwrap();
    let mut client = Kcp::connect(server.addr());
    client.set_rule("r", "", Runner::shell("x")).unwrap();
    client.set_job("soon", at("2030-01-01 00:00:10")).unwrap();

    server.take_down();
    server.advance(Duration::from_secs(60));
    assert_eq!(
        server.now(),
        at("2030-01-01 00:01:00"),
        "the clock moves on"
    );
    assert!(server.executions().is_empty(), "nothing fires while down");
    assert_eq!(server.job("soon").unwrap().status, JobStatus::Planned);

    server.bring_up().unwrap();
    // Fired before bring_up returned.
    let log = server.executions();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].job.as_str(), log[0].fired_at),
        ("soon", at("2030-01-01 00:01:00"))
    );
}

#[test]
fn the_real_clock_fires_nothing_while_down_and_catches_up_after() {
    let server = TestServer::start().unwrap();
    let mut client = Kcp::connect(server.addr());
    client.set_rule("r", "", Runner::shell("x")).unwrap();
    client.set_job("later", at("2100-01-01 00:00:00")).unwrap();
    server.take_down();
    server.set_now(at("2100-01-01 00:00:00"));
    // The timer runs on: give it time to fire, which it must not.
    assert!(
        server
            .wait_for_execution("later", Duration::from_millis(300))
            .is_none()
    );
    server.bring_up().unwrap();
    assert!(server.wait_for_execution("later", PATIENCE).is_some());
}

#[test]
fn shell_runners_run_before_and_after_a_restart() {
    let server = TestServer::builder()
        .shell_runners(ShellRunners::RunCheckingStatus)
        .start()
        .unwrap();
    let past = at("2000-01-01 00:00:00");
    let mut client = Kcp::connect(server.addr());
    // `sh /dev/null JOB` runs an empty script: exit status 0.
    client
        .set_rule("r", "", Runner::shell("/dev/null"))
        .unwrap();
    client.set_job("before", past).unwrap();
    assert!(server.wait_for_status("before", JobStatus::Executed, PATIENCE));

    server.restart(Duration::from_millis(20)).unwrap();
    let mut client = Kcp::connect(server.addr());
    client.set_job("after", past).unwrap();
    assert!(server.wait_for_status("after", JobStatus::Executed, PATIENCE));
    let runs = server.wait_for_shell_runs(2, PATIENCE);
    let jobs: Vec<&str> = runs.iter().map(|r| r.job.as_str()).collect();
    assert_eq!(jobs, ["before", "after"]);
}

#[test]
fn taking_down_or_bringing_up_twice_changes_nothing() {
    let server = TestServer::start().unwrap();
    server.bring_up().unwrap();
    assert!(server.is_up());
    server.take_down();
    server.take_down();
    assert!(!server.is_up());
    assert_refused(server.addr());
    server.bring_up().unwrap();
    server.bring_up().unwrap();
    assert!(server.is_up());
    drop(connect(server.addr()));
}

#[test]
fn bring_up_fails_while_another_socket_holds_the_port_and_the_server_stays_down() {
    let server = TestServer::start().unwrap();
    let addr = server.addr();
    server.take_down();
    let squatter = TcpListener::bind(addr).unwrap();
    let start = Instant::now();
    let err = server.bring_up().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
    assert!(start.elapsed() >= Duration::from_secs(1), "it tried again");
    assert!(!server.is_up());
    drop(squatter);
    server.bring_up().unwrap();
    assert!(server.is_up());
}

#[test]
fn a_server_shuts_down_or_drops_up_or_down() {
    for shut_down in [false, true] {
        let server = TestServer::builder()
            .shell_runners(ShellRunners::Run)
            .start()
            .unwrap();
        let mut raw = connect(server.addr());
        server.take_down();
        assert_closed(&mut raw);
        let start = Instant::now();
        if shut_down {
            server.shutdown();
        } else {
            drop(server);
        }
        assert!(start.elapsed() < PATIENCE);
    }
    let server = TestServer::start().unwrap();
    server.take_down();
    server.bring_up().unwrap();
    let mut raw = connect(server.addr());
    assert_eq!(
        request(&mut raw, b"1 SET job \"2030-01-01 00:00:00\"\n"),
        "1 OK\n"
    );
    server.shutdown();
    assert_closed(&mut raw);
}
