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

/// A request of `operation` ended `kind` after `took`.
#[cfg(feature = "metrics")]
pub(crate) fn request(operation: &'static str, kind: OutcomeKind, took: Duration) {
    let outcome = kind.name();
    match kind {
        OutcomeKind::Ok => metrics::histogram!(
            "db.client.operation.duration",
            "db.system.name" => SYSTEM,
            "db.operation.name" => operation,
        )
        .record(took.as_secs_f64()),
        _ => metrics::histogram!(
            "db.client.operation.duration",
            "db.system.name" => SYSTEM,
            "db.operation.name" => operation,
            "error.type" => outcome,
        )
        .record(took.as_secs_f64()),
    }
    metrics::counter!(
        "kairoi.client.requests",
        "db.system.name" => SYSTEM,
        "db.operation.name" => operation,
        "outcome" => outcome,
    )
    .increment(1);
}

/// A request of `operation` ended `kind` after `took`.
#[cfg(not(feature = "metrics"))]
pub(crate) fn request(operation: &'static str, kind: OutcomeKind, took: Duration) {
    let _ = (operation, kind, took);
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
