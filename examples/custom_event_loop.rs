//! Several `Client` state machines, one per connection, driven by a
//! hand-written, non-blocking event loop over `mio`: no adapter crate.
//! This is the template for embedding KCP in your own loop.
//!
//! Run with `cargo run --example custom_event_loop`; it uses `KAIROI_ADDR`
//! when it is set, otherwise an embedded TestServer.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use kairoi_proto::{Client, Config, DateTime, Event, Instruction, Outcome};
use kairoi_test_server::Target;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

const CONNECTIONS: usize = 3;
const JOBS: usize = 3_000;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// One connection: a socket and the state machine that speaks KCP on it.
struct Connection {
    socket: TcpStream,
    client: Client,
    closed: bool,
}

impl Connection {
    /// Writes what the client has queued until the socket would block.
    fn flush(&mut self) -> io::Result<()> {
        while let Some(bytes) = self.client.poll_transmit() {
            match self.socket.write(bytes) {
                Ok(n) => self.client.consume_transmit(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    eprintln!("write failed: {e}");
                    self.client.abort();
                    break;
                }
            }
        }
        Ok(())
    }

    /// Reads everything available, until the socket would block.
    fn read(&mut self, buf: &mut [u8]) {
        loop {
            match self.socket.read(buf) {
                Ok(0) => return self.client.receive_eof(),
                Ok(n) => self.client.receive(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    eprintln!("read failed: {e}");
                    return self.client.abort();
                }
            }
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_env()?;
    println!("Using {target}.");
    let addr = target.addr();
    let mut poll = Poll::new()?;
    let mut connections = Vec::new();
    for i in 0..CONNECTIONS {
        let std_socket = std::net::TcpStream::connect(addr.as_str())?;
        std_socket.set_nodelay(true)?;
        std_socket.set_nonblocking(true)?;
        let mut socket = TcpStream::from_std(std_socket);
        poll.registry().register(
            &mut socket,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let config = Config::default().with_max_active(256);
        connections.push(Connection {
            socket,
            client: Client::new(config),
            closed: false,
        });
    }

    let when: DateTime = "2999-01-01 00:00:00".parse()?;
    let mut next_job = 0;
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut events = Events::with_capacity(64);
    let mut buf = vec![0u8; 16 * 1024];
    let start = Instant::now();

    while connections.iter().any(|c| !c.closed) {
        // 1. Queue requests while each connection's window has room; once
        //    every job is queued, close: Closed comes when all are answered.
        for c in connections.iter_mut().filter(|c| !c.closed) {
            while next_job < JOBS && c.client.can_send() {
                let job = Instruction::set(format!("loop.job.{next_job}"), when);
                let id = c.client.send(&job)?;
                c.client.set_deadline(id, Instant::now() + REQUEST_TIMEOUT);
                next_job += 1;
            }
            if next_job == JOBS {
                c.client.close();
            }
            // 2. Write what is queued.
            c.flush()?;
        }

        // 3. Sleep until a socket is ready or the earliest deadline.
        let now = Instant::now();
        let timeout = connections
            .iter_mut()
            .filter_map(|c| c.client.poll_timeout())
            .min()
            .map(|at| at.saturating_duration_since(now));
        poll.poll(&mut events, timeout)?;

        // 4. Read what arrived.
        for event in events.iter() {
            let c = &mut connections[event.token().0];
            if event.is_readable() || event.is_read_closed() {
                c.read(&mut buf);
            }
        }

        // 5. Expire deadlines, then take every event.
        let now = Instant::now();
        for c in connections.iter_mut().filter(|c| !c.closed) {
            c.client.handle_timeout(now);
            while let Some(event) = c.client.poll_event() {
                match event {
                    Event::Outcome { outcome, .. } => {
                        *outcomes.entry(format!("{outcome:?}")).or_default() += 1;
                    }
                    Event::Closed { error } => {
                        if let Some(error) = error {
                            eprintln!("connection closed: {error}");
                        }
                        c.closed = true;
                    }
                    _ => {}
                }
            }
        }
    }

    let total: usize = outcomes.values().sum();
    println!(
        "{total} requests over {CONNECTIONS} connections in {:.2} s: {outcomes:?}",
        start.elapsed().as_secs_f64()
    );
    let ok = outcomes
        .get(&format!("{:?}", Outcome::Ok))
        .copied()
        .unwrap_or(0);
    if total != JOBS || ok != JOBS {
        return Err(format!("expected {JOBS} OK outcomes").into());
    }
    Ok(())
}
