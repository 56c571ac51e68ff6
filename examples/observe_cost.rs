//! What the Tokio client's observability costs per request: one batch of
//! job `SET`s through `execute_each`, on one connection, against an
//! in-process `TestServer` that answers every read at once (no tick), in
//! one of five modes:
//!
//! - `plain`: no metrics recorder, no tracing subscriber;
//! - `metrics`: a minimal recorder installed, built as exporters are:
//!   `metrics-util`'s `Registry` with atomic storage (a sharded map looked
//!   up under a read lock for every metric recorded, then an atomic add,
//!   or a push into an `AtomicBucket` that keeps every histogram sample);
//! - `metrics-debugging`: `metrics-util`'s `DebuggingRecorder` instead,
//!   which also notes every key it is handed in an ordered map under a
//!   mutex (a test tool, much slower per metric than the registry);
//! - `tracing-info`: a `tracing-subscriber` fmt subscriber at INFO level
//!   writing to a sink, so the client's debug request spans are disabled
//!   but their callsites are checked;
//! - `tracing-debug`: the same at DEBUG level: every request span and its
//!   closing event are built and formatted (into the sink).
//!
//! The two metrics modes need a build with the client's `metrics`
//! feature; they check after the batch that the recorder holds one
//! duration per request, and fail otherwise.
//!
//! The client runs on a current-thread runtime in the main thread; the
//! server runs on threads of its own. It prints the mode, the jobs and the
//! wall time to standard error. Instruction counts come from running it
//! under callgrind (see BENCHMARKS.md, "What observability costs"):
//!
//! ```sh
//! cargo build --release --example observe_cost
//! cp target/release/examples/observe_cost /tmp/observe_plain
//! cargo build --release --example observe_cost --features kairoi-tokio/metrics
//! cp target/release/examples/observe_cost /tmp/observe_metrics
//! valgrind --tool=callgrind --separate-threads=yes /tmp/observe_plain plain --jobs 200000
//! valgrind --tool=callgrind --separate-threads=yes /tmp/observe_metrics metrics --jobs 200000
//! valgrind --tool=callgrind --separate-threads=yes /tmp/observe_plain tracing-info --jobs 200000
//! ```
//!
//! The example lives in the root crate because `kairoi-tokio`'s own
//! examples are always built with its `metrics` feature (its tests need
//! it, through a dev-dependency on itself), which would leave no build
//! without it to compare with.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kairoi_test_server::TestServer;
use kairoi_tokio::{Client, DateTime, Instruction};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, SharedString, Unit};
use metrics_util::registry::{AtomicStorage, Registry};
use tracing_subscriber::filter::LevelFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Metrics,
    MetricsDebugging,
    TracingInfo,
    TracingDebug,
}

impl Mode {
    fn parse(name: &str) -> Option<Mode> {
        match name {
            "plain" => Some(Mode::Plain),
            "metrics" => Some(Mode::Metrics),
            "metrics-debugging" => Some(Mode::MetricsDebugging),
            "tracing-info" => Some(Mode::TracingInfo),
            "tracing-debug" => Some(Mode::TracingDebug),
            _ => None,
        }
    }
}

const USAGE: &str = "usage: observe_cost \
    [plain|metrics|metrics-debugging|tracing-info|tracing-debug] [--jobs N]";

fn args() -> Result<(Mode, usize), String> {
    let mut mode = Mode::Plain;
    let mut jobs = 200_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--jobs" {
            jobs = args
                .next()
                .and_then(|v| v.parse().ok())
                .ok_or("--jobs takes a number")?;
        } else {
            mode = Mode::parse(&arg).ok_or(USAGE)?;
        }
    }
    Ok((mode, jobs))
}

/// A recorder as exporters build one: every metric in a `Registry` with
/// atomic storage, looked up by key each time a metric is recorded.
#[derive(Clone)]
struct Registered(Arc<Registry<Key, AtomicStorage>>);

impl metrics::Recorder for Registered {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.0
            .get_or_create_counter(key, |c| Counter::from_arc(c.clone()))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.0
            .get_or_create_gauge(key, |g| Gauge::from_arc(g.clone()))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.0
            .get_or_create_histogram(key, |h| Histogram::from_arc(h.clone()))
    }
}

impl Registered {
    /// The durations recorded, of every histogram.
    fn samples(&self) -> usize {
        let mut samples = 0;
        self.0.visit_histograms(|_, bucket| {
            bucket.data_with(|block| samples += block.len());
        });
        samples
    }
}

fn subscribe(level: LevelFilter) {
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
}

fn main() -> ExitCode {
    let (mode, jobs) = match args() {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(64);
        }
    };
    // How many durations the recorder holds, read after the batch.
    let mut samples: Option<Box<dyn Fn() -> usize>> = None;
    match mode {
        Mode::Plain => {}
        Mode::Metrics => {
            let recorder = Registered(Arc::new(Registry::atomic()));
            let kept = recorder.clone();
            samples = Some(Box::new(move || kept.samples()));
            metrics::set_global_recorder(recorder).expect("the only recorder");
        }
        Mode::MetricsDebugging => {
            let recorder = metrics_util::debugging::DebuggingRecorder::new();
            let snapshotter = recorder.snapshotter();
            samples = Some(Box::new(move || {
                snapshotter
                    .snapshot()
                    .into_vec()
                    .into_iter()
                    .map(|(_, _, _, value)| match value {
                        metrics_util::debugging::DebugValue::Histogram(v) => v.len(),
                        _ => 0,
                    })
                    .sum()
            }));
            metrics::set_global_recorder(recorder).expect("the only recorder");
        }
        Mode::TracingInfo => subscribe(LevelFilter::INFO),
        Mode::TracingDebug => subscribe(LevelFilter::DEBUG),
    }

    let server = TestServer::builder()
        .tick(Duration::ZERO)
        .start()
        .expect("a test server");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (failed, secs) = rt.block_on(async {
        let client = Client::connect(server.addr()).await.expect("a connection");
        let when: DateTime = "2999-01-01 00:00:00".parse().expect("a date");
        let batch = (0..jobs).map(|n| Instruction::set(format!("cost.{n}"), when));
        let mut failed = 0usize;
        let start = Instant::now();
        client
            .execute_each(batch, |_, result| failed += usize::from(result.is_err()))
            .await;
        let secs = start.elapsed().as_secs_f64();
        client.close().await;
        (failed, secs)
    });
    drop(server);

    eprintln!(
        "{mode:?}: {jobs} jobs in {secs:.3} s: {:.0} jobs/s, {failed} failed",
        jobs as f64 / secs
    );
    if failed > 0 {
        return ExitCode::FAILURE;
    }
    if let Some(samples) = samples {
        // One duration per request: otherwise the client was built without
        // its `metrics` feature and this run measured nothing.
        let samples = samples();
        if samples != jobs {
            eprintln!(
                "the recorder holds {samples} durations for {jobs} requests: \
                 build with --features kairoi-tokio/metrics"
            );
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
