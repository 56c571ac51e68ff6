//! `serve`: the in-memory `TestServer` on the real clock, for local
//! development, printing each job as it fires and, with `--exec`,
//! running shell runners: `sh COMMAND JOB_ID`, the job `Executed` on exit
//! status 0 and `Failed` otherwise, as the protocol describes (the
//! reference server marks it `Executed` once `sh` has started, whatever
//! the exit status).
//!
//! Ctrl-C takes the default action of SIGINT: the process ends, the
//! kernel closes its sockets (clients see their connection closed) and
//! nothing is lost that was ever kept, since everything is in memory. A
//! shell command started from a terminal gets the same SIGINT, as part of
//! the same foreground process group.

use std::net::SocketAddr;
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;

use kairoi_std::Runner;
use kairoi_std::testing::{Clock, Execution, RunOutcome, TestServer};
use serde_json::json;

use crate::outcome::{Failure, Output};

/// `serve [--listen ADDR] [--exec]`: runs until the process is ended.
pub fn run(out: Output, listen: SocketAddr, exec: bool) -> Result<ExitCode, Failure> {
    let server = TestServer::builder()
        .listen(listen)
        .clock(Clock::Real)
        .start()
        .map_err(|e| Failure::io(format!("cannot listen on {listen}: {e}")))?;
    let (fired, executions) = mpsc::channel::<Execution>();
    // The hook runs under the server's lock: it only hands the execution
    // over; a shell run stays Triggered until its command exits.
    server.set_run_outcome(move |execution| {
        let run = exec && matches!(execution.runner, Runner::Shell { .. });
        let _ = fired.send(execution.clone());
        if run {
            RunOutcome::Triggered
        } else {
            RunOutcome::Executed
        }
    });
    let addr = server.addr();
    out.info(
        format_args!(
            "listening on {addr}{}",
            if exec { " (running shell rules)" } else { "" }
        ),
        json!({"event": "listening", "addr": addr.to_string(), "exec": exec}),
    );
    std::thread::scope(|scope| {
        for execution in executions {
            match &execution.runner {
                Runner::Shell { command } if exec => {
                    let (server, command) = (&server, command.to_string());
                    scope.spawn(move || {
                        let outcome = shell(&command, &execution.job);
                        report(out, &execution, Some(&outcome));
                        let status = match outcome {
                            Ok(0) => RunOutcome::Executed,
                            _ => RunOutcome::Failed,
                        };
                        server.complete(&execution.job, status);
                    });
                }
                _ => report(out, &execution, None),
            }
        }
    });
    Ok(ExitCode::SUCCESS)
}

/// Runs `sh COMMAND JOB_ID` as Kairoi does, with no stdin, stdout or
/// stderr; gives its exit status (`-1` for a signal) or why it did not
/// start.
fn shell(command: &str, job: &str) -> Result<i32, String> {
    Command::new("sh")
        .arg(command)
        .arg(job)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.code().unwrap_or(-1))
        .map_err(|e| e.to_string())
}

/// One line for a job that fired (and, with `--exec`, how its command
/// ended).
fn report(out: Output, e: &Execution, run: Option<&Result<i32, String>>) {
    let runner = match &e.runner {
        Runner::Shell { command } => format!("shell {command:?}"),
        Runner::Amqp {
            dsn,
            exchange,
            routing_key,
        } => format!("amqp {dsn} {exchange:?} {routing_key:?} (recorded, not published)"),
        other => format!("{other:?}"),
    };
    let (status, outcome) = match run {
        None => (String::new(), "fired"),
        Some(Ok(0)) => (", exit status 0: executed".to_owned(), "executed"),
        Some(Ok(code)) => (format!(", exit status {code}: failed"), "failed"),
        Some(Err(why)) => (format!(", sh did not start ({why}): failed"), "failed"),
    };
    out.info(
        format_args!(
            "{} fired {:?} (due {}), rule {:?}, {runner}{status}",
            e.fired_at, e.job, e.scheduled, e.rule
        ),
        json!({
            "event": outcome, "job": e.job, "rule": e.rule, "runner": runner,
            "scheduled": e.scheduled.to_string(), "fired_at": e.fired_at.to_string(),
            "exit_status": run.and_then(|r| r.as_ref().ok().copied()),
        }),
    );
}
