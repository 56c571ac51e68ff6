//! The command line: global options and one subcommand each, with the
//! examples and the exit-code table shown by `--help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::when;

/// The exit codes, as `--help` and the README show them.
pub const EXIT_CODES: &str = "\
Exit codes:
  0   ok: every request was answered OK
  1   rejected: the server answered ERROR
  2   not sent: the server never saw the request (safe to send again)
  3   unknown: the request was written, then the connection ended; the server may or may not have applied it
  4   timed out: no answer within --timeout; the server may still apply it
  64  bad input: a usage error, or a value (job, time, line of a file) that cannot be sent
  74  local I/O error: a file that cannot be read or written, an address that cannot be bound
For import, the code of the most serious failure among the lines (3, 4, 2, 1, then 64, in that order).";

const EXAMPLES: &str = "\
Examples:
  kairoi-cli serve --exec                           # a local server that runs shell rules
  kairoi-cli rule mail app.mail. shell /usr/bin/send-mail
  kairoi-cli set app.mail.welcome +5m
  kairoi-cli set app.mail.report '2030-01-01 08:00:00'
  kairoi-cli import jobs.jsonl --connections 4 --failed retry.jsonl
  kairoi-cli --addr 10.0.0.7:5678 --json set app.x 2030-01-01T09:00:00+01:00
  kairoi-cli --addr a=10.0.0.1:5678 --addr b=10.0.0.2:5678 import jobs.jsonl
  KAIROI_ADDR=a=10.0.0.1:5678,b=10.0.0.2:5678 kairoi-cli which app.mail.42";

/// How to see what the client does, as `--help` says it.
pub const LOGGING: &str = "\
Logging (stderr):
  -v shows the clients' connection events (connected, closed, ended, failed attempts), -vv
  also a line per request (its operation, identifier, queue time, round trip, attempts and
  outcome). KAIROI_LOG takes directives in the EnvFilter form, such as kairoi_client=debug
  or warn, added to the level of -v. Without either, nothing more is printed; with either,
  import draws no progress bar.";

/// What several servers mean, as `--help` and the README say it.
pub const SEVERAL_SERVERS: &str = "\
Several servers:
  --addr name=host:port, repeated or separated by commas (KAIROI_ADDR=a=10.0.0.1:5678,b=...).
  Give each server a name that lasts as long as its data. One --addr host:port without a name
  is one server, as always, with no placement.
  Each job goes to one server, chosen from its identifier and the servers' names by rendezvous
  hashing, as the kairoi-std, kairoi-tokio and kairoi-smol clients place it: always the same
  server while the list of names is unchanged, whatever its order. The name decides, not the address: a server
  moved to a new address keeps its name, and so its jobs. Rules go to every server.
  `kairoi-cli which JOB...` shows where jobs go; it needs no connection.
  Adding a server to n, or removing one of n+1, moves about 1/(n+1) of the jobs. A moved job's
  old schedule stays on its old server, which still fires it: import the moved jobs again under
  the new list (`which` under each list tells which moved), and expect at-least-once: a moved
  job may run on both.
  No failover: a job never goes to another server. A server that goes down fails its own jobs,
  naming it, and the others go on (import --failed FILE keeps them, to import again), also when
  it is down when the command starts; only when no server can be reached is nothing sent.";

/// A command-line client for the Kairoi job scheduler, and a local server
/// for development.
#[derive(Debug, Parser)]
#[command(
    name = "kairoi-cli",
    version,
    about,
    after_help = format!("{EXAMPLES}\n\n{SEVERAL_SERVERS}\n\n{LOGGING}\n\n{EXIT_CODES}")
)]
pub struct Cli {
    /// The server, `host:port`; or several, each `name=host:port` (repeat --addr, or separate with commas).
    #[arg(
        long,
        global = true,
        env = "KAIROI_ADDR",
        default_value = "127.0.0.1:5678",
        value_name = "[NAME=]HOST:PORT"
    )]
    pub addr: Vec<String>,
    /// How long each request may wait for its answer: `30s`, `500ms`, `2m` or seconds (more than 0).
    #[arg(long, global = true, value_parser = when::parse_timeout, default_value = "30s")]
    pub timeout: Duration,
    /// How long opening a connection may take (more than 0).
    #[arg(long, global = true, value_parser = when::parse_timeout, default_value = "5s")]
    pub connect_timeout: Duration,
    /// Print only failures: no progress bar, no line per success, no summary.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Machine-readable output on stdout: one JSON object per result or summary.
    #[arg(long, global = true)]
    pub json: bool,
    /// The clients' log on stderr: -v connection events (info), -vv a line per request (debug); see KAIROI_LOG below.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or reschedule a job.
    #[command(after_help = format!("\
