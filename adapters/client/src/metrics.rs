//! The clients' metrics, through the `metrics` facade (feature
//! `metrics`), named after the OpenTelemetry semantic conventions for
//! database clients. Without the feature they cost nothing. With it, a
//! call registers each metric once per operation, outcome and recorder
//! ([`Requests`]), and each request keeps its start until it ends, asks
//! which recorder is in force, and hands two values to it (the figures
//! are in BENCHMARKS.md, "What observability costs").
//!
//! | name | kind | labels | what |
//! | --- | --- | --- | --- |
//! | `db.client.operation.duration` | histogram, seconds | `db.system.name` = `kairoi`, `db.operation.name` (`SET`, `RULE SET`, `OTHER`), `error.type` (when not `OK`: `rejected`, `timed out`, `not sent`, `unknown`, `invalid`) | each request, as its caller saw it: from when its call took it to its outcome, resends included |
//! | `kairoi.client.requests` | counter | `db.system.name`, `db.operation.name`, `outcome` (`ok`, or as `error.type`) | requests by outcome |
//! | `db.client.connection.count` | gauge | `db.system.name`, `server.name` (the server's name when the client has several, else empty) | connections open |

use std::time::Duration;

use crate::OutcomeKind;

/// Whether metrics are recorded: the `metrics` feature.
pub(crate) const ENABLED: bool = cfg!(feature = "metrics");

/// The value of `db.system.name`.
#[cfg(feature = "metrics")]
const SYSTEM: &str = "kairoi";

/// The request metrics of one call: the histogram and the counter of
/// each operation and outcome, registered with the recorder in force the
/// first time the call records them, and used again for the call's later
/// requests while the same recorder is in force. A batch thus registers a
/// few pairs instead of two metrics a request (each registration builds
/// a key, hashes it and looks it up in the recorder). Each request still
/// asks which recorder is in force (the thread's local one, else the
/// global one, else none), and registers again when it changed: every
/// request is recorded where the `metrics` macros would record it.
#[cfg(feature = "metrics")]
#[derive(Debug, Default)]
pub(crate) struct Requests {
    /// The address of the recorder the handles were registered with.
    recorder: Option<usize>,
    handles: Vec<Handles>,
}

/// The metrics of one operation and outcome.
#[cfg(feature = "metrics")]
#[derive(Debug)]
struct Handles {
    operation: &'static str,
    kind: OutcomeKind,
    duration: metrics::Histogram,
    requests: metrics::Counter,
}

#[cfg(feature = "metrics")]
impl Handles {
    fn register(operation: &'static str, kind: OutcomeKind) -> Handles {
        let outcome = kind.name();
        let duration = match kind {
            OutcomeKind::Ok => metrics::histogram!(
                "db.client.operation.duration",
                "db.system.name" => SYSTEM,
                "db.operation.name" => operation,
            ),
            _ => metrics::histogram!(
                "db.client.operation.duration",
                "db.system.name" => SYSTEM,
                "db.operation.name" => operation,
                "error.type" => outcome,
            ),
        };
        let requests = metrics::counter!(
            "kairoi.client.requests",
            "db.system.name" => SYSTEM,
            "db.operation.name" => operation,
            "outcome" => outcome,
        );
        Handles {
            operation,
            kind,
            duration,
            requests,
        }
    }
}

#[cfg(feature = "metrics")]
impl Requests {
    /// A request of `operation` ended `kind` after `took`.
    pub(crate) fn record(&mut self, operation: &'static str, kind: OutcomeKind, took: Duration) {
        // The recorder a metric would be registered with now (a local
        // one, the global one, or none), by address.
        let recorder = metrics::with_recorder(|r| std::ptr::from_ref(r).cast::<()>().addr());
        if self.recorder != Some(recorder) {
            self.recorder = Some(recorder);
            self.handles.clear();
        }
        let found = self
            .handles
            .iter()
            .position(|h| h.kind == kind && h.operation == operation);
        let at = found.unwrap_or_else(|| {
            self.handles.push(Handles::register(operation, kind));
            self.handles.len() - 1
        });
        let handles = &self.handles[at];
        handles.duration.record(took.as_secs_f64());
        handles.requests.increment(1);
    }
}

/// The request metrics of one call: nothing without the feature.
#[cfg(not(feature = "metrics"))]
#[derive(Debug, Default)]
pub(crate) struct Requests;

#[cfg(not(feature = "metrics"))]
impl Requests {
    /// A request of `operation` ended `kind` after `took`.
    pub(crate) fn record(&mut self, operation: &'static str, kind: OutcomeKind, took: Duration) {
        let _ = (operation, kind, took);
    }
}

/// The open connections to the server named `server` changed by `delta`.
#[cfg(feature = "metrics")]
pub(crate) fn connections(server: Option<&std::sync::Arc<str>>, delta: f64) {
    let server = server.map_or_else(String::new, |s| s.to_string());
    metrics::gauge!(
        "db.client.connection.count",
        "db.system.name" => SYSTEM,
        "server.name" => server,
    )
    .increment(delta);
}

/// The open connections to the server named `server` changed by `delta`.
#[cfg(not(feature = "metrics"))]
pub(crate) fn connections(server: Option<&std::sync::Arc<str>>, delta: f64) {
    let _ = (server, delta);
}

#[cfg(all(test, feature = "metrics"))]
mod tests {
    use metrics_util::MetricKind;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

    use super::*;

    /// Counters by operation and outcome, and the durations recorded.
    fn read(snapshotter: &Snapshotter) -> (Vec<(String, String, u64)>, usize) {
        let (mut counters, mut durations) = (Vec::new(), 0);
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            let label = |name: &str| {
                let mut labels = key.key().labels();
                labels
                    .find(|l| l.key() == name)
                    .map(|l| l.value().to_owned())
            };
            match (key.kind(), value) {
                (MetricKind::Counter, DebugValue::Counter(n)) => {
                    let operation = label("db.operation.name").unwrap_or_default();
                    counters.push((operation, label("outcome").unwrap_or_default(), n));
                }
                (MetricKind::Histogram, DebugValue::Histogram(v)) => durations += v.len(),
                _ => {}
            }
        }
        counters.sort();
        (counters, durations)
    }

    fn count(operation: &str, outcome: &str, n: u64) -> (String, String, u64) {
        (operation.to_owned(), outcome.to_owned(), n)
    }

    /// Handles registered for one recorder are not used for another: each
    /// request goes to the recorder in force when it ends.
    #[test]
    fn every_request_goes_to_the_recorder_in_force() {
        let (first, second) = (DebuggingRecorder::new(), DebuggingRecorder::new());
        let (one, two) = (first.snapshotter(), second.snapshotter());
        let took = Duration::from_millis(2);
        let mut requests = Requests::default();
        metrics::with_local_recorder(&first, || {
            for _ in 0..3 {
                requests.record("SET", OutcomeKind::Ok, took);
            }
            requests.record("SET", OutcomeKind::Rejected, took);
        });
        metrics::with_local_recorder(&second, || requests.record("SET", OutcomeKind::Ok, took));
        // No recorder: recorded nowhere.
        requests.record("SET", OutcomeKind::Ok, took);
        metrics::with_local_recorder(&first, || {
            requests.record("SET", OutcomeKind::Ok, took);
            requests.record("RULE SET", OutcomeKind::Ok, took);
        });
        let expected = vec![
            count("RULE SET", "ok", 1),
            count("SET", "ok", 4),
            count("SET", "rejected", 1),
        ];
        assert_eq!(read(&one), (expected, 6));
        assert_eq!(read(&two), (vec![count("SET", "ok", 1)], 1));
    }
}
