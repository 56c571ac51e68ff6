//! Schedules many jobs with one pipelined batch, and compares with one
//! request at a time.
//!
//! ```sh
//! cargo run --release --example bulk -- --jobs 100000 --window 1024 --connections 4
//! KAIROI_ADDR=127.0.0.1:5678 cargo run --release --example bulk -- --jobs 20000
//! ```
//!
//! Runs against `KAIROI_ADDR`, or an embedded `TestServer` when it is unset.
//! The jobs are dated 2099, so that a real server keeps them planned. The
//! last line is `N jobs in S s: R jobs/s` for the pipelined batch; the
//! line before it gives the rate of single requests (at most `--singles`,
//! default 1,000 or the job count if smaller).

use std::error::Error;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

use kairoi_std::{Client, DateTime, Instruction};
use kairoi_test_server::Target;

struct Args {
    jobs: usize,
    window: usize,
    connections: usize,
    singles: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        jobs: 100_000,
        window: 1024,
        connections: 1,
        singles: 1000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| -> Result<usize, String> {
            let v = it.next().ok_or(format!("{name} needs a value"))?;
            v.parse()
                .map_err(|_| format!("{name} expects a whole number, got {v:?}"))
        };
        match flag.as_str() {
            "--jobs" => args.jobs = value("--jobs")?,
            "--window" => args.window = value("--window")?,
            "--connections" => args.connections = value("--connections")?,
            "--singles" => args.singles = value("--singles")?,
            "-h" | "--help" => {
                return Err(
                    "usage: bulk [--jobs N] [--window W] [--connections C] [--singles M]".into(),
                );
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    args.singles = args.singles.min(args.jobs);
    Ok(args)
}

/// A progress bar on stderr: `[#####     ]  50% 500/1000`, redrawn in
/// place on a terminal, else printed once per quarter so logs stay short.
struct Progress {
    total: usize,
    terminal: bool,
    shown: Option<usize>,
}

impl Progress {
    fn new(total: usize) -> Self {
        Progress {
            total,
            terminal: std::io::stderr().is_terminal(),
            shown: None,
        }
    }

    fn update(&mut self, done: usize) {
        const WIDTH: usize = 40;
        let percent = (done * 100).checked_div(self.total).unwrap_or(100);
        let mark = if self.terminal { percent } else { percent / 25 };
        if self.shown == Some(mark) {
            return;
        }
        self.shown = Some(mark);
        let filled = percent * WIDTH / 100;
        let bar = format!(
            "[{}{}] {percent:3}% {done}/{}",
            "#".repeat(filled),
            " ".repeat(WIDTH - filled),
            self.total
        );
        let mut err = std::io::stderr();
        let _ = if self.terminal {
            write!(err, "\r{bar}").and_then(|()| err.flush())
        } else {
            writeln!(err, "{bar}")
        };
    }

    fn finish(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bulk: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, Box<dyn Error>> {
    let args = parse_args()?;
    let target = Target::from_env()?;
    eprintln!("Using {target}.");
    let addr = target.addr();
    let mut client = Client::builder()
        .window(args.window)
        .connections(args.connections)
        .connect(addr.as_str())?;
    let when: DateTime = "2099-01-01 00:00:00".parse()?;
    let run_id = std::process::id();

    // One request at a time: send, wait for the answer, send the next.
    let mut failures = 0;
    let start = Instant::now();
    for n in 0..args.singles {
        if client
            .set_job(format!("bulk.{run_id}.single.{n}"), when)
            .is_err()
        {
            failures += 1;
        }
    }
    let singles_secs = start.elapsed().as_secs_f64();

    // The pipelined batch, generated lazily, with a progress bar.
    let total = args.jobs;
    let mut done = 0;
    let mut errors: Vec<(usize, String)> = Vec::new();
    let batch = (0..total).map(|n| Instruction::set(format!("bulk.{run_id}.batch.{n}"), when));
    let mut bar = Progress::new(total);
    bar.update(0);
    let start = Instant::now();
    client.execute_each(batch, |index, result| {
        done += 1;
        if let Err(e) = result {
            errors.push((index, e.to_string()));
        }
        bar.update(done);
    });
    let secs = start.elapsed().as_secs_f64();
    bar.update(total);
    bar.finish();

    for (index, error) in errors.iter().take(5) {
        eprintln!("job {index}: {error}");
    }
    if failures + errors.len() > 0 {
        eprintln!(
            "{} single request(s) and {} batch request(s) failed",
            failures,
            errors.len()
        );
    }
    let rate = |count: usize, secs: f64| count as f64 / secs.max(1e-9);
    println!(
        "for comparison, one request at a time: {} requests, {singles_secs:.3} s, {:.0} jobs/s",
        args.singles,
        rate(args.singles, singles_secs),
    );
    println!(
        "{total} jobs in {secs:.3} s: {:.0} jobs/s",
        rate(total, secs)
    );
    Ok(failures == 0 && errors.is_empty())
}
