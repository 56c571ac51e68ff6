//! `set` and `rule`: one instruction, what was sent and its outcome.

use std::process::ExitCode;

use jiff::Timestamp;
use kairoi_std::{Instruction, Runner};
use serde_json::json;

use crate::args::{Cli, RunnerArgs};
use kairoi_std::OutcomeKind;

use crate::outcome::{Failure, Report, describe};
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
/// code of the outcome.
fn send(
    cli: &Cli,
    instruction: &Instruction,
    mut json: serde_json::Value,
) -> Result<ExitCode, Failure> {
    let wire = wire_body(instruction);
    let mut client = crate::connect(cli, 1)?;
    let result = client.execute(instruction);
    let kind = OutcomeKind::of(&result);
    let human = match &result {
        Ok(()) => format!("{wire} => ok"),
        Err(e) => format!("{wire} => {} ({})", describe(e), kind.applied()),
    };
    json["wire"] = wire.into();
    json["outcome"] = kind.label().into();
    json["applied"] = kind.applied().into();
    json["error"] = result.as_ref().err().map(ToString::to_string).into();
    json["exit_code"] = kind.exit_code().into();
    crate::output(cli).result(result.is_ok(), human, json);
    let _ = client.close();
    Ok(ExitCode::from(kind.exit_code()))
}
