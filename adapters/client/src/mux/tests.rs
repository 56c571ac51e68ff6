//! The slot's rules without I/O: bytes and instants handed in by hand.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kairoi_proto::{DateTime, Instruction};

use super::{Mux, Payload, Reply, Submission};
use crate::{Backoff, Cause, Disconnected, RequestError, Settings};

type Results = Arc<Mutex<Vec<(u64, Result<(), RequestError>)>>>;

/// Records each result with its ticket.
struct Record(u64, Results);

impl Reply for Record {
    fn is_closed(&self) -> bool {
        false
    }

    fn deliver(self, result: Result<(), RequestError>, _: Payload) {
        self.1.lock().unwrap().push((self.0, result));
    }
}

const SECOND: Duration = Duration::from_secs(1);

fn settings(behaviour: Disconnected) -> Settings {
    let mut s = Settings::default().with_window(2);
    s.request_timeout = Some(10 * SECOND);
    s.backoff = Backoff::new(SECOND, SECOND);
    s.disconnected = behaviour;
    s
}

fn job(
    ticket: u64,
    at: Instant,
    deadline: Option<Instant>,
    results: &Results,
) -> Submission<Record> {
    let body = Instruction::set(format!("j{ticket}"), DateTime::UNIX_EPOCH);
    Submission {
        ticket,
        body: Payload::Typed(body),
        queued_at: at,
        deadline,
        reply: Record(ticket, results.clone()),
        span: tracing::Span::none(),
    }
}

fn refused() -> Cause {
    Cause::connect("127.0.0.1:1", std::io::ErrorKind::ConnectionRefused.into())
}

/// Writes all the slot has to send; gives the requests' identifiers.
fn write_all(mux: &mut Mux<Record>) -> Vec<String> {
    let mut ids = Vec::new();
    while let Some(bytes) = mux.poll_transmit() {
        let (n, text) = (bytes.len(), String::from_utf8_lossy(bytes).into_owned());
        let lines = text.lines().filter_map(|l| l.split(' ').next());
        ids.extend(lines.map(str::to_owned));
        mux.consume_transmit(n);
    }
    ids
}

fn taken(results: &Results) -> Vec<(u64, Result<(), RequestError>)> {
    std::mem::take(&mut *results.lock().unwrap())
}

#[test]
fn what_a_connection_had_not_written_goes_out_on_the_next() {
    let t0 = Instant::now();
    let results = Results::default();
    let mut mux = Mux::new(&settings(Disconnected::Wait), true);
    for ticket in 0..3 {
        mux.submit(job(ticket, t0, None, &results), t0);
    }
    assert!(mux.wants_connect(t0));
    mux.connecting();
    mux.connected(t0);
    // The window holds two: both written, the third waits for room.
    write_all(&mut mux);
    mux.receive_eof();
    mux.poll_events(t0);
    assert!(!mux.is_up());
    let ended = taken(&results);
    assert_eq!(ended.len(), 2, "{ended:?}");
    assert!(
        ended
            .iter()
            .all(|(_, r)| matches!(r, Err(e) if e.is_unknown()))
    );
    // The third was never written: it waits, and a new connection takes it.
    assert_eq!(mux.load(), 1);
    assert!(mux.wants_connect(t0));
    mux.connected(t0);
    let ids = write_all(&mut mux);
    assert_eq!(ids.len(), 1);
    mux.receive(t0, format!("{} OK\n", ids[0]).as_bytes());
    mux.poll_events(t0);
    assert!(matches!(taken(&results).as_slice(), [(2, Ok(()))]));
}

#[test]
fn a_request_waits_for_a_connection_until_its_deadline() {
    let t0 = Instant::now();
    let results = Results::default();
    let mut mux = Mux::new(&settings(Disconnected::Wait), true);
    mux.submit(job(0, t0, Some(t0 + 3 * SECOND), &results), t0);
    mux.connecting();
    mux.connect_failed(t0, refused());
    // Backing off: no attempt, but the request still waits.
    assert!(!mux.wants_connect(t0) && taken(&results).is_empty());
    // The backoff: half a second to a second, with jitter.
    let next = mux.next_deadline().unwrap();
    assert!(
        next >= t0 + SECOND / 2 && next <= t0 + SECOND,
        "{:?}",
        next - t0
    );
    mux.handle_timeout(next);
    assert!(mux.wants_connect(next));
    mux.connecting();
    mux.connect_failed(next, refused());
    mux.handle_timeout(t0 + 3 * SECOND);
    let ended = taken(&results);
    assert!(
        matches!(
            &ended[..],
            [(
                0,
                Err(RequestError::NotSent {
                    cause: Cause::Connect { .. }
                })
            )]
        ),
        "{ended:?}"
    );
}

