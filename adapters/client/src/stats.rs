//! What a client has done: the live counters its connections and calls
//! keep ([`Counters`], one [`ServerCounters`] per server), and the
//! snapshot read from them ([`Stats`]).
//!
//! The counters are plain atomics, kept by the engine itself: a request
//! adds a few relaxed increments, and a snapshot reads them without
//! stopping anything, also while a batch runs. Requests are counted as
//! their callers see them: one outcome per request, whatever resends
//! happened inside; resends and reconnects are counted apart.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use crate::shard::Shards;
use crate::{Cause, OutcomeKind, Tally};

/// Counts by outcome, as atomics, in the order of [`OutcomeKind::ALL`].
#[derive(Debug, Default)]
struct Outcomes([AtomicU64; 6]);

impl Outcomes {
    fn add(&self, kind: OutcomeKind) {
        let at = OutcomeKind::ALL
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(4);
        self.0[at].fetch_add(1, Ordering::Relaxed);
    }

    fn tally(&self) -> Tally {
        let mut tally = Tally::default();
        for (kind, count) in OutcomeKind::ALL.into_iter().zip(&self.0) {
            let n = count.load(Ordering::Relaxed);
            match kind {
                OutcomeKind::Ok => tally.ok = n,
                OutcomeKind::Rejected => tally.rejected = n,
                OutcomeKind::TimedOut => tally.timed_out = n,
                OutcomeKind::NotSent => tally.not_sent = n,
                OutcomeKind::Unknown => tally.unknown = n,
                _ => tally.invalid = n,
            }
        }
        tally
    }
}

/// The live counters of one server of a client, shared by its
/// connections (each a [`Mux`](crate::mux::Mux)) and by the calls that
/// feed them.
#[derive(Debug, Default)]
pub struct ServerCounters {
    name: Option<Arc<str>>,
    outcomes: Outcomes,
    resends: AtomicU64,
    queued: AtomicU64,
    in_window: AtomicU64,
    open: AtomicU64,
    connects: AtomicU64,
    connect_failures: AtomicU64,
    bytes_written: AtomicU64,
    bytes_read: AtomicU64,
    last_error: Mutex<Option<LastError>>,
}

impl ServerCounters {
    /// Counters of a server, with its name when the client has several.
    pub fn new(name: Option<Arc<str>>) -> Self {
        ServerCounters {
            name,
            ..ServerCounters::default()
        }
    }

    /// The server's name, when the client has several.
    pub fn name(&self) -> Option<&Arc<str>> {
        self.name.as_ref()
    }

    /// A request (or a rule's part on this server) ended, as its caller
    /// sees it.
    pub(crate) fn ended(&self, kind: OutcomeKind) {
        self.outcomes.add(kind);
    }

