//! The live restart case, written once for every client of the workspace
//! (a [`BatchClient`]): a batch through a restart of the reference server
//! with the same database folder, as a deploy restarts it. The case
//! starts, restarts and stops a server of its own, from the binary at
//! `KAIROI_REFERENCE_BIN`; it is `#[ignore]`d unless asked for, and fails
//! when asked for without the variable.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use kairoi_client::{RetryPolicy, Tally};
use kairoi_proto::{DateTime, Instruction};

use crate::reference::{ReferenceServer, ScratchFolder, Stop};
use crate::restart::{BatchClient, Options, count};

/// How many jobs the case sends.
const JOBS: usize = 50_000;
/// The reference server's database loop rate: its default.
const FRAMERATE: u32 = 128;
/// How long the batch may take, restart included, before the case gives
/// up on it (it takes seconds).
const BATCH_LIMIT: Duration = Duration::from_secs(300);

/// The jobs' time: far ahead, so that they never run, but before
/// 2262-04-11: the reference server writes later times to its log wrong,
/// and most of them keep it from loading the log when it starts again.
fn when() -> DateTime {
    "2200-01-01 00:00:00".parse().unwrap()
}

/// The reference server's binary; a case asked for without it fails,
/// naming the variable.
pub(crate) fn reference_bin(case: &str) -> PathBuf {
    match std::env::var_os("KAIROI_REFERENCE_BIN") {
        Some(bin) if !bin.is_empty() => {
            let bin = PathBuf::from(bin);
            assert!(
                bin.is_file(),
                "live: KAIROI_REFERENCE_BIN={} is not a file",
                bin.display()
            );
            bin
        }
        _ => panic!(
            "live: {case} needs KAIROI_REFERENCE_BIN, the path of the reference \
             Kairoi server's binary (see the README's live check)"
        ),
    }
}

/// The most requests that may end `Unknown` in one restart: those written
/// to the stopped server, on the connections it had (a window each), and
/// on the connections that replaced them at once while it was exiting (a
/// window each again). The exiting reference server closes some of its
/// connections before its listening socket, which still completes the
/// handshake of a new connection in that moment and resets it a moment
/// later, when it closes: what a client wrote there ends `Unknown` too.
/// Once the listening socket is closed, connections are refused until the
/// new process listens, so each connection slot reaches the stopped server
/// at most twice.
fn unknown_bound(options: Options) -> usize {
    2 * options.window * options.connections
}

/// What the batch gave.
struct Report {
    tally: Tally,
    /// The failures by cause.
    causes: BTreeMap<String, usize>,
    /// Whether each position was answered `Ok`.
    ok: Vec<bool>,
    /// Positions never reported.
    missing: usize,
    /// How long the batch took to report a third of its positions, and
    /// all of them.
    third: Duration,
    took: Duration,
}

/// Runs the batch on its own thread, reporting each position once into
/// `done`, and sending on `third` once a third of them are reported.
fn run_batch<C: BatchClient>(mut client: C, done: &AtomicUsize, third: mpsc::Sender<()>) -> Report {
    let mut seen = vec![false; JOBS];
    let mut ok = vec![false; JOBS];
    let mut tally = Tally::default();
    let mut causes = BTreeMap::new();
    let mut third_in = Duration::ZERO;
    let start = Instant::now();
    let when = when();
    let items = (0..JOBS).map(move |n| Instruction::set(format!("r.{n}"), when));
    client.execute_each(items, |i, r| {
        assert!(!std::mem::replace(&mut seen[i], true), "{i} reported twice");
        count(&mut tally, &r);
        if let Err(e) = &r {
            let cause = e.cause().map_or_else(|| e.to_string(), ToString::to_string);
            *causes.entry(cause).or_insert(0) += 1;
        }
        ok[i] = r.is_ok();
        if done.fetch_add(1, Ordering::Relaxed) + 1 == JOBS / 3 {
            third_in = start.elapsed();
            let _ = third.send(());
        }
    });
    let took = start.elapsed();
    drop(client);
    Report {
        tally,
        causes,
        ok,
        missing: seen.iter().filter(|s| !**s).count(),
        third: third_in,
        took,
    }
}