#[test]
fn batch_requests_stop_waiting_once_the_server_is_unreachable() {
    let t0 = Instant::now();
    let results = Results::default();
    let mut mux = Mux::new(&settings(Disconnected::Wait), true);
    mux.submit(job(0, t0, None, &results), t0);
    let mut now = t0;
    while taken(&results).is_empty() {
        assert!(now < t0 + 20 * SECOND, "never gave up");
        if mux.wants_connect(now) {
            mux.connecting();
            mux.connect_failed(now, refused());
        }
        now = mux.next_deadline().expect("a wake-up while it waits");
        mux.handle_timeout(now);
    }
    // A request timeout (10 s) of failed attempts, one a second.
    assert!(
        now >= t0 + 10 * SECOND && now <= t0 + 11 * SECOND,
        "{:?}",
        now - t0
    );
}

#[test]
fn fail_fast_refuses_while_the_backoff_runs() {
    let t0 = Instant::now();
    let results = Results::default();
    let mut mux = Mux::new(&settings(Disconnected::FailFast), true);
    mux.submit(job(0, t0, None, &results), t0);
    mux.connecting();
    mux.connect_failed(t0, refused());
    assert!(matches!(taken(&results)[..], [(0, Err(ref e))] if e.is_not_sent()));
    mux.submit(job(1, t0, None, &results), t0);
    assert!(matches!(taken(&results)[..], [(1, Err(ref e))] if e.is_not_sent()));
    // Once the backoff ran out (at most a second), a request makes the
    // next attempt.
    mux.submit(job(2, t0, None, &results), t0 + SECOND);
    assert!(taken(&results).is_empty() && mux.wants_connect(t0 + SECOND));
}

#[test]
fn a_closing_slot_with_no_connection_ends_what_waits() {
    let t0 = Instant::now();
    let results = Results::default();
    let mut mux = Mux::new(&settings(Disconnected::Wait), true);
    mux.submit(job(0, t0, None, &results), t0);
    mux.handles_dropped(t0);
    mux.admit(t0);
    assert!(mux.is_closed());
    assert!(matches!(taken(&results)[..], [(0, Err(ref e))] if e.is_not_sent()));
    mux.submit(job(1, t0, None, &results), t0);
    assert!(matches!(taken(&results)[..], [(1, Err(ref e))] if e.is_not_sent()));
}

#[test]
fn the_counters_follow_the_queue_the_window_and_the_connection() {
    let t0 = Instant::now();
    let results = Results::default();
    let counters = Arc::new(crate::stats::ServerCounters::default());
    let mut mux = Mux::new(&settings(Disconnected::Wait), true).counting(counters.clone());
    for ticket in 0..3 {
        mux.submit(job(ticket, t0, None, &results), t0);
    }
    let s = counters.snapshot();
    assert_eq!((s.queued, s.in_window, s.connections_open), (3, 0, 0));
    mux.connecting();
    mux.connected(t0);
    let ids = write_all(&mut mux);
    let s = counters.snapshot();
    assert_eq!(
        (s.queued, s.in_window, s.connections_open, s.connects),
        (1, 2, 1, 1)
    );
    assert!(s.bytes_written > 0);
    mux.receive(t0, format!("{} OK\n", ids[0]).as_bytes());
    mux.poll_events(t0);
    let s = counters.snapshot();
    assert_eq!((s.queued, s.in_window), (1, 1));
    mux.admit(t0);
    let s = counters.snapshot();
    assert_eq!((s.queued, s.in_window), (0, 2), "the third took the room");
    assert_eq!(s.bytes_read, format!("{} OK\n", ids[0]).len() as u64);
    mux.fail(Cause::Unresponsive { waited: SECOND });
    mux.poll_events(t0);
    let s = counters.snapshot();
    // The third was admitted, not written: it waits for the next one.
    assert_eq!((s.queued, s.in_window, s.connections_open), (1, 0, 0));
    assert!(matches!(
        s.last_error.map(|e| e.cause),
        Some(Cause::Unresponsive { .. })
    ));
    drop(mux);
    let s = counters.snapshot();
    assert_eq!((s.queued, s.in_window, s.connections_open), (0, 0, 0));
}
