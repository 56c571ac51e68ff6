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
mod failed;
mod import;
mod input;
mod outcome;
mod serve;
mod single;
mod when;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use kairoi_std::Client;

use args::{Cli, Command};
use outcome::{BAD_INPUT, Failure, Output};

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
    let out = output(&cli);
    let result = match &cli.command {
        Command::Set { job, when } => single::set(&cli, job, when),
        Command::Rule {
            name,
            pattern,
            runner,
        } => single::rule(&cli, name, pattern, runner),
        Command::Import(args) => import::run(&cli, args),
        Command::Serve {
            listen,
            exec,
            report_every,
            ..
        } => serve::run(out, *listen, *exec, *report_every),
        Command::Bench { jobs, connections } => bench::run(&cli, *jobs, *connections),
    };
    result.unwrap_or_else(|failure| out.failure(&failure))
}

/// How the command prints, from the global options.
fn output(cli: &Cli) -> Output {
    Output {
        json: cli.json,
        quiet: cli.quiet,
    }
}

/// A client for the server at `--addr`, with `connections` connections
/// for batches. An address that is not `host:port` is bad input; a server
/// that cannot be reached is a "not sent" failure.
fn connect(cli: &Cli, connections: u16) -> Result<Client, Failure> {
    args::check_addr(&cli.addr).map_err(|e| {
        Failure::bad_input(format!(
            "bad server address (--addr, or KAIROI_ADDR): {e}; nothing was sent"
        ))
    })?;
    Client::builder()
        .connections(connections.into())
        .request_timeout(cli.timeout)
        .connect_timeout(cli.connect_timeout)
        .connect(cli.addr.as_str())
        .map_err(|e| Failure::not_sent(format!("{e}; nothing was sent")))
}
