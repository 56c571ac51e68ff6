//! `bench`: pipelined `SET` throughput and request latencies against the
//! server, one batch per connection count, and the client's own protocol
//! cost per request measured in memory beside them.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use jiff::{Span, Timestamp};
use kairoi_proto::{Config, DateTime, Event, Instruction};
use kairoi_std::Tally;
use kairoi_std::stats::Stats;
use serde_json::{Value, json};

use crate::args::Cli;
use crate::bench_table::Table;
use crate::by_server::ByServer;
use crate::latency::{Latencies, Percentiles};
use crate::outcome::{Failure, Output, Report, summary_json, worst};
use crate::servers::Servers;
use crate::traffic;

/// One batch of the sweep: what it sent over how many connections, and
/// how it went.
pub struct Row {
    /// Connections (to each server).
    pub connections: u16,
    /// The batch's wall time, from its first request taken to its last
    /// outcome.
    pub elapsed: Duration,
    /// Jobs per second over `elapsed`.
    pub rate: f64,
    /// The requests' latencies.
    pub latency: Percentiles,
    /// The client's counters after the batch.
    pub stats: Stats,
    /// The counters by server, over several servers.
    pub by_server: Option<ByServer>,
}

/// `bench --jobs N --connections C[,C...]`.
pub fn run(out: Output, cli: &Cli, jobs: usize, connections: &[u16]) -> Result<ExitCode, Failure> {
    let servers = crate::read_servers(cli)?;
    let tomorrow = Timestamp::now()
        .checked_add(Span::new().hours(24))
        .ok()
        .and_then(|t| DateTime::try_from(t).ok())
        .unwrap_or(DateTime::MAX);
    let tag = std::process::id();
    let batch =
        move || (0..jobs).map(move |n| Instruction::set(format!("bench.{tag}.{n}"), tomorrow));

    // In memory, before any connection: the same for every row.
    let in_memory = protocol_cost(batch());
    let per_request = in_memory.as_secs_f64() * 1e9 / jobs.max(1) as f64;
    let latencies = Latencies::install();
    let mut table = Table::new(out, jobs, &servers);
    let mut all = Tally::default();
    for &count in connections {
        let row = one_batch(cli, &servers, count, jobs, batch(), &latencies)?;
        all += row.stats.requests;
        let mut object = row_json(&row);
        object["client_ns_per_request"] = json!(per_request.round());
        table.row(&row, object);
    }
    table.end(per_request);
    Ok(ExitCode::from(worst(&all).exit_code()))
}

/// One batch of `batch` over `connections` connections (to each server),
/// on a new client.
fn one_batch(
    cli: &Cli,
    servers: &Servers,
    connections: u16,
    jobs: usize,
    batch: impl Iterator<Item = Instruction> + Send,
    latencies: &Latencies,
) -> Result<Row, Failure> {
    let mut client = crate::connect(cli, servers, connections)?;
    let counters = client.stats_handle();
    // Whatever the connection made so far recorded: not this batch's.
    let _ = latencies.take();
    let start = Instant::now();
    client.execute_each(batch, |_, _| {});
    let elapsed = start.elapsed();
    let latency = latencies.take();
    let _ = client.close();
    let stats = counters.snapshot();
    Ok(Row {
        connections,
        elapsed,
        rate: jobs as f64 / elapsed.as_secs_f64().max(1e-9),
        latency,
        by_server: ByServer::new(servers, &stats),
        stats,
    })
}

/// A row as JSON: the summary of its outcomes, with `command`,
/// `connections`, `seconds`, `jobs_per_second`, `latency_us` (p50, p90,
/// p99, p99_9, max in microseconds), what the connections did, and over
/// several servers `servers`.
fn row_json(row: &Row) -> Value {
    let mut object = summary_json(&row.stats.requests);
    object["command"] = "bench".into();
    object["connections"] = row.connections.into();
    object["seconds"] = json!(row.elapsed.as_secs_f64());
    object["jobs_per_second"] = json!(row.rate.round());
    object["latency_us"] = row.latency.json();
    traffic::add_json(&mut object, &row.stats.total());
    if let Some(by) = &row.by_server {
        object["servers"] = by.json();
    }
    object
}

/// The time the protocol core takes to encode `batch` and decode an `OK`
/// for each request, a window at a time, with no I/O: what the client
/// itself costs per request. The answers are written into a reused
/// buffer, which the figure includes.
fn protocol_cost(batch: impl Iterator<Item = Instruction>) -> Duration {
    let config = Config::default();
    let window = config.max_active();
    let mut core = kairoi_proto::Client::new(config);
    let mut answers = String::new();
    let mut batch = batch.peekable();
    let start = Instant::now();
    while batch.peek().is_some() {
        answers.clear();
        for instruction in batch.by_ref().take(window) {
            match core.send(&instruction) {
                Ok(id) => {
                    let _ = writeln!(answers, "{id} OK");
                }
                Err(_) => break,
            }
        }
        while let Some(bytes) = core.poll_transmit() {
            let n = bytes.len();
            core.consume_transmit(n);
        }
        core.receive(answers.as_bytes());
        while let Some(event) = core.poll_event() {
            if matches!(event, Event::Closed { .. }) {
                break;
            }
        }
    }
    start.elapsed()
}
