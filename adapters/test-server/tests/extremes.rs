//! Extreme values for the TestServer's settings: nothing panics, nothing
//! hangs; and the TestServer bounds and closes what its connections hold.

mod common;

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Kcp, Raw, at};
use kairoi_proto::Runner;
use kairoi_test_server::{Clock, JobStatus, TestServer};

/// One test at a time: one counts the sockets of the whole process.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn the_server_takes_any_duration() {
    let _serial = serial();
    let start = at("2030-01-01 00:00:00");
    let server = TestServer::builder()
        .clock(Clock::Manual(start))
        .start()
        .unwrap();
    let mut client = Kcp::connect(server.addr());
    client.set_rule("r", "", Runner::shell("true")).unwrap();
    client.set_job("soon", at("2030-01-01 00:00:05")).unwrap();
    // Far past the end of representable time: the clock stops at the
    // latest time a job can have, and the job fires.
    server.advance(Duration::MAX);
    assert!(server.wait_for_status("soon", JobStatus::Executed, Duration::MAX));
    assert_eq!(server.now(), at("9999-12-31 23:59:59"));
    assert!(server.wait_for_execution("soon", Duration::MAX).is_some());
    assert!(server.wait_for_open_connections(1, Duration::MAX));
    // A delay or a cost that never ends: the request is never answered,
    // and nothing panics.
    for set in [
        |s: &TestServer| s.faults().set_delay(Duration::MAX),
        |s: &TestServer| s.faults().set_per_request_cost(Duration::MAX),
    ] {
        set(&server);
        let mut raw = Raw::connect(server.addr());
        raw.send(b"0 SET never \"2030-01-01 00:00:00\"\n");
        raw.0
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let (text, _) = raw.read_lines(1);
        assert_eq!(text, "");
        drop(raw);
        server.faults().clear();
    }
    drop(client);
    assert!(server.wait_for_open_connections(0, Duration::from_secs(10)));
}

/// The sockets of this process, counted in `/proc/self/fd`.
fn sockets() -> Option<usize> {
    let dir = std::fs::read_dir("/proc/self/fd").ok()?;
    let count = dir
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count();
    Some(count)
}

#[test]
fn an_ended_connection_closes_its_socket_at_once() {
    let _serial = serial();
    let server = TestServer::start().unwrap();
    let Some(before) = sockets() else {
        println!("sockets not counted here (no /proc/self/fd)");
        return;
    };
    for _ in 0..50 {
        let mut raw = Raw::connect(server.addr());
        raw.send(b"malformed\n");
        let (_, ended) = raw.read_lines(1);
        assert!(ended);
    }
    assert!(server.wait_for_open_connections(0, Duration::from_secs(10)));
    // The server holds no socket of the ended connections (nor do the
    // clients, which are dropped).
    let deadline = Instant::now() + Duration::from_secs(10);
    while sockets() > Some(before) {
        assert!(
            Instant::now() < deadline,
            "{:?} sockets, {before} before",
            sockets()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_peer_that_writes_to_an_ended_connection_is_reset() {
    let _serial = serial();
    let server = TestServer::start().unwrap();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.write_all(b"malformed\n").unwrap();
    assert!(server.wait_for_open_connections(0, Duration::from_secs(10)));
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let mut written = 0usize;
    let err = loop {
        match stream.write(&chunk) {
            Ok(n) => written += n,
            Err(e) => break e,
        }
        assert!(written < 64 << 20, "64 MiB accepted after the close");
    };
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        ),
        "{err:?} after {written} bytes"
    );
}

#[test]
fn a_client_that_never_reads_is_dropped() {
    let _serial = serial();
    let server = TestServer::start().unwrap();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    // Requests, never reading an answer, until the server stops reading:
    // nothing more is taken for a whole second (a write that times out
    // once may only mean a server slowed down by a loaded machine, whose
    // answers then all fit in the socket buffers). Or until the server
    // has already dropped the connection.
    let requests = b"0 SET a \"2030-01-01 00:00:00\"\n".repeat(1000);
    let start = Instant::now();
    let mut at = 0;
    let mut progress = Instant::now();
    while progress.elapsed() < Duration::from_secs(1) {
        match stream.write(&requests[at..]) {
            Ok(n) => {
                at = (at + n) % requests.len();
                progress = Instant::now();
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the server never stopped reading"
        );
    }
    assert!(server.wait_for_open_connections(0, TestServer::PEER_STALL * 4));
}
