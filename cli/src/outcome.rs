//! Outcomes and how they are reported: exit codes, the human lines, the
//! JSON objects, and the tally of a batch.

use std::fmt::{self, Write as _};
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use kairoi_proto::ConnectionError;
use kairoi_std::{Cause, OutcomeKind, RequestError, Tally};
use serde_json::{Value, json};

/// How the command reports an outcome: its word, its exit code, and what
/// it says about whether the server applied the request. A line of input
/// that cannot become a request counts as [`OutcomeKind::Invalid`], and
/// is called bad input.
pub trait Report {
    /// The name used in summaries and JSON (`bad input` for
    /// [`OutcomeKind::Invalid`]).
    fn label(self) -> &'static str;
    /// The process exit code for this outcome (the table of `--help`).
    fn exit_code(self) -> u8;
    /// What this outcome says about whether the server applied it.
    fn applied(self) -> &'static str;
}

impl Report for OutcomeKind {
    fn label(self) -> &'static str {
        match self {
            OutcomeKind::Invalid => "bad input",
            other => other.name(),
        }
    }

    fn exit_code(self) -> u8 {
        match self {
            OutcomeKind::Ok => 0,
            OutcomeKind::Rejected => 1,
            OutcomeKind::NotSent => 2,
            OutcomeKind::TimedOut => 4,
            OutcomeKind::Invalid => BAD_INPUT,
            // Unknown, and whatever a later client adds: maybe applied.
            _ => 3,
        }
    }

    fn applied(self) -> &'static str {
        match self {
            OutcomeKind::Ok => "applied",
            OutcomeKind::Rejected | OutcomeKind::NotSent | OutcomeKind::Invalid => "not applied",
            _ => "may or may not have been applied",
        }
    }
}

/// What happened to a request, in words, starting with its outcome's
/// name (`rejected: ...`, `unknown: ...`); on a client over several
/// servers, naming the server (`not sent to server beta: ...`). A request
/// sent to every server (a rule) that did not end `OK` everywhere is
/// described as `failed on 1 of 3 servers:`, then a line per server with
/// its result and whether it was applied there.
pub fn describe(error: &RequestError) -> String {
    match error {
        RequestError::OnServer { server, error } => describe_on(error, Some(server)),
        RequestError::Partial(results) => describe_partial(results),
        other => describe_on(other, None),
    }
}

/// [`describe`] for what happened on one server, `server` when it has a
/// name.
fn describe_on(error: &RequestError, server: Option<&str>) -> String {
    // "rejected by server beta", "not sent to server beta", ...
    let on = |word: &str| {
        server
            .map(|name| format!(" {word} server {name}"))
            .unwrap_or_default()
    };
    let who = if server.is_some() { "it" } else { "the server" };
    match error {
        RequestError::Rejected => format!(
            "rejected{}: {who} answered ERROR (an invalid instruction, or the job is running now)",
            on("by")
        ),
        RequestError::TimedOut { timeout } => {
            format!("timed out{}: no answer within {timeout:?}", on("on"))
        }
        RequestError::NotSent { cause } => match not_kcp(cause) {
            Some(e) => format!("not sent{}: {}", on("to"), not_kcp_words(e)),
            None => format!("not sent{}: {cause}", on("to")),
        },
        RequestError::Unknown { cause } => match not_kcp(cause) {
            Some(e) => format!("unknown{}: written, then {}", on("on"), not_kcp_words(e)),
            None => format!(
                "unknown{}: written, then the connection ended ({cause})",
                on("on")
            ),
        },
        RequestError::Invalid(e) => format!("cannot be sent{}: {e}", on("to")),
        // Never nested in practice; described whole if they are.
        e @ (RequestError::OnServer { .. } | RequestError::Partial(_)) => describe(e),
        other => format!("unknown{}: {other}", on("on")),
    }
}

/// The result of a request on every server: `failed on 1 of 3 servers:`
/// and a line per server, `  beta: not sent: ... (not applied)`.
fn describe_partial(results: &[(Arc<str>, Result<(), RequestError>)]) -> String {
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    let mut text = format!("failed on {failed} of {} servers:", results.len());
    for (server, result) in results {
        let _ = match result {
            Ok(()) => write!(text, "\n  {server}: ok (applied)"),
            Err(e) => write!(
                text,
                "\n  {server}: {} ({})",
                describe(e),
                e.outcome_kind().applied()
            ),
        };
    }
    text
}

