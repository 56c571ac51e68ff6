//! `import`: every job of a file, streamed through one pipelined batch
//! of the client, with bounded memory, a progress bar on a terminal, one
//! line on stderr for each of the first [`SHOWN`] failed lines, and a
//! summary: the client's stats snapshot, with the bad lines, which never
//! became requests, added.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use jiff::Timestamp;
use kairoi_std::stats::Stats;
use kairoi_std::{Instruction, OutcomeKind, RequestError, Text};
use serde_json::json;

use crate::args::{Cli, ImportArgs};
use crate::by_server::ByServer;
use crate::failed::FailedWriter;
use crate::input::{Raw, Records, read_error};
use crate::outcome::{
    Failure, IO_ERROR, Output, Report, count, describe, summary_json, summary_line, worst,
};
use crate::servers::Servers;
use crate::traffic;

/// How many failed lines are described on stderr; the others are counted
/// in the summary, and kept in the `--failed` file.
pub const SHOWN: u64 = 10;

/// A line sent and not answered yet.
struct Pending {
    line: u64,
    job: Text,
    raw: Raw,
}

/// The lines sent and not answered yet, by their index in the batch:
/// indices come in order and leave in any order, so a queue from the
/// oldest unanswered one holds them, with no hashing.
#[derive(Default)]
struct InFlight {
    first: usize,
    slots: VecDeque<Option<Pending>>,
}

impl InFlight {
    /// Keeps the line of index `first + slots.len()`, the next one.
    fn push(&mut self, pending: Pending) -> usize {
        self.slots.push_back(Some(pending));
        self.first + self.slots.len() - 1
    }

    /// Takes back the line of `index`.
    fn take(&mut self, index: usize) -> Option<Pending> {
        let taken = self.slots.get_mut(index.checked_sub(self.first)?)?.take();
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.first += 1;
        }
        taken
    }
}

/// A job identifier for a message: quoted, at most 80 characters of it.
fn excerpt(job: &str) -> String {
    match job.char_indices().nth(80) {
        Some((cut, _)) => format!("{:?}...", &job[..cut]),
        None => format!("{job:?}"),
    }
}

/// What the batch's two sides share: the reader's thread records the
/// lines it sends and reports the bad ones, the caller's thread reports
/// the results.
struct Reporter {
    out: Output,
    bar: ProgressBar,
    read: Arc<AtomicU64>,
    start: Instant,
    last_draw: Instant,
    /// The lines ended so far, sent or not, for the progress bar.
    done: u64,
    /// The bad lines: reported, never sent, so not in the client's
    /// counts.
    bad: u64,
    in_flight: InFlight,
    visible: bool,
    failed: Option<FailedWriter>,
    failed_error: Option<std::io::Error>,
    columns: (usize, usize),
    read_error: Option<(u64, std::io::Error)>,
    /// The failed lines described on stderr so far.
    shown: u64,
}

fn lock(m: &Mutex<Reporter>) -> MutexGuard<'_, Reporter> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Reporter {
    /// Counts a line that ended with `kind` (and `error`); when it
    /// failed, describes it on stderr if fewer than [`SHOWN`] were, gives
    /// it as JSON with `--json`, and keeps it in the file of failed lines.
    fn record(&mut self, line: u64, job: Option<&str>, raw: &Raw, kind: OutcomeKind, error: &str) {
        self.done += 1;
        if kind != OutcomeKind::Ok {
            let who = job
                .map(|j| format!("job {}: ", excerpt(j)))
                .unwrap_or_default();
            let human = match kind {
                OutcomeKind::Invalid => format!("line {line}: {who}{error}"),
                _ => format!("line {line}: {who}{error} ({})", kind.applied()),
            };
            let json = json!({
                "line": line, "job": job, "outcome": kind.label(),
                "applied": kind.applied(), "error": error,
            });
            let (out, show) = (self.out, self.shown < SHOWN);
            self.shown += u64::from(show);
            self.bar.suspend(|| {
                if show {
                    eprintln!("{human}");
                }
                if out.json {
                    out.json_line(&json);
                }
            });
            if let Some(w) = &mut self.failed {
                if let Err(e) = w.write(raw, self.columns) {
                    self.failed_error.get_or_insert(e);
                }
            }
        }
        self.draw(false);
    }

    /// Moves the progress bar, at most ten times a second.
    fn draw(&mut self, force: bool) {
        if !force && (!self.visible || self.done % 256 != 0) {
            return;
        }
        let now = Instant::now();
        if !force && now.duration_since(self.last_draw) < Duration::from_millis(100) {
            return;
        }
        self.last_draw = now;
        let done = self.done;
        let rate = done as f64 / now.duration_since(self.start).as_secs_f64().max(1e-3);
        self.bar.set_position(self.read.load(Ordering::Relaxed));
        self.bar
            .set_message(format!("{done} jobs, {rate:.0} jobs/s"));
    }

    /// The result of the `index`th line sent.
    fn finish(&mut self, index: usize, result: Result<(), RequestError>) {
        let Some(p) = self.in_flight.take(index) else {
            return;
        };
        let kind = OutcomeKind::of(&result);
        let error = result.err().map(|e| describe(&e)).unwrap_or_default();
        self.record(p.line, Some(p.job.as_str()), &p.raw, kind, &error);
    }
}

