//! Outcomes and how they are reported: exit codes, the human lines, the
//! JSON objects, and the tally of a batch.

use std::fmt;
use std::io::Write;
use std::process::ExitCode;

use kairoi_proto::ConnectionError;
use kairoi_std::{Cause, RequestError};
use serde_json::{Value, json};

/// How one request, or one line of input, ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Answered `OK`.
    Ok,
    /// Answered `ERROR`.
    Rejected,
    /// Never seen by the server.
    NotSent,
    /// Written, then the connection ended: maybe applied.
    Unknown,
    /// No answer within the request timeout: maybe applied.
    TimedOut,
    /// Could not be sent: bad input, nothing was written.
    BadInput,
}

impl Kind {
    /// The kind of a request's result.
    pub fn of(result: &Result<(), RequestError>) -> Kind {
        match result {
            Ok(()) => Kind::Ok,
            Err(RequestError::Rejected) => Kind::Rejected,
            Err(RequestError::NotSent { .. }) => Kind::NotSent,
            Err(RequestError::TimedOut { .. }) => Kind::TimedOut,
            Err(RequestError::Invalid(_)) => Kind::BadInput,
            // Unknown, and whatever a later client adds: maybe applied.
            Err(_) => Kind::Unknown,
        }
    }

    /// The name used in summaries and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ok => "ok",
            Kind::Rejected => "rejected",
            Kind::NotSent => "not sent",
            Kind::Unknown => "unknown",
            Kind::TimedOut => "timed out",
            Kind::BadInput => "bad input",
        }
    }

    /// The process exit code for this outcome (the table of `--help`).
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Ok => 0,
            Kind::Rejected => 1,
            Kind::NotSent => 2,
            Kind::Unknown => 3,
            Kind::TimedOut => 4,
            Kind::BadInput => BAD_INPUT,
        }
    }

    /// What this outcome says about whether the server applied it.
    pub fn applied(self) -> &'static str {
        match self {
            Kind::Ok => "applied",
            Kind::Rejected | Kind::NotSent | Kind::BadInput => "not applied",
            Kind::Unknown | Kind::TimedOut => "may or may not have been applied",
        }
    }
}

/// What happened to a request, in words, starting with its outcome's
/// name (`rejected: ...`, `unknown: ...`).
pub fn describe(error: &RequestError) -> String {
    match error {
        RequestError::Rejected => {
            "rejected: the server answered ERROR (an invalid instruction, or the job is running now)"
                .to_owned()
        }
        RequestError::TimedOut { timeout } => format!("timed out: no answer within {timeout:?}"),
        RequestError::NotSent { cause } => match not_kcp(cause) {
            Some(e) => format!("not sent: {}", not_kcp_words(e)),
            None => format!("not sent: {cause}"),
        },
        RequestError::Unknown { cause } => match not_kcp(cause) {
            Some(e) => format!("unknown: written, then {}", not_kcp_words(e)),
            None => format!("unknown: written, then the connection ended ({cause})"),
        },
        RequestError::Invalid(e) => format!("cannot be sent: {e}"),
        other => format!("unknown: {other}"),
    }
}

/// The protocol error of a connection closed because the server's answer
/// was not KCP: bytes that are not a message, or a message that is not an
/// answer to a request of the connection. `None` for a connection that
/// merely ended.
fn not_kcp(cause: &Cause) -> Option<&ConnectionError> {
    match cause {
        Cause::Protocol(
            e @ (ConnectionError::Malformed(_)
            | ConnectionError::WrongArgumentCount { .. }
            | ConnectionError::UnknownStatus { .. }
            | ConnectionError::UnmatchedResponse { .. }
            | ConnectionError::DuplicateResponse { .. }),
        ) => Some(e),
        _ => None,
    }
}

/// What a non-KCP answer was, in words: the core keeps no copy of the
/// bytes received, only what it found wrong with them (with an excerpt of
/// the identifier or status when it got that far).
fn not_kcp_words(e: &ConnectionError) -> String {
    format!(
        "the server's answer was not KCP ({e}) and the connection was closed: is this a Kairoi server?"
    )
}

/// `n` and the noun, singular for 1: `1 job`, `2 jobs`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The exit code of a usage error or a value that cannot be sent.
pub const BAD_INPUT: u8 = 64;
/// The exit code of a local I/O failure (a file, a listening address).
pub const IO_ERROR: u8 = 74;

/// A failure of the command itself, before or around its requests.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// What went wrong, naming the value.
    pub message: String,
}