/// 50,000 jobs through `execute_each` (window 256, 2 connections), the
/// reference server stopped with `SIGTERM` once a third of the results are
/// in, and started again on the same port with the same database folder:
/// every position is reported once; none ends `NotSent` or `TimedOut`;
/// only requests written to the stopped server end `Unknown`, at most two
/// windows per connection (1,024: see `unknown_bound`); and every job
/// answered `Ok` is in the server's log afterwards.
pub fn a_batch_rides_out_a_reference_server_restart<C>()
where
    C: BatchClient + Send + 'static,
{
    let bin = reference_bin("a_batch_rides_out_a_reference_server_restart");
    let folder = ScratchFolder::new("live-restart");
    let mut server = ReferenceServer::start(&bin, folder.path(), FRAMERATE);
    let options = Options {
        window: 256,
        connections: 2,
        request_timeout: Duration::from_secs(30),
        retry: RetryPolicy::NONE,
    };
    let client = C::connect(server.addr(), options);
    let done = Arc::new(AtomicUsize::new(0));
    let (third_tx, third) = mpsc::channel();
    let (report_tx, report) = mpsc::channel();
    let batch = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let _ = report_tx.send(run_batch(client, &done, third_tx));
        })
    };
    let deadline = Instant::now() + BATCH_LIMIT;
    let gave_up = |server: &mut ReferenceServer, what: &str| -> ! {
        server.stop(Stop::Kill);
        panic!(
            "{}: {what} within {BATCH_LIMIT:?} ({} of {JOBS} results in)",
            C::name(),
            done.load(Ordering::Relaxed)
        )
    };
    // The restart, once the batch's results pass a third.
    let (stopped_after, away) = match third.recv_timeout(BATCH_LIMIT) {
        Ok(()) => {
            let at = done.load(Ordering::Relaxed);
            (Some(at), server.restart(Stop::Terminate))
        }
        Err(RecvTimeoutError::Timeout) => gave_up(&mut server, "a third of the batch not done"),
        Err(RecvTimeoutError::Disconnected) => (None, Duration::ZERO),
    };
    let report = match report.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(report) => report,
        Err(RecvTimeoutError::Timeout) => gave_up(&mut server, "the batch did not end"),
        Err(RecvTimeoutError::Disconnected) => match batch.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the batch ended without a report"),
        },
    };
    let Report {
        tally: t,
        causes,
        ok,
        missing,
        third: third_in,
        took,
    } = report;
    let _ = batch.join();
    let stopped_after =
        stopped_after.expect("the batch passed a third, and the server was restarted");
    if let Some(status) = server.exited() {
        panic!(
            "the reference server exited by itself ({status}); its log:\n{}",
            server.server_log()
        );
    }
    server.stop(Stop::Terminate);
    let stored: HashSet<String> = server.state().jobs.into_iter().map(|j| j.id).collect();
    let lost: Vec<usize> = (0..JOBS)
        .filter(|&n| ok[n] && !stored.contains(&format!("r.{n}")))
        .collect();
    let unknown_stored = (0..JOBS)
        .filter(|&n| !ok[n] && stored.contains(&format!("r.{n}")))
        .count();
    let first = (JOBS / 3) as f64 / third_in.as_secs_f64();
    let rest = (JOBS - JOBS / 3) as f64 / took.saturating_sub(third_in).as_secs_f64();
    println!(
        "live restart ({}): {JOBS} jobs in {:.2} s, {first:.0} jobs/s for the first third, \
         {rest:.0} jobs/s for the rest; the server stopped (SIGTERM) after {stopped_after} \
         results, accepting again {:.0} ms later; {} ok, {} unknown (at most {}; \
         {unknown_stored} of them in the log), {} not sent, {} timed out",
        C::name(),
        took.as_secs_f64(),
        away.as_secs_f64() * 1000.0,
        t.ok,
        t.unknown,
        unknown_bound(options),
        t.not_sent,
        t.timed_out
    );
    for (cause, n) in &causes {
        println!("  {n} failed: {cause}");
    }
    assert_eq!(missing, 0, "every position reported: {t:?}");
    assert_eq!(t.not_sent, 0, "{t:?}");
    assert_eq!(t.timed_out, 0, "{t:?}");
    let bound = unknown_bound(options);
    assert!(
        t.unknown <= bound as u64,
        "{} unknown, at most {bound}: {t:?}",
        t.unknown
    );
    assert!(
        lost.is_empty(),
        "{} jobs answered OK are not in the server's log, the first: {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
}
