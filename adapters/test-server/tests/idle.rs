//! An idle connection costs the server no wake-up: its thread blocks until
//! the client sends, a fault changes or the server stops. Alone in its
//! test binary, so that the threads of no other test are counted.
//!
//! `examples/idle_cpu.rs` measures the same with 2,000 connections, in CPU
//! time.

#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use kairoi_test_server::TestServer;

const CONNECTIONS: usize = 200;

/// Context switches of every thread of this process alive now, voluntary
/// or not.
fn context_switches() -> u64 {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    tasks
        .map(|task| task.expect("a task").path().join("status"))
        .filter_map(|status| std::fs::read_to_string(status).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

#[test]
fn idle_connections_cost_no_wake_ups() {
    let server = TestServer::start().unwrap();
    let mut conns: Vec<TcpStream> = (0..CONNECTIONS)
        .map(|_| TcpStream::connect(server.addr()).expect("connect"))
        .collect();
    assert!(server.wait_for_open_connections(CONNECTIONS, Duration::from_secs(30)));
    // One request on each: every connection has run its loop, answered,
    // and gone back to waiting for its client.
    for conn in &mut conns {
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn.write_all(b"0 SET job \"2099-01-01 00:00:00\"\n")
            .unwrap();
    }
    for conn in &mut conns {
        let mut answer = [0u8; 5];
        conn.read_exact(&mut answer).unwrap();
        assert_eq!(&answer, b"0 OK\n");
    }
    // A second of nothing: a connection that polled, even every 100 ms,
    // would wake 2,000 times in it; the server's timer wakes twice.
    let before = context_switches();
    std::thread::sleep(Duration::from_secs(1));
    let woken = context_switches() - before;
    assert!(
        woken < CONNECTIONS as u64 / 2,
        "{woken} context switches in 1 s with {CONNECTIONS} idle connections"
    );
}
