//! `bench`: pipelined `SET` throughput against the server, and the
//! client's own protocol cost per request measured in memory beside it.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use jiff::{Span, Timestamp};
use kairoi_proto::{Config, DateTime, Event, Instruction};
use serde_json::json;

use kairoi_std::{OutcomeKind, Tally};

use crate::args::Cli;
use crate::by_server::ByServer;
use crate::outcome::{Failure, Report, summary_json, summary_line, worst};

/// `bench --jobs N --connections C`.
pub fn run(cli: &Cli, jobs: usize, connections: u16) -> Result<ExitCode, Failure> {
    let out = crate::output(cli);
    let tomorrow = Timestamp::now()
        .checked_add(Span::new().hours(24))
        .ok()
        .and_then(|t| DateTime::try_from(t).ok())
        .unwrap_or(DateTime::MAX);
    let tag = std::process::id();
    let batch =
        move || (0..jobs).map(move |n| Instruction::set(format!("bench.{tag}.{n}"), tomorrow));

    let servers = crate::read_servers(cli)?;
    let mut client = crate::connect(cli, &servers, connections)?;
    let mut tally = Tally::default();
    let mut by_server = ByServer::new(&servers);
    let mut job = String::new();
    let start = Instant::now();
    client.execute_each(batch(), |n, result| {
        let kind = OutcomeKind::of(&result);
        tally.add(kind);
        if let Some(by) = &mut by_server {
            job.clear();
            let _ = write!(job, "bench.{tag}.{n}");
            by.add(&job, kind);
        }
    });
    let elapsed = start.elapsed();
    let _ = client.close();

    let in_memory = protocol_cost(batch());
    let rate = jobs as f64 / elapsed.as_secs_f64().max(1e-9);
    let per_request = in_memory.as_secs_f64() * 1e9 / jobs.max(1) as f64;
    let mut summary = summary_json(&tally);
    summary["command"] = "bench".into();
    summary["connections"] = connections.into();
    summary["seconds"] = json!(elapsed.as_secs_f64());
    summary["jobs_per_second"] = json!(rate.round());
    summary["client_ns_per_request"] = json!(per_request.round());
    let over = match &by_server {
        Some(by) => format!("{} ({connections} connection(s) each)", by.servers_word()),
        None => format!("{connections} connection(s)"),
    };
    let mut human = format!(
        "{jobs} SET over {over} in {:.3} s: {rate:.0} jobs/s ({})",
        elapsed.as_secs_f64(),
        summary_line(&tally)
    );
    if let Some(by) = &by_server {
        for line in by.lines() {
            human.push('\n');
            human.push_str(&line);
        }
        summary["servers"] = by.json();
    }
    let _ = write!(
        human,
        "\nclient protocol cost: {per_request:.0} ns per request \
         (building, encoding and decoding in memory, no I/O)"
    );
    out.info(human, summary);
    Ok(ExitCode::from(worst(&tally).exit_code()))
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
