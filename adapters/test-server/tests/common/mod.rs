//! Helpers shared by the integration tests: dates, raw connections, and a
//! blocking KCP client made of the core's client role and a socket.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use kairoi_proto::{Client, Config, DateTime, Event, Instruction, Outcome, Runner, Text};

/// How long a request of [`Kcp`] waits for its answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A date-time from its wire form.
pub fn at(s: &str) -> DateTime {
    s.parse().expect("a valid date-time")
}

/// A job `SET` for `n` jobs named `prefix{n}`, far in the future.
pub fn jobs(prefix: &str, n: usize) -> Vec<Instruction> {
    let when = at("2099-01-01 00:00:00");
    (0..n)
        .map(|i| Instruction::set(format!("{prefix}{i}"), when))
        .collect()
}

/// A raw connection for sending exact bytes.
pub struct Raw(pub TcpStream);

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Raw(s)
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.0.write_all(bytes).expect("write");
    }

    /// Reads until `lines` line feeds arrived, the stream ended or failed.
    /// Returns the bytes and whether the stream ended.
    pub fn read_lines(&mut self, lines: usize) -> (String, bool) {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while out.iter().filter(|&&b| b == b'\n').count() < lines {
            match self.0.read(&mut buf) {
                Ok(0) | Err(_) => return (String::from_utf8_lossy(&out).into(), true),
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        (String::from_utf8_lossy(&out).into(), false)
    }
}

/// A blocking KCP connection: the core's [`Client`] over a socket, each
/// request given [`REQUEST_TIMEOUT`]. `Err` holds any outcome but `Ok`.
pub struct Kcp {
    socket: TcpStream,
    core: Client,
}

impl Kcp {
    pub fn connect(addr: SocketAddr) -> Kcp {
        Kcp::with_config(addr, Config::default())
    }

    pub fn with_config(addr: SocketAddr, config: Config) -> Kcp {
        let socket = TcpStream::connect(addr).expect("connect");
        socket.set_nodelay(true).unwrap();
        socket.set_write_timeout(Some(REQUEST_TIMEOUT)).unwrap();
        Kcp {
            socket,
            core: Client::new(config),
        }
    }

    pub fn set_rule(
        &mut self,
        rule: impl Into<Text>,
        pattern: impl Into<Text>,
        runner: Runner,
    ) -> Result<(), Outcome> {
        self.execute(&Instruction::rule_set(rule, pattern, runner))
    }

    pub fn set_job(&mut self, job: impl Into<Text>, when: DateTime) -> Result<(), Outcome> {
        self.execute(&Instruction::set(job, when))
    }

    pub fn execute(&mut self, instruction: &Instruction) -> Result<(), Outcome> {
        match self.execute_all(std::slice::from_ref(instruction))[0] {
            Outcome::Ok => Ok(()),
            other => Err(other),
        }
    }

    /// Sends the batch pipelined and gives each outcome, in input order.
    pub fn execute_all(&mut self, batch: &[Instruction]) -> Vec<Outcome> {
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        let ids: Vec<_> = batch
            .iter()
            .map(|instruction| {
                let id = self.core.send(instruction).expect("the request is sent");
                self.core.set_deadline(id, deadline);
                id
            })
            .collect();
        let mut outcomes = HashMap::new();
        let mut buf = [0u8; 4096];
        loop {
            while let Some(event) = self.core.poll_event() {
                if let Event::Outcome { id, outcome } = event {
                    outcomes.insert(id, outcome);
                }
            }
            if outcomes.len() == ids.len() {
                break;
            }
            if let Some(bytes) = self.core.poll_transmit() {
                match self.socket.write(bytes) {
                    Ok(n) => self.core.consume_transmit(n),
                    Err(_) => self.core.abort(),
                }
                continue;
            }
            let wait = self.core.poll_timeout().map(|t| {
                t.saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1))
            });
            self.socket.set_read_timeout(wait).unwrap();
            match self.socket.read(&mut buf) {
                Ok(0) => self.core.receive_eof(),
                Ok(n) => self.core.receive(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    self.core.handle_timeout(Instant::now());
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => self.core.abort(),
            }
        }
        ids.iter().map(|id| outcomes[id]).collect()
    }
}