/// The lines to send, as instructions; bad lines are reported and
/// skipped, every line sent is remembered until its result.
struct Feed {
    records: Records,
    reporter: Arc<Mutex<Reporter>>,
    /// The records ended.
    ended: bool,
}

impl Iterator for Feed {
    type Item = Instruction;

    fn next(&mut self) -> Option<Instruction> {
        // The client may ask again after the end: the records are not
        // read again (a read error would be read, and reported, twice).
        if self.ended {
            return None;
        }
        loop {
            let Some(record) = self.records.next() else {
                self.ended = true;
                lock(&self.reporter).read_error = self.records.error.take();
                return None;
            };
            let mut r = lock(&self.reporter);
            match record.job {
                Ok((job, at)) => {
                    let job = Text::from(job);
                    let instruction = Instruction::set(job.clone(), at);
                    let pending = Pending {
                        line: record.line,
                        job,
                        raw: record.raw,
                    };
                    r.in_flight.push(pending);
                    return Some(instruction);
                }
                Err(why) => {
                    r.bad += 1;
                    r.record(record.line, None, &record.raw, OutcomeKind::Invalid, &why);
                }
            }
        }
    }
}

/// The progress bar: a bar over the file's bytes when its size is known,
/// a spinner otherwise; hidden unless stderr is a terminal.
fn progress(size: Option<u64>, out: Output) -> ProgressBar {
    if out.quiet || out.log || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match size {
        Some(size) => ProgressBar::new(size).with_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg}, ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// `import [FILE|-]`.
pub fn run(out: Output, cli: &Cli, args: &ImportArgs) -> Result<ExitCode, Failure> {
    let stdin = args.file == Path::new("-");
    let path = (!stdin).then_some(args.file.as_path());
    let read = Arc::new(AtomicU64::new(0));
    let keep_raw = args.failed.is_some();
    let servers = crate::read_servers(cli)?;
    let open = |read| Records::open(path, args.format, Timestamp::now(), read, keep_raw);
    // A file is opened first, so that one that cannot be read is reported
    // without a connection. Stdin may wait for whatever writes it: the
    // servers are reached first, so that one that cannot be is reported
    // at once rather than once input comes.
    let (records, mut client) = if stdin {
        let client = crate::connect(cli, &servers, args.connections)?;
        (open(read.clone())?, client)
    } else {
        let records = open(read.clone())?;
        (records, crate::connect(cli, &servers, args.connections)?)
    };
    let failed = match &args.failed {
        Some(file) => Some(
            FailedWriter::create(file, records.format())
                .map_err(|e| Failure::io(format!("cannot create {}: {e}", file.display())))?,
        ),
        None => None,
    };
    let size = path
        .and_then(|p| std::fs::metadata(p).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len());
    let now = Instant::now();
    let bar = progress(size, out);
    let visible = !bar.is_hidden();
    let reporter = Arc::new(Mutex::new(Reporter {
        out,
        bar,
        read,
        start: now,
        last_draw: now,
        done: 0,
        bad: 0,
        in_flight: InFlight::default(),
        visible,
        failed,
        failed_error: None,
        columns: records.columns(),
        read_error: None,
        shown: 0,
    }));
    let feed = Feed {
        records,
        reporter: reporter.clone(),
        ended: false,
    };
    let counters = client.stats_handle();
    client.execute_each(feed, |index, result| lock(&reporter).finish(index, result));
    let _ = client.close();
    let stats = counters.snapshot();
    let mut r = lock(&reporter);
    r.draw(true);
    r.bar.finish_and_clear();
    let elapsed = r.start.elapsed();
    let ended = Ended {
        stats: &stats,
        servers: &servers,
        elapsed,
    };
    summarize(&mut r, out, args.failed.as_deref(), &ended)
}

/// How the batch ended: the client's counters afterwards, over which
/// servers, in how long.
struct Ended<'a> {
    stats: &'a Stats,
    servers: &'a Servers,
    elapsed: Duration,
}

