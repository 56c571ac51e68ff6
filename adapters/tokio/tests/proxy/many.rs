//! Many short-lived downstream connections, as the official PHP client
//! makes them (a connection per request, identifiers from 0 on each):
//! all answered, over the same few upstream connections.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::fixture::{FUTURE, Fixture, PATIENCE, placed, wait_until};

/// 10,000 connections, 200 at a time, each sending one job, reading its
/// answer and closing: every answer `OK`, every job on its server, and the
/// upstream connections are the two per server made at the start.
#[test]
fn ten_thousand_connections_share_the_upstream_pool() {
    const CONNECTIONS: usize = 10_000;
    const AT_ONCE: usize = 200;
    let fixture = Fixture::three();
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..AT_ONCE {
            scope.spawn(|| {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= CONNECTIONS {
                        return;
                    }
                    let mut stream = TcpStream::connect(fixture.addr).expect("connect");
                    stream.set_read_timeout(Some(PATIENCE)).expect("a timeout");
                    stream
                        .write_all(format!("0 SET php.{n} {FUTURE}\n").as_bytes())
                        .expect("write");
                    let mut answer = String::new();
                    BufReader::new(&stream)
                        .read_line(&mut answer)
                        .expect("read");
                    assert_eq!(answer, "0 OK\n", "connection {n}");
                }
            });
        }
    });
    let took = start.elapsed();
    println!(
        "proxy: {CONNECTIONS} connections of one request, {AT_ONCE} at a time, in {:.2} s",
        took.as_secs_f64()
    );
    let counters = fixture.proxy().counters();
    assert_eq!(counters.connections_accepted(), CONNECTIONS as u64);
    assert_eq!(counters.requests(), CONNECTIONS as u64);
    wait_until("every downstream connection closed", || {
        counters.connections_open() == 0 && counters.buffered_bytes() == 0
    });
    for server in &fixture.servers {
        assert_eq!(
            server.connections_accepted(),
            2,
            "no upstream connection made again"
        );
        assert_eq!(server.connections_open(), 2);
    }
    let stats = fixture.proxy().client().stats();
    assert_eq!(stats.requests.ok, CONNECTIONS as u64, "{stats:?}");
    for server in &stats.servers {
        assert_eq!(server.connects, 2, "{server:?}");
    }
    for n in (0..CONNECTIONS).step_by(7) {
        let job = format!("php.{n}");
        assert_eq!(fixture.holders(&job), vec![placed(&job)], "{job}");
    }
}