impl Failure {
    /// A value that cannot be sent.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Failure {
            code: BAD_INPUT,
            message: message.into(),
        }
    }

    /// A local I/O failure.
    pub fn io(message: impl Into<String>) -> Self {
        Failure {
            code: IO_ERROR,
            message: message.into(),
        }
    }

    /// The server could not be reached: nothing was sent.
    pub fn not_sent(message: impl Into<String>) -> Self {
        Failure {
            code: Kind::NotSent.exit_code(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// How output is printed: human lines or JSON objects on stdout, and
/// whether successes are printed at all.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// One JSON object per line on stdout.
    pub json: bool,
    /// Print only failures.
    pub quiet: bool,
}

impl Output {
    /// Prints a result: a failure always on stderr as `human`; with
    /// `--json` the object `json` on stdout, else a success as `human` on
    /// stdout unless quiet.
    pub fn result(&self, ok: bool, human: impl fmt::Display, json: Value) {
        if !ok {
            eprintln!("{human}");
        }
        if self.json {
            self.json_line(&json);
        } else if ok && !self.quiet {
            println!("{human}");
        }
    }

    /// Prints an informational line (stdout), unless quiet; `json` with
    /// `--json`, which quiet does not silence.
    pub fn info(&self, human: impl fmt::Display, json: Value) {
        if self.json {
            self.json_line(&json);
        } else if !self.quiet {
            println!("{human}");
        }
    }

    /// Writes one JSON object and a line feed on stdout, and flushes it.
    pub fn json_line(&self, value: &Value) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{value}");
        let _ = out.flush();
    }

    /// Reports a failure of the command and gives its exit code.
    pub fn failure(&self, failure: &Failure) -> ExitCode {
        eprintln!("kairoi-cli: {failure}");
        if self.json {
            self.json_line(&json!({"error": failure.message, "exit_code": failure.code}));
        }
        ExitCode::from(failure.code)
    }
}

/// The counts of a batch, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Answered OK.
    pub ok: u64,
    /// Answered ERROR.
    pub rejected: u64,
    /// Never seen by the server.
    pub not_sent: u64,
    /// Maybe applied: the connection ended.
    pub unknown: u64,
    /// Maybe applied: no answer in time.
    pub timed_out: u64,
    /// Bad input, never sent.
    pub bad_input: u64,
}

impl Tally {
    /// Counts one outcome.
    pub fn add(&mut self, kind: Kind) {
        *match kind {
            Kind::Ok => &mut self.ok,
            Kind::Rejected => &mut self.rejected,
            Kind::NotSent => &mut self.not_sent,
            Kind::Unknown => &mut self.unknown,
            Kind::TimedOut => &mut self.timed_out,
            Kind::BadInput => &mut self.bad_input,
        } += 1;
    }

    /// Every counted line.
    pub fn total(&self) -> u64 {
        self.ok + self.failed()
    }

    /// Every line that did not end OK.
    pub fn failed(&self) -> u64 {
        self.rejected + self.not_sent + self.unknown + self.timed_out + self.bad_input
    }

    /// The most serious outcome present: unknown, timed out, not sent,
    /// rejected, bad input, else ok. Its exit code is the batch's.
    pub fn worst(&self) -> Kind {
        [
            (self.unknown, Kind::Unknown),
            (self.timed_out, Kind::TimedOut),
            (self.not_sent, Kind::NotSent),
            (self.rejected, Kind::Rejected),
            (self.bad_input, Kind::BadInput),
        ]
        .into_iter()
        .find(|&(count, _)| count > 0)
        .map_or(Kind::Ok, |(_, kind)| kind)
    }

    /// The summary as JSON.
    pub fn to_json(self) -> Value {
        json!({
            "summary": true,
            "jobs": self.total(),
            "ok": self.ok,
            "rejected": self.rejected,
            "not_sent": self.not_sent,
            "unknown": self.unknown,
            "timed_out": self.timed_out,
            "bad_input": self.bad_input,
            "exit_code": self.worst().exit_code(),
        })
    }
}

impl fmt::Display for Tally {
    /// `N jobs: X ok, Y rejected, Z not sent, U unknown, T timed out, B bad input`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} ok, {} rejected, {} not sent, {} unknown, {} timed out, {} bad input",
            count(self.total(), "job", "jobs"),
            self.ok,
            self.rejected,
            self.not_sent,
            self.unknown,
            self.timed_out,
            self.bad_input
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_outcome_decides_the_exit_code() {
        let mut t = Tally::default();
        assert_eq!(t.worst().exit_code(), 0);
        t.add(Kind::Ok);
        t.add(Kind::BadInput);
        assert_eq!(t.worst().exit_code(), 64);
        t.add(Kind::Rejected);
        assert_eq!(t.worst(), Kind::Rejected);
        t.add(Kind::NotSent);
        t.add(Kind::Unknown);
        assert_eq!(t.worst().exit_code(), 3);
        assert_eq!(
            t.to_string(),
            "5 jobs: 1 ok, 1 rejected, 1 not sent, 1 unknown, 0 timed out, 1 bad input"
        );
        let mut one = Tally::default();
        one.add(Kind::BadInput);
        assert!(one.to_string().starts_with("1 job: 0 ok"), "{one}");
    }
}
