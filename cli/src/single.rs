//! `set` and `rule`: one instruction, what was sent and its outcome.

use std::process::ExitCode;

use jiff::Timestamp;
use kairoi_std::{Instruction, OutcomeKind, RequestError, Runner};
use serde_json::json;

use crate::args::{Cli, RunnerArgs};
use crate::outcome::{Failure, Report, applied, describe};
use crate::servers::Servers;
use crate::when::parse_when;

/// The body of `instruction` as it is written on the wire (arguments
/// quoted as needed), without the request identifier the client adds.
pub fn wire_body(instruction: &Instruction) -> String {
    let mut out = Default::default();
    instruction.encode_body(&mut out);
    String::from_utf8_lossy(&out).trim_start().to_owned()
}

/// `set JOB WHEN`.
pub fn set(cli: &Cli, job: &str, when: &str) -> Result<ExitCode, Failure> {
    let at = parse_when(when, Timestamp::now()).map_err(Failure::bad_input)?;
    let instruction = Instruction::set(job, at);
    let extra = json!({"command": "set", "job": job, "at": at.to_string()});
    send(cli, &instruction, extra)
}

/// `rule NAME PATTERN RUNNER ...`.
pub fn rule(
    cli: &Cli,
    name: &str,
    pattern: &str,
    runner: &RunnerArgs,
) -> Result<ExitCode, Failure> {
    let runner = match runner {
        RunnerArgs::Shell { command } => Runner::shell(command.as_str()),
        RunnerArgs::Amqp {
            dsn,
            exchange,
            routing_key,
        } => Runner::amqp(dsn.as_str(), exchange.as_str(), routing_key.as_str()),
    };
    let instruction = Instruction::rule_set(name, pattern, runner);
    let extra = json!({"command": "rule", "rule": name, "pattern": pattern});
    send(cli, &instruction, extra)
}

/// Sends one instruction, prints it and its outcome, and gives the exit
/// code of the outcome. Over several servers, a job's line names the
/// server it went to, and a rule's gives each server's result.
fn send(
    cli: &Cli,
    instruction: &Instruction,
    mut json: serde_json::Value,
) -> Result<ExitCode, Failure> {
    let wire = wire_body(instruction);
    let servers = crate::read_servers(cli)?;
    let mut client = crate::connect(cli, &servers, 1)?;
    let result = client.execute(instruction);
    let kind = OutcomeKind::of(&result);
    let applied = applied(&result);
    let human = match &result {
        Ok(()) => format!("{wire} => ok{}", where_ok(&servers, instruction)),
        // Each server's line says whether it was applied there.
        Err(e @ RequestError::Partial(_)) => format!("{wire} => {}", describe(e)),
        Err(e) => format!("{wire} => {} ({applied})", describe(e)),
    };
    if let Some(server) = job_server(&servers, instruction) {
        json["server"] = server.into();
    }
    if servers.several() && matches!(instruction, Instruction::RuleSet { .. }) {
        json["servers"] = each_server(&servers, &result);
    }
    json["wire"] = wire.into();
    json["outcome"] = kind.label().into();
    json["applied"] = applied.into();
    json["error"] = result.as_ref().err().map(ToString::to_string).into();
    json["exit_code"] = kind.exit_code().into();
    crate::output(cli).result(result.is_ok(), human, json);
    let _ = client.close();
    Ok(ExitCode::from(kind.exit_code()))
}

/// The name of the server a job goes to, over several servers.
fn job_server(servers: &Servers, instruction: &Instruction) -> Option<String> {
    match instruction {
        Instruction::Set { job, .. } if servers.several() => {
            let at = servers.place(job.as_str())?;
            servers.named().get(at).map(|s| s.name.clone())
        }
        _ => None,
    }
}

/// Where an instruction that ended `OK` went, over several servers:
/// ` on server beta` for a job, ` on every server (alpha, beta, gamma)`
/// for a rule; nothing with one server.
fn where_ok(servers: &Servers, instruction: &Instruction) -> String {
    if !servers.several() {
        return String::new();
    }
    match job_server(servers, instruction) {
        Some(name) => format!(" on server {name}"),
        None => {
            let names: Vec<&str> = servers.named().iter().map(|s| s.name.as_str()).collect();
            format!(" on every server ({})", names.join(", "))
        }
    }
}

/// A rule's result on each server, as JSON: `{"alpha": {"outcome": "ok",
/// "applied": "applied", "error": null}, ...}`.
fn each_server(servers: &Servers, result: &Result<(), RequestError>) -> serde_json::Value {
    let one = |r: &Result<(), RequestError>| {
        let kind = OutcomeKind::of(r);
        json!({
            "outcome": kind.label(),
            "applied": kind.applied(),
            "error": r.as_ref().err().map(describe),
        })
    };
    let mut each = serde_json::Map::new();
    match result {
        Err(RequestError::Partial(results)) => {
            for (name, r) in results {
                each.insert(name.to_string(), one(r));
            }
        }
        // Every server ended the same (all OK, or none reached).
        other => {
            for server in servers.named() {
                each.insert(server.name.clone(), one(other));
            }
        }
    }
    serde_json::Value::Object(each)
}
