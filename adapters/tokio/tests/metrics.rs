//! The client's metrics through `metrics-util`'s debugging recorder: a
//! binary of its own, since the recorder is global (the drivers run on
//! other threads).

use std::collections::HashMap;
use std::time::Duration;

use kairoi_test_server::TestServer;
use kairoi_tokio::{Client, Instruction, Tally};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::{CompositeKey, MetricKind};

fn later() -> kairoi_tokio::DateTime {
    "2999-01-01 00:00:00".parse().unwrap()
}

fn label<'a>(key: &'a CompositeKey, name: &str) -> Option<&'a str> {
    key.key()
        .labels()
        .find(|l| l.key() == name)
        .map(|l| l.value())
}

/// Counters by outcome, the histogram's samples by `error.type`, and the
/// open connections, from a snapshot: what was recorded since the last
/// one (a snapshot takes the values).
fn read(snapshotter: &Snapshotter) -> (HashMap<String, u64>, HashMap<String, usize>, f64) {
    let (mut counters, mut samples, mut open) = (HashMap::new(), HashMap::new(), 0.0);
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let name = key.key().name();
        match (key.kind(), name, value) {
            (MetricKind::Counter, "kairoi.client.requests", DebugValue::Counter(n)) => {
                let outcome = label(&key, "outcome").unwrap_or("?").to_owned();
                assert_eq!(label(&key, "db.system.name"), Some("kairoi"));
                assert_eq!(label(&key, "db.operation.name"), Some("SET"));
                *counters.entry(outcome).or_insert(0) += n;
            }
            (MetricKind::Histogram, "db.client.operation.duration", DebugValue::Histogram(v)) => {
                let error = label(&key, "error.type").unwrap_or("none").to_owned();
                assert!(v.iter().all(|s| s.into_inner() >= 0.0));
                *samples.entry(error).or_insert(0) += v.len();
            }
            (MetricKind::Gauge, "db.client.connection.count", DebugValue::Gauge(g)) => {
                open += g.into_inner();
            }
            _ => {}
        }
    }
    (counters, samples, open)
}

/// After a batch with rejections, timeouts and a dropped connection,
/// every counter equals the outcomes the calls returned, the histogram
/// has one sample per request (by `error.type`), and the gauge says how
/// many connections are open.
#[test]
fn counters_equal_the_outcomes_returned() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::set_global_recorder(recorder).expect("the only recorder of this binary");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let server = TestServer::start().unwrap();
        let client = Client::builder()
            .window(16)
            .connections(2)
            .request_timeout(Duration::from_millis(300))
            .connect(server.addr())
            .await
            .unwrap();
        let mut returned = Tally::default();
        let batch = |prefix: &str, n: usize| -> Vec<Instruction> {
            (0..n)
                .map(|i| Instruction::set(format!("{prefix}.{i}"), later()))
                .collect()
        };
        for r in client.execute_all(batch("ok", 100)).await {
            returned.record(&r);
        }
        server.faults().reject_every(3);
        for r in client.execute_all(batch("rejected", 60)).await {
            returned.record(&r);
        }
        server.faults().clear();
        server.faults().set_delay(Duration::from_millis(600));
        for r in client.execute_all(batch("late", 10)).await {
            returned.record(&r);
        }
        server.faults().clear();
        server.faults().set_close_after(Some(5));
        for r in client.execute_all(batch("dropped", 30)).await {
            returned.record(&r);
        }
        server.faults().clear();
        assert!(returned.rejected > 0 && returned.timed_out + returned.unknown > 0);
        let (counters, samples, open) = read(&snapshotter);
        let of = |name: &str| counters.get(name).copied().unwrap_or(0);
        assert_eq!(of("ok"), returned.ok, "{counters:?} against {returned:?}");
        assert_eq!(of("rejected"), returned.rejected, "{counters:?}");
        assert_eq!(of("timed out"), returned.timed_out, "{counters:?}");
        assert_eq!(of("not sent"), returned.not_sent, "{counters:?}");
        assert_eq!(of("unknown"), returned.unknown, "{counters:?}");
        assert_eq!(samples.values().sum::<usize>() as u64, returned.total());
        assert_eq!(
            samples.get("none").copied().unwrap_or(0) as u64,
            returned.ok
        );
        // The gauge follows the connections. A snapshot takes the gauge's
        // increments since the last one: they add up.
        let mut gauge = open;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let before = client.stats().total().connections_open;
            let (_, _, more) = read(&snapshotter);
            gauge += more;
            if before == client.stats().total().connections_open && gauge == before as f64 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the gauge says {gauge}, the client {before}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
}