/// The summary, what may or may not have been applied, and the exit code.
/// The counts are the client's snapshot, as the requests ended, with the
/// bad lines added; over several servers, each server's are its own in
/// the snapshot.
fn summarize(
    r: &mut Reporter,
    out: Output,
    failed_path: Option<&Path>,
    ended: &Ended<'_>,
) -> Result<ExitCode, Failure> {
    let mut t = ended.stats.requests;
    t.invalid += r.bad;
    let by_server = ByServer::new(ended.servers, ended.stats);
    let total = ended.stats.total();
    let secs = ended.elapsed.as_secs_f64();
    let mut summary = summary_json(&t);
    summary["seconds"] = json!((secs * 1000.0).round() / 1000.0);
    // The rate of the jobs sent: bad lines are not.
    let sent = t.total() - t.invalid;
    let rate = match sent {
        0 => "nothing sent".to_owned(),
        _ => format!("{:.0} jobs/s", sent as f64 / secs.max(1e-3)),
    };
    let mut human = format!(
        "{} in {secs:.2} s ({rate})\n{}",
        summary_line(&t),
        traffic::line(&total, by_server.as_ref())
    );
    traffic::add_json(&mut summary, &total);
    if let Some(by) = &by_server {
        for line in by.lines() {
            human.push('\n');
            human.push_str(&line);
        }
        summary["servers"] = by.json();
    }
    out.info(human, summary);
    let on_servers = |kinds: &[OutcomeKind]| {
        by_server
            .as_ref()
            .and_then(|by| by.on_servers(kinds))
            .map(|on| format!(" ({on})"))
            .unwrap_or_default()
    };
    let hidden = t.failed().saturating_sub(r.shown);
    let failed_file = failed_path.map(Path::display);
    if hidden > 0 {
        let rest = match &failed_file {
            Some(path) => format!("all {} are in {path}", t.failed()),
            None => "--failed FILE keeps every failed line".to_owned(),
        };
        eprintln!(
            "... and {} not shown (only the first {SHOWN} are); {rest}",
            count(hidden, "more failed line", "more failed lines")
        );
    }
    let maybe = t.unknown + t.timed_out;
    if maybe > 0 {
        eprintln!(
            "{}{} may or may not have been applied (unknown or timed out); setting them again is safe unless they ran meanwhile",
            count(maybe, "job", "jobs"),
            on_servers(&[OutcomeKind::Unknown, OutcomeKind::TimedOut]),
        );
    }
    if t.not_sent > 0 {
        eprintln!(
            "{} not sent{}: the server never saw {}",
            count(t.not_sent, "job was", "jobs were"),
            on_servers(&[OutcomeKind::NotSent]),
            if t.not_sent == 1 { "it" } else { "them" }
        );
    }
    if let Some(w) = r.failed.take() {
        if let Some(e) = r.failed_error.take().or_else(|| w.finish().err()) {
            return Err(Failure::io(format!("cannot write the failed lines: {e}")));
        }
        if let Some(path) = failed_file {
            if !out.quiet && t.failed() > 0 && hidden == 0 {
                eprintln!(
                    "the {} in {path}, to import again",
                    count(t.failed(), "failed line is", "failed lines are")
                );
            }
        }
    }
    if let Some((line, e)) = r.read_error.take() {
        return Err(Failure {
            code: IO_ERROR,
            message: read_error(line, &e),
        });
    }
    Ok(ExitCode::from(worst(&t).exit_code()))
}
