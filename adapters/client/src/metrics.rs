//! The clients' metrics, through the `metrics` facade (feature
//! `metrics`), named after the OpenTelemetry semantic conventions for
//! database clients. Without the feature, or with no recorder installed,
//! they cost next to nothing.
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

/// The request metrics' handles of one call, made once for each
/// operation and outcome the call meets (at most 18), so that recording a
/// request builds no key.
#[cfg(feature = "metrics")]
#[derive(Default)]
pub(crate) struct Requests {
    handles: Vec<(
        &'static str,
        OutcomeKind,
        metrics::Histogram,
        metrics::Counter,
    )>,
}

#[cfg(feature = "metrics")]
impl std::fmt::Debug for Requests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Requests")
            .field("handles", &self.handles.len())
            .finish()
    }
}

#[cfg(feature = "metrics")]
impl Requests {
    /// No handle made yet.
    pub(crate) fn new() -> Self {
        Requests::default()
    }

    /// A request of `operation` ended `kind` after `took`.
    pub(crate) fn record(&mut self, operation: &'static str, kind: OutcomeKind, took: Duration) {
        let at = match self
            .handles
            .iter()
            .position(|(op, k, ..)| *op == operation && *k == kind)
        {
            Some(at) => at,
            None => {
                self.handles.push(register(operation, kind));
                self.handles.len() - 1
            }
        };
        let (_, _, histogram, counter) = &self.handles[at];
        histogram.record(took.as_secs_f64());
        counter.increment(1);
    }
}

/// The handles of the request metrics of `operation` ending `kind`.
#[cfg(feature = "metrics")]
fn register(
    operation: &'static str,
    kind: OutcomeKind,
) -> (
    &'static str,
    OutcomeKind,
    metrics::Histogram,
    metrics::Counter,
) {
    let outcome = kind.name();
    let histogram = match kind {
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
    let counter = metrics::counter!(
        "kairoi.client.requests",
        "db.system.name" => SYSTEM,
        "db.operation.name" => operation,
        "outcome" => outcome,
    );
    (operation, kind, histogram, counter)
}

/// Without the `metrics` feature: nothing is recorded.
#[cfg(not(feature = "metrics"))]
#[derive(Debug, Default)]
pub(crate) struct Requests;

#[cfg(not(feature = "metrics"))]
impl Requests {
    /// Nothing to make.
    pub(crate) fn new() -> Self {
        Requests
    }

    /// A request of `operation` ended `kind` after `took`: not recorded.
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
