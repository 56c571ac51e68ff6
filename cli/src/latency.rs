//! Request latencies for `bench`: a `metrics` recorder that keeps the
//! client's `db.client.operation.duration` in an HDR histogram, in
//! microseconds, and the percentiles read from it.
//!
//! The client measures each request from when its batch took it to its
//! outcome (time in the window and resends included) and records it,
//! with the `metrics` feature of `kairoi-std`, through the `metrics`
//! facade; every other metric is ignored here. Every outcome is recorded,
//! failures included, since every request counts in the jobs per second.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use hdrhistogram::Histogram;
use metrics::{Counter, Gauge, HistogramFn, Key, KeyName, Metadata, SharedString, Unit};
use serde_json::{Value, json};

/// The histogram the clients record each request's duration into.
pub const METRIC: &str = "db.client.operation.duration";

/// The longest duration told apart: an hour, in microseconds; longer
/// ones count as an hour.
const MAX_MICROS: u64 = 3_600_000_000;

/// The durations recorded so far, in microseconds, three significant
/// digits (`None` only if the histogram could not be made, which bounds
/// of 1 µs to an hour with 3 digits never cause: nothing is recorded
/// then, and the percentiles say no request was).
#[derive(Debug)]
struct Durations(Mutex<Option<Histogram<u64>>>);

impl Durations {
    fn new() -> Durations {
        Durations(Mutex::new(Histogram::new_with_max(MAX_MICROS, 3).ok()))
    }

    fn histogram(&self) -> std::sync::MutexGuard<'_, Option<Histogram<u64>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl HistogramFn for Durations {
    /// `seconds`, as the client records it, kept in microseconds; a
    /// value that is not a number, or negative, counts as 0.
    fn record(&self, seconds: f64) {
        let micros = (seconds * 1e6).round();
        let micros = if micros.is_finite() && micros > 0.0 {
            (micros as u64).min(MAX_MICROS)
        } else {
            0
        };
        if let Some(histogram) = self.histogram().as_mut() {
            histogram.saturating_record(micros);
        }
    }
}

/// A `metrics` recorder that keeps [`METRIC`] in [`Durations`] and
/// nothing else.
#[derive(Debug)]
struct Recorder {
    durations: Arc<Durations>,
}

impl metrics::Recorder for Recorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::noop()
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> metrics::Histogram {
        if key.name() == METRIC {
            metrics::Histogram::from_arc(Arc::clone(&self.durations))
        } else {
            metrics::Histogram::noop()
        }
    }
}

/// The request durations of every client of this process.
#[derive(Debug, Clone)]
pub struct Latencies {
    durations: Arc<Durations>,
}

impl Latencies {
    /// Installs the recorder as the process's `metrics` recorder (once;
    /// later calls give the same durations) and gives its durations.
    pub fn install() -> Latencies {
        static DURATIONS: OnceLock<Arc<Durations>> = OnceLock::new();
        let durations = DURATIONS.get_or_init(|| {
            let durations = Arc::new(Durations::new());
            // The only recorder this binary installs: it cannot be taken
            // already. If it were, nothing would be recorded, and the
            // percentiles would say so (no requests).
            let _ = metrics::set_global_recorder(Recorder {
                durations: Arc::clone(&durations),
            });
            durations
        });
        Latencies {
            durations: Arc::clone(durations),
        }
    }

    /// The percentiles of the durations recorded since the last call,
    /// and a fresh start for the next.
    pub fn take(&self) -> Percentiles {
        match self.durations.histogram().as_mut() {
            Some(histogram) => {
                let percentiles = Percentiles::of(histogram);
                histogram.reset();
                percentiles
            }
            None => Percentiles::default(),
        }
    }
}

/// The percentiles of a set of request durations, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Percentiles {
    /// How many requests.
    pub count: u64,
    /// The median.
    pub p50: u64,
    /// The 90th percentile.
    pub p90: u64,
    /// The 99th percentile.
    pub p99: u64,
    /// The 99.9th percentile.
    pub p99_9: u64,
    /// The longest.
    pub max: u64,
}

impl Percentiles {
    fn of(histogram: &Histogram<u64>) -> Percentiles {
        if histogram.is_empty() {
            return Percentiles::default();
        }
        let at = |q| histogram.value_at_quantile(q);
        Percentiles {
            count: histogram.len(),
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            p99_9: at(0.999),
            max: histogram.max(),
        }
    }

    /// The values in the order of the columns: p50, p90, p99, p99.9, max.
    pub fn values(&self) -> [u64; 5] {
        [self.p50, self.p90, self.p99, self.p99_9, self.max]
    }

    /// `{"p50": .., "p90": .., "p99": .., "p99_9": .., "max": ..}` in
    /// microseconds; `null` when no request was recorded.
    pub fn json(&self) -> Value {
        if self.count == 0 {
            return Value::Null;
        }
        json!({
            "p50": self.p50, "p90": self.p90, "p99": self.p99,
            "p99_9": self.p99_9, "max": self.max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_operation_duration_is_kept_in_microseconds() {
        let durations = Arc::new(Durations::new());
        let recorder = Recorder {
            durations: Arc::clone(&durations),
        };
        metrics::with_local_recorder(&recorder, || {
            for n in 1..=1000 {
                // 1 ms to 1 s, with and without an error label.
                let seconds = f64::from(n) / 1000.0;
                if n % 2 == 0 {
                    metrics::histogram!(METRIC, "db.system.name" => "kairoi").record(seconds);
                } else {
                    metrics::histogram!(METRIC, "error.type" => "not sent").record(seconds);
                }
            }
            metrics::histogram!("another.histogram").record(5.0);
            metrics::counter!("kairoi.client.requests").increment(1);
        });
        let latencies = Latencies { durations };
        let p = latencies.take();
        assert_eq!(p.count, 1000);
        // Three significant digits.
        assert!(p.p50.abs_diff(500_000) <= 500, "{p:?}");
        assert!(p.p90.abs_diff(900_000) <= 900, "{p:?}");
        assert!(p.p99.abs_diff(990_000) <= 990, "{p:?}");
        assert!(p.p99_9.abs_diff(999_000) <= 999, "{p:?}");
        assert!(p.max.abs_diff(1_000_000) <= 1000, "{p:?}");
        assert_eq!(p.json()["p50"], p.p50);
        // Not a number counts as 0, more than an hour as an hour.
        metrics::with_local_recorder(&recorder, || {
            metrics::histogram!(METRIC).record(f64::NAN);
            metrics::histogram!(METRIC).record(-1.0);
            metrics::histogram!(METRIC).record(1e9);
        });
        let p = latencies.take();
        assert_eq!((p.count, p.p50), (3, 0), "{p:?}");
        assert!(p.max.abs_diff(MAX_MICROS) <= MAX_MICROS / 1000, "{p:?}");
        // Taken: the next rows start afresh.
        let empty = latencies.take();
        assert_eq!(empty.count, 0);
        assert!(empty.json().is_null());
    }
}