/// Whether a request's result says it was applied: the word of its
/// outcome ([`Report::applied`]), and for a request sent to every server
/// that some applied and others did not, `partly applied`.
pub fn applied(result: &Result<(), RequestError>) -> &'static str {
    match result {
        Err(RequestError::Partial(results)) if results.iter().any(|(_, r)| r.is_ok()) => {
            "partly applied"
        }
        other => OutcomeKind::of(other).applied(),
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
            code: OutcomeKind::NotSent.exit_code(),
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
    /// The clients' log is printed on stderr (`-v`, `KAIROI_LOG`).
    pub log: bool,
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

/// The most serious outcome in a tally: unknown, timed out, not sent,
/// rejected, bad input, else ok. Its exit code is the batch's.
pub fn worst(t: &Tally) -> OutcomeKind {
    [
        OutcomeKind::Unknown,
        OutcomeKind::TimedOut,
        OutcomeKind::NotSent,
        OutcomeKind::Rejected,
        OutcomeKind::Invalid,
    ]
    .into_iter()
    .find(|&kind| t.get(kind) > 0)
    .unwrap_or(OutcomeKind::Ok)
}

/// The summary of a batch as JSON: [`tally_json`], with `"summary":
/// true` and the batch's exit code.
pub fn summary_json(t: &Tally) -> Value {
    let mut summary = json!({"summary": true});
    if let (Value::Object(summary), Value::Object(counts)) = (&mut summary, tally_json(t)) {
        summary.extend(counts);
    }
    summary["exit_code"] = worst(t).exit_code().into();
    summary
}

/// The counts of a tally as JSON: `jobs` (the total), then each outcome.
pub fn tally_json(t: &Tally) -> Value {
    json!({
        "jobs": t.total(),
        "ok": t.ok,
        "rejected": t.rejected,
        "not_sent": t.not_sent,
        "unknown": t.unknown,
        "timed_out": t.timed_out,
        "bad_input": t.invalid,
    })
}

/// The summary of a batch in words: `N jobs: X ok, Y rejected, Z not
/// sent, U unknown, T timed out, B bad input`.
pub fn summary_line(t: &Tally) -> String {
    format!(
        "{}: {} ok, {} rejected, {} not sent, {} unknown, {} timed out, {} bad input",
        count(t.total(), "job", "jobs"),
        t.ok,
        t.rejected,
        t.not_sent,
        t.unknown,
        t.timed_out,
        t.invalid
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_outcome_decides_the_exit_code() {
        let mut t = Tally::default();
        assert_eq!(worst(&t).exit_code(), 0);
        t.add(OutcomeKind::Ok);
        t.add(OutcomeKind::Invalid);
        assert_eq!(worst(&t).exit_code(), 64);
        t.add(OutcomeKind::Rejected);
        assert_eq!(worst(&t), OutcomeKind::Rejected);
        t.add(OutcomeKind::NotSent);
        t.add(OutcomeKind::Unknown);
        assert_eq!(worst(&t).exit_code(), 3);
        assert_eq!(
            summary_line(&t),
            "5 jobs: 1 ok, 1 rejected, 1 not sent, 1 unknown, 0 timed out, 1 bad input"
        );
        let mut one = Tally::default();
        one.add(OutcomeKind::Invalid);
        let line = summary_line(&one);
        assert!(line.starts_with("1 job: 0 ok"), "{line}");
    }

    #[test]
    fn errors_on_a_server_name_it_and_a_rule_lists_every_server() {
        let refused = RequestError::NotSent {
            cause: Cause::connect("127.0.0.1:1", std::io::ErrorKind::ConnectionRefused.into()),
        };
        let on = |error: RequestError| RequestError::OnServer {
            server: "beta".into(),
            error: Box::new(error),
        };
        let text = describe(&on(refused.clone()));
        assert!(
            text.starts_with("not sent to server beta: cannot connect to 127.0.0.1:1"),
            "{text}"
        );
        let text = describe(&on(RequestError::Rejected));
        assert!(
            text.starts_with("rejected by server beta: it answered ERROR"),
            "{text}"
        );
        let timed_out = RequestError::TimedOut {
            timeout: std::time::Duration::from_secs(1),
        };
        assert_eq!(
            describe(&on(timed_out)),
            "timed out on server beta: no answer within 1s"
        );
        // Without a server, as before.
        assert!(describe(&RequestError::Rejected).starts_with("rejected: the server answered"));

        let partial = RequestError::Partial(vec![
            ("alpha".into(), Ok(())),
            ("beta".into(), Err(refused)),
            ("gamma".into(), Err(RequestError::Rejected)),
        ]);
        let text = describe(&partial);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "failed on 2 of 3 servers:", "{text}");
        assert_eq!(lines[1], "  alpha: ok (applied)", "{text}");
        assert!(
            lines[2].starts_with("  beta: not sent: cannot connect to 127.0.0.1:1")
                && lines[2].ends_with("(not applied)"),
            "{text}"
        );
        assert!(
            lines[3].starts_with("  gamma: rejected: the server answered ERROR"),
            "{text}"
        );
        assert_eq!(applied(&Err(partial.clone())), "partly applied");
        // It counts as its most serious failure: its exit code is 2.
        assert_eq!(partial.outcome_kind().exit_code(), 2);
    }
}
