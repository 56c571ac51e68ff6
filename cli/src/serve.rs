//! `serve`: the in-memory `TestServer` on the real clock, for local
//! development, printing each job as it fires and, with `--exec`,
//! running shell runners: `sh COMMAND JOB_ID`, the job `Executed` on exit
//! status 0 and `Failed` otherwise, as Kairoi's documentation describes
//! it (`ShellRunners::RunCheckingStatus`; the reference server itself
//! marks it `Executed` once `sh` has run, whatever the exit status).
//! With `--report-every N`, a line each time another N requests have
//! been received.
//!
//! Ctrl-C takes the default action of SIGINT: the process ends, the
//! kernel closes its sockets (clients see their connection closed) and
//! nothing is lost that was ever kept, since everything is in memory. A
//! shell command started from a terminal gets the same SIGINT, as part of
//! the same foreground process group.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use kairoi_std::Runner;
use kairoi_test_server::{Clock, Execution, ShellRun, ShellRunners, TestServer};
use serde_json::json;

use crate::outcome::{Failure, Output};

/// How long each wait for news lasts before waiting again.
const FOLLOW: Duration = Duration::from_secs(3600);
/// How often the count of requests received is looked at, with
/// `--report-every`.
const COUNT_EVERY: Duration = Duration::from_millis(10);

/// `serve [--listen ADDR] [--exec] [--report-every N]`: runs until the
/// process is ended.
pub fn run(
    out: Output,
    listen: SocketAddr,
    exec: bool,
    report_every: Option<u64>,
) -> Result<ExitCode, Failure> {
    let shell = if exec {
        ShellRunners::RunCheckingStatus
    } else {
        ShellRunners::Record
    };
    let server = TestServer::builder()
        .listen(listen)
        .clock(Clock::Real)
        .shell_runners(shell)
        .start()
        .map_err(|e| Failure::io(format!("cannot listen on {listen}: {e}")))?;
    let addr = server.addr();
    out.info(
        format_args!(
            "listening on {addr}{}",
            if exec { " (running shell rules)" } else { "" }
        ),
        json!({"event": "listening", "addr": addr.to_string(), "exec": exec}),
    );
    std::thread::scope(|scope| {
        if let Some(every) = report_every {
            let server = &server;
            scope.spawn(move || {
                let mut reported = 0;
                loop {
                    std::thread::sleep(COUNT_EVERY);
                    let received = server.requests_received();
                    if received / every > reported / every {
                        reported = received;
                        requests(out, received, server.connections_open());
                    }
                }
            });
        }
        if exec {
            scope.spawn(|| {
                let mut seen = 0;
                loop {
                    let runs = server.shell_runs_from(seen, FOLLOW);
                    seen += runs.len();
                    runs.iter().for_each(|run| ended(out, run));
                }
            });
        }
        let mut seen = 0;
        loop {
            let new = server.executions_from(seen, FOLLOW);
            seen += new.len();
            new.iter().for_each(|e| fired(out, e, exec));
        }
    })
}

/// One line for the requests received so far, with `--report-every`.
fn requests(out: Output, received: u64, open: usize) {
    out.info(
        format_args!("received {received} requests, {open} connections open"),
        json!({"event": "requests", "received": received, "connections_open": open}),
    );
}

/// One line for a job that fired.
fn fired(out: Output, e: &Execution, exec: bool) {
    let runner = match &e.runner {
        Runner::Shell { command } if exec => format!("shell {command:?} (running)"),
        Runner::Shell { command } => format!("shell {command:?} (recorded, not run)"),
        Runner::Amqp {
            dsn,
            exchange,
            routing_key,
        } => format!("amqp {dsn} {exchange:?} {routing_key:?} (recorded, not published)"),
        other => format!("{other:?}"),
    };
    out.info(
        format_args!(
            "{} fired {:?} (due {}), rule {:?}, {runner}",
            e.fired_at, e.job, e.scheduled, e.rule
        ),
        json!({
            "event": "fired", "job": e.job, "rule": e.rule, "runner": runner,
            "scheduled": e.scheduled.to_string(), "fired_at": e.fired_at.to_string(),
        }),
    );
}

/// One line for a shell command that ended, with `--exec`.
fn ended(out: Output, run: &ShellRun) {
    let (event, how) = match &run.exit {
        Ok(Some(0)) => ("executed", "exit status 0: executed".to_owned()),
        Ok(Some(code)) => ("failed", format!("exit status {code}: failed")),
        Ok(None) => ("failed", "ended by a signal: failed".to_owned()),
        Err(why) => ("failed", format!("sh did not start ({why}): failed")),
    };
    out.info(
        format_args!("ran {:?} for {:?}, {how}", run.command, run.job),
        json!({
            "event": event, "job": run.job, "command": run.command,
            "exit_status": run.exit.as_ref().ok().copied().flatten(),
        }),
    );
}
