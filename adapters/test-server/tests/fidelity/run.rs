//! Runs a scenario against one server and writes down what a client
//! observed.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use crate::script::{self, Scenario, Step};
use crate::transcript::{Class, JobLine, Observed, RuleLine, Transcript};

/// The rule the harness sets to find the scheduler's ticks; it is left out
/// of the state.
pub const PROBE_RULE: &str = "fidelity.probe";
const PROBE: &[u8] = b"probe RULE SET fidelity.probe fidelity.probe. shell /bin/true\n";
const PROBE_OK: &[u8] = b"probe OK\n";
/// The pause between the pieces of a [`Step::Pieces`].
const PIECE_GAP: Duration = Duration::from_millis(20);

/// A server under test.
pub trait Server {
    fn addr(&self) -> SocketAddr;
    /// Where the probe finds the scheduler's ticks: the server itself,
    /// also when the scenario reaches it through a proxy.
    fn probe_addr(&self) -> SocketAddr {
        self.addr()
    }
    /// The jobs and rules it holds now.
    fn state(&self) -> (Vec<JobLine>, Vec<RuleLine>);
}

/// Why a run gave no transcript.
#[derive(Debug)]
pub enum Failed {
    /// The harness could not start a step right after a tick (a loaded
    /// machine): the run says nothing, and is repeated.
    Unsynchronised(String),
}

/// What a connection's reader thread reports.
enum Event {
    Bytes(Vec<u8>),
    End(String),
}

struct Conn {
    stream: TcpStream,
    events: Receiver<(Instant, Event)>,
    observed: Observed,
    ended: bool,
}

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).expect("connect");
        let _ = stream.set_nodelay(true);
        let reader = stream.try_clone().expect("clone the stream");
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || read_all(reader, &tx));
        Conn {
            stream,
            events,
            observed: Observed::default(),
            ended: false,
        }
    }

    /// Takes what arrived, each piece classed by how long after `since`.
    fn collect(&mut self, since: Instant, tick: Duration) {
        while let Ok((at, event)) = self.events.try_recv() {
            let class = if at.saturating_duration_since(since) < tick / 2 {
                Class::Now
            } else {
                Class::Tick
            };
            match event {
                Event::Bytes(bytes) => {
                    self.observed.partial.extend_from_slice(&bytes);
                    while let Some(lf) = self.observed.partial.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = self.observed.partial.drain(..=lf).collect();
                        self.observed.lines.push((class, line[..lf].to_vec()));
                    }
                }
                Event::End(how) => {
                    self.observed.end = Some((class, how));
                    self.ended = true;
                }
            }
        }
    }
}

fn read_all(mut stream: TcpStream, tx: &Sender<(Instant, Event)>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let event = match stream.read(&mut buf) {
            Ok(0) => Event::End("closed".into()),
            Ok(n) => Event::Bytes(buf[..n].to_vec()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Event::End("reset".into()),
            Err(e) => Event::End(format!("error {:?}", e.kind())),
        };
        let end = matches!(event, Event::End(_));
        if tx.send((Instant::now(), event)).is_err() || end {
            return;
        }
    }
}

/// The connection the harness finds ticks with.
struct Probe {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Probe {
    fn open(addr: SocketAddr) -> Probe {
        let stream = TcpStream::connect(addr).expect("connect the probe");
        let _ = stream.set_nodelay(true);
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("a read timeout");
        Probe {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends a request the scheduler answers at its next tick; returns
    /// when the answer arrived, right after a tick.
    fn tick(&mut self) -> Instant {
        self.stream.write_all(PROBE).expect("write the probe");
        let mut chunk = [0u8; 256];
        loop {
            if let Some(at) = self.buf.windows(PROBE_OK.len()).position(|w| w == PROBE_OK) {
                self.buf.drain(..at + PROBE_OK.len());
                return Instant::now();
            }
            let n = match self.stream.read(&mut chunk) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                read => read.expect("the probe's answer"),
            };
            assert!(n > 0, "the server closed the probe connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Runs `scenario` against `server`, whose scheduler ticks every `tick`,
/// with its runner scripts in `dir`.
pub fn run(
    scenario: &Scenario,
    server: &dyn Server,
    tick: Duration,
    dir: &Path,
) -> Result<String, Failed> {
    let addr = server.addr();
    let mut probe = Probe::open(server.probe_addr());
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut transcript = Transcript::default();
    // A step must start this soon after a tick for its classes to hold.
    let slack = tick / 5;
    for (n, step) in scenario.steps.iter().enumerate() {
        let n = n + 1;
        transcript.step(n, &step.describe());
        let start = match step {
            Step::Runs(count) => {
                let deadline = Instant::now() + Duration::from_secs(30);
                while script::runs(dir).len() < *count {
                    assert!(Instant::now() < deadline, "{count} runs not seen in 30 s");
                    std::thread::sleep(Duration::from_millis(10));
                }
                // Two ticks: the server has seen the commands end.
                probe.tick();
                probe.tick()
            }
            Step::Writes {
                writes,
                apart,
                close,
            } => {
                for (conn, _) in writes {
                    open(&mut conns, *conn, addr);
                }
                let ticked = probe.tick();
                for (i, (conn, bytes)) in writes.iter().enumerate() {
                    if *apart && i > 0 {
                        std::thread::sleep(PIECE_GAP);
                    }
                    let c = open(&mut conns, *conn, addr);
                    let mut wrote = c.stream.write_all(&script::expand(bytes, dir));
                    if *close && i + 1 == writes.len() && wrote.is_ok() {
                        wrote = c.stream.shutdown(Shutdown::Write);
                    }
                    if let Err(e) = wrote {
                        transcript.step(n, &format!("conn {conn}: write failed: {:?}", e.kind()));
                    }
                }
                let written = Instant::now();
                let gaps = if *apart {
                    writes.len().saturating_sub(1)
                } else {
                    0
                };
                if written - ticked > slack + PIECE_GAP * gaps as u32 {
                    return Err(Failed::Unsynchronised(format!("step {n}")));
                }
                written
            }
        };
        // Two ticks: every answer of the step is in.
        std::thread::sleep((start + tick * 2).saturating_duration_since(Instant::now()));
        for (i, conn) in conns.iter_mut().enumerate() {
            let Some(conn) = conn else { continue };
            conn.collect(start, tick);
            transcript.observed(i, &conn.observed);
            conn.observed = Observed::default();
        }
    }
    let (jobs, rules) = server.state();
    transcript.state(
        &jobs,
        &rules,
        &script::runs(dir),
        &dir.display().to_string(),
    );
    Ok(transcript.text().to_owned())
}

/// Connection `i`, opened on first use.
fn open(conns: &mut Vec<Option<Conn>>, i: usize, addr: SocketAddr) -> &mut Conn {
    if conns.len() <= i {
        conns.resize_with(i + 1, || None);
    }
    conns[i].get_or_insert_with(|| Conn::open(addr))
}