    /// A request is sent again by the retry policy.
    pub(crate) fn resent(&self) {
        self.resends.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection's queued and in-window requests went from `old` to
    /// `new`.
    pub(crate) fn load(&self, old: (usize, usize), new: (usize, usize)) {
        shift(&self.queued, old.0, new.0);
        shift(&self.in_window, old.1, new.1);
    }

    /// A connection was made.
    pub(crate) fn connected(&self) {
        self.connects.fetch_add(1, Ordering::Relaxed);
        self.open.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection attempt failed with `cause`.
    pub(crate) fn connect_failed(&self, cause: &Cause) {
        self.connect_failures.fetch_add(1, Ordering::Relaxed);
        self.error(cause);
    }

    /// A connection ended with `cause` (`Cause::Closed` for a clean end).
    pub(crate) fn connection_ended(&self, cause: &Cause) {
        self.open.fetch_sub(1, Ordering::Relaxed);
        if !matches!(cause, Cause::Closed) {
            self.error(cause);
        }
    }

    fn error(&self, cause: &Cause) {
        let mut last = self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *last = Some(LastError {
            cause: cause.clone(),
            at: SystemTime::now(),
        });
    }

    /// `n` bytes were written.
    pub(crate) fn wrote(&self, n: usize) {
        self.bytes_written.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// `n` bytes were read.
    pub(crate) fn read(&self, n: usize) {
        self.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Connections up now.
    pub fn open_connections(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    /// What the counters say now.
    pub fn snapshot(&self) -> ServerStats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ServerStats {
            name: self.name.clone(),
            requests: self.outcomes.tally(),
            resends: load(&self.resends),
            queued: load(&self.queued),
            in_window: load(&self.in_window),
            connections_open: load(&self.open),
            connects: load(&self.connects),
            connect_failures: load(&self.connect_failures),
            bytes_written: load(&self.bytes_written),
            bytes_read: load(&self.bytes_read),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }
}

/// Moves a gauge from `old` to `new`.
fn shift(gauge: &AtomicU64, old: usize, new: usize) {
    if new > old {
        gauge.fetch_add((new - old) as u64, Ordering::Relaxed);
    } else if old > new {
        gauge.fetch_sub((old - new) as u64, Ordering::Relaxed);
    }
}

/// The live counters of a client: requests as callers see them, and each
/// server's. Cheap to share (`Arc`) with another thread, which reads a
/// [`Stats`] with [`Counters::snapshot`] while the client works.
#[derive(Debug, Default)]
pub struct Counters {
    requests: Outcomes,
    servers: Vec<Arc<ServerCounters>>,
}

impl Counters {
    /// Counters for the servers of `shards`.
    pub fn new(shards: &Shards) -> Self {
        let servers = (0..shards.len())
            .map(|i| Arc::new(ServerCounters::new(shards.name(i).cloned())))
            .collect();
        Counters {
            requests: Outcomes::default(),
            servers,
        }
    }

    /// The counters of the server at `index` (the first one for an index
    /// out of range).
    pub fn server(&self, index: usize) -> Arc<ServerCounters> {
        let server = self.servers.get(index).or(self.servers.first());
        server.cloned().unwrap_or_default()
    }

    /// The counters of the server at `index`, if there is one.
    pub(crate) fn server_ref(&self, index: usize) -> Option<&ServerCounters> {
        self.servers.get(index).map(Arc::as_ref)
    }

    /// A request ended, as its caller sees it.
    pub(crate) fn ended(&self, kind: OutcomeKind) {
        self.requests.add(kind);
    }

    /// What the counters say now.
    pub fn snapshot(&self) -> Stats {
        Stats {
            requests: self.requests.tally(),
            servers: self.servers.iter().map(|s| s.snapshot()).collect(),
        }
    }
}

/// A snapshot of what a client has done since it was built.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Requests by outcome, as their callers saw them (a rule sent to
    /// several servers counts once, with its combined result).
    pub requests: Tally,
    /// Each server's counters, in the builder's order (one for a client
    /// of one server).
    pub servers: Vec<ServerStats>,
}

impl Stats {
    /// Every server's counters added up (`name` is `None`; the requests
    /// are those of [`Stats::requests`], and the last error the latest
    /// of any server).
    pub fn total(&self) -> ServerStats {
        let mut total = ServerStats {
            requests: self.requests,
            ..ServerStats::default()
        };
        for s in &self.servers {
            total.resends += s.resends;
            total.queued += s.queued;
            total.in_window += s.in_window;
            total.connections_open += s.connections_open;
            total.connects += s.connects;
            total.connect_failures += s.connect_failures;
            total.bytes_written += s.bytes_written;
            total.bytes_read += s.bytes_read;
            if s.last_error.as_ref().map(|e| e.at) > total.last_error.as_ref().map(|e| e.at) {
                total.last_error = s.last_error.clone();
            }
        }
        total
    }
}

/// A snapshot of one server's counters.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ServerStats {
    /// The server's name, when the client has several.
    pub name: Option<Arc<str>>,
    /// Requests that went to this server, by outcome (a rule counts on
    /// each server with its result there).
    pub requests: Tally,
    /// Requests sent again by the retry policy (not counted in
    /// `requests` again).
    pub resends: u64,
    /// Requests waiting now for room in a window or for a connection.
    pub queued: u64,
    /// Requests in a window now: written or being written, awaiting their
    /// answer.
    pub in_window: u64,
    /// Connections up now.
    pub connections_open: u64,
    /// Connections made, the first ones included.
    pub connects: u64,
    /// Connection attempts that failed.
    pub connect_failures: u64,
    /// Bytes written to the server.
    pub bytes_written: u64,
    /// Bytes read from the server.
    pub bytes_read: u64,
    /// The last connection error (a failed attempt, or a connection that
    /// ended abnormally), and when.
    pub last_error: Option<LastError>,
}

/// A connection error and when it happened.
#[derive(Debug, Clone)]
pub struct LastError {
    /// What happened.
    pub cause: Cause,
    /// When.
    pub at: SystemTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_per_server_and_in_total() {
        let shards = Shards::named(["a", "b"]).unwrap();
        let counters = Counters::new(&shards);
        let (a, b) = (counters.server(0), counters.server(1));
        a.ended(OutcomeKind::Ok);
        b.ended(OutcomeKind::NotSent);
        counters.ended(OutcomeKind::Ok);
        counters.ended(OutcomeKind::NotSent);
        a.connected();
        b.connect_failed(&Cause::Closed);
        a.load((0, 0), (3, 2));
        a.load((3, 2), (1, 4));
        a.wrote(10);
        b.read(7);
        let stats = counters.snapshot();
        assert_eq!(stats.servers[0].name.as_deref(), Some("a"));
        assert_eq!(
            (stats.servers[0].queued, stats.servers[0].in_window),
            (1, 4)
        );
        let total = stats.total();
        assert_eq!((total.requests.ok, total.requests.not_sent), (1, 1));
        assert_eq!((total.connects, total.connect_failures), (1, 1));
        assert_eq!(
            (
                total.connections_open,
                total.bytes_written,
                total.bytes_read
            ),
            (1, 10, 7)
        );
        assert!(total.last_error.is_some());
    }
}
