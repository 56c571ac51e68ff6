//! `kairoi-cli`: a command-line client for the
//! [Kairoi](https://github.com/emerick42/kairoi) job scheduler (set jobs
//! and rules, import files of jobs, measure throughput) and a
//! Kairoi-compatible server in memory for local development.
//!
//! The exit code says how the request ended (see `kairoi-cli --help` and
//! the crate's README): 0 ok, 1 rejected, 2 not sent, 3 unknown, 4 timed
//! out, 64 bad input, 74 local I/O error.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod args;
mod bench;
mod bench_table;
mod by_server;
mod failed;
mod import;
mod input;
mod latency;
mod logging;
mod outcome;
mod proxy;
mod serve;
mod servers;
mod single;
mod traffic;
mod when;
mod which;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use kairoi_std::Client;

use args::{Cli, Command};
use outcome::{BAD_INPUT, Failure, Output};
use servers::Servers;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(BAD_INPUT),
            };
        }
    };
    let mut out = output(&cli);
    match logging::init(cli.verbose) {
        Ok(log) => out.log = log,
        Err(failure) => return out.failure(&failure),
    }
    let result = match &cli.command {
        Command::Set { job, when } => single::set(&cli, job, when),
        Command::Rule {
            name,
            pattern,
            runner,
        } => single::rule(&cli, name, pattern, runner),
        Command::Import(args) => import::run(out, &cli, args),
        Command::Serve {
            listen,
            exec,
            report_every,
            ..
        } => serve::run(out, *listen, *exec, *report_every),
        Command::Bench { jobs, connections } => bench::run(out, &cli, *jobs, connections),
        Command::Proxy {
            listen,
            connections,
        } => proxy::run(&cli, out, listen, *connections),
        Command::Which { jobs } => which::run(&cli, jobs),
    };
    result.unwrap_or_else(|failure| out.failure(&failure))
}

/// How the command prints, from the global options (`log` is set once
/// the log output is installed).
fn output(cli: &Cli) -> Output {
    Output {
        json: cli.json,
        quiet: cli.quiet,
        log: false,
    }
}

/// The servers of `--addr` (or `KAIROI_ADDR`); a list that cannot be
/// read, or that is split between before and after the command, is bad
/// input.
fn read_servers(cli: &Cli) -> Result<Servers, Failure> {
    let bad = |e: String| {
        Failure::bad_input(format!(
            "bad server address (--addr, or KAIROI_ADDR): {e}; nothing was sent"
        ))
    };
    if let Some(before) = args::addr_before_command(std::env::args_os()) {
        if before != cli.addr {
            return Err(bad(format!(
                "--addr is given both before the command ({}) and after it ({}), and only \
                 the values after it would count: give the whole list in one place",
                before.join(","),
                cli.addr.join(",")
            )));
        }
    }
    Servers::parse(&cli.addr).map_err(bad)
}

/// A client for `servers`, with `connections` connections (to each
/// server) for batches. A server that cannot be reached is a "not sent"
/// failure, naming it when there are several.
fn connect(cli: &Cli, servers: &Servers, connections: u16) -> Result<Client, Failure> {
    let builder = Client::builder()
        .connections(connections.into())
        .request_timeout(cli.timeout)
        .connect_timeout(cli.connect_timeout);
    servers
        .connect(builder)
        .map_err(|e| Failure::not_sent(format!("{e}; nothing was sent")))
}