WHEN is one of:
  2030-01-01 08:00:00          the wire form, UTC
  2030-01-01T09:00:00+01:00    RFC 3339 with any offset, converted to UTC
  now, +90s, +5m, +2h, +1d     relative to now (also -10m, +1h30m)

Examples:
  kairoi-cli set app.mail.welcome +5m
  kairoi-cli set 'report \"daily\"' '2030-01-01 08:00:00'

{EXIT_CODES}"))]
    Set {
        /// The job identifier: any text, quoted on the wire when needed.
        job: String,
        /// When it runs (see below).
        when: String,
    },
    /// Create or replace a rule: jobs whose identifier starts with PATTERN run with its runner.
    #[command(after_help = format!("\
Examples:
  kairoi-cli rule mail app.mail. shell /usr/bin/send-mail
  kairoi-cli rule events app.event. amqp amqp://guest:guest@localhost:5672/%2f jobs app.event
  kairoi-cli rule everything '' shell ./on-job.sh     # the empty pattern matches every job

{EXIT_CODES}"))]
    #[command(
        subcommand_value_name = "RUNNER",
        subcommand_help_heading = "Runners",
        disable_help_subcommand = true
    )]
    Rule {
        /// The rule identifier.
        name: String,
        /// The job-identifier prefix it matches (the longest match wins).
        pattern: String,
        /// The runner.
        #[command(subcommand)]
        runner: RunnerArgs,
    },
    /// Set every job of a JSON Lines or CSV file, pipelined.
    #[command(after_help = format!("\
Input, one job a line, WHEN forms as for `set`:
  JSON Lines:  {{\"job\": \"app.mail.1\", \"at\": \"2030-01-01 08:00:00\"}}
  CSV:         a header `job,at`, then one record a line
The format comes from --format, else the file's extension (.jsonl, .ndjson, .json, .csv),
else the first byte that is not white space (`{{` for JSON Lines).
Relative times (+5m) count from the start of the import.

The first 10 failed lines are described on stderr as `line N: reason`, the others
counted; --failed FILE keeps every one. Bad lines are not sent.
The summary gives the jobs by outcome, then what the connections did:
  1000 jobs: 880 ok, 100 rejected, 0 not sent, 0 unknown, 0 timed out, 20 bad input in 0.05 s (20167 jobs/s)
  connections: 1 made, 0 failed attempts; 34.2 kB written, 6.1 kB read

Examples:
  kairoi-cli import jobs.jsonl
  generate-jobs | kairoi-cli import - --format csv --connections 4
  kairoi-cli import jobs.csv --failed retry.csv && echo all set

{EXIT_CODES}"))]
    Import(ImportArgs),
    /// Run a Kairoi-compatible server in memory, for local development.
    #[command(after_help = "\
It keeps everything in memory and is not a production server: no persistence, no limits
on what it stores. Each job prints a line as it fires. Without --exec no runner runs;
with --exec a shell rule runs `sh COMMAND JOB_ID` (stdin, stdout and stderr null), the job
Triggered while it runs, then Executed on exit status 0 and Failed otherwise, with a line
when it ends (the reference Kairoi server marks a job Executed when its sh ends, whatever
the exit status). AMQP rules are recorded, never published.
Ctrl-C ends it: the process exits and its sockets close; nothing is kept.

The first line printed is `listening on ADDR` (with --json: {\"event\":\"listening\",\"addr\":...}).
With --report-every N, a line each time another N requests have been received, over every
connection: `received 50000 requests, 2 connections open`.

Examples:
  kairoi-cli serve --exec
  kairoi-cli serve --listen 127.0.0.1:0 --json
  kairoi-cli serve --report-every 100000")]
    Serve {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:5678")]
        listen: SocketAddr,
        /// Run shell runners for real.
        #[arg(long)]
        exec: bool,
        /// Print a line each time another N requests have been received.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        report_every: Option<u64>,
        /// Not an option of `serve`: the client commands' `--addr`, refused
        /// here, and hidden, so that `serve --help` shows only its own
        /// options (an argument of the same name keeps the global one out).
        #[arg(long, hide = true, value_parser = not_for_serve::<String>)]
        addr: Option<String>,
        /// Not an option of `serve` (see `addr`).
        #[arg(long, hide = true, value_parser = not_for_serve::<Duration>)]
        timeout: Option<Duration>,
        /// Not an option of `serve` (see `addr`).
        #[arg(long, hide = true, value_parser = not_for_serve::<Duration>)]
        connect_timeout: Option<Duration>,
    },
    /// Print which server each job identifier goes to (with no connection).
    #[command(after_help = format!("\
For each JOB, the server it goes to among the named servers of --addr (or KAIROI_ADDR): its
name and address, as every client with the same list of names places it. Nothing is sent,
so it works while servers are down. With one server without a name, every job goes to it.
With --json, one object per JOB: {{\"job\", \"server\" (null without names), \"addr\", \"placed\"}}.

Examples:
  kairoi-cli --addr a=10.0.0.1:5678 --addr b=10.0.0.2:5678 which app.mail.42 app.mail.43
  KAIROI_ADDR=a=10.0.0.1:5678,b=10.0.0.2:5678 kairoi-cli --json which app.mail.42

{SEVERAL_SERVERS}"))]
    Which {
        /// The job identifiers.
        #[arg(required = true, value_name = "JOB")]
        jobs: Vec<String>,
    },
    /// Serve one address in front of the servers of --addr, for KCP clients in any language.
    #[command(after_help = format!("\
Downstream it is a Kairoi server: any KCP client (the official PHP client included, which opens
a connection per request) talks to it unchanged. Upstream it is the client of the other
commands: each job goes to the server it is placed on, each rule to every server (OK only when
every server said OK), over --connections pooled, pipelined connections per server however many
clients come and go. Bodies go upstream as they came, and the servers decide what is valid; a body
no Kairoi server accepts (an unknown instruction, a wrong number of arguments) is answered ERROR
at once, as Kairoi answers it. A request that cannot be completed upstream (a server down, no
answer within --timeout) is answered ERROR, the protocol's only other word, and its reason is
logged on stderr.

The first line printed is `listening on ADDR (forwarding to ...)` (with --json:
{{\"event\":\"listening\",\"addr\":...}}). SIGINT or SIGTERM stops it gracefully: no new
connection, the requests read are finished and answered (within --timeout), then a line
`stopped after ...` and exit 0.

Examples:
  kairoi-cli proxy --listen 127.0.0.1:5678 --addr a=10.0.0.1:5678 --addr b=10.0.0.2:5678
  KAIROI_ADDR=a=10.0.0.1:5678,b=10.0.0.2:5678 kairoi-cli proxy --listen 0.0.0.0:5678 --connections 4

{SEVERAL_SERVERS}"))]
    Proxy {
        /// The address to listen on, `host:port` (port 0: any free port).
        #[arg(long, value_name = "HOST:PORT")]
        listen: String,
        /// How many connections to each server.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=256))]
        connections: u16,
    },
    /// Measure pipelined SET throughput and latency against the server.
    #[command(after_help = "\
Sends N jobs (`bench.<pid>.<n>`, one day ahead) in one pipelined batch over C connections,
and prints the jobs per second and the latency percentiles (p50, p90, p99, p99.9, max) of
the requests: each request's time as the client measures it, from when the batch took it
into its window to its outcome. With a list, --connections 1,2,4,8, it runs one batch per
value, each on new connections, and prints one row each (with --json, one object per row).
Then the client's own protocol cost per request: the same jobs encoded and their answers
decoded by the protocol core in memory, with no I/O.

Examples:
  kairoi-cli serve &
  kairoi-cli bench --jobs 200000 --connections 4
  kairoi-cli --json bench --connections 1,2,4,8")]
    Bench {
        /// How many jobs in each batch.
        #[arg(long, default_value_t = 100_000)]
        jobs: usize,
        /// How many connections (to each server), from 1 to 256; a list such as 1,2,4,8 runs one batch per value.
        #[arg(
            long,
            default_value = "1",
            value_delimiter = ',',
            value_name = "C[,C...]",
            value_parser = parse_connections
        )]
        connections: Vec<u16>,
    },
}

/// The most connections to each server.
pub const MAX_CONNECTIONS: u16 = 256;

/// A number of connections, from 1 to [`MAX_CONNECTIONS`].
fn parse_connections(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(n @ 1..=MAX_CONNECTIONS) => Ok(n),
        _ => Err(format!(
            "{text:?} is not a number of connections from 1 to {MAX_CONNECTIONS}"
        )),
    }
}

/// Checks the shape of a server address: `host:port`, a port from 1 to
/// 65535, an IPv6 address in brackets. The host is resolved when
/// connecting. Checked by the commands that connect, not when parsing, so
/// that a `KAIROI_ADDR` of another shape does not stop `serve`.
pub fn check_addr(text: &str) -> Result<(), String> {
    const EXPECTED: &str =
        "expected host:port, such as 127.0.0.1:5678, localhost:5678 or [::1]:5678";
    if text.trim().is_empty() {
        return Err(format!("it is empty: {EXPECTED}"));
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!("{text:?} has no port: {EXPECTED}"));
    };
    if host.is_empty() {
        return Err(format!("{text:?} has no host: {EXPECTED}"));
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(format!(
            "{text:?}: an IPv6 address goes in brackets, [{host}]:{port}; {EXPECTED}"
        ));
    }
    match port.parse::<u16>() {
        Ok(1..) => Ok(()),
        _ => Err(format!(
            "{text:?}: the port {port:?} is not a number from 1 to 65535; {EXPECTED}"
        )),
    }
}

/// The `--addr` values given before the command, when there are some on
/// the command line (not from `KAIROI_ADDR` or the default).
///
/// A global option given both before and after the command keeps only
/// the values after it, which for a list of servers would silently drop
/// some of them and place jobs differently; the caller compares these
/// with the values in force to refuse a list split in two. `args` is the
/// whole command line, the program's name first.
pub fn addr_before_command<I, T>(args: I) -> Option<Vec<String>>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    // The options before the command, then the command and the rest of
    // the line as they are.
    let top = Cli::command();
    let probe = top.get_arguments().fold(
        clap::Command::new("kairoi-cli")
            .allow_external_subcommands(true)
            .disable_help_flag(true)
            .disable_version_flag(true),
        |probe, arg| probe.arg(arg.clone().global(false)),
    );
    let matches = probe.try_get_matches_from(args).ok()?;
    if matches.value_source("addr") != Some(clap::parser::ValueSource::CommandLine) {
        return None;
    }
    Some(matches.get_many::<String>("addr")?.cloned().collect())
}

/// The value parser of the client options under `serve`: always an error.
fn not_for_serve<T>(_: &str) -> Result<T, &'static str> {
    Err("not an option of serve, which listens on --listen ADDR; \
         --addr, --timeout and --connect-timeout are for the commands that talk to a server")
}

/// `rule ... shell COMMAND` or `rule ... amqp DSN EXCHANGE ROUTING_KEY`.
#[derive(Debug, Subcommand)]
pub enum RunnerArgs {
    /// Run `sh COMMAND JOB_ID`.
    Shell {
        /// The command or script path.
        command: String,
    },
    /// Publish the job identifier to an AMQP exchange.
    Amqp {
        /// The server, `amqp://user:pass@host:port/vhost`.
        dsn: String,
        /// The exchange.
        exchange: String,
        /// The routing key.
        routing_key: String,
    },
}

/// The options of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file, or `-` (the default) for stdin.
    #[arg(default_value = "-")]
    pub file: PathBuf,
    /// The input format (default: from the extension, else the content).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// How many connections to pipeline over (to each server).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub connections: u16,
    /// Write the failed lines to this file, in the input's format, to import it again.
    #[arg(long, value_name = "FILE")]
    pub failed: Option<PathBuf>,
}

/// An input format of `import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object a line: `{"job": "...", "at": "..."}`.
    Jsonl,
    /// A header `job,at`, then one record a line.
    Csv,
}
